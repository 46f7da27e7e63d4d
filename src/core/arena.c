/* arena.c — a bump allocator: one zero-filled, 64-byte aligned block carved into pieces.
 * The graph sizes it once per batch size so a training step never allocates. */
#include "deepc.h"

#include <stdlib.h>
#include <string.h>

#define DC_ALIGN 64

size_t dc_arena_round(size_t bytes) { return (bytes + DC_ALIGN - 1) & ~(size_t)(DC_ALIGN - 1); }

dc_status dc_arena_init(dc_arena *a, size_t bytes) {
    memset(a, 0, sizeof *a);
    size_t sz = dc_arena_round(bytes ? bytes : DC_ALIGN);
    a->base = aligned_alloc(DC_ALIGN, sz);
    if (!a->base) return DC_ERR(DC_ERR_NOMEM, "arena of %zu bytes (lower the batch size)", sz);
    memset(a->base, 0, sz);
    a->size = sz;
    return DC_OK;
}

void *dc_arena_alloc(dc_arena *a, size_t bytes) {
    size_t sz = dc_arena_round(bytes);
    if (!a->base || sz > a->size - a->used) return NULL;
    void *p = a->base + a->used;
    a->used += sz;
    return p;
}

void dc_arena_reset(dc_arena *a) { a->used = 0; }

void dc_arena_release(dc_arena *a) {
    free(a->base);
    memset(a, 0, sizeof *a);
}
