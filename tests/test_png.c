// PNG decoding and frame resizing against independent references (scripts/make_png_fixtures.py):
// every colour type / bit depth / interlace variant written by PIL or a separate Python encoder
// must decode to the exact expected RGB8 pixels; every kind of broken file must fail with its own
// message naming the file; resize must match PyTorch's bilinear (half-pixel, border) within 1/255.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gesture/errors.h"
#include "gesture/image.h"
#include "gesture/png.h"
#include "testutil.h"

static const char *VARIANTS[] = {
    "rgb8",         "rgba8",           "gray8",         "gray_alpha8",      "gray1",
    "palette8",     "palette8_trns",   "gray8_trns",    "rgb8_trns",   "gray16",        "rgb8_tiny",        "rgb8_wide",
    "gray2",        "gray4",           "palette1",      "palette2",         "palette4",
    "rgb16",        "rgba16",          "gray_alpha16",  "rgb8_interlaced",  "rgba8_interlaced",
    "palette4_interlaced", "gray16_interlaced", "gray1_interlaced", "rgb8_interlaced_small",
};

// Each broken file and the part of the message that identifies its kind.
static const struct {
    const char *file, *expect;
} BAD[] = {
    {"bad_missing.png", "cannot open: No such file"},
    {"bad_empty.png", "empty file"},
    {"bad_not_png.png", "not a PNG file (bad signature)"},
    {"bad_short_signature.png", "truncated PNG signature"},
    {"bad_truncated_idat.png", "truncated PNG (unexpected end of file)"},
    {"bad_crc_ihdr.png", "IHDR: CRC error"},
    {"bad_zero_width.png", "Image width is zero"},
    {"bad_bad_depth.png", "bit depth"},
    {"bad_huge.png", "exceeds user limit"},
    {"bad_no_idat.png", "IEND: out of place"},
    {"bad_short_idat.png", "Not enough image data"},
    {"bad_no_plte.png", "Missing PLTE"},
    {"bad_bad_zlib.png", "IDAT: incorrect header check"},
    {"bad_bad_filter.png", "bad adaptive filter value"},
    {"bad_directory.png", "is a directory"},
};
enum { N_BAD = sizeof BAD / sizeof BAD[0] };

static void test_variants(void) {
    char h5[4096];
    snprintf(h5, sizeof h5, "%s", fx_path("png/expected.h5"));
    for (size_t v = 0; v < sizeof VARIANTS / sizeof VARIANTS[0]; v++) {
        char path[4096], name[128];
        snprintf(path, sizeof path, "%s/ok_%s.png", fx_path("png"), VARIANTS[v]);
        snprintf(name, sizeof name, "/%s", VARIANTS[v]);
        int nd;
        long shape[8];
        double *want = fx_read(h5, name, &nd, shape);
        uint8_t *rgb;
        int w, h;
        int rc = gs_png_read_rgb8(&rgb, &w, &h, path);
        if (!check(rc == 0, "%s decodes (%s)", VARIANTS[v], rc ? gs_last_error() : "ok")) {
            free(want);
            continue;
        }
        int same_shape = nd == 3 && shape[0] == h && shape[1] == w && shape[2] == 3;
        size_t bad = 0, n = (size_t)w * h * 3;
        for (size_t i = 0; same_shape && i < n; i++) bad += rgb[i] != (uint8_t)want[i];
        check(same_shape && bad == 0, "%s: %dx%d, %zu of %zu bytes differ", VARIANTS[v], w, h, same_shape ? bad : n, n);
        int sw, sh;
        check(gs_png_read_size(&sw, &sh, path) == 0 && sw == w && sh == h, "%s: header size %dx%d", VARIANTS[v], sw, sh);
        free(rgb);
        free(want);
    }
}

static void test_bad_files(void) {
    char msgs[N_BAD][1024];
    for (int i = 0; i < N_BAD; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", fx_path("png"), BAD[i].file);
        uint8_t *rgb = (uint8_t *)1;
        int w = -7, h = -7;
        int rc = gs_png_read_rgb8(&rgb, &w, &h, path);
        snprintf(msgs[i], sizeof msgs[i], "%s", gs_last_error());
        check(rc == -1 && rgb == NULL && strstr(msgs[i], path) && strstr(msgs[i], BAD[i].expect),
              "%s fails with its message: \"%s\"", BAD[i].file, msgs[i]);
        // The into-variant keeps the caller's buffer valid on failure.
        uint8_t *buf = NULL;
        size_t cap = 0;
        rc = gs_png_read_rgb8_into(&buf, &cap, &w, &h, path);
        check(rc == -1 && (buf == NULL) == (cap == 0), "%s: _into fails cleanly", BAD[i].file);
        free(buf);
    }
    int distinct = 1;
    for (int i = 0; i < N_BAD; i++)
        for (int j = 0; j < i; j++) {
            // Compare with the path removed: only the kind-specific text counts.
            const char *a = msgs[i] + strlen(fx_path("png")) + strlen(BAD[i].file) + 1;
            const char *b = msgs[j] + strlen(fx_path("png")) + strlen(BAD[j].file) + 1;
            if (!strcmp(a, b)) distinct = 0;
        }
    check(distinct, "%d kinds of bad input give %d distinct messages", N_BAD, N_BAD);
}

static void test_write_roundtrip(void) {
    int w = 41, h = 17;
    uint8_t *img = gs_malloc((size_t)w * h * 3);
    for (int i = 0; i < w * h * 3; i++) img[i] = (uint8_t)(i * 37 + i / 7);
    char path[] = "/tmp/gesture_test_png_XXXXXX";
    int fd = mkstemp(path);
    GS_ASSERT(fd >= 0);
    close(fd);
    for (int level = 0; level <= 9; level += 3) {
        uint8_t *back = NULL;
        int bw = 0, bh = 0;
        int ok = gs_png_write_rgb8(path, img, w, h, level) == 0 && gs_png_read_rgb8(&back, &bw, &bh, path) == 0;
        check(ok && bw == w && bh == h && !memcmp(back, img, (size_t)w * h * 3), "write/read roundtrip at level %d", level);
        free(back);
    }
    check(gs_png_write_rgb8("/nonexistent_dir/x.png", img, w, h, 1) == -1 && strstr(gs_last_error(), "/nonexistent_dir"),
          "write to a missing directory fails naming it");
    remove(path);
    free(img);
}

static void test_resize(void) {
    char h5[4096];
    snprintf(h5, sizeof h5, "%s", fx_path("resize_ref.h5"));
    int *count = fx_read_int(h5, "/count", NULL);
    for (int k = 0; k < count[0]; k++) {
        char name[64];
        long shape[8];
        snprintf(name, sizeof name, "/src_%d", k);
        double *src_d = fx_read(h5, name, NULL, shape);
        int H = (int)shape[0], W = (int)shape[1];
        uint8_t *src = gs_malloc((size_t)W * H * 3);
        for (size_t i = 0; i < (size_t)W * H * 3; i++) src[i] = (uint8_t)src_d[i];
        snprintf(name, sizeof name, "/params_%d", k);
        double *pr = fx_read(h5, name, NULL, NULL);
        snprintf(name, sizeof name, "/out_%d", k);
        double *want = fx_read(h5, name, NULL, NULL);
        int ow = (int)pr[5], oh = (int)pr[6];
        gs_resize_params p = image_resize_params(W, H, GS_NORMALIZE_UNIT);
        p.x0 = (float)pr[0];
        p.y0 = (float)pr[1];
        p.cw = (float)pr[2];
        p.ch = (float)pr[3];
        p.flip = (int)pr[4];
        float *out = gs_malloc((size_t)ow * oh * 3 * sizeof(float));
        image_resize_rgb8(out, src, W, H, ow, oh, &p);
        char what[128];
        snprintf(what, sizeof what, "resize %dx%d -> %dx%d window(%g,%g,%g,%g) flip %d vs torch", W, H, ow, oh,
                 pr[0], pr[1], pr[2], pr[3], (int)pr[4]);
        check_close(what, out, want, (size_t)ow * oh * 3, 1.0 / 255);
        // Symmetric normalization is the same sample mapped to [-1,1].
        p.normalize = GS_NORMALIZE_SYMMETRIC;
        float *sym = gs_malloc((size_t)ow * oh * 3 * sizeof(float));
        image_resize_rgb8(sym, src, W, H, ow, oh, &p);
        double maxd = 0;
        for (size_t i = 0; i < (size_t)ow * oh * 3; i++) maxd = fmax(maxd, fabs(sym[i] - (2.0 * out[i] - 1.0)));
        check(maxd < 1e-5, "symmetric = 2*unit-1 (max diff %.2g)", maxd);
        free(sym);
        free(out);
        free(want);
        free(pr);
        free(src);
        free(src_d);
    }
    free(count);

    // Photometric transform: brightness/contrast act in [0,1] and clamp there.
    uint8_t px[3 * 4] = {0, 64, 128, 255, 10, 20, 30, 40, 200, 210, 220, 230};
    float out[12];
    gs_resize_params p = image_resize_params(2, 2, GS_NORMALIZE_UNIT);
    p.brightness = 0.1f;
    p.contrast = 1.5f;
    image_resize_rgb8(out, px, 2, 2, 2, 2, &p);
    double maxd = 0;
    for (int i = 0; i < 12; i++) {
        double u = (px[i] / 255.0 - 0.5) * 1.5 + 0.5 + 0.1;
        u = u < 0 ? 0 : (u > 1 ? 1 : u);
        maxd = fmax(maxd, fabs(out[i] - u));
    }
    check(maxd < 1e-6, "brightness/contrast with clamping (max diff %.2g)", maxd);
}

int main(void) {
    test_variants();
    test_bad_files();
    test_write_roundtrip();
    test_resize();
    return test_finish();
}
