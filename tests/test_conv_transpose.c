/* test_conv_transpose.c — ConvTranspose2d: the graph's op (run as the input gradient of the
 * convolution it transposes) against the scatter-by-definition reference kernels on many
 * geometries (Mask R-CNN's 2x2 stride 2, 4x4 stride 2 padding 1, output padding, dilation, groups,
 * rectangular kernels, batch 1, with and without bias, the input's gradient written or added to,
 * 2 threads and none); the adjoint identity <conv(y), x> = <y, conv_transpose(x)> with one weight;
 * finite-difference gradient checks; the output-size formula; invalid geometries; bitwise equality
 * across thread counts. */
#include "gradcheck.h"
#include "graph/graph.h"
#include "kernels/conv.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

typedef struct tcfg {
    int C, H, W, OC, kh, kw, sh, sw, ph, pw, oph, opw, dh, dw, groups, no_bias, N;
} tcfg;

static dc_conv_transpose2d_opts topts_of(const tcfg *c) {
    dc_conv_transpose2d_opts o = {.kh = c->kh, .kw = c->kw, .stride_h = c->sh, .stride_w = c->sw, .pad_h = c->ph,
                                  .pad_w = c->pw, .output_pad_h = c->oph, .output_pad_w = c->opw,
                                  .dilation_h = c->dh, .dilation_w = c->dw, .groups = c->groups,
                                  .no_bias = c->no_bias, .init = DC_INIT_NORMAL, .init_value = 0.3f};
    return o;
}

/* The geometry of the convolution that the layer transposes: its input is the layer's output. */
static dc_conv_geom tgeom(const tcfg *c, dc_shape out) {
    const dc_conv_geom g = {.C = c->OC, .H = out.dim[1], .W = out.dim[2], .OC = c->C, .OH = c->H, .OW = c->W,
                            .kh = c->kh, .kw = c->kw, .sh = c->sh ? c->sh : 1, .sw = c->sw ? c->sw : 1,
                            .ph = c->ph, .pw = c->pw, .dh = c->dh ? c->dh : 1, .dw = c->dw ? c->dw : 1,
                            .groups = c->groups ? c->groups : 1};
    return g;
}

static void check_close(const char *what, const tcfg *c, const float *got, const float *want, int64_t n) {
    const int64_t bad = dc_test_mismatch(got, want, n, 1e-4);
    CHECK_MSG(bad < 0,
              "%s mismatch at %lld: %.7g vs reference %.7g (C%d %dx%d -> OC%d k%dx%d s%dx%d p%dx%d op%dx%d d%dx%d g%d "
              "bias%d N%d)",
              what, (long long)bad, bad >= 0 ? got[bad] : 0.0, bad >= 0 ? want[bad] : 0.0, c->C, c->H, c->W, c->OC,
              c->kh, c->kw, c->sh, c->sw, c->ph, c->pw, c->oph, c->opw, c->dh, c->dw, c->groups, !c->no_bias, c->N);
}

/* x -> deconv -> flatten -> mse(t) (or, with `twice`, deconv_a(x) + deconv_b(x), so x's gradient is
 * added to by two ops instead of written by one); the reference kernels on the same data and on
 * the dy the graph computed. */
static void compare_with_reference(const tcfg *c, dc_pool *pool, int x_needs_grad, int twice) {
    dc_graph *g;
    dc_rng r;
    dc_rng_seed(&r, (uint64_t)(c->C * 1000003 + c->H * 1009 + c->W * 101 + c->OC * 13 + c->kh + c->groups));
    CHECK_OK(dc_graph_create(&g));
    dc_node x = x_needs_grad ? dc_input_grad(g, "x", dc_shape3(c->C, c->H, c->W))
                             : dc_input(g, "x", dc_shape3(c->C, c->H, c->W));
    dc_conv_transpose2d_opts o = topts_of(c);
    dc_node y = dc_conv_transpose2d_ex(g, x, c->OC, "deconv", &o), y2 = DC_NONE;
    if (twice) y2 = dc_conv_transpose2d_ex(g, x, c->OC, "deconv_b", &o);
    dc_node sum = twice ? dc_add(g, y, y2) : y;
    dc_node t = dc_input(g, "t", dc_shape1(dc_shape_numel(dc_node_shape(g, y))));
    dc_node l = dc_mse(g, dc_flatten(g, sum), t);
    CHECK_OK(dc_graph_status(g));
    if (dc_graph_status(g) != DC_OK) {
        dc_graph_free(g);
        return;
    }
    dc_graph_opts go = {.pool = pool, .seed = 7};
    CHECK_OK(dc_graph_plan(g, c->N + 2, &go)); /* planned for more than we run: partial batch */
    const dc_shape ys = dc_node_shape(g, y);
    const int64_t N = c->N, nx = N * c->C * c->H * c->W, ny = N * dc_shape_numel(ys);
    dc_test_fill(&r, dc_graph_data(g, x), nx, 1.0f, 0.0f);
    dc_test_fill(&r, dc_graph_data(g, t), ny, 1.0f, 0.0f);
    const dc_param *p = dc_graph_params(g);
    const int per = c->no_bias ? 1 : 2; /* parameters per layer */
    for (int k = 0; k < (twice ? 2 : 1); k++)
        if (!c->no_bias) dc_test_fill(&r, p[k * per + 1].data, c->OC, 0.5f, 0.0f);
    for (int pass = 0; pass < 2; pass++) { /* the second pass finds its buffers used, not fresh zeros */
        CHECK_OK(dc_graph_forward(g, N, 1));
        dc_graph_zero_grad(g);
        CHECK_OK(dc_graph_backward(g, l));
    }

    const dc_conv_geom geo = tgeom(c, ys);
    float *yref = calloc((size_t)ny, sizeof(float)), *dx = calloc((size_t)nx, sizeof(float));
    for (int k = 0; k < (twice ? 2 : 1); k++) {
        const dc_param *w = &p[k * per], *b = c->no_bias ? NULL : &p[k * per + 1];
        float *dw = calloc((size_t)w->numel, sizeof(float)), *db = calloc((size_t)c->OC, sizeof(float));
        dc_conv_transpose2d_ref_forward(&geo, N, dc_graph_data(g, x), w->data, b ? b->data : NULL, yref);
        check_close(k ? "forward b" : "forward", c, dc_graph_data(g, k ? y2 : y), yref, ny);
        dc_conv_transpose2d_ref_backward(&geo, N, dc_graph_data(g, x), w->data, dc_graph_grad(g, sum), dx, dw,
                                         b ? db : NULL);
        check_close("dW", c, w->grad, dw, w->numel);
        if (b) check_close("db", c, b->grad, db, c->OC);
        free(dw);
        free(db);
    }
    if (x_needs_grad) check_close(twice ? "dx (two consumers)" : "dx", c, dc_graph_grad(g, x), dx, nx);
    else CHECK(dc_graph_grad(g, x) == NULL);
    free(yref);
    free(dx);
    dc_graph_free(g);
}

/* C H W OC kh kw sh sw ph pw oph opw dh dw groups no_bias N */
static const tcfg cases[] = {
    {8, 7, 7, 4, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1, 0, 3},   /* Mask R-CNN: 2x2 stride 2, 7 -> 14 */
    {6, 5, 6, 3, 4, 4, 2, 2, 1, 1, 0, 0, 1, 1, 1, 0, 2},   /* DCGAN: 4x4 stride 2 pad 1        */
    {4, 4, 5, 5, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 3},   /* 3x3 s2 p1 output pad 1, no bias  */
    {3, 6, 6, 2, 3, 3, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1},   /* stride 1 "same", batch 1         */
    {5, 3, 4, 7, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 4},   /* 1x1                              */
    {2, 5, 3, 3, 3, 2, 3, 2, 0, 1, 2, 1, 1, 1, 1, 0, 2},   /* 3x2, strides 3x2, output pad 2x1 */
    {3, 4, 4, 2, 3, 3, 1, 1, 0, 0, 0, 0, 2, 2, 1, 0, 2},   /* dilation 2                       */
    {4, 5, 5, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2, 0, 3},   /* groups 2                         */
    {6, 4, 3, 6, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 6, 1, 2},   /* depthwise upsampling, no bias    */
    {32, 14, 14, 16, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1, 0, 9}, /* several dx_task chunks          */
    {3, 1, 7, 2, 5, 3, 1, 2, 2, 1, 0, 1, 1, 1, 1, 0, 5},   /* H = 1, padding larger than taps  */
};
#define N_CASES ((int)(sizeof cases / sizeof cases[0]))

TEST(conv_transpose_matches_reference) {
    dc_pool *pool;
    CHECK_OK(dc_pool_create(2, &pool));
    for (int i = 0; i < N_CASES; i++) {
        compare_with_reference(&cases[i], NULL, 1, 0);
        compare_with_reference(&cases[i], pool, 1, 0);
    }
    dc_pool_free(pool);
}

TEST(conv_transpose_input_gradient_added_by_two_consumers) {
    dc_pool *pool;
    CHECK_OK(dc_pool_create(2, &pool));
    for (int i = 0; i < N_CASES; i++) compare_with_reference(&cases[i], i % 2 ? pool : NULL, 1, 1);
    dc_pool_free(pool);
}

TEST(conv_transpose_input_without_gradient) {
    compare_with_reference(&cases[0], NULL, 0, 0);
    compare_with_reference(&cases[7], NULL, 0, 0);
}

/* With one weight W (no bias), conv(y; W) maps [C'][H'][W'] to [C][H][W] and the transposed layer
 * maps back; they are adjoint: <conv(y), x> = <y, conv_transpose(x)> for all x, y. */
TEST(conv_transpose_is_the_adjoint_of_conv) {
    const tcfg cs[] = {cases[0], cases[1], cases[2], cases[5], cases[7]};
    for (int i = 0; i < 5; i++) {
        const tcfg *c = &cs[i];
        dc_graph *g;
        CHECK_OK(dc_graph_create(&g));
        dc_node x = dc_input(g, "x", dc_shape3(c->C, c->H, c->W));
        dc_conv_transpose2d_opts o = topts_of(c);
        o.no_bias = 1;
        dc_node ty = dc_conv_transpose2d_ex(g, x, c->OC, "deconv", &o);
        dc_node yin = dc_input(g, "y", dc_node_shape(g, ty));
        dc_conv2d_opts co = {.kh = c->kh, .kw = c->kw, .stride_h = c->sh, .stride_w = c->sw, .pad_h = c->ph,
                             .pad_w = c->pw, .dilation_h = c->dh, .dilation_w = c->dw, .groups = c->groups,
                             .no_bias = 1};
        dc_node cx = dc_conv2d_ex(g, yin, c->C, "conv", &co);
        CHECK_OK(dc_graph_status(g));
        CHECK(dc_shape_numel(dc_node_shape(g, cx)) == c->C * c->H * c->W);
        dc_graph_opts go = {.seed = 3};
        CHECK_OK(dc_graph_plan(g, 2, &go));
        const dc_param *p = dc_graph_params(g);
        CHECK(p[0].numel == p[1].numel);
        memcpy(p[1].data, p[0].data, (size_t)p[0].numel * sizeof(float)); /* the same W in both */
        dc_rng r;
        dc_rng_seed(&r, 11 + (uint64_t)i);
        const int64_t nx = 2 * c->C * c->H * c->W, ny = 2 * dc_shape_numel(dc_node_shape(g, ty));
        dc_test_fill(&r, dc_graph_data(g, x), nx, 1.0f, 0.0f);
        dc_test_fill(&r, dc_graph_data(g, yin), ny, 1.0f, 0.0f);
        CHECK_OK(dc_graph_forward(g, 2, 0));
        double a = 0.0, b = 0.0, scale = 0.0;
        for (int64_t k = 0; k < nx; k++) {
            a += (double)dc_graph_data(g, cx)[k] * dc_graph_data(g, x)[k];
            scale += fabs((double)dc_graph_data(g, cx)[k] * dc_graph_data(g, x)[k]);
        }
        for (int64_t k = 0; k < ny; k++) b += (double)dc_graph_data(g, yin)[k] * dc_graph_data(g, ty)[k];
        CHECK_MSG(fabs(a - b) <= 1e-5 * (scale > 1.0 ? scale : 1.0), "case %d: <conv(y), x> = %.9g, <y, deconv(x)> = %.9g",
                  i, a, b);
        dc_graph_free(g);
    }
}

static void gradcheck_tconv(const tcfg *c) {
    dc_graph *g;
    dc_rng r;
    dc_rng_seed(&r, (uint64_t)(c->C * 31 + c->H * 7 + c->kh + c->groups * 101));
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input_grad(g, "x", dc_shape3(c->C, c->H, c->W));
    dc_node t = dc_input(g, "t", dc_shape1(3));
    dc_conv_transpose2d_opts o = topts_of(c);
    o.init = DC_INIT_DEFAULT;
    dc_node y = dc_conv_transpose2d_ex(g, x, c->OC, "deconv", &o);
    dc_node l = dc_mse(g, dc_linear(g, dc_flatten(g, dc_tanh(g, y)), 3, "head"), t);
    CHECK_OK(dc_graph_status(g));
    dc_graph_opts go = {.seed = 5};
    CHECK_OK(dc_graph_plan(g, c->N, &go));
    dc_test_fill(&r, dc_graph_data(g, x), c->N * c->C * c->H * c->W, 1.0f, 0.0f);
    dc_test_fill(&r, dc_graph_data(g, t), c->N * 3, 1.0f, 0.0f);
    if (!c->no_bias) dc_test_fill(&r, dc_graph_params(g)[1].data, c->OC, 0.3f, 0.0f);
    CHECK_MSG(dc_gradcheck(g, l, c->N, &x, 1, 1e-2f, 1e-2, 1e-4, 48) == 0,
              "deconv C%d %dx%d k%dx%d s%d p%d op%d d%d g%d", c->C, c->H, c->W, c->kh, c->kw, c->sh, c->ph, c->oph,
              c->dh, c->groups);
    dc_graph_free(g);
}

TEST(gradcheck_conv_transpose) {
    gradcheck_tconv(&(tcfg){3, 3, 3, 2, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1, 0, 2});
    gradcheck_tconv(&(tcfg){2, 3, 4, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 0, 2});
    gradcheck_tconv(&(tcfg){4, 3, 3, 4, 3, 3, 1, 1, 0, 0, 0, 0, 2, 2, 2, 0, 2});
    gradcheck_tconv(&(tcfg){2, 4, 3, 2, 4, 4, 2, 2, 1, 1, 0, 0, 1, 1, 1, 1, 1});
}

TEST(conv_transpose_output_size) {
    /* (H - 1)s - 2p + d(k - 1) + op + 1 */
    const struct { int H, k, s, p, op, d, want; } t[] = {
        {14, 2, 2, 0, 0, 1, 28}, {7, 4, 2, 1, 0, 1, 14}, {7, 3, 2, 1, 1, 1, 14}, {7, 3, 2, 1, 0, 1, 13},
        {5, 3, 1, 1, 0, 1, 5},   {4, 3, 1, 0, 0, 2, 8},  {1, 1, 3, 0, 2, 1, 3},
    };
    for (int i = 0; i < (int)(sizeof t / sizeof t[0]); i++) {
        dc_graph *g;
        CHECK_OK(dc_graph_create(&g));
        dc_node x = dc_input(g, "x", dc_shape3(2, t[i].H, t[i].H));
        dc_conv_transpose2d_opts o = {.kh = t[i].k, .kw = t[i].k, .stride_h = t[i].s, .stride_w = t[i].s,
                                      .pad_h = t[i].p, .pad_w = t[i].p, .output_pad_h = t[i].op,
                                      .output_pad_w = t[i].op, .dilation_h = t[i].d, .dilation_w = t[i].d};
        dc_node y = dc_conv_transpose2d_ex(g, x, 5, NULL, &o);
        CHECK_OK(dc_graph_status(g));
        dc_shape s = dc_node_shape(g, y);
        CHECK_MSG(s.rank == 3 && s.dim[0] == 5 && s.dim[1] == t[i].want && s.dim[2] == t[i].want,
                  "case %d: got %lldx%lld, want %d", i, (long long)s.dim[1], (long long)s.dim[2], t[i].want);
        /* weight [C, OC, KH, KW] (the parameter list exists once the graph is planned) */
        dc_graph_opts go = {.seed = 1};
        CHECK_OK(dc_graph_plan(g, 1, &go));
        const dc_param *p = dc_graph_params(g);
        CHECK(p[0].shape.dim[0] == 2 && p[0].shape.dim[1] == 5 && p[0].shape.dim[2] == t[i].k);
        dc_graph_free(g);
    }
}

static dc_status build_bad(int C, int H, const dc_conv_transpose2d_opts *o, int OC, int rank3) {
    dc_graph *g;
    if (dc_graph_create(&g) != DC_OK) return DC_ERR_NOMEM;
    dc_node x = dc_input(g, "x", rank3 ? dc_shape3(C, H, H) : dc_shape1(C * H * H));
    dc_conv_transpose2d_ex(g, x, OC, "up", o);
    dc_status s = dc_graph_status(g);
    dc_graph_free(g);
    return s;
}

TEST(conv_transpose_rejects_bad_geometry) {
    CHECK_ERR(build_bad(4, 5, &(dc_conv_transpose2d_opts){.kh = 2, .kw = 2, .stride_h = 2, .stride_w = 2,
                                                          .output_pad_h = 2, .output_pad_w = 0},
                        3, 1),
              DC_ERR_ARG); /* output padding not below the stride */
    CHECK(strstr(dc_last_error(), "output padding") && strstr(dc_last_error(), "'up'"));
    CHECK_ERR(build_bad(4, 5, &(dc_conv_transpose2d_opts){.kh = 3, .kw = 3, .output_pad_h = 1}, 3, 1), DC_ERR_ARG);
    CHECK_ERR(build_bad(4, 5, &(dc_conv_transpose2d_opts){.kh = 0, .kw = 3}, 3, 1), DC_ERR_ARG);
    CHECK_ERR(build_bad(4, 5, &(dc_conv_transpose2d_opts){.kh = 3, .kw = 3, .groups = 3}, 3, 1), DC_ERR_SHAPE);
    CHECK_ERR(build_bad(4, 5, &(dc_conv_transpose2d_opts){.kh = 3, .kw = 3, .groups = 2}, 3, 1), DC_ERR_ARG);
    CHECK_ERR(build_bad(4, 5, &(dc_conv_transpose2d_opts){.kh = 3, .kw = 3}, 3, 0), DC_ERR_SHAPE);
    CHECK(strstr(dc_last_error(), "[C, H, W]") != NULL);
    CHECK_ERR(build_bad(4, 1, &(dc_conv_transpose2d_opts){.kh = 1, .kw = 1, .pad_h = 1, .pad_w = 1}, 3, 1),
              DC_ERR_SHAPE); /* output (1-1) - 2 + 0 + 1 = -1 */
    CHECK(strstr(dc_last_error(), "gives output") != NULL);
    CHECK_ERR(build_bad(4, 3, NULL, 3, 1), DC_ERR_ARG);
    CHECK_ERR(build_bad(4, 3, &(dc_conv_transpose2d_opts){.kh = 2, .kw = 2}, 0, 1), DC_ERR_ARG);
}

/* The same bits on 1 and 2 threads: every output is summed by one unit in a fixed order. */
TEST(conv_transpose_same_bits_on_any_thread_count) {
    const tcfg *c = &cases[9];
    float *keep[4] = {0};
    for (int run = 0; run < 2; run++) {
        dc_pool *pool = NULL;
        if (run) CHECK_OK(dc_pool_create(2, &pool));
        dc_graph *g;
        CHECK_OK(dc_graph_create(&g));
        dc_node x = dc_input_grad(g, "x", dc_shape3(c->C, c->H, c->W));
        dc_conv_transpose2d_opts o = topts_of(c);
        dc_node y = dc_conv_transpose2d_ex(g, x, c->OC, "deconv", &o);
        dc_node t = dc_input(g, "t", dc_shape1(dc_shape_numel(dc_node_shape(g, y))));
        dc_node l = dc_mse(g, dc_flatten(g, y), t);
        dc_graph_opts go = {.pool = pool, .seed = 9};
        CHECK_OK(dc_graph_plan(g, c->N, &go));
        dc_rng r;
        dc_rng_seed(&r, 4);
        const int64_t nx = c->N * c->C * c->H * c->W, ny = c->N * dc_shape_numel(dc_node_shape(g, y));
        dc_test_fill(&r, dc_graph_data(g, x), nx, 1.0f, 0.0f);
        dc_test_fill(&r, dc_graph_data(g, t), ny, 1.0f, 0.0f);
        CHECK_OK(dc_graph_forward(g, c->N, 1));
        dc_graph_zero_grad(g);
        CHECK_OK(dc_graph_backward(g, l));
        const dc_param *p = dc_graph_params(g);
        const float *src[4] = {dc_graph_data(g, y), dc_graph_grad(g, x), p[0].grad, p[1].grad};
        const int64_t len[4] = {ny, nx, p[0].numel, p[1].numel};
        for (int k = 0; k < 4; k++) {
            if (!run) {
                keep[k] = malloc((size_t)len[k] * sizeof(float));
                memcpy(keep[k], src[k], (size_t)len[k] * sizeof(float));
            } else {
                CHECK_MSG(memcmp(keep[k], src[k], (size_t)len[k] * sizeof(float)) == 0, "output %d differs", k);
            }
        }
        dc_graph_free(g);
        dc_pool_free(pool);
    }
    for (int k = 0; k < 4; k++) free(keep[k]);
}
