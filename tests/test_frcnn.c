/* test_frcnn.c — the two-stage detectors' pieces: the weighted sigmoid cross-entropy and smooth-L1
 * ops (hand values, gradient checks, rows, errors), forwarding a graph in phases, the RPN targets
 * in the convolution layout, and Faster R-CNN learning a tiny set (loss falls, AP50 on the same
 * images rises), trained through the detector job and run by its checkpoint. */
#include "test.h"
#include "detfixture.h"
#include "gradcheck.h"
#include "detect/detector.h"
#include "detect/frcnn.h"
#include "detect/yolo_model.h"
#include "train/det_train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* x, target, weight of sample shape [n] (x with a gradient) and the loss (kind 0 BCE, 1 smooth L1). */
static dc_graph *loss_graph(int kind, int n, int64_t batch, dc_node *x, dc_node *t, dc_node *w, dc_node *loss) {
    dc_graph *g = NULL;
    CHECK_OK(dc_graph_create(&g));
    *x = dc_input_grad(g, "x", dc_shape1(n));
    *t = dc_input(g, "t", dc_shape1(n));
    *w = dc_input(g, "w", dc_shape1(n));
    *loss = kind == 0 ? dc_sigmoid_bce(g, *x, *t, *w, "bce") : dc_smooth_l1(g, *x, *t, *w, 0.5f, "sl1");
    CHECK_OK(dc_graph_status(g));
    CHECK_OK(dc_graph_plan(g, batch, NULL));
    return g;
}

TEST(detloss_hand_values) {
    dc_node x, t, w, loss;
    dc_graph *g = loss_graph(0, 3, 2, &x, &t, &w, &loss);
    /* image 0: x 0 (t 1) -> log 2; x 100 (t 0) -> 100 without overflow; x -100 (t 0) -> ~0
     * image 1: weight 0 everywhere but one: x 2, t 0.25, w 3 -> 3 (2 - 0.5 + log(1 + e^-2)) */
    const float xs[6] = {0, 100, -100, 5, 2, -7}, ts[6] = {1, 0, 0, 1, 0.25f, 0}, ws[6] = {1, 1, 1, 0, 3, 0};
    memcpy(dc_graph_data(g, x), xs, sizeof xs);
    memcpy(dc_graph_data(g, t), ts, sizeof ts);
    memcpy(dc_graph_data(g, w), ws, sizeof ws);
    CHECK_OK(dc_graph_forward(g, 2, 1));
    double want = (log(2.0) + 100.0 + log1p(exp(-100.0)) + 3.0 * (2.0 - 0.5 + log1p(exp(-2.0)))) / 2.0;
    CHECK_NEAR(dc_graph_loss(g, loss), want, 1e-4);
    dc_graph_zero_grad(g);
    CHECK_OK(dc_graph_backward(g, loss));
    const float *dx = dc_graph_grad(g, x);
    CHECK_NEAR(dx[0], (0.5 - 1.0) / 2.0, 1e-6);          /* w (sigmoid(x) - t) / N */
    CHECK_NEAR(dx[1], 1.0 / 2.0, 1e-6);
    CHECK_NEAR(dx[3], 0.0, 0.0);                         /* weight 0: no gradient */
    CHECK_NEAR(dx[4], 3.0 * (1.0 / (1.0 + exp(-2.0)) - 0.25) / 2.0, 1e-6);
    dc_graph_free(g);

    g = loss_graph(1, 3, 1, &x, &t, &w, &loss); /* beta 0.5: 0.5 d^2 / 0.5 = d^2 below 0.5, |d| - 0.25 above */
    const float x1[3] = {0.2f, 3, -1}, t1[3] = {0, 1, 0}, w1[3] = {1, 2, 0.5f};
    memcpy(dc_graph_data(g, x), x1, sizeof x1);
    memcpy(dc_graph_data(g, t), t1, sizeof t1);
    memcpy(dc_graph_data(g, w), w1, sizeof w1);
    CHECK_OK(dc_graph_forward(g, 1, 1));
    CHECK_NEAR(dc_graph_loss(g, loss), 0.04 + 2.0 * 1.75 + 0.5 * 0.75, 1e-6);
    dc_graph_zero_grad(g);
    CHECK_OK(dc_graph_backward(g, loss));
    dx = dc_graph_grad(g, x);
    CHECK_NEAR(dx[0], 0.4, 1e-6); /* d / beta */
    CHECK_NEAR(dx[1], 2.0, 1e-6); /* w sign(d) */
    CHECK_NEAR(dx[2], -0.5, 1e-6);
    dc_graph_free(g);
}

TEST(detloss_gradcheck) {
    for (int kind = 0; kind < 2; kind++) {
        dc_node x, t, w, loss;
        dc_graph *g = loss_graph(kind, 7, 3, &x, &t, &w, &loss);
        dc_rng r;
        dc_rng_seed(&r, 11 + (uint64_t)kind);
        float *xs = dc_graph_data(g, x), *ts = dc_graph_data(g, t), *ws = dc_graph_data(g, w);
        for (int i = 0; i < 21; i++) {
            ts[i] = kind == 0 ? dc_rng_uniform(&r) : dc_rng_normal(&r);
            ws[i] = i % 5 == 0 ? 0.0f : 0.1f + dc_rng_uniform(&r);
            /* smooth L1: keep |x - t| away from the kink at beta = 0.5 */
            float d;
            do d = 2.0f * dc_rng_normal(&r);
            while (kind == 1 && fabsf(fabsf(d) - 0.5f) < 0.05f);
            xs[i] = ts[i] + d;
        }
        CHECK(dc_gradcheck(g, loss, 3, &x, 1, 1e-3f, 1e-2, 1e-4, 21) == 0);
        dc_graph_free(g);
    }
}

TEST(detloss_over_rows_and_errors) {
    dc_graph *g;
    CHECK_OK(dc_graph_create(&g));
    dc_node r = dc_input_rows(g, "rois", dc_shape1(2), 4);
    dc_node t = dc_input_rows_like(g, "t", dc_shape1(2), r), w = dc_input_rows_like(g, "w", dc_shape1(2), r);
    dc_node loss = dc_smooth_l1(g, r, t, w, 0.0f, "l1");
    CHECK_OK(dc_graph_status(g));
    CHECK_OK(dc_graph_plan(g, 1, NULL));
    float *rv = dc_graph_data(g, r), *tv = dc_graph_data(g, t), *wv = dc_graph_data(g, w);
    for (int i = 0; i < 6; i++) rv[i] = (float)i, tv[i] = 0.0f, wv[i] = 1.0f;
    CHECK_OK(dc_graph_set_rows(g, r, 3));
    CHECK_OK(dc_graph_forward(g, 1, 1));
    CHECK_NEAR(dc_graph_loss(g, loss), 15.0 / 3.0, 1e-6); /* L1 sum over 3 rows, mean over rows */
    rv[2] = NAN;
    CHECK_ERR(dc_graph_forward(g, 1, 1), DC_ERR_NUMERIC);
    CHECK(strstr(dc_last_error(), "l1") != NULL);
    dc_graph_free(g);

    /* shapes, rows and targets that depend on parameters */
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input(g, "x", dc_shape1(4)), t3 = dc_input(g, "t3", dc_shape1(3));
    dc_sigmoid_bce(g, x, t3, x, "bad");
    CHECK(dc_graph_status(g) == DC_ERR_SHAPE);
    CHECK(strstr(dc_last_error(), "t3") != NULL);
    dc_graph_free(g);
    CHECK_OK(dc_graph_create(&g));
    x = dc_input(g, "x", dc_shape1(4));
    dc_node y = dc_linear(g, x, 4, "fc");
    dc_smooth_l1(g, x, y, x, 1.0f, "bad");
    CHECK(dc_graph_status(g) == DC_ERR_ARG);
    dc_graph_free(g);
    CHECK_OK(dc_graph_create(&g));
    x = dc_input(g, "x", dc_shape1(4));
    dc_smooth_l1(g, x, x, x, -1.0f, "bad");
    CHECK(dc_graph_status(g) == DC_ERR_ARG);
    dc_graph_free(g);
    CHECK_OK(dc_graph_create(&g));
    r = dc_input_rows(g, "rois", dc_shape1(4), 4);
    x = dc_input(g, "x", dc_shape1(4));
    dc_sigmoid_bce(g, x, r, x, "bad");
    CHECK(dc_graph_status(g) == DC_ERR_SHAPE);
    dc_graph_free(g);
}

TEST(graph_forward_range_phases) {
    dc_graph *g;
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input(g, "x", dc_shape1(5));
    dc_node h = dc_relu(g, dc_linear(g, x, 6, "fc1"));
    dc_node y = dc_linear(g, h, 3, "fc2");
    CHECK_OK(dc_graph_status(g));
    CHECK_OK(dc_graph_plan(g, 2, NULL));
    float *xv = dc_graph_data(g, x);
    for (int i = 0; i < 10; i++) xv[i] = 0.3f * (float)i - 1.0f;
    CHECK_OK(dc_graph_forward(g, 2, 0));
    float full[6];
    memcpy(full, dc_graph_data(g, y), sizeof full);
    memset(dc_graph_data(g, y), 0, sizeof full);
    CHECK_OK(dc_graph_forward_range(g, 0, h + 1, 2, 0));
    for (int i = 0; i < 6; i++) CHECK(dc_graph_data(g, y)[i] == 0.0f); /* not computed yet */
    CHECK_OK(dc_graph_forward_range(g, h + 1, dc_graph_node_count(g), 2, 0));
    for (int i = 0; i < 6; i++) CHECK(dc_graph_data(g, y)[i] == full[i]);
    CHECK_ERR(dc_graph_forward_range(g, h + 1, dc_graph_node_count(g), 1, 0), DC_ERR_STATE); /* other batch */
    CHECK_ERR(dc_graph_forward_range(g, 0, dc_graph_node_count(g) + 1, 2, 0), DC_ERR_ARG);
    CHECK_ERR(dc_graph_forward_range(g, 3, 2, 2, 0), DC_ERR_ARG);
    dc_graph_free(g);
}

/* A gt box equal to one anchor: that anchor is foreground in the convolution layout ([A, fh, fw]
 * channel a at position p), with zero box targets and weight 1/sampled; the head sees the gt box
 * among its RoIs with its class. */
TEST(frcnn_rpn_targets_layout) {
    dc_frcnn_opts o = dc_frcnn_opts_default(1);
    dc_frcnn_net net;
    dc_graph_opts go = {.seed = 3};
    CHECK_OK(dc_frcnn_net_create(&o, 64, 3, 1, 2, &go, &net));
    if (!net.g) return;
    CHECK(net.fh == 8 && net.n_anchors == 8 * 8 * 9);
    const int64_t HW = 64, A = 9, ia = (3 * 8 + 5) * 9 + 4; /* position (y 3, x 5), anchor 4 (ratio 1, size 32) */
    const float *an = net.anchors + 4 * ia;
    CHECK_NEAR(an[2] - an[0], 32.0, 1e-4);
    CHECK_NEAR(0.5 * (an[0] + an[2]), (5 + 0.5) * 8, 1e-4);
    float gt[2 * 8 * 4] = {0};
    int32_t cls[2 * 8] = {0};
    int n[2] = {1, 0};
    memcpy(gt, an, 4 * sizeof(float));
    cls[0] = 2;
    memset(dc_graph_data(net.g, net.x), 0, 2 * 64 * 64 * sizeof(float));
    float loss = 0, parts[5];
    CHECK_OK(dc_frcnn_forward_train(&net, 2, gt, cls, n, 8, NULL, NULL, &loss, parts));
    CHECK(isfinite(loss));
    const float *lab = dc_graph_data(net.g, net.rpn_lab), *lw = dc_graph_data(net.g, net.rpn_lw);
    const float *tg = dc_graph_data(net.g, net.rpn_tgt), *tw = dc_graph_data(net.g, net.rpn_tw);
    int64_t p = 3 * 8 + 5, a = 4;
    CHECK(lab[a * HW + p] == 1.0f);
    CHECK(lw[a * HW + p] > 0.0f && lw[a * HW + p] <= 1.0f / 64); /* at most 256 sampled, at least 64 */
    for (int c = 0; c < 4; c++) {
        CHECK_NEAR(tg[(4 * a + c) * HW + p], 0.0, 1e-6);
        CHECK(tw[(4 * a + c) * HW + p] == lw[a * HW + p]);
    }
    double wsum = 0;
    for (int64_t i = 0; i < A * HW; i++) wsum += lw[i];
    CHECK_NEAR(wsum, 1.0, 1e-4); /* image 0: weights 1/sampled over the sampled anchors */
    for (int64_t i = 0; i < A * HW; i++) CHECK(lab[A * HW + i] == 0.0f); /* image 1: no object */
    /* the head: image 0's RoIs include the gt box as foreground with class 2 and zero targets */
    const float *rois = dc_graph_data(net.g, net.rois), *rl = dc_graph_data(net.g, net.roi_lab);
    int found = 0;
    for (int64_t r = 0; r < net.last_rois; r++)
        if (rois[5 * r] == 0.0f && rl[r] == 2.0f && fabsf(rois[5 * r + 1] - gt[0]) < 1e-4f &&
            fabsf(rois[5 * r + 3] - gt[2]) < 1e-4f)
            found = 1;
    CHECK(found);
    CHECK(net.last_fg >= 1);
    for (int64_t r = 0; r < net.last_rois; r++) CHECK(rl[r] == 0.0f || rois[5 * r] == 0.0f); /* image 1: background */
    dc_graph_zero_grad(net.g);
    CHECK_OK(dc_graph_backward(net.g, net.loss));
    /* bad batch */
    CHECK_ERR(dc_frcnn_forward_train(&net, 3, gt, cls, n, 8, NULL, NULL, &loss, NULL), DC_ERR_ARG);
    dc_frcnn_net_free(&net);
    CHECK_ERR(dc_frcnn_net_create(&o, 60, 3, 1, 2, &go, &net), DC_ERR_SHAPE); /* not a multiple of 8 */
    CHECK_ERR(dc_frcnn_model_check("mask_rcnn_x", NULL), DC_ERR_ARG);
    /* the box head's pooling per model: RoI max pooling for Fast/Faster R-CNN, RoIAlign for Mask R-CNN */
    const char *names[3] = {"faster_rcnn", "fast_rcnn", "mask_rcnn"};
    for (int k = 0; k < 3; k++) {
        dc_frcnn_opts mo;
        CHECK_OK(dc_frcnn_model_check(names[k], &mo));
        CHECK_MSG(mo.box_align == (k == 2) && mo.mask == (k == 2) && mo.rpn == (k != 1), "%s", names[k]);
        dc_frcnn_net mn;
        CHECK_OK(dc_frcnn_net_create(&mo, 32, 3, 0, 1, &go, &mn));
        int align = dc_graph_find(mn.g, "roi_align") >= 0, maxpool = dc_graph_find(mn.g, "roi_pool") >= 0;
        CHECK_MSG(align == (k == 2) && maxpool == (k != 2), "%s: roi_align %d, roi_pool %d", names[k], align, maxpool);
        dc_frcnn_net_free(&mn);
    }
}

/* A planned det_backbone classifier (the zoo's), its parameters set to k * 0.001 + 0.5 (all distinct
 * from any initialisation), saved to path. */
static dc_graph *saved_backbone(const char *path) {
    dc_graph *g = NULL;
    dc_node logits;
    if (dc_graph_create(&g) != DC_OK) return NULL;
    dc_node x = dc_input(g, "images", dc_shape3(1, 28, 28));
    if (dc_model_build(g, "det_backbone", x, 10, &logits) != DC_OK || dc_graph_plan(g, 2, NULL) != DC_OK) {
        dc_graph_free(g);
        return NULL;
    }
    for (int i = 0; i < dc_graph_param_count(g); i++) {
        const dc_param *p = &dc_graph_params(g)[i];
        for (int64_t k = 0; k < p->numel; k++) p->data[k] = 0.5f + 0.001f * (float)(k % 997) + (float)i;
    }
    dc_checkpoint_meta m = {.epoch = 1, .num_classes = 10};
    snprintf(m.model, sizeof m.model, "det_backbone");
    if (dc_checkpoint_save(path, g, NULL, &m) != DC_OK) {
        dc_graph_free(g);
        return NULL;
    }
    return g;
}

/* dettrain --init-from: a pre-trained det_backbone gives Faster R-CNN (and yolo_s16) every backbone
 * tensor, names and shapes equal, and nothing else; a checkpoint sharing no name, or a name with
 * another shape, is refused and leaves the network as it was. */
TEST(frcnn_init_from_pretrained_backbone) {
    char path[700], other[700];
    snprintf(path, sizeof path, "%s/backbone.safetensors", dc_test_tmp_dir());
    snprintf(other, sizeof other, "%s/yolo_mini_init.safetensors", dc_test_tmp_dir());
    dc_graph *bb = saved_backbone(path);
    CHECK(bb != NULL);
    if (!bb) return;
    int backbone_tensors = 0;
    for (int i = 0; i < dc_graph_param_count(bb); i++)
        if (strncmp(dc_graph_params(bb)[i].name, "cls_fc.", 7) != 0) backbone_tensors++;
    const char *models[] = {"faster_rcnn", "yolo_s16"};
    for (int mi = 0; mi < 2; mi++) {
        dc_detector det;
        CHECK_OK(dc_detector_create(models[mi], 64, 10, 4, 2, NULL, &det));
        if (!det.model) continue;
        dc_graph *g = dc_detector_graph(&det);
        int n = 0;
        int64_t numel = 0;
        CHECK_OK(dc_checkpoint_load_matching(path, g, &n, &numel));
        CHECK_MSG(n == backbone_tensors, "%s: %d tensors loaded, the backbone has %d", models[mi], n, backbone_tensors);
        int64_t want = 0;
        for (int i = 0; i < dc_graph_param_count(g); i++) {
            const dc_param *p = &dc_graph_params(g)[i];
            int in_backbone = 0;
            for (int k = 0; k < dc_graph_param_count(bb); k++) {
                const dc_param *q = &dc_graph_params(bb)[k];
                if (strcmp(q->name, p->name) != 0) continue;
                in_backbone = 1;
                want += p->numel;
                CHECK_MSG(memcmp(p->data, q->data, (size_t)p->numel * sizeof(float)) == 0, "%s: %s not loaded",
                          models[mi], p->name);
            }
            if (!in_backbone && p->numel > 0) /* the detector's own layers keep their initialisation */
                CHECK_MSG(p->data[0] != 0.5f, "%s: %s overwritten", models[mi], p->name);
        }
        CHECK(numel == want && want > 0);
        dc_detector_free(&det);
    }
    /* a yolo_mini checkpoint: conv1 has 16 channels there, 24 here; Faster R-CNN stays as it was */
    dc_detector y, f;
    CHECK_OK(dc_detector_create("yolo_mini", 64, 10, 0, 1, NULL, &y));
    CHECK_OK(dc_detector_create("faster_rcnn", 64, 10, 0, 1, NULL, &f));
    if (y.model && f.model) {
        dc_checkpoint_meta m = {.num_classes = 10, .revision = DC_YOLO_REVISION};
        snprintf(m.model, sizeof m.model, "yolo_mini");
        CHECK_OK(dc_checkpoint_save(other, dc_detector_graph(&y), NULL, &m));
        const dc_param *p0 = &dc_graph_params(dc_detector_graph(&f))[0];
        float before = p0->data[0];
        int n = -1;
        CHECK_ERR(dc_checkpoint_load_matching(other, dc_detector_graph(&f), &n, NULL), DC_ERR_SHAPE);
        CHECK(strstr(dc_last_error(), "conv1") != NULL && n == 0 && p0->data[0] == before);
        /* the mlp shares no name with a detector */
        dc_graph *mlp = NULL;
        dc_node logits;
        CHECK_OK(dc_graph_create(&mlp));
        if (mlp) {
            CHECK_OK(dc_model_build(mlp, "mlp", dc_input(mlp, "images", dc_shape3(1, 28, 28)), 10, &logits));
            CHECK_OK(dc_graph_plan(mlp, 1, NULL));
            snprintf(m.model, sizeof m.model, "mlp");
            CHECK_OK(dc_checkpoint_save(other, mlp, NULL, &m));
            CHECK_ERR(dc_checkpoint_load_matching(other, dc_detector_graph(&f), NULL, NULL), DC_ERR_FORMAT);
            dc_graph_free(mlp);
        }
    }
    dc_detector_free(&y);
    dc_detector_free(&f);
    dc_graph_free(bb);
}

/* dettrain --resume: three epochs straight against one epoch, then a resume for the other two,
 * with flips, dropout-free sampling of anchors and RoIs, and a learning rate that changes every
 * epoch; the checkpoints end bit for bit the same.  Then the refusals: another model, another
 * batch, no epochs left. */
TEST(frcnn_resume_matches_uninterrupted_run) {
    const char *dir = dc_test_det_tiny();
    CHECK(dir != NULL);
    if (!dir) return;
    char json[700], straight[700], resumed[700], a[800], b[800], last[800];
    snprintf(json, sizeof json, "%s/train.json", dir);
    snprintf(straight, sizeof straight, "%s/frcnn_straight", dc_test_tmp_dir());
    snprintf(resumed, sizeof resumed, "%s/frcnn_resumed", dc_test_tmp_dir());
    dc_det_train_config c = dc_test_det_overfit_config("faster_rcnn", json, straight, 3, 4, 1e-3f);
    c.flip = 1;
    c.schedule = DC_SCHED_STEP;
    c.step_epochs = 1;
    dc_det_train_result r;
    CHECK_OK(dc_det_train_run(&c, &r));
    c.out_dir = resumed;
    c.epochs = 1; /* the "interrupted" run: the step schedule does not depend on --epochs */
    CHECK_OK(dc_det_train_run(&c, &r));
    snprintf(last, sizeof last, "%s/last.safetensors", resumed);
    snprintf(b, sizeof b, "%s/metrics.csv", resumed); /* as if killed after the next epoch's line */
    FILE *extra = fopen(b, "a");
    CHECK(extra != NULL);
    if (extra) fputs("2,0.0001,1,0,0,0,1,1,1,-1,-1\n", extra), fclose(extra);
    c.epochs = 3;
    c.resume = last;
    CHECK_OK(dc_det_train_run(&c, &r));
    CHECK(r.epochs_run == 3);
    const char *files[] = {"last.safetensors", "best.safetensors"};
    for (int k = 0; k < 2; k++) {
        snprintf(a, sizeof a, "%s/%s", straight, files[k]);
        snprintf(b, sizeof b, "%s/%s", resumed, files[k]);
        CHECK_MSG(dc_test_files_equal(a, b), "%s differs after the resume", files[k]);
    }
    /* metrics.csv: the header and one line per epoch, the resumed epochs appended */
    snprintf(b, sizeof b, "%s/metrics.csv", resumed);
    FILE *f = fopen(b, "r");
    int lines = 0, ch, first = -1;
    while (f && (ch = fgetc(f)) != EOF) {
        if (first < 0) first = ch;
        lines += ch == '\n';
    }
    if (f) fclose(f);
    CHECK_MSG(lines == 4 && first == 'e', "metrics.csv: %d lines, first byte %c", lines, first);
    c.model = "mask_rcnn";
    CHECK_ERR(dc_det_train_run(&c, &r), DC_ERR_ARG);
    CHECK(strstr(dc_last_error(), "faster_rcnn") != NULL);
    c.model = "faster_rcnn";
    c.batch = 8;
    CHECK_ERR(dc_det_train_run(&c, &r), DC_ERR_ARG);
    CHECK(strstr(dc_last_error(), "--batch 4") != NULL);
    c.batch = 4;
    c.epochs = 1;
    CHECK_ERR(dc_det_train_run(&c, &r), DC_ERR_ARG);
    CHECK(strstr(dc_last_error(), "3 epochs done") != NULL);
}

/* Faster R-CNN through the detector job on the tiny set, evaluated on its own training images:
 * the loss falls and AP50 rises well above chance; the best checkpoint reloads for inference and
 * gives the same AP50. */
TEST(frcnn_overfit_tiny) {
    const char *dir = dc_test_det_tiny();
    CHECK(dir != NULL);
    if (!dir) return;
    char json[700], run[700], ckpt[800];
    snprintf(json, sizeof json, "%s/train.json", dir);
    snprintf(run, sizeof run, "%s/frcnn_run", dc_test_tmp_dir());
    dc_det_train_config c = dc_test_det_overfit_config("faster_rcnn", json, run, 20, 4, 1e-3f);
    dc_det_train_result r;
    CHECK_OK(dc_det_train_run(&c, &r));
    CHECK(r.epochs_run == 20);
    CHECK_MSG(r.last_loss < r.first_loss / 3.0, "loss %g -> %g", r.first_loss, r.last_loss);
    CHECK_MSG(r.best_ap50 > 0.5, "best AP50 %g (last %g)", r.best_ap50, r.last_ap50);
    snprintf(ckpt, sizeof ckpt, "%s/best.safetensors", run);
    dc_detector det;
    dc_checkpoint_meta m;
    dc_detdata *d = NULL;
    CHECK_OK(dc_detdata_load(json, 0, 1, &d));
    CHECK_OK(dc_detector_load(ckpt, "faster_rcnn", 64, 8, NULL, &det, &m));
    if (!d || !det.model) {
        dc_detdata_free(d);
        return;
    }
    dc_detection *dets = NULL;
    int64_t n = 0;
    CHECK_OK(dc_detector_detect_set(&det, d, 8, 0.01f, NULL, &dets, &n, NULL));
    dc_cocoeval *e = NULL;
    CHECK_OK(dc_cocoeval_run(dc_detdata_gt(d), dets, n, DC_IOU_BBOX, &e));
    if (e) CHECK_NEAR(e->stats[1], r.best_ap50, 1e-9);
    dc_cocoeval_free(e);
    dc_detections_free(dets, n);
    dc_detector_free(&det);
    /* a YOLO model name against this checkpoint is refused */
    CHECK_ERR(dc_detector_load(ckpt, "yolo_mini", 64, 8, NULL, &det, &m), DC_ERR_ARG);
    dc_detdata_free(d);

    /* the commands: dettest over the split, detect on one image with a picture written */
    char exe[1024], cmd[8192], err[2048], err_path[800], out_path[800], png[800];
    if (!dc_test_deepc_exe(exe, sizeof exe)) return;
    snprintf(err_path, sizeof err_path, "%s/frcnn_cli.err", dc_test_tmp_dir());
    snprintf(out_path, sizeof out_path, "%s/frcnn_cli.out", dc_test_tmp_dir());
    snprintf(png, sizeof png, "%s/frcnn_boxes.png", dc_test_tmp_dir());
    snprintf(cmd, sizeof cmd, "'%s' dettest --checkpoint '%s' --data '%s' --split train --threads 1 >'%s' 2>'%s'", exe,
             ckpt, dir, out_path, err_path);
    CHECK_MSG(dc_test_run_cli(cmd, err, sizeof err, err_path) == 0, "stderr: %s", err);
    static char text[16384];
    FILE *f = fopen(out_path, "r");
    size_t got = f ? fread(text, 1, sizeof text - 1, f) : 0;
    text[got] = '\0';
    if (f) fclose(f);
    CHECK_MSG(strstr(text, "faster_rcnn") != NULL && strstr(text, "AP50") != NULL, "stdout: %s", text);
    snprintf(cmd, sizeof cmd, "'%s' detect --checkpoint '%s' '%s/train/000001.png' --out '%s' --threshold 0.3 >'%s' 2>'%s'",
             exe, ckpt, dir, png, out_path, err_path);
    CHECK_MSG(dc_test_run_cli(cmd, err, sizeof err, err_path) == 0, "stderr: %s", err);
    CHECK(access(png, R_OK) == 0);
    snprintf(cmd, sizeof cmd, "'%s' detect --model mask_rcnn --checkpoint '%s' '%s/train/000001.png' >/dev/null 2>'%s'",
             exe, ckpt, dir, err_path);
    CHECK(dc_test_run_cli(cmd, err, sizeof err, err_path) == 1); /* the checkpoint holds faster_rcnn */
    CHECK_MSG(strstr(err, "faster_rcnn") != NULL, "stderr: %s", err);
}

/* Mask geometry: the target of a box over a rectangle mask is 1 inside and falls off outside; a
 * map pasted back onto the box reproduces the rectangle. */
TEST(mask_target_and_paste) {
    enum { S = 32, M = 8 };
    uint8_t mask[S * S] = {0}, back[S * S];
    for (int y = 8; y < 24; y++)
        for (int x = 4; x < 20; x++) mask[y * S + x] = 1;
    float box[4] = {4, 8, 20, 24}, t[M * M];
    dc_mask_target(mask, S, box, M, t);
    for (int i = 0; i < M * M; i++) CHECK_NEAR(t[i], 1.0, 1e-6);
    float wide[4] = {0, 8, 24, 24}; /* 24 wide: bins 3 px, the first and last bin centres at x 1.5 and 22.5 */
    dc_mask_target(mask, S, wide, M, t);
    CHECK_NEAR(t[0], 0.0, 1e-6);
    CHECK_NEAR(t[1], 1.0, 1e-6); /* centre 4.5: pixel 4 */
    CHECK_NEAR(t[M - 1], 0.0, 1e-6);
    dc_mask_paste(t, M, wide, S, back);
    int diff = 0;
    for (int i = 0; i < S * S; i++) diff += back[i] != mask[i];
    /* the 3-pixel bins blur the edge by one column on each side: 2 x 16 rows at most */
    CHECK_MSG(diff <= 32, "%d pixels differ after target -> paste", diff);
    float none[4] = {5, 5, 5, 9};
    dc_mask_paste(t, M, none, S, back); /* empty box: empty mask */
    for (int i = 0; i < S * S; i++) CHECK(back[i] == 0);
}

/* Mask R-CNN through the detector job: two epochs on the tiny set, the mask loss finite, masks
 * evaluated (AP defined), and detections carry masks of the image's size. */
TEST(mask_rcnn_smoke) {
    const char *dir = dc_test_det_tiny();
    if (!dir) return;
    char json[700], run[700];
    snprintf(json, sizeof json, "%s/train.json", dir);
    snprintf(run, sizeof run, "%s/mask_run", dc_test_tmp_dir());
    dc_det_train_config c;
    dc_det_train_config_defaults(&c);
    c.model = "mask_rcnn";
    c.train_json = c.val_json = json;
    c.out_dir = run;
    c.eval_thresh = 0.2f; /* an untrained head: keep the evaluated detections few */
    c.epochs = 2;
    c.threads = 1;
    c.batch = 8;
    c.quiet = getenv("DC_TEST_VERBOSE") == NULL;
    c.progress = 0;
    dc_det_train_result r;
    CHECK_OK(dc_det_train_run(&c, &r));
    CHECK(isfinite(r.last_loss) && r.last_mask_ap50 >= 0.0 && r.last_mask_ap50 <= 1.0);
    dc_detector det;
    dc_graph_opts go = {.seed = 1};
    CHECK_OK(dc_detector_create("mask_rcnn", 64, 10, 0, 2, &go, &det));
    if (!det.model) return;
    CHECK(dc_detector_has_masks(&det));
    memset(dc_detector_images(&det), 0, 2 * 64 * 64 * sizeof(float));
    float boxes[200 * 4], scores[200];
    int32_t cls[200];
    int64_t n[2];
    dc_rle masks[200];
    memset(masks, 0, sizeof masks);
    CHECK_OK(dc_detector_detect(&det, 2, 0.0f, 0.5f, NULL, boxes, scores, cls, n, masks));
    for (int k = 0; k < 2; k++)
        for (int64_t q = 0; q < n[k]; q++) CHECK(masks[k * 100 + q].h == 64 && masks[k * 100 + q].w == 64);
    for (int q = 0; q < 200; q++) dc_rle_free(&masks[q]);
    dc_detector_free(&det);

    /* The trained checkpoint as dettest and detect load it (inference fusion: BatchNorm folded into
     * the convolutions, ReLU in their pass) against the plain passes, on the same noise images: the
     * fine map, the RPN's logits and each image's best detection agree to rounding. */
    char ckpt[760];
    snprintf(ckpt, sizeof ckpt, "%s/last.safetensors", run);
    dc_checkpoint_meta m;
    CHECK_OK(dc_detector_load(ckpt, "mask_rcnn", 64, 2, NULL, &det, &m));
    if (!det.model) return;
    dc_graph *g = dc_detector_graph(&det);
    const dc_frcnn_net *fr = &det.frcnn;
    const int64_t nf = 2 * dc_shape_numel(dc_node_shape(g, fr->rfeat)), nc = 2 * dc_shape_numel(dc_node_shape(g, fr->rpn_cls));
    float *keep = malloc((size_t)(nf + nc + 400 + 800) * sizeof(float));
    dc_rng rng;
    dc_rng_seed(&rng, 11);
    float *img = dc_detector_images(&det);
    for (int i = 0; i < 2 * 64 * 64; i++) img[i] = dc_rng_uniform(&rng) - 0.3f;
    for (int pass = 0; keep && pass < 2; pass++) {
        if (pass == 1) dc_graph_set_fusion(g, 0);
        CHECK_OK(dc_detector_detect(&det, 2, 0.0f, 0.5f, NULL, boxes, scores, cls, n, NULL));
        float *f = dc_graph_data(g, fr->rfeat), *rc = dc_graph_data(g, fr->rpn_cls);
        if (pass == 0) {
            memcpy(keep, f, (size_t)nf * sizeof(float));
            memcpy(keep + nf, rc, (size_t)nc * sizeof(float));
            memcpy(keep + nf + nc, scores, 200 * sizeof(float));
            memcpy(keep + nf + nc + 400, boxes, 800 * sizeof(float));
            CHECK(n[0] > 0 && n[1] > 0);
            continue;
        }
        double df = 0.0, dr = 0.0, ds = 0.0, db = 0.0;
        for (int64_t i = 0; i < nf; i++) df = fmax(df, fabs(f[i] - keep[i]));
        for (int64_t i = 0; i < nc; i++) dr = fmax(dr, fabs(rc[i] - keep[nf + i]));
        for (int k = 0; k < 2; k++) { /* the best detection of each image (the rest may reorder in a tie) */
            ds = fmax(ds, fabs(scores[k * 100] - keep[nf + nc + k * 100]));
            for (int e = 0; e < 4; e++) db = fmax(db, fabs(boxes[4 * k * 100 + e] - keep[nf + nc + 400 + 4 * k * 100 + e]));
        }
        CHECK_MSG(df < 1e-3 && dr < 1e-3 && ds < 1e-3 && db < 1e-2, "fused vs plain: fine map %g, RPN %g, scores %g, boxes %g",
                  df, dr, ds, db);
    }
    free(keep);
    dc_detector_free(&det);
}

/* Fast R-CNN through the detector job: selective-search proposals of the tiny set, the head trained
 * on them; the loss falls and AP50 on the training images rises above chance. */
TEST(fast_rcnn_tiny) {
    const char *dir = dc_test_det_tiny();
    if (!dir) return;
    char json[700];
    snprintf(json, sizeof json, "%s/train.json", dir);
    dc_det_train_config c = dc_test_det_overfit_config("fast_rcnn", json, NULL, 8, 4, 1e-3f);
    dc_det_train_result r;
    CHECK_OK(dc_det_train_run(&c, &r));
    CHECK_MSG(r.last_loss < r.first_loss / 2.0, "loss %g -> %g", r.first_loss, r.last_loss);
    CHECK_MSG(r.best_ap50 > 0.4, "best AP50 %g (last %g)", r.best_ap50, r.last_ap50);
}

/* yolo_s8: the YOLO v1 head on frcnn_mini's stride-8 backbone: an 8 x 8 grid on 64 x 64 images, the
 * backbone's parameter names shared with faster_rcnn, sides that are not multiples of 8 refused. */
TEST(yolo_s8_on_the_two_stage_backbone) {
    CHECK(dc_detector_stride("yolo_s8") == 8 && dc_detector_stride("yolo_mini") == 16 &&
          dc_detector_stride("faster_rcnn") == 8 && dc_detector_stride("nope") == 0);
    dc_detector det, fr;
    dc_graph_opts go = {.seed = 2};
    CHECK_OK(dc_detector_create("yolo_s8", 64, 10, 0, 2, &go, &det));
    CHECK_OK(dc_detector_create("faster_rcnn", 64, 10, 0, 2, &go, &fr));
    if (!det.model || !fr.model) return;
    CHECK(det.kind == DC_DETECTOR_YOLO && det.yolo.S == 8);
    CHECK(dc_graph_find(dc_detector_graph(&det), "conv6") >= 0 && dc_graph_find(dc_detector_graph(&fr), "conv6") >= 0);
    memset(dc_detector_images(&det), 0, 2 * 64 * 64 * sizeof(float));
    float boxes[200 * 4], scores[200];
    int32_t cls[200];
    int64_t n[2];
    CHECK_OK(dc_detector_detect(&det, 2, 0.5f, 0.5f, NULL, boxes, scores, cls, n, NULL));
    dc_detector_free(&det);
    dc_detector_free(&fr);
    CHECK_ERR(dc_detector_create("yolo_s8", 60, 10, 0, 2, &go, &det), DC_ERR_SHAPE);
}

/* The two-stage networks' revisions: the current one (DC_FRCNN_REVISION) reads its RoIs from the
 * stride-4 map `fine` with FC 512 and upsamples Mask R-CNN's 14x14 RoIAlign maps to 28x28 with a 2x2
 * stride-2 transposed convolution; revision 2 (mask_rcnn only) has that mask head on the stride-8
 * features with FC 256; a checkpoint without a revision is of the first networks (stride 8, FC 256,
 * 14x14 maps, no transposed convolution).  Each loads into its own network; an unknown revision is
 * refused with the file's name. */
TEST(frcnn_network_revisions) {
    char path[700];
    snprintf(path, sizeof path, "%s/mask_rev.safetensors", dc_test_tmp_dir());
    dc_graph_opts go = {.seed = 2};
    const struct {
        const char *model;
        int rev, mask_side, fine, fc, recorded;
    } cases[] = {{"mask_rcnn", 0, 14, 0, 256, 0},  {"mask_rcnn", DC_MASK_RCNN_REVISION, 28, 0, 256, 2},
                 {"mask_rcnn", -1, 28, 1, 512, 3}, {"faster_rcnn", 0, 0, 0, 256, 0},
                 {"fast_rcnn", -1, 0, 1, 512, 3},  {"faster_rcnn", DC_FRCNN_REVISION, 0, 1, 512, 3}};
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        dc_detector det, back;
        const int side = cases[t].mask_side;
        CHECK_OK(dc_detector_create_rev(cases[t].model, cases[t].rev, 32, 10, 3, 1, &go, &det));
        if (!det.model) return;
        dc_graph *g = dc_detector_graph(&det);
        const dc_frcnn_net *n = &det.frcnn;
        CHECK_MSG(n->o.fine == cases[t].fine && n->o.fc == cases[t].fc && (dc_graph_find(g, "fine.up") >= 0) == cases[t].fine,
                  "%s revision %d: fine %d, fc %d", cases[t].model, cases[t].rev, n->o.fine, n->o.fc);
        CHECK(dc_node_shape(g, n->rfeat).dim[1] == (cases[t].fine ? 8 : 4) && n->rscale == (cases[t].fine ? 0.25f : 0.125f));
        if (side) {
            const dc_shape ls = dc_node_shape(g, n->mask_logits), ts = dc_node_shape(g, n->mask_tgt);
            CHECK_MSG(ls.dim[0] == 10 && ls.dim[1] == side && ls.dim[2] == side && dc_shape_equal(ls, ts),
                      "revision %d: logits %lldx%lld", cases[t].rev, (long long)ls.dim[1], (long long)ls.dim[2]);
            CHECK((dc_graph_find(g, "mask.deconv") >= 0) == (side == 28));
        }
        CHECK(dc_detector_revision(&det) == cases[t].recorded);
        dc_checkpoint_meta m = {.num_classes = 10, .revision = dc_detector_revision(&det)};
        snprintf(m.model, sizeof m.model, "%s", cases[t].model);
        CHECK_OK(dc_checkpoint_save(path, g, NULL, &m));
        dc_checkpoint_meta lm;
        CHECK_OK(dc_detector_load(path, cases[t].model, 32, 1, NULL, &back, &lm));
        if (back.model) {
            CHECK_MSG(back.frcnn.o.fine == cases[t].fine && back.frcnn.o.fc == cases[t].fc &&
                          back.frcnn.o.mask_upsample == (side == 28) && lm.revision == m.revision,
                      "%s revision %d loaded as another network", cases[t].model, cases[t].rev);
            /* the loaded parameters are the saved ones */
            const dc_param *a = dc_graph_params(g), *b = dc_graph_params(dc_detector_graph(&back));
            int same = dc_graph_param_count(g) == dc_graph_param_count(dc_detector_graph(&back));
            for (int i = 0; same && i < dc_graph_param_count(g); i++)
                same = a[i].numel == b[i].numel && memcmp(a[i].data, b[i].data, (size_t)a[i].numel * 4) == 0;
            CHECK(same);
            dc_detector_free(&back);
        }
        /* revisions this build does not know: 7 for any, 2 for the models without masks */
        m.revision = side ? 7 : 2;
        CHECK_OK(dc_checkpoint_save(path, g, NULL, &m));
        CHECK_ERR(dc_detector_load(path, cases[t].model, 32, 1, NULL, &back, &lm), DC_ERR_FORMAT);
        CHECK_MSG(strstr(dc_last_error(), "mask_rev.safetensors") && strstr(dc_last_error(), side ? "revision 7" : "revision 2"),
                  "%s", dc_last_error());
        dc_detector_free(&det);
    }
    /* --resume from a checkpoint of the first head is refused (its parameters do not fit), naming it */
    const char *dir = dc_test_det_tiny();
    dc_detector old;
    if (!dir || dc_detector_create_rev("mask_rcnn", 0, 64, 10, 3, 8, &go, &old) != DC_OK) return;
    dc_checkpoint_meta m = {.num_classes = 10, .epoch = 1, .batch = 8};
    snprintf(m.model, sizeof m.model, "mask_rcnn");
    snprintf(m.optimizer, sizeof m.optimizer, "adam");
    CHECK_OK(dc_checkpoint_save(path, dc_detector_graph(&old), NULL, &m));
    dc_detector_free(&old);
    char json[700];
    snprintf(json, sizeof json, "%s/train.json", dir);
    dc_det_train_config c;
    dc_det_train_config_defaults(&c);
    c.model = "mask_rcnn";
    c.train_json = c.val_json = json;
    c.resume = path;
    c.epochs = 2;
    c.threads = 1;
    c.batch = 8;
    c.quiet = 1;
    c.progress = 0;
    dc_det_train_result r;
    CHECK_ERR(dc_det_train_run(&c, &r), DC_ERR_FORMAT);
    CHECK(strstr(dc_last_error(), "mask_rev.safetensors") && strstr(dc_last_error(), "revision 0"));
}
