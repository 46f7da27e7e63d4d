/* yolo.h — YOLO v1 inference: one image's prediction -> scored, class-labelled boxes.
 *
 * The prediction layout is the one of dc_yolo_loss (deepc.h): [S*S*(B*5 + C)], cell-major; cell
 * (row i, column j) holds B boxes (x, y, sw, sh, conf) then C class scores; x, y relative to the
 * cell, sw, sh the square roots of the width and height relative to the image, so w = max(sw, 0)^2,
 * h = max(sh, 0)^2.  Each box b of cell (i, j) becomes
 *   [(j + x)/S * W - w W / 2, (i + y)/S * H - h H / 2, ... + w W / 2, ... + h H / 2]
 * in pixels of a W x H image, with one class-specific score per class c:
 *   score = max(conf, 0) * max(p_c, 0)        (the paper's Pr(class) * IoU, section 2; a
 *                                             negative regressed output means 0)
 * where p_c is the class score as given, or softmax(scores)_c with class_softmax (the models
 * trained with the softmax cross-entropy class term, dc_yolo_opts.class_softmax_ce).
 * Candidates with score > score_thresh go through per-class greedy NMS (dc_nms with classes: IoU >
 * nms_thresh with a kept box of the same class suppresses), and the survivors are returned by score,
 * highest first (ties: cell, box, class order), at most max_dets of them.
 * Not here: the loss (src/graph/op_yolo.c). */
#ifndef DC_DETECT_YOLO_H
#define DC_DETECT_YOLO_H

#include "detect/boxes.h"

typedef struct dc_yolo_decode_opts {
    int S, B, C;
    float img_w, img_h;   /* pixels                                    */
    float score_thresh;   /* 0.2 (darknet's default threshold)         */
    float nms_thresh;     /* 0.5                                       */
    int64_t max_dets;     /* <= 0: no limit (S*S*B*C at most)          */
    int class_softmax;    /* 0: class scores are probabilities; 1: logits (softmax first) */
} dc_yolo_decode_opts;
dc_yolo_decode_opts dc_yolo_decode_opts_default(int S, int B, int C, float img_w, float img_h);

/* pred [S*S*(B*5 + C)]; boxes [cap, 4], scores [cap], classes [cap] (0-based class index);
 * cap >= min(max_dets, S*S*B*C) (DC_ERR_ARG otherwise).  *n_out: the count. */
dc_status dc_yolo_decode(const dc_yolo_decode_opts *o, const float *pred, int64_t cap, float *boxes, float *scores,
                         int32_t *classes, int64_t *n_out);

#endif
