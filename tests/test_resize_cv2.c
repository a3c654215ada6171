// data.resize = cv2: gesture's OpenCV INTER_LINEAR (uint8, 11-bit fixed point) against cv2.resize's own
// pixels, committed by scripts/make_cv2_fixtures.py (tests/fixtures/cv2: PNG frames of the data set's two
// sizes, 160x120 and 360x360, resized to 224, 96, 42, 34 and 180), byte for byte; the float tensor the
// loader gets from it (v/255 as float32, flip, symmetric, photometric); and the refused combination
// (crop or shift augmentation with resize = cv2) as one config error.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/config.h"
#include "gesture/errors.h"
#include "gesture/frame_image.h"
#include "gesture/image.h"
#include "testutil.h"

static const char *FX;

static uint8_t *read_png(const char *name, int *w, int *h) {
    uint8_t *buf = NULL;
    size_t cap = 0;
    if (gs_frame_image_read_rgb8_into(&buf, &cap, w, h, test_path(FX, name)) != 0)
        gs_fatal("%s (run scripts/make_cv2_fixtures.py)", gs_last_error());
    return buf;
}

static void test_pixels(void) {
    static const struct { int w, h, s; } cases[] = {{160, 120, 224}, {160, 120, 96}, {160, 120, 42}, {160, 120, 34},
                                                    {360, 360, 224}, {360, 360, 96}, {360, 360, 42}, {360, 360, 180}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int W, H, ew, eh;
        char name[64];
        snprintf(name, sizeof name, "frame_%dx%d.png", cases[i].w, cases[i].h);
        uint8_t *src = read_png(name, &W, &H);
        snprintf(name, sizeof name, "cv2_%dx%d_to_%d.png", cases[i].w, cases[i].h, cases[i].s);
        uint8_t *want = read_png(name, &ew, &eh);
        int S = cases[i].s;
        size_t n = (size_t)S * S * 3;
        uint8_t *got = gs_malloc(n);
        image_resize_rgb8_cv2(got, src, W, H, S, S);
        size_t diff = 0;
        for (size_t k = 0; k < n; k++) diff += got[k] != want[k];
        check(W == cases[i].w && H == cases[i].h && ew == S && eh == S && diff == 0,
              "cv2 INTER_LINEAR %dx%d -> %dx%d: %zu of %zu bytes differ from cv2.resize", W, H, S, S, diff, n);

        // the loader's float path with resize = cv2: exactly the seed's frame.astype(float32) / 255
        float *x = gs_malloc(n * sizeof(float)), *flip = gs_malloc(n * sizeof(float));
        gs_resize_params p = image_resize_params(W, H, GS_NORMALIZE_UNIT);
        p.resize = GS_RESIZE_CV2;
        image_resize_rgb8(x, src, W, H, S, S, &p);
        p.flip = 1;
        image_resize_rgb8(flip, src, W, H, S, S, &p);
        int exact = 1, mirrored = 1;
        for (int y = 0; y < S; y++)
            for (int xx = 0; xx < S; xx++)
                for (int c = 0; c < 3; c++) {
                    size_t k = ((size_t)y * S + xx) * 3 + c, km = ((size_t)y * S + (S - 1 - xx)) * 3 + c;
                    exact &= x[k] == (float)want[k] / 255.0f;
                    mirrored &= flip[k] == x[km];
                }
        check(exact && mirrored, "%dx%d -> %d as floats: v/255 exactly (%s), flip mirrors the columns (%s)", W, H, S,
              exact ? "yes" : "no", mirrored ? "yes" : "no");
        if (S == 96) {
            p.flip = 0;
            p.normalize = GS_NORMALIZE_SYMMETRIC;
            image_resize_rgb8(flip, src, W, H, S, S, &p);
            int sym = 1;
            for (size_t k = 0; k < n; k++) sym &= flip[k] == (float)want[k] / 127.5f - 1.0f;
            p.normalize = GS_NORMALIZE_UNIT;
            p.brightness = 0.1f;
            p.contrast = 1.2f;
            image_resize_rgb8(flip, src, W, H, S, S, &p);
            int photo = 1;
            for (size_t k = 0; k < n; k++) {
                float u = ((float)want[k] / 255.0f - 0.5f) * 1.2f + 0.5f + 0.1f;
                photo &= flip[k] == (u < 0 ? 0 : u > 1 ? 1 : u);
            }
            // the float path differs by less than one uint8 step (what rounding to uint8 moves)
            p = image_resize_params(W, H, GS_NORMALIZE_UNIT);
            image_resize_rgb8(flip, src, W, H, S, S, &p);
            double dmax = 0;
            for (size_t k = 0; k < n; k++) {
                double d = flip[k] > x[k] ? flip[k] - x[k] : x[k] - flip[k];
                if (d > dmax) dmax = d;
            }
            check(sym && photo && dmax > 0 && dmax < 1.5 / 255,
                  "%dx%d -> %d: symmetric = v/127.5 - 1, brightness/contrast after /255; float path within %.3g "
                  "(%.2f steps of 1/255)", W, H, S, dmax, dmax * 255);
        }
        free(x);
        free(flip);
        free(got);
        free(src);
        free(want);
    }
}

// Edge cases against the float path's sampling rule: identity size, 1-pixel images, upscale of a constant.
static void test_edges(void) {
    uint8_t src[4 * 3 * 3], out[8 * 6 * 3];
    for (size_t k = 0; k < sizeof src; k++) src[k] = (uint8_t)(37 * k + 11);
    image_resize_rgb8_cv2(out, src, 4, 3, 4, 3);
    check(!memcmp(out, src, sizeof src), "same size: the pixels unchanged");
    uint8_t one[3] = {200, 7, 99}, big[5 * 4 * 3];
    image_resize_rgb8_cv2(big, one, 1, 1, 5, 4);
    int same = 1;
    for (int k = 0; k < 20; k++) same &= big[3 * k] == 200 && big[3 * k + 1] == 7 && big[3 * k + 2] == 99;
    check(same, "a 1x1 image upscaled: every pixel the source pixel");
    uint8_t flat[6 * 5 * 3];
    memset(flat, 173, sizeof flat);
    image_resize_rgb8_cv2(out, flat, 6, 5, 8, 6);
    same = 1;
    for (size_t k = 0; k < 8 * 6 * 3; k++) same &= out[k] == 173;
    check(same, "a constant image stays constant (weights sum to 2048 or rounding brings it back)");
}

static void test_config(void) {
    gs_config c;
    config_defaults(&c);
    check(c.data.resize == GS_RESIZE_FLOAT, "data.resize defaults to float (older configs and checkpoints)");
    check(config_set(&c, "data.resize=cv2") == 0 && config_validate(&c) == 0 && c.data.resize == GS_RESIZE_CV2,
          "data.resize = cv2 parses");
    check(config_set(&c, "data.augment_flip=on") == 0 && config_set(&c, "data.augment_brightness=0.2") == 0 &&
              config_validate(&c) == 0,
          "cv2 with flip and brightness: accepted");
    check(config_set(&c, "data.augment_shift=0.1") == 0 && config_validate(&c) == -1 &&
              strstr(gs_last_error(), "data.resize = cv2") && strstr(gs_last_error(), "augment_shift = 0.1") &&
              !strchr(gs_last_error(), '\n'),
          "cv2 with shift: refused in one line (%s)", gs_last_error());
    config_set(&c, "data.augment_shift=0");
    check(config_set(&c, "data.augment_crop_scale=0.2") == 0 && config_validate(&c) == -1 &&
              strstr(gs_last_error(), "augment_crop_scale = 0.2"),
          "cv2 with crop: refused");
    check(config_set(&c, "data.resize=bicubic") == -1 && strstr(gs_last_error(), "cv2"),
          "an unknown resize names the choices (%s)", gs_last_error());
}

int main(void) {
    FX = test_path(test_source_dir(), "tests/fixtures/cv2");
    test_pixels();
    test_edges();
    test_config();
    return test_finish();
}
