/* main.c — the test runner: runs every registered test (or those whose name contains argv[1])
 * and ends with the line "N passed, N failed".  Exit status 1 when any test failed. */
#include "test.h"
#include "data/data.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DC_MAX_TESTS 1024

typedef struct { const char *name, *file; dc_test_fn fn; } dc_test_entry;
static dc_test_entry tests[DC_MAX_TESTS];
static int ntests;
static int current_failures;
static char current_skip[256];

void dc_test_register(const char *name, const char *file, dc_test_fn fn) {
    if (ntests < DC_MAX_TESTS) tests[ntests++] = (dc_test_entry){name, file, fn};
}

void dc_test_fail(const char *file, int line, const char *fmt, ...) {
    const char *base = strrchr(file, '/');
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "    FAIL %s:%d: ", base ? base + 1 : file, line);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    current_failures++;
}

const char *dc_test_data_dir(void) {
    const char *d = getenv("DC_DATA");
    return d && *d ? d : "/usr/share/datasets/fashion-mnist";
}

void dc_test_skip(const char *why) { snprintf(current_skip, sizeof current_skip, "%s", why); }

int dc_test_need_data(void) {
    static int have = -1;
    if (have < 0) {
        dc_dataset *ds = NULL;
        have = dc_mnist_load(dc_test_data_dir(), "test", 0.0f, 1.0f, 1, &ds) == DC_OK;
        dc_dataset_free(ds);
        dc_error_clear();
    }
    if (!have) {
        char why[200];
        snprintf(why, sizeof why, "no readable Fashion-MNIST in %s (install dataset-fashion-mnist and zlib, or set DC_DATA)",
                 dc_test_data_dir());
        dc_test_skip(why);
    }
    return have;
}

const char *dc_test_tmp_dir(void) {
    static char dir[256];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/deepc-test-XXXXXX");
        if (!mkdtemp(dir)) snprintf(dir, sizeof dir, "/tmp");
    }
    return dir;
}

int dc_test_files_equal(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int eq = fa && fb;
    while (eq) {
        int ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb) eq = 0;
        if (ca == EOF || cb == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return eq;
}

static int cmp_entry(const void *a, const void *b) {
    const dc_test_entry *x = a, *y = b;
    int c = strcmp(x->file, y->file);
    return c ? c : strcmp(x->name, y->name);
}

int main(int argc, char **argv) {
    const char *filter = argc > 1 ? argv[1] : NULL;
    int passed = 0, failed = 0, skipped = 0;
    qsort(tests, (size_t)ntests, sizeof tests[0], cmp_entry);
    for (int i = 0; i < ntests; i++) {
        if (filter && !strstr(tests[i].name, filter) && !strstr(tests[i].file, filter)) continue;
        current_failures = 0;
        current_skip[0] = 0;
        dc_error_clear();
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        tests[i].fn();
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
        const char *base = strrchr(tests[i].file, '/');
        const char *status = current_failures ? "FAIL" : current_skip[0] ? "skip" : "ok";
        printf("%-4s %-28s %-40s %8.1f ms\n", status, base ? base + 1 : tests[i].file, tests[i].name, ms);
        if (!current_failures && current_skip[0]) printf("     (skipped: %s)\n", current_skip);
        fflush(stdout);
        if (current_failures) failed++;
        else if (current_skip[0]) skipped++;
        else passed++;
    }
    if (skipped) printf("%d skipped\n", skipped);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
