/* detector.h — one interface over deepc's trainable detectors, so that the training job
 * (src/train/det_train.c) and the commands (dettrain, dettest, detect) are written once:
 *
 *   yolo_mini     YOLO v1 (detect/yolo_model.h)
 *   faster_rcnn   Faster R-CNN: RPN + RoI pooling head (detect/frcnn.h)
 *   fast_rcnn     Fast R-CNN: the same head on given proposals (detect/frcnn.h)
 *   mask_rcnn     Mask R-CNN: Faster R-CNN plus a RoIAlign mask branch (detect/frcnn.h)
 *
 * A detector is built for square grey images of one side; training batches come from
 * dc_detbatcher (images and the YOLO-layout target rows (class, cx, cy, w, h), which the two-stage
 * detectors turn back into pixel boxes).  Detections are boxes in the network's pixels. */
#ifndef DC_DETECT_DETECTOR_H
#define DC_DETECT_DETECTOR_H

#include "detect/frcnn.h"
#include "detect/yolo_model.h"

typedef enum dc_detector_kind { DC_DETECTOR_YOLO = 0, DC_DETECTOR_FRCNN } dc_detector_kind;

typedef struct dc_detector {
    dc_detector_kind kind;
    const char *model;        /* canonical name                                                */
    dc_yolo_net yolo;         /* kind YOLO                                                     */
    dc_frcnn_net frcnn;       /* kind FRCNN                                                    */
    const dc_box_list *props; /* fast_rcnn: proposals per image of the set being run (not owned) */
    float *gt_boxes;          /* training scratch: [max_batch][max_obj][4]                     */
    int32_t *gt_cls;
    int *gt_n;
    int max_obj;
    uint8_t *gt_pix;          /* mask_rcnn training: [max_batch][max_obj][side*side] decoded masks */
    const uint8_t **gt_masks; /* [max_batch * max_obj] pointers into gt_pix (NULL: no mask)      */
} dc_detector;

/* DC_OK when name is a detector of this build (aliases: "yolo" = yolo_mini), with the canonical name
 * in *canonical (may be NULL); DC_ERR_ARG listing the known ones otherwise. */
dc_status dc_detector_check(const char *name, const char **canonical);
/* The multiple the image side must be (16 for YOLO, 8 for the two-stage detectors); 0 if unknown. */
int dc_detector_stride(const char *name);

/* Build and plan.  max_obj > 0: a training network for targets of max_obj rows; 0: inference. */
dc_status dc_detector_create(const char *name, int side, int C, int max_obj, int64_t max_batch, const dc_graph_opts *go,
                             dc_detector *det);
/* The same, for the network of a checkpoint that recorded `revision` (mask_rcnn without one gets
 * its first, 14x14 mask head; see DC_MASK_RCNN_REVISION). */
dc_status dc_detector_create_rev(const char *name, int revision, int side, int C, int max_obj, int64_t max_batch,
                                 const dc_graph_opts *go, dc_detector *det);
void dc_detector_free(dc_detector *det);
dc_graph *dc_detector_graph(dc_detector *det);
/* The image input buffer: [max_batch, 1, side, side]. */
float *dc_detector_images(dc_detector *det);
int dc_detector_classes(const dc_detector *det);
/* The output revision a checkpoint of det records (DC_YOLO_REVISION for YOLO, DC_MASK_RCNN_REVISION
 * for mask_rcnn's current head, 0: none), and the check of a checkpoint's recorded one against this
 * build's (dc_yolo_model_check_revision; mask_rcnn: none or DC_MASK_RCNN_REVISION; any revision
 * for faster_rcnn and fast_rcnn). */
int dc_detector_revision(const dc_detector *det);
dc_status dc_detector_check_revision(const char *model, int revision, const char *path);
/* Seed everything random in training from `seed`: the graph's (dropout) and the two-stage
 * detectors' anchor and RoI sampling.  The training job calls it at the start of each epoch, so a
 * resumed run draws what an uninterrupted one would. */
void dc_detector_set_seed(dc_detector *det, uint64_t seed);

/* One training forward pass over the b images in dc_detector_images, which are images idx[k] of d,
 * mirrored where flips[k] (dc_detbatcher's last batch), with target rows `targets` ([b, max_obj,
 * 5], dc_yolo_targets' layout); *loss the total loss (weight decay included).  The two-stage
 * detectors take their boxes (and masks) from d's annotations.  props: fast_rcnn's proposals of these
 * b images (NULL otherwise).  Then dc_graph_backward(dc_detector_graph(det), dc_detector_loss(det)). */
dc_status dc_detector_forward_train(dc_detector *det, int64_t b, const float *targets, const dc_detdata *d,
                                    const int64_t *idx, const int *flips, const dc_box_list *props, float *loss);
/* 1 when the detector predicts masks (mask_rcnn). */
int dc_detector_has_masks(const dc_detector *det);
dc_node dc_detector_loss(const dc_detector *det);

/* Inference over the b images in dc_detector_images: per image k at most 100 detections in
 * boxes[k*100 ..] (network pixels, clipped), scores, classes 0..C-1, n[k] of them; masks (may be
 * NULL; only mask_rcnn fills it) their side x side RLE masks, freed by the caller. */
dc_status dc_detector_detect(dc_detector *det, int64_t b, float score_thresh, float nms, const dc_box_list *props,
                             float *boxes, float *scores, int32_t *classes, int64_t *n, dc_rle *masks);

/* Run over the first d->n images of d as COCO detections (see dc_yolo_detect_set). */
dc_status dc_detector_detect_set(dc_detector *det, const dc_detdata *d, int64_t batch, float score_thresh,
                                 const dc_box_list *props, dc_detection **dets, int64_t *n, double *seconds);

/* Read a checkpoint written by deepc dettrain: check that it holds a detector (and `model` when not
 * NULL), build it for side x side inference at batches up to `batch` and load the parameters. */
dc_status dc_detector_load(const char *ckpt, const char *model, int side, int64_t batch, dc_pool *pool, dc_detector *det,
                           dc_checkpoint_meta *meta);

#endif
