/* viz.c — the `deepc viz` command (filters, features, misclassified) and the confusion-matrix heat
 * map of `deepc eval --heatmap`: pictures of a trained checkpoint.  Only flag parsing, data loading
 * and printing here; the figures come from the library (src/viz/inspect.h). */
#include "data/data.h"
#include "deepc.h"
#include "viz/inspect.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define VIZ_DEFAULT_DATA "/usr/share/datasets/fashion-mnist"

int dc_cli_viz(int argc, char **argv);
int dc_cli_eval_heatmap(const char *path, const char *checkpoint, const char *split, const dc_eval_result *r);

static const char *VIZ_HELP =
    "usage: deepc viz filters       --checkpoint FILE [--out FILE.png]\n"
    "       deepc viz features      --checkpoint FILE --index I [--out DIR] [--channels N]\n"
    "       deepc viz misclassified --checkpoint FILE [--count N] [--out FILE.png] [--limit N]\n"
    "Pictures of a trained network (docs/visualization.md):\n"
    "  filters        the first convolution's kernels, one panel per output channel, each scaled to\n"
    "                 its own range                                          [filters.png]\n"
    "  features       test image I's feature maps after every conv and pooling layer, one picture\n"
    "                 per layer (NN_layer.png), a panel per channel (at most --channels, [64])\n"
    "                                                                        [features/]\n"
    "  misclassified  the first N test images the network gets wrong, titled 'pred X / true Y'\n"
    "                 (--count [36]; --limit: look at the first N test images only)\n"
    "                                                                        [misclassified.png]\n"
    "Common: --data DIR (MNIST-format, [" VIZ_DEFAULT_DATA "]), --threads N [2].\n"
    "The output's extension picks PNG or SVG.\n";

static int viz_fail(void) {
    fprintf(stderr, "deepc viz: %s\n", dc_last_error());
    return 1;
}

static int viz_usage(const char *fmt, const char *arg) {
    fprintf(stderr, "deepc viz: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see 'deepc viz --help')\n");
    return 2;
}

static int viz_long(const char *flag, const char *v, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || !*v || errno || *end || x < lo || x > hi) {
        fprintf(stderr, "deepc viz: %s needs an integer in %ld..%ld, got '%s'\n", flag, lo, hi, v ? v : "");
        return 1;
    }
    *out = x;
    return 0;
}

static int save(const dc_figure *f, const char *path) {
    if (dc_figure_save(f, path) != DC_OK) return viz_fail();
    printf("wrote %s\n", path);
    return 0;
}

static int cmd_filters(const char *ckpt, const char *out, int threads) {
    dc_viz_model m;
    if (dc_viz_model_open(ckpt, 0, 0, 0, 1, threads, &m) != DC_OK) return viz_fail();
    dc_figure *f;
    int rc = dc_viz_filters(&m, &f) != DC_OK ? viz_fail() : 0;
    if (!rc) {
        rc = save(f, out ? out : "filters.png");
        dc_figure_free(f);
    }
    dc_viz_model_close(&m);
    return rc;
}

static int cmd_features(const char *ckpt, const char *data, long index, const char *out, int channels, int threads) {
    dc_dataset *ds = NULL;
    if (dc_mnist_load(data, "test", DC_VIZ_MEAN, DC_VIZ_STD, index + 1, &ds) != DC_OK) return viz_fail();
    if (ds->n <= index) {
        DC_ERR(DC_ERR_ARG, "--index %ld out of range: the test set in %s has %lld images (0..%lld)", index, data,
               (long long)ds->n, (long long)ds->n - 1);
        dc_dataset_free(ds);
        return viz_fail();
    }
    dc_viz_model m;
    if (dc_viz_model_open(ckpt, ds->c, ds->h, ds->w, 1, threads, &m) != DC_OK) {
        dc_dataset_free(ds);
        return viz_fail();
    }
    const char *dir = out ? out : "features";
    struct stat st;
    int rc = 0;
    if (stat(dir, &st) != 0 && mkdir(dir, 0755) != 0) {
        DC_ERR(DC_ERR_IO, "cannot create directory '%s': %s", dir, strerror(errno));
        rc = viz_fail();
    }
    char what[96], cb[32];
    snprintf(what, sizeof what, "test image %ld (%s)", index,
             dc_viz_class_name(m.classes, ds->labels[index], cb, sizeof cb));
    const int64_t per = (int64_t)ds->c * ds->h * ds->w;
    dc_figure **figs = NULL;
    char **names = NULL;
    int n = 0;
    if (!rc && dc_viz_features(&m, ds->images + index * per, what, channels, &figs, &names, &n) != DC_OK) rc = viz_fail();
    for (int i = 0; i < n && !rc; i++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s.png", dir, names[i]);
        if (!dc_plot_png_supported()) snprintf(path, sizeof path, "%s/%s.svg", dir, names[i]);
        rc = save(figs[i], path);
    }
    if (!rc) { /* the input itself, for reference */
        dc_figure *f;
        char path[1200];
        snprintf(path, sizeof path, "%s/00_input.%s", dir, dc_plot_png_supported() ? "png" : "svg");
        if (dc_viz_example(ds, index, what, 240, &f) != DC_OK) rc = viz_fail();
        else {
            rc = save(f, path);
            dc_figure_free(f);
        }
    }
    dc_viz_figures_free(figs, names, n);
    dc_viz_model_close(&m);
    dc_dataset_free(ds);
    return rc;
}

static int cmd_misclassified(const char *ckpt, const char *data, long count, long limit, const char *out,
                             int threads) {
    dc_dataset *ds = NULL;
    if (dc_mnist_load(data, "test", DC_VIZ_MEAN, DC_VIZ_STD, limit, &ds) != DC_OK) return viz_fail();
    dc_viz_model m;
    if (dc_viz_model_open(ckpt, ds->c, ds->h, ds->w, 256, threads, &m) != DC_OK) {
        dc_dataset_free(ds);
        return viz_fail();
    }
    int *pred = NULL, found = 0, rc = 0;
    int64_t n = 0;
    dc_figure *f = NULL;
    if (dc_viz_predict(&m, ds, 0, &pred, &n) != DC_OK) rc = viz_fail();
    else if (dc_viz_misclassified(ds, pred, n, m.classes, (int)count, &f, &found) != DC_OK) rc = viz_fail();
    else {
        rc = save(f, out ? out : "misclassified.png");
        if (!rc) printf("%d misclassified images shown\n", found);
    }
    dc_figure_free(f);
    free(pred);
    dc_viz_model_close(&m);
    dc_dataset_free(ds);
    return rc;
}

int dc_cli_viz(int argc, char **argv) {
    if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h") || !strcmp(argv[0], "help")) {
        fputs(VIZ_HELP, argc < 1 ? stderr : stdout);
        return argc < 1 ? 2 : 0;
    }
    const char *what = argv[0], *ckpt = NULL, *out = NULL, *data = VIZ_DEFAULT_DATA;
    long index = -1, count = 36, limit = 0, threads = 2, channels = 64;
    if (strcmp(what, "filters") && strcmp(what, "features") && strcmp(what, "misclassified"))
        return viz_usage("unknown picture '%s' (filters, features, misclassified)", what);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(VIZ_HELP, stdout); return 0; }
        if (!v) return viz_usage("unknown option or missing value: '%s'", a);
        i++;
        if (!strcmp(a, "--checkpoint")) ckpt = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--data")) data = v;
        else if (!strcmp(a, "--index")) { if (viz_long(a, v, 0, 100000000L, &index)) return 2; }
        else if (!strcmp(a, "--count")) { if (viz_long(a, v, 1, 1024, &count)) return 2; }
        else if (!strcmp(a, "--limit")) { if (viz_long(a, v, 1, 100000000L, &limit)) return 2; }
        else if (!strcmp(a, "--channels")) { if (viz_long(a, v, 1, 1024, &channels)) return 2; }
        else if (!strcmp(a, "--threads")) { if (viz_long(a, v, 1, 256, &threads)) return 2; }
        else return viz_usage("unknown option '%s'", a);
    }
    if (!ckpt) return viz_usage("%s", "--checkpoint FILE is required");
    if (!strcmp(what, "filters")) return cmd_filters(ckpt, out, (int)threads);
    if (!strcmp(what, "features")) {
        if (index < 0) return viz_usage("%s", "features needs --index I (a test-set image)");
        return cmd_features(ckpt, data, index, out, (int)channels, (int)threads);
    }
    return cmd_misclassified(ckpt, data, count, limit, out, (int)threads);
}

int dc_cli_eval_heatmap(const char *path, const char *checkpoint, const char *split, const dc_eval_result *r) {
    char title[320];
    snprintf(title, sizeof title, "confusion matrix: %s on %s (%lld examples, accuracy %.4f)", checkpoint, split,
             (long long)r->n, r->acc);
    dc_figure *f;
    if (dc_viz_confusion(r->confusion, 10, title, &f) != DC_OK) {
        fprintf(stderr, "deepc eval: %s\n", dc_last_error());
        return 1;
    }
    dc_status s = dc_figure_save(f, path);
    dc_figure_free(f);
    if (s != DC_OK) {
        fprintf(stderr, "deepc eval: %s\n", dc_last_error());
        return 1;
    }
    printf("wrote %s\n", path);
    return 0;
}
