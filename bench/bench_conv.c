/* bench_conv.c — time the Conv2d op (forward, backward) at the layer shapes that matter: LeNet-5's
 * two convolutions and VGG/ResNet-style 3x3 convolutions, batch 128, on a pool of 2 threads (or
 * argv[1]).  Each layer is a one-node graph (input -> conv) whose op functions are called directly,
 * so the numbers are the op alone.  Prints ms and GFLOP/s per pass (best of 5 runs of ~0.1 s), then
 * the forward split into its passes (the implicit-im2col GEMM, the reorder to NCHW + bias), measured
 * the same way, and for comparison the explicit path: im2col into a stored column matrix, then a
 * plain GEMM over it (the column matrix is allocated here, since the op no longer needs it).
 * Layers: LeNet-5, VGG, ResNet-20 (16/32/64 channels at 28/14/7; "no dX": the backward without the
 * input gradient, i.e. dW + db alone), GoogLeNet-mini shapes and ResNet's stride-2 downsampling layers.  fwd/bwd are the op, whichever path
 * it picks (the direct padded-plane kernels for most stride-1 3x3/5x5 layers, Winograd for 3x3
 * layers with >= 32 channels, see op_conv.c; DC_WINOGRAD=0 turns that off, and bench_winograd
 * compares the two per pass); the pass columns always time the implicit-im2col GEMM path.
 * Usage: bench_conv [threads] [batch] [layer-name-substring] */
#include "deepc.h"
#include "graph/graph.h"
#include "kernels/conv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct layer {
    const char *name;
    int C, H, W, OC, k, pad, dx; /* dx: the input needs a gradient (not the images) */
    int stride;                  /* 0 means 1 */
} layer;

static const layer layers[] = {
    {"lenet conv1 1->6 5x5 28", 1, 28, 28, 6, 5, 0, 0, 1},
    {"stem 1->64 3x3 p1 28", 1, 28, 28, 64, 3, 1, 0, 1},
    {"stem 1->16 3x3 p1 28", 1, 28, 28, 16, 3, 1, 0, 1},
    {"lenet conv2 6->16 5x5 12", 6, 12, 12, 16, 5, 0, 1, 1},
    {"vgg 64->64 3x3 p1 28", 64, 28, 28, 64, 3, 1, 1, 1},
    {"vgg 128->128 3x3 p1 14", 128, 14, 14, 128, 3, 1, 1, 1},
    {"resnet 16->16 3x3 p1 28", 16, 28, 28, 16, 3, 1, 1, 1},
    {"resnet 16->16 28 no dX", 16, 28, 28, 16, 3, 1, 0, 1},
    {"resnet 32->32 3x3 p1 14", 32, 14, 14, 32, 3, 1, 1, 1},
    {"resnet 64->64 3x3 p1 7", 64, 7, 7, 64, 3, 1, 1, 1},
    {"resnet18 256->256 3x3 p1 7", 256, 7, 7, 256, 3, 1, 1, 1},
    {"resnet18 512->512 3x3 p1 4", 512, 4, 4, 512, 3, 1, 1, 1},
    {"googlenet 64->96 3x3 28", 64, 28, 28, 96, 3, 1, 1, 1},
    {"googlenet 16->48 5x5 28", 16, 28, 28, 48, 5, 2, 1, 1},
    {"googlenet 128->64 1x1 28", 128, 28, 28, 64, 1, 0, 1, 1},
    /* the downsampling layers of ResNet-20 and ResNet-18 (stride-2 3x3 and 1x1 projections) */
    {"resnet 16->32 3x3 s2 28", 16, 28, 28, 32, 3, 1, 1, 2},
    {"resnet 16->32 1x1 s2 28", 16, 28, 28, 32, 1, 0, 1, 2},
    {"resnet 64->128 3x3 s2 28", 64, 28, 28, 128, 3, 1, 1, 2},
    {"resnet 64->128 1x1 s2 28", 64, 28, 28, 128, 1, 0, 1, 2},
    {"resnet 128->256 1x1 s2 14", 128, 14, 14, 256, 1, 0, 1, 2},
};

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct bench_ctx {
    dc_graph *g;
    dc_node_rec *n;
    int64_t batch;
    int what; /* 0 forward, 1 backward, 2 implicit GEMM, 3 reorder, 4 explicit im2col, 5 plain GEMM */
    dc_conv_geom geo;
    float *col; /* explicit column matrix [K][NP] (passes 4, 5 only) */
} bench_ctx;

static void im2col_task(void *vctx, int tid, int nt) {
    bench_ctx *b = vctx;
    int64_t lo, hi;
    dc_split_range(b->batch * b->geo.C, nt, tid, &lo, &hi);
    dc_im2col(&b->geo, b->batch * b->geo.OH * b->geo.OW, lo, hi, b->g->nodes[b->n->in[0]].out, b->col);
}

static void reorder_task(void *vctx, int tid, int nt) {
    bench_ctx *b = vctx;
    int64_t lo, hi, NP = b->batch * b->geo.OH * b->geo.OW;
    dc_split_range(b->batch, nt, tid, &lo, &hi);
    dc_conv_res_to_nchw(b->geo.OC, b->geo.OH * b->geo.OW, NP, lo, hi, b->g->work, dc_pdata(b->g, b->n, 1), 0, b->n->out);
}

static void run(bench_ctx *b) {
    dc_graph *g = b->g;
    int64_t NP = b->batch * b->geo.OH * b->geo.OW, K = b->geo.C * b->geo.kh * b->geo.kw;
    const dc_conv_pack pk = {&b->geo, g->nodes[b->n->in[0]].out, b->batch, 0, 0, 0};
    switch (b->what) {
    case 0: dc_op_conv2d_forward(g, b->n, b->batch, 1); break;
    case 1: dc_op_conv2d_backward(g, b->n, b->batch); break;
    case 2:
        dc_gemm_packed_b(g->gemm, b->geo.OC, NP, K, 1.0f, dc_pdata(g, b->n, 0), K, 0, dc_conv_pack_col, &pk, 0.0f,
                         g->work, NP);
        break;
    case 3: dc_pool_run(g->pool, reorder_task, b); break;
    case 4: dc_pool_run(g->pool, im2col_task, b); break;
    default:
        dc_gemm(g->gemm, 0, 0, b->geo.OC, NP, K, 1.0f, dc_pdata(g, b->n, 0), K, b->col, NP, 0.0f, g->work, NP);
        break;
    }
}

/* Best seconds per call over 5 runs of ~0.1 s each. */
static double measure(bench_ctx *b) {
    run(b);
    int reps = 1;
    for (;;) {
        double t0 = now();
        for (int i = 0; i < reps; i++) run(b);
        double dt = now() - t0;
        if (dt > 0.02) {
            reps = (int)(reps * 0.1 / dt) + 1;
            break;
        }
        reps *= 2;
    }
    double best = 1e30;
    for (int r = 0; r < 5; r++) {
        double t0 = now();
        for (int i = 0; i < reps; i++) run(b);
        double dt = (now() - t0) / reps;
        if (dt < best) best = dt;
    }
    return best;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    int64_t batch = argc > 2 ? atoll(argv[2]) : 128;
    dc_pool *pool = NULL;
    if (threads > 1 && dc_pool_create(threads, &pool) != DC_OK) {
        fprintf(stderr, "%s\n", dc_last_error());
        return 1;
    }
    printf("conv2d, batch %lld, %d thread(s), GEMM kernel %s\n", (long long)batch, threads, dc_gemm_kernel_name());
    printf("%-26s %9s %9s %9s %9s %9s | %8s %8s | %8s %8s\n", "layer", "fwd ms", "GFLOP/s", "bwd ms", "GFLOP/s",
           "MFLOP/ex", "impl.gemm", "reorder", "im2col", "gemm");
    for (size_t li = 0; li < sizeof layers / sizeof layers[0]; li++) {
        const layer *L = &layers[li];
        if (argc > 3 && !strstr(L->name, argv[3])) continue;
        dc_graph *g;
        dc_rng r;
        dc_rng_seed(&r, 1);
        dc_graph_create(&g);
        dc_shape xs = dc_shape3(L->C, L->H, L->W);
        dc_node x = L->dx ? dc_input_grad(g, "x", xs) : dc_input(g, "x", xs);
        const int stride = L->stride ? L->stride : 1;
        dc_node c = dc_conv2d(g, x, L->OC, L->k, stride, L->pad, "conv");
        dc_graph_opts o = {.pool = pool, .seed = 1};
        if (dc_graph_status(g) != DC_OK || dc_graph_plan(g, batch, &o) != DC_OK) {
            fprintf(stderr, "%s\n", dc_last_error());
            return 1;
        }
        dc_node_rec *n = &g->nodes[c];
        int64_t nx = batch * L->C * L->H * L->W, ny = batch * dc_shape_numel(n->shape);
        for (int64_t i = 0; i < nx; i++) dc_graph_data(g, x)[i] = dc_rng_normal(&r);
        for (int64_t i = 0; i < ny; i++) n->grad[i] = 0.01f * dc_rng_normal(&r);
        bench_ctx b = {g, n, batch, 0,
                       {.C = L->C, .H = L->H, .W = L->W, .OC = L->OC, .OH = n->shape.dim[1], .OW = n->shape.dim[2],
                        .kh = L->k, .kw = L->k, .sh = stride, .sw = stride, .ph = L->pad, .pw = L->pad, .dh = 1, .dw = 1,
                        .groups = 1},
                       NULL};
        b.col = malloc((size_t)(b.geo.C * b.geo.kh * b.geo.kw * batch * b.geo.OH * b.geo.OW) * sizeof(float));
        if (!b.col) {
            fprintf(stderr, "no memory for the explicit column matrix\n");
            return 1;
        }
        double t[6];
        for (int w = 0; w < 6; w++) {
            b.what = w;
            t[w] = measure(&b);
        }
        double fl = (double)dc_op_conv2d_flops(g, n) * (double)batch;
        double bfl = fl * (L->dx ? 2.0 : 1.0);
        printf("%-26s %9.3f %9.1f %9.3f %9.1f %9.2f | %8.3f %8.3f | %8.3f %8.3f\n", L->name, t[0] * 1e3,
               fl / t[0] * 1e-9, t[1] * 1e3, bfl / t[1] * 1e-9, fl / (double)batch * 1e-6, t[2] * 1e3, t[3] * 1e3,
               t[4] * 1e3, t[5] * 1e3);
        free(b.col);
        dc_graph_free(g);
    }
    printf("(bwd = dW + db, and dX where the input needs it; then the forward's passes in ms: the implicit-im2col GEMM\n"
           " and the reorder to NCHW + bias; last, for comparison, the explicit path's im2col and plain GEMM)\n");
    dc_pool_free(pool);
    return 0;
}
