/* lab.h — the curriculum's experiments ("labs") as numbers and pictures: the paths of the five
 * optimizers on f(x, y) = x^2/20 + y^2 and their loss curves on Fashion-MNIST, activation
 * histograms under four weight initialisations, Batch Normalization across initial weight
 * scales, overfitting with and without weight decay / Dropout, a random hyperparameter search,
 * and the receptive-field / output-size arithmetic of convolutions.
 *
 * Each lab is three steps, so tests can check the numbers without files or pictures:
 *   dc_lab_X_run    computes the numbers into a result struct (with a config the caller may shrink);
 *   dc_lab_X_write  writes them as CSV plus a figure (PNG and SVG, src/viz/plot.h) into a directory;
 *   dc_lab_X_print  prints a short table of the key numbers.
 * dc_lab_run(name, opts) does all three with the textbook's settings (what `deepc lab NAME` runs).
 *
 * Every lab uses the library's own pieces (the dc_optim update rules, dc_linear / dc_batchnorm /
 * dc_dropout layers, the graph's initialisers and weight decay, dc_conv2d's shape inference), so
 * the pictures show what deepc really does.  Nothing here draws pixels itself or knows the CLI. */
#ifndef DC_LAB_H
#define DC_LAB_H

#include "deepc.h"

#include <stdio.h>

/* ------------------------------------------------------------------ common */
typedef struct dc_lab_opts {
    const char *out_dir;  /* CSV and figures go here (created); NULL: "lab-NAME"        */
    const char *data_dir; /* MNIST-format directory; NULL: /usr/share/datasets/fashion-mnist */
    uint64_t seed;        /* every random draw of the lab                                */
    int threads;          /* 0: 2 for optimizers-fashion, 1 for the small-net labs         */
    FILE *report;         /* the table of key numbers; NULL: none                        */
    /* receptive-field only: the output-size formula on these sizes (0: not given) */
    int rf_input, rf_kernel, rf_stride, rf_pad, rf_channels;
    int rf_given;         /* 1 when --input/--kernel/--stride/--pad were given            */
} dc_lab_opts;
void dc_lab_opts_defaults(dc_lab_opts *o);

typedef struct dc_lab_info {
    const char *name;
    const char *summary; /* one line: what the picture shows */
    dc_status (*run)(const dc_lab_opts *o);
} dc_lab_info;
int dc_lab_count(void);
const dc_lab_info *dc_lab_at(int i);
/* DC_ERR_ARG naming the known labs when `name` is not one of them. */
dc_status dc_lab_find(const char *name, const dc_lab_info **out);
/* Find and run a lab (out_dir NULL: "lab-NAME"). */
dc_status dc_lab_run(const char *name, const dc_lab_opts *o);

/* The default data directory. */
#define DC_LAB_DATA "/usr/share/datasets/fashion-mnist"

/* ------------------------------------------------------------------ optimizers */
/* Paths of the five optimizers minimising f(x, y) = x^2/20 + y^2 from (-7, 2): the parameter is a
 * 2-element tensor updated by dc_optim_step with the analytic gradient (x/10, 2y). */
#define DC_LAB_PATH_MAX 200
typedef struct dc_lab_path {
    dc_optim_config cfg;
    int steps;
    float x[DC_LAB_PATH_MAX + 1], y[DC_LAB_PATH_MAX + 1]; /* [0] is the start */
} dc_lab_path;
typedef struct dc_lab_paths_config {
    int steps;                       /* 30                                            */
    float x0, y0;                    /* -7, 2                                         */
    float lr[DC_OPTIM_COUNT];        /* 0.95, 0.1, 1.5, 0.3, 0.3                      */
} dc_lab_paths_config;
void dc_lab_paths_defaults(dc_lab_paths_config *c);
/* f(x, y) = x^2/20 + y^2 (its gradient, (x/10, 2y), is set in dc_lab_paths_run). */
float dc_lab_bowl(float x, float y);
dc_status dc_lab_paths_run(const dc_lab_paths_config *c, dc_lab_path out[DC_OPTIM_COUNT]);
dc_status dc_lab_paths_write(const dc_lab_path p[DC_OPTIM_COUNT], const char *dir);
void dc_lab_paths_print(const dc_lab_path p[DC_OPTIM_COUNT], FILE *f);

/* Training loss of the five optimizers on the zoo mlp (784-256-256-10, ReLU) on Fashion-MNIST. */
typedef struct dc_lab_curves_config {
    const char *data_dir;
    int64_t train_n;                 /* training images used (0: all 60000)            */
    int steps;                       /* per optimizer (1000)                           */
    int batch;                       /* 128                                            */
    float lr[DC_OPTIM_COUNT];        /* the textbook's: 0.01 (Adam 0.001)              */
    int smooth;                      /* moving-average window of the smoothed curve     */
    int threads;
    uint64_t seed;
} dc_lab_curves_config;
void dc_lab_curves_defaults(dc_lab_curves_config *c);
typedef struct dc_lab_curves {
    int steps, smooth, batch;
    float lr[DC_OPTIM_COUNT];
    float *loss[DC_OPTIM_COUNT];     /* per step                                       */
    float *smoothed[DC_OPTIM_COUNT]; /* centred moving average                         */
    double final_loss[DC_OPTIM_COUNT]; /* mean of the last `smooth` steps              */
    double test_acc[DC_OPTIM_COUNT];   /* on the first 2000 test images                */
    double seconds;
} dc_lab_curves;
dc_status dc_lab_curves_run(const dc_lab_curves_config *c, dc_lab_curves *r);
void dc_lab_curves_free(dc_lab_curves *r);
dc_status dc_lab_curves_write(const dc_lab_curves *r, const char *dir);
void dc_lab_curves_print(const dc_lab_curves *r, FILE *f);
/* Centred moving average of v[0..n) over `window` values (shrinking at the ends) into out. */
void dc_lab_smooth(const float *v, int n, int window, float *out);

/* ------------------------------------------------------------------ init */
/* Activations of a 5-layer, 100-unit fully connected net (no biases) fed 1000 standard-normal
 * inputs, for four weight initialisations and three activations. */
typedef enum dc_lab_act { DC_LAB_SIGMOID = 0, DC_LAB_TANH, DC_LAB_RELU, DC_LAB_ACT_COUNT } dc_lab_act;
typedef enum dc_lab_init {
    DC_LAB_STD1 = 0, DC_LAB_STD001, DC_LAB_XAVIER, DC_LAB_HE, DC_LAB_INIT_COUNT
} dc_lab_init;
const char *dc_lab_act_name(dc_lab_act a);
const char *dc_lab_init_name(dc_lab_init i);
#define DC_LAB_INIT_LAYERS 5
#define DC_LAB_INIT_BINS 30
typedef struct dc_lab_hist {
    float lo, hi;                                  /* bins span [lo, hi]; values outside are
                                                      counted in the first / last bin          */
    int64_t count[DC_LAB_INIT_BINS];
    int64_t n;                                     /* activations in the layer (= sum of counts) */
    int64_t below, above;                          /* how many were clamped into the end bins    */
    double mean, std, min, max;
    double frac_zero;                              /* exactly 0 (ReLU's dead units)              */
    double frac_saturated;                         /* sigmoid: < 0.01 or > 0.99; tanh: |a| > 0.99 */
} dc_lab_hist;
typedef struct dc_lab_init_config {
    int samples;   /* 1000 */
    int width;     /* 100  */
    int layers;    /* 5    */
    uint64_t seed;
} dc_lab_init_config;
void dc_lab_init_defaults(dc_lab_init_config *c);
typedef struct dc_lab_init_result {
    int samples, width, layers;
    dc_lab_hist h[DC_LAB_ACT_COUNT][DC_LAB_INIT_COUNT][DC_LAB_INIT_LAYERS];
} dc_lab_init_result;
dc_status dc_lab_init_run(const dc_lab_init_config *c, dc_lab_init_result *r);
dc_status dc_lab_init_write(const dc_lab_init_result *r, const char *dir);
void dc_lab_init_print(const dc_lab_init_result *r, FILE *f);

/* ------------------------------------------------------------------ small training runs */
/* An mlp of `layers` hidden layers of `width` ReLU units (optionally Linear-BatchNorm-ReLU, and
 * Dropout after each ReLU), trained with SGD on a small subset of Fashion-MNIST (pixels in [0, 1]). */
typedef struct dc_lab_net_config {
    int layers, width;
    int batchnorm;
    float dropout;       /* ratio; 0: none                                     */
    float weight_decay;  /* lambda                                             */
    float init_std;      /* > 0: every weight ~ N(0, init_std^2); 0: He (ReLU) */
    float lr;
    int batch;
    int epochs;
    uint64_t seed;
    int threads;
} dc_lab_net_config;

/* Batch Normalization vs none across initial weight scales. */
#define DC_LAB_BN_MAX_SCALES 32
typedef struct dc_lab_bn_config {
    const char *data_dir;
    int64_t train_n;     /* 1000                         */
    int n_scales;        /* 16: log-spaced from scale_hi to scale_lo */
    float scale_hi, scale_lo; /* 1, 1e-4                  */
    int epochs;          /* 20 (10 iterations each)       */
    int batch;           /* 100                           */
    float lr;            /* 0.01                          */
    int layers, width;   /* 5, 100                        */
    int threads;
    uint64_t seed;
} dc_lab_bn_config;
void dc_lab_bn_defaults(dc_lab_bn_config *c);
typedef struct dc_lab_bn_result {
    int n_scales, epochs, iters_per_epoch;
    float scale[DC_LAB_BN_MAX_SCALES];
    float *acc_bn[DC_LAB_BN_MAX_SCALES];   /* epochs+1 training accuracies (epoch 0 = before training) */
    float *acc_plain[DC_LAB_BN_MAX_SCALES];
    double seconds;
} dc_lab_bn_result;
dc_status dc_lab_bn_run(const dc_lab_bn_config *c, dc_lab_bn_result *r);
void dc_lab_bn_free(dc_lab_bn_result *r);
dc_status dc_lab_bn_write(const dc_lab_bn_result *r, const char *dir);
void dc_lab_bn_print(const dc_lab_bn_result *r, FILE *f);

/* Overfitting on 300 images: no regularisation, weight decay, Dropout. */
enum { DC_LAB_FIT_PLAIN = 0, DC_LAB_FIT_DECAY, DC_LAB_FIT_DROPOUT, DC_LAB_FIT_COUNT };
typedef struct dc_lab_overfit_config {
    const char *data_dir;
    int64_t train_n;     /* 300                          */
    int64_t test_n;      /* 2000 test images per epoch    */
    int epochs;          /* 200                          */
    int batch;           /* 100                          */
    float lr;            /* 0.01                         */
    int layers, width;   /* 6, 100                       */
    float weight_decay;  /* 0.1                          */
    float dropout;       /* 0.15                         */
    int threads;
    uint64_t seed;
} dc_lab_overfit_config;
void dc_lab_overfit_defaults(dc_lab_overfit_config *c);
typedef struct dc_lab_overfit_result {
    int epochs;
    float weight_decay, dropout;
    float *train_acc[DC_LAB_FIT_COUNT]; /* epochs+1 values (epoch 0 = before training) */
    float *test_acc[DC_LAB_FIT_COUNT];
    double seconds;
} dc_lab_overfit_result;
const char *dc_lab_fit_name(int setting);
dc_status dc_lab_overfit_run(const dc_lab_overfit_config *c, dc_lab_overfit_result *r);
void dc_lab_overfit_free(dc_lab_overfit_result *r);
dc_status dc_lab_overfit_write(const dc_lab_overfit_result *r, const char *dir);
void dc_lab_overfit_print(const dc_lab_overfit_result *r, FILE *f);

/* Random search of learning rate and weight decay. */
typedef struct dc_lab_search_config {
    const char *data_dir;
    int64_t train_n;     /* 500 images, of which val_n are the validation split */
    int64_t val_n;       /* 100                          */
    int trials;          /* 100                          */
    int epochs;          /* 50                           */
    int batch;           /* 100                          */
    int layers, width;   /* 6, 100                       */
    float lr_lo, lr_hi;  /* 1e-6, 1e-2 (log-uniform)     */
    float wd_lo, wd_hi;  /* 1e-8, 1e-4 (log-uniform)     */
    int top;             /* 5                            */
    int threads;
    uint64_t seed;
} dc_lab_search_config;
void dc_lab_search_defaults(dc_lab_search_config *c);
typedef struct dc_lab_trial {
    float lr, wd;
    float val_acc, train_acc;
    float *val_curve; /* epochs+1 values */
} dc_lab_trial;
typedef struct dc_lab_search_result {
    int trials, epochs, top;
    float lr_lo, lr_hi, wd_lo, wd_hi; /* the ranges searched */
    dc_lab_trial *t;   /* sorted by validation accuracy, best first */
    double seconds;
} dc_lab_search_result;
dc_status dc_lab_search_run(const dc_lab_search_config *c, dc_lab_search_result *r);
void dc_lab_search_free(dc_lab_search_result *r);
dc_status dc_lab_search_write(const dc_lab_search_result *r, const char *dir);
void dc_lab_search_print(const dc_lab_search_result *r, FILE *f);

/* ------------------------------------------------------------------ receptive field */
/* Output size (H + 2P - FH)/S + 1; DC_ERR_ARG when a size is invalid or the division is not exact. */
dc_status dc_lab_conv_out(int64_t h, int64_t k, int64_t s, int64_t p, int64_t *out);
/* Receptive field of n stacked k x k convolutions with stride 1: 1 + n (k - 1). */
int64_t dc_lab_receptive_field(int n, int k);
typedef struct dc_lab_stack {
    int n, k;               /* n stacked k x k convolutions, stride 1, pad k/2 */
    int64_t params;         /* weights of the stack for C -> C channels (no biases), from deepc's graph */
    int64_t params_formula; /* n k^2 C^2                                     */
    int64_t rf;             /* receptive field, formula                      */
    int64_t rf_measured;    /* width of the output footprint of one input pixel, from a forward pass */
    int64_t relus;          /* non-linearities in the stack                  */
} dc_lab_stack;
typedef struct dc_lab_rf_result {
    int channels;
    dc_lab_stack st[4];     /* 2 x 3x3, 1 x 5x5, 3 x 3x3, 1 x 7x7 */
    int given;              /* the user's sizes */
    int64_t h, k, s, p, out;
    int64_t out_graph;      /* the same from dc_conv2d's shape inference */
} dc_lab_rf_result;
/* channels: C for the parameter counts (64).  When given, h/k/s/p are checked with dc_lab_conv_out
 * (an error is returned as is). */
dc_status dc_lab_rf_run(int channels, int given, int64_t h, int64_t k, int64_t s, int64_t p, uint64_t seed,
                        dc_lab_rf_result *r);
dc_status dc_lab_rf_write(const dc_lab_rf_result *r, const char *dir);
void dc_lab_rf_print(const dc_lab_rf_result *r, FILE *f);

/* ------------------------------------------------------------------ helpers shared by the labs */
/* mkdir -p. */
dc_status dc_lab_mkdir(const char *dir);
/* A growing text buffer for CSV files, written atomically at the end. */
typedef struct dc_lab_text {
    char *buf;
    size_t len, cap;
    int failed; /* an allocation failed */
} dc_lab_text;
void dc_lab_text_printf(dc_lab_text *t, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Write t to dir/name and free it (also on error). */
dc_status dc_lab_text_save(dc_lab_text *t, const char *dir, const char *name);

#endif
