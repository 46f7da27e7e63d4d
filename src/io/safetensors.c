/* safetensors.c — reads and writes checkpoints in the safetensors format (float32 tensors only).
 * Writing builds the JSON header (names escaped, padded with spaces to a multiple of 8 bytes),
 * writes "<path>.tmp.<pid>", flushes and fsyncs it, then rename()s it over path, so an existing
 * file is replaced only by a complete one; on any failure the temporary file is removed.
 * Reading loads the header and the whole data area into a 64-byte aligned buffer owned by the
 * dc_st_file and validates every entry before returning.  It deliberately does not memory-map,
 * does not convert other dtypes (F16, BF16, ... are reported as unsupported), requires F32
 * tensors to start at a multiple of 4 bytes in the data area, and assumes a little-endian host
 * (checked at compile time): tensor bytes are copied as they are. */
#include "io/safetensors.h"
#include "io/json.h"
#include "io/atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "deepc's safetensors reader/writer assumes a little-endian host"
#endif

#define ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000) /* same limit as the reference implementation */
#define ST_ALIGN 64

/* ------------------------------------------------------------------ helpers */
typedef struct sbuf { char *p; size_t len, cap; int oom; } sbuf;

static void sb_putn(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->len + n + 1) nc *= 2;
        char *p = realloc(b->p, nc);
        if (!p) { b->oom = 1; return; }
        b->p = p;
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}
static void sb_puts(sbuf *b, const char *s) { sb_putn(b, s, strlen(s)); }
static void sb_int(sbuf *b, long long v) {
    char t[32];
    int k = snprintf(t, sizeof t, "%lld", v);
    sb_putn(b, t, (size_t)k);
}
/* A JSON string literal: quotes, backslashes and control characters escaped; UTF-8 passed through
 * (the caller has checked it is well-formed). */
static void sb_json_string(sbuf *b, const char *s) {
    sb_putn(b, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        char t[8];
        switch (*c) {
        case '"': sb_putn(b, "\\\"", 2); break;
        case '\\': sb_putn(b, "\\\\", 2); break;
        case '\n': sb_putn(b, "\\n", 2); break;
        case '\r': sb_putn(b, "\\r", 2); break;
        case '\t': sb_putn(b, "\\t", 2); break;
        case '\b': sb_putn(b, "\\b", 2); break;
        case '\f': sb_putn(b, "\\f", 2); break;
        default:
            if (*c < 0x20) {
                snprintf(t, sizeof t, "\\u%04x", (unsigned)*c);
                sb_putn(b, t, 6);
            } else {
                sb_putn(b, (const char *)c, 1);
            }
        }
    }
    sb_putn(b, "\"", 1);
}

static int cmp_str_ptr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The first name that occurs twice (by sorting a copy), NULL when all differ or on no memory. */
static const char *find_duplicate(const char **names, size_t n, int *nomem) {
    *nomem = 0;
    if (n < 2) return NULL;
    const char **c = malloc(n * sizeof *c);
    if (!c) { *nomem = 1; return NULL; }
    memcpy(c, names, n * sizeof *c);
    qsort(c, n, sizeof *c, cmp_str_ptr);
    const char *dup = NULL;
    for (size_t i = 1; i < n && !dup; i++)
        if (strcmp(c[i - 1], c[i]) == 0) dup = c[i];
    free(c);
    return dup;
}

/* ------------------------------------------------------------------ writing */

dc_status dc_safetensors_write(const char *path, const dc_named_tensor *tensors, int n, const char *const *meta,
                               int n_meta) {
    char sb[96];
    if (!path || !path[0]) return DC_ERR(DC_ERR_ARG, "dc_safetensors_write: path is NULL or empty");
    if (n < 0 || (n > 0 && !tensors))
        return DC_ERR(DC_ERR_ARG, "%s: %d tensors with tensors = %p", path, n, (const void *)tensors);
    if (n_meta < 0 || (n_meta > 0 && !meta))
        return DC_ERR(DC_ERR_ARG, "%s: %d metadata pairs with meta = %p", path, n_meta, (const void *)meta);

    /* Validate everything before touching the disk. */
    for (int i = 0; i < n; i++) {
        const dc_named_tensor *t = &tensors[i];
        if (!t->name || !t->name[0]) return DC_ERR(DC_ERR_ARG, "%s: tensor %d has no name", path, i);
        if (strcmp(t->name, "__metadata__") == 0)
            return DC_ERR(DC_ERR_ARG, "%s: tensor %d may not be called \"__metadata__\"", path, i);
        if (!dc_json_utf8_valid(t->name, strlen(t->name)))
            return DC_ERR(DC_ERR_ARG, "%s: tensor %d's name is not valid UTF-8", path, i);
        if (t->shape.rank < 0 || t->shape.rank > DC_MAX_DIMS)
            return DC_ERR(DC_ERR_ARG, "%s: tensor \"%s\" has rank %d outside 0..%d", path, t->name, t->shape.rank,
                          DC_MAX_DIMS);
        int64_t numel = dc_shape_numel(t->shape);
        if (numel < 0)
            return DC_ERR(DC_ERR_ARG, "%s: tensor \"%s\" has a negative or too large shape %s", path, t->name,
                          dc_shape_str(t->shape, sb, sizeof sb));
        if (numel > 0 && !t->data) return DC_ERR(DC_ERR_ARG, "%s: tensor \"%s\" has no data", path, t->name);
    }
    for (int i = 0; i < 2 * n_meta; i++) {
        if (!meta[i]) return DC_ERR(DC_ERR_ARG, "%s: metadata %s %d is NULL", path, i % 2 ? "value" : "key", i / 2);
        if (!dc_json_utf8_valid(meta[i], strlen(meta[i])))
            return DC_ERR(DC_ERR_ARG, "%s: metadata %s %d is not valid UTF-8", path, i % 2 ? "value" : "key", i / 2);
    }
    size_t nn = (size_t)(n > n_meta ? n : n_meta);
    const char **names = malloc((nn ? nn : 1) * sizeof *names);
    if (!names) return DC_ERR(DC_ERR_NOMEM, "%s: name table", path);
    int nomem1, nomem2;
    for (int i = 0; i < n; i++) names[i] = tensors[i].name;
    const char *dup = find_duplicate(names, (size_t)n, &nomem1);
    const char *dupm = NULL;
    if (!dup) {
        for (int i = 0; i < n_meta; i++) names[i] = meta[2 * i];
        dupm = find_duplicate(names, (size_t)n_meta, &nomem2);
    }
    free(names);
    if (dup) return DC_ERR(DC_ERR_ARG, "%s: two tensors are named \"%s\"", path, dup);
    if (dupm) return DC_ERR(DC_ERR_ARG, "%s: metadata key \"%s\" given twice", path, dupm);
    if (nomem1 || (!dup && nomem2)) return DC_ERR(DC_ERR_NOMEM, "%s: name table", path);

    /* The header. */
    sbuf h = {0};
    uint64_t off = 0;
    sb_puts(&h, "{");
    if (n_meta > 0) {
        sb_puts(&h, "\"__metadata__\":{");
        for (int i = 0; i < n_meta; i++) {
            if (i) sb_puts(&h, ",");
            sb_json_string(&h, meta[2 * i]);
            sb_puts(&h, ":");
            sb_json_string(&h, meta[2 * i + 1]);
        }
        sb_puts(&h, "}");
    }
    for (int i = 0; i < n; i++) {
        const dc_named_tensor *t = &tensors[i];
        uint64_t bytes = (uint64_t)dc_shape_numel(t->shape) * sizeof(float);
        if (i || n_meta > 0) sb_puts(&h, ",");
        sb_json_string(&h, t->name);
        sb_puts(&h, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < t->shape.rank; d++) {
            if (d) sb_puts(&h, ",");
            sb_int(&h, (long long)t->shape.dim[d]);
        }
        sb_puts(&h, "],\"data_offsets\":[");
        sb_int(&h, (long long)off);
        sb_puts(&h, ",");
        sb_int(&h, (long long)(off + bytes));
        sb_puts(&h, "]}");
        off += bytes;
    }
    sb_puts(&h, "}");
    while (!h.oom && h.len % 8 != 0) sb_puts(&h, " ");
    if (h.oom) {
        free(h.p);
        return DC_ERR(DC_ERR_NOMEM, "%s: header of %zu bytes", path, h.len);
    }
    if ((uint64_t)h.len > ST_MAX_HEADER) {
        free(h.p);
        return DC_ERR(DC_ERR_ARG, "%s: header of %zu bytes exceeds the %llu-byte limit readers accept", path, h.len,
                      (unsigned long long)ST_MAX_HEADER);
    }

    /* The file, via a temporary next to it: length, header, tensor bytes. */
    unsigned char lenb[8];
    for (int k = 0; k < 8; k++) lenb[k] = (unsigned char)(((uint64_t)h.len >> (8 * k)) & 0xff);
    dc_chunk *chunks = malloc((size_t)(n + 2) * sizeof *chunks);
    if (!chunks) {
        free(h.p);
        return DC_ERR(DC_ERR_NOMEM, "%s: write list", path);
    }
    chunks[0] = (dc_chunk){lenb, 8};
    chunks[1] = (dc_chunk){h.p, h.len};
    for (int i = 0; i < n; i++)
        chunks[i + 2] = (dc_chunk){tensors[i].data, (size_t)dc_shape_numel(tensors[i].shape) * sizeof(float)};
    dc_status st = dc_file_write_atomic(path, chunks, n + 2);
    free(chunks);
    free(h.p);
    return st;
}

/* ------------------------------------------------------------------ reading */
typedef struct st_entry {
    char *name;
    dc_shape shape;
    uint64_t begin, end;
} st_entry;

struct dc_st_file {
    char *path;
    int n;
    st_entry *e;        /* sorted by data offset */
    st_entry **by_name; /* pointers into e, sorted by name */
    int n_meta;
    char **meta;        /* 2*n_meta: key, value, ... */
    unsigned char *data;
    uint64_t data_size;
};

void dc_st_free(dc_st_file *f) {
    if (!f) return;
    for (int i = 0; i < f->n; i++) free(f->e[i].name);
    for (int i = 0; i < 2 * f->n_meta; i++) free(f->meta[i]);
    free(f->e);
    free(f->by_name);
    free(f->meta);
    free(f->data);
    free(f->path);
    free(f);
}

static int cmp_entry_offset(const void *a, const void *b) {
    const st_entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int cmp_by_name(const void *a, const void *b) {
    return strcmp((*(st_entry *const *)a)->name, (*(st_entry *const *)b)->name);
}

/* Validate one tensor entry (the JSON value v named `name`) into *e. */
static dc_status parse_entry(const char *path, const char *name, const dc_json *v, uint64_t data_size,
                             st_entry *e) {
    size_t at = 8 + v->pos;
    char sb[96];
    if (v->type != DC_JSON_OBJECT)
        return DC_ERR(DC_ERR_FORMAT, "%s: tensor \"%s\" at byte %zu: expected an object, found JSON %s", path, name, at,
                      dc_json_type_name(v->type));
    const dc_json *dt = dc_json_get(v, "dtype"), *sh = dc_json_get(v, "shape"), *of = dc_json_get(v, "data_offsets");
    if (!dt || dt->type != DC_JSON_STRING)
        return DC_ERR(DC_ERR_FORMAT, "%s: tensor \"%s\" at byte %zu: \"dtype\" missing or not a string", path, name,
                      at);
    if (strcmp(dt->str, "F32") != 0)
        return DC_ERR(DC_ERR_FORMAT, "%s: tensor \"%s\" at byte %zu: unsupported dtype \"%s\" (deepc reads F32 only)",
                      path, name, 8 + dt->pos, dt->str);
    if (!sh || sh->type != DC_JSON_ARRAY)
        return DC_ERR(DC_ERR_FORMAT, "%s: tensor \"%s\" at byte %zu: \"shape\" missing or not an array", path, name,
                      at);
    if (sh->count > DC_MAX_DIMS)
        return DC_ERR(DC_ERR_FORMAT, "%s: tensor \"%s\" at byte %zu: rank %zu exceeds deepc's limit of %d", path, name,
                      8 + sh->pos, sh->count, DC_MAX_DIMS);
    e->shape.rank = (int)sh->count;
    for (size_t d = 0; d < sh->count; d++) {
        const dc_json *x = &sh->items[d];
        if (x->type != DC_JSON_NUMBER || !x->is_int || x->integer < 0)
            return DC_ERR(DC_ERR_FORMAT, "%s: tensor \"%s\" at byte %zu: shape entry %zu is not a non-negative integer",
                          path, name, 8 + x->pos, d);
        e->shape.dim[d] = x->integer;
    }
    int64_t numel = dc_shape_numel(e->shape);
    if (numel < 0)
        return DC_ERR(DC_ERR_FORMAT, "%s: tensor \"%s\" at byte %zu: shape %s is too large", path, name, 8 + sh->pos,
                      dc_shape_str(e->shape, sb, sizeof sb));
    if (!of || of->type != DC_JSON_ARRAY || of->count != 2 || of->items[0].type != DC_JSON_NUMBER ||
        of->items[1].type != DC_JSON_NUMBER || !of->items[0].is_int || !of->items[1].is_int ||
        of->items[0].integer < 0 || of->items[1].integer < 0)
        return DC_ERR(DC_ERR_FORMAT,
                      "%s: tensor \"%s\" at byte %zu: \"data_offsets\" missing or not two non-negative integers", path,
                      name, of ? 8 + of->pos : at);
    e->begin = (uint64_t)of->items[0].integer;
    e->end = (uint64_t)of->items[1].integer;
    size_t oat = 8 + of->pos;
    if (e->begin > e->end)
        return DC_ERR(DC_ERR_FORMAT, "%s: tensor \"%s\" at byte %zu: data_offsets [%llu, %llu] end before they begin",
                      path, name, oat, (unsigned long long)e->begin, (unsigned long long)e->end);
    if (e->end > data_size)
        return DC_ERR(DC_ERR_FORMAT,
                      "%s: tensor \"%s\" at byte %zu: data_offsets [%llu, %llu] run past the data area of %llu bytes",
                      path, name, oat, (unsigned long long)e->begin, (unsigned long long)e->end,
                      (unsigned long long)data_size);
    if (e->end - e->begin != (uint64_t)numel * 4u)
        return DC_ERR(DC_ERR_FORMAT,
                      "%s: tensor \"%s\" at byte %zu: shape %s needs %llu bytes of F32 but data_offsets [%llu, %llu] "
                      "cover %llu", path, name, oat, dc_shape_str(e->shape, sb, sizeof sb),
                      (unsigned long long)numel * 4u, (unsigned long long)e->begin, (unsigned long long)e->end,
                      (unsigned long long)(e->end - e->begin));
    if (e->begin % 4 != 0)
        return DC_ERR(DC_ERR_FORMAT, "%s: tensor \"%s\" at byte %zu: data offset %llu is not a multiple of 4 "
                      "(deepc needs aligned F32 data)", path, name, oat, (unsigned long long)e->begin);
    return DC_OK;
}

static dc_status build(dc_st_file *f, const dc_json *root) {
    const char *path = f->path;
    if (root->type != DC_JSON_OBJECT)
        return DC_ERR(DC_ERR_FORMAT, "%s: header at byte %zu is a JSON %s, expected an object", path, 8 + root->pos,
                      dc_json_type_name(root->type));
    size_t nt = 0;
    const dc_json *md = NULL;
    for (size_t k = 0; k < root->count; k++) {
        if (strcmp(root->keys[k], "__metadata__") == 0) {
            if (md)
                return DC_ERR(DC_ERR_FORMAT, "%s: \"__metadata__\" given twice (second at byte %zu)", path,
                              8 + root->items[k].pos);
            md = &root->items[k];
        } else {
            nt++;
        }
    }
    if (nt > (size_t)INT32_MAX) return DC_ERR(DC_ERR_FORMAT, "%s: %zu tensors is too many", path, nt);
    f->e = calloc(nt ? nt : 1, sizeof *f->e);
    f->by_name = malloc((nt ? nt : 1) * sizeof *f->by_name);
    if (!f->e || !f->by_name) return DC_ERR(DC_ERR_NOMEM, "%s: table of %zu tensors", path, nt);
    if (md) {
        if (md->type != DC_JSON_OBJECT)
            return DC_ERR(DC_ERR_FORMAT, "%s: \"__metadata__\" at byte %zu is a %s, expected an object of strings",
                          path, 8 + md->pos, dc_json_type_name(md->type));
        f->meta = calloc(md->count ? 2 * md->count : 1, sizeof *f->meta);
        if (!f->meta) return DC_ERR(DC_ERR_NOMEM, "%s: metadata table", path);
        for (size_t k = 0; k < md->count; k++) {
            if (md->items[k].type != DC_JSON_STRING)
                return DC_ERR(DC_ERR_FORMAT, "%s: metadata \"%s\" at byte %zu is a %s, expected a string", path,
                              md->keys[k], 8 + md->items[k].pos, dc_json_type_name(md->items[k].type));
            f->meta[2 * k] = strdup(md->keys[k]);
            f->meta[2 * k + 1] = strdup(md->items[k].str);
            f->n_meta = (int)k + 1;
            if (!f->meta[2 * k] || !f->meta[2 * k + 1]) return DC_ERR(DC_ERR_NOMEM, "%s: metadata", path);
        }
        int nomem = 0;
        const char **keys = malloc((md->count ? md->count : 1) * sizeof *keys);
        if (!keys) return DC_ERR(DC_ERR_NOMEM, "%s: metadata", path);
        for (size_t k = 0; k < md->count; k++) keys[k] = md->keys[k];
        const char *dup = find_duplicate(keys, md->count, &nomem);
        dc_status st = dup ? DC_ERR(DC_ERR_FORMAT, "%s: metadata key \"%s\" appears twice", path, dup)
                     : nomem ? DC_ERR(DC_ERR_NOMEM, "%s: metadata", path) : DC_OK;
        free(keys);
        DC_TRY(st);
    }
    for (size_t k = 0; k < root->count; k++) {
        if (strcmp(root->keys[k], "__metadata__") == 0) continue;
        st_entry e;
        memset(&e, 0, sizeof e);
        DC_TRY(parse_entry(path, root->keys[k], &root->items[k], f->data_size, &e));
        e.name = strdup(root->keys[k]);
        if (!e.name) return DC_ERR(DC_ERR_NOMEM, "%s: tensor name", path);
        f->e[f->n++] = e;
    }
    qsort(f->e, (size_t)f->n, sizeof *f->e, cmp_entry_offset);
    for (int i = 1; i < f->n; i++)
        if (f->e[i].begin < f->e[i - 1].end)
            return DC_ERR(DC_ERR_FORMAT, "%s: tensors \"%s\" [%llu, %llu] and \"%s\" [%llu, %llu] overlap in the data area",
                          path, f->e[i - 1].name, (unsigned long long)f->e[i - 1].begin,
                          (unsigned long long)f->e[i - 1].end, f->e[i].name, (unsigned long long)f->e[i].begin,
                          (unsigned long long)f->e[i].end);
    for (int i = 0; i < f->n; i++) f->by_name[i] = &f->e[i];
    qsort(f->by_name, (size_t)f->n, sizeof *f->by_name, cmp_by_name);
    for (int i = 1; i < f->n; i++)
        if (strcmp(f->by_name[i]->name, f->by_name[i - 1]->name) == 0)
            return DC_ERR(DC_ERR_FORMAT, "%s: two tensors are named \"%s\"", path, f->by_name[i]->name);
    return DC_OK;
}

dc_status dc_safetensors_read(const char *path, dc_st_file **out) {
    if (!out) return DC_ERR(DC_ERR_ARG, "dc_safetensors_read: out is NULL");
    *out = NULL;
    if (!path) return DC_ERR(DC_ERR_ARG, "dc_safetensors_read: path is NULL");
    FILE *fp = fopen(path, "rb");
    if (!fp) return DC_ERR(DC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    dc_status st = DC_OK;
    char *header = NULL;
    dc_json *root = NULL;
    dc_st_file *f = NULL;
    struct stat sst;
    if (fstat(fileno(fp), &sst) != 0 || !S_ISREG(sst.st_mode)) {
        st = DC_ERR(DC_ERR_IO, "%s: not a regular file", path);
        goto done;
    }
    uint64_t size = (uint64_t)sst.st_size;
    if (size < 8) {
        st = DC_ERR(DC_ERR_FORMAT, "%s: truncated: file is %llu bytes, expected at least the 8-byte header length",
                    path, (unsigned long long)size);
        goto done;
    }
    unsigned char lenb[8];
    if (fread(lenb, 1, 8, fp) != 8) {
        st = DC_ERR(DC_ERR_IO, "%s: cannot read the header length at byte 0", path);
        goto done;
    }
    uint64_t hlen = 0;
    for (int k = 7; k >= 0; k--) hlen = (hlen << 8) | lenb[k];
    if (hlen > size - 8) {
        st = DC_ERR(DC_ERR_FORMAT, "%s: header length %llu at byte 0 runs past the end of the file (%llu bytes)", path,
                    (unsigned long long)hlen, (unsigned long long)size);
        goto done;
    }
    if (hlen > ST_MAX_HEADER) {
        st = DC_ERR(DC_ERR_FORMAT, "%s: header length %llu at byte 0 exceeds the %llu-byte limit", path,
                    (unsigned long long)hlen, (unsigned long long)ST_MAX_HEADER);
        goto done;
    }
    f = calloc(1, sizeof *f);
    header = malloc((size_t)hlen + 1);
    if (!f || !header || !(f->path = strdup(path))) {
        st = DC_ERR(DC_ERR_NOMEM, "%s: header of %llu bytes", path, (unsigned long long)hlen);
        goto done;
    }
    f->data_size = size - 8 - hlen;
    size_t alloc = ((size_t)f->data_size + ST_ALIGN - 1) / ST_ALIGN * ST_ALIGN;
    f->data = aligned_alloc(ST_ALIGN, alloc ? alloc : ST_ALIGN);
    if (!f->data) {
        st = DC_ERR(DC_ERR_NOMEM, "%s: data area of %llu bytes", path, (unsigned long long)f->data_size);
        goto done;
    }
    if (fread(header, 1, (size_t)hlen, fp) != (size_t)hlen ||
        fread(f->data, 1, (size_t)f->data_size, fp) != (size_t)f->data_size) {
        st = DC_ERR(DC_ERR_IO, "%s: short read of a %llu-byte file (did it change while being read?)", path,
                    (unsigned long long)size);
        goto done;
    }
    header[hlen] = '\0';
    size_t epos = 0;
    char emsg[160];
    if (dc_json_parse(header, (size_t)hlen, &root, &epos, emsg, sizeof emsg) != 0) {
        st = DC_ERR(DC_ERR_FORMAT, "%s: invalid JSON header at byte %llu: %s", path, (unsigned long long)(8 + epos),
                    emsg);
        goto done;
    }
    st = build(f, root);
done:
    fclose(fp);
    free(header);
    dc_json_free(root);
    if (st != DC_OK) {
        dc_st_free(f);
        return st;
    }
    *out = f;
    return DC_OK;
}

int dc_st_count(const dc_st_file *f) { return f ? f->n : 0; }

dc_status dc_st_get(const dc_st_file *f, const char *name, dc_shape *shape, const float **data) {
    if (!f || !name) return DC_ERR(DC_ERR_ARG, "dc_st_get: file or name is NULL");
    int lo = 0, hi = f->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        const st_entry *e = f->by_name[mid];
        int c = strcmp(name, e->name);
        if (c == 0) {
            if (shape) *shape = e->shape;
            if (data) *data = (const float *)(const void *)(f->data + e->begin);
            return DC_OK;
        }
        if (c < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return DC_ERR(DC_ERR_ARG, "%s: no tensor named \"%s\" (the file has %d)", f->path, name, f->n);
}

const char *dc_st_name(const dc_st_file *f, int i) {
    if (!f || i < 0 || i >= f->n) return NULL;
    return f->e[i].name;
}

const char *dc_st_meta(const dc_st_file *f, const char *key) {
    if (!f || !key) return NULL;
    for (int i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta[2 * i], key) == 0) return f->meta[2 * i + 1];
    return NULL;
}
