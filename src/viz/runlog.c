/* runlog.c — CSV tables and run.txt of a run directory (runlog.h), and the moving average used to
 * smooth per-step losses.  The files are read whole (they are small: a line per epoch or per ten
 * steps) and every problem names file:line. */
#include "viz/runlog.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILE_BYTES ((size_t)256 << 20)

static dc_status slurp(const char *path, char **out, size_t *n) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return DC_ERR(DC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 8192, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (len + 4096 + 1 > cap) {
            if (cap > MAX_FILE_BYTES) {
                free(buf);
                fclose(f);
                return DC_ERR(DC_ERR_FORMAT, "%s: larger than %zu MiB, not a run log", path, MAX_FILE_BYTES >> 20);
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) break;
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + len, 1, 4096, f);
        len += r;
        if (r < 4096) break;
    }
    int err = ferror(f);
    fclose(f);
    if (!buf) return DC_ERR(DC_ERR_NOMEM, "%s: reading", path);
    if (err) {
        free(buf);
        return DC_ERR(DC_ERR_IO, "%s: read error", path);
    }
    buf[len] = '\0';
    if (memchr(buf, '\0', len)) {
        free(buf);
        return DC_ERR(DC_ERR_FORMAT, "%s: contains NUL bytes, not a text file", path);
    }
    *out = buf;
    *n = len;
    return DC_OK;
}

void dc_csv_free(dc_csv *t) {
    if (!t) return;
    for (int i = 0; i < t->ncols; i++) free(t->names[i]);
    free(t->names);
    free(t->v);
    free(t->line);
    memset(t, 0, sizeof *t);
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) *--e = '\0';
    return s;
}

/* Count the fields of a line (commas + 1). */
static int count_fields(const char *s) {
    int n = 1;
    for (; *s; s++) n += *s == ',';
    return n;
}

dc_status dc_csv_read(const char *path, dc_csv *out) {
    if (!path || !out) return DC_ERR(DC_ERR_ARG, "dc_csv_read: NULL argument");
    memset(out, 0, sizeof *out);
    char *text;
    size_t len;
    DC_TRY(slurp(path, &text, &len));
    dc_status s = DC_OK;
    int cap_rows = 0, lineno = 0;
    char *p = text;
    while (s == DC_OK && *p) {
        char *nl = strchr(p, '\n'), *next = nl ? nl + 1 : p + strlen(p);
        if (nl) *nl = '\0';
        lineno++;
        char *line = trim(p);
        p = next;
        if (!*line) continue;
        int nf = count_fields(line);
        if (!out->names) { /* header */
            if (nf > 1024) { s = DC_ERR(DC_ERR_FORMAT, "%s:%d: %d columns in the header (at most 1024)", path, lineno, nf); break; }
            out->names = calloc((size_t)nf, sizeof(char *));
            if (!out->names) { s = DC_ERR(DC_ERR_NOMEM, "%s: header", path); break; }
            out->ncols = nf;
            char *tok = line;
            for (int i = 0; i < nf; i++) {
                char *c = strchr(tok, ',');
                if (c) *c = '\0';
                char *name = trim(tok);
                if (!*name) { s = DC_ERR(DC_ERR_FORMAT, "%s:%d: header column %d has no name", path, lineno, i + 1); break; }
                if (!(out->names[i] = strdup(name))) { s = DC_ERR(DC_ERR_NOMEM, "%s: header", path); break; }
                tok = c ? c + 1 : tok + strlen(tok);
            }
            continue;
        }
        if (nf != out->ncols) {
            s = DC_ERR(DC_ERR_FORMAT, "%s:%d: %d fields, but the header has %d columns (%s line?)", path, lineno, nf,
                       out->ncols, nf < out->ncols ? "a truncated" : "a corrupt");
            break;
        }
        if (out->nrows == cap_rows) {
            int cap = cap_rows ? cap_rows * 2 : 64;
            double *v = realloc(out->v, (size_t)cap * (size_t)out->ncols * sizeof(double));
            if (v) out->v = v;
            int *ln = v ? realloc(out->line, (size_t)cap * sizeof(int)) : NULL;
            if (ln) out->line = ln;
            if (!v || !ln) { s = DC_ERR(DC_ERR_NOMEM, "%s: %d rows", path, cap); break; }
            cap_rows = cap;
        }
        double *row = out->v + (size_t)out->nrows * out->ncols;
        char *tok = line;
        for (int i = 0; i < out->ncols; i++) {
            char *c = strchr(tok, ',');
            if (c) *c = '\0';
            char *field = trim(tok), *end;
            if (!*field) row[i] = NAN;
            else {
                errno = 0;
                row[i] = strtod(field, &end);
                if (*end || end == field) {
                    s = DC_ERR(DC_ERR_FORMAT, "%s:%d: column '%s' (field %d): '%.40s' is not a number", path, lineno,
                               out->names[i], i + 1, field);
                    break;
                }
            }
            tok = c ? c + 1 : tok + strlen(tok);
        }
        if (s == DC_OK) out->line[out->nrows++] = lineno;
    }
    if (s == DC_OK && !out->names) s = DC_ERR(DC_ERR_FORMAT, "%s: empty file (no header line)", path);
    free(text);
    if (s != DC_OK) dc_csv_free(out);
    return s;
}

int dc_csv_col(const dc_csv *t, const char *name) {
    if (!t || !name) return -1;
    for (int i = 0; i < t->ncols; i++)
        if (!strcmp(t->names[i], name)) return i;
    return -1;
}

dc_status dc_csv_need(const dc_csv *t, const char *path, const char *name, int *col) {
    *col = dc_csv_col(t, name);
    if (*col >= 0) return DC_OK;
    char list[512] = "";
    size_t used = 0;
    for (int i = 0; t && i < t->ncols && used + 2 < sizeof list; i++) {
        int k = snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", t->names[i]);
        if (k < 0) break;
        used += (size_t)k;
    }
    if (used >= sizeof list) used = sizeof list - 1;
    return DC_ERR(DC_ERR_FORMAT, "%s: no column '%s' (columns: %s)", path, name, list);
}

void dc_ema(const float *x, float *out, int count, int n) {
    if (!x || !out || count <= 0) return;
    if (n <= 1) {
        memmove(out, x, (size_t)count * sizeof(float));
        return;
    }
    const double b = 1.0 - 2.0 / (double)(n + 1);
    double s = 0.0, w = 0.0; /* w = 1 - b^k over the values seen */
    for (int i = 0; i < count; i++) {
        if (!isfinite(x[i])) {
            out[i] = NAN;
            continue;
        }
        s = b * s + (1.0 - b) * x[i];
        w = b * w + (1.0 - b);
        out[i] = (float)(s / w);
    }
}

dc_status dc_runinfo_read(const char *path, char **text, const char **keys, const char **values, int max, int *n) {
    if (!path || !text || !n || (max > 0 && (!keys || !values))) return DC_ERR(DC_ERR_ARG, "dc_runinfo_read: NULL argument");
    *n = 0;
    size_t len;
    DC_TRY(slurp(path, text, &len));
    char *p = *text;
    while (*p) {
        char *nl = strchr(p, '\n'), *next = nl ? nl + 1 : p + strlen(p);
        if (nl) *nl = '\0';
        char *line = trim(p);
        p = next;
        if (!*line || *line == '#') continue;
        char *colon = strchr(line, ':');
        if (!colon) continue;
        *colon = '\0';
        if (*n < max) {
            keys[*n] = trim(line);
            values[*n] = trim(colon + 1);
            (*n)++;
        }
    }
    return DC_OK;
}
