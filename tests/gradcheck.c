/* gradcheck.c — see gradcheck.h. */
#include "gradcheck.h"
#include "graph/graph.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>

void dc_test_fill(dc_rng *r, float *buf, int64_t n, float std, float min_abs) {
    for (int64_t i = 0; i < n; i++) {
        float v;
        do v = std * dc_rng_normal(r); while (fabsf(v) < min_abs);
        buf[i] = v;
    }
}

static double eval_loss(dc_graph *g, dc_node loss, int64_t batch) {
    dc_rng_seed(&g->rng, 12345); /* same dropout mask every evaluation */
    dc_status s = dc_graph_forward(g, batch, 1);
    if (s != DC_OK) dc_test_fail(__FILE__, __LINE__, "forward: %s", dc_last_error());
    return g->nodes[loss].loss + (double)dc_graph_decay_term(g);
}

static int check_tensor(dc_graph *g, dc_node loss, int64_t batch, const char *what, float *x, const float *analytic,
                        int64_t n, float h, double tol, double atol, int max_probe) {
    int bad = 0, nonzero = 0;
    for (int64_t i = 0; i < n; i++) if (analytic[i] != 0.0f) nonzero = 1;
    if (!nonzero) {
        dc_test_fail(__FILE__, __LINE__, "%s: analytic gradient is all zero", what);
        return 1;
    }
    int64_t step = n > max_probe ? n / max_probe : 1;
    for (int64_t i = 0; i < n; i += step) {
        float keep = x[i];
        x[i] = keep + h;
        double lp = eval_loss(g, loss, batch);
        x[i] = keep - h;
        double lm = eval_loss(g, loss, batch);
        x[i] = keep;
        double num = (lp - lm) / (2.0 * h), ana = analytic[i];
        double lim = tol * fmax(fabs(num), fabs(ana)) + atol;
        if (fabs(num - ana) > lim) {
            if (bad < 5)
                dc_test_fail(__FILE__, __LINE__, "%s[%lld]: analytic %.6g numeric %.6g", what, (long long)i, ana, num);
            bad++;
        }
    }
    return bad;
}

int dc_gradcheck(dc_graph *g, dc_node loss, int64_t batch, const dc_node *inputs, int n_inputs, float h, double tol,
                 double atol, int max_probe) {
    (void)eval_loss(g, loss, batch);
    dc_graph_zero_grad(g);
    dc_status s = dc_graph_backward(g, loss);
    if (s != DC_OK) {
        dc_test_fail(__FILE__, __LINE__, "backward: %s", dc_last_error());
        return 1;
    }
    int bad = 0;
    /* Copy the analytic gradients first: every probe's forward pass leaves them alone, but keep it obvious. */
    for (int i = 0; i < n_inputs; i++) {
        int64_t n = batch * dc_shape_numel(dc_node_shape(g, inputs[i]));
        float *copy = malloc((size_t)n * sizeof(float));
        for (int64_t k = 0; k < n; k++) copy[k] = dc_graph_grad(g, inputs[i])[k];
        bad += check_tensor(g, loss, batch, dc_node_name(g, inputs[i]), dc_graph_data(g, inputs[i]), copy, n, h, tol,
                            atol, max_probe);
        free(copy);
    }
    const dc_param *p = dc_graph_params(g);
    for (int i = 0; i < dc_graph_param_count(g); i++) {
        if (!p[i].trainable) continue;
        float *copy = malloc((size_t)p[i].numel * sizeof(float));
        for (int64_t k = 0; k < p[i].numel; k++) copy[k] = p[i].grad[k];
        bad += check_tensor(g, loss, batch, p[i].name, p[i].data, copy, p[i].numel, h, tol, atol, max_probe);
        free(copy);
    }
    return bad;
}

int64_t dc_test_mismatch(const float *got, const float *want, int64_t n, double rel) {
    double scale = 1.0;
    for (int64_t i = 0; i < n; i++)
        if (fabs(want[i]) > scale) scale = fabs(want[i]);
    for (int64_t i = 0; i < n; i++)
        if (!(fabs((double)got[i] - want[i]) <= rel * scale)) return i;
    return -1;
}
