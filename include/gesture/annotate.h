// `gesture stream --annotate OUT`: the input frames the model saw, with the current label, one
// probability bar per class and the last event drawn on them, encoded as a video (gesture/video.h:
// .mp4, .mkv, .avi, .webm, .gif). Written at the model's frame rate; frames whose size differs from
// the first one are resized to it.
#ifndef GESTURE_ANNOTATE_H
#define GESTURE_ANNOTATE_H

#include <stdint.h>

#include "gesture/stream.h"
#include "gesture/video.h"

typedef struct {
    gs_video_writer *w;
    int width, height;
    uint8_t *frame;          // (height,width,3) the frame being drawn
    char *const *classes;    // (K)
    int K;
    gs_event last;           // the last event (label -1: none yet)
    int have_probs;
    float *probs;            // (K) the smoothed probabilities of the last window
} gs_annotator;

// Open OUT for frames of the first frame's size. 0, or -1 + gs_error.
int annotate_open(gs_annotator *a, const char *path, int width, int height, double fps, char *const *classes, int K);
// Draw and write one frame (h,w,3); probs (K) or NULL while the first window is not full.
int annotate_frame(gs_annotator *a, const uint8_t *rgb, int w, int h, const float *probs);
void annotate_event(gs_annotator *a, const gs_event *ev);
// Finish the file (0, or -1 + gs_error); annotate_abort drops it.
int annotate_close(gs_annotator *a);
void annotate_abort(gs_annotator *a);

#endif
