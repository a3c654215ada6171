// Content-sniffing front for frame files (see gesture/frame_image.h): a few bytes decide which decoder
// reads the file; empty, missing and unknown files get their message here.
#include "gesture/frame_image.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "gesture/errors.h"
#include "gesture/jpeg.h"
#include "gesture/png.h"

typedef enum { KIND_PNG, KIND_JPEG } image_kind;

static const unsigned char PNG_SIG[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
static const unsigned char JPEG_SOI[3] = {0xFF, 0xD8, 0xFF};

int gs_frame_image_is_name(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && dot != name &&
           (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

// Which decoder reads path. A file shorter than a signature that starts like one goes to that
// decoder too, whose "truncated" message says more than "not an image".
static int sniff(image_kind *kind, const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return gs_error("%s: cannot open: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) return gs_error("%s: is a directory, not an image file", path);
    FILE *f = fopen(path, "rb");
    if (!f) return gs_error("%s: cannot open: %s", path, strerror(errno));
    unsigned char b[8];
    size_t n = fread(b, 1, sizeof b, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) return gs_error("%s: read error", path);
    if (n == 0) return gs_error("%s: empty file (0 bytes)", path);
    if (!memcmp(b, PNG_SIG, n < 8 ? n : 8)) *kind = KIND_PNG;
    else if (!memcmp(b, JPEG_SOI, n < 3 ? n : 3)) *kind = KIND_JPEG;
    else return gs_error("%s: not a PNG or JPEG image", path);
    return 0;
}

int gs_frame_image_read_size(int *w, int *h, const char *path) {
    image_kind k;
    if (sniff(&k, path) != 0) return -1;
    switch (k) {
    case KIND_PNG: return gs_png_read_size(w, h, path);
    case KIND_JPEG: return gs_jpeg_read_size(w, h, path);
    }
    return gs_error("%s: unknown image kind", path);
}

int gs_frame_image_read_rgb8_into(uint8_t **buf, size_t *cap, int *w, int *h, const char *path) {
    image_kind k;
    if (sniff(&k, path) != 0) return -1;
    switch (k) {
    case KIND_PNG: return gs_png_read_rgb8_into(buf, cap, w, h, path);
    case KIND_JPEG: return gs_jpeg_read_rgb8_into(buf, cap, w, h, path);
    }
    return gs_error("%s: unknown image kind", path);
}
