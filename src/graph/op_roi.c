/* op_roi.c — the graph glue of RoI max pooling (Fast R-CNN) and RoIAlign (Mask R-CNN), and their
 * builders dc_roi_pool / dc_roi_align.
 *
 * Inputs: features [N, C, H, W] (the image batch) and rois [R, 5] = (b, x1, y1, x2, y2), normally
 * an input made with dc_input_rows, so R is set per step (dc_graph_set_rows) independently of N.
 * The output [R, C, ph, pw] has the RoIs' leading dimension, so the layers after it (the Fast
 * R-CNN head: fc6, fc7, the class and box outputs and their losses) run over R rows.  RoIs are
 * validated at every forward (batch index of an image of this batch, finite, x2 >= x1,
 * y2 >= y1); the RoIs get no gradient.
 * Threads: forward splits the R*C output planes, backward splits the channels (each thread
 * visits every RoI in order for its channels), so the results do not depend on the thread count.
 * What it does not do: the math (kernels/roi.c). */
#include "graph/graph.h"
#include "kernels/roi.h"

#include <math.h>

#define SB 96
/* Below this many output elements a call runs on the calling thread only. */
#define ROI_PAR_MIN 16384

static dc_roi_geom geom_of(const dc_graph *g, const dc_node_rec *n, int64_t N) {
    const dc_node_rec *x = &g->nodes[n->in[0]];
    dc_roi_geom geo = {.N = N, .C = x->shape.dim[0], .H = x->shape.dim[1], .W = x->shape.dim[2], .ph = n->kh,
                       .pw = n->kw, .spatial_scale = n->spatial_scale, .sampling_ratio = n->sampling_ratio,
                       .aligned = n->aligned};
    return geo;
}

static dc_status roi_infer(dc_graph *g, dc_node_rec *n) {
    char a[SB], b[SB];
    const char *what = dc_op_table[n->op].name;
    dc_node_rec *x = dc_in(g, n, 0), *r = dc_in(g, n, 1);
    if (x->shape.rank != 3)
        return DC_ERR(DC_ERR_SHAPE, "%s '%s': features '%s' must be [N, C, H, W] (sample [C, H, W]), got sample shape %s",
                      what, n->name, x->name, dc_shape_str(x->shape, a, SB));
    if (x->rows_of >= 0)
        return DC_ERR(DC_ERR_SHAPE, "%s '%s': features '%s' must have the image batch as leading dimension, not %s",
                      what, n->name, x->name, dc_graph_rows_str(g, x->rows_of, b, SB));
    if (r->shape.rank != 1 || r->shape.dim[0] != 5 || r->scalar)
        return DC_ERR(DC_ERR_SHAPE, "%s '%s': rois '%s' must be [R, 5] (b, x1, y1, x2, y2), got sample shape %s", what,
                      n->name, r->name, dc_shape_str(r->shape, a, SB));
    if (r->needs_grad)
        return DC_ERR(DC_ERR_ARG, "%s '%s': rois '%s' must not depend on parameters (they get no gradient)", what,
                      n->name, r->name);
    if (x->shape.dim[1] * x->shape.dim[2] > INT32_MAX)
        return DC_ERR(DC_ERR_SHAPE, "%s '%s': feature plane %s too large (at most 2^31 elements)", what, n->name,
                      dc_shape_str(x->shape, a, SB));
    n->rows_of = r->rows_of; /* one output row per RoI */
    n->mixes_rows = 1;
    n->shape = dc_shape3(x->shape.dim[0], n->kh, n->kw);
    return DC_OK;
}

/* The RoIs of this step must name images of this batch and be boxes (checked at every forward). */
static dc_status check_rois(dc_graph *g, dc_node_rec *n, const dc_roi_geom *geo, int64_t R) {
    int64_t bad = 0;
    const char *why = dc_rois_check(geo, R, dc_in(g, n, 1)->out, &bad);
    if (!why) return DC_OK;
    const float *q = dc_in(g, n, 1)->out + 5 * bad;
    char a[SB];
    return DC_ERR(DC_ERR_ARG, "%s '%s': RoI %lld of %lld in '%s' (b %g, x1 %g, y1 %g, x2 %g, y2 %g): %s (features '%s' %s, batch %lld, spatial_scale %g)",
                  dc_op_table[n->op].name, n->name, (long long)bad, (long long)R, dc_in(g, n, 1)->name, (double)q[0],
                  (double)q[1], (double)q[2], (double)q[3], (double)q[4], why, dc_in(g, n, 0)->name,
                  dc_shape_str(dc_in(g, n, 0)->shape, a, SB), (long long)geo->N, (double)geo->spatial_scale);
}

typedef struct {
    int align, backward;
    dc_roi_geom geo;
    int64_t R;
    const float *rois, *x, *dy;
    float *y, *dx;
    int32_t *argmax;
} roi_task;

static void roi_run_range(void *ctx, int tid, int nthreads) {
    const roi_task *t = ctx;
    int64_t lo, hi;
    dc_split_range(t->backward ? t->geo.C : t->R * t->geo.C, nthreads, tid, &lo, &hi);
    if (hi <= lo) return;
    if (!t->backward && !t->align) dc_roi_pool_forward(&t->geo, t->rois, lo, hi, t->x, t->y, t->argmax);
    else if (!t->backward) dc_roi_align_forward(&t->geo, t->rois, lo, hi, t->x, t->y);
    else if (!t->align) dc_roi_pool_backward(&t->geo, t->R, t->rois, lo, hi, t->argmax, t->dy, t->dx);
    else dc_roi_align_backward(&t->geo, t->R, t->rois, lo, hi, t->dy, t->dx);
}

static void roi_run(dc_graph *g, roi_task *t) {
    int64_t work = t->R * dc_shape_numel(dc_shape3(t->geo.C, t->geo.ph, t->geo.pw));
    if (g->pool && work >= ROI_PAR_MIN && t->geo.C > 1) dc_pool_run(g->pool, roi_run_range, t);
    else roi_run_range(t, 0, 1);
}

static roi_task task_of(dc_graph *g, dc_node_rec *n, int64_t R, int backward) {
    dc_node_rec *x = dc_in(g, n, 0);
    roi_task t = {.align = n->op == DC_OP_ROI_ALIGN, .backward = backward, .geo = geom_of(g, n, g->batch), .R = R,
                  .rois = dc_in(g, n, 1)->out, .x = x->out, .dy = n->grad, .y = n->out, .dx = x->grad,
                  .argmax = (int32_t *)n->saved};
    return t;
}

static dc_status roi_forward(dc_graph *g, dc_node_rec *n, int64_t R) {
    roi_task t = task_of(g, n, R, 0);
    DC_TRY(check_rois(g, n, &t.geo, R));
    roi_run(g, &t);
    return DC_OK;
}

static void roi_backward(dc_graph *g, dc_node_rec *n, int64_t R) {
    if (!dc_in(g, n, 0)->grad) return;
    roi_task t = task_of(g, n, R, 1);
    roi_run(g, &t);
}

/* ---------------------------------------------------------------- RoI max pooling */
dc_status dc_op_roi_pool_infer(dc_graph *g, dc_node_rec *n) { return roi_infer(g, n); }
int64_t dc_op_roi_pool_saved(const dc_graph *g, const dc_node_rec *n, int64_t rows) {
    return rows * dc_sample_numel(n); /* argmax per output, int32 stored in the float buffer */
}
dc_status dc_op_roi_pool_forward(dc_graph *g, dc_node_rec *n, int64_t rows, int train) {
    return roi_forward(g, n, rows);
}
void dc_op_roi_pool_backward(dc_graph *g, dc_node_rec *n, int64_t rows) { roi_backward(g, n, rows); }
int64_t dc_op_roi_pool_flops(const dc_graph *g, const dc_node_rec *n) { return dc_sample_numel(n); }
int64_t dc_op_roi_pool_workspace(const dc_graph *g, const dc_node_rec *n, int64_t rows) { return 0; }

/* ---------------------------------------------------------------- RoIAlign */
dc_status dc_op_roi_align_infer(dc_graph *g, dc_node_rec *n) { return roi_infer(g, n); }
int64_t dc_op_roi_align_saved(const dc_graph *g, const dc_node_rec *n, int64_t rows) { return 0; }
dc_status dc_op_roi_align_forward(dc_graph *g, dc_node_rec *n, int64_t rows, int train) {
    return roi_forward(g, n, rows);
}
void dc_op_roi_align_backward(dc_graph *g, dc_node_rec *n, int64_t rows) { roi_backward(g, n, rows); }
int64_t dc_op_roi_align_flops(const dc_graph *g, const dc_node_rec *n) {
    /* 4 multiply-adds per sampling point; adaptive sampling counted as 2x2 points */
    int sr = n->sampling_ratio > 0 ? n->sampling_ratio : 2;
    return 8 * (int64_t)sr * sr * dc_sample_numel(n);
}
int64_t dc_op_roi_align_workspace(const dc_graph *g, const dc_node_rec *n, int64_t rows) { return 0; }

/* ---------------------------------------------------------------- builders */
static dc_node roi_layer(dc_graph *g, dc_op op, dc_node features, dc_node rois, int ph, int pw, float spatial_scale,
                         int sampling_ratio, int aligned, const char *name, const char *prefix) {
    dc_node in[2] = {features, rois};
    dc_node id = dc_graph_add_node(g, op, in, 2, name, prefix);
    if (id < 0) return id;
    dc_node_rec *n = &g->nodes[id];
    const char *what = dc_op_table[op].name;
    if (ph < 1 || pw < 1 || ph > 4096 || pw > 4096)
        return dc_graph_fail(g, DC_ERR_ARG, "%s '%s': output %dx%d must be between 1x1 and 4096x4096", what, n->name,
                             ph, pw);
    if (!(spatial_scale > 0.0f) || !isfinite(spatial_scale))
        return dc_graph_fail(g, DC_ERR_ARG, "%s '%s': spatial_scale %g must be finite and > 0", what, n->name,
                             (double)spatial_scale);
    if (sampling_ratio < 0 || sampling_ratio > 64)
        return dc_graph_fail(g, DC_ERR_ARG, "%s '%s': sampling_ratio %d must be 0 (adaptive) .. 64", what, n->name,
                             sampling_ratio);
    n->kh = ph;
    n->kw = pw;
    n->spatial_scale = spatial_scale;
    n->sampling_ratio = sampling_ratio;
    n->aligned = aligned != 0;
    return dc_graph_finish_node(g, id);
}

dc_node dc_roi_pool(dc_graph *g, dc_node features, dc_node rois, int ph, int pw, float spatial_scale,
                    const char *name) {
    return roi_layer(g, DC_OP_ROI_POOL, features, rois, ph, pw, spatial_scale, 0, 0, name, "roi_pool");
}

dc_node dc_roi_align(dc_graph *g, dc_node features, dc_node rois, int ph, int pw, float spatial_scale,
                     int sampling_ratio, int aligned, const char *name) {
    return roi_layer(g, DC_OP_ROI_ALIGN, features, rois, ph, pw, spatial_scale, sampling_ratio, aligned, name,
                     "roi_align");
}
