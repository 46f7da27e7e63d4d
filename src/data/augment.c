/* augment.c — training-time data augmentation on a batch of NCHW images, in place:
 * random crop of the image zero-padded by `shift` pixels (the same as a random translation by
 * dy, dx in [-shift, shift] with the vacated pixels set to `fill`), random horizontal flip, and
 * random erasing (Zhong et al. 2017: with probability p, one rectangle of area fraction in
 * [0.02, 0.4] and aspect ratio h/w in [0.3, 1/0.3] gets uniform random pixel values).
 * Every draw comes from the caller's generator, so a seeded run is reproducible; with erasing off
 * the draws are exactly those of shift and flip alone. */
#include "data/data.h"

#include <math.h>
#include <string.h>

enum { ERASE_TRIES = 10 };
#define ERASE_AREA_MIN 0.02f
#define ERASE_AREA_MAX 0.4f
#define ERASE_RATIO_MIN 0.3f

/* Picks the rectangle to erase in an h x w plane: 1 with *y0, *x0, *eh, *ew set, 0 when no draw
 * of ERASE_TRIES fitted (the image is left alone, as in the paper's algorithm). */
static int erase_rect(dc_rng *r, int h, int w, int *y0, int *x0, int *eh, int *ew) {
    const float area = (float)h * (float)w, lr0 = logf(ERASE_RATIO_MIN), lr1 = -lr0;
    for (int t = 0; t < ERASE_TRIES; t++) {
        float s = area * (ERASE_AREA_MIN + (ERASE_AREA_MAX - ERASE_AREA_MIN) * dc_rng_uniform(r));
        float ratio = expf(lr0 + (lr1 - lr0) * dc_rng_uniform(r)); /* log-uniform height/width */
        int rh = (int)lroundf(sqrtf(s * ratio)), rw = (int)lroundf(sqrtf(s / ratio));
        if (rh < 1 || rw < 1 || rh > h || rw > w) continue;
        *eh = rh;
        *ew = rw;
        *y0 = (int)dc_rng_below(r, (uint64_t)(h - rh + 1));
        *x0 = (int)dc_rng_below(r, (uint64_t)(w - rw + 1));
        return 1;
    }
    return 0;
}

/* Random erasing of image i (all channels): values uniform in [lo, hi). */
static void erase_image(const dc_augment *a, dc_rng *r, int c, int h, int w, float *img) {
    if (dc_rng_uniform(r) >= a->erase) return;
    int y0, x0, eh, ew;
    if (!erase_rect(r, h, w, &y0, &x0, &eh, &ew)) return;
    const float lo = a->erase_lo, span = a->erase_hi - a->erase_lo;
    for (int ch = 0; ch < c; ch++)
        for (int y = y0; y < y0 + eh; y++) {
            float *row = img + ((int64_t)ch * h + y) * w;
            for (int x = x0; x < x0 + ew; x++) row[x] = lo + span * dc_rng_uniform(r);
        }
}

void dc_augment_batch(const dc_augment *a, dc_rng *r, int64_t n, int c, int h, int w, float fill, float *x,
                      float *scratch) {
    if (!a || (a->shift <= 0 && !a->flip && a->erase <= 0.0f)) return;
    const int64_t plane = (int64_t)h * w;
    for (int64_t i = 0; i < n; i++) {
        int dy = 0, dx = 0, flip = 0;
        if (a->shift > 0) {
            dy = (int)dc_rng_below(r, (uint64_t)(2 * a->shift + 1)) - a->shift;
            dx = (int)dc_rng_below(r, (uint64_t)(2 * a->shift + 1)) - a->shift;
        }
        if (a->flip) flip = (int)dc_rng_below(r, 2);
        for (int ch = 0; ch < c && (dy != 0 || dx != 0 || flip); ch++) {
            float *img = x + (i * c + ch) * plane;
            memcpy(scratch, img, (size_t)plane * sizeof(float));
            /* out(y, x') = in(y - dy, x - dx), with x = flipped x' when flipping */
            for (int y = 0; y < h; y++) {
                int sy = y - dy;
                float *row = img + (int64_t)y * w;
                if (sy < 0 || sy >= h) {
                    for (int k = 0; k < w; k++) row[k] = fill;
                    continue;
                }
                const float *src = scratch + (int64_t)sy * w;
                for (int k = 0; k < w; k++) {
                    int sx = (flip ? w - 1 - k : k) - dx;
                    row[k] = sx >= 0 && sx < w ? src[sx] : fill;
                }
            }
        }
        if (a->erase > 0.0f) erase_image(a, r, c, h, w, x + i * c * plane);
    }
}
