/* test_proposals.c — the proposal layer (decode, clip, min-size drop, pre-NMS top-N, NMS,
 * post-NMS top-N, score order) and the Fast R-CNN RoI sampler (foreground/background thresholds,
 * the foreground cap, ground truth added, targets only for foreground, seeded draws) on crafted
 * boxes whose answers are worked out by hand. */
#include "detect/proposals.h"
#include "test.h"

#include <math.h>
#include <string.h>

/* 6 anchors in a 100x100 image, scored; with zero deltas the proposals are the anchors. */
static const float ANCH[6 * 4] = {
    10, 10, 50, 50,   /* a0 .90                                                  */
    12, 12, 52, 52,   /* a1 .80: IoU(a0) = 1444/1756 = .82 > .7 -> suppressed    */
    60, 60, 90, 90,   /* a2 .70                                                  */
    0, 0, 5, 5,       /* a3 .95: 5 px < min_size 16 -> dropped                   */
    -20, 70, 40, 130, /* a4 .60: clipped to [0, 70, 40, 100]                     */
    61, 61, 91, 91,   /* a5 .65: IoU(a2) = 841/959 = .88 -> suppressed           */
};
static const float SCORES[6] = {0.9f, 0.8f, 0.7f, 0.95f, 0.6f, 0.65f};

TEST(proposals_decode_clip_minsize_nms) {
    float deltas[24] = {0}, out[24], sc[6];
    int64_t n = -1;
    dc_proposal_opts o = dc_proposal_opts_default(1);
    CHECK(o.pre_nms_top_n == 12000 && o.post_nms_top_n == 2000 && o.nms_thresh == 0.7f);
    CHECK_OK(dc_proposals(&o, 6, ANCH, SCORES, deltas, 100, 100, out, sc, &n));
    CHECK(n == 3);
    const float want[12] = {10, 10, 50, 50, 60, 60, 90, 90, 0, 70, 40, 100};
    const float wsc[3] = {0.9f, 0.7f, 0.6f};
    for (int k = 0; k < 12 && n == 3; k++) CHECK_NEAR(out[k], want[k], 1e-4);
    for (int k = 0; k < 3 && n == 3; k++) CHECK(sc[k] == wsc[k]);
    /* pre-NMS top 2 (a0, a1 after a3's drop) leaves a0 alone after NMS */
    o.pre_nms_top_n = 2;
    CHECK_OK(dc_proposals(&o, 6, ANCH, SCORES, deltas, 100, 100, out, sc, &n));
    CHECK(n == 1 && out[0] == 10 && sc[0] == 0.9f);
    /* post-NMS top 2 */
    o.pre_nms_top_n = 0;
    o.post_nms_top_n = 2;
    CHECK_OK(dc_proposals(&o, 6, ANCH, SCORES, deltas, 100, 100, out, NULL, &n));
    CHECK(n == 2 && out[4] == 60);
    /* min_size 0 keeps a3 (now first by score); NMS 0.9 keeps a1 and a5 too */
    o = dc_proposal_opts_default(0);
    CHECK(o.pre_nms_top_n == 6000 && o.post_nms_top_n == 300);
    o.min_size = 0.0f;
    o.nms_thresh = 0.9f;
    CHECK_OK(dc_proposals(&o, 6, ANCH, SCORES, deltas, 100, 100, out, sc, &n));
    CHECK(n == 6 && sc[0] == 0.95f && sc[5] == 0.6f);
    /* the deltas are decoded (weights 1): dx = 0.25 moves a0 by a quarter of its width (and a1
     * now overlaps it by IoU .61 only, so it stays), dw = log 2 doubles a2's width about its
     * centre (75 +- 30, clipped to 100) */
    o = dc_proposal_opts_default(1);
    deltas[0] = 0.25f;
    deltas[8 + 2] = logf(2.0f);
    CHECK_OK(dc_proposals(&o, 6, ANCH, SCORES, deltas, 100, 100, out, sc, &n));
    CHECK(n >= 3);
    CHECK_NEAR(out[0], 20, 1e-4);
    CHECK_NEAR(out[2], 60, 1e-4);
    CHECK(out[4] == 12 && sc[1] == 0.8f);
    CHECK_NEAR(out[8], 45, 1e-4);
    CHECK_NEAR(out[10], 100, 1e-4);
    /* NaN scores and non-finite deltas are dropped, not propagated */
    float bad_s[6];
    memcpy(bad_s, SCORES, sizeof bad_s);
    bad_s[0] = NAN;
    memset(deltas, 0, sizeof deltas);
    deltas[8] = INFINITY;
    CHECK_OK(dc_proposals(&o, 6, ANCH, bad_s, deltas, 100, 100, out, sc, &n));
    for (int64_t k = 0; k < n; k++) CHECK(isfinite(out[4 * k]) && isfinite(sc[k]));
    CHECK(n == 3 && sc[0] == 0.8f); /* a1 takes a0's place; a5 takes a2's */
    CHECK_ERR(dc_proposals(&o, 6, ANCH, SCORES, deltas, 0, 100, out, sc, &n), DC_ERR_ARG);
    CHECK_ERR(dc_proposals(NULL, 6, ANCH, SCORES, deltas, 100, 100, out, sc, &n), DC_ERR_ARG);
}

static const float GT[8] = {0, 0, 10, 10, 50, 50, 70, 70};
static const int32_t GT_CLS[2] = {3, 5};
static const float PROP[7 * 4] = {
    0, 0, 10, 10,       /* p0 IoU 1    -> fg class 3 */
    0, 0, 10, 8,        /* p1 IoU .8   -> fg class 3 */
    0, 0, 10, 4,        /* p2 IoU .4   -> bg         */
    0, 0, 10, 0.5f,     /* p3 IoU .05  -> unused (bg with bg_lo 0) */
    50, 50, 70, 60,     /* p4 IoU .5   -> fg class 5 (>= 0.5) */
    50, 50, 70, 59.8f,  /* p5 IoU .49  -> bg         */
    200, 200, 210, 210, /* p6 IoU 0    -> unused (bg with bg_lo 0) */
};

static int same_box(const float *a, const float *b) { return memcmp(a, b, 4 * sizeof(float)) == 0; }

TEST(proposals_roi_sampler) {
    float rois[128 * 4], tg[128 * 4];
    int32_t lab[128], m[128];
    int64_t n = 0, nfg = 0;
    dc_rng r;
    dc_rng_seed(&r, 1);
    dc_roi_sampler_opts o = dc_roi_sampler_opts_default();
    CHECK(o.batch_size == 128 && o.fg_fraction == 0.25f && o.fg_thresh == 0.5f && o.bg_lo == 0.1f && o.add_gt);
    CHECK(o.coder.wx == 10 && o.coder.wy == 10 && o.coder.ww == 5 && o.coder.wh == 5);
    /* everything fits: 5 fg (p0, p1, p4, gt0, gt1) then 2 bg (p2, p5) */
    CHECK_OK(dc_roi_sample(&o, 7, PROP, 2, GT, GT_CLS, &r, rois, lab, tg, m, &n, &nfg));
    CHECK(n == 7 && nfg == 5);
    if (n == 7) {
        const int32_t wl[7] = {3, 3, 5, 3, 5, 0, 0}, wm[7] = {0, 0, 1, 0, 1, -1, -1};
        const float *wb[7] = {PROP, PROP + 4, PROP + 16, GT, GT + 4, PROP + 8, PROP + 20};
        for (int k = 0; k < 7; k++) CHECK(lab[k] == wl[k] && m[k] == wm[k] && same_box(rois + 4 * k, wb[k]));
        /* targets: p1 vs gt0: dy = 10 (5 - 4)/8, dh = 5 log(10/8); gt rows are exactly 0; bg 0 */
        CHECK_NEAR(tg[4 + 0], 0, 1e-6);
        CHECK_NEAR(tg[4 + 1], 1.25, 1e-5);
        CHECK_NEAR(tg[4 + 2], 0, 1e-6);
        CHECK_NEAR(tg[4 + 3], 5 * log(10.0 / 8.0), 1e-5);
        for (int k = 0; k < 4; k++) CHECK(tg[12 + k] == 0.0f && tg[20 + k] == 0.0f && tg[24 + k] == 0.0f);
    }
    /* bg_lo 0 (detectron's rule): p3 and p6 become background too */
    o.bg_lo = 0.0f;
    CHECK_OK(dc_roi_sample(&o, 7, PROP, 2, GT, GT_CLS, &r, rois, lab, tg, NULL, &n, &nfg));
    CHECK(n == 9 && nfg == 5);
    /* without the gt boxes: 3 fg */
    o.add_gt = 0;
    o.bg_lo = 0.1f;
    CHECK_OK(dc_roi_sample(&o, 7, PROP, 2, GT, GT_CLS, &r, rois, lab, tg, NULL, &n, &nfg));
    CHECK(n == 5 && nfg == 3);
    /* the 25% cap: batch 8 takes 2 of the 5 fg, then 2 bg (all there are); seeded */
    o = dc_roi_sampler_opts_default();
    o.batch_size = 8;
    int differs = 0;
    float first[4 * 4];
    for (uint64_t seed = 1; seed <= 12; seed++) {
        dc_rng_seed(&r, seed);
        CHECK_OK(dc_roi_sample(&o, 7, PROP, 2, GT, GT_CLS, &r, rois, lab, tg, m, &n, &nfg));
        CHECK(n == 4 && nfg == 2);
        CHECK(lab[0] > 0 && lab[1] > 0 && lab[2] == 0 && lab[3] == 0);
        for (int k = 0; k < 2; k++) CHECK(m[k] >= 0 && lab[k] == GT_CLS[m[k]]);
        if (seed == 1) memcpy(first, rois, sizeof first);
        else differs |= memcmp(first, rois, sizeof first) != 0;
        dc_rng r2;
        dc_rng_seed(&r2, seed);
        float again[4 * 4];
        int32_t l2[4];
        float t2[16];
        CHECK_OK(dc_roi_sample(&o, 7, PROP, 2, GT, GT_CLS, &r2, again, l2, t2, NULL, &n, NULL));
        CHECK(memcmp(again, rois, sizeof again) == 0); /* same seed, same sample */
    }
    CHECK(differs); /* and other seeds draw other foreground RoIs */
    /* no ground truth: IoU 0 everywhere, below bg_lo 0.1 -> nothing to sample */
    CHECK_OK(dc_roi_sample(&o, 7, PROP, 0, NULL, NULL, &r, rois, lab, tg, NULL, &n, &nfg));
    CHECK(n == 0 && nfg == 0);
    /* errors: class 0 is background, empty gt box, bad options */
    const int32_t cls0[2] = {0, 5};
    CHECK_ERR(dc_roi_sample(&o, 7, PROP, 2, GT, cls0, &r, rois, lab, tg, NULL, &n, NULL), DC_ERR_ARG);
    const float empty[8] = {0, 0, 0, 10, 50, 50, 70, 70};
    CHECK_ERR(dc_roi_sample(&o, 7, PROP, 2, empty, GT_CLS, &r, rois, lab, tg, NULL, &n, NULL), DC_ERR_ARG);
    o.batch_size = 0;
    CHECK_ERR(dc_roi_sample(&o, 7, PROP, 2, GT, GT_CLS, &r, rois, lab, tg, NULL, &n, NULL), DC_ERR_ARG);
}
