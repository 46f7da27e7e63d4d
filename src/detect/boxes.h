/* boxes.h — box machinery for detectors: pairwise IoU, Faster R-CNN box coding, clipping, NMS
 * (class-agnostic or per class), anchors, RPN anchor labelling and balanced sampling.
 *
 * Conventions (the same everywhere in src/detect/):
 *  - a box is float [x1, y1, x2, y2] in continuous pixel coordinates: the pixel (x, y) covers
 *    [x, x+1) x [y, y+1), so the box of pixels x0..x1 is [x0, y0, x1 + 1, y1 + 1] and
 *    width = x2 - x1 (no "+1", as torchvision and detectron2; COCO's [x, y, w, h] maps to
 *    [x, y, x + w, y + h]);
 *  - arrays of boxes are [n, 4] row-major;
 *  - functions that allocate return a dc_status; the pure ones return nothing.
 * Not here: the per-array kernels (src/kernels/boxes.h), RoI pooling, the networks. */
#ifndef DC_DETECT_BOXES_H
#define DC_DETECT_BOXES_H

#include "deepc.h"

/* [x, y, w, h] <-> [x1, y1, x2, y2], n boxes, in place allowed. */
void dc_boxes_xywh_to_xyxy(int64_t n, const float *in, float *out);
void dc_boxes_xyxy_to_xywh(int64_t n, const float *in, float *out);

/* out[i*m + j] = IoU(a_i, b_j).   a: [n, 4], b: [m, 4], out: [n, m] */
void dc_boxes_iou(int64_t n, const float *a, int64_t m, const float *b, float *out);

/* Clip to the image [0, w] x [0, h], in place.   boxes: [n, 4] */
void dc_boxes_clip(int64_t n, float *boxes, float img_h, float img_w);

/* Box coding of Faster R-CNN (as in torchvision's BoxCoder):
 *   encode: dx = wx (gx - ax) / aw, dy = wy (gy - ay) / ah, dw = ww log(gw / aw), dh = wh log(gh / ah)
 *           (centres gx = x1 + 0.5 w; the reference box a is the anchor or proposal);
 *   decode: the inverse, with dw / ww and dh / wh clamped to at most `clamp` before exp, so a wild
 *           regression cannot overflow.
 * Defaults (dc_box_coder_default): weights (10, 10, 5, 5), clamp log(1000/16).
 * Encoding needs boxes with positive width and height (callers filter degenerate ones). */
typedef struct dc_box_coder {
    float wx, wy, ww, wh;
    float clamp;
} dc_box_coder;
dc_box_coder dc_box_coder_default(void);
/* ref, gt, deltas: [n, 4] */
void dc_box_encode(const dc_box_coder *c, int64_t n, const float *ref, const float *gt, float *deltas);
/* ref, deltas, out: [n, 4] */
void dc_box_decode(const dc_box_coder *c, int64_t n, const float *ref, const float *deltas, float *out);

/* Greedy non-maximum suppression.  Boxes are visited by score, highest first, ties broken by the
 * lower index (a stable order); a box is dropped when a kept box *of the same class* overlaps it
 * with IoU > iou_thresh.  classes NULL: one class (class-agnostic NMS).  keep receives the indices
 * of the kept boxes in visiting order (at most max_keep of them; max_keep <= 0: no limit), *n_keep
 * their count.  keep must hold n entries (or max_keep).  NaN scores are an error.
 * boxes: [n, 4], scores: [n], classes: [n] | NULL */
dc_status dc_nms(int64_t n, const float *boxes, const float *scores, const int32_t *classes, float iou_thresh,
                 int64_t max_keep, int64_t *keep, int64_t *n_keep);

/* Indices 0..n-1 sorted by score descending, ties by index ascending.  order: [n] */
dc_status dc_argsort_scores(int64_t n, const float *scores, int64_t *order);

/* ------------------------------------------------------------------ anchors */
/* Anchors over an fh x fw feature map with the given stride: at every position (y, x), in row-major
 * order, one anchor per (ratio, size) pair, ratios outer and sizes inner (torchvision's order), so
 * anchor k of position p is index p * n_ratios * n_sizes + k.  The centre of position (y, x) is
 * ((x + offset) * stride, (y + offset) * stride); offset 0 puts centres on multiples of the stride
 * (torchvision), 0.5 in the middle of each stride cell.  A size s and ratio r = h/w give
 * w = s / sqrt(r), h = s * sqrt(r) (area s^2); coordinates are not rounded.
 * out: [fh * fw * n_ratios * n_sizes, 4]. */
typedef struct dc_anchor_spec {
    const float *sizes;   /* in pixels, e.g. {128, 256, 512} (Faster R-CNN: scales 8,16,32 x 16) */
    int n_sizes;
    const float *ratios;  /* h / w, e.g. {0.5, 1, 2}                                              */
    int n_ratios;
    float stride;         /* pixels per feature-map cell                                         */
    float offset;         /* 0 (default) or 0.5                                                  */
} dc_anchor_spec;
int64_t dc_anchors_count(const dc_anchor_spec *s, int fh, int fw);
dc_status dc_anchors_generate(const dc_anchor_spec *s, int fh, int fw, float *out);

/* RPN anchor labelling (Faster R-CNN, section 3.1.2), labels[i] in {1 fg, 0 bg, -1 ignore}:
 *   1. with border >= 0, an anchor reaching more than `border` pixels outside the image
 *      (x1 < -border, y1 < -border, x2 > w + border or y2 > h + border) is ignored and takes no
 *      part in the rules below (border < 0: every anchor takes part);
 *   2. max IoU over the ground truth < bg_iou: background;
 *   3. max IoU >= fg_iou: foreground (>= as py-faster-rcnn and torchvision; the paper says ">");
 *   4. best_match: for each ground-truth box, the anchor(s) with the highest IoU with it (every
 *      anchor tying that maximum) are foreground too, provided that maximum is > 0; this
 *      guarantees every box at least one positive anchor when no anchor reaches fg_iou;
 *   5. the rest (bg_iou <= IoU < fg_iou) is ignored.
 * matched[i] (may be NULL) is the ground-truth box with the highest IoU with anchor i (ties: the
 * lower index), -1 with no ground truth or for border-ignored anchors; max_iou[i] (may be NULL)
 * that IoU.  With ng == 0 every taking-part anchor is background.
 * anchors: [na, 4], gt: [ng, 4], labels: [na], matched: [na], max_iou: [na] */
typedef struct dc_anchor_match_opts {
    float fg_iou;    /* 0.7 */
    float bg_iou;    /* 0.3 */
    int best_match;  /* 1   */
    float border;    /* -1: keep anchors crossing the border; 0: ignore them (py-faster-rcnn's
                        allowed_border = 0)                                             */
} dc_anchor_match_opts;
dc_anchor_match_opts dc_anchor_match_defaults(void);
dc_status dc_anchors_label(int64_t na, const float *anchors, int64_t ng, const float *gt, float img_h, float img_w,
                           const dc_anchor_match_opts *o, int8_t *labels, int32_t *matched, float *max_iou);

/* Balanced sampling of labelled anchors (or proposals): keeps up to floor(num * pos_fraction)
 * positives chosen uniformly at random, then num - (kept positives) negatives at random; every
 * label not chosen becomes -1.  Draws come from rng only, so the same seed gives the same choice.
 * labels: [n] in/out; n_pos / n_neg (may be NULL) receive the kept counts. */
dc_status dc_sample_balanced(int64_t n, int8_t *labels, int64_t num, float pos_fraction, dc_rng *rng,
                             int64_t *n_pos, int64_t *n_neg);

#endif
