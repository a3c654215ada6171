// Global average pool over the spatial positions of (N,HW,C): mean per image and channel,
// summed in double (HW is 49 in the seed, but nothing stops a caller from pooling 112x112).
#include <stdlib.h>

#include "gesture/errors.h"
#include "gesture/ops.h"

void avgpool_forward(float *out, const float *inp, int N, int HW, int C) {
    GS_ASSERT(N >= 0 && HW > 0 && C > 0);
#pragma omp parallel if ((size_t)N * HW * C > (1u << 16))
    {
        double *acc = gs_malloc((size_t)C * sizeof(double));
#pragma omp for schedule(static)
        for (int n = 0; n < N; n++) {
            for (int c = 0; c < C; c++) acc[c] = 0;
            const float *x = inp + (size_t)n * HW * C;
            for (int p = 0; p < HW; p++)
                for (int c = 0; c < C; c++) acc[c] += x[(size_t)p * C + c];
            for (int c = 0; c < C; c++) out[(size_t)n * C + c] = (float)(acc[c] / HW);
        }
        free(acc);
    }
}

void avgpool_backward(float *dinp, const float *dout, int N, int HW, int C) {
    GS_ASSERT(N >= 0 && HW > 0 && C > 0);
    float inv = 1.0f / (float)HW;
#pragma omp parallel for collapse(2) schedule(static) if ((size_t)N * HW * C > (1u << 16))
    for (int n = 0; n < N; n++) {
        for (int p = 0; p < HW; p++) {
            float *d = dinp + ((size_t)n * HW + p) * C;
            const float *g = dout + (size_t)n * C;
            for (int c = 0; c < C; c++) d[c] += g[c] * inv;
        }
    }
}
