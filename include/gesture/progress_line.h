// The train progress line drawn on a terminal (stderr): fitted to the terminal's width so that a
// redraw never wraps; the bar shrinks first, then the least important fields go. (gesture/progress.h
// is the plain work counter of synth and bench.)
#ifndef GESTURE_PROGRESS_LINE_H
#define GESTURE_PROGRESS_LINE_H

#include <stddef.h>

// What one redraw shows.
typedef struct {
    int epoch, epochs;  // epoch is 1-based
    int step, steps;
    double loss, accuracy, img_per_s, eta_s;
} gs_progress_line;

// The line for p in buf (n bytes), at most width - 1 characters (the last column stays free: a
// character there wraps on some terminals). Fields are dropped in this order as the width shrinks:
// img/s, ETA, accuracy, the bar; what still does not fit is cut.
void progress_line_format(char *buf, size_t n, int width, const gs_progress_line *p);
// Columns of the terminal on fd (ioctl TIOCGWINSZ), else $COLUMNS, else 80.
int progress_term_width(int fd);

#endif
