// Progress of long commands (synth, bench) on stderr, so a user sees they are working: on a
// terminal one line rewritten in place and cleared at the end; otherwise (a log, a pipe) a line
// at the start and at each further tenth of the work.
#ifndef GESTURE_PROGRESS_H
#define GESTURE_PROGRESS_H

typedef struct {
    const char *what;  // e.g. "synth: clips written"
    long total, done;
    int tty, shown_tenths;
} gs_progress;

// Start counting to total (stdout is flushed first, so stderr lines follow what it printed).
void progress_begin(gs_progress *p, const char *what, long total);
// n more units done. Not thread-safe: call it from one thread (or inside a critical section).
void progress_add(gs_progress *p, long n);
// Done: on a terminal, clear the line.
void progress_end(gs_progress *p);

#endif
