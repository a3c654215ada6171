// `gesture predict` on video files (predict.h): decoded and resampled to the rate the training
// videos had (stream.fps), then either sampled like a clip folder, or cut into windows of T
// consecutive model-rate frames (stream.fps / data.frame_step).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"
#include "gesture/video.h"
#include "predict.h"

// Prefix a name-less loader error with the file.
static int name_error(const char *path) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", gs_last_error());
    return gs_error("%s: %s", path, msg);
}

static int predict_windows(predict_batch *b, const char *path, const gs_loader_config *lc, const gs_stream_config *sc,
                           int hop) {
    double model_fps = sc->fps / lc->frame_step;
    uint8_t *frames;
    double *t;
    int n, w, h, T = lc->frames;
    if (video_read_all(&frames, &t, &n, &w, &h, path, model_fps) != 0) return -1;
    int rc = 0;
    if (n < T)
        rc = gs_error("%s: too few frames for one window (%d at %g fps; a window is %d)", path, n, model_fps, T);
    // Each window is exactly its T frames: stride sampling with step 1 of T frames is the identity.
    gs_loader_config win = *lc;
    win.sampling = GS_SAMPLING_STRIDE;
    win.frame_step = 1;
    size_t frame_bytes = (size_t)w * h * 3;
    for (int s = 0; rc == 0 && s + T <= n; s += hop) {
        if (loader_frames_to_tensor(predict_batch_slot(b), frames + (size_t)s * frame_bytes, T, w, h, &win) != 0)
            rc = name_error(path);
        else predict_batch_commit(b, path, t[s], t[s + T - 1]);
    }
    free(frames);
    free(t);
    return rc;
}

int predict_video(predict_batch *b, const char *path, const gs_loader_config *lc, const gs_stream_config *sc, int windows,
                  int hop) {
    if (windows) return predict_windows(b, path, lc, sc, hop);
    uint8_t *frames;
    double *t;
    int n, w, h;
    if (video_read_all(&frames, &t, &n, &w, &h, path, sc->fps) != 0) return -1;
    int rc = loader_frames_to_tensor(predict_batch_slot(b), frames, n, w, h, lc);
    if (rc != 0) rc = name_error(path);
    else predict_batch_commit(b, path, t[0], t[n - 1]);
    free(frames);
    free(t);
    return rc;
}
