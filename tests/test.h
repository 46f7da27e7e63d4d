/* test.h — the tiny test harness.
 * TEST(name) { ... } defines a test and registers it before main() runs (a constructor), so a new
 * test file needs no list to edit.  CHECK* record a failure with file:line and carry on; a test
 * passes when it recorded none.  The runner (tests/main.c) prints "N passed, N failed". */
#ifndef DC_TEST_H
#define DC_TEST_H

#include <math.h>
#include <stdio.h>
#include "deepc.h"

typedef void (*dc_test_fn)(void);
void dc_test_register(const char *name, const char *file, dc_test_fn fn);
void dc_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define TEST(name)                                                              \
    static void test_##name(void);                                              \
    __attribute__((constructor)) static void test_register_##name(void) {       \
        dc_test_register(#name, __FILE__, test_##name);                         \
    }                                                                           \
    static void test_##name(void)

#define CHECK(cond)                                                             \
    do { if (!(cond)) dc_test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond); } while (0)
#define CHECK_MSG(cond, ...)                                                    \
    do { if (!(cond)) dc_test_fail(__FILE__, __LINE__, __VA_ARGS__); } while (0)
/* |a - b| <= tol, printing both values on failure. */
#define CHECK_NEAR(a, b, tol)                                                   \
    do { double a_ = (double)(a), b_ = (double)(b), t_ = (double)(tol);        \
         if (!(fabs(a_ - b_) <= t_))                                            \
             dc_test_fail(__FILE__, __LINE__, "%s = %.9g, %s = %.9g, |diff| %.3g > %.3g", \
                          #a, a_, #b, b_, fabs(a_ - b_), t_); } while (0)
/* A call that must return DC_OK; prints the library's message otherwise. */
#define CHECK_OK(expr)                                                          \
    do { dc_status s_ = (expr);                                                 \
         if (s_ != DC_OK) dc_test_fail(__FILE__, __LINE__, "%s -> %s", #expr, dc_last_error()); } while (0)
/* A call that must fail with `code` and leave a non-empty message. */
#define CHECK_ERR(expr, code)                                                   \
    do { dc_error_clear(); dc_status s_ = (expr);                               \
         if (s_ != (code)) dc_test_fail(__FILE__, __LINE__, "%s -> %s, expected %s (%s)", #expr, \
                                       dc_status_name(s_), dc_status_name(code), dc_last_error()); \
         else if (!dc_last_error()[0]) dc_test_fail(__FILE__, __LINE__, "%s: no error message", #expr); \
    } while (0)

/* Directory with the Fashion-MNIST IDX files (env DC_DATA, else the Debian package's). */
const char *dc_test_data_dir(void);
/* Marks the running test skipped, with the reason (it then counts neither as passed nor failed). */
void dc_test_skip(const char *why);
/* 1 when Fashion-MNIST can be read from dc_test_data_dir() (present, and gunzipped or built with
 * zlib); otherwise skips the running test and returns 0:  if (!dc_test_need_data()) return; */
int dc_test_need_data(void);
/* A fresh temporary directory for this process (created on first use). */
const char *dc_test_tmp_dir(void);
/* 1 when the files at a and b both open and hold the same bytes. */
int dc_test_files_equal(const char *a, const char *b);

#endif
