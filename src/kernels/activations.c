/* activations.c — element-wise ops: ReLU, sigmoid, tanh, bias add, add.  Loops are written so the
 * compiler vectorises them.  The one exception is the sigmoid, whose expf the compiler cannot
 * vectorise without -ffast-math: with AVX2 it uses an 8-wide exp (dc_exp8 below, ~2 ulp), and
 * dc_sigmoid_forward_ref keeps the plain libm version the tests compare against. */
#include "kernels/kernels.h"

#include <math.h>
#include <string.h>
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define DC_HAVE_AVX2_EXP 1

/* e^x for 8 floats: x = n ln2 + r with |r| <= ln2/2 (ln2 split in two for an exact product),
 * e^r by a degree-6 polynomial (Taylor coefficients, error < 2 ulp on the reduced range),
 * 2^n built in the exponent bits.  Inputs are clamped to [-87.3, 88.7] so 2^n stays normal. */
static inline __m256 dc_exp8(__m256 x) {
    const __m256 hi = _mm256_set1_ps(88.7f), lo = _mm256_set1_ps(-87.3f);
    x = _mm256_max_ps(_mm256_min_ps(x, hi), lo);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.0f / 720.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}
#endif

void dc_relu_forward(int64_t n, const float *x, float *y) {
    for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void dc_relu_backward(int64_t n, const float *x, const float *dy, float *dx) {
    for (int64_t i = 0; i < n; i++) dx[i] += x[i] > 0.0f ? dy[i] : 0.0f;
}

void dc_relu_backward_set(int64_t n, const float *x, const float *dy, float *dx) {
    for (int64_t i = 0; i < n; i++) dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
}

void dc_sigmoid_forward(int64_t n, const float *x, float *y) {
#ifdef DC_HAVE_AVX2_EXP
    /* 1/(1 + e^-x): e^-x saturates at e^87.3 for very negative x, giving ~1e-38 instead of 0. */
    int64_t i = 0;
    const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
    for (; i + 8 <= n; i += 8) {
        __m256 e = dc_exp8(_mm256_xor_ps(_mm256_loadu_ps(x + i), sign));
        _mm256_storeu_ps(y + i, _mm256_div_ps(one, _mm256_add_ps(one, e)));
    }
    if (i < n) dc_sigmoid_forward_ref(n - i, x + i, y + i);
#else
    dc_sigmoid_forward_ref(n, x, y);
#endif
}

void dc_sigmoid_forward_ref(int64_t n, const float *x, float *y) {
    /* Written to never overflow: for x < 0 use e^x / (1 + e^x). */
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        if (v >= 0.0f) {
            y[i] = 1.0f / (1.0f + expf(-v));
        } else {
            float e = expf(v);
            y[i] = e / (1.0f + e);
        }
    }
}

void dc_sigmoid_backward(int64_t n, const float *y, const float *dy, float *dx) {
    for (int64_t i = 0; i < n; i++) dx[i] += dy[i] * y[i] * (1.0f - y[i]);
}

void dc_tanh_forward(int64_t n, const float *x, float *y) {
    for (int64_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
}

void dc_tanh_backward(int64_t n, const float *y, const float *dy, float *dx) {
    for (int64_t i = 0; i < n; i++) dx[i] += dy[i] * (1.0f - y[i] * y[i]);
}

void dc_bias_add(int64_t rows, int64_t cols, const float *b, float *y) {
    for (int64_t r = 0; r < rows; r++) {
        float *yr = y + r * cols;
        for (int64_t c = 0; c < cols; c++) yr[c] += b[c];
    }
}

void dc_bias_backward(int64_t rows, int64_t cols, const float *dy, float *db) {
    for (int64_t r = 0; r < rows; r++) {
        const float *d = dy + r * cols;
        for (int64_t c = 0; c < cols; c++) db[c] += d[c];
    }
}

void dc_add_forward(int64_t n, const float *a, const float *b, float *y) {
    for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

void dc_add_relu_forward(int64_t n, const float *a, const float *b, float *y) {
    for (int64_t i = 0; i < n; i++) {
        const float v = a[i] + b[i];
        y[i] = v > 0.0f ? v : 0.0f;
    }
}

void dc_add_relu_backward(int64_t n, const float *y, const float *dy, float *da, int assign_a, float *db,
                          int assign_b) {
    for (int64_t i = 0; i < n; i++) {
        const float d = y[i] > 0.0f ? dy[i] : 0.0f;
        if (da) da[i] = assign_a ? d : da[i] + d;
        if (db) db[i] = assign_b ? d : db[i] + d;
    }
}

void dc_accumulate(int64_t n, const float *dy, float *dx) {
    for (int64_t i = 0; i < n; i++) dx[i] += dy[i];
}

void dc_copy(int64_t n, const float *src, float *dst) { memcpy(dst, src, (size_t)n * sizeof(float)); }
