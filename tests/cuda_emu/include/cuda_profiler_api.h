// CPU emulator (tests/cuda_emu): profiler start/stop are accepted and do nothing.
#ifndef GS_EMU_CUDA_PROFILER_API_H
#define GS_EMU_CUDA_PROFILER_API_H
#include "cuda_runtime.h"
#ifdef __cplusplus
extern "C" {
#endif
cudaError_t cudaProfilerStart(void);
cudaError_t cudaProfilerStop(void);
#ifdef __cplusplus
}
#endif
#endif
