// CUDA twin of src/ops/batchnorm.c: batch normalization over the last axis of (M,C) with a fused
// activation (none / ReLU6 / ReLU), Keras semantics (biased batch variance, moving averages with
// `momentum`, saved mean/invstd for backward).
// Statistics are a deterministic two-level reduction: blocks of (32 channels x 8 row lanes) sum a
// fixed chunk of rows (float per thread, double across lanes in fixed order) into per-chunk
// partials; one thread per channel then sums the chunks in order (double). As on the CPU, sums are
// taken relative to row 0 (a pivot) so E[d^2]-E[d]^2 does not cancel when |mean| >> std.
// Three launches per op (partials, per-channel finalize, elementwise apply); fusing the statistics
// into the producer's epilogue is the known next step (cuda/README.md, known limits).
#include "cuda_common.h"
#include "gesture/bn_stats.h"

#define BN_LANES 8
#define BN_ROWS 512  // rows per chunk, at least (64 per thread lane, like the CPU's ROW_BLOCK)
#define BN_THREADS 256

template <int ACT>
__device__ __forceinline__ float act_apply(float y) {
    if (ACT == GS_ACT_RELU6) {
        y = y < 0.0f ? 0.0f : y;
        return y > 6.0f ? 6.0f : y;
    }
    if (ACT == GS_ACT_RELU) return y < 0.0f ? 0.0f : y;
    return y;
}

// Upstream gradient masked by the activation, decided from the forward output.
template <int ACT>
__device__ __forceinline__ float act_mask(float g, float o) {
    if (ACT == GS_ACT_RELU6) return (o > 0.0f && o < 6.0f) ? g : 0.0f;
    if (ACT == GS_ACT_RELU) return o > 0.0f ? g : 0.0f;
    return g;
}

static int rows_per_chunk(int M) {
    int r = BN_ROWS;
    if ((M + r - 1) / r > 65535) r = (M + 65534) / 65535;
    return r;
}

// partial (chunks, 2, C): [sum d, sum d^2] with d = x - x[row 0].
__global__ void bn_stats_partial_kernel(double *partial, const float *inp, int M, int C, int rpc) {
    __shared__ double sh[2][BN_LANES][33];
    int c = blockIdx.x * 32 + threadIdx.x;
    int m0 = blockIdx.y * rpc, m1 = min(M, m0 + rpc);
    float s = 0.0f, q = 0.0f;
    if (c < C) {
        float pivot = inp[c];
        for (int m = m0 + threadIdx.y; m < m1; m += BN_LANES) {
            float d = inp[(size_t)m * C + c] - pivot;
            s += d;
            q += d * d;
        }
    }
    sh[0][threadIdx.y][threadIdx.x] = s;
    sh[1][threadIdx.y][threadIdx.x] = q;
    __syncthreads();
    if (threadIdx.y < 2 && c < C) {
        double t = 0.0;
        for (int l = 0; l < BN_LANES; l++) t += sh[threadIdx.y][l][threadIdx.x];
        partial[((size_t)blockIdx.y * 2 + threadIdx.y) * C + c] = t;
    }
}

// Channel c's two partial sums (partial: (chunks, 2, C)), added over the chunks in order (double).
__device__ __forceinline__ void chunk_sums(double *s0, double *s1, const double *partial, int chunks, int C, int c) {
    double a = 0.0, b = 0.0;
    for (int k = 0; k < chunks; k++) {
        a += partial[((size_t)k * 2) * C + c];
        b += partial[((size_t)k * 2 + 1) * C + c];
    }
    *s0 = a;
    *s1 = b;
}

__global__ void bn_stats_final_kernel(float *mean, float *invstd, float *scale, float *moving_mean, float *moving_var,
                                      const double *partial, int chunks, const float *inp, const float *gamma, int M,
                                      int C, float eps, float momentum) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    double s, q;
    chunk_sums(&s, &q, partial, chunks, C, c);
    bn_channel_stats(&mean[c], &invstd[c], &scale[c], &moving_mean[c], &moving_var[c], s, q, (double)inp[c], M,
                     gamma[c], eps, momentum);
}

__global__ void bn_infer_scale_kernel(float *scale, const float *gamma, const float *moving_var, int C, float eps) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c < C) scale[c] = (float)(gamma[c] / sqrt((double)moving_var[c] + eps));
}

// out = act((x - sub[c]) * scale[c] + add[c]).
template <int ACT>
__global__ void bn_apply_kernel(float *out, const float *inp, const float *sub, const float *scale, const float *add,
                                size_t total, int C) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        int c = (int)(i % C);
        out[i] = act_apply<ACT>((inp[i] - sub[c]) * scale[c] + add[c]);
    }
}

// partial (chunks, 2, C): [sum dy, sum dy*(x-mean)], dy = masked dout.
template <int ACT>
__global__ void bn_bwd_partial_kernel(double *partial, const float *dout, const float *out, const float *inp,
                                      const float *mean, int M, int C, int rpc) {
    __shared__ double sh[2][BN_LANES][33];
    int c = blockIdx.x * 32 + threadIdx.x;
    int m0 = blockIdx.y * rpc, m1 = min(M, m0 + rpc);
    float s = 0.0f, sx = 0.0f;
    if (c < C) {
        float mu = mean[c];
        for (int m = m0 + threadIdx.y; m < m1; m += BN_LANES) {
            size_t i = (size_t)m * C + c;
            float dy = act_mask<ACT>(dout[i], out[i]);
            s += dy;
            sx += dy * (inp[i] - mu);
        }
    }
    sh[0][threadIdx.y][threadIdx.x] = s;
    sh[1][threadIdx.y][threadIdx.x] = sx;
    __syncthreads();
    if (threadIdx.y < 2 && c < C) {
        double t = 0.0;
        for (int l = 0; l < BN_LANES; l++) t += sh[threadIdx.y][l][threadIdx.x];
        partial[((size_t)blockIdx.y * 2 + threadIdx.y) * C + c] = t;
    }
}

// coef (3, C): k = gamma*invstd, mean(dy), mean(dy*xhat); dgamma/dbeta accumulated.
__global__ void bn_bwd_final_kernel(float *coef, float *dgamma, float *dbeta, const double *partial, int chunks,
                                    const float *invstd, const float *gamma, int M, int C) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    double s, sx;
    chunk_sums(&s, &sx, partial, chunks, C, c);
    double sxh = sx * invstd[c];
    if (dbeta) dbeta[c] += (float)s;
    if (dgamma) dgamma[c] += (float)sxh;
    coef[c] = (float)((double)gamma[c] * invstd[c]);
    coef[C + c] = (float)(s / M);
    coef[2 * C + c] = (float)(sxh / M);
}

template <int ACT>
__global__ void bn_bwd_dinp_kernel(float *dinp, const float *dout, const float *out, const float *inp,
                                   const float *mean, const float *invstd, const float *coef, size_t total, int C) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        int c = (int)(i % C);
        float dy = act_mask<ACT>(dout[i], out[i]);
        float xh = (inp[i] - mean[c]) * invstd[c];
        dinp[i] += coef[c] * (dy - coef[C + c] - xh * coef[2 * C + c]);
    }
}

static void apply(float *out, const float *inp, const float *sub, const float *scale, const float *add, int M, int C,
                  int act) {
    size_t total = (size_t)M * C;
    unsigned blocks = gs_cuda_blocks(total, BN_THREADS);
    cudaStream_t st = gs_cuda_stream();
    if (act == GS_ACT_RELU6)
        bn_apply_kernel<GS_ACT_RELU6><<<blocks, BN_THREADS, 0, st>>>(out, inp, sub, scale, add, total, C);
    else if (act == GS_ACT_RELU)
        bn_apply_kernel<GS_ACT_RELU><<<blocks, BN_THREADS, 0, st>>>(out, inp, sub, scale, add, total, C);
    else
        bn_apply_kernel<GS_ACT_NONE><<<blocks, BN_THREADS, 0, st>>>(out, inp, sub, scale, add, total, C);
}

// dinp += the BN backward through the batch statistics (coef from bn_bwd_final / bn_sync_bwd_coef).
static void bwd_dinp(float *dinp, const float *dout, const float *out, const float *inp, const float *mean,
                     const float *invstd, const float *coef, int M, int C, int act) {
    size_t total = (size_t)M * C;
    unsigned blocks = gs_cuda_blocks(total, BN_THREADS);
    cudaStream_t st = gs_cuda_stream();
    if (act == GS_ACT_RELU6)
        bn_bwd_dinp_kernel<GS_ACT_RELU6><<<blocks, BN_THREADS, 0, st>>>(dinp, dout, out, inp, mean, invstd, coef,
                                                                        total, C);
    else if (act == GS_ACT_RELU)
        bn_bwd_dinp_kernel<GS_ACT_RELU><<<blocks, BN_THREADS, 0, st>>>(dinp, dout, out, inp, mean, invstd, coef,
                                                                       total, C);
    else
        bn_bwd_dinp_kernel<GS_ACT_NONE><<<blocks, BN_THREADS, 0, st>>>(dinp, dout, out, inp, mean, invstd, coef,
                                                                       total, C);
}

static void check_act(int act) { GS_ASSERT(act == GS_ACT_NONE || act == GS_ACT_RELU6 || act == GS_ACT_RELU); }

extern "C" void batchnorm_forward_train_cuda(float *out, float *mean, float *invstd, float *moving_mean,
                                             float *moving_var, const float *inp, const float *gamma,
                                             const float *beta, int M, int C, float eps, float momentum, int act) {
    GS_ASSERT(M > 0 && C > 0);
    check_act(act);
    int rpc = rows_per_chunk(M), chunks = (M + rpc - 1) / rpc;
    size_t scale_bytes = gs_cuda_align((size_t)C * sizeof(float));
    char *ws = (char *)gs_cuda_scratch(scale_bytes + (size_t)chunks * 2 * C * sizeof(double));
    float *scale = (float *)ws;
    double *partial = (double *)(ws + scale_bytes);
    cudaStream_t st = gs_cuda_stream();
    bn_stats_partial_kernel<<<dim3((C + 31) / 32, chunks), dim3(32, BN_LANES), 0, st>>>(partial, inp, M, C, rpc);
    bn_stats_final_kernel<<<(C + 127) / 128, 128, 0, st>>>(mean, invstd, scale, moving_mean, moving_var, partial,
                                                           chunks, inp, gamma, M, C, eps, momentum);
    apply(out, inp, mean, scale, beta, M, C, act);
    GS_CUDA_OP_DONE("batchnorm_forward_train_cuda");
}

extern "C" void batchnorm_forward_infer_cuda(float *out, const float *inp, const float *gamma, const float *beta,
                                             const float *moving_mean, const float *moving_var, int M, int C,
                                             float eps, int act) {
    GS_ASSERT(M >= 0 && C > 0);
    check_act(act);
    if (M == 0) return;
    float *scale = (float *)gs_cuda_scratch((size_t)C * sizeof(float));
    bn_infer_scale_kernel<<<(C + 127) / 128, 128, 0, gs_cuda_stream()>>>(scale, gamma, moving_var, C, eps);
    apply(out, inp, moving_mean, scale, beta, M, C, act);
    GS_CUDA_OP_DONE("batchnorm_forward_infer_cuda");
}

extern "C" void batchnorm_backward_cuda(float *dinp, float *dgamma, float *dbeta, const float *dout, const float *out,
                                        const float *inp, const float *mean, const float *invstd, const float *gamma,
                                        int M, int C, int act) {
    GS_ASSERT(M > 0 && C > 0);
    check_act(act);
    int rpc = rows_per_chunk(M), chunks = (M + rpc - 1) / rpc;
    size_t coef_bytes = gs_cuda_align(3 * (size_t)C * sizeof(float));
    char *ws = (char *)gs_cuda_scratch(coef_bytes + (size_t)chunks * 2 * C * sizeof(double));
    float *coef = (float *)ws;
    double *partial = (double *)(ws + coef_bytes);
    cudaStream_t st = gs_cuda_stream();
    dim3 grid((C + 31) / 32, chunks), block(32, BN_LANES);
    if (act == GS_ACT_RELU6)
        bn_bwd_partial_kernel<GS_ACT_RELU6><<<grid, block, 0, st>>>(partial, dout, out, inp, mean, M, C, rpc);
    else if (act == GS_ACT_RELU)
        bn_bwd_partial_kernel<GS_ACT_RELU><<<grid, block, 0, st>>>(partial, dout, out, inp, mean, M, C, rpc);
    else
        bn_bwd_partial_kernel<GS_ACT_NONE><<<grid, block, 0, st>>>(partial, dout, out, inp, mean, M, C, rpc);
    bn_bwd_final_kernel<<<(C + 127) / 128, 128, 0, st>>>(coef, dgamma, dbeta, partial, chunks, invstd, gamma, M, C);
    if (dinp) bwd_dinp(dinp, dout, out, inp, mean, invstd, coef, M, C, act);
    GS_CUDA_OP_DONE("batchnorm_backward_cuda");
}

// ---- data-parallel, sync_bn (batchnorm_*_sync in src/ops/batchnorm.c) ----
// The same partial sums, then one thread per channel turns this rank's sums into the reducer's
// 2C+1 doubles (red: [0,C) sum of x - moving_mean, [C,2C) sum of its squares, [2C] rows), r->sum
// queues their sum over the ranks on the stream (NCCL), and the statistics come from the sums.

__global__ void bn_sync_fwd_sums_kernel(double *red, const double *partial, int chunks, const float *inp,
                                        const float *moving_mean, int M, int C) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c == 0) red[2 * C] = M;
    if (c >= C) return;
    double s, q;
    chunk_sums(&s, &q, partial, chunks, C, c);
    double e = (double)inp[c] - (double)moving_mean[c];  // pivot (row 0) - shift
    red[c] = s + M * e;
    red[C + c] = q + 2 * e * s + M * e * e;
}

__global__ void bn_sync_fwd_final_kernel(float *mean, float *invstd, float *scale, float *moving_mean,
                                         float *moving_var, const double *red, const float *gamma, int C, float eps,
                                         float momentum) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    // the shift is the moving mean, read before its update
    bn_channel_stats(&mean[c], &invstd[c], &scale[c], &moving_mean[c], &moving_var[c], red[c], red[C + c],
                     (double)moving_mean[c], red[2 * C], gamma[c], eps, momentum);
}

// This rank's sums of dy and dy*(x-mean) into red (and its part of dgamma/dbeta).
__global__ void bn_sync_bwd_sums_kernel(double *red, float *dgamma, float *dbeta, const double *partial, int chunks,
                                        const float *invstd, int M, int C) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c == 0) red[2 * C] = M;
    if (c >= C) return;
    double s, sx;
    chunk_sums(&s, &sx, partial, chunks, C, c);
    if (dbeta) dbeta[c] += (float)s;
    if (dgamma) dgamma[c] += (float)(sx * invstd[c]);
    red[c] = s;
    red[C + c] = sx;
}

__global__ void bn_sync_bwd_coef_kernel(float *coef, const double *red, const float *invstd, const float *gamma,
                                        int C) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    double Mg = red[2 * C];
    coef[c] = (float)((double)gamma[c] * invstd[c]);
    coef[C + c] = (float)(red[c] / Mg);
    coef[2 * C + c] = (float)(red[C + c] * invstd[c] / Mg);
}

extern "C" void batchnorm_forward_train_sync_cuda(float *out, float *mean, float *invstd, float *moving_mean,
                                                  float *moving_var, const float *inp, const float *gamma,
                                                  const float *beta, int M, int C, float eps, float momentum, int act,
                                                  const gs_reducer *r) {
    GS_ASSERT(M >= 0 && C > 0 && r && r->sum);
    check_act(act);
    int rpc = rows_per_chunk(M > 0 ? M : 1), chunks = M > 0 ? (M + rpc - 1) / rpc : 0;
    size_t scale_bytes = gs_cuda_align((size_t)C * sizeof(float));
    size_t red_bytes = gs_cuda_align((2 * (size_t)C + 1) * sizeof(double));
    char *ws = (char *)gs_cuda_scratch(scale_bytes + red_bytes + (size_t)chunks * 2 * C * sizeof(double));
    float *scale = (float *)ws;
    double *red = (double *)(ws + scale_bytes), *partial = (double *)(ws + scale_bytes + red_bytes);
    cudaStream_t st = gs_cuda_stream();
    if (M > 0) {
        bn_stats_partial_kernel<<<dim3((C + 31) / 32, chunks), dim3(32, BN_LANES), 0, st>>>(partial, inp, M, C, rpc);
        bn_sync_fwd_sums_kernel<<<(C + 127) / 128, 128, 0, st>>>(red, partial, chunks, inp, moving_mean, M, C);
    } else {
        gs_cuda_memset_async(red, 0, (2 * (size_t)C + 1) * sizeof(double));
    }
    r->sum(r->ctx, red, 2 * (size_t)C + 1);
    bn_sync_fwd_final_kernel<<<(C + 127) / 128, 128, 0, st>>>(mean, invstd, scale, moving_mean, moving_var, red, gamma,
                                                              C, eps, momentum);
    if (M > 0) apply(out, inp, mean, scale, beta, M, C, act);
    GS_CUDA_OP_DONE("batchnorm_forward_train_sync_cuda");
}

extern "C" void batchnorm_backward_sync_cuda(float *dinp, float *dgamma, float *dbeta, const float *dout,
                                             const float *out, const float *inp, const float *mean,
                                             const float *invstd, const float *gamma, int M, int C, int act,
                                             const gs_reducer *r) {
    GS_ASSERT(M >= 0 && C > 0 && r && r->sum);
    check_act(act);
    int rpc = rows_per_chunk(M > 0 ? M : 1), chunks = M > 0 ? (M + rpc - 1) / rpc : 0;
    size_t coef_bytes = gs_cuda_align(3 * (size_t)C * sizeof(float));
    size_t red_bytes = gs_cuda_align((2 * (size_t)C + 1) * sizeof(double));
    char *ws = (char *)gs_cuda_scratch(coef_bytes + red_bytes + (size_t)chunks * 2 * C * sizeof(double));
    float *coef = (float *)ws;
    double *red = (double *)(ws + coef_bytes), *partial = (double *)(ws + coef_bytes + red_bytes);
    cudaStream_t st = gs_cuda_stream();
    if (M > 0) {
        dim3 grid((C + 31) / 32, chunks), block(32, BN_LANES);
        if (act == GS_ACT_RELU6)
            bn_bwd_partial_kernel<GS_ACT_RELU6><<<grid, block, 0, st>>>(partial, dout, out, inp, mean, M, C, rpc);
        else if (act == GS_ACT_RELU)
            bn_bwd_partial_kernel<GS_ACT_RELU><<<grid, block, 0, st>>>(partial, dout, out, inp, mean, M, C, rpc);
        else
            bn_bwd_partial_kernel<GS_ACT_NONE><<<grid, block, 0, st>>>(partial, dout, out, inp, mean, M, C, rpc);
        bn_sync_bwd_sums_kernel<<<(C + 127) / 128, 128, 0, st>>>(red, dgamma, dbeta, partial, chunks, invstd, M, C);
    } else {
        gs_cuda_memset_async(red, 0, (2 * (size_t)C + 1) * sizeof(double));
    }
    r->sum(r->ctx, red, 2 * (size_t)C + 1);
    bn_sync_bwd_coef_kernel<<<(C + 127) / 128, 128, 0, st>>>(coef, red, invstd, gamma, C);
    if (dinp && M > 0) bwd_dinp(dinp, dout, out, inp, mean, invstd, coef, M, C, act);
    GS_CUDA_OP_DONE("batchnorm_backward_sync_cuda");
}
