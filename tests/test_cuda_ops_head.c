// CUDA ops of the dense part of the model against their CPU twins on random inputs: matmul
// (cuBLAS), the Keras GRU in both directions writing into one (B,2H) buffer, softmax
// cross-entropy, the L2 penalty and Adam. Forward within 1e-4, gradients within 1e-3 of the CPU
// result; outputs poisoned with NaN, gradient buffers start from the same random values on both
// sides (backward ops ACCUMULATE). Exits 77 (ctest SKIP) without the CUDA backend or a device.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#ifndef GESTURE_WITH_CUDA
int main(void) { test_skip("CUDA backend not built (configure with -DGESTURE_CUDA=ON): skipped"); }
#else

#include "cuda_testutil.h"

static void test_matmul(int M, int K, int Nout, int with_bias) {
    char tag[96];
    snprintf(tag, sizeof tag, "matmul %dx%dx%d%s", M, K, Nout, with_bias ? " +bias" : "");
    size_t ni = (size_t)M * K, no = (size_t)M * Nout, nw = (size_t)K * Nout;
    float *x = hrand(ni, -1, 1), *w = hrand(nw, -1, 1), *b = hrand(Nout, -1, 1), *g = hrand(no, -1, 1);
    float *dx0 = hrand(ni, -1, 1), *dw0 = hrand(nw, -1, 1), *db0 = hrand(Nout, -1, 1);
    float *y = gs_malloc(no * sizeof(float)), *dx = hcopy(dx0, ni), *dw = hcopy(dw0, nw), *db = hcopy(db0, Nout);
    matmul_forward(y, x, w, with_bias ? b : NULL, M, K, Nout);
    matmul_backward(dx, dw, with_bias ? db : NULL, g, x, w, test_work(matmul_work_floats(K, Nout)), M, K, Nout);

    float *d_x = dev(x, ni), *d_w = dev(w, nw), *d_b = dev(b, Nout), *d_g = dev(g, no), *d_y = dev_nan(no);
    float *d_dx = dev(dx0, ni), *d_dw = dev(dw0, nw), *d_db = dev(db0, Nout);
    matmul_forward_cuda(d_y, d_x, d_w, with_bias ? d_b : NULL, M, K, Nout);
    matmul_backward_cuda(d_dx, d_dw, with_bias ? d_db : NULL, d_g, d_x, d_w, M, K, Nout);
    char what[160];
    snprintf(what, sizeof what, "%s out", tag);
    expect(what, d_y, y, no, TOL_FWD);
    snprintf(what, sizeof what, "%s dinp (+=)", tag);
    expect(what, d_dx, dx, ni, TOL_GRAD);
    snprintf(what, sizeof what, "%s dw (+=)", tag);
    expect(what, d_dw, dw, nw, TOL_GRAD);
    if (with_bias) {
        snprintf(what, sizeof what, "%s dbias (+=)", tag);
        expect(what, d_db, db, Nout, TOL_GRAD);
    }
    dev_release();
    free(x); free(w); free(b); free(g); free(dx0); free(dw0); free(db0); free(y); free(dx); free(dw); free(db);
}

// Both directions, as the BiGRU node runs them: final states side by side in (B,2H), dx shared.
static void test_gru(int B, int T, int D, int H) {
    char tag[96];
    snprintf(tag, sizeof tag, "gru B%d T%d D%d H%d", B, T, D, H);
    int G = 3 * H;
    size_t nx = (size_t)B * T * D, nk = (size_t)D * G, nr = (size_t)H * G, nb = 2 * (size_t)G;
    size_t nc = gru_cache_floats(B, T, H), no = (size_t)B * 2 * H;
    float *x = hrand(nx, -1, 1), *g = hrand(no, -1, 1), *dx0 = hrand(nx, -1, 1);
    float *k[2], *r[2], *b[2], *dk0[2], *dr0[2], *db0[2], *dk[2], *dr[2], *db[2], *cache[2];
    float *d_k[2], *d_r[2], *d_b[2], *d_dk[2], *d_dr[2], *d_db[2], *d_cache[2];
    float *y = gs_malloc(no * sizeof(float)), *dx = hcopy(dx0, nx);
    float *d_x = dev(x, nx), *d_g = dev(g, no), *d_dx = dev(dx0, nx), *d_y = dev_nan(no);
    for (int d = 0; d < 2; d++) {
        k[d] = hrand(nk, -0.3f, 0.3f);
        r[d] = hrand(nr, -0.5f, 0.5f);
        b[d] = hrand(nb, -0.5f, 0.5f);
        dk0[d] = hrand(nk, -1, 1);
        dr0[d] = hrand(nr, -1, 1);
        db0[d] = hrand(nb, -1, 1);
        dk[d] = hcopy(dk0[d], nk);
        dr[d] = hcopy(dr0[d], nr);
        db[d] = hcopy(db0[d], nb);
        cache[d] = gs_malloc(nc * sizeof(float));
        d_k[d] = dev(k[d], nk);
        d_r[d] = dev(r[d], nr);
        d_b[d] = dev(b[d], nb);
        d_dk[d] = dev(dk0[d], nk);
        d_dr[d] = dev(dr0[d], nr);
        d_db[d] = dev(db0[d], nb);
        d_cache[d] = dev_nan(nc);
    }
    for (int d = 0; d < 2; d++) {
        gru_forward(y + d * H, cache[d], x, k[d], r[d], b[d], B, T, D, H, 2 * H, d);
        gru_forward_cuda(d_y + d * H, d_cache[d], d_x, d_k[d], d_r[d], d_b[d], B, T, D, H, 2 * H, d);
    }
    for (int d = 0; d < 2; d++) {
        gru_backward(dx, dk[d], dr[d], db[d], g + d * H, cache[d], x, k[d], r[d], test_work(gru_work_floats(B, T, H)),
                     B, T, D, H, 2 * H, d);
        gru_backward_cuda(d_dx, d_dk[d], d_dr[d], d_db[d], d_g + d * H, d_cache[d], d_x, d_k[d], d_r[d], B, T, D, H,
                          2 * H, d);
    }
    char what[160];
    snprintf(what, sizeof what, "%s out (both directions)", tag);
    expect(what, d_y, y, no, TOL_FWD);
    snprintf(what, sizeof what, "%s dx (both directions, +=)", tag);
    expect(what, d_dx, dx, nx, TOL_GRAD);
    for (int d = 0; d < 2; d++) {
        const char *dir = d ? "backward" : "forward";
        snprintf(what, sizeof what, "%s %s dkernel (+=)", tag, dir);
        expect(what, d_dk[d], dk[d], nk, TOL_GRAD);
        snprintf(what, sizeof what, "%s %s drkernel (+=)", tag, dir);
        expect(what, d_dr[d], dr[d], nr, TOL_GRAD);
        snprintf(what, sizeof what, "%s %s dbias (+=)", tag, dir);
        expect(what, d_db[d], db[d], nb, TOL_GRAD);
    }
    dev_release();
    for (int d = 0; d < 2; d++) {
        free(k[d]); free(r[d]); free(b[d]); free(dk0[d]); free(dr0[d]); free(db0[d]);
        free(dk[d]); free(dr[d]); free(db[d]); free(cache[d]);
    }
    free(x); free(g); free(dx0); free(y); free(dx);
}

static void test_softmax_ce(int B, int K) {
    char tag[96];
    snprintf(tag, sizeof tag, "softmax_ce B%d K%d", B, K);
    size_t n = (size_t)B * K;
    float *logits = hrand(n, -3, 3), *d0 = hrand(n, -1, 1);
    int *labels = gs_malloc((size_t)B * sizeof(int));
    for (int i = 0; i < B; i++) labels[i] = (int)gs_rng_below(&rng, (uint32_t)K);
    float *p = gs_malloc(n * sizeof(float)), *losses = gs_malloc((size_t)B * sizeof(float)), *d = hcopy(d0, n);
    float mean = softmax_ce_forward(p, losses, logits, labels, B, K);
    softmax_ce_backward(d, p, labels, B, K, 0.5f);

    float *d_logits = dev(logits, n), *d_p = dev_nan(n), *d_losses = dev_nan(B), *d_mean = dev_nan(1);
    int *d_labels = dev_int(labels, B);
    softmax_ce_forward_cuda(d_p, d_losses, d_mean, d_logits, d_labels, B, K);
    float *d_pc = dev(p, n), *d_d = dev(d0, n);
    softmax_ce_backward_cuda(d_d, d_pc, d_labels, B, K, 0.5f);
    char what[160];
    snprintf(what, sizeof what, "%s probs", tag);
    expect(what, d_p, p, n, TOL_FWD);
    snprintf(what, sizeof what, "%s per-row loss", tag);
    expect(what, d_losses, losses, B, TOL_FWD);
    snprintf(what, sizeof what, "%s mean loss (device scalar)", tag);
    expect(what, d_mean, &mean, 1, TOL_FWD);
    snprintf(what, sizeof what, "%s dlogits scale 0.5 (+=)", tag);
    expect(what, d_d, d, n, TOL_GRAD);
    dev_release();
    free(logits); free(d0); free(labels); free(p); free(losses); free(d);
}

static void test_l2(size_t n) {
    float *w = hrand(n, -1, 1), *d0 = hrand(n, -1, 1), *d = hcopy(d0, n);
    float prior = 0.25f;
    float loss = prior + l2_forward(w, n, 1e-4f);
    l2_backward(d, w, n, 1e-4f);
    float *d_w = dev(w, n), *d_loss = dev(&prior, 1), *d_d = dev(d0, n);
    l2_forward_cuda(d_loss, d_w, n, 1e-4f);
    l2_backward_cuda(d_d, d_w, n, 1e-4f);
    expect("l2 forward (+= into a device scalar)", d_loss, &loss, 1, TOL_FWD);
    expect("l2 backward (+=)", d_d, d, n, TOL_GRAD);
    dev_release();
    free(w); free(d0); free(d);
}

// Three Keras-form Adam steps on fresh gradients each step.
static void test_adam(size_t n) {
    float *p = hrand(n, -1, 1), *m = hrand(n, -0.01f, 0.01f), *v = hrand(n, 0, 1e-4f);
    float *d_p = dev(p, n), *d_m = dev(m, n), *d_v = dev(v, n);
    for (long t = 1; t <= 3; t++) {
        float *g = hrand(n, -1, 1);
        float *d_g = dev(g, n);
        adam_update(p, m, v, g, n, 1e-3f, 0.9f, 0.999f, 1e-7f, t);
        adam_update_cuda(d_p, d_m, d_v, d_g, n, 1e-3f, 0.9f, 0.999f, 1e-7f, t);
        gs_cuda_sync();
        free(g);
    }
    expect("adam params after 3 steps", d_p, p, n, TOL_FWD);
    expect("adam m after 3 steps", d_m, m, n, TOL_FWD);
    expect("adam v after 3 steps", d_v, v, n, TOL_FWD);
    dev_release();
    free(p); free(m); free(v);
}

int main(void) {
    cuda_test_begin(77031);
    test_matmul(37, 17, 29, 1);
    test_matmul(5000, 16, 96, 0);  // a skinny expand conv: M = N*H*W rows, K = 16
    test_matmul(4, 256, 128, 1);   // dense_hidden at batch 4
    test_matmul(4, 128, 5, 1);     // dense_out
    test_gru(3, 5, 17, 8);
    test_gru(4, 15, 64, 32);
    test_softmax_ce(4, 5);
    test_softmax_ce(37, 17);
    test_l2(5000);
    test_adam(10001);
    return cuda_test_end();
}

#endif
