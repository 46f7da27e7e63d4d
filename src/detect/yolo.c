/* yolo.c — YOLO v1 decoding: boxes and class-specific scores from one image's prediction, then
 * thresholding and per-class NMS (rules in yolo.h). */
#include "detect/yolo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

dc_yolo_decode_opts dc_yolo_decode_opts_default(int S, int B, int C, float img_w, float img_h) {
    dc_yolo_decode_opts o = {.S = S, .B = B, .C = C, .img_w = img_w, .img_h = img_h, .score_thresh = 0.2f,
                             .nms_thresh = 0.5f, .max_dets = 100, .class_softmax = 0};
    return o;
}

/* A cell's class probabilities: softmax of the logits, or the regressed scores clamped at 0. */
static void class_probs(const float *z, int C, int softmax, float *prob) {
    if (!softmax) {
        for (int c = 0; c < C; c++) prob[c] = z[c] > 0.0f ? z[c] : 0.0f;
        return;
    }
    float zmax = z[0];
    for (int c = 1; c < C; c++) zmax = z[c] > zmax ? z[c] : zmax;
    double sum = 0.0;
    for (int c = 0; c < C; c++) sum += exp((double)(z[c] - zmax));
    for (int c = 0; c < C; c++) prob[c] = (float)(exp((double)(z[c] - zmax)) / sum);
}

dc_status dc_yolo_decode(const dc_yolo_decode_opts *o, const float *pred, int64_t cap, float *boxes, float *scores,
                         int32_t *classes, int64_t *n_out) {
    if (n_out) *n_out = 0;
    if (!o || !pred || !boxes || !scores || !classes || !n_out || o->S < 1 || o->B < 1 || o->C < 1 ||
        o->S > 1024 || o->B > 64 || o->C > 100000)
        return DC_ERR(DC_ERR_ARG, "dc_yolo_decode: NULL argument or S %d, B %d, C %d outside 1..1024, 1..64, 1..100000",
                      o ? o->S : 0, o ? o->B : 0, o ? o->C : 0);
    if (!(o->img_w > 0.0f) || !(o->img_h > 0.0f) || isnan(o->score_thresh) || isnan(o->nms_thresh))
        return DC_ERR(DC_ERR_ARG, "dc_yolo_decode: image %gx%g must be positive, thresholds not NaN", (double)o->img_w,
                      (double)o->img_h);
    const int S = o->S, B = o->B, C = o->C, P = 5 * B + C;
    int64_t most = (int64_t)S * S * B * C, want = o->max_dets > 0 && o->max_dets < most ? o->max_dets : most;
    if (cap < want)
        return DC_ERR(DC_ERR_ARG, "dc_yolo_decode: output capacity %lld < %lld (max_dets or S*S*B*C)", (long long)cap,
                      (long long)want);
    float *cb = malloc((size_t)most * 4 * sizeof *cb), *cs = malloc((size_t)most * sizeof *cs);
    int32_t *cc = malloc((size_t)most * sizeof *cc);
    int64_t *keep = malloc((size_t)most * sizeof *keep);
    float *prob = malloc((size_t)C * sizeof *prob); /* one cell's class probabilities */
    dc_status st = DC_OK;
    if (!cb || !cs || !cc || !keep || !prob) {
        st = DC_ERR(DC_ERR_NOMEM, "dc_yolo_decode: %lld candidates", (long long)most);
        goto done;
    }
    int64_t n = 0; /* candidates in (cell, box, class) order */
    for (int cell = 0; cell < S * S; cell++) {
        const float *p = pred + (int64_t)cell * P;
        int i = cell / S, j = cell % S;
        class_probs(p + 5 * B, C, o->class_softmax, prob);
        for (int b = 0; b < B; b++) {
            const float *q = p + 5 * b;
            float cx = ((float)j + q[0]) / (float)S * o->img_w, cy = ((float)i + q[1]) / (float)S * o->img_h;
            float sw = fmaxf(q[2], 0.0f), sh = fmaxf(q[3], 0.0f); /* square roots of the size */
            float w = sw * sw * o->img_w, h = sh * sh * o->img_h;
            for (int c = 0; c < C; c++) {
                /* class-specific confidence Pr(class) x IoU; both are regressed without a squashing
                 * function, so a negative output means 0 (else two negatives would make a score) */
                float s = fmaxf(q[4], 0.0f) * prob[c];
                if (!(s > o->score_thresh) || !isfinite(cx) || !isfinite(cy) || !isfinite(w) || !isfinite(h)) continue;
                float *bb = cb + 4 * n;
                bb[0] = cx - 0.5f * w, bb[1] = cy - 0.5f * h, bb[2] = cx + 0.5f * w, bb[3] = cy + 0.5f * h;
                cs[n] = s;
                cc[n++] = c;
            }
        }
    }
    int64_t nk = 0;
    st = dc_nms(n, cb, cs, cc, o->nms_thresh, want, keep, &nk);
    if (st != DC_OK) goto done;
    for (int64_t k = 0; k < nk; k++) {
        memcpy(boxes + 4 * k, cb + 4 * keep[k], 4 * sizeof(float));
        scores[k] = cs[keep[k]];
        classes[k] = cc[keep[k]];
    }
    *n_out = nk;
done:
    free(prob);
    free(cb);
    free(cs);
    free(cc);
    free(keep);
    return st;
}
