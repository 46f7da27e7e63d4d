/* normalization.c — Dropout and BatchNorm kernels.  Statistics are accumulated in double: with
 * N*S in the tens of thousands a float sum of squares loses digits. */
#include "kernels/kernels.h"

#include <math.h>

void dc_dropout_forward(int64_t n, float p, dc_rng *rng, const float *x, float *mask, float *y) {
    float keep = 1.0f / (1.0f - p);
    for (int64_t i = 0; i < n; i++) {
        mask[i] = dc_rng_uniform(rng) >= p ? keep : 0.0f;
        y[i] = x[i] * mask[i];
    }
}

void dc_dropout_backward(int64_t n, const float *mask, const float *dy, float *dx) {
    for (int64_t i = 0; i < n; i++) dx[i] += dy[i] * mask[i];
}

void dc_batchnorm_forward_train(int64_t N, int64_t C, int64_t S, const float *x, const float *gamma,
                                const float *beta, float eps, float momentum, float *running_mean,
                                float *running_var, float *mean, float *rstd, float *y) {
    int64_t M = N * S;
    for (int64_t c = 0; c < C; c++) {
        double s = 0.0;
        for (int64_t n = 0; n < N; n++) {
            const float *xp = x + (n * C + c) * S;
            for (int64_t k = 0; k < S; k++) s += xp[k];
        }
        double mu = s / (double)M, ss = 0.0;
        for (int64_t n = 0; n < N; n++) {
            const float *xp = x + (n * C + c) * S;
            for (int64_t k = 0; k < S; k++) ss += ((double)xp[k] - mu) * ((double)xp[k] - mu);
        }
        double var = ss / (double)M; /* biased variance normalises, as in the paper */
        float r = (float)(1.0 / sqrt(var + eps));
        mean[c] = (float)mu;
        rstd[c] = r;
        float gsc = gamma[c] * r, sh = beta[c] - (float)mu * gsc;
        for (int64_t n = 0; n < N; n++) {
            const float *xp = x + (n * C + c) * S;
            float *yp = y + (n * C + c) * S;
            for (int64_t k = 0; k < S; k++) yp[k] = xp[k] * gsc + sh;
        }
        double unbiased = M > 1 ? ss / (double)(M - 1) : var;
        running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * (float)mu;
        running_var[c] = (1.0f - momentum) * running_var[c] + momentum * (float)unbiased;
    }
}

void dc_batchnorm_forward_eval(int64_t N, int64_t C, int64_t S, const float *x, const float *gamma,
                               const float *beta, float eps, const float *running_mean,
                               const float *running_var, float *y) {
    for (int64_t c = 0; c < C; c++) {
        float r = 1.0f / sqrtf(running_var[c] + eps);
        float gsc = gamma[c] * r, sh = beta[c] - running_mean[c] * gsc;
        for (int64_t n = 0; n < N; n++) {
            const float *xp = x + (n * C + c) * S;
            float *yp = y + (n * C + c) * S;
            for (int64_t k = 0; k < S; k++) yp[k] = xp[k] * gsc + sh;
        }
    }
}

void dc_batchnorm_backward(int64_t N, int64_t C, int64_t S, const float *x, const float *gamma,
                           const float *mean, const float *rstd, const float *dy, float *dx,
                           float *dgamma, float *dbeta) {
    int64_t M = N * S;
    for (int64_t c = 0; c < C; c++) {
        double sdy = 0.0, sdyx = 0.0;
        float mu = mean[c], r = rstd[c];
        for (int64_t n = 0; n < N; n++) {
            const float *xp = x + (n * C + c) * S, *dp = dy + (n * C + c) * S;
            for (int64_t k = 0; k < S; k++) {
                sdy += dp[k];
                sdyx += (double)dp[k] * (double)((xp[k] - mu) * r);
            }
        }
        dgamma[c] += (float)sdyx;
        dbeta[c] += (float)sdy;
        if (!dx) continue;
        float k1 = gamma[c] * r, m1 = (float)(sdy / (double)M), m2 = (float)(sdyx / (double)M);
        for (int64_t n = 0; n < N; n++) {
            const float *xp = x + (n * C + c) * S, *dp = dy + (n * C + c) * S;
            float *dxp = dx + (n * C + c) * S;
            for (int64_t k = 0; k < S; k++) {
                float xhat = (xp[k] - mu) * r;
                dxp[k] += k1 * (dp[k] - m1 - xhat * m2);
            }
        }
    }
}
