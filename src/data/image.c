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

// data.resize = cv2: OpenCV's uint8 resize of the whole frame, then the value transform on v/255.
static void resize_cv2(float *out, const uint8_t *src, int W, int H, int out_w, int out_h, const gs_resize_params *p) {
    GS_ASSERT(p->x0 == 0.0f && p->y0 == 0.0f && p->cw == (float)W && p->ch == (float)H);  // no crop or shift
    size_t n = (size_t)out_w * out_h * 3;
    uint8_t *px = gs_malloc(n);
    image_resize_rgb8_cv2(px, src, W, H, out_w, out_h);
    int sym = p->normalize == GS_NORMALIZE_SYMMETRIC;
    int photometric = p->contrast != 1.0f || p->brightness != 0.0f;
    float lut[256];  // the seed's frame.astype(float32) / 255 (or Keras' x / 127.5 - 1), as float32 ops
    for (int v = 0; v < 256; v++) {
        if (!photometric) {
            lut[v] = sym ? (float)v / 127.5f - 1.0f : (float)v / 255.0f;
            continue;
        }
        float u = (float)v / 255.0f;
        u = (u - 0.5f) * p->contrast + 0.5f + p->brightness;
        u = u < 0.0f ? 0.0f : (u > 1.0f ? 1.0f : u);
        lut[v] = sym ? u * 2.0f - 1.0f : u;
    }
    for (int y = 0; y < out_h; y++) {
        const uint8_t *r = px + (size_t)y * out_w * 3;
        float *o = out + (size_t)y * out_w * 3;
        for (int x = 0; x < out_w; x++) {
            const uint8_t *s = r + 3 * (size_t)(p->flip ? out_w - 1 - x : x);
            o[3 * x + 0] = lut[s[0]];
            o[3 * x + 1] = lut[s[1]];
            o[3 * x + 2] = lut[s[2]];
        }
    }
    free(px);
}

void image_resize_rgb8(float *out, const uint8_t *src, int W, int H, int out_w, int out_h,
                       const gs_resize_params *p) {
    GS_ASSERT(W > 0 && H > 0 && out_w > 0 && out_h > 0 && p->cw > 0 && p->ch > 0);
    if (p->resize == GS_RESIZE_CV2) {
        resize_cv2(out, src, W, H, out_w, out_h, p);
        return;
    }
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

// ---- OpenCV's INTER_LINEAR on 8-bit images, bit for bit (cv2.resize(img, (w, h)), 3 channels) ----
//
// From OpenCV 4.x modules/imgproc/src/resize.cpp (cv::hal::resize -> resizeGeneric_ with
// HResizeLinear<uchar, int, short, 2048> and VResizeLinear<uchar, int, short,
// FixedPtCast<int, uchar, 22>, VResizeLinearVec_32s8u>):
//  - scale = 1 / ((double)out / in); per output column fx = (float)((dx + 0.5) * scale - 0.5),
//    sx = floor(fx), fx -= sx; sx < 0 -> sx = 0, fx = 0; sx >= in - 1 -> sx = in - 1, fx = 0, and
//    from the first such column on (xmax) the horizontal pass is src[sx] * 2048;
//  - weights short(round(w * 2048)) (INTER_RESIZE_COEF_BITS = 11; cvRound = nearest, ties to even):
//    a0 = (1 - fx), a1 = fx. Rows the same way, but fy is not reset at the borders: the two source
//    rows are clamped into [0, in - 1] instead (so both weights still apply to one row);
//  - horizontal pass in int32: h = src[sx] * a0 + src[sx + 1] * a1 (exact);
//  - vertical pass, 16-bit as OpenCV's SIMD code does it (VResizeLinearVec_32s8u), for every byte of
//    a row: ((((h0 >> 4) * b0) >> 16) + (((h1 >> 4) * b1) >> 16) + 2) >> 2, saturated to [0, 255].
//    (Not the scalar rule (h0 * b0 + h1 * b1 + 2^21) >> 22, which differs by 1 here and there:
//    opencv-python 4.8.1, 4.10.0 and 5.0.0 give the SIMD result also in the last bytes of rows whose
//    length is no multiple of 16, measured with scripts/make_cv2_fixtures.py's odd sizes.)
//  - an exact 2x downscale on both axes is INTER_AREA's fast path instead:
//    (a + b + c + d + 2) >> 2 over each 2x2 block.
static short cv_coef(float w) {
    long v = lrintf(w * 2048.0f);
    return (short)(v < -32768 ? -32768 : v > 32767 ? 32767 : v);
}

static int sat16(int v) { return v < -32768 ? -32768 : v > 32767 ? 32767 : v; }  // packs/adds saturation

static uint8_t sat_u8(int v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); }

static int clip_row(int y, int H) { return y >= 0 ? (y < H ? y : H - 1) : 0; }

static void cv2_area2x(uint8_t *out, const uint8_t *src, int W, int out_w, int out_h) {
    size_t stride = (size_t)W * 3;
    for (int dy = 0; dy < out_h; dy++) {
        const uint8_t *s0 = src + (size_t)(2 * dy) * stride, *s1 = s0 + stride;
        uint8_t *o = out + (size_t)dy * out_w * 3;
        for (int dx = 0; dx < out_w; dx++)
            for (int c = 0; c < 3; c++) {
                int i = 6 * dx + c;
                o[3 * dx + c] = (uint8_t)((s0[i] + s0[i + 3] + s1[i] + s1[i + 3] + 2) >> 2);
            }
    }
}

void image_resize_rgb8_cv2(uint8_t *out, const uint8_t *src, int W, int H, int out_w, int out_h) {
    GS_ASSERT(W > 0 && H > 0 && out_w > 0 && out_h > 0);
    if (W == 2 * out_w && H == 2 * out_h) {
        cv2_area2x(out, src, W, out_w, out_h);
        return;
    }
    const int width = out_w * 3;  // bytes of an output row
    double scale_x = 1.0 / ((double)out_w / W), scale_y = 1.0 / ((double)out_h / H);
    int *xofs = gs_malloc(sizeof(int) * (size_t)width);
    short *alpha = gs_malloc(sizeof(short) * 2 * (size_t)out_w);
    int32_t *rows = gs_malloc(sizeof(int32_t) * 2 * (size_t)width);
    int xmax = out_w;
    for (int dx = 0; dx < out_w; dx++) {
        float fx = (float)((dx + 0.5) * scale_x - 0.5);
        int sx = (int)floorf(fx);
        fx -= (float)sx;
        if (sx < 0) fx = 0, sx = 0;
        if (sx + 1 >= W) {
            if (dx < xmax) xmax = dx;
            if (sx >= W - 1) fx = 0, sx = W - 1;
        }
        for (int c = 0; c < 3; c++) xofs[3 * dx + c] = 3 * sx + c;
        alpha[2 * dx] = cv_coef(1.0f - fx);
        alpha[2 * dx + 1] = cv_coef(fx);
    }
    const int xmax_b = xmax * 3;
    int have[2] = {-1, -1};
    for (int dy = 0; dy < out_h; dy++) {
        float fy = (float)((dy + 0.5) * scale_y - 0.5);
        int sy = (int)floorf(fy);
        fy -= (float)sy;
        const int b0 = cv_coef(1.0f - fy), b1 = cv_coef(fy);
        int ry[2] = {clip_row(sy, H), clip_row(sy + 1, H)};
        for (int k = 0; k < 2; k++) {
            int32_t *r = rows + (size_t)k * width;
            if (have[k] == ry[k]) continue;
            if (k == 0 && have[1] == ry[0]) {  // the previous lower row is this upper row
                memcpy(r, rows + width, sizeof(int32_t) * (size_t)width);
                have[0] = ry[0];
                continue;
            }
            const uint8_t *s = src + (size_t)ry[k] * W * 3;
            int x = 0;
            for (; x < xmax_b; x++) r[x] = s[xofs[x]] * alpha[2 * (x / 3)] + s[xofs[x] + 3] * alpha[2 * (x / 3) + 1];
            for (; x < width; x++) r[x] = s[xofs[x]] * 2048;
            have[k] = ry[k];
        }
        const int32_t *h0 = rows, *h1 = rows + width;
        uint8_t *o = out + (size_t)dy * width;
        for (int x = 0; x < width; x++) {
            int v0 = sat16(h0[x] >> 4), v1 = sat16(h1[x] >> 4);
            int m = sat16(((v0 * b0) >> 16) + ((v1 * b1) >> 16));
            o[x] = sat_u8(sat16(m + 2) >> 2);
        }
    }
    free(xofs);
    free(alpha);
    free(rows);
}
