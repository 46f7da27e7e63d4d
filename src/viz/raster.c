/* raster.c — the PNG back end: draws a scene (scene.h) into an RGB buffer with anti-aliasing, and
 * encodes RGB as PNG, through libpng when built with it, else with an own chunk writer (IHDR, IDAT,
 * IEND with their CRCs) over zlib's deflate.
 *
 * Anti-aliasing: lines, discs and text first accumulate a coverage mask (0..1 per pixel) over
 * their bounding box, then the mask is blended once in the primitive's colour, so a polyline's
 * joints and a glyph's neighbouring pixels are not darkened twice.  Lines: coverage
 * clamp(w/2 + 0.5 - d) with d the distance of the pixel centre to the segment; text: the exact
 * area each (scaled) font pixel covers; rectangles: exact area coverage, blended directly.
 * Images are scaled by nearest neighbour (a 28x28 digit stays sharp).
 * Not here: gamma-correct blending, dashes, curves, other image formats. */
#include "viz/scene.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef DC_HAVE_PNG
#include <png.h>
#include <setjmp.h>
#endif
#ifdef DC_HAVE_ZLIB
#include <zlib.h>
#endif

typedef struct canvas {
    int w, h;
    float *rgb;  /* h x w x 3, 0..1 */
    float *mask; /* h x w coverage  */
    int bx0, by0, bx1, by1; /* mask's touched box, [bx0, bx1) x [by0, by1) */
} canvas;

typedef struct irect {
    int x0, y0, x1, y1;
} irect;

static irect clip_rect(const canvas *cv, const dc_scene *s, int clip) {
    irect r = {0, 0, cv->w, cv->h};
    if (clip >= 0 && clip < s->nclips) {
        const float *c = s->clips[clip];
        int x0 = (int)floorf(c[0]), y0 = (int)floorf(c[1]), x1 = (int)ceilf(c[0] + c[2]), y1 = (int)ceilf(c[1] + c[3]);
        if (x0 > r.x0) r.x0 = x0;
        if (y0 > r.y0) r.y0 = y0;
        if (x1 < r.x1) r.x1 = x1;
        if (y1 < r.y1) r.y1 = y1;
    }
    return r;
}

/* The pixel box [x0, x1) x [y0, y1) covering the float box, intersected with r. */
static int box(float fx0, float fy0, float fx1, float fy1, irect r, irect *out) {
    if (!(fx0 <= fx1) || !(fy0 <= fy1)) return 0; /* NaN too */
    fx0 = fmaxf(fx0, (float)r.x0);
    fy0 = fmaxf(fy0, (float)r.y0);
    fx1 = fminf(fx1, (float)r.x1);
    fy1 = fminf(fy1, (float)r.y1);
    if (fx0 >= fx1 || fy0 >= fy1) return 0;
    out->x0 = (int)floorf(fx0);
    out->y0 = (int)floorf(fy0);
    out->x1 = (int)ceilf(fx1);
    out->y1 = (int)ceilf(fy1);
    if (out->x0 < r.x0) out->x0 = r.x0;
    if (out->y0 < r.y0) out->y0 = r.y0;
    if (out->x1 > r.x1) out->x1 = r.x1;
    if (out->y1 > r.y1) out->y1 = r.y1;
    return out->x0 < out->x1 && out->y0 < out->y1;
}

static void touch(canvas *cv, irect b) {
    if (cv->bx0 >= cv->bx1) {
        cv->bx0 = b.x0, cv->by0 = b.y0, cv->bx1 = b.x1, cv->by1 = b.y1;
        return;
    }
    if (b.x0 < cv->bx0) cv->bx0 = b.x0;
    if (b.y0 < cv->by0) cv->by0 = b.y0;
    if (b.x1 > cv->bx1) cv->bx1 = b.x1;
    if (b.y1 > cv->by1) cv->by1 = b.y1;
}

static void blend(canvas *cv, int x, int y, uint32_t color, float a) {
    if (a <= 0.0f) return;
    if (a > 1.0f) a = 1.0f;
    float *p = cv->rgb + ((size_t)y * cv->w + x) * 3;
    p[0] += ((float)(color >> 16 & 255) / 255.0f - p[0]) * a;
    p[1] += ((float)(color >> 8 & 255) / 255.0f - p[1]) * a;
    p[2] += ((float)(color & 255) / 255.0f - p[2]) * a;
}

/* Blend the mask in `color` and clear it. */
static void composite(canvas *cv, uint32_t color, float alpha) {
    for (int y = cv->by0; y < cv->by1; y++)
        for (int x = cv->bx0; x < cv->bx1; x++) {
            float *m = cv->mask + (size_t)y * cv->w + x;
            if (*m > 0.0f) blend(cv, x, y, color, (*m > 1.0f ? 1.0f : *m) * alpha);
            *m = 0.0f;
        }
    cv->bx0 = cv->bx1 = cv->by0 = cv->by1 = 0;
}

/* Overlap of [a0, a1) with the pixel [p, p + 1). */
static float overlap(float a0, float a1, int p) {
    float lo = fmaxf(a0, (float)p), hi = fminf(a1, (float)p + 1.0f);
    return hi > lo ? hi - lo : 0.0f;
}

static void fill_rect(canvas *cv, float x0, float y0, float x1, float y1, irect r, uint32_t color, float alpha) {
    irect b;
    if (alpha <= 0.0f || !box(x0, y0, x1, y1, r, &b)) return;
    for (int y = b.y0; y < b.y1; y++) {
        float cy = overlap(y0, y1, y);
        for (int x = b.x0; x < b.x1; x++) blend(cv, x, y, color, alpha * cy * overlap(x0, x1, x));
    }
}

/* Add a square's area coverage to the mask (text). */
static void mask_square(canvas *cv, float x0, float y0, float side, irect r) {
    irect b;
    float x1 = x0 + side, y1 = y0 + side;
    if (!box(x0, y0, x1, y1, r, &b)) return;
    touch(cv, b);
    for (int y = b.y0; y < b.y1; y++) {
        float cy = overlap(y0, y1, y);
        for (int x = b.x0; x < b.x1; x++) cv->mask[(size_t)y * cv->w + x] += cy * overlap(x0, x1, x);
    }
}

static void mask_segment(canvas *cv, float ax, float ay, float bx, float by, float hw, irect r) {
    irect b;
    float e = hw + 1.0f;
    if (!box(fminf(ax, bx) - e, fminf(ay, by) - e, fmaxf(ax, bx) + e, fmaxf(ay, by) + e, r, &b)) return;
    touch(cv, b);
    const float dx = bx - ax, dy = by - ay, len2 = dx * dx + dy * dy;
    for (int y = b.y0; y < b.y1; y++)
        for (int x = b.x0; x < b.x1; x++) {
            float px = (float)x + 0.5f - ax, py = (float)y + 0.5f - ay;
            float t = len2 > 0.0f ? (px * dx + py * dy) / len2 : 0.0f;
            t = t < 0.0f ? 0.0f : t > 1.0f ? 1.0f : t;
            float qx = px - t * dx, qy = py - t * dy;
            float cov = hw + 0.5f - sqrtf(qx * qx + qy * qy);
            if (cov <= 0.0f) continue;
            if (cov > 1.0f) cov = 1.0f;
            float *m = cv->mask + (size_t)y * cv->w + x;
            if (cov > *m) *m = cov;
        }
}

static void draw_text(canvas *cv, const dc_prim *p) {
    const float s = p->scale > 0.0f ? p->scale : 1.0f;
    const float width = dc_font_width(p->text, s);
    const float start = -width * 0.5f * (float)p->anchor; /* along the text, from (x, y) */
    irect all = {0, 0, cv->w, cv->h};
    uint8_t rows[9];
    int i = 0;
    for (const unsigned char *c = (const unsigned char *)p->text; *c; c++, i++) {
        dc_font_glyph(*c, rows);
        float u0 = start + (float)i * DC_FONT_ADVANCE * s;
        for (int r = 0; r < 9; r++)
            for (int col = 0; col < 5; col++) {
                if (!(rows[r] >> (4 - col) & 1)) continue;
                float u = u0 + (float)col * s, v = ((float)r - 3.5f) * s; /* v: down from the capitals' middle */
                if (!p->vertical) mask_square(cv, p->x + u, p->y + v, s, all);
                else mask_square(cv, p->x + v, p->y - u - s, s, all); /* rotated -90 degrees: reads upwards */
            }
    }
    composite(cv, p->color, p->alpha);
}

static void draw_image(canvas *cv, const dc_prim *p) {
    irect b, all = {0, 0, cv->w, cv->h};
    if (p->w <= 0 || p->h <= 0 || !box(p->x, p->y, p->x + p->w, p->y + p->h, all, &b)) return;
    for (int y = b.y0; y < b.y1; y++) {
        int sy = (int)(((float)y + 0.5f - p->y) / p->h * (float)p->ih);
        if (sy < 0 || sy >= p->ih) continue;
        for (int x = b.x0; x < b.x1; x++) {
            int sx = (int)(((float)x + 0.5f - p->x) / p->w * (float)p->iw);
            if (sx < 0 || sx >= p->iw) continue;
            const unsigned char *q = p->rgb + ((size_t)sy * p->iw + sx) * 3;
            float *o = cv->rgb + ((size_t)y * cv->w + x) * 3;
            o[0] = (float)q[0] / 255.0f;
            o[1] = (float)q[1] / 255.0f;
            o[2] = (float)q[2] / 255.0f;
        }
    }
}

dc_status dc_scene_raster(const dc_scene *s, unsigned char **out) {
    if (!s || !out || s->width < 1 || s->height < 1) return DC_ERR(DC_ERR_ARG, "raster: empty figure");
    *out = NULL;
    canvas cv = {.w = s->width, .h = s->height};
    const size_t npx = (size_t)s->width * (size_t)s->height;
    cv.rgb = malloc(npx * 3 * sizeof(float));
    cv.mask = calloc(npx, sizeof(float));
    unsigned char *rgb = malloc(npx * 3);
    if (!cv.rgb || !cv.mask || !rgb) {
        free(cv.rgb);
        free(cv.mask);
        free(rgb);
        return DC_ERR(DC_ERR_NOMEM, "raster: figure of %dx%d pixels", s->width, s->height);
    }
    for (size_t i = 0; i < npx * 3; i++) cv.rgb[i] = 1.0f;
    for (int i = 0; i < s->n; i++) {
        const dc_prim *p = &s->prims[i];
        irect r = clip_rect(&cv, s, p->clip);
        switch (p->kind) {
        case DC_PRIM_RECT:
            fill_rect(&cv, p->x, p->y, p->x + p->w, p->y + p->h, r, p->color, p->alpha);
            if (p->stroke_w > 0.0f) {
                float hw = p->stroke_w / 2, x0 = p->x, y0 = p->y, x1 = p->x + p->w, y1 = p->y + p->h;
                fill_rect(&cv, x0 - hw, y0 - hw, x1 + hw, y0 + hw, r, p->stroke, 1.0f);
                fill_rect(&cv, x0 - hw, y1 - hw, x1 + hw, y1 + hw, r, p->stroke, 1.0f);
                fill_rect(&cv, x0 - hw, y0 + hw, x0 + hw, y1 - hw, r, p->stroke, 1.0f);
                fill_rect(&cv, x1 - hw, y0 + hw, x1 + hw, y1 - hw, r, p->stroke, 1.0f);
            }
            break;
        case DC_PRIM_LINE:
            for (int k = 0; k + 1 < p->npts; k++)
                mask_segment(&cv, p->pts[2 * k], p->pts[2 * k + 1], p->pts[2 * k + 2], p->pts[2 * k + 3], p->width / 2, r);
            composite(&cv, p->color, p->alpha);
            break;
        case DC_PRIM_CIRCLE:
            mask_segment(&cv, p->x, p->y, p->x, p->y, p->w, r);
            composite(&cv, p->color, p->alpha);
            break;
        case DC_PRIM_TEXT: draw_text(&cv, p); break;
        case DC_PRIM_IMAGE: draw_image(&cv, p); break;
        default: break;
        }
    }
    for (size_t i = 0; i < npx * 3; i++) {
        float v = cv.rgb[i];
        rgb[i] = (unsigned char)lroundf((v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v) * 255.0f);
    }
    free(cv.rgb);
    free(cv.mask);
    *out = rgb;
    return DC_OK;
}

/* ------------------------------------------------------------------ PNG encoders */
typedef struct membuf {
    unsigned char *p;
    size_t n, cap;
    int oom;
} membuf;

#if defined(DC_HAVE_PNG) || defined(DC_HAVE_ZLIB)
static void mem_put(membuf *b, const void *data, size_t n) {
    if (b->oom) return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n) cap *= 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
}
#endif

#ifdef DC_HAVE_PNG
static void png_mem_write(png_structp png, png_bytep data, png_size_t n) { mem_put(png_get_io_ptr(png), data, n); }
static void png_mem_flush(png_structp png) { (void)png; }
static void png_enc_error(png_structp png, png_const_charp msg) {
    char *m = png_get_error_ptr(png);
    if (m) snprintf(m, 200, "%s", msg ? msg : "libpng error");
    png_longjmp(png, 1);
}
static void png_enc_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

static dc_status encode_libpng(const unsigned char *rgb, int w, int h, membuf *b) {
    char msg[200] = "";
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, msg, png_enc_error, png_enc_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return DC_ERR(DC_ERR_NOMEM, "PNG encoder: libpng structures");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return DC_ERR(DC_ERR_IO, "PNG encoder: libpng: %s", msg);
    }
    png_set_write_fn(png, b, png_mem_write, png_mem_flush);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, (png_const_bytep)(rgb + (size_t)y * w * 3));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return DC_OK;
}
#endif

#ifdef DC_HAVE_ZLIB
static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* length, type, data, CRC over type + data */
static void put_chunk(membuf *b, const char type[4], const unsigned char *data, size_t n) {
    unsigned char hdr[8], crc[4];
    put_be32(hdr, (uint32_t)n);
    memcpy(hdr + 4, type, 4);
    uLong c = crc32(0L, Z_NULL, 0);
    c = crc32(c, (const Bytef *)type, 4);
    if (n) c = crc32(c, data, (uInt)n);
    put_be32(crc, (uint32_t)c);
    mem_put(b, hdr, 8);
    if (n) mem_put(b, data, n);
    mem_put(b, crc, 4);
}

static dc_status encode_zlib(const unsigned char *rgb, int w, int h, membuf *b) {
    const size_t row = (size_t)w * 3 + 1, raw_n = row * (size_t)h;
    /* One filter byte per row: "Sub" (difference to the pixel on the left), which turns the flat
     * areas of a chart into runs of zeros that deflate packs well. */
    unsigned char *raw = malloc(raw_n);
    uLongf zn = compressBound((uLong)raw_n);
    unsigned char *z = malloc(zn);
    if (!raw || !z || raw_n > 0x7fffffffu) {
        free(raw);
        free(z);
        return DC_ERR(DC_ERR_NOMEM, "PNG encoder: %dx%d image", w, h);
    }
    for (int y = 0; y < h; y++) {
        unsigned char *o = raw + (size_t)y * row;
        const unsigned char *in = rgb + (size_t)y * w * 3;
        o[0] = 1;
        for (size_t i = 0; i < (size_t)w * 3; i++) o[1 + i] = (unsigned char)(in[i] - (i >= 3 ? in[i - 3] : 0));
    }
    int zr = compress2(z, &zn, raw, (uLong)raw_n, 6);
    free(raw);
    if (zr != Z_OK) {
        free(z);
        return DC_ERR(DC_ERR_IO, "PNG encoder: zlib compress2 failed (%d)", zr);
    }
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char ihdr[13];
    put_be32(ihdr, (uint32_t)w);
    put_be32(ihdr + 4, (uint32_t)h);
    ihdr[8] = 8;  /* bit depth */
    ihdr[9] = 2;  /* colour type: RGB */
    ihdr[10] = 0; /* deflate */
    ihdr[11] = 0; /* adaptive filtering */
    ihdr[12] = 0; /* no interlace */
    mem_put(b, sig, 8);
    put_chunk(b, "IHDR", ihdr, 13);
    put_chunk(b, "IDAT", z, zn);
    put_chunk(b, "IEND", NULL, 0);
    free(z);
    return DC_OK;
}
#endif

dc_status dc_png_encode(const unsigned char *rgb, int w, int h, int with_libpng, unsigned char **png, size_t *n) {
    if (!rgb || !png || !n || w < 1 || h < 1 || w > 65535 || h > 65535)
        return DC_ERR(DC_ERR_ARG, "PNG encoder: NULL argument or size %dx%d", w, h);
    *png = NULL;
    *n = 0;
    membuf b = {0};
    dc_status s;
    if (with_libpng) {
#ifdef DC_HAVE_PNG
        s = encode_libpng(rgb, w, h, &b);
#else
        s = DC_ERR(DC_ERR_ARG, "PNG encoder: this deepc was built without libpng");
#endif
    } else {
#ifdef DC_HAVE_ZLIB
        s = encode_zlib(rgb, w, h, &b);
#else
        s = DC_ERR(DC_ERR_ARG, "PNG encoder: this deepc was built without zlib");
#endif
    }
    if (s == DC_OK && b.oom) s = DC_ERR(DC_ERR_NOMEM, "PNG encoder: output of %dx%d image", w, h);
    if (s != DC_OK) {
        free(b.p);
        return s;
    }
    *png = b.p;
    *n = b.n;
    return DC_OK;
}

dc_status dc_png_encode_auto(const unsigned char *rgb, int w, int h, unsigned char **png, size_t *n) {
#if defined(DC_HAVE_PNG)
    return dc_png_encode(rgb, w, h, 1, png, n);
#elif defined(DC_HAVE_ZLIB)
    return dc_png_encode(rgb, w, h, 0, png, n);
#else
    (void)rgb;
    (void)w;
    (void)h;
    if (png) *png = NULL;
    if (n) *n = 0;
    return DC_ERR(DC_ERR_ARG, "PNG figures need libpng or zlib, and this deepc was built with neither (install "
                  "libpng-dev or zlib1g-dev and rebuild, or save as .svg)");
#endif
}
