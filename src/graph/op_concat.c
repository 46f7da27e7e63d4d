/* op_concat.c — concatenation along the channel axis (axis 1 of [N, C, ...], axis 0 of the sample
 * shape), as torch.cat(xs, 1): the shape function (every other axis must agree), a forward that
 * copies each input's block into its slice of every example, and a backward that adds each slice
 * of the output gradient into the matching input's gradient.  Examples are split over the thread
 * pool in fixed ranges when the copy is large.
 * What it deliberately does not do: concatenation along other axes, or views (the output is a
 * fresh buffer, the inputs keep theirs). */
#include "graph/graph.h"
#include "kernels/kernels.h"

#include <string.h>

#define SB 96
#define CONCAT_PAR_MIN 65536 /* output elements below which one thread copies everything */

dc_status dc_op_concat_infer(dc_graph *g, dc_node_rec *n) {
    char a[SB], b[SB];
    if (n->n_in < 1 || n->n_in > DC_MAX_INPUTS)
        return DC_ERR(DC_ERR_ARG, "concat '%s': %d inputs (want 1..%d)", n->name, n->n_in, DC_MAX_INPUTS);
    const dc_node_rec *x0 = dc_in(g, n, 0);
    if (x0->shape.rank < 1)
        return DC_ERR(DC_ERR_SHAPE, "concat '%s': input '%s' has sample shape %s, without a channel axis", n->name,
                      x0->name, dc_shape_str(x0->shape, a, SB));
    dc_shape s = x0->shape;
    for (int i = 1; i < n->n_in; i++) {
        const dc_node_rec *x = dc_in(g, n, i);
        int ok = x->shape.rank == x0->shape.rank;
        for (int d = 1; ok && d < x0->shape.rank; d++) ok = x->shape.dim[d] == x0->shape.dim[d];
        if (!ok)
            return DC_ERR(DC_ERR_SHAPE, "concat '%s': input '%s' has sample shape %s but '%s' has %s (all axes but the channel axis must agree)",
                          n->name, x->name, dc_shape_str(x->shape, a, SB), x0->name, dc_shape_str(x0->shape, b, SB));
        s.dim[0] += x->shape.dim[0];
    }
    n->shape = s;
    return DC_OK;
}

int64_t dc_op_concat_saved(const dc_graph *g, const dc_node_rec *n, int64_t batch) { return 0; }

typedef struct {
    dc_graph *g;
    dc_node_rec *n;
    int64_t batch;
    int backward;
} concat_task;

/* Examples [lo, hi) of this thread: y[e, off_i : off_i + len_i] = x_i[e]  (or dx_i[e] += dy[e, slice],
 * = when x_i's gradient is written: grad_assign). */
static void concat_range(void *ctx, int tid, int nthreads) {
    const concat_task *t = ctx;
    dc_node_rec *n = t->n;
    int64_t lo, hi, total = dc_sample_numel(n), off = 0;
    dc_split_range(t->batch, nthreads, tid, &lo, &hi);
    for (int i = 0; i < n->n_in; i++) {
        dc_node_rec *x = dc_in(t->g, n, i);
        int64_t len = dc_sample_numel(x);
        for (int64_t e = lo; e < hi; e++) {
            if (!t->backward) memcpy(n->out + e * total + off, x->out + e * len, (size_t)len * sizeof(float));
            else if (x->grad && x->grad_assign) memcpy(x->grad + e * len, n->grad + e * total + off, (size_t)len * sizeof(float));
            else if (x->grad) dc_accumulate(len, n->grad + e * total + off, x->grad + e * len);
        }
        off += len;
    }
}

static void concat_run(dc_graph *g, dc_node_rec *n, int64_t batch, int backward) {
    concat_task t = {g, n, batch, backward};
    if (g->pool && batch > 1 && batch * dc_sample_numel(n) >= CONCAT_PAR_MIN) dc_pool_run(g->pool, concat_range, &t);
    else concat_range(&t, 0, 1);
}

dc_status dc_op_concat_forward(dc_graph *g, dc_node_rec *n, int64_t batch, int train) {
    concat_run(g, n, batch, 0);
    return DC_OK;
}

void dc_op_concat_backward(dc_graph *g, dc_node_rec *n, int64_t batch) { concat_run(g, n, batch, 1); }

int64_t dc_op_concat_flops(const dc_graph *g, const dc_node_rec *n) { return 0; }

int64_t dc_op_concat_workspace(const dc_graph *g, const dc_node_rec *n, int64_t batch) { return 0; }
