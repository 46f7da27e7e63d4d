/* test_predict.c — tests of prediction: image files (PGM/PPM round trips at 8 and 16 bits, ascii
 * and binary; corrupt, truncated and absurd files; PNG round trips and libpng's transforms when
 * built with DC_HAVE_PNG, the clear refusal otherwise), channel conversion and resizing on ramps,
 * softmax top-k on a hand-built model, and VGG's FC->conv conversion (dense evaluation): the same
 * logits at the trained size for mlp, lenet5 and vgg16, the expected map sizes and strides, and on a
 * canvas of two images side by side the map's ends equal the logits of each image.
 * Not tested here: the `deepc predict` command itself (it lives in the CLI, outside the library). */
#include "test.h"

#include "data/data.h"
#include "io/image.h"
#include "models/convolutionalize.h"

#include <stdlib.h>
#include <string.h>

#ifdef DC_HAVE_PNG
#include <png.h>
#endif

static const char *tmp_path(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dc_test_tmp_dir(), name);
    return buf[k];
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(data, 1, n, f);
    fclose(f);
}

/* The last error contains `what`. */
#define CHECK_MSG_HAS(what)                                                                                   \
    CHECK_MSG(strstr(dc_last_error(), what) != NULL, "message '%s' lacks '%s'", dc_last_error(), what)

static dc_image test_image(int c, int h, int w, int levels) {
    dc_image im;
    if (dc_image_create(c, h, w, &im) != DC_OK) return im;
    for (int64_t i = 0; i < (int64_t)c * h * w; i++) im.data[i] = (float)((i * 37 + 11) % (levels + 1)) / (float)levels;
    return im;
}

static float max_abs_diff(const dc_image *a, const dc_image *b) {
    if (a->c != b->c || a->h != b->h || a->w != b->w) return 1e9f;
    float m = 0.0f;
    for (int64_t i = 0; i < (int64_t)a->c * a->h * a->w; i++) m = fmaxf(m, fabsf(a->data[i] - b->data[i]));
    return m;
}

TEST(predict_pnm_roundtrip) {
    struct { int c, maxval, ascii; const char *name; } cases[] = {
        {1, 255, 0, "p5_8.pgm"}, {1, 65535, 0, "p5_16.pgm"}, {1, 255, 1, "p2.pgm"},  {1, 7, 1, "p2_7.pgm"},
        {1, 1000, 1, "p2_1000.pgm"}, {3, 255, 0, "p6.ppm"}, {3, 65535, 0, "p6_16.ppm"}, {3, 255, 1, "p3.ppm"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dc_image a = test_image(cases[i].c, 5, 7, cases[i].maxval), b;
        const char *p = tmp_path(cases[i].name);
        CHECK_OK(dc_image_write_pnm(p, &a, cases[i].maxval, cases[i].ascii));
        CHECK_OK(dc_image_read(p, &b));
        CHECK_MSG(b.c == cases[i].c && b.h == 5 && b.w == 7, "%s: read back %dx%dx%d", cases[i].name, b.c, b.h, b.w);
        CHECK_MSG(max_abs_diff(&a, &b) < 1e-6f, "%s: max diff %g", cases[i].name, (double)max_abs_diff(&a, &b));
        dc_image_free(&a);
        dc_image_free(&b);
    }
    /* A hand-written file: comments in the header, 16-bit big-endian samples. */
    const unsigned char p5[] = "P5 # a comment\n2 1\n# another\n65535\n\x12\x34\xff\xff";
    write_bytes(tmp_path("hand.pgm"), p5, sizeof p5 - 1);
    dc_image im;
    CHECK_OK(dc_image_read(tmp_path("hand.pgm"), &im));
    CHECK(im.w == 2 && im.h == 1 && im.c == 1);
    if (im.data) {
        CHECK_NEAR(im.data[0], 0x1234 / 65535.0, 1e-7);
        CHECK_NEAR(im.data[1], 1.0, 1e-7);
    }
    dc_image_free(&im);
    /* Writing rounds and clamps. */
    dc_image c;
    CHECK_OK(dc_image_create(1, 1, 3, &c));
    c.data[0] = -0.5f;
    c.data[1] = 2.0f;
    c.data[2] = 0.5f / 255.0f + 1e-4f;
    CHECK_OK(dc_image_write(tmp_path("clamp.pgm"), &c));
    CHECK_OK(dc_image_read(tmp_path("clamp.pgm"), &im));
    if (im.data) {
        CHECK_NEAR(im.data[0], 0.0, 0);
        CHECK_NEAR(im.data[1], 1.0, 0);
        CHECK_NEAR(im.data[2], 1.0 / 255.0, 1e-7);
    }
    dc_image_free(&im);
    dc_image_free(&c);
}

static void check_bad(const char *name, const void *bytes, size_t n, dc_status code, const char *what) {
    const char *p = tmp_path(name);
    write_bytes(p, bytes, n);
    dc_image im;
    CHECK_ERR(dc_image_read(p, &im), code);
    CHECK_MSG(strstr(dc_last_error(), name) != NULL, "%s: message '%s' does not name the file", name, dc_last_error());
    CHECK_MSG(strstr(dc_last_error(), what) != NULL, "%s: message '%s' lacks '%s'", name, dc_last_error(), what);
    CHECK(im.data == NULL);
}

TEST(predict_pnm_errors) {
    dc_image im;
    CHECK_ERR(dc_image_read(tmp_path("does-not-exist.pgm"), &im), DC_ERR_IO);
    CHECK_MSG_HAS("does-not-exist.pgm");
    CHECK_MSG_HAS("No such file");
#define BAD(name, lit, code, what) check_bad(name, lit, sizeof lit - 1, code, what)
    BAD("empty.pgm", "", DC_ERR_FORMAT, "empty");
    BAD("text.pgm", "hello world\n", DC_ERR_FORMAT, "not a PGM/PPM or PNG");
    BAD("nowidth.pgm", "P5\n# only a comment\n", DC_ERR_FORMAT, "width missing");
    BAD("letters.pgm", "P5\n12 x\n255\n", DC_ERR_FORMAT, "height missing");
    BAD("zero.pgm", "P5\n0 3\n255\n", DC_ERR_FORMAT, "bad PGM header");
    BAD("maxval0.pgm", "P5\n2 2\n0\nabcd", DC_ERR_FORMAT, "unsupported PGM depth");
    BAD("maxval70000.pgm", "P5\n2 2\n70000\nabcdefgh", DC_ERR_FORMAT, "unsupported PGM depth");
    BAD("huge.pgm", "P5\n20000 10\n255\n", DC_ERR_FORMAT, "absurd");
    BAD("enormous.pgm", "P5\n99999999999999 10\n255\n", DC_ERR_FORMAT, "absurd");
    BAD("trunc8.pgm", "P5\n4 4\n255\n0123456789", DC_ERR_FORMAT, "truncated PGM: 10 of 16 bytes");
    BAD("trunc16.pgm", "P5\n2 2\n65535\n0123456", DC_ERR_FORMAT, "truncated PGM: 7 of 8 bytes");
    BAD("trunc.ppm", "P6\n2 2\n255\n0123456789", DC_ERR_FORMAT, "truncated PPM");
    BAD("nospace.pgm", "P5\n1 1\n255", DC_ERR_FORMAT, "no whitespace after maxval");
    BAD("trunc.p2.pgm", "P2\n2 2\n255\n1 2 3\n", DC_ERR_FORMAT, "truncated PGM: 3 of 4 samples");
    BAD("over.p2.pgm", "P2\n2 1\n15\n1 16\n", DC_ERR_FORMAT, "above maxval 15");
    BAD("junk.p2.pgm", "P2\n2 1\n15\n1 x\n", DC_ERR_FORMAT, "not a number ('x')");
    BAD("over16.pgm", "P5\n1 1\n1000\n\x03\xe9", DC_ERR_FORMAT, "above maxval 1000");
    BAD("bitmap.pbm", "P4\n8 1\n\xff", DC_ERR_FORMAT, "not supported");
    BAD("badsig.png", "\x89PNG\r\n", DC_ERR_FORMAT, "PNG signature");
#undef BAD
    /* Writer argument errors. */
    dc_image a = test_image(2, 2, 2, 255);
    CHECK_ERR(dc_image_write_pnm(tmp_path("x.pgm"), &a, 255, 0), DC_ERR_ARG);
    dc_image_free(&a);
    a = test_image(1, 2, 2, 255);
    CHECK_ERR(dc_image_write_pnm(tmp_path("x.pgm"), &a, 0, 0), DC_ERR_ARG);
    CHECK_ERR(dc_image_write_pnm("/nonexistent-dir/x.pgm", &a, 255, 0), DC_ERR_IO);
    CHECK_MSG_HAS("/nonexistent-dir/x.pgm");
    dc_image_free(&a);
    CHECK_ERR(dc_image_create(1, 0, 5, &a), DC_ERR_ARG);
    CHECK_ERR(dc_image_create(1, DC_IMAGE_MAX_SIDE + 1, 5, &a), DC_ERR_ARG);
}

#ifdef DC_HAVE_PNG
/* Write raw PNG rows of any colour type/depth with libpng (for the reader's transforms). */
static int write_png_raw(const char *path, int w, int h, int color, int depth, const unsigned char *pixels,
                         size_t rowbytes, const png_color *palette, int n_palette, const unsigned char *trns, int n_trns) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return 0;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (palette) png_set_PLTE(png, info, palette, n_palette);
    if (trns) png_set_tRNS(png, info, trns, n_trns, NULL);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, (png_const_bytep)(pixels + (size_t)y * rowbytes));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(f);
    return 1;
}
#endif

TEST(predict_png) {
    dc_image a = test_image(1, 6, 5, 255), b = test_image(3, 4, 9, 255);
    CHECK(dc_image_png_supported() == (
#ifdef DC_HAVE_PNG
                                          1
#else
                                          0
#endif
                                          ));
#ifdef DC_HAVE_PNG
    dc_image r;
    CHECK_OK(dc_image_write(tmp_path("gray.png"), &a));
    CHECK_OK(dc_image_read(tmp_path("gray.png"), &r));
    CHECK(max_abs_diff(&a, &r) < 1e-6f);
    dc_image_free(&r);
    CHECK_OK(dc_image_write_png(tmp_path("rgb.PNG"), &b));
    CHECK_OK(dc_image_read(tmp_path("rgb.PNG"), &r));
    CHECK(max_abs_diff(&b, &r) < 1e-6f);
    dc_image_free(&r);

    /* 16-bit gray: big-endian samples. */
    const unsigned char g16[4] = {0x12, 0x34, 0xff, 0xfe};
    CHECK(write_png_raw(tmp_path("g16.png"), 2, 1, PNG_COLOR_TYPE_GRAY, 16, g16, 4, NULL, 0, NULL, 0));
    CHECK_OK(dc_image_read(tmp_path("g16.png"), &r));
    CHECK(r.c == 1 && r.w == 2 && r.h == 1);
    if (r.data) {
        CHECK_NEAR(r.data[0], 0x1234 / 65535.0, 1e-7);
        CHECK_NEAR(r.data[1], 0xfffe / 65535.0, 1e-7);
    }
    dc_image_free(&r);
    /* 2-bit gray: expanded to 8 bits (0, 85, 170, 255). */
    const unsigned char g2[1] = {0x1b}; /* 00 01 10 11 */
    CHECK(write_png_raw(tmp_path("g2.png"), 4, 1, PNG_COLOR_TYPE_GRAY, 2, g2, 1, NULL, 0, NULL, 0));
    CHECK_OK(dc_image_read(tmp_path("g2.png"), &r));
    if (r.data && r.w == 4)
        for (int i = 0; i < 4; i++) CHECK_NEAR(r.data[i], i / 3.0, 1e-6);
    dc_image_free(&r);
    /* Palette with a transparent entry: RGB, alpha composited over black. */
    const png_color pal[3] = {{255, 0, 0}, {0, 255, 0}, {10, 20, 30}};
    const unsigned char trns[3] = {255, 255, 0}, idx[3] = {0, 1, 2};
    CHECK(write_png_raw(tmp_path("pal.png"), 3, 1, PNG_COLOR_TYPE_PALETTE, 8, idx, 3, pal, 3, trns, 3));
    CHECK_OK(dc_image_read(tmp_path("pal.png"), &r));
    CHECK(r.c == 3 && r.w == 3 && r.h == 1);
    if (r.data && r.c == 3 && r.w == 3) {
        const float want[9] = {1, 0, 0, 0, 1, 0, 0, 0, 0}; /* planes R, G, B over pixels 0..2 */
        for (int i = 0; i < 9; i++) CHECK_NEAR(r.data[i], want[i], 1e-6);
    }
    dc_image_free(&r);
    /* RGBA, half transparent. */
    const unsigned char rgba[8] = {200, 100, 50, 255, 200, 100, 50, 51};
    CHECK(write_png_raw(tmp_path("rgba.png"), 2, 1, PNG_COLOR_TYPE_RGBA, 8, rgba, 8, NULL, 0, NULL, 0));
    CHECK_OK(dc_image_read(tmp_path("rgba.png"), &r));
    if (r.data && r.c == 3 && r.w == 2) {
        CHECK_NEAR(r.data[0], 200 / 255.0, 1e-6);
        CHECK_NEAR(r.data[1], 200 / 255.0 * 0.2, 1e-6);
        CHECK_NEAR(r.data[2 * 2 + 1], 50 / 255.0 * 0.2, 1e-6);
    }
    dc_image_free(&r);
    /* Gray + alpha: one channel. */
    const unsigned char ga[2] = {255, 128};
    CHECK(write_png_raw(tmp_path("ga.png"), 1, 1, PNG_COLOR_TYPE_GRAY_ALPHA, 8, ga, 2, NULL, 0, NULL, 0));
    CHECK_OK(dc_image_read(tmp_path("ga.png"), &r));
    CHECK(r.c == 1);
    if (r.data) CHECK_NEAR(r.data[0], 128 / 255.0, 1e-6);
    dc_image_free(&r);
    /* Absurd size and truncation. */
    unsigned char *wide = calloc(20000, 1);
    if (wide) CHECK(write_png_raw(tmp_path("wide.png"), 20000, 1, PNG_COLOR_TYPE_GRAY, 8, wide, 20000, NULL, 0, NULL, 0));
    free(wide);
    CHECK_ERR(dc_image_read(tmp_path("wide.png"), &r), DC_ERR_FORMAT);
    CHECK_MSG_HAS("absurd");
    CHECK_MSG_HAS("wide.png");
    dc_image big = test_image(1, 64, 64, 255);
    dc_rng rng;
    dc_rng_seed(&rng, 5);
    for (int i = 0; i < 64 * 64; i++) big.data[i] = dc_rng_uniform(&rng); /* incompressible */
    CHECK_OK(dc_image_write_png(tmp_path("big.png"), &big));
    dc_image_free(&big);
    FILE *f = fopen(tmp_path("big.png"), "rb");
    unsigned char buf[4096];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    CHECK(n > 200);
    write_bytes(tmp_path("trunc.png"), buf, n / 2);
    CHECK_ERR(dc_image_read(tmp_path("trunc.png"), &r), DC_ERR_FORMAT);
    CHECK_MSG_HAS("trunc.png");
    CHECK(r.data == NULL);
    CHECK_ERR(dc_image_write_png(tmp_path("two.png"), &(dc_image){2, 1, 1, a.data}), DC_ERR_ARG);
#else
    CHECK_ERR(dc_image_write_png(tmp_path("gray.png"), &a), DC_ERR_ARG);
    CHECK_MSG_HAS("libpng");
    check_bad("nolib.png", "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16, DC_ERR_FORMAT, "without libpng");
#endif
    dc_image_free(&a);
    dc_image_free(&b);
}

TEST(predict_resize_ramp) {
    /* Enlarging a horizontal ramp 0..1 over 4 pixels to 8: the half-pixel-centre bilinear values
     * (x + 0.5)/2 - 0.5 in source pixels, i.e. (x/2 - 0.25)/3, clamped at the edges. */
    dc_image a, b;
    CHECK_OK(dc_image_create(1, 3, 4, &a));
    for (int y = 0; y < 3; y++)
        for (int x = 0; x < 4; x++) a.data[y * 4 + x] = (float)x / 3.0f;
    CHECK_OK(dc_image_resize(&a, 3, 8, &b));
    if (b.data)
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 8; x++) {
                double sx = x / 2.0 - 0.25;
                sx = sx < 0 ? 0 : sx > 3 ? 3 : sx;
                CHECK_NEAR(b.data[y * 8 + x], sx / 3.0, 1e-6);
            }
    dc_image_free(&b);
    dc_image_free(&a);
    /* Shrinking a ramp by 2 in both axes: the (antialiased) filter is symmetric about each output
     * centre, so a linear ramp keeps its value at the centre away from the edges: f = x + 10 y. */
    CHECK_OK(dc_image_create(1, 16, 16, &a));
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 16; x++) a.data[y * 16 + x] = (float)x + 10.0f * (float)y;
    CHECK_OK(dc_image_resize(&a, 8, 8, &b));
    if (b.data)
        for (int y = 1; y < 7; y++)
            for (int x = 1; x < 7; x++) CHECK_NEAR(b.data[y * 8 + x], (2 * x + 0.5) + 10.0 * (2 * y + 0.5), 1e-4);
    dc_image_free(&b);
    /* Same size: unchanged.  A constant stays constant at any size (weights sum to 1). */
    CHECK_OK(dc_image_resize(&a, 16, 16, &b));
    CHECK(max_abs_diff(&a, &b) == 0.0f);
    dc_image_free(&b);
    for (int i = 0; i < 256; i++) a.data[i] = 0.25f;
    CHECK_OK(dc_image_resize(&a, 5, 37, &b));
    if (b.data)
        for (int i = 0; i < 5 * 37; i++) CHECK_NEAR(b.data[i], 0.25, 1e-6);
    dc_image_free(&b);
    dc_image_free(&a);
    /* Channels: RGB -> gray by BT.601 luma; gray -> RGB copies. */
    CHECK_OK(dc_image_create(3, 1, 2, &a));
    const float px[6] = {1, 0, 0, 1, 0, 1}; /* pixel 0 = (1, 0, 0), pixel 1 = (0, 1, 1) */
    memcpy(a.data, px, sizeof px);
    CHECK_OK(dc_image_convert(&a, 1, &b));
    if (b.data) {
        CHECK_NEAR(b.data[0], 0.299, 1e-6);
        CHECK_NEAR(b.data[1], 0.701, 1e-6);
    }
    dc_image c;
    CHECK_OK(dc_image_convert(&b, 3, &c));
    if (c.data)
        for (int k = 0; k < 3; k++) CHECK_NEAR(c.data[k * 2 + 1], 0.701, 1e-6);
    CHECK_ERR(dc_image_convert(&b, 2, &c), DC_ERR_ARG);
    dc_image_free(&c);
    dc_image_free(&b);
    dc_image_free(&a);
}

TEST(predict_topk) {
    /* A hand-built model: Linear 3 -> 6 with W = identity-ish, so the logits are known. */
    dc_graph *g;
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input(g, "images", dc_shape1(3));
    dc_node y = dc_linear(g, x, 6, "fc");
    CHECK_OK(dc_graph_status(g));
    CHECK_OK(dc_graph_plan(g, 1, NULL));
    const dc_param *p = dc_graph_params(g); /* fc.weight [3, 6], fc.bias [6] */
    const float wt[18] = {1, 0, 0, 0, 2, 0, /**/ 0, 1, 0, 0, 0, 0, /**/ 0, 0, 1, 0, 0, 0};
    const float bias[6] = {0, 0, 0, 0.5f, 0, -1};
    memcpy(p[0].data, wt, sizeof wt);
    memcpy(p[1].data, bias, sizeof bias);
    const float in[3] = {1.0f, 3.0f, 2.0f};
    memcpy(dc_graph_data(g, x), in, sizeof in);
    CHECK_OK(dc_graph_forward_to(g, y, 1, 0));
    const float *l = dc_graph_data(g, y); /* logits 1, 3, 2, 0.5, 2, -1 */
    int idx[6];
    float prob[6];
    CHECK(dc_topk(l, 6, 5, idx, prob) == 5);
    CHECK(idx[0] == 1 && idx[1] == 2 && idx[2] == 4 && idx[3] == 0 && idx[4] == 3); /* tie 2 vs 4: lower first */
    double z = exp(1) + exp(3) + exp(2) + exp(0.5) + exp(2) + exp(-1);
    CHECK_NEAR(prob[0], exp(3) / z, 1e-6);
    for (int r = 1; r < 5; r++) CHECK(prob[r] <= prob[r - 1]);
    CHECK(dc_topk(l, 6, 100, idx, prob) == 6);
    double sum = 0;
    for (int r = 0; r < 6; r++) sum += prob[r];
    CHECK_NEAR(sum, 1.0, 1e-6);
    /* Huge logits stay finite. */
    const float big[3] = {1000.0f, 999.0f, -1000.0f};
    CHECK(dc_topk(big, 3, 3, idx, prob) == 3);
    CHECK(idx[0] == 0 && isfinite(prob[0]) && isfinite(prob[2]));
    CHECK_NEAR(prob[0], 1.0 / (1.0 + exp(-1.0)), 1e-6);
    dc_graph_free(g);
}

/* ------------------------------------------------------------------ dense evaluation */

/* A zoo model on [1, 28, 28] inputs, planned for `batch`, with seeded He-uniform weights (cheaper
 * to draw than the planner's normals for vgg16's 15M) and non-trivial biases and BatchNorm
 * statistics, so that a wrong copy cannot pass by accident. */
static dc_graph *zoo_graph(const char *name, int batch, dc_node *x, dc_node *logits) {
    dc_graph *g = NULL;
    if (dc_graph_create(&g) != DC_OK) return NULL;
    *x = dc_input(g, "images", dc_shape3(1, 28, 28));
    if (dc_model_build(g, name, *x, 10, logits) != DC_OK ||
        dc_graph_plan(g, batch, &(dc_graph_opts){.init = DC_INIT_CONST}) != DC_OK) {
        dc_test_fail(__FILE__, __LINE__, "%s: %s", name, dc_last_error());
        dc_graph_free(g);
        return NULL;
    }
    dc_rng r;
    dc_rng_seed(&r, 42);
    const dc_param *p = dc_graph_params(g);
    for (int i = 0; i < dc_graph_param_count(g); i++) {
        const char *dot = strrchr(p[i].name, '.');
        if (!dot) continue;
        const int bn = p[i].shape.rank == 1 && strncmp(p[i].name, "bn", 2) == 0;
        const int64_t fan_in = p[i].shape.rank == 2 ? p[i].shape.dim[0] : p[i].numel / p[i].shape.dim[0];
        const float a = p[i].shape.rank >= 2 ? sqrtf(6.0f / (float)fan_in) : 0.0f;
        for (int64_t k = 0; k < p[i].numel; k++) {
            if (p[i].shape.rank >= 2) p[i].data[k] = a * (2.0f * dc_rng_uniform(&r) - 1.0f);
            else if (!strcmp(dot, ".running_var")) p[i].data[k] = 0.5f + dc_rng_uniform(&r);
            else if (!strcmp(dot, ".running_mean") || !strcmp(dot, ".bias")) p[i].data[k] = 0.1f * dc_rng_normal(&r);
            else if (bn && !strcmp(dot, ".weight")) p[i].data[k] = 1.0f + 0.2f * dc_rng_normal(&r);
        }
    }
    return g;
}

/* Two different 28x28 images: test images 0 and 1 when the data is there, else seeded noise blobs. */
static void two_images(float *a, float *b) {
    dc_dataset *ds = NULL;
    if (dc_mnist_load(dc_test_data_dir(), "test", 0.2860f, 0.3530f, 2, &ds) == DC_OK && ds->n == 2) {
        memcpy(a, ds->images, 784 * sizeof(float));
        memcpy(b, ds->images + 784, 784 * sizeof(float));
    } else {
        dc_rng r;
        dc_rng_seed(&r, 3);
        for (int i = 0; i < 784; i++) {
            int y = i / 28, x = i % 28;
            a[i] = (x > 6 && x < 20 && y > 3 && y < 25) ? 2.0f : -0.8f;
            b[i] = (y > 10 && y < 18) ? 2.0f + 0.1f * dc_rng_normal(&r) : -0.8f;
        }
    }
    dc_dataset_free(ds);
    dc_error_clear();
}

/* max |a - b| / max |b| over n values. */
static double rel_diff(const float *a, const float *b, int64_t n, int64_t stride_a) {
    double m = 0.0, d = 0.0;
    for (int64_t i = 0; i < n; i++) {
        m = fmax(m, fabs(b[i]));
        d = fmax(d, fabs((double)a[i * stride_a] - b[i]));
    }
    return d / fmax(m, 1e-6);
}

/* The dense graph at the trained size gives the trained graph's logits; then a wider canvas. */
static void check_dense(const char *model, int canvas_w, int want_map_w, int want_stride, int right_col) {
    dc_node x, logits;
    dc_graph *g = zoo_graph(model, 2, &x, &logits);
    if (!g) return;
    float *left = malloc(784 * sizeof(float)), *right = malloc(784 * sizeof(float));
    float *canvas = malloc((size_t)28 * canvas_w * sizeof(float));
    two_images(left, right);
    memcpy(dc_graph_data(g, x), left, 784 * sizeof(float));
    memcpy(dc_graph_data(g, x) + 784, right, 784 * sizeof(float));
    CHECK_OK(dc_graph_forward_to(g, logits, 2, 0));
    const float *lg = dc_graph_data(g, logits); /* [2, 10] */
    CHECK_MSG(rel_diff(lg, lg + 10, 10, 1) > 1e-3, "%s: the two images give the same logits", model);

    dc_dense_graph d;
    CHECK_OK(dc_convolutionalize(g, logits, 28, 28, 1, NULL, &d));
    if (d.g) {
        CHECK(d.classes == 10 && d.map_h == 1 && d.map_w == 1);
        memcpy(dc_graph_data(d.g, d.input), left, 784 * sizeof(float));
        CHECK_OK(dc_graph_forward_to(d.g, d.scores, 1, 0));
        double r = rel_diff(dc_graph_data(d.g, d.scores), lg, 10, 1);
        CHECK_MSG(r <= 1e-4, "%s at 28x28: dense scores differ from the logits by %.3g (relative)", model, r);
    }
    dc_dense_graph_free(&d);

    /* Canvas: left image in columns 0..27, right image in the last 28 columns, zeros between. */
    for (int y = 0; y < 28; y++)
        for (int c = 0; c < canvas_w; c++)
            canvas[y * canvas_w + c] = c < 28 ? left[y * 28 + c]
                                       : c >= canvas_w - 28 ? right[y * 28 + c - (canvas_w - 28)] : -0.8f;
    CHECK_OK(dc_convolutionalize(g, logits, 28, canvas_w, 1, NULL, &d));
    if (d.g) {
        CHECK_MSG(d.map_h == 1 && d.map_w == want_map_w, "%s: map %dx%d, want 1x%d", model, d.map_h, d.map_w,
                  want_map_w);
        CHECK_MSG(d.stride_h == want_stride && d.stride_w == want_stride, "%s: stride %dx%d, want %d", model,
                  d.stride_h, d.stride_w, want_stride);
        memcpy(dc_graph_data(d.g, d.input), canvas, (size_t)28 * canvas_w * sizeof(float));
        CHECK_OK(dc_graph_forward_to(d.g, d.scores, 1, 0));
        const float *map = dc_graph_data(d.g, d.scores); /* [10, 1, map_w] */
        if (right_col >= 0 && d.map_w == want_map_w) {
            double r0 = rel_diff(map, lg, 10, d.map_w), r1 = rel_diff(map + right_col, lg + 10, 10, d.map_w);
            CHECK_MSG(r0 <= 1e-4, "%s: map column 0 vs left image logits: %.3g", model, r0);
            CHECK_MSG(r1 <= 1e-4, "%s: map column %d vs right image logits: %.3g", model, right_col, r1);
        }
    }
    dc_dense_graph_free(&d);
    free(left);
    free(right);
    free(canvas);
    dc_graph_free(g);
}

TEST(predict_dense_lenet5) {
    /* No padding: 28x56 -> conv 24x52 -> pool 12x26 -> conv 8x22 -> pool 4x11 -> fc1 as a 4x4
     * conv: 1x8, stride 4, so column 0 sees exactly columns 0..27 and column 7 exactly 28..55. */
    check_dense("lenet5", 56, 8, 4, 7);
}

TEST(predict_dense_mlp) {
    /* The first Linear becomes a 28x28 convolution on the image itself: stride 1, every column of a
     * 28x60 canvas is one 28x28 crop, the last (32) is the right image. */
    check_dense("mlp", 60, 33, 1, 32);
}

TEST(predict_dense_vgg16) {
    /* Zero padding everywhere: only the trained-size equivalence is exact; a 60x60 input (the padded
     * conv1 -> 64x64, pools -> 32, 16, 8, 4, 2) gives a 2x2 map with stride 32. */
    dc_node x, logits;
    dc_graph *g = zoo_graph("vgg16", 1, &x, &logits);
    if (!g) return;
    float *left = malloc(784 * sizeof(float)), *right = malloc(784 * sizeof(float));
    two_images(left, right);
    memcpy(dc_graph_data(g, x), left, 784 * sizeof(float));
    CHECK_OK(dc_graph_forward_to(g, logits, 1, 0));
    const float *lg = dc_graph_data(g, logits);
    dc_dense_graph d;
    CHECK_OK(dc_convolutionalize(g, logits, 28, 28, 1, NULL, &d));
    if (d.g) {
        memcpy(dc_graph_data(d.g, d.input), left, 784 * sizeof(float));
        CHECK_OK(dc_graph_forward_to(d.g, d.scores, 1, 0));
        double r = rel_diff(dc_graph_data(d.g, d.scores), lg, 10, 1);
        CHECK_MSG(r <= 1e-4, "vgg16 at 28x28: dense scores differ from the logits by %.3g (relative)", r);
        /* fc1 became a 1x1 convolution over the [512, 1, 1] features, fc2/fc3 1x1 as well; no dropout. */
        dc_node fc1 = dc_graph_find(d.g, "fc1");
        CHECK(fc1 >= 0 && strcmp(dc_node_op_name(d.g, fc1), dc_node_op_name(g, dc_graph_find(g, "conv1"))) == 0);
        for (int i = 0; i < dc_graph_node_count(d.g); i++) CHECK(strcmp(dc_node_op_name(d.g, i), "dropout") != 0);
    }
    dc_dense_graph_free(&d);
    CHECK_OK(dc_convolutionalize(g, logits, 60, 60, 0, NULL, &d)); /* shapes only: no 15M-parameter copy */
    CHECK(d.map_h == 2 && d.map_w == 2 && d.stride_h == 32 && d.stride_w == 32 && d.classes == 10);
    dc_dense_graph_free(&d);
    free(left);
    free(right);
    dc_graph_free(g);
}

TEST(predict_dense_errors) {
    dc_node x, logits;
    dc_graph *g = zoo_graph("lenet5", 1, &x, &logits);
    if (!g) return;
    dc_dense_graph d;
    CHECK_ERR(dc_convolutionalize(g, logits, 27, 40, 1, NULL, &d), DC_ERR_ARG);
    CHECK_MSG_HAS("smaller");
    CHECK(d.g == NULL);
    CHECK_ERR(dc_convolutionalize(g, 9999, 28, 28, 1, NULL, &d), DC_ERR_ARG);
    CHECK_ERR(dc_convolutionalize(NULL, logits, 28, 28, 1, NULL, &d), DC_ERR_ARG);
    /* The feature map itself is not a classifier output. */
    CHECK_ERR(dc_convolutionalize(g, dc_graph_find(g, "conv2"), 28, 28, 1, NULL, &d), DC_ERR_ARG);
    CHECK_MSG_HAS("Linear classifier");
    dc_graph_free(g);

    /* Softmax on the path; a graph that was never planned. */
    CHECK_OK(dc_graph_create(&g));
    x = dc_input(g, "images", dc_shape3(1, 8, 8));
    dc_node sm = dc_softmax(g, dc_linear(g, dc_flatten(g, x), 3, "fc"));
    CHECK_ERR(dc_convolutionalize(g, sm, 8, 8, 1, NULL, &d), DC_ERR_STATE);
    CHECK_OK(dc_graph_plan(g, 1, NULL));
    CHECK_ERR(dc_convolutionalize(g, sm, 8, 8, 1, NULL, &d), DC_ERR_ARG);
    CHECK_MSG_HAS("softmax");
    CHECK_MSG_HAS("pass the logits");
    dc_graph_free(g);

    /* BatchNorm on the flattened features has no convolutional form; a vector input is no image. */
    CHECK_OK(dc_graph_create(&g));
    x = dc_input(g, "images", dc_shape3(2, 4, 4));
    dc_node y = dc_linear(g, dc_batchnorm(g, dc_flatten(g, x), "bnf"), 3, "fc");
    dc_node v = dc_input(g, "vec", dc_shape1(5));
    dc_node z = dc_linear(g, v, 3, "fcv");
    CHECK_OK(dc_graph_plan(g, 1, NULL));
    CHECK_ERR(dc_convolutionalize(g, y, 8, 8, 1, NULL, &d), DC_ERR_ARG);
    CHECK_MSG_HAS("bnf");
    CHECK_ERR(dc_convolutionalize(g, z, 8, 8, 1, NULL, &d), DC_ERR_ARG);
    CHECK_MSG_HAS("vec");
    dc_graph_free(g);
}
