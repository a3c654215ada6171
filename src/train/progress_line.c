// The train progress line (gesture/progress_line.h): layouts from richest to barest, the first that fits
// the terminal's width wins.
#include "gesture/progress_line.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

enum { BAR_MIN = 8, BAR_MAX = 30 };

// The fields after the bar: loss always, then accuracy, ETA and img/s while `keep` allows (3 = all).
static void tail_fields(char *buf, size_t n, const gs_progress_line *p, int keep) {
    int len = snprintf(buf, n, "loss %.4f", p->loss);
    if (keep >= 1) len += snprintf(buf + len, n - (size_t)len, " acc %.4f", p->accuracy);
    if (keep >= 3) len += snprintf(buf + len, n - (size_t)len, " %.1f img/s", p->img_per_s);
    if (keep >= 2) snprintf(buf + len, n - (size_t)len, " ETA %.0fs", p->eta_s);
}

void progress_line_format(char *buf, size_t n, int width, const gs_progress_line *p) {
    int room = width - 1;
    char head[64], tail[128];
    snprintf(head, sizeof head, "Epoch %d/%d %4d/%d", p->epoch, p->epochs, p->step, p->steps);
    for (int keep = 3; keep >= 0; keep--) {
        tail_fields(tail, sizeof tail, p, keep);
        int bar = room - (int)(strlen(head) + strlen(tail) + 4);  // "head [bar] tail"
        if (bar < BAR_MIN) continue;
        if (bar > BAR_MAX) bar = BAR_MAX;
        char fill[BAR_MAX + 1];
        int done = p->steps ? (int)((long)p->step * bar / p->steps) : bar;
        for (int i = 0; i < bar; i++) fill[i] = i < done ? '=' : i == done ? '>' : '.';
        fill[bar] = 0;
        snprintf(buf, n, "%s [%s] %s", head, fill, tail);
        return;
    }
    tail_fields(tail, sizeof tail, p, 0);  // no bar: as much of "head loss" as fits
    size_t cut = room > 0 ? (size_t)room + 1 : 1;
    snprintf(buf, n < cut ? n : cut, "%s %s", head, tail);
}

int progress_term_width(int fd) {
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    const char *c = getenv("COLUMNS");
    int cols = c ? atoi(c) : 0;
    return cols > 0 ? cols : 80;
}
