/* scene.h — the drawing list between the figure model (plot.c) and the two back ends, the raster
 * renderer (raster.c -> RGB -> PNG) and the SVG writer (svg.c).  plot.c lays a figure out once into
 * primitives in pixel coordinates (y down); each back end only draws them, so PNG and SVG show the
 * same picture.  Also the built-in bitmap font (font.c) and the encoders shared with the report.
 * Internal to deepc: not installed, not part of the public API. */
#ifndef DC_VIZ_SCENE_H
#define DC_VIZ_SCENE_H

#include "deepc.h"

typedef enum dc_prim_kind {
    DC_PRIM_RECT = 0, /* filled rectangle x, y, w, h (optional stroke)                 */
    DC_PRIM_LINE,     /* open polyline of npts points                                  */
    DC_PRIM_CIRCLE,   /* filled disc at (x, y), radius w                               */
    DC_PRIM_TEXT,     /* text at (x, y): y is the middle of the capitals               */
    DC_PRIM_IMAGE,    /* iw x ih RGB pixels scaled (nearest) into x, y, w, h           */
    DC_PRIM_COUNT
} dc_prim_kind;

enum { DC_ANCHOR_START = 0, DC_ANCHOR_MIDDLE = 1, DC_ANCHOR_END = 2 };

typedef struct dc_prim {
    dc_prim_kind kind;
    uint32_t color;       /* fill (rect, circle, text) or stroke (line), 0xRRGGBB       */
    uint32_t stroke;      /* rect outline colour when stroke_w > 0                     */
    float stroke_w;
    float alpha;          /* 0..1                                                      */
    float x, y, w, h;
    float width;          /* line width in pixels                                      */
    float *pts;           /* line: x0 y0 x1 y1 ...                                     */
    int npts;
    char *text;
    float scale;          /* text: pixels per font pixel (capitals are 7 font pixels)   */
    int anchor;           /* DC_ANCHOR_*                                               */
    int vertical;         /* text read bottom to top (rotated -90 degrees)             */
    unsigned char *rgb;   /* image: ih x iw x 3                                        */
    int iw, ih;
    int clip;             /* index into scene clips, -1 none                           */
} dc_prim;

typedef struct dc_scene {
    int width, height;
    dc_prim *prims;
    int n, cap;
    float (*clips)[4];    /* x, y, w, h                                                */
    int nclips, cap_clips;
    dc_status error;      /* first allocation failure; drawing calls become no-ops      */
} dc_scene;

void dc_scene_init(dc_scene *s, int width, int height);
void dc_scene_release(dc_scene *s);
int dc_scene_clip(dc_scene *s, float x, float y, float w, float h);
void dc_scene_rect(dc_scene *s, float x, float y, float w, float h, uint32_t fill, float alpha, uint32_t stroke,
                   float stroke_w, int clip);
/* Copies the points. */
void dc_scene_line(dc_scene *s, const float *pts, int npts, float width, uint32_t color, int clip);
void dc_scene_circle(dc_scene *s, float x, float y, float r, uint32_t color, int clip);
void dc_scene_text(dc_scene *s, float x, float y, const char *text, float scale, int anchor, int vertical,
                   uint32_t color);
/* Copies the pixels. */
void dc_scene_image(dc_scene *s, float x, float y, float w, float h, const unsigned char *rgb, int iw, int ih);

/* ------------------------------------------------------------------ font (font.c)
 * A 5 x 7 bitmap font of our own for ASCII 32..126 on a 6 x 9 cell: capitals and digits fill rows
 * 0..6 (the baseline is below row 6), descenders reach rows 7..8.  Other bytes draw as '?'. */
#define DC_FONT_ADVANCE 6 /* font pixels from one character to the next */
#define DC_FONT_CAP 7     /* height of capitals in font pixels          */
/* rows[r] bit (4 - c) set: pixel at column c (0..4) of row r (0..8) is ink. */
void dc_font_glyph(int ch, uint8_t rows[9]);
/* Width in pixels of text at a scale (the last character's trailing space not counted). */
float dc_font_width(const char *text, float scale);

/* ------------------------------------------------------------------ back ends */
/* Rasterise (anti-aliased) into a white RGB buffer (height x width x 3, malloc'ed). */
dc_status dc_scene_raster(const dc_scene *s, unsigned char **rgb);
/* SVG text (NUL-terminated, malloc'ed). */
dc_status dc_scene_svg(const dc_scene *s, char **svg, size_t *n);

/* ------------------------------------------------------------------ encoders */
/* 8-bit RGB PNG in memory; with_libpng 1 uses libpng, 0 the own chunk writer over zlib's deflate
 * (either may be absent: DC_ERR_ARG saying what this build lacks). */
dc_status dc_png_encode(const unsigned char *rgb, int w, int h, int with_libpng, unsigned char **png, size_t *n);
/* The best encoder this build has (libpng, else zlib), else DC_ERR_ARG naming both. */
dc_status dc_png_encode_auto(const unsigned char *rgb, int w, int h, unsigned char **png, size_t *n);
/* Base64 (RFC 4648, padded) of n bytes, NUL-terminated and malloc'ed; NULL when out of memory. */
char *dc_base64_encode(const unsigned char *p, size_t n);

#endif
