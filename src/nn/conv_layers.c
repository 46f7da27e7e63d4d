/* conv_layers.c — STUB, being written. */
#include "graph/graph.h"
dc_node dc_conv2d_ex(dc_graph *g, dc_node x, int out_channels, const char *name, const dc_conv2d_opts *o) {
    return dc_graph_fail(g, DC_ERR_STATE, "conv2d not implemented yet");
}
dc_node dc_conv2d(dc_graph *g, dc_node x, int out_channels, int kernel, int stride, int pad, const char *name) {
    dc_conv2d_opts o = {.kh = kernel, .kw = kernel, .stride_h = stride, .stride_w = stride, .pad_h = pad, .pad_w = pad};
    return dc_conv2d_ex(g, x, out_channels, name, &o);
}
