// CUDA backend runtime: the process-wide context (device, compute + copy streams, cuBLAS/cuDNN
// handles with a fixed cuBLAS workspace), device memory and arenas, pinned host memory for the
// loader, op scratch, NVTX ranges, the debug-sync check, and the two shared helpers every op file
// uses (row-major GEMM, deterministic column sums).
#include <cuda_profiler_api.h>
#include <nvtx3/nvToolsExt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_common.h"

// cuBLAS needs a workspace per stream; a fixed one keeps its results reproducible and makes the
// stream capturable (no allocation inside cuBLAS during capture). 32 MiB is NVIDIA's Hopper advice.
#define CUBLAS_WS_BYTES ((size_t)32 << 20)

static gs_cuda_ctx g_ctx;
// Beside the context (cuda_common.h): copy-stream completion for gs_cuda_copies_sync, and the
// compute-stream mark the copy stream waits on in gs_cuda_copies_after_compute.
static cudaEvent_t g_copies_synced, g_compute_mark;

extern "C" int gs_cuda_device_count(void) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();  // no driver / no device is an answer, not a sticky error
        return 0;
    }
    return n;
}

extern "C" int gs_cuda_init(int device) {
    if (g_ctx.ready) {
        if (g_ctx.device == device) return 0;
        return gs_error("CUDA backend already initialized on device %d (asked for %d)", g_ctx.device, device);
    }
    int n = gs_cuda_device_count();
    if (n == 0) return gs_error("no CUDA device (cudaGetDeviceCount found none or no driver)");
    if (device < 0 || device >= n) return gs_error("CUDA device %d does not exist (%d found)", device, n);
    cudaError_t e = cudaSetDevice(device);
    if (e != cudaSuccess) return gs_error("cudaSetDevice(%d): %s", device, cudaGetErrorString(e));
    cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
    g_ctx.device = device;
    g_ctx.sm_count = prop.multiProcessorCount;
    snprintf(g_ctx.name, sizeof g_ctx.name, "%.255s (sm_%d%d, %d SMs, %.0f GiB)", prop.name, prop.major, prop.minor,
             prop.multiProcessorCount, (double)prop.totalGlobalMem / (1 << 30));
    const char *s = getenv("GESTURE_CUDA_SYNC");
    g_ctx.sync_debug = s && s[0] == '1';
    CUDA_CHECK(cudaStreamCreateWithFlags(&g_ctx.stream, cudaStreamNonBlocking));
    CUDA_CHECK(cudaStreamCreateWithFlags(&g_ctx.copy_stream, cudaStreamNonBlocking));
    CUDA_CHECK(cudaEventCreateWithFlags(&g_ctx.copy_done, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventCreateWithFlags(&g_copies_synced, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventCreateWithFlags(&g_compute_mark, cudaEventDisableTiming));
    CUBLAS_CHECK(cublasCreate(&g_ctx.cublas));
    CUBLAS_CHECK(cublasSetStream(g_ctx.cublas, g_ctx.stream));
    // Pure FP32 (no TF32): the ops are checked against the CPU at 1e-4.
    CUBLAS_CHECK(cublasSetMathMode(g_ctx.cublas, CUBLAS_DEFAULT_MATH));
    CUDA_CHECK(cudaMalloc(&g_ctx.cublas_ws, CUBLAS_WS_BYTES));
    CUBLAS_CHECK(cublasSetWorkspace(g_ctx.cublas, g_ctx.cublas_ws, CUBLAS_WS_BYTES));
    CUDNN_CHECK(cudnnCreate(&g_ctx.cudnn));
    CUDNN_CHECK(cudnnSetStream(g_ctx.cudnn, g_ctx.stream));
    g_ctx.ready = 1;
    if (g_ctx.sync_debug) fprintf(stderr, "gesture: GESTURE_CUDA_SYNC=1, synchronizing after every CUDA op\n");
    return 0;
}

extern "C" void gs_cuda_shutdown(void) {
    if (!g_ctx.ready) return;
    CUDA_CHECK(cudaStreamSynchronize(g_ctx.stream));
    CUDA_CHECK(cudaStreamSynchronize(g_ctx.copy_stream));
    gs_cuda_conv_plans_free();
    CUDA_CHECK(cudaFree(g_ctx.scratch));
    CUDA_CHECK(cudaFree(g_ctx.gemm_ws));
    CUDA_CHECK(cudaFree(g_ctx.cublas_ws));
    CUDNN_CHECK(cudnnDestroy(g_ctx.cudnn));
    CUBLAS_CHECK(cublasDestroy(g_ctx.cublas));
    CUDA_CHECK(cudaEventDestroy(g_ctx.copy_done));
    CUDA_CHECK(cudaEventDestroy(g_copies_synced));
    CUDA_CHECK(cudaEventDestroy(g_compute_mark));
    CUDA_CHECK(cudaStreamDestroy(g_ctx.copy_stream));
    CUDA_CHECK(cudaStreamDestroy(g_ctx.stream));
    memset(&g_ctx, 0, sizeof g_ctx);
}

gs_cuda_ctx *gs_cuda_ctx_get(void) {
    if (!g_ctx.ready && gs_cuda_init(0)) gs_fatal("CUDA backend: %s", gs_last_error());
    return &g_ctx;
}

extern "C" const char *gs_cuda_device_name(void) { return g_ctx.ready ? g_ctx.name : "(CUDA not initialized)"; }

extern "C" void gs_cuda_sync(void) {
    cudaError_t e = cudaStreamSynchronize(gs_cuda_stream());
    if (e != cudaSuccess)
        gs_fatal("CUDA error %s (%s) surfaced at gs_cuda_sync; rerun with GESTURE_CUDA_SYNC=1 to name the op",
                 cudaGetErrorName(e), cudaGetErrorString(e));
}

void gs_cuda_op_done(const char *op, const char *file, int line) {
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess)
        gs_fatal("CUDA error %s (%s) launching %s (%s:%d)", cudaGetErrorName(e), cudaGetErrorString(e), op, file, line);
    if (!g_ctx.sync_debug) return;
    cudaStreamCaptureStatus cap;
    CUDA_CHECK(cudaStreamIsCapturing(g_ctx.stream, &cap));
    if (cap != cudaStreamCaptureStatusNone) return;  // a capturing stream cannot be synchronized
    e = cudaStreamSynchronize(g_ctx.stream);
    if (e != cudaSuccess)
        gs_fatal("CUDA error %s (%s) while running %s (%s:%d)", cudaGetErrorName(e), cudaGetErrorString(e), op, file,
                 line);
}

// ---- memory ----
extern "C" void *gs_cuda_malloc(size_t bytes) {
    gs_cuda_ctx_get();
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1);
    if (e != cudaSuccess) gs_fatal("cudaMalloc(%zu bytes): %s", bytes, cudaGetErrorString(e));
    return p;
}

extern "C" void gs_cuda_free(void *p) {
    if (p) CUDA_CHECK(cudaFree(p));
}

extern "C" void gs_cuda_upload(void *dst, const void *src, size_t bytes) {
    if (!bytes) return;
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, gs_cuda_stream()));
    CUDA_CHECK(cudaStreamSynchronize(gs_cuda_stream()));
}

extern "C" void gs_cuda_download(void *dst, const void *src, size_t bytes) {
    if (!bytes) return;
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, gs_cuda_stream()));
    CUDA_CHECK(cudaStreamSynchronize(gs_cuda_stream()));
}

extern "C" void gs_cuda_copy_async(void *dst, const void *src, size_t bytes) {
    if (bytes && dst != src) CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, gs_cuda_stream()));
}

extern "C" void gs_cuda_copy2d_async(void *dst, size_t dst_pitch, const void *src, size_t src_pitch, size_t width,
                                     size_t rows) {
    if (width && rows)
        CUDA_CHECK(cudaMemcpy2DAsync(dst, dst_pitch, src, src_pitch, width, rows, cudaMemcpyDeviceToDevice,
                                     gs_cuda_stream()));
}

extern "C" void gs_cuda_memset_async(void *dst, int value, size_t bytes) {
    if (bytes) CUDA_CHECK(cudaMemsetAsync(dst, value, bytes, gs_cuda_stream()));
}

extern "C" void gs_cuda_upload_async(void *dst, const void *src, size_t bytes) {
    gs_cuda_ctx *c = gs_cuda_ctx_get();
    if (bytes) CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, c->copy_stream));
}

extern "C" void gs_cuda_wait_copies(void) {
    gs_cuda_ctx *c = gs_cuda_ctx_get();
    CUDA_CHECK(cudaEventRecord(c->copy_done, c->copy_stream));
    CUDA_CHECK(cudaStreamWaitEvent(c->stream, c->copy_done, 0));
}

extern "C" void gs_cuda_copies_sync(void) {
    gs_cuda_ctx *c = gs_cuda_ctx_get();
    CUDA_CHECK(cudaEventRecord(g_copies_synced, c->copy_stream));
    CUDA_CHECK(cudaEventSynchronize(g_copies_synced));
}

extern "C" void gs_cuda_copies_after_compute(void) {
    gs_cuda_ctx *c = gs_cuda_ctx_get();
    CUDA_CHECK(cudaEventRecord(g_compute_mark, c->stream));
    CUDA_CHECK(cudaStreamWaitEvent(c->copy_stream, g_compute_mark, 0));
}

// Every host block starts with a header recording how it was allocated (pinned after gs_cuda_init,
// plain memory before), so gs_cuda_host_free needs no driver query. 64 bytes keep the block
// 64-byte aligned, as the loader's default allocator is.
#define HOST_HEADER 64
#define HOST_PINNED 0x50494e4eu  // "PINN"
#define HOST_PLAIN 0x504c4e00u

extern "C" void *gs_cuda_host_alloc(size_t bytes) {
    char *p = NULL;
    unsigned tag = HOST_PLAIN;
    if (!g_ctx.ready) {
        p = (char *)gs_aligned_alloc(bytes + HOST_HEADER);
    } else {
        cudaError_t e = cudaHostAlloc((void **)&p, bytes + HOST_HEADER, cudaHostAllocPortable);
        if (e != cudaSuccess) gs_fatal("cudaHostAlloc(%zu bytes): %s", bytes, cudaGetErrorString(e));
        tag = HOST_PINNED;
    }
    memcpy(p, &tag, sizeof tag);
    return p + HOST_HEADER;
}

extern "C" void gs_cuda_host_free(void *p) {
    if (!p) return;
    char *b = (char *)p - HOST_HEADER;
    unsigned tag;
    memcpy(&tag, b, sizeof tag);
    if (tag == HOST_PINNED) {
        CUDA_CHECK(cudaFreeHost(b));
    } else {
        GS_ASSERT(tag == HOST_PLAIN);  // not from gs_cuda_host_alloc
        free(b);
    }
}

// ---- arena ----
extern "C" int gs_cuda_arena_init(gs_cuda_arena *a, size_t bytes) {
    gs_cuda_ctx_get();
    memset(a, 0, sizeof *a);
    cudaError_t e = cudaMalloc((void **)&a->base, bytes ? bytes : 256);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return gs_error("CUDA arena: cudaMalloc(%.1f MiB) failed: %s", (double)bytes / (1 << 20), cudaGetErrorString(e));
    }
    a->cap = bytes;
    return 0;
}

extern "C" void *gs_cuda_arena_alloc(gs_cuda_arena *a, size_t bytes) {
    size_t need = gs_cuda_align(bytes);
    if (a->used + need > a->cap)
        gs_fatal("CUDA arena full: %zu + %zu bytes > capacity %zu (plan the arena larger)", a->used, need, a->cap);
    void *p = a->base + a->used;
    a->used += need;
    if (a->used > a->peak) a->peak = a->used;
    return p;
}

extern "C" void gs_cuda_arena_free(gs_cuda_arena *a) {
    if (a->base) CUDA_CHECK(cudaFree(a->base));
    memset(a, 0, sizeof *a);
}

// ---- scratch ----
static void scratch_resize(size_t bytes) {
    gs_cuda_ctx *c = gs_cuda_ctx_get();
    cudaStreamCaptureStatus cap;
    CUDA_CHECK(cudaStreamIsCapturing(c->stream, &cap));
    if (cap != cudaStreamCaptureStatusNone)
        gs_fatal("CUDA scratch must grow to %zu bytes during graph capture: reserve it at plan time", bytes);
    // cudaFree waits for the device, so kernels still reading the old scratch finish first.
    CUDA_CHECK(cudaFree(c->scratch));
    c->scratch = NULL;
    CUDA_CHECK(cudaMalloc(&c->scratch, bytes));
    c->scratch_bytes = bytes;
}

extern "C" void gs_cuda_scratch_reserve(size_t bytes) {
    if (bytes > gs_cuda_ctx_get()->scratch_bytes) scratch_resize(gs_cuda_align(bytes));
}

extern "C" int gs_cuda_scratch_grow_count(void) { return g_ctx.scratch_grows; }

void *gs_cuda_scratch(size_t bytes) {
    gs_cuda_ctx *c = gs_cuda_ctx_get();
    if (bytes > c->scratch_bytes) {
        // Grow with headroom so a sequence of slightly larger needs does not reallocate each time.
        scratch_resize(gs_cuda_align(bytes + bytes / 4));
        c->scratch_grows++;
    }
    return c->scratch;
}

// ---- NVTX / profiler ----
extern "C" void gs_cuda_range_push(const char *name) { nvtxRangePushA(name); }
extern "C" void gs_cuda_range_pop(void) { nvtxRangePop(); }
extern "C" void gs_cuda_profiler_start(void) { CUDA_CHECK(cudaProfilerStart()); }
extern "C" void gs_cuda_profiler_stop(void) { CUDA_CHECK(cudaProfilerStop()); }

// ---- shared helpers ----
extern "C" int gs_cuda_gemm_bf16(int on) {
    gs_cuda_ctx *c = gs_cuda_ctx_get();
    int prev = c->gemm_bf16;
    c->gemm_bf16 = on;
    return prev;
}

extern "C" const void *gs_cuda_gemm_ws(void) { return gs_cuda_ctx_get()->gemm_ws; }

__global__ void f32_to_bf16_kernel(__nv_bfloat16 *out, const float *in, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        out[i] = __float2bfloat16(in[i]);
}

// The bf16 copy buffer, at least `bytes` (grown as the op scratch is: never during a capture).
static void *gemm_ws(size_t bytes) {
    gs_cuda_ctx *c = gs_cuda_ctx_get();
    if (bytes <= c->gemm_ws_bytes) return c->gemm_ws;
    cudaStreamCaptureStatus cap;
    CUDA_CHECK(cudaStreamIsCapturing(c->stream, &cap));
    if (cap != cudaStreamCaptureStatusNone)
        gs_fatal("the bf16 GEMM buffer must grow to %zu bytes during graph capture: run an eager step first", bytes);
    bytes = gs_cuda_align(bytes + bytes / 4);
    CUDA_CHECK(cudaFree(c->gemm_ws));  // waits for the kernels still reading it
    c->gemm_ws = NULL;
    CUDA_CHECK(cudaMalloc(&c->gemm_ws, bytes));
    c->gemm_ws_bytes = bytes;
    c->scratch_grows++;
    return c->gemm_ws;
}

// Elements a row-major (rows x cols) operand with row stride ld spans.
static size_t span(int rows, int cols, int ld) { return rows > 0 && cols > 0 ? (size_t)(rows - 1) * ld + cols : 0; }

void gs_cuda_gemm_rm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                     const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    gs_cuda_ctx *c = gs_cuda_ctx_get();
    if (c->gemm_bf16 && K > 0) {
        size_t na = trans_a ? span(K, M, lda) : span(M, K, lda), nb = trans_b ? span(N, K, ldb) : span(K, N, ldb);
        size_t off = gs_cuda_align(na * sizeof(__nv_bfloat16));
        char *ws = (char *)gemm_ws(off + nb * sizeof(__nv_bfloat16));
        __nv_bfloat16 *a16 = (__nv_bfloat16 *)ws, *b16 = (__nv_bfloat16 *)(ws + off);
        f32_to_bf16_kernel<<<gs_cuda_blocks(na, 256), 256, 0, c->stream>>>(a16, A, na);
        f32_to_bf16_kernel<<<gs_cuda_blocks(nb, 256), 256, 0, c->stream>>>(b16, B, nb);
        CUBLAS_CHECK(cublasGemmEx(c->cublas, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, N,
                                  M, K, &alpha, b16, CUDA_R_16BF, ldb, a16, CUDA_R_16BF, lda, &beta, C, CUDA_R_32F, ldc,
                                  CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
        return;
    }
    // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, and a row-major matrix read
    // column-major is its transpose: so swap the operands and keep each one's transpose flag.
    CUBLAS_CHECK(cublasSgemm(gs_cuda_ctx_get()->cublas, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                             trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K, &alpha, B, ldb, A, lda, &beta, C, ldc));
}

void gs_cuda_gemm_rm_bf16(int trans_a, int trans_b, int M, int N, int K, const __nv_bfloat16 *A, int lda,
                          const __nv_bfloat16 *B, int ldb, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    const float alpha = 1.0f, beta = 0.0f;  // operands swapped as in gs_cuda_gemm_rm
    CUBLAS_CHECK(cublasGemmEx(gs_cuda_ctx_get()->cublas, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                              trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K, &alpha, B, CUDA_R_16BF, ldb, A,
                              CUDA_R_16BF, lda, &beta, C, CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

#define COLSUM_ROWS 256  // rows per partial: fixed, so the summation order depends only on the shape

// partial[chunk][j] = sum of the chunk's rows of column j (double; 32 columns x 8 row lanes per block).
__global__ void colsum_partial_kernel(double *partial, const float *m, size_t rows, int n) {
    __shared__ double sh[8][33];
    int j = blockIdx.x * 32 + threadIdx.x;
    size_t r0 = (size_t)blockIdx.y * COLSUM_ROWS;
    size_t r1 = r0 + COLSUM_ROWS < rows ? r0 + COLSUM_ROWS : rows;
    double s = 0.0;
    if (j < n)
        for (size_t r = r0 + threadIdx.y; r < r1; r += 8) s += m[r * n + j];
    sh[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && j < n) {
        double t = 0.0;
        for (int k = 0; k < 8; k++) t += sh[k][threadIdx.x];
        partial[(size_t)blockIdx.y * n + j] = t;
    }
}

__global__ void colsum_final_kernel(float *acc, const double *partial, int chunks, int n) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= n) return;
    double s = 0.0;
    for (int k = 0; k < chunks; k++) s += partial[(size_t)k * n + j];
    acc[j] += (float)s;
}

size_t gs_cuda_colsum_scratch_bytes(size_t rows, int n) {
    return gs_cuda_align((rows + COLSUM_ROWS - 1) / COLSUM_ROWS * (size_t)(n > 0 ? n : 0) * sizeof(double));
}

void gs_cuda_colsum_add(float *acc, const float *m, size_t rows, int n, double *partial) {
    if (rows == 0 || n <= 0) return;
    int chunks = (int)((rows + COLSUM_ROWS - 1) / COLSUM_ROWS);
    cudaStream_t st = gs_cuda_stream();
    colsum_partial_kernel<<<dim3((n + 31) / 32, chunks), dim3(32, 8), 0, st>>>(partial, m, rows, n);
    colsum_final_kernel<<<(n + 127) / 128, 128, 0, st>>>(acc, partial, chunks, n);
    GS_CUDA_OP_DONE("colsum_add");
}
