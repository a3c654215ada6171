// File-system helpers shared by every module and the CLI: paths, mkdir -p, whole-file reads and
// writes. Errors are gs_error lines naming the path.
#ifndef GESTURE_FSUTIL_H
#define GESTURE_FSUTIL_H

#include <stddef.h>

// "a/b" as a new string (no doubled slash).
char *fs_join(const char *a, const char *b);
int fs_is_dir(const char *path);
int fs_is_file(const char *path);
// mkdir -p; gs_error naming the path on failure.
int fs_mkdir_p(const char *path);
// Copy a regular file byte for byte (through "<dst>.tmp" + rename).
int fs_copy_file(const char *dst, const char *src);
// Whole file as a NUL-terminated string (*n = length); gs_error naming the file on failure.
int fs_read_text(char **text, size_t *n, const char *path);
// Write text to path (gs_error on failure).
int fs_write_text(const char *path, const char *text);

#endif
