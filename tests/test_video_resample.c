// gs_resampler (which source frames the model sees at 30/60/24 fps and variable rates, with
// millisecond-rounded timestamps), the raw RGB24 source (file, stdin, FIFO, a short last frame,
// missing size) and a camera that is not there.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gesture/errors.h"
#include "gesture/fsutil.h"
#include "gesture/video.h"
#include "testutil.h"

// Indices of the frames at times t[0..n) the resampler takes, as "0,2,4".
static void taken(char *out, size_t cap, const double *t, int n, double model_fps, double src_fps) {
    gs_resampler r;
    resampler_init(&r, model_fps, src_fps);
    out[0] = 0;
    for (int i = 0; i < n; i++)
        if (resampler_take(&r, t[i])) snprintf(out + strlen(out), cap - strlen(out), "%s%d", out[0] ? "," : "", i);
}

static void check_rate(double src, double model, int n, int ms_rounded, const char *want) {
    double t[128];
    for (int i = 0; i < n; i++) t[i] = ms_rounded ? (double)(long)(i * 1000.0 / src + 0.5) / 1000.0 : i / src;
    char got[1024];
    taken(got, sizeof got, t, n, model, src);
    check(!strcmp(got, want), "%g fps at %g%s takes %s (got %s)", src, model, ms_rounded ? " (ms timestamps)" : "", want, got);
}

static void test_resampler(void) {
    check_rate(30, 15, 12, 0, "0,2,4,6,8,10");
    check_rate(30, 15, 12, 1, "0,2,4,6,8,10");
    check_rate(60, 15, 13, 0, "0,4,8,12");
    check_rate(60, 15, 13, 1, "0,4,8,12");
    check_rate(30, 10, 10, 1, "0,3,6,9");
    check_rate(15, 15, 5, 0, "0,1,2,3,4");
    check_rate(10, 15, 4, 0, "0,1,2,3");  // a slower source: every frame, no frame twice
    // 24 at 15: grid k/15 = frame 1.6k; the nearest frame (within half a source frame) is taken
    check_rate(24, 15, 25, 0, "0,2,3,5,6,8,10,11,13,14,16,18,19,21,22,24");
    // variable rate: 25 fps, then 10 fps, a gap, then 30 fps; follows the timestamps
    double vfr[] = {0, .04, .08, .12, .2, .3, .4, 1.0, 1.0333, 1.0667, 1.1, 1.1333};
    char got[256];
    taken(got, sizeof got, vfr, 12, 15, 25);
    check(!strcmp(got, "0,2,3,4,5,6,7,9,11"), "variable frame rate follows timestamps (got %s)", got);
}

static void write_bytes(const char *path, const uint8_t *p, size_t n) {
    FILE *f = fopen(path, "wb");
    GS_ASSERT(f && fwrite(p, 1, n, f) == n && fclose(f) == 0);
}

// Reads every frame of a raw source; returns frames read, *rc the last source_read result.
static int read_raw(const gs_source_args *a, const uint8_t *want, int *rc, int *live) {
    gs_source *s;
    if (source_open(&s, a) != 0) {
        *rc = -2;
        return 0;
    }
    *live = source_is_live(s);
    gs_frame f;
    int n = 0;
    while ((*rc = source_read(s, &f)) == 1) {
        int same = f.w == a->width && f.h == a->height && !memcmp(f.rgb, want + (size_t)n * a->width * a->height * 3,
                                                               (size_t)a->width * a->height * 3);
        same &= f.t > n / a->fps - 1e-12 && f.t < n / a->fps + 1e-12 && f.index == n;
        if (!same) break;
        n++;
    }
    source_close(s);
    return n;
}

static void test_raw(const char *dir) {
    enum { W = 5, H = 3, N = 4 };
    uint8_t px[N * W * H * 3 + 10];
    for (size_t i = 0; i < sizeof px; i++) px[i] = (uint8_t)(i * 7 + 3);
    const char *full = test_path(dir, "full.rgb"), *shrt = test_path(dir, "short.rgb");
    write_bytes(full, px, (size_t)N * W * H * 3);
    write_bytes(shrt, px, (size_t)N * W * H * 3 + 10);
    gs_source_args a = {.path = full, .raw = 1, .width = W, .height = H, .fps = 12.5};
    int rc, live = -1;
    int n = read_raw(&a, px, &rc, &live);
    check(n == N && rc == 0 && live == 0, "raw file: %d frames of %dx%d at i/fps, then the end (got %d, rc %d, live %d)", N,
          W, H, n, rc, live);
    a.path = shrt;
    n = read_raw(&a, px, &rc, &live);
    check(n == N && rc == -1 && strstr(gs_last_error(), shrt) && strstr(gs_last_error(), "frame 4 is short"),
          "raw file with a short last frame: error naming it (%s)", gs_last_error());
    // "-" reads stdin
    int saved = dup(0), fd = open(shrt, O_RDONLY);
    GS_ASSERT(saved >= 0 && fd >= 0 && dup2(fd, 0) == 0);
    close(fd);
    a.path = "-";
    a.raw = 0;
    n = read_raw(&a, px, &rc, &live);
    check(n == N && rc == -1 && !strncmp(gs_last_error(), "-: frame 4 is short", 19),
          "stdin with a short last frame: %d frames, then '-: frame 4 is short' (%s)", n, gs_last_error());
    dup2(saved, 0);
    close(saved);
    gs_source_args none = {.path = "-"};
    gs_source *s;
    check(source_open(&s, &none) == -1 && strstr(gs_last_error(), "--size WxH and --fps F"),
          "raw without size and fps: %s", gs_last_error());
    // a FIFO is live
    const char *fifo = test_path(dir, "fifo");
    GS_ASSERT(mkfifo(fifo, 0600) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        int w = open(fifo, O_WRONLY);
        ssize_t k = write(w, px, (size_t)2 * W * H * 3);
        _exit(k == 2 * W * H * 3 ? 0 : 1);
    }
    a.path = fifo;
    a.raw = 1;
    n = read_raw(&a, px, &rc, &live);
    check(n == 2 && rc == 0 && live == 1, "raw FIFO: live, 2 frames then the end (got %d, live %d)", n, live);
}

static void test_camera(void) {
    gs_source_args a = {.path = "/dev/video9"};
    gs_source *s;
    int rc = source_open(&s, &a);
    check(rc == -1 && !strncmp(gs_last_error(), "/dev/video9: no such camera", 27), "missing camera: %s", gs_last_error());
    a.path = "v4l2:/dev/video9";
    rc = source_open(&s, &a);
    check(rc == -1 && strstr(gs_last_error(), "v4l2:/dev/video9"), "missing v4l2: camera: %s", gs_last_error());
}

int main(void) {
    const char *dir = test_make_tmpdir("video_resample");
    test_resampler();
    test_raw(dir);
    test_camera();
    return test_finish();
}
