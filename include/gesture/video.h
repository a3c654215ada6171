// Video frame sources and writers through FFmpeg (libavformat/libavcodec/libswscale/libavdevice):
// video files (mp4/H.264, webm/VP9, avi/MJPEG, mkv, ...), V4L2 cameras (/dev/videoN) and raw RGB24
// frames on stdin ("-"). Every source yields packed RGB24 frames with a presentation time in seconds
// taken from the container (variable frame rate included; raw stdin: index / fps).
// The model sees frames at a fixed rate (stream.fps / data.frame_step): gs_resampler picks which
// source frames those are, so a 60 fps camera and a 24 fps file give the model the same motion speed.
#ifndef GESTURE_VIDEO_H
#define GESTURE_VIDEO_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    GS_SOURCE_FILE,    // a video file, decoded as fast as asked
    GS_SOURCE_CAMERA,  // a V4L2 device (/dev/videoN, or v4l2:/dev/videoN): live, frames come at its rate
    GS_SOURCE_RAW      // raw RGB24 frames (stdin for "-", or a file/FIFO): size and fps given
} gs_source_kind;

typedef struct {
    const char *path;     // file, /dev/videoN, "-" (raw RGB24 on stdin)
    int raw;              // 1: path holds raw RGB24 frames (implied by "-")
    int width, height;    // raw: frame size (required); camera: requested size (0 = the device's default)
    double fps;           // raw: frame rate (required); camera: requested rate (0 = default)
} gs_source_args;

typedef struct {
    const uint8_t *rgb;   // (h,w,3) packed RGB24, owned by the source, valid until the next read
    int w, h;
    double t;             // presentation time in seconds from the first frame (>= 0, increasing)
    long index;           // 0-based index of the decoded frame
} gs_frame;

typedef struct gs_source gs_source;

// Open a source. 0, or -1 + gs_error naming it ("clip.mp4: no video stream", "/dev/video0: No such
// device", "-: --size WxH and --fps F are needed for raw frames").
int source_open(gs_source **s, const gs_source_args *a);
// Next frame: 1 (*f set), 0 at the end of the input, -1 on an error (gs_error names the source and
// the frame index and time where decoding broke). A live source that stops delivering (a vanished
// camera, or one silent for 5 s) is an error, not an end; so is an input that ends before its first
// frame ("no frames") and a file that ends uncleanly (truncated: the error comes instead of the end).
// Frames may change size within a file (f->w, f->h say so). One thread at a time; that thread may
// differ from the one that opened the source.
int source_read(gs_source *s, gs_frame *f);
gs_source_kind source_kind(const gs_source *s);
int source_is_live(const gs_source *s);   // camera, or raw on a pipe/FIFO
double source_fps(const gs_source *s);    // nominal rate from the container/device (0: unknown)
const char *source_name(const gs_source *s);
void source_close(gs_source *s);

// Which source frames the model sees: one every `period` seconds on a grid starting at the first
// frame's time. A frame is taken when its time reaches the next grid point (minus half a source
// frame, so 30 fps sampled at 15 fps takes frames 0, 2, 4, ... exactly); grid points the source
// skipped over (a gap, a lower source rate) are not filled twice.
typedef struct {
    double period;       // seconds between model frames (frame_step / stream.fps)
    double next;         // time of the next grid point
    double half_src;     // half the source's frame interval (0: unknown)
    int started;
} gs_resampler;

void resampler_init(gs_resampler *r, double model_fps, double source_fps);
// 1 when the frame at time t is one the model sees.
int resampler_take(gs_resampler *r, double t);

// Every model-rate frame of a video file, decoded (for `gesture predict` on files). frames: (n,h,w,3)
// contiguous, malloc'ed; times: (n) seconds. All frames must have one size (else an error naming the
// frame). model_fps <= 0: every frame. 0, or -1 + gs_error.
int video_read_all(uint8_t **frames, double **times, int *n, int *w, int *h, const char *path, double model_fps);

// A video writer: H.264 (libx264, crf 18, yuv420p; yuv444p for odd sides) for .mp4/.mkv, FFV1
// (lossless, bgr0) for .mkv with lossless = 1 (other extensions refuse lossless), MJPEG for .avi,
// VP9 for .webm, GIF for .gif; frames are RGB24 of one size, kept at that size. Written to
// "<path>.tmp" and renamed on close, so readers never see a half-written file.
typedef struct gs_video_writer gs_video_writer;
int video_writer_open(gs_video_writer **w, const char *path, int width, int height, double fps, int lossless);
int video_writer_write(gs_video_writer *w, const uint8_t *rgb);  // (height,width,3)
// Flush, write the trailer and rename; frees w. 0, or -1 + gs_error (the .tmp is removed).
int video_writer_close(gs_video_writer *w);
// Drop a writer after an error without publishing the file.
void video_writer_abort(gs_video_writer *w);

#endif
