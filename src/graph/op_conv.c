/* op_conv.c — the Conv2d op: shape inference, forward and backward glue around the kernels in
 * kernels/conv.c and the GEMMs of kernels/gemm.c.
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
 * Why implicit: the column matrix is KH*KW times the input; writing it and reading it back made
 * LeNet's convolutions memory-bound (im2col was 40% of training time) and the 3x3 layers' workspace
 * hundreds of MB.  Gathering a 16-pixel panel right before the micro-kernel uses it keeps it in L1.
 * Workspace: res/dres [OC][N*P], the partial dW products, and one dcol chunk per thread only when
 * the input needs a gradient.
 * Deliberately not here: the math (kernels/conv.c, kernels/gemm.c) and the parameters and their
 * initialisation (nn/conv_layers.c).  Forward saves nothing for backward. */
#include "graph/graph.h"
#include "kernels/conv.h"

#include <stdio.h>

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
/* One dx chunk's dcol per thread. */
static int64_t col_slot(const dc_conv_geom *c, int64_t batch) {
    const int64_t nb = dx_chunk_images(c) < batch ? dx_chunk_images(c) : batch;
    return round16(c->C * c->kh * c->kw * nb * c->OH * c->OW);
}

int64_t dc_op_conv2d_workspace(const dc_graph *g, const dc_node_rec *n, int64_t batch) {
    const dc_conv_geom c = geom_of(g, n);
    const int64_t NP = batch * c.OH * c.OW;
    /* res, the partial dW products, and one dcol chunk per thread for dx (when the input gets a gradient) */
    return col_off(&c, NP) + (g->nodes[n->in[0]].needs_grad ? dc_pool_size(g->pool) * col_slot(&c, batch) : 0);
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
} conv_job;

static void to_nchw_task(void *ctx, int tid, int nt) {
    const conv_job *j = ctx;
    int64_t lo, hi;
    dc_split_range(j->N, nt, tid, &lo, &hi);
    dc_conv_res_to_nchw(j->geo->OC, j->geo->OH * j->geo->OW, j->ld, lo, hi, j->src, j->b, j->dst);
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
    float *part; /* DW_CHUNKS x [M][K] */
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
        const dc_conv_pack pk = {j->geo, j->x, j->N, j->grp, p0, 0};
        dc_gemm_packed_b_st(j->gemm, tid, j->M, j->K, len, 1.0f, j->dres + p0, j->NP, 0, dc_conv_pack_colT, &pk, 0.0f,
                            j->part + ch * j->M * j->K, j->K);
    }
}

static void dw_gemm(dc_graph *g, const dc_conv_geom *geo, const float *x, int grp, int64_t M, int64_t K, int64_t N,
                    const float *dres, float *dW, float *part) {
    const int64_t P = geo->OH * geo->OW;
    dw_job j = {g->gemm, geo, x, grp, M, K, N * P, N, P, dres, part};
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
        dc_col2im(c, len, 0, (n1 - n0) * c->C, col, j->dx + n0 * c->C * c->H * c->W);
    }
}

/* ---------------------------------------------------------------- forward / backward */
dc_status dc_op_conv2d_forward(dc_graph *g, dc_node_rec *n, int64_t batch, int train) {
    const dc_conv_geom c = geom_of(g, n);
    const dc_node_rec *x = dc_in(g, n, 0);
    const int64_t NP = batch * c.OH * c.OW, OCg = c.OC / c.groups, K = c.C / c.groups * c.kh * c.kw;
    float *res = g->work;
    const float *W = dc_pdata(g, n, 0);
    for (int grp = 0; grp < c.groups; grp++) {
        const dc_conv_pack pk = {&c, x->out, batch, grp, 0, 0};
        dc_gemm_packed_b(g->gemm, OCg, NP, K, 1.0f, W + grp * OCg * K, K, 0, dc_conv_pack_col, &pk, 0.0f,
                         res + grp * OCg * NP, NP);
    }
    conv_job r = {&c, batch, NP, res, n->n_params > 1 ? dc_pdata(g, n, 1) : NULL, n->out, NULL};
    dc_pool_run(g->pool, to_nchw_task, &r);
    return DC_OK;
}

void dc_op_conv2d_backward(dc_graph *g, dc_node_rec *n, int64_t batch) {
    const dc_conv_geom c = geom_of(g, n);
    dc_node_rec *x = dc_in(g, n, 0);
    const int64_t NP = batch * c.OH * c.OW, OCg = c.OC / c.groups, K = c.C / c.groups * c.kh * c.kw;
    float *dres = g->work, *part = g->work + part_off(&c, NP), *col = g->work + col_off(&c, NP);
    const float *W = dc_pdata(g, n, 0);
    float *dW = dc_pgrad(g, n, 0);
    conv_job r = {&c, batch, NP, n->grad, NULL, dres, n->n_params > 1 ? dc_pgrad(g, n, 1) : NULL};
    dc_pool_run(g->pool, from_nchw_task, &r);
    if (dW)
        for (int grp = 0; grp < c.groups; grp++)
            dw_gemm(g, &c, x->out, grp, OCg, K, batch, dres + grp * OCg * NP, dW + grp * OCg * K, part);
    if (x->grad) {
        const int64_t nb = dx_chunk_images(&c);
        dx_job d = {g->gemm, &c, batch, NP, nb, col_slot(&c, batch), W, dres, col, x->grad};
        dc_pool_run(g->pool, dx_task, &d);
    }
}
