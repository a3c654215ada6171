// Self-test of the CPU emulator (tests/cuda_emu): every mistake in the README's "What it checks"
// table is made here on purpose and must be exposed (a wrong result, an error code, or a child
// process that exits non-zero with the expected report on stderr); the correct version of the same
// code must pass. One function per table row. Written as CUDA (this file goes through cu2cpp.py
// like cuda/*.cu); the mistakes that end the process run in forked children.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <nvtx3/nvToolsExt.h>

extern "C" int gs_emu_selftest_c(void);  // emu_selftest_c.c: the same headers from C

static int n_pass, n_fail;
static void check(int ok, const char *what) {
    printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    ok ? n_pass++ : n_fail++;
}
#define CK(call) check((call) == cudaSuccess, #call)

// ---------------------------------------------------------------- kernels (each with its mistake)
// Sum of 256 values by thread `reader` after every thread stored its own: needs the barrier.
__global__ void sum_kernel(float *out, const float *in, int with_barrier, int reader) {
    __shared__ float sh[256];
    sh[threadIdx.x] = in[threadIdx.x];
    if (with_barrier) __syncthreads();
    if ((int)threadIdx.x == reader) {
        float s = 0.0f;
        for (int i = 0; i < 256; i++) s += sh[i];
        *out = s;
    }
}

__global__ void fill_kernel(float *out, int n, float v) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i <= n) out[i] = v;  // `<=`: one past the end when the grid covers n exactly
}

__global__ void copy_kernel(float *out, const float *in, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = in[i];
}

// Forgets blockIdx: every block writes the first blockDim outputs.
__global__ void copy_kernel_bad_index(float *out, const float *in, int n) {
    int i = threadIdx.x;
    if (i < n) out[i] = in[i];
}

// Reads its shared array before anything wrote it.
__global__ void shared_unwritten_kernel(float *out) {
    __shared__ float sh[32];
    out[threadIdx.x] = sh[threadIdx.x];
}

// Half the block skips the barrier.
__global__ void partial_barrier_kernel(float *out) {
    if (threadIdx.x < 16) __syncthreads();
    out[threadIdx.x] = 1.0f;
}

__global__ void trap_kernel(void) {
    if (blockIdx.x == 1 && threadIdx.x == 5) __trap();
}

// ---------------------------------------------------------------- helpers
static float *dev_floats(int n, float v) {
    float *h = (float *)malloc(n * sizeof(float)), *d = NULL;
    for (int i = 0; i < n; i++) h[i] = v;
    if (cudaMalloc((void **)&d, n * sizeof(float)) != cudaSuccess ||
        cudaMemcpy(d, h, n * sizeof(float), cudaMemcpyHostToDevice) != cudaSuccess) {
        fprintf(stderr, "emu_selftest: cudaMalloc/cudaMemcpy of %d floats failed\n", n);
        exit(1);
    }
    free(h);
    return d;
}
static float get(const float *d, int i) {
    float v = -1.0f;
    cudaMemcpy(&v, d + i, sizeof v, cudaMemcpyDeviceToHost);
    return v;
}

static float reduce(int with_barrier, int reader) {
    float *in = dev_floats(256, 1.0f), *out = dev_floats(1, 0.0f);
    sum_kernel<<<1, 256>>>(out, in, with_barrier, reader);
    float r = get(out, 0);
    cudaFree(in);
    cudaFree(out);
    return r;
}

// Run fn in a child process with GESTURE_CUDA_EMU_ORDER=order (NULL: index order) and a final
// cudaDeviceSynchronize; returns its exit status (128 + signal when killed), its stderr in err.
static int in_child(void (*fn)(void), const char *order, char *err, size_t cap) {
    int fd[2];
    if (pipe(fd)) {
        perror("emu_selftest: pipe");
        exit(1);
    }
    fflush(stdout);
    fflush(stderr);
    pid_t p = fork();
    if (p == 0) {
        close(fd[0]);
        dup2(fd[1], 2);
        if (order) setenv("GESTURE_CUDA_EMU_ORDER", order, 1);
        fn();
        cudaDeviceSynchronize();
        exit(0);
    }
    close(fd[1]);
    size_t len = 0;
    ssize_t r;
    while ((r = read(fd[0], err + len, cap - 1 - len)) > 0) len += (size_t)r;
    err[len] = '\0';
    close(fd[0]);
    int st = 0;
    waitpid(p, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// The child fails (non-zero exit) and its stderr contains `report`.
static void check_dies(void (*fn)(void), const char *order, const char *report, const char *what) {
    char err[8192];
    int rc = in_child(fn, order, err, sizeof err);
    const char *hit = strstr(err, report);
    check(rc != 0 && hit, what);
    if (rc != 0 && hit) {  // show the whole report line
        while (hit > err && hit[-1] != '\n') hit--;
        printf("     exit %d: %.*s\n", rc, (int)strcspn(hit, "\n"), hit);
    } else {
        printf("     exit %d, stderr: %s     expected: %s\n", rc, err, report);
    }
}
static void check_lives(void (*fn)(void), const char *what) {
    char err[8192];
    int rc = in_child(fn, NULL, err, sizeof err);
    check(rc == 0 && !strstr(err, "cuda-emu"), what);
    if (rc != 0) printf("     exit %d, stderr: %s\n", rc, err);
}

// ---------------------------------------------------------------- row 1: wrong results show
static void row_results(void) {
    float *in = dev_floats(300, 3.0f), *out = dev_floats(300, 0.0f);
    copy_kernel<<<2, 256>>>(out, in, 300);
    check(get(out, 0) == 3.0f && get(out, 299) == 3.0f, "kernels really run: a copy over 2 blocks copies");
    float *out2;
    CK(cudaMalloc((void **)&out2, 300 * sizeof(float)));
    copy_kernel_bad_index<<<2, 256>>>(out2, in, 300);
    check(get(out2, 0) == 3.0f && isnan(get(out2, 299)), "an index mistake leaves outputs unwritten (NaN)");
    CK(cudaFree(in));
    CK(cudaFree(out));
    CK(cudaFree(out2));
}

// ---------------------------------------------------------------- row 2: a missing __syncthreads
static void reduce_reader0_nobarrier(void) { exit(reduce(0, 0) == 256.0f ? 0 : 3); }
static void reduce_reader255_nobarrier(void) { exit(reduce(0, 255) == 256.0f ? 0 : 3); }
static void row_missing_barrier(void) {
    char err[4096];
    check(reduce(1, 0) == 256.0f && reduce(1, 255) == 256.0f, "reduction with its barrier sums to 256");
    check(in_child(reduce_reader0_nobarrier, NULL, err, sizeof err) == 3,
          "without its barrier, reader thread 0: wrong in index order");
    check(in_child(reduce_reader255_nobarrier, "reverse", err, sizeof err) == 3,
          "without its barrier, reader thread 255: wrong in reverse order (the _emu_reverse twin)");
    check(in_child(reduce_reader255_nobarrier, NULL, err, sizeof err) == 0,
          "(reader thread 255 is lucky in index order: why every test also runs reversed)");
}

// ---------------------------------------------------------------- row 3: a barrier not all reach
static void partial_barrier(void) {
    float *d = dev_floats(32, 0.0f);
    partial_barrier_kernel<<<1, 32>>>(d);
    cudaDeviceSynchronize();
}
static void row_partial_barrier(void) {
    const char *report = "a barrier some threads never reach";
    check_dies(partial_barrier, NULL, report, "a barrier half the block skips is reported (index order)");
    check_dies(partial_barrier, "reverse", report, "and in reverse order");
}

// ---------------------------------------------------------------- row 4: writes past an allocation
static void oob_slack_free(void) {
    float *d;
    cudaMalloc((void **)&d, 250 * sizeof(float));  // 1000 bytes, 256-aligned: index 250 is in the slack
    fill_kernel<<<1, 256>>>(d, 250, 1.0f);
    cudaFree(d);
}
static void oob_slack_exit(void) {
    float *d;
    cudaMalloc((void **)&d, 250 * sizeof(float));
    fill_kernel<<<1, 256>>>(d, 250, 1.0f);
}
static void oob_guard(void) {
    float *d;
    cudaMalloc((void **)&d, 1024 * sizeof(float));  // a whole page: one past the end is the guard page
    fill_kernel<<<9, 128>>>(d, 1024, 1.0f);
    cudaDeviceSynchronize();
}
static void in_bounds(void) {
    float *d;
    cudaMalloc((void **)&d, 257 * sizeof(float));
    fill_kernel<<<2, 256>>>(d, 256, 1.0f);
    cudaFree(d);
}
static void row_out_of_bounds(void) {
    check_dies(oob_guard, NULL, "in kernel fill_kernel, block (8,0,0) thread (0,0,0)",
               "a write into the guard page faults, naming kernel, block and thread");
    check_dies(oob_slack_free, NULL, "cudaFree: byte 0 past the end of a 1000-byte device allocation",
               "a write into the slack after the allocation is reported at cudaFree");
    check_dies(oob_slack_exit, NULL, "at exit: byte 0 past the end of a 1000-byte device allocation",
               "and at exit when never freed");
    check_lives(in_bounds, "the same kernel in bounds passes silently");
}

// ---------------------------------------------------------------- row 5: reading unwritten memory
static void row_unwritten(void) {
    float *d, *o = dev_floats(32, 0.0f);
    CK(cudaMalloc((void **)&d, 16 * sizeof(float)));
    check(isnan(get(d, 0)) && isnan(get(d, 15)), "fresh device memory reads as NaN");
    shared_unwritten_kernel<<<1, 32>>>(o);
    check(isnan(get(o, 0)) && isnan(get(o, 31)), "shared memory read before any write is NaN");
    CK(cudaFree(d));
    CK(cudaFree(o));
}

// ---------------------------------------------------------------- row 6: host/device mix-ups
static void row_pointers_copies(void) {
    float host[8] = {0}, *d = dev_floats(8, 1.0f);
    check(cudaMemcpy(host, host + 4, 16, cudaMemcpyHostToDevice) == cudaErrorInvalidValue,
          "cudaMemcpy H2D to a host pointer is refused");
    check(cudaMemcpy(host, host + 4, 16, cudaMemcpyDeviceToHost) == cudaErrorInvalidValue,
          "cudaMemcpy D2H from a host pointer is refused");
    check(cudaMemcpy(d, d + 4, 16, cudaMemcpyHostToDevice) == cudaErrorInvalidValue,
          "cudaMemcpy H2D from a device pointer is refused");
    check(cudaMemcpy(d + 4, host, 5 * sizeof(float), cudaMemcpyHostToDevice) == cudaErrorInvalidValue,
          "cudaMemcpy past the end of a device allocation is refused");
    check(cudaMemcpyAsync(host, d, 16, cudaMemcpyDeviceToDevice, 0) == cudaErrorInvalidValue,
          "cudaMemcpyAsync D2D to a host pointer is refused");
    check(cudaMemset(host, 0, 16) == cudaErrorInvalidValue, "cudaMemset of a host pointer is refused");
    check(cudaMemsetAsync(d, 0, 9 * sizeof(float), 0) == cudaErrorInvalidValue,
          "cudaMemsetAsync past the end of a device allocation is refused");
    float *e = dev_floats(8, 2.0f);  // 2 rows of 2 floats; from d + 4 at pitch 4 the last row ends past d[7]
    check(cudaMemcpy2DAsync(e, 3 * sizeof(float), d + 4, 4 * sizeof(float), 2 * sizeof(float), 2,
                            cudaMemcpyDeviceToDevice, 0) == cudaErrorInvalidValue,
          "cudaMemcpy2DAsync whose last row runs past the source allocation is refused");
    check(cudaMemcpy2DAsync(e, sizeof(float), d, 4 * sizeof(float), 2 * sizeof(float), 2, cudaMemcpyDeviceToDevice,
                            0) == cudaErrorInvalidValue,
          "cudaMemcpy2DAsync with a pitch below its width is refused");
    check(get(d, 7) == 1.0f && get(e, 0) == 2.0f, "and none of them wrote anything");
    CK(cudaMemcpy2DAsync(e, 3 * sizeof(float), d, 4 * sizeof(float), 2 * sizeof(float), 2, cudaMemcpyDeviceToDevice, 0));
    check(get(e, 0) == 1.0f && get(e, 2) == 2.0f && get(e, 3) == 1.0f && get(e, 5) == 2.0f,
          "cudaMemcpy2DAsync copies its rows at both pitches and nothing between them");
    (void)cudaGetLastError();
    CK(cudaFree(d));
    CK(cudaFree(e));
}

static void row_pointers_libs(void) {
    float hA[4] = {1, 2, 3, 4}, one = 1.0f, zero = 0.0f;
    float *A = dev_floats(4, 1.0f), *C = dev_floats(4, 0.0f);
    cublasHandle_t cb;
    check(cublasCreate(&cb) == CUBLAS_STATUS_SUCCESS, "cublasCreate");
    check(cublasSgemm(cb, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &one, hA, 2, A, 2, &zero, C, 2) ==
              CUBLAS_STATUS_INVALID_VALUE, "cublasSgemm with a host operand is refused");
    check(cublasSgemm(cb, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &one, A, 2, A, 2, &zero, C, 2) == CUBLAS_STATUS_SUCCESS &&
              get(C, 3) == 2.0f, "cublasSgemm on device operands runs (1x1 ones: 2)");
    cublasDestroy(cb);

    cudnnHandle_t dn;
    cudnnTensorDescriptor_t xd, yd;
    cudnnFilterDescriptor_t wd;
    cudnnConvolutionDescriptor_t cd;
    int ok = cudnnCreate(&dn) == CUDNN_STATUS_SUCCESS && cudnnCreateTensorDescriptor(&xd) == CUDNN_STATUS_SUCCESS &&
             cudnnCreateTensorDescriptor(&yd) == CUDNN_STATUS_SUCCESS &&
             cudnnCreateFilterDescriptor(&wd) == CUDNN_STATUS_SUCCESS &&
             cudnnCreateConvolutionDescriptor(&cd) == CUDNN_STATUS_SUCCESS &&
             cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 1, 1, 2, 2) == CUDNN_STATUS_SUCCESS &&
             cudnnSetTensor4dDescriptor(yd, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 1, 1, 2, 2) == CUDNN_STATUS_SUCCESS &&
             cudnnSetFilter4dDescriptor(wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, 1, 1, 1, 1) == CUDNN_STATUS_SUCCESS &&
             cudnnSetConvolution2dDescriptor(cd, 0, 0, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT) ==
                 CUDNN_STATUS_SUCCESS;
    check(ok, "cuDNN descriptors for a 1x1 convolution");
    float *x = dev_floats(4, 3.0f), *w = dev_floats(1, 2.0f), *y = dev_floats(4, 0.0f);
    check(cudnnConvolutionForward(dn, &one, xd, hA, wd, w, cd, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, NULL, 0, &zero,
                                  yd, y) == CUDNN_STATUS_BAD_PARAM, "cudnnConvolutionForward with a host input is refused");
    check(cudnnConvolutionForward(dn, &one, xd, x, wd, w, cd, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, NULL, 0, &zero,
                                  yd, y) == CUDNN_STATUS_SUCCESS && get(y, 3) == 6.0f,
          "cudnnConvolutionForward on device operands runs (3 * 2)");
    cudnnDestroyTensorDescriptor(xd);
    cudnnDestroyTensorDescriptor(yd);
    cudnnDestroyFilterDescriptor(wd);
    cudnnDestroyConvolutionDescriptor(cd);
    cudnnDestroy(dn);
    cudaFree(A);
    cudaFree(C);
    cudaFree(x);
    cudaFree(w);
    cudaFree(y);
}

// ---------------------------------------------------------------- row 7: a missing stream/event wait
static void row_streams(void) {
    cudaStream_t cs, cp;
    cudaEvent_t ev;
    CK(cudaStreamCreateWithFlags(&cs, cudaStreamNonBlocking));
    CK(cudaStreamCreateWithFlags(&cp, cudaStreamNonBlocking));
    CK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));
    float *pin, *src = dev_floats(1, 0.0f), *dst = dev_floats(1, 0.0f), h = -1;
    CK(cudaHostAlloc((void **)&pin, sizeof(float), cudaHostAllocPortable));
    *pin = 7.0f;
    CK(cudaMemcpyAsync(src, pin, sizeof(float), cudaMemcpyHostToDevice, cp));
    copy_kernel<<<1, 32, 0, cs>>>(dst, src, 1);  // forgot cudaStreamWaitEvent
    CK(cudaMemcpyAsync(&h, dst, sizeof h, cudaMemcpyDeviceToHost, cs));
    check(h == 0.0f, "a kernel that does not wait for the copy stream reads stale data");
    CK(cudaStreamSynchronize(cp));
    *pin = 9.0f;
    CK(cudaMemcpyAsync(src, pin, sizeof(float), cudaMemcpyHostToDevice, cp));
    CK(cudaEventRecord(ev, cp));
    CK(cudaStreamWaitEvent(cs, ev, 0));
    copy_kernel<<<1, 32, 0, cs>>>(dst, src, 1);
    CK(cudaMemcpyAsync(&h, dst, sizeof h, cudaMemcpyDeviceToHost, cs));
    check(h == 9.0f, "with the event wait it reads the upload");
    *pin = 11.0f;
    CK(cudaMemcpyAsync(src, pin, sizeof(float), cudaMemcpyHostToDevice, cp));
    *pin = 12.0f;  // before the copy ran: a DMA reads the buffer when it runs
    CK(cudaStreamSynchronize(cp));
    check(get(src, 0) == 12.0f, "a pinned upload reads the host buffer when it runs (reuse before the wait shows)");
    CK(cudaFree(src));
    CK(cudaFree(dst));
    CK(cudaFreeHost(pin));
    CK(cudaEventDestroy(ev));
    CK(cudaStreamDestroy(cs));
    CK(cudaStreamDestroy(cp));
}

// ---------------------------------------------------------------- row 8: capture-unsafe calls
// Begin a capture on s, make `bad` (which must be refused), end it: the capture is invalidated.
#define REFUSED_IN_CAPTURE(s, bad, what)                                                               \
    do {                                                                                               \
        cudaGraph_t g_;                                                                                \
        CK(cudaStreamBeginCapture((s), cudaStreamCaptureModeGlobal));                                  \
        check((bad) == cudaErrorStreamCaptureUnsupported, what " during capture is refused");         \
        check(cudaStreamEndCapture((s), &g_) == cudaErrorStreamCaptureInvalidated && !g_,              \
              "  and invalidates the capture");                                                        \
        (void)cudaGetLastError();                                                                      \
    } while (0)

static void legacy_stream_in_capture(void) {
    cudaStream_t s;
    float *d = dev_floats(32, 0.0f);
    cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
    cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal);
    copy_kernel<<<1, 32>>>(d, d, 32);  // stream 0 while s captures
}

static void row_capture(void) {
    cudaStream_t cs;
    cudaGraph_t gr;
    cudaGraphExec_t ex;
    CK(cudaStreamCreateWithFlags(&cs, cudaStreamNonBlocking));
    float *src = dev_floats(1, 9.0f), *dst = dev_floats(1, 0.0f), *p = NULL, *pin, h = 0;
    CK(cudaHostAlloc((void **)&pin, sizeof(float), 0));
    CK(cudaStreamBeginCapture(cs, cudaStreamCaptureModeGlobal));
    copy_kernel<<<1, 32, 0, cs>>>(dst, src, 1);
    CK(cudaMemcpyAsync(pin, dst, sizeof(float), cudaMemcpyDeviceToHost, cs));  // pinned: capturable
    CK(cudaStreamEndCapture(cs, &gr));
    CK(cudaGraphInstantiate(&ex, gr, 0));
    check(get(dst, 0) == 0.0f, "a captured kernel does not run at capture time");
    CK(cudaGraphLaunch(ex, cs));
    CK(cudaStreamSynchronize(cs));
    check(get(dst, 0) == 9.0f && *pin == 9.0f, "it runs when the graph is launched");
    REFUSED_IN_CAPTURE(cs, cudaStreamSynchronize(cs), "cudaStreamSynchronize");
    REFUSED_IN_CAPTURE(cs, cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    REFUSED_IN_CAPTURE(cs, cudaMemcpy(&h, dst, sizeof h, cudaMemcpyDeviceToHost), "cudaMemcpy");
    REFUSED_IN_CAPTURE(cs, cudaMemset(dst, 0, sizeof(float)), "cudaMemset");
    REFUSED_IN_CAPTURE(cs, cudaMalloc((void **)&p, 64), "cudaMalloc");
    REFUSED_IN_CAPTURE(cs, cudaFree(src), "cudaFree");
    REFUSED_IN_CAPTURE(cs, cudaMemcpyAsync(&h, dst, sizeof h, cudaMemcpyDeviceToHost, cs), "a pageable D2H copy");
    REFUSED_IN_CAPTURE(cs, cudaMemcpyAsync(dst, &h, sizeof h, cudaMemcpyHostToDevice, cs), "a pageable H2D copy");
    check_dies(legacy_stream_in_capture, NULL, "on the legacy default stream while a stream captures",
               "a launch on the legacy default stream during capture is reported");
    CK(cudaGraphExecDestroy(ex));
    CK(cudaGraphDestroy(gr));
    CK(cudaFree(src));
    CK(cudaFree(dst));
    CK(cudaFreeHost(pin));
    CK(cudaStreamDestroy(cs));
}

// ---------------------------------------------------------------- row 9: bad launch configurations
static void row_launch_config(void) {
    float *in = dev_floats(2048, 1.0f), *out = dev_floats(2048, 0.0f);
    CK(cudaGetLastError());
    copy_kernel<<<1, 1025>>>(out, in, 2048);
    check(cudaGetLastError() == cudaErrorInvalidConfiguration && get(out, 0) == 0.0f,
          "1025 threads per block: cudaErrorInvalidConfiguration, nothing runs");
    copy_kernel<<<0, 256>>>(out, in, 2048);
    check(cudaGetLastError() == cudaErrorInvalidConfiguration && get(out, 0) == 0.0f,
          "a zero-sized grid: cudaErrorInvalidConfiguration, nothing runs");
    copy_kernel<<<dim3(1, 1, 1), dim3(1, 1, 65)>>>(out, in, 2048);
    check(cudaGetLastError() == cudaErrorInvalidConfiguration, "block z > 64: cudaErrorInvalidConfiguration");
    check(cudaGetLastError() == cudaSuccess, "cudaGetLastError clears the error");
    CK(cudaFree(in));
    CK(cudaFree(out));
}

// ---------------------------------------------------------------- rows 10-11: __trap, NVTX
static void trap(void) {
    trap_kernel<<<2, 32>>>();
    cudaDeviceSynchronize();
}
static void nvtx_unpopped(void) { nvtxRangePushA("left open"); }
static void nvtx_extra_pop(void) { nvtxRangePop(); }
static void nvtx_balanced(void) {
    nvtxRangePushA("a");
    nvtxRangePushA("b");
    nvtxRangePop();
    nvtxRangePop();
}
static void row_trap_nvtx(void) {
    check_dies(trap, NULL, "__trap() in kernel trap_kernel, block (1,0,0) thread (5,0,0)",
               "__trap() ends the process naming kernel, block and thread");
    check_dies(nvtx_unpopped, NULL, "1 NVTX range(s) pushed and never popped", "an NVTX range never popped is reported at exit");
    check_dies(nvtx_extra_pop, NULL, "nvtxRangePop without a matching nvtxRangePushA", "an NVTX pop without a push is reported");
    check_lives(nvtx_balanced, "balanced NVTX ranges pass silently");
}

int main(void) {
    unsetenv("GESTURE_CUDA_EMU_ORDER");  // the children choose their order; this process runs in index order
    row_results();
    row_missing_barrier();
    row_partial_barrier();
    row_out_of_bounds();
    row_unwritten();
    row_pointers_copies();
    row_pointers_libs();
    row_streams();
    row_capture();
    row_launch_config();
    row_trap_nvtx();
    check(gs_emu_selftest_c() == 0, "C code compiles and runs against the stand-in headers (emu_selftest_c.c)");
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
