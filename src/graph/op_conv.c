/* op_conv.c — STUB, being written: returns 'not implemented'. */
#include "graph/graph.h"

dc_status dc_op_conv2d_infer(dc_graph *g, dc_node_rec *n) { return DC_ERR(DC_ERR_STATE, "%s: conv2d not implemented yet", n->name); }
int64_t dc_op_conv2d_saved(const dc_graph *g, const dc_node_rec *n, int64_t batch) { return 0; }
dc_status dc_op_conv2d_forward(dc_graph *g, dc_node_rec *n, int64_t batch, int train) { return DC_ERR(DC_ERR_STATE, "not implemented"); }
void dc_op_conv2d_backward(dc_graph *g, dc_node_rec *n, int64_t batch) {}
int64_t dc_op_conv2d_flops(const dc_graph *g, const dc_node_rec *n) { return 0; }
int64_t dc_op_conv2d_workspace(const dc_graph *g, const dc_node_rec *n, int64_t batch) { return 0; }
