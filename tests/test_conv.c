/* test_conv.c — Conv2d: the graph's implicit-im2col GEMM forward/backward against the direct-convolution
 * reference kernels on many geometries (odd sizes, batch 1, strides, padding, 1x1, rectangular
 * kernels, dilation, groups, depthwise, with and without bias, several dx chunks, 2 threads and
 * none), the implicit-im2col packers (vector and portable) against panels cut from an explicit
 * im2col, finite-difference gradient checks, the output-size formula, invalid geometries, and
 * bitwise determinism. */
#include "gradcheck.h"
#include "graph/graph.h"
#include "kernels/conv.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

typedef struct cfg {
    int C, H, W, OC, kh, kw, sh, sw, ph, pw, dh, dw, groups, no_bias, N;
} cfg;

static dc_conv2d_opts opts_of(const cfg *c) {
    dc_conv2d_opts o = {.kh = c->kh, .kw = c->kw, .stride_h = c->sh, .stride_w = c->sw, .pad_h = c->ph,
                        .pad_w = c->pw, .dilation_h = c->dh, .dilation_w = c->dw, .groups = c->groups,
                        .no_bias = c->no_bias, .init = DC_INIT_NORMAL, .init_value = 0.3f};
    return o;
}

/* Every element within 1e-4 of the reference's largest magnitude (float sums vs double sums). */
static void check_close(const char *what, const cfg *c, const float *got, const float *want, int64_t n) {
    const int64_t bad = dc_test_mismatch(got, want, n, 1e-4);
    CHECK_MSG(bad < 0, "%s mismatch at %lld: %.7g vs reference %.7g (C%d %dx%d -> OC%d k%dx%d s%dx%d p%dx%d d%dx%d g%d "
                       "bias%d N%d)",
              what, (long long)bad, bad >= 0 ? got[bad] : 0.0, bad >= 0 ? want[bad] : 0.0, c->C, c->H, c->W, c->OC,
              c->kh, c->kw, c->sh, c->sw, c->ph, c->pw, c->dh, c->dw, c->groups, !c->no_bias, c->N);
}

/* x -> conv -> flatten -> mse(t): forward and backward on the graph, then the reference kernels on
 * the same x, W, b and on the dy the graph computed (the flatten view shares the conv's gradient). */
static void compare_with_reference(const cfg *c, dc_pool *pool, int x_needs_grad) {
    dc_graph *g;
    dc_rng r;
    dc_rng_seed(&r, (uint64_t)(c->C * 1000003 + c->H * 1009 + c->W * 101 + c->OC * 13 + c->kh + c->groups));
    CHECK_OK(dc_graph_create(&g));
    dc_shape xs = dc_shape3(c->C, c->H, c->W);
    dc_node x = x_needs_grad ? dc_input_grad(g, "x", xs) : dc_input(g, "x", xs);
    dc_conv2d_opts o = opts_of(c);
    dc_node y = dc_conv2d_ex(g, x, c->OC, "conv", &o);
    dc_node t = dc_input(g, "t", dc_shape1(dc_shape_numel(dc_node_shape(g, y))));
    dc_node l = dc_mse(g, dc_flatten(g, y), t);
    CHECK_OK(dc_graph_status(g));
    if (dc_graph_status(g) != DC_OK) {
        dc_graph_free(g);
        return;
    }
    dc_graph_opts go = {.pool = pool, .seed = 7};
    CHECK_OK(dc_graph_plan(g, c->N + 2, &go)); /* planned for more than we run: partial batch */
    const int64_t N = c->N, nx = N * c->C * c->H * c->W, ny = N * dc_shape_numel(dc_node_shape(g, y));
    dc_test_fill(&r, dc_graph_data(g, x), nx, 1.0f, 0.0f);
    dc_test_fill(&r, dc_graph_data(g, t), ny, 1.0f, 0.0f);
    const dc_param *p = dc_graph_params(g);
    if (!c->no_bias) dc_test_fill(&r, p[1].data, c->OC, 0.5f, 0.0f);
    CHECK_OK(dc_graph_forward(g, N, 1));
    dc_graph_zero_grad(g);
    CHECK_OK(dc_graph_backward(g, l));

    const dc_conv_geom geo = {.C = c->C, .H = c->H, .W = c->W, .OC = c->OC, .OH = dc_node_shape(g, y).dim[1],
                              .OW = dc_node_shape(g, y).dim[2], .kh = c->kh, .kw = c->kw,
                              .sh = c->sh ? c->sh : 1, .sw = c->sw ? c->sw : 1, .ph = c->ph, .pw = c->pw,
                              .dh = c->dh ? c->dh : 1, .dw = c->dw ? c->dw : 1, .groups = c->groups ? c->groups : 1};
    float *yref = calloc((size_t)ny, sizeof(float)), *dx = calloc((size_t)nx, sizeof(float));
    float *dw = calloc((size_t)p[0].numel, sizeof(float)), *db = calloc((size_t)c->OC, sizeof(float));
    dc_conv2d_ref_forward(&geo, N, dc_graph_data(g, x), p[0].data, c->no_bias ? NULL : p[1].data, yref);
    check_close("forward", c, dc_graph_data(g, y), yref, ny);
    dc_conv2d_ref_backward(&geo, N, dc_graph_data(g, x), p[0].data, dc_graph_grad(g, y), dx, dw,
                           c->no_bias ? NULL : db);
    check_close("dW", c, p[0].grad, dw, p[0].numel);
    if (!c->no_bias) check_close("db", c, p[1].grad, db, c->OC);
    if (x_needs_grad) check_close("dx", c, dc_graph_grad(g, x), dx, nx);
    else CHECK(dc_graph_grad(g, x) == NULL);
    free(yref);
    free(dx);
    free(dw);
    free(db);
    dc_graph_free(g);
}

/* C H W OC kh kw sh sw ph pw dh dw groups no_bias N */
static const cfg cases[] = {
    {1, 28, 28, 6, 5, 5, 1, 1, 0, 0, 1, 1, 1, 0, 3},   /* LeNet conv1          */
    {6, 12, 12, 16, 5, 5, 0, 0, 0, 0, 0, 0, 0, 0, 2},  /* LeNet conv2, 0 = 1   */
    {3, 7, 9, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 1},     /* batch 1, "same"      */
    {2, 11, 10, 5, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0, 5},   /* stride 2             */
    {3, 13, 8, 2, 3, 5, 3, 3, 1, 2, 1, 1, 1, 1, 4},    /* 3x5, stride 3, no b  */
    {4, 6, 6, 8, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 3},     /* 1x1                  */
    {5, 9, 7, 3, 1, 1, 2, 2, 0, 0, 1, 1, 1, 1, 2},     /* 1x1 stride 2         */
    {2, 10, 10, 4, 3, 3, 1, 1, 0, 0, 2, 2, 1, 0, 3},   /* dilation 2           */
    {4, 9, 9, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2, 0, 3},     /* groups 2             */
    {6, 8, 7, 9, 3, 3, 2, 1, 1, 0, 2, 1, 3, 0, 2},     /* groups 3, mixed      */
    {8, 7, 7, 8, 3, 3, 1, 1, 1, 1, 1, 1, 8, 1, 3},     /* depthwise, no bias   */
    {4, 7, 5, 8, 3, 3, 2, 2, 1, 1, 1, 1, 4, 0, 2},     /* depthwise x2 stride 2*/
    {3, 5, 5, 2, 5, 5, 2, 2, 2, 2, 1, 1, 1, 0, 3},     /* big padding          */
    {2, 4, 4, 3, 3, 3, 1, 1, 3, 3, 1, 1, 1, 0, 2},     /* windows all padding  */
    {3, 1, 9, 4, 1, 3, 1, 1, 0, 1, 1, 1, 1, 0, 3},     /* H = 1                */
    {2, 6, 13, 3, 2, 4, 1, 3, 0, 1, 3, 1, 1, 0, 17},   /* odd batch, mixed     */
    {16, 16, 16, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 7},  /* dx in 3 image chunks */
    {8, 20, 21, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2, 1, 5},   /* chunks, groups       */
    {2, 30, 40, 5, 5, 5, 1, 1, 2, 2, 1, 1, 1, 0, 3},   /* long rows, padding   */
    /* the direct padded-plane path (stride 1, groups 1, rows long enough, C*KH*KW and OC*KH*KW
     * >= 64 for the forward and dX; see op_conv.c use_dconv) */
    {9, 17, 23, 11, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 3},  /* odd sizes, C, OC % 4 */
    {8, 20, 20, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 1},   /* batch 1              */
    {8, 26, 26, 9, 3, 3, 1, 1, 0, 0, 1, 1, 1, 1, 2},   /* pad 0: dW by GEMM    */
    {8, 22, 25, 8, 3, 3, 1, 1, 2, 2, 2, 2, 1, 0, 2},   /* dilation 2, "same"   */
    {5, 19, 27, 5, 3, 5, 1, 1, 1, 2, 1, 1, 1, 0, 2},   /* 3x5 "same"           */
    {13, 28, 28, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 2},  /* ResNet-like rows     */
    {8, 20, 20, 8, 3, 3, 1, 1, 1, 1, 1, 1, 2, 0, 2},   /* groups: falls back   */
    {8, 20, 20, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0, 2},   /* stride 2: falls back */
};

TEST(conv_matches_reference_no_pool) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) compare_with_reference(&cases[i], NULL, 1);
}

TEST(conv_matches_reference_two_threads) {
    dc_pool *pool;
    CHECK_OK(dc_pool_create(2, &pool));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) compare_with_reference(&cases[i], pool, 1);
    dc_pool_free(pool);
}

TEST(conv_matches_reference_random_geometries) {
    dc_pool *pool;
    CHECK_OK(dc_pool_create(2, &pool));
    dc_rng r;
    dc_rng_seed(&r, 2024);
    for (int t = 0; t < 24; t++) {
        cfg c;
        int gch = 1 + (int)dc_rng_below(&r, 3);
        c.groups = gch;
        c.C = gch * (1 + (int)dc_rng_below(&r, 3));
        c.OC = gch * (1 + (int)dc_rng_below(&r, 3));
        c.kh = 1 + (int)dc_rng_below(&r, 4);
        c.kw = 1 + (int)dc_rng_below(&r, 4);
        c.sh = 1 + (int)dc_rng_below(&r, 3);
        c.sw = 1 + (int)dc_rng_below(&r, 3);
        c.ph = (int)dc_rng_below(&r, 3);
        c.pw = (int)dc_rng_below(&r, 3);
        c.dh = 1 + (int)dc_rng_below(&r, 2);
        c.dw = 1 + (int)dc_rng_below(&r, 2);
        c.no_bias = (int)dc_rng_below(&r, 2);
        c.N = 1 + (int)dc_rng_below(&r, 5);
        /* input at least as large as the dilated kernel */
        c.H = c.dh * (c.kh - 1) + 1 + (int)dc_rng_below(&r, 9);
        c.W = c.dw * (c.kw - 1) + 1 + (int)dc_rng_below(&r, 9);
        compare_with_reference(&c, t % 2 ? pool : NULL, t % 5 != 0);
    }
    dc_pool_free(pool);
}

TEST(conv_input_without_gradient) {
    /* dc_input (no gradient): dx is skipped, dW/db still match */
    compare_with_reference(&cases[0], NULL, 0);
    compare_with_reference(&cases[9], NULL, 0);
}

/* ---------------------------------------------------------------- direct padded-plane kernels */
/* The dc_dconv_* kernels called directly (not through the graph) against the reference, with the
 * units, planes and images cut into uneven ranges as threads would: forward with bias, dX (the
 * flipped filter on dy, accumulated onto a non-zero dx), dW from two image chunks, db.
 * Tolerance: check_close's 1e-4 of the largest reference value (float fma chains vs double sums;
 * the direct path sums the same products as the GEMM, only in another order). */
/* FNV-1a over the bytes of n floats: "the same bits" in one number. */
static uint64_t fingerprint(const float *v, int64_t n) {
    uint64_t h = 1469598103934665603ull;
    const unsigned char *p = (const unsigned char *)v;
    for (size_t i = 0; i < (size_t)n * sizeof(float); i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* bits (may be NULL): fingerprints of the forward output and of dx. */
static void direct_vs_reference(const cfg *c, uint64_t bits[2]) {
    const dc_conv_geom g = {.C = c->C, .H = c->H, .W = c->W, .OC = c->OC,
                            .OH = dc_conv_out_size(c->H, c->kh, 1, c->ph, c->dh),
                            .OW = dc_conv_out_size(c->W, c->kw, 1, c->pw, c->dw), .kh = c->kh, .kw = c->kw, .sh = 1,
                            .sw = 1, .ph = c->ph, .pw = c->pw, .dh = c->dh, .dw = c->dw, .groups = 1};
    const dc_conv_geom f = {.C = g.OC, .H = g.OH, .W = g.OW, .OC = g.C, .OH = g.H, .OW = g.W, .kh = g.kh, .kw = g.kw,
                            .sh = 1, .sw = 1, .ph = g.dh * (g.kh - 1) - g.ph, .pw = g.dw * (g.kw - 1) - g.pw,
                            .dh = g.dh, .dw = g.dw, .groups = 1};
    if (!dc_dconv_ok(&g) || !dc_dconv_ok(&f)) return; /* no AVX2: the op never takes this path */
    const int64_t N = c->N, nx = N * g.C * g.H * g.W, ny = N * g.OC * g.OH * g.OW, nw = g.OC * g.C * g.kh * g.kw;
    dc_rng r;
    dc_rng_seed(&r, 5);
    float *x = malloc((size_t)nx * sizeof(float)), *w = malloc((size_t)nw * sizeof(float));
    float *b = malloc((size_t)g.OC * sizeof(float)), *dy = malloc((size_t)ny * sizeof(float));
    float *y = calloc((size_t)ny, sizeof(float)), *yref = calloc((size_t)ny, sizeof(float));
    float *dx = malloc((size_t)nx * sizeof(float)), *dxref = malloc((size_t)nx * sizeof(float));
    float *dw = calloc((size_t)nw, sizeof(float)), *dwref = calloc((size_t)nw, sizeof(float));
    float *part = calloc((size_t)nw, sizeof(float));
    float *db = calloc((size_t)g.OC, sizeof(float)), *dbref = calloc((size_t)g.OC, sizeof(float));
    float *xp = malloc((size_t)(N * g.C * dc_dconv_plane(&g)) * sizeof(float));
    float *dyp = malloc((size_t)(N * f.C * dc_dconv_plane(&f)) * sizeof(float));
    float *wt = malloc((size_t)(dc_dconv_wt_size(&g) > dc_dconv_wt_size(&f) ? dc_dconv_wt_size(&g) : dc_dconv_wt_size(&f)) *
                       sizeof(float));
    float *acc = malloc((size_t)dc_dconv_dw_scratch(&g) * sizeof(float));
    dc_test_fill(&r, x, nx, 1.0f, 0.0f);
    dc_test_fill(&r, w, nw, 0.3f, 0.0f);
    dc_test_fill(&r, b, g.OC, 0.5f, 0.0f);
    dc_test_fill(&r, dy, ny, 1.0f, 0.0f);
    dc_test_fill(&r, dx, nx, 0.5f, 0.0f);
    memcpy(dxref, dx, (size_t)nx * sizeof(float));

    const int64_t units = N * g.C, blocks = N * dc_dconv_blocks(&g);
    dc_dconv_pad(&g, 0, units / 3, x, xp);
    dc_dconv_pad(&g, units / 3, units, x, xp);
    dc_dconv_weights(&g, w, 0, wt);
    dc_dconv_run(&g, 0, blocks / 2 + 1, xp, wt, b, 0, y);
    dc_dconv_run(&g, blocks / 2 + 1, blocks, xp, wt, b, 0, y);
    dc_conv2d_ref_forward(&g, N, x, w, b, yref);
    check_close("direct forward", c, y, yref, ny);
    { /* the fused ReLU: exactly max(0, .) of the same sums */
        float *yr = malloc((size_t)ny * sizeof(float));
        dc_dconv_run(&g, 0, blocks, xp, wt, b, DC_CONV_RELU, yr);
        int64_t bad = 0;
        for (int64_t i = 0; i < ny; i++) bad += yr[i] != (y[i] > 0.0f ? y[i] : 0.0f);
        CHECK_MSG(bad == 0, "direct forward with DC_CONV_RELU: %lld values differ from max(0, y)", (long long)bad);
        free(yr);
    }

    dc_dconv_pad_sum(&f, N, 0, 1, dy, dyp, db);
    dc_dconv_pad_sum(&f, N, 1, f.C, dy, dyp, db);
    dc_dconv_weights(&f, w, 1, wt);
    const int64_t fblocks = N * dc_dconv_blocks(&f);
    dc_dconv_run(&f, 0, fblocks / 3, dyp, wt, NULL, DC_CONV_ACC, dx);
    dc_dconv_run(&f, fblocks / 3, fblocks, dyp, wt, NULL, DC_CONV_ACC, dx);
    dc_conv2d_ref_backward(&g, N, x, w, dy, dxref, dwref, dbref);
    check_close("direct dx", c, dx, dxref, nx);
    check_close("direct db", c, db, dbref, g.OC);
    if (bits) bits[0] = fingerprint(y, ny), bits[1] = fingerprint(dx, nx);
    if (dc_dconv_dw_ok(&g)) {
        const int64_t cut = N / 2;
        if (cut > 0) {
            dc_dconv_dw(&g, 0, cut, xp, dyp, acc, part);
            for (int64_t i = 0; i < nw; i++) dw[i] += part[i];
        }
        dc_dconv_dw(&g, cut, N, xp, dyp, acc, part);
        for (int64_t i = 0; i < nw; i++) dw[i] += part[i];
        check_close("direct dW", c, dw, dwref, nw);
    }
    free(x), free(w), free(b), free(dy), free(y), free(yref), free(dx), free(dxref), free(dw), free(dwref);
    free(part), free(db), free(dbref), free(xp), free(dyp), free(wt), free(acc);
}

TEST(conv_direct_kernels_match_reference) {
    /* C H W OC kh kw sh sw ph pw dh dw groups no_bias N; the stride and group fields are unused */
    static const cfg d[] = {
        {16, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 2}, /* ResNet stage 1        */
        {5, 9, 13, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 3},    /* OC % 4, odd sizes     */
        {3, 11, 10, 2, 3, 3, 1, 1, 0, 0, 1, 1, 1, 0, 1},   /* pad 0 (no direct dW)  */
        {2, 12, 15, 5, 5, 5, 1, 1, 2, 2, 1, 1, 1, 0, 2},   /* 5x5 "same"            */
        {3, 10, 14, 4, 3, 5, 1, 1, 2, 4, 2, 2, 1, 0, 2},   /* dilation 2, 3x5       */
        {1, 4, 3, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 1},     /* tiny planes           */
    };
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) direct_vs_reference(&d[i], NULL);
}

/* Where the processor has AVX-512, the AVX2 kernels as well (the default runs the AVX-512 ones), and
 * the forward and dX of both bit for bit the same (the same fma chain per output). */
TEST(conv_direct_kernels_avx2_and_avx512) {
    static const cfg d[] = {
        {16, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 2},
        {5, 9, 13, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 3},
        {32, 14, 14, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 2},
        {3, 10, 14, 4, 3, 5, 1, 1, 2, 4, 2, 2, 1, 0, 2},
    };
    const int had = dc_dconv_set_avx512(1), wide = dc_dconv_avx512();
    if (!wide) printf("  (no AVX-512 on this machine: the AVX2 kernels only)\n");
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) {
        uint64_t b2[2] = {0, 0}, b5[2] = {0, 0};
        dc_dconv_set_avx512(0);
        CHECK(dc_dconv_avx512() == 0);
        direct_vs_reference(&d[i], b2);
        dc_dconv_set_avx512(1);
        direct_vs_reference(&d[i], b5);
        CHECK_MSG(b2[0] == b5[0] && b2[1] == b5[1], "case %zu: AVX2 and AVX-512 forward/dx bits differ", i);
    }
    dc_dconv_set_avx512(had);
}

/* ---------------------------------------------------------------- implicit im2col packers */
/* Expected panels from an explicit im2col: forward B = col_g[k0..][q0+j0..], dW B = col_g[..][q0+..]ᵀ. */
static void expect_panels(const float *col, int64_t ld, int64_t rowoff, int transposed, int64_t q0, int64_t k0,
                          int64_t kc, int64_t j0, int64_t nc, float *dst) {
    for (int64_t jr = 0; jr < nc; jr += DC_GEMM_NR)
        for (int64_t k = 0; k < kc; k++)
            for (int64_t j = 0; j < DC_GEMM_NR; j++) {
                const int64_t kk = k0 + k, jj = j0 + jr + j;
                float v = 0.0f;
                if (jr + j < nc) v = transposed ? col[(rowoff + jj) * ld + q0 + kk] : col[(rowoff + kk) * ld + q0 + jj];
                dst[jr * kc + k * DC_GEMM_NR + j] = v;
            }
}

TEST(conv_pack_matches_im2col) {
    dc_rng r;
    dc_rng_seed(&r, 77);
    for (int t = 0; t < 60; t++) {
        dc_conv_geom g = {0};
        int gch = 1 + (int)dc_rng_below(&r, 3);
        g.groups = gch;
        g.C = gch * (1 + (int64_t)dc_rng_below(&r, 3));
        g.OC = gch;
        g.kh = 1 + (int)dc_rng_below(&r, 5);
        g.kw = 1 + (int)dc_rng_below(&r, 5);
        g.sh = 1 + (int)dc_rng_below(&r, 2) * (int)dc_rng_below(&r, 3);
        g.sw = t % 3 ? 1 : 1 + (int)dc_rng_below(&r, 3); /* mostly stride 1: the vector-load path */
        g.ph = (int)dc_rng_below(&r, 3);
        g.pw = (int)dc_rng_below(&r, 3);
        g.dh = 1 + (int)dc_rng_below(&r, 2);
        g.dw = 1 + (int)dc_rng_below(&r, 2);
        g.H = g.dh * (g.kh - 1) + 1 + (int64_t)dc_rng_below(&r, 20);
        g.W = g.dw * (g.kw - 1) + 1 + (int64_t)dc_rng_below(&r, 30);
        g.OH = dc_conv_out_size(g.H, g.kh, g.sh, g.ph, g.dh);
        g.OW = dc_conv_out_size(g.W, g.kw, g.sw, g.pw, g.dw);
        const int64_t N = 1 + (int64_t)dc_rng_below(&r, 4), P = g.OH * g.OW, NP = N * P;
        const int64_t K = g.C / g.groups * g.kh * g.kw;
        float *x = malloc((size_t)(N * g.C * g.H * g.W) * sizeof(float));
        float *col = malloc((size_t)(g.C * g.kh * g.kw * NP) * sizeof(float));
        dc_test_fill(&r, x, N * g.C * g.H * g.W, 1.0f, 0.0f);
        dc_im2col(&g, NP, 0, N * g.C, x, col);
        const size_t cap = (size_t)(200 + DC_GEMM_NR) * 256; /* nc <= 200, kc <= 256 below */
        float *got = aligned_alloc(64, ((cap * sizeof(float)) + 63) / 64 * 64), *want = malloc(cap * sizeof(float));
        for (int s = 0; s < 6; s++) {
            const int grp = (int)dc_rng_below(&r, (uint64_t)g.groups), transposed = s & 1, scalar = (s >> 1) & 1;
            /* forward: k over K, j over pixels; dW: k over pixels (from q0), j over K */
            const int64_t q0 = transposed ? (int64_t)dc_rng_below(&r, (uint64_t)NP) : 0;
            const int64_t KD = transposed ? NP - q0 : K, ND = transposed ? K : NP;
            const int64_t k0 = (int64_t)dc_rng_below(&r, (uint64_t)KD), j0 = (int64_t)dc_rng_below(&r, (uint64_t)ND);
            int64_t kc = 1 + (int64_t)dc_rng_below(&r, (uint64_t)(KD - k0)), nc = 1 + (int64_t)dc_rng_below(&r, (uint64_t)(ND - j0));
            if (kc > 256) kc = 256;
            if (nc > 200) nc = 200;
            const dc_conv_pack pk = {&g, x, N, grp, q0, scalar};
            const size_t len = (size_t)((nc + DC_GEMM_NR - 1) / DC_GEMM_NR * DC_GEMM_NR * kc);
            for (size_t i = 0; i < len; i++) got[i] = NAN;
            if (transposed) dc_conv_pack_colT(&pk, k0, kc, j0, nc, got);
            else dc_conv_pack_col(&pk, k0, kc, j0, nc, got);
            expect_panels(col, NP, grp * K, transposed, q0, k0, kc, j0, nc, want);
            CHECK_MSG(memcmp(got, want, len * sizeof(float)) == 0,
                      "packer %s%s differs: C%lld %lldx%lld k%dx%d s%dx%d p%dx%d d%dx%d g%d N%lld q0 %lld k0 %lld kc %lld "
                      "j0 %lld nc %lld",
                      transposed ? "colT" : "col", scalar ? " (portable)" : "", (long long)g.C, (long long)g.H,
                      (long long)g.W, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.groups, (long long)N,
                      (long long)q0, (long long)k0, (long long)kc, (long long)j0, (long long)nc);
        }
        free(x);
        free(col);
        free(got);
        free(want);
    }
}

/* ---------------------------------------------------------------- gradient checks */
static void gradcheck_conv(const cfg *c, int residual) {
    dc_graph *g;
    dc_rng r;
    dc_rng_seed(&r, (uint64_t)(c->C * 31 + c->H * 7 + c->kh + c->groups * 101));
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input_grad(g, "x", dc_shape3(c->C, c->H, c->W));
    dc_node t = dc_input(g, "t", dc_shape1(3));
    dc_conv2d_opts o = opts_of(c);
    o.init = DC_INIT_DEFAULT;
    dc_node y = dc_conv2d_ex(g, x, c->OC, "conv", &o);
    if (residual) y = dc_add(g, y, x); /* x used twice: its gradient is the sum */
    dc_node l = dc_mse(g, dc_linear(g, dc_flatten(g, y), 3, "head"), t);
    CHECK_OK(dc_graph_status(g));
    dc_graph_opts go = {.seed = 5};
    CHECK_OK(dc_graph_plan(g, c->N, &go));
    dc_test_fill(&r, dc_graph_data(g, x), c->N * c->C * c->H * c->W, 1.0f, 0.0f);
    dc_test_fill(&r, dc_graph_data(g, t), c->N * 3, 1.0f, 0.0f);
    if (!c->no_bias) dc_test_fill(&r, dc_graph_params(g)[1].data, c->OC, 0.3f, 0.0f);
    CHECK_MSG(dc_gradcheck(g, l, c->N, &x, 1, 1e-2f, 1e-2, 1e-4, 48) == 0, "conv C%d %dx%d k%dx%d s%d p%d d%d g%d", c->C,
              c->H, c->W, c->kh, c->kw, c->sh, c->ph, c->dh, c->groups);
    dc_graph_free(g);
}

TEST(gradcheck_conv_basic) {
    gradcheck_conv(&(cfg){1, 6, 6, 2, 3, 3, 1, 1, 0, 0, 1, 1, 1, 0, 1}, 0);
    gradcheck_conv(&(cfg){2, 5, 6, 3, 3, 3, 1, 1, 0, 0, 1, 1, 1, 0, 3}, 0);
}
TEST(gradcheck_conv_stride_padding) {
    gradcheck_conv(&(cfg){2, 7, 7, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0, 2}, 0);
    gradcheck_conv(&(cfg){2, 8, 6, 2, 3, 2, 3, 2, 2, 1, 1, 1, 1, 1, 2}, 0);
}
TEST(gradcheck_conv_1x1) { gradcheck_conv(&(cfg){3, 4, 5, 4, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 2}, 0); }
TEST(gradcheck_conv_groups_depthwise) {
    gradcheck_conv(&(cfg){4, 5, 5, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2, 0, 2}, 0);
    gradcheck_conv(&(cfg){3, 5, 5, 3, 3, 3, 1, 1, 1, 1, 1, 1, 3, 0, 2}, 0);
}
TEST(gradcheck_conv_dilation) { gradcheck_conv(&(cfg){2, 8, 7, 2, 3, 2, 1, 1, 1, 0, 2, 3, 1, 0, 2}, 0); }
TEST(gradcheck_conv_residual) { gradcheck_conv(&(cfg){3, 5, 5, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 2}, 1); }

TEST(conv_gradients_accumulate) {
    /* backward twice without zero_grad: parameter gradients double */
    dc_graph *g;
    dc_rng r;
    dc_rng_seed(&r, 11);
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input(g, "x", dc_shape3(2, 6, 6));
    dc_node t = dc_input(g, "t", dc_shape1(2 * 4 * 4));
    dc_node l = dc_mse(g, dc_flatten(g, dc_conv2d(g, x, 2, 3, 1, 0, "c")), t);
    CHECK_OK(dc_graph_plan(g, 3, NULL));
    dc_test_fill(&r, dc_graph_data(g, x), 3 * 72, 1.0f, 0.0f);
    dc_test_fill(&r, dc_graph_data(g, t), 3 * 32, 1.0f, 0.0f);
    const dc_param *p = dc_graph_params(g);
    CHECK_OK(dc_graph_forward(g, 3, 1));
    dc_graph_zero_grad(g);
    CHECK_OK(dc_graph_backward(g, l));
    float once[36];
    memcpy(once, p[0].grad, sizeof once);
    float b1 = p[1].grad[0];
    CHECK_OK(dc_graph_backward(g, l));
    for (int i = 0; i < 36; i++) CHECK_NEAR(p[0].grad[i], 2.0f * once[i], 1e-5 * (1 + fabs(once[i])));
    CHECK_NEAR(p[1].grad[0], 2.0f * b1, 1e-5 * (1 + fabs(b1)));
    dc_graph_free(g);
}

/* ---------------------------------------------------------------- shapes and errors */
static dc_shape out_shape(dc_shape in, int oc, const dc_conv2d_opts *o) {
    dc_graph *g;
    dc_graph_create(&g);
    dc_node x = dc_input(g, "x", in);
    dc_shape s = dc_node_shape(g, dc_conv2d_ex(g, x, oc, "c", o));
    if (dc_graph_status(g) != DC_OK) s = dc_shape_make(0, NULL);
    dc_graph_free(g);
    return s;
}

TEST(conv_output_size_formula) {
    CHECK(dc_shape_equal(out_shape(dc_shape3(1, 28, 28), 6, &(dc_conv2d_opts){.kh = 5, .kw = 5}), dc_shape3(6, 24, 24)));
    CHECK(dc_shape_equal(out_shape(dc_shape3(3, 28, 28), 8, &(dc_conv2d_opts){.kh = 3, .kw = 3, .pad_h = 1, .pad_w = 1}),
                         dc_shape3(8, 28, 28)));
    CHECK(dc_shape_equal(out_shape(dc_shape3(2, 7, 7), 4,
                                   &(dc_conv2d_opts){.kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}),
                         dc_shape3(4, 4, 4)));
    CHECK(dc_shape_equal(out_shape(dc_shape3(1, 10, 10), 2,
                                   &(dc_conv2d_opts){.kh = 3, .kw = 3, .dilation_h = 2, .dilation_w = 2}),
                         dc_shape3(2, 6, 6)));
    CHECK(dc_shape_equal(out_shape(dc_shape3(1, 9, 11), 1,
                                   &(dc_conv2d_opts){.kh = 3, .kw = 5, .stride_h = 3, .stride_w = 2, .pad_w = 2}),
                         dc_shape3(1, 3, 6)));
    CHECK_NEAR(dc_conv_out_size(3, 5, 1, 0, 1), 0, 0);
    CHECK_NEAR(dc_conv_out_size(4, 5, 2, 0, 1), 0, 0); /* -1/2 must not round to 0 */
    /* params: weight [OC, C/groups, KH, KW], bias [OC]; FLOPs per example */
    dc_graph *g;
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input(g, "x", dc_shape3(6, 12, 12));
    dc_node c = dc_conv2d_ex(g, x, 16, "conv2", &(dc_conv2d_opts){.kh = 5, .kw = 5, .groups = 2});
    CHECK_OK(dc_graph_status(g));
    CHECK(strcmp(dc_node_op_name(g, c), "conv2d") == 0);
    CHECK_OK(dc_graph_plan(g, 1, NULL));
    const dc_param *p = dc_graph_params(g);
    CHECK(dc_graph_param_count(g) == 2);
    CHECK(strcmp(p[0].name, "conv2.weight") == 0 && dc_shape_equal(p[0].shape, dc_shape4(16, 3, 5, 5)) && p[0].decay);
    CHECK(strcmp(p[1].name, "conv2.bias") == 0 && dc_shape_equal(p[1].shape, dc_shape1(16)) && !p[1].decay);
    CHECK(p[1].data[0] == 0.0f);
    CHECK(dc_op_conv2d_flops(g, &g->nodes[c]) == 2LL * 16 * 8 * 8 * 3 * 5 * 5);
    dc_graph_free(g);
}

/* Building must fail with `code` and a message naming the layer ("bad") and containing `part`. */
static void check_build_error(dc_shape in, int oc, const dc_conv2d_opts *o, dc_status code, const char *part) {
    dc_graph *g;
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input(g, "x", in);
    dc_node c = dc_conv2d_ex(g, x, oc, "bad", o);
    CHECK(c == DC_NONE);
    CHECK_ERR(dc_graph_status(g), code);
    CHECK_MSG(strstr(dc_last_error(), "'bad'") != NULL, "message does not name the layer: %s", dc_last_error());
    CHECK_MSG(strstr(dc_last_error(), part) != NULL, "message lacks '%s': %s", part, dc_last_error());
    dc_graph_free(g);
}

TEST(conv_invalid_geometry_errors) {
    check_build_error(dc_shape3(1, 3, 3), 2, &(dc_conv2d_opts){.kh = 5, .kw = 5}, DC_ERR_SHAPE,
                      "input 3x3 with kernel 5x5, stride 1, padding 0, dilation 1 gives output 0x0");
    check_build_error(dc_shape3(1, 4, 9), 2, &(dc_conv2d_opts){.kh = 3, .kw = 3, .dilation_h = 2, .dilation_w = 2},
                      DC_ERR_SHAPE, "gives output 0x5");
    check_build_error(dc_shape3(3, 8, 8), 4, &(dc_conv2d_opts){.kh = 3, .kw = 3, .groups = 2}, DC_ERR_SHAPE,
                      "2 groups");
    check_build_error(dc_shape3(4, 8, 8), 3, &(dc_conv2d_opts){.kh = 3, .kw = 3, .groups = 2}, DC_ERR_ARG,
                      "3 output channels");
    check_build_error(dc_shape3(1, 8, 8), 2, &(dc_conv2d_opts){.kh = 3, .kw = 3, .stride_h = -1}, DC_ERR_ARG,
                      "stride -1x0");
    check_build_error(dc_shape3(1, 8, 8), 2, &(dc_conv2d_opts){.kh = 0, .kw = 3}, DC_ERR_ARG, "kernel 0x3");
    check_build_error(dc_shape3(1, 8, 8), 2, &(dc_conv2d_opts){.kh = 3, .kw = 3, .pad_w = -1}, DC_ERR_ARG,
                      "padding 0x-1");
    check_build_error(dc_shape3(1, 8, 8), 0, &(dc_conv2d_opts){.kh = 3, .kw = 3}, DC_ERR_ARG, "0 output channels");
    check_build_error(dc_shape1(64), 2, &(dc_conv2d_opts){.kh = 3, .kw = 3}, DC_ERR_SHAPE, "[C, H, W]");
    check_build_error(dc_shape4(1, 1, 8, 8), 2, &(dc_conv2d_opts){.kh = 3, .kw = 3}, DC_ERR_SHAPE, "[1, 1, 8, 8]");
    check_build_error(dc_shape3(1, 8, 8), 2, NULL, DC_ERR_ARG, "NULL");
    /* the convenience form: zero stride means 1, the kernel must be given */
    dc_graph *g;
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input(g, "x", dc_shape3(1, 8, 8));
    CHECK(dc_shape_equal(dc_node_shape(g, dc_conv2d(g, x, 2, 3, 0, 0, NULL)), dc_shape3(2, 6, 6)));
    CHECK(strcmp(dc_node_name(g, 1), "conv1") == 0);
    CHECK(dc_conv2d(g, x, 2, 0, 1, 0, "k0") == DC_NONE);
    CHECK_ERR(dc_graph_status(g), DC_ERR_ARG);
    CHECK(strstr(dc_last_error(), "'k0'") != NULL);
    dc_graph_free(g);
}

/* ---------------------------------------------------------------- determinism */
/* C x 13 x 11 -> 6 channels (3x3, pad 1, 2 groups), batch 9; C = 16 gives several dx chunks. */
static void run_once_c(int C, dc_pool *pool, float *y_out, float *dx_out, float *dw_out, int64_t *ny, int64_t *nx,
                       int64_t *nw) {
    dc_graph *g;
    dc_rng r;
    dc_rng_seed(&r, 99);
    dc_graph_create(&g);
    dc_node x = dc_input_grad(g, "x", dc_shape3(C, 13, 11));
    dc_node y = dc_conv2d_ex(g, x, 6, "c", &(dc_conv2d_opts){.kh = 3, .kw = 3, .pad_h = 1, .pad_w = 1, .groups = 2});
    dc_node t = dc_input(g, "t", dc_shape1(dc_shape_numel(dc_node_shape(g, y))));
    dc_node l = dc_mse(g, dc_flatten(g, y), t);
    dc_graph_opts go = {.pool = pool, .seed = 3};
    CHECK_OK(dc_graph_plan(g, 9, &go));
    *nx = 9 * C * 13 * 11;
    *ny = 9 * dc_shape_numel(dc_node_shape(g, y));
    *nw = dc_graph_params(g)[0].numel;
    dc_test_fill(&r, dc_graph_data(g, x), *nx, 1.0f, 0.0f);
    dc_test_fill(&r, dc_graph_data(g, t), *ny, 1.0f, 0.0f);
    CHECK_OK(dc_graph_forward(g, 9, 1));
    dc_graph_zero_grad(g);
    CHECK_OK(dc_graph_backward(g, l));
    memcpy(y_out, dc_graph_data(g, y), (size_t)*ny * sizeof(float));
    memcpy(dx_out, dc_graph_grad(g, x), (size_t)*nx * sizeof(float));
    memcpy(dw_out, dc_graph_params(g)[0].grad, (size_t)*nw * sizeof(float));
    dc_graph_free(g);
}

static void run_once(dc_pool *pool, float *y_out, float *dx_out, float *dw_out, int64_t *ny, int64_t *nx, int64_t *nw) {
    run_once_c(4, pool, y_out, dx_out, dw_out, ny, nx, nw);
}

TEST(conv_deterministic_several_dx_chunks) {
    enum { CAP = 9 * 64 * 13 * 11 };
    static float a[3][CAP], b[3][CAP];
    int64_t ny, nx, nw;
    dc_pool *pool;
    CHECK_OK(dc_pool_create(2, &pool));
    run_once_c(64, pool, a[0], a[1], a[2], &ny, &nx, &nw); /* 64*9*143 floats of dcol per image: 1 image a chunk */
    run_once_c(64, NULL, b[0], b[1], b[2], &ny, &nx, &nw);
    CHECK(memcmp(a[0], b[0], (size_t)ny * sizeof(float)) == 0);
    CHECK(memcmp(a[1], b[1], (size_t)nx * sizeof(float)) == 0);
    CHECK(memcmp(a[2], b[2], (size_t)nw * sizeof(float)) == 0);
    dc_pool_free(pool);
}

/* The direct path (16 -> 12 channels, 3x3 pad 1 on 21x20, batch 9): bitwise the same for a
 * repeated run, and for 2 threads and none. */
static void run_direct(dc_pool *pool, float *y_out, float *dx_out, float *dw_out, int64_t *ny, int64_t *nx,
                       int64_t *nw) {
    dc_graph *g;
    dc_rng r;
    dc_rng_seed(&r, 17);
    dc_graph_create(&g);
    dc_node x = dc_input_grad(g, "x", dc_shape3(16, 21, 20));
    dc_node y = dc_conv2d_ex(g, x, 12, "c", &(dc_conv2d_opts){.kh = 3, .kw = 3, .pad_h = 1, .pad_w = 1});
    dc_node t = dc_input(g, "t", dc_shape1(dc_shape_numel(dc_node_shape(g, y))));
    dc_node l = dc_mse(g, dc_flatten(g, y), t);
    dc_graph_opts go = {.pool = pool, .seed = 3};
    CHECK_OK(dc_graph_plan(g, 9, &go));
    *nx = 9 * 16 * 21 * 20;
    *ny = 9 * dc_shape_numel(dc_node_shape(g, y));
    *nw = dc_graph_params(g)[0].numel;
    dc_test_fill(&r, dc_graph_data(g, x), *nx, 1.0f, 0.0f);
    dc_test_fill(&r, dc_graph_data(g, t), *ny, 1.0f, 0.0f);
    CHECK_OK(dc_graph_forward(g, 9, 1));
    dc_graph_zero_grad(g);
    CHECK_OK(dc_graph_backward(g, l));
    memcpy(y_out, dc_graph_data(g, y), (size_t)*ny * sizeof(float));
    memcpy(dx_out, dc_graph_grad(g, x), (size_t)*nx * sizeof(float));
    memcpy(dw_out, dc_graph_params(g)[0].grad, (size_t)*nw * sizeof(float));
    dc_graph_free(g);
}

TEST(conv_deterministic_direct_path) {
    enum { CAP = 9 * 16 * 21 * 20 };
    static float a[3][CAP], b[3][CAP];
    int64_t ny, nx, nw;
    dc_pool *pool;
    CHECK_OK(dc_pool_create(2, &pool));
    run_direct(pool, a[0], a[1], a[2], &ny, &nx, &nw);
    run_direct(pool, b[0], b[1], b[2], &ny, &nx, &nw);
    for (int k = 0; k < 3; k++) CHECK(memcmp(a[k], b[k], (size_t)(k == 0 ? ny : k == 1 ? nx : nw) * sizeof(float)) == 0);
    run_direct(NULL, b[0], b[1], b[2], &ny, &nx, &nw);
    for (int k = 0; k < 3; k++) CHECK(memcmp(a[k], b[k], (size_t)(k == 0 ? ny : k == 1 ? nx : nw) * sizeof(float)) == 0);
    dc_pool_free(pool);
}

TEST(conv_deterministic_with_pool) {
    enum { CAP = 9 * 6 * 13 * 11 + 9 * 4 * 13 * 11 };
    static float a[3][CAP], b[3][CAP];
    int64_t ny, nx, nw;
    dc_pool *pool;
    CHECK_OK(dc_pool_create(2, &pool));
    run_once(pool, a[0], a[1], a[2], &ny, &nx, &nw);
    run_once(pool, b[0], b[1], b[2], &ny, &nx, &nw);
    CHECK(memcmp(a[0], b[0], (size_t)ny * sizeof(float)) == 0);
    CHECK(memcmp(a[1], b[1], (size_t)nx * sizeof(float)) == 0);
    CHECK(memcmp(a[2], b[2], (size_t)nw * sizeof(float)) == 0);
    /* every split is fixed and every sum has one order: one thread gives the same bits too */
    run_once(NULL, b[0], b[1], b[2], &ny, &nx, &nw);
    CHECK(memcmp(a[0], b[0], (size_t)ny * sizeof(float)) == 0);
    CHECK(memcmp(a[1], b[1], (size_t)nx * sizeof(float)) == 0);
    CHECK(memcmp(a[2], b[2], (size_t)nw * sizeof(float)) == 0);
    dc_pool_free(pool);
}
