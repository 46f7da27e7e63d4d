/* rcnn.h — R-CNN (Girshick, Donahue, Darrell, Malik, CVPR 2014) on grey images: region warping with
 * context padding, the small CNN that classifies warped regions ("rcnn_mini"), class-specific
 * bounding-box regression (ridge regression on the CNN's features), and detection of one image or a
 * whole set (selective search -> warp -> score -> regress -> per-class NMS).
 *
 * Region warping (the paper's appendix A, "warp with context padding"): the proposal box is dilated
 * so that, after an anisotropic warp to side x side, exactly `pad` warped pixels of context surround
 * the original box on every side (the paper: 16 of 227; deepc's default scales it to the side,
 * 16 * side / 227).  Samples are bilinear with pixel centres at i + 0.5; a sample point outside the
 * image reads the data set mean (0 after normalisation), as the paper fills with the mean.
 * Inputs are normalised like the other detectors: x = (p/255 - DC_DET_MEAN) / DC_DET_STD.
 *
 * rcnn_mini for a side x side grey region (side a multiple of 8; 32 by default):
 *   conv3x3 32, BN, ReLU, max-pool 2   -> 32 x side/2
 *   conv3x3 64, BN, ReLU, max-pool 2   -> 64 x side/4
 *   conv3x3 128, BN, ReLU, max-pool 2  -> 128 x side/8     ("pool5")
 *   fc 256, ReLU                       -> the features      ("fc6", used by the box regressor)
 *   dropout 0.5, fc C + 1              -> logits, class 0 = background
 * Softmax over C + 1 classes scores the regions (not the paper's per-class linear SVMs).
 *
 * Box regression (the paper's appendix C): per class c, d(P) = W_c [phi(P); 1] predicts
 * t = (dx, dy, dw, dh) = dc_box_encode with weights (1, 1, 1, 1); W_c minimises
 * sum ||t - W_c [phi; 1]||^2 + lambda ||W_c without the bias||^2 (ridge), over proposals P whose
 * best IoU with a ground-truth box of class c is > 0.6. */
#ifndef DC_DETECT_RCNN_H
#define DC_DETECT_RCNN_H

#include "detect/boxes.h"
#include "detect/cocoeval.h"
#include "detect/detdata.h"
#include "detect/selsearch.h"

#define DC_RCNN_MODEL "rcnn_mini"
#define DC_RCNN_FEATURES 256

/* DC_OK when name is "rcnn_mini" or its alias "rcnn" (canonical name in *canonical, may be NULL). */
dc_status dc_rcnn_model_check(const char *name, const char **canonical);

/* The paper's context padding scaled to a warp side: 16 * side / 227. */
float dc_rcnn_context_default(int side);

/* The box that, warped to side x side, shows `box` with `pad` warped pixels of context on every
 * side: x1 - pad * bw / (side - 2 pad), ... (bw = the box's width; a degenerate box is treated as
 * 1 pixel wide).  pad in [0, side/2).   box, out: [4] */
void dc_rcnn_dilate(const float box[4], int side, float pad, float out[4]);

/* Bilinear warp of region `box` (continuous pixels, already dilated) of a grey image (bytes [h][w])
 * to side x side normalised floats.  Output pixel (u, v) samples the image at
 * (x1 + (u + 0.5) (x2 - x1) / side, y1 + (v + 0.5) (y2 - y1) / side); the four neighbours are the
 * pixels whose centres surround it (clamped at the border); a point outside [0, w] x [0, h] gives 0
 * (the mean).  flip: mirror the output horizontally.   out: [side * side] */
void dc_rcnn_warp(const uint8_t *img, int h, int w, const float box[4], int side, int flip, float *out);

/* ------------------------------------------------------------------ the network */
typedef struct dc_rcnn_net {
    dc_graph *g;
    dc_node x;        /* regions [N, 1, side, side]                      */
    dc_node feat;     /* fc6 after ReLU [N, DC_RCNN_FEATURES]             */
    dc_node logits;   /* [N, C + 1]                                      */
    dc_node probs;    /* softmax of the logits                           */
    dc_node labels;   /* [N] class indices 0..C (training only)          */
    dc_node loss;     /* softmax cross-entropy (training only)           */
    int side, C;
    int64_t max_batch;
} dc_rcnn_net;
/* Build and plan rcnn_mini for batches of up to max_batch regions; with_loss adds the labels input
 * and the loss.  side: a multiple of 8 in 8..256; C: object classes (1..10000). */
dc_status dc_rcnn_net_create(int side, int C, int with_loss, int64_t max_batch, const dc_graph_opts *go,
                             dc_rcnn_net *net);
void dc_rcnn_net_free(dc_rcnn_net *net);

/* ------------------------------------------------------------------ ridge regression */
/* Accumulates X^T X and X^T Y (double) for x in R^F (a constant 1 is appended: the bias) and
 * y in R^T, then solves (X^T X + lambda I') W = X^T Y by Cholesky, I' = I without the bias entry. */
typedef struct dc_ridge {
    int F, T;
    int64_t n;
    double *xtx;  /* [(F+1)^2] */
    double *xty;  /* [(F+1) T] */
} dc_ridge;
dc_status dc_ridge_create(int F, int T, dc_ridge **out);
void dc_ridge_free(dc_ridge *r);
void dc_ridge_add(dc_ridge *r, const float *x, const float *y);
/* w: [T][F + 1] (the bias last).  Fewer samples than needed still solve (lambda > 0 regularises);
 * lambda = 0 with a singular X^T X is DC_ERR_NUMERIC.  With no samples w is all zero. */
dc_status dc_ridge_solve(const dc_ridge *r, double lambda, float *w);

/* ------------------------------------------------------------------ detection */
typedef struct dc_rcnn_detect_opts {
    float score_thresh;   /* class probability kept as a candidate (0.01)              */
    float nms;            /* per-class NMS IoU threshold (0.3, the paper's)             */
    int64_t max_dets;     /* per image (100)                                            */
    float pad;            /* context padding in warped pixels (dc_rcnn_context_default) */
    const float *bbreg;   /* [C][4][F + 1] regressors, or NULL: no regression           */
} dc_rcnn_detect_opts;
dc_rcnn_detect_opts dc_rcnn_detect_opts_default(int side);

/* Warp and score the np proposals of one image in batches of net->max_batch (eval mode):
 * probs [np][C + 1] and (may be NULL) feats [np][DC_RCNN_FEATURES]. */
dc_status dc_rcnn_score(dc_rcnn_net *net, const uint8_t *img, int h, int w, const float *props, int64_t np, float pad,
                        float *probs, float *feats);

/* From the scores of one image's proposals to its detections: every (proposal, class c >= 1) with
 * probability > score_thresh is a candidate, its box regressed with class c's regressor (when
 * given) and clipped to the image; per-class greedy NMS (ties: lower index); the best max_dets by
 * score.  Out: boxes [max_dets][4], scores, classes (1..C) [max_dets]; *n the count.
 * props [np][4], probs [np][C + 1], feats [np][F] (may be NULL without regression). */
dc_status dc_rcnn_postprocess(const dc_rcnn_detect_opts *o, int C, int64_t np, const float *props, const float *probs,
                              const float *feats, int h, int w, float *boxes, float *scores, int32_t *classes,
                              int64_t *n);


#endif
