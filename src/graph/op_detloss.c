/* op_detloss.c — the two weighted element-wise losses of the two-stage detectors, as graph ops:
 *
 *   sigmoid_bce  L = (1/N) sum_i w_i [max(x_i, 0) - x_i t_i + log(1 + exp(-|x_i|))]
 *                (binary cross-entropy of sigmoid(x_i) against t_i in [0, 1], computed from the logit
 *                so that it cannot overflow); dL/dx_i = w_i (sigmoid(x_i) - t_i) / N.
 *                Used for the RPN's objectness (one logit per anchor) and the Mask R-CNN mask head
 *                (one logit per mask pixel and class).
 *   smooth_l1    L = (1/N) sum_i w_i s(x_i - t_i), s(d) = 0.5 d^2 / beta for |d| < beta, else
 *                |d| - 0.5 beta (beta = 0: L1).  Used for the box regressions.
 *
 * Inputs: prediction x, target t and weight w of one sample shape and one leading dimension N (the
 * image batch, or the rows of a RoI input).  The weights carry everything a detector needs besides
 * the plain sum: 0 for ignored anchors, padding RoIs or the mask channels of other classes, and the
 * normalisation (e.g. 1/256 per sampled anchor, 1/(M*M) per mask pixel).  The loss is a scalar node;
 * targets and weights must not depend on parameters (they get no gradient).
 * Forward saves w_i dL_i/dx_i per element; backward adds dL * saved / N.
 * What it does not do: softmax losses (softmax_ce in ops.c) or any choice of what to weight. */
#include "graph/graph.h"
#include "kernels/boxes.h"

#include <math.h>

#define SB 96

static dc_status detloss_infer(dc_graph *g, dc_node_rec *n, const char *what) {
    char a[SB], b[SB];
    const dc_node_rec *x = dc_in(g, n, 0);
    for (int i = 1; i < 3; i++) {
        const dc_node_rec *t = dc_in(g, n, i);
        if (t->scalar || !dc_shape_equal(t->shape, x->shape))
            return DC_ERR(DC_ERR_SHAPE, "%s '%s': %s '%s' has sample shape %s, prediction '%s' has %s", what, n->name,
                          i == 1 ? "target" : "weight", t->name, dc_shape_str(t->shape, a, SB), x->name,
                          dc_shape_str(x->shape, b, SB));
        if (t->needs_grad)
            return DC_ERR(DC_ERR_ARG, "%s '%s': %s '%s' must not depend on parameters", what, n->name,
                          i == 1 ? "target" : "weight", t->name);
        if (t->rows_of != x->rows_of) {
            char ra[SB], rb[SB];
            return DC_ERR(DC_ERR_SHAPE, "%s '%s': %s '%s' runs over %s, prediction '%s' over %s", what, n->name,
                          i == 1 ? "target" : "weight", t->name, dc_graph_rows_str(g, t->rows_of, ra, SB), x->name,
                          dc_graph_rows_str(g, x->rows_of, rb, SB));
        }
    }
    if (x->scalar) return DC_ERR(DC_ERR_SHAPE, "%s '%s': prediction '%s' is a scalar", what, n->name, x->name);
    n->scalar = 1;
    n->shape = dc_shape_make(0, NULL);
    return DC_OK;
}

/* The loss node takes its inputs' leading dimension (graph.c), so `batch` below is N: the image
 * batch or the current row count of the RoI input. */
static int64_t detloss_saved(const dc_graph *g, const dc_node_rec *n, int64_t batch) {
    return batch * dc_sample_numel(&g->nodes[n->in[0]]);
}

static dc_status non_finite(const dc_node_rec *n, const dc_node_rec *x, const char *what, int64_t i) {
    return DC_ERR(DC_ERR_NUMERIC, "%s '%s': non-finite prediction, target or weight at element %lld of '%s'", what,
                  n->name, (long long)i, x->name);
}

static void detloss_backward(dc_graph *g, dc_node_rec *n, int64_t batch) {
    dc_node_rec *x = dc_in(g, n, 0);
    if (!x->grad) return;
    int64_t rows = batch, m = rows * dc_sample_numel(x);
    float s = n->grad[0] / (float)rows;
    for (int64_t i = 0; i < m; i++) x->grad[i] += s * n->saved[i];
}

/* ---------------------------------------------------------------- sigmoid binary cross-entropy */
dc_status dc_op_sigmoid_bce_infer(dc_graph *g, dc_node_rec *n) { return detloss_infer(g, n, "sigmoid_bce"); }
int64_t dc_op_sigmoid_bce_saved(const dc_graph *g, const dc_node_rec *n, int64_t batch) {
    return detloss_saved(g, n, batch);
}
int64_t dc_op_sigmoid_bce_flops(const dc_graph *g, const dc_node_rec *n) { return 0; }
int64_t dc_op_sigmoid_bce_workspace(const dc_graph *g, const dc_node_rec *n, int64_t batch) { return 0; }

dc_status dc_op_sigmoid_bce_forward(dc_graph *g, dc_node_rec *n, int64_t batch, int train) {
    dc_node_rec *x = dc_in(g, n, 0), *t = dc_in(g, n, 1), *w = dc_in(g, n, 2);
    int64_t rows = batch, m = rows * dc_sample_numel(x);
    double sum = 0.0;
    for (int64_t i = 0; i < m; i++) {
        float xi = x->out[i], ti = t->out[i], wi = w->out[i];
        if (!isfinite(xi) || !isfinite(ti) || !isfinite(wi)) return non_finite(n, x, "sigmoid_bce", i);
        if (wi == 0.0f) {
            n->saved[i] = 0.0f;
            continue;
        }
        float e = expf(-fabsf(xi)); /* in (0, 1]: no overflow for any logit */
        float p = xi >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
        sum += (double)wi * ((xi > 0.0f ? xi : 0.0f) - xi * ti + log1pf(e));
        n->saved[i] = wi * (p - ti);
    }
    n->loss = sum / (double)rows;
    n->out[0] = (float)n->loss;
    return DC_OK;
}
void dc_op_sigmoid_bce_backward(dc_graph *g, dc_node_rec *n, int64_t batch) { detloss_backward(g, n, batch); }

/* ---------------------------------------------------------------- smooth L1 */
dc_status dc_op_smooth_l1_infer(dc_graph *g, dc_node_rec *n) { return detloss_infer(g, n, "smooth_l1"); }
int64_t dc_op_smooth_l1_saved(const dc_graph *g, const dc_node_rec *n, int64_t batch) {
    return detloss_saved(g, n, batch);
}
int64_t dc_op_smooth_l1_flops(const dc_graph *g, const dc_node_rec *n) { return 0; }
int64_t dc_op_smooth_l1_workspace(const dc_graph *g, const dc_node_rec *n, int64_t batch) { return 0; }

dc_status dc_op_smooth_l1_forward(dc_graph *g, dc_node_rec *n, int64_t batch, int train) {
    dc_node_rec *x = dc_in(g, n, 0), *t = dc_in(g, n, 1), *w = dc_in(g, n, 2);
    int64_t rows = batch, m = rows * dc_sample_numel(x);
    for (int64_t i = 0; i < m; i++)
        if (!isfinite(x->out[i]) || !isfinite(t->out[i]) || !isfinite(w->out[i]))
            return non_finite(n, x, "smooth_l1", i);
    double sum = dc_smooth_l1_forward(m, x->out, t->out, w->out, n->p);
    for (int64_t i = 0; i < m; i++) n->saved[i] = 0.0f;
    dc_smooth_l1_backward(m, x->out, t->out, w->out, n->p, 1.0f, n->saved); /* w_i s'(x_i - t_i) */
    n->loss = sum / (double)rows;
    n->out[0] = (float)n->loss;
    return DC_OK;
}
void dc_op_smooth_l1_backward(dc_graph *g, dc_node_rec *n, int64_t batch) { detloss_backward(g, n, batch); }

/* ---------------------------------------------------------------- builders */
dc_node dc_sigmoid_bce(dc_graph *g, dc_node logits, dc_node target, dc_node weight, const char *name) {
    dc_node in[3] = {logits, target, weight};
    dc_node id = dc_graph_add_node(g, DC_OP_SIGMOID_BCE, in, 3, name, "sigmoid_bce");
    return id < 0 ? id : dc_graph_finish_node(g, id);
}

dc_node dc_smooth_l1(dc_graph *g, dc_node pred, dc_node target, dc_node weight, float beta, const char *name) {
    dc_node in[3] = {pred, target, weight};
    dc_node id = dc_graph_add_node(g, DC_OP_SMOOTH_L1, in, 3, name, "smooth_l1");
    if (id < 0) return id;
    if (!(beta >= 0.0f) || !isfinite(beta))
        return dc_graph_fail(g, DC_ERR_ARG, "smooth_l1 '%s': beta %g must be finite and >= 0", g->nodes[id].name,
                             (double)beta);
    g->nodes[id].p = beta;
    return dc_graph_finish_node(g, id);
}
