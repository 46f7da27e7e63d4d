/* test_normalization.c — the BatchNorm training passes' AVX-512 variant (kernels/normalization.c)
 * against the plain versions: the same statistics, outputs, ReLU masks and gradients up to
 * rounding, on rows whose length leaves every kind of tail (S = 1, 7, 16, 49, 100, 784), with and
 * without the fused ReLU, written and accumulated gradients. */
#include "kernels/conv.h"
#include "kernels/kernels.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

static float *randn(dc_rng *r, int64_t n, float mean, float std) {
    float *p = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = mean + std * dc_rng_normal(r);
    return p;
}

/* max |a - b| / (|b| + scale) */
static double rel(const float *a, const float *b, int64_t n, double scale) {
    double e = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]) / (fabs((double)b[i]) + scale);
        if (!(d <= e)) e = d;
    }
    return e;
}

TEST(batchnorm_avx512_vs_plain) {
    if (!dc_dconv_avx512()) {
        dc_test_skip("no AVX-512F: the plain BatchNorm passes run here");
        return;
    }
    const int64_t Ss[] = {1, 7, 16, 49, 100, 784};
    for (size_t si = 0; si < sizeof Ss / sizeof Ss[0]; si++)
        for (int relu = 0; relu < 2; relu++) {
            const int64_t N = 5, C = 3, S = Ss[si], n = N * C * S;
            dc_rng r;
            dc_rng_seed(&r, (uint64_t)(si * 2 + relu + 1));
            float *x = randn(&r, n, 0.7f, 2.0f), *dy = randn(&r, n, 0.0f, 1.0f), *g = randn(&r, C, 1.0f, 0.3f),
                  *b = randn(&r, C, 0.2f, 0.5f), *dx0 = randn(&r, n, 0.0f, 1.0f);
            float rm[2][3] = {{0.1f, 0.2f, 0.3f}, {0.1f, 0.2f, 0.3f}}, rv[2][3] = {{1, 2, 3}, {1, 2, 3}};
            float mean[2][3], rstd[2][3], dg[2][3] = {{0}}, db[2][3] = {{0}};
            float *y[2], *dx[2];
            for (int v = 0; v < 2; v++) {
                y[v] = malloc((size_t)n * sizeof(float));
                dx[v] = malloc((size_t)n * sizeof(float));
                memcpy(dx[v], dx0, (size_t)n * sizeof(float));
            }
            dc_batchnorm_forward_train(N, C, S, 0, C, x, g, b, 1e-5f, 0.1f, rm[0], rv[0], mean[0], rstd[0], relu, y[0]);
            dc_batchnorm_forward_train_ref(N, C, S, 0, C, x, g, b, 1e-5f, 0.1f, rm[1], rv[1], mean[1], rstd[1], relu,
                                           y[1]);
            CHECK_MSG(rel(mean[0], mean[1], C, 1e-3) < 1e-5 && rel(rstd[0], rstd[1], C, 0) < 1e-5,
                      "S %lld: statistics differ", (long long)S);
            CHECK(rel(rm[0], rm[1], C, 1e-3) < 1e-5 && rel(rv[0], rv[1], C, 0) < 1e-5);
            /* errors relative to the size of the values: normalised outputs and gradients are of size 1,
             * dgamma/dbeta sums of N*S such terms */
            CHECK_MSG(rel(y[0], y[1], n, 1.0) < 1e-5, "S %lld relu %d: outputs differ by %.3g", (long long)S, relu,
                      rel(y[0], y[1], n, 1.0));
            int zeros = 0;
            for (int64_t i = 0; i < n; i++) zeros += y[0][i] == 0.0f;
            CHECK_MSG(relu ? zeros > 0 : zeros == 0, "S %lld relu %d: %d zeros", (long long)S, relu, zeros);
            /* backward, accumulating into dx0 (the variant reads its own forward's mean/rstd, so
             * both see the same statistics up to rounding) */
            dc_batchnorm_backward(N, C, S, 0, C, x, g, mean[0], rstd[0], dy, relu ? b : NULL, dx[0], 1, dg[0], db[0]);
            dc_batchnorm_backward_ref(N, C, S, 0, C, x, g, mean[1], rstd[1], dy, relu ? b : NULL, dx[1], 1, dg[1],
                                      db[1]);
            CHECK_MSG(rel(dg[0], dg[1], C, 1.0) < 1e-5 && rel(db[0], db[1], C, 1.0) < 1e-5,
                      "S %lld relu %d: dgamma %g / %g, dbeta %g / %g", (long long)S, relu, dg[0][0], dg[1][0], db[0][0],
                      db[1][0]);
            CHECK_MSG(rel(dx[0], dx[1], n, 1.0) < 1e-5, "S %lld relu %d: dx differs by %.3g", (long long)S, relu,
                      rel(dx[0], dx[1], n, 1.0));
            /* the fused ReLU's mask equals the forward's zeros: written dx is 0 exactly there (with S = 1 and
             * N = 5 the norm's own terms need not vanish, so check only the masked part's other term) */
            if (relu) {
                memset(dx[0], 0, (size_t)n * sizeof(float));
                float dg2[3] = {0}, db2[3] = {0};
                float *dyz = malloc((size_t)n * sizeof(float));
                for (int64_t i = 0; i < n; i++) dyz[i] = y[0][i] > 0.0f ? dy[i] : 0.0f;
                dc_batchnorm_backward(N, C, S, 0, C, x, g, mean[0], rstd[0], dyz, NULL, dx[1], 0, dg2, db2);
                dc_batchnorm_backward(N, C, S, 0, C, x, g, mean[0], rstd[0], dy, b, dx[0], 0, dg[0], db[0]);
                CHECK_MSG(memcmp(dx[0], dx[1], (size_t)n * sizeof(float)) == 0,
                          "S %lld: the fused mask differs from the forward's ReLU", (long long)S);
                free(dyz);
            }
            float *all[] = {x, dy, g, b, dx0, y[0], y[1], dx[0], dx[1]};
            for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
        }
}
