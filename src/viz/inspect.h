/* inspect.h — pictures of a training run and of a trained network, built on the plotting library
 * (plot.h) and the public graph API: loss/accuracy curves from a run directory, the first
 * convolution's kernels, the feature maps of one image layer by layer, misclassified test images,
 * the confusion matrix as a heat map and the top classes of single images.  Used by `deepc plot`,
 * `deepc viz`, `deepc eval --heatmap` and `deepc report` (docs/visualization.md).
 * Not here: training or evaluation themselves (train.c), drawing (plot.c), HTML (src/cli/report.c). */
#ifndef DC_VIZ_INSPECT_H
#define DC_VIZ_INSPECT_H

#include "data/data.h"
#include "deepc.h"
#include "viz/plot.h"

/* Pixel normalisation deepc train uses: (p/255 - mean) / std. */
#define DC_VIZ_MEAN 0.2860f
#define DC_VIZ_STD 0.3530f

/* Fashion-MNIST's names for 10 classes, else "class K"; buf holds the latter. */
const char *dc_viz_class_name(int classes, int k, char *buf, size_t n);

/* ------------------------------------------------------------------ run curves */
/* From RUN_DIR/metrics.csv (needed) and RUN_DIR/steps.csv (used when present): the loss figure
 * (per-step training loss smoothed by an exponential moving average over about `smooth` records,
 * training and validation loss per epoch) and the accuracy figure (training and validation per
 * epoch).  Errors name the file and line.  The caller frees both figures. */
dc_status dc_viz_run_curves(const char *run_dir, int smooth, dc_figure **loss, dc_figure **accuracy);

/* ------------------------------------------------------------------ a trained network */
typedef struct dc_viz_model {
    dc_pool *pool;
    dc_graph *g;
    dc_node x, logits;
    int c, h, w, classes;
    int64_t batch;
    dc_checkpoint_meta meta;
} dc_viz_model;

/* Build the checkpoint's network (zoo name or stored model text) for c x h x w inputs and batches
 * of up to `batch`, and load its weights.  c <= 0: the zoo model's input (or 1x28x28). */
dc_status dc_viz_model_open(const char *checkpoint, int c, int h, int w, int64_t batch, int threads,
                            dc_viz_model *m);
void dc_viz_model_close(dc_viz_model *m);

/* The first conv2d layer's kernels: one panel per output channel (input channels side by side,
 * RGB when there are 3), each normalised to its own min..max.  DC_ERR_ARG when the network has no
 * convolution. */
dc_status dc_viz_filters(const dc_viz_model *m, dc_figure **out);

/* Feature maps of one image (c*h*w normalised floats): after a forward pass, one figure per conv
 * or pooling layer, a grid of its channels (at most max_channels), each normalised by itself.
 * *figs and *names (layer names) are arrays of *n entries; free with dc_viz_figures_free. */
dc_status dc_viz_features(dc_viz_model *m, const float *image, const char *what, int max_channels, dc_figure ***figs,
                          char ***names, int *n);
void dc_viz_figures_free(dc_figure **figs, char **names, int n);

/* Class predictions of ds examples [0, limit) (limit <= 0: all): pred[i] for each; the caller
 * frees *pred. */
dc_status dc_viz_predict(dc_viz_model *m, const dc_dataset *ds, int64_t limit, int **pred, int64_t *n);
/* Top-k softmax probabilities of example `index` of ds. */
dc_status dc_viz_topk(dc_viz_model *m, const dc_dataset *ds, int64_t index, int k, int *idx, float *prob);

/* A grid of up to `count` examples of ds whose prediction differs from the label, titled
 * "pred X / true Y" (in data order).  *found is how many were shown. */
dc_status dc_viz_misclassified(const dc_dataset *ds, const int *pred, int64_t n, int classes, int count,
                               dc_figure **out, int *found);

/* One example of ds as an image figure (denormalised to its pixels), with a title. */
dc_status dc_viz_example(const dc_dataset *ds, int64_t index, const char *title, int size, dc_figure **out);

/* The confusion matrix (rows: true class, columns: predicted) as an annotated heat map. */
dc_status dc_viz_confusion(const int64_t confusion[10][10], int classes, const char *title, dc_figure **out);

#endif
