// Finite-difference gradient checks of the head ops on tiny shapes, independent of PyTorch:
// central differences of a scalar loss L = sum(dout * forward(...)) against each backward op.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"
#include "gesture/ops.h"
#include "gesture/rng.h"
#include "testutil.h"

// float32 forward passes: step and tolerance balance truncation (h^2) against rounding (ulp/h);
// the denominator is the representable step (keep+h) - (keep-h), not 2h.
#define FD_STEP 2e-3f
#define FD_TOL 5e-3

static double dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

// ---- GRU: L = sum(dout * h_T) over a (B,H) output with stride, for one direction ----
typedef struct {
    int B, T, D, H, stride, reverse;
    float *x, *k, *rk, *bias, *dout, *out, *cache;
} gru_prob;

static double gru_loss(gru_prob *p) {
    gru_forward(p->out, p->cache, p->x, p->k, p->rk, p->bias, p->B, p->T, p->D, p->H, p->stride,
                p->reverse);
    double s = 0;
    for (int b = 0; b < p->B; b++)
        s += dot(p->out + (size_t)b * p->stride, p->dout + (size_t)b * p->stride, p->H);
    return s;
}

// Central differences of gru_loss in every element of `param`.
static void gru_fd(double *grad, gru_prob *p, float *param, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float keep = param[i];
        param[i] = keep + FD_STEP;
        const double span = (double)param[i] - (double)(keep - FD_STEP);
        double lp = gru_loss(p);
        param[i] = keep - FD_STEP;
        double lm = gru_loss(p);
        param[i] = keep;
        grad[i] = (lp - lm) / span;
    }
}

static void test_gru(int reverse) {
    gs_rng rng;
    gs_rng_seed(&rng, 11 + reverse);
    gru_prob p = {.B = 2, .T = 4, .D = 3, .H = 3, .stride = 5, .reverse = reverse};
    const int G = 3 * p.H;
    const size_t nx = (size_t)p.B * p.T * p.D, nk = (size_t)p.D * G, nr = (size_t)p.H * G;
    const size_t nb = 2 * (size_t)G, no = (size_t)p.B * p.stride;
    p.x = gs_malloc(nx * sizeof(float));
    p.k = gs_malloc(nk * sizeof(float));
    p.rk = gs_malloc(nr * sizeof(float));
    p.bias = gs_malloc(nb * sizeof(float));
    p.dout = gs_calloc(no, sizeof(float));
    p.out = gs_calloc(no, sizeof(float));
    p.cache = gs_malloc(gru_cache_floats(p.B, p.T, p.H) * sizeof(float));
    test_fill_normal(p.x, &rng, 1.0f, nx);
    test_fill_normal(p.k, &rng, 0.6f, nk);
    test_fill_normal(p.rk, &rng, 0.6f, nr);
    test_fill_normal(p.bias, &rng, 0.3f, nb);
    for (int b = 0; b < p.B; b++) test_fill_normal(p.dout + (size_t)b * p.stride, &rng, 1.0f, p.H);

    float *dx = gs_calloc(nx, sizeof(float)), *dk = gs_calloc(nk, sizeof(float));
    float *dr = gs_calloc(nr, sizeof(float)), *db = gs_calloc(nb, sizeof(float));
    gru_loss(&p);
    gru_backward(dx, dk, dr, db, p.dout, p.cache, p.x, p.k, p.rk, test_work(gru_work_floats(p.B, p.T, p.H)), p.B, p.T,
                 p.D, p.H, p.stride, reverse);

    struct {
        const char *name;
        float *param, *grad;
        size_t n;
    } items[4] = {{"dx", p.x, dx, nx}, {"dkernel", p.k, dk, nk}, {"drecurrent_kernel", p.rk, dr, nr},
                  {"dbias", p.bias, db, nb}};
    for (int i = 0; i < 4; i++) {
        double *fd = gs_malloc(items[i].n * sizeof(double));
        gru_fd(fd, &p, items[i].param, items[i].n);
        char label[64];
        snprintf(label, sizeof label, "gru %s %s vs finite differences",
                 reverse ? "reverse" : "forward", items[i].name);
        check_close(label, items[i].grad, fd, items[i].n, FD_TOL);
        free(fd);
    }
    free(p.x);
    free(p.k);
    free(p.rk);
    free(p.bias);
    free(p.dout);
    free(p.out);
    free(p.cache);
    free(dx);
    free(dk);
    free(dr);
    free(db);
}

// ---- softmax CE: L = mean CE, backward with scale 1 ----
static void test_softmax_ce(void) {
    gs_rng rng;
    gs_rng_seed(&rng, 21);
    enum { B = 3, K = 5 };
    float logits[B * K], probs[B * K], dl[B * K] = {0};
    int labels[B] = {4, 0, 2};
    test_fill_normal(logits, &rng, 2.0f, B * K);
    softmax_ce_forward(probs, NULL, logits, labels, B, K);
    softmax_ce_backward(dl, probs, labels, B, K, 1.0f);
    double fd[B * K];
    for (int i = 0; i < B * K; i++) {
        float keep = logits[i];
        logits[i] = keep + FD_STEP;
        const double span = (double)logits[i] - (double)(keep - FD_STEP);
        double lp = softmax_ce_forward(probs, NULL, logits, labels, B, K);
        logits[i] = keep - FD_STEP;
        double lm = softmax_ce_forward(probs, NULL, logits, labels, B, K);
        logits[i] = keep;
        fd[i] = (lp - lm) / span;
    }
    check_close("softmax_ce dlogits vs finite differences", dl, fd, B * K, FD_TOL);
}

// ---- dropout: L = sum(dout * dropout(x)); linear, so differences are exact up to rounding ----
static void test_dropout(void) {
    gs_rng rng;
    gs_rng_seed(&rng, 31);
    enum { N = 64 };
    const float rate = 0.3f;
    const uint64_t key = gs_key(5, 6, 7);
    float x[N], dout[N], out[N], dinp[N] = {0};
    test_fill_normal(x, &rng, 1.0f, N);
    test_fill_normal(dout, &rng, 1.0f, N);
    dropout_backward(dinp, dout, N, rate, key);
    double fd[N];
    int dropped = 0;
    for (int i = 0; i < N; i++) {
        float keep = x[i];
        x[i] = keep + FD_STEP;
        const double span = (double)x[i] - (double)(keep - FD_STEP);
        dropout_forward(out, x, N, rate, key);
        double lp = dot(out, dout, N);
        x[i] = keep - FD_STEP;
        dropout_forward(out, x, N, rate, key);
        double lm = dot(out, dout, N);
        x[i] = keep;
        fd[i] = (lp - lm) / span;
        dropped += dinp[i] == 0.0f;
    }
    check_close("dropout dinp vs finite differences", dinp, fd, N, FD_TOL);
    check(dropped > 0 && dropped < N, "dropout gradcheck mask has both kept and dropped (%d/%d dropped)",
          dropped, N);
}

// ---- L2: L = l2 * sum(w^2) ----
static void test_l2(void) {
    gs_rng rng;
    gs_rng_seed(&rng, 41);
    enum { N = 20 };
    const float l2 = 0.05f;
    float w[N], dw[N] = {0};
    test_fill_normal(w, &rng, 1.0f, N);
    l2_backward(dw, w, N, l2);
    double fd[N];
    for (int i = 0; i < N; i++) {
        float keep = w[i];
        w[i] = keep + FD_STEP;
        const double span = (double)w[i] - (double)(keep - FD_STEP);
        double lp = l2_forward(w, N, l2);
        w[i] = keep - FD_STEP;
        double lm = l2_forward(w, N, l2);
        w[i] = keep;
        fd[i] = (lp - lm) / span;
    }
    check_close("l2 dw vs finite differences", dw, fd, N, FD_TOL);
}

int main(void) {
    test_gru(0);
    test_gru(1);
    test_softmax_ce();
    test_dropout();
    test_l2();
    return test_finish();
}
