// Implementation of gesture/progress.h.
#include "gesture/progress.h"

#include <stdio.h>
#include <unistd.h>

static void show(const gs_progress *p) {
    if (p->tty) fprintf(stderr, "\r%s %ld/%ld", p->what, p->done, p->total);
    else fprintf(stderr, "%s %ld/%ld\n", p->what, p->done, p->total);
    fflush(stderr);
}

void progress_begin(gs_progress *p, const char *what, long total) {
    fflush(stdout);
    *p = (gs_progress){.what = what, .total = total, .tty = isatty(STDERR_FILENO)};
    show(p);
}

void progress_add(gs_progress *p, long n) {
    p->done += n;
    int tenths = p->total > 0 ? (int)(10 * p->done / p->total) : 10;
    if (p->tty || tenths > p->shown_tenths) show(p);
    p->shown_tenths = tenths;
}

void progress_end(gs_progress *p) {
    if (p->tty) fputs("\r\033[K", stderr);  // the line is erased: the command's own summary follows
    fflush(stderr);
}
