// The train progress line (gesture/progress_line.h) fits any terminal width: never wider than width - 1,
// all fields and a full bar when wide, the bar before loss when narrow.
#include <stdio.h>
#include <string.h>

#include "gesture/progress_line.h"
#include "testutil.h"

int main(void) {
    gs_progress_line p = {.epoch = 12, .epochs = 40, .step = 1234, .steps = 5678, .loss = 0.1234, .accuracy = 0.5678,
                     .img_per_s = 1234.5, .eta_s = 12345};
    const int widths[] = {10, 20, 40, 60, 80, 100, 120, 200};
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++) {
        char line[512];
        progress_line_format(line, sizeof line, widths[i], &p);
        check((int)strlen(line) <= widths[i] - 1, "width %d: %zu chars '%s'", widths[i], strlen(line), line);
        if (widths[i] > 12) check(strncmp(line, "Epoch 12/40", 11) == 0, "width %d starts with the epoch", widths[i]);
    }
    char line[512];
    progress_line_format(line, sizeof line, 120, &p);
    check(strstr(line, "img/s") && strstr(line, "ETA") && strstr(line, "acc") && strstr(line, "[====="),
          "120 columns: every field and the bar: '%s'", line);
    progress_line_format(line, sizeof line, 80, &p);
    check(strstr(line, "[") && strstr(line, "loss 0.1234") && strstr(line, "acc"), "80 columns: bar, loss, acc: '%s'",
          line);
    progress_line_format(line, sizeof line, 40, &p);
    check(strstr(line, "loss 0.1234") != NULL, "40 columns: loss kept: '%s'", line);
    return test_finish();
}
