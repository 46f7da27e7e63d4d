/* yolo_model.c — the yolo_mini network, planning it, and running it over a data set
 * (yolo_model.h). */
#include "detect/yolo_model.h"
#include "detect/frcnn.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The YOLO models of this build: name, pixels per grid cell, class term (dc_yolo_opts), the output
 * revision its first checkpoints had (DC_YOLO_REVISION). */
static const struct {
    const char *name;
    int stride, softmax_ce, first_revision;
} MODELS[] = {{DC_YOLO_MODEL, DC_YOLO_STRIDE, 0, 1}, {DC_YOLO_S8_MODEL, 8, 0, 1}, {DC_YOLO_S16_MODEL, 16, 1, 2}};

static int model_index(const char *name) {
    if (name && !strcmp(name, "yolo")) return 0;
    for (int k = 0; name && k < (int)(sizeof MODELS / sizeof MODELS[0]); k++)
        if (!strcmp(name, MODELS[k].name)) return k;
    return -1;
}

dc_status dc_yolo_model_check(const char *name, const char **canonical) {
    int k = model_index(name);
    if (k < 0)
        return DC_ERR(DC_ERR_ARG, "unknown YOLO model '%s' (known: yolo_mini, alias yolo; yolo_s8; yolo_s16)",
                      name ? name : "(null)");
    if (canonical) *canonical = MODELS[k].name;
    return DC_OK;
}

int dc_yolo_model_stride(const char *name) {
    int k = model_index(name);
    return k < 0 ? 0 : MODELS[k].stride;
}

int dc_yolo_model_softmax(const char *name) {
    int k = model_index(name);
    return k < 0 ? 0 : MODELS[k].softmax_ce;
}

dc_status dc_yolo_model_check_revision(const char *name, int revision, const char *path) {
    int k = model_index(name);
    if (k < 0) return dc_yolo_model_check(name, NULL);
    if (revision == DC_YOLO_REVISION || (revision == 0 && MODELS[k].first_revision == DC_YOLO_REVISION)) return DC_OK;
    if (revision == 0)
        return DC_ERR(DC_ERR_FORMAT,
                      "%s: this %s checkpoint records no YOLO output revision: it may be from before the size outputs "
                      "became sqrt(w), sqrt(h) (revision %d), and its boxes would then decode wrongly; train it again "
                      "(checkpoints written now record the revision)",
                      path, MODELS[k].name, DC_YOLO_REVISION);
    return DC_ERR(DC_ERR_FORMAT, "%s: %s checkpoint of YOLO output revision %d; this deepc reads revision %d", path,
                  MODELS[k].name, revision, DC_YOLO_REVISION);
}

static dc_node conv_bn_relu(dc_graph *g, dc_node x, int oc, int stride, const char *name) {
    char bn[32];
    dc_conv2d_opts o = {.kh = 3, .kw = 3, .stride_h = stride, .stride_w = stride, .pad_h = 1, .pad_w = 1, .no_bias = 1};
    snprintf(bn, sizeof bn, "%s.bn", name);
    return dc_relu(g, dc_batchnorm(g, dc_conv2d_ex(g, x, oc, name, &o), bn));
}

dc_status dc_yolo_model_build(dc_graph *g, const char *name, dc_node x, int B, int C, dc_node *pred) {
    const char *canon = NULL;
    DC_TRY(dc_yolo_model_check(name, &canon));
    const int stride = dc_yolo_model_stride(canon);
    if (!g || !pred) return DC_ERR(DC_ERR_ARG, "dc_yolo_model_build: NULL argument");
    if (B < 1 || B > 64 || C < 1 || C > 100000)
        return DC_ERR(DC_ERR_ARG, "dc_yolo_model_build: B %d, C %d outside 1..64, 1..100000", B, C);
    dc_shape s = dc_node_shape(g, x);
    char buf[96];
    if (s.rank != 3 || s.dim[0] != 1 || s.dim[1] != s.dim[2] || s.dim[1] % stride != 0 || s.dim[1] < stride)
        return DC_ERR(DC_ERR_SHAPE, "%s: input %s, expected [1, side, side] with side a multiple of %d", name,
                      dc_shape_str(s, buf, sizeof buf), stride);
    if (!strcmp(canon, DC_YOLO_S16_MODEL)) { /* the stride-8 backbone, then one stride-16 stage */
        dc_node f = dc_maxpool2d(g, dc_frcnn_backbone(g, x), 2, 2);
        f = conv_bn_relu(g, conv_bn_relu(g, f, 192, 1, "conv7"), 192, 1, "conv8");
        *pred = dc_channels_last(g, dc_conv2d(g, f, B * 5 + C, 1, 1, 0, "head"), "pred");
        return dc_graph_status(g);
    }
    if (!strcmp(canon, DC_YOLO_S8_MODEL)) {
        dc_node f = conv_bn_relu(g, dc_frcnn_backbone(g, x), 96, 1, "conv7");
        *pred = dc_channels_last(g, dc_conv2d(g, f, B * 5 + C, 1, 1, 0, "head"), "pred");
        return dc_graph_status(g);
    }
    dc_node h = conv_bn_relu(g, x, 16, 2, "conv1");
    h = dc_maxpool2d(g, h, 2, 2);
    h = dc_maxpool2d(g, conv_bn_relu(g, h, 32, 1, "conv2"), 2, 2);
    h = dc_maxpool2d(g, conv_bn_relu(g, h, 64, 1, "conv3"), 2, 2);
    h = conv_bn_relu(g, h, 128, 1, "conv4");
    h = conv_bn_relu(g, h, 128, 1, "conv5");
    h = dc_conv2d(g, h, B * 5 + C, 1, 1, 0, "head");
    *pred = dc_channels_last(g, h, "pred");
    return dc_graph_status(g);
}

void dc_yolo_net_free(dc_yolo_net *net) {
    if (!net) return;
    dc_graph_free(net->g);
    memset(net, 0, sizeof *net);
}

dc_status dc_yolo_net_create(const char *model, int side, int B, int C, int max_obj, int64_t max_batch,
                             const dc_graph_opts *go, dc_yolo_net *net) {
    if (!net) return DC_ERR(DC_ERR_ARG, "dc_yolo_net_create: NULL output");
    memset(net, 0, sizeof *net);
    const char *canon = NULL;
    DC_TRY(dc_yolo_model_check(model, &canon));
    const int stride = dc_yolo_model_stride(canon);
    if (side < stride || side % stride != 0 || side > 4096)
        return DC_ERR(DC_ERR_SHAPE, "YOLO input side %d: must be a multiple of %d in %d..4096", side, stride, stride);
    net->side = side;
    net->S = side / stride;
    net->B = B;
    net->C = C;
    net->max_obj = max_obj > 0 ? max_obj : 0;
    net->opts = dc_yolo_opts_default(net->S, B, C);
    net->opts.class_softmax_ce = dc_yolo_model_softmax(canon);
    net->targets = net->loss = DC_NONE;
    DC_TRY(dc_graph_create(&net->g));
    net->x = dc_input(net->g, "images", dc_shape3(1, side, side));
    dc_status s = dc_graph_status(net->g);
    if (s == DC_OK) s = dc_yolo_model_build(net->g, model, net->x, B, C, &net->pred);
    if (s == DC_OK && net->max_obj > 0) {
        net->targets = dc_input(net->g, "targets", dc_shape2(net->max_obj, 5));
        net->loss = dc_yolo_loss(net->g, net->pred, net->targets, &net->opts, "yolo_loss");
        s = dc_graph_status(net->g);
    }
    if (s == DC_OK) s = dc_graph_plan(net->g, max_batch, go);
    if (s != DC_OK) dc_yolo_net_free(net);
    return s;
}

dc_status dc_yolo_detect_set(dc_yolo_net *net, const dc_detdata *d, int64_t batch, float score_thresh,
                             dc_detection **dets, int64_t *n_out, double *seconds) {
    if (!net || !net->g || !d || !dets || !n_out || batch < 1)
        return DC_ERR(DC_ERR_ARG, "dc_yolo_detect_set: NULL argument or batch %lld < 1", (long long)batch);
    *dets = NULL;
    *n_out = 0;
    DC_TRY(dc_detdata_check_net(d, net->side, net->C));
    dc_yolo_decode_opts o = dc_yolo_decode_opts_default(net->S, net->B, net->C, (float)d->w, (float)d->h);
    o.score_thresh = score_thresh;
    o.class_softmax = net->opts.class_softmax_ce;
    const int64_t cap = 100, per = (int64_t)d->h * d->w, P = (int64_t)net->S * net->S * (net->B * 5 + net->C);
    float *boxes = malloc((size_t)cap * 4 * sizeof *boxes), *scores = malloc((size_t)cap * sizeof *scores);
    int32_t *classes = malloc((size_t)cap * sizeof *classes);
    int64_t have = 0, room = d->n * 8 + 16;
    dc_detection *out = malloc((size_t)room * sizeof *out);
    dc_status s = boxes && scores && classes && out ? DC_OK : DC_ERR(DC_ERR_NOMEM, "dc_yolo_detect_set: buffers");
    float *xb = dc_graph_data(net->g, net->x);
    double t = 0.0;
    for (int64_t i = 0; s == DC_OK && i < d->n; i += batch) {
        int64_t b = d->n - i < batch ? d->n - i : batch;
        for (int64_t k = 0; k < b; k++) dc_detdata_image(d, i + k, 0, xb + k * per);
        double t0 = dc_clock_s();
        s = dc_graph_forward_to(net->g, net->pred, b, 0);
        const float *pred = dc_graph_data(net->g, net->pred);
        for (int64_t k = 0; s == DC_OK && k < b; k++) {
            int64_t m = 0;
            s = dc_yolo_decode(&o, pred + k * P, cap, boxes, scores, classes, &m);
            dc_boxes_clip(m, boxes, (float)d->h, (float)d->w); /* into the image, as torchvision does */
            if (s == DC_OK) s = dc_detections_append(d->coco, i + k, m, boxes, scores, classes, 0, NULL, &out, &have, &room);
        }
        t += dc_clock_s() - t0;
    }
    free(boxes);
    free(scores);
    free(classes);
    if (s != DC_OK) {
        free(out);
        return s;
    }
    *dets = out;
    *n_out = have;
    if (seconds) *seconds = t;
    return DC_OK;
}
