// libFuzzer target: PNG decode (gs_png_read_size, gs_png_read_rgb8_into, gs_png_read_rgb8), as the
// data loader and `gesture prepare --verify` read frames.
#include <stdlib.h>

#include "fuzzutil.h"
#include "gesture/png.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write("in.png", data, size);
    int w, h;
    if (gs_png_read_size(&w, &h, path) != 0) return 0;
    uint8_t *buf = NULL;
    size_t cap = 0;
    if (gs_png_read_rgb8_into(&buf, &cap, &w, &h, path) == 0 && w > 0 && h > 0) {
        volatile uint8_t sink = buf[(size_t)w * h * 3 - 1];  // the whole image is there
        (void)sink;
    }
    free(buf);
    return 0;
}
