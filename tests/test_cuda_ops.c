// CUDA ops against their CPU twins (src/ops/ = the spec) on random inputs, odd sizes included
// (C=17, H=W=7/9/13, stride 1 and 2, even sizes with Keras' 0-before/1-after padding): forward
// within 1e-4 and gradients within 1e-3 of the CPU result (error = max|gpu-cpu| / max|cpu|).
// GPU outputs are poisoned with NaN first (an unwritten element fails), gradient buffers start from
// the same random values on both sides (checks that backward ops ACCUMULATE), backward ops get
// identical inputs on both sides (the CPU forward's results), and reductions that must be
// deterministic (depthwise dw, BN statistics) are run twice and compared bit for bit.
// Exits 77 (ctest SKIP) when the CUDA backend is not built or no device is present.
// This file: the CNN ops (depthwise, batch norm, elementwise, dropout, avgpool, conv2d);
// test_cuda_ops_head.c: matmul, GRU, softmax-CE, L2, Adam.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#ifndef GESTURE_WITH_CUDA
int main(void) { test_skip("CUDA backend not built (configure with -DGESTURE_CUDA=ON): skipped"); }
#else

#include "cuda_testutil.h"

// ---- depthwise ----
static void test_depthwise(int N, int H, int W, int C, int K, int stride) {
    int Ho, Wo, pt, pl;
    conv_same_geometry(&Ho, &pt, H, K, stride);
    conv_same_geometry(&Wo, &pl, W, K, stride);
    char tag[96];
    snprintf(tag, sizeof tag, "depthwise N%d %dx%d C%d K%d s%d", N, H, W, C, K, stride);
    size_t ni = (size_t)N * H * W * C, no = (size_t)N * Ho * Wo * C, nw = (size_t)K * K * C;
    float *x = hrand(ni, -1, 1), *w = hrand(nw, -1, 1), *g = hrand(no, -1, 1);
    float *dx0 = hrand(ni, -1, 1), *dw0 = hrand(nw, -1, 1);
    float *y = gs_malloc(no * sizeof(float)), *dx = hcopy(dx0, ni), *dwc = hcopy(dw0, nw);
    depthwise_forward(y, x, w, N, H, W, C, K, stride, pt, pl, Ho, Wo);
    depthwise_backward(dx, dwc, g, x, w, test_work(depthwise_work_floats(C, K)), N, H, W, C, K, stride, pt, pl, Ho, Wo);

    float *d_x = dev(x, ni), *d_w = dev(w, nw), *d_g = dev(g, no), *d_y = dev_nan(no);
    float *d_dx = dev(dx0, ni), *d_dw = dev(dw0, nw), *d_dw2 = dev(dw0, nw);
    depthwise_forward_cuda(d_y, d_x, d_w, N, H, W, C, K, stride, pt, pl, Ho, Wo);
    depthwise_backward_cuda(d_dx, d_dw, d_g, d_x, d_w, N, H, W, C, K, stride, pt, pl, Ho, Wo);
    depthwise_backward_cuda(NULL, d_dw2, d_g, d_x, d_w, N, H, W, C, K, stride, pt, pl, Ho, Wo);
    char what[160];
    snprintf(what, sizeof what, "%s out", tag);
    expect(what, d_y, y, no, TOL_FWD);
    snprintf(what, sizeof what, "%s dinp (+=)", tag);
    expect(what, d_dx, dx, ni, TOL_GRAD);
    snprintf(what, sizeof what, "%s dw (+=)", tag);
    expect(what, d_dw, dwc, nw, TOL_GRAD);
    snprintf(what, sizeof what, "%s dw (dinp NULL)", tag);
    expect_bitwise(what, d_dw, d_dw2, nw);
    dev_release();
    free(x); free(w); free(g); free(dx0); free(dw0); free(y); free(dx); free(dwc);
}

// ---- batch norm ----
static void test_batchnorm(int M, int C, int act) {
    char tag[96];
    snprintf(tag, sizeof tag, "batchnorm M%d C%d act%d", M, C, act);
    size_t n = (size_t)M * C;
    // offset mean and several scales: exercises the pivot and both clamp edges of ReLU6
    float *x = hrand(n, -2, 2);
    for (size_t i = 0; i < n; i++) x[i] = 3.0f + x[i] * (float)(1 + i % C % 3);
    float *gamma = hrand(C, 0.5f, 3), *beta = hrand(C, -1, 4), *mm0 = hrand(C, -1, 1), *mv0 = hrand(C, 0.5f, 2);
    float *g = hrand(n, -1, 1), *dx0 = hrand(n, -1, 1), *dg0 = hrand(C, -1, 1), *db0 = hrand(C, -1, 1);
    float *y = gs_malloc(n * sizeof(float)), *yi = gs_malloc(n * sizeof(float));
    float *mean = gs_malloc(C * sizeof(float)), *inv = gs_malloc(C * sizeof(float));
    float *mm = hcopy(mm0, C), *mv = hcopy(mv0, C), *dx = hcopy(dx0, n), *dg = hcopy(dg0, C), *db = hcopy(db0, C);
    batchnorm_forward_train(y, mean, inv, mm, mv, x, gamma, beta, test_work(batchnorm_work_floats(C)), M, C, 1e-3f,
                            0.99f, act);
    batchnorm_forward_infer(yi, x, gamma, beta, mm0, mv0, test_work(batchnorm_work_floats(C)), M, C, 1e-3f, act);
    batchnorm_backward(dx, dg, db, g, y, x, mean, inv, gamma, test_work(batchnorm_work_floats(C)), M, C, act);

    float *d_x = dev(x, n), *d_gamma = dev(gamma, C), *d_beta = dev(beta, C);
    float *d_y = dev_nan(n), *d_y2 = dev_nan(n), *d_yi = dev_nan(n), *d_mean = dev_nan(C), *d_inv = dev_nan(C);
    float *d_mean2 = dev_nan(C), *d_inv2 = dev_nan(C);
    float *d_mm = dev(mm0, C), *d_mv = dev(mv0, C), *d_mm2 = dev(mm0, C), *d_mv2 = dev(mv0, C);
    float *d_mm0 = dev(mm0, C), *d_mv0 = dev(mv0, C);
    batchnorm_forward_train_cuda(d_y, d_mean, d_inv, d_mm, d_mv, d_x, d_gamma, d_beta, M, C, 1e-3f, 0.99f, act);
    batchnorm_forward_train_cuda(d_y2, d_mean2, d_inv2, d_mm2, d_mv2, d_x, d_gamma, d_beta, M, C, 1e-3f, 0.99f, act);
    batchnorm_forward_infer_cuda(d_yi, d_x, d_gamma, d_beta, d_mm0, d_mv0, M, C, 1e-3f, act);
    char what[160];
    snprintf(what, sizeof what, "%s train out", tag);
    expect(what, d_y, y, n, TOL_FWD);
    snprintf(what, sizeof what, "%s saved mean", tag);
    expect(what, d_mean, mean, C, TOL_FWD);
    snprintf(what, sizeof what, "%s saved invstd", tag);
    expect(what, d_inv, inv, C, TOL_FWD);
    snprintf(what, sizeof what, "%s moving_mean", tag);
    expect(what, d_mm, mm, C, TOL_FWD);
    snprintf(what, sizeof what, "%s moving_var", tag);
    expect(what, d_mv, mv, C, TOL_FWD);
    snprintf(what, sizeof what, "%s train out", tag);
    expect_bitwise(what, d_y, d_y2, n);
    snprintf(what, sizeof what, "%s infer out", tag);
    expect(what, d_yi, yi, n, TOL_FWD);

    // backward on identical inputs: the CPU forward's output and statistics
    float *d_yc = dev(y, n), *d_meanc = dev(mean, C), *d_invc = dev(inv, C), *d_g = dev(g, n);
    float *d_dx = dev(dx0, n), *d_dg = dev(dg0, C), *d_db = dev(db0, C);
    batchnorm_backward_cuda(d_dx, d_dg, d_db, d_g, d_yc, d_x, d_meanc, d_invc, d_gamma, M, C, act);
    snprintf(what, sizeof what, "%s dinp (+=)", tag);
    expect(what, d_dx, dx, n, TOL_GRAD);
    snprintf(what, sizeof what, "%s dgamma (+=)", tag);
    expect(what, d_dg, dg, C, TOL_GRAD);
    snprintf(what, sizeof what, "%s dbeta (+=)", tag);
    expect(what, d_db, db, C, TOL_GRAD);
    dev_release();
    free(x); free(gamma); free(beta); free(mm0); free(mv0); free(g); free(dx0); free(dg0); free(db0);
    free(y); free(yi); free(mean); free(inv); free(mm); free(mv); free(dx); free(dg); free(db);
}

// ---- elementwise, dropout, avgpool ----
static void test_elementwise(size_t n) {
    float *x = hrand(n, -2, 8), *b = hrand(n, -1, 1), *g = hrand(n, -1, 1), *d0 = hrand(n, -1, 1);
    float *y = gs_malloc(n * sizeof(float)), *d = gs_malloc(n * sizeof(float)), *d2 = gs_malloc(n * sizeof(float));
    float *d_x = dev(x, n), *d_b = dev(b, n), *d_g = dev(g, n), *d_y = dev_nan(n);
    char what[96];
    relu_forward(y, x, n);
    memcpy(d, d0, n * sizeof(float));
    relu_backward(d, g, y, n);
    float *d_dr = dev(d0, n), *d_yc = dev(y, n);
    relu_forward_cuda(d_y, d_x, n);
    relu_backward_cuda(d_dr, d_g, d_yc, n);
    snprintf(what, sizeof what, "relu forward n%zu", n);
    expect(what, d_y, y, n, TOL_FWD);
    snprintf(what, sizeof what, "relu backward n%zu (+=)", n);
    expect(what, d_dr, d, n, TOL_GRAD);
    // relu_mask: the in-place Dense+ReLU gradient mask (GPU-only helper); y is still relu(x)
    for (size_t i = 0; i < n; i++) d[i] = y[i] > 0.0f ? g[i] : 0.0f;
    float *d_m = dev(g, n), *d_yr = dev(y, n);
    relu_mask_cuda(d_m, d_yr, n);
    expect("relu_mask in place", d_m, d, n, TOL_GRAD);

    add_forward(y, x, b, n);
    memcpy(d, d0, n * sizeof(float));
    memcpy(d2, b, n * sizeof(float));
    add_backward(d, d2, g, n);
    float *d_da = dev(d0, n), *d_db = dev(b, n);
    gs_cuda_memset_async(d_y, 0xFF, n * sizeof(float));
    add_forward_cuda(d_y, d_x, d_b, n);
    expect("add forward", d_y, y, n, TOL_FWD);
    add_backward_cuda(d_da, d_db, d_g, n);
    expect("add backward da (+=)", d_da, d, n, TOL_GRAD);
    expect("add backward db (+=)", d_db, d2, n, TOL_GRAD);

    for (int r = 0; r < 2; r++) {
        float rate = r ? 0.25f : 0.0f;
        uint64_t key = gs_key(7, 1, 3);
        dropout_forward(y, x, n, rate, key);
        memcpy(d, d0, n * sizeof(float));
        dropout_backward(d, g, n, rate, key);
        float *d_d = dev(d0, n);
        gs_cuda_memset_async(d_y, 0xFF, n * sizeof(float));
        dropout_forward_cuda(d_y, d_x, n, rate, key);
        dropout_backward_cuda(d_d, d_g, n, rate, key);
        snprintf(what, sizeof what, "dropout %.2f forward (same mask)", rate);
        expect(what, d_y, y, n, TOL_FWD);
        snprintf(what, sizeof what, "dropout %.2f backward (+=)", rate);
        expect(what, d_d, d, n, TOL_GRAD);
    }
    dev_release();
    free(x); free(b); free(g); free(d0); free(y); free(d); free(d2);
}

static void test_avgpool(int N, int HW, int C) {
    size_t ni = (size_t)N * HW * C, no = (size_t)N * C;
    float *x = hrand(ni, -1, 1), *g = hrand(no, -1, 1), *dx0 = hrand(ni, -1, 1);
    float *y = gs_malloc(no * sizeof(float)), *dx = hcopy(dx0, ni);
    avgpool_forward(y, x, test_work(avgpool_work_floats(C)), N, HW, C);
    avgpool_backward(dx, g, N, HW, C);
    float *d_x = dev(x, ni), *d_y = dev_nan(no), *d_g = dev(g, no), *d_dx = dev(dx0, ni);
    avgpool_forward_cuda(d_y, d_x, N, HW, C);
    avgpool_backward_cuda(d_dx, d_g, N, HW, C);
    char what[96];
    snprintf(what, sizeof what, "avgpool N%d HW%d C%d forward", N, HW, C);
    expect(what, d_y, y, no, TOL_FWD);
    snprintf(what, sizeof what, "avgpool N%d HW%d C%d backward (+=)", N, HW, C);
    expect(what, d_dx, dx, ni, TOL_GRAD);
    dev_release();
    free(x); free(g); free(dx0); free(y); free(dx);
}

// ---- conv2d (cuDNN) ----
static void test_conv2d(int N, int H, int W, int Ci, int Co, int K, int stride) {
    int Ho, Wo, pt, pl;
    conv_same_geometry(&Ho, &pt, H, K, stride);
    conv_same_geometry(&Wo, &pl, W, K, stride);
    char tag[96];
    snprintf(tag, sizeof tag, "conv2d N%d %dx%d Ci%d Co%d K%d s%d", N, H, W, Ci, Co, K, stride);
    size_t ni = (size_t)N * H * W * Ci, no = (size_t)N * Ho * Wo * Co, nw = (size_t)K * K * Ci * Co;
    float *x = hrand(ni, -1, 1), *w = hrand(nw, -1, 1), *g = hrand(no, -1, 1);
    float *dx0 = hrand(ni, -1, 1), *dw0 = hrand(nw, -1, 1);
    float *y = gs_malloc(no * sizeof(float)), *dx = hcopy(dx0, ni), *dwc = hcopy(dw0, nw);
    conv2d_forward(y, x, w, test_work(conv2d_work_floats(Ci, Co, K, Ho, Wo)), N, H, W, Ci, Co, K, stride, pt, pl, Ho,
                   Wo);
    conv2d_backward(dx, dwc, g, x, w, test_work(conv2d_work_floats(Ci, Co, K, Ho, Wo)), N, H, W, Ci, Co, K, stride, pt,
                    pl, Ho, Wo);

    float *d_x = dev(x, ni), *d_w = dev(w, nw), *d_g = dev(g, no), *d_y = dev_nan(no);
    float *d_dx = dev(dx0, ni), *d_dw = dev(dw0, nw);
    conv2d_forward_cuda(d_y, d_x, d_w, N, H, W, Ci, Co, K, stride, pt, pl, Ho, Wo);
    conv2d_backward_cuda(d_dx, d_dw, d_g, d_x, d_w, N, H, W, Ci, Co, K, stride, pt, pl, Ho, Wo);
    char what[160];
    snprintf(what, sizeof what, "%s out", tag);
    expect(what, d_y, y, no, TOL_FWD);
    snprintf(what, sizeof what, "%s dinp (+=)", tag);
    expect(what, d_dx, dx, ni, TOL_GRAD);
    snprintf(what, sizeof what, "%s dw (+=)", tag);
    expect(what, d_dw, dwc, nw, TOL_GRAD);
    dev_release();
    free(x); free(w); free(g); free(dx0); free(dw0); free(y); free(dx); free(dwc);
}

int main(void) {
    cuda_test_begin(20240611);

    test_depthwise(2, 7, 7, 17, 3, 1);
    test_depthwise(3, 9, 9, 16, 3, 2);
    test_depthwise(2, 13, 13, 17, 3, 2);
    test_depthwise(2, 8, 8, 32, 3, 2);  // even size: Keras pads 0 before, 1 after
    test_depthwise(1, 9, 9, 8, 5, 1);
    test_depthwise(2, 28, 28, 144, 3, 1);  // several wgrad chunks, float4 path

    for (int act = 0; act < 3; act++) {
        test_batchnorm(7 * 7 * 3, 17, act);
        test_batchnorm(5000, 96, act);  // several statistics chunks
    }
    test_batchnorm(61, 5, GS_ACT_RELU6);

    test_elementwise(1001);
    test_elementwise(1 << 17);
    test_avgpool(3, 49, 17);
    test_avgpool(2, 169, 96);

    test_conv2d(2, 9, 9, 3, 8, 3, 2);
    test_conv2d(2, 8, 8, 3, 32, 3, 2);  // Conv1's case: stride 2, even size, pad 0 before / 1 after
    test_conv2d(1, 13, 13, 5, 7, 3, 1);
    test_conv2d(2, 7, 9, 17, 6, 3, 1);
    return cuda_test_end();
}

#endif
