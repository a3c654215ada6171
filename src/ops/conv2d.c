// General KxK convolution (cross-correlation, HWIO weights, no bias). In MobileNetV2 it only runs
// as Conv1 (3x3 stride 2, Ci=3, Co=32), so it uses direct loops vectorized over Co with register
// accumulators in blocks of 32 output channels; im2col would spend more on memory than it saves.
// Border handling is per pixel (clipped tap ranges), never per element.
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"
#include "gesture/ops.h"

#define CO_BLOCK 32

static inline int imax(int a, int b) { return a > b ? a : b; }
static inline int imin(int a, int b) { return a < b ? a : b; }

// One output pixel, channels [c0, c0+cn): o = sum over valid taps of inp * w. `cn` is a
// compile-time constant at the hot call site so the accumulators live in registers.
static inline void conv_pixel(float *restrict o, const float *restrict inp_n,
                              const float *restrict w, int W, int Ci, int Co, int K, int h0,
                              int w0, int i0, int i1, int j0, int j1, int c0, int cn) {
    float acc[CO_BLOCK] = {0};
    for (int i = i0; i < i1; i++) {
        for (int j = j0; j < j1; j++) {
            const float *ip = inp_n + ((size_t)(h0 + i) * W + (w0 + j)) * Ci;
            const float *wp = w + (size_t)(i * K + j) * Ci * Co + c0;
            for (int ci = 0; ci < Ci; ci++) {
                float xv = ip[ci];
                const float *wr = wp + (size_t)ci * Co;
                for (int c = 0; c < cn; c++) acc[c] += xv * wr[c];
            }
        }
    }
    for (int c = 0; c < cn; c++) o[c] = acc[c];
}

void conv2d_forward(float *out, const float *inp, const float *w, int N, int H, int W, int Ci,
                    int Co, int K, int stride, int pad_top, int pad_left, int Ho, int Wo) {
    GS_ASSERT(N >= 0 && H > 0 && W > 0 && Ci > 0 && Co > 0 && K > 0 && stride > 0);
    GS_ASSERT(pad_top >= 0 && pad_left >= 0 && Ho > 0 && Wo > 0);
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < N; n++) {
        for (int y = 0; y < Ho; y++) {
            const float *inp_n = inp + (size_t)n * H * W * Ci;
            int h0 = stride * y - pad_top;
            int i0 = imax(0, -h0), i1 = imin(K, H - h0);
            for (int x = 0; x < Wo; x++) {
                int w0 = stride * x - pad_left;
                int j0 = imax(0, -w0), j1 = imin(K, W - w0);
                float *o = out + (((size_t)n * Ho + y) * Wo + x) * Co;
                int c0 = 0;
                for (; c0 + CO_BLOCK <= Co; c0 += CO_BLOCK)
                    conv_pixel(o + c0, inp_n, w, W, Ci, Co, K, h0, w0, i0, i1, j0, j1, c0, CO_BLOCK);
                if (c0 < Co)
                    conv_pixel(o + c0, inp_n, w, W, Ci, Co, K, h0, w0, i0, i1, j0, j1, c0, Co - c0);
            }
        }
    }
}

// Backward in one pass over the output: dinp scatters dout through the taps (images are owned
// by one thread, so no races), dw accumulates per output row in float and per thread in double;
// thread partials are reduced in thread order (deterministic for a given thread count).
void conv2d_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                     int N, int H, int W, int Ci, int Co, int K, int stride, int pad_top,
                     int pad_left, int Ho, int Wo) {
    GS_ASSERT(N >= 0 && H > 0 && W > 0 && Ci > 0 && Co > 0 && K > 0 && stride > 0);
    GS_ASSERT(pad_top >= 0 && pad_left >= 0 && Ho > 0 && Wo > 0);
    if (!dinp && !dw) return;
    size_t nw = (size_t)K * K * Ci * Co;
    int nt = omp_get_max_threads();
    if (nt > N) nt = N > 0 ? N : 1;
    double *part = dw ? gs_calloc((size_t)nt * nw, sizeof(double)) : NULL;
    float *rowacc = dw ? gs_malloc((size_t)nt * nw * sizeof(float)) : NULL;
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        int n0 = (int)((long)N * t / T), n1 = (int)((long)N * (t + 1) / T);
        double *p = dw ? part + (size_t)t * nw : NULL;
        float *ra = dw ? rowacc + (size_t)t * nw : NULL;
        for (int n = n0; n < n1; n++) {
            const float *inp_n = inp + (size_t)n * H * W * Ci;
            float *dinp_n = dinp ? dinp + (size_t)n * H * W * Ci : NULL;
            for (int y = 0; y < Ho; y++) {
                int h0 = stride * y - pad_top;
                int i0 = imax(0, -h0), i1 = imin(K, H - h0);
                if (ra) memset(ra, 0, nw * sizeof(float));
                for (int x = 0; x < Wo; x++) {
                    int w0 = stride * x - pad_left;
                    int j0 = imax(0, -w0), j1 = imin(K, W - w0);
                    const float *g = dout + (((size_t)n * Ho + y) * Wo + x) * Co;
                    for (int i = i0; i < i1; i++) {
                        for (int j = j0; j < j1; j++) {
                            size_t pix = ((size_t)(h0 + i) * W + (w0 + j)) * Ci;
                            size_t tap = (size_t)(i * K + j) * Ci;
                            for (int ci = 0; ci < Ci; ci++) {
                                if (ra) {
                                    float xv = inp_n[pix + ci];
                                    float *a = ra + (tap + ci) * Co;
                                    for (int c = 0; c < Co; c++) a[c] += xv * g[c];
                                }
                                if (dinp_n) {
                                    const float *wr = w + (tap + ci) * Co;
                                    float s = 0.0f;
#pragma omp simd reduction(+ : s)
                                    for (int c = 0; c < Co; c++) s += wr[c] * g[c];
                                    dinp_n[pix + ci] += s;
                                }
                            }
                        }
                    }
                }
                if (p)
                    for (size_t k = 0; k < nw; k++) p[k] += ra[k];
            }
        }
    }
    if (dw) {
        for (size_t k = 0; k < nw; k++) {
            double s = 0;
            for (int t = 0; t < nt; t++) s += part[(size_t)t * nw + k];
            dw[k] += (float)s;
        }
    }
    free(part);
    free(rowacc);
}
