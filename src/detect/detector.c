/* detector.c — the detector interface (detector.h): a switch over YOLO v1 and the two-stage
 * detectors, the conversion of target rows into pixel boxes, and checkpoint loading. */
#include "detect/detector.h"

#include <stdlib.h>
#include <string.h>

dc_status dc_detector_check(const char *name, const char **canonical) {
    if (name && dc_yolo_model_check(name, canonical) == DC_OK) return DC_OK;
    if (name && dc_frcnn_model_check(name, NULL) == DC_OK) {
        if (canonical)
            *canonical = !strcmp(name, DC_FRCNN_MODEL)      ? DC_FRCNN_MODEL
                         : !strcmp(name, DC_MASK_RCNN_MODEL) ? DC_MASK_RCNN_MODEL
                                                             : DC_FAST_RCNN_MODEL;
        return DC_OK;
    }
    dc_error_clear();
    return DC_ERR(DC_ERR_ARG, "unknown detector '%s' (known: yolo_mini (alias yolo), yolo_s8, yolo_s16, faster_rcnn, fast_rcnn, mask_rcnn)",
                  name ? name : "(null)");
}

int dc_detector_stride(const char *name) {
    if (name && dc_yolo_model_check(name, NULL) == DC_OK) return dc_yolo_model_stride(name);
    if (name && dc_frcnn_model_check(name, NULL) == DC_OK) return DC_FRCNN_STRIDE;
    dc_error_clear();
    return 0;
}

void dc_detector_free(dc_detector *det) {
    if (!det) return;
    if (det->kind == DC_DETECTOR_YOLO) dc_yolo_net_free(&det->yolo);
    else dc_frcnn_net_free(&det->frcnn);
    free(det->gt_boxes);
    free(det->gt_cls);
    free(det->gt_n);
    free(det->gt_pix);
    free(det->gt_masks);
    memset(det, 0, sizeof *det);
}

dc_status dc_detector_create(const char *name, int side, int C, int max_obj, int64_t max_batch, const dc_graph_opts *go,
                             dc_detector *det) {
    return dc_detector_create_rev(name, -1, side, C, max_obj, max_batch, go, det);
}

/* revision -1: this build's current networks. */
dc_status dc_detector_create_rev(const char *name, int revision, int side, int C, int max_obj, int64_t max_batch,
                                 const dc_graph_opts *go, dc_detector *det) {
    if (!det) return DC_ERR(DC_ERR_ARG, "dc_detector_create: NULL output");
    memset(det, 0, sizeof *det);
    DC_TRY(dc_detector_check(name, &det->model));
    dc_frcnn_opts o;
    if (dc_frcnn_model_check(det->model, NULL) != DC_OK) {
        dc_error_clear();
        det->kind = DC_DETECTOR_YOLO;
        return dc_yolo_net_create(det->model, side, 2, C, max_obj, max_batch, go, &det->yolo);
    }
    DC_TRY(dc_frcnn_model_revision(det->model, revision, &o));
    det->kind = DC_DETECTOR_FRCNN;
    DC_TRY(dc_frcnn_net_create(&o, side, C, max_obj > 0, max_batch, go, &det->frcnn));
    if (max_obj > 0) {
        det->max_obj = max_obj;
        det->gt_boxes = malloc((size_t)(max_batch * max_obj) * 4 * sizeof(float));
        det->gt_cls = malloc((size_t)(max_batch * max_obj) * sizeof(int32_t));
        det->gt_n = malloc((size_t)max_batch * sizeof(int));
        if (o.mask) {
            det->gt_pix = malloc((size_t)(max_batch * max_obj) * (size_t)side * (size_t)side);
            det->gt_masks = calloc((size_t)(max_batch * max_obj), sizeof *det->gt_masks);
        }
        if (!det->gt_boxes || !det->gt_cls || !det->gt_n || (o.mask && (!det->gt_pix || !det->gt_masks))) {
            dc_detector_free(det);
            return DC_ERR(DC_ERR_NOMEM, "detector: ground-truth scratch for batch %lld", (long long)max_batch);
        }
    }
    return DC_OK;
}

dc_graph *dc_detector_graph(dc_detector *det) { return det->kind == DC_DETECTOR_YOLO ? det->yolo.g : det->frcnn.g; }

float *dc_detector_images(dc_detector *det) {
    return det->kind == DC_DETECTOR_YOLO ? dc_graph_data(det->yolo.g, det->yolo.x) : dc_graph_data(det->frcnn.g, det->frcnn.x);
}

int dc_detector_classes(const dc_detector *det) { return det->kind == DC_DETECTOR_YOLO ? det->yolo.C : det->frcnn.C; }

int dc_detector_revision(const dc_detector *det) {
    if (det->kind == DC_DETECTOR_YOLO) return DC_YOLO_REVISION;
    return dc_frcnn_revision(&det->frcnn.o);
}

dc_status dc_detector_check_revision(const char *model, int revision, const char *path) {
    if (dc_yolo_model_stride(model) > 0) return dc_yolo_model_check_revision(model, revision, path);
    if (dc_frcnn_model_check(model, NULL) != DC_OK) { /* not a two-stage model: checked elsewhere */
        dc_error_clear();
        return DC_OK;
    }
    if (revision < 0) return DC_ERR(DC_ERR_FORMAT, "%s: %s checkpoint of network revision %d", path, model, revision);
    if (dc_frcnn_model_revision(model, revision, NULL) != DC_OK) /* its message names the revisions known */
        return DC_ERR(DC_ERR_FORMAT, "%s: %s", path, dc_last_error());
    return DC_OK;
}

void dc_detector_set_seed(dc_detector *det, uint64_t seed) {
    dc_graph_set_seed(dc_detector_graph(det), seed);
    if (det->kind == DC_DETECTOR_FRCNN) dc_rng_seed(&det->frcnn.rng, dc_seed_mix(seed, 0x5a3, 7));
}

dc_node dc_detector_loss(const dc_detector *det) { return det->kind == DC_DETECTOR_YOLO ? det->yolo.loss : det->frcnn.loss; }

int dc_detector_has_masks(const dc_detector *det) { return det->kind == DC_DETECTOR_FRCNN && det->frcnn.o.mask; }

/* Ground truth of image i of d for the two-stage detectors: the annotations dc_yolo_targets keeps
 * (not crowd, non-empty), in file order, as pixel boxes and classes 1..C, mirrored when flip; with
 * masks, each decoded (and mirrored) into pix[q] (side x side). */
static int gt_of_image(const dc_detdata *d, int64_t i, int flip, int max_obj, float *boxes, int32_t *cls,
                       uint8_t *pix, const uint8_t **masks) {
    const dc_coco_image *im = &d->coco->images[i];
    const int64_t px = (int64_t)d->h * d->w;
    int n = 0;
    for (int64_t a = 0; a < im->ann_count && n < max_obj; a++) {
        const dc_coco_ann *an = &d->coco->anns[im->ann_first + a];
        if (an->iscrowd || !(an->bbox[2] > 0.0) || !(an->bbox[3] > 0.0)) continue;
        float x1 = (float)an->bbox[0], x2 = (float)(an->bbox[0] + an->bbox[2]);
        boxes[4 * n] = flip ? (float)d->w - x2 : x1;
        boxes[4 * n + 1] = (float)an->bbox[1];
        boxes[4 * n + 2] = flip ? (float)d->w - x1 : x2;
        boxes[4 * n + 3] = (float)(an->bbox[1] + an->bbox[3]);
        cls[n] = an->category + 1;
        if (masks) {
            masks[n] = NULL;
            if (an->has_mask) {
                uint8_t *m = pix + n * px;
                dc_rle_decode(&an->mask, m);
                if (flip)
                    for (int y = 0; y < d->h; y++)
                        for (int x = 0; x < d->w / 2; x++) {
                            uint8_t t = m[y * d->w + x];
                            m[y * d->w + x] = m[y * d->w + d->w - 1 - x];
                            m[y * d->w + d->w - 1 - x] = t;
                        }
                masks[n] = m;
            }
        }
        n++;
    }
    return n;
}

dc_status dc_detector_forward_train(dc_detector *det, int64_t b, const float *targets, const dc_detdata *d,
                                    const int64_t *idx, const int *flips, const dc_box_list *props, float *loss) {
    if (det->kind == DC_DETECTOR_YOLO) {
        if (det->yolo.max_obj < 1) return DC_ERR(DC_ERR_STATE, "%s: not built for training", det->model);
        memcpy(dc_graph_data(det->yolo.g, det->yolo.targets), targets,
               (size_t)(b * det->yolo.max_obj * 5) * sizeof(float));
        DC_TRY(dc_graph_forward(det->yolo.g, b, 1));
        *loss = dc_graph_loss(det->yolo.g, det->yolo.loss);
        return DC_OK;
    }
    if (!det->gt_boxes) return DC_ERR(DC_ERR_STATE, "%s: not built for training", det->model);
    if (!d || !idx || !flips) return DC_ERR(DC_ERR_ARG, "%s: training needs the images' annotations", det->model);
    if (d->max_obj > det->max_obj)
        return DC_ERR(DC_ERR_SHAPE, "%s: %d objects in an image of %s, the network was built for %d", det->model,
                      d->max_obj, d->coco->path, det->max_obj);
    const int64_t px = (int64_t)d->h * d->w;
    for (int64_t k = 0; k < b; k++) {
        int64_t o = k * det->max_obj;
        det->gt_n[k] = gt_of_image(d, idx[k], flips[k], det->max_obj, det->gt_boxes + 4 * o, det->gt_cls + o,
                                   det->gt_pix ? det->gt_pix + o * px : NULL, det->gt_masks ? det->gt_masks + o : NULL);
    }
    (void)targets;
    return dc_frcnn_forward_train(&det->frcnn, b, det->gt_boxes, det->gt_cls, det->gt_n, det->max_obj, props,
                                  det->gt_masks, loss, NULL);
}

dc_status dc_detector_detect(dc_detector *det, int64_t b, float score_thresh, float nms, const dc_box_list *props,
                             float *boxes, float *scores, int32_t *classes, int64_t *n, dc_rle *masks) {
    if (det->kind == DC_DETECTOR_FRCNN)
        return dc_frcnn_detect(&det->frcnn, b, score_thresh, nms, props, boxes, scores, classes, n, masks);
    dc_yolo_net *y = &det->yolo;
    DC_TRY(dc_graph_forward_to(y->g, y->pred, b, 0));
    dc_yolo_decode_opts o = dc_yolo_decode_opts_default(y->S, y->B, y->C, (float)y->side, (float)y->side);
    o.class_softmax = y->opts.class_softmax_ce;
    o.score_thresh = score_thresh;
    o.nms_thresh = nms;
    const float *pred = dc_graph_data(y->g, y->pred);
    const int64_t P = (int64_t)y->S * y->S * (y->B * 5 + y->C);
    for (int64_t k = 0; k < b; k++) {
        DC_TRY(dc_yolo_decode(&o, pred + k * P, 100, boxes + k * 400, scores + k * 100, classes + k * 100, &n[k]));
        dc_boxes_clip(n[k], boxes + k * 400, (float)y->side, (float)y->side);
    }
    return DC_OK;
}

dc_status dc_detector_detect_set(dc_detector *det, const dc_detdata *d, int64_t batch, float score_thresh,
                                 const dc_box_list *props, dc_detection **dets, int64_t *n, double *seconds) {
    if (det->kind == DC_DETECTOR_YOLO) return dc_yolo_detect_set(&det->yolo, d, batch, score_thresh, dets, n, seconds);
    return dc_frcnn_detect_set(&det->frcnn, d, batch, score_thresh, props, dets, n, seconds);
}

dc_status dc_detector_load(const char *ckpt, const char *model, int side, int64_t batch, dc_pool *pool, dc_detector *det,
                           dc_checkpoint_meta *m) {
    DC_TRY(dc_checkpoint_read_meta(ckpt, m));
    const char *canon = NULL;
    if (dc_detector_check(m->model, &canon) != DC_OK)
        return DC_ERR(DC_ERR_FORMAT, "%s holds model '%s', not a detector (train one with deepc dettrain)", ckpt,
                      m->model);
    const char *want = NULL;
    if (model && dc_detector_check(model, &want) == DC_OK && strcmp(want, canon) != 0)
        return DC_ERR(DC_ERR_ARG, "%s holds model '%s', not '%s'", ckpt, m->model, model);
    if (m->num_classes < 1 || m->num_classes > 100000)
        return DC_ERR(DC_ERR_FORMAT, "%s: class count %d in the metadata outside 1..100000", ckpt, m->num_classes);
    DC_TRY(dc_detector_check_revision(canon, m->revision, ckpt));
    int stride = dc_detector_stride(canon);
    if (side < stride || side % stride != 0)
        return DC_ERR(DC_ERR_SHAPE, "%s: input side %d is not a multiple of %d", canon, side, stride);
    dc_graph_opts go = {.pool = pool};
    DC_TRY(dc_detector_create_rev(canon, m->revision, side, m->num_classes, 0, batch, &go, det));
    dc_status s = dc_checkpoint_load(ckpt, dc_detector_graph(det), NULL, NULL);
    if (s != DC_OK) dc_detector_free(det);
    else dc_graph_set_fusion(dc_detector_graph(det), DC_FUSION_INFERENCE); /* conv+BN(+ReLU) folded */
    return s;
}
