/* bench_winograd.c — the Conv2d op with its Winograd path off (DC_WINOGRAD=0: the direct
 * padded-plane kernels or the implicit-im2col GEMM, whichever op_conv.c picks) and forced on
 * (DC_WINOGRAD=all), back to back per layer, at the 3x3 stride-1 layer shapes of VGG-16 (on the
 * 32x32 padded input), ResNet-20 and ResNet-18 (28x28 inputs), batch 128, 2 threads (or argv[1]).
 * Each layer is a one-node graph (input -> conv) whose op functions are called directly.
 * Columns: forward; dW (+ db: the backward when the input needs no gradient); dX (the backward with
 * the input gradient minus the one without); ms off / on and the speed-up off/on.  Best of 5 runs of
 * about 0.1 s each; the switch alternates between the runs so that load changes hit both sides.
 * Usage: bench_winograd [threads] [batch] [layer-name-substring] */
#include "deepc.h"
#include "graph/graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct layer {
    const char *name;
    int C, HW, OC, count; /* count: how many such layers the model has */
} layer;

static const layer layers[] = {
    {"vgg16 64->64 32", 64, 32, 64, 1},      {"vgg16 64->128 16", 64, 16, 128, 1},
    {"vgg16 128->128 16", 128, 16, 128, 1},  {"vgg16 128->256 8", 128, 8, 256, 1},
    {"vgg16 256->256 8", 256, 8, 256, 2},    {"vgg16 256->512 4", 256, 4, 512, 1},
    {"vgg16 512->512 4", 512, 4, 512, 2},    {"vgg16 512->512 2", 512, 2, 512, 3},
    {"resnet20 16->16 28", 16, 28, 16, 6},   {"resnet20 32->32 14", 32, 14, 32, 5},
    {"resnet20 64->64 7", 64, 7, 64, 5},     {"resnet18 64->64 28", 64, 28, 64, 4},
    {"resnet18 128->128 14", 128, 14, 128, 3}, {"resnet18 256->256 7", 256, 7, 256, 3},
    {"resnet18 512->512 4", 512, 4, 512, 3},
};

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct one {
    dc_graph *g;
    dc_node_rec *n;
    int64_t batch;
} one;

static void build(one *o, const layer *L, int dx, dc_pool *pool, int64_t batch) {
    dc_rng r;
    dc_rng_seed(&r, 1);
    dc_graph_create(&o->g);
    dc_shape xs = dc_shape3(L->C, L->HW, L->HW);
    dc_node x = dx ? dc_input_grad(o->g, "x", xs) : dc_input(o->g, "x", xs);
    dc_conv2d_opts co = {.kh = 3, .kw = 3, .pad_h = 1, .pad_w = 1, .no_bias = 1};
    dc_node c = dc_conv2d_ex(o->g, x, L->OC, "conv", &co);
    dc_graph_opts go = {.pool = pool, .seed = 1};
    if (dc_graph_status(o->g) != DC_OK || dc_graph_plan(o->g, batch, &go) != DC_OK) {
        fprintf(stderr, "%s\n", dc_last_error());
        exit(1);
    }
    o->n = &o->g->nodes[c];
    o->batch = batch;
    int64_t nx = batch * L->C * L->HW * L->HW, ny = batch * dc_shape_numel(o->n->shape);
    for (int64_t i = 0; i < nx; i++) dc_graph_data(o->g, x)[i] = dc_rng_normal(&r);
    for (int64_t i = 0; i < ny; i++) o->n->grad[i] = 0.01f * dc_rng_normal(&r);
}

/* what: 0 forward, 1 backward */
static void run(one *o, int what) {
    if (what == 0) dc_op_conv2d_forward(o->g, o->n, o->batch, 1);
    else dc_op_conv2d_backward(o->g, o->n, o->batch);
}

static int reps_for(one *o, int what) {
    run(o, what);
    int reps = 1;
    for (;;) {
        double t0 = now();
        for (int i = 0; i < reps; i++) run(o, what);
        double dt = now() - t0;
        if (dt > 0.02) return (int)(reps * 0.1 / dt) + 1;
        reps *= 2;
    }
}

/* Best seconds per call, off (t[0]) and on (t[1]), alternating the switch between runs. */
static void measure(one *o, int what, double t[2]) {
    setenv("DC_WINOGRAD", "0", 1);
    int reps = reps_for(o, what);
    t[0] = t[1] = 1e30;
    for (int r = 0; r < 10; r++) {
        setenv("DC_WINOGRAD", r % 2 ? "all" : "0", 1);
        run(o, what);
        double t0 = now();
        for (int i = 0; i < reps; i++) run(o, what);
        double dt = (now() - t0) / reps;
        if (dt < t[r % 2]) t[r % 2] = dt;
    }
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    int64_t batch = argc > 2 ? atoll(argv[2]) : 128;
    dc_pool *pool = NULL;
    if (threads > 1 && dc_pool_create(threads, &pool) != DC_OK) {
        fprintf(stderr, "%s\n", dc_last_error());
        return 1;
    }
    printf("conv2d 3x3 pad 1, batch %lld, %d thread(s): Winograd off / on (ms, speed-up)\n", (long long)batch, threads);
    printf("%-22s %3s | %8s %8s %5s | %8s %8s %5s | %8s %8s %5s\n", "layer", "n", "fwd off", "on", "x", "dW off", "on",
           "x", "dX off", "on", "x");
    double tot[2] = {0, 0};
    for (size_t li = 0; li < sizeof layers / sizeof layers[0]; li++) {
        const layer *L = &layers[li];
        if (argc > 3 && !strstr(L->name, argv[3])) continue;
        one a, b;
        build(&a, L, 0, pool, batch);
        build(&b, L, 1, pool, batch);
        double f[2], w[2], bw[2], d[2];
        measure(&a, 0, f);
        measure(&a, 1, w);
        measure(&b, 1, bw);
        for (int k = 0; k < 2; k++) {
            d[k] = bw[k] - w[k];
            tot[k] += L->count * (f[k] + bw[k]);
        }
        printf("%-22s %3d | %8.2f %8.2f %5.2f | %8.2f %8.2f %5.2f | %8.2f %8.2f %5.2f\n", L->name, L->count,
               f[0] * 1e3, f[1] * 1e3, f[0] / f[1], w[0] * 1e3, w[1] * 1e3, w[0] / w[1], d[0] * 1e3, d[1] * 1e3,
               d[0] / d[1]);
        fflush(stdout);
        dc_graph_free(a.g);
        dc_graph_free(b.g);
    }
    printf("(n: layers of that shape in the model; sum over the listed layers of n x (fwd + dW + dX): off %.1f ms,"
           " on %.1f ms)\n",
           tot[0] * 1e3, tot[1] * 1e3);
    dc_pool_free(pool);
    return 0;
}
