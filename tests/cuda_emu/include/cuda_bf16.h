// CPU emulator (tests/cuda_emu): the subset of cuda_bf16.h the backend uses -- the bf16 storage type
// and its conversions (round to nearest even, as __float2bfloat16 does on a GPU), host and device.
#ifndef GS_EMU_CUDA_BF16_H
#define GS_EMU_CUDA_BF16_H
#include <stdint.h>
#include <string.h>

typedef struct __nv_bfloat16 {
    unsigned short x;
} __nv_bfloat16;

static inline __nv_bfloat16 __float2bfloat16(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    __nv_bfloat16 h;
    if ((u & 0x7fffffffu) > 0x7f800000u) {
        h.x = (unsigned short)((u >> 16) | 0x40u);  // NaN stays a quiet NaN
        return h;
    }
    u += 0x7fffu + ((u >> 16) & 1u);
    h.x = (unsigned short)(u >> 16);
    return h;
}

static inline float __bfloat162float(__nv_bfloat16 h) {
    uint32_t u = (uint32_t)h.x << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
#endif
