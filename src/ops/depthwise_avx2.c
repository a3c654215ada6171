// Fast AVX2+FMA twins of the depthwise ops (gesture/ops.h) for 3x3 kernels, stride 1 or 2: the
// contract of the reference ops (src/ops/depthwise.c, the spec), not bit-identical to them.
// Forward: the inference plan's AVX2 depthwise kernel (plan_kernels_avx2.dw) with a zero bias and
// no activation. Backward, per output row and 8 channels at a time:
//  - dw: the 9 taps accumulate in registers along the whole row, then go into the thread's double
//    partial once (the reference adds every pixel's 9 products to a row buffer in memory);
//  - dinp: a gather instead of the reference's 9-fold scatter: each dinp pixel sums its valid taps
//    (a correlation of dout with the rotated kernel) in a register and is read and written once,
//    the 9 weight vectors in registers along the row. Stride 2 does the two dinp rows of an output
//    row together, so each dout vector they share is loaded once.
// Both passes of one output row touch the same few rows of dout and inp, so those come from cache.
// Threads take contiguous runs of the N*Ho output rows (whole images when N >= threads, row
// blocks of one image otherwise); each dinp row belongs to one output row, so threads write
// disjoint dinp rows, and the dw partials are summed in thread order: the result depends only on
// the thread count. Channel tails (C % 8) use masked loads and stores. Anything else (K != 3,
// stride > 2, very wide layers, a CPU without AVX2/FMA) runs the reference op.
// Measured (benchmarks/bench_train_kernels.c): the big layers are bound by memory, and walking a
// row 8 channels at a time gets less bandwidth than the reference's pixel-by-pixel walk, which
// is why stride 2 (one read of inp, dout, dinp each, little arithmetic) gains the least.
#include <immintrin.h>
#include <omp.h>
#include <stddef.h>
#include <string.h>

#include "plan_kernels.h"
#include "gesture/errors.h"
#include "gesture/ops.h"
#include "work.h"

#define AVX2 __attribute__((target("avx2,fma")))
#define AVX2_INLINE __attribute__((target("avx2,fma"), always_inline)) static inline

// The plan kernel adds a bias; ops allocate nothing, so the forward's zero bias is a static array
// and wider layers run the reference.
#define FAST_MAX_C 4096
static const float zero_bias[FAST_MAX_C];

static inline int imax(int a, int b) { return a > b ? a : b; }
static inline int imin(int a, int b) { return a < b ? a : b; }

// The one dispatch decision: does the fast path cover this shape on this CPU?
static int fast_covers(int C, int K, int stride) {
    if (K != 3 || stride < 1 || stride > 2 || C > FAST_MAX_C) return 0;
    return plan_kernels_tier() == &plan_kernels_avx2;  // AVX2+FMA, unless GESTURE_PLAN_KERNELS says lower
}

// The next run of one image's output rows [y0, y1) inside a thread's run [*r, r1) of the N*Ho
// rows (image-major); 0 when the run is done.
static int next_rows(int *n, int *y0, int *y1, long *r, long r1, int Ho) {
    if (*r >= r1) return 0;
    *n = (int)(*r / Ho), *y0 = (int)(*r % Ho);
    *y1 = (int)(r1 - *r < Ho - *y0 ? *y0 + (r1 - *r) : Ho);
    *r += *y1 - *y0;
    return 1;
}

void depthwise_forward_fast(float *out, const float *inp, const float *w, int N, int H, int W, int C,
                            int K, int stride, int pad_top, int pad_left, int Ho, int Wo) {
    if (!fast_covers(C, K, stride)) {
        depthwise_forward(out, inp, w, N, H, W, C, K, stride, pad_top, pad_left, Ho, Wo);
        return;
    }
    GS_ASSERT(N >= 0 && H > 0 && W > 0 && C > 0);
    GS_ASSERT(pad_top >= 0 && pad_left >= 0 && Ho > 0 && Wo > 0);
    plan_geom g = {H, W, C, Ho, Wo, C, K, stride, pad_top, pad_left};
    long rows = (long)N * Ho;
#pragma omp parallel
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads(), n, y0, y1;
        long r = rows * t / T, r1 = rows * (t + 1) / T;
        while (next_rows(&n, &y0, &y1, &r, r1, Ho))
            plan_kernels_avx2.dw(out + (size_t)n * Ho * Wo * C, inp + (size_t)n * H * W * C, w, zero_bias, &g, y0, y1,
                                 GS_ACT_NONE);
    }
}

// ---- backward ----

// 8 channels at cb, or the channel tail under mask m (`tail` is a constant at every call site).
AVX2_INLINE __m256 ld8(const float *p, __m256i m, int tail) {
    return tail ? _mm256_maskload_ps(p, m) : _mm256_loadu_ps(p);
}
AVX2_INLINE void st8(float *p, __m256 v, __m256i m, int tail) {
    if (tail) _mm256_maskstore_ps(p, m, v);
    else _mm256_storeu_ps(p, v);
}

// The lanes of channels [cb, C) of an 8-channel block.
AVX2_INLINE __m256i lanes_of(int C, int cb) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(C - cb), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// The row's float sums a[k] (k = tap) added to the thread's double partial p (K*K*C).
AVX2_INLINE void dw_flush(double *p, const __m256 a[9], size_t C, int cb, int tail) {
    for (int k = 0; k < 9; k++) {
        double *q = p + k * C + cb;
        if (tail) {
            float v[8];
            _mm256_storeu_ps(v, a[k]);
            for (int l = 0; l < (int)C - cb; l++) q[l] += v[l];
        } else {
            __m128 lo = _mm256_castps256_ps128(a[k]), hi = _mm256_extractf128_ps(a[k], 1);
            _mm256_storeu_pd(q, _mm256_add_pd(_mm256_loadu_pd(q), _mm256_cvtps_pd(lo)));
            _mm256_storeu_pd(q + 4, _mm256_add_pd(_mm256_loadu_pd(q + 4), _mm256_cvtps_pd(hi)));
        }
    }
}

// Tap row `row` of output pixel x: a0..a2 += inp(row, columns c, c+1, c+2) * gv, o = c*C + cb;
// columns outside [0, W) dropped when CLIP. Named accumulators, not an array: GCC keeps an array of
// them on the stack (a load and a store per FMA).
#define DW_TAPS(a0, a1, a2, row, CLIP)                                                                 \
    if (row) {                                                                                         \
        if (!(CLIP) || (c >= 0 && c < W)) a0 = _mm256_fmadd_ps(ld8((row) + o, m, tail), gv, a0);       \
        if (!(CLIP) || (c >= -1 && c + 1 < W)) a1 = _mm256_fmadd_ps(ld8((row) + o + C, m, tail), gv, a1); \
        if (!(CLIP) || (c >= -2 && c + 2 < W)) a2 = _mm256_fmadd_ps(ld8((row) + o + 2 * C, m, tail), gv, a2); \
    }
#define DW_PIXEL(CLIP)                                     \
    do {                                                   \
        __m256 gv = ld8(grow + x * C + cb, m, tail);       \
        ptrdiff_t c = s * x - pl, o = c * C + cb;          \
        DW_TAPS(a00, a01, a02, irows[0], CLIP)             \
        DW_TAPS(a10, a11, a12, irows[1], CLIP)             \
        DW_TAPS(a20, a21, a22, irows[2], CLIP)             \
    } while (0)

// dw over one output row, channels [cb, cb+8), the 9 taps summed in registers along the row: grow
// is the row of dout, irows[i] the input row under tap row i (NULL outside the image); output
// columns [xa, xb) have all three column taps inside the image.
AVX2_INLINE void dw_row_block(double *p, const float *grow, const float *const irows[3], const plan_geom *g, int xa,
                              int xb, int cb, int tail) {
    ptrdiff_t C = g->Co, s = g->stride, pl = g->pad_left, W = g->W, x = 0;
    __m256i m = lanes_of(g->Co, cb);
    __m256 z = _mm256_setzero_ps(), a00 = z, a01 = z, a02 = z, a10 = z, a11 = z, a12 = z, a20 = z, a21 = z, a22 = z;
    for (; x < xa; x++) DW_PIXEL(1);
    for (; x < xb; x++) DW_PIXEL(0);
    for (; x < g->Wo; x++) DW_PIXEL(1);
    __m256 a[9] = {a00, a01, a02, a10, a11, a12, a20, a21, a22};
    dw_flush(p, a, (size_t)C, cb, tail);
}

// dw partial p (K*K*C) += the taps of output row y of one image.
static AVX2 void dw_row(double *p, const float *dout_n, const float *inp_n, const plan_geom *g, int y, int xa,
                        int xb) {
    int C = g->Co;
    const float *irows[3];
    for (int i = 0; i < 3; i++) {
        int h = g->stride * y - g->pad_top + i;
        irows[i] = h >= 0 && h < g->H ? inp_n + (size_t)h * g->W * C : NULL;
    }
    const float *grow = dout_n + (size_t)y * g->Wo * C;
    int cb = 0;
    for (; cb + 8 <= C; cb += 8) dw_row_block(p, grow, irows, g, xa, xb, cb, 0);
    if (cb < C) dw_row_block(p, grow, irows, g, xa, xb, cb, 1);
}

// One dinp pixel d += its taps (i,j) whose output column (u-j)/S exists, u = w + pad_left; orows[i]
// is the dout row of tap row i (NULL: none). Border pixels only: the weights come from memory. S,
// the stride, is a constant at every call site (no division at run time).
AVX2_INLINE void dinp_px_clip(float *d, const float *const orows[3], const float *w, ptrdiff_t C, int Wo, int u,
                              int cb, __m256i m, int tail, int S) {
    __m256 acc = ld8(d, m, tail);
    for (int i = 0; i < 3; i++) {
        if (!orows[i]) continue;
        for (int j = 0; j < 3; j++) {
            int v = u - j;
            if (v < 0 || v % S || v / S >= Wo) continue;
            acc = _mm256_fmadd_ps(ld8(orows[i] + v / S * C + cb, m, tail), ld8(w + (i * 3 + j) * C + cb, m, tail),
                                  acc);
        }
    }
    st8(d, acc, m, tail);
}

// Stride 1, tap row `row` of a dinp pixel whose three column taps x = u, u-1, u-2 lie inside dout
// (o = (u-2)*C + cb): acc += g[u]*w0 + g[u-1]*w1 + g[u-2]*w2.
#define DINP_S1(row, w0, w1, w2)                                            \
    if (row) {                                                              \
        acc = _mm256_fmadd_ps(ld8((row) + o, m, tail), w2, acc);            \
        acc = _mm256_fmadd_ps(ld8((row) + o + C, m, tail), w1, acc);        \
        acc = _mm256_fmadd_ps(ld8((row) + o + 2 * C, m, tail), w0, acc);    \
    }

// One dinp row drow, channels [cb, cb+8). Stride 1: columns [ca, ce) with the 9 weight vectors in
// registers, the others per pixel with clipped taps. Stride 2 (a row without its pair: the first
// one when pad_top = 1): every pixel with clipped taps.
AVX2_INLINE void dinp_row_block(float *drow, const float *const orows[3], const float *w, const plan_geom *g, int ca,
                                int ce, int cb, int tail) {
    ptrdiff_t C = g->Co, pl = g->pad_left, x = 0;
    __m256i m = lanes_of(g->Co, cb);
    if (g->stride == 2) {
        for (; x < g->W; x++) dinp_px_clip(drow + x * C + cb, orows, w, C, g->Wo, (int)(x + pl), cb, m, tail, 2);
        return;
    }
    const float *wc = w + cb;
    __m256 w00 = ld8(wc, m, tail), w01 = ld8(wc + C, m, tail), w02 = ld8(wc + 2 * C, m, tail);
    __m256 w10 = ld8(wc + 3 * C, m, tail), w11 = ld8(wc + 4 * C, m, tail), w12 = ld8(wc + 5 * C, m, tail);
    __m256 w20 = ld8(wc + 6 * C, m, tail), w21 = ld8(wc + 7 * C, m, tail), w22 = ld8(wc + 8 * C, m, tail);
    for (; x < ca; x++) dinp_px_clip(drow + x * C + cb, orows, w, C, g->Wo, (int)(x + pl), cb, m, tail, 1);
    for (; x < ce; x++) {
        float *d = drow + x * C + cb;
        ptrdiff_t o = (x + pl - 2) * C + cb;
        __m256 acc = ld8(d, m, tail);
        DINP_S1(orows[0], w00, w01, w02)
        DINP_S1(orows[1], w10, w11, w12)
        DINP_S1(orows[2], w20, w21, w22)
        st8(d, acc, m, tail);
    }
    for (; x < g->W; x++) dinp_px_clip(drow + x * C + cb, orows, w, C, g->Wo, (int)(x + pl), cb, m, tail, 1);
}

// The dout rows of dinp row h's tap rows (NULL: none).
static void dinp_tap_rows(const float *orows[3], const float *dout_n, const plan_geom *g, int h) {
    int s = g->stride;
    for (int i = 0; i < 3; i++) {
        int v = h + g->pad_top - i;
        orows[i] = v >= 0 && v % s == 0 && v / s < g->Ho ? dout_n + (size_t)(v / s) * g->Wo * g->Co : NULL;
    }
}

// Stride 2, the two dinp rows of output row y, columns w (u = w + pad_left even) and w+1: row a
// (h + pad_top = 2y; tap rows 0 and 2 read dout rows y and y-1), row b (h+1; tap row 1 reads dout
// row y). Interior column pairs (x0 = u/2, dout columns x0-1 and x0 inside) load dout row y once
// for both rows:
//   a[w] += gy[x0]*w00 + gy[x0-1]*w02 + gp[x0]*w20 + gp[x0-1]*w22    a[w+1] += gy[x0]*w01 + gp[x0]*w21
//   b[w] += gy[x0]*w10 + gy[x0-1]*w12                                b[w+1] += gy[x0]*w11
AVX2_INLINE void dinp_pair_block(float *ra, float *rb, const float *const orows_a[3],
                                 const float *const orows_b[3], const float *w, const plan_geom *g, int ca, int ce,
                                 int cb, int tail) {
    ptrdiff_t C = g->Co, pl = g->pad_left, x = 0;
    const float *gy = orows_a[0], *gp = orows_a[2];
    __m256i m = lanes_of(g->Co, cb);
    const float *wc = w + cb;
    __m256 w00 = ld8(wc, m, tail), w01 = ld8(wc + C, m, tail), w02 = ld8(wc + 2 * C, m, tail);
    __m256 w10 = ld8(wc + 3 * C, m, tail), w11 = ld8(wc + 4 * C, m, tail), w12 = ld8(wc + 5 * C, m, tail);
    __m256 w20 = ld8(wc + 6 * C, m, tail), w21 = ld8(wc + 7 * C, m, tail), w22 = ld8(wc + 8 * C, m, tail);
    for (; x < g->W && (x < ca || x >= ce); x++) {
        dinp_px_clip(ra + x * C + cb, orows_a, w, C, g->Wo, (int)(x + pl), cb, m, tail, 2);
        dinp_px_clip(rb + x * C + cb, orows_b, w, C, g->Wo, (int)(x + pl), cb, m, tail, 2);
    }
    for (; x + 2 <= ce; x += 2) {
        ptrdiff_t d = x * C + cb, q = (x + pl) / 2 * C + cb;
        __m256 g1 = ld8(gy + q, m, tail), g0 = ld8(gy + q - C, m, tail);
        __m256 ea = ld8(ra + d, m, tail), oa = ld8(ra + d + C, m, tail);
        __m256 eb = ld8(rb + d, m, tail), ob = ld8(rb + d + C, m, tail);
        ea = _mm256_fmadd_ps(g1, w00, ea), ea = _mm256_fmadd_ps(g0, w02, ea), oa = _mm256_fmadd_ps(g1, w01, oa);
        eb = _mm256_fmadd_ps(g1, w10, eb), eb = _mm256_fmadd_ps(g0, w12, eb), ob = _mm256_fmadd_ps(g1, w11, ob);
        if (gp) {
            g1 = ld8(gp + q, m, tail), g0 = ld8(gp + q - C, m, tail);
            ea = _mm256_fmadd_ps(g1, w20, ea), ea = _mm256_fmadd_ps(g0, w22, ea), oa = _mm256_fmadd_ps(g1, w21, oa);
        }
        st8(ra + d, ea, m, tail), st8(ra + d + C, oa, m, tail);
        st8(rb + d, eb, m, tail), st8(rb + d + C, ob, m, tail);
    }
    for (; x < g->W; x++) {
        dinp_px_clip(ra + x * C + cb, orows_a, w, C, g->Wo, (int)(x + pl), cb, m, tail, 2);
        dinp_px_clip(rb + x * C + cb, orows_b, w, C, g->Wo, (int)(x + pl), cb, m, tail, 2);
    }
}

// The dinp rows [h0, h1) of output row y += their gradient (every tap that reads them).
static AVX2 void dinp_rows(float *dinp_n, const float *dout_n, const float *w, const plan_geom *g, int y, int h0,
                           int h1, int ca, int ce) {
    int C = g->Co;
    const float *orows[3], *orows_b[3];
    for (int h = h0; h < h1; h++) {
        float *drow = dinp_n + (size_t)h * g->W * C;
        dinp_tap_rows(orows, dout_n, g, h);
        if (g->stride == 2 && h + 1 < h1 && h + g->pad_top == 2 * y) {  // the pair of rows of y
            dinp_tap_rows(orows_b, dout_n, g, h + 1);
            float *drow_b = drow + (size_t)g->W * C;
            int cb = 0;
            for (; cb + 8 <= C; cb += 8) dinp_pair_block(drow, drow_b, orows, orows_b, w, g, ca, ce, cb, 0);
            if (cb < C) dinp_pair_block(drow, drow_b, orows, orows_b, w, g, ca, ce, cb, 1);
            h++;
            continue;
        }
        int cb = 0;
        for (; cb + 8 <= C; cb += 8) dinp_row_block(drow, orows, w, g, ca, ce, cb, 0);
        if (cb < C) dinp_row_block(drow, orows, w, g, ca, ce, cb, 1);
    }
}

// Column ranges of the fast forms. dw: output columns [*xa, *xb) whose three input columns lie in
// [0, W). dinp: input columns [*ca, *ce) whose column taps all land inside dout (stride 2: whole
// pairs starting at an even w + pad_left).
static void fast_columns(int *xa, int *xb, int *ca, int *ce, const plan_geom *g) {
    int s = g->stride, pl = g->pad_left, W = g->W, Wo = g->Wo;
    *xa = imin(Wo, (pl + s - 1) / s);
    int last = W - 3 + pl;  // the largest s*x with s*x - pl + 2 <= W - 1
    *xb = last < 0 ? *xa : imax(*xa, imin(Wo, last / s + 1));
    if (s == 1) {  // x = w + pl - j in [0, Wo) for j = 0..2
        *ca = imin(W, imax(0, 2 - pl));
        *ce = imax(*ca, imin(W, Wo - pl));
        return;
    }
    // pair x0 = (w + pl) / 2: taps at x0 - 1 and x0 in [0, Wo), columns w, w+1 in [0, W)
    int x0a = imax(1, (pl + 1) / 2), x0b = imin(Wo, (W - 2 + pl) / 2 + 1);
    if (W - 2 + pl < 0 || x0b <= x0a) x0a = x0b = (pl + 1) / 2;
    *ca = 2 * x0a - pl, *ce = 2 * x0b - pl;
}

// dinp rows [*h0, *h1) that belong to output row y: those whose last dout row is y (the last
// output row also takes the rows below it), so the output rows partition the dinp rows.
static void dinp_rows_of(int *h0, int *h1, const plan_geom *g, int y) {
    int s = g->stride;
    *h0 = imin(g->H, imax(0, s * y - g->pad_top));
    *h1 = y == g->Ho - 1 ? g->H : imin(g->H, imax(0, s * y - g->pad_top + s));
}

void depthwise_backward_fast(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                             float *work, int N, int H, int W, int C, int K, int stride, int pad_top, int pad_left,
                             int Ho, int Wo, int dinp_write) {
    if (!fast_covers(C, K, stride)) {
        if (dinp && dinp_write) memset(dinp, 0, (size_t)N * H * W * C * sizeof(float));
        depthwise_backward(dinp, dw, dout, inp, w, work, N, H, W, C, K, stride, pad_top, pad_left, Ho, Wo);
        return;
    }
    GS_ASSERT(N >= 0 && H > 0 && W > 0 && C > 0 && work);
    GS_ASSERT(pad_top >= 0 && pad_left >= 0 && Ho > 0 && Wo > 0);
    if (!dinp && !dw) return;
    size_t nw = (size_t)9 * C;
    long rows = (long)N * Ho;
    int nt = omp_get_max_threads();
    if (nt > rows) nt = rows > 0 ? (int)rows : 1;
    // per-thread dw partials in double: the first piece of the reference's scratch layout
    work_plan wp = {work, 0};
    double *part = work_piece(&wp, (size_t)omp_get_max_threads() * nw * sizeof(double));
    GS_ASSERT(wp.used <= depthwise_work_floats(C, K));
    if (dw) memset(part, 0, (size_t)nt * nw * sizeof(double));
    plan_geom g = {H, W, C, Ho, Wo, C, K, stride, pad_top, pad_left};
    int xa, xb, ca, ce;
    fast_columns(&xa, &xb, &ca, &ce, &g);
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads(), n, y0, y1;
        long r = rows * t / T, r1 = rows * (t + 1) / T;
        while (next_rows(&n, &y0, &y1, &r, r1, Ho)) {
            const float *dout_n = dout + (size_t)n * Ho * Wo * C, *inp_n = inp + (size_t)n * H * W * C;
            for (int y = y0; y < y1; y++) {
                if (dw) dw_row(part + (size_t)t * nw, dout_n, inp_n, &g, y, xa, xb);
                if (!dinp) continue;
                int h0, h1;
                dinp_rows_of(&h0, &h1, &g, y);
                // a fresh dinp is cleared row by row as it is reached, in cache, not in a pass of its own
                if (dinp_write && h1 > h0)
                    memset(dinp + ((size_t)n * H + h0) * W * C, 0, (size_t)(h1 - h0) * W * C * sizeof(float));
                dinp_rows(dinp + (size_t)n * H * W * C, dout_n, w, &g, y, h0, h1, ca, ce);
            }
        }
    }
    if (dw) {
        for (size_t k = 0; k < nw; k++) {
            double sum = 0;
            for (int t = 0; t < nt; t++) sum += part[(size_t)t * nw + k];
            dw[k] += (float)sum;
        }
    }
}
