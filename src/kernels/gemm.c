/* gemm.c — single-precision GEMM: reference loop and a BLIS-style packed, cache-blocked version.
 *
 * Structure (per thread, on its own sub-block of C):
 *   for jc in N step NC:                 B block   KC×NC  packed into NR-wide panels (L3)
 *     for pc in K step KC:
 *       pack op(B)[pc:pc+kc, jc:jc+nc]
 *       for ic in M step MC:             A block   MC×KC  packed into MR-tall panels (L2)
 *         pack op(A)[ic:ic+mc, pc:pc+kc]
 *         for jr in nc step NR:          one B micro-panel (KC×NR, L1) ...
 *           for ir in mc step MR:        ... against every A micro-panel
 *             C[ir:ir+MR, jr:jr+NR] (+)= alpha · Apanel · Bpanel
 * When the sub-problem has a single A block (M <= MC), each B panel is packed right before use
 * into an L1-sized slot instead of packing the whole B block first.  When N is narrow (e.g. the
 * 10-class output layer), Cᵀ = op(B)ᵀ·op(A)ᵀ is computed instead, so that the 16-wide side of the
 * tile is not mostly padding.
 * The transposes are absorbed by the packing routines, and the packed panels are zero-padded up
 * to MR / NR, so the micro-kernel always computes a full MR×NR tile; edge tiles go through a
 * small buffer so that exactly the same arithmetic is applied to every element of C.
 *
 * Every element of C is the sum over k in increasing order, in KC-sized blocks, with one fused
 * multiply-add per k: its value does not depend on where its tile lies, so the result is bitwise
 * the same for any thread count (the split only decides which thread computes which tile).
 *
 * dc_gemm_packed_b replaces "pack op(B)" by a caller's callback that writes the same packed panels
 * (implicit B: convolution gathers its column matrix straight from the image, never storing it);
 * everything else, and so every bit of C, is the same as for the plain matrix.
 *
 * Micro-kernels, selected at run time: 16×16 with AVX-512 where the processor has it (16 zmm
 * accumulators, 1 zmm of B, A broadcast per row); 6×16 with AVX2/FMA (12 ymm accumulators, 2 ymm
 * of B, 1 broadcast of A per row); a portable C kernel of the 6×16 shape otherwise.  The tile height
 * (and so the A panels' layout) belongs to the implementation; B's panels are NR = 16 wide for all.
 * Setting the environment variable DC_GEMM_KERNEL=portable or =avx2 (or DC_SIMD=avx2, which also keeps
 * the direct convolution on AVX2) before creating a context forces that path.
 */
#include "kernels/gemm.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DC_GEMM_X86 1
#else
#define DC_GEMM_X86 0
#endif

/* ------------------------------------------------------------------ blocking */
#define MR 6
#define NR 16
#ifndef KC
#define KC 256  /* B micro-panel KC×NR×4 = 16 KiB stays in L1                */
#endif
#ifndef MC
#define MC 168  /* A block MC×KC×4 = 168 KiB stays in L2 (multiple of MR)    */
#endif
#define NC 4080 /* B block KC×NC×4 ≈ 4 MiB (multiple of NR)                  */
_Static_assert(NR == DC_GEMM_NR, "gemm.h's DC_GEMM_NR is the micro-kernel's NR");
#define PACK_SLACK 64 /* floats past the end a vector packer may scribble on */

/* Below this many flops (2·M·N·K) a call runs on one thread: waking the pool costs more. */
#define DC_GEMM_PAR_MIN_FLOPS (1 << 18)

/* C tile element (i, j) is c[i*rs_c + j*cs_c]; only the mr×nr top-left part is touched. */
typedef void (*kernel_fn)(int64_t kc, const float *a, const float *b, float *c, int64_t rs_c,
                          int64_t cs_c, float alpha, float beta, int mr, int nr);
typedef void (*packA_fn)(float *dst, int transA, const float *A, int64_t lda, int64_t i0, int64_t p0,
                         int64_t mc, int64_t kc);
typedef void (*packB_fn)(float *dst, int transB, const float *B, int64_t ldb, int64_t p0, int64_t j0,
                         int64_t kc, int64_t nc);

typedef struct gemm_impl {
    kernel_fn kernel;
    packA_fn packA;
    packB_fn packB;
    int mr;    /* the micro-kernel's tile height: rows of a packed A panel        */
    int64_t mc; /* rows of a packed A block: MC rounded down to a multiple of mr  */
    const char *name;
} gemm_impl;

struct dc_gemm_ctx {
    dc_pool *pool;
    int nthreads;
    gemm_impl impl;   /* the widest micro-kernel the processor runs                         */
    gemm_impl narrow; /* the 6-row one (AVX2 or portable): for products with at most 6 rows */
    float **abuf, **bbuf; /* per thread, 64-byte aligned */
};

/* ------------------------------------------------------------------ reference */
void dc_gemm_ref(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                 const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                 float *C, int64_t ldc) {
    for (int64_t i = 0; i < M; i++) {
        for (int64_t j = 0; j < N; j++) {
            double s = 0.0;
            for (int64_t k = 0; k < K; k++) {
                double a = transA ? A[k * lda + i] : A[i * lda + k];
                double b = transB ? B[j * ldb + k] : B[k * ldb + j];
                s += a * b;
            }
            double r = (double)alpha * s;
            if (beta != 0.0f) r += (double)beta * C[i * ldc + j];
            C[i * ldc + j] = (float)r;
        }
    }
}

/* ------------------------------------------------------------------ helpers */
static void scale_c(int64_t M, int64_t N, float beta, float *C, int64_t ldc) {
    for (int64_t i = 0; i < M; i++) {
        float *c = C + i * ldc;
        if (beta == 0.0f)
            for (int64_t j = 0; j < N; j++) c[j] = 0.0f;
        else if (beta != 1.0f)
            for (int64_t j = 0; j < N; j++) c[j] *= beta;
    }
}

/* An edge tile (partial, or C written transposed) goes through a buffer with rows NR apart, so that
 * a vector kernel stores every tile the same way: C's mr×nr part copied in (when beta reads it) and
 * back out. */
static inline void edge_in(float *tmp, const float *c, int64_t rs_c, int64_t cs_c, int mr, int nr) {
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) tmp[i * NR + j] = c[i * rs_c + j * cs_c];
}
static inline void edge_out(const float *tmp, float *c, int64_t rs_c, int64_t cs_c, int mr, int nr) {
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) c[i * rs_c + j * cs_c] = tmp[i * NR + j];
}

/* ------------------------------------------------------------------ portable path */
/* dst holds ceil(mc/MR) panels; panel r, step k, row i at dst[r*MR*kc + k*MR + i]. */
static void packA_c(float *dst, int transA, const float *A, int64_t lda, int64_t i0, int64_t p0,
                    int64_t mc, int64_t kc) {
    for (int64_t ir = 0; ir < mc; ir += MR) {
        int64_t mr = mc - ir < MR ? mc - ir : MR;
        float *d = dst + ir * kc;
        if (transA) {
            const float *s = A + p0 * lda + i0 + ir;
            for (int64_t k = 0; k < kc; k++, d += MR, s += lda) {
                int64_t i = 0;
                for (; i < mr; i++) d[i] = s[i];
                for (; i < MR; i++) d[i] = 0.0f;
            }
        } else {
            const float *s = A + (i0 + ir) * lda + p0;
            for (int64_t i = 0; i < MR; i++) {
                if (i < mr)
                    for (int64_t k = 0; k < kc; k++) d[k * MR + i] = s[i * lda + k];
                else
                    for (int64_t k = 0; k < kc; k++) d[k * MR + i] = 0.0f;
            }
        }
    }
}

/* dst holds ceil(nc/NR) panels; panel r, step k, column j at dst[r*NR*kc + k*NR + j]. */
static void packB_c(float *dst, int transB, const float *B, int64_t ldb, int64_t p0, int64_t j0,
                    int64_t kc, int64_t nc) {
    for (int64_t jr = 0; jr < nc; jr += NR) {
        int64_t nr = nc - jr < NR ? nc - jr : NR;
        float *d = dst + jr * kc;
        if (!transB) {
            const float *s = B + p0 * ldb + j0 + jr;
            for (int64_t k = 0; k < kc; k++, d += NR, s += ldb) {
                int64_t j = 0;
                for (; j < nr; j++) d[j] = s[j];
                for (; j < NR; j++) d[j] = 0.0f;
            }
        } else {
            const float *s = B + (j0 + jr) * ldb + p0;
            for (int64_t j = 0; j < NR; j++) {
                if (j < nr)
                    for (int64_t k = 0; k < kc; k++) d[k * NR + j] = s[j * ldb + k];
                else
                    for (int64_t k = 0; k < kc; k++) d[k * NR + j] = 0.0f;
            }
        }
    }
}

static void kernel_c(int64_t kc, const float *a, const float *b, float *c, int64_t rs_c, int64_t cs_c,
                     float alpha, float beta, int mr, int nr) {
    float acc[MR][NR];
    memset(acc, 0, sizeof acc);
    for (int64_t k = 0; k < kc; k++, a += MR, b += NR)
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++) acc[i][j] += a[i] * b[j];
    for (int i = 0; i < mr; i++) {
        float *ci = c + i * rs_c;
        if (beta == 0.0f)
            for (int j = 0; j < nr; j++) ci[j * cs_c] = alpha * acc[i][j];
        else
            for (int j = 0; j < nr; j++) ci[j * cs_c] = alpha * acc[i][j] + beta * ci[j * cs_c];
    }
}

/* ------------------------------------------------------------------ AVX2/FMA path */
#if DC_GEMM_X86
#define DC_AVX2 __attribute__((target("avx2,fma")))

/* C tile (full 6×16) ← alpha·acc (+ beta·C).  One fma per element: the same operations whether
 * the tile is in C itself or in the edge buffer. */
#define STORE_ROW(i, r0, r1)                                                                     \
    do {                                                                                         \
        float *ci_ = c + (i) * ldc;                                                              \
        if (beta == 0.0f) {                                                                      \
            _mm256_storeu_ps(ci_, _mm256_mul_ps(va, r0));                                        \
            _mm256_storeu_ps(ci_ + 8, _mm256_mul_ps(va, r1));                                    \
        } else {                                                                                 \
            _mm256_storeu_ps(ci_, _mm256_fmadd_ps(va, r0, _mm256_mul_ps(vb, _mm256_loadu_ps(ci_)))); \
            _mm256_storeu_ps(ci_ + 8,                                                            \
                             _mm256_fmadd_ps(va, r1, _mm256_mul_ps(vb, _mm256_loadu_ps(ci_ + 8)))); \
        }                                                                                        \
    } while (0)

DC_AVX2 static void kernel_avx2(int64_t kc, const float *a, const float *b, float *c_out,
                                int64_t rs_c, int64_t cs_c, float alpha, float beta, int mr, int nr) {
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    const int full = (mr == MR && nr == NR && cs_c == 1);
    if (full)
        for (int i = 0; i < MR; i++) {
            _mm_prefetch((const char *)(c_out + i * rs_c), _MM_HINT_T0);
            _mm_prefetch((const char *)(c_out + i * rs_c + NR - 1), _MM_HINT_T0);
        }
#define STEP(o)                                                                                  \
    do {                                                                                         \
        __m256 b0 = _mm256_load_ps(b + (o) * NR), b1 = _mm256_load_ps(b + (o) * NR + 8), av;       \
        av = _mm256_broadcast_ss(a + (o) * MR + 0);                                              \
        c00 = _mm256_fmadd_ps(av, b0, c00);                                                      \
        c01 = _mm256_fmadd_ps(av, b1, c01);                                                      \
        av = _mm256_broadcast_ss(a + (o) * MR + 1);                                              \
        c10 = _mm256_fmadd_ps(av, b0, c10);                                                      \
        c11 = _mm256_fmadd_ps(av, b1, c11);                                                      \
        av = _mm256_broadcast_ss(a + (o) * MR + 2);                                              \
        c20 = _mm256_fmadd_ps(av, b0, c20);                                                      \
        c21 = _mm256_fmadd_ps(av, b1, c21);                                                      \
        av = _mm256_broadcast_ss(a + (o) * MR + 3);                                              \
        c30 = _mm256_fmadd_ps(av, b0, c30);                                                      \
        c31 = _mm256_fmadd_ps(av, b1, c31);                                                      \
        av = _mm256_broadcast_ss(a + (o) * MR + 4);                                              \
        c40 = _mm256_fmadd_ps(av, b0, c40);                                                      \
        c41 = _mm256_fmadd_ps(av, b1, c41);                                                      \
        av = _mm256_broadcast_ss(a + (o) * MR + 5);                                              \
        c50 = _mm256_fmadd_ps(av, b0, c50);                                                      \
        c51 = _mm256_fmadd_ps(av, b1, c51);                                                      \
    } while (0)
    int64_t k = 0;
    for (; k + 4 <= kc; k += 4) {
        _mm_prefetch((const char *)(a + 8 * MR), _MM_HINT_T0);
        STEP(0);
        STEP(1);
        STEP(2);
        STEP(3);
        a += 4 * MR;
        b += 4 * NR;
    }
    for (; k < kc; k++) {
        STEP(0);
        a += MR;
        b += NR;
    }
#undef STEP
    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    float *c = c_out;
    int64_t ldc = rs_c;
    __attribute__((aligned(32))) float tmp[MR * NR];
    if (!full) {
        c = tmp;
        ldc = NR;
        if (beta != 0.0f) edge_in(tmp, c_out, rs_c, cs_c, mr, nr);
    }
    STORE_ROW(0, c00, c01);
    STORE_ROW(1, c10, c11);
    STORE_ROW(2, c20, c21);
    STORE_ROW(3, c30, c31);
    STORE_ROW(4, c40, c41);
    STORE_ROW(5, c50, c51);
    if (!full) edge_out(tmp, c_out, rs_c, cs_c, mr, nr);
}
#undef STORE_ROW

/* 8×8 transpose of r0..r7 in place. */
#define TRANSPOSE8(r0, r1, r2, r3, r4, r5, r6, r7)                                                \
    do {                                                                                          \
        __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);                  \
        __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);                  \
        __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);                  \
        __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);                  \
        __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);        \
        __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);        \
        __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);        \
        __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);        \
        r0 = _mm256_permute2f128_ps(s0, s4, 0x20);                                                \
        r1 = _mm256_permute2f128_ps(s1, s5, 0x20);                                                \
        r2 = _mm256_permute2f128_ps(s2, s6, 0x20);                                                \
        r3 = _mm256_permute2f128_ps(s3, s7, 0x20);                                                \
        r4 = _mm256_permute2f128_ps(s0, s4, 0x31);                                                \
        r5 = _mm256_permute2f128_ps(s1, s5, 0x31);                                                \
        r6 = _mm256_permute2f128_ps(s2, s6, 0x31);                                                \
        r7 = _mm256_permute2f128_ps(s3, s7, 0x31);                                                \
    } while (0)

DC_AVX2 static void packA_avx2(float *dst, int transA, const float *A, int64_t lda, int64_t i0,
                               int64_t p0, int64_t mc, int64_t kc) {
    for (int64_t ir = 0; ir < mc; ir += MR) {
        int64_t mr = mc - ir < MR ? mc - ir : MR;
        float *d = dst + ir * kc;
        if (transA) {
            const float *s = A + p0 * lda + i0 + ir;
            if (mr == MR) {
                for (int64_t k = 0; k < kc; k++, d += MR, s += lda) {
                    _mm_storeu_ps(d, _mm_loadu_ps(s));
                    memcpy(d + 4, s + 4, 2 * sizeof(float));
                }
            } else {
                for (int64_t k = 0; k < kc; k++, d += MR, s += lda) {
                    int64_t i = 0;
                    for (; i < mr; i++) d[i] = s[i];
                    for (; i < MR; i++) d[i] = 0.0f;
                }
            }
        } else if (mr == MR) {
            const float *s = A + (i0 + ir) * lda + p0;
            int64_t k = 0;
            /* Transpose 8 k-steps of the 6 rows at a time; each 8-float store writes 6 values and
             * 2 zeros that the next store (or the next panel, or the slack) overwrites. */
            for (; k + 8 <= kc; k += 8) {
                __m256 r0 = _mm256_loadu_ps(s + 0 * lda + k), r1 = _mm256_loadu_ps(s + 1 * lda + k);
                __m256 r2 = _mm256_loadu_ps(s + 2 * lda + k), r3 = _mm256_loadu_ps(s + 3 * lda + k);
                __m256 r4 = _mm256_loadu_ps(s + 4 * lda + k), r5 = _mm256_loadu_ps(s + 5 * lda + k);
                __m256 r6 = _mm256_setzero_ps(), r7 = _mm256_setzero_ps();
                TRANSPOSE8(r0, r1, r2, r3, r4, r5, r6, r7);
                float *dk = d + k * MR;
                _mm256_storeu_ps(dk + 0 * MR, r0);
                _mm256_storeu_ps(dk + 1 * MR, r1);
                _mm256_storeu_ps(dk + 2 * MR, r2);
                _mm256_storeu_ps(dk + 3 * MR, r3);
                _mm256_storeu_ps(dk + 4 * MR, r4);
                _mm256_storeu_ps(dk + 5 * MR, r5);
                _mm256_storeu_ps(dk + 6 * MR, r6);
                _mm256_storeu_ps(dk + 7 * MR, r7);
            }
            for (; k < kc; k++)
                for (int i = 0; i < MR; i++) d[k * MR + i] = s[i * lda + k];
        } else {
            const float *s = A + (i0 + ir) * lda + p0;
            for (int64_t k = 0; k < kc; k++) {
                int64_t i = 0;
                for (; i < mr; i++) d[k * MR + i] = s[i * lda + k];
                for (; i < MR; i++) d[k * MR + i] = 0.0f;
            }
        }
    }
}

DC_AVX2 static void packB_avx2(float *dst, int transB, const float *B, int64_t ldb, int64_t p0,
                               int64_t j0, int64_t kc, int64_t nc) {
    int64_t nfull = nc / NR * NR;
    if (!transB && nfull > 0) {
        /* Row by row, so that B is read sequentially (reading a 16-wide column strip instead
         * strides over rows, which is latency-bound when ldb is a large power of two). */
        const float *s = B + p0 * ldb + j0;
        for (int64_t k = 0; k < kc; k++, s += ldb) {
            float *d = dst + k * NR;
            for (int64_t jr = 0; jr < nfull; jr += NR, d += NR * kc) {
                _mm256_store_ps(d, _mm256_loadu_ps(s + jr));
                _mm256_store_ps(d + 8, _mm256_loadu_ps(s + jr + 8));
            }
        }
    }
    for (int64_t jr = transB ? 0 : nfull; jr < nc; jr += NR) {
        int64_t nr = nc - jr < NR ? nc - jr : NR;
        float *d = dst + jr * kc;
        if (!transB) {
            const float *s = B + p0 * ldb + j0 + jr;
            {
                for (int64_t k = 0; k < kc; k++, d += NR, s += ldb) {
                    int64_t j = 0;
                    for (; j < nr; j++) d[j] = s[j];
                    for (; j < NR; j++) d[j] = 0.0f;
                }
            }
        } else if (nr == NR) {
            const float *s = B + (j0 + jr) * ldb + p0;
            int64_t k = 0;
            for (; k + 8 <= kc; k += 8) {
                for (int h = 0; h < 2; h++) {
                    const float *sh = s + h * 8 * ldb + k;
                    __m256 r0 = _mm256_loadu_ps(sh + 0 * ldb), r1 = _mm256_loadu_ps(sh + 1 * ldb);
                    __m256 r2 = _mm256_loadu_ps(sh + 2 * ldb), r3 = _mm256_loadu_ps(sh + 3 * ldb);
                    __m256 r4 = _mm256_loadu_ps(sh + 4 * ldb), r5 = _mm256_loadu_ps(sh + 5 * ldb);
                    __m256 r6 = _mm256_loadu_ps(sh + 6 * ldb), r7 = _mm256_loadu_ps(sh + 7 * ldb);
                    TRANSPOSE8(r0, r1, r2, r3, r4, r5, r6, r7);
                    float *dk = d + k * NR + h * 8;
                    _mm256_store_ps(dk + 0 * NR, r0);
                    _mm256_store_ps(dk + 1 * NR, r1);
                    _mm256_store_ps(dk + 2 * NR, r2);
                    _mm256_store_ps(dk + 3 * NR, r3);
                    _mm256_store_ps(dk + 4 * NR, r4);
                    _mm256_store_ps(dk + 5 * NR, r5);
                    _mm256_store_ps(dk + 6 * NR, r6);
                    _mm256_store_ps(dk + 7 * NR, r7);
                }
            }
            for (; k < kc; k++)
                for (int j = 0; j < NR; j++) d[k * NR + j] = s[j * ldb + k];
        } else {
            const float *s = B + (j0 + jr) * ldb + p0;
            for (int64_t k = 0; k < kc; k++) {
                int64_t j = 0;
                for (; j < nr; j++) d[k * NR + j] = s[j * ldb + k];
                for (; j < NR; j++) d[k * NR + j] = 0.0f;
            }
        }
    }
}
#undef TRANSPOSE8
#endif /* DC_GEMM_X86 */

/* ------------------------------------------------------------------ AVX-512 path
 * Where the processor has AVX-512 (F), a 16×16 micro-kernel: one zmm of B per k and one
 * accumulator per row (16 of the 32 zmm registers), A broadcast from memory.  The packed B panels
 * are the AVX2 path's (NR = 16).  With MR = NR = 16 a packed A panel has B's layout with the roles
 * of the two operands swapped, so A is packed by the B packer.  Every element of C still gets one
 * fma per k, in the same order, and the same final alpha/beta step: the results are bitwise those
 * of the AVX2 kernel. */
#if DC_GEMM_X86
#define DC_AVX512 __attribute__((target("avx512f,avx2,fma")))
#define MR16 16

DC_AVX512 static void kernel_avx512(int64_t kc, const float *a, const float *b, float *c_out, int64_t rs_c,
                                    int64_t cs_c, float alpha, float beta, int mr, int nr) {
    __m512 acc[MR16];
#pragma GCC unroll 16
    for (int i = 0; i < MR16; i++) acc[i] = _mm512_setzero_ps();
    const int full = (mr == MR16 && nr == NR && cs_c == 1);
    if (full)
        for (int i = 0; i < MR16; i++) _mm_prefetch((const char *)(c_out + i * rs_c), _MM_HINT_T0);
    for (int64_t k = 0; k < kc; k++, a += MR16, b += NR) {
        const __m512 bv = _mm512_load_ps(b);
#pragma GCC unroll 16
        for (int i = 0; i < MR16; i++) acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(a[i]), bv, acc[i]);
    }
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    float *c = c_out;
    int64_t ldc = rs_c;
    __attribute__((aligned(64))) float tmp[MR16 * NR];
    if (!full) {
        c = tmp;
        ldc = NR;
        if (beta != 0.0f) edge_in(tmp, c_out, rs_c, cs_c, mr, nr);
    }
#pragma GCC unroll 16
    for (int i = 0; i < MR16; i++) {
        float *ci = c + i * ldc;
        if (beta == 0.0f) _mm512_storeu_ps(ci, _mm512_mul_ps(va, acc[i]));
        else _mm512_storeu_ps(ci, _mm512_fmadd_ps(va, acc[i], _mm512_mul_ps(vb, _mm512_loadu_ps(ci))));
    }
    if (!full) edge_out(tmp, c_out, rs_c, cs_c, mr, nr);
}

/* A panel (16 rows of op(A), k-major) = a B panel of op(A)ᵀ: transA=1 reads A row by row like an
 * untransposed B, transA=0 transposes like a transposed B. */
static void packA_avx512(float *dst, int transA, const float *A, int64_t lda, int64_t i0, int64_t p0, int64_t mc,
                         int64_t kc) {
    packB_avx2(dst, !transA, A, lda, p0, i0, kc, mc);
}
#endif /* DC_GEMM_X86 */

/* ------------------------------------------------------------------ dispatch */
/* The implementations for this processor (and DC_GEMM_KERNEL): *wide the widest, *narrow the 6-row
 * one.  A product whose C has at most 6 rows or columns runs on the narrow one: a 16-row tile would
 * be mostly padding.  Which one runs changes no bit of C (same fma per element, same order). */
static void pick_impls(gemm_impl *wide, gemm_impl *narrow) {
    const gemm_impl c = {kernel_c, packA_c, packB_c, MR, MC / MR * MR, "portable"};
    *wide = *narrow = c;
    const char *env = getenv("DC_GEMM_KERNEL");
    if (env && strcmp(env, "portable") == 0) return;
#if DC_GEMM_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        const gemm_impl a = {kernel_avx2, packA_avx2, packB_avx2, MR, MC / MR * MR, "avx2-fma 6x16"};
        *wide = *narrow = a;
        const char *simd = getenv("DC_SIMD"); /* DC_SIMD=avx2: no AVX-512 kernel anywhere (conv.h too) */
        if ((env && strcmp(env, "avx2") == 0) || (simd && strcmp(simd, "avx2") == 0)) return;
        if (__builtin_cpu_supports("avx512f")) {
            const gemm_impl z = {kernel_avx512, packA_avx512, packB_avx2, MR16, MC / MR16 * MR16, "avx512f 16x16"};
            *wide = z;
        }
    }
#endif
}

static const gemm_impl *impl_for(const dc_gemm_ctx *ctx, int64_t M, int64_t N) {
    return M <= MR || N <= MR ? &ctx->narrow : &ctx->impl;
}
/* With a packing callback C is never transposed: only its rows decide. */
static const gemm_impl *impl_rows(const dc_gemm_ctx *ctx, int64_t M) { return M <= MR ? &ctx->narrow : &ctx->impl; }

const char *dc_gemm_kernel_name(void) {
    gemm_impl w, n;
    pick_impls(&w, &n);
    return w.name;
}

/* ------------------------------------------------------------------ context */
#define ABUF_FLOATS ((size_t)MC * KC + PACK_SLACK) /* every implementation's mc <= MC */
#define BBUF_FLOATS ((size_t)KC * NC + PACK_SLACK)

dc_status dc_gemm_ctx_create(dc_pool *pool, dc_gemm_ctx **out) {
    if (!out) return DC_ERR(DC_ERR_ARG, "dc_gemm_ctx_create: out is NULL");
    *out = NULL;
    dc_gemm_ctx *g = calloc(1, sizeof *g);
    if (!g) return DC_ERR(DC_ERR_NOMEM, "gemm context");
    g->pool = pool;
    g->nthreads = dc_pool_size(pool);
    pick_impls(&g->impl, &g->narrow);
    g->abuf = calloc((size_t)g->nthreads, sizeof *g->abuf);
    g->bbuf = calloc((size_t)g->nthreads, sizeof *g->bbuf);
    if (!g->abuf || !g->bbuf) {
        dc_gemm_ctx_free(g);
        return DC_ERR(DC_ERR_NOMEM, "gemm context");
    }
    for (int t = 0; t < g->nthreads; t++) {
        g->abuf[t] = aligned_alloc(64, ABUF_FLOATS * sizeof(float)); /* sizes are multiples of 64 */
        g->bbuf[t] = aligned_alloc(64, BBUF_FLOATS * sizeof(float));
        if (!g->abuf[t] || !g->bbuf[t]) {
            dc_gemm_ctx_free(g);
            return DC_ERR(DC_ERR_NOMEM, "gemm packing buffers (%zu KiB per thread)",
                          (ABUF_FLOATS + BBUF_FLOATS) * sizeof(float) / 1024);
        }
    }
    *out = g;
    return DC_OK;
}

void dc_gemm_ctx_free(dc_gemm_ctx *ctx) {
    if (!ctx) return;
    for (int t = 0; t < ctx->nthreads; t++) {
        if (ctx->abuf) free(ctx->abuf[t]);
        if (ctx->bbuf) free(ctx->bbuf[t]);
    }
    free(ctx->abuf);
    free(ctx->bbuf);
    free(ctx);
}

dc_pool *dc_gemm_ctx_pool(dc_gemm_ctx *ctx) { return ctx ? ctx->pool : NULL; }
const char *dc_gemm_ctx_kernel(const dc_gemm_ctx *ctx) { return ctx->impl.name; }

/* ------------------------------------------------------------------ driver */
/* Where op(B) comes from: a plain matrix (packed by the implementation's packB), or a caller's
 * packing callback (implicit B, e.g. convolution's column matrix gathered from the image); j_off
 * is added to the callback's column index when a thread works on a column range of C. */
typedef struct bsrc {
    int transB;
    const float *B;
    int64_t ldb;
    dc_gemm_pack_fn pack;
    const void *pctx;
    int64_t j_off;
    const float *pre; /* B already in packed panels, panel p at pre + p*K*NR (dc_gemm_prepacked_b_st) */
} bsrc;

static inline void pack_b(const gemm_impl *im, const bsrc *b, float *dst, int64_t p0, int64_t j0, int64_t kc,
                          int64_t nc) {
    if (b->pack) b->pack(b->pctx, p0, kc, b->j_off + j0, nc, dst);
    else im->packB(dst, b->transB, b->B, b->ldb, p0, j0, kc, nc);
}

/* The micro-kernels over a packed A block (all M rows) and a packed group of B panels (ng
 * columns; the panel of column jr at bbuf + jr*bld: bld = kc when packed here, K when prepacked).  Row tiles outside, panels inside: C is then written along its rows, a few cache lines
 * at a time.  (Panels outside would walk down all M rows of C per panel; with a row stride that is a
 * multiple of 4 KiB those rows share one L1 set and every store misses.)  Each C element still
 * gets one fma per k in the same order, so results do not change. */
static void run_group(const gemm_impl *im, const float *abuf, const float *bbuf, int64_t bld, int64_t M, int64_t kc,
                      int64_t ng, float *C, int64_t rs_c, int64_t cs_c, float alpha, float bet) {
    const int MRi = im->mr;
    for (int64_t ir = 0; ir < M; ir += MRi) {
        int mr = (int)(M - ir < MRi ? M - ir : MRi);
        for (int64_t jr = 0; jr < ng; jr += NR) {
            int nr = (int)(ng - jr < NR ? ng - jr : NR);
            im->kernel(kc, abuf + ir * kc, bbuf + jr * bld, C + ir * rs_c + jr * cs_c, rs_c, cs_c, alpha, bet, mr, nr);
        }
    }
}

/* C (element (i,j) at C[i*rs_c + j*cs_c]) = alpha·op(A)·op(B) + beta·C on one thread. */
static void gemm_blocked(const gemm_impl *im, float *abuf, float *bbuf, int transA, const bsrc *bs,
                         int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                         float beta, float *C, int64_t rs_c, int64_t cs_c) {
    /* K in near-equal blocks of at most KC (784 = 4×196, not 3×256 + 16): a short last block
     * would pay the C update for little work.  Depends on K only, so on no thread split. */
    int64_t kblocks = (K + KC - 1) / KC, kstep = (K + kblocks - 1) / kblocks;
    kstep = (kstep + 7) / 8 * 8 < KC ? (kstep + 7) / 8 * 8 : KC;
    const int64_t ldb = bs->ldb;
    for (int64_t jc = 0; jc < N; jc += NC) {
        int64_t nc = N - jc < NC ? N - jc : NC;
        for (int64_t pc = 0; pc < K; pc += kstep) {
            int64_t kc = K - pc < kstep ? K - pc : kstep;
            float bet = pc == 0 ? beta : 1.0f;
            if (bs->pre) {
                /* B needs no packing: rows pc.. of each panel are already a kc×NR micro-panel.
                 * Groups of panels (at most 32 KiB) against every row tile, as for packed B. */
                const int64_t group = 8192 / (kc * NR) > 1 ? 8192 / (kc * NR) * NR : NR;
                for (int64_t ic = 0; ic < M; ic += im->mc) {
                    const int64_t mc = M - ic < im->mc ? M - ic : im->mc;
                    im->packA(abuf, transA, A, lda, ic, pc, mc, kc);
                    for (int64_t jg = 0; jg < nc; jg += group) /* panel p at pre + p*K*NR: column j at j*K */
                        run_group(im, abuf, bs->pre + (jc + jg) * K + pc * NR, K, mc, kc, nc - jg < group ? nc - jg : group,
                                  C + ic * rs_c + (jc + jg) * cs_c, rs_c, cs_c, alpha, bet);
                }
                continue;
            }
            /* One A block: each B panel is used by this block only, so pack it just before use,
             * into a small buffer that stays in L1.  Without a transpose that reads a 16-wide strip
             * down kc rows of B; when those rows span more pages than the L1 TLB holds the strip
             * reads become latency-bound, and packing the whole block row by row is faster.
             * A packing callback always takes this path: what it reads is its own business. */
            if (M <= im->mc && (bs->pack || bs->transB || kc * (ldb < 1024 ? ldb : 1024) <= 64 * 1024)) {
                im->packA(abuf, transA, A, lda, 0, pc, M, kc);
                if (bs->pack) {
                    /* A callback packs a group of panels per call (at most 32 KiB, so still L1):
                     * its per-call set-up (an index decomposition) is then paid once per group. */
                    int64_t group = 8192 / (kc * NR) > 1 ? 8192 / (kc * NR) * NR : NR;
                    for (int64_t jg = 0; jg < nc; jg += group) {
                        int64_t ng = nc - jg < group ? nc - jg : group;
                        pack_b(im, bs, bbuf, pc, jc + jg, kc, ng);
                        run_group(im, abuf, bbuf, kc, M, kc, ng, C + (jc + jg) * cs_c, rs_c, cs_c, alpha, bet);
                    }
                    continue;
                }
                /* Plain B: the same groups of panels, each panel packed just before its group. */
                int64_t group = 8192 / (kc * NR) > 1 ? 8192 / (kc * NR) * NR : NR;
                for (int64_t jg = 0; jg < nc; jg += group) {
                    int64_t ng = nc - jg < group ? nc - jg : group;
                    for (int64_t jr = 0; jr < ng; jr += NR)
                        pack_b(im, bs, bbuf + jr * kc, pc, jc + jg + jr, kc, ng - jr < NR ? ng - jr : NR);
                    run_group(im, abuf, bbuf, kc, M, kc, ng, C + (jc + jg) * cs_c, rs_c, cs_c, alpha, bet);
                }
                continue;
            }
            pack_b(im, bs, bbuf, pc, jc, kc, nc);
            for (int64_t ic = 0; ic < M; ic += im->mc) {
                int64_t mc = M - ic < im->mc ? M - ic : im->mc;
                im->packA(abuf, transA, A, lda, ic, pc, mc, kc);
                for (int64_t jr = 0; jr < nc; jr += NR) {
                    int nr = (int)(nc - jr < NR ? nc - jr : NR);
                    const float *bp = bbuf + jr * kc;
                    float *cj = C + ic * rs_c + (jc + jr) * cs_c;
                    for (int64_t ir = 0; ir < mc; ir += im->mr) {
                        int mr = (int)(mc - ir < im->mr ? mc - ir : im->mr);
                        im->kernel(kc, abuf + ir * kc, bp, cj + ir * rs_c, rs_c, cs_c, alpha, bet, mr, nr);
                    }
                }
            }
        }
    }
}

static int64_t tiles(int64_t mr, int64_t m, int64_t n) { return ((m + mr - 1) / mr) * ((n + NR - 1) / NR); }

/* Whether C is computed transposed (Cᵀ = op(B)ᵀ·op(A)ᵀ): when N is narrow, the 16-wide tiles are
 * mostly padding, and the transpose puts N on the mr-tall side. */
static int transposes(const gemm_impl *im, int64_t M, int64_t N) {
    return 10 * tiles(im->mr, N, M) < 8 * tiles(im->mr, M, N);
}

int dc_gemm_transposes(const dc_gemm_ctx *ctx, int64_t M, int64_t N) { return transposes(impl_for(ctx, M, N), M, N); }

static void gemm_serial(const gemm_impl *im, float *abuf, float *bbuf, int transA, int transB,
                        int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                        const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || alpha == 0.0f) {
        scale_c(M, N, beta, C, ldc);
        return;
    }
    /* Each element is still one fma per k in the same order, so the result is bitwise the same
     * either way. */
    if (transposes(im, M, N)) {
        const bsrc bs = {!transA, A, lda, NULL, NULL, 0, NULL};
        gemm_blocked(im, abuf, bbuf, !transB, &bs, N, M, K, alpha, B, ldb, beta, C, 1, ldc);
    } else {
        const bsrc bs = {transB, B, ldb, NULL, NULL, 0, NULL};
        gemm_blocked(im, abuf, bbuf, transA, &bs, M, N, K, alpha, A, lda, beta, C, ldc, 1);
    }
}

void dc_gemm_st(dc_gemm_ctx *ctx, int tid, int transA, int transB, int64_t M, int64_t N, int64_t K,
                float alpha, const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                float *C, int64_t ldc) {
    if (tid < 0 || tid >= ctx->nthreads) tid = 0;
    gemm_serial(impl_for(ctx, M, N), ctx->abuf[tid], ctx->bbuf[tid], transA, transB, M, N, K, alpha, A, lda, B,
                ldb, beta, C, ldc);
}

typedef struct gemm_job {
    dc_gemm_ctx *ctx;
    int transA, transB, split_m, parts;
    int64_t M, N, K, lda, ldb, ldc;
    float alpha, beta;
    const float *A, *B;
    float *C;
} gemm_job;

static void gemm_task(void *vjob, int tid, int nthreads) {
    const gemm_job *j = vjob;
    (void)nthreads;
    if (tid >= j->parts) return;
    int64_t lo, hi;
    if (j->split_m) {
        const int64_t mr = j->ctx->impl.mr;
        dc_split_range((j->M + mr - 1) / mr, j->parts, tid, &lo, &hi);
        lo *= mr;
        hi = hi * mr < j->M ? hi * mr : j->M;
        if (lo >= hi) return;
        const float *A = j->transA ? j->A + lo : j->A + lo * j->lda;
        dc_gemm_st(j->ctx, tid, j->transA, j->transB, hi - lo, j->N, j->K, j->alpha, A, j->lda, j->B,
                   j->ldb, j->beta, j->C + lo * j->ldc, j->ldc);
    } else {
        dc_split_range((j->N + NR - 1) / NR, j->parts, tid, &lo, &hi);
        lo *= NR;
        hi = hi * NR < j->N ? hi * NR : j->N;
        if (lo >= hi) return;
        const float *B = j->transB ? j->B + lo * j->ldb : j->B + lo;
        dc_gemm_st(j->ctx, tid, j->transA, j->transB, j->M, hi - lo, j->K, j->alpha, j->A, j->lda, B,
                   j->ldb, j->beta, j->C + lo, j->ldc);
    }
}

void dc_gemm(dc_gemm_ctx *ctx, int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
             const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    if (M <= 0 || N <= 0) return;
    int nt = ctx->nthreads;
    double flops = 2.0 * (double)M * (double)N * (double)(K > 0 ? K : 1);
    if (nt <= 1 || flops < DC_GEMM_PAR_MIN_FLOPS) {
        dc_gemm_st(ctx, 0, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    int split_m = M >= N;
    int64_t tiles = split_m ? (M + ctx->impl.mr - 1) / ctx->impl.mr : (N + NR - 1) / NR;
    int parts = tiles < nt ? (int)tiles : nt;
    if (parts <= 1) {
        dc_gemm_st(ctx, 0, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    gemm_job job = {ctx, transA, transB, split_m, parts, M, N, K, lda, ldb, ldc, alpha, beta, A, B, C};
    dc_pool_run(ctx->pool, gemm_task, &job);
}

/* ------------------------------------------------------------------ packing callback */
void dc_gemm_packed_b_st(dc_gemm_ctx *ctx, int tid, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                         int64_t lda, int transA, dc_gemm_pack_fn packb, const void *packb_ctx, float beta, float *C,
                         int64_t ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || alpha == 0.0f) {
        scale_c(M, N, beta, C, ldc);
        return;
    }
    if (tid < 0 || tid >= ctx->nthreads) tid = 0;
    const bsrc bs = {0, NULL, 0, packb, packb_ctx, 0, NULL};
    gemm_blocked(impl_rows(ctx, M), ctx->abuf[tid], ctx->bbuf[tid], transA, &bs, M, N, K, alpha, A, lda, beta, C, ldc, 1);
}

void dc_gemm_prepacked_b_st(dc_gemm_ctx *ctx, int tid, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                            int64_t lda, int transA, const float *Bp, float beta, float *C, int64_t ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || alpha == 0.0f) {
        scale_c(M, N, beta, C, ldc);
        return;
    }
    if (tid < 0 || tid >= ctx->nthreads) tid = 0;
    const bsrc bs = {0, NULL, 0, NULL, NULL, 0, Bp};
    gemm_blocked(impl_rows(ctx, M), ctx->abuf[tid], ctx->bbuf[tid], transA, &bs, M, N, K, alpha, A, lda, beta, C, ldc, 1);
}

typedef struct packed_job {
    dc_gemm_ctx *ctx;
    int transA, split_m, parts;
    int64_t M, N, K, lda, ldc;
    float alpha, beta;
    const float *A;
    dc_gemm_pack_fn packb;
    const void *pctx;
    float *C;
} packed_job;

/* Same split as gemm_task: whole mr-row or NR-column tiles, fixed by the sizes and thread count. */
static void packed_task(void *vjob, int tid, int nthreads) {
    const packed_job *j = vjob;
    (void)nthreads;
    if (tid >= j->parts) return;
    dc_gemm_ctx *ctx = j->ctx;
    int64_t lo, hi;
    if (j->split_m) {
        const int64_t mr = j->ctx->impl.mr;
        dc_split_range((j->M + mr - 1) / mr, j->parts, tid, &lo, &hi);
        lo *= mr;
        hi = hi * mr < j->M ? hi * mr : j->M;
        if (lo >= hi) return;
        const float *A = j->transA ? j->A + lo : j->A + lo * j->lda;
        dc_gemm_packed_b_st(ctx, tid, hi - lo, j->N, j->K, j->alpha, A, j->lda, j->transA, j->packb, j->pctx, j->beta,
                            j->C + lo * j->ldc, j->ldc);
    } else {
        dc_split_range((j->N + NR - 1) / NR, j->parts, tid, &lo, &hi);
        lo *= NR;
        hi = hi * NR < j->N ? hi * NR : j->N;
        if (lo >= hi) return;
        /* the callback sees absolute columns: offset them by this thread's first column */
        const bsrc bs = {0, NULL, 0, j->packb, j->pctx, lo, NULL};
        if (j->K <= 0 || j->alpha == 0.0f) scale_c(j->M, hi - lo, j->beta, j->C + lo, j->ldc);
        else
            gemm_blocked(impl_rows(ctx, j->M), ctx->abuf[tid], ctx->bbuf[tid], j->transA, &bs, j->M, hi - lo, j->K,
                         j->alpha, j->A, j->lda, j->beta, j->C + lo, j->ldc, 1);
    }
}

void dc_gemm_packed_b(dc_gemm_ctx *ctx, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                      int transA, dc_gemm_pack_fn packb, const void *packb_ctx, float beta, float *C, int64_t ldc) {
    if (M <= 0 || N <= 0) return;
    int nt = ctx->nthreads;
    double flops = 2.0 * (double)M * (double)N * (double)(K > 0 ? K : 1);
    int split_m = M >= N;
    int64_t t = split_m ? (M + ctx->impl.mr - 1) / ctx->impl.mr : (N + NR - 1) / NR;
    int parts = t < nt ? (int)t : nt;
    if (nt <= 1 || flops < DC_GEMM_PAR_MIN_FLOPS || parts <= 1) {
        dc_gemm_packed_b_st(ctx, 0, M, N, K, alpha, A, lda, transA, packb, packb_ctx, beta, C, ldc);
        return;
    }
    packed_job job = {ctx, transA, split_m, parts, M, N, K, lda, ldc, alpha, beta, A, packb, packb_ctx, C};
    dc_pool_run(ctx->pool, packed_task, &job);
}
