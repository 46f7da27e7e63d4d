/* report.c — the `deepc report` command: one self-contained HTML page about a training run.
 * It shows the command line and options (RUN_DIR/run.txt), the model's layer table (what
 * `deepc summary` prints), the loss and accuracy curves (inline SVG), the best checkpoint's
 * confusion matrix on the test set, its first-layer filters (conv models), sample test images with
 * their top-3 probabilities and a grid of misclassified images (PNG as data: URIs).  Nothing is
 * loaded from elsewhere when the page is opened.  The figures come from the library
 * (src/viz/inspect.h); this file writes HTML. */
#include "data/data.h"
#include "deepc.h"
#include "io/atomic.h"
#include "viz/inspect.h"
#include "viz/runlog.h"
#include "viz/scene.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define REPORT_DEFAULT_DATA "/usr/share/datasets/fashion-mnist"

int dc_cli_report(int argc, char **argv);

static const char *REPORT_HELP =
    "usage: deepc report RUN_DIR [--out FILE.html] [--checkpoint FILE] [--data DIR] [--test-limit N]\n"
    "                    [--samples N] [--smooth N] [--threads N]\n"
    "Write one self-contained HTML page about a run directory of 'deepc train --out RUN_DIR': the\n"
    "command line and options, the model's layers, the loss and accuracy curves, the confusion\n"
    "matrix of the best checkpoint on the test set, first-layer filters (conv models), sample test\n"
    "images with their top-3 probabilities and misclassified images.  Images are inlined (SVG and\n"
    "base64 PNG), so the file can be mailed or archived alone.\n\n"
    "  --out FILE        [RUN_DIR/report.html]\n"
    "  --checkpoint FILE the checkpoint to evaluate                     [RUN_DIR/best.safetensors]\n"
    "  --data DIR        MNIST-format test set                          [" REPORT_DEFAULT_DATA "]\n"
    "  --test-limit N    evaluate the first N test images only          [all]\n"
    "  --samples N       sample predictions shown                       [8]\n"
    "  --smooth N        moving-average window of the per-step loss     [20]\n"
    "  --threads N       [2]\n";

static int report_fail(void) {
    fprintf(stderr, "deepc report: %s\n", dc_last_error());
    return 1;
}

static int report_usage(const char *fmt, const char *arg) {
    fprintf(stderr, "deepc report: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see 'deepc report --help')\n");
    return 2;
}

/* ------------------------------------------------------------------ HTML buffer */
typedef struct html {
    char *p;
    size_t n, cap;
    int oom;
} html;

static void h_printf(html *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void h_printf(html *h, const char *fmt, ...) {
    if (h->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(h->p ? h->p + h->n : NULL, h->p ? h->cap - h->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) { h->oom = 1; return; }
        if (h->p && (size_t)k < h->cap - h->n) { h->n += (size_t)k; return; }
        size_t cap = (h->cap + (size_t)k + 1) * 2;
        char *q = realloc(h->p, cap);
        if (!q) { h->oom = 1; return; }
        h->p = q;
        h->cap = cap;
    }
}

/* Text with &, <, >, " escaped; control bytes dropped. */
static void h_text(html *h, const char *s) {
    for (const unsigned char *c = (const unsigned char *)(s ? s : ""); *c; c++) {
        if (*c == '&') h_printf(h, "&amp;");
        else if (*c == '<') h_printf(h, "&lt;");
        else if (*c == '>') h_printf(h, "&gt;");
        else if (*c == '"') h_printf(h, "&quot;");
        else if (*c >= 32 || *c == '\n' || *c == '\t') h_printf(h, "%c", *c);
    }
}

/* A figure inline: SVG markup, or a PNG as a data: URI. */
static dc_status h_figure(html *h, const dc_figure *f, int as_png, const char *alt) {
    unsigned char *bytes;
    size_t n;
    if (as_png && dc_plot_png_supported()) {
        DC_TRY(dc_figure_encode(f, "png", &bytes, &n));
        char *b64 = dc_base64_encode(bytes, n);
        free(bytes);
        if (!b64) return DC_ERR(DC_ERR_NOMEM, "report: base64 of a %zu-byte PNG", n);
        h_printf(h, "<img class=\"fig\" alt=\"");
        h_text(h, alt);
        h_printf(h, "\" src=\"data:image/png;base64,%s\">", b64);
        free(b64);
        return DC_OK;
    }
    DC_TRY(dc_figure_encode(f, "svg", &bytes, &n));
    h_printf(h, "<div class=\"fig\" role=\"img\" aria-label=\"");
    h_text(h, alt);
    h_printf(h, "\">%s</div>", (const char *)bytes);
    free(bytes);
    return DC_OK;
}

/* `deepc summary`'s table (dc_graph_summary) as an HTML table. */
static void h_summary(html *h, const dc_graph *g) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        h_printf(h, "<p>(layer table unavailable: %s)</p>\n", strerror(errno));
        return;
    }
    dc_graph_summary(g, f);
    fclose(f);
    h_printf(h, "<table class=\"summary\"><tr><th>layer</th><th>op</th><th>output</th><th>parameters</th>"
                "<th>FLOPs/example</th></tr>\n");
    char *save = NULL, *foot = NULL;
    int first = 1;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (first) { first = 0; continue; } /* the header */
        char name[128], op[64], params[32], flops[32];
        const char *lb = strchr(line, '['), *rb = lb ? strchr(lb, ']') : NULL;
        if (!strncmp(line, "total", 5) || !lb || !rb || sscanf(line, "%127s %63s", name, op) != 2 ||
            sscanf(rb + 1, "%31s %31s", params, flops) != 2) {
            foot = line;
            continue;
        }
        h_printf(h, "<tr><td>");
        h_text(h, name);
        h_printf(h, "</td><td>");
        h_text(h, op);
        h_printf(h, "</td><td>%.*s</td><td class=\"num\">%s</td><td class=\"num\">%s</td></tr>\n", (int)(rb - lb + 1), lb,
                 params, flops);
    }
    h_printf(h, "</table>\n");
    if (foot) {
        h_printf(h, "<p>");
        h_text(h, foot);
        h_printf(h, "</p>\n");
    }
    free(text);
}

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

typedef struct report_opts {
    const char *run, *out, *ckpt, *data;
    long test_limit, samples, smooth, threads;
} report_opts;

static dc_status build_report(const report_opts *o, html *h, int *figures) {
    char path[1200], ckbuf[1200];
    *figures = 0;
    dc_figure *loss = NULL, *acc = NULL, *f = NULL;
    DC_TRY(dc_viz_run_curves(o->run, (int)o->smooth, &loss, &acc));
    const char *ckpt = o->ckpt;
    if (!ckpt) {
        snprintf(ckbuf, sizeof ckbuf, "%s/best.safetensors", o->run);
        if (!file_exists(ckbuf)) snprintf(ckbuf, sizeof ckbuf, "%s/last.safetensors", o->run);
        if (!file_exists(ckbuf)) {
            dc_figure_free(loss);
            dc_figure_free(acc);
            return DC_ERR(DC_ERR_IO, "%s: no best.safetensors or last.safetensors (give --checkpoint FILE)", o->run);
        }
        ckpt = ckbuf;
    }
    time_t now = time(NULL);
    char when[64] = "";
    struct tm tm;
    if (gmtime_r(&now, &tm)) strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
    h_printf(h, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>deepc report: ");
    h_text(h, o->run);
    h_printf(h, "</title>\n<style>\n"
                "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1100px;"
                "color:#222;padding:0 1em}\n"
                "h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}\n"
                "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.25em .6em;"
                "text-align:left;vertical-align:top}th{background:#f4f4f4}td.num{text-align:right;"
                "font-variant-numeric:tabular-nums}\n"
                "code,pre{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:.9em}\n"
                ".fig{max-width:100%%;height:auto;display:block;margin:.5em 0}.fig svg{max-width:100%%;height:auto}\n"
                ".samples{display:flex;flex-wrap:wrap;gap:1em}.sample{border:1px solid #ddd;padding:.5em}"
                ".sample table{font-size:.85em}.ok{color:#2f9e52}.bad{color:#cf3a3a}\n"
                "</style></head><body>\n");
    h_printf(h, "<h1>deepc report: <code>");
    h_text(h, o->run);
    h_printf(h, "</code></h1>\n<p>deepc %s, generated %s; checkpoint <code>", DC_VERSION_STRING, when);
    h_text(h, ckpt);
    h_printf(h, "</code></p>\n");

    /* ---- command and options */
    h_printf(h, "<h2 id=\"run\">Command and hyperparameters</h2>\n");
    snprintf(path, sizeof path, "%s/run.txt", o->run);
    char *info = NULL;
    const char *keys[64], *vals[64];
    int nk = 0;
    if (dc_runinfo_read(path, &info, keys, vals, 64, &nk) == DC_OK) {
        h_printf(h, "<table class=\"options\">\n");
        for (int i = 0; i < nk; i++) {
            h_printf(h, "<tr><th>");
            h_text(h, keys[i]);
            h_printf(h, "</th><td><code>");
            h_text(h, vals[i]);
            h_printf(h, "</code></td></tr>\n");
        }
        h_printf(h, "</table>\n");
    } else {
        h_printf(h, "<p>No <code>run.txt</code> in the run directory (trained by a deepc that did not record its "
                    "options): ");
        h_text(h, dc_last_error());
        h_printf(h, "</p>\n");
        dc_error_clear();
    }
    free(info);

    /* ---- curves */
    h_printf(h, "<h2 id=\"curves\">Training curves</h2>\n");
    dc_status s = h_figure(h, loss, 0, "loss curves");
    if (s == DC_OK) s = h_figure(h, acc, 0, "accuracy curves");
    *figures += 2;
    dc_figure_free(loss);
    dc_figure_free(acc);
    DC_TRY(s);

    /* ---- the network on the test set */
    dc_dataset *ds = NULL;
    DC_TRY(dc_mnist_load(o->data, "test", DC_VIZ_MEAN, DC_VIZ_STD, o->test_limit, &ds));
    dc_viz_model m;
    s = dc_viz_model_open(ckpt, ds->c, ds->h, ds->w, 256, (int)o->threads, &m);
    if (s != DC_OK) {
        dc_dataset_free(ds);
        return s;
    }
    h_printf(h, "<h2 id=\"model\">Model: ");
    h_text(h, m.meta.model);
    h_printf(h, "</h2>\n<p>checkpoint after epoch %d (step %lld), validation accuracy %.4f, optimizer ", m.meta.epoch,
             (long long)m.meta.step, m.meta.val_acc);
    h_text(h, m.meta.optimizer);
    h_printf(h, ", lr %g, seed %llu</p>\n", m.meta.lr, (unsigned long long)m.meta.seed);
    h_summary(h, m.g);

    int *pred = NULL;
    int64_t n = 0;
    s = dc_viz_predict(&m, ds, 0, &pred, &n);
    if (s == DC_OK) {
        int64_t conf[10][10], correct = 0;
        memset(conf, 0, sizeof conf);
        for (int64_t i = 0; i < n; i++) {
            correct += pred[i] == ds->labels[i];
            if (pred[i] >= 0 && pred[i] < 10 && ds->labels[i] >= 0 && ds->labels[i] < 10) conf[ds->labels[i]][pred[i]]++;
        }
        double accuracy = n ? (double)correct / (double)n : 0.0;
        h_printf(h, "<h2 id=\"confusion\">Confusion matrix</h2>\n<p>Test accuracy <b id=\"test-acc\">%.4f</b> on %lld "
                    "test images (rows: true class, columns: predicted class).</p>\n", accuracy, (long long)n);
        char title[160];
        snprintf(title, sizeof title, "confusion matrix on %lld test images (accuracy %.4f)", (long long)n, accuracy);
        s = dc_viz_confusion(conf, 10, title, &f);
        if (s == DC_OK) s = h_figure(h, f, 1, "confusion matrix");
        dc_figure_free(f);
        f = NULL;
        (*figures)++;
    }
    if (s == DC_OK) { /* first-layer filters, for conv models */
        s = dc_viz_filters(&m, &f);
        if (s == DC_OK) {
            h_printf(h, "<h2 id=\"filters\">First-layer filters</h2>\n");
            s = h_figure(h, f, 1, "first-layer filters");
            (*figures)++;
        } else if (s == DC_ERR_ARG) {
            s = DC_OK; /* no convolution: no section */
            dc_error_clear();
        }
        dc_figure_free(f);
        f = NULL;
    }
    if (s == DC_OK) { /* sample predictions */
        h_printf(h, "<h2 id=\"samples\">Sample predictions</h2>\n<div class=\"samples\">\n");
        for (int64_t i = 0; i < o->samples && i < ds->n && s == DC_OK; i++) {
            int idx[3];
            float prob[3];
            char a[32], b[32], t[64];
            s = dc_viz_topk(&m, ds, i, 3, idx, prob);
            if (s != DC_OK) break;
            snprintf(t, sizeof t, "test image %lld", (long long)i);
            s = dc_viz_example(ds, i, t, 140, &f);
            if (s != DC_OK) break;
            h_printf(h, "<div class=\"sample\">");
            s = h_figure(h, f, 1, t);
            dc_figure_free(f);
            f = NULL;
            (*figures)++;
            const char *truth = dc_viz_class_name(m.classes, ds->labels[i], a, sizeof a);
            h_printf(h, "<div>true: <b>");
            h_text(h, truth);
            h_printf(h, "</b> <span class=\"%s\">%s</span></div><table>", idx[0] == ds->labels[i] ? "ok" : "bad",
                     idx[0] == ds->labels[i] ? "correct" : "wrong");
            for (int k = 0; k < 3; k++) {
                h_printf(h, "<tr><td>%d.</td><td>", k + 1);
                h_text(h, dc_viz_class_name(m.classes, idx[k], b, sizeof b));
                h_printf(h, "</td><td class=\"num\">%.4f</td></tr>", (double)prob[k]);
            }
            h_printf(h, "</table></div>\n");
        }
        h_printf(h, "</div>\n");
    }
    if (s == DC_OK) {
        int found = 0;
        s = dc_viz_misclassified(ds, pred, n, m.classes, 16, &f, &found);
        if (s == DC_OK) {
            h_printf(h, "<h2 id=\"misclassified\">Misclassified test images</h2>\n");
            s = h_figure(h, f, 1, "misclassified test images");
            (*figures)++;
        }
        dc_figure_free(f);
    }
    h_printf(h, "</body></html>\n");
    free(pred);
    dc_viz_model_close(&m);
    dc_dataset_free(ds);
    if (s == DC_OK && h->oom) s = DC_ERR(DC_ERR_NOMEM, "report: HTML text");
    return s;
}

int dc_cli_report(int argc, char **argv) {
    report_opts o = {.data = REPORT_DEFAULT_DATA, .samples = 8, .smooth = 20, .threads = 2};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(REPORT_HELP, stdout); return 0; }
        if (a[0] != '-') {
            if (o.run) return report_usage("more than one run directory ('%s')", a);
            o.run = a;
            continue;
        }
        if (!v) return report_usage("unknown option or missing value: '%s'", a);
        i++;
        long *num = NULL, lo = 0, hi = 0;
        if (!strcmp(a, "--out")) o.out = v;
        else if (!strcmp(a, "--checkpoint")) o.ckpt = v;
        else if (!strcmp(a, "--data")) o.data = v;
        else if (!strcmp(a, "--test-limit")) num = &o.test_limit, lo = 1, hi = 100000000L;
        else if (!strcmp(a, "--samples")) num = &o.samples, lo = 0, hi = 100;
        else if (!strcmp(a, "--smooth")) num = &o.smooth, lo = 1, hi = 100000;
        else if (!strcmp(a, "--threads")) num = &o.threads, lo = 1, hi = 256;
        else return report_usage("unknown option '%s'", a);
        if (num) {
            char *end;
            errno = 0;
            long x = strtol(v, &end, 10);
            if (errno || *end || !*v || x < lo || x > hi) {
                fprintf(stderr, "deepc report: %s needs an integer in %ld..%ld, got '%s'\n", a, lo, hi, v);
                return 2;
            }
            *num = x;
        }
    }
    if (!o.run) return report_usage("%s", "RUN_DIR is required");
    char out[1200];
    if (!o.out) snprintf(out, sizeof out, "%s/report.html", o.run);
    else snprintf(out, sizeof out, "%s", o.out);
    html h = {0};
    int figures = 0;
    if (build_report(&o, &h, &figures) != DC_OK) {
        free(h.p);
        return report_fail();
    }
    dc_chunk ch = {h.p, h.n};
    dc_status s = dc_file_write_atomic(out, &ch, 1);
    free(h.p);
    if (s != DC_OK) return report_fail();
    printf("wrote %s (%d figures, %.0f KiB)\n", out, figures, (double)h.n / 1024.0);
    return 0;
}
