/* pool.h — kernels of the pooling and local-response-normalisation ops: plain C over float arrays.
 *
 * Conventions as in kernels.h: every *_backward ACCUMULATES into the input gradient (dx += ...);
 * kernels never allocate and never spawn threads.  They work on a range of independent [H, W]
 * planes (one plane = one (example, channel) pair), so the graph glue parallelises by handing each
 * thread a contiguous range of planes; results do not depend on how the planes are split.
 */
#ifndef DC_KERNELS_POOL_H
#define DC_KERNELS_POOL_H

#include "deepc.h"

/* Geometry of a 2-D pooling window, PyTorch's conventions: output (oh, ow) covers input rows
 * [oh*sh - ph, oh*sh - ph + kh) and columns likewise; rows/columns outside [0, H) are padding. */
typedef struct dc_pool2d_geom {
    int64_t H, W, OH, OW;   /* input and output plane sizes                               */
    int kh, kw, sh, sw, ph, pw;
    int count_include_pad;  /* average pooling: divide by the window clipped to the padded
                               input [-p, H + p) (1) or by the real elements in it (0)      */
} dc_pool2d_geom;

/* Output length of one axis: floor((in + 2p - k)/s) + 1, or rounded up with ceil_mode, where a
 * rounded-up last window must start inside the input or its left padding (PyTorch: if
 * (out-1)*s >= in + p then out--).  Returns 0 when the window does not fit in the padded input. */
int64_t dc_pool_out_size(int64_t in, int k, int s, int p, int ceil_mode);

/* Max pooling over `planes` planes x [planes, H, W] -> y [planes, OH, OW].  Padding counts as -inf,
 * ties keep the first maximum (row-major), NaN propagates (as PyTorch).  argmax [planes, OH, OW]
 * receives the index h*W + w of the winner inside its plane.
 *   y = max over the window;  dx[argmax] += dy                                                   */
void dc_maxpool2d_forward(const dc_pool2d_geom *geo, int64_t planes, const float *x, float *y, int32_t *argmax);
/* The same, one window at a time with bounds checks: the reference the fast paths are tested against. */
void dc_maxpool2d_forward_ref(const dc_pool2d_geom *geo, int64_t planes, const float *x, float *y, int32_t *argmax);
void dc_maxpool2d_backward(const dc_pool2d_geom *geo, int64_t planes, const int32_t *argmax, const float *dy,
                           float *dx);

/* Average pooling x [planes, H, W] -> y [planes, OH, OW]:
 *   y = sum over the window / d;  dx[window] += dy / d,
 * d = window area clipped to [-p, H+p) x [-p, W+p) (count_include_pad) or real elements in it. */
void dc_avgpool2d_forward(const dc_pool2d_geom *geo, int64_t planes, const float *x, float *y);
void dc_avgpool2d_backward(const dc_pool2d_geom *geo, int64_t planes, const float *dy, float *dx);

/* Global average pooling x [planes, hw] -> y [planes]:  y = mean(x);  dx += dy / hw             */
void dc_global_avgpool_forward(int64_t planes, int64_t hw, const float *x, float *y);
void dc_global_avgpool_backward(int64_t planes, int64_t hw, const float *dy, float *dx);

/* Local response normalisation across channels of ONE example x [C, S] (S = H*W), for output
 * channels [c0, c1) only (so threads can split the channels):
 *   s_c = k + alpha/size * sum_{j=c-size/2}^{c+(size-1)/2} x_j^2   (zero outside 0..C-1)
 *   y_c = x_c * s_c^-beta
 * Saves pw_c = s_c^-beta and inv_c = 1/s_c ([C, S] each) for backward.  Needs s_c > 0.        */
void dc_lrn_forward(int64_t C, int64_t S, int64_t c0, int64_t c1, int size, float alpha, float beta, float k,
                    const float *x, float *y, float *pw, float *inv);
/* Exact derivative, for input channels [j0, j1) of one example:
 *   dx_j += dy_j pw_j - (2 alpha beta / size) x_j sum_{c: j in window(c)} dy_c y_c inv_c
 * (dx_j = ... when !accumulate).                                                                */
void dc_lrn_backward(int64_t C, int64_t S, int64_t j0, int64_t j1, int size, float alpha, float beta,
                     const float *x, const float *y, const float *pw, const float *inv, const float *dy,
                     float *dx, int accumulate);

#endif
