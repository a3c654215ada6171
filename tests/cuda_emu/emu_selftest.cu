// Self-test of the CPU emulator (tests/cuda_emu): each mistake the emulator is meant to expose is
// made on purpose and must be exposed — a reduction missing its barrier gives a wrong sum, a write
// one past an allocation and a kernel fault end the process with a report naming them, a read on
// the compute stream that does not wait for the copy stream sees stale data, and synchronizing
// while a stream captures is refused. Correct versions of the same code must pass. Written as CUDA
// (this file goes through cu2cpp.py like cuda/*.cu) so it would run unchanged on a GPU.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cuda_runtime.h>

static int n_pass, n_fail;
static void check(int ok, const char *what) {
    printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    ok ? n_pass++ : n_fail++;
}
#define CK(call) check((call) == cudaSuccess, #call)

// Sum of 256 values by thread 0 after every thread stored its own: needs the barrier.
__global__ void sum_kernel(float *out, const float *in, int with_barrier) {
    __shared__ float sh[256];
    sh[threadIdx.x] = in[threadIdx.x];
    if (with_barrier) __syncthreads();
    if (threadIdx.x == 0) {
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

static float reduce(int with_barrier) {
    float h[256], *in, *out, r = -1;
    for (int i = 0; i < 256; i++) h[i] = 1.0f;
    cudaMalloc((void **)&in, sizeof h);
    cudaMalloc((void **)&out, sizeof(float));
    cudaMemcpy(in, h, sizeof h, cudaMemcpyHostToDevice);
    sum_kernel<<<1, 256>>>(out, in, with_barrier);
    cudaMemcpy(&r, out, sizeof r, cudaMemcpyDeviceToHost);
    cudaFree(in);
    cudaFree(out);
    return r;
}

// Run fn in a child process: it must exit non-zero (the emulator's report goes to stderr).
static int dies(void (*fn)(void)) {
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        fn();
        cudaDeviceSynchronize();
        exit(0);
    }
    int st = 0;
    waitpid(p, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) != 0;
}

static void oob_write(void) {
    float *d;
    cudaMalloc((void **)&d, 250 * sizeof(float));  // 1000 bytes, 256-aligned: index 250 is in the slack
    fill_kernel<<<1, 256>>>(d, 250, 1.0f);
    cudaFree(d);  // the slack check reports it here
}

static void oob_fault(void) {
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

int main(void) {
    check(reduce(1) == 256.0f, "reduction with its barrier sums to 256");
    check(reduce(0) != 256.0f, "reduction without its barrier is wrong (threads run in order)");
    check(dies(oob_write), "a write one past an allocation is reported at cudaFree");
    check(dies(oob_fault), "a write into the guard page faults and is reported");
    check(!dies(in_bounds), "the same kernel in bounds passes");

    // Two streams: compute reads what the copy stream uploads. Without the event wait it reads
    // the buffer's previous contents; with it, the new ones.
    cudaStream_t cs, cp;
    cudaEvent_t ev;
    CK(cudaStreamCreateWithFlags(&cs, cudaStreamNonBlocking));
    CK(cudaStreamCreateWithFlags(&cp, cudaStreamNonBlocking));
    CK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));
    float *pin, *dst, *src, h = 0;
    CK(cudaHostAlloc((void **)&pin, sizeof(float), cudaHostAllocPortable));
    CK(cudaMalloc((void **)&src, sizeof(float)));
    CK(cudaMalloc((void **)&dst, sizeof(float)));
    CK(cudaMemsetAsync(src, 0, sizeof(float), cs));
    CK(cudaStreamSynchronize(cs));
    *pin = 7.0f;
    CK(cudaMemcpyAsync(src, pin, sizeof(float), cudaMemcpyHostToDevice, cp));
    copy_kernel<<<1, 32, 0, cs>>>(dst, src, 1);  // forgot cudaStreamWaitEvent
    CK(cudaMemcpyAsync(&h, dst, sizeof h, cudaMemcpyDeviceToHost, cs));
    CK(cudaStreamSynchronize(cs));
    check(h == 0.0f, "a kernel that does not wait for the copy stream reads stale data");
    CK(cudaStreamSynchronize(cp));
    *pin = 9.0f;
    CK(cudaMemcpyAsync(src, pin, sizeof(float), cudaMemcpyHostToDevice, cp));
    CK(cudaEventRecord(ev, cp));
    CK(cudaStreamWaitEvent(cs, ev, 0));
    copy_kernel<<<1, 32, 0, cs>>>(dst, src, 1);
    CK(cudaMemcpyAsync(&h, dst, sizeof h, cudaMemcpyDeviceToHost, cs));
    CK(cudaStreamSynchronize(cs));
    check(h == 9.0f, "with the event wait it reads the upload");

    // Capture: kernels are recorded, not run; a synchronize inside is refused and invalidates.
    cudaGraph_t gr;
    cudaGraphExec_t ex;
    CK(cudaMemsetAsync(dst, 0, sizeof(float), cs));
    CK(cudaStreamBeginCapture(cs, cudaStreamCaptureModeGlobal));
    copy_kernel<<<1, 32, 0, cs>>>(dst, src, 1);
    CK(cudaStreamEndCapture(cs, &gr));
    CK(cudaGraphInstantiate(&ex, gr, 0));
    CK(cudaMemcpyAsync(&h, dst, sizeof h, cudaMemcpyDeviceToHost, cs));
    check(h == 0.0f, "a captured kernel does not run at capture time");
    CK(cudaGraphLaunch(ex, cs));
    CK(cudaMemcpyAsync(&h, dst, sizeof h, cudaMemcpyDeviceToHost, cs));
    check(h == 9.0f, "it runs when the graph is launched");
    CK(cudaStreamBeginCapture(cs, cudaStreamCaptureModeGlobal));
    check(cudaStreamSynchronize(cs) == cudaErrorStreamCaptureUnsupported, "synchronize while capturing is refused");
    cudaGraph_t bad;
    check(cudaStreamEndCapture(cs, &bad) == cudaErrorStreamCaptureInvalidated && !bad, "and invalidates the capture");
    (void)cudaGetLastError();
    CK(cudaGraphExecDestroy(ex));
    CK(cudaGraphDestroy(gr));
    CK(cudaFree(src));
    CK(cudaFree(dst));
    CK(cudaFreeHost(pin));
    CK(cudaEventDestroy(ev));
    CK(cudaStreamDestroy(cs));
    CK(cudaStreamDestroy(cp));
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
