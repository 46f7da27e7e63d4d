/* layers.c — the layer builders of the public API: each adds one node to the graph, declares the
 * parameters it owns (with their initialisation and whether weight decay applies) and lets the op
 * table check shapes.  No math here. */
#include "graph/graph.h"

#include <string.h>

dc_node dc_input(dc_graph *g, const char *name, dc_shape sample_shape) {
    dc_node n = dc_graph_add_node(g, DC_OP_INPUT, NULL, 0, name, "input");
    if (n < 0) return n;
    if (sample_shape.rank < 0 || sample_shape.rank >= DC_MAX_DIMS || dc_shape_numel(sample_shape) <= 0) {
        char sb[96];
        return dc_graph_fail(g, DC_ERR_SHAPE, "input '%s': sample shape %s must have 0..%d positive dims",
                             g->nodes[n].name, dc_shape_str(sample_shape, sb, sizeof sb), DC_MAX_DIMS - 1);
    }
    g->nodes[n].shape = sample_shape;
    return dc_graph_finish_node(g, n);
}

dc_node dc_input_grad(dc_graph *g, const char *name, dc_shape sample_shape) {
    dc_node n = dc_input(g, name, sample_shape);
    if (n >= 0) g->nodes[n].needs_grad = 1;
    return n;
}

dc_node dc_linear_ex(dc_graph *g, dc_node x, int64_t out_features, const char *name, const dc_linear_opts *o) {
    dc_linear_opts opts = {0};
    if (o) opts = *o;
    dc_node n = dc_graph_add_node(g, DC_OP_LINEAR, &x, 1, name, "fc");
    if (n < 0) return n;
    if (out_features < 1 || out_features > (1 << 24))
        return dc_graph_fail(g, DC_ERR_ARG, "linear '%s': %lld output features (want 1..16777216)", g->nodes[n].name,
                             (long long)out_features);
    if ((unsigned)opts.init >= DC_INIT_COUNT)
        return dc_graph_fail(g, DC_ERR_ARG, "linear '%s': unknown init %d", g->nodes[n].name, (int)opts.init);
    int64_t in = dc_shape_numel(g->nodes[x].shape);
    g->nodes[n].units = out_features;
    dc_graph_add_param(g, n, "weight", dc_shape2(in, out_features), opts.init, opts.init_value, in, 1, 1);
    if (!opts.no_bias) dc_graph_add_param(g, n, "bias", dc_shape1(out_features), DC_INIT_CONST, 0.0f, in, 0, 1);
    return dc_graph_finish_node(g, n);
}

dc_node dc_linear(dc_graph *g, dc_node x, int64_t out_features, const char *name) {
    return dc_linear_ex(g, x, out_features, name, NULL);
}

static dc_node unary(dc_graph *g, dc_op op, dc_node x, const char *prefix) {
    dc_node n = dc_graph_add_node(g, op, &x, 1, NULL, prefix);
    return n < 0 ? n : dc_graph_finish_node(g, n);
}

dc_node dc_relu(dc_graph *g, dc_node x) { return unary(g, DC_OP_RELU, x, "relu"); }
dc_node dc_sigmoid(dc_graph *g, dc_node x) { return unary(g, DC_OP_SIGMOID, x, "sigmoid"); }
dc_node dc_tanh(dc_graph *g, dc_node x) { return unary(g, DC_OP_TANH, x, "tanh"); }
dc_node dc_softmax(dc_graph *g, dc_node x) { return unary(g, DC_OP_SOFTMAX, x, "softmax"); }

dc_node dc_dropout(dc_graph *g, dc_node x, float p) {
    dc_node n = dc_graph_add_node(g, DC_OP_DROPOUT, &x, 1, NULL, "dropout");
    if (n < 0) return n;
    g->nodes[n].p = p;
    return dc_graph_finish_node(g, n);
}

dc_node dc_batchnorm_ex(dc_graph *g, dc_node x, const char *name, float eps, float momentum) {
    dc_node n = dc_graph_add_node(g, DC_OP_BATCHNORM, &x, 1, name, "bn");
    if (n < 0) return n;
    dc_shape s = g->nodes[x].shape;
    if (s.rank < 1) return dc_graph_fail(g, DC_ERR_SHAPE, "batchnorm '%s': input '%s' has no feature axis",
                                         g->nodes[n].name, g->nodes[x].name);
    if (!(eps > 0.0f) || !(momentum >= 0.0f && momentum <= 1.0f))
        return dc_graph_fail(g, DC_ERR_ARG, "batchnorm '%s': eps %g must be > 0 and momentum %g in [0, 1]",
                             g->nodes[n].name, (double)eps, (double)momentum);
    int64_t C = s.dim[0];
    g->nodes[n].eps = eps;
    g->nodes[n].momentum = momentum;
    dc_graph_add_param(g, n, "weight", dc_shape1(C), DC_INIT_CONST, 1.0f, C, 0, 1);       /* gamma */
    dc_graph_add_param(g, n, "bias", dc_shape1(C), DC_INIT_CONST, 0.0f, C, 0, 1);         /* beta  */
    dc_graph_add_param(g, n, "running_mean", dc_shape1(C), DC_INIT_CONST, 0.0f, C, 0, 0);
    dc_graph_add_param(g, n, "running_var", dc_shape1(C), DC_INIT_CONST, 1.0f, C, 0, 0);
    return dc_graph_finish_node(g, n);
}

dc_node dc_batchnorm(dc_graph *g, dc_node x, const char *name) { return dc_batchnorm_ex(g, x, name, 1e-5f, 0.1f); }

dc_node dc_add(dc_graph *g, dc_node a, dc_node b) {
    dc_node in[2] = {a, b};
    dc_node n = dc_graph_add_node(g, DC_OP_ADD, in, 2, NULL, "add");
    return n < 0 ? n : dc_graph_finish_node(g, n);
}

dc_node dc_reshape(dc_graph *g, dc_node x, dc_shape sample_shape) {
    dc_node n = dc_graph_add_node(g, DC_OP_RESHAPE, &x, 1, NULL, "reshape");
    if (n < 0) return n;
    g->nodes[n].shape = sample_shape;
    return dc_graph_finish_node(g, n);
}

dc_node dc_flatten(dc_graph *g, dc_node x) {
    if (!dc_graph_check_node(g, x, "flatten")) return DC_NONE;
    return dc_reshape(g, x, dc_shape1(dc_shape_numel(g->nodes[x].shape)));
}

static dc_node loss(dc_graph *g, dc_op op, dc_node y, dc_node t, const char *prefix) {
    dc_node in[2] = {y, t};
    dc_node n = dc_graph_add_node(g, op, in, 2, NULL, prefix);
    return n < 0 ? n : dc_graph_finish_node(g, n);
}
dc_node dc_softmax_cross_entropy(dc_graph *g, dc_node logits, dc_node target) {
    return loss(g, DC_OP_SOFTMAX_CE, logits, target, "softmax_ce");
}
dc_node dc_softmax_cross_entropy_ex(dc_graph *g, dc_node logits, dc_node target, float label_smoothing) {
    if (!(label_smoothing >= 0.0f && label_smoothing < 1.0f))
        return dc_graph_fail(g, DC_ERR_ARG, "label smoothing %g outside [0, 1)", (double)label_smoothing);
    dc_node in[2] = {logits, target};
    dc_node n = dc_graph_add_node(g, DC_OP_SOFTMAX_CE, in, 2, NULL, "softmax_ce");
    if (n < 0) return n;
    g->nodes[n].p = label_smoothing;
    return dc_graph_finish_node(g, n);
}
dc_node dc_cross_entropy(dc_graph *g, dc_node probs, dc_node target) {
    return loss(g, DC_OP_CROSS_ENTROPY, probs, target, "cross_entropy");
}
dc_node dc_mse(dc_graph *g, dc_node y, dc_node target) { return loss(g, DC_OP_MSE, y, target, "mse"); }

dc_node dc_loss_sum(dc_graph *g, const dc_node *losses, const float *weights, int n) {
    if (!g || g->error != DC_OK) return DC_NONE;
    if (n < 1 || n > DC_MAX_INPUTS || !losses || !weights)
        return dc_graph_fail(g, DC_ERR_ARG, "loss_sum: %d losses (want 1..%d and weights for each)", n, DC_MAX_INPUTS);
    dc_node s = dc_graph_add_node(g, DC_OP_LOSS_SUM, losses, n, NULL, "loss_sum");
    if (s < 0) return s;
    for (int i = 0; i < n; i++) g->nodes[s].weights[i] = weights[i];
    return dc_graph_finish_node(g, s);
}
