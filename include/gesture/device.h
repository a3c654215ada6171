// Devices beside the CPU. A device library registers itself at start-up (the `gesture` binary calls
// gs_cuda_register() when it was built with the CUDA backend), and the core — the training loop,
// evaluation, `gesture info` and `gesture bench` — reaches the GPU only through this table, so
// gesture_core never links against a device library.
#ifndef GESTURE_DEVICE_H
#define GESTURE_DEVICE_H

#include <stddef.h>

struct gs_config;
struct gs_model;
struct gs_plan;
struct gs_train_backend;

typedef struct {
    const char *name;                 // "cuda"
    int (*count)(void);               // usable devices; 0 when there is none or no driver (never fatal)
    int (*open)(void);                // initialize device 0: 0 ok, -1 + gs_error
    void (*close)(void);
    const char *(*device_name)(void); // of the opened device
    void *(*host_alloc)(size_t bytes);  // pinned host memory (loader batch slots)
    void (*host_free)(void *p);
    // The training/eval step on the opened device for m (uploads m's parameters and Adam moments):
    // 0 ok, -1 + gs_error. use_graph: replay full-batch train steps as one graph; bf16: the GEMMs on
    // bf16 operands (runtime.precision).
    int (*train_init)(struct gs_train_backend *be, struct gs_model *m, int use_graph, int bf16);
    // `gesture bench` on this device: prints its table, returns the exit code.
    int (*bench)(const struct gs_config *cfg, int steps);
    // Per-frame features for `gesture stream`: nodes [0, to) of m on the opened device, bf16: the
    // GEMMs on bf16 operands. features_init uploads m's parameters (NULL + gs_error on failure); features_run uploads
    // x (batch inputs in model_input's layout), runs the nodes and copies node to-1's output
    // (its rows for `batch` clips) to out on the host.
    void *(*features_init)(struct gs_model *m, int bf16);
    void (*features_run)(void *h, float *out, const float *x, int batch, int to);
    void (*features_free)(void *h);
    // The folded inference plan (gesture/plan.h) on the opened device, for predict, eval and stream
    // with runtime.inference = plan: plan_init uploads p's folded layers (p must outlive the handle;
    // NULL + gs_error on failure), bf16: activations and 1x1 weights in bf16 (runtime.precision);
    // plan_features and plan_forward are plan_features and plan_forward with host inputs and
    // outputs, the same results within rounding (fp32) or bf16's tolerance (tests/test_cuda_plan.c).
    void *(*plan_init)(const struct gs_plan *p, int bf16);
    void (*plan_features)(void *h, float *feat, const float *frames, int N);
    void (*plan_forward)(void *h, float *probs, float loss[2], const float *clips, const int *labels, int B);
    void (*plan_free)(void *h);
    // Data-parallel training over MPI ranks, one device per rank (open() picks the rank's local
    // index): whether it is available (CUDA: NCCL built in and loadable; 0 + gs_error saying why not),
    // and this rank's communicator, opened by every rank at the same point once the device is open
    // (0, or -1 + gs_error) and closed before the device.
    int (*dist_available)(void);
    int (*dist_open)(void);
    void (*dist_close)(void);
} gs_device_backend;

// Register the GPU backend (one at most; a second registration replaces the first).
void device_register_gpu(const gs_device_backend *d);
// The registered GPU backend, NULL when this binary has none.
const gs_device_backend *device_gpu(void);

#endif
