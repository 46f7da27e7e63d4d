/* test_ops.c — every op's backward against central finite differences (input and parameter
 * gradients, batch 1 and larger), plus the numerical properties the curriculum insists on. */
#include "gradcheck.h"
#include "test.h"
#include "kernels/kernels.h"
#include "graph/graph.h"

#include <stdlib.h>
#include <string.h>

/* Fill every input node's buffer: data inputs ~N(0,1) away from 0, targets as given. */
static void fill_input(dc_graph *g, dc_node n, int64_t batch, dc_rng *r, float min_abs) {
    dc_test_fill(r, dc_graph_data(g, n), batch * dc_shape_numel(dc_node_shape(g, n)), 1.0f, min_abs);
}
static void fill_labels(dc_graph *g, dc_node t, int64_t batch, int classes, dc_rng *r) {
    for (int64_t i = 0; i < batch; i++) dc_graph_data(g, t)[i] = (float)dc_rng_below(r, (uint64_t)classes);
}

typedef dc_node (*unary_builder)(dc_graph *, dc_node);

/* x [batch, d] -> op -> linear(3) -> mse with a random target. */
static void check_unary(unary_builder op, int64_t batch, int64_t d, float min_abs) {
    dc_graph *g;
    dc_rng r;
    dc_rng_seed(&r, (uint64_t)(batch * 131 + d));
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input_grad(g, "x", dc_shape1(d));
    dc_node t = dc_input(g, "t", dc_shape1(3));
    dc_node y = dc_linear(g, op(g, x), 3, "head");
    dc_node l = dc_mse(g, y, t);
    CHECK_OK(dc_graph_status(g));
    dc_graph_opts o = {.seed = 3};
    CHECK_OK(dc_graph_plan(g, batch, &o));
    fill_input(g, x, batch, &r, min_abs);
    fill_input(g, t, batch, &r, 0.0f);
    CHECK(dc_gradcheck(g, l, batch, &x, 1, 1e-2f, 1e-2, 1e-4, 64) == 0);
    dc_graph_free(g);
}

TEST(gradcheck_relu) { check_unary(dc_relu, 1, 7, 0.05f); check_unary(dc_relu, 6, 13, 0.05f); }
TEST(gradcheck_sigmoid) { check_unary(dc_sigmoid, 1, 5, 0.0f); check_unary(dc_sigmoid, 4, 9, 0.0f); }
TEST(gradcheck_tanh) { check_unary(dc_tanh, 1, 5, 0.0f); check_unary(dc_tanh, 5, 8, 0.0f); }
TEST(gradcheck_softmax) { check_unary(dc_softmax, 1, 4, 0.0f); check_unary(dc_softmax, 3, 10, 0.0f); }
static dc_node flatten_3d(dc_graph *g, dc_node x) {
    return dc_flatten(g, dc_reshape(g, x, dc_shape3(1, 2, dc_shape_numel(dc_node_shape(g, x)) / 2)));
}
TEST(gradcheck_reshape_flatten) { check_unary(flatten_3d, 2, 6, 0.0f); }
static dc_node dropout_half(dc_graph *g, dc_node x) { return dc_dropout(g, x, 0.5f); }
TEST(gradcheck_dropout) { check_unary(dropout_half, 4, 12, 0.0f); }
static dc_node bn(dc_graph *g, dc_node x) { return dc_batchnorm(g, x, NULL); }
TEST(gradcheck_batchnorm_features) { check_unary(bn, 5, 6, 0.0f); check_unary(bn, 3, 4, 0.0f); }
static dc_node add_self(dc_graph *g, dc_node x) { return dc_add(g, dc_tanh(g, x), dc_sigmoid(g, x)); }
TEST(gradcheck_add_two_branches) { check_unary(add_self, 3, 5, 0.0f); }

TEST(gradcheck_batchnorm_channels_4d) {
    /* [N, C, H, W] = [3, 2, 2, 3]: statistics per channel over N*H*W */
    dc_graph *g;
    dc_rng r;
    dc_rng_seed(&r, 9);
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input_grad(g, "x", dc_shape3(2, 2, 3));
    dc_node t = dc_input(g, "t", dc_shape1(4));
    dc_node l = dc_mse(g, dc_linear(g, dc_flatten(g, dc_batchnorm(g, x, "bn")), 4, "head"), t);
    CHECK_OK(dc_graph_status(g));
    CHECK_OK(dc_graph_plan(g, 3, NULL));
    fill_input(g, x, 3, &r, 0.0f);
    fill_input(g, t, 3, &r, 0.0f);
    CHECK(dc_gradcheck(g, l, 3, &x, 1, 1e-2f, 1e-2, 1e-4, 64) == 0);
    dc_graph_free(g);
}

static void check_linear(int64_t batch, int64_t in, int64_t out, int no_bias) {
    dc_graph *g;
    dc_rng r;
    dc_rng_seed(&r, (uint64_t)(batch + in * 7 + out * 31));
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input_grad(g, "x", dc_shape1(in));
    dc_node t = dc_input(g, "t", dc_shape1(out));
    dc_linear_opts lo = {.init = DC_INIT_NORMAL, .init_value = 0.5f, .no_bias = no_bias};
    dc_node l = dc_mse(g, dc_linear_ex(g, x, out, "fc", &lo), t);
    CHECK_OK(dc_graph_plan(g, batch, NULL));
    fill_input(g, x, batch, &r, 0.0f);
    fill_input(g, t, batch, &r, 0.0f);
    CHECK(dc_gradcheck(g, l, batch, &x, 1, 1e-2f, 1e-2, 1e-4, 64) == 0);
    dc_graph_free(g);
}

TEST(gradcheck_linear) {
    check_linear(1, 5, 3, 0);
    check_linear(7, 13, 9, 0);
    check_linear(33, 17, 40, 1);
}

TEST(gradcheck_linear_flattens_higher_rank_input) {
    dc_graph *g;
    dc_rng r;
    dc_rng_seed(&r, 5);
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input_grad(g, "x", dc_shape3(2, 3, 2));
    dc_node t = dc_input(g, "t", dc_shape1(4));
    dc_node l = dc_mse(g, dc_linear(g, x, 4, "fc"), t);
    CHECK(dc_node_shape(g, dc_graph_find(g, "fc")).dim[0] == 4);
    CHECK_OK(dc_graph_plan(g, 2, NULL));
    fill_input(g, x, 2, &r, 0.0f);
    fill_input(g, t, 2, &r, 0.0f);
    CHECK(dc_gradcheck(g, l, 2, &x, 1, 1e-2f, 1e-2, 1e-4, 64) == 0);
    dc_graph_free(g);
}

static void check_loss_eps(int kind, int64_t batch, int64_t classes, int dense_target, float eps) {
    dc_graph *g;
    dc_rng r;
    dc_rng_seed(&r, (uint64_t)(kind * 1000 + batch * 10 + classes));
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input_grad(g, "x", dc_shape1(classes));
    dc_node t = dense_target ? dc_input(g, "t", dc_shape1(classes)) : dc_input(g, "t", dc_shape_make(0, NULL));
    dc_node l = kind == 0   ? dc_softmax_cross_entropy_ex(g, x, t, eps)
                : kind == 1 ? dc_cross_entropy(g, dc_softmax(g, x), t)
                            : dc_mse(g, x, t);
    CHECK_OK(dc_graph_status(g));
    CHECK_OK(dc_graph_plan(g, batch, NULL));
    fill_input(g, x, batch, &r, 0.0f);
    if (dense_target) {
        /* a probability vector per row */
        float *tv = dc_graph_data(g, t);
        for (int64_t i = 0; i < batch; i++) {
            float s = 0;
            for (int64_t c = 0; c < classes; c++) s += tv[i * classes + c] = dc_rng_uniform(&r) + 0.1f;
            for (int64_t c = 0; c < classes; c++) tv[i * classes + c] /= s;
        }
    } else {
        fill_labels(g, t, batch, (int)classes, &r);
    }
    CHECK(dc_gradcheck(g, l, batch, &x, 1, 1e-2f, 1e-2, 1e-4, 64) == 0);
    dc_graph_free(g);
}

static void check_loss(int kind, int64_t batch, int64_t classes, int dense_target) {
    check_loss_eps(kind, batch, classes, dense_target, 0.0f);
}

TEST(gradcheck_softmax_cross_entropy_label_smoothing) {
    check_loss_eps(0, 1, 10, 0, 0.1f);
    check_loss_eps(0, 6, 7, 1, 0.2f);
}

TEST(label_smoothing_loss_by_hand) {
    /* logits (0, ln 2, ln 3) -> p = (1/6, 2/6, 3/6); label 2; eps 0.3:
       L = -(0.7 log(1/2) + 0.1 (log(1/6) + log(1/3) + log(1/2))) */
    dc_graph *g;
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input(g, "x", dc_shape1(3));
    dc_node t = dc_input(g, "t", dc_shape_make(0, NULL));
    dc_node l = dc_softmax_cross_entropy_ex(g, x, t, 0.3f);
    CHECK_OK(dc_graph_plan(g, 1, NULL));
    dc_graph_data(g, x)[0] = 0.0f;
    dc_graph_data(g, x)[1] = (float)log(2.0);
    dc_graph_data(g, x)[2] = (float)log(3.0);
    dc_graph_data(g, t)[0] = 2.0f;
    CHECK_OK(dc_graph_forward(g, 1, 1));
    double want = -(0.7 * log(0.5) + 0.1 * (log(1.0 / 6) + log(1.0 / 3) + log(0.5)));
    CHECK_NEAR(dc_graph_loss(g, l), want, 1e-6);
    CHECK(dc_softmax_cross_entropy_ex(g, x, t, 1.0f) == DC_NONE);
    CHECK_ERR(dc_graph_status(g), DC_ERR_ARG);
    dc_graph_free(g);
}

TEST(gradcheck_softmax_cross_entropy) {
    check_loss(0, 1, 10, 0);
    check_loss(0, 8, 10, 0);
    check_loss(0, 4, 5, 1);
}
TEST(gradcheck_cross_entropy_on_probabilities) {
    check_loss(1, 1, 6, 0);
    check_loss(1, 5, 4, 1);
}
TEST(gradcheck_mse) {
    check_loss(2, 1, 3, 1);
    check_loss(2, 6, 4, 1);
}

TEST(gradcheck_mlp_with_weight_decay) {
    dc_graph *g;
    dc_rng r;
    dc_rng_seed(&r, 77);
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input_grad(g, "x", dc_shape1(6));
    dc_node t = dc_input(g, "t", dc_shape_make(0, NULL));
    dc_node h = dc_tanh(g, dc_batchnorm(g, dc_linear(g, x, 8, "fc1"), "bn1"));
    dc_node l = dc_softmax_cross_entropy(g, dc_linear(g, h, 3, "fc2"), t);
    dc_graph_opts o = {.seed = 1, .weight_decay = 0.3f};
    CHECK_OK(dc_graph_plan(g, 4, &o));
    fill_input(g, x, 4, &r, 0.0f);
    fill_labels(g, t, 4, 3, &r);
    CHECK(dc_gradcheck(g, l, 4, &x, 1, 1e-2f, 1e-2, 1e-4, 64) == 0);
    dc_graph_free(g);
}

TEST(softmax_stays_finite_for_large_inputs) {
    float x[6] = {1000.0f, 1001.0f, 1002.0f, -1000.0f, 0.0f, 1000.0f}, y[6];
    float lab[2] = {2, 0};
    dc_graph *g;
    CHECK_OK(dc_graph_create(&g));
    dc_node in = dc_input(g, "x", dc_shape1(3));
    dc_node t = dc_input(g, "t", dc_shape_make(0, NULL));
    dc_node sm = dc_softmax(g, in);
    dc_node l = dc_softmax_cross_entropy(g, in, t);
    CHECK_OK(dc_graph_plan(g, 2, NULL));
    memcpy(dc_graph_data(g, in), x, sizeof x);
    memcpy(dc_graph_data(g, t), lab, sizeof lab);
    CHECK_OK(dc_graph_forward(g, 2, 0));
    memcpy(y, dc_graph_data(g, sm), sizeof y);
    for (int i = 0; i < 6; i++) CHECK(isfinite(y[i]));
    /* row 0: softmax(0,1,2) = e^k / (1+e+e^2) */
    double z = 1 + exp(1) + exp(2);
    CHECK_NEAR(y[0], 1 / z, 1e-6);
    CHECK_NEAR(y[2], exp(2) / z, 1e-6);
    /* row 1: (-1000, 0, 1000) -> (0, 0, 1) */
    CHECK_NEAR(y[5], 1.0, 1e-6);
    float L = dc_graph_loss(g, l);
    /* row 0 label 2: -log(e^2/z); row 1 label 0: 2000 (finite, from log-sum-exp) */
    CHECK(isfinite(L));
    CHECK_NEAR(L, (-(2 - log(z)) + 2000.0) / 2.0, 1e-3);
    dc_graph_free(g);
}

TEST(batchnorm_eval_uses_running_statistics) {
    dc_graph *g;
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input(g, "x", dc_shape1(2));
    dc_node b = dc_batchnorm_ex(g, x, "bn", 1e-5f, 0.5f);
    CHECK_OK(dc_graph_plan(g, 4, NULL));
    float in[8] = {1, 10, 3, 10, 5, 20, 7, 20}; /* channel 0: 1,3,5,7 (mean 4, var 5); channel 1: mean 15 */
    memcpy(dc_graph_data(g, x), in, sizeof in);
    CHECK_OK(dc_graph_forward(g, 4, 1));
    float *y = dc_graph_data(g, b);
    CHECK_NEAR(y[0], (1 - 4) / sqrt(5 + 1e-5), 1e-5); /* training: batch statistics */
    const dc_param *p = dc_graph_params(g);
    /* running = 0.5*init + 0.5*batch; variance unbiased (20/3) */
    CHECK(strcmp(p[2].name, "bn.running_mean") == 0);
    CHECK_NEAR(p[2].data[0], 0.5 * 4, 1e-5);
    CHECK_NEAR(p[3].data[0], 0.5 * 1 + 0.5 * (20.0 / 3.0), 1e-4);
    /* eval: one example normalised with the running statistics, not its own */
    CHECK_OK(dc_graph_forward(g, 1, 0));
    CHECK_NEAR(y[0], (1 - 2.0) / sqrt(0.5 + 10.0 / 3.0 + 1e-5), 1e-5);
    dc_graph_free(g);
}

TEST(dropout_keeps_expected_scale_and_is_identity_at_inference) {
    dc_graph *g;
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input(g, "x", dc_shape1(1000));
    dc_node d = dc_dropout(g, x, 0.3f);
    dc_graph_opts o = {.seed = 11};
    CHECK_OK(dc_graph_plan(g, 100, &o));
    for (int i = 0; i < 100000; i++) dc_graph_data(g, x)[i] = 2.0f;
    CHECK_OK(dc_graph_forward(g, 100, 1));
    double s = 0;
    int zeros = 0;
    for (int i = 0; i < 100000; i++) {
        float v = dc_graph_data(g, d)[i];
        s += v;
        zeros += v == 0.0f;
        CHECK(v == 0.0f || fabsf(v - 2.0f / 0.7f) < 1e-5f);
    }
    CHECK_NEAR(s / 100000, 2.0, 0.02);        /* expectation unchanged */
    CHECK_NEAR(zeros / 100000.0, 0.3, 0.01);  /* drop rate p */
    CHECK_OK(dc_graph_forward(g, 100, 0));
    for (int i = 0; i < 100000; i += 997) CHECK(dc_graph_data(g, d)[i] == 2.0f);
    /* a fresh mask each training pass */
    float first = 0;
    int changed = 0;
    CHECK_OK(dc_graph_forward(g, 100, 1));
    first = dc_graph_data(g, d)[0];
    for (int k = 0; k < 20 && !changed; k++) {
        CHECK_OK(dc_graph_forward(g, 100, 1));
        changed = dc_graph_data(g, d)[0] != first;
    }
    CHECK(changed);
    dc_graph_free(g);
}

/* The dropout mask is a function of (pass key, element index): the kernel run in pieces gives the
 * mask of one call, also across the 2^32-element boundary where the index's high word changes,
 * and a 2-thread graph draws the mask of a 1-thread one. */
TEST(dropout_mask_does_not_depend_on_the_split_or_the_threads) {
    enum { N = 3000 };
    static float x[N], m1[N], y1[N], m2[N], y2[N];
    for (int i = 0; i < N; i++) x[i] = 1.0f + (float)i;
    const uint64_t key = 0x0123456789ABCDEFull;
    const int64_t first = ((int64_t)1 << 32) - 1000; /* straddles the high-word change */
    dc_dropout_forward(N, 0.4f, key, first, x, m1, y1);
    dc_dropout_forward(700, 0.4f, key, first, x, m2, y2);
    dc_dropout_forward(N - 700, 0.4f, key, first + 700, x + 700, m2 + 700, y2 + 700);
    int kept = 0, same_masks_after_boundary = 1;
    for (int i = 0; i < N; i++) {
        CHECK(m1[i] == m2[i] && y1[i] == y2[i]);
        float u = dc_dropout_uniform(key, first + i);
        CHECK(u >= 0.0f && u < 1.0f);
        CHECK(m1[i] == (u >= 0.4f ? 1.0f / 0.6f : 0.0f));
        CHECK(y1[i] == x[i] * m1[i]);
        kept += m1[i] != 0.0f;
        /* the elements past the boundary do not repeat those before it */
        if (i >= 1000 && i < 2000 && m1[i] != m1[i - 1000]) same_masks_after_boundary = 0;
    }
    CHECK(!same_masks_after_boundary);
    CHECK_NEAR(kept / (double)N, 0.6, 0.03);

    float *out[2];
    for (int threads = 1; threads <= 2; threads++) {
        dc_pool *pool = NULL;
        if (threads > 1) CHECK_OK(dc_pool_create(threads, &pool));
        dc_graph *g;
        CHECK_OK(dc_graph_create(&g));
        dc_node in = dc_input(g, "x", dc_shape1(1000));
        dc_node d = dc_dropout(g, in, 0.5f);
        dc_graph_opts o = {.pool = pool, .seed = 5};
        CHECK_OK(dc_graph_plan(g, 200, &o));
        for (int i = 0; i < 200000; i++) dc_graph_data(g, in)[i] = 1.0f;
        CHECK_OK(dc_graph_forward(g, 200, 1));
        out[threads - 1] = malloc(200000 * sizeof(float));
        memcpy(out[threads - 1], dc_graph_data(g, d), 200000 * sizeof(float));
        dc_graph_free(g);
        dc_pool_free(pool);
    }
    CHECK(memcmp(out[0], out[1], 200000 * sizeof(float)) == 0);
    free(out[0]);
    free(out[1]);
}

/* Written gradients (dc_node_rec.grad_assign).  Each op that writes its input's gradient when it
 * is that input's only consumer must give the gradient it adds when the buffer is shared: the same
 * network once with the op reading x directly (x's gradient is written, not zeroed) and once
 * through an identity Reshape (a view: the buffer is zeroed and added to), compared bit for bit. */
typedef dc_node (*wrap_fn)(dc_graph *, dc_node);
static dc_node wrap_none(dc_graph *g, dc_node x) { (void)g; return x; }
static dc_node wrap_view(dc_graph *g, dc_node x) { return dc_reshape(g, x, dc_node_shape(g, x)); }
typedef dc_node (*assign_builder)(dc_graph *, dc_node, wrap_fn);
static dc_node ab_linear(dc_graph *g, dc_node x, wrap_fn w) { return dc_linear(g, w(g, x), 7, "fc"); }
static dc_node ab_relu(dc_graph *g, dc_node x, wrap_fn w) { return dc_relu(g, w(g, x)); }
static dc_node ab_dropout(dc_graph *g, dc_node x, wrap_fn w) { return dc_dropout(g, w(g, x), 0.3f); }
static dc_node ab_bn(dc_graph *g, dc_node x, wrap_fn w) { return dc_batchnorm(g, w(g, x), "bn"); }
static dc_node ab_lrn(dc_graph *g, dc_node x, wrap_fn w) { return dc_lrn(g, w(g, x), 5, 0.5f, 0.75f, 2.0f); }
static dc_node ab_add(dc_graph *g, dc_node x, wrap_fn w) {
    return dc_add(g, w(g, dc_relu(g, x)), w(g, dc_sigmoid(g, x)));
}
static dc_node ab_maxpool(dc_graph *g, dc_node x, wrap_fn w) { return dc_maxpool2d(g, w(g, x), 2, 2); }
static dc_node ab_maxpool_overlap(dc_graph *g, dc_node x, wrap_fn w) { return dc_maxpool2d(g, w(g, x), 3, 2); }
static dc_node ab_avgpool(dc_graph *g, dc_node x, wrap_fn w) { return dc_avgpool2d(g, w(g, x), 3, 2); }
static dc_node ab_gap(dc_graph *g, dc_node x, wrap_fn w) { return dc_global_avgpool(g, w(g, x)); }
static dc_node ab_concat(dc_graph *g, dc_node x, wrap_fn w) {
    dc_node parts[2] = {w(g, dc_relu(g, x)), w(g, dc_sigmoid(g, x))};
    return dc_concat(g, parts, 2);
}
static dc_node ab_conv3(dc_graph *g, dc_node x, wrap_fn w) { return dc_conv2d(g, w(g, x), 32, 3, 1, 1, "c"); }
static dc_node ab_conv3_small(dc_graph *g, dc_node x, wrap_fn w) { return dc_conv2d(g, w(g, x), 8, 3, 1, 1, "c"); }
static dc_node ab_conv3_s2(dc_graph *g, dc_node x, wrap_fn w) { return dc_conv2d(g, w(g, x), 16, 3, 2, 1, "c"); }
static dc_node ab_conv1(dc_graph *g, dc_node x, wrap_fn w) { return dc_conv2d(g, w(g, x), 16, 1, 1, 0, "c"); }

static void grads_through(assign_builder b, wrap_fn w, int C, int hw, float *dx, int *assigned) {
    enum { B = 3 };
    dc_graph *g;
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input_grad(g, "x", dc_shape3(C, hw, hw));
    dc_node y = dc_flatten(g, b(g, x, w));
    dc_node t = dc_input(g, "t", dc_node_shape(g, y));
    dc_node l = dc_mse(g, y, t);
    dc_graph_opts o = {.seed = 3};
    CHECK_OK(dc_graph_plan(g, B, &o));
    dc_rng r;
    dc_rng_seed(&r, 9);
    int64_t nx = B * dc_shape_numel(dc_node_shape(g, x)), nt = B * dc_shape_numel(dc_node_shape(g, t));
    dc_test_fill(&r, dc_graph_data(g, x), nx, 1.0f, 0.01f);
    dc_test_fill(&r, dc_graph_data(g, t), nt, 1.0f, 0.0f);
    for (int pass = 0; pass < 2; pass++) { /* the second pass finds the first one's gradients in the buffers */
        CHECK_OK(dc_graph_forward(g, B, 1));
        dc_graph_zero_grad(g);
        CHECK_OK(dc_graph_backward(g, l));
    }
    memcpy(dx, dc_graph_grad(g, x), (size_t)nx * sizeof(float));
    /* how many buffers the ops wrote instead of adding to */
    *assigned = 0;
    for (int i = 0; i < g->n_nodes; i++) *assigned += g->nodes[i].grad_assign;
    dc_graph_free(g);
}

TEST(written_gradients_equal_accumulated_ones) {
    static const struct { const char *name; assign_builder b; int C, hw; } cases[] = {
        {"linear", ab_linear, 3, 5},  {"relu", ab_relu, 3, 5},          {"dropout", ab_dropout, 3, 5},
        {"batchnorm", ab_bn, 4, 5},   {"lrn", ab_lrn, 6, 4},            {"add", ab_add, 3, 5},
        {"conv3x3 32->32 (Winograd dX)", ab_conv3, 32, 20},             {"conv3x3 8->8 (direct dX)", ab_conv3_small, 8, 28},
        {"conv3x3 4->8 (direct dX, flipped)", ab_conv3_small, 4, 28},   {"conv3x3 stride 2 (col2im dX)", ab_conv3_s2, 8, 9},
        {"conv1x1", ab_conv1, 8, 5},                                    {"maxpool 2/2", ab_maxpool, 3, 6},
        {"maxpool 3/2", ab_maxpool_overlap, 3, 7},                {"avgpool 3/2", ab_avgpool, 3, 7},
        {"global avgpool", ab_gap, 4, 5},                               {"concat", ab_concat, 3, 4},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int64_t n = 3 * (int64_t)cases[k].C * cases[k].hw * cases[k].hw;
        float *a = malloc((size_t)n * sizeof(float)), *b = malloc((size_t)n * sizeof(float));
        int written, written_view;
        grads_through(cases[k].b, wrap_none, cases[k].C, cases[k].hw, a, &written);
        grads_through(cases[k].b, wrap_view, cases[k].C, cases[k].hw, b, &written_view);
        /* direct: the op writes x's (or, for add, its inputs') gradient; through views nothing is
         * written but what the mse loss feeds (its input is a flatten view: none) */
        CHECK(written >= 1);
        CHECK(written_view < written);
        int same = 1, nonzero = 0;
        for (int64_t i = 0; i < n; i++) {
            same &= a[i] == b[i];
            nonzero += a[i] != 0.0f;
        }
        if (!same || !nonzero) fprintf(stderr, "  case %s: same %d, nonzero %d of %lld\n", cases[k].name, same, nonzero, (long long)n);
        CHECK(same);
        CHECK(nonzero > 0);
        free(a);
        free(b);
    }
}

TEST(weight_decay_adds_half_lambda_w_squared) {
    dc_graph *g;
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input(g, "x", dc_shape1(3));
    dc_node t = dc_input(g, "t", dc_shape_make(0, NULL));
    dc_node l = dc_softmax_cross_entropy(g, dc_linear(g, dc_batchnorm(g, dc_linear(g, x, 4, "a"), "bn"), 2, "b"), t);
    dc_graph_opts o = {.seed = 2, .weight_decay = 0.25f};
    CHECK_OK(dc_graph_plan(g, 2, &o));
    const dc_param *p = dc_graph_params(g);
    double w2 = 0;
    for (int i = 0; i < dc_graph_param_count(g); i++) {
        int is_weight = strstr(p[i].name, ".weight") && strncmp(p[i].name, "bn", 2) != 0;
        CHECK(p[i].decay == is_weight); /* weights only: not biases, not BatchNorm */
        if (p[i].decay)
            for (int64_t k = 0; k < p[i].numel; k++) w2 += (double)p[i].data[k] * p[i].data[k];
    }
    CHECK(w2 > 0);
    for (int i = 0; i < 6; i++) dc_graph_data(g, x)[i] = (float)i;
    dc_graph_data(g, t)[0] = 1;
    dc_graph_data(g, t)[1] = 0;
    CHECK_OK(dc_graph_forward(g, 2, 1));
    float with = dc_graph_loss(g, l);
    CHECK_NEAR(dc_graph_decay_term(g), 0.5 * 0.25 * w2, 1e-5 * w2);
    CHECK_NEAR(with - (with - dc_graph_decay_term(g)), 0.125 * w2, 1e-4 * w2);
    dc_graph_free(g);
}

TEST(build_errors_name_layer_and_shapes) {
    dc_graph *g;
    CHECK_OK(dc_graph_create(&g));
    dc_node a = dc_input(g, "a", dc_shape1(4));
    dc_node b = dc_input(g, "b", dc_shape1(5));
    dc_node s = dc_add(g, a, b);
    CHECK(s == DC_NONE);
    CHECK(dc_linear(g, s, 3, "after") == DC_NONE); /* poisoned: later calls fail quietly */
    CHECK_ERR(dc_graph_status(g), DC_ERR_SHAPE);
    CHECK(strstr(dc_last_error(), "[4]") && strstr(dc_last_error(), "[5]") && strstr(dc_last_error(), "add1"));
    CHECK_ERR(dc_graph_plan(g, 8, NULL), DC_ERR_SHAPE);
    dc_graph_free(g);

    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input(g, "x", dc_shape1(12));
    CHECK(dc_reshape(g, x, dc_shape2(5, 2)) == DC_NONE);
    CHECK_ERR(dc_graph_status(g), DC_ERR_SHAPE);
    dc_graph_free(g);

    CHECK_OK(dc_graph_create(&g));
    x = dc_input(g, "x", dc_shape1(12));
    dc_node t = dc_input(g, "t", dc_shape1(7));
    CHECK(dc_softmax_cross_entropy(g, dc_linear(g, x, 10, "fc"), t) == DC_NONE);
    CHECK_ERR(dc_graph_status(g), DC_ERR_SHAPE);
    dc_graph_free(g);

    CHECK_OK(dc_graph_create(&g));
    x = dc_input(g, "x", dc_shape1(12));
    CHECK(dc_linear(g, x, 0, "zero") == DC_NONE);
    CHECK_ERR(dc_graph_status(g), DC_ERR_ARG);
    dc_graph_free(g);

    CHECK_OK(dc_graph_create(&g));
    x = dc_input(g, "x", dc_shape1(3));
    CHECK(dc_dropout(g, x, 1.5f) == DC_NONE);
    CHECK_ERR(dc_graph_status(g), DC_ERR_ARG);
    CHECK(dc_relu(g, 42) == DC_NONE);
    dc_graph_free(g);
}

TEST(forward_rejects_bad_labels_and_batch) {
    dc_graph *g;
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input(g, "x", dc_shape1(3));
    dc_node t = dc_input(g, "t", dc_shape_make(0, NULL));
    dc_softmax_cross_entropy(g, dc_linear(g, x, 4, "fc"), t);
    CHECK_ERR(dc_graph_forward(g, 1, 1), DC_ERR_STATE);
    CHECK_OK(dc_graph_plan(g, 2, NULL));
    CHECK_ERR(dc_graph_forward(g, 3, 1), DC_ERR_ARG);
    dc_graph_data(g, t)[0] = 1;
    dc_graph_data(g, t)[1] = 4; /* classes are 0..3 */
    CHECK_ERR(dc_graph_forward(g, 2, 1), DC_ERR_ARG);
    CHECK(strstr(dc_last_error(), "example 1"));
    dc_graph_free(g);
}

TEST(nan_guard_names_first_bad_node) {
    dc_graph *g;
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input(g, "x", dc_shape1(2));
    dc_relu(g, dc_linear(g, x, 2, "fc1"));
    CHECK_OK(dc_graph_plan(g, 1, NULL));
    dc_graph_set_nan_check(g, 1);
    dc_graph_data(g, x)[0] = NAN;
    CHECK_ERR(dc_graph_forward(g, 1, 0), DC_ERR_NUMERIC);
    CHECK(strstr(dc_last_error(), "fc1") != NULL);
    dc_graph_free(g);
}

TEST(default_init_is_he_before_relu_and_xavier_elsewhere) {
    dc_graph *g;
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input(g, "x", dc_shape1(400));
    dc_node h = dc_relu(g, dc_linear(g, x, 300, "he"));
    dc_sigmoid(g, dc_linear(g, h, 300, "xavier"));
    dc_graph_opts o = {.seed = 4};
    CHECK_OK(dc_graph_plan(g, 1, &o));
    const dc_param *p = dc_graph_params(g);
    double s0 = 0, s1 = 0;
    for (int64_t k = 0; k < p[0].numel; k++) s0 += (double)p[0].data[k] * p[0].data[k];
    for (int64_t k = 0; k < p[2].numel; k++) s1 += (double)p[2].data[k] * p[2].data[k];
    CHECK_NEAR(sqrt(s0 / p[0].numel), sqrt(2.0 / 400), 0.01 * sqrt(2.0 / 400)); /* He: sqrt(2/n) */
    CHECK_NEAR(sqrt(s1 / p[2].numel), 1.0 / sqrt(300), 0.01 / sqrt(300));       /* Xavier: 1/sqrt(n) */
    for (int64_t k = 0; k < p[1].numel; k++) CHECK(p[1].data[k] == 0.0f);       /* biases start at 0 */
    dc_graph_free(g);
}

TEST(sigmoid_fast_path_matches_libm_reference) {
    enum { N = 20011 }; /* not a multiple of 8: the tail takes the reference path */
    static float x[N], fast[N], ref[N];
    dc_rng r;
    dc_rng_seed(&r, 21);
    for (int i = 0; i < N; i++) x[i] = 12.0f * dc_rng_normal(&r);
    x[0] = 0.0f; x[1] = 88.0f; x[2] = -88.0f; x[3] = 1000.0f; x[4] = -1000.0f; x[5] = 1e-8f;
    dc_sigmoid_forward(N, x, fast);
    dc_sigmoid_forward_ref(N, x, ref);
    double worst = 0;
    for (int i = 0; i < N; i++) {
        CHECK(isfinite(fast[i]) && fast[i] >= 0.0f && fast[i] <= 1.0f);
        double err = fabs((double)fast[i] - ref[i]);
        if (err > worst) worst = err;
    }
    CHECK_MSG(worst <= 3e-7, "worst |fast - libm| = %.3g", worst); /* a few ulp of values near 1 */
    CHECK(fast[0] == 0.5f);
    CHECK(fast[3] == 1.0f && fast[4] < 1e-30f);
    for (int i = 0; i < N; i++)  /* relative accuracy where the sigmoid is tiny */
        if (ref[i] > 1e-30f && ref[i] < 1e-3f) CHECK_NEAR(fast[i] / ref[i], 1.0, 1e-5);
}

TEST(graph_wide_init_override_and_per_layer_choice) {
    dc_graph *g;
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input(g, "x", dc_shape1(500));
    dc_linear_opts he = {.init = DC_INIT_HE};
    dc_node h = dc_relu(g, dc_linear(g, x, 400, "a"));       /* follows the graph-wide choice */
    dc_tanh(g, dc_linear_ex(g, h, 400, "b", &he));           /* its own choice wins */
    dc_graph_opts o = {.seed = 8, .init = DC_INIT_NORMAL, .init_value = 0.05f};
    CHECK_OK(dc_graph_plan(g, 1, &o));
    const dc_param *p = dc_graph_params(g);
    double s0 = 0, s1 = 0;
    for (int64_t k = 0; k < p[0].numel; k++) s0 += (double)p[0].data[k] * p[0].data[k];
    for (int64_t k = 0; k < p[2].numel; k++) s1 += (double)p[2].data[k] * p[2].data[k];
    CHECK_NEAR(sqrt(s0 / p[0].numel), 0.05, 0.001);
    CHECK_NEAR(sqrt(s1 / p[2].numel), sqrt(2.0 / 400), 0.01 * sqrt(2.0 / 400));
    dc_graph_free(g);
}

TEST(gradcheck_weighted_loss_sum) {
    dc_graph *g;
    dc_rng r;
    dc_rng_seed(&r, 31);
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input_grad(g, "x", dc_shape1(5));
    dc_node t = dc_input(g, "t", dc_shape_make(0, NULL));
    dc_node main = dc_softmax_cross_entropy(g, dc_linear(g, x, 4, "main"), t);
    dc_node aux = dc_softmax_cross_entropy(g, dc_linear(g, x, 4, "aux"), t);
    dc_node parts[2] = {main, aux};
    float w[2] = {1.0f, 0.3f};
    dc_node l = dc_loss_sum(g, parts, w, 2);
    CHECK_OK(dc_graph_plan(g, 3, NULL));
    fill_input(g, x, 3, &r, 0.0f);
    fill_labels(g, t, 3, 4, &r);
    CHECK(dc_gradcheck(g, l, 3, &x, 1, 1e-2f, 1e-2, 1e-4, 64) == 0);
    CHECK_OK(dc_graph_forward(g, 3, 1));
    CHECK_NEAR(dc_graph_loss(g, l), dc_graph_loss(g, main) + 0.3 * dc_graph_loss(g, aux), 1e-5);
    dc_graph_free(g);
    CHECK_OK(dc_graph_create(&g));
    x = dc_input(g, "x", dc_shape1(5));
    CHECK(dc_loss_sum(g, &x, w, 1) == DC_NONE); /* not a loss */
    CHECK_ERR(dc_graph_status(g), DC_ERR_ARG);
    dc_graph_free(g);
}
