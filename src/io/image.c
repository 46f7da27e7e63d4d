/* image.c — image files for `deepc predict`: PGM/PPM (P2/P3 ascii, P5/P6 binary, maxval 1..65535)
 * read and written by hand, PNG read and written through libpng when built with DC_HAVE_PNG (any
 * colour type and bit depth, via libpng's expand/palette/tRNS transforms; alpha composited over
 * black), channel conversion, and bilinear resizing (antialiased when shrinking).  Every failure is
 * a dc_status with a message naming the file.
 * What it does not do: PAM (P7) or PBM (P1/P4), colour management (gamma, ICC), Adam7 without
 * libpng, or writing anything but 8-bit PNG. */
#include "io/image.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef DC_HAVE_PNG
#include <png.h>
#include <setjmp.h>
#endif

dc_status dc_image_create(int c, int h, int w, dc_image *out) {
    if (!out) return DC_ERR(DC_ERR_ARG, "dc_image_create: NULL output");
    memset(out, 0, sizeof *out);
    if (c < 1 || c > 4 || h < 1 || w < 1 || h > DC_IMAGE_MAX_SIDE || w > DC_IMAGE_MAX_SIDE)
        return DC_ERR(DC_ERR_ARG, "image %dx%d with %d channels (want 1..4 channels, sides 1..%d)", w, h, c,
                      DC_IMAGE_MAX_SIDE);
    out->data = calloc((size_t)c * (size_t)h * (size_t)w, sizeof(float));
    if (!out->data) return DC_ERR(DC_ERR_NOMEM, "image %dx%dx%d", c, h, w);
    out->c = c;
    out->h = h;
    out->w = w;
    return DC_OK;
}

void dc_image_free(dc_image *im) {
    if (!im) return;
    free(im->data);
    memset(im, 0, sizeof *im);
}

int dc_image_png_supported(void) {
#ifdef DC_HAVE_PNG
    return 1;
#else
    return 0;
#endif
}

static int check_image(const dc_image *im) {
    return im && im->data && im->c >= 1 && im->c <= 4 && im->h >= 1 && im->w >= 1 && im->h <= DC_IMAGE_MAX_SIDE &&
           im->w <= DC_IMAGE_MAX_SIDE;
}

/* ------------------------------------------------------------------ PGM / PPM */

/* Header reader: whitespace and '#' comments (to end of line) between fields. */
static int pnm_skip(FILE *f) {
    int ch;
    for (;;) {
        ch = getc(f);
        if (ch == '#') {
            while (ch != '\n' && ch != '\r' && ch != EOF) ch = getc(f);
            if (ch == EOF) return EOF;
            continue;
        }
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f') continue;
        return ch;
    }
}

/* A decimal field; 0 ok, -1 not a number (EOF or other character), -2 too large. */
static int pnm_uint(FILE *f, long *out) {
    int ch = pnm_skip(f);
    if (ch < '0' || ch > '9') {
        if (ch != EOF) ungetc(ch, f); /* the caller may name it */
        return -1;
    }
    long v = 0;
    while (ch >= '0' && ch <= '9') {
        if (v > 100000000L) return -2;
        v = v * 10 + (ch - '0');
        ch = getc(f);
    }
    if (ch != EOF) ungetc(ch, f);
    *out = v;
    return 0;
}

static dc_status read_pnm(const char *path, FILE *f, int kind, dc_image *out) {
    const int ascii = kind == 2 || kind == 3, channels = kind == 3 || kind == 6 ? 3 : 1;
    const char *fmt = channels == 3 ? "PPM" : "PGM";
    static const char *field[3] = {"width", "height", "maxval"};
    long v[3];
    for (int i = 0; i < 3; i++) {
        int r = pnm_uint(f, &v[i]);
        if (r == -2 || (r == 0 && i < 2 && v[i] > DC_IMAGE_MAX_SIDE))
            return i < 2 ? DC_ERR(DC_ERR_FORMAT, "%s: absurd %s size: %s %s%ld (at most %d)", path, fmt, field[i],
                                  r == -2 ? "over " : "", r == -2 ? 100000000L : v[i], DC_IMAGE_MAX_SIDE)
                         : DC_ERR(DC_ERR_FORMAT, "%s: unsupported %s depth: maxval over 65535", path, fmt);
        if (r != 0) return DC_ERR(DC_ERR_FORMAT, "%s: bad %s header: %s missing or not a number", path, fmt, field[i]);
    }
    if (v[0] < 1 || v[1] < 1)
        return DC_ERR(DC_ERR_FORMAT, "%s: bad %s header: size %ldx%ld (width and height must be >= 1)", path, fmt, v[0],
                      v[1]);
    if (v[2] < 1 || v[2] > 65535)
        return DC_ERR(DC_ERR_FORMAT, "%s: unsupported %s depth: maxval %ld (want 1..65535)", path, fmt, v[2]);
    const int w = (int)v[0], h = (int)v[1];
    const long maxval = v[2];
    /* Exactly one whitespace character ends the header of a binary file. */
    int ch = getc(f);
    if (!ascii && ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r')
        return DC_ERR(DC_ERR_FORMAT, "%s: bad %s header: no whitespace after maxval %ld", path, fmt, maxval);
    if (ascii && ch != EOF) ungetc(ch, f);
    DC_TRY(dc_image_create(channels, h, w, out));
    const int64_t plane = (int64_t)h * w, samples = plane * channels;
    const float scale = 1.0f / (float)maxval;
    if (ascii) {
        for (int64_t i = 0; i < samples; i++) {
            long s;
            int r = pnm_uint(f, &s);
            if (r != 0 || s > maxval) {
                dc_image_free(out);
                if (r == -1 && (ch = getc(f)) != EOF)
                    return DC_ERR(DC_ERR_FORMAT, "%s: bad %s data: sample %lld of %lld is not a number ('%c')", path,
                                  fmt, (long long)i, (long long)samples, ch);
                if (r == -1)
                    return DC_ERR(DC_ERR_FORMAT, "%s: truncated %s: %lld of %lld samples", path, fmt, (long long)i,
                                  (long long)samples);
                return DC_ERR(DC_ERR_FORMAT, "%s: bad %s data: sample %lld is %s%ld, above maxval %ld", path, fmt,
                              (long long)i, r == -2 ? "over " : "", r == -2 ? 100000000L : s, maxval);
            }
            out->data[(i % channels) * plane + i / channels] = (float)s * scale;
        }
        return DC_OK;
    }
    const int bytes = maxval > 255 ? 2 : 1;
    const size_t row_bytes = (size_t)w * (size_t)channels * (size_t)bytes;
    unsigned char *row = malloc(row_bytes);
    if (!row) {
        dc_image_free(out);
        return DC_ERR(DC_ERR_NOMEM, "%s: row buffer", path);
    }
    for (int y = 0; y < h; y++) {
        size_t got = fread(row, 1, row_bytes, f);
        if (got != row_bytes) {
            int err = ferror(f) ? errno : 0;
            free(row);
            dc_image_free(out);
            if (err) return DC_ERR(DC_ERR_IO, "%s: read error: %s", path, strerror(err));
            return DC_ERR(DC_ERR_FORMAT, "%s: truncated %s: %lld of %lld bytes of pixel data", path, fmt,
                          (long long)((size_t)y * row_bytes + got), (long long)(row_bytes * (size_t)h));
        }
        for (int x = 0; x < w; x++)
            for (int c = 0; c < channels; c++) {
                const unsigned char *p = row + ((size_t)x * channels + c) * bytes;
                long s = bytes == 2 ? (long)p[0] << 8 | p[1] : p[0];
                if (s > maxval) {
                    free(row);
                    dc_image_free(out);
                    return DC_ERR(DC_ERR_FORMAT, "%s: bad %s data: sample at row %d, column %d is %ld, above maxval %ld",
                                  path, fmt, y, x, s, maxval);
                }
                out->data[c * plane + (int64_t)y * w + x] = (float)s * scale;
            }
    }
    free(row);
    return DC_OK;
}

dc_status dc_image_write_pnm(const char *path, const dc_image *im, int maxval, int ascii) {
    if (!path || !check_image(im)) return DC_ERR(DC_ERR_ARG, "dc_image_write_pnm: NULL path or empty image");
    if (im->c != 1 && im->c != 3)
        return DC_ERR(DC_ERR_ARG, "%s: PGM/PPM needs 1 or 3 channels, the image has %d", path, im->c);
    if (maxval < 1 || maxval > 65535) return DC_ERR(DC_ERR_ARG, "%s: maxval %d outside 1..65535", path, maxval);
    FILE *f = fopen(path, "wb");
    if (!f) return DC_ERR(DC_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    const int kind = (im->c == 3 ? 3 : 2) + (ascii ? 0 : 3);
    fprintf(f, "P%d\n%d %d\n%d\n", kind, im->w, im->h, maxval);
    const int64_t plane = (int64_t)im->h * im->w;
    const int bytes = maxval > 255 ? 2 : 1;
    for (int y = 0; y < im->h; y++) {
        for (int x = 0; x < im->w; x++)
            for (int c = 0; c < im->c; c++) {
                float p = im->data[c * plane + (int64_t)y * im->w + x];
                long s = p > 0.0f ? lroundf(fminf(p, 1.0f) * (float)maxval) : 0; /* NaN -> 0 */
                if (ascii) fprintf(f, "%ld%c", s, x + 1 == im->w && c + 1 == im->c ? '\n' : ' ');
                else if (bytes == 2) { putc((int)(s >> 8), f); putc((int)(s & 255), f); }
                else putc((int)s, f);
            }
    }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return DC_ERR(DC_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return DC_OK;
}

/* ------------------------------------------------------------------ PNG */
#ifdef DC_HAVE_PNG
typedef struct png_err {
    char msg[256];
} png_err;

static void png_error_fn(png_structp png, png_const_charp msg) {
    png_err *e = png_get_error_ptr(png);
    if (e) snprintf(e->msg, sizeof e->msg, "%s", msg ? msg : "libpng error");
    png_longjmp(png, 1);
}
static void png_warning_fn(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg; /* warnings (e.g. an unknown chunk) are not errors */
}

static dc_status read_png(const char *path, FILE *f, dc_image *out) {
    png_err err = {""};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &err, png_error_fn, png_warning_fn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return DC_ERR(DC_ERR_NOMEM, "%s: libpng structures", path);
    }
    unsigned char *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    volatile int too_big = 0;
    dc_image img = {0, 0, 0, NULL};
    if (setjmp(png_jmpbuf(png))) {
        free(pixels);
        free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        if (too_big) return DC_ERR(DC_ERR_FORMAT, "%s: %s", path, err.msg);
        return DC_ERR(DC_ERR_FORMAT, "%s: bad or truncated PNG: %s", path, err.msg);
    }
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff); /* our own limit is checked below, with a clear message */
    png_init_io(png, f);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if (w > DC_IMAGE_MAX_SIDE || h > DC_IMAGE_MAX_SIDE) {
        too_big = 1;
        snprintf(err.msg, sizeof err.msg, "absurd PNG size %lux%lu (at most %d per side)", (unsigned long)w,
                 (unsigned long)h, DC_IMAGE_MAX_SIDE);
        png_longjmp(png, 1);
    }
    int color = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    (void)png_set_interlace_handling(png);
    png_read_update_info(png, info);
    const int ch = png_get_channels(png, info), bd = png_get_bit_depth(png, info);
    const size_t rowbytes = png_get_rowbytes(png, info);
    if ((bd != 8 && bd != 16) || ch < 1 || ch > 4 || rowbytes < (size_t)w * (size_t)ch * (size_t)(bd / 8)) {
        snprintf(err.msg, sizeof err.msg, "unsupported PNG layout: %d channels of %d bits", ch, bd);
        png_longjmp(png, 1);
    }
    pixels = malloc(rowbytes * h);
    rows = malloc(sizeof(png_bytep) * h);
    if (!pixels || !rows) {
        snprintf(err.msg, sizeof err.msg, "out of memory for %lux%lu pixels", (unsigned long)w, (unsigned long)h);
        png_longjmp(png, 1);
    }
    for (png_uint_32 y = 0; y < h; y++) rows[y] = pixels + y * rowbytes;
    png_read_image(png, rows);
    /* gray (1), gray+alpha (2), RGB (3), RGBA (4) -> 1 or 3 planes, alpha composited over black */
    const int colors = ch >= 3 ? 3 : 1, alpha = ch == 2 || ch == 4;
    dc_status s = dc_image_create(colors, (int)h, (int)w, &img);
    if (s == DC_OK) {
        const int64_t plane = (int64_t)h * w;
        const float scale = bd == 16 ? 1.0f / 65535.0f : 1.0f / 255.0f;
        for (png_uint_32 y = 0; y < h; y++)
            for (png_uint_32 x = 0; x < w; x++) {
                const unsigned char *p = rows[y] + (size_t)x * ch * (bd / 8);
                float v[4];
                for (int k = 0; k < ch; k++)
                    v[k] = (float)(bd == 16 ? (unsigned)p[2 * k] << 8 | p[2 * k + 1] : p[k]) * scale;
                float a = alpha ? v[ch - 1] : 1.0f;
                for (int c = 0; c < colors; c++) img.data[c * plane + (int64_t)y * w + x] = v[c] * a;
            }
    }
    free(pixels);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    if (s == DC_OK) *out = img;
    return s;
}

dc_status dc_image_write_png(const char *path, const dc_image *im) {
    if (!path || !check_image(im)) return DC_ERR(DC_ERR_ARG, "dc_image_write_png: NULL path or empty image");
    if (im->c != 1 && im->c != 3)
        return DC_ERR(DC_ERR_ARG, "%s: PNG writing needs 1 or 3 channels, the image has %d", path, im->c);
    FILE *f = fopen(path, "wb");
    if (!f) return DC_ERR(DC_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    png_err err = {""};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &err, png_error_fn, png_warning_fn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    unsigned char *volatile row = malloc((size_t)im->w * (size_t)im->c);
    if (!info || !row) {
        png_destroy_write_struct(&png, info ? &info : NULL);
        free(row);
        fclose(f);
        return DC_ERR(DC_ERR_NOMEM, "%s: PNG writer", path);
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(row);
        fclose(f);
        return DC_ERR(DC_ERR_IO, "%s: PNG write failed: %s", path, err.msg);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)im->w, (png_uint_32)im->h, 8,
                 im->c == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    const int64_t plane = (int64_t)im->h * im->w;
    for (int y = 0; y < im->h; y++) {
        for (int x = 0; x < im->w; x++)
            for (int c = 0; c < im->c; c++) {
                float p = im->data[c * plane + (int64_t)y * im->w + x];
                row[(size_t)x * im->c + c] = (unsigned char)(p > 0.0f ? lroundf(fminf(p, 1.0f) * 255.0f) : 0);
            }
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(row);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return DC_ERR(DC_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return DC_OK;
}
#else
dc_status dc_image_write_png(const char *path, const dc_image *im) {
    (void)im;
    return DC_ERR(DC_ERR_ARG, "%s: this deepc was built without libpng; write PGM instead (or install libpng-dev "
                  "and rebuild)", path ? path : "(null)");
}
#endif

/* ------------------------------------------------------------------ read / write by kind */

dc_status dc_image_read(const char *path, dc_image *out) {
    if (!path || !out) return DC_ERR(DC_ERR_ARG, "dc_image_read: NULL argument");
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return DC_ERR(DC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char magic[8] = {0};
    size_t got = fread(magic, 1, 2, f);
    dc_status s;
    if (got < 2) {
        int err = ferror(f) ? errno : 0;
        s = err ? DC_ERR(DC_ERR_IO, "%s: read error: %s", path, strerror(err))
                : DC_ERR(DC_ERR_FORMAT, "%s: %s, not an image", path, got ? "1-byte file" : "empty file");
    } else if (magic[0] == 'P' && (magic[1] == '2' || magic[1] == '3' || magic[1] == '5' || magic[1] == '6')) {
        s = read_pnm(path, f, magic[1] - '0', out);
    } else if (magic[0] == 0x89 && magic[1] == 'P') {
        got += fread(magic + 2, 1, 6, f);
        if (got < 8 || memcmp(magic, "\x89PNG\r\n\x1a\n", 8) != 0)
            s = DC_ERR(DC_ERR_FORMAT, "%s: bad PNG signature (truncated or mangled by a text-mode transfer)", path);
        else {
#ifdef DC_HAVE_PNG
            rewind(f);
            s = read_png(path, f, out);
#else
            s = DC_ERR(DC_ERR_FORMAT, "%s: a PNG image, but this deepc was built without libpng (install libpng-dev "
                       "and rebuild, or convert the image to PGM)", path);
#endif
        }
    } else if (magic[0] == 'P' && (magic[1] == '1' || magic[1] == '4' || magic[1] == '7')) {
        s = DC_ERR(DC_ERR_FORMAT, "%s: P%c (%s) is not supported; use PGM (P2/P5), PPM (P3/P6) or PNG", path,
                   magic[1], magic[1] == '7' ? "PAM" : "PBM bitmap");
    } else {
        s = DC_ERR(DC_ERR_FORMAT, "%s: not a PGM/PPM or PNG image (starts with bytes %02x %02x)", path, magic[0],
                   magic[1]);
    }
    fclose(f);
    return s;
}

static int ends_with_png(const char *path) {
    size_t n = strlen(path);
    if (n < 4) return 0;
    const char *e = path + n - 4;
    return e[0] == '.' && (e[1] | 32) == 'p' && (e[2] | 32) == 'n' && (e[3] | 32) == 'g';
}

dc_status dc_image_write(const char *path, const dc_image *im) {
    if (!path) return DC_ERR(DC_ERR_ARG, "dc_image_write: NULL path");
    return ends_with_png(path) ? dc_image_write_png(path, im) : dc_image_write_pnm(path, im, 255, 0);
}

/* ------------------------------------------------------------------ conversion and resizing */

dc_status dc_image_convert(const dc_image *src, int channels, dc_image *dst) {
    if (!check_image(src) || !dst) return DC_ERR(DC_ERR_ARG, "dc_image_convert: NULL or empty image");
    if (channels != 1 && channels != 3) return DC_ERR(DC_ERR_ARG, "image conversion to %d channels (want 1 or 3)", channels);
    if (src->c != 1 && src->c != 3)
        return DC_ERR(DC_ERR_ARG, "image conversion from %d channels (want 1 or 3)", src->c);
    DC_TRY(dc_image_create(channels, src->h, src->w, dst));
    const int64_t plane = (int64_t)src->h * src->w;
    if (src->c == channels) memcpy(dst->data, src->data, (size_t)(plane * channels) * sizeof(float));
    else if (channels == 3)
        for (int c = 0; c < 3; c++) memcpy(dst->data + c * plane, src->data, (size_t)plane * sizeof(float));
    else
        for (int64_t i = 0; i < plane; i++)
            dst->data[i] = 0.299f * src->data[i] + 0.587f * src->data[plane + i] + 0.114f * src->data[2 * plane + i];
    return DC_OK;
}

/* One axis of the separable filter: for each output coordinate, the first source index, the tap
 * count and normalised weights (at most `maxtaps` each). */
typedef struct axis_filter {
    int *first, *count, maxtaps;
    float *weight;
} axis_filter;

static void axis_free(axis_filter *a) {
    free(a->first);
    free(a->count);
    free(a->weight);
    a->first = a->count = NULL;
    a->weight = NULL;
}

static dc_status axis_make(int in, int out, axis_filter *a) {
    const double scale = (double)in / out, support = scale > 1.0 ? scale : 1.0;
    a->maxtaps = (int)ceil(2.0 * support) + 2;
    a->first = malloc((size_t)out * sizeof(int));
    a->count = malloc((size_t)out * sizeof(int));
    a->weight = malloc((size_t)out * (size_t)a->maxtaps * sizeof(float));
    double *w = malloc((size_t)a->maxtaps * sizeof(double));
    if (!a->first || !a->count || !a->weight || !w) {
        axis_free(a);
        free(w);
        return DC_ERR(DC_ERR_NOMEM, "resize filter");
    }
    for (int o = 0; o < out; o++) {
        const double centre = (o + 0.5) * scale; /* in source pixel units; pixel i covers [i, i+1) */
        int lo = (int)floor(centre - support), hi = (int)ceil(centre + support);
        if (lo < 0) lo = 0;
        if (hi > in) hi = in;
        double sum = 0.0;
        int n = 0;
        for (int i = lo; i < hi && n < a->maxtaps; i++) {
            double t = fabs((i + 0.5 - centre) / support);
            w[n] = t < 1.0 ? 1.0 - t : 0.0;
            sum += w[n++];
        }
        if (sum <= 0.0) { /* cannot happen for in >= 1, but keep the weights well defined */
            int i = (int)centre < in ? (int)centre : in - 1;
            lo = i;
            n = 1;
            w[0] = sum = 1.0;
        }
        a->first[o] = lo;
        a->count[o] = n;
        for (int k = 0; k < n; k++) a->weight[(size_t)o * a->maxtaps + k] = (float)(w[k] / sum);
    }
    free(w);
    return DC_OK;
}

dc_status dc_image_resize(const dc_image *src, int h, int w, dc_image *dst) {
    if (!check_image(src) || !dst) return DC_ERR(DC_ERR_ARG, "dc_image_resize: NULL or empty image");
    DC_TRY(dc_image_create(src->c, h, w, dst));
    axis_filter fx = {0}, fy = {0};
    float *tmp = malloc((size_t)src->h * (size_t)w * sizeof(float));
    dc_status s = tmp ? DC_OK : DC_ERR(DC_ERR_NOMEM, "resize buffer");
    if (s == DC_OK) s = axis_make(src->w, w, &fx);
    if (s == DC_OK) s = axis_make(src->h, h, &fy);
    for (int c = 0; s == DC_OK && c < src->c; c++) {
        const float *in = src->data + (int64_t)c * src->h * src->w;
        for (int y = 0; y < src->h; y++)
            for (int x = 0; x < w; x++) {
                const float *wt = fx.weight + (size_t)x * fx.maxtaps, *row = in + (int64_t)y * src->w + fx.first[x];
                float acc = 0.0f;
                for (int k = 0; k < fx.count[x]; k++) acc += wt[k] * row[k];
                tmp[(int64_t)y * w + x] = acc;
            }
        float *o = dst->data + (int64_t)c * h * w;
        for (int y = 0; y < h; y++) {
            const float *wt = fy.weight + (size_t)y * fy.maxtaps;
            for (int x = 0; x < w; x++) {
                float acc = 0.0f;
                for (int k = 0; k < fy.count[y]; k++) acc += wt[k] * tmp[(int64_t)(fy.first[y] + k) * w + x];
                o[(int64_t)y * w + x] = acc;
            }
        }
    }
    free(tmp);
    axis_free(&fx);
    axis_free(&fy);
    if (s != DC_OK) dc_image_free(dst);
    return s;
}
