/* rcnn.c — R-CNN's pieces (rcnn.h): warping with context padding, the rcnn_mini network, ridge
 * regression, scoring an image's proposals and turning the scores into detections.
 * What it does not do: selective search (selsearch.c), training and the proposal cache
 * (src/train/rcnn_train.c), per-class SVMs (softmax scores the regions instead). */
#include "detect/rcnn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

dc_status dc_rcnn_model_check(const char *name, const char **canonical) {
    if (name && (!strcmp(name, DC_RCNN_MODEL) || !strcmp(name, "rcnn"))) {
        if (canonical) *canonical = DC_RCNN_MODEL;
        return DC_OK;
    }
    return DC_ERR(DC_ERR_ARG, "unknown R-CNN model '%s' (known: rcnn_mini, alias rcnn)", name ? name : "(null)");
}

float dc_rcnn_context_default(int side) { return 16.0f * (float)side / 227.0f; }

void dc_rcnn_dilate(const float box[4], int side, float pad, float out[4]) {
    float x1 = box[0], y1 = box[1], x2 = box[2], y2 = box[3];
    if (x2 - x1 < 1.0f) { /* a degenerate box: 1 pixel around its centre */
        float c = 0.5f * (x1 + x2);
        x1 = c - 0.5f, x2 = c + 0.5f;
    }
    if (y2 - y1 < 1.0f) {
        float c = 0.5f * (y1 + y2);
        y1 = c - 0.5f, y2 = c + 0.5f;
    }
    float inner = (float)side - 2.0f * pad; /* warped pixels the box itself covers */
    if (inner < 1.0f) inner = 1.0f;
    float cx = pad * (x2 - x1) / inner, cy = pad * (y2 - y1) / inner;
    out[0] = x1 - cx;
    out[1] = y1 - cy;
    out[2] = x2 + cx;
    out[3] = y2 + cy;
}

void dc_rcnn_warp(const uint8_t *img, int h, int w, const float box[4], int side, int flip, float *out) {
    enum { MAXS = 512 };
    int xa[MAXS], xb[MAXS];
    float ax[MAXS];
    unsigned char xin[MAXS];
    if (side > MAXS) side = MAXS;
    const float sx = (box[2] - box[0]) / (float)side, sy = (box[3] - box[1]) / (float)side;
    const float inv = 1.0f / (255.0f * DC_DET_STD), off = DC_DET_MEAN / DC_DET_STD;
    for (int u = 0; u < side; u++) { /* the column geometry, shared by every row */
        float X = box[0] + ((float)u + 0.5f) * sx;
        xin[u] = X >= 0.0f && X <= (float)w;
        float fx = X - 0.5f;
        if (fx < 0.0f) fx = 0.0f;
        if (fx > (float)(w - 1)) fx = (float)(w - 1);
        xa[u] = (int)fx;
        xb[u] = xa[u] + 1 < w ? xa[u] + 1 : w - 1;
        ax[u] = fx - (float)xa[u];
    }
    for (int v = 0; v < side; v++) {
        float Y = box[1] + ((float)v + 0.5f) * sy;
        float *row = out + (int64_t)v * side;
        if (!(Y >= 0.0f && Y <= (float)h)) {
            for (int u = 0; u < side; u++) row[u] = 0.0f;
            continue;
        }
        float fy = Y - 0.5f;
        if (fy < 0.0f) fy = 0.0f;
        if (fy > (float)(h - 1)) fy = (float)(h - 1);
        int ya = (int)fy, yb = ya + 1 < h ? ya + 1 : h - 1;
        float ay = fy - (float)ya;
        const uint8_t *ra = img + (int64_t)ya * w, *rb = img + (int64_t)yb * w;
        for (int u = 0; u < side; u++) {
            float val = 0.0f;
            if (xin[u]) {
                float top = (float)ra[xa[u]] + ax[u] * ((float)ra[xb[u]] - (float)ra[xa[u]]);
                float bot = (float)rb[xa[u]] + ax[u] * ((float)rb[xb[u]] - (float)rb[xa[u]]);
                val = (top + ay * (bot - top)) * inv - off;
            }
            row[flip ? side - 1 - u : u] = val;
        }
    }
}

/* ------------------------------------------------------------------ the network */
static dc_node conv_bn_relu(dc_graph *g, dc_node x, int oc, const char *name) {
    char bn[32];
    dc_conv2d_opts o = {.kh = 3, .kw = 3, .pad_h = 1, .pad_w = 1, .no_bias = 1};
    snprintf(bn, sizeof bn, "%s.bn", name);
    return dc_relu(g, dc_batchnorm(g, dc_conv2d_ex(g, x, oc, name, &o), bn));
}

void dc_rcnn_net_free(dc_rcnn_net *net) {
    if (!net) return;
    dc_graph_free(net->g);
    memset(net, 0, sizeof *net);
}

dc_status dc_rcnn_net_create(int side, int C, int with_loss, int64_t max_batch, const dc_graph_opts *go,
                             dc_rcnn_net *net) {
    if (!net) return DC_ERR(DC_ERR_ARG, "dc_rcnn_net_create: NULL output");
    memset(net, 0, sizeof *net);
    if (side < 8 || side > 256 || side % 8 != 0)
        return DC_ERR(DC_ERR_ARG, "R-CNN warp side %d: must be a multiple of 8 in 8..256", side);
    if (C < 1 || C > 10000) return DC_ERR(DC_ERR_ARG, "R-CNN: %d classes outside 1..10000", C);
    if (max_batch < 1) return DC_ERR(DC_ERR_ARG, "R-CNN: batch %lld < 1", (long long)max_batch);
    net->side = side;
    net->C = C;
    net->max_batch = max_batch;
    net->labels = net->loss = DC_NONE;
    DC_TRY(dc_graph_create(&net->g));
    dc_graph *g = net->g;
    net->x = dc_input(g, "regions", dc_shape3(1, side, side));
    dc_node h = dc_maxpool2d(g, conv_bn_relu(g, net->x, 32, "conv1"), 2, 2);
    h = dc_maxpool2d(g, conv_bn_relu(g, h, 64, "conv2"), 2, 2);
    h = dc_maxpool2d(g, conv_bn_relu(g, h, 128, "conv3"), 2, 2);
    net->feat = dc_relu(g, dc_linear(g, h, DC_RCNN_FEATURES, "fc6"));
    net->logits = dc_linear(g, dc_dropout(g, net->feat, 0.25f), C + 1, "cls");
    net->probs = dc_softmax(g, net->logits);
    if (with_loss) {
        net->labels = dc_input(g, "labels", dc_shape_make(0, NULL));
        net->loss = dc_softmax_cross_entropy(g, net->logits, net->labels);
    }
    dc_status s = dc_graph_status(g);
    if (s == DC_OK) s = dc_graph_plan(g, max_batch, go);
    if (s != DC_OK) dc_rcnn_net_free(net);
    return s;
}

/* ------------------------------------------------------------------ ridge regression */
dc_status dc_ridge_create(int F, int T, dc_ridge **out) {
    if (!out) return DC_ERR(DC_ERR_ARG, "dc_ridge_create: NULL output");
    *out = NULL;
    if (F < 1 || F > 16384 || T < 1 || T > 1024) return DC_ERR(DC_ERR_ARG, "dc_ridge_create: F %d, T %d out of range", F, T);
    dc_ridge *r = calloc(1, sizeof *r);
    int64_t D = F + 1;
    if (r) {
        r->xtx = calloc((size_t)(D * D), sizeof *r->xtx);
        r->xty = calloc((size_t)(D * T), sizeof *r->xty);
    }
    if (!r || !r->xtx || !r->xty) {
        dc_ridge_free(r);
        return DC_ERR(DC_ERR_NOMEM, "dc_ridge_create: %lld x %lld normal equations", (long long)D, (long long)D);
    }
    r->F = F;
    r->T = T;
    *out = r;
    return DC_OK;
}

void dc_ridge_free(dc_ridge *r) {
    if (!r) return;
    free(r->xtx);
    free(r->xty);
    free(r);
}

void dc_ridge_add(dc_ridge *r, const float *x, const float *y) {
    const int F = r->F, D = F + 1, T = r->T;
    for (int i = 0; i < D; i++) { /* upper triangle of X^T X; x_F = 1 is the bias */
        double xi = i < F ? (double)x[i] : 1.0;
        if (xi == 0.0) continue; /* ReLU features are often 0 */
        double *row = r->xtx + (int64_t)i * D;
        for (int j = i; j < F; j++) row[j] += xi * (double)x[j];
        row[F] += xi;
        for (int t = 0; t < T; t++) r->xty[(int64_t)i * T + t] += xi * (double)y[t];
    }
    r->n++;
}

dc_status dc_ridge_solve(const dc_ridge *r, double lambda, float *w) {
    if (!r || !w) return DC_ERR(DC_ERR_ARG, "dc_ridge_solve: NULL argument");
    if (!(lambda >= 0.0) || !isfinite(lambda)) return DC_ERR(DC_ERR_ARG, "dc_ridge_solve: lambda %g must be >= 0", lambda);
    const int F = r->F, D = F + 1, T = r->T;
    if (r->n == 0) {
        memset(w, 0, (size_t)T * D * sizeof *w);
        return DC_OK;
    }
    double *L = malloc((size_t)D * D * sizeof *L), *z = malloc((size_t)D * sizeof *z);
    if (!L || !z) {
        free(L), free(z);
        return DC_ERR(DC_ERR_NOMEM, "dc_ridge_solve: %d x %d", D, D);
    }
    for (int i = 0; i < D; i++) /* the full symmetric matrix + lambda on the weights' diagonal */
        for (int j = 0; j < D; j++) {
            double v = i <= j ? r->xtx[(int64_t)i * D + j] : r->xtx[(int64_t)j * D + i];
            L[(int64_t)i * D + j] = v + (i == j && i < F ? lambda : 0.0);
        }
    /* Cholesky A = L L^T in place (lower triangle) */
    for (int j = 0; j < D; j++) {
        double d = L[(int64_t)j * D + j];
        for (int k = 0; k < j; k++) d -= L[(int64_t)j * D + k] * L[(int64_t)j * D + k];
        if (!(d > 1e-12 * (1.0 + fabs(L[(int64_t)j * D + j])))) {
            free(L), free(z);
            return DC_ERR(DC_ERR_NUMERIC,
                          "ridge regression: the normal equations are singular at row %d of %d (%lld samples, lambda %g); "
                          "use lambda > 0",
                          j, D, (long long)r->n, lambda);
        }
        d = sqrt(d);
        L[(int64_t)j * D + j] = d;
        for (int i = j + 1; i < D; i++) {
            double v = L[(int64_t)i * D + j];
            for (int k = 0; k < j; k++) v -= L[(int64_t)i * D + k] * L[(int64_t)j * D + k];
            L[(int64_t)i * D + j] = v / d;
        }
    }
    for (int t = 0; t < T; t++) { /* L z = b, then L^T w = z */
        for (int i = 0; i < D; i++) {
            double v = r->xty[(int64_t)i * T + t];
            for (int k = 0; k < i; k++) v -= L[(int64_t)i * D + k] * z[k];
            z[i] = v / L[(int64_t)i * D + i];
        }
        for (int i = D - 1; i >= 0; i--) {
            double v = z[i];
            for (int k = i + 1; k < D; k++) v -= L[(int64_t)k * D + i] * z[k];
            z[i] = v / L[(int64_t)i * D + i];
        }
        for (int i = 0; i < D; i++) w[(int64_t)t * D + i] = (float)z[i];
    }
    free(L), free(z);
    return DC_OK;
}

/* ------------------------------------------------------------------ detection */
dc_rcnn_detect_opts dc_rcnn_detect_opts_default(int side) {
    dc_rcnn_detect_opts o = {.score_thresh = 0.01f, .nms = 0.3f, .max_dets = 100, .pad = dc_rcnn_context_default(side),
                             .bbreg = NULL};
    return o;
}

dc_status dc_rcnn_score(dc_rcnn_net *net, const uint8_t *img, int h, int w, const float *props, int64_t np, float pad,
                        float *probs, float *feats) {
    if (!net || !net->g || !img || (np > 0 && (!props || !probs)))
        return DC_ERR(DC_ERR_ARG, "dc_rcnn_score: NULL argument");
    const int side = net->side, K = net->C + 1;
    const int64_t per = (int64_t)side * side;
    float *xb = dc_graph_data(net->g, net->x);
    for (int64_t i = 0; i < np; i += net->max_batch) {
        int64_t b = np - i < net->max_batch ? np - i : net->max_batch;
        for (int64_t k = 0; k < b; k++) {
            float d[4];
            dc_rcnn_dilate(props + (i + k) * 4, side, pad, d);
            dc_rcnn_warp(img, h, w, d, side, 0, xb + k * per);
        }
        DC_TRY(dc_graph_forward_to(net->g, net->probs, b, 0));
        memcpy(probs + i * K, dc_graph_data(net->g, net->probs), (size_t)(b * K) * sizeof *probs);
        if (feats)
            memcpy(feats + i * DC_RCNN_FEATURES, dc_graph_data(net->g, net->feat),
                   (size_t)(b * DC_RCNN_FEATURES) * sizeof *feats);
    }
    return DC_OK;
}

dc_status dc_rcnn_postprocess(const dc_rcnn_detect_opts *o, int C, int64_t np, const float *props, const float *probs,
                              const float *feats, int h, int w, float *boxes, float *scores, int32_t *classes,
                              int64_t *n_out) {
    if (!o || !n_out || (np > 0 && (!props || !probs)) || !boxes || !scores || !classes)
        return DC_ERR(DC_ERR_ARG, "dc_rcnn_postprocess: NULL argument");
    if (o->bbreg && !feats) return DC_ERR(DC_ERR_ARG, "dc_rcnn_postprocess: box regression needs the features");
    *n_out = 0;
    const int K = C + 1, F = DC_RCNN_FEATURES, D = F + 1;
    int64_t nc = 0, cap = 0;
    float *cb = NULL, *cs = NULL;
    int32_t *cc = NULL;
    int64_t *keep = NULL;
    dc_status st = DC_OK;
    dc_box_coder coder = dc_box_coder_default();
    coder.wx = coder.wy = coder.ww = coder.wh = 1.0f; /* the paper's t = ((gx - px)/pw, ..., log(gw/pw), ...) */
    for (int64_t p = 0; st == DC_OK && p < np; p++)
        for (int c = 1; c <= C; c++) {
            float s = probs[p * K + c];
            if (!(s > o->score_thresh)) continue;
            if (nc == cap) {
                int64_t ncap = cap ? 2 * cap : 256;
                float *b2 = realloc(cb, (size_t)ncap * 4 * sizeof *cb), *s2 = b2 ? realloc(cs, (size_t)ncap * sizeof *cs) : NULL;
                if (b2) cb = b2;
                if (s2) cs = s2;
                int32_t *c2 = s2 ? realloc(cc, (size_t)ncap * sizeof *cc) : NULL;
                if (c2) cc = c2;
                if (!b2 || !s2 || !c2) {
                    st = DC_ERR(DC_ERR_NOMEM, "dc_rcnn_postprocess: %lld candidates", (long long)ncap);
                    break;
                }
                cap = ncap;
            }
            float *b = cb + nc * 4;
            if (o->bbreg) {
                float d[4];
                const float *f = feats + p * F;
                for (int t = 0; t < 4; t++) {
                    const float *wr = o->bbreg + ((int64_t)(c - 1) * 4 + t) * D;
                    float v = wr[F];
                    for (int k = 0; k < F; k++) v += wr[k] * f[k];
                    d[t] = v;
                }
                dc_box_decode(&coder, 1, props + p * 4, d, b);
            } else {
                memcpy(b, props + p * 4, 4 * sizeof *b);
            }
            dc_boxes_clip(1, b, (float)h, (float)w);
            if (!(b[2] > b[0] && b[3] > b[1])) continue; /* regressed out of the image */
            cs[nc] = s;
            cc[nc] = c;
            nc++;
        }
    if (st == DC_OK && nc > 0) {
        keep = malloc((size_t)nc * sizeof *keep);
        int64_t nk = 0;
        st = keep ? dc_nms(nc, cb, cs, cc, o->nms, o->max_dets, keep, &nk) : DC_ERR(DC_ERR_NOMEM, "NMS indices");
        for (int64_t i = 0; st == DC_OK && i < nk; i++) {
            memcpy(boxes + i * 4, cb + keep[i] * 4, 4 * sizeof *boxes);
            scores[i] = cs[keep[i]];
            classes[i] = cc[keep[i]];
        }
        if (st == DC_OK) *n_out = nk;
    }
    free(cb), free(cs), free(cc), free(keep);
    return st;
}
