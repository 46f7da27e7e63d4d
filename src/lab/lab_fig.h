/* lab_fig.h — what the lab files share privately: saving a figure as PNG and SVG. */
#ifndef DC_LAB_FIG_H
#define DC_LAB_FIG_H

#include "lab/lab.h"
#include "viz/plot.h"

/* Write f as dir/base.png and dir/base.svg, then free f.  f NULL (dc_figure_new failed) is
 * DC_ERR_NOMEM naming the figure. */
dc_status dc_lab_figure_save(dc_figure *f, const char *dir, const char *base);

#endif
