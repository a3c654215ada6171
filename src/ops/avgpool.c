// Global average pool over the spatial positions of (N,HW,C): mean per image and channel,
// summed in double (HW is 49 in the seed, but nothing stops a caller from pooling 112x112).
#include <omp.h>
#include <stdlib.h>

#include "gesture/errors.h"
#include "gesture/ops.h"
#include "work.h"

// One double accumulator row (C) per thread.
static double *avgpool_layout(work_plan *w, int C) {
    return work_piece(w, (size_t)omp_get_max_threads() * C * sizeof(double));
}

size_t avgpool_work_floats(int C) {
    work_plan w = {0};
    avgpool_layout(&w, C);
    return w.used;
}

void avgpool_forward(float *out, const float *inp, float *work, int N, int HW, int C) {
    GS_ASSERT(N >= 0 && HW > 0 && C > 0 && work);
    work_plan wp = {work, 0};
    double *accs = avgpool_layout(&wp, C);
#pragma omp parallel if ((size_t)N * HW * C > (1u << 16))
    {
        double *acc = accs + (size_t)omp_get_thread_num() * C;
#pragma omp for schedule(static)
        for (int n = 0; n < N; n++) {
            for (int c = 0; c < C; c++) acc[c] = 0;
            const float *x = inp + (size_t)n * HW * C;
            for (int p = 0; p < HW; p++)
                for (int c = 0; c < C; c++) acc[c] += x[(size_t)p * C + c];
            for (int c = 0; c < C; c++) out[(size_t)n * C + c] = (float)(acc[c] / HW);
        }
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
