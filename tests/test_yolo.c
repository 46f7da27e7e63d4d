/* test_yolo.c — the YOLO v1 loss op: a hand-computed 1-cell / 2-box / 2-class value (IoU and
 * constant-1 confidence targets, padding rows, mean over the batch), the responsible-box rule,
 * a finite-difference gradient check, bad targets and layers; and the decoder: class-specific
 * scores, threshold and per-class NMS on a crafted 2x2 prediction. */
#include "detect/yolo.h"
#include "gradcheck.h"
#include "test.h"

#include <math.h>
#include <string.h>

typedef struct {
    dc_graph *g;
    dc_node pred, tgt, loss;
} yolo_net;

static void yolo_build_ce(yolo_net *m, int S, int B, int C, int max_obj, int conf_one, int ce, int64_t batch) {
    CHECK_OK(dc_graph_create(&m->g));
    m->pred = dc_input_grad(m->g, "pred", dc_shape1((int64_t)S * S * (5 * B + C)));
    m->tgt = dc_input(m->g, "targets", dc_shape2(max_obj, 5));
    dc_yolo_opts o = dc_yolo_opts_default(S, B, C);
    o.conf_target_one = conf_one;
    o.class_softmax_ce = ce;
    m->loss = dc_yolo_loss(m->g, m->pred, m->tgt, &o, "yolo");
    CHECK_OK(dc_graph_status(m->g));
    CHECK_OK(dc_graph_plan(m->g, batch, NULL));
}

static void yolo_build(yolo_net *m, int S, int B, int C, int max_obj, int conf_one, int64_t batch) {
    yolo_build_ce(m, S, B, C, max_obj, conf_one, 0, batch);
}

/* 1 cell, box 0 (.5, .5) size .25 x .25 (square roots .5, .5), conf .6; box 1 (.4, .6) size
 * .64 x .36 (square roots .8, .6), conf .3; classes (.7, .2); object class 0 at (.5, .5) size
 * .64 x .36. */
static const float PRED1[12] = {0.5f, 0.5f, 0.5f, 0.5f, 0.6f, 0.4f, 0.6f, 0.8f, 0.6f, 0.3f, 0.7f, 0.2f};
static const float OBJ1[5] = {0, 0.5f, 0.5f, 0.64f, 0.36f};

TEST(yolo_loss_hand_case) {
    /* gt box [.18, .32, .82, .68], area .2304.  box 0 [.375, .625]^2 lies inside: IoU .0625/.2304;
     * box 1 [.08, .42, .72, .78]: intersection .54 x .26 = .1404, IoU .1404/(.2304 + .2304 - .1404)
     * -> box 1 is responsible. */
    double iou1 = 0.1404 / (2 * 0.2304 - 0.1404);
    double coord = 5.0 * (0.1 * 0.1 + 0.1 * 0.1 + 0 + 0); /* sqrt .64 = .8, sqrt .36 = .6 exactly */
    double noobj = 0.5 * 0.6 * 0.6, cls = 0.3 * 0.3 + 0.2 * 0.2;
    for (int one = 0; one < 2; one++) {
        yolo_net m;
        yolo_build(&m, 1, 2, 2, 2, one, 2);
        float *p = dc_graph_data(m.g, m.pred), *t = dc_graph_data(m.g, m.tgt);
        memcpy(p, PRED1, sizeof PRED1);
        memcpy(p + 12, PRED1, sizeof PRED1);
        memcpy(t, OBJ1, sizeof OBJ1);
        for (int k = 5; k < 20; k++) t[k] = -1.0f; /* image 0: one padding row; image 1: only padding */
        CHECK_OK(dc_graph_forward(m.g, 1, 1));
        double conf = one ? 0.7 * 0.7 : (0.3 - iou1) * (0.3 - iou1);
        double l0 = coord + conf + noobj + cls;
        CHECK_NEAR(dc_graph_loss(m.g, m.loss), l0, 2e-6);
        /* batch 2: image 1 has no object, so both boxes are no-object: .5 (.6^2 + .3^2); mean */
        CHECK_OK(dc_graph_forward(m.g, 2, 1));
        CHECK_NEAR(dc_graph_loss(m.g, m.loss), (l0 + 0.5 * (0.36 + 0.09)) / 2, 2e-6);
        /* gradient of image 0 (batch 2 halves it): responsible box 1 gets the coordinate terms */
        dc_graph_zero_grad(m.g);
        CHECK_OK(dc_graph_backward(m.g, m.loss));
        const float *d = dc_graph_grad(m.g, m.pred);
        CHECK_NEAR(d[0], 0, 0);                          /* box 0: no coordinate gradient     */
        CHECK_NEAR(d[4], 0.5 * 2 * 0.5 * 0.6, 1e-6);     /* box 0: lambda_noobj conf^2        */
        CHECK_NEAR(d[5], 0.5 * 2 * 5 * (0.4 - 0.5), 1e-6);
        CHECK_NEAR(d[6], 0.5 * 2 * 5 * (0.6 - 0.5), 1e-6);
        CHECK_NEAR(d[7], 0, 1e-6);
        CHECK_NEAR(d[9], 0.5 * 2 * (0.3 - (one ? 1.0 : iou1)), 1e-6);
        CHECK_NEAR(d[10], 0.5 * 2 * (0.7 - 1.0), 1e-6);
        CHECK_NEAR(d[11], 0.5 * 2 * 0.2, 1e-6);
        CHECK_NEAR(d[12 + 9], 0.5 * 2 * 0.5 * 0.3, 1e-6); /* image 1: both boxes no-object   */
        CHECK_NEAR(d[12 + 10], 0, 0);                     /* and no class term                */
        dc_graph_free(m.g);
    }
}

TEST(yolo_loss_softmax_ce_class_term) {
    /* The same cell with the cross-entropy class term: logits (.7, .2), object class 0, so the
     * class term is log(e^.7 + e^.2) - .7 and its gradient softmax - one-hot; the other terms are
     * those of yolo_loss_hand_case (confidence target 1). */
    double coord = 5.0 * (0.1 * 0.1 + 0.1 * 0.1), noobj = 0.5 * 0.6 * 0.6, conf = 0.7 * 0.7;
    double ce = log(exp(0.7) + exp(0.2)) - 0.7, p0 = exp(0.7) / (exp(0.7) + exp(0.2));
    yolo_net m;
    yolo_build_ce(&m, 1, 2, 2, 2, 1, 1, 1);
    float *p = dc_graph_data(m.g, m.pred), *t = dc_graph_data(m.g, m.tgt);
    memcpy(p, PRED1, sizeof PRED1);
    memcpy(t, OBJ1, sizeof OBJ1);
    for (int k = 5; k < 10; k++) t[k] = -1.0f;
    CHECK_OK(dc_graph_forward(m.g, 1, 1));
    CHECK_NEAR(dc_graph_loss(m.g, m.loss), coord + conf + noobj + ce, 2e-6);
    dc_graph_zero_grad(m.g);
    CHECK_OK(dc_graph_backward(m.g, m.loss));
    const float *d = dc_graph_grad(m.g, m.pred);
    CHECK_NEAR(d[10], p0 - 1.0, 1e-6);
    CHECK_NEAR(d[11], 1.0 - p0, 1e-6);
    /* large logits do not overflow: the term stays finite and near the logit gap */
    p[10] = 1000.0f, p[11] = 1090.0f;
    CHECK_OK(dc_graph_forward(m.g, 1, 1));
    CHECK_NEAR(dc_graph_loss(m.g, m.loss), coord + conf + noobj + 90.0, 1e-3);
    dc_graph_free(m.g);
}

TEST(yolo_responsible_box) {
    yolo_net m;
    yolo_build(&m, 1, 2, 2, 1, 0, 1);
    float *p = dc_graph_data(m.g, m.pred), *t = dc_graph_data(m.g, m.tgt);
    memcpy(t, OBJ1, sizeof OBJ1);
    /* box 0 now matches the object exactly: IoU 1 beats box 1 */
    memcpy(p, PRED1, sizeof PRED1);
    p[2] = 0.8f, p[3] = 0.6f;
    CHECK_OK(dc_graph_forward(m.g, 1, 1));
    dc_graph_zero_grad(m.g);
    CHECK_OK(dc_graph_backward(m.g, m.loss));
    const float *d = dc_graph_grad(m.g, m.pred);
    CHECK_NEAR(d[4], 2 * (0.6 - 1.0), 1e-5);  /* responsible, target IoU 1 */
    CHECK_NEAR(d[9], 2 * 0.5 * 0.3, 1e-6);    /* the other: no-object      */
    CHECK(d[5] == 0.0f && d[6] == 0.0f);
    /* neither box overlaps (both far off in a 2x2 grid cell): the smaller coordinate error wins,
     * here box 1 (off by 0.9 in x only, box 0 by 0.9 in x and y) */
    dc_graph_free(m.g);
    yolo_build(&m, 2, 2, 2, 1, 0, 1);
    p = dc_graph_data(m.g, m.pred);
    t = dc_graph_data(m.g, m.tgt);
    const float obj[5] = {1, 0.05f, 0.05f, 0.02f, 0.02f}; /* cell (0, 0), x = y = 0.1 in the cell */
    memcpy(t, obj, sizeof obj);
    const float cell[12] = {1.0f, 1.0f, 0.02f, 0.02f, 0.5f, 1.0f, 0.1f, 0.02f, 0.02f, 0.5f, 0, 1};
    memcpy(p, cell, sizeof cell);
    CHECK_OK(dc_graph_forward(m.g, 1, 1));
    dc_graph_zero_grad(m.g);
    CHECK_OK(dc_graph_backward(m.g, m.loss));
    d = dc_graph_grad(m.g, m.pred);
    CHECK(d[0] == 0.0f && d[5] != 0.0f);
    CHECK_NEAR(d[9], 2 * (0.5 - 0.0), 1e-6); /* responsible with IoU 0 as target */
    dc_graph_free(m.g);
}

TEST(yolo_loss_gradcheck) {
    /* Confidence target 1: with the IoU target the value depends on the IoU (held constant in the
     * analytic gradient), which finite differences would see.
     * Both class terms: squares (the paper) and softmax cross-entropy. */
    for (int ce = 0; ce < 2; ce++) {
    const int S = 2, B = 2, C = 3, P = S * S * (5 * B + C);
    yolo_net m;
    yolo_build_ce(&m, S, B, C, 3, 1, ce, 2);
    dc_rng r;
    dc_rng_seed(&r, 21);
    float *p = dc_graph_data(m.g, m.pred), *t = dc_graph_data(m.g, m.tgt);
    for (int k = 0; k < 2 * P; k++) {
        int q = (k % (5 * B + C));
        int is_wh = q < 5 * B && (q % 5 == 2 || q % 5 == 3);
        p[k] = is_wh ? 0.1f + 0.6f * dc_rng_uniform(&r) : dc_rng_uniform(&r);
    }
    const float objs[2][15] = {{2, 0.3f, 0.2f, 0.4f, 0.3f, 0, 0.8f, 0.7f, 0.3f, 0.5f, -1, 0, 0, 0, 0},
                               {1, 0.6f, 0.4f, 0.5f, 0.5f, -1, 0, 0, 0, 0, 0, 0.1f, 0.9f, 0.2f, 0.1f}};
    memcpy(t, objs, sizeof objs);
    int bad = dc_gradcheck(m.g, m.loss, 2, &m.pred, 1, 1e-3f, 1e-2, 1e-4, 1000);
    CHECK_MSG(bad == 0, "class term %d: %d gradient mismatches", ce, bad);
    dc_graph_free(m.g);
    }
}

TEST(yolo_loss_errors) {
    yolo_net m;
    yolo_build(&m, 1, 2, 2, 1, 0, 1);
    float *p = dc_graph_data(m.g, m.pred), *t = dc_graph_data(m.g, m.tgt);
    memcpy(p, PRED1, sizeof PRED1);
    const float bad[][5] = {{2, 0.5f, 0.5f, 0.2f, 0.2f}, {0.5f, 0.5f, 0.5f, 0.2f, 0.2f}, {0, 1.5f, 0.5f, 0.2f, 0.2f},
                            {0, 0.5f, 0.5f, 0.0f, 0.2f}, {0, 0.5f, NAN, 0.2f, 0.2f}};
    for (int k = 0; k < 5; k++) {
        memcpy(t, bad[k], sizeof bad[k]);
        CHECK_ERR(dc_graph_forward(m.g, 1, 1), DC_ERR_ARG);
        CHECK(strstr(dc_last_error(), "'yolo'") && strstr(dc_last_error(), "object 0"));
    }
    dc_graph_free(m.g);
    dc_graph *g;
    CHECK_OK(dc_graph_create(&g));
    dc_node pr = dc_input(g, "pred", dc_shape1(13));
    dc_node tg = dc_input(g, "t", dc_shape2(4, 5));
    dc_yolo_opts o = dc_yolo_opts_default(1, 2, 2);
    CHECK(dc_yolo_loss(g, pr, tg, &o, "y") == DC_NONE);
    CHECK_ERR(dc_graph_status(g), DC_ERR_SHAPE);
    CHECK(strstr(dc_last_error(), "S*S*(B*5 + C)") != NULL);
    dc_graph_free(g);
    CHECK_OK(dc_graph_create(&g));
    pr = dc_input(g, "pred", dc_shape3(7, 7, 30));
    tg = dc_input(g, "t", dc_shape2(4, 4));
    o = dc_yolo_opts_default(7, 2, 20);
    CHECK(dc_yolo_loss(g, pr, tg, &o, "y") == DC_NONE);
    CHECK_ERR(dc_graph_status(g), DC_ERR_SHAPE);
    dc_graph_free(g);
    CHECK_OK(dc_graph_create(&g));
    pr = dc_input(g, "pred", dc_shape3(7, 7, 30));
    tg = dc_input(g, "t", dc_shape2(4, 5));
    o.lambda_noobj = -1;
    CHECK(dc_yolo_loss(g, pr, tg, &o, "y") == DC_NONE);
    CHECK_ERR(dc_graph_status(g), DC_ERR_ARG);
    dc_graph_free(g);
}

TEST(yolo_decode_nms) {
    /* 2x2 grid, 1 box, 2 classes, 100x100 image. */
    const float pred[4 * 7] = {
        /* sizes as square roots: .6324555 = sqrt .4, .4472136 = sqrt .2 */
        0.5f, 0.5f, 0.6324555f, 0.6324555f, 0.9f, 0.9f, 0.1f,   /* (0,0): [5, 5, 45, 45]; c0 .81, c1 .09 (< .2) */
        0.5f, 0.5f, 0.6324555f, 0.6324555f, 0.1f, 0.5f, 0.5f,   /* (0,1): .05 both: dropped                     */
        0.5f, -0.45f, 0.6324555f, 0.6324555f, 0.8f, 0.3f, 0.7f, /* (1,0): [5, 7.5, 45, 47.5], IoU .88 with
                                                                   (0,0): c0 .24 suppressed, c1 .56 kept      */
        0.5f, 0.5f, 0.4472136f, 0.4472136f, 0.5f, 0.1f, 0.9f,   /* (1,1): [65, 65, 85, 85]; c1 .45              */
    };
    dc_yolo_decode_opts o = dc_yolo_decode_opts_default(2, 1, 2, 100, 100);
    float boxes[8 * 4], scores[8];
    int32_t cls[8];
    int64_t n = 0;
    CHECK_OK(dc_yolo_decode(&o, pred, 8, boxes, scores, cls, &n));
    CHECK(n == 3);
    if (n == 3) {
        const float ws[3] = {0.81f, 0.56f, 0.45f};
        const int32_t wc[3] = {0, 1, 1};
        const float wb[12] = {5, 5, 45, 45, 5, 7.5f, 45, 47.5f, 65, 65, 85, 85};
        for (int k = 0; k < 3; k++) CHECK(cls[k] == wc[k]);
        for (int k = 0; k < 3; k++) CHECK_NEAR(scores[k], ws[k], 1e-6);
        for (int k = 0; k < 12; k++) CHECK_NEAR(boxes[k], wb[k], 1e-4);
    }
    /* class-agnostic suppression does not happen: a lower threshold admits c0 .24 of (1,0)? no,
     * it is suppressed by (0,0)'s c0 (same class) */
    o.score_thresh = 0.0f;
    CHECK_OK(dc_yolo_decode(&o, pred, 8, boxes, scores, cls, &n));
    for (int64_t k = 0; k < n; k++) CHECK(!(cls[k] == 0 && fabsf(scores[k] - 0.24f) < 1e-6f));
    o.max_dets = 2;
    CHECK_OK(dc_yolo_decode(&o, pred, 2, boxes, scores, cls, &n));
    CHECK(n == 2 && fabsf(scores[0] - 0.81f) < 1e-6f);
    o.max_dets = 0;
    CHECK_ERR(dc_yolo_decode(&o, pred, 2, boxes, scores, cls, &n), DC_ERR_ARG); /* capacity < S*S*B*C */
    /* softmax class scores: cell (0,0)'s logits (.9, .1) give p0 = 1/(1 + e^-.8), score .9 p0 */
    o = dc_yolo_decode_opts_default(2, 1, 2, 100, 100);
    o.class_softmax = 1;
    CHECK_OK(dc_yolo_decode(&o, pred, 8, boxes, scores, cls, &n));
    CHECK(n >= 1 && cls[0] == 0);
    if (n >= 1) CHECK_NEAR(scores[0], 0.9 / (1.0 + exp(-0.8)), 1e-6);
}
