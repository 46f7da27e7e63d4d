/* test_train.c — end to end on real Fashion-MNIST: a short training run reaches an accuracy floor,
 * same seed + threads gives bitwise the same run, resume equals an uninterrupted run, checkpoints
 * round-trip, and bad checkpoints or diverging runs give clear errors without losing saved files. */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static dc_train_config quick(const char *out) {
    dc_train_config c;
    dc_train_config_defaults(&c);
    c.data_dir = dc_test_data_dir();
    c.out_dir = out;
    c.train_limit = 6000; /* first 6000 of the training file: 5000 train + 1000 validation */
    c.val_size = 1000;
    c.test_limit = 2000;
    c.epochs = 2;
    c.progress = 0;
    c.quiet = 1;
    return c;
}

static char *tmp_path(const char *name) {
    static char buf[8][512];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 512, "%s/%s", dc_test_tmp_dir(), name);
    return p;
}

static int64_t file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

TEST(train_mlp_short_run_reaches_accuracy_floor) {
    if (!dc_test_need_data()) return;
    dc_train_config c = quick(tmp_path("floor"));
    dc_train_result r;
    CHECK_OK(dc_train_run(&c, &r));
    CHECK(r.epochs_run == 2);
    CHECK_MSG(r.test_acc >= 0.78, "test accuracy %.4f below the 0.78 floor for 5000 examples x 2 epochs", r.test_acc);
    CHECK(r.best_val_acc >= 0.75);
    CHECK(r.last.train_loss < 0.7);
    /* the run directory has the best and last checkpoints and a metrics row per epoch */
    CHECK(file_size(tmp_path("floor/best.safetensors")) > 1000000);
    CHECK(file_size(tmp_path("floor/last.safetensors")) > 3000000); /* + Adam's m and v */
    FILE *f = fopen(tmp_path("floor/metrics.csv"), "r");
    int lines = 0;
    char line[256];
    while (f && fgets(line, sizeof line, f)) lines++;
    if (f) fclose(f);
    CHECK(lines == 3);
    /* eval reads the model from the checkpoint and reproduces the reported accuracy */
    dc_eval_result e;
    CHECK_OK(dc_eval_checkpoint(tmp_path("floor/best.safetensors"), dc_test_data_dir(), "test", 500, 2, 2000, &e));
    CHECK_NEAR(e.acc, r.test_acc, 1e-9);
    int64_t total = 0;
    for (int i = 0; i < 10; i++) for (int k = 0; k < 10; k++) total += e.confusion[i][k];
    CHECK(total == 2000);
}

TEST(train_same_seed_same_threads_is_bitwise_identical) {
    if (!dc_test_need_data()) return;
    dc_train_config c = quick(tmp_path("rep_a"));
    c.epochs = 1;
    dc_train_result a, b;
    CHECK_OK(dc_train_run(&c, &a));
    c.out_dir = tmp_path("rep_b");
    CHECK_OK(dc_train_run(&c, &b));
    CHECK(memcmp(&a.last.train_loss, &b.last.train_loss, sizeof(double)) == 0);
    CHECK(memcmp(&a.last.val_loss, &b.last.val_loss, sizeof(double)) == 0);
    CHECK(dc_test_files_equal(tmp_path("rep_a/last.safetensors"), tmp_path("rep_b/last.safetensors")));
    c.seed = 2; /* and a different seed gives a different run */
    c.out_dir = NULL;
    CHECK_OK(dc_train_run(&c, &b));
    CHECK(a.last.train_loss != b.last.train_loss);
}

TEST(train_resume_matches_uninterrupted_run) {
    if (!dc_test_need_data()) return;
    /* two epochs straight, against one epoch ("interrupted") then a resume for the second */
    dc_train_config c = quick(tmp_path("straight"));
    c.optim = dc_optim_defaults(DC_OPTIM_MOMENTUM, 0.05f);
    c.schedule = DC_SCHED_STEP;
    c.step_epochs = 1; /* the learning rate changes between the epochs, so the resume must restore it */
    dc_train_result r;
    CHECK_OK(dc_train_run(&c, &r));
    c.out_dir = tmp_path("resumed");
    c.epochs = 1;
    CHECK_OK(dc_train_run(&c, &r));
    CHECK(!dc_test_files_equal(tmp_path("straight/last.safetensors"), tmp_path("resumed/last.safetensors")));
    c.epochs = 2;
    c.resume = tmp_path("resumed/last.safetensors");
    CHECK_OK(dc_train_run(&c, &r));
    CHECK(r.epochs_run == 1);
    CHECK(dc_test_files_equal(tmp_path("straight/last.safetensors"), tmp_path("resumed/last.safetensors")));
}

TEST(train_diverging_loss_is_reported_and_best_checkpoint_kept) {
    if (!dc_test_need_data()) return;
    dc_train_config c = quick(tmp_path("diverge"));
    c.epochs = 1;
    CHECK_OK(dc_train_run(&c, &(dc_train_result){0}));
    int64_t size = file_size(tmp_path("diverge/best.safetensors"));
    c.resume = tmp_path("diverge/last.safetensors");
    c.epochs = 3;
    c.optim = dc_optim_defaults(DC_OPTIM_SGD, 900.0f);
    dc_train_result r;
    dc_error_clear();
    dc_status s = dc_train_run(&c, &r);
    CHECK(s == DC_ERR_NUMERIC);
    CHECK(strstr(dc_last_error(), "lower --lr") != NULL);
    CHECK(file_size(tmp_path("diverge/best.safetensors")) == size);
    dc_eval_result e;
    CHECK_OK(dc_eval_checkpoint(tmp_path("diverge/best.safetensors"), dc_test_data_dir(), "test", 256, 1, 500, &e));
    CHECK(e.acc > 0.6);
}

TEST(train_bad_config_and_data_errors) {
    if (!dc_test_need_data()) return;
    dc_train_config c = quick(NULL);
    dc_train_result r;
    c.model = "resnet9000";
    CHECK_ERR(dc_train_run(&c, &r), DC_ERR_ARG);
    CHECK(strstr(dc_last_error(), "mlp") != NULL); /* lists the known models */
    c = quick(NULL);
    c.batch = 0;
    CHECK_ERR(dc_train_run(&c, &r), DC_ERR_ARG);
    c = quick(NULL);
    c.data_dir = tmp_path("no_such_dir");
    CHECK_ERR(dc_train_run(&c, &r), DC_ERR_IO);
    CHECK(strstr(dc_last_error(), "no_such_dir") != NULL);
    c = quick(NULL);
    c.val_size = 6000;
    CHECK_ERR(dc_train_run(&c, &r), DC_ERR_ARG);
}

TEST(checkpoint_corrupt_truncated_or_mismatched_is_rejected) {
    if (!dc_test_need_data()) return;
    dc_train_config c = quick(tmp_path("ck"));
    c.epochs = 1;
    c.model = "mlp_sigmoid";
    CHECK_OK(dc_train_run(&c, &(dc_train_result){0}));
    const char *good = tmp_path("ck/best.safetensors");
    int64_t n = file_size(good);
    CHECK(n > 0);
    /* truncated copy */
    FILE *in = fopen(good, "rb"), *out = fopen(tmp_path("trunc.safetensors"), "wb");
    for (int64_t i = 0; in && out && i < n / 2; i++) fputc(fgetc(in), out);
    if (in) fclose(in);
    if (out) fclose(out);
    dc_eval_result e;
    CHECK_ERR(dc_eval_checkpoint(tmp_path("trunc.safetensors"), dc_test_data_dir(), "test", 100, 1, 100, &e), DC_ERR_FORMAT);
    /* garbage */
    out = fopen(tmp_path("garbage.safetensors"), "wb");
    fputs("this is not a checkpoint at all, not even close", out);
    fclose(out);
    CHECK_ERR(dc_eval_checkpoint(tmp_path("garbage.safetensors"), dc_test_data_dir(), "test", 100, 1, 100, &e), DC_ERR_FORMAT);
    CHECK_ERR(dc_eval_checkpoint(tmp_path("missing.safetensors"), dc_test_data_dir(), "test", 100, 1, 100, &e), DC_ERR_IO);
    /* the checkpoint of one model loaded into another: shapes named */
    dc_graph *g;
    dc_node logits;
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input(g, "images", dc_shape3(1, 28, 28));
    CHECK_OK(dc_model_build(g, "mlp", x, 10, &logits));
    CHECK_OK(dc_graph_plan(g, 4, NULL));
    float before = dc_graph_params(g)[0].data[0];
    CHECK_ERR(dc_checkpoint_load(good, g, NULL, NULL), DC_ERR_SHAPE);
    CHECK(strstr(dc_last_error(), "fc1.weight") && strstr(dc_last_error(), "[784, 100]") && strstr(dc_last_error(), "[784, 256]"));
    CHECK(dc_graph_params(g)[0].data[0] == before); /* nothing half-loaded */
    dc_graph_free(g);
}

TEST(train_from_model_file_equals_zoo_model_and_checkpoint_rebuilds_it) {
    if (!dc_test_need_data()) return;
    dc_graph *g;
    dc_node logits;
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input(g, "images", dc_shape3(1, 28, 28));
    CHECK_OK(dc_model_build(g, "mlp_bn", x, 10, &logits));
    CHECK_OK(dc_model_file_write(tmp_path("mlp_bn.cfg"), g, logits));
    dc_graph_free(g);
    dc_train_config c = quick(tmp_path("mf_file"));
    c.epochs = 1;
    c.model_file = tmp_path("mlp_bn.cfg");
    dc_train_result a, b;
    CHECK_OK(dc_train_run(&c, &a));
    c.model_file = NULL;
    c.model = "mlp_bn";
    c.out_dir = tmp_path("mf_zoo");
    CHECK_OK(dc_train_run(&c, &b));
    CHECK(a.test_acc == b.test_acc && a.last.train_loss == b.last.train_loss);
    /* the checkpoint carries the model text: eval rebuilds the network without the file */
    remove(tmp_path("mlp_bn.cfg"));
    dc_eval_result e;
    CHECK_OK(dc_eval_checkpoint(tmp_path("mf_file/best.safetensors"), dc_test_data_dir(), "test", 500, 2, 2000, &e));
    CHECK_NEAR(e.acc, a.test_acc, 1e-9);
}
