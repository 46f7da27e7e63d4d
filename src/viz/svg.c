/* svg.c — the SVG back end: one element per primitive of a scene (scene.h): <rect>, <polyline>,
 * <circle>, <text> (a monospace font sized so its capitals match the bitmap font's) and <image>
 * (a base64 PNG, or one <rect> per pixel when this build has no PNG encoder).  Clip paths get ids
 * made from a hash of the drawing, so several figures inlined in one HTML page do not collide.
 * Not here: CSS styling, fonts embedded in the file, interactivity. */
#include "viz/scene.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)k < b->cap - b->n) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = b->cap * 2 + (size_t)k + 1;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
}

static void sb_puts(sbuf *b, const char *s) { sb_printf(b, "%s", s); }

/* XML-escaped text; bytes outside printable ASCII become '?' like in the bitmap font. */
static void sb_escape(sbuf *b, const char *s) {
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '&') sb_puts(b, "&amp;");
        else if (*c == '<') sb_puts(b, "&lt;");
        else if (*c == '>') sb_puts(b, "&gt;");
        else if (*c == '"') sb_puts(b, "&quot;");
        else sb_printf(b, "%c", *c >= 32 && *c < 127 ? *c : '?');
    }
}

/* Numbers with at most two decimals and no trailing zeros. */
static void sb_num(sbuf *b, float v) {
    char t[32];
    if (!isfinite(v)) v = 0.0f;
    snprintf(t, sizeof t, "%.2f", (double)v);
    char *e = t + strlen(t) - 1;
    while (*e == '0') *e-- = '\0';
    if (*e == '.') *e = '\0';
    if (!strcmp(t, "-0")) strcpy(t, "0");
    sb_puts(b, t);
}

static void sb_color(sbuf *b, uint32_t c) { sb_printf(b, "#%06x", (unsigned)(c & 0xffffff)); }

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) h = (h ^ c[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t scene_hash(const dc_scene *s) {
    uint64_t h = 0xcbf29ce484222325ull;
    h = fnv(h, &s->width, sizeof s->width);
    h = fnv(h, &s->height, sizeof s->height);
    for (int i = 0; i < s->n; i++) {
        const dc_prim *p = &s->prims[i];
        float g[5] = {p->x, p->y, p->w, p->h, p->width};
        h = fnv(h, g, sizeof g);
        h = fnv(h, &p->color, sizeof p->color);
        if (p->pts) h = fnv(h, p->pts, (size_t)p->npts * 2 * sizeof(float));
        if (p->text) h = fnv(h, p->text, strlen(p->text));
    }
    return h;
}

static void clip_attr(sbuf *b, const char *id, int clip) {
    if (clip >= 0) sb_printf(b, " clip-path=\"url(#%s-c%d)\"", id, clip);
}

static void svg_image(sbuf *b, const dc_prim *p) {
    unsigned char *png = NULL;
    size_t n = 0;
    dc_status s = dc_png_encode_auto(p->rgb, p->iw, p->ih, &png, &n);
    if (s == DC_OK) {
        char *b64 = dc_base64_encode(png, n);
        free(png);
        if (!b64) {
            b->oom = 1;
            return;
        }
        sb_puts(b, "<image x=\"");
        sb_num(b, p->x);
        sb_puts(b, "\" y=\"");
        sb_num(b, p->y);
        sb_puts(b, "\" width=\"");
        sb_num(b, p->w);
        sb_puts(b, "\" height=\"");
        sb_num(b, p->h);
        sb_printf(b, "\" preserveAspectRatio=\"none\" style=\"image-rendering:pixelated\" href=\"data:image/png;base64,%s\"/>\n",
                  b64);
        free(b64);
        return;
    }
    dc_error_clear(); /* no PNG encoder: one rect per pixel */
    const float cw = p->w / (float)p->iw, ch = p->h / (float)p->ih;
    sb_puts(b, "<g shape-rendering=\"crispEdges\">");
    for (int y = 0; y < p->ih; y++)
        for (int x = 0; x < p->iw; x++) {
            const unsigned char *q = p->rgb + ((size_t)y * p->iw + x) * 3;
            sb_puts(b, "<rect x=\"");
            sb_num(b, p->x + cw * (float)x);
            sb_puts(b, "\" y=\"");
            sb_num(b, p->y + ch * (float)y);
            sb_puts(b, "\" width=\"");
            sb_num(b, cw);
            sb_puts(b, "\" height=\"");
            sb_num(b, ch);
            sb_printf(b, "\" fill=\"#%02x%02x%02x\"/>", q[0], q[1], q[2]);
        }
    sb_puts(b, "</g>\n");
}

dc_status dc_scene_svg(const dc_scene *s, char **svg, size_t *n) {
    if (!s || !svg) return DC_ERR(DC_ERR_ARG, "svg: NULL argument");
    *svg = NULL;
    sbuf b = {malloc(65536), 0, 65536, 0};
    if (!b.p) return DC_ERR(DC_ERR_NOMEM, "svg: output buffer");
    b.p[0] = '\0';
    char id[24];
    snprintf(id, sizeof id, "dc%012llx", (unsigned long long)(scene_hash(s) & 0xffffffffffffull));
    sb_printf(&b,
              "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
              "font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\">\n",
              s->width, s->height, s->width, s->height);
    sb_printf(&b, "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", s->width, s->height);
    if (s->nclips) {
        sb_puts(&b, "<defs>");
        for (int i = 0; i < s->nclips; i++) {
            sb_printf(&b, "<clipPath id=\"%s-c%d\"><rect x=\"", id, i);
            sb_num(&b, s->clips[i][0]);
            sb_puts(&b, "\" y=\"");
            sb_num(&b, s->clips[i][1]);
            sb_puts(&b, "\" width=\"");
            sb_num(&b, s->clips[i][2]);
            sb_puts(&b, "\" height=\"");
            sb_num(&b, s->clips[i][3]);
            sb_puts(&b, "\"/></clipPath>");
        }
        sb_puts(&b, "</defs>\n");
    }
    for (int i = 0; i < s->n && !b.oom; i++) {
        const dc_prim *p = &s->prims[i];
        switch (p->kind) {
        case DC_PRIM_RECT:
            sb_puts(&b, "<rect x=\"");
            sb_num(&b, p->x);
            sb_puts(&b, "\" y=\"");
            sb_num(&b, p->y);
            sb_puts(&b, "\" width=\"");
            sb_num(&b, p->w);
            sb_puts(&b, "\" height=\"");
            sb_num(&b, p->h);
            sb_puts(&b, "\" fill=\"");
            if (p->alpha > 0.0f) sb_color(&b, p->color);
            else sb_puts(&b, "none");
            sb_puts(&b, "\"");
            if (p->alpha > 0.0f && p->alpha < 1.0f) {
                sb_puts(&b, " fill-opacity=\"");
                sb_num(&b, p->alpha);
                sb_puts(&b, "\"");
            }
            if (p->stroke_w > 0.0f) {
                sb_puts(&b, " stroke=\"");
                sb_color(&b, p->stroke);
                sb_puts(&b, "\" stroke-width=\"");
                sb_num(&b, p->stroke_w);
                sb_puts(&b, "\"");
            } else if (p->alpha >= 1.0f) {
                sb_puts(&b, " shape-rendering=\"crispEdges\"");
            }
            clip_attr(&b, id, p->clip);
            sb_puts(&b, "/>\n");
            break;
        case DC_PRIM_LINE:
            sb_puts(&b, "<polyline fill=\"none\" stroke=\"");
            sb_color(&b, p->color);
            sb_puts(&b, "\" stroke-width=\"");
            sb_num(&b, p->width);
            sb_puts(&b, "\" stroke-linejoin=\"round\" stroke-linecap=\"round\"");
            clip_attr(&b, id, p->clip);
            sb_puts(&b, " points=\"");
            for (int k = 0; k < p->npts; k++) {
                if (k) sb_puts(&b, " ");
                sb_num(&b, p->pts[2 * k]);
                sb_puts(&b, ",");
                sb_num(&b, p->pts[2 * k + 1]);
            }
            sb_puts(&b, "\"/>\n");
            break;
        case DC_PRIM_CIRCLE:
            sb_puts(&b, "<circle cx=\"");
            sb_num(&b, p->x);
            sb_puts(&b, "\" cy=\"");
            sb_num(&b, p->y);
            sb_puts(&b, "\" r=\"");
            sb_num(&b, p->w);
            sb_puts(&b, "\" fill=\"");
            sb_color(&b, p->color);
            sb_puts(&b, "\"");
            clip_attr(&b, id, p->clip);
            sb_puts(&b, "/>\n");
            break;
        case DC_PRIM_TEXT: {
            /* font-size: capitals of a sans/mono face are about 0.73 em; the bitmap font's are 7 pixels */
            float size = p->scale * 7.0f / 0.73f, half = p->scale * 3.5f;
            static const char *const ANCHOR[3] = {"start", "middle", "end"};
            sb_puts(&b, "<text x=\"");
            if (!p->vertical) {
                sb_num(&b, p->x);
                sb_puts(&b, "\" y=\"");
                sb_num(&b, p->y + half);
            } else {
                sb_num(&b, p->x + half);
                sb_puts(&b, "\" y=\"");
                sb_num(&b, p->y);
            }
            sb_puts(&b, "\" font-size=\"");
            sb_num(&b, size);
            sb_printf(&b, "\" text-anchor=\"%s\" fill=\"", ANCHOR[p->anchor >= 0 && p->anchor <= 2 ? p->anchor : 0]);
            sb_color(&b, p->color);
            sb_puts(&b, "\"");
            if (p->vertical) {
                sb_puts(&b, " transform=\"rotate(-90 ");
                sb_num(&b, p->x + half);
                sb_puts(&b, " ");
                sb_num(&b, p->y);
                sb_puts(&b, ")\"");
            }
            sb_puts(&b, ">");
            sb_escape(&b, p->text);
            sb_puts(&b, "</text>\n");
            break;
        }
        case DC_PRIM_IMAGE: svg_image(&b, p); break;
        default: break;
        }
    }
    sb_puts(&b, "</svg>\n");
    if (b.oom) {
        free(b.p);
        return DC_ERR(DC_ERR_NOMEM, "svg: output of %dx%d figure", s->width, s->height);
    }
    *svg = b.p;
    if (n) *n = b.n;
    return DC_OK;
}
