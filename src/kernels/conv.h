/* conv.h — the math of 2-D convolution over NCHW float arrays: im2col / col2im (the unrolling that
 * turns a convolution into one GEMM), the reorders between the GEMM's [OC][N*P] result and NCHW,
 * and a plain direct convolution (forward and backward by the definition) that the tests compare
 * the fast path against; and the direct stride-1 kernels over zero-padded planes (dc_dconv_*, at the
 * end).  No threads and no allocation here: callers split work by ranges.
 *
 * Notation: input x [N][C][H][W], weight w [OC][C/groups][KH][KW], bias b [OC], output
 * y [N][OC][OH][OW]; P = OH*OW pixels per output channel; Cg = C/groups, OCg = OC/groups;
 * K = Cg*KH*KW (one group's GEMM depth).  Output channel o belongs to group o/OCg and reads input
 * channels (o/OCg)*Cg .. +Cg.  The column matrix col has C*KH*KW rows (group g's K rows start at
 * row g*K) and `ld` >= N*P columns; column n*P + i*OW + j is output pixel (i, j) of image n.
 */
#ifndef DC_KERNELS_CONV_H
#define DC_KERNELS_CONV_H

#include "deepc.h"

typedef struct dc_conv_geom {
    int64_t C, H, W;       /* input channels, height, width                      */
    int64_t OC, OH, OW;    /* output channels, height, width                     */
    int kh, kw;            /* kernel                                             */
    int sh, sw;            /* stride (>= 1)                                      */
    int ph, pw;            /* zero padding (>= 0)                                */
    int dh, dw;            /* dilation (>= 1)                                    */
    int groups;            /* >= 1, divides C and OC                             */
} dc_conv_geom;

/* Output length of one axis: (in + 2p - d(k-1) - 1)/s + 1, or 0 when the dilated kernel is larger
 * than the padded input (the numerator is negative). */
int64_t dc_conv_out_size(int64_t in, int k, int s, int p, int d);

/* col[(c*KH + a)*KW + b][n*P + i*OW + j] = x[n][c][i*sh - ph + a*dh][j*sw - pw + b*dw]  (0 outside)
 * for the (image, channel) units u = n*C + c in [u0, u1).
 * x: [N][C][H][W], col: [C*KH*KW][ld] (ld >= N*P; only the units' columns/rows are written).      */
void dc_im2col(const dc_conv_geom *g, int64_t ld, int64_t u0, int64_t u1, const float *x, float *col);

/* dx[n][c][i*sh - ph + a*dh][j*sw - pw + b*dw] += col[(c*KH + a)*KW + b][n*P + i*OW + j]  (inside only)
 * for the units u = n*C + c in [u0, u1); each dx element gets its terms in a fixed order
 * (a, b, i, j ascending), so a unit done by one thread gives the same bits on any thread count.
 * col: [C*KH*KW][ld], dx: [N][C][H][W].                                                          */
void dc_col2im(const dc_conv_geom *g, int64_t ld, int64_t u0, int64_t u1, const float *col, float *dx);

/* How the forward kernels below (and dc_wino_forward) write their output, or-ed together (0: y = sum
 * + b).  DC_CONV_ACC: y += sum (b ignored).  DC_CONV_RELU: max(0, .) of what is written (the inference
 * fusion of a convolution with the ReLU after it, graph.c). */
enum { DC_CONV_ACC = 1, DC_CONV_RELU = 2 };

/* y[n][o][p] = res[o][n*P + p] + b[o]   for images n in [n0, n1)   (b may be NULL: no bias),
 * then max(0, .) when relu.  res: [OC][ld], y: [N][OC][P].                                        */
void dc_conv_res_to_nchw(int64_t OC, int64_t P, int64_t ld, int64_t n0, int64_t n1, const float *res,
                         const float *b, int relu, float *y);

/* dres[o][n*P + p] = dy[n][o][p];  db[o] += sum_{n,p} dy[n][o][p]   for channels o in [o0, o1)
 * (db may be NULL).  dy: [N][OC][P], dres: [OC][ld].  The sum runs over n then p in a fixed order. */
void dc_conv_nchw_to_res(int64_t N, int64_t OC, int64_t P, int64_t ld, int64_t o0, int64_t o1, const float *dy,
                         float *dres, float *db);

/* db[o] += sum_{n,p} dy[n][o][p] for channels o in [o0, o1), in dc_conv_nchw_to_res's order (same bits). */
void dc_conv_bias_grad(int64_t N, int64_t OC, int64_t P, int64_t o0, int64_t o1, const float *dy, float *db);

/* ---- Implicit im2col: packers for dc_gemm_packed_b (kernels/gemm.h) that gather panels of group
 * `grp`'s column matrix col_g [K][N*P] straight from x, so the column matrix is never stored.
 * Rows of col_g are k = (c*KH + a)*KW + b for the group's channels c < Cg; columns are pixels
 * q = n*P + i*OW + j.  `q0` shifts the pixel index (dW works on a range of images at a time).
 * `scalar` forces the portable path (the tests compare both); otherwise the AVX2 path is used when
 * the CPU has it and x has fewer than 2^31 elements (its gathers use 32-bit indices).            */
typedef struct dc_conv_pack {
    const dc_conv_geom *g;
    const float *x; /* [N][C][H][W] */
    int64_t N;      /* images in x */
    int grp;        /* the group whose K rows are packed */
    int64_t q0;     /* added to every pixel index */
    int scalar;
} dc_conv_pack;

/* Forward operand, B = col_g [K][N*P]:   B[k][q] = col_g[k][q0 + q] (k0, kc over K; j0, nc over pixels). */
void dc_conv_pack_col(const void *ctx, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float *dst);
/* dW operand,      B = col_gᵀ [N*P][K]:  B[q][k] = col_g[k][q0 + q] (k0, kc over pixels; j0, nc over K). */
void dc_conv_pack_colT(const void *ctx, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float *dst);

/* Reference direct convolution, nested loops, double accumulation.
 * y[n][o][i][j] = b[o] + sum_{c<Cg, a<KH, b<KW} w[o][c][a][b] * x[n][(o/OCg)*Cg + c][i*sh-ph+a*dh][j*sw-pw+b*dw]
 * (b may be NULL).  x: [N][C][H][W], w: [OC][Cg][KH][KW], y: [N][OC][OH][OW].                      */
void dc_conv2d_ref_forward(const dc_conv_geom *g, int64_t N, const float *x, const float *w, const float *b,
                           float *y);
/* By the definition, gathering (no col2im):
 * dw[o][c][a][b] += sum_{n,i,j} dy[n][o][i][j] * x[n][(o/OCg)*Cg + c][i*sh-ph+a*dh][j*sw-pw+b*dw]
 * db[o]          += sum_{n,i,j} dy[n][o][i][j]
 * dx[n][c][h][v] += sum over (o in c's group, a, b) with h = i*sh-ph+a*dh, v = j*sw-pw+b*dw for some
 *                   valid output pixel (i, j) of w[o][c - group start][a][b] * dy[n][o][i][j]
 * dx, dw and db may each be NULL (not computed).                                                   */
void dc_conv2d_ref_backward(const dc_conv_geom *g, int64_t N, const float *x, const float *w, const float *dy,
                            float *dx, float *dw, float *db);

/* Reference transposed convolution by its definition (a scatter), for the tests of the
 * ConvTranspose2d op.  The geometry is that of the convolution it transposes: the transposed
 * convolution's input x is [N][OC][OH][OW], its output y [N][C][H][W], its weight w [OC][Cg][KH][KW]:
 *   y[n][(o/OCg)*Cg + c][i*sh - ph + a*dh][j*sw - pw + b*dw] += x[n][o][i][j] * w[o][c][a][b]
 * over every (o, i, j, c, a, b) whose target lies inside y, after y[n][c'][..] = b[c'] (b may be NULL).
 * Backward, with dy [N][C][H][W] (any of dx, dw, db may be NULL; all are added to):
 *   dx[n][o][i][j] += sum_{c,a,b} w[o][c][a][b] * dy[n][(o/OCg)*Cg + c][i*sh - ph + a*dh][j*sw - pw + b*dw]
 *   dw[o][c][a][b] += sum_{n,i,j} x[n][o][i][j] * dy[n][(o/OCg)*Cg + c][...]
 *   db[c']         += sum_{n,h,v} dy[n][c'][h][v]                                   (double sums) */
void dc_conv_transpose2d_ref_forward(const dc_conv_geom *g, int64_t N, const float *x, const float *w,
                                     const float *b, float *y);
void dc_conv_transpose2d_ref_backward(const dc_conv_geom *g, int64_t N, const float *x, const float *w,
                                      const float *dy, float *dx, float *dw, float *db);

/* ---- Direct stride-1 convolution over zero-padded planes ("padded-width" implicit GEMM).
 * The input is copied once into zero-padded planes xp [N][C][Sp] (plane row length Wp = W + 2pw,
 * Hp = H + 2ph rows, then zeros up to Sp).  In a plane, output pixel (i, j) sits at q = i*Wp + j
 * and tap (a, b) of it at q + a*dh*Wp + b*dw, so for a block of 48 consecutive q every tap is one
 * contiguous 48-float window: the micro-kernel loads B straight from xp, with no packing.  The
 * positions with j >= OW (the Wp - OW "junk" columns) are computed and dropped.
 *   y[n][o][i][j] (+)= [b[o]] + sum_{c,a,b} wt[(c*KH + a)*KW + b][o] * xp[n][c][(i + a*dh)*Wp + j + b*dw]
 * Stride 1 and groups 1 only (dc_dconv_ok); the micro-kernel is 4 channels x 48 pixels with AVX-512
 * where the processor has it (dc_dconv_avx512), else two calls of a 4 x 24 AVX2/FMA one; each output
 * is the same fma chain either way, so both give the same bits.  Units of work are (image, block of
 * 48 q) pairs, u = n*dc_dconv_blocks + block; every output is one fma chain in tap order computed by
 * one unit, so the bits do not depend on the split either. */
#define DC_DCONV_NB 48
int dc_dconv_ok(const dc_conv_geom *g);        /* geometry supported and the CPU has AVX2/FMA      */
int64_t dc_dconv_plane(const dc_conv_geom *g);  /* Sp: floats per padded plane (with read slack)    */
int64_t dc_dconv_blocks(const dc_conv_geom *g); /* 48-pixel blocks per image: ceil(OH*Wp / 48)       */
/* Whether the AVX-512 kernels run (processor with AVX-512F, and DC_SIMD=avx2 not set when first
 * asked); dc_dconv_set_avx512 switches them (on only where the processor has AVX-512F) and returns
 * the previous setting, for tests and benchmarks.  No size above depends on it. */
int dc_dconv_avx512(void);
int dc_dconv_set_avx512(int on);
int64_t dc_dconv_wt_size(const dc_conv_geom *g); /* floats of wt: C*KH*KW x round4(OC)              */
/* xp[u][..] = plane u = n*C + c of x, zero-padded (see above), for units u in [u0, u1). */
void dc_dconv_pad(const dc_conv_geom *g, int64_t u0, int64_t u1, const float *x, float *xp);
/* wt[(c*KH + a)*KW + b][o] = w[o][c][a][b]; columns o >= OC are 0.  w: [OC][C][KH][KW].
 * flip: w is instead the forward filter of the transposed geometry, [C][OC][KH][KW], and
 * wt[(c*KH + a)*KW + b][o] = w[c][o][KH-1-a][KW-1-b] (dX as a convolution of dy, see op_conv.c). */
void dc_dconv_weights(const dc_conv_geom *g, const float *w, int flip, float *wt);
/* The formula above for units [u0, u1), written as `flags` says (DC_CONV_ACC, DC_CONV_RELU; b may be NULL). */
void dc_dconv_run(const dc_conv_geom *g, int64_t u0, int64_t u1, const float *xp, const float *wt, const float *b,
                  int flags, float *y);

/* dW by the direct path, for "same" padding (2ph = dh(KH-1), 2pw = dw(KW-1)) where the transposed
 * geometry f (dX's) has the same plane width Wp, so dyp (dy padded as f's input) holds dy at
 * q = i*Wp + j after a shift of ph*Wp + pw, with zeros in the junk columns:
 *   acc[o][k][l] += sum_{n in [n0,n1), q = l mod L} dyp[n][o][shift + q] * xp[n][c][q + (a*dh)*Wp + b*dw]
 *   part[o][k] = the L lanes of acc[o][k] summed in a fixed order,   k = (c*KH + a)*KW + b
 * over q < roundL(OH*Wp), L = 16 lanes with AVX-512 (lanes l and l + 8 added first), 8 with AVX2:
 * the two variants round differently, each the same for any split.  g: forward geometry; xp: [N][C][Sp(g)], dyp: [N][OC][Sp(f)];
 * acc: scratch of dc_dconv_dw_scratch(g) floats; part: [OC][C*KH*KW] (overwritten). */
int dc_dconv_dw_ok(const dc_conv_geom *g);
int64_t dc_dconv_dw_scratch(const dc_conv_geom *g);
void dc_dconv_dw(const dc_conv_geom *g, int64_t n0, int64_t n1, const float *xp, const float *dyp, float *acc,
                 float *part);
/* dc_dconv_pad for channels o in [o0, o1) of all N images of y (units n*C + o), plus
 * db[o] += sum_{n,p} y[n][o][p] (fixed order; db may be NULL). */
void dc_dconv_pad_sum(const dc_conv_geom *g, int64_t N, int64_t o0, int64_t o1, const float *y, float *yp, float *db);

#endif
