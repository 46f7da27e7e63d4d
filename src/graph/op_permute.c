/* op_permute.c — channels-last view of a feature map: [N, C, H, W] -> [N, H, W, C], as
 * x.permute(0, 2, 3, 1) in PyTorch, and its builder dc_channels_last.
 *   forward   y[n, h, w, c] = x[n, c, h, w]
 *   backward  dx[n, c, h, w] += dy[n, h, w, c]
 * Why it exists: a 1x1-convolution detection head computes every cell's predictions as channels
 * of one position, while the YOLO loss and decoder read them cell-major ([S, S, B*5 + C]); this op
 * turns the one into the other without a fully connected layer.  Examples are split over the
 * thread pool in fixed ranges, so results do not depend on the thread count.
 * What it does not do: other permutations, or views (the output is a fresh buffer). */
#include "graph/graph.h"

#include <string.h>

#define SB 96
#define PERMUTE_PAR_MIN 65536 /* elements below which one thread does everything */

dc_status dc_op_channels_last_infer(dc_graph *g, dc_node_rec *n) {
    char a[SB];
    const dc_node_rec *x = dc_in(g, n, 0);
    if (x->shape.rank != 3)
        return DC_ERR(DC_ERR_SHAPE, "channels_last '%s': input '%s' has sample shape %s, expected [C, H, W]", n->name,
                      x->name, dc_shape_str(x->shape, a, SB));
    n->shape = dc_shape3(x->shape.dim[1], x->shape.dim[2], x->shape.dim[0]);
    return DC_OK;
}

int64_t dc_op_channels_last_saved(const dc_graph *g, const dc_node_rec *n, int64_t batch) { return 0; }
int64_t dc_op_channels_last_flops(const dc_graph *g, const dc_node_rec *n) { return 0; }
int64_t dc_op_channels_last_workspace(const dc_graph *g, const dc_node_rec *n, int64_t batch) { return 0; }

typedef struct {
    dc_graph *g;
    dc_node_rec *n;
    int64_t batch;
    int backward;
} permute_task;

static void permute_range(void *ctx, int tid, int nthreads) {
    const permute_task *t = ctx;
    dc_node_rec *n = t->n, *x = dc_in(t->g, n, 0);
    const int64_t H = n->shape.dim[0], W = n->shape.dim[1], C = n->shape.dim[2], HW = H * W, per = HW * C;
    int64_t lo, hi;
    dc_split_range(t->batch, nthreads, tid, &lo, &hi);
    for (int64_t e = lo; e < hi; e++) {
        if (!t->backward) {
            const float *src = x->out + e * per;
            float *dst = n->out + e * per;
            for (int64_t c = 0; c < C; c++)
                for (int64_t p = 0; p < HW; p++) dst[p * C + c] = src[c * HW + p];
        } else {
            const float *dy = n->grad + e * per;
            float *dx = x->grad + e * per;
            for (int64_t c = 0; c < C; c++)
                for (int64_t p = 0; p < HW; p++) dx[c * HW + p] += dy[p * C + c];
        }
    }
}

static void permute_run(dc_graph *g, dc_node_rec *n, int64_t batch, int backward) {
    permute_task t = {g, n, batch, backward};
    if (g->pool && batch > 1 && batch * dc_sample_numel(n) >= PERMUTE_PAR_MIN) dc_pool_run(g->pool, permute_range, &t);
    else permute_range(&t, 0, 1);
}

dc_status dc_op_channels_last_forward(dc_graph *g, dc_node_rec *n, int64_t batch, int train) {
    permute_run(g, n, batch, 0);
    return DC_OK;
}

void dc_op_channels_last_backward(dc_graph *g, dc_node_rec *n, int64_t batch) {
    if (dc_in(g, n, 0)->grad) permute_run(g, n, batch, 1);
}

dc_node dc_channels_last(dc_graph *g, dc_node x, const char *name) {
    dc_node id = dc_graph_add_node(g, DC_OP_CHANNELS_LAST, &x, 1, name, "channels_last");
    return id < 0 ? id : dc_graph_finish_node(g, id);
}
