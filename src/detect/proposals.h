/* proposals.h — the two glue steps between the RPN and the Fast R-CNN head, as pure functions on
 * float arrays of one image (the caller loops over the batch):
 *   - the proposal layer: RPN objectness + box deltas over the anchors -> RoIs;
 *   - the RoI sampler: proposals + ground truth -> the RoIs of one training step with their class
 *     labels and regression targets.
 * Boxes follow src/detect/boxes.h ([x1, y1, x2, y2], continuous pixels, width = x2 - x1).
 * Not here: the networks, the losses (graph ops), anchor labelling for the RPN (boxes.h). */
#ifndef DC_DETECT_PROPOSALS_H
#define DC_DETECT_PROPOSALS_H

#include "detect/boxes.h"

/* Proposal layer (Faster R-CNN, py-faster-rcnn's proposal_layer order):
 *   1. decode every anchor with its deltas (coder: weights (1, 1, 1, 1) for the RPN), clip to the
 *      image [0, w] x [0, h];
 *   2. drop boxes with width or height < min_size (or non-finite coordinates or scores);
 *   3. keep the pre_nms_top_n highest scores (ties: the lower anchor index);
 *   4. greedy NMS at nms_thresh (a box goes when IoU > thresh with a kept, higher-scoring box);
 *   5. keep the first post_nms_top_n survivors.
 * The output is ordered by score, highest first.  Scores may be probabilities or logits (only
 * their order matters).  pre/post_nms_top_n <= 0: no limit. */
typedef struct dc_proposal_opts {
    int64_t pre_nms_top_n;   /* 12000 train / 6000 test (py-faster-rcnn)                  */
    int64_t post_nms_top_n;  /* 2000 train / 300 test                                     */
    float nms_thresh;        /* 0.7                                                       */
    float min_size;          /* pixels of the input image; 16 in py-faster-rcnn (x scale)  */
    dc_box_coder coder;      /* weights (1, 1, 1, 1), clamp log(1000/16)                   */
} dc_proposal_opts;
/* train != 0: 12000 / 2000, else 6000 / 300; NMS 0.7, min_size 16. */
dc_proposal_opts dc_proposal_opts_default(int train);

/* anchors, deltas: [A, 4]; scores: [A]; out_boxes: [post_nms_top_n (or A), 4]; out_scores (may be
 * NULL): [same]; *n_out the count.  Allocates its scratch; DC_ERR_ARG on bad arguments. */
dc_status dc_proposals(const dc_proposal_opts *o, int64_t A, const float *anchors, const float *scores,
                       const float *deltas, float img_h, float img_w, float *out_boxes, float *out_scores,
                       int64_t *n_out);

/* Fast R-CNN RoI sampler (Girshick 2015, section 2.3; py-faster-rcnn's proposal_target_layer):
 *   1. with add_gt, the ground-truth boxes are appended to the proposals (so every object has at
 *      least one perfect RoI);
 *   2. each RoI is matched to the ground-truth box of highest IoU (ties: the lower index):
 *      IoU >= fg_thresh -> foreground with that box's class; bg_lo <= IoU < bg_hi -> background
 *      (class 0); anything else is not used;
 *   3. up to floor(batch_size * fg_fraction) foreground RoIs are drawn at random, then background
 *      RoIs at random fill up to batch_size (dc_sample_balanced; fewer when there are not enough);
 *   4. output: the foreground RoIs, then the background ones (each group in RoI order);
 *      regression targets = dc_box_encode(RoI, matched gt) with the coder's weights (10, 10, 5, 5)
 *      for foreground, 0 for background.
 * Classes of the ground truth are 1..C (0 is background). */
typedef struct dc_roi_sampler_opts {
    int64_t batch_size;   /* 128 RoIs per image                                             */
    float fg_fraction;    /* 0.25                                                          */
    float fg_thresh;      /* 0.5                                                           */
    float bg_hi, bg_lo;   /* 0.5, 0.1 (Fast R-CNN; detectron/torchvision use bg_lo = 0)     */
    int add_gt;           /* 1                                                             */
    dc_box_coder coder;   /* weights (10, 10, 5, 5)                                         */
} dc_roi_sampler_opts;
dc_roi_sampler_opts dc_roi_sampler_opts_default(void);

/* proposals [np, 4]; gt [ng, 4] (non-empty boxes); gt_classes [ng] in 1..; rng: the draws.
 * Outputs (capacity batch_size rows): rois [batch_size, 4], labels [batch_size] (class, 0 for
 * background), targets [batch_size, 4], matched (may be NULL) [batch_size] the gt index (-1 for
 * background); *n_out the RoI count, *n_fg (may be NULL) how many are foreground (they come first). */
dc_status dc_roi_sample(const dc_roi_sampler_opts *o, int64_t np, const float *proposals, int64_t ng,
                        const float *gt, const int32_t *gt_classes, dc_rng *rng, float *rois, int32_t *labels,
                        float *targets, int32_t *matched, int64_t *n_out, int64_t *n_fg);

#endif
