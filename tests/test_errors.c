// Error helpers (gesture/errors.h): a message that wraps the previous one, as callers do with
// gs_error("context: %s", gs_last_error()), comes out once and whole.
#include <string.h>

#include "gesture/errors.h"
#include "testutil.h"

int main(void) {
    gs_error("no CUDA device (cudaGetDeviceCount found none or no driver)");
    gs_error("runtime.device = %s: %s", "cuda", gs_last_error());
    const char *want = "runtime.device = cuda: no CUDA device (cudaGetDeviceCount found none or no driver)";
    check(!strcmp(gs_last_error(), want), "wrapped message: %s", gs_last_error());
    gs_error("a: %s", gs_last_error());
    gs_error("b: %s", gs_last_error());
    check(!strncmp(gs_last_error(), "b: a: runtime.device = cuda: no CUDA", 36), "twice wrapped: %s", gs_last_error());
    return test_finish();
}
