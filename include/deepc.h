/* deepc.h — the public API of deepc, a deep-learning framework in C11.
 *
 * Everything a program needs to build a network, train it and save it is declared here.
 * Conventions:
 *   - every public symbol starts with dc_ and reads dc_object_verb;
 *   - functions that can fail return a dc_status; DC_OK is 0.  On failure
 *     dc_last_error() returns a message saying what and where (thread-local);
 *   - whoever calls a *_create calls the matching *_free; every *_free accepts NULL;
 *   - tensors are float32, row-major, NCHW, contiguous.
 */
#ifndef DEEPC_H
#define DEEPC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DC_VERSION_MAJOR 0
#define DC_VERSION_MINOR 1
#define DC_VERSION_PATCH 0
#define DC_VERSION_STRING "0.1.0"

/* ------------------------------------------------------------------ status */
typedef enum dc_status {
    DC_OK = 0,
    DC_ERR_ARG,      /* a bad argument: NULL, out of range, unknown name      */
    DC_ERR_SHAPE,    /* shapes that do not fit together                       */
    DC_ERR_IO,       /* a file could not be opened, read or written           */
    DC_ERR_FORMAT,   /* a file's contents are corrupt or of the wrong kind    */
    DC_ERR_NOMEM,    /* an allocation failed                                  */
    DC_ERR_NUMERIC,  /* NaN or Inf where a finite number was needed           */
    DC_ERR_STATE,    /* a call in the wrong order (e.g. run before plan)      */
    DC_STATUS_COUNT
} dc_status;

/* Short name of a status ("shape error", ...). Never NULL. */
const char *dc_status_name(dc_status s);
/* Message of the last error raised on this thread ("" if none). */
const char *dc_last_error(void);
/* Record an error message (printf-style) for this thread and return `code`.
 * Library code uses it through DC_ERR, which adds file:line. */
dc_status dc_error_set(dc_status code, const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
void dc_error_clear(void);
#define DC_ERR(code, ...) dc_error_set((code), __FILE__, __LINE__, __VA_ARGS__)
/* Propagate a failing status unchanged. */
#define DC_TRY(expr) do { dc_status dc_try_s_ = (expr); if (dc_try_s_ != DC_OK) return dc_try_s_; } while (0)

/* ------------------------------------------------------------------ tensor */
#define DC_MAX_DIMS 5

typedef struct dc_shape {
    int rank;                 /* 0..DC_MAX_DIMS                         */
    int64_t dim[DC_MAX_DIMS]; /* dim[0] is the batch axis where present */
} dc_shape;

dc_shape dc_shape_make(int rank, const int64_t *dims);
dc_shape dc_shape1(int64_t a);
dc_shape dc_shape2(int64_t a, int64_t b);
dc_shape dc_shape3(int64_t a, int64_t b, int64_t c);
dc_shape dc_shape4(int64_t a, int64_t b, int64_t c, int64_t d);
int64_t dc_shape_numel(dc_shape s);
int dc_shape_equal(dc_shape a, dc_shape b);
/* Writes "[a, b, c]" into buf (always NUL-terminated); returns buf. */
char *dc_shape_str(dc_shape s, char *buf, size_t n);

typedef struct dc_tensor {
    dc_shape shape;
    float *data;   /* numel floats; owned if `owned` != 0, else a view     */
    int owned;
} dc_tensor;

/* Allocate a zero-filled tensor. Fails with DC_ERR_SHAPE on a bad shape and
 * DC_ERR_NOMEM on absurd sizes (more than 2^34 elements). */
dc_status dc_tensor_create(dc_shape shape, dc_tensor **out);
void dc_tensor_free(dc_tensor *t);
int64_t dc_tensor_numel(const dc_tensor *t);

/* ------------------------------------------------------------------ arena */
/* A bump allocator: one block, carved into 64-byte aligned pieces, freed at once. */
typedef struct dc_arena {
    unsigned char *base;
    size_t size, used;
} dc_arena;
dc_status dc_arena_init(dc_arena *a, size_t bytes);     /* zero-filled block */
void *dc_arena_alloc(dc_arena *a, size_t bytes);         /* NULL when full    */
void dc_arena_reset(dc_arena *a);
void dc_arena_release(dc_arena *a);
/* Bytes that dc_arena_alloc needs for `bytes` (rounded to the alignment). */
size_t dc_arena_round(size_t bytes);

/* ------------------------------------------------------------------ rng */
/* A seeded generator (xoshiro256**, seeded by splitmix64).  Same seed, same stream. */
typedef struct dc_rng { uint64_t s[4]; } dc_rng;
void dc_rng_seed(dc_rng *r, uint64_t seed);
/* A seed derived from (seed, a, b) by splitmix64-style mixing: distinct, reproducible streams per
 * (run seed, epoch, purpose). */
uint64_t dc_seed_mix(uint64_t seed, uint64_t a, uint64_t b);
/* Monotonic clock in seconds (for progress and profiling; never used in results). */
double dc_clock_s(void);
/* The process's peak resident memory so far in MiB (getrusage's ru_maxrss); -1 where unknown. */
double dc_peak_rss_mib(void);
uint64_t dc_rng_next(dc_rng *r);
/* Uniform in [0, 1) with 24 random bits. */
float dc_rng_uniform(dc_rng *r);
/* Standard normal (Box–Muller, no cached second value: each call is independent of call parity). */
float dc_rng_normal(dc_rng *r);
/* Uniform integer in [0, n), unbiased. n > 0. */
uint64_t dc_rng_below(dc_rng *r, uint64_t n);
/* Fisher–Yates shuffle of idx[0..n). */
void dc_rng_shuffle(dc_rng *r, int64_t *idx, int64_t n);

/* ------------------------------------------------------------------ threads */
/* One pool for the whole library; the calling thread is worker 0. */
typedef struct dc_pool dc_pool;
typedef void (*dc_task_fn)(void *ctx, int tid, int nthreads);
/* nthreads >= 1 (1 = no extra threads). 0 means "number of online CPUs". */
dc_status dc_pool_create(int nthreads, dc_pool **out);
void dc_pool_free(dc_pool *p);
int dc_pool_size(const dc_pool *p);   /* 1 when p is NULL */
/* Run fn(ctx, tid, n) once on each of the n threads and wait for all.
 * p may be NULL: then fn(ctx, 0, 1) runs on the caller. Not re-entrant. */
void dc_pool_run(dc_pool *p, dc_task_fn fn, void *ctx);
/* Split [0, n) into `parts` near-equal contiguous ranges; range `i` is [*lo, *hi). */
void dc_split_range(int64_t n, int parts, int i, int64_t *lo, int64_t *hi);


/* ------------------------------------------------------------------ graph */
/* A model is a DAG of nodes built once.  Builder calls return a node id; after the first error a
 * graph is "poisoned": every later builder call returns DC_NONE and dc_graph_status() returns the
 * first error, so a model builder checks once at the end.  Node shapes are per-example ("sample")
 * shapes: the batch axis is added by dc_graph_plan. */
typedef struct dc_graph dc_graph;
typedef int dc_node;
#define DC_NONE (-1)

typedef enum dc_init {
    DC_INIT_DEFAULT = 0, /* He before ReLU, Xavier before sigmoid/tanh and elsewhere        */
    DC_INIT_XAVIER,      /* normal, std 1/sqrt(fan_in)                                      */
    DC_INIT_HE,          /* normal, std sqrt(2/fan_in)                                      */
    DC_INIT_NORMAL,      /* normal, std = init_value                                        */
    DC_INIT_CONST,       /* every element = init_value                                      */
    DC_INIT_COUNT
} dc_init;
const char *dc_init_name(dc_init i);
dc_status dc_init_parse(const char *s, dc_init *out);

dc_status dc_graph_create(dc_graph **out);
void dc_graph_free(dc_graph *g);
/* DC_OK, or the first error recorded while building (its message is re-raised into dc_last_error). */
dc_status dc_graph_status(const dc_graph *g);

/* Inputs: data fed from outside (images, labels/targets). */
dc_node dc_input(dc_graph *g, const char *name, dc_shape sample_shape);
/* An input whose gradient is computed too (gradient checks, saliency maps, adversarial inputs). */
dc_node dc_input_grad(dc_graph *g, const char *name, dc_shape sample_shape);

typedef struct dc_linear_opts {
    dc_init init;        /* DC_INIT_DEFAULT chooses by the following activation */
    float init_value;    /* std for DC_INIT_NORMAL, value for DC_INIT_CONST     */
    int no_bias;         /* 1: Y = X·W only                                     */
} dc_linear_opts;
/* Affine layer Y = X·W + B, W is [in, out] (as in the textbook), B is [out].  Input [N, in]; inputs
 * of higher rank are flattened per example.  name may be NULL (then "fcK"). */
dc_node dc_linear(dc_graph *g, dc_node x, int64_t out_features, const char *name);
dc_node dc_linear_ex(dc_graph *g, dc_node x, int64_t out_features, const char *name, const dc_linear_opts *o);
dc_node dc_relu(dc_graph *g, dc_node x);
dc_node dc_sigmoid(dc_graph *g, dc_node x);
dc_node dc_tanh(dc_graph *g, dc_node x);
/* Softmax over the last axis (subtracts the row maximum first). */
dc_node dc_softmax(dc_graph *g, dc_node x);
/* Dropout: in training each element is kept with probability 1-p and scaled by 1/(1-p) (inverted
 * dropout, so inference is the identity and the expected value is unchanged). */
dc_node dc_dropout(dc_graph *g, dc_node x, float p);
/* BatchNorm over features: input [N, C] or [N, C, ...]; statistics per C over all other axes.
 * Training uses batch mean/variance and updates running ones (momentum 0.1: r = 0.9 r + 0.1 batch,
 * variance unbiased); eval uses the running ones.  gamma starts at 1, beta at 0. */
dc_node dc_batchnorm(dc_graph *g, dc_node x, const char *name);
dc_node dc_batchnorm_ex(dc_graph *g, dc_node x, const char *name, float eps, float momentum);
dc_node dc_add(dc_graph *g, dc_node a, dc_node b);

/* Convolution by im2col + GEMM over the whole mini-batch.  Input [N, C, H, W] (sample [C, H, W]);
 * weight [OC, C/groups, KH, KW], bias [OC]; output [N, OC, OH, OW] with
 * OH = (H + 2*pad_h - dilation_h*(KH-1) - 1)/stride_h + 1 (and likewise OW); a geometry that does
 * not fit is an error naming the layer and the numbers. */
typedef struct dc_conv2d_opts {
    int kh, kw;                  /* kernel size (required)                       */
    int stride_h, stride_w;      /* 0 means 1                                    */
    int pad_h, pad_w;            /* zero padding                                 */
    int dilation_h, dilation_w;  /* 0 means 1                                    */
    int groups;                  /* 0 means 1; C and OC must be multiples        */
    int no_bias;
    dc_init init;                /* DC_INIT_DEFAULT: He before ReLU, else Xavier */
    float init_value;
} dc_conv2d_opts;
dc_node dc_conv2d(dc_graph *g, dc_node x, int out_channels, int kernel, int stride, int pad, const char *name);
dc_node dc_conv2d_ex(dc_graph *g, dc_node x, int out_channels, const char *name, const dc_conv2d_opts *o);
/* Transposed convolution ("deconvolution"; the adjoint of dc_conv2d, used to upsample, e.g. Mask
 * R-CNN's 2x2 stride-2 mask head and FCNs).  Input [N, C, H, W]; weight [C, OC/groups, KH, KW] (the
 * layout of the convolution it transposes, as PyTorch's ConvTranspose2d); bias [OC]; output
 * [N, OC, OH, OW] with OH = (H - 1)*stride_h - 2*pad_h + dilation_h*(KH-1) + output_pad_h + 1:
 *   y[n][o][i*sh - ph + a*dh][j*sw - pw + b*dw] += x[n][c][i][j] * w[c][o - group start][a][b]
 * for every input pixel (i, j) and tap (a, b) that lands inside the output; output_pad (< stride or
 * dilation) only adds rows/columns at the bottom/right so that a stride-s convolution of the output
 * gives back H.  Default initialisation: He/Xavier with fan_in = (C/groups)*KH*KW/(sh*sw), the mean
 * number of terms per output pixel. */
typedef struct dc_conv_transpose2d_opts {
    int kh, kw;                  /* kernel size (required)                       */
    int stride_h, stride_w;      /* 0 means 1                                    */
    int pad_h, pad_w;            /* removed from each border of the full output  */
    int output_pad_h, output_pad_w;
    int dilation_h, dilation_w;  /* 0 means 1                                    */
    int groups;                  /* 0 means 1; C and OC must be multiples        */
    int no_bias;
    dc_init init;
    float init_value;
} dc_conv_transpose2d_opts;
dc_node dc_conv_transpose2d(dc_graph *g, dc_node x, int out_channels, int kernel, int stride, int pad,
                            const char *name);
dc_node dc_conv_transpose2d_ex(dc_graph *g, dc_node x, int out_channels, const char *name,
                               const dc_conv_transpose2d_opts *o);

/* Pooling over [N, C, H, W].  Output size as for convolution, rounded up with ceil_mode (a window
 * must still start inside the input or its left padding).  Max pooling pads with -inf; average
 * pooling divides by the window area including padding when count_include_pad, else by the
 * number of input elements in the window. */
typedef struct dc_pool2d_opts {
    int kh, kw;                  /* window (required)                            */
    int stride_h, stride_w;      /* 0 means the window size                      */
    int pad_h, pad_w;
    int ceil_mode;
    int count_include_pad;       /* average pooling only                         */
} dc_pool2d_opts;
dc_node dc_maxpool2d(dc_graph *g, dc_node x, int kernel, int stride);
dc_node dc_maxpool2d_ex(dc_graph *g, dc_node x, const dc_pool2d_opts *o);
dc_node dc_avgpool2d(dc_graph *g, dc_node x, int kernel, int stride);
dc_node dc_avgpool2d_ex(dc_graph *g, dc_node x, const dc_pool2d_opts *o);
/* Mean over H and W: [N, C, H, W] -> [N, C, 1, 1]. */
dc_node dc_global_avgpool(dc_graph *g, dc_node x);
/* Local response normalisation across channels (AlexNet), PyTorch's convention:
 * b_c = a_c / (k + alpha/size * sum_{j=c-size/2}^{c+(size-1)/2} a_j^2)^beta, zero outside 0..C-1. */
dc_node dc_lrn(dc_graph *g, dc_node x, int size, float alpha, float beta, float k);
/* Concatenate along the channel axis (axis 1 of [N, C, ...]); other axes must agree. */
dc_node dc_concat(dc_graph *g, const dc_node *xs, int n);
dc_node dc_reshape(dc_graph *g, dc_node x, dc_shape sample_shape);
dc_node dc_flatten(dc_graph *g, dc_node x);
/* Losses: a scalar node, the mean over the batch of the per-example loss.
 *  softmax_cross_entropy: logits [N, C]; target [N] class indices or [N, C] probabilities.
 *                         backward (y - t)/N.
 *  cross_entropy: probabilities y [N, C] (e.g. a softmax output); -sum t log(y + 1e-7).
 *  mse: 0.5 * sum over features (y - t)^2, averaged over the batch (for N = 1 exactly the
 *       textbook's 0.5*sum((y-t)^2)). */
dc_node dc_softmax_cross_entropy(dc_graph *g, dc_node logits, dc_node target);
/* With label smoothing eps in [0, 1): the target becomes (1 - eps) t + eps/C. */
dc_node dc_softmax_cross_entropy_ex(dc_graph *g, dc_node logits, dc_node target, float label_smoothing);
dc_node dc_cross_entropy(dc_graph *g, dc_node probs, dc_node target);
dc_node dc_mse(dc_graph *g, dc_node y, dc_node target);
/* A weighted sum of losses, L = sum_i w_i L_i (e.g. GoogLeNet's main + 0.3 x auxiliary losses). */
dc_node dc_loss_sum(dc_graph *g, const dc_node *losses, const float *weights, int n);

/* Inputs with their own leading dimension ("rows"), for data that is not one row per image: the
 * RoIs of a detector and the labels/targets of those RoIs.  Nodes computed from them (RoI pooling,
 * then the layers of the RoI head and its losses) have `rows` as their leading dimension instead of
 * the batch, so a loss over them is the mean over the RoIs.  max_rows sizes the buffers at
 * dc_graph_plan; dc_graph_set_rows sets the count (1..max_rows) before each forward (a forward that
 * needs it while unset is DC_ERR_STATE; keep it until the backward of that step).  Inputs of one node must share the leading dimension,
 * except where an op maps one into the other (RoI pooling: image features -> one row per RoI). */
dc_node dc_input_rows(dc_graph *g, const char *name, dc_shape sample_shape, int64_t max_rows);
/* An input with the same leading dimension as `like` (e.g. the class labels of the RoIs). */
dc_node dc_input_rows_like(dc_graph *g, const char *name, dc_shape sample_shape, dc_node like);
dc_status dc_graph_set_rows(dc_graph *g, dc_node rows_input, int64_t rows);
/* The current leading dimension of node n (the batch of the last forward, or its row count). */
int64_t dc_graph_rows(const dc_graph *g, dc_node n);

/* RoI max pooling (Fast R-CNN; Caffe's rule, as torchvision.ops.roi_pool): features [N, C, H, W],
 * rois [R, 5] rows of (b, x1, y1, x2, y2) in input-image pixels (b: image index in the batch),
 * output [R, C, ph, pw].  Each box is quantised to feature cells, round(coordinate x spatial_scale)
 * (half away from zero), cells start..end inclusive; bins have floor/ceil edges; the maximum per
 * bin, 0 for an empty bin.  RoIAlign (Mask R-CNN, as torchvision.ops.roi_align): no rounding; each
 * bin is the mean of sampling_ratio^2 bilinear samples (0: ceil(roi size / bins) per side);
 * aligned = 1 shifts the box by half a cell (detectron2's aligned=True; use it for new models).
 * docs/detection.md states every rule.  RoIs are checked at each forward: a batch index outside the
 * batch, x2 < x1, y2 < y1 or non-finite coordinates are DC_ERR_ARG naming the layer and the RoI.
 * name may be NULL. */
dc_node dc_roi_pool(dc_graph *g, dc_node features, dc_node rois, int ph, int pw, float spatial_scale,
                    const char *name);
dc_node dc_roi_align(dc_graph *g, dc_node features, dc_node rois, int ph, int pw, float spatial_scale,
                     int sampling_ratio, int aligned, const char *name);

/* YOLO v1 loss (Redmon et al. 2016, eq. 3).  pred [N, S*S*(B*5 + C)] (any sample shape with that
 * many elements, e.g. [S, S, B*5 + C]): cell-major, cell (row i, column j) at offset
 * (i*S + j)*(B*5 + C) holds B boxes (x, y, sw, sh, confidence) then C class scores; x, y are the
 * centre relative to the cell (0..1), sw, sh the square roots of the width and height relative to
 * the image (the paper predicts the square roots; the box is w = max(sw, 0)^2, h = max(sh, 0)^2).  targets [N, max_obj, 5] rows of
 * (class, cx, cy, w, h), centre and size as fractions of the image; class -1 marks padding.  The
 * loss is the mean over the batch of the sum over the grid (docs/detection.md has the formula,
 * and the responsible-box rule). */
typedef struct dc_yolo_opts {
    int S, B, C;          /* grid, boxes per cell, classes (7, 2, 20 in the paper)            */
    float lambda_coord;   /* 5                                                              */
    float lambda_noobj;   /* 0.5                                                            */
    int conf_target_one;  /* 0: target confidence of a responsible box = its IoU (default,
                             the paper); 1: target 1                                        */
    int class_softmax_ce; /* 0: the paper's sum of squares between the C raw class scores and the
                             one-hot class (default); 1: the scores are logits, the class term
                             is the softmax cross-entropy -log p_class (probabilities = softmax) */
} dc_yolo_opts;
dc_yolo_opts dc_yolo_opts_default(int S, int B, int C);
dc_node dc_yolo_loss(dc_graph *g, dc_node pred, dc_node targets, const dc_yolo_opts *o, const char *name);
/* Channels-last copy of a feature map: [N, C, H, W] -> [N, H, W, C] (torch's permute(0, 2, 3, 1)), e.g.
 * a 1x1-convolution detection head's output into the cell-major layout of dc_yolo_loss.  name may
 * be NULL. */
dc_node dc_channels_last(dc_graph *g, dc_node x, const char *name);

/* Weighted element-wise losses of the two-stage detectors (src/graph/op_detloss.c).  x, target and
 * weight share one sample shape and one leading dimension N (the image batch or a RoI input's rows);
 * target and weight get no gradient.  The loss is (1/N) sum_i w_i l_i: the weights hold 0 for
 * ignored elements and any normalisation (e.g. 1/256 per sampled anchor).
 *  sigmoid_bce: l_i = max(x_i, 0) - x_i t_i + log(1 + exp(-|x_i|)), binary cross-entropy of
 *               sigmoid(x_i) against t_i in [0, 1], from the logit (no overflow).
 *  smooth_l1:   l_i = 0.5 d^2 / beta for |d| < beta, else |d| - 0.5 beta, d = x_i - t_i (beta 0: L1).
 * A non-finite value at forward is DC_ERR_NUMERIC naming the layer and the element.  name may be NULL. */
dc_node dc_sigmoid_bce(dc_graph *g, dc_node logits, dc_node target, dc_node weight, const char *name);
dc_node dc_smooth_l1(dc_graph *g, dc_node pred, dc_node target, dc_node weight, float beta, const char *name);

/* Sample shape of a node, its name, the node count. */
dc_shape dc_node_shape(const dc_graph *g, dc_node n);
const char *dc_node_name(const dc_graph *g, dc_node n);
const char *dc_node_op_name(const dc_graph *g, dc_node n);
int dc_graph_node_count(const dc_graph *g);
dc_node dc_graph_find(const dc_graph *g, const char *name);

/* Parameters (weights, biases, BatchNorm gamma/beta) and buffers (running statistics). */
typedef struct dc_param {
    const char *name;   /* "fc1.weight", "bn1.running_mean", ...             */
    dc_shape shape;
    float *data;        /* valid after dc_graph_plan                          */
    float *grad;        /* NULL for buffers                                   */
    int64_t numel;
    int decay;          /* 1: weight decay applies (weights, not biases/BN)   */
    int trainable;      /* 0 for buffers such as running statistics           */
} dc_param;
int dc_graph_param_count(const dc_graph *g);
const dc_param *dc_graph_params(const dc_graph *g);  /* array of dc_graph_param_count entries */
int64_t dc_graph_trainable_numel(const dc_graph *g);

typedef struct dc_graph_opts {
    dc_pool *pool;       /* NULL: single thread                               */
    uint64_t seed;       /* initialisation and dropout                        */
    float weight_decay;  /* lambda: loss += 0.5*lambda*sum(W^2), grad += lambda*W */
    dc_init init;        /* overrides DC_INIT_DEFAULT of every weight (0: keep the default rule) */
    float init_value;    /* its std (DC_INIT_NORMAL) or value (DC_INIT_CONST)  */
    /* Nonzero: gradient buffers share memory by lifetime (a node's gradient lives from its last
     * consumer's backward step to its own), which roughly halves the gradient memory of a deep
     * network.  After dc_graph_backward only the gradients of input nodes (and parameters) are
     * then meaningful; with 0 every node's gradient stays readable. */
    int share_grads;
} dc_graph_opts;
/* Allocate every buffer for batches of up to max_batch examples (one arena for activations, one for
 * gradients, one block for parameters) and, on the first call, initialise the parameters.  After
 * this, forward/backward never allocate.  May be called again with another max_batch (parameters
 * are kept). */
dc_status dc_graph_plan(dc_graph *g, int64_t max_batch, const dc_graph_opts *opts);
/* Bytes planned for activations+gradients and for parameters. */
size_t dc_graph_activation_bytes(const dc_graph *g);
/* Pointer to a node's [batch, ...] buffer (inputs are written through it), or its gradient. */
float *dc_graph_data(dc_graph *g, dc_node n);
float *dc_graph_grad(dc_graph *g, dc_node n);
/* Forward pass over `batch` examples (<= max_batch).  train != 0: dropout active, BatchNorm uses
 * batch statistics.  Computes every node (losses too, when their targets are set). */
dc_status dc_graph_forward(dc_graph *g, int64_t batch, int train);
/* Forward only what `node` depends on (e.g. the logits at prediction time, without labels). */
dc_status dc_graph_forward_to(dc_graph *g, dc_node node, int64_t batch, int train);
/* Forward only the nodes built at positions first..end-1 (dc_node values are build positions),
 * taking the outputs of earlier nodes as they are: a forward pass in phases, for a detector whose
 * second stage needs values computed outside the graph from the first (backbone and RPN; then the
 * proposals in C; then the RoI input written, its rows set, and the RoI head).  A range that does
 * not start at 0 needs a forward of the same batch and mode just before.  Inputs are never computed. */
dc_status dc_graph_forward_range(dc_graph *g, dc_node first, dc_node end, int64_t batch, int train);
/* Zero all parameter gradients (the explicit zero-grad step). */
void dc_graph_zero_grad(dc_graph *g);
/* Reverse-mode pass from scalar node `loss`: accumulates d loss / d param into each dc_param.grad
 * (plus lambda*W when weight decay is set).  Needs a forward pass with train != 0 just before. */
dc_status dc_graph_backward(dc_graph *g, dc_node loss);
/* Loss value of a scalar node, including 0.5*lambda*sum(W^2) when weight decay is set. */
float dc_graph_loss(dc_graph *g, dc_node loss);
/* The weight-decay term alone: 0.5*lambda*sum(W^2) over decayed weights. */
float dc_graph_decay_term(const dc_graph *g);
/* Print a layer table (name, op, output shape, parameters) and totals. */
void dc_graph_summary(const dc_graph *g, FILE *f);
/* Per-node timing (for benchmarks): when on, forward/backward time of each node is accumulated. */
void dc_graph_set_profile(dc_graph *g, int on);
/* Seconds spent in node n's forward and backward since profiling was switched on. */
void dc_graph_node_time(const dc_graph *g, dc_node n, double *forward_s, double *backward_s);
/* Opt-in check after each node of a forward pass: the first node with NaN/Inf output is named. */
void dc_graph_set_nan_check(dc_graph *g, int on);
/* Opt-in fusion, by kind (flags, 0 = none).  DC_FUSION_INFERENCE, in passes with train == 0: a
 * convolution followed by a BatchNorm (its only consumer) runs with the norm folded into its
 * filter and bias, a ReLU that is the only consumer of such a norm, of a convolution or of an add
 * is applied as that output is written; the result of the last node of each such chain is the
 * same up to rounding (the ReLU's max is exact).  DC_FUSION_TRAINING, in passes with train == 1:
 * a BatchNorm or an add whose only consumer is a ReLU writes the ReLU's output in the same pass,
 * and its backward takes the ReLU's gradient masked by that output; the loss and every gradient
 * are the unfused ones bit for bit.  The skipped intermediate outputs (the convolution's before
 * its folded norm, the norm's before its ReLU, the add's) are not written, nor (in training) the
 * gradients of the norm and the add, so dc_graph_data / dc_graph_grad of them are stale: leave
 * fusion off to inspect intermediate activations.  Switching it between a forward pass and its
 * backward is safe: the backward follows the way the forward ran. */
enum { DC_FUSION_INFERENCE = 1, DC_FUSION_TRAINING = 2, DC_FUSION_ALL = 3 };
void dc_graph_set_fusion(dc_graph *g, int flags);

/* ------------------------------------------------------------------ optim */
typedef enum dc_optim_kind {
    DC_OPTIM_SGD = 0,  /* W -= lr g                                                  */
    DC_OPTIM_MOMENTUM, /* v = momentum v - lr g; W += v                              */
    DC_OPTIM_ADAGRAD,  /* h += g^2; W -= lr g / (sqrt(h) + eps)                      */
    DC_OPTIM_RMSPROP,  /* S = rho S + (1-rho) g^2; W -= lr g / (sqrt(S) + eps)       */
    DC_OPTIM_ADAM,     /* m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
                          W -= lr (m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps)           */
    DC_OPTIM_COUNT
} dc_optim_kind;
typedef struct dc_optim_config {
    dc_optim_kind kind;
    float lr;
    float momentum;    /* Momentum: alpha (default 0.9)                              */
    int nesterov;      /* Momentum only: v = a v - lr g; W += a v - lr g (look-ahead) */
    float rho;         /* RMSProp decay rate (default 0.99)                          */
    float beta1, beta2;/* Adam (defaults 0.9, 0.999)                                 */
    float eps;         /* AdaGrad/RMSProp default 1e-7, Adam default 1e-8            */
} dc_optim_config;
/* Fill the textbook defaults for `kind` with learning rate lr. */
dc_optim_config dc_optim_defaults(dc_optim_kind kind, float lr);
const char *dc_optim_name(dc_optim_kind k);
dc_status dc_optim_parse(const char *s, dc_optim_kind *out);

typedef struct dc_optim dc_optim;
/* The optimizer updates the trainable entries of params[0..n) in place; its state (v, h, m, ...)
 * lives in one block, zero at start. */
dc_status dc_optim_create(const dc_optim_config *cfg, const dc_param *params, int n, dc_pool *pool,
                          dc_optim **out);
void dc_optim_free(dc_optim *o);
void dc_optim_step(dc_optim *o);
void dc_optim_set_lr(dc_optim *o, float lr);
int64_t dc_optim_steps(const dc_optim *o);
/* Named state tensors for checkpoints (e.g. "adam.m.fc1.weight"); count, then i-th. */
int dc_optim_state_count(const dc_optim *o);
dc_status dc_optim_state(dc_optim *o, int i, const char **name, float **data, int64_t *numel);
void dc_optim_set_steps(dc_optim *o, int64_t t);

/* ------------------------------------------------------------------ models */
/* The model zoo: each classic network is one short builder.  A builder adds the layers after
 * `input` and returns the logits node (before softmax). */
typedef struct dc_model_info {
    const char *name;
    const char *description;
    int channels, height, width; /* the input it is defined for            */
    int classes;                 /* the output it is defined for (10, 1000) */
} dc_model_info;
int dc_model_count(void);
const dc_model_info *dc_model_at(int i);
const dc_model_info *dc_model_find(const char *name);  /* NULL when unknown */
/* DC_OK for a zoo model, else DC_ERR_ARG with a message listing the known models. */
dc_status dc_model_check(const char *name);
/* Build `name` on `input` for num_classes outputs; DC_ERR_ARG naming the known models when unknown. */
dc_status dc_model_build(dc_graph *g, const char *name, dc_node input, int num_classes, dc_node *logits);
/* The same, also building the model's auxiliary classifiers for training (GoogLeNet's two heads):
 * up to max_aux extra logits nodes in aux[], their count in *n_aux and their loss weight in
 * *aux_weight.  Inference evaluates only `logits` (dc_graph_forward_to), which drops the heads. */
dc_status dc_model_build_ex(dc_graph *g, const char *name, dc_node input, int num_classes, dc_node *logits,
                            dc_node *aux, int max_aux, int *n_aux, float *aux_weight);

/* ------------------------------------------------------------------ model files */
/* Networks as text (docs/model-format.md): a user defines a network without recompiling, and every
 * zoo model can be written out and read back to the same network. */
/* Build the network described by `text` (a model file's contents, NUL-terminated) after `input`
 * in g; *logits is the last layer, or the one named by [net] `output`.  `origin` names the text in
 * error messages ("models/lenet5.cfg:12: ..."; NULL: "<text>").  `units = classes` (or
 * `filters = classes`) takes num_classes; num_classes <= 0 means the file's [net] classes.  When
 * [net] declares an input shape, the input node must have it.
 * Errors: DC_ERR_FORMAT for the text itself (syntax, unknown section or key, bad number, missing
 * key, unknown or later layer in `from`, a name used twice) — g is left unchanged; the builder's
 * status (DC_ERR_SHAPE, DC_ERR_ARG, ...) for a layer that does not fit, re-raised with file:line —
 * g is then poisoned with that message (see dc_graph_status). */
dc_status dc_model_text_build(dc_graph *g, const char *text, const char *origin, dc_node input, int num_classes,
                              dc_node *logits);
/* Reads the file (DC_ERR_IO when it cannot), then dc_model_text_build with origin = path. */
dc_status dc_model_file_build(dc_graph *g, const char *path, dc_node input, int num_classes, dc_node *logits);

/* The [net] section alone, to create the input and pick the class count before building. */
typedef struct dc_model_header {
    char name[64];      /* "" when absent                                              */
    dc_shape input;     /* channels/height/width or shape; rank 0 when absent          */
    int classes;        /* 0 when absent                                               */
    char output[64];    /* the layer named by `output`; "" when absent (the last one) */
} dc_model_header;
dc_status dc_model_text_header(const char *text, const char *origin, dc_model_header *h);
dc_status dc_model_file_header(const char *path, dc_model_header *h);

/* Write the layers of g from its input up to `logits` (the nodes logits depends on; losses, the
 * label input and auxiliary heads are not written) as text; the caller frees *text.  Writing
 * needs exactly one input among those nodes; ops with no section (losses) are DC_ERR_ARG. */
dc_status dc_model_text_write(const dc_graph *g, dc_node logits, char **text);
/* Optional extras of the written text. */
typedef struct dc_model_write_opts {
    const char *name;     /* [net] name (NULL: none)                                    */
    const char *comment;  /* written first as `# ` lines, one per line of it (NULL: none) */
} dc_model_write_opts;
dc_status dc_model_text_write_ex(const dc_graph *g, dc_node logits, const dc_model_write_opts *o, char **text);
/* The same into a file: a temporary file next to it, flushed, then renamed over path. */
dc_status dc_model_file_write(const char *path, const dc_graph *g, dc_node logits);
dc_status dc_model_file_write_ex(const char *path, const dc_graph *g, dc_node logits, const dc_model_write_opts *o);


/* Re-seed the dropout generator (e.g. per epoch, so a resumed run draws what the original drew). */
void dc_graph_set_seed(dc_graph *g, uint64_t seed);

/* ------------------------------------------------------------------ checkpoints */
/* A checkpoint is a safetensors file: every parameter and buffer of the graph by name, optionally
 * the optimizer's state, and string metadata.  Saving writes a temporary file and renames it, so
 * an existing checkpoint is never left half-written. */
typedef struct dc_checkpoint_meta {
    char model[64];
    char optimizer[16];
    int epoch;            /* epochs completed                      */
    int64_t step;         /* optimizer steps taken                 */
    double val_acc;       /* validation accuracy at this epoch     */
    double lr;
    uint64_t seed;
    int num_classes;
    int batch;
    int revision;           /* the model's output convention when it changed over time (0: none
                               recorded); YOLO: DC_YOLO_REVISION, detect/yolo_model.h     */
    const char *model_text; /* saving only: the model file's text, stored so the checkpoint
                               rebuilds its network by itself (NULL for zoo models)       */
} dc_checkpoint_meta;
dc_status dc_checkpoint_save(const char *path, const dc_graph *g, dc_optim *opt, const dc_checkpoint_meta *m);
/* Load into a planned graph built the same way (names and shapes must match; a mismatch names the
 * tensor and both shapes).  opt may be NULL; when given, its state must be in the file. */
dc_status dc_checkpoint_load(const char *path, dc_graph *g, dc_optim *opt, dc_checkpoint_meta *m);
/* Start g from another network's trained layers (e.g. a pre-trained backbone): every parameter of g
 * whose name the checkpoint holds takes its values; the others keep theirs, and the checkpoint's
 * other tensors (and optimizer state) are ignored.  A shared name with another shape is
 * DC_ERR_SHAPE and no shared name at all DC_ERR_FORMAT, both leaving g unchanged.  *loaded and
 * *loaded_numel (may be NULL): the parameters and the numbers taken. */
dc_status dc_checkpoint_load_matching(const char *path, dc_graph *g, int *loaded, int64_t *loaded_numel);
/* Read only the metadata (to know which model to build); model_text is left NULL. */
dc_status dc_checkpoint_read_meta(const char *path, dc_checkpoint_meta *m);
/* The model-file text stored in a checkpoint (caller frees), or *text = NULL for a zoo model. */
dc_status dc_checkpoint_read_model_text(const char *path, char **text);
/* Build the network a checkpoint was trained with, after `input` (zoo model or stored model text). */
dc_status dc_checkpoint_build_model(const char *path, dc_graph *g, dc_node input, dc_node *logits,
                                    dc_checkpoint_meta *m);

/* ------------------------------------------------------------------ training */
/* The whole supervised job: load an MNIST-format data set, split the training file into training
 * and validation parts, train with per-epoch validation, keep the best checkpoint (by validation
 * accuracy), and evaluate it once on the test set. */
typedef enum dc_schedule { DC_SCHED_CONSTANT = 0, DC_SCHED_STEP, DC_SCHED_COSINE, DC_SCHED_COUNT } dc_schedule;
/* The learning rate of `schedule` at step `step` of nb in epoch `epoch` (0-based): constant, x0.1 every
 * step_epochs, or cosine to 0 at `epochs`; times t/warmup_epochs while the fractional epoch t is
 * below warmup_epochs.  Shared by dc_train_run and the detector training jobs. */
float dc_schedule_lr(dc_schedule schedule, float base_lr, int epochs, int step_epochs, float warmup_epochs, int epoch,
                     int64_t step, int64_t nb);

typedef struct dc_train_config {
    const char *model;        /* zoo name, e.g. "mlp"                                          */
    const char *model_file;   /* or a model file (docs/model-format.md); overrides `model`     */
    const char *data_dir;     /* MNIST-format directory                                        */
    const char *out_dir;      /* run directory: checkpoints, metrics.csv, log (NULL: none)     */
    const char *resume;       /* checkpoint to resume from (NULL: fresh start)                 */
    dc_optim_config optim;
    dc_schedule schedule;     /* learning rate, updated every step: constant, step (x0.1 every step_epochs),
                                 cosine (to 0 at the end)                                       */
    int step_epochs;
    float warmup_epochs;      /* linear ramp from 0 to lr over this many epochs first           */
    float label_smoothing;    /* softmax cross-entropy target (1-eps) t + eps/C                 */
    int augment_shift;        /* random crop of the image padded by this many pixels (= shift)  */
    int augment_flip;         /* random horizontal flip                                         */
    float augment_erase;      /* random erasing probability (0: off): one rectangle, 2-40% of the
                                 image, random pixel values                                     */
    int epochs;
    int batch;
    int threads;
    uint64_t seed;
    float weight_decay;
    dc_init init;             /* weight initialisation for every layer (DC_INIT_DEFAULT: He before ReLU, else Xavier) */
    float init_value;         /* std for DC_INIT_NORMAL                                          */
    int64_t train_limit;      /* > 0: use only the first N training-file examples (quick runs) */
    int64_t val_size;         /* held out from the training file (default 5000)                */
    int64_t test_limit;       /* > 0: evaluate on the first N test examples only               */
    float mean, std;          /* pixel normalisation: (p/255 - mean)/std                       */
    int progress;             /* 1: progress bar on stderr, 0: none, -1: when stderr is a tty  */
    int quiet;                /* 1: no per-epoch lines on stdout                               */
    int nan_check;            /* 1: name the first layer producing NaN/Inf                     */
} dc_train_config;
void dc_train_config_defaults(dc_train_config *c);

typedef struct dc_epoch_stats {
    int epoch;
    double train_loss, train_acc, val_loss, val_acc, lr, seconds, images_per_s;
} dc_epoch_stats;

typedef struct dc_train_result {
    double test_acc, test_loss;
    double best_val_acc;
    int best_epoch;
    int epochs_run;
    double seconds;           /* wall time of the whole job                                     */
    double train_images_per_s;/* mean over epochs, training steps only                          */
    dc_epoch_stats last;
} dc_train_result;
dc_status dc_train_run(const dc_train_config *c, dc_train_result *r);

/* Accuracy and mean loss of a checkpoint on a data split ("test" or "train"). */
typedef struct dc_eval_result { double acc, loss; int64_t n; int64_t confusion[10][10]; } dc_eval_result;
dc_status dc_eval_checkpoint(const char *checkpoint, const char *data_dir, const char *split, int batch,
                             int threads, int64_t limit, dc_eval_result *r);

#ifdef __cplusplus
}
#endif
#endif /* DEEPC_H */
