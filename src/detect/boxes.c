/* boxes.c — IoU matrices, box coding, clipping, NMS glue, anchors, anchor labelling and balanced
 * sampling (see boxes.h for the conventions).  The per-pair math (IoU, the NMS core) is in
 * src/kernels/boxes.c; here are the orderings, the bookkeeping and the allocations. */
#include "detect/boxes.h"
#include "kernels/boxes.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void dc_boxes_xywh_to_xyxy(int64_t n, const float *in, float *out) {
    for (int64_t i = 0; i < n; i++) {
        float x = in[4 * i], y = in[4 * i + 1], w = in[4 * i + 2], h = in[4 * i + 3];
        out[4 * i] = x;
        out[4 * i + 1] = y;
        out[4 * i + 2] = x + w;
        out[4 * i + 3] = y + h;
    }
}

void dc_boxes_xyxy_to_xywh(int64_t n, const float *in, float *out) {
    for (int64_t i = 0; i < n; i++) {
        float x1 = in[4 * i], y1 = in[4 * i + 1], x2 = in[4 * i + 2], y2 = in[4 * i + 3];
        out[4 * i] = x1;
        out[4 * i + 1] = y1;
        out[4 * i + 2] = x2 - x1;
        out[4 * i + 3] = y2 - y1;
    }
}

void dc_boxes_iou(int64_t n, const float *a, int64_t m, const float *b, float *out) {
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < m; j++) out[i * m + j] = dc_box_iou1(a + 4 * i, b + 4 * j);
}

void dc_boxes_clip(int64_t n, float *boxes, float img_h, float img_w) {
    for (int64_t i = 0; i < n; i++) {
        float *b = boxes + 4 * i;
        b[0] = fminf(fmaxf(b[0], 0.0f), img_w);
        b[1] = fminf(fmaxf(b[1], 0.0f), img_h);
        b[2] = fminf(fmaxf(b[2], 0.0f), img_w);
        b[3] = fminf(fmaxf(b[3], 0.0f), img_h);
    }
}

dc_box_coder dc_box_coder_default(void) {
    dc_box_coder c = {10.0f, 10.0f, 5.0f, 5.0f, 4.135166556742356f /* log(1000/16) */};
    return c;
}

/* d = (wx (gx - ax) / aw, wy (gy - ay) / ah, ww log(gw / aw), wh log(gh / ah))        [n, 4] */
void dc_box_encode(const dc_box_coder *c, int64_t n, const float *ref, const float *gt, float *deltas) {
    for (int64_t i = 0; i < n; i++) {
        const float *a = ref + 4 * i, *g = gt + 4 * i;
        float aw = a[2] - a[0], ah = a[3] - a[1];
        float ax = a[0] + 0.5f * aw, ay = a[1] + 0.5f * ah;
        float gw = g[2] - g[0], gh = g[3] - g[1];
        float gx = g[0] + 0.5f * gw, gy = g[1] + 0.5f * gh;
        float *d = deltas + 4 * i;
        d[0] = c->wx * (gx - ax) / aw;
        d[1] = c->wy * (gy - ay) / ah;
        d[2] = c->ww * logf(gw / aw);
        d[3] = c->wh * logf(gh / ah);
    }
}

/* x = ax + aw dx / wx, w = aw exp(min(dw / ww, clamp)); box = centre -+ half size      [n, 4] */
void dc_box_decode(const dc_box_coder *c, int64_t n, const float *ref, const float *deltas, float *out) {
    for (int64_t i = 0; i < n; i++) {
        const float *a = ref + 4 * i, *d = deltas + 4 * i;
        float aw = a[2] - a[0], ah = a[3] - a[1];
        float ax = a[0] + 0.5f * aw, ay = a[1] + 0.5f * ah;
        float dx = d[0] / c->wx, dy = d[1] / c->wy;
        float dw = fminf(d[2] / c->ww, c->clamp), dh = fminf(d[3] / c->wh, c->clamp);
        float cx = dx * aw + ax, cy = dy * ah + ay;
        float w = expf(dw) * aw, h = expf(dh) * ah;
        float *o = out + 4 * i;
        o[0] = cx - 0.5f * w;
        o[1] = cy - 0.5f * h;
        o[2] = cx + 0.5f * w;
        o[3] = cy + 0.5f * h;
    }
}

/* ------------------------------------------------------------------ NMS glue */
typedef struct { float score; int64_t index; } scored;

/* Score descending, then index ascending: a total order, so qsort's instability cannot show. */
static int cmp_scored(const void *pa, const void *pb) {
    const scored *a = pa, *b = pb;
    if (a->score > b->score) return -1;
    if (a->score < b->score) return 1;
    return (a->index > b->index) - (a->index < b->index);
}

dc_status dc_argsort_scores(int64_t n, const float *scores, int64_t *order) {
    if (n < 0 || (n > 0 && (!scores || !order))) return DC_ERR(DC_ERR_ARG, "dc_argsort_scores: n = %lld, NULL array", (long long)n);
    if (n == 0) return DC_OK;
    scored *s = malloc((size_t)n * sizeof *s);
    if (!s) return DC_ERR(DC_ERR_NOMEM, "dc_argsort_scores: %lld scores", (long long)n);
    for (int64_t i = 0; i < n; i++) {
        if (isnan(scores[i])) {
            free(s);
            return DC_ERR(DC_ERR_NUMERIC, "dc_argsort_scores: score %lld is NaN", (long long)i);
        }
        s[i].score = scores[i];
        s[i].index = i;
    }
    qsort(s, (size_t)n, sizeof *s, cmp_scored);
    for (int64_t i = 0; i < n; i++) order[i] = s[i].index;
    free(s);
    return DC_OK;
}

dc_status dc_nms(int64_t n, const float *boxes, const float *scores, const int32_t *classes, float iou_thresh,
                 int64_t max_keep, int64_t *keep, int64_t *n_keep) {
    if (n_keep) *n_keep = 0;
    if (n < 0 || !n_keep || (n > 0 && (!boxes || !scores || !keep)))
        return DC_ERR(DC_ERR_ARG, "dc_nms: n = %lld, NULL argument", (long long)n);
    if (isnan(iou_thresh)) return DC_ERR(DC_ERR_ARG, "dc_nms: IoU threshold is NaN");
    if (n == 0) return DC_OK;
    int64_t *order = malloc((size_t)n * sizeof *order);
    float *sorted = malloc((size_t)n * 4 * sizeof *sorted);
    int32_t *cls = classes ? malloc((size_t)n * sizeof *cls) : NULL;
    uint8_t *mask = malloc((size_t)n);
    float *scratch = malloc((size_t)dc_nms_scratch_floats(n) * sizeof *scratch);
    dc_status st = DC_OK;
    if (!order || !sorted || !mask || !scratch || (classes && !cls)) {
        st = DC_ERR(DC_ERR_NOMEM, "dc_nms: buffers for %lld boxes", (long long)n);
        goto done;
    }
    st = dc_argsort_scores(n, scores, order);
    if (st != DC_OK) goto done;
    for (int64_t i = 0; i < n; i++) {
        memcpy(sorted + 4 * i, boxes + 4 * order[i], 4 * sizeof(float));
        if (cls) cls[i] = classes[order[i]];
    }
    dc_nms_sorted(n, sorted, cls, iou_thresh, max_keep, mask, scratch);
    int64_t k = 0;
    for (int64_t i = 0; i < n && (max_keep <= 0 || k < max_keep); i++)
        if (mask[i]) keep[k++] = order[i];
    *n_keep = k;
done:
    free(order);
    free(sorted);
    free(cls);
    free(mask);
    free(scratch);
    return st;
}

/* ------------------------------------------------------------------ anchors */
int64_t dc_anchors_count(const dc_anchor_spec *s, int fh, int fw) {
    if (!s || fh < 0 || fw < 0 || s->n_sizes < 0 || s->n_ratios < 0) return 0;
    return (int64_t)fh * fw * s->n_sizes * s->n_ratios;
}

dc_status dc_anchors_generate(const dc_anchor_spec *s, int fh, int fw, float *out) {
    if (!s || !out || !s->sizes || !s->ratios || s->n_sizes <= 0 || s->n_ratios <= 0)
        return DC_ERR(DC_ERR_ARG, "dc_anchors_generate: need sizes, ratios and an output array");
    if (fh <= 0 || fw <= 0 || fh > 65536 || fw > 65536)
        return DC_ERR(DC_ERR_ARG, "dc_anchors_generate: feature map %d x %d outside 1..65536", fh, fw);
    if (!(s->stride > 0.0f) || !isfinite(s->stride))
        return DC_ERR(DC_ERR_ARG, "dc_anchors_generate: stride %g must be positive", (double)s->stride);
    for (int i = 0; i < s->n_sizes; i++)
        if (!(s->sizes[i] > 0.0f) || !isfinite(s->sizes[i]))
            return DC_ERR(DC_ERR_ARG, "dc_anchors_generate: size %d is %g, must be positive", i, (double)s->sizes[i]);
    for (int i = 0; i < s->n_ratios; i++)
        if (!(s->ratios[i] > 0.0f) || !isfinite(s->ratios[i]))
            return DC_ERR(DC_ERR_ARG, "dc_anchors_generate: ratio %d is %g, must be positive", i, (double)s->ratios[i]);
    const int A = s->n_sizes * s->n_ratios;
    float *base = malloc((size_t)A * 2 * sizeof *base);
    if (!base) return DC_ERR(DC_ERR_NOMEM, "dc_anchors_generate: %d base anchors", A);
    /* Half widths and heights of the A base anchors: w = s / sqrt(r), h = s sqrt(r). */
    for (int r = 0; r < s->n_ratios; r++) {
        float hr = sqrtf(s->ratios[r]);
        for (int k = 0; k < s->n_sizes; k++) {
            base[2 * (r * s->n_sizes + k)] = 0.5f * s->sizes[k] / hr;
            base[2 * (r * s->n_sizes + k) + 1] = 0.5f * s->sizes[k] * hr;
        }
    }
    float *o = out;
    for (int y = 0; y < fh; y++) {
        float cy = ((float)y + s->offset) * s->stride;
        for (int x = 0; x < fw; x++) {
            float cx = ((float)x + s->offset) * s->stride;
            for (int a = 0; a < A; a++, o += 4) {
                o[0] = cx - base[2 * a];
                o[1] = cy - base[2 * a + 1];
                o[2] = cx + base[2 * a];
                o[3] = cy + base[2 * a + 1];
            }
        }
    }
    free(base);
    return DC_OK;
}

dc_anchor_match_opts dc_anchor_match_defaults(void) {
    dc_anchor_match_opts o = {0.7f, 0.3f, 1, -1.0f};
    return o;
}

dc_status dc_anchors_label(int64_t na, const float *anchors, int64_t ng, const float *gt, float img_h, float img_w,
                           const dc_anchor_match_opts *o, int8_t *labels, int32_t *matched, float *max_iou) {
    dc_anchor_match_opts d = dc_anchor_match_defaults();
    if (!o) o = &d;
    if (na < 0 || ng < 0 || ng > INT32_MAX || (na > 0 && (!anchors || !labels)) || (ng > 0 && !gt))
        return DC_ERR(DC_ERR_ARG, "dc_anchors_label: %lld anchors, %lld boxes, NULL array", (long long)na, (long long)ng);
    if (!(o->bg_iou <= o->fg_iou))
        return DC_ERR(DC_ERR_ARG, "dc_anchors_label: background IoU %g above foreground IoU %g", (double)o->bg_iou,
                      (double)o->fg_iou);
    if (na == 0) return DC_OK;
    /* The IoU matrix is kept so that the best-anchor rule compares the very same numbers. */
    size_t cells = (size_t)na * (size_t)(ng ? ng : 1);
    if (ng && cells / (size_t)ng != (size_t)na) return DC_ERR(DC_ERR_NOMEM, "dc_anchors_label: IoU matrix too large");
    float *iou = ng ? malloc(cells * sizeof *iou) : NULL;
    float *gt_best = ng ? calloc((size_t)ng, sizeof *gt_best) : NULL;
    uint8_t *inside = malloc((size_t)na);
    if ((ng && (!iou || !gt_best)) || !inside) {
        free(iou);
        free(gt_best);
        free(inside);
        return DC_ERR(DC_ERR_NOMEM, "dc_anchors_label: IoU matrix of %lld x %lld", (long long)na, (long long)ng);
    }
    for (int64_t i = 0; i < na; i++) {
        const float *a = anchors + 4 * i;
        inside[i] = !(o->border >= 0.0f) || (a[0] >= -o->border && a[1] >= -o->border && a[2] <= img_w + o->border &&
                                             a[3] <= img_h + o->border);
        float best = 0.0f;
        int32_t arg = -1;
        for (int64_t j = 0; j < ng; j++) {
            float v = inside[i] ? dc_box_iou1(a, gt + 4 * j) : 0.0f;
            iou[i * ng + j] = v;
            if (inside[i] && (arg < 0 || v > best)) { best = v; arg = (int32_t)j; }
            if (inside[i] && v > gt_best[j]) gt_best[j] = v;
        }
        if (matched) matched[i] = arg;
        if (max_iou) max_iou[i] = best;
        labels[i] = !inside[i] ? -1 : best >= o->fg_iou ? 1 : best < o->bg_iou ? 0 : -1;
    }
    if (o->best_match)
        for (int64_t i = 0; i < na; i++) {
            if (!inside[i] || labels[i] == 1) continue;
            for (int64_t j = 0; j < ng; j++)
                if (gt_best[j] > 0.0f && iou[i * ng + j] == gt_best[j]) { labels[i] = 1; break; }
        }
    free(iou);
    free(gt_best);
    free(inside);
    return DC_OK;
}

/* Keep a uniformly random subset of `keep` among the idx[0..n) (partial Fisher–Yates). */
static void choose(dc_rng *rng, int64_t *idx, int64_t n, int64_t keep) {
    for (int64_t i = 0; i < keep && i < n; i++) {
        int64_t j = i + (int64_t)dc_rng_below(rng, (uint64_t)(n - i));
        int64_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

dc_status dc_sample_balanced(int64_t n, int8_t *labels, int64_t num, float pos_fraction, dc_rng *rng,
                             int64_t *n_pos, int64_t *n_neg) {
    if (n_pos) *n_pos = 0;
    if (n_neg) *n_neg = 0;
    if (n < 0 || num < 0 || !rng || (n > 0 && !labels) || !(pos_fraction >= 0.0f && pos_fraction <= 1.0f))
        return DC_ERR(DC_ERR_ARG, "dc_sample_balanced: n %lld, num %lld, positive fraction %g (0..1)", (long long)n,
                      (long long)num, (double)pos_fraction);
    if (n == 0) return DC_OK;
    int64_t *pos = malloc((size_t)n * sizeof *pos), *neg = malloc((size_t)n * sizeof *neg);
    if (!pos || !neg) {
        free(pos);
        free(neg);
        return DC_ERR(DC_ERR_NOMEM, "dc_sample_balanced: index lists for %lld labels", (long long)n);
    }
    int64_t np = 0, nn = 0;
    for (int64_t i = 0; i < n; i++) {
        if (labels[i] == 1) pos[np++] = i;
        else if (labels[i] == 0) neg[nn++] = i;
    }
    int64_t max_pos = (int64_t)floor((double)num * (double)pos_fraction);
    int64_t kp = np < max_pos ? np : max_pos;
    int64_t kn = nn < num - kp ? nn : num - kp;
    choose(rng, pos, np, kp);
    choose(rng, neg, nn, kn);
    for (int64_t i = kp; i < np; i++) labels[pos[i]] = -1;
    for (int64_t i = kn; i < nn; i++) labels[neg[i]] = -1;
    free(pos);
    free(neg);
    if (n_pos) *n_pos = kp;
    if (n_neg) *n_neg = kn;
    return DC_OK;
}
