/* yolo_train.h — the YOLO v1 training job behind `deepc dettrain`: a COCO-style set (train and val
 * splits), the yolo_mini network, the library's optimizer and learning-rate schedules, per-epoch
 * validation mAP (COCO evaluation), the best checkpoint by validation AP50 and metrics.csv.
 * A run directory gets best.safetensors (best AP50 on val), last.safetensors (with optimizer state),
 * metrics.csv (one line per epoch) and run.txt (the options). */
#ifndef DC_TRAIN_YOLO_TRAIN_H
#define DC_TRAIN_YOLO_TRAIN_H

#include "deepc.h"

typedef struct dc_yolo_train_config {
    const char *model;        /* "yolo_mini" ("yolo" is an alias)                                */
    const char *data_dir;     /* DIR with train.json and val.json (images in DIR/train, DIR/val) */
    const char *train_json;   /* overrides DIR/train.json                                       */
    const char *val_json;     /* overrides DIR/val.json                                         */
    const char *out_dir;      /* run directory (NULL: nothing written)                          */
    dc_optim_config optim;    /* Adam, lr 1e-3                                                  */
    dc_schedule schedule;     /* cosine                                                         */
    int step_epochs;
    float warmup_epochs;      /* 1                                                              */
    int epochs, batch, threads;
    uint64_t seed;
    float weight_decay;       /* 5e-4 (conv weights)                                            */
    int flip;                 /* random horizontal flips (1)                                    */
    int B;                    /* boxes per cell (2)                                             */
    int64_t train_limit;      /* > 0: first N training images                                   */
    int64_t val_limit;        /* > 0: first N validation images                                 */
    float eval_thresh;        /* score threshold of the detections evaluated (0.01)             */
    int quiet;                /* no per-epoch lines                                             */
    int progress;             /* 1 bar on stderr, 0 none, -1 when stderr is a tty               */
} dc_yolo_train_config;
void dc_yolo_train_config_defaults(dc_yolo_train_config *c);

typedef struct dc_yolo_train_result {
    int epochs_run, best_epoch;
    double first_loss, last_loss;   /* mean training loss of the first and the last epoch        */
    double best_ap50, last_ap, last_ap50, last_ap75;
    double seconds, train_seconds, train_images_per_s;
} dc_yolo_train_result;
dc_status dc_yolo_train_run(const dc_yolo_train_config *c, dc_yolo_train_result *r);

#endif
