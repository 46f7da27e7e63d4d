/* args.c — error printing and checked numeric flags shared by the deepc subcommands (cli.h). */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

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
