/* detgen.h — a deterministic object-detection data set made of Fashion-MNIST items on larger grey
 * canvases, written as PNG images plus COCO-style JSON (boxes and instance masks).
 * The rules (placement, overlap, occlusion, thresholds) are in docs/detection.md; the code is
 * src/data/detgen.c. */
#ifndef DC_DATA_DETGEN_H
#define DC_DATA_DETGEN_H

#include "deepc.h"

#define DC_DETGEN_SPLITS 3   /* train, val, test */
#define DC_DETGEN_CLASSES 10

typedef struct dc_detgen_config {
    const char *out_dir;       /* DIR: DIR/{train,val,test}/NNNNNN.png, DIR/{train,val,test}.json */
    const char *fashion_dir;   /* MNIST-format directory (train file: train/val items, t10k: test) */
    uint64_t seed;
    int64_t n_images[DC_DETGEN_SPLITS]; /* images per split: 10000, 1000, 2000                     */
    int size;                  /* canvas side, 160 (32..4096)                                     */
    float min_scale, max_scale;/* item scale, log-uniform in [0.5, 3]; 28*max_scale <= size        */
    int max_items;             /* 1..max_items items per image, uniform (8; at most 100)          */
    float max_iou;             /* largest IoU allowed between two boxes of an image (0.5)         */
    float mask_threshold;      /* a scaled item pixel >= this (0..1) is the item's (0.1)           */
    int threads;               /* worker threads (results do not depend on it); 0: 2              */
    int rle_uncompressed;      /* 1: segmentation counts as a list of integers; 0: COCO string    */
    /* Optional, for tests: items from memory instead of fashion_dir.  items[f] holds n_items[f]
     * 28x28 images (bytes), labels[f] their classes 0..9; f = 0 the training file, 1 the test file. */
    const uint8_t *items[2];
    const uint8_t *labels[2];
    int64_t n_items[2];
} dc_detgen_config;

void dc_detgen_config_defaults(dc_detgen_config *c);

typedef struct dc_detgen_stats {
    int64_t images[DC_DETGEN_SPLITS];
    int64_t annotations[DC_DETGEN_SPLITS];
    int64_t per_class[DC_DETGEN_SPLITS][DC_DETGEN_CLASSES];
    int64_t area_small[DC_DETGEN_SPLITS], area_medium[DC_DETGEN_SPLITS], area_large[DC_DETGEN_SPLITS]; /* COCO ranges */
    double seconds;
} dc_detgen_stats;

/* Generate the whole data set (stats may be NULL).  The output depends only on the configuration
 * (not on the thread count): the same seed gives byte-identical files. */
dc_status dc_detgen_run(const dc_detgen_config *c, dc_detgen_stats *stats);

/* The split names, "train", "val", "test". */
const char *dc_detgen_split_name(int split);

#endif
