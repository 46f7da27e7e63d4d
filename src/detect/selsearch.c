/* selsearch.c — selective search on grey images (selsearch.h): Felzenszwalb-Huttenlocher
 * segmentation, hierarchical grouping by colour/texture/size/fill similarity, diversification over
 * k and similarity sets, the paper's randomised ranking, duplicate removal.
 * What it does not do: colour spaces other than intensity (the images are grey), the paper's
 * SIFT-like texture normalisation beyond L1, parallelism (callers run images on their threads). */
#include "detect/selsearch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HIST (DC_SS_COLOUR_BINS + DC_SS_ORIENTATIONS * DC_SS_TEXTURE_BINS) /* 25 + 80 */

static const char *const MODE_NAMES[DC_SS_MODE_COUNT] = {"fast", "quality", "single"};
_Static_assert(sizeof MODE_NAMES / sizeof MODE_NAMES[0] == DC_SS_MODE_COUNT, "one name per mode");

const char *dc_ss_mode_name(dc_ss_mode m) { return (unsigned)m < DC_SS_MODE_COUNT ? MODE_NAMES[m] : "?"; }

dc_status dc_ss_mode_parse(const char *s, dc_ss_mode *out) {
    for (int i = 0; s && i < DC_SS_MODE_COUNT; i++)
        if (!strcmp(s, MODE_NAMES[i])) {
            if (out) *out = (dc_ss_mode)i;
            return DC_OK;
        }
    return DC_ERR(DC_ERR_ARG, "unknown selective-search mode '%s' (known: fast, quality, single)", s ? s : "(null)");
}

dc_selsearch_opts dc_selsearch_opts_default(void) {
    dc_selsearch_opts o = {.mode = DC_SS_FAST, .sigma = 0.8f, .min_size_scale = 0.25f, .max_boxes = 0, .seed = 1};
    return o;
}

/* ------------------------------------------------------------------ the image, prepared once */
typedef struct edge {
    uint32_t a, b;
    float w;
} edge;

typedef struct ss_image {
    int h, w;
    int64_t npix, m;
    edge *edges;     /* [m], sorted by weight (stable: ties keep raster order)       */
    uint8_t *cbin;   /* [npix] colour bin 0..24                                       */
    uint8_t *tbin;   /* [npix * 8] texture bin o*10 + b of each orientation           */
} ss_image;

static void ss_image_free(ss_image *s) {
    free(s->edges);
    free(s->cbin);
    free(s->tbin);
    memset(s, 0, sizeof *s);
}

/* out = separable convolution of in with kx along rows and ky along columns (taps -r..r, edges
 * clamped).   in, out, tmp: [h, w]; kx, ky: [2r + 1] */
static void conv_sep(const float *in, int h, int w, const float *kx, const float *ky, int r, float *tmp, float *out) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float s = 0.0f;
            for (int i = -r; i <= r; i++) {
                int xx = x + i < 0 ? 0 : x + i >= w ? w - 1 : x + i;
                s += kx[i + r] * in[(int64_t)y * w + xx];
            }
            tmp[(int64_t)y * w + x] = s;
        }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float s = 0.0f;
            for (int i = -r; i <= r; i++) {
                int yy = y + i < 0 ? 0 : y + i >= h ? h - 1 : y + i;
                s += ky[i + r] * tmp[(int64_t)yy * w + x];
            }
            out[(int64_t)y * w + x] = s;
        }
}

/* Felzenszwalb's smoothing mask: exp(-x^2 / 2 sigma^2) for |x| < ceil(4 sigma) + 1, normalised. */
static int gauss_kernel(float sigma, float *k /* [2 * 33 + 1] */) {
    int len = (int)ceilf(sigma * 4.0f) + 1;
    if (len > 33) len = 33;
    int r = len - 1;
    double sum = 0.0;
    for (int i = -r; i <= r; i++) {
        k[i + r] = expf(-0.5f * ((float)i / sigma) * ((float)i / sigma));
        sum += k[i + r];
    }
    for (int i = 0; i <= 2 * r; i++) k[i] = (float)(k[i] / sum);
    return r;
}

/* Stable LSD radix sort of edges by weight (non-negative floats: their bits order like integers). */
static void sort_edges(edge *e, edge *tmp, int64_t m) {
    for (int shift = 0; shift < 32; shift += 8) {
        int64_t cnt[257] = {0};
        for (int64_t i = 0; i < m; i++) {
            uint32_t u;
            memcpy(&u, &e[i].w, 4);
            cnt[((u >> shift) & 255u) + 1]++;
        }
        for (int i = 0; i < 256; i++) cnt[i + 1] += cnt[i];
        for (int64_t i = 0; i < m; i++) {
            uint32_t u;
            memcpy(&u, &e[i].w, 4);
            tmp[cnt[(u >> shift) & 255u]++] = e[i];
        }
        edge *t = e; /* swap roles: after 4 passes the result is back in the caller's array */
        e = tmp;
        tmp = t;
    }
}

/* Smoothing, the sorted 8-connected edge list, and the per-pixel histogram bins. */
static dc_status ss_image_prepare(const uint8_t *img, int h, int w, float sigma, int need_bins, ss_image *s) {
    memset(s, 0, sizeof *s);
    s->h = h;
    s->w = w;
    s->npix = (int64_t)h * w;
    int64_t np = s->npix, maxe = 4 * np;
    float *f = malloc((size_t)np * sizeof *f), *sm = malloc((size_t)np * sizeof *sm), *tmp = malloc((size_t)np * sizeof *tmp);
    edge *et = malloc((size_t)maxe * sizeof *et);
    s->edges = malloc((size_t)maxe * sizeof *s->edges);
    if (need_bins) {
        s->cbin = malloc((size_t)np);
        s->tbin = malloc((size_t)np * DC_SS_ORIENTATIONS);
    }
    if (!f || !sm || !tmp || !et || !s->edges || (need_bins && (!s->cbin || !s->tbin))) {
        free(f), free(sm), free(tmp), free(et);
        ss_image_free(s);
        return DC_ERR(DC_ERR_NOMEM, "selective search: buffers for a %dx%d image", w, h);
    }
    for (int64_t p = 0; p < np; p++) f[p] = img[p];
    float k[67];
    if (sigma > 0.0f) {
        int r = gauss_kernel(sigma, k);
        conv_sep(f, h, w, k, k, r, tmp, sm);
    } else {
        memcpy(sm, f, (size_t)np * sizeof *sm);
    }
    int64_t m = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint32_t p = (uint32_t)((int64_t)y * w + x);
            if (x < w - 1) s->edges[m++] = (edge){p, p + 1, fabsf(sm[p] - sm[p + 1])};
            if (y < h - 1) s->edges[m++] = (edge){p, p + (uint32_t)w, fabsf(sm[p] - sm[p + w])};
            if (x < w - 1 && y < h - 1) s->edges[m++] = (edge){p, p + (uint32_t)w + 1, fabsf(sm[p] - sm[p + w + 1])};
            if (x < w - 1 && y > 0) s->edges[m++] = (edge){p, p - (uint32_t)w + 1, fabsf(sm[p] - sm[p - w + 1])};
        }
    s->m = m;
    sort_edges(s->edges, et, m);
    if (need_bins) {
        /* colour: 25 bins over 0..255 of the unsmoothed intensity */
        for (int64_t p = 0; p < np; p++) s->cbin[p] = (uint8_t)(img[p] * DC_SS_COLOUR_BINS / 256);
        /* texture: Gaussian derivatives (sigma 1) gx, gy; orientation o (o * 45 degrees) responds with
         * max(0, gx cos + gy sin), binned into 10 bins over [0, the image's largest gradient] */
        float g[7], dg[7], gs = 0.0f, m2 = 0.0f;
        for (int i = -3; i <= 3; i++) gs += g[i + 3] = expf(-0.5f * (float)(i * i));
        for (int i = -3; i <= 3; i++) g[i + 3] /= gs, m2 += (float)(i * i) * g[i + 3];
        for (int i = -3; i <= 3; i++) dg[i + 3] = (float)i * g[i + 3] / m2; /* a unit ramp gives 1 */
        float *gx = sm, *gy = malloc((size_t)np * sizeof *gy);
        if (!gy) {
            free(f), free(sm), free(tmp), free(et);
            ss_image_free(s);
            return DC_ERR(DC_ERR_NOMEM, "selective search: texture buffers");
        }
        conv_sep(f, h, w, dg, g, 3, tmp, gx);
        conv_sep(f, h, w, g, dg, 3, tmp, gy);
        float gmax = 0.0f;
        for (int64_t p = 0; p < np; p++) {
            float mg = sqrtf(gx[p] * gx[p] + gy[p] * gy[p]);
            if (mg > gmax) gmax = mg;
        }
        float scale = gmax > 0.0f ? (float)DC_SS_TEXTURE_BINS / gmax : 0.0f;
        for (int o = 0; o < DC_SS_ORIENTATIONS; o++) {
            float c = cosf((float)o * 0.78539816f), sn = sinf((float)o * 0.78539816f);
            for (int64_t p = 0; p < np; p++) {
                float r = gx[p] * c + gy[p] * sn;
                int b = r > 0.0f ? (int)(r * scale) : 0;
                if (b >= DC_SS_TEXTURE_BINS) b = DC_SS_TEXTURE_BINS - 1;
                s->tbin[p * DC_SS_ORIENTATIONS + o] = (uint8_t)(DC_SS_COLOUR_BINS + o * DC_SS_TEXTURE_BINS + b);
            }
        }
        free(gy);
    }
    free(f), free(sm), free(tmp), free(et);
    return DC_OK;
}

/* ------------------------------------------------------------------ segmentation */
static int32_t uf_find(int32_t *parent, int32_t x) {
    while (parent[x] != x) {
        parent[x] = parent[parent[x]]; /* path halving */
        x = parent[x];
    }
    return x;
}

/* Union by size (ties: b joins a); returns the new root. */
static int32_t uf_join(int32_t *parent, int32_t *size, int32_t a, int32_t b) {
    if (size[a] < size[b]) {
        int32_t t = a;
        a = b;
        b = t;
    }
    parent[b] = a;
    size[a] += size[b];
    return a;
}

/* FH on a prepared image.  scratch: parent, size [npix], thresh [npix]. */
static void fh_core(const ss_image *s, float k, int min_size, int32_t *parent, int32_t *size, float *thresh,
                    int32_t *labels, int *n_out) {
    int64_t np = s->npix;
    for (int64_t p = 0; p < np; p++) {
        parent[p] = (int32_t)p;
        size[p] = 1;
        thresh[p] = k; /* tau(C) = k / |C| with |C| = 1 */
    }
    for (int64_t i = 0; i < s->m; i++) {
        const edge *e = &s->edges[i];
        int32_t a = uf_find(parent, (int32_t)e->a), b = uf_find(parent, (int32_t)e->b);
        if (a != b && e->w <= thresh[a] && e->w <= thresh[b]) {
            int32_t r = uf_join(parent, size, a, b);
            thresh[r] = e->w + k / (float)size[r]; /* Int(C) is the heaviest MST edge: this one */
        }
    }
    for (int64_t i = 0; i < s->m; i++) { /* small components join a neighbour, lightest edge first */
        const edge *e = &s->edges[i];
        int32_t a = uf_find(parent, (int32_t)e->a), b = uf_find(parent, (int32_t)e->b);
        if (a != b && (size[a] < min_size || size[b] < min_size)) uf_join(parent, size, a, b);
    }
    int n = 0;
    for (int64_t p = 0; p < np; p++) thresh[p] = -1.0f; /* reused as the label map of roots */
    for (int64_t p = 0; p < np; p++) {
        int32_t r = uf_find(parent, (int32_t)p);
        if (thresh[r] < 0.0f) thresh[r] = (float)n++;
        labels[p] = (int32_t)thresh[r];
    }
    *n_out = n;
}

static dc_status check_image(const uint8_t *img, int h, int w, const char *who) {
    if (!img) return DC_ERR(DC_ERR_ARG, "%s: NULL image", who);
    if (h < 2 || w < 2 || h > 4096 || w > 4096)
        return DC_ERR(DC_ERR_ARG, "%s: image %dx%d, sides must be in 2..4096", who, w, h);
    return DC_OK;
}

dc_status dc_fh_segment(const uint8_t *img, int h, int w, float sigma, float k, int min_size, int32_t *labels,
                        int *n) {
    DC_TRY(check_image(img, h, w, "dc_fh_segment"));
    if (!labels || !n) return DC_ERR(DC_ERR_ARG, "dc_fh_segment: NULL output");
    if (!(k > 0.0f) || !isfinite(k) || min_size < 1 || !(sigma < 32.0f))
        return DC_ERR(DC_ERR_ARG, "dc_fh_segment: k %g must be > 0, min_size %d >= 1, sigma %g < 32", (double)k,
                      min_size, (double)sigma);
    ss_image s;
    DC_TRY(ss_image_prepare(img, h, w, sigma, 0, &s));
    int64_t np = s.npix;
    int32_t *parent = malloc((size_t)np * sizeof *parent), *size = malloc((size_t)np * sizeof *size);
    float *thresh = malloc((size_t)np * sizeof *thresh);
    dc_status st = parent && size && thresh ? DC_OK : DC_ERR(DC_ERR_NOMEM, "dc_fh_segment: buffers");
    if (st == DC_OK) fh_core(&s, k, min_size, parent, size, thresh, labels, n);
    free(parent), free(size), free(thresh);
    ss_image_free(&s);
    return st;
}

/* ------------------------------------------------------------------ hierarchical grouping */
typedef struct pair {
    int32_t a, b;
    float s;
} pair;

typedef struct grouper {
    const ss_image *im;
    unsigned sims;
    float *hist;          /* [R][HIST] L1-normalised colour (first 25) and texture (80) histograms */
    int64_t *size;
    int32_t (*bb)[4];     /* inclusive pixel bounds x0, y0, x1, y1 */
    uint8_t *alive;
    int32_t **nb;         /* neighbour lists (may hold dead regions; filtered on use) */
    int32_t *nb_n, *nb_cap;
    int32_t *stamp;
    pair *pairs;
    int64_t n_pairs, cap_pairs;
} grouper;

static float similarity(const grouper *g, int32_t i, int32_t j) {
    float s = 0.0f;
    const float *hi = g->hist + (int64_t)i * HIST, *hj = g->hist + (int64_t)j * HIST;
    if (g->sims & DC_SS_COLOUR) {
        float c = 0.0f;
        for (int k = 0; k < DC_SS_COLOUR_BINS; k++) c += hi[k] < hj[k] ? hi[k] : hj[k];
        s += c;
    }
    if (g->sims & DC_SS_TEXTURE) {
        float t = 0.0f;
        for (int k = DC_SS_COLOUR_BINS; k < HIST; k++) t += hi[k] < hj[k] ? hi[k] : hj[k];
        s += t;
    }
    double np = (double)g->im->npix, sz = (double)(g->size[i] + g->size[j]);
    if (g->sims & DC_SS_SIZE) s += (float)(1.0 - sz / np);
    if (g->sims & DC_SS_FILL) {
        int64_t x0 = g->bb[i][0] < g->bb[j][0] ? g->bb[i][0] : g->bb[j][0];
        int64_t y0 = g->bb[i][1] < g->bb[j][1] ? g->bb[i][1] : g->bb[j][1];
        int64_t x1 = g->bb[i][2] > g->bb[j][2] ? g->bb[i][2] : g->bb[j][2];
        int64_t y1 = g->bb[i][3] > g->bb[j][3] ? g->bb[i][3] : g->bb[j][3];
        double bbs = (double)((x1 - x0 + 1) * (y1 - y0 + 1));
        s += (float)(1.0 - (bbs - sz) / np);
    }
    return s;
}

static int push_nb(grouper *g, int32_t r, int32_t u) {
    if (g->nb_n[r] == g->nb_cap[r]) {
        int32_t nc = g->nb_cap[r] ? 2 * g->nb_cap[r] : 8;
        int32_t *p = realloc(g->nb[r], (size_t)nc * sizeof *p);
        if (!p) return 0;
        g->nb[r] = p;
        g->nb_cap[r] = nc;
    }
    g->nb[r][g->nb_n[r]++] = u;
    return 1;
}

static int push_pair(grouper *g, int32_t a, int32_t b) {
    if (g->n_pairs == g->cap_pairs) {
        int64_t nc = g->cap_pairs ? 2 * g->cap_pairs : 256;
        pair *p = realloc(g->pairs, (size_t)nc * sizeof *p);
        if (!p) return 0;
        g->pairs = p;
        g->cap_pairs = nc;
    }
    g->pairs[g->n_pairs++] = (pair){a, b, similarity(g, a, b)};
    return 1;
}

static int cmp_u64(const void *x, const void *y) {
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

static void grouper_free(grouper *g, int R) {
    if (g->nb)
        for (int i = 0; i < R; i++) free(g->nb[i]);
    free(g->nb), free(g->nb_n), free(g->nb_cap), free(g->stamp);
    free(g->hist), free(g->size), free(g->bb), free(g->alive), free(g->pairs);
}

static void region_box(const int32_t bb[4], float box[4]) {
    box[0] = (float)bb[0];
    box[1] = (float)bb[1];
    box[2] = (float)bb[2] + 1.0f;
    box[3] = (float)bb[3] + 1.0f;
}

static dc_status group_core(const ss_image *im, const int32_t *labels, int n, unsigned sims, dc_ss_region *out,
                            int *n_out) {
    int R = 2 * n - 1;
    grouper g;
    memset(&g, 0, sizeof g);
    g.im = im;
    g.sims = sims;
    g.hist = calloc((size_t)R * HIST, sizeof *g.hist);
    g.size = calloc((size_t)R, sizeof *g.size);
    g.bb = malloc((size_t)R * sizeof *g.bb);
    g.alive = calloc((size_t)R, 1);
    g.nb = calloc((size_t)R, sizeof *g.nb);
    g.nb_n = calloc((size_t)R, sizeof *g.nb_n);
    g.nb_cap = calloc((size_t)R, sizeof *g.nb_cap);
    g.stamp = malloc((size_t)R * sizeof *g.stamp);
    uint64_t *keys = NULL;
    dc_status st = DC_OK;
    if (!g.hist || !g.size || !g.bb || !g.alive || !g.nb || !g.nb_n || !g.nb_cap || !g.stamp) goto nomem;
    for (int i = 0; i < R; i++) {
        g.bb[i][0] = g.bb[i][1] = INT32_MAX;
        g.bb[i][2] = g.bb[i][3] = -1;
        g.stamp[i] = -1;
    }
    /* initial regions: sizes, boxes, histograms */
    for (int y = 0; y < im->h; y++)
        for (int x = 0; x < im->w; x++) {
            int64_t p = (int64_t)y * im->w + x;
            int32_t l = labels[p];
            if (l < 0 || l >= n) {
                st = DC_ERR(DC_ERR_ARG, "dc_ss_group: label %d at pixel (%d, %d) outside 0..%d", l, x, y, n - 1);
                goto done;
            }
            g.size[l]++;
            float *hl = g.hist + (int64_t)l * HIST;
            hl[im->cbin[p]] += 1.0f;
            for (int o = 0; o < DC_SS_ORIENTATIONS; o++) hl[im->tbin[p * DC_SS_ORIENTATIONS + o]] += 1.0f;
            if (x < g.bb[l][0]) g.bb[l][0] = x;
            if (y < g.bb[l][1]) g.bb[l][1] = y;
            if (x > g.bb[l][2]) g.bb[l][2] = x;
            if (y > g.bb[l][3]) g.bb[l][3] = y;
        }
    for (int i = 0; i < n; i++) {
        if (g.size[i] == 0) {
            st = DC_ERR(DC_ERR_ARG, "dc_ss_group: region %d of %d has no pixels (labels must be 0..n-1, all used)", i, n);
            goto done;
        }
        float *hi = g.hist + (int64_t)i * HIST;
        for (int k = 0; k < DC_SS_COLOUR_BINS; k++) hi[k] /= (float)g.size[i];
        for (int k = DC_SS_COLOUR_BINS; k < HIST; k++) hi[k] /= (float)(g.size[i] * DC_SS_ORIENTATIONS);
        g.alive[i] = 1;
        region_box(g.bb[i], out[i].box);
        out[i].size = g.size[i];
        out[i].a = out[i].b = -1;
    }
    /* neighbours: label pairs across the edges of the 8-connected grid, deduplicated */
    int64_t nk = 0;
    keys = malloc((size_t)(im->m > 0 ? im->m : 1) * sizeof *keys);
    if (!keys) goto nomem;
    for (int64_t i = 0; i < im->m; i++) {
        int32_t a = labels[im->edges[i].a], b = labels[im->edges[i].b];
        if (a == b) continue;
        if (a > b) {
            int32_t t = a;
            a = b;
            b = t;
        }
        keys[nk++] = (uint64_t)a * (uint64_t)n + (uint64_t)b;
    }
    qsort(keys, (size_t)nk, sizeof *keys, cmp_u64);
    for (int64_t i = 0; i < nk; i++) {
        if (i > 0 && keys[i] == keys[i - 1]) continue;
        int32_t a = (int32_t)(keys[i] / (uint64_t)n), b = (int32_t)(keys[i] % (uint64_t)n);
        if (!push_nb(&g, a, b) || !push_nb(&g, b, a) || !push_pair(&g, a, b)) goto nomem;
    }
    /* merge the most similar pair (ties: the earliest pair) until no pair is left */
    int cur = n;
    while (cur < R) {
        int64_t best = -1, dead = 0;
        for (int64_t i = 0; i < g.n_pairs; i++) {
            const pair *p = &g.pairs[i];
            if (!g.alive[p->a] || !g.alive[p->b]) {
                dead++;
                continue;
            }
            if (best < 0 || p->s > g.pairs[best].s) best = i;
        }
        if (best < 0) break; /* disconnected groups: nothing left to merge */
        int32_t a = g.pairs[best].a, b = g.pairs[best].b, t = cur++;
        g.size[t] = g.size[a] + g.size[b];
        float wa = (float)g.size[a] / (float)g.size[t], wb = (float)g.size[b] / (float)g.size[t];
        float *ht = g.hist + (int64_t)t * HIST;
        const float *ha = g.hist + (int64_t)a * HIST, *hb = g.hist + (int64_t)b * HIST;
        for (int k = 0; k < HIST; k++) ht[k] = wa * ha[k] + wb * hb[k];
        g.bb[t][0] = g.bb[a][0] < g.bb[b][0] ? g.bb[a][0] : g.bb[b][0];
        g.bb[t][1] = g.bb[a][1] < g.bb[b][1] ? g.bb[a][1] : g.bb[b][1];
        g.bb[t][2] = g.bb[a][2] > g.bb[b][2] ? g.bb[a][2] : g.bb[b][2];
        g.bb[t][3] = g.bb[a][3] > g.bb[b][3] ? g.bb[a][3] : g.bb[b][3];
        region_box(g.bb[t], out[t].box);
        out[t].size = g.size[t];
        out[t].a = a;
        out[t].b = b;
        g.alive[a] = g.alive[b] = 0;
        g.alive[t] = 1;
        for (int side = 0; side < 2; side++) {
            int32_t r = side ? b : a;
            for (int32_t q = 0; q < g.nb_n[r]; q++) {
                int32_t u = g.nb[r][q];
                if (!g.alive[u] || u == t || g.stamp[u] == t) continue;
                g.stamp[u] = t;
                if (!push_nb(&g, t, u) || !push_nb(&g, u, t) || !push_pair(&g, t, u)) goto nomem;
            }
        }
        free(g.nb[a]), free(g.nb[b]);
        g.nb[a] = g.nb[b] = NULL;
        g.nb_n[a] = g.nb_n[b] = g.nb_cap[a] = g.nb_cap[b] = 0;
        if (dead > g.n_pairs / 2) { /* drop dead pairs, keeping the order (ties stay deterministic) */
            int64_t k = 0;
            for (int64_t i = 0; i < g.n_pairs; i++)
                if (g.alive[g.pairs[i].a] && g.alive[g.pairs[i].b]) g.pairs[k++] = g.pairs[i];
            g.n_pairs = k;
        }
    }
    *n_out = cur;
    goto done;
nomem:
    st = DC_ERR(DC_ERR_NOMEM, "selective search grouping: %d regions", n);
done:
    free(keys);
    grouper_free(&g, R);
    return st;
}

dc_status dc_ss_group(const uint8_t *img, int h, int w, const int32_t *labels, int n, unsigned sims,
                      dc_ss_region *out, int *n_out) {
    DC_TRY(check_image(img, h, w, "dc_ss_group"));
    if (!labels || !out || !n_out) return DC_ERR(DC_ERR_ARG, "dc_ss_group: NULL argument");
    if (n < 1 || (int64_t)n > (int64_t)h * w) return DC_ERR(DC_ERR_ARG, "dc_ss_group: %d regions for %dx%d pixels", n, w, h);
    if (sims == 0 || sims > 15) return DC_ERR(DC_ERR_ARG, "dc_ss_group: similarity set %u (OR of DC_SS_*, not 0)", sims);
    ss_image s;
    DC_TRY(ss_image_prepare(img, h, w, 0.0f, 1, &s));
    dc_status st = group_core(&s, labels, n, sims, out, n_out);
    ss_image_free(&s);
    return st;
}

/* ------------------------------------------------------------------ selective search */
typedef struct cand {
    float value;     /* level x U(0, 1): lower is better */
    int64_t order;   /* insertion order, for ties        */
    uint64_t key;    /* the box as one integer            */
    float box[4];
} cand;

static int cmp_value(const void *x, const void *y) {
    const cand *a = x, *b = y;
    if (a->value != b->value) return a->value < b->value ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

static int cmp_order(const void *x, const void *y) {
    const cand *a = x, *b = y;
    return a->order < b->order ? -1 : a->order > b->order;
}

static int cmp_key(const void *x, const void *y) {
    const cand *a = x, *b = y;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

dc_status dc_selsearch(const uint8_t *img, int h, int w, const dc_selsearch_opts *o, float **boxes, int64_t *n_out) {
    DC_TRY(check_image(img, h, w, "dc_selsearch"));
    if (!o || !boxes || !n_out) return DC_ERR(DC_ERR_ARG, "dc_selsearch: NULL argument");
    *boxes = NULL;
    *n_out = 0;
    if ((unsigned)o->mode >= DC_SS_MODE_COUNT) return DC_ERR(DC_ERR_ARG, "dc_selsearch: mode %d unknown", (int)o->mode);
    if (!(o->sigma >= 0.0f && o->sigma < 32.0f) || !(o->min_size_scale >= 0.0f && o->min_size_scale <= 100.0f))
        return DC_ERR(DC_ERR_ARG, "dc_selsearch: sigma %g outside [0, 32) or min_size_scale %g outside [0, 100]",
                      (double)o->sigma, (double)o->min_size_scale);
    static const float K_FAST[] = {50, 100}, K_QUALITY[] = {50, 100, 150, 300}, K_SINGLE[] = {100};
    static const unsigned S_FAST[] = {15, 14}, S_QUALITY[] = {15, 14, DC_SS_FILL, DC_SS_SIZE}, S_SINGLE[] = {15};
    const float *ks = o->mode == DC_SS_FAST ? K_FAST : o->mode == DC_SS_QUALITY ? K_QUALITY : K_SINGLE;
    const unsigned *ss = o->mode == DC_SS_FAST ? S_FAST : o->mode == DC_SS_QUALITY ? S_QUALITY : S_SINGLE;
    int nk = o->mode == DC_SS_FAST ? 2 : o->mode == DC_SS_QUALITY ? 4 : 1;
    int ns = o->mode == DC_SS_FAST ? 2 : o->mode == DC_SS_QUALITY ? 4 : 1;

    ss_image im;
    DC_TRY(ss_image_prepare(img, h, w, o->sigma, 1, &im));
    int64_t np = im.npix;
    int32_t *labels = malloc((size_t)np * sizeof *labels), *parent = malloc((size_t)np * sizeof *parent);
    int32_t *size = malloc((size_t)np * sizeof *size);
    float *thresh = malloc((size_t)np * sizeof *thresh);
    dc_ss_region *reg = NULL;
    cand *c = NULL;
    int64_t nc = 0, cap = 0;
    dc_status st = labels && parent && size && thresh ? DC_OK : DC_ERR(DC_ERR_NOMEM, "dc_selsearch: buffers");
    dc_rng rng;
    dc_rng_seed(&rng, o->seed);
    /* The segmentation sees the smoothed image (its edges were built by ss_image_prepare); the
     * colour and texture histograms use the original pixels. */
    for (int ki = 0; st == DC_OK && ki < nk; ki++) {
        int n = 0, min_size = (int)lrintf(o->min_size_scale * ks[ki]);
        fh_core(&im, ks[ki], min_size < 1 ? 1 : min_size, parent, size, thresh, labels, &n);
        dc_ss_region *r2 = realloc(reg, (size_t)(2 * n - 1) * sizeof *reg);
        if (!r2) {
            st = DC_ERR(DC_ERR_NOMEM, "dc_selsearch: %d regions", n);
            break;
        }
        reg = r2;
        for (int si = 0; st == DC_OK && si < ns; si++) {
            int nr = 0;
            st = group_core(&im, labels, n, ss[si], reg, &nr);
            if (st != DC_OK) break;
            if (nc + nr > cap) {
                int64_t ncap = (nc + nr) * 2;
                cand *c2 = realloc(c, (size_t)ncap * sizeof *c);
                if (!c2) {
                    st = DC_ERR(DC_ERR_NOMEM, "dc_selsearch: %lld candidates", (long long)ncap);
                    break;
                }
                c = c2;
                cap = ncap;
            }
            for (int r = 0; r < nr; r++) {
                cand *e = &c[nc];
                e->value = (float)(nr - r) * dc_rng_uniform(&rng); /* level 1 = the last merge */
                e->order = nc++;
                memcpy(e->box, reg[r].box, sizeof e->box);
                e->key = (uint64_t)reg[r].box[0] | (uint64_t)reg[r].box[1] << 13 | (uint64_t)reg[r].box[2] << 26 |
                         (uint64_t)reg[r].box[3] << 39;
            }
        }
    }
    if (st == DC_OK && nc > 0) {
        /* rank, then mark duplicates (same box, worse rank) by sorting on (box, rank) */
        qsort(c, (size_t)nc, sizeof *c, cmp_value);
        for (int64_t i = 0; i < nc; i++) c[i].order = i; /* the rank */
        qsort(c, (size_t)nc, sizeof *c, cmp_key);
        for (int64_t i = 1; i < nc; i++)
            if (c[i].key == c[i - 1].key) c[i].value = -1.0f; /* a duplicate with a worse rank */
        int64_t m = 0;
        for (int64_t i = 0; i < nc; i++)
            if (c[i].value >= 0.0f) c[m++] = c[i];
        qsort(c, (size_t)m, sizeof *c, cmp_order); /* back to rank order */
        if (o->max_boxes > 0 && m > o->max_boxes) m = o->max_boxes;
        float *b = malloc((size_t)m * 4 * sizeof *b);
        if (!b) st = DC_ERR(DC_ERR_NOMEM, "dc_selsearch: %lld boxes", (long long)m);
        for (int64_t i = 0; st == DC_OK && i < m; i++) memcpy(b + i * 4, c[i].box, 4 * sizeof *b);
        if (st == DC_OK) {
            *boxes = b;
            *n_out = m;
        }
    }
    free(labels), free(parent), free(size), free(thresh), free(reg), free(c);
    ss_image_free(&im);
    return st;
}
