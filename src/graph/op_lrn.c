/* op_lrn.c — the graph glue of local response normalisation across channels (AlexNet, PyTorch's
 * torch.nn.functional.local_response_norm convention): the shape function with the argument
 * checks, the saved buffers (s^-beta and 1/s per element, so backward needs no powf), and
 * forward/backward split over (example, channel) planes in fixed ranges on the thread pool.
 * What it deliberately does not do: the math (kernels/pool.c); other LRN flavours (within-channel
 * spatial windows, Caffe's alpha not divided by size). */
#include "graph/graph.h"
#include "kernels/pool.h"

#include <math.h>

#define SB 96
#define LRN_PAR_MIN 32768 /* input elements below which one thread does it all */

dc_status dc_op_lrn_infer(dc_graph *g, dc_node_rec *n) {
    char a[SB];
    dc_node_rec *x = dc_in(g, n, 0);
    if (x->shape.rank < 2)
        return DC_ERR(DC_ERR_SHAPE, "lrn '%s': input '%s' must be [N, C, H, W] or [N, C, L] (channels and positions), got sample shape %s",
                      n->name, x->name, dc_shape_str(x->shape, a, SB));
    if (n->lrn_size < 1)
        return DC_ERR(DC_ERR_ARG, "lrn '%s': size %d must be >= 1", n->name, n->lrn_size);
    if (!isfinite(n->lrn_alpha) || !isfinite(n->lrn_beta) || !isfinite(n->lrn_k) || n->lrn_alpha < 0.0f ||
        !(n->lrn_k > 0.0f))
        return DC_ERR(DC_ERR_ARG, "lrn '%s': alpha %g, beta %g, k %g must be finite with alpha >= 0 and k > 0",
                      n->name, (double)n->lrn_alpha, (double)n->lrn_beta, (double)n->lrn_k);
    n->shape = x->shape;
    return DC_OK;
}

int64_t dc_op_lrn_saved(const dc_graph *g, const dc_node_rec *n, int64_t batch) {
    return 2 * batch * dc_sample_numel(n); /* s^-beta, then 1/s, each [batch, C, ...] */
}

typedef struct {
    const dc_node_rec *n;
    int64_t items, C, S; /* items = batch * C planes of S positions */
    const float *x, *y, *dy;
    float *out, *pw, *inv, *dx;
    int backward, assign; /* assign: write dx (the input's grad_assign) */
} lrn_task;

static void lrn_range(void *ctx, int tid, int nthreads) {
    const lrn_task *t = ctx;
    const dc_node_rec *n = t->n;
    int64_t lo, hi;
    dc_split_range(t->items, nthreads, tid, &lo, &hi);
    for (int64_t e = lo / t->C; lo < hi; e++) { /* example e, channels [c0, c1) of it */
        int64_t c0 = lo - e * t->C, c1 = hi - e * t->C < t->C ? hi - e * t->C : t->C;
        int64_t off = e * t->C * t->S;
        if (t->backward)
            dc_lrn_backward(t->C, t->S, c0, c1, n->lrn_size, n->lrn_alpha, n->lrn_beta, t->x + off, t->y + off,
                            t->pw + off, t->inv + off, t->dy + off, t->dx + off, !t->assign);
        else
            dc_lrn_forward(t->C, t->S, c0, c1, n->lrn_size, n->lrn_alpha, n->lrn_beta, n->lrn_k, t->x + off,
                           t->out + off, t->pw + off, t->inv + off);
        lo = (e + 1) * t->C;
    }
}

static void lrn_run(dc_graph *g, dc_node_rec *n, int64_t batch, int backward) {
    dc_node_rec *x = dc_in(g, n, 0);
    int64_t C = n->shape.dim[0], S = dc_sample_numel(n) / C;
    lrn_task t = {.n = n, .items = batch * C, .C = C, .S = S, .x = x->out, .y = n->out, .dy = n->grad,
                  .out = n->out, .pw = n->saved, .inv = n->saved + n->saved_floats / 2, .dx = x->grad,
                  .backward = backward, .assign = x->grad_assign};
    if (g->pool && t.items > 1 && batch * C * S >= LRN_PAR_MIN) dc_pool_run(g->pool, lrn_range, &t);
    else lrn_range(&t, 0, 1);
}

dc_status dc_op_lrn_forward(dc_graph *g, dc_node_rec *n, int64_t batch, int train) {
    lrn_run(g, n, batch, 0);
    return DC_OK;
}

void dc_op_lrn_backward(dc_graph *g, dc_node_rec *n, int64_t batch) {
    if (dc_in(g, n, 0)->grad) lrn_run(g, n, batch, 1);
}

int64_t dc_op_lrn_flops(const dc_graph *g, const dc_node_rec *n) {
    return (2 * (int64_t)n->lrn_size + 4) * dc_sample_numel(n); /* window of squares, scale, power */
}

int64_t dc_op_lrn_workspace(const dc_graph *g, const dc_node_rec *n, int64_t batch) { return 0; }
