/* checkpoint.c — a graph's parameters (and optionally an optimizer's state) to and from a
 * safetensors file.  Tensor names are the parameter names ("fc1.weight", "bn1.running_var") and
 * the optimizer's ("adam.m.fc1.weight"); metadata keys are listed in meta_keys below. */
#include "io/safetensors.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

dc_status dc_checkpoint_save(const char *path, const dc_graph *g, dc_optim *opt, const dc_checkpoint_meta *m) {
    if (!path || !g) return DC_ERR(DC_ERR_ARG, "dc_checkpoint_save: NULL argument");
    int np = dc_graph_param_count(g), no = opt ? dc_optim_state_count(opt) : 0;
    const dc_param *p = dc_graph_params(g);
    if (!p) return DC_ERR(DC_ERR_STATE, "%s: graph not planned, no parameters to save", path);
    dc_named_tensor *t = calloc((size_t)(np + no + 1), sizeof *t);
    if (!t) return DC_ERR(DC_ERR_NOMEM, "checkpoint table");
    int n = 0;
    for (int i = 0; i < np; i++) t[n++] = (dc_named_tensor){p[i].name, p[i].shape, p[i].data};
    for (int i = 0; i < no; i++) {
        const char *name;
        float *data;
        int64_t numel;
        dc_status s = dc_optim_state(opt, i, &name, &data, &numel);
        if (s != DC_OK) { free(t); return s; }
        t[n++] = (dc_named_tensor){name, dc_shape1(numel), data};
    }
    dc_checkpoint_meta mm;
    memset(&mm, 0, sizeof mm);
    if (m) mm = *m;
    if (opt) mm.step = dc_optim_steps(opt);
    char epoch[32], step[32], val[32], lr[32], seed[32], classes[32], batch[32], revision[32];
    snprintf(epoch, sizeof epoch, "%d", mm.epoch);
    snprintf(step, sizeof step, "%" PRId64, mm.step);
    snprintf(val, sizeof val, "%.6f", mm.val_acc);
    snprintf(lr, sizeof lr, "%.9g", mm.lr);
    snprintf(seed, sizeof seed, "%" PRIu64, mm.seed);
    snprintf(classes, sizeof classes, "%d", mm.num_classes);
    snprintf(batch, sizeof batch, "%d", mm.batch);
    snprintf(revision, sizeof revision, "%d", mm.revision);
    const char *meta[2 * 12] = {"format", "deepc-checkpoint-1", "model", mm.model, "optimizer", mm.optimizer,
                                "epoch", epoch, "step", step, "val_acc", val, "lr", lr, "seed", seed,
                                "num_classes", classes, "batch", batch};
    int n_meta = 10; /* the pairs above; then the optional entries */
    if (mm.revision > 0) meta[2 * n_meta] = "revision", meta[2 * n_meta + 1] = revision, n_meta++;
    if (mm.model_text) meta[2 * n_meta] = "model_text", meta[2 * n_meta + 1] = mm.model_text, n_meta++;
    dc_status s = dc_safetensors_write(path, t, n, meta, n_meta);
    free(t);
    return s;
}

static void read_meta(const dc_st_file *f, dc_checkpoint_meta *m) {
    const char *v;
    memset(m, 0, sizeof *m);
    if ((v = dc_st_meta(f, "model"))) snprintf(m->model, sizeof m->model, "%s", v);
    if ((v = dc_st_meta(f, "optimizer"))) snprintf(m->optimizer, sizeof m->optimizer, "%s", v);
    if ((v = dc_st_meta(f, "epoch"))) m->epoch = atoi(v);
    if ((v = dc_st_meta(f, "step"))) m->step = strtoll(v, NULL, 10);
    if ((v = dc_st_meta(f, "val_acc"))) m->val_acc = strtod(v, NULL);
    if ((v = dc_st_meta(f, "lr"))) m->lr = strtod(v, NULL);
    if ((v = dc_st_meta(f, "seed"))) m->seed = strtoull(v, NULL, 10);
    if ((v = dc_st_meta(f, "num_classes"))) m->num_classes = atoi(v);
    if ((v = dc_st_meta(f, "batch"))) m->batch = atoi(v);
    if ((v = dc_st_meta(f, "revision"))) m->revision = atoi(v);
}

static dc_status check_format(const dc_st_file *f, const char *path) {
    const char *fmt = dc_st_meta(f, "format");
    if (!fmt || strcmp(fmt, "deepc-checkpoint-1") != 0)
        return DC_ERR(DC_ERR_FORMAT, "%s: not a deepc checkpoint (metadata format '%s', expected 'deepc-checkpoint-1')",
                      path, fmt ? fmt : "(none)");
    return DC_OK;
}

dc_status dc_checkpoint_read_meta(const char *path, dc_checkpoint_meta *m) {
    dc_st_file *f = NULL;
    DC_TRY(dc_safetensors_read(path, &f));
    dc_status s = check_format(f, path);
    if (s == DC_OK && m) read_meta(f, m);
    dc_st_free(f);
    return s;
}

dc_status dc_checkpoint_read_model_text(const char *path, char **text) {
    if (!text) return DC_ERR(DC_ERR_ARG, "dc_checkpoint_read_model_text: NULL argument");
    *text = NULL;
    dc_st_file *f = NULL;
    DC_TRY(dc_safetensors_read(path, &f));
    dc_status s = check_format(f, path);
    const char *v = s == DC_OK ? dc_st_meta(f, "model_text") : NULL;
    if (v && !(*text = strdup(v))) s = DC_ERR(DC_ERR_NOMEM, "model text of %s", path);
    dc_st_free(f);
    return s;
}

dc_status dc_checkpoint_build_model(const char *path, dc_graph *g, dc_node input, dc_node *logits,
                                    dc_checkpoint_meta *m) {
    dc_checkpoint_meta mm;
    char *text = NULL;
    DC_TRY(dc_checkpoint_read_meta(path, &mm));
    DC_TRY(dc_checkpoint_read_model_text(path, &text));
    int classes = mm.num_classes > 0 ? mm.num_classes : 10;
    dc_status s = text ? dc_model_text_build(g, text, path, input, classes, logits)
                       : dc_model_build(g, mm.model, input, classes, logits);
    free(text);
    if (s == DC_OK && m) *m = mm;
    return s;
}

/* Find tensor `name` with exactly the shape `want`; *src points into f. */
static dc_status find_tensor(const dc_st_file *f, const char *path, const char *name, dc_shape want,
                             const float **src) {
    dc_shape got;
    char a[96], b[96];
    if (dc_st_get(f, name, &got, src) != DC_OK)
        return DC_ERR(DC_ERR_FORMAT, "%s: tensor '%s' missing (checkpoint of another model?)", path, name);
    if (!dc_shape_equal(got, want))
        return DC_ERR(DC_ERR_SHAPE, "%s: tensor '%s' has shape %s in the file but %s in the model", path, name,
                      dc_shape_str(got, a, sizeof a), dc_shape_str(want, b, sizeof b));
    return DC_OK;
}

dc_status dc_checkpoint_load_matching(const char *path, dc_graph *g, int *loaded, int64_t *loaded_numel) {
    if (loaded) *loaded = 0;
    if (loaded_numel) *loaded_numel = 0;
    if (!path || !g) return DC_ERR(DC_ERR_ARG, "dc_checkpoint_load_matching: NULL argument");
    if (!dc_graph_params(g)) return DC_ERR(DC_ERR_STATE, "%s: plan the graph before loading a checkpoint into it", path);
    dc_st_file *f = NULL;
    DC_TRY(dc_safetensors_read(path, &f));
    dc_status s = check_format(f, path);
    int n = 0;
    int64_t numel = 0;
    for (int pass = 0; pass < 2 && s == DC_OK; pass++) { /* validate, then copy */
        n = 0;
        numel = 0;
        for (int i = 0; s == DC_OK && i < dc_graph_param_count(g); i++) {
            const dc_param *p = &dc_graph_params(g)[i];
            dc_shape got;
            const float *src;
            if (dc_st_get(f, p->name, &got, &src) != DC_OK) continue;
            if (!dc_shape_equal(got, p->shape)) {
                s = find_tensor(f, path, p->name, p->shape, &src); /* the shape error, naming both */
                break;
            }
            if (pass == 1) memcpy(p->data, src, (size_t)dc_shape_numel(p->shape) * sizeof(float));
            n++;
            numel += dc_shape_numel(p->shape);
        }
        if (s == DC_OK && n == 0)
            s = DC_ERR(DC_ERR_FORMAT, "%s shares no tensor name with this network (another model's checkpoint?)", path);
    }
    if (s == DC_OK) dc_error_clear(); /* the lookups of the names the file lacks */
    dc_st_free(f);
    if (s == DC_OK && loaded) *loaded = n;
    if (s == DC_OK && loaded_numel) *loaded_numel = numel;
    return s;
}

/* The i-th destination of a load: parameters first, then the optimizer's state tensors. */
static dc_status load_target(const dc_graph *g, dc_optim *opt, int i, const char **name, dc_shape *shape,
                             float **data) {
    int np = dc_graph_param_count(g);
    if (i < np) {
        const dc_param *p = &dc_graph_params(g)[i];
        *name = p->name;
        *shape = p->shape;
        *data = p->data;
        return DC_OK;
    }
    int64_t numel;
    DC_TRY(dc_optim_state(opt, i - np, name, data, &numel));
    *shape = dc_shape1(numel);
    return DC_OK;
}

dc_status dc_checkpoint_load(const char *path, dc_graph *g, dc_optim *opt, dc_checkpoint_meta *m) {
    if (!path || !g) return DC_ERR(DC_ERR_ARG, "dc_checkpoint_load: NULL argument");
    if (!dc_graph_params(g)) return DC_ERR(DC_ERR_STATE, "%s: plan the graph before loading a checkpoint into it", path);
    dc_st_file *f = NULL;
    DC_TRY(dc_safetensors_read(path, &f));
    dc_status s = check_format(f, path);
    int total = dc_graph_param_count(g) + (opt ? dc_optim_state_count(opt) : 0);
    /* Two passes: validate everything, then copy, so a bad file leaves model and optimizer as they were. */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; s == DC_OK && i < total; i++) {
            const char *name;
            dc_shape shape;
            float *data;
            const float *src;
            s = load_target(g, opt, i, &name, &shape, &data);
            if (s == DC_OK) s = find_tensor(f, path, name, shape, &src);
            if (s == DC_OK && pass == 1) memcpy(data, src, (size_t)dc_shape_numel(shape) * sizeof(float));
        }
    if (s == DC_OK) {
        dc_checkpoint_meta mm;
        read_meta(f, &mm);
        if (opt) dc_optim_set_steps(opt, mm.step);
        if (m) *m = mm;
    }
    dc_st_free(f);
    return s;
}
