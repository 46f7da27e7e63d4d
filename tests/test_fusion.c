/* test_fusion.c — fusion (dc_graph_set_fusion).  Inference: a network with every fusable chain
 * (conv -> BN -> ReLU on the direct, GEMM and Winograd paths; conv -> BN into an add; add -> ReLU;
 * conv -> ReLU; conv -> BN -> add -> ReLU with an identity shortcut, on the Winograd and GEMM paths;
 * a BN with two consumers, whose ReLU must not be fused) gives the unfused results,
 * skips the intermediate outputs it says it skips, leaves partial passes (dc_graph_forward_to a
 * skipped node) alone, and does not depend on the thread count.  Training (BN -> ReLU and
 * add -> ReLU): the same network's loss, parameter and input gradients equal the unfused ones bit
 * for bit, the norm's and the add's outputs are skipped, and a gradient buffer that the planner
 * could otherwise share with a fused ReLU's gradient is kept apart from it. */
#include "gradcheck.h"
#include "graph/graph.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 17 /* 8x8 maps: 4 Winograd tiles of 4x4 per image, 68 in all, enough for that path */

typedef struct net {
    dc_graph *g;
    dc_node x, c1, bn1, r1, c3, add, r3, c5, r5, c7, add7, r7, c8, add8, r8, bn6, r6, out, t, loss;
} net;

static dc_node conv(dc_graph *g, dc_node x, int oc, int k, int stride, int bias, const char *name) {
    dc_conv2d_opts o = {.kh = k, .kw = k, .stride_h = stride, .stride_w = stride, .pad_h = k / 2, .pad_w = k / 2,
                        .no_bias = !bias};
    return dc_conv2d_ex(g, x, oc, name, &o);
}

static void build(net *n, dc_pool *pool) {
    CHECK_OK(dc_graph_create(&n->g));
    dc_graph *g = n->g;
    n->x = dc_input_grad(g, "x", dc_shape3(8, 16, 16));
    n->c1 = conv(g, n->x, 16, 3, 1, 0, "c1");                        /* direct path, 16x16     */
    n->bn1 = dc_batchnorm(g, n->c1, "bn1");
    n->r1 = dc_relu(g, n->bn1);
    dc_node h = dc_relu(g, dc_batchnorm(g, conv(g, n->r1, 32, 3, 2, 1, "c2"), "bn2")); /* GEMM: stride 2 */
    n->c3 = conv(g, h, 32, 3, 1, 0, "c3");                             /* Winograd, 8x8         */
    dc_node b3 = dc_batchnorm(g, n->c3, "bn3");
    dc_node sc = conv(g, n->r1, 32, 1, 2, 1, "proj");                  /* 1x1 stride 2, bias    */
    n->add = dc_add(g, b3, sc);
    n->r3 = dc_relu(g, n->add);
    n->c5 = conv(g, n->r3, 32, 3, 1, 1, "c5");                         /* conv -> ReLU, no BN   */
    n->r5 = dc_relu(g, n->c5);
    n->c7 = conv(g, n->r5, 32, 3, 1, 0, "c7");                         /* conv -> BN -> add of an */
    n->add7 = dc_add(g, dc_batchnorm(g, n->c7, "bn7"), n->r5);         /* identity shortcut:      */
    n->r7 = dc_relu(g, n->add7);                                       /* Winograd adds it        */
    n->c8 = conv(g, n->r7, 32, 1, 1, 0, "c8");                         /* the same on the GEMM    */
    n->add8 = dc_add(g, n->r7, dc_batchnorm(g, n->c8, "bn8"));         /* path (a pass adds it),  */
    n->r8 = dc_relu(g, n->add8);                                       /* the residual first      */
    n->bn6 = dc_batchnorm(g, conv(g, n->r8, 32, 1, 1, 0, "c6"), "bn6"); /* BN read twice: folded, */
    n->r6 = dc_relu(g, n->bn6);                                         /* its ReLU not fused     */
    n->out = dc_linear(g, dc_flatten(g, dc_global_avgpool(g, dc_add(g, n->r6, n->bn6))), 10, "fc");
    n->t = dc_input(g, "labels", dc_shape_make(0, NULL));
    n->loss = dc_softmax_cross_entropy(g, n->out, n->t);
    CHECK_OK(dc_graph_status(g));
    dc_graph_opts o = {.pool = pool, .seed = 11};
    CHECK_OK(dc_graph_plan(g, BATCH, &o));
    /* batch-norm statistics and scales far from the identity, so a wrong fold shows */
    dc_rng r;
    dc_rng_seed(&r, 5);
    const dc_param *p = dc_graph_params(g);
    for (int i = 0; i < dc_graph_param_count(g); i++) {
        const int is_bn = !strncmp(p[i].name, "bn", 2), is_bias = strstr(p[i].name, ".bias") != NULL;
        if (is_bn) dc_test_fill(&r, p[i].data, p[i].numel, 0.5f, 0.0f); /* gamma, beta, mean */
        if (is_bn && strstr(p[i].name, ".running_var"))
            for (int64_t k = 0; k < p[i].numel; k++) p[i].data[k] = fabsf(p[i].data[k]) + 0.5f;
        if (!is_bn && is_bias) dc_test_fill(&r, p[i].data, p[i].numel, 0.3f, 0.0f);
    }
    dc_rng_seed(&r, 9);
    dc_test_fill(&r, dc_graph_data(g, n->x), BATCH * 8 * 16 * 16, 1.0f, 0.0f);
    for (int i = 0; i < BATCH; i++) dc_graph_data(g, n->t)[i] = (float)(i * 7 % 10);
}

static float *copy_of(dc_graph *g, dc_node node) {
    const int64_t k = BATCH * dc_shape_numel(dc_node_shape(g, node));
    float *c = malloc((size_t)k * sizeof(float));
    memcpy(c, dc_graph_data(g, node), (size_t)k * sizeof(float));
    return c;
}

static void check_same(dc_graph *g, dc_node node, const float *want, const char *what) {
    const int64_t k = BATCH * dc_shape_numel(dc_node_shape(g, node));
    const int64_t bad = dc_test_mismatch(dc_graph_data(g, node), want, k, 1e-5);
    CHECK_MSG(bad < 0, "%s: '%s' element %lld is %.7g, unfused %.7g", what, dc_node_name(g, node), (long long)bad,
              bad >= 0 ? dc_graph_data(g, node)[bad] : 0.0, bad >= 0 ? want[bad] : 0.0);
}

static void poison(dc_graph *g, dc_node node) {
    const int64_t k = BATCH * dc_shape_numel(dc_node_shape(g, node));
    float *d = dc_graph_data(g, node);
    for (int64_t i = 0; i < k; i++) d[i] = NAN;
}
static int still_poisoned(dc_graph *g, dc_node node) {
    return isnan(dc_graph_data(g, node)[0]) && isnan(dc_graph_data(g, node)[BATCH * dc_shape_numel(dc_node_shape(g, node)) - 1]);
}

static void fusion_case(dc_pool *pool) {
    net n;
    build(&n, pool);
    dc_graph *g = n.g;
    CHECK_OK(dc_graph_forward(g, BATCH, 0));
    const dc_node kept[] = {n.r1, n.r3, n.r5, n.r7, n.r8, n.bn6, n.r6, n.out};
    enum { NK = sizeof kept / sizeof kept[0] };
    float *want[NK];
    for (int i = 0; i < NK; i++) want[i] = copy_of(g, kept[i]);
    float *want_bn1 = copy_of(g, n.bn1);

    dc_graph_set_fusion(g, DC_FUSION_ALL);
    const dc_node skipped[] = {n.c1, n.bn1, n.c3, n.add, n.c5, n.c7, n.add7, n.c8, n.add8};
    enum { NS = sizeof skipped / sizeof skipped[0] };
    for (int i = 0; i < NS; i++) poison(g, skipped[i]);
    CHECK_OK(dc_graph_forward(g, BATCH, 0));
    for (int i = 0; i < NK; i++) check_same(g, kept[i], want[i], "fused forward");
    for (int i = 0; i < NS; i++)
        CHECK_MSG(still_poisoned(g, skipped[i]), "'%s' was computed: not fused", dc_node_name(g, skipped[i]));

    /* a pass that stops at a skipped node computes it (its chain is not fused) */
    CHECK_OK(dc_graph_forward_to(g, n.bn1, BATCH, 0));
    check_same(g, n.bn1, want_bn1, "forward_to the batch norm");

    /* training passes fold nothing: the convolutions are written again (the norm needs their output) */
    for (int i = 0; i < NS; i++) poison(g, skipped[i]);
    CHECK_OK(dc_graph_forward(g, BATCH, 1));
    const dc_node convs[] = {n.c1, n.c3, n.c5};
    for (int i = 0; i < 3; i++)
        CHECK_MSG(!still_poisoned(g, convs[i]), "'%s' skipped in a training pass", dc_node_name(g, convs[i]));

    for (int i = 0; i < NK; i++) free(want[i]);
    free(want_bn1);
    dc_graph_free(g);
}

/* fn on a pool of two threads */
static void on_two_threads(void (*fn)(dc_pool *)) {
    dc_pool *pool;
    CHECK_OK(dc_pool_create(2, &pool));
    fn(pool);
    dc_pool_free(pool);
}

TEST(fusion_matches_unfused_no_pool) { fusion_case(NULL); }
TEST(fusion_matches_unfused_two_threads) { on_two_threads(fusion_case); }

/* A NaN produced inside a fused chain is still caught by the NaN check, named by the chain's last node. */
TEST(fusion_nan_check_names_the_chain_output) {
    net n;
    build(&n, NULL);
    dc_graph *g = n.g;
    dc_graph_set_fusion(g, DC_FUSION_INFERENCE);
    dc_graph_set_nan_check(g, 1);
    const dc_param *p = dc_graph_params(g);
    for (int i = 0; i < dc_graph_param_count(g); i++)
        if (!strcmp(p[i].name, "bn3.running_var")) p[i].data[0] = NAN;
    dc_error_clear();
    CHECK(dc_graph_forward(g, BATCH, 0) != DC_OK);
    CHECK_MSG(strstr(dc_last_error(), "bn3") != NULL, "message: %s", dc_last_error());
    dc_graph_free(g);
}

/* ---------------------------------------------------------------- training fusion */
/* Every gradient of graph g after one training step (parameters, then the input's), and the loss. */
typedef struct grads {
    float loss;
    int64_t n;
    float *v;
} grads;

static grads train_step(dc_graph *g, dc_node x, dc_node loss) {
    dc_graph_zero_grad(g);
    CHECK_OK(dc_graph_forward(g, BATCH, 1));
    CHECK_OK(dc_graph_backward(g, loss));
    grads r = {dc_graph_loss(g, loss), 0, NULL};
    const dc_param *p = dc_graph_params(g);
    const int64_t nx = BATCH * dc_shape_numel(dc_node_shape(g, x));
    for (int i = 0; i < dc_graph_param_count(g); i++) r.n += p[i].grad ? p[i].numel : 0;
    r.v = malloc((size_t)(r.n + nx) * sizeof(float));
    int64_t k = 0;
    for (int i = 0; i < dc_graph_param_count(g); i++)
        if (p[i].grad) memcpy(r.v + k, p[i].grad, (size_t)p[i].numel * sizeof(float)), k += p[i].numel;
    memcpy(r.v + k, dc_graph_grad(g, x), (size_t)nx * sizeof(float));
    r.n += nx;
    return r;
}

static void check_same_grads(const grads *a, const grads *b, const char *what) {
    CHECK_MSG(memcmp(&a->loss, &b->loss, sizeof(float)) == 0, "%s: loss %.9g, unfused %.9g", what, a->loss, b->loss);
    CHECK(a->n == b->n);
    int64_t bad = -1;
    for (int64_t i = 0; i < a->n && bad < 0; i++)
        if (memcmp(&a->v[i], &b->v[i], sizeof(float)) != 0) bad = i;
    CHECK_MSG(bad < 0, "%s: gradient element %lld of %lld is %.9g, unfused %.9g", what, (long long)bad,
              (long long)a->n, bad >= 0 ? a->v[bad] : 0.0, bad >= 0 ? b->v[bad] : 0.0);
}

static void training_fusion_case(dc_pool *pool) {
    net n;
    build(&n, pool);
    dc_graph *g = n.g;
    grads want = train_step(g, n.x, n.loss);
    /* fused: bn1 -> r1, bn2 -> its ReLU, add -> r3; not bn6 (two consumers) nor c5 -> r5 (a
     * convolution's output is its backward's input, so training keeps it) */
    dc_graph_set_fusion(g, DC_FUSION_TRAINING);
    const dc_node skipped[] = {n.bn1, n.add};
    for (int i = 0; i < 2; i++) poison(g, skipped[i]);
    grads got = train_step(g, n.x, n.loss);
    check_same_grads(&got, &want, "fused training step");
    for (int i = 0; i < 2; i++)
        CHECK_MSG(still_poisoned(g, skipped[i]), "'%s' was computed: not fused", dc_node_name(g, skipped[i]));
    CHECK(!still_poisoned(g, n.bn6) && !still_poisoned(g, n.c5));
    /* inference fusion alone leaves training passes plain: every output written */
    dc_graph_set_fusion(g, DC_FUSION_INFERENCE);
    grads plain = train_step(g, n.x, n.loss);
    check_same_grads(&plain, &want, "unfused step after fused ones");
    for (int i = 0; i < 2; i++)
        CHECK_MSG(!still_poisoned(g, skipped[i]), "'%s' skipped without training fusion", dc_node_name(g, skipped[i]));
    free(want.v);
    free(got.v);
    free(plain.v);
    dc_graph_free(g);
}

TEST(training_fusion_matches_unfused_no_pool) { training_fusion_case(NULL); }

TEST(training_fusion_matches_unfused_two_threads) { on_two_threads(training_fusion_case); }

/* With shared gradient buffers, a tanh -> sigmoid pair built between a norm and its ReLU has
 * gradients that are dead while the ReLU's is (its own step to the add's), so the planner could
 * put one of them on the ReLU's memory; fused, the norm's step reads the ReLU's gradient after
 * theirs have been written, so the ReLU's must stay live until then (plan_grads). */
TEST(training_fusion_keeps_the_relu_gradient_live) {
    dc_graph *g;
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input_grad(g, "x", dc_shape3(4, 6, 6));
    dc_node bn = dc_batchnorm(g, conv(g, x, 4, 3, 1, 0, "c0"), "bn");
    dc_node k2 = dc_sigmoid(g, dc_tanh(g, x));
    dc_node s = dc_add(g, dc_relu(g, bn), k2);
    dc_node out = dc_linear(g, dc_flatten(g, s), 10, "fc");
    dc_node t = dc_input(g, "labels", dc_shape_make(0, NULL));
    dc_node loss = dc_softmax_cross_entropy(g, out, t);
    CHECK_OK(dc_graph_status(g));
    dc_graph_opts o = {.seed = 3, .share_grads = 1};
    CHECK_OK(dc_graph_plan(g, BATCH, &o));
    dc_rng r;
    dc_rng_seed(&r, 4);
    dc_test_fill(&r, dc_graph_data(g, x), BATCH * 4 * 6 * 6, 1.0f, 0.0f);
    for (int i = 0; i < BATCH; i++) dc_graph_data(g, t)[i] = (float)(i % 10);
    grads want = train_step(g, x, loss);
    dc_graph_set_fusion(g, DC_FUSION_TRAINING);
    grads got = train_step(g, x, loss);
    check_same_grads(&got, &want, "fused step, shared gradient buffers");
    free(want.v);
    free(got.v);
    dc_graph_free(g);
}
