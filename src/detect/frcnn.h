/* frcnn.h — the two-stage detectors of deepc: Faster R-CNN (Ren et al. 2015), Fast R-CNN
 * (Girshick 2015) and Mask R-CNN (He et al. 2017) on one network definition, `frcnn_mini`, for grey
 * square images whose side is a multiple of 8 (the generated 160x160 set).
 *
 *   backbone (stride 8)       conv3x3/2 24, conv3x3 24, max-pool 2, conv3x3 48 x2, max-pool 2,
 *                             conv3x3 96 x2 (each with BatchNorm and ReLU)  -> features [96, H/8, W/8]
 *   RPN (Faster R-CNN only)   conv3x3 96 + ReLU, then two 1x1 convolutions: A objectness logits and
 *                             4A box deltas per position, A = 9 anchors (3 sizes x 3 ratios)
 *   fine (stride 4)           ReLU(1x1 conv 96 of conv4's output [48, H/4, W/4] + the features
 *                             upsampled by a 2x2 stride-2 transposed convolution, 96): the map the
 *                             RoI heads read (one top-down level of a feature pyramid)
 *   RoI head                  RoI max pooling 7x7 of the fine map (spatial scale 1/4), FC 512, ReLU,
 *                             FC 512, ReLU, then C+1 class logits (softmax, 0 = background) and
 *                             4(C+1) class-specific box deltas (weights 10, 10, 5, 5)
 *
 * Training (one step over a batch of images, dc_frcnn_train_step): the RPN's anchors are labelled
 * against the ground truth (IoU >= 0.7 or the best anchor of an object: foreground; < 0.3:
 * background) and 256 per image sampled, at most half foreground; objectness is a sigmoid
 * cross-entropy, the deltas a smooth L1 (beta 1/9), both normalised by the sampled count.  The RPN's
 * proposals (decoded, clipped, NMS 0.7, top 300) of the same forward pass, plus the ground truth,
 * are sampled into 64 RoIs per image (25 % foreground at IoU >= 0.5) for the head: softmax
 * cross-entropy over the RoIs, smooth L1 on the deltas of the true class of foreground RoIs.  The
 * proposals are taken as constants (no gradient through their coordinates): the "approximate joint
 * training" of the paper, as in py-faster-rcnn and torchvision.  The four losses are summed.
 * Fast R-CNN: the same without the RPN; the proposals come from outside (selective search), given
 * per image.  Mask R-CNN: Faster R-CNN with RoIAlign 7x7 instead of RoI max pooling for the box
 * head, plus a mask branch on the foreground RoIs (RoIAlign 14x14, two 3x3 convolutions, a 2x2
 * stride-2 transposed convolution to 28x28 as in the paper, one 28x28 logit map per class;
 * per-pixel sigmoid cross-entropy on the map of the object's class; docs/detection.md).
 *
 * Inference: the top 150 proposals per image (NMS 0.7) go through the head; every class c >= 1 gets
 * its score p_c and its own decoded box, clipped to the image; boxes below the score threshold go,
 * per-class NMS 0.5, at most 100 per image.
 *
 * Boxes follow src/detect/boxes.h ([x1, y1, x2, y2], continuous pixels).  Images as in detdata.h. */
#ifndef DC_DETECT_FRCNN_H
#define DC_DETECT_FRCNN_H

#include "detect/cocoeval.h"
#include "detect/detdata.h"
#include "detect/proposals.h"

#define DC_FRCNN_STRIDE 8
#define DC_FRCNN_MODEL "faster_rcnn"
#define DC_FAST_RCNN_MODEL "fast_rcnn"
#define DC_MASK_RCNN_MODEL "mask_rcnn"
/* The checkpoints record the network's revision, and dettest, detect and --init-from build the
 * network of the one they read:
 *   0 (none recorded)  the first networks: RoI heads on the stride-8 features, FC 256; mask_rcnn's
 *                      mask head M x M maps straight from its convolutions
 *   2 (mask_rcnn only) as 0, the mask head upsampled to 2M x 2M by a transposed convolution
 *   3 (the current)    the RoI heads (and the mask head) read the stride-4 map `fine`, FC 512;
 *                      mask_rcnn's mask head upsampled */
#define DC_MASK_RCNN_REVISION 2
#define DC_FRCNN_REVISION 3

typedef struct dc_frcnn_opts {
    int rpn;                       /* 1: Faster R-CNN (RPN proposals); 0: Fast R-CNN (given)      */
    float anchor_sizes[3];         /* 16, 32, 64 pixels                                          */
    float anchor_ratios[3];        /* h/w 0.5, 1, 2                                               */
    int rpn_batch;                 /* anchors sampled per image: 256                              */
    float rpn_pos_fraction;        /* 0.5                                                         */
    float rpn_fg_iou, rpn_bg_iou;  /* 0.7, 0.3                                                    */
    dc_proposal_opts prop_train;   /* pre-NMS 2000, post-NMS 300, NMS 0.7, min size 4             */
    dc_proposal_opts prop_test;    /* pre-NMS 1000, post-NMS 150                                  */
    dc_roi_sampler_opts sampler;   /* 64 RoIs per image, 25 % fg, fg >= 0.5, bg [0, 0.5)          */
    int pool;                      /* RoI pooling output side: 7                                  */
    int fc;                        /* units of the two FC layers: 512 (256 before revision 3)     */
    float beta;                    /* smooth L1: 1/9                                              */
    int64_t max_proposals;         /* Fast R-CNN: at most this many given proposals per image at
                                      inference (2000); training samples from all of them       */
    int mask;                      /* 1: Mask R-CNN's mask branch                                 */
    int box_align;                 /* 1: RoIAlign (sampling 2, aligned) instead of RoI max pooling
                                      for the box head: Mask R-CNN's (1 for mask_rcnn)           */
    int mask_size;                 /* RoIAlign and mask side M: 14                                */
    int mask_ch;                   /* channels of the mask head's two 3x3 convolutions: 32        */
    int mask_upsample;             /* 1: a 2x2 stride-2 transposed convolution (mask_ch, ReLU) after
                                      them, so the maps are 2M x 2M (the paper's); 0: M x M        */
    int fine;                      /* 1: the RoI heads (box and mask) read the stride-4 map: relu(
                                      1x1 conv 96 of conv4's output + the features upsampled by a
                                      2x2 stride-2 transposed convolution, 96): one top-down level
                                      of a feature pyramid, for the 14-30 pixel items             */
} dc_frcnn_opts;
dc_frcnn_opts dc_frcnn_opts_default(int rpn);

/* The backbone of frcnn_mini on input x ([1, H, W], H and W multiples of 8): the stride-8 feature
 * map [96, H/8, W/8] (also the backbone of yolo_s8). */
dc_node dc_frcnn_backbone(dc_graph *g, dc_node x);

/* DC_OK when name is a two-stage model ("faster_rcnn", "fast_rcnn", "mask_rcnn"); *o (may be NULL)
 * gets its current options. */
dc_status dc_frcnn_model_check(const char *name, dc_frcnn_opts *o);
/* The same for the network of a given revision (-1: the current one); an unknown revision is
 * DC_ERR_FORMAT.  dc_frcnn_revision: the revision of the network o describes. */
dc_status dc_frcnn_model_revision(const char *name, int revision, dc_frcnn_opts *o);
int dc_frcnn_revision(const dc_frcnn_opts *o);
/* The side of the mask head's maps: mask_size, doubled with mask_upsample. */
int dc_frcnn_mask_side(const dc_frcnn_opts *o);

/* A planned network.  Graph order: backbone, RPN and its losses, then the RoI input `rois` and
 * everything after it, so that dc_graph_forward_until(rois) / dc_graph_forward_from(rois) split a
 * step at the proposals. */
typedef struct dc_frcnn_net {
    dc_graph *g;
    dc_frcnn_opts o;
    int side, fh, fw, A, C, train;
    int64_t max_batch, max_rois;
    dc_node x, feat, rpn_cls, rpn_reg;                  /* rpn_* only with o.rpn                 */
    dc_node rfeat;                                      /* the RoI heads' map: feat, or o.fine's  */
    float rscale;                                       /* its spatial scale: 1/8 or 1/4          */
    dc_node stage1_end;                                 /* inference: nodes before it give feat
                                                           (and the RPN's outputs)              */
    dc_node head_end;                                   /* inference: rois..head_end-1 the head  */
    dc_node rpn_lab, rpn_lw, rpn_tgt, rpn_tw;           /* training inputs of the RPN             */
    dc_node rpn_cls_loss, rpn_box_loss, rpn_loss;       /* its losses and their sum              */
    dc_node rois, cls, reg, prob;                       /* prob: softmax of cls                   */
    dc_node roi_lab, roi_tgt, roi_tw;                   /* training inputs of the head           */
    dc_node cls_loss, box_loss, loss;                   /* its losses; loss: the total           */
    dc_node mask_rois, mask_logits, mask_end;           /* Mask R-CNN: RoIs, [C, M, M] logits     */
    dc_node mask_tgt, mask_w, mask_loss;                /* training                              */
    int64_t max_mask_rois;
    float *anchors;                                     /* [fh*fw*A, 4]                          */
    int64_t n_anchors;
    dc_rng rng;                                         /* the samplers' draws                   */
    /* scratch (per image) */
    float *sc, *dl, *props;
    int8_t *labels;
    int32_t *matched;
    float *s_rois, *s_tgt;
    int32_t *s_lab, *s_match;
    int64_t last_rois, last_fg;                         /* RoIs / foreground of the last step     */
} dc_frcnn_net;

/* Build and plan for batches up to max_batch of side x side images with C classes; train != 0 adds
 * the training inputs and losses.  seed fixes the initialisation and the samplers. */
dc_status dc_frcnn_net_create(const dc_frcnn_opts *o, int side, int C, int train, int64_t max_batch,
                              const dc_graph_opts *go, dc_frcnn_net *net);
void dc_frcnn_net_free(dc_frcnn_net *net);

/* Proposals of one image for Fast R-CNN: [n, 4] boxes. */
typedef struct dc_box_list {
    int64_t n;
    float *boxes;
} dc_box_list;

/* One training forward pass over the batch already written into dc_graph_data(net->g, net->x):
 * b images whose ground truth is gt_boxes[k] (gt_n[k] boxes, [max_obj, 4] per image) with classes
 * gt_cls[k] (1..C).  props: Fast R-CNN's proposals per image (NULL otherwise).  gt_masks (Mask
 * R-CNN; NULL otherwise): [b * max_obj] row-major side x side 0/1 masks of the boxes.  After it,
 * dc_graph_backward(net->g, net->loss) gives the gradients; *loss (may be NULL) the total loss, and
 * parts[5] (may be NULL) the RPN objectness, RPN box, head class, head box and mask losses. */
dc_status dc_frcnn_forward_train(dc_frcnn_net *net, int64_t b, const float *gt_boxes, const int32_t *gt_cls,
                                 const int *gt_n, int max_obj, const dc_box_list *props, const uint8_t *const *gt_masks,
                                 float *loss, float parts[5]);

/* Inference over the batch in dc_graph_data(net->g, net->x) (per-class NMS at `nms`): per image k at
 * most 100 detections, boxes [.., 4], scores, classes 0..C-1, counts n[k]; arrays hold 100 per image.
 * props as above.  masks (Mask R-CNN; may be NULL): the detections' masks as side x side RLE, the
 * M x M probabilities of the detected class resized bilinearly onto the box, >= 0.5 inside. */
dc_status dc_frcnn_detect(dc_frcnn_net *net, int64_t b, float score_thresh, float nms, const dc_box_list *props,
                          float *boxes, float *scores, int32_t *classes, int64_t *n, dc_rle *masks);

/* Mask R-CNN's mask geometry.  dc_mask_target: the M x M target of a RoI box ([x1, y1, x2, y2]),
 * the side x side 0/1 mask sampled bilinearly at the centres of the box's M x M bins (soft values
 * in [0, 1]).  dc_mask_paste: an M x M probability map onto its box in a side x side image: a pixel
 * whose centre lies in the box takes the map's bilinear value there and is inside when >= 0.5. */
void dc_mask_target(const uint8_t *mask, int side, const float *box, int M, float *out);
void dc_mask_paste(const float *prob, int M, const float *box, int side, uint8_t *out);

/* Run over the first d->n images of d (batches of `batch`, eval mode) into COCO detections, as
 * dc_yolo_detect_set.  props: per image of d (Fast R-CNN) or NULL. */
dc_status dc_frcnn_detect_set(dc_frcnn_net *net, const dc_detdata *d, int64_t batch, float score_thresh,
                              const dc_box_list *props, dc_detection **dets, int64_t *n, double *seconds);

#endif
