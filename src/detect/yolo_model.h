/* yolo_model.h — the YOLO v1 network of deepc ("yolo_mini") and running it over images.
 *
 * yolo_mini, for a grey square input whose side is a multiple of 16 (160 x 160 -> S = 10):
 *   conv3x3/2 16, BN, ReLU            -> side/2      (160 -> 80)
 *   max-pool 2                        -> side/4      (40)
 *   conv3x3 32, BN, ReLU, max-pool 2  -> side/8      (20)
 *   conv3x3 64, BN, ReLU, max-pool 2  -> side/16     (10)
 *   conv3x3 128, BN, ReLU
 *   conv3x3 128, BN, ReLU
 *   conv1x1 B*5 + C (linear, with bias) and channels-last -> [S, S, B*5 + C], dc_yolo_loss's layout
 * The head is a 1x1 convolution, not the paper's fully connected layers: each cell predicts from
 * its own receptive field (about 105 pixels, more than the largest item) with weights shared by
 * every cell, which needs 2.6k head parameters instead of millions and learns far faster from 10k
 * images; the network is fully convolutional, so one checkpoint runs at any side that is a multiple
 * of 16 (S = side/16).  ReLU instead of the paper's leaky ReLU: deepc has no leaky ReLU op yet. */
#ifndef DC_DETECT_YOLO_MODEL_H
#define DC_DETECT_YOLO_MODEL_H

#include "detect/cocoeval.h"
#include "detect/detdata.h"
#include "detect/yolo.h"

#define DC_YOLO_STRIDE 16
#define DC_YOLO_MODEL "yolo_mini"
/* yolo_s8: the YOLO v1 head and loss on the stride-8 backbone of the two-stage detectors
 * (frcnn_mini's, detect/frcnn.h), plus one 3x3 convolution of 96 with BatchNorm and ReLU, then the
 * 1x1 head: a 20 x 20 grid on 160 x 160 images, 8-pixel cells. */
#define DC_YOLO_S8_MODEL "yolo_s8"
/* yolo_s16: the same stride-8 backbone, max-pool 2, two 3x3 convolutions of 192 with BatchNorm and
 * ReLU, the 1x1 head: a 10 x 10 grid on 160 x 160 images, a receptive field of about 130 pixels.
 * Its class scores are logits trained with the softmax cross-entropy (dc_yolo_opts.class_softmax_ce)
 * instead of the paper's sum of squares: with the squares, yolo_mini classified a third of the
 * training objects right after 10 epochs (docs/detection.md). */
#define DC_YOLO_S16_MODEL "yolo_s16"

/* DC_OK when name is a YOLO model of this build ("yolo_mini", or "yolo" for it), with the canonical
 * name in *canonical (may be NULL); DC_ERR_ARG naming the known ones otherwise. */
dc_status dc_yolo_model_check(const char *name, const char **canonical);
/* Pixels per grid cell of a YOLO model (16 for yolo_mini and yolo_s16, 8 for yolo_s8); 0 when
 * unknown. */
int dc_yolo_model_stride(const char *name);
/* 1 when the model's class scores are softmax logits (yolo_s16), 0 otherwise. */
int dc_yolo_model_softmax(const char *name);
/* The meaning of the YOLO outputs, recorded in checkpoints (dc_checkpoint_meta.revision):
 * 1: the size outputs were w and h; 2: they are sqrt(w) and sqrt(h) (decoded as max(s, 0)^2).
 * A checkpoint that records none is yolo_s16 (which began at revision 2), or yolo_mini / yolo_s8
 * of either revision: those are refused, since nothing tells which. */
#define DC_YOLO_REVISION 2
/* DC_OK when a checkpoint of `name` recorded with `revision` (0: none recorded) decodes with this
 * build's YOLO; DC_ERR_FORMAT naming `path` and what to do otherwise. */
dc_status dc_yolo_model_check_revision(const char *name, int revision, const char *path);
/* Build the network on input x ([1, side, side], side a multiple of the stride); *pred is
 * [S, S, B*5 + C]. */
dc_status dc_yolo_model_build(dc_graph *g, const char *name, dc_node x, int B, int C, dc_node *pred);

/* A planned network: input, prediction and (when max_obj > 0) the targets input and the loss. */
typedef struct dc_yolo_net {
    dc_graph *g;
    dc_node x, pred, targets, loss;
    int side, S, B, C, max_obj;
    dc_yolo_opts opts;
} dc_yolo_net;
/* Build and plan for batches up to max_batch.  max_obj <= 0: inference only (no loss). */
dc_status dc_yolo_net_create(const char *model, int side, int B, int C, int max_obj, int64_t max_batch,
                             const dc_graph_opts *go, dc_yolo_net *net);
void dc_yolo_net_free(dc_yolo_net *net);

/* Run the network over the first d->n images of d (file order, batches of `batch`, eval mode) and
 * decode every image (dc_yolo_decode with score_thresh, nms 0.5, at most 100 per image; boxes clipped to
 * the image) into COCO
 * detections (bbox x, y, w, h in pixels; image and category ids of d's file).  *seconds: wall time
 * of the forward passes and decoding (not the copy of the inputs).  Caller frees *dets with
 * dc_detections_free. */
dc_status dc_yolo_detect_set(dc_yolo_net *net, const dc_detdata *d, int64_t batch, float score_thresh,
                             dc_detection **dets, int64_t *n, double *seconds);

#endif
