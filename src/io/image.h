/* image.h — reading and writing images for prediction: PGM/PPM (P2, P3, P5, P6; 8- or 16-bit
 * samples) always, PNG (any colour type and depth libpng reads: gray, gray+alpha, RGB, RGBA, palette,
 * 1..16 bits) when deepc is built with libpng (DC_HAVE_PNG).  Images are float [C, H, W] in 0..1
 * (C = 1 gray or 3 RGB); alpha is composited over black.  Also channel conversion and resizing.
 * Errors name the file and what is wrong (missing, truncated, bad header, unsupported depth, absurd
 * size).  Not here: normalisation for a model, colour management (gamma/ICC chunks are ignored),
 * EXIF orientation. */
#ifndef DC_IO_IMAGE_H
#define DC_IO_IMAGE_H

#include "deepc.h"

/* Larger sides are refused as corrupt or absurd (16384 x 16384 x 3 floats is already 3 GiB). */
#define DC_IMAGE_MAX_SIDE 16384

typedef struct dc_image {
    int c, h, w;     /* channels (1 gray, 3 RGB), height, width            */
    float *data;     /* c*h*w floats in [0, 1], planar [C, H, W], malloc'ed */
} dc_image;

/* A zero-filled image; c in 1..4, sides 1..DC_IMAGE_MAX_SIDE. */
dc_status dc_image_create(int c, int h, int w, dc_image *out);
/* Frees the pixels and zeroes *im; NULL and zeroed images are fine. */
void dc_image_free(dc_image *im);

/* Read a PGM/PPM or PNG file, recognised by its first bytes (not by its name). */
dc_status dc_image_read(const char *path, dc_image *out);
/* 1 when this build reads and writes PNG. */
int dc_image_png_supported(void);

/* Write PGM (c = 1) or PPM (c = 3): maxval 1..65535 (> 255 writes 16-bit big-endian samples),
 * ascii != 0 writes P2/P3, else P5/P6.  Samples are round(p * maxval), clamped to 0..maxval. */
dc_status dc_image_write_pnm(const char *path, const dc_image *im, int maxval, int ascii);
/* Write an 8-bit gray (c = 1) or RGB (c = 3) PNG; DC_ERR_ARG when built without libpng. */
dc_status dc_image_write_png(const char *path, const dc_image *im);
/* By the name's extension: ".png" -> PNG, anything else -> 8-bit binary PGM/PPM. */
dc_status dc_image_write(const char *path, const dc_image *im);

/* Convert to `channels` (1 or 3): RGB -> gray by ITU-R BT.601 luma (0.299 R + 0.587 G + 0.114 B),
 * gray -> RGB by copying; the same count copies.  *dst is a new image. */
dc_status dc_image_convert(const dc_image *src, int channels, dc_image *dst);
/* Resize to h x w: bilinear with pixel centres at (i + 0.5) (as OpenCV / PyTorch align_corners=False,
 * edges clamped) when enlarging; when shrinking the triangle filter is widened by the scale factor
 * (as PIL), so every source pixel contributes and a large photo does not alias.  *dst is new. */
dc_status dc_image_resize(const dc_image *src, int h, int w, dc_image *dst);

#endif
