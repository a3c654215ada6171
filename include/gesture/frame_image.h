// Frame files: PNG or JPEG, told apart by their first bytes (the PNG signature, or JPEG's SOI marker
// FF D8 FF), never by their names, so a JPEG named .png or a PNG named .jpg decodes as what it is.
// Every reader of clip frames (loader, prepare, predict) goes through here; the decoders behind it
// are gesture/png.h and gesture/jpeg.h, whose messages (all starting with the path) come through.
#ifndef GESTURE_FRAME_IMAGE_H
#define GESTURE_FRAME_IMAGE_H

#include <stddef.h>
#include <stdint.h>

// 1 when a directory entry's name is a frame file's: *.png, *.jpg or *.jpeg, any case. This is how
// frame folders are listed; what the file holds is decided by its content when it is read.
int gs_frame_image_is_name(const char *name);

// Width and height from the file's header only (cheap: no pixel data is decoded). Used by data set
// validation to vet thousands of frames.
int gs_frame_image_read_size(int *w, int *h, const char *path);

// Decode into a caller-owned buffer (H,W,3) uint8, grown with realloc when too small (*cap in bytes).
// Workers keep one buffer per thread, so steady state does no allocation for the pixels. On failure
// the buffer stays valid (and owned by the caller) but its contents are undefined.
int gs_frame_image_read_rgb8_into(uint8_t **buf, size_t *cap, int *w, int *h, const char *path);

#endif
