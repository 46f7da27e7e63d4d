/* lab.c — the `deepc lab NAME` command: runs one of the curriculum's experiments (src/lab/) and
 * writes its figure (PNG and SVG) and the numbers behind it (CSV) into --out, printing a short
 * table of the key numbers.  It only parses flags and reports; the experiments are library calls. */
#include "deepc.h"
#include "lab/lab.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int dc_cli_lab(int argc, char **argv);

static void lab_help(FILE *f) {
    fprintf(f, "usage: deepc lab NAME [--out DIR] [--seed N] [--data DIR] [--threads N]\n"
               "       deepc lab receptive-field [--channels C] [--input H --kernel K [--stride S] [--pad P]]\n"
               "Run one of the curriculum's experiments: its figure goes to DIR/NAME.png and .svg, the numbers\n"
               "behind it to CSV files in DIR (default lab-NAME/), and a short table to standard output.\n\n"
               "labs:\n");
    for (int i = 0; i < dc_lab_count(); i++) fprintf(f, "  %-19s %s\n", dc_lab_at(i)->name, dc_lab_at(i)->summary);
    fprintf(f, "\noptions:\n"
               "  --out DIR         output directory                                  [lab-NAME]\n"
               "  --seed N          seed of every random draw                         [1]\n"
               "  --data DIR        MNIST-format directory (Fashion-MNIST labs)       [" DC_LAB_DATA "]\n"
               "  --threads N       threads for the training labs   [2 for optimizers-fashion, else 1]\n"
               "  receptive-field only:\n"
               "  --channels C      C for the weight counts of the stacks             [64]\n"
               "  --input H --kernel K --stride S --pad P\n"
               "                    the output size (H + 2P - K)/S + 1 (stride 1 and pad 0 by default);\n"
               "                    an error when the sizes are invalid or the division is not exact\n"
               "See docs/labs.md for what each picture shows.\n");
}

static int lab_usage(const char *fmt, const char *arg) {
    fprintf(stderr, "deepc lab: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see 'deepc lab --help')\n");
    return 2;
}

static int lab_parse_long(const char *flag, const char *v, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || !*v || errno || *end || x < lo || x > hi) {
        fprintf(stderr, "deepc lab: %s needs an integer in %ld..%ld, got '%s'\n", flag, lo, hi, v ? v : "");
        return 1;
    }
    *out = x;
    return 0;
}

int dc_cli_lab(int argc, char **argv) {
    if (argc < 1) {
        lab_help(stderr);
        return 2;
    }
    if (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h") || !strcmp(argv[0], "help")) {
        lab_help(stdout);
        return 0;
    }
    const char *name = argv[0];
    const dc_lab_info *info;
    if (name[0] == '-') return lab_usage("the lab's name comes first, got '%s'", name);
    if (dc_lab_find(name, &info) != DC_OK) {
        fprintf(stderr, "deepc lab: %s (see 'deepc lab --help')\n", dc_last_error());
        return 2;
    }
    dc_lab_opts o;
    dc_lab_opts_defaults(&o);
    o.report = stdout;
    int rf_flags = 0, have_input = 0, have_kernel = 0;
    o.rf_stride = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { lab_help(stdout); return 0; }
        if (!v) return lab_usage("unknown option or missing value: '%s'", a);
        i++;
        if (!strcmp(a, "--out")) o.out_dir = v;
        else if (!strcmp(a, "--data")) o.data_dir = v;
        else if (!strcmp(a, "--seed")) {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(v, &end, 10);
            if (!*v || *v == '-' || errno || *end) {
                fprintf(stderr, "deepc lab: --seed needs a non-negative integer, got '%s'\n", v);
                return 2;
            }
            o.seed = (uint64_t)s;
        } else if (!strcmp(a, "--threads")) {
            if (lab_parse_long("--threads", v, 1, 256, &n)) return 2;
            o.threads = (int)n;
        } else if (!strcmp(a, "--channels")) {
            if (lab_parse_long("--channels", v, 1, 512, &n)) return 2;
            o.rf_channels = (int)n;
            rf_flags++;
        } else if (!strcmp(a, "--input") || !strcmp(a, "--kernel") || !strcmp(a, "--stride") || !strcmp(a, "--pad")) {
            /* Wide ranges here: the library says precisely what is wrong with the sizes. */
            if (lab_parse_long(a, v, -1000000000L, 1000000000L, &n)) return 2;
            if (!strcmp(a, "--input")) { o.rf_input = (int)n; have_input = 1; }
            else if (!strcmp(a, "--kernel")) { o.rf_kernel = (int)n; have_kernel = 1; }
            else if (!strcmp(a, "--stride")) o.rf_stride = (int)n;
            else o.rf_pad = (int)n;
            rf_flags++;
            o.rf_given = 1;
        } else return lab_usage("unknown option '%s'", a);
    }
    if (rf_flags && strcmp(info->name, "receptive-field") != 0)
        return lab_usage("--channels, --input, --kernel, --stride and --pad apply to receptive-field only, not '%s'",
                         info->name);
    if (o.rf_given && (!have_input || !have_kernel))
        return lab_usage("%s", "the output-size formula needs both --input H and --kernel K");
    if (o.rf_given && dc_lab_conv_out(o.rf_input, o.rf_kernel, o.rf_stride, o.rf_pad, NULL) != DC_OK) {
        fprintf(stderr, "deepc lab %s: %s\n", info->name, dc_last_error()); /* before any directory is made */
        return 1;
    }
    char dir[1024];
    if (!o.out_dir) {
        snprintf(dir, sizeof dir, "lab-%s", info->name);
        o.out_dir = dir;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (dc_lab_run(info->name, &o) != DC_OK) {
        fprintf(stderr, "deepc lab %s: %s\n", info->name, dc_last_error());
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    printf("wrote %s/ (figures .png/.svg and .csv) in %.1f s\n", o.out_dir, s);
    return 0;
}
