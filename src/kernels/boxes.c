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
void dc_nms_sorted_ref(int64_t n, const float *boxes, const int32_t *cls, float iou_thresh, int64_t max_keep,
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

int64_t dc_nms_scratch_floats(int64_t n) { return 6 * n; }

/* dc_box_iou1(a, b) > thr as 0/1 without a branch or a select: the division is always done (its
 * NaN or inf where the boxes do not overlap is masked by `ok`), and where dc_box_iou1 returns 0 the
 * answer is zero_hit = (0 > thr).  (A select after the division kept gcc from vectorising the loop:
 * it would not assume that the division cannot trap.) */
static inline int32_t iou_over(float ax1, float ay1, float ax2, float ay2, float area_a, float bx1, float by1,
                               float bx2, float by2, float area_b, float thr, int32_t zero_hit) {
    const float iw = mn(ax2, bx2) - mx(ax1, bx1), ih = mn(ay2, by2) - mx(ay1, by1);
    const float inter = iw * ih, uni = area_a + area_b - inter, q = inter / uni;
    const int32_t ok = (iw > 0.0f) & (ih > 0.0f) & (uni > 0.0f);
    return (ok & (q > thr)) | ((ok ^ 1) & zero_hit);
}

/* The same decisions as dc_nms_sorted_ref, from coordinate columns: each kept box's IoU with every
 * later box is computed by dc_box_iou1's formula, in its order of operations (so the same floats),
 * in a branch-free loop the compiler vectorises; a dead box is computed and ignored. */
void dc_nms_sorted(int64_t n, const float *boxes, const int32_t *cls, float iou_thresh, int64_t max_keep,
                   uint8_t *keep, float *scratch) {
    float *X1 = scratch, *Y1 = X1 + n, *X2 = Y1 + n, *Y2 = X2 + n, *A = Y2 + n;
    int32_t *alive = (int32_t *)(A + n);
    for (int64_t i = 0; i < n; i++) {
        const float *b = boxes + 4 * i;
        X1[i] = b[0], Y1[i] = b[1], X2[i] = b[2], Y2[i] = b[3];
        A[i] = mx(b[2] - b[0], 0.0f) * mx(b[3] - b[1], 0.0f);
        alive[i] = 1;
    }
    int64_t kept = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!alive[i]) continue;
        if (max_keep > 0 && ++kept == max_keep) {
            for (int64_t j = i + 1; j < n; j++) alive[j] = 0;
            break;
        }
        const float x1 = X1[i], y1 = Y1[i], x2 = X2[i], y2 = Y2[i], a = A[i];
        const int32_t ci = cls ? cls[i] : 0, z = 0.0f > iou_thresh;
        if (cls)
            for (int64_t j = i + 1; j < n; j++) {
                const int32_t hit = iou_over(x1, y1, x2, y2, a, X1[j], Y1[j], X2[j], Y2[j], A[j], iou_thresh, z);
                alive[j] &= (hit & (cls[j] == ci)) ^ 1;
            }
        else
            for (int64_t j = i + 1; j < n; j++)
                alive[j] &= iou_over(x1, y1, x2, y2, a, X1[j], Y1[j], X2[j], Y2[j], A[j], iou_thresh, z) ^ 1;
    }
    for (int64_t i = 0; i < n; i++) keep[i] = (uint8_t)alive[i];
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
