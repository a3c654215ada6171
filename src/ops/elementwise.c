// Elementwise ops: ReLU (Dense+ReLU; backward mask taken from the forward output) and the residual
// add. ReLU6 is fused into batchnorm.c. Large tensors are split over OpenMP threads; every loop
// vectorizes (no fminf/fmaxf, whose IEEE NaN rules block vectorization).
#include "gesture/ops.h"

// Below this many elements a parallel region costs more than it saves.
#define PAR_MIN ((size_t)1 << 15)

void relu_forward(float *out, const float *inp, size_t n) {
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = inp[i] < 0.0f ? 0.0f : inp[i];
}

void relu_backward(float *dinp, const float *dout, const float *out, size_t n) {
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) dinp[i] += out[i] > 0.0f ? dout[i] : 0.0f;
}

void add_forward(float *out, const float *a, const float *b, size_t n) {
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void add_backward(float *da, float *db, const float *dout, size_t n) {
    if (da) {
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
        for (size_t i = 0; i < n; i++) da[i] += dout[i];
    }
    if (db) {
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
        for (size_t i = 0; i < n; i++) db[i] += dout[i];
    }
}
