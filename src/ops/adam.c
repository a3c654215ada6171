// Adam in the Keras form (epsilon added to sqrt of the uncorrected v; bias corrections folded
// into the step size), one fused pass over a parameter tensor.
#include <math.h>

#include "gesture/errors.h"
#include "gesture/ops.h"

// Splitting a pass smaller than this over threads costs more than it saves.
#define ADAM_PAR_MIN 32768

float adam_step_size(float lr, float beta1, float beta2, long t) {
    GS_ASSERT(t >= 1);
    // In double: 1-beta2^t is ~1e-3 at t=1 and float pow would lose digits of it.
    const double bc1 = 1.0 - pow((double)beta1, (double)t);
    const double bc2 = 1.0 - pow((double)beta2, (double)t);
    return (float)((double)lr * sqrt(bc2) / bc1);
}

void adam_update(float *params, float *m, float *v, const float *grads, size_t n, float lr,
                 float beta1, float beta2, float eps, long t) {
    const float alpha = adam_step_size(lr, beta1, beta2, t);
    const float c1 = 1.0f - beta1, c2 = 1.0f - beta2;
#pragma omp parallel for simd schedule(static) if (n >= ADAM_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        const float g = grads[i];
        const float mi = m[i] + (g - m[i]) * c1;
        const float vi = v[i] + (g * g - v[i]) * c2;
        m[i] = mi;
        v[i] = vi;
        params[i] -= alpha * mi / (sqrtf(vi) + eps);
    }
}
