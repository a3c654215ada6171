// The AVX2+FMA tier of the plan kernels (plan_kernels.h), compiled with per-function target
// attributes so the binary still starts on a CPU without AVX2 (plan_kernels_pick never hands this
// table out there). Depthwise 3x3: 8 channels per vector, the 9 taps' weights and the bias held in
// registers across a whole output row, border pixels with clipped taps. Conv1 (KxK, few input
// channels): up to 32 output channels of one pixel accumulate in registers. The 1x1 conv: a
// register-tiled GEMM on weights packed when the plan is built, its epilogue on the accumulators.
// Channel counts that are not multiples of 8 finish in scalar code; shapes the fast paths do not
// cover go to the generic tier.
#include <immintrin.h>
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

// Several pixels at once where every column tap is inside the image: each weight vector loaded
// serves all of them (one pixel alone needs a load per FMA, and loads bound it). 3 pixels x 32
// channels or 6 pixels x 16 channels: 12 accumulators in named variables.
#define CONV_FMA(acc, a, wv) acc = _mm256_fmadd_ps(a, wv, acc)

AVX2_INLINE void conv_3px_32(float *o, const float *inp, const float *w, const float *bias, const plan_geom *g, int h0,
                             int w0, int cb, int act) {
    int K = g->K, Ci = g->Ci, Co = g->Co, i0 = imax(0, -h0), i1 = imin(K, g->H - h0);
    size_t step = (size_t)g->stride * Ci;
    __m256 b0 = _mm256_loadu_ps(bias + cb), b1 = _mm256_loadu_ps(bias + cb + 8), b2 = _mm256_loadu_ps(bias + cb + 16),
           b3 = _mm256_loadu_ps(bias + cb + 24);
    __m256 p00 = b0, p01 = b1, p02 = b2, p03 = b3, p10 = b0, p11 = b1, p12 = b2, p13 = b3, p20 = b0, p21 = b1,
           p22 = b2, p23 = b3;
    for (int i = i0; i < i1; i++)
        for (int j = 0; j < K; j++) {
            const float *ip = inp + ((size_t)(h0 + i) * g->W + (w0 + j)) * Ci;
            const float *wp = w + (size_t)(i * K + j) * Ci * Co + cb;
            for (int ci = 0; ci < Ci; ci++, wp += Co) {
                __m256 v0 = _mm256_loadu_ps(wp), v1 = _mm256_loadu_ps(wp + 8), v2 = _mm256_loadu_ps(wp + 16),
                       v3 = _mm256_loadu_ps(wp + 24), a;
                a = _mm256_broadcast_ss(ip + ci);
                CONV_FMA(p00, a, v0), CONV_FMA(p01, a, v1), CONV_FMA(p02, a, v2), CONV_FMA(p03, a, v3);
                a = _mm256_broadcast_ss(ip + step + ci);
                CONV_FMA(p10, a, v0), CONV_FMA(p11, a, v1), CONV_FMA(p12, a, v2), CONV_FMA(p13, a, v3);
                a = _mm256_broadcast_ss(ip + 2 * step + ci);
                CONV_FMA(p20, a, v0), CONV_FMA(p21, a, v1), CONV_FMA(p22, a, v2), CONV_FMA(p23, a, v3);
            }
        }
    float *q = o + cb;
    _mm256_storeu_ps(q, act8(p00, act)), _mm256_storeu_ps(q + 8, act8(p01, act));
    _mm256_storeu_ps(q + 16, act8(p02, act)), _mm256_storeu_ps(q + 24, act8(p03, act));
    q += Co;
    _mm256_storeu_ps(q, act8(p10, act)), _mm256_storeu_ps(q + 8, act8(p11, act));
    _mm256_storeu_ps(q + 16, act8(p12, act)), _mm256_storeu_ps(q + 24, act8(p13, act));
    q += Co;
    _mm256_storeu_ps(q, act8(p20, act)), _mm256_storeu_ps(q + 8, act8(p21, act));
    _mm256_storeu_ps(q + 16, act8(p22, act)), _mm256_storeu_ps(q + 24, act8(p23, act));
}

AVX2_INLINE void conv_6px_16(float *o, const float *inp, const float *w, const float *bias, const plan_geom *g, int h0,
                             int w0, int cb, int act) {
    int K = g->K, Ci = g->Ci, Co = g->Co, i0 = imax(0, -h0), i1 = imin(K, g->H - h0);
    size_t step = (size_t)g->stride * Ci;
    __m256 b0 = _mm256_loadu_ps(bias + cb), b1 = _mm256_loadu_ps(bias + cb + 8);
    __m256 p00 = b0, p01 = b1, p10 = b0, p11 = b1, p20 = b0, p21 = b1, p30 = b0, p31 = b1, p40 = b0, p41 = b1,
           p50 = b0, p51 = b1;
    for (int i = i0; i < i1; i++)
        for (int j = 0; j < K; j++) {
            const float *ip = inp + ((size_t)(h0 + i) * g->W + (w0 + j)) * Ci;
            const float *wp = w + (size_t)(i * K + j) * Ci * Co + cb;
            for (int ci = 0; ci < Ci; ci++, wp += Co) {
                __m256 v0 = _mm256_loadu_ps(wp), v1 = _mm256_loadu_ps(wp + 8), a;
                a = _mm256_broadcast_ss(ip + ci), CONV_FMA(p00, a, v0), CONV_FMA(p01, a, v1);
                a = _mm256_broadcast_ss(ip + step + ci), CONV_FMA(p10, a, v0), CONV_FMA(p11, a, v1);
                a = _mm256_broadcast_ss(ip + 2 * step + ci), CONV_FMA(p20, a, v0), CONV_FMA(p21, a, v1);
                a = _mm256_broadcast_ss(ip + 3 * step + ci), CONV_FMA(p30, a, v0), CONV_FMA(p31, a, v1);
                a = _mm256_broadcast_ss(ip + 4 * step + ci), CONV_FMA(p40, a, v0), CONV_FMA(p41, a, v1);
                a = _mm256_broadcast_ss(ip + 5 * step + ci), CONV_FMA(p50, a, v0), CONV_FMA(p51, a, v1);
            }
        }
    float *q = o + cb;
    _mm256_storeu_ps(q, act8(p00, act)), _mm256_storeu_ps(q + 8, act8(p01, act)), q += Co;
    _mm256_storeu_ps(q, act8(p10, act)), _mm256_storeu_ps(q + 8, act8(p11, act)), q += Co;
    _mm256_storeu_ps(q, act8(p20, act)), _mm256_storeu_ps(q + 8, act8(p21, act)), q += Co;
    _mm256_storeu_ps(q, act8(p30, act)), _mm256_storeu_ps(q + 8, act8(p31, act)), q += Co;
    _mm256_storeu_ps(q, act8(p40, act)), _mm256_storeu_ps(q + 8, act8(p41, act)), q += Co;
    _mm256_storeu_ps(q, act8(p50, act)), _mm256_storeu_ps(q + 8, act8(p51, act));
}

// One pixel, every channel block.
AVX2_INLINE void conv_px_all(float *o, const float *inp, const float *w, const float *bias, const plan_geom *g, int h0,
                             int w0, int act) {
    int cb = 0;
    for (; cb + 32 <= g->Co; cb += 32) conv_px(o, inp, w, bias, g, h0, w0, cb, 4, act);
    switch ((g->Co - cb) / 8) {  // constant NB per call: the accumulators stay in registers
    case 3: conv_px(o, inp, w, bias, g, h0, w0, cb, 3, act); break;
    case 2: conv_px(o, inp, w, bias, g, h0, w0, cb, 2, act); break;
    case 1: conv_px(o, inp, w, bias, g, h0, w0, cb, 1, act); break;
    default: break;
    }
}

static AVX2 void avx2_conv(float *out, const float *inp, const float *w, const float *bias, const plan_geom *g,
                           int y0, int y1, int act) {
    if (g->Co % 8) {
        plan_kernels_generic.conv(out, inp, w, bias, g, y0, y1, act);
        return;
    }
    int s = g->stride, pl = g->pad_left, px = g->Co % 32 == 0 ? 3 : g->Co == 16 ? 6 : 0;
    // [xa, xb): pixels whose K column taps are all inside the image
    int xa = imin(g->Wo, (pl + s - 1) / s), last = g->W - g->K + pl;
    int xb = last < 0 ? xa : imax(xa, imin(g->Wo, last / s + 1));
    for (int y = y0; y < y1; y++) {
        int h0 = s * y - g->pad_top, x = 0;
        float *orow = out + (size_t)y * g->Wo * g->Co;
        for (; x < xa; x++) conv_px_all(orow + (size_t)x * g->Co, inp, w, bias, g, h0, s * x - pl, act);
        for (; px && x + px <= xb; x += px) {
            float *o = orow + (size_t)x * g->Co;
            if (px == 3)
                for (int cb = 0; cb < g->Co; cb += 32) conv_3px_32(o, inp, w, bias, g, h0, s * x - pl, cb, act);
            else conv_6px_16(o, inp, w, bias, g, h0, s * x - pl, 0, act);
        }
        for (; x < g->Wo; x++) conv_px_all(orow + (size_t)x * g->Co, inp, w, bias, g, h0, s * x - pl, act);
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

// One row's three taps of 4 stride-1 output pixels: each of the 6 input columns is loaded once and
// feeds every output it lies under (one pixel at a time loads each column three times).
#define DW_ROW4_S1(p, v0, v1, v2)                                                                         \
    do {                                                                                                   \
        __m256 c_ = _mm256_loadu_ps(p);                                                                    \
        a0 = _mm256_fmadd_ps(c_, v0, a0);                                                                  \
        c_ = _mm256_loadu_ps(p + C), a0 = _mm256_fmadd_ps(c_, v1, a0), a1 = _mm256_fmadd_ps(c_, v0, a1);     \
        c_ = _mm256_loadu_ps(p + 2 * C), a0 = _mm256_fmadd_ps(c_, v2, a0), a1 = _mm256_fmadd_ps(c_, v1, a1); \
        a2 = _mm256_fmadd_ps(c_, v0, a2);                                                                  \
        c_ = _mm256_loadu_ps(p + 3 * C), a1 = _mm256_fmadd_ps(c_, v2, a1), a2 = _mm256_fmadd_ps(c_, v1, a2); \
        a3 = _mm256_fmadd_ps(c_, v0, a3);                                                                  \
        c_ = _mm256_loadu_ps(p + 4 * C), a2 = _mm256_fmadd_ps(c_, v2, a2), a3 = _mm256_fmadd_ps(c_, v1, a3); \
        c_ = _mm256_loadu_ps(p + 5 * C), a3 = _mm256_fmadd_ps(c_, v2, a3);                                 \
    } while (0)

// Channels [cb, cb+8) of output pixels [x0, x1), every tap inside the image's columns: the window's
// 9 weight vectors stay in registers along the row; stride 1 goes 4 pixels at a time. Rows outside
// the image are NULL (their taps add 0).
AVX2_INLINE void dw_run(float *orow, const float *const rows[3], const float *w, const float *bias, size_t C, int s,
                        int pl, int x0, int x1, int cb, int act) {
    __m256 w00 = _mm256_loadu_ps(w + cb), w01 = _mm256_loadu_ps(w + C + cb), w02 = _mm256_loadu_ps(w + 2 * C + cb);
    __m256 w10 = _mm256_loadu_ps(w + 3 * C + cb), w11 = _mm256_loadu_ps(w + 4 * C + cb),
           w12 = _mm256_loadu_ps(w + 5 * C + cb);
    __m256 w20 = _mm256_loadu_ps(w + 6 * C + cb), w21 = _mm256_loadu_ps(w + 7 * C + cb),
           w22 = _mm256_loadu_ps(w + 8 * C + cb);
    __m256 bv = _mm256_loadu_ps(bias + cb);
    int x = x0;
    if (s == 1)
        for (; x + 4 <= x1; x += 4) {
            size_t col = (size_t)(x - pl) * C + cb;
            __m256 a0 = bv, a1 = bv, a2 = bv, a3 = bv;
            if (rows[0]) DW_ROW4_S1(rows[0] + col, w00, w01, w02);
            if (rows[1]) DW_ROW4_S1(rows[1] + col, w10, w11, w12);
            if (rows[2]) DW_ROW4_S1(rows[2] + col, w20, w21, w22);
            float *o = orow + (size_t)x * C + cb;
            _mm256_storeu_ps(o, act8(a0, act)), _mm256_storeu_ps(o + C, act8(a1, act));
            _mm256_storeu_ps(o + 2 * C, act8(a2, act)), _mm256_storeu_ps(o + 3 * C, act8(a3, act));
        }
    for (; x < x1; x++) {
        size_t col = (size_t)(s * x - pl) * C + cb;
        __m256 acc = bv;
        if (rows[0]) {
            const float *p = rows[0] + col;
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(p), w00, acc);
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(p + C), w01, acc);
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(p + 2 * C), w02, acc);
        }
        if (rows[1]) {
            const float *p = rows[1] + col;
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(p), w10, acc);
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(p + C), w11, acc);
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(p + 2 * C), w12, acc);
        }
        if (rows[2]) {
            const float *p = rows[2] + col;
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(p), w20, acc);
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(p + C), w21, acc);
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(p + 2 * C), w22, acc);
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
            dw_run(orow, rows, w, bias, (size_t)C, s, pl, xa, xb, cb, act);
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

// ---- 1x1 conv: own GEMM on pre-packed weights, the epilogue on the accumulators ----
// Packed weights: panels of 16 output channels, each (Ci,16) row-major (a last panel of 8 when
// Co % 16 == 8), so one k step of a panel is two aligned-together vectors. A 6x16 tile of the output
// accumulates in 12 registers; the 6 input rows are read in place (broadcasts), never packed.
// Rows go in blocks whose inputs stay in L2 while every panel passes over them. Co % 8 != 0 keeps
// the generic tier's sgemm (the weights are then packed its way).

#define PW_MR 6

static size_t avx2_pw_floats(int Ci, int Co) { return (size_t)Ci * Co; }

static void avx2_pw_pack(float *wp, const float *w, int Ci, int Co) {
    if (Co % 8) {
        plan_kernels_generic.pw_pack(wp, w, Ci, Co);
        return;
    }
    for (int c0 = 0; c0 < Co; c0 += 16) {
        int nw = Co - c0 >= 16 ? 16 : 8;
        for (int k = 0; k < Ci; k++)
            for (int c = 0; c < nw; c++) *wp++ = w[(size_t)k * Co + c0 + c];
    }
}

// The epilogue of one accumulator: act, residual, store at row r, vector b of the tile.
#define PW_STORE(acc, r, b)                                                                  \
    do {                                                                                     \
        __m256 v_ = act8(acc, act);                                                          \
        if (res) v_ = _mm256_add_ps(v_, _mm256_loadu_ps(res + (size_t)(r) * Co + 8 * (b)));  \
        _mm256_storeu_ps(out + (size_t)(r) * Co + 8 * (b), v_);                              \
    } while (0)

// The full 6x16 tile: 12 accumulators in named variables (an array of them is spilled to the stack
// on every k step by GCC).
AVX2_INLINE void pw_tile_6x16(float *out, const float *inp, const float *wp, const float *bias, const float *res,
                              int Ci, int Co, int act) {
    __m256 b0 = _mm256_loadu_ps(bias), b1 = _mm256_loadu_ps(bias + 8);
    __m256 c00 = b0, c01 = b1, c10 = b0, c11 = b1, c20 = b0, c21 = b1, c30 = b0, c31 = b1, c40 = b0, c41 = b1,
           c50 = b0, c51 = b1;
    const float *a0 = inp, *a1 = a0 + Ci, *a2 = a1 + Ci, *a3 = a2 + Ci, *a4 = a3 + Ci, *a5 = a4 + Ci;
    for (int k = 0; k < Ci; k++, wp += 16) {
        __m256 w0 = _mm256_loadu_ps(wp), w1 = _mm256_loadu_ps(wp + 8), a;
        a = _mm256_broadcast_ss(a0 + k), c00 = _mm256_fmadd_ps(a, w0, c00), c01 = _mm256_fmadd_ps(a, w1, c01);
        a = _mm256_broadcast_ss(a1 + k), c10 = _mm256_fmadd_ps(a, w0, c10), c11 = _mm256_fmadd_ps(a, w1, c11);
        a = _mm256_broadcast_ss(a2 + k), c20 = _mm256_fmadd_ps(a, w0, c20), c21 = _mm256_fmadd_ps(a, w1, c21);
        a = _mm256_broadcast_ss(a3 + k), c30 = _mm256_fmadd_ps(a, w0, c30), c31 = _mm256_fmadd_ps(a, w1, c31);
        a = _mm256_broadcast_ss(a4 + k), c40 = _mm256_fmadd_ps(a, w0, c40), c41 = _mm256_fmadd_ps(a, w1, c41);
        a = _mm256_broadcast_ss(a5 + k), c50 = _mm256_fmadd_ps(a, w0, c50), c51 = _mm256_fmadd_ps(a, w1, c51);
    }
    PW_STORE(c00, 0, 0); PW_STORE(c01, 0, 1); PW_STORE(c10, 1, 0); PW_STORE(c11, 1, 1);
    PW_STORE(c20, 2, 0); PW_STORE(c21, 2, 1); PW_STORE(c30, 3, 0); PW_STORE(c31, 3, 1);
    PW_STORE(c40, 4, 0); PW_STORE(c41, 4, 1); PW_STORE(c50, 5, 0); PW_STORE(c51, 5, 1);
}

// The 6x8 tile of a last panel of 8 channels.
AVX2_INLINE void pw_tile_6x8(float *out, const float *inp, const float *wp, const float *bias, const float *res, int Ci,
                             int Co, int act) {
    __m256 c0 = _mm256_loadu_ps(bias), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
    const float *a0 = inp, *a1 = a0 + Ci, *a2 = a1 + Ci, *a3 = a2 + Ci, *a4 = a3 + Ci, *a5 = a4 + Ci;
    for (int k = 0; k < Ci; k++, wp += 8) {
        __m256 w0 = _mm256_loadu_ps(wp);
        c0 = _mm256_fmadd_ps(_mm256_broadcast_ss(a0 + k), w0, c0);
        c1 = _mm256_fmadd_ps(_mm256_broadcast_ss(a1 + k), w0, c1);
        c2 = _mm256_fmadd_ps(_mm256_broadcast_ss(a2 + k), w0, c2);
        c3 = _mm256_fmadd_ps(_mm256_broadcast_ss(a3 + k), w0, c3);
        c4 = _mm256_fmadd_ps(_mm256_broadcast_ss(a4 + k), w0, c4);
        c5 = _mm256_fmadd_ps(_mm256_broadcast_ss(a5 + k), w0, c5);
    }
    PW_STORE(c0, 0, 0); PW_STORE(c1, 1, 0); PW_STORE(c2, 2, 0); PW_STORE(c3, 3, 0); PW_STORE(c4, 4, 0);
    PW_STORE(c5, 5, 0);
}

// Fewer than 6 rows (the last of a block): one row at a time, 8*NB columns.
AVX2_INLINE void pw_tile_row(float *out, const float *inp, const float *wp, const float *bias, const float *res,
                             int Ci, int Co, int NB, int act) {
    __m256 c0 = _mm256_loadu_ps(bias), c1 = NB > 1 ? _mm256_loadu_ps(bias + 8) : c0;
    for (int k = 0; k < Ci; k++, wp += 8 * NB) {
        __m256 a = _mm256_broadcast_ss(inp + k);
        c0 = _mm256_fmadd_ps(a, _mm256_loadu_ps(wp), c0);
        if (NB > 1) c1 = _mm256_fmadd_ps(a, _mm256_loadu_ps(wp + 8), c1);
    }
    PW_STORE(c0, 0, 0);
    if (NB > 1) PW_STORE(c1, 0, 1);
}

// Rows [m0, m1) of one panel of 8*NB channels.
AVX2_INLINE void pw_panel(float *out, const float *inp, const float *wp, const float *bias, const float *res, int m0,
                          int m1, int Ci, int Co, int NB, int act) {
    int m = m0;
    for (; m + PW_MR <= m1; m += PW_MR) {
        float *o = out + (size_t)m * Co;
        const float *x = inp + (size_t)m * Ci, *rr = res ? res + (size_t)m * Co : NULL;
        if (NB == 2) pw_tile_6x16(o, x, wp, bias, rr, Ci, Co, act);
        else pw_tile_6x8(o, x, wp, bias, rr, Ci, Co, act);
    }
    for (; m < m1; m++)
        pw_tile_row(out + (size_t)m * Co, inp + (size_t)m * Ci, wp, bias, res ? res + (size_t)m * Co : NULL, Ci, Co, NB,
                    act);
}

static AVX2 void avx2_pw(float *out, const float *inp, const float *wp, const float *bias, const float *res, int M,
                         int Ci, int Co, int act) {
    if (Co % 8) {
        plan_kernels_generic.pw(out, inp, wp, bias, res, M, Ci, Co, act);
        return;
    }
    int MB = imax(PW_MR, (32 * 1024 / Ci) / PW_MR * PW_MR);  // 128 KiB of input rows
    for (int mb = 0; mb < M; mb += MB) {
        int me = imin(M, mb + MB);
        for (int c0 = 0; c0 < Co; c0 += 16) {
            const float *w = wp + (size_t)c0 * Ci;
            if (Co - c0 >= 16) pw_panel(out + c0, inp, w, bias + c0, res ? res + c0 : NULL, mb, me, Ci, Co, 2, act);
            else pw_panel(out + c0, inp, w, bias + c0, res ? res + c0 : NULL, mb, me, Ci, Co, 1, act);
        }
    }
}

const plan_kernels plan_kernels_avx2 = {"avx2", avx2_conv, avx2_dw, avx2_pw, avx2_pw_floats, avx2_pw_pack};
