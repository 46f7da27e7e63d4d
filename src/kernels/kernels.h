/* kernels.h — the math of every op other than GEMM: plain C functions over float arrays.
 *
 * Conventions: n is an element count, rows×cols a row-major matrix.  Every *_backward ACCUMULATES
 * into its input gradient (dx += ...), so a value used twice gets the sum of both gradients; callers
 * zero gradients first.  Kernels never allocate; buffers a backward needs (masks, mean, rstd) are
 * passed in, named for their contents.  Each formula is given in a one-line comment.
 */
#ifndef DC_KERNELS_H
#define DC_KERNELS_H

#include "deepc.h"

/* y = max(x, 0);  dx += dy * (x > 0)                                   x,y,dx,dy: [n] */
void dc_relu_forward(int64_t n, const float *x, float *y);
void dc_relu_backward(int64_t n, const float *x, const float *dy, float *dx);
void dc_relu_backward_set(int64_t n, const float *x, const float *dy, float *dx); /* dx = ..., not += */
/* y = 1 / (1 + e^-x);  dx += dy * y * (1 - y)                          [n] */
void dc_sigmoid_forward(int64_t n, const float *x, float *y);     /* AVX2 exp where available */
void dc_sigmoid_forward_ref(int64_t n, const float *x, float *y); /* libm expf                */
void dc_sigmoid_backward(int64_t n, const float *y, const float *dy, float *dx);
/* y = tanh x;  dx += dy * (1 - y^2)                                    [n] */
void dc_tanh_forward(int64_t n, const float *x, float *y);
void dc_tanh_backward(int64_t n, const float *y, const float *dy, float *dx);
/* y = x + b (b broadcast over rows)                 x,y: [rows, cols], b: [cols] */
void dc_bias_add(int64_t rows, int64_t cols, const float *b, float *y);
/* db += sum over rows of dy                         dy: [rows, cols], db: [cols] */
void dc_bias_backward(int64_t rows, int64_t cols, const float *dy, float *db);
/* y = a + b;  da += dy, db += dy                                       [n] */
void dc_add_forward(int64_t n, const float *a, const float *b, float *y);
/* y = max(0, a + b), the ReLU op's max (NaN -> 0): an add and the ReLU after it in one pass     [n] */
void dc_add_relu_forward(int64_t n, const float *a, const float *b, float *y);
/* The backward of y = max(0, a + b) (y: that output) for both inputs in one pass: d = y > 0 ? dy : 0
 * (the ReLU op's backward), then da = d (assign_a) or da += d, the same for db; NULL skips one. */
void dc_add_relu_backward(int64_t n, const float *y, const float *dy, float *da, int assign_a, float *db,
                          int assign_b);
void dc_accumulate(int64_t n, const float *dy, float *dx);
void dc_copy(int64_t n, const float *src, float *dst);

/* Row softmax, max subtracted: y_ij = e^(x_ij - m_i) / sum_k e^(x_ik - m_i)      [rows, cols] */
void dc_softmax_forward(int64_t rows, int64_t cols, const float *x, float *y);
/* dx_ij += y_ij (dy_ij - sum_k dy_ik y_ik)                                       [rows, cols] */
void dc_softmax_backward(int64_t rows, int64_t cols, const float *y, const float *dy, float *dx);

/* Target encodings for the losses: labels [rows] as float class indices (t_cols == 1), or dense
 * targets [rows, cols] (t_cols == cols).  An index outside 0..cols-1 is an error (returns -1 from
 * the forward, which the graph reports). */
/* Softmax with cross-entropy.  Forward writes the probabilities to prob [rows, cols] and returns
 * L = -(1/rows) sum_i sum_j t'_ij log(p_ij)  (log-sum-exp form, finite for any finite logits),
 * with label smoothing eps: t' = (1 - eps) t + eps/cols  (eps = 0: the plain loss).
 * Backward: dx += scale * (p - t') / rows.                                                      */
double dc_softmax_ce_forward(int64_t rows, int64_t cols, const float *x, const float *t, int64_t t_cols,
                             float eps, float *prob, int *bad_label);
void dc_softmax_ce_backward(int64_t rows, int64_t cols, const float *prob, const float *t, int64_t t_cols,
                            float eps, float scale, float *dx);
/* Cross-entropy on probabilities: L = -(1/rows) sum t log(y + 1e-7);  dy += -scale t / (rows (y + 1e-7)) */
double dc_cross_entropy_forward(int64_t rows, int64_t cols, const float *y, const float *t, int64_t t_cols,
                                int *bad_label);
void dc_cross_entropy_backward(int64_t rows, int64_t cols, const float *y, const float *t, int64_t t_cols,
                               float scale, float *dy);
/* Mean squared error: L = (1/rows) 0.5 sum (y - t)^2;  dy += scale (y - t) / rows               */
double dc_mse_forward(int64_t rows, int64_t cols, const float *y, const float *t, int64_t t_cols,
                      int *bad_label);
void dc_mse_backward(int64_t rows, int64_t cols, const float *y, const float *t, int64_t t_cols, float scale,
                     float *dy);

/* Inverted dropout.  Forward (training) keeps element i with probability 1 - p:
 * mask_i = (u_i >= p) / (1 - p), y = x * mask, where u_i = dc_dropout_uniform(key, first + i) is a
 * hash of the element's index under a per-pass key (one draw of the graph's generator), so any
 * split of [0, n) over threads gives the same mask.  Backward dx += dy * mask.          [n] */
float dc_dropout_uniform(uint64_t key, int64_t index);
void dc_dropout_forward(int64_t n, float p, uint64_t key, int64_t first, const float *x, float *mask, float *y);
void dc_dropout_backward(int64_t n, const float *mask, const float *dy, float *dx);
void dc_dropout_backward_set(int64_t n, const float *mask, const float *dy, float *dx); /* dx = dy * mask */

/* BatchNorm over channel axis C of x [N, C, S] (S = product of spatial dims, 1 for [N, C]); each
 * call handles channels [c0, c1) (so threads can split the channels).
 * Training: mean_c, var_c over N*S values; xhat = (x - mean) * rstd, rstd = 1/sqrt(var + eps);
 *   y = gamma*xhat + beta; running = (1-momentum) running + momentum * batch (variance unbiased).
 * Saves mean [C] and rstd [C] for backward.  relu: y = max(0, .) as the ReLU op computes it (a
 * BatchNorm -> ReLU pair in one pass, see graph.c).  Eval: uses running_mean/running_var.       */
void dc_batchnorm_forward_train(int64_t N, int64_t C, int64_t S, int64_t c0, int64_t c1, const float *x,
                                const float *gamma,
                                const float *beta, float eps, float momentum, float *running_mean,
                                float *running_var, float *mean, float *rstd, int relu, float *y);
void dc_batchnorm_forward_eval(int64_t N, int64_t C, int64_t S, int64_t c0, int64_t c1, const float *x,
                               const float *gamma,
                               const float *beta, float eps, const float *running_mean,
                               const float *running_var, float *y);
/* dgamma += sum dy xhat; dbeta += sum dy;
 * dx += gamma rstd / M (M dy - sum dy - xhat sum(dy xhat)), M = N*S (dx = ... when !accumulate).
 * relu_beta (NULL: none): the norm's beta, when dy is the gradient of a ReLU after the norm: each
 * dy is taken as 0 where the norm's output (recomputed from x as the forward computed it) is not
 * positive, the ReLU's backward, so the result equals the two ops' bit for bit.                 */
void dc_batchnorm_backward(int64_t N, int64_t C, int64_t S, int64_t c0, int64_t c1, const float *x,
                           const float *gamma,
                           const float *mean, const float *rstd, const float *dy, const float *relu_beta,
                           float *dx, int accumulate, float *dgamma, float *dbeta);
/* The plain versions of the two training passes; the ones above run an AVX-512 variant where the
 * processor has it (other summation lanes, so other rounding; the tests compare them). */
void dc_batchnorm_forward_train_ref(int64_t N, int64_t C, int64_t S, int64_t c0, int64_t c1, const float *x,
                                    const float *gamma, const float *beta, float eps, float momentum,
                                    float *running_mean, float *running_var, float *mean, float *rstd, int relu,
                                    float *y);
void dc_batchnorm_backward_ref(int64_t N, int64_t C, int64_t S, int64_t c0, int64_t c1, const float *x,
                               const float *gamma, const float *mean, const float *rstd, const float *dy,
                               const float *relu_beta, float *dx, int accumulate, float *dgamma, float *dbeta);

#endif
