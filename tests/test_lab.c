/* test_lab.c — the numbers behind the `deepc lab` pictures.
 *  optimizers: the first three steps of each path equal the update rules worked by hand on
 *    f(x, y) = x^2/20 + y^2 from (-7, 2) with gradient (x/10, 2y), e.g.
 *      SGD lr 0.95: (-7, 2) - 0.95 (-0.7, 4) = (-6.335, -1.8); then (-5.733175, 1.62);
 *      Momentum lr 0.1, alpha 0.9: v1 = (0.07, -0.4), w1 = (-6.93, 1.6); v2 = (0.1323, -0.68), w2 = (-6.7977, 0.92);
 *      AdaGrad lr 1.5: first step 1.5 sign(g) = (-5.5, 0.5); h2 = (0.7925, 17): (-4.573268, 0.1361966);
 *      RMSProp lr 0.3, rho 0.99: first step lr g/(0.1|g|) = 3 sign(g) = (-4, -1);
 *      Adam lr 0.3: first step lr sign(g) = (-6.7, 1.7);
 *    SGD zig-zags in y (the sign of y flips every step), AdaGrad's steps shrink monotonically,
 *    Momentum overshoots x = 0 (it rolls past the minimum).
 *  init: histogram counts add up to the activations of each layer; He + ReLU keeps the 5th
 *    layer's spread, std 0.01 + ReLU collapses, sigmoid with std 1 saturates at 0 and 1.
 *  batchnorm: at a small initial scale (0.01) the net with BN learns and the one without does not.
 *  hyperparams: trials sorted, inside their ranges, reproducible.
 *  receptive-field: output sizes, their error cases, weights and fields of the stacks.
 *  CLI: an unknown lab name is refused with a message naming the known labs (library and binary). */
#include "test.h"

#include "lab/lab.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK_MSG_HAS(what) \
    CHECK_MSG(strstr(dc_last_error(), what) != NULL, "message '%s' lacks '%s'", dc_last_error(), what)

static const char *lab_tmp(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dc_test_tmp_dir(), name);
    return buf[k];
}

static int file_exists(const char *dir, const char *name) {
    char p[1024];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0 && st.st_size > 0;
}

/* ------------------------------------------------------------------ optimizers */
static dc_lab_path paths[DC_OPTIM_COUNT];

static void run_paths(void) {
    dc_lab_paths_config c;
    dc_lab_paths_defaults(&c);
    CHECK_OK(dc_lab_paths_run(&c, paths));
}

TEST(lab_optimizer_paths_by_hand) {
    run_paths();
    static const double e[DC_OPTIM_COUNT][3][2] = {
        {{-6.335, -1.8}, {-5.733175, 1.62}, {-5.18852337, -1.458}},                               /* SGD 0.95 */
        {{-6.93, 1.6}, {-6.7977, 0.92}, {-6.610653, 0.124}},                                     /* Momentum */
        {{-5.50000021, 0.500000037}, {-4.57326797, 0.136196583}, {-3.88784234, 0.0373145705}},    /* AdaGrad  */
        {{-4.00000429, -0.99999925}, {-2.50594602, 0.347039406}, {-1.60832086, -0.11713364}},     /* RMSProp  */
        {{-6.7, 1.7}, {-6.4004143, 1.40224533}, {-6.10154588, 1.10891148}},                       /* Adam     */
    };
    for (int k = 0; k < DC_OPTIM_COUNT; k++) {
        CHECK(paths[k].steps == 30);
        CHECK(paths[k].x[0] == -7.0f && paths[k].y[0] == 2.0f);
        for (int t = 0; t < 3; t++) {
            CHECK_NEAR(paths[k].x[t + 1], e[k][t][0], 2e-5);
            CHECK_NEAR(paths[k].y[t + 1], e[k][t][1], 2e-5);
        }
    }
    /* the textbook's settings */
    CHECK_NEAR(paths[DC_OPTIM_SGD].cfg.lr, 0.95, 1e-7);
    CHECK_NEAR(paths[DC_OPTIM_MOMENTUM].cfg.momentum, 0.9, 1e-7);
    CHECK_NEAR(paths[DC_OPTIM_RMSPROP].cfg.rho, 0.99, 1e-7);
}

TEST(lab_optimizer_paths_shapes) {
    run_paths();
    const dc_lab_path *sgd = &paths[DC_OPTIM_SGD], *ada = &paths[DC_OPTIM_ADAGRAD], *mom = &paths[DC_OPTIM_MOMENTUM];
    /* SGD: y <- y - 0.95 * 2y = -0.9 y, so y changes sign every step (the zig-zag). */
    for (int t = 1; t <= sgd->steps; t++) CHECK_MSG((sgd->y[t] > 0) != (sgd->y[t - 1] > 0), "SGD step %d: no flip", t);
    /* AdaGrad: h only grows, so every step is shorter than the one before. */
    double prev = 1e30;
    for (int t = 1; t <= ada->steps; t++) {
        double len = hypot((double)ada->x[t] - ada->x[t - 1], (double)ada->y[t] - ada->y[t - 1]);
        CHECK_MSG(len < prev, "AdaGrad step %d length %g not below %g", t, len, prev);
        prev = len;
    }
    /* Momentum rolls past the minimum in x. */
    float xmax = -1e9f;
    for (int t = 0; t <= mom->steps; t++) xmax = fmaxf(xmax, mom->x[t]);
    CHECK(xmax > 0.0f);
    /* every path ends much lower than it started */
    for (int k = 0; k < DC_OPTIM_COUNT; k++)
        CHECK(dc_lab_bowl(paths[k].x[30], paths[k].y[30]) < 0.2f * dc_lab_bowl(-7.0f, 2.0f));

    dc_lab_paths_config c;
    dc_lab_paths_defaults(&c);
    c.steps = 0;
    CHECK_ERR(dc_lab_paths_run(&c, paths), DC_ERR_ARG);
    c.steps = 30;
    c.lr[DC_OPTIM_ADAM] = -1.0f;
    CHECK_ERR(dc_lab_paths_run(&c, paths), DC_ERR_ARG);
    CHECK_MSG_HAS("Adam");
}

TEST(lab_optimizer_paths_csv) {
    run_paths();
    const char *dir = lab_tmp("lab-opt");
    CHECK_OK(dc_lab_mkdir(dir));
    CHECK_OK(dc_lab_paths_write(paths, dir));
    CHECK(file_exists(dir, "optimizers.png") && file_exists(dir, "optimizers.svg"));
    char p[1024];
    snprintf(p, sizeof p, "%s/optimizers.csv", dir);
    FILE *f = fopen(p, "r");
    CHECK(f != NULL);
    if (!f) return;
    char line[256];
    int rows = 0, found = 0;
    while (fgets(line, sizeof line, f)) {
        rows++;
        if (!strncmp(line, "sgd,0.95,1,", 11)) {
            double x, y;
            found = sscanf(line + 11, "%lf,%lf", &x, &y) == 2 && fabs(x + 6.335) < 1e-5 && fabs(y + 1.8) < 1e-5;
        }
    }
    fclose(f);
    CHECK(rows == 1 + 5 * 31);
    CHECK(found);
}

TEST(lab_smooth_moving_average) {
    const float v[5] = {1, 2, 3, 4, 10};
    float o[5];
    dc_lab_smooth(v, 5, 3, o);
    CHECK_NEAR(o[0], 1.5, 1e-6);  /* (1+2)/2 at the edge */
    CHECK_NEAR(o[2], 3.0, 1e-6);
    CHECK_NEAR(o[4], 7.0, 1e-6);
    dc_lab_smooth(v, 5, 1, o);
    CHECK(memcmp(o, v, sizeof v) == 0);
}

/* ------------------------------------------------------------------ init */
TEST(lab_init_histograms) {
    dc_lab_init_config c;
    dc_lab_init_defaults(&c);
    dc_lab_init_result *r = malloc(sizeof *r);
    CHECK(r != NULL);
    if (!r) return;
    CHECK_OK(dc_lab_init_run(&c, r));
    for (int a = 0; a < DC_LAB_ACT_COUNT; a++)
        for (int i = 0; i < DC_LAB_INIT_COUNT; i++)
            for (int l = 0; l < DC_LAB_INIT_LAYERS; l++) {
                const dc_lab_hist *h = &r->h[a][i][l];
                int64_t sum = 0;
                for (int b = 0; b < DC_LAB_INIT_BINS; b++) sum += h->count[b];
                CHECK_MSG(sum == 1000 * 100 && h->n == 1000 * 100, "%s/%s layer %d: %lld counted of %lld",
                          dc_lab_act_name((dc_lab_act)a), dc_lab_init_name((dc_lab_init)i), l + 1, (long long)sum,
                          (long long)h->n);
                CHECK(h->below == 0 && h->above == 0); /* the ranges cover every value */
            }
    /* He + ReLU: the 5th layer keeps its spread; std 0.01 + ReLU: it shrinks ~14x per layer to ~1e-6. */
    CHECK_MSG(r->h[DC_LAB_RELU][DC_LAB_HE][4].std > 0.3, "He+ReLU layer 5 std %g", r->h[DC_LAB_RELU][DC_LAB_HE][4].std);
    CHECK_MSG(r->h[DC_LAB_RELU][DC_LAB_STD001][4].std < 1e-4, "std 0.01+ReLU layer 5 std %g",
              r->h[DC_LAB_RELU][DC_LAB_STD001][4].std);
    CHECK(r->h[DC_LAB_RELU][DC_LAB_STD001][4].std < 1e-3 * r->h[DC_LAB_RELU][DC_LAB_STD001][0].std);
    CHECK(r->h[DC_LAB_RELU][DC_LAB_STD1][4].std > 1e3); /* std 1 explodes */
    /* Xavier + ReLU decays layer by layer, He much less. */
    CHECK(r->h[DC_LAB_RELU][DC_LAB_XAVIER][4].std < 0.5 * r->h[DC_LAB_RELU][DC_LAB_HE][4].std);
    for (int l = 0; l < DC_LAB_INIT_LAYERS; l++) {
        CHECK_NEAR(r->h[DC_LAB_RELU][DC_LAB_HE][l].frac_zero, 0.5, 0.1);
        /* sigmoid with std 1: most activations within 0.05 of 0 or 1; with Xavier almost none. */
        CHECK_MSG(r->h[DC_LAB_SIGMOID][DC_LAB_STD1][l].frac_saturated > 0.55, "sigmoid std 1 layer %d: %g saturated",
                  l + 1, r->h[DC_LAB_SIGMOID][DC_LAB_STD1][l].frac_saturated);
        CHECK(r->h[DC_LAB_SIGMOID][DC_LAB_XAVIER][l].frac_saturated < 0.05);
        /* sigmoid with std 0.01: everything near 0.5 */
        CHECK(fabs(r->h[DC_LAB_SIGMOID][DC_LAB_STD001][l].mean - 0.5) < 0.05 &&
              r->h[DC_LAB_SIGMOID][DC_LAB_STD001][l].std < 0.05);
    }
    /* the sigmoid std-1 histogram is U-shaped: the end bins hold more than the middle ten */
    const dc_lab_hist *u = &r->h[DC_LAB_SIGMOID][DC_LAB_STD1][4];
    int64_t mid = 0;
    for (int b = 10; b < 20; b++) mid += u->count[b];
    CHECK(u->count[0] + u->count[DC_LAB_INIT_BINS - 1] > 3 * mid);

    const char *dir = lab_tmp("lab-init");
    CHECK_OK(dc_lab_mkdir(dir));
    CHECK_OK(dc_lab_init_write(r, dir));
    CHECK(file_exists(dir, "init-relu.png") && file_exists(dir, "init-sigmoid.svg") && file_exists(dir, "init-std.png"));
    char p[1024];
    snprintf(p, sizeof p, "%s/init-histograms.csv", dir);
    FILE *f = fopen(p, "r");
    CHECK(f != NULL);
    if (f) {
        char line[256];
        long long sum = 0, cnt;
        int rows = 0, bin, layer;
        char act[16], init[16];
        double lo, hi;
        while (fgets(line, sizeof line, f)) {
            if (sscanf(line, "%15[^,],%15[^,],%d,%d,%lf,%lf,%lld", act, init, &layer, &bin, &lo, &hi, &cnt) != 7) continue;
            rows++;
            if (!strcmp(act, "tanh") && !strcmp(init, "he") && layer == 3) sum += cnt;
        }
        fclose(f);
        CHECK(rows == 3 * 4 * 5 * DC_LAB_INIT_BINS);
        CHECK(sum == 100000);
    }
    c.layers = 6;
    CHECK_ERR(dc_lab_init_run(&c, r), DC_ERR_ARG);
    free(r);
}

/* ------------------------------------------------------------------ training labs */
TEST(lab_batchnorm_small_scale) {
    dc_lab_bn_config c;
    dc_lab_bn_defaults(&c);
    c.data_dir = dc_test_data_dir();
    c.n_scales = 1;
    c.scale_hi = c.scale_lo = 0.01f;
    c.epochs = 6;
    dc_lab_bn_result r;
    CHECK_OK(dc_lab_bn_run(&c, &r));
    if (!r.acc_bn[0]) return;
    CHECK(r.iters_per_epoch == 10);
    CHECK_NEAR(r.scale[0], 0.01, 1e-7);
    /* Without BN the 0.01-scaled signal fades through 5 layers and SGD is stuck near chance. */
    CHECK_MSG(r.acc_bn[0][6] > r.acc_plain[0][6] + 0.25, "BN %g vs without %g", (double)r.acc_bn[0][6],
              (double)r.acc_plain[0][6]);
    CHECK(r.acc_plain[0][6] < 0.3);
    const char *dir = lab_tmp("lab-bn");
    CHECK_OK(dc_lab_mkdir(dir));
    CHECK_OK(dc_lab_bn_write(&r, dir));
    CHECK(file_exists(dir, "batchnorm.csv") && file_exists(dir, "batchnorm.png") && file_exists(dir, "batchnorm.svg"));
    dc_lab_bn_free(&r);

    /* the default scales: 16 from 1 to 1e-4, log-spaced like numpy.logspace(0, -4, 16) */
    dc_lab_bn_defaults(&c);
    c.data_dir = "/nonexistent-lab-data";
    CHECK(c.n_scales == 16 && c.scale_hi == 1.0f && c.scale_lo == 1e-4f);
    CHECK(dc_lab_bn_run(&c, &r) == DC_ERR_IO);
    CHECK_MSG_HAS("batchnorm");
    c.n_scales = 0;
    CHECK_ERR(dc_lab_bn_run(&c, &r), DC_ERR_ARG);
}

TEST(lab_overfit_quick) {
    dc_lab_overfit_config c;
    dc_lab_overfit_defaults(&c);
    CHECK(c.train_n == 300 && c.weight_decay == 0.1f && c.layers == 6);
    c.data_dir = dc_test_data_dir();
    c.epochs = 3;
    c.test_n = 200;
    dc_lab_overfit_result r;
    CHECK_OK(dc_lab_overfit_run(&c, &r));
    if (!r.train_acc[0]) return;
    for (int k = 0; k < DC_LAB_FIT_COUNT; k++)
        for (int e = 0; e <= 3; e++) CHECK(r.train_acc[k][e] >= 0.0f && r.train_acc[k][e] <= 1.0f);
    /* same initial weights for the three settings: identical accuracy before training */
    CHECK(r.train_acc[0][0] == r.train_acc[1][0] && r.train_acc[0][0] == r.train_acc[2][0]);
    CHECK(r.test_acc[0][0] == r.test_acc[1][0]);
    const char *dir = lab_tmp("lab-overfit");
    CHECK_OK(dc_lab_mkdir(dir));
    CHECK_OK(dc_lab_overfit_write(&r, dir));
    CHECK(file_exists(dir, "overfit.csv") && file_exists(dir, "overfit.png"));
    dc_lab_overfit_free(&r);
    c.dropout = 1.0f;
    CHECK_ERR(dc_lab_overfit_run(&c, &r), DC_ERR_ARG);
}

TEST(lab_hyperparams_quick) {
    dc_lab_search_config c;
    dc_lab_search_defaults(&c);
    c.data_dir = dc_test_data_dir();
    c.train_n = 200;
    c.val_n = 50;
    c.trials = 6;
    c.epochs = 2;
    c.top = 3;
    dc_lab_search_result r, r2;
    CHECK_OK(dc_lab_search_run(&c, &r));
    CHECK_OK(dc_lab_search_run(&c, &r2));
    if (!r.t || !r2.t) return;
    CHECK(r.trials == 6 && r.top == 3);
    for (int i = 0; i < r.trials; i++) {
        CHECK(r.t[i].lr >= 1e-6f * 0.999f && r.t[i].lr <= 1e-2f * 1.001f);
        CHECK(r.t[i].wd >= 1e-8f * 0.999f && r.t[i].wd <= 1e-4f * 1.001f);
        if (i) CHECK(r.t[i].val_acc <= r.t[i - 1].val_acc);
        CHECK(r.t[i].val_acc == r.t[i].val_curve[2]);
        /* same seed, same search */
        CHECK(r.t[i].lr == r2.t[i].lr && r.t[i].wd == r2.t[i].wd && r.t[i].val_acc == r2.t[i].val_acc);
    }
    const char *dir = lab_tmp("lab-hp");
    CHECK_OK(dc_lab_mkdir(dir));
    CHECK_OK(dc_lab_search_write(&r, dir));
    CHECK(file_exists(dir, "hyperparams.csv") && file_exists(dir, "hyperparams.png"));
    dc_lab_search_free(&r);
    dc_lab_search_free(&r2);
    c.val_n = c.train_n;
    CHECK_ERR(dc_lab_search_run(&c, &r), DC_ERR_ARG);
}

/* ------------------------------------------------------------------ receptive field */
TEST(lab_conv_output_size) {
    int64_t o = -1;
    CHECK_OK(dc_lab_conv_out(28, 5, 1, 0, &o));
    CHECK(o == 24);
    CHECK_OK(dc_lab_conv_out(28, 3, 1, 1, &o));
    CHECK(o == 28);
    CHECK_OK(dc_lab_conv_out(227, 11, 4, 0, &o)); /* AlexNet's first layer */
    CHECK(o == 55);
    CHECK_OK(dc_lab_conv_out(4, 3, 1, 1, &o)); /* the textbook's padding example: 4x4 stays 4x4 */
    CHECK(o == 4);
    CHECK_OK(dc_lab_conv_out(7, 3, 2, 0, &o)); /* and its stride-2 example: 7x7 -> 3x3 */
    CHECK(o == 3);
    CHECK_ERR(dc_lab_conv_out(28, 5, 2, 0, &o), DC_ERR_ARG); /* 23/2 */
    CHECK_MSG_HAS("23/2");
    CHECK_MSG_HAS("not an integer");
    CHECK(o == 0);
    CHECK_ERR(dc_lab_conv_out(224, 7, 2, 3, &o), DC_ERR_ARG); /* 223/2: ResNet's conv1 floors this */
    CHECK_ERR(dc_lab_conv_out(3, 7, 1, 0, &o), DC_ERR_ARG);
    CHECK_MSG_HAS("larger");
    CHECK_ERR(dc_lab_conv_out(0, 3, 1, 0, &o), DC_ERR_ARG);
    CHECK_MSG_HAS("input size H = 0");
    CHECK_ERR(dc_lab_conv_out(28, 0, 1, 0, &o), DC_ERR_ARG);
    CHECK_MSG_HAS("kernel size FH = 0");
    CHECK_ERR(dc_lab_conv_out(28, 3, 0, 0, &o), DC_ERR_ARG);
    CHECK_MSG_HAS("stride S = 0");
    CHECK_ERR(dc_lab_conv_out(28, 3, 1, -1, &o), DC_ERR_ARG);
    CHECK_MSG_HAS("padding P = -1");
}

TEST(lab_receptive_field_stacks) {
    CHECK(dc_lab_receptive_field(2, 3) == 5 && dc_lab_receptive_field(3, 3) == 7 && dc_lab_receptive_field(1, 7) == 7);
    dc_lab_rf_result r;
    /* C = 64, the default: large enough for deepc's fast 3x3 paths (e.g. Winograd), whose rounding must
     * not widen the measured field */
    CHECK_OK(dc_lab_rf_run(64, 1, 32, 4, 2, 1, 1, &r)); /* (32 + 2 - 4)/2 + 1 */
    CHECK(r.out == 16 && r.out_graph == 16);
    const int64_t C2 = 64 * 64;
    CHECK(r.st[0].params == 18 * C2 && r.st[1].params == 25 * C2);
    CHECK(r.st[2].params == 27 * C2 && r.st[3].params == 49 * C2);
    for (int i = 0; i < 4; i++) {
        CHECK(r.st[i].params == r.st[i].params_formula);
        CHECK_MSG(r.st[i].rf_measured == r.st[i].rf, "stack %d: measured %lld, formula %lld", i,
                  (long long)r.st[i].rf_measured, (long long)r.st[i].rf);
    }
    CHECK(r.st[0].rf == 5 && r.st[1].rf == 5 && r.st[2].rf == 7 && r.st[3].rf == 7);
    const char *dir = lab_tmp("lab-rf");
    CHECK_OK(dc_lab_mkdir(dir));
    CHECK_OK(dc_lab_rf_write(&r, dir));
    CHECK(file_exists(dir, "receptive-field.csv") && file_exists(dir, "output-size.csv") &&
          file_exists(dir, "receptive-field.png"));
    CHECK_ERR(dc_lab_rf_run(8, 1, 28, 5, 2, 0, 1, &r), DC_ERR_ARG);
    CHECK_MSG_HAS("not an integer");
    CHECK_ERR(dc_lab_rf_run(0, 0, 0, 0, 0, 0, 1, &r), DC_ERR_ARG);
}

/* ------------------------------------------------------------------ registry and CLI */
TEST(lab_unknown_name) {
    const dc_lab_info *info = (const dc_lab_info *)1;
    CHECK_ERR(dc_lab_find("nope", &info), DC_ERR_ARG);
    CHECK(info == NULL);
    CHECK_MSG_HAS("unknown lab 'nope'");
    CHECK_MSG_HAS("optimizers-fashion");
    CHECK_MSG_HAS("receptive-field");
    CHECK_ERR(dc_lab_run("nope", NULL), DC_ERR_ARG);
    CHECK_ERR(dc_lab_find(NULL, NULL), DC_ERR_ARG);
    CHECK(dc_lab_count() == 7);
    static const char *const names[] = {"optimizers", "optimizers-fashion", "init", "batchnorm", "overfit",
                                        "hyperparams", "receptive-field"};
    for (int i = 0; i < 7; i++) {
        CHECK_OK(dc_lab_find(names[i], &info));
        CHECK(info && !strcmp(info->name, names[i]) && info->summary && info->run);
    }
}

/* The deepc binary built next to this test binary: `deepc lab nope` exits 2 with the message. */
TEST(lab_cli_rejects_unknown_lab) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) return;
    snprintf(slash + 1, sizeof exe - (size_t)(slash + 1 - exe), "deepc");
    if (access(exe, X_OK) != 0) {
        fprintf(stderr, "    (skipped: no %s)\n", exe);
        return;
    }
    const char *err = lab_tmp("lab-cli.err");
    char cmd[PATH_MAX + 1200];
    snprintf(cmd, sizeof cmd, "'%s' lab nope >/dev/null 2>'%s'", exe, err);
    int st = system(cmd);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    FILE *f = fopen(err, "r");
    char msg[1024] = "";
    if (f) {
        size_t m = fread(msg, 1, sizeof msg - 1, f);
        msg[m] = '\0';
        fclose(f);
    }
    CHECK_MSG(strstr(msg, "unknown lab 'nope'") && strstr(msg, "batchnorm"), "stderr: '%s'", msg);
    /* the output-size formula's error reaches the user, exit status 1 */
    snprintf(cmd, sizeof cmd, "'%s' lab receptive-field --input 28 --kernel 5 --stride 2 --out '%s' >/dev/null 2>'%s'",
             exe, lab_tmp("lab-cli-rf"), err);
    st = system(cmd);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    f = fopen(err, "r");
    msg[0] = '\0';
    if (f) {
        size_t m = fread(msg, 1, sizeof msg - 1, f);
        msg[m] = '\0';
        fclose(f);
    }
    CHECK_MSG(strstr(msg, "not an integer") != NULL, "stderr: '%s'", msg);
    /* --input belongs to receptive-field only */
    snprintf(cmd, sizeof cmd, "'%s' lab optimizers --input 3 >/dev/null 2>&1", exe);
    st = system(cmd);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2);
}
