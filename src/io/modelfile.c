/* modelfile.c — model files: a network definition as text (sections `[type]` of `key = value`
 * lines, see docs/model-format.md), read into a graph through the public layer builders, and a
 * graph's layers written back out so that reading them gives the same nodes, names and parameters.
 *
 * Reading is two passes: the whole text is parsed and checked first (sections, keys, numbers,
 * names, `from` references), so a file with a mistake leaves the graph untouched; then each section
 * calls its builder, and a builder's error (a shape that does not fit) is re-raised with file:line.
 * Writing walks the nodes the logits depend on, in creation order, and maps each node's op and
 * attributes back to a section, writing only what differs from the defaults.
 *
 * What it does not do: losses, auxiliary heads, optimizer or training settings, parameter values
 * (checkpoints hold those), include files or variables; it never prints and never exits. */
#include "io/modelfile.h"

#include "graph/graph.h"
#include "io/atomic.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------- the layer types */

enum {
    T_LINEAR, T_CONV2D, T_RELU, T_SIGMOID, T_TANH, T_SOFTMAX, T_DROPOUT, T_BATCHNORM, T_MAXPOOL, T_AVGPOOL,
    T_GLOBAL_AVGPOOL, T_LRN, T_FLATTEN, T_RESHAPE, T_ADD, T_CONCAT, T_DECONV, T_COUNT
};

typedef struct layer_type {
    const char *type;   /* the section name                                            */
    dc_op op;
    const char *prefix; /* the builder's default name prefix ("fc" -> fc1, fc2, ...)   */
    const char *keys;   /* valid keys besides name and from, space-separated            */
} layer_type;

#define POOL_KEYS "kernel kernel_h kernel_w stride stride_h stride_w pad pad_h pad_w ceil_mode"
static const layer_type types[T_COUNT] = {
    [T_LINEAR] = {"linear", DC_OP_LINEAR, "fc", "units bias init init_value"},
    [T_CONV2D] = {"conv2d", DC_OP_CONV2D, "conv",
                  "filters kernel kernel_h kernel_w stride stride_h stride_w pad pad_h pad_w dilation dilation_h "
                  "dilation_w groups bias init init_value"},
    [T_RELU] = {"relu", DC_OP_RELU, "relu", ""},
    [T_SIGMOID] = {"sigmoid", DC_OP_SIGMOID, "sigmoid", ""},
    [T_TANH] = {"tanh", DC_OP_TANH, "tanh", ""},
    [T_SOFTMAX] = {"softmax", DC_OP_SOFTMAX, "softmax", ""},
    [T_DROPOUT] = {"dropout", DC_OP_DROPOUT, "dropout", "p"},
    [T_BATCHNORM] = {"batchnorm", DC_OP_BATCHNORM, "bn", "eps momentum"},
    [T_MAXPOOL] = {"maxpool", DC_OP_MAXPOOL2D, "pool", POOL_KEYS},
    [T_AVGPOOL] = {"avgpool", DC_OP_AVGPOOL2D, "avgpool", POOL_KEYS " count_include_pad"},
    [T_GLOBAL_AVGPOOL] = {"global_avgpool", DC_OP_GLOBAL_AVGPOOL, "gap", ""},
    [T_LRN] = {"lrn", DC_OP_LRN, "lrn", "size alpha beta k"},
    [T_FLATTEN] = {"flatten", DC_OP_RESHAPE, "reshape", ""},
    [T_RESHAPE] = {"reshape", DC_OP_RESHAPE, "reshape", "shape"},
    [T_ADD] = {"add", DC_OP_ADD, "add", ""},
    [T_CONCAT] = {"concat", DC_OP_CONCAT, "concat", ""},
    [T_DECONV] = {"conv_transpose2d", DC_OP_CONV_TRANSPOSE2D, "deconv",
                  "filters kernel kernel_h kernel_w stride stride_h stride_w pad pad_h pad_w output_pad output_pad_h "
                  "output_pad_w dilation dilation_h dilation_w groups bias init init_value"},
};
#define NET_KEYS "name channels height width shape classes output"
#define COMMON_KEYS "name from"
#define INPUT_REF "input" /* `from = input`: the network input */

/* Defaults the reader applies and the writer leaves out. */
#define BN_EPS 1e-5f
#define BN_MOMENTUM 0.1f
#define DROPOUT_P 0.5f
#define LRN_ALPHA 1e-4f
#define LRN_BETA 0.75f
#define LRN_K 1.0f

/* Is `word` one of the space-separated words of `list`? */
static int in_list(const char *list, const char *word) {
    size_t n = strlen(word);
    for (const char *p = list; *p;) {
        while (*p == ' ') p++;
        const char *e = p;
        while (*e && *e != ' ') e++;
        if ((size_t)(e - p) == n && n && strncmp(p, word, n) == 0) return 1;
        p = e;
    }
    return 0;
}

/* "a b c" -> "a, b, c" into buf. */
static void list_commas(const char *list, char *buf, size_t n) {
    size_t k = 0;
    for (const char *p = list; *p && k + 1 < n; p++) {
        if (*p == ' ') {
            if (k + 2 < n) { buf[k++] = ','; buf[k++] = ' '; }
        } else {
            buf[k++] = *p;
        }
    }
    buf[k < n ? k : n - 1] = '\0';
}

/* ---------------------------------------------------------------- errors */

static const char *org(const char *origin) { return origin ? origin : "<text>"; }

static dc_status ferr(dc_status code, const char *origin, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static dc_status ferr(dc_status code, const char *origin, int line, const char *fmt, ...) {
    char msg[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return DC_ERR(code, "%s:%d: %s", org(origin), line, msg);
}

/* ---------------------------------------------------------------- the parser */

typedef struct kv { const char *key, *val; int line; } kv;
typedef struct section {
    const char *type; /* "net" or a layer type                 */
    int t;            /* index into types[], -1 for [net]       */
    int line;
    int kv0, n_kv;    /* its keys: P->kv[kv0 .. kv0 + n_kv)     */
} section;

typedef struct parser {
    const char *origin;
    char *buf;
    kv *kv;
    int n_kv, cap_kv;
    section *sec;
    int n_sec, cap_sec;
} parser;

static void parser_free(parser *P) {
    free(P->buf);
    free(P->kv);
    free(P->sec);
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) s[--n] = '\0';
    return s;
}

static int key_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }

static dc_status parse_text(parser *P, const char *text) {
    size_t len = strlen(text);
    P->buf = malloc(len + 1);
    if (!P->buf) return DC_ERR(DC_ERR_NOMEM, "%s: model text of %zu bytes", org(P->origin), len);
    memcpy(P->buf, text, len + 1);
    int line = 0;
    char *start = P->buf;
    if (len >= 3 && memcmp(start, "\xEF\xBB\xBF", 3) == 0) start += 3; /* a UTF-8 byte-order mark */
    for (char *p = start; p;) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        char *s = p;
        p = nl ? nl + 1 : NULL;
        line++;
        char *hash = strchr(s, '#');
        if (hash) *hash = '\0';
        s = trim(s);
        if (!*s || *s == ';') continue;
        if (*s == '[') {
            char *close = strchr(s, ']');
            if (!close || trim(close + 1)[0])
                return ferr(DC_ERR_FORMAT, P->origin, line, "a section header is `[type]` alone on its line, got '%s'", s);
            *close = '\0';
            char *type = trim(s + 1);
            int t = -1;
            if (strcmp(type, "net") == 0) {
                if (P->n_sec > 0)
                    return ferr(DC_ERR_FORMAT, P->origin, line, "[net] must be the first section (and appear once)");
            } else {
                for (int i = 0; i < T_COUNT && t < 0; i++)
                    if (strcmp(type, types[i].type) == 0) t = i;
                if (t < 0) {
                    char known[512] = "net";
                    for (int i = 0; i < T_COUNT; i++) {
                        strncat(known, ", ", sizeof known - strlen(known) - 1);
                        strncat(known, types[i].type, sizeof known - strlen(known) - 1);
                    }
                    return ferr(DC_ERR_FORMAT, P->origin, line, "unknown section [%s] (known: %s)", type, known);
                }
            }
            if (P->n_sec == P->cap_sec) {
                int cap = P->cap_sec ? 2 * P->cap_sec : 64;
                section *ns = realloc(P->sec, (size_t)cap * sizeof *ns);
                if (!ns) return DC_ERR(DC_ERR_NOMEM, "%s: sections", org(P->origin));
                P->sec = ns;
                P->cap_sec = cap;
            }
            P->sec[P->n_sec++] = (section){type, t, line, P->n_kv, 0};
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) return ferr(DC_ERR_FORMAT, P->origin, line, "expected `key = value` or `[type]`, got '%s'", s);
        *eq = '\0';
        char *key = trim(s), *val = trim(eq + 1);
        int ok = *key != '\0';
        for (const char *c = key; *c; c++) ok &= key_char(*c);
        if (!ok) return ferr(DC_ERR_FORMAT, P->origin, line, "bad key '%s' (keys are lower-case words like units)", key);
        if (P->n_sec == 0)
            return ferr(DC_ERR_FORMAT, P->origin, line, "key '%s' before the first section ([net] or a layer)", key);
        section *sec = &P->sec[P->n_sec - 1];
        const char *valid = sec->t < 0 ? NET_KEYS : types[sec->t].keys;
        if (!in_list(valid, key) && (sec->t < 0 || !in_list(COMMON_KEYS, key))) {
            char all[512], list[480];
            snprintf(all, sizeof all, "%s%s%s", sec->t < 0 ? "" : COMMON_KEYS, sec->t < 0 || !*valid ? "" : " ", valid);
            list_commas(all, list, sizeof list);
            return ferr(DC_ERR_FORMAT, P->origin, line, "unknown key '%s' in [%s] (valid keys: %s)", key, sec->type, list);
        }
        if (!*val) return ferr(DC_ERR_FORMAT, P->origin, line, "key '%s' has no value", key);
        for (int i = sec->kv0; i < sec->kv0 + sec->n_kv; i++)
            if (strcmp(P->kv[i].key, key) == 0)
                return ferr(DC_ERR_FORMAT, P->origin, line, "key '%s' given twice in [%s] (first at line %d)", key,
                            sec->type, P->kv[i].line);
        if (P->n_kv == P->cap_kv) {
            int cap = P->cap_kv ? 2 * P->cap_kv : 128;
            kv *nk = realloc(P->kv, (size_t)cap * sizeof *nk);
            if (!nk) return DC_ERR(DC_ERR_NOMEM, "%s: keys", org(P->origin));
            P->kv = nk;
            P->cap_kv = cap;
        }
        P->kv[P->n_kv++] = (kv){key, val, line};
        sec->n_kv++;
    }
    return DC_OK;
}

/* ---------------------------------------------------------------- values */

static const kv *find_kv(const parser *P, const section *s, const char *key) {
    for (int i = s->kv0; i < s->kv0 + s->n_kv; i++)
        if (strcmp(P->kv[i].key, key) == 0) return &P->kv[i];
    return NULL;
}

static int parse_int(const char *s, long long lo, long long hi, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno == ERANGE || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

static dc_status int_value(const parser *P, const kv *k, int *out) {
    long long v;
    if (!parse_int(k->val, INT_MIN, INT_MAX, &v))
        return ferr(DC_ERR_FORMAT, P->origin, k->line, "bad number '%s' for %s (want an integer)", k->val, k->key);
    *out = (int)v;
    return DC_OK;
}

/* An integer key, `def` when absent. */
static dc_status get_int(const parser *P, const section *s, const char *key, int def, int *out) {
    const kv *k = find_kv(P, s, key);
    *out = def;
    return k ? int_value(P, k, out) : DC_OK;
}

static dc_status get_float(const parser *P, const section *s, const char *key, float def, float *out) {
    const kv *k = find_kv(P, s, key);
    *out = def;
    if (!k) return DC_OK;
    char *end;
    float v = strtof(k->val, &end);
    if (end == k->val || *end || !isfinite(v))
        return ferr(DC_ERR_FORMAT, P->origin, k->line, "bad number '%s' for %s (want a finite number)", k->val, k->key);
    *out = v;
    return DC_OK;
}

static dc_status get_bool(const parser *P, const section *s, const char *key, int def, int *out) {
    const kv *k = find_kv(P, s, key);
    *out = def;
    if (!k) return DC_OK;
    if (!strcmp(k->val, "1") || !strcmp(k->val, "true") || !strcmp(k->val, "yes")) *out = 1;
    else if (!strcmp(k->val, "0") || !strcmp(k->val, "false") || !strcmp(k->val, "no")) *out = 0;
    else return ferr(DC_ERR_FORMAT, P->origin, k->line, "bad value '%s' for %s (want 0 or 1)", k->val, k->key);
    return DC_OK;
}

/* A required width (units, filters): a positive integer or `classes` (*classes = 1). */
static dc_status get_units(const parser *P, const section *s, const char *key, int64_t *out, int *classes) {
    const kv *k = find_kv(P, s, key);
    *classes = 0;
    if (!k) return ferr(DC_ERR_FORMAT, P->origin, s->line, "[%s] needs %s = N (or %s = classes)", s->type, key, key);
    if (strcmp(k->val, "classes") == 0) {
        *classes = 1;
        return DC_OK;
    }
    long long v;
    if (!parse_int(k->val, 1, 1 << 24, &v))
        return ferr(DC_ERR_FORMAT, P->origin, k->line, "bad number '%s' for %s (want 1..16777216 or classes)", k->val,
                    key);
    *out = v;
    return DC_OK;
}

/* `base` for both axes, or `base_h` and `base_w`; `def` for an axis not given. */
static dc_status get_pair(const parser *P, const section *s, const char *base, int def, int required, int *h, int *w) {
    char kh[32], kw[32];
    snprintf(kh, sizeof kh, "%s_h", base);
    snprintf(kw, sizeof kw, "%s_w", base);
    const kv *b = find_kv(P, s, base), *a = find_kv(P, s, kh), *c = find_kv(P, s, kw);
    if (b && (a || c))
        return ferr(DC_ERR_FORMAT, P->origin, (a ? a : c)->line, "give either %s or %s/%s, not both", base, kh, kw);
    if (required && !b && !(a && c))
        return ferr(DC_ERR_FORMAT, P->origin, s->line, "[%s] needs %s = N (or both %s and %s)", s->type, base, kh, kw);
    if (b) {
        DC_TRY(int_value(P, b, h));
        *w = *h;
        return DC_OK;
    }
    DC_TRY(get_int(P, s, kh, def, h));
    return get_int(P, s, kw, def, w);
}

/* Split a comma-separated list in place (the value strings are ours). */
static int split_list(char *v, char **items, int max) {
    int n = 0;
    for (char *p = v;;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = '\0';
        if (n == max) return max + 1;
        items[n++] = trim(p);
        if (!comma) break;
        p = comma + 1;
    }
    return n;
}

static int name_ok(const char *s) {
    if (!*s) return 0;
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c <= ' ' || strchr(",#;=[]", *c) || (unsigned char)*c >= 127) return 0;
    return 1;
}

static dc_status get_name(const parser *P, const kv *k, char *out, size_t n) {
    if (!name_ok(k->val))
        return ferr(DC_ERR_FORMAT, P->origin, k->line, "bad %s '%s' (no spaces or any of , # ; = [ ])", k->key, k->val);
    if (strlen(k->val) >= n)
        return ferr(DC_ERR_FORMAT, P->origin, k->line, "%s '%s' is longer than %zu characters", k->key, k->val, n - 1);
    snprintf(out, n, "%s", k->val);
    return DC_OK;
}

/* A list of 1..DC_MAX_DIMS-1 positive integers (a sample shape). */
static dc_status get_shape(const parser *P, const kv *k, dc_shape *out) {
    char tmp[256], *items[DC_MAX_DIMS];
    if (strlen(k->val) >= sizeof tmp) return ferr(DC_ERR_FORMAT, P->origin, k->line, "%s is too long", k->key);
    snprintf(tmp, sizeof tmp, "%s", k->val);
    int n = split_list(tmp, items, DC_MAX_DIMS - 1);
    if (n > DC_MAX_DIMS - 1)
        return ferr(DC_ERR_FORMAT, P->origin, k->line, "%s '%s' has more than %d dimensions", k->key, k->val,
                    DC_MAX_DIMS - 1);
    int64_t d[DC_MAX_DIMS];
    for (int i = 0; i < n; i++) {
        long long v;
        if (!parse_int(items[i], 1, INT_MAX, &v))
            return ferr(DC_ERR_FORMAT, P->origin, k->line, "bad number '%s' in %s (want positive integers a, b, c)",
                        items[i], k->key);
        d[i] = v;
    }
    *out = dc_shape_make(n, d);
    return DC_OK;
}

/* ---------------------------------------------------------------- [net] */

typedef struct net_lines { int input, classes, output; } net_lines;

static dc_status parse_net(const parser *P, dc_model_header *h, net_lines *ln) {
    memset(h, 0, sizeof *h);
    memset(ln, 0, sizeof *ln);
    if (P->n_sec == 0 || P->sec[0].t >= 0) return DC_OK;
    const section *s = &P->sec[0];
    const kv *k;
    if ((k = find_kv(P, s, "name"))) DC_TRY(get_name(P, k, h->name, sizeof h->name));
    if ((k = find_kv(P, s, "output"))) {
        DC_TRY(get_name(P, k, h->output, sizeof h->output));
        ln->output = k->line;
    }
    if ((k = find_kv(P, s, "classes"))) {
        long long v;
        if (!parse_int(k->val, 1, 1 << 24, &v))
            return ferr(DC_ERR_FORMAT, P->origin, k->line, "bad number '%s' for classes (want 1..16777216)", k->val);
        h->classes = (int)v;
        ln->classes = k->line;
    }
    const kv *c = find_kv(P, s, "channels"), *hh = find_kv(P, s, "height"), *w = find_kv(P, s, "width");
    const kv *sh = find_kv(P, s, "shape");
    if (sh && (c || hh || w))
        return ferr(DC_ERR_FORMAT, P->origin, sh->line, "give either shape or channels/height/width, not both");
    if (sh) {
        DC_TRY(get_shape(P, sh, &h->input));
        ln->input = sh->line;
    } else if (c || hh || w) {
        if (!(c && hh && w))
            return ferr(DC_ERR_FORMAT, P->origin, (c ? c : hh ? hh : w)->line,
                        "[net] needs all of channels, height and width (or shape = ...)");
        int64_t d[3];
        const kv *ks[3] = {c, hh, w};
        for (int i = 0; i < 3; i++) {
            long long v;
            if (!parse_int(ks[i]->val, 1, INT_MAX, &v))
                return ferr(DC_ERR_FORMAT, P->origin, ks[i]->line, "bad number '%s' for %s (want a positive integer)",
                            ks[i]->val, ks[i]->key);
            d[i] = v;
        }
        h->input = dc_shape3(d[0], d[1], d[2]);
        ln->input = c->line;
    }
    return DC_OK;
}

/* ---------------------------------------------------------------- layer specs */

typedef struct spec {
    int t, line;                 /* type, line of the section header                         */
    char name[DC_NAME_MAX];      /* the name the node will have (given or the default)        */
    int named;                   /* 1: given by `name =`                                      */
    int name_line;
    char from_names[DC_MAX_INPUTS][DC_NAME_MAX];
    int n_from, from_line;
    int in[DC_MAX_INPUTS], n_in; /* resolved inputs: spec index, or -1 for the network input  */
    int64_t units;               /* linear units, conv filters                                */
    int units_classes, units_line;
    int bias;
    dc_init init;
    float init_value;
    dc_conv2d_opts conv;
    dc_conv_transpose2d_opts deconv;
    dc_pool2d_opts pool;
    float p, eps, momentum, alpha, beta, k;
    int size;
    dc_shape shape;
} spec;

static dc_status get_init(const parser *P, const section *s, spec *L) {
    const kv *k = find_kv(P, s, "init");
    L->init = DC_INIT_DEFAULT;
    if (k) {
        int found = 0;
        for (int i = 0; i < DC_INIT_COUNT && !found; i++)
            if (strcmp(k->val, dc_init_name((dc_init)i)) == 0) {
                L->init = (dc_init)i;
                found = 1;
            }
        if (!found)
            return ferr(DC_ERR_FORMAT, P->origin, k->line, "unknown init '%s' (default, xavier, he, normal, const)",
                        k->val);
    }
    return get_float(P, s, "init_value", 0.0f, &L->init_value);
}

static dc_status parse_spec(const parser *P, const section *s, spec *L) {
    memset(L, 0, sizeof *L);
    L->t = s->t;
    L->line = s->line;
    const kv *k;
    if ((k = find_kv(P, s, "name"))) {
        DC_TRY(get_name(P, k, L->name, sizeof L->name));
        if (strcmp(L->name, INPUT_REF) == 0)
            return ferr(DC_ERR_FORMAT, P->origin, k->line, "the name '" INPUT_REF "' is reserved for the network input");
        L->named = 1;
        L->name_line = k->line;
    }
    if ((k = find_kv(P, s, "from"))) {
        char tmp[DC_MAX_INPUTS * DC_NAME_MAX + 64], *items[DC_MAX_INPUTS];
        if (strlen(k->val) >= sizeof tmp)
            return ferr(DC_ERR_FORMAT, P->origin, k->line, "from list is too long");
        snprintf(tmp, sizeof tmp, "%s", k->val);
        int n = split_list(tmp, items, DC_MAX_INPUTS);
        if (n > DC_MAX_INPUTS)
            return ferr(DC_ERR_FORMAT, P->origin, k->line, "from lists more than %d layers", DC_MAX_INPUTS);
        for (int i = 0; i < n; i++) {
            kv one = {"from", items[i], k->line};
            DC_TRY(get_name(P, &one, L->from_names[i], DC_NAME_MAX));
        }
        L->n_from = n;
        L->from_line = k->line;
        int max = L->t == T_CONCAT ? DC_MAX_INPUTS : L->t == T_ADD ? 2 : 1;
        if (n > max)
            return ferr(DC_ERR_FORMAT, P->origin, k->line, "[%s] takes %s, from lists %d", s->type,
                        max == 1 ? "one input" : "two inputs", n);
    } else if (L->t == T_ADD) {
        return ferr(DC_ERR_FORMAT, P->origin, s->line,
                    "[add] needs from = NAME (added to the previous layer) or from = A, B");
    }
    switch (L->t) {
    case T_LINEAR:
        DC_TRY(get_units(P, s, "units", &L->units, &L->units_classes));
        DC_TRY(get_bool(P, s, "bias", 1, &L->bias));
        DC_TRY(get_init(P, s, L));
        break;
    case T_CONV2D:
    case T_DECONV: { /* the same keys; a transposed convolution adds output_pad */
        dc_conv2d_opts *o = &L->conv;
        DC_TRY(get_units(P, s, "filters", &L->units, &L->units_classes));
        DC_TRY(get_pair(P, s, "kernel", 0, 1, &o->kh, &o->kw));
        DC_TRY(get_pair(P, s, "stride", 1, 0, &o->stride_h, &o->stride_w));
        DC_TRY(get_pair(P, s, "pad", 0, 0, &o->pad_h, &o->pad_w));
        DC_TRY(get_pair(P, s, "dilation", 1, 0, &o->dilation_h, &o->dilation_w));
        DC_TRY(get_int(P, s, "groups", 1, &o->groups));
        DC_TRY(get_bool(P, s, "bias", 1, &L->bias));
        DC_TRY(get_init(P, s, L));
        o->no_bias = !L->bias;
        o->init = L->init;
        o->init_value = L->init_value;
        if (L->t == T_DECONV) {
            dc_conv_transpose2d_opts *d = &L->deconv;
            *d = (dc_conv_transpose2d_opts){.kh = o->kh, .kw = o->kw, .stride_h = o->stride_h, .stride_w = o->stride_w,
                                            .pad_h = o->pad_h, .pad_w = o->pad_w, .dilation_h = o->dilation_h,
                                            .dilation_w = o->dilation_w, .groups = o->groups, .no_bias = o->no_bias,
                                            .init = o->init, .init_value = o->init_value};
            DC_TRY(get_pair(P, s, "output_pad", 0, 0, &d->output_pad_h, &d->output_pad_w));
        }
        break;
    }
    case T_DROPOUT: DC_TRY(get_float(P, s, "p", DROPOUT_P, &L->p)); break;
    case T_BATCHNORM:
        DC_TRY(get_float(P, s, "eps", BN_EPS, &L->eps));
        DC_TRY(get_float(P, s, "momentum", BN_MOMENTUM, &L->momentum));
        break;
    case T_MAXPOOL:
    case T_AVGPOOL: {
        dc_pool2d_opts *o = &L->pool;
        DC_TRY(get_pair(P, s, "kernel", 0, 1, &o->kh, &o->kw));
        DC_TRY(get_pair(P, s, "stride", 0, 0, &o->stride_h, &o->stride_w));
        DC_TRY(get_pair(P, s, "pad", 0, 0, &o->pad_h, &o->pad_w));
        DC_TRY(get_bool(P, s, "ceil_mode", 0, &o->ceil_mode));
        if (L->t == T_AVGPOOL) DC_TRY(get_bool(P, s, "count_include_pad", 1, &o->count_include_pad));
        break;
    }
    case T_LRN:
        if (!find_kv(P, s, "size")) return ferr(DC_ERR_FORMAT, P->origin, s->line, "[lrn] needs size = N");
        DC_TRY(get_int(P, s, "size", 0, &L->size));
        DC_TRY(get_float(P, s, "alpha", LRN_ALPHA, &L->alpha));
        DC_TRY(get_float(P, s, "beta", LRN_BETA, &L->beta));
        DC_TRY(get_float(P, s, "k", LRN_K, &L->k));
        break;
    case T_RESHAPE:
        if (!(k = find_kv(P, s, "shape")))
            return ferr(DC_ERR_FORMAT, P->origin, s->line, "[reshape] needs shape = a, b, ...");
        DC_TRY(get_shape(P, k, &L->shape));
        break;
    default: break;
    }
    if (L->units_classes) L->units_line = find_kv(P, s, L->t == T_LINEAR ? "units" : "filters")->line;
    return DC_OK;
}

/* The node a spec's input j refers to. */
static dc_node spec_input(const spec *L, int j, const dc_node *ids, dc_node input) {
    return L->in[j] < 0 ? input : ids[L->in[j]];
}

/* Re-raise the builder's error of layer L with file:line, into the graph's message too. */
static dc_status build_error(dc_graph *g, const char *origin, const spec *L, dc_node n) {
    if (g->error == DC_OK) dc_graph_fail(g, DC_ERR_STATE, "builder returned node %d without an error", (int)n);
    char msg[sizeof g->error_msg + 256];
    snprintf(msg, sizeof msg, "%s:%d: [%s] %s: %s", org(origin), L->line, types[L->t].type, L->name, g->error_msg);
    memcpy(g->error_msg, msg, sizeof g->error_msg - 1);
    g->error_msg[sizeof g->error_msg - 1] = '\0';
    return DC_ERR(g->error, "%s", msg);
}

static dc_node build_one(dc_graph *g, const spec *L, const dc_node *ids, dc_node input, int classes) {
    dc_node x = spec_input(L, 0, ids, input);
    int64_t units = L->units_classes ? classes : L->units;
    switch (L->t) {
    case T_LINEAR: {
        dc_linear_opts o = {.init = L->init, .init_value = L->init_value, .no_bias = !L->bias};
        return dc_linear_ex(g, x, units, L->name, &o);
    }
    case T_CONV2D: return dc_conv2d_ex(g, x, (int)units, L->name, &L->conv);
    case T_DECONV: return dc_conv_transpose2d_ex(g, x, (int)units, L->name, &L->deconv);
    case T_RELU: return dc_relu(g, x);
    case T_SIGMOID: return dc_sigmoid(g, x);
    case T_TANH: return dc_tanh(g, x);
    case T_SOFTMAX: return dc_softmax(g, x);
    case T_DROPOUT: return dc_dropout(g, x, L->p);
    case T_BATCHNORM: return dc_batchnorm_ex(g, x, L->name, L->eps, L->momentum);
    case T_MAXPOOL: return dc_maxpool2d_ex(g, x, &L->pool);
    case T_AVGPOOL: return dc_avgpool2d_ex(g, x, &L->pool);
    case T_GLOBAL_AVGPOOL: return dc_global_avgpool(g, x);
    case T_LRN: return dc_lrn(g, x, L->size, L->alpha, L->beta, L->k);
    case T_FLATTEN: return dc_flatten(g, x);
    case T_RESHAPE: return dc_reshape(g, x, L->shape);
    case T_ADD: return dc_add(g, x, spec_input(L, 1, ids, input));
    case T_CONCAT: {
        dc_node xs[DC_MAX_INPUTS];
        for (int j = 0; j < L->n_in; j++) xs[j] = spec_input(L, j, ids, input);
        return dc_concat(g, xs, L->n_in);
    }
    default: return dc_graph_fail(g, DC_ERR_STATE, "layer type %d has no builder", L->t);
    }
}

static dc_status build(dc_graph *g, const parser *P, dc_node input, int num_classes, dc_node *logits) {
    dc_model_header h;
    net_lines nl;
    DC_TRY(parse_net(P, &h, &nl));
    int first = P->n_sec > 0 && P->sec[0].t < 0;
    int n = P->n_sec - first;
    if (n == 0 && h.output[0])
        return ferr(DC_ERR_FORMAT, P->origin, nl.output, "output '%s': the file has no layers", h.output);
    spec *L = calloc((size_t)(n > 0 ? n : 1), sizeof *L);
    dc_node *ids = calloc((size_t)(n > 0 ? n : 1), sizeof *ids);
    dc_status st = L && ids ? DC_OK : DC_ERR(DC_ERR_NOMEM, "%s: %d layers", org(P->origin), n);
    /* Pass 1: values, names (the builders' default names predicted: prefix + ordinal of the op in
     * the graph), references. */
    int count[DC_OP_COUNT];
    memset(count, 0, sizeof count);
    for (int i = 0; st == DC_OK && i < g->n_nodes; i++)
        if ((unsigned)g->nodes[i].op < DC_OP_COUNT) count[g->nodes[i].op]++;
    for (int i = 0; st == DC_OK && i < n; i++) {
        st = parse_spec(P, &P->sec[i + first], &L[i]);
        if (st != DC_OK) break;
        int k = ++count[types[L[i].t].op];
        if (!L[i].named) snprintf(L[i].name, sizeof L[i].name, "%s%d", types[L[i].t].prefix, k);
        int line = L[i].named ? L[i].name_line : L[i].line;
        dc_node other = dc_graph_find(g, L[i].name);
        if (other >= 0) {
            st = ferr(DC_ERR_FORMAT, P->origin, line, "%s'%s' is already the name of node %d of the graph",
                      L[i].named ? "" : "the default name ", L[i].name, (int)other);
            break;
        }
        for (int j = 0; j < i; j++)
            if (strcmp(L[j].name, L[i].name) == 0) {
                st = ferr(DC_ERR_FORMAT, P->origin, line,
                          "%s'%s' is used twice (also by the [%s] at line %d); give one of them another name",
                          L[i].named ? "name " : "the default name ", L[i].name, types[L[j].t].type, L[j].line);
                break;
            }
        if (st != DC_OK) break;
        for (int j = 0; j < L[i].n_from; j++) {
            const char *ref = L[i].from_names[j];
            int found = strcmp(ref, INPUT_REF) == 0 ? -1 : -2;
            for (int q = 0; q < i && found == -2; q++)
                if (strcmp(L[q].name, ref) == 0) found = q;
            for (int q = i + 1; q < n && found == -2; q++) {
                const kv *later = find_kv(P, &P->sec[q + first], "name");
                if (later && strcmp(later->val, ref) == 0) {
                    st = ferr(DC_ERR_FORMAT, P->origin, L[i].from_line,
                              "from '%s': that layer comes later (line %d); a layer takes only layers above it", ref,
                              later->line);
                    found = -3;
                }
            }
            if (found == -3) break;
            if (found == -2) {
                st = ferr(DC_ERR_FORMAT, P->origin, L[i].from_line,
                          "from '%s': no earlier layer has that name (a layer takes the network input '" INPUT_REF
                          "' or layers above it)",
                          ref);
                break;
            }
            L[i].in[j] = found;
        }
        if (st != DC_OK) break;
        int prev = i - 1; /* -1: the network input */
        if (L[i].n_from == 0) {
            L[i].in[0] = prev;
            L[i].n_in = 1;
        } else if (L[i].t == T_ADD && L[i].n_from == 1) {
            L[i].in[1] = L[i].in[0];
            L[i].in[0] = prev;
            L[i].n_in = 2;
        } else {
            L[i].n_in = L[i].n_from;
        }
    }
    /* The output layer, the class count, the input shape. */
    int out = n - 1;
    if (st == DC_OK && h.output[0]) {
        out = -2;
        for (int i = 0; i < n && out == -2; i++)
            if (strcmp(L[i].name, h.output) == 0) out = i;
        if (out == -2) st = ferr(DC_ERR_FORMAT, P->origin, nl.output, "output '%s': no layer has that name", h.output);
    }
    int classes = num_classes > 0 ? num_classes : h.classes;
    for (int i = 0; st == DC_OK && i < n; i++)
        if (L[i].units_classes && classes < 1)
            st = ferr(DC_ERR_FORMAT, P->origin, L[i].units_line,
                      "%s = classes, but no class count: pass num_classes or set classes in [net]",
                      L[i].t == T_LINEAR ? "units" : "filters");
    if (st == DC_OK && h.input.rank > 0 && !dc_shape_equal(h.input, g->nodes[input].shape)) {
        char a[96], b[96];
        st = ferr(DC_ERR_SHAPE, P->origin, nl.input, "[net] declares the input %s, but input '%s' is %s",
                  dc_shape_str(h.input, a, sizeof a), g->nodes[input].name,
                  dc_shape_str(g->nodes[input].shape, b, sizeof b));
    }
    /* Pass 2: build. */
    for (int i = 0; st == DC_OK && i < n; i++) {
        dc_node id = build_one(g, &L[i], ids, input, classes);
        if (id < 0 || g->error != DC_OK) {
            st = build_error(g, P->origin, &L[i], id);
            break;
        }
        /* Builders without a name argument take the default; a given name replaces it (these
         * layers own no parameters, so nothing else carries the name). */
        if (strcmp(g->nodes[id].name, L[i].name) != 0) {
            if (L[i].named && g->nodes[id].n_params == 0) {
                snprintf(g->nodes[id].name, sizeof g->nodes[id].name, "%s", L[i].name);
            } else {
                dc_graph_fail(g, DC_ERR_STATE, "node '%s' was expected to be named '%s'", g->nodes[id].name, L[i].name);
                st = build_error(g, P->origin, &L[i], id);
                break;
            }
        }
        ids[i] = id;
    }
    if (st == DC_OK) *logits = n == 0 ? input : ids[out];
    free(L);
    free(ids);
    return st;
}

dc_status dc_model_text_build(dc_graph *g, const char *text, const char *origin, dc_node input, int num_classes,
                              dc_node *logits) {
    if (!g || !text || !logits) return DC_ERR(DC_ERR_ARG, "dc_model_text_build: NULL argument");
    if (g->error != DC_OK) return dc_graph_status(g);
    if (input < 0 || input >= g->n_nodes)
        return DC_ERR(DC_ERR_ARG, "%s: input node %d does not exist (graph has %d nodes)", org(origin), (int)input,
                      g->n_nodes);
    parser P = {.origin = origin};
    dc_status st = parse_text(&P, text);
    if (st == DC_OK) st = build(g, &P, input, num_classes, logits);
    parser_free(&P);
    return st;
}

dc_status dc_model_text_header(const char *text, const char *origin, dc_model_header *h) {
    if (!text || !h) return DC_ERR(DC_ERR_ARG, "dc_model_text_header: NULL argument");
    parser P = {.origin = origin};
    net_lines nl;
    dc_status st = parse_text(&P, text);
    if (st == DC_OK) st = parse_net(&P, h, &nl);
    parser_free(&P);
    return st;
}

/* The whole file as a NUL-terminated string (at most 64 MiB; no NUL bytes inside). */
static dc_status read_file(const char *path, char **out) {
    enum { MAX = 64 << 20 };
    FILE *f = fopen(path, "rb");
    if (!f) return DC_ERR(DC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    dc_status st = buf ? DC_OK : DC_ERR(DC_ERR_NOMEM, "%s: read buffer", path);
    while (st == DC_OK) {
        if (len + 1 >= cap) {
            char *nb = cap >= MAX ? NULL : realloc(buf, cap * 2);
            if (!nb) {
                st = cap >= MAX ? DC_ERR(DC_ERR_FORMAT, "%s: larger than %d MiB, not a model file", path, MAX >> 20)
                                : DC_ERR(DC_ERR_NOMEM, "%s: read buffer", path);
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - 1 - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) st = DC_ERR(DC_ERR_IO, "%s: read error", path);
            break;
        }
    }
    fclose(f);
    if (st == DC_OK) {
        buf[len] = '\0';
        if (strlen(buf) != len) st = DC_ERR(DC_ERR_FORMAT, "%s: contains a NUL byte, not a text model file", path);
    }
    if (st != DC_OK) {
        free(buf);
        return st;
    }
    *out = buf;
    return DC_OK;
}

dc_status dc_model_file_build(dc_graph *g, const char *path, dc_node input, int num_classes, dc_node *logits) {
    if (!g || !path || !logits) return DC_ERR(DC_ERR_ARG, "dc_model_file_build: NULL argument");
    if (g->error != DC_OK) return dc_graph_status(g);
    char *text;
    DC_TRY(read_file(path, &text));
    dc_status st = dc_model_text_build(g, text, path, input, num_classes, logits);
    free(text);
    return st;
}

dc_status dc_model_file_header(const char *path, dc_model_header *h) {
    if (!path || !h) return DC_ERR(DC_ERR_ARG, "dc_model_file_header: NULL argument");
    char *text;
    DC_TRY(read_file(path, &text));
    dc_status st = dc_model_text_header(text, path, h);
    free(text);
    return st;
}

/* ---------------------------------------------------------------- the writer */

typedef struct sbuf { char *p; size_t len, cap; int oom; } sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    if (b->oom) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) { b->oom = 1; return; }
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->len + (size_t)n + 1 > cap) cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) { b->oom = 1; return; }
        b->p = np;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* The shortest %g form that reads back (strtof) as exactly v. */
static const char *fmt_float(char *buf, size_t n, float v) {
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, n, "%.*g", prec, (double)v);
        if (strtof(buf, NULL) == v) break;
    }
    return buf;
}

/* Key lines for a pair of values: `base = h` when both agree, else base_h and base_w; nothing when
 * they equal the defaults. */
static void write_pair(sbuf *b, const char *base, int h, int w, int def_h, int def_w) {
    if (h == def_h && w == def_w) return;
    if (h == w) sb_printf(b, "%s = %d\n", base, h);
    else sb_printf(b, "%s_h = %d\n%s_w = %d\n", base, h, base, w);
}

static void write_float(sbuf *b, const char *key, float v) {
    char f[32];
    sb_printf(b, "%s = %s\n", key, fmt_float(f, sizeof f, v));
}

/* Section type of a node, -1 when it has none. */
static int node_type(const dc_graph *g, const dc_node_rec *n) {
    for (int t = 0; t < T_COUNT; t++) {
        if (types[t].op != n->op) continue;
        if (n->op != DC_OP_RESHAPE) return t;
        const dc_shape in = g->nodes[n->in[0]].shape;
        return n->shape.rank == 1 && n->shape.dim[0] == dc_shape_numel(in) ? T_FLATTEN : T_RESHAPE;
    }
    return -1;
}

/* The inputs of node n that its section names in `from` (the others are implied by the previous
 * section); returns their count. */
static int explicit_inputs(const dc_node_rec *n, int t, int prev, int *refs) {
    if (t == T_ADD) {
        if (n->in[0] == prev) {
            refs[0] = n->in[1];
            return 1;
        }
        refs[0] = n->in[0];
        refs[1] = n->in[1];
        return 2;
    }
    if (n->n_in == 1 && n->in[0] == prev) return 0;
    for (int i = 0; i < n->n_in; i++) refs[i] = n->in[i];
    return n->n_in;
}

static void write_layer(sbuf *b, const dc_graph *g, const dc_node_rec *n, int t, int is_logits) {
    const dc_param_rec *w = n->n_params > 0 ? &g->params[n->param0] : NULL;
    switch (t) {
    case T_LINEAR:
    case T_CONV2D:
    case T_DECONV: {
        const char *units = t == T_LINEAR ? "units" : "filters";
        if (is_logits) sb_printf(b, "%s = classes\n", units);
        else sb_printf(b, "%s = %lld\n", units, (long long)n->units);
        if (t != T_LINEAR) {
            write_pair(b, "kernel", n->kh, n->kw, -1, -1);
            write_pair(b, "stride", n->sh, n->sw, 1, 1);
            write_pair(b, "pad", n->ph, n->pw, 0, 0);
            if (t == T_DECONV) write_pair(b, "output_pad", n->oph, n->opw, 0, 0);
            write_pair(b, "dilation", n->dh, n->dw, 1, 1);
            if (n->groups != 1) sb_printf(b, "groups = %d\n", n->groups);
        }
        if (n->n_params < 2) sb_printf(b, "bias = 0\n");
        if (w && w->init != DC_INIT_DEFAULT) sb_printf(b, "init = %s\n", dc_init_name(w->init));
        if (w && w->init_value != 0.0f) write_float(b, "init_value", w->init_value);
        break;
    }
    case T_DROPOUT: write_float(b, "p", n->p); break;
    case T_BATCHNORM:
        if (n->eps != BN_EPS) write_float(b, "eps", n->eps);
        if (n->momentum != BN_MOMENTUM) write_float(b, "momentum", n->momentum);
        break;
    case T_MAXPOOL:
    case T_AVGPOOL:
        write_pair(b, "kernel", n->kh, n->kw, -1, -1);
        write_pair(b, "stride", n->sh, n->sw, n->kh, n->kw);
        write_pair(b, "pad", n->ph, n->pw, 0, 0);
        if (n->ceil_mode) sb_printf(b, "ceil_mode = 1\n");
        if (t == T_AVGPOOL && !n->count_include_pad) sb_printf(b, "count_include_pad = 0\n");
        break;
    case T_LRN:
        sb_printf(b, "size = %d\n", n->lrn_size);
        write_float(b, "alpha", n->lrn_alpha);
        write_float(b, "beta", n->lrn_beta);
        write_float(b, "k", n->lrn_k);
        break;
    case T_RESHAPE:
        sb_printf(b, "shape = ");
        for (int i = 0; i < n->shape.rank; i++) sb_printf(b, "%s%lld", i ? ", " : "", (long long)n->shape.dim[i]);
        sb_printf(b, "\n");
        break;
    default: break;
    }
}

dc_status dc_model_text_write_ex(const dc_graph *g, dc_node logits, const dc_model_write_opts *o, char **text) {
    if (!g || !text) return DC_ERR(DC_ERR_ARG, "dc_model_text_write: NULL argument");
    *text = NULL;
    if (g->error != DC_OK) return DC_ERR(DC_ERR_STATE, "dc_model_text_write: the graph has a build error: %s", g->error_msg);
    if (logits < 0 || logits >= g->n_nodes)
        return DC_ERR(DC_ERR_ARG, "dc_model_text_write: node %d does not exist (graph has %d nodes)", (int)logits,
                      g->n_nodes);
    if (o && o->name && (!name_ok(o->name) || strlen(o->name) >= 64))
        return DC_ERR(DC_ERR_ARG, "dc_model_text_write: bad model name '%s' (1..63 characters, no spaces or , # ; = [ ])",
                      o->name);
    int nn = g->n_nodes;
    unsigned char *mark = calloc((size_t)nn, 1);
    int *type = calloc((size_t)nn, sizeof *type), *pinned = calloc((size_t)nn, sizeof *pinned);
    sbuf b = {0};
    dc_status st = mark && type && pinned ? DC_OK : DC_ERR(DC_ERR_NOMEM, "dc_model_text_write: node marks");
    /* The nodes logits depends on (ids are topological: inputs come first). */
    int input = -1;
    if (st == DC_OK) mark[logits] = 1;
    for (int id = logits; st == DC_OK && id >= 0; id--) {
        if (!mark[id]) continue;
        const dc_node_rec *n = &g->nodes[id];
        for (int i = 0; i < n->n_in; i++) mark[n->in[i]] = 1;
        if (n->op == DC_OP_INPUT) {
            if (input >= 0)
                st = DC_ERR(DC_ERR_ARG, "dc_model_text_write: '%s' depends on two inputs ('%s' and '%s'); a model file "
                            "has one", g->nodes[logits].name, n->name, g->nodes[input].name);
            input = id;
            continue;
        }
        type[id] = node_type(g, n);
        if (type[id] < 0)
            st = DC_ERR(DC_ERR_ARG, "dc_model_text_write: node '%s' (%s) has no model-file section (losses are not "
                        "part of a model file; write the logits)", n->name, dc_op_table[n->op].name);
        else if (strcmp(n->name, INPUT_REF) == 0)
            st = DC_ERR(DC_ERR_ARG, "dc_model_text_write: a layer named '" INPUT_REF "' clashes with the reserved "
                        "name of the network input");
    }
    if (st == DC_OK && input < 0)
        st = DC_ERR(DC_ERR_ARG, "dc_model_text_write: '%s' depends on no input", g->nodes[logits].name);
    /* Layers with parameters (their names are the checkpoint's tensor names) and layers that a
     * later `from` names get a `name =` line even when the name is the default one, so that an
     * edit which shifts default names changes neither the parameter names nor the wiring. */
    int prev = input;
    for (int id = input + 1; st == DC_OK && id <= logits; id++) {
        if (!mark[id]) continue;
        int refs[DC_MAX_INPUTS], r = explicit_inputs(&g->nodes[id], type[id], prev, refs);
        for (int i = 0; i < r; i++) pinned[refs[i]] = 1;
        prev = id;
    }
    if (st == DC_OK) {
        if (o && o->comment) {
            for (const char *c = o->comment; *c;) {
                const char *e = strchr(c, '\n');
                int len = e ? (int)(e - c) : (int)strlen(c);
                sb_printf(&b, "#%s%.*s\n", len ? " " : "", len, c);
                c += len + (e ? 1 : 0);
            }
        }
        const dc_node_rec *in = &g->nodes[input], *out = &g->nodes[logits];
        int classes_key = logits != input && (out->op == DC_OP_LINEAR || out->op == DC_OP_CONV2D ||
                                               out->op == DC_OP_CONV_TRANSPOSE2D);
        sb_printf(&b, "[net]\n");
        if (o && o->name) sb_printf(&b, "name = %s\n", o->name);
        if (in->shape.rank == 3) {
            sb_printf(&b, "channels = %lld\nheight = %lld\nwidth = %lld\n", (long long)in->shape.dim[0],
                      (long long)in->shape.dim[1], (long long)in->shape.dim[2]);
        } else if (in->shape.rank > 0) {
            sb_printf(&b, "shape = ");
            for (int i = 0; i < in->shape.rank; i++) sb_printf(&b, "%s%lld", i ? ", " : "", (long long)in->shape.dim[i]);
            sb_printf(&b, "\n");
        }
        if (classes_key) sb_printf(&b, "classes = %lld\n", (long long)out->units);
        int count[DC_OP_COUNT];
        memset(count, 0, sizeof count);
        prev = input;
        for (int id = input + 1; id <= logits; id++) {
            if (!mark[id]) continue;
            const dc_node_rec *n = &g->nodes[id];
            int t = type[id];
            char def[DC_NAME_MAX + 16];
            snprintf(def, sizeof def, "%s%d", types[t].prefix, ++count[n->op]);
            sb_printf(&b, "\n[%s]\n", types[t].type);
            if (pinned[id] || n->n_params > 0 || strcmp(def, n->name) != 0) sb_printf(&b, "name = %s\n", n->name);
            int refs[DC_MAX_INPUTS], r = explicit_inputs(n, t, prev, refs);
            if (r) {
                sb_printf(&b, "from = ");
                for (int i = 0; i < r; i++)
                    sb_printf(&b, "%s%s", i ? ", " : "", refs[i] == input ? INPUT_REF : g->nodes[refs[i]].name);
                sb_printf(&b, "\n");
            }
            write_layer(&b, g, n, t, id == logits && classes_key);
            prev = id;
        }
        if (b.oom) st = DC_ERR(DC_ERR_NOMEM, "dc_model_text_write: text of %zu bytes", b.len);
    }
    free(mark);
    free(type);
    free(pinned);
    if (st != DC_OK) {
        free(b.p);
        return st;
    }
    if (!b.p) { /* nothing written cannot happen ([net] always is), but keep *text valid */
        b.p = calloc(1, 1);
        if (!b.p) return DC_ERR(DC_ERR_NOMEM, "dc_model_text_write: empty text");
    }
    *text = b.p;
    return DC_OK;
}

dc_status dc_model_text_write(const dc_graph *g, dc_node logits, char **text) {
    return dc_model_text_write_ex(g, logits, NULL, text);
}

dc_status dc_model_file_write_ex(const char *path, const dc_graph *g, dc_node logits, const dc_model_write_opts *o) {
    if (!path) return DC_ERR(DC_ERR_ARG, "dc_model_file_write: path is NULL");
    char *text;
    DC_TRY(dc_model_text_write_ex(g, logits, o, &text));
    dc_chunk chunk = {text, strlen(text)};
    dc_status st = dc_file_write_atomic(path, &chunk, 1);
    free(text);
    return st;
}

dc_status dc_model_file_write(const char *path, const dc_graph *g, dc_node logits) {
    return dc_model_file_write_ex(path, g, logits, NULL);
}
