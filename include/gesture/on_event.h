// Commands run on gesture events (`gesture stream --on-event`). Placeholders in the template:
// {label} the class name, {prob} its smoothed probability, {time} when the event fired and
// {start} when its run began (seconds of stream time). Without a shell by default: the template is
// split into words (single or double quotes group words), placeholders are filled per word, and the
// program is started with posix_spawnp; it is never waited for while the stream runs.
#ifndef GESTURE_ON_EVENT_H
#define GESTURE_ON_EVENT_H

#include "gesture/stream.h"

typedef struct {
    char **words;  // the template's words (shell: the whole template)
    int n;
    int shell;     // 1: run through /bin/sh -c (the user's choice, --on-event-shell)
    int running;   // started, not yet reaped
    int failed;    // reaped with a non-zero status or a signal
} gs_on_event;

// 0, or -1 + gs_error (an unclosed quote, an empty command).
int on_event_parse(gs_on_event *oe, const char *tmpl, int shell);
void on_event_free(gs_on_event *oe);
// Start the command for one event. 0, or -1 + gs_error (the program could not be started).
int on_event_run(gs_on_event *oe, const char *label, const gs_event *ev);
// Collect finished commands; wait_all: wait for every one still running.
void on_event_reap(gs_on_event *oe, int wait_all);

#endif
