/* args.c — error printing and checked numeric flags shared by the deepc subcommands (cli.h). */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deepc.h"

int dc_cli_fail(const char *cmd) {
    fprintf(stderr, "deepc %s: %s\n", cmd, dc_last_error());
    return 1;
}

int dc_cli_usage(const char *cmd, const char *fmt, const char *arg) {
    fprintf(stderr, "deepc %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see 'deepc %s --help')\n", cmd);
    return 2;
}

int dc_cli_bad(const char *cmd, const char *what, const char *arg) {
    fprintf(stderr, "deepc %s: %s%s%s (see 'deepc %s --help')\n", cmd, what, arg ? " " : "", arg ? arg : "", cmd);
    return 2;
}

int dc_cli_long(const char *cmd, const char *flag, const char *v, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || errno || *end || x < lo || x > hi) {
        fprintf(stderr, "deepc %s: %s needs an integer in %ld..%ld, got '%s'\n", cmd, flag, lo, hi, v ? v : "");
        return 1;
    }
    *out = x;
    return 0;
}

int dc_cli_float(const char *cmd, const char *flag, const char *v, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double x = v ? strtod(v, &end) : 0;
    if (!v || errno || *end || !(x >= lo && x <= hi)) {
        fprintf(stderr, "deepc %s: %s needs a number in [%g, %g], got '%s'\n", cmd, flag, lo, hi, v ? v : "");
        return 1;
    }
    *out = x;
    return 0;
}

int dc_cli_progress_flag(const char *a, int *progress) {
    if (!strcmp(a, "--progress")) *progress = 1;
    else if (!strcmp(a, "--no-progress")) *progress = 0;
    else return 0;
    return 1;
}

int dc_cli_train_flag(const char *cmd, const char *a, const char *v, int min_batch, dc_cli_train_flags *f) {
    long n;
    double x;
    if (!strcmp(a, "--model")) f->model = v;
    else if (!strcmp(a, "--data")) f->data_dir = v;
    else if (!strcmp(a, "--out")) f->out_dir = v;
    else if (!strcmp(a, "--optimizer")) f->optimizer = v;
    else if (!strcmp(a, "--schedule")) {
        if (!strcmp(v, "constant")) f->schedule = DC_SCHED_CONSTANT;
        else if (!strcmp(v, "step")) f->schedule = DC_SCHED_STEP;
        else if (!strcmp(v, "cosine")) f->schedule = DC_SCHED_COSINE;
        else return dc_cli_bad(cmd, "unknown --schedule (constant, step, cosine):", v), -1;
    } else if (!strcmp(a, "--epochs")) { if (dc_cli_long(cmd, a, v, 0, 100000, &n)) return -1; f->epochs = (int)n; }
    else if (!strcmp(a, "--batch")) { if (dc_cli_long(cmd, a, v, min_batch, 4096, &n)) return -1; f->batch = (int)n; }
    else if (!strcmp(a, "--threads")) { if (dc_cli_long(cmd, a, v, 1, 256, &n)) return -1; f->threads = (int)n; }
    else if (!strcmp(a, "--seed")) { if (dc_cli_long(cmd, a, v, 0, 2147483647L, &n)) return -1; f->seed = (uint64_t)n; }
    else if (!strcmp(a, "--limit")) { if (dc_cli_long(cmd, a, v, 1, 2147483647L, &n)) return -1; f->train_limit = n; }
    else if (!strcmp(a, "--val-limit")) { if (dc_cli_long(cmd, a, v, 1, 2147483647L, &n)) return -1; f->val_limit = n; }
    else if (!strcmp(a, "--lr")) { if (dc_cli_float(cmd, a, v, 1e-9, 10.0, &x)) return -1; f->lr = x; }
    else if (!strcmp(a, "--warmup")) { if (dc_cli_float(cmd, a, v, 0.0, 1000.0, &x)) return -1; f->warmup_epochs = (float)x; }
    else if (!strcmp(a, "--weight-decay")) { if (dc_cli_float(cmd, a, v, 0.0, 1.0, &x)) return -1; f->weight_decay = (float)x; }
    else return 0;
    return 1;
}

int dc_cli_train_optim(const char *cmd, const dc_cli_train_flags *f, dc_optim_config *optim) {
    if (!f->out_dir) return dc_cli_bad(cmd, "--out DIR is required", NULL);
    dc_optim_kind kind;
    if (dc_optim_parse(f->optimizer, &kind) != DC_OK) return dc_cli_fail(cmd);
    *optim = dc_optim_defaults(kind, f->lr > 0 ? (float)f->lr : kind == DC_OPTIM_ADAM ? 1e-3f : 1e-2f);
    return 0;
}
