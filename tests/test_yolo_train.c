/* test_yolo_train.c — the YOLO v1 pipeline: targets built from crafted annotations (fractions,
 * class indices, padding, crowd and empty boxes left out, flips, the cell rule), the channels-last
 * op, the cache and batches (flipped pixels and targets together), a tiny overfit run (loss falls,
 * AP50 on the same images rises), detections written as a COCO results file and read back to the
 * same numbers, and the command line's errors (missing data, bad checkpoint). */
#include "test.h"
#include "detfixture.h"
#include "data/coco.h"
#include "data/detgen.h"
#include "detect/cocoeval.h"
#include "detect/detdata.h"
#include "detect/detector.h"
#include "detect/yolo_model.h"
#include "train/det_train.h"

#include <limits.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *GT =
    "{\"images\": [{\"id\": 7, \"file_name\": \"a.png\", \"width\": 160, \"height\": 80},"
    "              {\"id\": 3, \"file_name\": \"b.png\", \"width\": 160, \"height\": 160}],"
    " \"categories\": [{\"id\": 9, \"name\": \"nine\"}, {\"id\": 5, \"name\": \"five\"}],"
    " \"annotations\": ["
    "  {\"id\": 1, \"image_id\": 7, \"category_id\": 9, \"bbox\": [16, 8, 32, 16], \"area\": 512, \"iscrowd\": 0},"
    "  {\"id\": 2, \"image_id\": 7, \"category_id\": 5, \"bbox\": [0, 0, 160, 80], \"area\": 12800, \"iscrowd\": 1},"
    "  {\"id\": 3, \"image_id\": 7, \"category_id\": 5, \"bbox\": [100, 40, 0, 10], \"area\": 0, \"iscrowd\": 0},"
    "  {\"id\": 4, \"image_id\": 7, \"category_id\": 5, \"bbox\": [150, 70, 10, 10], \"area\": 100, \"iscrowd\": 0},"
    "  {\"id\": 5, \"image_id\": 3, \"category_id\": 5, \"bbox\": [0, 0, 16, 16], \"area\": 256, \"iscrowd\": 0}]}";

TEST(yolo_targets_from_annotations) {
    dc_coco *c = NULL;
    CHECK_OK(dc_coco_parse(GT, strlen(GT), "gt.json", "/nonexistent", &c));
    if (!c) return;
    float rows[4 * 5];
    int n = -1;
    CHECK_OK(dc_yolo_targets(c, 0, 4, 0, rows, &n));
    CHECK(n == 2); /* the crowd region and the empty box are left out */
    /* [16, 8, 32, 16] in 160 x 80: centre (32, 16) -> (0.2, 0.2), size (0.2, 0.2); id 9 -> class 1 */
    CHECK_NEAR(rows[0], 1, 0);
    CHECK_NEAR(rows[1], 0.2, 1e-6);
    CHECK_NEAR(rows[2], 0.2, 1e-6);
    CHECK_NEAR(rows[3], 0.2, 1e-6);
    CHECK_NEAR(rows[4], 0.2, 1e-6);
    /* [150, 70, 10, 10]: centre (155, 75) -> (0.96875, 0.9375); id 5 -> class 0 */
    CHECK_NEAR(rows[5], 0, 0);
    CHECK_NEAR(rows[6], 0.96875, 1e-6);
    CHECK_NEAR(rows[7], 0.9375, 1e-6);
    CHECK_NEAR(rows[8], 10.0 / 160, 1e-6);
    CHECK_NEAR(rows[9], 10.0 / 80, 1e-6);
    for (int r = 2; r < 4; r++) { /* padding */
        CHECK(rows[r * 5] == -1.0f);
        CHECK(rows[r * 5 + 1] == 0.0f && rows[r * 5 + 3] == 0.0f);
    }
    /* flipped: cx -> 1 - cx, the rest unchanged */
    float fl[4 * 5];
    CHECK_OK(dc_yolo_targets(c, 0, 4, 1, fl, &n));
    CHECK_NEAR(fl[1], 0.8, 1e-6);
    CHECK_NEAR(fl[6], 0.03125, 1e-6);
    CHECK(fl[2] == rows[2] && fl[3] == rows[3] && fl[9] == rows[9] && fl[5] == rows[5]);
    /* too few rows for the objects of an image: an error naming the image */
    CHECK_ERR(dc_yolo_targets(c, 0, 1, 0, rows, &n), DC_ERR_ARG);
    CHECK(strstr(dc_last_error(), "image id 7") != NULL);
    CHECK_ERR(dc_yolo_targets(c, 5, 4, 0, rows, &n), DC_ERR_ARG);
    /* the cell rule of dc_yolo_loss: row floor(cy S), column floor(cx S), clamped */
    int i, j;
    dc_yolo_target_cell(0.2f, 0.2f, 10, &i, &j);
    CHECK(i == 2 && j == 2);
    dc_yolo_target_cell(0.96875f, 0.9375f, 10, &i, &j);
    CHECK(i == 9 && j == 9);
    dc_yolo_target_cell(1.0f, 0.0f, 10, &i, &j);
    CHECK(i == 0 && j == 9);
    dc_yolo_target_cell(0.55f, 0.31f, 10, &i, &j);
    CHECK(i == 3 && j == 5);
    dc_coco_free(c);
}

TEST(yolo_channels_last_forward_backward) {
    dc_graph *g = NULL;
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input_grad(g, "x", dc_shape3(2, 2, 3));
    dc_node y = dc_channels_last(g, x, "y");
    dc_node t = dc_input(g, "t", dc_shape1(12));
    dc_node l = dc_mse(g, dc_flatten(g, y), t);
    CHECK_OK(dc_graph_status(g));
    if (dc_graph_status(g) != DC_OK) {
        dc_graph_free(g);
        return;
    }
    dc_shape s = dc_node_shape(g, y);
    CHECK(s.rank == 3 && s.dim[0] == 2 && s.dim[1] == 3 && s.dim[2] == 2);
    if (dc_graph_plan(g, 2, NULL) != DC_OK) {
        CHECK(0);
        dc_graph_free(g);
        return;
    }
    float *xd = dc_graph_data(g, x), *td = dc_graph_data(g, t);
    for (int k = 0; k < 24; k++) xd[k] = (float)k, td[k] = 0.0f;
    CHECK_OK(dc_graph_forward(g, 2, 1));
    const float *yd = dc_graph_data(g, y);
    for (int e = 0; e < 2; e++)
        for (int c = 0; c < 2; c++)
            for (int h = 0; h < 2; h++)
                for (int w = 0; w < 3; w++) CHECK(yd[e * 12 + (h * 3 + w) * 2 + c] == xd[e * 12 + c * 6 + h * 3 + w]);
    dc_graph_zero_grad(g);
    CHECK_OK(dc_graph_backward(g, l));
    const float *gx = dc_graph_grad(g, x); /* d(0.5 sum y^2 / N)/dx = x / N */
    for (int k = 0; k < 24; k++) CHECK_NEAR(gx[k], xd[k] / 2.0f, 1e-6);
    /* a rank other than [C, H, W] names the layer */
    dc_graph *g2 = NULL;
    CHECK_OK(dc_graph_create(&g2));
    dc_node v = dc_input(g2, "v", dc_shape1(5));
    CHECK(dc_channels_last(g2, v, "bad") == DC_NONE);
    CHECK_ERR(dc_graph_status(g2), DC_ERR_SHAPE);
    CHECK(strstr(dc_last_error(), "bad") != NULL);
    dc_graph_free(g2);
    dc_graph_free(g);
}

TEST(yolo_detdata_cache_batches_flip) {
    const char *dir = dc_test_det_tiny();
    CHECK(dir != NULL);
    if (!dir) return;
    char json[700];
    snprintf(json, sizeof json, "%s/train.json", dir);
    dc_detdata *d = NULL;
    CHECK_OK(dc_detdata_load(json, 5, 2, &d));
    if (!d) return;
    CHECK(d->n == 5 && d->h == 64 && d->w == 64 && d->classes == 10 && d->max_obj >= 1 && d->max_obj <= 3);
    CHECK(dc_detdata_gt(d)->n_images == 5);
    /* the cache holds the PNG's pixels */
    dc_image im = {0};
    CHECK_OK(dc_coco_image_read(d->coco, 2, &im));
    float *x = malloc(64 * 64 * sizeof(float)), *xb = malloc(5 * 64 * 64 * sizeof(float));
    float *tb = malloc((size_t)5 * d->max_obj * 5 * sizeof(float));
    dc_detdata_image(d, 2, 0, x);
    float worst = 0.0f;
    for (int k = 0; k < 64 * 64; k++) {
        float want = (im.data[k] - DC_DET_MEAN) / DC_DET_STD, e = fabsf(x[k] - want);
        if (e > worst) worst = e;
    }
    CHECK(worst < 1e-4f);
    dc_image_free(&im);
    /* flipped batches: pixels mirrored and cx -> 1 - cx for the same images, in file order */
    dc_detbatcher *b = NULL;
    CHECK_OK(dc_detbatcher_create(d, 5, 0, 1, &b));
    if (b) {
        dc_detbatcher_reset(b, 12);
        int64_t idx[5];
        CHECK(dc_detbatcher_next(b, xb, tb, idx) == 5);
        int flipped = 0;
        for (int k = 0; k < 5; k++) {
            CHECK(idx[k] == k);
            dc_detdata_image(d, k, 0, x);
            const float *xk = xb + k * 4096;
            int same = memcmp(xk, x, 4096 * sizeof(float)) == 0, mirror = 1;
            for (int r = 0; r < 64 && mirror; r++)
                for (int c = 0; c < 64; c++) mirror &= xk[r * 64 + c] == x[r * 64 + 63 - c];
            CHECK(same || mirror);
            int f = !same;
            flipped += f;
            for (int o = 0; o < d->max_obj; o++) {
                const float *t = tb + (k * d->max_obj + o) * 5, *u = d->targets + (k * d->max_obj + o) * 5;
                CHECK(t[0] == u[0] && t[2] == u[2] && t[3] == u[3] && t[4] == u[4]);
                if (u[0] >= 0) CHECK_NEAR(t[1], f ? 1.0f - u[1] : u[1], 1e-7);
            }
        }
        CHECK(dc_detbatcher_next(b, xb, tb, NULL) == 0);
        CHECK_MSG(flipped > 0 && flipped < 5, "%d of 5 flipped", flipped); /* seed 12 flips some, not all (a fixed draw) */
        /* shuffled: every image once */
        dc_detbatcher *s = NULL;
        CHECK_OK(dc_detbatcher_create(d, 2, 1, 0, &s));
        if (s) {
            dc_detbatcher_reset(s, 3);
            int seen[5] = {0}, total = 0;
            int64_t got, ix[2];
            while ((got = dc_detbatcher_next(s, NULL, NULL, ix)) > 0)
                for (int k = 0; k < got; k++) seen[ix[k]]++, total++;
            CHECK(total == 5 && dc_detbatcher_batches(s) == 3);
            for (int k = 0; k < 5; k++) CHECK(seen[k] == 1);
        }
        dc_detbatcher_free(s);
    }
    dc_detbatcher_free(b);
    free(x);
    free(xb);
    free(tb);
    dc_detdata_free(d);
    CHECK_ERR(dc_detdata_load("/nonexistent/train.json", 0, 1, &d), DC_ERR_IO);
    CHECK(d == NULL);
}

/* Overfit 16 images: the loss falls by a large factor and AP50 on the same images passes a floor;
 * then the best checkpoint's detections go through a results file and back to the same numbers. */
TEST(yolo_overfit_tiny_and_results_roundtrip) {
    const char *dir = dc_test_det_tiny();
    CHECK(dir != NULL);
    if (!dir) return;
    char json[700], run[700], ckpt[800], res[800];
    snprintf(json, sizeof json, "%s/train.json", dir);
    snprintf(run, sizeof run, "%s/yolo_run", dc_test_tmp_dir());
    /* the default model (yolo_mini), evaluated on the training images themselves */
    dc_det_train_config c = dc_test_det_overfit_config(NULL, json, run, 80, 8, 2e-3f);
    dc_det_train_result r;
    CHECK_OK(dc_det_train_run(&c, &r));
    CHECK(r.epochs_run == 80);
    CHECK_MSG(r.last_loss < r.first_loss / 10.0, "loss %g -> %g", r.first_loss, r.last_loss);
    CHECK_MSG(r.best_ap50 > 0.5, "best AP50 %g (last %g)", r.best_ap50, r.last_ap50);
    /* the best checkpoint: detections -> results file -> evaluator, the same numbers both ways */
    snprintf(ckpt, sizeof ckpt, "%s/best.safetensors", run);
    snprintf(res, sizeof res, "%s/results.json", run);
    dc_checkpoint_meta m;
    CHECK_OK(dc_checkpoint_read_meta(ckpt, &m));
    CHECK(!strcmp(m.model, DC_YOLO_MODEL) && m.num_classes == 10 && m.epoch == r.best_epoch);
    CHECK_NEAR(m.val_acc, r.best_ap50, 1e-5); /* metadata keeps 6 digits */
    dc_detdata *d = NULL;
    dc_yolo_net net = {0};
    dc_graph_opts go = {0};
    CHECK_OK(dc_detdata_load(json, 0, 1, &d));
    CHECK_OK(dc_yolo_net_create("yolo", 64, 2, 10, 0, 8, &go, &net));
    if (!d || !net.g) {
        dc_detdata_free(d);
        dc_yolo_net_free(&net);
        return;
    }
    CHECK_OK(dc_checkpoint_load(ckpt, net.g, NULL, NULL));
    dc_detection *dets = NULL, *back = NULL;
    int64_t n = 0, nb = 0;
    CHECK_OK(dc_yolo_detect_set(&net, d, 8, 0.01f, &dets, &n, NULL));
    CHECK(n > 0);
    CHECK_OK(dc_coco_results_write(res, dets, n));
    CHECK_OK(dc_coco_results_load(res, d->coco, DC_IOU_BBOX, &back, &nb));
    CHECK(nb == n);
    dc_cocoeval *e1 = NULL, *e2 = NULL;
    CHECK_OK(dc_cocoeval_run(dc_detdata_gt(d), dets, n, DC_IOU_BBOX, &e1));
    CHECK_OK(dc_cocoeval_run(dc_detdata_gt(d), back, nb, DC_IOU_BBOX, &e2));
    if (e1 && e2) {
        for (int k = 0; k < 12; k++) CHECK_NEAR(e1->stats[k], e2->stats[k], 1e-6);
        CHECK_NEAR(e1->stats[1], r.best_ap50, 1e-9); /* the same detections as at validation */
    }
    dc_cocoeval_free(e1);
    dc_cocoeval_free(e2);
    dc_detections_free(dets, n);
    dc_detections_free(back, nb);
    /* the network planned for another side refuses the set */
    dc_yolo_net other = {0};
    CHECK_OK(dc_yolo_net_create("yolo_mini", 32, 2, 10, 0, 2, &go, &other));
    CHECK_ERR(dc_yolo_detect_set(&other, d, 2, 0.01f, &dets, &n, NULL), DC_ERR_SHAPE);
    dc_yolo_net_free(&other);
    dc_yolo_net_free(&net);
    dc_detdata_free(d);
}

/* The three YOLO models: grid per stride, the class term each is trained with, a forward pass. */
TEST(yolo_models_grids_and_class_terms) {
    const struct { const char *name; int S, ce; } m[] = {{"yolo", 2, 0}, {"yolo_s8", 4, 0}, {"yolo_s16", 2, 1}};
    for (int k = 0; k < 3; k++) {
        dc_yolo_net net = {0};
        CHECK_OK(dc_yolo_net_create(m[k].name, 32, 2, 3, 2, 2, NULL, &net));
        CHECK_MSG(net.S == m[k].S && net.opts.class_softmax_ce == m[k].ce, "%s: S %d, softmax CE %d", m[k].name, net.S,
                  net.opts.class_softmax_ce);
        CHECK(dc_yolo_model_softmax(m[k].name) == m[k].ce);
        float *x = dc_graph_data(net.g, net.x), *t = dc_graph_data(net.g, net.targets);
        for (int i = 0; i < 2 * 32 * 32; i++) x[i] = (float)(i % 7) / 7.0f;
        const float rows[10] = {1, 0.3f, 0.6f, 0.2f, 0.3f, -1, 0, 0, 0, 0};
        memcpy(t, rows, sizeof rows);
        memcpy(t + 10, rows, sizeof rows);
        CHECK_OK(dc_graph_forward(net.g, 2, 1));
        CHECK(isfinite(dc_graph_loss(net.g, net.loss)));
        dc_yolo_net_free(&net);
    }
}

/* The YOLO output revision in checkpoints: recorded and read back, with and without stored model
 * text; a yolo_mini checkpoint that records none (it may predate the square-root outputs) or
 * another revision is refused by the detector loader, a yolo_s16 one without it is not. */
TEST(yolo_checkpoint_revision) {
    char path[700];
    snprintf(path, sizeof path, "%s/yolo_rev.safetensors", dc_test_tmp_dir());
    const struct { const char *model; int revision; dc_status want; } cases[] = {
        {"yolo_mini", DC_YOLO_REVISION, DC_OK}, {"yolo_mini", 0, DC_ERR_FORMAT}, {"yolo_s8", 0, DC_ERR_FORMAT},
        {"yolo_mini", DC_YOLO_REVISION + 1, DC_ERR_FORMAT}, {"yolo_s16", 0, DC_OK}, {"yolo_s16", DC_YOLO_REVISION, DC_OK}};
    for (int k = 0; k < (int)(sizeof cases / sizeof cases[0]); k++) {
        dc_detector det;
        CHECK_OK(dc_detector_create(cases[k].model, 32, 3, 0, 1, NULL, &det));
        if (!det.model) continue;
        dc_checkpoint_meta m = {.epoch = 1, .num_classes = 3, .batch = 1, .revision = cases[k].revision};
        snprintf(m.model, sizeof m.model, "%s", cases[k].model);
        CHECK_OK(dc_checkpoint_save(path, dc_detector_graph(&det), NULL, &m));
        dc_detector_free(&det);
        dc_checkpoint_meta back;
        CHECK_OK(dc_checkpoint_read_meta(path, &back));
        CHECK(back.revision == cases[k].revision && back.num_classes == 3);
        dc_error_clear();
        dc_status s = dc_detector_load(path, NULL, 32, 1, NULL, &det, &back);
        CHECK_MSG(s == cases[k].want, "%s revision %d: %s", cases[k].model, cases[k].revision, dc_last_error());
        if (s == DC_OK) dc_detector_free(&det);
        else CHECK(strstr(dc_last_error(), path) != NULL && strstr(dc_last_error(), "revision") != NULL);
    }
    /* the revision next to stored model text (metadata only: the text is stored as given) */
    dc_detector det;
    CHECK_OK(dc_detector_create("yolo_mini", 32, 3, 0, 1, NULL, &det));
    if (!det.model) return;
    dc_checkpoint_meta m = {.revision = 7, .model_text = "[net]\nname = custom\n"};
    snprintf(m.model, sizeof m.model, "custom");
    CHECK_OK(dc_checkpoint_save(path, dc_detector_graph(&det), NULL, &m));
    dc_detector_free(&det);
    dc_checkpoint_meta back;
    char *text = NULL;
    CHECK_OK(dc_checkpoint_read_meta(path, &back));
    CHECK_OK(dc_checkpoint_read_model_text(path, &text));
    CHECK(back.revision == 7 && text && !strcmp(text, m.model_text));
    free(text);
    m.revision = 0; /* none recorded: no revision entry, the text still read back */
    CHECK_OK(dc_detector_create("yolo_mini", 32, 3, 0, 1, NULL, &det));
    if (!det.model) return;
    CHECK_OK(dc_checkpoint_save(path, dc_detector_graph(&det), NULL, &m));
    dc_detector_free(&det);
    CHECK_OK(dc_checkpoint_read_meta(path, &back));
    CHECK_OK(dc_checkpoint_read_model_text(path, &text));
    CHECK(back.revision == 0 && text && !strcmp(text, m.model_text));
    free(text);
}

TEST(yolo_model_and_config_errors) {
    dc_yolo_net net = {0};
    CHECK_ERR(dc_yolo_net_create("yolo", 100, 2, 10, 0, 1, NULL, &net), DC_ERR_SHAPE); /* not a multiple of 16 */
    CHECK_ERR(dc_yolo_net_create("yolov9", 64, 2, 10, 0, 1, NULL, &net), DC_ERR_ARG);
    CHECK(strstr(dc_last_error(), "yolo_mini") != NULL);
    dc_det_train_config c;
    dc_det_train_config_defaults(&c);
    dc_det_train_result r;
    c.data_dir = "/nonexistent-deepc-data";
    c.quiet = 1;
    CHECK_ERR(dc_det_train_run(&c, &r), DC_ERR_IO);
    CHECK(strstr(dc_last_error(), "/nonexistent-deepc-data/train.json") != NULL);
    c.batch = 0;
    CHECK_ERR(dc_det_train_run(&c, &r), DC_ERR_ARG);
}

TEST(yolo_cli_errors) {
    char exe[PATH_MAX];
    if (!dc_test_deepc_exe(exe, sizeof exe)) {
        dc_test_skip("no deepc binary next to run_tests");
        return;
    }
    char cmd[2 * PATH_MAX + 600], err[2048], err_path[700], bad[700];
    snprintf(err_path, sizeof err_path, "%s/yolo_cli.err", dc_test_tmp_dir());
    snprintf(bad, sizeof bad, "%s/not_a_checkpoint.safetensors", dc_test_tmp_dir());
    FILE *f = fopen(bad, "wb");
    if (f) {
        fputs("this is not a safetensors file", f);
        fclose(f);
    }
    /* missing data */
    snprintf(cmd, sizeof cmd, "'%s' dettrain --data /nonexistent-deepc-data --out '%s/yolo_cli_run' --epochs 1 >/dev/null 2>'%s'",
             exe, dc_test_tmp_dir(), err_path);
    CHECK(dc_test_run_cli(cmd, err, sizeof err, err_path) == 1);
    CHECK_MSG(strstr(err, "/nonexistent-deepc-data/train.json") != NULL, "stderr: %s", err);
    /* no --out */
    snprintf(cmd, sizeof cmd, "'%s' dettrain --data /nonexistent-deepc-data >/dev/null 2>'%s'", exe, err_path);
    CHECK(dc_test_run_cli(cmd, err, sizeof err, err_path) == 2);
    CHECK_MSG(strstr(err, "--out") != NULL, "stderr: %s", err);
    /* a bad checkpoint: named, before any data is read */
    snprintf(cmd, sizeof cmd, "'%s' dettest --checkpoint '%s' --data /nonexistent-deepc-data >/dev/null 2>'%s'", exe, bad,
             err_path);
    CHECK(dc_test_run_cli(cmd, err, sizeof err, err_path) == 1);
    CHECK_MSG(strstr(err, "not_a_checkpoint.safetensors") != NULL, "stderr: %s", err);
    snprintf(cmd, sizeof cmd, "'%s' detect --checkpoint '%s' '%s' >/dev/null 2>'%s'", exe, bad, bad, err_path);
    CHECK(dc_test_run_cli(cmd, err, sizeof err, err_path) == 1);
    CHECK_MSG(strstr(err, "not_a_checkpoint.safetensors") != NULL, "stderr: %s", err);
    /* a missing image */
    const char *dir = dc_test_det_tiny();
    if (dir) {
        snprintf(cmd, sizeof cmd, "'%s' detect --checkpoint '%s/yolo_run/best.safetensors' /nonexistent.png >/dev/null 2>'%s'",
                 exe, dc_test_tmp_dir(), err_path);
        int rc = dc_test_run_cli(cmd, err, sizeof err, err_path);
        CHECK(rc == 1);
        CHECK_MSG(strstr(err, "nonexistent.png") != NULL || strstr(err, "best.safetensors") != NULL, "stderr: %s", err);
    }
    /* flags */
    snprintf(cmd, sizeof cmd, "'%s' dettest --checkpoint x --batch 0 >/dev/null 2>'%s'", exe, err_path);
    CHECK(dc_test_run_cli(cmd, err, sizeof err, err_path) == 2);
    snprintf(cmd, sizeof cmd, "'%s' detect --checkpoint x >/dev/null 2>'%s'", exe, err_path);
    CHECK(dc_test_run_cli(cmd, err, sizeof err, err_path) == 2);
    CHECK_MSG(strstr(err, "image") != NULL, "stderr: %s", err);
}
