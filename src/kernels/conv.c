/* conv.c — convolution kernels over float arrays (see conv.h): im2col / col2im, the reorders
 * between the GEMM result [OC][N*P] and NCHW (bias add and bias gradient fused into them), and the
 * reference direct convolution.  The inner loops run along an output row (contiguous in col, unit
 * stride in x when the stride is 1) so the compiler vectorises them.
 * Deliberately not here: the GEMM (kernels/gemm.c), threads (callers pass ranges of units and run
 * them on the pool), and any allocation. */
#include "kernels/conv.h"

#include <string.h>

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
    for (int64_t u = u0; u < u1; u++) {
        const int64_t n = u / C, c = u % C;
        float *xc = dx + u * H * W;
        for (int a = 0; a < KH; a++) {
            const int64_t hoff = (int64_t)a * g->dh - g->ph;
            int64_t ilo, ihi;
            valid_cols(OH, H, sh, hoff, &ilo, &ihi);
            for (int b = 0; b < KW; b++) {
                const int64_t woff = (int64_t)b * g->dw - g->pw;
                int64_t lo, hi;
                valid_cols(OW, W, sw, woff, &lo, &hi);
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

void dc_conv_res_to_nchw(int64_t OC, int64_t P, int64_t ld, int64_t n0, int64_t n1, const float *res,
                         const float *b, float *y) {
    for (int64_t n = n0; n < n1; n++)
        for (int64_t o = 0; o < OC; o++) {
            const float *restrict r = res + o * ld + n * P;
            float *restrict yo = y + (n * OC + o) * P;
            if (b) {
                const float bv = b[o];
                for (int64_t p = 0; p < P; p++) yo[p] = r[p] + bv;
            } else {
                memcpy(yo, r, (size_t)P * sizeof(float));
            }
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
