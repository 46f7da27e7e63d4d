/* scene.c — building the drawing list (scene.h): primitives are appended with copies of their
 * points, text and pixels; the first allocation failure is remembered and later calls do nothing,
 * so layout code checks once at the end.  Also base64 for inlining images in SVG and HTML. */
#include "viz/scene.h"

#include <stdlib.h>
#include <string.h>

void dc_scene_init(dc_scene *s, int width, int height) {
    memset(s, 0, sizeof *s);
    s->width = width;
    s->height = height;
}

void dc_scene_release(dc_scene *s) {
    if (!s) return;
    for (int i = 0; i < s->n; i++) {
        free(s->prims[i].pts);
        free(s->prims[i].text);
        free(s->prims[i].rgb);
    }
    free(s->prims);
    free(s->clips);
    memset(s, 0, sizeof *s);
}

static dc_prim *push(dc_scene *s, dc_prim_kind kind) {
    if (s->error != DC_OK) return NULL;
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 256;
        dc_prim *p = realloc(s->prims, (size_t)cap * sizeof *p);
        if (!p) {
            s->error = DC_ERR(DC_ERR_NOMEM, "figure: %d drawing primitives", cap);
            return NULL;
        }
        s->prims = p;
        s->cap = cap;
    }
    dc_prim *p = &s->prims[s->n++];
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->alpha = 1.0f;
    p->clip = -1;
    return p;
}

int dc_scene_clip(dc_scene *s, float x, float y, float w, float h) {
    if (s->error != DC_OK) return -1;
    if (s->nclips == s->cap_clips) {
        int cap = s->cap_clips ? s->cap_clips * 2 : 16;
        float(*c)[4] = realloc(s->clips, (size_t)cap * sizeof *c);
        if (!c) {
            s->error = DC_ERR(DC_ERR_NOMEM, "figure: clip rectangles");
            return -1;
        }
        s->clips = c;
        s->cap_clips = cap;
    }
    s->clips[s->nclips][0] = x;
    s->clips[s->nclips][1] = y;
    s->clips[s->nclips][2] = w;
    s->clips[s->nclips][3] = h;
    return s->nclips++;
}

void dc_scene_rect(dc_scene *s, float x, float y, float w, float h, uint32_t fill, float alpha, uint32_t stroke,
                   float stroke_w, int clip) {
    dc_prim *p = push(s, DC_PRIM_RECT);
    if (!p) return;
    p->x = x;
    p->y = y;
    p->w = w;
    p->h = h;
    p->color = fill;
    p->alpha = alpha;
    p->stroke = stroke;
    p->stroke_w = stroke_w;
    p->clip = clip;
}

void dc_scene_line(dc_scene *s, const float *pts, int npts, float width, uint32_t color, int clip) {
    if (npts < 2) return;
    float *copy = malloc((size_t)npts * 2 * sizeof(float));
    if (!copy) {
        if (s->error == DC_OK) s->error = DC_ERR(DC_ERR_NOMEM, "figure: a line of %d points", npts);
        return;
    }
    dc_prim *p = push(s, DC_PRIM_LINE);
    if (!p) {
        free(copy);
        return;
    }
    memcpy(copy, pts, (size_t)npts * 2 * sizeof(float));
    p->pts = copy;
    p->npts = npts;
    p->width = width;
    p->color = color;
    p->clip = clip;
}

void dc_scene_circle(dc_scene *s, float x, float y, float r, uint32_t color, int clip) {
    dc_prim *p = push(s, DC_PRIM_CIRCLE);
    if (!p) return;
    p->x = x;
    p->y = y;
    p->w = r;
    p->color = color;
    p->clip = clip;
}

void dc_scene_text(dc_scene *s, float x, float y, const char *text, float scale, int anchor, int vertical,
                   uint32_t color) {
    if (!text || !*text) return;
    char *copy = strdup(text);
    if (!copy) {
        if (s->error == DC_OK) s->error = DC_ERR(DC_ERR_NOMEM, "figure: text");
        return;
    }
    dc_prim *p = push(s, DC_PRIM_TEXT);
    if (!p) {
        free(copy);
        return;
    }
    p->x = x;
    p->y = y;
    p->text = copy;
    p->scale = scale;
    p->anchor = anchor;
    p->vertical = vertical;
    p->color = color;
}

void dc_scene_image(dc_scene *s, float x, float y, float w, float h, const unsigned char *rgb, int iw, int ih) {
    size_t bytes = (size_t)iw * (size_t)ih * 3;
    unsigned char *copy = malloc(bytes ? bytes : 1);
    if (!copy) {
        if (s->error == DC_OK) s->error = DC_ERR(DC_ERR_NOMEM, "figure: image of %dx%d", iw, ih);
        return;
    }
    dc_prim *p = push(s, DC_PRIM_IMAGE);
    if (!p) {
        free(copy);
        return;
    }
    memcpy(copy, rgb, bytes);
    p->x = x;
    p->y = y;
    p->w = w;
    p->h = h;
    p->rgb = copy;
    p->iw = iw;
    p->ih = ih;
}

char *dc_base64_encode(const unsigned char *p, size_t n) {
    static const char T[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
    if (!out) return NULL;
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = T[v >> 18];
        *o++ = T[(v >> 12) & 63];
        *o++ = T[(v >> 6) & 63];
        *o++ = T[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        *o++ = T[v >> 18];
        *o++ = T[(v >> 12) & 63];
        *o++ = i + 1 < n ? T[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o = '\0';
    return out;
}
