// Depthwise KxK convolution (depth multiplier 1, no bias), weights (K,K,C). Memory-bound, so
// the loops walk each pixel's contiguous channel vector: register accumulators over blocks of
// 32 channels in the forward pass, one fused pass (dinp scatter + dw partials) in the backward.
// Border handling is per pixel (clipped tap ranges), never per element.
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"
#include "gesture/ops.h"
#include "work.h"

#define C_BLOCK 32

static inline int imax(int a, int b) { return a > b ? a : b; }
static inline int imin(int a, int b) { return a < b ? a : b; }

// One output pixel, channels [c0, c0+cn); `cn` is a compile-time constant at the hot call site.
static inline void dw_pixel(float *restrict o, const float *restrict inp_n,
                            const float *restrict w, int W, int C, int K, int h0, int w0, int i0,
                            int i1, int j0, int j1, int c0, int cn) {
    float acc[C_BLOCK] = {0};
    for (int i = i0; i < i1; i++) {
        for (int j = j0; j < j1; j++) {
            const float *ip = inp_n + ((size_t)(h0 + i) * W + (w0 + j)) * C + c0;
            const float *wp = w + (size_t)(i * K + j) * C + c0;
            for (int c = 0; c < cn; c++) acc[c] += ip[c] * wp[c];
        }
    }
    for (int c = 0; c < cn; c++) o[c] = acc[c];
}

void depthwise_forward(float *out, const float *inp, const float *w, int N, int H, int W, int C,
                       int K, int stride, int pad_top, int pad_left, int Ho, int Wo) {
    GS_ASSERT(N >= 0 && H > 0 && W > 0 && C > 0 && K > 0 && stride > 0);
    GS_ASSERT(pad_top >= 0 && pad_left >= 0 && Ho > 0 && Wo > 0);
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < N; n++) {
        for (int y = 0; y < Ho; y++) {
            const float *inp_n = inp + (size_t)n * H * W * C;
            int h0 = stride * y - pad_top;
            int i0 = imax(0, -h0), i1 = imin(K, H - h0);
            for (int x = 0; x < Wo; x++) {
                int w0 = stride * x - pad_left;
                int j0 = imax(0, -w0), j1 = imin(K, W - w0);
                float *o = out + (((size_t)n * Ho + y) * Wo + x) * C;
                int c0 = 0;
                for (; c0 + C_BLOCK <= C; c0 += C_BLOCK)
                    dw_pixel(o + c0, inp_n, w, W, C, K, h0, w0, i0, i1, j0, j1, c0, C_BLOCK);
                if (c0 < C) dw_pixel(o + c0, inp_n, w, W, C, K, h0, w0, i0, i1, j0, j1, c0, C - c0);
            }
        }
    }
}

// Scatter one output pixel's gradient through its valid taps: dinp += g*w, rowacc += inp*g.
static inline void dw_pixel_backward(float *restrict dinp_n, float *restrict ra,
                                     const float *restrict g, const float *restrict inp_n,
                                     const float *restrict w, int W, int C, int K, int h0, int w0,
                                     int i0, int i1, int j0, int j1) {
    for (int i = i0; i < i1; i++) {
        for (int j = j0; j < j1; j++) {
            size_t pix = ((size_t)(h0 + i) * W + (w0 + j)) * C;
            size_t tap = (size_t)(i * K + j) * C;
            if (dinp_n) {
                float *dp = dinp_n + pix;
                const float *wp = w + tap;
                for (int c = 0; c < C; c++) dp[c] += g[c] * wp[c];
            }
            if (ra) {
                float *ap = ra + tap;
                const float *ip = inp_n + pix;
                for (int c = 0; c < C; c++) ap[c] += ip[c] * g[c];
            }
        }
    }
}

// Images are split statically over threads (each image's dinp is owned by one thread, so the
// scatter has no races); dw sums per output row in float, per thread in double, and the thread
// partials are reduced in thread order: deterministic for a given thread count.
// Per thread: dw partials in double (K*K*C) and one output row's float accumulator (K*K*C).
static double *dw_layout(work_plan *w, float **rowacc, int C, int K) {
    size_t nt = (size_t)omp_get_max_threads(), nw = (size_t)K * K * C;
    double *part = work_piece(w, nt * nw * sizeof(double));
    *rowacc = work_piece(w, nt * nw * sizeof(float));
    return part;
}

size_t depthwise_work_floats(int C, int K) {
    work_plan w = {0};
    float *rowacc;
    dw_layout(&w, &rowacc, C, K);
    return w.used;
}

void depthwise_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                        float *work, int N, int H, int W, int C, int K, int stride, int pad_top,
                        int pad_left, int Ho, int Wo) {
    GS_ASSERT(N >= 0 && H > 0 && W > 0 && C > 0 && K > 0 && stride > 0 && work);
    GS_ASSERT(pad_top >= 0 && pad_left >= 0 && Ho > 0 && Wo > 0);
    if (!dinp && !dw) return;
    size_t nw = (size_t)K * K * C;
    int nt = omp_get_max_threads();
    if (nt > N) nt = N > 0 ? N : 1;
    work_plan wp = {work, 0};
    float *rowacc;
    double *part = dw_layout(&wp, &rowacc, C, K);
    if (!dw) part = NULL, rowacc = NULL;
    if (part) memset(part, 0, (size_t)nt * nw * sizeof(double));
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        int n0 = (int)((long)N * t / T), n1 = (int)((long)N * (t + 1) / T);
        double *p = dw ? part + (size_t)t * nw : NULL;
        float *ra = dw ? rowacc + (size_t)t * nw : NULL;
        for (int n = n0; n < n1; n++) {
            const float *inp_n = inp + (size_t)n * H * W * C;
            float *dinp_n = dinp ? dinp + (size_t)n * H * W * C : NULL;
            for (int y = 0; y < Ho; y++) {
                int h0 = stride * y - pad_top;
                int i0 = imax(0, -h0), i1 = imin(K, H - h0);
                if (ra) memset(ra, 0, nw * sizeof(float));
                for (int x = 0; x < Wo; x++) {
                    int w0 = stride * x - pad_left;
                    int j0 = imax(0, -w0), j1 = imin(K, W - w0);
                    const float *g = dout + (((size_t)n * Ho + y) * Wo + x) * C;
                    dw_pixel_backward(dinp_n, ra, g, inp_n, w, W, C, K, h0, w0, i0, i1, j0, j1);
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
}
