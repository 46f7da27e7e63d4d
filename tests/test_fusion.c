/* test_fusion.c — inference fusion (dc_graph_set_fusion): a network with every fusable chain
 * (conv -> BN -> ReLU on the direct, GEMM and Winograd paths; conv -> BN into an add; add -> ReLU;
 * conv -> ReLU; a BN with two consumers, whose ReLU must not be fused) gives the unfused results,
 * skips the intermediate outputs it says it skips, leaves partial passes (dc_graph_forward_to a
 * skipped node) and training passes alone, and does not depend on the thread count. */
#include "gradcheck.h"
#include "graph/graph.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 17 /* 8x8 maps: 4 Winograd tiles of 4x4 per image, 68 in all, enough for that path */

typedef struct net {
    dc_graph *g;
    dc_node x, c1, bn1, r1, c3, add, r3, c5, r5, bn6, r6, out;
} net;

static dc_node conv(dc_graph *g, dc_node x, int oc, int k, int stride, int bias, const char *name) {
    dc_conv2d_opts o = {.kh = k, .kw = k, .stride_h = stride, .stride_w = stride, .pad_h = k / 2, .pad_w = k / 2,
                        .no_bias = !bias};
    return dc_conv2d_ex(g, x, oc, name, &o);
}

static void build(net *n, dc_pool *pool) {
    CHECK_OK(dc_graph_create(&n->g));
    dc_graph *g = n->g;
    n->x = dc_input(g, "x", dc_shape3(8, 16, 16));
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
    n->bn6 = dc_batchnorm(g, conv(g, n->r5, 32, 1, 1, 0, "c6"), "bn6"); /* BN read twice: folded, */
    n->r6 = dc_relu(g, n->bn6);                                         /* its ReLU not fused     */
    n->out = dc_linear(g, dc_flatten(g, dc_global_avgpool(g, dc_add(g, n->r6, n->bn6))), 10, "fc");
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
    const dc_node kept[] = {n.r1, n.r3, n.r5, n.bn6, n.r6, n.out};
    float *want[6];
    for (int i = 0; i < 6; i++) want[i] = copy_of(g, kept[i]);
    float *want_bn1 = copy_of(g, n.bn1);

    dc_graph_set_fusion(g, 1);
    const dc_node skipped[] = {n.c1, n.bn1, n.c3, n.add, n.c5};
    for (int i = 0; i < 5; i++) poison(g, skipped[i]);
    CHECK_OK(dc_graph_forward(g, BATCH, 0));
    for (int i = 0; i < 6; i++) check_same(g, kept[i], want[i], "fused forward");
    for (int i = 0; i < 5; i++)
        CHECK_MSG(still_poisoned(g, skipped[i]), "'%s' was computed: not fused", dc_node_name(g, skipped[i]));

    /* a pass that stops at a skipped node computes it (its chain is not fused) */
    CHECK_OK(dc_graph_forward_to(g, n.bn1, BATCH, 0));
    check_same(g, n.bn1, want_bn1, "forward_to the batch norm");

    /* training passes never fuse: every node written again */
    for (int i = 0; i < 5; i++) poison(g, skipped[i]);
    CHECK_OK(dc_graph_forward(g, BATCH, 1));
    for (int i = 0; i < 5; i++)
        CHECK_MSG(!still_poisoned(g, skipped[i]), "'%s' skipped in a training pass", dc_node_name(g, skipped[i]));

    for (int i = 0; i < 6; i++) free(want[i]);
    free(want_bn1);
    dc_graph_free(g);
}

TEST(fusion_matches_unfused_no_pool) { fusion_case(NULL); }

TEST(fusion_matches_unfused_two_threads) {
    dc_pool *pool;
    CHECK_OK(dc_pool_create(2, &pool));
    fusion_case(pool);
    dc_pool_free(pool);
}

/* A NaN produced inside a fused chain is still caught by the NaN check, named by the chain's last node. */
TEST(fusion_nan_check_names_the_chain_output) {
    net n;
    build(&n, NULL);
    dc_graph *g = n.g;
    dc_graph_set_fusion(g, 1);
    dc_graph_set_nan_check(g, 1);
    const dc_param *p = dc_graph_params(g);
    for (int i = 0; i < dc_graph_param_count(g); i++)
        if (!strcmp(p[i].name, "bn3.running_var")) p[i].data[0] = NAN;
    dc_error_clear();
    CHECK(dc_graph_forward(g, BATCH, 0) != DC_OK);
    CHECK_MSG(strstr(dc_last_error(), "bn3") != NULL, "message: %s", dc_last_error());
    dc_graph_free(g);
}
