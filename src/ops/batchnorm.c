// Batch normalization over the last axis of an (M,C) tensor with an optional fused activation,
// Keras semantics: biased batch variance, moving = moving*momentum + batch*(1-momentum).
// M reaches 752,640 rows (60 images at 112x112), so statistics are summed in float over blocks
// of 64 rows, then in double per thread; thread partials are reduced in thread order
// (deterministic for a given thread count). Sums are taken relative to the first row (a pivot)
// so E[d^2]-E[d]^2 does not cancel when |mean| >> std. Loops are specialized per activation
// (the `act` argument is a compile-time constant after inlining) and vectorize over C.
// The *_sync variants (data-parallel training with sync_bn) take the same local sums, convert them to
// sums about a shift every rank shares, and have a gs_reducer add them up over the ranks; the
// reference ops above them are untouched.
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/bn_stats.h"
#include "gesture/errors.h"
#include "gesture/ops.h"
#include "rows.h"
#include "work.h"

#define ROW_BLOCK 64

static inline float act_apply(float y, int act) {
    // Ternaries, not fminf/fmaxf: those have IEEE NaN rules that stop gcc from vectorizing.
    if (act == GS_ACT_RELU6) {
        y = y < 0.0f ? 0.0f : y;
        return y > 6.0f ? 6.0f : y;
    }
    if (act == GS_ACT_RELU) return y < 0.0f ? 0.0f : y;
    return y;
}

// Upstream gradient masked by the activation, decided from the forward output.
static inline float act_mask(float g, float o, int act) {
    if (act == GS_ACT_RELU6) return ((o > 0.0f) & (o < 6.0f)) ? g : 0.0f;
    if (act == GS_ACT_RELU) return o > 0.0f ? g : 0.0f;
    return g;
}

static int pick_threads(int M, int C) {
    return (size_t)M * C < (1u << 15) ? 1 : omp_get_max_threads();
}

// Offset (floats) of row m of an operand: segments of L->seg rows, L->pitch rows apart (NULL:
// contiguous rows). model.bn_time = keras3 normalizes one time step's frames of every clip in place.
static inline size_t row_off(const bn_rows *L, int m, int C) {
    size_t r = L ? (size_t)(m / L->seg) * (size_t)L->pitch + (size_t)(m % L->seg) : (size_t)m;
    return r * (size_t)C;
}

// out[m,c] = act((x - sub[c]) * scale[c] + add[c]); out may alias inp (in-place inference).
static inline void affine_rows(float *out, const float *inp, const bn_rows *L,
                               const float *restrict sub, const float *restrict scale,
                               const float *restrict add, int m0, int m1, int C, int act) {
    for (int m = m0; m < m1; m++) {
        const float *x = inp + row_off(L, m, C);
        float *o = out + row_off(L, m, C);
        for (int c = 0; c < C; c++) o[c] = act_apply((x[c] - sub[c]) * scale[c] + add[c], act);
    }
}

static void affine_act(float *out, const float *inp, const bn_rows *L, const float *sub, const float *scale,
                       const float *add, int M, int C, int act) {
    GS_ASSERT(act == GS_ACT_NONE || act == GS_ACT_RELU6 || act == GS_ACT_RELU);
#pragma omp parallel num_threads(pick_threads(M, C))
    {
        int m0, m1;
        rows_of(&m0, &m1, M);
        if (act == GS_ACT_RELU6) affine_rows(out, inp, L, sub, scale, add, m0, m1, C, GS_ACT_RELU6);
        else if (act == GS_ACT_RELU) affine_rows(out, inp, L, sub, scale, add, m0, m1, C, GS_ACT_RELU);
        else affine_rows(out, inp, L, sub, scale, add, m0, m1, C, GS_ACT_NONE);
    }
}

// Per-thread partial sums (2C doubles: statistics of x, or of dy and dy*xhat) and their float
// row-block accumulators (2C floats), then 3C floats of per-channel coefficients, then 2C+1 doubles
// the *_sync ops hand to the reducer.
typedef struct {
    double *part;
    float *blk, *coef;
    double *red;
} bn_work;

static bn_work bn_layout(work_plan *w, int C) {
    size_t nt = (size_t)omp_get_max_threads(), c2 = 2 * (size_t)C;
    bn_work b;
    b.part = work_piece(w, nt * c2 * sizeof(double));
    b.blk = work_piece(w, nt * c2 * sizeof(float));
    b.coef = work_piece(w, 3 * (size_t)C * sizeof(float));
    b.red = work_piece(w, (c2 + 1) * sizeof(double));
    return b;
}

size_t batchnorm_work_floats(int C) {
    work_plan w = {0};
    bn_layout(&w, C);
    return w.used;
}

// Sums of d = x - pivot and d^2 over the M rows, per channel: s[c], q[c] (thread partials added in
// thread order).
static void forward_sums(double *s, double *q, const bn_work *bw, const float *inp, const bn_rows *L,
                         const float *pivot, int M,
                         int C, int nt) {
    double *part = bw->part;
    float *blk = bw->blk;
    memset(part, 0, (size_t)nt * 2 * C * sizeof(double));
#pragma omp parallel num_threads(nt)
    {
        int m0, m1;
        rows_of(&m0, &m1, M);
        int t = omp_get_thread_num();
        double *ps = part + (size_t)t * 2 * C, *pq = ps + C;
        float *restrict bs = blk + (size_t)t * 2 * C, *restrict bq = bs + C;
        for (int mb = m0; mb < m1; mb += ROW_BLOCK) {
            int me = mb + ROW_BLOCK < m1 ? mb + ROW_BLOCK : m1;
            memset(bs, 0, 2 * (size_t)C * sizeof(float));
            for (int m = mb; m < me; m++) {
                const float *restrict x = inp + row_off(L, m, C);
                for (int c = 0; c < C; c++) {
                    float d = x[c] - pivot[c];
                    bs[c] += d;
                    bq[c] += d * d;
                }
            }
            for (int c = 0; c < C; c++) {
                ps[c] += bs[c];
                pq[c] += bq[c];
            }
        }
    }
    for (int c = 0; c < C; c++) {
        s[c] = q[c] = 0;
        for (int t = 0; t < nt; t++) {
            s[c] += part[(size_t)t * 2 * C + c];
            q[c] += part[(size_t)t * 2 * C + C + c];
        }
    }
}

void batchnorm_forward_train_rows(float *out, float *mean, float *invstd, float *moving_mean,
                             float *moving_var, const float *inp, const float *gamma,
                             const float *beta, float *work, int M, int C, float eps, float momentum,
                             int act, const bn_rows *L) {
    GS_ASSERT(M > 0 && C > 0 && work);
    int nt = pick_threads(M, C);
    work_plan wp = {work, 0};
    bn_work bw = bn_layout(&wp, C);
    const float *pivot = inp;  // row 0
    double *sum = bw.red, *sq = bw.red + C;
    forward_sums(sum, sq, &bw, inp, L, pivot, M, C, nt);
    float *scale = bw.coef;
    for (int c = 0; c < C; c++)
        bn_channel_stats(&mean[c], &invstd[c], &scale[c], &moving_mean[c], &moving_var[c], sum[c], sq[c],
                         (double)pivot[c], M, gamma[c], eps, momentum);
    affine_act(out, inp, L, mean, scale, beta, M, C, act);
}

// Data-parallel (sync_bn): this rank's sums about its row 0 become sums about the moving mean, which
// every rank holds the same (sync_bn keeps the moving statistics equal on every rank: they are
// updated from the reduced statistics), so E[d^2] - E[d]^2 does not cancel once the moving mean has
// found the data; M = 0 (a rank without clips in this step) adds nothing but takes part in the sum.
void batchnorm_forward_train_sync_rows(float *out, float *mean, float *invstd, float *moving_mean, float *moving_var,
                                  const float *inp, const float *gamma, const float *beta, float *work, int M, int C,
                                  float eps, float momentum, int act, const gs_reducer *r,
                                       const bn_rows *L) {
    GS_ASSERT(M >= 0 && C > 0 && work && r && r->sum);
    int nt = M > 0 ? pick_threads(M, C) : 1;
    work_plan wp = {work, 0};
    bn_work bw = bn_layout(&wp, C);
    double *red = bw.red;  // [0,C) sum of x - shift, [C,2C) sum of (x - shift)^2, [2C] rows
    if (M > 0) {
        forward_sums(red, red + C, &bw, inp, L, inp, M, C, nt);
        for (int c = 0; c < C; c++) {
            double s = red[c], q = red[C + c], e = (double)inp[c] - (double)moving_mean[c];  // pivot - shift
            red[c] = s + M * e;
            red[C + c] = q + 2 * e * s + M * e * e;
        }
    } else {
        memset(red, 0, 2 * (size_t)C * sizeof(double));
    }
    red[2 * C] = M;
    r->sum(r->ctx, red, 2 * (size_t)C + 1);
    double Mg = red[2 * C];
    GS_ASSERT(Mg > 0);
    float *scale = bw.coef;
    for (int c = 0; c < C; c++)  // the shift is the moving mean, read before its update
        bn_channel_stats(&mean[c], &invstd[c], &scale[c], &moving_mean[c], &moving_var[c], red[c], red[C + c],
                         (double)moving_mean[c], Mg, gamma[c], eps, momentum);
    if (M > 0) affine_act(out, inp, L, mean, scale, beta, M, C, act);
}

void batchnorm_forward_infer(float *out, const float *inp, const float *gamma, const float *beta,
                             const float *moving_mean, const float *moving_var, float *work, int M,
                             int C, float eps, int act) {
    GS_ASSERT(M >= 0 && C > 0 && work);
    work_plan wp = {work, 0};
    float *scale = bn_layout(&wp, C).coef;
    for (int c = 0; c < C; c++) scale[c] = (float)(gamma[c] / sqrt((double)moving_var[c] + eps));
    affine_act(out, inp, NULL, moving_mean, scale, beta, M, C, act);
}

// Per-thread sums of dy and dy*(x-mean) over its rows (dy = masked dout).
static inline void bwd_reduce_rows(double *ps, double *pxs, float *restrict bs, const bn_rows *L,
                                   float *restrict bx, const float *dout, const float *out,
                                   const float *inp, const float *restrict mean, int m0, int m1,
                                   int C, int act) {
    for (int mb = m0; mb < m1; mb += ROW_BLOCK) {
        int me = mb + ROW_BLOCK < m1 ? mb + ROW_BLOCK : m1;
        memset(bs, 0, (size_t)C * sizeof(float));
        memset(bx, 0, (size_t)C * sizeof(float));
        for (int m = mb; m < me; m++) {
            const float *restrict g = dout + row_off(L, m, C);
            const float *restrict o = out + row_off(L, m, C);
            const float *restrict x = inp + row_off(L, m, C);
            for (int c = 0; c < C; c++) {
                float dy = act_mask(g[c], o[c], act);
                bs[c] += dy;
                bx[c] += dy * (x[c] - mean[c]);
            }
        }
        for (int c = 0; c < C; c++) {
            ps[c] += bs[c];
            pxs[c] += bx[c];
        }
    }
}

// dinp += k*(dy - mdy - xhat*mdyxh), xhat = (x-mean)*invstd.
static inline void bwd_dinp_rows(float *dinp, const bn_rows *L, const float *dout, const float *out,
                                 const float *inp, const float *restrict mean,
                                 const float *restrict invstd, const float *restrict k,
                                 const float *restrict mdy, const float *restrict mdyxh, int m0,
                                 int m1, int C, int act, int write) {
    for (int m = m0; m < m1; m++) {
        const float *restrict g = dout + row_off(L, m, C);
        const float *restrict o = out + row_off(L, m, C);
        const float *restrict x = inp + row_off(L, m, C);
        float *restrict d = dinp + row_off(L, m, C);
        if (write) {
            for (int c = 0; c < C; c++) {
                float dy = act_mask(g[c], o[c], act);
                float xh = (x[c] - mean[c]) * invstd[c];
                d[c] = k[c] * (dy - mdy[c] - xh * mdyxh[c]);
            }
        } else {
            for (int c = 0; c < C; c++) {
                float dy = act_mask(g[c], o[c], act);
                float xh = (x[c] - mean[c]) * invstd[c];
                d[c] += k[c] * (dy - mdy[c] - xh * mdyxh[c]);
            }
        }
    }
}

// Sums of dy and dy*(x-mean) over the M rows, per channel: s[c], sx[c] (thread order).
static void backward_sums(double *s, double *sx, const bn_work *bw, const bn_rows *L, const float *dout, const float *out,
                          const float *inp, const float *mean, int M, int C, int act, int nt) {
    double *part = bw->part;
    float *blk = bw->blk;
    memset(part, 0, (size_t)nt * 2 * C * sizeof(double));
#pragma omp parallel num_threads(nt)
    {
        int m0, m1;
        rows_of(&m0, &m1, M);
        int t = omp_get_thread_num();
        double *ps = part + (size_t)t * 2 * C, *pxs = ps + C;
        float *bs = blk + (size_t)t * 2 * C, *bx = bs + C;
        if (act == GS_ACT_RELU6)
            bwd_reduce_rows(ps, pxs, bs, L, bx, dout, out, inp, mean, m0, m1, C, GS_ACT_RELU6);
        else if (act == GS_ACT_RELU)
            bwd_reduce_rows(ps, pxs, bs, L, bx, dout, out, inp, mean, m0, m1, C, GS_ACT_RELU);
        else
            bwd_reduce_rows(ps, pxs, bs, L, bx, dout, out, inp, mean, m0, m1, C, GS_ACT_NONE);
    }
    for (int c = 0; c < C; c++) {
        s[c] = sx[c] = 0;
        for (int t = 0; t < nt; t++) {
            s[c] += part[(size_t)t * 2 * C + c];
            sx[c] += part[(size_t)t * 2 * C + C + c];
        }
    }
}

// dinp += k*(dy - mdy - xhat*mdyxh) from the coefficients in bw->coef.
static void backward_dinp(float *dinp, const bn_work *bw, const bn_rows *L, const float *dout, const float *out, const float *inp,
                          const float *mean, const float *invstd, int M, int C, int act, int nt, int write) {
    const float *k = bw->coef, *mdy = k + C, *mdyxh = k + 2 * C;
#pragma omp parallel num_threads(nt)
    {
        int m0, m1;
        rows_of(&m0, &m1, M);
        if (act == GS_ACT_RELU6)
            bwd_dinp_rows(dinp, L, dout, out, inp, mean, invstd, k, mdy, mdyxh, m0, m1, C, GS_ACT_RELU6, write);
        else if (act == GS_ACT_RELU)
            bwd_dinp_rows(dinp, L, dout, out, inp, mean, invstd, k, mdy, mdyxh, m0, m1, C, GS_ACT_RELU, write);
        else
            bwd_dinp_rows(dinp, L, dout, out, inp, mean, invstd, k, mdy, mdyxh, m0, m1, C, GS_ACT_NONE, write);
    }
}

void batchnorm_backward_rows(float *dinp, float *dgamma, float *dbeta, const float *dout,
                        const float *out, const float *inp, const float *mean,
                        const float *invstd, const float *gamma, float *work, int M, int C, int act,
                             const bn_rows *L, int dinp_write) {
    GS_ASSERT(M > 0 && C > 0 && work);
    GS_ASSERT(act == GS_ACT_NONE || act == GS_ACT_RELU6 || act == GS_ACT_RELU);
    int nt = pick_threads(M, C);
    work_plan wp = {work, 0};
    bn_work bw = bn_layout(&wp, C);
    double *sum = bw.red, *sumx = bw.red + C;
    backward_sums(sum, sumx, &bw, L, dout, out, inp, mean, M, C, act, nt);
    float *k = bw.coef;
    float *mdy = k + C, *mdyxh = k + 2 * C;
    for (int c = 0; c < C; c++) {
        double s = sum[c], sx = sumx[c];
        double sxh = sx * invstd[c];  // sum dy*xhat
        if (dbeta) dbeta[c] += (float)s;
        if (dgamma) dgamma[c] += (float)sxh;
        k[c] = (float)((double)gamma[c] * invstd[c]);
        mdy[c] = (float)(s / M);
        mdyxh[c] = (float)(sxh / M);
    }
    if (dinp) backward_dinp(dinp, &bw, L, dout, out, inp, mean, invstd, M, C, act, nt, dinp_write);
}

// Data-parallel (sync_bn): the means of dy and dy*xhat are over every rank's rows (reduced); dgamma
// and dbeta get this rank's part only, as every parameter gradient (the ranks' gradients are summed).
void batchnorm_backward_sync_rows(float *dinp, float *dgamma, float *dbeta, const float *dout, const float *out,
                             const float *inp, const float *mean, const float *invstd, const float *gamma,
                             float *work, int M, int C, int act, const gs_reducer *r, const bn_rows *L,
                                  int dinp_write) {
    GS_ASSERT(M >= 0 && C > 0 && work && r && r->sum);
    GS_ASSERT(act == GS_ACT_NONE || act == GS_ACT_RELU6 || act == GS_ACT_RELU);
    int nt = M > 0 ? pick_threads(M, C) : 1;
    work_plan wp = {work, 0};
    bn_work bw = bn_layout(&wp, C);
    double *red = bw.red;  // [0,C) sum dy, [C,2C) sum dy*(x-mean), [2C] rows
    if (M > 0) backward_sums(red, red + C, &bw, L, dout, out, inp, mean, M, C, act, nt);
    else memset(red, 0, 2 * (size_t)C * sizeof(double));
    for (int c = 0; c < C; c++) {
        if (dbeta) dbeta[c] += (float)red[c];
        if (dgamma) dgamma[c] += (float)(red[C + c] * invstd[c]);
    }
    red[2 * C] = M;
    r->sum(r->ctx, red, 2 * (size_t)C + 1);
    double Mg = red[2 * C];
    GS_ASSERT(Mg > 0);
    float *k = bw.coef;
    float *mdy = k + C, *mdyxh = k + 2 * C;
    for (int c = 0; c < C; c++) {
        k[c] = (float)((double)gamma[c] * invstd[c]);
        mdy[c] = (float)(red[c] / Mg);
        mdyxh[c] = (float)(red[C + c] * invstd[c] / Mg);
    }
    if (dinp && M > 0) backward_dinp(dinp, &bw, L, dout, out, inp, mean, invstd, M, C, act, nt, dinp_write);
}

// ---- contiguous rows ----

void batchnorm_forward_train(float *out, float *mean, float *invstd, float *moving_mean, float *moving_var,
                             const float *inp, const float *gamma, const float *beta, float *work, int M, int C,
                             float eps, float momentum, int act) {
    batchnorm_forward_train_rows(out, mean, invstd, moving_mean, moving_var, inp, gamma, beta, work, M, C, eps,
                                 momentum, act, NULL);
}

void batchnorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout, const float *out,
                        const float *inp, const float *mean, const float *invstd, const float *gamma, float *work,
                        int M, int C, int act) {
    batchnorm_backward_rows(dinp, dgamma, dbeta, dout, out, inp, mean, invstd, gamma, work, M, C, act, NULL, 0);
}

void batchnorm_forward_train_sync(float *out, float *mean, float *invstd, float *moving_mean, float *moving_var,
                                  const float *inp, const float *gamma, const float *beta, float *work, int M, int C,
                                  float eps, float momentum, int act, const gs_reducer *r) {
    batchnorm_forward_train_sync_rows(out, mean, invstd, moving_mean, moving_var, inp, gamma, beta, work, M, C, eps,
                                      momentum, act, r, NULL);
}

void batchnorm_backward_sync(float *dinp, float *dgamma, float *dbeta, const float *dout, const float *out,
                             const float *inp, const float *mean, const float *invstd, const float *gamma,
                             float *work, int M, int C, int act, const gs_reducer *r) {
    batchnorm_backward_sync_rows(dinp, dgamma, dbeta, dout, out, inp, mean, invstd, gamma, work, M, C, act, r,
                                 NULL, 0);
}
