// Video files through FFmpeg: our writer's lossless FFV1 decodes back to the exact frames at i/fps;
// our decoding equals the `ffmpeg` CLI's own rawvideo output (the reference) for FFV1 and H.264 files
// it made; a variable frame rate file gives its timestamps; every writer format (odd sizes too)
// decodes to the frames within a per-codec error; video_read_all resamples.
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"
#include "gesture/synth.h"
#include "gesture/video.h"
#include "testutil.h"

enum { N = 12 };

// N synthetic frames (h,w,3) of a moving swipe, contiguous.
static uint8_t *make_frames(int w, int h) {
    uint8_t *f = gs_malloc((size_t)N * w * h * 3);
    for (int t = 0; t < N; t++) synth_render_frame(f + (size_t)t * w * h * 3, w, h, 1, 3, t, N, 11);
    return f;
}

// Run a shell command built from a printf format.
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...) {
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

// Every frame of path as decoded by us: frames (n,h,w,3), times (n).
static int decode(uint8_t **frames, double **times, int *n, int *w, int *h, const char *path) {
    return video_read_all(frames, times, n, w, h, path, 0);
}

// The ffmpeg CLI's RGB24 decoding of path (same swscale flags as ours), *n bytes.
static uint8_t *ffmpeg_decode(const char *path, const char *dir, size_t *n) {
    const char *out = test_path(dir, "ffmpeg.rgb");
    if (sh("ffmpeg -v error -y -i '%s' -sws_flags bilinear+accurate_rnd+bitexact -f rawvideo -pix_fmt rgb24 '%s'", path,
           out) != 0)
        return NULL;
    char *b = test_read_text(out, n);
    return (uint8_t *)b;
}

static double mean_abs_diff(const uint8_t *a, const uint8_t *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += abs((int)a[i] - (int)b[i]);
    return s / (double)n;
}

static int write_video(const char *path, const uint8_t *frames, int w, int h, double fps, int lossless) {
    gs_video_writer *vw;
    if (video_writer_open(&vw, path, w, h, fps, lossless) != 0) return -1;
    for (int t = 0; t < N; t++)
        if (video_writer_write(vw, frames + (size_t)t * w * h * 3) != 0) {
            video_writer_abort(vw);
            return -1;
        }
    return video_writer_close(vw);
}

static void test_lossless(const char *dir) {
    int W = 37, H = 29;  // odd sides
    uint8_t *src = make_frames(W, H);
    const char *path = test_path(dir, "lossless.mkv");
    int rc = write_video(path, src, W, H, 30, 1);
    check(rc == 0 && test_file_size(test_path(dir, "lossless.mkv.tmp")) < 0, "lossless .mkv written, no .tmp left (%s)",
          rc ? gs_last_error() : "ok");
    uint8_t *got;
    double *t;
    int n, w, h;
    rc = decode(&got, &t, &n, &w, &h, path);
    check(rc == 0 && n == N && w == W && h == H, "FFV1: %d frames of %dx%d back (got %d, %dx%d) %s", N, W, H, n, w, h,
          rc ? gs_last_error() : "");
    if (rc == 0 && n == N) {
        check(!memcmp(got, src, (size_t)N * W * H * 3), "FFV1: the exact frames back");
        double err = 0;
        for (int i = 0; i < N; i++) err = fmax(err, fabs(t[i] - i / 30.0));
        check(err < 1.5e-3, "FFV1: frame times i/30 within the container's 1 ms clock (max err %.2g s)", err);
        size_t nb = 0;
        uint8_t *ref = ffmpeg_decode(path, dir, &nb);
        check(ref && nb == (size_t)N * W * H * 3 && !memcmp(ref, got, nb), "FFV1: equal to the ffmpeg CLI's decoding");
        free(ref);
    }
    free(got);
    free(t);
    free(src);
}

// Files made by the ffmpeg CLI from raw frames decode like the ffmpeg CLI decodes them.
static void test_ffmpeg_made(const char *dir) {
    int W = 64, H = 48;
    uint8_t *src = make_frames(W, H);
    const char *raw = test_path(dir, "src.rgb");
    FILE *f = fopen(raw, "wb");
    GS_ASSERT(f && fwrite(src, 1, (size_t)N * W * H * 3, f) == (size_t)N * W * H * 3 && fclose(f) == 0);
    static const struct {
        const char *name, *args;
        int exact;  // decodes to the source frames themselves
    } V[] = {
        {"x264rgb.mp4", "-c:v libx264rgb -qp 0 -pix_fmt rgb24", 1},
        {"x264_444.mp4", "-c:v libx264 -qp 0 -pix_fmt yuv444p", 0},
        {"x264_420.mp4", "-c:v libx264 -crf 23 -pix_fmt yuv420p", 0},
        {"vp9.webm", "-c:v libvpx-vp9 -crf 30 -b:v 0 -pix_fmt yuv420p", 0},
        {"mjpeg.avi", "-c:v mjpeg -q:v 3 -pix_fmt yuvj420p", 0},
    };
    for (size_t k = 0; k < sizeof V / sizeof V[0]; k++) {
        const char *path = test_path(dir, V[k].name);
        if (sh("ffmpeg -v error -y -f rawvideo -pix_fmt rgb24 -s %dx%d -r 30 -i '%s' %s '%s'", W, H, raw, V[k].args,
               path) != 0) {
            check(0, "ffmpeg made %s", V[k].name);
            continue;
        }
        uint8_t *got;
        double *t;
        int n, w, h;
        int rc = decode(&got, &t, &n, &w, &h, path);
        size_t nb = 0;
        uint8_t *ref = rc == 0 ? ffmpeg_decode(path, dir, &nb) : NULL;
        check(rc == 0 && n == N && w == W && h == H && ref && nb == (size_t)n * W * H * 3 && !memcmp(ref, got, nb),
              "%s: our decoding = the ffmpeg CLI's (%d frames) %s", V[k].name, n, rc ? gs_last_error() : "");
        if (V[k].exact && rc == 0)
            check(n == N && !memcmp(got, src, (size_t)N * W * H * 3), "%s: the exact source frames", V[k].name);
        if (rc == 0) free(got), free(t);
        free(ref);
    }
    free(src);
}

static void test_vfr(const char *dir) {
    int W = 32, H = 24;
    uint8_t *src = make_frames(W, H);
    const char *raw = test_path(dir, "vfr.rgb"), *path = test_path(dir, "vfr.mkv");
    FILE *f = fopen(raw, "wb");
    GS_ASSERT(f && fwrite(src, 1, (size_t)N * W * H * 3, f) == (size_t)N * W * H * 3 && fclose(f) == 0);
    // 6 frames 40 ms apart, then 6 frames 100 ms apart
    int rc = sh("ffmpeg -v error -y -f rawvideo -pix_fmt rgb24 -s 32x24 -r 50 -i '%s' "
                "-vf \"setpts='if(lt(N,6),N*0.04,0.2+(N-5)*0.1)/TB'\" -fps_mode passthrough -c:v ffv1 '%s'",
                raw, path);
    uint8_t *got;
    double *t;
    int n, w, h;
    if (rc != 0 || decode(&got, &t, &n, &w, &h, path) != 0) {
        check(0, "variable frame rate file made and decoded (%s)", gs_last_error());
        free(src);
        return;
    }
    double err = n == N ? 0 : 1;
    for (int i = 0; i < n && i < N; i++) err = fmax(err, fabs(t[i] - (i < 6 ? i * 0.04 : 0.2 + (i - 5) * 0.1)));
    check(err < 1.5e-3 && !memcmp(got, src, (size_t)N * W * H * 3),
          "variable frame rate: 40 ms then 100 ms steps, exact frames (max time err %.2g s)", err);
    free(got);
    free(t);
    // resampled at 8 fps (grid 0.125 s): the frame at or just before (by less than half a source
    // frame) each grid point, else the next one; grid points in the gaps are not filled twice
    rc = video_read_all(&got, &t, &n, &w, &h, path, 8);
    int ok = rc == 0 && n == 7;
    const double want[] = {0, 0.12, 0.3, 0.4, 0.5, 0.7, 0.8};
    for (int i = 0; ok && i < n; i++) ok = fabs(t[i] - want[i]) < 1.5e-3;
    check(ok, "video_read_all at 8 fps follows the timestamps (%d frames)", n);
    if (rc == 0) free(got), free(t);
    free(src);
}

// Each writer format at an even and an odd size: N frames of the size back, mean |error| bounded.
static void test_writer_formats(const char *dir) {
    static const struct {
        const char *ext;
        double tol;  // mean |error| per byte of 255: measured 4.7, 4.7, 4.9, 5.6, 16.1 (noisy tiny frames)
    } F[] = {{"mp4", 6}, {"mkv", 6}, {"avi", 6.5}, {"webm", 7.5}, {"gif", 20}};
    static const int SIZES[][2] = {{64, 48}, {45, 33}};
    for (size_t k = 0; k < sizeof F / sizeof F[0]; k++)
        for (int z = 0; z < 2; z++) {
            int W = SIZES[z][0], H = SIZES[z][1];
            uint8_t *src = make_frames(W, H);
            char name[64];
            snprintf(name, sizeof name, "w%dx%d.%s", W, H, F[k].ext);
            const char *path = test_path(dir, name);
            uint8_t *got = NULL;
            double *t = NULL;
            int n = 0, w = 0, h = 0;
            int rc = write_video(path, src, W, H, 30, 0);
            if (rc == 0) rc = decode(&got, &t, &n, &w, &h, path);
            double e = rc == 0 && n == N && w == W && h == H ? mean_abs_diff(got, src, (size_t)N * W * H * 3) : 999;
            check(e <= F[k].tol, "writer %s %dx%d: %d frames back, mean |err| %.2f <= %g %s", F[k].ext, W, H, n, e,
                  F[k].tol, rc ? gs_last_error() : "");
            free(got);
            free(t);
            free(src);
        }
    gs_video_writer *vw;
    check(video_writer_open(&vw, test_path(dir, "x.mp4"), 8, 8, 30, 1) == -1 && strstr(gs_last_error(), "needs .mkv"),
          "lossless .mp4 refused: %s", gs_last_error());
    check(video_writer_open(&vw, test_path(dir, "x.png"), 8, 8, 30, 0) == -1 && strstr(gs_last_error(), "unknown video extension"),
          "unknown extension refused: %s", gs_last_error());
}

int main(void) {
    if (system("ffmpeg -version >/dev/null 2>&1") != 0) test_skip("no ffmpeg CLI (scripts/setup.sh installs it)");
    const char *dir = test_make_tmpdir("video");
    test_lossless(dir);
    test_ffmpeg_made(dir);
    test_vfr(dir);
    test_writer_formats(dir);
    return test_finish();
}
