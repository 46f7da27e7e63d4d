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
