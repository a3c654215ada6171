// runtime.precision = fp32|bf16: the bf16 rounding every bf16 path shares (so a test can predict
// what a bf16 kernel sees), what this CPU offers, and the one place that says which precision a
// command really runs when bf16 was asked and the path it takes has none.
// bf16 runs on CUDA: every GEMM of the executor (training and inference) on bf16 operands with fp32
// accumulation (cuda/runtime.cu), and the folded inference plan with its activations and 1x1
// weights stored in bf16 (cuda/plan_cuda.cu). The CPU paths run fp32 and say so once on stderr;
// nothing about precision is silent.
#ifndef GESTURE_PRECISION_H
#define GESTURE_PRECISION_H

#include <stdint.h>
#include <string.h>

#include "gesture/config.h"

// f rounded to the nearest bf16 (ties to even): the top 16 bits of the float. NaN stays a (quiet) NaN.
static inline uint16_t gs_bf16_from_f32(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static inline float gs_f32_from_bf16(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

// f as a bf16 kernel sees it: rounded to bf16 and widened back.
static inline float gs_bf16_round(float f) { return gs_f32_from_bf16(gs_bf16_from_f32(f)); }

// This CPU's bf16 instructions where the OS saves their state: AVX512-BF16 (cpuid 7.1 EAX bit 5,
// AVX-512 state enabled in XCR0) and AMX-BF16 (cpuid 7.0 EDX bit 22, tile state enabled in XCR0; on
// Linux a process must still ask for the tile data with arch_prctl before it may use them).
void precision_cpu_bf16(int *avx512_bf16, int *amx_bf16);
// Why the CPU paths run fp32 when bf16 is asked: "this CPU has neither AVX512-BF16 nor AMX-BF16",
// or, on a CPU that has them, that gesture has no bf16 CPU kernels yet.
const char *precision_cpu_reason(void);

// The precision `what` runs in when `asked` was asked and the path has bf16 (have_bf16) or not:
// bf16 only with both; asked bf16 without it, fp32 after one line on stderr
// "gesture <cmd>: runtime.precision = bf16: <reason>; <what> runs in fp32".
gs_precision precision_resolve(gs_precision asked, int have_bf16, const char *cmd, const char *what,
                               const char *reason);

#endif
