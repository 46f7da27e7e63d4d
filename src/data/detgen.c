/* detgen.c — the detection data-set generator (see detgen.h and docs/detection.md).
 *
 * One image is a pure function of (seed, split, index): its own xoshiro stream draws the
 * background, the clutter, the items and the noise, so images can be made on any number of threads
 * in any order and the files stay byte-identical.  Per image:
 *   1. background: a grey level in [0.02, 0.32] plus a gentle linear gradient;
 *   2. unlabeled clutter (1..5 pieces, drawn before the items, so beneath them): soft Gaussian
 *      blobs (light or dark) and blurred fragments of other Fashion-MNIST items, never annotated;
 *   3. items (1..max_items): a random item of the split's pool, scaled by a log-uniform factor with
 *      bilinear interpolation, its mask = scaled pixels >= mask_threshold; placed at a uniform
 *      position fully inside the canvas; a placement is rejected when a box IoU would exceed max_iou
 *      (against every box, each earlier box recomputed under the new item) or when an earlier item
 *      would keep less than 40% (or fewer than 12 pixels) of its mask visible;
 *   4. compositing: later items are on top; alpha = min(1, v / mask_threshold), so mask pixels
 *      replace what is below and the faint fringe blends;
 *   5. noise: per-pixel approximately Gaussian (Irwin–Hall of 4 uniforms), sigma in [0.01, 0.04];
 *      then 8-bit quantisation.
 * Each annotation's mask is the set of pixels whose topmost mask is that item (occluded parts
 * belong to the item on top), its box the tight bounding box of that mask, its area the pixel count.
 * PNG files are written here with zlib (or stored deflate blocks without zlib) rather than through
 * libpng, so the bytes do not depend on libpng's version or defaults; they are not fsynced (13k
 * small files), while the JSON files are written atomically. */
#include "data/detgen.h"
#include "data/coco.h"
#include "data/data.h"
#include "io/atomic.h"
#include "io/json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#ifdef DC_HAVE_ZLIB
#include <zlib.h>
#endif

#define ITEM 28
#define MIN_ITEM_PX 12          /* an item needs this many mask pixels (and keeps them visible) */
#define MIN_VISIBLE_FRAC 0.4    /* an earlier item keeps at least this fraction visible         */
#define ITEM_DRAWS 5            /* item/scale draws per slot                                     */
#define POS_DRAWS 10            /* positions tried per draw                                      */
#define FRAG_MARGIN 8           /* zero margin around a clutter fragment, > 2 x the blur radius   */

static const char *const SPLIT_NAMES[DC_DETGEN_SPLITS] = {"train", "val", "test"};
static const char *const CLASS_NAMES[DC_DETGEN_CLASSES] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                           "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

const char *dc_detgen_split_name(int split) {
    return split >= 0 && split < DC_DETGEN_SPLITS ? SPLIT_NAMES[split] : "?";
}

void dc_detgen_config_defaults(dc_detgen_config *c) {
    memset(c, 0, sizeof *c);
    c->fashion_dir = "/usr/share/datasets/fashion-mnist";
    c->seed = 1;
    c->n_images[0] = 10000;
    c->n_images[1] = 1000;
    c->n_images[2] = 2000;
    c->size = 160;
    c->min_scale = 0.5f;
    c->max_scale = 3.0f;
    c->max_items = 8;
    c->max_iou = 0.5f;
    c->mask_threshold = 0.1f;
    c->threads = 2;
}

/* ------------------------------------------------------------------ PNG (8-bit grey) */
static uint32_t crc_table[256];
static int crc_ready;
static void crc_init(void) {
    /* Filled once before any thread starts (dc_detgen_run); identical contents every time. */
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[n] = c;
    }
    crc_ready = 1;
}
static uint32_t crc_update(uint32_t crc, const uint8_t *p, size_t n) {
#ifdef DC_HAVE_ZLIB
    return (uint32_t)crc32(crc, p, (uInt)n);
#else
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
#endif
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

typedef struct png_buf {
    uint8_t *raw;   /* h * (w + 1): filter byte + row            */
    uint8_t *out;   /* the whole file                            */
    size_t raw_cap, out_cap;
} png_buf;

static int png_chunk(uint8_t *o, const char *type, const uint8_t *data, uint32_t n) {
    put_be32(o, n);
    memcpy(o + 4, type, 4);
    if (n) memmove(o + 8, data, n);
    uint32_t crc = crc_update(0, o + 4, 4 + (size_t)n);
    put_be32(o + 8 + n, crc);
    return (int)(12 + n);
}

/* Encode an 8-bit grey image as PNG into b->out; returns the byte count (0 on failure). */
static size_t png_encode(png_buf *b, const uint8_t *px, int w, int h) {
    size_t raw_n = (size_t)h * (size_t)(w + 1);
    /* Filter "Sub" on every row: neighbours are similar, and one fixed filter keeps it simple. */
    for (int y = 0; y < h; y++) {
        uint8_t *r = b->raw + (size_t)y * (w + 1);
        const uint8_t *s = px + (size_t)y * w;
        r[0] = 1;
        r[1] = s[0];
        for (int x = 1; x < w; x++) r[1 + x] = (uint8_t)(s[x] - s[x - 1]);
    }
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t *o = b->out;
    memcpy(o, sig, 8);
    size_t p = 8;
    uint8_t ihdr[13];
    put_be32(ihdr, (uint32_t)w);
    put_be32(ihdr + 4, (uint32_t)h);
    ihdr[8] = 8;  /* bit depth   */
    ihdr[9] = 0;  /* grey        */
    ihdr[10] = 0; /* deflate     */
    ihdr[11] = 0; /* filtering   */
    ihdr[12] = 0; /* no interlace */
    p += (size_t)png_chunk(o + p, "IHDR", ihdr, 13);
    uint8_t *idat = o + p + 8; /* the compressed stream is written in place, after the chunk header */
    size_t zn;
#ifdef DC_HAVE_ZLIB
    /* Level 1: the sensor noise leaves little to find; level 6 made files only 3% smaller for
     * 60% more time.  The bytes depend on zlib's version (the pixels do not). */
    uLongf dest = (uLongf)(b->out_cap - p - 8 - 12 - 12);
    if (compress2(idat, &dest, b->raw, (uLong)raw_n, 1) != Z_OK) return 0;
    zn = (size_t)dest;
#else
    /* zlib stream of stored blocks: header 78 01, blocks of <= 65535 bytes, Adler-32. */
    size_t q = 0;
    idat[q++] = 0x78;
    idat[q++] = 0x01;
    size_t left = raw_n, off = 0;
    uint32_t a1 = 1, a2 = 0;
    for (size_t i = 0; i < raw_n; i++) {
        a1 = (a1 + b->raw[i]) % 65521u;
        a2 = (a2 + a1) % 65521u;
    }
    do {
        size_t k = left < 65535 ? left : 65535;
        idat[q++] = (uint8_t)(left == k ? 1 : 0);
        idat[q++] = (uint8_t)(k & 0xff);
        idat[q++] = (uint8_t)(k >> 8);
        idat[q++] = (uint8_t)(~k & 0xff);
        idat[q++] = (uint8_t)((~k >> 8) & 0xff);
        memcpy(idat + q, b->raw + off, k);
        q += k;
        off += k;
        left -= k;
    } while (left);
    put_be32(idat + q, (a2 << 16) | a1);
    q += 4;
    zn = q;
#endif
    p += (size_t)png_chunk(o + p, "IDAT", idat, (uint32_t)zn);
    p += (size_t)png_chunk(o + p, "IEND", NULL, 0);
    return p;
}

static int png_buf_init(png_buf *b, int w, int h) {
    b->raw_cap = (size_t)h * (size_t)(w + 1);
    /* stored blocks: 5 bytes per 65535 + zlib framing; compressBound is smaller than this */
    b->out_cap = b->raw_cap + b->raw_cap / 1000 + 5 * (b->raw_cap / 65535 + 1) + 256;
    b->raw = malloc(b->raw_cap);
    b->out = malloc(b->out_cap);
    return b->raw && b->out ? 0 : -1;
}
static void png_buf_free(png_buf *b) {
    free(b->raw);
    free(b->out);
}

/* ------------------------------------------------------------------ the generator */
typedef struct gen_ann {
    int cls;                 /* 0..9                        */
    int bbox[4];             /* x, y, w, h (pixels)         */
    int64_t area;
    char *rle_str;           /* compressed counts, or NULL  */
    uint32_t *cnts;          /* uncompressed counts, or NULL */
    int64_t m;
} gen_ann;

typedef struct gen_item {
    int cls;
    int n;                   /* scaled side              */
    int x0, y0;              /* top-left on the canvas   */
    float *img;              /* n*n scaled pixels        */
    int bx0, by0, bx1, by1;  /* visible box, inclusive   */
    int64_t full_px, vis_px;
} gen_item;

typedef struct gen_pool {
    const uint8_t *px;       /* items of this split: n * 784 bytes */
    const uint8_t *labels;
    int64_t n;
} gen_pool;

typedef struct gen_job {
    const dc_detgen_config *c;
    int split;
    gen_pool pool;
    int64_t n;
    gen_ann *anns;           /* n * max_items */
    int *n_anns;             /* n             */
    char dir[4096];
    dc_status st[256];
    char msg[256][512];
} gen_job;

typedef struct gen_scratch {
    float *canvas;
    int8_t *owner;
    uint8_t *pixels, *mask;
    float *cand, *tmp, *frag;
    gen_item *items;
    png_buf png;
} gen_scratch;

static uint64_t mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static float urange(dc_rng *r, float lo, float hi) { return lo + (hi - lo) * dc_rng_uniform(r); }

/* Bilinear resample of a sh x sw byte image (values / 255) into dh x dw, pixel centres aligned
 * (align_corners = false), edges clamped. */
static void resample(const uint8_t *src, int sh, int sw, int stride, int dh, int dw, float *dst) {
    float fy = (float)sh / (float)dh, fx = (float)sw / (float)dw;
    for (int i = 0; i < dh; i++) {
        float sy = ((float)i + 0.5f) * fy - 0.5f;
        if (sy < 0) sy = 0;
        if (sy > (float)(sh - 1)) sy = (float)(sh - 1);
        int y0 = (int)sy, y1 = y0 + 1 < sh ? y0 + 1 : y0;
        float wy = sy - (float)y0;
        for (int j = 0; j < dw; j++) {
            float sx = ((float)j + 0.5f) * fx - 0.5f;
            if (sx < 0) sx = 0;
            if (sx > (float)(sw - 1)) sx = (float)(sw - 1);
            int x0 = (int)sx, x1 = x0 + 1 < sw ? x0 + 1 : x0;
            float wx = sx - (float)x0;
            float a = src[y0 * stride + x0], b = src[y0 * stride + x1];
            float c = src[y1 * stride + x0], d = src[y1 * stride + x1];
            float top = a + (b - a) * wx, bot = c + (d - c) * wx;
            dst[i * dw + j] = (top + (bot - top) * wy) * (1.0f / 255.0f);
        }
    }
}

/* In-place separable box blur of radius r (edges clamped), using tmp of h*w floats. */
static void box_blur(float *img, float *tmp, int h, int w, int r) {
    float inv = 1.0f / (float)(2 * r + 1);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float s = 0;
            for (int k = -r; k <= r; k++) {
                int xx = x + k < 0 ? 0 : x + k >= w ? w - 1 : x + k;
                s += img[y * w + xx];
            }
            tmp[y * w + x] = s * inv;
        }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float s = 0;
            for (int k = -r; k <= r; k++) {
                int yy = y + k < 0 ? 0 : y + k >= h ? h - 1 : y + k;
                s += tmp[yy * w + x];
            }
            img[y * w + x] = s * inv;
        }
}

static double box_iou_px(int ax0, int ay0, int ax1, int ay1, int bx0, int by0, int bx1, int by1) {
    /* boxes of inclusive pixel ranges, i.e. [x0, x1 + 1) — the same numbers as COCO's [x, y, w, h] */
    double iw = (double)((ax1 < bx1 ? ax1 : bx1) - (ax0 > bx0 ? ax0 : bx0) + 1);
    double ih = (double)((ay1 < by1 ? ay1 : by1) - (ay0 > by0 ? ay0 : by0) + 1);
    if (iw <= 0 || ih <= 0) return 0.0;
    double i = iw * ih;
    double aa = (double)(ax1 - ax0 + 1) * (ay1 - ay0 + 1), ab = (double)(bx1 - bx0 + 1) * (by1 - by0 + 1);
    return i / (aa + ab - i);
}

static void draw_clutter(const dc_detgen_config *c, const gen_pool *pool, dc_rng *r, gen_scratch *s) {
    const int S = c->size;
    int nc = 1 + (int)dc_rng_below(r, 5);
    for (int q = 0; q < nc; q++) {
        if (dc_rng_below(r, 2) == 0) {
            /* a soft Gaussian blob, light or dark */
            float cx = urange(r, 0, (float)S), cy = urange(r, 0, (float)S);
            float sx = urange(r, 2.0f, 10.0f) * (float)S / 160.0f, sy = urange(r, 2.0f, 10.0f) * (float)S / 160.0f;
            float amp = urange(r, 0.08f, 0.3f) * (dc_rng_uniform(r) < 0.3f ? -1.0f : 1.0f);
            int x0 = (int)floorf(cx - 3 * sx), x1 = (int)ceilf(cx + 3 * sx);
            int y0 = (int)floorf(cy - 3 * sy), y1 = (int)ceilf(cy + 3 * sy);
            if (x0 < 0) x0 = 0;
            if (y0 < 0) y0 = 0;
            if (x1 > S - 1) x1 = S - 1;
            if (y1 > S - 1) y1 = S - 1;
            float ax = -0.5f / (sx * sx), ay = -0.5f / (sy * sy);
            for (int y = y0; y <= y1; y++)
                for (int x = x0; x <= x1; x++) {
                    float dx = (float)x + 0.5f - cx, dy = (float)y + 0.5f - cy;
                    s->canvas[y * S + x] += amp * expf(ax * dx * dx + ay * dy * dy);
                }
        } else {
            /* a blurred fragment of an item: a crop, enlarged, faded out towards its edges by a
             * raised-cosine window, then box-blurred twice inside a zero margin, so it has no edges */
            const uint8_t *it = pool->px + (size_t)dc_rng_below(r, (uint64_t)pool->n) * ITEM * ITEM;
            int ch = 8 + (int)dc_rng_below(r, 9), cw = 8 + (int)dc_rng_below(r, 9);
            int cy0 = (int)dc_rng_below(r, (uint64_t)(ITEM - ch + 1)), cx0 = (int)dc_rng_below(r, (uint64_t)(ITEM - cw + 1));
            float f = urange(r, 1.0f, 2.5f) * (float)S / 160.0f;
            int fh = (int)lroundf((float)ch * f), fw = (int)lroundf((float)cw * f);
            if (fh < 2) fh = 2;
            if (fw < 2) fw = 2;
            if (fh > S) fh = S;
            if (fw > S) fw = S;
            int rad = 2 + (int)dc_rng_below(r, 2);
            float amp = urange(r, 0.25f, 0.55f);
            int px = (int)dc_rng_below(r, (uint64_t)(S + fw)) - fw / 2, py = (int)dc_rng_below(r, (uint64_t)(S + fh)) - fh / 2;
            const int M = FRAG_MARGIN;
            int H = fh + 2 * M, W = fw + 2 * M;
            resample(it + cy0 * ITEM + cx0, ch, cw, ITEM, fh, fw, s->tmp);
            memset(s->frag, 0, (size_t)H * W * sizeof(float));
            for (int y = 0; y < fh; y++) {
                float wy = sinf(3.14159265f * ((float)y + 0.5f) / (float)fh);
                for (int x = 0; x < fw; x++) {
                    float wx = sinf(3.14159265f * ((float)x + 0.5f) / (float)fw);
                    s->frag[(y + M) * W + x + M] = s->tmp[y * fw + x] * wy * wx;
                }
            }
            box_blur(s->frag, s->tmp, H, W, rad);
            box_blur(s->frag, s->tmp, H, W, rad);
            for (int y = 0; y < H; y++) {
                int yy = py - M + y;
                if (yy < 0 || yy >= S) continue;
                for (int x = 0; x < W; x++) {
                    int xx = px - M + x;
                    if (xx < 0 || xx >= S) continue;
                    s->canvas[yy * S + xx] += amp * s->frag[y * W + x];
                }
            }
        }
    }
}

/* Place items; returns the number placed. */
static int place_items(const dc_detgen_config *c, const gen_pool *pool, dc_rng *r, gen_scratch *s) {
    const int S = c->size;
    const float T = c->mask_threshold;
    int want = 1 + (int)dc_rng_below(r, (uint64_t)c->max_items);
    int placed = 0;
    memset(s->owner, -1, (size_t)S * S);
    float lmin = logf(c->min_scale), lmax = logf(c->max_scale);
    int nb[128][4]; /* candidate boxes of the earlier items under the new one */
    int64_t nvis[128];
    for (int slot = 0; slot < want; slot++) {
        int ok = 0;
        for (int draw = 0; draw < ITEM_DRAWS && !ok; draw++) {
            int64_t j = (int64_t)dc_rng_below(r, (uint64_t)pool->n);
            float sc = expf(lmin + (lmax - lmin) * dc_rng_uniform(r));
            int n = (int)lroundf(ITEM * sc);
            if (n < 1) n = 1;
            if (n > S) n = S;
            resample(pool->px + (size_t)j * ITEM * ITEM, ITEM, ITEM, ITEM, n, n, s->cand);
            int mx0 = n, my0 = n, mx1 = -1, my1 = -1;
            int64_t full = 0;
            for (int y = 0; y < n; y++)
                for (int x = 0; x < n; x++)
                    if (s->cand[y * n + x] >= T) {
                        full++;
                        if (x < mx0) mx0 = x;
                        if (x > mx1) mx1 = x;
                        if (y < my0) my0 = y;
                        if (y > my1) my1 = y;
                    }
            if (full < MIN_ITEM_PX) continue;
            for (int pos = 0; pos < POS_DRAWS && !ok; pos++) {
                int x0 = (int)dc_rng_below(r, (uint64_t)(S - n + 1)), y0 = (int)dc_rng_below(r, (uint64_t)(S - n + 1));
                int bx0 = x0 + mx0, by0 = y0 + my0, bx1 = x0 + mx1, by1 = y0 + my1;
                int bad = 0;
                for (int k = 0; k < placed && !bad; k++) {
                    gen_item *it = &s->items[k];
                    if (box_iou_px(bx0, by0, bx1, by1, it->bx0, it->by0, it->bx1, it->by1) > c->max_iou) bad = 1;
                }
                if (bad) continue;
                /* earlier items under the new mask: their visible part, box and count afterwards */
                for (int k = 0; k < placed && !bad; k++) {
                    gen_item *it = &s->items[k];
                    nb[k][0] = it->bx0; nb[k][1] = it->by0; nb[k][2] = it->bx1; nb[k][3] = it->by1;
                    nvis[k] = it->vis_px;
                    if (it->bx1 < bx0 || it->bx0 > bx1 || it->by1 < by0 || it->by0 > by1) continue;
                    int vx0 = S, vy0 = S, vx1 = -1, vy1 = -1;
                    int64_t vis = 0;
                    for (int y = it->by0; y <= it->by1; y++)
                        for (int x = it->bx0; x <= it->bx1; x++) {
                            if (s->owner[y * S + x] != k) continue;
                            int u = x - x0, v = y - y0;
                            if (u >= 0 && u < n && v >= 0 && v < n && s->cand[v * n + u] >= T) continue;
                            vis++;
                            if (x < vx0) vx0 = x;
                            if (x > vx1) vx1 = x;
                            if (y < vy0) vy0 = y;
                            if (y > vy1) vy1 = y;
                        }
                    if (vis < MIN_ITEM_PX || (double)vis < MIN_VISIBLE_FRAC * (double)it->full_px) { bad = 1; break; }
                    nb[k][0] = vx0; nb[k][1] = vy0; nb[k][2] = vx1; nb[k][3] = vy1;
                    nvis[k] = vis;
                }
                if (bad) continue;
                /* every pair of final boxes (shrunk boxes may overlap more than before) */
                for (int k = 0; k < placed && !bad; k++) {
                    if (box_iou_px(bx0, by0, bx1, by1, nb[k][0], nb[k][1], nb[k][2], nb[k][3]) > c->max_iou) bad = 1;
                    for (int l = k + 1; l < placed && !bad; l++)
                        if (box_iou_px(nb[k][0], nb[k][1], nb[k][2], nb[k][3], nb[l][0], nb[l][1], nb[l][2], nb[l][3]) >
                            c->max_iou)
                            bad = 1;
                }
                if (bad) continue;
                /* commit */
                for (int k = 0; k < placed; k++) {
                    gen_item *it = &s->items[k];
                    it->bx0 = nb[k][0]; it->by0 = nb[k][1]; it->bx1 = nb[k][2]; it->by1 = nb[k][3];
                    it->vis_px = nvis[k];
                }
                gen_item *it = &s->items[placed];
                it->cls = pool->labels[j];
                it->n = n;
                it->x0 = x0;
                it->y0 = y0;
                memcpy(it->img, s->cand, (size_t)n * n * sizeof(float));
                it->bx0 = bx0; it->by0 = by0; it->bx1 = bx1; it->by1 = by1;
                it->full_px = it->vis_px = full;
                float gain = urange(r, 0.75f, 1.0f);
                for (int v = 0; v < n; v++)
                    for (int u = 0; u < n; u++) {
                        float val = s->cand[v * n + u];
                        if (val <= 0.0f) continue;
                        float alpha = val >= T ? 1.0f : val / T;
                        float *p = &s->canvas[(y0 + v) * S + x0 + u];
                        *p = *p * (1.0f - alpha) + gain * val * alpha;
                        if (val >= T) s->owner[(y0 + v) * S + x0 + u] = (int8_t)placed;
                    }
                placed++;
                ok = 1;
            }
        }
    }
    return placed;
}

static dc_status make_image(gen_job *job, gen_scratch *s, int64_t idx) {
    const dc_detgen_config *c = job->c;
    const int S = c->size;
    dc_rng r;
    dc_rng_seed(&r, mix64(c->seed * 0x9E3779B97F4A7C15ull + mix64((uint64_t)job->split * 0x1000000000ull + (uint64_t)idx)));
    /* 1. background */
    float base = urange(&r, 0.02f, 0.32f), gx = urange(&r, -0.1f, 0.1f), gy = urange(&r, -0.1f, 0.1f);
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++)
            s->canvas[y * S + x] = base + gx * ((float)x / (float)S - 0.5f) + gy * ((float)y / (float)S - 0.5f);
    /* 2. clutter, 3-4. items */
    draw_clutter(c, &job->pool, &r, s);
    int placed = place_items(c, &job->pool, &r, s);
    /* 5. noise and quantisation */
    float sigma = urange(&r, 0.01f, 0.04f);
    for (int i = 0; i < S * S; i++) {
        uint64_t u = dc_rng_next(&r);
        float z = (float)((u & 0xffff) + ((u >> 16) & 0xffff) + ((u >> 32) & 0xffff) + (u >> 48)) * (1.0f / 65536.0f) - 2.0f;
        float v = s->canvas[i] + sigma * 1.7320508f * z; /* 4 uniforms: variance 1/3, so sqrt(3) makes it 1 */
        v = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
        s->pixels[i] = (uint8_t)(v * 255.0f + 0.5f);
    }
    /* the image file */
    char path[4200];
    snprintf(path, sizeof path, "%s/%06lld.png", job->dir, (long long)(idx + 1));
    size_t nbytes = png_encode(&s->png, s->pixels, S, S);
    if (!nbytes) return DC_ERR(DC_ERR_NOMEM, "%s: PNG compression failed", path);
    FILE *f = fopen(path, "wb");
    if (!f) return DC_ERR(DC_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    size_t w = fwrite(s->png.out, 1, nbytes, f);
    int e = errno;
    if (fclose(f) != 0 || w != nbytes) return DC_ERR(DC_ERR_IO, "%s: write failed: %s", path, strerror(e));
    /* annotations: per item, the pixels it owns */
    gen_ann *out = job->anns + idx * c->max_items;
    int na = 0;
    for (int k = 0; k < placed; k++) {
        gen_item *it = &s->items[k];
        if (it->vis_px <= 0) continue;
        for (int i = 0; i < S * S; i++) s->mask[i] = s->owner[i] == k;
        dc_rle rle;
        DC_TRY(dc_rle_encode(s->mask, S, S, &rle));
        gen_ann *a = &out[na++];
        a->cls = it->cls;
        a->bbox[0] = it->bx0;
        a->bbox[1] = it->by0;
        a->bbox[2] = it->bx1 - it->bx0 + 1;
        a->bbox[3] = it->by1 - it->by0 + 1;
        a->area = it->vis_px;
        if (c->rle_uncompressed) {
            a->cnts = rle.cnts;
            a->m = rle.m;
        } else {
            dc_status st = dc_rle_to_string(&rle, &a->rle_str);
            dc_rle_free(&rle);
            if (st != DC_OK) return st;
        }
    }
    job->n_anns[idx] = na;
    return DC_OK;
}

static void gen_task(void *ctx, int tid, int nthreads) {
    gen_job *job = ctx;
    const dc_detgen_config *c = job->c;
    const int S = c->size;
    int64_t lo, hi;
    dc_split_range(job->n, nthreads, tid, &lo, &hi);
    job->st[tid] = DC_OK;
    if (lo >= hi) return;
    gen_scratch s;
    memset(&s, 0, sizeof s);
    int nmax = (int)lroundf(ITEM * c->max_scale);
    if (nmax > S) nmax = S;
    size_t cs = (size_t)S * S, is = (size_t)nmax * nmax;
    s.canvas = malloc(cs * sizeof(float));
    s.owner = malloc(cs);
    s.pixels = malloc(cs);
    s.mask = malloc(cs);
    s.cand = malloc(is * sizeof(float));
    size_t fs = (size_t)(S + 2 * FRAG_MARGIN) * (size_t)(S + 2 * FRAG_MARGIN);
    s.tmp = malloc(fs * sizeof(float));
    s.frag = malloc(fs * sizeof(float));
    s.items = calloc((size_t)c->max_items, sizeof *s.items);
    int ok = s.canvas && s.owner && s.pixels && s.mask && s.cand && s.tmp && s.frag && s.items &&
             png_buf_init(&s.png, S, S) == 0;
    for (int k = 0; ok && k < c->max_items; k++) {
        s.items[k].img = malloc(is * sizeof(float));
        if (!s.items[k].img) ok = 0;
    }
    if (!ok) {
        job->st[tid] = DC_ERR(DC_ERR_NOMEM, "detgen: scratch buffers for a %d x %d canvas", S, S);
    } else {
        for (int64_t i = lo; i < hi; i++) {
            dc_status st = make_image(job, &s, i);
            if (st != DC_OK) {
                job->st[tid] = st;
                break;
            }
        }
    }
    if (job->st[tid] != DC_OK) {
        /* the message is thread-local: keep it without its "status: " prefix for the caller's thread */
        const char *m = dc_last_error(), *name = dc_status_name(job->st[tid]);
        size_t l = strlen(name);
        if (!strncmp(m, name, l) && m[l] == ':' && m[l + 1] == ' ') m += l + 2;
        snprintf(job->msg[tid], sizeof job->msg[tid], "%s", m);
    }
    for (int k = 0; s.items && k < c->max_items; k++) free(s.items[k].img);
    free(s.items);
    free(s.canvas);
    free(s.owner);
    free(s.pixels);
    free(s.mask);
    free(s.cand);
    free(s.tmp);
    free(s.frag);
    png_buf_free(&s.png);
}

static dc_status write_json(const dc_detgen_config *c, gen_job *job, dc_detgen_stats *stats) {
    const int S = c->size;
    dc_json_writer w;
    dc_json_writer_init(&w);
    dc_json_begin_object(&w);
    dc_json_key(&w, "info");
    dc_json_begin_object(&w);
    dc_json_key(&w, "description");
    dc_json_string(&w, "deepc detgen: Fashion-MNIST items on grey canvases (docs/detection.md)");
    dc_json_key(&w, "split");
    dc_json_string(&w, SPLIT_NAMES[job->split]);
    dc_json_key(&w, "seed");
    dc_json_int(&w, (int64_t)c->seed);
    dc_json_key(&w, "size");
    dc_json_int(&w, S);
    dc_json_key(&w, "min_scale");
    dc_json_float(&w, c->min_scale);
    dc_json_key(&w, "max_scale");
    dc_json_float(&w, c->max_scale);
    dc_json_key(&w, "max_items");
    dc_json_int(&w, c->max_items);
    dc_json_key(&w, "max_iou");
    dc_json_float(&w, c->max_iou);
    dc_json_key(&w, "mask_threshold");
    dc_json_float(&w, c->mask_threshold);
    dc_json_end_object(&w);
    dc_json_newline(&w);
    dc_json_key(&w, "licenses");
    dc_json_begin_array(&w);
    dc_json_end_array(&w);
    dc_json_newline(&w);
    dc_json_key(&w, "categories");
    dc_json_begin_array(&w);
    for (int k = 0; k < DC_DETGEN_CLASSES; k++) {
        dc_json_begin_object(&w);
        dc_json_key(&w, "id");
        dc_json_int(&w, k + 1);
        dc_json_key(&w, "name");
        dc_json_string(&w, CLASS_NAMES[k]);
        dc_json_key(&w, "supercategory");
        dc_json_string(&w, "fashion");
        dc_json_end_object(&w);
    }
    dc_json_end_array(&w);
    dc_json_newline(&w);
    dc_json_key(&w, "images");
    dc_json_begin_array(&w);
    char name[32];
    for (int64_t i = 0; i < job->n; i++) {
        dc_json_newline(&w);
        dc_json_begin_object(&w);
        dc_json_key(&w, "id");
        dc_json_int(&w, i + 1);
        snprintf(name, sizeof name, "%06lld.png", (long long)(i + 1));
        dc_json_key(&w, "file_name");
        dc_json_string(&w, name);
        dc_json_key(&w, "width");
        dc_json_int(&w, S);
        dc_json_key(&w, "height");
        dc_json_int(&w, S);
        dc_json_end_object(&w);
    }
    dc_json_end_array(&w);
    dc_json_newline(&w);
    dc_json_key(&w, "annotations");
    dc_json_begin_array(&w);
    int64_t ann_id = 0;
    int sp = job->split;
    for (int64_t i = 0; i < job->n; i++) {
        for (int k = 0; k < job->n_anns[i]; k++) {
            const gen_ann *a = &job->anns[i * c->max_items + k];
            dc_json_newline(&w);
            dc_json_begin_object(&w);
            dc_json_key(&w, "id");
            dc_json_int(&w, ++ann_id);
            dc_json_key(&w, "image_id");
            dc_json_int(&w, i + 1);
            dc_json_key(&w, "category_id");
            dc_json_int(&w, a->cls + 1);
            dc_json_key(&w, "bbox");
            dc_json_begin_array(&w);
            for (int q = 0; q < 4; q++) dc_json_int(&w, a->bbox[q]);
            dc_json_end_array(&w);
            dc_json_key(&w, "area");
            dc_json_int(&w, a->area);
            dc_json_key(&w, "iscrowd");
            dc_json_int(&w, 0);
            dc_json_key(&w, "segmentation");
            dc_json_begin_object(&w);
            dc_json_key(&w, "size");
            dc_json_begin_array(&w);
            dc_json_int(&w, S);
            dc_json_int(&w, S);
            dc_json_end_array(&w);
            dc_json_key(&w, "counts");
            if (a->rle_str) dc_json_string(&w, a->rle_str);
            else {
                dc_json_begin_array(&w);
                for (int64_t q = 0; q < a->m; q++) dc_json_int(&w, a->cnts[q]);
                dc_json_end_array(&w);
            }
            dc_json_end_object(&w);
            dc_json_end_object(&w);
            if (stats) {
                stats->per_class[sp][a->cls]++;
                if (a->area < 32 * 32) stats->area_small[sp]++;
                else if (a->area < 96 * 96) stats->area_medium[sp]++;
                else stats->area_large[sp]++;
            }
        }
    }
    dc_json_newline(&w);
    dc_json_end_array(&w);
    dc_json_end_object(&w);
    dc_json_newline(&w);
    if (stats) {
        stats->images[sp] = job->n;
        stats->annotations[sp] = ann_id;
    }
    char *text;
    size_t len;
    const char *why;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.json", c->out_dir, SPLIT_NAMES[sp]);
    if (dc_json_writer_take(&w, &text, &len, &why) != 0)
        return DC_ERR(DC_ERR_NOMEM, "%s: building the JSON failed: %s", path, why ? why : "?");
    dc_chunk ch = {text, len};
    dc_status st = dc_file_write_atomic(path, &ch, 1);
    free(text);
    return st;
}

static dc_status check_config(const dc_detgen_config *c) {
    if (!c->out_dir || !c->out_dir[0]) return DC_ERR(DC_ERR_ARG, "detgen: an output directory is required (--out DIR)");
    for (int i = 0; i < DC_DETGEN_SPLITS; i++)
        if (c->n_images[i] < 0 || c->n_images[i] > 999999)
            return DC_ERR(DC_ERR_ARG, "detgen: --%s %lld outside 0..999999 (file names have 6 digits)", SPLIT_NAMES[i],
                          (long long)c->n_images[i]);
    if (c->size < 32 || c->size > 4096) return DC_ERR(DC_ERR_ARG, "detgen: --size %d outside 32..4096", c->size);
    if (!(c->min_scale > 0.0f) || !(c->max_scale >= c->min_scale) || !isfinite(c->max_scale))
        return DC_ERR(DC_ERR_ARG, "detgen: scales [%g, %g]: need 0 < min <= max", (double)c->min_scale, (double)c->max_scale);
    if (c->min_scale < 0.2f) return DC_ERR(DC_ERR_ARG, "detgen: --min-scale %g below 0.2 leaves items of under 6 pixels", (double)c->min_scale);
    if (lroundf(ITEM * c->max_scale) > c->size)
        return DC_ERR(DC_ERR_ARG, "detgen: --max-scale %g makes items of %ld pixels, larger than the %d-pixel canvas",
                      (double)c->max_scale, lroundf(ITEM * c->max_scale), c->size);
    if (c->max_items < 1 || c->max_items > 100) return DC_ERR(DC_ERR_ARG, "detgen: --max-items %d outside 1..100", c->max_items);
    if (!(c->max_iou >= 0.0f && c->max_iou <= 1.0f)) return DC_ERR(DC_ERR_ARG, "detgen: max IoU %g outside 0..1", (double)c->max_iou);
    if (!(c->mask_threshold > 0.0f && c->mask_threshold < 1.0f))
        return DC_ERR(DC_ERR_ARG, "detgen: mask threshold %g outside (0, 1)", (double)c->mask_threshold);
    if (c->threads < 0 || c->threads > 256) return DC_ERR(DC_ERR_ARG, "detgen: --threads %d outside 1..256", c->threads);
    return DC_OK;
}

/* The items of one file: from memory (tests) or the MNIST-format directory. */
static dc_status load_file(const dc_detgen_config *c, int f, uint8_t **px, uint8_t **lab, const uint8_t **cpx,
                           const uint8_t **clab, int64_t *n) {
    *px = *lab = NULL;
    if (c->items[f]) {
        *cpx = c->items[f];
        *clab = c->labels[f];
        *n = c->n_items[f];
        if (!*clab || *n < 1) return DC_ERR(DC_ERR_ARG, "detgen: in-memory items need labels and a count");
        return DC_OK;
    }
    const char *stem[2] = {"train", "t10k"};
    char ip[4096], lp[4096];
    uint8_t *images = NULL, *labels = NULL;
    int rank;
    int64_t di[3], dl[3];
    dc_status st = DC_OK;
    for (int gz = 1; gz >= 0; gz--) {
        snprintf(ip, sizeof ip, "%s/%s-images-idx3-ubyte%s", c->fashion_dir, stem[f], gz ? ".gz" : "");
        struct stat sb;
        if (stat(ip, &sb) == 0) break;
    }
    for (int gz = 1; gz >= 0; gz--) {
        snprintf(lp, sizeof lp, "%s/%s-labels-idx1-ubyte%s", c->fashion_dir, stem[f], gz ? ".gz" : "");
        struct stat sb;
        if (stat(lp, &sb) == 0) break;
    }
    st = dc_idx_read(ip, &images, &rank, di);
    if (st == DC_OK && (rank != 3 || di[1] != ITEM || di[2] != ITEM))
        st = DC_ERR(DC_ERR_FORMAT, "%s: expected N x 28 x 28 images", ip);
    if (st == DC_OK) st = dc_idx_read(lp, &labels, &rank, dl);
    if (st == DC_OK && (rank != 1 || dl[0] != di[0]))
        st = DC_ERR(DC_ERR_FORMAT, "%s: %lld labels for %lld images", lp, (long long)dl[0], (long long)di[0]);
    for (int64_t i = 0; st == DC_OK && i < di[0]; i++)
        if (labels[i] > 9) st = DC_ERR(DC_ERR_FORMAT, "%s: label %d of item %lld outside 0..9", lp, labels[i], (long long)i);
    if (st == DC_OK && di[0] < 12) st = DC_ERR(DC_ERR_FORMAT, "%s: only %lld items", ip, (long long)di[0]);
    if (st != DC_OK) {
        free(images);
        free(labels);
        return st;
    }
    *px = images;
    *lab = labels;
    *cpx = images;
    *clab = labels;
    *n = di[0];
    return DC_OK;
}

dc_status dc_detgen_run(const dc_detgen_config *c, dc_detgen_stats *stats) {
    if (!c) return DC_ERR(DC_ERR_ARG, "dc_detgen_run: NULL configuration");
    DC_TRY(check_config(c));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (stats) memset(stats, 0, sizeof *stats);
    if (!crc_ready) crc_init();
    uint8_t *own_px[2] = {NULL, NULL}, *own_lab[2] = {NULL, NULL};
    const uint8_t *px[2] = {NULL, NULL}, *lab[2] = {NULL, NULL};
    int64_t nfile[2] = {0, 0};
    dc_status st = DC_OK;
    dc_pool *pool = NULL;
    gen_job *job = NULL;
    if (c->n_images[0] + c->n_images[1] > 0) st = load_file(c, 0, &own_px[0], &own_lab[0], &px[0], &lab[0], &nfile[0]);
    if (st == DC_OK && c->n_images[2] > 0) st = load_file(c, 1, &own_px[1], &own_lab[1], &px[1], &lab[1], &nfile[1]);
    if (st == DC_OK) st = dc_mkdir_p(c->out_dir);
    if (st == DC_OK) st = dc_pool_create(c->threads ? c->threads : 2, &pool);
    if (st == DC_OK) {
        job = calloc(1, sizeof *job);
        if (!job) st = DC_ERR(DC_ERR_NOMEM, "detgen: job");
    }
    for (int sp = 0; sp < DC_DETGEN_SPLITS && st == DC_OK; sp++) {
        memset(job, 0, sizeof *job);
        job->c = c;
        job->split = sp;
        job->n = c->n_images[sp];
        /* item pools: training file split 5:1 into train and val items, the test file for test */
        int f = sp == 2 ? 1 : 0;
        int64_t cut = nfile[0] - nfile[0] / 6;
        job->pool.px = px[f];
        job->pool.labels = lab[f];
        job->pool.n = nfile[f];
        if (sp == 0) job->pool.n = cut;
        if (sp == 1) {
            job->pool.px = px[0] ? px[0] + (size_t)cut * ITEM * ITEM : NULL;
            job->pool.labels = lab[0] ? lab[0] + cut : NULL;
            job->pool.n = nfile[0] - cut;
        }
        snprintf(job->dir, sizeof job->dir, "%s/%s", c->out_dir, SPLIT_NAMES[sp]);
        if (job->n == 0) continue;
        st = dc_mkdir_p(job->dir);
        if (st != DC_OK) break;
        job->anns = calloc((size_t)job->n * (size_t)c->max_items, sizeof *job->anns);
        job->n_anns = calloc((size_t)job->n, sizeof *job->n_anns);
        if (!job->anns || !job->n_anns) st = DC_ERR(DC_ERR_NOMEM, "detgen: annotations of %lld images", (long long)job->n);
        if (st == DC_OK) {
            dc_pool_run(pool, gen_task, job);
            int nt = dc_pool_size(pool);
            for (int t = 0; t < nt && t < 256; t++)
                if (job->st[t] != DC_OK) {
                    st = dc_error_set(job->st[t], __FILE__, __LINE__, "%s", job->msg[t]);
                    break;
                }
        }
        if (st == DC_OK) st = write_json(c, job, stats);
        if (job->anns)
            for (int64_t i = 0; i < job->n * c->max_items; i++) {
                free(job->anns[i].rle_str);
                free(job->anns[i].cnts);
            }
        free(job->anns);
        free(job->n_anns);
    }
    free(job);
    dc_pool_free(pool);
    for (int f = 0; f < 2; f++) {
        free(own_px[f]);
        free(own_lab[f]);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (stats) stats->seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    return st;
}
