// Test helpers shared by the C tests: paths and scratch folders, small file operations, random
// arrays, reading reference fixtures (HDF5 written by scripts/make_reference.py and friends),
// comparing float32 results against float64 references, counting checks, skipping with exit 77.
// GPU tests add tests/cuda_testutil.h.
#ifndef GESTURE_TESTUTIL_H
#define GESTURE_TESTUTIL_H

#include <hdf5.h>
#include <stddef.h>

#include "gesture/callbacks.h"
#include "gesture/rng.h"

// ---- paths and scratch folders ----
// "dir/file" as a string that stays valid until test_finish: callers may keep it across any number
// of later calls.
const char *test_path(const char *dir, const char *file);
// A new empty folder $TMPDIR/gesture_<name>_XXXXXX (TMPDIR defaults to /tmp); test_finish removes
// it with everything in it. The returned path stays valid until then.
const char *test_make_tmpdir(const char *name);
// Path of a fixture file inside $GESTURE_FIXTURES (test_path: valid until test_finish).
const char *fx_path(const char *file);
// The source tree: $GESTURE_SOURCE_DIR (ctest sets it), else the one this test was built from.
const char *test_source_dir(void);

// ---- files (fs_write_text, fs_copy_file, fs_mkdir_p of gesture/fsutil.h write them) ----
// Whole file as a NUL-terminated string (malloc'd; *n may be NULL). Aborts the test if unreadable.
char *test_read_text(const char *path, size_t *n);
// Size in bytes, -1 if the file cannot be stat'ed.
long test_file_size(const char *path);
// Copy the first n bytes of src to dst (a truncated copy; n = test_file_size(src) for all of it).
void test_copy_prefix(const char *dst, const char *src, long n);
// Do the two files hold the same bytes?
int test_same_bytes(const char *a, const char *b);
// Member `member` of the zip archive zip_path (malloc'd; *n gets its size; a NUL follows the
// n bytes, so a text member is also a string), or written to dst.
// Abort the test if it cannot be read or written.
char *test_zip_read(size_t *n, const char *zip_path, const char *member);
void test_zip_extract(const char *dst, const char *zip_path, const char *member);

// ---- arrays ----
// a[i] = scale * N(0,1) / uniform in [lo, hi), from rng.
void test_fill_normal(float *a, gs_rng *rng, float scale, size_t n);
void test_fill_uniform(float *a, gs_rng *rng, float lo, float hi, size_t n);
// n zero floats (calloc; n = 0 gives a valid 1-element buffer).
float *test_zeros(size_t n);
// An op's `work` buffer of n floats (gesture/ops.h): 64-byte aligned and filled with NaN, so an op
// that reads its scratch before writing it shows; freed by test_finish.
float *test_work(size_t n);

// ---- fixtures (abort the test, naming the file and dataset, if one is missing) ----
// Read dataset `name` from `file` as doubles (any numeric type). shape may be NULL; *ndim gets the
// rank if non-NULL.
double *fx_read(const char *file, const char *name, int *ndim, long shape[8]);
// Same, converted to float32 / int.
float *fx_read_f32(const char *file, const char *name, size_t *n);
int *fx_read_int(const char *file, const char *name, size_t *n);
// A dataset of fixed-length strings (h5py's numpy S-arrays) as *n malloc'd strings in a malloc'd array.
char **fx_read_strs(const char *file, const char *name, int *n);
// The first element of a dataset (counts and scalars).
double fx_read_scalar(const char *file, const char *name);
// Dataset "<group>/case<i>/<sub>", the layout of the op references (scripts/ref_ops_*.py).
double *fx_read_case(const char *file, const char *group, int i, const char *sub);
float *fx_read_case_f32(const char *file, const char *group, int i, const char *sub, size_t *n);
int *fx_read_case_int(const char *file, const char *group, int i, const char *sub);
// Does `name` exist in `file`?
int fx_exists(const char *file, const char *name);
// Number of elements of a dataset.
size_t fx_numel(const char *file, const char *name);

// Replace (or add) attribute `name` of loc: type/space in the file, written from buf as mem_type.
// Aborts the test if HDF5 refuses.
void test_h5_put_attr(hid_t loc, const char *name, hid_t type, hid_t space, hid_t mem_type, const void *buf);

// Remove the integrity stamp from a file gesture wrote (its first bytes zeroed), as when another
// program rewrote it: gesture then reads it like any HDF5 file from elsewhere.
void test_h5_unstamp(const char *path);

// ---- checks ----
// Error of got against want relative to the reference's scale: max|got-want| / max|want|
// (max|want| floored at 1e-12). Prints one line "ok/FAIL what: err (tol)" and records it.
int check_close(const char *what, const float *got, const double *want, size_t n, double tol);
// The same against a float32 reference.
int check_close_f32(const char *what, const float *got, const float *want, size_t n, double tol);
// An update (e.g. an optimizer step) against a reference update from the same values `before`:
// max|(got - before) - (want - before)| within tol x the largest reference change plus 4 ulps of the
// largest weight (what a float32 weight can record). Comparing the values themselves would hide a
// wrong update of a large weight. Records one check line.
int check_update(const char *what, const float *got, const double *want, const float *before, size_t n, double tol);
// Field by field equality of two callback states (NaN bests equal NaN).
int same_callbacks_state(const gs_callbacks_state *a, const gs_callbacks_state *b);
// Record a boolean check with a printf-style description.
int check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Print "N passed, N failed", remove the scratch folders and return the process exit code (0 iff
// nothing failed).
int test_finish(void);
// Print the reason and exit 77 (ctest SKIP).
void test_skip(const char *why);

#endif
