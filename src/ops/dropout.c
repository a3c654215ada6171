// Inverted dropout whose mask is recomputed from (key, element index) by the counter RNG, so
// backward (and the GPU twin) needs no stored mask.
#include <string.h>

#include "gesture/errors.h"
#include "gesture/ops.h"
#include "gesture/rng.h"

// Below this many elements thread start-up costs more than the hashing it would share.
#define DROPOUT_PAR_MIN 65536

void dropout_forward(float *out, const float *inp, size_t n, float rate, uint64_t key) {
    dropout_forward_at(out, inp, n, rate, key, 0);
}

void dropout_backward(float *dinp, const float *dout, size_t n, float rate, uint64_t key) {
    dropout_backward_at(dinp, dout, n, rate, key, 0);
}

void dropout_forward_at(float *out, const float *inp, size_t n, float rate, uint64_t key, size_t first) {
    GS_ASSERT(rate >= 0.0f && rate < 1.0f);
    if (rate == 0.0f) {
        if (out != inp) memmove(out, inp, n * sizeof(float));
        return;
    }
    const float scale = 1.0f / (1.0f - rate);
#pragma omp parallel for schedule(static) if (n >= DROPOUT_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        out[i] = gs_counter_uniform(key, first + i) >= rate ? inp[i] * scale : 0.0f;
}

void dropout_backward_at(float *dinp, const float *dout, size_t n, float rate, uint64_t key, size_t first) {
    GS_ASSERT(rate >= 0.0f && rate < 1.0f);
    if (!dinp) return;
    if (rate == 0.0f) {
        for (size_t i = 0; i < n; i++) dinp[i] += dout[i];
        return;
    }
    const float scale = 1.0f / (1.0f - rate);
#pragma omp parallel for schedule(static) if (n >= DROPOUT_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        if (gs_counter_uniform(key, first + i) >= rate) dinp[i] += dout[i] * scale;
}
