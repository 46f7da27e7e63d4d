/* normalization.c — Dropout and BatchNorm kernels.  BatchNorm's statistics are sums over N*S
 * values (up to hundreds of thousands): each row of S values is summed in 8 float lanes (which the
 * compiler vectorises), and the row sums are added in double, so long sums keep their digits while
 * the inner loops run at vector speed.  The order of every sum is fixed.
 * The training passes have an AVX-512 variant (four 16-lane accumulators per row, so the sums are
 * not one latency-bound chain; the same passes and formulas otherwise), chosen at run time where the
 * processor has AVX-512F (dc_dconv_avx512, so DC_SIMD=avx2 turns it off); the plain versions
 * (dc_batchnorm_*_ref) are what the tests compare it against. */
#include "kernels/kernels.h"

#include "kernels/conv.h"

#include <math.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define BN_X86 1
#else
#define BN_X86 0
#endif

/* The 24 high bits of a 32-bit integer hash of (index, key), as a float in [0, 1).  Two rounds of
 * xor-shift-multiply mixing (the multipliers are odd constants with good avalanche); the index's
 * high word enters through the key, so masks of more than 2^32 elements do not repeat.  Written
 * as plain integer arithmetic on one element so the loop below vectorises (8 lanes with AVX2). */
static inline uint32_t dropout_hash(uint32_t lo, uint32_t key) {
    uint32_t h = lo * 0x9E3779B9u + key;
    h ^= h >> 16;
    h *= 0x7FEB352Du;
    h ^= h >> 15;
    h *= 0x846CA68Bu;
    h ^= h >> 16;
    return h;
}

static inline uint32_t dropout_key(uint64_t key, int64_t index) {
    return (uint32_t)key ^ ((uint32_t)(key >> 32) + (uint32_t)((uint64_t)index >> 32) * 0x85EBCA6Bu);
}

float dc_dropout_uniform(uint64_t key, int64_t index) {
    return (float)(dropout_hash((uint32_t)index, dropout_key(key, index)) >> 8) * (1.0f / 16777216.0f);
}

void dc_dropout_forward(int64_t n, float p, uint64_t key, int64_t first, const float *x, float *mask, float *y) {
    const float keep = 1.0f / (1.0f - p);
    /* u >= p  <=>  (h >> 8) >= ceil(p * 2^24): compare integers, no float conversion per element */
    const uint32_t cut = (uint32_t)ceilf(p * 16777216.0f);
    int64_t i = 0;
    while (i < n) {
        /* runs that keep the index's high word fixed, so the inner loop is pure 32-bit work */
        int64_t g = first + i;
        int64_t run = (int64_t)0x100000000 - (int64_t)((uint64_t)g & 0xFFFFFFFFu);
        if (run > n - i) run = n - i;
        const uint32_t k = dropout_key(key, g), lo = (uint32_t)g;
        const float *xs = x + i;
        float *ms = mask + i, *ys = y + i;
        for (int64_t j = 0; j < run; j++) {
            float m = (dropout_hash(lo + (uint32_t)j, k) >> 8) >= cut ? keep : 0.0f;
            ms[j] = m;
            ys[j] = xs[j] * m;
        }
        i += run;
    }
}

void dc_dropout_backward(int64_t n, const float *mask, const float *dy, float *dx) {
    for (int64_t i = 0; i < n; i++) dx[i] += dy[i] * mask[i];
}

void dc_dropout_backward_set(int64_t n, const float *mask, const float *dy, float *dx) {
    for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * mask[i];
}

/* The norm's output for input x: one helper for the forward and for the ReLU mask the fused
 * backward recomputes from x, so both round (and contract) alike and the mask matches bit for bit. */
static inline float bn_affine(float x, float gsc, float sh) { return x * gsc + sh; }

/* sum of x[0..S) in 8 lanes */
static double lane_sum(const float *x, int64_t S) {
    float acc[8] = {0};
    int64_t k = 0;
    for (; k + 8 <= S; k += 8)
        for (int l = 0; l < 8; l++) acc[l] += x[k + l];
    double s = 0.0;
    for (int l = 0; l < 8; l++) s += acc[l];
    for (; k < S; k++) s += x[k];
    return s;
}

/* sum of (x - mu)^2 over x[0..S) in 8 lanes */
static double lane_sqdev(const float *x, int64_t S, float mu) {
    float acc[8] = {0};
    int64_t k = 0;
    for (; k + 8 <= S; k += 8)
        for (int l = 0; l < 8; l++) {
            float d = x[k + l] - mu;
            acc[l] += d * d;
        }
    double s = 0.0;
    for (int l = 0; l < 8; l++) s += acc[l];
    for (; k < S; k++) s += (double)(x[k] - mu) * (x[k] - mu);
    return s;
}

/* a[l] += dy[k + l], b[l] += dy[k + l] * (x[k + l] - mu) for the blocks of 8 in [0, n8) (n8 a
 * multiple of 8): the lane sums of lane_dots, continued from a and b */
static inline void dots_lanes(const float *x, const float *dy, int64_t n8, float mu, float *a, float *b) {
    float A[8], B[8];
    for (int l = 0; l < 8; l++) A[l] = a[l], B[l] = b[l];
    for (int64_t k = 0; k < n8; k += 8)
        for (int l = 0; l < 8; l++) {
            A[l] += dy[k + l];
            B[l] += dy[k + l] * (x[k + l] - mu);
        }
    for (int l = 0; l < 8; l++) a[l] = A[l], b[l] = B[l];
}

/* The gradient a ReLU after the norm passes back for input x: dy where the norm's output (as the
 * forward computed it) is positive, else 0 — the ReLU op's backward, bit for bit. */
static inline float relu_dy(float x, float gsc, float sh, float dy) { return bn_affine(x, gsc, sh) > 0.0f ? dy : 0.0f; }

/* sum of dy and of dy * (x - mu) over [0..S) in 8 lanes; with relu, of relu_dy instead of dy (the
 * masked values go through a small buffer so the lane loop stays the one that vectorises, and the
 * lane sums are continued across the pieces, so their order does not depend on the pieces) */
static void lane_dots(const float *x, const float *dy, int64_t S, float mu, int relu, float gsc, float sh,
                      double *sdy, double *sdyx) {
    float a[8] = {0}, b[8] = {0}, d[512];
    const int64_t S8 = S / 8 * 8;
    for (int64_t k = 0; k < S8; k += 512) {
        const int64_t m = S8 - k < 512 ? S8 - k : 512;
        const float *dk = dy + k;
        if (relu) {
            for (int64_t i = 0; i < m; i++) d[i] = relu_dy(x[k + i], gsc, sh, dy[k + i]);
            dk = d;
        }
        dots_lanes(x + k, dk, m, mu, a, b);
    }
    double s1 = 0.0, s2 = 0.0;
    for (int l = 0; l < 8; l++) {
        s1 += a[l];
        s2 += b[l];
    }
    for (int64_t k = S8; k < S; k++) {
        const float dv = relu ? relu_dy(x[k], gsc, sh, dy[k]) : dy[k];
        s1 += dv;
        s2 += (double)dv * (x[k] - mu);
    }
    *sdy += s1;
    *sdyx += s2;
}

void dc_batchnorm_forward_train_ref(int64_t N, int64_t C, int64_t S, int64_t c0, int64_t c1, const float *x,
                                const float *gamma, const float *beta, float eps, float momentum,
                                float *running_mean, float *running_var, float *mean, float *rstd, int relu,
                                float *y) {
    int64_t M = N * S;
    for (int64_t c = c0; c < c1; c++) {
        double s = 0.0;
        for (int64_t n = 0; n < N; n++) s += lane_sum(x + (n * C + c) * S, S);
        double mu = s / (double)M, ss = 0.0;
        for (int64_t n = 0; n < N; n++) ss += lane_sqdev(x + (n * C + c) * S, S, (float)mu);
        double var = ss / (double)M; /* biased variance normalises, as in the paper */
        float r = (float)(1.0 / sqrt(var + eps));
        mean[c] = (float)mu;
        rstd[c] = r;
        float gsc = gamma[c] * r, sh = beta[c] - (float)mu * gsc;
        for (int64_t n = 0; n < N; n++) {
            const float *xp = x + (n * C + c) * S;
            float *yp = y + (n * C + c) * S;
            if (relu)
                for (int64_t k = 0; k < S; k++) {
                    const float v = bn_affine(xp[k], gsc, sh); /* the unfused norm's output, then the ReLU op's max */
                    yp[k] = v > 0.0f ? v : 0.0f;
                }
            else
                for (int64_t k = 0; k < S; k++) yp[k] = bn_affine(xp[k], gsc, sh);
        }
        double unbiased = M > 1 ? ss / (double)(M - 1) : var;
        running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * (float)mu;
        running_var[c] = (1.0f - momentum) * running_var[c] + momentum * (float)unbiased;
    }
}

void dc_batchnorm_forward_eval(int64_t N, int64_t C, int64_t S, int64_t c0, int64_t c1, const float *x,
                               const float *gamma, const float *beta, float eps, const float *running_mean,
                               const float *running_var, float *y) {
    for (int64_t c = c0; c < c1; c++) {
        float r = 1.0f / sqrtf(running_var[c] + eps);
        float gsc = gamma[c] * r, sh = beta[c] - running_mean[c] * gsc;
        for (int64_t n = 0; n < N; n++) {
            const float *xp = x + (n * C + c) * S;
            float *yp = y + (n * C + c) * S;
            for (int64_t k = 0; k < S; k++) yp[k] = xp[k] * gsc + sh;
        }
    }
}

void dc_batchnorm_backward_ref(int64_t N, int64_t C, int64_t S, int64_t c0, int64_t c1, const float *x,
                           const float *gamma, const float *mean, const float *rstd, const float *dy,
                           const float *relu_beta, float *dx, int accumulate, float *dgamma, float *dbeta) {
    int64_t M = N * S;
    for (int64_t c = c0; c < c1; c++) {
        double sdy = 0.0, sdyx = 0.0;
        float mu = mean[c], r = rstd[c];
        /* the forward's scale and shift (mean[c] is the forward's (float)mu) */
        const float gsc = gamma[c] * r, sh = relu_beta ? relu_beta[c] - mu * gsc : 0.0f;
        for (int64_t n = 0; n < N; n++)
            lane_dots(x + (n * C + c) * S, dy + (n * C + c) * S, S, mu, relu_beta != NULL, gsc, sh, &sdy, &sdyx);
        sdyx *= r; /* sum dy * xhat */
        dgamma[c] += (float)sdyx;
        dbeta[c] += (float)sdy;
        if (!dx) continue;
        float k1 = gamma[c] * r, m1 = (float)(sdy / (double)M), m2 = (float)(sdyx / (double)M);
        for (int64_t n = 0; n < N; n++) {
            const float *xp = x + (n * C + c) * S, *dp = dy + (n * C + c) * S;
            float *dxp = dx + (n * C + c) * S;
            if (relu_beta) {
                for (int64_t k = 0; k < S; k++) {
                    const float v = k1 * (relu_dy(xp[k], gsc, sh, dp[k]) - m1 - (xp[k] - mu) * r * m2);
                    dxp[k] = accumulate ? dxp[k] + v : v;
                }
            } else if (accumulate)
                for (int64_t k = 0; k < S; k++) dxp[k] += k1 * (dp[k] - m1 - (xp[k] - mu) * r * m2);
            else
                for (int64_t k = 0; k < S; k++) dxp[k] = k1 * (dp[k] - m1 - (xp[k] - mu) * r * m2);
        }
    }
}

/* ------------------------------------------------------------------ AVX-512 training passes */
#if BN_X86
#define BN512 __attribute__((target("avx512f")))
typedef __m512 V16;

/* The valid lanes of the tail of a row of S floats from k (k < S < k + 16). */
static inline __mmask16 tail_mask(int64_t n) { return (__mmask16)((1u << n) - 1); }

/* the four accumulators added in a fixed order, then the 16 lanes (a fixed tree) */
BN512 static inline double lanes4(V16 a0, V16 a1, V16 a2, V16 a3) {
    return (double)_mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

BN512 static double sum512(const float *x, int64_t S) {
    V16 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t k = 0;
    for (; k + 64 <= S; k += 64) {
        a0 = _mm512_add_ps(a0, _mm512_loadu_ps(x + k));
        a1 = _mm512_add_ps(a1, _mm512_loadu_ps(x + k + 16));
        a2 = _mm512_add_ps(a2, _mm512_loadu_ps(x + k + 32));
        a3 = _mm512_add_ps(a3, _mm512_loadu_ps(x + k + 48));
    }
    for (; k + 16 <= S; k += 16) a0 = _mm512_add_ps(a0, _mm512_loadu_ps(x + k));
    if (k < S) a1 = _mm512_add_ps(a1, _mm512_maskz_loadu_ps(tail_mask(S - k), x + k));
    return lanes4(a0, a1, a2, a3);
}

/* sum of (x - mu)^2 */
BN512 static double sqdev512(const float *x, int64_t S, float mu) {
    const V16 m = _mm512_set1_ps(mu);
    V16 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, d;
    int64_t k = 0;
    for (; k + 64 <= S; k += 64) {
        d = _mm512_sub_ps(_mm512_loadu_ps(x + k), m), a0 = _mm512_fmadd_ps(d, d, a0);
        d = _mm512_sub_ps(_mm512_loadu_ps(x + k + 16), m), a1 = _mm512_fmadd_ps(d, d, a1);
        d = _mm512_sub_ps(_mm512_loadu_ps(x + k + 32), m), a2 = _mm512_fmadd_ps(d, d, a2);
        d = _mm512_sub_ps(_mm512_loadu_ps(x + k + 48), m), a3 = _mm512_fmadd_ps(d, d, a3);
    }
    for (; k + 16 <= S; k += 16) d = _mm512_sub_ps(_mm512_loadu_ps(x + k), m), a0 = _mm512_fmadd_ps(d, d, a0);
    if (k < S) {
        const __mmask16 t = tail_mask(S - k);
        d = _mm512_maskz_sub_ps(t, _mm512_maskz_loadu_ps(t, x + k), m);
        a1 = _mm512_fmadd_ps(d, d, a1);
    }
    return lanes4(a0, a1, a2, a3);
}

/* y = x*gsc + sh (one fma: the backward's mask recomputes exactly this), then max(0, .) with relu */
BN512 static inline V16 affine512(V16 x, V16 gsc, V16 sh) { return _mm512_fmadd_ps(x, gsc, sh); }

BN512 static void normalize512(const float *x, int64_t S, float gscf, float shf, int relu, float *y) {
    const V16 gsc = _mm512_set1_ps(gscf), sh = _mm512_set1_ps(shf), z = _mm512_setzero_ps();
    for (int64_t k = 0; k < S; k += 16) {
        const __mmask16 t = S - k >= 16 ? (__mmask16)0xFFFF : tail_mask(S - k);
        V16 v = affine512(_mm512_maskz_loadu_ps(t, x + k), gsc, sh);
        if (relu) v = _mm512_max_ps(v, z); /* max(NaN, 0) = 0, as the ReLU op */
        _mm512_mask_storeu_ps(y + k, t, v);
    }
}

/* the gradient entering the norm: dy, or with relu 0 where the norm's output is not positive */
BN512 static inline V16 dy512(V16 x, V16 dy, int relu, V16 gsc, V16 sh) {
    if (!relu) return dy;
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(affine512(x, gsc, sh), _mm512_setzero_ps(), _CMP_GT_OQ), dy);
}

/* sum of dy' and of dy' * (x - mu) over the row (dy' as dy512) */
BN512 static void dots512(const float *x, const float *dy, int64_t S, float muf, int relu, float gscf, float shf,
                          double *sdy, double *sdyx) {
    const V16 mu = _mm512_set1_ps(muf), gsc = _mm512_set1_ps(gscf), sh = _mm512_set1_ps(shf);
    V16 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    int64_t k = 0;
#define BN_DOT(a, b, off)                                                                                  \
    do {                                                                                                   \
        const V16 xv = _mm512_loadu_ps(x + k + off), d = dy512(xv, _mm512_loadu_ps(dy + k + off), relu, gsc, sh); \
        a = _mm512_add_ps(a, d);                                                                           \
        b = _mm512_fmadd_ps(d, _mm512_sub_ps(xv, mu), b);                                                  \
    } while (0)
    for (; k + 64 <= S; k += 64) {
        BN_DOT(a0, b0, 0);
        BN_DOT(a1, b1, 16);
        BN_DOT(a2, b2, 32);
        BN_DOT(a3, b3, 48);
    }
    for (; k + 16 <= S; k += 16) BN_DOT(a0, b0, 0);
#undef BN_DOT
    if (k < S) {
        const __mmask16 t = tail_mask(S - k);
        const V16 xv = _mm512_maskz_loadu_ps(t, x + k), d = _mm512_maskz_mov_ps(t, dy512(xv, _mm512_maskz_loadu_ps(t, dy + k), relu, gsc, sh));
        a1 = _mm512_add_ps(a1, d);
        b1 = _mm512_fmadd_ps(d, _mm512_sub_ps(xv, mu), b1);
    }
    *sdy += lanes4(a0, a1, a2, a3);
    *sdyx += lanes4(b0, b1, b2, b3);
}

/* dx (+)= k1 * (dy' - m1 - (x - mu) * r * m2) */
BN512 static void bn_dx512(const float *x, const float *dy, int64_t S, float muf, float rf, float k1f, float m1f,
                           float m2f, int relu, float gscf, float shf, int accumulate, float *dx) {
    const V16 mu = _mm512_set1_ps(muf), r = _mm512_set1_ps(rf), k1 = _mm512_set1_ps(k1f), m1 = _mm512_set1_ps(m1f),
              m2 = _mm512_set1_ps(m2f), gsc = _mm512_set1_ps(gscf), sh = _mm512_set1_ps(shf);
    for (int64_t k = 0; k < S; k += 16) {
        const __mmask16 t = S - k >= 16 ? (__mmask16)0xFFFF : tail_mask(S - k);
        const V16 xv = _mm512_maskz_loadu_ps(t, x + k), d = dy512(xv, _mm512_maskz_loadu_ps(t, dy + k), relu, gsc, sh);
        const V16 xr = _mm512_mul_ps(_mm512_mul_ps(_mm512_sub_ps(xv, mu), r), m2);
        V16 v = _mm512_mul_ps(k1, _mm512_sub_ps(_mm512_sub_ps(d, m1), xr));
        if (accumulate) v = _mm512_add_ps(_mm512_maskz_loadu_ps(t, dx + k), v);
        _mm512_mask_storeu_ps(dx + k, t, v);
    }
}

/* dc_batchnorm_forward_train_ref with the AVX-512 rows */
BN512 static void bn_forward_train512(int64_t N, int64_t C, int64_t S, int64_t c0, int64_t c1, const float *x,
                                      const float *gamma, const float *beta, float eps, float momentum,
                                      float *running_mean, float *running_var, float *mean, float *rstd, int relu,
                                      float *y) {
    const int64_t M = N * S;
    for (int64_t c = c0; c < c1; c++) {
        double s = 0.0;
        for (int64_t n = 0; n < N; n++) s += sum512(x + (n * C + c) * S, S);
        double mu = s / (double)M, ss = 0.0;
        for (int64_t n = 0; n < N; n++) ss += sqdev512(x + (n * C + c) * S, S, (float)mu);
        double var = ss / (double)M;
        float r = (float)(1.0 / sqrt(var + eps));
        mean[c] = (float)mu;
        rstd[c] = r;
        float gsc = gamma[c] * r, sh = beta[c] - (float)mu * gsc;
        for (int64_t n = 0; n < N; n++) normalize512(x + (n * C + c) * S, S, gsc, sh, relu, y + (n * C + c) * S);
        double unbiased = M > 1 ? ss / (double)(M - 1) : var;
        running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * (float)mu;
        running_var[c] = (1.0f - momentum) * running_var[c] + momentum * (float)unbiased;
    }
}

BN512 static void bn_backward512(int64_t N, int64_t C, int64_t S, int64_t c0, int64_t c1, const float *x,
                                 const float *gamma, const float *mean, const float *rstd, const float *dy,
                                 const float *relu_beta, float *dx, int accumulate, float *dgamma, float *dbeta) {
    const int64_t M = N * S;
    for (int64_t c = c0; c < c1; c++) {
        double sdy = 0.0, sdyx = 0.0;
        const float mu = mean[c], r = rstd[c];
        const float gsc = gamma[c] * r, sh = relu_beta ? relu_beta[c] - mu * gsc : 0.0f;
        for (int64_t n = 0; n < N; n++)
            dots512(x + (n * C + c) * S, dy + (n * C + c) * S, S, mu, relu_beta != NULL, gsc, sh, &sdy, &sdyx);
        sdyx *= r;
        dgamma[c] += (float)sdyx;
        dbeta[c] += (float)sdy;
        if (!dx) continue;
        const float k1 = gamma[c] * r, m1 = (float)(sdy / (double)M), m2 = (float)(sdyx / (double)M);
        for (int64_t n = 0; n < N; n++)
            bn_dx512(x + (n * C + c) * S, dy + (n * C + c) * S, S, mu, r, k1, m1, m2, relu_beta != NULL, gsc, sh,
                     accumulate, dx + (n * C + c) * S);
    }
}
#endif

void dc_batchnorm_forward_train(int64_t N, int64_t C, int64_t S, int64_t c0, int64_t c1, const float *x,
                                const float *gamma, const float *beta, float eps, float momentum,
                                float *running_mean, float *running_var, float *mean, float *rstd, int relu,
                                float *y) {
#if BN_X86
    if (dc_dconv_avx512()) {
        bn_forward_train512(N, C, S, c0, c1, x, gamma, beta, eps, momentum, running_mean, running_var, mean, rstd,
                            relu, y);
        return;
    }
#endif
    dc_batchnorm_forward_train_ref(N, C, S, c0, c1, x, gamma, beta, eps, momentum, running_mean, running_var, mean,
                                   rstd, relu, y);
}

void dc_batchnorm_backward(int64_t N, int64_t C, int64_t S, int64_t c0, int64_t c1, const float *x,
                           const float *gamma, const float *mean, const float *rstd, const float *dy,
                           const float *relu_beta, float *dx, int accumulate, float *dgamma, float *dbeta) {
#if BN_X86
    if (dc_dconv_avx512()) {
        bn_backward512(N, C, S, c0, c1, x, gamma, mean, rstd, dy, relu_beta, dx, accumulate, dgamma, dbeta);
        return;
    }
#endif
    dc_batchnorm_backward_ref(N, C, S, c0, c1, x, gamma, mean, rstd, dy, relu_beta, dx, accumulate, dgamma, dbeta);
}
