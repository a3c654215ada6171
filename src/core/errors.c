// Implementation of the error helpers in gesture/errors.h.
#include "gesture/errors.h"

#include <stdarg.h>
#include <string.h>

static _Thread_local char last_error[1024];

int gs_error(const char *fmt, ...) {
    // Formatted aside first: callers wrap the previous message, gs_error("x: %s", gs_last_error()),
    // and formatting straight into last_error would read the buffer it is overwriting.
    char msg[sizeof last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(last_error, msg, sizeof msg);
    return -1;
}

const char *gs_last_error(void) { return last_error; }

_Noreturn void gs_fatal(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("gesture: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

void *gs_malloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) gs_fatal("out of memory allocating %zu bytes", n);
    return p;
}

void *gs_calloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) gs_fatal("out of memory allocating %zu x %zu bytes", count, size);
    return p;
}

char *gs_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    return memcpy(gs_malloc(n), s, n);
}

void *gs_aligned_alloc(size_t n) {
    size_t rounded = (n + 63) / 64 * 64;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (!p) gs_fatal("out of memory allocating %zu bytes", n);
    return p;
}
