// JPEG decode/encode with TurboJPEG (see gesture/jpeg.h). TurboJPEG decodes from memory, so the file
// is read whole; libjpeg's longjmp-based errors stay inside TurboJPEG, which hands back its message.
// A handle is made per call: it costs a few KB and microseconds next to a frame's decode, and keeps
// the readers free of per-thread state (they run on loader workers and OpenMP threads).
#include "gesture/jpeg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "gesture/errors.h"
#include "gesture/fsutil.h"
#include "gesture/png.h"

// Header reads look at this much of the file first: markers up to the first scan fit unless APPn
// segments (EXIF thumbnails, ICC profiles) are larger.
enum { HEADER_PREFIX = 64 * 1024 };

// Warnings (truncation, corrupt entropy data) stop the decode instead of yielding a patched-up
// frame; LIMITSCANS refuses progressive files with more than 500 scans (a decode-time bomb).
#define DECODE_FLAGS (TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS)

// The first `max` bytes of the file (0: all of them) into a new buffer; *total = the file's size.
static int read_bytes(unsigned char **data, size_t *n, size_t *total, size_t max, const char *path) {
    *data = NULL;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return gs_error("%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) rc = gs_error("%s: cannot stat: %s", path, strerror(errno));
    else if (S_ISDIR(st.st_mode)) rc = gs_error("%s: is a directory, not a JPEG file", path);
    else if (st.st_size <= 0) rc = gs_error("%s: empty file (0 bytes)", path);
    if (rc) {
        close(fd);
        return rc;
    }
    *total = (size_t)st.st_size;
    size_t want = max && *total > max ? max : *total, got = 0;
    unsigned char *buf = gs_malloc(want);
    while (got < want) {
        ssize_t r = read(fd, buf + got, want - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) rc = gs_error("%s: read error: %s", path, strerror(errno));
        if (r <= 0) break;  // r == 0: the file shrank since fstat; decode what is there
        got += (size_t)r;
    }
    close(fd);
    if (rc) {
        free(buf);
        return rc;
    }
    *data = buf;
    *n = got;
    return 0;
}

// TurboJPEG's message for the last failure on tj, as one gs_error line.
static int tj_fail(tjhandle tj, const char *path) {
    const char *msg = tjGetErrorStr2(tj);
    if (strstr(msg, "Premature end of JPEG file")) return gs_error("%s: truncated JPEG (%s)", path, msg);
    return gs_error("%s: corrupt JPEG: %s", path, msg);
}

// Size and colour space from the markers of data (n bytes, the whole file or a prefix), vetted.
static int check_header(int *w, int *h, tjhandle tj, const unsigned char *data, size_t n, const char *path) {
    int subsamp = -1, cs = -1;
    *w = *h = 0;
    // TurboJPEG 2.x refuses to describe chroma sampling it has no TJSAMP_* for (3x1, 1x4, Cb and Cr
    // sampled differently, ...), after it has filled in the rest; libjpeg decodes such files fine.
    if (tjDecompressHeader3(tj, data, (unsigned long)n, w, h, &subsamp, &cs) != 0 &&
        !(subsamp < 0 && cs >= 0 && *w > 0 && *h > 0 && strstr(tjGetErrorStr2(tj), "subsampling")))
        return tj_fail(tj, path);
    // libjpeg takes data that ends before a frame header for a tables-only stream: no error, no size.
    if (*w < 1 || *h < 1) return gs_error("%s: truncated JPEG (no frame header before the end of the data)", path);
    if (cs == TJCS_CMYK || cs == TJCS_YCCK)
        return gs_error("%s: %s JPEG is not supported (frames must be RGB, YCbCr or grayscale)", path,
                        cs == TJCS_CMYK ? "CMYK" : "YCCK");
    if (*w > GS_PNG_MAX_SIDE || *h > GS_PNG_MAX_SIDE)
        return gs_error("%s: JPEG too large (%dx%d; at most %d per side)", path, *w, *h, GS_PNG_MAX_SIDE);
    return 0;
}

static tjhandle tj_init(int compress, const char *path) {
    tjhandle tj = compress ? tjInitCompress() : tjInitDecompress();
    if (!tj) gs_error("%s: TurboJPEG could not allocate its state: %s", path, tjGetErrorStr2(NULL));
    return tj;
}

int gs_jpeg_read_size(int *w, int *h, const char *path) {
    unsigned char *data;
    size_t n, total;
    if (read_bytes(&data, &n, &total, HEADER_PREFIX, path) != 0) return -1;
    tjhandle tj = tj_init(0, path);
    int rc = tj ? check_header(w, h, tj, data, n, path) : -1;
    if (rc != 0 && tj && n < total) {  // markers longer than the prefix: read it all
        free(data);
        rc = read_bytes(&data, &n, &total, 0, path);
        if (rc == 0) rc = check_header(w, h, tj, data, n, path);
    }
    if (tj) tjDestroy(tj);
    free(data);
    return rc;
}

int gs_jpeg_read_rgb8_into(uint8_t **buf, size_t *cap, int *w, int *h, const char *path) {
    unsigned char *data;
    size_t n, total;
    if (read_bytes(&data, &n, &total, 0, path) != 0) return -1;
    tjhandle tj = tj_init(0, path);
    int ww = 0, hh = 0;
    int rc = tj ? check_header(&ww, &hh, tj, data, n, path) : -1;
    size_t need = (size_t)ww * (size_t)hh * 3;
    if (rc == 0 && *cap < need) {
        uint8_t *grown = realloc(*buf, need);
        if (!grown) rc = gs_error("%s: out of memory for the decoded image (%dx%d)", path, ww, hh);
        else *buf = grown, *cap = need;
    }
    if (rc == 0 && tjDecompress2(tj, data, (unsigned long)n, *buf, ww, ww * 3, hh, TJPF_RGB, DECODE_FLAGS) != 0)
        rc = tj_fail(tj, path);
    if (tj) tjDestroy(tj);
    free(data);
    if (rc == 0) *w = ww, *h = hh;
    return rc;
}

int gs_jpeg_write_rgb8(const char *path, const uint8_t *rgb, int w, int h, int quality) {
    GS_ASSERT(w > 0 && h > 0 && quality >= 1 && quality <= 100);
    tjhandle tj = tj_init(1, path);
    if (!tj) return -1;
    unsigned char *jpg = NULL;
    unsigned long size = 0;
    int rc = 0;
    if (tjCompress2(tj, rgb, w, w * 3, h, TJPF_RGB, &jpg, &size, TJSAMP_420, quality, 0) != 0)
        rc = gs_error("%s: cannot encode JPEG: %s", path, tjGetErrorStr2(tj));
    if (rc == 0) rc = fs_write_file(path, jpg, size);
    tjFree(jpg);
    tjDestroy(tj);
    return rc;
}
