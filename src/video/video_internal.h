// Frame sources behind gesture/video.h (internal): the common source state, the FFmpeg-backed
// reader of files and cameras (source_av.c), the raw RGB24 reader (source_raw.c) and FFmpeg's
// error messages captured per thread (av_log.c).
#ifndef GESTURE_VIDEO_INTERNAL_H
#define GESTURE_VIDEO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "gesture/errors.h"
#include "gesture/video.h"

typedef struct av_reader av_reader;  // libavformat + libavcodec + libswscale state

struct gs_source {
    gs_source_kind kind;
    char *name;          // the path as given (errors name it)
    int live;
    double fps;          // nominal rate (0: unknown)
    int width, height;   // raw: frame size
    int fd;              // raw: file descriptor (0 for "-")
    int own_fd;          // raw: close fd on source_close
    av_reader *av;       // file / camera
    uint8_t *rgb;        // (h,w,3) the last frame
    size_t cap;          // bytes allocated at rgb
    long index;          // frames delivered so far
    double t_prev;       // time of the last frame delivered
};

// Files and cameras through libavformat. 0, or -1 + gs_error naming s->name.
int av_reader_open(gs_source *s, const gs_source_args *a);
// 1 (*f set), 0 at the end, -1 + gs_error naming the source and the frame.
int av_reader_read(gs_source *s, gs_frame *f);
void av_reader_close(av_reader *r);

// Raw RGB24 frames: 0 / -1 + gs_error; read: 1, 0 at the end, -1 + gs_error.
int raw_source_open(gs_source *s, const gs_source_args *a);
int raw_source_read(gs_source *s, gs_frame *f);

// s->rgb holds at least n bytes (both readers use it; inline here so they need nothing of source.c).
static inline void source_reserve(gs_source *s, size_t n) {
    if (n <= s->cap) return;
    free(s->rgb);
    s->rgb = gs_malloc(n);
    s->cap = n;
}

// FFmpeg's log goes to a per-thread buffer instead of stderr: av_last_message() is the last
// warning or error FFmpeg logged on this thread ("" if none), av_clear_message() forgets it.
void av_log_capture(void);
const char *av_last_message(void);
void av_clear_message(void);
// Keep the first warning (or worse) the demuxer logs and the first error the decoder logs on this
// thread from now on, apart from the last message: av_watch_message(0) / (1), "" if none. Decoders
// report some damage only in the log (FFV1's slice CRC mismatch), demuxers some truncation (a
// Matroska file that ended inside a cluster).
void av_log_watch(const void *demuxer, const void *decoder);
const char *av_watch_message(int which);
// "<av_err2str(err)>" plus ": <last FFmpeg message>" when FFmpeg logged one, into buf.
const char *av_describe(char *buf, size_t n, int err);

#endif
