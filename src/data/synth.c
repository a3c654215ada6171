// `gesture synth`: writes the synthetic gesture set in the Kaggle CSV-index layout (see
// gesture/synth.h). Clips render and encode in parallel; names and CSV order are fixed up front so
// the output does not depend on the thread count.
#include "gesture/synth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gesture/errors.h"
#include "gesture/fsutil.h"
#include "gesture/jpeg.h"
#include "gesture/progress.h"
#include "gesture/png.h"
#include "gesture/rng.h"
#include "gesture/video.h"
#include "synth_internal.h"

gs_synth_opts synth_default_opts(void) {
    gs_synth_opts o = {0};
    o.clips_per_class = 80;
    o.val_per_class = -1;
    o.frames = 30;
    o.big_fraction = 0.35;
    o.seed = 7;
    o.png_level = 1;
    o.jpeg_quality = 95;
    o.video_fps = 30;
    return o;
}

typedef struct {
    int label, index, val;
    char folder[96];
    char stem[64];  // "WIN_20180925_17_08_43_Pro"
    char err[512];
} synth_job;

// What a synth output folder holds: --force replaces it only if it holds nothing else.
static const char *const SYNTH_NAMES[] = {"train", "val", "train.csv", "val.csv", "videos"};
enum { N_SYNTH_NAMES = sizeof SYNTH_NAMES / sizeof SYNTH_NAMES[0] };
#define SYNTH_MARKER ".gesture-synth"

static int write_clip(synth_job *j, const char *out, const gs_synth_opts *o) {
    synth_clip c;
    synth_clip_init(&c, j->label, j->index, o->seed, 0, 0);
    int big = c.big < o->big_fraction;
    c.w = big ? 360 : 160;
    c.h = big ? 360 : 120;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s/%s", out, j->val ? "val" : "train", j->folder);
    if (fs_mkdir_p(dir) != 0) return -1;
    gs_video_writer *vw = NULL;
    if (o->video_ext[0]) {
        char vdir[4096], vpath[4300];
        snprintf(vdir, sizeof vdir, "%s/videos/%s", out, j->val ? "val" : "train");
        snprintf(vpath, sizeof vpath, "%s/%s.%s", vdir, j->folder, o->video_ext);
        if (fs_mkdir_p(vdir) != 0 ||
            video_writer_open(&vw, vpath, c.w, c.h, o->video_fps, !strcmp(o->video_ext, "mkv")) != 0)
            return -1;
    }
    float *bg = gs_malloc((size_t)c.w * c.h * 3 * sizeof(float));
    uint8_t *rgb = gs_malloc((size_t)c.w * c.h * 3);
    synth_render_background(bg, &c);
    int rc = 0, jpeg = o->image_format == GS_SYNTH_JPEG;
    const char *ext = jpeg ? "jpg" : "png";
    for (int t = 0; t < o->frames && rc == 0; t++) {
        synth_render_frame_from(rgb, bg, &c, t, o->frames);
        char path[4300];
        if (big) snprintf(path, sizeof path, "%s/%s_%05d.%s", dir, j->stem, t + 1, ext);
        else snprintf(path, sizeof path, "%s/frame%d.%s", dir, t + 1, ext);
        rc = jpeg ? gs_jpeg_write_rgb8(path, rgb, c.w, c.h, o->jpeg_quality)
                  : gs_png_write_rgb8(path, rgb, c.w, c.h, o->png_level);
        if (rc == 0 && vw) rc = video_writer_write(vw, rgb);
    }
    if (vw && rc == 0) rc = video_writer_close(vw);
    else if (vw) video_writer_abort(vw);
    free(bg);
    free(rgb);
    return rc;
}

int synth_write(const char *out, const gs_synth_opts *o) {
    int N = o->clips_per_class;
    int n_val = o->val_per_class >= 0 ? o->val_per_class : N / 5;
    if (N < 1 || n_val < 0 || n_val >= N) return gs_error("synth: need 1 <= clips per class and 0 <= val per class < clips per class (got %d, %d)", N, n_val);
    if (o->frames < 1 || o->frames > 1000) return gs_error("synth: frames must be in 1..1000 (got %d)", o->frames);
    const char *ext = o->video_ext;
    if (ext[0] && strcmp(ext, "mkv") && strcmp(ext, "mp4") && strcmp(ext, "avi") && strcmp(ext, "webm"))
        return gs_error("synth: --videos takes mkv, mp4, avi or webm (got '%s')", ext);
    int replace;
    if (fs_output_check(out, SYNTH_MARKER, SYNTH_NAMES, N_SYNTH_NAMES, o->force, &replace) != 0) return -1;
    if (replace) fprintf(stderr, "synth: replacing the previous synth output in %s (--force)\n", out);
    if (fs_output_claim(out, SYNTH_MARKER, SYNTH_NAMES, N_SYNTH_NAMES, replace) != 0) return -1;
    int total = N * GS_SYNTH_CLASSES;
    synth_job *jobs = gs_calloc((size_t)total, sizeof(synth_job));
    // Recording order: a seeded permutation of all clips gets increasing webcam timestamps.
    int *order = gs_malloc(sizeof(int) * (size_t)total);
    for (int i = 0; i < total; i++) order[i] = i;
    gs_rng r;
    gs_rng_seed(&r, gs_key(o->seed, 0x7135u, 0));
    for (int i = total - 1; i > 0; i--) {
        int k = (int)gs_rng_below(&r, (uint32_t)i + 1), t = order[i];
        order[i] = order[k];
        order[k] = t;
    }
    for (int k = 0; k < total; k++) {
        synth_job *j = &jobs[order[k]];
        j->label = order[k] / N;
        j->index = order[k] % N;
        j->val = j->index >= N - n_val;
        time_t ts = (time_t)1535760000 + (time_t)(k / 700) * 86400 + 8 * 3600 + (k % 700) * 47 + (time_t)gs_rng_below(&r, 40);
        struct tm tm;
        gmtime_r(&ts, &tm);
        snprintf(j->stem, sizeof j->stem, "WIN_%04d%02d%02d_%02d_%02d_%02d_Pro", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        snprintf(j->folder, sizeof j->folder, "%s_%s_new", j->stem, GS_SYNTH_CLASS_NAMES[j->label]);
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    gs_progress bar;
    if (!o->quiet) progress_begin(&bar, "synth: clips written", total);
#pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < total; i++) {
        if (write_clip(&jobs[i], out, o) != 0) snprintf(jobs[i].err, sizeof jobs[i].err, "%s", gs_last_error());
        if (!o->quiet) {
#pragma omp critical(synth_progress)
            progress_add(&bar, 1);
        }
    }
    if (!o->quiet) progress_end(&bar);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int rc = 0;
    for (int i = 0; i < total && rc == 0; i++)
        if (jobs[i].err[0]) rc = gs_error("%s", jobs[i].err);
    for (int s = 0; s < 2 && rc == 0; s++) {
        char *path = fs_join(out, s ? "val.csv" : "train.csv");
        FILE *f = fopen(path, "w");
        if (!f) rc = gs_error("%s: cannot create: %s", path, strerror(errno));
        for (int k = 0; f && k < total; k++) {
            const synth_job *j = &jobs[order[k]];
            // the Kaggle index format, read by raw.c split on ';' without quoting; generated names
            // never hold ';', quotes or line breaks, so no field would need csv_write_field's quotes
            if (j->val == s) fprintf(f, "%s;%s_new;%d\n", j->folder, GS_SYNTH_CLASS_NAMES[j->label], j->label);
        }
        if (f && fclose(f) != 0) rc = gs_error("%s: write error", path);
        free(path);
    }
    if (rc == 0 && !o->quiet)
        printf("synth: %d clips (%d train + %d val per class, %d frames, %.0f%% at 360x360) in %s, %.1f s\n", total,
               N - n_val, n_val, o->frames, 100.0 * o->big_fraction, out,
               (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    free(order);
    free(jobs);
    return rc;
}
