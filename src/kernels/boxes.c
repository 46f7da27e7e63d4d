/* boxes.c — box IoU, the greedy NMS core and smooth L1 over plain float arrays (see boxes.h).
 * Deliberately no sorting and no allocation here: the caller orders the boxes and owns the mask. */
#include "kernels/boxes.h"

#include <math.h>

/* IoU = |A ∩ B| / (|A| + |B| - |A ∩ B|)                                  a, b: [4] */
/* min/max by comparison: the callers' boxes are finite, and fminf/fmaxf (NaN rules) are library calls
 * here, which made NMS the slowest step of a detector's training. */
static inline float mn(float x, float y) { return x < y ? x : y; }
static inline float mx(float x, float y) { return x > y ? x : y; }

float dc_box_iou1(const float *a, const float *b) {
    float iw = mn(a[2], b[2]) - mx(a[0], b[0]);
    float ih = mn(a[3], b[3]) - mx(a[1], b[1]);
    if (!(iw > 0.0f) || !(ih > 0.0f)) return 0.0f;
    float inter = iw * ih;
    float area_a = mx(a[2] - a[0], 0.0f) * mx(a[3] - a[1], 0.0f);
    float area_b = mx(b[2] - b[0], 0.0f) * mx(b[3] - b[1], 0.0f);
    float uni = area_a + area_b - inter;
    return uni > 0.0f ? inter / uni : 0.0f;
}

/* keep[i] = !exists kept j < i, same class, IoU(j, i) > thr; after max_keep kept boxes the rest is 0
 *                                                                    boxes: [n, 4], cls: [n] | NULL */
void dc_nms_sorted(int64_t n, const float *boxes, const int32_t *cls, float iou_thresh, int64_t max_keep,
                   uint8_t *keep) {
    for (int64_t i = 0; i < n; i++) keep[i] = 1;
    int64_t kept = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!keep[i]) continue;
        if (max_keep > 0 && ++kept == max_keep) { /* enough: nothing after it can be kept */
            for (int64_t j = i + 1; j < n; j++) keep[j] = 0;
            break;
        }
        const float *bi = boxes + 4 * i;
        for (int64_t j = i + 1; j < n; j++) {
            if (!keep[j] || (cls && cls[j] != cls[i])) continue;
            if (dc_box_iou1(bi, boxes + 4 * j) > iou_thresh) keep[j] = 0;
        }
    }
}

/* sum_i w_i * (|d| < beta ? 0.5 d^2 / beta : |d| - 0.5 beta),  d = x - t          [n] */
double dc_smooth_l1_forward(int64_t n, const float *x, const float *t, const float *w, float beta) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)x[i] - (double)t[i], ad = fabs(d);
        double l = ad < beta ? 0.5 * d * d / beta : ad - 0.5 * beta;
        s += (w ? (double)w[i] : 1.0) * l;
    }
    return s;
}

/* dx_i += scale * w_i * (|d| < beta ? d / beta : sign(d))                          [n] */
void dc_smooth_l1_backward(int64_t n, const float *x, const float *t, const float *w, float beta, float scale,
                           float *dx) {
    for (int64_t i = 0; i < n; i++) {
        float d = x[i] - t[i], ad = fabsf(d);
        float g = ad < beta ? d / beta : (d > 0.0f ? 1.0f : (d < 0.0f ? -1.0f : 0.0f));
        dx[i] += scale * (w ? w[i] : 1.0f) * g;
    }
}
