/* clock.c — the monotonic clock and the peak-memory probe that progress lines and summaries use
 * (never results). */
#include "deepc.h"

#include <sys/resource.h>
#include <time.h>

double dc_clock_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

double dc_peak_rss_mib(void) {
    struct rusage u;
    if (getrusage(RUSAGE_SELF, &u) != 0 || u.ru_maxrss <= 0) return -1.0;
    return (double)u.ru_maxrss / 1024.0; /* Linux reports KiB */
}
