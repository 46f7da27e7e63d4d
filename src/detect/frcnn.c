/* frcnn.c — Fast and Faster R-CNN (frcnn.h): the network, one training forward pass (anchor
 * targets, proposals, RoI sampling, the four losses), inference and running over a data set. */
#include "detect/frcnn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

dc_frcnn_opts dc_frcnn_opts_default(int rpn) {
    dc_frcnn_opts o;
    memset(&o, 0, sizeof o);
    o.rpn = rpn != 0;
    o.anchor_sizes[0] = 16.0f;
    o.anchor_sizes[1] = 32.0f;
    o.anchor_sizes[2] = 64.0f;
    o.anchor_ratios[0] = 0.5f;
    o.anchor_ratios[1] = 1.0f;
    o.anchor_ratios[2] = 2.0f;
    o.rpn_batch = 256;
    o.rpn_pos_fraction = 0.5f;
    o.rpn_fg_iou = 0.7f;
    o.rpn_bg_iou = 0.3f;
    /* The paper's 12000/2000 (train) and 6000/300 (test) are for ~20k anchors on 600-pixel images;
     * a 160x160 image has 3,600 anchors and about 4.5 objects. */
    o.prop_train = dc_proposal_opts_default(1);
    o.prop_train.pre_nms_top_n = 2000;
    o.prop_train.post_nms_top_n = 300;
    o.prop_train.min_size = 4.0f;
    o.prop_test = dc_proposal_opts_default(0);
    o.prop_test.pre_nms_top_n = 1000;
    o.prop_test.post_nms_top_n = 150;
    o.prop_test.min_size = 4.0f;
    o.sampler = dc_roi_sampler_opts_default();
    o.sampler.batch_size = 64;
    o.sampler.bg_lo = 0.0f; /* small images: every non-object proposal is a useful negative */
    o.pool = 7;
    o.fc = 512;
    o.beta = 1.0f / 9.0f;
    o.max_proposals = 2000;
    o.mask = 0;
    o.box_align = 0;
    o.mask_size = 14;
    o.mask_ch = 32;
    o.mask_upsample = 0;
    o.fine = 1;
    return o;
}

dc_status dc_frcnn_model_check(const char *name, dc_frcnn_opts *o) {
    return dc_frcnn_model_revision(name, -1, o);
}

dc_status dc_frcnn_model_revision(const char *name, int revision, dc_frcnn_opts *o) {
    int fast = name && !strcmp(name, DC_FAST_RCNN_MODEL), mask = name && !strcmp(name, DC_MASK_RCNN_MODEL);
    if (!name || !(fast || mask || !strcmp(name, DC_FRCNN_MODEL)))
        return DC_ERR(DC_ERR_ARG, "unknown two-stage model '%s' (known: faster_rcnn, fast_rcnn, mask_rcnn)",
                      name ? name : "(null)");
    if (revision < 0) revision = DC_FRCNN_REVISION;
    if (revision != 0 && revision != DC_FRCNN_REVISION && !(mask && revision == DC_MASK_RCNN_REVISION))
        return DC_ERR(DC_ERR_FORMAT,
                      "%s network revision %d is unknown to this deepc: it reads %d%s0 (none recorded: the first "
                      "network)", name, revision, DC_FRCNN_REVISION,
                      mask ? ", 2 (the stride-8 heads with the 28x28 mask head) and " : " and ");
    if (o) {
        *o = dc_frcnn_opts_default(!fast);
        o->mask = mask;
        o->box_align = mask; /* Mask R-CNN replaces RoI pooling by RoIAlign in the whole head */
        o->mask_upsample = mask && revision != 0;
        o->fine = revision == DC_FRCNN_REVISION;
        if (!o->fine) o->fc = 256; /* the first networks' head */
    }
    return DC_OK;
}

int dc_frcnn_revision(const dc_frcnn_opts *o) {
    return o->fine ? DC_FRCNN_REVISION : o->mask && o->mask_upsample ? DC_MASK_RCNN_REVISION : 0;
}

int dc_frcnn_mask_side(const dc_frcnn_opts *o) { return o->mask_upsample ? 2 * o->mask_size : o->mask_size; }

/* ------------------------------------------------------------------ the network */
static dc_node conv_bn_relu(dc_graph *g, dc_node x, int oc, int stride, const char *name) {
    char bn[48];
    dc_conv2d_opts o = {.kh = 3, .kw = 3, .stride_h = stride, .stride_w = stride, .pad_h = 1, .pad_w = 1, .no_bias = 1};
    snprintf(bn, sizeof bn, "%s.bn", name);
    return dc_relu(g, dc_batchnorm(g, dc_conv2d_ex(g, x, oc, name, &o), bn));
}

static dc_node conv1x1_normal(dc_graph *g, dc_node x, int oc, float std, const char *name) {
    dc_conv2d_opts o = {.kh = 1, .kw = 1, .init = DC_INIT_NORMAL, .init_value = std};
    return dc_conv2d_ex(g, x, oc, name, &o);
}

static dc_node linear_normal(dc_graph *g, dc_node x, int64_t units, float std, const char *name) {
    dc_linear_opts o = {.init = DC_INIT_NORMAL, .init_value = std};
    return dc_linear_ex(g, x, units, name, &o);
}

static dc_node backbone(dc_graph *g, dc_node x, dc_node *c4) {
    dc_node h = conv_bn_relu(g, x, 24, 2, "conv1");
    h = dc_maxpool2d(g, conv_bn_relu(g, h, 24, 1, "conv2"), 2, 2);
    h = conv_bn_relu(g, h, 48, 1, "conv3");
    h = conv_bn_relu(g, h, 48, 1, "conv4");
    if (c4) *c4 = h;
    h = conv_bn_relu(g, dc_maxpool2d(g, h, 2, 2), 96, 1, "conv5");
    return conv_bn_relu(g, h, 96, 1, "conv6");
}

dc_node dc_frcnn_backbone(dc_graph *g, dc_node x) { return backbone(g, x, NULL); }

void dc_frcnn_net_free(dc_frcnn_net *net) {
    if (!net) return;
    dc_graph_free(net->g);
    free(net->anchors);
    free(net->sc);
    free(net->dl);
    free(net->props);
    free(net->labels);
    free(net->matched);
    free(net->s_rois);
    free(net->s_tgt);
    free(net->s_lab);
    free(net->s_match);
    memset(net, 0, sizeof *net);
}

static dc_status build(dc_frcnn_net *net) {
    dc_graph *g = net->g;
    const dc_frcnn_opts *o = &net->o;
    const int A = net->A, C = net->C;
    net->x = dc_input(g, "images", dc_shape3(1, net->side, net->side));
    dc_node c4 = DC_NONE;
    net->feat = backbone(g, net->x, &c4);
    net->rfeat = net->feat;
    net->rscale = 1.0f / DC_FRCNN_STRIDE;
    if (o->fine) { /* the stride-4 map of the RoI heads */
        dc_node lat = dc_conv2d(g, c4, 96, 1, 1, 0, "fine.lateral");
        dc_node up = dc_conv_transpose2d(g, net->feat, 96, 2, 2, 0, "fine.up");
        net->rfeat = dc_relu(g, dc_add(g, lat, up));
        net->rscale = 2.0f / DC_FRCNN_STRIDE;
    }
    net->rpn_cls = net->rpn_reg = net->rpn_loss = net->rpn_cls_loss = net->rpn_box_loss = DC_NONE;
    if (o->rpn) {
        dc_node r = dc_relu(g, dc_conv2d(g, net->feat, 96, 3, 1, 1, "rpn.conv"));
        net->rpn_cls = conv1x1_normal(g, r, A, 0.01f, "rpn.cls");
        net->rpn_reg = conv1x1_normal(g, r, 4 * A, 0.01f, "rpn.bbox");
    }
    DC_TRY(dc_graph_status(g));
    net->stage1_end = (o->rpn ? net->rpn_reg : net->rfeat) + 1;
    if (o->rpn && net->train) {
        dc_shape s1 = dc_shape3(A, net->fh, net->fw), s4 = dc_shape3(4 * A, net->fh, net->fw);
        net->rpn_lab = dc_input(g, "rpn.labels", s1);
        net->rpn_lw = dc_input(g, "rpn.label_weights", s1);
        net->rpn_tgt = dc_input(g, "rpn.targets", s4);
        net->rpn_tw = dc_input(g, "rpn.target_weights", s4);
        net->rpn_cls_loss = dc_sigmoid_bce(g, net->rpn_cls, net->rpn_lab, net->rpn_lw, "rpn.cls_loss");
        net->rpn_box_loss = dc_smooth_l1(g, net->rpn_reg, net->rpn_tgt, net->rpn_tw, o->beta, "rpn.box_loss");
        dc_node l[2] = {net->rpn_cls_loss, net->rpn_box_loss};
        float w[2] = {1.0f, 1.0f};
        net->rpn_loss = dc_loss_sum(g, l, w, 2);
    }
    net->rois = dc_input_rows(g, "rois", dc_shape1(5), net->max_rois);
    dc_node p = o->box_align
                    ? dc_roi_align(g, net->rfeat, net->rois, o->pool, o->pool, net->rscale, 2, 1, "roi_align")
                    : dc_roi_pool(g, net->rfeat, net->rois, o->pool, o->pool, net->rscale, "roi_pool");
    dc_node f = dc_relu(g, dc_linear(g, p, o->fc, "fc6"));
    f = dc_relu(g, dc_linear(g, f, o->fc, "fc7"));
    net->cls = linear_normal(g, f, C + 1, 0.01f, "cls_score");
    net->reg = linear_normal(g, f, 4 * (int64_t)(C + 1), 0.001f, "bbox_pred");
    net->prob = dc_softmax(g, net->cls);
    DC_TRY(dc_graph_status(g));
    net->head_end = net->prob + 1;
    net->loss = net->cls_loss = net->box_loss = DC_NONE;
    net->mask_rois = net->mask_logits = net->mask_end = net->mask_loss = DC_NONE;
    dc_node l[4];
    float w[4] = {1.0f, 1.0f, 1.0f, 1.0f};
    int nl = 0;
    if (net->train) {
        net->roi_lab = dc_input_rows_like(g, "roi.labels", dc_shape1(1), net->rois);
        net->roi_tgt = dc_input_rows_like(g, "roi.targets", dc_shape1(4 * (int64_t)(C + 1)), net->rois);
        net->roi_tw = dc_input_rows_like(g, "roi.target_weights", dc_shape1(4 * (int64_t)(C + 1)), net->rois);
        net->cls_loss = dc_softmax_cross_entropy(g, net->cls, net->roi_lab);
        net->box_loss = dc_smooth_l1(g, net->reg, net->roi_tgt, net->roi_tw, o->beta, "head.box_loss");
        l[nl++] = net->cls_loss;
        l[nl++] = net->box_loss;
        if (o->rpn) l[nl++] = net->rpn_loss;
    }
    if (o->mask) { /* Mask R-CNN: RoIAlign M x M, two 3x3 convolutions, [a 2x2 stride-2 transposed
                      * convolution,] one MO x MO logit map per class */
        const int M = o->mask_size, MO = dc_frcnn_mask_side(o);
        net->mask_rois = dc_input_rows(g, "mask_rois", dc_shape1(5), net->max_mask_rois);
        dc_node m = dc_roi_align(g, net->rfeat, net->mask_rois, M, M, net->rscale, 2, 1, "mask_align");
        m = dc_relu(g, dc_conv2d(g, m, o->mask_ch, 3, 1, 1, "mask.conv1"));
        m = dc_relu(g, dc_conv2d(g, m, o->mask_ch, 3, 1, 1, "mask.conv2"));
        if (o->mask_upsample) m = dc_relu(g, dc_conv_transpose2d(g, m, o->mask_ch, 2, 2, 0, "mask.deconv"));
        net->mask_logits = dc_conv2d(g, m, C, 1, 1, 0, "mask.logits");
        DC_TRY(dc_graph_status(g));
        net->mask_end = net->mask_logits + 1;
        if (net->train) {
            dc_shape ms = dc_shape3(C, MO, MO);
            net->mask_tgt = dc_input_rows_like(g, "mask.targets", ms, net->mask_rois);
            net->mask_w = dc_input_rows_like(g, "mask.weights", ms, net->mask_rois);
            net->mask_loss = dc_sigmoid_bce(g, net->mask_logits, net->mask_tgt, net->mask_w, "mask.loss");
            l[nl++] = net->mask_loss;
        }
    }
    if (net->train) net->loss = dc_loss_sum(g, l, w, nl);
    return dc_graph_status(g);
}

dc_status dc_frcnn_net_create(const dc_frcnn_opts *o, int side, int C, int train, int64_t max_batch,
                              const dc_graph_opts *go, dc_frcnn_net *net) {
    if (!o || !net) return DC_ERR(DC_ERR_ARG, "dc_frcnn_net_create: NULL argument");
    memset(net, 0, sizeof *net);
    if (side < 4 * DC_FRCNN_STRIDE || side % DC_FRCNN_STRIDE != 0 || side > 4096)
        return DC_ERR(DC_ERR_SHAPE, "two-stage detector input side %d: must be a multiple of %d in %d..4096", side,
                      DC_FRCNN_STRIDE, 4 * DC_FRCNN_STRIDE);
    if (C < 1 || C > 10000) return DC_ERR(DC_ERR_ARG, "two-stage detector: %d classes outside 1..10000", C);
    if (max_batch < 1 || max_batch > 4096)
        return DC_ERR(DC_ERR_ARG, "two-stage detector: batch %lld outside 1..4096", (long long)max_batch);
    if (o->sampler.batch_size < 1 || o->rpn_batch < 1 || o->pool < 1 || o->fc < 1 || o->prop_test.post_nms_top_n < 1 ||
        o->prop_train.post_nms_top_n < 1 || o->max_proposals < 1)
        return DC_ERR(DC_ERR_ARG,
                      "two-stage detector: RoI batch, RPN batch, pool size, FC units and proposal counts must be >= 1");
    net->o = *o;
    net->side = side;
    net->fh = net->fw = side / DC_FRCNN_STRIDE;
    net->A = 9;
    net->C = C;
    net->train = train != 0;
    net->max_batch = max_batch;
    /* rows of the RoI input: training samples per image, inference proposals per image */
    int64_t per = o->rpn ? o->prop_test.post_nms_top_n : o->max_proposals;
    int64_t train_rows = o->sampler.batch_size + 64; /* the sampler may add the ground truth */
    net->max_rois = max_batch * (train && train_rows > per ? train_rows : per);
    if (!o->rpn && net->max_rois > 4 * o->max_proposals) net->max_rois = 4 * o->max_proposals;
    if (net->max_rois < per) net->max_rois = per;
    int64_t fg_max = (int64_t)((float)o->sampler.batch_size * o->sampler.fg_fraction) + 1;
    net->max_mask_rois = max_batch * (fg_max > 100 ? fg_max : 100); /* training fg RoIs, or 100 detections */
    if (o->mask && (o->mask_size < 2 || o->mask_size > 64 || o->mask_ch < 1))
        return DC_ERR(DC_ERR_ARG, "mask_rcnn: mask size %d outside 2..64 or %d channels", o->mask_size, o->mask_ch);
    dc_rng_seed(&net->rng, go ? dc_seed_mix(go->seed, 0x5a3, 7) : 1);

    dc_anchor_spec as = {.sizes = o->anchor_sizes, .n_sizes = 3, .ratios = o->anchor_ratios, .n_ratios = 3,
                         .stride = DC_FRCNN_STRIDE, .offset = 0.5f};
    net->n_anchors = dc_anchors_count(&as, net->fh, net->fw);
    int64_t nprop = o->rpn ? net->n_anchors : o->max_proposals;
    if (nprop < 1) nprop = 1;
    int64_t srows = o->sampler.batch_size + 1;
    net->anchors = malloc((size_t)net->n_anchors * 4 * sizeof(float));
    net->sc = malloc((size_t)net->n_anchors * sizeof(float));
    net->dl = malloc((size_t)net->n_anchors * 4 * sizeof(float));
    net->props = malloc((size_t)(nprop > net->n_anchors ? nprop : net->n_anchors) * 4 * sizeof(float));
    net->labels = malloc((size_t)net->n_anchors);
    net->matched = malloc((size_t)net->n_anchors * sizeof(int32_t));
    net->s_rois = malloc((size_t)srows * 4 * sizeof(float));
    net->s_tgt = malloc((size_t)srows * 4 * sizeof(float));
    net->s_lab = malloc((size_t)srows * sizeof(int32_t));
    net->s_match = malloc((size_t)srows * sizeof(int32_t));
    dc_status s = DC_OK;
    if (!net->anchors || !net->sc || !net->dl || !net->props || !net->labels || !net->matched || !net->s_rois ||
        !net->s_tgt || !net->s_lab || !net->s_match)
        s = DC_ERR(DC_ERR_NOMEM, "two-stage detector: scratch for %lld anchors", (long long)net->n_anchors);
    if (s == DC_OK) s = dc_anchors_generate(&as, net->fh, net->fw, net->anchors);
    if (s == DC_OK) s = dc_graph_create(&net->g);
    if (s == DC_OK) s = build(net);
    if (s == DC_OK) s = dc_graph_plan(net->g, max_batch, go);
    if (s != DC_OK) dc_frcnn_net_free(net);
    return s;
}

/* ------------------------------------------------------------------ masks */
/* Bilinear interpolation on a [h, w] grid at (x, y) in cell-centre coordinates (cell (i, j) at
 * (j, i)), clamped to the grid: the four cells' offsets and weights, shared by the byte masks and
 * the float probability maps. */
typedef struct {
    int at[4];
    float wt[4];
} bilinear_taps;
static bilinear_taps bilinear(int h, int w, float x, float y) {
    x = x < 0.0f ? 0.0f : x > (float)(w - 1) ? (float)(w - 1) : x;
    y = y < 0.0f ? 0.0f : y > (float)(h - 1) ? (float)(h - 1) : y;
    int x0 = (int)x, y0 = (int)y, x1 = x0 + 1 < w ? x0 + 1 : x0, y1 = y0 + 1 < h ? y0 + 1 : y0;
    float fx = x - (float)x0, fy = y - (float)y0;
    bilinear_taps t = {{y0 * w + x0, y0 * w + x1, y1 * w + x0, y1 * w + x1},
                       {(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy}};
    return t;
}
static float bilinear_u8(const uint8_t *m, int h, int w, float x, float y) {
    bilinear_taps t = bilinear(h, w, x, y);
    return t.wt[0] * m[t.at[0]] + t.wt[1] * m[t.at[1]] + t.wt[2] * m[t.at[2]] + t.wt[3] * m[t.at[3]];
}
static float bilinear_f(const float *m, int h, int w, float x, float y) {
    bilinear_taps t = bilinear(h, w, x, y);
    return t.wt[0] * m[t.at[0]] + t.wt[1] * m[t.at[1]] + t.wt[2] * m[t.at[2]] + t.wt[3] * m[t.at[3]];
}

/* The M x M mask target of a RoI: the 0/1 mask sampled bilinearly at the centres of the RoI's
 * M x M bins (the same points RoIAlign averages around), so a soft value in [0, 1]. */
void dc_mask_target(const uint8_t *mask, int side, const float *box, int M, float *out) {
    float bw = (box[2] - box[0]) / (float)M, bh = (box[3] - box[1]) / (float)M;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < M; j++) {
            float x = box[0] + ((float)j + 0.5f) * bw, y = box[1] + ((float)i + 0.5f) * bh;
            out[i * M + j] = bilinear_u8(mask, side, side, x - 0.5f, y - 0.5f);
        }
}

/* Paste an M x M probability map onto its box in a side x side image: every pixel whose centre lies
 * in the box takes the bilinear value at its position in the map, inside when >= 0.5. */
void dc_mask_paste(const float *prob, int M, const float *box, int side, uint8_t *out) {
    memset(out, 0, (size_t)side * side);
    float bw = box[2] - box[0], bh = box[3] - box[1];
    if (!(bw > 0.0f) || !(bh > 0.0f)) return;
    int x0 = (int)floorf(box[0]), x1 = (int)ceilf(box[2]), y0 = (int)floorf(box[1]), y1 = (int)ceilf(box[3]);
    x0 = x0 < 0 ? 0 : x0, y0 = y0 < 0 ? 0 : y0, x1 = x1 > side ? side : x1, y1 = y1 > side ? side : y1;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            float cx = (float)x + 0.5f, cy = (float)y + 0.5f;
            if (cx < box[0] || cx > box[2] || cy < box[1] || cy > box[3]) continue;
            float u = (cx - box[0]) / bw * (float)M - 0.5f, v = (cy - box[1]) / bh * (float)M - 0.5f;
            out[y * side + x] = bilinear_f(prob, M, M, u, v) >= 0.5f;
        }
}

/* Mask RoIs and targets of image k: its nf foreground RoIs (the first of net->s_rois), each with
 * the mask of its matched ground truth on the channel of its class. */
static void mask_rows(dc_frcnn_net *net, int64_t k, int64_t nf, const uint8_t *const *masks, int64_t *total) {
    const int M = dc_frcnn_mask_side(&net->o), C = net->C;
    const int64_t per = (int64_t)C * M * M;
    float *mr = dc_graph_data(net->g, net->mask_rois), *tg = dc_graph_data(net->g, net->mask_tgt);
    float *tw = dc_graph_data(net->g, net->mask_w);
    for (int64_t r = 0; r < nf && *total < net->max_mask_rois; r++) {
        int64_t t = (*total)++;
        mr[5 * t] = (float)k;
        memcpy(mr + 5 * t + 1, net->s_rois + 4 * r, 4 * sizeof(float));
        memset(tg + t * per, 0, (size_t)per * sizeof(float));
        memset(tw + t * per, 0, (size_t)per * sizeof(float));
        int c = net->s_lab[r] - 1;
        const uint8_t *m = masks[net->s_match[r]];
        if (c < 0 || !m) continue;
        dc_mask_target(m, net->side, net->s_rois + 4 * r, M, tg + t * per + (int64_t)c * M * M);
        for (int q = 0; q < M * M; q++) tw[t * per + (int64_t)c * M * M + q] = 1.0f / (float)(M * M);
    }
}

/* ------------------------------------------------------------------ one step */
/* The RPN outputs of image k in anchor order (position-major, then anchor): scores [n_anchors] and
 * deltas [n_anchors, 4] from the convolutions' [A, fh, fw] and [4A, fh, fw]. */
static void rpn_outputs(dc_frcnn_net *net, int64_t k) {
    const int64_t HW = (int64_t)net->fh * net->fw, A = net->A;
    const float *cls = dc_graph_data(net->g, net->rpn_cls) + k * A * HW;
    const float *reg = dc_graph_data(net->g, net->rpn_reg) + k * 4 * A * HW;
    for (int64_t p = 0; p < HW; p++)
        for (int64_t a = 0; a < A; a++) {
            int64_t i = p * A + a;
            net->sc[i] = cls[a * HW + p];
            for (int c = 0; c < 4; c++) net->dl[4 * i + c] = reg[(4 * a + c) * HW + p];
        }
}

/* RPN targets of image k: labels (1 fg, 0 bg), weights 1/sampled on sampled anchors, box targets
 * and their weights on foreground anchors, in the convolutions' layouts. */
static dc_status rpn_targets(dc_frcnn_net *net, int64_t k, const float *gt, int ng) {
    const int64_t HW = (int64_t)net->fh * net->fw, A = net->A, NA = net->n_anchors;
    dc_anchor_match_opts mo = dc_anchor_match_defaults();
    mo.fg_iou = net->o.rpn_fg_iou;
    mo.bg_iou = net->o.rpn_bg_iou;
    mo.border = -1.0f;
    DC_TRY(dc_anchors_label(NA, net->anchors, ng, gt, (float)net->side, (float)net->side, &mo, net->labels,
                            net->matched, NULL));
    int64_t np = 0, nn = 0;
    DC_TRY(dc_sample_balanced(NA, net->labels, net->o.rpn_batch, net->o.rpn_pos_fraction, &net->rng, &np, &nn));
    float w = np + nn > 0 ? 1.0f / (float)(np + nn) : 0.0f;
    float *lab = dc_graph_data(net->g, net->rpn_lab) + k * A * HW, *lw = dc_graph_data(net->g, net->rpn_lw) + k * A * HW;
    float *tg = dc_graph_data(net->g, net->rpn_tgt) + k * 4 * A * HW;
    float *tw = dc_graph_data(net->g, net->rpn_tw) + k * 4 * A * HW;
    memset(tg, 0, (size_t)(4 * A * HW) * sizeof(float));
    memset(tw, 0, (size_t)(4 * A * HW) * sizeof(float));
    const dc_box_coder coder = net->o.prop_train.coder; /* weights (1, 1, 1, 1) */
    for (int64_t i = 0; i < NA; i++) {
        int64_t p = i / A, a = i % A;
        lab[a * HW + p] = net->labels[i] == 1 ? 1.0f : 0.0f;
        lw[a * HW + p] = net->labels[i] >= 0 ? w : 0.0f;
        if (net->labels[i] == 1) {
            float d[4];
            dc_box_encode(&coder, 1, net->anchors + 4 * i, gt + 4 * net->matched[i], d);
            for (int c = 0; c < 4; c++) {
                tg[(4 * a + c) * HW + p] = d[c];
                tw[(4 * a + c) * HW + p] = w;
            }
        }
    }
    return DC_OK;
}

/* Proposals of image k into net->props: RPN (decoded and NMS'd with o) or given. */
static dc_status image_proposals(dc_frcnn_net *net, int64_t k, const dc_proposal_opts *po, const dc_box_list *props,
                                 int64_t cap, const float **boxes, int64_t *n) {
    if (!net->o.rpn) {
        if (!props) return DC_ERR(DC_ERR_ARG, "fast_rcnn: no proposals given for image %lld", (long long)k);
        *boxes = props[k].boxes;
        *n = props[k].n < cap ? props[k].n : cap;
        return DC_OK;
    }
    rpn_outputs(net, k);
    DC_TRY(dc_proposals(po, net->n_anchors, net->anchors, net->sc, net->dl, (float)net->side, (float)net->side,
                        net->props, NULL, n));
    *boxes = net->props;
    return DC_OK;
}

dc_status dc_frcnn_forward_train(dc_frcnn_net *net, int64_t b, const float *gt_boxes, const int32_t *gt_cls,
                                 const int *gt_n, int max_obj, const dc_box_list *props, const uint8_t *const *gt_masks,
                                 float *loss, float parts[5]) {
    if (!net || !net->g || !net->train || b < 1 || b > net->max_batch || !gt_boxes || !gt_cls || !gt_n)
        return DC_ERR(DC_ERR_ARG, "dc_frcnn_forward_train: not a training network, NULL ground truth or batch %lld",
                      (long long)b);
    if (net->o.mask && !gt_masks) return DC_ERR(DC_ERR_ARG, "mask_rcnn: training needs the ground-truth masks");
    dc_graph *g = net->g;
    const int C = net->C, K = 4 * (C + 1);
    if (net->o.rpn)
        for (int64_t k = 0; k < b; k++)
            DC_TRY(rpn_targets(net, k, gt_boxes + (int64_t)k * max_obj * 4, gt_n[k]));
    DC_TRY(dc_graph_forward_range(g, 0, net->rois, b, 1));

    float *rois = dc_graph_data(g, net->rois);
    int64_t total = 0, fg = 0, per_max = net->max_rois / b, mask_total = 0;
    for (int64_t k = 0; k < b; k++) {
        const float *pb;
        int64_t np = 0, nr = 0, nf = 0;
        DC_TRY(image_proposals(net, k, &net->o.prop_train, props, INT64_MAX, &pb, &np));
        DC_TRY(dc_roi_sample(&net->o.sampler, np, pb, gt_n[k], gt_boxes + (int64_t)k * max_obj * 4,
                             gt_cls + (int64_t)k * max_obj, &net->rng, net->s_rois, net->s_lab, net->s_tgt,
                             net->s_match, &nr, &nf));
        if (net->o.mask) mask_rows(net, k, nf, gt_masks + k * max_obj, &mask_total);
        if (nr == 0) { /* no ground truth and no background proposal: the whole image as background */
            net->s_rois[0] = net->s_rois[1] = 0.0f;
            net->s_rois[2] = net->s_rois[3] = (float)net->side;
            net->s_lab[0] = 0;
            nr = 1;
        }
        if (nr > per_max) nr = per_max;
        float *lab = dc_graph_data(g, net->roi_lab), *tg = dc_graph_data(g, net->roi_tgt);
        float *tw = dc_graph_data(g, net->roi_tw);
        for (int64_t r = 0; r < nr; r++, total++) {
            float *row = rois + 5 * total;
            row[0] = (float)k;
            memcpy(row + 1, net->s_rois + 4 * r, 4 * sizeof(float));
            int32_t c = net->s_lab[r];
            lab[total] = (float)c;
            memset(tg + total * K, 0, (size_t)K * sizeof(float));
            memset(tw + total * K, 0, (size_t)K * sizeof(float));
            if (c > 0) {
                for (int q = 0; q < 4; q++) {
                    tg[total * K + 4 * c + q] = net->s_tgt[4 * r + q];
                    tw[total * K + 4 * c + q] = 1.0f;
                }
                fg++;
            }
        }
    }
    net->last_rois = total;
    net->last_fg = fg;
    DC_TRY(dc_graph_set_rows(g, net->rois, total));
    if (net->o.mask) {
        if (mask_total == 0) { /* no object in the batch: one whole-image RoI with weight 0 */
            float *mr = dc_graph_data(g, net->mask_rois);
            mr[0] = mr[1] = mr[2] = 0.0f;
            mr[3] = mr[4] = (float)net->side;
            const int MO = dc_frcnn_mask_side(&net->o);
            int64_t per = (int64_t)net->C * MO * MO;
            memset(dc_graph_data(g, net->mask_tgt), 0, (size_t)per * sizeof(float));
            memset(dc_graph_data(g, net->mask_w), 0, (size_t)per * sizeof(float));
            mask_total = 1;
        }
        DC_TRY(dc_graph_set_rows(g, net->mask_rois, mask_total));
    }
    DC_TRY(dc_graph_forward_range(g, net->rois, dc_graph_node_count(g), b, 1));
    if (loss) *loss = dc_graph_loss(g, net->loss);
    if (parts) {
        /* dc_graph_loss adds the weight-decay term; the parts are the bare losses */
        float decay = dc_graph_decay_term(g);
        parts[0] = net->o.rpn ? dc_graph_loss(g, net->rpn_cls_loss) - decay : 0.0f;
        parts[1] = net->o.rpn ? dc_graph_loss(g, net->rpn_box_loss) - decay : 0.0f;
        parts[2] = dc_graph_loss(g, net->cls_loss) - decay;
        parts[3] = dc_graph_loss(g, net->box_loss) - decay;
        parts[4] = net->o.mask ? dc_graph_loss(g, net->mask_loss) - decay : 0.0f;
    }
    return DC_OK;
}

/* ------------------------------------------------------------------ inference */
/* The masks of the detections: their boxes through the mask head, the class's map pasted. */
static dc_status detect_masks(dc_frcnn_net *net, int64_t b, const float *boxes, const int32_t *classes,
                              const int64_t *n, dc_rle *masks) {
    dc_graph *g = net->g;
    const int M = dc_frcnn_mask_side(&net->o), side = net->side;
    const int64_t cap = 100, per = (int64_t)net->C * M * M;
    float *mr = dc_graph_data(g, net->mask_rois);
    int64_t total = 0;
    for (int64_t k = 0; k < b; k++)
        for (int64_t q = 0; q < n[k]; q++, total++) {
            mr[5 * total] = (float)k;
            memcpy(mr + 5 * total + 1, boxes + 4 * (k * cap + q), 4 * sizeof(float));
        }
    if (total == 0) return DC_OK;
    DC_TRY(dc_graph_set_rows(g, net->mask_rois, total));
    DC_TRY(dc_graph_forward_range(g, net->mask_rois, net->mask_end, b, 0));
    const float *logits = dc_graph_data(g, net->mask_logits);
    float *prob = malloc((size_t)M * M * sizeof *prob);
    uint8_t *pix = malloc((size_t)side * side);
    dc_status s = prob && pix ? DC_OK : DC_ERR(DC_ERR_NOMEM, "mask_rcnn: pasting masks");
    int64_t t = 0;
    for (int64_t k = 0; s == DC_OK && k < b; k++)
        for (int64_t q = 0; s == DC_OK && q < n[k]; q++, t++) {
            const float *lg = logits + t * per + (int64_t)classes[k * cap + q] * M * M;
            for (int i = 0; i < M * M; i++) prob[i] = 1.0f / (1.0f + expf(-lg[i]));
            dc_mask_paste(prob, M, boxes + 4 * (k * cap + q), side, pix);
            s = dc_rle_encode(pix, side, side, &masks[k * cap + q]);
        }
    free(prob);
    free(pix);
    return s;
}

dc_status dc_frcnn_detect(dc_frcnn_net *net, int64_t b, float score_thresh, float nms, const dc_box_list *props,
                          float *boxes, float *scores, int32_t *classes, int64_t *n, dc_rle *masks) {
    if (!net || !net->g || b < 1 || b > net->max_batch || !boxes || !scores || !classes || !n)
        return DC_ERR(DC_ERR_ARG, "dc_frcnn_detect: NULL argument or batch %lld outside 1..%lld", (long long)b,
                      (long long)(net ? net->max_batch : 0));
    dc_graph *g = net->g;
    const int C = net->C;
    const int64_t cap = 100;
    DC_TRY(dc_graph_forward_range(g, 0, net->stage1_end, b, 0));
    float *rois = dc_graph_data(g, net->rois);
    int64_t total = 0, per_max = net->max_rois / b;
    int64_t *first = malloc((size_t)(b + 1) * sizeof *first);
    if (!first) return DC_ERR(DC_ERR_NOMEM, "dc_frcnn_detect: %lld images", (long long)b);
    dc_status s = DC_OK;
    for (int64_t k = 0; s == DC_OK && k < b; k++) {
        const float *pb = NULL;
        int64_t np = 0;
        first[k] = total;
        s = image_proposals(net, k, &net->o.prop_test, props, net->o.max_proposals, &pb, &np);
        if (np > per_max) np = per_max;
        for (int64_t r = 0; s == DC_OK && r < np; r++, total++) {
            rois[5 * total] = (float)k;
            memcpy(rois + 5 * total + 1, pb + 4 * r, 4 * sizeof(float));
        }
        if (s == DC_OK && np == 0) { /* keep the head's input non-empty: one whole-image RoI */
            rois[5 * total] = (float)k;
            rois[5 * total + 1] = rois[5 * total + 2] = 0.0f;
            rois[5 * total + 3] = rois[5 * total + 4] = (float)net->side;
            total++;
        }
    }
    first[b] = total;
    if (s == DC_OK) s = dc_graph_set_rows(g, net->rois, total);
    if (s == DC_OK) s = dc_graph_forward_range(g, net->rois, net->head_end, b, 0);
    /* candidates of one image: every (RoI, class >= 1) above the threshold */
    int64_t room = 0;
    float *cb = NULL, *cs = NULL;
    int32_t *cc = NULL;
    int64_t *keep = NULL;
    const float *prob = dc_graph_data(g, net->prob), *reg = dc_graph_data(g, net->reg);
    const dc_box_coder coder = net->o.sampler.coder; /* (10, 10, 5, 5) */
    for (int64_t k = 0; s == DC_OK && k < b; k++) {
        int64_t nr = first[k + 1] - first[k], m = 0;
        if (nr * C > room) {
            room = nr * C;
            free(cb), free(cs), free(cc), free(keep);
            cb = malloc((size_t)room * 4 * sizeof *cb);
            cs = malloc((size_t)room * sizeof *cs);
            cc = malloc((size_t)room * sizeof *cc);
            keep = malloc((size_t)room * sizeof *keep);
            if (!cb || !cs || !cc || !keep) {
                s = DC_ERR(DC_ERR_NOMEM, "dc_frcnn_detect: %lld candidates", (long long)room);
                break;
            }
        }
        for (int64_t r = first[k]; r < first[k + 1]; r++)
            for (int c = 1; c <= C; c++) {
                float p = prob[r * (C + 1) + c];
                if (!(p > score_thresh)) continue;
                dc_box_decode(&coder, 1, rois + 5 * r + 1, reg + r * 4 * (C + 1) + 4 * c, cb + 4 * m);
                cs[m] = p;
                cc[m] = c - 1;
                m++;
            }
        dc_boxes_clip(m, cb, (float)net->side, (float)net->side);
        int64_t nk = 0;
        if (m > 0) s = dc_nms(m, cb, cs, cc, nms, cap, keep, &nk);
        for (int64_t q = 0; s == DC_OK && q < nk; q++) {
            int64_t i = keep[q], o = k * cap + q;
            memcpy(boxes + 4 * o, cb + 4 * i, 4 * sizeof(float));
            scores[o] = cs[i];
            classes[o] = cc[i];
        }
        n[k] = nk;
    }
    free(cb), free(cs), free(cc), free(keep), free(first);
    if (s == DC_OK && masks && net->o.mask) s = detect_masks(net, b, boxes, classes, n, masks);
    return s;
}

dc_status dc_frcnn_detect_set(dc_frcnn_net *net, const dc_detdata *d, int64_t batch, float score_thresh,
                              const dc_box_list *props, dc_detection **dets, int64_t *n_out, double *seconds) {
    if (!net || !net->g || !d || !dets || !n_out || batch < 1)
        return DC_ERR(DC_ERR_ARG, "dc_frcnn_detect_set: NULL argument or batch %lld < 1", (long long)batch);
    *dets = NULL;
    *n_out = 0;
    DC_TRY(dc_detdata_check_net(d, net->side, net->C));
    if (!net->o.rpn && !props) return DC_ERR(DC_ERR_ARG, "fast_rcnn: no proposals for %s", d->coco->path);
    if (batch > net->max_batch) batch = net->max_batch;
    int64_t per = net->o.rpn ? net->o.prop_test.post_nms_top_n : net->o.max_proposals;
    if (batch * per > net->max_rois) batch = net->max_rois / per > 0 ? net->max_rois / per : 1;
    const int64_t cap = 100, px = (int64_t)d->h * d->w;
    float *boxes = malloc((size_t)(batch * cap) * 4 * sizeof *boxes), *scores = malloc((size_t)(batch * cap) * sizeof *scores);
    int32_t *classes = malloc((size_t)(batch * cap) * sizeof *classes);
    int64_t *cnt = malloc((size_t)batch * sizeof *cnt);
    dc_rle *masks = net->o.mask ? calloc((size_t)(batch * cap), sizeof *masks) : NULL;
    int64_t have = 0, room = d->n * 8 + 16;
    dc_detection *out = malloc((size_t)room * sizeof *out);
    dc_status s = boxes && scores && classes && cnt && out && (masks || !net->o.mask)
                      ? DC_OK
                      : DC_ERR(DC_ERR_NOMEM, "dc_frcnn_detect_set: buffers");
    float *xb = dc_graph_data(net->g, net->x);
    double t = 0.0;
    for (int64_t i = 0; s == DC_OK && i < d->n; i += batch) {
        int64_t b = d->n - i < batch ? d->n - i : batch;
        for (int64_t k = 0; k < b; k++) dc_detdata_image(d, i + k, 0, xb + k * px);
        double t0 = dc_clock_s();
        s = dc_frcnn_detect(net, b, score_thresh, 0.5f, props ? props + i : NULL, boxes, scores, classes, cnt, masks);
        t += dc_clock_s() - t0;
        for (int64_t k = 0; s == DC_OK && k < b; k++)
            s = dc_detections_append(d->coco, i + k, cnt[k], boxes + 4 * k * cap, scores + k * cap, classes + k * cap, 0,
                                     masks ? masks + k * cap : NULL, &out, &have, &room);
    }
    free(boxes), free(scores), free(classes), free(cnt);
    if (masks)
        for (int64_t q = 0; q < batch * cap; q++) dc_rle_free(&masks[q]);
    free(masks);
    if (s != DC_OK) {
        dc_detections_free(out, have);
        return s;
    }
    *dets = out;
    *n_out = have;
    if (seconds) *seconds = t;
    return DC_OK;
}
