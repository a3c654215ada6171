// The generic tier of the plan kernels (plan_kernels.h): portable C, the fallback on any CPU (each
// tier is tested against the reference ops, tests/test_plan.c). The 1x1 conv is OpenBLAS' sgemm (which dispatches
// on the CPU itself) over blocks of rows, each block's epilogue run while it is still in cache.
#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/ops.h"
#include "plan_kernels.h"

static inline int imax(int a, int b) { return a > b ? a : b; }
static inline int imin(int a, int b) { return a < b ? a : b; }

static void generic_conv(float *out, const float *inp, const float *w, const float *bias, const plan_geom *g, int y0,
                         int y1, int act) {
    int K = g->K, Ci = g->Ci, Co = g->Co;
    for (int y = y0; y < y1; y++) {
        int h0 = g->stride * y - g->pad_top, i0 = imax(0, -h0), i1 = imin(K, g->H - h0);
        for (int x = 0; x < g->Wo; x++) {
            int w0 = g->stride * x - g->pad_left, j0 = imax(0, -w0), j1 = imin(K, g->W - w0);
            float *o = out + ((size_t)y * g->Wo + x) * Co;
            memcpy(o, bias, (size_t)Co * sizeof(float));
            for (int i = i0; i < i1; i++)
                for (int j = j0; j < j1; j++) {
                    const float *ip = inp + ((size_t)(h0 + i) * g->W + (w0 + j)) * Ci;
                    const float *wp = w + (size_t)(i * K + j) * Ci * Co;
                    for (int ci = 0; ci < Ci; ci++)
                        for (int co = 0; co < Co; co++) o[co] += ip[ci] * wp[(size_t)ci * Co + co];
                }
            for (int co = 0; co < Co; co++) o[co] = plan_act(o[co], act);
        }
    }
}

static void generic_dw(float *out, const float *inp, const float *w, const float *bias, const plan_geom *g, int y0,
                       int y1, int act) {
    int K = g->K, C = g->Co;
    for (int y = y0; y < y1; y++) {
        int h0 = g->stride * y - g->pad_top, i0 = imax(0, -h0), i1 = imin(K, g->H - h0);
        for (int x = 0; x < g->Wo; x++) {
            int w0 = g->stride * x - g->pad_left, j0 = imax(0, -w0), j1 = imin(K, g->W - w0);
            float *o = out + ((size_t)y * g->Wo + x) * C;
            memcpy(o, bias, (size_t)C * sizeof(float));
            for (int i = i0; i < i1; i++)
                for (int j = j0; j < j1; j++) {
                    const float *ip = inp + ((size_t)(h0 + i) * g->W + (w0 + j)) * C;
                    const float *wp = w + (size_t)(i * K + j) * C;
                    for (int c = 0; c < C; c++) o[c] += ip[c] * wp[c];
                }
            for (int c = 0; c < C; c++) o[c] = plan_act(o[c], act);
        }
    }
}

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static void blas_single_thread(void) { openblas_set_num_threads(1); }  // threads come from the plan

// Rows per sgemm call: the block's output (rows x Co) stays in L2 for its epilogue.
static int pw_block_rows(int Co) { return imax(16, imin(512, (64 * 1024) / Co)); }

static void generic_pw(float *out, const float *inp, const float *w, const float *bias, const float *res, int M, int Ci,
                       int Co, int act) {
    pthread_once(&blas_once, blas_single_thread);
    int R = pw_block_rows(Co);
    for (int m0 = 0; m0 < M; m0 += R) {
        int rows = imin(R, M - m0);
        float *o = out + (size_t)m0 * Co;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, Co, Ci, 1.0f, inp + (size_t)m0 * Ci, Ci, w, Co,
                    0.0f, o, Co);
        for (int r = 0; r < rows; r++) {
            float *orow = o + (size_t)r * Co;
            const float *rr = res ? res + ((size_t)m0 + r) * Co : NULL;
            for (int c = 0; c < Co; c++) {
                float v = plan_act(orow[c] + bias[c], act);
                orow[c] = rr ? v + rr[c] : v;
            }
        }
    }
}

// The generic tier's sgemm reads the HWIO kernel as it is.
static size_t generic_pw_floats(int Ci, int Co) { return (size_t)Ci * Co; }
static void generic_pw_pack(float *wp, const float *w, int Ci, int Co) {
    memcpy(wp, w, sizeof(float) * (size_t)Ci * Co);
}

const plan_kernels plan_kernels_generic = {"generic", generic_conv, generic_dw, generic_pw, generic_pw_floats,
                                           generic_pw_pack};

const plan_kernels *plan_kernels_pick(void) {
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const char *want = getenv("GESTURE_PLAN_KERNELS");
    if (want && *want) {
        if (!strcmp(want, "generic")) return &plan_kernels_generic;
        if (!strcmp(want, "avx2") && avx2) return &plan_kernels_avx2;
        fprintf(stderr, "gesture: GESTURE_PLAN_KERNELS=%s is not a tier this CPU runs (generic%s); picking the "
                        "fastest\n", want, avx2 ? ", avx2" : "");
    }
    return avx2 ? &plan_kernels_avx2 : &plan_kernels_generic;
}

static const plan_kernels *tier;
static pthread_once_t tier_once = PTHREAD_ONCE_INIT;
static void tier_pick(void) { tier = plan_kernels_pick(); }

const plan_kernels *plan_kernels_tier(void) {
    pthread_once(&tier_once, tier_pick);
    return tier;
}
