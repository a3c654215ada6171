// CUDA twin of src/ops/conv2d.c (Conv1: 3x3 stride 2, Ci=3, Co=32) through cuDNN, NHWC, FP32
// math (CUDNN_FMA_MATH: no TF32, so it matches the CPU at 1e-4).
// Padding: cuDNN pads symmetrically, but Keras 'same' with stride 2 on even sizes pads 0 before and
// 1 after, which no symmetric pad reproduces (pad 1 + crop shifts the sampling grid by one pixel).
// So the input is copied into a zero-padded scratch image of exactly (Ho-1)*s+K rows/cols, with
// the leading pad (pad_top, pad_left) in front, and cuDNN runs 'valid' on it. Backward data comes
// back on the padded image and is cropped-and-added into dinp. The copy is N*S*S*3 floats (36 MB at
// 60 frames of 224x224): small next to the step.
// Weights: ours are HWIO (K,K,Ci,Co); cuDNN's NHWC filter layout is (Co,K,K,Ci), so they are
// transposed into scratch (864 floats for Conv1) and the filter gradient is transposed back (+=).
// Plans (descriptors, algorithms, workspace sizes) are made once per shape and cached; algorithms
// come from cuDNN's heuristics, deterministic ones preferred. GESTURE_CUDNN_LOG=1 prints each new
// plan's geometry and chosen algorithms (one stderr line per shape; scripts/gpu_check.sh keeps them).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_common.h"

#define MAX_PLANS 16
#define WS_LIMIT ((size_t)256 << 20)

typedef struct {
    int used;
    int key[11];  // N H W Ci Co K stride pad_top pad_left Ho Wo
    int Hp, Wp;
    cudnnTensorDescriptor_t x, y;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
    cudnnConvolutionFwdAlgo_t fwd;
    cudnnConvolutionBwdDataAlgo_t bwd_data;
    cudnnConvolutionBwdFilterAlgo_t bwd_filter;
    size_t ws_fwd, ws_bwd;
} conv_plan;

static conv_plan g_plans[MAX_PLANS];
static int g_next_slot;

static int tensor_op_math(cudnnMathType_t m) { return m == CUDNN_TENSOR_OP_MATH || m == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION; }

// First usable result in cuDNN's heuristic order: succeeded, FP32 math, within the workspace
// limit, deterministic if any such exists. Returns the index, -1 if none.
#define PICK_ALGO(perf, count, out_index, what)                                                               \
    do {                                                                                                      \
        int best_ = -1, any_ = -1;                                                                            \
        for (int i_ = 0; i_ < (count); i_++) {                                                                \
            if ((perf)[i_].status != CUDNN_STATUS_SUCCESS || tensor_op_math((perf)[i_].mathType) ||          \
                (perf)[i_].memory > WS_LIMIT)                                                                 \
                continue;                                                                                     \
            if (any_ < 0) any_ = i_;                                                                          \
            if (best_ < 0 && (perf)[i_].determinism == CUDNN_DETERMINISTIC) best_ = i_;                      \
        }                                                                                                     \
        if (best_ < 0 && any_ >= 0)                                                                           \
            fprintf(stderr, "gesture: cuDNN has no deterministic %s algorithm for this conv; using %d\n", what, \
                    (int)(perf)[any_].algo);                                                                  \
        (out_index) = best_ >= 0 ? best_ : any_;                                                              \
        if ((out_index) < 0) gs_fatal("cuDNN offers no usable FP32 %s algorithm (%d candidates)", what, (count)); \
    } while (0)

static void plan_destroy(conv_plan *p) {
    if (!p->used) return;
    CUDNN_CHECK(cudnnDestroyTensorDescriptor(p->x));
    CUDNN_CHECK(cudnnDestroyTensorDescriptor(p->y));
    CUDNN_CHECK(cudnnDestroyFilterDescriptor(p->w));
    CUDNN_CHECK(cudnnDestroyConvolutionDescriptor(p->conv));
    memset(p, 0, sizeof *p);
}

// One line per plan with GESTURE_CUDNN_LOG=1: which algorithms cuDNN's heuristics gave this shape.
static void plan_log(const conv_plan *p, int fwd_det, int data_det, int filter_det, size_t ws_data,
                     size_t ws_filter) {
    const char *env = getenv("GESTURE_CUDNN_LOG");
    if (!env || strcmp(env, "1")) return;
    const int *k = p->key;
    fprintf(stderr,
            "gesture: cudnn conv N=%d in=%dx%dx%d out=%dx%dx%d K=%d stride=%d pad=%d,%d padded=%dx%d: "
            "fwd algo %d%s ws %zu B, bwd-data algo %d%s ws %zu B, bwd-filter algo %d%s ws %zu B\n",
            k[0], k[1], k[2], k[3], k[9], k[10], k[4], k[5], k[6], k[7], k[8], p->Hp, p->Wp, (int)p->fwd,
            fwd_det ? "" : " (non-deterministic)", p->ws_fwd, (int)p->bwd_data, data_det ? "" : " (non-deterministic)",
            ws_data, (int)p->bwd_filter, filter_det ? "" : " (non-deterministic)", ws_filter);
}

static void plan_make(conv_plan *p, const int *key) {
    gs_cuda_ctx *cx = gs_cuda_ctx_get();
    int N = key[0], Ci = key[3], Co = key[4], K = key[5], s = key[6], Ho = key[9], Wo = key[10];
    memcpy(p->key, key, sizeof p->key);
    p->Hp = (Ho - 1) * s + K;
    p->Wp = (Wo - 1) * s + K;
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->x));
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->y));
    CUDNN_CHECK(cudnnCreateFilterDescriptor(&p->w));
    CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&p->conv));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->x, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, N, Ci, p->Hp, p->Wp));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->y, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, N, Co, Ho, Wo));
    CUDNN_CHECK(cudnnSetFilter4dDescriptor(p->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, Co, Ci, K, K));
    CUDNN_CHECK(cudnnSetConvolution2dDescriptor(p->conv, 0, 0, s, s, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    CUDNN_CHECK(cudnnSetConvolutionMathType(p->conv, CUDNN_FMA_MATH));
    int on, oc, oh, ow;
    CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(p->conv, p->x, p->w, &on, &oc, &oh, &ow));
    if (on != N || oc != Co || oh != Ho || ow != Wo)
        gs_fatal("conv2d_forward_cuda: cuDNN output %dx%dx%dx%d, expected %dx%dx%dx%d", on, oh, ow, oc, N, Ho, Wo, Co);

    int n = 0, idx;
    cudnnConvolutionFwdAlgoPerf_t fp[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(cx->cudnn, p->x, p->w, p->conv, p->y,
                                                       CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, fp));
    PICK_ALGO(fp, n, idx, "forward");
    p->fwd = fp[idx].algo;
    int fp_det = fp[idx].determinism == CUDNN_DETERMINISTIC;
    CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(cx->cudnn, p->x, p->w, p->conv, p->y, p->fwd, &p->ws_fwd));

    cudnnConvolutionBwdDataAlgoPerf_t dp[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(cx->cudnn, p->w, p->y, p->conv, p->x,
                                                            CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &n, dp));
    PICK_ALGO(dp, n, idx, "backward-data");
    p->bwd_data = dp[idx].algo;
    int dp_det = dp[idx].determinism == CUDNN_DETERMINISTIC;
    size_t wd = 0, wf = 0;
    CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(cx->cudnn, p->w, p->y, p->conv, p->x, p->bwd_data, &wd));

    cudnnConvolutionBwdFilterAlgoPerf_t wp[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(cx->cudnn, p->x, p->y, p->conv, p->w,
                                                              CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &n, wp));
    PICK_ALGO(wp, n, idx, "backward-filter");
    p->bwd_filter = wp[idx].algo;
    CUDNN_CHECK(
        cudnnGetConvolutionBackwardFilterWorkspaceSize(cx->cudnn, p->x, p->y, p->conv, p->w, p->bwd_filter, &wf));
    p->ws_bwd = wd > wf ? wd : wf;
    p->used = 1;
    plan_log(p, fp_det, dp_det, wp[idx].determinism == CUDNN_DETERMINISTIC, wd, wf);
}

void gs_cuda_conv_plans_free(void) {
    for (int i = 0; i < MAX_PLANS; i++) plan_destroy(&g_plans[i]);
    g_next_slot = 0;
}

static conv_plan *plan_get(const int *key) {
    for (int i = 0; i < MAX_PLANS; i++)
        if (g_plans[i].used && !memcmp(g_plans[i].key, key, sizeof g_plans[i].key)) return &g_plans[i];
    conv_plan *p = &g_plans[g_next_slot];
    g_next_slot = (g_next_slot + 1) % MAX_PLANS;
    plan_destroy(p);
    plan_make(p, key);
    return p;
}

// xpad[n, hp, wp, c] = inp[n, hp - pt, wp - pl, c] or 0.
__global__ void pad_input_kernel(float *xpad, const float *inp, int N, int H, int W, int C, int Hp, int Wp, int pt,
                                 int pl) {
    size_t total = (size_t)N * Hp * Wp * C;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        int c = (int)(i % C);
        size_t pix = i / C;
        int wp = (int)(pix % Wp), hp = (int)((pix / Wp) % Hp), n = (int)(pix / ((size_t)Wp * Hp));
        int h = hp - pt, w = wp - pl;
        xpad[i] = (h >= 0 && h < H && w >= 0 && w < W) ? inp[(((size_t)n * H + h) * W + w) * C + c] : 0.0f;
    }
}

// dinp[n, h, w, c] += dxpad[n, h + pt, w + pl, c] where that lies inside the padded image.
__global__ void crop_add_kernel(float *dinp, const float *dxpad, int N, int H, int W, int C, int Hp, int Wp, int pt,
                                int pl) {
    size_t total = (size_t)N * H * W * C;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        int c = (int)(i % C);
        size_t pix = i / C;
        int w = (int)(pix % W), h = (int)((pix / W) % H), n = (int)(pix / ((size_t)W * H));
        int hp = h + pt, wp = w + pl;
        if (hp < Hp && wp < Wp) dinp[i] += dxpad[(((size_t)n * Hp + hp) * Wp + wp) * C + c];
    }
}

// HWIO (K,K,Ci,Co) -> (Co,K,K,Ci).
__global__ void hwio_to_ohwi_kernel(float *wt, const float *w, int KK, int Ci, int Co) {
    int total = KK * Ci * Co;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
        int co = i % Co, ci = (i / Co) % Ci, t = i / (Co * Ci);
        wt[((size_t)co * KK + t) * Ci + ci] = w[i];
    }
}

// dw (HWIO) += dwt (Co,K,K,Ci) transposed back.
__global__ void ohwi_add_to_hwio_kernel(float *dw, const float *dwt, int KK, int Ci, int Co) {
    int total = KK * Ci * Co;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
        int co = i % Co, ci = (i / Co) % Ci, t = i / (Co * Ci);
        dw[i] += dwt[((size_t)co * KK + t) * Ci + ci];
    }
}

static void check_geometry(int N, int H, int W, int Ci, int Co, int K, int stride, int pad_top, int pad_left, int Ho,
                           int Wo) {
    GS_ASSERT(N >= 0 && H > 0 && W > 0 && Ci > 0 && Co > 0 && K > 0 && stride > 0);
    GS_ASSERT(pad_top >= 0 && pad_left >= 0 && Ho > 0 && Wo > 0);
}

extern "C" void conv2d_forward_cuda(float *out, const float *inp, const float *w, int N, int H, int W, int Ci, int Co,
                                    int K, int stride, int pad_top, int pad_left, int Ho, int Wo) {
    check_geometry(N, H, W, Ci, Co, K, stride, pad_top, pad_left, Ho, Wo);
    if (N == 0) return;
    int key[11] = {N, H, W, Ci, Co, K, stride, pad_top, pad_left, Ho, Wo};
    conv_plan *p = plan_get(key);
    gs_cuda_ctx *cx = gs_cuda_ctx_get();
    size_t xb = gs_cuda_align((size_t)N * p->Hp * p->Wp * Ci * sizeof(float));
    size_t wb = gs_cuda_align((size_t)K * K * Ci * Co * sizeof(float));
    char *ws = (char *)gs_cuda_scratch(xb + wb + p->ws_fwd);
    float *xpad = (float *)ws, *wt = (float *)(ws + xb);
    cudaStream_t st = cx->stream;
    size_t nx = (size_t)N * p->Hp * p->Wp * Ci;
    pad_input_kernel<<<gs_cuda_blocks(nx, 256), 256, 0, st>>>(xpad, inp, N, H, W, Ci, p->Hp, p->Wp, pad_top, pad_left);
    hwio_to_ohwi_kernel<<<(K * K * Ci * Co + 255) / 256, 256, 0, st>>>(wt, w, K * K, Ci, Co);
    const float one = 1.0f, zero = 0.0f;
    CUDNN_CHECK(cudnnConvolutionForward(cx->cudnn, &one, p->x, xpad, p->w, wt, p->conv, p->fwd, ws + xb + wb,
                                        p->ws_fwd, &zero, p->y, out));
    GS_CUDA_OP_DONE("conv2d_forward_cuda");
}

extern "C" void conv2d_backward_cuda(float *dinp, float *dw, const float *dout, const float *inp, const float *w, int N,
                                     int H, int W, int Ci, int Co, int K, int stride, int pad_top, int pad_left, int Ho,
                                     int Wo) {
    check_geometry(N, H, W, Ci, Co, K, stride, pad_top, pad_left, Ho, Wo);
    if (N == 0 || (!dinp && !dw)) return;
    int key[11] = {N, H, W, Ci, Co, K, stride, pad_top, pad_left, Ho, Wo};
    conv_plan *p = plan_get(key);
    gs_cuda_ctx *cx = gs_cuda_ctx_get();
    size_t nx = (size_t)N * p->Hp * p->Wp * Ci, nw = (size_t)K * K * Ci * Co;
    size_t xb = gs_cuda_align(nx * sizeof(float)), wb = gs_cuda_align(nw * sizeof(float));
    // xpad (dw) | wt (dinp) | dwt (dw) | dxpad (dinp) | cuDNN workspace
    char *ws = (char *)gs_cuda_scratch(2 * xb + 2 * wb + p->ws_bwd);
    float *xpad = (float *)ws, *wt = (float *)(ws + xb), *dwt = (float *)(ws + xb + wb);
    float *dxpad = (float *)(ws + xb + 2 * wb);
    void *cws = ws + 2 * xb + 2 * wb;
    cudaStream_t st = cx->stream;
    const float one = 1.0f, zero = 0.0f;
    if (dw) {
        pad_input_kernel<<<gs_cuda_blocks(nx, 256), 256, 0, st>>>(xpad, inp, N, H, W, Ci, p->Hp, p->Wp, pad_top,
                                                                  pad_left);
        CUDNN_CHECK(cudnnConvolutionBackwardFilter(cx->cudnn, &one, p->x, xpad, p->y, dout, p->conv, p->bwd_filter,
                                                   cws, p->ws_bwd, &zero, p->w, dwt));
        ohwi_add_to_hwio_kernel<<<(int)((nw + 255) / 256), 256, 0, st>>>(dw, dwt, K * K, Ci, Co);
    }
    if (dinp) {
        hwio_to_ohwi_kernel<<<(int)((nw + 255) / 256), 256, 0, st>>>(wt, w, K * K, Ci, Co);
        CUDNN_CHECK(cudnnConvolutionBackwardData(cx->cudnn, &one, p->w, wt, p->y, dout, p->conv, p->bwd_data, cws,
                                                 p->ws_bwd, &zero, p->x, dxpad));
        size_t ni = (size_t)N * H * W * Ci;
        crop_add_kernel<<<gs_cuda_blocks(ni, 256), 256, 0, st>>>(dinp, dxpad, N, H, W, Ci, p->Hp, p->Wp, pad_top,
                                                                 pad_left);
    }
    GS_CUDA_OP_DONE("conv2d_backward_cuda");
}
