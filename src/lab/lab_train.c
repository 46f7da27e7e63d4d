/* lab_train.c — the labs that train small nets on a Fashion-MNIST subset with plain SGD, as the
 * textbook's chapter 6 does (pixels in [0, 1], hidden layers of 100 ReLU units):
 *  batchnorm:    training accuracy with and without Batch Normalization for initial weight stds
 *                log-spaced from 1 to 1e-4 (1000 images, 5 hidden layers, lr 0.01, 20 epochs);
 *  overfit:      training vs test accuracy per epoch on 300 images with a 6-hidden-layer net,
 *                without regularisation, with weight decay (lambda 0.1) and with Dropout;
 *  hyperparams:  random search of learning rate and weight decay, judged on a validation split.
 * The nets are deepc graphs (dc_linear, dc_batchnorm, dc_relu, dc_dropout, the graph's weight
 * decay), trained with dc_optim SGD.  Accuracy is measured in inference mode (BatchNorm's running
 * statistics, no Dropout), as the textbook's accuracy() does.  Nothing here picks settings for
 * the user: the numbers are what these configurations give. */
#include "data/data.h"
#include "lab/lab.h"
#include "lab/lab_fig.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------ a small mlp and its training */
typedef struct lab_net {
    dc_graph *g;
    dc_optim *opt;
    dc_batcher *batcher;
    dc_node x, t, logits, loss;
    int64_t max_batch;
} lab_net;

static void net_free(lab_net *n) {
    dc_batcher_free(n->batcher);
    dc_optim_free(n->opt);
    dc_graph_free(n->g);
    memset(n, 0, sizeof *n);
}

/* Build, plan (for training batches and evaluation batches of up to eval_batch) and attach SGD and a
 * shuffling batcher over `train`. */
static dc_status net_create(lab_net *n, const dc_lab_net_config *c, const dc_dataset *train, dc_pool *pool,
                            int64_t eval_batch) {
    memset(n, 0, sizeof *n);
    DC_TRY(dc_graph_create(&n->g));
    dc_graph *g = n->g;
    n->x = dc_input(g, "images", dc_shape1((int64_t)train->c * train->h * train->w));
    n->t = dc_input(g, "labels", dc_shape_make(0, NULL));
    dc_node h = n->x;
    for (int l = 0; l < c->layers; l++) {
        char name[16];
        snprintf(name, sizeof name, "fc%d", l + 1);
        h = dc_linear(g, h, c->width, name);
        if (c->batchnorm) {
            snprintf(name, sizeof name, "bn%d", l + 1);
            h = dc_batchnorm_ex(g, h, name, 1e-6f, 0.1f); /* the textbook's eps (10e-7) and momentum (0.9) */
        }
        h = dc_relu(g, h);
        if (c->dropout > 0.0f) h = dc_dropout(g, h, c->dropout);
    }
    n->logits = dc_linear(g, h, train->num_classes, "out");
    n->loss = dc_softmax_cross_entropy(g, n->logits, n->t);
    dc_graph_opts go = {.pool = pool, .seed = c->seed, .weight_decay = c->weight_decay};
    if (c->init_std > 0.0f) { /* every weight ~ N(0, std^2), biases 0 */
        go.init = DC_INIT_NORMAL;
        go.init_value = c->init_std;
    }
    n->max_batch = eval_batch > c->batch ? eval_batch : c->batch;
    dc_status s = dc_graph_status(g);
    if (s == DC_OK) s = dc_graph_plan(g, n->max_batch, &go);
    dc_optim_config oc = dc_optim_defaults(DC_OPTIM_SGD, c->lr);
    if (s == DC_OK) s = dc_optim_create(&oc, dc_graph_params(g), dc_graph_param_count(g), pool, &n->opt);
    if (s == DC_OK) s = dc_batcher_create(train, c->batch, 1, dc_seed_mix(c->seed, 7, 7), 0, &n->batcher);
    if (s != DC_OK) net_free(n);
    return s;
}

/* One epoch of SGD steps over the shuffled training set.  A diverging net (NaN/Inf) is not an
 * error here: it is one of the things the labs show; its accuracy simply stays at chance. */
static dc_status net_epoch(lab_net *n) {
    float *xb = dc_graph_data(n->g, n->x), *tb = dc_graph_data(n->g, n->t);
    dc_batcher_reset(n->batcher);
    int64_t b;
    while ((b = dc_batcher_next(n->batcher, xb, tb)) > 0) {
        DC_TRY(dc_graph_forward(n->g, b, 1));
        dc_graph_zero_grad(n->g);
        DC_TRY(dc_graph_backward(n->g, n->loss));
        dc_optim_step(n->opt);
    }
    return DC_OK;
}

/* Accuracy over the first `limit` examples of ds (0: all), inference mode. */
static dc_status net_accuracy(lab_net *n, const dc_dataset *ds, int64_t limit, float *acc) {
    int64_t total = limit > 0 && limit < ds->n ? limit : ds->n, correct = 0;
    int64_t per = (int64_t)ds->c * ds->h * ds->w;
    int k = ds->num_classes;
    float *xb = dc_graph_data(n->g, n->x);
    for (int64_t i = 0; i < total; i += n->max_batch) {
        int64_t b = total - i < n->max_batch ? total - i : n->max_batch;
        memcpy(xb, ds->images + i * per, (size_t)(b * per) * sizeof(float));
        DC_TRY(dc_graph_forward_to(n->g, n->logits, b, 0));
        const float *lg = dc_graph_data(n->g, n->logits);
        for (int64_t e = 0; e < b; e++) {
            int best = 0;
            for (int j = 1; j < k; j++) if (lg[e * k + j] > lg[e * k + best]) best = j;
            correct += best == ds->labels[i + e];
        }
    }
    *acc = total ? (float)correct / (float)total : 0.0f;
    return DC_OK;
}

static dc_status load(const char *dir, const char *split, int64_t limit, const char *lab, dc_dataset **out) {
    dc_status s = dc_mnist_load(dir ? dir : DC_LAB_DATA, split, 0.0f, 1.0f, limit, out); /* pixels in [0, 1] */
    if (s != DC_OK) return DC_ERR(s, "lab %s: %s", lab, dc_last_error());
    if (limit > 0 && (*out)->n < limit) {
        int64_t have = (*out)->n;
        dc_dataset_free(*out);
        *out = NULL;
        return DC_ERR(DC_ERR_ARG, "lab %s: the %s set of '%s' has %lld images, %lld needed", lab, split,
                      dir ? dir : DC_LAB_DATA, (long long)have, (long long)limit);
    }
    return DC_OK;
}

static float *floats(int n) { return calloc((size_t)(n > 0 ? n : 1), sizeof(float)); }

/* ------------------------------------------------------------------ batchnorm */
void dc_lab_bn_defaults(dc_lab_bn_config *c) {
    memset(c, 0, sizeof *c);
    c->data_dir = DC_LAB_DATA;
    c->train_n = 1000;
    c->n_scales = 16;
    c->scale_hi = 1.0f;
    c->scale_lo = 1e-4f;
    c->epochs = 20;
    c->batch = 100;
    c->lr = 0.01f;
    c->layers = 5;
    c->width = 100;
    c->threads = 1; /* 100-unit layers: a second thread costs more than it gains */
    c->seed = 1;
}

void dc_lab_bn_free(dc_lab_bn_result *r) {
    if (!r) return;
    for (int i = 0; i < DC_LAB_BN_MAX_SCALES; i++) {
        free(r->acc_bn[i]);
        free(r->acc_plain[i]);
        r->acc_bn[i] = r->acc_plain[i] = NULL;
    }
}

dc_status dc_lab_bn_run(const dc_lab_bn_config *c, dc_lab_bn_result *r) {
    if (!c || !r) return DC_ERR(DC_ERR_ARG, "lab batchnorm: NULL argument");
    memset(r, 0, sizeof *r);
    if (c->n_scales < 1 || c->n_scales > DC_LAB_BN_MAX_SCALES || c->epochs < 1 || c->batch < 1 || c->train_n < 1 ||
        c->layers < 1 || c->width < 1 || !(c->scale_hi > 0.0f) || !(c->scale_lo > 0.0f) || !(c->lr > 0.0f))
        return DC_ERR(DC_ERR_ARG,
                      "lab batchnorm: scales %d (1..%d) from %g to %g (> 0), epochs %d, batch %d, images %lld, "
                      "layers %d, width %d must be >= 1, lr %g > 0",
                      c->n_scales, DC_LAB_BN_MAX_SCALES, (double)c->scale_hi, (double)c->scale_lo, c->epochs, c->batch,
                      (long long)c->train_n, c->layers, c->width, (double)c->lr);
    double t0 = dc_clock_s();
    dc_dataset *train = NULL;
    dc_pool *pool = NULL;
    DC_TRY(load(c->data_dir, "train", c->train_n, "batchnorm", &train));
    dc_status s = dc_pool_create(c->threads > 0 ? c->threads : 1, &pool);
    r->n_scales = c->n_scales;
    r->epochs = c->epochs;
    r->iters_per_epoch = (int)((train->n + c->batch - 1) / c->batch);
    for (int i = 0; s == DC_OK && i < c->n_scales; i++) {
        /* log-spaced like numpy.logspace(log10(hi), log10(lo), n) */
        double e = c->n_scales == 1 ? 0.0 : (double)i / (c->n_scales - 1);
        r->scale[i] = (float)exp(log(c->scale_hi) + e * (log(c->scale_lo) - log(c->scale_hi)));
        r->acc_bn[i] = floats(c->epochs + 1);
        r->acc_plain[i] = floats(c->epochs + 1);
        if (!r->acc_bn[i] || !r->acc_plain[i]) { s = DC_ERR(DC_ERR_NOMEM, "lab batchnorm: curves"); break; }
        for (int bn = 0; bn < 2 && s == DC_OK; bn++) {
            /* The same seed for both nets: the same weight draws and the same mini-batches. */
            dc_lab_net_config nc = {.layers = c->layers, .width = c->width, .batchnorm = bn, .init_std = r->scale[i],
                                    .lr = c->lr, .batch = c->batch, .epochs = c->epochs,
                                    .seed = dc_seed_mix(c->seed, (uint64_t)i, 1)};
            float *acc = bn ? r->acc_bn[i] : r->acc_plain[i];
            lab_net n;
            s = net_create(&n, &nc, train, pool, 1000);
            if (s != DC_OK) break;
            s = net_accuracy(&n, train, 0, &acc[0]);
            for (int ep = 1; s == DC_OK && ep <= c->epochs; ep++) {
                s = net_epoch(&n);
                if (s == DC_OK) s = net_accuracy(&n, train, 0, &acc[ep]);
            }
            net_free(&n);
        }
    }
    dc_pool_free(pool);
    dc_dataset_free(train);
    if (s != DC_OK) dc_lab_bn_free(r);
    r->seconds = dc_clock_s() - t0;
    return s;
}

dc_status dc_lab_bn_write(const dc_lab_bn_result *r, const char *dir) {
    dc_lab_text csv = {0};
    dc_lab_text_printf(&csv, "scale,epoch,iteration,train_acc_batchnorm,train_acc_plain\n");
    for (int i = 0; i < r->n_scales; i++)
        for (int e = 0; e <= r->epochs; e++)
            dc_lab_text_printf(&csv, "%.6g,%d,%d,%.6g,%.6g\n", (double)r->scale[i], e, e * r->iters_per_epoch,
                               (double)r->acc_bn[i][e], (double)r->acc_plain[i][e]);
    DC_TRY(dc_lab_text_save(&csv, dir, "batchnorm.csv"));

    int cols = r->n_scales < 4 ? r->n_scales : 4, rows = (r->n_scales + cols - 1) / cols;
    dc_figure *f = dc_figure_new(rows, cols, 260, 190,
                                 "training accuracy, with (BN) and without Batch Normalization, by initial weight std");
    if (!f) return DC_ERR(DC_ERR_NOMEM, "lab batchnorm: figure");
    float *ep = floats(r->epochs + 1);
    if (!ep) { dc_figure_free(f); return DC_ERR(DC_ERR_NOMEM, "lab batchnorm: figure"); }
    for (int e = 0; e <= r->epochs; e++) ep[e] = (float)e;
    for (int i = 0; i < r->n_scales; i++) {
        dc_plot *p = dc_figure_panel(f, i / cols, i % cols);
        char t[48];
        snprintf(t, sizeof t, "W std %.3g", (double)r->scale[i]);
        dc_plot_labels(p, t, i / cols == rows - 1 ? "epoch" : NULL, i % cols == 0 ? "accuracy" : NULL);
        dc_plot_yrange(p, 0.0f, 1.0f);
        dc_plot_line(p, ep, r->acc_bn[i], r->epochs + 1, i == 0 ? "Batch Norm" : NULL);
        dc_plot_line(p, ep, r->acc_plain[i], r->epochs + 1, i == 0 ? "without" : NULL);
    }
    free(ep);
    return dc_lab_figure_save(f, dir, "batchnorm");
}

void dc_lab_bn_print(const dc_lab_bn_result *r, FILE *out) {
    fprintf(out, "training accuracy after %d epochs (%d iterations each), with and without Batch Norm (%.1f s)\n",
            r->epochs, r->iters_per_epoch, r->seconds);
    fprintf(out, "%10s %12s %12s %10s %10s\n", "W std", "BN", "without", "BN@ep5", "w/o@ep5");
    int e5 = r->epochs < 5 ? r->epochs : 5;
    for (int i = 0; i < r->n_scales; i++)
        fprintf(out, "%10.3g %12.4f %12.4f %10.4f %10.4f\n", (double)r->scale[i], (double)r->acc_bn[i][r->epochs],
                (double)r->acc_plain[i][r->epochs], (double)r->acc_bn[i][e5], (double)r->acc_plain[i][e5]);
}

/* ------------------------------------------------------------------ overfit */
static const char *const fit_names[DC_LAB_FIT_COUNT] = {"none", "weight-decay", "dropout"};
const char *dc_lab_fit_name(int setting) { return setting >= 0 && setting < DC_LAB_FIT_COUNT ? fit_names[setting] : "?"; }

void dc_lab_overfit_defaults(dc_lab_overfit_config *c) {
    memset(c, 0, sizeof *c);
    c->data_dir = DC_LAB_DATA;
    c->train_n = 300;
    c->test_n = 2000;
    c->epochs = 200;
    c->batch = 100;
    c->lr = 0.01f;
    c->layers = 6;
    c->width = 100;
    c->weight_decay = 0.1f;
    c->dropout = 0.15f;
    c->threads = 1; /* 100-unit layers: a second thread costs more than it gains */
    c->seed = 1;
}

void dc_lab_overfit_free(dc_lab_overfit_result *r) {
    if (!r) return;
    for (int i = 0; i < DC_LAB_FIT_COUNT; i++) {
        free(r->train_acc[i]);
        free(r->test_acc[i]);
        r->train_acc[i] = r->test_acc[i] = NULL;
    }
}

dc_status dc_lab_overfit_run(const dc_lab_overfit_config *c, dc_lab_overfit_result *r) {
    if (!c || !r) return DC_ERR(DC_ERR_ARG, "lab overfit: NULL argument");
    memset(r, 0, sizeof *r);
    if (c->train_n < 1 || c->test_n < 1 || c->epochs < 1 || c->batch < 1 || c->layers < 1 || c->width < 1 ||
        !(c->lr > 0.0f) || !(c->weight_decay >= 0.0f) || !(c->dropout >= 0.0f && c->dropout < 1.0f))
        return DC_ERR(DC_ERR_ARG,
                      "lab overfit: images %lld / %lld, epochs %d, batch %d, layers %d, width %d must be >= 1, "
                      "lr %g > 0, weight decay %g >= 0, dropout %g in [0, 1)",
                      (long long)c->train_n, (long long)c->test_n, c->epochs, c->batch, c->layers, c->width,
                      (double)c->lr, (double)c->weight_decay, (double)c->dropout);
    double t0 = dc_clock_s();
    dc_dataset *train = NULL, *test = NULL;
    dc_pool *pool = NULL;
    DC_TRY(load(c->data_dir, "train", c->train_n, "overfit", &train));
    dc_status s = load(c->data_dir, "test", c->test_n, "overfit", &test);
    if (s == DC_OK) s = dc_pool_create(c->threads > 0 ? c->threads : 1, &pool);
    r->epochs = c->epochs;
    r->weight_decay = c->weight_decay;
    r->dropout = c->dropout;
    for (int k = 0; s == DC_OK && k < DC_LAB_FIT_COUNT; k++) {
        r->train_acc[k] = floats(c->epochs + 1);
        r->test_acc[k] = floats(c->epochs + 1);
        if (!r->train_acc[k] || !r->test_acc[k]) { s = DC_ERR(DC_ERR_NOMEM, "lab overfit: curves"); break; }
        /* Same seed for the three: the same initial weights and mini-batches; only the regulariser differs. */
        dc_lab_net_config nc = {.layers = c->layers, .width = c->width, .lr = c->lr, .batch = c->batch,
                                .epochs = c->epochs, .seed = dc_seed_mix(c->seed, 3, 3),
                                .weight_decay = k == DC_LAB_FIT_DECAY ? c->weight_decay : 0.0f,
                                .dropout = k == DC_LAB_FIT_DROPOUT ? c->dropout : 0.0f};
        lab_net n;
        s = net_create(&n, &nc, train, pool, 1000);
        if (s != DC_OK) break;
        dc_graph_set_seed(n.g, dc_seed_mix(c->seed, 5, 5)); /* dropout masks */
        s = net_accuracy(&n, train, 0, &r->train_acc[k][0]);
        if (s == DC_OK) s = net_accuracy(&n, test, 0, &r->test_acc[k][0]);
        for (int ep = 1; s == DC_OK && ep <= c->epochs; ep++) {
            s = net_epoch(&n);
            if (s == DC_OK) s = net_accuracy(&n, train, 0, &r->train_acc[k][ep]);
            if (s == DC_OK) s = net_accuracy(&n, test, 0, &r->test_acc[k][ep]);
        }
        net_free(&n);
    }
    dc_pool_free(pool);
    dc_dataset_free(train);
    dc_dataset_free(test);
    if (s != DC_OK) dc_lab_overfit_free(r);
    r->seconds = dc_clock_s() - t0;
    return s;
}

static void fit_title(const dc_lab_overfit_result *r, int k, char *buf, size_t n) {
    if (k == DC_LAB_FIT_DECAY) snprintf(buf, n, "weight decay (lambda %g)", (double)r->weight_decay);
    else if (k == DC_LAB_FIT_DROPOUT) snprintf(buf, n, "Dropout (ratio %g)", (double)r->dropout);
    else snprintf(buf, n, "no regularisation");
}

dc_status dc_lab_overfit_write(const dc_lab_overfit_result *r, const char *dir) {
    dc_lab_text csv = {0};
    dc_lab_text_printf(&csv, "setting,epoch,train_acc,test_acc\n");
    for (int k = 0; k < DC_LAB_FIT_COUNT; k++)
        for (int e = 0; e <= r->epochs; e++)
            dc_lab_text_printf(&csv, "%s,%d,%.6g,%.6g\n", fit_names[k], e, (double)r->train_acc[k][e],
                               (double)r->test_acc[k][e]);
    DC_TRY(dc_lab_text_save(&csv, dir, "overfit.csv"));

    dc_figure *f = dc_figure_new(1, DC_LAB_FIT_COUNT, 380, 300, "overfitting 300 training images: accuracy per epoch");
    if (!f) return DC_ERR(DC_ERR_NOMEM, "lab overfit: figure");
    float *ep = floats(r->epochs + 1);
    if (!ep) { dc_figure_free(f); return DC_ERR(DC_ERR_NOMEM, "lab overfit: figure"); }
    for (int e = 0; e <= r->epochs; e++) ep[e] = (float)e;
    for (int k = 0; k < DC_LAB_FIT_COUNT; k++) {
        char t[64];
        fit_title(r, k, t, sizeof t);
        dc_plot *p = dc_figure_panel(f, 0, k);
        dc_plot_labels(p, t, "epoch", k == 0 ? "accuracy" : NULL);
        dc_plot_yrange(p, 0.0f, 1.25f); /* room for the legend above the curves */
        dc_plot_line(p, ep, r->train_acc[k], r->epochs + 1, "train");
        dc_plot_line(p, ep, r->test_acc[k], r->epochs + 1, "test");
    }
    free(ep);
    return dc_lab_figure_save(f, dir, "overfit");
}

void dc_lab_overfit_print(const dc_lab_overfit_result *r, FILE *out) {
    fprintf(out, "300 training images, accuracy after %d epochs (%.1f s)\n", r->epochs, r->seconds);
    fprintf(out, "%-26s %9s %9s %9s %12s\n", "setting", "train", "test", "gap", "best test");
    for (int k = 0; k < DC_LAB_FIT_COUNT; k++) {
        char t[64];
        fit_title(r, k, t, sizeof t);
        float best = 0.0f;
        for (int e = 0; e <= r->epochs; e++) best = fmaxf(best, r->test_acc[k][e]);
        float tr = r->train_acc[k][r->epochs], te = r->test_acc[k][r->epochs];
        fprintf(out, "%-26s %9.4f %9.4f %9.4f %12.4f\n", t, (double)tr, (double)te, (double)(tr - te), (double)best);
    }
}

/* ------------------------------------------------------------------ hyperparams */
void dc_lab_search_defaults(dc_lab_search_config *c) {
    memset(c, 0, sizeof *c);
    c->data_dir = DC_LAB_DATA;
    c->train_n = 500;
    c->val_n = 100;
    c->trials = 100;
    c->epochs = 50;
    c->batch = 100;
    c->layers = 6;
    c->width = 100;
    c->lr_lo = 1e-6f;
    c->lr_hi = 1e-2f;
    c->wd_lo = 1e-8f;
    c->wd_hi = 1e-4f;
    c->top = 5;
    c->threads = 1; /* 100-unit layers: a second thread costs more than it gains */
    c->seed = 1;
}

void dc_lab_search_free(dc_lab_search_result *r) {
    if (!r) return;
    if (r->t)
        for (int i = 0; i < r->trials; i++) free(r->t[i].val_curve);
    free(r->t);
    r->t = NULL;
}

static int by_val_acc(const void *a, const void *b) {
    const dc_lab_trial *x = a, *y = b;
    if (x->val_acc != y->val_acc) return x->val_acc < y->val_acc ? 1 : -1;
    return x->lr < y->lr ? -1 : x->lr > y->lr; /* a fixed order for ties */
}

dc_status dc_lab_search_run(const dc_lab_search_config *c, dc_lab_search_result *r) {
    if (!c || !r) return DC_ERR(DC_ERR_ARG, "lab hyperparams: NULL argument");
    memset(r, 0, sizeof *r);
    if (c->trials < 1 || c->epochs < 1 || c->batch < 1 || c->layers < 1 || c->width < 1 || c->val_n < 1 ||
        c->train_n <= c->val_n || !(c->lr_lo > 0.0f && c->lr_lo <= c->lr_hi) ||
        !(c->wd_lo > 0.0f && c->wd_lo <= c->wd_hi))
        return DC_ERR(DC_ERR_ARG,
                      "lab hyperparams: trials %d, epochs %d, batch %d, layers %d, width %d must be >= 1; "
                      "validation %lld must be in 1..images-1 (images %lld); ranges lr %g..%g, wd %g..%g must be "
                      "positive and ordered",
                      c->trials, c->epochs, c->batch, c->layers, c->width, (long long)c->val_n, (long long)c->train_n,
                      (double)c->lr_lo, (double)c->lr_hi, (double)c->wd_lo, (double)c->wd_hi);
    double t0 = dc_clock_s();
    dc_dataset *all = NULL, *val = NULL, *train = NULL;
    dc_pool *pool = NULL;
    DC_TRY(load(c->data_dir, "train", c->train_n, "hyperparams", &all));
    /* The validation split: val_n of the train_n images, after a seeded shuffle. */
    dc_status s = dc_dataset_split(all, c->val_n, dc_seed_mix(c->seed, 11, 11), &val, &train);
    dc_dataset_free(all);
    if (s == DC_OK) s = dc_pool_create(c->threads > 0 ? c->threads : 1, &pool);
    r->trials = c->trials;
    r->epochs = c->epochs;
    r->top = c->top < c->trials ? c->top : c->trials;
    r->lr_lo = c->lr_lo;
    r->lr_hi = c->lr_hi;
    r->wd_lo = c->wd_lo;
    r->wd_hi = c->wd_hi;
    r->t = s == DC_OK ? calloc((size_t)c->trials, sizeof *r->t) : NULL;
    if (s == DC_OK && !r->t) s = DC_ERR(DC_ERR_NOMEM, "lab hyperparams: %d trials", c->trials);
    dc_rng rng;
    dc_rng_seed(&rng, dc_seed_mix(c->seed, 13, 13));
    for (int i = 0; s == DC_OK && i < c->trials; i++) {
        dc_lab_trial *t = &r->t[i];
        /* log-uniform: 10^U(log10 lo, log10 hi) */
        t->lr = (float)pow(10.0, log10(c->lr_lo) + dc_rng_uniform(&rng) * (log10(c->lr_hi) - log10(c->lr_lo)));
        t->wd = (float)pow(10.0, log10(c->wd_lo) + dc_rng_uniform(&rng) * (log10(c->wd_hi) - log10(c->wd_lo)));
        t->val_curve = floats(c->epochs + 1);
        if (!t->val_curve) { s = DC_ERR(DC_ERR_NOMEM, "lab hyperparams: curves"); break; }
        dc_lab_net_config nc = {.layers = c->layers, .width = c->width, .lr = t->lr, .weight_decay = t->wd,
                                .batch = c->batch, .epochs = c->epochs, .seed = dc_seed_mix(c->seed, 17, (uint64_t)i)};
        lab_net n;
        s = net_create(&n, &nc, train, pool, 500);
        if (s != DC_OK) break;
        s = net_accuracy(&n, val, 0, &t->val_curve[0]);
        for (int ep = 1; s == DC_OK && ep <= c->epochs; ep++) {
            s = net_epoch(&n);
            if (s == DC_OK) s = net_accuracy(&n, val, 0, &t->val_curve[ep]);
        }
        if (s == DC_OK) s = net_accuracy(&n, train, 0, &t->train_acc);
        t->val_acc = t->val_curve[c->epochs];
        net_free(&n);
    }
    if (s == DC_OK) qsort(r->t, (size_t)r->trials, sizeof *r->t, by_val_acc);
    dc_pool_free(pool);
    dc_dataset_free(val);
    dc_dataset_free(train);
    if (s != DC_OK) dc_lab_search_free(r);
    r->seconds = dc_clock_s() - t0;
    return s;
}

dc_status dc_lab_search_write(const dc_lab_search_result *r, const char *dir) {
    dc_lab_text csv = {0}, cur = {0};
    dc_lab_text_printf(&csv, "rank,lr,weight_decay,val_acc,train_acc\n");
    dc_lab_text_printf(&cur, "rank,epoch,val_acc\n");
    for (int i = 0; i < r->trials; i++) {
        dc_lab_text_printf(&csv, "%d,%.6g,%.6g,%.6g,%.6g\n", i + 1, (double)r->t[i].lr, (double)r->t[i].wd,
                           (double)r->t[i].val_acc, (double)r->t[i].train_acc);
        for (int e = 0; e <= r->epochs; e++)
            dc_lab_text_printf(&cur, "%d,%d,%.6g\n", i + 1, e, (double)r->t[i].val_curve[e]);
    }
    DC_TRY(dc_lab_text_save(&csv, dir, "hyperparams.csv"));
    DC_TRY(dc_lab_text_save(&cur, dir, "hyperparams-curves.csv"));

    dc_figure *f = dc_figure_new(1, 2, 480, 380, "random search: learning rate x weight decay, validation accuracy");
    if (!f) return DC_ERR(DC_ERR_NOMEM, "lab hyperparams: figure");
    float *xs = floats(r->trials), *ys = floats(r->trials), *ep = floats(r->epochs + 1);
    if (!xs || !ys || !ep) {
        free(xs); free(ys); free(ep);
        dc_figure_free(f);
        return DC_ERR(DC_ERR_NOMEM, "lab hyperparams: figure");
    }
    /* Scatter: one series per accuracy band (the palette colours them), the top trials last. */
    dc_plot *p = dc_figure_panel(f, 0, 0);
    dc_plot_labels(p, "trials by validation accuracy", "learning rate (log)", "weight decay (log)");
    dc_plot_log_x(p, 1);
    dc_plot_log_y(p, 1);
    /* two empty decades on the right for the legend */
    dc_plot_xrange(p, r->lr_lo, r->lr_hi * 100.0f);
    dc_plot_yrange(p, r->wd_lo, r->wd_hi);
    static const float band_lo[] = {0.0f, 0.2f, 0.4f, 0.6f, 0.7f};
    static const float band_hi[] = {0.2f, 0.4f, 0.6f, 0.7f, 1.01f};
    static const char *const band_name[] = {"acc < 0.2", "0.2 - 0.4", "0.4 - 0.6", "0.6 - 0.7", ">= 0.7"};
    for (int b = 0; b < 5; b++) {
        int n = 0;
        for (int i = r->top; i < r->trials; i++)
            if (r->t[i].val_acc >= band_lo[b] && r->t[i].val_acc < band_hi[b]) {
                xs[n] = r->t[i].lr;
                ys[n] = r->t[i].wd;
                n++;
            }
        if (n) dc_plot_points(p, xs, ys, n, band_name[b]);
    }
    for (int i = 0; i < r->top; i++) {
        xs[i] = r->t[i].lr;
        ys[i] = r->t[i].wd;
    }
    char lab[48];
    snprintf(lab, sizeof lab, "top %d", r->top);
    dc_plot_points(p, xs, ys, r->top, lab);
    /* The best region: the box spanned by the top trials. */
    if (r->top > 1) {
        float lx = xs[0], hx = xs[0], ly = ys[0], hy = ys[0];
        for (int i = 1; i < r->top; i++) {
            lx = fminf(lx, xs[i]); hx = fmaxf(hx, xs[i]);
            ly = fminf(ly, ys[i]); hy = fmaxf(hy, ys[i]);
        }
        float bx[5] = {lx, hx, hx, lx, lx}, by[5] = {ly, ly, hy, hy, ly};
        dc_plot_line(p, bx, by, 5, "top region");
    }
    /* Validation curves of the top trials. */
    p = dc_figure_panel(f, 0, 1);
    dc_plot_labels(p, "validation accuracy of the top trials", "epoch", "accuracy");
    dc_plot_yrange(p, 0.0f, 1.2f);
    for (int e = 0; e <= r->epochs; e++) ep[e] = (float)e;
    for (int i = 0; i < r->top; i++) {
        char l[64];
        snprintf(l, sizeof l, "#%d lr %.2g wd %.2g", i + 1, (double)r->t[i].lr, (double)r->t[i].wd);
        dc_plot_line(p, ep, r->t[i].val_curve, r->epochs + 1, l);
    }
    free(xs);
    free(ys);
    free(ep);
    return dc_lab_figure_save(f, dir, "hyperparams");
}

void dc_lab_search_print(const dc_lab_search_result *r, FILE *out) {
    fprintf(out, "random search, %d trials of %d epochs (%.1f s); best by validation accuracy:\n", r->trials, r->epochs,
            r->seconds);
    fprintf(out, "%5s %12s %14s %9s %10s\n", "rank", "lr", "weight decay", "val_acc", "train_acc");
    for (int i = 0; i < r->top; i++)
        fprintf(out, "%5d %12.3e %14.3e %9.4f %10.4f\n", i + 1, (double)r->t[i].lr, (double)r->t[i].wd,
                (double)r->t[i].val_acc, (double)r->t[i].train_acc);
    if (r->top > 0) {
        float lx = r->t[0].lr, hx = lx, ly = r->t[0].wd, hy = ly;
        for (int i = 1; i < r->top; i++) {
            lx = fminf(lx, r->t[i].lr); hx = fmaxf(hx, r->t[i].lr);
            ly = fminf(ly, r->t[i].wd); hy = fmaxf(hy, r->t[i].wd);
        }
        fprintf(out, "top-%d region: lr %.2e .. %.2e, weight decay %.2e .. %.2e\n", r->top, (double)lx, (double)hx,
                (double)ly, (double)hy);
    }
}
