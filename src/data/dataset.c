/* dataset.c — in-memory image-classification datasets: building from arrays, train/validation splits
 * (copies, optionally after a seeded shuffle) and a mini-batcher with a seeded per-epoch permutation.
 * Datasets are plain malloc'ed blocks (idx.c builds them the same way), freed by dc_dataset_free.
 * It deliberately does no augmentation, no background prefetching and no allocation in
 * dc_batcher_next; a batcher borrows its dataset, which must outlive it. */
#include "data/data.h"

#include <stdlib.h>
#include <string.h>

static dc_status dataset_alloc(int64_t n, int c, int h, int w, int num_classes, dc_dataset **out) {
    *out = NULL;
    if (n < 0 || c <= 0 || h <= 0 || w <= 0 || num_classes <= 0)
        return DC_ERR(DC_ERR_ARG, "dataset of %lld examples of %dx%dx%d with %d classes: sizes must be positive",
                      (long long)n, c, h, w, num_classes);
    int64_t chw = (int64_t)c * h * w;
    if (chw > ((int64_t)1 << 34) || (n > 0 && chw > (((int64_t)1 << 36) / n)))
        return DC_ERR(DC_ERR_NOMEM, "dataset of %lld examples of %dx%dx%d is too large", (long long)n, c, h, w);
    dc_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) return DC_ERR(DC_ERR_NOMEM, "dataset header");
    ds->n = n;
    ds->c = c;
    ds->h = h;
    ds->w = w;
    ds->num_classes = num_classes;
    ds->images = dc_data_alloc_floats((size_t)(n * chw));
    ds->labels = malloc((size_t)(n > 0 ? n : 1) * sizeof(int32_t));
    if (!ds->images || !ds->labels) {
        dc_dataset_free(ds);
        return DC_ERR(DC_ERR_NOMEM, "dataset of %lld examples of %dx%dx%d", (long long)n, c, h, w);
    }
    *out = ds;
    return DC_OK;
}

dc_status dc_dataset_from_arrays(int64_t n, int c, int h, int w, int num_classes, const float *images,
                                 const int32_t *labels, dc_dataset **out) {
    if (!out) return DC_ERR(DC_ERR_ARG, "dc_dataset_from_arrays: out is NULL");
    *out = NULL;
    if (n > 0 && (!images || !labels)) return DC_ERR(DC_ERR_ARG, "dc_dataset_from_arrays: images or labels is NULL");
    for (int64_t i = 0; i < n && num_classes > 0; i++)
        if (labels[i] < 0 || labels[i] >= num_classes)
            return DC_ERR(DC_ERR_ARG, "dc_dataset_from_arrays: label %d at index %lld outside 0..%d", (int)labels[i],
                          (long long)i, num_classes - 1);
    dc_dataset *ds;
    DC_TRY(dataset_alloc(n, c, h, w, num_classes, &ds));
    if (n > 0) {
        memcpy(ds->images, images, (size_t)(n * c * h * w) * sizeof(float));
        memcpy(ds->labels, labels, (size_t)n * sizeof(int32_t));
    }
    *out = ds;
    return DC_OK;
}

void dc_dataset_free(dc_dataset *ds) {
    if (!ds) return;
    free(ds->images);
    free(ds->labels);
    free(ds);
}

static dc_status gather(const dc_dataset *src, const int64_t *idx, int64_t count, dc_dataset **out) {
    DC_TRY(dataset_alloc(count, src->c, src->h, src->w, src->num_classes, out));
    size_t chw = (size_t)src->c * (size_t)src->h * (size_t)src->w;
    for (int64_t i = 0; i < count; i++) {
        memcpy((*out)->images + (size_t)i * chw, src->images + (size_t)idx[i] * chw, chw * sizeof(float));
        (*out)->labels[i] = src->labels[idx[i]];
    }
    return DC_OK;
}

dc_status dc_dataset_split(const dc_dataset *src, int64_t n_first, uint64_t shuffle_seed, dc_dataset **first,
                           dc_dataset **rest) {
    if (first) *first = NULL;
    if (rest) *rest = NULL;
    if (!src) return DC_ERR(DC_ERR_ARG, "dc_dataset_split: src is NULL");
    if (n_first < 0 || n_first > src->n)
        return DC_ERR(DC_ERR_ARG, "dc_dataset_split: n_first %lld outside 0..%lld", (long long)n_first,
                      (long long)src->n);
    int64_t *idx = malloc((size_t)(src->n > 0 ? src->n : 1) * sizeof *idx);
    if (!idx) return DC_ERR(DC_ERR_NOMEM, "dc_dataset_split: index of %lld examples", (long long)src->n);
    for (int64_t i = 0; i < src->n; i++) idx[i] = i;
    if (shuffle_seed != 0) {
        dc_rng rng;
        dc_rng_seed(&rng, shuffle_seed);
        dc_rng_shuffle(&rng, idx, src->n);
    }
    dc_dataset *a = NULL, *b = NULL;
    dc_status st = DC_OK;
    if (first) st = gather(src, idx, n_first, &a);
    if (st == DC_OK && rest) st = gather(src, idx + n_first, src->n - n_first, &b);
    free(idx);
    if (st != DC_OK) {
        dc_dataset_free(a);
        dc_dataset_free(b);
        return st;
    }
    if (first) *first = a;
    if (rest) *rest = b;
    return DC_OK;
}

struct dc_batcher {
    const dc_dataset *ds;
    int64_t batch, pos;
    int shuffle, drop_last;
    dc_rng rng;
    int64_t *perm; /* this epoch's order */
};

dc_status dc_batcher_create(const dc_dataset *ds, int64_t batch, int shuffle, uint64_t seed, int drop_last,
                            dc_batcher **out) {
    if (!out) return DC_ERR(DC_ERR_ARG, "dc_batcher_create: out is NULL");
    *out = NULL;
    if (!ds) return DC_ERR(DC_ERR_ARG, "dc_batcher_create: dataset is NULL");
    if (batch <= 0) return DC_ERR(DC_ERR_ARG, "dc_batcher_create: batch size %lld must be positive", (long long)batch);
    dc_batcher *b = calloc(1, sizeof *b);
    if (!b) return DC_ERR(DC_ERR_NOMEM, "batcher");
    b->perm = malloc((size_t)(ds->n > 0 ? ds->n : 1) * sizeof *b->perm);
    if (!b->perm) {
        free(b);
        return DC_ERR(DC_ERR_NOMEM, "batcher index of %lld examples", (long long)ds->n);
    }
    b->ds = ds;
    b->batch = batch;
    b->shuffle = shuffle != 0;
    b->drop_last = drop_last != 0;
    dc_rng_seed(&b->rng, seed);
    dc_batcher_reset(b);
    *out = b;
    return DC_OK;
}

void dc_batcher_free(dc_batcher *b) {
    if (!b) return;
    free(b->perm);
    free(b);
}

void dc_batcher_reset(dc_batcher *b) {
    if (!b) return;
    /* Start from file order every epoch, so epoch k's order depends only on the seed and k. */
    for (int64_t i = 0; i < b->ds->n; i++) b->perm[i] = i;
    if (b->shuffle) dc_rng_shuffle(&b->rng, b->perm, b->ds->n);
    b->pos = 0;
}

int64_t dc_batcher_next(dc_batcher *b, float *x, float *y) {
    if (!b) return 0;
    const dc_dataset *ds = b->ds;
    int64_t left = ds->n - b->pos;
    if (left <= 0) return 0;
    int64_t count = left < b->batch ? left : b->batch;
    if (count < b->batch && b->drop_last) {
        b->pos = ds->n;
        return 0;
    }
    size_t chw = (size_t)ds->c * (size_t)ds->h * (size_t)ds->w;
    for (int64_t i = 0; i < count; i++) {
        int64_t e = b->perm[b->pos + i];
        if (x) memcpy(x + (size_t)i * chw, ds->images + (size_t)e * chw, chw * sizeof(float));
        if (y) y[i] = (float)ds->labels[e];
    }
    b->pos += count;
    return count;
}

int64_t dc_batcher_batches(const dc_batcher *b) {
    if (!b) return 0;
    return b->drop_last ? b->ds->n / b->batch : (b->ds->n + b->batch - 1) / b->batch;
}
