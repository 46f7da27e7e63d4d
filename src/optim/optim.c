/* optim.c — the five optimizers of the curriculum, with the textbook update rules, over a flat
 * list of parameters.  State (Momentum's v, AdaGrad's h, RMSProp's S, Adam's m and v) lives in one
 * zero-initialised block carved per parameter.  A step is split over the pool's threads by
 * element ranges of each parameter, so every element is updated by one thread in a fixed way. */
#include "deepc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const dc_optim_names[] = {"sgd", "momentum", "adagrad", "rmsprop", "adam"};
_Static_assert(sizeof dc_optim_names / sizeof dc_optim_names[0] == DC_OPTIM_COUNT, "one name per optimizer");
static const int dc_optim_slots[] = {0, 1, 1, 1, 2}; /* state arrays per parameter */
_Static_assert(sizeof dc_optim_slots / sizeof dc_optim_slots[0] == DC_OPTIM_COUNT, "one slot count per optimizer");
static const char *const dc_optim_slot_names[DC_OPTIM_COUNT][2] = {
    {NULL, NULL}, {"v", NULL}, {"h", NULL}, {"s", NULL}, {"m", "v"}};

const char *dc_optim_name(dc_optim_kind k) { return (unsigned)k < DC_OPTIM_COUNT ? dc_optim_names[k] : "?"; }

dc_status dc_optim_parse(const char *s, dc_optim_kind *out) {
    for (int i = 0; i < DC_OPTIM_COUNT; i++)
        if (s && strcmp(s, dc_optim_names[i]) == 0) {
            *out = (dc_optim_kind)i;
            return DC_OK;
        }
    return DC_ERR(DC_ERR_ARG, "unknown optimizer '%s' (sgd, momentum, adagrad, rmsprop, adam)", s ? s : "(null)");
}

dc_optim_config dc_optim_defaults(dc_optim_kind kind, float lr) {
    dc_optim_config c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    c.lr = lr;
    c.momentum = 0.9f;
    c.rho = 0.99f;
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    c.eps = kind == DC_OPTIM_ADAM ? 1e-8f : 1e-7f;
    return c;
}

typedef struct dc_optim_slot {
    float *w, *g, *s0, *s1;
    int64_t n;
    char name[2][128];
} dc_optim_slot;

struct dc_optim {
    dc_optim_config cfg;
    dc_optim_slot *slots;
    int n;
    float *state;
    int64_t state_floats;
    int64_t t; /* steps taken */
    dc_pool *pool;
    /* per-step constants for Adam's bias correction */
    float bc1, bc2;
};

dc_status dc_optim_create(const dc_optim_config *cfg, const dc_param *params, int n, dc_pool *pool,
                          dc_optim **out) {
    if (!cfg || !out || (n > 0 && !params)) return DC_ERR(DC_ERR_ARG, "dc_optim_create: NULL argument");
    *out = NULL;
    if ((unsigned)cfg->kind >= DC_OPTIM_COUNT) return DC_ERR(DC_ERR_ARG, "optimizer kind %d unknown", (int)cfg->kind);
    if (!(cfg->lr > 0.0f) || !isfinite(cfg->lr))
        return DC_ERR(DC_ERR_ARG, "%s: learning rate %g must be positive", dc_optim_name(cfg->kind), (double)cfg->lr);
    dc_optim *o = calloc(1, sizeof *o);
    if (!o) return DC_ERR(DC_ERR_NOMEM, "optimizer");
    o->cfg = *cfg;
    o->pool = pool;
    int k = dc_optim_slots[cfg->kind];
    int cnt = 0;
    int64_t total = 0;
    for (int i = 0; i < n; i++)
        if (params[i].trainable && params[i].grad) {
            cnt++;
            total += k * ((params[i].numel + 15) & ~(int64_t)15);
        }
    o->slots = calloc((size_t)(cnt ? cnt : 1), sizeof *o->slots);
    o->state = total ? aligned_alloc(64, (size_t)total * sizeof(float)) : NULL;
    if (!o->slots || (total && !o->state)) {
        dc_optim_free(o);
        return DC_ERR(DC_ERR_NOMEM, "optimizer state (%lld floats)", (long long)total);
    }
    if (total) memset(o->state, 0, (size_t)total * sizeof(float));
    o->state_floats = total;
    int64_t off = 0;
    for (int i = 0; i < n; i++) {
        if (!params[i].trainable || !params[i].grad) continue;
        dc_optim_slot *s = &o->slots[o->n++];
        s->w = params[i].data;
        s->g = params[i].grad;
        s->n = params[i].numel;
        int64_t padded = (s->n + 15) & ~(int64_t)15;
        if (k >= 1) { s->s0 = o->state + off; off += padded; }
        if (k >= 2) { s->s1 = o->state + off; off += padded; }
        for (int j = 0; j < k; j++)
            snprintf(s->name[j], sizeof s->name[j], "%s.%s.%s", dc_optim_names[cfg->kind],
                     dc_optim_slot_names[cfg->kind][j], params[i].name ? params[i].name : "?");
    }
    *out = o;
    return DC_OK;
}

void dc_optim_free(dc_optim *o) {
    if (!o) return;
    free(o->slots);
    free(o->state);
    free(o);
}

void dc_optim_set_lr(dc_optim *o, float lr) { if (o) o->cfg.lr = lr; }
int64_t dc_optim_steps(const dc_optim *o) { return o ? o->t : 0; }
void dc_optim_set_steps(dc_optim *o, int64_t t) { if (o) o->t = t; }

/* One parameter range [lo, hi): the update rules, straight from the formulas. */
static void update_range(const dc_optim *o, const dc_optim_slot *s, int64_t lo, int64_t hi) {
    float *w = s->w, *s0 = s->s0, *s1 = s->s1;
    const float *g = s->g;
    const float lr = o->cfg.lr, eps = o->cfg.eps;
    switch (o->cfg.kind) {
    case DC_OPTIM_SGD:
        for (int64_t i = lo; i < hi; i++) w[i] -= lr * g[i];
        break;
    case DC_OPTIM_MOMENTUM: {
        const float a = o->cfg.momentum;
        if (o->cfg.nesterov) { /* the step taken from the look-ahead point W + a v */
            for (int64_t i = lo; i < hi; i++) {
                s0[i] = a * s0[i] - lr * g[i];
                w[i] += a * s0[i] - lr * g[i];
            }
        } else {
            for (int64_t i = lo; i < hi; i++) {
                s0[i] = a * s0[i] - lr * g[i];
                w[i] += s0[i];
            }
        }
        break;
    }
    case DC_OPTIM_ADAGRAD:
        for (int64_t i = lo; i < hi; i++) {
            s0[i] += g[i] * g[i];
            w[i] -= lr * g[i] / (sqrtf(s0[i]) + eps);
        }
        break;
    case DC_OPTIM_RMSPROP: {
        const float rho = o->cfg.rho;
        for (int64_t i = lo; i < hi; i++) {
            s0[i] = rho * s0[i] + (1.0f - rho) * g[i] * g[i];
            w[i] -= lr * g[i] / (sqrtf(s0[i]) + eps);
        }
        break;
    }
    case DC_OPTIM_ADAM: {
        const float b1 = o->cfg.beta1, b2 = o->cfg.beta2, c1 = o->bc1, c2 = o->bc2;
        for (int64_t i = lo; i < hi; i++) {
            s0[i] = b1 * s0[i] + (1.0f - b1) * g[i];
            s1[i] = b2 * s1[i] + (1.0f - b2) * g[i] * g[i];
            float mhat = s0[i] / c1, vhat = s1[i] / c2;
            w[i] -= lr * mhat / (sqrtf(vhat) + eps);
        }
        break;
    }
    default:
        break;
    }
}

static void step_task(void *ctx, int tid, int nt) {
    const dc_optim *o = ctx;
    for (int i = 0; i < o->n; i++) {
        int64_t lo, hi;
        /* Small tensors (biases) are done by thread 0 alone; splitting them costs more than it saves. */
        if (o->slots[i].n < 4096) {
            if (tid == 0) update_range(o, &o->slots[i], 0, o->slots[i].n);
            continue;
        }
        dc_split_range(o->slots[i].n, nt, tid, &lo, &hi);
        update_range(o, &o->slots[i], lo, hi);
    }
}

void dc_optim_step(dc_optim *o) {
    if (!o) return;
    o->t++;
    if (o->cfg.kind == DC_OPTIM_ADAM) {
        o->bc1 = (float)(1.0 - pow(o->cfg.beta1, (double)o->t));
        o->bc2 = (float)(1.0 - pow(o->cfg.beta2, (double)o->t));
    }
    dc_pool_run(o->pool, step_task, o);
}

int dc_optim_state_count(const dc_optim *o) { return o ? o->n * dc_optim_slots[o->cfg.kind] : 0; }

dc_status dc_optim_state(dc_optim *o, int i, const char **name, float **data, int64_t *numel) {
    int k = o ? dc_optim_slots[o->cfg.kind] : 0;
    if (!o || k == 0 || i < 0 || i >= o->n * k) return DC_ERR(DC_ERR_ARG, "optimizer state index %d out of range", i);
    dc_optim_slot *s = &o->slots[i / k];
    *name = s->name[i % k];
    *data = (i % k == 0) ? s->s0 : s->s1;
    *numel = s->n;
    return DC_OK;
}
