/* zoo.c — the model zoo: one short builder per network and one registry line per builder.
 * Builders use only the public layer API, so each reads like the network's diagram. */
#include "deepc.h"

#include <stdio.h>
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

/* alexnet_mini: three blocks of conv3x3(pad 1), ReLU, max-pool 2/2 (ceil), LRN(4, 1e-3/9, 0.75, 1),
 * Dropout 0.2 (64, 128, 256 channels; 28 -> 14 -> 7 -> 4), then FC 4096-1024-1024-10. */
static dc_status build_alexnet_mini(dc_graph *g, dc_node x, int classes, dc_node *logits) {
    static const int width[3] = {64, 128, 256};
    dc_pool2d_opts pool = {.kh = 2, .kw = 2, .stride_h = 2, .stride_w = 2, .ceil_mode = 1};
    dc_node h = x;
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "conv%d", i + 1);
        h = dc_relu(g, dc_conv2d(g, h, width[i], 3, 1, 1, name));
        h = dc_dropout(g, dc_lrn(g, dc_maxpool2d_ex(g, h, &pool), 4, 0.001f / 9.0f, 0.75f, 1.0f), 0.2f);
    }
    h = dc_relu(g, dc_linear(g, dc_flatten(g, h), 1024, "fc1"));
    h = dc_relu(g, dc_linear(g, h, 1024, "fc2"));
    *logits = dc_linear(g, h, classes, "fc3");
    return dc_graph_status(g);
}

/* vgg16 (CIFAR style, BatchNorm): 13 conv3x3 + BN + ReLU in five stages (64, 128, 256, 512, 512)
 * with a 2/2 max-pool after each, on the input zero-padded 28 -> 32, then FC 512-512-512-10 with
 * Dropout 0.5.  The padding: the first conv uses padding 3 on the 28x28 input, which is exactly
 * "pad by 2, then convolve with padding 1" (3 zero rings either way) and gives 32x32. */
static dc_status build_vgg16(dc_graph *g, dc_node x, int classes, dc_node *logits) {
    static const int cfg[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0};
    dc_node h = x;
    int k = 0;
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
        if (cfg[i] == 0) {
            h = dc_maxpool2d(g, h, 2, 2);
            continue;
        }
        char cn[16], bn[16];
        k++;
        snprintf(cn, sizeof cn, "conv%d", k);
        snprintf(bn, sizeof bn, "bn%d", k);
        h = dc_relu(g, dc_batchnorm(g, dc_conv2d(g, h, cfg[i], 3, 1, k == 1 ? 3 : 1, cn), bn));
    }
    h = dc_dropout(g, dc_relu(g, dc_linear(g, dc_flatten(g, h), 512, "fc1")), 0.5f);
    h = dc_dropout(g, dc_relu(g, dc_linear(g, h, 512, "fc2")), 0.5f);
    *logits = dc_linear(g, h, classes, "fc3");
    return dc_graph_status(g);
}

/* One Inception (v1) block: [1x1 | 1x1 -> 3x3 | 1x1 -> 5x5 | 3x3/1 max-pool -> 1x1], each + ReLU,
 * concatenated in that order along the channels. */
static dc_node inception(dc_graph *g, dc_node x, const char *name, int c1, int r3, int c3, int r5, int c5, int cp) {
    char n[32];
    dc_node b[4];
    snprintf(n, sizeof n, "%s.b1", name);
    b[0] = dc_relu(g, dc_conv2d(g, x, c1, 1, 1, 0, n));
    snprintf(n, sizeof n, "%s.b2r", name);
    b[1] = dc_relu(g, dc_conv2d(g, x, r3, 1, 1, 0, n));
    snprintf(n, sizeof n, "%s.b2", name);
    b[1] = dc_relu(g, dc_conv2d(g, b[1], c3, 3, 1, 1, n));
    snprintf(n, sizeof n, "%s.b3r", name);
    b[2] = dc_relu(g, dc_conv2d(g, x, r5, 1, 1, 0, n));
    snprintf(n, sizeof n, "%s.b3", name);
    b[2] = dc_relu(g, dc_conv2d(g, b[2], c5, 5, 1, 2, n));
    dc_pool2d_opts p = {.kh = 3, .kw = 3, .stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1};
    snprintf(n, sizeof n, "%s.b4", name);
    b[3] = dc_relu(g, dc_conv2d(g, dc_maxpool2d_ex(g, x, &p), cp, 1, 1, 0, n));
    return dc_concat(g, b, 4);
}

/* googlenet_mini: conv3x3 64 + ReLU, Inception x2 (28x28), max-pool 3/2, Inception (14x14),
 * max-pool 3/2, Inception (7x7), global average pool, Linear 416-10. */
static dc_status build_googlenet_mini(dc_graph *g, dc_node x, int classes, dc_node *logits) {
    dc_pool2d_opts down = {.kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1};
    dc_node h = dc_relu(g, dc_conv2d(g, x, 64, 3, 1, 1, "conv1"));
    h = inception(g, h, "inc1", 32, 48, 64, 8, 16, 16);
    h = inception(g, h, "inc2", 64, 64, 96, 16, 48, 32);
    h = dc_maxpool2d_ex(g, h, &down);
    h = inception(g, h, "inc3", 96, 48, 104, 8, 24, 32);
    h = dc_maxpool2d_ex(g, h, &down);
    h = inception(g, h, "inc4", 128, 80, 160, 16, 64, 64);
    *logits = dc_linear(g, dc_flatten(g, dc_global_avgpool(g, h)), classes, "fc");
    return dc_graph_status(g);
}

/* A BasicBlock: conv3x3(stride) BN ReLU conv3x3 BN, plus the shortcut (identity, or a 1x1
 * projection + BN when the shape changes), then ReLU.  Convolutions have no bias (BN follows). */
static dc_node basic_block(dc_graph *g, dc_node x, const char *name, int cin, int cout, int stride) {
    char n[32], b[32];
    dc_conv2d_opts c3 = {.kh = 3, .kw = 3, .stride_h = stride, .stride_w = stride, .pad_h = 1, .pad_w = 1,
                         .no_bias = 1};
    snprintf(n, sizeof n, "%s.conv1", name);
    snprintf(b, sizeof b, "%s.bn1", name);
    dc_node h = dc_relu(g, dc_batchnorm(g, dc_conv2d_ex(g, x, cout, n, &c3), b));
    c3.stride_h = c3.stride_w = 1;
    snprintf(n, sizeof n, "%s.conv2", name);
    snprintf(b, sizeof b, "%s.bn2", name);
    h = dc_batchnorm(g, dc_conv2d_ex(g, h, cout, n, &c3), b);
    dc_node sc = x;
    if (stride != 1 || cin != cout) {
        dc_conv2d_opts c1 = {.kh = 1, .kw = 1, .stride_h = stride, .stride_w = stride, .no_bias = 1};
        snprintf(n, sizeof n, "%s.proj", name);
        snprintf(b, sizeof b, "%s.proj_bn", name);
        sc = dc_batchnorm(g, dc_conv2d_ex(g, x, cout, n, &c1), b);
    }
    return dc_relu(g, dc_add(g, h, sc));
}

/* CIFAR-style ResNet: conv3x3 stem + BN + ReLU (no max-pool), stages of BasicBlocks (the first
 * block of every stage after the first has stride 2), global average pool, Linear. */
static dc_status build_resnet(dc_graph *g, dc_node x, int classes, const int *widths, const int *blocks, int stages,
                              dc_node *logits) {
    dc_conv2d_opts stem = {.kh = 3, .kw = 3, .pad_h = 1, .pad_w = 1, .no_bias = 1};
    dc_node h = dc_relu(g, dc_batchnorm(g, dc_conv2d_ex(g, x, widths[0], "conv1", &stem), "bn1"));
    int cin = widths[0];
    for (int s = 0; s < stages; s++)
        for (int k = 0; k < blocks[s]; k++) {
            char name[32];
            snprintf(name, sizeof name, "layer%d.%d", s + 1, k);
            h = basic_block(g, h, name, cin, widths[s], s > 0 && k == 0 ? 2 : 1);
            cin = widths[s];
        }
    *logits = dc_linear(g, dc_flatten(g, dc_global_avgpool(g, h)), classes, "fc");
    return dc_graph_status(g);
}

static dc_status build_resnet20(dc_graph *g, dc_node x, int classes, dc_node *logits) {
    static const int w[] = {16, 32, 64}, b[] = {3, 3, 3};
    return build_resnet(g, x, classes, w, b, 3, logits);
}

static dc_status build_resnet18(dc_graph *g, dc_node x, int classes, dc_node *logits) {
    static const int w[] = {64, 128, 256, 512}, b[] = {2, 2, 2, 2};
    return build_resnet(g, x, classes, w, b, 4, logits);
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
    {{"alexnet_mini", "AlexNet for 28x28: 3x (conv3x3, ReLU, max-pool, LRN, Dropout), FC 1024-1024-10", 1, 28, 28},
     build_alexnet_mini},
    {{"vgg16", "VGG-16 (CIFAR style, BatchNorm), input padded to 32x32, FC 512-512-10", 1, 28, 28}, build_vgg16},
    {{"googlenet_mini", "GoogLeNet for 28x28: stem conv, 4 Inception blocks, global average pool", 1, 28, 28},
     build_googlenet_mini},
    {{"resnet20", "ResNet-20 (CIFAR style): 3 stages x 3 BasicBlocks (16, 32, 64), projection shortcuts", 1, 28, 28},
     build_resnet20},
    {{"resnet18", "ResNet-18 (CIFAR style): 4 stages x 2 BasicBlocks (64..512), projection shortcuts", 1, 28, 28},
     build_resnet18},
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
