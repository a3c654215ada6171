// JPEG decoding through the frame front against libjpeg-turbo's own djpeg (scripts/make_jpeg_fixtures.py):
// every flavour (subsampling, progressive, arithmetic, restarts, gray, odd sizes, big APPn headers)
// must decode to djpeg's exact pixels, whatever the file is named; every kind of broken file must fail
// with its own message naming the file; the writer must round-trip; frame names are recognized.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gesture/errors.h"
#include "gesture/frame_image.h"
#include "gesture/jpeg.h"
#include "testutil.h"

// Fixture file (under jpeg/) and the name of its expected pixels in expected.h5.
static const struct {
    const char *file, *name;
} GOOD[] = {
    {"ok_baseline_420.jpg", "baseline_420"},
    {"ok_s422.jpg", "s422"},
    {"ok_s444.jpg", "s444"},
    {"ok_s440.jpg", "s440"},
    {"ok_s411.jpg", "s411"},
    {"ok_s3x1.jpg", "s3x1"},
    {"ok_mixed_chroma.jpg", "mixed_chroma"},
    {"ok_progressive.jpg", "progressive"},
    {"ok_progressive_gray.jpg", "progressive_gray"},
    {"ok_gray.jpg", "gray"},
    {"ok_tiny_1x1.jpg", "tiny_1x1"},
    {"ok_odd_17x9.jpg", "odd_17x9"},
    {"ok_q50.jpg", "q50"},
    {"ok_q100.jpg", "q100"},
    {"ok_optimized.jpg", "optimized"},
    {"ok_restart_rows.jpg", "restart_rows"},
    {"ok_restart_blocks.jpg", "restart_blocks"},
    {"ok_arithmetic.jpg", "arithmetic"},
    {"ok_big_header.jpg", "big_header"},
    {"ok_jpeg_named_png.png", "jpeg_named_png"},
    {"ok_png_named_jpg.jpg", "png_named_jpg"},
};
enum { N_GOOD = sizeof GOOD / sizeof GOOD[0] };

// Each broken file, the part of the message that identifies its kind, and whether the header read
// (gs_frame_image_read_size) must already fail (else only the full decode sees the damage).
static const struct {
    const char *file, *expect;
    int header;
} BAD[] = {
    {"bad_missing.jpg", "cannot open: No such file", 1},
    {"bad_empty.jpg", "empty file (0 bytes)", 1},
    {"bad_directory.jpg", "is a directory", 1},
    {"bad_not_image.jpg", "not a PNG or JPEG image", 1},
    {"bad_soi_only.jpg", "truncated JPEG (no frame header before the end of the data)", 1},
    {"bad_truncated_header.jpg", "truncated JPEG (no frame header before the end of the data)", 1},
    {"bad_truncated_tables.jpg", "corrupt JPEG: Invalid JPEG file structure: missing SOS marker", 1},
    {"bad_truncated_at_scan.jpg", "truncated JPEG (Premature end of JPEG file)", 0},
    {"bad_truncated_half.jpg", "truncated JPEG (Premature end of JPEG file)", 0},
    {"bad_no_eoi.jpg", "truncated JPEG (Premature end of JPEG file)", 0},
    {"bad_sof_lossless.jpg", "Unsupported JPEG process: SOF type 0xc3", 1},
    {"bad_marker_length.jpg", "extraneous bytes before marker 0xdb", 1},
    {"bad_entropy.jpg", "corrupt JPEG: Corrupt JPEG data", 0},
    {"bad_huge.jpg", "JPEG too large (20000x20000; at most 16384 per side)", 1},
    {"bad_zero_width.jpg", "Empty JPEG image", 1},
    {"bad_cmyk.jpg", "CMYK JPEG is not supported", 1},
    {"bad_png_truncated.jpg", "truncated PNG (unexpected end of file)", 0},
};
enum { N_BAD = sizeof BAD / sizeof BAD[0] };

static void fixture(char *path, size_t n, const char *file) { snprintf(path, n, "%s/%s", fx_path("jpeg"), file); }

static void test_good(void) {
    char h5[4096];
    snprintf(h5, sizeof h5, "%s", fx_path("jpeg/expected.h5"));
    uint8_t *buf = NULL;  // one growing buffer for all files, as a loader worker keeps
    size_t cap = 0;
    for (int v = 0; v < N_GOOD; v++) {
        char path[4096], name[128];
        fixture(path, sizeof path, GOOD[v].file);
        snprintf(name, sizeof name, "/%s", GOOD[v].name);
        int nd;
        long shape[8];
        double *want = fx_read(h5, name, &nd, shape);
        int w = 0, h = 0;
        int rc = gs_frame_image_read_rgb8_into(&buf, &cap, &w, &h, path);
        if (!check(rc == 0, "%s decodes (%s)", GOOD[v].file, rc ? gs_last_error() : "ok")) {
            free(want);
            continue;
        }
        int same_shape = nd == 3 && shape[0] == h && shape[1] == w && shape[2] == 3;
        size_t bad = 0, n = (size_t)w * h * 3;
        for (size_t i = 0; same_shape && i < n; i++) bad += buf[i] != (uint8_t)want[i];
        check(same_shape && bad == 0, "%s: %dx%d, %zu of %zu bytes differ from djpeg", GOOD[v].file, w, h,
              same_shape ? bad : n, n);
        int sw = -1, sh = -1;
        rc = gs_frame_image_read_size(&sw, &sh, path);
        check(rc == 0 && sw == w && sh == h, "%s: header size %dx%d (%s)", GOOD[v].file, sw, sh,
              rc ? gs_last_error() : "ok");
        free(want);
    }
    free(buf);
}

static void test_bad(void) {
    char msgs[N_BAD][1024];
    for (int i = 0; i < N_BAD; i++) {
        char path[4096];
        fixture(path, sizeof path, BAD[i].file);
        uint8_t *buf = NULL;
        size_t cap = 0;
        int w = -7, h = -7;
        int rc = gs_frame_image_read_rgb8_into(&buf, &cap, &w, &h, path);
        snprintf(msgs[i], sizeof msgs[i], "%s", gs_last_error());
        check(rc == -1 && !strncmp(msgs[i], path, strlen(path)) && strstr(msgs[i], BAD[i].expect),
              "%s fails with its message: \"%s\"", BAD[i].file, msgs[i]);
        check((buf == NULL) == (cap == 0) && w == -7 && h == -7, "%s: fails cleanly (buffer valid, size untouched)",
              BAD[i].file);
        free(buf);
        rc = gs_frame_image_read_size(&w, &h, path);
        check(BAD[i].header ? rc == -1 && strstr(gs_last_error(), BAD[i].expect) : rc == 0,
              "%s: header read %s (%s)", BAD[i].file, BAD[i].header ? "fails too" : "passes", rc ? gs_last_error() : "ok");
    }
    // Different kinds give different messages (the path removed: only the kind-specific text counts).
    int distinct = 1;
    for (int i = 0; i < N_BAD; i++)
        for (int j = 0; j < i; j++)
            if (strcmp(BAD[i].expect, BAD[j].expect) &&
                !strcmp(msgs[i] + strlen(fx_path("jpeg")) + strlen(BAD[i].file) + 1,
                        msgs[j] + strlen(fx_path("jpeg")) + strlen(BAD[j].file) + 1))
                distinct = 0;
    check(distinct, "different kinds of bad input give different messages");
}

// A JPEG decoded directly (gs_jpeg_*) and through the front: the same pixels.
static void test_direct(void) {
    char path[4096];
    fixture(path, sizeof path, "ok_progressive.jpg");
    uint8_t *a = NULL, *b = NULL;
    size_t ca = 0, cb = 0;
    int w1, h1, w2, h2;
    int ok = gs_jpeg_read_rgb8_into(&a, &ca, &w1, &h1, path) == 0 &&
             gs_frame_image_read_rgb8_into(&b, &cb, &w2, &h2, path) == 0;
    check(ok && w1 == w2 && h1 == h2 && !memcmp(a, b, (size_t)w1 * h1 * 3), "gs_jpeg_read_rgb8_into = the front");
    fixture(path, sizeof path, "ok_png_named_jpg.jpg");
    check(gs_jpeg_read_size(&w1, &h1, path) == -1 && strstr(gs_last_error(), "corrupt JPEG"),
          "the JPEG reader itself refuses a PNG (%s)", gs_last_error());
    free(a);
    free(b);
}

static void test_write_roundtrip(void) {
    int w = 45, h = 31;  // not a multiple of the 16x16 MCU
    uint8_t *img = gs_malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)  // smooth content: at quality 95 the round trip is close
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) img[((size_t)y * w + x) * 3 + c] = (uint8_t)(60 + 2 * x + y + 30 * c);
    char dir[] = "/tmp/gesture_test_jpeg_XXXXXX";
    GS_ASSERT(mkdtemp(dir));
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/frame.jpg", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    uint8_t *back = NULL;
    size_t cap = 0;
    int bw = 0, bh = 0;
    int ok = gs_jpeg_write_rgb8(path, img, w, h, 95) == 0 && gs_frame_image_read_rgb8_into(&back, &cap, &bw, &bh, path) == 0;
    double err = 0;
    for (size_t i = 0; ok && bw == w && bh == h && i < (size_t)w * h * 3; i++) err += abs((int)back[i] - (int)img[i]);
    err /= (double)w * h * 3;
    check(ok && bw == w && bh == h && err < 2.0, "write/read roundtrip at quality 95: %dx%d, mean |error| %.2f", bw, bh, err);
    check(access(tmp, F_OK) != 0, "no %s left behind", tmp);
    check(gs_jpeg_write_rgb8("/nonexistent_dir/x.jpg", img, w, h, 95) == -1 && strstr(gs_last_error(), "/nonexistent_dir"),
          "write to a missing directory fails naming it");
    remove(path);
    rmdir(dir);
    free(back);
    free(img);
}

static void test_names(void) {
    static const struct {
        const char *name;
        int is_frame;
    } N[] = {{"frame1.png", 1}, {"a.PNG", 1}, {"x.jpg", 1}, {"x.JPG", 1}, {"x.jpeg", 1}, {"x.JpEg", 1},
             {".jpg", 0},       {"x.jpe", 0}, {"x.gif", 0}, {"jpg", 0},   {"x.png.txt", 0}, {"x.tmp", 0}};
    for (size_t i = 0; i < sizeof N / sizeof N[0]; i++)
        check(gs_frame_image_is_name(N[i].name) == N[i].is_frame, "'%s' is %sa frame name", N[i].name,
              N[i].is_frame ? "" : "not ");
}

int main(void) {
    test_good();
    test_bad();
    test_direct();
    test_write_roundtrip();
    test_names();
    return test_finish();
}
