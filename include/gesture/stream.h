// Live recognition (`gesture stream`): a sliding window over the last T model frames with a
// per-frame feature cache, and the event detector that turns window probabilities into gestures.
//
// Window model: inference batch norm uses moving statistics, so a frame's 1280 pooled features do
// not depend on the other frames of its window. Each new frame therefore runs the backbone, the
// head BN and the pooling once (a copy of the model planned for one frame), and its features go
// into a ring; every hop the BiGRU and the dense head run over the ring (a copy planned for one
// window of T frames that starts its walk after the pooling). Both copies are the seed graph with
// the checkpoint's weights, run by the one walker (model_forward_nodes), so a window's
// probabilities are those of model_forward on the same T frames up to float summation order.
#ifndef GESTURE_STREAM_H
#define GESTURE_STREAM_H

#include <stdint.h>

#include "gesture/config.h"
#include "gesture/model.h"
#include "gesture/video.h"

typedef struct {
    gs_model feat;        // planned for one frame (frames 1, batch 1)
    gs_model head;        // planned for one window (frames T, batch 1); only nodes after the pooling run
    int gap_feat, gap_head;  // the pooling node in each
    int T, C, K;          // window frames, features per frame, classes
    float *ring;          // (T,C) the last T frames' features; slot (n % T) is written next
    double *times;        // (T) their times
    long n;               // frames pushed so far
    const void *gpu;      // the device backend running the per-frame features (NULL: the CPU)
    void *gpu_h;          // its features handle (the walker on the device)
    void *gpu_plan;       // or its handle of `plan` (window_model_use_plan on a device)
    float *frame;         // (S,S,3) the next frame, host (with gpu or plan)
    struct gs_plan *plan; // the per-frame features from the folded plan of `feat` (NULL: the walker)
} gs_window_model;

// Both copies from a model (its architecture and weights; full is not modified). gpu: a
// gs_device_backend (gesture/device.h) already opened, that runs the per-frame features; NULL = the
// CPU. bf16 (a device only): its GEMMs on bf16 operands (runtime.precision). 0, or -1 + gs_error.
int window_model_init(gs_window_model *wm, const gs_model *full, const void *gpu, int bf16);
void window_model_free(gs_window_model *wm);
// Compute the per-frame features with an inference plan (gesture/plan.h, runtime.inference = plan)
// instead of the reference executor, on the CPU or on the device wm was made with; the head stays
// on the walker. bf16 (a device only): activations and 1x1 weights in bf16 (runtime.precision).
// 0, or -1 + gs_error.
int window_model_use_plan(gs_window_model *wm, int bf16);
// Where the next frame goes: (S,S,3), normalized as the data config says.
float *window_model_frame(gs_window_model *wm);
// Features of the frame in window_model_frame into the ring, as the frame at time t.
void window_model_push(gs_window_model *wm, double t);
// 1 once T frames have been pushed.
int window_model_full(const gs_window_model *wm);
// Probabilities (K) of the window of the last T frames; *t0 / *t1: its first and last frame's time.
void window_model_probs(gs_window_model *wm, float *probs, double *t0, double *t1);

// Gesture events from a sequence of window probabilities: the mean over the last `smooth` windows;
// a class whose smoothed probability is the highest and >= threshold starts a run; the run fires
// one event once it has lasted min_duration seconds, unless an event fired less than `refractory`
// seconds before; the run ends when another class (or none) takes over.
typedef struct {
    int label;
    float prob;      // smoothed probability when it fired (then the run's highest)
    double start;    // time the run started
    double fired;    // time it fired
    double end;      // time the run ended (valid once closed)
} gs_event;

typedef struct {
    int K, smooth;
    double threshold, min_duration, refractory;
    float *hist;       // (smooth,K) the last windows' probabilities
    float *mean;       // (K)
    long n;            // windows seen
    int run_label;     // -1: no run
    double run_start, last_t, quiet_until;
    int run_fired;     // the current run has fired its event
    gs_event current;  // the event of the current run (when run_fired)
} gs_events;

void events_init(gs_events *ev, int K, const gs_stream_config *c);
void events_free(gs_events *ev);
// One window's probabilities (K) at time t (increasing). Returns a bit set: 1 = an event fired
// (*fired set), 2 = a fired event's run closed (*closed set, with its end time).
int events_push(gs_events *ev, const float *probs, double t, gs_event *fired, gs_event *closed);
// End of input: closes a fired run. 1 when *closed was set.
int events_finish(gs_events *ev, gs_event *closed);
// The smoothed probabilities (K) after the last push.
const float *events_smoothed(const gs_events *ev);

// The feed: a thread that reads a source, keeps the frames the resampler takes, resizes and
// normalizes them into model input and hands them over through a bounded queue. When the consumer
// falls behind a live source the oldest waiting frame is dropped (counted), so memory and latency
// stay bounded; a file is read no faster than it is consumed and loses nothing.
typedef struct {
    float *x;        // (S,S,3) model input
    uint8_t *rgb;    // (h,w,3) the source frame (keep_rgb only)
    int w, h;
    double t;        // source time in seconds
    long index;      // source frame index
    double ready;    // runtime_now() when it was queued (end-to-end latency)
} gs_feed_frame;

typedef struct {
    gs_source *src;        // borrowed; only the feed thread reads it until feed_free
    int size;              // S
    gs_normalize normalize;
    double model_fps;      // the resampler's rate (<= 0: every frame)
    int depth;             // queue slots (>= 3)
    int keep_rgb;          // also hand over the source pixels (annotation)
    int realtime;          // replay a file at its own timestamps and drop like a live source
    int no_drop;           // never drop: a live source waits (its own buffers or a pipe fill up)
    gs_resize resize;      // data.resize (float or cv2)
} gs_feed_args;

typedef struct {
    long decoded;       // frames read from the source
    long taken;         // of those, frames the resampler kept
    long dropped;       // taken frames dropped because the consumer fell behind
    long size_changes;  // times the source's frame size changed
} gs_feed_stats;

typedef struct gs_feed gs_feed;

// Start the thread. 0, or -1 + gs_error.
int feed_start(gs_feed **f, const gs_feed_args *a);
// The next frame in order: 1 (*fr valid until feed_release), 0 at the end of the input or after
// feed_stop, -1 when the source failed (gs_error names it and the frame).
int feed_next(gs_feed *f, gs_feed_frame **fr);
void feed_release(gs_feed *f, gs_feed_frame *fr);
// Ask the thread to stop after the frame it is reading (Ctrl-C).
void feed_stop(gs_feed *f);
void feed_stats(gs_feed *f, gs_feed_stats *s);
// Stop and join the thread (waits at most ~1 s for a source blocked in a read) and free everything.
void feed_free(gs_feed *f);

#endif
