// PNG I/O through libpng. Every PNG flavour (gray, gray+alpha, palette, RGB, RGBA; 1/2/4/8/16-bit;
// Adam7 interlaced) is read as packed RGB8: alpha is dropped (not composited), 16-bit samples are
// scaled to 8 bits with rounding (libpng png_set_scale_16), palette and low-bit gray are expanded.
// A corrupt, truncated or unreadable file gives -1 and a gs_error message that starts with the
// path — never a crash, a longjmp into the caller, or a half-filled frame.
#ifndef GESTURE_PNG_H
#define GESTURE_PNG_H

#include <stddef.h>
#include <stdint.h>

// Largest accepted image side; bigger headers are rejected before any allocation (a corrupt IHDR
// must not turn into a multi-gigabyte malloc).
#define GS_PNG_MAX_SIDE 16384

// Width and height from the signature + IHDR only (cheap: reads the first 33 bytes, checks the
// chunk CRC). Used by dataset validation to vet thousands of frames without decoding them.
int gs_png_read_size(int *w, int *h, const char *path);

// Decode `path` into a newly malloc'ed buffer *rgb (H,W,3) uint8; caller frees.
int gs_png_read_rgb8(uint8_t **rgb, int *w, int *h, const char *path);

// Same, decoding into a caller-owned buffer that is grown with realloc when too small
// (*cap in bytes). Workers keep one buffer per thread, so steady state does no allocation.
// On failure the buffer stays valid (and owned by the caller) but its contents are undefined.
int gs_png_read_rgb8_into(uint8_t **buf, size_t *cap, int *w, int *h, const char *path);

// Encode rgb (H,W,3) uint8 as an 8-bit RGB PNG. level: zlib level 0-9 (1 = fast, for bulk data).
// Written to "<path>.tmp" and renamed, so readers never see a half-written file.
int gs_png_write_rgb8(const char *path, const uint8_t *rgb, int w, int h, int level);

#endif
