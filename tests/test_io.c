/* test_io.c — the JSON reader and safetensors checkpoints: round trips (escaped and non-ASCII names,
 * metadata, 0-d to 4-d shapes), atomic replacement on failed writes, and every corrupt-file case the
 * reader must reject with DC_ERR_FORMAT and a message.  Files go into the test's temporary directory. */
#include "test.h"
#include "io/atomic.h"
#include "io/json.h"
#include "io/safetensors.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *tmp_path(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "%s/%s", dc_test_tmp_dir(), name);
    return buf;
}

static int write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = n ? fwrite(p, 1, n, f) : 0;
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

/* A safetensors file from a literal header (used as is: no padding) and `data_n` bytes of data.
 * hlen_override != 0 replaces the header length field. */
static int write_st(const char *path, const char *header, size_t data_n, uint64_t hlen_override) {
    size_t hl = strlen(header);
    unsigned char *buf = calloc(1, 8 + hl + data_n);
    if (!buf) return -1;
    uint64_t L = hlen_override ? hlen_override : hl;
    for (int k = 0; k < 8; k++) buf[k] = (unsigned char)(L >> (8 * k));
    memcpy(buf + 8, header, hl);
    for (size_t i = 0; i < data_n; i++) buf[8 + hl + i] = (unsigned char)i;
    int rc = write_bytes(path, buf, 8 + hl + data_n);
    free(buf);
    return rc;
}

/* Number of entries in the temporary directory whose name contains ".tmp.". */
static int count_tmp_files(void) {
    DIR *d = opendir(dc_test_tmp_dir());
    int n = 0;
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, ".tmp.")) n++;
    closedir(d);
    return n;
}

TEST(json_parses_values_and_escapes) {
    const char *text = " {\"a\": [1, -2, 3.5, 1e3, 9223372036854775807, 9223372036854775808], "
                       "\"s\": \"q\\\"b\\\\s\\/\\n\\u00fc\\ud83d\\ude00\", \"t\": true, \"f\": false, \"z\": null, "
                       "\"o\": {}, \"e\": []}  ";
    dc_json *v = NULL;
    size_t pos = 99;
    char err[128];
    CHECK(dc_json_parse(text, strlen(text), &v, &pos, err, sizeof err) == 0);
    if (!v) return;
    CHECK(v->type == DC_JSON_OBJECT && v->count == 7);
    const dc_json *a = dc_json_get(v, "a");
    CHECK(a && a->type == DC_JSON_ARRAY && a->count == 6);
    if (a && a->count == 6) {
        CHECK(a->items[0].is_int && a->items[0].integer == 1);
        CHECK(a->items[1].is_int && a->items[1].integer == -2);
        CHECK(!a->items[2].is_int && a->items[2].number == 3.5);
        CHECK(!a->items[3].is_int && a->items[3].number == 1000.0);
        CHECK(a->items[4].is_int && a->items[4].integer == INT64_MAX);
        CHECK(!a->items[5].is_int); /* does not fit int64 */
    }
    const dc_json *s = dc_json_get(v, "s");
    CHECK(s && s->type == DC_JSON_STRING && strcmp(s->str, "q\"b\\s/\n\xc3\xbc\xf0\x9f\x98\x80") == 0);
    CHECK(dc_json_get(v, "t")->boolean == 1 && dc_json_get(v, "f")->type == DC_JSON_BOOL);
    CHECK(dc_json_get(v, "z")->type == DC_JSON_NULL && dc_json_get(v, "missing") == NULL);
    dc_json_free(v);

    static const char *bad[] = {
        "", "{", "{\"a\" 1}", "{\"a\":1,}", "[1 2]", "01", "1.", "-", "\"abc", "\"\\x\"", "\"\\ud800\"",
        "\"\\udc00\"", "\"\\u12\"", "\"a\nb\"", "tru", "{} x", "{1:2}", "\"\\u0000\"", "\"\xff\"", "\"\xc0\xaf\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = NULL;
        err[0] = '\0';
        CHECK_MSG(dc_json_parse(bad[i], strlen(bad[i]), &v, &pos, err, sizeof err) == -1 && v == NULL && err[0],
                  "bad JSON %zu accepted", i);
    }
    /* Deep nesting is refused, not a stack overflow. */
    char deep[4001];
    memset(deep, '[', 2000);
    memset(deep + 2000, ']', 2000);
    deep[4000] = '\0';
    CHECK(dc_json_parse(deep, 4000, &v, &pos, err, sizeof err) == -1 && strstr(err, "nesting"));
    /* Error position. */
    CHECK(dc_json_parse("{\"a\": [1, x]}", 13, &v, &pos, err, sizeof err) == -1 && pos == 10);
}

TEST(safetensors_round_trip) {
    char p[512];
    float scalar = 3.25f;
    float w4[2 * 3 * 4 * 5];
    for (int i = 0; i < 120; i++) w4[i] = (float)i * 0.5f - 7.0f;
    float v3[3] = {1.0f, -2.0f, 1e-30f};
    const char *quoted = "layer\"1\"\\weight";
    const char *uni = "caf\xc3\xa9/\xe2\x98\x83/\xf0\x9f\x98\x80"; /* café/☃/😀 */
    const char *ctl = "tab\there\nnew\x01line";
    dc_named_tensor t[] = {
        {"scalar", dc_shape_make(0, NULL), &scalar},
        {quoted, dc_shape4(2, 3, 4, 5), w4},
        {uni, dc_shape1(3), v3},
        {ctl, dc_shape2(0, 7), NULL}, /* empty tensor */
    };
    const char *meta[] = {"format", "pt", "note", "said \"hi\"\n\\ \xe2\x82\xac", "epoch", "12"};
    CHECK_OK(dc_safetensors_write(tmp_path(p, sizeof p, "rt.safetensors"), t, 4, meta, 3));

    /* Header length field: a multiple of 8, and the file is exactly 8 + H + data. */
    FILE *f = fopen(p, "rb");
    unsigned char lb[8] = {0};
    CHECK(f && fread(lb, 1, 8, f) == 8);
    if (f) fclose(f);
    uint64_t H = 0;
    for (int k = 7; k >= 0; k--) H = (H << 8) | lb[k];
    struct stat st;
    CHECK(stat(p, &st) == 0);
    CHECK(H % 8 == 0 && (uint64_t)st.st_size == 8 + H + 4 * (1 + 120 + 3));

    dc_st_file *r = NULL;
    CHECK_OK(dc_safetensors_read(p, &r));
    if (!r) return;
    CHECK(dc_st_count(r) == 4);
    dc_shape sh;
    const float *d = NULL;
    CHECK_OK(dc_st_get(r, "scalar", &sh, &d));
    CHECK(sh.rank == 0 && d && d[0] == 3.25f);
    CHECK_OK(dc_st_get(r, quoted, &sh, &d));
    CHECK(dc_shape_equal(sh, dc_shape4(2, 3, 4, 5)) && d && memcmp(d, w4, sizeof w4) == 0);
    CHECK(((uintptr_t)d % 4) == 0);
    CHECK_OK(dc_st_get(r, uni, &sh, &d));
    CHECK(dc_shape_equal(sh, dc_shape1(3)) && d && memcmp(d, v3, sizeof v3) == 0);
    CHECK_OK(dc_st_get(r, ctl, &sh, &d));
    CHECK(dc_shape_equal(sh, dc_shape2(0, 7)));
    /* Names in file order of offsets (the empty tensor sits at the end, after the others). */
    CHECK(strcmp(dc_st_name(r, 0), "scalar") == 0 && strcmp(dc_st_name(r, 1), quoted) == 0 &&
          strcmp(dc_st_name(r, 2), uni) == 0 && strcmp(dc_st_name(r, 3), ctl) == 0);
    CHECK(dc_st_name(r, 4) == NULL && dc_st_name(r, -1) == NULL);
    CHECK(dc_st_meta(r, "format") && strcmp(dc_st_meta(r, "format"), "pt") == 0);
    CHECK(dc_st_meta(r, "note") && strcmp(dc_st_meta(r, "note"), meta[3]) == 0);
    CHECK(dc_st_meta(r, "epoch") && strcmp(dc_st_meta(r, "epoch"), "12") == 0);
    CHECK(dc_st_meta(r, "nope") == NULL);
    CHECK_ERR(dc_st_get(r, "missing.weight", &sh, &d), DC_ERR_ARG);
    CHECK(strstr(dc_last_error(), "missing.weight") && strstr(dc_last_error(), "rt.safetensors"));
    dc_st_free(r);
    dc_st_free(NULL);

    /* No tensors, no metadata: still a valid file. */
    CHECK_OK(dc_safetensors_write(tmp_path(p, sizeof p, "empty.safetensors"), NULL, 0, NULL, 0));
    CHECK_OK(dc_safetensors_read(p, &r));
    CHECK(r && dc_st_count(r) == 0 && dc_st_meta(r, "x") == NULL);
    dc_st_free(r);
}

TEST(safetensors_reads_foreign_escapes_and_padding) {
    /* As another writer might produce it: \u escapes, whitespace, padding, key order not by offset. */
    char p[512];
    const char *hdr = "{ \"b\\u00e9\\ud83d\\ude00\" : {\"shape\": [2], \"dtype\": \"F32\", \"data_offsets\": [8, 16]},\n"
                      "  \"__metadata__\": {\"k\\n\": \"v\\t\"},\n"
                      "  \"a\": {\"dtype\": \"F32\", \"shape\": [1, 2], \"data_offsets\": [0, 8], \"extra\": null} }   ";
    CHECK(write_st(tmp_path(p, sizeof p, "foreign.safetensors"), hdr, 16, 0) == 0);
    dc_st_file *r = NULL;
    CHECK_OK(dc_safetensors_read(p, &r));
    if (!r) return;
    CHECK(dc_st_count(r) == 2);
    CHECK(strcmp(dc_st_name(r, 0), "a") == 0 && strcmp(dc_st_name(r, 1), "b\xc3\xa9\xf0\x9f\x98\x80") == 0);
    CHECK(dc_st_meta(r, "k\n") && strcmp(dc_st_meta(r, "k\n"), "v\t") == 0);
    dc_shape sh;
    const float *d;
    CHECK_OK(dc_st_get(r, "b\xc3\xa9\xf0\x9f\x98\x80", &sh, &d));
    unsigned char expect[8] = {8, 9, 10, 11, 12, 13, 14, 15};
    CHECK(sh.rank == 1 && sh.dim[0] == 2 && memcmp(d, expect, 8) == 0);
    dc_st_free(r);
}

TEST(safetensors_failed_write_leaves_old_file) {
    char good[512], p[512];
    float a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8};
    dc_named_tensor ta = {"w", dc_shape1(4), a}, tb = {"w", dc_shape1(4), b};
    CHECK_OK(dc_safetensors_write(tmp_path(good, sizeof good, "keep.safetensors"), &ta, 1, NULL, 0));

    /* Into a directory that does not exist: I/O error, and the good file elsewhere is untouched. */
    CHECK_ERR(dc_safetensors_write(tmp_path(p, sizeof p, "no-such-dir/x.safetensors"), &tb, 1, NULL, 0), DC_ERR_IO);
    CHECK(strstr(dc_last_error(), "no-such-dir") != NULL);

    /* Same path, invalid request (no data): refused before the disk is touched. */
    dc_named_tensor bad = {"w", dc_shape1(4), NULL};
    CHECK_ERR(dc_safetensors_write(good, &bad, 1, NULL, 0), DC_ERR_ARG);
    dc_named_tensor dup[2] = {tb, tb};
    CHECK_ERR(dc_safetensors_write(good, dup, 2, NULL, 0), DC_ERR_ARG);
    dc_named_tensor reserved = {"__metadata__", dc_shape1(4), b};
    CHECK_ERR(dc_safetensors_write(good, &reserved, 1, NULL, 0), DC_ERR_ARG);
    dc_named_tensor badutf = {"bad\xff", dc_shape1(4), b};
    CHECK_ERR(dc_safetensors_write(good, &badutf, 1, NULL, 0), DC_ERR_ARG);
    const char *dupmeta[] = {"k", "1", "k", "2"};
    CHECK_ERR(dc_safetensors_write(good, &tb, 1, dupmeta, 2), DC_ERR_ARG);

    /* The target is a directory: the temporary is written, the rename fails, the temporary goes. */
    tmp_path(p, sizeof p, "a-directory.safetensors");
    CHECK(mkdir(p, 0700) == 0);
    char inner[600];
    snprintf(inner, sizeof inner, "%s/inside", p);
    CHECK(write_bytes(inner, "x", 1) == 0); /* non-empty, so rename() cannot replace it */
    CHECK_ERR(dc_safetensors_write(p, &tb, 1, NULL, 0), DC_ERR_IO);
    struct stat st;
    CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
    CHECK(count_tmp_files() == 0);

    dc_st_file *r = NULL;
    CHECK_OK(dc_safetensors_read(good, &r));
    const float *d = NULL;
    if (r) CHECK_OK(dc_st_get(r, "w", NULL, &d));
    CHECK(d && memcmp(d, a, sizeof a) == 0);
    dc_st_free(r);

    /* A successful overwrite replaces it. */
    CHECK_OK(dc_safetensors_write(good, &tb, 1, NULL, 0));
    CHECK_OK(dc_safetensors_read(good, &r));
    d = NULL;
    if (r) CHECK_OK(dc_st_get(r, "w", NULL, &d));
    CHECK(d && memcmp(d, b, sizeof b) == 0);
    dc_st_free(r);
    CHECK(count_tmp_files() == 0);
}

TEST(safetensors_rejects_corrupt_files) {
    char p[512];
    dc_st_file *r = (dc_st_file *)1;
    const char *ok = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";

    CHECK_ERR(dc_safetensors_read(tmp_path(p, sizeof p, "absent.safetensors"), &r), DC_ERR_IO);
    CHECK(r == NULL && strstr(dc_last_error(), "absent.safetensors"));

    CHECK(write_bytes(tmp_path(p, sizeof p, "five.safetensors"), "\x10\0\0\0\0", 5) == 0);
    CHECK_ERR(dc_safetensors_read(p, &r), DC_ERR_FORMAT);

    CHECK(write_st(tmp_path(p, sizeof p, "hlen.safetensors"), ok, 8, 1000) == 0);
    CHECK_ERR(dc_safetensors_read(p, &r), DC_ERR_FORMAT);
    CHECK(strstr(dc_last_error(), "1000") && strstr(dc_last_error(), "byte 0"));
    CHECK(write_st(tmp_path(p, sizeof p, "hlen-huge.safetensors"), ok, 8, UINT64_MAX) == 0);
    CHECK_ERR(dc_safetensors_read(p, &r), DC_ERR_FORMAT);

    /* A (sparse) 200 MB file whose header claims 150 MB: over the 100 MB limit, refused unread. */
    tmp_path(p, sizeof p, "hlen-limit.safetensors");
    CHECK(write_st(p, ok, 8, (uint64_t)150 * 1000 * 1000) == 0);
    CHECK(truncate(p, 200 * 1000 * 1000) == 0);
    CHECK_ERR(dc_safetensors_read(p, &r), DC_ERR_FORMAT);
    CHECK(strstr(dc_last_error(), "limit") != NULL);
    unlink(p);

    /* Data cut short: the tensor's offsets now run past the data area. */
    CHECK(write_st(tmp_path(p, sizeof p, "cut.safetensors"), ok, 5, 0) == 0);
    CHECK_ERR(dc_safetensors_read(p, &r), DC_ERR_FORMAT);
    CHECK(strstr(dc_last_error(), "\"a\"") && strstr(dc_last_error(), "byte"));

    struct { const char *name, *header, *needle; } cases[] = {
        {"json", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", "JSON"},
        {"json2", "{\"a\" {}}", "byte 13"},
        {"notobj", "[1, 2]", "object"},
        {"dtype", "{\"half\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]}}", "unsupported dtype \"F16\""},
        {"nodtype", "{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", "dtype"},
        {"range", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", "past the data area"},
        {"mismatch", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", "needs 12 bytes"},
        {"reversed", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", "end before"},
        {"overlap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                    "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", "overlap"},
        {"negshape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", "shape"},
        {"fltshape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", "shape"},
        {"rank6", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,2],\"data_offsets\":[0,8]}}", "rank 6"},
        {"offs1", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8]}}", "data_offsets"},
        {"unaligned", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}", "multiple of 4"},
        {"metatype", "{\"__metadata__\":{\"epoch\":3},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
         "epoch"},
        {"dupname", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                    "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", "two tensors"},
        {"entrytype", "{\"a\":[0,8]}", "expected an object"},
        {"empty", "", "JSON"},
        {"nul", "{\"a\\u0000b\":{}}", "NUL"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "corrupt-%s.safetensors", cases[i].name);
        CHECK(write_st(tmp_path(p, sizeof p, name), cases[i].header, 8, 0) == 0);
        r = (dc_st_file *)1;
        CHECK_ERR(dc_safetensors_read(p, &r), DC_ERR_FORMAT);
        CHECK_MSG(r == NULL, "%s: out not cleared", cases[i].name);
        CHECK_MSG(strstr(dc_last_error(), cases[i].needle) && strstr(dc_last_error(), name),
                  "%s: message \"%s\" lacks \"%s\" or the file name", cases[i].name, dc_last_error(),
                  cases[i].needle);
    }
    /* The "empty" case has header length 0: also check a sane file parses after all those failures. */
    CHECK(write_st(tmp_path(p, sizeof p, "fine.safetensors"), ok, 8, 0) == 0);
    CHECK_OK(dc_safetensors_read(p, &r));
    CHECK(r && dc_st_count(r) == 1);
    dc_st_free(r);
    /* A directory is not a checkpoint. */
    CHECK_ERR(dc_safetensors_read(dc_test_tmp_dir(), &r), DC_ERR_IO);
    CHECK_ERR(dc_safetensors_read(NULL, &r), DC_ERR_ARG);
}

/* A resumed run's logs: the header stays, rows go by one column's value; a missing file stays missing. */
TEST(csv_keep_rows_below_cuts_a_log) {
    char path[600], back[256];
    snprintf(path, sizeof path, "%s/keep.csv", dc_test_tmp_dir());
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs("step,epoch,loss\n10,0.5,2.0\n20,1.0,1.5\n30,1.5,1.2\n40,2.25,1.0", f); /* no final newline */
    fclose(f);
    CHECK_OK(dc_csv_keep_rows_below(path, 1, 1.0));
    f = fopen(path, "r");
    size_t n = f ? fread(back, 1, sizeof back - 1, f) : 0;
    back[n] = '\0';
    if (f) fclose(f);
    CHECK_MSG(!strcmp(back, "step,epoch,loss\n10,0.5,2.0\n"), "kept: [%s]", back);
    CHECK_OK(dc_csv_keep_rows_below(path, 0, 0.0)); /* only the header */
    f = fopen(path, "r");
    n = f ? fread(back, 1, sizeof back - 1, f) : 0;
    back[n] = '\0';
    if (f) fclose(f);
    CHECK(!strcmp(back, "step,epoch,loss\n"));
    snprintf(path, sizeof path, "%s/no-such-log.csv", dc_test_tmp_dir());
    CHECK_OK(dc_csv_keep_rows_below(path, 0, 3.0));
    CHECK(access(path, F_OK) != 0);
}
