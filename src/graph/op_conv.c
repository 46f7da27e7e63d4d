/* op_conv.c — the Conv2d op: shape inference, forward and backward glue around the kernels in
 * kernels/conv.c and the GEMMs of kernels/gemm.c; and ConvTranspose2d, run on the same GEMM paths
 * (at the end of the file).
 *
 * Forward (one GEMM over the whole mini-batch per group, as in the textbook, with implicit im2col):
 *   res [OC][N*P]       = W_g [OCg][K] · col_g [K][N*P]    (dc_gemm_packed_b: the GEMM's B panels are
 *                                                           gathered from x by dc_conv_pack_col, so
 *                                                           col is never stored)
 *   y [N][OC][P]        = res reordered to NCHW, + bias    (parallel over images; bias fused)
 * Backward:
 *   dres [OC][N*P]      = dy reordered, db += its row sums (parallel over channels)
 *   dW_g += dres_g · col_gᵀ                                (implicit again: dc_conv_pack_colT)
 *   when x needs a gradient: dcol_g = W_gᵀ · dres_g, dx += col2im(dcol), chunk by chunk of images
 *                        (dcol is stored, but only one L2-sized chunk per thread at a time)
 * Direct path (3x3-like stride-1 layers whose rows are long enough, see use_dconv / direct_bw): the
 * input is copied into zero-padded planes and a 4x24 micro-kernel reads its B rows straight from them
 * (kernels/conv.h, dc_dconv_*): forward writes NCHW directly; dX is the same kernel on dy with the
 * flipped filter; dW contracts dy and the padded input along the pixels in fixed image chunks.
 * Why implicit: the column matrix is KH*KW times the input; writing it and reading it back made
 * LeNet's convolutions memory-bound (im2col was 40% of training time) and the 3x3 layers' workspace
 * hundreds of MB.  Gathering a 16-pixel panel right before the micro-kernel uses it keeps it in L1.
 * Workspace: res/dres [OC][N*P], the partial dW products, and one dcol chunk per thread only when
 * the input needs a gradient.
 * Winograd path (3x3, stride 1, ungrouped layers with enough channels, see use_wino_*): forward, dX
 * (the forward of dy with the flipped filter) and dW by F(4x4, 3x3) or F(2x2, 3x3) in
 * kernels/winograd.c; each pass decides on its own.  DC_WINOGRAD=0 turns it off.
 * Deliberately not here: the math (kernels/conv.c, kernels/gemm.c, kernels/winograd.c) and the
 * parameters and their initialisation (nn/conv_layers.c).  Forward saves nothing for backward. */
#include "graph/graph.h"
#include "kernels/conv.h"
#include "kernels/winograd.h"
#include "kernels/winograd_cb.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DW_CHUNKS 8 /* dW's GEMM depth (the batch) in this many fixed ranges, see dw_gemm */
#define DX_CHUNK_FLOATS (128 * 1024) /* dcol of one dx chunk: about 512 KiB, half of L2, see dx_task */

/* Images per dx chunk: dcol [C*KH*KW][images*P] within DX_CHUNK_FLOATS (at least one image). */
static int64_t dx_chunk_images(const dc_conv_geom *c) {
    const int64_t per = c->C * c->kh * c->kw * c->OH * c->OW;
    return per >= DX_CHUNK_FLOATS ? 1 : DX_CHUNK_FLOATS / per;
}

static dc_conv_geom geom_of(const dc_graph *g, const dc_node_rec *n) {
    const dc_node_rec *x = &g->nodes[n->in[0]];
    dc_conv_geom c = {.C = x->shape.dim[0], .H = x->shape.dim[1], .W = x->shape.dim[2], .OC = n->units,
                      .OH = n->shape.dim[1], .OW = n->shape.dim[2], .kh = n->kh, .kw = n->kw, .sh = n->sh,
                      .sw = n->sw, .ph = n->ph, .pw = n->pw, .dh = n->dh, .dw = n->dw, .groups = n->groups};
    return c;
}

/* "3" when both axes agree, else "3x5". */
static const char *pair(char *buf, size_t len, int a, int b) {
    if (a == b) snprintf(buf, len, "%d", a);
    else snprintf(buf, len, "%dx%d", a, b);
    return buf;
}

dc_status dc_op_conv2d_infer(dc_graph *g, dc_node_rec *n) {
    char sb[96], s1[32], s2[32], s3[32];
    const dc_node_rec *x = dc_in(g, n, 0);
    if (x->shape.rank != 3)
        return DC_ERR(DC_ERR_SHAPE, "conv2d '%s': input '%s' must be [C, H, W] per example, got %s", n->name, x->name,
                      dc_shape_str(x->shape, sb, sizeof sb));
    const int64_t C = x->shape.dim[0], H = x->shape.dim[1], W = x->shape.dim[2], OC = n->units;
    if (n->kh < 1 || n->kw < 1 || n->sh < 1 || n->sw < 1 || n->dh < 1 || n->dw < 1 || n->ph < 0 || n->pw < 0)
        return DC_ERR(DC_ERR_ARG,
                      "conv2d '%s': kernel %dx%d, stride %dx%d, dilation %dx%d must be >= 1 and padding %dx%d >= 0",
                      n->name, n->kh, n->kw, n->sh, n->sw, n->dh, n->dw, n->ph, n->pw);
    if (n->groups < 1 || OC < 1 || C % n->groups || OC % n->groups)
        return DC_ERR(C % (n->groups < 1 ? 1 : n->groups) ? DC_ERR_SHAPE : DC_ERR_ARG,
                      "conv2d '%s': %d groups must divide both the %lld input and %lld output channels", n->name,
                      n->groups, (long long)C, (long long)OC);
    const int64_t OH = dc_conv_out_size(H, n->kh, n->sh, n->ph, n->dh);
    const int64_t OW = dc_conv_out_size(W, n->kw, n->sw, n->pw, n->dw);
    if (OH < 1 || OW < 1)
        return DC_ERR(DC_ERR_SHAPE,
                      "conv2d '%s': input %lldx%lld with kernel %dx%d, stride %s, padding %s, dilation %s gives output "
                      "%lldx%lld",
                      n->name, (long long)H, (long long)W, n->kh, n->kw, pair(s1, sizeof s1, n->sh, n->sw),
                      pair(s2, sizeof s2, n->ph, n->pw), pair(s3, sizeof s3, n->dh, n->dw), (long long)OH,
                      (long long)OW);
    n->shape = dc_shape3(OC, OH, OW);
    return DC_OK;
}

int64_t dc_op_conv2d_saved(const dc_graph *g, const dc_node_rec *n, int64_t batch) { return 0; }

static int64_t round16(int64_t v) { return (v + 15) / 16 * 16; } /* keeps each region 64-byte aligned */

/* Offsets into the workspace: res/dres at 0, the partial dW products at part_off, dcol at col_off. */
static int64_t part_off(const dc_conv_geom *c, int64_t NP) { return round16(c->OC * NP); }
static int64_t col_off(const dc_conv_geom *c, int64_t NP) {
    return part_off(c, NP) + round16(DW_CHUNKS * (c->OC / c->groups) * (c->C / c->groups) * c->kh * c->kw);
}
/* A strided 1x1 convolution (ResNets' projection shortcuts) runs its forward as an explicit
 * subsampling copy of x (im2col of a 1x1 filter) and a plain GEMM: the implicit packer gathers
 * such columns pixel by pixel wherever an 8-pixel block crosses an output row (every block at 7x7),
 * and each packed element then serves only OC multiply-adds. */
static int explicit_1x1(const dc_conv_geom *c) {
    return c->kh == 1 && c->kw == 1 && c->ph == 0 && c->pw == 0 && (c->sh > 1 || c->sw > 1) && c->groups == 1;
}

/* One dx chunk's dcol per thread. */
static int64_t col_slot(const dc_conv_geom *c, int64_t batch) {
    const int64_t nb = dx_chunk_images(c) < batch ? dx_chunk_images(c) : batch;
    return round16(c->C * c->kh * c->kw * nb * c->OH * c->OW);
}
/* explicit_1x1's columns of x for dW, after the dcol slots of nt threads. */
static int64_t xcol_off(const dc_conv_geom *c, int64_t batch, int nt) {
    return col_off(c, batch * c->OH * c->OW) + nt * col_slot(c, batch);
}

/* dX as a convolution of dy with the flipped, transposed filter (stride 1 only):
 *   dx[n][c][h][v] += sum_{o,a,b} Wf[c][o][a][b] * dy[n][o][h - ph' + a*dh][v - pw' + b*dw]
 *   Wf[c][o][a][b] = W[o][c][KH-1-a][KW-1-b],  ph' = dh*(KH-1) - ph,  pw' = dw*(KW-1) - pw
 * (h + ph - a*dh = i is the output row that tap a of input row h feeds; substituting a -> KH-1-a
 * gives the forward formula with padding ph').  flip_geom is that convolution's geometry (input dy,
 * output dx).  Why: the col2im path's GEMM has depth OCg (16 for ResNet's first stage: each 6x16
 * tile does 16 fmas and then a full C update) and col2im re-reads dcol KH*KW times; as a forward
 * convolution, dX runs on the direct kernel (use_dconv of the flipped geometry), accumulating into
 * dx with no dcol.  Needs ph' >= 0 (padding at most the dilated kernel reach).  (Tried: the same
 * through the implicit-im2col GEMM plus an add pass; no faster than col2im on ResNet, slower on
 * LeNet's 5x5 layers, so only the direct kernel uses it.) */
static int dx_by_flip(const dc_conv_geom *c) {
    return c->sh == 1 && c->sw == 1 && c->ph <= c->dh * (c->kh - 1) && c->pw <= c->dw * (c->kw - 1);
}
static dc_conv_geom flip_geom(const dc_conv_geom *c) {
    dc_conv_geom f = {.C = c->OC, .H = c->OH, .W = c->OW, .OC = c->C, .OH = c->H, .OW = c->W, .kh = c->kh, .kw = c->kw,
                      .sh = 1, .sw = 1, .ph = c->dh * (c->kh - 1) - c->ph, .pw = c->dw * (c->kw - 1) - c->pw,
                      .dh = c->dh, .dw = c->dw, .groups = c->groups};
    return f;
}

/* The direct padded-plane kernel (kernels/conv.h, dc_dconv_*) instead of the implicit-im2col GEMM:
 * chosen when the geometry allows it and at least 80% of what it computes is kept (blocks of 48
 * positions over rows of Wp = W + 2pw, of which OW are kept: 28x28 keeps 91%, 14x14 82%, 7x7 51%).
 * Why: with few channels (ResNet's 16 and 32) the GEMM's B panels are used by only OC rows, so
 * gathering them costs about half of what the micro-kernel does with them; the padded planes make
 * every B row a plain load, the 4-channel micro-kernel wastes no rows for OC = 16, and the result is
 * written in NCHW directly (no reorder pass).  Thresholds measured with bench_conv (2 threads): at
 * 7x7 (68% kept) the 64->64 layer is slower direct (fwd 3.8 vs 2.8 ms, bwd 8.9 vs 6.5). */
static int use_dconv(const dc_conv_geom *c) {
    if (!dc_dconv_ok(c)) return 0;
    /* and at least 64 taps (C*KH*KW) per output: below that the per-block scatter to NCHW costs
     * more than the packing it saves (LeNet's 1->6 5x5 forward: 0.28 ms direct vs 0.235 GEMM) */
    return 10 * c->OH * c->OW >= 8 * dc_dconv_blocks(c) * DC_DCONV_NB && c->C * c->kh * c->kw >= 64;
}
/* Direct path workspace: the padded planes, then wt. */
static int64_t dconv_size(const dc_conv_geom *c, int64_t batch) {
    return round16(batch * c->C * dc_dconv_plane(c)) + round16(dc_dconv_wt_size(c));
}

/* The direct backward (dW and dX both by the padded-plane kernels, dy padded once for both): "same"
 * padding and stride 1 (dc_dconv_dw_ok), where the forward also takes the direct path.
 * Workspace: part [DW_CHUNKS][OC][K], dyp [N][OC][Sp(f)], xp [N][C][Sp], one dW scratch per thread, wt(f). */
static int direct_bw(const dc_conv_geom *c) { return use_dconv(c) && dc_dconv_dw_ok(c); }
static int64_t dbw_dyp_off(const dc_conv_geom *c) {
    return round16(DW_CHUNKS * c->OC * c->C * c->kh * c->kw);
}
static int64_t dbw_xp_off(const dc_conv_geom *c, int64_t batch) {
    const dc_conv_geom f = flip_geom(c);
    return dbw_dyp_off(c) + round16(batch * c->OC * dc_dconv_plane(&f));
}
static int64_t dbw_scratch_off(const dc_conv_geom *c, int64_t batch) {
    return dbw_xp_off(c, batch) + round16(batch * c->C * dc_dconv_plane(c));
}
static int64_t dbw_wt_off(const dc_conv_geom *c, int64_t batch, int nt) {
    return dbw_scratch_off(c, batch) + nt * round16(dc_dconv_dw_scratch(c));
}

/* ---------------------------------------------------------------- Winograd
 * DC_WINOGRAD (read at each call, so a benchmark can switch it between runs; the workspace is
 * sized for both choices):  unset or "1": the measured thresholds below;  "0" or "off": never;
 * "all": every geometry the kernels support (the tests use it on small layers).  Its first name,
 * DEEPC_WINOGRAD, is still read when DC_WINOGRAD is not set. */
static int wino_mode(void) {
    const char *e = getenv("DC_WINOGRAD");
    if (!e) e = getenv("DEEPC_WINOGRAD");
    if (!e || !*e) return 1;
    if (!strcmp(e, "0") || !strcmp(e, "off")) return 0;
    return !strcmp(e, "all") ? 2 : 1;
}

/* The thresholds, measured with bench/bench_winograd.c (batch 128, 2 threads; docs/benchmarks.md).
 * Winograd pays where its GEMMs, not its transforms, dominate, i.e. with enough channels: forward and
 * dX from 32 channels on both sides (ResNet-20's 32->32 at 14x14 gains 1.2x; its 16->16 at 28x28
 * loses to the direct kernel, 0.8-0.95x).  dW's GEMMs contract over the tiles with only OC x C
 * outputs, so with few channels they are bound by packing their operands: from 64 on both sides
 * (16->16 at 28x28: 0.54x; 64->64 at 7x7 about even; 128->128 at 14x14 1.1x; 512->512 at 4x4 2.7x). */
static int wino_fwd_pays(const dc_conv_geom *c) { return c->C >= 32 && c->OC >= 32; }
static int wino_dx_pays(const dc_conv_geom *c) { return c->C >= 32 && c->OC >= 32; }
static int wino_dw_pays(const dc_conv_geom *c) { return c->C >= 64 && c->OC >= 64; }

/* ... and enough tiles: the kernel transform (alpha² x OC x C values per call) must be small next to
 * the GEMMs (alpha² x OC x C x tiles multiply-adds), which leaves batch-1 inference on the other paths
 * (ResNet-20 at batch 1: 49 tiles at 28x28).  Depends on the batch, never on the thread count. */
#define WINO_MIN_TILES 64
static int wino_enough(const dc_conv_geom *c, int64_t batch) {
    const int m = dc_wino_pick_m(c);
    return batch * ((c->OH + m - 1) / m) * ((c->OW + m - 1) / m) >= WINO_MIN_TILES;
}
/* The channel-blocked kernels (kernels/winograd_cb.h: channels in multiples of 16, AVX-512) pay
 * from 16 channels on, for the forward, dX and dW, except the forward and dX of planes with one
 * F(4x4) tile (4x4 outputs: with 512 channels, winograd.c's GEMMs run them as fast, and its F(2x2)
 * takes the 2x2 ones); bench_winograd, docs/benchmarks.md. */
static int use_wcb_fwd(const dc_conv_geom *c) { return dc_wcb_ok(c) && ((c->OH + 3) / 4) * ((c->OW + 3) / 4) >= 2; }
static int use_wino_fwd(const dc_conv_geom *c, int64_t batch) {
    const int mode = wino_mode();
    return mode && dc_wino_ok(c) && (mode == 2 || ((wino_fwd_pays(c) || use_wcb_fwd(c)) && wino_enough(c, batch)));
}
/* dX as the forward of the flipped geometry, which needs padding <= 2 (its own padding is 2 - p). */
static int wino_dx_ok(const dc_conv_geom *c) { return dc_wino_ok(c) && c->ph <= 2 && c->pw <= 2; }
static int use_wino_dx(const dc_conv_geom *c, int64_t batch) {
    const int mode = wino_mode();
    if (!mode || !wino_dx_ok(c)) return 0;
    const dc_conv_geom f = flip_geom(c);
    return mode == 2 || ((wino_dx_pays(c) || use_wcb_fwd(&f)) && wino_enough(c, batch));
}
static int use_wino_dw(const dc_conv_geom *c, int64_t batch) {
    const int mode = wino_mode();
    return mode && dc_wino_ok(c) && (mode == 2 || ((wino_dw_pays(c) || dc_wcb_ok(c)) && wino_enough(c, batch)));
}

/* Floats of workspace for whichever Winograd passes the geometry allows (any mode). */
static int64_t wino_workspace(const dc_graph *g, const dc_conv_geom *c, int64_t batch) {
    int64_t ws = 0;
    if (!dc_wino_ok(c)) return 0;
    dc_wino w;
    dc_wino_init(&w, c, dc_wino_pick_m(c), batch, dc_pool_size(g->pool), 0);
    ws = dc_wino_forward_workspace(&w);
    if (dc_wino_dw_workspace(&w) > ws) ws = dc_wino_dw_workspace(&w);
    dc_wcb cb;
    if (dc_wcb_ok(c)) {
        dc_wcb_init(&cb, c, batch, dc_pool_size(g->pool));
        if (dc_wcb_workspace(&cb) > ws) ws = dc_wcb_workspace(&cb);
        if (dc_wcb_dw_workspace(&cb) > ws) ws = dc_wcb_dw_workspace(&cb);
    }
    if (wino_dx_ok(c)) {
        const dc_conv_geom f = flip_geom(c);
        dc_wino_init(&w, &f, dc_wino_pick_m(&f), batch, dc_pool_size(g->pool), 0);
        if (dc_wino_forward_workspace(&w) > ws) ws = dc_wino_forward_workspace(&w);
        if (dc_wcb_ok(&f)) {
            dc_wcb_init(&cb, &f, batch, dc_pool_size(g->pool));
            if (dc_wcb_workspace(&cb) > ws) ws = dc_wcb_workspace(&cb);
        }
    }
    return ws;
}

/* y (+)= conv by Winograd; geo is the forward geometry, or dX's (flip) with the layer's filter;
 * flags: DC_CONV_ACC, DC_CONV_RELU.  The channel-blocked kernels where they apply, else winograd.c's. */
static void wino_conv(dc_graph *g, const dc_conv_geom *geo, int64_t batch, const float *x, const float *w, int flip,
                      const float *b, int flags, float *y) {
    if (use_wcb_fwd(geo)) {
        dc_wcb cb;
        dc_wcb_init(&cb, geo, batch, dc_pool_size(g->pool));
        dc_wcb_forward(g->pool, &cb, x, w, flip, b, NULL, flags, y, g->work);
        return;
    }
    dc_wino wg;
    dc_wino_init(&wg, geo, dc_wino_pick_m(geo), batch, dc_pool_size(g->pool), 0);
    dc_wino_forward(g->gemm, &wg, x, w, flip, b, flags, y, g->work);
}

int64_t dc_op_conv2d_workspace(const dc_graph *g, const dc_node_rec *n, int64_t batch) {
    const dc_conv_geom c = geom_of(g, n);
    const int64_t NP = batch * c.OH * c.OW;
    /* forward: res (or the direct path's planes); backward: the direct backward's buffers, or dres,
     * the partial dW products and for dx (when the input gets a gradient) the direct path's planes
     * of dy or one dcol chunk per thread.  One workspace serves both passes: the larger. */
    const int64_t fwd = use_dconv(&c)       ? dconv_size(&c, batch)
                        : explicit_1x1(&c) ? round16(c.OC * NP) + round16(c.C * NP)
                                           : round16(c.OC * NP);
    int64_t bwd = col_off(&c, NP);
    if (direct_bw(&c)) {
        const dc_conv_geom f = flip_geom(&c);
        bwd = dbw_wt_off(&c, batch, dc_pool_size(g->pool)) + round16(dc_dconv_wt_size(&f));
    } else if (g->nodes[n->in[0]].needs_grad) {
        const dc_conv_geom f = flip_geom(&c);
        if (dx_by_flip(&c) && use_dconv(&f)) bwd += dconv_size(&f, batch);
        else bwd += dc_pool_size(g->pool) * col_slot(&c, batch);
    }
    if (explicit_1x1(&c)) bwd = xcol_off(&c, batch, dc_pool_size(g->pool)) + round16(c.C * NP);
    const int64_t ws = fwd > bwd ? fwd : bwd, wws = wino_workspace(g, &c, batch);
    return ws > wws ? ws : wws;
}

int64_t dc_op_conv2d_flops(const dc_graph *g, const dc_node_rec *n) {
    const dc_conv_geom c = geom_of(g, n);
    return 2 * c.OC * c.OH * c.OW * (c.C / c.groups) * c.kh * c.kw;
}

/* ---------------------------------------------------------------- parallel passes */
typedef struct conv_job {
    const dc_conv_geom *geo;
    int64_t N, ld;
    const float *src, *b;
    float *dst, *db;
    int relu; /* to_nchw_task: max(0, .) of the output */
} conv_job;

static void to_nchw_task(void *ctx, int tid, int nt) {
    const conv_job *j = ctx;
    int64_t lo, hi;
    dc_split_range(j->N, nt, tid, &lo, &hi);
    dc_conv_res_to_nchw(j->geo->OC, j->geo->OH * j->geo->OW, j->ld, lo, hi, j->src, j->b, j->relu, j->dst);
}

static void from_nchw_task(void *ctx, int tid, int nt) {
    const conv_job *j = ctx;
    int64_t lo, hi;
    dc_split_range(j->geo->OC, nt, tid, &lo, &hi);
    dc_conv_nchw_to_res(j->N, j->geo->OC, j->geo->OH * j->geo->OW, j->ld, lo, hi, j->src, j->dst, j->db);
}

/* dW [OCg][K] += dres [OCg][NP] · col_gᵀ, col_gᵀ gathered from x by dc_conv_pack_colT.  The GEMM's
 * depth NP is cut into DW_CHUNKS fixed ranges of whole images; thread t computes the partial
 * products of its chunks (dc_gemm_packed_b_st, its own packing buffers) and the caller adds them to
 * dW in chunk order.  Why not one parallel GEMM: dW is tiny (OCg x K, e.g. 6 x 25), so splitting
 * its rows or columns leaves a thread idle or duplicates the gathering; the depth is where the work
 * is.  The chunks do not depend on the thread count, so neither does the result. */
typedef struct dw_job {
    dc_gemm_ctx *gemm;
    const dc_conv_geom *geo;
    const float *x;
    int grp;
    int64_t M, K, NP, N, P;
    const float *dres;
    const float *col; /* explicit columns [K][NP] (explicit_1x1), or NULL: packed from x */
    float *part;      /* DW_CHUNKS x [M][K] */
} dw_job;

static void dw_task(void *ctx, int tid, int nt) {
    const dw_job *j = ctx;
    int64_t c0, c1;
    dc_split_range(DW_CHUNKS, nt, tid, &c0, &c1);
    for (int64_t ch = c0; ch < c1; ch++) {
        int64_t n0, n1;
        dc_split_range(j->N, DW_CHUNKS, (int)ch, &n0, &n1);
        const int64_t p0 = n0 * j->P, len = (n1 - n0) * j->P;
        if (len == 0) continue;
        if (j->col) { /* the same sums as the packed B (gemm.h), from the plain matrix */
            dc_gemm_st(j->gemm, tid, 0, 1, j->M, j->K, len, 1.0f, j->dres + p0, j->NP, j->col + p0, j->NP, 0.0f,
                       j->part + ch * j->M * j->K, j->K);
            continue;
        }
        const dc_conv_pack pk = {j->geo, j->x, j->N, j->grp, p0, 0};
        dc_gemm_packed_b_st(j->gemm, tid, j->M, j->K, len, 1.0f, j->dres + p0, j->NP, 0, dc_conv_pack_colT, &pk, 0.0f,
                            j->part + ch * j->M * j->K, j->K);
    }
}

static void dw_gemm(dc_graph *g, const dc_conv_geom *geo, const float *x, const float *col, int grp, int64_t M,
                    int64_t K, int64_t N, const float *dres, float *dW, float *part) {
    const int64_t P = geo->OH * geo->OW;
    dw_job j = {g->gemm, geo, x, grp, M, K, N * P, N, P, dres, col, part};
    dc_pool_run(g->pool, dw_task, &j);
    for (int64_t ch = 0; ch < DW_CHUNKS; ch++) {
        int64_t n0, n1;
        dc_split_range(N, DW_CHUNKS, (int)ch, &n0, &n1);
        if (n1 == n0) continue;
        const float *pp = part + ch * M * K;
        for (int64_t i = 0; i < M * K; i++) dW[i] += pp[i];
    }
}

/* dx += col2im(W_gᵀ · dres_g), chunk by chunk: a chunk is a fixed range of dx_chunk_images images;
 * for it, dcol [C*KH*KW][images*P] = W_gᵀ · dres_g[:, chunk] for each group (dc_gemm_st into the
 * thread's own slot), then col2im of those images.  Why chunks: the whole-batch dcol (e.g. 231 MB
 * for a 64->64 3x3 layer at 28x28, batch 128) was written by the GEMM and read back by col2im from
 * memory; a chunk's dcol stays in L2 between the two.  Each dx element is written by one chunk, and
 * each dcol element is the same GEMM sum whatever the chunk, so the bits do not depend on the threads. */
typedef struct dx_job {
    dc_gemm_ctx *gemm;
    const dc_conv_geom *geo;
    int64_t N, NP, nb, slot;
    const float *W, *dres;
    float *col, *dx;
    int accumulate; /* 0: dx is written (zeroed chunk by chunk here), not added to */
} dx_job;

static void dx_task(void *ctx, int tid, int nt) {
    const dx_job *j = ctx;
    const dc_conv_geom *c = j->geo;
    const int64_t P = c->OH * c->OW, OCg = c->OC / c->groups, K = c->C / c->groups * c->kh * c->kw;
    const int64_t chunks = (j->N + j->nb - 1) / j->nb;
    int64_t c0, c1;
    dc_split_range(chunks, nt, tid, &c0, &c1);
    float *col = j->col + tid * j->slot;
    for (int64_t ch = c0; ch < c1; ch++) {
        const int64_t n0 = ch * j->nb, n1 = n0 + j->nb < j->N ? n0 + j->nb : j->N, len = (n1 - n0) * P;
        for (int grp = 0; grp < c->groups; grp++)
            dc_gemm_st(j->gemm, tid, 1, 0, K, len, OCg, 1.0f, j->W + grp * OCg * K, K,
                       j->dres + grp * OCg * j->NP + n0 * P, j->NP, 0.0f, col + grp * K * len, len);
        float *dx = j->dx + n0 * c->C * c->H * c->W;
        if (!j->accumulate) memset(dx, 0, (size_t)((n1 - n0) * c->C * c->H * c->W) * sizeof(float));
        dc_col2im(c, len, 0, (n1 - n0) * c->C, col, dx);
    }
}

/* The direct path: pad the planes (parallel over image-channel planes), the weights in wt layout
 * (serial: a few thousand floats), then the blocks (parallel over fixed ranges of units). */
typedef struct dconv_job {
    const dc_conv_geom *geo;
    int64_t N;
    const float *x, *b;
    float *xp, *wt, *y;
    int flags; /* DC_CONV_ACC, DC_CONV_RELU */
} dconv_job;

/* col [C][NP] = im2col(x) over the image-channel units, split over the pool (explicit_1x1). */
typedef struct im2col_job {
    const dc_conv_geom *geo;
    int64_t ld, units;
    const float *x;
    float *col;
} im2col_job;

static void im2col_task(void *ctx, int tid, int nt) {
    const im2col_job *j = ctx;
    int64_t lo, hi;
    dc_split_range(j->units, nt, tid, &lo, &hi);
    if (hi > lo) dc_im2col(j->geo, j->ld, lo, hi, j->x, j->col);
}

/* explicit_1x1's column matrix of x: col [C][NP], the subsampled input. */
static void explicit_cols(dc_graph *g, const dc_conv_geom *c, int64_t batch, const float *x, float *col) {
    im2col_job j = {c, batch * c->OH * c->OW, batch * c->C, x, col};
    dc_pool_run(g->pool, im2col_task, &j);
}

static void dconv_pad_task(void *ctx, int tid, int nt) {
    const dconv_job *j = ctx;
    int64_t lo, hi;
    dc_split_range(j->N * j->geo->C, nt, tid, &lo, &hi);
    dc_dconv_pad(j->geo, lo, hi, j->x, j->xp);
}

static void dconv_run_task(void *ctx, int tid, int nt) {
    const dconv_job *j = ctx;
    int64_t lo, hi;
    dc_split_range(j->N * dc_dconv_blocks(j->geo), nt, tid, &lo, &hi);
    dc_dconv_run(j->geo, lo, hi, j->xp, j->wt, j->b, j->flags, j->y);
}

/* y (+)= conv(x) by the direct path; geo is the forward geometry, or the transposed one with
 * flip = 1 (then w is the forward filter, and y = dx); flags: DC_CONV_ACC, DC_CONV_RELU. */
static void dconv(dc_graph *g, const dc_conv_geom *geo, int64_t batch, const float *x, const float *w, int flip,
                  const float *b, int flags, float *work, float *y) {
    float *xp = work, *wt = work + round16(batch * geo->C * dc_dconv_plane(geo));
    dconv_job j = {geo, batch, x, b, xp, wt, y, flags};
    dc_dconv_weights(geo, w, flip, wt);
    dc_pool_run(g->pool, dconv_pad_task, &j);
    dc_pool_run(g->pool, dconv_run_task, &j);
}

typedef struct dbw_job {
    const dc_conv_geom *geo, *f;
    int64_t N;
    const float *dy;
    float *dyp, *db, *xp, *scratch, *part;
    int64_t slot;
} dbw_job;

static void dbw_pad_dy_task(void *ctx, int tid, int nt) {
    const dbw_job *j = ctx;
    int64_t lo, hi;
    dc_split_range(j->geo->OC, nt, tid, &lo, &hi);
    dc_dconv_pad_sum(j->f, j->N, lo, hi, j->dy, j->dyp, j->db);
}

/* Fixed chunks of images, as dw_task: the chunks, not the threads, decide the sums. */
static void dbw_dw_task(void *ctx, int tid, int nt) {
    const dbw_job *j = ctx;
    const int64_t MK = j->geo->OC * j->geo->C * j->geo->kh * j->geo->kw;
    int64_t c0, c1;
    dc_split_range(DW_CHUNKS, nt, tid, &c0, &c1);
    for (int64_t ch = c0; ch < c1; ch++) {
        int64_t n0, n1;
        dc_split_range(j->N, DW_CHUNKS, (int)ch, &n0, &n1);
        if (n1 > n0) dc_dconv_dw(j->geo, n0, n1, j->xp, j->dyp, j->scratch + tid * j->slot, j->part + ch * MK);
    }
}

/* dW (when not NULL), db and dx (when not NULL) by the direct kernels. */
static void backward_direct(dc_graph *g, dc_node_rec *n, const dc_conv_geom *c, int64_t batch, float *dW, float *dx) {
    dc_node_rec *x = dc_in(g, n, 0);
    const dc_conv_geom f = flip_geom(c);
    const int nt = dc_pool_size(g->pool);
    const int64_t MK = c->OC * c->C * c->kh * c->kw;
    float *w = g->work;
    dbw_job j = {c, &f, batch, n->grad, w + dbw_dyp_off(c), n->n_params > 1 ? dc_pgrad(g, n, 1) : NULL,
                 w + dbw_xp_off(c, batch), w + dbw_scratch_off(c, batch), w, round16(dc_dconv_dw_scratch(c))};
    dc_pool_run(g->pool, dbw_pad_dy_task, &j); /* dy padded as dX's input, and db */
    if (dW) {
        dconv_job p = {c, batch, x->out, NULL, j.xp, NULL, NULL, 0};
        dc_pool_run(g->pool, dconv_pad_task, &p);
        dc_pool_run(g->pool, dbw_dw_task, &j);
        for (int64_t ch = 0; ch < DW_CHUNKS; ch++) {
            int64_t n0, n1;
            dc_split_range(batch, DW_CHUNKS, (int)ch, &n0, &n1);
            if (n1 == n0) continue;
            const float *pp = j.part + ch * MK;
            for (int64_t i = 0; i < MK; i++) dW[i] += pp[i];
        }
    }
    if (dx) {
        float *wt = w + dbw_wt_off(c, batch, nt);
        dc_dconv_weights(&f, dc_pdata(g, n, 0), 1, wt);
        dconv_job d = {&f, batch, NULL, NULL, j.dyp, wt, dx, x->grad_assign ? 0 : DC_CONV_ACC};
        dc_pool_run(g->pool, dconv_run_task, &d);
    }
}

/* ---------------------------------------------------------------- forward / backward */
/* y = max(0, y + add) over the images' outputs, split over the pool: the residual add of
 * conv_forward's paths that cannot add it as they write. */
typedef struct residual_job {
    int64_t n;
    const float *add;
    float *y;
    int relu;
} residual_job;
static void residual_task(void *ctx, int tid, int nt) {
    const residual_job *j = ctx;
    int64_t lo, hi;
    dc_split_range(j->n, nt, tid, &lo, &hi);
    for (int64_t i = lo; i < hi; i++) {
        const float v = j->y[i] + j->add[i];
        j->y[i] = j->relu && !(v > 0.0f) ? 0.0f : v;
    }
}

static void conv_forward_paths(dc_graph *g, dc_node_rec *n, int64_t batch, const float *W, const float *b, int relu,
                               float *y);

/* y = conv(x; W) + b [+ add] (b, add may be NULL), then max(0, .) when relu: the layer's forward
 * with its own parameters, or with the folded ones of dc_conv2d_forward_fused (add: the residual of
 * a fused add).  The channel-blocked Winograd kernels add the residual as they write; the other
 * paths write the convolution, then one pass adds it (the same values either way). */
static void conv_forward(dc_graph *g, dc_node_rec *n, int64_t batch, const float *W, const float *b, int relu,
                         const float *add, float *y) {
    const dc_conv_geom c = geom_of(g, n);
    if (!add) {
        conv_forward_paths(g, n, batch, W, b, relu, y);
        return;
    }
    if (use_wino_fwd(&c, batch) && use_wcb_fwd(&c)) {
        dc_wcb cb;
        dc_wcb_init(&cb, &c, batch, dc_pool_size(g->pool));
        dc_wcb_forward(g->pool, &cb, dc_in(g, n, 0)->out, W, 0, b, add, relu ? DC_CONV_RELU : 0, y, g->work);
        return;
    }
    conv_forward_paths(g, n, batch, W, b, 0, y);
    residual_job r = {batch * c.OC * c.OH * c.OW, add, y, relu};
    dc_pool_run(g->pool, residual_task, &r);
}

static void conv_forward_paths(dc_graph *g, dc_node_rec *n, int64_t batch, const float *W, const float *b, int relu,
                               float *y) {
    const dc_conv_geom c = geom_of(g, n);
    const dc_node_rec *x = dc_in(g, n, 0);
    const int64_t NP = batch * c.OH * c.OW, OCg = c.OC / c.groups, K = c.C / c.groups * c.kh * c.kw;
    const int flags = relu ? DC_CONV_RELU : 0;
    float *res = g->work;
    if (use_wino_fwd(&c, batch)) {
        wino_conv(g, &c, batch, x->out, W, 0, b, flags, y);
        return;
    }
    if (use_dconv(&c)) {
        dconv(g, &c, batch, x->out, W, 0, b, flags, g->work, y);
        return;
    }
    if (explicit_1x1(&c)) {
        float *col = g->work + round16(c.OC * NP);
        explicit_cols(g, &c, batch, x->out, col);
        dc_gemm(g->gemm, 0, 0, c.OC, NP, K, 1.0f, W, K, col, NP, 0.0f, res, NP);
    } else {
        for (int grp = 0; grp < c.groups; grp++) {
            const dc_conv_pack pk = {&c, x->out, batch, grp, 0, 0};
            dc_gemm_packed_b(g->gemm, OCg, NP, K, 1.0f, W + grp * OCg * K, K, 0, dc_conv_pack_col, &pk, 0.0f,
                             res + grp * OCg * NP, NP);
        }
    }
    conv_job r = {&c, batch, NP, res, b, y, NULL, relu};
    dc_pool_run(g->pool, to_nchw_task, &r);
}

dc_status dc_op_conv2d_forward(dc_graph *g, dc_node_rec *n, int64_t batch, int train) {
    conv_forward(g, n, batch, dc_pdata(g, n, 0), n->n_params > 1 ? dc_pdata(g, n, 1) : NULL, 0, NULL, n->out);
    return DC_OK;
}

/* Inference with the batch norm after the layer folded into its filter and bias:
 *   BN(conv(x; W) + b) = conv(x; s W) + s (b - mean) + beta,   s = gamma / sqrt(var + eps)  per channel,
 * and the ReLU after it (or after the layer itself) applied as the output is written.  The folded
 * parameters are computed at each call (OC x K multiplies: nothing beside the convolution), so they
 * follow every change of the weights or statistics. */
dc_status dc_conv2d_forward_fused(dc_graph *g, dc_node_rec *n, int64_t batch, const dc_node_rec *bn, int relu,
                                  const float *add, float *y) {
    const float *W = dc_pdata(g, n, 0), *b = n->n_params > 1 ? dc_pdata(g, n, 1) : NULL;
    if (bn) {
        const dc_conv_geom c = geom_of(g, n);
        const int64_t K = c.C / c.groups * c.kh * c.kw;
        DC_TRY(dc_graph_fold_buffer(g, c.OC * K + c.OC));
        float *Wf = g->fold, *bf = g->fold + c.OC * K;
        const float *gamma = g->params[bn->param0].pub.data, *beta = g->params[bn->param0 + 1].pub.data;
        const float *mean = g->params[bn->param0 + 2].pub.data, *var = g->params[bn->param0 + 3].pub.data;
        for (int64_t o = 0; o < c.OC; o++) {
            const float s = gamma[o] / sqrtf(var[o] + bn->eps);
            for (int64_t k = 0; k < K; k++) Wf[o * K + k] = W[o * K + k] * s;
            bf[o] = ((b ? b[o] : 0.0f) - mean[o]) * s + beta[o];
        }
        W = Wf, b = bf;
    }
    conv_forward(g, n, batch, W, b, relu, add, y);
    return DC_OK;
}

/* dW (when not NULL), db and dx (when not NULL) by the direct kernels or the GEMM paths. */
static void backward_gemm(dc_graph *g, dc_node_rec *n, const dc_conv_geom *cp, int64_t batch, float *dW, float *dx) {
    const dc_conv_geom c = *cp;
    if (direct_bw(&c)) {
        backward_direct(g, n, &c, batch, dW, dx);
        return;
    }
    dc_node_rec *x = dc_in(g, n, 0);
    const int64_t NP = batch * c.OH * c.OW, OCg = c.OC / c.groups, K = c.C / c.groups * c.kh * c.kw;
    float *dres = g->work, *part = g->work + part_off(&c, NP), *col = g->work + col_off(&c, NP);
    const float *W = dc_pdata(g, n, 0);
    conv_job r = {&c, batch, NP, n->grad, NULL, dres, n->n_params > 1 ? dc_pgrad(g, n, 1) : NULL, 0};
    dc_pool_run(g->pool, from_nchw_task, &r);
    float *xcol = NULL; /* explicit_1x1: dW from the subsampled input, copied out as in the forward */
    if (dW && explicit_1x1(&c)) {
        xcol = g->work + xcol_off(&c, batch, dc_pool_size(g->pool));
        explicit_cols(g, &c, batch, x->out, xcol);
    }
    if (dW)
        for (int grp = 0; grp < c.groups; grp++)
            dw_gemm(g, &c, x->out, xcol, grp, OCg, K, batch, dres + grp * OCg * NP, dW + grp * OCg * K, part);
    const dc_conv_geom f = flip_geom(&c);
    if (dx && dx_by_flip(&c) && use_dconv(&f)) {
        dconv(g, &f, batch, n->grad, W, 1, NULL, !x->grad_assign, col, dx);
    } else if (dx) {
        const int64_t nb = dx_chunk_images(&c);
        dx_job d = {g->gemm, &c, batch, NP, nb, col_slot(&c, batch), W, dres, col, dx, !x->grad_assign};
        dc_pool_run(g->pool, dx_task, &d);
    }
}

static void bias_grad_task(void *ctx, int tid, int nt) {
    const conv_job *j = ctx;
    int64_t lo, hi;
    dc_split_range(j->geo->OC, nt, tid, &lo, &hi);
    dc_conv_bias_grad(j->N, j->geo->OC, j->geo->OH * j->geo->OW, lo, hi, j->src, j->db);
}

/* Each of dW and dX takes the Winograd path or the others on its own; the other paths run first
 * (with db), then the Winograd passes, which reuse the workspace. */
void dc_op_conv2d_backward(dc_graph *g, dc_node_rec *n, int64_t batch) {
    const dc_conv_geom c = geom_of(g, n);
    dc_node_rec *x = dc_in(g, n, 0);
    float *dW = dc_pgrad(g, n, 0), *db = n->n_params > 1 ? dc_pgrad(g, n, 1) : NULL;
    const int wdw = dW && use_wino_dw(&c, batch), wdx = x->grad && use_wino_dx(&c, batch);
    if ((dW && !wdw) || (x->grad && !wdx)) {
        backward_gemm(g, n, &c, batch, wdw ? NULL : dW, wdx ? NULL : x->grad);
    } else if (db) {
        conv_job r = {&c, batch, 0, n->grad, NULL, NULL, db, 0};
        dc_pool_run(g->pool, bias_grad_task, &r);
    }
    if (wdw && dc_wcb_ok(&c)) {
        dc_wcb cb;
        dc_wcb_init(&cb, &c, batch, dc_pool_size(g->pool));
        dc_wcb_dw(g->pool, &cb, x->out, n->grad, dW, g->work);
    } else if (wdw) {
        dc_wino w;
        dc_wino_init(&w, &c, dc_wino_pick_m(&c), batch, dc_pool_size(g->pool), 0);
        dc_wino_dw(g->gemm, &w, x->out, n->grad, dW, g->work);
    }
    if (wdx) {
        const dc_conv_geom f = flip_geom(&c);
        wino_conv(g, &f, batch, n->grad, dc_pdata(g, n, 0), 1, NULL, !x->grad_assign, x->grad);
    }
}

/* ---------------------------------------------------------------- ConvTranspose2d
 * A transposed convolution is the input gradient of the convolution t that maps its output back to
 * its input: t's input is this op's output y [N][C][H][W] (C = units), t's output is this op's input
 * x [N][OC][OH][OW], and the weight [OC][C/g][KH][KW] is t's filter, in t's layout.  So, with P the
 * pixels of x and xres [OC][N*P] the input reordered as t's GEMM result:
 *   forward  y  = col2im(W_gᵀ · xres_g) + b                (t's dX path: dx_task, chunk by chunk)
 *   dX       dx (+)= reorder(W_g · col_g(dy))              (t's forward: implicit im2col of dy)
 *   dW       dW += xres_g · col_g(dy)ᵀ                     (t's dW path: dw_gemm)
 *   db       db += the sums of dy per channel.
 * Only the GEMM paths: the usual use, a k x k stride-k upsampling, has no overlap between taps for
 * the direct or Winograd kernels to exploit.  output_pad < stride keeps t's output size equal to the
 * input's (dc_conv_out_size(H) = OH), so t is an ordinary convolution geometry. */
static dc_conv_geom tgeom_of(const dc_graph *g, const dc_node_rec *n) {
    const dc_node_rec *x = &g->nodes[n->in[0]];
    dc_conv_geom c = {.C = n->units, .H = n->shape.dim[1], .W = n->shape.dim[2], .OC = x->shape.dim[0],
                      .OH = x->shape.dim[1], .OW = x->shape.dim[2], .kh = n->kh, .kw = n->kw, .sh = n->sh,
                      .sw = n->sw, .ph = n->ph, .pw = n->pw, .dh = n->dh, .dw = n->dw, .groups = n->groups};
    return c;
}

/* (in - 1)*s - 2p + d(k - 1) + op + 1: the inverse of dc_conv_out_size for op < s. */
static int64_t tconv_out_size(int64_t in, int k, int s, int p, int d, int op) {
    return (in - 1) * s - 2 * (int64_t)p + (int64_t)d * (k - 1) + op + 1;
}

dc_status dc_op_conv_transpose2d_infer(dc_graph *g, dc_node_rec *n) {
    char sb[96];
    const dc_node_rec *x = dc_in(g, n, 0);
    if (x->shape.rank != 3)
        return DC_ERR(DC_ERR_SHAPE, "conv_transpose2d '%s': input '%s' must be [C, H, W] per example, got %s", n->name,
                      x->name, dc_shape_str(x->shape, sb, sizeof sb));
    const int64_t C = x->shape.dim[0], H = x->shape.dim[1], W = x->shape.dim[2], OC = n->units;
    if (n->kh < 1 || n->kw < 1 || n->sh < 1 || n->sw < 1 || n->dh < 1 || n->dw < 1 || n->ph < 0 || n->pw < 0)
        return DC_ERR(DC_ERR_ARG,
                      "conv_transpose2d '%s': kernel %dx%d, stride %dx%d, dilation %dx%d must be >= 1 and padding "
                      "%dx%d >= 0",
                      n->name, n->kh, n->kw, n->sh, n->sw, n->dh, n->dw, n->ph, n->pw);
    if (n->oph < 0 || n->opw < 0 || n->oph >= n->sh || n->opw >= n->sw)
        return DC_ERR(DC_ERR_ARG, "conv_transpose2d '%s': output padding %dx%d must be >= 0 and below the stride %dx%d",
                      n->name, n->oph, n->opw, n->sh, n->sw);
    if (n->groups < 1 || OC < 1 || C % n->groups || OC % n->groups)
        return DC_ERR(C % (n->groups < 1 ? 1 : n->groups) ? DC_ERR_SHAPE : DC_ERR_ARG,
                      "conv_transpose2d '%s': %d groups must divide both the %lld input and %lld output channels",
                      n->name, n->groups, (long long)C, (long long)OC);
    const int64_t OH = tconv_out_size(H, n->kh, n->sh, n->ph, n->dh, n->oph);
    const int64_t OW = tconv_out_size(W, n->kw, n->sw, n->pw, n->dw, n->opw);
    if (OH < 1 || OW < 1 || OH > (1 << 24) || OW > (1 << 24))
        return DC_ERR(DC_ERR_SHAPE,
                      "conv_transpose2d '%s': input %lldx%lld with kernel %dx%d, stride %dx%d, padding %dx%d, output "
                      "padding %dx%d, dilation %dx%d gives output %lldx%lld",
                      n->name, (long long)H, (long long)W, n->kh, n->kw, n->sh, n->sw, n->ph, n->pw, n->oph, n->opw,
                      n->dh, n->dw, (long long)OH, (long long)OW);
    n->shape = dc_shape3(OC, OH, OW);
    return DC_OK;
}

int64_t dc_op_conv_transpose2d_saved(const dc_graph *g, const dc_node_rec *n, int64_t batch) { return 0; }

/* xres at 0, t's partial dW products at part_off, then either the dx_task slots (forward) or the
 * GEMM result of dX (backward) at col_off. */
int64_t dc_op_conv_transpose2d_workspace(const dc_graph *g, const dc_node_rec *n, int64_t batch) {
    const dc_conv_geom c = tgeom_of(g, n);
    const int64_t NP = batch * c.OH * c.OW;
    const int64_t fwd = col_off(&c, NP) + dc_pool_size(g->pool) * col_slot(&c, batch);
    const int64_t bwd = col_off(&c, NP) + round16(c.OC * NP);
    return fwd > bwd ? fwd : bwd;
}

int64_t dc_op_conv_transpose2d_flops(const dc_graph *g, const dc_node_rec *n) {
    const dc_conv_geom c = tgeom_of(g, n);
    return 2 * c.OC * c.OH * c.OW * (c.C / c.groups) * c.kh * c.kw;
}

/* y[n][c][..] += b[c] for the images of this thread. */
static void tconv_bias_task(void *ctx, int tid, int nt) {
    const conv_job *j = ctx;
    const int64_t C = j->geo->C, HW = j->geo->H * j->geo->W;
    int64_t lo, hi;
    dc_split_range(j->N, nt, tid, &lo, &hi);
    for (int64_t i = lo; i < hi; i++)
        for (int64_t c = 0; c < C; c++) {
            float *y = j->dst + (i * C + c) * HW;
            const float b = j->b[c];
            for (int64_t p = 0; p < HW; p++) y[p] += b;
        }
}

dc_status dc_op_conv_transpose2d_forward(dc_graph *g, dc_node_rec *n, int64_t batch, int train) {
    const dc_conv_geom c = tgeom_of(g, n);
    const int64_t NP = batch * c.OH * c.OW;
    float *xres = g->work, *col = g->work + col_off(&c, NP);
    conv_job r = {&c, batch, NP, dc_in(g, n, 0)->out, NULL, xres, NULL, 0};
    dc_pool_run(g->pool, from_nchw_task, &r);
    dx_job d = {g->gemm, &c, batch, NP, dx_chunk_images(&c), col_slot(&c, batch), dc_pdata(g, n, 0), xres, col,
                n->out, 0};
    dc_pool_run(g->pool, dx_task, &d);
    if (n->n_params > 1) {
        conv_job b = {&c, batch, 0, NULL, dc_pdata(g, n, 1), n->out, NULL, 0};
        dc_pool_run(g->pool, tconv_bias_task, &b);
    }
    return DC_OK;
}

/* dx[n][o][p] (+)= res[o][n*P + p] for the images of this thread. */
typedef struct tconv_dx_job {
    const dc_conv_geom *geo;
    int64_t N, ld;
    const float *res;
    float *dx;
    int accumulate;
} tconv_dx_job;

static void tconv_dx_task(void *ctx, int tid, int nt) {
    const tconv_dx_job *j = ctx;
    const int64_t OC = j->geo->OC, P = j->geo->OH * j->geo->OW;
    int64_t lo, hi;
    dc_split_range(j->N, nt, tid, &lo, &hi);
    if (!j->accumulate) {
        dc_conv_res_to_nchw(OC, P, j->ld, lo, hi, j->res, NULL, 0, j->dx);
        return;
    }
    for (int64_t i = lo; i < hi; i++)
        for (int64_t o = 0; o < OC; o++) {
            const float *s = j->res + o * j->ld + i * P;
            float *dx = j->dx + (i * OC + o) * P;
            for (int64_t p = 0; p < P; p++) dx[p] += s[p];
        }
}

void dc_op_conv_transpose2d_backward(dc_graph *g, dc_node_rec *n, int64_t batch) {
    const dc_conv_geom c = tgeom_of(g, n);
    dc_node_rec *x = dc_in(g, n, 0);
    const int64_t NP = batch * c.OH * c.OW, OCg = c.OC / c.groups, K = c.C / c.groups * c.kh * c.kw;
    const float *W = dc_pdata(g, n, 0), *dy = n->grad;
    float *dW = dc_pgrad(g, n, 0), *xres = g->work, *part = g->work + part_off(&c, NP);
    float *res = g->work + col_off(&c, NP);
    if (n->n_params > 1 && dc_pgrad(g, n, 1)) { /* db over y's channels: t's input geometry */
        const dc_conv_geom yg = {.OC = c.C, .OH = c.H, .OW = c.W};
        conv_job r = {&yg, batch, 0, dy, NULL, NULL, dc_pgrad(g, n, 1), 0};
        dc_pool_run(g->pool, bias_grad_task, &r);
    }
    if (dW) {
        conv_job r = {&c, batch, NP, x->out, NULL, xres, NULL, 0};
        dc_pool_run(g->pool, from_nchw_task, &r);
        for (int grp = 0; grp < c.groups; grp++)
            dw_gemm(g, &c, dy, NULL, grp, OCg, K, batch, xres + grp * OCg * NP, dW + grp * OCg * K, part);
    }
    if (x->grad) {
        for (int grp = 0; grp < c.groups; grp++) {
            const dc_conv_pack pk = {&c, dy, batch, grp, 0, 0};
            dc_gemm_packed_b(g->gemm, OCg, NP, K, 1.0f, W + grp * OCg * K, K, 0, dc_conv_pack_col, &pk, 0.0f,
                             res + grp * OCg * NP, NP);
        }
        tconv_dx_job r = {&c, batch, NP, res, x->grad, !x->grad_assign};
        dc_pool_run(g->pool, tconv_dx_task, &r);
    }
}
