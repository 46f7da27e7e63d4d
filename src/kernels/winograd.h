/* winograd.h — Winograd minimal-filtering convolution (Lavin & Gray 2015, "Fast Algorithms for
 * Convolutional Neural Networks") for 3x3, stride-1, dilation-1, ungrouped layers:
 * F(4x4, 3x3) (tiles of alpha = 6) and F(2x2, 3x3) (alpha = 4).  For each tile t of m x m outputs
 * (its input patch d_t is alpha x alpha, starting m*tile - padding), per input channel c and output
 * channel o:
 *   V[xi][c][t] = (Bᵀ d_{c,t} B)[xi]              input transform       (xi = i*alpha + j < alpha²)
 *   U[xi][o][c] = (G g_{o,c} Gᵀ)[xi]              kernel transform      (g: the 3x3 filter)
 *   M[xi]       = U[xi] · V[xi]                   one GEMM per xi: [OC][C] · [C][tiles]
 *   y_{o,t}     = Aᵀ M_{o,t} A  (cropped to the output, + bias)         output transform
 * Backward: dX is the same forward applied to dy with the spatially flipped, transposed filter and
 * padding 2 - p (see op_conv.c's flip_geom); dW runs the forward's relations backwards (their
 * adjoints, exact for a linear map):
 *   dM[xi][o][t] = (A dY_{o,t} Aᵀ)[xi]    dU[xi] = sum over tiles of dM[xi] · V[xi]ᵀ    dW += Gᵀ dU G
 * Multiplications per output and channel pair: 36/16 = 2.25 for F(4x4) and 16/4 = 4 for F(2x2),
 * against 9 directly.  The price is float rounding a little above the direct sum (measured and
 * bounded in tests/test_winograd.c).
 *
 * Layout: the transforms work on zero-padded copies of the planes (dc_wino_pad / dc_wino_pad_dy), so
 * every patch is a plain window with no bounds checks; tiles are numbered t = (n*th + ty)*tw + tx over
 * the images of a chunk, and V/M hold one row of tiles per (xi, channel): element (xi, c, t) at
 * v[xi*xs + c*ld + t].  The vector (AVX2) transforms take 8 tiles at a time and write or read up to
 * round8(tiles) columns, so ld >= round8(tiles); the lanes past the last tile repeat the last tile.
 * Each transform has a plain scalar version (always compiled, used when w->scalar is set or the CPU
 * lacks AVX2/FMA) that the tests compare against.
 * The drivers (dc_wino_forward, dc_wino_dw) run the transforms and deepc's GEMM on the pool of the
 * GEMM context, over fixed chunks of images, in a caller-supplied workspace (no allocation).
 * Results do not depend on the thread count: every output element is computed by one thread with
 * one fixed sequence of operations, and dW's sum over the batch runs over chunks fixed by the shapes. */
#ifndef DC_KERNELS_WINOGRAD_H
#define DC_KERNELS_WINOGRAD_H

#include "deepc.h"
#include "kernels/conv.h"
#include "kernels/gemm.h"

typedef struct dc_wino {
    int m, alpha;                /* F(m x m, 3x3): m = 4 (alpha 6) or 2 (alpha 4)                    */
    int scalar;                  /* 1: the plain scalar transforms (else AVX2/FMA where the CPU has it) */
    int ph, pw;                  /* zero padding of the input                                          */
    int64_t N, C, H, W, OC, OH, OW;
    int64_t th, tw, tpi;         /* tiles down, across, and per image: ceil(OH/m), ceil(OW/m), th*tw     */
    int64_t Hp, Wp, Sp;          /* padded input planes: rows, row length, floats per plane (+ slack)  */
    int64_t Hd, Wd, Sd;          /* padded dy planes for dW: th*m x tw*m (+ slack)                      */
    int64_t imgs, ld;            /* forward: images per chunk; ld of its V and M (>= round16(tiles))    */
    int64_t dw_imgs, dw_ld;      /* dW: the same, fixed by the shapes alone (the batch sum's chunks)    */
    int64_t us;                  /* floats between the alpha² blocks of U and dU (OC*C, spread apart)   */
    int nt;                      /* threads the workspace was sized for                                */
} dc_wino;

/* 3x3, stride 1, dilation 1, one group: the geometries these kernels compute. */
int dc_wino_ok(const dc_conv_geom *g);
/* The m (4 or 2) with fewer multiplications for this output size: tiles * alpha². */
int dc_wino_pick_m(const dc_conv_geom *g);
/* Fill w for the geometry g (dc_wino_ok), tile size m, batch N, and nthreads threads (which sizes the
 * forward's chunks and workspace only; results do not depend on it). */
void dc_wino_init(dc_wino *w, const dc_conv_geom *g, int m, int64_t N, int nthreads, int scalar);

/* ---- the transforms (no threads, no allocation; callers split the ranges) */
/* xp[i][..] = plane (n0 + i, c) of x [N][C][H][W], zero-padded: row r + ph, column s + pw hold
 * x[n0+i][c][r][s]; Hp x Wp, then zeros up to Sp.  i < nimg. */
void dc_wino_pad(const dc_wino *w, const float *x, int64_t n0, int64_t nimg, int64_t c, float *xp);
/* dp[i][..] = plane (n0 + i, o) of dy [N][OC][OH][OW] in Hd x Wd planes, zeros right and below. */
void dc_wino_pad_dy(const dc_wino *w, const float *dy, int64_t n0, int64_t nimg, int64_t o, float *dp);
/* Input transform of one channel's planes xp [nimg][Sp]:  v[xi*xs + t] = (Bᵀ d_t B)[xi], t < nimg*tpi. */
void dc_wino_input(const dc_wino *w, int64_t nimg, const float *xp, float *v, int64_t xs);
/* The same into the GEMM's packed-B layout (kernels/gemm.h): v[xi*xs + (t/16)*pstride + t%16], i.e.
 * with v = V + c*16 and pstride = C*16, block xi of V is ready for dc_gemm_prepacked_b_st. */
void dc_wino_input_panels(const dc_wino *w, int64_t nimg, const float *xp, float *v, int64_t xs, int64_t pstride);
/* Output transform of one output channel: mv[xi*xs + t] are its M values;
 *   y[n*ys + (ty*m + u)*OW + tx*m + s]  = (Aᵀ M_t A)[u][s] + b        (flags without DC_CONV_ACC)
 *                                      += (Aᵀ M_t A)[u][s]            (DC_CONV_ACC; b ignored)
 * then max(0, .) with DC_CONV_RELU (kernels/conv.h), for the tiles t of images n < nimg and the
 * positions inside OH x OW.  y: channel o of image n0. */
void dc_wino_output(const dc_wino *w, int64_t nimg, const float *mv, int64_t xs, float b, int flags, float *y,
                    int64_t ys);
/* The adjoint of the output transform, for dW: dm[xi*xs + t] = (A dY_t Aᵀ)[xi] from dp [nimg][Sd]. */
void dc_wino_output_adj(const dc_wino *w, int64_t nimg, const float *dp, float *dm, int64_t xs);
/* Kernel transform for rows r in [r0, r1) of U [alpha²][OC][C] (w's OC and C; block xi at U + xi*w->us):
 *   U[xi][r][s] = (G k_{r,s} Gᵀ)[xi],   s < C, where
 *   flip == 0:  k_{r,s}[a][b] = wt[r][s][a][b]          wt: [OC][C][3][3], w's own filter
 *   flip != 0:  k_{r,s}[a][b] = wt[s][r][2-a][2-b]      wt: [C][OC][3][3]: w is dX's convolution and
 *               wt the forward layer's filter (its output channels are w's input channels). */
void dc_wino_kernel(const dc_wino *w, const float *wt, int flip, int64_t r0, int64_t r1, float *U);
/* The adjoint of the kernel transform, for output channels o in [o0, o1):
 *   dwt[o][c][a][b] += (Gᵀ dU_{o,c} G)[a][b],   dU: [alpha²][OC][C] (blocks w->us apart). */
void dc_wino_kernel_adj(const dc_wino *w, const float *dU, int64_t o0, int64_t o1, float *dwt);

/* ---- drivers: threads from dc_gemm_ctx_pool(gemm), scratch from `work` (64-byte aligned, at least
 * the workspace functions' floats for the same w) */
int64_t dc_wino_forward_workspace(const dc_wino *w);
/* y = conv(x, wt) + b (b may be NULL), or y += conv(x, wt) with DC_CONV_ACC (b ignored), then
 * max(0, .) with DC_CONV_RELU; x [N][C][H][W], y [N][OC][OH][OW]; wt as for dc_wino_kernel (flip: dX
 * of a layer with filter wt). */
void dc_wino_forward(dc_gemm_ctx *gemm, const dc_wino *w, const float *x, const float *wt, int flip, const float *b,
                     int flags, float *y, float *work);
int64_t dc_wino_dw_workspace(const dc_wino *w);
/* dwt [OC][C][3][3] += dW of the convolution w:  sum over n, i, j of dy[n][o][i][j] * x[n][c][i-ph+a][j-pw+b]. */
void dc_wino_dw(dc_gemm_ctx *gemm, const dc_wino *w, const float *x, const float *dy, float *dwt, float *work);

#endif
