/* test_rcnn.c — R-CNN: region warping (exact values on a linear image, the outside, flips), context
 * padding, mini-batch sampling ratios, ridge regression, a tiny overfit run (AP50 floor; the
 * checkpoint reloaded gives the same numbers), errors of the library and of the command line. */
#include "test.h"
#include "detfixture.h"
#include "data/detgen.h"
#include "detect/rcnn.h"
#include "train/rcnn_train.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static float norm(float v) { return (v / 255.0f - DC_DET_MEAN) / DC_DET_STD; }

TEST(rcnn_warp_exact) {
    enum { H = 20, W = 20 };
    uint8_t img[H * W];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) img[y * W + x] = (uint8_t)(3 * x + 5 * y); /* linear: bilinear is exact */
    float out[16 * 16];
    /* 8 x 8 box onto 8 x 8: every sample is a pixel centre */
    float b1[4] = {2, 4, 10, 12};
    dc_rcnn_warp(img, H, W, b1, 8, 0, out);
    int bad = 0;
    for (int v = 0; v < 8; v++)
        for (int u = 0; u < 8; u++) bad += fabsf(out[v * 8 + u] - norm((float)(3 * (2 + u) + 5 * (4 + v)))) > 1e-5f;
    CHECK(bad == 0);
    /* the same box onto 16 x 16: samples between centres, x = 2 + (u + 0.5) / 2 - 0.5 */
    dc_rcnn_warp(img, H, W, b1, 16, 0, out);
    bad = 0;
    for (int v = 0; v < 16; v++)
        for (int u = 0; u < 16; u++) {
            float fx = 2.0f + ((float)u + 0.5f) * 0.5f - 0.5f, fy = 4.0f + ((float)v + 0.5f) * 0.5f - 0.5f;
            bad += fabsf(out[v * 16 + u] - norm(3.0f * fx + 5.0f * fy)) > 1e-4f;
        }
    CHECK(bad == 0);
    /* flipped: the mirror image of the same warp */
    float fl[16 * 16];
    dc_rcnn_warp(img, H, W, b1, 16, 1, fl);
    bad = 0;
    for (int v = 0; v < 16; v++)
        for (int u = 0; u < 16; u++) bad += fl[v * 16 + u] != out[v * 16 + 15 - u];
    CHECK(bad == 0);
    /* partly outside: samples left of x = 0 read the mean (0); inside ones are exact */
    float b2[4] = {-8, 0, 8, 8};
    dc_rcnn_warp(img, H, W, b2, 8, 0, out);
    bad = 0;
    for (int v = 0; v < 8; v++)
        for (int u = 0; u < 8; u++) {
            float X = -8.0f + ((float)u + 0.5f) * 2.0f, fy = (float)v;
            float want = X < 0.0f ? 0.0f : norm(3.0f * (X - 0.5f) + 5.0f * fy);
            bad += fabsf(out[v * 8 + u] - want) > 1e-4f;
        }
    CHECK(bad == 0);
    /* between the border and the first centre the edge pixel is used (clamped) */
    float b3[4] = {0, 0, 1, 1};
    dc_rcnn_warp(img, H, W, b3, 8, 0, out);
    CHECK_NEAR(out[0], norm(0.0f), 1e-6);
}

TEST(rcnn_context_padding) {
    CHECK_NEAR(dc_rcnn_context_default(227), 16.0, 1e-5);
    CHECK_NEAR(dc_rcnn_context_default(32), 16.0 * 32 / 227, 1e-5);
    float box[4] = {10, 20, 30, 60}, d[4];
    dc_rcnn_dilate(box, 32, 2.0f, d);
    CHECK_NEAR(d[0], 10 - 2.0 * 20 / 28, 1e-5);
    CHECK_NEAR(d[1], 20 - 2.0 * 40 / 28, 1e-5);
    CHECK_NEAR(d[2], 30 + 2.0 * 20 / 28, 1e-5);
    CHECK_NEAR(d[3], 60 + 2.0 * 40 / 28, 1e-5);
    /* in the warped frame the original box spans [pad, side - pad] on both axes */
    CHECK_NEAR((box[0] - d[0]) / (d[2] - d[0]) * 32, 2.0, 1e-4);
    CHECK_NEAR((box[3] - d[1]) / (d[3] - d[1]) * 32, 30.0, 1e-4);
    /* no padding: the box itself; a degenerate box becomes 1 pixel around its centre */
    dc_rcnn_dilate(box, 32, 0.0f, d);
    CHECK(memcmp(d, box, sizeof d) == 0);
    float flat[4] = {5, 5, 5, 9};
    dc_rcnn_dilate(flat, 32, 0.0f, d);
    CHECK_NEAR(d[0], 4.5, 1e-6);
    CHECK_NEAR(d[2], 5.5, 1e-6);
}

TEST(rcnn_sampling_ratios) {
    enum { NI = 10, NW = 50 };
    int64_t first[NI + 1];
    uint8_t label[NI * NW];
    int32_t fg[NI * NW][2];
    int64_t nfg = 0;
    for (int i = 0; i <= NI; i++) first[i] = (int64_t)i * NW;
    for (int i = 0; i < NI; i++)
        for (int q = 0; q < NW; q++) {
            int f = (i * 7 + q) % 20 == 0; /* 5% foreground */
            label[i * NW + q] = (uint8_t)(f ? 1 + (q % 3) : 0);
            if (f) fg[nfg][0] = i, fg[nfg][1] = q, nfg++;
        }
    dc_rcnn_windows w = {NI, first, label, (const int32_t(*)[2])fg, nfg};
    dc_rng r;
    dc_rng_seed(&r, 11);
    int64_t pick[128][2];
    int n_fg = -1;
    for (int rep = 0; rep < 5; rep++) {
        dc_rcnn_sample(&w, 128, 0.25f, &r, pick, &n_fg);
        CHECK(n_fg == 32);
        int fgc = 0, bgc = 0, bad = 0;
        for (int k = 0; k < 128; k++) {
            bad += pick[k][0] < 0 || pick[k][0] >= NI || pick[k][1] < 0 || pick[k][1] >= NW;
            int l = label[pick[k][0] * NW + pick[k][1]];
            if (k < 32) fgc += l > 0;
            else bgc += l == 0;
        }
        CHECK(bad == 0 && fgc == 32 && bgc == 96);
    }
    /* the same seed draws the same batch */
    int64_t a[128][2], b[128][2];
    dc_rng_seed(&r, 5);
    dc_rcnn_sample(&w, 128, 0.25f, &r, a, NULL);
    dc_rng_seed(&r, 5);
    dc_rcnn_sample(&w, 128, 0.25f, &r, b, NULL);
    CHECK(memcmp(a, b, sizeof a) == 0);
    /* no foreground at all: a batch of background */
    w.n_fg = 0;
    dc_rcnn_sample(&w, 64, 0.25f, &r, pick, &n_fg);
    CHECK(n_fg == 0);
    int bg = 0;
    for (int k = 0; k < 64; k++) bg += label[pick[k][0] * NW + pick[k][1]] == 0;
    CHECK(bg == 64);
}

TEST(rcnn_ridge_recovers_linear_map) {
    enum { F = 5, T = 2, N = 300 };
    const float A[T][F] = {{1.5f, -2.0f, 0.25f, 0.0f, 3.0f}, {-0.5f, 0.75f, 1.0f, -1.25f, 0.1f}}, bias[T] = {0.3f, -4.0f};
    dc_ridge *rg = NULL;
    CHECK_OK(dc_ridge_create(F, T, &rg));
    if (!rg) return;
    float w[T * (F + 1)];
    CHECK_OK(dc_ridge_solve(rg, 1.0, w)); /* no samples: zeros */
    CHECK(w[0] == 0.0f && w[T * (F + 1) - 1] == 0.0f);
    CHECK_ERR(dc_ridge_solve(rg, -1.0, w), DC_ERR_ARG);
    dc_rng r;
    dc_rng_seed(&r, 2);
    for (int i = 0; i < N; i++) {
        float x[F], y[T];
        for (int f = 0; f < F; f++) x[f] = dc_rng_normal(&r);
        for (int t = 0; t < T; t++) {
            y[t] = bias[t];
            for (int f = 0; f < F; f++) y[t] += A[t][f] * x[f];
        }
        dc_ridge_add(rg, x, y);
    }
    CHECK_OK(dc_ridge_solve(rg, 1e-6, w));
    double err = 0.0;
    for (int t = 0; t < T; t++) {
        for (int f = 0; f < F; f++) err = fmax(err, fabs(w[t * (F + 1) + f] - A[t][f]));
        err = fmax(err, fabs(w[t * (F + 1) + F] - bias[t]));
    }
    CHECK_MSG(err < 1e-3, "largest error %g", err);
    /* a huge lambda shrinks the weights, not the bias (which becomes the mean target) */
    CHECK_OK(dc_ridge_solve(rg, 1e9, w));
    CHECK(fabsf(w[0]) < 1e-3f && fabsf(w[F + 1 + 3]) < 1e-3f);
    CHECK(fabsf(w[F] - bias[0]) < 0.5f);
    dc_ridge_free(rg);
    /* lambda 0 with fewer samples than unknowns: singular */
    CHECK_OK(dc_ridge_create(F, T, &rg));
    float x[F] = {1, 2, 3, 4, 5}, y[T] = {1, 1};
    dc_ridge_add(rg, x, y);
    CHECK_ERR(dc_ridge_solve(rg, 0.0, w), DC_ERR_NUMERIC);
    CHECK_OK(dc_ridge_solve(rg, 1.0, w));
    dc_ridge_free(rg);
}

/* Train on the 16 images of the shared tiny set and validate on the same ones: the network must separate the classes and the
 * background well enough for AP50 above a floor; the saved checkpoint, loaded again, gives the
 * numbers the job reported. */
TEST(rcnn_overfit_tiny) {
    const char *dir = dc_test_det_tiny();
    CHECK(dir != NULL);
    if (!dir) return;
    char json[700], run[700], ckpt[800];
    snprintf(json, sizeof json, "%s/train.json", dir);
    snprintf(run, sizeof run, "%s/rcnn_run", dc_test_tmp_dir());
    dc_rcnn_train_config c;
    dc_rcnn_train_config_defaults(&c);
    c.train_json = c.val_json = json;
    c.out_dir = run;
    c.side = 16;
    c.batch = 32;
    c.epochs = 4;
    c.steps_per_epoch = 40;
    c.threads = 1;
    c.warmup_epochs = 0.0f;
    c.optim = dc_optim_defaults(DC_OPTIM_ADAM, 3e-3f);
    c.quiet = getenv("DC_TEST_VERBOSE") == NULL;
    c.progress = 0;
    dc_rcnn_train_result r;
    CHECK_OK(dc_rcnn_train_run(&c, &r));
    CHECK(r.epochs_run == 4);
    CHECK_MSG(r.last_loss < r.first_loss, "loss %g -> %g", r.first_loss, r.last_loss);
    CHECK_MSG(r.val_ap50 > 0.6, "AP50 %g (per-epoch best %g)", r.val_ap50, r.best_ap50);
    snprintf(ckpt, sizeof ckpt, "%s/best.safetensors", run);
    dc_rcnn_model m;
    CHECK_OK(dc_rcnn_load(ckpt, 256, NULL, &m)); /* the job's batch: bitwise the same scores */
    if (!m.net.g) return;
    CHECK(m.net.C == 10 && m.set.side == 16 && m.meta.epoch == r.best_epoch);
    CHECK_NEAR(m.set.nms, r.nms, 1e-6);
    CHECK((m.bbreg != NULL) == (r.lambda > 0.0));
    dc_detdata *d = NULL;
    dc_rcnn_props *p = NULL;
    CHECK_OK(dc_detdata_load(json, 0, 1, &d));
    if (d) CHECK_OK(dc_rcnn_props_compute(d, &m.set.ss, 1, 0, &p));
    if (d && p) {
        dc_rcnn_detect_opts o = dc_rcnn_detect_opts_default(m.set.side);
        o.pad = m.set.pad;
        o.nms = m.set.nms;
        o.bbreg = m.bbreg;
        dc_detection *dets = NULL;
        int64_t n = 0;
        CHECK_OK(dc_rcnn_detect_set(&m, d, p, &o, &dets, &n, NULL));
        dc_cocoeval *ev = NULL;
        CHECK_OK(dc_cocoeval_run(dc_detdata_gt(d), dets, n, DC_IOU_BBOX, &ev));
        if (ev) {
            CHECK_NEAR(ev->stats[0], r.val_ap, 1e-9);
            CHECK_NEAR(ev->stats[1], r.val_ap50, 1e-9);
        }
        dc_cocoeval_free(ev);
        dc_detections_free(dets, n);
        /* recall of the proposals: every item of these clean images is found */
        float thr[1] = {0.5f};
        double rec = 0, mean = 0;
        CHECK_OK(dc_rcnn_props_recall(p, d->coco, 1, thr, &rec, &mean));
        CHECK_MSG(rec > 0.9 && mean > 5, "recall %g, %g proposals per image", rec, mean);
    }
    dc_rcnn_props_free(p);
    dc_detdata_free(d);
    dc_rcnn_model_free(&m);
}

TEST(rcnn_errors) {
    dc_rcnn_net net;
    CHECK_ERR(dc_rcnn_net_create(30, 10, 0, 4, NULL, &net), DC_ERR_ARG);
    CHECK_ERR(dc_rcnn_net_create(32, 0, 0, 4, NULL, &net), DC_ERR_ARG);
    CHECK_ERR(dc_rcnn_model_check("rcnn9", NULL), DC_ERR_ARG);
    CHECK(strstr(dc_last_error(), "rcnn_mini") != NULL);
    dc_rcnn_train_config c;
    dc_rcnn_train_config_defaults(&c);
    c.data_dir = "/nonexistent-deepc-data";
    c.quiet = 1;
    dc_rcnn_train_result r;
    CHECK_ERR(dc_rcnn_train_run(&c, &r), DC_ERR_IO);
    CHECK(strstr(dc_last_error(), "/nonexistent-deepc-data/train.json") != NULL);
    c.side = 12;
    CHECK_ERR(dc_rcnn_train_run(&c, &r), DC_ERR_ARG);
    /* a corrupt checkpoint is named */
    char bad[700];
    snprintf(bad, sizeof bad, "%s/rcnn_bad.safetensors", dc_test_tmp_dir());
    FILE *f = fopen(bad, "wb");
    if (f) {
        fputs("not a checkpoint at all", f);
        fclose(f);
    }
    dc_rcnn_model m;
    dc_status s = dc_rcnn_load(bad, 8, NULL, &m);
    CHECK(s != DC_OK && strstr(dc_last_error(), "rcnn_bad.safetensors") != NULL);
    CHECK(m.net.g == NULL && m.bbreg == NULL);
}

TEST(rcnn_cli_errors) {
    char exe[PATH_MAX];
    if (!dc_test_deepc_exe(exe, sizeof exe)) {
        dc_test_skip("no deepc binary next to run_tests");
        return;
    }
    char cmd[2 * PATH_MAX + 800], err[4096], err_path[700], bad[700];
    snprintf(err_path, sizeof err_path, "%s/rcnn_cli.err", dc_test_tmp_dir());
    snprintf(bad, sizeof bad, "%s/rcnn_not_a_checkpoint.safetensors", dc_test_tmp_dir());
    FILE *f = fopen(bad, "wb");
    if (f) {
        fputs("garbage", f);
        fclose(f);
    }
    /* proposals: missing data, bad mode */
    snprintf(cmd, sizeof cmd, "'%s' proposals --data /nonexistent-deepc-data >/dev/null 2>'%s'", exe, err_path);
    CHECK(dc_test_run_cli(cmd, err, sizeof err, err_path) == 1);
    CHECK_MSG(strstr(err, "/nonexistent-deepc-data/val.json") != NULL, "stderr: %s", err);
    snprintf(cmd, sizeof cmd, "'%s' proposals --mode slow >/dev/null 2>'%s'", exe, err_path);
    CHECK(dc_test_run_cli(cmd, err, sizeof err, err_path) == 2);
    CHECK_MSG(strstr(err, "slow") != NULL, "stderr: %s", err);
    /* dettrain/dettest/detect --model rcnn, once the commands route to R-CNN */
    snprintf(cmd, sizeof cmd, "'%s' dettrain --model rcnn --data /nonexistent-deepc-data --out '%s/rcnn_cli_run' >/dev/null 2>'%s'",
             exe, dc_test_tmp_dir(), err_path);
    int rc = dc_test_run_cli(cmd, err, sizeof err, err_path);
    if (strstr(err, "YOLO")) {
        dc_test_skip("deepc dettrain does not route --model rcnn yet");
        return;
    }
    CHECK(rc == 1);
    CHECK_MSG(strstr(err, "/nonexistent-deepc-data/train.json") != NULL, "stderr: %s", err);
    snprintf(cmd, sizeof cmd, "'%s' dettest --model rcnn --checkpoint '%s' --data /nonexistent-deepc-data >/dev/null 2>'%s'",
             exe, bad, err_path);
    CHECK(dc_test_run_cli(cmd, err, sizeof err, err_path) == 1);
    CHECK_MSG(strstr(err, "rcnn_not_a_checkpoint.safetensors") != NULL, "stderr: %s", err);
    snprintf(cmd, sizeof cmd, "'%s' detect --model rcnn --checkpoint '%s' '%s' >/dev/null 2>'%s'", exe, bad, bad, err_path);
    CHECK(dc_test_run_cli(cmd, err, sizeof err, err_path) == 1);
    CHECK_MSG(strstr(err, "rcnn_not_a_checkpoint.safetensors") != NULL, "stderr: %s", err);
    snprintf(cmd, sizeof cmd, "'%s' dettrain --model rcnn --data /x >/dev/null 2>'%s'", exe, err_path);
    CHECK(dc_test_run_cli(cmd, err, sizeof err, err_path) == 2);
    CHECK_MSG(strstr(err, "--out") != NULL, "stderr: %s", err);
}
