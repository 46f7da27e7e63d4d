/* graph.h — internals of the DAG shared by the graph executor (graph.c), the op table (ops.c)
 * and the layer builders in nn/.  Not part of the public API. */
#ifndef DC_GRAPH_INTERNAL_H
#define DC_GRAPH_INTERNAL_H

#include "deepc.h"
#include "kernels/gemm.h"

#define DC_MAX_INPUTS 8
#define DC_NAME_MAX 64

typedef enum dc_op {
    DC_OP_INPUT = 0,
    DC_OP_LINEAR,
    DC_OP_RELU,
    DC_OP_SIGMOID,
    DC_OP_TANH,
    DC_OP_SOFTMAX,
    DC_OP_DROPOUT,
    DC_OP_BATCHNORM,
    DC_OP_ADD,
    DC_OP_RESHAPE,
    DC_OP_SOFTMAX_CE,
    DC_OP_CROSS_ENTROPY,
    DC_OP_MSE,
    DC_OP_CONV2D,
    DC_OP_MAXPOOL2D,
    DC_OP_AVGPOOL2D,
    DC_OP_GLOBAL_AVGPOOL,
    DC_OP_LRN,
    DC_OP_CONCAT,
    DC_OP_LOSS_SUM,
    DC_OP_ROI_POOL,
    DC_OP_ROI_ALIGN,
    DC_OP_YOLO_LOSS,
    DC_OP_CHANNELS_LAST,
    DC_OP_SIGMOID_BCE,
    DC_OP_SMOOTH_L1,
    DC_OP_CONV_TRANSPOSE2D,
    DC_OP_COUNT
} dc_op;

typedef struct dc_node_rec {
    dc_op op;
    char name[DC_NAME_MAX];
    int in[DC_MAX_INPUTS];
    int n_in;
    dc_shape shape;       /* sample shape (no batch axis)                                   */
    int scalar;           /* 1 for losses: one value per batch, not one per example           */
    int param0, n_params; /* this node's parameters: g->params[param0 .. param0+n_params)      */
    int needs_grad;       /* some parameter upstream: backward must reach this node            */
    /* attributes */
    int64_t units;        /* Linear: out features                                              */
    dc_init init;         /* Linear: requested initialisation                                  */
    float init_value;
    float p;              /* Dropout probability                                               */
    float eps, momentum;  /* BatchNorm                                                         */
    /* Conv2d / pooling geometry: kernel, stride, padding, dilation, groups, pooling modes     */
    int kh, kw, sh, sw, ph, pw, dh, dw, groups, ceil_mode, count_include_pad;
    int oph, opw;         /* ConvTranspose2d: output padding                                   */
    int lrn_size;         /* LRN                                                               */
    float lrn_alpha, lrn_beta, lrn_k;
    float weights[DC_MAX_INPUTS]; /* loss_sum: weight of each input loss                        */
    float spatial_scale;  /* RoI pool/align (output bins in kh x kw)                            */
    int sampling_ratio, aligned;  /* RoIAlign                                                  */
    int yolo_s, yolo_b, yolo_c, yolo_conf_one, yolo_cls_ce; /* YOLO v1 loss: grid, boxes, classes, target C,
                                                          softmax cross-entropy class term */
    float yolo_lcoord, yolo_lnoobj;
    /* Leading dimension ("rows", docs/architecture.md): rows_of = -1 for the image batch, else the
     * index of the rows input (dc_input_rows) whose run-time count this node's leading dim is.   */
    int rows_of;
    int64_t rows, max_rows; /* rows inputs only: current count (0: not set yet) and planned max  */
    int mixes_rows;       /* set by infer: inputs may have different leading dims (RoI ops)      */
    /* planned buffers (views into the graph's arenas) */
    float *out, *grad, *saved;
    int64_t saved_floats;
    int aliases_input;    /* Reshape: out/grad are input 0's                                    */
    int grad_from;        /* backward step (node index) before which grad is zeroed: the last
                             consumer's index, or n_nodes when nothing consumes the node         */
    int grad_assign;      /* 1: the only consumer writes this gradient with = (dc_op_assigns_grad),
                             so it is not zeroed; its backward must then write every element   */
    /* Inference fusion (dc_graph_set_fusion; planned by dc_graph_plan): a convolution (or an add)
     * whose only consumer is a batch norm and/or a ReLU computes their output itself.           */
    int fuse_bn, fuse_relu; /* heads: the folded BatchNorm node, the fused ReLU node, or -1         */
    int fuse_add;         /* conv heads: the add after it (and its norm) whose other input is ready
                             before the conv runs, or -1                                          */
    int64_t fused_pass;   /* tails: the forward pass (dc_graph.pass) in which the head did their work */
    /* Training fusion (also dc_graph_set_fusion): a BatchNorm or an add whose only consumer is a
     * ReLU writes the ReLU's output in training passes too, and its backward takes the ReLU's
     * gradient masked by that output (the ReLU's own steps are skipped).                        */
    int train_relu;       /* heads (BatchNorm, add): the ReLU fused in training passes, or -1     */
    int train_head;       /* that ReLU: its head, or -1                                           */
    int relu_fused;       /* heads: 1 when their last forward wrote the ReLU's output             */
    double loss;          /* losses: mean loss of the last forward                              */
    double t_fwd, t_bwd;  /* profiling: accumulated seconds                                     */
} dc_node_rec;

typedef struct dc_param_rec {
    dc_param pub;         /* name, shape, data, grad, numel, decay, trainable                  */
    char name[DC_NAME_MAX + 32];
    int node;
    dc_init init;
    float init_value;
    int64_t fan_in;
} dc_param_rec;

struct dc_graph {
    dc_node_rec *nodes;
    int n_nodes, cap_nodes;
    dc_param_rec *params;
    dc_param *pub_params; /* contiguous copy of params[i].pub for dc_graph_params             */
    int n_params, cap_params;
    dc_status error;      /* first build error                                                 */
    char error_msg[1024];
    /* planning */
    int64_t max_batch, batch;
    int planned, params_ready, nan_check, profile;
    dc_arena act, grads;
    float *param_block, *grad_block;
    int64_t param_floats;
    unsigned char *marks; /* per node scratch for backward reachability                         */
    int *zero_order;      /* nodes with their own gradient buffer, by grad_from descending        */
    int n_zero;
    dc_pool *pool;
    dc_gemm_ctx *gemm;
    float *work;          /* the shared workspace (see dc_op_def.workspace)                    */
    int64_t work_floats;
    dc_rng rng;           /* dropout draws                                                     */
    float weight_decay;
    int train;
    int fuse;             /* dc_graph_set_fusion: DC_FUSION_INFERENCE | DC_FUSION_TRAINING      */
    int64_t pass;         /* forward passes run (tails of fused heads compare it, see fused_pass) */
    float *fold;          /* folded filter and bias of the fused convolution running now        */
    int64_t fold_floats;
};

/* Op table entry: one line per op in ops.c. */
typedef struct dc_op_def {
    const char *name;
    /* Validate inputs, set node->shape / scalar; NULL message-free ok.                           */
    dc_status (*infer)(dc_graph *g, dc_node_rec *n);
    /* Floats of the `saved` buffer for a batch (masks, probabilities, statistics).               */
    int64_t (*saved)(const dc_graph *g, const dc_node_rec *n, int64_t batch);
    dc_status (*forward)(dc_graph *g, dc_node_rec *n, int64_t batch, int train);
    void (*backward)(dc_graph *g, dc_node_rec *n, int64_t batch);
    /* Multiply-adds x2 per example, for the summary (NULL: element-wise, counted as 0).          */
    int64_t (*flops)(const dc_graph *g, const dc_node_rec *n);
    /* Floats of scratch space needed during forward or backward (im2col columns); the graph keeps
     * one workspace sized for the largest, shared by all nodes (they run one at a time).        */
    int64_t (*workspace)(const dc_graph *g, const dc_node_rec *n, int64_t batch);
} dc_op_def;

/* The ops implemented in their own files (src/graph/op_*.c). */
#define DC_DECLARE_OP(name)                                                                      \
    dc_status dc_op_##name##_infer(dc_graph *g, dc_node_rec *n);                                 \
    int64_t dc_op_##name##_saved(const dc_graph *g, const dc_node_rec *n, int64_t batch);       \
    dc_status dc_op_##name##_forward(dc_graph *g, dc_node_rec *n, int64_t batch, int train);     \
    void dc_op_##name##_backward(dc_graph *g, dc_node_rec *n, int64_t batch);                    \
    int64_t dc_op_##name##_flops(const dc_graph *g, const dc_node_rec *n);                      \
    int64_t dc_op_##name##_workspace(const dc_graph *g, const dc_node_rec *n, int64_t batch);
DC_DECLARE_OP(conv2d)
DC_DECLARE_OP(conv_transpose2d)
DC_DECLARE_OP(maxpool2d)
DC_DECLARE_OP(avgpool2d)
DC_DECLARE_OP(global_avgpool)
DC_DECLARE_OP(lrn)
DC_DECLARE_OP(concat)
DC_DECLARE_OP(roi_pool)
DC_DECLARE_OP(roi_align)
DC_DECLARE_OP(yolo_loss)
DC_DECLARE_OP(channels_last)
DC_DECLARE_OP(sigmoid_bce)
DC_DECLARE_OP(smooth_l1)
#define DC_OP_ENTRY(str, name)                                                                   \
    {str, dc_op_##name##_infer, dc_op_##name##_saved, dc_op_##name##_forward,                    \
     dc_op_##name##_backward, dc_op_##name##_flops, dc_op_##name##_workspace}
extern const dc_op_def dc_op_table[DC_OP_COUNT];
/* 1 for the ops whose backward honours dc_node_rec.grad_assign of their inputs: they write such an
 * input's gradient (every element) instead of adding to it, which spares the graph zeroing the
 * buffer and the op reading it (pooling, which scatters, zeroes its own planes just before).  The
 * others always add, into a zeroed buffer. */
int dc_op_assigns_grad(dc_op op);

/* Inference fusion: bn (may be NULL) folded into conv node n's parameters, the residual `add` (may
 * be NULL: the other input of a fused add) added, and max(0, .) when relu, written to y (the last
 * fused node's output); see graph.c.  The folded parameters live in g->fold,
 * grown by dc_graph_fold_buffer. */
dc_status dc_conv2d_forward_fused(dc_graph *g, dc_node_rec *n, int64_t batch, const dc_node_rec *bn, int relu,
                                  const float *add, float *y);
dc_status dc_add_relu_forward_fused(dc_graph *g, dc_node_rec *n, int64_t batch, float *y);
dc_status dc_batchnorm_relu_forward_train(dc_graph *g, dc_node_rec *n, int64_t batch, float *y);
/* The ReLU whose work head n took over in the last forward (training fusion), or NULL. */
static inline const dc_node_rec *dc_fused_relu(const dc_graph *g, const dc_node_rec *n) {
    return n->train_relu >= 0 && n->relu_fused ? &g->nodes[n->train_relu] : NULL;
}
dc_status dc_graph_fold_buffer(dc_graph *g, int64_t floats);

/* Builder internals used by nn/. */
dc_node dc_graph_add_node(dc_graph *g, dc_op op, const dc_node *inputs, int n_in, const char *name,
                          const char *default_prefix);
/* Adds a parameter owned by node (call between add_node and finish_node). Returns index or -1. */
int dc_graph_add_param(dc_graph *g, dc_node node, const char *suffix, dc_shape shape, dc_init init,
                       float init_value, int64_t fan_in, int decay, int trainable);
/* Runs the op's shape inference; on failure poisons the graph and returns DC_NONE. */
dc_node dc_graph_finish_node(dc_graph *g, dc_node node);
/* Record a build error (first one wins) and return DC_NONE. */
dc_node dc_graph_fail(dc_graph *g, dc_status code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The initialisation a parameter gets (DC_INIT_DEFAULT resolved by the following activation). */
dc_init dc_graph_resolved_init(const dc_graph *g, const dc_param_rec *p);
int dc_graph_check_node(dc_graph *g, dc_node n, const char *what);
/* "the image batch" or "the rows of 'rois'" for error messages; returns buf. */
char *dc_graph_rows_str(const dc_graph *g, int rows_of, char *buf, size_t n);

static inline dc_node_rec *dc_in(dc_graph *g, const dc_node_rec *n, int i) { return &g->nodes[n->in[i]]; }
static inline int64_t dc_sample_numel(const dc_node_rec *n) { return dc_shape_numel(n->shape); }
/* The leading dimension of node n when the image batch is `batch` (see rows_of), and its maximum
 * when the planned batch is `max_batch`. */
static inline int64_t dc_node_rows(const dc_graph *g, const dc_node_rec *n, int64_t batch) {
    return n->rows_of < 0 ? batch : g->nodes[n->rows_of].rows;
}
static inline int64_t dc_node_max_rows(const dc_graph *g, const dc_node_rec *n, int64_t max_batch) {
    return n->rows_of < 0 ? max_batch : g->nodes[n->rows_of].max_rows;
}
static inline float *dc_pdata(dc_graph *g, const dc_node_rec *n, int i) { return g->params[n->param0 + i].pub.data; }
static inline float *dc_pgrad(dc_graph *g, const dc_node_rec *n, int i) { return g->params[n->param0 + i].pub.grad; }

#endif
