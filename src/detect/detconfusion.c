/* detconfusion.c — located / right-class counts and the confusion matrix of detections
 * (detconfusion.h). */
#include "detect/detconfusion.h"

#include <stdlib.h>
#include <string.h>

void dc_det_confusion_free(dc_det_confusion *c) {
    if (!c) return;
    free(c->counts);
    memset(c, 0, sizeof *c);
}

dc_status dc_det_confusion_run(const dc_coco *gt, const dc_detection *dets, int64_t n, double iou, double min_score,
                               dc_det_confusion *out) {
    if (!gt || !out || (n > 0 && !dets) || n < 0)
        return DC_ERR(DC_ERR_ARG, "dc_det_confusion_run: NULL argument or %lld detections", (long long)n);
    if (!(iou > 0.0 && iou <= 1.0) || !(min_score >= 0.0))
        return DC_ERR(DC_ERR_ARG, "detection confusion: IoU %g outside (0, 1] or minimum score %g below 0", iou, min_score);
    memset(out, 0, sizeof *out);
    const int32_t C = gt->n_categories;
    const int64_t NI = gt->n_images;
    /* the detections kept, grouped by image: counting sort on the image index, file order within */
    const size_t nd = (size_t)(n > 0 ? n : 1);
    int64_t *first = calloc((size_t)NI + 1, sizeof *first), *fill = calloc((size_t)NI + 1, sizeof *fill);
    int64_t *order = malloc(nd * sizeof *order), *img = malloc(nd * sizeof *img);
    int32_t *cat = malloc(nd * sizeof *cat);
    out->counts = calloc((size_t)C * (size_t)(C + 1) + 1, sizeof *out->counts);
    if (!first || !fill || !order || !img || !cat || !out->counts) {
        free(first), free(fill), free(order), free(img), free(cat);
        dc_det_confusion_free(out);
        return DC_ERR(DC_ERR_NOMEM, "detection confusion: %lld detections, %lld images, %d categories", (long long)n,
                      (long long)NI, C);
    }
    out->C = C;
    out->iou = iou;
    out->min_score = min_score;
    for (int64_t i = 0; i < n; i++) {
        img[i] = dc_coco_find_image(gt, dets[i].image_id);
        cat[i] = dc_coco_find_category(gt, dets[i].category_id);
        if (img[i] < 0 || cat[i] < 0 || !(dets[i].score >= min_score)) img[i] = -1;
        else first[img[i] + 1]++;
    }
    for (int64_t k = 0; k < NI; k++) first[k + 1] += first[k];
    for (int64_t i = 0; i < n; i++)
        if (img[i] >= 0) order[first[img[i]] + fill[img[i]]++] = i;
    for (int64_t a = 0; a < gt->n_anns; a++) {
        const dc_coco_ann *g = &gt->anns[a];
        if (g->iscrowd) continue;
        int64_t best = -1;
        for (int64_t q = first[g->image]; q < first[g->image + 1]; q++) {
            const dc_detection *d = &dets[order[q]];
            if (dc_coco_box_iou(d->bbox, g->bbox, 0) >= iou && (best < 0 || d->score > dets[best].score)) best = order[q];
        }
        const int32_t p = best < 0 ? C : cat[best];
        const int small = g->area < 32.0 * 32.0;
        out->counts[(int64_t)g->category * (C + 1) + p]++;
        out->total++;
        out->small += small;
        if (best >= 0) {
            out->located++;
            out->small_located += small;
        }
        if (p == g->category) {
            out->right++;
            out->small_right += small;
        }
    }
    free(first), free(fill), free(order), free(img), free(cat);
    return DC_OK;
}

static double frac(int64_t a, int64_t b) { return b > 0 ? (double)a / (double)b : 0.0; }

void dc_det_confusion_print(const dc_det_confusion *c, const dc_coco *gt, FILE *f) {
    const int32_t C = c->C;
    fprintf(f, "ground truth %lld (not crowd): located %.3f (a detection of any category at IoU >= %.2f, score >= %g), "
               "right category first %.3f (%.3f of the located)\n",
            (long long)c->total, frac(c->located, c->total), c->iou, c->min_score, frac(c->right, c->total),
            frac(c->right, c->located));
    fprintf(f, "small (area < 32^2) %lld: located %.3f, right %.3f\n", (long long)c->small, frac(c->small_located, c->small),
            frac(c->small_right, c->small));
    fprintf(f, "%-20s %7s %8s %7s  %s\n", "category", "gt", "located", "right", "most often taken for");
    for (int32_t g = 0; g < C; g++) {
        const int64_t *row = c->counts + (int64_t)g * (C + 1);
        int64_t tot = 0, worst = -1;
        for (int32_t p = 0; p <= C; p++) tot += row[p];
        for (int32_t p = 0; p < C; p++)
            if (p != g && row[p] > 0 && (worst < 0 || row[p] > row[worst])) worst = p;
        fprintf(f, "%-20.20s %7lld %8.3f %7.3f  ", gt->categories[g].name, (long long)tot, frac(tot - row[C], tot),
                frac(row[g], tot));
        if (worst >= 0) fprintf(f, "%s (%.3f)\n", gt->categories[worst].name, frac(row[worst], tot));
        else fprintf(f, "-\n");
    }
    fprintf(f, "confusion (rows: ground truth, columns: first prediction, last: not located)\n%6s", "");
    for (int32_t p = 0; p < C; p++) fprintf(f, " %6d", p);
    fprintf(f, " %6s\n", "none");
    for (int32_t g = 0; g < C; g++) {
        fprintf(f, "%6d", g);
        for (int32_t p = 0; p <= C; p++) fprintf(f, " %6lld", (long long)c->counts[(int64_t)g * (C + 1) + p]);
        fprintf(f, "\n");
    }
}
