/* boxes.h — the per-array math of detection: box IoU, the greedy NMS core and the smooth-L1 loss.
 *
 * Boxes are float [x1, y1, x2, y2] in continuous pixel coordinates (x2 > x1 for a non-empty box);
 * width = x2 - x1, no "+1" (torchvision's convention, not the original Caffe one).  Like every
 * kernel these functions never allocate: NMS takes the boxes already sorted and a keep mask from
 * the caller.  The glue (sorting by score, per-class grouping, index bookkeeping) is in
 * src/detect/boxes.c. */
#ifndef DC_KERNELS_BOXES_H
#define DC_KERNELS_BOXES_H

#include "deepc.h"

/* IoU of two boxes: inter / (area_a + area_b - inter); 0 when the union is empty.  a, b: [4] */
float dc_box_iou1(const float *a, const float *b);

/* Greedy NMS over boxes already in priority order (highest score first):
 *   keep[i] = 1 unless some kept j < i of the same class has IoU(j, i) > iou_thresh;
 * with max_keep > 0 it stops at the max_keep-th kept box (later boxes get 0), which gives the same
 * first max_keep as the full pass at a fraction of the cost.
 * boxes: [n, 4]; cls: [n] class of each box, or NULL (one class); keep: [n] output (0/1). */
void dc_nms_sorted_ref(int64_t n, const float *boxes, const int32_t *cls, float iou_thresh, int64_t max_keep,
                       uint8_t *keep);
/* The same keep mask (the tests compare the two) from coordinate columns, so the IoU loop runs
 * eight boxes at a time; scratch: dc_nms_scratch_floats(n) floats from the caller.  Proposal NMS
 * (2000 boxes per image) took 13% of Faster R-CNN's training step through the one-pair IoU. */
int64_t dc_nms_scratch_floats(int64_t n);
void dc_nms_sorted(int64_t n, const float *boxes, const int32_t *cls, float iou_thresh, int64_t max_keep,
                   uint8_t *keep, float *scratch);

/* Smooth L1 (Huber with slope 1), per element d = x - t:
 *   l(d) = 0.5 d^2 / beta  if |d| < beta,  |d| - 0.5 beta  otherwise   (beta = 0: |d|)
 * forward returns sum_i w_i l(x_i - t_i) (w NULL: all ones);
 * backward: dx_i += scale * w_i * l'(d_i), l'(d) = d / beta if |d| < beta, else sign(d) (0 at d = 0).
 * x, t, w, dx: [n] */
double dc_smooth_l1_forward(int64_t n, const float *x, const float *t, const float *w, float beta);
void dc_smooth_l1_backward(int64_t n, const float *x, const float *t, const float *w, float beta, float scale,
                           float *dx);

#endif
