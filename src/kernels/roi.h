/* roi.h — RoI max pooling (Fast R-CNN) and RoIAlign (Mask R-CNN): plain C over float arrays.
 *
 * A RoI is 5 floats (b, x1, y1, x2, y2): the index b of its image in the batch and a box in
 * input-image pixels; spatial_scale maps it to the feature map (1/16 for VGG-16's conv5).  Every
 * RoI gives an output [C, ph, pw]: y [R, C, ph, pw] from x [N, C, H, W].
 *
 * RoI max pooling (Caffe's roi_pooling_layer, the Fast R-CNN reference; torchvision.ops.roi_pool):
 *   the box is quantised to feature cells by C's round() (half away from zero):
 *     xs = round(x1 s), ys = round(y1 s), xe = round(x2 s), ye = round(y2 s)   (s = spatial_scale)
 *   and covers cells xs..xe inclusive (Caffe's "+1"): rw = max(xe - xs + 1, 1), rh likewise;
 *   bin (i, j) covers rows  [ys + floor(i rh/ph), ys + ceil((i+1) rh/ph))  and columns likewise
 *   (bin sizes rh/ph in float, as Caffe), clipped to the map [0, H) x [0, W);
 *   y = the maximum over the bin (the first one in row-major order on ties), 0 for an empty bin;
 *   argmax = its index h*W + w inside the plane, -1 for an empty bin.   dx[argmax] += dy.
 *
 * RoIAlign (torchvision.ops.roi_align / detectron2 ROIAlign, no quantisation):
 *   off = aligned ? 0.5 : 0;  start = x1 s - off,  size = (x2 - x1) s   (not aligned: size >= 1);
 *   each bin (size/ph x size/pw) is sampled at gh x gw points, gh = sampling_ratio or, when 0,
 *   ceil(size_h / ph) (likewise gw); the points sit at the centres of a regular gh x gw grid inside
 *   the bin; y = mean over the points of the bilinear interpolation of x at each point, where a
 *   point with y < -1, y > H, x < -1 or x > W counts as 0 and coordinates in [-1, 0] are clamped to 0
 *   (torchvision's rule); an RoI with no points (size 0, adaptive) gives 0.
 *   Backward: dx at the 4 neighbours of every point += dy * bilinear weight / (gh gw).
 *
 * Kernels never allocate and never spawn threads.  Forward runs on a range of output planes
 * (plane p = r*C + c); backward on a range of channels [c0, c1), visiting the RoIs in order, so the
 * graph glue can split channels over threads without races and with sums in a fixed order. */
#ifndef DC_KERNELS_ROI_H
#define DC_KERNELS_ROI_H

#include "deepc.h"

typedef struct dc_roi_geom {
    int64_t N, C, H, W;    /* feature map x [N, C, H, W]                                       */
    int ph, pw;            /* output bins per RoI                                              */
    float spatial_scale;   /* feature cells per input pixel                                    */
    int sampling_ratio;    /* RoIAlign: points per bin side; 0: adaptive ceil(size / bins)     */
    int aligned;           /* RoIAlign: 1 = half-pixel offset (detectron2's aligned=True)      */
} dc_roi_geom;

/* Largest |coordinate x spatial_scale| accepted (keeps every integer conversion in range). */
#define DC_ROI_MAX_COORD 16777216.0f

/* Checks R RoIs (rois [R, 5]): b an integer in [0, N), coordinates finite and within
 * DC_ROI_MAX_COORD feature cells, x2 >= x1, y2 >= y1.  Returns NULL when all are valid, else a
 * short reason (a static string) with *which = the index of the first bad RoI. */
const char *dc_rois_check(const dc_roi_geom *geo, int64_t R, const float *rois, int64_t *which);

/* rois [R, 5]; x [N, C, H, W]; y, argmax [R, C, ph, pw]: planes p0 <= p < p1 (p = r*C + c). */
void dc_roi_pool_forward(const dc_roi_geom *geo, const float *rois, int64_t p0, int64_t p1, const float *x,
                         float *y, int32_t *argmax);
/* The same outputs, computed per bin exactly as roi.h states (the tests compare the two). */
void dc_roi_pool_forward_ref(const dc_roi_geom *geo, const float *rois, int64_t p0, int64_t p1, const float *x,
                             float *y, int32_t *argmax);
/* rois [R, 5]; argmax, dy [R, C, ph, pw]; dx [N, C, H, W] accumulated for channels c0 <= c < c1. */
void dc_roi_pool_backward(const dc_roi_geom *geo, int64_t R, const float *rois, int64_t c0, int64_t c1,
                          const int32_t *argmax, const float *dy, float *dx);

/* rois [R, 5]; x [N, C, H, W]; y [R, C, ph, pw]: planes p0 <= p < p1. */
void dc_roi_align_forward(const dc_roi_geom *geo, const float *rois, int64_t p0, int64_t p1, const float *x,
                          float *y);
/* The same by the rule, point by point (the tests compare the fast kernel against it bit for bit). */
void dc_roi_align_forward_ref(const dc_roi_geom *geo, const float *rois, int64_t p0, int64_t p1, const float *x,
                              float *y);
/* rois [R, 5]; dy [R, C, ph, pw]; dx [N, C, H, W] accumulated for channels c0 <= c < c1. */
void dc_roi_align_backward(const dc_roi_geom *geo, int64_t R, const float *rois, int64_t c0, int64_t c1,
                           const float *dy, float *dx);
/* The same by the rule, point by point (the tests compare the fast kernel against it bit for bit). */
void dc_roi_align_backward_ref(const dc_roi_geom *geo, int64_t R, const float *rois, int64_t c0, int64_t c1,
                               const float *dy, float *dx);

#endif
