/* plot.c — the `deepc plot` command: a run directory's training curves as pictures.
 * Reads RUN_DIR/metrics.csv (one line per epoch) and RUN_DIR/steps.csv (the training loss every
 * few steps, when the run wrote it) and writes loss.png/.svg and accuracy.png/.svg.  Only flag
 * parsing and printing here; the figures are built by the library (src/viz/inspect.h). */
#include "deepc.h"
#include "viz/inspect.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int dc_cli_plot(int argc, char **argv);

static const char *PLOT_HELP =
    "usage: deepc plot RUN_DIR [--out DIR] [--smooth N] [--format png,svg]\n"
    "Draw the training curves of a run directory written by 'deepc train --out RUN_DIR':\n"
    "  loss.png / loss.svg          training loss every 10 steps (smoothed by an exponential moving\n"
    "                               average over about N records), training loss per epoch, validation loss\n"
    "  accuracy.png / accuracy.svg  training and validation accuracy per epoch\n\n"
    "  --out DIR      where to write the pictures (created if missing)     [RUN_DIR]\n"
    "  --smooth N     moving-average window in records of steps.csv, 1 = raw [20]\n"
    "  --format LIST  png, svg or png,svg                                  [png,svg]\n";

static int plot_fail(void) {
    fprintf(stderr, "deepc plot: %s\n", dc_last_error());
    return 1;
}

static int plot_usage(const char *fmt, const char *arg) {
    fprintf(stderr, "deepc plot: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see 'deepc plot --help')\n");
    return 2;
}

static dc_status make_dir(const char *dir) {
    struct stat st;
    if (stat(dir, &st) == 0) return S_ISDIR(st.st_mode) ? DC_OK : DC_ERR(DC_ERR_IO, "'%s' is not a directory", dir);
    if (mkdir(dir, 0755) != 0) return DC_ERR(DC_ERR_IO, "cannot create directory '%s': %s", dir, strerror(errno));
    return DC_OK;
}

int dc_cli_plot(int argc, char **argv) {
    const char *run = NULL, *out = NULL, *format = "png,svg";
    long smooth = 20;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(PLOT_HELP, stdout); return 0; }
        if (a[0] != '-') {
            if (run) return plot_usage("more than one run directory ('%s')", a);
            run = a;
            continue;
        }
        if (!v) return plot_usage("unknown option or missing value: '%s'", a);
        i++;
        if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--format")) format = v;
        else if (!strcmp(a, "--smooth")) {
            char *end;
            errno = 0;
            smooth = strtol(v, &end, 10);
            if (errno || *end || !*v || smooth < 1 || smooth > 100000)
                return plot_usage("--smooth needs an integer in 1..100000, got '%s'", v);
        } else return plot_usage("unknown option '%s'", a);
    }
    if (!run) return plot_usage("%s", "RUN_DIR is required");
    int png = strstr(format, "png") != NULL, svg = strstr(format, "svg") != NULL;
    if (!png && !svg) return plot_usage("--format '%s': give png, svg or png,svg", format);
    if (png && !dc_plot_png_supported()) {
        fprintf(stderr, "deepc plot: this deepc was built without libpng and zlib: writing SVG only\n");
        png = 0;
        svg = 1;
    }
    if (!out) out = run;
    if (make_dir(out) != DC_OK) return plot_fail();
    dc_figure *loss, *acc;
    if (dc_viz_run_curves(run, (int)smooth, &loss, &acc) != DC_OK) return plot_fail();
    int rc = 0;
    const dc_figure *figs[2] = {loss, acc};
    const char *names[2] = {"loss", "accuracy"};
    for (int k = 0; k < 2 && !rc; k++)
        for (int e = 0; e < 2 && !rc; e++) {
            if ((e == 0 && !png) || (e == 1 && !svg)) continue;
            char path[1200];
            snprintf(path, sizeof path, "%s/%s.%s", out, names[k], e == 0 ? "png" : "svg");
            if (dc_figure_save(figs[k], path) != DC_OK) rc = plot_fail();
            else printf("wrote %s\n", path);
        }
    dc_figure_free(loss);
    dc_figure_free(acc);
    return rc;
}
