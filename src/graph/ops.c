/* ops.c — the op table: for each op its shape function, the size of what forward saves for
 * backward, and the forward/backward glue that calls the kernels.  One line per op in
 * dc_op_table at the bottom; adding an op means its functions here and one table line. */
#include "graph/graph.h"
#include "kernels/kernels.h"

#include <string.h>

#define SB 96

/* ---------------------------------------------------------------- input */
static dc_status input_forward(dc_graph *g, dc_node_rec *n, int64_t batch, int train) { return DC_OK; }

/* ---------------------------------------------------------------- linear */
static dc_status linear_infer(dc_graph *g, dc_node_rec *n) {
    n->shape = dc_shape1(n->units);
    return DC_OK;
}

static dc_status linear_forward(dc_graph *g, dc_node_rec *n, int64_t batch, int train) {
    dc_node_rec *x = dc_in(g, n, 0);
    int64_t in = dc_sample_numel(x), out = n->units;
    const float *W = dc_pdata(g, n, 0);
    if (n->n_params > 1) { /* start from the bias rows, then accumulate X·W on top */
        const float *b = dc_pdata(g, n, 1);
        for (int64_t r = 0; r < batch; r++) memcpy(n->out + r * out, b, (size_t)out * sizeof(float));
        dc_gemm(g->gemm, 0, 0, batch, out, in, 1.0f, x->out, in, W, out, 1.0f, n->out, out);
    } else {
        dc_gemm(g->gemm, 0, 0, batch, out, in, 1.0f, x->out, in, W, out, 0.0f, n->out, out);
    }
    return DC_OK;
}

static void linear_backward(dc_graph *g, dc_node_rec *n, int64_t batch) {
    dc_node_rec *x = dc_in(g, n, 0);
    int64_t in = dc_sample_numel(x), out = n->units;
    /* dW += Xᵀ·dY   [in, out] */
    dc_gemm(g->gemm, 1, 0, in, out, batch, 1.0f, x->out, in, n->grad, out, 1.0f, dc_pgrad(g, n, 0), out);
    /* dB += column sums of dY */
    if (n->n_params > 1) dc_bias_backward(batch, out, n->grad, dc_pgrad(g, n, 1));
    /* dX += dY·Wᵀ  [batch, in] — skipped when nothing upstream needs it (e.g. the input images) */
    if (x->needs_grad)
        dc_gemm(g->gemm, 0, 1, batch, in, out, 1.0f, n->grad, out, dc_pdata(g, n, 0), out, x->grad_assign ? 0.0f : 1.0f,
                x->grad, in);
}

static int64_t linear_flops(const dc_graph *g, const dc_node_rec *n) {
    return 2 * dc_sample_numel(&g->nodes[n->in[0]]) * n->units;
}

/* ---------------------------------------------------------------- element-wise activations */
static dc_status same_shape_infer(dc_graph *g, dc_node_rec *n) {
    n->shape = dc_in(g, n, 0)->shape;
    return DC_OK;
}

#define N_ELEMS(n, batch) ((batch) * dc_sample_numel(n))

/* Element-wise work is split into fixed contiguous ranges over the pool's threads once it is big
 * enough to pay for the wake-up (below that one thread is faster). */
#define PAR_MIN_ELEMS 65536

/* fn(ctx, lo, hi) over fixed contiguous ranges of [0, n): one per thread of the pool when n is large. */
typedef void (*range_fn)(const void *ctx, int64_t lo, int64_t hi);
typedef struct {
    range_fn fn;
    const void *ctx;
    int64_t n;
} range_job;
static void range_task(void *v, int tid, int nt) {
    const range_job *j = v;
    int64_t lo, hi;
    dc_split_range(j->n, nt, tid, &lo, &hi);
    if (hi > lo) j->fn(j->ctx, lo, hi);
}
static void run_ranges(dc_graph *g, int64_t n, range_fn fn, const void *ctx) {
    range_job j = {fn, ctx, n};
    if (g->pool && n >= PAR_MIN_ELEMS) dc_pool_run(g->pool, range_task, &j);
    else range_task(&j, 0, 1);
}

typedef void (*unary_kernel)(int64_t n, const float *a, float *b);
typedef void (*binary_kernel)(int64_t n, const float *a, const float *b, float *c);
typedef struct {
    unary_kernel k1;
    binary_kernel k2;
    const float *a, *b;
    float *c;
} ew_job;
static void ew_range(const void *v, int64_t lo, int64_t hi) {
    const ew_job *j = v;
    if (j->k1) j->k1(hi - lo, j->a + lo, j->c + lo);
    else j->k2(hi - lo, j->a + lo, j->b + lo, j->c + lo);
}

/* c = k(a) or c = k(a, b), element-wise over n, on the pool when large. */
static void ew1(dc_graph *g, unary_kernel k, int64_t n, const float *a, float *c) {
    run_ranges(g, n, ew_range, &(ew_job){k, NULL, a, NULL, c});
}
static void ew2(dc_graph *g, binary_kernel k, int64_t n, const float *a, const float *b, float *c) {
    run_ranges(g, n, ew_range, &(ew_job){NULL, k, a, b, c});
}

static dc_status relu_forward(dc_graph *g, dc_node_rec *n, int64_t batch, int train) {
    ew1(g, dc_relu_forward, N_ELEMS(n, batch), dc_in(g, n, 0)->out, n->out);
    return DC_OK;
}
static void relu_backward(dc_graph *g, dc_node_rec *n, int64_t batch) {
    dc_node_rec *x = dc_in(g, n, 0);
    if (x->grad) ew2(g, x->grad_assign ? dc_relu_backward_set : dc_relu_backward, N_ELEMS(n, batch), x->out, n->grad,
                     x->grad);
}
static dc_status sigmoid_forward(dc_graph *g, dc_node_rec *n, int64_t batch, int train) {
    ew1(g, dc_sigmoid_forward, N_ELEMS(n, batch), dc_in(g, n, 0)->out, n->out);
    return DC_OK;
}
static void sigmoid_backward(dc_graph *g, dc_node_rec *n, int64_t batch) {
    dc_node_rec *x = dc_in(g, n, 0);
    if (x->grad) ew2(g, dc_sigmoid_backward, N_ELEMS(n, batch), n->out, n->grad, x->grad);
}
static dc_status tanh_forward(dc_graph *g, dc_node_rec *n, int64_t batch, int train) {
    ew1(g, dc_tanh_forward, N_ELEMS(n, batch), dc_in(g, n, 0)->out, n->out);
    return DC_OK;
}
static void tanh_backward(dc_graph *g, dc_node_rec *n, int64_t batch) {
    dc_node_rec *x = dc_in(g, n, 0);
    if (x->grad) ew2(g, dc_tanh_backward, N_ELEMS(n, batch), n->out, n->grad, x->grad);
}

/* ---------------------------------------------------------------- softmax (last axis) */
static int64_t last_dim(const dc_node_rec *n) { return n->shape.rank ? n->shape.dim[n->shape.rank - 1] : 1; }

static dc_status softmax_forward(dc_graph *g, dc_node_rec *n, int64_t batch, int train) {
    int64_t cols = last_dim(n);
    dc_softmax_forward(N_ELEMS(n, batch) / cols, cols, dc_in(g, n, 0)->out, n->out);
    return DC_OK;
}
static void softmax_backward(dc_graph *g, dc_node_rec *n, int64_t batch) {
    dc_node_rec *x = dc_in(g, n, 0);
    int64_t cols = last_dim(n);
    if (x->grad) dc_softmax_backward(N_ELEMS(n, batch) / cols, cols, n->out, n->grad, x->grad);
}

/* ---------------------------------------------------------------- dropout */
static dc_status dropout_infer(dc_graph *g, dc_node_rec *n) {
    if (!(n->p >= 0.0f && n->p < 1.0f))
        return DC_ERR(DC_ERR_ARG, "%s: dropout probability %g outside [0, 1)", n->name, (double)n->p);
    return same_shape_infer(g, n);
}
static int64_t dropout_saved(const dc_graph *g, const dc_node_rec *n, int64_t batch) {
    return batch * dc_sample_numel(n); /* the mask, already scaled by 1/(1-p) */
}
typedef struct {
    float p;
    uint64_t key;
    const float *x;
    float *mask, *y;
} dropout_job;
static void dropout_range(const void *v, int64_t lo, int64_t hi) {
    const dropout_job *j = v;
    dc_dropout_forward(hi - lo, j->p, j->key, lo, j->x + lo, j->mask + lo, j->y + lo);
}
static dc_status dropout_forward(dc_graph *g, dc_node_rec *n, int64_t batch, int train) {
    const float *x = dc_in(g, n, 0)->out;
    if (!train) {
        memcpy(n->out, x, (size_t)N_ELEMS(n, batch) * sizeof(float));
        return DC_OK;
    }
    /* one draw per pass keys the whole mask; threads take index ranges of it */
    dropout_job j = {n->p, dc_rng_next(&g->rng), x, n->saved, n->out};
    run_ranges(g, N_ELEMS(n, batch), dropout_range, &j);
    return DC_OK;
}
static void dropout_backward(dc_graph *g, dc_node_rec *n, int64_t batch) {
    dc_node_rec *x = dc_in(g, n, 0);
    if (x->grad)
        ew2(g, x->grad_assign ? dc_dropout_backward_set : dc_dropout_backward, N_ELEMS(n, batch), n->saved, n->grad,
            x->grad);
}

/* ---------------------------------------------------------------- batchnorm */
static dc_status batchnorm_infer(dc_graph *g, dc_node_rec *n) {
    n->shape = dc_in(g, n, 0)->shape;
    if (n->shape.rank < 1) return DC_ERR(DC_ERR_SHAPE, "%s: batchnorm needs an input with a feature axis", n->name);
    return DC_OK;
}
static int64_t batchnorm_saved(const dc_graph *g, const dc_node_rec *n, int64_t batch) {
    return 2 * n->shape.dim[0]; /* mean[C], rstd[C] of the last training batch */
}
static void bn_dims(const dc_node_rec *n, int64_t *C, int64_t *S) {
    *C = n->shape.dim[0];
    *S = dc_sample_numel(n) / *C;
}
/* BatchNorm splits its channels over the pool: each channel's statistics are computed by one
 * thread in a fixed order, so the result does not depend on the thread count. */
typedef struct {
    dc_graph *g;
    dc_node_rec *n;
    int64_t batch;
    int train, backward;
    int relu;        /* a ReLU is fused after the norm (graph.c): y and dy are the ReLU's */
    float *y;        /* forward output                                                      */
    const float *dy; /* backward: the output's gradient                                     */
} bn_job;

static void bn_task(void *v, int tid, int nt) {
    const bn_job *j = v;
    dc_graph *g = j->g;
    dc_node_rec *n = j->n;
    int64_t C, S, c0, c1;
    bn_dims(n, &C, &S);
    dc_split_range(C, nt, tid, &c0, &c1);
    if (c1 <= c0) return;
    const float *x = dc_in(g, n, 0)->out;
    if (j->backward)
        dc_batchnorm_backward(j->batch, C, S, c0, c1, x, dc_pdata(g, n, 0), n->saved, n->saved + C, j->dy,
                              j->relu ? dc_pdata(g, n, 1) : NULL,
                              dc_in(g, n, 0)->grad, !dc_in(g, n, 0)->grad_assign, dc_pgrad(g, n, 0), dc_pgrad(g, n, 1));
    else if (j->train)
        dc_batchnorm_forward_train(j->batch, C, S, c0, c1, x, dc_pdata(g, n, 0), dc_pdata(g, n, 1), n->eps,
                                   n->momentum, dc_pdata(g, n, 2), dc_pdata(g, n, 3), n->saved, n->saved + C, j->relu,
                                   j->y);
    else
        dc_batchnorm_forward_eval(j->batch, C, S, c0, c1, x, dc_pdata(g, n, 0), dc_pdata(g, n, 1), n->eps,
                                  dc_pdata(g, n, 2), dc_pdata(g, n, 3), j->y);
}

static void bn_run(dc_graph *g, bn_job *j) {
    int64_t C, S;
    bn_dims(j->n, &C, &S);
    if (g->pool && C > 1 && j->batch * C * S >= PAR_MIN_ELEMS) dc_pool_run(g->pool, bn_task, j);
    else bn_task(j, 0, 1);
}

static dc_status batchnorm_forward(dc_graph *g, dc_node_rec *n, int64_t batch, int train) {
    bn_job j = {.g = g, .n = n, .batch = batch, .train = train, .y = n->out};
    bn_run(g, &j);
    return DC_OK;
}
/* Training fusion (graph.c): the norm and the ReLU after it in one pass, written to y (the ReLU's
 * output); the norm's own output is not written. */
dc_status dc_batchnorm_relu_forward_train(dc_graph *g, dc_node_rec *n, int64_t batch, float *y) {
    bn_job j = {.g = g, .n = n, .batch = batch, .train = 1, .y = y, .relu = 1};
    bn_run(g, &j);
    return DC_OK;
}
static void batchnorm_backward(dc_graph *g, dc_node_rec *n, int64_t batch) {
    const dc_node_rec *r = dc_fused_relu(g, n); /* when the last forward fused the ReLU after it */
    bn_job j = {.g = g, .n = n, .batch = batch, .train = 1, .backward = 1, .relu = r != NULL,
                .dy = r ? r->grad : n->grad};
    bn_run(g, &j);
}

/* ---------------------------------------------------------------- add */
static dc_status add_infer(dc_graph *g, dc_node_rec *n) {
    char a[SB], b[SB];
    dc_node_rec *x = dc_in(g, n, 0), *y = dc_in(g, n, 1);
    if (!dc_shape_equal(x->shape, y->shape))
        return DC_ERR(DC_ERR_SHAPE, "%s: cannot add '%s' %s and '%s' %s (shapes differ)", n->name, x->name,
                      dc_shape_str(x->shape, a, SB), y->name, dc_shape_str(y->shape, b, SB));
    n->shape = x->shape;
    return DC_OK;
}
static dc_status add_forward(dc_graph *g, dc_node_rec *n, int64_t batch, int train) {
    ew2(g, dc_add_forward, N_ELEMS(n, batch), dc_in(g, n, 0)->out, dc_in(g, n, 1)->out, n->out);
    return DC_OK;
}
/* Inference fusion (graph.c): the add and the ReLU after it, written to y (the ReLU's output). */
dc_status dc_add_relu_forward_fused(dc_graph *g, dc_node_rec *n, int64_t batch, float *y) {
    ew2(g, dc_add_relu_forward, N_ELEMS(n, batch), dc_in(g, n, 0)->out, dc_in(g, n, 1)->out, y);
    return DC_OK;
}
/* With a fused ReLU after the add: its backward and the add's for both inputs in one pass. */
typedef struct {
    const float *y, *dy;
    float *da, *db;
    int assign_a, assign_b;
} add_relu_bw_job;
static void add_relu_bw_range(const void *v, int64_t lo, int64_t hi) {
    const add_relu_bw_job *j = v;
    dc_add_relu_backward(hi - lo, j->y + lo, j->dy + lo, j->da ? j->da + lo : NULL, j->assign_a,
                         j->db ? j->db + lo : NULL, j->assign_b);
}
static void add_backward(dc_graph *g, dc_node_rec *n, int64_t batch) {
    const dc_node_rec *r = dc_fused_relu(g, n); /* when the last forward fused the ReLU after it */
    if (r) { /* x + x works too: that input has two edges, so both terms are added, in order */
        const dc_node_rec *a = dc_in(g, n, 0), *b = dc_in(g, n, 1);
        add_relu_bw_job j = {r->out, r->grad, a->grad, b->grad, a->grad_assign, b->grad_assign};
        run_ranges(g, N_ELEMS(n, batch), add_relu_bw_range, &j);
        return;
    }
    for (int i = 0; i < 2; i++) {
        dc_node_rec *x = dc_in(g, n, i);
        if (x->grad) ew1(g, x->grad_assign ? dc_copy : dc_accumulate, N_ELEMS(n, batch), n->grad, x->grad);
    }
}

/* ---------------------------------------------------------------- reshape (a view) */
static dc_status reshape_infer(dc_graph *g, dc_node_rec *n) {
    char a[SB], b[SB];
    dc_node_rec *x = dc_in(g, n, 0);
    if (dc_shape_numel(n->shape) != dc_sample_numel(x))
        return DC_ERR(DC_ERR_SHAPE, "%s: cannot reshape %s (%lld elements) to %s (%lld elements)", n->name,
                      dc_shape_str(x->shape, a, SB), (long long)dc_sample_numel(x), dc_shape_str(n->shape, b, SB),
                      (long long)dc_shape_numel(n->shape));
    return DC_OK;
}
static dc_status reshape_forward(dc_graph *g, dc_node_rec *n, int64_t batch, int train) { return DC_OK; }

/* ---------------------------------------------------------------- losses */
static dc_status loss_infer(dc_graph *g, dc_node_rec *n) {
    char a[SB], b[SB];
    dc_node_rec *y = dc_in(g, n, 0), *t = dc_in(g, n, 1);
    if (y->shape.rank != 1)
        return DC_ERR(DC_ERR_SHAPE, "%s: prediction '%s' must be [N, C] per batch, got sample shape %s", n->name,
                      y->name, dc_shape_str(y->shape, a, SB));
    int index_labels = dc_sample_numel(t) == 1 && y->shape.dim[0] != 1;
    if (!index_labels && !dc_shape_equal(y->shape, t->shape))
        return DC_ERR(DC_ERR_SHAPE, "%s: target '%s' %s must be class indices [] or match prediction %s", n->name,
                      t->name, dc_shape_str(t->shape, a, SB), dc_shape_str(y->shape, b, SB));
    if (t->needs_grad) return DC_ERR(DC_ERR_ARG, "%s: target '%s' must not depend on parameters", n->name, t->name);
    n->scalar = 1;
    n->shape = dc_shape_make(0, NULL);
    return DC_OK;
}
static int64_t softmax_ce_saved(const dc_graph *g, const dc_node_rec *n, int64_t batch) {
    return batch * dc_sample_numel(&g->nodes[n->in[0]]); /* the probabilities */
}
static dc_status loss_result(dc_node_rec *n, double loss, int bad, const char *pred_name) {
    if (loss < 0.0)
        return DC_ERR(DC_ERR_ARG, "%s: label of example %d is not a class index of '%s'", n->name, bad, pred_name);
    n->loss = loss;
    n->out[0] = (float)loss;
    return DC_OK;
}
#define LOSS_DIMS                                                   \
    dc_node_rec *y = dc_in(g, n, 0), *t = dc_in(g, n, 1);           \
    int64_t cols = y->shape.dim[0], t_cols = dc_sample_numel(t);    \
    (void)y; (void)t; (void)cols; (void)t_cols
static dc_status softmax_ce_forward(dc_graph *g, dc_node_rec *n, int64_t batch, int train) {
    LOSS_DIMS;
    int bad = -1;
    double l = dc_softmax_ce_forward(batch, cols, y->out, t->out, t_cols, n->p, n->saved, &bad);
    return loss_result(n, l, bad, y->name);
}
static void softmax_ce_backward(dc_graph *g, dc_node_rec *n, int64_t batch) {
    LOSS_DIMS;
    if (y->grad) dc_softmax_ce_backward(batch, cols, n->saved, t->out, t_cols, n->p, n->grad[0], y->grad);
}
static dc_status ce_forward(dc_graph *g, dc_node_rec *n, int64_t batch, int train) {
    LOSS_DIMS;
    int bad = -1;
    return loss_result(n, dc_cross_entropy_forward(batch, cols, y->out, t->out, t_cols, &bad), bad, y->name);
}
static void ce_backward(dc_graph *g, dc_node_rec *n, int64_t batch) {
    LOSS_DIMS;
    if (y->grad) dc_cross_entropy_backward(batch, cols, y->out, t->out, t_cols, n->grad[0], y->grad);
}
static dc_status mse_forward(dc_graph *g, dc_node_rec *n, int64_t batch, int train) {
    LOSS_DIMS;
    int bad = -1;
    return loss_result(n, dc_mse_forward(batch, cols, y->out, t->out, t_cols, &bad), bad, y->name);
}
static void mse_backward(dc_graph *g, dc_node_rec *n, int64_t batch) {
    LOSS_DIMS;
    if (y->grad) dc_mse_backward(batch, cols, y->out, t->out, t_cols, n->grad[0], y->grad);
}

/* ---------------------------------------------------------------- weighted sum of losses */
static dc_status loss_sum_infer(dc_graph *g, dc_node_rec *n) {
    for (int i = 0; i < n->n_in; i++)
        if (!dc_in(g, n, i)->scalar)
            return DC_ERR(DC_ERR_ARG, "%s: input '%s' is not a loss", n->name, dc_in(g, n, i)->name);
    n->scalar = 1;
    n->shape = dc_shape_make(0, NULL);
    return DC_OK;
}
static dc_status loss_sum_forward(dc_graph *g, dc_node_rec *n, int64_t batch, int train) {
    double s = 0.0; /* L = sum_i w_i L_i */
    for (int i = 0; i < n->n_in; i++) s += (double)n->weights[i] * dc_in(g, n, i)->loss;
    n->loss = s;
    n->out[0] = (float)s;
    return DC_OK;
}
static void loss_sum_backward(dc_graph *g, dc_node_rec *n, int64_t batch) {
    for (int i = 0; i < n->n_in; i++) { /* dL_i += w_i dL */
        dc_node_rec *x = dc_in(g, n, i);
        if (x->grad) x->grad[0] += n->weights[i] * n->grad[0];
    }
}

/* ---------------------------------------------------------------- the table */
int dc_op_assigns_grad(dc_op op) {
    switch (op) {
    case DC_OP_LINEAR: case DC_OP_RELU: case DC_OP_DROPOUT: case DC_OP_BATCHNORM: case DC_OP_ADD:
    case DC_OP_CONV2D: case DC_OP_LRN: case DC_OP_MAXPOOL2D: case DC_OP_AVGPOOL2D: case DC_OP_GLOBAL_AVGPOOL:
    case DC_OP_CONCAT: case DC_OP_CONV_TRANSPOSE2D:
        return 1;
    default:
        return 0;
    }
}

_Static_assert(DC_OP_CONV_TRANSPOSE2D + 1 == DC_OP_COUNT, "add the new op to dc_op_table");
const dc_op_def dc_op_table[DC_OP_COUNT] = {
    [DC_OP_INPUT]         = {"input", NULL, NULL, input_forward, NULL, NULL, NULL},
    [DC_OP_LINEAR]        = {"linear", linear_infer, NULL, linear_forward, linear_backward, linear_flops, NULL},
    [DC_OP_RELU]          = {"relu", same_shape_infer, NULL, relu_forward, relu_backward, NULL, NULL},
    [DC_OP_SIGMOID]       = {"sigmoid", same_shape_infer, NULL, sigmoid_forward, sigmoid_backward, NULL, NULL},
    [DC_OP_TANH]          = {"tanh", same_shape_infer, NULL, tanh_forward, tanh_backward, NULL, NULL},
    [DC_OP_SOFTMAX]       = {"softmax", same_shape_infer, NULL, softmax_forward, softmax_backward, NULL, NULL},
    [DC_OP_DROPOUT]       = {"dropout", dropout_infer, dropout_saved, dropout_forward, dropout_backward, NULL, NULL},
    [DC_OP_BATCHNORM]     = {"batchnorm", batchnorm_infer, batchnorm_saved, batchnorm_forward, batchnorm_backward, NULL, NULL},
    [DC_OP_ADD]           = {"add", add_infer, NULL, add_forward, add_backward, NULL, NULL},
    [DC_OP_RESHAPE]       = {"reshape", reshape_infer, NULL, reshape_forward, NULL, NULL, NULL},
    [DC_OP_SOFTMAX_CE]    = {"softmax_ce", loss_infer, softmax_ce_saved, softmax_ce_forward, softmax_ce_backward, NULL, NULL},
    [DC_OP_CROSS_ENTROPY] = {"cross_entropy", loss_infer, NULL, ce_forward, ce_backward, NULL, NULL},
    [DC_OP_MSE]           = {"mse", loss_infer, NULL, mse_forward, mse_backward, NULL, NULL},
    [DC_OP_CONV2D]        = DC_OP_ENTRY("conv2d", conv2d),
    [DC_OP_MAXPOOL2D]     = DC_OP_ENTRY("maxpool2d", maxpool2d),
    [DC_OP_AVGPOOL2D]     = DC_OP_ENTRY("avgpool2d", avgpool2d),
    [DC_OP_GLOBAL_AVGPOOL]= DC_OP_ENTRY("global_avgpool", global_avgpool),
    [DC_OP_LRN]           = DC_OP_ENTRY("lrn", lrn),
    [DC_OP_CONCAT]        = DC_OP_ENTRY("concat", concat),
    [DC_OP_LOSS_SUM]      = {"loss_sum", loss_sum_infer, NULL, loss_sum_forward, loss_sum_backward, NULL, NULL},
    [DC_OP_ROI_POOL]      = DC_OP_ENTRY("roi_pool", roi_pool),
    [DC_OP_ROI_ALIGN]     = DC_OP_ENTRY("roi_align", roi_align),
    [DC_OP_YOLO_LOSS]     = DC_OP_ENTRY("yolo_loss", yolo_loss),
    [DC_OP_CHANNELS_LAST] = DC_OP_ENTRY("channels_last", channels_last),
    [DC_OP_SIGMOID_BCE]   = DC_OP_ENTRY("sigmoid_bce", sigmoid_bce),
    [DC_OP_SMOOTH_L1]     = DC_OP_ENTRY("smooth_l1", smooth_l1),
    [DC_OP_CONV_TRANSPOSE2D] = DC_OP_ENTRY("conv_transpose2d", conv_transpose2d),
};
