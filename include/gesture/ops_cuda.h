// CUDA backend, callable from C: device runtime (init, memory, arenas, pinned host memory,
// streams, NVTX) and the CUDA twin of every CPU op in ops.h. Each op `foo_cuda` has the
// contract of `foo` in ops.h (same arguments and order, same layouts, backward ops ACCUMULATE
// into every gradient output, NULL gradient outputs are skipped) except that every tensor
// pointer is a DEVICE pointer and nothing is returned through the host: scalar results (loss,
// L2 penalty) are written to device scalars so a train step needs no host sync.
// All ops are queued on the backend's compute stream; call gs_cuda_sync() before reading results.
// Only declared when the library was built with the CUDA backend (GESTURE_WITH_CUDA).
#ifndef GESTURE_OPS_CUDA_H
#define GESTURE_OPS_CUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// ---- runtime ----
// Number of usable CUDA devices; 0 when there is no device or no driver (never fatal).
int gs_cuda_device_count(void);
// Select `device`, create the stream, cuBLAS and cuDNN handles. 0 ok, -1 + gs_error.
// Env GESTURE_CUDA_SYNC=1: synchronize after every op and name the op that faulted.
int gs_cuda_init(int device);
void gs_cuda_shutdown(void);
// "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs)" after init.
const char *gs_cuda_device_name(void);
// Wait for all queued work on the compute stream; fatal (naming the error) if any op failed.
void gs_cuda_sync(void);
// The same, for a data-parallel step whose work includes collectives (cuda/dist_nccl.cu): past
// timeout_s the job ends naming the ranks that no longer answer (dist_abort_stalled).
void gs_cuda_sync_within(double timeout_s, const char *what);
// NCCL for data-parallel training (cuda/dist_nccl.cu): usable (1: built in and libnccl loads; 0 +
// gs_error saying why not); open this rank's communicator (every rank at the same point; 0, or -1 +
// gs_error); the reducer that sums device buffers over the ranks on the compute stream (NULL until
// opened).
int gs_nccl_available(void);
int gs_nccl_open(void);
void gs_nccl_close(void);
const struct gs_reducer *gs_nccl_reducer(void);

// Device memory outside arenas (setup time only, never inside a step). Fatal on failure.
void *gs_cuda_malloc(size_t bytes);
void gs_cuda_free(void *p);
// Synchronous copies (setup, tests, checkpoints).
void gs_cuda_upload(void *dst_dev, const void *src_host, size_t bytes);
void gs_cuda_download(void *dst_host, const void *src_dev, size_t bytes);
// Queued on the compute stream.
void gs_cuda_copy_async(void *dst_dev, const void *src_dev, size_t bytes);
// `rows` blocks of `width` bytes, from src every src_pitch bytes to dst every dst_pitch bytes (one
// cudaMemcpy2DAsync, device to device).
void gs_cuda_copy2d_async(void *dst_dev, size_t dst_pitch, const void *src_dev, size_t src_pitch, size_t width,
                          size_t rows);
void gs_cuda_memset_async(void *dst_dev, int value, size_t bytes);
// Host->device on the copy stream (src should be pinned); gs_cuda_wait_copies() makes the
// compute stream wait for every copy queued so far, without blocking the host.
void gs_cuda_upload_async(void *dst_dev, const void *src_host, size_t bytes);
void gs_cuda_wait_copies(void);
// Block the host until every copy queued on the copy stream so far has finished (an event wait,
// not a device sync): after this the pinned sources of those uploads may be reused or freed.
void gs_cuda_copies_sync(void);
// Make the copy stream wait for everything queued on the compute stream so far, without blocking
// the host: an upload queued next cannot overwrite a buffer the compute stream still reads.
void gs_cuda_copies_after_compute(void);

// Pinned host memory with the signatures of gs_loader_config.host_alloc / host_free.
// Fall back to aligned malloc when no device is initialized (so a loader can always use them).
void *gs_cuda_host_alloc(size_t bytes);
void gs_cuda_host_free(void *p);

// Device arena: one cudaMalloc, bump allocation (256-byte aligned), freed as a whole.
typedef struct {
    char *base;
    size_t cap, used, peak;
} gs_cuda_arena;
int gs_cuda_arena_init(gs_cuda_arena *a, size_t bytes);  // 0 ok, -1 + gs_error (out of memory)
void *gs_cuda_arena_alloc(gs_cuda_arena *a, size_t bytes);  // fatal when full (a planning bug)
void gs_cuda_arena_free(gs_cuda_arena *a);

// Ops borrow temporaries (reduction partials, padded inputs, GRU BPTT buffers, cuDNN workspace)
// from one scratch buffer owned by the backend. A too-small scratch grows (a device sync +
// cudaMalloc, counted): the executor's first full-batch step sizes it (model_cuda_train_step's
// eager warm-up), so later steps and a captured graph allocate nothing. reserve() grows it up
// front (tests use it to move the buffer on purpose).
void gs_cuda_scratch_reserve(size_t bytes);
int gs_cuda_scratch_grow_count(void);

// runtime.precision = bf16 in the executor: every GEMM of the ops (1x1 convs, dense layers, the GRU's
// projections and recurrence) rounds its two operands to bf16 and accumulates in fp32 (tensor
// cores); outputs, the other ops, parameters, statistics and Adam stay fp32. Returns the previous
// setting; the executor sets it around each step it queues (a captured graph keeps what it saw).
int gs_cuda_gemm_bf16(int on);
// The bf16 operand copies' buffer (a growth moves it, as the op scratch: a graph captured before
// must be captured again).
const void *gs_cuda_gemm_ws(void);

// NVTX ranges (Nsight Systems timeline) and the profiler capture window.
void gs_cuda_range_push(const char *name);
void gs_cuda_range_pop(void);
void gs_cuda_profiler_start(void);
void gs_cuda_profiler_stop(void);

// ---- ops: see ops.h for each contract; all pointers are device pointers ----
void matmul_forward_cuda(float *out, const float *inp, const float *w, const float *bias, int M, int K,
                         int Nout);
void matmul_backward_cuda(float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                          const float *w, int M, int K, int Nout);

// Conv1 through cuDNN (NHWC). cuDNN pads symmetrically, Keras 'same' with stride 2 pads 0 before /
// 1 after: the input is copied into a zero-padded scratch image and cuDNN runs 'valid'.
void conv2d_forward_cuda(float *out, const float *inp, const float *w, int N, int H, int W, int Ci, int Co,
                         int K, int stride, int pad_top, int pad_left, int Ho, int Wo);
void conv2d_backward_cuda(float *dinp, float *dw, const float *dout, const float *inp, const float *w, int N,
                          int H, int W, int Ci, int Co, int K, int stride, int pad_top, int pad_left, int Ho,
                          int Wo);

void depthwise_forward_cuda(float *out, const float *inp, const float *w, int N, int H, int W, int C, int K,
                            int stride, int pad_top, int pad_left, int Ho, int Wo);
// dw is a deterministic split reduction (fixed partition of the rows, fixed summation order).
void depthwise_backward_cuda(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                             int N, int H, int W, int C, int K, int stride, int pad_top, int pad_left, int Ho,
                             int Wo);

void batchnorm_forward_train_cuda(float *out, float *mean, float *invstd, float *moving_mean, float *moving_var,
                                  const float *inp, const float *gamma, const float *beta, int M, int C,
                                  float eps, float momentum, int act);
void batchnorm_forward_infer_cuda(float *out, const float *inp, const float *gamma, const float *beta,
                                  const float *moving_mean, const float *moving_var, int M, int C, float eps,
                                  int act);
void batchnorm_backward_cuda(float *dinp, float *dgamma, float *dbeta, const float *dout, const float *out,
                             const float *inp, const float *mean, const float *invstd, const float *gamma, int M,
                             int C, int act);
// Data-parallel with sync_bn (ops.h, batchnorm_*_sync): r->sum is called with a DEVICE buffer of
// 2C+1 doubles and queues its sum over the ranks on the compute stream (NCCL). M may be 0.
struct gs_reducer;
void batchnorm_forward_train_sync_cuda(float *out, float *mean, float *invstd, float *moving_mean, float *moving_var,
                                       const float *inp, const float *gamma, const float *beta, int M, int C,
                                       float eps, float momentum, int act, const struct gs_reducer *r);
void batchnorm_backward_sync_cuda(float *dinp, float *dgamma, float *dbeta, const float *dout, const float *out,
                                  const float *inp, const float *mean, const float *invstd, const float *gamma,
                                  int M, int C, int act, const struct gs_reducer *r);

void relu_forward_cuda(float *out, const float *inp, size_t n);
void relu_backward_cuda(float *dinp, const float *dout, const float *out, size_t n);
// GPU-only helper: g[i] = out[i] > 0 ? g[i] : 0 in place (the CPU executor's loop over a Dense+ReLU
// gradient).
void relu_mask_cuda(float *g, const float *out, size_t n);
void add_forward_cuda(float *out, const float *a, const float *b, size_t n);
void add_backward_cuda(float *da, float *db, const float *dout, size_t n);

void avgpool_forward_cuda(float *out, const float *inp, int N, int HW, int C);
void avgpool_backward_cuda(float *dinp, const float *dout, int N, int HW, int C);

// Cache layout and size as on the CPU (gru_cache_floats).
void gru_forward_cuda(float *out, float *cache, const float *x, const float *kernel, const float *rkernel,
                      const float *bias, int B, int T, int D, int H, int out_stride, int reverse);
void gru_backward_cuda(float *dx, float *dkernel, float *drkernel, float *dbias, const float *dout,
                       const float *cache, const float *x, const float *kernel, const float *rkernel, int B, int T,
                       int D, int H, int out_stride, int reverse);

// Same mask as the CPU: gs_counter_uniform(key, i) >= rate.
void dropout_forward_cuda(float *out, const float *inp, size_t n, float rate, uint64_t key);
void dropout_backward_cuda(float *dinp, const float *dout, size_t n, float rate, uint64_t key);

// The CPU op returns the mean loss; here it is written to *loss_mean (device, may be NULL).
// labels are device ints.
void softmax_ce_forward_cuda(float *probs, float *losses, float *loss_mean, const float *logits,
                             const int *labels, int B, int K);
void softmax_ce_backward_cuda(float *dlogits, const float *probs, const int *labels, int B, int K, float scale);

// *loss += l2 * sum(w^2) (device scalar; accumulates so several penalties share one scalar).
void l2_forward_cuda(float *loss, const float *w, size_t n, float l2);
void l2_backward_cuda(float *dw, const float *w, size_t n, float l2);

void adam_update_cuda(float *params, float *m, float *v, const float *grads, size_t n, float lr, float beta1,
                      float beta2, float eps, long t);

// ---- step-state variants (CUDA-graph capturable) ----
// A captured graph replays its kernel arguments as captured; what changes every train step is read
// from DEVICE memory instead (`key`, `alpha` point into a step-state buffer the host refreshes
// before each launch). Given the same values, results are bitwise those of the twins above.
void dropout_forward_state_cuda(float *out, const float *inp, size_t n, float rate, const uint64_t *key);
void dropout_backward_state_cuda(float *dinp, const float *dout, size_t n, float rate, const uint64_t *key);
// Elements first.. of a larger tensor (ops.h dropout_*_at: a data-parallel rank's rows).
void dropout_forward_state_at_cuda(float *out, const float *inp, size_t n, float rate, const uint64_t *key,
                                   size_t first);
void dropout_backward_state_at_cuda(float *dinp, const float *dout, size_t n, float rate, const uint64_t *key,
                                    size_t first);
// softmax_ce_forward_cuda with *loss_mean = mean * scale (a data-parallel rank's share of the global
// batch's mean: scale = rows here / rows of the global batch).
void softmax_ce_forward_scaled_cuda(float *probs, float *losses, float *loss_mean, const float *logits,
                                    const int *labels, int B, int K, float scale);
// `alpha` holds adam_step_size(lr, beta1, beta2, t) (ops.h), the value adam_update uses.
void adam_update_state_cuda(float *params, float *m, float *v, const float *grads, size_t n, const float *alpha,
                            float beta1, float beta2, float eps);

#ifdef __cplusplus
}
#endif

#endif
