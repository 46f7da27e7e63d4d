/* winograd_cb.h — Winograd F(4x4, 3x3) with the channels in the vector lanes ("channel-blocked"),
 * for 3x3 stride-1 layers with few channels (C and OC multiples of 16, at most 64) on processors with
 * AVX-512F.  The same relations as winograd.h (Lavin & Gray 2015):
 *   V[xi][t][c] = (Bᵀ d_{c,t} B)[xi]     U[xi][c][o] = (G g_{o,c} Gᵀ)[xi]
 *   M[xi][t][o] = sum_c V[xi][t][c] U[xi][c][o]        y_{o,t} = Aᵀ M_{o,t} A  (+ bias)
 * but laid out so that every transform is plain vector arithmetic on 16 channels at once, with no
 * transposes per tile: the input planes of a chunk of images are first copied into a zero-padded
 * pixel-major copy xb [image][C/16][Hp][Wp][16] (one 16x16 transpose per 16 pixels x 16 channels),
 * the input transform reads each tile's 6x6 patch as 36 vectors of 16 channels, the GEMM of each
 * position xi broadcasts V's scalars against 16-output-channel rows of U (a register block of R tiles
 * x B vectors), and the output transform turns each tile's 36 vectors of M into 16 pixels x 16
 * output channels, written to NCHW through 4x4 transposes and masked 4-float stores.
 * Why: with 16-64 channels the GEMM of winograd.c has depth C = 16-64 and its transforms (8 tiles per
 * vector, gathered and transposed patch by patch) cost as much as the multiply-adds; here they cost
 * a fraction of them (docs/benchmarks.md).  Larger layers stay on winograd.c, whose GEMMs amortise U
 * over many tiles; U here is read once per chunk and must stay in L2 (36 x C x OC floats).
 * Results do not depend on the thread count or the chunks: each output is one tile's transforms and
 * one fixed-order sum over c, computed by one thread.  The rounding differs from winograd.c's (other
 * factorisations of the transforms), within the same bounds (tests/test_winograd.c). */
#ifndef DC_KERNELS_WINOGRAD_CB_H
#define DC_KERNELS_WINOGRAD_CB_H

#include "deepc.h"
#include "kernels/conv.h"

typedef struct dc_wcb {
    int64_t N, C, H, W, OC, OH, OW;
    int ph, pw;
    int64_t th, tw, tpi; /* tiles down, across and per image: ceil(OH/4), ceil(OW/4), th*tw          */
    int64_t Hp, Wp;      /* xb planes: 4*th + 2 rows of 4*tw + 2 pixels (16 floats each)           */
    int64_t imgs;        /* images per chunk (a thread's chunks cover its share of the batch)      */
    int64_t vxs, mxs;    /* floats between the 36 position blocks of V and of M in a chunk          */
    int64_t dw_imgs;     /* dW: images per chunk of the batch sum, fixed by the shapes alone         */
    int64_t dw_vxs, dw_mxs; /* dW: the same strides for its chunk's V and dM                         */
    int B, R;            /* GEMM register block: B vectors of 16 output channels x R tiles          */
    int nt;              /* threads the workspace is sized for                                      */
} dc_wcb;

/* The geometries this path computes: 3x3, stride 1, dilation 1, one group, C and OC multiples of 16
 * up to 64, a processor with AVX-512F and VL (and DC_SIMD not "avx2"). */
int dc_wcb_ok(const dc_conv_geom *g);
void dc_wcb_init(dc_wcb *w, const dc_conv_geom *g, int64_t N, int nthreads);
int64_t dc_wcb_workspace(const dc_wcb *w);
/* y = conv(x, wt) + b [+ res] (b, res may be NULL), or y += conv(x, wt) with DC_CONV_ACC (b and res
 * ignored), then max(0, .) with DC_CONV_RELU; x [N][C][H][W], y and res [N][OC][OH][OW] (res: a
 * residual added as the output is written, the inference fusion of an add after the layer); wt
 * [OC][C][3][3], or with flip the filter of the layer whose dX this is ([C][OC][3][3], used
 * spatially flipped: winograd.h's dc_wino_kernel).  work: dc_wcb_workspace floats, 64-byte
 * aligned.  pool may be NULL. */
void dc_wcb_forward(dc_pool *pool, const dc_wcb *w, const float *x, const float *wt, int flip, const float *b,
                    const float *res, int flags, float *y, float *work);


/* dW: dwt [OC][C][3][3] += sum over n, i, j of dy[n][o][i][j] * x[n][c][i - ph + a][j - pw + b], by
 *   dM[xi][t][o] = (A dY_{o,t} Aᵀ)[xi]   dU[xi][c][o] = sum_t V[xi][t][c] dM[xi][t][o]   dwt += Gᵀ dU G
 * over chunks of dw_imgs images (transforms split over the chunk's images, the sums over the
 * positions xi, so each dU element is one fixed sequence whatever the thread count). */
int64_t dc_wcb_dw_workspace(const dc_wcb *w);
void dc_wcb_dw(dc_pool *pool, const dc_wcb *w, const float *x, const float *dy, float *dwt, float *work);

#endif
