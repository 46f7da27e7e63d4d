/* rcnn_train.c — R-CNN over a set (rcnn_train.h): the proposal cache, checkpoints, detection of a
 * split, and the training job (fine-tuning, box regressors, validation-based settings).
 * The per-region pieces (warping, network, ridge solver, post-processing) are in detect/rcnn.c. */
#include "train/rcnn_train.h"
#include "io/atomic.h"
#include "io/safetensors.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------ proposal cache */
void dc_rcnn_props_free(dc_rcnn_props *p) {
    if (!p) return;
    free(p->first);
    free(p->boxes);
    free(p);
}

int64_t dc_rcnn_props_count(const dc_rcnn_props *p, int64_t i) { return p->first[i + 1] - p->first[i]; }

void dc_rcnn_props_get(const dc_rcnn_props *p, int64_t i, float *out) {
    const uint16_t *b = p->boxes + p->first[i] * 4;
    int64_t n = dc_rcnn_props_count(p, i) * 4;
    for (int64_t k = 0; k < n; k++) out[k] = (float)b[k];
}

typedef struct props_task {
    const dc_detdata *d;
    const dc_selsearch_opts *o;
    uint16_t **boxes;    /* per image */
    int64_t *counts;
    double *cpu;         /* per thread */
    dc_status *st;       /* per thread */
    char (*msg)[512];
    atomic_llong done;
    int progress;
    double t0;
} props_task;

static void props_range(void *ctx, int tid, int nt) {
    props_task *t = ctx;
    const dc_detdata *d = t->d;
    const int64_t per = (int64_t)d->h * d->w;
    for (int64_t i = tid; i < d->n; i += nt) { /* interleaved: images cost about the same */
        dc_selsearch_opts o = *t->o;
        o.seed = dc_seed_mix(t->o->seed, (uint64_t)i, 0);
        float *b = NULL;
        int64_t n = 0;
        double t0 = dc_clock_s();
        dc_status s = dc_selsearch(d->pixels + i * per, d->h, d->w, &o, &b, &n);
        t->cpu[tid] += dc_clock_s() - t0;
        uint16_t *u = s == DC_OK ? malloc((size_t)(n > 0 ? n : 1) * 4 * sizeof *u) : NULL;
        if (s == DC_OK && !u) s = DC_ERR(DC_ERR_NOMEM, "proposals of one image");
        if (s != DC_OK) {
            free(b);
            t->st[tid] = s;
            snprintf(t->msg[tid], sizeof t->msg[tid], "%s: image %lld (%s): %s", d->coco->path, (long long)i,
                     d->coco->images[i].file_name, dc_last_error());
            return;
        }
        for (int64_t k = 0; k < n * 4; k++) u[k] = (uint16_t)b[k]; /* region boxes are whole pixels */
        free(b);
        t->boxes[i] = u;
        t->counts[i] = n;
        long long done = atomic_fetch_add(&t->done, 1) + 1;
        if (tid == 0 && t->progress && (done % 50 == 0 || done == d->n)) {
            double el = dc_clock_s() - t->t0;
            fprintf(stderr, "\rselective search %lld/%lld  %.1f ms/image   ", done, (long long)d->n,
                    1000.0 * el / (double)done);
            fflush(stderr);
        }
    }
}

dc_status dc_rcnn_props_compute(const dc_detdata *d, const dc_selsearch_opts *o, int threads, int progress,
                                dc_rcnn_props **out) {
    if (!d || !o || !out) return DC_ERR(DC_ERR_ARG, "dc_rcnn_props_compute: NULL argument");
    *out = NULL;
    if (threads < 1 || threads > 256) return DC_ERR(DC_ERR_ARG, "dc_rcnn_props_compute: %d threads", threads);
    props_task t;
    memset(&t, 0, sizeof t);
    t.d = d;
    t.o = o;
    t.progress = progress;
    t.boxes = calloc((size_t)(d->n > 0 ? d->n : 1), sizeof *t.boxes);
    t.counts = calloc((size_t)(d->n > 0 ? d->n : 1), sizeof *t.counts);
    t.cpu = calloc((size_t)threads, sizeof *t.cpu);
    t.st = calloc((size_t)threads, sizeof *t.st);
    t.msg = calloc((size_t)threads, sizeof *t.msg);
    atomic_init(&t.done, 0);
    dc_rcnn_props *p = calloc(1, sizeof *p);
    dc_pool *pool = NULL;
    dc_status s = t.boxes && t.counts && t.cpu && t.st && t.msg && p ? DC_OK : DC_ERR(DC_ERR_NOMEM, "proposal cache");
    if (s == DC_OK) s = dc_pool_create(threads, &pool);
    if (s == DC_OK) {
        t.t0 = dc_clock_s();
        dc_pool_run(pool, props_range, &t);
        p->wall_seconds = dc_clock_s() - t.t0;
        if (progress) fprintf(stderr, "\n");
        for (int i = 0; i < threads; i++) {
            p->cpu_seconds += t.cpu[i];
            if (s == DC_OK && t.st[i] != DC_OK) s = dc_error_set(t.st[i], __FILE__, __LINE__, "%s", t.msg[i]);
        }
    }
    if (s == DC_OK) {
        p->n_images = d->n;
        p->first = malloc((size_t)(d->n + 1) * sizeof *p->first);
        int64_t total = 0;
        for (int64_t i = 0; i < d->n; i++) total += t.counts[i];
        p->boxes = malloc((size_t)(total > 0 ? total : 1) * 4 * sizeof *p->boxes);
        if (!p->first || !p->boxes) s = DC_ERR(DC_ERR_NOMEM, "proposal cache: %lld boxes", (long long)total);
        for (int64_t i = 0, at = 0; s == DC_OK && i <= d->n; i++) {
            p->first[i] = at;
            if (i == d->n) break;
            memcpy(p->boxes + at * 4, t.boxes[i], (size_t)t.counts[i] * 4 * sizeof *p->boxes);
            at += t.counts[i];
        }
    }
    for (int64_t i = 0; t.boxes && i < d->n; i++) free(t.boxes[i]);
    free(t.boxes), free(t.counts), free(t.cpu), free(t.st), free(t.msg);
    dc_pool_free(pool);
    if (s != DC_OK) {
        dc_rcnn_props_free(p);
        return s;
    }
    *out = p;
    return DC_OK;
}

int64_t dc_rcnn_image_gt(const dc_coco *c, int64_t i, float *boxes, int32_t *classes) {
    const dc_coco_image *im = &c->images[i];
    int64_t n = 0;
    for (int64_t a = im->ann_first; a < im->ann_first + im->ann_count; a++) {
        const dc_coco_ann *an = &c->anns[a];
        if (an->iscrowd || !(an->bbox[2] > 0.0) || !(an->bbox[3] > 0.0)) continue;
        boxes[n * 4] = (float)an->bbox[0];
        boxes[n * 4 + 1] = (float)an->bbox[1];
        boxes[n * 4 + 2] = (float)(an->bbox[0] + an->bbox[2]);
        boxes[n * 4 + 3] = (float)(an->bbox[1] + an->bbox[3]);
        classes[n] = an->category + 1;
        n++;
    }
    return n;
}

static int64_t max_anns(const dc_coco *c, int64_t n_images) {
    int64_t m = 1;
    for (int64_t i = 0; i < n_images; i++)
        if (c->images[i].ann_count > m) m = c->images[i].ann_count;
    return m;
}

static int64_t max_props(const dc_rcnn_props *p) {
    int64_t m = 1;
    for (int64_t i = 0; i < p->n_images; i++)
        if (dc_rcnn_props_count(p, i) > m) m = dc_rcnn_props_count(p, i);
    return m;
}

dc_status dc_rcnn_props_recall(const dc_rcnn_props *p, const dc_coco *c, int n_thr, const float *thr, double *recall,
                               double *mean_props) {
    if (!p || !c || n_thr < 1 || !thr || !recall) return DC_ERR(DC_ERR_ARG, "dc_rcnn_props_recall: bad argument");
    if (p->n_images > c->n_images)
        return DC_ERR(DC_ERR_ARG, "dc_rcnn_props_recall: %lld images of proposals, %lld in %s", (long long)p->n_images,
                      (long long)c->n_images, c->path);
    int64_t mg = max_anns(c, p->n_images), mp = max_props(p), total = 0;
    float *gt = malloc((size_t)mg * 4 * sizeof *gt), *pb = malloc((size_t)mp * 4 * sizeof *pb);
    float *iou = malloc((size_t)(mg * mp) * sizeof *iou);
    int32_t *cls = malloc((size_t)mg * sizeof *cls);
    int64_t *hit = calloc((size_t)n_thr, sizeof *hit);
    dc_status s = gt && pb && iou && cls && hit ? DC_OK : DC_ERR(DC_ERR_NOMEM, "recall buffers");
    for (int64_t i = 0; s == DC_OK && i < p->n_images; i++) {
        int64_t ng = dc_rcnn_image_gt(c, i, gt, cls), np = dc_rcnn_props_count(p, i);
        dc_rcnn_props_get(p, i, pb);
        dc_boxes_iou(ng, gt, np, pb, iou);
        for (int64_t g = 0; g < ng; g++) {
            float best = 0.0f;
            for (int64_t q = 0; q < np; q++)
                if (iou[g * np + q] > best) best = iou[g * np + q];
            for (int k = 0; k < n_thr; k++) hit[k] += best >= thr[k];
        }
        total += ng;
    }
    for (int k = 0; s == DC_OK && k < n_thr; k++) recall[k] = total ? (double)hit[k] / (double)total : 0.0;
    if (s == DC_OK && mean_props)
        *mean_props = p->n_images ? (double)p->first[p->n_images] / (double)p->n_images : 0.0;
    free(gt), free(pb), free(iou), free(cls), free(hit);
    return s;
}

/* ------------------------------------------------------------------ checkpoints */
dc_status dc_rcnn_save(const char *path, const dc_rcnn_net *net, const float *bbreg, const dc_rcnn_settings *s,
                       const dc_checkpoint_meta *m) {
    if (!path || !net || !net->g || !s) return DC_ERR(DC_ERR_ARG, "dc_rcnn_save: NULL argument");
    int np = dc_graph_param_count(net->g);
    const dc_param *p = dc_graph_params(net->g);
    if (!p) return DC_ERR(DC_ERR_STATE, "%s: network not planned", path);
    dc_named_tensor *t = calloc((size_t)np + 1, sizeof *t);
    if (!t) return DC_ERR(DC_ERR_NOMEM, "checkpoint table");
    int n = 0;
    for (int i = 0; i < np; i++) t[n++] = (dc_named_tensor){p[i].name, p[i].shape, p[i].data};
    if (bbreg && s->has_bbreg) t[n++] = (dc_named_tensor){"rcnn.bbox_reg", dc_shape3(net->C, 4, DC_RCNN_FEATURES + 1), bbreg};
    dc_checkpoint_meta mm;
    memset(&mm, 0, sizeof mm);
    if (m) mm = *m;
    char epoch[32], step[32], val[32], lr[32], seed[32], classes[32], batch[32];
    char side[32], pad[32], nms[32], lambda[32], hasreg[8], sigma[32], mss[32], maxb[32], sseed[32];
    snprintf(epoch, sizeof epoch, "%d", mm.epoch);
    snprintf(step, sizeof step, "%" PRId64, mm.step);
    snprintf(val, sizeof val, "%.6f", mm.val_acc);
    snprintf(lr, sizeof lr, "%.9g", mm.lr);
    snprintf(seed, sizeof seed, "%" PRIu64, mm.seed);
    snprintf(classes, sizeof classes, "%d", net->C);
    snprintf(batch, sizeof batch, "%d", mm.batch);
    snprintf(side, sizeof side, "%d", s->side);
    snprintf(pad, sizeof pad, "%.9g", (double)s->pad);
    snprintf(nms, sizeof nms, "%.9g", (double)s->nms);
    snprintf(lambda, sizeof lambda, "%.9g", s->lambda);
    snprintf(hasreg, sizeof hasreg, "%d", bbreg && s->has_bbreg ? 1 : 0);
    snprintf(sigma, sizeof sigma, "%.9g", (double)s->ss.sigma);
    snprintf(mss, sizeof mss, "%.9g", (double)s->ss.min_size_scale);
    snprintf(maxb, sizeof maxb, "%" PRId64, s->ss.max_boxes);
    snprintf(sseed, sizeof sseed, "%" PRIu64, s->ss.seed);
    const char *meta[] = {"format", "deepc-checkpoint-1", "model", DC_RCNN_MODEL, "optimizer", mm.optimizer,
                          "epoch", epoch, "step", step, "val_acc", val, "lr", lr, "seed", seed,
                          "num_classes", classes, "batch", batch, "rcnn_side", side, "rcnn_pad", pad,
                          "rcnn_nms", nms, "rcnn_lambda", lambda, "rcnn_bbox_reg", hasreg,
                          "rcnn_ss_mode", dc_ss_mode_name(s->ss.mode), "rcnn_ss_sigma", sigma,
                          "rcnn_ss_min_size_scale", mss, "rcnn_ss_max_boxes", maxb, "rcnn_ss_seed", sseed};
    dc_status st = dc_safetensors_write(path, t, n, meta, (int)(sizeof meta / sizeof meta[0]) / 2);
    free(t);
    return st;
}

void dc_rcnn_model_free(dc_rcnn_model *m) {
    if (!m) return;
    dc_rcnn_net_free(&m->net);
    free(m->bbreg);
    memset(m, 0, sizeof *m);
}

static dc_status meta_num(const dc_st_file *f, const char *path, const char *key, double lo, double hi, double *out) {
    const char *v = dc_st_meta(f, key);
    char *end = NULL;
    double x = v ? strtod(v, &end) : 0.0;
    if (!v || end == v || *end || !(x >= lo && x <= hi))
        return DC_ERR(DC_ERR_FORMAT, "%s: R-CNN metadata '%s' is %s%s%s, expected a number in [%g, %g]", path, key,
                      v ? "'" : "missing", v ? v : "", v ? "'" : "", lo, hi);
    *out = x;
    return DC_OK;
}

dc_status dc_rcnn_load(const char *path, int64_t max_batch, const dc_graph_opts *go, dc_rcnn_model *out) {
    if (!path || !out) return DC_ERR(DC_ERR_ARG, "dc_rcnn_load: NULL argument");
    memset(out, 0, sizeof *out);
    DC_TRY(dc_checkpoint_read_meta(path, &out->meta));
    if (dc_rcnn_model_check(out->meta.model, NULL) != DC_OK)
        return DC_ERR(DC_ERR_FORMAT, "%s holds model '%s', not an R-CNN model (train one with deepc dettrain --model rcnn)",
                      path, out->meta.model);
    dc_st_file *f = NULL;
    DC_TRY(dc_safetensors_read(path, &f));
    double side = 0, pad = 0, nms = 0, lambda = 0, hasreg = 0, sigma = 0, mss = 0, maxb = 0, sseed = 0, classes = 0;
    dc_rcnn_settings *s = &out->set;
    dc_status st = meta_num(f, path, "num_classes", 1, 10000, &classes);
    if (st == DC_OK) st = meta_num(f, path, "rcnn_side", 8, 256, &side);
    if (st == DC_OK && (int)side % 8 != 0) st = DC_ERR(DC_ERR_FORMAT, "%s: rcnn_side %g is not a multiple of 8", path, side);
    if (st == DC_OK) st = meta_num(f, path, "rcnn_pad", 0, side / 2 - 0.5, &pad);
    if (st == DC_OK) st = meta_num(f, path, "rcnn_nms", 0, 1, &nms);
    if (st == DC_OK) st = meta_num(f, path, "rcnn_lambda", 0, 1e12, &lambda);
    if (st == DC_OK) st = meta_num(f, path, "rcnn_bbox_reg", 0, 1, &hasreg);
    if (st == DC_OK) st = meta_num(f, path, "rcnn_ss_sigma", 0, 31, &sigma);
    if (st == DC_OK) st = meta_num(f, path, "rcnn_ss_min_size_scale", 0, 100, &mss);
    if (st == DC_OK) st = meta_num(f, path, "rcnn_ss_max_boxes", 0, 1e9, &maxb);
    if (st == DC_OK) st = meta_num(f, path, "rcnn_ss_seed", 0, 1.8446744073709552e19, &sseed);
    if (st == DC_OK) {
        const char *mode = dc_st_meta(f, "rcnn_ss_mode");
        st = dc_ss_mode_parse(mode, &s->ss.mode);
        if (st != DC_OK) st = DC_ERR(DC_ERR_FORMAT, "%s: rcnn_ss_mode '%s' unknown", path, mode ? mode : "(missing)");
    }
    if (st == DC_OK) {
        s->side = (int)side;
        s->pad = (float)pad;
        s->nms = (float)nms;
        s->lambda = lambda;
        s->has_bbreg = hasreg != 0.0;
        s->ss.sigma = (float)sigma;
        s->ss.min_size_scale = (float)mss;
        s->ss.max_boxes = (int64_t)maxb;
        s->ss.seed = strtoull(dc_st_meta(f, "rcnn_ss_seed"), NULL, 10);
        st = dc_rcnn_net_create(s->side, (int)classes, 0, max_batch, go, &out->net);
    }
    if (st == DC_OK) st = dc_checkpoint_load(path, out->net.g, NULL, NULL);
    if (st == DC_OK && s->has_bbreg) {
        dc_shape sh;
        const float *data;
        int64_t numel = (int64_t)out->net.C * 4 * (DC_RCNN_FEATURES + 1);
        st = dc_st_get(f, "rcnn.bbox_reg", &sh, &data);
        if (st == DC_OK && dc_shape_numel(sh) != numel)
            st = DC_ERR(DC_ERR_FORMAT, "%s: rcnn.bbox_reg has %lld values, expected %d x 4 x %d", path,
                        (long long)dc_shape_numel(sh), out->net.C, DC_RCNN_FEATURES + 1);
        if (st == DC_OK) {
            out->bbreg = malloc((size_t)numel * sizeof *out->bbreg);
            if (!out->bbreg) st = DC_ERR(DC_ERR_NOMEM, "box regressors");
            else memcpy(out->bbreg, data, (size_t)numel * sizeof *out->bbreg);
        }
    }
    dc_st_free(f);
    if (st != DC_OK) dc_rcnn_model_free(out);
    return st;
}

/* ------------------------------------------------------------------ detection over a set */
/* Scores of a set's proposals, kept where some object class passes the threshold (the candidates),
 * with their features: enough to try regressors and NMS thresholds without running the CNN again. */
typedef struct scored_set {
    int64_t n_images;
    int64_t *first;     /* [n_images + 1] */
    float *boxes;       /* [total][4]     */
    float *probs;       /* [total][C + 1] */
    float *feats;       /* [total][F]     */
    int64_t total, cap;
    int C;
} scored_set;

static void scored_free(scored_set *s) {
    free(s->first), free(s->boxes), free(s->probs), free(s->feats);
    memset(s, 0, sizeof *s);
}

/* Score every image of d with net; keep the candidates. */
static dc_status score_set(dc_rcnn_net *net, const dc_detdata *d, const dc_rcnn_props *props, float pad, float thresh,
                           scored_set *out, double *seconds) {
    memset(out, 0, sizeof *out);
    const int K = net->C + 1, F = DC_RCNN_FEATURES;
    if (props->n_images < d->n)
        return DC_ERR(DC_ERR_ARG, "R-CNN: proposals for %lld images, the set has %lld", (long long)props->n_images,
                      (long long)d->n);
    int64_t mp = max_props(props);
    float *pb = malloc((size_t)mp * 4 * sizeof *pb), *pr = malloc((size_t)(mp * K) * sizeof *pr);
    float *fe = malloc((size_t)(mp * F) * sizeof *fe);
    out->first = malloc((size_t)(d->n + 1) * sizeof *out->first);
    out->C = net->C;
    dc_status s = pb && pr && fe && out->first ? DC_OK : DC_ERR(DC_ERR_NOMEM, "R-CNN scoring buffers");
    double t = 0.0;
    const int64_t per = (int64_t)d->h * d->w;
    for (int64_t i = 0; s == DC_OK && i < d->n; i++) {
        int64_t np = dc_rcnn_props_count(props, i);
        dc_rcnn_props_get(props, i, pb);
        double t0 = dc_clock_s();
        s = dc_rcnn_score(net, d->pixels + i * per, d->h, d->w, pb, np, pad, pr, fe);
        t += dc_clock_s() - t0;
        out->first[i] = out->total;
        for (int64_t q = 0; s == DC_OK && q < np; q++) {
            float best = 0.0f;
            for (int c = 1; c < K; c++)
                if (pr[q * K + c] > best) best = pr[q * K + c];
            if (!(best > thresh)) continue;
            if (out->total == out->cap) {
                int64_t nc = out->cap ? 2 * out->cap : 4096;
                float *b2 = realloc(out->boxes, (size_t)nc * 4 * sizeof *b2);
                if (b2) out->boxes = b2;
                float *p2 = b2 ? realloc(out->probs, (size_t)(nc * K) * sizeof *p2) : NULL;
                if (p2) out->probs = p2;
                float *f2 = p2 ? realloc(out->feats, (size_t)(nc * F) * sizeof *f2) : NULL;
                if (f2) out->feats = f2;
                if (!f2) {
                    s = DC_ERR(DC_ERR_NOMEM, "R-CNN: %lld scored regions", (long long)nc);
                    break;
                }
                out->cap = nc;
            }
            memcpy(out->boxes + out->total * 4, pb + q * 4, 4 * sizeof *pb);
            memcpy(out->probs + out->total * K, pr + q * K, (size_t)K * sizeof *pr);
            memcpy(out->feats + out->total * F, fe + q * F, (size_t)F * sizeof *fe);
            out->total++;
        }
    }
    if (s == DC_OK) {
        out->first[d->n] = out->total;
        out->n_images = d->n;
    }
    free(pb), free(pr), free(fe);
    if (s != DC_OK) scored_free(out);
    if (seconds) *seconds = t;
    return s;
}

/* Detections of a scored set with the given options. */
static dc_status dets_of_scored(const scored_set *ss, const dc_coco *coco, const dc_detdata *d,
                                const dc_rcnn_detect_opts *o, dc_detection **dets, int64_t *n, double *seconds) {
    *dets = NULL;
    *n = 0;
    int64_t cap = 0, md = o->max_dets > 0 ? o->max_dets : 100;
    float *boxes = malloc((size_t)md * 4 * sizeof *boxes), *scores = malloc((size_t)md * sizeof *scores);
    int32_t *classes = malloc((size_t)md * sizeof *classes);
    dc_status s = boxes && scores && classes ? DC_OK : DC_ERR(DC_ERR_NOMEM, "detection buffers");
    dc_rcnn_detect_opts oo = *o;
    oo.max_dets = md;
    double t0 = dc_clock_s();
    for (int64_t i = 0; s == DC_OK && i < ss->n_images; i++) {
        int64_t a = ss->first[i], m = ss->first[i + 1] - a, k = 0;
        if (m == 0) continue; /* no candidate: no detection */
        s = dc_rcnn_postprocess(&oo, ss->C, m, ss->boxes + a * 4, ss->probs + a * (ss->C + 1),
                                ss->feats + a * DC_RCNN_FEATURES, d->h, d->w, boxes, scores, classes, &k);
        if (s == DC_OK) s = dc_detections_append(coco, i, k, boxes, scores, classes, 1, NULL, dets, n, &cap);
    }
    if (seconds) *seconds = dc_clock_s() - t0;
    free(boxes), free(scores), free(classes);
    if (s != DC_OK) {
        dc_detections_free(*dets, *n);
        *dets = NULL;
        *n = 0;
    }
    return s;
}

dc_status dc_rcnn_detect_set(dc_rcnn_model *m, const dc_detdata *d, const dc_rcnn_props *props,
                             const dc_rcnn_detect_opts *o, dc_detection **dets, int64_t *n, double *seconds) {
    if (!m || !m->net.g || !d || !props || !o || !dets || !n) return DC_ERR(DC_ERR_ARG, "dc_rcnn_detect_set: NULL argument");
    if (d->classes != m->net.C)
        return DC_ERR(DC_ERR_SHAPE, "%s: %d categories, the R-CNN checkpoint predicts %d classes", d->coco->path,
                      d->classes, m->net.C);
    scored_set ss;
    double t_score = 0.0, t_post = 0.0;
    DC_TRY(score_set(&m->net, d, props, o->pad, o->score_thresh, &ss, &t_score));
    dc_status s = dets_of_scored(&ss, d->coco, d, o, dets, n, &t_post);
    scored_free(&ss);
    if (seconds) *seconds = t_score + t_post;
    return s;
}

/* ------------------------------------------------------------------ training */
void dc_rcnn_train_config_defaults(dc_rcnn_train_config *c) {
    memset(c, 0, sizeof *c);
    c->model = DC_RCNN_MODEL;
    c->data_dir = "/work/detdata";
    c->optim = dc_optim_defaults(DC_OPTIM_ADAM, 1e-3f);
    c->schedule = DC_SCHED_COSINE;
    c->warmup_epochs = 0.2f;
    c->epochs = 6;
    c->batch = 128;
    c->fg_fraction = 0.25f;
    c->fg_iou = 0.5f;
    c->reg_iou = 0.6f;
    c->side = 32;
    c->pad = -1.0f;
    c->flip = 1;
    c->ss = dc_selsearch_opts_default();
    c->ss.mode = DC_SS_QUALITY;
    c->threads = 2;
    c->seed = 1;
    c->weight_decay = 5e-4f;
    c->val_epoch_limit = 200;
    c->reg_images = 2000;
    c->eval_thresh = 0.01f;
    c->tune = 1;
    c->progress = -1;
}

static dc_status validate(const dc_rcnn_train_config *c) {
    DC_TRY(dc_rcnn_model_check(c->model, NULL));
    if (!c->data_dir && (!c->train_json || !c->val_json))
        return DC_ERR(DC_ERR_ARG, "R-CNN training: no data directory (--data DIR with train.json and val.json)");
    if (c->epochs < 0 || c->epochs > 100000) return DC_ERR(DC_ERR_ARG, "--epochs %d outside 0..100000", c->epochs);
    if (c->batch < 2 || c->batch > 4096) return DC_ERR(DC_ERR_ARG, "--batch %d (regions) outside 2..4096", c->batch);
    if (c->threads < 1 || c->threads > 256) return DC_ERR(DC_ERR_ARG, "--threads %d outside 1..256", c->threads);
    if (c->side < 8 || c->side > 256 || c->side % 8) return DC_ERR(DC_ERR_ARG, "--side %d: a multiple of 8 in 8..256", c->side);
    if (!(c->pad < (float)c->side / 2.0f)) return DC_ERR(DC_ERR_ARG, "context padding %g must be < side/2", (double)c->pad);
    if (!(c->fg_fraction > 0.0f && c->fg_fraction <= 1.0f)) return DC_ERR(DC_ERR_ARG, "fg fraction %g outside (0, 1]", (double)c->fg_fraction);
    if (!(c->fg_iou > 0.0f && c->fg_iou <= 1.0f) || !(c->reg_iou > 0.0f && c->reg_iou <= 1.0f))
        return DC_ERR(DC_ERR_ARG, "IoU thresholds %g, %g outside (0, 1]", (double)c->fg_iou, (double)c->reg_iou);
    if (!(c->optim.lr > 0.0f) || !isfinite(c->optim.lr)) return DC_ERR(DC_ERR_ARG, "--lr %g must be > 0", (double)c->optim.lr);
    if (!(c->weight_decay >= 0.0f)) return DC_ERR(DC_ERR_ARG, "--weight-decay %g must be >= 0", (double)c->weight_decay);
    if (!(c->eval_thresh >= 0.0f && c->eval_thresh < 1.0f)) return DC_ERR(DC_ERR_ARG, "score threshold %g outside [0, 1)", (double)c->eval_thresh);
    if (c->steps_per_epoch < 0) return DC_ERR(DC_ERR_ARG, "--steps %lld must be >= 0", (long long)c->steps_per_epoch);
    return DC_OK;
}

typedef struct job {
    dc_detdata *train, *val, *val_epoch;
    dc_rcnn_props *ptrain, *pval;
    int64_t *gt_first;       /* [n + 1] */
    float *gt_boxes;         /* [total gt][4] */
    int32_t *gt_cls;
    int64_t *wfirst;         /* [n + 1] windows per image: proposals, then gt boxes */
    uint8_t *label;          /* per window: class 1..C or 0 (background)            */
    int32_t (*fg)[2];        /* foreground windows (image, window)                 */
    int64_t n_fg;
    int64_t (*pick)[2];      /* the mini-batch's windows                            */
    dc_pool *pool;
    dc_rcnn_net net;
    dc_optim *opt;
    float *best_params;
    int64_t n_param_floats;
    dc_ridge **ridge;
    float *bbreg;
    scored_set vs;
    dc_detection *dets;
    int64_t n_dets;
    FILE *csv;
} job;

static void job_free(job *j, int C) {
    dc_detdata_free(j->train), dc_detdata_free(j->val), dc_detdata_free(j->val_epoch);
    dc_rcnn_props_free(j->ptrain), dc_rcnn_props_free(j->pval);
    free(j->gt_first), free(j->gt_boxes), free(j->gt_cls), free(j->wfirst), free(j->label), free(j->fg), free(j->pick);
    dc_optim_free(j->opt);
    dc_rcnn_net_free(&j->net);
    dc_pool_free(j->pool);
    free(j->best_params);
    if (j->ridge)
        for (int c = 0; c < C; c++) dc_ridge_free(j->ridge[c]);
    free(j->ridge);
    free(j->bbreg);
    scored_free(&j->vs);
    dc_detections_free(j->dets, j->n_dets);
    if (j->csv) fclose(j->csv);
}

/* Ground truth of every training image, and the label of every window: a proposal is the class of
 * the box it overlaps most (ties: the lower index) when that IoU >= fg_iou, else background; a
 * ground-truth box is its own class. */
static dc_status label_training_set(const dc_rcnn_train_config *c, job *j) {
    const dc_coco *co = j->train->coco;
    int64_t n = j->train->n, total_gt = 0;
    for (int64_t i = 0; i < n; i++) total_gt += co->images[i].ann_count;
    int64_t total_w = j->ptrain->first[n] + total_gt;
    j->gt_first = malloc((size_t)(n + 1) * sizeof *j->gt_first);
    j->gt_boxes = malloc((size_t)(total_gt > 0 ? total_gt : 1) * 4 * sizeof *j->gt_boxes);
    j->gt_cls = malloc((size_t)(total_gt > 0 ? total_gt : 1) * sizeof *j->gt_cls);
    j->wfirst = malloc((size_t)(n + 1) * sizeof *j->wfirst);
    j->label = malloc((size_t)(total_w > 0 ? total_w : 1));
    int64_t mp = max_props(j->ptrain), mg = max_anns(co, n), fg_cap = 0;
    float *pb = malloc((size_t)mp * 4 * sizeof *pb), *iou = malloc((size_t)(mp * mg) * sizeof *iou);
    dc_status s = j->gt_first && j->gt_boxes && j->gt_cls && j->wfirst && j->label && pb && iou
                      ? DC_OK
                      : DC_ERR(DC_ERR_NOMEM, "R-CNN labels");
    int64_t at = 0, wat = 0;
    for (int64_t i = 0; s == DC_OK && i < n; i++) {
        j->gt_first[i] = at;
        j->wfirst[i] = wat;
        int64_t ng = dc_rcnn_image_gt(co, i, j->gt_boxes + at * 4, j->gt_cls + at);
        int64_t np = dc_rcnn_props_count(j->ptrain, i);
        dc_rcnn_props_get(j->ptrain, i, pb);
        dc_boxes_iou(np, pb, ng, j->gt_boxes + at * 4, iou);
        for (int64_t q = 0; q < np + ng; q++) {
            int lab;
            if (q < np) {
                int64_t bg = -1;
                float best = 0.0f;
                for (int64_t g = 0; g < ng; g++)
                    if (iou[q * ng + g] > best) best = iou[q * ng + g], bg = g;
                lab = bg >= 0 && best >= c->fg_iou ? j->gt_cls[at + bg] : 0;
            } else {
                lab = j->gt_cls[at + q - np];
            }
            j->label[wat + q] = (uint8_t)lab;
            if (!lab) continue;
            if (j->n_fg == fg_cap) {
                int64_t nc = fg_cap ? 2 * fg_cap : 65536;
                int32_t(*f2)[2] = realloc(j->fg, (size_t)nc * sizeof *f2);
                if (!f2) {
                    s = DC_ERR(DC_ERR_NOMEM, "R-CNN: %lld foreground windows", (long long)nc);
                    break;
                }
                j->fg = f2;
                fg_cap = nc;
            }
            j->fg[j->n_fg][0] = (int32_t)i;
            j->fg[j->n_fg][1] = (int32_t)q;
            j->n_fg++;
        }
        at += ng;
        wat += np + ng;
    }
    if (s == DC_OK) j->gt_first[n] = at, j->wfirst[n] = wat;
    free(pb), free(iou);
    return s;
}

void dc_rcnn_sample(const dc_rcnn_windows *w, int batch, float fg_fraction, dc_rng *rng, int64_t (*out)[2], int *n_fg) {
    int nfg = w->n_fg > 0 ? (int)lrintf((float)batch * fg_fraction) : 0;
    if (nfg > batch) nfg = batch;
    for (int k = 0; k < nfg; k++) {
        int64_t e = (int64_t)dc_rng_below(rng, (uint64_t)w->n_fg);
        out[k][0] = w->fg[e][0];
        out[k][1] = w->fg[e][1];
    }
    for (int k = nfg; k < batch; k++) {
        out[k][0] = out[k][1] = 0;
        for (int tries = 0; tries < 100; tries++) {
            int64_t img = (int64_t)dc_rng_below(rng, (uint64_t)w->n_images);
            int64_t nw = w->first[img + 1] - w->first[img];
            if (nw == 0) continue;
            int64_t q = (int64_t)dc_rng_below(rng, (uint64_t)nw);
            out[k][0] = img;
            out[k][1] = q;
            if (w->label[w->first[img] + q] == 0) break;
        }
    }
    if (n_fg) *n_fg = nfg;
}

/* Window q of training image i: a proposal (q < count) or a ground-truth box. */
static void window(const job *j, int64_t i, int64_t q, float box[4], int *label) {
    int64_t np = dc_rcnn_props_count(j->ptrain, i);
    if (q < np) {
        const uint16_t *b = j->ptrain->boxes + (j->ptrain->first[i] + q) * 4;
        for (int k = 0; k < 4; k++) box[k] = (float)b[k];
    } else {
        memcpy(box, j->gt_boxes + (j->gt_first[i] + (q - np)) * 4, 4 * sizeof *box);
    }
    *label = j->label[j->wfirst[i] + q];
}

/* One mini-batch (dc_rcnn_sample), warped (mirrored at random with flips on) into xb, labels in lb. */
static void make_batch(const dc_rcnn_train_config *c, job *j, float pad, dc_rng *rng, float *xb, float *lb) {
    const int side = j->net.side;
    const int64_t per = (int64_t)side * side, ipix = (int64_t)j->train->h * j->train->w;
    dc_rcnn_windows w = {j->train->n, j->wfirst, j->label, (const int32_t(*)[2])j->fg, j->n_fg};
    dc_rcnn_sample(&w, c->batch, c->fg_fraction, rng, j->pick, NULL);
    for (int k = 0; k < c->batch; k++) {
        float box[4], d[4];
        int lab = 0;
        window(j, j->pick[k][0], j->pick[k][1], box, &lab);
        int flip = c->flip ? (int)dc_rng_below(rng, 2) : 0;
        dc_rcnn_dilate(box, side, pad, d);
        dc_rcnn_warp(j->train->pixels + j->pick[k][0] * ipix, j->train->h, j->train->w, d, side, flip, xb + k * per);
        lb[k] = (float)lab;
    }
}

/* COCO evaluation of dets against d's ground truth: AP, AP50, AP75 into stats. */
static dc_status eval_dets(const dc_detdata *d, const dc_detection *dets, int64_t n, double stats[3]) {
    dc_cocoeval *ev = NULL;
    DC_TRY(dc_cocoeval_run(dc_detdata_gt(d), dets, n, DC_IOU_BBOX, &ev));
    stats[0] = ev->stats[0], stats[1] = ev->stats[1], stats[2] = ev->stats[2];
    dc_cocoeval_free(ev);
    return DC_OK;
}

/* Regressors: features of the proposals of the first reg_images training images whose best IoU with
 * a ground-truth box is > reg_iou, targets dc_box_encode(P, G) with weights 1, one ridge per class. */
static dc_status collect_ridge(const dc_rcnn_train_config *c, job *j, float pad, int64_t *n_samples) {
    const int C = j->net.C, F = DC_RCNN_FEATURES, K = C + 1;
    j->ridge = calloc((size_t)C, sizeof *j->ridge);
    if (!j->ridge) return DC_ERR(DC_ERR_NOMEM, "ridge accumulators");
    for (int k = 0; k < C; k++) DC_TRY(dc_ridge_create(F, 4, &j->ridge[k]));
    int64_t n = c->reg_images > 0 && c->reg_images < j->train->n ? c->reg_images : j->train->n;
    int64_t mp = max_props(j->ptrain), mg = max_anns(j->train->coco, n);
    float *pb = malloc((size_t)mp * 4 * sizeof *pb), *sel = malloc((size_t)mp * 4 * sizeof *sel);
    float *gsel = malloc((size_t)mp * 4 * sizeof *gsel), *iou = malloc((size_t)(mp * mg) * sizeof *iou);
    float *pr = malloc((size_t)(mp * K) * sizeof *pr), *fe = malloc((size_t)(mp * F) * sizeof *fe);
    int32_t *csel = malloc((size_t)mp * sizeof *csel);
    dc_status s = pb && sel && gsel && iou && pr && fe && csel ? DC_OK : DC_ERR(DC_ERR_NOMEM, "ridge buffers");
    dc_box_coder coder = dc_box_coder_default();
    coder.wx = coder.wy = coder.ww = coder.wh = 1.0f;
    const int64_t ipix = (int64_t)j->train->h * j->train->w;
    *n_samples = 0;
    for (int64_t i = 0; s == DC_OK && i < n; i++) {
        int64_t np = dc_rcnn_props_count(j->ptrain, i), ng = j->gt_first[i + 1] - j->gt_first[i], m = 0;
        const float *gt = j->gt_boxes + j->gt_first[i] * 4;
        dc_rcnn_props_get(j->ptrain, i, pb);
        dc_boxes_iou(np, pb, ng, gt, iou);
        for (int64_t q = 0; q < np; q++) {
            int64_t bg = -1;
            float best = 0.0f;
            for (int64_t g = 0; g < ng; g++)
                if (iou[q * ng + g] > best) best = iou[q * ng + g], bg = g;
            if (bg < 0 || !(best > c->reg_iou)) continue;
            memcpy(sel + m * 4, pb + q * 4, 4 * sizeof *sel);
            memcpy(gsel + m * 4, gt + bg * 4, 4 * sizeof *gsel);
            csel[m++] = j->gt_cls[j->gt_first[i] + bg];
        }
        if (m == 0) continue;
        s = dc_rcnn_score(&j->net, j->train->pixels + i * ipix, j->train->h, j->train->w, sel, m, pad, pr, fe);
        for (int64_t q = 0; s == DC_OK && q < m; q++) {
            float t[4];
            dc_box_encode(&coder, 1, sel + q * 4, gsel + q * 4, t);
            dc_ridge_add(j->ridge[csel[q] - 1], fe + q * F, t);
        }
        *n_samples += m;
    }
    free(pb), free(sel), free(gsel), free(iou), free(pr), free(fe), free(csel);
    return s;
}

static dc_status write_run_txt(const dc_rcnn_train_config *c, const char *train_json, const char *val_json, const job *j,
                               float pad, int64_t steps) {
    char path[1100];
    snprintf(path, sizeof path, "%s/run.txt", c->out_dir);
    FILE *f = fopen(path, "w");
    if (!f) return DC_ERR(DC_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    static const char *const SCHED[DC_SCHED_COUNT] = {"constant", "step", "cosine"};
    fprintf(f, "# deepc dettrain --model rcnn: R-CNN training run\ndeepc: %s\nmodel: %s\n", DC_VERSION_STRING, DC_RCNN_MODEL);
    fprintf(f, "train: %s (%lld images, %.1f proposals per image, %lld foreground windows)\nval: %s (%lld images)\n",
            train_json, (long long)j->train->n, (double)j->ptrain->first[j->train->n] / (double)(j->train->n ? j->train->n : 1),
            (long long)j->n_fg, val_json, (long long)j->val->n);
    fprintf(f, "selective search: mode %s, sigma %g, min_size_scale %g, max_boxes %lld, seed %llu\n",
            dc_ss_mode_name(c->ss.mode), (double)c->ss.sigma, (double)c->ss.min_size_scale, (long long)c->ss.max_boxes,
            (unsigned long long)c->ss.seed);
    fprintf(f, "warp: %dx%d, context padding %g warped pixels, flips %s\n", c->side, c->side, (double)pad, c->flip ? "yes" : "no");
    fprintf(f, "batch: %d regions, fg fraction %g, fg IoU >= %g, regression IoU > %g\n", c->batch, (double)c->fg_fraction,
            (double)c->fg_iou, (double)c->reg_iou);
    fprintf(f, "optimizer: %s\nlr: %g\nschedule: %s\nwarmup_epochs: %g\nepochs: %d\nsteps_per_epoch: %lld\n",
            dc_optim_name(c->optim.kind), (double)c->optim.lr, SCHED[c->schedule >= 0 && c->schedule < DC_SCHED_COUNT ? c->schedule : 0],
            (double)c->warmup_epochs, c->epochs, (long long)steps);
    fprintf(f, "threads: %d\nseed: %llu\nweight_decay: %g\nreg_images: %lld\n", c->threads, (unsigned long long)c->seed,
            (double)c->weight_decay, (long long)c->reg_images);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return DC_ERR(DC_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    return DC_OK;
}

static void params_copy(dc_graph *g, float *dst, int to_graph) {
    int np = dc_graph_param_count(g);
    const dc_param *p = dc_graph_params(g);
    int64_t at = 0;
    for (int i = 0; i < np; i++) {
        if (to_graph) memcpy(p[i].data, dst + at, (size_t)p[i].numel * sizeof(float));
        else memcpy(dst + at, p[i].data, (size_t)p[i].numel * sizeof(float));
        at += p[i].numel;
    }
}

static dc_status rcnn_job(const dc_rcnn_train_config *c, dc_rcnn_train_result *r, job *j) {
    double t_start = dc_clock_s();
    DC_TRY(validate(c));
    int show = c->progress == -1 ? isatty(2) : c->progress;
    char train_json[1024], val_json[1024], best_path[1100], path[1100];
    if (c->train_json) snprintf(train_json, sizeof train_json, "%s", c->train_json);
    else snprintf(train_json, sizeof train_json, "%s/train.json", c->data_dir);
    if (c->val_json) snprintf(val_json, sizeof val_json, "%s", c->val_json);
    else snprintf(val_json, sizeof val_json, "%s/val.json", c->data_dir);
    if (c->out_dir) DC_TRY(dc_mkdir_p(c->out_dir));
    const float pad = c->pad >= 0.0f ? c->pad : dc_rcnn_context_default(c->side);

    DC_TRY(dc_detdata_load(train_json, c->train_limit, c->threads, &j->train));
    DC_TRY(dc_detdata_load(val_json, c->val_limit, c->threads, &j->val));
    int64_t vel = c->val_epoch_limit > 0 && c->val_epoch_limit < j->val->n ? c->val_epoch_limit : j->val->n;
    DC_TRY(dc_detdata_load(val_json, vel, c->threads, &j->val_epoch));
    if (j->val->classes != j->train->classes)
        return DC_ERR(DC_ERR_FORMAT, "%s has %d categories, %s %d", val_json, j->val->classes, train_json, j->train->classes);
    const int C = j->train->classes;
    if (C > 255) return DC_ERR(DC_ERR_FORMAT, "%s: %d categories; R-CNN's window labels hold at most 255", train_json, C);

    if (!c->quiet) printf("selective search (%s) over %lld training and %lld validation images...\n",
                          dc_ss_mode_name(c->ss.mode), (long long)j->train->n, (long long)j->val->n);
    fflush(stdout);
    DC_TRY(dc_rcnn_props_compute(j->train, &c->ss, c->threads, show, &j->ptrain));
    DC_TRY(dc_rcnn_props_compute(j->val, &c->ss, c->threads, show, &j->pval));
    r->ss_seconds = j->ptrain->wall_seconds + j->pval->wall_seconds;
    r->mean_props_train = (double)j->ptrain->first[j->train->n] / (double)(j->train->n ? j->train->n : 1);
    DC_TRY(label_training_set(c, j));
    j->pick = malloc((size_t)c->batch * sizeof *j->pick);
    if (!j->pick) return DC_ERR(DC_ERR_NOMEM, "mini-batch indices");
    if (!c->quiet)
        printf("proposals: %.1f per training image (%.1f ms/image CPU, %.0f s wall), %lld foreground windows\n",
               r->mean_props_train, 1000.0 * j->ptrain->cpu_seconds / (double)(j->train->n ? j->train->n : 1),
               j->ptrain->wall_seconds, (long long)j->n_fg);

    DC_TRY(dc_pool_create(c->threads, &j->pool));
    dc_graph_opts go = {.pool = j->pool, .seed = c->seed, .weight_decay = c->weight_decay, .share_grads = 1};
    DC_TRY(dc_rcnn_net_create(c->side, C, 1, c->batch > 256 ? c->batch : 256, &go, &j->net));
    dc_graph_set_fusion(j->net.g, DC_FUSION_TRAINING); /* same gradients; validation passes stay plain */
    DC_TRY(dc_optim_create(&c->optim, dc_graph_params(j->net.g), dc_graph_param_count(j->net.g), j->pool, &j->opt));
    for (int i = 0; i < dc_graph_param_count(j->net.g); i++) j->n_param_floats += dc_graph_params(j->net.g)[i].numel;
    j->best_params = malloc((size_t)j->n_param_floats * sizeof *j->best_params);
    if (!j->best_params) return DC_ERR(DC_ERR_NOMEM, "best parameters copy");
    params_copy(j->net.g, j->best_params, 0);
    int64_t steps = c->steps_per_epoch > 0 ? c->steps_per_epoch : (j->train->n + 7) / 8;

    dc_rcnn_settings set = {.side = c->side, .pad = pad, .nms = 0.3f, .lambda = 0.0, .has_bbreg = 0, .ss = c->ss};
    dc_checkpoint_meta meta;
    memset(&meta, 0, sizeof meta);
    snprintf(meta.model, sizeof meta.model, "%s", DC_RCNN_MODEL);
    snprintf(meta.optimizer, sizeof meta.optimizer, "%s", dc_optim_name(c->optim.kind));
    meta.seed = c->seed;
    meta.num_classes = C;
    meta.batch = c->batch;
    if (c->out_dir) {
        snprintf(best_path, sizeof best_path, "%s/best.safetensors", c->out_dir);
        snprintf(path, sizeof path, "%s/metrics.csv", c->out_dir);
        j->csv = fopen(path, "w");
        if (!j->csv) return DC_ERR(DC_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
        fprintf(j->csv, "epoch,lr,train_loss,train_fg_acc,val_AP,val_AP50,val_AP75,epoch_seconds,regions_per_s,val_seconds\n");
        DC_TRY(write_run_txt(c, train_json, val_json, j, pad, steps));
    }
    if (!c->quiet)
        printf("%s: %lld parameters, warp %dx%d (context %.2f px), C %d + background; %lld steps of %d regions per epoch, "
               "%s lr %g, %d threads\n",
               DC_RCNN_MODEL, (long long)dc_graph_trainable_numel(j->net.g), c->side, c->side, (double)pad, C,
               (long long)steps, c->batch, dc_optim_name(c->optim.kind), (double)c->optim.lr, c->threads);
    fflush(stdout);

    float *xb = dc_graph_data(j->net.g, j->net.x), *lb = dc_graph_data(j->net.g, j->net.labels);
    dc_rcnn_detect_opts dopt = dc_rcnn_detect_opts_default(c->side);
    dopt.pad = pad;
    dopt.score_thresh = c->eval_thresh;
    double best = -1.0, train_time = 0.0;
    dc_rng rng;
    for (int e = 0; e < c->epochs; e++) {
        dc_rng_seed(&rng, dc_seed_mix(c->seed, (uint64_t)e, 1));
        dc_graph_set_seed(j->net.g, dc_seed_mix(c->seed, (uint64_t)e, 2));
        double lsum = 0.0, t0 = dc_clock_s(), last_draw = 0.0;
        int64_t fg_right = 0, fg_seen = 0;
        float lr = c->optim.lr;
        const int K = C + 1;
        for (int64_t step = 0; step < steps; step++) {
            lr = dc_schedule_lr(c->schedule, c->optim.lr, c->epochs, 10, c->warmup_epochs, e, step, steps);
            dc_optim_set_lr(j->opt, lr);
            make_batch(c, j, pad, &rng, xb, lb);
            DC_TRY(dc_graph_forward(j->net.g, c->batch, 1));
            float l = dc_graph_loss(j->net.g, j->net.loss);
            if (!isfinite(l))
                return DC_ERR(DC_ERR_NUMERIC, "training loss became %g at epoch %d, step %lld (lr %g): lower --lr",
                              (double)l, e + 1, (long long)step + 1, (double)lr);
            const float *pr = dc_graph_data(j->net.g, j->net.probs);
            for (int k = 0; k < c->batch; k++) {
                if (lb[k] < 0.5f) continue;
                int am = 0;
                for (int q = 1; q < K; q++)
                    if (pr[k * K + q] > pr[k * K + am]) am = q;
                fg_right += am == (int)lb[k];
                fg_seen++;
            }
            dc_graph_zero_grad(j->net.g);
            DC_TRY(dc_graph_backward(j->net.g, j->net.loss));
            dc_optim_step(j->opt);
            lsum += l;
            if (show) {
                double el = dc_clock_s() - t0;
                if (el - last_draw > 0.5 || step + 1 == steps) {
                    last_draw = el;
                    fprintf(stderr, "\repoch %d/%d  %lld/%lld  loss %.4f  %.0f regions/s   ", e + 1, c->epochs,
                            (long long)step + 1, (long long)steps, lsum / (double)(step + 1),
                            (double)(step + 1) * c->batch / (el > 0 ? el : 1e-9));
                    fflush(stderr);
                }
            }
        }
        double et = dc_clock_s() - t0;
        if (show) fprintf(stderr, "\n");
        train_time += et;
        double loss = steps ? lsum / (double)steps : 0.0;
        if (e == 0) r->first_loss = loss;
        r->last_loss = loss;
        /* validation on the first val_epoch_limit images: softmax scores, no regression, NMS 0.3 */
        double v0 = dc_clock_s(), st3[3] = {0, 0, 0};
        scored_free(&j->vs);
        DC_TRY(score_set(&j->net, j->val_epoch, j->pval, pad, c->eval_thresh, &j->vs, NULL));
        dc_detections_free(j->dets, j->n_dets);
        j->dets = NULL;
        j->n_dets = 0;
        DC_TRY(dets_of_scored(&j->vs, j->val_epoch->coco, j->val_epoch, &dopt, &j->dets, &j->n_dets, NULL));
        DC_TRY(eval_dets(j->val_epoch, j->dets, j->n_dets, st3));
        double vt = dc_clock_s() - v0;
        int improved = st3[1] > best;
        if (improved) {
            best = st3[1];
            r->best_epoch = e + 1;
            params_copy(j->net.g, j->best_params, 0);
        }
        r->best_ap50 = best;
        r->epochs_run = e + 1;
        double acc = fg_seen ? (double)fg_right / (double)fg_seen : 0.0;
        if (!c->quiet)
            printf("epoch %2d/%d  lr %.3g  loss %.4f  fg acc %.3f  val AP %.4f AP50 %.4f AP75 %.4f%s  %.1fs (%.0f regions/s), "
                   "val %.1fs\n",
                   e + 1, c->epochs, (double)lr, loss, acc, st3[0], st3[1], st3[2], improved ? " *" : "", et,
                   (double)steps * c->batch / (et > 0 ? et : 1e-9), vt);
        fflush(stdout);
        if (j->csv) {
            fprintf(j->csv, "%d,%.6g,%.6f,%.6f,%.6f,%.6f,%.6f,%.3f,%.1f,%.3f\n", e + 1, (double)lr, loss, acc, st3[0], st3[1],
                    st3[2], et, (double)steps * c->batch / (et > 0 ? et : 1e-9), vt);
            fflush(j->csv);
        }
        if (c->out_dir && improved) {
            meta.epoch = e + 1;
            meta.step = dc_optim_steps(j->opt);
            meta.val_acc = st3[1];
            meta.lr = lr;
            DC_TRY(dc_rcnn_save(best_path, &j->net, NULL, &set, &meta));
        }
    }
    r->train_seconds = train_time;
    params_copy(j->net.g, j->best_params, 1); /* the best epoch's network */

    /* box regressors, then lambda and NMS chosen on the whole val split by AP@[.5:.95] */
    int64_t n_reg = 0;
    double tr0 = dc_clock_s();
    DC_TRY(collect_ridge(c, j, pad, &n_reg));
    scored_free(&j->vs);
    DC_TRY(score_set(&j->net, j->val, j->pval, pad, c->eval_thresh, &j->vs, NULL));
    static const double LAMBDAS[] = {0.0 /* no regression */, 10, 100, 1000, 10000};
    static const float NMS[] = {0.3f, 0.4f, 0.5f};
    const int nl = c->tune ? 5 : 2, nn = c->tune ? 3 : 1;
    const int64_t D = DC_RCNN_FEATURES + 1;
    float *w = malloc((size_t)(C * 4 * D) * sizeof *w);
    j->bbreg = malloc((size_t)(C * 4 * D) * sizeof *j->bbreg);
    if (!w || !j->bbreg) {
        free(w);
        return DC_ERR(DC_ERR_NOMEM, "box regressors");
    }
    FILE *tf = NULL;
    if (c->out_dir) {
        snprintf(path, sizeof path, "%s/tune.csv", c->out_dir);
        tf = fopen(path, "w");
        if (tf) fprintf(tf, "lambda,nms,val_AP,val_AP50,val_AP75\n");
    }
    double best_ap = -1.0;
    dc_status s = DC_OK;
    for (int li = 0; s == DC_OK && li < nl; li++) {
        double lam = c->tune ? LAMBDAS[li] : (li == 0 ? 0.0 : 1000.0);
        for (int k = 0; s == DC_OK && k < C && lam > 0.0; k++) s = dc_ridge_solve(j->ridge[k], lam, w + (int64_t)k * 4 * D);
        for (int ni = 0; s == DC_OK && ni < nn; ni++) {
            dc_rcnn_detect_opts o = dopt;
            o.nms = NMS[ni];
            o.bbreg = lam > 0.0 ? w : NULL;
            double st3[3];
            dc_detections_free(j->dets, j->n_dets);
            j->dets = NULL;
            j->n_dets = 0;
            s = dets_of_scored(&j->vs, j->val->coco, j->val, &o, &j->dets, &j->n_dets, NULL);
            if (s == DC_OK) s = eval_dets(j->val, j->dets, j->n_dets, st3);
            if (s != DC_OK) break;
            if (!c->quiet)
                printf("val: lambda %-6g nms %.1f  AP %.4f AP50 %.4f AP75 %.4f\n", lam, (double)o.nms, st3[0], st3[1], st3[2]);
            if (tf) fprintf(tf, "%g,%g,%.6f,%.6f,%.6f\n", lam, (double)o.nms, st3[0], st3[1], st3[2]);
            if (st3[0] > best_ap) {
                best_ap = st3[0];
                r->val_ap = st3[0], r->val_ap50 = st3[1], r->val_ap75 = st3[2];
                r->lambda = lam;
                r->nms = o.nms;
                if (lam > 0.0) memcpy(j->bbreg, w, (size_t)(C * 4 * D) * sizeof *w);
            }
        }
    }
    free(w);
    if (tf) fclose(tf);
    DC_TRY(s);
    if (!c->quiet)
        printf("box regression: %lld training regions (IoU > %g) from %lld images; chosen lambda %g, NMS %.1f: val AP %.4f "
               "AP50 %.4f AP75 %.4f (%.1fs)\n",
               (long long)n_reg, (double)c->reg_iou,
               (long long)(c->reg_images > 0 && c->reg_images < j->train->n ? c->reg_images : j->train->n), r->lambda,
               r->nms, r->val_ap, r->val_ap50, r->val_ap75, dc_clock_s() - tr0);
    set.nms = (float)r->nms;
    set.lambda = r->lambda;
    set.has_bbreg = r->lambda > 0.0;
    if (c->out_dir) {
        meta.epoch = r->best_epoch;
        meta.val_acc = r->val_ap50;
        DC_TRY(dc_rcnn_save(best_path, &j->net, set.has_bbreg ? j->bbreg : NULL, &set, &meta));
    }
    r->seconds = dc_clock_s() - t_start;
    if (!c->quiet)
        printf("best epoch %d; training %.0fs, selective search %.0fs, total %.1fs\n", r->best_epoch, r->train_seconds,
               r->ss_seconds, r->seconds);
    return DC_OK;
}

dc_status dc_rcnn_train_run(const dc_rcnn_train_config *c, dc_rcnn_train_result *r) {
    if (!c || !r) return DC_ERR(DC_ERR_ARG, "dc_rcnn_train_run: NULL argument");
    memset(r, 0, sizeof *r);
    job j;
    memset(&j, 0, sizeof j);
    dc_status s = rcnn_job(c, r, &j);
    job_free(&j, j.net.C);
    return s;
}
