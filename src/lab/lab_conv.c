/* lab_conv.c — the `receptive-field` lab: why VGG stacks 3x3 convolutions.  Two stacked 3x3
 * convolutions see a 5x5 window with 18 C^2 weights instead of 25 C^2 (and two non-linearities
 * instead of one); three see 7x7 with 27 C^2 instead of 49 C^2.  The parameter counts come from
 * deepc graphs built with dc_conv2d (C -> C channels, no bias); the receptive fields are measured
 * by a forward pass of one lit input pixel through the stack (linear, so no ReLU clips anything
 * away) through deepc's real convolution paths, and compared with 1 + n (k - 1).  Also the output size (H + 2P - FH)/S + 1 for sizes
 * the user gives, refused when the sizes are invalid or the division is not exact, and compared
 * with what dc_conv2d's shape inference gives. */
#include "lab/lab.h"
#include "lab/lab_fig.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

dc_status dc_lab_conv_out(int64_t h, int64_t k, int64_t s, int64_t p, int64_t *out) {
    if (out) *out = 0;
    if (h < 1) return DC_ERR(DC_ERR_ARG, "output size (H + 2P - FH)/S + 1: input size H = %lld must be >= 1", (long long)h);
    if (k < 1) return DC_ERR(DC_ERR_ARG, "output size (H + 2P - FH)/S + 1: kernel size FH = %lld must be >= 1", (long long)k);
    if (s < 1) return DC_ERR(DC_ERR_ARG, "output size (H + 2P - FH)/S + 1: stride S = %lld must be >= 1", (long long)s);
    if (p < 0) return DC_ERR(DC_ERR_ARG, "output size (H + 2P - FH)/S + 1: padding P = %lld must be >= 0", (long long)p);
    if (h > 1000000 || k > 1000000 || s > 1000000 || p > 1000000)
        return DC_ERR(DC_ERR_ARG, "output size: sizes above 1000000 (H %lld, FH %lld, S %lld, P %lld)", (long long)h,
                      (long long)k, (long long)s, (long long)p);
    int64_t span = h + 2 * p - k;
    if (span < 0)
        return DC_ERR(DC_ERR_ARG,
                      "output size (H + 2P - FH)/S + 1 = (%lld + 2*%lld - %lld)/%lld + 1: the kernel (%lld) is larger "
                      "than the padded input (%lld)",
                      (long long)h, (long long)p, (long long)k, (long long)s, (long long)k, (long long)(h + 2 * p));
    if (span % s != 0)
        return DC_ERR(DC_ERR_ARG,
                      "output size (H + 2P - FH)/S + 1 = (%lld + 2*%lld - %lld)/%lld + 1 = %lld/%lld + 1 is not an "
                      "integer: the stride does not tile the padded input (change P or S)",
                      (long long)h, (long long)p, (long long)k, (long long)s, (long long)span, (long long)s);
    if (out) *out = span / s + 1;
    return DC_OK;
}

int64_t dc_lab_receptive_field(int n, int k) { return 1 + (int64_t)n * (k - 1); }

/* n stacked k x k convolutions C -> C (stride 1, padding k/2, no bias) on a size x size input:
 * the weight count of deepc's graph and the width of the footprint of one lit input pixel. */
static dc_status measure_stack(int n, int k, int channels, uint64_t seed, dc_lab_stack *st) {
    const int size = 4 * n * k + 1; /* odd, and wide enough for the footprint */
    memset(st, 0, sizeof *st);
    st->n = n;
    st->k = k;
    st->params_formula = (int64_t)n * k * k * channels * channels;
    st->rf = dc_lab_receptive_field(n, k);
    st->relus = n;
    dc_graph *g = NULL;
    DC_TRY(dc_graph_create(&g));
    dc_node x = dc_input(g, "x", dc_shape3(channels, size, size)), h = x;
    dc_conv2d_opts o = {.kh = k, .kw = k, .pad_h = k / 2, .pad_w = k / 2, .no_bias = 1};
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof name, "conv%d", i + 1);
        h = dc_conv2d_ex(g, h, channels, name, &o);
    }
    dc_graph_opts go = {.seed = seed};
    dc_status s = dc_graph_status(g);
    if (s == DC_OK) s = dc_graph_plan(g, 1, &go);
    if (s == DC_OK) {
        st->params = dc_graph_trainable_numel(g);
        float *in = dc_graph_data(g, x);
        int c0 = size / 2;
        for (int c = 0; c < channels; c++) in[((int64_t)c * size + c0) * size + c0] = 1.0f; /* one pixel, all channels */
        s = dc_graph_forward(g, 1, 0);
    }
    if (s == DC_OK) {
        /* Rows where some output is above 1e-3 of the largest: the footprint.  Not "!= 0": a
         * Winograd 3x3 path mixes whole tiles in its transforms and leaves rounding-level values
         * (~1e-7 relative) outside the true footprint. */
        const float *y = dc_graph_data(g, h);
        int64_t ny = (int64_t)channels * size * size;
        float ymax = 0.0f;
        for (int64_t i = 0; i < ny; i++) ymax = fmaxf(ymax, fabsf(y[i]));
        const float thr = 1e-3f * ymax;
        int rlo = size, rhi = -1;
        for (int c = 0; c < channels; c++)
            for (int i = 0; i < size; i++)
                for (int j = 0; j < size; j++)
                    if (fabsf(y[((int64_t)c * size + i) * size + j]) > thr) {
                        if (i < rlo) rlo = i;
                        if (i > rhi) rhi = i;
                    }
        st->rf_measured = rhi >= rlo ? rhi - rlo + 1 : 0;
    }
    dc_graph_free(g);
    if (s != DC_OK) return DC_ERR(s, "lab receptive-field: %d x %dx%d stack: %s", n, k, k, dc_last_error());
    return DC_OK;
}

dc_status dc_lab_rf_run(int channels, int given, int64_t h, int64_t k, int64_t s, int64_t p, uint64_t seed,
                        dc_lab_rf_result *r) {
    if (!r) return DC_ERR(DC_ERR_ARG, "lab receptive-field: NULL result");
    memset(r, 0, sizeof *r);
    if (channels < 1 || channels > 512)
        return DC_ERR(DC_ERR_ARG, "lab receptive-field: channels %d outside 1..512", channels);
    r->channels = channels;
    if (given) {
        DC_TRY(dc_lab_conv_out(h, k, s, p, &r->out));
        r->given = 1;
        r->h = h;
        r->k = k;
        r->s = s;
        r->p = p;
        /* The same geometry through deepc's Conv2d shape inference (one channel in and out). */
        dc_graph *g = NULL;
        DC_TRY(dc_graph_create(&g));
        dc_node x = dc_input(g, "x", dc_shape3(1, h, h));
        dc_node y = dc_conv2d(g, x, 1, (int)k, (int)s, (int)p, "conv");
        dc_status st = dc_graph_status(g);
        r->out_graph = st == DC_OK ? dc_node_shape(g, y).dim[1] : -1;
        dc_graph_free(g);
        if (st != DC_OK) return DC_ERR(st, "lab receptive-field: deepc's conv2d refused the sizes: %s", dc_last_error());
    }
    static const int stacks[4][2] = {{2, 3}, {1, 5}, {3, 3}, {1, 7}};
    for (int i = 0; i < 4; i++) DC_TRY(measure_stack(stacks[i][0], stacks[i][1], channels, seed, &r->st[i]));
    return DC_OK;
}

dc_status dc_lab_rf_write(const dc_lab_rf_result *r, const char *dir) {
    dc_lab_text csv = {0};
    dc_lab_text_printf(&csv, "stack,layers,kernel,channels,params,params_formula,receptive_field,"
                             "receptive_field_measured,nonlinearities\n");
    for (int i = 0; i < 4; i++) {
        const dc_lab_stack *s = &r->st[i];
        dc_lab_text_printf(&csv, "%dx%dx%d,%d,%d,%d,%lld,%lld,%lld,%lld,%lld\n", s->n, s->k, s->k, s->n, s->k,
                           r->channels, (long long)s->params, (long long)s->params_formula, (long long)s->rf,
                           (long long)s->rf_measured, (long long)s->relus);
    }
    DC_TRY(dc_lab_text_save(&csv, dir, "receptive-field.csv"));
    if (r->given) {
        dc_lab_text os = {0};
        dc_lab_text_printf(&os, "input,kernel,stride,pad,output,output_conv2d\n%lld,%lld,%lld,%lld,%lld,%lld\n",
                           (long long)r->h, (long long)r->k, (long long)r->s, (long long)r->p, (long long)r->out,
                           (long long)r->out_graph);
        DC_TRY(dc_lab_text_save(&os, dir, "output-size.csv"));
    }

    /* The diagram: for each stack, the input window one output pixel sees, drawn as nested squares
     * (layer by layer, the window grows by k - 1); and a bar chart of the weight counts. */
    dc_figure *f = dc_figure_new(1, 3, 340, 300, "stacked 3x3 convolutions vs one large kernel");
    if (!f) return DC_ERR(DC_ERR_NOMEM, "lab receptive-field: figure");
    for (int pair = 0; pair < 2; pair++) {
        const dc_lab_stack *a = &r->st[2 * pair], *b = &r->st[2 * pair + 1];
        dc_plot *p = dc_figure_panel(f, 0, pair);
        char t[96];
        snprintf(t, sizeof t, "%d x 3x3 vs 1 x %dx%d: field %lldx%lld", a->n, b->k, b->k, (long long)a->rf_measured,
                 (long long)a->rf_measured);
        dc_plot_labels(p, t, "input column", "input row");
        float half = (float)a->rf / 2.0f + 1.0f;
        dc_plot_xrange(p, -1.6f * half, 1.6f * half); /* room above for the legend, cells about square */
        dc_plot_yrange(p, -half, 2.4f * half);
        /* the input pixel grid of the field: one series, segments separated by NaN */
        float gx[3 * 2 * 16], gy[3 * 2 * 16];
        int m = 0;
        float e0 = -(float)a->rf / 2.0f, e1 = (float)a->rf / 2.0f;
        for (int i = 0; i <= a->rf && m + 6 <= (int)(sizeof gx / sizeof gx[0]); i++) {
            float v = e0 + (float)i;
            gx[m] = v; gy[m++] = e0; gx[m] = v; gy[m++] = e1; gx[m] = NAN; gy[m++] = NAN;
            gx[m] = e0; gy[m++] = v; gx[m] = e1; gy[m++] = v; gx[m] = NAN; gy[m++] = NAN;
        }
        dc_plot_line(p, gx, gy, m, "input pixels");
        /* the window seen after each 3x3 layer: 1, 3, 5, 7 pixels wide */
        for (int l = 0; l <= a->n; l++) {
            float w = (float)dc_lab_receptive_field(l, 3) / 2.0f;
            float sx[5] = {-w, w, w, -w, -w}, sy[5] = {-w, -w, w, w, -w};
            char lab[48];
            if (l == 0) snprintf(lab, sizeof lab, "output pixel");
            else snprintf(lab, sizeof lab, "after %d x 3x3: %lldx%lld", l, (long long)dc_lab_receptive_field(l, 3),
                          (long long)dc_lab_receptive_field(l, 3));
            dc_plot_line(p, sx, sy, 5, lab);
        }
    }
    dc_plot *p = dc_figure_panel(f, 0, 2);
    char t[64];
    snprintf(t, sizeof t, "weights for C = %d channels (thousands)", r->channels);
    dc_plot_labels(p, t, "0: 2x3x3  1: 5x5  2: 3x3x3  3: 7x7", NULL);
    dc_plot_xrange(p, -0.6f, 3.6f);
    dc_plot_yrange(p, 0.0f, 1.7f * (float)r->st[3].params / 1000.0f);
    for (int i = 0; i < 4; i++) {
        float e[2] = {(float)i - 0.35f, (float)i + 0.35f}, c = (float)r->st[i].params / 1000.0f;
        char lab[40];
        snprintf(lab, sizeof lab, "%d x %dx%d: %lld", r->st[i].n, r->st[i].k, r->st[i].k, (long long)r->st[i].params);
        dc_plot_bars(p, e, &c, 1, lab);
    }
    return dc_lab_figure_save(f, dir, "receptive-field");
}

void dc_lab_rf_print(const dc_lab_rf_result *r, FILE *out) {
    fprintf(out, "stacked convolutions, C = %d channels in and out, stride 1, no bias\n", r->channels);
    fprintf(out, "%-10s %12s %12s %11s %14s %14s\n", "stack", "weights", "= n k^2 C^2", "field", "field (meas.)",
            "non-linear.");
    for (int i = 0; i < 4; i++) {
        const dc_lab_stack *s = &r->st[i];
        char name[16], f1[16], f2[16], formula[24];
        snprintf(name, sizeof name, "%d x %dx%d", s->n, s->k, s->k);
        snprintf(f1, sizeof f1, "%lldx%lld", (long long)s->rf, (long long)s->rf);
        snprintf(f2, sizeof f2, "%lldx%lld", (long long)s->rf_measured, (long long)s->rf_measured);
        snprintf(formula, sizeof formula, "%d C^2", s->n * s->k * s->k);
        fprintf(out, "%-10s %12lld %12s %11s %14s %14lld\n", name, (long long)s->params, formula, f1, f2,
                (long long)s->relus);
    }
    fprintf(out, "two 3x3 use %.0f%% of the weights of one 5x5, three 3x3 %.0f%% of one 7x7\n",
            100.0 * (double)r->st[0].params / (double)r->st[1].params,
            100.0 * (double)r->st[2].params / (double)r->st[3].params);
    if (r->given)
        fprintf(out, "output size (H + 2P - FH)/S + 1 = (%lld + 2*%lld - %lld)/%lld + 1 = %lld  (deepc conv2d: %lld)\n",
                (long long)r->h, (long long)r->p, (long long)r->k, (long long)r->s, (long long)r->out,
                (long long)r->out_graph);
}
