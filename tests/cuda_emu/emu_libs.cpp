// CPU emulator (tests/cuda_emu): cuBLAS Sgemm (OpenBLAS, column-major like cuBLAS) and the cuDNN
// legacy convolution API (plain loops over the descriptors' layouts). Arguments are validated as
// the libraries do (leading dimensions, device pointers, descriptor shapes) and the work runs in
// stream order. alpha/beta are read at call time (host pointer mode), as both libraries do.
#include <cblas.h>
#include <stdio.h>
#include <string.h>

#include <vector>

#include "cublas_v2.h"
#include "cudnn.h"

// ---------------------------------------------------------------- cuBLAS
struct gs_emu_cublas {
    cudaStream_t stream = nullptr;
};

const char *cublasGetStatusString(cublasStatus_t s) {
    switch (s) {
        case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
        case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
        case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
        case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
        case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    }
    return "CUBLAS_STATUS_UNKNOWN";
}
cublasStatus_t cublasCreate(cublasHandle_t *h) {
    *h = new gs_emu_cublas;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy(cublasHandle_t h) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    delete h;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream(cublasHandle_t h, cudaStream_t s) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    h->stream = s;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetMathMode(cublasHandle_t h, cublasMath_t mode) {
    (void)mode;
    return h ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_INITIALIZED;
}
cublasStatus_t cublasSetWorkspace(cublasHandle_t h, void *ws, size_t bytes) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (bytes && !gs_emu_is_device(ws, bytes)) return CUBLAS_STATUS_INVALID_VALUE;
    return CUBLAS_STATUS_SUCCESS;
}

// A column-major (rows x cols) operand of `elem`-byte values with leading dimension ld lies in
// device memory.
static int operand_ok(const void *p, int rows, int cols, int ld, size_t elem = sizeof(float)) {
    if (ld < (rows > 1 ? rows : 1)) return 0;
    if (rows == 0 || cols == 0) return 1;
    return gs_emu_is_device(p, ((size_t)(cols - 1) * ld + rows) * elem);
}

// A column-major (rows x cols, ld) bf16 operand widened to a packed fp32 copy (ld = rows).
static std::vector<float> widen_bf16(const void *p, int rows, int cols, int ld) {
    std::vector<float> out((size_t)rows * cols);
    const uint16_t *h = (const uint16_t *)p;
    for (int c = 0; c < cols; c++)
        for (int r = 0; r < rows; r++) {
            uint32_t u = (uint32_t)h[(size_t)c * ld + r] << 16;
            memcpy(&out[(size_t)c * rows + r], &u, sizeof(float));
        }
    return out;
}

cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const void *alpha, const void *A, cudaDataType_t Atype, int lda, const void *B,
                            cudaDataType_t Btype, int ldb, const void *beta, void *C, cudaDataType_t Ctype, int ldc,
                            cublasComputeType_t compute, cublasGemmAlgo_t algo) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    (void)algo;
    // the combinations the backend uses (cuBLAS has more): A and B of one type, fp32 C and compute
    if (Atype != Btype || (Atype != CUDA_R_32F && Atype != CUDA_R_16BF) || Ctype != CUDA_R_32F ||
        compute != CUBLAS_COMPUTE_32F || m < 0 || n < 0 || k < 0 || ta == CUBLAS_OP_C || tb == CUBLAS_OP_C)
        return CUBLAS_STATUS_INVALID_VALUE;
    size_t elem = Atype == CUDA_R_16BF ? 2 : 4;
    int ar = ta == CUBLAS_OP_N ? m : k, ac = ta == CUBLAS_OP_N ? k : m;
    int br = tb == CUBLAS_OP_N ? k : n, bc = tb == CUBLAS_OP_N ? n : k;
    if (!operand_ok(A, ar, ac, lda, elem) || !operand_ok(B, br, bc, ldb, elem) || !operand_ok(C, m, n, ldc)) {
        fprintf(stderr, "cuda-emu: cublasGemmEx(%c%c m=%d n=%d k=%d lda=%d ldb=%d ldc=%d): bad leading dimension or "
                        "an operand outside device memory\n",
                ta == CUBLAS_OP_N ? 'N' : 'T', tb == CUBLAS_OP_N ? 'N' : 'T', m, n, k, lda, ldb, ldc);
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
    float al = *(const float *)alpha, be = *(const float *)beta;
    gs_emu_enqueue(h->stream, "cublasGemmEx", [=] {
        CBLAS_TRANSPOSE tra = ta == CUBLAS_OP_N ? CblasNoTrans : CblasTrans, trb = tb == CUBLAS_OP_N ? CblasNoTrans : CblasTrans;
        if (elem == 4) {
            cblas_sgemm(CblasColMajor, tra, trb, m, n, k, al, (const float *)A, lda, (const float *)B, ldb, be,
                        (float *)C, ldc);
            return;
        }
        std::vector<float> a = widen_bf16(A, ar, ac, lda), b = widen_bf16(B, br, bc, ldb);
        cblas_sgemm(CblasColMajor, tra, trb, m, n, k, al, a.data(), ar > 1 ? ar : 1, b.data(), br > 1 ? br : 1, be,
                    (float *)C, ldc);
    });
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const float *alpha, const float *A, int lda, const float *B, int ldb, const float *beta,
                           float *C, int ldc) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (m < 0 || n < 0 || k < 0 || ta == CUBLAS_OP_C || tb == CUBLAS_OP_C) return CUBLAS_STATUS_INVALID_VALUE;
    int ar = ta == CUBLAS_OP_N ? m : k, ac = ta == CUBLAS_OP_N ? k : m;
    int br = tb == CUBLAS_OP_N ? k : n, bc = tb == CUBLAS_OP_N ? n : k;
    if (!operand_ok(A, ar, ac, lda) || !operand_ok(B, br, bc, ldb) || !operand_ok(C, m, n, ldc)) {
        fprintf(stderr, "cuda-emu: cublasSgemm(%c%c m=%d n=%d k=%d lda=%d ldb=%d ldc=%d): bad leading dimension or an "
                        "operand outside device memory\n",
                ta == CUBLAS_OP_N ? 'N' : 'T', tb == CUBLAS_OP_N ? 'N' : 'T', m, n, k, lda, ldb, ldc);
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
    float al = *alpha, be = *beta;
    gs_emu_enqueue(h->stream, "cublasSgemm", [=] {
        cblas_sgemm(CblasColMajor, ta == CUBLAS_OP_N ? CblasNoTrans : CblasTrans,
                    tb == CUBLAS_OP_N ? CblasNoTrans : CblasTrans, m, n, k, al, A, lda, B, ldb, be, C, ldc);
    });
    return CUBLAS_STATUS_SUCCESS;
}

// ---------------------------------------------------------------- cuDNN
struct gs_emu_cudnn {
    cudaStream_t stream = nullptr;
};
struct gs_emu_tensor_desc {
    int set = 0, n, c, h, w;
    cudnnTensorFormat_t f;
};
struct gs_emu_filter_desc {
    int set = 0, k, c, h, w;
    cudnnTensorFormat_t f;
};
struct gs_emu_conv_desc {
    int set = 0, ph, pw, u, v, dh, dw;
    cudnnConvolutionMode_t mode;
};

const char *cudnnGetErrorString(cudnnStatus_t s) {
    switch (s) {
        case CUDNN_STATUS_SUCCESS: return "CUDNN_STATUS_SUCCESS";
        case CUDNN_STATUS_NOT_INITIALIZED: return "CUDNN_STATUS_NOT_INITIALIZED";
        case CUDNN_STATUS_BAD_PARAM: return "CUDNN_STATUS_BAD_PARAM";
        case CUDNN_STATUS_NOT_SUPPORTED: return "CUDNN_STATUS_NOT_SUPPORTED";
        case CUDNN_STATUS_EXECUTION_FAILED: return "CUDNN_STATUS_EXECUTION_FAILED";
    }
    return "CUDNN_STATUS_UNKNOWN";
}
cudnnStatus_t cudnnCreate(cudnnHandle_t *h) {
    *h = new gs_emu_cudnn;
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnDestroy(cudnnHandle_t h) {
    delete h;
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetStream(cudnnHandle_t h, cudaStream_t s) {
    h->stream = s;
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t *d) {
    *d = new gs_emu_tensor_desc;
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t d) {
    delete d;
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t d, cudnnTensorFormat_t f, cudnnDataType_t t, int n,
                                         int c, int h, int w) {
    if (t != CUDNN_DATA_FLOAT) return CUDNN_STATUS_NOT_SUPPORTED;
    if (n <= 0 || c <= 0 || h <= 0 || w <= 0) return CUDNN_STATUS_BAD_PARAM;
    *d = {1, n, c, h, w, f};
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t *d) {
    *d = new gs_emu_filter_desc;
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t d) {
    delete d;
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t d, cudnnDataType_t t, cudnnTensorFormat_t f, int k,
                                         int c, int h, int w) {
    if (t != CUDNN_DATA_FLOAT) return CUDNN_STATUS_NOT_SUPPORTED;
    if (k <= 0 || c <= 0 || h <= 0 || w <= 0) return CUDNN_STATUS_BAD_PARAM;
    *d = {1, k, c, h, w, f};
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t *d) {
    *d = new gs_emu_conv_desc;
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t d) {
    delete d;
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t d, int ph, int pw, int u, int v, int dh,
                                              int dw, cudnnConvolutionMode_t mode, cudnnDataType_t compute) {
    if (compute != CUDNN_DATA_FLOAT) return CUDNN_STATUS_NOT_SUPPORTED;
    if (ph < 0 || pw < 0 || u <= 0 || v <= 0 || dh <= 0 || dw <= 0) return CUDNN_STATUS_BAD_PARAM;
    *d = {1, ph, pw, u, v, dh, dw, mode};
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t d, cudnnMathType_t m) {
    (void)m;
    return d && d->set ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_BAD_PARAM;
}

static int out_dim(int in, int pad, int k, int dil, int stride) { return (in + 2 * pad - ((k - 1) * dil + 1)) / stride + 1; }

cudnnStatus_t cudnnGetConvolution2dForwardOutputDim(cudnnConvolutionDescriptor_t c, cudnnTensorDescriptor_t x,
                                                    cudnnFilterDescriptor_t w, int *n, int *ch, int *h, int *wd) {
    if (!c->set || !x->set || !w->set || x->c != w->c) return CUDNN_STATUS_BAD_PARAM;
    *n = x->n;
    *ch = w->k;
    *h = out_dim(x->h, c->ph, w->h, c->dh, c->u);
    *wd = out_dim(x->w, c->pw, w->w, c->dw, c->v);
    return *h > 0 && *wd > 0 ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_BAD_PARAM;
}

// Shapes agree (x, w -> y) as cuDNN checks before any convolution.
static int conv_shapes_ok(cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t c,
                          cudnnTensorDescriptor_t y) {
    int n, k, h, wd;
    if (cudnnGetConvolution2dForwardOutputDim(c, x, w, &n, &k, &h, &wd) != CUDNN_STATUS_SUCCESS) return 0;
    if (!y->set || y->n != n || y->c != k || y->h != h || y->w != wd) return 0;
    if (c->mode != CUDNN_CROSS_CORRELATION) {
        fprintf(stderr, "cuda-emu: only CUDNN_CROSS_CORRELATION convolutions are emulated\n");
        return 0;
    }
    return 1;
}

#define ONE_ALGO(perf, returned, requested)                 \
    do {                                                    \
        if ((requested) < 1) return CUDNN_STATUS_BAD_PARAM; \
        memset(&(perf)[0], 0, sizeof(perf)[0]);             \
        (perf)[0].status = CUDNN_STATUS_SUCCESS;            \
        (perf)[0].memory = 0;                               \
        (perf)[0].determinism = CUDNN_DETERMINISTIC;        \
        (perf)[0].mathType = CUDNN_FMA_MATH;                \
        *(returned) = 1;                                    \
    } while (0)

cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(cudnnHandle_t h, cudnnTensorDescriptor_t x,
                                                     cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t c,
                                                     cudnnTensorDescriptor_t y, int requested, int *returned,
                                                     cudnnConvolutionFwdAlgoPerf_t *perf) {
    (void)h;
    if (!conv_shapes_ok(x, w, c, y)) return CUDNN_STATUS_BAD_PARAM;
    ONE_ALGO(perf, returned, requested);
    perf[0].algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnnHandle_t h, cudnnFilterDescriptor_t w,
                                                          cudnnTensorDescriptor_t dy, cudnnConvolutionDescriptor_t c,
                                                          cudnnTensorDescriptor_t dx, int requested, int *returned,
                                                          cudnnConvolutionBwdDataAlgoPerf_t *perf) {
    (void)h;
    if (!conv_shapes_ok(dx, w, c, dy)) return CUDNN_STATUS_BAD_PARAM;
    ONE_ALGO(perf, returned, requested);
    perf[0].algo = CUDNN_CONVOLUTION_BWD_DATA_ALGO_0;
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnnHandle_t h, cudnnTensorDescriptor_t x,
                                                            cudnnTensorDescriptor_t dy, cudnnConvolutionDescriptor_t c,
                                                            cudnnFilterDescriptor_t dw, int requested, int *returned,
                                                            cudnnConvolutionBwdFilterAlgoPerf_t *perf) {
    (void)h;
    if (!conv_shapes_ok(x, dw, c, dy)) return CUDNN_STATUS_BAD_PARAM;
    ONE_ALGO(perf, returned, requested);
    perf[0].algo = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0;
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(cudnnHandle_t h, cudnnTensorDescriptor_t x,
                                                      cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t c,
                                                      cudnnTensorDescriptor_t y, cudnnConvolutionFwdAlgo_t a,
                                                      size_t *bytes) {
    (void)h;
    (void)a;
    *bytes = 0;
    return conv_shapes_ok(x, w, c, y) ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_BAD_PARAM;
}
cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(cudnnHandle_t h, cudnnFilterDescriptor_t w,
                                                           cudnnTensorDescriptor_t dy, cudnnConvolutionDescriptor_t c,
                                                           cudnnTensorDescriptor_t dx, cudnnConvolutionBwdDataAlgo_t a,
                                                           size_t *bytes) {
    (void)h;
    (void)a;
    *bytes = 0;
    return conv_shapes_ok(dx, w, c, dy) ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_BAD_PARAM;
}
cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(cudnnHandle_t h, cudnnTensorDescriptor_t x,
                                                             cudnnTensorDescriptor_t dy,
                                                             cudnnConvolutionDescriptor_t c, cudnnFilterDescriptor_t dw,
                                                             cudnnConvolutionBwdFilterAlgo_t a, size_t *bytes) {
    (void)h;
    (void)a;
    *bytes = 0;
    return conv_shapes_ok(x, dw, c, dy) ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_BAD_PARAM;
}

// Element offsets in each layout.
static size_t t_at(const gs_emu_tensor_desc &d, int n, int c, int h, int w) {
    return d.f == CUDNN_TENSOR_NHWC ? (((size_t)n * d.h + h) * d.w + w) * d.c + c
                                    : (((size_t)n * d.c + c) * d.h + h) * d.w + w;
}
static size_t f_at(const gs_emu_filter_desc &d, int k, int c, int h, int w) {
    return d.f == CUDNN_TENSOR_NHWC ? (((size_t)k * d.h + h) * d.w + w) * d.c + c
                                    : (((size_t)k * d.c + c) * d.h + h) * d.w + w;
}
static size_t t_numel(const gs_emu_tensor_desc &d) { return (size_t)d.n * d.c * d.h * d.w; }
static size_t f_numel(const gs_emu_filter_desc &d) { return (size_t)d.k * d.c * d.h * d.w; }

// Visit every (output, input, filter) triple of the convolution: fn(y_index, x_index, w_index).
template <class F>
static void conv_visit(const gs_emu_tensor_desc &x, const gs_emu_filter_desc &w, const gs_emu_conv_desc &c,
                       const gs_emu_tensor_desc &y, F fn) {
    for (int n = 0; n < y.n; n++)
        for (int k = 0; k < y.c; k++)
            for (int oh = 0; oh < y.h; oh++)
                for (int ow = 0; ow < y.w; ow++)
                    for (int r = 0; r < w.h; r++) {
                        int ih = oh * c.u - c.ph + r * c.dh;
                        if (ih < 0 || ih >= x.h) continue;
                        for (int s = 0; s < w.w; s++) {
                            int iw = ow * c.v - c.pw + s * c.dw;
                            if (iw < 0 || iw >= x.w) continue;
                            for (int ch = 0; ch < x.c; ch++)
                                fn(t_at(y, n, k, oh, ow), t_at(x, n, ch, ih, iw), f_at(w, k, ch, r, s));
                        }
                    }
}

static int dev_ok(const void *p, size_t n) { return gs_emu_is_device(p, n * sizeof(float)); }

cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t h, const void *alpha, cudnnTensorDescriptor_t xd, const void *x,
                                      cudnnFilterDescriptor_t wd, const void *w, cudnnConvolutionDescriptor_t cd,
                                      cudnnConvolutionFwdAlgo_t algo, void *ws, size_t ws_bytes, const void *beta,
                                      cudnnTensorDescriptor_t yd, void *y) {
    (void)algo;
    (void)ws;
    (void)ws_bytes;
    if (!conv_shapes_ok(xd, wd, cd, yd)) return CUDNN_STATUS_BAD_PARAM;
    gs_emu_tensor_desc X = *xd, Y = *yd;
    gs_emu_filter_desc W = *wd;
    gs_emu_conv_desc C = *cd;
    if (!dev_ok(x, t_numel(X)) || !dev_ok(w, f_numel(W)) || !dev_ok(y, t_numel(Y))) return CUDNN_STATUS_BAD_PARAM;
    float al = *(const float *)alpha, be = *(const float *)beta;
    gs_emu_enqueue(h->stream, "cudnnConvolutionForward", [=] {
        const float *xp = (const float *)x, *wp = (const float *)w;
        float *yp = (float *)y;
        size_t ny = t_numel(Y);
        std::vector<double> acc(ny, 0.0);
        conv_visit(X, W, C, Y, [&](size_t yi, size_t xi, size_t wi) { acc[yi] += (double)xp[xi] * wp[wi]; });
        for (size_t i = 0; i < ny; i++) yp[i] = al * (float)acc[i] + (be != 0.0f ? be * yp[i] : 0.0f);
    });
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t h, const void *alpha, cudnnFilterDescriptor_t wd,
                                           const void *w, cudnnTensorDescriptor_t dyd, const void *dy,
                                           cudnnConvolutionDescriptor_t cd, cudnnConvolutionBwdDataAlgo_t algo,
                                           void *ws, size_t ws_bytes, const void *beta, cudnnTensorDescriptor_t dxd,
                                           void *dx) {
    (void)algo;
    (void)ws;
    (void)ws_bytes;
    if (!conv_shapes_ok(dxd, wd, cd, dyd)) return CUDNN_STATUS_BAD_PARAM;
    gs_emu_tensor_desc X = *dxd, Y = *dyd;
    gs_emu_filter_desc W = *wd;
    gs_emu_conv_desc C = *cd;
    if (!dev_ok(dx, t_numel(X)) || !dev_ok(w, f_numel(W)) || !dev_ok(dy, t_numel(Y))) return CUDNN_STATUS_BAD_PARAM;
    float al = *(const float *)alpha, be = *(const float *)beta;
    gs_emu_enqueue(h->stream, "cudnnConvolutionBackwardData", [=] {
        const float *dyp = (const float *)dy, *wp = (const float *)w;
        float *dxp = (float *)dx;
        size_t nx = t_numel(X);
        std::vector<double> acc(nx, 0.0);
        conv_visit(X, W, C, Y, [&](size_t yi, size_t xi, size_t wi) { acc[xi] += (double)dyp[yi] * wp[wi]; });
        for (size_t i = 0; i < nx; i++) dxp[i] = al * (float)acc[i] + (be != 0.0f ? be * dxp[i] : 0.0f);
    });
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t h, const void *alpha, cudnnTensorDescriptor_t xd,
                                             const void *x, cudnnTensorDescriptor_t dyd, const void *dy,
                                             cudnnConvolutionDescriptor_t cd, cudnnConvolutionBwdFilterAlgo_t algo,
                                             void *ws, size_t ws_bytes, const void *beta,
                                             cudnnFilterDescriptor_t dwd, void *dw) {
    (void)algo;
    (void)ws;
    (void)ws_bytes;
    if (!conv_shapes_ok(xd, dwd, cd, dyd)) return CUDNN_STATUS_BAD_PARAM;
    gs_emu_tensor_desc X = *xd, Y = *dyd;
    gs_emu_filter_desc W = *dwd;
    gs_emu_conv_desc C = *cd;
    if (!dev_ok(x, t_numel(X)) || !dev_ok(dw, f_numel(W)) || !dev_ok(dy, t_numel(Y))) return CUDNN_STATUS_BAD_PARAM;
    float al = *(const float *)alpha, be = *(const float *)beta;
    gs_emu_enqueue(h->stream, "cudnnConvolutionBackwardFilter", [=] {
        const float *xp = (const float *)x, *dyp = (const float *)dy;
        float *dwp = (float *)dw;
        size_t nw = f_numel(W);
        std::vector<double> acc(nw, 0.0);
        conv_visit(X, W, C, Y, [&](size_t yi, size_t xi, size_t wi) { acc[wi] += (double)dyp[yi] * xp[xi]; });
        for (size_t i = 0; i < nw; i++) dwp[i] = al * (float)acc[i] + (be != 0.0f ? be * dwp[i] : 0.0f);
    });
    return CUDNN_STATUS_SUCCESS;
}
