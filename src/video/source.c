// source_* of gesture/video.h: picks the reader from the path (raw RGB24, V4L2 camera, or a file
// for libavformat) and keeps what every source shares (name, frame buffer, index, times).
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gesture/errors.h"
#include "video_internal.h"

static int is_camera_path(const char *p) {
    return !strncmp(p, "v4l2:", 5) || !strncmp(p, "/dev/video", 10);
}

int source_open(gs_source **out, const gs_source_args *a) {
    *out = NULL;
    if (!a || !a->path || !a->path[0]) return gs_error("video: no source given");
    gs_source *s = gs_calloc(1, sizeof *s);
    s->name = strdup(a->path);
    GS_ASSERT(s->name);
    s->fd = -1;
    s->kind = a->raw || !strcmp(a->path, "-") ? GS_SOURCE_RAW : is_camera_path(a->path) ? GS_SOURCE_CAMERA : GS_SOURCE_FILE;
    int rc = s->kind == GS_SOURCE_RAW ? raw_source_open(s, a) : av_reader_open(s, a);
    if (rc != 0) {
        source_close(s);
        return -1;
    }
    *out = s;
    return 0;
}

int source_read(gs_source *s, gs_frame *f) {
    int rc = s->kind == GS_SOURCE_RAW ? raw_source_read(s, f) : av_reader_read(s, f);
    if (rc == 0 && s->index == 0) return gs_error("%s: no frames", s->name);
    if (rc != 1) return rc;
    f->index = s->index++;
    s->t_prev = f->t;
    return 1;
}

gs_source_kind source_kind(const gs_source *s) { return s->kind; }
int source_is_live(const gs_source *s) { return s->live; }
double source_fps(const gs_source *s) { return s->fps; }
const char *source_name(const gs_source *s) { return s->name; }

void source_close(gs_source *s) {
    if (!s) return;
    if (s->av) av_reader_close(s->av);
    if (s->own_fd && s->fd >= 0) close(s->fd);
    free(s->rgb);
    free(s->name);
    free(s);
}
