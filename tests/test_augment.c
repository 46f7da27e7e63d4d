/* test_augment.c — augmentation moves pixels exactly as a translation (+ optional mirror) with the
 * fill value in the vacated border, draws every allowed shift, and is reproducible from the seed. */
#include "data/data.h"
#include "test.h"

#include <string.h>

enum { H = 4, W = 5, N = 400 };

/* Which (dy, dx, flip) turns src into out, or -1 if none does. */
static int explain(const float *src, const float *out, float fill, int shift) {
    for (int f = 0; f < 2; f++)
        for (int dy = -shift; dy <= shift; dy++)
            for (int dx = -shift; dx <= shift; dx++) {
                int ok = 1;
                for (int y = 0; y < H && ok; y++)
                    for (int x = 0; x < W && ok; x++) {
                        int sy = y - dy, sx = (f ? W - 1 - x : x) - dx;
                        float want = sy >= 0 && sy < H && sx >= 0 && sx < W ? src[sy * W + sx] : fill;
                        ok = out[y * W + x] == want;
                    }
                if (ok) return (f * 16 + (dy + shift)) * 16 + (dx + shift);
            }
    return -1;
}

TEST(augment_is_translation_and_flip_with_fill) {
    static float x[N * H * W], orig[H * W], scratch[H * W];
    for (int i = 0; i < H * W; i++) orig[i] = (float)(i + 1);
    for (int n = 0; n < N; n++) memcpy(x + n * H * W, orig, sizeof orig);
    dc_augment a = {.shift = 1, .flip = 1};
    dc_rng r;
    dc_rng_seed(&r, 4);
    dc_augment_batch(&a, &r, N, 1, H, W, -0.5f, x, scratch);
    int seen[2][3][3] = {{{0}}};
    for (int n = 0; n < N; n++) {
        int e = explain(orig, x + n * H * W, -0.5f, 1);
        CHECK_MSG(e >= 0, "image %d is not a shifted/flipped copy", n);
        if (e < 0) break;
        seen[e / 256][(e / 16) % 16][e % 16]++;
    }
    for (int f = 0; f < 2; f++)
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) CHECK_MSG(seen[f][i][j] > 5, "flip %d shift (%d,%d) drawn %d times", f, i - 1, j - 1, seen[f][i][j]);
    /* same seed, same result */
    static float y[N * H * W];
    for (int n = 0; n < N; n++) memcpy(y + n * H * W, orig, sizeof orig);
    dc_rng_seed(&r, 4);
    memcpy(x, y, sizeof y);
    dc_augment_batch(&a, &r, N, 1, H, W, -0.5f, x, scratch);
    dc_rng_seed(&r, 4);
    dc_augment_batch(&a, &r, N, 1, H, W, -0.5f, y, scratch);
    CHECK(memcmp(x, y, sizeof x) == 0);
}

TEST(augment_off_leaves_images_alone) {
    float x[H * W], scratch[H * W];
    for (int i = 0; i < H * W; i++) x[i] = (float)i;
    dc_augment a = {0};
    dc_rng r;
    dc_rng_seed(&r, 1);
    dc_augment_batch(&a, &r, 1, 1, H, W, 0.0f, x, scratch);
    for (int i = 0; i < H * W; i++) CHECK(x[i] == (float)i);
}

/* Random erasing: each image is either untouched or differs from the original in exactly one
 * axis-aligned rectangle whose area and aspect ratio lie in the documented ranges, with values in
 * [lo, hi); about the requested fraction of images is erased; erase 0 draws nothing extra. */
TEST(augment_erase_is_one_rectangle_in_range) {
    enum { EH = 28, EW = 28, EN = 600 };
    static float x[EN * EH * EW], scratch[EH * EW];
    for (int i = 0; i < EN * EH * EW; i++) x[i] = 5.0f; /* outside [lo, hi) */
    dc_augment a = {.erase = 0.5f, .erase_lo = -1.0f, .erase_hi = 2.0f};
    dc_rng r;
    dc_rng_seed(&r, 9);
    dc_augment_batch(&a, &r, EN, 1, EH, EW, 0.0f, x, scratch);
    int erased = 0, bad = 0;
    for (int n = 0; n < EN && !bad; n++) {
        const float *img = x + n * EH * EW;
        int y0 = EH, y1 = -1, x0 = EW, x1 = -1, count = 0;
        for (int y = 0; y < EH; y++)
            for (int k = 0; k < EW; k++)
                if (img[y * EW + k] != 5.0f) {
                    float v = img[y * EW + k];
                    if (!(v >= -1.0f && v < 2.0f)) bad = 1;
                    count++;
                    if (y < y0) y0 = y;
                    if (y > y1) y1 = y;
                    if (k < x0) x0 = k;
                    if (k > x1) x1 = k;
                }
        if (!count) continue;
        erased++;
        int eh = y1 - y0 + 1, ew = x1 - x0 + 1;
        CHECK_MSG(count == eh * ew, "image %d: %d changed pixels do not fill their %dx%d box", n, count, eh, ew);
        float frac = (float)(eh * ew) / (EH * EW), ratio = (float)eh / (float)ew;
        CHECK_MSG(frac >= 0.015f && frac <= 0.43f, "image %d: area fraction %g", n, (double)frac);
        CHECK_MSG(ratio >= 0.25f && ratio <= 4.0f, "image %d: aspect %g", n, (double)ratio);
    }
    CHECK(!bad);
    CHECK_MSG(erased > EN * 0.4 && erased < EN * 0.6, "%d of %d erased at p 0.5", erased, EN);

    /* p = 0 keeps the shift/flip draws exactly: same images as a config without the field */
    static float y[EN * H * W], z[EN * H * W], s2[H * W];
    for (int i = 0; i < EN * H * W; i++) y[i] = z[i] = (float)(i % 17);
    dc_augment plain = {.shift = 1, .flip = 1}, off = {.shift = 1, .flip = 1, .erase = 0.0f, .erase_lo = 0, .erase_hi = 1};
    dc_rng_seed(&r, 3);
    dc_augment_batch(&plain, &r, EN, 1, H, W, 0.0f, y, s2);
    dc_rng_seed(&r, 3);
    dc_augment_batch(&off, &r, EN, 1, H, W, 0.0f, z, s2);
    CHECK(memcmp(y, z, sizeof y) == 0);
}
