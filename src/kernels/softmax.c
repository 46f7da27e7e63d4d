/* softmax.c — softmax and the losses: softmax-with-cross-entropy, cross-entropy on probabilities,
 * mean squared error.  Sums over a batch are accumulated in double so the reported loss does not
 * depend on float rounding order more than necessary. */
#include "kernels/kernels.h"

#include <math.h>

void dc_softmax_forward(int64_t rows, int64_t cols, const float *x, float *y) {
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        float m = xr[0];
        for (int64_t c = 1; c < cols; c++) m = xr[c] > m ? xr[c] : m;
        float s = 0.0f;
        for (int64_t c = 0; c < cols; c++) {
            yr[c] = expf(xr[c] - m); /* subtracting the max keeps expf in range */
            s += yr[c];
        }
        float inv = 1.0f / s;
        for (int64_t c = 0; c < cols; c++) yr[c] *= inv;
    }
}

void dc_softmax_backward(int64_t rows, int64_t cols, const float *y, const float *dy, float *dx) {
    for (int64_t r = 0; r < rows; r++) {
        const float *yr = y + r * cols, *dyr = dy + r * cols;
        float *dxr = dx + r * cols;
        float dot = 0.0f;
        for (int64_t c = 0; c < cols; c++) dot += dyr[c] * yr[c];
        for (int64_t c = 0; c < cols; c++) dxr[c] += yr[c] * (dyr[c] - dot);
    }
}

/* Target value t_rc for either encoding; -1 in *bad when an index label is out of range. */
static inline float target_at(const float *t, int64_t t_cols, int64_t cols, int64_t r, int64_t c) {
    if (t_cols == cols) return t[r * cols + c];
    return (int64_t)t[r] == c ? 1.0f : 0.0f;
}

static int labels_ok(int64_t rows, int64_t cols, const float *t, int64_t t_cols, int *bad_label) {
    if (t_cols == cols) return 1;
    for (int64_t r = 0; r < rows; r++) {
        float v = t[r];
        if (!(v >= 0.0f && v < (float)cols) || v != floorf(v)) {
            if (bad_label) *bad_label = (int)r;
            return 0;
        }
    }
    return 1;
}

double dc_softmax_ce_forward(int64_t rows, int64_t cols, const float *x, const float *t, int64_t t_cols,
                             float eps, float *prob, int *bad_label) {
    if (!labels_ok(rows, cols, t, t_cols, bad_label)) return -1.0;
    double loss = 0.0;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *pr = prob + r * cols;
        float m = xr[0];
        for (int64_t c = 1; c < cols; c++) m = xr[c] > m ? xr[c] : m;
        float s = 0.0f;
        for (int64_t c = 0; c < cols; c++) {
            pr[c] = expf(xr[c] - m);
            s += pr[c];
        }
        float inv = 1.0f / s, lse = m + logf(s); /* log sum_k e^x_k */
        for (int64_t c = 0; c < cols; c++) pr[c] *= inv;
        double row = 0.0; /* sum_j t_j log p_j with log p_j = x_j - lse */
        if (t_cols == cols) {
            for (int64_t c = 0; c < cols; c++) row += (double)t[r * cols + c] * (double)(xr[c] - lse);
        } else {
            row = (double)(xr[(int64_t)t[r]] - lse);
        }
        if (eps != 0.0f) { /* smoothing: (1-eps) * row + eps/cols * sum_j log p_j */
            double all = 0.0;
            for (int64_t c = 0; c < cols; c++) all += (double)(xr[c] - lse);
            row = (1.0 - eps) * row + (double)eps / (double)cols * all;
        }
        loss -= row;
    }
    return loss / (double)rows;
}

void dc_softmax_ce_backward(int64_t rows, int64_t cols, const float *prob, const float *t, int64_t t_cols,
                            float eps, float scale, float *dx) {
    const float k = scale / (float)rows, keep = 1.0f - eps, spread = eps / (float)cols;
    for (int64_t r = 0; r < rows; r++) {
        const float *pr = prob + r * cols;
        float *dr = dx + r * cols;
        if (t_cols == cols) {
            for (int64_t c = 0; c < cols; c++) dr[c] += k * (pr[c] - (keep * t[r * cols + c] + spread));
        } else {
            int64_t lab = (int64_t)t[r];
            for (int64_t c = 0; c < cols; c++) dr[c] += k * (pr[c] - ((c == lab ? keep : 0.0f) + spread));
        }
    }
}

#define DC_CE_DELTA 1e-7f /* keeps log() finite where a probability is 0, as in the textbook */

double dc_cross_entropy_forward(int64_t rows, int64_t cols, const float *y, const float *t, int64_t t_cols,
                                int *bad_label) {
    if (!labels_ok(rows, cols, t, t_cols, bad_label)) return -1.0;
    double loss = 0.0;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) {
            float tv = target_at(t, t_cols, cols, r, c);
            if (tv != 0.0f) loss -= (double)tv * log((double)y[r * cols + c] + DC_CE_DELTA);
        }
    return loss / (double)rows;
}

void dc_cross_entropy_backward(int64_t rows, int64_t cols, const float *y, const float *t, int64_t t_cols,
                               float scale, float *dy) {
    float k = scale / (float)rows;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) {
            float tv = target_at(t, t_cols, cols, r, c);
            if (tv != 0.0f) dy[r * cols + c] -= k * tv / (y[r * cols + c] + DC_CE_DELTA);
        }
}

double dc_mse_forward(int64_t rows, int64_t cols, const float *y, const float *t, int64_t t_cols,
                      int *bad_label) {
    if (!labels_ok(rows, cols, t, t_cols, bad_label)) return -1.0;
    double loss = 0.0;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) {
            double d = (double)y[r * cols + c] - (double)target_at(t, t_cols, cols, r, c);
            loss += 0.5 * d * d;
        }
    return loss / (double)rows;
}

void dc_mse_backward(int64_t rows, int64_t cols, const float *y, const float *t, int64_t t_cols, float scale,
                     float *dy) {
    float k = scale / (float)rows;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            dy[r * cols + c] += k * (y[r * cols + c] - target_at(t, t_cols, cols, r, c));
}
