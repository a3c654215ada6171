// CNN ops (conv2d, depthwise, batchnorm with ReLU6/ReLU, relu/add, avgpool, matmul, conv geometry) against
// the PyTorch references in ops_cnn.h5 (scripts/ref_ops_cnn.py): forward within 1e-4, gradients
// within 1e-3 of the float64 reference (error = max|got-want| / max|want|). Case 0 of every op
// also checks the backward contract: a second backward into the same buffers must ADD (giving
// twice the reference), and a NULL gradient output is skipped without disturbing the others.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"
#include "gesture/ops.h"
#include "testutil.h"

#define TOL_FWD 1e-4
#define TOL_GRAD 1e-3

static const char *FILE_;

// The references of ops_cnn.h5 (testutil's fixture readers bound to the file).
static int n_cases(const char *group) {
    char name[128];
    snprintf(name, sizeof name, "%s/n_cases", group);
    return (int)fx_read_scalar(FILE_, name);
}
static int *rd_int(const char *group, int i, const char *sub) { return fx_read_case_int(FILE_, group, i, sub); }
static float *rd(const char *group, int i, const char *sub, size_t *n) {
    return fx_read_case_f32(FILE_, group, i, sub, n);
}

// Compare against reference <group>/case<i>/<sub> (times `scale`, for the accumulate check).
static void cmp(const char *group, int i, const char *sub, const char *tag, const float *got,
                size_t n, double tol, double scale) {
    double *want = fx_read_case(FILE_, group, i, sub);
    for (size_t k = 0; k < n; k++) want[k] *= scale;
    char label[128];
    snprintf(label, sizeof label, "%s case%d %s%s", group, i, sub, tag);
    check_close(label, got, want, n, tol);
    free(want);
}

static void test_geometry(void) {
    // (in, K, stride) -> (out, pad_before): TF puts the odd pad pixel after.
    static const int cases[][5] = {{224, 3, 2, 112, 0}, {112, 3, 2, 56, 0}, {7, 3, 2, 4, 1},
                                   {13, 3, 2, 7, 1},    {112, 3, 1, 112, 1}, {13, 1, 1, 13, 0},
                                   {10, 5, 2, 5, 1},    {9, 5, 1, 9, 2},    {1, 3, 2, 1, 1}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int out, pad;
        conv_same_geometry(&out, &pad, cases[c][0], cases[c][1], cases[c][2]);
        check(out == cases[c][3] && pad == cases[c][4], "same geometry in=%d K=%d s=%d -> %d pad %d",
              cases[c][0], cases[c][1], cases[c][2], out, pad);
    }
}

// The fixture's 'same' geometry (from Python's same_pad) must agree with ours; 'valid' cases (no
// padding) only exercise the ops.
static void check_case_geometry(const char *group, int i, int H, int W, int K, int s, int pt,
                                int pl, int Ho, int Wo, int same) {
    if (!same) return;
    int ho, wo, ph, pw;
    conv_same_geometry(&ho, &ph, H, K, s);
    conv_same_geometry(&wo, &pw, W, K, s);
    check(ho == Ho && wo == Wo && ph == pt && pw == pl, "%s case%d geometry (%d,%d) pads (%d,%d)",
          group, i, ho, wo, ph, pw);
}

static void test_conv2d(void) {
    const char *g = "conv2d";
    for (int i = 0, nc = n_cases(g); i < nc; i++) {
        int *d = rd_int(g, i, "dims");
        int N = d[0], H = d[1], W = d[2], Ci = d[3], Co = d[4], K = d[5], s = d[6], pt = d[7],
            pl = d[8], Ho = d[9], Wo = d[10];
        check_case_geometry(g, i, H, W, K, s, pt, pl, Ho, Wo, d[11]);
        size_t ni, nw, no;
        float *inp = rd(g, i, "inp", &ni), *w = rd(g, i, "w", &nw), *dout = rd(g, i, "dout", &no);
        float *out = test_zeros(no), *dinp = test_zeros(ni), *dw = test_zeros(nw);
        conv2d_forward(out, inp, w, test_work(conv2d_work_floats(Ci, Co, K, Ho, Wo)), N, H, W, Ci, Co, K, s, pt, pl, Ho,
                       Wo);
        cmp(g, i, "out", "", out, no, TOL_FWD, 1);
        conv2d_backward(dinp, dw, dout, inp, w, test_work(conv2d_work_floats(Ci, Co, K, Ho, Wo)), N, H, W, Ci, Co, K, s,
                        pt, pl, Ho, Wo);
        cmp(g, i, "dinp", "", dinp, ni, TOL_GRAD, 1);
        cmp(g, i, "dw", "", dw, nw, TOL_GRAD, 1);
        if (i == 0) {
            conv2d_backward(dinp, dw, dout, inp, w, test_work(conv2d_work_floats(Ci, Co, K, Ho, Wo)), N, H, W, Ci, Co,
                            K, s, pt, pl, Ho, Wo);
            cmp(g, i, "dinp", " (2nd call adds)", dinp, ni, TOL_GRAD, 2);
            cmp(g, i, "dw", " (2nd call adds)", dw, nw, TOL_GRAD, 2);
            memset(dw, 0, nw * sizeof(float));
            conv2d_backward(NULL, dw, dout, inp, w, test_work(conv2d_work_floats(Ci, Co, K, Ho, Wo)), N, H, W, Ci, Co,
                            K, s, pt, pl, Ho, Wo);
            cmp(g, i, "dw", " (dinp=NULL)", dw, nw, TOL_GRAD, 1);
        }
        free(d), free(inp), free(w), free(dout), free(out), free(dinp), free(dw);
    }
}

static void test_depthwise(void) {
    const char *g = "depthwise";
    for (int i = 0, nc = n_cases(g); i < nc; i++) {
        int *d = rd_int(g, i, "dims");
        int N = d[0], H = d[1], W = d[2], C = d[3], K = d[4], s = d[5], pt = d[6], pl = d[7],
            Ho = d[8], Wo = d[9];
        check_case_geometry(g, i, H, W, K, s, pt, pl, Ho, Wo, d[10]);
        size_t ni, nw, no;
        float *inp = rd(g, i, "inp", &ni), *w = rd(g, i, "w", &nw), *dout = rd(g, i, "dout", &no);
        float *out = test_zeros(no), *dinp = test_zeros(ni), *dw = test_zeros(nw);
        depthwise_forward(out, inp, w, N, H, W, C, K, s, pt, pl, Ho, Wo);
        cmp(g, i, "out", "", out, no, TOL_FWD, 1);
        depthwise_backward(dinp, dw, dout, inp, w, test_work(depthwise_work_floats(C, K)), N, H, W, C, K, s, pt, pl, Ho,
                           Wo);
        cmp(g, i, "dinp", "", dinp, ni, TOL_GRAD, 1);
        cmp(g, i, "dw", "", dw, nw, TOL_GRAD, 1);
        if (i == 0) {
            depthwise_backward(dinp, dw, dout, inp, w, test_work(depthwise_work_floats(C, K)), N, H, W, C, K, s, pt, pl,
                               Ho, Wo);
            cmp(g, i, "dinp", " (2nd call adds)", dinp, ni, TOL_GRAD, 2);
            cmp(g, i, "dw", " (2nd call adds)", dw, nw, TOL_GRAD, 2);
            memset(dinp, 0, ni * sizeof(float));
            depthwise_backward(dinp, NULL, dout, inp, w, test_work(depthwise_work_floats(C, K)), N, H, W, C, K, s, pt,
                               pl, Ho, Wo);
            cmp(g, i, "dinp", " (dw=NULL)", dinp, ni, TOL_GRAD, 1);
            memset(dw, 0, nw * sizeof(float));
            depthwise_backward(NULL, dw, dout, inp, w, test_work(depthwise_work_floats(C, K)), N, H, W, C, K, s, pt, pl,
                               Ho, Wo);
            cmp(g, i, "dw", " (dinp=NULL)", dw, nw, TOL_GRAD, 1);
        }
        free(d), free(inp), free(w), free(dout), free(out), free(dinp), free(dw);
    }
}

static void test_batchnorm(void) {
    const char *g = "bn";
    for (int i = 0, nc = n_cases(g); i < nc; i++) {
        int *d = rd_int(g, i, "dims");
        int M = d[0], C = d[1], act = d[2];
        double *par = fx_read_case(FILE_, g, i, "params");
        float eps = (float)par[0], momentum = (float)par[1];
        size_t n, nc1;
        float *inp = rd(g, i, "inp", &n), *dout = rd(g, i, "dout", NULL);
        float *gamma = rd(g, i, "gamma", &nc1), *beta = rd(g, i, "beta", NULL);
        float *mm = rd(g, i, "moving_mean0", NULL), *mv = rd(g, i, "moving_var0", NULL);
        GS_ASSERT(n == (size_t)M * C && nc1 == (size_t)C);
        float *out = test_zeros(n), *dinp = test_zeros(n), *mean = test_zeros(C), *invstd = test_zeros(C);
        float *dgamma = test_zeros(C), *dbeta = test_zeros(C);

        batchnorm_forward_infer(out, inp, gamma, beta, mm, mv, test_work(batchnorm_work_floats(C)), M, C, eps, act);
        cmp(g, i, "out_infer", "", out, n, TOL_FWD, 1);

        batchnorm_forward_train(out, mean, invstd, mm, mv, inp, gamma, beta, test_work(batchnorm_work_floats(C)), M, C,
                                eps, momentum, act);
        cmp(g, i, "out", "", out, n, TOL_FWD, 1);
        cmp(g, i, "mean", "", mean, C, TOL_FWD, 1);
        cmp(g, i, "invstd", "", invstd, C, TOL_FWD, 1);
        cmp(g, i, "moving_mean", "", mm, C, TOL_FWD, 1);
        cmp(g, i, "moving_var", "", mv, C, TOL_FWD, 1);

        batchnorm_backward(dinp, dgamma, dbeta, dout, out, inp, mean, invstd, gamma,
                           test_work(batchnorm_work_floats(C)), M, C, act);
        cmp(g, i, "dinp", "", dinp, n, TOL_GRAD, 1);
        cmp(g, i, "dgamma", "", dgamma, C, TOL_GRAD, 1);
        cmp(g, i, "dbeta", "", dbeta, C, TOL_GRAD, 1);
        if (i == 0) {
            batchnorm_backward(dinp, dgamma, dbeta, dout, out, inp, mean, invstd, gamma,
                               test_work(batchnorm_work_floats(C)), M, C, act);
            cmp(g, i, "dinp", " (2nd call adds)", dinp, n, TOL_GRAD, 2);
            cmp(g, i, "dgamma", " (2nd call adds)", dgamma, C, TOL_GRAD, 2);
            cmp(g, i, "dbeta", " (2nd call adds)", dbeta, C, TOL_GRAD, 2);
            memset(dgamma, 0, C * sizeof(float));
            memset(dbeta, 0, C * sizeof(float));
            batchnorm_backward(NULL, dgamma, dbeta, dout, out, inp, mean, invstd, gamma,
                               test_work(batchnorm_work_floats(C)), M, C, act);
            cmp(g, i, "dgamma", " (dinp=NULL)", dgamma, C, TOL_GRAD, 1);
            cmp(g, i, "dbeta", " (dinp=NULL)", dbeta, C, TOL_GRAD, 1);
        }
        free(d), free(par), free(inp), free(dout), free(gamma), free(beta), free(mm), free(mv);
        free(out), free(dinp), free(mean), free(invstd), free(dgamma), free(dbeta);
    }
}

static void test_activations(void) {
    for (int i = 0, nc = n_cases("relu"); i < nc; i++) {
        size_t n;
        float *inp = rd("relu", i, "inp", &n), *dout = rd("relu", i, "dout", NULL);
        float *out = test_zeros(n), *dinp = test_zeros(n);
        relu_forward(out, inp, n);
        cmp("relu", i, "out", "", out, n, TOL_FWD, 1);
        int reps = i == 0 ? 2 : 1;
        for (int r = 0; r < reps; r++) relu_backward(dinp, dout, out, n);
        cmp("relu", i, "dinp", reps == 2 ? " (2nd call adds)" : "", dinp, n, TOL_GRAD, reps);
        free(inp), free(dout), free(out), free(dinp);
    }
    const char *g = "add";
    for (int i = 0, nc = n_cases(g); i < nc; i++) {
        size_t n;
        float *a = rd(g, i, "a", &n), *b = rd(g, i, "b", NULL), *dout = rd(g, i, "dout", NULL);
        float *out = test_zeros(n), *da = test_zeros(n), *db = test_zeros(n);
        add_forward(out, a, b, n);
        cmp(g, i, "out", "", out, n, TOL_FWD, 1);
        add_backward(da, db, dout, n);
        cmp(g, i, "da", "", da, n, TOL_GRAD, 1);
        cmp(g, i, "db", "", db, n, TOL_GRAD, 1);
        if (i == 0) {
            add_backward(da, NULL, dout, n);
            cmp(g, i, "da", " (2nd call adds, db=NULL)", da, n, TOL_GRAD, 2);
            cmp(g, i, "db", " (untouched when NULL)", db, n, TOL_GRAD, 1);
        }
        free(a), free(b), free(dout), free(out), free(da), free(db);
    }
}

static void test_avgpool(void) {
    const char *g = "avgpool";
    for (int i = 0, nc = n_cases(g); i < nc; i++) {
        int *d = rd_int(g, i, "dims");
        int N = d[0], HW = d[1], C = d[2];
        size_t ni, no;
        float *inp = rd(g, i, "inp", &ni), *dout = rd(g, i, "dout", &no);
        float *out = test_zeros(no), *dinp = test_zeros(ni);
        avgpool_forward(out, inp, test_work(avgpool_work_floats(C)), N, HW, C);
        cmp(g, i, "out", "", out, no, TOL_FWD, 1);
        int reps = i == 0 ? 2 : 1;
        for (int r = 0; r < reps; r++) avgpool_backward(dinp, dout, N, HW, C);
        cmp(g, i, "dinp", reps == 2 ? " (2nd call adds)" : "", dinp, ni, TOL_GRAD, reps);
        free(d), free(inp), free(dout), free(out), free(dinp);
    }
}

static void test_matmul(void) {
    const char *g = "matmul";
    for (int i = 0, nc = n_cases(g); i < nc; i++) {
        int *d = rd_int(g, i, "dims");
        int M = d[0], K = d[1], N = d[2], has_bias = d[3];
        size_t ni, nw, no;
        float *inp = rd(g, i, "inp", &ni), *w = rd(g, i, "w", &nw), *dout = rd(g, i, "dout", &no);
        float *bias = rd(g, i, "bias", NULL);
        float *out = test_zeros(no), *dinp = test_zeros(ni), *dw = test_zeros(nw), *dbias = test_zeros(N);
        // Poison the output: forward must overwrite, not accumulate.
        for (size_t k = 0; k < no; k++) out[k] = 1e30f;
        matmul_forward(out, inp, w, has_bias ? bias : NULL, M, K, N);
        cmp(g, i, "out", "", out, no, TOL_FWD, 1);
        matmul_backward(dinp, dw, dbias, dout, inp, w, test_work(matmul_work_floats(K, N)), M, K, N);
        cmp(g, i, "dinp", "", dinp, ni, TOL_GRAD, 1);
        cmp(g, i, "dw", "", dw, nw, TOL_GRAD, 1);
        cmp(g, i, "dbias", "", dbias, N, TOL_GRAD, 1);
        if (i == 0) {
            matmul_backward(dinp, dw, dbias, dout, inp, w, test_work(matmul_work_floats(K, N)), M, K, N);
            cmp(g, i, "dinp", " (2nd call adds)", dinp, ni, TOL_GRAD, 2);
            cmp(g, i, "dw", " (2nd call adds)", dw, nw, TOL_GRAD, 2);
            cmp(g, i, "dbias", " (2nd call adds)", dbias, N, TOL_GRAD, 2);
            memset(dw, 0, nw * sizeof(float));
            matmul_backward(NULL, dw, NULL, dout, inp, w, test_work(matmul_work_floats(K, N)), M, K, N);
            cmp(g, i, "dw", " (dinp=dbias=NULL)", dw, nw, TOL_GRAD, 1);
        }
        free(d), free(inp), free(w), free(dout), free(bias), free(out), free(dinp), free(dw);
        free(dbias);
    }
}

int main(void) {
    static char path[4096];
    snprintf(path, sizeof path, "%s", fx_path("ops_cnn.h5"));
    FILE_ = path;
    test_geometry();
    test_conv2d();
    test_depthwise();
    test_batchnorm();
    test_activations();
    test_avgpool();
    test_matmul();
    return test_finish();
}
