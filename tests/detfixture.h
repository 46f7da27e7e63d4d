/* detfixture.h — shared by the detector tests.  A tiny generated detection set: 64 x 64 images
 * with 1-3 synthetic items (filled rectangles whose aspect depends on the class, 10 classes), 16 training,
 * 4 validation and 4 test images, written once per test run into the test's temporary directory
 * (DIR/train.json, DIR/train/, ...).  Returns DIR, or NULL (with a message) when generation failed. */
#ifndef DC_TEST_DETFIXTURE_H
#define DC_TEST_DETFIXTURE_H

#include <stddef.h>

#include "train/det_train.h"

const char *dc_test_det_tiny(void);

/* A detector-training configuration for the overfit tests: model, the same file for training and
 * validation (evaluated on its own images), out_dir (may be NULL), epochs, batch; 1 thread, no
 * flips, no weight decay or warm-up, Adam at a constant lr, quiet unless DC_TEST_VERBOSE is set. */
dc_det_train_config dc_test_det_overfit_config(const char *model, const char *json, const char *out_dir, int epochs,
                                               int batch, float lr);

/* The deepc binary next to the test binary in exe (1), or 0 when there is none (skip the test). */
int dc_test_deepc_exe(char *exe, size_t n);
/* system(cmd); err receives the file err_path (the command's stderr); returns the exit status. */
int dc_test_run_cli(const char *cmd, char *err, size_t n, const char *err_path);

#endif
