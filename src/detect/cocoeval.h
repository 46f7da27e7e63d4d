/* cocoeval.h — COCO-style detection evaluation (a re-implementation of pycocotools' COCOeval for
 * bbox and segm), detection result files, and the IoUs it uses.
 *
 * What is computed, as COCOeval does with its default parameters:
 *   - 10 IoU thresholds 0.50:0.05:0.95, 101 recall points 0:0.01:1, maxDets 1, 10, 100,
 *     area ranges all [0, 1e10], small [0, 32^2], medium [32^2, 96^2], large [96^2, 1e10]
 *     (both ends inclusive, on the ground truth's "area" field and the detection's area);
 *   - per image and category, detections sorted by score (descending, ties keep their order in the
 *     results file) and cut to 100; greedy matching in that order to the unmatched ground truth of
 *     highest IoU >= threshold, ground truth not ignored preferred (a later ground truth wins a tie
 *     of equal IoU, as in COCOeval);
 *   - crowd ground truth (iscrowd 1) is "ignored": it can be matched by any number of detections,
 *     and detections matched to it count neither as true nor as false positives; IoU with a crowd
 *     region divides the intersection by the detection's area alone;
 *   - ground truth outside the area range is ignored the same way; unmatched detections outside
 *     the area range are ignored;
 *   - per category, detections of all images are merged in image-id order and stably sorted by
 *     score (ties: lower image id first, then the per-image order); precision is made monotone from
 *     the right and read at the first point reaching each recall threshold (0 beyond the last);
 *   - AP of a category without (non-ignored) ground truth is -1 and left out of the means.
 * The 12 summary numbers are COCO's: AP, AP50, AP75, AP small/medium/large, AR1, AR10, AR100,
 * AR small/medium/large.  Per category: AP, AP50, AP75, AR100. */
#ifndef DC_DETECT_COCOEVAL_H
#define DC_DETECT_COCOEVAL_H

#include <stdio.h>

#include "data/coco.h"

typedef enum dc_iou_type { DC_IOU_BBOX = 0, DC_IOU_SEGM, DC_IOU_TYPE_COUNT } dc_iou_type;
const char *dc_iou_type_name(dc_iou_type t);
dc_status dc_iou_type_parse(const char *s, dc_iou_type *out);

/* One detection, as in a COCO results file. */
typedef struct dc_detection {
    int64_t image_id;
    int64_t category_id;
    double bbox[4];     /* x, y, w, h                                   */
    double score;
    int has_mask;
    dc_rle mask;        /* segm: the image's height x width              */
} dc_detection;
void dc_detections_free(dc_detection *d, int64_t n);
/* Append the n detections of image `image` (an index into coco->images) to the growing array
 * *dets (*n_dets used, *cap allocated; realloc'ed as needed): boxes [n, 4] as [x1, y1, x2, y2]
 * pixels, scores [n], classes [n] with class index classes[q] - class_base into coco->categories
 * (class_base 0 for 0-based classes, 1 when 0 is background).  masks (may be NULL): [n] RLE masks,
 * moved into the detections (the sources are zeroed).  A class outside the categories is DC_ERR_ARG. */
dc_status dc_detections_append(const dc_coco *coco, int64_t image, int64_t n, const float *boxes, const float *scores,
                               const int32_t *classes, int class_base, dc_rle *masks, dc_detection **dets,
                               int64_t *n_dets, int64_t *cap);

/* Read a results file: a JSON list of {image_id, category_id, bbox, score[, segmentation]} (an
 * object with an "annotations" list is accepted too).  Every image_id must be an image of gt (as
 * pycocotools requires); category ids unknown to gt are kept and ignored by the evaluation.
 * segmentation may be RLE (string or list counts) or polygons; for type SEGM it is required, and
 * bbox may then be left out (it is taken from the mask).  Errors name the file and element. */
dc_status dc_coco_results_load(const char *path, const dc_coco *gt, dc_iou_type type, dc_detection **dets,
                               int64_t *n);
/* Write detections as a COCO results file (masks as compressed RLE strings); atomic rename. */
dc_status dc_coco_results_write(const char *path, const dc_detection *dets, int64_t n);

/* COCO IoUs: boxes [x, y, w, h] (bbIou) and masks (rleIou); crowd: divide by the detection's area. */
double dc_coco_box_iou(const double *dt, const double *gt, int crowd);
double dc_mask_iou(const dc_rle *dt, const dc_rle *gt, int crowd);

#define DC_COCOEVAL_T 10
#define DC_COCOEVAL_R 101
#define DC_COCOEVAL_A 4
#define DC_COCOEVAL_M 3

typedef struct dc_cocoeval {
    dc_iou_type type;
    int32_t n_categories;
    double iou_thrs[DC_COCOEVAL_T];
    double rec_thrs[DC_COCOEVAL_R];
    int max_dets[DC_COCOEVAL_M];                 /* 1, 10, 100 */
    double area_rng[DC_COCOEVAL_A][2];           /* all, small, medium, large */
    double *precision;  /* [T][R][K][A][M]: interpolated precision, -1 where undefined */
    double *recall;     /* [T][K][A][M]: recall at the last detection, -1 where undefined */
    double stats[12];
    double *class_ap, *class_ap50, *class_ap75, *class_ar100;  /* [K], -1 without ground truth */
    int64_t *class_gt;  /* [K] ground truth boxes that are not crowd                         */
    int64_t *class_dt;  /* [K] detections evaluated (after the cut to 100 per image)         */
    int64_t n_dets_unknown_category;  /* detections whose category is not in gt (skipped)     */
} dc_cocoeval;

/* Evaluate dets[0..n) against gt.  For SEGM every ground-truth annotation needs a segmentation. */
dc_status dc_cocoeval_run(const dc_coco *gt, const dc_detection *dets, int64_t n, dc_iou_type type,
                          dc_cocoeval **out);
void dc_cocoeval_free(dc_cocoeval *e);
/* precision[t][r][k][a][m] */
double dc_cocoeval_precision(const dc_cocoeval *e, int t, int r, int k, int a, int m);
/* The 12 summary lines (pycocotools' layout), then with per_class a table per category. */
void dc_cocoeval_print(const dc_cocoeval *e, const dc_coco *gt, int per_class, FILE *f);
/* The same numbers as JSON: {"iou_type", "stats": {name: value}, "per_class": [...]} */
dc_status dc_cocoeval_write_json(const char *path, const dc_cocoeval *e, const dc_coco *gt);

#endif
