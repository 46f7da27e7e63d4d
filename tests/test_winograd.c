/* test_winograd.c — the Winograd kernels (kernels/winograd.c) against the direct reference
 * convolution (dc_conv2d_ref_*) for forward, dX (the flipped forward) and dW, with F(4x4, 3x3) and
 * F(2x2, 3x3), vector and scalar transforms, 2 threads and none, on shapes with odd sizes (edge
 * tiles), padding 0/1/2 and channel counts that are not multiples of 8; the vector transforms
 * against the scalar ones; the Conv2d op on its Winograd path (DC_WINOGRAD=all) against the same
 * op with Winograd off, a finite-difference gradient check through it, and bitwise determinism.
 *
 * Error measure: |got - reference| / (sum of |terms|) per element, where the sum of |terms| is the
 * reference convolution of |x| and |w| (|dy| and |w| for dX, |x| and |dy| for dW): the bound a
 * float sum of those terms can be held to, independent of cancellation.  The bounds asserted are a
 * few times the largest error measured over these shapes (see WINO_TOL_*). */
#include "gradcheck.h"
#include "graph/graph.h"
#include "kernels/conv.h"
#include "kernels/winograd.h"
#include "kernels/winograd_cb.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

/* Largest relative error measured over 60 random shapes (batch 1-3, C 1-70, OC 1-40, planes 2-16,
 * padding 0-2) and VGG/ResNet-like ones (C up to 512), vector and scalar transforms:
 *   F(2x2): fwd 8.7e-7, dX 5.0e-7, dW 2.8e-6 (C = 512 on 2x2 planes);
 *   F(4x4): fwd 6.7e-6, dX 9.2e-6, dW 6.8e-6.
 * (F(4x4)'s larger error: its transforms scale by up to 8 and 1/24; an edge output's own terms can be
 * few and small while its tile's others are not.)  Asserted with a margin of about 3: */
#define WINO_TOL_F2 1e-5
#define WINO_TOL_F4 3e-5

typedef struct wcase {
    int N, C, H, W, OC, p;
} wcase;

static dc_conv_geom geom(const wcase *k) {
    dc_conv_geom g = {.C = k->C, .H = k->H, .W = k->W, .OC = k->OC, .OH = k->H + 2 * k->p - 2,
                      .OW = k->W + 2 * k->p - 2, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = k->p, .pw = k->p,
                      .dh = 1, .dw = 1, .groups = 1};
    return g;
}

/* The transposed geometry of dX (as op_conv.c's flip_geom): input dy, output dx, padding 2 - p. */
static dc_conv_geom flip(const dc_conv_geom *c) {
    dc_conv_geom f = {.C = c->OC, .H = c->OH, .W = c->OW, .OC = c->C, .OH = c->H, .OW = c->W, .kh = 3, .kw = 3,
                      .sh = 1, .sw = 1, .ph = 2 - c->ph, .pw = 2 - c->pw, .dh = 1, .dw = 1, .groups = 1};
    return f;
}

static float *fill(dc_rng *r, int64_t n, float std) {
    float *p = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = std * dc_rng_normal(r);
    return p;
}

static float *absdup(const float *a, int64_t n) {
    float *p = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = fabsf(a[i]);
    return p;
}

/* max over i of |got - base - want| / (mag + tiny): `base` is what the output held before (the
 * kernels accumulate into dX and dW), mag the sum of |terms|. */
static double rel_err(const float *got, const float *base, const float *want, const float *mag, int64_t n) {
    double e = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (base ? base[i] : 0.0) - want[i]) / ((double)mag[i] + 1e-30);
        if (!(d <= e)) e = d; /* NaN becomes the maximum */
    }
    return e;
}

typedef struct errs {
    double fwd, dx, dw;
} errs;

/* Forward, dX and dW of case k by the Winograd drivers (tile size m; scalar transforms or not; the
 * pool may be NULL) against the reference; returns the three relative errors. */
static errs run_case(const wcase *k, int m, int scalar, dc_pool *pool) {
    const dc_conv_geom g = geom(k), f = flip(&g);
    const int64_t nx = (int64_t)k->N * k->C * k->H * k->W, ny = (int64_t)k->N * k->OC * g.OH * g.OW,
                  nw = (int64_t)k->OC * k->C * 9;
    dc_rng r;
    dc_rng_seed(&r, (uint64_t)(k->N * 7919 + k->C * 131 + k->H * 17 + k->W * 5 + k->OC * 3 + k->p + m));
    float *x = fill(&r, nx, 1.0f), *w = fill(&r, nw, 0.3f), *b = fill(&r, k->OC, 1.0f), *dy = fill(&r, ny, 1.0f);
    float *dx0 = fill(&r, nx, 1.0f), *dw0 = fill(&r, nw, 1.0f); /* what the gradients held before */
    float *ax = absdup(x, nx), *aw = absdup(w, nw), *ady = absdup(dy, ny), *ab = absdup(b, k->OC);
    float *y = malloc((size_t)ny * sizeof(float)), *yr = malloc((size_t)ny * sizeof(float)),
          *ym = malloc((size_t)ny * sizeof(float));
    float *dx = malloc((size_t)nx * sizeof(float)), *dxr = calloc((size_t)nx, sizeof(float)),
          *dxm = calloc((size_t)nx, sizeof(float));
    float *dw = malloc((size_t)nw * sizeof(float)), *dwr = calloc((size_t)nw, sizeof(float)),
          *dwm = calloc((size_t)nw, sizeof(float));
    dc_gemm_ctx *gemm;
    CHECK_OK(dc_gemm_ctx_create(pool, &gemm));
    const int nt = dc_pool_size(pool);
    dc_wino wf, wx;
    dc_wino_init(&wf, &g, m, k->N, nt, scalar);
    dc_wino_init(&wx, &f, m, k->N, nt, scalar);
    int64_t ws = dc_wino_forward_workspace(&wf);
    if (dc_wino_forward_workspace(&wx) > ws) ws = dc_wino_forward_workspace(&wx);
    if (dc_wino_dw_workspace(&wf) > ws) ws = dc_wino_dw_workspace(&wf);
    float *work = aligned_alloc(64, (size_t)(ws + 16) / 16 * 16 * sizeof(float));

    dc_conv2d_ref_forward(&g, k->N, x, w, b, yr);
    dc_conv2d_ref_forward(&g, k->N, ax, aw, ab, ym);
    dc_conv2d_ref_backward(&g, k->N, x, w, dy, dxr, dwr, NULL);
    dc_conv2d_ref_backward(&g, k->N, ax, aw, ady, dxm, dwm, NULL);

    dc_wino_forward(gemm, &wf, x, w, 0, b, 0, y, work);
    memcpy(dx, dx0, (size_t)nx * sizeof(float));
    dc_wino_forward(gemm, &wx, dy, w, 1, NULL, DC_CONV_ACC, dx, work);
    memcpy(dw, dw0, (size_t)nw * sizeof(float));
    dc_wino_dw(gemm, &wf, x, dy, dw, work);

    /* accumulating into dx0/dw0 adds their rounding: count |dx0|, |dw0| in the magnitudes */
    for (int64_t i = 0; i < nx; i++) dxm[i] += fabsf(dx0[i]);
    for (int64_t i = 0; i < nw; i++) dwm[i] += fabsf(dw0[i]);
    errs e = {rel_err(y, NULL, yr, ym, ny), rel_err(dx, dx0, dxr, dxm, nx), rel_err(dw, dw0, dwr, dwm, nw)};

    free(work);
    dc_gemm_ctx_free(gemm);
    float *all[] = {x, w, b, dy, dx0, dw0, ax, aw, ady, ab, y, yr, ym, dx, dxr, dxm, dw, dwr, dwm};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
    return e;
}

static const wcase cases[] = {
    {2, 3, 5, 5, 4, 1},    /* one F(4x4) tile plus edges            */
    {3, 5, 9, 7, 6, 1},    /* odd sizes: cropped edge tiles         */
    {2, 7, 8, 8, 9, 0},    /* padding 0                             */
    {2, 4, 6, 11, 5, 2},   /* padding 2 (dX with padding 0)         */
    {1, 9, 13, 10, 3, 1},  /* batch 1                               */
    {3, 17, 14, 14, 11, 1},
    {2, 16, 7, 7, 16, 1},
    {3, 37, 4, 4, 19, 1},  /* one tile per image: groups span images */
    {2, 12, 2, 2, 10, 1},  /* 2x2 planes                            */
    {2, 1, 6, 9, 2, 1},    /* C = 1                                 */
    {2, 3, 3, 3, 1, 0},    /* 1x1 output, OC = 1                    */
};

static void check_cases(int m, int scalar, dc_pool *pool, double tol) {
    errs worst = {0, 0, 0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const wcase *k = &cases[i];
        errs e = run_case(k, m, scalar, pool);
        CHECK_MSG(e.fwd <= tol && e.dx <= tol && e.dw <= tol,
                  "F(%dx%d)%s: N%d C%d %dx%d -> OC%d pad %d: relative error fwd %.3g dX %.3g dW %.3g > %.3g", m, m,
                  scalar ? " scalar" : "", k->N, k->C, k->H, k->W, k->OC, k->p, e.fwd, e.dx, e.dw, tol);
        worst.fwd = e.fwd > worst.fwd ? e.fwd : worst.fwd;
        worst.dx = e.dx > worst.dx ? e.dx : worst.dx;
        worst.dw = e.dw > worst.dw ? e.dw : worst.dw;
    }
    if (getenv("DC_TEST_VERBOSE"))
        fprintf(stderr, "    F(%dx%d)%s %s: max relative error fwd %.3g dX %.3g dW %.3g\n", m, m,
                scalar ? " scalar" : " vector", pool ? "2 threads" : "1 thread", worst.fwd, worst.dx, worst.dw);
}

TEST(winograd_f4_vs_reference) { check_cases(4, 0, NULL, WINO_TOL_F4); }
TEST(winograd_f2_vs_reference) { check_cases(2, 0, NULL, WINO_TOL_F2); }
TEST(winograd_f4_scalar_vs_reference) { check_cases(4, 1, NULL, WINO_TOL_F4); }
TEST(winograd_f2_scalar_vs_reference) { check_cases(2, 1, NULL, WINO_TOL_F2); }
TEST(winograd_with_pool_vs_reference) {
    dc_pool *pool;
    CHECK_OK(dc_pool_create(2, &pool));
    check_cases(4, 0, pool, WINO_TOL_F4);
    check_cases(2, 0, pool, WINO_TOL_F2);
    dc_pool_free(pool);
}

/* ---------------------------------------------------------------- channel-blocked F(4x4) (winograd_cb.c) */
/* Forward (bias; bias + ReLU), dX (the flipped forward, accumulating; accumulating + ReLU) and dW
 * (accumulating) of the channel-blocked path against the reference, on shapes with edge tiles, padding 0/1/2, chunks that
 * span images and partial register blocks; each also checked for the same bits with a pool of 2. */
static const wcase cb_cases[] = {
    {2, 16, 5, 5, 16, 1},  {3, 16, 9, 7, 32, 1},   {2, 32, 8, 8, 16, 0},  {2, 16, 6, 11, 48, 2},
    {1, 64, 13, 10, 64, 1}, {3, 32, 14, 14, 32, 1}, {5, 64, 7, 7, 64, 1},  {4, 16, 28, 28, 16, 1},
    {2, 16, 3, 3, 16, 1},  {7, 48, 4, 4, 64, 1},   {3, 64, 5, 5, 16, 0},  {2, 128, 8, 8, 144, 1},
    {3, 256, 4, 4, 128, 1}, {2, 80, 6, 9, 96, 1},
};

/* y = forward of (x, w, b) by the channel-blocked path with `flags`, on `pool`. */
static void cb_run(const dc_conv_geom *g, int64_t N, dc_pool *pool, const float *x, const float *w, int flip,
                   const float *b, int flags, float *y) {
    dc_wcb cb;
    dc_wcb_init(&cb, g, N, dc_pool_size(pool));
    float *work = aligned_alloc(64, (size_t)(dc_wcb_workspace(&cb) + 16) / 16 * 16 * sizeof(float));
    dc_wcb_forward(pool, &cb, x, w, flip, b, NULL, flags, y, work);
    free(work);
}

TEST(winograd_cb_vs_reference) {
    if (!dc_dconv_avx512()) {
        dc_test_skip("no AVX-512F: the channel-blocked Winograd path does not run here");
        return;
    }
    dc_pool *pool;
    CHECK_OK(dc_pool_create(2, &pool));
    double worst = 0.0;
    for (size_t i = 0; i < sizeof cb_cases / sizeof cb_cases[0]; i++) {
        const wcase *k = &cb_cases[i];
        const dc_conv_geom g = geom(k), f = flip(&g);
        CHECK_MSG(dc_wcb_ok(&g) && dc_wcb_ok(&f), "case %zu: the path should take C%d -> OC%d", i, k->C, k->OC);
        const int64_t nx = (int64_t)k->N * k->C * k->H * k->W, ny = (int64_t)k->N * k->OC * g.OH * g.OW,
                      nw = (int64_t)k->OC * k->C * 9;
        dc_rng r;
        dc_rng_seed(&r, (uint64_t)(i * 977 + 5));
        float *x = fill(&r, nx, 1.0f), *w = fill(&r, nw, 0.3f), *b = fill(&r, k->OC, 1.0f), *dy = fill(&r, ny, 1.0f);
        float *dx0 = fill(&r, nx, 1.0f), *ax = absdup(x, nx), *aw = absdup(w, nw), *ady = absdup(dy, ny),
              *ab = absdup(b, k->OC);
        float *yr = malloc((size_t)ny * sizeof(float)), *ym = malloc((size_t)ny * sizeof(float));
        float *y1 = malloc((size_t)ny * sizeof(float)), *y2 = malloc((size_t)ny * sizeof(float));
        float *dxr = calloc((size_t)nx, sizeof(float)), *dxm = calloc((size_t)nx, sizeof(float));
        float *d1 = malloc((size_t)nx * sizeof(float)), *d2 = malloc((size_t)nx * sizeof(float));
        dc_conv2d_ref_forward(&g, k->N, x, w, b, yr);
        dc_conv2d_ref_forward(&g, k->N, ax, aw, ab, ym);
        dc_conv2d_ref_backward(&g, k->N, x, w, dy, dxr, NULL, NULL);
        dc_conv2d_ref_backward(&g, k->N, ax, aw, ady, dxm, NULL, NULL);
        for (int64_t e = 0; e < nx; e++) dxm[e] += fabsf(dx0[e]);
        for (int relu = 0; relu < 2; relu++) {
            const int fl = relu ? DC_CONV_RELU : 0;
            cb_run(&g, k->N, NULL, x, w, 0, b, fl, y1);
            cb_run(&g, k->N, pool, x, w, 0, b, fl, y2);
            CHECK_MSG(memcmp(y1, y2, (size_t)ny * sizeof(float)) == 0, "case %zu: forward differs on 2 threads", i);
            if (relu) /* the reference with the ReLU applied; the magnitudes stay */
                for (int64_t e = 0; e < ny; e++) yr[e] = yr[e] > 0.0f ? yr[e] : 0.0f;
            double ef = rel_err(y1, NULL, yr, ym, ny);
            memcpy(d1, dx0, (size_t)nx * sizeof(float));
            memcpy(d2, dx0, (size_t)nx * sizeof(float));
            cb_run(&f, k->N, NULL, dy, w, 1, NULL, DC_CONV_ACC | fl, d1);
            cb_run(&f, k->N, pool, dy, w, 1, NULL, DC_CONV_ACC | fl, d2);
            CHECK_MSG(memcmp(d1, d2, (size_t)nx * sizeof(float)) == 0, "case %zu: dX differs on 2 threads", i);
            double ex = 0.0;
            if (relu) { /* d1 = max(0, dx0 + dX) */
                int bad = 0;
                for (int64_t e = 0; e < nx; e++) {
                    const double want = (double)dx0[e] + dxr[e];
                    const double err = fabs((want > 0.0 ? want : 0.0) - d1[e]) / ((double)dxm[e] + 1e-30);
                    bad += !(err <= WINO_TOL_F4);
                }
                CHECK_MSG(bad == 0, "case %zu: %d dX values with the ReLU off the reference", i, bad);
            } else ex = rel_err(d1, dx0, dxr, dxm, nx);
            CHECK_MSG(ef <= WINO_TOL_F4 && ex <= WINO_TOL_F4,
                      "case %zu (N%d C%d %dx%d -> OC%d pad %d, relu %d): relative error fwd %.3g dX %.3g > %.3g", i,
                      k->N, k->C, k->H, k->W, k->OC, k->p, relu, ef, ex, WINO_TOL_F4);
            worst = ef > worst ? ef : worst;
            worst = ex > worst ? ex : worst;
        }
        { /* dW, accumulating into dw0; the same bits on 2 threads */
            float *dw0 = fill(&r, nw, 1.0f), *dwr = calloc((size_t)nw, sizeof(float)),
                  *dwm = calloc((size_t)nw, sizeof(float)), *g1 = malloc((size_t)nw * sizeof(float)),
                  *g2 = malloc((size_t)nw * sizeof(float));
            dc_conv2d_ref_backward(&g, k->N, x, w, dy, NULL, dwr, NULL);
            dc_conv2d_ref_backward(&g, k->N, ax, aw, ady, NULL, dwm, NULL);
            for (int64_t e = 0; e < nw; e++) dwm[e] += fabsf(dw0[e]);
            for (int t = 0; t < 2; t++) {
                dc_pool *p = t ? pool : NULL;
                dc_wcb cb;
                dc_wcb_init(&cb, &g, k->N, dc_pool_size(p));
                float *work = aligned_alloc(64, (size_t)(dc_wcb_dw_workspace(&cb) + 16) / 16 * 16 * sizeof(float));
                memcpy(t ? g2 : g1, dw0, (size_t)nw * sizeof(float));
                dc_wcb_dw(p, &cb, x, dy, t ? g2 : g1, work);
                free(work);
            }
            CHECK_MSG(memcmp(g1, g2, (size_t)nw * sizeof(float)) == 0, "case %zu: dW differs on 2 threads", i);
            const double ew = rel_err(g1, dw0, dwr, dwm, nw);
            CHECK_MSG(ew <= WINO_TOL_F4, "case %zu (N%d C%d %dx%d -> OC%d pad %d): dW relative error %.3g > %.3g", i,
                      k->N, k->C, k->H, k->W, k->OC, k->p, ew, WINO_TOL_F4);
            worst = ew > worst ? ew : worst;
            free(dw0), free(dwr), free(dwm), free(g1), free(g2);
        }
        float *all[] = {x, w, b, dy, dx0, ax, aw, ady, ab, yr, ym, y1, y2, dxr, dxm, d1, d2};
        for (size_t a = 0; a < sizeof all / sizeof all[0]; a++) free(all[a]);
    }
    if (getenv("DC_TEST_VERBOSE")) fprintf(stderr, "    channel-blocked F(4x4): max relative error %.3g\n", worst);
    /* what it does not take: C or OC not a multiple of 16, outputs where F(2x2) needs fewer
     * multiplications (2x2), stride 2 */
    const wcase no[] = {{1, 8, 8, 8, 16, 1}, {1, 16, 8, 8, 24, 1}, {1, 128, 2, 2, 16, 1}};
    for (size_t i = 0; i < 3; i++) {
        const dc_conv_geom g = geom(&no[i]);
        CHECK(!dc_wcb_ok(&g));
    }
    dc_conv_geom s2 = geom(&cb_cases[0]);
    s2.sh = s2.sw = 2;
    s2.OH = s2.OW = 3;
    CHECK(!dc_wcb_ok(&s2));
    dc_pool_free(pool);
}

/* ---------------------------------------------------------------- vector vs scalar transforms */
static int close_to(const float *a, const float *b, int64_t n, double tol);

/* Each transform, vector (8 tiles or filters per register, factored 1-D transforms) against the scalar
 * sandwich over the matrices: the same values up to rounding (the factoring reorders sums). */
static void compare_transforms(int m, const wcase *k) {
    const dc_conv_geom g = geom(k);
    dc_wino v, s;
    dc_wino_init(&v, &g, m, k->N, 1, 0);
    dc_wino_init(&s, &g, m, k->N, 1, 1);
    const int64_t A2 = (int64_t)v.alpha * v.alpha, T = k->N * v.tpi, ld = (T + 15) / 16 * 16;
    const int64_t nx = (int64_t)k->N * k->C * k->H * k->W, ny = (int64_t)k->N * k->OC * g.OH * g.OW;
    const int64_t nw = (int64_t)k->OC * k->C * 9, nu = A2 * v.us;
    dc_rng r;
    dc_rng_seed(&r, (uint64_t)(m * 100 + k->C));
    float *x = fill(&r, nx, 1.0f), *dy = fill(&r, ny, 1.0f), *w = fill(&r, nw, 1.0f), *mv = fill(&r, A2 * ld, 1.0f);
    float *pl = calloc((size_t)(k->N * (v.Sp > v.Sd ? v.Sp : v.Sd)), sizeof(float));
    float *a = calloc((size_t)(A2 * ld > nu ? A2 * ld : nu), sizeof(float));
    float *b = calloc((size_t)(A2 * ld > nu ? A2 * ld : nu), sizeof(float));
    float *ya = fill(&r, ny, 1.0f), *yb = malloc((size_t)ny * sizeof(float)), *wa = fill(&r, nw, 1.0f),
          *wb = malloc((size_t)nw * sizeof(float));
    /* input, channel 0 */
    dc_wino_pad(&v, x, 0, k->N, 0, pl);
    dc_wino_input(&v, k->N, pl, a, ld);
    dc_wino_input(&s, k->N, pl, b, ld);
    for (int64_t xi = 0; xi < A2; xi++) CHECK(close_to(a + xi * ld, b + xi * ld, T, 1e-6));
    /* the same into packed-B panels, as channel 1 of 3 (pstride 3*16): the same values, moved */
    {
        float *pv = calloc((size_t)(A2 * ld * 3), sizeof(float));
        for (int vec = 0; vec < 2; vec++) {
            dc_wino_input(vec ? &v : &s, k->N, pl, a, ld);
            dc_wino_input_panels(vec ? &v : &s, k->N, pl, pv + 16, 3 * ld, 3 * 16);
            int bad = 0;
            for (int64_t xi = 0; xi < A2; xi++)
                for (int64_t t = 0; t < T; t++) bad += pv[xi * 3 * ld + t / 16 * 48 + 16 + t % 16] != a[xi * ld + t];
            CHECK_MSG(bad == 0, "%s input into panels: %d values moved wrongly", vec ? "vector" : "scalar", bad);
        }
        free(pv);
    }
    /* output adjoint, channel 0 of dy */
    dc_wino_pad_dy(&v, dy, 0, k->N, 0, pl);
    dc_wino_output_adj(&v, k->N, pl, a, ld);
    dc_wino_output_adj(&s, k->N, pl, b, ld);
    for (int64_t xi = 0; xi < A2; xi++) CHECK(close_to(a + xi * ld, b + xi * ld, T, 1e-6));
    /* output, channel 0 of y: written, accumulated, then both again with the ReLU */
    memcpy(yb, ya, (size_t)ny * sizeof(float));
    for (int flags = 0; flags < 4; flags++) {
        dc_wino_output(&v, k->N, mv, ld, 0.25f, flags, ya, (int64_t)k->OC * g.OH * g.OW);
        dc_wino_output(&s, k->N, mv, ld, 0.25f, flags, yb, (int64_t)k->OC * g.OH * g.OW);
        CHECK(close_to(ya, yb, ny, 1e-6));
        int neg = 0;
        for (int64_t n = 0; n < k->N; n++)
            for (int64_t p = 0; p < g.OH * g.OW; p++) neg += ya[n * k->OC * g.OH * g.OW + p] < 0.0f;
        CHECK_MSG((flags & DC_CONV_RELU) ? neg == 0 : neg > 0, "output flags %d: %d negative values", flags, neg);
    }
    /* kernel, both orientations (flip: w read as a [C][OC] filter of the transposed geometry) */
    for (int flip = 0; flip < 2; flip++) {
        dc_wino_kernel(&v, w, flip, 0, k->OC, a);
        dc_wino_kernel(&s, w, flip, 0, k->OC, b);
        for (int64_t xi = 0; xi < A2; xi++) CHECK(close_to(a + xi * v.us, b + xi * v.us, k->OC * k->C, 1e-6));
    }
    /* kernel adjoint, accumulating */
    memcpy(wb, wa, (size_t)nw * sizeof(float));
    dc_wino_kernel_adj(&v, a, 0, k->OC, wa);
    dc_wino_kernel_adj(&s, a, 0, k->OC, wb);
    CHECK(close_to(wa, wb, nw, 1e-6));
    float *all[] = {x, dy, w, mv, pl, a, b, ya, yb, wa, wb};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
}

TEST(winograd_vector_vs_scalar_transforms) {
    const wcase k1 = {3, 11, 9, 13, 13, 1}, k2 = {2, 8, 5, 4, 17, 2};
    compare_transforms(4, &k1);
    compare_transforms(2, &k1);
    compare_transforms(4, &k2);
    compare_transforms(2, &k2);
}

/* ---------------------------------------------------------------- the Conv2d op */
/* Set DC_WINOGRAD for one block of a test and put back what was there. */
typedef struct env_save {
    char old[32];
    int had;
} env_save;
static env_save env_set(const char *v) {
    env_save s = {{0}, 0};
    const char *o = getenv("DC_WINOGRAD");
    if (o) {
        s.had = 1;
        snprintf(s.old, sizeof s.old, "%s", o);
    }
    if (v) setenv("DC_WINOGRAD", v, 1);
    else unsetenv("DC_WINOGRAD");
    return s;
}
static void env_restore(const env_save *s) {
    if (s->had) setenv("DC_WINOGRAD", s->old, 1);
    else unsetenv("DC_WINOGRAD");
}

typedef struct op_out {
    int64_t ny, nx, nw;
    float *y, *dx, *dw, *db;
} op_out;

/* x (needs a gradient) -> conv 3x3 (bias): the op's forward, then its backward from a fixed dy, with
 * DC_WINOGRAD = mode (NULL: unset), on `pool`.  The op functions are called directly so that each
 * pass's result depends only on that pass's path (through a loss, dy would depend on the forward's). */
static op_out run_op(const wcase *k, const char *mode, dc_pool *pool) {
    env_save es = env_set(mode);
    op_out o = {0};
    dc_graph *g;
    dc_rng r;
    dc_rng_seed(&r, (uint64_t)(k->C * 1009 + k->H * 101 + k->OC * 7 + k->p));
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input_grad(g, "x", dc_shape3(k->C, k->H, k->W));
    dc_conv2d_opts co = {.kh = 3, .kw = 3, .pad_h = k->p, .pad_w = k->p};
    dc_node y = dc_conv2d_ex(g, x, k->OC, "conv", &co);
    dc_graph_opts go = {.pool = pool, .seed = 3};
    CHECK_OK(dc_graph_plan(g, k->N, &go));
    dc_node_rec *n = &g->nodes[y];
    o.nx = (int64_t)k->N * k->C * k->H * k->W;
    o.ny = k->N * dc_shape_numel(dc_node_shape(g, y));
    o.nw = dc_graph_params(g)[0].numel;
    dc_test_fill(&r, dc_graph_data(g, x), o.nx, 1.0f, 0.0f);
    dc_test_fill(&r, dc_graph_params(g)[1].data, k->OC, 0.5f, 0.0f);
    dc_test_fill(&r, n->grad, o.ny, 1.0f, 0.0f);
    dc_test_fill(&r, dc_graph_grad(g, x), o.nx, 1.0f, 0.0f); /* backward accumulates into what is there */
    dc_graph_zero_grad(g);
    CHECK_OK(dc_op_conv2d_forward(g, n, k->N, 1));
    dc_op_conv2d_backward(g, n, k->N);
    o.y = malloc((size_t)o.ny * sizeof(float));
    o.dx = malloc((size_t)o.nx * sizeof(float));
    o.dw = malloc((size_t)o.nw * sizeof(float));
    o.db = malloc((size_t)k->OC * sizeof(float));
    memcpy(o.y, n->out, (size_t)o.ny * sizeof(float));
    memcpy(o.dx, dc_graph_grad(g, x), (size_t)o.nx * sizeof(float));
    memcpy(o.dw, dc_graph_params(g)[0].grad, (size_t)o.nw * sizeof(float));
    memcpy(o.db, dc_graph_params(g)[1].grad, (size_t)k->OC * sizeof(float));
    dc_graph_free(g);
    env_restore(&es);
    return o;
}

static void op_free(op_out *o) {
    free(o->y);
    free(o->dx);
    free(o->dw);
    free(o->db);
}

static int same(const float *a, const float *b, int64_t n) { return memcmp(a, b, (size_t)n * sizeof(float)) == 0; }

/* |a - b| <= tol * max|b| (+ a floor for all-small outputs). */
static int close_to(const float *a, const float *b, int64_t n, double tol) {
    double m = 0.0;
    for (int64_t i = 0; i < n; i++) m = fabs(b[i]) > m ? fabs(b[i]) : m;
    for (int64_t i = 0; i < n; i++)
        if (!(fabs((double)a[i] - b[i]) <= tol * (m > 1.0 ? m : 1.0))) return 0;
    return 1;
}

static const wcase op_cases[] = {
    {2, 5, 9, 11, 7, 1},  /* small: Winograd only when forced  */
    {3, 6, 7, 7, 9, 0},   /* padding 0                          */
    {2, 4, 6, 5, 3, 2},   /* padding 2                          */
    {16, 40, 8, 8, 36, 1}, /* the default thresholds take fwd/dX (64 tiles, >= 32 channels) */
    {16, 64, 5, 5, 64, 1}, /* ... and dW too (F(4x4) on 5x5: 2x2 tiles) */
    {64, 64, 2, 2, 64, 1}, /* F(2x2) on 2x2 planes                */
};

/* On (forced) against off: the same within the Winograd bound (the off path is itself within 1e-4
 * of the reference, tests/test_conv.c); dX, dW, db likewise. */
TEST(winograd_op_on_off_agree) {
    dc_pool *pool;
    CHECK_OK(dc_pool_create(2, &pool));
    for (size_t i = 0; i < sizeof op_cases / sizeof op_cases[0]; i++) {
        const wcase *k = &op_cases[i];
        op_out on = run_op(k, "all", i % 2 ? pool : NULL), off = run_op(k, "0", i % 2 ? pool : NULL);
        CHECK_MSG(close_to(on.y, off.y, on.ny, 1e-4) && close_to(on.dx, off.dx, on.nx, 1e-4) &&
                      close_to(on.dw, off.dw, on.nw, 1e-4) && close_to(on.db, off.db, k->OC, 1e-5),
                  "Winograd on/off differ: N%d C%d %dx%d -> OC%d pad %d", k->N, k->C, k->H, k->W, k->OC, k->p);
        /* the bias gradient does not depend on the path: the same sum in the same order */
        CHECK(same(on.db, off.db, k->OC));
        op_free(&on);
        op_free(&off);
    }
    dc_pool_free(pool);
}

/* The default (unset) takes the measured thresholds: the large cases run the Winograd passes (the
 * same bits as forced on), the small ones the other paths (the same bits as off). */
TEST(winograd_op_default_thresholds) {
    const wcase small = op_cases[0], fwd_dx = op_cases[3], all3 = op_cases[4];
    op_out d = run_op(&small, NULL, NULL), off = run_op(&small, "0", NULL);
    CHECK(same(d.y, off.y, d.ny) && same(d.dx, off.dx, d.nx) && same(d.dw, off.dw, d.nw));
    op_free(&d);
    op_free(&off);
    d = run_op(&fwd_dx, NULL, NULL);
    op_out on = run_op(&fwd_dx, "all", NULL);
    off = run_op(&fwd_dx, "0", NULL);
    CHECK(same(d.y, on.y, d.ny) && same(d.dx, on.dx, d.nx)); /* forward and dX on Winograd */
    CHECK(same(d.dw, off.dw, d.nw) && !same(d.dw, on.dw, d.nw)); /* dW (40 channels) not */
    CHECK(!same(d.y, off.y, d.ny));
    op_free(&d);
    op_free(&on);
    op_free(&off);
    d = run_op(&all3, NULL, NULL);
    on = run_op(&all3, "all", NULL);
    CHECK(same(d.y, on.y, d.ny) && same(d.dx, on.dx, d.nx) && same(d.dw, on.dw, d.nw));
    op_free(&d);
    op_free(&on);
}

/* Same seed, same threads: the same bits; and (all splits fixed) 2 threads give the bits of 1. */
TEST(winograd_op_deterministic) {
    dc_pool *pool;
    CHECK_OK(dc_pool_create(2, &pool));
    for (size_t i = 0; i < sizeof op_cases / sizeof op_cases[0]; i++) {
        const wcase *k = &op_cases[i];
        op_out a = run_op(k, "all", pool), b = run_op(k, "all", pool), c = run_op(k, "all", NULL);
        CHECK_MSG(same(a.y, b.y, a.ny) && same(a.dx, b.dx, a.nx) && same(a.dw, b.dw, a.nw),
                  "repeat differs: case %zu", i);
        CHECK_MSG(same(a.y, c.y, a.ny) && same(a.dx, c.dx, a.nx) && same(a.dw, c.dw, a.nw),
                  "2 threads and 1 differ: case %zu", i);
        op_free(&a);
        op_free(&b);
        op_free(&c);
    }
    dc_pool_free(pool);
}

/* Finite differences through a graph whose convolution takes the Winograd path (forced, and by the
 * default thresholds), with a residual use of x so dX accumulates into an existing gradient. */
static void gradcheck_wino(const wcase *k, const char *mode) {
    env_save es = env_set(mode);
    dc_graph *g;
    dc_rng r;
    dc_rng_seed(&r, (uint64_t)(k->C * 31 + k->H * 7 + k->p));
    CHECK_OK(dc_graph_create(&g));
    dc_node x = dc_input_grad(g, "x", dc_shape3(k->C, k->H, k->W));
    dc_node t = dc_input(g, "t", dc_shape1(3));
    dc_conv2d_opts co = {.kh = 3, .kw = 3, .pad_h = k->p, .pad_w = k->p};
    dc_node y = dc_conv2d_ex(g, x, k->OC, "conv", &co);
    if (k->OC == k->C && k->p == 1) y = dc_add(g, y, x);
    dc_node l = dc_mse(g, dc_linear(g, dc_flatten(g, y), 3, "head"), t);
    CHECK_OK(dc_graph_status(g));
    dc_graph_opts go = {.seed = 5};
    CHECK_OK(dc_graph_plan(g, k->N, &go));
    dc_test_fill(&r, dc_graph_data(g, x), (int64_t)k->N * k->C * k->H * k->W, 1.0f, 0.0f);
    dc_test_fill(&r, dc_graph_data(g, t), k->N * 3, 1.0f, 0.0f);
    dc_test_fill(&r, dc_graph_params(g)[1].data, k->OC, 0.3f, 0.0f);
    CHECK_MSG(dc_gradcheck(g, l, k->N, &x, 1, 1e-2f, 1e-2, 1e-4, 32) == 0, "Winograd gradcheck C%d %dx%d -> %d p%d (%s)",
              k->C, k->H, k->W, k->OC, k->p, mode ? mode : "default");
    dc_graph_free(g);
    env_restore(&es);
}

TEST(gradcheck_winograd_forced) {
    const wcase a = {2, 3, 7, 6, 4, 1}, b = {2, 4, 5, 5, 4, 1}, c = {1, 2, 6, 7, 3, 0}, d = {1, 3, 4, 3, 2, 2};
    gradcheck_wino(&a, "all");
    gradcheck_wino(&b, "all");
    gradcheck_wino(&c, "all");
    gradcheck_wino(&d, "all");
}

TEST(gradcheck_winograd_default_path) {
    const wcase k = {16, 64, 5, 5, 64, 1}; /* 64 tiles of 64 channels: forward, dX and dW on Winograd */
    gradcheck_wino(&k, NULL);
}
