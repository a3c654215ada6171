// CUDA twins of the training objective (src/ops/loss.c: softmax cross-entropy, L2 penalty) and of
// Adam (src/ops/adam.c), Keras form, fused over the contiguous trainable buffer. Scalars (mean
// loss, penalty) stay on the device; their reductions use fixed partitions and fixed orders
// (deterministic, no atomics).
#include <math.h>
#include <stdio.h>

#include "cuda_common.h"

#define REDUCE_THREADS 256
#define L2_CHUNK 4096  // elements per partial sum

// One thread per row: K is the class count (5), so a row is a few registers of work.
// Same arithmetic as the CPU op: float exps, double sum, loss = max + log(sum) - logit[label].
__global__ void softmax_ce_forward_kernel(float *probs, double *row_loss, float *losses, const float *logits,
                                          const int *labels, int B, int K) {
    int b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= B) return;
    const float *row = logits + (size_t)b * K;
    float *p = probs + (size_t)b * K;
    int y = labels[b];
    if (y < 0 || y >= K) {
        printf("softmax_ce_forward_cuda: label %d of row %d outside [0,%d)\n", y, b, K);
        __trap();
    }
    float mx = row[0];
    for (int k = 1; k < K; k++) mx = row[k] > mx ? row[k] : mx;
    double sum = 0.0;
    for (int k = 0; k < K; k++) {
        p[k] = expf(row[k] - mx);
        sum += p[k];
    }
    float inv = (float)(1.0 / sum);
    for (int k = 0; k < K; k++) p[k] *= inv;
    double loss = (double)mx + log(sum) - (double)row[y];
    if (losses) losses[b] = (float)loss;
    row_loss[b] = loss;
}

// Mean over rows in row order on one thread: B is the clip count (4). scale: 1, or a data-parallel
// rank's share of the global batch (the CPU op's mean, then times scale in double, as exec_cpu.c).
__global__ void mean_rows_kernel(float *loss_mean, const double *row_loss, int B, float scale) {
    double t = 0.0;
    for (int b = 0; b < B; b++) t += row_loss[b];
    float mean = (float)(t / B);
    *loss_mean = scale == 1.0f ? mean : (float)((double)mean * scale);
}

__global__ void softmax_ce_backward_kernel(float *dlogits, const float *probs, const int *labels, int B, int K,
                                           float s) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= B * K) return;
    int b = i / K, k = i % K;
    int y = labels[b];
    if (y < 0 || y >= K) {
        printf("softmax_ce_backward_cuda: label %d of row %d outside [0,%d)\n", y, b, K);
        __trap();
    }
    dlogits[i] += s * (probs[i] - (k == y ? 1.0f : 0.0f));
}

// Tree reduction of one block's doubles in shared memory, fixed order; result in sh[0].
__device__ static double block_sum(double *sh, double v) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int s = REDUCE_THREADS / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    return sh[0];
}

__global__ void sumsq_partial_kernel(double *partial, const float *w, size_t n) {
    __shared__ double sh[REDUCE_THREADS];
    size_t i0 = (size_t)blockIdx.x * L2_CHUNK, i1 = i0 + L2_CHUNK < n ? i0 + L2_CHUNK : n;
    double s = 0.0;
    for (size_t i = i0 + threadIdx.x; i < i1; i += REDUCE_THREADS) s += (double)w[i] * w[i];
    double t = block_sum(sh, s);
    if (threadIdx.x == 0) partial[blockIdx.x] = t;
}

__global__ void l2_final_kernel(float *loss, const double *partial, int parts, float l2) {
    __shared__ double sh[REDUCE_THREADS];
    double s = 0.0;
    for (int i = threadIdx.x; i < parts; i += REDUCE_THREADS) s += partial[i];
    double t = block_sum(sh, s);
    if (threadIdx.x == 0) *loss += (float)(l2 * t);
}

__global__ void l2_backward_kernel(float *dw, const float *w, size_t n, float c) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        dw[i] += c * w[i];
}

// The Adam update of every element, shared by the host-step-size kernel and the step-state one.
__device__ __forceinline__ void adam_elems(float *params, float *m, float *v, const float *grads, size_t n,
                                           float alpha, float c1, float c2, float eps) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float g = grads[i];
        float mi = m[i] + (g - m[i]) * c1;
        float vi = v[i] + (g * g - v[i]) * c2;
        m[i] = mi;
        v[i] = vi;
        params[i] -= alpha * mi / (sqrtf(vi) + eps);
    }
}

__global__ void adam_kernel(float *params, float *m, float *v, const float *grads, size_t n, float alpha, float c1,
                            float c2, float eps) {
    adam_elems(params, m, v, grads, n, alpha, c1, c2, eps);
}

extern "C" void softmax_ce_forward_scaled_cuda(float *probs, float *losses, float *loss_mean, const float *logits,
                                               const int *labels, int B, int K, float scale) {
    GS_ASSERT(B > 0 && K > 0);
    double *row_loss = (double *)gs_cuda_scratch((size_t)B * sizeof(double));
    cudaStream_t st = gs_cuda_stream();
    softmax_ce_forward_kernel<<<(B + 127) / 128, 128, 0, st>>>(probs, row_loss, losses, logits, labels, B, K);
    if (loss_mean) mean_rows_kernel<<<1, 1, 0, st>>>(loss_mean, row_loss, B, scale);
    GS_CUDA_OP_DONE("softmax_ce_forward_cuda");
}

extern "C" void softmax_ce_forward_cuda(float *probs, float *losses, float *loss_mean, const float *logits,
                                        const int *labels, int B, int K) {
    softmax_ce_forward_scaled_cuda(probs, losses, loss_mean, logits, labels, B, K, 1.0f);
}

extern "C" void softmax_ce_backward_cuda(float *dlogits, const float *probs, const int *labels, int B, int K,
                                         float scale) {
    if (!dlogits) return;
    GS_ASSERT(B > 0 && K > 0);
    softmax_ce_backward_kernel<<<(B * K + 127) / 128, 128, 0, gs_cuda_stream()>>>(dlogits, probs, labels, B, K,
                                                                                  scale / (float)B);
    GS_CUDA_OP_DONE("softmax_ce_backward_cuda");
}

extern "C" void l2_forward_cuda(float *loss, const float *w, size_t n, float l2) {
    if (n == 0) return;
    size_t parts = (n + L2_CHUNK - 1) / L2_CHUNK;
    GS_ASSERT(parts < (1u << 31));
    double *partial = (double *)gs_cuda_scratch(parts * sizeof(double));
    cudaStream_t st = gs_cuda_stream();
    sumsq_partial_kernel<<<(unsigned)parts, REDUCE_THREADS, 0, st>>>(partial, w, n);
    l2_final_kernel<<<1, REDUCE_THREADS, 0, st>>>(loss, partial, (int)parts, l2);
    GS_CUDA_OP_DONE("l2_forward_cuda");
}

extern "C" void l2_backward_cuda(float *dw, const float *w, size_t n, float l2) {
    if (!dw || n == 0) return;
    l2_backward_kernel<<<gs_cuda_blocks(n, 256), 256, 0, gs_cuda_stream()>>>(dw, w, n, 2.0f * l2);
    GS_CUDA_OP_DONE("l2_backward_cuda");
}

extern "C" void adam_update_cuda(float *params, float *m, float *v, const float *grads, size_t n, float lr,
                                 float beta1, float beta2, float eps, long t) {
    GS_ASSERT(t >= 1);
    if (n == 0) return;
    const float alpha = adam_step_size(lr, beta1, beta2, t);  // in double on the host, as the CPU op
    adam_kernel<<<gs_cuda_blocks(n, 256), 256, 0, gs_cuda_stream()>>>(params, m, v, grads, n, alpha, 1.0f - beta1,
                                                                      1.0f - beta2, eps);
    GS_CUDA_OP_DONE("adam_update_cuda");
}

// ---- step-state Adam (graph-capturable twin of adam_update_cuda) ----
// A captured CUDA graph replays its kernel arguments unchanged, but Adam's step size changes every
// step (t) and with ReduceLROnPlateau (lr): this variant reads it from device memory, refreshed by
// the host before each launch. Given the same step size its results are bitwise adam_update_cuda's
// (test_cuda_graph checks that): both kernels run adam_elems.

__global__ void adam_state_kernel(float *params, float *m, float *v, const float *grads, size_t n,
                                  const float *alpha_dev, float c1, float c2, float eps) {
    adam_elems(params, m, v, grads, n, *alpha_dev, c1, c2, eps);
}

extern "C" void adam_update_state_cuda(float *params, float *m, float *v, const float *grads, size_t n,
                                       const float *alpha, float beta1, float beta2, float eps) {
    if (n == 0) return;
    adam_state_kernel<<<gs_cuda_blocks(n, 256), 256, 0, gs_cuda_stream()>>>(params, m, v, grads, n, alpha,
                                                                            1.0f - beta1, 1.0f - beta2, eps);
    GS_CUDA_OP_DONE("adam_update_state_cuda");
}
