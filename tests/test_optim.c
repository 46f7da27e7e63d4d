/* test_optim.c — three steps of each optimizer on a two-element parameter with fixed gradients,
 * against values worked out by hand from the update rules (lr 0.1, textbook defaults):
 *   w0 = (1, -2); gradients g1 = (0.5, -1), g2 = (0.25, 0.5), g3 = (-0.5, 2).
 * Example, Momentum (alpha 0.9): v1 = -0.1 g1 = (-0.05, 0.1), w1 = (0.95, -1.9);
 *   v2 = 0.9 v1 - 0.1 g2 = (-0.07, 0.04), w2 = (0.88, -1.86); v3 = (-0.013, -0.164), w3 = (0.867, -2.024). */
#include "test.h"

#include <string.h>

static const float grads[3][2] = {{0.5f, -1.0f}, {0.25f, 0.5f}, {-0.5f, 2.0f}};

static void run(dc_optim_kind kind, const double expect[3][2], double tol) {
    float w[2] = {1.0f, -2.0f}, g[2], bias[1] = {0.0f}, gb[1] = {0.0f};
    dc_param p[2] = {
        {.name = "w", .shape = dc_shape1(2), .data = w, .grad = g, .numel = 2, .decay = 1, .trainable = 1},
        {.name = "running", .shape = dc_shape1(1), .data = bias, .grad = gb, .numel = 1, .decay = 0, .trainable = 0},
    };
    dc_optim_config cfg = dc_optim_defaults(kind, 0.1f);
    dc_optim *o = NULL;
    CHECK_OK(dc_optim_create(&cfg, p, 2, NULL, &o));
    for (int t = 0; t < 3; t++) {
        memcpy(g, grads[t], sizeof g);
        gb[0] = 1.0f;
        dc_optim_step(o);
        CHECK_NEAR(w[0], expect[t][0], tol);
        CHECK_NEAR(w[1], expect[t][1], tol);
        CHECK(bias[0] == 0.0f); /* non-trainable entries are never touched */
    }
    CHECK(dc_optim_steps(o) == 3);
    dc_optim_free(o);
}

TEST(optim_sgd_by_hand) {
    const double e[3][2] = {{0.95, -1.9}, {0.925, -1.95}, {0.975, -2.15}};
    run(DC_OPTIM_SGD, e, 1e-6);
}
TEST(optim_momentum_by_hand) {
    const double e[3][2] = {{0.95, -1.9}, {0.88, -1.86}, {0.867, -2.024}};
    run(DC_OPTIM_MOMENTUM, e, 1e-6);
}
TEST(optim_adagrad_by_hand) {
    /* h1 = g1^2 -> step lr*g/(|g|+1e-7) ~ 0.1 each; then h2 = 0.25+0.0625 ... */
    const double e[3][2] = {{0.90000002, -1.90000001}, {0.855278668, -1.94472137}, {0.921945326, -2.03200852}};
    run(DC_OPTIM_ADAGRAD, e, 1e-6);
}
TEST(optim_rmsprop_by_hand) {
    /* S1 = 0.01 g1^2 -> first step is lr*g/(0.1|g|) = 1.0 in magnitude */
    const double e[3][2] = {{1.999996e-06, -1.000001}, {-0.449010449, -1.44901385}, {0.220998824, -2.32375314}};
    run(DC_OPTIM_RMSPROP, e, 2e-6);
}
TEST(optim_adam_by_hand) {
    /* bias correction makes the first step exactly lr*sign(g) */
    const double e[3][2] = {{0.900000002, -1.9}, {0.80678204, -1.8733663}, {0.795703734, -1.91909948}};
    run(DC_OPTIM_ADAM, e, 1e-6);
}

TEST(optim_threads_give_identical_updates) {
    enum { N = 50000 };
    static float w1[N], w2[N], g[N];
    dc_rng r;
    dc_rng_seed(&r, 3);
    for (int i = 0; i < N; i++) { w1[i] = w2[i] = dc_rng_normal(&r); g[i] = dc_rng_normal(&r); }
    dc_pool *pool;
    CHECK_OK(dc_pool_create(2, &pool));
    dc_param p1 = {.name = "a", .shape = dc_shape1(N), .data = w1, .grad = g, .numel = N, .trainable = 1};
    dc_param p2 = p1;
    p2.data = w2;
    dc_optim_config cfg = dc_optim_defaults(DC_OPTIM_ADAM, 0.01f);
    dc_optim *a, *b;
    CHECK_OK(dc_optim_create(&cfg, &p1, 1, NULL, &a));
    CHECK_OK(dc_optim_create(&cfg, &p2, 1, pool, &b));
    for (int t = 0; t < 3; t++) { dc_optim_step(a); dc_optim_step(b); }
    CHECK(memcmp(w1, w2, sizeof w1) == 0);
    CHECK(dc_optim_state_count(b) == 2);
    const char *name;
    float *data;
    int64_t n;
    CHECK_OK(dc_optim_state(b, 1, &name, &data, &n));
    CHECK(strcmp(name, "adam.v.a") == 0 && n == N);
    dc_optim_free(a);
    dc_optim_free(b);
    dc_pool_free(pool);
}

TEST(optim_rejects_bad_config) {
    dc_optim *o = NULL;
    dc_optim_config cfg = dc_optim_defaults(DC_OPTIM_SGD, -1.0f);
    CHECK_ERR(dc_optim_create(&cfg, NULL, 0, NULL, &o), DC_ERR_ARG);
    dc_optim_kind k;
    CHECK_ERR(dc_optim_parse("adamw", &k), DC_ERR_ARG);
    CHECK_OK(dc_optim_parse("rmsprop", &k));
    CHECK(k == DC_OPTIM_RMSPROP);
}

TEST(optim_nesterov_by_hand) {
    /* v1 = -0.1 g1 = (-0.05, 0.1); W1 = W0 + 0.9 v1 - 0.1 g1 = (1 - 0.045 - 0.05, -2 + 0.09 + 0.1)
       v2 = 0.9 v1 - 0.1 g2 = (-0.07, 0.04); W2 = W1 + 0.9 v2 - 0.1 g2 = (0.905 - 0.063 - 0.025, -1.81 + 0.036 - 0.05) */
    float w[2] = {1.0f, -2.0f}, g[2];
    dc_param p = {.name = "w", .shape = dc_shape1(2), .data = w, .grad = g, .numel = 2, .trainable = 1};
    dc_optim_config cfg = dc_optim_defaults(DC_OPTIM_MOMENTUM, 0.1f);
    cfg.nesterov = 1;
    dc_optim *o;
    CHECK_OK(dc_optim_create(&cfg, &p, 1, NULL, &o));
    memcpy(g, grads[0], sizeof g);
    dc_optim_step(o);
    CHECK_NEAR(w[0], 0.905, 1e-6);
    CHECK_NEAR(w[1], -1.81, 1e-6);
    memcpy(g, grads[1], sizeof g);
    dc_optim_step(o);
    CHECK_NEAR(w[0], 0.817, 1e-6);
    CHECK_NEAR(w[1], -1.824, 1e-6);
    dc_optim_free(o);
}
