/* deepc.h — the public API of deepc, a deep-learning framework in C11.
 *
 * Everything a program needs to build a network, train it and save it is declared here.
 * Conventions:
 *   - every public symbol starts with dc_ and reads dc_object_verb;
 *   - functions that can fail return a dc_status; DC_OK is 0.  On failure
 *     dc_last_error() returns a message saying what and where (thread-local);
 *   - whoever calls a *_create calls the matching *_free; every *_free accepts NULL;
 *   - tensors are float32, row-major, NCHW, contiguous.
 */
#ifndef DEEPC_H
#define DEEPC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DC_VERSION_MAJOR 0
#define DC_VERSION_MINOR 1
#define DC_VERSION_PATCH 0
#define DC_VERSION_STRING "0.1.0"

/* ------------------------------------------------------------------ status */
typedef enum dc_status {
    DC_OK = 0,
    DC_ERR_ARG,      /* a bad argument: NULL, out of range, unknown name      */
    DC_ERR_SHAPE,    /* shapes that do not fit together                       */
    DC_ERR_IO,       /* a file could not be opened, read or written           */
    DC_ERR_FORMAT,   /* a file's contents are corrupt or of the wrong kind    */
    DC_ERR_NOMEM,    /* an allocation failed                                  */
    DC_ERR_NUMERIC,  /* NaN or Inf where a finite number was needed           */
    DC_ERR_STATE,    /* a call in the wrong order (e.g. run before plan)      */
    DC_STATUS_COUNT
} dc_status;

/* Short name of a status ("shape error", ...). Never NULL. */
const char *dc_status_name(dc_status s);
/* Message of the last error raised on this thread ("" if none). */
const char *dc_last_error(void);
/* Record an error message (printf-style) for this thread and return `code`.
 * Library code uses it through DC_ERR, which adds file:line. */
dc_status dc_error_set(dc_status code, const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
void dc_error_clear(void);
#define DC_ERR(code, ...) dc_error_set((code), __FILE__, __LINE__, __VA_ARGS__)
/* Propagate a failing status unchanged. */
#define DC_TRY(expr) do { dc_status dc_try_s_ = (expr); if (dc_try_s_ != DC_OK) return dc_try_s_; } while (0)

/* ------------------------------------------------------------------ tensor */
#define DC_MAX_DIMS 5

typedef struct dc_shape {
    int rank;                 /* 0..DC_MAX_DIMS                         */
    int64_t dim[DC_MAX_DIMS]; /* dim[0] is the batch axis where present */
} dc_shape;

dc_shape dc_shape_make(int rank, const int64_t *dims);
dc_shape dc_shape1(int64_t a);
dc_shape dc_shape2(int64_t a, int64_t b);
dc_shape dc_shape3(int64_t a, int64_t b, int64_t c);
dc_shape dc_shape4(int64_t a, int64_t b, int64_t c, int64_t d);
int64_t dc_shape_numel(dc_shape s);
int dc_shape_equal(dc_shape a, dc_shape b);
/* Writes "[a, b, c]" into buf (always NUL-terminated); returns buf. */
char *dc_shape_str(dc_shape s, char *buf, size_t n);

typedef struct dc_tensor {
    dc_shape shape;
    float *data;   /* numel floats; owned if `owned` != 0, else a view     */
    int owned;
} dc_tensor;

/* Allocate a zero-filled tensor. Fails with DC_ERR_SHAPE on a bad shape and
 * DC_ERR_NOMEM on absurd sizes (more than 2^34 elements). */
dc_status dc_tensor_create(dc_shape shape, dc_tensor **out);
void dc_tensor_free(dc_tensor *t);
int64_t dc_tensor_numel(const dc_tensor *t);

/* ------------------------------------------------------------------ arena */
/* A bump allocator: one block, carved into 64-byte aligned pieces, freed at once. */
typedef struct dc_arena {
    unsigned char *base;
    size_t size, used;
} dc_arena;
dc_status dc_arena_init(dc_arena *a, size_t bytes);     /* zero-filled block */
void *dc_arena_alloc(dc_arena *a, size_t bytes);         /* NULL when full    */
void dc_arena_reset(dc_arena *a);
void dc_arena_release(dc_arena *a);
/* Bytes that dc_arena_alloc needs for `bytes` (rounded to the alignment). */
size_t dc_arena_round(size_t bytes);

/* ------------------------------------------------------------------ rng */
/* A seeded generator (xoshiro256**, seeded by splitmix64).  Same seed, same stream. */
typedef struct dc_rng { uint64_t s[4]; } dc_rng;
void dc_rng_seed(dc_rng *r, uint64_t seed);
uint64_t dc_rng_next(dc_rng *r);
/* Uniform in [0, 1) with 24 random bits. */
float dc_rng_uniform(dc_rng *r);
/* Standard normal (Box–Muller, no cached second value: each call is independent of call parity). */
float dc_rng_normal(dc_rng *r);
/* Uniform integer in [0, n), unbiased. n > 0. */
uint64_t dc_rng_below(dc_rng *r, uint64_t n);
/* Fisher–Yates shuffle of idx[0..n). */
void dc_rng_shuffle(dc_rng *r, int64_t *idx, int64_t n);

/* ------------------------------------------------------------------ threads */
/* One pool for the whole library; the calling thread is worker 0. */
typedef struct dc_pool dc_pool;
typedef void (*dc_task_fn)(void *ctx, int tid, int nthreads);
/* nthreads >= 1 (1 = no extra threads). 0 means "number of online CPUs". */
dc_status dc_pool_create(int nthreads, dc_pool **out);
void dc_pool_free(dc_pool *p);
int dc_pool_size(const dc_pool *p);   /* 1 when p is NULL */
/* Run fn(ctx, tid, n) once on each of the n threads and wait for all.
 * p may be NULL: then fn(ctx, 0, 1) runs on the caller. Not re-entrant. */
void dc_pool_run(dc_pool *p, dc_task_fn fn, void *ctx);
/* Split [0, n) into `parts` near-equal contiguous ranges; range `i` is [*lo, *hi). */
void dc_split_range(int64_t n, int parts, int i, int64_t *lo, int64_t *hi);

#ifdef __cplusplus
}
#endif
#endif /* DEEPC_H */
