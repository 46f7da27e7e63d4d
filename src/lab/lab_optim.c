/* lab_optim.c — the optimizer labs.
 *  optimizers:          the five optimizers' paths on f(x, y) = x^2/20 + y^2 from (-7, 2), 30 steps,
 *                       each step being deepc's own dc_optim_step on a 2-element parameter whose
 *                       gradient is set to the analytic (x/10, 2y) — not a re-implementation.
 *  optimizers-fashion:  per-step training loss of the five optimizers on the zoo mlp, same initial
 *                       weights and same mini-batches for all five.
 * It does not tune anything: the learning rates are the textbook's (RMSProp's, which the textbook
 * does not give for the bowl, is 0.3 with decay 0.99 — stated in the figure and in docs/labs.md). */
#include "data/data.h"
#include "lab/lab.h"
#include "lab/lab_fig.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const optim_titles[DC_OPTIM_COUNT] = {"SGD", "Momentum", "AdaGrad", "RMSProp", "Adam"};

/* ------------------------------------------------------------------ paths on the bowl */
float dc_lab_bowl(float x, float y) { return x * x / 20.0f + y * y; }

void dc_lab_paths_defaults(dc_lab_paths_config *c) {
    memset(c, 0, sizeof *c);
    c->steps = 30;
    c->x0 = -7.0f;
    c->y0 = 2.0f;
    c->lr[DC_OPTIM_SGD] = 0.95f;
    c->lr[DC_OPTIM_MOMENTUM] = 0.1f;
    c->lr[DC_OPTIM_ADAGRAD] = 1.5f;
    c->lr[DC_OPTIM_RMSPROP] = 0.3f;
    c->lr[DC_OPTIM_ADAM] = 0.3f;
}

dc_status dc_lab_paths_run(const dc_lab_paths_config *c, dc_lab_path out[DC_OPTIM_COUNT]) {
    if (!c || !out) return DC_ERR(DC_ERR_ARG, "lab optimizers: NULL argument");
    if (c->steps < 1 || c->steps > DC_LAB_PATH_MAX)
        return DC_ERR(DC_ERR_ARG, "lab optimizers: steps %d outside 1..%d", c->steps, DC_LAB_PATH_MAX);
    for (int k = 0; k < DC_OPTIM_COUNT; k++) {
        dc_lab_path *p = &out[k];
        memset(p, 0, sizeof *p);
        p->cfg = dc_optim_defaults((dc_optim_kind)k, c->lr[k]); /* Momentum alpha 0.9, RMSProp rho 0.99, Adam 0.9/0.999 */
        p->steps = c->steps;
        float w[2] = {c->x0, c->y0}, g[2] = {0.0f, 0.0f};
        dc_param param = {.name = "xy", .shape = dc_shape1(2), .data = w, .grad = g, .numel = 2, .trainable = 1};
        dc_optim *o = NULL;
        dc_status s = dc_optim_create(&p->cfg, &param, 1, NULL, &o);
        if (s != DC_OK)
            return DC_ERR(s, "lab optimizers: %s (lr %g): %s", optim_titles[k], (double)c->lr[k], dc_last_error());
        p->x[0] = w[0];
        p->y[0] = w[1];
        for (int t = 1; t <= c->steps; t++) {
            g[0] = w[0] / 10.0f; /* df/dx = x/10 */
            g[1] = 2.0f * w[1];  /* df/dy = 2y   */
            dc_optim_step(o);
            p->x[t] = w[0];
            p->y[t] = w[1];
        }
        dc_optim_free(o);
    }
    return DC_OK;
}

dc_status dc_lab_paths_write(const dc_lab_path p[DC_OPTIM_COUNT], const char *dir) {
    dc_lab_text csv = {0};
    dc_lab_text_printf(&csv, "optimizer,lr,step,x,y,f\n");
    for (int k = 0; k < DC_OPTIM_COUNT; k++)
        for (int t = 0; t <= p[k].steps; t++)
            dc_lab_text_printf(&csv, "%s,%g,%d,%.9g,%.9g,%.9g\n", dc_optim_name((dc_optim_kind)k), (double)p[k].cfg.lr,
                               t, (double)p[k].x[t], (double)p[k].y[t], (double)dc_lab_bowl(p[k].x[t], p[k].y[t]));
    DC_TRY(dc_lab_text_save(&csv, dir, "optimizers.csv"));

    /* The bowl sampled on [-10, 10] x [-5, 5] for the contour lines. */
    enum { NX = 201, NY = 101 };
    float *z = malloc(NX * NY * sizeof *z);
    if (!z) return DC_ERR(DC_ERR_NOMEM, "lab optimizers: contour grid");
    for (int i = 0; i < NY; i++)
        for (int j = 0; j < NX; j++) z[i * NX + j] = dc_lab_bowl(-10.0f + 0.1f * (float)j, -5.0f + 0.1f * (float)i);
    static const float levels[] = {0.25f, 0.5f, 1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f};
    dc_figure *f = dc_figure_new(2, 3, 400, 260, "f(x, y) = x^2/20 + y^2 from (-7, 2), 30 steps of deepc's optimizers");
    if (!f) {
        free(z);
        return DC_ERR(DC_ERR_NOMEM, "lab optimizers: figure");
    }
    for (int k = 0; k < DC_OPTIM_COUNT; k++) {
        dc_plot *pl = dc_figure_panel(f, k / 3, k % 3);
        char title[96];
        if (k == DC_OPTIM_MOMENTUM)
            snprintf(title, sizeof title, "%s (lr %g, alpha %g)", optim_titles[k], (double)p[k].cfg.lr, (double)p[k].cfg.momentum);
        else if (k == DC_OPTIM_RMSPROP)
            snprintf(title, sizeof title, "%s (lr %g, decay %g)", optim_titles[k], (double)p[k].cfg.lr, (double)p[k].cfg.rho);
        else
            snprintf(title, sizeof title, "%s (lr %g)", optim_titles[k], (double)p[k].cfg.lr);
        dc_plot_labels(pl, title, "x", "y");
        dc_plot_xrange(pl, -10.0f, 10.0f);
        dc_plot_yrange(pl, -5.0f, 5.0f);
        dc_plot_contour(pl, z, NX, NY, -10.0f, 10.0f, -5.0f, 5.0f, levels, (int)(sizeof levels / sizeof levels[0]));
        dc_plot_line(pl, p[k].x, p[k].y, p[k].steps + 1, NULL);
        dc_plot_points(pl, p[k].x, p[k].y, p[k].steps + 1, NULL);
        const float mx = 0.0f, my = 0.0f;
        dc_plot_points(pl, &mx, &my, 1, "minimum (0, 0)");
    }
    /* Sixth panel: f along each path (log scale). */
    dc_plot *pl = dc_figure_panel(f, 1, 2);
    dc_plot_labels(pl, "f(x, y) per step", "step", "f (log)");
    dc_plot_log_y(pl, 1);
    for (int k = 0; k < DC_OPTIM_COUNT; k++) {
        float steps[DC_LAB_PATH_MAX + 1], fv[DC_LAB_PATH_MAX + 1];
        for (int t = 0; t <= p[k].steps; t++) {
            steps[t] = (float)t;
            fv[t] = fmaxf(dc_lab_bowl(p[k].x[t], p[k].y[t]), 1e-12f);
        }
        dc_plot_line(pl, steps, fv, p[k].steps + 1, optim_titles[k]);
    }
    dc_status s = dc_lab_figure_save(f, dir, "optimizers");
    free(z);
    return s;
}

void dc_lab_paths_print(const dc_lab_path p[DC_OPTIM_COUNT], FILE *out) {
    fprintf(out, "f(x, y) = x^2/20 + y^2 from (%g, %g), %d steps of deepc's optimizers\n", (double)p[0].x[0],
            (double)p[0].y[0], p[0].steps);
    fprintf(out, "%-9s %-18s %10s %10s %11s %9s %8s\n", "optimizer", "settings", "x_end", "y_end", "f_end",
            "y_flips", "path");
    for (int k = 0; k < DC_OPTIM_COUNT; k++) {
        const dc_lab_path *q = &p[k];
        int flips = 0;
        double len = 0.0;
        for (int t = 1; t <= q->steps; t++) {
            flips += (q->y[t] > 0.0f) != (q->y[t - 1] > 0.0f);
            len += hypot((double)(q->x[t] - q->x[t - 1]), (double)(q->y[t] - q->y[t - 1]));
        }
        char set[40];
        if (k == DC_OPTIM_MOMENTUM) snprintf(set, sizeof set, "lr %g alpha %g", (double)q->cfg.lr, (double)q->cfg.momentum);
        else if (k == DC_OPTIM_RMSPROP) snprintf(set, sizeof set, "lr %g decay %g", (double)q->cfg.lr, (double)q->cfg.rho);
        else snprintf(set, sizeof set, "lr %g", (double)q->cfg.lr);
        fprintf(out, "%-9s %-18s %10.4f %10.4f %11.3e %9d %8.2f\n", optim_titles[k], set, (double)q->x[q->steps],
                (double)q->y[q->steps], (double)dc_lab_bowl(q->x[q->steps], q->y[q->steps]), flips, len);
    }
}

/* ------------------------------------------------------------------ loss curves on Fashion-MNIST */
void dc_lab_curves_defaults(dc_lab_curves_config *c) {
    memset(c, 0, sizeof *c);
    c->data_dir = DC_LAB_DATA;
    c->train_n = 0;
    c->steps = 2000; /* the textbook's max_iterations */
    c->batch = 128;
    for (int k = 0; k < DC_OPTIM_COUNT; k++) c->lr[k] = 0.01f;
    c->lr[DC_OPTIM_ADAM] = 0.001f;
    c->smooth = 25;
    c->threads = 2;
    c->seed = 1;
}

void dc_lab_smooth(const float *v, int n, int window, float *out) {
    int h = window > 1 ? window / 2 : 0;
    for (int i = 0; i < n; i++) {
        int lo = i - h < 0 ? 0 : i - h, hi = i + h >= n ? n - 1 : i + h;
        double s = 0.0;
        for (int j = lo; j <= hi; j++) s += v[j];
        out[i] = (float)(s / (double)(hi - lo + 1));
    }
}

void dc_lab_curves_free(dc_lab_curves *r) {
    if (!r) return;
    for (int k = 0; k < DC_OPTIM_COUNT; k++) {
        free(r->loss[k]);
        free(r->smoothed[k]);
        r->loss[k] = r->smoothed[k] = NULL;
    }
}

/* One optimizer's run: the mlp with the same seed (same initial weights), the same batch order. */
static dc_status curve_one(const dc_lab_curves_config *c, dc_optim_kind k, const dc_dataset *train,
                           const dc_dataset *test, dc_pool *pool, float *loss, double *test_acc) {
    dc_graph *g = NULL;
    dc_optim *o = NULL;
    dc_batcher *b = NULL;
    DC_TRY(dc_graph_create(&g));
    dc_node x = dc_input(g, "images", dc_shape1(784)), t = dc_input(g, "labels", dc_shape_make(0, NULL)), logits = DC_NONE;
    dc_status s = dc_graph_status(g);
    if (s == DC_OK) s = dc_model_build(g, "mlp", x, 10, &logits);
    dc_node l = s == DC_OK ? dc_softmax_cross_entropy(g, logits, t) : DC_NONE;
    if (s == DC_OK) s = dc_graph_status(g);
    dc_graph_opts go = {.pool = pool, .seed = c->seed};
    if (s == DC_OK) s = dc_graph_plan(g, c->batch, &go);
    dc_optim_config oc = dc_optim_defaults(k, c->lr[k]);
    if (s == DC_OK) s = dc_optim_create(&oc, dc_graph_params(g), dc_graph_param_count(g), pool, &o);
    if (s == DC_OK) s = dc_batcher_create(train, c->batch, 1, c->seed ^ 0x5eedull, 1, &b);
    float *xb = s == DC_OK ? dc_graph_data(g, x) : NULL, *tb = s == DC_OK ? dc_graph_data(g, t) : NULL;
    for (int step = 0; s == DC_OK && step < c->steps; step++) {
        int64_t n = dc_batcher_next(b, xb, tb);
        if (n == 0) {
            dc_batcher_reset(b);
            n = dc_batcher_next(b, xb, tb);
        }
        s = dc_graph_forward(g, n, 1);
        if (s != DC_OK) break;
        loss[step] = dc_graph_loss(g, l);
        if (!isfinite(loss[step])) {
            s = DC_ERR(DC_ERR_NUMERIC, "lab optimizers-fashion: %s (lr %g) diverged at step %d (loss %g)",
                       optim_titles[k], (double)c->lr[k], step, (double)loss[step]);
            break;
        }
        dc_graph_zero_grad(g);
        s = dc_graph_backward(g, l);
        if (s == DC_OK) dc_optim_step(o);
    }
    int64_t correct = 0, total = 0;
    for (int64_t i = 0; s == DC_OK && i < test->n; i += c->batch) {
        int64_t n = test->n - i < c->batch ? test->n - i : c->batch;
        memcpy(xb, test->images + i * 784, (size_t)(n * 784) * sizeof(float));
        s = dc_graph_forward_to(g, logits, n, 0);
        const float *lg = dc_graph_data(g, logits);
        for (int64_t e = 0; s == DC_OK && e < n; e++) {
            int best = 0;
            for (int j = 1; j < 10; j++) if (lg[e * 10 + j] > lg[e * 10 + best]) best = j;
            correct += best == test->labels[i + e];
            total++;
        }
    }
    *test_acc = total ? (double)correct / (double)total : 0.0;
    dc_batcher_free(b);
    dc_optim_free(o);
    dc_graph_free(g);
    return s;
}

dc_status dc_lab_curves_run(const dc_lab_curves_config *c, dc_lab_curves *r) {
    if (!c || !r) return DC_ERR(DC_ERR_ARG, "lab optimizers-fashion: NULL argument");
    memset(r, 0, sizeof *r);
    if (c->steps < 1 || c->batch < 1 || c->smooth < 1)
        return DC_ERR(DC_ERR_ARG, "lab optimizers-fashion: steps %d, batch %d and smoothing window %d must be >= 1",
                      c->steps, c->batch, c->smooth);
    double t0 = dc_clock_s();
    dc_dataset *train = NULL, *test = NULL;
    dc_pool *pool = NULL;
    /* Pixels in [0, 1] as in the textbook. */
    dc_status s = dc_mnist_load(c->data_dir ? c->data_dir : DC_LAB_DATA, "train", 0.0f, 1.0f, c->train_n, &train);
    if (s == DC_OK) s = dc_mnist_load(c->data_dir ? c->data_dir : DC_LAB_DATA, "test", 0.0f, 1.0f, 2000, &test);
    if (s == DC_OK && train->c * train->h * train->w != 784)
        s = DC_ERR(DC_ERR_SHAPE, "lab optimizers-fashion: images are %dx%dx%d, the mlp needs 1x28x28", train->c,
                   train->h, train->w);
    if (s == DC_OK && train->n < c->batch)
        s = DC_ERR(DC_ERR_ARG, "lab optimizers-fashion: %lld training images, fewer than one batch of %d",
                   (long long)train->n, c->batch);
    if (s == DC_OK) s = dc_pool_create(c->threads > 0 ? c->threads : 1, &pool);
    r->steps = c->steps;
    r->smooth = c->smooth;
    r->batch = c->batch;
    for (int k = 0; s == DC_OK && k < DC_OPTIM_COUNT; k++) {
        r->lr[k] = c->lr[k];
        r->loss[k] = malloc((size_t)c->steps * sizeof(float));
        r->smoothed[k] = malloc((size_t)c->steps * sizeof(float));
        if (!r->loss[k] || !r->smoothed[k]) { s = DC_ERR(DC_ERR_NOMEM, "lab optimizers-fashion: curves"); break; }
        s = curve_one(c, (dc_optim_kind)k, train, test, pool, r->loss[k], &r->test_acc[k]);
        if (s != DC_OK) break;
        dc_lab_smooth(r->loss[k], c->steps, c->smooth, r->smoothed[k]);
        int tail = c->smooth < c->steps ? c->smooth : c->steps;
        double m = 0.0;
        for (int i = c->steps - tail; i < c->steps; i++) m += r->loss[k][i];
        r->final_loss[k] = m / tail;
    }
    dc_pool_free(pool);
    dc_dataset_free(train);
    dc_dataset_free(test);
    if (s != DC_OK) dc_lab_curves_free(r);
    r->seconds = dc_clock_s() - t0;
    return s;
}

dc_status dc_lab_curves_write(const dc_lab_curves *r, const char *dir) {
    dc_lab_text csv = {0};
    dc_lab_text_printf(&csv, "optimizer,lr,step,loss,loss_smoothed\n");
    for (int k = 0; k < DC_OPTIM_COUNT; k++)
        for (int i = 0; i < r->steps; i++)
            dc_lab_text_printf(&csv, "%s,%g,%d,%.6g,%.6g\n", dc_optim_name((dc_optim_kind)k), (double)r->lr[k], i + 1,
                               (double)r->loss[k][i], (double)r->smoothed[k][i]);
    DC_TRY(dc_lab_text_save(&csv, dir, "optimizers-fashion.csv"));

    float *steps = malloc((size_t)r->steps * sizeof(float));
    if (!steps) return DC_ERR(DC_ERR_NOMEM, "lab optimizers-fashion: figure");
    for (int i = 0; i < r->steps; i++) steps[i] = (float)(i + 1);
    char title[160];
    snprintf(title, sizeof title, "mlp 784-256-256-10, Fashion-MNIST: training loss (mean of %d steps)", r->smooth);
    dc_figure *f = dc_figure_new(1, 1, 720, 440, title);
    if (!f) { free(steps); return DC_ERR(DC_ERR_NOMEM, "lab optimizers-fashion: figure"); }
    dc_plot *p = dc_figure_panel(f, 0, 0);
    dc_plot_labels(p, NULL, "iteration", "loss");
    dc_plot_yrange(p, 0.0f, 1.6f); /* as the textbook's ylim: RMSProp's first steps (loss ~80) are cut off */
    for (int k = 0; k < DC_OPTIM_COUNT; k++) {
        char label[48];
        snprintf(label, sizeof label, "%s (lr %g)", optim_titles[k], (double)r->lr[k]);
        dc_plot_line(p, steps, r->smoothed[k], r->steps, label);
    }
    dc_status s = dc_lab_figure_save(f, dir, "optimizers-fashion");
    free(steps);
    return s;
}

void dc_lab_curves_print(const dc_lab_curves *r, FILE *out) {
    fprintf(out, "mlp on Fashion-MNIST, %d steps of batch %d per optimizer (%.1f s)\n", r->steps, r->batch, r->seconds);
    fprintf(out, "%-9s %8s %9s %10s %10s %10s %9s\n", "optimizer", "lr", "peak", "loss@100", "loss@half", "loss_end",
            "test_acc");
    for (int k = 0; k < DC_OPTIM_COUNT; k++) {
        int i100 = r->steps >= 100 ? 99 : r->steps - 1;
        float peak = 0.0f;
        for (int i = 0; i < r->steps; i++) peak = fmaxf(peak, r->loss[k][i]);
        fprintf(out, "%-9s %8g %9.3g %10.4f %10.4f %10.4f %9.4f\n", optim_titles[k], (double)r->lr[k], (double)peak,
                (double)r->smoothed[k][i100], (double)r->smoothed[k][r->steps / 2], r->final_loss[k], r->test_acc[k]);
    }
}
