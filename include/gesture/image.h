// Image → tensor: bilinear resize of an RGB8 frame to float with normalization, crop window,
// horizontal flip and a brightness/contrast affine folded into one pass.
//
// Interpolation is OpenCV's INTER_LINEAR (what the seed used): half-pixel centres,
//   sx = x0 + (dx + 0.5) * cw / out_w - 0.5,  i = floor(sx), f = sx - i,
// with positions outside [0, W-1] clamped to the border pixel (OpenCV's replicate rule), no
// antialiasing on downscale. Unlike OpenCV's uint8 path we keep the result in float (no 11-bit
// fixed-point weights, no rounding to uint8), so values differ from cv2 by < 1/255 at most.
// data.resize = cv2 (gs_resize_params.resize) runs OpenCV's uint8 path itself, bit for bit
// (image_resize_rgb8_cv2), for the seed's exact pixels.
#ifndef GESTURE_IMAGE_H
#define GESTURE_IMAGE_H

#include <stdint.h>

// Pixel value mapping after resize: unit = v/255 in [0,1] (the seed), symmetric = v/127.5-1 in
// [-1,1] (Keras MobileNetV2 preprocess_input, right for ImageNet weights).
#include "gesture/types.h"

// How one frame is sampled. Coordinates are in source pixels; a window reaching outside the image
// replicates the border (shift augmentation). The value transform is
//   u = v/255 (v in 0..255 after interpolation);  u' = clamp((u - 0.5)*contrast + 0.5 + brightness, 0, 1)
//   out = u' * norm_scale + norm_bias        (unit: 1, 0; symmetric: 2, -1)
typedef struct {
    float x0, y0, cw, ch;  // source window: top-left corner and size (full frame: 0, 0, W, H)
    int flip;              // 1 = mirror the output horizontally
    float brightness;      // additive, in [0,1] units (0 = none)
    float contrast;        // multiplicative around 0.5 (1 = none)
    gs_normalize normalize;
    gs_resize resize;      // float (above), or cv2: image_resize_rgb8_cv2 of the whole frame, then u = v/255
                           // (exactly, as float32), flip and photometric transform as above; the window
                           // must be the whole frame (no crop or shift)
} gs_resize_params;

// Identity parameters for a W x H frame: whole frame, no flip, no photometric change.
gs_resize_params image_resize_params(int W, int H, gs_normalize normalize);

// Resize src (H,W,3) uint8 into out (out_h,out_w,3) float per params.
void image_resize_rgb8(float *out,           // (out_h,out_w,3)
                       const uint8_t *src,   // (H,W,3)
                       int W, int H, int out_w, int out_h, const gs_resize_params *p);

// OpenCV's cv2.resize(src, (out_w, out_h), interpolation=cv2.INTER_LINEAR) of an RGB8 image, bit for
// bit (its 11-bit fixed-point weights and uint8 rounding; an exact 2x downscale is its INTER_AREA fast
// path, as in OpenCV). The seed's preprocessing: data.resize = cv2. Details in image.c.
void image_resize_rgb8_cv2(uint8_t *out,         // (out_h,out_w,3)
                           const uint8_t *src,   // (H,W,3)
                           int W, int H, int out_w, int out_h);

// Plain uint8 → uint8 bilinear resize (same sampling, rounded), for thumbnails and the synthetic
// data's frame sizes.
void image_resize_rgb8_u8(uint8_t *out,         // (out_h,out_w,3)
                          const uint8_t *src,   // (H,W,3)
                          int W, int H, int out_w, int out_h);

#endif
