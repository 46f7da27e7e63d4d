/* winograd.c — Winograd convolution F(4x4, 3x3) and F(2x2, 3x3) (Lavin & Gray 2015), see winograd.h:
 * the transform matrices, the plain scalar transforms (a 2-D "sandwich" L·d·Lᵀ over the matrices as
 * written in the paper), the AVX2/FMA transforms (8 tiles per vector, hand-factored 1-D
 * transforms), and the drivers that run them with one deepc GEMM per transform position.
 * Deliberately not here: choosing when Winograd pays (op_conv.c), and any allocation (the caller
 * passes a workspace of dc_wino_*_workspace floats). */
#include "kernels/winograd.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DC_WINO_X86 1
#else
#define DC_WINO_X86 0
#endif

/* ------------------------------------------------------------------ the matrices
 * Lavin & Gray 2015, section 4.1 (F(2x2, 3x3)) and 4.2 (F(4x4, 3x3)); 1-D F(m, 3):
 *   y = Aᵀ [(G g) ⊙ (Bᵀ d)],  2-D F(m x m, 3x3):  Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A. */

/* F(2x2, 3x3), alpha = 4 (interpolation points 0, 1, -1, ∞). */
static const float BT4[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
static const float G4[4][3] = {{1, 0, 0}, {0.5f, 0.5f, 0.5f}, {0.5f, -0.5f, 0.5f}, {0, 0, 1}};
static const float AT4[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};

/* F(4x4, 3x3), alpha = 6 (points 0, 1, -1, 2, -2, ∞). */
static const float BT6[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                                {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
static const float G6[6][3] = {{1.0f / 4, 0, 0},
                               {-1.0f / 6, -1.0f / 6, -1.0f / 6},
                               {-1.0f / 6, 1.0f / 6, -1.0f / 6},
                               {1.0f / 24, 1.0f / 12, 1.0f / 6},
                               {1.0f / 24, -1.0f / 12, 1.0f / 6},
                               {0, 0, 1}};
static const float AT6[4][6] = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};

/* Chunk sizes (floats of V + M per chunk, see dc_wino_init). */
#define FWD_CHUNK_FLOATS (256 * 1024) /* 1 MiB: a thread's V and M stay in L2 between the passes   */
#define FWD_MIN_TILES 64              /* ... but a GEMM needs columns to amortise packing U[xi]     */
#define DW_CHUNK_FLOATS (2 * 1024 * 1024)
#define DW_MIN_TILES 256              /* dW's GEMM depth per chunk                                  */

static int64_t r8(int64_t v) { return (v + 7) / 8 * 8; }
static int64_t r16(int64_t v) { return (v + 15) / 16 * 16; } /* keeps workspace regions 64-byte aligned */
/* The distance between the alpha² blocks of U, V and M: `floats` rounded up to an odd number of
 * 64-byte lines.  Why: a transform touches all alpha² blocks at once (36 streams); with blocks a
 * multiple of 4 KiB apart (e.g. V of 64 channels x 64 tiles) every stream maps to the same cache set
 * and each access missed (the output transform ran 5x slower).  An odd line count puts the blocks'
 * starts in distinct sets. */
static int64_t spread(int64_t floats) {
    const int64_t lines = (floats + 15) / 16;
    return (lines % 2 ? lines : lines + 1) * 16;
}
static int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }

int dc_wino_ok(const dc_conv_geom *g) {
    return g->kh == 3 && g->kw == 3 && g->sh == 1 && g->sw == 1 && g->dh == 1 && g->dw == 1 && g->groups == 1 &&
           g->OH == g->H + 2 * (int64_t)g->ph - 2 && g->OW == g->W + 2 * (int64_t)g->pw - 2 && g->OH > 0 && g->OW > 0;
}

int dc_wino_pick_m(const dc_conv_geom *g) {
    const int64_t t4 = ((g->OH + 3) / 4) * ((g->OW + 3) / 4) * 36, t2 = ((g->OH + 1) / 2) * ((g->OW + 1) / 2) * 16;
    return t2 < t4 ? 2 : 4;
}

void dc_wino_init(dc_wino *w, const dc_conv_geom *g, int m, int64_t N, int nthreads, int scalar) {
    memset(w, 0, sizeof *w);
    w->m = m == 2 ? 2 : 4;
    w->alpha = w->m + 2;
    w->scalar = scalar;
    w->ph = g->ph;
    w->pw = g->pw;
    w->N = N;
    w->C = g->C;
    w->H = g->H;
    w->W = g->W;
    w->OC = g->OC;
    w->OH = g->OH;
    w->OW = g->OW;
    w->th = (g->OH + w->m - 1) / w->m;
    w->tw = (g->OW + w->m - 1) / w->m;
    w->tpi = w->th * w->tw;
    /* tile (ty, tx) reads padded rows ty*m .. ty*m + alpha - 1: th*m + 2 rows; the vector loads read
     * 8 floats from a patch row's start, at most 6 past the row's last patch: slack 8 per plane */
    w->Hp = w->th * w->m + 2;
    w->Wp = w->tw * w->m + 2;
    w->Sp = w->Hp * w->Wp + 8;
    w->Hd = w->th * w->m;
    w->Wd = w->tw * w->m;
    w->Sd = w->Hd * w->Wd + 8;
    w->nt = nthreads < 1 ? 1 : nthreads;
    const int64_t per_tile = (int64_t)w->alpha * w->alpha * (w->C + w->OC);
    /* forward: a thread's chunk (V and M) about FWD_CHUNK_FLOATS, at least FWD_MIN_TILES tiles, at
     * most an equal share of the batch.  The chunks do not change any result (each output is one
     * tile's transforms and GEMM columns, whichever chunk holds it). */
    int64_t tiles = imax(FWD_MIN_TILES, FWD_CHUNK_FLOATS / per_tile);
    w->imgs = imax(1, imin((tiles + w->tpi - 1) / w->tpi, (N + w->nt - 1) / w->nt));
    w->ld = r16(w->imgs * w->tpi);
    /* dW: chunks fixed by the shapes alone, since they decide the order of the batch sum */
    tiles = imax(DW_MIN_TILES, DW_CHUNK_FLOATS / per_tile);
    w->dw_imgs = imax(1, imin((tiles + w->tpi - 1) / w->tpi, N));
    w->dw_ld = r16(w->dw_imgs * w->tpi);
    w->us = spread(w->OC * w->C);
}

/* ------------------------------------------------------------------ padding */
/* One plane src [H][W] into dst [Hp][Wp] at row offset top, column offset left, zeros elsewhere and
 * up to S floats. */
static void pad_plane(const float *src, int64_t H, int64_t W, int64_t top, int64_t left, int64_t Hp, int64_t Wp,
                      int64_t S, float *dst) {
    const int64_t l = imin(left, Wp), n = imax(0, imin(W, Wp - l));
    for (int64_t r = 0; r < Hp; r++) {
        float *d = dst + r * Wp;
        const int64_t sr = r - top;
        if (sr < 0 || sr >= H) {
            for (int64_t k = 0; k < Wp; k++) d[k] = 0.0f;
            continue;
        }
        /* plain loops: rows are short (30 floats for 28x28), a library call per piece cost more */
        const float *s = src + sr * W;
        for (int64_t k = 0; k < l; k++) d[k] = 0.0f;
        for (int64_t k = 0; k < n; k++) d[l + k] = s[k];
        for (int64_t k = l + n; k < Wp; k++) d[k] = 0.0f;
    }
    for (int64_t k = Hp * Wp; k < S; k++) dst[k] = 0.0f;
}

void dc_wino_pad(const dc_wino *w, const float *x, int64_t n0, int64_t nimg, int64_t c, float *xp) {
    const int64_t P = w->H * w->W;
    for (int64_t i = 0; i < nimg; i++)
        pad_plane(x + ((n0 + i) * w->C + c) * P, w->H, w->W, w->ph, w->pw, w->Hp, w->Wp, w->Sp, xp + i * w->Sp);
}

void dc_wino_pad_dy(const dc_wino *w, const float *dy, int64_t n0, int64_t nimg, int64_t o, float *dp) {
    const int64_t P = w->OH * w->OW;
    for (int64_t i = 0; i < nimg; i++)
        pad_plane(dy + ((n0 + i) * w->OC + o) * P, w->OH, w->OW, 0, 0, w->Hd, w->Wd, w->Sd, dp + i * w->Sd);
}

/* ------------------------------------------------------------------ scalar reference transforms */
/* out[i][j] = sum_k (sum_r L(i,r) d[r][k]) L(j,k),  L(i,r) = L[i*li + r*lr] an R x K matrix, d K x K,
 * out R x R.  Every transform is one of these:  input Bᵀ d B (L = Bᵀ), kernel G g Gᵀ (L = G), output
 * Aᵀ M A (L = Aᵀ), and the adjoints A dY Aᵀ (L = A) and Gᵀ dU G (L = Gᵀ). */
static void sandwich(int R, int K, const float *L, int li, int lr, const float *d, float *out) {
    float t[6][6];
    for (int i = 0; i < R; i++)
        for (int k = 0; k < K; k++) {
            float s = 0.0f;
            for (int r = 0; r < K; r++) s += L[i * li + r * lr] * d[r * K + k];
            t[i][k] = s;
        }
    for (int i = 0; i < R; i++)
        for (int j = 0; j < R; j++) {
            float s = 0.0f;
            for (int k = 0; k < K; k++) s += t[i][k] * L[j * li + k * lr];
            out[i * R + j] = s;
        }
}

static const float *BT_of(const dc_wino *w) { return w->m == 4 ? &BT6[0][0] : &BT4[0][0]; }
static const float *G_of(const dc_wino *w) { return w->m == 4 ? &G6[0][0] : &G4[0][0]; }
static const float *AT_of(const dc_wino *w) { return w->m == 4 ? &AT6[0][0] : &AT4[0][0]; }

/* Tile t of a chunk: image n, tile row ty, tile column tx (a cursor, no divisions per tile). */
typedef struct tcur {
    int64_t n, ty, tx;
} tcur;
static void tcur_next(tcur *c, const dc_wino *w) {
    if (++c->tx == w->tw) {
        c->tx = 0;
        if (++c->ty == w->th) {
            c->ty = 0;
            c->n++;
        }
    }
}

/* Column of tile t in a row of V: t itself, or in 16-wide panels pstride apart (pstride > 0). */
static inline int64_t vcol(int64_t t, int64_t pstride) { return pstride ? t / 16 * pstride + t % 16 : t; }

static void input_ref(const dc_wino *w, int64_t nimg, const float *xp, float *v, int64_t xs, int64_t pstride) {
    const int a = w->alpha, A2 = a * a;
    float d[36], o[36];
    tcur c = {0, 0, 0};
    for (int64_t t = 0; t < nimg * w->tpi; t++, tcur_next(&c, w)) {
        const float *p = xp + c.n * w->Sp + c.ty * w->m * w->Wp + c.tx * w->m;
        for (int r = 0; r < a; r++)
            for (int k = 0; k < a; k++) d[r * a + k] = p[r * w->Wp + k];
        sandwich(a, a, BT_of(w), a, 1, d, o);
        for (int xi = 0; xi < A2; xi++) v[xi * xs + vcol(t, pstride)] = o[xi];
    }
}

static void output_ref(const dc_wino *w, int64_t nimg, const float *mv, int64_t xs, float b, int flags, float *y,
                       int64_t ys) {
    const int accumulate = flags & DC_CONV_ACC, relu = flags & DC_CONV_RELU;
    const int a = w->alpha, m = w->m, A2 = a * a;
    float d[36], o[16];
    tcur c = {0, 0, 0};
    for (int64_t t = 0; t < nimg * w->tpi; t++, tcur_next(&c, w)) {
        for (int xi = 0; xi < A2; xi++) d[xi] = mv[xi * xs + t];
        sandwich(m, a, AT_of(w), a, 1, d, o);
        const int64_t rows = imin(m, w->OH - c.ty * m), cols = imin(m, w->OW - c.tx * m);
        float *yp = y + c.n * ys + c.ty * m * w->OW + c.tx * m;
        for (int64_t u = 0; u < rows; u++)
            for (int64_t s = 0; s < cols; s++) {
                const float v = accumulate ? yp[u * w->OW + s] + o[u * m + s] : o[u * m + s] + b;
                yp[u * w->OW + s] = relu && !(v > 0.0f) ? 0.0f : v;
            }
    }
}

static void output_adj_ref(const dc_wino *w, int64_t nimg, const float *dp, float *dm, int64_t xs) {
    const int a = w->alpha, m = w->m, A2 = a * a;
    float d[16], o[36];
    tcur c = {0, 0, 0};
    for (int64_t t = 0; t < nimg * w->tpi; t++, tcur_next(&c, w)) {
        const float *p = dp + c.n * w->Sd + c.ty * m * w->Wd + c.tx * m;
        for (int u = 0; u < m; u++)
            for (int s = 0; s < m; s++) d[u * m + s] = p[u * w->Wd + s];
        sandwich(a, m, AT_of(w), 1, a, d, o); /* L = A = (Aᵀ)ᵀ: L(i, u) = Aᵀ[u][i] */
        for (int xi = 0; xi < A2; xi++) dm[xi * xs + t] = o[xi];
    }
}

static void kernel_ref(const dc_wino *w, const float *wt, int flip, int64_t r0, int64_t r1, float *U) {
    const int a = w->alpha, A2 = a * a;
    const int64_t R = w->OC, S = w->C;
    float g[9], o[36];
    for (int64_t r = r0; r < r1; r++)
        for (int64_t s = 0; s < S; s++) {
            const float *k = flip ? wt + (s * R + r) * 9 : wt + (r * S + s) * 9;
            for (int t = 0; t < 9; t++) g[t] = flip ? k[8 - t] : k[t];
            sandwich(a, 3, G_of(w), 3, 1, g, o);
            for (int xi = 0; xi < A2; xi++) U[xi * w->us + r * S + s] = o[xi];
        }
}

static void kernel_adj_ref(const dc_wino *w, const float *dU, int64_t o0, int64_t o1, float *dwt) {
    const int a = w->alpha, A2 = a * a;
    const int64_t C = w->C;
    float d[36], g[9];
    for (int64_t o = o0; o < o1; o++)
        for (int64_t c = 0; c < C; c++) {
            for (int xi = 0; xi < A2; xi++) d[xi] = dU[xi * w->us + o * C + c];
            sandwich(3, a, G_of(w), 1, 3, d, g); /* L = Gᵀ: L(k, i) = G[i][k] */
            for (int t = 0; t < 9; t++) dwt[(o * C + c) * 9 + t] += g[t];
        }
}

/* ------------------------------------------------------------------ AVX2/FMA transforms
 * Vectors run across 8 tiles (or 8 filters).  The 1-D transforms are the rows of the matrices above,
 * factored to share sums (so the rounding differs slightly from the scalar sandwich). */
#if DC_WINO_X86
#define DC_AVX2 __attribute__((target("avx2,fma")))
#define V8 __m256
#define SET1 _mm256_set1_ps
#define ADD _mm256_add_ps
#define SUB _mm256_sub_ps
#define MUL _mm256_mul_ps
#define FMA _mm256_fmadd_ps   /* a*b + c */
#define FNMA _mm256_fnmadd_ps /* c - a*b */

/* Bᵀ d, F(4x4):  4d0 - 5d2 + d4,  (d3 + d4) - 4(d1 + d2),  (d4 - d3) + 4(d1 - d2),
 *               (d4 - d2) ± 2(d3 - d1),  4d1 - 5d3 + d5 */
DC_AVX2 static inline void bt6(const V8 *d, V8 *o) {
    const V8 c4 = SET1(4.0f), c5 = SET1(5.0f), c2 = SET1(2.0f);
    const V8 e = SUB(d[4], d[2]), f = MUL(c2, SUB(d[3], d[1]));
    o[0] = ADD(FNMA(c5, d[2], MUL(c4, d[0])), d[4]);
    o[1] = FNMA(c4, ADD(d[1], d[2]), ADD(d[3], d[4]));
    o[2] = FMA(c4, SUB(d[1], d[2]), SUB(d[4], d[3]));
    o[3] = ADD(e, f);
    o[4] = SUB(e, f);
    o[5] = ADD(FNMA(c5, d[3], MUL(c4, d[1])), d[5]);
}
/* Bᵀ d, F(2x2):  d0 - d2,  d1 + d2,  d2 - d1,  d1 - d3 */
DC_AVX2 static inline void bt4(const V8 *d, V8 *o) {
    o[0] = SUB(d[0], d[2]);
    o[1] = ADD(d[1], d[2]);
    o[2] = SUB(d[2], d[1]);
    o[3] = SUB(d[1], d[3]);
}
/* Aᵀ m, F(4x4) (6 -> 4):  m0 + (m1+m2) + (m3+m4),  (m1-m2) + 2(m3-m4),  (m1+m2) + 4(m3+m4),
 *                         (m1-m2) + 8(m3-m4) + m5 */
DC_AVX2 static inline void at6(const V8 *m, V8 *o) {
    const V8 s12 = ADD(m[1], m[2]), d12 = SUB(m[1], m[2]), s34 = ADD(m[3], m[4]), d34 = SUB(m[3], m[4]);
    o[0] = ADD(ADD(m[0], s12), s34);
    o[1] = FMA(SET1(2.0f), d34, d12);
    o[2] = FMA(SET1(4.0f), s34, s12);
    o[3] = ADD(FMA(SET1(8.0f), d34, d12), m[5]);
}
/* Aᵀ m, F(2x2) (4 -> 2):  m0 + m1 + m2,  m1 - m2 - m3 */
DC_AVX2 static inline void at4(const V8 *m, V8 *o) {
    o[0] = ADD(ADD(m[0], m[1]), m[2]);
    o[1] = SUB(SUB(m[1], m[2]), m[3]);
}
/* A y (the adjoint of Aᵀ), F(4x4) (4 -> 6):  y0,  (y0+y2) ± (y1+y3),  (y0 + 4y2) ± 2(y1 + 4y3),  y3 */
DC_AVX2 static inline void a6(const V8 *y, V8 *o) {
    const V8 p = ADD(y[0], y[2]), q = ADD(y[1], y[3]);
    const V8 r = FMA(SET1(4.0f), y[2], y[0]), s = FMA(SET1(4.0f), y[3], y[1]);
    o[0] = y[0];
    o[1] = ADD(p, q);
    o[2] = SUB(p, q);
    o[3] = FMA(SET1(2.0f), s, r);
    o[4] = FNMA(SET1(2.0f), s, r);
    o[5] = y[3];
}
/* A y, F(2x2) (2 -> 4):  y0,  y0 + y1,  y0 - y1,  -y1 */
DC_AVX2 static inline void a4(const V8 *y, V8 *o) {
    o[0] = y[0];
    o[1] = ADD(y[0], y[1]);
    o[2] = SUB(y[0], y[1]);
    o[3] = SUB(_mm256_setzero_ps(), y[1]);
}
/* G g, F(4x4) (3 -> 6):  g0/4,  -((g0+g2) ± g1)/6,  (g0/24 + g2/6) ± g1/12,  g2 */
DC_AVX2 static inline void g6(const V8 *g, V8 *o) {
    const V8 t = ADD(g[0], g[2]), s = FMA(g[0], SET1(1.0f / 24), MUL(g[2], SET1(1.0f / 6)));
    o[0] = MUL(g[0], SET1(1.0f / 4));
    o[1] = MUL(ADD(t, g[1]), SET1(-1.0f / 6));
    o[2] = MUL(SUB(t, g[1]), SET1(-1.0f / 6));
    o[3] = FMA(g[1], SET1(1.0f / 12), s);
    o[4] = FNMA(g[1], SET1(1.0f / 12), s);
    o[5] = g[2];
}
/* G g, F(2x2) (3 -> 4):  g0,  ((g0+g2) ± g1)/2,  g2 */
DC_AVX2 static inline void g4(const V8 *g, V8 *o) {
    const V8 t = ADD(g[0], g[2]);
    o[0] = g[0];
    o[1] = MUL(ADD(t, g[1]), SET1(0.5f));
    o[2] = MUL(SUB(t, g[1]), SET1(0.5f));
    o[3] = g[2];
}
/* Gᵀ x (the adjoint of G), F(4x4) (6 -> 3):
 *   x0/4 - (x1+x2)/6 + (x3+x4)/24,  (x2-x1)/6 + (x3-x4)/12,  ((x3+x4) - (x1+x2))/6 + x5 */
DC_AVX2 static inline void gt6(const V8 *x, V8 *o) {
    const V8 s12 = ADD(x[1], x[2]), s34 = ADD(x[3], x[4]);
    o[0] = FMA(x[0], SET1(1.0f / 4), FMA(s12, SET1(-1.0f / 6), MUL(s34, SET1(1.0f / 24))));
    o[1] = FMA(SUB(x[2], x[1]), SET1(1.0f / 6), MUL(SUB(x[3], x[4]), SET1(1.0f / 12)));
    o[2] = FMA(SUB(s34, s12), SET1(1.0f / 6), x[5]);
}
/* Gᵀ x, F(2x2) (4 -> 3):  x0 + (x1+x2)/2,  (x1-x2)/2,  (x1+x2)/2 + x3 */
DC_AVX2 static inline void gt4(const V8 *x, V8 *o) {
    const V8 h = MUL(ADD(x[1], x[2]), SET1(0.5f));
    o[0] = ADD(x[0], h);
    o[1] = MUL(SUB(x[1], x[2]), SET1(0.5f));
    o[2] = ADD(h, x[3]);
}

/* 8×8 transpose of v[0..7] in place. */
DC_AVX2 static inline void transpose8(V8 v[8]) {
    V8 t0 = _mm256_unpacklo_ps(v[0], v[1]), t1 = _mm256_unpackhi_ps(v[0], v[1]);
    V8 t2 = _mm256_unpacklo_ps(v[2], v[3]), t3 = _mm256_unpackhi_ps(v[2], v[3]);
    V8 t4 = _mm256_unpacklo_ps(v[4], v[5]), t5 = _mm256_unpackhi_ps(v[4], v[5]);
    V8 t6 = _mm256_unpacklo_ps(v[6], v[7]), t7 = _mm256_unpackhi_ps(v[6], v[7]);
    V8 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    V8 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    V8 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    V8 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    v[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    v[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    v[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    v[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    v[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    v[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    v[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    v[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

/* 1-D transform n -> n2 (n2 <= 6) of a column or row of 8-lane vectors, by kind. */
enum { T_BT, T_AT, T_A, T_G, T_GT };
DC_AVX2 static inline void tr1(int kind, int m, const V8 *in, V8 *out) {
    switch (kind) {
    case T_BT: m == 4 ? bt6(in, out) : bt4(in, out); break;
    case T_AT: m == 4 ? at6(in, out) : at4(in, out); break;
    case T_A: m == 4 ? a6(in, out) : a4(in, out); break;
    case T_G: m == 4 ? g6(in, out) : g4(in, out); break;
    default: m == 4 ? gt6(in, out) : gt4(in, out); break;
    }
}

/* Patches -> grid: P[(r*n + k)*8 + l] = patch row r, column k of tile l, for r, k < n, from src[l]
 * (row stride ld): 8 row loads and one 8x8 transpose per row.  Reads 8 floats per row. */
DC_AVX2 static inline void load_patches(const float *const src[8], int64_t ld, int n, float *P) {
    for (int r = 0; r < n; r++) {
        V8 q[8];
        for (int l = 0; l < 8; l++) q[l] = _mm256_loadu_ps(src[l] + r * ld);
        transpose8(q);
        for (int k = 0; k < n; k++) _mm256_store_ps(P + (r * n + k) * 8, q[k]);
    }
}

/* 2-D transform of a grid in P [n][n] (8 lanes each) by the 1-D transform `kind` (n -> n2) along the
 * columns then the rows:  out(i, j) written to dst[(i*n2 + j)*xs].  Q: scratch of n2*n*8 floats. */
DC_AVX2 static inline void grid2d(int kind, int m, int n, int n2, const float *P, float *Q, float *dst, int64_t xs) {
    V8 in[6], out[6];
    for (int k = 0; k < n; k++) {
        for (int r = 0; r < n; r++) in[r] = _mm256_load_ps(P + (r * n + k) * 8);
        tr1(kind, m, in, out);
        for (int i = 0; i < n2; i++) _mm256_store_ps(Q + (i * n + k) * 8, out[i]);
    }
    for (int i = 0; i < n2; i++) {
        for (int k = 0; k < n; k++) in[k] = _mm256_load_ps(Q + (i * n + k) * 8);
        tr1(kind, m, in, out);
        for (int j = 0; j < n2; j++) _mm256_storeu_ps(dst + (i * n2 + j) * xs, out[j]);
    }
}

/* The 8 tiles of a group from cursor c (lanes past the chunk's last tile repeat it); advances c. */
static void group_tiles(const dc_wino *w, tcur *c, int64_t g0, int64_t T, tcur tl[8]) {
    for (int l = 0; l < 8; l++) {
        tl[l] = *c;
        if (g0 + l + 1 < T) tcur_next(c, w);
    }
}

DC_AVX2 static void input_avx2(const dc_wino *w, int64_t nimg, const float *xp, float *v, int64_t xs, int64_t pstride) {
    const int a = w->alpha, m = w->m;
    const int64_t T = nimg * w->tpi;
    float P[36 * 8] __attribute__((aligned(32))), Q[36 * 8] __attribute__((aligned(32)));
    tcur c = {0, 0, 0};
    for (int64_t g0 = 0; g0 < T; g0 += 8) {
        tcur tl[8];
        const float *src[8];
        group_tiles(w, &c, g0, T, tl);
        for (int l = 0; l < 8; l++) src[l] = xp + tl[l].n * w->Sp + tl[l].ty * m * w->Wp + tl[l].tx * m;
        load_patches(src, w->Wp, a, P);
        grid2d(T_BT, m, a, a, P, Q, v + vcol(g0, pstride), xs); /* g0 % 8 == 0: 8 columns of one panel */
    }
}

DC_AVX2 static void output_adj_avx2(const dc_wino *w, int64_t nimg, const float *dp, float *dm, int64_t xs) {
    const int a = w->alpha, m = w->m;
    const int64_t T = nimg * w->tpi;
    float P[36 * 8] __attribute__((aligned(32))), Q[36 * 8] __attribute__((aligned(32)));
    V8 in[6], out[6];
    tcur c = {0, 0, 0};
    for (int64_t g0 = 0; g0 < T; g0 += 8) {
        tcur tl[8];
        const float *src[8];
        group_tiles(w, &c, g0, T, tl);
        for (int l = 0; l < 8; l++) src[l] = dp + tl[l].n * w->Sd + tl[l].ty * m * w->Wd + tl[l].tx * m;
        load_patches(src, w->Wd, m, P); /* P [m][m] */
        for (int k = 0; k < m; k++) {   /* columns: m -> alpha, Q [alpha][m] */
            for (int u = 0; u < m; u++) in[u] = _mm256_load_ps(P + (u * m + k) * 8);
            tr1(T_A, m, in, out);
            for (int i = 0; i < a; i++) _mm256_store_ps(Q + (i * m + k) * 8, out[i]);
        }
        for (int i = 0; i < a; i++) { /* rows: m -> alpha */
            for (int k = 0; k < m; k++) in[k] = _mm256_load_ps(Q + (i * m + k) * 8);
            tr1(T_A, m, in, out);
            for (int j = 0; j < a; j++) _mm256_storeu_ps(dm + g0 + (i * a + j) * xs, out[j]);
        }
    }
}

/* Write row u (lanes: y[s] = column s of the tile's row, s < m) of the output tiles tl[0..nl). */
DC_AVX2 static inline void store_rows(const dc_wino *w, const tcur *tl, int nl, int u, const V8 *y, int flags,
                                      float *yb, int64_t ys) {
    const int m = w->m, accumulate = flags & DC_CONV_ACC, relu = flags & DC_CONV_RELU;
    const __m128 zero = _mm_setzero_ps();
    float tmp[4 * 8] __attribute__((aligned(32)));
    __m128 row[8];
    if (m == 4) { /* 4x8 -> 8 rows of 4: a 4x4 transpose in each 128-bit half */
        const V8 t0 = _mm256_unpacklo_ps(y[0], y[1]), t1 = _mm256_unpackhi_ps(y[0], y[1]);
        const V8 t2 = _mm256_unpacklo_ps(y[2], y[3]), t3 = _mm256_unpackhi_ps(y[2], y[3]);
        const V8 r[4] = {_mm256_shuffle_ps(t0, t2, 0x44), _mm256_shuffle_ps(t0, t2, 0xEE),
                         _mm256_shuffle_ps(t1, t3, 0x44), _mm256_shuffle_ps(t1, t3, 0xEE)};
        for (int l = 0; l < 4; l++) {
            row[l] = _mm256_castps256_ps128(r[l]);
            row[l + 4] = _mm256_extractf128_ps(r[l], 1);
        }
    } else {
        for (int s = 0; s < m; s++) _mm256_store_ps(tmp + s * 8, y[s]);
    }
    for (int l = 0; l < nl; l++) {
        const tcur *t = &tl[l];
        if (t->ty * m + u >= w->OH) continue;
        float *p = yb + t->n * ys + (t->ty * m + u) * w->OW + t->tx * m;
        const int64_t cols = imin(m, w->OW - t->tx * m);
        if (m == 4 && cols == 4) {
            __m128 v = accumulate ? _mm_add_ps(_mm_loadu_ps(p), row[l]) : row[l];
            _mm_storeu_ps(p, relu ? _mm_max_ps(v, zero) : v); /* max(NaN, 0) = 0, as the ReLU op */
            continue;
        }
        float v[4];
        if (m == 4) _mm_storeu_ps(v, row[l]);
        else
            for (int s = 0; s < m; s++) v[s] = tmp[s * 8 + l];
        for (int64_t s = 0; s < cols; s++) {
            const float e = accumulate ? p[s] + v[s] : v[s];
            p[s] = relu && !(e > 0.0f) ? 0.0f : e;
        }
    }
}

DC_AVX2 static void output_avx2(const dc_wino *w, int64_t nimg, const float *mv, int64_t xs, float b, int flags,
                                float *y, int64_t ys) {
    const int a = w->alpha, m = w->m;
    const int64_t T = nimg * w->tpi;
    float Q[36 * 8] __attribute__((aligned(32)));
    V8 in[6], out[6];
    const V8 vb = SET1(b);
    tcur c = {0, 0, 0};
    for (int64_t g0 = 0; g0 < T; g0 += 8) {
        tcur tl[8];
        group_tiles(w, &c, g0, T, tl);
        for (int j = 0; j < a; j++) { /* columns: alpha -> m, Q [m][alpha] */
            for (int i = 0; i < a; i++) in[i] = _mm256_loadu_ps(mv + g0 + (i * a + j) * xs);
            tr1(T_AT, m, in, out);
            for (int u = 0; u < m; u++) _mm256_store_ps(Q + (u * a + j) * 8, out[u]);
        }
        for (int u = 0; u < m; u++) { /* rows: alpha -> m, then + b and out to y */
            for (int j = 0; j < a; j++) in[j] = _mm256_load_ps(Q + (u * a + j) * 8);
            tr1(T_AT, m, in, out);
            if (!(flags & DC_CONV_ACC))
                for (int s = 0; s < m; s++) out[s] = ADD(out[s], vb);
            store_rows(w, tl, (int)imin(8, T - g0), u, out, flags, y, ys);
        }
    }
}

/* Kernel transform, 8 consecutive s per vector (masked gathers and stores at the end of a row). */
DC_AVX2 static void kernel_avx2(const dc_wino *w, const float *wt, int flip, int64_t r0, int64_t r1, float *U) {
    const int a = w->alpha, m = w->m;
    const int64_t R = w->OC, S = w->C;
    const int64_t step = flip ? R * 9 : 9; /* floats between the filters of s and s + 1 */
    float P[9 * 8] __attribute__((aligned(32))), Q[36 * 8] __attribute__((aligned(32)));
    V8 in[6], out[6];
    for (int64_t r = r0; r < r1; r++)
        for (int64_t s0 = 0; s0 < S; s0 += 8) {
            const int nl = (int)imin(8, S - s0);
            const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(nl), lane);
            const __m256i idx = _mm256_mullo_epi32(lane, _mm256_set1_epi32((int)step));
            const float *base = flip ? wt + (s0 * R + r) * 9 : wt + (r * S + s0) * 9;
            for (int t = 0; t < 9; t++) /* P[t] = tap t of g (flipped: tap 8 - t of the stored filter) */
                _mm256_store_ps(P + t * 8, _mm256_mask_i32gather_ps(_mm256_setzero_ps(), base + (flip ? 8 - t : t), idx,
                                                                    _mm256_castsi256_ps(mask), 4));
            for (int b = 0; b < 3; b++) { /* columns: 3 -> alpha, Q [alpha][3] */
                for (int k = 0; k < 3; k++) in[k] = _mm256_load_ps(P + (k * 3 + b) * 8);
                tr1(T_G, m, in, out);
                for (int i = 0; i < a; i++) _mm256_store_ps(Q + (i * 3 + b) * 8, out[i]);
            }
            for (int i = 0; i < a; i++) { /* rows: 3 -> alpha */
                for (int b = 0; b < 3; b++) in[b] = _mm256_load_ps(Q + (i * 3 + b) * 8);
                tr1(T_G, m, in, out);
                for (int j = 0; j < a; j++) _mm256_maskstore_ps(U + (i * a + j) * w->us + r * S + s0, mask, out[j]);
            }
        }
}

DC_AVX2 static void kernel_adj_avx2(const dc_wino *w, const float *dU, int64_t o0, int64_t o1, float *dwt) {
    const int a = w->alpha, m = w->m;
    const int64_t C = w->C;
    float Q[18 * 8] __attribute__((aligned(32))), G[9 * 8] __attribute__((aligned(32)));
    V8 in[6], out[6];
    for (int64_t o = o0; o < o1; o++)
        for (int64_t c0 = 0; c0 < C; c0 += 8) {
            const int nl = (int)imin(8, C - c0);
            const __m256i mask =
                _mm256_cmpgt_epi32(_mm256_set1_epi32(nl), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
            const float *base = dU + o * C + c0;
            for (int j = 0; j < a; j++) { /* columns: alpha -> 3, Q [3][alpha] */
                for (int i = 0; i < a; i++) in[i] = _mm256_maskload_ps(base + (i * a + j) * w->us, mask);
                tr1(T_GT, m, in, out);
                for (int k = 0; k < 3; k++) _mm256_store_ps(Q + (k * a + j) * 8, out[k]);
            }
            for (int k = 0; k < 3; k++) { /* rows: alpha -> 3 */
                for (int j = 0; j < a; j++) in[j] = _mm256_load_ps(Q + (k * a + j) * 8);
                tr1(T_GT, m, in, out);
                for (int b = 0; b < 3; b++) _mm256_store_ps(G + (k * 3 + b) * 8, out[b]);
            }
            for (int l = 0; l < nl; l++)
                for (int t = 0; t < 9; t++) dwt[(o * C + c0 + l) * 9 + t] += G[t * 8 + l];
        }
}

static int use_avx2(const dc_wino *w) {
    return !w->scalar && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#else
static int use_avx2(const dc_wino *w) {
    (void)w;
    return 0;
}
#endif /* DC_WINO_X86 */

/* ------------------------------------------------------------------ dispatch */
void dc_wino_input_panels(const dc_wino *w, int64_t nimg, const float *xp, float *v, int64_t xs, int64_t pstride) {
#if DC_WINO_X86
    if (use_avx2(w)) {
        input_avx2(w, nimg, xp, v, xs, pstride);
        return;
    }
#endif
    input_ref(w, nimg, xp, v, xs, pstride);
}

void dc_wino_input(const dc_wino *w, int64_t nimg, const float *xp, float *v, int64_t xs) {
    dc_wino_input_panels(w, nimg, xp, v, xs, 0);
}

void dc_wino_output(const dc_wino *w, int64_t nimg, const float *mv, int64_t xs, float b, int flags, float *y,
                    int64_t ys) {
#if DC_WINO_X86
    if (use_avx2(w)) {
        output_avx2(w, nimg, mv, xs, b, flags, y, ys);
        return;
    }
#endif
    output_ref(w, nimg, mv, xs, b, flags, y, ys);
}

void dc_wino_output_adj(const dc_wino *w, int64_t nimg, const float *dp, float *dm, int64_t xs) {
#if DC_WINO_X86
    if (use_avx2(w)) {
        output_adj_avx2(w, nimg, dp, dm, xs);
        return;
    }
#endif
    output_adj_ref(w, nimg, dp, dm, xs);
}

void dc_wino_kernel(const dc_wino *w, const float *wt, int flip, int64_t r0, int64_t r1, float *U) {
#if DC_WINO_X86
    /* gathers index the filter with int32 */
    if (use_avx2(w) && w->OC * w->C * 9 < INT32_MAX / 2) {
        kernel_avx2(w, wt, flip, r0, r1, U);
        return;
    }
#endif
    kernel_ref(w, wt, flip, r0, r1, U);
}

void dc_wino_kernel_adj(const dc_wino *w, const float *dU, int64_t o0, int64_t o1, float *dwt) {
#if DC_WINO_X86
    if (use_avx2(w)) {
        kernel_adj_avx2(w, dU, o0, o1, dwt);
        return;
    }
#endif
    kernel_adj_ref(w, dU, o0, o1, dwt);
}

/* ------------------------------------------------------------------ drivers */
typedef struct wino_job {
    dc_gemm_ctx *gemm;
    const dc_wino *w;
    const float *x, *wt, *b, *dy;
    float *y, *U, *work, *dwt;
    int flip, flags, first; /* flags: DC_CONV_ACC, DC_CONV_RELU (forward) */
    int64_t n0, nimg; /* dW: the chunk */
} wino_job;

/* Forward workspace: U (alpha² blocks us apart), then per thread: the chunk's padded planes, V and M. */
static int64_t fwd_vxs(const dc_wino *w) { return spread(w->C * w->ld); }
static int64_t fwd_mxs(const dc_wino *w) { return spread(w->OC * w->ld); }
static int64_t fwd_slot(const dc_wino *w) {
    const int64_t A2 = (int64_t)w->alpha * w->alpha;
    return r16(w->imgs * w->Sp) + A2 * fwd_vxs(w) + A2 * fwd_mxs(w);
}

int64_t dc_wino_forward_workspace(const dc_wino *w) {
    return (int64_t)w->alpha * w->alpha * w->us + w->nt * fwd_slot(w);
}

static void kernel_task(void *ctx, int tid, int nt) {
    const wino_job *j = ctx;
    int64_t lo, hi;
    dc_split_range(j->w->OC, nt, tid, &lo, &hi);
    dc_wino_kernel(j->w, j->wt, j->flip, lo, hi, j->U);
}

/* A thread's chunks of images, one after the other: pad + input transform per channel, the alpha²
 * GEMMs M[xi] = U[xi] · V[xi] (this thread's packing buffers), the output transform per channel.
 * V[xi] is written in the GEMM's packed-B layout (16-tile panels of all C rows), so the GEMM reads it
 * without packing it: the same bits as packing a plain V.
 * Why per thread and not pass by pass over the batch: a chunk's V and M (about 1 MiB) stay in this
 * core's L2 from the transform that writes them to the one that reads them. */
static void fwd_task(void *ctx, int tid, int nt) {
    const wino_job *j = ctx;
    const dc_wino *w = j->w;
    const int parts = nt < w->nt ? nt : w->nt;
    if (tid >= parts) return;
    const int64_t A2 = (int64_t)w->alpha * w->alpha, ld = w->ld, chunks = (w->N + w->imgs - 1) / w->imgs;
    const int64_t vxs = fwd_vxs(w), mxs = fwd_mxs(w);
    float *xp = j->work + tid * fwd_slot(w), *V = xp + r16(w->imgs * w->Sp), *M = V + A2 * vxs;
    int64_t c0, c1;
    dc_split_range(chunks, parts, tid, &c0, &c1);
    for (int64_t ch = c0; ch < c1; ch++) {
        const int64_t n0 = ch * w->imgs, nimg = imin(w->imgs, w->N - n0), T = nimg * w->tpi;
        /* the vector transforms fill and read whole groups of 8 tiles: the GEMM computes those columns too */
        const int64_t Tn = use_avx2(w) ? r8(T) : T;
        for (int64_t c = 0; c < w->C; c++) {
            dc_wino_pad(w, j->x, n0, nimg, c, xp);
            dc_wino_input_panels(w, nimg, xp, V + c * DC_GEMM_NR, vxs, w->C * DC_GEMM_NR);
        }
        for (int64_t xi = 0; xi < A2; xi++)
            dc_gemm_prepacked_b_st(j->gemm, tid, w->OC, Tn, w->C, 1.0f, j->U + xi * w->us, w->C, 0, V + xi * vxs, 0.0f,
                                   M + xi * mxs, ld);
        for (int64_t o = 0; o < w->OC; o++)
            dc_wino_output(w, nimg, M + o * ld, mxs, j->b ? j->b[o] : 0.0f, j->flags,
                           j->y + (n0 * w->OC + o) * w->OH * w->OW, w->OC * w->OH * w->OW);
    }
}

void dc_wino_forward(dc_gemm_ctx *gemm, const dc_wino *w, const float *x, const float *wt, int flip, const float *b,
                     int flags, float *y, float *work) {
    dc_pool *pool = dc_gemm_ctx_pool(gemm);
    wino_job j = {gemm, w, x, wt, b, NULL, y, work, work + (int64_t)w->alpha * w->alpha * w->us, NULL, flip,
                  flags, 0, 0, 0};
    dc_pool_run(pool, kernel_task, &j);
    dc_pool_run(pool, fwd_task, &j);
}

/* dW workspace: dU (alpha² blocks us apart), the chunk's V [alpha²][C][dw_ld] and dM
 * [alpha²][OC][dw_ld] (blocks spread), one set of padded planes per thread. */
static int64_t dw_vxs(const dc_wino *w) { return spread(w->C * w->dw_ld); }
static int64_t dw_mxs(const dc_wino *w) { return spread(w->OC * w->dw_ld); }
static int64_t dw_v_off(const dc_wino *w) { return (int64_t)w->alpha * w->alpha * w->us; }
static int64_t dw_m_off(const dc_wino *w) { return dw_v_off(w) + (int64_t)w->alpha * w->alpha * dw_vxs(w); }
static int64_t dw_p_off(const dc_wino *w) { return dw_m_off(w) + (int64_t)w->alpha * w->alpha * dw_mxs(w); }
static int64_t dw_p_slot(const dc_wino *w) { return r16(w->dw_imgs * imax(w->Sp, w->Sd)); }

int64_t dc_wino_dw_workspace(const dc_wino *w) { return dw_p_off(w) + w->nt * dw_p_slot(w); }

/* The chunk's transforms, split over the planes: units u < C are input channels (V), the rest
 * output channels of dy (dM). */
static void dw_transform_task(void *ctx, int tid, int nt) {
    const wino_job *j = ctx;
    const dc_wino *w = j->w;
    const int parts = nt < w->nt ? nt : w->nt;
    if (tid >= parts) return;
    const int64_t ld = w->dw_ld;
    float *V = j->work + dw_v_off(w), *dM = j->work + dw_m_off(w), *pl = j->work + dw_p_off(w) + tid * dw_p_slot(w);
    int64_t lo, hi;
    dc_split_range(w->C + w->OC, parts, tid, &lo, &hi);
    for (int64_t u = lo; u < hi; u++) {
        if (u < w->C) {
            dc_wino_pad(w, j->x, j->n0, j->nimg, u, pl);
            dc_wino_input(w, j->nimg, pl, V + u * ld, dw_vxs(w));
        } else {
            dc_wino_pad_dy(w, j->dy, j->n0, j->nimg, u - w->C, pl);
            dc_wino_output_adj(w, j->nimg, pl, dM + (u - w->C) * ld, dw_mxs(w));
        }
    }
}

/* dU[xi] (+)= dM[xi] · V[xi]ᵀ over the chunk's tiles, the positions xi split over the threads: each
 * dU element is one GEMM sum per chunk, added in chunk order. */
static void dw_gemm_task(void *ctx, int tid, int nt) {
    const wino_job *j = ctx;
    const dc_wino *w = j->w;
    const int64_t A2 = (int64_t)w->alpha * w->alpha, ld = w->dw_ld;
    const float *V = j->work + dw_v_off(w), *dM = j->work + dw_m_off(w);
    int64_t lo, hi;
    dc_split_range(A2, nt, tid, &lo, &hi);
    for (int64_t xi = lo; xi < hi; xi++)
        dc_gemm_st(j->gemm, tid, 0, 1, w->OC, w->C, j->nimg * w->tpi, 1.0f, dM + xi * dw_mxs(w), ld,
                   V + xi * dw_vxs(w), ld, j->first ? 0.0f : 1.0f, j->work + xi * w->us, w->C);
}

static void dw_kernel_task(void *ctx, int tid, int nt) {
    const wino_job *j = ctx;
    int64_t lo, hi;
    dc_split_range(j->w->OC, nt, tid, &lo, &hi);
    dc_wino_kernel_adj(j->w, j->work, lo, hi, j->dwt);
}

void dc_wino_dw(dc_gemm_ctx *gemm, const dc_wino *w, const float *x, const float *dy, float *dwt, float *work) {
    dc_pool *pool = dc_gemm_ctx_pool(gemm);
    wino_job j = {gemm, w, x, NULL, NULL, dy, NULL, NULL, work, dwt, 0, 0, 1, 0, 0};
    for (int64_t n0 = 0; n0 < w->N; n0 += w->dw_imgs) {
        j.n0 = n0;
        j.nimg = imin(w->dw_imgs, w->N - n0);
        dc_pool_run(pool, dw_transform_task, &j);
        dc_pool_run(pool, dw_gemm_task, &j);
        j.first = 0;
    }
    dc_pool_run(pool, dw_kernel_task, &j);
}
