/* main.c — the `deepc` command: train, eval, summary, models, version.
 * Thin by design: it parses flags into the library's config structs and prints results; every
 * piece of work is a public library call. */
#include "cli/cli.h"
#include "deepc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_DATA "/usr/share/datasets/fashion-mnist"

/* ------------------------------------------------------------------ train */
/* "shift:2,flip,erase:0.5" -> augment_shift 2, augment_flip 1, augment_erase 0.5 */
static int parse_augment(const char *v, dc_train_config *c) {
    char buf[128];
    snprintf(buf, sizeof buf, "%s", v);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        long n;
        if (!strcmp(tok, "flip")) c->augment_flip = 1;
        else if (!strncmp(tok, "shift:", 6) || !strncmp(tok, "crop:", 5)) {
            if (dc_cli_long("train", "--augment shift", strchr(tok, ':') + 1, 0, 64, &n)) return 1;
            c->augment_shift = (int)n;
        } else if (!strcmp(tok, "erase") || !strncmp(tok, "erase:", 6)) {
            double p = 0.5;
            if (tok[5] == ':' && dc_cli_float("train", "--augment erase", tok + 6, 0.0, 1.0, &p)) return 1;
            c->augment_erase = (float)p;
        } else if (strcmp(tok, "none") != 0) {
            fprintf(stderr, "deepc train: unknown augmentation '%s' (shift:N, crop:N, flip, erase[:P], none)\n", tok);
            return 1;
        }
    }
    return 0;
}

static const char *TRAIN_HELP =
    "usage: deepc train [options]\n"
    "Train a zoo model on an MNIST-format data set (Fashion-MNIST by default): the training file is\n"
    "split into training and validation parts, the epoch with the best validation accuracy is kept,\n"
    "and its test accuracy is printed last as 'test accuracy 0.XXXX'.\n\n"
    "  --model NAME          zoo model (deepc models lists them)              [mlp]\n"
    "  --model-file FILE     a network defined in a model file (docs/model-format.md)\n"
    "  --data DIR            MNIST-format directory (.gz or plain IDX files)  [" DEFAULT_DATA "]\n"
    "  --out DIR             run directory: best.safetensors, last.safetensors, metrics.csv\n"
    "  --resume FILE         continue from a checkpoint (e.g. DIR/last.safetensors)\n"
    "  --optimizer NAME      sgd | momentum | adagrad | rmsprop | adam         [adam]\n"
    "  --lr X                learning rate                                     [1e-3]\n"
    "  --momentum X          Momentum's alpha                                  [0.9]\n"
    "  --schedule NAME       constant | step | cosine (per epoch)              [constant]\n"
    "  --step-epochs N       step schedule: lr x0.1 every N epochs             [10]\n"
    "  --warmup E            linear learning-rate warm-up over E epochs        [0]\n"
    "  --nesterov            Nesterov momentum (with --optimizer momentum)\n"
    "  --label-smoothing E   softmax cross-entropy target (1-E) t + E/C        [0]\n"
    "  --augment LIST        training augmentation: shift:N (random crop of the image padded by\n"
    "                        N pixels, i.e. translation by up to N), flip (horizontal), erase[:P]\n"
    "                        (random erasing with probability P [0.5]), e.g. shift:2,flip,erase\n"
    "  --weight-decay L      adds 0.5*L*||W||^2 to the loss (weights only)     [0]\n"
    "  --init NAME           weights: default (He before ReLU, else Xavier) | he | xavier | normal\n"
    "  --init-std X          std for --init normal                             [0.01]\n"
    "  --epochs N            [10]     --batch N   [128]    --threads N [2]    --seed N [1]\n"
    "  --val N               validation examples held out of the training file [5000]\n"
    "  --limit N             use only the first N training-file examples\n"
    "  --test-limit N        evaluate on the first N test examples\n"
    "  --progress | --no-progress   progress bar on stderr (default: when stderr is a terminal)\n"
    "  --nan-check           stop at the first layer that produces NaN/Inf, naming it\n"
    "  --quiet               only the final line\n";

static int cmd_train(int argc, char **argv) {
    dc_train_config c;
    dc_train_config_defaults(&c);
    const char *opt_name = "adam";
    double lr = 1e-3, momentum = 0.9, wd = 0.0, init_std = 0.01;
    const char *init_name = "default";
    int nesterov = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(TRAIN_HELP, stdout); return 0; }
        else if (dc_cli_progress_flag(a, &c.progress)) continue;
        else if (!strcmp(a, "--quiet")) c.quiet = 1;
        else if (!strcmp(a, "--nan-check")) c.nan_check = 1;
        else if (!strcmp(a, "--nesterov")) nesterov = 1;
        else if (!v) return dc_cli_usage("train", "unknown option or missing value: '%s'", a);
        else {
            i++;
            if (!strcmp(a, "--model")) c.model = v;
            else if (!strcmp(a, "--model-file")) c.model_file = v;
            else if (!strcmp(a, "--data")) c.data_dir = v;
            else if (!strcmp(a, "--out")) c.out_dir = v;
            else if (!strcmp(a, "--resume")) c.resume = v;
            else if (!strcmp(a, "--optimizer")) opt_name = v;
            else if (!strcmp(a, "--init")) init_name = v;
            else if (!strcmp(a, "--init-std")) { if (dc_cli_float("train", a, v, 0, 100, &init_std)) return 2; }
            else if (!strcmp(a, "--lr")) { if (dc_cli_float("train", a, v, 1e-12, 1e3, &lr)) return 2; }
            else if (!strcmp(a, "--momentum")) { if (dc_cli_float("train", a, v, 0, 1, &momentum)) return 2; }
            else if (!strcmp(a, "--weight-decay")) { if (dc_cli_float("train", a, v, 0, 1e3, &wd)) return 2; }
            else if (!strcmp(a, "--schedule")) {
                if (!strcmp(v, "constant")) c.schedule = DC_SCHED_CONSTANT;
                else if (!strcmp(v, "step")) c.schedule = DC_SCHED_STEP;
                else if (!strcmp(v, "cosine")) c.schedule = DC_SCHED_COSINE;
                else return dc_cli_usage("train", "unknown schedule '%s' (constant, step, cosine)", v);
            }
            else if (!strcmp(a, "--warmup")) {
                double w;
                if (dc_cli_float("train", a, v, 0, 1e4, &w)) return 2;
                c.warmup_epochs = (float)w;
            }
            else if (!strcmp(a, "--label-smoothing")) {
                double e;
                if (dc_cli_float("train", a, v, 0, 0.999, &e)) return 2;
                c.label_smoothing = (float)e;
            }
            else if (!strcmp(a, "--augment")) { if (parse_augment(v, &c)) return 2; }
            else if (!strcmp(a, "--step-epochs")) { if (dc_cli_long("train", a, v, 1, 100000, &n)) return 2; c.step_epochs = (int)n; }
            else if (!strcmp(a, "--epochs")) { if (dc_cli_long("train", a, v, 0, 100000, &n)) return 2; c.epochs = (int)n; }
            else if (!strcmp(a, "--batch")) { if (dc_cli_long("train", a, v, 1, 65536, &n)) return 2; c.batch = (int)n; }
            else if (!strcmp(a, "--threads")) { if (dc_cli_long("train", a, v, 1, 256, &n)) return 2; c.threads = (int)n; }
            else if (!strcmp(a, "--seed")) { if (dc_cli_long("train", a, v, 0, 0x7fffffffL, &n)) return 2; c.seed = (uint64_t)n; }
            else if (!strcmp(a, "--val")) { if (dc_cli_long("train", a, v, 0, 100000000L, &n)) return 2; c.val_size = n; }
            else if (!strcmp(a, "--limit")) { if (dc_cli_long("train", a, v, 1, 100000000L, &n)) return 2; c.train_limit = n; }
            else if (!strcmp(a, "--test-limit")) { if (dc_cli_long("train", a, v, 1, 100000000L, &n)) return 2; c.test_limit = n; }
            else return dc_cli_usage("train", "unknown option '%s'", a);
        }
    }
    dc_optim_kind kind;
    if (dc_optim_parse(opt_name, &kind) != DC_OK) return dc_cli_fail("train");
    if (dc_init_parse(init_name, &c.init) != DC_OK || c.init == DC_INIT_CONST) {
        if (c.init == DC_INIT_CONST) DC_ERR(DC_ERR_ARG, "--init const would make every unit identical");
        return dc_cli_fail("train");
    }
    c.init_value = (float)init_std;
    c.optim = dc_optim_defaults(kind, (float)lr);
    c.optim.momentum = (float)momentum;
    c.optim.nesterov = nesterov;
    c.weight_decay = (float)wd;
    dc_train_result r;
    if (dc_train_run(&c, &r) != DC_OK) return dc_cli_fail("train");
    if (c.quiet) printf("test accuracy %.4f\n", r.test_acc);
    return 0;
}

/* ------------------------------------------------------------------ eval */
static const char *EVAL_HELP =
    "usage: deepc eval --checkpoint FILE [--data DIR] [--split test|train] [--batch N] [--threads N] [--limit N]\n"
    "                  [--heatmap FILE.png]\n"
    "Evaluate a checkpoint: accuracy, mean loss and the confusion matrix (rows: true class, columns:\n"
    "predicted class).  The model is read from the checkpoint's metadata.  --heatmap also draws the\n"
    "confusion matrix as an annotated heat map (.png or .svg).\n";

int dc_cli_eval_heatmap(const char *path, const char *checkpoint, const char *split, const dc_eval_result *r); /* viz.c */

static int cmd_eval(int argc, char **argv) {
    const char *ckpt = NULL, *data = DEFAULT_DATA, *split = "test", *heatmap = NULL;
    long batch = 256, threads = 2, limit = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(EVAL_HELP, stdout); return 0; }
        if (!v) return dc_cli_usage("eval", "unknown option or missing value: '%s'", a);
        i++;
        if (!strcmp(a, "--checkpoint")) ckpt = v;
        else if (!strcmp(a, "--data")) data = v;
        else if (!strcmp(a, "--split")) split = v;
        else if (!strcmp(a, "--heatmap")) heatmap = v;
        else if (!strcmp(a, "--batch")) { if (dc_cli_long("eval", a, v, 1, 65536, &batch)) return 2; }
        else if (!strcmp(a, "--threads")) { if (dc_cli_long("eval", a, v, 1, 256, &threads)) return 2; }
        else if (!strcmp(a, "--limit")) { if (dc_cli_long("eval", a, v, 1, 100000000L, &limit)) return 2; }
        else return dc_cli_usage("eval", "unknown option '%s'", a);
    }
    if (!ckpt) return dc_cli_usage("eval", "%s", "--checkpoint FILE is required");
    dc_eval_result r;
    if (dc_eval_checkpoint(ckpt, data, split, (int)batch, (int)threads, limit, &r) != DC_OK) return dc_cli_fail("eval");
    printf("confusion matrix (rows: true, columns: predicted)\n     ");
    for (int p = 0; p < 10; p++) printf("%6d", p);
    printf("\n");
    for (int t = 0; t < 10; t++) {
        printf("%4d ", t);
        for (int p = 0; p < 10; p++) printf("%6lld", (long long)r.confusion[t][p]);
        printf("\n");
    }
    printf("%s examples %lld, loss %.4f\n", split, (long long)r.n, r.loss);
    printf("%s accuracy %.4f\n", split, r.acc);
    if (heatmap) return dc_cli_eval_heatmap(heatmap, ckpt, split, &r);
    return 0;
}

/* ------------------------------------------------------------------ summary / models */
/* Build a zoo model or a model file's network on a fresh graph (for summary and export). */
static int build_named(const char *cmd, const char *model, const char *file, dc_graph **g, dc_node *logits) {
    const dc_model_info *info = model ? dc_model_find(model) : NULL;
    dc_model_header h;
    memset(&h, 0, sizeof h);
    if (file && dc_model_file_header(file, &h) != DC_OK) return dc_cli_fail(cmd);
    if (dc_graph_create(g) != DC_OK) return dc_cli_fail(cmd);
    dc_shape in = info ? dc_shape3(info->channels, info->height, info->width)
                       : (h.input.rank ? h.input : dc_shape3(1, 28, 28));
    dc_node x = dc_input(*g, "images", in);
    dc_status s = file ? dc_model_file_build(*g, file, x, h.classes > 0 ? h.classes : 10, logits)
                       : dc_model_build(*g, model, x, info ? info->classes : 10, logits);
    if (s != DC_OK) {
        dc_graph_free(*g);
        *g = NULL;
        return dc_cli_fail(cmd);
    }
    return 0;
}

static int cmd_summary(int argc, char **argv) {
    const char *model = "mlp", *file = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: deepc summary [--model NAME | --model-file FILE]\n"
                   "Print each layer's output shape, parameters and FLOPs per example, and the totals.\n");
            return 0;
        }
        if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "--model-file") && i + 1 < argc) file = argv[++i];
        else return dc_cli_usage("summary", "unknown option or missing value: '%s'", argv[i]);
    }
    dc_graph *g;
    dc_node logits;
    if (build_named("summary", model, file, &g, &logits)) return 1;
    const dc_model_info *info = file ? NULL : dc_model_find(model);
    printf("model %s: %s\n", file ? file : model, info ? info->description : "from a model file");
    dc_graph_summary(g, stdout);
    dc_graph_free(g);
    return 0;
}

static int cmd_export(int argc, char **argv) {
    const char *model = NULL, *out = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: deepc export --model NAME [--out FILE]\n"
                   "Write a zoo model as a model file (docs/model-format.md) to FILE or standard output;\n"
                   "'deepc train --model-file FILE' reads it back to the same network.\n");
            return 0;
        }
        if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else return dc_cli_usage("export", "unknown option or missing value: '%s'", argv[i]);
    }
    if (!model) return dc_cli_usage("export", "%s", "--model NAME is required");
    dc_graph *g;
    dc_node logits;
    if (build_named("export", model, NULL, &g, &logits)) return 1;
    const dc_model_info *info = dc_model_find(model);
    dc_model_write_opts o = {.name = model, .comment = info ? info->description : NULL};
    char *text = NULL;
    dc_status s = out ? dc_model_file_write_ex(out, g, logits, &o) : dc_model_text_write_ex(g, logits, &o, &text);
    dc_graph_free(g);
    if (s != DC_OK) return dc_cli_fail("export");
    if (text) fputs(text, stdout);
    free(text);
    return 0;
}

static int cmd_models(void) {
    for (int i = 0; i < dc_model_count(); i++) {
        const dc_model_info *m = dc_model_at(i);
        printf("%-14s %dx%dx%d  %s\n", m->name, m->channels, m->height, m->width, m->description);
    }
    return 0;
}

int dc_cli_predict(int argc, char **argv); /* predict.c */
int dc_cli_plot(int argc, char **argv);    /* plot.c */
int dc_cli_viz(int argc, char **argv);     /* viz.c */
int dc_cli_report(int argc, char **argv);  /* report.c */
int dc_cli_lab(int argc, char **argv);     /* lab.c */
int dc_cli_detgen(int argc, char **argv);  /* detect.c */
int dc_cli_deteval(int argc, char **argv); /* detect.c */
int dc_cli_dettrain(int argc, char **argv); /* dettrain.c */
int dc_cli_dettest(int argc, char **argv);  /* dettrain.c */
int dc_cli_detect(int argc, char **argv);   /* dettrain.c */

static void main_help(FILE *f) {
    fprintf(f,
            "deepc %s — a deep-learning framework in C\n\n"
            "usage: deepc COMMAND [options]    (deepc COMMAND --help for each)\n\n"
            "  train     train a model, report validation per epoch and test accuracy at the end\n"
            "  eval      accuracy and confusion matrix of a checkpoint\n"
            "  predict   classify test images or image files with a checkpoint; --dense: class-score map\n"
            "  summary   layer table of a model: output shapes, parameters, FLOPs\n"
            "  export    write a zoo model as a model file (text)\n"
            "  models    list the model zoo\n"
            "  plot      training curves of a run directory: loss and accuracy as PNG and SVG\n"
            "  viz       pictures of a checkpoint: filters, feature maps, misclassified images\n"
            "  report    one self-contained HTML page about a run: options, model, curves, confusion\n"
            "  lab       run a curriculum experiment (optimizers, init, batchnorm, ...): figure + CSV\n"
            "  detgen    generate the detection data set (Fashion-MNIST items on canvases, COCO JSON)\n"
            "  deteval   COCO-style mAP of detections against COCO ground truth\n"
            "  dettrain  train a detector (yolo, rcnn, fast_rcnn, faster_rcnn, mask_rcnn), val mAP per epoch\n"
            "  dettest   run a detector checkpoint over a split: COCO results JSON, AP, time per image\n"
            "  detect    detect objects in an image with a detector checkpoint, draw the boxes (and masks)\n"
            "  proposals selective search over a split: proposals per image, recall, time\n"
            "  version   print the version\n",
            DC_VERSION_STRING);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        main_help(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "train")) return cmd_train(argc - 2, argv + 2);
    if (!strcmp(cmd, "eval")) return cmd_eval(argc - 2, argv + 2);
    if (!strcmp(cmd, "predict")) return dc_cli_predict(argc - 2, argv + 2);
    if (!strcmp(cmd, "plot")) return dc_cli_plot(argc - 2, argv + 2);
    if (!strcmp(cmd, "viz")) return dc_cli_viz(argc - 2, argv + 2);
    if (!strcmp(cmd, "report")) return dc_cli_report(argc - 2, argv + 2);
    if (!strcmp(cmd, "lab")) return dc_cli_lab(argc - 2, argv + 2);
    if (!strcmp(cmd, "detgen")) return dc_cli_detgen(argc - 2, argv + 2);
    if (!strcmp(cmd, "deteval")) return dc_cli_deteval(argc - 2, argv + 2);
    if (!strcmp(cmd, "dettrain")) return dc_cli_dettrain(argc - 2, argv + 2);
    if (!strcmp(cmd, "dettest")) return dc_cli_dettest(argc - 2, argv + 2);
    if (!strcmp(cmd, "detect")) return dc_cli_detect(argc - 2, argv + 2);
    if (!strcmp(cmd, "proposals")) return dc_cli_proposals(argc - 2, argv + 2);
    if (!strcmp(cmd, "summary")) return cmd_summary(argc - 2, argv + 2);
    if (!strcmp(cmd, "export")) return cmd_export(argc - 2, argv + 2);
    if (!strcmp(cmd, "models")) return cmd_models();
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) { printf("deepc %s\n", DC_VERSION_STRING); return 0; }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) { main_help(stdout); return 0; }
    fprintf(stderr, "deepc: unknown command '%s'\n", cmd);
    main_help(stderr);
    return 2;
}
