/* detdata.c — detection data in memory for YOLO v1: grey image cache, targets, batches
 * (rules in detdata.h). */
#include "detect/detdata.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

void dc_yolo_target_cell(float cx, float cy, int S, int *row, int *col) {
    int i = (int)floorf(cy * (float)S), j = (int)floorf(cx * (float)S);
    *row = i < 0 ? 0 : i > S - 1 ? S - 1 : i;
    *col = j < 0 ? 0 : j > S - 1 ? S - 1 : j;
}

dc_status dc_yolo_targets(const dc_coco *c, int64_t i, int max_obj, int flip, float *rows, int *count) {
    if (count) *count = 0;
    if (!c || !rows || max_obj < 1 || i < 0 || i >= c->n_images)
        return DC_ERR(DC_ERR_ARG, "dc_yolo_targets: NULL argument, max_obj %d < 1 or image %lld outside 0..%lld", max_obj,
                      (long long)i, (long long)(c ? c->n_images - 1 : -1));
    const dc_coco_image *im = &c->images[i];
    const float W = (float)im->width, H = (float)im->height;
    int k = 0;
    for (int64_t a = im->ann_first; a < im->ann_first + im->ann_count; a++) {
        const dc_coco_ann *an = &c->anns[a];
        if (an->iscrowd || !(an->bbox[2] > 0.0) || !(an->bbox[3] > 0.0)) continue;
        if (k == max_obj)
            return DC_ERR(DC_ERR_ARG, "%s: image id %lld (%s) has more than %d objects", c->path, (long long)im->id,
                          im->file_name, max_obj);
        float x = (float)an->bbox[0], y = (float)an->bbox[1], w = (float)an->bbox[2], h = (float)an->bbox[3];
        float cx = clampf((x + 0.5f * w) / W, 0.0f, 1.0f), cy = clampf((y + 0.5f * h) / H, 0.0f, 1.0f);
        float *r = rows + (int64_t)k * 5;
        r[0] = (float)an->category;
        r[1] = flip ? 1.0f - cx : cx;
        r[2] = cy;
        r[3] = clampf(w / W, 1e-6f, 1.0f);
        r[4] = clampf(h / H, 1e-6f, 1.0f);
        k++;
    }
    for (int r = k; r < max_obj; r++) {
        float *q = rows + (int64_t)r * 5;
        q[0] = -1.0f;
        q[1] = q[2] = q[3] = q[4] = 0.0f;
    }
    if (count) *count = k;
    return DC_OK;
}

dc_status dc_detdata_check_net(const dc_detdata *d, int side, int C) {
    if (d->h != side || d->w != side)
        return DC_ERR(DC_ERR_SHAPE, "%s: images are %dx%d, the network was planned for %dx%d", d->coco->path, d->w, d->h,
                      side, side);
    if (d->classes != C)
        return DC_ERR(DC_ERR_SHAPE, "%s: %d categories, the network predicts %d classes", d->coco->path, d->classes, C);
    return DC_OK;
}

void dc_det_normalise(const float *p, int64_t n, float *x) {
    for (int64_t i = 0; i < n; i++) x[i] = (p[i] - DC_DET_MEAN) / DC_DET_STD;
}

void dc_detdata_image(const dc_detdata *d, int64_t i, int flip, float *x) {
    const uint8_t *p = d->pixels + i * (int64_t)d->h * d->w;
    const float scale = 1.0f / (255.0f * DC_DET_STD), shift = DC_DET_MEAN / DC_DET_STD;
    for (int r = 0; r < d->h; r++) {
        const uint8_t *row = p + (int64_t)r * d->w;
        float *o = x + (int64_t)r * d->w;
        if (flip)
            for (int c = 0; c < d->w; c++) o[c] = (float)row[d->w - 1 - c] * scale - shift;
        else
            for (int c = 0; c < d->w; c++) o[c] = (float)row[c] * scale - shift;
    }
}

/* ------------------------------------------------------------------ loading */
typedef struct {
    dc_detdata *d;
    dc_status *st;       /* per thread */
    char (*msg)[512];    /* per thread */
} load_task;

static void load_range(void *ctx, int tid, int nthreads) {
    load_task *t = ctx;
    dc_detdata *d = t->d;
    int64_t lo, hi;
    dc_split_range(d->n, nthreads, tid, &lo, &hi);
    t->st[tid] = DC_OK;
    for (int64_t i = lo; i < hi; i++) {
        dc_image im = {0}, grey = {0};
        dc_status s = dc_coco_image_read(d->coco, i, &im);
        if (s == DC_OK && im.c != 1) s = dc_image_convert(&im, 1, &grey);
        const dc_image *g = grey.data ? &grey : &im;
        if (s == DC_OK && (g->h != d->h || g->w != d->w))
            s = DC_ERR(DC_ERR_FORMAT, "%s: image %s is %dx%d, the set's first image %dx%d (all must have one size)",
                       d->coco->path, d->coco->images[i].file_name, g->w, g->h, d->w, d->h);
        if (s == DC_OK) {
            uint8_t *p = d->pixels + i * (int64_t)d->h * d->w;
            for (int64_t k = 0; k < (int64_t)d->h * d->w; k++) {
                float v = g->data[k] * 255.0f + 0.5f;
                p[k] = (uint8_t)(v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v);
            }
        }
        dc_image_free(&im);
        dc_image_free(&grey);
        if (s != DC_OK) {
            t->st[tid] = s;
            snprintf(t->msg[tid], sizeof t->msg[tid], "%s", dc_last_error());
            return;
        }
    }
}

void dc_detdata_free(dc_detdata *d) {
    if (!d) return;
    dc_coco_free(d->coco);
    free(d->view_index);
    free(d->pixels);
    free(d->targets);
    free(d);
}

const dc_coco *dc_detdata_gt(const dc_detdata *d) { return d ? &d->view : NULL; }

static dc_status detdata_fill(dc_detdata *d, const char *json, int64_t limit, int threads) {
    DC_TRY(dc_coco_load(json, NULL, &d->coco));
    dc_coco *c = d->coco;
    if (c->n_images < 1) return DC_ERR(DC_ERR_FORMAT, "%s: no images", json);
    if (c->n_categories < 1) return DC_ERR(DC_ERR_FORMAT, "%s: no categories", json);
    d->n = limit > 0 && limit < c->n_images ? limit : c->n_images;
    d->h = c->images[0].height;
    d->w = c->images[0].width;
    d->classes = c->n_categories;
    for (int64_t i = 0; i < d->n; i++)
        if (c->images[i].height != d->h || c->images[i].width != d->w)
            return DC_ERR(DC_ERR_FORMAT, "%s: images[%lld] (%s) is %dx%d, images[0] %dx%d (all must have one size)", json,
                          (long long)i, c->images[i].file_name, c->images[i].width, c->images[i].height, d->w, d->h);
    /* the view: the first n images and their annotations (a prefix: anns are grouped in image order) */
    d->view = *c;
    d->view.n_images = d->n;
    int64_t n_anns = 0;
    for (int64_t i = 0; i < d->n; i++) {
        int64_t end = c->images[i].ann_first + c->images[i].ann_count;
        if (c->images[i].ann_count > 0 && end > n_anns) n_anns = end;
    }
    d->view.n_anns = n_anns;
    d->view_index = malloc((size_t)d->n * sizeof *d->view_index);
    if (!d->view_index) return DC_ERR(DC_ERR_NOMEM, "%s: image index of %lld images", json, (long long)d->n);
    int64_t k = 0;
    for (int64_t r = 0; r < c->n_images; r++)
        if (c->image_by_id[r] < d->n) d->view_index[k++] = c->image_by_id[r];
    d->view.image_by_id = d->view_index;
    /* targets */
    int most = 1;
    for (int64_t i = 0; i < d->n; i++) {
        int m = 0;
        for (int64_t a = c->images[i].ann_first; a < c->images[i].ann_first + c->images[i].ann_count; a++)
            m += !c->anns[a].iscrowd && c->anns[a].bbox[2] > 0.0 && c->anns[a].bbox[3] > 0.0;
        if (m > most) most = m;
    }
    d->max_obj = most;
    d->targets = malloc((size_t)d->n * (size_t)most * 5 * sizeof *d->targets);
    size_t pix = (size_t)d->n * (size_t)d->h * (size_t)d->w;
    if ((uint64_t)d->n * (uint64_t)d->h * (uint64_t)d->w > ((uint64_t)16 << 30))
        return DC_ERR(DC_ERR_NOMEM, "%s: %lld images of %dx%d exceed the 16 GiB cache limit", json, (long long)d->n, d->w,
                      d->h);
    d->pixels = malloc(pix ? pix : 1);
    if (!d->targets || !d->pixels)
        return DC_ERR(DC_ERR_NOMEM, "%s: cache of %lld images of %dx%d", json, (long long)d->n, d->w, d->h);
    for (int64_t i = 0; i < d->n; i++) DC_TRY(dc_yolo_targets(c, i, most, 0, d->targets + i * most * 5, NULL));
    /* pixels */
    if (threads < 1) threads = 1;
    if (threads > 64) threads = 64;
    dc_pool *pool = NULL;
    if (threads > 1) DC_TRY(dc_pool_create(threads, &pool));
    dc_status st[64];
    for (int i = 0; i < 64; i++) st[i] = DC_OK;
    char(*msg)[512] = calloc((size_t)threads, sizeof *msg);
    if (!msg) {
        dc_pool_free(pool);
        return DC_ERR(DC_ERR_NOMEM, "loader messages");
    }
    load_task t = {d, st, msg};
    dc_pool_run(pool, load_range, &t);
    dc_pool_free(pool);
    dc_status s = DC_OK;
    for (int i = 0; i < threads; i++)
        if (st[i] != DC_OK) {
            s = dc_error_set(st[i], __FILE__, __LINE__, "%s", msg[i]);
            break;
        }
    free(msg);
    return s;
}

dc_status dc_detdata_load(const char *json, int64_t limit, int threads, dc_detdata **out) {
    if (!out) return DC_ERR(DC_ERR_ARG, "dc_detdata_load: NULL output");
    *out = NULL;
    if (!json) return DC_ERR(DC_ERR_ARG, "dc_detdata_load: NULL path");
    dc_detdata *d = calloc(1, sizeof *d);
    if (!d) return DC_ERR(DC_ERR_NOMEM, "dc_detdata_load");
    dc_status s = detdata_fill(d, json, limit, threads);
    if (s != DC_OK) {
        dc_detdata_free(d);
        return s;
    }
    *out = d;
    return DC_OK;
}

/* ------------------------------------------------------------------ batches */
dc_status dc_detbatcher_create(const dc_detdata *d, int64_t batch, int shuffle, int flip, dc_detbatcher **out) {
    if (!out) return DC_ERR(DC_ERR_ARG, "dc_detbatcher_create: NULL output");
    *out = NULL;
    if (!d || batch < 1) return DC_ERR(DC_ERR_ARG, "dc_detbatcher_create: NULL data or batch %lld < 1", (long long)batch);
    dc_detbatcher *b = calloc(1, sizeof *b);
    if (b) b->order = malloc((size_t)d->n * sizeof *b->order);
    if (b) b->flipped = calloc((size_t)batch, sizeof *b->flipped);
    if (!b || !b->order || !b->flipped) {
        if (b) free(b->order), free(b->flipped);
        free(b);
        return DC_ERR(DC_ERR_NOMEM, "dc_detbatcher_create: order of %lld images", (long long)d->n);
    }
    b->d = d;
    b->batch = batch;
    b->shuffle = shuffle;
    b->flip = flip;
    dc_detbatcher_reset(b, 0);
    *out = b;
    return DC_OK;
}

void dc_detbatcher_free(dc_detbatcher *b) {
    if (!b) return;
    free(b->order);
    free(b->flipped);
    free(b);
}

const int *dc_detbatcher_flips(const dc_detbatcher *b) { return b->flipped; }

void dc_detbatcher_reset(dc_detbatcher *b, uint64_t seed) {
    dc_rng_seed(&b->rng, seed);
    for (int64_t i = 0; i < b->d->n; i++) b->order[i] = i;
    if (b->shuffle) dc_rng_shuffle(&b->rng, b->order, b->d->n);
    b->pos = 0;
}

int64_t dc_detbatcher_batches(const dc_detbatcher *b) { return (b->d->n + b->batch - 1) / b->batch; }

int64_t dc_detbatcher_next(dc_detbatcher *b, float *images, float *targets, int64_t *idx) {
    const dc_detdata *d = b->d;
    int64_t n = d->n - b->pos < b->batch ? d->n - b->pos : b->batch, per = (int64_t)d->h * d->w, m = d->max_obj;
    for (int64_t k = 0; k < n; k++) {
        int64_t i = b->order[b->pos + k];
        int flip = b->flip ? (int)(dc_rng_next(&b->rng) >> 63) : 0;
        b->flipped[k] = flip;
        if (images) dc_detdata_image(d, i, flip, images + k * per);
        if (targets) {
            float *t = targets + k * m * 5;
            memcpy(t, d->targets + i * m * 5, (size_t)(m * 5) * sizeof(float));
            if (flip)
                for (int64_t r = 0; r < m; r++)
                    if (t[r * 5] >= 0.0f) t[r * 5 + 1] = 1.0f - t[r * 5 + 1];
        }
        if (idx) idx[k] = i;
    }
    b->pos += n;
    return n;
}
