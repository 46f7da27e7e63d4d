/* yolo.h — YOLO v1 inference: one image's prediction -> scored, class-labelled boxes.
 *
 * The prediction layout is the one of dc_yolo_loss (deepc.h): [S*S*(B*5 + C)], cell-major; cell
 * (row i, column j) holds B boxes (x, y, w, h, conf) then C class scores; x, y relative to the
 * cell, w, h relative to the image.  Each box b of cell (i, j) becomes
 *   [(j + x)/S * W - w W / 2, (i + y)/S * H - h H / 2, ... + w W / 2, ... + h H / 2]   (w, h >= 0)
 * in pixels of a W x H image, with one class-specific score per class c:
 *   score = conf * p_c                        (the paper's Pr(class) * IoU, section 2)
 * Candidates with score > score_thresh go through per-class greedy NMS (dc_nms with classes: IoU >
 * nms_thresh with a kept box of the same class suppresses), and the survivors are returned by score,
 * highest first (ties: cell, box, class order), at most max_dets of them.
 * Not here: the loss (src/graph/op_yolo.c), softmax (class scores are used as given). */
#ifndef DC_DETECT_YOLO_H
#define DC_DETECT_YOLO_H

#include "detect/boxes.h"

typedef struct dc_yolo_decode_opts {
    int S, B, C;
    float img_w, img_h;   /* pixels                                    */
    float score_thresh;   /* 0.2 (darknet's default threshold)         */
    float nms_thresh;     /* 0.5                                       */
    int64_t max_dets;     /* <= 0: no limit (S*S*B*C at most)          */
} dc_yolo_decode_opts;
dc_yolo_decode_opts dc_yolo_decode_opts_default(int S, int B, int C, float img_w, float img_h);

/* pred [S*S*(B*5 + C)]; boxes [cap, 4], scores [cap], classes [cap] (0-based class index);
 * cap >= min(max_dets, S*S*B*C) (DC_ERR_ARG otherwise).  *n_out: the count. */
dc_status dc_yolo_decode(const dc_yolo_decode_opts *o, const float *pred, int64_t cap, float *boxes, float *scores,
                         int32_t *classes, int64_t *n_out);

#endif
