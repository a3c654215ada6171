// CUDA twin of src/ops/depthwise.c: depthwise KxK convolution, NHWC, weights (K,K,C).
//  forward:  one thread per output pixel and channel vector (float4 when C % 4 == 0 and the
//            pointers are 16-byte aligned), taps clipped at the border;
//  dgrad:    one thread per INPUT pixel and channel vector gathering from the outputs its taps
//            feed (no scatter, no atomics), accumulated (+=) into dinp;
//  wgrad:    deterministic split reduction: a block owns 32 channels x a fixed chunk of output rows,
//            keeps K*K accumulators per thread in registers, reduces its 8 row lanes in shared
//            memory in fixed order and writes one partial (K*K, 32) per chunk; a second kernel sums
//            the chunks in order (double) into dw. The chunking depends only on the shape.
// First cut: correct and coalesced, not tiled (each input value is re-read by up to K*K threads
// through L1/L2). The planned tiled design: cuda/README.md, known limits.
#include <stdint.h>

#include "cuda_common.h"

#define DW_THREADS 256
#define WG_ROW_LANES 8
#define WG_ROWS 16  // output rows (n, y) per wgrad chunk, at least

template <int VEC>
struct vecf;
template <>
struct vecf<1> {
    float v[1];
    __device__ static vecf load(const float *p) { return vecf{{*p}}; }
    __device__ void store(float *p) const { *p = v[0]; }
};
template <>
struct vecf<4> {
    float v[4];
    __device__ static vecf load(const float *p) {
        float4 t = *reinterpret_cast<const float4 *>(p);
        return vecf{{t.x, t.y, t.z, t.w}};
    }
    __device__ void store(float *p) const { *reinterpret_cast<float4 *>(p) = make_float4(v[0], v[1], v[2], v[3]); }
};

template <int VEC>
__global__ void dw_forward_kernel(float *out, const float *inp, const float *w, int N, int H, int W, int C, int K,
                                  int stride, int pad_top, int pad_left, int Ho, int Wo) {
    const int CV = C / VEC;
    const size_t total = (size_t)N * Ho * Wo * CV;
    for (size_t idx = blockIdx.x * (size_t)blockDim.x + threadIdx.x; idx < total;
         idx += (size_t)gridDim.x * blockDim.x) {
        int c = (int)(idx % CV) * VEC;
        size_t pix = idx / CV;
        int x = (int)(pix % Wo), y = (int)((pix / Wo) % Ho), n = (int)(pix / ((size_t)Wo * Ho));
        int h0 = stride * y - pad_top, w0 = stride * x - pad_left;
        float acc[VEC];
#pragma unroll
        for (int k = 0; k < VEC; k++) acc[k] = 0.0f;
        for (int i = 0; i < K; i++) {
            int h = h0 + i;
            if (h < 0 || h >= H) continue;
            for (int j = 0; j < K; j++) {
                int ww = w0 + j;
                if (ww < 0 || ww >= W) continue;
                vecf<VEC> a = vecf<VEC>::load(inp + (((size_t)n * H + h) * W + ww) * C + c);
                vecf<VEC> b = vecf<VEC>::load(w + (size_t)(i * K + j) * C + c);
#pragma unroll
                for (int k = 0; k < VEC; k++) acc[k] += a.v[k] * b.v[k];
            }
        }
        vecf<VEC> o;
#pragma unroll
        for (int k = 0; k < VEC; k++) o.v[k] = acc[k];
        o.store(out + pix * C + c);
    }
}

// dinp[n,h,w,c] += sum over taps (i,j) whose output (y,x) = ((h+pt-i)/s, (w+pl-j)/s) exists.
template <int VEC>
__global__ void dw_dgrad_kernel(float *dinp, const float *dout, const float *w, int N, int H, int W, int C, int K,
                                int stride, int pad_top, int pad_left, int Ho, int Wo) {
    const int CV = C / VEC;
    const size_t total = (size_t)N * H * W * CV;
    for (size_t idx = blockIdx.x * (size_t)blockDim.x + threadIdx.x; idx < total;
         idx += (size_t)gridDim.x * blockDim.x) {
        int c = (int)(idx % CV) * VEC;
        size_t pix = idx / CV;
        int ww = (int)(pix % W), h = (int)((pix / W) % H), n = (int)(pix / ((size_t)W * H));
        float acc[VEC];
#pragma unroll
        for (int k = 0; k < VEC; k++) acc[k] = 0.0f;
        for (int i = 0; i < K; i++) {
            int yy = h + pad_top - i;
            if (yy < 0 || yy % stride) continue;
            int y = yy / stride;
            if (y >= Ho) continue;
            for (int j = 0; j < K; j++) {
                int xx = ww + pad_left - j;
                if (xx < 0 || xx % stride) continue;
                int x = xx / stride;
                if (x >= Wo) continue;
                vecf<VEC> g = vecf<VEC>::load(dout + (((size_t)n * Ho + y) * Wo + x) * C + c);
                vecf<VEC> b = vecf<VEC>::load(w + (size_t)(i * K + j) * C + c);
#pragma unroll
                for (int k = 0; k < VEC; k++) acc[k] += g.v[k] * b.v[k];
            }
        }
        float *d = dinp + pix * C + c;
        vecf<VEC> o = vecf<VEC>::load(d);
#pragma unroll
        for (int k = 0; k < VEC; k++) o.v[k] += acc[k];
        o.store(d);
    }
}

// Block (32 channels, WG_ROW_LANES row lanes); grid (ceil(C/32), chunks). partial: (chunks, K*K, C).
template <int K>
__global__ void dw_wgrad_partial_kernel(float *partial, const float *dout, const float *inp, int N, int H, int W,
                                        int C, int stride, int pad_top, int pad_left, int Ho, int Wo,
                                        int rows_per_chunk) {
    __shared__ float sh[WG_ROW_LANES][K * K][32];
    const int c = blockIdx.x * 32 + threadIdx.x;
    const int rows = N * Ho;
    const int r0 = blockIdx.y * rows_per_chunk;
    const int r1 = min(rows, r0 + rows_per_chunk);
    float acc[K * K];
#pragma unroll
    for (int t = 0; t < K * K; t++) acc[t] = 0.0f;
    if (c < C) {
        for (int r = r0 + threadIdx.y; r < r1; r += WG_ROW_LANES) {
            int n = r / Ho, y = r % Ho;
            int h0 = stride * y - pad_top;
            const float *g_row = dout + ((size_t)r * Wo) * C + c;
            const float *x_img = inp + (size_t)n * H * W * C + c;
            for (int x = 0; x < Wo; x++) {
                float g = g_row[(size_t)x * C];
                int w0 = stride * x - pad_left;
#pragma unroll
                for (int i = 0; i < K; i++) {
                    int h = h0 + i;
                    if (h < 0 || h >= H) continue;
#pragma unroll
                    for (int j = 0; j < K; j++) {
                        int ww = w0 + j;
                        if (ww < 0 || ww >= W) continue;
                        acc[i * K + j] += x_img[((size_t)h * W + ww) * C] * g;
                    }
                }
            }
        }
    }
#pragma unroll
    for (int t = 0; t < K * K; t++) sh[threadIdx.y][t][threadIdx.x] = acc[t];
    __syncthreads();
    if (c >= C) return;
    // Fixed order over the row lanes; tap t handled by row lane t % WG_ROW_LANES.
    for (int t = threadIdx.y; t < K * K; t += WG_ROW_LANES) {
        float s = 0.0f;
        for (int l = 0; l < WG_ROW_LANES; l++) s += sh[l][t][threadIdx.x];
        partial[((size_t)blockIdx.y * K * K + t) * C + c] = s;
    }
}

__global__ void dw_wgrad_final_kernel(float *dw, const float *partial, int chunks, int KKC) {
    int k = blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= KKC) return;
    double s = 0.0;
    for (int ch = 0; ch < chunks; ch++) s += partial[(size_t)ch * KKC + k];
    dw[k] += (float)s;
}

static int vec4_ok(int C, const void *a, const void *b, const void *c) {
    uintptr_t m = (uintptr_t)a | (uintptr_t)b | (uintptr_t)c;
    return C % 4 == 0 && (m & 15) == 0;
}

static void check_geometry(int N, int H, int W, int C, int K, int stride, int pad_top, int pad_left, int Ho, int Wo) {
    GS_ASSERT(N >= 0 && H > 0 && W > 0 && C > 0 && K > 0 && stride > 0);
    GS_ASSERT(pad_top >= 0 && pad_left >= 0 && Ho > 0 && Wo > 0);
}

extern "C" void depthwise_forward_cuda(float *out, const float *inp, const float *w, int N, int H, int W, int C,
                                       int K, int stride, int pad_top, int pad_left, int Ho, int Wo) {
    check_geometry(N, H, W, C, K, stride, pad_top, pad_left, Ho, Wo);
    if (N == 0) return;
    cudaStream_t st = gs_cuda_stream();
    if (vec4_ok(C, out, inp, w)) {
        size_t n = (size_t)N * Ho * Wo * (C / 4);
        dw_forward_kernel<4><<<gs_cuda_blocks(n, DW_THREADS), DW_THREADS, 0, st>>>(out, inp, w, N, H, W, C, K, stride,
                                                                                  pad_top, pad_left, Ho, Wo);
    } else {
        size_t n = (size_t)N * Ho * Wo * C;
        dw_forward_kernel<1><<<gs_cuda_blocks(n, DW_THREADS), DW_THREADS, 0, st>>>(out, inp, w, N, H, W, C, K, stride,
                                                                                  pad_top, pad_left, Ho, Wo);
    }
    GS_CUDA_OP_DONE("depthwise_forward_cuda");
}

template <int K>
static void wgrad_launch(float *partial, int chunks, int rows_per_chunk, const float *dout, const float *inp, int N,
                         int H, int W, int C, int stride, int pad_top, int pad_left, int Ho, int Wo) {
    dim3 grid((C + 31) / 32, chunks), block(32, WG_ROW_LANES);
    dw_wgrad_partial_kernel<K><<<grid, block, 0, gs_cuda_stream()>>>(partial, dout, inp, N, H, W, C, stride, pad_top,
                                                                     pad_left, Ho, Wo, rows_per_chunk);
}

extern "C" void depthwise_backward_cuda(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                                        int N, int H, int W, int C, int K, int stride, int pad_top, int pad_left,
                                        int Ho, int Wo) {
    check_geometry(N, H, W, C, K, stride, pad_top, pad_left, Ho, Wo);
    if (N == 0 || (!dinp && !dw)) return;
    cudaStream_t st = gs_cuda_stream();
    if (dinp) {
        if (vec4_ok(C, dinp, dout, w)) {
            size_t n = (size_t)N * H * W * (C / 4);
            dw_dgrad_kernel<4><<<gs_cuda_blocks(n, DW_THREADS), DW_THREADS, 0, st>>>(dinp, dout, w, N, H, W, C, K,
                                                                                    stride, pad_top, pad_left, Ho, Wo);
        } else {
            size_t n = (size_t)N * H * W * C;
            dw_dgrad_kernel<1><<<gs_cuda_blocks(n, DW_THREADS), DW_THREADS, 0, st>>>(dinp, dout, w, N, H, W, C, K,
                                                                                    stride, pad_top, pad_left, Ho, Wo);
        }
        GS_CUDA_OP_DONE("depthwise_backward_cuda (dinp)");
    }
    if (dw) {
        if (K != 1 && K != 3 && K != 5)
            gs_fatal("depthwise_backward_cuda: K=%d has no wgrad kernel (built for 1, 3, 5)", K);
        int rows = N * Ho;
        int rows_per_chunk = WG_ROWS;
        if ((rows + rows_per_chunk - 1) / rows_per_chunk > 65535) rows_per_chunk = (rows + 65534) / 65535;
        int chunks = (rows + rows_per_chunk - 1) / rows_per_chunk;
        int KKC = K * K * C;
        float *partial = (float *)gs_cuda_scratch((size_t)chunks * KKC * sizeof(float));
        if (K == 3)
            wgrad_launch<3>(partial, chunks, rows_per_chunk, dout, inp, N, H, W, C, stride, pad_top, pad_left, Ho, Wo);
        else if (K == 5)
            wgrad_launch<5>(partial, chunks, rows_per_chunk, dout, inp, N, H, W, C, stride, pad_top, pad_left, Ho, Wo);
        else
            wgrad_launch<1>(partial, chunks, rows_per_chunk, dout, inp, N, H, W, C, stride, pad_top, pad_left, Ho, Wo);
        dw_wgrad_final_kernel<<<(KKC + 255) / 256, 256, 0, st>>>(dw, partial, chunks, KKC);
        GS_CUDA_OP_DONE("depthwise_backward_cuda (dw)");
    }
}
