/* train.c — the supervised training job behind `deepc train` and `deepc eval`:
 * data (train/validation/test), the model from the zoo, the optimizer and schedule, the epoch loop
 * with progress, validation-based best checkpoint, metrics file, resume, and the final test report.
 * The test set is touched once, at the end, with the checkpoint that was best on validation.
 * A run directory gets: best/last.safetensors, metrics.csv (one line per epoch), steps.csv (the
 * mean training loss of every STEP_LOG_EVERY steps, for loss curves) and run.txt (the command line
 * and every option, "key: value" per line, for reports; see docs/visualization.md). */
#include "data/data.h"
#include "io/atomic.h"
#include "deepc.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STEP_LOG_EVERY 10 /* steps.csv: one line per this many optimizer steps */

void dc_train_config_defaults(dc_train_config *c) {
    memset(c, 0, sizeof *c);
    c->model = "mlp";
    c->data_dir = "/usr/share/datasets/fashion-mnist";
    c->optim = dc_optim_defaults(DC_OPTIM_ADAM, 1e-3f);
    c->schedule = DC_SCHED_CONSTANT;
    c->step_epochs = 10;
    c->epochs = 10;
    c->batch = 128;
    c->threads = 2;
    c->seed = 1;
    c->val_size = 5000;
    c->mean = 0.2860f;
    c->std = 0.3530f;
    c->progress = -1;
}

typedef struct dc_model_run {
    dc_graph *g;
    dc_node x, t, logits;
    dc_node loss;      /* what training minimises (with auxiliary heads: their weighted sum) */
    dc_node main_loss; /* the loss of `logits` alone, for evaluation                         */
    int classes;
} dc_model_run;

/* Build a zoo model (model_text NULL) or the network of a model file's text. */
static dc_status model_run_build(dc_model_run *m, const char *model, const char *model_text, int c, int h, int w,
                                 int classes, int batch, float label_smoothing, const dc_graph_opts *opts) {
    memset(m, 0, sizeof *m);
    m->classes = classes;
    DC_TRY(dc_graph_create(&m->g));
    m->x = dc_input(m->g, "images", c == 1 && h == 1 ? dc_shape1(w) : dc_shape3(c, h, w));
    m->t = dc_input(m->g, "labels", dc_shape_make(0, NULL));
    dc_status s = dc_graph_status(m->g);
    dc_node aux[4];
    int n_aux = 0;
    float aux_weight = 0.0f;
    if (s == DC_OK)
        s = model_text ? dc_model_text_build(m->g, model_text, model, m->x, classes, &m->logits)
                       : dc_model_build_ex(m->g, model, m->x, classes, &m->logits, aux, 4, &n_aux, &aux_weight);
    if (s == DC_OK) m->loss = m->main_loss = dc_softmax_cross_entropy_ex(m->g, m->logits, m->t, label_smoothing);
    if (s == DC_OK && n_aux > 0) { /* GoogLeNet: L = L_main + w * sum L_aux */
        dc_node parts[5] = {m->main_loss};
        float weights[5] = {1.0f};
        for (int i = 0; i < n_aux; i++) {
            parts[i + 1] = dc_softmax_cross_entropy_ex(m->g, aux[i], m->t, label_smoothing);
            weights[i + 1] = aux_weight;
        }
        m->loss = dc_loss_sum(m->g, parts, weights, n_aux + 1);
    }
    if (s == DC_OK) s = dc_graph_status(m->g);
    if (s == DC_OK) s = dc_graph_plan(m->g, batch, opts);
    dc_graph_set_fusion(m->g, DC_FUSION_ALL); /* training passes: BN+ReLU and add+ReLU fused; evaluation: conv+BN+ReLU */
    if (s != DC_OK) {
        dc_graph_free(m->g);
        m->g = NULL;
    }
    return s;
}

static int argmax(const float *v, int n) {
    int best = 0;
    for (int i = 1; i < n; i++) if (v[i] > v[best]) best = i;
    return best;
}

/* Accuracy and mean loss over a dataset (eval mode, file order, partial last batch kept). */
static dc_status evaluate(dc_model_run *m, const dc_dataset *ds, int batch, int64_t limit, double *acc, double *loss,
                          int64_t confusion[10][10]) {
    int64_t n = limit > 0 && limit < ds->n ? limit : ds->n, correct = 0;
    int64_t per = (int64_t)ds->c * ds->h * ds->w;
    double lsum = 0.0;
    float *xb = dc_graph_data(m->g, m->x), *tb = dc_graph_data(m->g, m->t);
    for (int64_t i = 0; i < n; i += batch) {
        int64_t b = n - i < batch ? n - i : batch;
        memcpy(xb, ds->images + i * per, (size_t)(b * per) * sizeof(float));
        for (int64_t k = 0; k < b; k++) tb[k] = (float)ds->labels[i + k];
        DC_TRY(dc_graph_forward_to(m->g, m->main_loss, b, 0)); /* auxiliary heads are not evaluated */
        lsum += dc_graph_loss(m->g, m->main_loss) * (double)b;
        const float *lg = dc_graph_data(m->g, m->logits);
        for (int64_t k = 0; k < b; k++) {
            int p = argmax(lg + k * m->classes, m->classes), y = ds->labels[i + k];
            correct += p == y;
            if (confusion && y < 10 && p < 10) confusion[y][p]++;
        }
    }
    *acc = n ? (double)correct / (double)n : 0.0;
    *loss = n ? lsum / (double)n : 0.0;
    return DC_OK;
}

/* Learning rate at fractional epoch t (epoch e, step s of nb: t = e + s/nb): warm-up, then the
 * schedule.  Evaluated every step, and only from (e, s), so a resumed run gets the same values. */
float dc_schedule_lr(dc_schedule schedule, float base_lr, int epochs, int step_epochs, float warmup_epochs, int epoch,
                     int64_t step, int64_t nb) {
    double t = epoch + (double)step / (double)(nb > 0 ? nb : 1), base = base_lr, lr = base;
    switch (schedule) {
    case DC_SCHED_STEP: lr = base * pow(0.1, (double)(epoch / (step_epochs > 0 ? step_epochs : 1))); break;
    case DC_SCHED_COSINE: lr = base * 0.5 * (1.0 + cos(3.14159265358979 * t / (double)(epochs > 0 ? epochs : 1))); break;
    default: break;
    }
    if (warmup_epochs > 0.0f && t < warmup_epochs) lr *= t / warmup_epochs;
    return (float)lr;
}

static float schedule_lr(const dc_train_config *c, int epoch, int64_t step, int64_t nb) {
    return dc_schedule_lr(c->schedule, c->optim.lr, c->epochs, c->step_epochs, c->warmup_epochs, epoch, step, nb);
}

static void progress_bar(int epoch, int epochs, int64_t done, int64_t total, double loss, double acc, double ips,
                         double elapsed) {
    int width = 24, fill = total ? (int)(width * done / total) : width;
    char bar[32];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    double left = done ? elapsed * (double)(total - done) / (double)done : 0.0;
    fprintf(stderr, "\repoch %d/%d [%s] %lld/%lld loss %.4f acc %.4f %.0f img/s eta %.1fs   ", epoch, epochs, bar,
            (long long)done, (long long)total, loss, acc, ips, left);
    fflush(stderr);
}

static dc_status validate_config(const dc_train_config *c) {
    if (!c->model_file) DC_TRY(dc_model_check(c->model));
    if (c->epochs < 0 || c->epochs > 100000) return DC_ERR(DC_ERR_ARG, "--epochs %d outside 0..100000", c->epochs);
    if (c->batch < 1 || c->batch > 65536) return DC_ERR(DC_ERR_ARG, "--batch %d outside 1..65536", c->batch);
    if (c->threads < 1 || c->threads > 256) return DC_ERR(DC_ERR_ARG, "--threads %d outside 1..256", c->threads);
    if (!(c->weight_decay >= 0.0f) || !isfinite(c->weight_decay))
        return DC_ERR(DC_ERR_ARG, "--weight-decay %g must be >= 0", (double)c->weight_decay);
    if (c->val_size < 0) return DC_ERR(DC_ERR_ARG, "--val %lld must be >= 0", (long long)c->val_size);
    if (!(c->std > 0.0f)) return DC_ERR(DC_ERR_ARG, "normalisation std %g must be > 0", (double)c->std);
    if (!(c->warmup_epochs >= 0.0f)) return DC_ERR(DC_ERR_ARG, "--warmup %g must be >= 0", (double)c->warmup_epochs);
    if (!(c->label_smoothing >= 0.0f && c->label_smoothing < 1.0f))
        return DC_ERR(DC_ERR_ARG, "--label-smoothing %g outside [0, 1)", (double)c->label_smoothing);
    if (c->augment_shift < 0 || c->augment_shift > 64)
        return DC_ERR(DC_ERR_ARG, "--augment shift %d outside 0..64", c->augment_shift);
    if (!(c->augment_erase >= 0.0f && c->augment_erase <= 1.0f))
        return DC_ERR(DC_ERR_ARG, "--augment erase probability %g outside 0..1", (double)c->augment_erase);
    return DC_OK;
}

typedef struct job {
    dc_dataset *all, *train, *val, *test;
    dc_pool *pool;
    dc_model_run m;
    dc_optim *opt;
    dc_batcher *batcher;
    float *best_params, *aug_scratch;
    char *model_text;
    FILE *csv, *steps;
} job;

static void job_free(job *j) {
    dc_dataset_free(j->all);
    dc_dataset_free(j->train);
    dc_dataset_free(j->val);
    dc_dataset_free(j->test);
    dc_batcher_free(j->batcher);
    dc_optim_free(j->opt);
    dc_graph_free(j->m.g);
    dc_pool_free(j->pool);
    free(j->best_params);
    free(j->aug_scratch);
    free(j->model_text);
    if (j->csv) fclose(j->csv);
    if (j->steps) fclose(j->steps);
}

/* The command line of this process (Linux: /proc/self/cmdline), arguments quoted where needed;
 * "" where it cannot be read. */
static void command_line(char *out, size_t n) {
    out[0] = '\0';
    FILE *f = fopen("/proc/self/cmdline", "rb");
    if (!f) return;
    char buf[4096];
    size_t len = fread(buf, 1, sizeof buf - 1, f), used = 0;
    fclose(f);
    buf[len] = '\0';
    for (size_t i = 0; i < len && used + 4 < n; i += strlen(buf + i) + 1) {
        const char *a = buf + i;
        int plain = *a != '\0';
        for (const char *c = a; *c; c++)
            if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || strchr("-_./=:,+@%", *c)))
                plain = 0;
        int k = snprintf(out + used, n - used, plain ? "%s%s" : "%s'%s'", used ? " " : "", a);
        if (k < 0 || (size_t)k >= n - used) break;
        used += (size_t)k;
    }
    for (char *c = out; *c; c++)
        if (*c == '\n' || *c == '\r') *c = ' ';
}

/* run.txt: what was run and with which options, one "key: value" per line. */
static dc_status write_run_record(const dc_train_config *c, const char *model_name) {
    char path[1024], cmd[2048], when[64];
    snprintf(path, sizeof path, "%s/run.txt", c->out_dir);
    command_line(cmd, sizeof cmd);
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm)) strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    else snprintf(when, sizeof when, "unknown");
    FILE *f = fopen(path, "w");
    if (!f) return DC_ERR(DC_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    fprintf(f, "# deepc training run: the command and every option (read by deepc report)\n");
    fprintf(f, "command: %s\ndeepc: %s\nstarted: %s\n", cmd[0] ? cmd : "(unknown)", DC_VERSION_STRING, when);
    fprintf(f, "model: %s\n", model_name);
    fprintf(f, "data: %s\n", c->data_dir);
    fprintf(f, "optimizer: %s\nlr: %g\n", dc_optim_name(c->optim.kind), (double)c->optim.lr);
    if (c->optim.kind == DC_OPTIM_MOMENTUM)
        fprintf(f, "momentum: %g\nnesterov: %s\n", (double)c->optim.momentum, c->optim.nesterov ? "yes" : "no");
    static const char *const SCHED[DC_SCHED_COUNT] = {"constant", "step", "cosine"};
    fprintf(f, "schedule: %s\n", c->schedule >= 0 && c->schedule < DC_SCHED_COUNT ? SCHED[c->schedule] : "?");
    if (c->schedule == DC_SCHED_STEP) fprintf(f, "step_epochs: %d\n", c->step_epochs);
    fprintf(f, "warmup_epochs: %g\nlabel_smoothing: %g\n", (double)c->warmup_epochs, (double)c->label_smoothing);
    fprintf(f, "augment: shift %d, flip %s, erase %g\n", c->augment_shift, c->augment_flip ? "yes" : "no",
            (double)c->augment_erase);
    fprintf(f, "epochs: %d\nbatch: %d\nthreads: %d\nseed: %llu\n", c->epochs, c->batch, c->threads,
            (unsigned long long)c->seed);
    fprintf(f, "weight_decay: %g\ninit: %s\n", (double)c->weight_decay, dc_init_name(c->init));
    if (c->init == DC_INIT_NORMAL) fprintf(f, "init_std: %g\n", (double)c->init_value);
    fprintf(f, "train_limit: %lld\nval_size: %lld\ntest_limit: %lld\n", (long long)c->train_limit,
            (long long)c->val_size, (long long)c->test_limit);
    fprintf(f, "normalisation: mean %g, std %g\n", (double)c->mean, (double)c->std);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return DC_ERR(DC_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    return DC_OK;
}

/* Copy all parameters (and buffers) of the graph to or from a flat array. */
static int64_t params_numel(const dc_graph *g) {
    int64_t n = 0;
    for (int i = 0; i < dc_graph_param_count(g); i++) n += dc_graph_params(g)[i].numel;
    return n;
}
static void params_copy(const dc_graph *g, float *flat, int to_flat) {
    const dc_param *p = dc_graph_params(g);
    for (int i = 0; i < dc_graph_param_count(g); i++) {
        if (to_flat) memcpy(flat, p[i].data, (size_t)p[i].numel * sizeof(float));
        else memcpy(p[i].data, flat, (size_t)p[i].numel * sizeof(float));
        flat += p[i].numel;
    }
}

static dc_status train_job(const dc_train_config *c, dc_train_result *r, job *j) {
    double t_start = dc_clock_s();
    char path[1024], best_path[1024], last_path[1024];
    int show_progress = c->progress == -1 ? isatty(2) : c->progress;
    DC_TRY(validate_config(c));
    const dc_model_info *info = c->model_file ? NULL : dc_model_find(c->model);
    const char *model_name = c->model_file ? c->model_file : c->model;
    dc_model_header header;
    memset(&header, 0, sizeof header);
    if (c->model_file) {
        DC_TRY(dc_model_file_header(c->model_file, &header));
        DC_TRY(dc_read_file(c->model_file, (size_t)64 << 20, &j->model_text, NULL));
    }
    if (c->out_dir) DC_TRY(dc_mkdir_p(c->out_dir)); /* before the data: fail fast on a bad path */

    /* Data: the training file split into train (first n - val) and validation (last val) parts. */
    DC_TRY(dc_mnist_load(c->data_dir, "train", c->mean, c->std, c->train_limit, &j->all));
    if (c->val_size >= j->all->n)
        return DC_ERR(DC_ERR_ARG, "validation size %lld leaves no training data (%lld examples loaded)",
                      (long long)c->val_size, (long long)j->all->n);
    DC_TRY(dc_dataset_split(j->all, j->all->n - c->val_size, 0, &j->train, &j->val));
    dc_dataset_free(j->all);
    j->all = NULL;
    if (info && (j->train->c != info->channels || j->train->h != info->height || j->train->w != info->width))
        return DC_ERR(DC_ERR_SHAPE, "model '%s' expects %dx%dx%d images, data in '%s' has %dx%dx%d", c->model,
                      info->channels, info->height, info->width, c->data_dir, j->train->c, j->train->h, j->train->w);

    DC_TRY(dc_pool_create(c->threads, &j->pool));
    dc_graph_opts go = {.pool = j->pool, .seed = c->seed, .weight_decay = c->weight_decay, .init = c->init,
                        .init_value = c->init_value, .share_grads = 1};
    DC_TRY(model_run_build(&j->m, model_name, j->model_text, j->train->c, j->train->h, j->train->w, j->train->num_classes, c->batch,
                           c->label_smoothing, &go));
    dc_graph_set_nan_check(j->m.g, c->nan_check);
    DC_TRY(dc_optim_create(&c->optim, dc_graph_params(j->m.g), dc_graph_param_count(j->m.g), j->pool, &j->opt));
    j->best_params = malloc((size_t)params_numel(j->m.g) * sizeof(float));
    if (!j->best_params) return DC_ERR(DC_ERR_NOMEM, "copy of the best parameters");
    params_copy(j->m.g, j->best_params, 1);

    int start_epoch = 0;
    double best_val = -1.0;
    int best_epoch = 0;
    if (c->out_dir) {
        snprintf(best_path, sizeof best_path, "%s/best.safetensors", c->out_dir);
        snprintf(last_path, sizeof last_path, "%s/last.safetensors", c->out_dir);
    }
    if (c->resume) {
        dc_checkpoint_meta m;
        DC_TRY(dc_checkpoint_load(c->resume, j->m.g, j->opt, &m));
        if (!c->model_file && strcmp(m.model, c->model) != 0)
            return DC_ERR(DC_ERR_ARG, "%s holds model '%s', not '%s'", c->resume, m.model, c->model);
        start_epoch = m.epoch;
        dc_checkpoint_meta bm;
        if (c->out_dir && dc_checkpoint_read_meta(best_path, &bm) == DC_OK) {
            best_val = bm.val_acc;
            best_epoch = bm.epoch;
        }
        params_copy(j->m.g, j->best_params, 1);
        if (!c->quiet) printf("resumed from %s after epoch %d (step %lld)\n", c->resume, m.epoch, (long long)m.step);
    }
    if (c->out_dir) {
        snprintf(path, sizeof path, "%s/metrics.csv", c->out_dir);
        if (start_epoch > 0) DC_TRY(dc_csv_keep_rows_below(path, 0, start_epoch + 0.5)); /* epochs done */
        j->csv = fopen(path, start_epoch > 0 ? "a" : "w");
        if (!j->csv) return DC_ERR(DC_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
        if (start_epoch == 0)
            fprintf(j->csv, "epoch,lr,train_loss,train_acc,val_loss,val_acc,epoch_seconds,train_images_per_s\n");
        snprintf(path, sizeof path, "%s/steps.csv", c->out_dir);
        if (start_epoch > 0) DC_TRY(dc_csv_keep_rows_below(path, 1, start_epoch)); /* by the epoch column */
        j->steps = fopen(path, start_epoch > 0 ? "a" : "w");
        if (!j->steps) return DC_ERR(DC_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
        if (fseek(j->steps, 0, SEEK_END) == 0 && ftell(j->steps) == 0) /* new file (also when resuming an older run) */
            fprintf(j->steps, "step,epoch,loss,lr\n");
        if (start_epoch == 0) DC_TRY(write_run_record(c, model_name));
    }
    if (!c->quiet)
        printf("model %s: %lld parameters; train %lld, validation %lld examples; %s lr %g, batch %d, %d threads\n",
               model_name, (long long)dc_graph_trainable_numel(j->m.g), (long long)j->train->n, (long long)j->val->n,
               dc_optim_name(c->optim.kind), (double)c->optim.lr, c->batch, c->threads);

    float *xb = dc_graph_data(j->m.g, j->m.x), *tb = dc_graph_data(j->m.g, j->m.t);
    const float black = (0.0f - c->mean) / c->std; /* what padding pixels hold after normalisation */
    dc_augment aug = {.shift = c->augment_shift,
                      .flip = c->augment_flip,
                      .erase = c->augment_erase,
                      .erase_lo = black,
                      .erase_hi = (1.0f - c->mean) / c->std};
    j->aug_scratch = malloc((size_t)j->train->h * j->train->w * sizeof(float));
    if (!j->aug_scratch) return DC_ERR(DC_ERR_NOMEM, "augmentation scratch");
    double train_time = 0.0, log_sum = 0.0; /* log_*: steps.csv's running mean, across epochs */
    int64_t train_images = 0;
    int log_n = 0;
    for (int e = start_epoch; e < c->epochs; e++) {
        float lr = schedule_lr(c, e, 0, 1);
        dc_rng aug_rng;
        dc_rng_seed(&aug_rng, dc_seed_mix(c->seed, (uint64_t)e, 3));
        dc_batcher_free(j->batcher);
        j->batcher = NULL;
        DC_TRY(dc_batcher_create(j->train, c->batch, 1, dc_seed_mix(c->seed, (uint64_t)e, 1), 0, &j->batcher));
        dc_graph_set_seed(j->m.g, dc_seed_mix(c->seed, (uint64_t)e, 2));
        int64_t nb = dc_batcher_batches(j->batcher), step = 0, seen = 0, correct = 0, b;
        double lsum = 0.0, t0 = dc_clock_s(), last_draw = 0.0;
        while ((b = dc_batcher_next(j->batcher, xb, tb)) > 0) {
            lr = schedule_lr(c, e, step, nb);
            dc_optim_set_lr(j->opt, lr);
            dc_augment_batch(&aug, &aug_rng, b, j->train->c, j->train->h, j->train->w, black, xb, j->aug_scratch);
            DC_TRY(dc_graph_forward(j->m.g, b, 1));
            float l = dc_graph_loss(j->m.g, j->m.loss);
            if (!isfinite(l))
                return DC_ERR(DC_ERR_NUMERIC,
                              "training loss became %g at epoch %d, step %lld (lr %g): lower --lr; the best checkpoint "
                              "so far is kept",
                              (double)l, e + 1, (long long)step + 1, (double)lr);
            dc_graph_zero_grad(j->m.g);
            DC_TRY(dc_graph_backward(j->m.g, j->m.loss));
            dc_optim_step(j->opt);
            const float *lg = dc_graph_data(j->m.g, j->m.logits);
            for (int64_t k = 0; k < b; k++) correct += argmax(lg + k * j->m.classes, j->m.classes) == (int)tb[k];
            lsum += (double)l * (double)b;
            seen += b;
            step++;
            log_sum += (double)l;
            if (j->steps && ++log_n == STEP_LOG_EVERY) { /* buffered; flushed once per epoch */
                fprintf(j->steps, "%lld,%.4f,%.6g,%.6g\n", (long long)dc_optim_steps(j->opt),
                        (double)e + (double)step / (double)nb, log_sum / log_n, (double)lr);
                log_sum = 0.0;
                log_n = 0;
            }
            if (show_progress) {
                double el = dc_clock_s() - t0;
                if (el - last_draw > 0.1 || step == nb) {
                    last_draw = el;
                    progress_bar(e + 1, c->epochs, step, nb, lsum / (double)seen, (double)correct / (double)seen,
                                 (double)seen / (el > 0 ? el : 1e-9), el);
                }
            }
        }
        double et = dc_clock_s() - t0;
        train_time += et;
        train_images += seen;
        if (show_progress) fprintf(stderr, "\n");
        dc_epoch_stats st = {.epoch = e + 1, .train_loss = lsum / (double)seen, .train_acc = (double)correct / seen,
                             .lr = lr, .seconds = et, .images_per_s = (double)seen / et};
        DC_TRY(evaluate(&j->m, j->val, c->batch, 0, &st.val_acc, &st.val_loss, NULL));
        int improved = st.val_acc > best_val;
        if (improved) {
            best_val = st.val_acc;
            best_epoch = e + 1;
            params_copy(j->m.g, j->best_params, 1);
        }
        if (!c->quiet)
            printf("epoch %2d/%d  lr %.3g  train loss %.4f acc %.4f  val loss %.4f acc %.4f%s  %.1fs  %.0f img/s\n",
                   e + 1, c->epochs, (double)lr, st.train_loss, st.train_acc, st.val_loss, st.val_acc,
                   improved ? " *" : "", et, st.images_per_s);
        fflush(stdout);
        if (j->csv) {
            fprintf(j->csv, "%d,%.6g,%.6f,%.6f,%.6f,%.6f,%.3f,%.1f\n", st.epoch, st.lr, st.train_loss, st.train_acc,
                    st.val_loss, st.val_acc, st.seconds, st.images_per_s);
            fflush(j->csv);
        }
        if (j->steps) fflush(j->steps);
        if (c->out_dir) {
            dc_checkpoint_meta m = {.epoch = e + 1, .val_acc = st.val_acc, .lr = lr, .seed = c->seed,
                                    .num_classes = j->m.classes, .batch = c->batch};
            snprintf(m.model, sizeof m.model, "%s", c->model_file ? (header.name[0] ? header.name : "model-file") : c->model);
            m.model_text = j->model_text;
            snprintf(m.optimizer, sizeof m.optimizer, "%s", dc_optim_name(c->optim.kind));
            if (improved) DC_TRY(dc_checkpoint_save(best_path, j->m.g, NULL, &m));
            DC_TRY(dc_checkpoint_save(last_path, j->m.g, j->opt, &m));
        }
        r->last = st;
        r->epochs_run++;
    }

    /* Final report: the best-on-validation parameters, evaluated once on the test set. */
    if (best_val >= 0.0) params_copy(j->m.g, j->best_params, 0);
    DC_TRY(dc_mnist_load(c->data_dir, "test", c->mean, c->std, c->test_limit, &j->test));
    DC_TRY(evaluate(&j->m, j->test, c->batch, 0, &r->test_acc, &r->test_loss, NULL));
    r->best_val_acc = best_val;
    r->best_epoch = best_epoch;
    r->seconds = dc_clock_s() - t_start;
    r->train_images_per_s = train_time > 0 ? (double)train_images / train_time : 0.0;
    if (!c->quiet) {
        if (r->epochs_run)
            printf("best validation accuracy %.4f at epoch %d; training %.0f img/s; total %.1fs; peak RSS %.0f MiB\n",
                   best_val, best_epoch, r->train_images_per_s, r->seconds, dc_peak_rss_mib());
        printf("test accuracy %.4f\n", r->test_acc);
    }
    return DC_OK;
}

dc_status dc_train_run(const dc_train_config *c, dc_train_result *r) {
    if (!c || !r) return DC_ERR(DC_ERR_ARG, "dc_train_run: NULL argument");
    memset(r, 0, sizeof *r);
    job j;
    memset(&j, 0, sizeof j);
    dc_status s = train_job(c, r, &j);
    job_free(&j);
    return s;
}

dc_status dc_eval_checkpoint(const char *checkpoint, const char *data_dir, const char *split, int batch, int threads,
                             int64_t limit, dc_eval_result *r) {
    if (!checkpoint || !data_dir || !r) return DC_ERR(DC_ERR_ARG, "dc_eval_checkpoint: NULL argument");
    if (batch < 1 || batch > 65536) return DC_ERR(DC_ERR_ARG, "--batch %d outside 1..65536", batch);
    memset(r, 0, sizeof *r);
    dc_checkpoint_meta meta;
    DC_TRY(dc_checkpoint_read_meta(checkpoint, &meta));
    job j;
    memset(&j, 0, sizeof j);
    DC_TRY(dc_checkpoint_read_model_text(checkpoint, &j.model_text));
    if (!j.model_text && !dc_model_find(meta.model)) {
        free(j.model_text);
        return DC_ERR(DC_ERR_FORMAT, "%s: model '%s' is not in this build's zoo", checkpoint, meta.model);
    }
    dc_status s = dc_mnist_load(data_dir, split, 0.2860f, 0.3530f, limit, &j.test);
    if (s == DC_OK) s = dc_pool_create(threads, &j.pool);
    dc_graph_opts go = {.pool = j.pool};
    if (s == DC_OK)
        s = model_run_build(&j.m, j.model_text ? checkpoint : meta.model, j.model_text, j.test->c, j.test->h, j.test->w,
                            meta.num_classes > 0 ? meta.num_classes : j.test->num_classes, batch, 0.0f, &go);
    if (s == DC_OK) s = dc_checkpoint_load(checkpoint, j.m.g, NULL, NULL);
    if (s == DC_OK) s = evaluate(&j.m, j.test, batch, 0, &r->acc, &r->loss, r->confusion);
    if (s == DC_OK) r->n = j.test->n;
    job_free(&j);
    return s;
}
