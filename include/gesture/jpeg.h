// JPEG I/O through libjpeg-turbo's TurboJPEG API. Every JPEG flavour libjpeg-turbo decodes (baseline
// or progressive, any chroma subsampling, restart markers, arithmetic coding, 8-bit grayscale) is read
// as packed RGB8 with the library's defaults (accurate integer IDCT, fancy upsampling), so the pixels
// equal what djpeg and PIL (on the same libjpeg-turbo) produce; grayscale is replicated to R=G=B.
// A corrupt or truncated file gives -1 and a gs_error message that starts with the path: libjpeg's
// warnings ("Premature end of JPEG file", "Corrupt JPEG data: ...") are errors here, never a
// half-decoded frame. CMYK/YCCK JPEGs are refused (libjpeg-turbo cannot convert them to RGB).
#ifndef GESTURE_JPEG_H
#define GESTURE_JPEG_H

#include <stddef.h>
#include <stdint.h>

// Width and height from the markers up to the first scan (reads the file's first 64 KiB, more only
// when its APPn segments are larger). Sides over GS_PNG_MAX_SIDE and CMYK/YCCK are errors, so a
// frame that passes here is one the decoder will accept unless its scan data is damaged.
int gs_jpeg_read_size(int *w, int *h, const char *path);

// Decode into a caller-owned buffer (H,W,3) uint8, grown with realloc when too small (*cap in
// bytes); the header is vetted (size, colour space) before the buffer grows. On failure the buffer
// stays valid (and owned by the caller) but its contents are undefined.
int gs_jpeg_read_rgb8_into(uint8_t **buf, size_t *cap, int *w, int *h, const char *path);

// Encode rgb (H,W,3) uint8 as a baseline 4:2:0 JPEG at quality 1-100 (95: near-lossless frames).
// Written to "<path>.tmp" and renamed, so readers never see a half-written file.
int gs_jpeg_write_rgb8(const char *path, const uint8_t *rgb, int w, int h, int quality);

#endif
