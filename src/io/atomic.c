/* atomic.c — the temporary-file-then-rename write shared by checkpoints and model files.
 * It does not retry, lock, or create directories. */
#include "io/atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void fsync_parent_dir(const char *path) {
    /* Best effort: make the rename itself durable.  Failure here does not undo a good write. */
    char *dir = strdup(path);
    if (!dir) return;
    char *slash = strrchr(dir, '/');
    const char *d = ".";
    if (slash == dir) d = "/";
    else if (slash) { *slash = '\0'; d = dir; }
    int fd = open(d, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

dc_status dc_file_write_atomic(const char *path, const dc_chunk *chunks, int n) {
    size_t tl = strlen(path) + 32;
    char *tmp = malloc(tl);
    if (!tmp) return DC_ERR(DC_ERR_NOMEM, "%s: temporary name", path);
    snprintf(tmp, tl, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        dc_status st = DC_ERR(DC_ERR_IO, "%s: cannot create temporary file %s: %s", path, tmp, strerror(errno));
        free(tmp);
        return st;
    }
    const char *step = "write";
    int ok = 1;
    for (int i = 0; ok && i < n; i++)
        if (chunks[i].bytes && fwrite(chunks[i].data, 1, chunks[i].bytes, f) != chunks[i].bytes) ok = 0;
    if (ok && fflush(f) != 0) { ok = 0; step = "flush"; }
    if (ok && fsync(fileno(f)) != 0) { ok = 0; step = "fsync"; }
    int err = errno;
    if (fclose(f) != 0 && ok) {
        ok = 0;
        step = "close";
        err = errno;
    }
    dc_status st = DC_OK;
    if (!ok) {
        st = DC_ERR(DC_ERR_IO, "%s: %s of temporary file %s failed: %s", path, step, tmp, strerror(err));
    } else if (rename(tmp, path) != 0) {
        st = DC_ERR(DC_ERR_IO, "%s: cannot rename %s over it: %s", path, tmp, strerror(errno));
        ok = 0;
    }
    if (!ok) remove(tmp);
    else fsync_parent_dir(path);
    free(tmp);
    return st;
}

dc_status dc_mkdir_p(const char *dir) {
    char buf[4096];
    if (!dir || !dir[0]) return DC_ERR(DC_ERR_ARG, "empty directory path");
    if (strlen(dir) >= sizeof buf) return DC_ERR(DC_ERR_ARG, "directory path too long: '%s'", dir);
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return DC_ERR(DC_ERR_IO, "cannot create directory '%s' (for '%s'): %s", buf, dir, strerror(errno));
        *p = '/';
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return DC_ERR(DC_ERR_IO, "cannot create directory '%s': %s", dir, strerror(errno));
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return DC_ERR(DC_ERR_IO, "'%s' exists and is not a directory", dir);
    return DC_OK;
}

dc_status dc_read_file(const char *path, size_t max_bytes, char **text, size_t *len) {
    *text = NULL;
    if (len) *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return DC_ERR(DC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return DC_ERR(DC_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > (uint64_t)max_bytes) {
        fclose(f);
        return DC_ERR(DC_ERR_FORMAT, "%s: %lld bytes, more than the %zu accepted", path, (long long)st.st_size, max_bytes);
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return DC_ERR(DC_ERR_NOMEM, "%s: %zu bytes", path, n);
    }
    size_t got = fread(buf, 1, n, f);
    int err = ferror(f);
    fclose(f);
    if (got != n || err) {
        free(buf);
        return DC_ERR(DC_ERR_IO, "%s: read %zu of %zu bytes", path, got, n);
    }
    buf[n] = '\0';
    *text = buf;
    if (len) *len = n;
    return DC_OK;
}

dc_status dc_csv_keep_rows_below(const char *path, int col, double below) {
    if (access(path, F_OK) != 0 && errno == ENOENT) return DC_OK;
    char *text = NULL;
    size_t n = 0;
    DC_TRY(dc_read_file(path, (size_t)1 << 30, &text, &n));
    size_t kept = 0; /* rows kept are moved to the front of text */
    for (size_t at = 0, row = 0; at < n; row++) {
        char *end = memchr(text + at, '\n', n - at);
        size_t len = end ? (size_t)(end - (text + at)) + 1 : n - at;
        const char *field = text + at;
        for (int k = 0; k < col && field; k++) {
            field = memchr(field, ',', (size_t)(text + at + len - field));
            if (field) field++;
        }
        char *stop = NULL;
        double v = field ? strtod(field, &stop) : 0.0;
        if (row == 0 || (field && stop != field && v < below)) {
            memmove(text + kept, text + at, len);
            kept += len;
        }
        at += len;
    }
    dc_chunk c = {text, kept};
    dc_status s = dc_file_write_atomic(path, &c, 1);
    free(text);
    return s;
}
