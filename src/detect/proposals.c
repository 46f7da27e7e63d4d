/* proposals.c — the proposal layer and the Fast R-CNN RoI sampler (rules in proposals.h).
 * Built from the box machinery of boxes.c (decode, clip, IoU, argsort, NMS, balanced sampling);
 * this file only orders the steps and keeps the index bookkeeping. */
#include "detect/proposals.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

dc_proposal_opts dc_proposal_opts_default(int train) {
    dc_proposal_opts o = {.pre_nms_top_n = train ? 12000 : 6000, .post_nms_top_n = train ? 2000 : 300,
                          .nms_thresh = 0.7f, .min_size = 16.0f, .coder = dc_box_coder_default()};
    o.coder.wx = o.coder.wy = o.coder.ww = o.coder.wh = 1.0f;
    return o;
}

dc_status dc_proposals(const dc_proposal_opts *o, int64_t A, const float *anchors, const float *scores,
                       const float *deltas, float img_h, float img_w, float *out_boxes, float *out_scores,
                       int64_t *n_out) {
    if (n_out) *n_out = 0;
    if (!o || !n_out || A < 0 || (A > 0 && (!anchors || !scores || !deltas || !out_boxes)))
        return DC_ERR(DC_ERR_ARG, "dc_proposals: %lld anchors, NULL argument", (long long)A);
    if (!(img_h > 0.0f) || !(img_w > 0.0f) || !isfinite(img_h) || !isfinite(img_w) || !(o->min_size >= 0.0f) ||
        !(o->nms_thresh >= 0.0f && o->nms_thresh <= 1.0f))
        return DC_ERR(DC_ERR_ARG, "dc_proposals: image %gx%g, min_size %g, NMS threshold %g (want a positive image size, min_size >= 0, threshold in [0, 1])",
                      (double)img_w, (double)img_h, (double)o->min_size, (double)o->nms_thresh);
    if (A == 0) return DC_OK;
    float *boxes = malloc((size_t)A * 4 * sizeof *boxes), *vs = malloc((size_t)A * sizeof *vs);
    int64_t *order = malloc((size_t)A * sizeof *order), *keep = malloc((size_t)A * sizeof *keep);
    float *top = malloc((size_t)A * 4 * sizeof *top), *ts = malloc((size_t)A * sizeof *ts);
    dc_status st = DC_OK;
    if (!boxes || !vs || !order || !keep || !top || !ts) {
        st = DC_ERR(DC_ERR_NOMEM, "dc_proposals: scratch for %lld anchors", (long long)A);
        goto done;
    }
    /* 1-2. decode, clip, keep finite boxes of at least min_size (compacted, anchor order kept) */
    dc_box_decode(&o->coder, A, anchors, deltas, boxes);
    dc_boxes_clip(A, boxes, img_h, img_w);
    int64_t nv = 0;
    for (int64_t i = 0; i < A; i++) {
        const float *b = boxes + 4 * i;
        int ok = isfinite(scores[i]) && isfinite(b[0]) && isfinite(b[1]) && isfinite(b[2]) && isfinite(b[3]) &&
                 b[2] - b[0] >= o->min_size && b[3] - b[1] >= o->min_size;
        if (!ok) continue;
        memmove(boxes + 4 * nv, b, 4 * sizeof(float));
        vs[nv++] = scores[i];
    }
    /* 3. the pre_nms_top_n best (ties: lower anchor index) */
    st = dc_argsort_scores(nv, vs, order);
    if (st != DC_OK) goto done;
    int64_t nt = o->pre_nms_top_n > 0 && o->pre_nms_top_n < nv ? o->pre_nms_top_n : nv;
    for (int64_t k = 0; k < nt; k++) {
        memcpy(top + 4 * k, boxes + 4 * order[k], 4 * sizeof(float));
        ts[k] = vs[order[k]];
    }
    /* 4-5. NMS, at most post_nms_top_n kept, in score order */
    int64_t nk = 0;
    st = dc_nms(nt, top, ts, NULL, o->nms_thresh, o->post_nms_top_n > 0 ? o->post_nms_top_n : 0, keep, &nk);
    if (st != DC_OK) goto done;
    for (int64_t k = 0; k < nk; k++) {
        memcpy(out_boxes + 4 * k, top + 4 * keep[k], 4 * sizeof(float));
        if (out_scores) out_scores[k] = ts[keep[k]];
    }
    *n_out = nk;
done:
    free(boxes);
    free(vs);
    free(order);
    free(keep);
    free(top);
    free(ts);
    return st;
}

/* ------------------------------------------------------------------ RoI sampler */

dc_roi_sampler_opts dc_roi_sampler_opts_default(void) {
    dc_roi_sampler_opts o = {.batch_size = 128, .fg_fraction = 0.25f, .fg_thresh = 0.5f, .bg_hi = 0.5f,
                             .bg_lo = 0.1f, .add_gt = 1, .coder = dc_box_coder_default()};
    return o;
}

static int finite4(const float *b) { return isfinite(b[0]) && isfinite(b[1]) && isfinite(b[2]) && isfinite(b[3]); }

dc_status dc_roi_sample(const dc_roi_sampler_opts *o, int64_t np, const float *proposals, int64_t ng,
                        const float *gt, const int32_t *gt_classes, dc_rng *rng, float *rois, int32_t *labels,
                        float *targets, int32_t *matched, int64_t *n_out, int64_t *n_fg) {
    if (n_out) *n_out = 0;
    if (n_fg) *n_fg = 0;
    if (!o || !rng || !n_out || !rois || !labels || !targets || np < 0 || ng < 0 || (np > 0 && !proposals) ||
        (ng > 0 && (!gt || !gt_classes)))
        return DC_ERR(DC_ERR_ARG, "dc_roi_sample: %lld proposals, %lld gt boxes, NULL argument", (long long)np,
                      (long long)ng);
    if (o->batch_size < 1 || !(o->fg_fraction >= 0.0f && o->fg_fraction <= 1.0f) || !(o->bg_lo <= o->bg_hi) ||
        !(o->fg_thresh >= 0.0f) || !(o->bg_lo >= 0.0f))
        return DC_ERR(DC_ERR_ARG, "dc_roi_sample: batch_size %lld, fg_fraction %g, fg_thresh %g, background [%g, %g) (want batch_size >= 1, fraction in [0, 1], 0 <= bg_lo <= bg_hi)",
                      (long long)o->batch_size, (double)o->fg_fraction, (double)o->fg_thresh, (double)o->bg_lo,
                      (double)o->bg_hi);
    for (int64_t j = 0; j < ng; j++) {
        const float *b = gt + 4 * j;
        if (!finite4(b) || !(b[2] > b[0]) || !(b[3] > b[1]) || gt_classes[j] < 1)
            return DC_ERR(DC_ERR_ARG, "dc_roi_sample: ground truth %lld [%g, %g, %g, %g] class %d: want a finite non-empty box and a class >= 1 (0 is background)",
                          (long long)j, (double)b[0], (double)b[1], (double)b[2], (double)b[3], (int)gt_classes[j]);
    }
    for (int64_t i = 0; i < np; i++)
        if (!finite4(proposals + 4 * i))
            return DC_ERR(DC_ERR_ARG, "dc_roi_sample: proposal %lld has a non-finite coordinate", (long long)i);
    int64_t n = np + (o->add_gt ? ng : 0);
    if (n == 0) return DC_OK;
    float *all = malloc((size_t)n * 4 * sizeof *all), *iou = ng ? malloc((size_t)n * (size_t)ng * sizeof *iou) : NULL;
    int32_t *best = malloc((size_t)n * sizeof *best);
    int8_t *lab = malloc((size_t)n);
    dc_status st = DC_OK;
    if (!all || !best || !lab || (ng && !iou)) {
        st = DC_ERR(DC_ERR_NOMEM, "dc_roi_sample: scratch for %lld RoIs x %lld gt boxes", (long long)n, (long long)ng);
        goto done;
    }
    /* 1. proposals, then the ground truth */
    if (np) memcpy(all, proposals, (size_t)np * 4 * sizeof(float));
    if (n > np) memcpy(all + 4 * np, gt, (size_t)ng * 4 * sizeof(float));
    /* 2. match to the gt box of highest IoU and label */
    if (ng) dc_boxes_iou(n, all, ng, gt, iou);
    for (int64_t i = 0; i < n; i++) {
        float m = 0.0f;
        best[i] = -1;
        for (int64_t j = 0; j < ng; j++)
            if (best[i] < 0 || iou[i * ng + j] > m) {
                m = iou[i * ng + j];
                best[i] = (int32_t)j;
            }
        lab[i] = ng && m >= o->fg_thresh ? 1 : (m >= o->bg_lo && m < o->bg_hi ? 0 : -1);
    }
    /* 3. at most fg_fraction foreground, background fills up to batch_size */
    int64_t kp = 0, kn = 0;
    st = dc_sample_balanced(n, lab, o->batch_size, o->fg_fraction, rng, &kp, &kn);
    if (st != DC_OK) goto done;
    /* 4. foreground first, then background; targets only for foreground */
    int64_t k = 0;
    for (int pass = 1; pass >= 0; pass--)
        for (int64_t i = 0; i < n; i++) {
            if (lab[i] != pass) continue;
            memcpy(rois + 4 * k, all + 4 * i, 4 * sizeof(float));
            if (pass) {
                labels[k] = gt_classes[best[i]];
                dc_box_encode(&o->coder, 1, all + 4 * i, gt + 4 * best[i], targets + 4 * k);
            } else {
                labels[k] = 0;
                memset(targets + 4 * k, 0, 4 * sizeof(float));
            }
            if (matched) matched[k] = pass ? best[i] : -1;
            k++;
        }
    *n_out = k;
    if (n_fg) *n_fg = kp;
done:
    free(all);
    free(iou);
    free(best);
    free(lab);
    return st;
}
