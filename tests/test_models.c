/* test_models.c — every zoo model builds, has the parameter count of its PyTorch reference
 * (../shared/peers/torch_models.py), and runs a finite forward and backward pass at batch 2. */
#include "test.h"
#include "graph/graph.h"

#include <stdlib.h>
#include <string.h>

static const struct { const char *name; int64_t params; } expected[] = {
    {"mlp", 269322},          {"lenet5", 44426},     {"alexnet_mini", 5624842}, {"vgg16", 15252426},
    {"googlenet_mini", 449082}, {"resnet20", 272186}, {"resnet18", 11172810},
};

TEST(zoo_parameter_counts_match_the_references) {
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        dc_graph *g;
        dc_node logits;
        CHECK_OK(dc_graph_create(&g));
        dc_node x = dc_input(g, "images", dc_shape3(1, 28, 28));
        CHECK_OK(dc_model_build(g, expected[i].name, x, 10, &logits));
        CHECK_MSG(dc_graph_trainable_numel(g) == expected[i].params, "%s: %lld parameters, expected %lld",
                  expected[i].name, (long long)dc_graph_trainable_numel(g), (long long)expected[i].params);
        dc_shape s = dc_node_shape(g, logits);
        CHECK(s.rank == 1 && s.dim[0] == 10);
        dc_graph_free(g);
    }
}

TEST(zoo_models_train_one_step) {
    dc_pool *pool;
    CHECK_OK(dc_pool_create(2, &pool));
    for (int i = 0; i < dc_model_count(); i++) {
        const dc_model_info *m = dc_model_at(i);
        dc_graph *g;
        dc_node logits;
        CHECK_OK(dc_graph_create(&g));
        dc_node x = dc_input(g, "images", dc_shape3(m->channels, m->height, m->width));
        dc_node t = dc_input(g, "labels", dc_shape_make(0, NULL));
        CHECK_OK(dc_model_build(g, m->name, x, 10, &logits));
        dc_node loss = dc_softmax_cross_entropy(g, logits, t);
        dc_graph_opts o = {.pool = pool, .seed = 1};
        CHECK_OK(dc_graph_plan(g, 2, &o));
        dc_rng r;
        dc_rng_seed(&r, 5);
        int64_t n = 2 * (int64_t)m->channels * m->height * m->width;
        for (int64_t k = 0; k < n; k++) dc_graph_data(g, x)[k] = dc_rng_normal(&r);
        dc_graph_data(g, t)[0] = 3;
        dc_graph_data(g, t)[1] = 7;
        CHECK_OK(dc_graph_forward(g, 2, 1));
        float l = dc_graph_loss(g, loss);
        CHECK_MSG(isfinite(l) && l > 0.0f && l < 20.0f, "%s: loss %g", m->name, (double)l);
        dc_graph_zero_grad(g);
        CHECK_OK(dc_graph_backward(g, loss));
        const dc_param *p = dc_graph_params(g);
        for (int k = 0; k < dc_graph_param_count(g); k++) {
            if (!p[k].trainable) continue;
            double s = 0;
            int finite = 1;
            for (int64_t e = 0; e < p[k].numel; e++) {
                s += fabs(p[k].grad[e]);
                finite &= isfinite(p[k].grad[e]);
            }
            CHECK_MSG(finite && s > 0, "%s: gradient of %s is %s", m->name, p[k].name, finite ? "zero" : "not finite");
        }
        CHECK_OK(dc_graph_forward(g, 1, 0)); /* eval mode, batch smaller than planned */
        dc_graph_free(g);
    }
    dc_pool_free(pool);
}

TEST(imagenet_definitions_have_published_counts_and_run_batch_1) {
    static const struct { const char *name; int64_t params; } ref[] = {
        {"alexnet", 60965224},          /* Krizhevsky et al., two groups             */
        {"vgg16_imagenet", 138357544},  /* configuration D                           */
        {"googlenet", 6624904},         /* torchvision, without auxiliary heads      */
        {"resnet18_imagenet", 11689512}, {"resnet34", 21797672}, {"resnet50", 25557032},
    };
    dc_pool *pool;
    CHECK_OK(dc_pool_create(2, &pool));
    for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++) {
        const dc_model_info *m = dc_model_find(ref[i].name);
        CHECK(m != NULL && m->channels == 3 && m->height == 224 && m->classes == 1000);
        if (!m) continue;
        dc_graph *g;
        dc_node logits;
        CHECK_OK(dc_graph_create(&g));
        dc_node x = dc_input(g, "images", dc_shape3(3, 224, 224));
        CHECK_OK(dc_model_build(g, m->name, x, 1000, &logits));
        CHECK_MSG(dc_graph_trainable_numel(g) == ref[i].params, "%s: %lld parameters, published %lld", m->name,
                  (long long)dc_graph_trainable_numel(g), (long long)ref[i].params);
        dc_graph_opts o = {.pool = pool, .seed = 3};
        CHECK_OK(dc_graph_plan(g, 1, &o));
        float *in = dc_graph_data(g, x);
        for (int k = 0; k < 3 * 224 * 224; k++) in[k] = (float)((k * 7919) % 255) / 255.0f - 0.5f;
        CHECK_OK(dc_graph_forward_to(g, logits, 1, 0));
        const float *out = dc_graph_data(g, logits);
        int finite = 1, varied = 0;
        for (int k = 0; k < 1000; k++) {
            finite &= isfinite(out[k]);
            varied |= out[k] != out[0];
        }
        CHECK_MSG(finite && varied, "%s: logits finite %d varied %d", m->name, finite, varied);
        dc_graph_free(g);
    }
    dc_pool_free(pool);
}

TEST(googlenet_auxiliary_heads_train_only) {
    dc_graph *g;
    dc_node logits, aux[4];
    int n_aux = 0;
    float w = 0;
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input(g, "images", dc_shape3(3, 224, 224));
    CHECK_OK(dc_model_build_ex(g, "googlenet", x, 1000, &logits, aux, 4, &n_aux, &w));
    CHECK(n_aux == 2 && w == 0.3f);
    CHECK(dc_graph_trainable_numel(g) > 6624904); /* the heads add parameters ... */
    for (int i = 0; i < n_aux; i++) CHECK(dc_node_shape(g, aux[i]).dim[0] == 1000);
    dc_pool *pool;
    CHECK_OK(dc_pool_create(2, &pool));
    dc_graph_opts o = {.pool = pool, .seed = 1};
    CHECK_OK(dc_graph_plan(g, 1, &o));
    for (int k = 0; k < 3 * 224 * 224; k++) dc_graph_data(g, x)[k] = (float)(k % 17) / 17.0f;
    CHECK_OK(dc_graph_forward_to(g, logits, 1, 0)); /* ... but inference never evaluates them */
    int untouched = 1;
    for (int k = 0; k < 1000; k++) untouched &= dc_graph_data(g, aux[0])[k] == 0.0f;
    CHECK(untouched);
    CHECK(isfinite(dc_graph_data(g, logits)[0]));
    dc_graph_free(g);
    dc_pool_free(pool);
}

/* Two training steps of zoo model `name` at batch 3; copies every parameter gradient (concatenated)
 * and the input gradient into *grads (malloc'd), returns the size of the gradient arena. */
static size_t step_grads(const char *name, int share, dc_pool *pool, float **grads, int64_t *count) {
    const dc_model_info *m = NULL;
    for (int i = 0; i < dc_model_count(); i++)
        if (!strcmp(dc_model_at(i)->name, name)) m = dc_model_at(i);
    dc_graph *g;
    dc_node logits;
    if (!m || dc_graph_create(&g) != DC_OK) return 0;
    dc_node x = dc_input_grad(g, "images", dc_shape3(m->channels, m->height, m->width));
    dc_node t = dc_input(g, "labels", dc_shape_make(0, NULL));
    size_t bytes = 0;
    if (dc_model_build(g, name, x, 10, &logits) != DC_OK) goto done;
    dc_node loss = dc_softmax_cross_entropy(g, logits, t);
    dc_graph_opts o = {.pool = pool, .seed = 4, .share_grads = share};
    if (dc_graph_plan(g, 3, &o) != DC_OK) goto done;
    dc_rng r;
    dc_rng_seed(&r, 6);
    int64_t nx = 3 * (int64_t)m->channels * m->height * m->width;
    for (int64_t k = 0; k < nx; k++) dc_graph_data(g, x)[k] = dc_rng_normal(&r);
    for (int k = 0; k < 3; k++) dc_graph_data(g, t)[k] = (float)(2 + 3 * k);
    for (int step = 0; step < 2; step++) { /* twice: buffers reused after a first pass must be re-zeroed */
        if (dc_graph_forward(g, 3, 1) != DC_OK) goto done;
        dc_graph_zero_grad(g);
        if (dc_graph_backward(g, loss) != DC_OK) goto done;
    }
    *count = nx + dc_graph_trainable_numel(g);
    *grads = malloc((size_t)*count * sizeof(float));
    memcpy(*grads, dc_graph_grad(g, x), (size_t)nx * sizeof(float));
    int64_t off = nx;
    const dc_param *p = dc_graph_params(g);
    for (int k = 0; k < dc_graph_param_count(g); k++) {
        if (!p[k].trainable) continue;
        memcpy(*grads + off, p[k].grad, (size_t)p[k].numel * sizeof(float));
        off += p[k].numel;
    }
    bytes = g->grads.size;
done:
    dc_graph_free(g);
    return bytes;
}

TEST(shared_gradient_buffers_give_identical_gradients_in_less_memory) {
    dc_pool *pool;
    CHECK_OK(dc_pool_create(2, &pool));
    const char *models[] = {"mlp_bn", "lenet5", "googlenet_mini", "resnet20"};
    for (int i = 0; i < 4; i++) {
        float *a = NULL, *b = NULL;
        int64_t na = 0, nb = 0;
        size_t own = step_grads(models[i], 0, pool, &a, &na);
        size_t shared = step_grads(models[i], 1, pool, &b, &nb);
        CHECK_MSG(own > 0 && shared > 0 && na == nb && na > 0, "%s: step failed: %s", models[i], dc_last_error());
        if (a && b && na == nb) CHECK_MSG(!memcmp(a, b, (size_t)na * sizeof(float)), "%s: gradients differ", models[i]);
        /* the gradient arena shrinks to a few layers' worth (ResNet-20: to under a quarter) */
        CHECK_MSG(shared < own * 3 / 4, "%s: %zu vs %zu bytes", models[i], shared, own);
        if (!strcmp(models[i], "resnet20")) CHECK_MSG(shared < own / 4, "resnet20: %zu vs %zu bytes", shared, own);
        free(a);
        free(b);
    }
    dc_pool_free(pool);
}
