/* pool.c — pooling (max, average, global average) and local response normalisation kernels.
 *
 * What it does: the forward and backward math of those ops over ranges of [H, W] planes, written so
 * the compiler vectorises the hot loops (interior max-pool windows row by row, LRN sums in stack
 * chunks), with direct paths for the common 2x2/2 and 3x3 (stride 1 or 2) max pools and a
 * one-window reference (dc_maxpool2d_forward_ref) they are tested against.
 * What it deliberately does not do: threads (the graph glue splits planes), allocation, argument
 * validation (the graph's shape functions reject bad geometry before a kernel can run).
 */
#include "kernels/pool.h"

#include <math.h>

int64_t dc_pool_out_size(int64_t in, int k, int s, int p, int ceil_mode) {
    if (in < 1 || k < 1 || s < 1 || p < 0) return 0;
    int64_t span = in + 2 * (int64_t)p - k;
    if (span < 0) return 0;
    int64_t out = (span + (ceil_mode ? s - 1 : 0)) / s + 1;
    if (ceil_mode && (out - 1) * s >= in + p) out--; /* the last window must start inside */
    return out;
}

static inline int64_t imax64(int64_t a, int64_t b) { return a > b ? a : b; }
static inline int64_t imin64(int64_t a, int64_t b) { return a < b ? a : b; }

/* ---------------------------------------------------------------- max pooling */

/* One output (oh, ow) of a plane with bounds checks; first maximum wins, NaN propagates.
 * Branch-free selects: on real data the comparisons are unpredictable. */
static inline void max_one(const dc_pool2d_geom *g, const float *x, int64_t oh, int64_t ow, float *y,
                           int32_t *am) {
    int64_t h0 = oh * g->sh - g->ph, w0 = ow * g->sw - g->pw;
    int64_t h1 = imin64(h0 + g->kh, g->H), w1 = imin64(w0 + g->kw, g->W);
    h0 = imax64(h0, 0);
    w0 = imax64(w0, 0);
    float m = -INFINITY;
    int32_t best = (int32_t)(h0 * g->W + w0);
    for (int64_t h = h0; h < h1; h++)
        for (int64_t w = w0; w < w1; w++) {
            float v = x[h * g->W + w];
            int take = (v > m) | (v != v); /* no short circuit: no branch */
            m = take ? v : m;
            best = take ? (int32_t)(h * g->W + w) : best;
        }
    y[oh * g->OW + ow] = m;
    am[oh * g->OW + ow] = best;
}

/* The common 2x2 window, stride 2, no padding: full windows directly, the ceil-mode edge generic. */
static void maxpool_plane_2x2(const dc_pool2d_geom *g, const float *x, float *y, int32_t *am) {
    const int64_t W = g->W, OW = g->OW;
    const int64_t fh = imin64(g->H / 2, g->OH), fw = imin64(W / 2, OW);
    for (int64_t oh = 0; oh < fh; oh++) {
        const float *r0 = x + 2 * oh * W, *r1 = r0 + W;
        float *yr = y + oh * OW;
        int32_t *ar = am + oh * OW;
        int32_t base = (int32_t)(2 * oh * W);
        for (int64_t ow = 0; ow < fw; ow++) { /* vectorised: compare-and-blend across the row */
            int64_t c = 2 * ow;
            float m = r0[c], v;
            int32_t i = base + (int32_t)c;
            v = r0[c + 1];
            if (v > m || v != v) { m = v; i = base + (int32_t)c + 1; }
            v = r1[c];
            if (v > m || v != v) { m = v; i = base + (int32_t)(W + c); }
            v = r1[c + 1];
            if (v > m || v != v) { m = v; i = base + (int32_t)(W + c + 1); }
            yr[ow] = m;
            ar[ow] = i;
        }
        for (int64_t ow = fw; ow < OW; ow++) max_one(g, x, oh, ow, y, am);
    }
    for (int64_t oh = fh; oh < g->OH; oh++)
        for (int64_t ow = 0; ow < OW; ow++) max_one(g, x, oh, ow, y, am);
}

/* Any geometry: per output row, the columns whose window lies inside [0, W) are done a window
 * element at a time across the whole row (a vectorised compare-and-blend, row-major window order
 * so the first maximum wins); the edge columns (padding, ceil mode) through max_one. */
static void maxpool_plane(const dc_pool2d_geom *g, const float *x, float *y, int32_t *am) {
    const int64_t W = g->W, OW = g->OW;
    const int sw = g->sw, pw = g->pw, kw = g->kw;
    int64_t owa = (pw + sw - 1) / sw; /* first ow with ow*sw - pw >= 0 */
    int64_t owb = W + pw - kw >= 0 ? (W + pw - kw) / sw + 1 : 0; /* ow*sw - pw + kw <= W */
    owa = imin64(owa, OW);
    owb = imin64(owb, OW);
    if (owb < owa) owb = owa;
    for (int64_t oh = 0; oh < g->OH; oh++) {
        int64_t h0 = oh * g->sh - g->ph, h1 = imin64(h0 + g->kh, g->H);
        h0 = imax64(h0, 0);
        float *yr = y + oh * OW;
        int32_t *ar = am + oh * OW;
        for (int64_t ow = 0; ow < owa; ow++) max_one(g, x, oh, ow, y, am);
        for (int64_t ow = owb; ow < OW; ow++) max_one(g, x, oh, ow, y, am);
        if (owb == owa) continue;
        for (int64_t ow = owa; ow < owb; ow++) {
            yr[ow] = -INFINITY;
            ar[ow] = (int32_t)(h0 * W + ow * sw - pw);
        }
        for (int64_t h = h0; h < h1; h++) {
            const float *r = x + h * W;
            for (int dw = 0; dw < kw; dw++) {
                int32_t off = (int32_t)(h * W + dw - pw);
                if (sw == 1) { /* contiguous loads: the loop vectorises (GoogLeNet's 3x3/1 branch pools) */
                    const float *rs = r + dw - pw;
                    for (int64_t ow = owa; ow < owb; ow++) {
                        float v = rs[ow];
                        int take = v > yr[ow] || v != v;
                        yr[ow] = take ? v : yr[ow];
                        ar[ow] = take ? off + (int32_t)ow : ar[ow];
                    }
                    continue;
                }
                for (int64_t ow = owa; ow < owb; ow++) {
                    float v = r[ow * sw - pw + dw];
                    int take = v > yr[ow] || v != v;
                    yr[ow] = take ? v : yr[ow];
                    ar[ow] = take ? off + (int32_t)(ow * sw) : ar[ow];
                }
            }
        }
    }
}

/* The 3x3 window at stride 1 or 2 with padding 0 or 1 (GoogLeNet's pools: 3x3/1 in the Inception
 * branches, 3x3/2 between stages), through a copy of the plane with a -inf border in a stack buffer:
 * every window is then whole, and each output row is one loop over the columns with all nine taps
 * unrolled inside, so the running maximum and its index stay in registers (the generic path stores
 * them back after every tap).  -inf padding never wins the strict comparison, and the index starts
 * at the window's first real element, as in max_one: the same values and argmax as the reference,
 * ties and NaN included. */
#define MAX3_PLANE_FLOATS 16384 /* padded plane on the stack: 64 KiB (up to about 126x126) */
static int max3_ok(const dc_pool2d_geom *g) {
    const int64_t PH = (g->OH - 1) * g->sh + 3, PW = (g->OW - 1) * g->sw + 3;
    return g->kh == 3 && g->kw == 3 && g->sh == g->sw && (g->sh == 1 || g->sh == 2) && g->ph == g->pw &&
           g->ph <= 1 && PH * PW <= MAX3_PLANE_FLOATS;
}
static inline void maxpool_plane_3x3(const dc_pool2d_geom *g, const int S, const float *x, float *y, int32_t *am) {
    float pad[MAX3_PLANE_FLOATS];
    int32_t first_col[MAX3_PLANE_FLOATS / 3];
    const int64_t H = g->H, W = g->W, OH = g->OH, OW = g->OW, p = g->ph;
    const int64_t PH = (OH - 1) * S + 3, PW = (OW - 1) * S + 3; /* what the windows cover */
    const int64_t HC = imin64(H, PH - p), WC = imin64(W, PW - p); /* the rows and columns windows reach */
    if (p == 1 && PH == H + 2 && PW == W + 2) { /* exactly one cell of border: fill only that */
        for (int64_t w = 0; w < PW; w++) pad[w] = pad[(PH - 1) * PW + w] = -INFINITY;
        for (int64_t h = 1; h < PH - 1; h++) pad[h * PW] = pad[h * PW + PW - 1] = -INFINITY;
    } else {
        for (int64_t i = 0; i < PH * PW; i++) pad[i] = -INFINITY;
    }
    for (int64_t h = 0; h < HC; h++) {
        const float *xr = x + h * W;
        float *pr = pad + (h + p) * PW + p;
        for (int64_t w = 0; w < WC; w++) pr[w] = xr[w];
    }
    for (int64_t ow = 0; ow < OW; ow++) first_col[ow] = (int32_t)imax64(ow * S - p, 0);
    for (int64_t oh = 0; oh < OH; oh++) {
        const float *r0 = pad + oh * S * PW, *r1 = r0 + PW, *r2 = r1 + PW;
        const int32_t top = (int32_t)((oh * S - p) * W - p); /* index of tap (0, 0) at ow = 0 */
        const int32_t first_row = (int32_t)(imax64(oh * S - p, 0) * W), w1 = (int32_t)W, w2 = (int32_t)(2 * W);
        float *yr = y + oh * OW;
        int32_t *ar = am + oh * OW;
        for (int64_t ow = 0; ow < OW; ow++) {
            float m = -INFINITY, v;
            int32_t b = first_row + first_col[ow], t = top + (int32_t)(ow * S);
            int take;
#define DC_MAX3_TAP(row, dw, off)                      \
    v = row[ow * S + dw];                              \
    take = (v > m) | (v != v);                         \
    m = take ? v : m;                                  \
    b = take ? t + (off) + (dw) : b;
            DC_MAX3_TAP(r0, 0, 0) DC_MAX3_TAP(r0, 1, 0) DC_MAX3_TAP(r0, 2, 0)
            DC_MAX3_TAP(r1, 0, w1) DC_MAX3_TAP(r1, 1, w1) DC_MAX3_TAP(r1, 2, w1)
            DC_MAX3_TAP(r2, 0, w2) DC_MAX3_TAP(r2, 1, w2) DC_MAX3_TAP(r2, 2, w2)
#undef DC_MAX3_TAP
            yr[ow] = m;
            ar[ow] = b;
        }
    }
}
static void maxpool_plane_3x3s1(const dc_pool2d_geom *g, const float *x, float *y, int32_t *am) {
    maxpool_plane_3x3(g, 1, x, y, am);
}
static void maxpool_plane_3x3s2(const dc_pool2d_geom *g, const float *x, float *y, int32_t *am) {
    maxpool_plane_3x3(g, 2, x, y, am);
}

void dc_maxpool2d_forward(const dc_pool2d_geom *geo, int64_t planes, const float *x, float *y, int32_t *argmax) {
    const int64_t in = geo->H * geo->W, out = geo->OH * geo->OW;
    int fast = geo->kh == 2 && geo->kw == 2 && geo->sh == 2 && geo->sw == 2 && geo->ph == 0 && geo->pw == 0;
    int three = !fast && max3_ok(geo);
    for (int64_t p = 0; p < planes; p++) {
        if (fast) maxpool_plane_2x2(geo, x + p * in, y + p * out, argmax + p * out);
        else if (three && geo->sh == 1) maxpool_plane_3x3s1(geo, x + p * in, y + p * out, argmax + p * out);
        else if (three) maxpool_plane_3x3s2(geo, x + p * in, y + p * out, argmax + p * out);
        else maxpool_plane(geo, x + p * in, y + p * out, argmax + p * out);
    }
}

void dc_maxpool2d_forward_ref(const dc_pool2d_geom *geo, int64_t planes, const float *x, float *y, int32_t *argmax) {
    const int64_t in = geo->H * geo->W, out = geo->OH * geo->OW;
    for (int64_t p = 0; p < planes; p++)
        for (int64_t oh = 0; oh < geo->OH; oh++)
            for (int64_t ow = 0; ow < geo->OW; ow++) max_one(geo, x + p * in, oh, ow, y + p * out, argmax + p * out);
}

void dc_maxpool2d_backward(const dc_pool2d_geom *geo, int64_t planes, const int32_t *argmax, const float *dy,
                           float *dx) {
    const int64_t in = geo->H * geo->W, out = geo->OH * geo->OW;
    for (int64_t p = 0; p < planes; p++) {
        float *d = dx + p * in;
        const float *gy = dy + p * out;
        const int32_t *a = argmax + p * out;
        for (int64_t o = 0; o < out; o++) d[a[o]] += gy[o];
    }
}

/* ---------------------------------------------------------------- average pooling */

/* Window of output (oh, ow) clipped to the input, and its divisor. */
static inline float avg_window(const dc_pool2d_geom *g, int64_t oh, int64_t ow, int64_t *h0, int64_t *h1,
                               int64_t *w0, int64_t *w1) {
    int64_t hs = oh * g->sh - g->ph, ws = ow * g->sw - g->pw;
    int64_t he = imin64(hs + g->kh, g->H + g->ph), we = imin64(ws + g->kw, g->W + g->pw);
    int64_t area = (he - hs) * (we - ws); /* clipped to the padded input */
    *h0 = imax64(hs, 0);
    *w0 = imax64(ws, 0);
    *h1 = imin64(he, g->H);
    *w1 = imin64(we, g->W);
    return (float)(g->count_include_pad ? area : (*h1 - *h0) * (*w1 - *w0));
}

void dc_avgpool2d_forward(const dc_pool2d_geom *geo, int64_t planes, const float *x, float *y) {
    const int64_t in = geo->H * geo->W, out = geo->OH * geo->OW, W = geo->W;
    for (int64_t p = 0; p < planes; p++) {
        const float *xp = x + p * in;
        float *yp = y + p * out;
        for (int64_t oh = 0; oh < geo->OH; oh++)
            for (int64_t ow = 0; ow < geo->OW; ow++) {
                int64_t h0, h1, w0, w1;
                float d = avg_window(geo, oh, ow, &h0, &h1, &w0, &w1);
                float s = 0.0f;
                for (int64_t h = h0; h < h1; h++)
                    for (int64_t w = w0; w < w1; w++) s += xp[h * W + w];
                yp[oh * geo->OW + ow] = s / d;
            }
    }
}

void dc_avgpool2d_backward(const dc_pool2d_geom *geo, int64_t planes, const float *dy, float *dx) {
    const int64_t in = geo->H * geo->W, out = geo->OH * geo->OW, W = geo->W;
    for (int64_t p = 0; p < planes; p++) {
        float *dp = dx + p * in;
        const float *gp = dy + p * out;
        for (int64_t oh = 0; oh < geo->OH; oh++)
            for (int64_t ow = 0; ow < geo->OW; ow++) {
                int64_t h0, h1, w0, w1;
                float d = avg_window(geo, oh, ow, &h0, &h1, &w0, &w1);
                float v = gp[oh * geo->OW + ow] / d;
                for (int64_t h = h0; h < h1; h++)
                    for (int64_t w = w0; w < w1; w++) dp[h * W + w] += v;
            }
    }
}

/* ---------------------------------------------------------------- global average pooling */

void dc_global_avgpool_forward(int64_t planes, int64_t hw, const float *x, float *y) {
    for (int64_t p = 0; p < planes; p++) {
        const float *xp = x + p * hw;
        float s = 0.0f;
        for (int64_t i = 0; i < hw; i++) s += xp[i];
        y[p] = s / (float)hw;
    }
}

void dc_global_avgpool_backward(int64_t planes, int64_t hw, const float *dy, float *dx) {
    for (int64_t p = 0; p < planes; p++) {
        float v = dy[p] / (float)hw, *dp = dx + p * hw;
        for (int64_t i = 0; i < hw; i++) dp[i] += v;
    }
}

/* ---------------------------------------------------------------- local response normalisation */

#define LRN_CHUNK 256 /* spatial positions per stack chunk */

void dc_lrn_forward(int64_t C, int64_t S, int64_t c0, int64_t c1, int size, float alpha, float beta, float k,
                    const float *x, float *y, float *pw, float *inv) {
    const float a = alpha / (float)size;
    const int before = size / 2, after = (size - 1) / 2;
    /* s^-beta for the common exponents without powf: 0.75 (AlexNet), 0.5, 1. */
    const int mode = beta == 0.75f ? 1 : beta == 0.5f ? 2 : beta == 1.0f ? 3 : 0;
    float acc[LRN_CHUNK];
    for (int64_t c = c0; c < c1; c++) {
        int64_t j0 = imax64(0, c - before), j1 = imin64(C - 1, c + after);
        for (int64_t i0 = 0; i0 < S; i0 += LRN_CHUNK) {
            int64_t n = imin64(LRN_CHUNK, S - i0);
            for (int64_t i = 0; i < n; i++) acc[i] = 0.0f;
            for (int64_t j = j0; j <= j1; j++) {
                const float *xj = x + j * S + i0;
                for (int64_t i = 0; i < n; i++) acc[i] += xj[i] * xj[i];
            }
            const float *xc = x + c * S + i0;
            float *yc = y + c * S + i0, *pc = pw + c * S + i0, *ic = inv + c * S + i0;
            for (int64_t i = 0; i < n; i++) {
                float s = k + a * acc[i], r = 1.0f / s, p;
                if (mode == 1) { float q = sqrtf(r); p = q * sqrtf(q); }
                else if (mode == 2) p = sqrtf(r);
                else if (mode == 3) p = r;
                else p = powf(s, -beta);
                ic[i] = r;
                pc[i] = p;
                yc[i] = xc[i] * p;
            }
        }
    }
}

void dc_lrn_backward(int64_t C, int64_t S, int64_t j0, int64_t j1, int size, float alpha, float beta,
                     const float *x, const float *y, const float *pw, const float *inv, const float *dy,
                     float *dx, int accumulate) {
    const float coef = 2.0f * alpha * beta / (float)size;
    const int before = size / 2, after = (size - 1) / 2;
    float acc[LRN_CHUNK];
    for (int64_t j = j0; j < j1; j++) {
        /* channels c whose window [c - before, c + after] contains j */
        int64_t c0 = imax64(0, j - after), c1 = imin64(C - 1, j + before);
        for (int64_t i0 = 0; i0 < S; i0 += LRN_CHUNK) {
            int64_t n = imin64(LRN_CHUNK, S - i0);
            for (int64_t i = 0; i < n; i++) acc[i] = 0.0f;
            for (int64_t c = c0; c <= c1; c++) {
                const float *gc = dy + c * S + i0, *yc = y + c * S + i0, *ic = inv + c * S + i0;
                for (int64_t i = 0; i < n; i++) acc[i] += gc[i] * yc[i] * ic[i];
            }
            const float *xj = x + j * S + i0, *gj = dy + j * S + i0, *pj = pw + j * S + i0;
            float *dj = dx + j * S + i0;
            if (accumulate)
                for (int64_t i = 0; i < n; i++) dj[i] += gj[i] * pj[i] - coef * xj[i] * acc[i];
            else
                for (int64_t i = 0; i < n; i++) dj[i] = gj[i] * pj[i] - coef * xj[i] * acc[i];
        }
    }
}
