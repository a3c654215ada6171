// General KxK convolution (cross-correlation, HWIO weights, no bias). In MobileNetV2 it only runs
// as Conv1 (3x3 stride 2, Ci=3, Co=32), where K*K*Ci = 27 is too short a reduction for direct
// loops to reach FMA throughput; so it is im2col + sgemm over chunks of output rows:
//   patches (P, K*K*Ci) with zero padding, P = rows*Wo pixels of one image;
//   out = patches @ w, dw += patches^T @ dout, dpatches = dout @ w^T scattered back (col2im).
// HWIO weights viewed as (K*K*Ci, Co) are exactly the GEMM's right-hand matrix, no transposes.
// Threads come from OpenMP (OpenBLAS pinned to one thread, as in matmul.c); dw sums per-thread
// partials in thread order, so results are deterministic for a given thread count.
#include <cblas.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"
#include "gesture/ops.h"
#include "work.h"

// Output pixels per chunk: the patch buffer (~4096 x K*K*Ci floats) stays in L2 for Conv1.
#define CHUNK_PIXELS 4096

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static void blas_single_thread(void) { openblas_set_num_threads(1); }

static inline int imax(int a, int b) { return a > b ? a : b; }
static inline int imin(int a, int b) { return a < b ? a : b; }

typedef struct {
    int H, W, Ci, Co, K, stride, pad_top, pad_left, Ho, Wo;
} conv_geom;

static int chunk_rows(const conv_geom *g) { return imax(1, imin(g->Ho, CHUNK_PIXELS / g->Wo)); }

// patches[(y-y0)*Wo + x][(i*K+j)*Ci + ci] = inp_n[s*y+i-pt][s*x+j-pl][ci] or 0 outside the image.
static void im2col(float *patches, const float *inp_n, const conv_geom *g, int y0, int y1) {
    int K = g->K, Ci = g->Ci, KKC = K * K * Ci;
    for (int y = y0; y < y1; y++) {
        int h0 = g->stride * y - g->pad_top;
        for (int x = 0; x < g->Wo; x++) {
            int w0 = g->stride * x - g->pad_left;
            int j0 = imax(0, -w0), j1 = imin(K, g->W - w0);
            float *p = patches + ((size_t)(y - y0) * g->Wo + x) * KKC;
            for (int i = 0; i < K; i++) {
                float *pi = p + (size_t)i * K * Ci;
                int h = h0 + i;
                if (h < 0 || h >= g->H) {
                    memset(pi, 0, (size_t)K * Ci * sizeof(float));
                    continue;
                }
                // taps [j0,j1) are one contiguous run of the input row
                memset(pi, 0, (size_t)j0 * Ci * sizeof(float));
                memcpy(pi + (size_t)j0 * Ci, inp_n + ((size_t)h * g->W + (w0 + j0)) * Ci,
                       (size_t)(j1 - j0) * Ci * sizeof(float));
                memset(pi + (size_t)j1 * Ci, 0, (size_t)(K - j1) * Ci * sizeof(float));
            }
        }
    }
}

// dinp_n += col2im(dpatches): the inverse scatter of im2col, padding entries dropped.
static void col2im_add(float *dinp_n, const float *dpatches, const conv_geom *g, int y0, int y1) {
    int K = g->K, Ci = g->Ci, KKC = K * K * Ci;
    for (int y = y0; y < y1; y++) {
        int h0 = g->stride * y - g->pad_top;
        int i0 = imax(0, -h0), i1 = imin(K, g->H - h0);
        for (int x = 0; x < g->Wo; x++) {
            int w0 = g->stride * x - g->pad_left;
            int j0 = imax(0, -w0), j1 = imin(K, g->W - w0);
            const float *p = dpatches + ((size_t)(y - y0) * g->Wo + x) * KKC;
            for (int i = i0; i < i1; i++) {
                const float *src = p + ((size_t)i * K + j0) * Ci;
                float *dst = dinp_n + ((size_t)(h0 + i) * g->W + (w0 + j0)) * Ci;
                int n = (j1 - j0) * Ci;
                for (int k = 0; k < n; k++) dst[k] += src[k];
            }
        }
    }
}

// Per thread: a patch buffer of one chunk (R*Wo, K*K*Ci), then a dw partial (K*K*Ci, Co).
typedef struct {
    float *patches, *part;
    size_t patch_floats;  // per thread
} conv_work;

static conv_work conv_layout(work_plan *w, const conv_geom *g) {
    size_t nt = (size_t)omp_get_max_threads(), KKC = (size_t)g->K * g->K * g->Ci;
    conv_work c;
    c.patch_floats = (size_t)chunk_rows(g) * g->Wo * KKC;
    c.patches = work_piece(w, nt * c.patch_floats * sizeof(float));
    c.part = work_piece(w, nt * KKC * g->Co * sizeof(float));
    return c;
}

size_t conv2d_work_floats(int Ci, int Co, int K, int Ho, int Wo) {
    conv_geom g = {0, 0, Ci, Co, K, 1, 0, 0, Ho, Wo};
    work_plan w = {0};
    conv_layout(&w, &g);
    return w.used;
}

void conv2d_forward(float *out, const float *inp, const float *w, float *work, int N, int H, int W,
                    int Ci, int Co, int K, int stride, int pad_top, int pad_left, int Ho, int Wo) {
    GS_ASSERT(N >= 0 && H > 0 && W > 0 && Ci > 0 && Co > 0 && K > 0 && stride > 0 && work);
    GS_ASSERT(pad_top >= 0 && pad_left >= 0 && Ho > 0 && Wo > 0);
    pthread_once(&blas_once, blas_single_thread);
    conv_geom g = {H, W, Ci, Co, K, stride, pad_top, pad_left, Ho, Wo};
    int R = chunk_rows(&g), chunks = (Ho + R - 1) / R, KKC = K * K * Ci;
    work_plan wp = {work, 0};
    conv_work cw = conv_layout(&wp, &g);
#pragma omp parallel
    {
        float *patches = cw.patches + (size_t)omp_get_thread_num() * cw.patch_floats;
#pragma omp for collapse(2) schedule(static)
        for (int n = 0; n < N; n++) {
            for (int c = 0; c < chunks; c++) {
                int y0 = c * R, y1 = imin(Ho, y0 + R), P = (y1 - y0) * Wo;
                im2col(patches, inp + (size_t)n * H * W * Ci, &g, y0, y1);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, P, Co, KKC, 1.0f, patches,
                            KKC, w, Co, 0.0f, out + (((size_t)n * Ho + y0) * Wo) * Co, Co);
            }
        }
    }
}

// Images are split statically over threads: each image's dinp is written by one thread (the
// col2im scatter of neighbouring chunks overlaps), and dw partials are per thread.
void conv2d_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                     float *work, int N, int H, int W, int Ci, int Co, int K, int stride, int pad_top,
                     int pad_left, int Ho, int Wo) {
    GS_ASSERT(N >= 0 && H > 0 && W > 0 && Ci > 0 && Co > 0 && K > 0 && stride > 0 && work);
    GS_ASSERT(pad_top >= 0 && pad_left >= 0 && Ho > 0 && Wo > 0);
    if (!dinp && !dw) return;
    pthread_once(&blas_once, blas_single_thread);
    conv_geom g = {H, W, Ci, Co, K, stride, pad_top, pad_left, Ho, Wo};
    int R = chunk_rows(&g), chunks = (Ho + R - 1) / R, KKC = K * K * Ci;
    size_t nw = (size_t)KKC * Co;
    int nt = imax(1, imin(omp_get_max_threads(), N));
    work_plan wp = {work, 0};
    conv_work cw = conv_layout(&wp, &g);
    float *part = dw ? cw.part : NULL;
    if (part) memset(part, 0, (size_t)nt * nw * sizeof(float));
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        int n0 = (int)((long)N * t / T), n1 = (int)((long)N * (t + 1) / T);
        float *buf = cw.patches + (size_t)t * cw.patch_floats;
        for (int n = n0; n < n1; n++) {
            for (int c = 0; c < chunks; c++) {
                int y0 = c * R, y1 = imin(Ho, y0 + R), P = (y1 - y0) * Wo;
                const float *gc = dout + (((size_t)n * Ho + y0) * Wo) * Co;
                if (dw) {  // partial dw += patches^T @ dout
                    im2col(buf, inp + (size_t)n * H * W * Ci, &g, y0, y1);
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, KKC, Co, P, 1.0f, buf,
                                KKC, gc, Co, 1.0f, part + (size_t)t * nw, Co);
                }
                if (dinp) {  // dpatches = dout @ w^T, then scatter
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, P, KKC, Co, 1.0f, gc, Co,
                                w, Co, 0.0f, buf, KKC);
                    col2im_add(dinp + (size_t)n * H * W * Ci, buf, &g, y0, y1);
                }
            }
        }
    }
    if (dw) {
        for (size_t k = 0; k < nw; k++) {
            float s = 0.0f;
            for (int t = 0; t < nt; t++) s += part[(size_t)t * nw + k];
            dw[k] += s;
        }
    }
}
