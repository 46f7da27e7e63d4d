/* pool.c — the library's one thread pool.
 *
 * dc_pool_run(fn) runs fn on every thread (the caller is thread 0) and returns when all are done.
 * A training step issues dozens of small parallel regions, so workers first spin on a generation
 * counter (cheap wake-up, microseconds) and only then sleep on a condition variable, so an idle
 * pool does not burn a core.  Work is split by thread index only, never by who finishes first:
 * the same thread count gives bitwise the same results.
 */
#include "deepc.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DC_PAUSE() _mm_pause()
#else
#define DC_PAUSE() ((void)0)
#endif

#define DC_SPIN_ITERS 20000 /* pause-spins before a waiting thread starts yielding          */
#define DC_YIELD_ITERS 2000 /* sched_yield calls before a worker sleeps on the condition var */

typedef struct dc_worker {
    struct dc_pool *pool;
    int tid;
    pthread_t thread;
} dc_worker;

struct dc_pool {
    int n;
    dc_worker *workers;          /* n - 1 of them (thread 0 is the caller) */
    atomic_uint_fast64_t gen;    /* bumped once per dc_pool_run                */
    atomic_int pending;          /* workers still running the current task     */
    atomic_int quit;
    dc_task_fn fn;
    void *ctx;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int sleepers;
};

static void *dc_worker_main(void *arg) {
    dc_worker *w = arg;
    struct dc_pool *p = w->pool;
    uint_fast64_t seen = 0;
    for (;;) {
        uint_fast64_t g;
        int spins = 0;
        while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen) {
            /* Spin, then yield (so an oversubscribed machine still makes progress), then sleep. */
            if (++spins < DC_SPIN_ITERS) {
                DC_PAUSE();
                continue;
            }
            if (spins < DC_SPIN_ITERS + DC_YIELD_ITERS) {
                sched_yield();
                continue;
            }
            pthread_mutex_lock(&p->mu);
            p->sleepers++;
            while (atomic_load(&p->gen) == seen && !atomic_load(&p->quit)) pthread_cond_wait(&p->cv, &p->mu);
            p->sleepers--;
            pthread_mutex_unlock(&p->mu);
            spins = 0;
        }
        seen = g;
        if (atomic_load(&p->quit)) break;
        p->fn(p->ctx, w->tid, p->n);
        atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel);
    }
    return NULL;
}

dc_status dc_pool_create(int nthreads, dc_pool **out) {
    if (!out) return DC_ERR(DC_ERR_ARG, "dc_pool_create: out is NULL");
    *out = NULL;
    if (nthreads == 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        nthreads = c > 0 ? (int)c : 1;
    }
    if (nthreads < 1 || nthreads > 256)
        return DC_ERR(DC_ERR_ARG, "thread count %d outside 1..256", nthreads);
    struct dc_pool *p = calloc(1, sizeof *p);
    if (!p) return DC_ERR(DC_ERR_NOMEM, "thread pool");
    p->n = nthreads;
    atomic_init(&p->gen, 0);
    atomic_init(&p->pending, 0);
    atomic_init(&p->quit, 0);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (nthreads > 1) {
        p->workers = calloc((size_t)nthreads - 1, sizeof *p->workers);
        if (!p->workers) {
            free(p);
            return DC_ERR(DC_ERR_NOMEM, "thread pool workers");
        }
        for (int i = 0; i < nthreads - 1; i++) {
            p->workers[i].pool = p;
            p->workers[i].tid = i + 1;
            if (pthread_create(&p->workers[i].thread, NULL, dc_worker_main, &p->workers[i]) != 0) {
                p->n = i + 1; /* shut down the ones that started */
                dc_pool_free(p);
                return DC_ERR(DC_ERR_NOMEM, "could not start thread %d of %d", i + 1, nthreads);
            }
        }
    }
    *out = p;
    return DC_OK;
}

void dc_pool_free(dc_pool *p) {
    if (!p) return;
    if (p->n > 1) {
        pthread_mutex_lock(&p->mu);
        atomic_store(&p->quit, 1);
        atomic_fetch_add(&p->gen, 1);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        for (int i = 0; i < p->n - 1; i++) pthread_join(p->workers[i].thread, NULL);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->workers);
    free(p);
}

int dc_pool_size(const dc_pool *p) { return p ? p->n : 1; }

void dc_pool_run(dc_pool *p, dc_task_fn fn, void *ctx) {
    if (!p || p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store_explicit(&p->pending, p->n - 1, memory_order_release);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_acq_rel);
    pthread_mutex_lock(&p->mu);
    if (p->sleepers) pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    fn(ctx, 0, p->n);
    for (int spins = 0; atomic_load_explicit(&p->pending, memory_order_acquire) != 0; spins++) {
        if (spins < DC_SPIN_ITERS) DC_PAUSE();
        else sched_yield();
    }
}

void dc_split_range(int64_t n, int parts, int i, int64_t *lo, int64_t *hi) {
    int64_t base = n / parts, rem = n % parts;
    *lo = i * base + (i < rem ? i : rem);
    *hi = *lo + base + (i < rem ? 1 : 0);
}
