/* op_conv.c — the Conv2d op: shape inference, forward and backward glue around the kernels in
 * kernels/conv.c and dc_gemm.
 *
 * Forward (im2col + GEMM over the whole mini-batch, as in the textbook):
 *   col [C*KH*KW][N*P]  = im2col(x)                        (parallel over (image, channel) units)
 *   res [OC][N*P]       = W_g [OCg][K] · col_g [K][N*P]    (one dc_gemm per group)
 *   y [N][OC][P]        = res reordered to NCHW, + bias    (parallel over images; bias fused)
 * Backward:
 *   dres [OC][N*P]      = dy reordered, db += its row sums (parallel over channels)
 *   col                 = im2col(x) again (the workspace is shared with other nodes, nothing kept)
 *   dW_g += dres_g · col_gᵀ;  then, when x needs a gradient, col_g = W_gᵀ · dres_g in place and
 *   dx += col2im(col)                                      (parallel over (image, channel) units)
 * col and res live in the graph's shared workspace: (C*KH*KW + OC)*N*P floats.
 * Deliberately not here: the math (kernels/conv.c, kernels/gemm.c) and the parameters and their
 * initialisation (nn/conv_layers.c).  Forward saves nothing for backward. */
#include "graph/graph.h"
#include "kernels/conv.h"

#include <stdio.h>

#define DW_PANEL 16 /* the GEMM micro-kernel's NR: the width of one packed panel of B */
#define DW_CHUNKS 8 /* dW's GEMM depth (the batch) in this many fixed ranges, see dw_gemm */

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

int64_t dc_op_conv2d_workspace(const dc_graph *g, const dc_node_rec *n, int64_t batch) {
    const dc_conv_geom c = geom_of(g, n);
    /* col, res, the partial dW products */
    return (c.C * c.kh * c.kw + c.OC) * batch * c.OH * c.OW + DW_CHUNKS * c.OC / c.groups * (c.C / c.groups * c.kh * c.kw + DW_PANEL);
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

static void im2col_task(void *ctx, int tid, int nt) {
    const conv_job *j = ctx;
    int64_t lo, hi;
    dc_split_range(j->N * j->geo->C, nt, tid, &lo, &hi);
    dc_im2col(j->geo, j->ld, lo, hi, j->src, j->dst);
}

static void col2im_task(void *ctx, int tid, int nt) {
    const conv_job *j = ctx;
    int64_t lo, hi;
    dc_split_range(j->N * j->geo->C, nt, tid, &lo, &hi);
    dc_col2im(j->geo, j->ld, lo, hi, j->src, j->dst);
}

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

/* dW [OCg][K] += dres [OCg][NP] · colᵀ.  The GEMM's depth NP is cut into DW_CHUNKS fixed ranges
 * of whole images; thread t computes the partial products of its chunks (dc_gemm_st, its own
 * packing buffers) and the caller adds them to dW in chunk order.  Why not one dc_gemm: it would
 * split dW's K columns over the threads, so each thread reads col rows that the other thread wrote
 * in im2col (a cross-core transfer per cache line, which made LeNet conv1's backward slower on 2
 * threads than on 1); split by images, each thread reads what it wrote.  The chunks do not depend
 * on the thread count, so neither does the result.
 * Within a chunk, when K is not a multiple of the GEMM's panel width 16 the last panel would be
 * partial, and the GEMM packs a partial transposed panel element by element (LeNet conv1, K = 25:
 * 9 of the 25 rows); the last panel is computed as the full panel [K-16, K) instead, into tmp. */
typedef struct dw_job {
    dc_gemm_ctx *gemm;
    int64_t M, K, NP, N, P;
    const float *dres, *col;
    float *part; /* DW_CHUNKS x ([M][K] partial + [M][16] tmp) */
} dw_job;

static void dw_task(void *ctx, int tid, int nt) {
    const dw_job *j = ctx;
    int64_t c0, c1;
    dc_split_range(DW_CHUNKS, nt, tid, &c0, &c1);
    const int64_t M = j->M, K = j->K, full = K >= DW_PANEL ? K / DW_PANEL * DW_PANEL : K;
    for (int64_t ch = c0; ch < c1; ch++) {
        int64_t n0, n1;
        dc_split_range(j->N, DW_CHUNKS, (int)ch, &n0, &n1);
        float *out = j->part + ch * M * (K + DW_PANEL), *tmp = out + M * K;
        const int64_t p0 = n0 * j->P, len = (n1 - n0) * j->P;
        if (len == 0) continue;
        dc_gemm_st(j->gemm, tid, 0, 1, M, full, len, 1.0f, j->dres + p0, j->NP, j->col + p0, j->NP, 0.0f, out, K);
        if (full < K) { /* the shifted last panel: its first columns are already in out */
            const int64_t first = K - DW_PANEL;
            dc_gemm_st(j->gemm, tid, 0, 1, M, DW_PANEL, len, 1.0f, j->dres + p0, j->NP, j->col + first * j->NP + p0,
                       j->NP, 0.0f, tmp, DW_PANEL);
            for (int64_t m = 0; m < M; m++)
                for (int64_t c = full; c < K; c++) out[m * K + c] = tmp[m * DW_PANEL + c - first];
        }
    }
}

static void dw_gemm(dc_graph *g, int64_t M, int64_t K, int64_t N, int64_t P, const float *dres, const float *col,
                    float *dW, float *part) {
    dw_job j = {g->gemm, M, K, N * P, N, P, dres, col, part};
    dc_pool_run(g->pool, dw_task, &j);
    for (int64_t ch = 0; ch < DW_CHUNKS; ch++) {
        int64_t n0, n1;
        dc_split_range(N, DW_CHUNKS, (int)ch, &n0, &n1);
        if (n1 == n0) continue;
        const float *pp = part + ch * M * (K + DW_PANEL);
        for (int64_t i = 0; i < M * K; i++) dW[i] += pp[i];
    }
}

/* ---------------------------------------------------------------- forward / backward */
dc_status dc_op_conv2d_forward(dc_graph *g, dc_node_rec *n, int64_t batch, int train) {
    const dc_conv_geom c = geom_of(g, n);
    const dc_node_rec *x = dc_in(g, n, 0);
    const int64_t NP = batch * c.OH * c.OW, OCg = c.OC / c.groups, K = c.C / c.groups * c.kh * c.kw;
    float *col = g->work, *res = g->work + c.groups * K * NP;
    const float *W = dc_pdata(g, n, 0);
    conv_job j = {&c, batch, NP, x->out, NULL, col, NULL};
    dc_pool_run(g->pool, im2col_task, &j);
    for (int grp = 0; grp < c.groups; grp++)
        dc_gemm(g->gemm, 0, 0, OCg, NP, K, 1.0f, W + grp * OCg * K, K, col + grp * K * NP, NP, 0.0f,
                res + grp * OCg * NP, NP);
    conv_job r = {&c, batch, NP, res, n->n_params > 1 ? dc_pdata(g, n, 1) : NULL, n->out, NULL};
    dc_pool_run(g->pool, to_nchw_task, &r);
    return DC_OK;
}

void dc_op_conv2d_backward(dc_graph *g, dc_node_rec *n, int64_t batch) {
    const dc_conv_geom c = geom_of(g, n);
    dc_node_rec *x = dc_in(g, n, 0);
    const int64_t NP = batch * c.OH * c.OW, OCg = c.OC / c.groups, K = c.C / c.groups * c.kh * c.kw;
    float *col = g->work, *dres = g->work + c.groups * K * NP;
    const float *W = dc_pdata(g, n, 0);
    float *dW = dc_pgrad(g, n, 0);
    conv_job r = {&c, batch, NP, n->grad, NULL, dres, n->n_params > 1 ? dc_pgrad(g, n, 1) : NULL};
    dc_pool_run(g->pool, from_nchw_task, &r);
    conv_job j = {&c, batch, NP, x->out, NULL, col, NULL};
    dc_pool_run(g->pool, im2col_task, &j);
    for (int grp = 0; grp < c.groups; grp++) {
        float *colg = col + grp * K * NP;
        const float *dresg = dres + grp * OCg * NP, *Wg = W + grp * OCg * K;
        if (dW) dw_gemm(g, OCg, K, batch, c.OH * c.OW, dresg, colg, dW + grp * OCg * K, dres + c.OC * NP);
        if (x->grad) dc_gemm(g->gemm, 1, 0, K, NP, OCg, 1.0f, Wg, K, dresg, NP, 0.0f, colg, NP);
    }
    if (x->grad) {
        conv_job d = {&c, batch, NP, col, NULL, x->grad, NULL};
        dc_pool_run(g->pool, col2im_task, &d);
    }
}
