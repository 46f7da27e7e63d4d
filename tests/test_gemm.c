/* test_gemm.c — dc_gemm / dc_gemm_st against the reference loop: odd shapes, all transposes,
 * alpha/beta, padded strides, beta==0 ignoring NaN, degenerate sizes, determinism; and
 * dc_gemm_packed_b / _st (B through a packing callback) with a trivial packer over a plain matrix. */
#include "test.h"
#include "kernels/gemm.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

/* One random problem with padded strides; returns the number of mismatches. */
typedef struct {
    int tA, tB;
    int64_t M, N, K, pad;
    float alpha, beta;
} gemm_case;

static void fill(dc_rng *r, float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = 2.0f * dc_rng_uniform(r) - 1.0f;
}

/* Which implementation to run: 0 = dc_gemm on ctx, 1 = dc_gemm_st(tid) on ctx. */
static int run_case(dc_gemm_ctx *ctx, int mode, int tid, const gemm_case *gc, dc_rng *r) {
    int64_t M = gc->M, N = gc->N, K = gc->K, pad = gc->pad;
    int64_t arows = gc->tA ? K : M, acols = gc->tA ? M : K;
    int64_t brows = gc->tB ? N : K, bcols = gc->tB ? K : N;
    int64_t lda = acols + pad, ldb = bcols + pad, ldc = N + pad;
    size_t an = (size_t)(arows * lda) + 1, bn = (size_t)(brows * ldb) + 1, cn = (size_t)(M * ldc) + 1;
    float *A = malloc(an * sizeof *A), *B = malloc(bn * sizeof *B);
    float *C = malloc(cn * sizeof *C), *R = malloc(cn * sizeof *R);
    fill(r, A, (int64_t)an);
    fill(r, B, (int64_t)bn);
    fill(r, C, (int64_t)cn);
    memcpy(R, C, cn * sizeof *C);
    if (mode == 0)
        dc_gemm(ctx, gc->tA, gc->tB, M, N, K, gc->alpha, A, lda, B, ldb, gc->beta, C, ldc);
    else
        dc_gemm_st(ctx, tid, gc->tA, gc->tB, M, N, K, gc->alpha, A, lda, B, ldb, gc->beta, C, ldc);
    dc_gemm_ref(gc->tA, gc->tB, M, N, K, gc->alpha, A, lda, B, ldb, gc->beta, R, ldc);
    /* |a|,|b|,|c| <= 1: the sum has magnitude <= K; error grows like sqrt(K)·eps·K at worst. */
    double mag = fabs(gc->alpha) * (double)(K > 0 ? K : 1) + fabs(gc->beta);
    double tol = 4.0 * sqrt((double)(K > 0 ? K : 1)) * FLT_EPSILON * mag + 1e-6;
    int bad = 0;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < ldc; j++) {
            float c = C[i * ldc + j], ref = R[i * ldc + j];
            if (j >= N) { /* padding must be untouched */
                if (memcmp(&c, &ref, sizeof c) != 0) bad++;
                continue;
            }
            if (!(fabs((double)c - ref) <= tol)) {
                if (bad < 3)
                    dc_test_fail(__FILE__, __LINE__,
                                 "tA=%d tB=%d M=%lld N=%lld K=%lld alpha=%g beta=%g: C[%lld,%lld] = %.9g, ref %.9g",
                                 gc->tA, gc->tB, (long long)M, (long long)N, (long long)K, gc->alpha,
                                 gc->beta, (long long)i, (long long)j, c, ref);
                bad++;
            }
        }
    if (memcmp(&C[cn - 1], &R[cn - 1], sizeof(float)) != 0) bad++; /* past the end */
    free(A);
    free(B);
    free(C);
    free(R);
    return bad;
}

static const int64_t odd_sizes[] = {1, 2, 5, 6, 7, 13, 16, 17, 33, 65, 129};
#define NODD ((int)(sizeof odd_sizes / sizeof odd_sizes[0]))

static int random_cases(dc_gemm_ctx *ctx, int mode, int tid, int count, uint64_t seed) {
    dc_rng r;
    dc_rng_seed(&r, seed);
    static const float betas[] = {0.0f, 1.0f, 0.5f};
    static const float alphas[] = {1.0f, -0.75f, 2.0f};
    int bad = 0;
    for (int t = 0; t < count; t++) {
        gemm_case gc;
        gc.tA = t & 1;
        gc.tB = (t >> 1) & 1;
        gc.M = odd_sizes[dc_rng_below(&r, NODD)];
        gc.N = odd_sizes[dc_rng_below(&r, NODD)];
        gc.K = odd_sizes[dc_rng_below(&r, NODD)];
        gc.pad = (int64_t)dc_rng_below(&r, 3) * 3;
        gc.alpha = alphas[dc_rng_below(&r, 3)];
        gc.beta = betas[(t >> 2) % 3];
        bad += run_case(ctx, mode, tid, &gc, &r);
    }
    return bad;
}

TEST(gemm_kernel_name) {
    const char *n = dc_gemm_kernel_name();
    CHECK(n && (strcmp(n, "portable") == 0 || strcmp(n, "avx2-fma 6x16") == 0 || strcmp(n, "avx512f 16x16") == 0));
}

/* A context created with DC_GEMM_KERNEL=name (the environment restored after). */
static dc_gemm_ctx *ctx_with_kernel(const char *name, dc_pool *pool) {
    char *old = getenv("DC_GEMM_KERNEL");
    char saved[64] = "";
    if (old) snprintf(saved, sizeof saved, "%s", old);
    setenv("DC_GEMM_KERNEL", name, 1);
    dc_gemm_ctx *g = NULL;
    CHECK_OK(dc_gemm_ctx_create(pool, &g));
    if (old) setenv("DC_GEMM_KERNEL", saved, 1);
    else unsetenv("DC_GEMM_KERNEL");
    return g;
}

TEST(gemm_random_shapes_two_threads) {
    dc_pool *p = NULL;
    dc_gemm_ctx *g = NULL;
    CHECK_OK(dc_pool_create(2, &p));
    CHECK_OK(dc_gemm_ctx_create(p, &g));
    if (!g) return;
    CHECK(dc_gemm_ctx_pool(g) == p);
    CHECK(random_cases(g, 0, 0, 240, 1) == 0);
    CHECK(random_cases(g, 1, 1, 60, 2) == 0); /* dc_gemm_st with thread 1's buffers */
    dc_gemm_ctx_free(g);
    dc_pool_free(p);
}

TEST(gemm_random_shapes_one_thread) {
    dc_gemm_ctx *g = NULL;
    CHECK_OK(dc_gemm_ctx_create(NULL, &g));
    if (!g) return;
    CHECK(dc_gemm_ctx_pool(g) == NULL);
    CHECK(random_cases(g, 0, 0, 120, 3) == 0);
    CHECK(random_cases(g, 1, 0, 60, 4) == 0);
    dc_gemm_ctx_free(g);
}

/* Shapes that cross the KC / MC blocking boundaries and the thread split, and the MLP shapes. */
TEST(gemm_blocking_boundaries) {
    dc_pool *p = NULL;
    dc_gemm_ctx *g = NULL;
    CHECK_OK(dc_pool_create(2, &p));
    CHECK_OK(dc_gemm_ctx_create(p, &g));
    if (!g) return;
    dc_rng r;
    dc_rng_seed(&r, 5);
    static const int64_t shapes[][3] = {{128, 256, 784}, {784, 40, 128}, {128, 10, 256}, {6, 460, 25},
                                        {257, 33, 513},  {181, 170, 300}, {40, 4200, 9}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++) {
            gemm_case gc = {t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2], t == 3 ? 5 : 0,
                            t == 2 ? 0.5f : 1.0f, (float)(t % 2)};
            CHECK(run_case(g, 0, 0, &gc, &r) == 0);
        }
    dc_gemm_ctx_free(g);
    dc_pool_free(p);
}

static int random_packed_cases(dc_gemm_ctx *ctx, int mode, int tid, int count, uint64_t seed);

TEST(gemm_portable_kernel) {
    /* The environment variable is read when a context is created. */
    dc_gemm_ctx *g = ctx_with_kernel("portable", NULL);
    if (!g) return;
    CHECK(strcmp(dc_gemm_ctx_kernel(g), "portable") == 0);
    CHECK(random_cases(g, 0, 0, 60, 6) == 0);
    dc_rng r;
    dc_rng_seed(&r, 7);
    gemm_case gc = {1, 1, 70, 50, 300, 2, 0.5f, 0.5f};
    CHECK(run_case(g, 0, 0, &gc, &r) == 0);
    CHECK(random_packed_cases(g, 0, 0, 30, 15) == 0);
    dc_gemm_ctx_free(g);
}

TEST(gemm_beta_zero_ignores_nan) {
    dc_pool *p = NULL;
    dc_gemm_ctx *g = NULL;
    CHECK_OK(dc_pool_create(2, &p));
    CHECK_OK(dc_gemm_ctx_create(p, &g));
    if (!g) return;
    enum { M = 37, N = 45, K = 19 };
    static float A[M * K], B[K * N], C[M * N], R[M * N];
    dc_rng r;
    dc_rng_seed(&r, 8);
    fill(&r, A, M * K);
    fill(&r, B, K * N);
    for (int t = 0; t < 4; t++) {
        for (int i = 0; i < M * N; i++) C[i] = R[i] = NAN;
        int lda = (t & 1) ? M : K, ldb = (t & 2) ? K : N;
        dc_gemm(g, t & 1, t >> 1, M, N, K, 1.5f, A, lda, B, ldb, 0.0f, C, N);
        dc_gemm_ref(t & 1, t >> 1, M, N, K, 1.5f, A, lda, B, ldb, 0.0f, R, N);
        int bad = 0;
        for (int i = 0; i < M * N; i++) bad += !(fabsf(C[i] - R[i]) <= 1e-5f);
        CHECK_MSG(bad == 0, "transpose %d: %d elements differ or are NaN", t, bad);
    }
    /* alpha == 0 or K == 0 with beta == 0: zeros, A and B unread. */
    for (int i = 0; i < M * N; i++) C[i] = NAN;
    dc_gemm(g, 0, 0, M, N, K, 0.0f, A, K, B, N, 0.0f, C, N);
    int nz = 0;
    for (int i = 0; i < M * N; i++) nz += C[i] != 0.0f;
    CHECK(nz == 0);
    for (int i = 0; i < M * N; i++) C[i] = NAN;
    dc_gemm(g, 0, 0, M, N, 0, 1.0f, NULL, 1, NULL, 1, 0.0f, C, N);
    nz = 0;
    for (int i = 0; i < M * N; i++) nz += C[i] != 0.0f;
    CHECK(nz == 0);
    dc_gemm_ctx_free(g);
    dc_pool_free(p);
}

TEST(gemm_degenerate_sizes) {
    dc_gemm_ctx *g = NULL;
    CHECK_OK(dc_gemm_ctx_create(NULL, &g));
    if (!g) return;
    float C[6] = {1, 2, 3, 4, 5, 6};
    dc_gemm(g, 0, 0, 0, 3, 4, 1.0f, NULL, 4, NULL, 3, 0.0f, C, 3); /* M == 0: nothing */
    dc_gemm(g, 0, 0, 2, 0, 4, 1.0f, NULL, 4, NULL, 3, 0.0f, C, 3); /* N == 0: nothing */
    CHECK(C[0] == 1 && C[5] == 6);
    dc_gemm(g, 0, 0, 2, 3, 0, 1.0f, NULL, 1, NULL, 3, 2.0f, C, 3); /* K == 0: C = beta·C */
    CHECK(C[0] == 2 && C[5] == 12);
    dc_gemm(g, 1, 1, 2, 3, 0, 1.0f, NULL, 1, NULL, 1, 1.0f, C, 3);
    CHECK(C[0] == 2 && C[5] == 12);
    dc_gemm_st(g, 0, 0, 0, 2, 3, 0, 1.0f, NULL, 1, NULL, 3, 0.0f, C, 3);
    CHECK(C[0] == 0 && C[5] == 0);
    /* 1×1×1 */
    float a = 3, b = -2, c = 10;
    dc_gemm(g, 0, 0, 1, 1, 1, 0.5f, &a, 1, &b, 1, 1.0f, &c, 1);
    CHECK_NEAR(c, 7.0, 0.0);
    dc_gemm_ctx_free(g);
}

TEST(gemm_deterministic) {
    dc_pool *p = NULL;
    dc_gemm_ctx *g = NULL, *g1 = NULL;
    CHECK_OK(dc_pool_create(2, &p));
    CHECK_OK(dc_gemm_ctx_create(p, &g));
    CHECK_OK(dc_gemm_ctx_create(NULL, &g1));
    if (!g || !g1) return;
    enum { M = 150, N = 130, K = 600 };
    float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N);
    float *C1 = malloc(sizeof(float) * M * N), *C2 = malloc(sizeof(float) * M * N);
    float *C3 = malloc(sizeof(float) * M * N);
    dc_rng r;
    dc_rng_seed(&r, 9);
    fill(&r, A, M * K);
    fill(&r, B, K * N);
    for (int t = 0; t < 4; t++) {
        int lda = (t & 1) ? M : K, ldb = (t & 2) ? K : N;
        fill(&r, C1, M * N);
        memcpy(C2, C1, sizeof(float) * M * N);
        memcpy(C3, C1, sizeof(float) * M * N);
        dc_gemm(g, t & 1, t >> 1, M, N, K, 1.25f, A, lda, B, ldb, 0.5f, C1, N);
        dc_gemm(g, t & 1, t >> 1, M, N, K, 1.25f, A, lda, B, ldb, 0.5f, C2, N);
        dc_gemm(g1, t & 1, t >> 1, M, N, K, 1.25f, A, lda, B, ldb, 0.5f, C3, N);
        CHECK(memcmp(C1, C2, sizeof(float) * M * N) == 0);
        /* The design also makes the result independent of the thread count. */
        CHECK(memcmp(C1, C3, sizeof(float) * M * N) == 0);
    }
    free(A);
    free(B);
    free(C1);
    free(C2);
    free(C3);
    dc_gemm_ctx_free(g);
    dc_gemm_ctx_free(g1);
    dc_pool_free(p);
}

TEST(gemm_ctx_create_rejects_null) {
    CHECK_ERR(dc_gemm_ctx_create(NULL, NULL), DC_ERR_ARG);
    dc_gemm_ctx_free(NULL);
}

/* ---------------------------------------------------------------- packed-B variant */
/* The trivial packer: op(B) is a plain matrix (row-major K×N, or N×K when trans). */
typedef struct plain_b {
    const float *B;
    int64_t ldb, K, N;
    int trans;
} plain_b;

static void pack_plain(const void *vctx, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float *dst) {
    const plain_b *p = vctx;
    if (k0 < 0 || kc < 1 || k0 + kc > p->K || j0 < 0 || nc < 1 || j0 + nc > p->N) {
        dc_test_fail(__FILE__, __LINE__, "packer asked for rows %lld+%lld, columns %lld+%lld of %lldx%lld",
                     (long long)k0, (long long)kc, (long long)j0, (long long)nc, (long long)p->K, (long long)p->N);
        return;
    }
    for (int64_t jr = 0; jr < nc; jr += DC_GEMM_NR)
        for (int64_t k = 0; k < kc; k++)
            for (int64_t j = 0; j < DC_GEMM_NR; j++) {
                const int64_t r = k0 + k, c = j0 + jr + j;
                dst[jr * kc + k * DC_GEMM_NR + j] = jr + j >= nc ? 0.0f : p->trans ? p->B[c * p->ldb + r] : p->B[r * p->ldb + c];
            }
}

/* mode 0: dc_gemm_packed_b; 1: dc_gemm_packed_b_st(tid).  Also checks bitwise equality with dc_gemm
 * on the same plain B when dc_gemm does not compute the product transposed (N not narrow). */
static int run_packed_case(dc_gemm_ctx *ctx, int mode, int tid, const gemm_case *gc, dc_rng *r) {
    int64_t M = gc->M, N = gc->N, K = gc->K, pad = gc->pad;
    int64_t arows = gc->tA ? K : M, acols = gc->tA ? M : K;
    int64_t brows = gc->tB ? N : K, bcols = gc->tB ? K : N;
    int64_t lda = acols + pad, ldb = bcols + pad, ldc = N + pad;
    size_t an = (size_t)(arows * lda), bn = (size_t)(brows * ldb), cn = (size_t)(M * ldc) + 1;
    float *A = malloc(an * sizeof *A), *B = malloc(bn * sizeof *B);
    float *C = malloc(cn * sizeof *C), *R = malloc(cn * sizeof *R), *G = malloc(cn * sizeof *G);
    fill(r, A, (int64_t)an);
    fill(r, B, (int64_t)bn);
    fill(r, C, (int64_t)cn);
    memcpy(R, C, cn * sizeof *C);
    memcpy(G, C, cn * sizeof *C);
    const plain_b pb = {B, ldb, K, N, gc->tB};
    if (mode == 0) dc_gemm_packed_b(ctx, M, N, K, gc->alpha, A, lda, gc->tA, pack_plain, &pb, gc->beta, C, ldc);
    else dc_gemm_packed_b_st(ctx, tid, M, N, K, gc->alpha, A, lda, gc->tA, pack_plain, &pb, gc->beta, C, ldc);
    dc_gemm_ref(gc->tA, gc->tB, M, N, K, gc->alpha, A, lda, B, ldb, gc->beta, R, ldc);
    double mag = fabs(gc->alpha) * (double)(K > 0 ? K : 1) + fabs(gc->beta);
    double tol = 4.0 * sqrt((double)(K > 0 ? K : 1)) * FLT_EPSILON * mag + 1e-6;
    int bad = 0;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < ldc; j++) {
            float c = C[i * ldc + j], ref = R[i * ldc + j];
            if (j >= N ? memcmp(&c, &ref, sizeof c) != 0 : !(fabs((double)c - ref) <= tol)) {
                if (bad < 3)
                    dc_test_fail(__FILE__, __LINE__,
                                 "packed B: tA=%d tB=%d M=%lld N=%lld K=%lld alpha=%g beta=%g: C[%lld,%lld] = %.9g, ref %.9g",
                                 gc->tA, gc->tB, (long long)M, (long long)N, (long long)K, gc->alpha, gc->beta,
                                 (long long)i, (long long)j, c, ref);
                bad++;
            }
        }
    if (memcmp(&C[cn - 1], &R[cn - 1], sizeof(float)) != 0) bad++; /* past the end */
    /* unless dc_gemm computes Cᵀ (narrow N): otherwise the same blocking, the same bits */
    if (!dc_gemm_transposes(ctx, M, N)) {
        dc_gemm(ctx, gc->tA, gc->tB, M, N, K, gc->alpha, A, lda, B, ldb, gc->beta, G, ldc);
        if (memcmp(C, G, cn * sizeof *C) != 0) {
            dc_test_fail(__FILE__, __LINE__, "packed B differs from dc_gemm bitwise: M=%lld N=%lld K=%lld", (long long)M,
                         (long long)N, (long long)K);
            bad++;
        }
    }
    free(A);
    free(B);
    free(C);
    free(R);
    free(G);
    return bad;
}

static int random_packed_cases(dc_gemm_ctx *ctx, int mode, int tid, int count, uint64_t seed) {
    dc_rng r;
    dc_rng_seed(&r, seed);
    static const float betas[] = {0.0f, 1.0f, 0.5f};
    static const float alphas[] = {1.0f, -0.75f, 2.0f};
    int bad = 0;
    for (int t = 0; t < count; t++) {
        gemm_case gc;
        gc.tA = t & 1;
        gc.tB = (t >> 1) & 1;
        gc.M = odd_sizes[dc_rng_below(&r, NODD)];
        gc.N = odd_sizes[dc_rng_below(&r, NODD)];
        gc.K = odd_sizes[dc_rng_below(&r, NODD)];
        gc.pad = (int64_t)dc_rng_below(&r, 3) * 3;
        gc.alpha = alphas[dc_rng_below(&r, 3)];
        gc.beta = betas[(t >> 2) % 3];
        bad += run_packed_case(ctx, mode, tid, &gc, &r);
    }
    return bad;
}

TEST(gemm_packed_b_random_shapes) {
    dc_pool *p = NULL;
    dc_gemm_ctx *g2 = NULL, *g1 = NULL;
    CHECK_OK(dc_pool_create(2, &p));
    CHECK_OK(dc_gemm_ctx_create(p, &g2));
    CHECK_OK(dc_gemm_ctx_create(NULL, &g1));
    if (!g2 || !g1) return;
    CHECK(random_packed_cases(g2, 0, 0, 160, 11) == 0);
    CHECK(random_packed_cases(g2, 1, 1, 40, 12) == 0); /* _st with thread 1's buffers */
    CHECK(random_packed_cases(g1, 0, 0, 80, 13) == 0);
    dc_gemm_ctx_free(g1);
    dc_gemm_ctx_free(g2);
    dc_pool_free(p);
}

/* Blocking boundaries: M > MC (whole-block packing), K > KC (several depth blocks), N > NC, the
 * conv shapes (wide N, small M; tiny N, deep K), and the thread split by rows and by columns. */
TEST(gemm_packed_b_blocking_boundaries) {
    dc_pool *p = NULL;
    dc_gemm_ctx *g = NULL, *g1 = NULL;
    CHECK_OK(dc_pool_create(2, &p));
    CHECK_OK(dc_gemm_ctx_create(p, &g));
    CHECK_OK(dc_gemm_ctx_create(NULL, &g1));
    if (!g || !g1) return;
    dc_rng r;
    dc_rng_seed(&r, 14);
    static const int64_t shapes[][3] = {{6, 4608, 25}, {16, 1030, 150}, {6, 25, 4608}, {257, 33, 513},
                                        {181, 170, 300}, {40, 4200, 9},  {200, 9000, 3}, {1, 1, 1}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++) {
            gemm_case gc = {t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2], t == 3 ? 5 : 0,
                            t == 2 ? 0.5f : 1.0f, (float)(t % 2)};
            CHECK(run_packed_case(t % 2 ? g1 : g, 0, 0, &gc, &r) == 0);
        }
    /* alpha == 0 and K == 0: C = beta·C without calling the packer */
    float C[6] = {1, 2, 3, 4, 5, 6};
    const plain_b none = {NULL, 1, 0, 3, 0};
    dc_gemm_packed_b(g, 2, 3, 0, 1.0f, NULL, 1, 0, pack_plain, &none, 2.0f, C, 3);
    CHECK(C[0] == 2 && C[5] == 12);
    dc_gemm_packed_b_st(g, 1, 2, 3, 0, 1.0f, NULL, 1, 0, pack_plain, &none, 0.0f, C, 3);
    CHECK(C[0] == 0 && C[5] == 0);
    dc_gemm_ctx_free(g);
    dc_gemm_ctx_free(g1);
    dc_pool_free(p);
}

/* The vector kernels against the reference (the AVX2 one too where the default is AVX-512), and
 * against each other: the same fma per element in the same order, so the same bits. */
TEST(gemm_avx2_kernel_forced) {
    dc_pool *p = NULL;
    CHECK_OK(dc_pool_create(2, &p));
    dc_gemm_ctx *g = ctx_with_kernel("avx2", p);
    if (!g) return;
    const char *n = dc_gemm_ctx_kernel(g); /* AVX2, or the portable kernel where there is no AVX2 */
    CHECK(strcmp(n, "avx2-fma 6x16") == 0 || strcmp(n, "portable") == 0);
    CHECK(random_cases(g, 0, 0, 120, 21) == 0);
    CHECK(random_packed_cases(g, 0, 0, 60, 22) == 0);
    dc_gemm_ctx_free(g);
    dc_pool_free(p);
}

TEST(gemm_kernels_bitwise_equal) {
    dc_pool *p = NULL;
    CHECK_OK(dc_pool_create(2, &p));
    dc_gemm_ctx *gd = NULL, *g2 = ctx_with_kernel("avx2", p);
    CHECK_OK(dc_gemm_ctx_create(p, &gd));
    if (!gd || !g2) return;
    if (strcmp(dc_gemm_kernel_name(), "avx512f 16x16") != 0)
        printf("  (default kernel %s: compared with itself)\n", dc_gemm_kernel_name());
    else
        CHECK(strcmp(dc_gemm_ctx_kernel(gd), "avx512f 16x16") == 0);
    dc_rng r;
    dc_rng_seed(&r, 23);
    static const int64_t shapes[][3] = {{16, 784, 144}, {64, 49, 576}, {10, 128, 1024}, {128, 10, 416},
                                        {170, 181, 300}, {200, 37, 700}, {5, 7, 3},      {33, 4200, 9}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++) {
            const int64_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
            const int tA = t & 1, tB = t >> 1;
            const int64_t lda = tA ? M : K, ldb = tB ? K : N;
            float *A = malloc(sizeof(float) * (size_t)(M * K)), *B = malloc(sizeof(float) * (size_t)(K * N));
            float *C1 = malloc(sizeof(float) * (size_t)(M * N)), *C2 = malloc(sizeof(float) * (size_t)(M * N));
            fill(&r, A, M * K);
            fill(&r, B, K * N);
            fill(&r, C1, M * N);
            memcpy(C2, C1, sizeof(float) * (size_t)(M * N));
            const float beta = t == 3 ? 0.5f : 0.0f;
            dc_gemm(gd, tA, tB, M, N, K, 1.5f, A, lda, B, ldb, beta, C1, N);
            dc_gemm(g2, tA, tB, M, N, K, 1.5f, A, lda, B, ldb, beta, C2, N);
            CHECK_MSG(memcmp(C1, C2, sizeof(float) * (size_t)(M * N)) == 0, "%lldx%lldx%lld tA=%d tB=%d: kernels differ",
                      (long long)M, (long long)N, (long long)K, tA, tB);
            free(A);
            free(B);
            free(C1);
            free(C2);
        }
    dc_gemm_ctx_free(gd);
    dc_gemm_ctx_free(g2);
    dc_pool_free(p);
}

/* B handed over already packed for all of K (the Winograd forward's V): the same bits as the packing
 * callback, with NaN in the padding columns (whose products must be discarded). */
TEST(gemm_prepacked_b_matches_packed_b) {
    dc_pool *p = NULL;
    dc_gemm_ctx *g = NULL, *g2 = NULL;
    CHECK_OK(dc_pool_create(2, &p));
    CHECK_OK(dc_gemm_ctx_create(p, &g));
    g2 = ctx_with_kernel("avx2", p);
    if (!g || !g2) return;
    dc_rng r;
    dc_rng_seed(&r, 31);
    static const int64_t shapes[][3] = {{64, 120, 64}, {16, 40, 16},  {128, 264, 300}, {5, 33, 7},
                                        {200, 17, 513}, {33, 4200, 9}, {1, 1, 1},       {64, 8, 640}};
    for (int k = 0; k < 2; k++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int t = 0; t < 2; t++) {
                dc_gemm_ctx *ctx = k ? g2 : g;
                const int64_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2], panels = (N + DC_GEMM_NR - 1) / DC_GEMM_NR;
                const int tA = t;
                float *A = malloc(sizeof(float) * (size_t)(M * K)), *B = malloc(sizeof(float) * (size_t)(K * N));
                float *Bp = aligned_alloc(64, sizeof(float) * (size_t)(panels * DC_GEMM_NR * K)); /* 64 | 16·4·K */
                float *C1 = malloc(sizeof(float) * (size_t)(M * N)), *C2 = malloc(sizeof(float) * (size_t)(M * N));
                fill(&r, A, M * K);
                fill(&r, B, K * N);
                fill(&r, C1, M * N);
                memcpy(C2, C1, sizeof(float) * (size_t)(M * N));
                const plain_b pb = {B, N, K, N, 0};
                pack_plain(&pb, 0, K, 0, N, Bp);
                for (int64_t q = 0; q < K; q++)
                    for (int64_t j = N; j < panels * DC_GEMM_NR; j++) Bp[(j / DC_GEMM_NR) * K * DC_GEMM_NR + q * DC_GEMM_NR + j % DC_GEMM_NR] = NAN;
                const float beta = s % 2 ? 0.5f : 0.0f;
                dc_gemm_packed_b_st(ctx, 1, M, N, K, 1.25f, A, tA ? M : K, tA, pack_plain, &pb, beta, C1, N);
                dc_gemm_prepacked_b_st(ctx, 1, M, N, K, 1.25f, A, tA ? M : K, tA, Bp, beta, C2, N);
                CHECK_MSG(memcmp(C1, C2, sizeof(float) * (size_t)(M * N)) == 0, "%s %lldx%lldx%lld tA=%d: prepacked differs",
                          k ? "avx2" : "default", (long long)M, (long long)N, (long long)K, tA);
                free(A), free(B), free(Bp), free(C1), free(C2);
            }
    dc_gemm_ctx_free(g);
    dc_gemm_ctx_free(g2);
    dc_pool_free(p);
}
