/* zoo.c — the model zoo: one short builder per network and one registry line per builder.
 * Builders use only the public layer API, so each reads like the network's diagram. */
#include "deepc.h"
#include "detect/frcnn.h"

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

/* conv (with bias) + ReLU, stride 1: the unit of the small GoogLeNet. */
static dc_node unit_conv_relu(dc_graph *g, dc_node x, int oc, int k, int stride, int pad, const char *name) {
    return dc_relu(g, dc_conv2d(g, x, oc, k, stride, pad, name));
}

/* conv (no bias) + BatchNorm(eps 1e-3) + ReLU: the unit of the torchvision GoogLeNet. */
static dc_node conv_bn_relu(dc_graph *g, dc_node x, int oc, int k, int stride, int pad, const char *name) {
    char bn[48];
    dc_conv2d_opts o = {.kh = k, .kw = k, .stride_h = stride, .stride_w = stride, .pad_h = pad, .pad_w = pad,
                        .no_bias = 1};
    snprintf(bn, sizeof bn, "%s.bn", name);
    return dc_relu(g, dc_batchnorm_ex(g, dc_conv2d_ex(g, x, oc, name, &o), bn, 1e-3f, 0.1f));
}

typedef dc_node (*conv_unit)(dc_graph *g, dc_node x, int oc, int k, int stride, int pad, const char *name);

/* How a network builds its Inception blocks: the convolution unit, the kernel of the "5x5" branch
 * (torchvision's GoogLeNet uses 3x3 there) and whether the branch pool rounds up. */
typedef struct inception_style {
    conv_unit unit;
    int k5;
    int pool_ceil;
} inception_style;

static const inception_style inception_mini = {unit_conv_relu, 5, 0};
static const inception_style inception_torchvision = {conv_bn_relu, 3, 1};

/* One Inception (v1) block: [1x1 | 1x1 -> 3x3 | 1x1 -> 5x5 | 3x3/1 max-pool -> 1x1], each unit
 * ending in ReLU, concatenated in that order along the channels. */
static dc_node inception(dc_graph *g, dc_node x, const char *name, const inception_style *st, int c1, int r3,
                         int c3, int r5, int c5, int cp) {
    char n[32];
    dc_node b[4];
    snprintf(n, sizeof n, "%s.b1", name);
    b[0] = st->unit(g, x, c1, 1, 1, 0, n);
    snprintf(n, sizeof n, "%s.b2r", name);
    b[1] = st->unit(g, x, r3, 1, 1, 0, n);
    snprintf(n, sizeof n, "%s.b2", name);
    b[1] = st->unit(g, b[1], c3, 3, 1, 1, n);
    snprintf(n, sizeof n, "%s.b3r", name);
    b[2] = st->unit(g, x, r5, 1, 1, 0, n);
    snprintf(n, sizeof n, "%s.b3", name);
    b[2] = st->unit(g, b[2], c5, st->k5, 1, st->k5 / 2, n);
    dc_pool2d_opts p = {.kh = 3, .kw = 3, .stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1,
                        .ceil_mode = st->pool_ceil};
    snprintf(n, sizeof n, "%s.b4", name);
    b[3] = st->unit(g, dc_maxpool2d_ex(g, x, &p), cp, 1, 1, 0, n);
    return dc_concat(g, b, 4);
}

/* googlenet_mini: conv3x3 64 + ReLU, Inception x2 (28x28), max-pool 3/2, Inception (14x14),
 * max-pool 3/2, Inception (7x7), global average pool, Linear 416-10. */
static dc_status build_googlenet_mini(dc_graph *g, dc_node x, int classes, dc_node *logits) {
    dc_pool2d_opts down = {.kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1};
    dc_node h = dc_relu(g, dc_conv2d(g, x, 64, 3, 1, 1, "conv1"));
    h = inception(g, h, "inc1", &inception_mini, 32, 48, 64, 8, 16, 16);
    h = inception(g, h, "inc2", &inception_mini, 64, 64, 96, 16, 48, 32);
    h = dc_maxpool2d_ex(g, h, &down);
    h = inception(g, h, "inc3", &inception_mini, 96, 48, 104, 8, 24, 32);
    h = dc_maxpool2d_ex(g, h, &down);
    h = inception(g, h, "inc4", &inception_mini, 128, 80, 160, 16, 64, 64);
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

/* det_backbone: the detectors' stride-8 backbone (dc_frcnn_backbone: frcnn_mini, yolo_s8, yolo_s16)
 * with global average pooling and FC 10, so that it can be pre-trained on Fashion-MNIST
 * classification and given to `deepc dettrain --init-from`, as the detection papers start from
 * ImageNet classifiers.  Its layer names are the detectors'. */
static dc_status build_det_backbone(dc_graph *g, dc_node x, int classes, dc_node *logits) {
    *logits = dc_linear(g, dc_flatten(g, dc_global_avgpool(g, dc_frcnn_backbone(g, x))), classes, "cls_fc");
    return dc_graph_status(g);
}

/* ---------------------------------------------------------------- ImageNet definitions (3x224x224) */

static dc_node conv_relu(dc_graph *g, dc_node x, int oc, int k, int stride, int pad, int groups, const char *name) {
    dc_conv2d_opts o = {.kh = k, .kw = k, .stride_h = stride, .stride_w = stride, .pad_h = pad, .pad_w = pad,
                        .groups = groups};
    return dc_relu(g, dc_conv2d_ex(g, x, oc, name, &o));
}

/* alexnet: the original two-GPU network of Krizhevsky et al. 2012 (60,965,224 parameters): conv 11x11/4
 * 96, LRN, max-pool 3/2, conv 5x5 256 in two groups, LRN, max-pool 3/2, conv 3x3 384 (across both
 * groups), conv 3x3 384 and 256 in two groups, max-pool 3/2, FC 9216-4096-4096-1000 with Dropout 0.5.
 * LRN(5, alpha 1e-4 per the paper's sum, i.e. 5e-4 in PyTorch's alpha/size convention, 0.75, k 2).
 * A 224x224 input with padding 2 on the first convolution gives the paper's 55x55. */
static dc_status build_alexnet(dc_graph *g, dc_node x, int classes, dc_node *logits) {
    dc_pool2d_opts p = {.kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2};
    dc_node h = dc_lrn(g, conv_relu(g, x, 96, 11, 4, 2, 1, "conv1"), 5, 5e-4f, 0.75f, 2.0f);
    h = dc_maxpool2d_ex(g, h, &p);
    h = dc_maxpool2d_ex(g, dc_lrn(g, conv_relu(g, h, 256, 5, 1, 2, 2, "conv2"), 5, 5e-4f, 0.75f, 2.0f), &p);
    h = conv_relu(g, h, 384, 3, 1, 1, 1, "conv3");
    h = conv_relu(g, h, 384, 3, 1, 1, 2, "conv4");
    h = dc_maxpool2d_ex(g, conv_relu(g, h, 256, 3, 1, 1, 2, "conv5"), &p);
    h = dc_relu(g, dc_linear(g, dc_dropout(g, dc_flatten(g, h), 0.5f), 4096, "fc6"));
    h = dc_relu(g, dc_linear(g, dc_dropout(g, h, 0.5f), 4096, "fc7"));
    *logits = dc_linear(g, h, classes, "fc8");
    return dc_graph_status(g);
}

/* vgg16_imagenet: configuration D of Simonyan & Zisserman (138,357,544 parameters): 13 conv3x3 + ReLU
 * in five stages with 2/2 max-pools, FC 25088-4096-4096-1000 with Dropout 0.5. */
static dc_status build_vgg16_imagenet(dc_graph *g, dc_node x, int classes, dc_node *logits) {
    static const int cfg[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0};
    dc_node h = x;
    int k = 0;
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
        char name[16];
        if (cfg[i] == 0) {
            h = dc_maxpool2d(g, h, 2, 2);
            continue;
        }
        snprintf(name, sizeof name, "conv%d", ++k);
        h = conv_relu(g, h, cfg[i], 3, 1, 1, 1, name);
    }
    h = dc_dropout(g, dc_relu(g, dc_linear(g, dc_flatten(g, h), 4096, "fc6")), 0.5f);
    h = dc_dropout(g, dc_relu(g, dc_linear(g, h, 4096, "fc7")), 0.5f);
    *logits = dc_linear(g, h, classes, "fc8");
    return dc_graph_status(g);
}

/* googlenet: Inception v1 (Szegedy et al. 2014) as torchvision defines it, without the auxiliary
 * classifiers (6,624,904 parameters): BatchNorm after every convolution, and its 5x5 branches are
 * 3x3 convolutions. */
/* GoogLeNet's auxiliary classifier (training only): 5x5/3 average pool, 1x1 conv 128 (+BN, ReLU),
 * FC 2048-1024, ReLU, Dropout 0.7, FC 1024-classes. */
static dc_node googlenet_aux(dc_graph *g, dc_node x, const char *name, int classes) {
    char n[32];
    dc_pool2d_opts p = {.kh = 5, .kw = 5, .stride_h = 3, .stride_w = 3};
    snprintf(n, sizeof n, "%s.conv", name);
    dc_node h = conv_bn_relu(g, dc_avgpool2d_ex(g, x, &p), 128, 1, 1, 0, n);
    snprintf(n, sizeof n, "%s.fc1", name);
    h = dc_dropout(g, dc_relu(g, dc_linear(g, dc_flatten(g, h), 1024, n)), 0.7f);
    snprintf(n, sizeof n, "%s.fc2", name);
    return dc_linear(g, h, classes, n);
}

static dc_status googlenet_body(dc_graph *g, dc_node x, int classes, dc_node *logits, dc_node *aux);

static dc_status build_googlenet(dc_graph *g, dc_node x, int classes, dc_node *logits) {
    return googlenet_body(g, x, classes, logits, NULL);
}

/* With the two auxiliary heads (on inception 4a and 4d), weighted 0.3 in the loss as in the paper. */
static dc_status build_googlenet_aux(dc_graph *g, dc_node x, int classes, dc_node *logits, dc_node *aux) {
    return googlenet_body(g, x, classes, logits, aux);
}

static dc_status googlenet_body(dc_graph *g, dc_node x, int classes, dc_node *logits, dc_node *aux) {
    dc_pool2d_opts p = {.kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .ceil_mode = 1};
    dc_pool2d_opts p2 = {.kh = 2, .kw = 2, .stride_h = 2, .stride_w = 2, .ceil_mode = 1};
    dc_node h = dc_maxpool2d_ex(g, conv_bn_relu(g, x, 64, 7, 2, 3, "conv1"), &p);
    h = conv_bn_relu(g, h, 64, 1, 1, 0, "conv2");
    h = dc_maxpool2d_ex(g, conv_bn_relu(g, h, 192, 3, 1, 1, "conv3"), &p);
    h = inception(g, h, "inc3a", &inception_torchvision, 64, 96, 128, 16, 32, 32);
    h = inception(g, h, "inc3b", &inception_torchvision, 128, 128, 192, 32, 96, 64);
    h = dc_maxpool2d_ex(g, h, &p);
    h = inception(g, h, "inc4a", &inception_torchvision, 192, 96, 208, 16, 48, 64);
    if (aux) aux[0] = googlenet_aux(g, h, "aux1", classes);
    h = inception(g, h, "inc4b", &inception_torchvision, 160, 112, 224, 24, 64, 64);
    h = inception(g, h, "inc4c", &inception_torchvision, 128, 128, 256, 24, 64, 64);
    h = inception(g, h, "inc4d", &inception_torchvision, 112, 144, 288, 32, 64, 64);
    if (aux) aux[1] = googlenet_aux(g, h, "aux2", classes);
    h = inception(g, h, "inc4e", &inception_torchvision, 256, 160, 320, 32, 128, 128);
    h = dc_maxpool2d_ex(g, h, &p2);
    h = inception(g, h, "inc5a", &inception_torchvision, 256, 160, 320, 32, 128, 128);
    h = inception(g, h, "inc5b", &inception_torchvision, 384, 192, 384, 48, 128, 128);
    h = dc_dropout(g, dc_flatten(g, dc_global_avgpool(g, h)), 0.2f);
    *logits = dc_linear(g, h, classes, "fc");
    return dc_graph_status(g);
}

/* Bottleneck block (ResNet-50): 1x1 reduce, 3x3 (carrying the stride), 1x1 expand x4, each with BN,
 * plus the shortcut (projection when the shape changes). */
static dc_node bottleneck(dc_graph *g, dc_node x, const char *name, int cin, int width, int stride) {
    char n[40], b[40];
    int cout = 4 * width;
    dc_conv2d_opts o1 = {.kh = 1, .kw = 1, .no_bias = 1};
    dc_conv2d_opts o3 = {.kh = 3, .kw = 3, .stride_h = stride, .stride_w = stride, .pad_h = 1, .pad_w = 1,
                         .no_bias = 1};
    snprintf(n, sizeof n, "%s.conv1", name);
    snprintf(b, sizeof b, "%s.bn1", name);
    dc_node h = dc_relu(g, dc_batchnorm(g, dc_conv2d_ex(g, x, width, n, &o1), b));
    snprintf(n, sizeof n, "%s.conv2", name);
    snprintf(b, sizeof b, "%s.bn2", name);
    h = dc_relu(g, dc_batchnorm(g, dc_conv2d_ex(g, h, width, n, &o3), b));
    snprintf(n, sizeof n, "%s.conv3", name);
    snprintf(b, sizeof b, "%s.bn3", name);
    h = dc_batchnorm(g, dc_conv2d_ex(g, h, cout, n, &o1), b);
    dc_node sc = x;
    if (stride != 1 || cin != cout) {
        dc_conv2d_opts op = {.kh = 1, .kw = 1, .stride_h = stride, .stride_w = stride, .no_bias = 1};
        snprintf(n, sizeof n, "%s.proj", name);
        snprintf(b, sizeof b, "%s.proj_bn", name);
        sc = dc_batchnorm(g, dc_conv2d_ex(g, x, cout, n, &op), b);
    }
    return dc_relu(g, dc_add(g, h, sc));
}

/* ImageNet ResNets (He et al. 2015, torchvision layout): conv 7x7/2 64 + BN + ReLU, max-pool 3/2,
 * four stages (64, 128, 256, 512 wide) of BasicBlocks or Bottlenecks, global average pool, FC. */
static dc_status build_resnet_imagenet(dc_graph *g, dc_node x, int classes, const int *blocks, int use_bottleneck,
                                       dc_node *logits) {
    static const int widths[4] = {64, 128, 256, 512};
    dc_conv2d_opts stem = {.kh = 7, .kw = 7, .stride_h = 2, .stride_w = 2, .pad_h = 3, .pad_w = 3, .no_bias = 1};
    dc_pool2d_opts p = {.kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1};
    dc_node h = dc_relu(g, dc_batchnorm(g, dc_conv2d_ex(g, x, 64, "conv1", &stem), "bn1"));
    h = dc_maxpool2d_ex(g, h, &p);
    int cin = 64;
    for (int s = 0; s < 4; s++)
        for (int k = 0; k < blocks[s]; k++) {
            char name[32];
            int stride = s > 0 && k == 0 ? 2 : 1;
            snprintf(name, sizeof name, "layer%d.%d", s + 1, k);
            if (use_bottleneck) {
                h = bottleneck(g, h, name, cin, widths[s], stride);
                cin = 4 * widths[s];
            } else {
                h = basic_block(g, h, name, cin, widths[s], stride);
                cin = widths[s];
            }
        }
    *logits = dc_linear(g, dc_flatten(g, dc_global_avgpool(g, h)), classes, "fc");
    return dc_graph_status(g);
}
static dc_status build_resnet18_imagenet(dc_graph *g, dc_node x, int classes, dc_node *logits) {
    static const int b[4] = {2, 2, 2, 2};
    return build_resnet_imagenet(g, x, classes, b, 0, logits);
}
static dc_status build_resnet34(dc_graph *g, dc_node x, int classes, dc_node *logits) {
    static const int b[4] = {3, 4, 6, 3};
    return build_resnet_imagenet(g, x, classes, b, 0, logits);
}
static dc_status build_resnet50(dc_graph *g, dc_node x, int classes, dc_node *logits) {
    static const int b[4] = {3, 4, 6, 3};
    return build_resnet_imagenet(g, x, classes, b, 1, logits);
}

/* A builder that also makes auxiliary classifiers: fills aux[0..n) (n = entry's n_aux). */
typedef dc_status (*dc_model_aux_builder)(dc_graph *g, dc_node x, int classes, dc_node *logits, dc_node *aux);

typedef struct {
    dc_model_info info;
    dc_model_builder build;
    dc_model_aux_builder build_aux; /* NULL: no auxiliary heads */
    int n_aux;
    float aux_weight;
} dc_model_entry;

static const dc_model_entry dc_models[] = {
    {{"mlp", "Linear 784-256, ReLU, Linear 256-256, ReLU, Linear 256-10", 1, 28, 28, 10}, build_mlp, NULL, 0, 0.0f},
    {{"mlp_bn", "mlp with BatchNorm before and Dropout 0.2 after each ReLU", 1, 28, 28, 10}, build_mlp_bn, NULL, 0, 0.0f},
    {{"lenet5", "LeNet-5: conv5-6, sigmoid, pool, conv5-16, sigmoid, pool, fc 120-84-10 (sigmoid)", 1, 28, 28, 10},
     build_lenet5, NULL, 0, 0.0f},
    {{"alexnet_mini", "AlexNet for 28x28: 3x (conv3x3, ReLU, max-pool, LRN, Dropout), FC 1024-1024-10", 1, 28, 28, 10},
     build_alexnet_mini, NULL, 0, 0.0f},
    {{"vgg16", "VGG-16 (CIFAR style, BatchNorm), input padded to 32x32, FC 512-512-10", 1, 28, 28, 10}, build_vgg16, NULL, 0, 0.0f},
    {{"googlenet_mini", "GoogLeNet for 28x28: stem conv, 4 Inception blocks, global average pool", 1, 28, 28, 10},
     build_googlenet_mini, NULL, 0, 0.0f},
    {{"resnet20", "ResNet-20 (CIFAR style): 3 stages x 3 BasicBlocks (16, 32, 64), projection shortcuts", 1, 28, 28, 10},
     build_resnet20, NULL, 0, 0.0f},
    {{"resnet18", "ResNet-18 (CIFAR style): 4 stages x 2 BasicBlocks (64..512), projection shortcuts", 1, 28, 28, 10},
     build_resnet18, NULL, 0, 0.0f},
    {{"det_backbone", "the detectors' stride-8 backbone (6 conv3x3 24-96, BatchNorm) + global average pool + FC, "
      "for pre-training (deepc dettrain --init-from)", 1, 28, 28, 10},
     build_det_backbone, NULL, 0, 0.0f},
    {{"alexnet", "AlexNet (2012), two groups, LRN, overlapping 3/2 pooling, Dropout; ImageNet", 3, 224, 224, 1000},
     build_alexnet, NULL, 0, 0.0f},
    {{"vgg16_imagenet", "VGG-16 (configuration D), FC 4096-4096; ImageNet", 3, 224, 224, 1000}, build_vgg16_imagenet, NULL, 0, 0.0f},
    {{"googlenet", "GoogLeNet / Inception v1 (torchvision layout, BatchNorm; auxiliary heads in training only); ImageNet", 3, 224,
      224, 1000},
     build_googlenet, build_googlenet_aux, 2, 0.3f},
    {{"resnet18_imagenet", "ResNet-18, BasicBlocks [2,2,2,2]; ImageNet", 3, 224, 224, 1000}, build_resnet18_imagenet, NULL, 0, 0.0f},
    {{"resnet34", "ResNet-34, BasicBlocks [3,4,6,3]; ImageNet", 3, 224, 224, 1000}, build_resnet34, NULL, 0, 0.0f},
    {{"resnet50", "ResNet-50, Bottlenecks [3,4,6,3]; ImageNet", 3, 224, 224, 1000}, build_resnet50, NULL, 0, 0.0f},
    {{"mlp_sigmoid", "two-layer net: Linear 784-100, sigmoid, Linear 100-10", 1, 28, 28, 10}, build_mlp_sigmoid, NULL, 0, 0.0f},
};
#define DC_N_MODELS ((int)(sizeof dc_models / sizeof dc_models[0]))

int dc_model_count(void) { return DC_N_MODELS; }
const dc_model_info *dc_model_at(int i) { return i >= 0 && i < DC_N_MODELS ? &dc_models[i].info : NULL; }

const dc_model_info *dc_model_find(const char *name) {
    for (int i = 0; name && i < DC_N_MODELS; i++)
        if (strcmp(dc_models[i].info.name, name) == 0) return &dc_models[i].info;
    return NULL;
}

dc_status dc_model_check(const char *name) {
    if (dc_model_find(name)) return DC_OK;
    char known[512] = "";
    for (int i = 0; i < DC_N_MODELS; i++) {
        if (i) strncat(known, ", ", sizeof known - strlen(known) - 1);
        strncat(known, dc_models[i].info.name, sizeof known - strlen(known) - 1);
    }
    return DC_ERR(DC_ERR_ARG, "unknown model '%s' (known: %s)", name ? name : "(null)", known);
}

dc_status dc_model_build(dc_graph *g, const char *name, dc_node input, int num_classes, dc_node *logits) {
    return dc_model_build_ex(g, name, input, num_classes, logits, NULL, 0, NULL, NULL);
}

dc_status dc_model_build_ex(dc_graph *g, const char *name, dc_node input, int num_classes, dc_node *logits,
                            dc_node *aux, int max_aux, int *n_aux, float *aux_weight) {
    if (!g || !logits) return DC_ERR(DC_ERR_ARG, "dc_model_build: NULL argument");
    if (num_classes < 1) return DC_ERR(DC_ERR_ARG, "model '%s': %d classes", name ? name : "?", num_classes);
    if (n_aux) *n_aux = 0;
    for (int i = 0; i < DC_N_MODELS; i++) {
        const dc_model_entry *e = &dc_models[i];
        if (!name || strcmp(e->info.name, name) != 0) continue;
        if (aux && e->build_aux && max_aux >= e->n_aux) {
            if (n_aux) *n_aux = e->n_aux;
            if (aux_weight) *aux_weight = e->aux_weight;
            return e->build_aux(g, input, num_classes, logits, aux);
        }
        return e->build(g, input, num_classes, logits);
    }
    return dc_model_check(name);
}
