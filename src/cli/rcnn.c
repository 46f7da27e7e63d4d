/* rcnn.c — the R-CNN commands: `deepc proposals` (selective search over a split: proposals per
 * image, recall at IoU 0.5 / 0.7, time), and the functions behind `deepc dettrain/dettest/detect
 * --model rcnn` (training, evaluation of a split, one image).  Flag parsing and printing only;
 * docs/rcnn.md describes the algorithms and the numbers. */
#include "cli/cli.h"
#include "deepc.h"
#include "detect/rcnn.h"
#include "io/image.h"
#include "train/rcnn_train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


/* Selective-search flags shared by the commands: returns 1 when a handled flag, -1 on a bad value. */
static int ss_flag(const char *cmd, const char *a, const char *v, dc_selsearch_opts *o) {
    long n;
    double x;
    if (!strcmp(a, "--mode")) return dc_ss_mode_parse(v, &o->mode) == DC_OK ? 1 : (dc_cli_fail(cmd), -1);
    if (!strcmp(a, "--min-size-scale")) {
        if (dc_cli_float(cmd, a, v, 0.0, 100.0, &x)) return -1;
        o->min_size_scale = (float)x;
        return 1;
    }
    if (!strcmp(a, "--sigma")) {
        if (dc_cli_float(cmd, a, v, 0.0, 31.0, &x)) return -1;
        o->sigma = (float)x;
        return 1;
    }
    if (!strcmp(a, "--max-props")) {
        if (dc_cli_long(cmd, a, v, 0, 1000000, &n)) return -1;
        o->max_boxes = n;
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ proposals */
static const char *PROPOSALS_HELP =
    "usage: deepc proposals --data DIR [--split val] [--limit N] [--mode fast|quality|single]\n"
    "Selective search (grey) over a COCO-style split: mean proposals per image, recall of the\n"
    "ground-truth boxes at IoU 0.5 and 0.7, and milliseconds per image.\n\n"
    "  --data DIR            data set directory                               [/work/detdata]\n"
    "  --split NAME          DIR/NAME.json                                    [val]\n"
    "  --limit N             only the first N images\n"
    "  --mode NAME           fast (k 50, 100; 2 similarity sets) | quality (k 50..300; 4) | single  [fast]\n"
    "  --min-size-scale X    FH minimum component size = X * k                [0.5]\n"
    "  --sigma X             Gaussian smoothing before segmentation           [0.8]\n"
    "  --max-props N         keep the N best-ranked boxes (0: all)            [0]\n"
    "  --seed N              ranking seed                                     [1]\n"
    "  --threads N           [2]\n";

int dc_cli_proposals(int argc, char **argv) {
    const char *cmd = "proposals", *data = "/work/detdata", *split = "val";
    long limit = 0, threads = 2, seed = 1;
    dc_selsearch_opts o = dc_selsearch_opts_default();
    for (int i = 0; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(PROPOSALS_HELP, stdout); return 0; }
        if (!v) return dc_cli_bad(cmd, "missing value for", a);
        int k = ss_flag(cmd, a, v, &o);
        if (k < 0) return 2;
        if (k) continue;
        if (!strcmp(a, "--data")) data = v;
        else if (!strcmp(a, "--split")) split = v;
        else if (!strcmp(a, "--limit")) { if (dc_cli_long(cmd, a, v, 1, 2147483647L, &limit)) return 2; }
        else if (!strcmp(a, "--threads")) { if (dc_cli_long(cmd, a, v, 1, 256, &threads)) return 2; }
        else if (!strcmp(a, "--seed")) { if (dc_cli_long(cmd, a, v, 0, 2147483647L, &seed)) return 2; }
        else return dc_cli_bad(cmd, "unknown option", a);
    }
    o.seed = (uint64_t)seed;
    char path[1024];
    if (snprintf(path, sizeof path, "%s/%s.json", data, split) >= (int)sizeof path) return dc_cli_bad(cmd, "data path too long:", data);
    dc_detdata *d = NULL;
    dc_rcnn_props *p = NULL;
    dc_status s = dc_detdata_load(path, limit, (int)threads, &d);
    if (s == DC_OK) s = dc_rcnn_props_compute(d, &o, (int)threads, isatty(2), &p);
    const float thr[2] = {0.5f, 0.7f};
    double rec[2] = {0, 0}, mean = 0;
    if (s == DC_OK) s = dc_rcnn_props_recall(p, d->coco, 2, thr, rec, &mean);
    if (s == DC_OK) {
        int64_t ng = 0;
        for (int64_t i = 0; i < d->n; i++) ng += d->coco->images[i].ann_count;
        printf("%s: %lld images, %lld ground-truth boxes; selective search %s (sigma %g, min size %g k, max %lld)\n", path,
               (long long)d->n, (long long)ng, dc_ss_mode_name(o.mode), (double)o.sigma, (double)o.min_size_scale,
               (long long)o.max_boxes);
        printf("proposals per image %.1f  recall@0.5 %.4f  recall@0.7 %.4f  %.2f ms per image (one thread; %.2f ms wall "
               "per image on %ld threads)\n",
               mean, rec[0], rec[1], d->n ? 1000.0 * p->cpu_seconds / (double)d->n : 0.0,
               d->n ? 1000.0 * p->wall_seconds / (double)d->n : 0.0, threads);
    }
    dc_rcnn_props_free(p);
    dc_detdata_free(d);
    return s == DC_OK ? 0 : dc_cli_fail(cmd);
}

/* ------------------------------------------------------------------ training */
static const char *TRAIN_HELP =
    "usage: deepc dettrain --model rcnn --data DIR --out RUN [options]\n"
    "Train R-CNN (selective search + rcnn_mini on warped regions + box regression) on a COCO-style set:\n"
    "DIR/train.json and DIR/val.json.  Each epoch: val AP on the first --val-epoch-limit images; at the end\n"
    "box regressors (ridge) and the lambda / NMS threshold chosen on val.  RUN gets best.safetensors,\n"
    "metrics.csv, tune.csv and run.txt.\n\n"
    "  --model NAME          rcnn_mini (alias rcnn)                                 [rcnn_mini]\n"
    "  --data DIR            [/work/detdata]\n"
    "  --out DIR             run directory (created)\n"
    "  --epochs N            [6]\n"
    "  --steps N             mini-batches per epoch (0: training images / 8)        [0]\n"
    "  --batch N             regions per mini-batch                                [128]\n"
    "  --fg-fraction X       foreground share of a mini-batch                      [0.25]\n"
    "  --lr X                [1e-3]\n"
    "  --optimizer NAME      sgd | momentum | adagrad | rmsprop | adam             [adam]\n"
    "  --schedule NAME       constant | step | cosine                              [cosine]\n"
    "  --warmup X            epochs of linear warm-up                              [0.2]\n"
    "  --weight-decay X      [5e-4]\n"
    "  --side N              warp side                                             [32]\n"
    "  --context X           context padding in warped pixels (-1: 16 * side / 227) [-1]\n"
    "  --no-flip             no mirrored regions\n"
    "  --mode NAME           selective search fast | quality | single              [fast]\n"
    "  --min-size-scale X    [0.5]      --sigma X  [0.8]      --max-props N  [0: all]\n"
    "  --limit N             first N training images\n"
    "  --val-limit N         first N validation images (final tuning)\n"
    "  --val-epoch-limit N   validation images scored after each epoch             [200]\n"
    "  --reg-images N        training images for the box regressors                [2000]\n"
    "  --no-tune             lambda 1000 and NMS 0.3 instead of choosing them on val\n"
    "  --threads N           [2]\n"
    "  --seed N              [1]\n"
    "  --quiet               no per-epoch lines\n"
    "  --progress | --no-progress   progress on stderr (default: when stderr is a terminal)\n";

int dc_cli_rcnn_train(int argc, char **argv) {
    const char *cmd = "dettrain";
    dc_rcnn_train_config c;
    dc_rcnn_train_config_defaults(&c);
    dc_cli_train_flags f = DC_CLI_TRAIN_FLAGS_OF(c);
    for (int i = 0; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        double x;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(TRAIN_HELP, stdout); return 0; }
        else if (!strcmp(a, "--no-flip")) { c.flip = 0; i--; continue; }
        else if (!strcmp(a, "--no-tune")) { c.tune = 0; i--; continue; }
        else if (!strcmp(a, "--quiet")) { c.quiet = 1; i--; continue; }
        else if (dc_cli_progress_flag(a, &c.progress)) { i--; continue; }
        else if (!v) return dc_cli_bad(cmd, "missing value for", a);
        int k = ss_flag(cmd, a, v, &c.ss);
        if (!k) k = dc_cli_train_flag(cmd, a, v, 2, &f);
        if (k < 0) return 2;
        if (k) continue;
        if (!strcmp(a, "--steps")) { if (dc_cli_long(cmd, a, v, 0, 100000000L, &n)) return 2; c.steps_per_epoch = n; }
        else if (!strcmp(a, "--val-epoch-limit")) { if (dc_cli_long(cmd, a, v, 0, 2147483647L, &n)) return 2; c.val_epoch_limit = n; }
        else if (!strcmp(a, "--reg-images")) { if (dc_cli_long(cmd, a, v, 0, 2147483647L, &n)) return 2; c.reg_images = n; }
        else if (!strcmp(a, "--side")) { if (dc_cli_long(cmd, a, v, 8, 256, &n)) return 2; c.side = (int)n; }
        else if (!strcmp(a, "--context")) { if (dc_cli_float(cmd, a, v, -1.0, 128.0, &x)) return 2; c.pad = (float)x; }
        else if (!strcmp(a, "--fg-fraction")) { if (dc_cli_float(cmd, a, v, 0.01, 1.0, &x)) return 2; c.fg_fraction = (float)x; }
        else return dc_cli_bad(cmd, "unknown option", a);
    }
    int st = dc_cli_train_optim(cmd, &f, &c.optim);
    if (st) return st;
    DC_CLI_TRAIN_FLAGS_STORE(f, c);
    dc_rcnn_train_result r;
    if (dc_rcnn_train_run(&c, &r) != DC_OK) return dc_cli_fail(cmd);
    return 0;
}

/* ------------------------------------------------------------------ evaluation */
static const char *TEST_HELP =
    "usage: deepc dettest --model rcnn --checkpoint C --data DIR [--split test] [--out results.json] [options]\n"
    "Run an R-CNN checkpoint over a split: selective search, warped regions scored by the CNN, box\n"
    "regression, per-class NMS.  Writes a COCO results file, prints COCO's 12 numbers and the time per\n"
    "image (selective search and the rest separately).\n\n"
    "  --checkpoint FILE   written by deepc dettrain --model rcnn\n"
    "  --data DIR          [/work/detdata]\n"
    "  --split NAME        [test]\n"
    "  --out FILE          results JSON\n"
    "  --json FILE         the evaluation's numbers as JSON\n"
    "  --threshold X       class probability kept                       [0.01]\n"
    "  --nms X             per-class NMS IoU (default: the checkpoint's, chosen on val)\n"
    "  --no-bbreg          without box regression\n"
    "  --limit N           only the first N images\n"
    "  --batch N           regions per forward pass                     [256]\n"
    "  --threads N         [2]\n"
    "  --per-class         also print the table per category\n";

int dc_cli_rcnn_test(int argc, char **argv) {
    const char *cmd = "dettest", *ckpt = NULL, *data = "/work/detdata", *split = "test", *out = NULL, *json = NULL;
    const char *model = DC_RCNN_MODEL;
    long batch = 256, threads = 2, limit = 0;
    double thresh = 0.01, nms = -1.0;
    int per_class = 0, no_reg = 0;
    for (int i = 0; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(TEST_HELP, stdout); return 0; }
        else if (!strcmp(a, "--per-class")) { per_class = 1; i--; continue; }
        else if (!strcmp(a, "--no-bbreg")) { no_reg = 1; i--; continue; }
        else if (!v) return dc_cli_bad(cmd, "missing value for", a);
        else if (!strcmp(a, "--checkpoint")) ckpt = v;
        else if (!strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "--data")) data = v;
        else if (!strcmp(a, "--split")) split = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--json")) json = v;
        else if (!strcmp(a, "--threshold")) { if (dc_cli_float(cmd, a, v, 0.0, 1.0, &thresh)) return 2; }
        else if (!strcmp(a, "--nms")) { if (dc_cli_float(cmd, a, v, 0.0, 1.0, &nms)) return 2; }
        else if (!strcmp(a, "--limit")) { if (dc_cli_long(cmd, a, v, 1, 2147483647L, &limit)) return 2; }
        else if (!strcmp(a, "--batch")) { if (dc_cli_long(cmd, a, v, 1, 4096, &batch)) return 2; }
        else if (!strcmp(a, "--threads")) { if (dc_cli_long(cmd, a, v, 1, 256, &threads)) return 2; }
        else return dc_cli_bad(cmd, "unknown option", a);
    }
    if (!ckpt) return dc_cli_bad(cmd, "--checkpoint FILE is required", NULL);
    if (dc_rcnn_model_check(model, NULL) != DC_OK) return dc_cli_fail(cmd);
    char path[1024];
    if (snprintf(path, sizeof path, "%s/%s.json", data, split) >= (int)sizeof path) return dc_cli_bad(cmd, "data path too long:", data);
    dc_pool *pool = NULL;
    dc_rcnn_model m;
    memset(&m, 0, sizeof m);
    dc_detdata *d = NULL;
    dc_rcnn_props *p = NULL;
    dc_detection *dets = NULL;
    int64_t n = 0;
    dc_cocoeval *ev = NULL;
    double infer = 0.0;
    dc_status s = dc_pool_create((int)threads, &pool);
    dc_graph_opts go = {.pool = pool};
    if (s == DC_OK) s = dc_rcnn_load(ckpt, batch, &go, &m); /* a bad checkpoint fails before the data is read */
    if (s == DC_OK) s = dc_detdata_load(path, limit, (int)threads, &d);
    if (s == DC_OK) s = dc_rcnn_props_compute(d, &m.set.ss, (int)threads, isatty(2), &p);
    dc_rcnn_detect_opts o = dc_rcnn_detect_opts_default(m.set.side);
    o.pad = m.set.pad;
    o.nms = nms >= 0.0 ? (float)nms : m.set.nms;
    o.score_thresh = (float)thresh;
    o.bbreg = no_reg ? NULL : m.bbreg;
    if (s == DC_OK) s = dc_rcnn_detect_set(&m, d, p, &o, &dets, &n, &infer);
    if (s == DC_OK && out) s = dc_coco_results_write(out, dets, n);
    if (s == DC_OK) s = dc_cocoeval_run(dc_detdata_gt(d), dets, n, DC_IOU_BBOX, &ev);
    if (s == DC_OK) {
        printf("%s on %s (%lld images, %lld detections with probability > %g; NMS %.2f, box regression %s)\n", ckpt, path,
               (long long)d->n, (long long)n, thresh, (double)o.nms, o.bbreg ? "on" : "off");
        dc_cocoeval_print(ev, dc_detdata_gt(d), per_class, stdout);
        printf("AP@[.5:.95] %.4f  AP50 %.4f  AP75 %.4f\n", ev->stats[0], ev->stats[1], ev->stats[2]);
        double nd = d->n ? (double)d->n : 1.0;
        printf("proposals %.1f per image; inference %.1f ms per image = selective search %.1f ms (one thread; %.1f ms wall "
               "on %ld threads) + warp/CNN/regression/NMS %.1f ms (batch %ld, %ld threads)\n",
               (double)p->first[p->n_images] / nd, 1000.0 * (p->wall_seconds + infer) / nd, 1000.0 * p->cpu_seconds / nd,
               1000.0 * p->wall_seconds / nd, threads, 1000.0 * infer / nd, batch, threads);
        if (out) printf("results: %s\n", out);
        if (json) s = dc_cocoeval_write_json(json, ev, dc_detdata_gt(d));
    }
    dc_cocoeval_free(ev);
    dc_detections_free(dets, n);
    dc_rcnn_props_free(p);
    dc_detdata_free(d);
    dc_rcnn_model_free(&m);
    dc_pool_free(pool);
    return s == DC_OK ? 0 : dc_cli_fail(cmd);
}

/* ------------------------------------------------------------------ one image */
static const char *DETECT_HELP =
    "usage: deepc detect --model rcnn --checkpoint C IMAGE [--out boxes.png] [options]\n"
    "Detect objects in one image (PNG or PGM/PPM, converted to grey) with an R-CNN checkpoint: one line\n"
    "per detection (class, probability, box [x1, y1, x2, y2] in pixels); --out draws them.\n\n"
    "  --checkpoint FILE   written by deepc dettrain --model rcnn\n"
    "  --out FILE          picture with the detections (PNG, or PPM by its name)\n"
    "  --threshold X       class probability                            [0.5]\n"
    "  --nms X             per-class NMS IoU (default: the checkpoint's)\n"
    "  --threads N         [2]\n";

int dc_cli_rcnn_detect(int argc, char **argv) {
    const char *cmd = "detect";
    dc_cli_detect_args d = {.model = DC_RCNN_MODEL, .thresh = 0.5, .nms = -1.0, .threads = 2};
    int rc = dc_cli_detect_parse(argc, argv, DETECT_HELP, 0, &d);
    if (rc >= 0) return rc;
    const char *ckpt = d.ckpt, *model = d.model, *out = d.out, *image = d.image;
    const double thresh = d.thresh, nms = d.nms;
    const long threads = d.threads;
    if (dc_rcnn_model_check(model, NULL) != DC_OK) return dc_cli_fail(cmd);
    dc_pool *pool = NULL;
    dc_rcnn_model m;
    memset(&m, 0, sizeof m);
    dc_image src = {0}, grey = {0}, pic = {0};
    uint8_t *px = NULL;
    float *props = NULL, *probs = NULL, *feats = NULL, boxes[100 * 4], scores[100];
    int32_t classes[100];
    int64_t np = 0, nd = 0;
    dc_status s = dc_pool_create((int)threads, &pool);
    dc_graph_opts go = {.pool = pool};
    if (s == DC_OK) s = dc_rcnn_load(ckpt, 256, &go, &m);
    if (s == DC_OK) s = dc_image_read(image, &src);
    if (s == DC_OK) s = dc_image_convert(&src, 1, &grey);
    if (s == DC_OK && (grey.h < 2 || grey.w < 2)) s = DC_ERR(DC_ERR_ARG, "%s: image %dx%d is too small", image, grey.w, grey.h);
    double t0 = dc_clock_s(), t_ss = 0.0;
    if (s == DC_OK) {
        int64_t npix = (int64_t)grey.h * grey.w;
        px = malloc((size_t)npix);
        if (!px) s = DC_ERR(DC_ERR_NOMEM, "image bytes");
        for (int64_t k = 0; s == DC_OK && k < npix; k++) px[k] = (uint8_t)lrintf(grey.data[k] * 255.0f);
    }
    if (s == DC_OK) s = dc_selsearch(px, grey.h, grey.w, &m.set.ss, &props, &np);
    t_ss = dc_clock_s() - t0;
    if (s == DC_OK) {
        probs = malloc((size_t)((np > 0 ? np : 1) * (m.net.C + 1)) * sizeof *probs);
        feats = malloc((size_t)((np > 0 ? np : 1) * DC_RCNN_FEATURES) * sizeof *feats);
        if (!probs || !feats) s = DC_ERR(DC_ERR_NOMEM, "scores of %lld proposals", (long long)np);
    }
    if (s == DC_OK) s = dc_rcnn_score(&m.net, px, grey.h, grey.w, props, np, m.set.pad, probs, feats);
    dc_rcnn_detect_opts o = dc_rcnn_detect_opts_default(m.set.side);
    o.pad = m.set.pad;
    o.nms = nms >= 0.0 ? (float)nms : m.set.nms;
    o.score_thresh = (float)thresh;
    o.bbreg = m.bbreg;
    o.max_dets = 100;
    if (s == DC_OK)
        s = dc_rcnn_postprocess(&o, m.net.C, np, props, probs, feats, grey.h, grey.w, boxes, scores, classes, &nd);
    double t_all = dc_clock_s() - t0;
    if (s == DC_OK) {
        printf("%s: %lld detections (probability > %g), %dx%d image, %lld proposals, %.1f ms (selective search %.1f ms)\n",
               image, (long long)nd, thresh, grey.w, grey.h, (long long)np, 1000.0 * t_all, 1000.0 * t_ss);
        for (int64_t q = 0; q < nd; q++) {
            int k = classes[q] - 1;
            printf("  class %2d %-12s score %.3f  box [%.1f, %.1f, %.1f, %.1f]\n", k, dc_cli_class_name(m.net.C, k),
                   (double)scores[q], (double)boxes[q * 4], (double)boxes[q * 4 + 1], (double)boxes[q * 4 + 2],
                   (double)boxes[q * 4 + 3]);
        }
    }
    if (s == DC_OK && out) {
        s = dc_image_convert(&grey, 3, &pic);
        for (int64_t q = nd - 1; s == DC_OK && q >= 0; q--) { /* the best on top */
            dc_cli_draw_detection(&pic, boxes + q * 4, m.net.C, classes[q] - 1, scores[q]);
        }
        if (s == DC_OK) s = dc_image_write(out, &pic);
        if (s == DC_OK) printf("wrote %s\n", out);
    }
    free(px), free(props), free(probs), free(feats);
    dc_image_free(&src), dc_image_free(&grey), dc_image_free(&pic);
    dc_rcnn_model_free(&m);
    dc_pool_free(pool);
    return s == DC_OK ? 0 : dc_cli_fail(cmd);
}
