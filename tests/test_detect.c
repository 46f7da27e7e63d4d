/* test_detect.c — box machinery (IoU, NMS, box coding, anchors, anchor labelling, sampling,
 * smooth L1), COCO masks (RLE codec, polygons, mask IoU), the COCO loader's error cases and the
 * COCO-style evaluator on hand-made detections whose AP is known exactly. */
#include "test.h"
#include "data/coco.h"
#include "detect/boxes.h"
#include "detect/cocoeval.h"
#include "detect/detconfusion.h"
#include "kernels/boxes.h"

#include <stdlib.h>
#include <string.h>

static void random_boxes(dc_rng *r, int64_t n, float *b, float extent) {
    for (int64_t i = 0; i < n; i++) {
        float x = dc_rng_uniform(r) * extent, y = dc_rng_uniform(r) * extent;
        float w = 1.0f + dc_rng_uniform(r) * extent * 0.4f, h = 1.0f + dc_rng_uniform(r) * extent * 0.4f;
        b[4 * i] = x;
        b[4 * i + 1] = y;
        b[4 * i + 2] = x + w;
        b[4 * i + 3] = y + h;
    }
}

static double iou_ref(const float *a, const float *b) {
    double ix = fmin(a[2], b[2]) - fmax(a[0], b[0]), iy = fmin(a[3], b[3]) - fmax(a[1], b[1]);
    if (ix <= 0 || iy <= 0) return 0.0;
    double i = ix * iy, ua = ((double)a[2] - a[0]) * ((double)a[3] - a[1]), ub = ((double)b[2] - b[0]) * ((double)b[3] - b[1]);
    return i / (ua + ub - i);
}

TEST(box_iou_matrix_matches_brute_force) {
    dc_rng r;
    dc_rng_seed(&r, 11);
    enum { N = 37, M = 23 };
    float a[4 * N], b[4 * M], iou[N * M];
    random_boxes(&r, N, a, 50);
    random_boxes(&r, M, b, 50);
    dc_boxes_iou(N, a, M, b, iou);
    int overlapping = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < M; j++) {
            CHECK_NEAR(iou[i * M + j], iou_ref(a + 4 * i, b + 4 * j), 1e-6);
            CHECK_NEAR(iou[i * M + j], dc_box_iou1(b + 4 * j, a + 4 * i), 0);
            overlapping += iou[i * M + j] > 0;
        }
    CHECK(overlapping > 20);
    CHECK_NEAR(dc_box_iou1(a, a), 1.0, 1e-7);
    float p[4] = {0, 0, 10, 10}, q[4] = {5, 0, 15, 10}, e[4] = {3, 3, 3, 8};
    CHECK_NEAR(dc_box_iou1(p, q), 50.0 / 150.0, 1e-7);
    CHECK(dc_box_iou1(p, e) == 0.0f); /* empty box */
    float xywh[4] = {1, 2, 3, 4}, xyxy[4], back[4];
    dc_boxes_xywh_to_xyxy(1, xywh, xyxy);
    CHECK(xyxy[2] == 4 && xyxy[3] == 6);
    dc_boxes_xyxy_to_xywh(1, xyxy, back);
    CHECK(memcmp(back, xywh, sizeof back) == 0);
}

/* Brute-force NMS: repeatedly take the best remaining box (score, then lower index), keep it and
 * drop the remaining boxes of its class that overlap it by more than thr. */
static int64_t nms_brute(int64_t n, const float *boxes, const float *scores, const int32_t *cls, float thr,
                         int64_t *keep) {
    uint8_t *alive = malloc((size_t)n);
    for (int64_t i = 0; i < n; i++) alive[i] = 1;
    int64_t k = 0;
    for (;;) {
        int64_t best = -1;
        for (int64_t i = 0; i < n; i++)
            if (alive[i] && (best < 0 || scores[i] > scores[best])) best = i;
        if (best < 0) break;
        keep[k++] = best;
        alive[best] = 0;
        for (int64_t i = 0; i < n; i++)
            if (alive[i] && (!cls || cls[i] == cls[best]) && dc_box_iou1(boxes + 4 * best, boxes + 4 * i) > thr) alive[i] = 0;
    }
    free(alive);
    return k;
}

/* The column NMS kernel against the plain one, keep mask for keep mask: boxes on a coarse grid (so
 * IoUs hit the threshold exactly), duplicates, empty and inverted boxes, one class or three,
 * thresholds 0, 0.5, 0.7, 1 and negative ones (where a non-overlapping pair also suppresses), counts
 * that are not multiples of 8, with and without an early stop. */
TEST(nms_column_kernel_matches_reference) {
    dc_rng r;
    dc_rng_seed(&r, 12);
    const float thr[] = {0.5f, 0.7f, 0.0f, 1.0f, -0.1f, 0.3f};
    const int64_t counts[] = {1, 2, 7, 9, 31, 64, 301};
    int64_t cases = 0, differ = 0;
    for (int t = 0; t < 6; t++)
        for (int k = 0; k < 7; k++) {
            const int64_t n = counts[k];
            float *b = malloc((size_t)n * 4 * sizeof(float)), *scratch = malloc((size_t)dc_nms_scratch_floats(n) * 4);
            int32_t *cls = malloc((size_t)n * sizeof(int32_t));
            uint8_t *got = malloc((size_t)n), *want = malloc((size_t)n);
            for (int64_t i = 0; i < n; i++) {
                float x = (float)dc_rng_below(&r, 8) * 4.0f, y = (float)dc_rng_below(&r, 8) * 4.0f;
                float w = (float)dc_rng_below(&r, 5) * 4.0f, h = (float)dc_rng_below(&r, 5) * 4.0f; /* 0: empty */
                if (i % 13 == 5) w = -4.0f; /* inverted */
                b[4 * i] = x, b[4 * i + 1] = y, b[4 * i + 2] = x + w, b[4 * i + 3] = y + h;
                if (i % 7 == 3 && i > 0) memcpy(b + 4 * i, b + 4 * (i - 1), 4 * sizeof(float)); /* duplicate */
                cls[i] = (int32_t)dc_rng_below(&r, 3);
            }
            for (int with_cls = 0; with_cls < 2; with_cls++)
                for (int64_t max_keep = 0; max_keep <= 4; max_keep += 4) {
                    const int32_t *c = with_cls ? cls : NULL;
                    memset(got, 7, (size_t)n);
                    dc_nms_sorted_ref(n, b, c, thr[t], max_keep, want);
                    dc_nms_sorted(n, b, c, thr[t], max_keep, got, scratch);
                    cases++;
                    if (memcmp(got, want, (size_t)n) != 0) {
                        differ++;
                        CHECK_MSG(0, "threshold %g, %lld boxes, classes %d, max_keep %lld: keep masks differ",
                                  (double)thr[t], (long long)n, with_cls, (long long)max_keep);
                    }
                }
            free(b);
            free(scratch);
            free(cls);
            free(got);
            free(want);
        }
    CHECK(cases == 6 * 7 * 4 && differ == 0);
}

TEST(nms_matches_brute_force_with_ties_and_classes) {
    dc_rng r;
    dc_rng_seed(&r, 5);
    enum { N = 300 };
    float boxes[4 * N], scores[N];
    int32_t cls[N];
    int64_t keep[N], ref[N];
    for (int trial = 0; trial < 6; trial++) {
        random_boxes(&r, N, boxes, 60);
        for (int i = 0; i < N; i++) {
            scores[i] = (float)dc_rng_below(&r, 20) / 20.0f; /* many ties */
            cls[i] = (int32_t)dc_rng_below(&r, 3);
        }
        float thr = trial % 2 ? 0.3f : 0.6f;
        const int32_t *c = trial < 3 ? NULL : cls;
        int64_t nk;
        CHECK_OK(dc_nms(N, boxes, scores, c, thr, 0, keep, &nk));
        int64_t nr = nms_brute(N, boxes, scores, c, thr, ref);
        CHECK(nk == nr);
        CHECK(nk > 10 && nk < N);
        for (int64_t i = 0; i < nk && i < nr; i++) CHECK_MSG(keep[i] == ref[i], "trial %d, kept #%lld: %lld vs %lld", trial, (long long)i, (long long)keep[i], (long long)ref[i]);
        /* no two kept boxes of a class overlap more than the threshold */
        for (int64_t i = 0; i < nk; i++)
            for (int64_t j = i + 1; j < nk; j++)
                if (!c || c[keep[i]] == c[keep[j]]) CHECK(dc_box_iou1(boxes + 4 * keep[i], boxes + 4 * keep[j]) <= thr);
        int64_t nk2;
        CHECK_OK(dc_nms(N, boxes, scores, c, thr, 5, keep, &nk2));
        CHECK(nk2 == 5); /* the early stop at max_keep gives the full pass's first five */
        for (int q = 0; q < 5 && q < nk2; q++) CHECK(keep[q] == ref[q]);
    }
    scores[7] = NAN;
    int64_t nk;
    CHECK_ERR(dc_nms(N, boxes, scores, NULL, 0.5f, 0, keep, &nk), DC_ERR_NUMERIC);
    CHECK_OK(dc_nms(0, NULL, NULL, NULL, 0.5f, 0, NULL, &nk));
    CHECK(nk == 0);
}

TEST(box_coder_round_trip_and_clamp) {
    dc_rng r;
    dc_rng_seed(&r, 3);
    enum { N = 200 };
    float anchors[4 * N], gt[4 * N], d[4 * N], back[4 * N];
    random_boxes(&r, N, anchors, 100);
    random_boxes(&r, N, gt, 100);
    dc_box_coder c = dc_box_coder_default();
    CHECK(c.wx == 10 && c.wy == 10 && c.ww == 5 && c.wh == 5);
    CHECK_NEAR(c.clamp, log(1000.0 / 16.0), 1e-6);
    dc_box_encode(&c, N, anchors, gt, d);
    dc_box_decode(&c, N, anchors, d, back);
    for (int i = 0; i < 4 * N; i++) CHECK_NEAR(back[i], gt[i], 2e-3 * (1 + fabs(gt[i])));
    /* a hand-computed case: anchor [0,0,10,20] (centre 5,10), box [2,4,22,14] (centre 12,9, 20x10) */
    float a1[4] = {0, 0, 10, 20}, g1[4] = {2, 4, 22, 14}, d1[4];
    dc_box_encode(&c, 1, a1, g1, d1);
    CHECK_NEAR(d1[0], 10 * 7.0 / 10, 1e-5);
    CHECK_NEAR(d1[1], 10 * -1.0 / 20, 1e-5);
    CHECK_NEAR(d1[2], 5 * log(2.0), 1e-5);
    CHECK_NEAR(d1[3], 5 * log(0.5), 1e-5);
    /* huge dw/dh are clamped before exp: finite, width = aw * 1000/16 */
    float big[4] = {0, 0, 1e4f, 1e4f}, out[4];
    dc_box_decode(&c, 1, a1, big, out);
    for (int k = 0; k < 4; k++) CHECK(isfinite(out[k]));
    CHECK_NEAR(out[2] - out[0], 10 * 1000.0 / 16, 0.01);
    float clipme[8] = {-5, 3, 50, 120, 10, -1, 20, 5};
    dc_boxes_clip(2, clipme, 100, 40);
    CHECK(clipme[0] == 0 && clipme[1] == 3 && clipme[2] == 40 && clipme[3] == 100);
    CHECK(clipme[4] == 10 && clipme[5] == 0 && clipme[6] == 20 && clipme[7] == 5);
}

TEST(anchors_count_order_and_positions) {
    const float sizes[3] = {32, 64, 128}, ratios[3] = {0.5f, 1, 2};
    dc_anchor_spec s = {sizes, 3, ratios, 3, 16, 0};
    const int fh = 5, fw = 7;
    CHECK(dc_anchors_count(&s, fh, fw) == fh * fw * 9);
    float *a = malloc((size_t)fh * fw * 9 * 4 * sizeof *a);
    CHECK_OK(dc_anchors_generate(&s, fh, fw, a));
    for (int y = 0; y < fh; y++)
        for (int x = 0; x < fw; x++)
            for (int ri = 0; ri < 3; ri++)
                for (int si = 0; si < 3; si++) {
                    const float *b = a + 4 * (((y * fw + x) * 3 + ri) * 3 + si);
                    double w = b[2] - b[0], h = b[3] - b[1];
                    CHECK_NEAR(0.5 * (b[0] + b[2]), 16.0 * x, 1e-4);   /* centres at stride multiples */
                    CHECK_NEAR(0.5 * (b[1] + b[3]), 16.0 * y, 1e-4);
                    CHECK_NEAR(w * h, (double)sizes[si] * sizes[si], 1e-2); /* area = size^2 */
                    CHECK_NEAR(h / w, ratios[ri], 1e-5);                     /* ratio = h / w */
                }
    s.offset = 0.5f;
    CHECK_OK(dc_anchors_generate(&s, fh, fw, a));
    CHECK_NEAR(0.5 * (a[0] + a[2]), 8.0, 1e-5);
    free(a);
    s.stride = 0;
    float one[36];
    CHECK_ERR(dc_anchors_generate(&s, 1, 1, one), DC_ERR_ARG);
}

TEST(anchor_labelling_rules) {
    /* Image 100 x 100; ground truth A = [10,10,30,30], B = [60,60,90,80]. */
    const float gt[8] = {10, 10, 30, 30, 60, 60, 90, 80};
    const float anchors[] = {
        10, 10, 30, 30,    /* 0: IoU 1 with A                 -> fg          */
        10, 10, 30, 40,    /* 1: IoU 400/600 = 0.667 with A   -> ignore      */
        10, 10, 30, 38.5f, /* 2: IoU 400/570 = 0.7018         -> fg (>= 0.7) */
        20, 10, 40, 30,    /* 3: IoU 200/600 = 0.333          -> ignore      */
        25, 10, 45, 30,    /* 4: IoU 100/700 = 0.143          -> bg          */
        0, 50, 5, 55,      /* 5: no overlap                   -> bg          */
        60, 60, 90, 100,   /* 6: IoU 600/1200 = 0.5 with B: B's best (tied) -> fg by best match */
        60, 40, 90, 80,    /* 7: IoU 600/1200 = 0.5 with B: tied best       -> fg         */
        -10, 60, 20, 90,   /* 8: crosses the left border, no overlap                      */
        20, 20, 40, 40,    /* 9: IoU 100/700 with A                                       */
    };
    const int na = 10;
    int8_t lab[10];
    int32_t m[10];
    float mx[10];
    dc_anchor_match_opts o = dc_anchor_match_defaults();
    CHECK(o.fg_iou == 0.7f && o.bg_iou == 0.3f && o.best_match == 1 && o.border < 0);
    CHECK_OK(dc_anchors_label(na, anchors, 2, gt, 100, 100, &o, lab, m, mx));
    const int8_t want[10] = {1, -1, 1, -1, 0, 0, 1, 1, 0, 0};
    for (int i = 0; i < na; i++) CHECK_MSG(lab[i] == want[i], "anchor %d: label %d, expected %d (IoU %g)", i, lab[i], want[i], (double)mx[i]);
    CHECK(m[0] == 0 && m[6] == 1 && m[7] == 1 && m[5] == 0 /* no overlap anywhere: the first box */);
    /* without the best-match rule B has no foreground anchor */
    o.best_match = 0;
    CHECK_OK(dc_anchors_label(na, anchors, 2, gt, 100, 100, &o, lab, m, mx));
    CHECK(lab[6] == -1 && lab[7] == -1 && lab[0] == 1);
    /* exactly at the thresholds: >= 0.7 is fg, 0.3 is not bg */
    const float sq[4] = {0, 0, 10, 10}, a07[4] = {0, 0, 10, 7}, a03[4] = {0, 0, 10, 3};
    int8_t l1;
    o = dc_anchor_match_defaults();
    o.best_match = 0;
    CHECK_OK(dc_anchors_label(1, a07, 1, sq, 100, 100, &o, &l1, NULL, NULL));
    CHECK(l1 == 1);
    CHECK_OK(dc_anchors_label(1, a03, 1, sq, 100, 100, &o, &l1, NULL, NULL));
    CHECK(l1 == -1);
    /* border = 0: anchors reaching outside are ignored and do not take part in best matching */
    const float gt2[4] = {0, 0, 20, 20};
    const float an2[8] = {-2, -2, 20, 20, 5, 5, 25, 25}; /* 0: best overlap but crosses; 1: inside */
    int8_t l2[2];
    o = dc_anchor_match_defaults();
    o.border = 0;
    CHECK_OK(dc_anchors_label(2, an2, 1, gt2, 100, 100, &o, l2, NULL, NULL));
    CHECK(l2[0] == -1 && l2[1] == 1);
    o.border = -1;
    CHECK_OK(dc_anchors_label(2, an2, 1, gt2, 100, 100, &o, l2, NULL, NULL));
    CHECK(l2[0] == 1 && l2[1] == -1); /* IoU 400/484 = 0.83 fg; 225/575 = 0.39 ignore */
    /* no ground truth: every anchor is background */
    CHECK_OK(dc_anchors_label(na, anchors, 0, NULL, 100, 100, NULL, lab, m, NULL));
    for (int i = 0; i < na; i++) CHECK(lab[i] == 0 && m[i] == -1);
}

TEST(balanced_sampling_is_seeded_and_bounded) {
    enum { N = 2000 };
    int8_t base[N], a[N], b[N];
    for (int i = 0; i < N; i++) base[i] = i < 50 ? 1 : i < 1900 ? 0 : -1;
    dc_rng r1, r2;
    int64_t np, nn;
    memcpy(a, base, N);
    dc_rng_seed(&r1, 9);
    CHECK_OK(dc_sample_balanced(N, a, 256, 0.5f, &r1, &np, &nn));
    CHECK(np == 50 && nn == 206);
    int cp = 0, cn = 0;
    for (int i = 0; i < N; i++) {
        cp += a[i] == 1;
        cn += a[i] == 0;
        if (a[i] != -1) CHECK(a[i] == base[i]);
    }
    CHECK(cp == 50 && cn == 206);
    memcpy(b, base, N);
    dc_rng_seed(&r2, 9);
    CHECK_OK(dc_sample_balanced(N, b, 256, 0.5f, &r2, NULL, NULL));
    CHECK(memcmp(a, b, N) == 0);
    memcpy(b, base, N);
    dc_rng_seed(&r2, 10);
    CHECK_OK(dc_sample_balanced(N, b, 256, 0.5f, &r2, NULL, NULL));
    CHECK(memcmp(a, b, N) != 0);
    for (int i = 0; i < N; i++) base[i] = i < 400 ? 1 : 0;
    memcpy(a, base, N);
    CHECK_OK(dc_sample_balanced(N, a, 256, 0.5f, &r1, &np, &nn));
    CHECK(np == 128 && nn == 128);
    CHECK_ERR(dc_sample_balanced(N, a, 256, 1.5f, &r1, &np, &nn), DC_ERR_ARG);
}

TEST(smooth_l1_values_and_gradient) {
    const float beta = 0.5f;
    const float x[6] = {0.1f, -0.2f, 1.3f, -2.0f, 0.45f, 3.0f}, t[6] = {0.0f, 0.1f, 0.2f, 0.5f, -0.3f, 3.0f};
    const float w[6] = {1, 2, 0.5f, 1, 1, 1};
    /* by hand: d = 0.1, -0.3, 1.1, -2.5, 0.75, 0 */
    double want = 0.5 * 0.01 / 0.5 + 2 * (0.5 * 0.09 / 0.5) + 0.5 * (1.1 - 0.25) + (2.5 - 0.25) + (0.75 - 0.25) + 0;
    CHECK_NEAR(dc_smooth_l1_forward(6, x, t, w, beta), want, 1e-6);
    CHECK_NEAR(dc_smooth_l1_forward(1, &x[3], &t[3], NULL, 0.0f), 2.5, 1e-6); /* beta 0: L1 */
    /* finite differences in double on the float kernel, away from the kinks at |d| = beta */
    float xs[6], dx[6] = {0};
    memcpy(xs, x, sizeof xs);
    dc_smooth_l1_backward(6, xs, t, w, beta, 1.0f, dx);
    int nonzero = 0;
    for (int i = 0; i < 6; i++) {
        const float h = 1e-3f;
        float keep = xs[i];
        xs[i] = keep + h;
        double lp = dc_smooth_l1_forward(6, xs, t, w, beta);
        xs[i] = keep - h;
        double lm = dc_smooth_l1_forward(6, xs, t, w, beta);
        xs[i] = keep;
        double num = (lp - lm) / (2.0 * h);
        CHECK_NEAR(dx[i], num, 2e-3 * (1 + fabs(num)));
        nonzero += dx[i] != 0;
    }
    CHECK(nonzero == 5); /* d = 0 has zero gradient */
    /* accumulation and scale */
    dc_smooth_l1_backward(6, xs, t, w, beta, 2.0f, dx);
    CHECK_NEAR(dx[3], 3.0 * -1.0, 1e-6);
}

/* ------------------------------------------------------------------ RLE */
static void random_mask(dc_rng *r, int h, int w, uint8_t *m) {
    memset(m, 0, (size_t)h * w);
    int blobs = 1 + (int)dc_rng_below(r, 4);
    for (int b = 0; b < blobs; b++) {
        float cx = dc_rng_uniform(r) * w, cy = dc_rng_uniform(r) * h, rad = 1 + dc_rng_uniform(r) * w / 3;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                if ((x - cx) * (x - cx) + (y - cy) * (y - cy) < rad * rad) m[y * w + x] = 1;
    }
}

TEST(rle_round_trip_string_area_bbox) {
    dc_rng r;
    dc_rng_seed(&r, 21);
    enum { H = 37, W = 53 };
    uint8_t m[H * W], back[H * W];
    for (int trial = 0; trial < 40; trial++) {
        random_mask(&r, H, W, m);
        if (trial == 0) memset(m, 0, sizeof m);
        if (trial == 1) memset(m, 1, sizeof m);
        if (trial == 2) m[0] = 1; /* starts inside: counts[0] = 0 */
        dc_rle e, s;
        CHECK_OK(dc_rle_encode(m, H, W, &e));
        memset(back, 7, sizeof back);
        dc_rle_decode(&e, back);
        CHECK(memcmp(m, back, sizeof m) == 0);
        uint64_t area = 0;
        int x0 = W, y0 = H, x1 = -1, y1 = -1;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                if (m[y * W + x]) {
                    area++;
                    if (x < x0) x0 = x;
                    if (x > x1) x1 = x;
                    if (y < y0) y0 = y;
                    if (y > y1) y1 = y;
                }
        CHECK(dc_rle_area(&e) == area);
        double bb[4];
        dc_rle_bbox(&e, bb);
        if (area) CHECK(bb[0] == x0 && bb[1] == y0 && bb[2] == x1 - x0 + 1 && bb[3] == y1 - y0 + 1);
        else CHECK(bb[2] == 0 && bb[3] == 0);
        char *str;
        CHECK_OK(dc_rle_to_string(&e, &str));
        CHECK_OK(dc_rle_from_string(str, strlen(str), H, W, &s));
        CHECK(s.m == e.m && memcmp(s.cnts, e.cnts, (size_t)e.m * 4) == 0);
        free(str);
        dc_rle_free(&s);
        dc_rle_free(&e);
    }
    /* strings worked out by hand from COCO's rule */
    const uint32_t c1[3] = {3, 2, 5}, c2[4] = {10, 2, 5, 1}, c3[2] = {0, 100};
    struct { const uint32_t *c; int m, h, w; const char *s; } cases[] = {
        {c1, 3, 2, 5, "325"}, {c2, 4, 3, 6, ":25O"}, {c3, 2, 10, 10, "0T3"}};
    for (int i = 0; i < 3; i++) {
        dc_rle e, s;
        char *str;
        CHECK_OK(dc_rle_from_counts(cases[i].c, cases[i].m, cases[i].h, cases[i].w, &e));
        CHECK_OK(dc_rle_to_string(&e, &str));
        CHECK_MSG(!strcmp(str, cases[i].s), "case %d: '%s', expected '%s'", i, str, cases[i].s);
        CHECK_OK(dc_rle_from_string(cases[i].s, strlen(cases[i].s), cases[i].h, cases[i].w, &s));
        CHECK(s.m == cases[i].m && !memcmp(s.cnts, cases[i].c, (size_t)s.m * 4));
        free(str);
        dc_rle_free(&e);
        dc_rle_free(&s);
    }
    dc_rle bad;
    CHECK_ERR(dc_rle_from_string("325", 3, 3, 5, &bad), DC_ERR_FORMAT);  /* adds up to 10, not 15 */
    CHECK_ERR(dc_rle_from_string("3~5", 3, 2, 5, &bad), DC_ERR_FORMAT);  /* '~' is not a code     */
    CHECK_ERR(dc_rle_from_string("3h", 2, 2, 5, &bad), DC_ERR_FORMAT);   /* cut off (continuation) */
    CHECK_ERR(dc_rle_from_counts(c1, 3, 3, 3, &bad), DC_ERR_FORMAT);
}

TEST(rle_polygon_merge_and_mask_iou) {
    /* an integer rectangle as a polygon covers exactly its pixels */
    const double rect[8] = {2, 3, 7, 3, 7, 6, 2, 6};
    dc_rle p, q, u, i;
    CHECK_OK(dc_rle_from_polygon(rect, 4, 10, 12, &p));
    CHECK(dc_rle_area(&p) == 15);
    double bb[4];
    dc_rle_bbox(&p, bb);
    CHECK(bb[0] == 2 && bb[1] == 3 && bb[2] == 5 && bb[3] == 3);
    /* a triangle: area close to the geometric 0.5 * 8 * 8 = 32 */
    const double tri[6] = {1, 1, 9, 1, 1, 9};
    CHECK_OK(dc_rle_from_polygon(tri, 3, 10, 12, &q));
    CHECK(dc_rle_area(&q) >= 28 && dc_rle_area(&q) <= 40);
    CHECK_OK(dc_rle_merge(&p, &q, 0, &u));
    CHECK_OK(dc_rle_merge(&p, &q, 1, &i));
    CHECK(dc_rle_area(&u) + dc_rle_area(&i) == dc_rle_area(&p) + dc_rle_area(&q));
    CHECK(dc_rle_area(&i) == dc_rle_intersection(&p, &q));
    /* mask IoU against brute force on decoded masks, and the crowd rule */
    uint8_t mp[120], mq[120];
    dc_rle_decode(&p, mp);
    dc_rle_decode(&q, mq);
    int inter = 0, uni = 0, aq = 0;
    for (int k = 0; k < 120; k++) {
        inter += mp[k] && mq[k];
        uni += mp[k] || mq[k];
        aq += mq[k];
    }
    CHECK(inter > 0);
    CHECK_NEAR(dc_mask_iou(&q, &p, 0), (double)inter / uni, 1e-12);
    CHECK_NEAR(dc_mask_iou(&q, &p, 1), (double)inter / aq, 1e-12);
    CHECK_NEAR(dc_mask_iou(&p, &p, 0), 1.0, 0);
    dc_rle_free(&p);
    dc_rle_free(&q);
    dc_rle_free(&u);
    dc_rle_free(&i);
    const double two[4] = {1, 1, 2, 2};
    CHECK_ERR(dc_rle_from_polygon(two, 2, 10, 10, &p), DC_ERR_FORMAT);
    /* COCO box IoU and its crowd rule */
    const double d[4] = {0, 0, 10, 10}, g[4] = {5, 0, 10, 10}, big[4] = {-5, -5, 40, 40};
    CHECK_NEAR(dc_coco_box_iou(d, g, 0), 50.0 / 150.0, 1e-15);
    CHECK_NEAR(dc_coco_box_iou(d, g, 1), 0.5, 1e-15);
    CHECK_NEAR(dc_coco_box_iou(d, big, 1), 1.0, 1e-15);
}

/* ------------------------------------------------------------------ loader */
static const char *write_tmp(const char *name, const char *text) {
    static char path[4][512];
    static int k;
    char *p = path[k++ % 4];
    snprintf(p, 512, "%s/%s", dc_test_tmp_dir(), name);
    FILE *f = fopen(p, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return p;
}

#define GT_HEAD \
    "{\"images\": [{\"id\": 5, \"file_name\": \"a.png\", \"width\": 20, \"height\": 10}," \
    "              {\"id\": 2, \"file_name\": \"b.png\", \"width\": 20, \"height\": 10}]," \
    " \"categories\": [{\"id\": 100, \"name\": \"z\"}, {\"id\": 7, \"name\": \"x\"}, {\"id\": 3, \"name\": \"y\"}],"

TEST(coco_loader_reads_all_forms) {
    const char *text = GT_HEAD
        " \"annotations\": ["
        "  {\"id\": 1, \"image_id\": 5, \"category_id\": 7, \"bbox\": [1, 2, 3, 4], \"area\": 12, \"iscrowd\": 0,"
        "   \"segmentation\": [[1, 2, 4, 2, 4, 6, 1, 6]]},"
        "  {\"id\": 2, \"image_id\": 2, \"category_id\": 100, \"bbox\": [0, 0, 2, 2], \"iscrowd\": 1,"
        "   \"segmentation\": {\"size\": [10, 20], \"counts\": [0, 2, 8, 2, 188]}},"
        "  {\"id\": 3, \"image_id\": 5, \"category_id\": 3, \"bbox\": [0.5, 0, 2, 2.5],"
        "   \"segmentation\": {\"size\": [10, 20], \"counts\": \"0T3T3\"}},"
        "  {\"id\": 4, \"image_id\": 5, \"category_id\": 3, \"bbox\": [0, 0, 1, 1]}]}";
    dc_coco *c = NULL;
    CHECK_OK(dc_coco_load(write_tmp("ok.json", text), NULL, &c));
    if (!c) return;
    CHECK(c->n_images == 2 && c->n_categories == 3 && c->n_anns == 4);
    CHECK(c->categories[0].id == 3 && c->categories[1].id == 7 && c->categories[2].id == 100);
    CHECK(!strcmp(c->categories[2].name, "z") && !strcmp(c->categories[2].supercategory, ""));
    CHECK(dc_coco_find_category(c, 7) == 1 && dc_coco_find_category(c, 8) == -1);
    CHECK(dc_coco_find_image(c, 2) == 1 && dc_coco_find_image(c, 5) == 0 && dc_coco_find_image(c, 6) == -1);
    /* grouped by image: image id 5 (index 0) owns annotations 1, 3, 4 in file order */
    const dc_coco_image *a = &c->images[0], *b = &c->images[1];
    CHECK(a->ann_first == 0 && a->ann_count == 3 && b->ann_first == 3 && b->ann_count == 1);
    CHECK(c->anns[0].id == 1 && c->anns[1].id == 3 && c->anns[2].id == 4 && c->anns[3].id == 2);
    CHECK(c->anns[0].category == 1 && c->anns[0].has_mask && dc_rle_area(&c->anns[0].mask) == 12);
    CHECK(c->anns[0].area == 12 && c->anns[0].has_area);
    CHECK(c->anns[3].iscrowd == 1 && dc_rle_area(&c->anns[3].mask) == 4 && c->anns[3].area == 4 && !c->anns[3].has_area);
    CHECK(c->anns[1].has_mask && dc_rle_area(&c->anns[1].mask) == 100 && c->anns[1].bbox[0] == 0.5);
    CHECK(!c->anns[2].has_mask && c->anns[2].area == 1);
    char p[1024];
    CHECK_OK(dc_coco_image_path(c, 1, p, sizeof p));
    CHECK(strstr(p, "/b.png") != NULL);
    dc_coco_free(c);
}

TEST(coco_loader_error_cases) {
    dc_coco *c = NULL;
    char missing[512];
    snprintf(missing, sizeof missing, "%s/no-such.json", dc_test_tmp_dir());
    CHECK_ERR(dc_coco_load(missing, NULL, &c), DC_ERR_IO);
    CHECK(strstr(dc_last_error(), "no-such.json") != NULL);
    CHECK_ERR(dc_coco_load(write_tmp("trunc.json", GT_HEAD " \"annotations\": [{\"id\": 1, \"ima"), NULL, &c), DC_ERR_FORMAT);
    CHECK(strstr(dc_last_error(), "trunc.json") && strstr(dc_last_error(), "byte"));
    struct { const char *name, *ann, *expect; } bad[] = {
        {"bbox3.json", "{\"id\": 1, \"image_id\": 5, \"category_id\": 7, \"bbox\": [1, 2, 3]}", "annotations[1]: bbox: expected 4"},
        {"bboxneg.json", "{\"id\": 1, \"image_id\": 5, \"category_id\": 7, \"bbox\": [1, 2, -3, 4]}", "bbox[2]"},
        {"img.json", "{\"id\": 1, \"image_id\": 9, \"category_id\": 7, \"bbox\": [1, 2, 3, 4]}", "image_id 9"},
        {"cat.json", "{\"id\": 1, \"image_id\": 5, \"category_id\": 8, \"bbox\": [1, 2, 3, 4]}", "category_id 8"},
        {"dup.json", "{\"id\": 0, \"image_id\": 5, \"category_id\": 7, \"bbox\": [1, 2, 3, 4]}", "id 0 is used by annotations[0]"},
        {"rlesum.json", "{\"id\": 1, \"image_id\": 5, \"category_id\": 7, \"bbox\": [1, 2, 3, 4], \"segmentation\": {\"size\": [10, 20], \"counts\": [5, 5]}}", "add up to 10"},
        {"rlesize.json", "{\"id\": 1, \"image_id\": 5, \"category_id\": 7, \"bbox\": [1, 2, 3, 4], \"segmentation\": {\"size\": [20, 10], \"counts\": [200]}}", "differs from the image"},
        {"poly.json", "{\"id\": 1, \"image_id\": 5, \"category_id\": 7, \"bbox\": [1, 2, 3, 4], \"segmentation\": [[1, 2, 3]]}", "polygon 0"},
        {"noid.json", "{\"image_id\": 5, \"category_id\": 7, \"bbox\": [1, 2, 3, 4]}", "missing \"id\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[2048];
        snprintf(text, sizeof text, GT_HEAD " \"annotations\": [{\"id\": 0, \"image_id\": 2, \"category_id\": 3, \"bbox\": [0, 0, 1, 1]}, %s]}", bad[i].ann);
        c = NULL;
        CHECK_ERR(dc_coco_load(write_tmp(bad[i].name, text), NULL, &c), DC_ERR_FORMAT);
        CHECK_MSG(strstr(dc_last_error(), bad[i].expect) && strstr(dc_last_error(), bad[i].name), "%s: message '%s' lacks '%s'",
                  bad[i].name, dc_last_error(), bad[i].expect);
        CHECK(c == NULL);
    }
    CHECK_ERR(dc_coco_load(write_tmp("side.json", "{\"images\": [{\"id\": 1, \"file_name\": \"a\", \"width\": 100000, \"height\": 5}], \"categories\": []}"), NULL, &c), DC_ERR_FORMAT);
    CHECK(strstr(dc_last_error(), "images[0]") && strstr(dc_last_error(), "width"));
    CHECK_ERR(dc_coco_load(write_tmp("dupimg.json", "{\"images\": [{\"id\": 1, \"file_name\": \"a\", \"width\": 5, \"height\": 5}, {\"id\": 1, \"file_name\": \"b\", \"width\": 5, \"height\": 5}], \"categories\": []}"), NULL, &c), DC_ERR_FORMAT);
    CHECK(strstr(dc_last_error(), "images[1]") && strstr(dc_last_error(), "images[0]"));
    CHECK_ERR(dc_coco_load(write_tmp("list.json", "[1, 2]"), NULL, &c), DC_ERR_FORMAT);
    CHECK_ERR(dc_coco_load(write_tmp("nocat.json", "{\"images\": []}"), NULL, &c), DC_ERR_FORMAT);
}

/* ------------------------------------------------------------------ evaluator */
/* One image 100 x 100, categories 1 and 2, ground truth given as JSON annotations. */
static dc_coco *eval_gt(const char *name, const char *anns) {
    char text[4096];
    snprintf(text, sizeof text,
             "{\"images\": [{\"id\": 1, \"file_name\": \"a.png\", \"width\": 100, \"height\": 100},"
             "             {\"id\": 2, \"file_name\": \"b.png\", \"width\": 100, \"height\": 100}],"
             " \"categories\": [{\"id\": 1, \"name\": \"one\"}, {\"id\": 2, \"name\": \"two\"}],"
             " \"annotations\": [%s]}", anns);
    dc_coco *c = NULL;
    CHECK_OK(dc_coco_load(write_tmp(name, text), NULL, &c));
    return c;
}

static dc_detection det(int64_t img, int64_t cat, double x, double y, double w, double h, double score) {
    dc_detection d;
    memset(&d, 0, sizeof d);
    d.image_id = img;
    d.category_id = cat;
    d.bbox[0] = x;
    d.bbox[1] = y;
    d.bbox[2] = w;
    d.bbox[3] = h;
    d.score = score;
    return d;
}

TEST(cocoeval_perfect_detections_score_one) {
    dc_coco *gt = eval_gt("perfect.json",
                          "{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [10, 10, 20, 20], \"area\": 400},"
                          "{\"id\": 2, \"image_id\": 1, \"category_id\": 2, \"bbox\": [50, 50, 40, 30], \"area\": 1200},"
                          "{\"id\": 3, \"image_id\": 2, \"category_id\": 1, \"bbox\": [0, 0, 10, 10], \"area\": 100}");
    if (!gt) return;
    dc_detection d[3] = {det(1, 1, 10, 10, 20, 20, 0.9), det(1, 2, 50, 50, 40, 30, 0.8), det(2, 1, 0, 0, 10, 10, 0.7)};
    dc_cocoeval *e = NULL;
    CHECK_OK(dc_cocoeval_run(gt, d, 3, DC_IOU_BBOX, &e));
    if (!e) { dc_coco_free(gt); return; }
    CHECK_NEAR(e->stats[0], 1.0, 1e-12); /* AP    */
    CHECK_NEAR(e->stats[1], 1.0, 1e-12); /* AP50  */
    CHECK_NEAR(e->stats[2], 1.0, 1e-12); /* AP75  */
    CHECK_NEAR(e->stats[3], 1.0, 1e-12); /* small: areas 400, 100 */
    CHECK_NEAR(e->stats[4], 1.0, 1e-12); /* medium: 1200 */
    CHECK(e->stats[5] == -1.0);          /* no large ground truth */
    CHECK_NEAR(e->stats[8], 1.0, 1e-12); /* AR100 */
    CHECK_NEAR(e->stats[6], 1.0, 1e-12); /* AR1: one box per image and class */
    /* precision is tp / (tp + fp + 2^-52) as in COCOeval: 1 - 2^-52, not exactly 1 */
    CHECK_MSG(fabs(e->class_ap[0] - 1) < 1e-12 && fabs(e->class_ap[1] - 1) < 1e-12 && e->class_gt[0] == 2 && e->class_dt[0] == 2,
              "AP %g %g, gt %lld, dt %lld", e->class_ap[0], e->class_ap[1], (long long)e->class_gt[0], (long long)e->class_dt[0]);
    dc_cocoeval_free(e);
    /* results file round trip */
    char path[512];
    snprintf(path, sizeof path, "%s/res.json", dc_test_tmp_dir());
    CHECK_OK(dc_coco_results_write(path, d, 3));
    dc_detection *back = NULL;
    int64_t n = 0;
    CHECK_OK(dc_coco_results_load(path, gt, DC_IOU_BBOX, &back, &n));
    CHECK(n == 3 && back && back[2].image_id == 2 && back[1].category_id == 2 && back[1].bbox[2] == 40 && back[0].score == 0.9);
    dc_detections_free(back, n);
    dc_detection wrong = det(7, 1, 0, 0, 1, 1, 0.5);
    CHECK_OK(dc_coco_results_write(path, &wrong, 1));
    CHECK_ERR(dc_coco_results_load(path, gt, DC_IOU_BBOX, &back, &n), DC_ERR_FORMAT);
    CHECK(strstr(dc_last_error(), "image_id 7") != NULL);
    dc_coco_free(gt);
}

TEST(cocoeval_false_positive_between_true_positives) {
    /* Two ground-truth boxes; detections ranked TP (0.9), FP (0.8), TP (0.7).
     * recall 0.5, 0.5, 1; precision 1, 1/2, 2/3 -> made monotone 1, 2/3, 2/3.
     * 101-point interpolation: recall thresholds 0.00..0.50 (51 points) read precision 1, thresholds
     * 0.51..1.00 (50 points) read 2/3: AP = (51 + 50 * 2/3) / 101 at every IoU threshold. */
    dc_coco *gt = eval_gt("fp.json",
                          "{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [10, 10, 20, 20], \"area\": 400},"
                          "{\"id\": 2, \"image_id\": 2, \"category_id\": 1, \"bbox\": [40, 40, 20, 20], \"area\": 400}");
    if (!gt) return;
    dc_detection d[3] = {det(1, 1, 10, 10, 20, 20, 0.9), det(1, 1, 70, 70, 10, 10, 0.8), det(2, 1, 40, 40, 20, 20, 0.7)};
    dc_cocoeval *e = NULL;
    CHECK_OK(dc_cocoeval_run(gt, d, 3, DC_IOU_BBOX, &e));
    if (e) {
        double want = (51.0 + 50.0 * 2.0 / 3.0) / 101.0;
        CHECK_NEAR(e->stats[0], want, 1e-12);
        CHECK_NEAR(e->stats[1], want, 1e-12);
        CHECK_NEAR(e->class_ap[0], want, 1e-12);
        CHECK(e->class_ap[1] == -1.0); /* category 2 has no ground truth */
        CHECK_NEAR(dc_cocoeval_precision(e, 0, 50, 0, 0, 2), 1.0, 1e-15);
        CHECK_NEAR(dc_cocoeval_precision(e, 0, 51, 0, 0, 2), 2.0 / 3.0, 1e-15);
        CHECK_NEAR(e->stats[8], 1.0, 1e-12);
        CHECK_NEAR(e->stats[6], 1.0, 1e-12); /* AR1: the best box of each image is a TP */
        dc_cocoeval_free(e);
    }
    /* a detection matching at IoU 0.6 counts only for the thresholds 0.50 and 0.55: box
     * [40, 40, 20, 20] vs [40, 40, 20, 12] (IoU 240/400 = 0.6) */
    d[2] = det(2, 1, 40, 40, 20, 12, 0.7);
    CHECK_OK(dc_cocoeval_run(gt, d, 3, DC_IOU_BBOX, &e));
    if (e) {
        double ap_hi = 51.0 / 101.0; /* thresholds >= 0.6 (IoU 0.6 is not < 0.6): still matched at 0.60 */
        double want_t[10];
        for (int t = 0; t < 10; t++) want_t[t] = (t <= 2) ? (51.0 + 50.0 * 2.0 / 3.0) / 101.0 : ap_hi;
        double mean = 0;
        for (int t = 0; t < 10; t++) mean += want_t[t] / 10;
        CHECK_NEAR(e->stats[1], want_t[0], 1e-12);
        CHECK_NEAR(e->stats[2], ap_hi, 1e-12);
        CHECK_NEAR(e->stats[0], mean, 1e-12);
        dc_cocoeval_free(e);
    }
    dc_coco_free(gt);
}

TEST(cocoeval_ties_keep_file_order) {
    /* equal scores: the order of the results file decides; FP first halves the AP */
    dc_coco *gt = eval_gt("ties.json", "{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [10, 10, 20, 20], \"area\": 400}");
    if (!gt) return;
    dc_detection fp_first[2] = {det(1, 1, 60, 60, 20, 20, 0.5), det(1, 1, 10, 10, 20, 20, 0.5)};
    dc_detection tp_first[2] = {det(1, 1, 10, 10, 20, 20, 0.5), det(1, 1, 60, 60, 20, 20, 0.5)};
    dc_cocoeval *e = NULL;
    CHECK_OK(dc_cocoeval_run(gt, fp_first, 2, DC_IOU_BBOX, &e));
    if (e) CHECK_NEAR(e->stats[0], 0.5, 1e-12);
    dc_cocoeval_free(e);
    CHECK_OK(dc_cocoeval_run(gt, tp_first, 2, DC_IOU_BBOX, &e));
    if (e) CHECK_NEAR(e->stats[0], 1.0, 1e-12);
    dc_cocoeval_free(e);
    dc_coco_free(gt);
}

TEST(cocoeval_crowd_regions_are_ignored) {
    /* a normal box and a large crowd region; a detection inside the crowd region (IoU with it
     * 100/3600 in the usual sense, but 100/100 by the crowd rule) is ignored, not a false positive */
    const char *anns_crowd = "{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [0, 0, 20, 20], \"area\": 400},"
                             "{\"id\": 2, \"image_id\": 1, \"category_id\": 1, \"bbox\": [40, 40, 60, 60], \"area\": 3600, \"iscrowd\": 1}";
    dc_coco *gt = eval_gt("crowd.json", anns_crowd);
    if (!gt) return;
    dc_detection d[3] = {det(1, 1, 50, 50, 10, 10, 0.95), det(1, 1, 70, 70, 10, 10, 0.9), det(1, 1, 0, 0, 20, 20, 0.8)};
    dc_cocoeval *e = NULL;
    CHECK_OK(dc_cocoeval_run(gt, d, 3, DC_IOU_BBOX, &e));
    if (e) {
        CHECK_NEAR(e->stats[0], 1.0, 1e-12);
        CHECK(e->class_gt[0] == 1);
    }
    dc_cocoeval_free(e);
    dc_coco_free(gt);
    /* the same region without the crowd flag: both detections in it are false positives ranked
     * first, precision at recall 1 is 1/3 and stays so from the right */
    gt = eval_gt("nocrowd.json", "{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [0, 0, 20, 20], \"area\": 400}");
    if (!gt) return;
    CHECK_OK(dc_cocoeval_run(gt, d, 3, DC_IOU_BBOX, &e));
    if (e) CHECK_NEAR(e->stats[0], 1.0 / 3.0, 1e-12);
    dc_cocoeval_free(e);
    dc_coco_free(gt);
}

TEST(cocoeval_segm_uses_mask_iou) {
    /* ground truth: a 10 x 10 square mask; a detection with the right box but half the mask */
    dc_coco *gt = eval_gt("segm.json",
                          "{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [10, 10, 10, 10], \"area\": 100,"
                          " \"segmentation\": [[10, 10, 20, 10, 20, 20, 10, 20]]}");
    if (!gt) return;
    uint8_t *m = calloc(100 * 100, 1);
    for (int y = 10; y < 20; y++)
        for (int x = 10; x < 15; x++) m[y * 100 + x] = 1;
    dc_detection d = det(1, 1, 10, 10, 10, 10, 0.9);
    CHECK_OK(dc_rle_encode(m, 100, 100, &d.mask));
    d.has_mask = 1;
    dc_cocoeval *e = NULL;
    CHECK_OK(dc_cocoeval_run(gt, &d, 1, DC_IOU_BBOX, &e));
    if (e) CHECK_NEAR(e->stats[0], 1.0, 1e-12);
    dc_cocoeval_free(e);
    CHECK_OK(dc_cocoeval_run(gt, &d, 1, DC_IOU_SEGM, &e)); /* mask IoU 0.5: matched at 0.50 only */
    if (e) {
        CHECK_NEAR(e->stats[1], 1.0, 1e-12);
        CHECK_NEAR(e->stats[2], 0.0, 1e-12);
        CHECK_NEAR(e->stats[0], 0.1, 1e-12);
    }
    dc_cocoeval_free(e);
    /* masks through a results file (compressed RLE strings) */
    char path[512];
    snprintf(path, sizeof path, "%s/segm_res.json", dc_test_tmp_dir());
    CHECK_OK(dc_coco_results_write(path, &d, 1));
    dc_detection *back = NULL;
    int64_t n = 0;
    CHECK_OK(dc_coco_results_load(path, gt, DC_IOU_SEGM, &back, &n));
    CHECK(n == 1 && back && back[0].has_mask && dc_rle_area(&back[0].mask) == 50);
    dc_detections_free(back, n);
    dc_rle_free(&d.mask);
    free(m);
    /* segm without masks in the detections is an error */
    dc_detection plain = det(1, 1, 10, 10, 10, 10, 0.9);
    CHECK_ERR(dc_cocoeval_run(gt, &plain, 1, DC_IOU_SEGM, &e), DC_ERR_ARG);
    dc_coco_free(gt);
}

TEST(cocoeval_max_dets_and_area_ranges) {
    /* image 1: a small (area 100) and a medium (area 2500) box of category 1 */
    dc_coco *gt = eval_gt("areas.json",
                          "{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [0, 0, 10, 10], \"area\": 100},"
                          "{\"id\": 2, \"image_id\": 1, \"category_id\": 1, \"bbox\": [40, 40, 50, 50], \"area\": 2500}");
    if (!gt) return;
    /* the medium box is found with the higher score, the small one missed by a false positive */
    dc_detection d[2] = {det(1, 1, 40, 40, 50, 50, 0.9), det(1, 1, 20, 0, 10, 10, 0.8)};
    dc_cocoeval *e = NULL;
    CHECK_OK(dc_cocoeval_run(gt, d, 2, DC_IOU_BBOX, &e));
    if (e) {
        CHECK_NEAR(e->stats[4], 1.0, 1e-12);   /* APm: the FP is small, hence ignored for medium */
        CHECK_NEAR(e->stats[3], 0.0, 1e-12);   /* APs: only a FP */
        CHECK_NEAR(e->stats[6], 0.5, 1e-12);   /* AR1 */
        CHECK_NEAR(e->stats[8], 0.5, 1e-12);   /* AR100 */
        CHECK_NEAR(e->stats[0], 51.0 / 101.0, 1e-12);
    }
    dc_cocoeval_free(e);
    dc_coco_free(gt);
}

/* The confusion table of first choices on hand-made detections, every count known:
 *   gt 1 (image 1, category 1): found as "one" (0.9) and as "two" (0.6)  -> right;
 *   gt 2 (image 1, category 2): found as "one" (0.8), "two" (0.7)         -> taken for "one";
 *   gt 3 (image 2, category 1): only an IoU-0.36 box and a 0.01-score box -> not located;
 *   gt 4 (image 2, category 2): a tie at 0.5, "two" first in the file     -> right;
 *   gt 5 (image 2, crowd)                                                -> left out. */
TEST(detection_confusion_counts) {
    dc_coco *gt = eval_gt("confusion.json",
                          "{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [10, 10, 20, 20], \"area\": 400},"
                          "{\"id\": 2, \"image_id\": 1, \"category_id\": 2, \"bbox\": [50, 50, 40, 40], \"area\": 1600},"
                          "{\"id\": 3, \"image_id\": 2, \"category_id\": 1, \"bbox\": [0, 0, 10, 10], \"area\": 100},"
                          "{\"id\": 4, \"image_id\": 2, \"category_id\": 2, \"bbox\": [60, 0, 30, 30], \"area\": 900},"
                          "{\"id\": 5, \"image_id\": 2, \"category_id\": 1, \"bbox\": [0, 60, 30, 30], \"area\": 900, \"iscrowd\": 1}");
    if (!gt) return;
    dc_detection d[] = {det(1, 2, 10, 10, 20, 20, 0.6), det(1, 1, 10, 10, 20, 20, 0.9), det(1, 1, 50, 50, 40, 40, 0.8),
                        det(1, 2, 52, 52, 38, 38, 0.7), det(2, 1, 0, 0, 6, 6, 0.9),      det(2, 1, 0, 0, 10, 10, 0.01),
                        det(2, 2, 60, 0, 30, 30, 0.5),  det(2, 1, 60, 0, 30, 30, 0.5),   det(2, 1, 0, 60, 30, 30, 0.9)};
    dc_det_confusion c;
    CHECK_OK(dc_det_confusion_run(gt, d, 9, 0.5, 0.05, &c));
    if (!c.counts) { dc_coco_free(gt); return; }
    /* rows: category one (index 0), two (1); columns one, two, not located */
    const int64_t want[2][3] = {{1, 0, 1}, {1, 1, 0}};
    for (int g = 0; g < 2; g++)
        for (int p = 0; p < 3; p++)
            CHECK_MSG(c.counts[g * 3 + p] == want[g][p], "counts[%d][%d] = %lld, want %lld", g, p,
                      (long long)c.counts[g * 3 + p], (long long)want[g][p]);
    CHECK(c.total == 4 && c.located == 3 && c.right == 2 && c.small == 3 && c.small_located == 2 && c.small_right == 2);
    dc_det_confusion_free(&c);
    /* a lower minimum score makes the 0.01 box a candidate: gt 3 found, right */
    CHECK_OK(dc_det_confusion_run(gt, d, 9, 0.5, 0.0, &c));
    if (c.counts) CHECK(c.counts[0 * 3 + 0] == 2 && c.counts[0 * 3 + 2] == 0 && c.right == 3);
    dc_det_confusion_free(&c);
    CHECK_ERR(dc_det_confusion_run(gt, d, 9, 0.0, 0.05, &c), DC_ERR_ARG);
    CHECK_ERR(dc_det_confusion_run(gt, d, 9, 0.5, -1.0, &c), DC_ERR_ARG);
    dc_coco_free(gt);
}
