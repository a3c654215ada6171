// CUDA twin of src/ops/gru.c: one direction of a Keras GRU (reset_after=True), final state only,
// with the CPU's cache layout (xproj | gates [z|r|rh] | hh | hs, gru_cache_floats(B,T,H) floats).
// Forward: the input projections of all timesteps are one cuBLAS GEMM; each step is one small
// GEMM (h_prev @ U) plus one gate kernel. Backward (BPTT): one gate-gradient kernel plus one
// GEMM (dh_prev += drec @ U^T) per step, then the weight gradients and dx as one GEMM each.
// About 2 launches per step per direction: latency-bound at B=4, H=128; a persistent
// per-direction kernel holding U on chip is the planned replacement (cuda/README.md, known limits).
#include "cuda_common.h"
#include "gesture/gru_cache.h"

#define GRU_THREADS 128

__device__ __forceinline__ float sigmoid_dev(float a) { return 1.0f / (1.0f + expf(-a)); }

__global__ void gru_broadcast_rows_kernel(float *out, const float *bias, size_t rows, int G) {
    size_t total = rows * G;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x)
        out[i] = bias[i % G];
}

// One thread per (b, j). g holds h_prev @ U (step > 0) and receives [z | r | rh].
__global__ void gru_gates_kernel(float *g, float *hh, float *hs, const float *hprev, const float *xproj,
                                 const float *rbias, int B, int T, int H, int t, int has_prev) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= B * H) return;
    int b = i / H, j = i % H, G = 3 * H;
    const float *xp = xproj + ((size_t)b * T + t) * G;
    float *gb = g + (size_t)b * G;
    float rz = rbias[j], rr = rbias[H + j], rh = rbias[2 * H + j];
    if (has_prev) {
        rz += gb[j];
        rr += gb[H + j];
        rh += gb[2 * H + j];
    }
    float z = sigmoid_dev(xp[j] + rz);
    float r = sigmoid_dev(xp[H + j] + rr);
    float cand = tanhf(xp[2 * H + j] + r * rh);
    float hp = has_prev ? hprev[i] : 0.0f;
    gb[j] = z;
    gb[H + j] = r;
    gb[2 * H + j] = rh;
    hh[i] = cand;
    hs[i] = z * hp + (1.0f - z) * cand;
}

__global__ void gru_copy_state_kernel(float *dst, int dst_stride, const float *src, int src_stride, int B, int H) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= B * H) return;
    int b = i / H, j = i % H;
    dst[(size_t)b * dst_stride + j] = src[(size_t)b * src_stride + j];
}

// Pre-activation gradients of step s for (b, j); dh becomes the direct h_prev path d*z.
__global__ void gru_step_backward_kernel(float *dxproj, float *drec_s, float *dh, const float *g, const float *hh,
                                         const float *hprev, int B, int T, int H, int t, int has_prev) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= B * H) return;
    int b = i / H, j = i % H, G = 3 * H;
    const float *gb = g + (size_t)b * G;
    float z = gb[j], r = gb[H + j], rh = gb[2 * H + j];
    float cand = hh[i];
    float hp = has_prev ? hprev[i] : 0.0f;
    float d = dh[i];
    float da_h = d * (1.0f - z) * (1.0f - cand * cand);
    float da_z = d * (hp - cand) * z * (1.0f - z);
    float da_r = da_h * rh * r * (1.0f - r);
    float *dxp = dxproj + ((size_t)b * T + t) * G;
    float *drb = drec_s + (size_t)b * G;
    dxp[j] = da_z;
    dxp[H + j] = da_r;
    dxp[2 * H + j] = da_h;
    drb[j] = da_z;
    drb[H + j] = da_r;
    drb[2 * H + j] = da_h * r;
    dh[i] = d * z;
}


static unsigned bh_blocks(int B, int H) { return (unsigned)((B * H + GRU_THREADS - 1) / GRU_THREADS); }

extern "C" void gru_forward_cuda(float *out, float *cache, const float *x, const float *kernel, const float *rkernel,
                                 const float *bias, int B, int T, int D, int H, int out_stride, int reverse) {
    GS_ASSERT(B > 0 && T > 0 && D > 0 && H > 0 && out_stride >= H);
    const int G = 3 * H;
    const size_t BH = (size_t)B * H, BG = (size_t)B * G, BT = (size_t)B * T;
    gru_cache_view c = gru_cache_split(cache, B, T, H);
    cudaStream_t st = gs_cuda_stream();
    gru_broadcast_rows_kernel<<<gs_cuda_blocks(BT * G, 256), 256, 0, st>>>(c.xproj, bias, BT, G);
    gs_cuda_gemm_rm(0, 0, (int)BT, G, D, 1.0f, x, D, kernel, G, 1.0f, c.xproj, G);
    for (int s = 0; s < T; s++) {
        const int t = reverse ? T - 1 - s : s;
        float *g = c.gates + s * BG;
        const float *hprev = s > 0 ? c.hs + (s - 1) * BH : NULL;
        if (hprev) gs_cuda_gemm_rm(0, 0, B, G, H, 1.0f, hprev, H, rkernel, G, 0.0f, g, G);
        gru_gates_kernel<<<bh_blocks(B, H), GRU_THREADS, 0, st>>>(g, c.hh + s * BH, c.hs + s * BH, hprev, c.xproj,
                                                                  bias + G, B, T, H, t, hprev != NULL);
    }
    gru_copy_state_kernel<<<bh_blocks(B, H), GRU_THREADS, 0, st>>>(out, out_stride, c.hs + (size_t)(T - 1) * BH, H, B,
                                                                   H);
    GS_CUDA_OP_DONE("gru_forward_cuda");
}

extern "C" void gru_backward_cuda(float *dx, float *dkernel, float *drkernel, float *dbias, const float *dout,
                                  const float *cache, const float *x, const float *kernel, const float *rkernel, int B,
                                  int T, int D, int H, int out_stride, int reverse) {
    GS_ASSERT(B > 0 && T > 0 && D > 0 && H > 0 && out_stride >= H);
    const int G = 3 * H;
    const size_t BH = (size_t)B * H, BG = (size_t)B * G, BT = (size_t)B * T;
    // The view is only read; the cast drops const to share the layout helper.
    gru_cache_view c = gru_cache_split((float *)cache, B, T, H);
    size_t mat = gs_cuda_align(BT * G * sizeof(float)), dhb = gs_cuda_align(BH * sizeof(float));
    char *ws = (char *)gs_cuda_scratch(2 * mat + dhb + gs_cuda_colsum_scratch_bytes(BT, G));
    float *dxproj = (float *)ws, *drec = (float *)(ws + mat), *dh = (float *)(ws + 2 * mat);
    double *partial = (double *)(ws + 2 * mat + dhb);
    cudaStream_t st = gs_cuda_stream();

    gru_copy_state_kernel<<<bh_blocks(B, H), GRU_THREADS, 0, st>>>(dh, H, dout, out_stride, B, H);
    for (int s = T - 1; s >= 0; s--) {
        const int t = reverse ? T - 1 - s : s;
        const float *hprev = s > 0 ? c.hs + (s - 1) * BH : NULL;
        float *dr_s = drec + s * BG;
        gru_step_backward_kernel<<<bh_blocks(B, H), GRU_THREADS, 0, st>>>(dxproj, dr_s, dh, c.gates + s * BG,
                                                                          c.hh + s * BH, hprev, B, T, H, t,
                                                                          hprev != NULL);
        // dh_prev += drec U^T; h0 is a constant, so step 0 stops here.
        if (s > 0) gs_cuda_gemm_rm(0, 1, B, H, G, 1.0f, dr_s, G, rkernel, G, 1.0f, dh, H);
    }
    // Step s consumed hs[s-1]: steps 1..T-1 pair with hs[0..T-2], both contiguous.
    if (drkernel && T > 1) gs_cuda_gemm_rm(1, 0, H, G, B * (T - 1), 1.0f, c.hs, H, drec + BG, G, 1.0f, drkernel, G);
    if (dbias) {
        gs_cuda_colsum_add(dbias, dxproj, BT, G, partial);
        gs_cuda_colsum_add(dbias + G, drec, BT, G, partial);
    }
    if (dkernel) gs_cuda_gemm_rm(1, 0, D, G, (int)BT, 1.0f, x, D, dxproj, G, 1.0f, dkernel, G);
    if (dx) gs_cuda_gemm_rm(0, 1, (int)BT, D, G, 1.0f, dxproj, G, kernel, G, 1.0f, dx, D);
    GS_CUDA_OP_DONE("gru_backward_cuda");
}
