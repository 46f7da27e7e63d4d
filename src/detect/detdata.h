/* detdata.h — a COCO-style detection set in memory for a single-stage detector (YOLO v1): the
 * images decoded once into an 8-bit grey cache, seeded shuffled batches as floats, optional
 * horizontal flips, and per-image targets in the layout of dc_yolo_loss.
 *
 * Targets: [max_obj][5] rows (class, cx, cy, w, h) per image, class = the contiguous category index
 * (0..C-1, dc_coco's), centre and size as fractions of the image: a COCO box [x, y, w, h] (pixels,
 * deepc's continuous convention: it covers [x, x + w)) gives cx = (x + w/2)/W, cy = (y + h/2)/H,
 * w/W, h/H, clamped into the ranges dc_yolo_loss accepts (centre [0, 1], size (0, 1]).  Rows keep
 * the annotation order of the file; crowd regions and empty boxes are left out (a single-stage
 * detector has no "ignore" label); unused rows are padding (class -1, zeros).  A flipped image has
 * cx -> 1 - cx.
 * Pixels: x = (p/255 - DC_DET_MEAN) / DC_DET_STD, the same at training and inference.
 * What it does not do: colour (images are converted to grey), resizing (all images of a set must
 * have one size), other augmentations. */
#ifndef DC_DETECT_DETDATA_H
#define DC_DETECT_DETDATA_H

#include "data/coco.h"

#define DC_DET_MEAN 0.25f
#define DC_DET_STD 0.25f

typedef struct dc_detdata {
    dc_coco *coco;      /* owned: the annotations (and the ground truth for evaluation)        */
    dc_coco view;       /* the first n images as a data set of their own (for evaluation)      */
    int64_t *view_index;/* view.image_by_id (owned)                                            */
    int64_t n;          /* images used: min(limit, images in the file)                          */
    int h, w;           /* every image's size                                                   */
    int classes;        /* categories in the file                                               */
    int max_obj;        /* most targets of any image used (at least 1)                          */
    uint8_t *pixels;    /* [n][h*w] grey, 0..255                                                */
    float *targets;     /* [n][max_obj][5]                                                      */
} dc_detdata;

/* Load json (DIR/split.json, images in DIR/split/ as dc_coco_load finds them) and decode the first
 * `limit` images (<= 0: all) on `threads` threads.  Images must all have one size; colour images
 * are converted to grey.  Errors name the file and the image. */
dc_status dc_detdata_load(const char *json, int64_t limit, int threads, dc_detdata **out);
void dc_detdata_free(dc_detdata *d);
/* The ground truth restricted to the images used (the whole set when no limit cut it). */
const dc_coco *dc_detdata_gt(const dc_detdata *d);

/* Targets of image i of a COCO set (rows as above, flipped when flip != 0): writes max_obj rows,
 * *count = the number of real objects (<= max_obj; more objects than rows is DC_ERR_ARG). */
dc_status dc_yolo_targets(const dc_coco *c, int64_t i, int max_obj, int flip, float *rows, int *count);
/* The grid cell dc_yolo_loss assigns an object with centre (cx, cy) to: row floor(cy S), column
 * floor(cx S), clamped to 0..S-1. */
void dc_yolo_target_cell(float cx, float cy, int S, int *row, int *col);

/* DC_OK when d's images are side x side and it has C categories (what a network planned for side
 * and C can run over); DC_ERR_SHAPE naming d's file otherwise. */
dc_status dc_detdata_check_net(const dc_detdata *d, int side, int C);

/* Normalised floats of one image of the cache (flipped horizontally when flip != 0). */
void dc_detdata_image(const dc_detdata *d, int64_t i, int flip, float *x);
/* Pixels of a [0, 1] grey image into the network's input (x may be the same buffer). */
void dc_det_normalise(const float *p, int64_t n, float *x);

/* Batches over the cache: an order (shuffled with a seeded generator, or file order), then
 * consecutive pieces of it; the last one may be short. */
typedef struct dc_detbatcher {
    const dc_detdata *d;
    int64_t *order;
    int64_t pos, batch;
    int shuffle, flip;
    dc_rng rng;          /* shuffling and flips */
    int *flipped;        /* [batch]: whether image k of the last batch was mirrored */
} dc_detbatcher;
dc_status dc_detbatcher_create(const dc_detdata *d, int64_t batch, int shuffle, int flip, dc_detbatcher **out);
void dc_detbatcher_free(dc_detbatcher *b);
/* Start an epoch: reseed, reshuffle (when shuffling), rewind. */
void dc_detbatcher_reset(dc_detbatcher *b, uint64_t seed);
int64_t dc_detbatcher_batches(const dc_detbatcher *b);
/* The next batch: images [b, 1, h, w], targets [b, max_obj, 5] (NULL: not written), idx[b] (NULL:
 * not written) the image indices.  Returns b (0 at the end of the epoch). */
int64_t dc_detbatcher_next(dc_detbatcher *b, float *images, float *targets, int64_t *idx);
/* Whether each image of the last batch was mirrored ([batch] flags, valid until the next call). */
const int *dc_detbatcher_flips(const dc_detbatcher *b);

#endif
