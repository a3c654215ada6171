// Part of the emulator self-test (emu_selftest.cu): cuda/*.c files are compiled as C against the
// stand-in headers, so those headers must be valid C with C linkage. This file includes every one
// of them from C and makes a round trip through the runtime, cuBLAS, cuDNN and NVTX.
#include <cublas_v2.h>
#include <cuda_profiler_api.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <nvtx3/nvToolsExt.h>
#include <stdio.h>

#if !defined(GS_EMU_CUDA_RUNTIME_H) || !defined(GS_EMU_CUBLAS_V2_H) || !defined(GS_EMU_CUDNN_H) || \
    !defined(GS_EMU_NVTOOLSEXT_H) || !defined(GS_EMU_CUDA_PROFILER_API_H)
#error "a toolkit header was found instead of the emulator's stand-in (include order)"
#endif

int gs_emu_selftest_c(void);

int gs_emu_selftest_c(void) {
    float h[4] = {1, 2, 3, 4}, back[4] = {0};
    float *d = NULL;
    cudaStream_t s;
    cublasHandle_t cb;
    cudnnHandle_t dn;
    dim3 grid = {2, 1, 1};
    int bad = grid.x != 2;
    nvtxRangePushA("selftest_c");
    bad |= cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) != cudaSuccess;
    bad |= cudaMalloc((void **)&d, sizeof h) != cudaSuccess;
    bad |= cudaMemcpyAsync(d, h, sizeof h, cudaMemcpyHostToDevice, s) != cudaSuccess;
    bad |= cudaMemcpyAsync(back, d, sizeof back, cudaMemcpyDeviceToHost, s) != cudaSuccess;
    bad |= cudaStreamSynchronize(s) != cudaSuccess || back[3] != 4.0f;
    bad |= cublasCreate(&cb) != CUBLAS_STATUS_SUCCESS || cublasDestroy(cb) != CUBLAS_STATUS_SUCCESS;
    bad |= cudnnCreate(&dn) != CUDNN_STATUS_SUCCESS || cudnnDestroy(dn) != CUDNN_STATUS_SUCCESS;
    bad |= cudaProfilerStart() != cudaSuccess || cudaProfilerStop() != cudaSuccess;
    bad |= cudaFree(d) != cudaSuccess || cudaStreamDestroy(s) != cudaSuccess;
    nvtxRangePop();
    if (bad) fprintf(stderr, "emu_selftest_c: a runtime/cuBLAS/cuDNN call from C failed\n");
    return bad;
}
