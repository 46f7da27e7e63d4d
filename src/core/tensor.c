/* tensor.c — shapes and heap-owned float32 tensors.
 * Graph activations do not use dc_tensor_create: they are views carved from an arena. */
#include "deepc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DC_MAX_NUMEL ((int64_t)1 << 34)

dc_shape dc_shape_make(int rank, const int64_t *dims) {
    dc_shape s;
    memset(&s, 0, sizeof s);
    if (rank < 0) rank = 0;
    if (rank > DC_MAX_DIMS) rank = DC_MAX_DIMS;
    s.rank = rank;
    for (int i = 0; i < rank; i++) s.dim[i] = dims[i];
    return s;
}
dc_shape dc_shape1(int64_t a) { int64_t d[] = {a}; return dc_shape_make(1, d); }
dc_shape dc_shape2(int64_t a, int64_t b) { int64_t d[] = {a, b}; return dc_shape_make(2, d); }
dc_shape dc_shape3(int64_t a, int64_t b, int64_t c) { int64_t d[] = {a, b, c}; return dc_shape_make(3, d); }
dc_shape dc_shape4(int64_t a, int64_t b, int64_t c, int64_t e) {
    int64_t d[] = {a, b, c, e};
    return dc_shape_make(4, d);
}

int64_t dc_shape_numel(dc_shape s) {
    int64_t n = 1;
    for (int i = 0; i < s.rank; i++) {
        if (s.dim[i] < 0) return -1;
        if (s.dim[i] != 0 && n > DC_MAX_NUMEL / s.dim[i]) return -1; /* overflow guard */
        n *= s.dim[i];
    }
    return n;
}

int dc_shape_equal(dc_shape a, dc_shape b) {
    if (a.rank != b.rank) return 0;
    for (int i = 0; i < a.rank; i++)
        if (a.dim[i] != b.dim[i]) return 0;
    return 1;
}

char *dc_shape_str(dc_shape s, char *buf, size_t n) {
    size_t off = 0;
    if (n == 0) return buf;
    buf[0] = '\0';
    off += (size_t)snprintf(buf + off, n - off, "[");
    for (int i = 0; i < s.rank && off < n; i++)
        off += (size_t)snprintf(buf + off, n - off, i ? ", %lld" : "%lld", (long long)s.dim[i]);
    if (off < n) snprintf(buf + off, n - off, "]");
    return buf;
}

dc_status dc_tensor_create(dc_shape shape, dc_tensor **out) {
    char sb[96];
    if (!out) return DC_ERR(DC_ERR_ARG, "dc_tensor_create: out is NULL");
    *out = NULL;
    if (shape.rank < 0 || shape.rank > DC_MAX_DIMS)
        return DC_ERR(DC_ERR_SHAPE, "tensor rank %d outside 0..%d", shape.rank, DC_MAX_DIMS);
    int64_t n = dc_shape_numel(shape);
    if (n < 0)
        return DC_ERR(DC_ERR_NOMEM, "tensor shape %s is negative or too large (limit 2^34 elements)",
                      dc_shape_str(shape, sb, sizeof sb));
    dc_tensor *t = calloc(1, sizeof *t);
    if (!t) return DC_ERR(DC_ERR_NOMEM, "tensor header");
    t->shape = shape;
    t->owned = 1;
    t->data = calloc((size_t)(n ? n : 1), sizeof(float));
    if (!t->data) {
        free(t);
        return DC_ERR(DC_ERR_NOMEM, "tensor %s needs %lld bytes", dc_shape_str(shape, sb, sizeof sb),
                      (long long)n * 4);
    }
    *out = t;
    return DC_OK;
}

void dc_tensor_free(dc_tensor *t) {
    if (!t) return;
    if (t->owned) free(t->data);
    free(t);
}

int64_t dc_tensor_numel(const dc_tensor *t) { return t ? dc_shape_numel(t->shape) : 0; }
