// CPU emulator (tests/cuda_emu): NVTX ranges are counted (push/pop must balance) and otherwise ignored.
#ifndef GS_EMU_NVTOOLSEXT_H
#define GS_EMU_NVTOOLSEXT_H
#ifdef __cplusplus
extern "C" {
#endif
int nvtxRangePushA(const char *message);
int nvtxRangePop(void);
#ifdef __cplusplus
}
#endif
#endif
