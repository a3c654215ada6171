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
// Write n bytes to path through "<path>.tmp" + rename, so it is replaced whole (gs_error on failure).
int fs_write_file(const char *path, const void *data, size_t n);
// The same for a NUL-terminated text.
int fs_write_text(const char *path, const char *text);
// An exclusive lock on the file path (created when missing) that holds the holder's pid. It lasts
// until the returned descriptor is closed or the process ends, however it ends (flock: a crash or
// SIGKILL releases it too). Returns the descriptor, or -1 + gs_error: "<what> is in use by pid N"
// when another process holds it, else naming the file.
int fs_lock_file(const char *path, const char *what);

// Output folders of the commands that write a whole tree (synth, prepare). Such a folder holds the
// marker file `marker` (e.g. ".gesture-prepare"), so --force replaces only what the command wrote.
// Check (changes nothing): 0 when out is absent or empty, or -- with force -- holds the marker and
// no entries but `names` (n_names of them; *replace = 1 then); otherwise -1 + gs_error naming what
// is in the way (the folder, or the entry the command did not write).
int fs_output_check(const char *out, const char *marker, const char *const *names, int n_names, int force,
                    int *replace);
// Create out (mkdir -p); with replace, first remove the entries `names` (whole trees; symlinks
// themselves, never what they point to); then write the marker.
int fs_output_claim(const char *out, const char *marker, const char *const *names, int n_names, int replace);

#endif
