/* pool_layers.c — the builders of the pooling, LRN and concat layers: each adds one node, checks
 * and records its arguments (stride 0 -> the window, padding at most half the window, as
 * PyTorch), and lets the op's shape function check the input.
 * What it deliberately does not do: math or shape rules (src/graph/op_pool.c, op_lrn.c,
 * op_concat.c); these layers own no parameters. */
#include "graph/graph.h"

#include <math.h>

static dc_node pool_layer(dc_graph *g, dc_op op, dc_node x, const dc_pool2d_opts *o, const char *prefix,
                          const char *what) {
    dc_node n = dc_graph_add_node(g, op, &x, 1, NULL, prefix);
    if (n < 0) return n;
    const char *name = g->nodes[n].name;
    if (!o) return dc_graph_fail(g, DC_ERR_ARG, "%s '%s': options are NULL", what, name);
    if (o->kh < 1 || o->kw < 1)
        return dc_graph_fail(g, DC_ERR_ARG, "%s '%s': window %dx%d must be at least 1x1", what, name, o->kh, o->kw);
    if (o->stride_h < 0 || o->stride_w < 0)
        return dc_graph_fail(g, DC_ERR_ARG, "%s '%s': stride %dx%d must be >= 0 (0 means the window)", what, name,
                             o->stride_h, o->stride_w);
    if (o->pad_h < 0 || o->pad_w < 0 || o->pad_h > o->kh / 2 || o->pad_w > o->kw / 2)
        return dc_graph_fail(g, DC_ERR_ARG, "%s '%s': padding %dx%d must be >= 0 and at most half the window %dx%d",
                             what, name, o->pad_h, o->pad_w, o->kh, o->kw);
    dc_node_rec *r = &g->nodes[n];
    r->kh = o->kh;
    r->kw = o->kw;
    r->sh = o->stride_h ? o->stride_h : o->kh;
    r->sw = o->stride_w ? o->stride_w : o->kw;
    r->ph = o->pad_h;
    r->pw = o->pad_w;
    r->ceil_mode = o->ceil_mode != 0;
    r->count_include_pad = op == DC_OP_AVGPOOL2D && o->count_include_pad != 0;
    return dc_graph_finish_node(g, n);
}

dc_node dc_maxpool2d_ex(dc_graph *g, dc_node x, const dc_pool2d_opts *o) {
    return pool_layer(g, DC_OP_MAXPOOL2D, x, o, "pool", "maxpool2d");
}

dc_node dc_maxpool2d(dc_graph *g, dc_node x, int kernel, int stride) {
    dc_pool2d_opts o = {.kh = kernel, .kw = kernel, .stride_h = stride, .stride_w = stride};
    return dc_maxpool2d_ex(g, x, &o);
}

dc_node dc_avgpool2d_ex(dc_graph *g, dc_node x, const dc_pool2d_opts *o) {
    return pool_layer(g, DC_OP_AVGPOOL2D, x, o, "avgpool", "avgpool2d");
}

dc_node dc_avgpool2d(dc_graph *g, dc_node x, int kernel, int stride) {
    dc_pool2d_opts o = {.kh = kernel, .kw = kernel, .stride_h = stride, .stride_w = stride, .count_include_pad = 1};
    return dc_avgpool2d_ex(g, x, &o);
}

dc_node dc_global_avgpool(dc_graph *g, dc_node x) {
    dc_node n = dc_graph_add_node(g, DC_OP_GLOBAL_AVGPOOL, &x, 1, NULL, "gap");
    return n < 0 ? n : dc_graph_finish_node(g, n);
}

dc_node dc_lrn(dc_graph *g, dc_node x, int size, float alpha, float beta, float k) {
    dc_node n = dc_graph_add_node(g, DC_OP_LRN, &x, 1, NULL, "lrn");
    if (n < 0) return n;
    const char *name = g->nodes[n].name;
    if (size < 1) return dc_graph_fail(g, DC_ERR_ARG, "lrn '%s': size %d must be >= 1", name, size);
    if (!isfinite(alpha) || !isfinite(beta) || !isfinite(k) || alpha < 0.0f || !(k > 0.0f))
        return dc_graph_fail(g, DC_ERR_ARG, "lrn '%s': alpha %g, beta %g, k %g must be finite with alpha >= 0 and k > 0",
                             name, (double)alpha, (double)beta, (double)k);
    dc_node_rec *r = &g->nodes[n];
    r->lrn_size = size;
    r->lrn_alpha = alpha;
    r->lrn_beta = beta;
    r->lrn_k = k;
    return dc_graph_finish_node(g, n);
}

dc_node dc_concat(dc_graph *g, const dc_node *xs, int n) {
    if (!g || g->error != DC_OK) return DC_NONE;
    if (!xs || n < 1 || n > DC_MAX_INPUTS) {
        int k = 1; /* the default name the node would have had */
        for (int i = 0; i < g->n_nodes; i++) k += g->nodes[i].op == DC_OP_CONCAT;
        return dc_graph_fail(g, DC_ERR_ARG, "concat 'concat%d': %d inputs%s (want 1..%d)", k, n,
                             xs ? "" : " from a NULL array", DC_MAX_INPUTS);
    }
    dc_node c = dc_graph_add_node(g, DC_OP_CONCAT, xs, n, NULL, "concat");
    return c < 0 ? c : dc_graph_finish_node(g, c);
}
