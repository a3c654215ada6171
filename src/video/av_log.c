// FFmpeg's log, captured: libav* report the reason of a failure (e.g. "moov atom not found") only
// through av_log, so the last warning or error of each thread is kept for the gs_error line instead
// of being printed in the middle of the CLI's output. GESTURE_AV_LOG=1 also prints the log as usual.
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "video_internal.h"

static _Thread_local char last_msg[256];
// Messages of the watched contexts (the demuxer and the decoder being read), the first of each
// since av_log_watch: the cause, not the follow-up noise.
static _Thread_local const void *watched[2];
static _Thread_local int watch_max_level[2];
static _Thread_local char watch_msg[2][256];
static int print_too;

static void log_callback(void *avcl, int level, const char *fmt, va_list vl) {
    if (print_too) {
        va_list copy;
        va_copy(copy, vl);
        av_log_default_callback(avcl, level, fmt, copy);
        va_end(copy);
    }
    if (level > AV_LOG_WARNING) return;
    char line[sizeof last_msg];
    vsnprintf(line, sizeof line, fmt, vl);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '.')) line[--n] = 0;
    if (!n) return;
    memcpy(last_msg, line, n + 1);
    for (int k = 0; k < 2; k++)
        if (avcl && avcl == watched[k] && level <= watch_max_level[k] && !watch_msg[k][0]) memcpy(watch_msg[k], line, n + 1);
}

void av_log_watch(const void *demuxer, const void *decoder) {
    watched[0] = demuxer;
    watched[1] = decoder;
    watch_max_level[0] = AV_LOG_WARNING;
    watch_max_level[1] = AV_LOG_ERROR;
    watch_msg[0][0] = watch_msg[1][0] = 0;
}

const char *av_watch_message(int which) { return watch_msg[which]; }

static void install(void) {
    const char *e = getenv("GESTURE_AV_LOG");
    print_too = e && *e && strcmp(e, "0") != 0;
    av_log_set_callback(log_callback);
}

void av_log_capture(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, install);
}

const char *av_last_message(void) { return last_msg; }
void av_clear_message(void) { last_msg[0] = 0; }

const char *av_describe(char *buf, size_t n, int err) {
    char e[AV_ERROR_MAX_STRING_SIZE];
    av_strerror(err, e, sizeof e);
    if (last_msg[0] && strcmp(last_msg, e) != 0) snprintf(buf, n, "%s (%s)", e, last_msg);
    else snprintf(buf, n, "%s", e);
    return buf;
}
