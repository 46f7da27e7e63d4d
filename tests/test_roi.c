/* test_roi.c — RoI max pooling and RoIAlign: hand-worked values on a 4x4 map (the quantisation,
 * bins, empty bins, RoIs outside the map), RoIAlign against average pooling and a bilinear value,
 * finite-difference gradient checks through the graph (RoIs as a rows input with its own leading
 * dimension), bad RoIs and bad layers as clear errors, and bitwise determinism across thread
 * counts.  It does not compare against torchvision at run time (no Python in the tests). */
#include "gradcheck.h"
#include "graph/graph.h"
#include "kernels/roi.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

/* The 4x4 map of the hand-worked cases (distinct values, maxima not in a corner pattern). */
static const float MAP[16] = {1, 8, 2, 3, 4, 0, 9, 5, 7, 6, 11, 10, 12, 15, 13, 14};

static void pool1(const float *roi, float scale, int ph, int pw, float *y, int32_t *arg) {
    dc_roi_geom geo = {.N = 1, .C = 1, .H = 4, .W = 4, .ph = ph, .pw = pw, .spatial_scale = scale};
    dc_roi_pool_forward(&geo, roi, 0, 1, MAP, y, arg);
}

/* The per-RoI-bounds kernel against the per-bin reference, bit for bit (values and argmax): random
 * RoIs (inside, across the border, outside, degenerate), maps with ties, NaN and -inf, bin grids
 * 1x1 to 7x5 and one beyond the kernel's 64 (the reference path), ranges starting mid-RoI as a
 * thread's would. */
TEST(roi_pool_kernel_matches_reference) {
    dc_rng r;
    dc_rng_seed(&r, 21);
    const int grids[][2] = {{7, 7}, {1, 1}, {2, 3}, {7, 5}, {65, 2}};
    for (int gi = 0; gi < 5; gi++) {
        const dc_roi_geom geo = {.N = 2, .C = 3, .H = 9, .W = 11, .ph = grids[gi][0], .pw = grids[gi][1],
                                 .spatial_scale = 0.125f};
        enum { R = 40 };
        const int64_t nx = geo.N * geo.C * geo.H * geo.W, ny = R * geo.C * geo.ph * geo.pw;
        float *x = malloc((size_t)nx * sizeof(float)), rois[5 * R];
        float *y = malloc((size_t)ny * sizeof(float)), *yr = malloc((size_t)ny * sizeof(float));
        int32_t *a = malloc((size_t)ny * sizeof(int32_t)), *ar = malloc((size_t)ny * sizeof(int32_t));
        for (int64_t i = 0; i < nx; i++) x[i] = (float)dc_rng_below(&r, 5); /* ties */
        x[7] = NAN, x[40] = -INFINITY, x[nx - 3] = NAN;
        for (int k = 0; k < R; k++) {
            float x1 = dc_rng_uniform(&r) * 120.0f - 20.0f, y1 = dc_rng_uniform(&r) * 100.0f - 20.0f;
            float w = k % 9 == 0 ? 0.0f : dc_rng_uniform(&r) * 70.0f, h = dc_rng_uniform(&r) * 60.0f;
            float q[5] = {(float)(k % 2), x1, y1, x1 + w, y1 + h};
            memcpy(rois + 5 * k, q, sizeof q);
        }
        const int64_t planes = R * geo.C, cut = planes / 2 + 1; /* a split inside a RoI's channels */
        memset(y, 0x7f, (size_t)ny * sizeof(float));
        dc_roi_pool_forward(&geo, rois, 0, cut, x, y, a);
        dc_roi_pool_forward(&geo, rois, cut, planes, x, y, a);
        dc_roi_pool_forward_ref(&geo, rois, 0, planes, x, yr, ar);
        CHECK_MSG(memcmp(y, yr, (size_t)ny * sizeof(float)) == 0 && memcmp(a, ar, (size_t)ny * sizeof(int32_t)) == 0,
                  "bins %dx%d: the kernel differs from the reference", geo.ph, geo.pw);
        free(x);
        free(y);
        free(yr);
        free(a);
        free(ar);
    }
}

/* The per-RoI-table RoIAlign against the point-by-point reference, bit for bit, forward and
 * backward (dx accumulated onto non-zero values): aligned and legacy modes, sampling 2 and adaptive
 * (0), RoIs inside, across the border, outside and degenerate, and one so large that its adaptive
 * grid exceeds the tables (the reference path); forward ranges split inside a RoI's channels. */
TEST(roi_align_kernel_matches_reference) {
    dc_rng r;
    dc_rng_seed(&r, 33);
    for (int mode = 0; mode < 4; mode++) {
        const dc_roi_geom geo = {.N = 2, .C = 3, .H = 9, .W = 11, .ph = mode == 3 ? 14 : 7, .pw = mode == 3 ? 14 : 5,
                                 .spatial_scale = 0.125f, .sampling_ratio = mode == 1 ? 0 : 2,
                                 .aligned = mode != 2};
        enum { R = 30 };
        const int64_t nx = geo.N * geo.C * geo.H * geo.W, ny = R * geo.C * geo.ph * geo.pw;
        float *x = malloc((size_t)nx * sizeof(float)), rois[5 * R];
        float *y = malloc((size_t)ny * sizeof(float)), *yr = malloc((size_t)ny * sizeof(float));
        float *dy = malloc((size_t)ny * sizeof(float)), *dx = malloc((size_t)nx * sizeof(float));
        float *dxr = malloc((size_t)nx * sizeof(float));
        dc_test_fill(&r, x, nx, 1.0f, 0.0f);
        dc_test_fill(&r, dy, ny, 1.0f, 0.0f);
        for (int64_t i = 0; i < nx; i++) dx[i] = dxr[i] = 0.25f * (float)(i % 7);
        for (int k = 0; k < R; k++) {
            float x1 = dc_rng_uniform(&r) * 120.0f - 20.0f, y1 = dc_rng_uniform(&r) * 100.0f - 20.0f;
            float w = k % 9 == 0 ? 0.0f : dc_rng_uniform(&r) * 70.0f, h = dc_rng_uniform(&r) * 60.0f;
            if (mode == 1 && k == 4) w = 6000.0f, h = 40.0f; /* adaptive grid of 108 points a bin: the fallback */
            float q[5] = {(float)(k % 2), x1, y1, x1 + w, y1 + h};
            memcpy(rois + 5 * k, q, sizeof q);
        }
        const int64_t planes = R * geo.C, cut = planes / 2 + 1;
        dc_roi_align_forward(&geo, rois, 0, cut, x, y);
        dc_roi_align_forward(&geo, rois, cut, planes, x, y);
        dc_roi_align_forward_ref(&geo, rois, 0, planes, x, yr);
        CHECK_MSG(memcmp(y, yr, (size_t)ny * sizeof(float)) == 0, "mode %d: forward differs", mode);
        dc_roi_align_backward(&geo, R, rois, 0, 1, dy, dx);
        dc_roi_align_backward(&geo, R, rois, 1, geo.C, dy, dx);
        dc_roi_align_backward_ref(&geo, R, rois, 0, geo.C, dy, dxr);
        CHECK_MSG(memcmp(dx, dxr, (size_t)nx * sizeof(float)) == 0, "mode %d: backward differs", mode);
        free(x);
        free(y);
        free(yr);
        free(dy);
        free(dx);
        free(dxr);
    }
}

TEST(roi_pool_hand_cases) {
    float y[4];
    int32_t a[4];
    /* whole map, 2x2 bins of 2x2 cells */
    pool1((const float[]){0, 0, 0, 3, 3}, 1.0f, 2, 2, y, a);
    const float e1[4] = {8, 9, 15, 14};
    const int32_t a1[4] = {1, 6, 13, 15};
    for (int k = 0; k < 4; k++) CHECK(y[k] == e1[k] && a[k] == a1[k]);
    /* cells 0..2 inclusive (Caffe's +1): 3 cells into 2 bins, edges floor(0)=0..ceil(1.5)=2 and
     * floor(1.5)=1..ceil(3)=3, so the bins overlap in the middle row/column */
    pool1((const float[]){0, 0, 0, 2, 2}, 1.0f, 2, 2, y, a);
    const float e2[4] = {8, 9, 7, 11};
    for (int k = 0; k < 4; k++) CHECK_NEAR(y[k], e2[k], 0);
    /* quantisation by round() half away from zero: 1.0*0.5 = 0.5 -> 1, 4.9*0.5 = 2.45 -> 2,
     * so cells 1..2: one cell per bin */
    pool1((const float[]){0, 1.0f, 1.0f, 4.9f, 4.9f}, 0.5f, 2, 2, y, a);
    const float e3[4] = {0, 9, 6, 11};
    for (int k = 0; k < 4; k++) CHECK_NEAR(y[k], e3[k], 0);
    /* ... and 1.4*0.5 = 0.7 -> 1 as well, 0.9*0.5 = 0.45 -> 0 */
    pool1((const float[]){0, 0.9f, 1.4f, 4.9f, 4.9f}, 0.5f, 1, 1, y, a);
    CHECK(y[0] == 11 && a[0] == 10); /* rows 1..2, columns 0..2 */
    /* partly outside: cells 3..10 in 2 bins of 4: only bin (0, 0) meets the map (cell 3, 3) */
    pool1((const float[]){0, 3, 3, 10, 10}, 1.0f, 2, 2, y, a);
    const float e4[4] = {14, 0, 0, 0};
    const int32_t a4[4] = {15, -1, -1, -1};
    for (int k = 0; k < 4; k++) CHECK(y[k] == e4[k] && a[k] == a4[k]);
    /* entirely outside: every bin empty, 0 */
    pool1((const float[]){0, 20, -30, 30, -20}, 1.0f, 2, 2, y, a);
    for (int k = 0; k < 4; k++) CHECK(y[k] == 0.0f && a[k] == -1);
    /* backward: dy scattered to the argmax positions, summed over RoIs and bins */
    float rois[10] = {0, 0, 0, 3, 3, 0, 0, 0, 2, 2}, yy[8], dy[8], dx[16] = {0};
    int32_t aa[8];
    dc_roi_geom geo = {.N = 1, .C = 1, .H = 4, .W = 4, .ph = 2, .pw = 2, .spatial_scale = 1.0f};
    dc_roi_pool_forward(&geo, rois, 0, 2, MAP, yy, aa);
    for (int k = 0; k < 8; k++) dy[k] = (float)(k + 1);
    dc_roi_pool_backward(&geo, 2, rois, 0, 1, aa, dy, dx);
    /* RoI 0 argmax 1, 6, 13, 15 (dy 1..4); RoI 1 maxima 8 (idx 1), 9 (idx 6), 7 (idx 8), 11 (idx 10) */
    float want[16] = {0};
    want[1] = 1 + 5, want[6] = 2 + 6, want[13] = 3, want[15] = 4, want[8] = 7, want[10] = 8;
    for (int k = 0; k < 16; k++) CHECK_NEAR(dx[k], want[k], 0);
}

TEST(roi_align_hand_cases) {
    float y[4];
    dc_roi_geom geo = {.N = 1, .C = 1, .H = 4, .W = 4, .ph = 2, .pw = 2, .spatial_scale = 1.0f, .sampling_ratio = 2,
                       .aligned = 1};
    /* aligned, integer box [0, 4): sampling points at pixel centres 0, 1 and 2, 3 -> 2x2 average pooling */
    float avg[4];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            avg[i * 2 + j] = (MAP[(2 * i) * 4 + 2 * j] + MAP[(2 * i) * 4 + 2 * j + 1] + MAP[(2 * i + 1) * 4 + 2 * j] +
                              MAP[(2 * i + 1) * 4 + 2 * j + 1]) / 4.0f;
    for (int sr = 0; sr <= 2; sr += 2) { /* explicit 2 and adaptive ceil(2 / 1) = 2 */
        geo.sampling_ratio = sr;
        dc_roi_align_forward(&geo, (const float[]){0, 0, 0, 4, 4}, 0, 1, MAP, y);
        for (int k = 0; k < 4; k++) CHECK_NEAR(y[k], avg[k], 1e-6);
    }
    /* not aligned (pixel i's centre at coordinate i): the same pixels with the box shifted by -0.5 */
    geo.aligned = 0;
    geo.sampling_ratio = 2;
    dc_roi_align_forward(&geo, (const float[]){0, -0.5f, -0.5f, 3.5f, 3.5f}, 0, 1, MAP, y);
    for (int k = 0; k < 4; k++) CHECK_NEAR(y[k], avg[k], 1e-6);
    /* one point at (0.5, 0.5): the mean of the four top-left pixels */
    geo.ph = geo.pw = 1;
    geo.sampling_ratio = 1;
    dc_roi_align_forward(&geo, (const float[]){0, 0, 0, 1, 1}, 0, 1, MAP, y);
    CHECK_NEAR(y[0], (1 + 8 + 4 + 0) / 4.0, 1e-6);
    /* a point at (0.25, 0.75) row/col: bilinear (1-.25)(1-.75) x00 + ... */
    dc_roi_align_forward(&geo, (const float[]){0, 0.25f, -0.25f, 1.25f, 0.75f}, 0, 1, MAP, y);
    double want = 0.75 * 0.25 * 1 + 0.75 * 0.75 * 8 + 0.25 * 0.25 * 4 + 0.25 * 0.75 * 0;
    CHECK_NEAR(y[0], want, 1e-6);
    /* outside the map (beyond -1 / H): 0; an empty aligned RoI with adaptive sampling: 0 */
    dc_roi_align_forward(&geo, (const float[]){0, 6, 6, 8, 8}, 0, 1, MAP, y);
    CHECK(y[0] == 0.0f);
    geo.aligned = 1;
    geo.sampling_ratio = 0;
    dc_roi_align_forward(&geo, (const float[]){0, 2, 2, 2, 2}, 0, 1, MAP, y);
    CHECK(y[0] == 0.0f);
    /* backward of the average-pooling case: each pixel gets dy / 4 of its bin */
    geo = (dc_roi_geom){.N = 1, .C = 1, .H = 4, .W = 4, .ph = 2, .pw = 2, .spatial_scale = 1.0f, .sampling_ratio = 2,
                        .aligned = 1};
    float dy[4] = {4, 8, 12, 16}, dx[16] = {0};
    dc_roi_align_backward(&geo, 1, (const float[]){0, 0, 0, 4, 4}, 0, 1, dy, dx);
    for (int h = 0; h < 4; h++)
        for (int w = 0; w < 4; w++) CHECK_NEAR(dx[h * 4 + w], dy[(h / 2) * 2 + w / 2] / 4.0f, 1e-6);
}

/* features [C, H, W] (with gradient) -> roi op over R RoIs -> flatten -> linear(3) -> mse against
 * a target with the RoIs' leading dimension. */
typedef struct {
    dc_graph *g;
    dc_node x, rois, t, out, loss;
} roi_net;

static void roi_net_build(roi_net *m, int align, int64_t C, int64_t H, int64_t W, float scale, int sr, int aligned,
                          int64_t max_rois) {
    CHECK_OK(dc_graph_create(&m->g));
    m->x = dc_input_grad(m->g, "x", dc_shape3(C, H, W));
    m->rois = dc_input_rows(m->g, "rois", dc_shape1(5), max_rois);
    m->t = dc_input_rows_like(m->g, "t", dc_shape1(3), m->rois);
    m->out = align ? dc_roi_align(m->g, m->x, m->rois, 3, 2, scale, sr, aligned, "align")
                   : dc_roi_pool(m->g, m->x, m->rois, 3, 2, scale, "pool");
    m->loss = dc_mse(m->g, dc_linear(m->g, dc_flatten(m->g, m->out), 3, "head"), m->t);
    CHECK_OK(dc_graph_status(m->g));
}

/* Distinct feature values (a shuffled ramp), so no RoI-pool bin has a tie within a probe step. */
static void fill_distinct(dc_rng *r, float *buf, int64_t n, float spacing) {
    int64_t *idx = malloc((size_t)n * sizeof *idx);
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    dc_rng_shuffle(r, idx, n);
    for (int64_t i = 0; i < n; i++) buf[i] = (float)(idx[i] - n / 2) * spacing;
    free(idx);
}

static const float ROIS[6 * 5] = {
    0, 0, 0, 15, 15,        /* the whole 8x8 map at scale 0.5 */
    1, 2.2f, 3.1f, 9.7f, 12.4f,
    0, 5, 1, 6, 13,         /* thin */
    1, -4, -3, 6, 5,        /* partly outside */
    1, 10, 10, 30, 22,      /* partly outside on the far side */
    0, 7.5f, 7.5f, 7.5f, 7.5f, /* a point */
};

static void roi_gradcheck(int align, int sr, int aligned) {
    roi_net m;
    roi_net_build(&m, align, 2, 8, 8, 0.5f, sr, aligned, 8);
    if (dc_graph_status(m.g) != DC_OK) { dc_graph_free(m.g); return; }
    dc_graph_opts o = {.seed = 5};
    CHECK_OK(dc_graph_plan(m.g, 2, &o));
    dc_rng r;
    dc_rng_seed(&r, 77);
    fill_distinct(&r, dc_graph_data(m.g, m.x), 2 * 2 * 8 * 8, 0.06f);
    memcpy(dc_graph_data(m.g, m.rois), ROIS, sizeof ROIS);
    CHECK_OK(dc_graph_set_rows(m.g, m.rois, 6));
    dc_test_fill(&r, dc_graph_data(m.g, m.t), 6 * 3, 1.0f, 0.0f);
    int bad = dc_gradcheck(m.g, m.loss, 2, &m.x, 1, 0.01f, 2e-2, 2e-4, 256);
    CHECK_MSG(bad == 0, "roi %s sr %d aligned %d: %d gradient mismatches", align ? "align" : "pool", sr, aligned, bad);
    CHECK(dc_graph_rows(m.g, m.out) == 6 && dc_graph_rows(m.g, m.x) == 2);
    dc_graph_free(m.g);
}

TEST(roi_pool_gradcheck) { roi_gradcheck(0, 0, 0); }
TEST(roi_align_gradcheck) {
    roi_gradcheck(1, 2, 0);
    roi_gradcheck(1, 0, 1);
}

TEST(roi_bad_rois_are_errors) {
    roi_net m;
    roi_net_build(&m, 0, 1, 4, 4, 1.0f, 0, 0, 4);
    if (dc_graph_status(m.g) != DC_OK) { dc_graph_free(m.g); return; }
    CHECK_OK(dc_graph_plan(m.g, 2, NULL));
    float *rois = dc_graph_data(m.g, m.rois);
    /* row count never set */
    CHECK_ERR(dc_graph_forward(m.g, 2, 1), DC_ERR_STATE);
    CHECK(strstr(dc_last_error(), "rois") != NULL);
    CHECK_ERR(dc_graph_set_rows(m.g, m.rois, 5), DC_ERR_ARG); /* above max_rows */
    CHECK_ERR(dc_graph_set_rows(m.g, m.x, 1), DC_ERR_ARG);    /* not a rows input */
    CHECK_OK(dc_graph_set_rows(m.g, m.rois, 2));
    const float good[5] = {1, 0, 0, 2, 2};
    const float bad[][5] = {{0, 3, 0, 2, 2}, {0, 0, 3, 2, 2}, {2, 0, 0, 2, 2}, {-1, 0, 0, 2, 2},
                            {0.5f, 0, 0, 2, 2}, {0, NAN, 0, 2, 2}, {0, 0, 0, INFINITY, 2}};
    const char *why[] = {"x2 < x1", "y2 < y1", "batch index", "batch index", "batch index", "finite", "finite"};
    for (int k = 0; k < 7; k++) {
        memcpy(rois, good, sizeof good);
        memcpy(rois + 5, bad[k], sizeof bad[k]);
        CHECK_ERR(dc_graph_forward(m.g, 2, 1), DC_ERR_ARG);
        CHECK_MSG(strstr(dc_last_error(), "'pool'") && strstr(dc_last_error(), "RoI 1 of 2") && strstr(dc_last_error(), why[k]),
                  "case %d: %s", k, dc_last_error());
    }
    /* batch index 1 is valid at batch 2 but not at batch 1 */
    memcpy(rois, good, sizeof good);
    memcpy(rois + 5, good, sizeof good);
    CHECK_OK(dc_graph_forward(m.g, 2, 1));
    CHECK_ERR(dc_graph_forward(m.g, 1, 1), DC_ERR_ARG);
    dc_graph_free(m.g);
}

TEST(roi_bad_layers_are_errors) {
    dc_graph *g;
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input(g, "x", dc_shape3(2, 4, 4));
    dc_node r = dc_input_rows(g, "rois", dc_shape1(5), 4);
    dc_node r4 = dc_input_rows(g, "rois4", dc_shape1(4), 4);
    dc_node flat = dc_input(g, "flat", dc_shape1(16));
    CHECK(dc_roi_pool(g, x, r4, 2, 2, 1.0f, "p") == DC_NONE);
    CHECK_ERR(dc_graph_status(g), DC_ERR_SHAPE);
    CHECK(strstr(dc_last_error(), "[R, 5]") != NULL);
    dc_graph_free(g);

    CHECK_OK(dc_graph_create(&g));
    x = dc_input(g, "x", dc_shape3(2, 4, 4));
    flat = dc_input(g, "flat", dc_shape1(16));
    r = dc_input_rows(g, "rois", dc_shape1(5), 4);
    CHECK(dc_roi_align(g, flat, r, 2, 2, 1.0f, 0, 1, "a") == DC_NONE);
    CHECK_ERR(dc_graph_status(g), DC_ERR_SHAPE);
    dc_graph_free(g);

    CHECK_OK(dc_graph_create(&g));
    x = dc_input(g, "x", dc_shape3(2, 4, 4));
    r = dc_input_rows(g, "rois", dc_shape1(5), 4);
    CHECK(dc_roi_pool(g, x, r, 2, 2, 0.0f, "p") == DC_NONE);
    CHECK_ERR(dc_graph_status(g), DC_ERR_ARG);
    CHECK(strstr(dc_last_error(), "spatial_scale") != NULL);
    dc_graph_free(g);

    /* mixing the image batch and the RoI rows in an element-wise op */
    CHECK_OK(dc_graph_create(&g));
    x = dc_input(g, "x", dc_shape3(2, 2, 2));
    r = dc_input_rows(g, "rois", dc_shape1(5), 4);
    dc_node p = dc_roi_pool(g, x, r, 2, 2, 1.0f, "p");
    CHECK(p >= 0);
    CHECK(dc_add(g, x, p) == DC_NONE);
    CHECK_ERR(dc_graph_status(g), DC_ERR_SHAPE);
    CHECK(strstr(dc_last_error(), "leading dimension") && strstr(dc_last_error(), "rows of 'rois'"));
    dc_graph_free(g);
    CHECK(dc_input_rows(NULL, "x", dc_shape1(5), 4) == DC_NONE);
}

/* Same values and gradients, bit for bit, with 1 and 3 threads (enough work to use the pool). */
TEST(roi_threads_deterministic) {
    for (int align = 0; align < 2; align++) {
        float *keep_y = NULL, *keep_dx = NULL;
        int64_t ny = 0, nx = 0;
        for (int threads = 1; threads <= 3; threads += 2) {
            dc_pool *pool = NULL;
            CHECK_OK(dc_pool_create(threads, &pool));
            roi_net m;
            roi_net_build(&m, align, 64, 16, 16, 0.5f, 2, 1, 32);
            dc_graph_opts o = {.seed = 9, .pool = pool};
            CHECK_OK(dc_graph_plan(m.g, 2, &o));
            dc_rng r;
            dc_rng_seed(&r, 3);
            dc_test_fill(&r, dc_graph_data(m.g, m.x), 2 * 64 * 16 * 16, 1.0f, 0.0f);
            float *rois = dc_graph_data(m.g, m.rois);
            for (int k = 0; k < 32; k++) { /* overlapping RoIs: the backward sums collide */
                float x1 = 16.0f * dc_rng_uniform(&r), y1 = 16.0f * dc_rng_uniform(&r);
                float q[5] = {(float)(k % 2), x1, y1, x1 + 4 + 12 * dc_rng_uniform(&r), y1 + 4 + 12 * dc_rng_uniform(&r)};
                memcpy(rois + 5 * k, q, sizeof q);
            }
            CHECK_OK(dc_graph_set_rows(m.g, m.rois, 32));
            dc_test_fill(&r, dc_graph_data(m.g, m.t), 32 * 3, 1.0f, 0.0f);
            CHECK_OK(dc_graph_forward(m.g, 2, 1));
            dc_graph_zero_grad(m.g);
            CHECK_OK(dc_graph_backward(m.g, m.loss));
            ny = 32 * 64 * 6;
            nx = 2 * 64 * 16 * 16;
            if (!keep_y) {
                keep_y = malloc((size_t)ny * sizeof(float));
                keep_dx = malloc((size_t)nx * sizeof(float));
                memcpy(keep_y, dc_graph_data(m.g, m.out), (size_t)ny * sizeof(float));
                memcpy(keep_dx, dc_graph_grad(m.g, m.x), (size_t)nx * sizeof(float));
            } else {
                CHECK(memcmp(keep_y, dc_graph_data(m.g, m.out), (size_t)ny * sizeof(float)) == 0);
                CHECK(memcmp(keep_dx, dc_graph_grad(m.g, m.x), (size_t)nx * sizeof(float)) == 0);
            }
            dc_graph_free(m.g);
            dc_pool_free(pool);
        }
        free(keep_y);
        free(keep_dx);
    }
}

/* The RoI head's loss is a mean over the RoIs: softmax cross-entropy with R rows of labels. */
TEST(roi_head_loss_over_rows) {
    dc_graph *g;
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input(g, "x", dc_shape3(1, 2, 2));
    dc_node r = dc_input_rows(g, "rois", dc_shape1(5), 3);
    dc_node lab = dc_input_rows_like(g, "labels", dc_shape_make(0, NULL), r);
    dc_node p = dc_roi_pool(g, x, r, 1, 1, 1.0f, "p");
    dc_linear_opts lo = {.init = DC_INIT_CONST, .init_value = 0.0f};
    dc_node logits = dc_linear_ex(g, dc_flatten(g, p), 4, "cls", &lo);
    dc_node loss = dc_softmax_cross_entropy(g, logits, lab);
    CHECK_OK(dc_graph_status(g));
    CHECK_OK(dc_graph_plan(g, 1, NULL));
    const float q[15] = {0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1};
    memcpy(dc_graph_data(g, r), q, sizeof q);
    float *l = dc_graph_data(g, lab);
    l[0] = 1, l[1] = 2, l[2] = 3;
    CHECK_OK(dc_graph_set_rows(g, r, 3));
    CHECK_OK(dc_graph_forward(g, 1, 1));
    CHECK_NEAR(dc_graph_loss(g, loss), log(4.0), 1e-6); /* zero logits: log 4 for each RoI, mean */
    CHECK(dc_graph_rows(g, logits) == 3);
    dc_graph_zero_grad(g);
    CHECK_OK(dc_graph_backward(g, loss));
    dc_graph_free(g);
}
