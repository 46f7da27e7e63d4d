/* data.h — datasets for deepc: IDX files (MNIST / Fashion-MNIST, gzip or plain), in-memory datasets,
 * train/validation splits and seeded mini-batching.  Knows nothing of models or graphs. */
#ifndef DC_DATA_H
#define DC_DATA_H

#include "deepc.h"

/* Read an IDX file of unsigned bytes (magic 0x00000801 labels or 0x00000803 images).  gzip is
 * detected from the first two bytes (needs zlib at build time; otherwise a clear error).
 * *data is malloc'ed (caller frees); dims receives up to 3 dimensions, *rank how many.
 * Errors name the file and, for corrupt contents, the byte offset. */
dc_status dc_idx_read(const char *path, uint8_t **data, int *rank, int64_t dims[3]);

/* n floats for image data; large arrays are 2 MiB aligned and advised for transparent huge pages
 * (touching hundreds of MB of fresh memory is otherwise dominated by page faults).  free() them. */
float *dc_data_alloc_floats(size_t n);

/* An image-classification dataset held in memory as normalised float32 NCHW images. */
typedef struct dc_dataset {
    int64_t n;           /* number of examples                         */
    int c, h, w;         /* image geometry                             */
    int num_classes;     /* labels are 0..num_classes-1               */
    float *images;       /* n*c*h*w floats                             */
    int32_t *labels;     /* n labels                                   */
} dc_dataset;

/* Load "train" or "test" from an MNIST-format directory: {train,t10k}-{images-idx3,labels-idx1}-ubyte,
 * each with or without ".gz".  Pixels become (p/255 - mean)/std.  limit > 0 keeps the first `limit`
 * examples.  Checks magic numbers, sizes, image/label count agreement and label range (0..9). */
dc_status dc_mnist_load(const char *dir, const char *split, float mean, float std, int64_t limit,
                        dc_dataset **out);
/* Build a dataset from arrays (copied).  Used by tests and by callers with their own data. */
dc_status dc_dataset_from_arrays(int64_t n, int c, int h, int w, int num_classes, const float *images,
                                 const int32_t *labels, dc_dataset **out);
void dc_dataset_free(dc_dataset *ds);

/* Split into the first n_first examples and the rest (copies), after a seeded shuffle of the order
 * when shuffle_seed != 0 (seed 0 keeps file order).  Either output pointer may be NULL. */
dc_status dc_dataset_split(const dc_dataset *src, int64_t n_first, uint64_t shuffle_seed,
                           dc_dataset **first, dc_dataset **rest);

/* Mini-batches over a dataset.  With shuffle, each epoch visits a fresh seeded permutation. */
typedef struct dc_batcher dc_batcher;
dc_status dc_batcher_create(const dc_dataset *ds, int64_t batch, int shuffle, uint64_t seed,
                            int drop_last, dc_batcher **out);
void dc_batcher_free(dc_batcher *b);
/* Start a new epoch (reshuffles when shuffling). */
void dc_batcher_reset(dc_batcher *b);
/* Copy the next batch: x gets count*c*h*w floats, y gets count labels as floats (class indices).
 * Returns count (0 when the epoch is over; smaller than batch for a final partial batch unless
 * drop_last).  Batches per epoch: */
int64_t dc_batcher_next(dc_batcher *b, float *x, float *y);
int64_t dc_batcher_batches(const dc_batcher *b);

/* Training-time augmentation, applied in place to a batch of n NCHW images.
 *  shift > 0: random crop of the image zero-padded by `shift` pixels on each side (equivalently a
 *             random translation by dy, dx in [-shift, shift]; vacated pixels get `fill`, the
 *             normalised value of a black pixel);
 *  flip:      horizontal flip with probability 1/2;
 *  erase > 0: random erasing after the above: with probability `erase`, one rectangle (area
 *             2-40% of the image, aspect ratio 0.3-3.3) gets values uniform in [erase_lo, erase_hi)
 *             (the normalised values of black and white pixels).
 * scratch: h*w floats. */
typedef struct dc_augment {
    int shift;
    int flip;
    float erase;
    float erase_lo, erase_hi;
} dc_augment;
void dc_augment_batch(const dc_augment *a, dc_rng *r, int64_t n, int c, int h, int w, float fill, float *x,
                      float *scratch);

#endif
