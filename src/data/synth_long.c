// `gesture synth-long`: one long video of synthetic gestures separated by idle scenes, and its
// ground truth CSV (see gesture/synth.h), for testing event detection on a stream.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"
#include "gesture/rng.h"
#include "gesture/synth.h"
#include "gesture/video.h"
#include "synth_internal.h"

// Rate of the clips synth_write makes: a gesture lasts frames / SYNTH_FPS seconds at any fps.
static const double SYNTH_FPS = 30.0;

gs_synth_long_opts synth_long_default_opts(void) {
    gs_synth_long_opts o = {10, 320, 240, 30.0, 1.5, 30, 7};
    return o;
}

// n frames of clip c (hand hidden or not) into the video.
static int write_segment(gs_video_writer *vw, uint8_t *rgb, const float *bg, const synth_clip *c, int n) {
    for (int t = 0; t < n; t++) {
        synth_render_frame_from(rgb, bg, c, t, n);
        if (video_writer_write(vw, rgb) != 0) return -1;
    }
    return 0;
}

// Gesture k: its scene idle, then the gesture; appends its ground truth line.
static int write_gesture(gs_video_writer *vw, FILE *gt, long *frame, uint8_t *rgb, float *bg, int label, int k,
                         const gs_synth_long_opts *o, synth_clip *last) {
    int n_idle = (int)lround(o->idle * o->fps), n_gesture = (int)lround(o->frames / SYNTH_FPS * o->fps);
    if (n_gesture < 1) n_gesture = 1;
    synth_clip c;
    synth_clip_init(&c, label, 1000000 + k, o->seed, o->width, o->height);
    synth_render_background(bg, &c);
    synth_clip idle = c;
    idle.no_hand = 1;
    idle.noise_key ^= 0x1d1eu;  // other noise than the gesture's first frames
    if (write_segment(vw, rgb, bg, &idle, n_idle) != 0 || write_segment(vw, rgb, bg, &c, n_gesture) != 0) return -1;
    *frame += n_idle;
    fprintf(gt, "%.6f,%.6f,%s\n", (double)*frame / o->fps, (double)(*frame + n_gesture) / o->fps, GS_SYNTH_CLASS_NAMES[label]);
    *frame += n_gesture;
    *last = idle;
    return 0;
}

int synth_write_long(const char *path, const char *csv, const gs_synth_long_opts *o) {
    if (o->n_gestures < 1 || o->width < 16 || o->height < 16 || !(o->fps > 0) || !(o->idle >= 0) || o->frames < 1)
        return gs_error("synth-long: need gestures >= 1, size >= 16x16, fps > 0, idle >= 0, frames >= 1");
    char *tmp = gs_malloc(strlen(csv) + 5);
    sprintf(tmp, "%s.tmp", csv);
    FILE *gt = fopen(tmp, "w");
    if (!gt) {
        int rc = gs_error("%s: cannot create: %s", tmp, strerror(errno));
        free(tmp);
        return rc;
    }
    fprintf(gt, "start,end,label\n");
    gs_video_writer *vw = NULL;
    const char *dot = strrchr(path, '.');
    int rc = video_writer_open(&vw, path, o->width, o->height, o->fps, dot && !strcmp(dot, ".mkv"));
    float *bg = gs_malloc((size_t)o->width * o->height * 3 * sizeof(float));
    uint8_t *rgb = gs_malloc((size_t)o->width * o->height * 3);
    gs_rng r;
    gs_rng_seed(&r, gs_key(o->seed, 0x10a6u, 0));
    synth_clip last;
    long frame = 0;
    for (int k = 0; rc == 0 && k < o->n_gestures; k++)
        rc = write_gesture(vw, gt, &frame, rgb, bg, (int)gs_rng_below(&r, GS_SYNTH_CLASSES), k, o, &last);
    if (rc == 0) rc = write_segment(vw, rgb, bg, &last, (int)lround(o->idle * o->fps));  // bg: the last scene
    if (rc == 0) rc = video_writer_close(vw);
    else if (vw) video_writer_abort(vw);
    if (fclose(gt) != 0 && rc == 0) rc = gs_error("%s: write error", tmp);
    if (rc == 0 && rename(tmp, csv) != 0) rc = gs_error("%s: cannot rename: %s", csv, strerror(errno));
    if (rc != 0) remove(tmp);
    free(tmp);
    free(bg);
    free(rgb);
    return rc;
}
