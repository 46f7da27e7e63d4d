/* cli.h — what the deepc subcommands share: error printing and checked numeric flags. */
#ifndef DC_CLI_H
#define DC_CLI_H

/* Prints "deepc CMD: <the library's last error>" to stderr; returns 1 (the exit status). */
int dc_cli_fail(const char *cmd);
/* Prints "deepc CMD: <fmt with arg> (see 'deepc CMD --help')"; returns 2 (the exit status). */
int dc_cli_usage(const char *cmd, const char *fmt, const char *arg);
/* Prints "deepc CMD: WHAT ARG (see 'deepc CMD --help')" (ARG may be NULL); returns 2. */
int dc_cli_bad(const char *cmd, const char *what, const char *arg);
/* Parse flag value v as an integer / a number within [lo, hi]; on failure print what was expected
 * and return 1, else store it in *out and return 0. */
int dc_cli_long(const char *cmd, const char *flag, const char *v, long lo, long hi, long *out);
int dc_cli_float(const char *cmd, const char *flag, const char *v, double lo, double hi, double *out);

/* The training flags that `deepc dettrain`'s two jobs (the detectors' and R-CNN's) share: --model,
 * --data, --out, --optimizer, --schedule, --epochs, --batch (at least min_batch), --threads,
 * --seed, --limit, --val-limit, --lr, --warmup, --weight-decay.  The caller fills the defaults
 * (lr < 0: the optimizer's own), parses each flag with a value through dc_cli_train_flag, then
 * checks --out and builds the optimizer with dc_cli_train_optim. */
#include "deepc.h"
typedef struct dc_cli_train_flags {
    const char *model, *data_dir, *out_dir, *optimizer;
    dc_schedule schedule;
    int epochs, batch, threads;
    uint64_t seed;
    int64_t train_limit, val_limit;
    double lr;
    float warmup_epochs, weight_decay;
} dc_cli_train_flags;
/* --progress / --no-progress (a bar on stderr; default -1: when stderr is a terminal): 1 when a is
 * one of them, stored in *progress. */
int dc_cli_progress_flag(const char *a, int *progress);
/* 1: flag a (with value v) is one of them and is stored; 0: it is not; -1: its value is bad (the
 * message is printed; exit with 2). */
int dc_cli_train_flag(const char *cmd, const char *a, const char *v, int min_batch, dc_cli_train_flags *f);
/* --out is required; the optimizer by name with f->lr (Adam 1e-3, the others 1e-2 when not given).
 * Returns 0, or the exit status after printing the error. */
int dc_cli_train_optim(const char *cmd, const dc_cli_train_flags *f, dc_optim_config *optim);
/* From and into a job's configuration with fields of the same names (dc_det_train_config,
 * dc_rcnn_train_config); the optimizer starts as Adam at its default rate. */
#define DC_CLI_TRAIN_FLAGS_OF(c)                                                                     \
    {(c).model, (c).data_dir, (c).out_dir, "adam", (c).schedule, (c).epochs, (c).batch, (c).threads, \
     (c).seed, (c).train_limit, (c).val_limit, -1.0, (c).warmup_epochs, (c).weight_decay}
#define DC_CLI_TRAIN_FLAGS_STORE(f, c)                                                               \
    do {                                                                                             \
        (c).model = (f).model;                                                                       \
        (c).data_dir = (f).data_dir;                                                                 \
        (c).out_dir = (f).out_dir;                                                                   \
        (c).schedule = (f).schedule;                                                                 \
        (c).epochs = (f).epochs;                                                                     \
        (c).batch = (f).batch;                                                                       \
        (c).threads = (f).threads;                                                                   \
        (c).seed = (f).seed;                                                                         \
        (c).train_limit = (f).train_limit;                                                           \
        (c).val_limit = (f).val_limit;                                                               \
        (c).warmup_epochs = (f).warmup_epochs;                                                       \
        (c).weight_decay = (f).weight_decay;                                                         \
    } while (0)

/* R-CNN (rcnn.c): `deepc proposals`, and the functions behind `deepc dettrain/dettest/detect
 * --model rcnn` (they take the flags after the subcommand, --model included). */
int dc_cli_proposals(int argc, char **argv);
int dc_cli_rcnn_train(int argc, char **argv);
int dc_cli_rcnn_test(int argc, char **argv);
int dc_cli_rcnn_detect(int argc, char **argv);

/* The flags of `deepc detect` (draw.c), shared by the detectors' and R-CNN's versions: one image
 * and --checkpoint, --model, --out, --threshold, --nms, --threads, and --size where with_size.  The
 * caller fills the defaults first.  Returns -1 when the command should go on, else the exit status
 * (0 after printing help, 2 after a usage error). */
typedef struct dc_cli_detect_args {
    const char *ckpt, *model, *out, *image;
    double thresh, nms;
    long size, threads;
} dc_cli_detect_args;
int dc_cli_detect_parse(int argc, char **argv, const char *help, int with_size, dc_cli_detect_args *a);

/* Drawing detections (draw.c).  Class names: Fashion-MNIST's when there are 10 classes, else "".
 * A detection: the outline of box [x1, y1, x2, y2] (pixels) in class k's colour, labelled
 * "name score" (or "k score") above it.  A mask (side x side, 0/1) tinted half way into the
 * picture, whatever its size. */
#include "io/image.h"
const char *dc_cli_class_name(int classes, int k);
void dc_cli_draw_detection(dc_image *im, const float box[4], int classes, int k, float score);
void dc_cli_tint_mask(dc_image *im, const uint8_t *mask, int side, int k);

#endif
