// Test helpers: read reference fixtures (HDF5 written by scripts/make_reference.py and friends),
// compare float32 results against float64 references, count checks, skip with exit 77.
#ifndef GESTURE_TESTUTIL_H
#define GESTURE_TESTUTIL_H

#include <stddef.h>

#include "gesture/callbacks.h"

// Path of a fixture file inside $GESTURE_FIXTURES (static buffer, valid until next call).
const char *fx_path(const char *file);
// Read dataset `name` from `file` as doubles (any numeric type). Aborts the test, naming the
// file and dataset, if it is missing. shape may be NULL; *ndim gets the rank if non-NULL.
double *fx_read(const char *file, const char *name, int *ndim, long shape[8]);
// Same, converted to float32 / int.
float *fx_read_f32(const char *file, const char *name, size_t *n);
int *fx_read_int(const char *file, const char *name, size_t *n);
// Does `name` exist in `file`?
int fx_exists(const char *file, const char *name);
// Number of elements of a dataset.
size_t fx_numel(const char *file, const char *name);

// Error of got against want relative to the reference's scale: max|got-want| / max|want|
// (max|want| floored at 1e-12). Prints one line "ok/FAIL what: err (tol)" and records it.
int check_close(const char *what, const float *got, const double *want, size_t n, double tol);
// Field by field equality of two callback states (NaN bests equal NaN).
int same_callbacks_state(const gs_callbacks_state *a, const gs_callbacks_state *b);
// Record a boolean check with a printf-style description.
int check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Print "N passed, N failed" and return the process exit code (0 iff nothing failed).
int test_finish(void);
// Print the reason and exit 77 (ctest SKIP).
void test_skip(const char *why);

#endif
