// The AVX2+FMA tier of the plan kernels (plan_kernels.h), compiled with per-function target
// attributes so the binary still starts on a CPU without AVX2 (plan_kernels_pick never hands this
// table out there). Depthwise 3x3: 8 channels per vector, the 9 taps' weights and the bias held in
// registers across a whole output row, border pixels with clipped taps. Conv1 (KxK, few input
// channels): up to 32 output channels of one pixel accumulate in registers. The 1x1 conv is
// OpenBLAS' sgemm over row blocks with a vector epilogue. Channel counts that are not multiples of
// 8 finish in scalar code; shapes the fast paths do not cover go to the generic tier.
#include <cblas.h>
#include <immintrin.h>
#include <pthread.h>
#include <string.h>

#include "plan_kernels.h"

#define AVX2 __attribute__((target("avx2,fma")))
#define AVX2_INLINE __attribute__((target("avx2,fma"), always_inline)) static inline

static inline int imax(int a, int b) { return a > b ? a : b; }
static inline int imin(int a, int b) { return a < b ? a : b; }

AVX2_INLINE __m256 act8(__m256 v, int act) {
    if (act == 1) return _mm256_min_ps(_mm256_max_ps(v, _mm256_setzero_ps()), _mm256_set1_ps(6.0f));
    if (act == 2) return _mm256_max_ps(v, _mm256_setzero_ps());
    return v;
}

// ---- KxK conv: NB vectors (8*NB output channels from cb) of one pixel in registers ----

AVX2_INLINE void conv_px(float *o, const float *inp, const float *w, const float *bias, const plan_geom *g, int h0,
                         int w0, int cb, int NB, int act) {
    int K = g->K, Ci = g->Ci, Co = g->Co;
    int i0 = imax(0, -h0), i1 = imin(K, g->H - h0), j0 = imax(0, -w0), j1 = imin(K, g->W - w0);
    __m256 acc[4];
    for (int b = 0; b < NB; b++) acc[b] = _mm256_loadu_ps(bias + cb + 8 * b);
    for (int i = i0; i < i1; i++)
        for (int j = j0; j < j1; j++) {
            const float *ip = inp + ((size_t)(h0 + i) * g->W + (w0 + j)) * Ci;
            const float *wp = w + (size_t)(i * K + j) * Ci * Co + cb;
            for (int ci = 0; ci < Ci; ci++) {
                __m256 a = _mm256_broadcast_ss(ip + ci);
                for (int b = 0; b < NB; b++)
                    acc[b] = _mm256_fmadd_ps(a, _mm256_loadu_ps(wp + (size_t)ci * Co + 8 * b), acc[b]);
            }
        }
    for (int b = 0; b < NB; b++) _mm256_storeu_ps(o + cb + 8 * b, act8(acc[b], act));
}

static AVX2 void avx2_conv(float *out, const float *inp, const float *w, const float *bias, const plan_geom *g,
                           int y0, int y1, int act) {
    if (g->Co % 8) {
        plan_kernels_generic.conv(out, inp, w, bias, g, y0, y1, act);
        return;
    }
    for (int y = y0; y < y1; y++) {
        int h0 = g->stride * y - g->pad_top;
        for (int x = 0; x < g->Wo; x++) {
            int w0 = g->stride * x - g->pad_left;
            float *o = out + ((size_t)y * g->Wo + x) * g->Co;
            int cb = 0;
            for (; cb + 32 <= g->Co; cb += 32) conv_px(o, inp, w, bias, g, h0, w0, cb, 4, act);
            switch ((g->Co - cb) / 8) {  // constant NB per call: the accumulators stay in registers
            case 3: conv_px(o, inp, w, bias, g, h0, w0, cb, 3, act); break;
            case 2: conv_px(o, inp, w, bias, g, h0, w0, cb, 2, act); break;
            case 1: conv_px(o, inp, w, bias, g, h0, w0, cb, 1, act); break;
            default: break;
            }
        }
    }
}

// ---- depthwise 3x3 ----

// One pixel, channels [cb, cb+8), taps clipped to the image, weights from memory (border pixels).
AVX2_INLINE void dw_px_clip(float *o, const float *const rows[3], const float *w, const float *bias, int W, int C,
                            int w0, int cb, int act) {
    int j0 = imax(0, -w0), j1 = imin(3, W - w0);
    __m256 acc = _mm256_loadu_ps(bias + cb);
    for (int i = 0; i < 3; i++) {
        if (!rows[i]) continue;
        for (int j = j0; j < j1; j++)
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(rows[i] + (size_t)(w0 + j) * C + cb),
                                  _mm256_loadu_ps(w + (size_t)(i * 3 + j) * C + cb), acc);
    }
    _mm256_storeu_ps(o + cb, act8(acc, act));
}

// Channels [cb, cb+8) of output pixels [x0, x1), every tap inside the image's columns: the window's
// weights stay in registers along the row. Rows outside the image are NULL (their taps add 0).
AVX2_INLINE void dw_run(float *orow, const float *const rows[3], const float *w, const float *bias, int C, int s,
                        int pl, int x0, int x1, int cb, int act) {
    __m256 wv[9];
    for (int t = 0; t < 9; t++) wv[t] = _mm256_loadu_ps(w + (size_t)t * C + cb);
    __m256 bv = _mm256_loadu_ps(bias + cb);
    for (int x = x0; x < x1; x++) {
        size_t col = (size_t)(s * x - pl) * C + cb;
        __m256 acc = bv;
        for (int i = 0; i < 3; i++) {
            if (!rows[i]) continue;
            const float *p = rows[i] + col;
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(p), wv[3 * i], acc);
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(p + C), wv[3 * i + 1], acc);
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(p + 2 * (size_t)C), wv[3 * i + 2], acc);
        }
        _mm256_storeu_ps(orow + (size_t)x * C + cb, act8(acc, act));
    }
}

static AVX2 void avx2_dw(float *out, const float *inp, const float *w, const float *bias, const plan_geom *g, int y0,
                         int y1, int act) {
    if (g->K != 3) {
        plan_kernels_generic.dw(out, inp, w, bias, g, y0, y1, act);
        return;
    }
    int C = g->Co, C8 = C / 8 * 8, s = g->stride, pl = g->pad_left, W = g->W;
    // pixels whose three taps all lie inside the row: 0 <= s*x - pl and s*x - pl + 2 <= W - 1
    int xa = imin(g->Wo, (pl + s - 1) / s), last = W - 3 + pl;
    int xb = last < 0 ? xa : imax(xa, imin(g->Wo, last / s + 1));
    for (int y = y0; y < y1; y++) {
        const float *rows[3];
        for (int i = 0; i < 3; i++) {
            int h = s * y - g->pad_top + i;
            rows[i] = h >= 0 && h < g->H ? inp + (size_t)h * W * C : NULL;
        }
        float *orow = out + (size_t)y * g->Wo * C;
        for (int cb = 0; cb < C8; cb += 8) {
            dw_run(orow, rows, w, bias, C, s, pl, xa, xb, cb, act);
            for (int x = 0; x < xa; x++) dw_px_clip(orow + (size_t)x * C, rows, w, bias, W, C, s * x - pl, cb, act);
            for (int x = xb; x < g->Wo; x++)
                dw_px_clip(orow + (size_t)x * C, rows, w, bias, W, C, s * x - pl, cb, act);
        }
        if (C8 < C) {  // channel tail, scalar
            for (int x = 0; x < g->Wo; x++) {
                int w0 = s * x - pl, j0 = imax(0, -w0), j1 = imin(3, W - w0);
                for (int c = C8; c < C; c++) {
                    float a = bias[c];
                    for (int i = 0; i < 3; i++)
                        for (int j = j0; rows[i] && j < j1; j++)
                            a += rows[i][(size_t)(w0 + j) * C + c] * w[(size_t)(i * 3 + j) * C + c];
                    orow[(size_t)x * C + c] = plan_act(a, act);
                }
            }
        }
    }
}

// ---- 1x1 conv: sgemm per row block, vector epilogue ----

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static void blas_single_thread(void) { openblas_set_num_threads(1); }  // threads come from the plan

static AVX2 void pw_epilogue(float *o, const float *bias, const float *res, int rows, int Co, int act) {
    int C8 = Co / 8 * 8;
    for (int r = 0; r < rows; r++) {
        float *orow = o + (size_t)r * Co;
        const float *rr = res ? res + (size_t)r * Co : NULL;
        for (int c = 0; c < C8; c += 8) {
            __m256 v = act8(_mm256_add_ps(_mm256_loadu_ps(orow + c), _mm256_loadu_ps(bias + c)), act);
            if (rr) v = _mm256_add_ps(v, _mm256_loadu_ps(rr + c));
            _mm256_storeu_ps(orow + c, v);
        }
        for (int c = C8; c < Co; c++) {
            float v = plan_act(orow[c] + bias[c], act);
            orow[c] = rr ? v + rr[c] : v;
        }
    }
}

static AVX2 void avx2_pw(float *out, const float *inp, const float *w, const float *bias, const float *res, int M,
                         int Ci, int Co, int act) {
    pthread_once(&blas_once, blas_single_thread);
    int R = imax(16, imin(512, (64 * 1024) / Co));
    for (int m0 = 0; m0 < M; m0 += R) {
        int rows = imin(R, M - m0);
        float *o = out + (size_t)m0 * Co;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, Co, Ci, 1.0f, inp + (size_t)m0 * Ci, Ci, w, Co,
                    0.0f, o, Co);
        pw_epilogue(o, bias, res ? res + (size_t)m0 * Co : NULL, rows, Co, act);
    }
}

const plan_kernels plan_kernels_avx2 = {"avx2", avx2_conv, avx2_dw, avx2_pw};
