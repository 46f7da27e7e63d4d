/* selsearch.h — selective search (Uijlings, van de Sande, Gevers, Smeulders, IJCV 2013) on grey
 * images: class-independent region proposals for R-CNN.
 *
 *   1. Felzenszwalb-Huttenlocher graph segmentation (IJCV 2004): Gaussian smoothing (sigma 0.8),
 *      an 8-connected grid graph whose edge weight is the intensity difference of its two pixels,
 *      Kruskal-style merging while the weight is <= Int(C) + k/|C| of both components, then
 *      components smaller than min_size are merged into a neighbour (in edge order);
 *   2. hierarchical grouping: the two most similar neighbouring regions are merged until one region
 *      is left (n regions -> n - 1 merges); similarity = a sum of any of
 *        colour   sum_k min(c_i^k, c_j^k), 25-bin intensity histograms (L1-normalised),
 *        texture  sum_k min(t_i^k, t_j^k), 8 orientations x 10 bins of Gaussian-derivative
 *                 (sigma 1) responses (L1-normalised over all 80 bins),
 *        size     1 - (|r_i| + |r_j|) / |image|,
 *        fill     1 - (|BB_ij| - |r_i| - |r_j|) / |image|;
 *      a merged region's histograms are the size-weighted means, its box the union;
 *   3. diversification: several k (segmentation scales) x several similarity combinations
 *      ("strategies"), each region of each hierarchy is a proposal; the union is ranked by the
 *      paper's pseudo-random rule, value = (hierarchy level) x U(0, 1) with level 1 for the last
 *      merge (the whole image), lowest value first; duplicate boxes keep their best rank.
 *
 * Grey only: the paper diversifies over colour spaces as well (RGB, HSV, Lab, rgI, H, I); deepc's
 * detection images are grey, so there is one colour space (intensity, 0..255): the colour
 * histogram has 25 bins over one channel and the texture histogram 8 x 10 bins over one channel.
 * Modes (the paper's table 5 without the colour-space axis):
 *   fast:    k in {50, 100},           similarities {C+T+S+F, T+S+F}        -> 4 strategies
 *   quality: k in {50, 100, 150, 300}, similarities {C+T+S+F, T+S+F, F, S}  -> 16 strategies
 *   single:  k = 100, C+T+S+F                                              -> 1 strategy
 * min_size of a segmentation = round(min_size_scale x k) (the paper's code uses min_size = k on
 * ~500 x 375 images; docs/rcnn.md gives the value chosen for 160 x 160 and why).
 *
 * Boxes follow src/detect/boxes.h: a region of pixels x0..x1, y0..y1 gives [x0, y0, x1 + 1, y1 + 1].
 * Deterministic: the same image, options and seed give the same boxes in the same order. */
#ifndef DC_DETECT_SELSEARCH_H
#define DC_DETECT_SELSEARCH_H

#include "deepc.h"

typedef enum dc_ss_mode { DC_SS_FAST = 0, DC_SS_QUALITY, DC_SS_SINGLE, DC_SS_MODE_COUNT } dc_ss_mode;
const char *dc_ss_mode_name(dc_ss_mode m);
/* "fast", "quality" or "single"; DC_ERR_ARG naming the known ones otherwise. */
dc_status dc_ss_mode_parse(const char *s, dc_ss_mode *out);

/* Similarity terms, OR-ed together. */
enum { DC_SS_COLOUR = 1, DC_SS_TEXTURE = 2, DC_SS_SIZE = 4, DC_SS_FILL = 8 };

#define DC_SS_COLOUR_BINS 25
#define DC_SS_ORIENTATIONS 8
#define DC_SS_TEXTURE_BINS 10

typedef struct dc_selsearch_opts {
    dc_ss_mode mode;        /* fast                                                         */
    float sigma;            /* Gaussian smoothing before segmentation, 0.8                  */
    float min_size_scale;   /* min_size = round(min_size_scale * k), at least 1              */
    int64_t max_boxes;      /* keep the best-ranked max_boxes (<= 0: all)                    */
    uint64_t seed;          /* the ranking's random numbers                                  */
} dc_selsearch_opts;
dc_selsearch_opts dc_selsearch_opts_default(void);

/* Selective search on a grey image (bytes, row-major [h][w], h, w in 2..4096).  *boxes receives
 * [*n, 4] floats (caller frees), best-ranked first, duplicates removed. */
dc_status dc_selsearch(const uint8_t *img, int h, int w, const dc_selsearch_opts *o, float **boxes, int64_t *n);

/* ------------------------------------------------------------------ the pieces (tested alone) */
/* Felzenszwalb-Huttenlocher segmentation of a grey image (values 0..255): labels[h*w] receives
 * component ids 0..*n-1, numbered in raster order of their first pixel.  sigma <= 0: no smoothing.
 * k > 0, min_size >= 1. */
dc_status dc_fh_segment(const uint8_t *img, int h, int w, float sigma, float k, int min_size, int32_t *labels,
                        int *n);

/* One region of a grouping hierarchy: initial regions 0..n-1 have a = b = -1; region n + t is the
 * t-th merge, of regions a and b. */
typedef struct dc_ss_region {
    float box[4];     /* [x1, y1, x2, y2] */
    int64_t size;     /* pixels           */
    int32_t a, b;
} dc_ss_region;

/* Hierarchical grouping of a segmentation (labels 0..n-1 as dc_fh_segment gives) with the
 * similarity terms `sims` (DC_SS_* OR-ed, not 0).  out must hold 2n - 1 regions; *n_out = 2n - 1
 * when the regions are connected (one region is left), fewer when the image has several
 * disconnected groups (never with a grid segmentation). */
dc_status dc_ss_group(const uint8_t *img, int h, int w, const int32_t *labels, int n, unsigned sims,
                      dc_ss_region *out, int *n_out);

#endif
