// CUDA twin of src/ops/matmul.c through cuBLAS (row-major wrappers in runtime.cu): 1x1 convs
// (M = N*H*W rows), dense layers. FP32 math (no TF32) so results match the CPU at 1e-4.
// The bias gradient is a deterministic column sum, not a cuBLAS gemv against a ones vector, so
// its summation order is ours and fixed.
#include "cuda_common.h"

// out[m, :] = bias for every row (the GEMM then adds the product with beta = 1).
__global__ void broadcast_rows_kernel(float *out, const float *bias, size_t M, int Nout) {
    size_t total = M * Nout;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x)
        out[i] = bias[i % Nout];
}

extern "C" void matmul_forward_cuda(float *out, const float *inp, const float *w, const float *bias, int M, int K,
                                    int Nout) {
    GS_ASSERT(M >= 0 && K >= 0 && Nout > 0);
    if (M == 0) return;
    float beta = 0.0f;
    if (bias) {
        size_t total = (size_t)M * Nout;
        broadcast_rows_kernel<<<gs_cuda_blocks(total, 256), 256, 0, gs_cuda_stream()>>>(out, bias, (size_t)M, Nout);
        beta = 1.0f;
    } else if (K == 0) {
        gs_cuda_memset_async(out, 0, (size_t)M * Nout * sizeof(float));
    }
    if (K > 0) gs_cuda_gemm_rm(0, 0, M, Nout, K, 1.0f, inp, K, w, Nout, beta, out, Nout);
    GS_CUDA_OP_DONE("matmul_forward_cuda");
}

extern "C" void matmul_backward_cuda(float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                                     const float *w, int M, int K, int Nout) {
    GS_ASSERT(M >= 0 && K >= 0 && Nout > 0);
    if (M == 0) return;
    if (dinp && K > 0)  // dinp += dout @ w^T
        gs_cuda_gemm_rm(0, 1, M, K, Nout, 1.0f, dout, Nout, w, Nout, 1.0f, dinp, K);
    if (dw && K > 0)  // dw += inp^T @ dout
        gs_cuda_gemm_rm(1, 0, K, Nout, M, 1.0f, inp, K, dout, Nout, 1.0f, dw, Nout);
    if (dbias) {
        double *partial = (double *)gs_cuda_scratch(gs_cuda_colsum_scratch_bytes((size_t)M, Nout));
        gs_cuda_colsum_add(dbias, dout, (size_t)M, Nout, partial);
    }
    GS_CUDA_OP_DONE("matmul_backward_cuda");
}
