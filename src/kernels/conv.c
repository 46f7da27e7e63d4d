/* conv.c — convolution kernels over float arrays (see conv.h): im2col / col2im, the reorders
 * between the GEMM result [OC][N*P] and NCHW (bias add and bias gradient fused into them), and the
 * reference direct convolution.  The inner loops run along an output row (contiguous in col, unit
 * stride in x when the stride is 1) so the compiler vectorises them.
 * Implicit im2col (dc_conv_pack_col / _colT): the GEMM's B-panel packing gathers the column matrix
 * straight from x, 8 pixels (one ymm) at a time; see the comment above the packers.
 * Direct stride-1 kernels (dc_dconv_*): forward/dX as a 4x48 micro-kernel (AVX-512; two 4x24 calls
 * with AVX2) whose B rows are plain loads from zero-padded planes, dW as a pixel-axis dot-product
 * kernel; see conv.h.
 * Deliberately not here: the GEMM (kernels/gemm.c), threads (callers pass ranges of units and run
 * them on the pool), and any allocation. */
#include "kernels/conv.h"

#include "kernels/gemm.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DC_CONV_X86 1
#else
#define DC_CONV_X86 0
#endif

int64_t dc_conv_out_size(int64_t in, int k, int s, int p, int d) {
    int64_t num = in + 2 * (int64_t)p - (int64_t)d * (k - 1) - 1;
    return num < 0 || s < 1 ? 0 : num / s + 1;
}

/* [lo, hi): the output columns j whose input column j*s + off lies in [0, W); 0 <= lo <= hi <= OW. */
static void valid_cols(int64_t OW, int64_t W, int s, int64_t off, int64_t *lo, int64_t *hi) {
    int64_t l = off < 0 ? (-off + s - 1) / s : 0;
    int64_t h = W - 1 - off < 0 ? 0 : (W - 1 - off) / s + 1;
    if (h > OW) h = OW;
    if (l > OW) l = OW;
    if (h < l) h = l;
    *lo = l;
    *hi = h;
}

/* Short rows (LeNet's are 8..24 floats) are copied in blocks of 8 and 4 so each block is one or
 * two vector moves, without the set-up a loop of unknown length costs per row. */
static inline void copy_row(float *restrict d, const float *restrict s, int64_t n) {
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int k = 0; k < 8; k++) d[j + k] = s[j + k];
    for (; j + 4 <= n; j += 4)
        for (int k = 0; k < 4; k++) d[j + k] = s[j + k];
    for (; j < n; j++) d[j] = s[j];
}
static inline void add_row(float *restrict d, const float *restrict s, int64_t n) {
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int k = 0; k < 8; k++) d[j + k] += s[j + k];
    for (; j + 4 <= n; j += 4)
        for (int k = 0; k < 4; k++) d[j + k] += s[j + k];
    for (; j < n; j++) d[j] += s[j];
}
static inline void zero_row(float *d, int64_t n) {
    for (int64_t j = 0; j < n; j++) d[j] = 0.0f;
}

void dc_im2col(const dc_conv_geom *g, int64_t ld, int64_t u0, int64_t u1, const float *x, float *col) {
    const int64_t C = g->C, H = g->H, W = g->W, OH = g->OH, OW = g->OW, P = OH * OW;
    const int KH = g->kh, KW = g->kw, sh = g->sh, sw = g->sw;
    for (int64_t u = u0; u < u1; u++) {
        const int64_t n = u / C, c = u % C;
        const float *xc = x + u * H * W; /* image n, channel c */
        for (int a = 0; a < KH; a++) {
            const int64_t hoff = (int64_t)a * g->dh - g->ph;
            int64_t ilo, ihi; /* rows whose input row is inside */
            valid_cols(OH, H, sh, hoff, &ilo, &ihi);
            for (int b = 0; b < KW; b++) {
                const int64_t woff = (int64_t)b * g->dw - g->pw;
                int64_t lo, hi;
                valid_cols(OW, W, sw, woff, &lo, &hi);
                float *restrict d = col + ((c * KH + a) * KW + b) * ld + n * P;
                zero_row(d, ilo * OW);
                for (int64_t i = ilo; i < ihi; i++) {
                    float *restrict di = d + i * OW;
                    const float *restrict s = xc + (i * sh + hoff) * W;
                    zero_row(di, lo);
                    if (sw == 1) copy_row(di + lo, s + lo + woff, hi - lo);
                    else
                        for (int64_t j = lo; j < hi; j++) di[j] = s[j * sw + woff];
                    zero_row(di + hi, OW - hi);
                }
                zero_row(d + ihi * OW, (OH - ihi) * OW);
            }
        }
    }
}

void dc_col2im(const dc_conv_geom *g, int64_t ld, int64_t u0, int64_t u1, const float *col, float *dx) {
    const int64_t C = g->C, H = g->H, W = g->W, OH = g->OH, OW = g->OW, P = OH * OW;
    const int KH = g->kh, KW = g->kw, sh = g->sh, sw = g->sw;
    /* Taps outermost, units inside.  Why: with the units outermost, the row-adds of taps b and b+1
     * hit the same dx row at addresses one element apart only OH row-adds later, while the first
     * store may still sit in the store buffer: the load cannot be forwarded from a misaligned,
     * partly overlapping store and waits for it (most of col2im's time on LeNet's 8-wide rows).
     * Each dx element still gets its terms in (a, b, i, j) order: units are disjoint. */
    for (int a = 0; a < KH; a++) {
        const int64_t hoff = (int64_t)a * g->dh - g->ph;
        int64_t ilo, ihi;
        valid_cols(OH, H, sh, hoff, &ilo, &ihi);
        for (int b = 0; b < KW; b++) {
            const int64_t woff = (int64_t)b * g->dw - g->pw;
            int64_t lo, hi;
            valid_cols(OW, W, sw, woff, &lo, &hi);
            for (int64_t u = u0; u < u1; u++) {
                const int64_t n = u / C, c = u % C;
                float *xc = dx + u * H * W;
                const float *restrict d = col + ((c * KH + a) * KW + b) * ld + n * P;
                for (int64_t i = ilo; i < ihi; i++) {
                    const float *restrict di = d + i * OW;
                    float *restrict s = xc + (i * sh + hoff) * W;
                    if (sw == 1) add_row(s + lo + woff, di + lo, hi - lo);
                    else
                        for (int64_t j = lo; j < hi; j++) s[j * sw + woff] += di[j];
                }
            }
        }
    }
}

/* max(0, v) as the ReLU op computes it (NaN -> 0, -0 -> +0), so a fused ReLU gives its bits */
static inline float relu1(float v) { return v > 0.0f ? v : 0.0f; }

void dc_conv_res_to_nchw(int64_t OC, int64_t P, int64_t ld, int64_t n0, int64_t n1, const float *res,
                         const float *b, int relu, float *y) {
    for (int64_t n = n0; n < n1; n++)
        for (int64_t o = 0; o < OC; o++) {
            const float *restrict r = res + o * ld + n * P;
            float *restrict yo = y + (n * OC + o) * P;
            const float bv = b ? b[o] : 0.0f;
            if (relu)
                for (int64_t p = 0; p < P; p++) yo[p] = relu1(r[p] + bv);
            else if (b)
                for (int64_t p = 0; p < P; p++) yo[p] = r[p] + bv;
            else
                memcpy(yo, r, (size_t)P * sizeof(float));
        }
}

void dc_conv_bias_grad(int64_t N, int64_t OC, int64_t P, int64_t o0, int64_t o1, const float *dy, float *db) {
    for (int64_t o = o0; o < o1; o++) {
        double sum = 0.0;
        for (int64_t n = 0; n < N; n++) {
            const float *d = dy + (n * OC + o) * P;
            /* the order of dc_conv_nchw_to_res: eight lanes, then the lanes in order */
            float acc[8] = {0};
            int64_t p = 0;
            for (; p + 8 <= P; p += 8)
                for (int k = 0; k < 8; k++) acc[k] += d[p + k];
            for (int k = 0; p < P; p++, k++) acc[k] += d[p];
            sum += (double)(((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])));
        }
        db[o] += (float)sum;
    }
}

void dc_conv_nchw_to_res(int64_t N, int64_t OC, int64_t P, int64_t ld, int64_t o0, int64_t o1, const float *dy,
                         float *dres, float *db) {
    for (int64_t o = o0; o < o1; o++) {
        double sum = 0.0;
        for (int64_t n = 0; n < N; n++) {
            const float *restrict d = dy + (n * OC + o) * P;
            float *restrict r = dres + o * ld + n * P;
            if (!db) {
                memcpy(r, d, (size_t)P * sizeof(float));
                continue;
            }
            /* eight lanes (one AVX register), then the lanes in order: fixed order, vectorisable */
            float acc[8] = {0};
            int64_t p = 0;
            for (; p + 8 <= P; p += 8)
                for (int k = 0; k < 8; k++) {
                    r[p + k] = d[p + k];
                    acc[k] += d[p + k];
                }
            for (int k = 0; p < P; p++, k++) {
                r[p] = d[p];
                acc[k] += d[p];
            }
            sum += (double)(((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])));
        }
        if (db) db[o] += (float)sum;
    }
}

/* ------------------------------------------------------------------ implicit im2col */
/* The column matrix of group grp is col_g[k][q] = x[n][c][i*sh + hoff][j*sw + woff] (0 outside) with
 *   k = (c'*KH + a)*KW + b,  c = grp*Cg + c',  hoff = a*dh - ph,  woff = b*dw - pw,
 *   q = n*P + i*OW + j.
 * Split the x offset into a part that depends on the pixel only and one that depends on the tap only:
 *   anchor(q) = (n*C*H + i*sh)*W + j*sw,   delta(k) = (c*H + hoff)*W + woff,
 *   col_g[k][q] = x[anchor(q) + delta(k)]  when 0 <= i*sh + hoff < H and 0 <= j*sw + woff < W.
 * Why: a packer then walks taps and pixels with additions only (no division per element), and for
 * 8 consecutive pixels of one output row at stride 1 the 8 values are x[anchor + delta .. +8): one
 * unaligned vector load.  Other blocks (row ends, padding, stride > 1) use a masked gather. */

/* One tap (row k of col_g), stepped in k order without divisions. */
typedef struct ktap {
    int64_t c, a, b;    /* absolute input channel, kernel row, kernel column */
    int64_t hoff, woff; /* a*dh - ph, b*dw - pw */
    int64_t delta;      /* (c*H + hoff)*W + woff */
} ktap;

static inline void ktap_fix(ktap *t, const dc_conv_geom *g) {
    t->hoff = t->a * g->dh - g->ph;
    t->woff = t->b * g->dw - g->pw;
    t->delta = (t->c * g->H + t->hoff) * g->W + t->woff;
}

static void ktap_set(ktap *t, const dc_conv_geom *g, int grp, int64_t k) {
    const int64_t khw = (int64_t)g->kh * g->kw;
    t->c = grp * (g->C / g->groups) + k / khw;
    t->a = k % khw / g->kw;
    t->b = k % g->kw;
    ktap_fix(t, g);
}

static inline void ktap_next(ktap *t, const dc_conv_geom *g) {
    if (++t->b < g->kw) { /* the common step: one kernel column to the right */
        t->woff += g->dw;
        t->delta += g->dw;
        return;
    }
    t->b = 0;
    if (++t->a == g->kh) {
        t->a = 0;
        t->c++;
    }
    ktap_fix(t, g);
}

/* One pixel (column q of col_g), stepped in q order without divisions. */
typedef struct pcur {
    int64_t n, i, j;
} pcur;

static void pcur_set(pcur *p, const dc_conv_geom *g, int64_t q) {
    const int64_t P = g->OH * g->OW;
    p->n = q / P;
    p->i = q % P / g->OW;
    p->j = q % g->OW;
}

static inline void pcur_next(pcur *p, const dc_conv_geom *g) {
    if (++p->j < g->OW) return;
    p->j = 0;
    if (++p->i == g->OH) {
        p->i = 0;
        p->n++;
    }
}

/* col_g[k][q] for the pixel at p and the tap t, 0 in the padding. */
static inline float tap_val(const dc_conv_geom *g, const float *x, const pcur *p, const ktap *t) {
    const int64_t h = p->i * g->sh + t->hoff, w = p->j * g->sw + t->woff;
    if (h < 0 || h >= g->H || w < 0 || w >= g->W) return 0.0f;
    return x[(p->n * g->C * g->H + p->i * g->sh) * g->W + p->j * g->sw + t->delta];
}

/* Portable packers: one element at a time, by the formula above. */
static void pack_col_scalar(const dc_conv_pack *pk, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float *dst) {
    const dc_conv_geom *g = pk->g;
    for (int64_t jr = 0; jr < nc; jr += DC_GEMM_NR) {
        float *d = dst + jr * kc;
        const int64_t nr = nc - jr < DC_GEMM_NR ? nc - jr : DC_GEMM_NR;
        pcur p;
        pcur_set(&p, g, pk->q0 + j0 + jr);
        for (int64_t jj = 0; jj < DC_GEMM_NR; jj++) {
            ktap t;
            ktap_set(&t, g, pk->grp, k0);
            for (int64_t k = 0; k < kc; k++, ktap_next(&t, g)) d[k * DC_GEMM_NR + jj] = jj < nr ? tap_val(g, pk->x, &p, &t) : 0.0f;
            if (jj < nr) pcur_next(&p, g);
        }
    }
}

static void pack_colT_scalar(const dc_conv_pack *pk, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float *dst) {
    const dc_conv_geom *g = pk->g;
    for (int64_t jr = 0; jr < nc; jr += DC_GEMM_NR) {
        float *d = dst + jr * kc;
        const int64_t nr = nc - jr < DC_GEMM_NR ? nc - jr : DC_GEMM_NR;
        ktap t;
        ktap_set(&t, g, pk->grp, j0 + jr);
        for (int64_t jj = 0; jj < DC_GEMM_NR; jj++) {
            pcur p;
            pcur_set(&p, g, pk->q0 + k0);
            for (int64_t k = 0; k < kc; k++, pcur_next(&p, g)) d[k * DC_GEMM_NR + jj] = jj < nr ? tap_val(g, pk->x, &p, &t) : 0.0f;
            if (jj < nr) ktap_next(&t, g);
        }
    }
}

#if DC_CONV_X86
#define DC_AVX2 __attribute__((target("avx2,fma")))

/* 8 consecutive pixels (up to 8: `lanes`), ready to be combined with any tap. */
typedef struct pix8 {
    int lanes;
    int row;                  /* 8 pixels of one output row at stride 1: x[anchor + delta ..+8) */
    int row2;                 /* 8 pixels of one output row at stride 2: the even floats of x[anchor + delta ..+16) */
    int interior;             /* row, and every tap of the kernel lands inside the image for all 8 */
    int64_t anchor, ih, iw;   /* lane 0: anchor, i*sh, j*sw */
    __m256i vanchor, vih, viw; /* per lane; absent lanes have vih = -2^30, never inside the image */
    /* Runs: the lanes' anchors are a0 + l for lanes l < L and a1 + l for lanes L..lanes-1 (nrun 1
     * or 2; 0 when the anchors are not two consecutive runs, e.g. stride 2 or rows shorter than 8).
     * Then a tap is one or two masked loads instead of a gather, see load8.  vlo: lanes < L. */
    int nrun;
    int64_t a0, a1;
    __m256i vlo;
} pix8;

/* Find the runs of the lane anchors an[0..lanes) (see pix8). */
DC_AVX2 static inline void pix8_runs(pix8 *o, const int32_t *an, int lanes) {
    int L = 1;
    while (L < lanes && an[L] == an[0] + L) L++;
    int e = L + 1;
    while (e < lanes && an[e] == an[L] + (e - L)) e++;
    o->nrun = L == lanes ? 1 : e >= lanes ? 2 : 0;
    o->a0 = an[0];
    o->a1 = L < lanes ? (int64_t)an[L] - L : 0;
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    o->vlo = _mm256_cmpgt_epi32(_mm256_set1_epi32(L), iota);
}

/* Set up the block starting at p and move p past it. */
DC_AVX2 static inline void pix8_set(pix8 *o, const dc_conv_geom *g, pcur *p, int lanes) {
    o->lanes = lanes;
    o->row = lanes == 8 && g->sw == 1 && p->j + 8 <= g->OW;
    o->row2 = lanes == 8 && g->sw == 2 && p->j + 8 <= g->OW;
    o->anchor = (p->n * g->C * g->H + p->i * g->sh) * g->W + p->j * g->sw;
    o->ih = p->i * g->sh;
    o->iw = p->j * g->sw;
    /* interior: the extreme taps (hoff -ph and (KH-1)dh - ph, woff likewise) are inside for
     * lanes 0 and 7, so every tap is; then a tap's 8 values are one plain load, no checks */
    o->interior = o->row && o->ih - g->ph >= 0 && o->ih + (int64_t)(g->kh - 1) * g->dh - g->ph < g->H &&
                  o->iw - g->pw >= 0 && o->iw + 7 + (int64_t)(g->kw - 1) * g->dw - g->pw < g->W;
    if (o->row || o->row2) {
        const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), step = o->row2 ? _mm256_add_epi32(iota, iota) : iota;
        o->vanchor = _mm256_add_epi32(_mm256_set1_epi32((int32_t)o->anchor), step);
        o->vih = _mm256_set1_epi32((int32_t)o->ih);
        o->viw = _mm256_add_epi32(_mm256_set1_epi32((int32_t)o->iw), step);
        o->nrun = o->row; /* stride 2: no runs, the gather where the two loads below cannot serve */
        o->a0 = o->anchor;
        o->a1 = 0;
        o->vlo = _mm256_set1_epi32(-1);
        p->j += 8;
        if (p->j == g->OW) {
            p->j = 0;
            if (++p->i == g->OH) {
                p->i = 0;
                p->n++;
            }
        }
        return;
    }
    int32_t an[8], hh[8], ww[8];
    for (int l = 0; l < 8; l++) {
        if (l < lanes) {
            an[l] = (int32_t)((p->n * g->C * g->H + p->i * g->sh) * g->W + p->j * g->sw);
            hh[l] = (int32_t)(p->i * g->sh);
            ww[l] = (int32_t)(p->j * g->sw);
            pcur_next(p, g);
        } else {
            an[l] = 0;
            hh[l] = -(1 << 30);
            ww[l] = 0;
        }
    }
    pix8_runs(o, an, lanes);
    o->vanchor = _mm256_loadu_si256((const __m256i *)an);
    o->vih = _mm256_loadu_si256((const __m256i *)hh);
    o->viw = _mm256_loadu_si256((const __m256i *)ww);
}

/* col_g[k][q .. q+8) for the block's pixels and tap t, 0 in the padding and for absent lanes. */
DC_AVX2 static inline __m256 load8(const pix8 *p, const ktap *t, const float *x, const dc_conv_geom *g) {
    if (p->row) {
        const int64_t h = p->ih + t->hoff, w = p->iw + t->woff;
        if (h < 0 || h >= g->H) return _mm256_setzero_ps(); /* the whole block reads a padding row */
        if (w >= 0 && w + 8 <= g->W) return _mm256_loadu_ps(x + p->anchor + t->delta);
    }
    if (p->row2) { /* stride 2: two loads and their even floats instead of an 8-lane gather */
        const int64_t h = p->ih + t->hoff, w = p->iw + t->woff;
        if (h < 0 || h >= g->H) return _mm256_setzero_ps();
        if (w >= 0 && w + 16 <= g->W) {
            const float *s = x + p->anchor + t->delta;
            /* [s0 s2 s8 s10 | s4 s6 s12 s14], then its 64-bit pairs in the order 0, 2, 1, 3 */
            const __m256 e = _mm256_shuffle_ps(_mm256_loadu_ps(s), _mm256_loadu_ps(s + 8), 0x88);
            return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8));
        }
    }
    /* lane valid <=> -1 < h < H and -1 < w < W; the gather reads only valid lanes (the others may
     * index outside x) and leaves 0 in the rest */
    const __m256i h = _mm256_add_epi32(p->vih, _mm256_set1_epi32((int32_t)t->hoff));
    const __m256i w = _mm256_add_epi32(p->viw, _mm256_set1_epi32((int32_t)t->woff));
    const __m256i m1 = _mm256_set1_epi32(-1);
    const __m256i mh = _mm256_and_si256(_mm256_cmpgt_epi32(h, m1), _mm256_cmpgt_epi32(_mm256_set1_epi32((int32_t)g->H), h));
    const __m256i mw = _mm256_and_si256(_mm256_cmpgt_epi32(w, m1), _mm256_cmpgt_epi32(_mm256_set1_epi32((int32_t)g->W), w));
    const __m256i m = _mm256_and_si256(mh, mw);
    /* Why masked loads: lane l reads x[anchor_l + delta], and when the anchors are one or two
     * consecutive runs (stride 1, rows of 8 or more: a block at the padding edge or one that wraps
     * to the next row) that is one or two contiguous 8-float windows; a masked load reads only the
     * valid lanes (no fault, no read, on the others) at about the cost of a plain load, where the
     * gather costs one load per lane.  Same values as the gather, so the same bits. */
    if (p->nrun) {
        /* address arithmetic in integers: a window may start before x (its lanes there are masked) */
        const float *w0 = (const float *)((uintptr_t)x + (uintptr_t)((p->a0 + t->delta) * (int64_t)sizeof(float)));
        __m256 v = _mm256_maskload_ps(w0, _mm256_and_si256(m, p->vlo));
        if (p->nrun == 2) {
            const float *w1 = (const float *)((uintptr_t)x + (uintptr_t)((p->a1 + t->delta) * (int64_t)sizeof(float)));
            v = _mm256_or_ps(v, _mm256_maskload_ps(w1, _mm256_andnot_si256(p->vlo, m)));
        }
        return v;
    }
    const __m256i idx = _mm256_add_epi32(p->vanchor, _mm256_set1_epi32((int32_t)t->delta));
    return _mm256_mask_i32gather_ps(_mm256_setzero_ps(), x, idx, _mm256_castsi256_ps(m), 4);
}

#define TAB 256 /* taps per delta table; the GEMM's depth blocks are at most 256 (KC) */

/* delta of the taps k0 .. k0+n into dl. */
static void delta_table(const dc_conv_geom *g, int grp, int64_t k0, int64_t n, int64_t *dl) {
    ktap t;
    ktap_set(&t, g, grp, k0);
    for (int64_t k = 0; k < n; k++, ktap_next(&t, g)) dl[k] = t.delta;
}

/* Forward: panel = 16 pixels (two pix8 blocks) × kc taps; each tap gives the panel row k directly.
 * Interior panels (the bulk) run from a table of the taps' deltas: two loads and two stores per tap. */
DC_AVX2 static void pack_col_avx2(const dc_conv_pack *pk, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float *dst) {
    const dc_conv_geom *g = pk->g;
    const float *x = pk->x;
    int64_t dl[TAB];
    const int table = kc <= TAB;
    if (table) delta_table(g, pk->grp, k0, kc, dl);
    ktap t0;
    ktap_set(&t0, g, pk->grp, k0);
    pcur cur;
    pcur_set(&cur, g, pk->q0 + j0);
    for (int64_t jr = 0; jr < nc; jr += DC_GEMM_NR) {
        float *d = dst + jr * kc;
        const int64_t left = nc - jr;
        pix8 p0, p1;
        pix8_set(&p0, g, &cur, left >= 8 ? 8 : (int)left);
        pix8_set(&p1, g, &cur, left >= 16 ? 8 : left > 8 ? (int)(left - 8) : 0);
        if (table && p0.interior && p1.interior) {
            const float *x0 = x + p0.anchor, *x1 = x + p1.anchor;
            for (int64_t k = 0; k < kc; k++, d += DC_GEMM_NR) {
                _mm256_store_ps(d, _mm256_loadu_ps(x0 + dl[k]));
                _mm256_store_ps(d + 8, _mm256_loadu_ps(x1 + dl[k]));
            }
            continue;
        }
        ktap t = t0;
        if (p1.lanes == 0) {
            for (int64_t k = 0; k < kc; k++, d += DC_GEMM_NR, ktap_next(&t, g)) {
                _mm256_store_ps(d, load8(&p0, &t, x, g));
                _mm256_store_ps(d + 8, _mm256_setzero_ps());
            }
        } else {
            for (int64_t k = 0; k < kc; k++, d += DC_GEMM_NR, ktap_next(&t, g)) {
                _mm256_store_ps(d, load8(&p0, &t, x, g));
                _mm256_store_ps(d + 8, load8(&p1, &t, x, g));
            }
        }
    }
}

/* 8×8 transpose of v[0..7] in place. */
DC_AVX2 static inline void transpose8(__m256 v[8]) {
    __m256 t0 = _mm256_unpacklo_ps(v[0], v[1]), t1 = _mm256_unpackhi_ps(v[0], v[1]);
    __m256 t2 = _mm256_unpacklo_ps(v[2], v[3]), t3 = _mm256_unpackhi_ps(v[2], v[3]);
    __m256 t4 = _mm256_unpacklo_ps(v[4], v[5]), t5 = _mm256_unpackhi_ps(v[4], v[5]);
    __m256 t6 = _mm256_unpacklo_ps(v[6], v[7]), t7 = _mm256_unpackhi_ps(v[6], v[7]);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    v[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    v[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    v[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    v[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    v[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    v[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    v[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    v[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

/* dW: panel = kc pixels × 16 taps.  8 taps of one 8-pixel block give an 8×8 tile [tap][pixel];
 * transposed, its rows are 8 panel rows (one per pixel), half a panel wide. */
DC_AVX2 static void pack_colT_avx2(const dc_conv_pack *pk, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float *dst) {
    const dc_conv_geom *g = pk->g;
    for (int64_t jr = 0; jr < nc; jr += DC_GEMM_NR) {
        float *d = dst + jr * kc;
        const int nr = (int)(nc - jr < DC_GEMM_NR ? nc - jr : DC_GEMM_NR);
        ktap th[2];
        ktap_set(&th[0], g, pk->grp, j0 + jr);
        th[1] = th[0];
        for (int e = 0; e < 8 && e < nr; e++) ktap_next(&th[1], g);
        int64_t dl[DC_GEMM_NR];
        delta_table(g, pk->grp, j0 + jr, nr, dl);
        pcur cur;
        pcur_set(&cur, g, pk->q0 + k0);
        for (int64_t t = 0; t < kc; t += 8) {
            const int lanes = kc - t < 8 ? (int)(kc - t) : 8;
            pix8 p;
            pix8_set(&p, g, &cur, lanes);
            for (int h = 0; h < 2; h++) {
                const int rows = nr - 8 * h < 0 ? 0 : nr - 8 * h > 8 ? 8 : nr - 8 * h;
                float *dh = d + t * DC_GEMM_NR + 8 * h;
                __m256 v[8];
                if (rows == 0) {
                    for (int e = 0; e < lanes; e++) _mm256_store_ps(dh + e * DC_GEMM_NR, _mm256_setzero_ps());
                    continue;
                }
                if (p.interior) {
                    const float *xa = pk->x + p.anchor;
                    for (int e = 0; e < 8; e++) v[e] = e < rows ? _mm256_loadu_ps(xa + dl[8 * h + e]) : _mm256_setzero_ps();
                } else {
                    ktap tp = th[h];
                    for (int e = 0; e < 8; e++) {
                        v[e] = e < rows ? load8(&p, &tp, pk->x, g) : _mm256_setzero_ps();
                        if (e + 1 < rows) ktap_next(&tp, g);
                    }
                }
                transpose8(v);
                for (int e = 0; e < lanes; e++) _mm256_store_ps(dh + e * DC_GEMM_NR, v[e]);
            }
        }
    }
}

static int pack_avx2_ok(const dc_conv_pack *pk) {
    if (pk->scalar) return 0;
    const dc_conv_geom *g = pk->g;
    /* gathers index x with int32: the whole input must stay below 2^31 elements */
    if (pk->N * g->C * g->H * g->W >= (int64_t)INT32_MAX - 16) return 0;
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif /* DC_CONV_X86 */

void dc_conv_pack_col(const void *ctx, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float *dst) {
    const dc_conv_pack *pk = ctx;
#if DC_CONV_X86
    if (pack_avx2_ok(pk)) {
        pack_col_avx2(pk, k0, kc, j0, nc, dst);
        return;
    }
#endif
    pack_col_scalar(pk, k0, kc, j0, nc, dst);
}

void dc_conv_pack_colT(const void *ctx, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float *dst) {
    const dc_conv_pack *pk = ctx;
#if DC_CONV_X86
    if (pack_avx2_ok(pk)) {
        pack_colT_avx2(pk, k0, kc, j0, nc, dst);
        return;
    }
#endif
    pack_colT_scalar(pk, k0, kc, j0, nc, dst);
}


/* ------------------------------------------------------------------ direct stride-1 convolution */
#define DCONV_NB 48  /* pixels per block: 3 zmm, or two AVX2 calls of 3 ymm        */
#define DCONV_NB2 24 /* pixels per AVX2 micro-kernel call                          */
_Static_assert(DCONV_NB == DC_DCONV_NB, "conv.h's DC_DCONV_NB is the block length");
#define DCONV_MB 4   /* output channels per micro-kernel call                      */
#define DCONV_TAPS 64 /* KH*KW at most (the tap offsets live in a local table)     */

/* Whether the AVX-512 variants run: decided once (the processor has AVX-512F and DC_SIMD is not
 * "avx2"), then switchable by dc_dconv_set_avx512.  The block length and every workspace size are
 * the same for both variants, so switching between two calls is safe. */
#if DC_CONV_X86
/* -1: not decided yet.  Atomic: the first call may come from several pool threads at once. */
static _Atomic int dconv_avx512 = -1;
#endif

int dc_dconv_avx512(void) {
#if DC_CONV_X86
    int v = atomic_load_explicit(&dconv_avx512, memory_order_relaxed);
    if (v < 0) {
        const char *env = getenv("DC_SIMD");
        __builtin_cpu_init();
        v = __builtin_cpu_supports("avx512f") && !(env && strcmp(env, "avx2") == 0);
        int expected = -1; /* a switch made meanwhile by dc_dconv_set_avx512 wins */
        if (!atomic_compare_exchange_strong(&dconv_avx512, &expected, v)) v = expected;
    }
    return v;
#else
    return 0;
#endif
}

int dc_dconv_set_avx512(int on) {
    const int old = dc_dconv_avx512();
#if DC_CONV_X86
    atomic_store(&dconv_avx512, on && __builtin_cpu_supports("avx512f"));
#else
    (void)on;
#endif
    return old;
}

int64_t dc_dconv_blocks(const dc_conv_geom *g) {
    const int64_t Wp = g->W + 2 * (int64_t)g->pw;
    return (g->OH * Wp + DCONV_NB - 1) / DCONV_NB;
}

int64_t dc_dconv_plane(const dc_conv_geom *g) {
    const int64_t Wp = g->W + 2 * (int64_t)g->pw, Hp = g->H + 2 * (int64_t)g->ph;
    /* the last block reads up to blocks*NB - 1 + the largest tap offset */
    const int64_t need = dc_dconv_blocks(g) * DCONV_NB + (int64_t)(g->kh - 1) * g->dh * Wp + (int64_t)(g->kw - 1) * g->dw;
    const int64_t sp = need > Hp * Wp ? need : Hp * Wp;
    return (sp + 7) / 8 * 8;
}

int64_t dc_dconv_wt_size(const dc_conv_geom *g) {
    return g->C * g->kh * g->kw * ((g->OC + DCONV_MB - 1) / DCONV_MB * DCONV_MB);
}

void dc_dconv_pad(const dc_conv_geom *g, int64_t u0, int64_t u1, const float *x, float *xp) {
    const int64_t H = g->H, W = g->W, Wp = W + 2 * (int64_t)g->pw, Sp = dc_dconv_plane(g);
    for (int64_t u = u0; u < u1; u++) {
        float *d = xp + u * Sp;
        const float *s = x + u * H * W;
        zero_row(d, g->ph * Wp + g->pw);
        d += g->ph * Wp + g->pw;
        for (int64_t h = 0; h < H; h++, d += Wp, s += W) {
            copy_row(d, s, W);
            if (h + 1 < H) zero_row(d + W, 2 * (int64_t)g->pw);
        }
        d -= Wp - W; /* just past the last row's data */
        zero_row(d, xp + u * Sp + Sp - d); /* bottom padding rows and the read slack */
    }
}

void dc_dconv_weights(const dc_conv_geom *g, const float *w, int flip, float *wt) {
    const int64_t T = (int64_t)g->kh * g->kw, OC4 = (g->OC + DCONV_MB - 1) / DCONV_MB * DCONV_MB;
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t t = 0; t < T; t++) {
            float *d = wt + (c * T + t) * OC4;
            for (int64_t o = 0; o < OC4; o++)
                d[o] = o >= g->OC ? 0.0f : flip ? w[(c * g->OC + o) * T + (T - 1 - t)] : w[(o * g->C + c) * T + t];
        }
}

int dc_dconv_ok(const dc_conv_geom *g) {
#if DC_CONV_X86
    if (g->groups != 1 || g->sh != 1 || g->sw != 1 || (int64_t)g->kh * g->kw > DCONV_TAPS) return 0;
    if (g->OH != g->H + 2 * (int64_t)g->ph - (int64_t)g->dh * (g->kh - 1)) return 0;
    if (g->OW != g->W + 2 * (int64_t)g->pw - (int64_t)g->dw * (g->kw - 1)) return 0;
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    (void)g;
    return 0;
#endif
}

#if DC_CONV_X86
/* out[r*DCONV_NB + l] = sum_{c<C, t<T} wt[(c*T + t)*OC4 + r] * xb[c*Sp + toff[t] + l]    r < 4, l < 24
 * (xb: the first of the 24 pixels in plane 0; wt: already offset to the block's first channel).
 * 12 accumulators (4 channels x 3 ymm of pixels), 3 loads of B and 4 broadcasts per tap. */
DC_AVX2 static void dconv_kernel(const float *xb, int64_t Sp, int64_t C, int T, const int64_t *toff, const float *wt,
                                 int64_t OC4, float *out) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00;
    __m256 c20 = c00, c21 = c00, c22 = c00, c30 = c00, c31 = c00, c32 = c00;
    for (int64_t c = 0; c < C; c++) {
        const float *p = xb + c * Sp, *wr = wt + c * T * OC4;
        for (int t = 0; t < T; t++, wr += OC4) {
            const float *s = p + toff[t];
            const __m256 b0 = _mm256_loadu_ps(s), b1 = _mm256_loadu_ps(s + 8), b2 = _mm256_loadu_ps(s + 16);
            __m256 a = _mm256_broadcast_ss(wr);
            c00 = _mm256_fmadd_ps(a, b0, c00), c01 = _mm256_fmadd_ps(a, b1, c01), c02 = _mm256_fmadd_ps(a, b2, c02);
            a = _mm256_broadcast_ss(wr + 1);
            c10 = _mm256_fmadd_ps(a, b0, c10), c11 = _mm256_fmadd_ps(a, b1, c11), c12 = _mm256_fmadd_ps(a, b2, c12);
            a = _mm256_broadcast_ss(wr + 2);
            c20 = _mm256_fmadd_ps(a, b0, c20), c21 = _mm256_fmadd_ps(a, b1, c21), c22 = _mm256_fmadd_ps(a, b2, c22);
            a = _mm256_broadcast_ss(wr + 3);
            c30 = _mm256_fmadd_ps(a, b0, c30), c31 = _mm256_fmadd_ps(a, b1, c31), c32 = _mm256_fmadd_ps(a, b2, c32);
        }
    }
    float *o0 = out, *o1 = out + DCONV_NB, *o2 = out + 2 * DCONV_NB, *o3 = out + 3 * DCONV_NB; /* rows of out */
    _mm256_storeu_ps(o0, c00), _mm256_storeu_ps(o0 + 8, c01), _mm256_storeu_ps(o0 + 16, c02);
    _mm256_storeu_ps(o1, c10), _mm256_storeu_ps(o1 + 8, c11), _mm256_storeu_ps(o1 + 16, c12);
    _mm256_storeu_ps(o2, c20), _mm256_storeu_ps(o2 + 8, c21), _mm256_storeu_ps(o2 + 16, c22);
    _mm256_storeu_ps(o3, c30), _mm256_storeu_ps(o3 + 8, c31), _mm256_storeu_ps(o3 + 16, c32);
}

/* The same sums for 48 pixels with AVX-512: 12 zmm accumulators (4 channels x 3 zmm), 3 loads and
 * 4 broadcasts per tap.  Each output is the same fma chain in the same order as in the AVX2 kernel,
 * so the bits are the same. */
#define DC_AVX512 __attribute__((target("avx512f,avx2,fma")))
DC_AVX512 static void dconv_kernel512(const float *xb, int64_t Sp, int64_t C, int T, const int64_t *toff,
                                      const float *wt, int64_t OC4, float out[DCONV_MB][DCONV_NB]) {
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00;
    __m512 c20 = c00, c21 = c00, c22 = c00, c30 = c00, c31 = c00, c32 = c00;
    for (int64_t c = 0; c < C; c++) {
        const float *p = xb + c * Sp, *wr = wt + c * T * OC4;
        for (int t = 0; t < T; t++, wr += OC4) {
            const float *s = p + toff[t];
            const __m512 b0 = _mm512_loadu_ps(s), b1 = _mm512_loadu_ps(s + 16), b2 = _mm512_loadu_ps(s + 32);
            __m512 a = _mm512_set1_ps(wr[0]);
            c00 = _mm512_fmadd_ps(a, b0, c00), c01 = _mm512_fmadd_ps(a, b1, c01), c02 = _mm512_fmadd_ps(a, b2, c02);
            a = _mm512_set1_ps(wr[1]);
            c10 = _mm512_fmadd_ps(a, b0, c10), c11 = _mm512_fmadd_ps(a, b1, c11), c12 = _mm512_fmadd_ps(a, b2, c12);
            a = _mm512_set1_ps(wr[2]);
            c20 = _mm512_fmadd_ps(a, b0, c20), c21 = _mm512_fmadd_ps(a, b1, c21), c22 = _mm512_fmadd_ps(a, b2, c22);
            a = _mm512_set1_ps(wr[3]);
            c30 = _mm512_fmadd_ps(a, b0, c30), c31 = _mm512_fmadd_ps(a, b1, c31), c32 = _mm512_fmadd_ps(a, b2, c32);
        }
    }
    _mm512_storeu_ps(out[0], c00), _mm512_storeu_ps(out[0] + 16, c01), _mm512_storeu_ps(out[0] + 32, c02);
    _mm512_storeu_ps(out[1], c10), _mm512_storeu_ps(out[1] + 16, c11), _mm512_storeu_ps(out[1] + 32, c12);
    _mm512_storeu_ps(out[2], c20), _mm512_storeu_ps(out[2] + 16, c21), _mm512_storeu_ps(out[2] + 32, c22);
    _mm512_storeu_ps(out[3], c30), _mm512_storeu_ps(out[3] + 16, c31), _mm512_storeu_ps(out[3] + 32, c32);
}
#endif

void dc_dconv_run(const dc_conv_geom *g, int64_t u0, int64_t u1, const float *xp, const float *wt, const float *b,
                  int flags, float *y) {
#if DC_CONV_X86
    const int64_t Wp = g->W + 2 * (int64_t)g->pw, Sp = dc_dconv_plane(g), nblk = dc_dconv_blocks(g);
    const int64_t OW = g->OW, P = g->OH * OW, Q = g->OH * Wp, OC4 = (g->OC + DCONV_MB - 1) / DCONV_MB * DCONV_MB;
    const int T = g->kh * g->kw;
    int64_t toff[DCONV_TAPS];
    for (int t = 0; t < T; t++) toff[t] = (int64_t)(t / g->kw) * g->dh * Wp + (int64_t)(t % g->kw) * g->dw;
    float out[DCONV_MB][DCONV_NB];
    const int wide = dc_dconv_avx512(), accumulate = flags & DC_CONV_ACC, relu = flags & DC_CONV_RELU;
    for (int64_t u = u0; u < u1; u++) {
        const int64_t n = u / nblk, q0 = u % nblk * DCONV_NB;
        const float *xb = xp + n * g->C * Sp + q0;
        for (int64_t o0 = 0; o0 < g->OC; o0 += DCONV_MB) {
            if (wide) dconv_kernel512(xb, Sp, g->C, T, toff, wt + o0, OC4, out);
            else { /* the block's two halves */
                dconv_kernel(xb, Sp, g->C, T, toff, wt + o0, OC4, (float *)out);
                dconv_kernel(xb + DCONV_NB2, Sp, g->C, T, toff, wt + o0, OC4, (float *)out + DCONV_NB2);
            }
            const int rows = g->OC - o0 < DCONV_MB ? (int)(g->OC - o0) : DCONV_MB;
            /* scatter: runs of q with j < OW are consecutive pixels of one output row */
            for (int64_t l = 0; l < DCONV_NB && q0 + l < Q;) {
                const int64_t q = q0 + l, i = q / Wp, j = q % Wp;
                if (j >= OW) {
                    l += Wp - j; /* junk columns */
                    continue;
                }
                int64_t len = OW - j < DCONV_NB - l ? OW - j : DCONV_NB - l;
                for (int r = 0; r < rows; r++) {
                    float *restrict d = y + (n * g->OC + o0 + r) * P + i * OW + j;
                    const float *restrict s = out[r] + l;
                    if (accumulate) add_row(d, s, len);
                    else if (b || relu) {
                        const float bv = b ? b[o0 + r] : 0.0f;
                        if (relu)
                            for (int64_t e = 0; e < len; e++) d[e] = relu1(s[e] + bv);
                        else
                            for (int64_t e = 0; e < len; e++) d[e] = s[e] + bv;
                    } else copy_row(d, s, len);
                    if (accumulate && relu)
                        for (int64_t e = 0; e < len; e++) d[e] = relu1(d[e]);
                }
                l += len;
            }
        }
    }
#else
    (void)g, (void)u0, (void)u1, (void)xp, (void)wt, (void)b, (void)flags, (void)y;
#endif
}


void dc_dconv_pad_sum(const dc_conv_geom *g, int64_t N, int64_t o0, int64_t o1, const float *y, float *yp, float *db) {
    const int64_t P = g->H * g->W;
    for (int64_t o = o0; o < o1; o++) {
        double sum = 0.0;
        for (int64_t n = 0; n < N; n++) {
            const int64_t u = n * g->C + o;
            dc_dconv_pad(g, u, u + 1, y, yp);
            if (!db) continue;
            /* eight lanes, then the lanes in order (as dc_conv_nchw_to_res) */
            const float *d = y + u * P;
            float acc[8] = {0};
            int64_t p = 0;
            for (; p + 8 <= P; p += 8)
                for (int k = 0; k < 8; k++) acc[k] += d[p + k];
            for (int k = 0; p < P; p++, k++) acc[k] += d[p];
            sum += (double)(((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])));
        }
        if (db) db[o] += (float)sum;
    }
}

#define DWK 6 /* taps per dW micro-kernel call (the AVX2 kernel takes them 3 at a time) */

int dc_dconv_dw_ok(const dc_conv_geom *g) {
    return dc_dconv_ok(g) && 2 * g->ph == g->dh * (g->kh - 1) && 2 * g->pw == g->dw * (g->kw - 1);
}

#define DWL 16 /* scratch floats per accumulator: one zmm (the AVX2 kernel uses the first 8) */

int64_t dc_dconv_dw_scratch(const dc_conv_geom *g) {
    const int64_t K = g->C * g->kh * g->kw, OC4 = (g->OC + DCONV_MB - 1) / DCONV_MB * DCONV_MB;
    return OC4 * ((K + DWK - 1) / DWK * DWK) * DWL;
}

#if DC_CONV_X86
/* acc[(r*DWK + e)*DWL ..+8) += sum_{i < nimg, v < nv} dy_r[i*dystep + 8v ..+8) * x_e[i*xstep + 8v ..+8)
 * for r < 4, e < 3 (12 accumulators; 4 + 3 loads per 12 fmas; both operands contiguous along the
 * pixels).  acc points at the block's first tap: the block's 6 taps take two calls. */
DC_AVX2 static void dw_kernel(const float *const dy[DCONV_MB], const float *const xs[3], int64_t nv, int64_t nimg,
                              int64_t dystep, int64_t xstep, float *acc) {
    __m256 a[DCONV_MB * 3];
    for (int r = 0; r < DCONV_MB; r++)
        for (int e = 0; e < 3; e++) a[r * 3 + e] = _mm256_loadu_ps(acc + DWL * (r * DWK + e));
    for (int64_t i = 0; i < nimg; i++) {
        const float *d[DCONV_MB], *x[3];
        for (int r = 0; r < DCONV_MB; r++) d[r] = dy[r] + i * dystep;
        for (int e = 0; e < 3; e++) x[e] = xs[e] + i * xstep;
        for (int64_t q = 0; q < 8 * nv; q += 8) {
            const __m256 b0 = _mm256_loadu_ps(x[0] + q), b1 = _mm256_loadu_ps(x[1] + q), b2 = _mm256_loadu_ps(x[2] + q);
            for (int r = 0; r < DCONV_MB; r++) { /* unrolled by the compiler: a[] stays in registers */
                const __m256 y = _mm256_loadu_ps(d[r] + q);
                a[3 * r] = _mm256_fmadd_ps(y, b0, a[3 * r]);
                a[3 * r + 1] = _mm256_fmadd_ps(y, b1, a[3 * r + 1]);
                a[3 * r + 2] = _mm256_fmadd_ps(y, b2, a[3 * r + 2]);
            }
        }
    }
    for (int r = 0; r < DCONV_MB; r++)
        for (int e = 0; e < 3; e++) _mm256_storeu_ps(acc + DWL * (r * DWK + e), a[r * 3 + e]);
}

/* The same with 16 pixels per step (zmm; lane l of an accumulator sums the q = l mod 16) and all 6
 * taps at once: 24 accumulators, 6 + 4 loads per 24 fmas (the 3-tap version's 7 per 12 left it
 * waiting on loads, most of them split across cache lines). */
DC_AVX512 static void dw_kernel512(const float *const dy[DCONV_MB], const float *const xs[DWK], int64_t nv,
                                   int64_t nimg, int64_t dystep, int64_t xstep, float *acc) {
    __m512 a[DCONV_MB * DWK];
    for (int k = 0; k < DCONV_MB * DWK; k++) a[k] = _mm512_loadu_ps(acc + DWL * k);
    for (int64_t i = 0; i < nimg; i++) {
        const float *d[DCONV_MB], *x[DWK];
        for (int r = 0; r < DCONV_MB; r++) d[r] = dy[r] + i * dystep;
        for (int e = 0; e < DWK; e++) x[e] = xs[e] + i * xstep;
        for (int64_t q = 0; q < 16 * nv; q += 16) {
            __m512 b[DWK];
            for (int e = 0; e < DWK; e++) b[e] = _mm512_loadu_ps(x[e] + q);
            for (int r = 0; r < DCONV_MB; r++) {
                const __m512 y = _mm512_loadu_ps(d[r] + q);
                for (int e = 0; e < DWK; e++) a[DWK * r + e] = _mm512_fmadd_ps(y, b[e], a[DWK * r + e]);
            }
        }
    }
    for (int k = 0; k < DCONV_MB * DWK; k++) _mm512_storeu_ps(acc + DWL * k, a[k]);
}
#endif

void dc_dconv_dw(const dc_conv_geom *g, int64_t n0, int64_t n1, const float *xp, const float *dyp, float *acc,
                 float *part) {
#if DC_CONV_X86
    const dc_conv_geom f = {.C = g->OC, .H = g->OH, .W = g->OW, .OC = g->C, .OH = g->H, .OW = g->W, .kh = g->kh,
                            .kw = g->kw, .sh = 1, .sw = 1, .ph = g->dh * (g->kh - 1) - g->ph,
                            .pw = g->dw * (g->kw - 1) - g->pw, .dh = g->dh, .dw = g->dw, .groups = 1};
    const int64_t Wp = g->W + 2 * (int64_t)g->pw, Sp = dc_dconv_plane(g), Spf = dc_dconv_plane(&f);
    const int64_t T = (int64_t)g->kh * g->kw, K = g->C * T, KB = (K + DWK - 1) / DWK;
    const int64_t OC = g->OC, OB = (OC + DCONV_MB - 1) / DCONV_MB;
    const int wide = dc_dconv_avx512(), lanes = wide ? 16 : 8;
    const int64_t nv = (g->OH * Wp + lanes - 1) / lanes, shift = (int64_t)f.ph * Wp + f.pw;
    /* Images are taken a few at a time, each micro-kernel call running over all of them (per lane the
     * same sums in the same order as one image per call): small planes (ResNet's 14x14) otherwise
     * spend a third of each call loading and storing its accumulators.  The group's planes (about
     * 256 KiB) stay in L2 while the blocks of channels and taps go over them. */
    const int64_t per_img = (g->C * Sp + OC * Spf) * (int64_t)sizeof(float), group = (256 << 10) / per_img > 1 ? (256 << 10) / per_img : 1;
    memset(acc, 0, (size_t)dc_dconv_dw_scratch(g) * sizeof(float));
    for (int64_t n = n0; n < n1; n += group)
        for (int64_t ob = 0; ob < OB; ob++) {
            const int64_t nimg = n1 - n < group ? n1 - n : group;
            const float *dy[DCONV_MB];
            for (int r = 0; r < DCONV_MB; r++) {
                const int64_t o = ob * DCONV_MB + r < OC ? ob * DCONV_MB + r : OC - 1; /* padding rows: discarded */
                dy[r] = dyp + (n * OC + o) * Spf + shift;
            }
            for (int64_t kb = 0; kb < KB; kb++) {
                const float *xs[DWK];
                for (int e = 0; e < DWK; e++) {
                    const int64_t k = kb * DWK + e < K ? kb * DWK + e : K - 1; /* padding taps: discarded */
                    const int64_t c = k / T, t = k % T;
                    xs[e] = xp + (n * g->C + c) * Sp + (t / g->kw) * g->dh * Wp + (t % g->kw) * g->dw;
                }
                float *a = acc + (ob * KB + kb) * DCONV_MB * DWK * DWL;
                if (wide) dw_kernel512(dy, xs, nv, nimg, OC * Spf, g->C * Sp, a);
                else dw_kernel(dy, xs, nv, nimg, OC * Spf, g->C * Sp, a), dw_kernel(dy, xs + 3, nv, nimg, OC * Spf, g->C * Sp, a + 3 * DWL);
            }
        }
    for (int64_t o = 0; o < OC; o++)
        for (int64_t k = 0; k < K; k++) {
            const int64_t ob = o / DCONV_MB, r = o % DCONV_MB, kb = k / DWK, e = k % DWK;
            const float *l = acc + ((ob * KB + kb) * DCONV_MB * DWK + r * DWK + e) * DWL;
            float s8[8];
            for (int i = 0; i < 8; i++) s8[i] = wide ? l[i] + l[i + 8] : l[i];
            part[o * K + k] = ((s8[0] + s8[1]) + (s8[2] + s8[3])) + ((s8[4] + s8[5]) + (s8[6] + s8[7]));
        }
#else
    (void)g, (void)n0, (void)n1, (void)xp, (void)dyp, (void)acc, (void)part;
#endif
}

/* ------------------------------------------------------------------ reference */
void dc_conv2d_ref_forward(const dc_conv_geom *g, int64_t N, const float *x, const float *w, const float *b,
                           float *y) {
    const int64_t Cg = g->C / g->groups, OCg = g->OC / g->groups;
    for (int64_t n = 0; n < N; n++)
        for (int64_t o = 0; o < g->OC; o++) {
            const int64_t c0 = (o / OCg) * Cg;
            for (int64_t i = 0; i < g->OH; i++)
                for (int64_t j = 0; j < g->OW; j++) {
                    double s = b ? b[o] : 0.0;
                    for (int64_t c = 0; c < Cg; c++)
                        for (int a = 0; a < g->kh; a++)
                            for (int bb = 0; bb < g->kw; bb++) {
                                int64_t h = i * g->sh - g->ph + (int64_t)a * g->dh;
                                int64_t v = j * g->sw - g->pw + (int64_t)bb * g->dw;
                                if (h < 0 || h >= g->H || v < 0 || v >= g->W) continue;
                                s += (double)w[((o * Cg + c) * g->kh + a) * g->kw + bb] *
                                     x[((n * g->C + c0 + c) * g->H + h) * g->W + v];
                            }
                    y[((n * g->OC + o) * g->OH + i) * g->OW + j] = (float)s;
                }
        }
}

void dc_conv2d_ref_backward(const dc_conv_geom *g, int64_t N, const float *x, const float *w, const float *dy,
                            float *dx, float *dw, float *db) {
    const int64_t Cg = g->C / g->groups, OCg = g->OC / g->groups;
    const int64_t OH = g->OH, OW = g->OW;
#define DY(n, o, i, j) dy[(((n) * g->OC + (o)) * OH + (i)) * OW + (j)]
    if (db)
        for (int64_t o = 0; o < g->OC; o++) {
            double s = 0.0;
            for (int64_t n = 0; n < N; n++)
                for (int64_t i = 0; i < OH; i++)
                    for (int64_t j = 0; j < OW; j++) s += DY(n, o, i, j);
            db[o] += (float)s;
        }
    if (dw)
        for (int64_t o = 0; o < g->OC; o++) {
            const int64_t c0 = (o / OCg) * Cg;
            for (int64_t c = 0; c < Cg; c++)
                for (int a = 0; a < g->kh; a++)
                    for (int b = 0; b < g->kw; b++) {
                        double s = 0.0;
                        for (int64_t n = 0; n < N; n++)
                            for (int64_t i = 0; i < OH; i++)
                                for (int64_t j = 0; j < OW; j++) {
                                    int64_t h = i * g->sh - g->ph + (int64_t)a * g->dh;
                                    int64_t v = j * g->sw - g->pw + (int64_t)b * g->dw;
                                    if (h < 0 || h >= g->H || v < 0 || v >= g->W) continue;
                                    s += (double)DY(n, o, i, j) * x[((n * g->C + c0 + c) * g->H + h) * g->W + v];
                                }
                        dw[((o * Cg + c) * g->kh + a) * g->kw + b] += (float)s;
                    }
        }
    if (dx)
        for (int64_t n = 0; n < N; n++)
            for (int64_t c = 0; c < g->C; c++) {
                const int64_t grp = c / Cg;
                for (int64_t h = 0; h < g->H; h++)
                    for (int64_t v = 0; v < g->W; v++) {
                        double s = 0.0;
                        for (int64_t o = grp * OCg; o < (grp + 1) * OCg; o++)
                            for (int a = 0; a < g->kh; a++) {
                                int64_t ti = h + g->ph - (int64_t)a * g->dh; /* = i*sh */
                                if (ti < 0 || ti % g->sh) continue;
                                int64_t i = ti / g->sh;
                                if (i >= OH) continue;
                                for (int b = 0; b < g->kw; b++) {
                                    int64_t tj = v + g->pw - (int64_t)b * g->dw;
                                    if (tj < 0 || tj % g->sw) continue;
                                    int64_t j = tj / g->sw;
                                    if (j >= OW) continue;
                                    s += (double)w[((o * Cg + (c - grp * Cg)) * g->kh + a) * g->kw + b] *
                                         DY(n, o, i, j);
                                }
                            }
                        dx[((n * g->C + c) * g->H + h) * g->W + v] += (float)s;
                    }
            }
#undef DY
}

/* The output pixel of tap (a, b) of input pixel (i, j) of a transposed convolution, or -1 outside. */
static int64_t tconv_target(const dc_conv_geom *g, int64_t i, int64_t j, int a, int b) {
    const int64_t h = i * g->sh - g->ph + (int64_t)a * g->dh, v = j * g->sw - g->pw + (int64_t)b * g->dw;
    return h < 0 || h >= g->H || v < 0 || v >= g->W ? -1 : h * g->W + v;
}

void dc_conv_transpose2d_ref_forward(const dc_conv_geom *g, int64_t N, const float *x, const float *w,
                                     const float *b, float *y) {
    const int64_t Cg = g->C / g->groups, OCg = g->OC / g->groups, HW = g->H * g->W;
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < g->C; c++)
            for (int64_t p = 0; p < HW; p++) y[(n * g->C + c) * HW + p] = b ? b[c] : 0.0f;
    for (int64_t n = 0; n < N; n++)
        for (int64_t o = 0; o < g->OC; o++)
            for (int64_t i = 0; i < g->OH; i++)
                for (int64_t j = 0; j < g->OW; j++) {
                    const float xv = x[((n * g->OC + o) * g->OH + i) * g->OW + j];
                    for (int64_t c = 0; c < Cg; c++)
                        for (int a = 0; a < g->kh; a++)
                            for (int bb = 0; bb < g->kw; bb++) {
                                const int64_t t = tconv_target(g, i, j, a, bb);
                                if (t >= 0)
                                    y[(n * g->C + (o / OCg) * Cg + c) * HW + t] +=
                                        xv * w[((o * Cg + c) * g->kh + a) * g->kw + bb];
                            }
                }
}

void dc_conv_transpose2d_ref_backward(const dc_conv_geom *g, int64_t N, const float *x, const float *w,
                                      const float *dy, float *dx, float *dw, float *db) {
    const int64_t Cg = g->C / g->groups, OCg = g->OC / g->groups, HW = g->H * g->W;
    if (db)
        for (int64_t c = 0; c < g->C; c++) {
            double s = 0.0;
            for (int64_t n = 0; n < N; n++)
                for (int64_t p = 0; p < HW; p++) s += dy[(n * g->C + c) * HW + p];
            db[c] += (float)s;
        }
    for (int64_t o = 0; o < g->OC; o++) {
        const int64_t c0 = (o / OCg) * Cg;
        for (int64_t c = 0; c < Cg; c++)
            for (int a = 0; a < g->kh; a++)
                for (int bb = 0; bb < g->kw; bb++) {
                    const float wv = w[((o * Cg + c) * g->kh + a) * g->kw + bb];
                    double sw = 0.0;
                    for (int64_t n = 0; n < N; n++)
                        for (int64_t i = 0; i < g->OH; i++)
                            for (int64_t j = 0; j < g->OW; j++) {
                                const int64_t t = tconv_target(g, i, j, a, bb);
                                if (t < 0) continue;
                                const float d = dy[(n * g->C + c0 + c) * HW + t];
                                const int64_t xi = ((n * g->OC + o) * g->OH + i) * g->OW + j;
                                sw += (double)x[xi] * d;
                                if (dx) dx[xi] += wv * d;
                            }
                    if (dw) dw[((o * Cg + c) * g->kh + a) * g->kw + bb] += (float)sw;
                }
    }
}
