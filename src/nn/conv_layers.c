/* conv_layers.c — the Conv2d and ConvTranspose2d builders.  Each adds the node, records its
 * geometry (kernel, stride, padding, dilation, groups; 0 in the options means 1 for stride,
 * dilation and groups), declares the weight (weight decay, initialised by its fan_in) and the
 * bias (zero, no decay).  Argument errors are reported here; the output geometry is checked by the
 * op's shape function (op_conv.c).  No math here. */
#include "graph/graph.h"

/* What the two option structs share (a ConvTranspose2d's adds the output padding). */
typedef struct conv_args {
    int kh, kw, stride_h, stride_w, pad_h, pad_w, output_pad_h, output_pad_w, dilation_h, dilation_w, groups;
    int no_bias;
    dc_init init;
    float init_value;
} conv_args;

/* The node of op (DC_OP_CONV2D or DC_OP_CONV_TRANSPOSE2D) with its checks, geometry and parameters:
 * Conv2d's weight [OC, C/groups, KH, KW] with fan_in C/groups*KH*KW; ConvTranspose2d's weight
 * [C, OC/groups, KH, KW] (the layout of the convolution it transposes, which op_conv.c runs it as)
 * with fan_in (C/groups)*KH*KW/(sh*sw), the mean number of terms that reach one output pixel
 * (exactly C/groups for a k x k stride-k upsampling). */
static dc_node conv_node(dc_graph *g, dc_node x, dc_op op, int out_channels, const char *name, const conv_args *o) {
    const int tr = op == DC_OP_CONV_TRANSPOSE2D;
    const char *what = tr ? "conv_transpose2d" : "conv2d";
    if (!dc_graph_check_node(g, x, what)) return DC_NONE;
    dc_node n = dc_graph_add_node(g, op, &x, 1, name, tr ? "deconv" : "conv");
    if (n < 0) return n;
    dc_node_rec *r = &g->nodes[n];
    const char *nm = r->name;
    if (!o) return dc_graph_fail(g, DC_ERR_ARG, "%s '%s': options are NULL (the kernel size is required)", what, nm);
    if ((unsigned)o->init >= DC_INIT_COUNT)
        return dc_graph_fail(g, DC_ERR_ARG, "%s '%s': unknown init %d", what, nm, (int)o->init);
    if (out_channels < 1 || out_channels > (1 << 24))
        return dc_graph_fail(g, DC_ERR_ARG, "%s '%s': %d output channels (want 1..16777216)", what, nm, out_channels);
    if (o->kh < 1 || o->kw < 1 || o->stride_h < 0 || o->stride_w < 0 || o->pad_h < 0 || o->pad_w < 0 ||
        o->output_pad_h < 0 || o->output_pad_w < 0 || o->dilation_h < 0 || o->dilation_w < 0 || o->groups < 0)
        return dc_graph_fail(g, DC_ERR_ARG,
                             "%s '%s': kernel %dx%d must be >= 1; stride %dx%d, padding %dx%d,%s dilation %dx%d and "
                             "groups %d must be >= 0 (0 means 1 for stride, dilation, groups)",
                             what, nm, o->kh, o->kw, o->stride_h, o->stride_w, o->pad_h, o->pad_w,
                             tr ? " output padding" : "", o->dilation_h, o->dilation_w, o->groups);
    const dc_shape s = g->nodes[x].shape;
    if (s.rank != 3) {
        char sb[96];
        return dc_graph_fail(g, DC_ERR_SHAPE, "%s '%s': input '%s' must be [C, H, W] per example, got %s", what, nm,
                             g->nodes[x].name, dc_shape_str(s, sb, sizeof sb));
    }
    r->units = out_channels;
    r->kh = o->kh;
    r->kw = o->kw;
    r->sh = o->stride_h ? o->stride_h : 1;
    r->sw = o->stride_w ? o->stride_w : 1;
    r->ph = o->pad_h;
    r->pw = o->pad_w;
    r->oph = o->output_pad_h;
    r->opw = o->output_pad_w;
    r->dh = o->dilation_h ? o->dilation_h : 1;
    r->dw = o->dilation_w ? o->dilation_w : 1;
    r->groups = o->groups ? o->groups : 1;
    r->init = o->init;
    r->init_value = o->init_value;
    const int64_t C = s.dim[0];
    if (C % r->groups || out_channels % r->groups)
        return dc_graph_fail(g, C % r->groups ? DC_ERR_SHAPE : DC_ERR_ARG,
                             "%s '%s': %d groups must divide both the %lld input and %d output channels", what, nm,
                             r->groups, (long long)C, out_channels);
    int64_t fan_in = C / r->groups * r->kh * r->kw;
    dc_shape ws = dc_shape4(out_channels, C / r->groups, r->kh, r->kw);
    if (tr) {
        fan_in /= (int64_t)r->sh * r->sw;
        if (fan_in < 1) fan_in = 1;
        ws = dc_shape4(C, out_channels / r->groups, r->kh, r->kw);
    }
    dc_graph_add_param(g, n, "weight", ws, o->init, o->init_value, fan_in, 1, 1);
    if (!o->no_bias) dc_graph_add_param(g, n, "bias", dc_shape1(out_channels), DC_INIT_CONST, 0.0f, fan_in, 0, 1);
    return dc_graph_finish_node(g, n);
}

dc_node dc_conv2d_ex(dc_graph *g, dc_node x, int out_channels, const char *name, const dc_conv2d_opts *o) {
    if (!o) return conv_node(g, x, DC_OP_CONV2D, out_channels, name, NULL);
    const conv_args a = {.kh = o->kh, .kw = o->kw, .stride_h = o->stride_h, .stride_w = o->stride_w,
                         .pad_h = o->pad_h, .pad_w = o->pad_w, .dilation_h = o->dilation_h,
                         .dilation_w = o->dilation_w, .groups = o->groups, .no_bias = o->no_bias, .init = o->init,
                         .init_value = o->init_value};
    return conv_node(g, x, DC_OP_CONV2D, out_channels, name, &a);
}

dc_node dc_conv2d(dc_graph *g, dc_node x, int out_channels, int kernel, int stride, int pad, const char *name) {
    dc_conv2d_opts o = {.kh = kernel, .kw = kernel, .stride_h = stride, .stride_w = stride, .pad_h = pad, .pad_w = pad};
    return dc_conv2d_ex(g, x, out_channels, name, &o);
}

dc_node dc_conv_transpose2d_ex(dc_graph *g, dc_node x, int out_channels, const char *name,
                               const dc_conv_transpose2d_opts *o) {
    if (!o) return conv_node(g, x, DC_OP_CONV_TRANSPOSE2D, out_channels, name, NULL);
    const conv_args a = {.kh = o->kh, .kw = o->kw, .stride_h = o->stride_h, .stride_w = o->stride_w,
                         .pad_h = o->pad_h, .pad_w = o->pad_w, .output_pad_h = o->output_pad_h,
                         .output_pad_w = o->output_pad_w, .dilation_h = o->dilation_h,
                         .dilation_w = o->dilation_w, .groups = o->groups, .no_bias = o->no_bias, .init = o->init,
                         .init_value = o->init_value};
    return conv_node(g, x, DC_OP_CONV_TRANSPOSE2D, out_channels, name, &a);
}

dc_node dc_conv_transpose2d(dc_graph *g, dc_node x, int out_channels, int kernel, int stride, int pad,
                            const char *name) {
    dc_conv_transpose2d_opts o = {.kh = kernel, .kw = kernel, .stride_h = stride, .stride_w = stride, .pad_h = pad,
                                  .pad_w = pad};
    return dc_conv_transpose2d_ex(g, x, out_channels, name, &o);
}
