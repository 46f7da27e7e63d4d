/* zoo.c — the model zoo: one short builder per network and one registry line per builder.
 * Builders use only the public layer API, so each reads like the network's diagram. */
#include "deepc.h"

#include <string.h>

typedef dc_status (*dc_model_builder)(dc_graph *g, dc_node x, int classes, dc_node *logits);

/* mlp: Linear 784-256, ReLU, Linear 256-256, ReLU, Linear 256-10 (the benchmark model). */
static dc_status build_mlp(dc_graph *g, dc_node x, int classes, dc_node *logits) {
    dc_node h = dc_relu(g, dc_linear(g, x, 256, "fc1"));
    h = dc_relu(g, dc_linear(g, h, 256, "fc2"));
    *logits = dc_linear(g, h, classes, "fc3");
    return dc_graph_status(g);
}

/* mlp_bn: the same widths with Batch Normalization before each ReLU and Dropout 0.2 after it. */
static dc_status build_mlp_bn(dc_graph *g, dc_node x, int classes, dc_node *logits) {
    dc_node h = dc_dropout(g, dc_relu(g, dc_batchnorm(g, dc_linear(g, x, 256, "fc1"), "bn1")), 0.2f);
    h = dc_dropout(g, dc_relu(g, dc_batchnorm(g, dc_linear(g, h, 256, "fc2"), "bn2")), 0.2f);
    *logits = dc_linear(g, h, classes, "fc3");
    return dc_graph_status(g);
}

/* mlp_sigmoid: the textbook's two-layer net, Linear 784-100, sigmoid, Linear 100-10. */
static dc_status build_mlp_sigmoid(dc_graph *g, dc_node x, int classes, dc_node *logits) {
    dc_node h = dc_sigmoid(g, dc_linear(g, x, 100, "fc1"));
    *logits = dc_linear(g, h, classes, "fc2");
    return dc_graph_status(g);
}

/* lenet5: Conv 1->6 5x5, sigmoid, max-pool 2, Conv 6->16 5x5, sigmoid, max-pool 2,
 * Linear 256->120, sigmoid, 120->84, sigmoid, 84->10 (28 -> 24 -> 12 -> 8 -> 4). */
static dc_status build_lenet5(dc_graph *g, dc_node x, int classes, dc_node *logits) {
    dc_node h = dc_maxpool2d(g, dc_sigmoid(g, dc_conv2d(g, x, 6, 5, 1, 0, "conv1")), 2, 2);
    h = dc_maxpool2d(g, dc_sigmoid(g, dc_conv2d(g, h, 16, 5, 1, 0, "conv2")), 2, 2);
    h = dc_sigmoid(g, dc_linear(g, dc_flatten(g, h), 120, "fc1"));
    h = dc_sigmoid(g, dc_linear(g, h, 84, "fc2"));
    *logits = dc_linear(g, h, classes, "fc3");
    return dc_graph_status(g);
}

typedef struct {
    dc_model_info info;
    dc_model_builder build;
} dc_model_entry;

static const dc_model_entry dc_models[] = {
    {{"mlp", "Linear 784-256, ReLU, Linear 256-256, ReLU, Linear 256-10", 1, 28, 28}, build_mlp},
    {{"mlp_bn", "mlp with BatchNorm before and Dropout 0.2 after each ReLU", 1, 28, 28}, build_mlp_bn},
    {{"lenet5", "LeNet-5: conv5-6, sigmoid, pool, conv5-16, sigmoid, pool, fc 120-84-10 (sigmoid)", 1, 28, 28},
     build_lenet5},
    {{"mlp_sigmoid", "two-layer net: Linear 784-100, sigmoid, Linear 100-10", 1, 28, 28}, build_mlp_sigmoid},
};
#define DC_N_MODELS ((int)(sizeof dc_models / sizeof dc_models[0]))

int dc_model_count(void) { return DC_N_MODELS; }
const dc_model_info *dc_model_at(int i) { return i >= 0 && i < DC_N_MODELS ? &dc_models[i].info : NULL; }

const dc_model_info *dc_model_find(const char *name) {
    for (int i = 0; name && i < DC_N_MODELS; i++)
        if (strcmp(dc_models[i].info.name, name) == 0) return &dc_models[i].info;
    return NULL;
}

dc_status dc_model_build(dc_graph *g, const char *name, dc_node input, int num_classes, dc_node *logits) {
    if (!g || !logits) return DC_ERR(DC_ERR_ARG, "dc_model_build: NULL argument");
    if (num_classes < 1) return DC_ERR(DC_ERR_ARG, "model '%s': %d classes", name ? name : "?", num_classes);
    for (int i = 0; i < DC_N_MODELS; i++)
        if (name && strcmp(dc_models[i].info.name, name) == 0) return dc_models[i].build(g, input, num_classes, logits);
    char known[256] = "";
    for (int i = 0; i < DC_N_MODELS; i++) {
        if (i) strncat(known, ", ", sizeof known - strlen(known) - 1);
        strncat(known, dc_models[i].info.name, sizeof known - strlen(known) - 1);
    }
    return DC_ERR(DC_ERR_ARG, "unknown model '%s' (known: %s)", name ? name : "(null)", known);
}
