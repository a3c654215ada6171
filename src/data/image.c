// Bilinear resize of RGB8 frames to normalized float (see gesture/image.h for the exact sampling).
// Separable: each needed source row is interpolated horizontally once into a float row (upscaling
// reuses it for several output rows), then pairs of rows are blended vertically with the value
// transform fused in. Index/weight tables are computed once per frame.
#include "gesture/image.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"

gs_resize_params image_resize_params(int W, int H, gs_normalize normalize) {
    gs_resize_params p = {0};
    p.x0 = 0.0f;
    p.y0 = 0.0f;
    p.cw = (float)W;
    p.ch = (float)H;
    p.flip = 0;
    p.brightness = 0.0f;
    p.contrast = 1.0f;
    p.normalize = normalize;
    return p;
}

// Source index and weight for output position d (OpenCV INTER_LINEAR with border clamping).
static void sample_pos(int *i0, int *i1, float *f, float origin, float span, int out_n, int in_n, int d) {
    double s = origin + (d + 0.5) * ((double)span / out_n) - 0.5;
    double fl = floor(s);
    int i = (int)fl;
    float w = (float)(s - fl);
    if (i < 0) {
        i = 0;
        w = 0.0f;
    }
    if (i >= in_n - 1) {
        i = in_n - 1;
        w = 0.0f;
    }
    *i0 = i;
    *i1 = i < in_n - 1 ? i + 1 : i;
    *f = w;
}

// Horizontal pass of one source row into row (out_w,3).
static void hrow(float *row, const uint8_t *src_row, const int *x0, const int *x1, const float *fx, int out_w) {
    for (int dx = 0; dx < out_w; dx++) {
        const uint8_t *a = src_row + x0[dx];
        const uint8_t *b = src_row + x1[dx];
        float f = fx[dx], g = 1.0f - f;
        row[3 * dx + 0] = g * a[0] + f * b[0];
        row[3 * dx + 1] = g * a[1] + f * b[1];
        row[3 * dx + 2] = g * a[2] + f * b[2];
    }
}

void image_resize_rgb8(float *out, const uint8_t *src, int W, int H, int out_w, int out_h,
                       const gs_resize_params *p) {
    GS_ASSERT(W > 0 && H > 0 && out_w > 0 && out_h > 0 && p->cw > 0 && p->ch > 0);
    // One block: x tables (3 per column) + two float rows.
    size_t row_n = (size_t)out_w * 3;
    char *mem = gs_malloc((size_t)out_w * (2 * sizeof(int) + sizeof(float)) + 2 * row_n * sizeof(float));
    float *rows[2] = {(float *)mem, (float *)mem + row_n};
    int *x0 = (int *)(rows[1] + row_n);
    int *x1 = x0 + out_w;
    float *fx = (float *)(x1 + out_w);
    for (int dx = 0; dx < out_w; dx++) {
        int d = p->flip ? out_w - 1 - dx : dx;
        sample_pos(&x0[dx], &x1[dx], &fx[dx], p->x0, p->cw, out_w, W, d);
        x0[dx] *= 3;
        x1[dx] *= 3;
    }
    // Fused value transform: out = clamp(v*A + B, lo, hi).
    float ns = p->normalize == GS_NORMALIZE_SYMMETRIC ? 2.0f : 1.0f;
    float nb = p->normalize == GS_NORMALIZE_SYMMETRIC ? -1.0f : 0.0f;
    float A = p->contrast / 255.0f * ns;
    float B = (0.5f - 0.5f * p->contrast + p->brightness) * ns + nb;
    float lo = nb, hi = ns + nb;

    int have[2] = {-1, -1};  // source row held in rows[0], rows[1]
    size_t stride = (size_t)W * 3;
    for (int dy = 0; dy < out_h; dy++) {
        int y0, y1;
        float fy;
        sample_pos(&y0, &y1, &fy, p->y0, p->ch, out_h, H, dy);
        // Make rows[0] hold y0 and rows[1] hold y1, reusing what the previous output row computed.
        if (have[0] != y0) {
            if (have[1] == y0) {
                float *t = rows[0];
                rows[0] = rows[1];
                rows[1] = t;
                have[0] = y0;
                have[1] = -1;
            } else {
                hrow(rows[0], src + (size_t)y0 * stride, x0, x1, fx, out_w);
                have[0] = y0;
            }
        }
        if (have[1] != y1 && y1 != y0) {
            hrow(rows[1], src + (size_t)y1 * stride, x0, x1, fx, out_w);
            have[1] = y1;
        }
        const float *r0 = rows[0];
        const float *r1 = y1 != y0 ? rows[1] : rows[0];
        float g = 1.0f - fy;
        float *o = out + (size_t)dy * row_n;
        for (size_t k = 0; k < row_n; k++) {
            float v = (g * r0[k] + fy * r1[k]) * A + B;
            o[k] = v < lo ? lo : (v > hi ? hi : v);
        }
    }
    free(mem);
}

void image_resize_rgb8_u8(uint8_t *out, const uint8_t *src, int W, int H, int out_w, int out_h) {
    float *tmp = gs_malloc((size_t)out_w * out_h * 3 * sizeof(float));
    gs_resize_params p = image_resize_params(W, H, GS_NORMALIZE_UNIT);
    image_resize_rgb8(tmp, src, W, H, out_w, out_h, &p);
    for (size_t k = 0; k < (size_t)out_w * out_h * 3; k++) out[k] = (uint8_t)lrintf(tmp[k] * 255.0f);
    free(tmp);
}
