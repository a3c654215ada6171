// Raw RGB24 frames (stdin for "-", or a file / FIFO given with raw = 1): exactly width*height*3
// bytes per frame, frame i at time i / fps. Nothing in the stream says where a frame starts, so the
// size and rate must be given, and a short final frame is an error rather than a dropped frame.
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gesture/errors.h"
#include "video_internal.h"

int raw_source_open(gs_source *s, const gs_source_args *a) {
    if (a->width <= 0 || a->height <= 0 || !(a->fps > 0))
        return gs_error("%s: --size WxH and --fps F are needed for raw frames", s->name);
    if ((long)a->width * a->height > (1L << 26)) return gs_error("%s: raw frame size %dx%d is too large", s->name, a->width, a->height);
    s->kind = GS_SOURCE_RAW;
    s->width = a->width;
    s->height = a->height;
    s->fps = a->fps;
    if (!strcmp(s->name, "-")) {
        s->fd = 0;
    } else {
        s->fd = open(s->name, O_RDONLY | O_CLOEXEC);
        if (s->fd < 0) return gs_error("%s: %s", s->name, strerror(errno));
        s->own_fd = 1;
    }
    struct stat st;
    if (fstat(s->fd, &st) != 0) return gs_error("%s: %s", s->name, strerror(errno));
    if (S_ISDIR(st.st_mode)) return gs_error("%s: is a folder, not raw frames", s->name);
    s->live = S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || S_ISCHR(st.st_mode);
    source_reserve(s, (size_t)a->width * a->height * 3);
    return 0;
}

int raw_source_read(gs_source *s, gs_frame *f) {
    size_t need = (size_t)s->width * s->height * 3, got = 0;
    while (got < need) {
        ssize_t r = read(s->fd, s->rgb + got, need - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return gs_error("%s: read error at frame %ld: %s", s->name, s->index, strerror(errno));
        if (r == 0) break;
        got += (size_t)r;
    }
    if (got == 0) return 0;
    if (got < need)
        return gs_error("%s: frame %ld is short (%zu of %zu bytes for %dx%d RGB24): truncated input", s->name, s->index,
                        got, need, s->width, s->height);
    f->rgb = s->rgb;
    f->w = s->width;
    f->h = s->height;
    f->t = (double)s->index / s->fps;
    return 1;
}
