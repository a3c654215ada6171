// The training loop behind `gesture train`: Keras fit() semantics (per-epoch train/val metrics,
// EarlyStopping, ReduceLROnPlateau, ModelCheckpoint, CSV + HDF5 logs) over the prefetching loader,
// with atomic checkpoints every epoch, Ctrl-C handling and exact resume. One loop for every device:
// what a step does on the CPU or the GPU sits behind gs_train_backend (runtime.device).
#ifndef GESTURE_TRAINER_H
#define GESTURE_TRAINER_H

#include "gesture/config.h"
#include "gesture/loader.h"
#include "gesture/model.h"

// Train the model `cfg` describes into run_dir (created if needed). resume=1 continues from
// run_dir/checkpoints/last.h5. Returns the process exit code: 0 done, 130 interrupted (last.h5
// saved), 1 error (message printed).
// Call train_check first: what can be checked before the data and the model load.
int train_run(const gs_config *cfg, const char *run_dir, int resume);
// data.root set and a directory, model.pretrained (if set) a file, the device available: checked
// before anything is printed or created. 0 ok, -1 + gs_error.
int train_check(const gs_config *cfg);

// ---- per-device step, used by train_run (CPU: trainer.c, CUDA: cuda/train_cuda.cu) ----
// The loop calls, per batch b: step_start(b); loader_next -> prefetch(next); step_finish(); then
// releases b. The host parameters of `m` are the checkpointed ones: sync_host makes them current.
typedef struct gs_train_backend gs_train_backend;

// Data-parallel training (`mpirun -np N gesture train`, gesture/dist.h): every rank runs the loop on
// its shard of each global batch (the loader's shard_rank/shard_count) with a model planned for B/N
// clips. NULL in gs_train_backend.dist for one process. Before each step_start the trainer sets the
// step's global clip count and this rank's first row (from every rank's clip count); the backend's
// step then computes this rank's part of one process's step (loss over the global batch, BN
// statistics over every rank with sync_bn, dropout masks by global row, the L2 gradient once) and
// sums the gradients over the ranks before Adam, so every rank applies the same update.
typedef struct {
    int rank, size;
    int sync_bn;   // train.sync_bn: BN batch statistics over all ranks (on) or per rank (off)
    double bucket_mb;  // train.bucket_mb: gradient buckets summed during backward where the device can
    int n_global;  // clips of the current step's global batch (> 0)
    int row0;      // this rank's first row in it
} gs_train_dist;

typedef struct {
    // Start a training step on b (forward with labels, backward, Adam at lr): run it (CPU) or queue it (GPU).
    void (*step_start)(gs_train_backend *be, const gs_batch *b, float lr, float beta1, float beta2, float eps);
    // Start moving `next` towards the device while the step runs (CPU: nothing to do).
    void (*prefetch)(gs_train_backend *be, const gs_batch *next);
    // Wait for the step: m->loss set; returns its (b->n, K) probabilities on the host. Afterwards every
    // upload started so far has finished, so the loader slots of those batches may be released.
    const float *(*step_finish)(gs_train_backend *be);
    // Inference forward of b with labels (validation): m->loss set, (b->n, K) probabilities returned.
    const float *(*eval_batch)(gs_train_backend *be, const gs_batch *b);
    // Make the host parameters, moving statistics and Adam moments current (before checkpoint_save).
    void (*sync_host)(gs_train_backend *be);
    void (*free)(gs_train_backend *be);
    // The reverse of sync_host: the backend's parameters from the host ones (data-parallel: rank 0's
    // moving statistics shared with sync_bn off).
    void (*load_host)(gs_train_backend *be);
} gs_train_ops;

struct gs_train_backend {
    char device[400];  // for the banner: "cpu" or "cuda: <device name>"
    const char *kind;  // "cpu" or "cuda" (timing.ini)
    gs_model *m;
    void *ctx;
    long graph_steps;  // train steps replayed as a CUDA graph so far
    const gs_train_ops *ops;  // NULL until a backend is set up
    const gs_train_dist *dist;  // data-parallel step (above); NULL: one process
};

// Resolve runtime.device (auto: CUDA when train_cuda_available()) and, for CUDA, open the backend
// (train_cuda_open; close it with train_cuda_close). *use_cuda = 1 when CUDA was chosen.
// 0 ok, -1 + gs_error ("runtime.device = cuda: <why>").
int train_device_open(gs_device device, int *use_cuda);
// Without opening anything: 0 when `device` can be used (cuda: a backend and a device), else -1 +
// gs_error ("runtime.device = cuda: <why>").
int train_device_check(gs_device device);
// The CPU step (model_forward/backward/adam on the host model m).
void train_backend_cpu_init(gs_train_backend *be, gs_model *m);
// eval_batch of a CPU backend runs `plan` (gesture/plan.h, built from m; the caller keeps it and
// frees it after the backend, or after detaching it with plan NULL) instead of the reference
// executor: same probabilities and loss within 1e-4. The trainer does it for each validation pass
// (runtime.inference = plan), `gesture eval` for its pass.
struct gs_plan;
void train_backend_cpu_use_plan(gs_train_backend *be, struct gs_plan *plan);

// CUDA side, through the registered GPU backend (gesture/device.h; src/train/device.c). With none
// registered (a binary built without the CUDA backend), available() is 0 and the rest fail with a
// one-line gs_error saying so.
// 1 when the binary has the CUDA backend and gs_cuda_device_count() > 0.
int train_cuda_available(void);
// CUDA devices (0 without the backend).
int train_cuda_device_count(void);
// Initialize device 0 (before loader_init, so batch slots can be pinned). 0 ok, -1 + gs_error.
int train_cuda_open(void);
void train_cuda_close(void);
// Batch slots of this loader in pinned memory (gs_cuda_host_alloc / gs_cuda_host_free).
void train_cuda_loader_memory(gs_loader_config *lc);
// Data-parallel training on the GPU (one device per rank, NCCL): available (1), or 0 + gs_error
// saying why not; this rank's communicator, opened by every rank after train_cuda_open (0, or -1 +
// gs_error); closed before train_cuda_close.
int train_cuda_dist_available(void);
int train_cuda_dist_open(void);
void train_cuda_dist_close(void);
// GPU step for m: device memory for the plan, uploads m's parameters and Adam moments (call after
// any checkpoint_load); use_graph replays full-batch steps as a CUDA graph. 0 ok, -1 + gs_error.
int train_backend_cuda_init(gs_train_backend *be, gs_model *m, int use_graph, int bf16);
// An inference-only backend (eval_batch, sync_host, free; the rest are fatal): `plan` (built from m,
// kept by the caller until after the backend's free) on the opened GPU, in fp32 (the same
// probabilities and loss as plan_forward within rounding) or bf16 (runtime.precision). `gesture
// eval` and `gesture predict` on the GPU with runtime.inference = plan. 0, or -1 + gs_error.
int train_backend_gpu_plan_init(gs_train_backend *be, gs_model *m, struct gs_plan *plan, int bf16);

#endif
