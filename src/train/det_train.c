/* det_train.c — the detector training job (det_train.h).  The pieces are the library's: the
 * detection cache and batches (detect/detdata), the detectors (detect/detector.h: YOLO v1, Faster
 * and Fast R-CNN), the optimizers, dc_schedule_lr, checkpoints and the COCO evaluator; this file is
 * the epoch loop. */
#include "train/det_train.h"
#include "io/atomic.h"
#include "detect/detector.h"
#include "train/rcnn_train.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void dc_det_train_config_defaults(dc_det_train_config *c) {
    memset(c, 0, sizeof *c);
    c->model = DC_YOLO_MODEL;
    c->data_dir = "/work/detdata";
    c->optim = dc_optim_defaults(DC_OPTIM_ADAM, 1e-3f);
    c->schedule = DC_SCHED_COSINE;
    c->step_epochs = 10;
    c->warmup_epochs = 1.0f;
    c->epochs = 10;
    c->batch = 32;
    c->threads = 2;
    c->seed = 1;
    c->weight_decay = 5e-4f;
    c->flip = 1;
    c->eval_thresh = 0.01f;
    c->progress = -1;
}

static dc_status validate(const dc_det_train_config *c) {
    DC_TRY(dc_detector_check(c->model, NULL));
    if (!c->data_dir && (!c->train_json || !c->val_json))
        return DC_ERR(DC_ERR_ARG, "dettrain: no data directory (--data DIR with train.json and val.json)");
    if (c->epochs < 0 || c->epochs > 100000) return DC_ERR(DC_ERR_ARG, "--epochs %d outside 0..100000", c->epochs);
    if (c->batch < 1 || c->batch > 4096) return DC_ERR(DC_ERR_ARG, "--batch %d outside 1..4096", c->batch);
    if (c->threads < 1 || c->threads > 256) return DC_ERR(DC_ERR_ARG, "--threads %d outside 1..256", c->threads);
    if (!(c->optim.lr > 0.0f) || !isfinite(c->optim.lr)) return DC_ERR(DC_ERR_ARG, "--lr %g must be > 0", (double)c->optim.lr);
    if (!(c->weight_decay >= 0.0f) || !isfinite(c->weight_decay))
        return DC_ERR(DC_ERR_ARG, "--weight-decay %g must be >= 0", (double)c->weight_decay);
    if (!(c->warmup_epochs >= 0.0f)) return DC_ERR(DC_ERR_ARG, "--warmup %g must be >= 0", (double)c->warmup_epochs);
    if (!(c->eval_thresh >= 0.0f && c->eval_thresh < 1.0f))
        return DC_ERR(DC_ERR_ARG, "evaluation score threshold %g outside [0, 1)", (double)c->eval_thresh);
    return DC_OK;
}

typedef struct job {
    dc_detdata *train, *val;
    dc_pool *pool;
    dc_detector net;
    dc_optim *opt;
    dc_detbatcher *batcher;
    dc_detection *dets;
    int64_t n_dets;
    FILE *csv;
    float *targets;
    int64_t *idx;
    /* fast_rcnn: proposals of the training and validation images, and one batch's (mirrored) */
    dc_box_list *train_props, *val_props, *batch_props;
    float *train_boxes, *val_boxes, *batch_boxes;
} job;

static void job_free(job *j) {
    dc_detdata_free(j->train);
    dc_detdata_free(j->val);
    dc_detbatcher_free(j->batcher);
    dc_optim_free(j->opt);
    dc_detector_free(&j->net);
    dc_pool_free(j->pool);
    dc_detections_free(j->dets, j->n_dets);
    if (j->csv) fclose(j->csv);
    free(j->targets);
    free(j->idx);
    free(j->train_props), free(j->val_props), free(j->batch_props);
    free(j->train_boxes), free(j->val_boxes), free(j->batch_boxes);
}

static dc_status write_run_txt(const dc_det_train_config *c, const char *train_json, const char *val_json,
                               const job *j, int init_n, int64_t init_numel) {
    char path[1100];
    snprintf(path, sizeof path, "%s/run.txt", c->out_dir);
    FILE *f = fopen(path, "w");
    if (!f) return DC_ERR(DC_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    static const char *const SCHED[DC_SCHED_COUNT] = {"constant", "step", "cosine"};
    fprintf(f, "# deepc dettrain: detector training run\ndeepc: %s\nmodel: %s\ntrain: %s (%lld images)\nval: %s (%lld images)\n",
            DC_VERSION_STRING, j->net.model, train_json, (long long)j->train->n, val_json, (long long)j->val->n);
    if (j->net.kind == DC_DETECTOR_YOLO)
        fprintf(f, "grid: S %d, B %d, C %d, input %dx%d\n", j->net.yolo.S, j->net.yolo.B, j->net.yolo.C, j->net.yolo.side,
                j->net.yolo.side);
    else
        fprintf(f, "classes: %d, input %dx%d, RPN: %s\n", j->net.frcnn.C, j->net.frcnn.side, j->net.frcnn.side,
                j->net.frcnn.o.rpn ? "yes" : "no (given proposals)");
    fprintf(f, "optimizer: %s\nlr: %g\nschedule: %s\nwarmup_epochs: %g\n", dc_optim_name(c->optim.kind),
            (double)c->optim.lr, SCHED[c->schedule >= 0 && c->schedule < DC_SCHED_COUNT ? c->schedule : 0],
            (double)c->warmup_epochs);
    fprintf(f, "epochs: %d\nbatch: %d\nthreads: %d\nseed: %llu\nweight_decay: %g\nflip: %s\n", c->epochs, c->batch,
            c->threads, (unsigned long long)c->seed, (double)c->weight_decay, c->flip ? "yes" : "no");
    if (c->init_from)
        fprintf(f, "init_from: %s (%d tensors, %lld numbers)\n", c->init_from, init_n, (long long)init_numel);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return DC_ERR(DC_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    return DC_OK;
}

dc_status dc_det_selsearch_lists(const dc_detdata *d, int threads, int progress, dc_box_list **lists, float **boxes,
                                 double *seconds) {
    *lists = NULL;
    *boxes = NULL;
    dc_selsearch_opts o = dc_selsearch_opts_default();
    o.max_boxes = DC_FAST_RCNN_PROPOSALS;
    dc_rcnn_props *p = NULL;
    DC_TRY(dc_rcnn_props_compute(d, &o, threads, progress, &p));
    int64_t total = p->first[p->n_images];
    *lists = malloc((size_t)(p->n_images > 0 ? p->n_images : 1) * sizeof **lists);
    *boxes = malloc((size_t)(total > 0 ? total : 1) * 4 * sizeof **boxes);
    if (!*lists || !*boxes) {
        free(*lists), free(*boxes);
        *lists = NULL, *boxes = NULL;
        dc_rcnn_props_free(p);
        return DC_ERR(DC_ERR_NOMEM, "%s: %lld proposals", d->coco->path, (long long)total);
    }
    for (int64_t i = 0; i < p->n_images; i++) {
        (*lists)[i].n = dc_rcnn_props_count(p, i);
        (*lists)[i].boxes = *boxes + 4 * p->first[i];
        dc_rcnn_props_get(p, i, (*lists)[i].boxes);
    }
    if (seconds) *seconds = p->wall_seconds;
    dc_rcnn_props_free(p);
    return DC_OK;
}

/* The proposals of one training batch (images idx[k], mirrored where flips[k]). */
static void batch_proposals(job *j, int64_t b, const int *flips) {
    const float W = (float)j->train->w;
    for (int64_t k = 0; k < b; k++) {
        const dc_box_list *src = &j->train_props[j->idx[k]];
        dc_box_list *dst = &j->batch_props[k];
        dst->n = src->n;
        dst->boxes = j->batch_boxes + k * DC_FAST_RCNN_PROPOSALS * 4;
        for (int64_t q = 0; q < src->n; q++) {
            const float *s = src->boxes + 4 * q;
            float *t = dst->boxes + 4 * q;
            t[0] = flips[k] ? W - s[2] : s[0];
            t[1] = s[1];
            t[2] = flips[k] ? W - s[0] : s[2];
            t[3] = s[3];
        }
    }
}

/* --resume: the checkpoint's parameters, optimizer state and epoch count; the best validation AP50
 * so far from the run directory's best.safetensors.  It must be the same model and batch (the
 * schedule counts steps per epoch), and fewer epochs than --epochs. */
static dc_status resume(const dc_det_train_config *c, job *j, const char *best_path, int *start_epoch, double *best,
                        dc_det_train_result *r) {
    dc_checkpoint_meta m;
    DC_TRY(dc_checkpoint_read_meta(c->resume, &m));
    if (strcmp(m.model, j->net.model) != 0)
        return DC_ERR(DC_ERR_ARG, "--resume %s holds model '%s', not '%s'", c->resume, m.model, j->net.model);
    if (m.batch != c->batch)
        return DC_ERR(DC_ERR_ARG, "--resume %s was trained with --batch %d, not %d: resume with the same batch", c->resume,
                      m.batch, c->batch);
    if (m.epoch >= c->epochs)
        return DC_ERR(DC_ERR_ARG, "--resume %s has %d epochs done; --epochs %d leaves none to run", c->resume, m.epoch,
                      c->epochs);
    DC_TRY(dc_detector_check_revision(m.model, m.revision, c->resume));
    if (j->net.kind == DC_DETECTOR_FRCNN && m.revision != dc_detector_revision(&j->net)) /* another network */
        return DC_ERR(DC_ERR_FORMAT, "--resume %s: a %s checkpoint of network revision %d; this deepc trains revision %d "
                                     "(start a new run, e.g. with --init-from for the shared layers)",
                      c->resume, m.model, m.revision, dc_detector_revision(&j->net));
    if (strcmp(m.optimizer, dc_optim_name(c->optim.kind)) != 0)
        return DC_ERR(DC_ERR_ARG, "--resume %s was trained with %s, not %s", c->resume, m.optimizer,
                      dc_optim_name(c->optim.kind));
    DC_TRY(dc_checkpoint_load(c->resume, dc_detector_graph(&j->net), j->opt, &m));
    *start_epoch = m.epoch;
    dc_checkpoint_meta bm;
    if (c->out_dir && dc_checkpoint_read_meta(best_path, &bm) == DC_OK && bm.epoch <= m.epoch) {
        *best = bm.val_acc;
        r->best_epoch = bm.epoch;
        r->best_ap50 = bm.val_acc;
    }
    r->epochs_run = m.epoch;
    if (!c->quiet) printf("resumed from %s after epoch %d (step %lld)\n", c->resume, m.epoch, (long long)m.step);
    return DC_OK;
}

static dc_status det_job(const dc_det_train_config *c, dc_det_train_result *r, job *j) {
    double t_start = dc_clock_s();
    DC_TRY(validate(c));
    int show_progress = c->progress == -1 ? isatty(2) : c->progress;
    char train_json[1024], val_json[1024], best_path[1100], last_path[1100], path[1100];
    if (c->train_json) snprintf(train_json, sizeof train_json, "%s", c->train_json);
    else snprintf(train_json, sizeof train_json, "%s/train.json", c->data_dir);
    if (c->val_json) snprintf(val_json, sizeof val_json, "%s", c->val_json);
    else snprintf(val_json, sizeof val_json, "%s/val.json", c->data_dir);
    if (c->out_dir) DC_TRY(dc_mkdir_p(c->out_dir)); /* before the data: fail fast on a bad path */

    DC_TRY(dc_detdata_load(train_json, c->train_limit, c->threads, &j->train));
    DC_TRY(dc_detdata_load(val_json, c->val_limit, c->threads, &j->val));
    if (j->val->h != j->train->h || j->val->w != j->train->w || j->val->classes != j->train->classes)
        return DC_ERR(DC_ERR_FORMAT, "%s has %dx%d images and %d categories, %s %dx%d and %d", val_json, j->val->w,
                      j->val->h, j->val->classes, train_json, j->train->w, j->train->h, j->train->classes);
    int stride = dc_detector_stride(c->model);
    if (j->train->h != j->train->w || j->train->h % stride != 0)
        return DC_ERR(DC_ERR_SHAPE, "%s: images are %dx%d; %s needs square images with a side that is a multiple of %d",
                      train_json, j->train->w, j->train->h, c->model, stride);

    if (!strcmp(c->model, DC_FAST_RCNN_MODEL)) { /* proposals once, before training */
        double t1 = 0.0, t2 = 0.0;
        DC_TRY(dc_det_selsearch_lists(j->train, c->threads, show_progress, &j->train_props, &j->train_boxes, &t1));
        DC_TRY(dc_det_selsearch_lists(j->val, c->threads, show_progress, &j->val_props, &j->val_boxes, &t2));
        j->batch_props = malloc((size_t)c->batch * sizeof *j->batch_props);
        j->batch_boxes = malloc((size_t)c->batch * DC_FAST_RCNN_PROPOSALS * 4 * sizeof *j->batch_boxes);
        if (!j->batch_props || !j->batch_boxes) return DC_ERR(DC_ERR_NOMEM, "dettrain: proposals of a batch");
        if (!c->quiet)
            printf("selective search: %lld training images in %.1fs, %lld validation images in %.1fs\n",
                   (long long)j->train->n, t1, (long long)j->val->n, t2);
    }
    DC_TRY(dc_pool_create(c->threads, &j->pool));
    dc_graph_opts go = {.pool = j->pool, .seed = c->seed, .weight_decay = c->weight_decay, .share_grads = 1};
    DC_TRY(dc_detector_create(c->model, j->train->h, j->train->classes, j->train->max_obj, c->batch, &go, &j->net));
    dc_graph *g = dc_detector_graph(&j->net);
    dc_graph_set_fusion(g, DC_FUSION_TRAINING); /* same gradients; validation passes stay plain */
    int init_n = 0;
    int64_t init_numel = 0;
    if (c->init_from) DC_TRY(dc_checkpoint_load_matching(c->init_from, g, &init_n, &init_numel));
    DC_TRY(dc_optim_create(&c->optim, dc_graph_params(g), dc_graph_param_count(g), j->pool, &j->opt));
    DC_TRY(dc_detbatcher_create(j->train, c->batch, 1, c->flip, &j->batcher));

    if (c->out_dir) {
        snprintf(best_path, sizeof best_path, "%s/best.safetensors", c->out_dir);
        snprintf(last_path, sizeof last_path, "%s/last.safetensors", c->out_dir);
    }
    int start_epoch = 0;
    double best = -1.0;
    if (c->resume) DC_TRY(resume(c, j, best_path, &start_epoch, &best, r));
    if (c->out_dir) {
        snprintf(path, sizeof path, "%s/metrics.csv", c->out_dir);
        if (start_epoch > 0) DC_TRY(dc_csv_keep_rows_below(path, 0, start_epoch + 0.5)); /* epochs done */
        j->csv = fopen(path, start_epoch > 0 ? "a" : "w");
        if (!j->csv) return DC_ERR(DC_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
        if (fseek(j->csv, 0, SEEK_END) == 0 && ftell(j->csv) == 0) /* a new file (also when resuming elsewhere) */
            fprintf(j->csv, "epoch,lr,train_loss,val_AP,val_AP50,val_AP75,epoch_seconds,train_images_per_s,"
                            "val_seconds,val_mask_AP,val_mask_AP50\n");
        if (start_epoch == 0) DC_TRY(write_run_txt(c, train_json, val_json, j, init_n, init_numel));
    }
    if (!c->quiet)
        printf("%s: %lld parameters, %d classes; train %lld images, val %lld; %s lr %g, batch %d, %d threads\n",
               j->net.model, (long long)dc_graph_trainable_numel(g), dc_detector_classes(&j->net), (long long)j->train->n,
               (long long)j->val->n, dc_optim_name(c->optim.kind), (double)c->optim.lr, c->batch, c->threads);
    if (!c->quiet && c->init_from)
        printf("initialised %d tensors (%lld numbers, BatchNorm statistics included) from %s\n", init_n,
               (long long)init_numel, c->init_from);
    fflush(stdout);

    float *xb = dc_detector_images(&j->net);
    float *tb = malloc((size_t)c->batch * (size_t)j->train->max_obj * 5 * sizeof *tb);
    j->idx = malloc((size_t)c->batch * sizeof *j->idx);
    j->targets = tb;
    if (!tb || !j->idx) return DC_ERR(DC_ERR_NOMEM, "dettrain: targets of a batch");
    double train_time = 0.0;
    int64_t train_images = 0;
    for (int e = start_epoch; e < c->epochs; e++) {
        dc_detbatcher_reset(j->batcher, dc_seed_mix(c->seed, (uint64_t)e, 1));
        dc_detector_set_seed(&j->net, dc_seed_mix(c->seed, (uint64_t)e, 2));
        int64_t nb = dc_detbatcher_batches(j->batcher), step = 0, seen = 0, b;
        double lsum = 0.0, t0 = dc_clock_s(), last_draw = 0.0;
        float lr = c->optim.lr;
        while ((b = dc_detbatcher_next(j->batcher, xb, tb, j->idx)) > 0) {
            lr = dc_schedule_lr(c->schedule, c->optim.lr, c->epochs, c->step_epochs, c->warmup_epochs, e, step, nb);
            dc_optim_set_lr(j->opt, lr);
            float l = 0.0f;
            const int *flips = dc_detbatcher_flips(j->batcher);
            if (j->train_props) batch_proposals(j, b, flips);
            DC_TRY(dc_detector_forward_train(&j->net, b, tb, j->train, j->idx, flips, j->batch_props, &l));
            if (!isfinite(l))
                return DC_ERR(DC_ERR_NUMERIC,
                              "training loss became %g at epoch %d, step %lld (lr %g): lower --lr; the best checkpoint "
                              "so far is kept",
                              (double)l, e + 1, (long long)step + 1, (double)lr);
            dc_graph_zero_grad(g);
            DC_TRY(dc_graph_backward(g, dc_detector_loss(&j->net)));
            dc_optim_step(j->opt);
            lsum += (double)l * (double)b;
            seen += b;
            step++;
            if (show_progress) {
                double el = dc_clock_s() - t0;
                if (el - last_draw > 0.2 || step == nb) {
                    last_draw = el;
                    fprintf(stderr, "\repoch %d/%d  %lld/%lld  loss %.4f  %.0f img/s   ", e + 1, c->epochs,
                            (long long)step, (long long)nb, lsum / (double)seen, (double)seen / (el > 0 ? el : 1e-9));
                    fflush(stderr);
                }
            }
        }
        double et = dc_clock_s() - t0;
        if (show_progress) fprintf(stderr, "\n");
        train_time += et;
        train_images += seen;
        double loss = seen ? lsum / (double)seen : 0.0;
        if (e == start_epoch) r->first_loss = loss;
        r->last_loss = loss;

        /* validation: COCO evaluation of the decoded detections */
        double v0 = dc_clock_s(), infer_s = 0.0;
        dc_detections_free(j->dets, j->n_dets);
        j->dets = NULL;
        j->n_dets = 0;
        DC_TRY(dc_detector_detect_set(&j->net, j->val, c->batch, c->eval_thresh, j->val_props, &j->dets, &j->n_dets,
                                      &infer_s));
        dc_cocoeval *ev = NULL;
        DC_TRY(dc_cocoeval_run(dc_detdata_gt(j->val), j->dets, j->n_dets, DC_IOU_BBOX, &ev));
        double ap = ev->stats[0], ap50 = ev->stats[1], ap75 = ev->stats[2], map = -1.0, map50 = -1.0;
        dc_cocoeval_free(ev);
        if (dc_detector_has_masks(&j->net)) { /* Mask R-CNN: mask AP too */
            DC_TRY(dc_cocoeval_run(dc_detdata_gt(j->val), j->dets, j->n_dets, DC_IOU_SEGM, &ev));
            map = ev->stats[0];
            map50 = ev->stats[1];
            dc_cocoeval_free(ev);
        }
        double vt = dc_clock_s() - v0;
        int improved = ap50 > best;
        if (improved) {
            best = ap50;
            r->best_epoch = e + 1;
        }
        r->best_ap50 = best;
        r->last_ap = ap;
        r->last_ap50 = ap50;
        r->last_ap75 = ap75;
        r->last_mask_ap = map;
        r->last_mask_ap50 = map50;
        r->epochs_run = e + 1;
        if (!c->quiet) {
            char mask[64] = "";
            if (map50 >= 0.0) snprintf(mask, sizeof mask, "  mask AP %.4f AP50 %.4f", map, map50);
            printf("epoch %2d/%d  lr %.3g  loss %.4f  val AP %.4f AP50 %.4f AP75 %.4f%s%s  %.1fs (%.0f img/s), val %.1fs\n",
                   e + 1, c->epochs, (double)lr, loss, ap, ap50, ap75, mask, improved ? " *" : "", et,
                   (double)seen / (et > 0 ? et : 1e-9), vt);
        }
        fflush(stdout);
        if (j->csv) {
            fprintf(j->csv, "%d,%.6g,%.6f,%.6f,%.6f,%.6f,%.3f,%.1f,%.3f,%.6f,%.6f\n", e + 1, (double)lr, loss, ap, ap50,
                    ap75, et, (double)seen / (et > 0 ? et : 1e-9), vt, map, map50);
            fflush(j->csv);
        }
        if (c->out_dir) {
            dc_checkpoint_meta m = {.epoch = e + 1, .step = dc_optim_steps(j->opt), .val_acc = ap50, .lr = lr,
                                    .seed = c->seed, .num_classes = dc_detector_classes(&j->net), .batch = c->batch,
                                    .revision = dc_detector_revision(&j->net)};
            snprintf(m.model, sizeof m.model, "%s", j->net.model);
            snprintf(m.optimizer, sizeof m.optimizer, "%s", dc_optim_name(c->optim.kind));
            if (improved) DC_TRY(dc_checkpoint_save(best_path, g, NULL, &m));
            DC_TRY(dc_checkpoint_save(last_path, g, j->opt, &m));
        }
    }
    r->train_seconds = train_time;
    r->train_images_per_s = train_time > 0 ? (double)train_images / train_time : 0.0;
    r->seconds = dc_clock_s() - t_start;
    if (!c->quiet && r->epochs_run)
        printf("best val AP50 %.4f at epoch %d; training %.0f img/s; total %.1fs; peak RSS %.0f MiB\n", r->best_ap50,
               r->best_epoch, r->train_images_per_s, r->seconds, dc_peak_rss_mib());
    return DC_OK;
}

dc_status dc_det_train_run(const dc_det_train_config *c, dc_det_train_result *r) {
    if (!c || !r) return DC_ERR(DC_ERR_ARG, "dc_det_train_run: NULL argument");
    memset(r, 0, sizeof *r);
    job j;
    memset(&j, 0, sizeof j);
    dc_status s = det_job(c, r, &j);
    job_free(&j);
    return s;
}
