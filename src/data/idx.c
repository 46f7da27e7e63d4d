/* idx.c — reads IDX files of unsigned bytes (MNIST / Fashion-MNIST layout), plain or gzip-compressed,
 * and builds normalised datasets from an image/label file pair (dc_mnist_load).
 * gzip is recognised by its magic bytes 1f 8b, not by the file name; reading it needs zlib at build
 * time (DC_HAVE_ZLIB), otherwise the error says so.  dc_idx_read reads straight into its result in
 * 16 MB chunks; dc_mnist_load streams the pixels through one such chunk into floats.  It deliberately handles only the unsigned-byte IDX type (0x08) with 1 to 3
 * dimensions, reads regular files only (no pipes), caps the data at 2^31 bytes, rejects trailing bytes
 * after the declared data, and never exits: every problem comes back as a dc_status naming the file
 * (and, for bad contents, the byte offset and the expected vs found value). */
#include "data/data.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#ifdef DC_HAVE_ZLIB
#include <zlib.h>
#endif

#define IDX_MAX_BYTES ((uint64_t)1 << 31) /* the largest data section accepted */
#define IDX_CHUNK ((int64_t)1 << 24)      /* bytes per read call */
#define IDX_MAGIC_LABELS 0x00000801u
#define IDX_MAGIC_IMAGES 0x00000803u

typedef struct idx_src {
    const char *path;
    FILE *fp;
#ifdef DC_HAVE_ZLIB
    gzFile gz;
#endif
    int is_gz;
    int64_t file_size; /* on-disk size */
    int64_t pos;       /* bytes delivered so far (decompressed bytes for gzip) */
} idx_src;

static void src_close(idx_src *s) {
    if (s->fp) fclose(s->fp);
    s->fp = NULL;
#ifdef DC_HAVE_ZLIB
    if (s->gz) gzclose(s->gz);
    s->gz = NULL;
#endif
}

static dc_status src_open(idx_src *s, const char *path) {
    memset(s, 0, sizeof *s);
    s->path = path;
    s->fp = fopen(path, "rb");
    if (!s->fp) return DC_ERR(DC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(s->fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        src_close(s);
        return DC_ERR(DC_ERR_IO, "%s: not a regular file", path);
    }
    s->file_size = (int64_t)st.st_size;
    unsigned char m[2] = {0, 0};
    size_t got = fread(m, 1, 2, s->fp);
    if (got == 2 && m[0] == 0x1f && m[1] == 0x8b) {
        s->is_gz = 1;
#ifdef DC_HAVE_ZLIB
        fclose(s->fp);
        s->fp = NULL;
        s->gz = gzopen(path, "rb");
        if (!s->gz) return DC_ERR(DC_ERR_IO, "%s: cannot open as gzip: %s", path, strerror(errno));
        gzbuffer(s->gz, 1u << 18);
        return DC_OK;
#else
        src_close(s);
        return DC_ERR(DC_ERR_FORMAT,
                      "%s: gzip-compressed (bytes 1f 8b at byte 0) but deepc was built without zlib; "
                      "decompress it with gunzip or rebuild with zlib", path);
#endif
    }
    if (fseek(s->fp, 0, SEEK_SET) != 0) {
        src_close(s);
        return DC_ERR(DC_ERR_IO, "%s: cannot seek: %s", path, strerror(errno));
    }
    return DC_OK;
}

/* Read up to n bytes into buf; *got is what arrived before end of input.  Fails only on a read error
 * or corrupt gzip data. */
static dc_status src_read(idx_src *s, void *buf, int64_t n, int64_t *got) {
    unsigned char *p = buf;
    int64_t done = 0;
    *got = 0;
    while (done < n) {
        int64_t want = n - done < IDX_CHUNK ? n - done : IDX_CHUNK;
#ifdef DC_HAVE_ZLIB
        if (s->is_gz) {
            int r = gzread(s->gz, p + done, (unsigned)want);
            int zerr = Z_OK;
            const char *zmsg = gzerror(s->gz, &zerr);
            if (r < 0 || (zerr != Z_OK && zerr != Z_STREAM_END)) {
                if (zerr == Z_ERRNO)
                    return DC_ERR(DC_ERR_IO, "%s: read error: %s", s->path, strerror(errno));
                /* zlib's message reads "<path>: <what>"; keep only <what>. */
                size_t pl = strlen(s->path);
                if (zmsg && strncmp(zmsg, s->path, pl) == 0 && strncmp(zmsg + pl, ": ", 2) == 0) zmsg += pl + 2;
                return DC_ERR(DC_ERR_FORMAT,
                              "%s: corrupt or truncated gzip stream (zlib: %s), detected while reading decompressed "
                              "byte %lld (compressed file is %lld bytes)",
                              s->path, zmsg ? zmsg : "?", (long long)(s->pos + done + (r > 0 ? r : 0)),
                              (long long)s->file_size);
            }
            if (r == 0) break;
            done += r;
            continue;
        }
#endif
        size_t r = fread(p + done, 1, (size_t)want, s->fp);
        done += (int64_t)r;
        if ((int64_t)r < want) {
            if (ferror(s->fp))
                return DC_ERR(DC_ERR_IO, "%s: read error after byte %lld: %s", s->path,
                              (long long)(s->pos + done), strerror(errno));
            break;
        }
    }
    s->pos += done;
    *got = done;
    return DC_OK;
}

static uint32_t be32(const unsigned char *b) {
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | (uint32_t)b[3];
}

static const char *magic_kind(uint32_t magic) {
    return magic == IDX_MAGIC_LABELS ? "labels" : magic == IDX_MAGIC_IMAGES ? "images" : "unsigned-byte IDX";
}

/* An IDX file whose header has been read and checked; the data follows. */
typedef struct idx_file {
    idx_src s;
    int rank;
    int64_t dims[3];
    uint64_t total;      /* data bytes the header declares */
    int64_t hdr_len;
    const char *what;    /* "pixels", "labels" or "data" */
    const char *where;   /* "file ends" or "decompressed data ends" */
} idx_file;

/* Open path and check its header.  expect: the exact magic wanted, or 0 for any unsigned-byte IDX with
 * 1..3 dimensions.  On failure nothing stays open. */
static dc_status idx_open(const char *path, uint32_t expect, idx_file *f) {
    memset(f, 0, sizeof *f);
    DC_TRY(src_open(&f->s, path));
    f->where = f->s.is_gz ? "decompressed data ends" : "file ends";
    unsigned char hdr[16];
    int64_t got;
    dc_status st = src_read(&f->s, hdr, 4, &got);
    if (st != DC_OK) goto fail;
    if (got < 4) {
        st = DC_ERR(DC_ERR_FORMAT, "%s: truncated header: expected 4 bytes of IDX magic, %s at byte %lld",
                    path, f->where, (long long)got);
        goto fail;
    }
    uint32_t magic = be32(hdr);
    int r = (int)(magic & 0xff);
    if (expect ? magic != expect : (magic & 0xffffff00u) != 0x00000800u || r < 1 || r > 3) {
        if (expect)
            st = DC_ERR(DC_ERR_FORMAT, "%s: bad IDX magic 0x%08x at byte 0, expected 0x%08x (%s)", path,
                        (unsigned)magic, (unsigned)expect, magic_kind(expect));
        else
            st = DC_ERR(DC_ERR_FORMAT,
                        "%s: bad IDX magic 0x%08x at byte 0, expected 0x00000801..0x00000803 "
                        "(unsigned bytes, 1 to 3 dimensions)", path, (unsigned)magic);
        goto fail;
    }
    f->rank = r;
    f->hdr_len = 4 + 4 * (int64_t)r;
    st = src_read(&f->s, hdr + 4, 4 * (int64_t)r, &got);
    if (st != DC_OK) goto fail;
    if (got < 4 * (int64_t)r) {
        st = DC_ERR(DC_ERR_FORMAT, "%s: truncated header: expected %lld bytes, %s at byte %lld", path,
                    (long long)f->hdr_len, f->where, (long long)(4 + got));
        goto fail;
    }
    uint64_t total = 1;
    for (int i = 0; i < r; i++) {
        f->dims[i] = (int64_t)be32(hdr + 4 + 4 * i);
        total *= (uint64_t)f->dims[i]; /* each factor < 2^32 and total stays <= 2^31 below: no overflow */
        if (total > IDX_MAX_BYTES) {
            st = DC_ERR(DC_ERR_FORMAT,
                        "%s: absurd dimensions in the header (dimension %d = %lld at byte %d makes more than "
                        "2^31 bytes of data)", path, i, (long long)f->dims[i], 4 + 4 * i);
            goto fail;
        }
    }
    f->total = total;
    f->what = r == 1 ? "labels" : r == 3 ? "pixels" : "data";
    /* Reject impossible sizes before anyone allocates: a plain file must hold them; deflate expands at
     * most about 1032:1, so a gzip file far too small for the declared size is truncated as well. */
    if (!f->s.is_gz && (uint64_t)f->s.file_size < (uint64_t)f->hdr_len + total) {
        st = DC_ERR(DC_ERR_FORMAT, "%s: truncated: expected %llu bytes of %s after byte %lld, file ends at byte %lld",
                    path, (unsigned long long)total, f->what, (long long)f->hdr_len, (long long)f->s.file_size);
        goto fail;
    }
    if (f->s.is_gz && total > (uint64_t)f->s.file_size * 1100u + 4096u) {
        st = DC_ERR(DC_ERR_FORMAT,
                    "%s: truncated: expected %llu bytes of %s after byte %lld, more than a %lld-byte gzip file "
                    "can hold", path, (unsigned long long)total, f->what, (long long)f->hdr_len,
                    (long long)f->s.file_size);
        goto fail;
    }
    return DC_OK;
fail:
    src_close(&f->s);
    return st;
}

/* The next n bytes of data, which must all be there. */
static dc_status idx_data(idx_file *f, void *buf, int64_t n) {
    int64_t got;
    DC_TRY(src_read(&f->s, buf, n, &got));
    if (got < n)
        return DC_ERR(DC_ERR_FORMAT, "%s: truncated: expected %llu bytes of %s after byte %lld, %s at byte %lld",
                      f->s.path, (unsigned long long)f->total, f->what, (long long)f->hdr_len, f->where,
                      (long long)f->s.pos);
    return DC_OK;
}

/* After all data was read: no byte may follow (for gzip this also makes zlib check the CRC trailer).
 * Closes the file either way. */
static dc_status idx_finish(idx_file *f) {
    unsigned char extra;
    int64_t got;
    dc_status st = src_read(&f->s, &extra, 1, &got);
    if (st == DC_OK && got != 0)
        st = DC_ERR(DC_ERR_FORMAT, "%s: unexpected data after byte %lld (the header declares %lld bytes in all)",
                    f->s.path, (long long)(f->hdr_len + (int64_t)f->total),
                    (long long)(f->hdr_len + (int64_t)f->total));
    src_close(&f->s);
    return st;
}

static dc_status idx_read_expect(const char *path, uint32_t expect, uint8_t **data, int *rank, int64_t dims[3]) {
    if (!path || !data || !rank || !dims) return DC_ERR(DC_ERR_ARG, "dc_idx_read: NULL argument");
    *data = NULL;
    *rank = 0;
    dims[0] = dims[1] = dims[2] = 0;
    idx_file f;
    DC_TRY(idx_open(path, expect, &f));
    uint8_t *buf = malloc(f.total ? (size_t)f.total : 1);
    if (!buf) {
        src_close(&f.s);
        return DC_ERR(DC_ERR_NOMEM, "%s: %llu bytes of %s", path, (unsigned long long)f.total, f.what);
    }
    dc_status st = idx_data(&f, buf, (int64_t)f.total);
    if (st != DC_OK) src_close(&f.s);
    else st = idx_finish(&f);
    if (st != DC_OK) {
        free(buf);
        return st;
    }
    *data = buf;
    *rank = f.rank;
    for (int i = 0; i < 3; i++) dims[i] = f.dims[i];
    return DC_OK;
}

/* A float array for n values.  Large arrays are 2 MiB aligned and advised for transparent huge pages:
 * on Linux this cuts the page-fault cost of touching 188 MB of training images several-fold.
 * Freed with free(). */
float *dc_data_alloc_floats(size_t n) {
    size_t bytes = (n ? n : 1) * sizeof(float);
#ifdef MADV_HUGEPAGE
    const size_t huge = (size_t)1 << 21;
    if (bytes >= 4 * huge) {
        size_t sz = (bytes + huge - 1) / huge * huge;
        float *p = aligned_alloc(huge, sz);
        if (p) (void)madvise(p, sz, MADV_HUGEPAGE); /* advice only; failure is harmless */
        return p;
    }
#endif
    return malloc(bytes);
}

dc_status dc_idx_read(const char *path, uint8_t **data, int *rank, int64_t dims[3]) {
    return idx_read_expect(path, 0, data, rank, dims);
}

/* "<dir>/<name>.gz" when it exists, else "<dir>/<name>"; DC_ERR_IO naming both when neither does. */
static dc_status find_file(const char *dir, const char *name, char *out, size_t n) {
    struct stat st;
    int len = snprintf(out, n, "%s/%s.gz", dir, name);
    if (len < 3 || (size_t)len >= n) return DC_ERR(DC_ERR_ARG, "dc_mnist_load: path too long: %s/%s.gz", dir, name);
    if (stat(out, &st) == 0) return DC_OK;
    out[len - 3] = '\0'; /* drop ".gz" */
    if (stat(out, &st) == 0) return DC_OK;
    return DC_ERR(DC_ERR_IO, "%s: no such file (nor %s.gz): %s", out, out, strerror(errno));
}

dc_status dc_mnist_load(const char *dir, const char *split, float mean, float std, int64_t limit,
                        dc_dataset **out) {
    if (!out) return DC_ERR(DC_ERR_ARG, "dc_mnist_load: out is NULL");
    *out = NULL;
    if (!dir || !split) return DC_ERR(DC_ERR_ARG, "dc_mnist_load: dir or split is NULL");
    const char *prefix;
    if (strcmp(split, "train") == 0) prefix = "train";
    else if (strcmp(split, "test") == 0) prefix = "t10k";
    else return DC_ERR(DC_ERR_ARG, "dc_mnist_load: split \"%s\" is neither \"train\" nor \"test\"", split);
    if (!isfinite(mean) || !isfinite(std) || std <= 0.0f)
        return DC_ERR(DC_ERR_ARG, "dc_mnist_load: mean %g and std %g must be finite with std > 0", (double)mean,
                      (double)std);

    char img_path[4096], lbl_path[4096], name[64];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", prefix);
    DC_TRY(find_file(dir, name, img_path, sizeof img_path));
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix);
    DC_TRY(find_file(dir, name, lbl_path, sizeof lbl_path));

    uint8_t *lab = NULL;
    int rank;
    int64_t ldim[3] = {0, 0, 0};
    DC_TRY(idx_read_expect(lbl_path, IDX_MAGIC_LABELS, &lab, &rank, ldim));
    for (int64_t i = 0; i < ldim[0]; i++)
        if (lab[i] > 9) {
            dc_status e = DC_ERR(DC_ERR_FORMAT, "%s: label %d of example %lld (byte %lld) is outside 0..9", lbl_path,
                                 (int)lab[i], (long long)i, (long long)(8 + i));
            free(lab);
            return e;
        }
    idx_file img;
    dc_status st = idx_open(img_path, IDX_MAGIC_IMAGES, &img);
    if (st != DC_OK) {
        free(lab);
        return st;
    }
    dc_dataset *ds = NULL;
    uint8_t *chunk = NULL;
    int img_open = 1;
    const int64_t *idim = img.dims;
    if (idim[0] != ldim[0]) {
        st = DC_ERR(DC_ERR_FORMAT, "image count %lld (%s) != label count %lld (%s)", (long long)idim[0], img_path,
                    (long long)ldim[0], lbl_path);
        goto done;
    }
    if (idim[1] <= 0 || idim[2] <= 0) {
        st = DC_ERR(DC_ERR_FORMAT, "%s: image size %lldx%lld at bytes 8..15 is empty", img_path, (long long)idim[1],
                    (long long)idim[2]);
        goto done;
    }
    int64_t n = idim[0];
    if (limit > 0 && limit < n) n = limit;
    int64_t hw = idim[1] * idim[2], keep = n * hw, total = idim[0] * hw;
    ds = calloc(1, sizeof *ds);
    chunk = malloc((size_t)IDX_CHUNK);
    if (ds) {
        ds->n = n;
        ds->c = 1;
        ds->h = (int)idim[1];
        ds->w = (int)idim[2];
        ds->num_classes = 10;
        ds->images = dc_data_alloc_floats((size_t)keep);
        ds->labels = malloc((size_t)(n > 0 ? n : 1) * sizeof(int32_t));
    }
    if (!ds || !chunk || !ds->images || !ds->labels) {
        st = DC_ERR(DC_ERR_NOMEM, "%lld images of %lldx%lld as float32", (long long)n, (long long)idim[1],
                    (long long)idim[2]);
        goto done;
    }
    float lut[256];
    for (int v = 0; v < 256; v++) lut[v] = ((float)v / 255.0f - mean) / std;
    /* Stream the pixels through a small buffer straight into floats (no full-size byte copy); pixels
     * beyond `limit` are still read so that truncation and the gzip CRC are checked. */
    for (int64_t at = 0; at < total && st == DC_OK; at += IDX_CHUNK) {
        int64_t len = total - at < IDX_CHUNK ? total - at : IDX_CHUNK;
        st = idx_data(&img, chunk, len);
        for (int64_t k = 0; st == DC_OK && k < len && at + k < keep; k++) ds->images[at + k] = lut[chunk[k]];
    }
    if (st == DC_OK) {
        img_open = 0;
        st = idx_finish(&img);
    }
    if (st == DC_OK) {
        for (int64_t i = 0; i < n; i++) ds->labels[i] = lab[i];
        *out = ds;
        ds = NULL;
    }
done:
    if (img_open) src_close(&img.s);
    dc_dataset_free(ds);
    free(chunk);
    free(lab);
    return st;
}
