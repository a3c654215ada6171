// CUDA twins of the elementwise ops (src/ops/elementwise.c), dropout (src/ops/dropout.c, the same
// counter-based mask) and global average pooling (src/ops/avgpool.c). One thread per element in
// grid-stride loops: memory-bound, coalesced; the backward ops accumulate (+=) as on the CPU.
#include "cuda_common.h"
#include "gesture/rng.h"

#define EW_THREADS 256

__global__ void relu_forward_kernel(float *out, const float *inp, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        out[i] = inp[i] < 0.0f ? 0.0f : inp[i];
}

__global__ void relu_backward_kernel(float *dinp, const float *dout, const float *out, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        dinp[i] += out[i] > 0.0f ? dout[i] : 0.0f;
}

__global__ void relu_mask_kernel(float *g, const float *out, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        if (!(out[i] > 0.0f)) g[i] = 0.0f;
}

__global__ void add_forward_kernel(float *out, const float *a, const float *b, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        out[i] = a[i] + b[i];
}

// da and/or db += dout (either may be NULL).
__global__ void add_backward_kernel(float *da, float *db, const float *dout, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float g = dout[i];
        if (da) da[i] += g;
        if (db) db[i] += g;
    }
}

// The dropout mask and its use, shared by the host-key kernels and the step-state ones below.
// first: the index of element 0 in the mask (a data-parallel rank's rows of a global batch; 0 else).
__device__ __forceinline__ void dropout_forward_elems(float *out, const float *inp, size_t n, float rate, float scale,
                                                      uint64_t key, size_t first = 0) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        out[i] = gs_counter_uniform(key, first + i) >= rate ? inp[i] * scale : 0.0f;
}

__device__ __forceinline__ void dropout_backward_elems(float *dinp, const float *dout, size_t n, float rate,
                                                       float scale, uint64_t key, size_t first = 0) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        if (gs_counter_uniform(key, first + i) >= rate) dinp[i] += dout[i] * scale;
}

__global__ void dropout_forward_kernel(float *out, const float *inp, size_t n, float rate, float scale, uint64_t key) {
    dropout_forward_elems(out, inp, n, rate, scale, key);
}

__global__ void dropout_backward_kernel(float *dinp, const float *dout, size_t n, float rate, float scale,
                                        uint64_t key) {
    dropout_backward_elems(dinp, dout, n, rate, scale, key);
}

// One thread per (image, channel); neighbouring threads read neighbouring channels (coalesced).
// Summed in double like the CPU op.
__global__ void avgpool_forward_kernel(float *out, const float *inp, int N, int HW, int C) {
    size_t total = (size_t)N * C;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        size_t n = i / C, c = i % C;
        const float *x = inp + n * HW * C + c;
        double s = 0.0;
        for (int p = 0; p < HW; p++) s += x[(size_t)p * C];
        out[i] = (float)(s / HW);
    }
}

__global__ void avgpool_backward_kernel(float *dinp, const float *dout, int N, int HW, int C, float inv) {
    size_t total = (size_t)N * HW * C;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        size_t c = i % C, n = i / ((size_t)HW * C);
        dinp[i] += dout[n * C + c] * inv;
    }
}

#define LAUNCH(kernel, n, ...)                                                                    \
    do {                                                                                          \
        if ((n) > 0) kernel<<<gs_cuda_blocks((n), EW_THREADS), EW_THREADS, 0, gs_cuda_stream()>>>(__VA_ARGS__); \
    } while (0)

extern "C" void relu_forward_cuda(float *out, const float *inp, size_t n) {
    LAUNCH(relu_forward_kernel, n, out, inp, n);
    GS_CUDA_OP_DONE("relu_forward_cuda");
}

extern "C" void relu_backward_cuda(float *dinp, const float *dout, const float *out, size_t n) {
    if (!dinp) return;
    LAUNCH(relu_backward_kernel, n, dinp, dout, out, n);
    GS_CUDA_OP_DONE("relu_backward_cuda");
}

extern "C" void relu_mask_cuda(float *g, const float *out, size_t n) {
    LAUNCH(relu_mask_kernel, n, g, out, n);
    GS_CUDA_OP_DONE("relu_mask_cuda");
}

extern "C" void add_forward_cuda(float *out, const float *a, const float *b, size_t n) {
    LAUNCH(add_forward_kernel, n, out, a, b, n);
    GS_CUDA_OP_DONE("add_forward_cuda");
}

extern "C" void add_backward_cuda(float *da, float *db, const float *dout, size_t n) {
    if (!da && !db) return;
    LAUNCH(add_backward_kernel, n, da, db, dout, n);
    GS_CUDA_OP_DONE("add_backward_cuda");
}

extern "C" void dropout_forward_cuda(float *out, const float *inp, size_t n, float rate, uint64_t key) {
    GS_ASSERT(rate >= 0.0f && rate < 1.0f);
    if (rate == 0.0f) {
        gs_cuda_copy_async(out, inp, n * sizeof(float));
    } else {
        LAUNCH(dropout_forward_kernel, n, out, inp, n, rate, 1.0f / (1.0f - rate), key);
    }
    GS_CUDA_OP_DONE("dropout_forward_cuda");
}

extern "C" void dropout_backward_cuda(float *dinp, const float *dout, size_t n, float rate, uint64_t key) {
    GS_ASSERT(rate >= 0.0f && rate < 1.0f);
    if (!dinp) return;
    if (rate == 0.0f) {
        LAUNCH(add_backward_kernel, n, dinp, (float *)NULL, dout, n);
    } else {
        LAUNCH(dropout_backward_kernel, n, dinp, dout, n, rate, 1.0f / (1.0f - rate), key);
    }
    GS_CUDA_OP_DONE("dropout_backward_cuda");
}

extern "C" void avgpool_forward_cuda(float *out, const float *inp, int N, int HW, int C) {
    GS_ASSERT(N >= 0 && HW > 0 && C > 0);
    LAUNCH(avgpool_forward_kernel, (size_t)N * C, out, inp, N, HW, C);
    GS_CUDA_OP_DONE("avgpool_forward_cuda");
}

extern "C" void avgpool_backward_cuda(float *dinp, const float *dout, int N, int HW, int C) {
    GS_ASSERT(N >= 0 && HW > 0 && C > 0);
    if (!dinp) return;
    LAUNCH(avgpool_backward_kernel, (size_t)N * HW * C, dinp, dout, N, HW, C, 1.0f / (float)HW);
    GS_CUDA_OP_DONE("avgpool_backward_cuda");
}

// ---- step-state dropout (graph-capturable twins of dropout_*_cuda) ----
// The dropout key changes every training step; a captured CUDA graph would replay the key of the
// step it was captured in. These read the key from device memory (the executor's step state,
// refreshed by the host before each launch); the mask is the same code (dropout_*_elems).

__global__ void dropout_forward_state_kernel(float *out, const float *inp, size_t n, float rate, float scale,
                                             const uint64_t *key_dev, size_t first) {
    dropout_forward_elems(out, inp, n, rate, scale, *key_dev, first);
}

__global__ void dropout_backward_state_kernel(float *dinp, const float *dout, size_t n, float rate, float scale,
                                              const uint64_t *key_dev, size_t first) {
    dropout_backward_elems(dinp, dout, n, rate, scale, *key_dev, first);
}

extern "C" void dropout_forward_state_at_cuda(float *out, const float *inp, size_t n, float rate, const uint64_t *key,
                                              size_t first) {
    GS_ASSERT(rate >= 0.0f && rate < 1.0f);
    if (rate == 0.0f) {
        gs_cuda_copy_async(out, inp, n * sizeof(float));
    } else {
        LAUNCH(dropout_forward_state_kernel, n, out, inp, n, rate, 1.0f / (1.0f - rate), key, first);
    }
    GS_CUDA_OP_DONE("dropout_forward_state_cuda");
}

extern "C" void dropout_backward_state_at_cuda(float *dinp, const float *dout, size_t n, float rate,
                                               const uint64_t *key, size_t first) {
    GS_ASSERT(rate >= 0.0f && rate < 1.0f);
    if (!dinp) return;
    if (rate == 0.0f) {
        LAUNCH(add_backward_kernel, n, dinp, (float *)NULL, dout, n);
    } else {
        LAUNCH(dropout_backward_state_kernel, n, dinp, dout, n, rate, 1.0f / (1.0f - rate), key, first);
    }
    GS_CUDA_OP_DONE("dropout_backward_state_cuda");
}

extern "C" void dropout_forward_state_cuda(float *out, const float *inp, size_t n, float rate, const uint64_t *key) {
    dropout_forward_state_at_cuda(out, inp, n, rate, key, 0);
}

extern "C" void dropout_backward_state_cuda(float *dinp, const float *dout, size_t n, float rate,
                                            const uint64_t *key) {
    dropout_backward_state_at_cuda(dinp, dout, n, rate, key, 0);
}
