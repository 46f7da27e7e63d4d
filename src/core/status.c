/* status.c — status names and the per-thread error message.
 * The message buffer is thread-local so that concurrent callers do not clobber each other. */
#include "deepc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char dc_err_msg[1024];

static const char *const dc_status_names[] = {
    "ok", "bad argument", "shape error", "I/O error", "format error",
    "out of memory", "numeric error", "state error",
};
_Static_assert(sizeof dc_status_names / sizeof dc_status_names[0] == DC_STATUS_COUNT,
               "one name per dc_status");

const char *dc_status_name(dc_status s) {
    if ((int)s < 0 || s >= DC_STATUS_COUNT) return "unknown status";
    return dc_status_names[s];
}

const char *dc_last_error(void) { return dc_err_msg; }

void dc_error_clear(void) { dc_err_msg[0] = '\0'; }

dc_status dc_error_set(dc_status code, const char *file, int line, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* Strip the directory part of the source path: "graph.c:120" reads better than a full path. */
    const char *base = file ? strrchr(file, '/') : NULL;
    base = base ? base + 1 : (file ? file : "?");
    snprintf(dc_err_msg, sizeof dc_err_msg, "%s: %s [%s:%d]", dc_status_name(code), msg, base, line);
    return code;
}
