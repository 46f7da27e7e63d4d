/* graph.c — the DAG: building (node and parameter records), planning (one arena for activations,
 * one for their gradients, one block each for parameters and parameter gradients), forward and
 * reverse-mode backward.  What each op computes lives in ops.c; this file only orders the calls.
 * Nodes are stored in creation order, which is a topological order (an input must exist before
 * the node that uses it), so forward walks the array up and backward walks it down. */
#include "graph/graph.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const dc_init_names[] = {"default", "xavier", "he", "normal", "const"};
_Static_assert(sizeof dc_init_names / sizeof dc_init_names[0] == DC_INIT_COUNT, "one name per dc_init");

const char *dc_init_name(dc_init i) { return (unsigned)i < DC_INIT_COUNT ? dc_init_names[i] : "?"; }

dc_status dc_init_parse(const char *s, dc_init *out) {
    for (int i = 0; i < DC_INIT_COUNT; i++)
        if (s && strcmp(s, dc_init_names[i]) == 0) {
            *out = (dc_init)i;
            return DC_OK;
        }
    return DC_ERR(DC_ERR_ARG, "unknown initialisation '%s' (default, xavier, he, normal, const)", s ? s : "(null)");
}

dc_status dc_graph_create(dc_graph **out) {
    if (!out) return DC_ERR(DC_ERR_ARG, "dc_graph_create: out is NULL");
    dc_graph *g = calloc(1, sizeof *g);
    if (!g) return DC_ERR(DC_ERR_NOMEM, "graph");
    *out = g;
    return DC_OK;
}

void dc_graph_free(dc_graph *g) {
    if (!g) return;
    dc_arena_release(&g->act);
    dc_arena_release(&g->grads);
    free(g->param_block);
    free(g->grad_block);
    free(g->marks);
    free(g->zero_order);
    free(g->work);
    free(g->fold);
    free(g->nodes);
    free(g->params);
    free(g->pub_params);
    dc_gemm_ctx_free(g->gemm);
    free(g);
}

dc_node dc_graph_fail(dc_graph *g, dc_status code, const char *fmt, ...) {
    if (g && g->error == DC_OK) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(g->error_msg, sizeof g->error_msg, fmt, ap);
        va_end(ap);
        g->error = code;
    }
    return DC_NONE;
}

dc_status dc_graph_status(const dc_graph *g) {
    if (!g) return DC_ERR(DC_ERR_ARG, "graph is NULL");
    if (g->error != DC_OK) return DC_ERR(g->error, "%s", g->error_msg);
    return DC_OK;
}

int dc_graph_check_node(dc_graph *g, dc_node n, const char *what) {
    if (!g || g->error != DC_OK) return 0;
    if (n < 0 || n >= g->n_nodes) {
        dc_graph_fail(g, DC_ERR_ARG, "%s: node id %d does not exist (graph has %d nodes)", what, n, g->n_nodes);
        return 0;
    }
    return 1;
}

dc_node dc_graph_add_node(dc_graph *g, dc_op op, const dc_node *inputs, int n_in, const char *name,
                          const char *default_prefix) {
    if (!g || g->error != DC_OK) return DC_NONE;
    if (g->planned) return dc_graph_fail(g, DC_ERR_STATE, "cannot add node '%s' after dc_graph_plan", name ? name : default_prefix);
    if (n_in > DC_MAX_INPUTS) return dc_graph_fail(g, DC_ERR_ARG, "%d inputs (max %d)", n_in, DC_MAX_INPUTS);
    for (int i = 0; i < n_in; i++)
        if (!dc_graph_check_node(g, inputs[i], dc_op_table[op].name)) return DC_NONE;
    if (g->n_nodes == g->cap_nodes) {
        int cap = g->cap_nodes ? g->cap_nodes * 2 : 32;
        dc_node_rec *nn = realloc(g->nodes, (size_t)cap * sizeof *nn);
        if (!nn) return dc_graph_fail(g, DC_ERR_NOMEM, "graph nodes");
        g->nodes = nn;
        g->cap_nodes = cap;
    }
    int id = g->n_nodes++;
    dc_node_rec *n = &g->nodes[id];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->rows_of = -1;
    n->n_in = n_in;
    for (int i = 0; i < n_in; i++) n->in[i] = inputs[i];
    n->param0 = g->n_params;
    if (name && *name) {
        if (dc_graph_find(g, name) >= 0) {
            g->n_nodes--;
            return dc_graph_fail(g, DC_ERR_ARG, "node name '%s' is used twice", name);
        }
        snprintf(n->name, sizeof n->name, "%s", name);
    } else {
        int k = 1;
        for (int i = 0; i < id; i++) if (g->nodes[i].op == op) k++;
        snprintf(n->name, sizeof n->name, "%s%d", default_prefix, k);
    }
    return id;
}

int dc_graph_add_param(dc_graph *g, dc_node node, const char *suffix, dc_shape shape, dc_init init,
                       float init_value, int64_t fan_in, int decay, int trainable) {
    if (!g || g->error != DC_OK) return -1;
    if (dc_shape_numel(shape) <= 0) {
        char sb[96];
        dc_graph_fail(g, DC_ERR_SHAPE, "%s.%s: parameter shape %s is empty or too large", g->nodes[node].name, suffix,
                      dc_shape_str(shape, sb, sizeof sb));
        return -1;
    }
    if (g->n_params == g->cap_params) {
        int cap = g->cap_params ? g->cap_params * 2 : 32;
        dc_param_rec *np = realloc(g->params, (size_t)cap * sizeof *np);
        if (!np) { dc_graph_fail(g, DC_ERR_NOMEM, "graph parameters"); return -1; }
        g->params = np;
        g->cap_params = cap;
    }
    int id = g->n_params++;
    dc_param_rec *p = &g->params[id];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s.%s", g->nodes[node].name, suffix);
    p->node = node;
    p->init = init;
    p->init_value = init_value;
    p->fan_in = fan_in;
    p->pub.shape = shape;
    p->pub.numel = dc_shape_numel(shape);
    p->pub.decay = decay;
    p->pub.trainable = trainable;
    g->nodes[node].n_params++;
    return id;
}

dc_node dc_graph_finish_node(dc_graph *g, dc_node node) {
    if (!g || g->error != DC_OK || node < 0) return DC_NONE;
    dc_node_rec *n = &g->nodes[node];
    /* The leading dimension: that of the first non-scalar input (inputs keep their own).  An op
     * whose inputs differ in it (RoI pooling: image features, RoIs) sets rows_of and mixes_rows in
     * its infer; every other op needs all its non-scalar inputs to agree. */
    for (int i = n->n_in - 1; i >= 0; i--)
        if (!g->nodes[n->in[i]].scalar) n->rows_of = g->nodes[n->in[i]].rows_of;
    if (dc_op_table[n->op].infer) {
        dc_status s = dc_op_table[n->op].infer(g, n);
        if (s != DC_OK) {
            if (g->error == DC_OK) { /* keep the message, not its "<status>: " prefix (status re-adds it) */
                const char *msg = dc_last_error(), *name = dc_status_name(s);
                size_t k = strlen(name);
                if (strncmp(msg, name, k) == 0 && msg[k] == ':' && msg[k + 1] == ' ') msg += k + 2;
                dc_graph_fail(g, s, "%s", msg);
            }
            return DC_NONE;
        }
    }
    if (dc_shape_numel(n->shape) <= 0 && !n->scalar) {
        char sb[96];
        return dc_graph_fail(g, DC_ERR_SHAPE, "%s (%s): output shape %s is empty", n->name, dc_op_table[n->op].name,
                             dc_shape_str(n->shape, sb, sizeof sb));
    }
    for (int i = 0; i < n->n_in && !n->mixes_rows; i++) {
        const dc_node_rec *x = &g->nodes[n->in[i]];
        if (x->scalar || x->rows_of == n->rows_of) continue;
        char a[DC_NAME_MAX + 32], b[DC_NAME_MAX + 32];
        return dc_graph_fail(g, DC_ERR_SHAPE, "%s (%s): input '%s' has %s as its leading dimension, but the node has %s",
                             n->name, dc_op_table[n->op].name, x->name, dc_graph_rows_str(g, x->rows_of, a, sizeof a),
                             dc_graph_rows_str(g, n->rows_of, b, sizeof b));
    }
    n->needs_grad = 0;
    for (int i = 0; i < n->n_params; i++) n->needs_grad |= g->params[n->param0 + i].pub.trainable;
    for (int i = 0; i < n->n_in; i++) n->needs_grad |= g->nodes[n->in[i]].needs_grad;
    return node;
}

/* ---------------------------------------------------------------- rows inputs */

char *dc_graph_rows_str(const dc_graph *g, int rows_of, char *buf, size_t n) {
    if (rows_of < 0) snprintf(buf, n, "the image batch");
    else snprintf(buf, n, "the rows of '%s'", g->nodes[rows_of].name);
    return buf;
}

dc_node dc_input_rows(dc_graph *g, const char *name, dc_shape sample_shape, int64_t max_rows) {
    dc_node n = dc_input(g, name, sample_shape);
    if (n < 0) return n;
    if (max_rows < 1 || max_rows > (1 << 24))
        return dc_graph_fail(g, DC_ERR_ARG, "input '%s': max_rows %lld outside 1..16777216", g->nodes[n].name,
                             (long long)max_rows);
    g->nodes[n].rows_of = n;
    g->nodes[n].max_rows = max_rows;
    return n;
}

dc_node dc_input_rows_like(dc_graph *g, const char *name, dc_shape sample_shape, dc_node like) {
    if (!dc_graph_check_node(g, like, "dc_input_rows_like")) return DC_NONE;
    dc_node n = dc_input(g, name, sample_shape);
    if (n >= 0) g->nodes[n].rows_of = g->nodes[like].rows_of;
    return n;
}

dc_status dc_graph_set_rows(dc_graph *g, dc_node input, int64_t rows) {
    if (!g || input < 0 || input >= g->n_nodes || g->nodes[input].rows_of != input)
        return DC_ERR(DC_ERR_ARG, "dc_graph_set_rows: node %d is not an input made with dc_input_rows", input);
    dc_node_rec *n = &g->nodes[input];
    if (rows < 1 || rows > n->max_rows)
        return DC_ERR(DC_ERR_ARG, "input '%s': %lld rows outside 1..%lld (its max_rows)", n->name, (long long)rows,
                      (long long)n->max_rows);
    n->rows = rows;
    return DC_OK;
}

int64_t dc_graph_rows(const dc_graph *g, dc_node n) {
    if (!g || n < 0 || n >= g->n_nodes) return 0;
    return dc_node_rows(g, &g->nodes[n], g->batch);
}

/* ---------------------------------------------------------------- queries */

dc_shape dc_node_shape(const dc_graph *g, dc_node n) {
    if (!g || n < 0 || n >= g->n_nodes) return dc_shape_make(0, NULL);
    return g->nodes[n].shape;
}
const char *dc_node_name(const dc_graph *g, dc_node n) {
    return g && n >= 0 && n < g->n_nodes ? g->nodes[n].name : "?";
}
const char *dc_node_op_name(const dc_graph *g, dc_node n) {
    return g && n >= 0 && n < g->n_nodes ? dc_op_table[g->nodes[n].op].name : "?";
}
int dc_graph_node_count(const dc_graph *g) { return g ? g->n_nodes : 0; }
dc_node dc_graph_find(const dc_graph *g, const char *name) {
    for (int i = 0; g && name && i < g->n_nodes; i++)
        if (strcmp(g->nodes[i].name, name) == 0) return i;
    return DC_NONE;
}
int dc_graph_param_count(const dc_graph *g) { return g ? g->n_params : 0; }
const dc_param *dc_graph_params(const dc_graph *g) { return g ? g->pub_params : NULL; }
int64_t dc_graph_trainable_numel(const dc_graph *g) {
    int64_t s = 0;
    for (int i = 0; g && i < g->n_params; i++) if (g->params[i].pub.trainable) s += g->params[i].pub.numel;
    return s;
}
void dc_graph_set_nan_check(dc_graph *g, int on) { if (g) g->nan_check = on; }

/* ---------------------------------------------------------------- planning */

/* The activation that follows node `id`, looking through BatchNorm/Dropout/Reshape; used to pick
 * He (before ReLU) or Xavier (before sigmoid/tanh and elsewhere) for DC_INIT_DEFAULT. */
static dc_op following_activation(const dc_graph *g, int id) {
    for (int hops = 0; hops < 8; hops++) {
        int next = -1;
        for (int j = id + 1; j < g->n_nodes && next < 0; j++)
            for (int k = 0; k < g->nodes[j].n_in; k++)
                if (g->nodes[j].in[k] == id) { next = j; break; }
        if (next < 0) return DC_OP_COUNT;
        dc_op op = g->nodes[next].op;
        if (op == DC_OP_BATCHNORM || op == DC_OP_DROPOUT || op == DC_OP_RESHAPE || op == DC_OP_LRN) { id = next; continue; }
        return op;
    }
    return DC_OP_COUNT;
}

dc_init dc_graph_resolved_init(const dc_graph *g, const dc_param_rec *p) {
    if (p->init != DC_INIT_DEFAULT) return p->init;
    return following_activation(g, p->node) == DC_OP_RELU ? DC_INIT_HE : DC_INIT_XAVIER;
}

static void init_params(dc_graph *g, const dc_graph_opts *o) {
    dc_rng r;
    dc_rng_seed(&r, o->seed);
    for (int i = 0; i < g->n_params; i++) {
        dc_param_rec *p = &g->params[i];
        float *w = p->pub.data;
        dc_init how = dc_graph_resolved_init(g, p);
        float value = p->init_value;
        if (p->init == DC_INIT_DEFAULT && o->init != DC_INIT_DEFAULT) { /* a graph-wide choice */
            how = o->init;
            value = o->init_value;
        }
        double std = 0.0;
        switch (how) {
        case DC_INIT_XAVIER: std = 1.0 / sqrt((double)p->fan_in); break;
        case DC_INIT_HE: std = sqrt(2.0 / (double)p->fan_in); break;
        case DC_INIT_NORMAL: std = value; break;
        default: break;
        }
        for (int64_t k = 0; k < p->pub.numel; k++)
            w[k] = how == DC_INIT_CONST ? value : (float)(std * dc_rng_normal(&r));
    }
}

/* The node whose buffers a Reshape chain views. */
static int grad_owner(const dc_graph *g, int i) {
    while (g->nodes[i].op == DC_OP_RESHAPE) i = g->nodes[i].in[0];
    return i;
}

typedef struct grad_slot {
    int node;
    int lo, hi;     /* live over backward steps lo..hi (node indices, inclusive)      */
    size_t bytes, off;
} grad_slot;

static int slot_by_size(const void *a, const void *b) {
    const grad_slot *x = a, *y = b;
    if (x->bytes != y->bytes) return x->bytes < y->bytes ? 1 : -1;
    return x->node - y->node;
}

/* Gradient buffers.  A node's gradient is written by the backward steps of its consumers (the
 * first to run is the last consumer, index grad_from) and read by its own backward step, so it is
 * live over steps [own index, grad_from]; input nodes keep theirs to the end.  Each buffer is zeroed
 * just before step grad_from (dc_graph_backward), not all at once.  With share == 0 every buffer gets
 * its own memory; otherwise buffers whose lifetimes are disjoint share memory: greedy placement,
 * largest first, at the lowest offset clear of every placed buffer that is live at the same time. */
static dc_status plan_grads(dc_graph *g, int64_t max_batch, int share) {
    int nn = g->n_nodes, ns = 0;
    /* grad_assign counts the edges into each buffer owner first, then keeps 1 only for an owner with
     * one edge, from a node (not a Reshape view of it) whose op writes gradients: that op's backward
     * then writes the buffer, so it needs no zeroing (see dc_op_assigns_grad). */
    for (int i = 0; i < nn; i++) g->nodes[i].grad_from = nn, g->nodes[i].grad_assign = 0;
    for (int i = 0; i < nn; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++) {
            int o = grad_owner(g, g->nodes[i].in[k]);
            if (g->nodes[o].grad_from == nn || g->nodes[o].grad_from < i) g->nodes[o].grad_from = i;
            g->nodes[o].grad_assign++;
        }
    for (int i = 0; i < nn; i++) {
        dc_node_rec *n = &g->nodes[i];
        int edges = n->grad_assign;
        n->grad_assign = 0;
        if (edges != 1 || n->grad_from == nn || n->scalar) continue;
        const dc_node_rec *c = &g->nodes[n->grad_from];
        int direct = 0;
        for (int k = 0; k < c->n_in; k++) direct += c->in[k] == i;
        n->grad_assign = direct == 1 && dc_op_assigns_grad(c->op) && !c->mixes_rows && c->rows_of == n->rows_of;
    }
    grad_slot *slot = calloc((size_t)nn, sizeof *slot);
    free(g->zero_order);
    g->zero_order = malloc((size_t)nn * sizeof *g->zero_order);
    if (!slot || !g->zero_order) {
        free(slot);
        return DC_ERR(DC_ERR_NOMEM, "gradient plan for %d nodes", nn);
    }
    for (int i = 0; i < nn; i++) {
        dc_node_rec *n = &g->nodes[i];
        if (!n->needs_grad || n->op == DC_OP_RESHAPE) continue;
        int64_t numel = n->scalar ? 1 : dc_node_max_rows(g, n, max_batch) * dc_sample_numel(n);
        /* a ReLU fused in training is read by its head's backward step (graph.h, train_relu) */
        const int lo = n->op == DC_OP_INPUT ? -1 : n->train_head >= 0 ? n->train_head : i;
        slot[ns] = (grad_slot){.node = i, .lo = lo, .hi = n->grad_from,
                               .bytes = dc_arena_round((size_t)numel * 4)};
        g->zero_order[ns++] = i;
    }
    g->n_zero = ns;
    for (int a = 1; a < ns; a++) /* insertion sort by grad_from descending, then index: stable and small */
        for (int b = a; b > 0 && g->nodes[g->zero_order[b - 1]].grad_from < g->nodes[g->zero_order[b]].grad_from; b--) {
            int t = g->zero_order[b];
            g->zero_order[b] = g->zero_order[b - 1];
            g->zero_order[b - 1] = t;
        }
    size_t total = 0;
    if (!share) {
        for (int s = 0; s < ns; s++) {
            slot[s].off = total;
            total += slot[s].bytes;
        }
    } else {
        qsort(slot, (size_t)ns, sizeof *slot, slot_by_size);
        for (int s = 0; s < ns; s++) {
            size_t off = 0;
            for (int moved = 1; moved;) { /* bump past every clash until none is left */
                moved = 0;
                for (int t = 0; t < s; t++) {
                    if (slot[t].lo > slot[s].hi || slot[s].lo > slot[t].hi) continue; /* not live together */
                    if (off < slot[t].off + slot[t].bytes && slot[t].off < off + slot[s].bytes) {
                        off = slot[t].off + slot[t].bytes;
                        moved = 1;
                    }
                }
            }
            slot[s].off = off;
            if (off + slot[s].bytes > total) total = off + slot[s].bytes;
        }
    }
    dc_arena_release(&g->grads);
    dc_status st = dc_arena_init(&g->grads, total);
    if (st != DC_OK) {
        free(slot);
        return st;
    }
    for (int i = 0; i < nn; i++) g->nodes[i].grad = NULL;
    for (int s = 0; s < ns; s++) g->nodes[slot[s].node].grad = (float *)(g->grads.base + slot[s].off);
    g->grads.used = total;
    for (int i = 0; i < nn; i++)
        if (g->nodes[i].op == DC_OP_RESHAPE) g->nodes[i].grad = g->nodes[grad_owner(g, i)].grad;
    free(slot);
    return DC_OK;
}

/* Fusion, planned for every graph and used as dc_graph_set_fusion says (inference, training).  A head's tails are the
 * nodes whose work it takes over.  In inference passes the heads are convolutions and adds:
 *   conv -> BatchNorm [-> ReLU]   the norm folded into the filter and bias, the ReLU applied as the
 *   conv -> ReLU                  output is written (to the last tail's buffer);
 *   add -> ReLU                   one pass instead of two.
 * In training passes (the norm needs its input's batch statistics, so it cannot be folded):
 *   BatchNorm -> ReLU, add -> ReLU   the head writes the ReLU's output; in backward the ReLU's step
 *                                    is skipped and the head takes the ReLU's gradient, masked by
 *                                    the ReLU's output (dc_fused_relu), which equals the ReLU's own
 *                                    backward bit for bit.
 * Each link must be the producer's only consumer, so no other node reads the outputs skipped. */
static void plan_fusion(dc_graph *g) {
    const size_t nn = g->n_nodes > 0 ? (size_t)g->n_nodes : 1; /* dc_graph_plan refuses an empty graph */
    int *uses = calloc(nn, 2 * sizeof(int)), *user;
    for (int i = 0; i < g->n_nodes; i++) {
        dc_node_rec *n = &g->nodes[i];
        n->fuse_bn = n->fuse_relu = n->fuse_add = n->train_relu = n->train_head = -1;
        n->relu_fused = 0;
    }
    if (!uses) return; /* no fusion: the plain passes */
    user = uses + g->n_nodes;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++) uses[g->nodes[i].in[k]]++, user[g->nodes[i].in[k]] = i;
#define ONLY_USER(i, OP) (uses[i] == 1 && g->nodes[user[i]].op == (OP) ? user[i] : -1)
    for (int i = 0; i < g->n_nodes; i++) {
        dc_node_rec *n = &g->nodes[i];
        if (n->op == DC_OP_CONV2D) {
            int last = i;
            const int bn = ONLY_USER(i, DC_OP_BATCHNORM);
            if (bn >= 0 && g->nodes[bn].n_params == 4 && g->nodes[bn].shape.rank == 3) n->fuse_bn = last = bn;
            const int add = ONLY_USER(last, DC_OP_ADD);
            if (add >= 0) { /* the residual must exist when the conv runs: computed before it */
                const dc_node_rec *a = &g->nodes[add];
                const int other = a->in[0] == last ? a->in[1] : a->in[0];
                if (a->in[0] != a->in[1] && other < i) n->fuse_add = last = add;
            }
            n->fuse_relu = ONLY_USER(last, DC_OP_RELU);
        } else if (n->op == DC_OP_ADD) {
            n->fuse_relu = n->train_relu = ONLY_USER(i, DC_OP_RELU);
        } else if (n->op == DC_OP_BATCHNORM && n->n_params == 4) {
            n->train_relu = ONLY_USER(i, DC_OP_RELU);
        }
        if (n->train_relu >= 0) g->nodes[n->train_relu].train_head = i;
    }
#undef ONLY_USER
    free(uses);
}

void dc_graph_set_fusion(dc_graph *g, int flags) { if (g) g->fuse = flags & DC_FUSION_ALL; }

dc_status dc_graph_fold_buffer(dc_graph *g, int64_t floats) {
    if (floats <= g->fold_floats) return DC_OK;
    float *p = realloc(g->fold, (size_t)floats * sizeof(float));
    if (!p) return DC_ERR(DC_ERR_NOMEM, "folded convolution parameters (%lld floats)", (long long)floats);
    g->fold = p;
    g->fold_floats = floats;
    return DC_OK;
}

/* Runs head n with its tails (they are then skipped in this pass) when every tail is due in this
 * pass: inside [.., end) and, for dc_graph_forward_to, an ancestor of the target.  Returns the
 * node whose output the pass wrote (the last tail), or -1 when n runs alone. */
static int run_fused(dc_graph *g, dc_node_rec *n, int64_t batch, int upto, int end, dc_status *st) {
    const int bn = n->fuse_bn, add = n->op == DC_OP_CONV2D ? n->fuse_add : -1, relu = n->fuse_relu;
    const int last = relu >= 0 ? relu : add >= 0 ? add : bn;
    if (last < 0 || last >= end || (upto >= 0 && !g->marks[last])) return -1;
    float *y = g->nodes[last].out;
    if (n->op == DC_OP_CONV2D) {
        const float *res = NULL;
        if (add >= 0) { /* the add's other input, computed before this conv */
            const dc_node_rec *a = &g->nodes[add];
            const int tail = bn >= 0 ? bn : (int)(n - g->nodes);
            res = g->nodes[a->in[0] == tail ? a->in[1] : a->in[0]].out;
        }
        *st = dc_conv2d_forward_fused(g, n, batch, bn >= 0 ? &g->nodes[bn] : NULL, relu >= 0, res, y);
    } else *st = dc_add_relu_forward_fused(g, n, batch, y);
    if (bn >= 0) g->nodes[bn].fused_pass = g->pass;
    if (add >= 0) g->nodes[add].fused_pass = g->pass;
    if (relu >= 0) g->nodes[relu].fused_pass = g->pass;
    return last;
}

/* The training counterpart: head n (a BatchNorm or an add) writes its ReLU's output when the ReLU
 * is due in this pass. */
static int run_fused_train(dc_graph *g, dc_node_rec *n, int64_t batch, int upto, int end, dc_status *st) {
    const int relu = n->train_relu;
    if (relu < 0 || relu >= end || (upto >= 0 && !g->marks[relu])) return -1;
    float *y = g->nodes[relu].out;
    if (n->op == DC_OP_BATCHNORM) *st = dc_batchnorm_relu_forward_train(g, n, batch, y);
    else *st = dc_add_relu_forward_fused(g, n, batch, y);
    g->nodes[relu].fused_pass = g->pass;
    return relu;
}

dc_status dc_graph_plan(dc_graph *g, int64_t max_batch, const dc_graph_opts *opts) {
    DC_TRY(dc_graph_status(g));
    if (max_batch < 1 || max_batch > (1 << 24))
        return DC_ERR(DC_ERR_ARG, "batch size %lld outside 1..16777216", (long long)max_batch);
    if (g->n_nodes == 0) return DC_ERR(DC_ERR_STATE, "graph has no nodes");
    dc_graph_opts o = {0};
    if (opts) o = *opts;

    /* Parameters: one block for values, one for gradients; allocated and initialised once. */
    if (!g->params_ready) {
        int64_t total = 0;
        for (int i = 0; i < g->n_params; i++) total += (g->params[i].pub.numel + 15) & ~(int64_t)15;
        g->param_block = aligned_alloc(64, (size_t)(total ? total : 16) * sizeof(float));
        g->grad_block = aligned_alloc(64, (size_t)(total ? total : 16) * sizeof(float));
        g->pub_params = calloc((size_t)(g->n_params ? g->n_params : 1), sizeof *g->pub_params);
        g->marks = calloc((size_t)g->n_nodes, 1);
        if (!g->param_block || !g->grad_block || !g->pub_params || !g->marks)
            return DC_ERR(DC_ERR_NOMEM, "parameter blocks (%lld floats)", (long long)total);
        memset(g->grad_block, 0, (size_t)(total ? total : 16) * sizeof(float));
        int64_t off = 0;
        for (int i = 0; i < g->n_params; i++) {
            dc_param_rec *p = &g->params[i];
            p->pub.name = p->name;
            p->pub.data = g->param_block + off;
            p->pub.grad = p->pub.trainable ? g->grad_block + off : NULL;
            off += (p->pub.numel + 15) & ~(int64_t)15;
        }
        g->param_floats = total;
        if ((unsigned)o.init >= DC_INIT_COUNT) return DC_ERR(DC_ERR_ARG, "unknown initialisation %d", (int)o.init);
        init_params(g, &o);
        for (int i = 0; i < g->n_params; i++) g->pub_params[i] = g->params[i].pub;
        g->params_ready = 1;
    }
    dc_rng_seed(&g->rng, o.seed ^ 0xD1B54A32D192ED03ull);
    g->pool = o.pool;
    g->weight_decay = o.weight_decay;
    if (!g->gemm) DC_TRY(dc_gemm_ctx_create(g->pool, &g->gemm));
    else if (dc_gemm_ctx_pool(g->gemm) != g->pool) {
        dc_gemm_ctx_free(g->gemm);
        g->gemm = NULL;
        DC_TRY(dc_gemm_ctx_create(g->pool, &g->gemm));
    }

    /* The shared workspace: the largest any op asks for. */
    int64_t work = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const dc_node_rec *n = &g->nodes[i];
        int64_t mb = dc_node_max_rows(g, n, max_batch);
        int64_t w = dc_op_table[n->op].workspace ? dc_op_table[n->op].workspace(g, n, mb) : 0;
        if (w > work) work = w;
    }
    free(g->work);
    g->work = NULL;
    g->work_floats = work;
    if (work > 0) {
        g->work = aligned_alloc(64, (size_t)((work + 15) & ~(int64_t)15) * sizeof(float));
        if (!g->work)
            return DC_ERR(DC_ERR_NOMEM, "workspace of %lld floats for batch %lld (lower the batch size)",
                          (long long)work, (long long)max_batch);
    }

    /* Activations: size everything first, then carve. */
    size_t act_bytes = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        dc_node_rec *n = &g->nodes[i];
        int64_t mb = dc_node_max_rows(g, n, max_batch);
        int64_t numel = n->scalar ? 1 : mb * dc_sample_numel(n);
        n->saved_floats = dc_op_table[n->op].saved ? dc_op_table[n->op].saved(g, n, mb) : 0;
        if (n->op != DC_OP_RESHAPE) act_bytes += dc_arena_round((size_t)numel * 4);
        act_bytes += dc_arena_round((size_t)n->saved_floats * 4);
    }
    dc_arena_release(&g->act);
    DC_TRY(dc_arena_init(&g->act, act_bytes));
    for (int i = 0; i < g->n_nodes; i++) {
        dc_node_rec *n = &g->nodes[i];
        int64_t numel = n->scalar ? 1 : dc_node_max_rows(g, n, max_batch) * dc_sample_numel(n);
        if (n->op == DC_OP_RESHAPE) { /* a view: shares its input's data (and gradient, below) */
            n->out = g->nodes[n->in[0]].out;
            n->aliases_input = 1;
        } else {
            n->out = dc_arena_alloc(&g->act, (size_t)numel * 4);
        }
        n->saved = n->saved_floats ? dc_arena_alloc(&g->act, (size_t)n->saved_floats * 4) : NULL;
    }
    plan_fusion(g); /* before the gradients: a fused ReLU's gradient lives until its head's step */
    DC_TRY(plan_grads(g, max_batch, o.share_grads));
    g->max_batch = max_batch;
    g->planned = 1;
    return DC_OK;
}

size_t dc_graph_activation_bytes(const dc_graph *g) {
    return g ? g->act.size + g->grads.size + (size_t)g->work_floats * sizeof(float) : 0;
}

float *dc_graph_data(dc_graph *g, dc_node n) {
    return g && g->planned && n >= 0 && n < g->n_nodes ? g->nodes[n].out : NULL;
}
float *dc_graph_grad(dc_graph *g, dc_node n) {
    return g && g->planned && n >= 0 && n < g->n_nodes ? g->nodes[n].grad : NULL;
}

/* ---------------------------------------------------------------- execution */

static dc_status check_finite(dc_graph *g, dc_node_rec *n, int64_t batch) {
    int64_t numel = n->scalar ? 1 : dc_node_rows(g, n, batch) * dc_sample_numel(n);
    for (int64_t i = 0; i < numel; i++)
        if (!isfinite(n->out[i]))
            return DC_ERR(DC_ERR_NUMERIC, "first non-finite value in forward pass: node '%s' (%s), element %lld = %g",
                          n->name, dc_op_table[n->op].name, (long long)i, (double)n->out[i]);
    return DC_OK;
}

/* memset(p, 0, bytes) split over the pool: the gradient arena of a CNN at batch 128 is hundreds of
 * megabytes, and one core cannot saturate the memory bus. */
typedef struct {
    unsigned char *p;
    size_t bytes;
} zero_job;
static void zero_task(void *v, int tid, int nt) {
    const zero_job *j = v;
    int64_t lo, hi;
    dc_split_range((int64_t)(j->bytes / 64), nt, tid, &lo, &hi); /* whole cache lines per thread */
    if (tid == nt - 1) hi = (int64_t)((j->bytes + 63) / 64);
    size_t end = (size_t)hi * 64 < j->bytes ? (size_t)hi * 64 : j->bytes;
    if ((size_t)lo * 64 < end) memset(j->p + (size_t)lo * 64, 0, end - (size_t)lo * 64);
}
static void zero_parallel(dc_pool *pool, unsigned char *p, size_t bytes) {
    zero_job j = {p, bytes};
    if (pool && bytes >= ((size_t)1 << 20)) dc_pool_run(pool, zero_task, &j);
    else if (bytes) memset(p, 0, bytes);
}

/* Zero node i's gradient for `batch` examples, if the current backward pass reaches it. */
static void zero_grad_buffer(dc_graph *g, int i, int64_t batch) {
    const dc_node_rec *n = &g->nodes[i];
    if (!g->marks[i] || n->grad_assign) return;
    int64_t numel = n->scalar ? 1 : dc_node_rows(g, n, batch) * dc_sample_numel(n);
    zero_parallel(g->pool, (unsigned char *)n->grad, (size_t)numel * sizeof(float));
}

/* Mark node `target` and its ancestors in g->marks. */
static void mark_ancestors(dc_graph *g, int target) {
    memset(g->marks, 0, (size_t)g->n_nodes);
    g->marks[target] = 1;
    for (int i = target; i >= 0; i--) {
        if (!g->marks[i]) continue;
        for (int k = 0; k < g->nodes[i].n_in; k++) g->marks[g->nodes[i].in[k]] = 1;
    }
}

/* Forward nodes first..end-1, or only the ancestors of `upto` (>= 0). */
static dc_status forward_nodes(dc_graph *g, int64_t batch, int train, int upto, int first, int end) {
    if (!g || !g->planned) return DC_ERR(DC_ERR_STATE, "dc_graph_forward before dc_graph_plan");
    if (batch < 1 || batch > g->max_batch)
        return DC_ERR(DC_ERR_ARG, "batch %lld outside 1..%lld (the planned maximum)", (long long)batch,
                      (long long)g->max_batch);
    g->batch = batch;
    g->train = train;
    g->pass++;
    if (upto >= 0) mark_ancestors(g, upto);
    for (int i = first; i < end; i++) {
        dc_node_rec *n = &g->nodes[i];
        if (upto >= 0 && !g->marks[i]) continue;
        if (n->op == DC_OP_INPUT || n->aliases_input) continue;
        if (n->fused_pass == g->pass) continue; /* done by its head */
        int64_t rows = dc_node_rows(g, n, batch);
        if (rows < 1)
            return DC_ERR(DC_ERR_STATE, "%s (%s): the row count of input '%s' is not set (dc_graph_set_rows)", n->name,
                          dc_op_table[n->op].name, g->nodes[n->rows_of].name);
        double t0 = g->profile ? dc_clock_s() : 0.0;
        dc_status st = DC_OK;
        int wrote = -1;
        if (g->fuse & (train ? DC_FUSION_TRAINING : DC_FUSION_INFERENCE))
            wrote = train ? run_fused_train(g, n, rows, upto, end, &st) : run_fused(g, n, rows, upto, end, &st);
        if (n->train_relu >= 0) n->relu_fused = train && wrote >= 0; /* what the backward follows */
        if (wrote < 0) st = dc_op_table[n->op].forward(g, n, rows, train);
        DC_TRY(st);
        if (g->profile) n->t_fwd += dc_clock_s() - t0;
        if (g->nan_check) DC_TRY(check_finite(g, wrote >= 0 ? &g->nodes[wrote] : n, batch));
    }
    return DC_OK;
}

dc_status dc_graph_forward(dc_graph *g, int64_t batch, int train) {
    return forward_nodes(g, batch, train, -1, 0, g ? g->n_nodes : 0);
}

dc_status dc_graph_forward_to(dc_graph *g, dc_node node, int64_t batch, int train) {
    if (!g || node < 0 || node >= g->n_nodes) return DC_ERR(DC_ERR_ARG, "dc_graph_forward_to: bad node %d", node);
    return forward_nodes(g, batch, train, node, 0, g->n_nodes);
}

dc_status dc_graph_forward_range(dc_graph *g, dc_node first, dc_node end, int64_t batch, int train) {
    if (!g || first < 0 || end < first || end > g->n_nodes)
        return DC_ERR(DC_ERR_ARG, "dc_graph_forward_range: bad range %d..%d of %d nodes", first, end, g ? g->n_nodes : 0);
    if (first > 0 && (!g->planned || g->batch != batch || g->train != train))
        return DC_ERR(DC_ERR_STATE, "dc_graph_forward_range from node %d: needs a forward of batch %lld in %s mode just before",
                      first, (long long)batch, train ? "training" : "inference");
    return forward_nodes(g, batch, train, -1, first, end);
}

void dc_graph_zero_grad(dc_graph *g) {
    if (g && g->grad_block) zero_parallel(g->pool, (unsigned char *)g->grad_block, (size_t)g->param_floats * sizeof(float));
}

dc_status dc_graph_backward(dc_graph *g, dc_node loss) {
    if (!g || !g->planned) return DC_ERR(DC_ERR_STATE, "dc_graph_backward before dc_graph_plan");
    if (loss < 0 || loss >= g->n_nodes || !g->nodes[loss].scalar)
        return DC_ERR(DC_ERR_ARG, "dc_graph_backward: node %d is not a loss", loss);
    if (!g->train) return DC_ERR(DC_ERR_STATE, "dc_graph_backward needs a training-mode forward pass first");
    int64_t batch = g->batch;
    mark_ancestors(g, loss);
    dc_node_rec *ln = &g->nodes[loss];
    if (!ln->grad) return DC_OK; /* nothing trainable upstream */
    int z = 0; /* g->zero_order[z..]: buffers still to be zeroed, latest first */
    for (; z < g->n_zero && g->nodes[g->zero_order[z]].grad_from > loss; z++) zero_grad_buffer(g, g->zero_order[z], batch);
    ln->grad[0] = 1.0f;
    for (int i = loss; i >= 0; i--) {
        for (; z < g->n_zero && g->nodes[g->zero_order[z]].grad_from == i; z++) zero_grad_buffer(g, g->zero_order[z], batch);
        dc_node_rec *n = &g->nodes[i];
        if (!g->marks[i] || !n->needs_grad || n->aliases_input || !dc_op_table[n->op].backward) continue;
        if (n->train_head >= 0 && g->nodes[n->train_head].relu_fused) continue; /* its head's step does it */
        double t0 = g->profile ? dc_clock_s() : 0.0;
        dc_op_table[n->op].backward(g, n, dc_node_rows(g, n, batch));
        if (g->profile) n->t_bwd += dc_clock_s() - t0;
    }
    if (g->weight_decay != 0.0f) {
        float lam = g->weight_decay;
        for (int i = 0; i < g->n_params; i++) {
            dc_param *p = &g->params[i].pub;
            if (!p->decay || !p->grad) continue;
            for (int64_t k = 0; k < p->numel; k++) p->grad[k] += lam * p->data[k];
        }
    }
    return DC_OK;
}

float dc_graph_decay_term(const dc_graph *g) {
    if (!g || g->weight_decay == 0.0f || !g->params_ready) return 0.0f;
    double s = 0.0;
    for (int i = 0; i < g->n_params; i++) {
        const dc_param *p = &g->params[i].pub;
        if (!p->decay) continue;
        for (int64_t k = 0; k < p->numel; k++) s += (double)p->data[k] * p->data[k];
    }
    return (float)(0.5 * g->weight_decay * s);
}

float dc_graph_loss(dc_graph *g, dc_node loss) {
    if (!g || loss < 0 || loss >= g->n_nodes || !g->nodes[loss].scalar) return NAN;
    return (float)g->nodes[loss].loss + dc_graph_decay_term(g);
}

void dc_graph_summary(const dc_graph *g, FILE *f) {
    char sb[96];
    int64_t tp = 0, tf = 0;
    fprintf(f, "%-18s %-14s %-18s %12s %14s\n", "layer", "op", "output", "params", "FLOPs/example");
    for (int i = 0; i < g->n_nodes; i++) {
        const dc_node_rec *n = &g->nodes[i];
        int64_t np = 0;
        for (int k = 0; k < n->n_params; k++)
            if (g->params[n->param0 + k].pub.trainable) np += g->params[n->param0 + k].pub.numel;
        int64_t fl = dc_op_table[n->op].flops ? dc_op_table[n->op].flops(g, n) : 0;
        if (n->scalar) snprintf(sb, sizeof sb, "scalar");
        else dc_shape_str(n->shape, sb, sizeof sb);
        fprintf(f, "%-18s %-14s %-18s %12lld %14lld\n", n->name, dc_op_table[n->op].name, sb, (long long)np,
                (long long)fl);
        tp += np;
        tf += fl;
    }
    fprintf(f, "total: %lld trainable parameters, %.3f MFLOP forward per example\n", (long long)tp, tf / 1e6);
}

void dc_graph_set_seed(dc_graph *g, uint64_t seed) {
    if (g) dc_rng_seed(&g->rng, seed ^ 0xD1B54A32D192ED03ull);
}

void dc_graph_set_profile(dc_graph *g, int on) {
    if (!g) return;
    if (on && !g->profile) /* switching on starts a fresh measurement; switching off keeps the totals */
        for (int i = 0; i < g->n_nodes; i++) g->nodes[i].t_fwd = g->nodes[i].t_bwd = 0.0;
    g->profile = on;
}

void dc_graph_node_time(const dc_graph *g, dc_node n, double *forward_s, double *backward_s) {
    int ok = g && n >= 0 && n < g->n_nodes;
    if (forward_s) *forward_s = ok ? g->nodes[n].t_fwd : 0.0;
    if (backward_s) *backward_s = ok ? g->nodes[n].t_bwd : 0.0;
}
