/* bench_gemm.c — GFLOP/s of dc_gemm at the shapes training uses, on 1 and 2 threads, next to
 * OpenBLAS's cblas_sgemm when built with -DDC_HAVE_OPENBLAS (the Makefile does so when it finds it).
 * Each measurement repeats the call for ~0.2 s; the best of 3 such repetitions is reported.
 * Usage: bench_gemm [max_threads]   (default 2) */
#include "deepc.h"
#include "kernels/gemm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef DC_HAVE_OPENBLAS
#include <cblas.h>
#endif

typedef struct {
    const char *what;
    int tA, tB;
    int64_t M, N, K;
} shape;

static const shape shapes[] = {
    {"fwd fc1", 0, 0, 128, 256, 784},  {"fwd fc2", 0, 0, 128, 256, 256}, {"fwd fc3", 0, 0, 128, 10, 256},
    {"dW fc1", 1, 0, 784, 256, 128},   {"dW fc2", 1, 0, 256, 256, 128},  {"dW fc3", 1, 0, 256, 10, 128},
    {"dX fc2", 0, 1, 128, 256, 256},   {"dX fc3", 0, 1, 128, 256, 10},   {"dX fc1", 0, 1, 128, 784, 256},
    {"conv1", 0, 0, 6, 4608, 25},      {"conv2", 0, 0, 16, 1024, 150},   {"conv dW", 0, 1, 6, 25, 4608},
    /* LeNet-5 at batch 128: convolutions as whole-batch GEMMs (explicit column matrices here), FCs */
    {"lenet conv1 fwd", 0, 0, 6, 73728, 25},   {"lenet conv2 fwd", 0, 0, 16, 8192, 150},
    {"lenet conv1 dW", 0, 1, 6, 25, 73728},    {"lenet conv2 dW", 0, 1, 16, 150, 8192},
    {"lenet conv2 dcol", 1, 0, 150, 8192, 16}, {"lenet fc1 fwd", 0, 0, 128, 120, 256},
    {"lenet fc2 fwd", 0, 0, 128, 84, 120},     {"lenet fc1 dW", 1, 0, 256, 120, 128},
    {"lenet fc1 dX", 0, 1, 128, 256, 120},
    {"square", 0, 0, 256, 256, 256},   {"square", 0, 0, 1024, 1024, 1024}, {"square", 0, 0, 2048, 2048, 2048},
    {"square tt", 1, 1, 1024, 1024, 1024},
};

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct {
    const shape *s;
    const float *A, *B;
    float *C;
    int64_t lda, ldb, ldc;
    dc_gemm_ctx *ctx; /* NULL: OpenBLAS */
} call;

static void run_once(const call *c) {
    const shape *s = c->s;
    if (c->ctx) {
        dc_gemm(c->ctx, s->tA, s->tB, s->M, s->N, s->K, 1.0f, c->A, c->lda, c->B, c->ldb, 0.0f, c->C, c->ldc);
        return;
    }
#ifdef DC_HAVE_OPENBLAS
    cblas_sgemm(CblasRowMajor, s->tA ? CblasTrans : CblasNoTrans, s->tB ? CblasTrans : CblasNoTrans,
                (int)s->M, (int)s->N, (int)s->K, 1.0f, c->A, (int)c->lda, c->B, (int)c->ldb, 0.0f, c->C,
                (int)c->ldc);
#endif
}

static void pause_s(double sec) {
    struct timespec t = {(time_t)sec, (long)((sec - (double)(time_t)sec) * 1e9)};
    nanosleep(&t, NULL);
}

/* Best GFLOP/s of 3 repetitions, each of enough calls to take ~0.2 s. */
static double measure(const call *c) {
    const shape *s = c->s;
    double flops = 2.0 * (double)s->M * (double)s->N * (double)s->K;
    run_once(c); /* warm up */
    int reps = 1;
    for (;;) {
        double t0 = now();
        for (int i = 0; i < reps; i++) run_once(c);
        double dt = now() - t0;
        if (dt > 0.02 || reps > (1 << 24)) {
            reps = (int)(reps * 0.2 / (dt > 1e-9 ? dt : 1e-9)) + 1;
            break;
        }
        reps *= 4;
    }
    double best = 0.0;
    for (int r = 0; r < 3; r++) {
        double t0 = now();
        for (int i = 0; i < reps; i++) run_once(c);
        double gf = flops * reps / (now() - t0) * 1e-9;
        if (gf > best) best = gf;
    }
    return best;
}

int main(int argc, char **argv) {
    int maxthreads = argc > 1 ? atoi(argv[1]) : 2;
    if (maxthreads < 1) maxthreads = 1;
    const char *only = argc > 2 ? argv[2] : NULL; /* optional substring filter on the shape name */
    printf("deepc gemm kernel: %s\n", dc_gemm_kernel_name());
    int64_t maxa = 0, maxb = 0, maxc = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const shape *s = &shapes[i];
        if (s->M * s->K > maxa) maxa = s->M * s->K;
        if (s->K * s->N > maxb) maxb = s->K * s->N;
        if (s->M * s->N > maxc) maxc = s->M * s->N;
    }
    float *A = malloc(sizeof(float) * (size_t)maxa), *B = malloc(sizeof(float) * (size_t)maxb);
    float *C = malloc(sizeof(float) * (size_t)maxc);
    if (!A || !B || !C) return 1;
    dc_rng r;
    dc_rng_seed(&r, 1);
    for (int64_t i = 0; i < maxa; i++) A[i] = dc_rng_uniform(&r) - 0.5f;
    for (int64_t i = 0; i < maxb; i++) B[i] = dc_rng_uniform(&r) - 0.5f;
    memset(C, 0, sizeof(float) * (size_t)maxc);

    for (int nt = 1; nt <= maxthreads; nt++) {
        dc_pool *pool = NULL;
        dc_gemm_ctx *ctx = NULL;
        if (dc_pool_create(nt, &pool) != DC_OK || dc_gemm_ctx_create(pool, &ctx) != DC_OK) {
            fprintf(stderr, "setup: %s\n", dc_last_error());
            return 1;
        }
#ifdef DC_HAVE_OPENBLAS
        openblas_set_num_threads(nt);
        printf("\n%d thread%s           %-18s %9s %9s %7s\n", nt, nt > 1 ? "s" : " ", "M x N x K  tA tB",
               "deepc", "OpenBLAS", "ratio");
#else
        printf("\n%d thread%s           %-18s %9s\n", nt, nt > 1 ? "s" : " ", "M x N x K  tA tB", "deepc");
#endif
        /* All of deepc's shapes first, then all of OpenBLAS's, with a pause in between so that the
         * other library's idle threads have gone to sleep and do not compete for the 2 cores. */
        enum { NS = sizeof shapes / sizeof shapes[0] };
        double gd[NS] = {0}, go[NS] = {0};
        for (int lib = 0; lib < 2; lib++) {
#ifndef DC_HAVE_OPENBLAS
            if (lib == 1) break;
#endif
            pause_s(0.3);
            for (size_t i = 0; i < NS; i++) {
                const shape *s = &shapes[i];
                if (only && !strstr(s->what, only)) continue;
                call c = {s, A, B, C, s->tA ? s->M : s->K, s->tB ? s->K : s->N, s->N, lib ? NULL : ctx};
                (lib ? go : gd)[i] = measure(&c);
            }
        }
        for (size_t i = 0; i < NS; i++) {
            const shape *s = &shapes[i];
            if (only && !strstr(s->what, only)) continue;
            char dims[64];
            snprintf(dims, sizeof dims, "%lldx%lldx%lld", (long long)s->M, (long long)s->N, (long long)s->K);
#ifdef DC_HAVE_OPENBLAS
            printf("  %-10s %-16s  %d  %d %9.1f %9.1f %6.0f%%\n", s->what, dims, s->tA, s->tB, gd[i], go[i],
                   100.0 * gd[i] / go[i]);
#else
            printf("  %-10s %-16s  %d  %d %9.1f\n", s->what, dims, s->tA, s->tB, gd[i]);
#endif
        }
        fflush(stdout);
        dc_gemm_ctx_free(ctx);
        dc_pool_free(pool);
    }
    free(A);
    free(B);
    free(C);
    return 0;
}
