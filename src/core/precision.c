// runtime.precision (gesture/precision.h): this CPU's bf16 instructions and the fp32 fallback notice.
#include "gesture/precision.h"

#include <stdio.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

// XCR0, the state components the OS saves for this process (xgetbv needs OSXSAVE, cpuid 1 ECX 27).
static uint64_t xcr0(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

void precision_cpu_bf16(int *avx512_bf16, int *amx_bf16) {
    *avx512_bf16 = *amx_bf16 = 0;
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return;
    uint64_t x = xcr0();
    int avx512_state = (x & 0xe6) == 0xe6;             // SSE, AVX, opmask, ZMM hi256, hi16 ZMM
    int amx_state = (x & (3ull << 17)) == (3ull << 17);  // XTILECFG, XTILEDATA
    int amx = (d >> 22) & 1;
    unsigned max_sub = a;
    if (max_sub >= 1 && __get_cpuid_count(7, 1, &a, &b, &c, &d)) *avx512_bf16 = (a >> 5) & 1 && avx512_state;
    *amx_bf16 = amx && amx_state;
}
#else
void precision_cpu_bf16(int *avx512_bf16, int *amx_bf16) { *avx512_bf16 = *amx_bf16 = 0; }
#endif

const char *precision_cpu_reason(void) {
    int avx512, amx;
    precision_cpu_bf16(&avx512, &amx);
    if (!avx512 && !amx) return "this CPU has neither AVX512-BF16 nor AMX-BF16";
    return "gesture has no bf16 CPU kernels yet (this CPU has AVX512-BF16 or AMX-BF16)";
}

gs_precision precision_resolve(gs_precision asked, int have_bf16, const char *cmd, const char *what,
                               const char *reason) {
    if (asked != GS_PRECISION_BF16 || have_bf16) return asked;
    fprintf(stderr, "gesture %s: runtime.precision = bf16: %s; %s runs in fp32\n", cmd, reason, what);
    return GS_PRECISION_FP32;
}
