/* convolutionalize.c — VGG's fully-connected-to-convolution trick ("dense evaluation"): rebuilds a
 * trained classifier's graph for a larger input, node by node (walking the graph's internal node
 * records), turning the first Linear after the feature maps into a convolution whose kernel covers
 * the feature map it was trained on and every later Linear into a 1x1 convolution, and copies every
 * parameter (transposing the Linear weights).  Also softmax + top-k for prediction.
 * What it does not do: train, load checkpoints (the caller loads the trained graph first), handle
 * heads with softmax/reshape/BatchNorm between the flatten and the first Linear, or pad the input
 * (a network with zero padding sees zeros at the canvas border only, so map positions away from the
 * border see real neighbouring pixels where the trained network saw padding). */
#include "models/convolutionalize.h"

#include "graph/graph.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* What a trained node became in the dense graph. */
enum {
    K_SPATIAL = 1, /* a [C, H, W] map in both graphs (the features)                                */
    K_FLAT,        /* trained: the flatten of a [C, h, w] map; dense: that map itself              */
    K_VEC          /* trained: a vector [F]; dense: a map of vectors [F, OH, OW]                   */
};

typedef struct conv_state {
    int *map;          /* trained node -> dense node (DC_NONE: not needed)                          */
    unsigned char *kind, *created, *from_linear;
    dc_shape *flat;    /* K_FLAT: the trained [C, h, w] shape that was flattened                    */
    int *sh, *sw;      /* stride of the node's map in input pixels (0: global)                      */
} conv_state;

static void state_free(conv_state *s) {
    free(s->map);
    free(s->kind);
    free(s->created);
    free(s->from_linear);
    free(s->flat);
    free(s->sh);
    free(s->sw);
}

static const char *op_name(const dc_node_rec *n) {
    return (unsigned)n->op < DC_OP_COUNT && dc_op_table[n->op].name ? dc_op_table[n->op].name : "?";
}

/* Rebuild trained node i in the dense graph g.  Returns DC_OK or an error naming the node. */
static dc_status rebuild(const dc_graph *t, int i, int in_h, int in_w, dc_graph *g, conv_state *s, int *n_inputs) {
    const dc_node_rec *n = &t->nodes[i];
    const int a = n->n_in > 0 ? n->in[0] : -1;
    const int in = a >= 0 ? s->map[a] : DC_NONE;
    const int ka = a >= 0 ? s->kind[a] : 0;
    char sb[96];
    int out = DC_NONE, kind = ka;
    s->sh[i] = a >= 0 ? s->sh[a] : 1;
    s->sw[i] = a >= 0 ? s->sw[a] : 1;
    if (a >= 0) s->flat[i] = s->flat[a];
    switch (n->op) {
    case DC_OP_INPUT: {
        if (n->shape.rank != 3)
            return DC_ERR(DC_ERR_ARG, "convolutionalize: input '%s' is %s, not an image [C, H, W]", n->name,
                          dc_shape_str(n->shape, sb, sizeof sb));
        if (++*n_inputs > 1)
            return DC_ERR(DC_ERR_ARG, "convolutionalize: the logits depend on more than one input ('%s')", n->name);
        if (in_h < n->shape.dim[1] || in_w < n->shape.dim[2])
            return DC_ERR(DC_ERR_ARG, "convolutionalize: input %dx%d (HxW) is smaller than the %lldx%lld the model was "
                          "trained on", in_h, in_w, (long long)n->shape.dim[1], (long long)n->shape.dim[2]);
        out = dc_input(g, n->name, dc_shape3(n->shape.dim[0], in_h, in_w));
        kind = K_SPATIAL;
        s->sh[i] = s->sw[i] = 1;
        break;
    }
    case DC_OP_CONV2D:
    case DC_OP_MAXPOOL2D:
    case DC_OP_AVGPOOL2D:
    case DC_OP_GLOBAL_AVGPOOL:
    case DC_OP_LRN:
    case DC_OP_CONCAT:
        for (int k = 0; k < n->n_in; k++)
            if (s->kind[n->in[k]] != K_SPATIAL)
                return DC_ERR(DC_ERR_ARG, "convolutionalize: %s '%s' comes after the flatten of the classifier head",
                              op_name(n), n->name);
        if (n->op == DC_OP_CONV2D) {
            dc_conv2d_opts o = {.kh = n->kh, .kw = n->kw, .stride_h = n->sh, .stride_w = n->sw, .pad_h = n->ph,
                                .pad_w = n->pw, .dilation_h = n->dh, .dilation_w = n->dw, .groups = n->groups,
                                .no_bias = n->n_params < 2};
            out = dc_conv2d_ex(g, in, (int)n->units, n->name, &o);
        } else if (n->op == DC_OP_MAXPOOL2D || n->op == DC_OP_AVGPOOL2D) {
            dc_pool2d_opts o = {.kh = n->kh, .kw = n->kw, .stride_h = n->sh, .stride_w = n->sw, .pad_h = n->ph,
                                .pad_w = n->pw, .ceil_mode = n->ceil_mode, .count_include_pad = n->count_include_pad};
            out = n->op == DC_OP_MAXPOOL2D ? dc_maxpool2d_ex(g, in, &o) : dc_avgpool2d_ex(g, in, &o);
        } else if (n->op == DC_OP_GLOBAL_AVGPOOL) {
            out = dc_global_avgpool(g, in);
        } else if (n->op == DC_OP_LRN) {
            out = dc_lrn(g, in, n->lrn_size, n->lrn_alpha, n->lrn_beta, n->lrn_k);
        } else {
            dc_node xs[DC_MAX_INPUTS];
            for (int k = 0; k < n->n_in; k++) xs[k] = s->map[n->in[k]];
            out = dc_concat(g, xs, n->n_in);
        }
        if (n->op == DC_OP_CONV2D || n->op == DC_OP_MAXPOOL2D || n->op == DC_OP_AVGPOOL2D) {
            s->sh[i] *= n->sh;
            s->sw[i] *= n->sw;
        }
        if (n->op == DC_OP_GLOBAL_AVGPOOL) s->sh[i] = s->sw[i] = 0;
        break;
    case DC_OP_RELU: out = dc_relu(g, in); break;
    case DC_OP_SIGMOID: out = dc_sigmoid(g, in); break;
    case DC_OP_TANH: out = dc_tanh(g, in); break;
    case DC_OP_DROPOUT: /* the identity at inference */
        s->map[i] = in;
        s->kind[i] = (unsigned char)ka;
        return DC_OK;
    case DC_OP_BATCHNORM:
        if (ka == K_FLAT)
            return DC_ERR(DC_ERR_ARG, "convolutionalize: batchnorm '%s' normalises the flattened features (one "
                          "statistic per pixel), which has no convolutional equivalent", n->name);
        out = dc_batchnorm_ex(g, in, n->name, n->eps, n->momentum);
        break;
    case DC_OP_ADD: {
        const int b = n->in[1];
        if (s->kind[b] != ka || (ka == K_FLAT && !dc_shape_equal(s->flat[a], s->flat[b])))
            return DC_ERR(DC_ERR_ARG, "convolutionalize: add '%s' mixes feature maps and flattened vectors", n->name);
        out = dc_add(g, in, s->map[b]);
        break;
    }
    case DC_OP_RESHAPE: {
        const dc_shape from = t->nodes[a].shape;
        if (dc_shape_equal(from, n->shape)) { /* a no-op reshape */
            s->map[i] = in;
            s->kind[i] = (unsigned char)ka;
            return DC_OK;
        }
        if (ka == K_SPATIAL && n->shape.rank == 1 && from.rank == 3) { /* flatten: deferred to the Linear */
            s->map[i] = in;
            s->kind[i] = K_FLAT;
            s->flat[i] = from;
            return DC_OK;
        }
        return DC_ERR(DC_ERR_ARG, "convolutionalize: reshape '%s' from %s is not a flatten of a feature map", n->name,
                      dc_shape_str(from, sb, sizeof sb));
    }
    case DC_OP_LINEAR: {
        dc_conv2d_opts o = {.kh = 1, .kw = 1, .no_bias = n->n_params < 2};
        const dc_shape from = t->nodes[a].shape;
        if (ka == K_FLAT || (ka == K_SPATIAL && from.rank == 3)) {
            const dc_shape f = ka == K_FLAT ? s->flat[i] : from;
            o.kh = (int)f.dim[1];
            o.kw = (int)f.dim[2];
            s->flat[i] = f;
        } else if (ka != K_VEC) {
            return DC_ERR(DC_ERR_ARG, "convolutionalize: linear '%s' takes %s, not a feature map or a vector of the "
                          "classifier head", n->name, dc_shape_str(from, sb, sizeof sb));
        }
        s->from_linear[i] = 1;
        out = dc_conv2d_ex(g, in, (int)n->units, n->name, &o);
        kind = K_VEC;
        break;
    }
    default:
        return DC_ERR(DC_ERR_ARG, "convolutionalize: %s '%s' is on the path to the logits and has no dense equivalent%s",
                      op_name(n), n->name,
                      n->op == DC_OP_SOFTMAX || n->scalar ? " (pass the logits node, before softmax or loss)" : "");
    }
    if (out == DC_NONE) return dc_graph_status(g);
    s->map[i] = out;
    s->kind[i] = (unsigned char)kind;
    s->created[i] = 1;
    return DC_OK;
}

/* Copy trained node i's parameters into its dense node, transposing Linear weights. */
static dc_status copy_params(const dc_graph *t, int i, dc_graph *g, const conv_state *s) {
    const dc_node_rec *n = &t->nodes[i], *d = &g->nodes[s->map[i]];
    if (n->n_params != d->n_params)
        return DC_ERR(DC_ERR_STATE, "convolutionalize: '%s' has %d parameters, its dense version %d", n->name,
                      n->n_params, d->n_params);
    for (int k = 0; k < n->n_params; k++) {
        const dc_param *tp = &t->params[n->param0 + k].pub;
        dc_param *dp = &g->params[d->param0 + k].pub;
        if (tp->numel != dp->numel || strcmp(tp->name, dp->name) != 0)
            return DC_ERR(DC_ERR_STATE, "convolutionalize: parameter '%s' (%lld) does not match '%s' (%lld)", tp->name,
                          (long long)tp->numel, dp->name, (long long)dp->numel);
        if (s->from_linear[i] && k == 0) {
            /* Linear W [in, out] (row j = input feature j in NCHW flatten order) -> conv [out, in]. */
            const int64_t fin = tp->shape.dim[0], fout = tp->shape.dim[1];
            for (int64_t j = 0; j < fin; j++)
                for (int64_t o = 0; o < fout; o++) dp->data[o * fin + j] = tp->data[j * fout + o];
        } else {
            memcpy(dp->data, tp->data, (size_t)tp->numel * sizeof(float));
        }
    }
    return DC_OK;
}

void dc_dense_graph_free(dc_dense_graph *d) {
    if (!d) return;
    dc_graph_free(d->g);
    memset(d, 0, sizeof *d);
}

dc_status dc_convolutionalize(const dc_graph *trained, dc_node trained_logits, int in_h, int in_w, int64_t max_batch,
                              const dc_graph_opts *opts, dc_dense_graph *out) {
    if (!trained || !out) return DC_ERR(DC_ERR_ARG, "dc_convolutionalize: NULL argument");
    memset(out, 0, sizeof *out);
    if (trained_logits < 0 || trained_logits >= trained->n_nodes)
        return DC_ERR(DC_ERR_ARG, "dc_convolutionalize: bad logits node %d", trained_logits);
    if (max_batch > 0 && !trained->params_ready)
        return DC_ERR(DC_ERR_STATE, "dc_convolutionalize: the trained graph is not planned (no parameter values)");
    if (in_h < 1 || in_w < 1 || in_h > (1 << 16) || in_w > (1 << 16))
        return DC_ERR(DC_ERR_ARG, "dc_convolutionalize: input size %dx%d", in_h, in_w);
    if (max_batch < 0) return DC_ERR(DC_ERR_ARG, "dc_convolutionalize: max_batch %lld", (long long)max_batch);
    const int nn = trained_logits + 1;
    conv_state s = {0};
    unsigned char *need = calloc((size_t)nn, 1);
    s.map = malloc((size_t)nn * sizeof *s.map);
    s.kind = calloc((size_t)nn, 1);
    s.created = calloc((size_t)nn, 1);
    s.from_linear = calloc((size_t)nn, 1);
    s.flat = calloc((size_t)nn, sizeof *s.flat);
    s.sh = calloc((size_t)nn, sizeof *s.sh);
    s.sw = calloc((size_t)nn, sizeof *s.sw);
    dc_graph *g = NULL;
    dc_status st = need && s.map && s.kind && s.created && s.from_linear && s.flat && s.sh && s.sw
                       ? DC_OK
                       : DC_ERR(DC_ERR_NOMEM, "convolutionalize: node tables");
    if (st == DC_OK) st = dc_graph_create(&g);
    if (st == DC_OK) {
        /* Ancestors of the logits (nodes are in topological order). */
        need[trained_logits] = 1;
        for (int i = trained_logits; i >= 0; i--) {
            s.map[i] = DC_NONE;
            if (need[i])
                for (int k = 0; k < trained->nodes[i].n_in; k++) need[trained->nodes[i].in[k]] = 1;
        }
        int n_inputs = 0;
        for (int i = 0; i < nn && st == DC_OK; i++)
            if (need[i]) st = rebuild(trained, i, in_h, in_w, g, &s, &n_inputs);
        if (st == DC_OK && n_inputs == 0)
            st = DC_ERR(DC_ERR_ARG, "convolutionalize: the logits '%s' depend on no input",
                        trained->nodes[trained_logits].name);
        if (st == DC_OK && s.kind[trained_logits] != K_VEC)
            st = DC_ERR(DC_ERR_ARG, "convolutionalize: '%s' is not the output of a Linear classifier head (no "
                        "flatten -> linear found)", trained->nodes[trained_logits].name);
    }
    if (st == DC_OK) st = dc_graph_status(g);
    if (st == DC_OK && max_batch > 0) {
        dc_graph_opts o = {0};
        if (opts) o = *opts;
        o.init = DC_INIT_CONST; /* every weight is overwritten below: skip drawing random numbers */
        o.init_value = 0.0f;
        o.weight_decay = 0.0f;
        st = dc_graph_plan(g, max_batch, &o);
    }
    for (int i = 0; i < nn && st == DC_OK && max_batch > 0; i++)
        if (s.created[i]) st = copy_params(trained, i, g, &s);
    if (st == DC_OK) {
        out->g = g;
        out->input = DC_NONE;
        for (int i = 0; i < nn; i++)
            if (need[i] && trained->nodes[i].op == DC_OP_INPUT) out->input = s.map[i];
        out->scores = s.map[trained_logits];
        dc_shape ms = dc_node_shape(g, out->scores);
        out->classes = (int)ms.dim[0];
        out->map_h = (int)ms.dim[1];
        out->map_w = (int)ms.dim[2];
        out->stride_h = s.sh[trained_logits];
        out->stride_w = s.sw[trained_logits];
    } else {
        dc_graph_free(g);
    }
    free(need);
    state_free(&s);
    return st;
}

void dc_softmax_probs(const float *logits, int n, float *probs) {
    if (n < 1) return;
    float m = logits[0];
    for (int i = 1; i < n; i++) if (logits[i] > m) m = logits[i];
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += exp((double)logits[i] - m);
    for (int i = 0; i < n; i++) probs[i] = (float)(exp((double)logits[i] - m) / sum);
}

int dc_topk(const float *logits, int n, int k, int *idx, float *prob) {
    if (!logits || !idx || !prob || n < 1 || k < 1) return 0;
    if (k > n) k = n;
    float *p = malloc((size_t)n * sizeof *p);
    unsigned char *used = calloc((size_t)n, 1);
    if (!p || !used) {
        free(p);
        free(used);
        return 0;
    }
    dc_softmax_probs(logits, n, p);
    for (int r = 0; r < k; r++) { /* selection: k is small (5) */
        int best = -1;
        for (int i = 0; i < n; i++)
            if (!used[i] && (best < 0 || logits[i] > logits[best])) best = i;
        used[best] = 1;
        idx[r] = best;
        prob[r] = p[best];
    }
    free(p);
    free(used);
    return k;
}
