/* roi.c — RoI max pooling and RoIAlign; the rules (quantisation, bins, sampling points, bilinear
 * weights) are stated in roi.h.  Each rule has its plain loop (the _ref functions, per output and
 * per channel, as the rule reads) and a fast one that works out what depends on the RoI alone once
 * per RoI and reuses it for every channel: the bins' bounds of RoI max pooling, the sampling rows
 * and columns of RoIAlign with their bilinear weights.  They had taken 10% (max pooling) and 38%
 * (RoIAlign, forward and backward) of the two-stage detectors' training steps.  The fast loops do
 * the reference's arithmetic in its order, so the tests compare them bit for bit.  What this file
 * does not do: thread (the graph glue splits planes or channels), check shapes (op_roi.c), allocate. */
#include "kernels/roi.h"

#include <float.h>
#include <math.h>

const char *dc_rois_check(const dc_roi_geom *geo, int64_t R, const float *rois, int64_t *which) {
    float s = geo->spatial_scale;
    for (int64_t r = 0; r < R; r++) {
        const float *q = rois + 5 * r;
        *which = r;
        if (!isfinite(q[0]) || q[0] != floorf(q[0]) || q[0] < 0.0f || q[0] >= (float)geo->N)
            return "batch index is not an image of the batch";
        for (int k = 1; k < 5; k++)
            if (!isfinite(q[k]) || fabsf(q[k] * s) > DC_ROI_MAX_COORD) return "coordinate is not finite or absurdly large";
        if (q[3] < q[1]) return "x2 < x1";
        if (q[4] < q[2]) return "y2 < y1";
    }
    return NULL;
}

/* ------------------------------------------------------------------ RoI max pooling */

/* The quantised RoI in feature cells: top-left cell and bin sizes (Caffe's rule, see roi.h). */
typedef struct {
    int64_t b, xs, ys;
    float bin_h, bin_w;
} pool_roi;

static pool_roi pool_setup(const dc_roi_geom *geo, const float *q) {
    float s = geo->spatial_scale;
    int64_t xs = (int64_t)roundf(q[1] * s), ys = (int64_t)roundf(q[2] * s);
    int64_t xe = (int64_t)roundf(q[3] * s), ye = (int64_t)roundf(q[4] * s);
    int64_t rw = xe - xs + 1 > 1 ? xe - xs + 1 : 1, rh = ye - ys + 1 > 1 ? ye - ys + 1 : 1;
    pool_roi p = {(int64_t)q[0], xs, ys, (float)rh / (float)geo->ph, (float)rw / (float)geo->pw};
    return p;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

void dc_roi_pool_forward_ref(const dc_roi_geom *geo, const float *rois, int64_t p0, int64_t p1, const float *x,
                             float *y, int32_t *argmax) {
    const int64_t C = geo->C, H = geo->H, W = geo->W, P = (int64_t)geo->ph * geo->pw;
    for (int64_t p = p0; p < p1; p++) {
        int64_t r = p / C, c = p % C;
        pool_roi q = pool_setup(geo, rois + 5 * r);
        const float *xp = x + (q.b * C + c) * H * W;
        float *yp = y + p * P;
        int32_t *ap = argmax + p * P;
        for (int i = 0; i < geo->ph; i++) {
            int64_t h0 = clamp64((int64_t)floorf((float)i * q.bin_h) + q.ys, 0, H);
            int64_t h1 = clamp64((int64_t)ceilf((float)(i + 1) * q.bin_h) + q.ys, 0, H);
            for (int j = 0; j < geo->pw; j++) {
                int64_t w0 = clamp64((int64_t)floorf((float)j * q.bin_w) + q.xs, 0, W);
                int64_t w1 = clamp64((int64_t)ceilf((float)(j + 1) * q.bin_w) + q.xs, 0, W);
                /* y = max over rows [h0, h1) x columns [w0, w1); an empty bin gives 0, argmax -1 */
                float best = -FLT_MAX;
                int32_t arg = -1;
                for (int64_t h = h0; h < h1; h++)
                    for (int64_t w = w0; w < w1; w++)
                        if (xp[h * W + w] > best || arg < 0) {
                            best = xp[h * W + w];
                            arg = (int32_t)(h * W + w);
                        }
                yp[i * geo->pw + j] = arg < 0 ? 0.0f : best;
                ap[i * geo->pw + j] = arg;
            }
        }
    }
}

/* The bins' row and column ranges depend on the RoI only: computed once per RoI (not per channel),
 * then each channel's bins are plain maxima.  Above DC_ROI_POOL_FAST_MAX bins a side, the reference. */
#define DC_ROI_POOL_FAST_MAX 64
void dc_roi_pool_forward(const dc_roi_geom *geo, const float *rois, int64_t p0, int64_t p1, const float *x,
                         float *y, int32_t *argmax) {
    if (geo->ph > DC_ROI_POOL_FAST_MAX || geo->pw > DC_ROI_POOL_FAST_MAX) {
        dc_roi_pool_forward_ref(geo, rois, p0, p1, x, y, argmax);
        return;
    }
    const int64_t C = geo->C, H = geo->H, W = geo->W, P = (int64_t)geo->ph * geo->pw;
    int64_t h0[DC_ROI_POOL_FAST_MAX], h1[DC_ROI_POOL_FAST_MAX], w0[DC_ROI_POOL_FAST_MAX], w1[DC_ROI_POOL_FAST_MAX];
    int64_t cur = -1, b = 0;
    for (int64_t p = p0; p < p1; p++) {
        const int64_t r = p / C, c = p % C;
        if (r != cur) { /* the same bounds as the reference computes per bin */
            const pool_roi q = pool_setup(geo, rois + 5 * r);
            for (int i = 0; i < geo->ph; i++) {
                h0[i] = clamp64((int64_t)floorf((float)i * q.bin_h) + q.ys, 0, H);
                h1[i] = clamp64((int64_t)ceilf((float)(i + 1) * q.bin_h) + q.ys, 0, H);
            }
            for (int j = 0; j < geo->pw; j++) {
                w0[j] = clamp64((int64_t)floorf((float)j * q.bin_w) + q.xs, 0, W);
                w1[j] = clamp64((int64_t)ceilf((float)(j + 1) * q.bin_w) + q.xs, 0, W);
            }
            cur = r;
            b = q.b;
        }
        const float *xp = x + (b * C + c) * H * W;
        float *yp = y + p * P;
        int32_t *ap = argmax + p * P;
        for (int i = 0; i < geo->ph; i++)
            for (int j = 0; j < geo->pw; j++) {
                const int k = i * geo->pw + j;
                if (h0[i] >= h1[i] || w0[j] >= w1[j]) { /* empty bin */
                    yp[k] = 0.0f;
                    ap[k] = -1;
                    continue;
                }
                int64_t arg = h0[i] * W + w0[j];
                float best = xp[arg]; /* the first cell, then strictly larger ones (NaN first stays) */
                for (int64_t h = h0[i]; h < h1[i]; h++)
                    for (int64_t w = w0[j]; w < w1[j]; w++)
                        if (xp[h * W + w] > best) {
                            best = xp[h * W + w];
                            arg = h * W + w;
                        }
                yp[k] = best;
                ap[k] = (int32_t)arg;
            }
    }
}

void dc_roi_pool_backward(const dc_roi_geom *geo, int64_t R, const float *rois, int64_t c0, int64_t c1,
                          const int32_t *argmax, const float *dy, float *dx) {
    const int64_t C = geo->C, HW = geo->H * geo->W, P = (int64_t)geo->ph * geo->pw;
    for (int64_t c = c0; c < c1; c++)
        for (int64_t r = 0; r < R; r++) { /* dx[argmax] += dy, RoIs in order */
            int64_t b = (int64_t)rois[5 * r], p = r * C + c;
            float *dxp = dx + (b * C + c) * HW;
            for (int64_t k = 0; k < P; k++)
                if (argmax[p * P + k] >= 0) dxp[argmax[p * P + k]] += dy[p * P + k];
        }
}

/* ------------------------------------------------------------------ RoIAlign */

typedef struct {
    int64_t b;
    float y0, x0, bin_h, bin_w;
    int gh, gw;
} align_roi;

static align_roi align_setup(const dc_roi_geom *geo, const float *q) {
    float s = geo->spatial_scale, off = geo->aligned ? 0.5f : 0.0f;
    align_roi a = {.b = (int64_t)q[0], .x0 = q[1] * s - off, .y0 = q[2] * s - off};
    float rw = q[3] * s - off - a.x0, rh = q[4] * s - off - a.y0;
    if (!geo->aligned) { /* the legacy mode forces a RoI to at least one cell */
        rw = fmaxf(rw, 1.0f);
        rh = fmaxf(rh, 1.0f);
    }
    a.bin_h = rh / (float)geo->ph;
    a.bin_w = rw / (float)geo->pw;
    a.gh = geo->sampling_ratio > 0 ? geo->sampling_ratio : (int)ceilf(a.bin_h);
    a.gw = geo->sampling_ratio > 0 ? geo->sampling_ratio : (int)ceilf(a.bin_w);
    return a;
}

/* Bilinear interpolation at (y, x): the 4 neighbour offsets inside a plane and their weights.
 * Returns 0 (no contribution) outside [-1, H] x [-1, W], torchvision's rule. */
static int bilinear(int64_t H, int64_t W, float y, float x, int64_t o[4], float w[4]) {
    if (y < -1.0f || y > (float)H || x < -1.0f || x > (float)W) return 0;
    if (y <= 0.0f) y = 0.0f;
    if (x <= 0.0f) x = 0.0f;
    int64_t yl = (int64_t)y, xl = (int64_t)x, yh, xh;
    if (yl >= H - 1) {
        yh = yl = H - 1;
        y = (float)yl;
    } else {
        yh = yl + 1;
    }
    if (xl >= W - 1) {
        xh = xl = W - 1;
        x = (float)xl;
    } else {
        xh = xl + 1;
    }
    float ly = y - (float)yl, lx = x - (float)xl, hy = 1.0f - ly, hx = 1.0f - lx;
    o[0] = yl * W + xl, o[1] = yl * W + xh, o[2] = yh * W + xl, o[3] = yh * W + xh;
    w[0] = hy * hx, w[1] = hy * lx, w[2] = ly * hx, w[3] = ly * lx;
    return 1;
}

/* The sampling point (iy, ix) of bin (i, j). */
static float point_y(const align_roi *a, int i, int iy) {
    return a->y0 + (float)i * a->bin_h + ((float)iy + 0.5f) * a->bin_h / (float)a->gh;
}
static float point_x(const align_roi *a, int j, int ix) {
    return a->x0 + (float)j * a->bin_w + ((float)ix + 0.5f) * a->bin_w / (float)a->gw;
}

void dc_roi_align_forward_ref(const dc_roi_geom *geo, const float *rois, int64_t p0, int64_t p1, const float *x,
                              float *y) {
    const int64_t C = geo->C, H = geo->H, W = geo->W, P = (int64_t)geo->ph * geo->pw;
    for (int64_t p = p0; p < p1; p++) {
        int64_t r = p / C, c = p % C;
        align_roi a = align_setup(geo, rois + 5 * r);
        const float *xp = x + (a.b * C + c) * H * W;
        float count = (float)(a.gh * a.gw > 1 ? a.gh * a.gw : 1);
        for (int i = 0; i < geo->ph; i++)
            for (int j = 0; j < geo->pw; j++) { /* y = mean over the bin's points of bilinear(x) */
                float sum = 0.0f;
                for (int iy = 0; iy < a.gh; iy++)
                    for (int ix = 0; ix < a.gw; ix++) {
                        int64_t o[4];
                        float w[4];
                        if (!bilinear(H, W, point_y(&a, i, iy), point_x(&a, j, ix), o, w)) continue;
                        sum += w[0] * xp[o[0]] + w[1] * xp[o[1]] + w[2] * xp[o[2]] + w[3] * xp[o[3]];
                    }
                y[p * P + i * geo->pw + j] = sum / count;
            }
    }
}

void dc_roi_align_backward_ref(const dc_roi_geom *geo, int64_t R, const float *rois, int64_t c0, int64_t c1,
                               const float *dy, float *dx) {
    const int64_t C = geo->C, H = geo->H, W = geo->W, P = (int64_t)geo->ph * geo->pw;
    for (int64_t c = c0; c < c1; c++)
        for (int64_t r = 0; r < R; r++) {
            align_roi a = align_setup(geo, rois + 5 * r);
            float *dxp = dx + (a.b * C + c) * H * W;
            float count = (float)(a.gh * a.gw > 1 ? a.gh * a.gw : 1);
            for (int i = 0; i < geo->ph; i++)
                for (int j = 0; j < geo->pw; j++) { /* dx[neighbours] += dy * weight / count */
                    float g = dy[(r * C + c) * P + i * geo->pw + j] / count;
                    for (int iy = 0; iy < a.gh; iy++)
                        for (int ix = 0; ix < a.gw; ix++) {
                            int64_t o[4];
                            float w[4];
                            if (!bilinear(H, W, point_y(&a, i, iy), point_x(&a, j, ix), o, w)) continue;
                            for (int k = 0; k < 4; k++) dxp[o[k]] += g * w[k];
                        }
                }
        }
}

/* The fast RoIAlign: bilinear()'s clamps and weights are separable, a rule per axis, and a RoI's
 * sampling points are the same for every channel; so each RoI's rows (i, iy) and columns (j, ix) are
 * worked out once, by the reference's own operations, and every channel reuses them.  The products
 * and sums are the reference's, in its order: the results are the same bits (tested).  More than
 * AXIS_MAX points along an axis (huge RoIs with adaptive sampling) fall back to the reference. */
#define AXIS_MAX 256
typedef struct {
    int64_t lo, hi; /* the two neighbours' rows (or columns)           */
    float l, h;     /* their weights: distance past lo, and 1 - that     */
    int ok;         /* 0: outside [-1, n]: the point contributes nothing */
} axis_pt;

/* bilinear() along one axis of length n. */
static axis_pt axis_point(int64_t n, float v) {
    axis_pt p = {0, 0, 0.0f, 0.0f, 0};
    if (v < -1.0f || v > (float)n) return p;
    if (v <= 0.0f) v = 0.0f;
    p.lo = (int64_t)v;
    if (p.lo >= n - 1) {
        p.hi = p.lo = n - 1;
        v = (float)p.lo;
    } else {
        p.hi = p.lo + 1;
    }
    p.l = v - (float)p.lo;
    p.h = 1.0f - p.l;
    p.ok = 1;
    return p;
}

/* The rows and columns of RoI a's points; 0 when there are more than AXIS_MAX along an axis. */
static int align_axes(const dc_roi_geom *geo, const align_roi *a, axis_pt *ys, axis_pt *xs) {
    if ((int64_t)geo->ph * a->gh > AXIS_MAX || (int64_t)geo->pw * a->gw > AXIS_MAX) return 0;
    for (int i = 0; i < geo->ph; i++)
        for (int iy = 0; iy < a->gh; iy++) ys[i * a->gh + iy] = axis_point(geo->H, point_y(a, i, iy));
    for (int j = 0; j < geo->pw; j++)
        for (int ix = 0; ix < a->gw; ix++) xs[j * a->gw + ix] = axis_point(geo->W, point_x(a, j, ix));
    return 1;
}

void dc_roi_align_forward(const dc_roi_geom *geo, const float *rois, int64_t p0, int64_t p1, const float *x,
                          float *y) {
    const int64_t C = geo->C, H = geo->H, W = geo->W, P = (int64_t)geo->ph * geo->pw;
    axis_pt ys[AXIS_MAX], xs[AXIS_MAX];
    align_roi a = {0};
    int64_t cur = -1;
    int fast = 0;
    for (int64_t p = p0; p < p1; p++) {
        const int64_t r = p / C, c = p % C;
        if (r != cur) {
            a = align_setup(geo, rois + 5 * r);
            fast = align_axes(geo, &a, ys, xs);
            cur = r;
        }
        if (!fast) {
            dc_roi_align_forward_ref(geo, rois, p, p + 1, x, y);
            continue;
        }
        const float *xp = x + (a.b * C + c) * H * W;
        const float count = (float)(a.gh * a.gw > 1 ? a.gh * a.gw : 1);
        for (int i = 0; i < geo->ph; i++)
            for (int j = 0; j < geo->pw; j++) {
                float sum = 0.0f;
                for (int iy = 0; iy < a.gh; iy++) {
                    const axis_pt *py = &ys[i * a.gh + iy];
                    if (!py->ok) continue;
                    const float *r0 = xp + py->lo * W, *r1 = xp + py->hi * W;
                    for (int ix = 0; ix < a.gw; ix++) {
                        const axis_pt *px = &xs[j * a.gw + ix];
                        if (!px->ok) continue;
                        const float w0 = py->h * px->h, w1 = py->h * px->l, w2 = py->l * px->h, w3 = py->l * px->l;
                        sum += w0 * r0[px->lo] + w1 * r0[px->hi] + w2 * r1[px->lo] + w3 * r1[px->hi];
                    }
                }
                y[p * P + i * geo->pw + j] = sum / count;
            }
    }
}

/* RoI outer, channel inner: each channel's plane still gets the RoIs' terms in RoI order. */
void dc_roi_align_backward(const dc_roi_geom *geo, int64_t R, const float *rois, int64_t c0, int64_t c1,
                           const float *dy, float *dx) {
    const int64_t C = geo->C, H = geo->H, W = geo->W, P = (int64_t)geo->ph * geo->pw;
    axis_pt ys[AXIS_MAX], xs[AXIS_MAX];
    for (int64_t r = 0; r < R; r++) {
        const align_roi a = align_setup(geo, rois + 5 * r);
        if (!align_axes(geo, &a, ys, xs)) {
            for (int64_t c = c0; c < c1; c++) dc_roi_align_backward_ref(geo, 1, rois + 5 * r, c, c + 1, dy + r * C * P, dx);
            continue;
        }
        const float count = (float)(a.gh * a.gw > 1 ? a.gh * a.gw : 1);
        for (int64_t c = c0; c < c1; c++) {
            float *dxp = dx + (a.b * C + c) * H * W;
            for (int i = 0; i < geo->ph; i++)
                for (int j = 0; j < geo->pw; j++) {
                    const float g = dy[(r * C + c) * P + i * geo->pw + j] / count;
                    for (int iy = 0; iy < a.gh; iy++) {
                        const axis_pt *py = &ys[i * a.gh + iy];
                        if (!py->ok) continue;
                        float *r0 = dxp + py->lo * W, *r1 = dxp + py->hi * W;
                        for (int ix = 0; ix < a.gw; ix++) {
                            const axis_pt *px = &xs[j * a.gw + ix];
                            if (!px->ok) continue;
                            r0[px->lo] += g * (py->h * px->h);
                            r0[px->hi] += g * (py->h * px->l);
                            r1[px->lo] += g * (py->l * px->h);
                            r1[px->hi] += g * (py->l * px->l);
                        }
                    }
                }
        }
    }
}
