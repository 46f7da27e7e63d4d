/* detect.c — the `deepc detgen` and `deepc deteval` commands: flag parsing and printing only; the
 * generator is dc_detgen_run (src/data/detgen.c), the evaluator dc_cocoeval_run
 * (src/detect/cocoeval.c).  docs/detection.md describes the data set, the formats and the numbers. */
#include "cli/cli.h"
#include "deepc.h"
#include "data/coco.h"
#include "data/detgen.h"
#include "detect/cocoeval.h"
#include "detect/detconfusion.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int dc_cli_detgen(int argc, char **argv);
int dc_cli_deteval(int argc, char **argv);

static const char *DETGEN_HELP =
    "usage: deepc detgen --out DIR [options]\n"
    "Generate a deterministic detection data set: Fashion-MNIST items scaled and placed on grey\n"
    "canvases with noise and unlabeled blurred clutter.  Writes DIR/{train,val,test}/NNNNNN.png and\n"
    "DIR/{train,val,test}.json (COCO format: boxes, areas, instance masks as RLE).  The same seed gives\n"
    "byte-identical files; docs/detection.md has the rules.\n\n"
    "  --out DIR          output directory (created)\n"
    "  --seed N           [1]\n"
    "  --train N          training images (items from the first 5/6 of the training file)   [10000]\n"
    "  --val N            validation images (items from the last 1/6 of the training file)  [1000]\n"
    "  --test N           test images (items from the test file)                            [2000]\n"
    "  --size N           canvas side in pixels                                             [160]\n"
    "  --min-scale X      smallest item scale (log-uniform)                                 [0.5]\n"
    "  --max-scale X      largest item scale                                                [3]\n"
    "  --max-items N      1..N items per image                                              [8]\n"
    "  --max-iou X        largest IoU between two boxes of an image                         [0.5]\n"
    "  --rle string|list  segmentation counts: COCO's compressed string or a list of ints   [string]\n"
    "  --data DIR         MNIST-format directory        [/usr/share/datasets/fashion-mnist]\n"
    "  --threads N        worker threads (the output does not depend on it)                 [2]\n";

int dc_cli_detgen(int argc, char **argv) {
    dc_detgen_config c;
    dc_detgen_config_defaults(&c);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        double x;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(DETGEN_HELP, stdout); return 0; }
        if (!v) return dc_cli_usage("detgen", "unknown option or missing value: '%s'", a);
        i++;
        if (!strcmp(a, "--out")) c.out_dir = v;
        else if (!strcmp(a, "--data")) c.fashion_dir = v;
        else if (!strcmp(a, "--seed")) { if (dc_cli_long("detgen", a, v, 0, 0x7fffffffL, &n)) return 2; c.seed = (uint64_t)n; }
        else if (!strcmp(a, "--train")) { if (dc_cli_long("detgen", a, v, 0, 999999, &n)) return 2; c.n_images[0] = n; }
        else if (!strcmp(a, "--val")) { if (dc_cli_long("detgen", a, v, 0, 999999, &n)) return 2; c.n_images[1] = n; }
        else if (!strcmp(a, "--test")) { if (dc_cli_long("detgen", a, v, 0, 999999, &n)) return 2; c.n_images[2] = n; }
        else if (!strcmp(a, "--size")) { if (dc_cli_long("detgen", a, v, 32, 4096, &n)) return 2; c.size = (int)n; }
        else if (!strcmp(a, "--max-items")) { if (dc_cli_long("detgen", a, v, 1, 100, &n)) return 2; c.max_items = (int)n; }
        else if (!strcmp(a, "--threads")) { if (dc_cli_long("detgen", a, v, 1, 256, &n)) return 2; c.threads = (int)n; }
        else if (!strcmp(a, "--min-scale")) { if (dc_cli_float("detgen", a, v, 0.2, 100, &x)) return 2; c.min_scale = (float)x; }
        else if (!strcmp(a, "--max-scale")) { if (dc_cli_float("detgen", a, v, 0.2, 100, &x)) return 2; c.max_scale = (float)x; }
        else if (!strcmp(a, "--max-iou")) { if (dc_cli_float("detgen", a, v, 0, 1, &x)) return 2; c.max_iou = (float)x; }
        else if (!strcmp(a, "--rle")) {
            if (!strcmp(v, "string")) c.rle_uncompressed = 0;
            else if (!strcmp(v, "list")) c.rle_uncompressed = 1;
            else return dc_cli_usage("detgen", "--rle takes 'string' or 'list', got '%s'", v);
        }
        else return dc_cli_usage("detgen", "unknown option '%s'", a);
    }
    if (!c.out_dir) return dc_cli_usage("detgen", "%s", "--out DIR is required");
    dc_detgen_stats s;
    if (dc_detgen_run(&c, &s) != DC_OK) return dc_cli_fail("detgen");
    int64_t total = 0;
    for (int sp = 0; sp < DC_DETGEN_SPLITS; sp++) {
        if (!s.images[sp]) continue;
        total += s.images[sp];
        printf("%-5s %7lld images %8lld annotations (%.2f per image; small %lld, medium %lld, large %lld)  -> %s/%s.json\n",
               dc_detgen_split_name(sp), (long long)s.images[sp], (long long)s.annotations[sp],
               (double)s.annotations[sp] / (double)s.images[sp], (long long)s.area_small[sp],
               (long long)s.area_medium[sp], (long long)s.area_large[sp], c.out_dir, dc_detgen_split_name(sp));
    }
    printf("%lld images in %.1f s (%d threads)\n", (long long)total, s.seconds, c.threads);
    return 0;
}

static const char *DETEVAL_HELP =
    "usage: deepc deteval --gt GT.json --dt RESULTS.json [--iou-type bbox|segm] [--json OUT.json]\n"
    "                     [--confusion [--min-score 0.05]]\n"
    "COCO-style evaluation of detections: AP@[.5:.95], AP50, AP75, AP small/medium/large and AR at\n"
    "1/10/100 detections per image, then AP, AP50, AP75 and AR100 per category.\n\n"
    "  --gt FILE          ground truth, COCO format (e.g. a detgen split's JSON)\n"
    "  --dt FILE          results: a JSON list of {image_id, category_id, bbox [x,y,w,h], score\n"
    "                     [, segmentation]}\n"
    "  --iou-type T       bbox (boxes) or segm (masks, RLE or polygons)                [bbox]\n"
    "  --json FILE        also write the numbers as JSON\n"
    "  --confusion        then where the boxes go wrong: the ground truth located (a detection of\n"
    "                     any category at box IoU >= 0.5), named right by its best detection, per\n"
    "                     category, and the confusion matrix of those first choices\n"
    "  --min-score X      detections below this score are not candidates for --confusion   [0.05]\n";

int dc_cli_deteval(int argc, char **argv) {
    const char *gt_path = NULL, *dt_path = NULL, *json_out = NULL;
    dc_iou_type type = DC_IOU_BBOX;
    int confusion = 0;
    double min_score = 0.05;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(DETEVAL_HELP, stdout); return 0; }
        if (!strcmp(a, "--confusion")) { confusion = 1; continue; }
        if (!v) return dc_cli_usage("deteval", "unknown option or missing value: '%s'", a);
        i++;
        if (!strcmp(a, "--gt")) gt_path = v;
        else if (!strcmp(a, "--min-score")) { if (dc_cli_float("deteval", a, v, 0.0, 1.0, &min_score)) return 2; }
        else if (!strcmp(a, "--dt")) dt_path = v;
        else if (!strcmp(a, "--json")) json_out = v;
        else if (!strcmp(a, "--iou-type")) { if (dc_iou_type_parse(v, &type) != DC_OK) return dc_cli_usage("deteval", "unknown --iou-type '%s' (bbox, segm)", v); }
        else return dc_cli_usage("deteval", "unknown option '%s'", a);
    }
    if (!gt_path || !dt_path) return dc_cli_usage("deteval", "%s", "--gt FILE and --dt FILE are required");
    dc_coco *gt = NULL;
    dc_detection *dets = NULL;
    int64_t n = 0;
    dc_cocoeval *e = NULL;
    int rc = 0;
    if (dc_coco_load(gt_path, NULL, &gt) != DC_OK || dc_coco_results_load(dt_path, gt, type, &dets, &n) != DC_OK ||
        dc_cocoeval_run(gt, dets, n, type, &e) != DC_OK) {
        rc = dc_cli_fail("deteval");
    } else {
        printf("ground truth %s: %lld images, %lld annotations, %d categories; %lld detections\n", gt_path,
               (long long)gt->n_images, (long long)gt->n_anns, gt->n_categories, (long long)n);
        dc_cocoeval_print(e, gt, 1, stdout);
        if (json_out && dc_cocoeval_write_json(json_out, e, gt) != DC_OK) rc = dc_cli_fail("deteval");
        dc_det_confusion cm;
        if (confusion && rc == 0) {
            if (dc_det_confusion_run(gt, dets, n, 0.5, min_score, &cm) != DC_OK) rc = dc_cli_fail("deteval");
            else {
                printf("\n");
                dc_det_confusion_print(&cm, gt, stdout);
                dc_det_confusion_free(&cm);
            }
        }
    }
    dc_cocoeval_free(e);
    dc_detections_free(dets, n);
    dc_coco_free(gt);
    return rc;
}
