/* activations.c — element-wise ops: ReLU, sigmoid, tanh, bias add, add.  Loops are written so the
 * compiler vectorises them; no intrinsics here. */
#include "kernels/kernels.h"

#include <math.h>

void dc_relu_forward(int64_t n, const float *x, float *y) {
    for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void dc_relu_backward(int64_t n, const float *x, const float *dy, float *dx) {
    for (int64_t i = 0; i < n; i++) dx[i] += x[i] > 0.0f ? dy[i] : 0.0f;
}

void dc_sigmoid_forward(int64_t n, const float *x, float *y) {
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

void dc_accumulate(int64_t n, const float *dy, float *dx) {
    for (int64_t i = 0; i < n; i++) dx[i] += dy[i];
}
