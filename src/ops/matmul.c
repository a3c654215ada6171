// Dense products through OpenBLAS sgemm: 1x1 convolutions (M = N*H*W rows, up to 752,640),
// dense layers and GRU input projections. Threads come from OpenMP only: large products are
// split over row blocks, one single-threaded sgemm per OpenMP thread. OpenBLAS's own pthread
// pool would otherwise spin beside the OpenMP team on the same cores (measured on the 2-core
// box: ops that follow a threaded sgemm ran up to 20x slower). Weight and bias gradients
// (reductions over M) sum per-thread partials in thread order: deterministic for a given
// thread count.
#include <cblas.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"
#include "gesture/ops.h"
#include "rows.h"
#include "work.h"

// Below this many multiply-adds (or rows per thread) one sgemm call on the calling thread wins.
#define SPLIT_MIN_MACS (1 << 20)
#define SPLIT_MIN_ROWS 64

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static void blas_single_thread(void) { openblas_set_num_threads(1); }

static int split_threads(int M, int K, int Nout) {
    pthread_once(&blas_once, blas_single_thread);
    if ((double)M * K * Nout < SPLIT_MIN_MACS) return 1;
    int nt = omp_get_max_threads();
    if (nt > M / SPLIT_MIN_ROWS) nt = M / SPLIT_MIN_ROWS;
    return nt < 1 ? 1 : nt;
}

void matmul_forward(float *out, const float *inp, const float *w, const float *bias, int M, int K,
                    int Nout) {
    GS_ASSERT(M >= 0 && K >= 0 && Nout > 0);
    if (M == 0) return;
    int nt = split_threads(M, K, Nout);
#pragma omp parallel num_threads(nt)
    {
        int m0, m1;
        rows_of(&m0, &m1, M);
        float *o = out + (size_t)m0 * Nout;
        float beta = 0.0f;
        if (bias) {  // seed the rows with the bias and let sgemm add the product: one pass
            for (int m = m0; m < m1; m++) memcpy(out + (size_t)m * Nout, bias, Nout * sizeof(float));
            beta = 1.0f;
        }
        if (K == 0 && !bias) memset(o, 0, (size_t)(m1 - m0) * Nout * sizeof(float));
        if (K > 0 && m1 > m0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m1 - m0, Nout, K, 1.0f,
                        inp + (size_t)m0 * K, K, w, Nout, beta, o, Nout);
    }
}

// Per-thread partials: dw (K,Nout) in float from sgemm, dbias (Nout) in double with a float block
// accumulator (Nout).
typedef struct {
    float *pw, *blk;
    double *pb;
} mm_work;

static mm_work mm_layout(work_plan *w, int K, int Nout) {
    size_t nt = (size_t)omp_get_max_threads();
    mm_work m;
    m.pw = work_piece(w, nt * K * Nout * sizeof(float));
    m.pb = work_piece(w, nt * Nout * sizeof(double));
    m.blk = work_piece(w, nt * Nout * sizeof(float));
    return m;
}

size_t matmul_work_floats(int K, int Nout) {
    work_plan w = {0};
    mm_layout(&w, K, Nout);
    return w.used;
}

void matmul_backward(float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                     const float *w, float *work, int M, int K, int Nout) {
    GS_ASSERT(M >= 0 && K >= 0 && Nout > 0 && work);
    if (M == 0) return;
    int nt = split_threads(M, K, Nout);
    size_t nw = (size_t)K * Nout;
    work_plan wp = {work, 0};
    mm_work mw = mm_layout(&wp, K, Nout);
    float *pw = dw && K > 0 ? mw.pw : NULL;
    double *pb = dbias ? mw.pb : NULL;
    float *blk = dbias ? mw.blk : NULL;
    if (pb) memset(pb, 0, (size_t)nt * Nout * sizeof(double));
#pragma omp parallel num_threads(nt)
    {
        int m0, m1, t = omp_get_thread_num();
        rows_of(&m0, &m1, M);
        int rows = m1 - m0;
        const float *g = dout + (size_t)m0 * Nout;
        if (dinp && K > 0 && rows > 0)  // dinp += dout @ w^T
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, K, Nout, 1.0f, g, Nout, w,
                        Nout, 1.0f, dinp + (size_t)m0 * K, K);
        if (pw) {  // partial dw = inp^T @ dout over this thread's rows
            float *p = pw + (size_t)t * nw;
            if (rows > 0)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, Nout, rows, 1.0f,
                            inp + (size_t)m0 * K, K, g, Nout, 0.0f, p, Nout);
            else
                memset(p, 0, nw * sizeof(float));
        }
        if (pb) {  // column sums: float over blocks of 64 rows, double across blocks
            double *p = pb + (size_t)t * Nout;
            float *b = blk + (size_t)t * Nout;
            for (int mb = m0; mb < m1; mb += 64) {
                int me = mb + 64 < m1 ? mb + 64 : m1;
                memset(b, 0, Nout * sizeof(float));
                for (int m = mb; m < me; m++) {
                    const float *row = dout + (size_t)m * Nout;
                    for (int j = 0; j < Nout; j++) b[j] += row[j];
                }
                for (int j = 0; j < Nout; j++) p[j] += b[j];
            }
        }
    }
    if (pw) {
        for (size_t k = 0; k < nw; k++) {
            float s = 0.0f;
            for (int t = 0; t < nt; t++) s += pw[(size_t)t * nw + k];
            dw[k] += s;
        }
    }
    if (pb) {
        for (int j = 0; j < Nout; j++) {
            double s = 0;
            for (int t = 0; t < nt; t++) s += pb[(size_t)t * Nout + j];
            dbias[j] += (float)s;
        }
    }
}
