/* json.c — a small recursive-descent JSON reader (RFC 8259) used for safetensors headers and COCO
 * files, and a small writer (at the end of the file).
 * The reader validates strictly (grammar, escapes, UTF-8, surrogate pairs, nesting depth) and reports the
 * byte offset of the first problem.  It deliberately does not stream, does not reject
 * duplicate object keys (callers that care check them), does not accept NUL (\u0000) inside
 * strings (keys become C strings) and never allocates more than the input size warrants. */
#include "io/json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 128

typedef struct {
    const char *s;
    size_t n, i;
    int depth;
    size_t err_pos;
    char *err;
    size_t err_n;
} jparser;

static int jfail(jparser *p, size_t pos, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static int jfail(jparser *p, size_t pos, const char *fmt, ...) {
    p->err_pos = pos;
    if (p->err && p->err_n) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err, p->err_n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

const char *dc_json_type_name(dc_json_type t) {
    switch (t) {
    case DC_JSON_NULL: return "null";
    case DC_JSON_BOOL: return "boolean";
    case DC_JSON_NUMBER: return "number";
    case DC_JSON_STRING: return "string";
    case DC_JSON_ARRAY: return "array";
    case DC_JSON_OBJECT: return "object";
    }
    return "?";
}

int dc_json_utf8_valid(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) { i++; continue; }
        size_t need;
        unsigned cp, min;
        if (c >= 0xC2 && c <= 0xDF) { need = 1; cp = c & 0x1F; min = 0x80; }
        else if (c >= 0xE0 && c <= 0xEF) { need = 2; cp = c & 0x0F; min = 0x800; }
        else if (c >= 0xF0 && c <= 0xF4) { need = 3; cp = c & 0x07; min = 0x10000; }
        else return 0;
        if (n - i <= need) return 0;
        for (size_t k = 1; k <= need; k++) {
            unsigned d = s[i + k];
            if ((d & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (d & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += need + 1;
    }
    return 1;
}

static void skip_ws(jparser *p) {
    while (p->i < p->n) {
        char c = p->s[p->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->i++;
    }
}

static void free_contents(dc_json *v) {
    if (v->type == DC_JSON_STRING) free(v->str);
    if (v->type == DC_JSON_ARRAY || v->type == DC_JSON_OBJECT) {
        for (size_t k = 0; k < v->count; k++) {
            free_contents(&v->items[k]);
            if (v->keys) free(v->keys[k]);
        }
        free(v->items);
        free(v->keys);
    }
    memset(v, 0, sizeof *v);
}

void dc_json_free(dc_json *v) {
    if (!v) return;
    free_contents(v);
    free(v);
}

const dc_json *dc_json_get(const dc_json *obj, const char *key) {
    if (!obj || obj->type != DC_JSON_OBJECT || !key) return NULL;
    for (size_t k = 0; k < obj->count; k++)
        if (strcmp(obj->keys[k], key) == 0) return &obj->items[k];
    return NULL;
}

static int hex4(const char *s, unsigned *out) {
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = s[k];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* p->s[p->i] == '"'.  Decodes into a fresh buffer (decoded size <= raw size). */
static int parse_string(jparser *p, char **out, size_t *out_len) {
    size_t start = p->i;
    size_t j = start + 1;
    while (j < p->n && p->s[j] != '"') j += (p->s[j] == '\\') ? 2 : 1;
    if (j >= p->n) return jfail(p, start, "unterminated string");
    char *buf = malloc(j - start);
    if (!buf) return jfail(p, start, "out of memory for a %zu-byte string", j - start);
    size_t o = 0;
    size_t i = start + 1;
    while (i < j) {
        unsigned char c = (unsigned char)p->s[i];
        if (c < 0x20) {
            free(buf);
            return jfail(p, i, "unescaped control character 0x%02x in string", c);
        }
        if (c != '\\') { buf[o++] = (char)c; i++; continue; }
        char e = p->s[i + 1]; /* i + 1 < j: the scan above stepped over escapes in pairs */
        switch (e) {
        case '"': buf[o++] = '"'; i += 2; continue;
        case '\\': buf[o++] = '\\'; i += 2; continue;
        case '/': buf[o++] = '/'; i += 2; continue;
        case 'b': buf[o++] = '\b'; i += 2; continue;
        case 'f': buf[o++] = '\f'; i += 2; continue;
        case 'n': buf[o++] = '\n'; i += 2; continue;
        case 'r': buf[o++] = '\r'; i += 2; continue;
        case 't': buf[o++] = '\t'; i += 2; continue;
        case 'u': break;
        default:
            free(buf);
            return jfail(p, i, "invalid escape '\\%c' in string", (e >= 0x20 && e < 0x7f) ? e : '?');
        }
        unsigned cp, lo;
        if (j - i < 6 || hex4(p->s + i + 2, &cp) != 0) {
            free(buf);
            return jfail(p, i, "invalid \\u escape (expected 4 hex digits)");
        }
        size_t esc_at = i;
        i += 6;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (j - i < 6 || p->s[i] != '\\' || p->s[i + 1] != 'u' || hex4(p->s + i + 2, &lo) != 0 ||
                lo < 0xDC00 || lo > 0xDFFF) {
                free(buf);
                return jfail(p, esc_at, "high surrogate \\u%04X not followed by a low surrogate", cp);
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            i += 6;
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            free(buf);
            return jfail(p, esc_at, "lone low surrogate \\u%04X", cp);
        } else if (cp == 0) {
            free(buf);
            return jfail(p, esc_at, "NUL character (\\u0000) in string is not supported");
        }
        o += put_utf8(buf + o, cp);
    }
    buf[o] = '\0';
    if (!dc_json_utf8_valid(buf, o)) {
        free(buf);
        return jfail(p, start, "string is not valid UTF-8");
    }
    p->i = j + 1;
    *out = buf;
    *out_len = o;
    return 0;
}

static int parse_number(jparser *p, dc_json *v) {
    size_t start = p->i, i = p->i;
    int neg = 0, integral = 1;
    if (i < p->n && p->s[i] == '-') { neg = 1; i++; }
    if (i >= p->n || p->s[i] < '0' || p->s[i] > '9') return jfail(p, start, "invalid number");
    if (p->s[i] == '0') i++;
    else while (i < p->n && p->s[i] >= '0' && p->s[i] <= '9') i++;
    if (i < p->n && p->s[i] == '.') {
        integral = 0;
        i++;
        if (i >= p->n || p->s[i] < '0' || p->s[i] > '9') return jfail(p, i, "digit expected after '.'");
        while (i < p->n && p->s[i] >= '0' && p->s[i] <= '9') i++;
    }
    if (i < p->n && (p->s[i] == 'e' || p->s[i] == 'E')) {
        integral = 0;
        i++;
        if (i < p->n && (p->s[i] == '+' || p->s[i] == '-')) i++;
        if (i >= p->n || p->s[i] < '0' || p->s[i] > '9') return jfail(p, i, "digit expected in exponent");
        while (i < p->n && p->s[i] >= '0' && p->s[i] <= '9') i++;
    }
    char tmp[512];
    size_t len = i - start;
    if (len >= sizeof tmp) return jfail(p, start, "number literal longer than %zu characters", sizeof tmp - 1);
    memcpy(tmp, p->s + start, len);
    tmp[len] = '\0';
    v->type = DC_JSON_NUMBER;
    v->number = strtod(tmp, NULL);
    if (integral) {
        /* Exact int64 with overflow detection (accumulate negatively to reach INT64_MIN). */
        int64_t acc = 0;
        int ok = 1;
        for (size_t k = (size_t)neg; k < len; k++) {
            int d = tmp[k] - '0';
            if (acc < (INT64_MIN + d) / 10) { ok = 0; break; }
            acc = acc * 10 - d;
        }
        if (ok && !neg && acc == INT64_MIN) ok = 0;
        if (ok) { v->is_int = 1; v->integer = neg ? acc : -acc; }
    }
    p->i = i;
    return 0;
}

static int parse_value(jparser *p, dc_json *v);

static int grow(jparser *p, dc_json *v, size_t *cap, int with_keys) {
    if (v->count < *cap) return 0;
    size_t nc = *cap ? *cap * 2 : 4;
    dc_json *items = realloc(v->items, nc * sizeof *items);
    if (!items) return jfail(p, p->i, "out of memory");
    v->items = items;
    if (with_keys) {
        char **keys = realloc(v->keys, nc * sizeof *keys);
        if (!keys) return jfail(p, p->i, "out of memory");
        v->keys = keys;
    }
    *cap = nc;
    return 0;
}

static int parse_container(jparser *p, dc_json *v, int is_obj) {
    size_t cap = 0;
    char close = is_obj ? '}' : ']';
    v->type = is_obj ? DC_JSON_OBJECT : DC_JSON_ARRAY;
    if (++p->depth > JSON_MAX_DEPTH) return jfail(p, p->i, "nesting deeper than %d levels", JSON_MAX_DEPTH);
    p->i++; /* '{' or '[' */
    skip_ws(p);
    if (p->i < p->n && p->s[p->i] == close) {
        p->i++;
        p->depth--;
        return 0;
    }
    for (;;) {
        char *key = NULL;
        size_t klen;
        skip_ws(p);
        if (is_obj) {
            if (p->i >= p->n || p->s[p->i] != '"') return jfail(p, p->i, "object key (a string) expected");
            if (parse_string(p, &key, &klen) != 0) return -1;
            skip_ws(p);
            if (p->i >= p->n || p->s[p->i] != ':') {
                free(key);
                return jfail(p, p->i, "':' expected after object key");
            }
            p->i++;
        }
        if (grow(p, v, &cap, is_obj) != 0) { free(key); return -1; }
        dc_json *item = &v->items[v->count];
        memset(item, 0, sizeof *item);
        if (is_obj) v->keys[v->count] = key;
        v->count++; /* counted before parsing so that a failure frees what was built */
        if (parse_value(p, item) != 0) return -1;
        skip_ws(p);
        if (p->i >= p->n) return jfail(p, p->i, "unexpected end of input, expected ',' or '%c'", close);
        char c = p->s[p->i];
        if (c == ',') { p->i++; continue; }
        if (c == close) { p->i++; break; }
        return jfail(p, p->i, "expected ',' or '%c'", close);
    }
    p->depth--;
    return 0;
}

static int parse_value(jparser *p, dc_json *v) {
    skip_ws(p);
    v->pos = p->i;
    if (p->i >= p->n) return jfail(p, p->i, "unexpected end of input, value expected");
    char c = p->s[p->i];
    switch (c) {
    case '{': return parse_container(p, v, 1);
    case '[': return parse_container(p, v, 0);
    case '"':
        if (parse_string(p, &v->str, &v->len) != 0) return -1;
        v->type = DC_JSON_STRING;
        return 0;
    case 't':
    case 'f':
    case 'n': {
        const char *word = c == 't' ? "true" : c == 'f' ? "false" : "null";
        size_t wl = strlen(word);
        if (p->n - p->i < wl || memcmp(p->s + p->i, word, wl) != 0)
            return jfail(p, p->i, "invalid literal (expected %s)", word);
        v->type = c == 'n' ? DC_JSON_NULL : DC_JSON_BOOL;
        v->boolean = c == 't';
        p->i += wl;
        return 0;
    }
    default:
        if (c == '-' || (c >= '0' && c <= '9')) return parse_number(p, v);
        if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
            return jfail(p, p->i, "unexpected character '%c'", c);
        return jfail(p, p->i, "unexpected byte 0x%02x", (unsigned char)c);
    }
}

int dc_json_parse(const char *text, size_t len, dc_json **out, size_t *err_pos, char *err, size_t err_n) {
    jparser p = {text, len, 0, 0, 0, err, err_n};
    if (err && err_n) err[0] = '\0';
    if (out) *out = NULL;
    if (!text || !out) {
        if (err_pos) *err_pos = 0;
        if (err && err_n) snprintf(err, err_n, "no input");
        return -1;
    }
    dc_json *v = calloc(1, sizeof *v);
    if (!v) {
        if (err_pos) *err_pos = 0;
        if (err && err_n) snprintf(err, err_n, "out of memory");
        return -1;
    }
    int rc = parse_value(&p, v);
    if (rc == 0) {
        skip_ws(&p);
        if (p.i != p.n) rc = jfail(&p, p.i, "unexpected data after the JSON value");
    }
    if (rc != 0) {
        dc_json_free(v);
        if (err_pos) *err_pos = p.err_pos;
        return -1;
    }
    *out = v;
    return 0;
}

/* ------------------------------------------------------------------ writer */
void dc_json_writer_init(dc_json_writer *w) { memset(w, 0, sizeof *w); }

void dc_json_writer_free(dc_json_writer *w) {
    if (!w) return;
    free(w->buf);
    memset(w, 0, sizeof *w);
}

static void jw_fail(dc_json_writer *w, const char *why) {
    if (!w->failed) w->why = why;
    w->failed = 1;
}

static int jw_reserve(dc_json_writer *w, size_t extra) {
    if (w->failed) return -1;
    if (w->len + extra + 1 <= w->cap) return 0;
    size_t nc = w->cap ? w->cap : 256;
    while (nc < w->len + extra + 1) {
        if (nc > ((size_t)-1) / 2) { jw_fail(w, "document too large"); return -1; }
        nc *= 2;
    }
    char *b = realloc(w->buf, nc);
    if (!b) { jw_fail(w, "out of memory"); return -1; }
    w->buf = b;
    w->cap = nc;
    return 0;
}

static void jw_raw(dc_json_writer *w, const char *s, size_t n) {
    if (jw_reserve(w, n) != 0) return;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

/* Before any value: the comma after a previous item, and the rule that a value follows a key
 * inside objects. */
static int jw_value_start(dc_json_writer *w) {
    if (w->failed) return -1;
    if (w->after_key) { w->after_key = 0; return 0; }
    if (w->depth == 0) {
        if (w->len) { jw_fail(w, "a second top-level value"); return -1; }
        return 0;
    }
    if (w->has_item[w->depth - 1] & 2) { jw_fail(w, "object value without a key"); return -1; }
    if (w->has_item[w->depth - 1] & 1) jw_raw(w, ",", 1);
    w->has_item[w->depth - 1] |= 1;
    if (w->newline) { w->newline = 0; jw_raw(w, "\n", 1); }
    return w->failed ? -1 : 0;
}

static void jw_open(dc_json_writer *w, char c, int is_obj) {
    if (jw_value_start(w) != 0) return;
    if (w->depth >= DC_JSON_WRITER_MAX_DEPTH) { jw_fail(w, "nesting too deep"); return; }
    jw_raw(w, &c, 1);
    w->has_item[w->depth++] = (unsigned char)(is_obj ? 2 : 0);
}

static void jw_close(dc_json_writer *w, char c, int is_obj) {
    if (w->failed) return;
    if (w->depth == 0 || w->after_key || ((w->has_item[w->depth - 1] & 2) != 0) != is_obj) {
        jw_fail(w, "unbalanced object/array");
        return;
    }
    if (w->newline) { w->newline = 0; jw_raw(w, "\n", 1); }
    w->depth--;
    jw_raw(w, &c, 1);
}

void dc_json_begin_object(dc_json_writer *w) { jw_open(w, '{', 1); }
void dc_json_end_object(dc_json_writer *w) { jw_close(w, '}', 1); }
void dc_json_begin_array(dc_json_writer *w) { jw_open(w, '[', 0); }
void dc_json_end_array(dc_json_writer *w) { jw_close(w, ']', 0); }

static void jw_string_body(dc_json_writer *w, const char *s) {
    size_t n = strlen(s);
    if (!dc_json_utf8_valid(s, n)) { jw_fail(w, "string is not valid UTF-8"); return; }
    if (jw_reserve(w, 6 * n + 2) != 0) return;
    char *o = w->buf + w->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') { *o++ = '\\'; *o++ = (char)c; }
        else if (c == '\n') { *o++ = '\\'; *o++ = 'n'; }
        else if (c == '\t') { *o++ = '\\'; *o++ = 't'; }
        else if (c == '\r') { *o++ = '\\'; *o++ = 'r'; }
        else if (c < 0x20) { snprintf(o, 7, "\\u%04x", c); o += 6; }
        else *o++ = (char)c;
    }
    *o++ = '"';
    w->len = (size_t)(o - w->buf);
    w->buf[w->len] = '\0';
}

void dc_json_key(dc_json_writer *w, const char *key) {
    if (w->failed) return;
    if (!key || w->depth == 0 || !(w->has_item[w->depth - 1] & 2) || w->after_key) {
        jw_fail(w, "key outside an object");
        return;
    }
    if (w->has_item[w->depth - 1] & 1) jw_raw(w, ",", 1);
    w->has_item[w->depth - 1] |= 1;
    if (w->newline) { w->newline = 0; jw_raw(w, "\n", 1); }
    jw_string_body(w, key);
    jw_raw(w, ":", 1);
    w->after_key = 1;
}

void dc_json_string(dc_json_writer *w, const char *s) {
    if (!s) { jw_fail(w, "NULL string"); return; }
    if (jw_value_start(w) != 0) return;
    jw_string_body(w, s);
}

void dc_json_int(dc_json_writer *w, int64_t v) {
    if (jw_value_start(w) != 0) return;
    char b[32];
    int n = snprintf(b, sizeof b, "%lld", (long long)v);
    jw_raw(w, b, (size_t)n);
}

void dc_json_double(dc_json_writer *w, double v) {
    if (!isfinite(v)) { jw_fail(w, "NaN or infinite number"); return; }
    if (v == floor(v) && fabs(v) < 9.2e18) { dc_json_int(w, (int64_t)v); return; }
    if (jw_value_start(w) != 0) return;
    char b[40];
    int n = 0;
    for (int prec = 1; prec <= 17; prec++) {
        n = snprintf(b, sizeof b, "%.*g", prec, v);
        if (strtod(b, NULL) == v) break;
    }
    jw_raw(w, b, (size_t)n);
}

void dc_json_float(dc_json_writer *w, float v) {
    if (!isfinite(v)) { jw_fail(w, "NaN or infinite number"); return; }
    if (v == floorf(v) && fabsf(v) < 9.2e18f) { dc_json_int(w, (int64_t)v); return; }
    if (jw_value_start(w) != 0) return;
    char b[40];
    int n = 0;
    for (int prec = 1; prec <= 9; prec++) {
        n = snprintf(b, sizeof b, "%.*g", prec, (double)v);
        if (strtof(b, NULL) == v) break;
    }
    jw_raw(w, b, (size_t)n);
}

void dc_json_bool(dc_json_writer *w, int v) {
    if (jw_value_start(w) != 0) return;
    jw_raw(w, v ? "true" : "false", v ? 4 : 5);
}

void dc_json_null(dc_json_writer *w) {
    if (jw_value_start(w) != 0) return;
    jw_raw(w, "null", 4);
}

void dc_json_newline(dc_json_writer *w) {
    if (w->failed) return;
    if (w->depth == 0) jw_raw(w, "\n", 1); /* after the top-level value */
    else w->newline = 1;
}

int dc_json_writer_take(dc_json_writer *w, char **text, size_t *len, const char **why) {
    if (!w->failed && (w->depth != 0 || w->after_key || w->len == 0)) jw_fail(w, "incomplete document");
    if (w->failed) {
        if (why) *why = w->why;
        dc_json_writer_free(w);
        return -1;
    }
    *text = w->buf;
    if (len) *len = w->len;
    memset(w, 0, sizeof *w);
    return 0;
}
