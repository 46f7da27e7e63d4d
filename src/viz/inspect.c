/* inspect.c — the figures of inspect.h: run curves from the CSV logs, and pictures of a trained
 * network read through the public graph API (node op names and shapes, dc_graph_data after a
 * forward pass, parameters by name).  Every activation of a node the logits depend on is in its own
 * buffer after dc_graph_forward_to (only reshapes alias their input), which is what makes the
 * feature maps readable without hooks. */
#include "viz/inspect.h"

#include "viz/runlog.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const FASHION[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                        "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

const char *dc_viz_class_name(int classes, int k, char *buf, size_t n) {
    if (classes == 10 && k >= 0 && k < 10) return FASHION[k];
    snprintf(buf, n, "class %d", k);
    return buf;
}

static int grid_cols(int n) {
    int c = (int)ceil(sqrt((double)n));
    return c < 1 ? 1 : c;
}

/* ------------------------------------------------------------------ run curves */
static const char *base_name(const char *path) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    const char *b = path + n;
    while (b > path && b[-1] != '/') b--;
    return b;
}

dc_status dc_viz_run_curves(const char *run_dir, int smooth, dc_figure **loss, dc_figure **accuracy) {
    if (!run_dir || !loss || !accuracy) return DC_ERR(DC_ERR_ARG, "dc_viz_run_curves: NULL argument");
    *loss = *accuracy = NULL;
    char path[1100], spath[1100], title[256];
    snprintf(path, sizeof path, "%s/metrics.csv", run_dir);
    snprintf(spath, sizeof spath, "%s/steps.csv", run_dir);
    dc_csv m, st;
    memset(&st, 0, sizeof st);
    DC_TRY(dc_csv_read(path, &m));
    int ce, ctl, cta, cvl, cva;
    dc_status s = dc_csv_need(&m, path, "epoch", &ce);
    if (s == DC_OK) s = dc_csv_need(&m, path, "train_loss", &ctl);
    if (s == DC_OK) s = dc_csv_need(&m, path, "train_acc", &cta);
    if (s == DC_OK) s = dc_csv_need(&m, path, "val_loss", &cvl);
    if (s == DC_OK) s = dc_csv_need(&m, path, "val_acc", &cva);
    if (s == DC_OK && m.nrows == 0) s = DC_ERR(DC_ERR_FORMAT, "%s: no epochs yet (only the header line)", path);
    int have_steps = 0, cs_epoch = -1, cs_loss = -1;
    if (s == DC_OK) {
        FILE *probe = fopen(spath, "rb");
        if (probe) { /* optional, but when present it must be well formed */
            fclose(probe);
            s = dc_csv_read(spath, &st);
            if (s == DC_OK) s = dc_csv_need(&st, spath, "epoch", &cs_epoch);
            if (s == DC_OK) s = dc_csv_need(&st, spath, "loss", &cs_loss);
            have_steps = s == DC_OK && st.nrows > 0;
        }
    }
    const int n = m.nrows, ns = st.nrows;
    float *buf = s == DC_OK ? malloc(sizeof(float) * (size_t)(5 * n + 3 * ns + 1)) : NULL;
    if (s == DC_OK && !buf) s = DC_ERR(DC_ERR_NOMEM, "%s: curves", path);
    if (s == DC_OK) {
        float *ep = buf, *tl = ep + n, *ta = tl + n, *vl = ta + n, *va = vl + n, *sx = va + n, *sy = sx + ns,
              *sm = sy + ns;
        for (int i = 0; i < n; i++) {
            const double *r = m.v + (size_t)i * m.ncols;
            ep[i] = (float)r[ce];
            tl[i] = (float)r[ctl];
            ta[i] = (float)r[cta];
            vl[i] = (float)r[cvl];
            va[i] = (float)r[cva];
        }
        for (int i = 0; i < ns; i++) {
            sx[i] = (float)st.v[(size_t)i * st.ncols + cs_epoch];
            sy[i] = (float)st.v[(size_t)i * st.ncols + cs_loss];
        }
        dc_ema(sy, sm, ns, smooth);
        const char *name = base_name(run_dir);
        snprintf(title, sizeof title, "loss: %s", name);
        *loss = dc_figure_new(1, 1, 760, 460, NULL);
        *accuracy = dc_figure_new(1, 1, 760, 460, NULL);
        if (!*loss || !*accuracy) s = DC_ERR(DC_ERR_NOMEM, "figures");
        if (s == DC_OK) {
            dc_plot *p = dc_figure_panel(*loss, 0, 0);
            dc_plot_labels(p, title, "epoch", "cross-entropy loss");
            char lab[64];
            if (have_steps) {
                snprintf(lab, sizeof lab, "training, per step (EMA %d)", smooth > 1 ? smooth : 1);
                s = dc_plot_line(p, sx, sm, ns, lab);
            }
            if (s == DC_OK) s = dc_plot_line(p, ep, tl, n, "training, epoch mean");
            if (s == DC_OK) s = dc_plot_line(p, ep, vl, n, "validation");
            if (s == DC_OK) {
                float x0 = 0.0f, x1 = ep[n - 1] > 0 ? ep[n - 1] : 1.0f;
                dc_plot_xrange(p, x0, x1);
            }
        }
        if (s == DC_OK) {
            dc_plot *p = dc_figure_panel(*accuracy, 0, 0);
            snprintf(title, sizeof title, "accuracy: %s", name);
            dc_plot_labels(p, title, "epoch", "accuracy");
            s = dc_plot_line(p, ep, ta, n, "training");
            if (s == DC_OK) s = dc_plot_line(p, ep, va, n, "validation");
        }
    }
    free(buf);
    dc_csv_free(&m);
    dc_csv_free(&st);
    if (s != DC_OK) {
        dc_figure_free(*loss);
        dc_figure_free(*accuracy);
        *loss = *accuracy = NULL;
    }
    return s;
}

/* ------------------------------------------------------------------ the model */
void dc_viz_model_close(dc_viz_model *m) {
    if (!m) return;
    dc_graph_free(m->g);
    dc_pool_free(m->pool);
    memset(m, 0, sizeof *m);
}

dc_status dc_viz_model_open(const char *checkpoint, int c, int h, int w, int64_t batch, int threads,
                            dc_viz_model *m) {
    if (!checkpoint || !m || batch < 1) return DC_ERR(DC_ERR_ARG, "dc_viz_model_open: NULL argument or batch < 1");
    memset(m, 0, sizeof *m);
    DC_TRY(dc_checkpoint_read_meta(checkpoint, &m->meta));
    if (c <= 0) {
        const dc_model_info *info = dc_model_find(m->meta.model);
        c = 1, h = 28, w = 28;
        char *text = NULL;
        dc_model_header hdr;
        if (info) c = info->channels, h = info->height, w = info->width;
        else if (dc_checkpoint_read_model_text(checkpoint, &text) == DC_OK && text &&
                 dc_model_text_header(text, checkpoint, &hdr) == DC_OK && hdr.input.rank == 3)
            c = (int)hdr.input.dim[0], h = (int)hdr.input.dim[1], w = (int)hdr.input.dim[2];
        free(text);
        dc_error_clear();
    }
    m->c = c, m->h = h, m->w = w, m->batch = batch;
    dc_status s = dc_pool_create(threads > 0 ? threads : 1, &m->pool);
    if (s == DC_OK) s = dc_graph_create(&m->g);
    if (s == DC_OK) {
        m->x = dc_input(m->g, "images", dc_shape3(c, h, w));
        s = dc_graph_status(m->g);
    }
    if (s == DC_OK) s = dc_checkpoint_build_model(checkpoint, m->g, m->x, &m->logits, NULL);
    if (s == DC_OK) s = dc_graph_status(m->g);
    dc_graph_opts go = {.pool = m->pool};
    if (s == DC_OK) s = dc_graph_plan(m->g, batch, &go);
    if (s == DC_OK) s = dc_checkpoint_load(checkpoint, m->g, NULL, NULL);
    if (s == DC_OK) {
        dc_shape ls = dc_node_shape(m->g, m->logits);
        m->classes = ls.rank >= 1 ? (int)ls.dim[0] : m->meta.num_classes;
    }
    if (s != DC_OK) dc_viz_model_close(m);
    return s;
}

/* ------------------------------------------------------------------ filters */
dc_status dc_viz_filters(const dc_viz_model *m, dc_figure **out) {
    if (!m || !m->g || !out) return DC_ERR(DC_ERR_ARG, "dc_viz_filters: NULL argument");
    *out = NULL;
    int conv = -1;
    for (int i = 0; i < dc_graph_node_count(m->g) && conv < 0; i++)
        if (!strcmp(dc_node_op_name(m->g, i), "conv2d")) conv = i;
    if (conv < 0)
        return DC_ERR(DC_ERR_ARG, "model '%s' has no convolution layer, so no filters to show (try lenet5 or a "
                      "conv model)", m->meta.model);
    char pname[160];
    snprintf(pname, sizeof pname, "%s.weight", dc_node_name(m->g, conv));
    const dc_param *wp = NULL;
    for (int i = 0; i < dc_graph_param_count(m->g); i++)
        if (!strcmp(dc_graph_params(m->g)[i].name, pname)) wp = &dc_graph_params(m->g)[i];
    if (!wp || wp->shape.rank != 4)
        return DC_ERR(DC_ERR_FORMAT, "layer '%s': no 4-d weight '%s'", dc_node_name(m->g, conv), pname);
    const int OC = (int)wp->shape.dim[0], CI = (int)wp->shape.dim[1], KH = (int)wp->shape.dim[2],
              KW = (int)wp->shape.dim[3];
    const int shown_c = CI == 3 ? 3 : CI > 16 ? 16 : CI, rgb = CI == 3;
    const int shown_oc = OC > 256 ? 256 : OC;
    /* grey kernels of several input channels: side by side with one NaN (black) column between */
    const int iw = rgb ? KW : shown_c * (KW + 1) - 1;
    float *img = malloc(sizeof(float) * (size_t)(rgb ? 3 : 1) * KH * iw);
    if (!img) return DC_ERR(DC_ERR_NOMEM, "filter images");
    int cols = grid_cols(shown_oc), rows = (shown_oc + cols - 1) / cols;
    int panel = 720 / cols; /* about 720 pixels wide, kernels between 48 and 160 pixels */
    panel = panel > 160 ? 160 : panel < 48 ? 48 : panel;
    char title[256];
    snprintf(title, sizeof title, "%s: %d kernels %dx%d over %d input channel%s%s", dc_node_name(m->g, conv), OC, KH, KW,
             CI, CI == 1 ? "" : "s", shown_oc < OC || (!rgb && shown_c < CI) ? " (first ones shown)" : "");
    dc_figure *f = dc_figure_new(rows, cols, panel, panel + 14, title);
    dc_status s = f ? DC_OK : DC_ERR(DC_ERR_NOMEM, "filter figure");
    for (int k = 0; s == DC_OK && k < shown_oc; k++) {
        const float *wk = wp->data + (size_t)k * CI * KH * KW;
        if (rgb) memcpy(img, wk, sizeof(float) * 3 * KH * KW);
        else
            for (int y = 0; y < KH; y++)
                for (int x = 0; x < iw; x++) {
                    int ci = x / (KW + 1), kx = x % (KW + 1);
                    img[y * iw + x] = kx == KW ? NAN : wk[((size_t)ci * KH + y) * KW + kx];
                }
        dc_plot *p = dc_figure_panel(f, k / cols, k % cols);
        char t[16];
        snprintf(t, sizeof t, "%d", k);
        dc_plot_labels(p, t, NULL, NULL);
        s = dc_plot_image(p, img, rgb ? 3 : 1, KH, iw, 0.0f, 0.0f);
    }
    free(img);
    if (s != DC_OK) {
        dc_figure_free(f);
        return s;
    }
    *out = f;
    return DC_OK;
}

/* ------------------------------------------------------------------ feature maps */
void dc_viz_figures_free(dc_figure **figs, char **names, int n) {
    for (int i = 0; i < n; i++) {
        if (figs) dc_figure_free(figs[i]);
        if (names) free(names[i]);
    }
    free(figs);
    free(names);
}

static int is_feature_op(const char *op) {
    return !strcmp(op, "conv2d") || !strcmp(op, "maxpool2d") || !strcmp(op, "avgpool2d");
}

dc_status dc_viz_features(dc_viz_model *m, const float *image, const char *what, int max_channels, dc_figure ***figs,
                          char ***names, int *n) {
    if (!m || !m->g || !image || !figs || !names || !n) return DC_ERR(DC_ERR_ARG, "dc_viz_features: NULL argument");
    *figs = NULL;
    *names = NULL;
    *n = 0;
    if (max_channels < 1) max_channels = 64;
    memcpy(dc_graph_data(m->g, m->x), image, sizeof(float) * (size_t)m->c * m->h * m->w);
    DC_TRY(dc_graph_forward_to(m->g, m->logits, 1, 0));
    int total = 0;
    for (int i = 0; i <= m->logits; i++) total += is_feature_op(dc_node_op_name(m->g, i));
    if (!total)
        return DC_ERR(DC_ERR_ARG, "model '%s' has no convolution or pooling layers, so no feature maps to show",
                      m->meta.model);
    dc_figure **F = calloc((size_t)total, sizeof *F);
    char **N = calloc((size_t)total, sizeof *N);
    if (!F || !N) {
        free(F);
        free(N);
        return DC_ERR(DC_ERR_NOMEM, "feature figures");
    }
    dc_status s = DC_OK;
    int k = 0;
    for (int i = 0; i <= m->logits && s == DC_OK; i++) {
        const char *op = dc_node_op_name(m->g, i);
        if (!is_feature_op(op)) continue;
        dc_shape sh = dc_node_shape(m->g, i);
        if (sh.rank != 3) continue;
        const int C = (int)sh.dim[0], H = (int)sh.dim[1], W = (int)sh.dim[2], shown = C < max_channels ? C : max_channels;
        const float *a = dc_graph_data(m->g, i); /* batch item 0 */
        int cols = grid_cols(shown), rows = (shown + cols - 1) / cols;
        int panel = 1200 / cols;
        panel = panel > 120 ? 120 : panel < 40 ? 40 : panel;
        char title[320], sb[64];
        snprintf(title, sizeof title, "%s (%s) %s%s%s%s", dc_node_name(m->g, i), op, dc_shape_str(sh, sb, sizeof sb),
                 shown < C ? ", first channels" : "", what ? " - " : "", what ? what : "");
        dc_figure *f = dc_figure_new(rows, cols, panel, panel + 12, title);
        char *name = malloc(96);
        if (!f || !name) {
            dc_figure_free(f);
            free(name);
            s = DC_ERR(DC_ERR_NOMEM, "feature figure");
            break;
        }
        snprintf(name, 96, "%02d_%s", k + 1, dc_node_name(m->g, i));
        for (char *c = name; *c; c++)
            if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' ||
                  *c == '-' || *c == '.'))
                *c = '_';
        F[k] = f;
        N[k] = name;
        k++;
        for (int ch = 0; ch < shown && s == DC_OK; ch++) {
            dc_plot *p = dc_figure_panel(f, ch / cols, ch % cols);
            char t[16];
            snprintf(t, sizeof t, "%d", ch);
            dc_plot_labels(p, t, NULL, NULL);
            s = dc_plot_image(p, a + (size_t)ch * H * W, 1, H, W, 0.0f, 0.0f);
        }
    }
    if (s != DC_OK) {
        dc_viz_figures_free(F, N, k);
        return s;
    }
    *figs = F;
    *names = N;
    *n = k;
    return DC_OK;
}

/* ------------------------------------------------------------------ predictions */
static int check_data(const dc_viz_model *m, const dc_dataset *ds) {
    if (ds->c == m->c && ds->h == m->h && ds->w == m->w) return 0;
    DC_ERR(DC_ERR_SHAPE, "model '%s' takes %dx%dx%d images, the data set has %dx%dx%d", m->meta.model, m->c, m->h, m->w,
           ds->c, ds->h, ds->w);
    return 1;
}

dc_status dc_viz_predict(dc_viz_model *m, const dc_dataset *ds, int64_t limit, int **pred, int64_t *n) {
    if (!m || !m->g || !ds || !pred || !n) return DC_ERR(DC_ERR_ARG, "dc_viz_predict: NULL argument");
    *pred = NULL;
    *n = 0;
    if (check_data(m, ds)) return DC_ERR_SHAPE;
    const int64_t total = limit > 0 && limit < ds->n ? limit : ds->n, per = (int64_t)ds->c * ds->h * ds->w;
    int *p = malloc(sizeof(int) * (size_t)(total > 0 ? total : 1));
    if (!p) return DC_ERR(DC_ERR_NOMEM, "predictions");
    float *xb = dc_graph_data(m->g, m->x);
    for (int64_t i = 0; i < total; i += m->batch) {
        int64_t b = total - i < m->batch ? total - i : m->batch;
        memcpy(xb, ds->images + i * per, sizeof(float) * (size_t)(b * per));
        dc_status s = dc_graph_forward_to(m->g, m->logits, b, 0);
        if (s != DC_OK) {
            free(p);
            return s;
        }
        const float *lg = dc_graph_data(m->g, m->logits);
        for (int64_t k = 0; k < b; k++) {
            const float *l = lg + k * m->classes;
            int best = 0;
            for (int c = 1; c < m->classes; c++) if (l[c] > l[best]) best = c;
            p[i + k] = best;
        }
    }
    *pred = p;
    *n = total;
    return DC_OK;
}

dc_status dc_viz_topk(dc_viz_model *m, const dc_dataset *ds, int64_t index, int k, int *idx, float *prob) {
    if (!m || !m->g || !ds || !idx || !prob || k < 1) return DC_ERR(DC_ERR_ARG, "dc_viz_topk: NULL argument");
    if (index < 0 || index >= ds->n)
        return DC_ERR(DC_ERR_ARG, "example %lld out of range (the data set has %lld)", (long long)index, (long long)ds->n);
    if (check_data(m, ds)) return DC_ERR_SHAPE;
    const int64_t per = (int64_t)ds->c * ds->h * ds->w;
    memcpy(dc_graph_data(m->g, m->x), ds->images + index * per, sizeof(float) * (size_t)per);
    DC_TRY(dc_graph_forward_to(m->g, m->logits, 1, 0));
    const float *l = dc_graph_data(m->g, m->logits);
    /* softmax, max subtracted; then selection of the k largest (ties: lower index first) */
    double mx = l[0], sum = 0.0;
    for (int c = 1; c < m->classes; c++) mx = fmax(mx, l[c]);
    for (int c = 0; c < m->classes; c++) sum += exp((double)l[c] - mx);
    if (k > m->classes) k = m->classes;
    for (int r = 0; r < k; r++) {
        int best = -1;
        for (int c = 0; c < m->classes; c++) {
            int used = 0;
            for (int q = 0; q < r; q++) used |= idx[q] == c;
            if (!used && (best < 0 || l[c] > l[best])) best = c;
        }
        idx[r] = best;
        prob[r] = (float)(exp((double)l[best] - mx) / sum);
    }
    return DC_OK;
}

static void add_example(dc_plot *p, const dc_dataset *ds, int64_t i) {
    const int64_t per = (int64_t)ds->c * ds->h * ds->w;
    /* fixed range: pixel 0 black, pixel 255 white, as in the file */
    dc_plot_image(p, ds->images + i * per, ds->c == 3 ? 3 : 1, ds->h, ds->w, (0.0f - DC_VIZ_MEAN) / DC_VIZ_STD,
                  (1.0f - DC_VIZ_MEAN) / DC_VIZ_STD);
}

dc_status dc_viz_misclassified(const dc_dataset *ds, const int *pred, int64_t n, int classes, int count,
                               dc_figure **out, int *found) {
    if (!ds || !pred || !out || !found || count < 1) return DC_ERR(DC_ERR_ARG, "dc_viz_misclassified: bad argument");
    *out = NULL;
    *found = 0;
    if (ds->c != 1 && ds->c != 3) return DC_ERR(DC_ERR_ARG, "images of %d channels cannot be shown", ds->c);
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)count);
    if (!idx) return DC_ERR(DC_ERR_NOMEM, "misclassified list");
    int64_t wrong = 0;
    for (int64_t i = 0; i < n && i < ds->n; i++)
        if (pred[i] != ds->labels[i]) {
            if (*found < count) idx[(*found)++] = i;
            wrong++;
        }
    char title[160];
    snprintf(title, sizeof title, "misclassified: %lld of %lld test images (first %d shown)", (long long)wrong,
             (long long)n, *found);
    int shown = *found > 0 ? *found : 1, cols = grid_cols(shown), rows = (shown + cols - 1) / cols;
    dc_figure *f = dc_figure_new(rows, cols, 230, 180, title);
    if (!f) {
        free(idx);
        return DC_ERR(DC_ERR_NOMEM, "misclassified figure");
    }
    for (int k = 0; k < *found; k++) {
        char a[32], b[32], t[96];
        snprintf(t, sizeof t, "pred %s / true %s", dc_viz_class_name(classes, pred[idx[k]], a, sizeof a),
                 dc_viz_class_name(classes, ds->labels[idx[k]], b, sizeof b));
        dc_plot *p = dc_figure_panel(f, k / cols, k % cols);
        dc_plot_labels(p, t, NULL, NULL);
        char x[32];
        snprintf(x, sizeof x, "#%lld", (long long)idx[k]);
        dc_plot_labels(p, NULL, x, NULL);
        add_example(p, ds, idx[k]);
    }
    free(idx);
    *out = f;
    return DC_OK;
}

dc_status dc_viz_example(const dc_dataset *ds, int64_t index, const char *title, int size, dc_figure **out) {
    if (!ds || !out || index < 0 || index >= ds->n) return DC_ERR(DC_ERR_ARG, "dc_viz_example: bad argument");
    dc_figure *f = dc_figure_new(1, 1, size, size + 16, NULL);
    if (!f) return DC_ERR(DC_ERR_NOMEM, "example figure");
    dc_plot *p = dc_figure_panel(f, 0, 0);
    dc_plot_labels(p, title, NULL, NULL);
    add_example(p, ds, index);
    *out = f;
    return DC_OK;
}

dc_status dc_viz_confusion(const int64_t confusion[10][10], int classes, const char *title, dc_figure **out) {
    if (!confusion || !out || classes < 1 || classes > 10)
        return DC_ERR(DC_ERR_ARG, "dc_viz_confusion: NULL argument or %d classes (1..10)", classes);
    float v[100];
    const char *labels[10];
    char bufs[10][32];
    for (int t = 0; t < classes; t++) {
        labels[t] = dc_viz_class_name(classes, t, bufs[t], sizeof bufs[t]);
        for (int p = 0; p < classes; p++) v[t * classes + p] = (float)confusion[t][p];
    }
    dc_figure *f = dc_figure_new(1, 1, 760, 680, NULL);
    if (!f) return DC_ERR(DC_ERR_NOMEM, "confusion figure");
    dc_plot *p = dc_figure_panel(f, 0, 0);
    dc_plot_labels(p, title ? title : "confusion matrix", "predicted class", "true class");
    dc_status s = dc_plot_heatmap(p, v, classes, classes, labels, labels, 1);
    if (s != DC_OK) {
        dc_figure_free(f);
        return s;
    }
    *out = f;
    return DC_OK;
}
