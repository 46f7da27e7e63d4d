/* det_train.h — the detector training job behind `deepc dettrain`: a COCO-style set (train and val
 * splits), one of the detectors of detect/detector.h (yolo_mini, faster_rcnn), the library's
 * optimizers and learning-rate schedules, per-epoch validation mAP (COCO evaluation), the best
 * checkpoint by validation AP50 and metrics.csv.
 * A run directory gets best.safetensors (best AP50 on val), last.safetensors (with optimizer state),
 * metrics.csv (one line per epoch) and run.txt (the options).  A run interrupted after epoch k and
 * resumed from its last.safetensors with the same options ends with the same files, bit for bit,
 * as one that was not interrupted (every epoch's random draws come from (seed, epoch)). */
#ifndef DC_TRAIN_DET_TRAIN_H
#define DC_TRAIN_DET_TRAIN_H

#include "deepc.h"
#include "detect/frcnn.h"

typedef struct dc_det_train_config {
    const char *model;        /* "yolo_mini" ("yolo" is an alias), "faster_rcnn"                 */
    const char *data_dir;     /* DIR with train.json and val.json (images in DIR/train, DIR/val) */
    const char *train_json;   /* overrides DIR/train.json                                       */
    const char *val_json;     /* overrides DIR/val.json                                         */
    const char *out_dir;      /* run directory (NULL: nothing written)                          */
    const char *init_from;    /* start the layers this checkpoint shares by name (a pre-trained
                                 det_backbone: deepc train --model det_backbone) from its values  */
    const char *resume;       /* continue from this checkpoint (RUN/last.safetensors): parameters,
                                 optimizer state and epoch count; the same command otherwise    */
    dc_optim_config optim;    /* Adam, lr 1e-3                                                  */
    dc_schedule schedule;     /* cosine                                                         */
    int step_epochs;
    float warmup_epochs;      /* 1                                                              */
    int epochs, batch, threads;
    uint64_t seed;
    float weight_decay;       /* 5e-4 (conv weights)                                            */
    int flip;                 /* random horizontal flips (1)                                    */
    int64_t train_limit;      /* > 0: first N training images                                   */
    int64_t val_limit;        /* > 0: first N validation images                                 */
    float eval_thresh;        /* score threshold of the detections evaluated (0.01)             */
    int quiet;                /* no per-epoch lines                                             */
    int progress;             /* 1 bar on stderr, 0 none, -1 when stderr is a tty               */
} dc_det_train_config;
void dc_det_train_config_defaults(dc_det_train_config *c);

typedef struct dc_det_train_result {
    int epochs_run, best_epoch;
    double first_loss, last_loss;   /* mean training loss of the first and the last epoch        */
    double best_ap50, last_ap, last_ap50, last_ap75;
    double last_mask_ap, last_mask_ap50;  /* mask_rcnn (-1 otherwise)                               */
    double seconds, train_seconds, train_images_per_s;
} dc_det_train_result;
dc_status dc_det_train_run(const dc_det_train_config *c, dc_det_train_result *r);

/* fast_rcnn's proposals: selective search (detect/selsearch.h, fast mode, the best-ranked
 * DC_FAST_RCNN_PROPOSALS boxes) over the first d->n images on `threads` threads, as one dc_box_list
 * per image (*lists[i] points into *boxes; the caller frees both).  *seconds: wall time. */
#define DC_FAST_RCNN_PROPOSALS 2000
dc_status dc_det_selsearch_lists(const dc_detdata *d, int threads, int progress, dc_box_list **lists, float **boxes,
                                 double *seconds);

#endif
