/* test_data.c — IDX reading (plain and gzip), MNIST-format loading with its error cases, the real
 * Fashion-MNIST test split, dataset splits and the mini-batcher.
 * Small IDX files are written into the test's temporary directory; nothing outside it is touched. */
#include "test.h"
#include "data/data.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#ifdef DC_HAVE_ZLIB
#include <zlib.h>
#endif

static const char *tmp_path(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "%s/%s", dc_test_tmp_dir(), name);
    return buf;
}

static int write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(p, 1, n, f);
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

#ifdef DC_HAVE_ZLIB
static int write_gz(const char *path, const void *p, size_t n) {
    gzFile g = gzopen(path, "wb");
    if (!g) return -1;
    int w = n ? gzwrite(g, p, (unsigned)n) : 0;
    return (gzclose(g) == Z_OK && (size_t)w == n) ? 0 : -1;
}

static int read_bytes(const char *path, unsigned char **p, size_t *n) {
    *p = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    *p = malloc(sz > 0 ? (size_t)sz : 1);
    *n = *p && sz > 0 ? fread(*p, 1, (size_t)sz, f) : 0;
    fclose(f);
    return *p ? 0 : -1;
}
#endif

/* An IDX image: magic, big-endian dims, then `payload` bytes (payload may be shorter/longer than the
 * dims say, to make corrupt files).  Returns the byte count written into out. */
static size_t make_idx(unsigned char *out, uint32_t magic, int rank, const uint32_t *dims, const unsigned char *payload,
                       size_t payload_n) {
    size_t o = 0;
    for (int k = 3; k >= 0; k--) out[o++] = (unsigned char)(magic >> (8 * k));
    for (int i = 0; i < rank; i++)
        for (int k = 3; k >= 0; k--) out[o++] = (unsigned char)(dims[i] >> (8 * k));
    if (payload_n) memcpy(out + o, payload, payload_n);
    return o + payload_n;
}

/* 3 images of 2x2 with pixel values 0, 10, ..., 110 and labels 7, 0, 9. */
static const unsigned char k_pix[12] = {0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110};
static const unsigned char k_lab[3] = {7, 0, 9};
static const uint32_t k_idim[3] = {3, 2, 2};
static const uint32_t k_ldim[1] = {3};

TEST(idx_reads_plain_file) {
    char p[512];
    unsigned char buf[64];
    size_t n = make_idx(buf, 0x803, 3, k_idim, k_pix, sizeof k_pix);
    CHECK(write_bytes(tmp_path(p, sizeof p, "plain-idx3"), buf, n) == 0);
    uint8_t *data = NULL;
    int rank = 0;
    int64_t dims[3];
    CHECK_OK(dc_idx_read(p, &data, &rank, dims));
    CHECK(rank == 3 && dims[0] == 3 && dims[1] == 2 && dims[2] == 2);
    CHECK(data && memcmp(data, k_pix, sizeof k_pix) == 0);
    free(data);

    n = make_idx(buf, 0x801, 1, k_ldim, k_lab, sizeof k_lab);
    CHECK(write_bytes(tmp_path(p, sizeof p, "plain-idx1"), buf, n) == 0);
    CHECK_OK(dc_idx_read(p, &data, &rank, dims));
    CHECK(rank == 1 && dims[0] == 3 && dims[1] == 0 && data && data[2] == 9);
    free(data);
}

#ifdef DC_HAVE_ZLIB
TEST(idx_reads_gzip_file_by_magic) {
    char p[512];
    unsigned char buf[64];
    size_t n = make_idx(buf, 0x803, 3, k_idim, k_pix, sizeof k_pix);
    /* No ".gz" in the name: detection is by the 1f 8b magic. */
    CHECK(write_gz(tmp_path(p, sizeof p, "gz-idx3-noext"), buf, n) == 0);
    uint8_t *data = NULL;
    int rank = 0;
    int64_t dims[3];
    CHECK_OK(dc_idx_read(p, &data, &rank, dims));
    CHECK(rank == 3 && dims[0] == 3 && dims[1] == 2 && dims[2] == 2);
    CHECK(data && memcmp(data, k_pix, sizeof k_pix) == 0);
    free(data);
}

TEST(idx_rejects_corrupt_gzip) {
    char p[512], q[512];
    unsigned char buf[4096];
    unsigned char pix[4000];
    for (int i = 0; i < 4000; i++) pix[i] = (unsigned char)((i * 7919) % 251); /* poorly compressible */
    uint32_t dims[3] = {10, 20, 20};
    size_t n = make_idx(buf, 0x803, 3, dims, pix, sizeof pix);
    CHECK(write_gz(tmp_path(p, sizeof p, "gz-corrupt-src"), buf, n) == 0);
    unsigned char *gz;
    size_t gzn;
    if (read_bytes(p, &gz, &gzn) != 0 || gzn <= 100) {
        CHECK_MSG(0, "could not read back %s", p);
        free(gz);
        return;
    }
    uint8_t *data = (uint8_t *)1;
    int rank;
    int64_t d[3];
    /* Flipped bytes in the deflate stream. */
    for (size_t i = gzn / 2; i < gzn / 2 + 16; i++) gz[i] ^= 0x5a;
    CHECK(write_bytes(tmp_path(q, sizeof q, "gz-corrupt-flip"), gz, gzn) == 0);
    CHECK_ERR(dc_idx_read(q, &data, &rank, d), DC_ERR_FORMAT);
    CHECK(data == NULL);
    CHECK(strstr(dc_last_error(), "gz-corrupt-flip") != NULL);
    for (size_t i = gzn / 2; i < gzn / 2 + 16; i++) gz[i] ^= 0x5a;
    /* Cut off half way. */
    CHECK(write_bytes(tmp_path(q, sizeof q, "gz-corrupt-cut"), gz, gzn / 2) == 0);
    CHECK_ERR(dc_idx_read(q, &data, &rank, d), DC_ERR_FORMAT);
    /* A wrong CRC in the trailer. */
    gz[gzn - 6] ^= 0xff;
    CHECK(write_bytes(tmp_path(q, sizeof q, "gz-corrupt-crc"), gz, gzn) == 0);
    CHECK_ERR(dc_idx_read(q, &data, &rank, d), DC_ERR_FORMAT);
    /* Only the gzip magic, nothing valid after it. */
    unsigned char bad[8] = {0x1f, 0x8b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    CHECK(write_bytes(tmp_path(q, sizeof q, "gz-corrupt-header"), bad, sizeof bad) == 0);
    CHECK_ERR(dc_idx_read(q, &data, &rank, d), DC_ERR_FORMAT);
    free(gz);
}
#endif

#ifndef DC_HAVE_ZLIB
TEST(idx_gzip_without_zlib_says_so) {
    char p[512];
    unsigned char gz[20] = {0x1f, 0x8b, 8, 0};
    CHECK(write_bytes(tmp_path(p, sizeof p, "nozlib.gz"), gz, sizeof gz) == 0);
    uint8_t *data = NULL;
    int rank;
    int64_t d[3];
    CHECK_ERR(dc_idx_read(p, &data, &rank, d), DC_ERR_FORMAT);
    CHECK(strstr(dc_last_error(), "without zlib") != NULL);
}
#endif

TEST(idx_error_cases_name_file_and_offset) {
    char p[512];
    unsigned char buf[64];
    uint8_t *data = NULL;
    int rank;
    int64_t d[3];

    CHECK_ERR(dc_idx_read(tmp_path(p, sizeof p, "does-not-exist"), &data, &rank, d), DC_ERR_IO);
    CHECK(strstr(dc_last_error(), "does-not-exist") != NULL);

    size_t n = make_idx(buf, 0x12345678, 3, k_idim, k_pix, sizeof k_pix);
    CHECK(write_bytes(tmp_path(p, sizeof p, "bad-magic"), buf, n) == 0);
    CHECK_ERR(dc_idx_read(p, &data, &rank, d), DC_ERR_FORMAT);
    CHECK(strstr(dc_last_error(), "0x12345678") && strstr(dc_last_error(), "byte 0") &&
          strstr(dc_last_error(), "bad-magic"));

    n = make_idx(buf, 0x803, 3, k_idim, k_pix, sizeof k_pix);
    CHECK(write_bytes(tmp_path(p, sizeof p, "short-header"), buf, 10) == 0);
    CHECK_ERR(dc_idx_read(p, &data, &rank, d), DC_ERR_FORMAT);
    CHECK(strstr(dc_last_error(), "header") && strstr(dc_last_error(), "byte 10"));
    CHECK(write_bytes(tmp_path(p, sizeof p, "tiny"), buf, 2) == 0);
    CHECK_ERR(dc_idx_read(p, &data, &rank, d), DC_ERR_FORMAT);

    CHECK(write_bytes(tmp_path(p, sizeof p, "short-data"), buf, n - 5) == 0);
    CHECK_ERR(dc_idx_read(p, &data, &rank, d), DC_ERR_FORMAT);
    CHECK(strstr(dc_last_error(), "truncated") && strstr(dc_last_error(), "12 bytes") &&
          strstr(dc_last_error(), "byte 16") && strstr(dc_last_error(), "byte 23"));

    buf[n] = 0;
    CHECK(write_bytes(tmp_path(p, sizeof p, "trailing"), buf, n + 1) == 0);
    CHECK_ERR(dc_idx_read(p, &data, &rank, d), DC_ERR_FORMAT);

    uint32_t huge[3] = {100000, 100000, 1000};
    n = make_idx(buf, 0x803, 3, huge, k_pix, sizeof k_pix);
    CHECK(write_bytes(tmp_path(p, sizeof p, "absurd-dims"), buf, n) == 0);
    CHECK_ERR(dc_idx_read(p, &data, &rank, d), DC_ERR_FORMAT);
    uint32_t big[3] = {60000, 28, 28}; /* plausible dims, tiny file: rejected before allocating */
    n = make_idx(buf, 0x803, 3, big, k_pix, sizeof k_pix);
    CHECK(write_bytes(tmp_path(p, sizeof p, "small-for-dims"), buf, n) == 0);
    CHECK_ERR(dc_idx_read(p, &data, &rank, d), DC_ERR_FORMAT);
    CHECK(strstr(dc_last_error(), "47040000") != NULL);

    n = make_idx(buf, 0x804, 3, k_idim, k_pix, sizeof k_pix); /* rank 4 */
    CHECK(write_bytes(tmp_path(p, sizeof p, "rank4"), buf, n) == 0);
    CHECK_ERR(dc_idx_read(p, &data, &rank, d), DC_ERR_FORMAT);
    CHECK(data == NULL);
    CHECK_ERR(dc_idx_read(NULL, &data, &rank, d), DC_ERR_ARG);
}

/* Writes {prefix}-images-idx3-ubyte[.gz] and {prefix}-labels-idx1-ubyte[.gz] into a fresh subdirectory. */
static void make_mnist_dir(char *dir, size_t dn, const char *sub, const char *prefix, uint32_t img_magic,
                           const uint32_t *idim, const unsigned char *pix, size_t npix, const uint32_t *ldim,
                           const unsigned char *lab, size_t nlab, int gz_labels) {
    char p[600];
    unsigned char buf[256];
    tmp_path(dir, dn, sub);
    mkdir(dir, 0700);
    size_t n = make_idx(buf, img_magic, 3, idim, pix, npix);
    snprintf(p, sizeof p, "%s/%s-images-idx3-ubyte", dir, prefix);
    CHECK(write_bytes(p, buf, n) == 0);
    n = make_idx(buf, 0x801, 1, ldim, lab, nlab);
#ifdef DC_HAVE_ZLIB
    if (gz_labels) {
        snprintf(p, sizeof p, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
        CHECK(write_gz(p, buf, n) == 0);
        return;
    }
#endif
    snprintf(p, sizeof p, "%s/%s-labels-idx1-ubyte", dir, prefix);
    CHECK(write_bytes(p, buf, n) == 0);
}

TEST(mnist_load_small_dir) {
    char dir[512];
    make_mnist_dir(dir, sizeof dir, "mnist-ok", "train", 0x803, k_idim, k_pix, sizeof k_pix, k_ldim, k_lab,
                   sizeof k_lab, 1);
    dc_dataset *ds = NULL;
    CHECK_OK(dc_mnist_load(dir, "train", 0.5f, 0.25f, 0, &ds));
    CHECK(ds && ds->n == 3 && ds->c == 1 && ds->h == 2 && ds->w == 2 && ds->num_classes == 10);
    if (ds) {
        for (int i = 0; i < 12; i++) CHECK_NEAR(ds->images[i], (k_pix[i] / 255.0 - 0.5) / 0.25, 1e-5);
        CHECK(ds->labels[0] == 7 && ds->labels[1] == 0 && ds->labels[2] == 9);
    }
    dc_dataset_free(ds);
    CHECK_OK(dc_mnist_load(dir, "train", 0.0f, 1.0f, 2, &ds));
    CHECK(ds && ds->n == 2 && ds->labels[1] == 0);
    if (ds) CHECK_NEAR(ds->images[7], 70 / 255.0, 1e-6);
    dc_dataset_free(ds);

    ds = (dc_dataset *)1;
    CHECK_ERR(dc_mnist_load(dir, "test", 0.0f, 1.0f, 0, &ds), DC_ERR_IO); /* no t10k files */
    CHECK(ds == NULL);
    CHECK(strstr(dc_last_error(), "t10k-images-idx3-ubyte") != NULL);
    CHECK_ERR(dc_mnist_load(dir, "valid", 0.0f, 1.0f, 0, &ds), DC_ERR_ARG);
    CHECK_ERR(dc_mnist_load(dir, "train", 0.0f, 0.0f, 0, &ds), DC_ERR_ARG);
    CHECK_ERR(dc_mnist_load(NULL, "train", 0.0f, 1.0f, 0, &ds), DC_ERR_ARG);
}

TEST(mnist_load_rejects_inconsistent_files) {
    char dir[512];
    dc_dataset *ds = NULL;
    uint32_t ld2[1] = {2};
    make_mnist_dir(dir, sizeof dir, "mnist-count", "t10k", 0x803, k_idim, k_pix, sizeof k_pix, ld2, k_lab, 2, 0);
    CHECK_ERR(dc_mnist_load(dir, "test", 0.0f, 1.0f, 0, &ds), DC_ERR_FORMAT);
    CHECK(strstr(dc_last_error(), "image count 3") && strstr(dc_last_error(), "label count 2"));

    unsigned char badlab[3] = {1, 2, 12};
    make_mnist_dir(dir, sizeof dir, "mnist-range", "t10k", 0x803, k_idim, k_pix, sizeof k_pix, k_ldim, badlab, 3, 1);
    CHECK_ERR(dc_mnist_load(dir, "test", 0.0f, 1.0f, 0, &ds), DC_ERR_FORMAT);
    CHECK(strstr(dc_last_error(), "label 12") && strstr(dc_last_error(), "example 2"));

    /* An images file carrying the labels magic. */
    make_mnist_dir(dir, sizeof dir, "mnist-magic", "t10k", 0x801, k_idim, k_pix, sizeof k_pix, k_ldim, k_lab, 3, 0);
    CHECK_ERR(dc_mnist_load(dir, "test", 0.0f, 1.0f, 0, &ds), DC_ERR_FORMAT);
    CHECK(strstr(dc_last_error(), "expected 0x00000803 (images)") != NULL);

    /* Truncated pixels. */
    make_mnist_dir(dir, sizeof dir, "mnist-trunc", "t10k", 0x803, k_idim, k_pix, 7, k_ldim, k_lab, 3, 1);
    CHECK_ERR(dc_mnist_load(dir, "test", 0.0f, 1.0f, 0, &ds), DC_ERR_FORMAT);
    CHECK(strstr(dc_last_error(), "truncated") != NULL);
    CHECK(ds == NULL);
}

/* Whether the real data set is there in a form this build can read (gzip needs zlib). */
static int have_fashion(void) {
    char p[600];
    struct stat st;
#ifdef DC_HAVE_ZLIB
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte.gz", dc_test_data_dir());
    if (stat(p, &st) == 0) return 1;
#endif
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte", dc_test_data_dir());
    return stat(p, &st) == 0;
}

TEST(fashion_mnist_test_split) {
    if (!have_fashion()) {
        printf("     (skipped: no readable Fashion-MNIST in %s; set DC_DATA, or build with zlib for .gz)\n",
               dc_test_data_dir());
        return;
    }
    char p[600];
    struct stat st;
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte.gz", dc_test_data_dir());
    if (stat(p, &st) != 0) snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte", dc_test_data_dir());
    uint8_t *lab = NULL;
    int rank = 0;
    int64_t d[3];
    CHECK_OK(dc_idx_read(p, &lab, &rank, d));
    CHECK(rank == 1 && d[0] == 10000);
    CHECK(lab && lab[0] == 9); /* the first t10k item is an ankle boot */
    free(lab);

    dc_dataset *ds = NULL;
    CHECK_OK(dc_mnist_load(dc_test_data_dir(), "test", 0.2860f, 0.3530f, 0, &ds));
    if (!ds) return;
    CHECK(ds->n == 10000 && ds->c == 1 && ds->h == 28 && ds->w == 28 && ds->num_classes == 10);
    CHECK(ds->labels[0] == 9);
    int counts[10] = {0};
    for (int64_t i = 0; i < ds->n; i++) {
        CHECK(ds->labels[i] >= 0 && ds->labels[i] <= 9);
        if (ds->labels[i] >= 0 && ds->labels[i] <= 9) counts[ds->labels[i]]++;
    }
    for (int k = 0; k < 10; k++) CHECK(counts[k] == 1000); /* the test split is balanced */
    double sum = 0;
    for (int64_t i = 0; i < ds->n * 28 * 28; i++) sum += ds->images[i];
    double mean = sum / (double)(ds->n * 28 * 28);
    CHECK_MSG(fabs(mean) < 0.1, "normalised mean %g", mean);
    dc_dataset_free(ds);
}

TEST(fashion_mnist_train_split_loads) {
    if (!have_fashion()) return;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    dc_dataset *ds = NULL;
    CHECK_OK(dc_mnist_load(dc_test_data_dir(), "train", 0.2860f, 0.3530f, 0, &ds));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK(ds && ds->n == 60000 && ds->h == 28 && ds->w == 28);
    printf("     (60000 training images loaded in %.0f ms)\n",
           (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
    dc_dataset_free(ds);
}

/* n examples of 1x2x2 whose pixels all equal the example index; label = index % classes. */
static dc_dataset *toy(int64_t n, int classes) {
    float *img = malloc((size_t)n * 4 * sizeof(float));
    int32_t *lab = malloc((size_t)n * sizeof(int32_t));
    for (int64_t i = 0; i < n; i++) {
        for (int k = 0; k < 4; k++) img[i * 4 + k] = (float)i;
        lab[i] = (int32_t)(i % classes);
    }
    dc_dataset *ds = NULL;
    CHECK_OK(dc_dataset_from_arrays(n, 1, 2, 2, classes, img, lab, &ds));
    free(img);
    free(lab);
    return ds;
}

TEST(dataset_from_arrays_validates) {
    float img[8] = {0};
    int32_t lab[2] = {0, 3};
    dc_dataset *ds = (dc_dataset *)1;
    CHECK_ERR(dc_dataset_from_arrays(2, 1, 2, 2, 3, img, lab, &ds), DC_ERR_ARG);
    CHECK(ds == NULL && strstr(dc_last_error(), "index 1") != NULL);
    CHECK_ERR(dc_dataset_from_arrays(2, 0, 2, 2, 4, img, lab, &ds), DC_ERR_ARG);
    CHECK_ERR(dc_dataset_from_arrays(2, 1, 2, 2, 4, NULL, lab, &ds), DC_ERR_ARG);
    CHECK_OK(dc_dataset_from_arrays(0, 1, 2, 2, 4, NULL, NULL, &ds));
    CHECK(ds && ds->n == 0);
    dc_dataset_free(ds);
    dc_dataset_free(NULL);
}

TEST(dataset_split_sizes_and_seeded_permutation) {
    dc_dataset *ds = toy(50, 50), *a = NULL, *b = NULL, *a2 = NULL, *b2 = NULL;
    if (!ds) return;
    CHECK_OK(dc_dataset_split(ds, 20, 0, &a, &b));
    CHECK(a && b && a->n == 20 && b->n == 30 && a->h == 2 && b->num_classes == 50);
    if (a && b) {
        for (int i = 0; i < 20; i++) CHECK(a->labels[i] == i && a->images[i * 4 + 3] == (float)i);
        for (int i = 0; i < 30; i++) CHECK(b->labels[i] == 20 + i);
    }
    dc_dataset_free(a);
    dc_dataset_free(b);

    CHECK_OK(dc_dataset_split(ds, 20, 1234, &a, &b));
    CHECK_OK(dc_dataset_split(ds, 20, 1234, &a2, &b2));
    if (a && b && a2 && b2) {
        int seen[50] = {0}, in_order = 1;
        for (int i = 0; i < 20; i++) {
            CHECK(a->labels[i] == a2->labels[i]);
            CHECK(a->images[i * 4] == (float)a->labels[i]); /* image travels with its label */
            seen[a->labels[i]]++;
            if (a->labels[i] != i) in_order = 0;
        }
        for (int i = 0; i < 30; i++) {
            CHECK(b->labels[i] == b2->labels[i]);
            CHECK(b->images[i * 4 + 1] == (float)b->labels[i]);
            seen[b->labels[i]]++;
        }
        for (int i = 0; i < 50; i++) CHECK(seen[i] == 1); /* a permutation */
        CHECK(!in_order);
    }
    dc_dataset_free(a);
    dc_dataset_free(b);
    dc_dataset_free(a2);
    dc_dataset_free(b2);

    CHECK_OK(dc_dataset_split(ds, 50, 7, &a, NULL));
    CHECK(a && a->n == 50);
    dc_dataset_free(a);
    CHECK_OK(dc_dataset_split(ds, 0, 7, NULL, &b));
    CHECK(b && b->n == 50);
    dc_dataset_free(b);
    CHECK_ERR(dc_dataset_split(ds, 51, 0, &a, &b), DC_ERR_ARG);
    CHECK(a == NULL && b == NULL);
    CHECK_ERR(dc_dataset_split(ds, -1, 0, &a, &b), DC_ERR_ARG);
    dc_dataset_free(ds);
}

/* Runs one epoch; order[] gets the example indices in visiting order.  Returns examples seen. */
static int64_t run_epoch(dc_batcher *b, int64_t batch, int64_t *order, int64_t *nbatches) {
    float x[16 * 4], y[16];
    int64_t total = 0, c;
    *nbatches = 0;
    while ((c = dc_batcher_next(b, x, y)) > 0) {
        CHECK(c <= batch);
        for (int64_t i = 0; i < c; i++) {
            CHECK(x[i * 4] == y[i] && x[i * 4 + 3] == y[i]); /* pixels match the label (= index) */
            order[total++] = (int64_t)y[i];
        }
        (*nbatches)++;
    }
    CHECK(dc_batcher_next(b, x, y) == 0); /* stays over until reset */
    return total;
}

TEST(batcher_covers_epoch_and_reshuffles) {
    dc_dataset *ds = toy(10, 10);
    if (!ds) return;
    dc_batcher *b = NULL, *b2 = NULL;
    int64_t o1[10], o2[10], o3[10], nb;
    CHECK_OK(dc_batcher_create(ds, 3, 1, 99, 0, &b));
    CHECK(dc_batcher_batches(b) == 4);
    CHECK(run_epoch(b, 3, o1, &nb) == 10 && nb == 4);
    dc_batcher_reset(b);
    CHECK(run_epoch(b, 3, o2, &nb) == 10 && nb == 4);
    int seen1[10] = {0}, seen2[10] = {0}, same = 1, sorted = 1;
    for (int i = 0; i < 10; i++) {
        seen1[o1[i]]++;
        seen2[o2[i]]++;
        if (o1[i] != o2[i]) same = 0;
        if (o1[i] != i) sorted = 0;
    }
    for (int i = 0; i < 10; i++) CHECK(seen1[i] == 1 && seen2[i] == 1);
    CHECK(!same);   /* a new permutation each epoch */
    CHECK(!sorted); /* and actually shuffled */
    /* Same seed, same sequence of epochs. */
    CHECK_OK(dc_batcher_create(ds, 3, 1, 99, 0, &b2));
    CHECK(run_epoch(b2, 3, o3, &nb) == 10);
    CHECK(memcmp(o1, o3, sizeof o1) == 0);
    dc_batcher_free(b2);
    dc_batcher_free(b);

    /* No shuffle: file order, final partial batch. */
    CHECK_OK(dc_batcher_create(ds, 4, 0, 0, 0, &b));
    float x[16], y[4];
    CHECK(dc_batcher_next(b, x, y) == 4 && y[0] == 0 && y[3] == 3);
    CHECK(dc_batcher_next(b, x, y) == 4 && y[0] == 4);
    CHECK(dc_batcher_next(b, x, y) == 2 && y[1] == 9);
    CHECK(dc_batcher_next(b, x, y) == 0);
    dc_batcher_free(b);
    dc_dataset_free(ds);
}

TEST(batcher_drop_last) {
    dc_dataset *ds = toy(10, 10);
    if (!ds) return;
    dc_batcher *b = NULL;
    int64_t o[10], nb;
    CHECK_OK(dc_batcher_create(ds, 3, 1, 5, 1, &b));
    CHECK(dc_batcher_batches(b) == 3);
    for (int epoch = 0; epoch < 3; epoch++) {
        dc_batcher_reset(b);
        CHECK(run_epoch(b, 3, o, &nb) == 9 && nb == 3);
        int seen[10] = {0};
        for (int i = 0; i < 9; i++) seen[o[i]]++;
        for (int i = 0; i < 10; i++) CHECK(seen[i] <= 1);
    }
    dc_batcher_free(b);
    /* A batch larger than the dataset yields nothing with drop_last, everything without. */
    CHECK_OK(dc_batcher_create(ds, 16, 0, 0, 1, &b));
    CHECK(dc_batcher_batches(b) == 0 && run_epoch(b, 16, o, &nb) == 0);
    dc_batcher_free(b);
    CHECK_OK(dc_batcher_create(ds, 16, 0, 0, 0, &b));
    CHECK(dc_batcher_batches(b) == 1 && run_epoch(b, 16, o, &nb) == 10);
    dc_batcher_free(b);
    CHECK_ERR(dc_batcher_create(ds, 0, 0, 0, 0, &b), DC_ERR_ARG);
    CHECK(b == NULL);
    CHECK_ERR(dc_batcher_create(NULL, 4, 0, 0, 0, &b), DC_ERR_ARG);
    dc_batcher_free(NULL);
    dc_dataset_free(ds);
}
