/* predict.c — the `deepc predict` command: classify test-set images (--index) or image files
 * (PGM/PPM, PNG with libpng) with a checkpoint, printing the top classes with their softmax
 * probabilities; with --dense, VGG's dense evaluation of one larger image (the classifier turned
 * into convolutions, see src/models/convolutionalize.h): the class-score map, the top class at each
 * position and the class with the highest average score.
 * It only parses flags, prepares pixels and prints; the work is library calls.  It does not crop,
 * detect or localise objects, and it uses Fashion-MNIST's normalisation (mean 0.2860, std 0.3530)
 * for every model, which is what `deepc train` uses. */
#include "deepc.h"
#include "data/data.h"
#include "io/image.h"
#include "models/convolutionalize.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREDICT_DEFAULT_DATA "/usr/share/datasets/fashion-mnist"
#define PREDICT_MEAN 0.2860f
#define PREDICT_STD 0.3530f
#define PREDICT_MAX_TOP 100

int dc_cli_predict(int argc, char **argv);

static const char *PREDICT_HELP =
    "usage: deepc predict --checkpoint FILE [--data DIR] (--index I [--index J ...] | IMAGE... | --dense IMAGE)\n"
    "                     [--top K] [--invert] [--threads N]\n"
    "Classify images with a trained checkpoint (the model is read from its metadata) and print the\n"
    "K most probable classes with their softmax probabilities.\n\n"
    "  --checkpoint FILE  a checkpoint written by deepc train (e.g. runs/mlp/best.safetensors)\n"
    "  --index I          test-set image I (repeatable); its true label is printed too\n"
    "  --data DIR         MNIST-format directory for --index              [" PREDICT_DEFAULT_DATA "]\n"
    "  IMAGE...           PGM/PPM files (P2, P3, P5, P6), or PNG when built with libpng: converted to\n"
    "                     the model's channels, resized to its input size, normalised like the\n"
    "                     training data\n"
    "  --invert           use 1 - pixel (for dark objects on a light background: Fashion-MNIST is\n"
    "                     light on dark)\n"
    "  --dense IMAGE      VGG's dense evaluation of an image at least as large as the model's input:\n"
    "                     the Linear classifier becomes convolutions, giving a class-score map; prints\n"
    "                     its shape and stride, the top class per position and the class with the\n"
    "                     highest average score (the image is not resized)\n"
    "  --top K            classes to print                                [5]\n"
    "  --threads N        [2]\n";

static const char *const FASHION_CLASSES[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

static const char *class_name(int classes, int k, char *buf, size_t n) {
    if (classes == 10 && k >= 0 && k < 10) return FASHION_CLASSES[k];
    snprintf(buf, n, "class %d", k);
    return buf;
}

static int fail(void) {
    fprintf(stderr, "deepc predict: %s\n", dc_last_error());
    return 1;
}

static int usage(const char *fmt, const char *arg) {
    fprintf(stderr, "deepc predict: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see 'deepc predict --help')\n");
    return 2;
}

static int parse_int(const char *flag, const char *v, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || !*v || errno || *end || x < lo || x > hi) {
        fprintf(stderr, "deepc predict: %s needs an integer in %ld..%ld, got '%s'\n", flag, lo, hi, v ? v : "");
        return 1;
    }
    *out = x;
    return 0;
}

/* ------------------------------------------------------------------ the model */
typedef struct model {
    dc_pool *pool;
    dc_graph *g;
    dc_node x, logits;
    int c, h, w, classes;
    dc_checkpoint_meta meta;
} model;

static void model_free(model *m) {
    dc_graph_free(m->g);
    dc_pool_free(m->pool);
    memset(m, 0, sizeof *m);
}

/* Build the model named in the checkpoint's metadata for batches of `batch` and load the weights. */
static dc_status model_load(const char *ckpt, int threads, int64_t batch, model *m) {
    memset(m, 0, sizeof *m);
    DC_TRY(dc_checkpoint_read_meta(ckpt, &m->meta));
    const dc_model_info *info = dc_model_find(m->meta.model);
    if (!info)
        return DC_ERR(DC_ERR_FORMAT, "%s: model '%s' is not in this build's zoo ('deepc models' lists them)", ckpt,
                      m->meta.model);
    m->c = info->channels;
    m->h = info->height;
    m->w = info->width;
    m->classes = m->meta.num_classes > 0 ? m->meta.num_classes : info->classes;
    dc_status s = dc_pool_create(threads, &m->pool);
    if (s == DC_OK) s = dc_graph_create(&m->g);
    if (s == DC_OK) {
        m->x = dc_input(m->g, "images", dc_shape3(m->c, m->h, m->w));
        s = dc_graph_status(m->g);
    }
    if (s == DC_OK) s = dc_model_build(m->g, m->meta.model, m->x, m->classes, &m->logits);
    if (s == DC_OK) s = dc_graph_status(m->g);
    dc_graph_opts go = {.pool = m->pool};
    if (s == DC_OK) s = dc_graph_plan(m->g, batch, &go);
    if (s == DC_OK) s = dc_checkpoint_load(ckpt, m->g, NULL, NULL);
    dc_graph_set_fusion(m->g, DC_FUSION_INFERENCE); /* only the logits are read */
    if (s != DC_OK) model_free(m);
    return s;
}

/* An image file as the model's input: channels, size (unless keep_size), inversion, normalisation. */
static dc_status image_input(const char *path, const model *m, int keep_size, int invert, dc_image *out,
                             char *desc, size_t desc_n) {
    dc_image raw, conv;
    memset(out, 0, sizeof *out);
    DC_TRY(dc_image_read(path, &raw));
    if (m->c != 1 && m->c != 3) {
        dc_image_free(&raw);
        return DC_ERR(DC_ERR_ARG, "model '%s' takes %d-channel images; only 1 or 3 are supported", m->meta.model, m->c);
    }
    dc_status s = dc_image_convert(&raw, m->c, &conv);
    if (s == DC_OK && !keep_size && (conv.h != m->h || conv.w != m->w)) {
        s = dc_image_resize(&conv, m->h, m->w, out);
        dc_image_free(&conv);
    } else if (s == DC_OK) {
        *out = conv;
    }
    if (s == DC_OK) {
        snprintf(desc, desc_n, "%s (%dx%d %s%s)", path, raw.w, raw.h, raw.c == 3 ? "RGB" : "gray",
                 out->w != raw.w || out->h != raw.h ? ", resized" : "");
        const int64_t n = (int64_t)out->c * out->h * out->w;
        for (int64_t i = 0; i < n; i++) {
            float p = invert ? 1.0f - out->data[i] : out->data[i];
            out->data[i] = (p - PREDICT_MEAN) / PREDICT_STD;
        }
    }
    dc_image_free(&raw);
    return s;
}

static void print_top(const float *logits, int classes, int top) {
    int idx[PREDICT_MAX_TOP];
    float prob[PREDICT_MAX_TOP];
    char buf[32];
    int k = dc_topk(logits, classes, top, idx, prob);
    for (int r = 0; r < k; r++)
        printf("  %d. %-12s (%d)  %.4f\n", r + 1, class_name(classes, idx[r], buf, sizeof buf), idx[r], prob[r]);
}

/* ------------------------------------------------------------------ modes */
typedef struct item {
    long index;         /* >= 0: test-set index; -1: image file */
    const char *path;
} item;

static int predict_items(const char *ckpt, const char *data, const item *items, int n, int top, int invert,
                         int threads) {
    const int64_t batch = n < 64 ? n : 64;
    long max_index = -1;
    for (int i = 0; i < n; i++) if (items[i].index > max_index) max_index = items[i].index;
    model m;
    dc_dataset *ds = NULL;
    if (model_load(ckpt, threads, batch, &m) != DC_OK) return fail();
    int rc = 0;
    if (max_index >= 0) {
        if (dc_mnist_load(data, "test", PREDICT_MEAN, PREDICT_STD, max_index + 1, &ds) != DC_OK) rc = fail();
        else if (ds->n <= max_index) {
            DC_ERR(DC_ERR_ARG, "--index %ld out of range: the test set in %s has %lld images (0..%lld)", max_index,
                   data, (long long)ds->n, (long long)ds->n - 1);
            rc = fail();
        } else if (ds->c != m.c || ds->h != m.h || ds->w != m.w) {
            DC_ERR(DC_ERR_ARG, "model '%s' takes %dx%dx%d images but the data set has %dx%dx%d; give image files",
                   m.meta.model, m.c, m.h, m.w, ds->c, ds->h, ds->w);
            rc = fail();
        }
    }
    const int64_t per = (int64_t)m.c * m.h * m.w;
    char (*desc)[320] = calloc((size_t)batch, sizeof *desc);
    if (!desc) {
        DC_ERR(DC_ERR_NOMEM, "descriptions");
        rc = rc ? rc : fail();
    }
    float *xb = rc ? NULL : dc_graph_data(m.g, m.x);
    for (int i0 = 0; !rc && i0 < n; i0 += (int)batch) {
        int b = n - i0 < batch ? n - i0 : (int)batch;
        for (int k = 0; k < b && !rc; k++) {
            const item *it = &items[i0 + k];
            if (it->index >= 0) {
                memcpy(xb + k * per, ds->images + it->index * per, (size_t)per * sizeof(float));
                int y = ds->labels[it->index];
                char buf[32];
                snprintf(desc[k], sizeof desc[k], "index %ld (true: %s)", it->index,
                         class_name(m.classes, y, buf, sizeof buf));
            } else {
                dc_image im;
                if (image_input(it->path, &m, 0, invert, &im, desc[k], sizeof desc[k]) != DC_OK) {
                    rc = fail();
                    break;
                }
                memcpy(xb + k * per, im.data, (size_t)per * sizeof(float));
                dc_image_free(&im);
            }
        }
        if (!rc && dc_graph_forward_to(m.g, m.logits, b, 0) != DC_OK) rc = fail();
        const float *lg = rc ? NULL : dc_graph_data(m.g, m.logits);
        for (int k = 0; k < b && !rc; k++) {
            const item *it = &items[i0 + k];
            const float *l = lg + (int64_t)k * m.classes;
            int best = 0;
            for (int c = 1; c < m.classes; c++) if (l[c] > l[best]) best = c;
            char buf[32];
            printf("%s: %s", desc[k], class_name(m.classes, best, buf, sizeof buf));
            if (it->index >= 0) printf(" (%s)", best == ds->labels[it->index] ? "correct" : "wrong");
            printf("\n");
            print_top(l, m.classes, top);
        }
    }
    free(desc);
    dc_dataset_free(ds);
    model_free(&m);
    return rc;
}

static int predict_dense(const char *ckpt, const char *path, int top, int invert, int threads) {
    model m;
    if (model_load(ckpt, threads, 1, &m) != DC_OK) return fail();
    dc_image im;
    char desc[320];
    dc_dense_graph d = {0};
    int rc = 0;
    if (image_input(path, &m, 1, invert, &im, desc, sizeof desc) != DC_OK) {
        model_free(&m);
        return fail();
    }
    dc_graph_opts go = {.pool = m.pool};
    if (im.h < m.h || im.w < m.w) {
        DC_ERR(DC_ERR_ARG, "%s: %dx%d is smaller than the model's %dx%d input; --dense needs an image at least as "
               "large (classify it without --dense)", path, im.w, im.h, m.w, m.h);
        rc = fail();
    } else if (dc_convolutionalize(m.g, m.logits, im.h, im.w, 1, &go, &d) != DC_OK) {
        rc = fail();
    } else {
        memcpy(dc_graph_data(d.g, d.input), im.data, (size_t)im.c * im.h * im.w * sizeof(float));
        if (dc_graph_forward_to(d.g, d.scores, 1, 0) != DC_OK) rc = fail();
    }
    if (!rc) {
        const float *map = dc_graph_data(d.g, d.scores);
        const int C = d.classes, P = d.map_h * d.map_w;
        char buf[32];
        printf("dense evaluation of %s with %s (%dx%d input)\n", desc, m.meta.model, m.w, m.h);
        printf("score map [%d, %d, %d]", C, d.map_h, d.map_w);
        if (d.stride_h > 0)
            printf(", stride %dx%d px: position (i, j) is the %dx%d window near row %d*i, column %d*j\n", d.stride_h,
                   d.stride_w, m.h, m.w, d.stride_h, d.stride_w);
        else
            printf(" (a global pooling: the map does not depend on position)\n");
        float *avg = calloc((size_t)C, sizeof *avg), *v = malloc((size_t)C * sizeof *v);
        if (!avg || !v) {
            DC_ERR(DC_ERR_NOMEM, "score buffers");
            rc = fail();
        }
        if (!rc) {
            printf("top class per position (row by row):\n");
            for (int i = 0; i < d.map_h; i++) {
                printf("  ");
                for (int j = 0; j < d.map_w; j++) {
                    for (int c = 0; c < C; c++) {
                        v[c] = map[(int64_t)c * P + (int64_t)i * d.map_w + j];
                        avg[c] += v[c] / (float)P;
                    }
                    int idx;
                    float p;
                    dc_topk(v, C, 1, &idx, &p);
                    printf(C <= 10 ? "%d" : "%4d", idx);
                    if (j + 1 < d.map_w && C > 10) printf(" ");
                }
                printf("\n");
            }
            if (P <= 64)
                for (int i = 0; i < d.map_h; i++)
                    for (int j = 0; j < d.map_w; j++) {
                        for (int c = 0; c < C; c++) v[c] = map[(int64_t)c * P + (int64_t)i * d.map_w + j];
                        int idx;
                        float p;
                        dc_topk(v, C, 1, &idx, &p);
                        printf("  (%d, %d): %-12s %.4f\n", i, j, class_name(C, idx, buf, sizeof buf), p);
                    }
            int best = 0;
            for (int c = 1; c < C; c++) if (avg[c] > avg[best]) best = c;
            printf("highest average score: %s (%d), mean score %.4f; softmax of the averaged scores:\n",
                   class_name(C, best, buf, sizeof buf), best, avg[best]);
            print_top(avg, C, top);
        }
        free(avg);
        free(v);
    }
    dc_dense_graph_free(&d);
    dc_image_free(&im);
    model_free(&m);
    return rc;
}

int dc_cli_predict(int argc, char **argv) {
    const char *ckpt = NULL, *data = PREDICT_DEFAULT_DATA, *dense = NULL;
    long top = 5, threads = 2;
    int invert = 0, n = 0;
    item *items = calloc((size_t)(argc > 0 ? argc : 1), sizeof *items);
    if (!items) {
        DC_ERR(DC_ERR_NOMEM, "argument list");
        return fail();
    }
    int rc = -1;
    for (int i = 0; i < argc && rc < 0; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long x;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(PREDICT_HELP, stdout); rc = 0; }
        else if (!strcmp(a, "--invert")) invert = 1;
        else if (a[0] != '-' || !a[1]) items[n++] = (item){-1, a};
        else if (!strcmp(a, "--")) { while (++i < argc) items[n++] = (item){-1, argv[i]}; }
        else if (!v) rc = usage("unknown option or missing value: '%s'", a);
        else {
            i++;
            if (!strcmp(a, "--checkpoint")) ckpt = v;
            else if (!strcmp(a, "--data")) data = v;
            else if (!strcmp(a, "--dense")) dense = v;
            else if (!strcmp(a, "--index")) { if (parse_int(a, v, 0, 100000000L, &x)) rc = 2; else items[n++] = (item){x, NULL}; }
            else if (!strcmp(a, "--top")) { if (parse_int(a, v, 1, PREDICT_MAX_TOP, &top)) rc = 2; }
            else if (!strcmp(a, "--threads")) { if (parse_int(a, v, 1, 256, &threads)) rc = 2; }
            else rc = usage("unknown option '%s'", a);
        }
    }
    if (rc < 0) {
        if (!ckpt) rc = usage("%s", "--checkpoint FILE is required");
        else if (dense && n > 0) rc = usage("%s", "--dense IMAGE takes one image and no --index or other images");
        else if (!dense && n == 0) rc = usage("%s", "nothing to classify: give --index I, image files or --dense IMAGE");
        else if (dense) rc = predict_dense(ckpt, dense, (int)top, invert, (int)threads);
        else rc = predict_items(ckpt, data, items, n, (int)top, invert, (int)threads);
    }
    free(items);
    return rc;
}
