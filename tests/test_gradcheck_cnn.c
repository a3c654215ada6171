// Finite-difference check of every CNN backward op, independent of PyTorch: on tiny shapes,
// L = sum(out * R) with a fixed random R, and each input/weight element x gets the central
// difference (L(x+h) - L(x-h)) / (2h), h = 1e-2, compared with the analytic gradient from the
// backward op run with dout = R. L is summed in double, but the forward runs in float32, so the
// difference carries ~1e-7*|L|/h of rounding noise and O(h^2) curvature error (batchnorm):
// tolerance 2e-3 of the largest gradient (check_close's max|fd-an| / max|an|; observed <= 1e-4).
// Inputs sit at least 0.05 away from the ReLU/ReLU6 kinks so no perturbation crosses one, and
// the activation cases are drawn so that some outputs are clipped (masked gradients matter).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"
#include "gesture/ops.h"
#include "gesture/rng.h"
#include "testutil.h"

#define FD_H 1e-2f
#define FD_TOL 2e-3
#define KINK_GAP 0.05f

static gs_rng RNG;

// n floats, scale * N(0,1) from RNG.
static float *randn(size_t n, float scale) {
    float *p = gs_malloc(n * sizeof(float));
    test_fill_normal(p, &RNG, scale, n);
    return p;
}

// A forward pass under test writes `out` (n_out floats) from the current parameter values.
typedef struct {
    void (*forward)(void *ctx, float *out);
    void *ctx;
    size_t n_out;
    const float *R;  // (n_out) fixed upstream gradient
} problem;

static double loss(const problem *p, float *out) {
    p->forward(p->ctx, out);
    double L = 0;
    for (size_t i = 0; i < p->n_out; i++) L += (double)out[i] * p->R[i];
    return L;
}

// Central differences for every element of `param` against `analytic`.
static void gradcheck(const char *what, const problem *p, float *param, size_t n,
                      const float *analytic) {
    float *out = test_zeros(p->n_out), *fd = test_zeros(n);
    double *an = gs_malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        float v = param[i];
        float vp = v + FD_H, vm = v - FD_H;
        param[i] = vp;
        double Lp = loss(p, out);
        param[i] = vm;
        double Lm = loss(p, out);
        param[i] = v;
        fd[i] = (float)((Lp - Lm) / ((double)vp - (double)vm));
        an[i] = analytic[i];
    }
    check_close(what, fd, an, n, FD_TOL);
    free(out), free(fd), free(an);
}

// ---- conv2d / depthwise ----
typedef struct {
    float *inp, *w;
    int N, H, W, Ci, Co, K, s, pt, pl, Ho, Wo, depthwise;
} conv_ctx;

static void conv_fwd(void *c, float *out) {
    conv_ctx *q = c;
    if (q->depthwise)
        depthwise_forward(out, q->inp, q->w, q->N, q->H, q->W, q->Ci, q->K, q->s, q->pt, q->pl,
                          q->Ho, q->Wo);
    else
        conv2d_forward(out, q->inp, q->w, test_work(conv2d_work_floats(q->Ci, q->Co, q->K, q->Ho, q->Wo)), q->N, q->H,
                       q->W, q->Ci, q->Co, q->K, q->s, q->pt, q->pl, q->Ho, q->Wo);
}

static void check_conv(int depthwise, int N, int H, int W, int Ci, int Co, int K, int s) {
    conv_ctx q = {.N = N, .H = H, .W = W, .Ci = Ci, .Co = depthwise ? Ci : Co, .K = K, .s = s,
                  .depthwise = depthwise};
    conv_same_geometry(&q.Ho, &q.pt, H, K, s);
    conv_same_geometry(&q.Wo, &q.pl, W, K, s);
    size_t ni = (size_t)N * H * W * Ci, no = (size_t)N * q.Ho * q.Wo * q.Co;
    size_t nw = depthwise ? (size_t)K * K * Ci : (size_t)K * K * Ci * Co;
    q.inp = randn(ni, 1.0f);
    q.w = randn(nw, 0.5f);
    float *R = randn(no, 1.0f), *dinp = test_zeros(ni), *dw = test_zeros(nw);
    if (depthwise)
        depthwise_backward(dinp, dw, R, q.inp, q.w, test_work(depthwise_work_floats(Ci, K)), N, H, W, Ci, K, s, q.pt,
                           q.pl, q.Ho, q.Wo);
    else
        conv2d_backward(dinp, dw, R, q.inp, q.w, test_work(conv2d_work_floats(Ci, Co, K, q.Ho, q.Wo)), N, H, W, Ci, Co,
                        K, s, q.pt, q.pl, q.Ho, q.Wo);
    problem p = {conv_fwd, &q, no, R};
    char label[128];
    const char *op = depthwise ? "depthwise" : "conv2d";
    snprintf(label, sizeof label, "%s %dx%dx%dx%d K%d s%d dinp", op, N, H, W, Ci, K, s);
    gradcheck(label, &p, q.inp, ni, dinp);
    snprintf(label, sizeof label, "%s %dx%dx%dx%d K%d s%d dw", op, N, H, W, Ci, K, s);
    gradcheck(label, &p, q.w, nw, dw);
    free(q.inp), free(q.w), free(R), free(dinp), free(dw);
}

// ---- batchnorm (training forward; moving stats reset on every call) ----
typedef struct {
    float *inp, *gamma, *beta, *mean, *invstd, *mm, *mv;
    int M, C, act;
} bn_ctx;

static void bn_fwd(void *c, float *out) {
    bn_ctx *q = c;
    for (int i = 0; i < q->C; i++) q->mm[i] = 0.0f, q->mv[i] = 1.0f;
    batchnorm_forward_train(out, q->mean, q->invstd, q->mm, q->mv, q->inp, q->gamma, q->beta,
                            test_work(batchnorm_work_floats(q->C)), q->M, q->C, 1e-3f, 0.99f, q->act);
}

// Is every pre-activation y at least KINK_GAP away from 0 and 6, with some clipped at 0 (and,
// for ReLU6, at 6)?
static int usable_preactivation(const float *y, size_t n, int act) {
    int below = 0, above = 0;
    for (size_t i = 0; i < n; i++) {
        if (fabsf(y[i]) < KINK_GAP || fabsf(y[i] - 6.0f) < KINK_GAP) return 0;
        below |= y[i] < 0.0f;
        above |= y[i] > 6.0f;
    }
    return below && (above || act != GS_ACT_RELU6);
}

static void check_bn(int M, int C, int act) {
    bn_ctx q = {.M = M, .C = C, .act = act};
    size_t n = (size_t)M * C;
    q.mean = test_zeros(C), q.invstd = test_zeros(C), q.mm = test_zeros(C), q.mv = test_zeros(C);
    q.gamma = test_zeros(C), q.beta = test_zeros(C);
    float *out = test_zeros(n);
    q.inp = NULL;
    for (int tries = 0;; tries++) {  // redraw until the linear output avoids the kinks
        GS_ASSERT(tries < 1000);
        free(q.inp);
        q.inp = randn(n, 2.0f);
        for (int c = 0; c < C; c++) {
            q.gamma[c] = gs_rng_range(&RNG, 0.5f, 2.5f);
            q.beta[c] = gs_rng_range(&RNG, -1.0f, 5.0f);
        }
        int save = q.act;
        q.act = GS_ACT_NONE;
        bn_fwd(&q, out);
        q.act = save;
        if (act == GS_ACT_NONE || usable_preactivation(out, n, act)) break;
    }
    float *R = randn(n, 1.0f), *dinp = test_zeros(n), *dgamma = test_zeros(C), *dbeta = test_zeros(C);
    bn_fwd(&q, out);
    batchnorm_backward(dinp, dgamma, dbeta, R, out, q.inp, q.mean, q.invstd, q.gamma,
                       test_work(batchnorm_work_floats(C)), M, C, act);
    problem p = {bn_fwd, &q, n, R};
    char label[128];
    snprintf(label, sizeof label, "batchnorm M%d C%d act%d dinp", M, C, act);
    gradcheck(label, &p, q.inp, n, dinp);
    snprintf(label, sizeof label, "batchnorm M%d C%d act%d dgamma", M, C, act);
    gradcheck(label, &p, q.gamma, C, dgamma);
    snprintf(label, sizeof label, "batchnorm M%d C%d act%d dbeta", M, C, act);
    gradcheck(label, &p, q.beta, C, dbeta);
    free(q.inp), free(q.gamma), free(q.beta), free(q.mean), free(q.invstd), free(q.mm), free(q.mv);
    free(out), free(R), free(dinp), free(dgamma), free(dbeta);
}

// ---- matmul ----
typedef struct {
    float *inp, *w, *bias;
    int M, K, N;
} mm_ctx;

static void mm_fwd(void *c, float *out) {
    mm_ctx *q = c;
    matmul_forward(out, q->inp, q->w, q->bias, q->M, q->K, q->N);
}

static void check_matmul(int M, int K, int N) {
    mm_ctx q = {randn((size_t)M * K, 1.0f), randn((size_t)K * N, 1.0f), randn(N, 1.0f), M, K, N};
    size_t no = (size_t)M * N;
    float *R = randn(no, 1.0f), *dinp = test_zeros((size_t)M * K), *dw = test_zeros((size_t)K * N);
    float *db = test_zeros(N);
    matmul_backward(dinp, dw, db, R, q.inp, q.w, test_work(matmul_work_floats(K, N)), M, K, N);
    problem p = {mm_fwd, &q, no, R};
    gradcheck("matmul dinp", &p, q.inp, (size_t)M * K, dinp);
    gradcheck("matmul dw", &p, q.w, (size_t)K * N, dw);
    gradcheck("matmul dbias", &p, q.bias, N, db);
    free(q.inp), free(q.w), free(q.bias), free(R), free(dinp), free(dw), free(db);
}

// ---- elementwise and pooling ----
typedef struct {
    float *a, *b;
    size_t n;
    int op;  // EW_RELU, EW_ADD, EW_POOL (avgpool: N=2, HW=n/(2C), C=3)
} ew_ctx;

enum { EW_RELU, EW_ADD, EW_POOL, POOL_C = 3 };

static void ew_fwd(void *c, float *out) {
    ew_ctx *q = c;
    if (q->op == EW_RELU) relu_forward(out, q->a, q->n);
    else if (q->op == EW_ADD) add_forward(out, q->a, q->b, q->n);
    else avgpool_forward(out, q->a, test_work(avgpool_work_floats(POOL_C)), 2, (int)(q->n / (2 * POOL_C)), POOL_C);
}

static void check_elementwise(void) {
    size_t n = 48;
    float *out = test_zeros(n), *R = randn(n, 1.0f), *g = test_zeros(n), *g2 = test_zeros(n);
    float *a = test_zeros(n), *b = randn(n, 1.0f);
    for (size_t i = 0; i < n; i++) {  // spread over [-3,9], nudged off the kink
        float v = gs_rng_range(&RNG, -3.0f, 9.0f);
        if (fabsf(v) < KINK_GAP) v += 2 * KINK_GAP;
        a[i] = v;
    }
    {
        ew_ctx q = {a, NULL, n, EW_RELU};
        ew_fwd(&q, out);
        memset(g, 0, n * sizeof(float));
        relu_backward(g, R, out, n);
        problem p = {ew_fwd, &q, n, R};
        gradcheck("relu dinp", &p, a, n, g);
    }
    {
        ew_ctx q = {a, b, n, EW_ADD};
        memset(g, 0, n * sizeof(float));
        add_backward(g, g2, R, n);
        problem p = {ew_fwd, &q, n, R};
        gradcheck("add da", &p, a, n, g);
        gradcheck("add db", &p, b, n, g2);
    }
    {
        ew_ctx q = {a, NULL, n, EW_POOL};
        memset(g, 0, n * sizeof(float));
        avgpool_backward(g, R, 2, (int)(n / (2 * POOL_C)), POOL_C);
        problem p = {ew_fwd, &q, 2 * POOL_C, R};
        gradcheck("avgpool dinp", &p, a, n, g);
    }
    free(out), free(R), free(g), free(g2), free(a), free(b);
}

int main(void) {
    gs_rng_seed(&RNG, 20240611);
    check_conv(0, 1, 5, 6, 2, 3, 3, 2);
    check_conv(0, 2, 5, 4, 3, 4, 3, 1);
    check_conv(0, 1, 4, 5, 3, 2, 1, 1);
    check_conv(1, 2, 5, 4, 3, 0, 3, 1);
    check_conv(1, 1, 6, 7, 5, 0, 3, 2);
    check_conv(1, 1, 4, 4, 2, 0, 1, 1);
    check_bn(12, 3, GS_ACT_NONE);
    check_bn(12, 3, GS_ACT_RELU6);
    check_bn(9, 2, GS_ACT_RELU);
    check_matmul(4, 3, 5);
    check_elementwise();
    return test_finish();
}
