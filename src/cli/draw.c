/* draw.c — what `deepc detect` draws for every detector (cli.h): class names, one colour per
 * class, a box outline with its label in deepc's bitmap font, a mask tint. */
#include "cli/cli.h"
#include "viz/scene.h"

#include <stdio.h>
#include <string.h>

static const char *const FASHION[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                         "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
static const unsigned char PALETTE[10][3] = {{230, 25, 75},  {60, 180, 75},  {255, 225, 25}, {0, 130, 200},
                                             {245, 130, 48}, {145, 30, 180}, {70, 240, 240}, {240, 50, 230},
                                             {210, 245, 60}, {250, 190, 212}};

const char *dc_cli_class_name(int classes, int k) {
    return classes == 10 && k >= 0 && k < 10 ? FASHION[k] : "";
}

static void put_px(dc_image *im, int x, int y, const unsigned char rgb[3]) {
    if (x < 0 || y < 0 || x >= im->w || y >= im->h) return;
    int64_t hw = (int64_t)im->h * im->w, k = (int64_t)y * im->w + x;
    for (int c = 0; c < 3; c++) im->data[c * hw + k] = rgb[c] / 255.0f;
}

void dc_cli_draw_detection(dc_image *im, const float box[4], int classes, int k, float score) {
    static const unsigned char black[3] = {0, 0, 0};
    const unsigned char *rgb = PALETTE[(k < 0 ? -k : k) % 10];
    int x1 = (int)(box[0] + 0.5f), y1 = (int)(box[1] + 0.5f), x2 = (int)(box[2] + 0.5f), y2 = (int)(box[3] + 0.5f);
    for (int x = x1; x < x2; x++) put_px(im, x, y1, rgb), put_px(im, x, y2 - 1, rgb); /* [x1, x2) x [y1, y2) */
    for (int y = y1; y < y2; y++) put_px(im, x1, y, rgb), put_px(im, x2 - 1, y, rgb);
    char text[48];
    if (classes == 10) snprintf(text, sizeof text, "%s %.2f", FASHION[k % 10], (double)score);
    else snprintf(text, sizeof text, "%d %.2f", k, (double)score);
    int ty = y1 - 9 < 0 ? 0 : y1 - 9, w = (int)strlen(text) * DC_FONT_ADVANCE + 1; /* the label above the box */
    for (int y = 0; y < 9; y++)
        for (int x = 0; x < w; x++) put_px(im, x1 + x, ty + y, rgb);
    for (int i = 0; text[i]; i++) {
        uint8_t rows[9];
        dc_font_glyph((unsigned char)text[i], rows);
        for (int r = 0; r < 9; r++)
            for (int c = 0; c < 5; c++)
                if (rows[r] & (1u << (4 - c))) put_px(im, x1 + 1 + i * DC_FONT_ADVANCE + c, ty + r, black);
    }
}

void dc_cli_tint_mask(dc_image *im, const uint8_t *mask, int side, int k) {
    const unsigned char *rgb = PALETTE[(k < 0 ? -k : k) % 10];
    int64_t hw = (int64_t)im->h * im->w;
    for (int y = 0; y < im->h; y++)
        for (int x = 0; x < im->w; x++) { /* the mask is side x side: nearest pixel */
            int nx = (int)(((float)x + 0.5f) * (float)side / (float)im->w);
            int ny = (int)(((float)y + 0.5f) * (float)side / (float)im->h);
            if (!mask[ny * side + nx]) continue;
            for (int c = 0; c < 3; c++) {
                float *v = &im->data[c * hw + (int64_t)y * im->w + x];
                *v = 0.5f * *v + 0.5f * (float)rgb[c] / 255.0f;
            }
        }
}

int dc_cli_detect_parse(int argc, char **argv, const char *help, int with_size, dc_cli_detect_args *d) {
    const char *cmd = "detect";
    for (int i = 0; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(help, stdout);
            return 0;
        }
        if (a[0] != '-' || !a[1]) {
            if (d->image) return dc_cli_bad(cmd, "more than one image:", a);
            d->image = a;
            i--;
            continue;
        }
        if (!v) return dc_cli_bad(cmd, "missing value for", a);
        else if (!strcmp(a, "--checkpoint")) d->ckpt = v;
        else if (!strcmp(a, "--model")) d->model = v;
        else if (!strcmp(a, "--out")) d->out = v;
        else if (!strcmp(a, "--threshold")) { if (dc_cli_float(cmd, a, v, 0.0, 1.0, &d->thresh)) return 2; }
        else if (!strcmp(a, "--nms")) { if (dc_cli_float(cmd, a, v, 0.0, 1.0, &d->nms)) return 2; }
        else if (with_size && !strcmp(a, "--size")) { if (dc_cli_long(cmd, a, v, 16, 4096, &d->size)) return 2; }
        else if (!strcmp(a, "--threads")) { if (dc_cli_long(cmd, a, v, 1, 256, &d->threads)) return 2; }
        else return dc_cli_bad(cmd, "unknown option", a);
    }
    if (!d->ckpt) return dc_cli_bad(cmd, "--checkpoint FILE is required", NULL);
    if (!d->image) return dc_cli_bad(cmd, "an image file is required", NULL);
    return -1;
}
