// Model-rate frame selection (gs_resampler) and whole-file decoding for `gesture predict`.
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"
#include "video_internal.h"

void resampler_init(gs_resampler *r, double model_fps, double source_fps) {
    GS_ASSERT(model_fps > 0);
    r->period = 1.0 / model_fps;
    r->half_src = source_fps > 0 ? 0.5 / source_fps : 0.0;
    r->next = 0;
    r->started = 0;
}

int resampler_take(gs_resampler *r, double t) {
    // Without a nominal source rate, a hundredth of a period absorbs timestamp rounding (ms clocks).
    double slack = r->half_src > 0 ? r->half_src : 0.01 * r->period;
    if (!r->started) {
        r->started = 1;
        r->next = t + r->period;
        return 1;
    }
    if (t < r->next - slack) return 0;
    while (r->next - slack <= t) r->next += r->period;  // skipped grid points stay skipped
    return 1;
}

int video_read_all(uint8_t **frames, double **times, int *n, int *w, int *h, const char *path, double model_fps) {
    *frames = NULL;
    *times = NULL;
    *n = *w = *h = 0;
    gs_source_args a = {.path = path};
    gs_source *s;
    if (source_open(&s, &a) != 0) return -1;
    if (source_kind(s) != GS_SOURCE_FILE) {
        source_close(s);
        return gs_error("%s: not a video file", path);
    }
    gs_resampler r;
    if (model_fps > 0) resampler_init(&r, model_fps, source_fps(s));
    size_t cap = 0, frame_bytes = 0;
    int count = 0, rc;
    gs_frame f;
    while ((rc = source_read(s, &f)) == 1) {
        if (count == 0 && frame_bytes == 0) {
            *w = f.w;
            *h = f.h;
            frame_bytes = (size_t)f.w * f.h * 3;
        } else if (f.w != *w || f.h != *h) {
            rc = gs_error("%s: frame %ld (%.3f s) is %dx%d, the frames before it %dx%d: one size per video", path, f.index,
                          f.t, f.w, f.h, *w, *h);
            break;
        }
        if (model_fps > 0 && !resampler_take(&r, f.t)) continue;
        if ((size_t)count == cap) {
            cap = cap ? 2 * cap : 64;
            *frames = realloc(*frames, cap * frame_bytes);
            *times = realloc(*times, cap * sizeof(double));
            GS_ASSERT(*frames && *times);
        }
        memcpy(*frames + (size_t)count * frame_bytes, f.rgb, frame_bytes);
        (*times)[count++] = f.t;
    }
    source_close(s);
    if (rc < 0) {
        free(*frames);
        free(*times);
        *frames = NULL;
        *times = NULL;
        *w = *h = 0;
        return -1;
    }
    *n = count;
    return 0;
}
