/* convolutionalize.h — VGG's "dense evaluation" (Simonyan & Zisserman 2014, sec. 3.2): turn a trained
 * classifier whose head is flatten -> Linear -> ... -> Linear into a fully convolutional graph for a
 * larger input, so that one forward pass gives a class-score map [classes, OH, OW] instead of one
 * score vector; plus the small inference helpers `deepc predict` uses (softmax + top-k).
 * Not part of the public API yet (see the report for what moves to deepc.h). */
#ifndef DC_MODELS_CONVOLUTIONALIZE_H
#define DC_MODELS_CONVOLUTIONALIZE_H

#include "deepc.h"

typedef struct dc_dense_graph {
    dc_graph *g;           /* planned, parameters copied from the trained graph; caller frees (dc_dense_graph_free) */
    dc_node input;         /* "images": [C, in_h, in_w]                                               */
    dc_node scores;        /* the class-score map [classes, OH, OW] (logits, before softmax)          */
    int classes, map_h, map_w;
    /* Input pixels between neighbouring map positions (the product of the conv/pool strides before
     * the classifier); 0 when a global pooling made the map independent of position.             */
    int stride_h, stride_w;
} dc_dense_graph;

/* Build the dense version of `trained` (planned, e.g. loaded from a checkpoint) for [C, in_h, in_w]
 * inputs.  Only the ancestors of `trained_logits` are rebuilt, node by node, with the same names and
 * attributes, and every parameter is copied:
 *   - the first Linear after the feature maps (behind a flatten, or applied to a [C, h, w] node
 *     directly) becomes a convolution with an h x w kernel: Linear W [C*h*w, out] in NCHW flatten
 *     order -> conv weight [out, C, h, w], w_conv[o][c][y][x] = W[(c*h + y)*w + x][o];
 *   - every later Linear [in, out] becomes a 1x1 convolution [out, in, 1, 1];
 *   - Dropout is dropped (the identity at inference); ReLU/sigmoid/tanh, BatchNorm (per channel =
 *     per feature) and add carry over; conv, pooling, LRN, concat and global average pooling are
 *     rebuilt for the larger maps.
 * Refused with DC_ERR_ARG and the node named: softmax or losses on the path (pass the logits), a
 * BatchNorm or reshape between the flatten and the first Linear, a head without Linear layers, an
 * input that is not [C, h, w], an input smaller than the trained one.  The new graph is planned for
 * max_batch examples with opts (pool; seed and init are irrelevant since every parameter is copied);
 * max_batch 0 only builds it (shapes, map size and stride known; no parameters, not runnable).
 * With in_h x in_w equal to the trained size, the map is [classes, 1, 1] and equals the logits. */
dc_status dc_convolutionalize(const dc_graph *trained, dc_node trained_logits, int in_h, int in_w, int64_t max_batch,
                              const dc_graph_opts *opts, dc_dense_graph *out);
void dc_dense_graph_free(dc_dense_graph *d);

/* Softmax of logits[0..n) (max subtracted first; computed in double) into probs[0..n). */
void dc_softmax_probs(const float *logits, int n, float *probs);
/* The k most probable classes in descending probability (ties: lower index first): idx[0..k) and
 * prob[0..k) (softmax of the logits).  k is clamped to n; returns the number written. */
int dc_topk(const float *logits, int n, int k, int *idx, float *prob);

#endif
