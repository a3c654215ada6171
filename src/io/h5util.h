// Small HDF5 helpers shared by the writers and readers in src/io (checkpoints, the training log):
// error capture without HDF5's own stack printing, atomic file creation (temp + fsync + rename),
// distinct open errors (missing / not HDF5 / truncated), and typed attribute access.
// Internal to the library; not a public header.
#ifndef GESTURE_IO_H5UTIL_H
#define GESTURE_IO_H5UTIL_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

// Evaluate an HDF5 call; if it returns a negative value (every HDF5 failure does), record
// "FILE: STATEMENT failed (src.c:LINE): <HDF5's innermost message>" with gs_error and jump to the
// enclosing function's `fail:` label. `file` is the HDF5 file's path, for the user.
#define H5_CHECK(file, call)                                  \
    do {                                                      \
        if ((call) < 0) {                                     \
            h5_error_here((file), #call, __FILE__, __LINE__); \
            goto fail;                                        \
        }                                                     \
    } while (0)

// Turn off HDF5's automatic error-stack printing for this thread (failures become gs_error).
void h5_silence(void);
// gs_error from the current HDF5 error stack; returns -1. Used by H5_CHECK.
int h5_error_here(const char *file, const char *stmt, const char *src, int line);
// Innermost message of the current HDF5 error stack ("" if none) into buf.
const char *h5_last_message(char *buf, size_t n);

// Open an existing file read-only (rw=0) or read-write (rw=1). Distinct errors: "PATH: No such
// file or directory", "PATH: not an HDF5 file", "PATH: cannot open as HDF5 (truncated or
// corrupt?)". Returns the file id, or -1 + gs_error.
hid_t h5_open(const char *path, int rw);
// Every HDF5 file gesture reads is opened through one of these two, which first read all its
// variable-length strings in a forked child with a time limit (libhdf5 crashes or loops forever on
// a corrupt global heap): a child that crashed or hung fails the open with "PATH <damaged> (HDF5
// reader crashed: signal 11)" / "(HDF5 reader did not finish in 10 s)". h5_open uses H5_DAMAGED;
// the Keras importers say "is damaged or not a Keras file". h5_open_image opens an in-memory file
// image (a .keras member) read-only under the name label, which must not name an existing file.
#define H5_DAMAGED "is damaged"
hid_t h5_open_as(const char *path, int rw, const char *damaged);
hid_t h5_open_image(const void *buf, size_t n, const char *label, const char *damaged);

// Atomic file replacement: h5_atomic_create starts the file in memory; h5_atomic_commit writes
// its image to "<path>.tmp.<pid>" in the target's directory, fsyncs it, renames it over the target
// and fsyncs the directory, so a crash at any moment leaves either the old or the new complete
// file. Commit also removes stale "<base>.tmp.<pid>" siblings whose writer process no longer
// exists (left by a killed writer). h5_atomic_abort discards the in-memory file (after a failure).
// Both commit and abort release `a` whatever happens.
typedef struct {
    char *path;  // target
    char *tmp;   // temp file name
    hid_t fid;   // open in-memory HDF5 file (-1 after commit/abort)
} h5_atomic;
int h5_atomic_create(h5_atomic *a, const char *path);
int h5_atomic_commit(h5_atomic *a);
void h5_atomic_abort(h5_atomic *a);

// Integrity stamp (h5sum.c): files made by h5_atomic_create start with an HDF5 user block of
// H5SUM_BLOCK bytes holding the length and CRC-32 of the rest. h5sum_header makes that block for a
// file image (HDF5's image of a file with a user block leaves the block out); h5sum_verify: 1 stamped and intact, 0 no stamp (a file from elsewhere), -1 + gs_error "PATH
// <damaged> (checksum mismatch ...)".
#define H5SUM_BLOCK 512
void h5sum_header(unsigned char *block, const unsigned char *image, size_t n);
int h5sum_verify(const char *path, const char *damaged);

// Link creation property list that creates missing intermediate groups ("/weights/Conv1/kernel").
hid_t h5_lcpl_intermediate(void);

// Attributes on `loc` (a file or group). Writers return 0 / -1 + gs_error naming `file`.
// Strings are written fixed-length (UTF-8, NUL-terminated, as long as the longest); Keras' own
// files get variable-length ones where Keras writes them (h5_attr_write_vlen_str).
int h5_attr_write_str(const char *file, hid_t loc, const char *name, const char *value);
int h5_attr_write_strs(const char *file, hid_t loc, const char *name, const char *const *values, int n);
int h5_attr_write_vlen_str(const char *file, hid_t loc, const char *name, const char *value);
int h5_attr_write_i64(const char *file, hid_t loc, const char *name, int64_t value);
int h5_attr_write_u64(const char *file, hid_t loc, const char *name, uint64_t value);
int h5_attr_write_f64(const char *file, hid_t loc, const char *name, double value);

// Readers: a missing attribute or one of the wrong kind is an error naming file, object and
// attribute ("ckpt.h5: attribute /callbacks@early_stopping_wait missing"). `where` is the object's path for
// messages. Integers accept any integer type and are range-checked; strings accept fixed or
// variable length (result malloc'd).
int h5_attr_exists(hid_t loc, const char *name);
int h5_attr_read_str(char **value, const char *file, const char *where, hid_t loc, const char *name);
int h5_attr_read_strs(char ***values, int *n, const char *file, const char *where, hid_t loc, const char *name);
int h5_attr_read_i64(int64_t *value, const char *file, const char *where, hid_t loc, const char *name);
int h5_attr_read_u64(uint64_t *value, const char *file, const char *where, hid_t loc, const char *name);
int h5_attr_read_f64(double *value, const char *file, const char *where, hid_t loc, const char *name);

// "float32", "float64", "int32", "string", ... for messages about a dataset's element type.
const char *h5_type_name(hid_t type, char *buf, size_t n);

#endif
