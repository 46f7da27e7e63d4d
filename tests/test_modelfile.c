/* test_modelfile.c — model files (src/io/modelfile.c): every zoo model written to text reads back to
 * the same graph (nodes, wiring, attributes, parameter names/shapes/initialisation) and the text is
 * a fixed point; a hand-written file with comments, branches and a shortcut builds the expected
 * network; the files under models/ build their zoo models; mistakes give the right status and name
 * the file and line.  Graphs are built only: nothing is planned, trained or run. */
#include "test.h"

#include "graph/graph.h"
#include "io/modelfile.h"

#include <stdlib.h>
#include <string.h>

/* Node records and parameters of a and b agree (a's node i is b's node i). */
static int same_graph(const dc_graph *a, const dc_graph *b, const char *what) {
    int fails = 0;
#define SAME(cond, ...)                                                                            \
    do { if (!(cond)) { if (fails++ < 5) CHECK_MSG(cond, __VA_ARGS__); } } while (0)
    SAME(a->n_nodes == b->n_nodes, "%s: %d nodes vs %d", what, a->n_nodes, b->n_nodes);
    SAME(a->n_params == b->n_params, "%s: %d parameters vs %d", what, a->n_params, b->n_params);
    if (fails) return 0;
    for (int i = 0; i < a->n_nodes; i++) {
        const dc_node_rec *x = &a->nodes[i], *y = &b->nodes[i];
        SAME(x->op == y->op, "%s: node %d op %s vs %s", what, i, dc_node_op_name(a, i), dc_node_op_name(b, i));
        SAME(strcmp(x->name, y->name) == 0, "%s: node %d name '%s' vs '%s'", what, i, x->name, y->name);
        SAME(dc_shape_equal(x->shape, y->shape), "%s: node %d (%s) shape differs", what, i, x->name);
        SAME(x->n_in == y->n_in && memcmp(x->in, y->in, (size_t)x->n_in * sizeof x->in[0]) == 0,
             "%s: node %d (%s) inputs differ", what, i, x->name);
        SAME(x->units == y->units && x->kh == y->kh && x->kw == y->kw && x->sh == y->sh && x->sw == y->sw &&
                 x->ph == y->ph && x->pw == y->pw && x->oph == y->oph && x->opw == y->opw && x->dh == y->dh && x->dw == y->dw && x->groups == y->groups &&
                 x->ceil_mode == y->ceil_mode && x->count_include_pad == y->count_include_pad,
             "%s: node %d (%s) geometry differs", what, i, x->name);
        SAME(x->p == y->p && x->eps == y->eps && x->momentum == y->momentum && x->lrn_size == y->lrn_size &&
                 x->lrn_alpha == y->lrn_alpha && x->lrn_beta == y->lrn_beta && x->lrn_k == y->lrn_k,
             "%s: node %d (%s) attributes differ", what, i, x->name);
        SAME(x->param0 == y->param0 && x->n_params == y->n_params, "%s: node %d (%s) parameters differ", what, i,
             x->name);
    }
    const dc_param *pa = dc_graph_params(a), *pb = dc_graph_params(b);
    for (int i = 0; i < a->n_params; i++) {
        const dc_param_rec *x = &a->params[i], *y = &b->params[i];
        SAME(strcmp(x->name, y->name) == 0, "%s: parameter %d '%s' vs '%s'", what, i, x->name, y->name);
        SAME(dc_shape_equal(x->pub.shape, y->pub.shape), "%s: parameter %s shape differs", what, x->name);
        SAME(x->init == y->init && x->init_value == y->init_value && x->fan_in == y->fan_in &&
                 x->pub.decay == y->pub.decay && x->pub.trainable == y->pub.trainable,
             "%s: parameter %s initialisation/flags differ", what, x->name);
        if (pa && pb) SAME(strcmp(pa[i].name, pb[i].name) == 0, "%s: public parameter %d differs", what, i);
    }
    SAME(dc_graph_trainable_numel(a) == dc_graph_trainable_numel(b), "%s: %lld vs %lld trainable", what,
         (long long)dc_graph_trainable_numel(a), (long long)dc_graph_trainable_numel(b));
#undef SAME
    return fails == 0;
}

static dc_graph *zoo_graph(const dc_model_info *m, dc_node *logits) {
    dc_graph *g;
    if (dc_graph_create(&g) != DC_OK) return NULL;
    dc_node x = dc_input(g, "images", dc_shape3(m->channels, m->height, m->width));
    CHECK_OK(dc_model_build(g, m->name, x, m->classes, logits));
    return g;
}

/* A graph with the input of m (and a label input, as training has) built from text. */
static dc_graph *text_graph(const dc_model_info *m, const char *text, const char *origin, int classes,
                            dc_node *logits, dc_status *st) {
    dc_graph *g;
    *st = DC_ERR_NOMEM;
    if (dc_graph_create(&g) != DC_OK) return NULL;
    dc_node x = dc_input(g, "images", dc_shape3(m->channels, m->height, m->width));
    *st = dc_model_text_build(g, text, origin, x, classes, logits);
    return g;
}

TEST(modelfile_every_zoo_model_round_trips) {
    for (int i = 0; i < dc_model_count(); i++) {
        const dc_model_info *m = dc_model_at(i);
        dc_node la = DC_NONE, lb = DC_NONE;
        dc_graph *a = zoo_graph(m, &la);
        char *t1 = NULL, *t2 = NULL;
        dc_model_write_opts o = {.name = m->name, .comment = m->description};
        CHECK_OK(dc_model_text_write_ex(a, la, &o, &t1));
        if (!t1) {
            dc_graph_free(a);
            continue;
        }
        dc_status st;
        dc_graph *b = text_graph(m, t1, m->name, m->classes, &lb, &st);
        CHECK_MSG(st == DC_OK, "%s: reading its own text: %s", m->name, dc_last_error());
        if (st == DC_OK) {
            CHECK_MSG(same_graph(a, b, m->name), "%s: the graph read back differs", m->name);
            CHECK_MSG(lb == la, "%s: logits node %d vs %d", m->name, lb, la);
            CHECK_OK(dc_model_text_write_ex(b, lb, &o, &t2));
            CHECK_MSG(t2 && strcmp(t1, t2) == 0, "%s: text -> graph -> text is not a fixed point", m->name);
            dc_model_header h;
            CHECK_OK(dc_model_text_header(t1, m->name, &h));
            CHECK(strcmp(h.name, m->name) == 0 && h.classes == m->classes && h.input.rank == 3 &&
                  h.input.dim[0] == m->channels && h.input.dim[1] == m->height && h.input.dim[2] == m->width);
        }
        free(t1);
        free(t2);
        dc_graph_free(a);
        dc_graph_free(b);
    }
}

TEST(modelfile_classes_follow_num_classes_and_labels_are_not_written) {
    const dc_model_info *m = dc_model_find("resnet20");
    dc_graph *a;
    dc_node la;
    CHECK_OK(dc_graph_create(&a));
    dc_node x = dc_input(a, "images", dc_shape3(1, 28, 28));
    dc_node t = dc_input(a, "labels", dc_shape_make(0, NULL));
    CHECK_OK(dc_model_build(a, "resnet20", x, 10, &la));
    dc_node loss = dc_softmax_cross_entropy(a, la, t);
    char *text = NULL;
    CHECK_OK(dc_model_text_write(a, la, &text));
    CHECK(text && !strstr(text, "labels") && !strstr(text, "softmax_ce"));
    char *none = NULL;
    CHECK_ERR(dc_model_text_write(a, loss, &none), DC_ERR_ARG); /* a loss has no section */
    CHECK(none == NULL);
    dc_status st;
    dc_node lb;
    dc_graph *b = text_graph(m, text, "resnet20.cfg", 7, &lb, &st); /* 7 classes instead of 10 */
    CHECK_OK(st);
    CHECK(dc_node_shape(b, lb).rank == 1 && dc_node_shape(b, lb).dim[0] == 7);
    dc_graph_free(b);
    b = text_graph(m, text, "resnet20.cfg", 0, &lb, &st); /* 0: the file's [net] classes */
    CHECK_OK(st);
    CHECK(dc_node_shape(b, lb).dim[0] == 10);
    dc_graph_free(b);
    free(text);
    dc_graph_free(a);
}

TEST(modelfile_file_write_and_build) {
    const dc_model_info *m = dc_model_find("lenet5");
    dc_node la, lb;
    dc_graph *a = zoo_graph(m, &la), *b;
    char path[512];
    snprintf(path, sizeof path, "%s/lenet5.cfg", dc_test_tmp_dir());
    CHECK_OK(dc_model_file_write(path, a, la));
    dc_model_header h;
    CHECK_OK(dc_model_file_header(path, &h));
    CHECK(h.classes == 10 && h.input.rank == 3 && h.name[0] == '\0');
    CHECK_OK(dc_graph_create(&b));
    dc_node x = dc_input(b, "images", dc_shape3(1, 28, 28));
    CHECK_OK(dc_model_file_build(b, path, x, 10, &lb));
    CHECK(same_graph(a, b, "lenet5 via file"));
    dc_graph_free(b);
    /* Errors name the path. */
    CHECK_OK(dc_graph_create(&b));
    x = dc_input(b, "images", dc_shape3(1, 28, 28));
    snprintf(path, sizeof path, "%s/no-such-model.cfg", dc_test_tmp_dir());
    CHECK_ERR(dc_model_file_build(b, path, x, 10, &lb), DC_ERR_IO);
    CHECK(strstr(dc_last_error(), "no-such-model.cfg") != NULL);
    dc_graph_free(b);
    dc_graph_free(a);
}

/* The example files shipped under models/ build the zoo model they were written from (skipped
 * with a note when the tests do not run from the repository root). */
TEST(modelfile_examples_match_the_zoo) {
    static const char *const names[] = {"mlp", "lenet5", "alexnet_mini", "googlenet_mini", "resnet20"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "models/%s.cfg", names[i]);
        FILE *f = fopen(path, "rb");
        if (!f) {
            fprintf(stderr, "    note: %s not found (run from the repository root); skipped\n", path);
            continue;
        }
        fclose(f);
        const dc_model_info *m = dc_model_find(names[i]);
        dc_node la, lb;
        dc_graph *a = zoo_graph(m, &la), *b;
        dc_model_header h;
        CHECK_OK(dc_model_file_header(path, &h));
        CHECK(strcmp(h.name, names[i]) == 0);
        CHECK_OK(dc_graph_create(&b));
        dc_node x = dc_input(b, "images", h.input);
        CHECK_OK(dc_model_file_build(b, path, x, h.classes, &lb));
        CHECK_MSG(same_graph(a, b, path), "%s no longer matches the zoo's %s", path, names[i]);
        dc_graph_free(a);
        dc_graph_free(b);
    }
}

static const char *const hand_written =
    "# A small residual network with an Inception-style split.\n"
    "[net]\n"
    "name = tiny   # inline comment\n"
    "channels = 1\n"
    "height = 8\n"
    "width = 8\n"
    "classes = 5\n"
    "\n"
    "; a semicolon line is a comment too\n"
    "[conv2d]\n"
    "name = stem\n"
    "filters = 4\n"
    "kernel = 3\n"
    "pad = 1\n"
    "bias = 0\n"
    "[batchnorm]\n"
    "name = stem_bn\n"
    "eps = 0.001\n"
    "[relu]\n"
    "name = x0\n"
    "\n"
    "   [conv2d]   \n"
    "  name   =   a  \n"
    "filters = 4\n"
    "kernel_h = 3\n"
    "kernel_w = 1\n"
    "pad_h = 1\n"
    "[conv2d]\n"
    "name = b\n"
    "from = x0\n"
    "filters = 4\n"
    "kernel = 1\n"
    "init = normal\n"
    "init_value = 0.02\n"
    "[concat]\n"
    "name = cat\n"
    "from = a, b\n"
    "[conv2d]\n"
    "name = squeeze\n"
    "filters = 4\n"
    "kernel = 1\n"
    "[add]\n"
    "from = x0              # squeeze + x0\n"
    "[relu]\n"
    "[avgpool]\n"
    "kernel = 2\n"
    "count_include_pad = 0\n"
    "[flatten]\n"
    "[dropout]\n"
    "p = 0.25\n"
    "[linear]\n"
    "name = head\n"
    "units = classes\n";

TEST(modelfile_hand_written_file_builds_the_expected_network) {
    dc_graph *g;
    dc_node logits = DC_NONE;
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input(g, "images", dc_shape3(1, 8, 8));
    CHECK_OK(dc_model_text_build(g, hand_written, "tiny.cfg", x, 0, &logits));
    if (logits < 0) {
        dc_graph_free(g);
        return;
    }
    const char *expect[][2] = {{"images", "input"},  {"stem", "conv2d"},  {"stem_bn", "batchnorm"},
                               {"x0", "relu"},       {"a", "conv2d"},     {"b", "conv2d"},
                               {"cat", "concat"},    {"squeeze", "conv2d"}, {"add1", "add"},
                               {"relu2", "relu"},    {"avgpool1", "avgpool2d"}, {"reshape1", "reshape"},
                               {"dropout1", "dropout"}, {"head", "linear"}};
    int n = (int)(sizeof expect / sizeof expect[0]);
    CHECK(dc_graph_node_count(g) == n);
    for (int i = 0; i < n && i < dc_graph_node_count(g); i++)
        CHECK_MSG(strcmp(dc_node_name(g, i), expect[i][0]) == 0 && strcmp(dc_node_op_name(g, i), expect[i][1]) == 0,
                  "node %d: %s (%s), expected %s (%s)", i, dc_node_name(g, i), dc_node_op_name(g, i), expect[i][0],
                  expect[i][1]);
    CHECK(logits == n - 1 && dc_node_shape(g, logits).dim[0] == 5);
    const dc_node_rec *nd = g->nodes;
    CHECK(nd[2].eps == 0.001f);
    CHECK(nd[4].kh == 3 && nd[4].kw == 1 && nd[4].ph == 1 && nd[4].pw == 0 && nd[4].in[0] == 3);
    CHECK(nd[5].in[0] == 3 && g->params[nd[5].param0].init == DC_INIT_NORMAL &&
          g->params[nd[5].param0].init_value == 0.02f);
    CHECK(nd[6].n_in == 2 && nd[6].in[0] == 4 && nd[6].in[1] == 5 && nd[6].shape.dim[0] == 8);
    CHECK(nd[8].n_in == 2 && nd[8].in[0] == 7 && nd[8].in[1] == 3); /* previous layer + from */
    CHECK(nd[10].count_include_pad == 0 && nd[10].sh == 2 && nd[10].shape.dim[1] == 4);
    CHECK(nd[12].p == 0.25f);
    CHECK(nd[1].n_params == 1 && nd[7].n_params == 2); /* bias = 0 on the stem only */
    CHECK(dc_graph_trainable_numel(g) == 4 * 9 + 8 + (48 + 4) + (16 + 4) + (32 + 4) + (64 * 5 + 5));
    /* It writes out and reads back to itself as well. */
    char *t1 = NULL, *t2 = NULL;
    CHECK_OK(dc_model_text_write(g, logits, &t1));
    dc_graph *b;
    dc_node lb;
    CHECK_OK(dc_graph_create(&b));
    x = dc_input(b, "images", dc_shape3(1, 8, 8));
    CHECK_OK(dc_model_text_build(b, t1 ? t1 : "", "tiny-written.cfg", x, 5, &lb));
    CHECK(same_graph(g, b, "hand-written"));
    CHECK_OK(dc_model_text_write(b, lb, &t2));
    CHECK(t1 && t2 && strcmp(t1, t2) == 0);
    free(t1);
    free(t2);
    dc_graph_free(b);
    dc_graph_free(g);
}

/* A fully convolutional network whose output is a class-score map at the input's resolution: two
 * transposed convolutions (one with output padding, the last with filters = classes). */
TEST(modelfile_conv_transpose_layers_round_trip) {
    const char *text = "[net]\nchannels = 2\nheight = 9\nwidth = 9\nclasses = 3\n"
                       "[conv2d]\nfilters = 6\nkernel = 3\nstride = 2\npad = 1\n[relu]\n"
                       "[conv_transpose2d]\nname = up\nfilters = 4\nkernel = 3\nstride = 2\npad = 1\n"
                       "output_pad = 0\ngroups = 2\n[relu]\n"
                       "[conv_transpose2d]\nfilters = classes\nkernel_h = 3\nkernel_w = 2\nstride_h = 1\n"
                       "stride_w = 2\npad_h = 1\noutput_pad_w = 1\nbias = 0\n";
    dc_graph *g, *b;
    dc_node logits = DC_NONE, lb = DC_NONE;
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input(g, "images", dc_shape3(2, 9, 9));
    CHECK_OK(dc_model_text_build(g, text, "fcn.cfg", x, 0, &logits));
    if (logits < 0) {
        dc_graph_free(g);
        return;
    }
    /* 9 -> conv s2 -> 5 -> up (4)(5-1)*2 - 2 + 2 + 1 = 9 -> (3) rows (9-1) - 2 + 2 + 1 = 9, columns
     * (9-1)*2 - 0 + (2-1) + 1 + 1 = 19 */
    const dc_shape up = dc_node_shape(g, dc_graph_find(g, "up")), out = dc_node_shape(g, logits);
    CHECK(up.dim[0] == 4 && up.dim[1] == 9 && up.dim[2] == 9);
    CHECK_MSG(out.dim[0] == 3 && out.dim[1] == 9 && out.dim[2] == 19, "output %lldx%lldx%lld", (long long)out.dim[0],
              (long long)out.dim[1], (long long)out.dim[2]);
    CHECK(strcmp(dc_node_name(g, logits), "deconv2") == 0 && strcmp(dc_node_op_name(g, logits), "conv_transpose2d") == 0);
    CHECK(g->nodes[logits].opw == 1 && g->nodes[logits].oph == 0 && g->nodes[logits].n_params == 1);
    char *t1 = NULL, *t2 = NULL;
    CHECK_OK(dc_model_text_write(g, logits, &t1));
    CHECK(t1 && strstr(t1, "[conv_transpose2d]") && strstr(t1, "output_pad_w = 1") && strstr(t1, "filters = classes"));
    CHECK_OK(dc_graph_create(&b));
    x = dc_input(b, "images", dc_shape3(2, 9, 9));
    CHECK_OK(dc_model_text_build(b, t1 ? t1 : "", "fcn-written.cfg", x, 3, &lb));
    CHECK(same_graph(g, b, "fcn"));
    CHECK_OK(dc_model_text_write(b, lb, &t2));
    CHECK(t1 && t2 && strcmp(t1, t2) == 0);
    /* output padding not below the stride is an error naming the file and line */
    dc_graph *e;
    CHECK_OK(dc_graph_create(&e));
    x = dc_input(e, "images", dc_shape3(2, 9, 9));
    CHECK_ERR(dc_model_text_build(e, "[net]\nchannels = 2\nheight = 9\nwidth = 9\n[conv_transpose2d]\nfilters = 2\n"
                                     "kernel = 2\nstride = 2\noutput_pad = 2\n",
                                  "bad.cfg", x, 0, &lb),
              DC_ERR_ARG);
    CHECK(strstr(dc_last_error(), "bad.cfg:5") && strstr(dc_last_error(), "output padding"));
    free(t1);
    free(t2);
    dc_graph_free(e);
    dc_graph_free(b);
    dc_graph_free(g);
}

TEST(modelfile_output_key_and_empty_network) {
    dc_graph *g;
    dc_node logits;
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input(g, "features", dc_shape1(6));
    CHECK_OK(dc_model_text_build(g,
                                 "[net]\nshape = 6\noutput = hidden\n[linear]\nname = hidden\nunits = 3\n"
                                 "[tanh]\n[linear]\nunits = 2\n",
                                 "out.cfg", x, 2, &logits));
    CHECK(logits == dc_graph_find(g, "hidden"));
    dc_graph_free(g);
    CHECK_OK(dc_graph_create(&g));
    x = dc_input(g, "features", dc_shape1(6));
    CHECK_OK(dc_model_text_build(g, "# nothing but a comment\n", NULL, x, 2, &logits));
    CHECK(logits == x && dc_graph_node_count(g) == 1);
    /* A byte-order mark and CRLF line ends (a file saved by a Windows editor). */
    CHECK_OK(dc_model_text_build(g, "\xEF\xBB\xBF[net]\r\nshape = 6\r\n\r\n[relu]\r\nname = r\r\n", NULL, x, 2,
                                 &logits));
    CHECK(logits == dc_graph_find(g, "r"));
    dc_graph_free(g);
}

/* text must fail with `code` and a message naming "bad.cfg:<line>" (and `needle`, if given). */
static void expect_error(const char *text, dc_status code, int line, const char *needle, int poisons, int test_line) {
    dc_graph *g;
    dc_node logits;
    if (dc_graph_create(&g) != DC_OK) return;
    dc_node x = dc_input(g, "images", dc_shape3(1, 8, 8));
    int before = dc_graph_node_count(g);
    dc_error_clear();
    dc_status st = dc_model_text_build(g, text, "bad.cfg", x, 10, &logits);
    char where[32];
    snprintf(where, sizeof where, "bad.cfg:%d:", line);
    if (st != code)
        dc_test_fail(__FILE__, test_line, "got %s, expected %s (%s)", dc_status_name(st), dc_status_name(code),
                     dc_last_error());
    else if (!strstr(dc_last_error(), where) || (needle && !strstr(dc_last_error(), needle)))
        dc_test_fail(__FILE__, test_line, "message '%s' lacks '%s'%s%s", dc_last_error(), where, needle ? " or " : "",
                     needle ? needle : "");
    /* Mistakes found before building leave the graph alone; a builder's error poisons it with the
     * same message. */
    if (!poisons && (dc_graph_node_count(g) != before || dc_graph_status(g) != DC_OK))
        dc_test_fail(__FILE__, test_line, "the graph was changed (%d nodes added)", dc_graph_node_count(g) - before);
    if (poisons && (dc_graph_status(g) != code || !strstr(dc_last_error(), where)))
        dc_test_fail(__FILE__, test_line, "the graph's error is '%s'", dc_last_error());
    dc_graph_free(g);
}
#define EXPECT_ERROR(text, code, line, needle) expect_error(text, code, line, needle, 0, __LINE__)
/* The same for a layer that its builder rejects: the graph is poisoned. */
#define EXPECT_BUILD_ERROR(text, code, line, needle) expect_error(text, code, line, needle, 1, __LINE__)

TEST(modelfile_errors_name_the_file_and_line) {
    EXPECT_ERROR("[net]\nclasses = 10\n\n[convolutional]\nfilters = 3\n", DC_ERR_FORMAT, 4, "unknown section");
    EXPECT_ERROR("[linear]\nunits = 10\nwidth = 3\n", DC_ERR_FORMAT, 3, "valid keys: name, from, units, bias");
    EXPECT_ERROR("[linear]\nunits = 1O\n", DC_ERR_FORMAT, 2, "bad number '1O'");
    EXPECT_ERROR("[dropout]\np = 0.5x\n", DC_ERR_FORMAT, 2, "bad number");
    EXPECT_ERROR("[flatten]\n[linear]\nname = fc\n", DC_ERR_FORMAT, 2, "units");
    EXPECT_ERROR("[conv2d]\nfilters = 3\n", DC_ERR_FORMAT, 1, "kernel");
    EXPECT_ERROR("[conv2d]\nfilters = 3\nkernel = 3\nkernel_h = 1\n", DC_ERR_FORMAT, 4, "not both");
    EXPECT_ERROR("[relu]\n[relu]\nfrom = nowhere\n", DC_ERR_FORMAT, 3, "nowhere");
    EXPECT_ERROR("[relu]\nfrom = later\n[relu]\nname = later\n", DC_ERR_FORMAT, 2, "comes later (line 4)");
    EXPECT_ERROR("[relu]\nname = a\n[relu]\nname = a\n", DC_ERR_FORMAT, 4, "used twice");
    EXPECT_ERROR("[relu]\nname = relu2\n[relu]\n", DC_ERR_FORMAT, 3, "default name 'relu2'");
    EXPECT_ERROR("[linear]\nunits = 4\nunits = 5\n", DC_ERR_FORMAT, 3, "twice");
    EXPECT_ERROR("[linear]\nunits = 4\nbias = maybe\n", DC_ERR_FORMAT, 3, "0 or 1");
    EXPECT_ERROR("[conv2d]\nfilters = 2\nkernel = 1\ninit = lecun\n", DC_ERR_FORMAT, 4, "lecun");
    EXPECT_ERROR("units = 3\n[linear]\n", DC_ERR_FORMAT, 1, "before the first section");
    EXPECT_ERROR("[relu]\nthis line has no equals sign\n", DC_ERR_FORMAT, 2, "key = value");
    EXPECT_ERROR("[relu\n", DC_ERR_FORMAT, 1, "section header");
    EXPECT_ERROR("[relu]\n[net]\n", DC_ERR_FORMAT, 2, "[net]");
    EXPECT_ERROR("[relu]\n[add]\n", DC_ERR_FORMAT, 2, "from");
    EXPECT_ERROR("[relu]\n[relu]\nfrom = input, relu1\n", DC_ERR_FORMAT, 3, "one input");
    EXPECT_ERROR("[net]\noutput = nothing\n[relu]\n", DC_ERR_FORMAT, 2, "nothing");
    EXPECT_ERROR("[relu]\nname = input\n", DC_ERR_FORMAT, 2, "reserved");
    EXPECT_ERROR("[net]\nchannels = 3\nheight = 8\nwidth = 8\n[relu]\n", DC_ERR_SHAPE, 2, "[3, 8, 8]");
    EXPECT_ERROR("[net]\nchannels = 1\nheight = 8\n", DC_ERR_FORMAT, 2, "width");
    /* Shape errors from the builders, re-raised with the section's line. */
    EXPECT_BUILD_ERROR("[conv2d]\nname = c\nfilters = 3\nkernel = 1\n\n[add]\nfrom = input\n", DC_ERR_SHAPE, 6, "add");
    EXPECT_BUILD_ERROR("[conv2d]\nfilters = 2\nkernel = 9\n", DC_ERR_SHAPE, 1, "conv");
    EXPECT_BUILD_ERROR("[flatten]\n[reshape]\nshape = 7, 9\n", DC_ERR_SHAPE, 2, "reshape");
    EXPECT_BUILD_ERROR("[maxpool]\nkernel = 2\npad = 2\n", DC_ERR_ARG, 1, "padding");
    /* units = classes with no class count anywhere. */
    dc_graph *g;
    dc_node logits;
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input(g, "images", dc_shape1(4));
    CHECK_ERR(dc_model_text_build(g, "[linear]\nunits = classes\n", "c.cfg", x, 0, &logits), DC_ERR_FORMAT);
    CHECK(strstr(dc_last_error(), "c.cfg:2:") != NULL);
    CHECK_ERR(dc_model_text_build(g, "[relu]\n", "c.cfg", 99, 0, &logits), DC_ERR_ARG);
    CHECK_ERR(dc_model_text_build(NULL, "[relu]\n", "c.cfg", x, 0, &logits), DC_ERR_ARG);
    char *text = NULL;
    CHECK_ERR(dc_model_text_write(g, 42, &text), DC_ERR_ARG);
    CHECK(text == NULL);
    dc_graph_free(g);
}

/* A checkpoint of a zoo model loads into the network read back from its model file. */
TEST(modelfile_zoo_checkpoint_loads_into_the_file_network) {
    const dc_model_info *m = dc_model_find("lenet5");
    dc_node la, lb;
    dc_graph *a = zoo_graph(m, &la), *b = NULL;
    char *text = NULL, path[512];
    dc_status st = DC_OK;
    CHECK_OK(dc_model_text_write(a, la, &text));
    if (text) b = text_graph(m, text, "lenet5.cfg", 10, &lb, &st);
    CHECK_OK(st);
    dc_graph_opts o = {.seed = 1};
    CHECK_OK(dc_graph_plan(a, 1, &o));
    o.seed = 2;
    if (b) CHECK_OK(dc_graph_plan(b, 1, &o));
    snprintf(path, sizeof path, "%s/lenet5.safetensors", dc_test_tmp_dir());
    CHECK_OK(dc_checkpoint_save(path, a, NULL, NULL));
    if (b) CHECK_OK(dc_checkpoint_load(path, b, NULL, NULL));
    const dc_param *pa = dc_graph_params(a), *pb = b ? dc_graph_params(b) : NULL;
    for (int i = 0; pa && pb && i < dc_graph_param_count(a); i++)
        CHECK_MSG(memcmp(pa[i].data, pb[i].data, (size_t)pa[i].numel * sizeof(float)) == 0, "%s differs", pa[i].name);
    free(text);
    dc_graph_free(a);
    dc_graph_free(b);
}
