/* test_pool.c — max/average/global-average pooling, LRN and concat: finite-difference gradient
 * checks (batch 1 and larger; overlapping windows, padding, ceil mode), forward values against
 * hand-worked examples and direct double-precision references (PyTorch's semantics), output sizes
 * of the classic geometries, error cases, default names, and bitwise determinism across thread
 * counts.  It does not test speed (bench/ does) or whole models (test_train.c). */
#include "gradcheck.h"
#include "test.h"
#include "kernels/pool.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { K_MAX, K_AVG, K_GAP, K_LRN };
typedef struct {
    int kind;
    dc_pool2d_opts po;            /* K_MAX, K_AVG */
    int size;                     /* K_LRN        */
    float alpha, beta, k;
} op_spec;

static dc_node build_op(dc_graph *g, dc_node x, const op_spec *s) {
    switch (s->kind) {
    case K_MAX: return dc_maxpool2d_ex(g, x, &s->po);
    case K_AVG: return dc_avgpool2d_ex(g, x, &s->po);
    case K_GAP: return dc_global_avgpool(g, x);
    default: return dc_lrn(g, x, s->size, s->alpha, s->beta, s->k);
    }
}

/* Distinct values: a shuffled permutation of 0..n-1, centred, `spacing` apart (a max-pool argmax
 * then cannot change under a probe smaller than spacing/2). */
static void fill_distinct(dc_rng *r, float *buf, int64_t n, float spacing) {
    int64_t *idx = malloc((size_t)n * sizeof *idx);
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    dc_rng_shuffle(r, idx, n);
    for (int64_t i = 0; i < n; i++) buf[i] = (float)(idx[i] - n / 2) * spacing;
    free(idx);
}

/* x [C, H, W] (with gradient) -> op -> flatten -> linear(3) -> mse against a random target. */
static void check_grad(const op_spec *s, int64_t batch, int64_t C, int64_t H, int64_t W) {
    dc_graph *g;
    dc_rng r;
    dc_rng_seed(&r, (uint64_t)(s->kind * 1000 + batch * 100 + C * 10 + H + W));
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input_grad(g, "x", dc_shape3(C, H, W));
    dc_node t = dc_input(g, "t", dc_shape1(3));
    dc_node l = dc_mse(g, dc_linear(g, dc_flatten(g, build_op(g, x, s)), 3, "head"), t);
    CHECK_OK(dc_graph_status(g));
    if (dc_graph_status(g) != DC_OK) { dc_graph_free(g); return; }
    dc_graph_opts o = {.seed = 3};
    CHECK_OK(dc_graph_plan(g, batch, &o));
    int64_t n = batch * C * H * W;
    if (s->kind == K_MAX) {
        float spacing = 0.05f; /* keep the values within about +-8 */
        if (n * spacing > 16.0f) spacing = 16.0f / (float)n;
        CHECK(spacing > 0.025f); /* > 2h: the probes below (h = 0.01) never change an argmax */
        fill_distinct(&r, dc_graph_data(g, x), n, spacing);
    } else {
        dc_test_fill(&r, dc_graph_data(g, x), n, 1.0f, 0.0f);
    }
    dc_test_fill(&r, dc_graph_data(g, t), batch * 3, 1.0f, 0.0f);
    CHECK(dc_gradcheck(g, l, batch, &x, 1, 1e-2f, 1e-2, 1e-4, 64) == 0);
    dc_graph_free(g);
}

static op_spec pool_spec(int kind, int k, int s, int p, int ceil_mode, int include_pad) {
    op_spec o = {.kind = kind, .po = {.kh = k, .kw = k, .stride_h = s, .stride_w = s, .pad_h = p, .pad_w = p,
                                      .ceil_mode = ceil_mode, .count_include_pad = include_pad}};
    return o;
}

/* ---------------------------------------------------------------- gradient checks */

TEST(gradcheck_maxpool_2x2) {
    op_spec s = pool_spec(K_MAX, 2, 2, 0, 0, 0);
    check_grad(&s, 1, 2, 4, 6);
    check_grad(&s, 3, 3, 6, 4);
}
TEST(gradcheck_maxpool_3x2_overlapping) {
    op_spec s = pool_spec(K_MAX, 3, 2, 0, 0, 0);
    check_grad(&s, 1, 2, 7, 7);
    check_grad(&s, 2, 2, 9, 7);
}
TEST(gradcheck_maxpool_padding) {
    op_spec s = pool_spec(K_MAX, 3, 2, 1, 0, 0);
    check_grad(&s, 1, 2, 6, 6);
    check_grad(&s, 2, 2, 7, 5);
    op_spec s1 = pool_spec(K_MAX, 3, 1, 1, 0, 0); /* GoogLeNet's pool branch: same size out */
    check_grad(&s1, 2, 2, 5, 6);
}
TEST(gradcheck_maxpool_ceil_mode) {
    op_spec s = pool_spec(K_MAX, 2, 2, 0, 1, 0); /* 7x7 -> 4x4 */
    check_grad(&s, 1, 2, 7, 7);
    check_grad(&s, 3, 2, 7, 5);
    op_spec s3 = pool_spec(K_MAX, 3, 2, 1, 1, 0);
    check_grad(&s3, 2, 1, 8, 6);
}
TEST(gradcheck_maxpool_rectangular) {
    op_spec s = {.kind = K_MAX, .po = {.kh = 2, .kw = 3, .stride_h = 1, .stride_w = 2, .pad_h = 1, .pad_w = 1}};
    check_grad(&s, 2, 2, 5, 7);
}
TEST(gradcheck_avgpool) {
    op_spec a = pool_spec(K_AVG, 2, 2, 0, 0, 1);
    check_grad(&a, 1, 2, 4, 6);
    check_grad(&a, 3, 2, 6, 6);
    op_spec o = pool_spec(K_AVG, 3, 2, 0, 0, 1); /* overlapping */
    check_grad(&o, 2, 2, 7, 7);
}
TEST(gradcheck_avgpool_padding_include_and_exclude) {
    for (int inc = 0; inc <= 1; inc++) {
        op_spec s = pool_spec(K_AVG, 3, 2, 1, 0, inc);
        check_grad(&s, 1, 2, 6, 7);
        check_grad(&s, 3, 2, 5, 5);
    }
}
TEST(gradcheck_avgpool_ceil_mode) {
    for (int inc = 0; inc <= 1; inc++) {
        op_spec s = pool_spec(K_AVG, 2, 2, 0, 1, inc);
        check_grad(&s, 2, 2, 7, 7);
        op_spec p = pool_spec(K_AVG, 3, 2, 1, 1, inc);
        check_grad(&p, 2, 2, 6, 8);
    }
}
TEST(gradcheck_global_avgpool) {
    op_spec s = {.kind = K_GAP};
    check_grad(&s, 1, 3, 4, 5);
    check_grad(&s, 4, 5, 3, 3);
}
TEST(gradcheck_lrn) {
    op_spec alex = {.kind = K_LRN, .size = 4, .alpha = 0.001f / 9.0f, .beta = 0.75f, .k = 1.0f}; /* AlexNet-mini */
    check_grad(&alex, 1, 6, 2, 3);
    check_grad(&alex, 3, 5, 3, 2);
    op_spec dflt = {.kind = K_LRN, .size = 5, .alpha = 1e-4f, .beta = 0.75f, .k = 1.0f}; /* PyTorch's defaults */
    check_grad(&dflt, 2, 7, 2, 2);
    /* strong normalisation, so the cross-channel term of the derivative matters */
    op_spec strong4 = {.kind = K_LRN, .size = 4, .alpha = 2.0f, .beta = 0.75f, .k = 1.0f};
    check_grad(&strong4, 2, 6, 2, 3);
    op_spec strong5 = {.kind = K_LRN, .size = 5, .alpha = 3.0f, .beta = 0.6f, .k = 2.0f}; /* powf path */
    check_grad(&strong5, 1, 7, 3, 2);
    check_grad(&strong5, 3, 3, 2, 2); /* window wider than the channels */
}

TEST(gradcheck_concat_three_inputs) {
    dc_graph *g;
    dc_rng r;
    dc_rng_seed(&r, 41);
    CHECK_OK(dc_graph_create(&g));
    dc_node x[3] = {dc_input_grad(g, "a", dc_shape3(2, 3, 2)), dc_input_grad(g, "b", dc_shape3(1, 3, 2)),
                    dc_input_grad(g, "c", dc_shape3(3, 3, 2))};
    dc_node cat = dc_concat(g, x, 3);
    CHECK(dc_node_shape(g, cat).rank == 3 && dc_node_shape(g, cat).dim[0] == 6 && dc_node_shape(g, cat).dim[1] == 3);
    dc_node t = dc_input(g, "t", dc_shape1(3));
    dc_node l = dc_mse(g, dc_linear(g, dc_flatten(g, dc_tanh(g, cat)), 3, "head"), t);
    CHECK_OK(dc_graph_status(g));
    for (int batch = 1; batch <= 4; batch += 3) {
        CHECK_OK(dc_graph_plan(g, batch, NULL));
        for (int i = 0; i < 3; i++)
            dc_test_fill(&r, dc_graph_data(g, x[i]), batch * dc_shape_numel(dc_node_shape(g, x[i])), 1.0f, 0.0f);
        dc_test_fill(&r, dc_graph_data(g, t), batch * 3, 1.0f, 0.0f);
        CHECK(dc_gradcheck(g, l, batch, x, 3, 1e-2f, 1e-2, 1e-4, 64) == 0);
    }
    dc_graph_free(g);
}

TEST(gradcheck_concat_rank1_repeated_and_no_grad_input) {
    dc_graph *g;
    dc_rng r;
    dc_rng_seed(&r, 43);
    CHECK_OK(dc_graph_create(&g));
    dc_node a = dc_input_grad(g, "a", dc_shape1(4)), b = dc_input_grad(g, "b", dc_shape1(2));
    dc_node c = dc_input(g, "c", dc_shape1(3)); /* no gradient wanted: backward must skip it */
    dc_node xs[4] = {a, b, c, a};               /* a twice: its gradient is the sum of both slices */
    dc_node cat = dc_concat(g, xs, 4);
    CHECK(dc_node_shape(g, cat).rank == 1 && dc_node_shape(g, cat).dim[0] == 13);
    dc_node t = dc_input(g, "t", dc_shape1(2));
    dc_node l = dc_mse(g, dc_linear(g, cat, 2, "head"), t);
    CHECK_OK(dc_graph_status(g));
    CHECK_OK(dc_graph_plan(g, 5, NULL));
    CHECK(dc_graph_grad(g, c) == NULL);
    dc_node grad_in[2] = {a, b};
    for (int i = 0; i < 3; i++)
        dc_test_fill(&r, dc_graph_data(g, xs[i]), 5 * dc_shape_numel(dc_node_shape(g, xs[i])), 1.0f, 0.0f);
    dc_test_fill(&r, dc_graph_data(g, t), 10, 1.0f, 0.0f);
    CHECK(dc_gradcheck(g, l, 5, grad_in, 2, 1e-2f, 1e-2, 1e-4, 64) == 0);
    /* forward layout: example e is [a_e, b_e, c_e, a_e] */
    const float *y = dc_graph_data(g, cat);
    for (int e = 0; e < 5; e++) {
        for (int i = 0; i < 4; i++) CHECK(y[e * 13 + i] == dc_graph_data(g, a)[e * 4 + i]);
        for (int i = 0; i < 2; i++) CHECK(y[e * 13 + 4 + i] == dc_graph_data(g, b)[e * 2 + i]);
        for (int i = 0; i < 3; i++) CHECK(y[e * 13 + 6 + i] == dc_graph_data(g, c)[e * 3 + i]);
        for (int i = 0; i < 4; i++) CHECK(y[e * 13 + 9 + i] == dc_graph_data(g, a)[e * 4 + i]);
    }
    dc_graph_free(g);
}

/* ---------------------------------------------------------------- exact forward values */

/* One plane [1, H, W] through an op, batch 1; returns the graph (caller frees) and fills x. */
static dc_graph *one_plane(const op_spec *s, int64_t H, int64_t W, const float *x, dc_node *out, dc_node *in,
                           dc_node *loss) {
    dc_graph *g;
    if (dc_graph_create(&g) != DC_OK) return NULL;
    *in = dc_input_grad(g, "x", dc_shape3(1, H, W));
    *out = build_op(g, *in, s);
    dc_node t = dc_input(g, "t", dc_shape1(dc_shape_numel(dc_node_shape(g, *out))));
    *loss = dc_mse(g, dc_flatten(g, *out), t); /* target 0: dL/dy = y */
    CHECK_OK(dc_graph_status(g));
    CHECK_OK(dc_graph_plan(g, 1, NULL));
    memcpy(dc_graph_data(g, *in), x, (size_t)(H * W) * sizeof(float));
    CHECK_OK(dc_graph_forward(g, 1, 1));
    return g;
}

static void expect_plane(const op_spec *s, int64_t H, int64_t W, const float *x, int64_t OH, int64_t OW,
                         const float *want) {
    dc_node y, in, l;
    dc_graph *g = one_plane(s, H, W, x, &y, &in, &l);
    if (!g) return;
    dc_shape sh = dc_node_shape(g, y);
    CHECK_MSG(sh.dim[1] == OH && sh.dim[2] == OW, "output %lldx%lld, want %lldx%lld", (long long)sh.dim[1],
              (long long)sh.dim[2], (long long)OH, (long long)OW);
    if (sh.dim[1] == OH && sh.dim[2] == OW)
        for (int64_t i = 0; i < OH * OW; i++) CHECK_NEAR(dc_graph_data(g, y)[i], want[i], 1e-6);
    dc_graph_free(g);
}

TEST(pool_forward_hand_examples) {
    float x16[16], x9[9], neg9[9];
    for (int i = 0; i < 16; i++) x16[i] = (float)(i + 1);
    for (int i = 0; i < 9; i++) x9[i] = (float)(i + 1), neg9[i] = -(float)(i + 1);
    op_spec s;
    /* 4x4 of 1..16 */
    s = pool_spec(K_MAX, 2, 2, 0, 0, 0);
    expect_plane(&s, 4, 4, x16, 2, 2, (const float[]){6, 8, 14, 16});
    s = pool_spec(K_AVG, 2, 2, 0, 0, 1);
    expect_plane(&s, 4, 4, x16, 2, 2, (const float[]){3.5f, 5.5f, 11.5f, 13.5f});
    s = pool_spec(K_MAX, 3, 1, 0, 0, 0);
    expect_plane(&s, 4, 4, x16, 2, 2, (const float[]){11, 12, 15, 16});
    /* 3x3 of 1..9, 2x2 windows, stride 2, padding 1 */
    s = pool_spec(K_AVG, 2, 2, 1, 0, 1); /* divide by 4 everywhere */
    expect_plane(&s, 3, 3, x9, 2, 2, (const float[]){0.25f, 1.25f, 2.75f, 7.0f});
    s = pool_spec(K_AVG, 2, 2, 1, 0, 0); /* divide by the real elements */
    expect_plane(&s, 3, 3, x9, 2, 2, (const float[]){1.0f, 2.5f, 5.5f, 7.0f});
    /* ceil mode: the last windows hang over the edge; with count_include_pad they are clipped to
     * the (unpadded) input as in PyTorch, so the corner is divided by 1 */
    s = pool_spec(K_AVG, 2, 2, 0, 1, 1);
    expect_plane(&s, 3, 3, x9, 2, 2, (const float[]){3.0f, 4.5f, 7.5f, 9.0f});
    s = pool_spec(K_MAX, 2, 2, 0, 1, 0);
    expect_plane(&s, 3, 3, x9, 2, 2, (const float[]){5, 6, 8, 9});
    /* max pooling pads with -inf, not 0: on negative inputs the padding never wins */
    s = pool_spec(K_MAX, 3, 2, 1, 0, 0);
    expect_plane(&s, 3, 3, neg9, 2, 2, (const float[]){-1, -2, -4, -5});
    expect_plane(&s, 3, 3, x9, 2, 2, (const float[]){5, 6, 8, 9});
    /* global average */
    s = (op_spec){.kind = K_GAP};
    expect_plane(&s, 3, 3, x9, 1, 1, (const float[]){5.0f});
}

TEST(maxpool_backward_routes_to_first_argmax) {
    /* all-equal input: every window's first element (row-major, clipped to the input) wins */
    float ones[16];
    for (int i = 0; i < 16; i++) ones[i] = 1.0f;
    op_spec s = pool_spec(K_MAX, 2, 2, 0, 0, 0);
    dc_node y, in, l;
    dc_graph *g = one_plane(&s, 4, 4, ones, &y, &in, &l);
    dc_graph_zero_grad(g);
    CHECK_OK(dc_graph_backward(g, l)); /* dL/dy = y = 1 */
    const float *dx = dc_graph_grad(g, in);
    for (int i = 0; i < 16; i++) {
        int h = i / 4, w = i % 4;
        CHECK_NEAR(dx[i], (h % 2 == 0 && w % 2 == 0) ? 1.0f : 0.0f, 0);
    }
    dc_graph_free(g);
    /* overlapping 3x3 stride 1 padding 1 on 3x3: windows start at (max(oh-1,0), max(ow-1,0)), so
     * (0,0) gets 4 outputs (accumulated), (0,1) and (1,0) two each, (1,1) one */
    s = pool_spec(K_MAX, 3, 1, 1, 0, 0);
    g = one_plane(&s, 3, 3, ones, &y, &in, &l);
    dc_graph_zero_grad(g);
    CHECK_OK(dc_graph_backward(g, l));
    dx = dc_graph_grad(g, in);
    const float want[9] = {4, 2, 0, 2, 1, 0, 0, 0, 0};
    for (int i = 0; i < 9; i++) CHECK_NEAR(dx[i], want[i], 0);
    dc_graph_free(g);
}

/* PyTorch's pooling, directly in double: output size, values, and the input gradient for dy. */
static int64_t ref_out(int64_t in, int k, int s, int p, int ceil_mode) {
    double q = (double)(in + 2 * p - k) / s;
    int64_t o = (int64_t)(ceil_mode ? ceil(q) : floor(q)) + 1;
    if (ceil_mode && (o - 1) * s >= in + p) o--;
    return o;
}
static void ref_pool(int is_max, const dc_pool2d_opts *o, int64_t H, int64_t W, const float *x, const float *dy,
                     double *y, double *dx) {
    int sh = o->stride_h ? o->stride_h : o->kh, sw = o->stride_w ? o->stride_w : o->kw;
    int64_t OH = ref_out(H, o->kh, sh, o->pad_h, o->ceil_mode), OW = ref_out(W, o->kw, sw, o->pad_w, o->ceil_mode);
    for (int64_t i = 0; i < H * W; i++) dx[i] = 0;
    for (int64_t oh = 0; oh < OH; oh++)
        for (int64_t ow = 0; ow < OW; ow++) {
            int64_t hs = oh * sh - o->pad_h, ws = ow * sw - o->pad_w, best = -1, cnt = 0;
            double m = -INFINITY, sum = 0;
            for (int64_t h = hs; h < hs + o->kh; h++)
                for (int64_t w = ws; w < ws + o->kw; w++) {
                    if (h < 0 || h >= H || w < 0 || w >= W) continue;
                    double v = x[h * W + w];
                    if (best < 0 || v > m) m = v, best = h * W + w;
                    sum += v;
                    cnt++;
                }
            int64_t he = hs + o->kh < H + o->pad_h ? hs + o->kh : H + o->pad_h;
            int64_t we = ws + o->kw < W + o->pad_w ? ws + o->kw : W + o->pad_w;
            double div = o->count_include_pad ? (double)((he - hs) * (we - ws)) : (double)cnt;
            double g = dy[oh * OW + ow];
            if (is_max) {
                y[oh * OW + ow] = m;
                dx[best] += g;
            } else {
                y[oh * OW + ow] = sum / div;
                for (int64_t h = hs; h < hs + o->kh; h++)
                    for (int64_t w = ws; w < ws + o->kw; w++)
                        if (h >= 0 && h < H && w >= 0 && w < W) dx[h * W + w] += g / div;
            }
        }
}

/* Many geometries (including rows long enough for the vectorised interior path), batch 2 x 3
 * channels, compared plane by plane with the reference; gradient seeded through mse. */
TEST(pool_matches_reference_many_geometries) {
    static const int geo[][8] = {
        /* kh kw sh sw ph pw ceil inc */
        {2, 2, 2, 2, 0, 0, 0, 1}, {2, 2, 2, 2, 0, 0, 1, 1}, {3, 3, 2, 2, 0, 0, 0, 1}, {3, 3, 2, 2, 1, 1, 0, 1},
        {3, 3, 2, 2, 1, 1, 1, 0}, {3, 3, 1, 1, 1, 1, 0, 0}, {2, 2, 1, 1, 0, 0, 0, 1}, {2, 3, 1, 2, 1, 1, 0, 1},
        {2, 3, 2, 1, 1, 0, 1, 0}, {5, 5, 3, 3, 2, 2, 1, 1}, {2, 2, 2, 2, 1, 1, 1, 1}, {4, 1, 3, 1, 2, 0, 1, 0},
    };
    static const int64_t sizes[][2] = {{7, 7}, {11, 19}, {5, 6}};
    dc_rng r;
    dc_rng_seed(&r, 2024);
    for (size_t gi = 0; gi < sizeof geo / sizeof geo[0]; gi++)
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
            for (int is_max = 0; is_max <= 1; is_max++) {
                const int *q = geo[gi];
                dc_pool2d_opts o = {q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7]};
                int64_t H = sizes[si][0], W = sizes[si][1], C = 3, B = 2;
                if (H + 2 * o.pad_h < o.kh || W + 2 * o.pad_w < o.kw) continue;
                dc_graph *g;
                CHECK_OK(dc_graph_create(&g));
                dc_node x = dc_input_grad(g, "x", dc_shape3(C, H, W));
                dc_node y = is_max ? dc_maxpool2d_ex(g, x, &o) : dc_avgpool2d_ex(g, x, &o);
                CHECK_OK(dc_graph_status(g));
                if (dc_graph_status(g) != DC_OK) { dc_graph_free(g); continue; }
                int64_t OH = ref_out(H, o.kh, o.stride_h, o.pad_h, o.ceil_mode);
                int64_t OW = ref_out(W, o.kw, o.stride_w, o.pad_w, o.ceil_mode);
                dc_shape ys = dc_node_shape(g, y);
                CHECK_MSG(ys.dim[0] == C && ys.dim[1] == OH && ys.dim[2] == OW, "geometry %zu size %zu: %lldx%lld vs %lldx%lld",
                          gi, si, (long long)ys.dim[1], (long long)ys.dim[2], (long long)OH, (long long)OW);
                if (!(ys.dim[1] == OH && ys.dim[2] == OW)) { dc_graph_free(g); continue; }
                dc_node t = dc_input(g, "t", dc_shape1(C * OH * OW));
                dc_node l = dc_mse(g, dc_flatten(g, y), t);
                CHECK_OK(dc_graph_plan(g, B, NULL));
                fill_distinct(&r, dc_graph_data(g, x), B * C * H * W, 0.01f);
                dc_test_fill(&r, dc_graph_data(g, t), B * C * OH * OW, 1.0f, 0.0f);
                CHECK_OK(dc_graph_forward(g, B, 1));
                dc_graph_zero_grad(g);
                CHECK_OK(dc_graph_backward(g, l));
                const float *xv = dc_graph_data(g, x), *yv = dc_graph_data(g, y), *tv = dc_graph_data(g, t);
                const float *dx = dc_graph_grad(g, x);
                float *dy = malloc((size_t)(OH * OW) * sizeof(float));
                double *ry = malloc((size_t)(OH * OW) * sizeof(double)), *rdx = malloc((size_t)(H * W) * sizeof(double));
                int bad = 0;
                for (int64_t p = 0; p < B * C; p++) {
                    for (int64_t i = 0; i < OH * OW; i++) dy[i] = (yv[p * OH * OW + i] - tv[p * OH * OW + i]) / (float)B;
                    ref_pool(is_max, &o, H, W, xv + p * H * W, dy, ry, rdx);
                    for (int64_t i = 0; i < OH * OW; i++) bad += fabs(yv[p * OH * OW + i] - ry[i]) > 1e-5;
                    for (int64_t i = 0; i < H * W; i++) bad += fabs(dx[p * H * W + i] - rdx[i]) > 1e-5;
                }
                CHECK_MSG(bad == 0, "%s geometry %zu on %lldx%lld: %d values differ from the reference",
                          is_max ? "max" : "avg", gi, (long long)H, (long long)W, bad);
                free(dy);
                free(ry);
                free(rdx);
                dc_graph_free(g);
            }
}

/* The fast max-pool paths (2x2/2, 3x3/1, the row-vectorised generic one) against the one-window
 * reference on data full of ties, with NaN and -inf sprinkled in: the same values and argmax. */
TEST(maxpool_fast_paths_match_reference_with_ties_nan_and_inf) {
    static const int geo[][4] = { /* k, s, p, ceil */
        {3, 1, 1, 0}, {3, 1, 0, 0}, {2, 2, 0, 0}, {2, 2, 0, 1}, {3, 2, 1, 0}, {3, 2, 0, 1}, {2, 1, 0, 0}, {5, 1, 2, 0},
    };
    static const int64_t sizes[][2] = {{1, 1}, {2, 3}, {7, 7}, {28, 28}, {13, 31}, {4, 1}};
    dc_rng r;
    dc_rng_seed(&r, 77);
    const int64_t planes = 3;
    for (size_t gi = 0; gi < sizeof geo / sizeof geo[0]; gi++)
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            const int k = geo[gi][0], s = geo[gi][1], p = geo[gi][2];
            dc_pool2d_geom g = {.H = sizes[si][0], .W = sizes[si][1], .kh = k, .kw = k, .sh = s, .sw = s, .ph = p, .pw = p};
            g.OH = dc_pool_out_size(g.H, k, s, p, geo[gi][3]);
            g.OW = dc_pool_out_size(g.W, k, s, p, geo[gi][3]);
            if (g.OH < 1 || g.OW < 1) continue;
            const int64_t in = planes * g.H * g.W, out = planes * g.OH * g.OW;
            float *x = malloc((size_t)in * sizeof(float)), *y1 = malloc((size_t)out * sizeof(float)),
                  *y2 = malloc((size_t)out * sizeof(float));
            int32_t *a1 = malloc((size_t)out * sizeof(int32_t)), *a2 = malloc((size_t)out * sizeof(int32_t));
            for (int64_t i = 0; i < in; i++) {
                uint64_t u = dc_rng_below(&r, 100);
                x[i] = u < 2 ? NAN : u < 6 ? -INFINITY : (float)(u % 4); /* four values: ties everywhere */
            }
            if (sizes[si][0] == 2) for (int64_t i = 0; i < in; i++) x[i] = -INFINITY; /* all-(-inf) windows */
            dc_maxpool2d_forward(&g, planes, x, y1, a1);
            dc_maxpool2d_forward_ref(&g, planes, x, y2, a2);
            int bad = 0;
            for (int64_t i = 0; i < out; i++)
                bad += a1[i] != a2[i] || !(y1[i] == y2[i] || (y1[i] != y1[i] && y2[i] != y2[i]));
            CHECK_MSG(bad == 0, "k%d s%d p%d on %lldx%lld: %d of %lld outputs differ", k, s, p, (long long)g.H,
                      (long long)g.W, bad, (long long)out);
            free(x), free(y1), free(y2), free(a1), free(a2);
        }
}

TEST(pool_output_sizes) {
    static const struct { int64_t in; int k, s, p, ceil_mode; int64_t out; } cases[] = {
        {7, 2, 2, 0, 1, 4},   /* MaxPool2d(2, 2, ceil_mode=True): 7 -> 4 (AlexNet-mini)      */
        {28, 2, 2, 0, 1, 14}, {14, 2, 2, 0, 1, 7},
        {28, 3, 2, 1, 0, 14}, /* MaxPool2d(3, 2, padding=1): 28 -> 14 -> 7 (GoogLeNet-mini)  */
        {14, 3, 2, 1, 0, 7},
        {13, 3, 2, 0, 0, 6},  /* AlexNet's 3/2: 13 -> 6                                      */
        {28, 3, 1, 1, 0, 28}, /* inception pool branch keeps the size                        */
        {5, 2, 2, 1, 1, 3},   /* ceil would give 4, but that window would start in the right padding */
        {6, 3, 2, 0, 1, 3},   /* ceil: (6-3)/2 rounded up + 1                                 */
        {7, 2, 2, 0, 0, 3},   /* floor                                                        */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dc_graph *g;
        CHECK_OK(dc_graph_create(&g));
        dc_node x = dc_input(g, "x", dc_shape3(2, cases[i].in, cases[i].in));
        dc_pool2d_opts o = {.kh = cases[i].k, .kw = cases[i].k, .stride_h = cases[i].s, .stride_w = cases[i].s,
                            .pad_h = cases[i].p, .pad_w = cases[i].p, .ceil_mode = cases[i].ceil_mode};
        dc_node m = dc_maxpool2d_ex(g, x, &o), a = dc_avgpool2d_ex(g, x, &o);
        CHECK_OK(dc_graph_status(g));
        dc_shape sm = dc_node_shape(g, m), sa = dc_node_shape(g, a);
        CHECK_MSG(sm.rank == 3 && sm.dim[0] == 2 && sm.dim[1] == cases[i].out && sm.dim[2] == cases[i].out,
                  "case %zu: in %lld k %d s %d p %d ceil %d -> %lld, want %lld", i, (long long)cases[i].in, cases[i].k,
                  cases[i].s, cases[i].p, cases[i].ceil_mode, (long long)sm.dim[1], (long long)cases[i].out);
        CHECK(dc_shape_equal(sm, sa));
        dc_graph_free(g);
    }
    /* the AlexNet-mini chain 28 -> 14 -> 7 -> 4 and GoogLeNet's global pool */
    dc_graph *g;
    CHECK_OK(dc_graph_create(&g));
    dc_pool2d_opts c = {.kh = 2, .kw = 2, .ceil_mode = 1};
    dc_node x = dc_input(g, "x", dc_shape3(8, 28, 28));
    dc_node p = dc_maxpool2d_ex(g, dc_maxpool2d_ex(g, dc_maxpool2d_ex(g, x, &c), &c), &c);
    CHECK(dc_node_shape(g, p).dim[1] == 4 && dc_node_shape(g, p).dim[2] == 4);
    dc_node gp = dc_global_avgpool(g, p);
    CHECK(dc_shape_equal(dc_node_shape(g, gp), dc_shape3(8, 1, 1)));
    CHECK_OK(dc_graph_status(g));
    dc_graph_free(g);
}

TEST(pool_default_names) {
    dc_graph *g;
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input(g, "x", dc_shape3(4, 8, 8));
    dc_node p1 = dc_maxpool2d(g, x, 2, 0), p2 = dc_maxpool2d(g, p1, 2, 2);
    dc_node a1 = dc_avgpool2d(g, x, 2, 2), gp = dc_global_avgpool(g, x), ln = dc_lrn(g, x, 5, 1e-4f, 0.75f, 1.0f);
    dc_node xs[2] = {x, ln};
    dc_node cat = dc_concat(g, xs, 2);
    CHECK_OK(dc_graph_status(g));
    CHECK(strcmp(dc_node_name(g, p1), "pool1") == 0 && strcmp(dc_node_name(g, p2), "pool2") == 0);
    CHECK(strcmp(dc_node_name(g, a1), "avgpool1") == 0 && strcmp(dc_node_name(g, gp), "gap1") == 0);
    CHECK(strcmp(dc_node_name(g, ln), "lrn1") == 0 && strcmp(dc_node_name(g, cat), "concat1") == 0);
    CHECK(dc_node_shape(g, p1).dim[1] == 4 && dc_node_shape(g, p2).dim[1] == 2); /* stride 0 = window */
    CHECK(strcmp(dc_node_op_name(g, p1), "maxpool2d") == 0);
    CHECK(dc_node_shape(g, cat).dim[0] == 8);
    dc_graph_free(g);
}

/* ---------------------------------------------------------------- LRN against the formula */

static void check_lrn_values(int64_t B, int64_t C, int64_t H, int64_t W, int size, float alpha, float beta, float k) {
    dc_graph *g;
    dc_rng r;
    dc_rng_seed(&r, (uint64_t)(C * 100 + size));
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input(g, "x", dc_shape3(C, H, W));
    dc_node y = dc_lrn(g, x, size, alpha, beta, k);
    CHECK_OK(dc_graph_status(g));
    CHECK_OK(dc_graph_plan(g, B, NULL));
    float *xv = dc_graph_data(g, x);
    dc_test_fill(&r, xv, B * C * H * W, 2.0f, 0.0f);
    CHECK_OK(dc_graph_forward(g, B, 0));
    const float *yv = dc_graph_data(g, y);
    int64_t S = H * W;
    int bad = 0;
    double worst = 0;
    for (int64_t e = 0; e < B; e++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t i = 0; i < S; i++) {
                double sum = 0;
                for (int64_t j = c - size / 2; j <= c + (size - 1) / 2; j++)
                    if (j >= 0 && j < C) {
                        double a = xv[(e * C + j) * S + i];
                        sum += a * a;
                    }
                double a = xv[(e * C + c) * S + i];
                double want = a / pow((double)k + (double)alpha / size * sum, (double)beta);
                double got = yv[(e * C + c) * S + i], err = fabs(got - want);
                if (err > 2e-6 * fabs(want) + 1e-7) bad++;
                if (err > worst) worst = err;
            }
    CHECK_MSG(bad == 0, "lrn size %d alpha %g beta %g k %g: %d values off (worst %g)", size, (double)alpha,
              (double)beta, (double)k, bad, worst);
    dc_graph_free(g);
}

TEST(lrn_matches_formula_in_double) {
    check_lrn_values(2, 7, 3, 2, 4, 0.001f / 9.0f, 0.75f, 1.0f); /* AlexNet-mini: window [c-2, c+1] */
    check_lrn_values(2, 7, 3, 2, 5, 1e-4f, 0.75f, 1.0f);         /* PyTorch defaults: [c-2, c+2]    */
    check_lrn_values(1, 6, 2, 2, 4, 1.5f, 0.75f, 1.0f);          /* strong: the window matters      */
    check_lrn_values(3, 5, 1, 3, 3, 2.0f, 0.6f, 2.0f);           /* powf path                       */
    check_lrn_values(2, 4, 2, 2, 2, 1.0f, 0.5f, 1.0f);           /* [c-1, c]                         */
    check_lrn_values(2, 4, 2, 2, 1, 1.0f, 1.0f, 0.5f);           /* only itself                      */
    check_lrn_values(2, 3, 2, 2, 9, 1.0f, 0.75f, 1.0f);          /* window wider than the channels  */
    check_lrn_values(2, 5, 20, 20, 4, 1.0f, 0.75f, 1.0f);        /* more positions than one chunk   */
}

/* ---------------------------------------------------------------- errors */

static void expect_build_error(dc_graph *g, dc_status code, const char *needle) {
    CHECK_ERR(dc_graph_status(g), code);
    CHECK_MSG(strstr(dc_last_error(), needle) != NULL, "message '%s' does not mention '%s'", dc_last_error(), needle);
}

TEST(pool_errors) {
    dc_graph *g;
    dc_pool2d_opts o;
    /* window bigger than the padded input */
    CHECK_OK(dc_graph_create(&g));
    dc_maxpool2d(g, dc_input(g, "x", dc_shape3(2, 3, 3)), 5, 1);
    expect_build_error(g, DC_ERR_SHAPE, "pool1");
    dc_graph_free(g);
    CHECK_OK(dc_graph_create(&g));
    o = (dc_pool2d_opts){.kh = 4, .kw = 4, .pad_h = 1, .pad_w = 1};
    CHECK(dc_avgpool2d_ex(g, dc_input(g, "x", dc_shape3(2, 1, 1)), &o) == DC_NONE);
    expect_build_error(g, DC_ERR_SHAPE, "avgpool1");
    dc_graph_free(g);
    /* padding more than half the window */
    CHECK_OK(dc_graph_create(&g));
    o = (dc_pool2d_opts){.kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_h = 2, .pad_w = 1};
    dc_maxpool2d_ex(g, dc_input(g, "x", dc_shape3(2, 8, 8)), &o);
    expect_build_error(g, DC_ERR_ARG, "padding");
    dc_graph_free(g);
    /* rank-1 (and rank-2) input */
    CHECK_OK(dc_graph_create(&g));
    dc_maxpool2d(g, dc_input(g, "x", dc_shape1(16)), 2, 2);
    expect_build_error(g, DC_ERR_SHAPE, "pool1");
    dc_graph_free(g);
    CHECK_OK(dc_graph_create(&g));
    dc_avgpool2d(g, dc_input(g, "x", dc_shape2(4, 4)), 2, 2);
    expect_build_error(g, DC_ERR_SHAPE, "avgpool1");
    dc_graph_free(g);
    CHECK_OK(dc_graph_create(&g));
    dc_global_avgpool(g, dc_input(g, "x", dc_shape1(16)));
    expect_build_error(g, DC_ERR_SHAPE, "gap1");
    dc_graph_free(g);
    /* bad arguments */
    CHECK_OK(dc_graph_create(&g));
    dc_maxpool2d(g, dc_input(g, "x", dc_shape3(1, 4, 4)), 0, 1);
    expect_build_error(g, DC_ERR_ARG, "pool1");
    dc_graph_free(g);
    CHECK_OK(dc_graph_create(&g));
    dc_avgpool2d(g, dc_input(g, "x", dc_shape3(1, 4, 4)), 2, -1);
    expect_build_error(g, DC_ERR_ARG, "stride");
    dc_graph_free(g);
    CHECK_OK(dc_graph_create(&g));
    dc_maxpool2d_ex(g, dc_input(g, "x", dc_shape3(1, 4, 4)), NULL);
    expect_build_error(g, DC_ERR_ARG, "pool1");
    dc_graph_free(g);
}

TEST(lrn_errors) {
    static const struct { int size; float alpha, beta, k; } bad[] = {
        {0, 1e-4f, 0.75f, 1.0f}, {-3, 1e-4f, 0.75f, 1.0f}, {5, INFINITY, 0.75f, 1.0f}, {5, 1e-4f, NAN, 1.0f},
        {5, 1e-4f, 0.75f, 0.0f}, {5, 1e-4f, 0.75f, -1.0f}, {5, -1.0f, 0.75f, 1.0f}, {5, 1e-4f, 0.75f, NAN},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dc_graph *g;
        CHECK_OK(dc_graph_create(&g));
        dc_lrn(g, dc_input(g, "x", dc_shape3(4, 2, 2)), bad[i].size, bad[i].alpha, bad[i].beta, bad[i].k);
        expect_build_error(g, DC_ERR_ARG, "lrn1");
        dc_graph_free(g);
    }
    dc_graph *g;
    CHECK_OK(dc_graph_create(&g));
    dc_lrn(g, dc_input(g, "x", dc_shape1(8)), 5, 1e-4f, 0.75f, 1.0f);
    expect_build_error(g, DC_ERR_SHAPE, "lrn1");
    dc_graph_free(g);
}

TEST(concat_errors) {
    dc_graph *g;
    CHECK_OK(dc_graph_create(&g));
    dc_node xs[9];
    xs[0] = dc_input(g, "a", dc_shape3(2, 3, 3));
    xs[1] = dc_input(g, "b", dc_shape3(1, 3, 4));
    dc_concat(g, xs, 2);
    expect_build_error(g, DC_ERR_SHAPE, "concat1");
    CHECK(strstr(dc_last_error(), "[2, 3, 3]") && strstr(dc_last_error(), "[1, 3, 4]") && strstr(dc_last_error(), "'b'"));
    dc_graph_free(g);
    /* different ranks */
    CHECK_OK(dc_graph_create(&g));
    xs[0] = dc_input(g, "a", dc_shape1(4));
    xs[1] = dc_input(g, "b", dc_shape3(4, 1, 1));
    dc_concat(g, xs, 2);
    expect_build_error(g, DC_ERR_SHAPE, "concat1");
    dc_graph_free(g);
    /* rank 0: no channel axis */
    CHECK_OK(dc_graph_create(&g));
    xs[0] = dc_input(g, "a", dc_shape_make(0, NULL));
    dc_concat(g, xs, 1);
    expect_build_error(g, DC_ERR_SHAPE, "concat1");
    dc_graph_free(g);
    /* counts */
    CHECK_OK(dc_graph_create(&g));
    for (int i = 0; i < 9; i++) xs[i] = dc_input(g, NULL, dc_shape1(2));
    CHECK(dc_concat(g, xs, 8) != DC_NONE);
    CHECK_OK(dc_graph_status(g));
    dc_concat(g, xs, 9);
    expect_build_error(g, DC_ERR_ARG, "concat2");
    dc_graph_free(g);
    CHECK_OK(dc_graph_create(&g));
    dc_concat(g, xs, 0);
    expect_build_error(g, DC_ERR_ARG, "concat1");
    dc_graph_free(g);
    CHECK_OK(dc_graph_create(&g));
    dc_concat(g, NULL, 2);
    expect_build_error(g, DC_ERR_ARG, "concat1");
    dc_graph_free(g);
}

/* ---------------------------------------------------------------- threads */

/* Inception-like block big enough to take the threaded paths: the same results, bit for bit, with
 * one thread and with two. */
TEST(pool_lrn_concat_threads_bitwise_equal) {
    enum { B = 8, C = 16, H = 16, W = 16 };
    float *res[2][2] = {{NULL, NULL}, {NULL, NULL}};
    int64_t n_out = 0, n_in = (int64_t)B * C * H * W;
    for (int threads = 1; threads <= 2; threads++) {
        dc_pool *pool = NULL;
        CHECK_OK(dc_pool_create(threads, &pool));
        dc_graph *g;
        dc_rng r;
        dc_rng_seed(&r, 99);
        CHECK_OK(dc_graph_create(&g));
        dc_node x = dc_input_grad(g, "x", dc_shape3(C, H, W));
        dc_pool2d_opts o3 = {.kh = 3, .kw = 3, .stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1};
        dc_pool2d_opts a3 = {.kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .ceil_mode = 1};
        dc_node br[4] = {dc_maxpool2d_ex(g, x, &o3), dc_lrn(g, x, 4, 0.5f, 0.75f, 1.0f), dc_tanh(g, x), x};
        dc_node cat = dc_concat(g, br, 4);
        dc_node p = dc_avgpool2d_ex(g, dc_maxpool2d(g, cat, 2, 2), &a3);
        dc_node y = dc_flatten(g, dc_global_avgpool(g, p));
        dc_node t = dc_input(g, "t", dc_shape1(4 * C));
        dc_node l = dc_mse(g, y, t);
        CHECK_OK(dc_graph_status(g));
        dc_graph_opts go = {.pool = pool, .seed = 1};
        CHECK_OK(dc_graph_plan(g, B, &go));
        dc_test_fill(&r, dc_graph_data(g, x), n_in, 1.0f, 0.0f);
        dc_test_fill(&r, dc_graph_data(g, t), B * 4 * C, 1.0f, 0.0f);
        CHECK_OK(dc_graph_forward(g, B, 1));
        dc_graph_zero_grad(g);
        CHECK_OK(dc_graph_backward(g, l));
        n_out = (int64_t)B * dc_shape_numel(dc_node_shape(g, p));
        res[threads - 1][0] = malloc((size_t)n_out * sizeof(float));
        res[threads - 1][1] = malloc((size_t)n_in * sizeof(float));
        memcpy(res[threads - 1][0], dc_graph_data(g, p), (size_t)n_out * sizeof(float));
        memcpy(res[threads - 1][1], dc_graph_grad(g, x), (size_t)n_in * sizeof(float));
        dc_graph_free(g);
        dc_pool_free(pool);
    }
    if (res[0][0] && res[1][0]) {
        CHECK(memcmp(res[0][0], res[1][0], (size_t)n_out * sizeof(float)) == 0);
        CHECK(memcmp(res[0][1], res[1][1], (size_t)n_in * sizeof(float)) == 0);
        int nonzero = 0;
        for (int64_t i = 0; i < n_in; i++) nonzero += res[0][1][i] != 0.0f;
        CHECK(nonzero > n_in / 2);
    }
    for (int i = 0; i < 2; i++) free(res[i][0]), free(res[i][1]);
}
