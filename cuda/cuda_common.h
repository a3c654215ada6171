// CUDA backend internals shared by the .cu files: error macros that name the failing statement,
// file:line and the library's own message; the process-wide context (device, streams, cuBLAS and
// cuDNN handles, scratch); launch-size helpers; the per-op completion check (debug-sync mode).
// C code never includes this; it uses include/gesture/ops_cuda.h.
#ifndef GESTURE_CUDA_COMMON_H
#define GESTURE_CUDA_COMMON_H

// errors.h spells gs_fatal with C11's _Noreturn, which C++ lacks.
#if defined(__cplusplus) && !defined(_Noreturn)
#define _Noreturn __attribute__((noreturn))
#endif

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <stddef.h>

extern "C" {  // the C headers carry no linkage guards of their own
#include "gesture/errors.h"
#include "gesture/ops.h"
}
#include "gesture/ops_cuda.h"

#define CUDA_CHECK(call)                                                                              \
    do {                                                                                              \
        cudaError_t e_ = (call);                                                                      \
        if (e_ != cudaSuccess)                                                                        \
            gs_fatal("CUDA error %s (%s) in `%s` at %s:%d", cudaGetErrorName(e_), cudaGetErrorString(e_), \
                     #call, __FILE__, __LINE__);                                                      \
    } while (0)

#define CUBLAS_CHECK(call)                                                                      \
    do {                                                                                        \
        cublasStatus_t s_ = (call);                                                             \
        if (s_ != CUBLAS_STATUS_SUCCESS)                                                        \
            gs_fatal("cuBLAS error %d (%s) in `%s` at %s:%d", (int)s_, cublasGetStatusString(s_), \
                     #call, __FILE__, __LINE__);                                                \
    } while (0)

#define CUDNN_CHECK(call)                                                                                  \
    do {                                                                                                   \
        cudnnStatus_t s_ = (call);                                                                         \
        if (s_ != CUDNN_STATUS_SUCCESS)                                                                    \
            gs_fatal("cuDNN error %d (%s) in `%s` at %s:%d", (int)s_, cudnnGetErrorString(s_), #call, __FILE__, \
                     __LINE__);                                                                            \
    } while (0)

// Every op wrapper ends with GS_CUDA_OP_DONE("op_name"): a launch error is reported at once
// (cheap, no sync); with GESTURE_CUDA_SYNC=1 the stream is synchronized too, so an asynchronous
// fault (illegal address, ...) is pinned on the op that caused it rather than a later one.
#define GS_CUDA_OP_DONE(name) gs_cuda_op_done((name), __FILE__, __LINE__)
void gs_cuda_op_done(const char *op, const char *file, int line);

typedef struct {
    int ready;
    int device;
    int sync_debug;     // GESTURE_CUDA_SYNC=1
    int sm_count;
    char name[384];
    cudaStream_t stream;       // compute: every op
    cudaStream_t copy_stream;  // host->device batch uploads
    cudaEvent_t copy_done;
    cublasHandle_t cublas;
    cudnnHandle_t cudnn;
    void *cublas_ws;  // fixed cuBLAS workspace: reproducible results, graph-capture safe
    void *scratch;
    size_t scratch_bytes;
    int scratch_grows;
    int gemm_bf16;        // gs_cuda_gemm_rm takes bf16 copies of its operands (gs_cuda_gemm_bf16)
    void *gemm_ws;        // those copies; grows like scratch (never during a capture)
    size_t gemm_ws_bytes;
} gs_cuda_ctx;

// The context, initialized on device 0 on first use if gs_cuda_init was not called (fatal if no device).
gs_cuda_ctx *gs_cuda_ctx_get(void);
static inline cudaStream_t gs_cuda_stream(void) { return gs_cuda_ctx_get()->stream; }

// Scratch for one op's temporaries: valid until the next op is queued (ops run in stream order,
// so the next op's reuse cannot overtake this op's kernels). Never freed by the caller.
void *gs_cuda_scratch(size_t bytes);
// Round a byte count up to the 256-byte alignment used when carving scratch.
static inline size_t gs_cuda_align(size_t bytes) { return (bytes + 255) & ~(size_t)255; }

// Row-major GEMM on the compute stream (cuBLAS is column-major; this swaps the operands):
// C(M,N) = alpha * op(A) @ op(B) + beta * C, op(A) (M,K), op(B) (K,N); lda/ldb/ldc are row strides.
// FP32 math (no TF32); with gs_cuda_gemm_bf16 on, A and B are first rounded to bf16 copies and the
// product runs on cublasGemmEx with fp32 accumulation and the same fp32 C.
void gs_cuda_gemm_rm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                     const float *B, int ldb, float beta, float *C, int ldc);
// Row-major C(M,N) = op(A) @ op(B) with bf16 A and B, fp32 C and fp32 accumulation (cublasGemmEx,
// tensor cores on GPUs that have bf16 ones): the bf16 inference plan's 1x1 convolutions.
void gs_cuda_gemm_rm_bf16(int trans_a, int trans_b, int M, int N, int K, const __nv_bfloat16 *A, int lda,
                          const __nv_bfloat16 *B, int ldb, float *C, int ldc);
// acc[j] += sum_i m[i*n + j]: deterministic two-level column sum (partials in double, fixed order).
// `partial` is caller scratch of gs_cuda_colsum_scratch_bytes(rows, n) bytes.
size_t gs_cuda_colsum_scratch_bytes(size_t rows, int n);
void gs_cuda_colsum_add(float *acc, const float *m, size_t rows, int n, double *partial);

// The folded inference plan on the device (plan_cuda.cu): gs_device_backend's plan_* entries
// (gesture/device.h), also timed by bench_cuda.cu.
struct gs_plan;
extern "C" void *cuda_plan_init(const struct gs_plan *p, int bf16);
extern "C" void cuda_plan_features(void *h, float *feat, const float *frames, int N);
extern "C" void cuda_plan_forward(void *h, float *probs, float loss[2], const float *clips, const int *labels, int B);
extern "C" void cuda_plan_free(void *h);

// Destroy the cached cuDNN convolution plans (conv2d.cu); called by gs_cuda_shutdown.
void gs_cuda_conv_plans_free(void);

// Blocks for a grid-stride loop over n items: enough to fill the device, never more than needed.
static inline unsigned gs_cuda_blocks(size_t n, int threads) {
    size_t b = (n + (size_t)threads - 1) / (size_t)threads;
    size_t cap = (size_t)gs_cuda_ctx_get()->sm_count * 32;
    if (b > cap) b = cap;
    return (unsigned)(b < 1 ? 1 : b);
}

#endif
