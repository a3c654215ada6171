// Error handling shared by every module: a thread-local "last error" for recoverable
// failures (bad files, bad config) and loud aborts for broken invariants (programming errors).
#ifndef GESTURE_ERRORS_H
#define GESTURE_ERRORS_H

#include <stdio.h>
#include <stdlib.h>

// Record a one-line message for the caller (printf-style) and return -1, so I/O code can
// `return gs_error("%s: truncated file", path);`. The CLI prints it and exits non-zero.
int gs_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
// The message of the most recent gs_error on this thread ("" if none).
const char *gs_last_error(void);
// Print "gesture: <message>" to stderr and exit(1). For unrecoverable states.
_Noreturn void gs_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// Invariant check that survives release builds: shape mismatches and the like are bugs,
// and a silent wrong answer is worse than a crash with the statement and location.
#define GS_ASSERT(cond)                                                                  \
    do {                                                                                 \
        if (!(cond)) gs_fatal("assertion failed: %s (%s:%d)", #cond, __FILE__, __LINE__); \
    } while (0)

// Allocation that never returns NULL.
void *gs_malloc(size_t n);
void *gs_calloc(size_t count, size_t size);
char *gs_strdup(const char *s);
// 64-byte aligned allocation (SIMD + cache lines); free with free().
void *gs_aligned_alloc(size_t n);

#endif
