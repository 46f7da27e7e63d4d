/* rcnn_train.h — R-CNN over a COCO-style set: the selective-search proposal cache, the fine-tuning
 * job (warped regions, 25% foreground mini-batches, softmax over C + 1 classes), the bounding-box
 * regressors (ridge regression), the choice of lambda and NMS threshold on the validation split,
 * R-CNN checkpoints, and detection/evaluation of a whole split.  docs/rcnn.md has every rule.
 *
 * A run directory gets best.safetensors (the network of the best validation AP50, then at the end
 * the box regressors and the chosen settings as well), metrics.csv and run.txt. */
#ifndef DC_TRAIN_RCNN_TRAIN_H
#define DC_TRAIN_RCNN_TRAIN_H

#include "detect/rcnn.h"

/* ------------------------------------------------------------------ proposal cache */
/* Selective-search boxes of every image of a set, compact: integer pixel boxes as uint16. */
typedef struct dc_rcnn_props {
    int64_t n_images;
    int64_t *first;      /* [n_images + 1]: image i's boxes are [first[i], first[i + 1]) */
    uint16_t *boxes;     /* [total][4] x1, y1, x2, y2                                   */
    double cpu_seconds;  /* selective search time summed over images (all threads)      */
    double wall_seconds;
} dc_rcnn_props;
/* Runs dc_selsearch on the first d->n images on `threads` threads; image i uses the seed
 * dc_seed_mix(o->seed, i, 0), so the result does not depend on the thread count.  progress != 0:
 * a counter on stderr. */
dc_status dc_rcnn_props_compute(const dc_detdata *d, const dc_selsearch_opts *o, int threads, int progress,
                                dc_rcnn_props **out);
void dc_rcnn_props_free(dc_rcnn_props *p);
int64_t dc_rcnn_props_count(const dc_rcnn_props *p, int64_t i);
/* Image i's boxes as floats.   out: [count][4] */
void dc_rcnn_props_get(const dc_rcnn_props *p, int64_t i, float *out);

/* Ground truth of image i of a COCO set as boxes [x1, y1, x2, y2] and classes 1..C (crowd regions and
 * empty boxes left out).  boxes: [ann_count][4], classes: [ann_count]; returns the count. */
int64_t dc_rcnn_image_gt(const dc_coco *c, int64_t i, float *boxes, int32_t *classes);

/* Recall of a proposal cache: the fraction of ground-truth boxes (not crowd) covered by a proposal
 * with IoU >= thr (thr[0..n_thr)); mean proposals per image. */
dc_status dc_rcnn_props_recall(const dc_rcnn_props *p, const dc_coco *c, int n_thr, const float *thr, double *recall,
                               double *mean_props);

/* ------------------------------------------------------------------ training windows */
/* The labelled windows of a training set: image i has windows [first[i], first[i + 1]) (its
 * proposals, then its ground-truth boxes), each labelled with a class 1..C (IoU >= 0.5 with a box
 * of that class, or a ground-truth box) or 0 (background); fg lists the foreground windows as
 * (image, window index within the image). */
typedef struct dc_rcnn_windows {
    int64_t n_images;
    const int64_t *first;
    const uint8_t *label;
    const int32_t (*fg)[2];
    int64_t n_fg;
} dc_rcnn_windows;
/* One mini-batch of `batch` windows, out[k] = (image, window index within the image):
 *   - nfg = round(batch * fg_fraction) foreground windows (0 when there are none), each drawn
 *     uniformly from all foreground windows (with replacement), first;
 *   - then background windows: a uniform image, a uniform window of it, redrawn until it is
 *     background (at most 100 draws; a set without background windows then gives the last draw).
 * *n_fg (may be NULL) receives nfg.  All draws come from rng. */
void dc_rcnn_sample(const dc_rcnn_windows *w, int batch, float fg_fraction, dc_rng *rng, int64_t (*out)[2], int *n_fg);

/* ------------------------------------------------------------------ checkpoints */
/* What a checkpoint needs besides the network's parameters (stored as metadata). */
typedef struct dc_rcnn_settings {
    int side;                 /* warp side (32)                                  */
    float pad;                /* context padding, warped pixels                  */
    float nms;                /* per-class NMS threshold chosen on val            */
    double lambda;            /* ridge lambda of the regressors (0: none)        */
    int has_bbreg;            /* regressors stored                                */
    dc_selsearch_opts ss;     /* mode, sigma, min_size_scale, max_boxes, seed     */
} dc_rcnn_settings;

/* A loaded R-CNN: network planned for max_batch regions (inference), regressors (NULL when the
 * checkpoint has none), settings and metadata. */
typedef struct dc_rcnn_model {
    dc_rcnn_net net;
    float *bbreg;             /* [C][4][DC_RCNN_FEATURES + 1] or NULL */
    dc_rcnn_settings set;
    dc_checkpoint_meta meta;
} dc_rcnn_model;
/* Atomic write (temporary file, fsync, rename): the network's parameters, "rcnn.bbox_reg" when
 * bbreg != NULL, the usual checkpoint metadata (model rcnn_mini) and the settings. */
dc_status dc_rcnn_save(const char *path, const dc_rcnn_net *net, const float *bbreg, const dc_rcnn_settings *s,
                       const dc_checkpoint_meta *m);
/* Reads the metadata first: a file that is not an R-CNN checkpoint is refused with its name. */
dc_status dc_rcnn_load(const char *path, int64_t max_batch, const dc_graph_opts *go, dc_rcnn_model *out);
void dc_rcnn_model_free(dc_rcnn_model *m);

/* ------------------------------------------------------------------ detection over a set */
/* Every image of d: its proposals (props, computed by the caller), scored, regressed, NMS; COCO
 * detections in *dets (caller frees with dc_detections_free).  Times (may be NULL): seconds of
 * warping + CNN + post-processing (not the selective search). */
dc_status dc_rcnn_detect_set(dc_rcnn_model *m, const dc_detdata *d, const dc_rcnn_props *props,
                             const dc_rcnn_detect_opts *o, dc_detection **dets, int64_t *n, double *seconds);

/* ------------------------------------------------------------------ training */
typedef struct dc_rcnn_train_config {
    const char *model;        /* "rcnn_mini" ("rcnn" is an alias)                              */
    const char *data_dir;     /* DIR with train.json and val.json                             */
    const char *train_json, *val_json; /* override DIR/train.json, DIR/val.json                */
    const char *out_dir;      /* run directory (NULL: nothing written)                        */
    dc_optim_config optim;    /* Adam 1e-3                                                    */
    dc_schedule schedule;     /* cosine                                                       */
    float warmup_epochs;      /* 0.2                                                          */
    int epochs;               /* 6                                                            */
    int64_t steps_per_epoch;  /* 0: training images / 8 mini-batches                         */
    int batch;                /* regions per mini-batch (128)                                  */
    float fg_fraction;        /* 0.25 (the paper's 32 of 128)                                  */
    float fg_iou;             /* a proposal with IoU >= 0.5 is its box's class, else background */
    float reg_iou;            /* box regression learns from proposals with IoU > 0.6           */
    int side;                 /* warp side (32)                                                */
    float pad;                /* context padding (< 0: 16 * side / 227)                        */
    int flip;                 /* mirrored regions at random (1)                                */
    dc_selsearch_opts ss;     /* proposals (fast mode)                                         */
    int threads;
    uint64_t seed;
    float weight_decay;       /* 5e-4                                                         */
    int64_t train_limit, val_limit;  /* > 0: first N images                                   */
    int64_t val_epoch_limit;  /* images of val scored after each epoch (200; <= 0: all)        */
    int64_t reg_images;       /* training images whose proposals train the regressors (2000)  */
    float eval_thresh;        /* score threshold of the evaluated detections (0.01)            */
    int tune;                 /* choose lambda and NMS on val at the end (1)                   */
    int quiet, progress;
} dc_rcnn_train_config;
void dc_rcnn_train_config_defaults(dc_rcnn_train_config *c);

typedef struct dc_rcnn_train_result {
    int epochs_run, best_epoch;
    double first_loss, last_loss;
    double best_ap50;                     /* per-epoch validation (no regression)      */
    double val_ap, val_ap50, val_ap75;    /* the final model on val (chosen settings)  */
    double lambda, nms;                   /* chosen                                    */
    double ss_seconds, train_seconds, seconds;
    double mean_props_train;
} dc_rcnn_train_result;
dc_status dc_rcnn_train_run(const dc_rcnn_train_config *c, dc_rcnn_train_result *r);

#endif
