/* test_core.c — status messages, shapes, tensors, arena, RNG and the thread pool. */
#include "test.h"

#include <stdlib.h>

#include <stdatomic.h>
#include <string.h>

TEST(status_message_names_what_and_where) {
    dc_status s = DC_ERR(DC_ERR_SHAPE, "layer %s wants %d", "fc1", 784);
    CHECK(s == DC_ERR_SHAPE);
    CHECK(strstr(dc_last_error(), "fc1") != NULL);
    CHECK(strstr(dc_last_error(), "shape error") != NULL);
    CHECK(strstr(dc_last_error(), "test_core.c") != NULL);
    for (int i = 0; i < DC_STATUS_COUNT; i++) CHECK(dc_status_name((dc_status)i)[0] != '\0');
}

TEST(shape_numel_and_string) {
    char buf[64];
    dc_shape s = dc_shape4(2, 3, 4, 5);
    CHECK(dc_shape_numel(s) == 120);
    CHECK(strcmp(dc_shape_str(s, buf, sizeof buf), "[2, 3, 4, 5]") == 0);
    CHECK(dc_shape_numel(dc_shape2(-1, 3)) == -1);
    CHECK(dc_shape_numel(dc_shape3(1 << 20, 1 << 20, 1 << 20)) == -1); /* overflow guarded */
}

TEST(tensor_create_rejects_absurd_sizes) {
    dc_tensor *t = NULL;
    CHECK_OK(dc_tensor_create(dc_shape2(3, 4), &t));
    CHECK(t && dc_tensor_numel(t) == 12 && t->data[11] == 0.0f);
    dc_tensor_free(t);
    CHECK_ERR(dc_tensor_create(dc_shape3(1 << 20, 1 << 20, 1 << 20), &t), DC_ERR_NOMEM);
    CHECK(t == NULL);
    dc_tensor_free(NULL);
}

TEST(arena_alignment_and_capacity) {
    dc_arena a;
    CHECK_OK(dc_arena_init(&a, 256));
    void *p = dc_arena_alloc(&a, 10), *q = dc_arena_alloc(&a, 100);
    CHECK(p && q && ((uintptr_t)p % 64) == 0 && ((uintptr_t)q % 64) == 0);
    CHECK(dc_arena_alloc(&a, 200) == NULL); /* 64 + 128 used, 64 left */
    dc_arena_release(&a);
}

TEST(rng_reproducible_and_distributed) {
    dc_rng a, b;
    dc_rng_seed(&a, 42);
    dc_rng_seed(&b, 42);
    for (int i = 0; i < 100; i++) CHECK(dc_rng_next(&a) == dc_rng_next(&b));
    dc_rng_seed(&a, 7);
    double sum = 0, sq = 0, usum = 0;
    int n = 200000;
    for (int i = 0; i < n; i++) {
        float z = dc_rng_normal(&a);
        sum += z;
        sq += (double)z * z;
        float u = dc_rng_uniform(&a);
        CHECK(u >= 0.0f && u < 1.0f);
        usum += u;
    }
    CHECK_NEAR(sum / n, 0.0, 0.01);
    CHECK_NEAR(sq / n, 1.0, 0.02);
    CHECK_NEAR(usum / n, 0.5, 0.005);
    int64_t idx[10], seen = 0;
    for (int i = 0; i < 10; i++) idx[i] = i;
    dc_rng_shuffle(&a, idx, 10);
    for (int i = 0; i < 10; i++) seen |= (int64_t)1 << idx[i];
    CHECK(seen == 0x3ff); /* a permutation */
}

typedef struct { atomic_int hits[8]; int64_t sum[8]; } pool_ctx;
static void pool_task(void *vctx, int tid, int n) {
    pool_ctx *c = vctx;
    atomic_fetch_add(&c->hits[tid], 1);
    int64_t lo, hi;
    dc_split_range(1000, n, tid, &lo, &hi);
    for (int64_t i = lo; i < hi; i++) c->sum[tid] += i;
}

TEST(pool_runs_every_thread_once) {
    dc_pool *p = NULL;
    CHECK_OK(dc_pool_create(3, &p));
    CHECK(dc_pool_size(p) == 3);
    for (int rep = 0; rep < 1000; rep++) {
        pool_ctx c;
        memset(&c, 0, sizeof c);
        dc_pool_run(p, pool_task, &c);
        int64_t total = c.sum[0] + c.sum[1] + c.sum[2];
        CHECK(total == 999 * 1000 / 2);
        CHECK(c.hits[0] == 1 && c.hits[1] == 1 && c.hits[2] == 1);
        if (total != 999 * 1000 / 2) break;
    }
    dc_pool_free(p);
    CHECK_ERR(dc_pool_create(-2, &p), DC_ERR_ARG);
    int64_t lo, hi, prev = 0;
    for (int i = 0; i < 7; i++) {
        dc_split_range(100, 7, i, &lo, &hi);
        CHECK(lo == prev && hi - lo >= 14 && hi - lo <= 15);
        prev = hi;
    }
    CHECK(prev == 100);
}

/* The peak-memory probe the training summaries print: at least what was just touched. */
TEST(peak_rss_covers_touched_memory) {
    const size_t n = (size_t)64 << 20;
    unsigned char *p = malloc(n);
    if (!p) return;
    for (size_t i = 0; i < n; i += 4096) p[i] = (unsigned char)i;
    volatile unsigned char sink = p[n / 2];
    (void)sink;
    double mib = dc_peak_rss_mib();
    CHECK_MSG(mib >= 64.0 && mib < 65536.0, "peak RSS %g MiB after touching 64 MiB (in MiB, not KiB)", mib);
    free(p);
}
