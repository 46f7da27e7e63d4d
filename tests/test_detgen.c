/* test_detgen.c — the detection data-set generator: byte-identical output for the same seed (and
 * any thread count), tight boxes equal to the bounding box of each mask, masks that do not overlap,
 * the overlap rule (pairwise box IoU <= 0.5), the files read back by the COCO loader, and bad
 * configurations.  Items come from memory (fast, synthetic) except in one small run on the real
 * Fashion-MNIST files. */
#include "test.h"
#include "io/atomic.h"
#include "data/coco.h"
#include "data/detgen.h"
#include "detect/cocoeval.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Synthetic 28x28 "items": bright ellipses with a darker hole, labels 0..9. */
static void synth_items(int n, uint8_t *px, uint8_t *lab, uint64_t seed) {
    dc_rng r;
    dc_rng_seed(&r, seed);
    for (int i = 0; i < n; i++) {
        uint8_t *p = px + (size_t)i * 784;
        float cx = 10 + 8 * dc_rng_uniform(&r), cy = 10 + 8 * dc_rng_uniform(&r);
        float rx = 4 + 8 * dc_rng_uniform(&r), ry = 4 + 8 * dc_rng_uniform(&r);
        int v = 120 + (int)dc_rng_below(&r, 136);
        for (int y = 0; y < 28; y++)
            for (int x = 0; x < 28; x++) {
                float d = ((x - cx) * (x - cx)) / (rx * rx) + ((y - cy) * (y - cy)) / (ry * ry);
                p[y * 28 + x] = d < 1 ? (uint8_t)(d < 0.1f ? v / 4 : v) : 0;
            }
        lab[i] = (uint8_t)(i % 10);
    }
}

static int read_all(const char *path, unsigned char **buf, size_t *n) {
    char *t;
    if (dc_read_file(path, (size_t)1 << 30, &t, n) != DC_OK) return -1;
    *buf = (unsigned char *)t;
    return 0;
}

static int same_file(const char *a, const char *b) {
    unsigned char *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    int ok = read_all(a, &x, &nx) == 0 && read_all(b, &y, &ny) == 0 && nx == ny && memcmp(x, y, nx) == 0;
    free(x);
    free(y);
    return ok;
}

static void small_config(dc_detgen_config *c, const char *dir, uint8_t *px, uint8_t *lab, int n) {
    dc_detgen_config_defaults(c);
    c->out_dir = dir;
    c->n_images[0] = 12;
    c->n_images[1] = 3;
    c->n_images[2] = 3;
    c->items[0] = c->items[1] = px;
    c->labels[0] = c->labels[1] = lab;
    c->n_items[0] = c->n_items[1] = n;
}

TEST(detgen_same_seed_same_bytes_any_threads) {
    enum { N = 120 };
    uint8_t *px = malloc(N * 784), lab[N];
    synth_items(N, px, lab, 4);
    char d1[512], d2[512], d3[512];
    snprintf(d1, sizeof d1, "%s/detgen_a", dc_test_tmp_dir());
    snprintf(d2, sizeof d2, "%s/detgen_b", dc_test_tmp_dir());
    snprintf(d3, sizeof d3, "%s/detgen_c", dc_test_tmp_dir());
    dc_detgen_config c;
    dc_detgen_stats s1, s2;
    small_config(&c, d1, px, lab, N);
    c.threads = 1;
    CHECK_OK(dc_detgen_run(&c, &s1));
    small_config(&c, d2, px, lab, N);
    c.threads = 3;
    CHECK_OK(dc_detgen_run(&c, &s2));
    CHECK(s1.images[0] == 12 && s1.images[1] == 3 && s1.images[2] == 3);
    CHECK(memcmp(s1.annotations, s2.annotations, sizeof s1.annotations) == 0);
    CHECK(s1.annotations[0] >= 12);
    const char *files[] = {"train.json", "val.json", "test.json", "train/000001.png", "train/000012.png", "val/000003.png",
                           "test/000001.png"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char a[600], b[600];
        snprintf(a, sizeof a, "%s/%s", d1, files[i]);
        snprintf(b, sizeof b, "%s/%s", d2, files[i]);
        CHECK_MSG(same_file(a, b), "%s differs between two runs with the same seed", files[i]);
    }
    /* another seed gives other images */
    small_config(&c, d3, px, lab, N);
    c.seed = 2;
    c.n_images[1] = c.n_images[2] = 0;
    CHECK_OK(dc_detgen_run(&c, NULL));
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/train/000001.png", d1);
    snprintf(b, sizeof b, "%s/train/000001.png", d3);
    CHECK(!same_file(a, b));
    /* uncompressed RLE lists describe the same masks */
    small_config(&c, d3, px, lab, N);
    c.rle_uncompressed = 1;
    CHECK_OK(dc_detgen_run(&c, NULL));
    snprintf(a, sizeof a, "%s/val.json", d1);
    snprintf(b, sizeof b, "%s/val.json", d3);
    dc_coco *ca = NULL, *cb = NULL;
    CHECK_OK(dc_coco_load(a, NULL, &ca));
    CHECK_OK(dc_coco_load(b, NULL, &cb));
    if (ca && cb) {
        CHECK(ca->n_anns == cb->n_anns);
        for (int64_t i = 0; i < ca->n_anns && i < cb->n_anns; i++)
            CHECK(ca->anns[i].mask.m == cb->anns[i].mask.m &&
                  !memcmp(ca->anns[i].mask.cnts, cb->anns[i].mask.cnts, (size_t)ca->anns[i].mask.m * 4));
    }
    dc_coco_free(ca);
    dc_coco_free(cb);
    free(px);
}

/* Every annotation: box = bounding box of its mask, area = its pixel count, masks of an image
 * disjoint, pairwise box IoU <= max_iou; returns the number of annotations checked. */
static int64_t check_split(const char *json, double max_iou, int size, int read_images) {
    dc_coco *c = NULL;
    CHECK_OK(dc_coco_load(json, NULL, &c));
    if (!c) return 0;
    CHECK(c->n_categories == 10 && c->categories[0].id == 1 && !strcmp(c->categories[0].name, "T-shirt/top") &&
          !strcmp(c->categories[9].name, "Ankle boot"));
    uint8_t *m = malloc((size_t)size * size), *used = malloc((size_t)size * size);
    for (int64_t i = 0; i < c->n_images; i++) {
        const dc_coco_image *im = &c->images[i];
        CHECK(im->width == size && im->height == size && im->ann_count >= 1);
        memset(used, 0, (size_t)size * size);
        for (int64_t k = im->ann_first; k < im->ann_first + im->ann_count; k++) {
            const dc_coco_ann *a = &c->anns[k];
            CHECK(a->has_mask && !a->iscrowd && a->category >= 0 && a->category < 10);
            dc_rle_decode(&a->mask, m);
            int x0 = size, y0 = size, x1 = -1, y1 = -1;
            int64_t area = 0;
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                    if (m[y * size + x]) {
                        area++;
                        CHECK_MSG(!used[y * size + x], "image %lld: pixel (%d, %d) in two masks", (long long)im->id, x, y);
                        used[y * size + x] = 1;
                        if (x < x0) x0 = x;
                        if (x > x1) x1 = x;
                        if (y < y0) y0 = y;
                        if (y > y1) y1 = y;
                    }
            CHECK_MSG(a->bbox[0] == x0 && a->bbox[1] == y0 && a->bbox[2] == x1 - x0 + 1 && a->bbox[3] == y1 - y0 + 1,
                      "annotation %lld: bbox [%g %g %g %g], mask box [%d %d %d %d]", (long long)a->id, a->bbox[0], a->bbox[1],
                      a->bbox[2], a->bbox[3], x0, y0, x1 - x0 + 1, y1 - y0 + 1);
            CHECK(a->area == (double)area && area >= 12);
            for (int64_t l = im->ann_first; l < k; l++)
                CHECK_MSG(dc_coco_box_iou(a->bbox, c->anns[l].bbox, 0) <= max_iou, "image %lld: boxes %lld and %lld IoU %g",
                          (long long)im->id, (long long)c->anns[l].id, (long long)a->id, dc_coco_box_iou(a->bbox, c->anns[l].bbox, 0));
        }
        if (read_images && dc_image_png_supported() && i < 3) {
            dc_image img;
            CHECK_OK(dc_coco_image_read(c, i, &img));
            CHECK(img.c == 1 && img.h == size && img.w == size);
            dc_image_free(&img);
        }
    }
    int64_t n = c->n_anns;
    free(m);
    free(used);
    dc_coco_free(c);
    return n;
}

TEST(detgen_boxes_tight_masks_disjoint_overlap_bounded) {
    enum { N = 200 };
    uint8_t *px = malloc(N * 784), lab[N];
    synth_items(N, px, lab, 8);
    char d[512], j[600];
    snprintf(d, sizeof d, "%s/detgen_rules", dc_test_tmp_dir());
    dc_detgen_config c;
    small_config(&c, d, px, lab, N);
    c.n_images[0] = 25;
    c.n_images[1] = c.n_images[2] = 0;
    c.max_items = 12;
    c.max_iou = 0.3f;
    c.size = 96;
    c.max_scale = 2.5f;
    CHECK_OK(dc_detgen_run(&c, NULL));
    snprintf(j, sizeof j, "%s/train.json", d);
    CHECK(check_split(j, 0.3, 96, 1) > 25);
    free(px);
}

TEST(detgen_real_fashion_mnist_small_run) {
    char probe[512];
    snprintf(probe, sizeof probe, "%s/t10k-labels-idx1-ubyte.gz", dc_test_data_dir());
    struct stat st;
    if (stat(probe, &st) != 0) {
        snprintf(probe, sizeof probe, "%s/t10k-labels-idx1-ubyte", dc_test_data_dir());
        if (stat(probe, &st) != 0) {
            printf("    (skipped: no Fashion-MNIST in %s)\n", dc_test_data_dir());
            return;
        }
    }
    char d[512], j[600];
    snprintf(d, sizeof d, "%s/detgen_real", dc_test_tmp_dir());
    dc_detgen_config c;
    dc_detgen_config_defaults(&c);
    c.out_dir = d;
    c.fashion_dir = dc_test_data_dir();
    c.n_images[0] = 0; /* only the test file: the smaller one to read */
    c.n_images[1] = 0;
    c.n_images[2] = 20;
    dc_detgen_stats s;
    CHECK_OK(dc_detgen_run(&c, &s));
    CHECK(s.images[2] == 20 && s.annotations[2] >= 20 && s.annotations[2] <= 160);
    snprintf(j, sizeof j, "%s/test.json", d);
    CHECK(check_split(j, 0.5, 160, 1) == s.annotations[2]);
    /* the ground truth as detections: AP 1 */
    dc_coco *gt = NULL;
    CHECK_OK(dc_coco_load(j, NULL, &gt));
    if (gt) {
        dc_detection *dt = calloc((size_t)gt->n_anns, sizeof *dt);
        for (int64_t i = 0; i < gt->n_anns; i++) {
            dt[i].image_id = gt->images[gt->anns[i].image].id;
            dt[i].category_id = gt->categories[gt->anns[i].category].id;
            memcpy(dt[i].bbox, gt->anns[i].bbox, sizeof dt[i].bbox);
            dt[i].score = 1.0 - 0.001 * (double)(i % 7);
            dt[i].mask = gt->anns[i].mask; /* borrowed */
            dt[i].has_mask = 1;
        }
        dc_cocoeval *e = NULL;
        CHECK_OK(dc_cocoeval_run(gt, dt, gt->n_anns, DC_IOU_SEGM, &e));
        if (e) CHECK_NEAR(e->stats[0], 1.0, 1e-12);
        dc_cocoeval_free(e);
        free(dt);
        dc_coco_free(gt);
    }
}

TEST(detgen_rejects_bad_configurations) {
    dc_detgen_config c;
    dc_detgen_config_defaults(&c);
    CHECK_ERR(dc_detgen_run(&c, NULL), DC_ERR_ARG); /* no output directory */
    char d[512];
    snprintf(d, sizeof d, "%s/detgen_bad", dc_test_tmp_dir());
    c.out_dir = d;
    c.max_scale = 7; /* 196-pixel items on a 160-pixel canvas */
    CHECK_ERR(dc_detgen_run(&c, NULL), DC_ERR_ARG);
    CHECK(strstr(dc_last_error(), "max-scale") != NULL);
    dc_detgen_config_defaults(&c);
    c.out_dir = d;
    c.max_items = 0;
    CHECK_ERR(dc_detgen_run(&c, NULL), DC_ERR_ARG);
    dc_detgen_config_defaults(&c);
    c.out_dir = d;
    c.fashion_dir = "/nonexistent/fashion";
    CHECK_ERR(dc_detgen_run(&c, NULL), DC_ERR_IO);
    CHECK(strstr(dc_last_error(), "/nonexistent/fashion") != NULL);
}
