/* coco.c — COCO run-length masks (encode, decode, compressed strings, polygons, merge) and the
 * COCO-style annotation loader (see coco.h for the supported forms).
 * The loader parses the whole JSON into a tree first (io/json), then validates element by element;
 * every message names the file, the element and its byte offset.  It does not read images up front,
 * does not keep unknown fields and does not stream (files over 1 GiB are refused). */
#include "data/coco.h"
#include "io/atomic.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define COCO_MAX_FILE ((size_t)1 << 30)
#define COCO_MAX_POLY_POINTS ((int64_t)1 << 26)  /* boundary points traced for one polygon */

/* ------------------------------------------------------------------ RLE */
void dc_rle_free(dc_rle *r) {
    if (!r) return;
    free(r->cnts);
    memset(r, 0, sizeof *r);
}

static int side_ok(int h, int w) { return h >= 0 && w >= 0 && h <= DC_IMAGE_MAX_SIDE && w <= DC_IMAGE_MAX_SIDE; }

dc_status dc_rle_encode(const uint8_t *mask, int h, int w, dc_rle *out) {
    memset(out, 0, sizeof *out);
    if (!side_ok(h, w) || (!mask && h && w)) return DC_ERR(DC_ERR_ARG, "dc_rle_encode: mask %d x %d", h, w);
    out->h = h;
    out->w = w;
    int64_t a = (int64_t)h * w;
    if (a == 0) return DC_OK;
    /* Runs: at most one per pixel plus the leading zero run; count them first to allocate once. */
    int64_t m = 1;
    uint8_t prev = 0;
    for (int x = 0; x < w; x++)
        for (int y = 0; y < h; y++) {
            uint8_t v = mask[(size_t)y * w + x] != 0;
            if (v != prev) { m++; prev = v; }
        }
    out->cnts = malloc((size_t)m * sizeof *out->cnts);
    if (!out->cnts) return DC_ERR(DC_ERR_NOMEM, "dc_rle_encode: %lld runs", (long long)m);
    int64_t k = 0;
    uint32_t c = 0;
    prev = 0;
    for (int x = 0; x < w; x++)
        for (int y = 0; y < h; y++) {
            uint8_t v = mask[(size_t)y * w + x] != 0;
            if (v != prev) { out->cnts[k++] = c; c = 0; prev = v; }
            c++;
        }
    out->cnts[k++] = c;
    out->m = k;
    return DC_OK;
}

void dc_rle_decode(const dc_rle *r, uint8_t *mask) {
    int64_t pos = 0, a = (int64_t)r->h * r->w;
    uint8_t v = 0;
    for (int64_t j = 0; j < r->m; j++, v ^= 1)
        for (uint32_t k = 0; k < r->cnts[j] && pos < a; k++, pos++) {
            int64_t x = pos / r->h, y = pos % r->h;
            mask[y * r->w + x] = v;
        }
    for (; pos < a; pos++) mask[(pos % r->h) * r->w + pos / r->h] = 0;
}

static dc_status check_counts(const uint32_t *cnts, int64_t m, int h, int w, const char *where) {
    if (!side_ok(h, w)) return DC_ERR(DC_ERR_FORMAT, "%s: mask size %d x %d outside 0..%d", where, h, w, DC_IMAGE_MAX_SIDE);
    uint64_t sum = 0, a = (uint64_t)h * (uint64_t)w;
    for (int64_t j = 0; j < m; j++) {
        sum += cnts[j];
        if (sum > a) break;
    }
    if (sum != a)
        return DC_ERR(DC_ERR_FORMAT, "%s: RLE counts add up to %s%llu, but the mask is %d x %d = %llu pixels", where,
                      sum > a ? "more than " : "", (unsigned long long)sum, h, w, (unsigned long long)a);
    return DC_OK;
}

dc_status dc_rle_from_counts(const uint32_t *cnts, int64_t m, int h, int w, dc_rle *out) {
    memset(out, 0, sizeof *out);
    if (m < 0 || (m > 0 && !cnts)) return DC_ERR(DC_ERR_ARG, "dc_rle_from_counts: %lld counts", (long long)m);
    DC_TRY(check_counts(cnts, m, h, w, "RLE"));
    if (m) {
        out->cnts = malloc((size_t)m * sizeof *out->cnts);
        if (!out->cnts) return DC_ERR(DC_ERR_NOMEM, "RLE: %lld counts", (long long)m);
        memcpy(out->cnts, cnts, (size_t)m * sizeof *cnts);
    }
    out->h = h;
    out->w = w;
    out->m = m;
    return DC_OK;
}

uint64_t dc_rle_area(const dc_rle *r) {
    uint64_t a = 0;
    for (int64_t j = 1; j < r->m; j += 2) a += r->cnts[j];
    return a;
}

void dc_rle_bbox(const dc_rle *r, double bb[4]) {
    bb[0] = bb[1] = bb[2] = bb[3] = 0.0;
    if (r->h <= 0) return;
    int64_t h = r->h, pos = 0, xs = INT64_MAX, xe = -1, ys = INT64_MAX, ye = -1;
    for (int64_t j = 0; j < r->m; j++) {
        int64_t c = r->cnts[j];
        if ((j & 1) && c > 0) {
            /* a run of ones covering pixels pos .. pos + c - 1 (column-major) */
            int64_t x0 = pos / h, y0 = pos % h, x1 = (pos + c - 1) / h, y1 = (pos + c - 1) % h;
            if (x0 < xs) xs = x0;
            if (x1 > xe) xe = x1;
            if (x1 > x0) { y0 = 0; y1 = h - 1; } /* it wraps into the next column: every row is hit */
            if (y0 < ys) ys = y0;
            if (y1 > ye) ye = y1;
        }
        pos += c;
    }
    if (xe < 0) return;
    bb[0] = (double)xs;
    bb[1] = (double)ys;
    bb[2] = (double)(xe - xs + 1);
    bb[3] = (double)(ye - ys + 1);
}

dc_status dc_rle_to_string(const dc_rle *r, char **s) {
    /* At most 7 characters per count: 32-bit values and differences need 33 bits of 5-bit groups. */
    char *buf = malloc((size_t)r->m * 7 + 1);
    if (!buf) return DC_ERR(DC_ERR_NOMEM, "RLE string for %lld counts", (long long)r->m);
    size_t p = 0;
    for (int64_t i = 0; i < r->m; i++) {
        int64_t x = (int64_t)r->cnts[i] - (i > 2 ? (int64_t)r->cnts[i - 2] : 0);
        int more = 1;
        while (more) {
            int c = (int)(((x % 32) + 32) % 32); /* low 5 bits, two's complement style */
            x = (x - c) / 32;                    /* arithmetic shift right by 5         */
            more = (c & 0x10) ? x != -1 : x != 0;
            if (more) c |= 0x20;
            buf[p++] = (char)(c + 48);
        }
    }
    buf[p] = '\0';
    *s = buf;
    return DC_OK;
}

dc_status dc_rle_from_string(const char *s, size_t len, int h, int w, dc_rle *out) {
    memset(out, 0, sizeof *out);
    if (!side_ok(h, w)) return DC_ERR(DC_ERR_FORMAT, "RLE string: mask size %d x %d outside 0..%d", h, w, DC_IMAGE_MAX_SIDE);
    uint32_t *cnts = calloc(len ? len : 1, sizeof *cnts);
    if (!cnts) return DC_ERR(DC_ERR_NOMEM, "RLE string of %zu characters", len);
    int64_t m = 0;
    size_t p = 0;
    while (p < len) {
        uint64_t ux = 0;
        int k = 0, more = 1;
        size_t start = p;
        while (more) {
            if (p >= len) {
                free(cnts);
                return DC_ERR(DC_ERR_FORMAT, "RLE string: count starting at character %zu is cut off", start);
            }
            int c = (unsigned char)s[p] - 48;
            if (c < 0 || c > 63) {
                free(cnts);
                return DC_ERR(DC_ERR_FORMAT, "RLE string: character %zu ('%c') outside '0'..'o'", p,
                              (s[p] >= 0x20 && s[p] < 0x7f) ? s[p] : '?');
            }
            if (k >= 12) {
                free(cnts);
                return DC_ERR(DC_ERR_FORMAT, "RLE string: count starting at character %zu is too long", start);
            }
            ux |= (uint64_t)(c & 0x1f) << (5 * k);
            more = c & 0x20;
            p++;
            k++;
            if (!more && (c & 0x10)) ux |= ~(uint64_t)0 << (5 * k); /* sign extension */
        }
        int64_t x = (int64_t)ux;
        if (m > 2) x += (int64_t)cnts[m - 2];
        if (x < 0 || x > (int64_t)UINT32_MAX) {
            free(cnts);
            return DC_ERR(DC_ERR_FORMAT, "RLE string: count %lld (ending at character %zu) is %lld", (long long)m, p,
                          (long long)x);
        }
        cnts[m++] = (uint32_t)x;
    }
    dc_status st = check_counts(cnts, m, h, w, "RLE string");
    if (st != DC_OK) {
        free(cnts);
        return st;
    }
    out->h = h;
    out->w = w;
    out->m = m;
    out->cnts = m ? cnts : NULL;
    if (!m) free(cnts);
    return DC_OK;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* COCO's polygon rule: trace the closed boundary at 5x resolution into integer points, keep the
 * points where the traced x crosses a pixel-column centre (downsampled back), take each such
 * crossing as a switch position x*h + ceil(y) in column-major order, sort the switches and turn
 * them into runs (two switches at the same position cancel). */
dc_status dc_rle_from_polygon(const double *xy, int64_t k, int h, int w, dc_rle *out) {
    memset(out, 0, sizeof *out);
    if (!side_ok(h, w)) return DC_ERR(DC_ERR_FORMAT, "polygon: mask size %d x %d outside 0..%d", h, w, DC_IMAGE_MAX_SIDE);
    if (k < 3) return DC_ERR(DC_ERR_FORMAT, "polygon: %lld points, need at least 3", (long long)k);
    for (int64_t j = 0; j < 2 * k; j++)
        if (!isfinite(xy[j]) || fabs(xy[j]) > 1e6)
            return DC_ERR(DC_ERR_FORMAT, "polygon: coordinate %lld is %g (finite, within 1e6 expected)", (long long)j, xy[j]);
    const double scale = 5.0;
    int *px = malloc((size_t)(k + 1) * sizeof *px), *py = malloc((size_t)(k + 1) * sizeof *py);
    int *u = NULL, *v = NULL;
    uint32_t *a = NULL, *b = NULL;
    dc_status st = DC_OK;
    if (!px || !py) { st = DC_ERR(DC_ERR_NOMEM, "polygon of %lld points", (long long)k); goto done; }
    for (int64_t j = 0; j < k; j++) {
        px[j] = (int)(scale * xy[2 * j] + 0.5);
        py[j] = (int)(scale * xy[2 * j + 1] + 0.5);
    }
    px[k] = px[0];
    py[k] = py[0];
    int64_t m = 0;
    for (int64_t j = 0; j < k; j++) {
        int dx = abs(px[j + 1] - px[j]), dy = abs(py[j + 1] - py[j]);
        m += (dx > dy ? dx : dy) + 1;
    }
    if (m > COCO_MAX_POLY_POINTS) {
        st = DC_ERR(DC_ERR_FORMAT, "polygon: boundary of %lld traced points is too long", (long long)m);
        goto done;
    }
    u = malloc((size_t)m * sizeof *u);
    v = malloc((size_t)m * sizeof *v);
    if (!u || !v) { st = DC_ERR(DC_ERR_NOMEM, "polygon boundary of %lld points", (long long)m); goto done; }
    m = 0;
    for (int64_t j = 0; j < k; j++) {
        int xs = px[j], xe = px[j + 1], ys = py[j], ye = py[j + 1];
        int dx = abs(xe - xs), dy = abs(ys - ye);
        /* Walk along the longer axis, always from the lower end so rounding does not depend on
         * the direction of the edge; emit the points in the edge's own direction. */
        int flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
        if (flip) { int t = xs; xs = xe; xe = t; t = ys; ys = ye; ye = t; }
        if (dx >= dy) {
            double s = dx ? (double)(ye - ys) / dx : 0.0;
            for (int d = 0; d <= dx; d++) {
                int t = flip ? dx - d : d;
                u[m] = t + xs;
                v[m] = (int)(ys + s * t + 0.5);
                m++;
            }
        } else {
            double s = (double)(xe - xs) / dy;
            for (int d = 0; d <= dy; d++) {
                int t = flip ? dy - d : d;
                v[m] = t + ys;
                u[m] = (int)(xs + s * t + 0.5);
                m++;
            }
        }
    }
    /* Column-centre crossings -> switch positions, plus the end sentinel h*w. */
    a = malloc((size_t)(m + 1) * sizeof *a);
    if (!a) { st = DC_ERR(DC_ERR_NOMEM, "polygon switches"); goto done; }
    int64_t na = 0;
    for (int64_t j = 1; j < m; j++) {
        if (u[j] == u[j - 1]) continue;
        double xd = (double)(u[j] < u[j - 1] ? u[j] : u[j] - 1);
        xd = (xd + 0.5) / scale - 0.5;
        if (floor(xd) != xd || xd < 0 || xd > w - 1) continue;
        double yd = (double)(v[j] < v[j - 1] ? v[j] : v[j - 1]);
        yd = (yd + 0.5) / scale - 0.5;
        if (yd < 0) yd = 0;
        else if (yd > h) yd = h;
        yd = ceil(yd);
        a[na++] = (uint32_t)((int64_t)xd * h + (int64_t)yd);
    }
    a[na++] = (uint32_t)((int64_t)h * w);
    qsort(a, (size_t)na, sizeof *a, cmp_u32);
    uint32_t prev = 0;
    for (int64_t j = 0; j < na; j++) { uint32_t t = a[j]; a[j] -= prev; prev = t; }
    b = malloc((size_t)na * sizeof *b);
    if (!b) { st = DC_ERR(DC_ERR_NOMEM, "polygon runs"); goto done; }
    int64_t nb = 0, j = 0;
    b[nb++] = a[j++];
    while (j < na) {
        if (a[j] > 0) b[nb++] = a[j++];
        else {
            j++;
            if (j < na) b[nb - 1] += a[j++];
        }
    }
    out->h = h;
    out->w = w;
    out->m = nb;
    out->cnts = b;
    b = NULL;
done:
    free(px);
    free(py);
    free(u);
    free(v);
    free(a);
    free(b);
    return st;
}

/* Walk two run lists in step, calling the result bit per segment. */
dc_status dc_rle_merge(const dc_rle *A, const dc_rle *B, int intersect, dc_rle *out) {
    memset(out, 0, sizeof *out);
    if (A->h != B->h || A->w != B->w)
        return DC_ERR(DC_ERR_ARG, "dc_rle_merge: masks of %d x %d and %d x %d", A->h, A->w, B->h, B->w);
    uint32_t *cnts = malloc((size_t)(A->m + B->m + 1) * sizeof *cnts);
    if (!cnts) return DC_ERR(DC_ERR_NOMEM, "dc_rle_merge: %lld runs", (long long)(A->m + B->m));
    int64_t ia = 0, ib = 0, m = 0;
    uint64_t ra = A->m ? A->cnts[0] : 0, rb = B->m ? B->cnts[0] : 0;
    int va = 0, vb = 0, cur = 0;
    uint64_t run = 0, total = (uint64_t)A->h * (uint64_t)A->w, done = 0;
    while (done < total) {
        while (ra == 0 && ia + 1 < A->m) { ra = A->cnts[++ia]; va ^= 1; }
        while (rb == 0 && ib + 1 < B->m) { rb = B->cnts[++ib]; vb ^= 1; }
        if (ra == 0 || rb == 0) break; /* malformed: counts shorter than the mask */
        uint64_t c = ra < rb ? ra : rb;
        int v = intersect ? (va && vb) : (va || vb);
        if (v != cur) { cnts[m++] = (uint32_t)run; run = 0; cur = v; }
        run += c;
        ra -= c;
        rb -= c;
        done += c;
    }
    cnts[m++] = (uint32_t)run;
    out->h = A->h;
    out->w = A->w;
    out->m = m;
    out->cnts = cnts;
    return DC_OK;
}

uint64_t dc_rle_intersection(const dc_rle *A, const dc_rle *B) {
    if (A->h != B->h || A->w != B->w) return 0;
    int64_t ia = 0, ib = 0;
    uint64_t ra = A->m ? A->cnts[0] : 0, rb = B->m ? B->cnts[0] : 0, inter = 0;
    int va = 0, vb = 0;
    for (;;) {
        while (ra == 0 && ia + 1 < A->m) { ra = A->cnts[++ia]; va ^= 1; }
        while (rb == 0 && ib + 1 < B->m) { rb = B->cnts[++ib]; vb ^= 1; }
        if (ra == 0 || rb == 0) break;
        uint64_t c = ra < rb ? ra : rb;
        if (va && vb) inter += c;
        ra -= c;
        rb -= c;
    }
    return inter;
}

/* ------------------------------------------------------------------ JSON helpers */
typedef struct coco_ctx {
    const char *origin;
    const char *text;
    size_t len;
} coco_ctx;

/* "line L, column C" of a byte offset, for messages. */
static void line_col(const char *text, size_t len, size_t pos, long *line, long *col) {
    long l = 1, c = 1;
    for (size_t i = 0; i < pos && i < len; i++) {
        if (text[i] == '\n') { l++; c = 1; }
        else c++;
    }
    *line = l;
    *col = c;
}

static dc_status elem_err(const coco_ctx *x, const dc_json *v, const char *elem, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static dc_status elem_err(const coco_ctx *x, const dc_json *v, const char *elem, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    long line = 0, col = 0;
    if (v && x->text) line_col(x->text, x->len, v->pos, &line, &col);
    if (v && x->text)
        return DC_ERR(DC_ERR_FORMAT, "%s: %s: %s (byte %zu, line %ld, column %ld)", x->origin, elem, msg, v->pos, line, col);
    return DC_ERR(DC_ERR_FORMAT, "%s: %s: %s", x->origin, elem, msg);
}

static dc_status get_int(const coco_ctx *x, const dc_json *obj, const char *key, const char *elem, int required,
                         int64_t lo, int64_t hi, int64_t dflt, int64_t *out) {
    const dc_json *v = dc_json_get(obj, key);
    if (!v) {
        if (required) return elem_err(x, obj, elem, "missing \"%s\"", key);
        *out = dflt;
        return DC_OK;
    }
    int64_t n;
    if (v->type == DC_JSON_BOOL) n = v->boolean;
    else if (v->type == DC_JSON_NUMBER && v->is_int) n = v->integer;
    else if (v->type == DC_JSON_NUMBER && v->number == floor(v->number) && fabs(v->number) < 9e15) n = (int64_t)v->number;
    else return elem_err(x, v, elem, "\"%s\" must be an integer, found %s", key, dc_json_type_name(v->type));
    if (n < lo || n > hi)
        return elem_err(x, v, elem, "\"%s\" is %lld, outside %lld..%lld", key, (long long)n, (long long)lo, (long long)hi);
    *out = n;
    return DC_OK;
}

static dc_status get_string(const coco_ctx *x, const dc_json *obj, const char *key, const char *elem, int required,
                            char **out) {
    const dc_json *v = dc_json_get(obj, key);
    *out = NULL;
    if (!v || v->type == DC_JSON_NULL) {
        if (required) return elem_err(x, obj, elem, "missing \"%s\"", key);
        *out = strdup("");
    } else if (v->type != DC_JSON_STRING) {
        return elem_err(x, v, elem, "\"%s\" must be a string, found %s", key, dc_json_type_name(v->type));
    } else {
        *out = strdup(v->str);
    }
    if (!*out) return DC_ERR(DC_ERR_NOMEM, "%s: %s.%s", x->origin, elem, key);
    return DC_OK;
}

/* A message from dc_last_error() without its "status name: " prefix and " [file.c:N]" suffix, so it
 * can be wrapped into a message naming the file and element. */
static void bare_message(char *buf, size_t n) {
    const char *m = dc_last_error();
    for (int s = 1; s < DC_STATUS_COUNT; s++) {
        size_t l = strlen(dc_status_name((dc_status)s));
        if (!strncmp(m, dc_status_name((dc_status)s), l) && m[l] == ':' && m[l + 1] == ' ') { m += l + 2; break; }
    }
    snprintf(buf, n, "%s", m);
    char *b = strrchr(buf, '[');
    if (b && b > buf && b[-1] == ' ' && strchr(b, ']') && strchr(b, ']')[1] == '\0') b[-1] = '\0';
}

static dc_status parse_segmentation(const coco_ctx *x, const dc_json *seg, int h, int w, const char *elem, dc_rle *out) {
    memset(out, 0, sizeof *out);
    if (seg->type == DC_JSON_OBJECT) {
        const dc_json *size = dc_json_get(seg, "size"), *counts = dc_json_get(seg, "counts");
        if (!size || size->type != DC_JSON_ARRAY || size->count != 2 || size->items[0].type != DC_JSON_NUMBER ||
            size->items[1].type != DC_JSON_NUMBER || !size->items[0].is_int || !size->items[1].is_int)
            return elem_err(x, size ? size : seg, elem, "RLE \"size\" must be [height, width]");
        int64_t rh = size->items[0].integer, rw = size->items[1].integer;
        if (rh != h || rw != w)
            return elem_err(x, size, elem, "RLE size [%lld, %lld] differs from the image's [height %d, width %d]",
                            (long long)rh, (long long)rw, h, w);
        if (!counts) return elem_err(x, seg, elem, "RLE without \"counts\"");
        dc_status st;
        if (counts->type == DC_JSON_STRING) {
            st = dc_rle_from_string(counts->str, counts->len, h, w, out);
        } else if (counts->type == DC_JSON_ARRAY) {
            if (counts->count > (size_t)h * (size_t)w + 1)
                return elem_err(x, counts, elem, "%zu RLE counts for a %d x %d mask", counts->count, h, w);
            uint32_t *c = malloc((counts->count ? counts->count : 1) * sizeof *c);
            if (!c) return DC_ERR(DC_ERR_NOMEM, "%s: %s: %zu RLE counts", x->origin, elem, counts->count);
            for (size_t i = 0; i < counts->count; i++) {
                const dc_json *ci = &counts->items[i];
                if (ci->type != DC_JSON_NUMBER || !ci->is_int || ci->integer < 0 || ci->integer > (int64_t)UINT32_MAX) {
                    free(c);
                    return elem_err(x, ci, elem, "RLE count %zu must be a non-negative integer", i);
                }
                c[i] = (uint32_t)ci->integer;
            }
            st = dc_rle_from_counts(c, (int64_t)counts->count, h, w, out);
            free(c);
        } else {
            return elem_err(x, counts, elem, "RLE \"counts\" must be a string or a list, found %s",
                            dc_json_type_name(counts->type));
        }
        if (st != DC_OK) {
            if (st == DC_ERR_NOMEM) return st;
            char msg[512];
            bare_message(msg, sizeof msg);
            return elem_err(x, counts, elem, "%s", msg);
        }
        return DC_OK;
    }
    if (seg->type != DC_JSON_ARRAY)
        return elem_err(x, seg, elem, "segmentation must be a list of polygons or an RLE object, found %s",
                        dc_json_type_name(seg->type));
    dc_rle acc;
    memset(&acc, 0, sizeof acc);
    int have = 0;
    for (size_t p = 0; p < seg->count; p++) {
        const dc_json *poly = &seg->items[p];
        if (poly->type != DC_JSON_ARRAY || poly->count < 6 || poly->count % 2) {
            dc_rle_free(&acc);
            return elem_err(x, poly, elem, "polygon %zu must be a list of at least 3 x, y pairs (%s of %zu)", p,
                            dc_json_type_name(poly->type), poly->type == DC_JSON_ARRAY ? poly->count : (size_t)0);
        }
        double *xy = malloc(poly->count * sizeof *xy);
        if (!xy) { dc_rle_free(&acc); return DC_ERR(DC_ERR_NOMEM, "%s: %s: polygon", x->origin, elem); }
        for (size_t i = 0; i < poly->count; i++) {
            if (poly->items[i].type != DC_JSON_NUMBER) {
                free(xy);
                dc_rle_free(&acc);
                return elem_err(x, &poly->items[i], elem, "polygon %zu, coordinate %zu is not a number", p, i);
            }
            xy[i] = poly->items[i].number;
        }
        dc_rle r;
        dc_status st = dc_rle_from_polygon(xy, (int64_t)poly->count / 2, h, w, &r);
        free(xy);
        if (st != DC_OK) {
            dc_rle_free(&acc);
            if (st == DC_ERR_NOMEM) return st;
            char msg[512];
            bare_message(msg, sizeof msg);
            return elem_err(x, poly, elem, "polygon %zu: %s", p, msg);
        }
        if (!have) { acc = r; have = 1; continue; }
        dc_rle u;
        st = dc_rle_merge(&acc, &r, 0, &u);
        dc_rle_free(&r);
        dc_rle_free(&acc);
        if (st != DC_OK) return st;
        acc = u;
    }
    if (!have) {
        /* An empty polygon list: an empty mask. */
        uint32_t all = (uint32_t)((int64_t)h * w);
        return dc_rle_from_counts(&all, h && w ? 1 : 0, h, w, out);
    }
    *out = acc;
    return DC_OK;
}

dc_status dc_coco_parse_segmentation(const dc_json *seg, int h, int w, const char *where, dc_rle *out) {
    coco_ctx x = {where, NULL, 0};
    return parse_segmentation(&x, seg, h, w, "segmentation", out);
}

/* ------------------------------------------------------------------ data set */
void dc_coco_free(dc_coco *c) {
    if (!c) return;
    for (int64_t i = 0; i < c->n_images; i++) free(c->images[i].file_name);
    for (int32_t i = 0; i < c->n_categories; i++) {
        free(c->categories[i].name);
        free(c->categories[i].supercategory);
    }
    for (int64_t i = 0; i < c->n_anns; i++) dc_rle_free(&c->anns[i].mask);
    free(c->images);
    free(c->categories);
    free(c->anns);
    free(c->image_by_id);
    free(c->path);
    free(c->image_dir);
    free(c);
}

typedef struct { int64_t id, index; } id_index;
static int cmp_id_index(const void *a, const void *b) {
    const id_index *x = a, *y = b;
    if (x->id != y->id) return (x->id > y->id) - (x->id < y->id);
    return (x->index > y->index) - (x->index < y->index);
}
static int cmp_category_id(const void *a, const void *b) {
    int64_t x = ((const dc_coco_category *)a)->id, y = ((const dc_coco_category *)b)->id;
    return (x > y) - (x < y);
}

int64_t dc_coco_find_image(const dc_coco *c, int64_t id) {
    int64_t lo = 0, hi = c->n_images;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (c->images[c->image_by_id[mid]].id < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < c->n_images && c->images[c->image_by_id[lo]].id == id ? c->image_by_id[lo] : -1;
}

int32_t dc_coco_find_category(const dc_coco *c, int64_t id) {
    int32_t lo = 0, hi = c->n_categories;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (c->categories[mid].id < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < c->n_categories && c->categories[lo].id == id ? lo : -1;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static dc_status parse_images(const coco_ctx *x, const dc_json *arr, dc_coco *c) {
    if (!arr) return elem_err(x, NULL, "top level", "missing \"images\"");
    if (arr->type != DC_JSON_ARRAY) return elem_err(x, arr, "images", "must be a list, found %s", dc_json_type_name(arr->type));
    c->images = calloc(arr->count ? arr->count : 1, sizeof *c->images);
    c->image_by_id = malloc((arr->count ? arr->count : 1) * sizeof *c->image_by_id);
    if (!c->images || !c->image_by_id) return DC_ERR(DC_ERR_NOMEM, "%s: %zu images", x->origin, arr->count);
    for (size_t i = 0; i < arr->count; i++) {
        const dc_json *o = &arr->items[i];
        char elem[64];
        snprintf(elem, sizeof elem, "images[%zu]", i);
        if (o->type != DC_JSON_OBJECT) return elem_err(x, o, elem, "must be an object, found %s", dc_json_type_name(o->type));
        dc_coco_image *im = &c->images[i];
        int64_t v;
        c->n_images = (int64_t)i + 1; /* counted first so that a failure frees what was built */
        DC_TRY(get_int(x, o, "id", elem, 1, INT64_MIN, INT64_MAX, 0, &im->id));
        DC_TRY(get_string(x, o, "file_name", elem, 1, &im->file_name));
        DC_TRY(get_int(x, o, "width", elem, 1, 1, DC_IMAGE_MAX_SIDE, 0, &v));
        im->width = (int32_t)v;
        DC_TRY(get_int(x, o, "height", elem, 1, 1, DC_IMAGE_MAX_SIDE, 0, &v));
        im->height = (int32_t)v;
    }
    id_index *order = malloc((size_t)(c->n_images ? c->n_images : 1) * sizeof *order);
    if (!order) return DC_ERR(DC_ERR_NOMEM, "%s: image index", x->origin);
    for (int64_t i = 0; i < c->n_images; i++) order[i] = (id_index){c->images[i].id, i};
    qsort(order, (size_t)c->n_images, sizeof *order, cmp_id_index);
    for (int64_t i = 0; i < c->n_images; i++) c->image_by_id[i] = order[i].index;
    free(order);
    for (int64_t k = 1; k < c->n_images; k++)
        if (c->images[c->image_by_id[k]].id == c->images[c->image_by_id[k - 1]].id) {
            int64_t a = c->image_by_id[k - 1], b = c->image_by_id[k];
            if (a > b) { int64_t t = a; a = b; b = t; }
            char elem[64];
            snprintf(elem, sizeof elem, "images[%lld]", (long long)b);
            return elem_err(x, &arr->items[b], elem, "id %lld is used by images[%lld] too", (long long)c->images[b].id,
                            (long long)a);
        }
    return DC_OK;
}

static dc_status parse_categories(const coco_ctx *x, const dc_json *arr, dc_coco *c) {
    if (!arr) return elem_err(x, NULL, "top level", "missing \"categories\"");
    if (arr->type != DC_JSON_ARRAY)
        return elem_err(x, arr, "categories", "must be a list, found %s", dc_json_type_name(arr->type));
    if (arr->count > 1000000) return elem_err(x, arr, "categories", "%zu categories is absurd", arr->count);
    c->categories = calloc(arr->count ? arr->count : 1, sizeof *c->categories);
    if (!c->categories) return DC_ERR(DC_ERR_NOMEM, "%s: %zu categories", x->origin, arr->count);
    for (size_t i = 0; i < arr->count; i++) {
        const dc_json *o = &arr->items[i];
        char elem[64];
        snprintf(elem, sizeof elem, "categories[%zu]", i);
        if (o->type != DC_JSON_OBJECT) return elem_err(x, o, elem, "must be an object, found %s", dc_json_type_name(o->type));
        dc_coco_category *k = &c->categories[i];
        c->n_categories = (int32_t)i + 1;
        DC_TRY(get_int(x, o, "id", elem, 1, INT64_MIN, INT64_MAX, 0, &k->id));
        DC_TRY(get_string(x, o, "name", elem, 1, &k->name));
        DC_TRY(get_string(x, o, "supercategory", elem, 0, &k->supercategory));
    }
    /* Duplicates are checked on a sorted copy of the ids so the message can name both entries. */
    int64_t *ids = malloc((arr->count ? arr->count : 1) * sizeof *ids);
    if (!ids) return DC_ERR(DC_ERR_NOMEM, "%s: category ids", x->origin);
    for (int32_t i = 0; i < c->n_categories; i++) ids[i] = c->categories[i].id;
    qsort(ids, (size_t)c->n_categories, sizeof *ids, cmp_i64);
    for (int32_t i = 1; i < c->n_categories; i++)
        if (ids[i] == ids[i - 1]) {
            int64_t dup = ids[i];
            free(ids);
            int32_t first = -1, second = -1;
            for (int32_t j = 0; j < c->n_categories; j++)
                if (c->categories[j].id == dup) {
                    if (first < 0) first = j;
                    else { second = j; break; }
                }
            char elem[64];
            snprintf(elem, sizeof elem, "categories[%d]", second);
            return elem_err(x, &arr->items[second], elem, "id %lld is used by categories[%d] too", (long long)dup, first);
        }
    free(ids);
    qsort(c->categories, (size_t)c->n_categories, sizeof *c->categories, cmp_category_id);
    return DC_OK;
}

static dc_status parse_annotations(const coco_ctx *x, const dc_json *arr, dc_coco *c) {
    if (!arr) return DC_OK; /* image-info files (test sets) have none */
    if (arr->type != DC_JSON_ARRAY)
        return elem_err(x, arr, "annotations", "must be a list, found %s", dc_json_type_name(arr->type));
    size_t n = arr->count;
    dc_coco_ann *tmp = calloc(n ? n : 1, sizeof *tmp);
    int64_t *ids = malloc((n ? n : 1) * sizeof *ids);
    if (!tmp || !ids) {
        free(tmp);
        free(ids);
        return DC_ERR(DC_ERR_NOMEM, "%s: %zu annotations", x->origin, n);
    }
    dc_status st = DC_OK;
    size_t done = 0;
    for (size_t i = 0; i < n && st == DC_OK; i++, done++) {
        const dc_json *o = &arr->items[i];
        char elem[64];
        snprintf(elem, sizeof elem, "annotations[%zu]", i);
        dc_coco_ann *a = &tmp[i];
        if (o->type != DC_JSON_OBJECT) {
            st = elem_err(x, o, elem, "must be an object, found %s", dc_json_type_name(o->type));
            break;
        }
        int64_t image_id = 0, cat_id = 0, crowd = 0;
        if ((st = get_int(x, o, "id", elem, 1, INT64_MIN, INT64_MAX, 0, &a->id)) != DC_OK) break;
        if ((st = get_int(x, o, "image_id", elem, 1, INT64_MIN, INT64_MAX, 0, &image_id)) != DC_OK) break;
        if ((st = get_int(x, o, "category_id", elem, 1, INT64_MIN, INT64_MAX, 0, &cat_id)) != DC_OK) break;
        if ((st = get_int(x, o, "iscrowd", elem, 0, 0, 1, 0, &crowd)) != DC_OK) break;
        a->iscrowd = (int)crowd;
        ids[i] = a->id;
        a->image = dc_coco_find_image(c, image_id);
        if (a->image < 0) {
            st = elem_err(x, dc_json_get(o, "image_id"), elem, "image_id %lld is not in \"images\"", (long long)image_id);
            break;
        }
        a->category = dc_coco_find_category(c, cat_id);
        if (a->category < 0) {
            st = elem_err(x, dc_json_get(o, "category_id"), elem, "category_id %lld is not in \"categories\"",
                          (long long)cat_id);
            break;
        }
        const dc_json *bb = dc_json_get(o, "bbox");
        if (!bb) { st = elem_err(x, o, elem, "missing \"bbox\""); break; }
        if (bb->type != DC_JSON_ARRAY || bb->count != 4) {
            st = elem_err(x, bb, elem, "bbox: expected 4 numbers [x, y, w, h], got %s%s%zu", dc_json_type_name(bb->type),
                          bb->type == DC_JSON_ARRAY ? " of " : "", bb->type == DC_JSON_ARRAY ? bb->count : (size_t)0);
            break;
        }
        for (int k = 0; k < 4 && st == DC_OK; k++) {
            const dc_json *e = &bb->items[k];
            if (e->type != DC_JSON_NUMBER || !isfinite(e->number) || fabs(e->number) > 1e9 || (k >= 2 && e->number < 0))
                st = elem_err(x, e, elem, "bbox[%d] must be a finite number%s", k, k >= 2 ? " >= 0" : "");
            else a->bbox[k] = e->number;
        }
        if (st != DC_OK) break;
        const dc_coco_image *im = &c->images[a->image];
        const dc_json *seg = dc_json_get(o, "segmentation");
        if (seg && seg->type != DC_JSON_NULL) {
            char where[96];
            snprintf(where, sizeof where, "%s.segmentation", elem);
            if ((st = parse_segmentation(x, seg, im->height, im->width, where, &a->mask)) != DC_OK) break;
            a->has_mask = 1;
        }
        const dc_json *ar = dc_json_get(o, "area");
        if (ar && ar->type != DC_JSON_NULL) {
            if (ar->type != DC_JSON_NUMBER || !isfinite(ar->number) || ar->number < 0) {
                st = elem_err(x, ar, elem, "area must be a finite number >= 0");
                break;
            }
            a->area = ar->number;
            a->has_area = 1;
        } else {
            a->area = a->has_mask ? (double)dc_rle_area(&a->mask) : a->bbox[2] * a->bbox[3];
        }
    }
    if (st == DC_OK) {
        qsort(ids, n, sizeof *ids, cmp_i64);
        for (size_t i = 1; i < n; i++)
            if (ids[i] == ids[i - 1]) {
                size_t j = 0;
                while (j < n && tmp[j].id != ids[i]) j++;
                size_t k = j + 1;
                while (k < n && tmp[k].id != ids[i]) k++;
                char elem[64];
                snprintf(elem, sizeof elem, "annotations[%zu]", k);
                st = elem_err(x, &arr->items[k], elem, "id %lld is used by annotations[%zu] too", (long long)ids[i], j);
                break;
            }
    }
    free(ids);
    if (st != DC_OK) {
        for (size_t i = 0; i <= done && i < n; i++) dc_rle_free(&tmp[i].mask);
        free(tmp);
        return st;
    }
    /* Group by image with a counting sort: stable, so the file order survives within an image. */
    c->anns = malloc((n ? n : 1) * sizeof *c->anns);
    if (!c->anns) {
        for (size_t i = 0; i < n; i++) dc_rle_free(&tmp[i].mask);
        free(tmp);
        return DC_ERR(DC_ERR_NOMEM, "%s: %zu annotations", x->origin, n);
    }
    for (size_t i = 0; i < n; i++) c->images[tmp[i].image].ann_count++;
    int64_t pos = 0;
    for (int64_t i = 0; i < c->n_images; i++) {
        c->images[i].ann_first = pos;
        pos += c->images[i].ann_count;
        c->images[i].ann_count = 0;
    }
    for (size_t i = 0; i < n; i++) {
        dc_coco_image *im = &c->images[tmp[i].image];
        c->anns[im->ann_first + im->ann_count++] = tmp[i];
    }
    c->n_anns = (int64_t)n;
    free(tmp);
    return DC_OK;
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static char *default_image_dir(const char *path) {
    size_t n = strlen(path);
    char *d = malloc(n + 2);
    if (!d) return NULL;
    memcpy(d, path, n + 1);
    if (n > 5 && strcmp(path + n - 5, ".json") == 0) {
        d[n - 5] = '\0';
        if (is_dir(d)) return d;
    }
    memcpy(d, path, n + 1);
    char *slash = strrchr(d, '/');
    if (slash) *slash = '\0';
    else strcpy(d, ".");
    if (!d[0]) strcpy(d, "/");
    return d;
}

dc_status dc_coco_parse(const char *text, size_t len, const char *origin, const char *image_dir, dc_coco **out) {
    *out = NULL;
    coco_ctx x = {origin ? origin : "<json>", text, len};
    dc_json *root = NULL;
    size_t epos = 0;
    char emsg[256];
    if (dc_json_parse(text, len, &root, &epos, emsg, sizeof emsg) != 0) {
        long line, col;
        line_col(text, len, epos, &line, &col);
        return DC_ERR(DC_ERR_FORMAT, "%s: invalid JSON at byte %zu (line %ld, column %ld): %s", x.origin, epos, line, col,
                      emsg);
    }
    if (root->type != DC_JSON_OBJECT) {
        dc_status st = elem_err(&x, root, "top level", "must be an object with images, annotations and categories, found %s",
                                dc_json_type_name(root->type));
        dc_json_free(root);
        return st;
    }
    dc_coco *c = calloc(1, sizeof *c);
    if (!c) {
        dc_json_free(root);
        return DC_ERR(DC_ERR_NOMEM, "%s: data set", x.origin);
    }
    dc_status st = parse_images(&x, dc_json_get(root, "images"), c);
    if (st == DC_OK) st = parse_categories(&x, dc_json_get(root, "categories"), c);
    if (st == DC_OK) st = parse_annotations(&x, dc_json_get(root, "annotations"), c);
    dc_json_free(root);
    if (st == DC_OK) {
        c->path = strdup(x.origin);
        c->image_dir = image_dir ? strdup(image_dir) : strdup(".");
        if (!c->path || !c->image_dir) st = DC_ERR(DC_ERR_NOMEM, "%s: names", x.origin);
    }
    if (st != DC_OK) {
        dc_coco_free(c);
        return st;
    }
    *out = c;
    return DC_OK;
}

dc_status dc_coco_load(const char *json_path, const char *image_dir, dc_coco **out) {
    if (!out) return DC_ERR(DC_ERR_ARG, "dc_coco_load: NULL output");
    *out = NULL;
    if (!json_path) return DC_ERR(DC_ERR_ARG, "dc_coco_load: NULL path");
    char *text;
    size_t len;
    DC_TRY(dc_read_file(json_path, COCO_MAX_FILE, &text, &len));
    char *dir = image_dir ? strdup(image_dir) : default_image_dir(json_path);
    if (!dir) {
        free(text);
        return DC_ERR(DC_ERR_NOMEM, "%s: image directory name", json_path);
    }
    dc_status st = dc_coco_parse(text, len, json_path, dir, out);
    free(text);
    free(dir);
    return st;
}

dc_status dc_coco_image_path(const dc_coco *c, int64_t i, char *buf, size_t n) {
    if (!c || i < 0 || i >= c->n_images) return DC_ERR(DC_ERR_ARG, "dc_coco_image_path: image %lld out of range", (long long)i);
    int k = snprintf(buf, n, "%s/%s", c->image_dir, c->images[i].file_name);
    if (k < 0 || (size_t)k >= n) return DC_ERR(DC_ERR_ARG, "%s: image path of images[%lld] too long", c->path, (long long)i);
    return DC_OK;
}

dc_status dc_coco_image_read(const dc_coco *c, int64_t i, dc_image *out) {
    char path[4096];
    DC_TRY(dc_coco_image_path(c, i, path, sizeof path));
    DC_TRY(dc_image_read(path, out));
    if (out->h != c->images[i].height || out->w != c->images[i].width) {
        dc_status st = DC_ERR(DC_ERR_FORMAT, "%s: image is %d x %d (w x h) but %s images[%lld] says %d x %d", path, out->w,
                              out->h, c->path, (long long)i, c->images[i].width, c->images[i].height);
        dc_image_free(out);
        return st;
    }
    return DC_OK;
}
