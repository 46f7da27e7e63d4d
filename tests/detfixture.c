/* detfixture.c — the tiny detection set shared by the detector tests (detfixture.h). */
#include "detfixture.h"
#include "test.h"
#include "data/detgen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A tiny generated set (64 x 64 images of synthetic items, 16 training images) in the test's
 * temporary directory, made once. */
const char *dc_test_det_tiny(void) {
    static char dir[600];
    static int made = 0, ok = 0;
    if (made) return ok ? dir : NULL;
    made = 1;
    snprintf(dir, sizeof dir, "%s/det_tiny", dc_test_tmp_dir());
    enum { N = 60 };
    uint8_t *px = malloc(N * 784), lab[N];
    dc_rng r;
    dc_rng_seed(&r, 5);
    for (int i = 0; i < N; i++) { /* a filled shape per class: rectangles of class-dependent aspect */
        uint8_t *p = px + (size_t)i * 784;
        int k = i % 10, hw = 4 + k, hh = 13 - k / 2;
        for (int y = 0; y < 28; y++)
            for (int x = 0; x < 28; x++)
                p[y * 28 + x] = (abs(x - 14) < hw && abs(y - 14) < hh) ? (uint8_t)(150 + dc_rng_below(&r, 100)) : 0;
        lab[i] = (uint8_t)k;
    }
    dc_detgen_config c;
    dc_detgen_config_defaults(&c);
    c.out_dir = dir;
    c.size = 64;
    c.min_scale = 0.6f;
    c.max_scale = 1.2f;
    c.max_items = 3;
    c.n_images[0] = 16;
    c.n_images[1] = 4;
    c.n_images[2] = 4;
    c.items[0] = c.items[1] = px;
    c.labels[0] = c.labels[1] = lab;
    c.n_items[0] = c.n_items[1] = N;
    ok = dc_detgen_run(&c, NULL) == DC_OK;
    if (!ok) fprintf(stderr, "    detgen: %s\n", dc_last_error());
    free(px);
    return ok ? dir : NULL;
}

int dc_test_deepc_exe(char *exe, size_t n) {
    ssize_t k = readlink("/proc/self/exe", exe, n - 1);
    if (k <= 0) return 0;
    exe[k] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) return 0;
    snprintf(slash + 1, n - (size_t)(slash + 1 - exe), "deepc");
    return access(exe, X_OK) == 0;
}

int dc_test_run_cli(const char *cmd, char *err, size_t n, const char *err_path) {
    int st = system(cmd);
    err[0] = '\0';
    FILE *f = fopen(err_path, "r");
    if (f) {
        size_t m = fread(err, 1, n - 1, f);
        err[m] = '\0';
        fclose(f);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

dc_det_train_config dc_test_det_overfit_config(const char *model, const char *json, const char *out_dir, int epochs,
                                               int batch, float lr) {
    dc_det_train_config c;
    dc_det_train_config_defaults(&c);
    if (model) c.model = model;
    c.train_json = c.val_json = json;
    c.out_dir = out_dir;
    c.epochs = epochs;
    c.threads = 1; /* tiny batches: no thread hand-offs */
    c.batch = batch;
    c.flip = 0;
    c.weight_decay = 0.0f;
    c.warmup_epochs = 0.0f;
    c.schedule = DC_SCHED_CONSTANT;
    c.optim = dc_optim_defaults(DC_OPTIM_ADAM, lr);
    c.quiet = getenv("DC_TEST_VERBOSE") == NULL;
    c.progress = 0;
    return c;
}
