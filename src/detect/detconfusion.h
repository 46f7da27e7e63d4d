/* detconfusion.h — where a detector loses its AP: boxes found but named wrong, or not found.
 *
 * For every ground-truth box that is not crowd, the detections of its image of any category with
 * score >= min_score and box IoU >= iou (COCO's box IoU) are its candidates.  It is "located" when it
 * has one, and the category of its highest-scoring candidate (the first in the results' order on a
 * tie) is its prediction.  counts[g * (C + 1) + p] counts the ground truth of category g predicted as
 * category p; column C holds those not located.  Detections whose image or category the ground
 * truth does not know are left out.  AP counts every detection in its own category, so a box found
 * with the right class second still helps; this table shows the first choice, which is what a user
 * of the detections (`deepc detect`) sees. */
#ifndef DC_DETECT_DETCONFUSION_H
#define DC_DETECT_DETCONFUSION_H

#include <stdio.h>

#include "detect/cocoeval.h"

typedef struct dc_det_confusion {
    int32_t C;
    double iou, min_score;
    int64_t *counts;                     /* [C][C + 1]                                  */
    int64_t total, located, right;       /* ground truth boxes (not crowd), of them located, right */
    int64_t small, small_located, small_right; /* the same for area < 32^2             */
} dc_det_confusion;

dc_status dc_det_confusion_run(const dc_coco *gt, const dc_detection *dets, int64_t n, double iou, double min_score,
                               dc_det_confusion *out);
void dc_det_confusion_free(dc_det_confusion *c);
/* The totals, per category (count, located, right, most frequent wrong prediction) and the matrix. */
void dc_det_confusion_print(const dc_det_confusion *c, const dc_coco *gt, FILE *f);

#endif
