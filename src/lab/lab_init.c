/* lab_init.c — the `init` lab: histograms of the activations of a 5-layer, 100-unit fully connected
 * net (Linear without bias, then the activation) fed 1000 standard-normal inputs, for weights drawn
 * with std 1, std 0.01, Xavier (1/sqrt(n)) and He (sqrt(2/n)), under sigmoid, tanh and ReLU.
 * The net is built from deepc's layers and initialised by the graph's own initialisers; every case
 * uses the same input and the same underlying normal draws (one seed), so only the scale differs.
 * It does not train anything: this is the picture at step 0. */
#include "lab/lab.h"
#include "lab/lab_fig.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const act_names[DC_LAB_ACT_COUNT] = {"sigmoid", "tanh", "relu"};
static const char *const init_names[DC_LAB_INIT_COUNT] = {"std=1", "std=0.01", "xavier", "he"};
static const char *const init_titles[DC_LAB_INIT_COUNT] = {"std 1", "std 0.01", "Xavier", "He"};
_Static_assert(sizeof act_names / sizeof act_names[0] == DC_LAB_ACT_COUNT, "one name per activation");
_Static_assert(sizeof init_names / sizeof init_names[0] == DC_LAB_INIT_COUNT, "one name per initialisation");

const char *dc_lab_act_name(dc_lab_act a) { return (unsigned)a < DC_LAB_ACT_COUNT ? act_names[a] : "?"; }
const char *dc_lab_init_name(dc_lab_init i) { return (unsigned)i < DC_LAB_INIT_COUNT ? init_names[i] : "?"; }

void dc_lab_init_defaults(dc_lab_init_config *c) {
    c->samples = 1000;
    c->width = 100;
    c->layers = DC_LAB_INIT_LAYERS;
    c->seed = 1;
}

/* Histogram and statistics of one layer's n activations.  Every value lands in a bin: values
 * outside [lo, hi] are counted in the end bins (and in below/above). */
static void histogram(const float *a, int64_t n, float lo, float hi, dc_lab_act act, dc_lab_hist *h) {
    memset(h, 0, sizeof *h);
    h->lo = lo;
    h->hi = hi;
    h->n = n;
    h->min = n ? a[0] : 0.0;
    h->max = n ? a[0] : 0.0;
    double sum = 0.0, sum2 = 0.0;
    int64_t zero = 0, sat = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = a[i];
        sum += v;
        if (v < h->min) h->min = v;
        if (v > h->max) h->max = v;
        zero += v == 0.0;
        if (act == DC_LAB_SIGMOID) sat += v < 0.05 || v > 0.95;
        else if (act == DC_LAB_TANH) sat += fabs(v) > 0.95;
        int b;
        if (v < lo) { b = 0; h->below++; }
        else if (v > hi) { b = DC_LAB_INIT_BINS - 1; h->above++; }
        else {
            b = (int)((v - lo) / (hi - lo) * DC_LAB_INIT_BINS);
            if (b >= DC_LAB_INIT_BINS) b = DC_LAB_INIT_BINS - 1; /* v == hi */
        }
        h->count[b]++;
    }
    h->mean = n ? sum / (double)n : 0.0;
    for (int64_t i = 0; i < n; i++) sum2 += ((double)a[i] - h->mean) * ((double)a[i] - h->mean);
    h->std = n ? sqrt(sum2 / (double)n) : 0.0;
    h->frac_zero = n ? (double)zero / (double)n : 0.0;
    h->frac_saturated = n ? (double)sat / (double)n : 0.0;
}

/* One (activation, initialisation) case: build, plan, feed x, forward, histogram each layer. */
static dc_status init_case(const dc_lab_init_config *c, dc_lab_act act, dc_lab_init init, const float *x,
                           dc_lab_hist *out) {
    dc_graph *g = NULL;
    DC_TRY(dc_graph_create(&g));
    dc_node h = dc_input(g, "x", dc_shape1(c->width)), a[DC_LAB_INIT_LAYERS];
    dc_node in = h;
    static const dc_init kinds[DC_LAB_INIT_COUNT] = {DC_INIT_NORMAL, DC_INIT_NORMAL, DC_INIT_XAVIER, DC_INIT_HE};
    static const float values[DC_LAB_INIT_COUNT] = {1.0f, 0.01f, 0.0f, 0.0f};
    dc_linear_opts lo = {.init = kinds[init], .init_value = values[init], .no_bias = 1};
    for (int l = 0; l < c->layers; l++) {
        char name[16];
        snprintf(name, sizeof name, "fc%d", l + 1);
        h = dc_linear_ex(g, h, c->width, name, &lo);
        h = act == DC_LAB_SIGMOID ? dc_sigmoid(g, h) : act == DC_LAB_TANH ? dc_tanh(g, h) : dc_relu(g, h);
        a[l] = h;
    }
    dc_graph_opts go = {.seed = c->seed};
    dc_status s = dc_graph_status(g);
    if (s == DC_OK) s = dc_graph_plan(g, c->samples, &go);
    if (s == DC_OK) {
        memcpy(dc_graph_data(g, in), x, (size_t)c->samples * (size_t)c->width * sizeof(float));
        s = dc_graph_forward(g, c->samples, 0);
    }
    int64_t n = (int64_t)c->samples * c->width;
    /* Bounded activations get their whole range; ReLU's range is [0, the largest activation of
     * the five layers], so every value is binned whatever the scale (std 1 explodes, 0.01 vanishes). */
    float lo_v = act == DC_LAB_TANH ? -1.0f : 0.0f, hi_v = 1.0f;
    if (s == DC_OK && act == DC_LAB_RELU) {
        float m = 0.0f;
        for (int l = 0; l < c->layers; l++) {
            const float *d = dc_graph_data(g, a[l]);
            for (int64_t i = 0; i < n; i++) m = fmaxf(m, d[i]);
        }
        hi_v = m > 0.0f ? m : 1.0f;
    }
    for (int l = 0; s == DC_OK && l < c->layers; l++) histogram(dc_graph_data(g, a[l]), n, lo_v, hi_v, act, &out[l]);
    dc_graph_free(g);
    if (s != DC_OK) return DC_ERR(s, "lab init: %s with %s: %s", act_names[act], init_names[init], dc_last_error());
    return DC_OK;
}

dc_status dc_lab_init_run(const dc_lab_init_config *c, dc_lab_init_result *r) {
    if (!c || !r) return DC_ERR(DC_ERR_ARG, "lab init: NULL argument");
    if (c->samples < 1 || c->width < 1 || c->layers < 1 || c->layers > DC_LAB_INIT_LAYERS)
        return DC_ERR(DC_ERR_ARG, "lab init: samples %d and width %d must be >= 1, layers %d in 1..%d", c->samples,
                      c->width, c->layers, DC_LAB_INIT_LAYERS);
    memset(r, 0, sizeof *r);
    r->samples = c->samples;
    r->width = c->width;
    r->layers = c->layers;
    float *x = malloc((size_t)c->samples * (size_t)c->width * sizeof(float));
    if (!x) return DC_ERR(DC_ERR_NOMEM, "lab init: %d x %d inputs", c->samples, c->width);
    dc_rng rng;
    dc_rng_seed(&rng, c->seed ^ 0x1a2b3c4dull);
    for (int64_t i = 0; i < (int64_t)c->samples * c->width; i++) x[i] = dc_rng_normal(&rng);
    dc_status s = DC_OK;
    for (int a = 0; a < DC_LAB_ACT_COUNT && s == DC_OK; a++)
        for (int i = 0; i < DC_LAB_INIT_COUNT && s == DC_OK; i++)
            s = init_case(c, (dc_lab_act)a, (dc_lab_init)i, x, r->h[a][i]);
    free(x);
    return s;
}

dc_status dc_lab_init_write(const dc_lab_init_result *r, const char *dir) {
    dc_lab_text csv = {0}, st = {0};
    dc_lab_text_printf(&csv, "activation,init,layer,bin,lo,hi,count\n");
    dc_lab_text_printf(&st, "activation,init,layer,n,mean,std,min,max,frac_zero,frac_saturated,clamped_below,clamped_above\n");
    for (int a = 0; a < DC_LAB_ACT_COUNT; a++)
        for (int i = 0; i < DC_LAB_INIT_COUNT; i++)
            for (int l = 0; l < r->layers; l++) {
                const dc_lab_hist *h = &r->h[a][i][l];
                double w = ((double)h->hi - h->lo) / DC_LAB_INIT_BINS;
                for (int b = 0; b < DC_LAB_INIT_BINS; b++)
                    dc_lab_text_printf(&csv, "%s,%s,%d,%d,%.6g,%.6g,%lld\n", act_names[a], init_names[i], l + 1, b,
                                       h->lo + b * w, h->lo + (b + 1) * w, (long long)h->count[b]);
                dc_lab_text_printf(&st, "%s,%s,%d,%lld,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%lld,%lld\n", act_names[a],
                                   init_names[i], l + 1, (long long)h->n, h->mean, h->std, h->min, h->max, h->frac_zero,
                                   h->frac_saturated, (long long)h->below, (long long)h->above);
            }
    DC_TRY(dc_lab_text_save(&csv, dir, "init-histograms.csv"));
    DC_TRY(dc_lab_text_save(&st, dir, "init-stats.csv"));

    /* One figure per activation: a row per initialisation, a column per layer. */
    for (int a = 0; a < DC_LAB_ACT_COUNT; a++) {
        char title[160], base[32];
        snprintf(title, sizeof title, "%s activations, %d layers x %d units, %d N(0,1) inputs%s", act_names[a],
                 r->layers, r->width, r->samples, a == DC_LAB_RELU ? " (the ~50% exact zeros not drawn)" : "");
        dc_figure *f = dc_figure_new(DC_LAB_INIT_COUNT, r->layers, 232, 150, title);
        if (!f) return DC_ERR(DC_ERR_NOMEM, "lab init: figure");
        for (int i = 0; i < DC_LAB_INIT_COUNT; i++)
            for (int l = 0; l < r->layers; l++) {
                const dc_lab_hist *h = &r->h[a][i][l];
                float edges[DC_LAB_INIT_BINS + 1], counts[DC_LAB_INIT_BINS];
                double w = ((double)h->hi - h->lo) / DC_LAB_INIT_BINS;
                for (int b = 0; b <= DC_LAB_INIT_BINS; b++) edges[b] = (float)(h->lo + b * w);
                for (int b = 0; b < DC_LAB_INIT_BINS; b++) counts[b] = (float)h->count[b];
                /* ReLU: half the values are exactly 0; drawing them would flatten every other bar. */
                if (a == DC_LAB_RELU) counts[0] -= (float)((double)h->n * h->frac_zero);
                char pt[64];
                snprintf(pt, sizeof pt, "%s L%d: std %.2g", init_titles[i], l + 1, h->std);
                dc_plot *p = dc_figure_panel(f, i, l);
                dc_plot_labels(p, pt, NULL, NULL);
                dc_plot_xrange(p, h->lo, h->hi);
                dc_plot_bars(p, edges, counts, DC_LAB_INIT_BINS, NULL);
            }
        snprintf(base, sizeof base, "init-%s", act_names[a]);
        DC_TRY(dc_lab_figure_save(f, dir, base));
    }
    /* The summary: activation std per layer, one panel per activation, one line per initialisation. */
    dc_figure *f = dc_figure_new(1, DC_LAB_ACT_COUNT, 360, 280, "standard deviation of the activations per layer");
    if (!f) return DC_ERR(DC_ERR_NOMEM, "lab init: figure");
    for (int a = 0; a < DC_LAB_ACT_COUNT; a++) {
        dc_plot *p = dc_figure_panel(f, 0, a);
        dc_plot_labels(p, act_names[a], "layer", "std (log)");
        dc_plot_log_y(p, 1);
        dc_plot_xrange(p, 0.6f, (float)r->layers + 3.4f); /* the legend sits right of the lines */
        for (int i = 0; i < DC_LAB_INIT_COUNT; i++) {
            float xs[DC_LAB_INIT_LAYERS], ys[DC_LAB_INIT_LAYERS];
            for (int l = 0; l < r->layers; l++) {
                xs[l] = (float)(l + 1);
                ys[l] = (float)fmax(r->h[a][i][l].std, 1e-12);
            }
            dc_plot_line(p, xs, ys, r->layers, init_titles[i]);
        }
    }
    return dc_lab_figure_save(f, dir, "init-std");
}

void dc_lab_init_print(const dc_lab_init_result *r, FILE *out) {
    fprintf(out, "activations of a %d-layer, %d-unit net on %d N(0,1) inputs: std per layer (saturated / zero %%)\n",
            r->layers, r->width, r->samples);
    fprintf(out, "%-8s %-9s", "act", "init");
    for (int l = 0; l < r->layers; l++) fprintf(out, "          layer %d", l + 1);
    fprintf(out, "\n");
    for (int a = 0; a < DC_LAB_ACT_COUNT; a++)
        for (int i = 0; i < DC_LAB_INIT_COUNT; i++) {
            fprintf(out, "%-8s %-9s", act_names[a], init_names[i]);
            for (int l = 0; l < r->layers; l++) {
                const dc_lab_hist *h = &r->h[a][i][l];
                fprintf(out, " %9.3g (%3.0f%%)", h->std,
                        100.0 * (a == DC_LAB_RELU ? h->frac_zero : h->frac_saturated));
            }
            fprintf(out, "\n");
        }
}
