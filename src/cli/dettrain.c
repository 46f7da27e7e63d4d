/* dettrain.c — the detector commands: `deepc dettrain` (training, dc_det_train_run), `deepc dettest`
 * (a checkpoint over a split: COCO results JSON, AP numbers, inference time) and `deepc detect`
 * (one image: detections printed and drawn), for every detector of detect/detector.h.  Flag
 * parsing and printing only, plus the drawing of boxes (and masks) on a picture.  docs/detection.md
 * describes the models, the targets and the numbers. */
#include "cli/cli.h"
#include "deepc.h"
#include "detect/cocoeval.h"
#include "detect/detector.h"
#include "detect/rcnn.h"
#include "detect/selsearch.h"
#include "io/image.h"
#include "train/det_train.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int dc_cli_dettrain(int argc, char **argv);
int dc_cli_dettest(int argc, char **argv);
int dc_cli_detect(int argc, char **argv);

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------------ dettrain */
static const char *DETTRAIN_HELP =
    "usage: deepc dettrain --data DIR --out RUN [options]\n"
    "Train a detector on a COCO-style set: DIR/train.json and DIR/val.json with their images\n"
    "(deepc detgen's layout).  Each epoch: validation AP, AP50, AP75 on the val split; RUN gets\n"
    "best.safetensors (best val AP50), last.safetensors, metrics.csv and run.txt.\n\n"
    "  --model NAME        yolo_mini (alias yolo) | yolo_s8 | yolo_s16 | faster_rcnn | mask_rcnn |\n"
    "                      fast_rcnn (selective search proposals, computed first) | rcnn (its\n"
    "                      own flags: deepc dettrain --model rcnn --help)         [yolo_mini]\n"
    "  --data DIR          data set directory                                     [/work/detdata]\n"
    "  --out DIR           run directory (created)\n"
    "  --init-from FILE    start the layers FILE shares by name from it: a pre-trained backbone\n"
    "                      (deepc train --model det_backbone; frcnn_mini's, yolo_s8's, yolo_s16's)\n"
    "  --resume FILE       continue an interrupted run from RUN/last.safetensors, with the\n"
    "                      same command otherwise (same --out, --epochs, --batch, --seed)\n"
    "  --epochs N          [10]\n"
    "  --batch N           [32]\n"
    "  --lr X              learning rate                                          [1e-3]\n"
    "  --optimizer NAME    sgd | momentum | adagrad | rmsprop | adam              [adam]\n"
    "  --schedule NAME     constant | step | cosine                               [cosine]\n"
    "  --warmup X          epochs of linear learning-rate warm-up                 [1]\n"
    "  --weight-decay X    on convolution weights                                 [5e-4]\n"
    "  --no-flip           no random horizontal flips\n"
    "  --limit N           use only the first N training images\n"
    "  --val-limit N       use only the first N validation images\n"
    "  --threads N         [2]\n"
    "  --seed N            [1]\n"
    "  --quiet             no per-epoch lines\n"
    "  --progress | --no-progress   progress bar on stderr (default: when stderr is a terminal)\n";

/* The value of `flag` in argv (NULL when absent). */
static const char *flag_value(int argc, char **argv, const char *flag) {
    for (int i = 0; i + 1 < argc; i++)
        if (!strcmp(argv[i], flag)) return argv[i + 1];
    return NULL;
}

/* R-CNN keeps its own job and checkpoint format (rcnn.c): --model rcnn, or an R-CNN checkpoint. */
static int is_rcnn(int argc, char **argv) {
    const char *m = flag_value(argc, argv, "--model"), *ck = flag_value(argc, argv, "--checkpoint");
    int yes = 0;
    dc_checkpoint_meta meta;
    if (m) yes = dc_rcnn_model_check(m, NULL) == DC_OK;
    else if (ck && dc_checkpoint_read_meta(ck, &meta) == DC_OK) yes = dc_rcnn_model_check(meta.model, NULL) == DC_OK;
    dc_error_clear();
    return yes;
}

int dc_cli_dettrain(int argc, char **argv) {
    const char *cmd = "dettrain";
    if (is_rcnn(argc, argv)) return dc_cli_rcnn_train(argc, argv);
    dc_det_train_config c;
    dc_det_train_config_defaults(&c);
    dc_cli_train_flags f = DC_CLI_TRAIN_FLAGS_OF(c);
    for (int i = 0; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(DETTRAIN_HELP, stdout); return 0; }
        else if (!strcmp(a, "--no-flip")) { c.flip = 0; i--; continue; }
        else if (!strcmp(a, "--quiet")) { c.quiet = 1; i--; continue; }
        else if (dc_cli_progress_flag(a, &c.progress)) { i--; continue; }
        else if (!v) return dc_cli_bad(cmd, "missing value for", a);
        int k = dc_cli_train_flag(cmd, a, v, 1, &f);
        if (k < 0) return 2;
        if (k) continue;
        if (!strcmp(a, "--resume")) c.resume = v;
        else if (!strcmp(a, "--init-from")) c.init_from = v;
        else return dc_cli_bad(cmd, "unknown option", a);
    }
    int st = dc_cli_train_optim(cmd, &f, &c.optim);
    if (st) return st;
    DC_CLI_TRAIN_FLAGS_STORE(f, c);
    dc_det_train_result r;
    if (dc_det_train_run(&c, &r) != DC_OK) return dc_cli_fail(cmd);
    return 0;
}

/* ------------------------------------------------------------------ dettest */
static const char *DETTEST_HELP =
    "usage: deepc dettest --checkpoint C --data DIR [--split test] [--out results.json] [options]\n"
    "Run a detector checkpoint over a split (DIR/SPLIT.json and its images), write the detections as a COCO\n"
    "results file (readable by deepc deteval), print COCO's 12 numbers (AP@[.5:.95], AP50, AP75, ...)\n"
    "and the inference time per image.\n\n"
    "  --checkpoint FILE   a checkpoint written by deepc dettrain\n"
    "  --data DIR          data set directory                              [/work/detdata]\n"
    "  --split NAME        train | val | test (DIR/NAME.json)              [test]\n"
    "  --out FILE          results JSON\n"
    "  --json FILE         the evaluation's numbers as JSON\n"
    "  --threshold X       score threshold of the detections kept          [0.01]\n"
    "  --limit N           only the first N images\n"
    "  --batch N           images per forward pass                         [32]\n"
    "  --threads N         [2]\n"
    "  --per-class         also print the table per category\n";

int dc_cli_dettest(int argc, char **argv) {
    if (is_rcnn(argc, argv)) return dc_cli_rcnn_test(argc, argv);
    const char *cmd = "dettest", *ckpt = NULL, *data = "/work/detdata", *split = "test", *out = NULL, *json = NULL;
    long batch = 32, threads = 2, limit = 0;
    double thresh = 0.01;
    int per_class = 0;
    for (int i = 0; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(DETTEST_HELP, stdout); return 0; }
        else if (!strcmp(a, "--per-class")) { per_class = 1; i--; continue; }
        else if (!v) return dc_cli_bad(cmd, "missing value for", a);
        else if (!strcmp(a, "--checkpoint")) ckpt = v;
        else if (!strcmp(a, "--data")) data = v;
        else if (!strcmp(a, "--split")) split = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--json")) json = v;
        else if (!strcmp(a, "--threshold")) { if (dc_cli_float(cmd, a, v, 0.0, 1.0, &thresh)) return 2; }
        else if (!strcmp(a, "--limit")) { if (dc_cli_long(cmd, a, v, 1, 2147483647L, &limit)) return 2; }
        else if (!strcmp(a, "--batch")) { if (dc_cli_long(cmd, a, v, 1, 4096, &batch)) return 2; }
        else if (!strcmp(a, "--threads")) { if (dc_cli_long(cmd, a, v, 1, 256, &threads)) return 2; }
        else return dc_cli_bad(cmd, "unknown option", a);
    }
    if (!ckpt) return dc_cli_bad(cmd, "--checkpoint FILE is required", NULL);
    char path[1024];
    if (snprintf(path, sizeof path, "%s/%s.json", data, split) >= (int)sizeof path)
        return dc_cli_bad(cmd, "data path too long:", data);
    dc_detdata *d = NULL;
    dc_pool *pool = NULL;
    dc_detector net = {0};
    dc_checkpoint_meta m;
    dc_detection *dets = NULL;
    int64_t n = 0;
    dc_cocoeval *ev = NULL;
    double infer = 0.0;
    dc_status s = dc_checkpoint_read_meta(ckpt, &m); /* a bad checkpoint fails before the data is read */
    if (s == DC_OK) s = dc_detdata_load(path, limit, (int)threads, &d);
    if (s == DC_OK && d->h != d->w)
        s = DC_ERR(DC_ERR_SHAPE, "%s: images are %dx%d; the detectors need square images", path, d->w, d->h);
    if (s == DC_OK) s = dc_pool_create((int)threads, &pool);
    if (s == DC_OK) s = dc_detector_load(ckpt, NULL, d->h, batch, pool, &net, &m);
    if (s == DC_OK && m.num_classes != d->classes)
        s = DC_ERR(DC_ERR_SHAPE, "%s predicts %d classes, %s has %d categories", ckpt, m.num_classes, path, d->classes);
    dc_box_list *props = NULL; /* fast_rcnn: selective search first */
    float *prop_boxes = NULL;
    double ss_s = 0.0;
    if (s == DC_OK && !strcmp(net.model, DC_FAST_RCNN_MODEL))
        s = dc_det_selsearch_lists(d, (int)threads, 0, &props, &prop_boxes, &ss_s);
    if (s == DC_OK) s = dc_detector_detect_set(&net, d, batch, (float)thresh, props, &dets, &n, &infer);
    if (s == DC_OK && out) s = dc_coco_results_write(out, dets, n);
    if (s == DC_OK) s = dc_cocoeval_run(dc_detdata_gt(d), dets, n, DC_IOU_BBOX, &ev);
    if (s == DC_OK) {
        printf("%s on %s (%lld images, %lld detections with score > %g)\n", ckpt, path, (long long)d->n, (long long)n,
               thresh);
        dc_cocoeval_print(ev, dc_detdata_gt(d), per_class, stdout);
        printf("AP@[.5:.95] %.4f  AP50 %.4f  AP75 %.4f\n", ev->stats[0], ev->stats[1], ev->stats[2]);
    }
    if (s == DC_OK && dc_detector_has_masks(&net)) { /* Mask R-CNN: the masks evaluated too */
        dc_cocoeval *em = NULL;
        s = dc_cocoeval_run(dc_detdata_gt(d), dets, n, DC_IOU_SEGM, &em);
        if (s == DC_OK) {
            printf("masks:\n");
            dc_cocoeval_print(em, dc_detdata_gt(d), per_class, stdout);
            printf("mask AP@[.5:.95] %.4f  AP50 %.4f  AP75 %.4f\n", em->stats[0], em->stats[1], em->stats[2]);
        }
        dc_cocoeval_free(em);
    }
    if (s == DC_OK) {
        printf("inference %.2f ms per image (%s: forward + decode + NMS, batch %ld, %ld threads)\n",
               d->n ? 1000.0 * infer / (double)d->n : 0.0, net.model, batch, threads);
        if (props)
            printf("selective search %.2f ms per image (%ld threads); with it %.2f ms per image\n",
                   d->n ? 1000.0 * ss_s / (double)d->n : 0.0, threads,
                   d->n ? 1000.0 * (ss_s + infer) / (double)d->n : 0.0);
        if (out) printf("results: %s\n", out);
        if (json) s = dc_cocoeval_write_json(json, ev, dc_detdata_gt(d));
    }
    dc_cocoeval_free(ev);
    dc_detections_free(dets, n);
    free(props);
    free(prop_boxes);
    dc_detector_free(&net);
    dc_pool_free(pool);
    dc_detdata_free(d);
    return s == DC_OK ? 0 : dc_cli_fail(cmd);
}

/* ------------------------------------------------------------------ detect */
static const char *DETECT_HELP =
    "usage: deepc detect --checkpoint C IMAGE [--out boxes.png] [options]\n"
    "Detect objects in one image (PNG or PGM/PPM, converted to grey) with a detector checkpoint: prints one\n"
    "line per detection (class, score, box [x1, y1, x2, y2] in pixels) and with --out writes the image\n"
    "with the boxes drawn and labelled.  Images that are not square with a side that is a multiple of the\n"
    "model's stride (16 YOLO, 8 Faster R-CNN) are resized to --size x --size for the network; boxes\n"
    "are given in the original pixels.\n\n"
    "  --model NAME        yolo_mini | yolo_s8 | yolo_s16 | faster_rcnn | fast_rcnn | mask_rcnn | rcnn\n"
    "                      (checked against the checkpoint)                       [the checkpoint's]\n"
    "  --checkpoint FILE   a checkpoint written by deepc dettrain\n"
    "  --out FILE          picture with the detections (PNG, or PPM by its name)\n"
    "  --threshold X       score threshold                                 [0.2]\n"
    "  --nms X             IoU threshold of the per-class NMS              [0.5]\n"
    "  --size N            network input side for resized images           [160]\n"
    "  --threads N         [2]\n";

int dc_cli_detect(int argc, char **argv) {
    if (is_rcnn(argc, argv)) return dc_cli_rcnn_detect(argc, argv);
    const char *cmd = "detect";
    dc_cli_detect_args d = {.thresh = 0.2, .nms = 0.5, .size = 160, .threads = 2};
    int rc = dc_cli_detect_parse(argc, argv, DETECT_HELP, 1, &d);
    if (rc >= 0) return rc;
    const char *ckpt = d.ckpt, *model = d.model, *out = d.out, *image = d.image;
    const double thresh = d.thresh, nms = d.nms;
    const long size = d.size, threads = d.threads;
    if (model && dc_detector_check(model, &model) != DC_OK) return dc_cli_fail(cmd);
    dc_image src = {0}, grey = {0}, net_in = {0}, pic = {0};
    dc_pool *pool = NULL;
    dc_detector net = {0};
    dc_checkpoint_meta m;
    float *boxes = NULL, *scores = NULL;
    int32_t *classes = NULL;
    int64_t nd = 0;
    int stride = 0;
    dc_rle masks[100];
    memset(masks, 0, sizeof masks);
    dc_status s = dc_checkpoint_read_meta(ckpt, &m); /* a bad checkpoint fails before the image is read */
    if (s == DC_OK && (stride = dc_detector_stride(m.model)) == 0)
        s = DC_ERR(DC_ERR_FORMAT, "%s holds model '%s', not a detector (train one with deepc dettrain)", ckpt, m.model);
    if (s == DC_OK && size % stride != 0)
        s = DC_ERR(DC_ERR_ARG, "--size %ld is not a multiple of %d (%s)", size, stride, m.model);
    if (s == DC_OK) s = dc_image_read(image, &src);
    if (s == DC_OK) s = dc_image_convert(&src, 1, &grey);
    int side = 0;
    if (s == DC_OK) {
        int direct = grey.h == grey.w && grey.h % stride == 0;
        side = direct ? grey.h : (int)size;
        s = direct ? dc_image_convert(&grey, 1, &net_in) : dc_image_resize(&grey, side, side, &net_in);
    }
    if (s == DC_OK) s = dc_pool_create((int)threads, &pool);
    if (s == DC_OK) s = dc_detector_load(ckpt, model, side, 1, pool, &net, &m);
    double t_ms = 0.0;
    if (s == DC_OK) {
        dc_det_normalise(net_in.data, (int64_t)side * side, dc_detector_images(&net));
        boxes = malloc(100 * 4 * sizeof *boxes);
        scores = malloc(100 * sizeof *scores);
        classes = malloc(100 * sizeof *classes);
        if (!boxes || !scores || !classes) s = DC_ERR(DC_ERR_NOMEM, "detections");
        double t0 = now_s();
        dc_box_list props = {0, NULL}; /* fast_rcnn: selective search on the network's input */
        if (s == DC_OK && !strcmp(net.model, DC_FAST_RCNN_MODEL)) {
            uint8_t *px = malloc((size_t)side * side);
            if (!px) s = DC_ERR(DC_ERR_NOMEM, "image bytes");
            for (int64_t i = 0; s == DC_OK && i < (int64_t)side * side; i++) {
                float v = net_in.data[i] * 255.0f + 0.5f;
                px[i] = (uint8_t)(v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v);
            }
            dc_selsearch_opts so = dc_selsearch_opts_default();
            so.max_boxes = DC_FAST_RCNN_PROPOSALS;
            if (s == DC_OK) s = dc_selsearch(px, side, side, &so, &props.boxes, &props.n);
            free(px);
        }
        if (s == DC_OK)
            s = dc_detector_detect(&net, 1, (float)thresh, (float)nms, props.boxes ? &props : NULL, boxes, scores, classes,
                                   &nd, masks);
        free(props.boxes);
        t_ms = 1000.0 * (now_s() - t0);
        /* from the network's pixels back to the image's */
        float sx = (float)grey.w / (float)side, sy = (float)grey.h / (float)side;
        for (int64_t q = 0; s == DC_OK && q < nd; q++) {
            boxes[4 * q] *= sx;
            boxes[4 * q + 1] *= sy;
            boxes[4 * q + 2] *= sx;
            boxes[4 * q + 3] *= sy;
        }
    }
    if (s == DC_OK) {
        printf("%s: %lld detections (score > %g), %dx%d image, %s %dx%d, %.1f ms\n", image, (long long)nd, thresh,
               grey.w, grey.h, net.model, side, side, t_ms);
        for (int64_t q = 0; q < nd; q++) {
            int k = classes[q];
            printf("  class %2d %-12s score %.3f  box [%.1f, %.1f, %.1f, %.1f]", k,
                   dc_cli_class_name(dc_detector_classes(&net), k), scores[q], boxes[q * 4], boxes[q * 4 + 1],
                   boxes[q * 4 + 2], boxes[q * 4 + 3]);
            if (masks[q].h) printf("  mask %llu px", (unsigned long long)dc_rle_area(&masks[q]));
            printf("\n");
        }
    }
    if (s == DC_OK && out) {
        s = dc_image_convert(&grey, 3, &pic);
        uint8_t *mp = masks[0].h ? malloc((size_t)side * side) : NULL;
        for (int64_t q = nd - 1; s == DC_OK && mp && q >= 0; q--) { /* masks first, then boxes; the best on top */
            dc_rle_decode(&masks[q], mp);
            dc_cli_tint_mask(&pic, mp, side, classes[q]);
        }
        free(mp);
        for (int64_t q = nd - 1; s == DC_OK && q >= 0; q--)
            dc_cli_draw_detection(&pic, boxes + 4 * q, dc_detector_classes(&net), classes[q], scores[q]);
        if (s == DC_OK) s = dc_image_write(out, &pic);
        if (s == DC_OK) printf("wrote %s\n", out);
    }
    free(boxes);
    free(scores);
    free(classes);
    for (int q = 0; q < 100; q++) dc_rle_free(&masks[q]);
    dc_detector_free(&net);
    dc_pool_free(pool);
    dc_image_free(&src);
    dc_image_free(&grey);
    dc_image_free(&net_in);
    dc_image_free(&pic);
    return s == DC_OK ? 0 : dc_cli_fail(cmd);
}
