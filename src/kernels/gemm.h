/* gemm.h — single-precision matrix multiply, the hot path of Linear and (later) convolution.
 *
 *   C[M×N] = alpha · op(A) · op(B) + beta · C        (row-major)
 *   op(A) is M×K: element (m,k) is A[m*lda + k], or A[k*lda + m] when transA.
 *   op(B) is K×N: element (k,n) is B[k*ldb + n], or B[n*ldb + k] when transB.
 *   beta == 0 overwrites C without reading it (NaN in C does not leak through).
 *
 * dc_gemm_ref is the plain triple loop the tests compare against.  dc_gemm is the fast path: packed,
 * cache-blocked, with an AVX2/FMA micro-kernel chosen at run time (portable C fallback otherwise),
 * split over the threads of the context's pool.  dc_gemm_st does the same work on one thread with
 * thread `tid`'s packing buffers, for callers already inside a pool task.
 * Results do not depend on timing: each element of C is computed by one thread in a fixed order.
 */
#ifndef DC_KERNELS_GEMM_H
#define DC_KERNELS_GEMM_H

#include "deepc.h"

void dc_gemm_ref(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                 const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                 float *C, int64_t ldc);

typedef struct dc_gemm_ctx dc_gemm_ctx;

/* Allocates fixed-size packing buffers for each thread of `pool` (pool may be NULL: one thread).
 * The buffers do not depend on the matrix sizes, so no call to dc_gemm allocates. */
dc_status dc_gemm_ctx_create(dc_pool *pool, dc_gemm_ctx **out);
void dc_gemm_ctx_free(dc_gemm_ctx *ctx);
dc_pool *dc_gemm_ctx_pool(dc_gemm_ctx *ctx);

void dc_gemm(dc_gemm_ctx *ctx, int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
             const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

void dc_gemm_st(dc_gemm_ctx *ctx, int tid, int transA, int transB, int64_t M, int64_t N, int64_t K,
                float alpha, const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                float *C, int64_t ldc);

/* ---- GEMM with a caller-supplied B packer ("implicit" B: never materialised as a matrix).
 *
 *   C[M×N] = alpha · op(A) · B + beta · C,   B (K×N) known only through `packb`.
 *
 * packb(packb_ctx, k0, kc, j0, nc, dst) must write B[k0..k0+kc) × [j0..j0+nc) into dst in the
 * micro-kernel's packed layout: ceil(nc/DC_GEMM_NR) panels one after the other, panel r holding
 * columns j0 + r·NR .. +NR, element (k, j) of panel r at dst[r·NR·kc + k·NR + j], columns past nc
 * written as zeros.  dst is 64-byte aligned and holds exactly ceil(nc/NR)·NR·kc floats.  It is
 * called from several threads at once (with different dst), so it must not write to packb_ctx.
 * The blocking, the order of the sums and hence the bits of C are those of dc_gemm with the same
 * B as a plain matrix (except that dc_gemm may compute a narrow C transposed, which this never does). */
#define DC_GEMM_NR 16
typedef void (*dc_gemm_pack_fn)(const void *ctx, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float *dst);

void dc_gemm_packed_b(dc_gemm_ctx *ctx, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                      int transA, dc_gemm_pack_fn packb, const void *packb_ctx, float beta, float *C, int64_t ldc);
/* The same on one thread with thread `tid`'s packing buffers (for callers inside a pool task). */
void dc_gemm_packed_b_st(dc_gemm_ctx *ctx, int tid, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                         int64_t lda, int transA, dc_gemm_pack_fn packb, const void *packb_ctx, float beta, float *C,
                         int64_t ldc);

/* The same with B already in that packed layout for all of K: ceil(N/DC_GEMM_NR) panels, panel p at
 * Bp + p·K·DC_GEMM_NR holding columns p·NR .. +NR, element (k, j) at [k·NR + j] (columns past N may
 * hold anything: their products are discarded); Bp 64-byte aligned.  One thread, thread tid's A buffer; the bits of C are
 * those of dc_gemm_packed_b_st with the same B. */
void dc_gemm_prepacked_b_st(dc_gemm_ctx *ctx, int tid, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                            int64_t lda, int transA, const float *Bp, float beta, float *C, int64_t ldc);

/* Name of the micro-kernel a new context picks ("avx512f 16x16", "avx2-fma 6x16" or "portable";
 * DC_GEMM_KERNEL=portable or =avx2, or DC_SIMD=avx2, in the environment forces one), for logs and benchmarks. */
const char *dc_gemm_kernel_name(void);
/* The widest micro-kernel ctx runs (products with at most 6 rows or columns run on the 6-row one). */
const char *dc_gemm_ctx_kernel(const dc_gemm_ctx *ctx);
/* Whether dc_gemm_st on ctx computes an M×N product as Cᵀ (narrow N; the bits are the same). */
int dc_gemm_transposes(const dc_gemm_ctx *ctx, int64_t M, int64_t N);

#endif
