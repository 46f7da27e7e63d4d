/* test_viz.c — tests of the plotting library (src/viz): the numbers behind the pictures.
 * Tick choice (1/2/5 x 10^k, counts, ranges), marching squares (a circle's contour lies on the
 * circle and has its length; straight contours of planes; saddles), the built-in font, PNG round
 * trips through both encoders and the image reader (size, white background, where a line's
 * pixels are and what colour), SVG polylines carrying every finite point, heat-map colours
 * monotone in value and equal in PNG and SVG, image panels, run-log CSV parsing and its errors,
 * the moving average, and argument errors.
 * Not tested here: the look of a figure (see tests/report_browser.sh for a real browser). */
#include "test.h"

#include "io/image.h"
#include "viz/inspect.h"
#include "viz/plot.h"
#include "viz/runlog.h"
#include "viz/scene.h"

#include <stdlib.h>
#include <string.h>

static const char *tmp_path(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dc_test_tmp_dir(), name);
    return buf[k];
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

#define CHECK_MSG_HAS(what)                                                                                   \
    CHECK_MSG(strstr(dc_last_error(), what) != NULL, "message '%s' lacks '%s'", dc_last_error(), what)

/* ------------------------------------------------------------------ ticks */
TEST(viz_ticks_known_ranges) {
    double t[32], step;
    int n = dc_plot_ticks(0.0, 1.0, 6, t, 32, &step);
    CHECK(n == 6);
    CHECK_NEAR(step, 0.2, 1e-12);
    for (int i = 0; i < n; i++) CHECK_NEAR(t[i], 0.2 * i, 1e-12);
    n = dc_plot_ticks(0.0, 10.0, 6, t, 32, &step);
    CHECK(n == 6 && step == 2.0 && t[0] == 0.0 && t[5] == 10.0);
    n = dc_plot_ticks(0.31, 0.97, 5, t, 32, &step); /* 0.1 would give 7 ticks: 0.2 */
    CHECK_NEAR(step, 0.2, 1e-12);
    CHECK(n == 3);
    CHECK_NEAR(t[0], 0.4, 1e-12);
    CHECK_NEAR(t[2], 0.8, 1e-12);
    n = dc_plot_ticks(-3.7, 12.2, 8, t, 32, &step);
    CHECK(step == 2.0 && n == 8 && t[0] == -2.0 && t[7] == 12.0);
    n = dc_plot_ticks(1e-5, 5e-5, 5, t, 32, &step);
    CHECK(n == 5);
    CHECK_NEAR(step, 1e-5, 1e-18);
    n = dc_plot_ticks(0.0, 1000.0, 3, t, 32, &step); /* 500: 0, 500, 1000 */
    CHECK(n == 3 && step == 500.0);
    n = dc_plot_ticks(-1.0, 1.0, 5, t, 32, &step);
    CHECK(n == 5 && step == 0.5 && t[2] == 0.0); /* an exact zero, not -1e-17 */
    /* bad ranges: no ticks */
    CHECK(dc_plot_ticks(1.0, 1.0, 5, t, 32, NULL) == 0);
    CHECK(dc_plot_ticks(2.0, 1.0, 5, t, 32, NULL) == 0);
    CHECK(dc_plot_ticks(NAN, 1.0, 5, t, 32, NULL) == 0);
    CHECK(dc_plot_ticks(0.0, INFINITY, 5, t, 32, NULL) == 0);
    CHECK(dc_plot_ticks(0.0, 1.0, 1, t, 32, NULL) == 0);
    /* cap respected */
    CHECK(dc_plot_ticks(0.0, 1.0, 6, t, 3, NULL) == 3);
}

TEST(viz_ticks_sweep) {
    /* For many ranges: step is 1, 2 or 5 x 10^k, ticks are its multiples, inside the range, at most
     * max_ticks, and at least one; the range drawn for the data holds it, is at most 3 times as wide,
     * and shows at least 2 ticks. */
    dc_rng r;
    dc_rng_seed(&r, 7);
    for (int it = 0; it < 2000; it++) {
        double lo = (dc_rng_uniform(&r) - 0.5) * pow(10.0, (int)(dc_rng_below(&r, 12)) - 6);
        double hi = lo + dc_rng_uniform(&r) * pow(10.0, (int)(dc_rng_below(&r, 12)) - 6) + 1e-9;
        int maxt = 2 + (int)dc_rng_below(&r, 10);
        double t[64], step;
        int n = dc_plot_ticks(lo, hi, maxt, t, 64, &step);
        double m = step / pow(10.0, floor(log10(step) + 1e-12));
        CHECK_MSG(fabs(m - 1) < 1e-9 || fabs(m - 2) < 1e-9 || fabs(m - 5) < 1e-9, "step %g for [%g, %g]", step, lo, hi);
        CHECK_MSG(n >= 1 && n <= maxt, "%d ticks (max %d) for [%g, %g], step %g", n, maxt, lo, hi, step);
        for (int i = 0; i < n; i++) {
            CHECK(t[i] >= lo - step * 1e-9 && t[i] <= hi + step * 1e-9);
            double k = t[i] / step;
            CHECK_MSG(fabs(k - round(k)) < 1e-6 + 1e-9 * fabs(k), "tick %g is not a multiple of %g", t[i], step);
        }
        if (n < 1 || n > maxt) break;
        /* the drawn range holds the data and begins and ends on ticks */
        double a, b;
        dc_plot_nice_range(lo, hi, 0, &a, &b);
        n = dc_plot_ticks(a, b, 6, t, 64, &step);
        double span = hi - lo > 1e-9 * fmax(fabs(lo), fabs(hi)) ? hi - lo : 0.2 * fmax(fabs(lo), 1.0);
        CHECK_MSG(a <= lo + 1e-6 * (b - a) && b >= hi - 1e-6 * (b - a) && n >= 2 && b - a <= 3.0 * span * (1 + 1e-9),
                  "range [%g, %g] for data [%g, %g]: %d ticks %g..%g", a, b, lo, hi, n, t[0], t[n > 0 ? n - 1 : 0]);
    }
}

TEST(viz_nice_range) {
    double a, b;
    dc_plot_nice_range(0.12, 0.93, 0, &a, &b);
    CHECK_NEAR(a, 0.0, 1e-12);
    CHECK_NEAR(b, 1.0, 1e-12);
    dc_plot_nice_range(1.0, 10.0, 0, &a, &b);
    CHECK(a == 0.0 && b == 10.0);
    dc_plot_nice_range(0.3, 2.3, 1, &a, &b); /* log: 1/2/5 x 10^k around the data */
    CHECK_NEAR(a, 0.2, 1e-12);
    CHECK_NEAR(b, 5.0, 1e-12);
    dc_plot_nice_range(3.0, 3.0, 0, &a, &b); /* a constant widens around its value */
    CHECK(a < 3.0 && b > 3.0);
    dc_plot_nice_range(NAN, NAN, 0, &a, &b);
    CHECK(a == 0.0 && b == 1.0);
}

/* ------------------------------------------------------------------ marching squares */
TEST(viz_contour_circle) {
    enum { N = 81 };
    float *z = malloc(sizeof(float) * N * N);
    for (int j = 0; j < N; j++)
        for (int i = 0; i < N; i++) {
            float x = -2.0f + 4.0f * (float)i / (N - 1), y = -2.0f + 4.0f * (float)j / (N - 1);
            z[j * N + i] = x * x + y * y;
        }
    const float radius[3] = {0.5f, 1.0f, 1.7f};
    for (int k = 0; k < 3; k++) {
        float *s;
        int n;
        CHECK_OK(dc_contour_segments(z, N, N, -2, 2, -2, 2, radius[k] * radius[k], &s, &n));
        CHECK(n > 20);
        double len = 0, maxerr = 0, cx = 0, cy = 0;
        for (int i = 0; i < n; i++) {
            const float *q = s + 4 * i;
            for (int e = 0; e < 2; e++) {
                double rr = sqrt((double)q[2 * e] * q[2 * e] + (double)q[2 * e + 1] * q[2 * e + 1]);
                maxerr = fmax(maxerr, fabs(rr - radius[k]));
                cx += q[2 * e];
                cy += q[2 * e + 1];
            }
            len += hypot(q[2] - q[0], q[3] - q[1]);
        }
        CHECK_MSG(maxerr < 0.01, "radius %g: points off the circle by %g", (double)radius[k], maxerr);
        CHECK_NEAR(len, 2 * M_PI * radius[k], 0.01 * 2 * M_PI * radius[k]);
        CHECK_NEAR(cx / (2 * n), 0.0, 1e-3); /* centred */
        CHECK_NEAR(cy / (2 * n), 0.0, 1e-3);
        free(s);
    }
    /* a level outside the data: nothing */
    float *s;
    int n;
    CHECK_OK(dc_contour_segments(z, N, N, -2, 2, -2, 2, 100.0f, &s, &n));
    CHECK(n == 0 && s == NULL);
    free(z);
}

TEST(viz_contour_orientation_and_saddle) {
    /* z = y on a 3x5 grid over x in [0, 1], y in [10, 14]: row 0 is y0, so z = 12.5 is the line y = 12.5 */
    float z[5 * 3];
    for (int j = 0; j < 5; j++)
        for (int i = 0; i < 3; i++) z[j * 3 + i] = 10.0f + (float)j;
    float *s;
    int n;
    CHECK_OK(dc_contour_segments(z, 3, 5, 0, 1, 10, 14, 12.5f, &s, &n));
    CHECK(n == 2);
    double xmin = 1e9, xmax = -1e9;
    for (int i = 0; i < 2 * n; i++) {
        CHECK_NEAR(s[2 * i + 1], 12.5, 1e-6);
        xmin = fmin(xmin, s[2 * i]);
        xmax = fmax(xmax, s[2 * i]);
    }
    CHECK_NEAR(xmin, 0.0, 1e-6);
    CHECK_NEAR(xmax, 1.0, 1e-6);
    free(s);
    /* saddle: high corners on one diagonal; two segments, each cutting off a corner or joining
     * through the middle, depending on the mean */
    float sad[4] = {1, 0, 0, 1}; /* a=1 (0,0), b=0 (1,0), d=0 (0,1), c=1 (1,1) */
    CHECK_OK(dc_contour_segments(sad, 2, 2, 0, 1, 0, 1, 0.4f, &s, &n)); /* mean 0.5 >= 0.4: centre high */
    CHECK(n == 2);
    for (int i = 0; i < n; i++) { /* each segment separates a low corner (b or d): they stay near it */
        const float *q = s + 4 * i;
        int near_b = q[0] > 0.5f && q[3] < 0.5f + 1e-6f, near_d = q[1] > 0.5f || q[3] > 0.5f;
        CHECK(near_b || near_d);
    }
    free(s);
    CHECK_OK(dc_contour_segments(sad, 2, 2, 0, 1, 0, 1, 0.6f, &s, &n)); /* centre low: cut off a and c */
    CHECK(n == 2);
    free(s);
    /* errors */
    CHECK_ERR(dc_contour_segments(z, 1, 5, 0, 1, 0, 1, 0.5f, &s, &n), DC_ERR_ARG);
    CHECK_ERR(dc_contour_segments(z, 3, 5, 0, 0, 0, 1, 0.5f, &s, &n), DC_ERR_ARG);
    CHECK_ERR(dc_contour_segments(z, 3, 5, 0, 1, 0, 1, NAN, &s, &n), DC_ERR_ARG);
}

/* ------------------------------------------------------------------ font */
TEST(viz_font_glyphs) {
    uint8_t rows[9];
    dc_font_glyph(' ', rows);
    for (int r = 0; r < 9; r++) CHECK(rows[r] == 0);
    for (int c = 33; c < 127; c++) {
        dc_font_glyph(c, rows);
        int ink = 0, over = 0;
        for (int r = 0; r < 9; r++) {
            ink += rows[r] != 0;
            over |= rows[r] >> 5;
        }
        CHECK_MSG(ink > 0 && !over, "glyph '%c': %d inked rows, bits beyond 5 columns %d", c, ink, over);
    }
    uint8_t a[9], b[9];
    dc_font_glyph('O', a);
    dc_font_glyph('0', b);
    CHECK(memcmp(a, b, 9) != 0); /* O and zero differ */
    dc_font_glyph(200, a);
    dc_font_glyph('?', b);
    CHECK(memcmp(a, b, 9) == 0);
    dc_font_glyph('g', a); /* descender */
    CHECK(a[7] || a[8]);
    CHECK_NEAR(dc_font_width("abc", 2.0f), (3 * 6 - 1) * 2.0, 1e-6);
    CHECK(dc_font_width("", 2.0f) == 0.0f);
}

/* ------------------------------------------------------------------ PNG */
static dc_figure *hline_figure(int vertical) {
    dc_figure *f = dc_figure_new(1, 1, 320, 240, NULL);
    dc_plot *p = dc_figure_panel(f, 0, 0);
    float x[2] = {0.0f, 1.0f}, y[2] = {0.5f, 0.5f};
    dc_plot_xrange(p, 0.0f, 1.0f);
    dc_plot_yrange(p, 0.0f, 1.0f);
    if (vertical) dc_plot_line(p, y, x, 2, NULL);
    else dc_plot_line(p, x, y, 2, NULL);
    return f;
}

static int near_color(const unsigned char *px, uint32_t c, int tol) {
    return abs(px[0] - (int)(c >> 16 & 255)) <= tol && abs(px[1] - (int)(c >> 8 & 255)) <= tol &&
           abs(px[2] - (int)(c & 255)) <= tol;
}

TEST(viz_png_round_trip) {
    if (!dc_plot_png_supported() || !dc_image_png_supported()) {
        printf("    (skipped: this build has no PNG support)\n");
        return;
    }
    for (int vertical = 0; vertical < 2; vertical++) {
        dc_figure *f = hline_figure(vertical);
        CHECK(f != NULL);
        if (!f) return;
        const char *path = tmp_path(vertical ? "vline.png" : "hline.png");
        CHECK_OK(dc_figure_save(f, path));
        unsigned char *rgb;
        int w, h;
        CHECK_OK(dc_figure_render_rgb(f, &rgb, &w, &h));
        dc_image im;
        CHECK_OK(dc_image_read(path, &im));
        CHECK(im.c == 3 && im.w == 320 && im.h == 240 && w == 320 && h == 240);
        if (im.c != 3 || im.w != w || im.h != h) {
            dc_image_free(&im);
            free(rgb);
            dc_figure_free(f);
            return;
        }
        const int64_t plane = (int64_t)w * h;
        /* the file holds exactly the rendered pixels */
        int diff = 0;
        for (int64_t i = 0; i < plane; i++)
            for (int c = 0; c < 3; c++) diff += lroundf(im.data[c * plane + i] * 255.0f) != rgb[i * 3 + c];
        CHECK(diff == 0);
        /* background white at the corners */
        CHECK(near_color(rgb, 0xffffff, 0) && near_color(rgb + (plane - 1) * 3, 0xffffff, 0));
        /* the line: pixels of the first palette colour, in one row (column) spanning most of the plot */
        const uint32_t col = dc_plot_palette(0);
        int count = 0, lo = 1 << 30, hi = -1, along_lo = 1 << 30, along_hi = -1;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                if (near_color(rgb + ((size_t)y * w + x) * 3, col, 2)) {
                    count++;
                    int across = vertical ? x : y, along = vertical ? y : x;
                    lo = across < lo ? across : lo;
                    hi = across > hi ? across : hi;
                    along_lo = along < along_lo ? along : along_lo;
                    along_hi = along > along_hi ? along : along_hi;
                }
        CHECK_MSG(count > (vertical ? 150 : 200), "%d line pixels", count);
        CHECK_MSG(hi - lo <= 2, "line pixels spread over %d..%d", lo, hi);
        CHECK_MSG(along_hi - along_lo > (vertical ? 150 : 220), "line spans %d..%d", along_lo, along_hi);
        /* y = 0.5 of [0, 1]: the line sits in the middle between the top and bottom grid lines of the
         * plot area; the frame is the dark grey around it */
        int mid = (lo + hi) / 2, frame_lo = -1, frame_hi = -1;
        for (int a = 0; a < (vertical ? w : h); a++) { /* rows (columns) mostly of the frame's grey */
            int run = 0;
            for (int b = 0; b < (vertical ? h : w); b++)
                run += near_color(rgb + (vertical ? ((size_t)b * w + a) : ((size_t)a * w + b)) * 3, 0x555555, 0);
            if (run > (vertical ? h : w) / 2) {
                if (frame_lo < 0) frame_lo = a;
                frame_hi = a;
            }
        }
        CHECK_MSG(frame_lo >= 0 && frame_hi - frame_lo > 100 && abs(mid - (frame_lo + frame_hi) / 2) <= 1,
                  "line at %d, frame %d..%d", mid, frame_lo, frame_hi);
        dc_image_free(&im);
        free(rgb);
        dc_figure_free(f);
    }
}

TEST(viz_png_encoders_agree) {
    /* libpng and the own zlib chunk writer: both decode to the same pixels */
    unsigned char rgb[7 * 5 * 3];
    for (int i = 0; i < (int)sizeof rgb; i++) rgb[i] = (unsigned char)(i * 37 + 11);
    for (int lib = 0; lib < 2; lib++) {
        unsigned char *png;
        size_t n;
        dc_status s = dc_png_encode(rgb, 7, 5, lib, &png, &n);
        if (s != DC_OK) {
            printf("    (encoder %s not in this build: %s)\n", lib ? "libpng" : "zlib", dc_last_error());
            continue;
        }
        CHECK(n > 8 && memcmp(png, "\x89PNG\r\n\x1a\n", 8) == 0);
        const char *path = tmp_path(lib ? "enc_libpng.png" : "enc_zlib.png");
        FILE *f = fopen(path, "wb");
        fwrite(png, 1, n, f);
        fclose(f);
        free(png);
        if (!dc_image_png_supported()) continue;
        dc_image im;
        CHECK_OK(dc_image_read(path, &im));
        CHECK(im.c == 3 && im.w == 7 && im.h == 5);
        int diff = 0;
        for (int i = 0; i < 35 && im.c == 3; i++)
            for (int c = 0; c < 3; c++) diff += lroundf(im.data[c * 35 + i] * 255.0f) != rgb[i * 3 + c];
        CHECK_MSG(diff == 0, "%s: %d samples differ", lib ? "libpng" : "zlib", diff);
        dc_image_free(&im);
    }
}

TEST(viz_image_panel_pixels) {
    if (!dc_plot_png_supported()) return;
    /* a 2x2 grey image (black, white / white, black) scaled up by whole pixels */
    float px[4] = {0.0f, 1.0f, 1.0f, 0.0f};
    dc_figure *f = dc_figure_new(1, 1, 106, 106, NULL);
    dc_plot *p = dc_figure_panel(f, 0, 0);
    CHECK_OK(dc_plot_image(p, px, 1, 2, 2, 0.0f, 1.0f));
    unsigned char *rgb;
    int w, h;
    CHECK_OK(dc_figure_render_rgb(f, &rgb, &w, &h));
    /* 100x100 area: scale 50, the image fills [3, 103) */
    CHECK(near_color(rgb + ((size_t)20 * w + 20) * 3, 0x000000, 0));
    CHECK(near_color(rgb + ((size_t)20 * w + 80) * 3, 0xffffff, 0));
    CHECK(near_color(rgb + ((size_t)80 * w + 20) * 3, 0xffffff, 0));
    CHECK(near_color(rgb + ((size_t)80 * w + 80) * 3, 0x000000, 0));
    int black = 0;
    for (int i = 0; i < w * h; i++) black += near_color(rgb + (size_t)i * 3, 0x000000, 0);
    CHECK_MSG(black == 2 * 50 * 50, "%d black pixels, want 5000", black);
    free(rgb);
    /* lo == hi: the image's own range; RGB */
    float col[3 * 1 * 2] = {5, 7, 5, 5, 5, 5}; /* R = (5, 7), G = 5, B = 5 -> min 5, max 7 */
    CHECK_OK(dc_plot_image(p, col, 3, 1, 2, 0.0f, 0.0f));
    CHECK_OK(dc_figure_render_rgb(f, &rgb, &w, &h));
    CHECK(near_color(rgb + ((size_t)53 * w + 80) * 3, 0xff0000, 0));
    CHECK(near_color(rgb + ((size_t)53 * w + 20) * 3, 0x000000, 0));
    free(rgb);
    dc_figure_free(f);
}

/* ------------------------------------------------------------------ SVG */
/* Point counts of the polylines drawn in `color` (hex "#rrggbb"), in order. */
static int polyline_counts(const char *svg, const char *color, int *counts, int max) {
    int n = 0;
    char key[64];
    snprintf(key, sizeof key, "<polyline fill=\"none\" stroke=\"%s\"", color);
    for (const char *p = strstr(svg, key); p && n < max; p = strstr(p + 1, key)) {
        const char *pts = strstr(p, "points=\""), *end = pts ? strchr(pts + 8, '"') : NULL;
        if (!end) break;
        int k = 1;
        for (const char *q = pts + 8; q < end; q++) k += *q == ' ';
        counts[n++] = k;
    }
    return n;
}

TEST(viz_svg_polyline_points) {
    float x[37], y[37];
    for (int i = 0; i < 37; i++) {
        x[i] = (float)i;
        y[i] = sinf((float)i * 0.3f);
    }
    dc_figure *f = dc_figure_new(1, 1, 400, 300, "sine");
    dc_plot *p = dc_figure_panel(f, 0, 0);
    dc_plot_labels(p, "a <sine> & co", "x", "y");
    CHECK_OK(dc_plot_line(p, x, y, 37, "sin"));
    y[10] = NAN; /* breaks the second line into 10 + 26 points */
    CHECK_OK(dc_plot_line(p, x, y, 37, "broken"));
    unsigned char *bytes;
    size_t n;
    CHECK_OK(dc_figure_encode(f, "svg", &bytes, &n));
    const char *svg = (const char *)bytes;
    CHECK(n == strlen(svg));
    CHECK(strncmp(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"400\" height=\"", 59) == 0);
    int counts[8];
    char c0[16], c1[16];
    snprintf(c0, sizeof c0, "#%06x", (unsigned)dc_plot_palette(0));
    snprintf(c1, sizeof c1, "#%06x", (unsigned)dc_plot_palette(1));
    int k = polyline_counts(svg, c0, counts, 8);
    CHECK(k == 2); /* the series and its legend sample */
    CHECK(counts[0] == 37 && counts[1] == 2);
    k = polyline_counts(svg, c1, counts, 8);
    CHECK(k == 3 && counts[0] == 10 && counts[1] == 26 && counts[2] == 2);
    CHECK(strstr(svg, "a &lt;sine&gt; &amp; co") != NULL); /* escaped title */
    CHECK(strstr(svg, ">sin</text>") && strstr(svg, ">broken</text>"));
    CHECK(strstr(svg, "</svg>\n") == svg + n - 7);
    /* the saved file is the same text */
    const char *path = tmp_path("sine.svg");
    CHECK_OK(dc_figure_save(f, path));
    FILE *fp = fopen(path, "rb");
    char *back = calloc(n + 1, 1);
    CHECK(fp && fread(back, 1, n + 1, fp) == n && memcmp(back, svg, n) == 0);
    if (fp) fclose(fp);
    free(back);
    free(bytes);
    dc_figure_free(f);
}

/* ------------------------------------------------------------------ heat map */
static float lum(uint32_t c) {
    return 0.299f * (float)(c >> 16 & 255) + 0.587f * (float)(c >> 8 & 255) + 0.114f * (float)(c & 255);
}

TEST(viz_colormap_monotone) {
    float prev = 1e9f;
    for (int i = 0; i <= 100; i++) {
        float l = lum(dc_plot_colormap((float)i / 100.0f));
        CHECK_MSG(l < prev, "luminance %g at t %g not below %g", (double)l, i / 100.0, (double)prev);
        prev = l;
    }
    CHECK(dc_plot_colormap(-1.0f) == dc_plot_colormap(0.0f));
    CHECK(dc_plot_colormap(NAN) == dc_plot_colormap(0.0f));
    CHECK(dc_plot_colormap(2.0f) == dc_plot_colormap(1.0f));
    CHECK(dc_plot_palette(0) != dc_plot_palette(1) && dc_plot_palette(10) == dc_plot_palette(0));
}

TEST(viz_heatmap_cells) {
    /* 2 x 3 cells with values in scrambled order; the cells' colours (read from the SVG, row-major
     * before anything else crisp) get darker with the value, and the PNG has the same colour at
     * each cell's centre */
    const float v[6] = {3, 0, 5, 1, 4, 2};
    const char *rl[2] = {"r0", "r1"}, *cl[3] = {"a", "b", "c"};
    dc_figure *f = dc_figure_new(1, 1, 360, 240, NULL);
    dc_plot *p = dc_figure_panel(f, 0, 0);
    CHECK_OK(dc_plot_heatmap(p, v, 2, 3, rl, cl, 1));
    unsigned char *bytes;
    size_t n;
    CHECK_OK(dc_figure_encode(f, "svg", &bytes, &n));
    const char *svg = (const char *)bytes;
    float cx[6], cy[6];
    uint32_t fill[6];
    int k = 0;
    const char *q = strstr(svg, "\n<rect x=");
    for (; q && k < 6; q = strstr(q + 1, "\n<rect x=")) {
        float x, y, w, h;
        unsigned c;
        if (sscanf(q, "\n<rect x=\"%f\" y=\"%f\" width=\"%f\" height=\"%f\" fill=\"#%6x\"", &x, &y, &w, &h, &c) != 5)
            continue;
        cx[k] = x + w / 2;
        cy[k] = y + h / 2;
        fill[k++] = c;
    }
    CHECK(k == 6);
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++)
            if (v[i] < v[j]) CHECK_MSG(lum(fill[i]) > lum(fill[j]), "cell %d (%g) not lighter than cell %d (%g)", i,
                                       (double)v[i], j, (double)v[j]);
    CHECK(fill[1] == dc_plot_colormap(0.0f) && fill[2] == dc_plot_colormap(1.0f));
    /* annotations: the values as text */
    CHECK(strstr(svg, ">5</text>") && strstr(svg, ">0</text>"));
    if (dc_plot_png_supported()) {
        unsigned char *rgb;
        int w, h;
        CHECK_OK(dc_figure_render_rgb(f, &rgb, &w, &h));
        for (int i = 0; i < k; i++) { /* a few pixels right of the centre: beside the annotation digit */
            int x = (int)(cx[i] + 12), y = (int)(cy[i] + 8);
            CHECK_MSG(near_color(rgb + ((size_t)y * w + x) * 3, fill[i], 0), "cell %d: PNG differs from SVG fill %06x", i,
                      fill[i]);
        }
        free(rgb);
    }
    free(bytes);
    dc_figure_free(f);
}

/* ------------------------------------------------------------------ errors */
TEST(viz_errors) {
    CHECK(dc_figure_new(0, 1, 100, 100, NULL) == NULL);
    CHECK(dc_figure_new(1, 1, 5, 100, NULL) == NULL);
    CHECK(dc_figure_new(1, 1000, 100, 100, NULL) == NULL);
    dc_figure *f = dc_figure_new(2, 2, 100, 100, NULL);
    CHECK(dc_figure_panel(f, 2, 0) == NULL && dc_figure_panel(f, 0, -1) == NULL && dc_figure_panel(NULL, 0, 0) == NULL);
    dc_plot *p = dc_figure_panel(f, 1, 1);
    float x[2] = {1, 2};
    CHECK_ERR(dc_plot_line(NULL, x, x, 2, NULL), DC_ERR_ARG);
    CHECK_ERR(dc_plot_line(p, NULL, x, 2, NULL), DC_ERR_ARG);
    CHECK_ERR(dc_plot_points(p, x, x, -1, NULL), DC_ERR_ARG);
    CHECK_ERR(dc_plot_bars(p, NULL, x, 1, NULL), DC_ERR_ARG);
    CHECK_ERR(dc_plot_image(p, x, 2, 1, 1, 0, 1), DC_ERR_ARG);
    CHECK_ERR(dc_plot_heatmap(p, x, 0, 2, NULL, NULL, 0), DC_ERR_ARG);
    CHECK_ERR(dc_plot_contour(p, x, 2, 1, 0, 1, 0, 1, x, 1), DC_ERR_ARG);
    CHECK_ERR(dc_figure_save(f, tmp_path("fig.jpg")), DC_ERR_ARG);
    CHECK_MSG_HAS(".png or .svg");
    CHECK_ERR(dc_figure_save(f, "/nonexistent-dir/fig.svg"), DC_ERR_IO);
    CHECK_MSG_HAS("/nonexistent-dir/fig.svg");
    unsigned char *b;
    size_t n;
    CHECK_ERR(dc_figure_encode(f, "gif", &b, &n), DC_ERR_ARG);
    /* empty data, log axes with non-positive values, huge values: still a figure */
    CHECK_OK(dc_plot_line(p, x, x, 0, "empty"));
    float y[4] = {-1, 0, 1e30f, 10}, xx[4] = {1, 2, 3, 4};
    dc_plot *q = dc_figure_panel(f, 0, 0);
    dc_plot_log_y(q, 1);
    CHECK_OK(dc_plot_line(q, xx, y, 4, "log"));
    CHECK_OK(dc_plot_points(dc_figure_panel(f, 0, 1), xx, y, 4, NULL));
    CHECK_OK(dc_figure_encode(f, "svg", &b, &n));
    free(b);
    if (dc_plot_png_supported()) {
        CHECK_OK(dc_figure_encode(f, "png", &b, &n));
        free(b);
    }
    dc_plot_labels(NULL, "x", NULL, NULL); /* NULL panels are ignored */
    dc_plot_xrange(NULL, 0, 1);
    dc_figure_free(f);
    dc_figure_free(NULL);
}

/* ------------------------------------------------------------------ run logs */
TEST(viz_csv_read) {
    const char *path = tmp_path("metrics_ok.csv");
    write_text(path, "epoch,lr,train_loss,val_acc\n1,0.001,0.52,0.81\n\n2,0.001,0.40,0.85\r\n3,0.001,,0.86\n");
    dc_csv t;
    CHECK_OK(dc_csv_read(path, &t));
    CHECK(t.ncols == 4 && t.nrows == 3);
    CHECK(dc_csv_col(&t, "val_acc") == 3 && dc_csv_col(&t, "nope") == -1);
    CHECK_NEAR(t.v[1 * 4 + 2], 0.40, 1e-12);
    CHECK(isnan(t.v[2 * 4 + 2]));
    CHECK(t.line[2] == 5); /* the blank line counts */
    int col;
    CHECK_ERR(dc_csv_need(&t, path, "val_loss", &col), DC_ERR_FORMAT);
    CHECK_MSG_HAS("no column 'val_loss'");
    CHECK_MSG_HAS("train_loss");
    dc_csv_free(&t);
}

TEST(viz_csv_errors) {
    dc_csv t;
    CHECK_ERR(dc_csv_read(tmp_path("missing.csv"), &t), DC_ERR_IO);
    CHECK_MSG_HAS("missing.csv");
    const char *p = tmp_path("empty.csv");
    write_text(p, "\n\n");
    CHECK_ERR(dc_csv_read(p, &t), DC_ERR_FORMAT);
    CHECK_MSG_HAS("empty.csv: empty");
    p = tmp_path("badnum.csv");
    write_text(p, "epoch,loss\n1,0.5\n2,abc\n");
    CHECK_ERR(dc_csv_read(p, &t), DC_ERR_FORMAT);
    CHECK_MSG_HAS("badnum.csv:3");
    CHECK_MSG_HAS("'loss'");
    CHECK_MSG_HAS("'abc'");
    p = tmp_path("short.csv");
    write_text(p, "epoch,loss,acc\n1,0.5,0.9\n2,0.4"); /* truncated last line */
    CHECK_ERR(dc_csv_read(p, &t), DC_ERR_FORMAT);
    CHECK_MSG_HAS("short.csv:3");
    CHECK_MSG_HAS("2 fields");
    p = tmp_path("nul.csv");
    FILE *f = fopen(p, "wb");
    fwrite("a,b\n1,\0\n", 1, 8, f);
    fclose(f);
    CHECK_ERR(dc_csv_read(p, &t), DC_ERR_FORMAT);
    p = tmp_path("noname.csv");
    write_text(p, "a,,c\n1,2,3\n");
    CHECK_ERR(dc_csv_read(p, &t), DC_ERR_FORMAT);
    CHECK_MSG_HAS("noname.csv:1");
}

TEST(viz_ema_and_runinfo) {
    float x[5] = {1, 1, NAN, 1, 3}, o[5];
    dc_ema(x, o, 5, 3); /* b = 0.5, bias-corrected: a constant stays itself */
    CHECK_NEAR(o[0], 1.0, 1e-6);
    CHECK_NEAR(o[1], 1.0, 1e-6);
    CHECK(isnan(o[2]));
    CHECK_NEAR(o[3], 1.0, 1e-6);
    /* s = 0.5*s + 0.5*3 after three ones: (0.875 * 0.5 + 1.5) / (1 - 0.0625) */
    CHECK_NEAR(o[4], (0.4375 + 1.5) / 0.9375, 1e-5);
    dc_ema(x, o, 5, 1);
    CHECK(o[4] == 3.0f);
    const char *p = tmp_path("run.txt");
    write_text(p, "# a run\ncommand: deepc train --model mlp\nmodel: mlp\n\nlr: 0.001\nnot a pair\n");
    char *text;
    const char *k[8], *v[8];
    int n;
    CHECK_OK(dc_runinfo_read(p, &text, k, v, 8, &n));
    CHECK(n == 3 && !strcmp(k[0], "command") && !strcmp(v[0], "deepc train --model mlp") && !strcmp(v[2], "0.001"));
    free(text);
    CHECK_ERR(dc_runinfo_read(tmp_path("none.txt"), &text, k, v, 8, &n), DC_ERR_IO);
}

/* ------------------------------------------------------------------ run directories and networks */
static int count_str(const char *s, const char *what) {
    int n = 0;
    for (const char *p = strstr(s, what); p; p = strstr(p + 1, what)) n++;
    return n;
}

TEST(viz_train_run_dir) {
    /* a tiny run writes steps.csv (every 10 steps) and run.txt; the curves are drawn from them */
    dc_train_config c;
    dc_train_config_defaults(&c);
    c.data_dir = dc_test_data_dir();
    c.out_dir = tmp_path("viz_run");
    c.epochs = 2;
    c.batch = 64;
    c.train_limit = 1200; /* 1000 training images: 16 steps per epoch, 32 in all */
    c.val_size = 200;
    c.test_limit = 200;
    c.threads = 1;
    c.quiet = 1;
    c.progress = 0;
    dc_train_result r;
    CHECK_OK(dc_train_run(&c, &r));
    char path[600];
    snprintf(path, sizeof path, "%s/steps.csv", c.out_dir);
    dc_csv t;
    CHECK_OK(dc_csv_read(path, &t));
    int cs = dc_csv_col(&t, "step"), ce = dc_csv_col(&t, "epoch"), cl = dc_csv_col(&t, "loss"), clr = dc_csv_col(&t, "lr");
    CHECK(cs == 0 && ce == 1 && cl == 2 && clr == 3);
    CHECK_MSG(t.nrows == 3, "%d rows in steps.csv, want 3 (steps 10, 20, 30)", t.nrows);
    for (int i = 0; i < t.nrows && t.ncols == 4; i++) {
        CHECK(t.v[i * 4 + 0] == 10.0 * (i + 1));
        CHECK_NEAR(t.v[i * 4 + 1], 10.0 * (i + 1) / 16.0, 1e-4); /* fractional epoch */
        CHECK(t.v[i * 4 + 2] > 0.0 && t.v[i * 4 + 2] < 5.0);
        CHECK_NEAR(t.v[i * 4 + 3], 1e-3, 1e-9);
    }
    dc_csv_free(&t);
    snprintf(path, sizeof path, "%s/run.txt", c.out_dir);
    char *text;
    const char *k[64], *v[64];
    int n;
    CHECK_OK(dc_runinfo_read(path, &text, k, v, 64, &n));
    int seen = 0;
    for (int i = 0; i < n; i++) {
        seen += !strcmp(k[i], "model") && !strcmp(v[i], "mlp");
        seen += !strcmp(k[i], "epochs") && !strcmp(v[i], "2");
        seen += !strcmp(k[i], "optimizer") && !strcmp(v[i], "adam");
        seen += !strcmp(k[i], "command") && strstr(v[i], "run_tests") != NULL;
    }
    CHECK_MSG(seen == 4, "run.txt: %d of 4 expected entries", seen);
    free(text);
    dc_figure *loss, *acc;
    CHECK_OK(dc_viz_run_curves(c.out_dir, 5, &loss, &acc));
    unsigned char *svg;
    size_t len;
    CHECK_OK(dc_figure_encode(loss, "svg", &svg, &len));
    int counts[4];
    char col[16];
    snprintf(col, sizeof col, "#%06x", (unsigned)dc_plot_palette(0)); /* per step: 3 points */
    CHECK(polyline_counts((const char *)svg, col, counts, 4) >= 1 && counts[0] == 3);
    snprintf(col, sizeof col, "#%06x", (unsigned)dc_plot_palette(2)); /* validation: 2 epochs */
    CHECK(polyline_counts((const char *)svg, col, counts, 4) >= 1 && counts[0] == 2);
    CHECK(strstr((const char *)svg, "per step (EMA 5)") != NULL);
    free(svg);
    dc_figure_free(loss);
    dc_figure_free(acc);
    /* a corrupt metrics.csv: the error names the file and line */
    snprintf(path, sizeof path, "%s/metrics.csv", c.out_dir);
    FILE *f = fopen(path, "a");
    fputs("3,0.001,0.5\n", f);
    fclose(f);
    CHECK_ERR(dc_viz_run_curves(c.out_dir, 5, &loss, &acc), DC_ERR_FORMAT);
    CHECK_MSG_HAS("metrics.csv:4");
    CHECK(loss == NULL && acc == NULL);
    CHECK_ERR(dc_viz_run_curves(tmp_path("no_such_run"), 5, &loss, &acc), DC_ERR_IO);
    CHECK_MSG_HAS("no_such_run/metrics.csv");
}

TEST(viz_network_pictures) {
    /* LeNet-5 with its initial weights, saved and reopened: filters, feature maps, predictions */
    dc_graph *g;
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input(g, "images", dc_shape3(1, 28, 28)), logits;
    CHECK_OK(dc_model_build(g, "lenet5", x, 10, &logits));
    dc_graph_opts go = {.seed = 3};
    CHECK_OK(dc_graph_plan(g, 1, &go));
    dc_checkpoint_meta meta = {.num_classes = 10};
    snprintf(meta.model, sizeof meta.model, "lenet5");
    const char *ck = tmp_path("viz_lenet.safetensors");
    CHECK_OK(dc_checkpoint_save(ck, g, NULL, &meta));
    dc_viz_model m;
    CHECK_OK(dc_viz_model_open(ck, 0, 0, 0, 4, 1, &m));
    CHECK(m.c == 1 && m.h == 28 && m.w == 28 && m.classes == 10);
    dc_figure *f;
    CHECK_OK(dc_viz_filters(&m, &f));
    unsigned char *svg;
    size_t len;
    if (f) {
        CHECK_OK(dc_figure_encode(f, "svg", &svg, &len));
        CHECK(count_str((const char *)svg, "<image ") + count_str((const char *)svg, "<g shape-rendering") == 6);
        CHECK(strstr((const char *)svg, "conv1: 6 kernels 5x5") != NULL);
        free(svg);
        dc_figure_free(f);
    }
    float img[28 * 28];
    for (int i = 0; i < 28 * 28; i++) img[i] = (float)(i % 28) / 28.0f;
    dc_figure **figs;
    char **names;
    int n;
    CHECK_OK(dc_viz_features(&m, img, "ramp", 64, &figs, &names, &n));
    CHECK(n == 4);
    if (n == 4) {
        CHECK(!strcmp(names[0], "01_conv1") && !strcmp(names[1], "02_pool1") && !strcmp(names[3], "04_pool2"));
        CHECK_OK(dc_figure_encode(figs[2], "svg", &svg, &len)); /* conv2: 16 channels */
        CHECK(count_str((const char *)svg, "<image ") + count_str((const char *)svg, "<g shape-rendering") == 16);
        free(svg);
    }
    dc_viz_figures_free(figs, names, n);
    /* predictions on a tiny data set, the misclassified grid from them */
    float ims[5 * 28 * 28];
    int32_t labels[5] = {0, 1, 2, 3, 4};
    for (int i = 0; i < 5 * 28 * 28; i++) ims[i] = (float)((i * 7) % 13) / 13.0f;
    dc_dataset *ds;
    CHECK_OK(dc_dataset_from_arrays(5, 1, 28, 28, 10, ims, labels, &ds));
    int *pred;
    int64_t np;
    CHECK_OK(dc_viz_predict(&m, ds, 0, &pred, &np));
    CHECK(np == 5);
    int idx[3];
    float prob[3];
    CHECK_OK(dc_viz_topk(&m, ds, 2, 3, idx, prob));
    CHECK(prob[0] >= prob[1] && prob[1] >= prob[2] && prob[0] <= 1.0f && prob[2] > 0.0f);
    CHECK(idx[0] == pred[2]); /* the top class is the prediction */
    int fake[5] = {0, 9, 2, 9, 9}, found;
    CHECK_OK(dc_viz_misclassified(ds, fake, 5, 10, 2, &f, &found));
    CHECK(found == 2); /* three wrong, two asked for */
    CHECK_OK(dc_figure_encode(f, "svg", &svg, &len));
    CHECK(strstr((const char *)svg, "pred Ankle boot / true Trouser") && strstr((const char *)svg, "#3</text>"));
    CHECK(strstr((const char *)svg, "3 of 5 test images") != NULL);
    free(svg);
    dc_figure_free(f);
    int64_t conf[10][10] = {{0}};
    conf[0][0] = 5;
    conf[1][0] = 2;
    CHECK_OK(dc_viz_confusion(conf, 10, "cm", &f));
    CHECK_OK(dc_figure_encode(f, "svg", &svg, &len));
    CHECK(strstr((const char *)svg, ">Ankle boot</text>") && strstr((const char *)svg, ">5</text>"));
    free(svg);
    dc_figure_free(f);
    free(pred);
    dc_dataset_free(ds);
    dc_viz_model_close(&m);
    /* an MLP has no filters to show */
    dc_graph_free(g);
    CHECK_OK(dc_graph_create(&g));
    x = dc_input(g, "images", dc_shape3(1, 28, 28));
    CHECK_OK(dc_model_build(g, "mlp", x, 10, &logits));
    CHECK_OK(dc_graph_plan(g, 1, &go));
    snprintf(meta.model, sizeof meta.model, "mlp");
    ck = tmp_path("viz_mlp.safetensors");
    CHECK_OK(dc_checkpoint_save(ck, g, NULL, &meta));
    CHECK_OK(dc_viz_model_open(ck, 0, 0, 0, 1, 1, &m));
    CHECK_ERR(dc_viz_filters(&m, &f), DC_ERR_ARG);
    CHECK_MSG_HAS("no convolution");
    dc_viz_model_close(&m);
    dc_graph_free(g);
    CHECK_ERR(dc_viz_model_open(tmp_path("missing.safetensors"), 0, 0, 0, 1, 1, &m), DC_ERR_IO);
}
