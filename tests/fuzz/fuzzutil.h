// Shared by the libFuzzer targets (tests/fuzz/fuzz_*.c): the gesture readers take paths, so each
// input is written to a file in a per-process scratch folder (removed at exit).
#ifndef GESTURE_FUZZUTIL_H
#define GESTURE_FUZZUTIL_H

#include <stddef.h>
#include <stdint.h>

// The scratch folder ($TMPDIR or /tmp, gesture-fuzz.XXXXXX), created on first use.
const char *fuzz_dir(void);
// Write data to fuzz_dir()/name (name may hold one level of subfolder, created as needed) and return
// the full path (a static buffer, valid until the next call). Aborts when the write fails.
const char *fuzz_write(const char *name, const uint8_t *data, size_t size);

// Return rc; with FUZZ_VERBOSE set in the environment, print gs_last_error() when rc != 0 (to see
// how far a seed gets: scripts/fuzz.sh TARGET FILE).
int fuzz_note(int rc);

#endif
