// libFuzzer target: the frame front on JPEG (and any other) bytes — gs_frame_image_read_size, then
// gs_frame_image_read_rgb8_into — as the data loader and `gesture prepare --verify` read frames. The
// seeds are JPEGs, so most inputs reach TurboJPEG through the content sniffing.
#include <stdlib.h>

#include "fuzzutil.h"
#include "gesture/frame_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write("in.jpg", data, size);
    int w, h;
    if (fuzz_note(gs_frame_image_read_size(&w, &h, path)) != 0) return 0;
    uint8_t *buf = NULL;
    size_t cap = 0;
    if (fuzz_note(gs_frame_image_read_rgb8_into(&buf, &cap, &w, &h, path)) == 0 && w > 0 && h > 0) {
        volatile uint8_t sink = buf[(size_t)w * h * 3 - 1];  // the whole image is there
        (void)sink;
    }
    free(buf);
    return 0;
}
