/* winograd_cb.c — Winograd F(4x4, 3x3) with 16 channels per AVX-512 vector (see winograd_cb.h):
 * the pixel-major padded copy of the input, the kernel, input and output transforms on vectors of
 * 16 channels, the register-blocked GEMM of each transform position, and the driver.
 * The plain version these kernels are tested against is the scalar Winograd of winograd.c and the
 * reference convolution of conv.c (tests/test_winograd.c).
 * Deliberately not here: choosing when this path runs (op_conv.c), and any allocation. */
#include "kernels/winograd_cb.h"

#include "kernels/winograd.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define WCB_X86 1
#else
#define WCB_X86 0
#endif

/* Chunks.  U (36 x C x OC floats) is read once per forward chunk, so a chunk holds at least
 * TILE_TARGET tiles (64 for layers with more than 64 x 64 channels, whose U no longer fits in L2 and
 * is streamed: 36 x 64 tiles x C x OC x 2 flops per 36 x C x OC x 4 bytes is 32 flops per byte), and
 * its xb, V and M at most CHUNK_FLOATS (CHUNK_FLOATS_WIDE for those) unless one image needs more.  dW's chunks (their V and dM)
 * hold DW_CHUNK_FLOATS, between DW_TILES_MIN and DW_TILES_MAX tiles: dU (36 x C x OC) is read and
 * written once per chunk. */
#define TILE_TARGET 32
#define TILE_TARGET_WIDE 64
#define CHUNK_FLOATS (1024 * 1024)
#define CHUNK_FLOATS_WIDE (4 * 1024 * 1024) /* 16 MiB: 64 images of 512 channels at 4x4 */
#define DW_CHUNK_FLOATS (2 * 1024 * 1024)
#define DW_TILES_MIN 128
#define DW_TILES_MAX 1024

static int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t r16(int64_t v) { return (v + 15) / 16 * 16; }
/* An odd number of 64-byte lines: the 36 position blocks of V and M land in distinct cache sets
 * (winograd.c's spread has the measurement). */
static int64_t spread(int64_t floats) {
    const int64_t lines = (floats + 15) / 16;
    return (lines % 2 ? lines : lines + 1) * 16;
}

int dc_wcb_ok(const dc_conv_geom *g) {
#if WCB_X86
    if (g->kh != 3 || g->kw != 3 || g->sh != 1 || g->sw != 1 || g->dh != 1 || g->dw != 1 || g->groups != 1) return 0;
    if (g->OH < 1 || g->OW < 1 || g->OH != g->H + 2 * (int64_t)g->ph - 2 || g->OW != g->W + 2 * (int64_t)g->pw - 2)
        return 0;
    if (g->C % 16 || g->OC % 16 || dc_wino_pick_m(g) != 4) return 0; /* F(4x4) is the better tile */
    const char *e = getenv("DC_WCB"); /* "0": off (to compare with winograd.c's path) */
    if (e && !strcmp(e, "0")) return 0;
    return dc_dconv_avx512() && __builtin_cpu_supports("avx512vl"); /* AVX-512F and VL, DC_SIMD=avx2 not set */
#else
    (void)g;
    return 0;
#endif
}

/* xb, then V (36 blocks vxs apart), then M (36 blocks mxs apart): one thread's slot. */
static int64_t xb_floats(const dc_wcb *w) { return r16(w->imgs * w->C * w->Hp * w->Wp); }
static int64_t slot_floats(const dc_wcb *w) { return xb_floats(w) + 36 * w->vxs + 36 * w->mxs; }
static int64_t u_floats(const dc_wcb *w) { return r16(36 * w->C * w->OC); }

void dc_wcb_init(dc_wcb *w, const dc_conv_geom *g, int64_t N, int nthreads) {
    memset(w, 0, sizeof *w);
    w->N = N;
    w->C = g->C;
    w->H = g->H;
    w->W = g->W;
    w->OC = g->OC;
    w->OH = g->OH;
    w->OW = g->OW;
    w->ph = g->ph;
    w->pw = g->pw;
    w->th = (g->OH + 3) / 4;
    w->tw = (g->OW + 3) / 4;
    w->tpi = w->th * w->tw;
    w->Hp = 4 * w->th + 2;
    w->Wp = 4 * w->tw + 2;
    w->nt = nthreads < 1 ? 1 : nthreads;
    /* 24 accumulators: 6 tiles x 4 vectors, 12 x 2 or 24 x 1 */
    w->B = g->OC % 64 == 0 ? 4 : g->OC % 32 == 0 ? 2 : 1;
    w->R = 24 / w->B;
    const int64_t per_img = w->C * w->Hp * w->Wp + 36 * w->tpi * (w->C + w->OC);
    const int64_t target = w->C * w->OC > 64 * 64 ? TILE_TARGET_WIDE : TILE_TARGET;
    int64_t imgs = imax(1, (target + w->tpi - 1) / w->tpi);
    const int64_t budget = w->C * w->OC > 64 * 64 ? CHUNK_FLOATS_WIDE : CHUNK_FLOATS;
    while (imgs > 1 && imgs * per_img > budget) imgs--;
    w->imgs = imax(1, imin(imgs, (N + w->nt - 1) / w->nt));
    w->vxs = spread(w->imgs * w->tpi * w->C);
    w->mxs = spread(w->imgs * w->tpi * w->OC);
    const int64_t dw_tiles = imax(DW_TILES_MIN, imin(DW_TILES_MAX, DW_CHUNK_FLOATS / (36 * (w->C + w->OC))));
    w->dw_imgs = imax(1, imin(dw_tiles / w->tpi, N));
    w->dw_vxs = spread(w->dw_imgs * w->tpi * w->C);
    w->dw_mxs = spread(w->dw_imgs * w->tpi * w->OC);
}

int64_t dc_wcb_workspace(const dc_wcb *w) { return u_floats(w) + w->nt * slot_floats(w); }

/* dW's workspace: dU, the chunk's V and dM, then per thread one image's xb and dy planes. */
static int64_t dyb_floats(const dc_wcb *w) { return r16(w->OC * 16 * w->th * w->tw); }
static int64_t dw_slot(const dc_wcb *w) { return r16(w->C * w->Hp * w->Wp) + dyb_floats(w); }
int64_t dc_wcb_dw_workspace(const dc_wcb *w) {
    return u_floats(w) + 36 * w->dw_vxs + 36 * w->dw_mxs + w->nt * dw_slot(w);
}

#if WCB_X86
#define WCB_AVX512 __attribute__((target("avx512f,avx512vl")))
#define V16 __m512
#define ADD _mm512_add_ps
#define SUB _mm512_sub_ps
#define MUL _mm512_mul_ps
#define FMA _mm512_fmadd_ps   /* a*b + c */
#define FNMA _mm512_fnmadd_ps /* c - a*b */
#define SET1 _mm512_set1_ps
#define WCB_INLINE static inline __attribute__((always_inline))

/* The 1-D transforms, factored as winograd.c's AVX2 ones (same formulas, 16 lanes). */
/* Bᵀ d:  4d0 - 5d2 + d4,  (d3 + d4) - 4(d1 + d2),  (d4 - d3) + 4(d1 - d2),  (d4 - d2) ± 2(d3 - d1),
 *        4d1 - 5d3 + d5 */
WCB_AVX512 static inline void bt6(const V16 *d, V16 *o) {
    const V16 c4 = SET1(4.0f), c5 = SET1(5.0f), c2 = SET1(2.0f);
    const V16 e = SUB(d[4], d[2]), f = MUL(c2, SUB(d[3], d[1]));
    o[0] = ADD(FNMA(c5, d[2], MUL(c4, d[0])), d[4]);
    o[1] = FNMA(c4, ADD(d[1], d[2]), ADD(d[3], d[4]));
    o[2] = FMA(c4, SUB(d[1], d[2]), SUB(d[4], d[3]));
    o[3] = ADD(e, f);
    o[4] = SUB(e, f);
    o[5] = ADD(FNMA(c5, d[3], MUL(c4, d[1])), d[5]);
}
/* Aᵀ m (6 -> 4):  m0 + (m1+m2) + (m3+m4),  (m1-m2) + 2(m3-m4),  (m1+m2) + 4(m3+m4),  (m1-m2) + 8(m3-m4) + m5 */
WCB_AVX512 static inline void at6(const V16 *m, V16 *o) {
    const V16 s12 = ADD(m[1], m[2]), d12 = SUB(m[1], m[2]), s34 = ADD(m[3], m[4]), d34 = SUB(m[3], m[4]);
    o[0] = ADD(ADD(m[0], s12), s34);
    o[1] = FMA(SET1(2.0f), d34, d12);
    o[2] = FMA(SET1(4.0f), s34, s12);
    o[3] = ADD(FMA(SET1(8.0f), d34, d12), m[5]);
}
/* A y (the adjoint of Aᵀ, 4 -> 6):  y0,  (y0+y2) ± (y1+y3),  (y0 + 4y2) ± 2(y1 + 4y3),  y3 */
WCB_AVX512 static inline void a6(const V16 *y, V16 *o) {
    const V16 p = ADD(y[0], y[2]), q = ADD(y[1], y[3]);
    const V16 r = FMA(SET1(4.0f), y[2], y[0]), s = FMA(SET1(4.0f), y[3], y[1]);
    o[0] = y[0];
    o[1] = ADD(p, q);
    o[2] = SUB(p, q);
    o[3] = FMA(SET1(2.0f), s, r);
    o[4] = FNMA(SET1(2.0f), s, r);
    o[5] = y[3];
}
/* Gᵀ x (the adjoint of G, 6 -> 3):
 *   x0/4 - (x1+x2)/6 + (x3+x4)/24,  (x2-x1)/6 + (x3-x4)/12,  ((x3+x4) - (x1+x2))/6 + x5 */
WCB_AVX512 static inline void gt6(const V16 *x, V16 *o) {
    const V16 s12 = ADD(x[1], x[2]), s34 = ADD(x[3], x[4]);
    o[0] = FMA(x[0], SET1(1.0f / 4), FMA(s12, SET1(-1.0f / 6), MUL(s34, SET1(1.0f / 24))));
    o[1] = FMA(SUB(x[2], x[1]), SET1(1.0f / 6), MUL(SUB(x[3], x[4]), SET1(1.0f / 12)));
    o[2] = FMA(SUB(s34, s12), SET1(1.0f / 6), x[5]);
}
/* G g (3 -> 6):  g0/4,  -((g0+g2) ± g1)/6,  (g0/24 + g2/6) ± g1/12,  g2 */
WCB_AVX512 static inline void g6(const V16 *g, V16 *o) {
    const V16 t = ADD(g[0], g[2]), s = FMA(g[0], SET1(1.0f / 24), MUL(g[2], SET1(1.0f / 6)));
    o[0] = MUL(g[0], SET1(1.0f / 4));
    o[1] = MUL(ADD(t, g[1]), SET1(-1.0f / 6));
    o[2] = MUL(SUB(t, g[1]), SET1(-1.0f / 6));
    o[3] = FMA(g[1], SET1(1.0f / 12), s);
    o[4] = FNMA(g[1], SET1(1.0f / 12), s);
    o[5] = g[2];
}

/* 16x16 transpose of r[0..15] in place: unpacks and shuffles give 4x4 transposes inside each
 * 128-bit lane, then two rounds of 128-bit lane shuffles move the 4x4 blocks. */
WCB_AVX512 static inline void transpose16(V16 r[16]) {
    V16 s[16];
    for (int g = 0; g < 4; g++) { /* rows 4g..4g+3: s[4g + k] lane L = column 4L + k of these rows */
        const V16 t0 = _mm512_unpacklo_ps(r[4 * g], r[4 * g + 1]), t1 = _mm512_unpackhi_ps(r[4 * g], r[4 * g + 1]);
        const V16 t2 = _mm512_unpacklo_ps(r[4 * g + 2], r[4 * g + 3]), t3 = _mm512_unpackhi_ps(r[4 * g + 2], r[4 * g + 3]);
        s[4 * g] = _mm512_shuffle_ps(t0, t2, 0x44);
        s[4 * g + 1] = _mm512_shuffle_ps(t0, t2, 0xEE);
        s[4 * g + 2] = _mm512_shuffle_ps(t1, t3, 0x44);
        s[4 * g + 3] = _mm512_shuffle_ps(t1, t3, 0xEE);
    }
    for (int k = 0; k < 4; k++) { /* column 4L + k gathers lane L of s[k], s[4+k], s[8+k], s[12+k] */
        const V16 u0 = _mm512_shuffle_f32x4(s[k], s[4 + k], 0x44), u1 = _mm512_shuffle_f32x4(s[k], s[4 + k], 0xEE);
        const V16 u2 = _mm512_shuffle_f32x4(s[8 + k], s[12 + k], 0x44), u3 = _mm512_shuffle_f32x4(s[8 + k], s[12 + k], 0xEE);
        r[k] = _mm512_shuffle_f32x4(u0, u2, 0x88);
        r[4 + k] = _mm512_shuffle_f32x4(u0, u2, 0xDD);
        r[8 + k] = _mm512_shuffle_f32x4(u1, u3, 0x88);
        r[12 + k] = _mm512_shuffle_f32x4(u1, u3, 0xDD);
    }
}

/* U in panels: the values for output channels og*16B .. og*16B + 16B - 1 of position xi are a
 * contiguous C x 16B panel, so the GEMM's K loop over c reads U sequentially (not 16B floats out
 * of every OC-float row). */
static inline int64_t u_at(const dc_wcb *w, int64_t xi, int64_t c, int64_t o) {
    const int64_t wd = 16 * w->B, og = o / wd;
    return ((xi * (w->OC / wd) + og) * w->C + c) * wd + o % wd;
}

/* U[u_at(xi, c, o)] = (G g_{o,c} Gᵀ)[xi] for input channels c in [c0, c1), 16 output channels
 * per vector (the 9 taps gathered: o's filters are C*9 floats apart, or 9 when flipped). */
WCB_AVX512 static void kernel_transform(const dc_wcb *w, const float *wt, int flip, int64_t c0, int64_t c1,
                                        float *U) {
    const int64_t C = w->C, OC = w->OC;
    const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                           _mm512_set1_epi32(flip ? 9 : (int)(C * 9)));
    V16 g[9], q[6][3], in[3], out[6];
    /* o outer: the gathers then walk 16 filters' rows forward (c inner), instead of jumping across
     * the whole filter for each c (with 512 channels that made this transform a third of the layer) */
    for (int64_t o0 = 0; o0 < OC; o0 += 16)
        for (int64_t c = c0; c < c1; c++) {
            /* flip: k[a][b] = wt[c][o][2-a][2-b] (the layer whose dX this is: its [C][OC][3][3] is ours transposed) */
            const float *base = flip ? wt + (c * OC + o0) * 9 : wt + (o0 * C + c) * 9;
            for (int t = 0; t < 9; t++) g[t] = _mm512_i32gather_ps(idx, base + (flip ? 8 - t : t), 4);
            for (int b = 0; b < 3; b++) { /* columns: q[i][b] = sum_a G[i][a] g[a][b] */
                for (int a = 0; a < 3; a++) in[a] = g[a * 3 + b];
                g6(in, out);
                for (int i = 0; i < 6; i++) q[i][b] = out[i];
            }
            for (int i = 0; i < 6; i++) { /* rows: U[i][j] = sum_b q[i][b] G[j][b] */
                g6(q[i], out);
                for (int j = 0; j < 6; j++) _mm512_store_ps(U + u_at(w, i * 6 + j, c, o0), out[j]);
            }
        }
}

/* dst [nch/16][Hp][Wp][16]: pixel (r, s) of channel block cb holds src[cb*16 + l][r - top][s - left] in
 * lane l (src: nch planes of H x W), zero outside the planes: the input of a tile's transform as
 * plain vectors.  Rows of 16 pixels x 16 channels are moved by one 16x16 transpose. */
WCB_AVX512 static void to_blocked(const float *src, int64_t nch, int64_t H, int64_t W, int64_t top, int64_t left,
                                  int64_t Hp, int64_t Wp, float *dst) {
    const V16 zero = _mm512_setzero_ps();
    for (int64_t cb = 0; cb < nch / 16; cb++) {
        float *p = dst + cb * Hp * Wp * 16;
        const float *sp = src + cb * 16 * H * W;
        for (int64_t r = 0; r < Hp; r++) {
            float *row = p + r * Wp * 16;
            const int64_t h = r - top;
            if (h < 0 || h >= H) {
                for (int64_t s = 0; s < Wp; s++) _mm512_store_ps(row + s * 16, zero);
                continue;
            }
            for (int64_t s = 0; s < left; s++) _mm512_store_ps(row + s * 16, zero);
            for (int64_t s = left + W; s < Wp; s++) _mm512_store_ps(row + s * 16, zero);
            for (int64_t w0 = 0; w0 < W; w0 += 16) {
                const int nv = (int)imin(16, W - w0);
                const __mmask16 mask = (__mmask16)(nv == 16 ? 0xFFFF : (1u << nv) - 1);
                V16 v[16];
                for (int l = 0; l < 16; l++) v[l] = _mm512_maskz_loadu_ps(mask, sp + (l * H + h) * W + w0);
                transpose16(v);
                for (int k = 0; k < nv; k++) _mm512_store_ps(row + (left + w0 + k) * 16, v[k]);
            }
        }
    }
}

/* xb of image n: its input planes zero-padded by ph, pw to Hp x Wp. */
WCB_AVX512 static void build_xb(const dc_wcb *w, const float *x, int64_t n, float *xb) {
    to_blocked(x + n * w->C * w->H * w->W, w->C, w->H, w->W, w->ph, w->pw, w->Hp, w->Wp, xb);
}

/* v[xi*xs + l] = (Bᵀ d B)[xi] of the 6x6 patch p (rows Wp pixels apart, 16 channels per vector), in
 * two halves of three transformed rows each, so the columns' results stay in registers (the
 * columns' transform is computed twice, its loads come from L1). */
WCB_AVX512 WCB_INLINE void input_half(const dc_wcb *w, const float *p, float *v, int64_t xs, const int h) {
    V16 d[6], o[6], t[3][6];
    for (int j = 0; j < 6; j++) { /* columns: t[i][j] = sum_r Bᵀ[3h + i][r] d[r][j] */
        for (int r = 0; r < 6; r++) d[r] = _mm512_load_ps(p + (r * w->Wp + j) * 16);
        bt6(d, o);
        for (int i = 0; i < 3; i++) t[i][j] = o[3 * h + i];
    }
    for (int i = 0; i < 3; i++) { /* rows: V[3h + i][j] = sum_k t[i][k] Bᵀ[j][k] */
        bt6(t[i], o);
        for (int j = 0; j < 6; j++) _mm512_store_ps(v + ((3 * h + i) * 6 + j) * xs, o[j]);
    }
}
WCB_AVX512 static inline void input_tile(const dc_wcb *w, const float *p, float *v, int64_t xs) {
    input_half(w, p, v, xs, 0);
    input_half(w, p, v, xs, 1);
}

/* m[r*ms + b*16 + l] (+)= sum_{k<K} v[r*rs + k*ks] * u[k*us + b*16 + l]  for r < R, b < B: R x B
 * accumulators, per k B loads of u and R broadcasts of v; add: m += the sums, else m = them.
 * Forward: k runs over input channels (v = V's tile rows, u = U[xi]); dW: over tiles (v = V's
 * channel columns, u = dM's rows).  R and B are constants where it is inlined. */
WCB_AVX512 WCB_INLINE void gemm_blk(const int R, const int B, int64_t K, const float *v, int64_t rs, int64_t ks,
                                    const float *u, int64_t us, int add, float *m, int64_t ms) {
    V16 acc[24];
#pragma GCC unroll 24
    for (int i = 0; i < R * B; i++) acc[i] = _mm512_setzero_ps();
    for (int64_t k = 0; k < K; k++, v += ks, u += us) {
        V16 ub[4];
#pragma GCC unroll 4
        for (int b = 0; b < B; b++) ub[b] = _mm512_load_ps(u + b * 16);
#pragma GCC unroll 24
        for (int r = 0; r < R; r++) {
            const V16 vv = _mm512_set1_ps(v[r * rs]);
#pragma GCC unroll 4
            for (int b = 0; b < B; b++) acc[r * B + b] = FMA(vv, ub[b], acc[r * B + b]);
        }
    }
#pragma GCC unroll 24
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int b = 0; b < B; b++) {
            float *d = m + r * ms + b * 16;
            _mm512_store_ps(d, add ? ADD(_mm512_load_ps(d), acc[r * B + b]) : acc[r * B + b]);
        }
}

#define C1(r) case r: gemm_blk(r, 1, K, v, rs, ks, u, us, add, m, ms); break;
#define C2(r) case r: gemm_blk(r, 2, K, v, rs, ks, u, us, add, m, ms); break;
#define C4(r) case r: gemm_blk(r, 4, K, v, rs, ks, u, us, add, m, ms); break;
/* One register block of r rows (r <= 24/B; fewer at the end of a range) and B vectors of output channels. */
WCB_AVX512 static void gemm_rb(int B, int r, int64_t K, const float *v, int64_t rs, int64_t ks, const float *u,
                               int64_t us, int add, float *m, int64_t ms) {
    if (B == 4) {
        switch (r) { C4(1) C4(2) C4(3) C4(4) C4(5) C4(6) }
    } else if (B == 2) {
        switch (r) { C2(1) C2(2) C2(3) C2(4) C2(5) C2(6) C2(7) C2(8) C2(9) C2(10) C2(11) C2(12) }
    } else {
        switch (r) {
            C1(1) C1(2) C1(3) C1(4) C1(5) C1(6) C1(7) C1(8) C1(9) C1(10) C1(11) C1(12)
            C1(13) C1(14) C1(15) C1(16) C1(17) C1(18) C1(19) C1(20) C1(21) C1(22) C1(23) C1(24)
        }
    }
}
#undef C1
#undef C2
#undef C4

/* Row u of a tile for 16 channels: the 4 pixel vectors px[0..3] (bias and, without an addend, the
 * ReLU applied) as 4-float rows of channels o0 + 4L + k: a 4x4 transpose inside each 128-bit lane
 * puts channel o0 + 4L + k's row in lane L of q[k], stored with one 128-bit store (masked at the
 * right edge).  radd (NULL: none) is the addend at the same offsets (y itself with DC_CONV_ACC, the
 * residual of a fused add), added before the ReLU. */
#define WCB_ROW_STORE(L)                                                                                   \
    do {                                                                                                   \
        const int64_t off = (4 * L + k) * P;                                                               \
        __m128 v = _mm512_extractf32x4_ps(q[k], L);                                                        \
        if (radd) {                                                                                        \
            v = _mm_add_ps(full ? _mm_loadu_ps(radd + off) : _mm_maskz_loadu_ps(cm, radd + off), v);       \
            if (relu) v = _mm_max_ps(v, _mm_setzero_ps());                                                 \
        }                                                                                                  \
        if (full) _mm_storeu_ps(base + off, v);                                                            \
        else _mm_mask_storeu_ps(base + off, cm, v);                                                        \
    } while (0)

WCB_AVX512 static inline void store_row(const V16 *px, float *base, const float *radd, int64_t P, int full,
                                        __mmask8 cm, int relu) {
    const V16 t0 = _mm512_unpacklo_ps(px[0], px[1]), t1 = _mm512_unpackhi_ps(px[0], px[1]);
    const V16 t2 = _mm512_unpacklo_ps(px[2], px[3]), t3 = _mm512_unpackhi_ps(px[2], px[3]);
    const V16 q[4] = {_mm512_shuffle_ps(t0, t2, 0x44), _mm512_shuffle_ps(t0, t2, 0xEE), _mm512_shuffle_ps(t1, t3, 0x44),
                      _mm512_shuffle_ps(t1, t3, 0xEE)};
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        WCB_ROW_STORE(0);
        WCB_ROW_STORE(1);
        WCB_ROW_STORE(2);
        WCB_ROW_STORE(3);
    }
}
#undef WCB_ROW_STORE

/* Output transform of tile (n, ty, tx) for output channels o0 .. o0 + 15: mp points at the tile's M
 * row (position blocks mxs apart).  Y = Aᵀ M A, in two halves of two output rows (the columns'
 * transform is computed twice, so its results stay in registers), each row stored by store_row. */
WCB_AVX512 WCB_INLINE void output_half(const dc_wcb *w, const float *mp, const int h, int64_t rows, float *base0,
                                       const float *radd0, int64_t P, int full, __mmask8 cm, V16 bv, int bias,
                                       int relu) {
    const V16 zero = _mm512_setzero_ps();
    V16 s[2][6], in[6], out[4];
#pragma GCC unroll 6
    for (int j = 0; j < 6; j++) { /* columns: s[u][j] = sum_i Aᵀ[2h + u][i] M[i][j] */
        for (int i = 0; i < 6; i++) in[i] = _mm512_load_ps(mp + (i * 6 + j) * w->mxs);
        at6(in, out);
        s[0][j] = out[2 * h];
        s[1][j] = out[2 * h + 1];
    }
#pragma GCC unroll 2
    for (int u = 0; u < 2; u++) { /* rows: Y[2h + u][v] = sum_j s[u][j] Aᵀ[v][j] */
        if (2 * h + u >= rows) return;
        at6(s[u], out);
        for (int v = 0; v < 4; v++) {
            if (bias) out[v] = ADD(out[v], bv);
            if (relu && !radd0) out[v] = _mm512_max_ps(out[v], zero); /* max(NaN, 0) = 0, as the ReLU op */
        }
        const int64_t r = (2 * h + u) * w->OW;
        store_row(out, base0 + r, radd0 ? radd0 + r : NULL, P, full, cm, relu);
    }
}
WCB_AVX512 static inline void output_tile(const dc_wcb *w, const float *mp, int64_t n, int64_t ty, int64_t tx,
                                          int64_t o0, const float *b, const float *res, int flags, float *y) {
    const int accumulate = flags & DC_CONV_ACC, relu = flags & DC_CONV_RELU, bias = !accumulate && b;
    const V16 bv = bias ? _mm512_loadu_ps(b + o0) : _mm512_setzero_ps();
    const int64_t rows = imin(4, w->OH - 4 * ty), cols = imin(4, w->OW - 4 * tx), P = w->OH * w->OW;
    const __mmask8 cm = (__mmask8)((1u << cols) - 1);
    const int64_t off = ((n * w->OC + o0) * w->OH + 4 * ty) * w->OW + 4 * tx;
    const float *radd = accumulate ? y + off : res ? res + off : NULL;
    output_half(w, mp, 0, rows, y + off, radd, P, cols == 4, cm, bv, bias, relu);
    if (rows > 2) output_half(w, mp, 1, rows, y + off, radd, P, cols == 4, cm, bv, bias, relu);
}

typedef struct wcb_job {
    const dc_wcb *w;
    const float *x, *wt, *b, *res;
    float *y, *U, *work;
    int flip, flags;
} wcb_job;

static void kernel_task(void *ctx, int tid, int nt) {
    const wcb_job *j = ctx;
    int64_t lo, hi;
    dc_split_range(j->w->C, nt, tid, &lo, &hi);
    kernel_transform(j->w, j->wt, j->flip, lo, hi, j->U);
}

/* A thread's images, chunk by chunk: xb of the chunk, the input transform of its tiles, the 36 GEMMs
 * (U[xi] stays in L1 over the chunk's tiles), the output transform. */
WCB_AVX512 static void fwd_task(void *ctx, int tid, int nt) {
    const wcb_job *j = ctx;
    const dc_wcb *w = j->w;
    const int parts = nt < w->nt ? nt : w->nt;
    if (tid >= parts) return;
    const int64_t C = w->C, OC = w->OC, tpi = w->tpi, plane = C * w->Hp * w->Wp;
    float *xb = j->work + tid * slot_floats(w), *V = xb + xb_floats(w), *M = V + 36 * w->vxs;
    int64_t n0, n1;
    dc_split_range(w->N, parts, tid, &n0, &n1);
    for (int64_t c0 = n0; c0 < n1; c0 += w->imgs) {
        const int64_t ni = imin(w->imgs, n1 - c0), T = ni * tpi;
        for (int64_t i = 0; i < ni; i++) build_xb(w, j->x, c0 + i, xb + i * plane);
        for (int64_t t = 0; t < T; t++) {
            const int64_t i = t / tpi, ty = t % tpi / w->tw, tx = t % w->tw;
            for (int64_t cb = 0; cb < C / 16; cb++)
                input_tile(w, xb + i * plane + ((cb * w->Hp + 4 * ty) * w->Wp + 4 * tx) * 16, V + t * C + cb * 16,
                           w->vxs);
        }
        for (int xi = 0; xi < 36; xi++)
            for (int64_t o0 = 0; o0 < OC; o0 += 16 * w->B)
                for (int64_t t0 = 0; t0 < T; t0 += w->R)
                    gemm_rb(w->B, (int)imin(w->R, T - t0), C, V + xi * w->vxs + t0 * C, C, 1, j->U + u_at(w, xi, 0, o0),
                            16 * w->B, 0, M + xi * w->mxs + t0 * OC + o0, OC);
        for (int64_t t = 0; t < T; t++) {
            const int64_t i = t / tpi, ty = t % tpi / w->tw, tx = t % w->tw;
            for (int64_t o0 = 0; o0 < OC; o0 += 16)
                output_tile(w, M + t * OC + o0, c0 + i, ty, tx, o0, j->b, j->res, j->flags, j->y);
        }
    }
}

/* ---------------------------------------------------------------- dW */
/* dm[xi*xs + l] = (A dY Aᵀ)[xi] of the 4x4 block of dy at p (rows Wd pixels apart, 16 channels per
 * vector; zeros past the output's edge). */
WCB_AVX512 static inline void output_adj_tile(const float *p, int64_t Wd, float *dm, int64_t xs) {
    V16 q[6][4], in[4], out[6];
    for (int v = 0; v < 4; v++) { /* columns: q[i][v] = sum_u A[i][u] dY[u][v] */
        for (int u = 0; u < 4; u++) in[u] = _mm512_load_ps(p + (u * Wd + v) * 16);
        a6(in, out);
        for (int i = 0; i < 6; i++) q[i][v] = out[i];
    }
    for (int i = 0; i < 6; i++) { /* rows: dM[i][j] = sum_v q[i][v] A[j][v] */
        a6(q[i], out);
        for (int j = 0; j < 6; j++) _mm512_store_ps(dm + (i * 6 + j) * xs, out[j]);
    }
}

typedef struct wcb_dw_job {
    const dc_wcb *w;
    const float *x, *dy;
    float *dwt, *dU, *V, *dM, *slots;
    int64_t n0, ni; /* the chunk */
    int first;
} wcb_dw_job;

/* The chunk's V and dM, split over its images. */
WCB_AVX512 static void dw_transform_task(void *ctx, int tid, int nt) {
    const wcb_dw_job *j = ctx;
    const dc_wcb *w = j->w;
    const int parts = nt < w->nt ? nt : w->nt;
    if (tid >= parts) return;
    const int64_t C = w->C, OC = w->OC, tpi = w->tpi, Hd = 4 * w->th, Wd = 4 * w->tw;
    float *xb = j->slots + tid * dw_slot(w), *dyb = xb + r16(C * w->Hp * w->Wp);
    int64_t lo, hi;
    dc_split_range(j->ni, parts, tid, &lo, &hi);
    for (int64_t i = lo; i < hi; i++) {
        const int64_t n = j->n0 + i;
        build_xb(w, j->x, n, xb);
        to_blocked(j->dy + n * OC * w->OH * w->OW, OC, w->OH, w->OW, 0, 0, Hd, Wd, dyb);
        for (int64_t q = 0; q < tpi; q++) {
            const int64_t t = i * tpi + q, ty = q / w->tw, tx = q % w->tw;
            for (int64_t cb = 0; cb < C / 16; cb++)
                input_tile(w, xb + ((cb * w->Hp + 4 * ty) * w->Wp + 4 * tx) * 16, j->V + t * C + cb * 16,
                           w->dw_vxs);
            for (int64_t ob = 0; ob < OC / 16; ob++)
                output_adj_tile(dyb + ((ob * Hd + 4 * ty) * Wd + 4 * tx) * 16, Wd, j->dM + t * OC + ob * 16,
                                w->dw_mxs);
        }
    }
}

/* dU[xi] (+)= V[xi]ᵀ dM[xi] over the chunk's tiles, the positions split over the threads. */
WCB_AVX512 static void dw_gemm_task(void *ctx, int tid, int nt) {
    const wcb_dw_job *j = ctx;
    const dc_wcb *w = j->w;
    const int64_t C = w->C, OC = w->OC, T = j->ni * w->tpi;
    int64_t lo, hi;
    dc_split_range(36, nt, tid, &lo, &hi);
    for (int64_t xi = lo; xi < hi; xi++)
        for (int64_t o0 = 0; o0 < OC; o0 += 16 * w->B)
            for (int64_t c0 = 0; c0 < C; c0 += w->R)
                gemm_rb(w->B, (int)imin(w->R, C - c0), T, j->V + xi * w->dw_vxs + c0, 1, C, j->dM + xi * w->dw_mxs + o0,
                        OC, !j->first, j->dU + (xi * C + c0) * OC + o0, OC);
}

/* dwt[o][c][a][b] += (Gᵀ dU_{o,c} G)[a][b], 16 output channels per vector (gathered and scattered:
 * their filters are C*9 floats apart), input channels split over the threads. */
WCB_AVX512 static void dw_kernel_task(void *ctx, int tid, int nt) {
    const wcb_dw_job *j = ctx;
    const dc_wcb *w = j->w;
    const int64_t C = w->C, OC = w->OC;
    const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                           _mm512_set1_epi32((int)(C * 9)));
    int64_t lo, hi;
    dc_split_range(C, nt, tid, &lo, &hi);
    V16 q[3][6], in[6], out[3];
    for (int64_t o0 = 0; o0 < OC; o0 += 16) /* o outer, as kernel_transform */
        for (int64_t c = lo; c < hi; c++) {
            for (int jj = 0; jj < 6; jj++) { /* columns: q[a][j] = sum_i G[i][a] dU[i][j] */
                for (int i = 0; i < 6; i++) in[i] = _mm512_load_ps(j->dU + ((i * 6 + jj) * C + c) * OC + o0);
                gt6(in, out);
                for (int a = 0; a < 3; a++) q[a][jj] = out[a];
            }
            float *base = j->dwt + (o0 * C + c) * 9;
            for (int a = 0; a < 3; a++) { /* rows: dg[a][b] = sum_j q[a][j] G[j][b] */
                gt6(q[a], out);
                for (int b = 0; b < 3; b++) {
                    const V16 old = _mm512_i32gather_ps(idx, base + a * 3 + b, 4);
                    _mm512_i32scatter_ps(base + a * 3 + b, idx, ADD(old, out[b]), 4);
                }
            }
        }
}
#endif /* WCB_X86 */

void dc_wcb_forward(dc_pool *pool, const dc_wcb *w, const float *x, const float *wt, int flip, const float *b,
                    const float *res, int flags, float *y, float *work) {
#if WCB_X86
    wcb_job j = {w, x, wt, b, flags & DC_CONV_ACC ? NULL : res, y, work, work + u_floats(w), flip, flags};
    dc_pool_run(pool, kernel_task, &j);
    dc_pool_run(pool, fwd_task, &j);
#else
    (void)pool, (void)w, (void)x, (void)wt, (void)flip, (void)b, (void)res, (void)flags, (void)y, (void)work;
#endif
}

void dc_wcb_dw(dc_pool *pool, const dc_wcb *w, const float *x, const float *dy, float *dwt, float *work) {
#if WCB_X86
    float *dU = work, *V = dU + u_floats(w), *dM = V + 36 * w->dw_vxs, *slots = dM + 36 * w->dw_mxs;
    wcb_dw_job j = {w, x, dy, dwt, dU, V, dM, slots, 0, 0, 1};
    for (int64_t n0 = 0; n0 < w->N; n0 += w->dw_imgs) {
        j.n0 = n0;
        j.ni = imin(w->dw_imgs, w->N - n0);
        dc_pool_run(pool, dw_transform_task, &j);
        dc_pool_run(pool, dw_gemm_task, &j);
        j.first = 0;
    }
    dc_pool_run(pool, dw_kernel_task, &j);
#else
    (void)pool, (void)w, (void)x, (void)dy, (void)dwt, (void)work;
#endif
}
