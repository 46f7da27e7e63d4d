/* lab.c — the registry of labs and what every lab shares: options, output directories, CSV text
 * written atomically.  Each registry entry runs one lab with the textbook's settings: compute,
 * write CSV + figures, print the table.  The experiments themselves live in lab_*.c. */
#include "lab/lab.h"
#include "lab/lab_fig.h"

#include "io/atomic.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void dc_lab_opts_defaults(dc_lab_opts *o) {
    memset(o, 0, sizeof *o);
    o->data_dir = DC_LAB_DATA;
    o->seed = 1;
    o->threads = 0;
    o->rf_channels = 64;
}

static const char *data_dir(const dc_lab_opts *o) { return o->data_dir ? o->data_dir : DC_LAB_DATA; }
/* Threads when not set: 2 for the mlp of optimizers-fashion; 1 for the 100-unit nets of the other
 * training labs, whose matrices are too small to gain from a second thread (measured: the overfit
 * lab took 22 s on one thread and 92 s on two on a busy machine, with identical numbers). */
static int threads(const dc_lab_opts *o) { return o->threads > 0 ? o->threads : 2; }
static int threads_small(const dc_lab_opts *o) { return o->threads > 0 ? o->threads : 1; }

/* ------------------------------------------------------------------ the labs with default settings */
static dc_status run_optimizers(const dc_lab_opts *o) {
    dc_lab_paths_config c;
    dc_lab_paths_defaults(&c);
    dc_lab_path *p = malloc(DC_OPTIM_COUNT * sizeof *p); /* 1.6 KB each: not on the stack */
    if (!p) return DC_ERR(DC_ERR_NOMEM, "lab optimizers: paths");
    dc_status s = dc_lab_paths_run(&c, p);
    if (s == DC_OK) s = dc_lab_paths_write(p, o->out_dir);
    if (s == DC_OK && o->report) dc_lab_paths_print(p, o->report);
    free(p);
    return s;
}

static dc_status run_curves(const dc_lab_opts *o) {
    dc_lab_curves_config c;
    dc_lab_curves_defaults(&c);
    c.data_dir = data_dir(o);
    c.threads = threads(o);
    c.seed = o->seed;
    dc_lab_curves r;
    dc_status s = dc_lab_curves_run(&c, &r);
    if (s == DC_OK) s = dc_lab_curves_write(&r, o->out_dir);
    if (s == DC_OK && o->report) dc_lab_curves_print(&r, o->report);
    dc_lab_curves_free(&r);
    return s;
}

static dc_status run_init(const dc_lab_opts *o) {
    dc_lab_init_config c;
    dc_lab_init_defaults(&c);
    c.seed = o->seed;
    dc_lab_init_result *r = malloc(sizeof *r);
    if (!r) return DC_ERR(DC_ERR_NOMEM, "lab init: result");
    dc_status s = dc_lab_init_run(&c, r);
    if (s == DC_OK) s = dc_lab_init_write(r, o->out_dir);
    if (s == DC_OK && o->report) dc_lab_init_print(r, o->report);
    free(r);
    return s;
}

static dc_status run_batchnorm(const dc_lab_opts *o) {
    dc_lab_bn_config c;
    dc_lab_bn_defaults(&c);
    c.data_dir = data_dir(o);
    c.threads = threads_small(o);
    c.seed = o->seed;
    dc_lab_bn_result r;
    dc_status s = dc_lab_bn_run(&c, &r);
    if (s == DC_OK) s = dc_lab_bn_write(&r, o->out_dir);
    if (s == DC_OK && o->report) dc_lab_bn_print(&r, o->report);
    dc_lab_bn_free(&r);
    return s;
}

static dc_status run_overfit(const dc_lab_opts *o) {
    dc_lab_overfit_config c;
    dc_lab_overfit_defaults(&c);
    c.data_dir = data_dir(o);
    c.threads = threads_small(o);
    c.seed = o->seed;
    dc_lab_overfit_result r;
    dc_status s = dc_lab_overfit_run(&c, &r);
    if (s == DC_OK) s = dc_lab_overfit_write(&r, o->out_dir);
    if (s == DC_OK && o->report) dc_lab_overfit_print(&r, o->report);
    dc_lab_overfit_free(&r);
    return s;
}

static dc_status run_search(const dc_lab_opts *o) {
    dc_lab_search_config c;
    dc_lab_search_defaults(&c);
    c.data_dir = data_dir(o);
    c.threads = threads_small(o);
    c.seed = o->seed;
    dc_lab_search_result r;
    dc_status s = dc_lab_search_run(&c, &r);
    if (s == DC_OK) s = dc_lab_search_write(&r, o->out_dir);
    if (s == DC_OK && o->report) dc_lab_search_print(&r, o->report);
    dc_lab_search_free(&r);
    return s;
}

static dc_status run_rf(const dc_lab_opts *o) {
    dc_lab_rf_result r;
    DC_TRY(dc_lab_rf_run(o->rf_channels > 0 ? o->rf_channels : 64, o->rf_given, o->rf_input, o->rf_kernel,
                         o->rf_stride, o->rf_pad, o->seed, &r));
    DC_TRY(dc_lab_rf_write(&r, o->out_dir));
    if (o->report) dc_lab_rf_print(&r, o->report);
    return DC_OK;
}

static const dc_lab_info lab_table[] = {
    {"optimizers", "paths of SGD, Momentum, AdaGrad, RMSProp and Adam on f(x,y) = x^2/20 + y^2 over its contours",
     run_optimizers},
    {"optimizers-fashion", "training-loss curves of the five optimizers on the mlp (Fashion-MNIST)", run_curves},
    {"init", "activation histograms of a 5-layer net: std 1, 0.01, Xavier, He x sigmoid, tanh, ReLU", run_init},
    {"batchnorm", "training accuracy with and without Batch Normalization over 16 initial weight scales",
     run_batchnorm},
    {"overfit", "training vs test accuracy on 300 images: none, weight decay 0.1, Dropout 0.15", run_overfit},
    {"hyperparams", "random search of learning rate and weight decay, validation accuracy per trial",
     run_search},
    {"receptive-field", "two 3x3 vs one 5x5 and three 3x3 vs one 7x7 convolutions; the output-size formula",
     run_rf},
};

int dc_lab_count(void) { return (int)(sizeof lab_table / sizeof lab_table[0]); }
const dc_lab_info *dc_lab_at(int i) { return i >= 0 && i < dc_lab_count() ? &lab_table[i] : NULL; }

dc_status dc_lab_find(const char *name, const dc_lab_info **out) {
    if (out) *out = NULL;
    for (int i = 0; i < dc_lab_count(); i++)
        if (name && strcmp(name, lab_table[i].name) == 0) {
            if (out) *out = &lab_table[i];
            return DC_OK;
        }
    char known[256] = "";
    for (int i = 0; i < dc_lab_count(); i++) {
        if (i) strncat(known, ", ", sizeof known - strlen(known) - 1);
        strncat(known, lab_table[i].name, sizeof known - strlen(known) - 1);
    }
    return DC_ERR(DC_ERR_ARG, "unknown lab '%s' (known labs: %s)", name ? name : "(null)", known);
}

dc_status dc_lab_run(const char *name, const dc_lab_opts *o) {
    const dc_lab_info *info;
    DC_TRY(dc_lab_find(name, &info));
    dc_lab_opts opts;
    if (o) opts = *o;
    else dc_lab_opts_defaults(&opts);
    char dir[1024];
    if (!opts.out_dir) {
        snprintf(dir, sizeof dir, "lab-%s", info->name);
        opts.out_dir = dir;
    }
    DC_TRY(dc_lab_mkdir(opts.out_dir));
    return info->run(&opts);
}

/* ------------------------------------------------------------------ helpers */
dc_status dc_lab_mkdir(const char *dir) { return dc_mkdir_p(dir); }

void dc_lab_text_printf(dc_lab_text *t, const char *fmt, ...) {
    if (t->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = t->cap - t->len;
        int n = vsnprintf(t->buf ? t->buf + t->len : NULL, t->buf ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0) { t->failed = 1; return; }
        if (t->buf && (size_t)n < room) { t->len += (size_t)n; return; }
        size_t cap = t->cap ? t->cap * 2 : 4096;
        while (cap < t->len + (size_t)n + 1) cap *= 2;
        char *nb = realloc(t->buf, cap);
        if (!nb) { t->failed = 1; return; }
        t->buf = nb;
        t->cap = cap;
    }
}

dc_status dc_lab_text_save(dc_lab_text *t, const char *dir, const char *name) {
    char path[1200];
    dc_status s = DC_OK;
    if (t->failed) s = DC_ERR(DC_ERR_NOMEM, "lab: out of memory while formatting %s", name);
    else if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        s = DC_ERR(DC_ERR_ARG, "lab: path '%s/%s' too long", dir, name);
    else {
        dc_chunk c = {t->buf ? t->buf : "", t->len};
        s = dc_file_write_atomic(path, &c, 1);
    }
    free(t->buf);
    memset(t, 0, sizeof *t);
    return s;
}

dc_status dc_lab_figure_save(dc_figure *f, const char *dir, const char *base) {
    if (!f) return DC_ERR(DC_ERR_NOMEM, "lab: cannot create figure '%s'", base);
    static const char *const ext[2] = {"png", "svg"};
    dc_status s = DC_OK;
    for (int i = 0; i < 2 && s == DC_OK; i++) {
        char path[1200];
        if (snprintf(path, sizeof path, "%s/%s.%s", dir, base, ext[i]) >= (int)sizeof path)
            s = DC_ERR(DC_ERR_ARG, "lab: path '%s/%s.%s' too long", dir, base, ext[i]);
        else
            s = dc_figure_save(f, path);
    }
    dc_figure_free(f);
    return s;
}
