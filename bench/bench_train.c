/* bench_train.c — deepc's side of the PyTorch comparison, doing the same work as
 * ../shared/peers/torch_bench.py:
 *   training: the first 40*128 training images in file order, cut into 40 batches and cycled;
 *     5 warm-up steps, then timed steps (>= 30 and >= 3 s, stopping after 70 s once >= 10);
 *     step = forward, softmax cross-entropy (mean), zero-grad, backward, SGD lr 0.01 momentum 0.9;
 *   inference: eval mode, the same batches, 3 warm-up, >= 30 batches and >= 3 s;
 *   latency: batch 1, the first 200 test images one at a time, 10 warm-up, median of 200.
 * Prints a human-readable report, a per-layer time breakdown of training, and one line
 * "RESULT {json}" for bench/compare.py.
 * usage: bench_train [--model mlp] [--batch 128] [--threads 2] [--data DIR] [--min-time S] [--fusion 1|0] */
#include "data/data.h"
#include "deepc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double rss_mib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

#define DIE(what) do { fprintf(stderr, "bench_train: %s: %s\n", what, dc_last_error()); return 1; } while (0)

int main(int argc, char **argv) {
    const char *model = "mlp", *data = "/usr/share/datasets/fashion-mnist";
    int batch = 128, threads = 2, nb = 40;
    double min_time = 3.0, budget = 70.0;
    int fusion = 1; /* dc_graph_set_fusion: BN+ReLU and add+ReLU fused in training, conv+BN+ReLU in
                       inference; --fusion 0 for the plain passes */
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--model")) model = argv[i + 1];
        else if (!strcmp(argv[i], "--batch")) batch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--data")) data = argv[i + 1];
        else if (!strcmp(argv[i], "--min-time")) min_time = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--fusion")) fusion = atoi(argv[i + 1]);
        else { fprintf(stderr, "bench_train: unknown option %s\n", argv[i]); return 2; }
    }
    dc_dataset *train = NULL, *test = NULL;
    if (dc_mnist_load(data, "train", 0.2860f, 0.3530f, (int64_t)nb * batch, &train) != DC_OK) DIE("train data");
    if (dc_mnist_load(data, "test", 0.2860f, 0.3530f, 200, &test) != DC_OK) DIE("test data");
    int64_t per = (int64_t)train->c * train->h * train->w;

    dc_pool *pool = NULL;
    if (dc_pool_create(threads, &pool) != DC_OK) DIE("pool");
    dc_graph *g = NULL;
    dc_node logits, loss;
    if (dc_graph_create(&g) != DC_OK) DIE("graph");
    dc_node x = dc_input(g, "images", dc_shape3(train->c, train->h, train->w));
    dc_node t = dc_input(g, "labels", dc_shape_make(0, NULL));
    if (dc_model_build(g, model, x, 10, &logits) != DC_OK) DIE("model");
    loss = dc_softmax_cross_entropy(g, logits, t);
    dc_graph_opts go = {.pool = pool, .seed = 0, .share_grads = 1};
    if (dc_graph_plan(g, batch, &go) != DC_OK) DIE("plan");
    dc_graph_set_fusion(g, fusion ? DC_FUSION_ALL : 0);
    dc_optim_config oc = dc_optim_defaults(DC_OPTIM_MOMENTUM, 0.01f);
    dc_optim *opt = NULL;
    if (dc_optim_create(&oc, dc_graph_params(g), dc_graph_param_count(g), pool, &opt) != DC_OK) DIE("optimizer");
    float *xb = dc_graph_data(g, x), *tb = dc_graph_data(g, t);

#define LOAD_BATCH(i)                                                                               \
    do {                                                                                            \
        int64_t k_ = (i) % nb;                                                                      \
        memcpy(xb, train->images + k_ * batch * per, (size_t)(batch * per) * sizeof(float));        \
        for (int j_ = 0; j_ < batch; j_++) tb[j_] = (float)train->labels[k_ * batch + j_];          \
    } while (0)

    /* ---- training */
    int64_t i = 0;
    for (; i < 5; i++) {
        LOAD_BATCH(i);
        if (dc_graph_forward(g, batch, 1) != DC_OK) DIE("forward");
        dc_graph_zero_grad(g);
        dc_graph_backward(g, loss);
        dc_optim_step(opt);
    }
    int64_t steps = 0;
    double t0 = now_s(), el = 0;
    for (;; i++) {
        LOAD_BATCH(i);
        dc_graph_forward(g, batch, 1);
        dc_graph_zero_grad(g);
        dc_graph_backward(g, loss);
        dc_optim_step(opt);
        steps++;
        el = now_s() - t0;
        if (steps >= 30 && el >= min_time) break;
        if (el > budget && steps >= 10) break;
    }
    double train_ips = (double)steps * batch / el;
    float last_loss = dc_graph_loss(g, loss);

    /* per-layer breakdown over a further profiled stretch (profiling adds a clock read per node) */
    dc_graph_set_profile(g, 1);
    int64_t psteps = steps / 3 > 10 ? steps / 3 : 10;
    double tp0 = now_s(), topt = 0.0;
    for (int64_t k = 0; k < psteps; k++, i++) {
        LOAD_BATCH(i);
        dc_graph_forward(g, batch, 1);
        dc_graph_zero_grad(g);
        dc_graph_backward(g, loss);
        double to = now_s();
        dc_optim_step(opt);
        topt += now_s() - to;
    }
    double tprof = now_s() - tp0;
    dc_graph_set_profile(g, 0);
    printf("deepc %s, batch %d, %d threads\n", model, batch, threads);
    printf("per-layer training time (ms per step, %lld profiled steps):\n", (long long)psteps);
    printf("  %-14s %-14s %9s %9s %7s\n", "layer", "op", "forward", "backward", "share");
    double accounted = topt;
    for (int n = 0; n < dc_graph_node_count(g); n++) {
        double f, b;
        dc_graph_node_time(g, n, &f, &b);
        accounted += f + b;
        if (f + b < 1e-9) continue;
        printf("  %-14s %-14s %9.4f %9.4f %6.1f%%\n", dc_node_name(g, n), dc_node_op_name(g, n), 1e3 * f / psteps,
               1e3 * b / psteps, 100.0 * (f + b) / tprof);
    }
    printf("  %-14s %-14s %9.4f %9s %6.1f%%\n", "optimizer", "momentum", 1e3 * topt / psteps, "", 100.0 * topt / tprof);
    printf("  %-14s %-14s %9.4f %9s %6.1f%%\n", "other", "copy/zero", 1e3 * (tprof - accounted) / psteps, "",
           100.0 * (tprof - accounted) / tprof);

    /* ---- inference */
    for (int k = 0; k < 3; k++) { LOAD_BATCH(k); dc_graph_forward_to(g, logits, batch, 0); }
    int64_t nbat = 0;
    t0 = now_s();
    for (;; nbat++) {
        LOAD_BATCH(nbat);
        dc_graph_forward_to(g, logits, batch, 0);
        el = now_s() - t0;
        if ((nbat + 1 >= 30 && el >= min_time) || (el > 20.0 && nbat + 1 >= 5)) { nbat++; break; }
    }
    double infer_ips = (double)nbat * batch / el;

    /* per-layer inference time over a few profiled batches: the layers above 1% of it */
    dc_graph_set_profile(g, 1);
    const int ibat = 5;
    double ti0 = now_s();
    for (int k = 0; k < ibat; k++) {
        LOAD_BATCH(k);
        dc_graph_forward_to(g, logits, batch, 0);
    }
    double tinf = now_s() - ti0, iacc = 0.0;
    dc_graph_set_profile(g, 0);
    printf("per-layer inference time (ms per batch of %d, %d profiled batches; layers under 1%% left out):\n", batch, ibat);
    for (int n = 0; n < dc_graph_node_count(g); n++) {
        double f, b;
        dc_graph_node_time(g, n, &f, &b);
        iacc += f;
        if (f < 0.01 * tinf) continue;
        printf("  %-14s %-14s %9.4f %6.1f%%\n", dc_node_name(g, n), dc_node_op_name(g, n), 1e3 * f / ibat, 100.0 * f / tinf);
    }
    printf("  %-14s %-14s %9.4f %6.1f%%\n", "other", "copy/rest", 1e3 * (tinf - iacc) / ibat, 100.0 * (tinf - iacc) / tinf);

    /* ---- latency, batch 1 */
    double lat[200];
    for (int k = 0; k < 210; k++) {
        const float *img = test->images + (k % 200) * per;
        double ts = now_s();
        memcpy(xb, img, (size_t)per * sizeof(float));
        dc_graph_forward_to(g, logits, 1, 0);
        if (k >= 10) lat[k - 10] = (now_s() - ts) * 1e3;
    }
    qsort(lat, 200, sizeof lat[0], cmp_double);

    printf("training  %10.1f img/s  (%lld steps, last loss %.4f)\n", train_ips, (long long)steps, (double)last_loss);
    printf("inference %10.1f img/s  (%lld batches)\n", infer_ips, (long long)nbat);
    printf("latency   %10.3f ms median, %.3f ms p90 (batch 1)\n", (lat[99] + lat[100]) / 2, lat[179]);
    printf("peak RSS  %10.1f MiB\n", rss_mib());
    printf("RESULT {\"model\": \"%s\", \"batch\": %d, \"threads\": %d, \"train_img_per_s\": %.1f, "
           "\"train_steps\": %lld, \"infer_img_per_s\": %.1f, \"latency_median_ms\": %.4f, \"latency_p90_ms\": %.4f, "
           "\"rss_peak_mib\": %.1f}\n",
           model, batch, threads, train_ips, (long long)steps, infer_ips, (lat[99] + lat[100]) / 2, lat[179], rss_mib());
    dc_optim_free(opt);
    dc_graph_free(g);
    dc_pool_free(pool);
    dc_dataset_free(train);
    dc_dataset_free(test);
    return 0;
}
