/* plot.h — figures drawn by deepc itself: line, point, histogram and contour charts, heat maps
 * and image panels, laid out in a grid of panels and written as PNG (raster, own renderer) or
 * SVG (vector) by the file name's extension.
 *
 * A figure holds rows x cols panels; each panel is one set of axes with its own title, labels,
 * ticks and legend. Data ranges are found from what was added unless fixed with the *_range
 * calls. Colours are picked from one fixed palette in the order series are added, so the same
 * run always gives the same picture.
 *
 *   dc_figure *f = dc_figure_new(1, 1, 640, 420, "ResNet-20 on Fashion-MNIST");
 *   dc_plot *p = dc_figure_panel(f, 0, 0);
 *   dc_plot_labels(p, NULL, "epoch", "accuracy");
 *   dc_plot_line(p, epoch, train_acc, n, "training");
 *   dc_plot_line(p, epoch, val_acc, n, "validation");
 *   dc_figure_save(f, "accuracy.png");   // and/or "accuracy.svg"
 *   dc_figure_free(f);
 */
#ifndef DC_VIZ_PLOT_H
#define DC_VIZ_PLOT_H

#include "deepc.h"

typedef struct dc_figure dc_figure;
typedef struct dc_plot dc_plot; /* one panel of a figure; owned by the figure */

/* rows x cols panels of panel_w x panel_h pixels each; title may be NULL. NULL on bad sizes. */
dc_figure *dc_figure_new(int rows, int cols, int panel_w, int panel_h, const char *title);
void dc_figure_free(dc_figure *f);
dc_plot *dc_figure_panel(dc_figure *f, int row, int col);
/* Writes PNG or SVG, chosen by the extension (.png / .svg); the file is replaced atomically. */
dc_status dc_figure_save(const dc_figure *f, const char *path);

/* Any of the strings may be NULL. */
void dc_plot_labels(dc_plot *p, const char *title, const char *xlabel, const char *ylabel);
void dc_plot_xrange(dc_plot *p, float lo, float hi); /* fixed axis range instead of the data's */
void dc_plot_yrange(dc_plot *p, float lo, float hi);
void dc_plot_log_x(dc_plot *p, int on); /* logarithmic axis (data must be > 0) */
void dc_plot_log_y(dc_plot *p, int on);
void dc_plot_legend(dc_plot *p, int on); /* on by default when some series has a label */

/* Series. label NULL: not listed in the legend. Non-finite values break a line / are skipped. */
dc_status dc_plot_line(dc_plot *p, const float *x, const float *y, int n, const char *label);
dc_status dc_plot_points(dc_plot *p, const float *x, const float *y, int n, const char *label);
/* Histogram bars: bin i spans [edges[i], edges[i+1]) with height counts[i]; nbins+1 edges. */
dc_status dc_plot_bars(dc_plot *p, const float *edges, const float *counts, int nbins, const char *label);
/* Contour lines of z (ny rows x nx columns, row 0 at y0) sampled on a regular grid over
 * [x0, x1] x [y0, y1], at the given levels. */
dc_status dc_plot_contour(dc_plot *p, const float *z, int nx, int ny, float x0, float x1, float y0,
                          float y1, const float *levels, int nlevels);
/* Heat map of a rows x cols matrix (row 0 at the top), optional row/column labels (NULL), values
 * written in the cells when annotate is set (e.g. a confusion matrix). */
dc_status dc_plot_heatmap(dc_plot *p, const float *values, int rows, int cols,
                          const char *const *row_labels, const char *const *col_labels, int annotate);
/* An image in the panel (no axes): h x w pixels, channels 1 (grey) or 3 (RGB), CHW order, values
 * scaled to [lo, hi] -> [black, white]; lo == hi: scaled by the image's own min and max. */
dc_status dc_plot_image(dc_plot *p, const float *pixels, int channels, int h, int w, float lo, float hi);

/* ------------------------------------------------------------------ extras
 * Also usable by callers (the report inlines figures; tests check the numbers behind them). */

/* Bytes of the figure as PNG or SVG (format "png" or "svg"); *bytes is malloc'ed, caller frees. */
dc_status dc_figure_encode(const dc_figure *f, const char *format, unsigned char **bytes, size_t *n);
/* The figure rendered to 8-bit RGB (interleaved, height x width x 3, malloc'ed), as the PNG has it. */
dc_status dc_figure_render_rgb(const dc_figure *f, unsigned char **rgb, int *width, int *height);
/* 1 when this build writes PNG (libpng or zlib); SVG always works. */
int dc_plot_png_supported(void);
/* Colours: the i-th series colour (0xRRGGBB, the palette repeats after 10) and the heat-map colour
 * of t in [0, 1] (light for 0, dark for 1; luminance falls monotonically with t). */
uint32_t dc_plot_palette(int i);
uint32_t dc_plot_colormap(float t);

/* "Nice" ticks for [lo, hi]: the step is 1, 2 or 5 x 10^k, the smallest that gives at most
 * max_ticks ticks in [lo, hi]; writes the ticks (multiples of the step inside [lo, hi]) to
 * ticks[0..cap) and returns their count (0 for a bad range); *step may be NULL. */
int dc_plot_ticks(double lo, double hi, int max_ticks, double *ticks, int cap, double *step);
/* The axis range drawn for data in [lo, hi]: widened to multiples of the tick step (linear), or to
 * 1/2/5 x 10^k values (log); an empty range is widened around its value. */
void dc_plot_nice_range(double lo, double hi, int log_axis, double *out_lo, double *out_hi);

/* Marching squares: the segments of the contour z = level of z (ny rows x nx columns, row 0 at
 * y0) on the grid over [x0, x1] x [y0, y1], in data units, as *nseg groups of 4 floats
 * (xa, ya, xb, yb); *segs is malloc'ed (NULL when there are none), caller frees.  Saddle cells
 * are resolved by the mean of their corners. */
dc_status dc_contour_segments(const float *z, int nx, int ny, float x0, float x1, float y0, float y1, float level,
                              float **segs, int *nseg);

#endif
