/* plot.c — the figure model of plot.h and its layout: series are copied in as they are added;
 * saving lays every panel out (title, axis labels, "nice" 1/2/5 x 10^k ticks, grid, frame, series
 * clipped to the plot area, legend; heat maps with row/column labels, annotations and a colour bar;
 * image panels) into a drawing list (scene.h) that raster.c turns into PNG and svg.c into SVG.
 * Also tick choice and marching squares, which the tests check by their numbers.
 * Not here: pixels (raster.c), SVG syntax (svg.c), fonts other than the built-in one, interaction. */
#include "viz/plot.h"

#include "io/atomic.h"
#include "viz/scene.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ look */
#define TEXT_COLOR 0x222222u
#define FRAME_COLOR 0x555555u
#define GRID_COLOR 0xe6e6e6u
#define LINE_WIDTH 2.0f
#define FIG_TITLE_SCALE 2.2f
#define TITLE_SCALE 1.7f
#define LABEL_SCALE 1.5f
#define TICK_SCALE 1.3f
#define PAD 8.0f
#define TICK_LEN 4.0f

/* Ten colours of our choosing, in the order series are added. */
static const uint32_t PALETTE[10] = {0x2f6fd0, 0xe5702a, 0x2f9e52, 0xcf3a3a, 0x8557c4,
                                     0x8f5b3e, 0xd25fae, 0x6d6d6d, 0xa9a21c, 0x1ba6b5};

uint32_t dc_plot_palette(int i) { return PALETTE[((i % 10) + 10) % 10]; }

/* Heat-map ramp: pale yellow -> green -> blue -> deep indigo; luminance falls at every step. */
static const float RAMP[6][3] = {{1.000f, 0.984f, 0.850f}, {0.780f, 0.914f, 0.706f}, {0.498f, 0.804f, 0.733f},
                                 {0.255f, 0.624f, 0.769f}, {0.145f, 0.369f, 0.659f}, {0.090f, 0.137f, 0.420f}};

uint32_t dc_plot_colormap(float t) {
    if (!(t >= 0.0f)) t = 0.0f; /* NaN too */
    if (t > 1.0f) t = 1.0f;
    float u = t * 5.0f;
    int i = (int)u;
    if (i > 4) i = 4;
    float f = u - (float)i;
    uint32_t out = 0;
    for (int c = 0; c < 3; c++) {
        float v = RAMP[i][c] + (RAMP[i + 1][c] - RAMP[i][c]) * f;
        out = out << 8 | (uint32_t)lroundf(v * 255.0f);
    }
    return out;
}

static float luminance(uint32_t c) {
    return (0.299f * (float)(c >> 16 & 255) + 0.587f * (float)(c >> 8 & 255) + 0.114f * (float)(c & 255)) / 255.0f;
}

/* ------------------------------------------------------------------ the model */
typedef enum series_kind { SERIES_LINE, SERIES_POINTS, SERIES_BARS, SERIES_SEGMENTS } series_kind;

typedef struct series {
    series_kind kind;
    float *x, *y; /* bars: x = nbins+1 edges, y = nbins counts; segments: x = 4 floats per segment */
    int n;        /* points; bins; segments                                                       */
    char *label;
    uint32_t color;
} series;

struct dc_plot {
    char *title, *xlabel, *ylabel;
    int fixed_x, fixed_y, log_x, log_y, legend; /* legend: -1 automatic */
    double xlo, xhi, ylo, yhi;
    series *s;
    int ns, cap, colors_used;
    int has_extent;
    double ext[4]; /* contour grids: x0, x1, y0, y1 */
    /* heat map */
    float *hm;
    int hm_rows, hm_cols, hm_annotate;
    char **hm_rlab, **hm_clab;
    /* image */
    unsigned char *img;
    int img_w, img_h;
};

struct dc_figure {
    int rows, cols, pw, ph;
    char *title;
    dc_plot *panels;
};

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static float title_band(const char *title) { return title && *title ? FIG_TITLE_SCALE * 7.0f + 2.0f * PAD : 0.0f; }

dc_figure *dc_figure_new(int rows, int cols, int panel_w, int panel_h, const char *title) {
    if (rows < 1 || cols < 1 || rows > 256 || cols > 256 || panel_w < 16 || panel_h < 16 || panel_w > 8192 ||
        panel_h > 8192 || (int64_t)cols * panel_w > 16384 || (int64_t)rows * panel_h + 64 > 16384) {
        DC_ERR(DC_ERR_ARG, "figure of %dx%d panels of %dx%d pixels (want 1..256 panels a side, panels 16..8192 "
               "pixels, the whole at most 16384 a side)", rows, cols, panel_w, panel_h);
        return NULL;
    }
    dc_figure *f = calloc(1, sizeof *f);
    if (!f) {
        DC_ERR(DC_ERR_NOMEM, "figure");
        return NULL;
    }
    f->panels = calloc((size_t)rows * (size_t)cols, sizeof *f->panels);
    f->title = dup_or_null(title);
    if (!f->panels || (title && !f->title)) {
        free(f->panels);
        free(f->title);
        free(f);
        DC_ERR(DC_ERR_NOMEM, "figure of %dx%d panels", rows, cols);
        return NULL;
    }
    f->rows = rows;
    f->cols = cols;
    f->pw = panel_w;
    f->ph = panel_h;
    for (int i = 0; i < rows * cols; i++) f->panels[i].legend = -1;
    return f;
}

static void free_labels(char **l, int n) {
    if (!l) return;
    for (int i = 0; i < n; i++) free(l[i]);
    free(l);
}

static void panel_clear(dc_plot *p) {
    free(p->title);
    free(p->xlabel);
    free(p->ylabel);
    for (int i = 0; i < p->ns; i++) {
        free(p->s[i].x);
        free(p->s[i].y);
        free(p->s[i].label);
    }
    free(p->s);
    free(p->hm);
    free_labels(p->hm_rlab, p->hm_rows);
    free_labels(p->hm_clab, p->hm_cols);
    free(p->img);
}

void dc_figure_free(dc_figure *f) {
    if (!f) return;
    for (int i = 0; i < f->rows * f->cols; i++) panel_clear(&f->panels[i]);
    free(f->panels);
    free(f->title);
    free(f);
}

dc_plot *dc_figure_panel(dc_figure *f, int row, int col) {
    if (!f || row < 0 || col < 0 || row >= f->rows || col >= f->cols) return NULL;
    return &f->panels[row * f->cols + col];
}

static void set_str(char **dst, const char *s) {
    if (!s) return;
    char *c = strdup(s);
    if (!c) return; /* keeps the old text; a label is not worth failing a figure for */
    free(*dst);
    *dst = c;
}

void dc_plot_labels(dc_plot *p, const char *title, const char *xlabel, const char *ylabel) {
    if (!p) return;
    set_str(&p->title, title);
    set_str(&p->xlabel, xlabel);
    set_str(&p->ylabel, ylabel);
}

void dc_plot_xrange(dc_plot *p, float lo, float hi) {
    if (!p || !isfinite(lo) || !isfinite(hi) || !(hi > lo)) return;
    p->fixed_x = 1;
    p->xlo = lo;
    p->xhi = hi;
}
void dc_plot_yrange(dc_plot *p, float lo, float hi) {
    if (!p || !isfinite(lo) || !isfinite(hi) || !(hi > lo)) return;
    p->fixed_y = 1;
    p->ylo = lo;
    p->yhi = hi;
}
void dc_plot_log_x(dc_plot *p, int on) { if (p) p->log_x = on != 0; }
void dc_plot_log_y(dc_plot *p, int on) { if (p) p->log_y = on != 0; }
void dc_plot_legend(dc_plot *p, int on) { if (p) p->legend = on != 0; }

static dc_status add_series(dc_plot *p, series_kind kind, const float *x, int nx, const float *y, int ny, int n,
                            const char *label, uint32_t color) {
    if (p->ns == p->cap) {
        int cap = p->cap ? p->cap * 2 : 4;
        series *s = realloc(p->s, (size_t)cap * sizeof *s);
        if (!s) return DC_ERR(DC_ERR_NOMEM, "plot: series list");
        p->s = s;
        p->cap = cap;
    }
    series *s = &p->s[p->ns];
    memset(s, 0, sizeof *s);
    s->x = malloc((size_t)(nx > 0 ? nx : 1) * sizeof(float));
    s->y = malloc((size_t)(ny > 0 ? ny : 1) * sizeof(float));
    s->label = dup_or_null(label);
    if (!s->x || !s->y || (label && !s->label)) {
        free(s->x);
        free(s->y);
        free(s->label);
        return DC_ERR(DC_ERR_NOMEM, "plot: a series of %d values", n);
    }
    if (nx) memcpy(s->x, x, (size_t)nx * sizeof(float));
    if (ny) memcpy(s->y, y, (size_t)ny * sizeof(float));
    s->kind = kind;
    s->n = n;
    s->color = color;
    p->ns++;
    return DC_OK;
}

dc_status dc_plot_line(dc_plot *p, const float *x, const float *y, int n, const char *label) {
    if (!p || n < 0 || (n > 0 && (!x || !y))) return DC_ERR(DC_ERR_ARG, "dc_plot_line: NULL panel or data, or n %d < 0", n);
    DC_TRY(add_series(p, SERIES_LINE, x, n, y, n, n, label, dc_plot_palette(p->colors_used)));
    p->colors_used++;
    return DC_OK;
}

dc_status dc_plot_points(dc_plot *p, const float *x, const float *y, int n, const char *label) {
    if (!p || n < 0 || (n > 0 && (!x || !y)))
        return DC_ERR(DC_ERR_ARG, "dc_plot_points: NULL panel or data, or n %d < 0", n);
    DC_TRY(add_series(p, SERIES_POINTS, x, n, y, n, n, label, dc_plot_palette(p->colors_used)));
    p->colors_used++;
    return DC_OK;
}

dc_status dc_plot_bars(dc_plot *p, const float *edges, const float *counts, int nbins, const char *label) {
    if (!p || nbins < 0 || (nbins > 0 && (!edges || !counts)))
        return DC_ERR(DC_ERR_ARG, "dc_plot_bars: NULL panel or data, or nbins %d < 0", nbins);
    DC_TRY(add_series(p, SERIES_BARS, edges, nbins ? nbins + 1 : 0, counts, nbins, nbins, label,
                      dc_plot_palette(p->colors_used)));
    p->colors_used++;
    return DC_OK;
}

/* ------------------------------------------------------------------ marching squares */
typedef struct segbuf {
    float *v;
    int n, cap;
} segbuf;

static int seg_push(segbuf *b, float xa, float ya, float xb, float yb) {
    if (b->n == b->cap) {
        int cap = b->cap ? b->cap * 2 : 64;
        float *v = realloc(b->v, (size_t)cap * 4 * sizeof(float));
        if (!v) return -1;
        b->v = v;
        b->cap = cap;
    }
    float *o = b->v + (size_t)b->n * 4;
    o[0] = xa;
    o[1] = ya;
    o[2] = xb;
    o[3] = yb;
    b->n++;
    return 0;
}

/* Where the level crosses the edge between values a and b, as a fraction from a. */
static float cross(float a, float b, float level) {
    float d = b - a;
    float t = d != 0.0f ? (level - a) / d : 0.5f;
    return t < 0.0f ? 0.0f : t > 1.0f ? 1.0f : t;
}

dc_status dc_contour_segments(const float *z, int nx, int ny, float x0, float x1, float y0, float y1, float level,
                              float **segs, int *nseg) {
    if (!segs || !nseg) return DC_ERR(DC_ERR_ARG, "dc_contour_segments: NULL output");
    *segs = NULL;
    *nseg = 0;
    if (!z || nx < 2 || ny < 2 || (int64_t)nx * ny > ((int64_t)1 << 28))
        return DC_ERR(DC_ERR_ARG, "contour: grid of %d x %d values (want at least 2 x 2 and a z array)", nx, ny);
    if (!isfinite(x0) || !isfinite(x1) || !isfinite(y0) || !isfinite(y1) || x0 == x1 || y0 == y1)
        return DC_ERR(DC_ERR_ARG, "contour: grid extent [%g, %g] x [%g, %g] is empty or not finite", (double)x0,
                      (double)x1, (double)y0, (double)y1);
    if (!isfinite(level)) return DC_ERR(DC_ERR_ARG, "contour: level %g is not finite", (double)level);
    const float dx = (x1 - x0) / (float)(nx - 1), dy = (y1 - y0) / (float)(ny - 1);
    segbuf b = {0};
    for (int j = 0; j + 1 < ny; j++)
        for (int i = 0; i + 1 < nx; i++) {
            /* corners: a (i, j), b (i+1, j), c (i+1, j+1), d (i, j+1) */
            float a = z[(int64_t)j * nx + i], bb = z[(int64_t)j * nx + i + 1], c = z[(int64_t)(j + 1) * nx + i + 1],
                  d = z[(int64_t)(j + 1) * nx + i];
            if (!isfinite(a) || !isfinite(bb) || !isfinite(c) || !isfinite(d)) continue;
            int code = (a >= level) | (bb >= level) << 1 | (c >= level) << 2 | (d >= level) << 3;
            if (code == 0 || code == 15) continue;
            const float xa = x0 + dx * (float)i, ya = y0 + dy * (float)j;
            /* edge points: bottom (a-b), right (b-c), top (d-c), left (a-d) */
            float px[4], py[4];
            px[0] = xa + dx * cross(a, bb, level), py[0] = ya;
            px[1] = xa + dx, py[1] = ya + dy * cross(bb, c, level);
            px[2] = xa + dx * cross(d, c, level), py[2] = ya + dy;
            px[3] = xa, py[3] = ya + dy * cross(a, d, level);
            /* which edges each case joins; -1 ends the list */
            static const int8_t E[16][4] = {{-1, -1, -1, -1}, {3, 0, -1, -1}, {0, 1, -1, -1}, {3, 1, -1, -1},
                                            {1, 2, -1, -1},   {3, 0, 1, 2},   {0, 2, -1, -1}, {3, 2, -1, -1},
                                            {2, 3, -1, -1},   {0, 2, -1, -1}, {0, 1, 2, 3},   {1, 2, -1, -1},
                                            {1, 3, -1, -1},   {0, 1, -1, -1}, {3, 0, -1, -1}, {-1, -1, -1, -1}};
            int8_t e[4];
            memcpy(e, E[code], 4);
            if (code == 5 || code == 10) { /* saddle: the mean decides which pairs of edges join */
                int centre_high = (a + bb + c + d) * 0.25f >= level;
                if (code == 5 && centre_high) { e[0] = 3; e[1] = 2; e[2] = 0; e[3] = 1; }
                if (code == 10 && centre_high) { e[0] = 0; e[1] = 3; e[2] = 1; e[3] = 2; }
            }
            for (int k = 0; k < 4 && e[k] >= 0; k += 2)
                if (seg_push(&b, px[e[k]], py[e[k]], px[e[k + 1]], py[e[k + 1]]) != 0) {
                    free(b.v);
                    return DC_ERR(DC_ERR_NOMEM, "contour: %d segments", b.n);
                }
        }
    *segs = b.v;
    *nseg = b.n;
    return DC_OK;
}

dc_status dc_plot_contour(dc_plot *p, const float *z, int nx, int ny, float x0, float x1, float y0, float y1,
                          const float *levels, int nlevels) {
    if (!p || !levels || nlevels < 1 || nlevels > 1000)
        return DC_ERR(DC_ERR_ARG, "dc_plot_contour: NULL panel or levels, or %d levels (want 1..1000)", nlevels);
    for (int l = 0; l < nlevels; l++) {
        float *segs;
        int n;
        DC_TRY(dc_contour_segments(z, nx, ny, x0, x1, y0, y1, levels[l], &segs, &n));
        uint32_t color = dc_plot_colormap(nlevels > 1 ? 0.2f + 0.8f * (float)l / (float)(nlevels - 1) : 0.7f);
        dc_status s = add_series(p, SERIES_SEGMENTS, segs, n * 4, NULL, 0, n, NULL, color);
        free(segs);
        DC_TRY(s);
    }
    double ext[4] = {fmin(x0, x1), fmax(x0, x1), fmin(y0, y1), fmax(y0, y1)};
    if (!p->has_extent) memcpy(p->ext, ext, sizeof ext);
    else {
        p->ext[0] = fmin(p->ext[0], ext[0]);
        p->ext[1] = fmax(p->ext[1], ext[1]);
        p->ext[2] = fmin(p->ext[2], ext[2]);
        p->ext[3] = fmax(p->ext[3], ext[3]);
    }
    p->has_extent = 1;
    return DC_OK;
}

dc_status dc_plot_heatmap(dc_plot *p, const float *values, int rows, int cols, const char *const *row_labels,
                          const char *const *col_labels, int annotate) {
    if (!p || !values || rows < 1 || cols < 1 || rows > 4096 || cols > 4096)
        return DC_ERR(DC_ERR_ARG, "dc_plot_heatmap: NULL panel or values, or %d x %d cells (want 1..4096 a side)", rows,
                      cols);
    float *v = malloc((size_t)rows * (size_t)cols * sizeof(float));
    char **rl = row_labels ? calloc((size_t)rows, sizeof(char *)) : NULL;
    char **cl = col_labels ? calloc((size_t)cols, sizeof(char *)) : NULL;
    int bad = !v || (row_labels && !rl) || (col_labels && !cl);
    for (int i = 0; !bad && rl && i < rows; i++) bad = !(rl[i] = strdup(row_labels[i] ? row_labels[i] : ""));
    for (int i = 0; !bad && cl && i < cols; i++) bad = !(cl[i] = strdup(col_labels[i] ? col_labels[i] : ""));
    if (bad) {
        free(v);
        free_labels(rl, rows);
        free_labels(cl, cols);
        return DC_ERR(DC_ERR_NOMEM, "heat map of %d x %d", rows, cols);
    }
    memcpy(v, values, (size_t)rows * (size_t)cols * sizeof(float));
    free(p->hm);
    free_labels(p->hm_rlab, p->hm_rows);
    free_labels(p->hm_clab, p->hm_cols);
    p->hm = v;
    p->hm_rows = rows;
    p->hm_cols = cols;
    p->hm_rlab = rl;
    p->hm_clab = cl;
    p->hm_annotate = annotate != 0;
    return DC_OK;
}

dc_status dc_plot_image(dc_plot *p, const float *pixels, int channels, int h, int w, float lo, float hi) {
    if (!p || !pixels || (channels != 1 && channels != 3) || h < 1 || w < 1 || h > 16384 || w > 16384)
        return DC_ERR(DC_ERR_ARG, "dc_plot_image: NULL panel or pixels, %d channels (want 1 or 3) or size %dx%d", channels,
                      w, h);
    const int64_t plane = (int64_t)h * w;
    if (!(lo < hi) || !isfinite(lo) || !isfinite(hi)) { /* the image's own range */
        float mn = FLT_MAX, mx = -FLT_MAX;
        for (int64_t i = 0; i < plane * channels; i++)
            if (isfinite(pixels[i])) {
                mn = fminf(mn, pixels[i]);
                mx = fmaxf(mx, pixels[i]);
            }
        lo = mn <= mx ? mn : 0.0f;
        hi = mn < mx ? mx : lo + 1.0f;
    }
    unsigned char *rgb = malloc((size_t)plane * 3);
    if (!rgb) return DC_ERR(DC_ERR_NOMEM, "image panel of %dx%d", w, h);
    const float scale = 1.0f / (hi - lo);
    for (int64_t i = 0; i < plane; i++)
        for (int c = 0; c < 3; c++) {
            float v = pixels[(channels == 3 ? c : 0) * plane + i];
            float t = isfinite(v) ? (v - lo) * scale : 0.0f;
            t = t < 0.0f ? 0.0f : t > 1.0f ? 1.0f : t;
            rgb[i * 3 + c] = (unsigned char)lroundf(t * 255.0f);
        }
    free(p->img);
    p->img = rgb;
    p->img_w = w;
    p->img_h = h;
    return DC_OK;
}

/* ------------------------------------------------------------------ ticks */
/* Multiples of step inside [lo, hi]. */
static double tick_count(double lo, double hi, double step) {
    double eps = 1e-9;
    return floor(hi / step + eps) - ceil(lo / step - eps) + 1.0;
}

/* The smallest 1/2/5 x 10^k step that puts at most max_ticks multiples inside [lo, hi]. */
static double nice_step(double lo, double hi, int max_ticks) {
    if (max_ticks < 2) max_ticks = 2;
    double raw = (hi - lo) / (double)(max_ticks + 1);
    double p = pow(10.0, floor(log10(raw)));
    static const double M[3] = {1.0, 2.0, 5.0};
    for (int k = 0; k < 60; k++) {
        double step = M[k % 3] * p * pow(10.0, k / 3);
        if (tick_count(lo, hi, step) <= (double)max_ticks) return step;
    }
    return hi - lo;
}

int dc_plot_ticks(double lo, double hi, int max_ticks, double *ticks, int cap, double *step_out) {
    if (step_out) *step_out = 0.0;
    if (!isfinite(lo) || !isfinite(hi) || !(hi > lo) || max_ticks < 2 || !ticks || cap < 1) return 0;
    double step = nice_step(lo, hi, max_ticks);
    if (step_out) *step_out = step;
    double eps = step * 1e-9;
    double first = ceil((lo - eps) / step);
    int n = 0;
    for (double k = first; n < cap; k += 1.0) {
        double v = k * step;
        if (v > hi + eps) break;
        ticks[n++] = fabs(v) < eps ? 0.0 : v;
    }
    return n;
}

/* 1/2/5 x 10^k at or below (down) / at or above (up) v > 0. */
static double nice125(double v, int up) {
    double p = pow(10.0, floor(log10(v)));
    static const double M[4] = {1.0, 2.0, 5.0, 10.0};
    if (up) {
        for (int k = 0; k < 4; k++) if (M[k] * p >= v * (1.0 - 1e-9)) return M[k] * p;
        return 10.0 * p;
    }
    for (int k = 3; k >= 0; k--) if (M[k] * p <= v * (1.0 + 1e-9)) return M[k] * p;
    return p;
}

/* The next 1/2/5 x 10^k step above `step`. */
static double next_step(double step) {
    double p = pow(10.0, floor(log10(step) + 1e-9)), m = step / p;
    return m < 1.5 ? 2.0 * p : m < 3.5 ? 5.0 * p : 10.0 * p;
}

/* Widen [lo, hi] for drawing; returns the linear tick step the ends are multiples of (0 for log). */
static double nice_range_n(double lo, double hi, int log_axis, int max_ticks, double *olo, double *ohi) {
    if (!isfinite(lo) || !isfinite(hi) || lo > hi) {
        lo = log_axis ? 1.0 : 0.0;
        hi = log_axis ? 10.0 : 1.0;
    }
    if (log_axis) {
        if (!(lo > 0.0)) lo = hi > 0.0 ? hi / 10.0 : 1.0;
        if (!(hi > 0.0)) hi = lo * 10.0;
        if (hi <= lo) {
            lo /= 2.0;
            hi *= 2.0;
        }
        *olo = nice125(lo, 0);
        *ohi = nice125(hi, 1);
        return 0.0;
    }
    if (hi - lo <= 1e-9 * fmax(fabs(lo), fabs(hi))) {
        double d = fabs(lo) > 0 ? fabs(lo) * 0.1 : 1.0;
        lo -= d;
        hi += d;
    }
    if (max_ticks < 2) max_ticks = 2;
    double step = nice_step(lo, hi, max_ticks);
    for (int guard = 0; guard < 8; guard++, step = next_step(step)) {
        /* data a float rounding past a multiple (0.3f / 0.1 = 3.0000001) does not widen the axis */
        *olo = floor(lo / step + 1e-6) * step;
        *ohi = ceil(hi / step - 1e-6) * step;
        if (*ohi <= *olo) *ohi = *olo + step;
        if (tick_count(*olo, *ohi, step) <= (double)max_ticks) break;
    }
    return step;
}

void dc_plot_nice_range(double lo, double hi, int log_axis, double *out_lo, double *out_hi) {
    double a, b;
    nice_range_n(lo, hi, log_axis, 6, &a, &b);
    if (out_lo) *out_lo = a;
    if (out_hi) *out_hi = b;
}

/* Tick values for an axis: multiples of `*step` (linear; 0: choose one), or powers of ten, with 2
 * and 5 when few decades (log). */
static int axis_ticks(double lo, double hi, int log_axis, int max_ticks, double *t, int cap, double *step) {
    if (!log_axis) {
        if (!(*step > 0.0)) return dc_plot_ticks(lo, hi, max_ticks, t, cap, step);
        int n = 0;
        for (double k = ceil(lo / *step - 1e-9); n < cap && k * *step <= hi + *step * 1e-9; k += 1.0)
            t[n++] = fabs(k) < 0.5 ? 0.0 : k * *step;
        return n;
    }
    double a = log10(lo), b = log10(hi);
    int n = 0;
    int decades = (int)ceil(b - 1e-9) - (int)floor(a + 1e-9);
    int every = decades / (max_ticks > 1 ? max_ticks - 1 : 1) + 1;
    static const double M[3] = {1.0, 2.0, 5.0};
    int mults = decades <= 2 ? 3 : 1;
    *step = 0.0;
    for (int e = (int)floor(a + 1e-9); e <= (int)ceil(b - 1e-9) && n < cap; e++) {
        if (((e % every) + every) % every) continue;
        for (int k = 0; k < mults && n < cap; k++) {
            double v = M[k] * pow(10.0, e);
            if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) t[n++] = v;
        }
    }
    return n;
}

static void tick_label(double v, double step, int log_axis, char *buf, size_t n) {
    if (log_axis || step == 0.0) {
        snprintf(buf, n, "%.3g", v);
        return;
    }
    double mag = fmax(fabs(v), step);
    if (mag >= 1e6 || step < 1e-5) {
        snprintf(buf, n, "%.3g", v);
        return;
    }
    int dec = step >= 1.0 ? 0 : (int)ceil(-log10(step) - 1e-9);
    snprintf(buf, n, "%.*f", dec, v);
    if (strspn(buf, "-0.") == strlen(buf) && buf[0] == '-') memmove(buf, buf + 1, strlen(buf)); /* no "-0.0" */
}

/* ------------------------------------------------------------------ layout */
typedef struct axes_map {
    float left, top, right, bottom;
    double xlo, xhi, ylo, yhi;
    int log_x, log_y;
} axes_map;

static double tx(const axes_map *m, double v) { return m->log_x ? (v > 0 ? log10(v) : NAN) : v; }
static double ty(const axes_map *m, double v) { return m->log_y ? (v > 0 ? log10(v) : NAN) : v; }

static float clampf_px(double v) { return (float)(v < -1e5 ? -1e5 : v > 1e5 ? 1e5 : v); }

static float map_x(const axes_map *m, double v) {
    double a = tx(m, m->xlo), b = tx(m, m->xhi);
    double t = (tx(m, v) - a) / (b - a);
    return isfinite(t) ? clampf_px(m->left + t * (m->right - m->left)) : NAN;
}
static float map_y(const axes_map *m, double v) {
    double a = ty(m, m->ylo), b = ty(m, m->yhi);
    double t = (ty(m, v) - a) / (b - a);
    return isfinite(t) ? clampf_px(m->bottom - t * (m->bottom - m->top)) : NAN;
}

static int usable(double v, int log_axis) { return isfinite(v) && (!log_axis || v > 0.0); }

/* Data range of the panel's series along x (axis 0) or y (axis 1). */
static void data_range(const dc_plot *p, int axis, double *lo, double *hi) {
    int lg = axis ? p->log_y : p->log_x;
    double a = INFINITY, b = -INFINITY;
#define TAKE(v)                                                                                                       \
    do { double v_ = (v); if (usable(v_, lg)) { a = fmin(a, v_); b = fmax(b, v_); } } while (0)
    for (int i = 0; i < p->ns; i++) {
        const series *s = &p->s[i];
        switch (s->kind) {
        case SERIES_LINE:
        case SERIES_POINTS:
            for (int k = 0; k < s->n; k++)
                if (usable(s->x[k], p->log_x) && usable(s->y[k], p->log_y)) TAKE(axis ? s->y[k] : s->x[k]);
            break;
        case SERIES_BARS:
            for (int k = 0; k < s->n; k++) {
                if (!isfinite(s->y[k]) || !isfinite(s->x[k]) || !isfinite(s->x[k + 1])) continue;
                if (axis) {
                    TAKE(s->y[k]);
                    if (!lg) TAKE(0.0);
                } else {
                    TAKE(s->x[k]);
                    TAKE(s->x[k + 1]);
                }
            }
            break;
        case SERIES_SEGMENTS:
            break; /* the grid's extent below */
        }
    }
    if (p->has_extent) {
        TAKE(p->ext[axis ? 2 : 0]);
        TAKE(p->ext[axis ? 3 : 1]);
    }
#undef TAKE
    *lo = a;
    *hi = b;
}

/* Text shrunk to fit max_w (down to scale min_scale), then cut with "..". */
static void fit_text(dc_scene *sc, float x, float y, const char *text, float scale, float min_scale, float max_w,
                     int anchor, int vertical, uint32_t color) {
    if (!text || !*text) return;
    float w = dc_font_width(text, scale);
    if (w > max_w && max_w > 0) {
        float s2 = scale * max_w / w;
        scale = s2 < min_scale ? min_scale : s2;
    }
    char buf[256];
    snprintf(buf, sizeof buf, "%s", text);
    size_t len = strlen(buf);
    while (len > 3 && dc_font_width(buf, scale) > max_w + 0.01f) {
        buf[--len] = '\0';
        buf[len - 1] = '.';
        buf[len - 2] = '.';
    }
    dc_scene_text(sc, x, y, buf, scale, anchor, vertical, color);
}

static void draw_legend(dc_scene *sc, const dc_plot *p, const axes_map *m) {
    int n = 0;
    float maxw = 0.0f;
    for (int i = 0; i < p->ns; i++)
        if (p->s[i].label && p->s[i].label[0]) {
            n++;
            maxw = fmaxf(maxw, dc_font_width(p->s[i].label, TICK_SCALE));
        }
    if (!n || p->legend == 0) return;
    const float row = TICK_SCALE * 7.0f + 8.0f, sample = 22.0f;
    float w = maxw + sample + 20.0f, h = (float)n * row + 8.0f;
    float x = m->right - w - 8.0f, y = m->top + 8.0f;
    if (x < m->left + 2.0f) x = m->left + 2.0f;
    dc_scene_rect(sc, x, y, w, h, 0xffffff, 0.88f, 0xbbbbbb, 1.0f, -1);
    int k = 0;
    for (int i = 0; i < p->ns; i++) {
        const series *s = &p->s[i];
        if (!s->label || !s->label[0]) continue;
        float cy = y + 4.0f + row * ((float)k + 0.5f), sx = x + 8.0f;
        if (s->kind == SERIES_POINTS) dc_scene_circle(sc, sx + sample / 2, cy, 3.5f, s->color, -1);
        else if (s->kind == SERIES_BARS) dc_scene_rect(sc, sx + 4, cy - 5, sample - 8, 10, s->color, 0.75f, s->color, 1, -1);
        else {
            float pts[4] = {sx, cy, sx + sample, cy};
            dc_scene_line(sc, pts, 2, LINE_WIDTH, s->color, -1);
        }
        dc_scene_text(sc, sx + sample + 6.0f, cy, s->label, TICK_SCALE, DC_ANCHOR_START, 0, TEXT_COLOR);
        k++;
    }
}

/* Title, x label and y label bands; returns the remaining rectangle. */
static void label_bands(dc_scene *sc, const dc_plot *p, float x0, float y0, float w, float h, float *left, float *top,
                        float *right, float *bottom) {
    *left = x0 + PAD;
    *top = y0 + PAD;
    *right = x0 + w - PAD;
    *bottom = y0 + h - PAD;
    if (p->title && p->title[0]) {
        fit_text(sc, x0 + w / 2, *top + TITLE_SCALE * 3.5f, p->title, TITLE_SCALE, 1.0f, w - 2 * PAD, DC_ANCHOR_MIDDLE, 0,
                 TEXT_COLOR);
        *top += TITLE_SCALE * 7.0f + 8.0f;
    }
    if (p->xlabel && p->xlabel[0]) {
        fit_text(sc, x0 + w / 2, *bottom - LABEL_SCALE * 3.5f, p->xlabel, LABEL_SCALE, 1.0f, w - 2 * PAD,
                 DC_ANCHOR_MIDDLE, 0, TEXT_COLOR);
        *bottom -= LABEL_SCALE * 7.0f + 6.0f;
    }
    if (p->ylabel && p->ylabel[0]) {
        fit_text(sc, *left + LABEL_SCALE * 3.5f, y0 + h / 2, p->ylabel, LABEL_SCALE, 1.0f, h - 2 * PAD,
                 DC_ANCHOR_MIDDLE, 1, TEXT_COLOR);
        *left += LABEL_SCALE * 7.0f + 6.0f;
    }
}

static void draw_axes_panel(dc_scene *sc, const dc_plot *p, float x0, float y0, float w, float h) {
    float left, top, right, bottom;
    label_bands(sc, p, x0, y0, w, h, &left, &top, &right, &bottom);
    const float tick_h = TICK_SCALE * 7.0f + TICK_LEN + 6.0f;
    bottom -= tick_h;
    top += TICK_SCALE * 3.5f; /* room for the top y tick label */
    axes_map m = {.log_x = p->log_x, .log_y = p->log_y};
    double lo, hi;
    /* y first: its labels' width decides where the plot area starts */
    int ymax = (int)((bottom - top) / 36.0f) + 1;
    ymax = ymax < 3 ? 3 : ymax > 9 ? 9 : ymax;
    double yt[64], ystep = 0.0, xt[64], xstep = 0.0;
    if (p->fixed_y) { m.ylo = p->ylo; m.yhi = p->yhi; }
    else {
        data_range(p, 1, &lo, &hi);
        ystep = nice_range_n(lo, hi, p->log_y, ymax, &m.ylo, &m.yhi);
    }
    if (p->log_y && !(m.ylo > 0)) nice_range_n(NAN, NAN, 1, ymax, &m.ylo, &m.yhi);
    int nyt = axis_ticks(m.ylo, m.yhi, p->log_y, ymax, yt, 64, &ystep);
    char lab[64][32];
    float labw = 0.0f;
    for (int i = 0; i < nyt; i++) {
        tick_label(yt[i], ystep, p->log_y, lab[i], sizeof lab[i]);
        labw = fmaxf(labw, dc_font_width(lab[i], TICK_SCALE));
    }
    left += labw + TICK_LEN + 5.0f;
    right -= 14.0f; /* half of the last x tick label */
    m.left = floorf(left);
    m.top = floorf(top);
    m.right = floorf(right);
    m.bottom = floorf(bottom);
    if (m.right - m.left < 8 || m.bottom - m.top < 8) return; /* too small to draw axes in */
    int xmax = (int)((m.right - m.left) / 70.0f) + 1;
    xmax = xmax < 3 ? 3 : xmax > 11 ? 11 : xmax;
    if (p->fixed_x) { m.xlo = p->xlo; m.xhi = p->xhi; }
    else {
        data_range(p, 0, &lo, &hi);
        xstep = nice_range_n(lo, hi, p->log_x, xmax, &m.xlo, &m.xhi);
    }
    if (p->log_x && !(m.xlo > 0)) nice_range_n(NAN, NAN, 1, xmax, &m.xlo, &m.xhi);
    int nxt = axis_ticks(m.xlo, m.xhi, p->log_x, xmax, xt, 64, &xstep);

    const float W = m.right - m.left, H = m.bottom - m.top;
    int clip = dc_scene_clip(sc, m.left, m.top, W, H);
    /* grid and tick labels */
    for (int i = 0; i < nyt; i++) {
        float y = floorf(map_y(&m, yt[i])) + 0.5f;
        float g[4] = {m.left, y, m.right, y}, t[4] = {m.left - TICK_LEN, y, m.left, y};
        dc_scene_line(sc, g, 2, 1.0f, GRID_COLOR, clip);
        dc_scene_line(sc, t, 2, 1.0f, FRAME_COLOR, -1);
        dc_scene_text(sc, m.left - TICK_LEN - 3.0f, y, lab[i], TICK_SCALE, DC_ANCHOR_END, 0, TEXT_COLOR);
    }
    for (int i = 0; i < nxt; i++) {
        char b[32];
        tick_label(xt[i], xstep, p->log_x, b, sizeof b);
        float x = floorf(map_x(&m, xt[i])) + 0.5f;
        float g[4] = {x, m.top, x, m.bottom}, t[4] = {x, m.bottom, x, m.bottom + TICK_LEN};
        dc_scene_line(sc, g, 2, 1.0f, GRID_COLOR, clip);
        dc_scene_line(sc, t, 2, 1.0f, FRAME_COLOR, -1);
        dc_scene_text(sc, x, m.bottom + TICK_LEN + 3.0f + TICK_SCALE * 3.5f, b, TICK_SCALE, DC_ANCHOR_MIDDLE, 0,
                      TEXT_COLOR);
    }
    /* series */
    for (int i = 0; i < p->ns; i++) {
        const series *s = &p->s[i];
        if (s->kind == SERIES_LINE) {
            float *pts = malloc((size_t)(s->n > 0 ? s->n : 1) * 2 * sizeof(float));
            if (!pts) {
                if (sc->error == DC_OK) sc->error = DC_ERR(DC_ERR_NOMEM, "figure: line of %d points", s->n);
                return;
            }
            int k = 0;
            for (int j = 0; j <= s->n; j++) {
                float X = j < s->n ? map_x(&m, s->x[j]) : NAN, Y = j < s->n ? map_y(&m, s->y[j]) : NAN;
                if (isfinite(X) && isfinite(Y) && isfinite(s->x[j]) && isfinite(s->y[j])) {
                    pts[2 * k] = X;
                    pts[2 * k + 1] = Y;
                    k++;
                    continue;
                }
                if (k == 1) dc_scene_circle(sc, pts[0], pts[1], LINE_WIDTH, s->color, clip); /* a lone point */
                else if (k > 1) dc_scene_line(sc, pts, k, LINE_WIDTH, s->color, clip);
                k = 0;
            }
            free(pts);
        } else if (s->kind == SERIES_POINTS) {
            for (int j = 0; j < s->n; j++) {
                float X = map_x(&m, s->x[j]), Y = map_y(&m, s->y[j]);
                if (isfinite(X) && isfinite(Y) && isfinite(s->x[j]) && isfinite(s->y[j]))
                    dc_scene_circle(sc, X, Y, 3.0f, s->color, clip);
            }
        } else if (s->kind == SERIES_BARS) {
            double base = p->log_y ? m.ylo : 0.0;
            for (int j = 0; j < s->n; j++) {
                float xa = map_x(&m, s->x[j]), xb = map_x(&m, s->x[j + 1]), ya = map_y(&m, s->y[j]),
                      yb = map_y(&m, base);
                if (!isfinite(xa) || !isfinite(xb) || !isfinite(ya) || !isfinite(yb)) continue;
                dc_scene_rect(sc, fminf(xa, xb), fminf(ya, yb), fabsf(xb - xa), fabsf(yb - ya), s->color, 0.7f,
                              s->color, 1.0f, clip);
            }
        } else {
            for (int j = 0; j < s->n; j++) {
                const float *q = s->x + (size_t)j * 4;
                float pts[4] = {map_x(&m, q[0]), map_y(&m, q[1]), map_x(&m, q[2]), map_y(&m, q[3])};
                if (isfinite(pts[0]) && isfinite(pts[1]) && isfinite(pts[2]) && isfinite(pts[3]))
                    dc_scene_line(sc, pts, 2, 1.5f, s->color, clip);
            }
        }
    }
    dc_scene_rect(sc, m.left + 0.5f, m.top + 0.5f, W, H, 0xffffff, 0.0f, FRAME_COLOR, 1.0f, -1);
    draw_legend(sc, p, &m);
}

static void format_cell(float v, int integral, char *buf, size_t n) {
    if (!isfinite(v)) snprintf(buf, n, "-");
    else if (integral) snprintf(buf, n, "%.0f", (double)v);
    else snprintf(buf, n, "%.2g", (double)v);
}

static void draw_heatmap_panel(dc_scene *sc, const dc_plot *p, float x0, float y0, float w, float h) {
    float left, top, right, bottom;
    label_bands(sc, p, x0, y0, w, h, &left, &top, &right, &bottom);
    const int R = p->hm_rows, C = p->hm_cols;
    float vmin = FLT_MAX, vmax = -FLT_MAX;
    int integral = 1;
    for (int i = 0; i < R * C; i++) {
        float v = p->hm[i];
        if (!isfinite(v)) continue;
        vmin = fminf(vmin, v);
        vmax = fmaxf(vmax, v);
        if (v != floorf(v) || fabsf(v) > 1e7f) integral = 0;
    }
    if (vmin > vmax) vmin = vmax = 0.0f;
    /* colour bar on the right: bar, gap, labels */
    char lo_s[32], hi_s[32];
    format_cell(vmin, integral, lo_s, sizeof lo_s);
    format_cell(vmax, integral, hi_s, sizeof hi_s);
    float barw = 12.0f, cbw = barw + 6.0f + fmaxf(dc_font_width(lo_s, TICK_SCALE), dc_font_width(hi_s, TICK_SCALE));
    right -= cbw + 10.0f;
    float rw = 0.0f, cw = 0.0f;
    for (int i = 0; p->hm_rlab && i < R; i++) rw = fmaxf(rw, dc_font_width(p->hm_rlab[i], TICK_SCALE));
    for (int i = 0; p->hm_clab && i < C; i++) cw = fmaxf(cw, dc_font_width(p->hm_clab[i], TICK_SCALE));
    left += rw > 0 ? rw + 6.0f : 0.0f;
    int vertical_cols = cw > (right - left) / (float)C - 4.0f;
    bottom -= p->hm_clab ? (vertical_cols ? cw + 6.0f : TICK_SCALE * 7.0f + 6.0f) : 0.0f;
    if (right - left < (float)C || bottom - top < (float)R) return;
    float cellw = (right - left) / (float)C, cellh = (bottom - top) / (float)R;
    /* annotation size: as large as fits, no larger than tick labels */
    float ascale = TICK_SCALE;
    if (p->hm_annotate) {
        float widest = 0.0f;
        for (int i = 0; i < R * C; i++) {
            char b[32];
            format_cell(p->hm[i], integral, b, sizeof b);
            widest = fmaxf(widest, dc_font_width(b, 1.0f));
        }
        if (widest > 0.0f) ascale = fminf(ascale, (cellw - 4.0f) / widest);
        ascale = fminf(ascale, (cellh - 3.0f) / 7.0f);
    }
    for (int r = 0; r < R; r++) {
        float ya = roundf(top + cellh * (float)r), yb = roundf(top + cellh * (float)(r + 1));
        for (int c = 0; c < C; c++) {
            float xa = roundf(left + cellw * (float)c), xb = roundf(left + cellw * (float)(c + 1));
            float v = p->hm[r * C + c];
            uint32_t col = isfinite(v) ? dc_plot_colormap(vmax > vmin ? (v - vmin) / (vmax - vmin) : 0.5f) : 0xcccccc;
            dc_scene_rect(sc, xa, ya, xb - xa, yb - ya, col, 1.0f, 0, 0.0f, -1);
            if (p->hm_annotate && ascale >= 0.8f) {
                char b[32];
                format_cell(v, integral, b, sizeof b);
                dc_scene_text(sc, (xa + xb) / 2, (ya + yb) / 2, b, ascale, DC_ANCHOR_MIDDLE, 0,
                              luminance(col) < 0.5f ? 0xffffff : 0x111111);
            }
        }
    }
    for (int r = 0; p->hm_rlab && r < R; r++)
        dc_scene_text(sc, left - 5.0f, top + cellh * ((float)r + 0.5f), p->hm_rlab[r], TICK_SCALE, DC_ANCHOR_END, 0,
                      TEXT_COLOR);
    for (int c = 0; p->hm_clab && c < C; c++) {
        float x = left + cellw * ((float)c + 0.5f);
        if (vertical_cols) dc_scene_text(sc, x, bottom + 5.0f, p->hm_clab[c], TICK_SCALE, DC_ANCHOR_END, 1, TEXT_COLOR);
        else dc_scene_text(sc, x, bottom + 5.0f + TICK_SCALE * 3.5f, p->hm_clab[c], TICK_SCALE, DC_ANCHOR_MIDDLE, 0,
                           TEXT_COLOR);
    }
    dc_scene_rect(sc, roundf(left) - 0.5f, roundf(top) - 0.5f, roundf(right) - roundf(left) + 1.0f,
                  roundf(bottom) - roundf(top) + 1.0f, 0xffffff, 0.0f, FRAME_COLOR, 1.0f, -1);
    /* colour bar: 32 steps, dark (max) on top */
    float bx = right + 10.0f, steps = 32.0f;
    for (int k = 0; k < 32; k++) {
        float ya = roundf(top + (bottom - top) * (float)k / steps), yb = roundf(top + (bottom - top) * (float)(k + 1) / steps);
        dc_scene_rect(sc, bx, ya, barw, yb - ya, dc_plot_colormap(1.0f - ((float)k + 0.5f) / steps), 1.0f, 0, 0.0f, -1);
    }
    dc_scene_rect(sc, bx - 0.5f, roundf(top) - 0.5f, barw + 1.0f, roundf(bottom) - roundf(top) + 1.0f, 0xffffff, 0.0f,
                  FRAME_COLOR, 1.0f, -1);
    dc_scene_text(sc, bx + barw + 5.0f, top + TICK_SCALE * 3.5f, hi_s, TICK_SCALE, DC_ANCHOR_START, 0, TEXT_COLOR);
    dc_scene_text(sc, bx + barw + 5.0f, bottom - TICK_SCALE * 3.5f, lo_s, TICK_SCALE, DC_ANCHOR_START, 0, TEXT_COLOR);
}

static void draw_image_panel(dc_scene *sc, const dc_plot *p, float x0, float y0, float w, float h) {
    float top = y0 + 3.0f, bottom = y0 + h - 3.0f, left = x0 + 3.0f, right = x0 + w - 3.0f;
    if (p->title && p->title[0]) {
        float s = fminf(TITLE_SCALE * 0.8f, fmaxf(1.0f, (h - 6.0f) / 7.0f / 6.0f));
        fit_text(sc, x0 + w / 2, top + s * 3.5f + 1.0f, p->title, s, 1.0f, w - 6.0f, DC_ANCHOR_MIDDLE, 0, TEXT_COLOR);
        top += s * 7.0f + 5.0f;
    }
    if (p->xlabel && p->xlabel[0]) {
        fit_text(sc, x0 + w / 2, bottom - 3.5f * TICK_SCALE, p->xlabel, TICK_SCALE, 1.0f, w - 6.0f, DC_ANCHOR_MIDDLE, 0,
                 TEXT_COLOR);
        bottom -= TICK_SCALE * 7.0f + 4.0f;
    }
    float aw = right - left, ah = bottom - top;
    if (aw < 1 || ah < 1) return;
    float s = fminf(aw / (float)p->img_w, ah / (float)p->img_h);
    if (s >= 1.0f) s = floorf(s); /* whole pixels stay crisp */
    float iw = (float)p->img_w * s, ih = (float)p->img_h * s;
    float ix = roundf(left + (aw - iw) / 2), iy = roundf(top + (ah - ih) / 2);
    dc_scene_image(sc, ix, iy, roundf(iw), roundf(ih), p->img, p->img_w, p->img_h);
    dc_scene_rect(sc, ix - 0.5f, iy - 0.5f, roundf(iw) + 1.0f, roundf(ih) + 1.0f, 0xffffff, 0.0f, 0xaaaaaa, 1.0f, -1);
}

static dc_status layout(const dc_figure *f, dc_scene *sc) {
    if (!f) return DC_ERR(DC_ERR_ARG, "figure: NULL");
    float tb = title_band(f->title);
    dc_scene_init(sc, f->cols * f->pw, f->rows * f->ph + (int)tb);
    if (tb > 0) fit_text(sc, (float)sc->width / 2, PAD + FIG_TITLE_SCALE * 3.5f, f->title, FIG_TITLE_SCALE, 1.0f,
                         (float)sc->width - 2 * PAD, DC_ANCHOR_MIDDLE, 0, TEXT_COLOR);
    for (int r = 0; r < f->rows; r++)
        for (int c = 0; c < f->cols; c++) {
            const dc_plot *p = &f->panels[r * f->cols + c];
            float x0 = (float)(c * f->pw), y0 = tb + (float)(r * f->ph);
            if (p->img) draw_image_panel(sc, p, x0, y0, (float)f->pw, (float)f->ph);
            else if (p->hm) draw_heatmap_panel(sc, p, x0, y0, (float)f->pw, (float)f->ph);
            else if (p->ns || p->title || p->xlabel || p->ylabel) draw_axes_panel(sc, p, x0, y0, (float)f->pw, (float)f->ph);
        }
    if (sc->error != DC_OK) {
        dc_status s = sc->error;
        dc_scene_release(sc);
        return s;
    }
    return DC_OK;
}

/* ------------------------------------------------------------------ output */
int dc_plot_png_supported(void) {
#if defined(DC_HAVE_PNG) || defined(DC_HAVE_ZLIB)
    return 1;
#else
    return 0;
#endif
}

dc_status dc_figure_render_rgb(const dc_figure *f, unsigned char **rgb, int *width, int *height) {
    if (!rgb || !width || !height) return DC_ERR(DC_ERR_ARG, "dc_figure_render_rgb: NULL output");
    *rgb = NULL;
    dc_scene sc;
    DC_TRY(layout(f, &sc));
    dc_status s = dc_scene_raster(&sc, rgb);
    *width = sc.width;
    *height = sc.height;
    dc_scene_release(&sc);
    return s;
}

dc_status dc_figure_encode(const dc_figure *f, const char *format, unsigned char **bytes, size_t *n) {
    if (!f || !format || !bytes || !n) return DC_ERR(DC_ERR_ARG, "dc_figure_encode: NULL argument");
    *bytes = NULL;
    *n = 0;
    int png = !strcmp(format, "png"), svg = !strcmp(format, "svg");
    if (!png && !svg) return DC_ERR(DC_ERR_ARG, "figure format '%s': want \"png\" or \"svg\"", format);
    if (png && !dc_plot_png_supported())
        return DC_ERR(DC_ERR_ARG, "PNG figures need libpng or zlib, and this deepc was built with neither (install "
                      "libpng-dev or zlib1g-dev and rebuild, or save as .svg)");
    dc_scene sc;
    DC_TRY(layout(f, &sc));
    dc_status s;
    if (svg) {
        char *text = NULL;
        s = dc_scene_svg(&sc, &text, n);
        *bytes = (unsigned char *)text;
    } else {
        unsigned char *rgb = NULL;
        s = dc_scene_raster(&sc, &rgb);
        if (s == DC_OK) s = dc_png_encode_auto(rgb, sc.width, sc.height, bytes, n);
        free(rgb);
    }
    dc_scene_release(&sc);
    return s;
}

static int has_ext(const char *path, const char *ext) {
    size_t n = strlen(path), e = strlen(ext);
    if (n < e) return 0;
    for (size_t i = 0; i < e; i++) {
        char c = path[n - e + i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != ext[i]) return 0;
    }
    return 1;
}

dc_status dc_figure_save(const dc_figure *f, const char *path) {
    if (!f || !path) return DC_ERR(DC_ERR_ARG, "dc_figure_save: NULL figure or path");
    const char *fmt = has_ext(path, ".png") ? "png" : has_ext(path, ".svg") ? "svg" : NULL;
    if (!fmt) return DC_ERR(DC_ERR_ARG, "%s: a figure is saved as .png or .svg (by the name's extension)", path);
    if (!strcmp(fmt, "png") && !dc_plot_png_supported())
        return DC_ERR(DC_ERR_ARG, "%s: PNG figures need libpng or zlib, and this deepc was built with neither "
                      "(install libpng-dev or zlib1g-dev and rebuild, or save as .svg)", path);
    unsigned char *bytes;
    size_t n;
    DC_TRY(dc_figure_encode(f, fmt, &bytes, &n));
    dc_chunk ch = {bytes, n};
    dc_status s = dc_file_write_atomic(path, &ch, 1);
    free(bytes);
    return s;
}
