/* pool_layers.c — STUB, being written. */
#include "graph/graph.h"
dc_node dc_maxpool2d_ex(dc_graph *g, dc_node x, const dc_pool2d_opts *o) { return dc_graph_fail(g, DC_ERR_STATE, "not implemented yet"); }
dc_node dc_maxpool2d(dc_graph *g, dc_node x, int kernel, int stride) { return dc_graph_fail(g, DC_ERR_STATE, "not implemented yet"); }
dc_node dc_avgpool2d_ex(dc_graph *g, dc_node x, const dc_pool2d_opts *o) { return dc_graph_fail(g, DC_ERR_STATE, "not implemented yet"); }
dc_node dc_avgpool2d(dc_graph *g, dc_node x, int kernel, int stride) { return dc_graph_fail(g, DC_ERR_STATE, "not implemented yet"); }
dc_node dc_global_avgpool(dc_graph *g, dc_node x) { return dc_graph_fail(g, DC_ERR_STATE, "not implemented yet"); }
dc_node dc_lrn(dc_graph *g, dc_node x, int size, float alpha, float beta, float k) { return dc_graph_fail(g, DC_ERR_STATE, "not implemented yet"); }
dc_node dc_concat(dc_graph *g, const dc_node *xs, int n) { return dc_graph_fail(g, DC_ERR_STATE, "not implemented yet"); }
