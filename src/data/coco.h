/* coco.h — COCO-style detection data sets: the annotation JSON (images, categories, annotations
 * with boxes, areas, iscrowd and instance masks) and the image folder next to it; plus COCO's
 * run-length mask encoding (RLE) used by the loader, the generator and the evaluator.
 *
 * Masks (dc_rle) follow COCO exactly: the h x w mask is read in column-major order (down each
 * column, columns left to right) and stored as alternating run lengths, starting with a run of
 * zeros (which may be 0).  The counts always add up to h*w.
 *
 * Supported annotation forms:
 *   - bbox [x, y, w, h] (4 finite numbers, w, h >= 0), area, iscrowd (0/1 or a boolean);
 *   - segmentation as polygons ([[x1, y1, x2, y2, ...], ...], rasterised by COCO's own rule,
 *     several polygons are united), as uncompressed RLE ({"size": [h, w], "counts": [..]}), or
 *     as compressed RLE ({"size": [h, w], "counts": "string"}, COCO's LEB128-like 6-bit code);
 *   - an annotation without segmentation has no mask (has_mask = 0).
 * Category ids are arbitrary integers; they are mapped to contiguous indices 0..C-1 in increasing
 * id order.  Not supported: keypoints (ignored), the "ignore" field (COCO's evaluator overrides
 * it with iscrowd anyway), files over 1 GiB. */
#ifndef DC_DATA_COCO_H
#define DC_DATA_COCO_H

#include "deepc.h"
#include "io/image.h"
#include "io/json.h"

/* ------------------------------------------------------------------ RLE masks */
typedef struct dc_rle {
    int32_t h, w;
    int64_t m;        /* number of runs                                      */
    uint32_t *cnts;   /* m run lengths (malloc'ed; NULL when m == 0)         */
} dc_rle;

void dc_rle_free(dc_rle *r);   /* frees cnts and zeroes *r; NULL is fine */
/* Encode a row-major mask [h][w] (nonzero = inside).  h, w in 0..DC_IMAGE_MAX_SIDE. */
dc_status dc_rle_encode(const uint8_t *mask, int h, int w, dc_rle *out);
/* Decode into a row-major mask [h][w] of 0/1. */
void dc_rle_decode(const dc_rle *r, uint8_t *mask);
/* From explicit counts (checked: they must add up to h*w). */
dc_status dc_rle_from_counts(const uint32_t *cnts, int64_t m, int h, int w, dc_rle *out);
/* Number of pixels inside. */
uint64_t dc_rle_area(const dc_rle *r);
/* Bounding box [x, y, w, h] of the pixels inside, in pixel units as COCO's toBbox (a mask holding
 * pixels x0..x1 gives x = x0, w = x1 - x0 + 1); all zero for an empty mask. */
void dc_rle_bbox(const dc_rle *r, double bb[4]);
/* COCO's compressed string: 6 bits per character (ASCII 48..111), each count after the second
 * stored as the difference to the count two before, continuation bit 0x20, sign bit 0x10.
 * The caller frees *s. */
dc_status dc_rle_to_string(const dc_rle *r, char **s);
/* Parse a compressed string (checked: valid characters, no overflow, counts >= 0 adding up to
 * h*w); the errors name the character offset. */
dc_status dc_rle_from_string(const char *s, size_t len, int h, int w, dc_rle *out);
/* Rasterise one polygon of k points xy[2k] = x1, y1, x2, y2, ... by COCO's rule (the boundary
 * traced at 5x resolution, a pixel is inside when its centre is, up to COCO's rounding), so areas
 * and IoUs agree with pycocotools.  k >= 3; coordinates must be finite and within 1e6. */
dc_status dc_rle_from_polygon(const double *xy, int64_t k, int h, int w, dc_rle *out);
/* Union (intersect = 0) or intersection (intersect = 1) of two masks of the same size. */
dc_status dc_rle_merge(const dc_rle *a, const dc_rle *b, int intersect, dc_rle *out);
/* Number of pixels inside both masks (same size required; 0 otherwise). */
uint64_t dc_rle_intersection(const dc_rle *a, const dc_rle *b);

/* A COCO "segmentation" value (polygon list, or RLE object with list or string counts) as a mask
 * of size h x w.  `where` names the element in error messages ("file.json: annotations[3]"). */
dc_status dc_coco_parse_segmentation(const dc_json *seg, int h, int w, const char *where, dc_rle *out);

/* ------------------------------------------------------------------ data set */
typedef struct dc_coco_image {
    int64_t id;
    char *file_name;
    int32_t width, height;
    int64_t ann_first, ann_count;  /* its annotations: anns[ann_first .. ann_first + ann_count) */
} dc_coco_image;

typedef struct dc_coco_category {
    int64_t id;
    char *name;
    char *supercategory;           /* "" when absent */
} dc_coco_category;

typedef struct dc_coco_ann {
    int64_t id;
    int64_t image;                 /* index into images[]                                   */
    int32_t category;              /* contiguous index into categories[]                    */
    double bbox[4];                /* x, y, w, h as in the file                             */
    double area;                   /* the file's "area"; when absent: the mask's pixel count,
                                      else bbox w*h (has_area tells)                        */
    int has_area;
    int iscrowd;
    int has_mask;
    dc_rle mask;                   /* when has_mask: image height x width                  */
} dc_coco_ann;

typedef struct dc_coco {
    char *path;                    /* the JSON file                                         */
    char *image_dir;               /* where file_name is looked up                          */
    int64_t n_images;
    dc_coco_image *images;         /* file order                                            */
    int32_t n_categories;
    dc_coco_category *categories;  /* sorted by id: the index is the contiguous class       */
    int64_t n_anns;
    dc_coco_ann *anns;             /* grouped by image (in image order), file order within  */
    int64_t *image_by_id;          /* image indices sorted by id (for dc_coco_find_image)   */
} dc_coco;

/* Load a COCO-style JSON file.  image_dir NULL: the path without ".json" when that is a directory
 * (DIR/train.json -> DIR/train/, the generator's layout), else the JSON file's directory.  Images
 * are not read here (dc_coco_image_read does that on demand).  Errors (DC_ERR_IO, DC_ERR_FORMAT)
 * name the file and the element ("annotations[12].bbox: expected 4 numbers, got 3") with its
 * byte offset; nothing is returned on error.  Refused as absurd: files over 1 GiB, image sides
 * outside 1..DC_IMAGE_MAX_SIDE, masks whose counts do not add up to height*width. */
dc_status dc_coco_load(const char *json_path, const char *image_dir, dc_coco **out);
/* The same from text in memory; origin names it in messages. */
dc_status dc_coco_parse(const char *text, size_t len, const char *origin, const char *image_dir, dc_coco **out);
void dc_coco_free(dc_coco *c);
/* Index of the image / category with this id, or -1. */
int64_t dc_coco_find_image(const dc_coco *c, int64_t id);
int32_t dc_coco_find_category(const dc_coco *c, int64_t id);
/* image_dir/file_name into buf (DC_ERR_ARG when it does not fit). */
dc_status dc_coco_image_path(const dc_coco *c, int64_t i, char *buf, size_t n);
/* Read image i (PNG or PGM/PPM); its size must match the JSON's width and height. */
dc_status dc_coco_image_read(const dc_coco *c, int64_t i, dc_image *out);


#endif
