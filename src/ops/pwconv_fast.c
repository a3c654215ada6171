// The fast twins of the 1x1 convolution's training passes (matmul_forward/backward without a bias,
// gesture/ops.h): the forward product and dinp = dout @ w^T run on the inference plan's AVX2 GEMM
// (src/ops/plan_kernels_avx2.c: register tiles, weights packed per call, which costs Ci*Co floats
// against M*Ci*Co multiply-adds), dw = inp^T @ dout on its own AVX2 kernel below. OpenBLAS's sgemm
// on these tall, thin products reached 11.5 GMAC/s per thread on the seed model against 17.6 for
// the plan's kernel (benchmarks/bench_plan). Rows are split statically over OpenMP threads; dw sums
// per-thread partials in thread order, so results are deterministic for a given thread count.
// Channel counts not multiples of 8, a CPU below the AVX2 tier, or weights past the sizes measured
// below (per pass) run the reference op.
#include <immintrin.h>
#include <omp.h>
#include <string.h>

#include "plan_kernels.h"
#include "gesture/errors.h"
#include "gesture/ops.h"
#include "rows.h"
#include "work.h"

#define AVX2_INLINE __attribute__((target("avx2,fma"), always_inline)) static inline

// Which pass runs on the fast kernels, by the weights' size: the register-tiled kernels keep all of
// w (or w^T) per block of rows in cache, and where that stops fitting, OpenBLAS's blocked sgemm wins.
// Measured (benchmarks/bench_train_kernels), one thread, GMAC/s reference / fast, M = 4 frames' pixels:
//   Ci x Co      fwd         dinp        dw
//   16 x 96      6.7 / 14.2  9.2 / 11.4  5.2 / 9.9
//   192 x 32     13.2 / 16.4 13.6 / 16.3 8.6 / 14.2
//   384 x 64     16.0 / 18.5 16.0 / 14.2 15.3 / 15.4
//   576 x 96     16.3 / 18.3 17.4 / 14.5 16.9 / 15.6
//   320 x 1280   17.4 / 15.9 17.3 / 15.2 16.0 / 13.5
enum { PASS_FWD, PASS_DINP, PASS_DW };
static const size_t FAST_MAX_WEIGHTS[] = {256 * 1024, 12 * 1024, 32 * 1024};  // floats, by pass

static int covered(int Ci, int Co, int pass) {
    return plan_kernels_tier() == &plan_kernels_avx2 && Ci % 8 == 0 && Co % 8 == 0 &&
           (size_t)Ci * Co <= FAST_MAX_WEIGHTS[pass];
}

// Below this many rows per thread the team costs more than it saves.
static int team(int M) {
    int nt = omp_get_max_threads();
    if (nt > M / 64) nt = M / 64;
    return nt < 1 ? 1 : nt;
}

// Scratch: packed weights (as w or w^T), w^T itself, a zero bias, per-thread dw partials.
typedef struct {
    float *packed, *wt, *zeros, *part;
} pw_work;

static pw_work pw_layout(work_plan *w, int Ci, int Co) {
    size_t nt = (size_t)omp_get_max_threads(), n = (size_t)Ci * Co;
    pw_work p;
    p.packed = work_piece(w, n * sizeof(float));
    p.wt = work_piece(w, n * sizeof(float));
    p.zeros = work_piece(w, (size_t)(Ci > Co ? Ci : Co) * sizeof(float));
    p.part = work_piece(w, nt * n * sizeof(float));
    return p;
}

size_t pwconv_fast_work_floats(int Ci, int Co) {
    work_plan w = {0};
    pw_layout(&w, Ci, Co);
    size_t ref = matmul_work_floats(Ci, Co);  // what the reference op needs where it runs instead
    return w.used > ref ? w.used : ref;
}

void pwconv_forward_fast(float *out, const float *inp, const float *w, float *work, int M, int Ci, int Co) {
    GS_ASSERT(M >= 0 && Ci > 0 && Co > 0 && work);
    if (!covered(Ci, Co, PASS_FWD)) {
        matmul_forward(out, inp, w, NULL, M, Ci, Co);
        return;
    }
    work_plan wp = {work, 0};
    pw_work pw = pw_layout(&wp, Ci, Co);
    plan_kernels_avx2.pw_pack(pw.packed, w, Ci, Co);
    memset(pw.zeros, 0, (size_t)Co * sizeof(float));
#pragma omp parallel num_threads(team(M))
    {
        int m0, m1;
        rows_of(&m0, &m1, M);
        if (m1 > m0)
            plan_kernels_avx2.pw(out + (size_t)m0 * Co, inp + (size_t)m0 * Ci, pw.packed, pw.zeros, NULL, m1 - m0, Ci, Co,
                     GS_ACT_NONE);
    }
}

// ---- dw (Ci,Co) += inp^T @ dout: a 6x16 tile of dw in 12 registers, summed over a block of rows ----
// Per row m: 6 broadcasts of inp[m][i..i+5] and 2 vectors of dout[m][j..j+15]. Tiles of 2 rows
// finish Ci % 6 (Ci is a multiple of 8, so that rest is 0, 2 or 4); a last panel of 8 columns
// takes Co % 16 == 8.

#define FMA(c, a, b) c = _mm256_fmadd_ps(a, b, c)
#define ACC_ADD(p, c) _mm256_storeu_ps(p, _mm256_add_ps(_mm256_loadu_ps(p), c))

AVX2_INLINE void dw_tile_6x16(float *dw, const float *x, const float *g, int rows, int Ci, int Co) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00,
           c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int m = 0; m < rows; m++, x += Ci, g += Co) {
        __m256 g0 = _mm256_loadu_ps(g), g1 = _mm256_loadu_ps(g + 8), a;
        a = _mm256_broadcast_ss(x), FMA(c00, a, g0), FMA(c01, a, g1);
        a = _mm256_broadcast_ss(x + 1), FMA(c10, a, g0), FMA(c11, a, g1);
        a = _mm256_broadcast_ss(x + 2), FMA(c20, a, g0), FMA(c21, a, g1);
        a = _mm256_broadcast_ss(x + 3), FMA(c30, a, g0), FMA(c31, a, g1);
        a = _mm256_broadcast_ss(x + 4), FMA(c40, a, g0), FMA(c41, a, g1);
        a = _mm256_broadcast_ss(x + 5), FMA(c50, a, g0), FMA(c51, a, g1);
    }
    ACC_ADD(dw, c00), ACC_ADD(dw + 8, c01), dw += Co;
    ACC_ADD(dw, c10), ACC_ADD(dw + 8, c11), dw += Co;
    ACC_ADD(dw, c20), ACC_ADD(dw + 8, c21), dw += Co;
    ACC_ADD(dw, c30), ACC_ADD(dw + 8, c31), dw += Co;
    ACC_ADD(dw, c40), ACC_ADD(dw + 8, c41), dw += Co;
    ACC_ADD(dw, c50), ACC_ADD(dw + 8, c51);
}

AVX2_INLINE void dw_tile_6x8(float *dw, const float *x, const float *g, int rows, int Ci, int Co) {
    __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
    for (int m = 0; m < rows; m++, x += Ci, g += Co) {
        __m256 g0 = _mm256_loadu_ps(g);
        FMA(c0, _mm256_broadcast_ss(x), g0), FMA(c1, _mm256_broadcast_ss(x + 1), g0);
        FMA(c2, _mm256_broadcast_ss(x + 2), g0), FMA(c3, _mm256_broadcast_ss(x + 3), g0);
        FMA(c4, _mm256_broadcast_ss(x + 4), g0), FMA(c5, _mm256_broadcast_ss(x + 5), g0);
    }
    ACC_ADD(dw, c0), ACC_ADD(dw + Co, c1), ACC_ADD(dw + 2 * Co, c2);
    ACC_ADD(dw + 3 * Co, c3), ACC_ADD(dw + 4 * Co, c4), ACC_ADD(dw + 5 * Co, c5);
}

// 2 rows of dw, 8*NB columns.
AVX2_INLINE void dw_tile_2(float *dw, const float *x, const float *g, int rows, int Ci, int Co, int NB) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00;
    for (int m = 0; m < rows; m++, x += Ci, g += Co) {
        __m256 g0 = _mm256_loadu_ps(g), a0 = _mm256_broadcast_ss(x), a1 = _mm256_broadcast_ss(x + 1);
        FMA(c00, a0, g0), FMA(c10, a1, g0);
        if (NB > 1) {
            __m256 g1 = _mm256_loadu_ps(g + 8);
            FMA(c01, a0, g1), FMA(c11, a1, g1);
        }
    }
    ACC_ADD(dw, c00), ACC_ADD(dw + Co, c10);
    if (NB > 1) ACC_ADD(dw + 8, c01), ACC_ADD(dw + Co + 8, c11);
}

// dw += x^T @ g over `rows` rows, x (rows,Ci), g (rows,Co): every tile once.
__attribute__((target("avx2,fma"))) static void dw_block(float *dw, const float *x, const float *g, int rows, int Ci,
                                                          int Co) {
    for (int j = 0; j < Co; j += 16) {
        int nb = Co - j >= 16 ? 2 : 1;
        int i = 0;
        for (; i + 6 <= Ci; i += 6) {
            if (nb == 2) dw_tile_6x16(dw + (size_t)i * Co + j, x + i, g + j, rows, Ci, Co);
            else dw_tile_6x8(dw + (size_t)i * Co + j, x + i, g + j, rows, Ci, Co);
        }
        for (; i < Ci; i += 2) {
            if (nb == 2) dw_tile_2(dw + (size_t)i * Co + j, x + i, g + j, rows, Ci, Co, 2);
            else dw_tile_2(dw + (size_t)i * Co + j, x + i, g + j, rows, Ci, Co, 1);
        }
    }
}

// Rows per block: its inputs and gradients (rows x (Ci+Co) floats) stay in L2 while every tile of dw
// passes over them.
static int dw_block_rows(int Ci, int Co) {
    int r = (48 * 1024) / (Ci + Co);
    return r < 16 ? 16 : r;
}

void pwconv_backward_fast(float *dinp, float *dw, const float *dout, const float *inp, const float *w, float *work,
                          int M, int Ci, int Co, int dinp_write) {
    GS_ASSERT(M >= 0 && Ci > 0 && Co > 0 && work);
    if (M == 0 || (!dinp && !dw)) return;
    // each pass on its own kernel: the reference for the one the fast kernels do not win
    int fast_dinp = dinp && covered(Ci, Co, PASS_DINP), fast_dw = dw && covered(Ci, Co, PASS_DW);
    if (!fast_dinp || !fast_dw) {
        if (dinp && !fast_dinp && dinp_write) memset(dinp, 0, (size_t)M * Ci * sizeof(float));
        matmul_backward(fast_dinp ? NULL : dinp, fast_dw ? NULL : dw, NULL, dout, inp, w, work, M, Ci, Co);
        if (!fast_dinp) dinp = NULL;
        if (!fast_dw) dw = NULL;
        if (!dinp && !dw) return;
    }
    work_plan wp = {work, 0};
    pw_work pw = pw_layout(&wp, Ci, Co);
    size_t nw = (size_t)Ci * Co;
    if (dinp) {  // dinp (M,Ci) += dout (M,Co) @ w^T: the forward GEMM on w^T (Co,Ci), dinp as its residual
                 // (none when dinp_write: the GEMM's store is the write)
        for (int i = 0; i < Ci; i++)
            for (int j = 0; j < Co; j++) pw.wt[(size_t)j * Ci + i] = w[(size_t)i * Co + j];
        plan_kernels_avx2.pw_pack(pw.packed, pw.wt, Co, Ci);
        memset(pw.zeros, 0, (size_t)Ci * sizeof(float));
    }
    int nt = team(M);
    if (dw) memset(pw.part, 0, (size_t)nt * nw * sizeof(float));
#pragma omp parallel num_threads(nt)
    {
        int m0, m1;
        rows_of(&m0, &m1, M);
        float *p = dw ? pw.part + (size_t)omp_get_thread_num() * nw : NULL;
        int R = dw_block_rows(Ci, Co);
        // both passes block by block: dout's rows are read from memory once, for dinp, and are still
        // in cache when dw reads them
        for (int mb = m0; mb < m1; mb += R) {
            int rows = m1 - mb < R ? m1 - mb : R;
            const float *g = dout + (size_t)mb * Co;
            if (dinp) {
                float *d = dinp + (size_t)mb * Ci;
                plan_kernels_avx2.pw(d, g, pw.packed, pw.zeros, dinp_write ? NULL : d, rows, Co, Ci, GS_ACT_NONE);
            }
            if (p) dw_block(p, inp + (size_t)mb * Ci, g, rows, Ci, Co);
        }
    }
    if (dw) {
        for (size_t k = 0; k < nw; k++) {
            float s = 0.0f;
            for (int t = 0; t < nt; t++) s += pw.part[(size_t)t * nw + k];
            dw[k] += s;
        }
    }
}
