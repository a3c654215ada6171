// The GPU side of training and evaluation as the core sees it: the registered device backend
// (gesture/device.h) behind the trainer's device functions (gesture/trainer.h). Without a
// registered backend every call says so in one line.
#include <stdio.h>

#include "gesture/device.h"
#include "gesture/config.h"
#include "gesture/errors.h"
#include "gesture/trainer.h"

static const gs_device_backend *gpu;

void device_register_gpu(const gs_device_backend *d) { gpu = d; }

const gs_device_backend *device_gpu(void) { return gpu; }

#define NO_BACKEND \
    "this binary was built without the CUDA backend (configure with -DGESTURE_CUDA=ON on a machine with nvcc and " \
    "cuDNN)"

static int missing(void) { return gs_error(NO_BACKEND); }

int train_cuda_available(void) { return gpu && gpu->count() > 0; }

int train_cuda_device_count(void) { return gpu ? gpu->count() : 0; }

int train_cuda_open(void) { return gpu ? gpu->open() : missing(); }

void train_cuda_close(void) {
    if (gpu) gpu->close();
}

void train_cuda_loader_memory(gs_loader_config *lc) {
    if (!gpu) return;
    lc->host_alloc = gpu->host_alloc;
    lc->host_free = gpu->host_free;
}

int train_backend_cuda_init(gs_train_backend *be, gs_model *m, int use_graph) {
    return gpu ? gpu->train_init(be, m, use_graph) : missing();
}

int train_cuda_dist_available(void) {
    if (!gpu) return missing() + 1;
    return gpu->dist_available ? gpu->dist_available() : gs_error("the GPU backend has no data-parallel training") + 1;
}

int train_cuda_dist_open(void) { return gpu && gpu->dist_open ? gpu->dist_open() : missing(); }

void train_cuda_dist_close(void) {
    if (gpu && gpu->dist_close) gpu->dist_close();
}

int train_device_check(gs_device device) {
    if (device != GS_DEVICE_CUDA || train_cuda_available()) return 0;
    return gs_error("runtime.device = cuda: %s", gpu ? "no CUDA device found (gesture info lists them)" : NO_BACKEND);
}

int train_device_open(gs_device device, int *use_cuda) {
    // auto: the GPU when this binary has the CUDA backend and a device is present
    *use_cuda = device == GS_DEVICE_CUDA || (device == GS_DEVICE_AUTO && train_cuda_available());
    if (*use_cuda && train_cuda_open())
        return gs_error("runtime.device = %s: %s", config_device_name(device), gs_last_error());
    return 0;
}
