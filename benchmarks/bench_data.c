// Data-path throughput: frames decoded (through gesture/frame_image.h, as the loader reads them: the
// PNGs `make` writes, or JPEGs put in their place) and resized to SxS float (bilinear, unit
// normalization) per second, for 160x120 and 360x360 frames, with 1..N threads. The frames are the
// synthetic gesture renderer's, written once with libpng. benchmarks/peer_data_pil.py runs the same
// job with PIL + numpy and prints both side by side.
//
//   bench_data make DIR [--n N]                  write N frames of each size into DIR/{small,big}
//   bench_data run DIR [--threads K] [--size S] [--passes P]
//       prints one line per frame size: "result size=160x120 threads=K fps=... decode_us=... resize_us=..."
//       fps is wall-clock throughput (best pass); decode_us / resize_us are thread CPU time per frame,
//       so threads * 1e6 / (decode_us + resize_us) is the throughput with K otherwise idle cores.
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "gesture/dataset.h"
#include "gesture/errors.h"
#include "gesture/frame_image.h"
#include "gesture/image.h"
#include "gesture/png.h"
#include "gesture/synth.h"

static double clock_s(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
static double now(void) { return clock_s(CLOCK_MONOTONIC); }
// CPU time of the calling thread: unaffected by other processes competing for the cores, so it
// measures the work per frame even on a shared machine.
static double cpu_now(void) { return clock_s(CLOCK_THREAD_CPUTIME_ID); }

static int make(const char *dir, int n) {
    const struct {
        const char *sub;
        int w, h;
    } sizes[] = {{"small", 160, 120}, {"big", 360, 360}};
    mkdir(dir, 0777);
    for (int s = 0; s < 2; s++) {
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", dir, sizes[s].sub);
        mkdir(sub, 0777);
        int w = sizes[s].w, h = sizes[s].h;
        uint8_t *rgb = gs_malloc((size_t)w * h * 3);
        for (int i = 0; i < n; i++) {
            // Clips of every class, frames spread over the gesture, like a real epoch.
            synth_render_frame(rgb, w, h, i % GS_SYNTH_CLASSES, i / 30, i % 30, 30, 1234);
            char path[4200];
            snprintf(path, sizeof path, "%s/frame_%05d.png", sub, i);
            if (gs_png_write_rgb8(path, rgb, w, h, 1) != 0) {
                fprintf(stderr, "bench_data: %s\n", gs_last_error());
                free(rgb);
                return 1;
            }
        }
        free(rgb);
    }
    printf("bench_data: wrote %d frames of 160x120 and 360x360 into %s\n", n, dir);
    return 0;
}

typedef struct {
    char **files;
    int n;
    int size;
    atomic_int next;
    atomic_int failed;
    double decode_s, resize_s;  // thread CPU time summed over threads
    pthread_mutex_t mu;
} job;

static void *work(void *arg) {
    job *j = arg;
    uint8_t *buf = NULL;
    size_t cap = 0;
    float *out = gs_aligned_alloc(sizeof(float) * (size_t)j->size * j->size * 3);
    double dec = 0, rs = 0;
    for (;;) {
        int i = atomic_fetch_add(&j->next, 1);
        if (i >= j->n) break;
        int w, h;
        double t0 = cpu_now();
        if (gs_frame_image_read_rgb8_into(&buf, &cap, &w, &h, j->files[i]) != 0) {
            fprintf(stderr, "bench_data: %s\n", gs_last_error());
            atomic_store(&j->failed, 1);
            break;
        }
        double t1 = cpu_now();
        gs_resize_params p = image_resize_params(w, h, GS_NORMALIZE_UNIT);
        image_resize_rgb8(out, buf, w, h, j->size, j->size, &p);
        rs += cpu_now() - t1;
        dec += t1 - t0;
    }
    pthread_mutex_lock(&j->mu);
    j->decode_s += dec;
    j->resize_s += rs;
    pthread_mutex_unlock(&j->mu);
    free(buf);
    free(out);
    return NULL;
}

// Best of `passes` timed passes over all files (after one warm-up pass that fills the page cache).
static int run(const char *dir, const char *sub, const char *label, int threads, int size, int passes) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    job j = {0};
    if (dataset_list_frames(&j.files, &j.n, path) != 0 || j.n == 0) {
        fprintf(stderr, "bench_data: no frames in %s (run 'bench_data make %s' first)\n", path, dir);
        return 1;
    }
    j.size = size;
    pthread_mutex_init(&j.mu, NULL);
    double best = 1e30, best_dec = 0, best_rs = 0;
    for (int p = 0; p <= passes; p++) {
        atomic_store(&j.next, 0);
        atomic_store(&j.failed, 0);
        j.decode_s = j.resize_s = 0;
        pthread_t th[64];
        double t0 = now();
        for (int t = 0; t < threads; t++) pthread_create(&th[t], NULL, work, &j);
        for (int t = 0; t < threads; t++) pthread_join(th[t], NULL);
        double el = now() - t0;
        if (atomic_load(&j.failed)) return 1;
        if (p > 0 && el < best) best = el, best_dec = j.decode_s, best_rs = j.resize_s;
    }
    printf("result size=%s threads=%d fps=%.1f decode_us=%.1f resize_us=%.1f frames=%d\n", label, threads, j.n / best,
           1e6 * best_dec / j.n, 1e6 * best_rs / j.n, j.n);
    pthread_mutex_destroy(&j.mu);
    dataset_free_list(j.files, j.n);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3 || (strcmp(argv[1], "make") && strcmp(argv[1], "run"))) {
        fprintf(stderr, "usage: bench_data make DIR [--n N] | bench_data run DIR [--threads K] [--size S] [--passes P]\n");
        return 2;
    }
    int n = 300, threads = 1, size = 224, passes = 3;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--n")) n = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--size")) size = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--passes")) passes = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "bench_data: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (n < 1 || threads < 1 || threads > 64 || size < 1 || passes < 1) {
        fprintf(stderr, "bench_data: invalid option value\n");
        return 2;
    }
    if (!strcmp(argv[1], "make")) return make(argv[2], n);
    int rc = run(argv[2], "small", "160x120", threads, size, passes);
    if (rc == 0) rc = run(argv[2], "big", "360x360", threads, size, passes);
    return rc;
}
