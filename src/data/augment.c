/* augment.c — training-time data augmentation on a batch of NCHW images, in place:
 * random crop of the image zero-padded by `shift` pixels (the same as a random translation by
 * dy, dx in [-shift, shift] with the vacated pixels set to `fill`), and random horizontal flip.
 * Every draw comes from the caller's generator, so a seeded run is reproducible. */
#include "data/data.h"

#include <string.h>

void dc_augment_batch(const dc_augment *a, dc_rng *r, int64_t n, int c, int h, int w, float fill, float *x,
                      float *scratch) {
    if (!a || (a->shift <= 0 && !a->flip)) return;
    const int64_t plane = (int64_t)h * w;
    for (int64_t i = 0; i < n; i++) {
        int dy = 0, dx = 0, flip = 0;
        if (a->shift > 0) {
            dy = (int)dc_rng_below(r, (uint64_t)(2 * a->shift + 1)) - a->shift;
            dx = (int)dc_rng_below(r, (uint64_t)(2 * a->shift + 1)) - a->shift;
        }
        if (a->flip) flip = (int)dc_rng_below(r, 2);
        if (dy == 0 && dx == 0 && !flip) continue;
        for (int ch = 0; ch < c; ch++) {
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
    }
}
