/* gradcheck.h — central finite-difference gradient checks for whole graphs. */
#ifndef DC_TEST_GRADCHECK_H
#define DC_TEST_GRADCHECK_H

#include "deepc.h"

/* Compares the analytic gradient of scalar node `loss` with central differences (step h) for every
 * trainable parameter and every node in `inputs` (created with dc_input_grad), probing up to
 * `max_probe` elements of each.  Before every forward the dropout generator is re-seeded, so a
 * random mask is the same in each evaluation.  Records test failures (with names and values) when
 * |analytic - numeric| > tol * max(|analytic|, |numeric|) + atol, or when an analytic gradient is
 * entirely zero.  Returns the number of mismatches. */
int dc_gradcheck(dc_graph *g, dc_node loss, int64_t batch, const dc_node *inputs, int n_inputs, float h, double tol,
                 double atol, int max_probe);
/* Fill buf[0..n) with normal(0, std) values, keeping |v| >= min_abs (away from kinks such as ReLU's). */
void dc_test_fill(dc_rng *r, float *buf, int64_t n, float std, float min_abs);
/* The first i with |got[i] - want[i]| > rel * max(1, max_j |want[j]|) (NaN counts), or -1: a float
 * kernel against a double-accumulating reference, within rel of the reference's scale. */
int64_t dc_test_mismatch(const float *got, const float *want, int64_t n, double rel);

#endif
