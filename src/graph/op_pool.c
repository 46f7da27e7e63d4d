/* op_pool.c — the graph glue of max pooling, average pooling and global average pooling: shape
 * functions (PyTorch's output-size rule, ceil mode included), the size of what max pooling saves
 * (int32 argmax indices), and forward/backward that split the (example, channel) planes over the
 * thread pool in fixed ranges and call the kernels in kernels/pool.c.
 * What it deliberately does not do: the math (kernels/pool.c) or argument defaults and checks of
 * the builders (nn/pool_layers.c); the checks here are the ones that need the input's shape. */
#include "graph/graph.h"
#include "kernels/pool.h"

#include <string.h>

#define SB 96
/* Below this many input elements per call the planes run on the calling thread only. */
#define POOL_PAR_MIN 32768

static dc_pool2d_geom geom_of(const dc_graph *g, const dc_node_rec *n) {
    const dc_node_rec *x = &g->nodes[n->in[0]];
    dc_pool2d_geom geo = {
        .H = x->shape.dim[1], .W = x->shape.dim[2], .OH = n->shape.dim[1], .OW = n->shape.dim[2],
        .kh = n->kh, .kw = n->kw, .sh = n->sh, .sw = n->sw, .ph = n->ph, .pw = n->pw,
        .count_include_pad = n->count_include_pad,
    };
    return geo;
}

static dc_status pool_infer(dc_graph *g, dc_node_rec *n, const char *what) {
    char a[SB];
    dc_node_rec *x = dc_in(g, n, 0);
    if (x->shape.rank != 3)
        return DC_ERR(DC_ERR_SHAPE, "%s '%s': input '%s' must be [N, C, H, W] (sample [C, H, W]), got sample shape %s",
                      what, n->name, x->name, dc_shape_str(x->shape, a, SB));
    if (n->kh < 1 || n->kw < 1 || n->sh < 1 || n->sw < 1 || n->ph < 0 || n->pw < 0 || n->ph > n->kh / 2 ||
        n->pw > n->kw / 2)
        return DC_ERR(DC_ERR_ARG, "%s '%s': bad geometry kernel %dx%d stride %dx%d padding %dx%d", what, n->name,
                      n->kh, n->kw, n->sh, n->sw, n->ph, n->pw);
    int64_t C = x->shape.dim[0], H = x->shape.dim[1], W = x->shape.dim[2];
    if (H * W > INT32_MAX)
        return DC_ERR(DC_ERR_SHAPE, "%s '%s': plane %lldx%lld too large (at most 2^31 elements)", what, n->name,
                      (long long)H, (long long)W);
    int64_t OH = dc_pool_out_size(H, n->kh, n->sh, n->ph, n->ceil_mode);
    int64_t OW = dc_pool_out_size(W, n->kw, n->sw, n->pw, n->ceil_mode);
    if (OH < 1 || OW < 1)
        return DC_ERR(DC_ERR_SHAPE, "%s '%s': window %dx%d larger than the padded input %lldx%lld (input '%s' %s, padding %dx%d)",
                      what, n->name, n->kh, n->kw, (long long)(H + 2 * n->ph), (long long)(W + 2 * n->pw), x->name,
                      dc_shape_str(x->shape, a, SB), n->ph, n->pw);
    n->shape = dc_shape3(C, OH, OW);
    return DC_OK;
}

/* One task for every pooling kernel: `planes` planes split in fixed contiguous ranges. */
typedef enum { MAX_FWD, MAX_BWD, AVG_FWD, AVG_BWD, GAP_FWD, GAP_BWD } pool_kind;
typedef struct {
    pool_kind kind;
    dc_pool2d_geom geo;
    int64_t planes, in, out; /* elements per input / output plane */
    const float *x, *dy;
    float *y, *dx;
    int32_t *argmax;
    int assign; /* backward: the input's gradient is written (grad_assign): zero this range's planes first,
                   while they are about to be touched anyway, instead of the graph zeroing it all earlier */
} pool_task;

static void pool_run_range(void *ctx, int tid, int nthreads) {
    const pool_task *t = ctx;
    int64_t lo, hi;
    dc_split_range(t->planes, nthreads, tid, &lo, &hi);
    int64_t np = hi - lo, i = lo * t->in, o = lo * t->out;
    if (np <= 0) return;
    if (t->assign && (t->kind == MAX_BWD || t->kind == AVG_BWD || t->kind == GAP_BWD))
        memset(t->dx + i, 0, (size_t)(np * t->in) * sizeof(float));
    switch (t->kind) {
    case MAX_FWD: dc_maxpool2d_forward(&t->geo, np, t->x + i, t->y + o, t->argmax + o); break;
    case MAX_BWD: dc_maxpool2d_backward(&t->geo, np, t->argmax + o, t->dy + o, t->dx + i); break;
    case AVG_FWD: dc_avgpool2d_forward(&t->geo, np, t->x + i, t->y + o); break;
    case AVG_BWD: dc_avgpool2d_backward(&t->geo, np, t->dy + o, t->dx + i); break;
    case GAP_FWD: dc_global_avgpool_forward(np, t->in, t->x + i, t->y + o); break;
    case GAP_BWD: dc_global_avgpool_backward(np, t->in, t->dy + o, t->dx + i); break;
    }
}

static void pool_run(dc_graph *g, pool_task *t) {
    if (g->pool && t->planes > 1 && t->planes * t->in >= POOL_PAR_MIN) dc_pool_run(g->pool, pool_run_range, t);
    else pool_run_range(t, 0, 1);
}

static pool_task task_of(dc_graph *g, dc_node_rec *n, int64_t batch, pool_kind kind) {
    dc_node_rec *x = dc_in(g, n, 0);
    pool_task t = {.kind = kind, .planes = batch * x->shape.dim[0], .x = x->out, .y = n->out, .dy = n->grad,
                   .dx = x->grad, .argmax = (int32_t *)n->saved, .assign = x->grad_assign};
    t.in = x->shape.dim[1] * x->shape.dim[2];
    t.out = n->shape.dim[1] * n->shape.dim[2];
    if (kind != GAP_FWD && kind != GAP_BWD) t.geo = geom_of(g, n);
    return t;
}

static int64_t window_flops(const dc_node_rec *n) { return (int64_t)n->kh * n->kw * dc_sample_numel(n); }

/* ---------------------------------------------------------------- max pooling */
dc_status dc_op_maxpool2d_infer(dc_graph *g, dc_node_rec *n) { return pool_infer(g, n, "maxpool2d"); }
int64_t dc_op_maxpool2d_saved(const dc_graph *g, const dc_node_rec *n, int64_t batch) {
    return batch * dc_sample_numel(n); /* argmax per output, int32 stored in the float buffer */
}
dc_status dc_op_maxpool2d_forward(dc_graph *g, dc_node_rec *n, int64_t batch, int train) {
    pool_task t = task_of(g, n, batch, MAX_FWD);
    pool_run(g, &t);
    return DC_OK;
}
void dc_op_maxpool2d_backward(dc_graph *g, dc_node_rec *n, int64_t batch) {
    if (!dc_in(g, n, 0)->grad) return;
    pool_task t = task_of(g, n, batch, MAX_BWD);
    pool_run(g, &t);
}
int64_t dc_op_maxpool2d_flops(const dc_graph *g, const dc_node_rec *n) { return window_flops(n); }
int64_t dc_op_maxpool2d_workspace(const dc_graph *g, const dc_node_rec *n, int64_t batch) { return 0; }

/* ---------------------------------------------------------------- average pooling */
dc_status dc_op_avgpool2d_infer(dc_graph *g, dc_node_rec *n) { return pool_infer(g, n, "avgpool2d"); }
int64_t dc_op_avgpool2d_saved(const dc_graph *g, const dc_node_rec *n, int64_t batch) { return 0; }
dc_status dc_op_avgpool2d_forward(dc_graph *g, dc_node_rec *n, int64_t batch, int train) {
    pool_task t = task_of(g, n, batch, AVG_FWD);
    pool_run(g, &t);
    return DC_OK;
}
void dc_op_avgpool2d_backward(dc_graph *g, dc_node_rec *n, int64_t batch) {
    if (!dc_in(g, n, 0)->grad) return;
    pool_task t = task_of(g, n, batch, AVG_BWD);
    pool_run(g, &t);
}
int64_t dc_op_avgpool2d_flops(const dc_graph *g, const dc_node_rec *n) { return window_flops(n); }
int64_t dc_op_avgpool2d_workspace(const dc_graph *g, const dc_node_rec *n, int64_t batch) { return 0; }

/* ---------------------------------------------------------------- global average pooling */
dc_status dc_op_global_avgpool_infer(dc_graph *g, dc_node_rec *n) {
    char a[SB];
    dc_node_rec *x = dc_in(g, n, 0);
    if (x->shape.rank != 3)
        return DC_ERR(DC_ERR_SHAPE, "global_avgpool '%s': input '%s' must be [N, C, H, W] (sample [C, H, W]), got sample shape %s",
                      n->name, x->name, dc_shape_str(x->shape, a, SB));
    n->shape = dc_shape3(x->shape.dim[0], 1, 1);
    return DC_OK;
}
int64_t dc_op_global_avgpool_saved(const dc_graph *g, const dc_node_rec *n, int64_t batch) { return 0; }
dc_status dc_op_global_avgpool_forward(dc_graph *g, dc_node_rec *n, int64_t batch, int train) {
    pool_task t = task_of(g, n, batch, GAP_FWD);
    pool_run(g, &t);
    return DC_OK;
}
void dc_op_global_avgpool_backward(dc_graph *g, dc_node_rec *n, int64_t batch) {
    if (!dc_in(g, n, 0)->grad) return;
    pool_task t = task_of(g, n, batch, GAP_BWD);
    pool_run(g, &t);
}
int64_t dc_op_global_avgpool_flops(const dc_graph *g, const dc_node_rec *n) {
    return dc_sample_numel(&g->nodes[n->in[0]]);
}
int64_t dc_op_global_avgpool_workspace(const dc_graph *g, const dc_node_rec *n, int64_t batch) { return 0; }
