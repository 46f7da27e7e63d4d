/* cocoeval.c — COCO-style mAP (bbox and segm) following pycocotools' COCOeval step by step
 * (evaluate: per image and category matching; accumulate: precision/recall over the merged
 * detections; summarize: the 12 numbers), plus reading and writing results files.
 * Deliberately not here: keypoints (OKS), useCats = 0, custom thresholds or area ranges, and
 * COCOeval's quirk of treating a ground-truth id 0 as "unmatched" (matches are flags here). */
#include "detect/cocoeval.h"
#include "io/atomic.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RESULTS_MAX_FILE ((size_t)1 << 30)

const char *dc_iou_type_name(dc_iou_type t) { return t == DC_IOU_SEGM ? "segm" : "bbox"; }

dc_status dc_iou_type_parse(const char *s, dc_iou_type *out) {
    if (s && !strcmp(s, "bbox")) { *out = DC_IOU_BBOX; return DC_OK; }
    if (s && !strcmp(s, "segm")) { *out = DC_IOU_SEGM; return DC_OK; }
    return DC_ERR(DC_ERR_ARG, "unknown IoU type '%s' (bbox, segm)", s ? s : "");
}

void dc_detections_free(dc_detection *d, int64_t n) {
    if (!d) return;
    for (int64_t i = 0; i < n; i++) dc_rle_free(&d[i].mask);
    free(d);
}

dc_status dc_detections_append(const dc_coco *coco, int64_t image, int64_t n, const float *boxes, const float *scores,
                               const int32_t *classes, int class_base, dc_rle *masks, dc_detection **dets,
                               int64_t *n_dets, int64_t *cap) {
    if (*n_dets + n > *cap) {
        int64_t nc = (*n_dets + n) * 2 + 64;
        dc_detection *grown = realloc(*dets, (size_t)nc * sizeof **dets);
        if (!grown) return DC_ERR(DC_ERR_NOMEM, "%lld detections", (long long)nc);
        *dets = grown;
        *cap = nc;
    }
    for (int64_t q = 0; q < n; q++) {
        int64_t k = (int64_t)classes[q] - class_base;
        if (k < 0 || k >= coco->n_categories)
            return DC_ERR(DC_ERR_ARG, "detection %lld of image %lld: class %d outside %d..%d", (long long)q,
                          (long long)coco->images[image].id, classes[q], class_base, coco->n_categories - 1 + class_base);
        dc_detection *e = &(*dets)[(*n_dets)++];
        memset(e, 0, sizeof *e);
        e->image_id = coco->images[image].id;
        e->category_id = coco->categories[k].id;
        e->bbox[0] = boxes[q * 4];
        e->bbox[1] = boxes[q * 4 + 1];
        e->bbox[2] = (double)boxes[q * 4 + 2] - boxes[q * 4];
        e->bbox[3] = (double)boxes[q * 4 + 3] - boxes[q * 4 + 1];
        e->score = scores[q];
        if (masks) {
            e->mask = masks[q];
            e->has_mask = 1;
            memset(&masks[q], 0, sizeof masks[q]);
        }
    }
    return DC_OK;
}

/* ------------------------------------------------------------------ IoU */
/* inter / (da + ga - inter), or inter / da against a crowd region          dt, gt: [x, y, w, h] */
double dc_coco_box_iou(const double *dt, const double *gt, int crowd) {
    double w = fmin(dt[0] + dt[2], gt[0] + gt[2]) - fmax(dt[0], gt[0]);
    if (w <= 0) return 0.0;
    double h = fmin(dt[1] + dt[3], gt[1] + gt[3]) - fmax(dt[1], gt[1]);
    if (h <= 0) return 0.0;
    double i = w * h, da = dt[2] * dt[3], ga = gt[2] * gt[3];
    double u = crowd ? da : da + ga - i;
    return u > 0 ? i / u : 0.0;
}

double dc_mask_iou(const dc_rle *dt, const dc_rle *gt, int crowd) {
    if (dt->h != gt->h || dt->w != gt->w) return 0.0;
    uint64_t i = dc_rle_intersection(dt, gt);
    if (i == 0) return 0.0;
    uint64_t da = dc_rle_area(dt);
    uint64_t u = crowd ? da : da + dc_rle_area(gt) - i;
    return (double)i / (double)u;
}

/* ------------------------------------------------------------------ results files */
static dc_status res_err(const char *path, const dc_json *v, const char *fmt, const char *a, size_t i) {
    char msg[256];
    snprintf(msg, sizeof msg, fmt, a);
    return DC_ERR(DC_ERR_FORMAT, "%s: results[%zu]: %s (byte %zu)", path, i, msg, v ? v->pos : (size_t)0);
}

static int json_int(const dc_json *v, int64_t *out) {
    if (!v || v->type != DC_JSON_NUMBER) return 0;
    if (v->is_int) { *out = v->integer; return 1; }
    if (v->number == floor(v->number) && fabs(v->number) < 9e15) { *out = (int64_t)v->number; return 1; }
    return 0;
}

dc_status dc_coco_results_load(const char *path, const dc_coco *gt, dc_iou_type type, dc_detection **dets,
                               int64_t *n) {
    *dets = NULL;
    *n = 0;
    char *text;
    size_t len;
    DC_TRY(dc_read_file(path, RESULTS_MAX_FILE, &text, &len));
    dc_json *root = NULL;
    size_t epos;
    char emsg[256];
    if (dc_json_parse(text, len, &root, &epos, emsg, sizeof emsg) != 0) {
        free(text);
        return DC_ERR(DC_ERR_FORMAT, "%s: invalid JSON at byte %zu: %s", path, epos, emsg);
    }
    free(text);
    const dc_json *list = root;
    if (root->type == DC_JSON_OBJECT) list = dc_json_get(root, "annotations");
    if (!list || list->type != DC_JSON_ARRAY) {
        dc_json_free(root);
        return DC_ERR(DC_ERR_FORMAT, "%s: a results file is a JSON list of detections {image_id, category_id, bbox, score}",
                      path);
    }
    dc_detection *d = calloc(list->count ? list->count : 1, sizeof *d);
    if (!d) {
        dc_json_free(root);
        return DC_ERR(DC_ERR_NOMEM, "%s: %zu detections", path, list->count);
    }
    dc_status st = DC_OK;
    size_t i;
    for (i = 0; i < list->count && st == DC_OK; i++) {
        const dc_json *o = &list->items[i], *v;
        dc_detection *x = &d[i];
        if (o->type != DC_JSON_OBJECT) { st = res_err(path, o, "must be an object, found %s", dc_json_type_name(o->type), i); break; }
        if (!json_int(dc_json_get(o, "image_id"), &x->image_id)) { st = res_err(path, o, "image_id: %s integer expected", "an", i); break; }
        if (!json_int(dc_json_get(o, "category_id"), &x->category_id)) { st = res_err(path, o, "category_id: %s integer expected", "an", i); break; }
        int64_t im = dc_coco_find_image(gt, x->image_id);
        if (im < 0) {
            char b[64];
            snprintf(b, sizeof b, "%lld", (long long)x->image_id);
            st = res_err(path, dc_json_get(o, "image_id"), "image_id %s is not an image of the ground truth", b, i);
            break;
        }
        v = dc_json_get(o, "score");
        if (!v || v->type != DC_JSON_NUMBER || !isfinite(v->number)) { st = res_err(path, v ? v : o, "score: %s finite number expected", "a", i); break; }
        x->score = v->number;
        const dc_json *seg = dc_json_get(o, "segmentation"), *bbv = dc_json_get(o, "bbox");
        /* masks are read for segm, or for bbox when there is no box (as pycocotools' loadRes) */
        int want_mask = type == DC_IOU_SEGM || !bbv || bbv->type == DC_JSON_NULL;
        if (want_mask && seg && seg->type != DC_JSON_NULL) {
            char where[128];
            snprintf(where, sizeof where, "%s: results[%zu]", path, i);
            st = dc_coco_parse_segmentation(seg, gt->images[im].height, gt->images[im].width, where, &x->mask);
            if (st != DC_OK) break;
            x->has_mask = 1;
        } else if (type == DC_IOU_SEGM) {
            st = res_err(path, o, "segmentation: %s is required for --iou-type segm", "a mask", i);
            break;
        }
        v = dc_json_get(o, "bbox");
        if (v && v->type == DC_JSON_ARRAY && v->count == 4) {
            for (int k = 0; k < 4; k++) {
                if (v->items[k].type != DC_JSON_NUMBER || !isfinite(v->items[k].number)) {
                    st = res_err(path, &v->items[k], "bbox: %s finite numbers expected", "4", i);
                    break;
                }
                x->bbox[k] = v->items[k].number;
            }
            if (st != DC_OK) break;
        } else if (x->has_mask && (!v || v->type == DC_JSON_NULL)) {
            dc_rle_bbox(&x->mask, x->bbox);
        } else {
            st = res_err(path, v ? v : o, "bbox: %s numbers [x, y, w, h] expected", "4", i);
            break;
        }
    }
    size_t count = list->count;
    dc_json_free(root); /* list points into root */
    if (st != DC_OK) {
        dc_detections_free(d, (int64_t)(i + 1 <= count ? i + 1 : count));
        return st;
    }
    *dets = d;
    *n = (int64_t)i;
    return DC_OK;
}

dc_status dc_coco_results_write(const char *path, const dc_detection *dets, int64_t n) {
    dc_json_writer w;
    dc_json_writer_init(&w);
    dc_json_begin_array(&w);
    for (int64_t i = 0; i < n; i++) {
        const dc_detection *x = &dets[i];
        dc_json_newline(&w);
        dc_json_begin_object(&w);
        dc_json_key(&w, "image_id");
        dc_json_int(&w, x->image_id);
        dc_json_key(&w, "category_id");
        dc_json_int(&w, x->category_id);
        dc_json_key(&w, "bbox");
        dc_json_begin_array(&w);
        for (int k = 0; k < 4; k++) dc_json_double(&w, x->bbox[k]);
        dc_json_end_array(&w);
        dc_json_key(&w, "score");
        dc_json_double(&w, x->score);
        if (x->has_mask) {
            char *s;
            dc_status st = dc_rle_to_string(&x->mask, &s);
            if (st != DC_OK) { dc_json_writer_free(&w); return st; }
            dc_json_key(&w, "segmentation");
            dc_json_begin_object(&w);
            dc_json_key(&w, "size");
            dc_json_begin_array(&w);
            dc_json_int(&w, x->mask.h);
            dc_json_int(&w, x->mask.w);
            dc_json_end_array(&w);
            dc_json_key(&w, "counts");
            dc_json_string(&w, s);
            dc_json_end_object(&w);
            free(s);
        }
        dc_json_end_object(&w);
    }
    dc_json_newline(&w);
    dc_json_end_array(&w);
    char *text;
    size_t len;
    const char *why;
    if (dc_json_writer_take(&w, &text, &len, &why) != 0)
        return DC_ERR(DC_ERR_ARG, "%s: cannot write the results: %s", path, why ? why : "?");
    dc_chunk c = {text, len};
    dc_status st = dc_file_write_atomic(path, &c, 1);
    free(text);
    return st;
}

/* ------------------------------------------------------------------ evaluation */
typedef struct { int32_t cat; int64_t img_rank; double score; int64_t index; } dt_key;
typedef struct { int32_t cat; int64_t img_rank; int64_t index; } gt_key;

static int cmp_dt_key(const void *pa, const void *pb) {
    const dt_key *a = pa, *b = pb;
    if (a->cat != b->cat) return a->cat < b->cat ? -1 : 1;
    if (a->img_rank != b->img_rank) return a->img_rank < b->img_rank ? -1 : 1;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}
static int cmp_gt_key(const void *pa, const void *pb) {
    const gt_key *a = pa, *b = pb;
    if (a->cat != b->cat) return a->cat < b->cat ? -1 : 1;
    if (a->img_rank != b->img_rank) return a->img_rank < b->img_rank ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

/* One detection as seen by accumulate: its score, its rank among its image's detections and, per
 * IoU threshold t, bit t = matched and bit 16 + t = ignored. */
typedef struct { double score; int32_t rank; uint32_t bits; int64_t pos; } entry;

static int cmp_entry_score(const void *pa, const void *pb) {
    const entry *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return (a->pos > b->pos) - (a->pos < b->pos);
}

typedef struct { entry *e; int64_t n, cap; } entry_list;

static int entry_push(entry_list *l, entry x) {
    if (l->n == l->cap) {
        int64_t nc = l->cap ? 2 * l->cap : 256;
        entry *p = realloc(l->e, (size_t)nc * sizeof *p);
        if (!p) return -1;
        l->e = p;
        l->cap = nc;
    }
    x.pos = l->n;
    l->e[l->n++] = x;
    return 0;
}

void dc_cocoeval_free(dc_cocoeval *e) {
    if (!e) return;
    free(e->precision);
    free(e->recall);
    free(e->class_ap);
    free(e->class_ap50);
    free(e->class_ap75);
    free(e->class_ar100);
    free(e->class_gt);
    free(e->class_dt);
    free(e);
}

#define PIDX(e, t, r, k, a, m) \
    (((((size_t)(t) * DC_COCOEVAL_R + (size_t)(r)) * (size_t)(e)->n_categories + (size_t)(k)) * DC_COCOEVAL_A + (size_t)(a)) * DC_COCOEVAL_M + (size_t)(m))
#define RIDX(e, t, k, a, m) \
    ((((size_t)(t) * (size_t)(e)->n_categories + (size_t)(k)) * DC_COCOEVAL_A + (size_t)(a)) * DC_COCOEVAL_M + (size_t)(m))

double dc_cocoeval_precision(const dc_cocoeval *e, int t, int r, int k, int a, int m) {
    return e->precision[PIDX(e, t, r, k, a, m)];
}

/* numpy.linspace(start, stop, num): i * ((stop - start) / (num - 1)) + start, the last one = stop.
 * The product and the sum are separate statements so no compiler fuses them into an FMA. */
static void linspace(double start, double stop, int num, double *out) {
    double step = (stop - start) / (num - 1);
    for (int i = 0; i < num; i++) {
        double p = (double)i * step;
        out[i] = p + start;
    }
    out[num - 1] = stop;
}

/* Per-image evaluation of one category for the 4 area ranges (COCOeval.evaluateImg with maxDet
 * 100): appends one entry per detection to lists[a] and adds the non-ignored ground truth to npig. */
typedef struct eval_img {
    const dc_coco *gt;
    const dc_detection *dets;
    dc_iou_type type;
    const dc_cocoeval *e;
    /* scratch, sized for the largest image */
    double *ious;          /* [D][G] */
    int64_t *gperm;
    uint8_t *gig, *gmatched, *crowd;
    double *garea;
} eval_img;

static dc_status evaluate_image(eval_img *s, const int64_t *g_idx, int64_t G, const int64_t *d_idx, int64_t D,
                                entry_list *lists, int64_t *npig) {
    const dc_coco *gt = s->gt;
    for (int64_t d = 0; d < D; d++) {
        const dc_detection *x = &s->dets[d_idx[d]];
        for (int64_t g = 0; g < G; g++) {
            const dc_coco_ann *a = &gt->anns[g_idx[g]];
            s->ious[d * G + g] = s->type == DC_IOU_SEGM ? dc_mask_iou(&x->mask, &a->mask, a->iscrowd)
                                                         : dc_coco_box_iou(x->bbox, a->bbox, a->iscrowd);
        }
    }
    for (int64_t g = 0; g < G; g++) {
        s->crowd[g] = (uint8_t)gt->anns[g_idx[g]].iscrowd;
        s->garea[g] = gt->anns[g_idx[g]].area;
    }
    for (int a = 0; a < DC_COCOEVAL_A; a++) {
        double lo = s->e->area_rng[a][0], hi = s->e->area_rng[a][1];
        /* gt ignore flags, then the gt order: not ignored first, stable */
        int64_t k = 0;
        for (int64_t g = 0; g < G; g++) {
            s->gig[g] = s->crowd[g] || s->garea[g] < lo || s->garea[g] > hi;
            if (!s->gig[g]) { s->gperm[k++] = g; npig[a]++; }
        }
        for (int64_t g = 0; g < G; g++)
            if (s->gig[g]) s->gperm[k++] = g;
        uint32_t bits[100];
        for (int64_t d = 0; d < D; d++) bits[d] = 0;
        for (int t = 0; t < DC_COCOEVAL_T; t++) {
            memset(s->gmatched, 0, (size_t)(G ? G : 1));
            for (int64_t d = 0; d < D; d++) {
                double iou = fmin(s->e->iou_thrs[t], 1 - 1e-10);
                int64_t m = -1;
                for (int64_t j = 0; j < G; j++) {
                    int64_t g = s->gperm[j];
                    if (s->gmatched[g] && !s->crowd[g]) continue;
                    if (m > -1 && !s->gig[m] && s->gig[g]) break;
                    if (s->ious[d * G + g] < iou) continue;
                    iou = s->ious[d * G + g];
                    m = g;
                }
                if (m == -1) continue;
                bits[d] |= 1u << t;
                if (s->gig[m]) bits[d] |= 1u << (16 + t);
                s->gmatched[m] = 1;
            }
        }
        for (int64_t d = 0; d < D; d++) {
            const dc_detection *x = &s->dets[d_idx[d]];
            double area = s->type == DC_IOU_SEGM ? (double)dc_rle_area(&x->mask) : x->bbox[2] * x->bbox[3];
            if (area < lo || area > hi)
                for (int t = 0; t < DC_COCOEVAL_T; t++)
                    if (!(bits[d] & (1u << t))) bits[d] |= 1u << (16 + t);
            entry en = {x->score, (int32_t)d, bits[d], 0};
            if (entry_push(&lists[a], en) != 0) return DC_ERR(DC_ERR_NOMEM, "cocoeval: detection lists");
        }
    }
    return DC_OK;
}

/* COCOeval.accumulate for one category, area range and maxDet. */
static void accumulate(dc_cocoeval *e, int k, int a, int m, const entry_list *l, int64_t npig, entry *sel, double *tp,
                       double *fp) {
    if (npig == 0) return; /* precision and recall stay -1 */
    int64_t nd = 0;
    for (int64_t i = 0; i < l->n; i++)
        if (l->e[i].rank < e->max_dets[m]) sel[nd++] = l->e[i];
    qsort(sel, (size_t)nd, sizeof *sel, cmp_entry_score);
    const double eps = 2.220446049250313e-16; /* np.spacing(1) */
    for (int t = 0; t < DC_COCOEVAL_T; t++) {
        double tps = 0, fps = 0;
        for (int64_t i = 0; i < nd; i++) {
            int matched = (sel[i].bits >> t) & 1, ignored = (sel[i].bits >> (16 + t)) & 1;
            if (!ignored) {
                if (matched) tps += 1;
                else fps += 1;
            }
            tp[i] = tps;  /* reused below as recall  */
            fp[i] = fps;  /* reused below as precision */
        }
        for (int64_t i = 0; i < nd; i++) {
            double tpi = tp[i], fpi = fp[i];
            tp[i] = tpi / (double)npig;
            double den = fpi + tpi;
            den = den + eps;
            fp[i] = tpi / den;
        }
        e->recall[RIDX(e, t, k, a, m)] = nd ? tp[nd - 1] : 0.0;
        for (int64_t i = nd - 1; i > 0; i--)
            if (fp[i] > fp[i - 1]) fp[i - 1] = fp[i];
        int64_t i = 0;
        for (int r = 0; r < DC_COCOEVAL_R; r++) {
            while (i < nd && tp[i] < e->rec_thrs[r]) i++; /* searchsorted, side='left' */
            e->precision[PIDX(e, t, r, k, a, m)] = i < nd ? fp[i] : 0.0;
        }
    }
}

static double mean_valid(const dc_cocoeval *e, int ap, int t_only, int a, int m, int k_only) {
    double s = 0;
    int64_t n = 0;
    for (int t = 0; t < DC_COCOEVAL_T; t++) {
        if (t_only >= 0 && t != t_only) continue;
        for (int k = 0; k < e->n_categories; k++) {
            if (k_only >= 0 && k != k_only) continue;
            if (ap) {
                for (int r = 0; r < DC_COCOEVAL_R; r++) {
                    double v = e->precision[PIDX(e, t, r, k, a, m)];
                    if (v > -1) { s += v; n++; }
                }
            } else {
                double v = e->recall[RIDX(e, t, k, a, m)];
                if (v > -1) { s += v; n++; }
            }
        }
    }
    return n ? s / (double)n : -1.0;
}

dc_status dc_cocoeval_run(const dc_coco *gt, const dc_detection *dets, int64_t n, dc_iou_type type,
                          dc_cocoeval **out) {
    *out = NULL;
    if (!gt || n < 0 || (n > 0 && !dets)) return DC_ERR(DC_ERR_ARG, "dc_cocoeval_run: NULL ground truth or detections");
    const int K = gt->n_categories;
    dc_cocoeval *e = calloc(1, sizeof *e);
    if (!e) return DC_ERR(DC_ERR_NOMEM, "cocoeval");
    e->type = type;
    e->n_categories = K;
    linspace(0.5, 0.95, DC_COCOEVAL_T, e->iou_thrs);
    linspace(0.0, 1.0, DC_COCOEVAL_R, e->rec_thrs);
    e->max_dets[0] = 1;
    e->max_dets[1] = 10;
    e->max_dets[2] = 100;
    const double rng[4][2] = {{0, 1e10}, {0, 32 * 32}, {32 * 32, 96 * 96}, {96 * 96, 1e10}};
    memcpy(e->area_rng, rng, sizeof rng);
    size_t np = (size_t)DC_COCOEVAL_T * DC_COCOEVAL_R * (size_t)K * DC_COCOEVAL_A * DC_COCOEVAL_M;
    size_t nr = (size_t)DC_COCOEVAL_T * (size_t)K * DC_COCOEVAL_A * DC_COCOEVAL_M;
    size_t kk = (size_t)(K ? K : 1);
    e->precision = malloc((np ? np : 1) * sizeof(double));
    e->recall = malloc((nr ? nr : 1) * sizeof(double));
    e->class_ap = malloc(kk * sizeof(double));
    e->class_ap50 = malloc(kk * sizeof(double));
    e->class_ap75 = malloc(kk * sizeof(double));
    e->class_ar100 = malloc(kk * sizeof(double));
    e->class_gt = calloc(kk, sizeof(int64_t));
    e->class_dt = calloc(kk, sizeof(int64_t));
    dt_key *dk = malloc((size_t)(n ? n : 1) * sizeof *dk);
    gt_key *gk = malloc((size_t)(gt->n_anns ? gt->n_anns : 1) * sizeof *gk);
    int64_t *img_rank = malloc((size_t)(gt->n_images ? gt->n_images : 1) * sizeof *img_rank);
    entry_list lists[DC_COCOEVAL_A];
    memset(lists, 0, sizeof lists);
    eval_img s;
    memset(&s, 0, sizeof s);
    int64_t *g_idx = NULL, *d_idx = NULL;
    entry *sel = NULL;
    double *tp = NULL, *fp = NULL;
    dc_status st = DC_OK;
    if (!e->precision || !e->recall || !e->class_ap || !e->class_ap50 || !e->class_ap75 || !e->class_ar100 ||
        !e->class_gt || !e->class_dt || !dk || !gk || !img_rank) {
        st = DC_ERR(DC_ERR_NOMEM, "cocoeval: tables for %d categories, %lld detections", K, (long long)n);
        goto done;
    }
    for (size_t i = 0; i < np; i++) e->precision[i] = -1;
    for (size_t i = 0; i < nr; i++) e->recall[i] = -1;
    for (int64_t r = 0; r < gt->n_images; r++) img_rank[gt->image_by_id[r]] = r;

    /* Ground truth and detections ordered by (category, image id, ...). */
    int64_t ng = 0, nd = 0, max_g = 0;
    for (int64_t i = 0; i < gt->n_anns; i++) {
        const dc_coco_ann *a = &gt->anns[i];
        if (type == DC_IOU_SEGM && !a->has_mask) {
            st = DC_ERR(DC_ERR_FORMAT, "%s: annotation id %lld (image id %lld) has no segmentation; --iou-type segm needs masks",
                        gt->path, (long long)a->id, (long long)gt->images[a->image].id);
            goto done;
        }
        gk[ng++] = (gt_key){a->category, img_rank[a->image], i};
        if (!a->iscrowd) e->class_gt[a->category]++;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t im = dc_coco_find_image(gt, dets[i].image_id);
        if (im < 0) {
            st = DC_ERR(DC_ERR_ARG, "detection %lld: image id %lld is not in %s", (long long)i, (long long)dets[i].image_id,
                        gt->path);
            goto done;
        }
        if (type == DC_IOU_SEGM && (!dets[i].has_mask || dets[i].mask.h != gt->images[im].height ||
                                    dets[i].mask.w != gt->images[im].width)) {
            st = DC_ERR(DC_ERR_ARG, "detection %lld (image id %lld): segm evaluation needs a mask of the image's size %d x %d",
                        (long long)i, (long long)dets[i].image_id, gt->images[im].height, gt->images[im].width);
            goto done;
        }
        if (isnan(dets[i].score)) {
            st = DC_ERR(DC_ERR_NUMERIC, "detection %lld (image id %lld): score is NaN", (long long)i, (long long)dets[i].image_id);
            goto done;
        }
        int32_t c = dc_coco_find_category(gt, dets[i].category_id);
        if (c < 0) { e->n_dets_unknown_category++; continue; }
        dk[nd++] = (dt_key){c, img_rank[im], dets[i].score, i};
    }
    qsort(gk, (size_t)ng, sizeof *gk, cmp_gt_key);
    qsort(dk, (size_t)nd, sizeof *dk, cmp_dt_key);
    for (int64_t i = 0; i < ng;) {
        int64_t j = i;
        while (j < ng && gk[j].cat == gk[i].cat && gk[j].img_rank == gk[i].img_rank) j++;
        if (j - i > max_g) max_g = j - i;
        i = j;
    }
    size_t gsz = (size_t)(max_g ? max_g : 1);
    s.gt = gt;
    s.dets = dets;
    s.type = type;
    s.e = e;
    s.ious = malloc(100 * gsz * sizeof *s.ious);
    s.gperm = malloc(gsz * sizeof *s.gperm);
    s.gig = malloc(gsz);
    s.gmatched = malloc(gsz);
    s.crowd = malloc(gsz);
    s.garea = malloc(gsz * sizeof *s.garea);
    g_idx = malloc(gsz * sizeof *g_idx);
    d_idx = malloc(100 * sizeof *d_idx);
    if (!s.ious || !s.gperm || !s.gig || !s.gmatched || !s.crowd || !s.garea || !g_idx || !d_idx) {
        st = DC_ERR(DC_ERR_NOMEM, "cocoeval: scratch for %lld ground-truth boxes per image", (long long)max_g);
        goto done;
    }

    int64_t gi = 0, di = 0;
    for (int k = 0; k < K; k++) {
        int64_t npig[DC_COCOEVAL_A] = {0, 0, 0, 0};
        for (int a = 0; a < DC_COCOEVAL_A; a++) lists[a].n = 0;
        /* walk the images that have ground truth or detections of category k, in id order */
        while ((gi < ng && gk[gi].cat == k) || (di < nd && dk[di].cat == k)) {
            int64_t rg = gi < ng && gk[gi].cat == k ? gk[gi].img_rank : INT64_MAX;
            int64_t rd = di < nd && dk[di].cat == k ? dk[di].img_rank : INT64_MAX;
            int64_t r = rg < rd ? rg : rd;
            int64_t G = 0, D = 0;
            while (gi < ng && gk[gi].cat == k && gk[gi].img_rank == r) g_idx[G++] = gk[gi++].index;
            while (di < nd && dk[di].cat == k && dk[di].img_rank == r) {
                if (D < 100) d_idx[D++] = dk[di].index;
                di++;
            }
            e->class_dt[k] += D;
            st = evaluate_image(&s, g_idx, G, d_idx, D, lists, npig);
            if (st != DC_OK) goto done;
        }
        int64_t most = 0;
        for (int a = 0; a < DC_COCOEVAL_A; a++) if (lists[a].n > most) most = lists[a].n;
        entry *ns = realloc(sel, (size_t)(most ? most : 1) * sizeof *sel);
        double *ntp = realloc(tp, (size_t)(most ? most : 1) * sizeof *tp);
        if (ns) sel = ns;
        if (ntp) tp = ntp;
        double *nfp = realloc(fp, (size_t)(most ? most : 1) * sizeof *fp);
        if (nfp) fp = nfp;
        if (!ns || !ntp || !nfp) {
            st = DC_ERR(DC_ERR_NOMEM, "cocoeval: %lld detections of one category", (long long)most);
            goto done;
        }
        for (int a = 0; a < DC_COCOEVAL_A; a++)
            for (int m = 0; m < DC_COCOEVAL_M; m++) accumulate(e, k, a, m, &lists[a], npig[a], sel, tp, fp);
    }

    /* summarize: maxDets index 2 is 100 */
    e->stats[0] = mean_valid(e, 1, -1, 0, 2, -1);
    e->stats[1] = mean_valid(e, 1, 0, 0, 2, -1);
    e->stats[2] = mean_valid(e, 1, 5, 0, 2, -1);
    e->stats[3] = mean_valid(e, 1, -1, 1, 2, -1);
    e->stats[4] = mean_valid(e, 1, -1, 2, 2, -1);
    e->stats[5] = mean_valid(e, 1, -1, 3, 2, -1);
    e->stats[6] = mean_valid(e, 0, -1, 0, 0, -1);
    e->stats[7] = mean_valid(e, 0, -1, 0, 1, -1);
    e->stats[8] = mean_valid(e, 0, -1, 0, 2, -1);
    e->stats[9] = mean_valid(e, 0, -1, 1, 2, -1);
    e->stats[10] = mean_valid(e, 0, -1, 2, 2, -1);
    e->stats[11] = mean_valid(e, 0, -1, 3, 2, -1);
    for (int k = 0; k < K; k++) {
        e->class_ap[k] = mean_valid(e, 1, -1, 0, 2, k);
        e->class_ap50[k] = mean_valid(e, 1, 0, 0, 2, k);
        e->class_ap75[k] = mean_valid(e, 1, 5, 0, 2, k);
        e->class_ar100[k] = mean_valid(e, 0, -1, 0, 2, k);
    }
done:
    free(dk);
    free(gk);
    free(img_rank);
    for (int a = 0; a < DC_COCOEVAL_A; a++) free(lists[a].e);
    free(s.ious);
    free(s.gperm);
    free(s.gig);
    free(s.gmatched);
    free(s.crowd);
    free(s.garea);
    free(g_idx);
    free(d_idx);
    free(sel);
    free(tp);
    free(fp);
    if (st != DC_OK) {
        dc_cocoeval_free(e);
        return st;
    }
    *out = e;
    return DC_OK;
}

static const char *const STAT_NAMES[12] = {"AP", "AP50", "AP75", "APs", "APm", "APl",
                                           "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"};

void dc_cocoeval_print(const dc_cocoeval *e, const dc_coco *gt, int per_class, FILE *f) {
    static const char *area[4] = {"all", "small", "medium", "large"};
    static const int rows[12][4] = {
        /* ap, iou (-1 all, 0 .50, 5 .75), area, maxDets index */
        {1, -1, 0, 2}, {1, 0, 0, 2}, {1, 5, 0, 2}, {1, -1, 1, 2}, {1, -1, 2, 2}, {1, -1, 3, 2},
        {0, -1, 0, 0}, {0, -1, 0, 1}, {0, -1, 0, 2}, {0, -1, 1, 2}, {0, -1, 2, 2}, {0, -1, 3, 2}};
    fprintf(f, "iou type %s\n", dc_iou_type_name(e->type));
    for (int i = 0; i < 12; i++) {
        char iou[16];
        if (rows[i][1] < 0) snprintf(iou, sizeof iou, "0.50:0.95");
        else snprintf(iou, sizeof iou, "%.2f", e->iou_thrs[rows[i][1]]);
        fprintf(f, " %-18s %s @[ IoU=%-9s | area=%6s | maxDets=%3d ] = %.3f\n",
                rows[i][0] ? "Average Precision" : "Average Recall", rows[i][0] ? "(AP)" : "(AR)", iou,
                area[rows[i][2]], e->max_dets[rows[i][3]], e->stats[i]);
    }
    if (!per_class) return;
    fprintf(f, "%-20s %6s %7s %7s %7s %7s %7s %7s\n", "category", "id", "gt", "dets", "AP", "AP50", "AP75", "AR100");
    for (int k = 0; k < e->n_categories; k++)
        fprintf(f, "%-20.20s %6lld %7lld %7lld %7.3f %7.3f %7.3f %7.3f\n", gt->categories[k].name,
                (long long)gt->categories[k].id, (long long)e->class_gt[k], (long long)e->class_dt[k], e->class_ap[k],
                e->class_ap50[k], e->class_ap75[k], e->class_ar100[k]);
    if (e->n_dets_unknown_category)
        fprintf(f, "%lld detections of categories not in the ground truth were skipped\n",
                (long long)e->n_dets_unknown_category);
}

dc_status dc_cocoeval_write_json(const char *path, const dc_cocoeval *e, const dc_coco *gt) {
    dc_json_writer w;
    dc_json_writer_init(&w);
    dc_json_begin_object(&w);
    dc_json_key(&w, "iou_type");
    dc_json_string(&w, dc_iou_type_name(e->type));
    dc_json_key(&w, "stats");
    dc_json_begin_object(&w);
    for (int i = 0; i < 12; i++) {
        dc_json_key(&w, STAT_NAMES[i]);
        dc_json_double(&w, e->stats[i]);
    }
    dc_json_end_object(&w);
    dc_json_key(&w, "per_class");
    dc_json_begin_array(&w);
    for (int k = 0; k < e->n_categories; k++) {
        dc_json_newline(&w);
        dc_json_begin_object(&w);
        dc_json_key(&w, "category_id");
        dc_json_int(&w, gt->categories[k].id);
        dc_json_key(&w, "name");
        dc_json_string(&w, gt->categories[k].name);
        dc_json_key(&w, "gt");
        dc_json_int(&w, e->class_gt[k]);
        dc_json_key(&w, "dets");
        dc_json_int(&w, e->class_dt[k]);
        dc_json_key(&w, "AP");
        dc_json_double(&w, e->class_ap[k]);
        dc_json_key(&w, "AP50");
        dc_json_double(&w, e->class_ap50[k]);
        dc_json_key(&w, "AP75");
        dc_json_double(&w, e->class_ap75[k]);
        dc_json_key(&w, "AR100");
        dc_json_double(&w, e->class_ar100[k]);
        dc_json_end_object(&w);
    }
    dc_json_end_array(&w);
    dc_json_end_object(&w);
    dc_json_newline(&w);
    char *text;
    size_t len;
    const char *why;
    if (dc_json_writer_take(&w, &text, &len, &why) != 0)
        return DC_ERR(DC_ERR_ARG, "%s: cannot write the evaluation: %s", path, why ? why : "?");
    dc_chunk c = {text, len};
    dc_status st = dc_file_write_atomic(path, &c, 1);
    free(text);
    return st;
}
