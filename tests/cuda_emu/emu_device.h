// CPU emulator (tests/cuda_emu): what nvcc gives a .cu file for free — execution-space keywords,
// the thread/block coordinates, __syncthreads, device math — for the C++ that cu2cpp.py makes.
// Each emulated thread is a fiber: threads of a block run one after another until they reach a
// barrier, so a missing __syncthreads shows up as a wrong result instead of a lucky one.
#ifndef GS_EMU_DEVICE_H
#define GS_EMU_DEVICE_H

#include <cmath>
#include <functional>

#include "cuda_runtime.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __constant__
// Shared memory is one copy per block; blocks run one at a time, so a function-local static is it.
#define __shared__ static
#define __launch_bounds__(...)

// The coordinates of the emulated thread now running (set by the scheduler before each resume).
extern thread_local uint3 threadIdx, blockIdx;
extern thread_local dim3 blockDim, gridDim;

void __syncthreads(void);
// Registers a __shared__ array of the running kernel (cu2cpp.py adds the call after each
// declaration): it is filled with 0xFF bytes now and at the start of every later block.
void gs_emu_shared(void *p, size_t bytes);
// A device-side trap: on a GPU the launch fails and the context is lost; here the process exits.
[[noreturn]] void __trap(void);

struct gs_emu_cfg {
    dim3 grid, block;
    size_t smem;
    cudaStream_t stream;
    gs_emu_cfg(dim3 g, dim3 b, size_t sm = 0, cudaStream_t s = 0) : grid(g), block(b), smem(sm), stream(s) {}
};
// Queue a launch on cfg.stream: `body` runs once per thread of every block when the stream gets
// there; as fibers when the kernel may reach __syncthreads (`barriers`), else as plain calls.
void gs_emu_launch_fn(const char *kernel, int barriers, const gs_emu_cfg &cfg, std::function<void()> body);
template <class F>
static inline void gs_emu_launch(const char *kernel, int barriers, const gs_emu_cfg &cfg, F body) {
    gs_emu_launch_fn(kernel, barriers, cfg, std::function<void()>(body));
}

static inline int min(int a, int b) { return a < b ? a : b; }
static inline int max(int a, int b) { return a > b ? a : b; }
static inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
static inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
static inline long long min(long long a, long long b) { return a < b ? a : b; }
static inline long long max(long long a, long long b) { return a > b ? a : b; }
static inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
static inline double rsqrt(double x) { return 1.0 / sqrt(x); }
// __expf and __logf: glibc declares them already
static inline float __fdividef(float a, float b) { return a / b; }
static inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
template <class T>
static inline T __ldg(const T *p) { return *p; }

#endif
