/* op_yolo.c — the YOLO v1 loss (Redmon et al. 2016, eq. 3) as a graph op, and its builder.
 *
 * Layout (also in deepc.h): pred [N, S*S*(B*5 + C)], cell-major; cell (row i, column j) starts at
 * (i*S + j)*(B*5 + C) and holds B boxes (x, y, sw, sh, conf) and then C class scores.  x, y: the
 * box centre relative to its cell (0..1); sw, sh: the square roots of the width and height
 * relative to the image — the network predicts the square roots (the paper, section 2.2: "we
 * predict the square root of the bounding box width and height"), so the box is
 * w = max(sw, 0)^2, h = max(sh, 0)^2.  targets [N, max_obj, 5]: (class, cx, cy, w, h) with centre
 * and size in fractions of the image; class < 0 is padding.
 *
 * Per image, with the cell (i, j) = (floor(cy S), floor(cx S)) (clamped to S-1) of each object:
 *   - a cell holds at most one object: the first in target order whose centre is in it (later
 *     ones in the same cell are ignored, as YOLO v1's one-object-per-cell label grid);
 *   - the responsible predictor of the cell is the box b with the highest IoU between its
 *     predicted box ((j + x)/S, (i + y)/S, w, h) and the object (ties: lower b); when every IoU is
 *     0 (early training) the box with the smallest coordinate error
 *     (x - x^)^2 + (y - y^)^2 + (sw - sqrt w^)^2 + (sh - sqrt h^)^2 (darknet's rule);
 *   - L = lambda_coord [(x - x^)^2 + (y - y^)^2 + (sw - sqrt w^)^2 + (sh - sqrt h^)^2]
 *       + (conf - conf^)^2                      for the responsible box, conf^ = its IoU (default,
 *                                               held constant: no gradient through it) or 1
 *       + lambda_noobj conf^2                   for every other box (in cells with and without
 *                                               objects)
 *       + sum_c (p_c - p^_c)^2                  for cells with an object, p^ one-hot
 *                                               (class_softmax_ce: - log softmax(p)_class
 *                                               instead, gradient softmax(p) - p^).
 * Predicting the square roots keeps every term a plain square: an earlier version predicted w and
 * took sqrt(w) in the loss, whose derivative 1/(2 sqrt w) reached 50x the other gradients for the
 * near-zero widths of early training and held the class and confidence terms back (docs/detection.md).
 * The node's loss is the mean over the batch of the per-image sum.  Forward stores dL_i/dpred per
 * image in the saved buffer; backward adds dL * saved / N.
 * What it does not do: decode boxes for inference (src/detect/yolo.c). */
#include "graph/graph.h"
#include "kernels/boxes.h"

#include <math.h>
#include <string.h>

#define SB 96

dc_yolo_opts dc_yolo_opts_default(int S, int B, int C) {
    dc_yolo_opts o = {.S = S, .B = B, .C = C, .lambda_coord = 5.0f, .lambda_noobj = 0.5f, .conf_target_one = 0,
                      .class_softmax_ce = 0};
    return o;
}

/* The per-image loss and its gradient d (same layout as pred); returns -1 - k when target k is
 * malformed (class not an integer < C, centre outside [0, 1], size outside (0, 1], non-finite). */
static double yolo_loss1(const dc_node_rec *n, const float *pred, const float *tgt, int64_t max_obj, float *d,
                         int *owner) {
    const int S = n->yolo_s, B = n->yolo_b, C = n->yolo_c, P = 5 * B + C;
    const float lc = n->yolo_lcoord, ln = n->yolo_lnoobj;
    for (int k = 0; k < S * S; k++) owner[k] = -1;
    for (int64_t k = 0; k < max_obj; k++) {
        const float *t = tgt + 5 * k;
        if (t[0] < 0.0f) continue; /* padding */
        int ok = isfinite(t[0]) && t[0] == floorf(t[0]) && t[0] < (float)C;
        for (int q = 1; q < 5; q++) ok = ok && isfinite(t[q]);
        ok = ok && t[1] >= 0.0f && t[1] <= 1.0f && t[2] >= 0.0f && t[2] <= 1.0f && t[3] > 0.0f && t[3] <= 1.0f &&
             t[4] > 0.0f && t[4] <= 1.0f;
        if (!ok) return -1.0 - (double)k;
        int j = (int)(t[1] * S), i = (int)(t[2] * S);
        j = j < S ? j : S - 1;
        i = i < S ? i : S - 1;
        if (owner[i * S + j] < 0) owner[i * S + j] = (int)k;
    }
    double L = 0.0;
    memset(d, 0, (size_t)S * S * P * sizeof(float));
    for (int cell = 0; cell < S * S; cell++) {
        const float *p = pred + (int64_t)cell * P;
        float *dp = d + (int64_t)cell * P;
        int resp = -1;
        if (owner[cell] >= 0) {
            const float *t = tgt + 5 * owner[cell];
            int i = cell / S, j = cell % S;
            float tx = t[1] * S - (float)j, ty = t[2] * S - (float)i, tsw = sqrtf(t[3]), tsh = sqrtf(t[4]);
            float gt[4] = {t[1] - 0.5f * t[3], t[2] - 0.5f * t[4], t[1] + 0.5f * t[3], t[2] + 0.5f * t[4]};
            float resp_iou = 0.0f, resp_err = 0.0f;
            for (int b = 0; b < B; b++) { /* the responsible predictor: highest IoU, else smallest error */
                const float *q = p + 5 * b;
                float cx = ((float)j + q[0]) / S, cy = ((float)i + q[1]) / S;
                float sw = q[2] > 0.0f ? q[2] : 0.0f, sh = q[3] > 0.0f ? q[3] : 0.0f, w = sw * sw, h = sh * sh;
                float box[4] = {cx - 0.5f * w, cy - 0.5f * h, cx + 0.5f * w, cy + 0.5f * h};
                float iou = dc_box_iou1(box, gt);
                float ex = q[0] - tx, ey = q[1] - ty, ew = q[2] - tsw, eh = q[3] - tsh;
                float err = ex * ex + ey * ey + ew * ew + eh * eh;
                if (b == 0 || iou > resp_iou || (resp_iou <= 0.0f && iou <= 0.0f && err < resp_err)) {
                    resp = b;
                    resp_iou = iou;
                    resp_err = err;
                }
            }
            const float *q = p + 5 * resp;
            float *dq = dp + 5 * resp;
            float sw = q[2], sh = q[3];
            L += lc * ((double)(q[0] - tx) * (q[0] - tx) + (double)(q[1] - ty) * (q[1] - ty) +
                       (double)(sw - tsw) * (sw - tsw) + (double)(sh - tsh) * (sh - tsh));
            dq[0] = 2.0f * lc * (q[0] - tx);
            dq[1] = 2.0f * lc * (q[1] - ty);
            dq[2] = 2.0f * lc * (sw - tsw);
            dq[3] = 2.0f * lc * (sh - tsh);
            float ct = n->yolo_conf_one ? 1.0f : resp_iou;
            L += (double)(q[4] - ct) * (q[4] - ct);
            dq[4] = 2.0f * (q[4] - ct);
            int cls = (int)t[0];
            if (n->yolo_cls_ce) { /* softmax cross-entropy over the class logits */
                const float *z = p + 5 * B;
                float zmax = z[0];
                for (int c = 1; c < C; c++) zmax = z[c] > zmax ? z[c] : zmax;
                double sum = 0.0;
                for (int c = 0; c < C; c++) sum += exp((double)(z[c] - zmax));
                L += log(sum) - (double)(z[cls] - zmax);
                for (int c = 0; c < C; c++)
                    dp[5 * B + c] = (float)(exp((double)(z[c] - zmax)) / sum) - (c == cls ? 1.0f : 0.0f);
            } else {
                for (int c = 0; c < C; c++) { /* class scores against the one-hot target */
                    float v = p[5 * B + c] - (c == cls ? 1.0f : 0.0f);
                    L += (double)v * v;
                    dp[5 * B + c] = 2.0f * v;
                }
            }
        }
        for (int b = 0; b < B; b++) { /* every other predictor: lambda_noobj conf^2 */
            if (b == resp) continue;
            float c = p[5 * b + 4];
            L += ln * (double)c * c;
            dp[5 * b + 4] = 2.0f * ln * c;
        }
    }
    return L;
}

dc_status dc_op_yolo_loss_infer(dc_graph *g, dc_node_rec *n) {
    char a[SB];
    dc_node_rec *y = dc_in(g, n, 0), *t = dc_in(g, n, 1);
    int64_t S = n->yolo_s, want = S * S * (5 * (int64_t)n->yolo_b + n->yolo_c);
    if (dc_sample_numel(y) != want || y->scalar)
        return DC_ERR(DC_ERR_SHAPE, "yolo_loss '%s': prediction '%s' %s must have S*S*(B*5 + C) = %lld*%lld*(%d*5 + %d) = %lld elements per image",
                      n->name, y->name, dc_shape_str(y->shape, a, SB), (long long)S, (long long)S, n->yolo_b, n->yolo_c,
                      (long long)want);
    if (t->scalar || t->shape.rank < 1 || t->shape.rank > 2 || t->shape.dim[t->shape.rank - 1] != 5)
        return DC_ERR(DC_ERR_SHAPE, "yolo_loss '%s': targets '%s' must be [N, max_obj, 5] (class, cx, cy, w, h), got sample shape %s",
                      n->name, t->name, dc_shape_str(t->shape, a, SB));
    if (t->needs_grad) return DC_ERR(DC_ERR_ARG, "yolo_loss '%s': targets '%s' must not depend on parameters", n->name, t->name);
    n->scalar = 1;
    n->shape = dc_shape_make(0, NULL);
    return DC_OK;
}

int64_t dc_op_yolo_loss_saved(const dc_graph *g, const dc_node_rec *n, int64_t batch) {
    return batch * dc_sample_numel(&g->nodes[n->in[0]]); /* dL_i/dpred per image */
}

dc_status dc_op_yolo_loss_forward(dc_graph *g, dc_node_rec *n, int64_t batch, int train) {
    dc_node_rec *y = dc_in(g, n, 0), *t = dc_in(g, n, 1);
    int64_t P = dc_sample_numel(y), T = dc_sample_numel(t);
    int *owner = (int *)g->work; /* per cell: the object owning it, -1 for none */
    double sum = 0.0;
    for (int64_t e = 0; e < batch; e++) {
        double l = yolo_loss1(n, y->out + e * P, t->out + e * T, T / 5, n->saved + e * P, owner);
        if (l < 0.0) {
            int64_t k = (int64_t)(-l - 1.0);
            const float *q = t->out + e * T + 5 * k;
            return DC_ERR(DC_ERR_ARG, "yolo_loss '%s': targets '%s' image %lld object %lld (class %g, cx %g, cy %g, w %g, h %g): want an integer class in 0..%d (< 0: padding), centre in [0, 1], size in (0, 1]",
                          n->name, t->name, (long long)e, (long long)k, (double)q[0], (double)q[1], (double)q[2],
                          (double)q[3], (double)q[4], n->yolo_c - 1);
        }
        sum += l;
    }
    n->loss = sum / (double)batch;
    n->out[0] = (float)n->loss;
    return DC_OK;
}

void dc_op_yolo_loss_backward(dc_graph *g, dc_node_rec *n, int64_t batch) {
    dc_node_rec *y = dc_in(g, n, 0);
    if (!y->grad) return;
    float s = n->grad[0] / (float)batch; /* dpred += dL * dL_i/dpred / N */
    int64_t m = batch * dc_sample_numel(y);
    for (int64_t k = 0; k < m; k++) y->grad[k] += s * n->saved[k];
}

int64_t dc_op_yolo_loss_flops(const dc_graph *g, const dc_node_rec *n) { return 0; }
int64_t dc_op_yolo_loss_workspace(const dc_graph *g, const dc_node_rec *n, int64_t batch) {
    return (int64_t)n->yolo_s * n->yolo_s; /* one int per cell */
}

dc_node dc_yolo_loss(dc_graph *g, dc_node pred, dc_node targets, const dc_yolo_opts *o, const char *name) {
    dc_node in[2] = {pred, targets};
    dc_node id = dc_graph_add_node(g, DC_OP_YOLO_LOSS, in, 2, name, "yolo_loss");
    if (id < 0) return id;
    dc_node_rec *n = &g->nodes[id];
    if (!o) return dc_graph_fail(g, DC_ERR_ARG, "yolo_loss '%s': options are NULL (see dc_yolo_opts_default)", n->name);
    if (o->S < 1 || o->S > 1024 || o->B < 1 || o->B > 64 || o->C < 1 || o->C > 100000)
        return dc_graph_fail(g, DC_ERR_ARG, "yolo_loss '%s': S %d, B %d, C %d outside 1..1024, 1..64, 1..100000", n->name,
                             o->S, o->B, o->C);
    if (!(o->lambda_coord >= 0.0f) || !(o->lambda_noobj >= 0.0f) || !isfinite(o->lambda_coord) ||
        !isfinite(o->lambda_noobj))
        return dc_graph_fail(g, DC_ERR_ARG, "yolo_loss '%s': lambda_coord %g, lambda_noobj %g must be finite and >= 0",
                             n->name, (double)o->lambda_coord, (double)o->lambda_noobj);
    n->yolo_s = o->S;
    n->yolo_b = o->B;
    n->yolo_c = o->C;
    n->yolo_lcoord = o->lambda_coord;
    n->yolo_lnoobj = o->lambda_noobj;
    n->yolo_conf_one = o->conf_target_one != 0;
    n->yolo_cls_ce = o->class_softmax_ce != 0;
    return dc_graph_finish_node(g, id);
}
