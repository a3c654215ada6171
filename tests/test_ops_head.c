// Head ops (GRU, dropout, softmax cross-entropy, L2, Adam) against the PyTorch references in
// ops_head.h5 (scripts/ref_ops_head.py): forward within 1e-4, gradients within 1e-3 of the
// float64 reference, plus the backward accumulate (+=) and NULL-skip contract.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"
#include "gesture/ops.h"
#include "gesture/rng.h"
#include "testutil.h"

#define TOL_FWD 1e-4
#define TOL_GRAD 1e-3

static const char *FILE_;

// The references of ops_head.h5 (testutil's fixture readers bound to the file).
static double rd_scalar(const char *name) { return fx_read_scalar(FILE_, name); }
static float *rd(const char *group, int i, const char *sub) { return fx_read_case_f32(FILE_, group, i, sub, NULL); }
static double *rd64(const char *group, int i, const char *sub) { return fx_read_case(FILE_, group, i, sub); }

static void check_named(const char *group, int i, const char *what, const float *got,
                        const double *want, size_t n, double tol) {
    char label[128];
    snprintf(label, sizeof label, "%s case%d %s", group, i, what);
    check_close(label, got, want, n, tol);
}

// One Bidirectional GRU: both directions write into one (B,2H) buffer through out_stride.
static void test_gru_case(int i, int check_contract) {
    int *dims = fx_read_case_int(FILE_, "gru", i, "dims");
    const int B = dims[0], T = dims[1], D = dims[2], H = dims[3], G = 3 * H;
    free(dims);
    const char *F = "gru";
    float *x = rd(F, i, "x"), *dout = rd(F, i, "dout");
    const char *dir[2] = {"fwd", "bwd"};
    float *k[2], *rk[2], *bias[2], *cache[2];
    float *out = gs_calloc((size_t)B * 2 * H, sizeof(float));
    for (int d = 0; d < 2; d++) {
        char sub[64];
        snprintf(sub, sizeof sub, "%s/kernel", dir[d]);
        k[d] = rd(F, i, sub);
        snprintf(sub, sizeof sub, "%s/recurrent_kernel", dir[d]);
        rk[d] = rd(F, i, sub);
        snprintf(sub, sizeof sub, "%s/bias", dir[d]);
        bias[d] = rd(F, i, sub);
        cache[d] = gs_malloc(gru_cache_floats(B, T, H) * sizeof(float));
        gru_forward(out + d * H, cache[d], x, k[d], rk[d], bias[d], B, T, D, H, 2 * H, d);
    }
    double *want = rd64(F, i, "out");
    check_named("gru", i, "out (B,2H)", out, want, (size_t)B * 2 * H, TOL_FWD);
    free(want);

    // Prefilling the gradients with a constant checks += in the same comparison.
    const float pre = check_contract ? 0.25f : 0.0f;
    const size_t nx = (size_t)B * T * D;
    float *dx = gs_malloc(nx * sizeof(float));
    for (size_t j = 0; j < nx; j++) dx[j] = pre;
    for (int d = 0; d < 2; d++) {
        size_t nk = (size_t)D * G, nr = (size_t)H * G, nb = 2 * (size_t)G;
        float *dk = gs_malloc(nk * sizeof(float)), *dr = gs_malloc(nr * sizeof(float));
        float *db = gs_malloc(nb * sizeof(float));
        for (size_t j = 0; j < nk; j++) dk[j] = pre;
        for (size_t j = 0; j < nr; j++) dr[j] = pre;
        for (size_t j = 0; j < nb; j++) db[j] = pre;
        gru_backward(dx, dk, dr, db, dout + d * H, cache[d], x, k[d], rk[d], test_work(gru_work_floats(B, T, H)), B, T,
                     D, H, 2 * H, d);
        const char *gname[3] = {"dkernel", "drecurrent_kernel", "dbias"};
        float *got[3] = {dk, dr, db};
        size_t n[3] = {nk, nr, nb};
        for (int g = 0; g < 3; g++) {
            char sub[64], label[96];
            snprintf(sub, sizeof sub, "%s/%s", dir[d], gname[g]);
            double *w = rd64(F, i, sub);
            for (size_t j = 0; j < n[g]; j++) w[j] += pre;
            snprintf(label, sizeof label, "%s%s", sub, check_contract ? " (+= prefill)" : "");
            check_named("gru", i, label, got[g], w, n[g], TOL_GRAD);
            free(w);
        }
        if (check_contract && d == 1) {
            // NULL outputs are skipped and do not change the others.
            float *dk2 = gs_calloc(nk, sizeof(float));
            gru_backward(NULL, dk2, NULL, NULL, dout + d * H, cache[d], x, k[d], rk[d],
                         test_work(gru_work_floats(B, T, H)), B, T, D, H, 2 * H, d);
            double maxdiff = 0;
            for (size_t j = 0; j < nk; j++) maxdiff = fmax(maxdiff, fabs(dk2[j] + pre - dk[j]));
            check(maxdiff < 1e-6, "gru case%d NULL dx/drkernel/dbias skipped, dkernel unchanged "
                  "(max diff %.2e)", i, maxdiff);
            free(dk2);
        }
        free(dk);
        free(dr);
        free(db);
    }
    double *wdx = rd64(F, i, "dx");
    for (size_t j = 0; j < nx; j++) wdx[j] += pre;
    check_named("gru", i, check_contract ? "dx both directions (+= prefill)" : "dx both directions",
                dx, wdx, nx, TOL_GRAD);
    free(wdx);
    for (int d = 0; d < 2; d++) {
        free(k[d]);
        free(rk[d]);
        free(bias[d]);
        free(cache[d]);
    }
    free(dx);
    free(out);
    free(x);
    free(dout);
}

static void test_dropout(void) {
    const int n_cases = (int)rd_scalar("dropout/n_cases");
    const char *F = "dropout";
    for (int i = 0; i < n_cases; i++) {
        size_t n;
        float *x = fx_read_case_f32(FILE_, F, i, "x", &n);
        float *dout = rd(F, i, "dout");
        int *ka = fx_read_case_int(FILE_, F, i, "key_args");
        const uint64_t key = gs_key((uint64_t)ka[0], (uint64_t)ka[1], (uint64_t)ka[2]);
        free(ka);
        double *r = rd64(F, i, "rate");
        const float rate = (float)r[0];
        free(r);
        float *out = gs_malloc(n * sizeof(float)), *dinp = gs_malloc(n * sizeof(float));
        dropout_forward(out, x, n, rate, key);
        double *w = rd64(F, i, "out");
        check_named("dropout", i, "out", out, w, n, TOL_FWD);
        free(w);
        for (size_t j = 0; j < n; j++) dinp[j] = 1.0f;
        dropout_backward(dinp, dout, n, rate, key);
        w = rd64(F, i, "dinp");
        for (size_t j = 0; j < n; j++) w[j] += 1.0;
        check_named("dropout", i, "dinp (+= prefill 1)", dinp, w, n, TOL_GRAD);
        free(w);
        // In place (out == inp) gives the same result.
        dropout_forward(x, x, n, rate, key);
        int same = memcmp(x, out, n * sizeof(float)) == 0;
        check(same, "dropout case%d in place == out of place", i);
        free(x);
        free(dout);
        free(out);
        free(dinp);
    }

    // Empirical keep rate of the counter-RNG mask: binomial, 6 sigma.
    const size_t n = 1u << 20;
    const float rate = 0.25f;
    float *ones = gs_malloc(n * sizeof(float)), *o = gs_malloc(n * sizeof(float));
    for (size_t j = 0; j < n; j++) ones[j] = 1.0f;
    dropout_forward(o, ones, n, rate, gs_key(99, 5, 6));
    size_t kept = 0;
    int values_ok = 1;
    for (size_t j = 0; j < n; j++) {
        if (o[j] != 0.0f) {
            kept++;
            values_ok &= fabsf(o[j] - 1.0f / (1.0f - rate)) < 1e-6f;
        }
    }
    double p = 1.0 - rate, sd = sqrt(n * p * (1 - p));
    check(fabs((double)kept - n * p) < 6 * sd && values_ok,
          "dropout keep fraction %.5f (want %.2f +- %.5f), kept values = 1/(1-rate)",
          (double)kept / n, p, 6 * sd / n);
    // A different key gives a different mask (same key, same mask is implied by the fixture).
    float *o2 = gs_malloc(n * sizeof(float));
    dropout_forward(o2, ones, n, rate, gs_key(99, 5, 7));
    size_t differ = 0;
    for (size_t j = 0; j < n; j++) differ += (o[j] != 0.0f) != (o2[j] != 0.0f);
    double pd = 2 * p * (1 - p);  // P(masks disagree) for independent masks
    check(fabs((double)differ - n * pd) < 6 * sqrt(n * pd * (1 - pd)),
          "dropout masks of two keys independent (disagree %.4f, want %.4f)", (double)differ / n, pd);
    free(ones);
    free(o);
    free(o2);
}

static void test_softmax_ce(void) {
    const int n_cases = (int)rd_scalar("softmax_ce/n_cases");
    const char *F = "softmax_ce";
    for (int i = 0; i < n_cases; i++) {
        int *dims = fx_read_case_int(FILE_, F, i, "dims");
        const int B = dims[0], K = dims[1];
        free(dims);
        float *logits = rd(F, i, "logits");
        int *labels = fx_read_case_int(FILE_, F, i, "labels");
        float *probs = gs_malloc((size_t)B * K * sizeof(float)), *losses = gs_malloc(B * sizeof(float));
        float loss = softmax_ce_forward(probs, losses, logits, labels, B, K);
        double *w = rd64(F, i, "loss");
        check_named("softmax_ce", i, "mean loss", &loss, w, 1, TOL_FWD);
        free(w);
        w = rd64(F, i, "losses");
        check_named("softmax_ce", i, "losses", losses, w, B, TOL_FWD);
        free(w);
        w = rd64(F, i, "probs");
        check_named("softmax_ce", i, "probs", probs, w, (size_t)B * K, TOL_FWD);
        free(w);
        // scale 0.5 onto a prefill of -1: dlogits = -1 + 0.5 * ref.
        float *dl = gs_malloc((size_t)B * K * sizeof(float));
        for (int j = 0; j < B * K; j++) dl[j] = -1.0f;
        softmax_ce_backward(dl, probs, labels, B, K, 0.5f);
        w = rd64(F, i, "dlogits");
        for (int j = 0; j < B * K; j++) w[j] = -1.0 + 0.5 * w[j];
        check_named("softmax_ce", i, "dlogits (scale 0.5, += prefill)", dl, w, (size_t)B * K,
                    TOL_GRAD);
        free(w);
        free(dl);
        free(logits);
        free(labels);
        free(probs);
        free(losses);
    }
}

static void test_l2(void) {
    size_t n;
    float *w = fx_read_f32(FILE_, "l2/w", &n);
    const float l2 = (float)rd_scalar("l2/l2");
    float loss = l2_forward(w, n, l2);
    double *want = fx_read(FILE_, "l2/loss", NULL, NULL);
    check_close("l2 loss", &loss, want, 1, TOL_FWD);
    free(want);
    float *dw = gs_calloc(n, sizeof(float));
    l2_backward(dw, w, n, l2);
    want = fx_read(FILE_, "l2/dw", NULL, NULL);
    check_close("l2 dw", dw, want, n, TOL_GRAD);
    free(want);
    free(dw);
    free(w);
}

static void test_adam(void) {
    const int steps = (int)rd_scalar("adam/n_steps");
    const float lr = (float)rd_scalar("adam/lr"), b1 = (float)rd_scalar("adam/beta1");
    const float b2 = (float)rd_scalar("adam/beta2"), eps = (float)rd_scalar("adam/eps");
    size_t n;
    float *p = fx_read_f32(FILE_, "adam/params0", &n);
    float *grads = fx_read_f32(FILE_, "adam/grads", NULL);
    double *wp = fx_read(FILE_, "adam/params", NULL, NULL);
    double *wm = fx_read(FILE_, "adam/m", NULL, NULL);
    double *wv = fx_read(FILE_, "adam/v", NULL, NULL);
    float *m = gs_calloc(n, sizeof(float)), *v = gs_calloc(n, sizeof(float));
    float *prev = gs_malloc(n * sizeof(float)), *delta = gs_malloc(n * sizeof(float));
    double *wdelta = gs_malloc(n * sizeof(double));
    double *p0 = fx_read(FILE_, "adam/params0", NULL, NULL);
    for (int t = 1; t <= steps; t++) {
        memcpy(prev, p, n * sizeof(float));
        adam_update(p, m, v, grads + (size_t)(t - 1) * n, n, lr, b1, b2, eps, t);
        const double *wpt = wp + (size_t)(t - 1) * n;
        const double *wprev = t > 1 ? wp + (size_t)(t - 2) * n : p0;
        // The parameters are O(0.1) and move by O(lr): compare the step itself, or a wrong
        // update would hide under the parameter scale.
        for (size_t j = 0; j < n; j++) {
            delta[j] = p[j] - prev[j];
            wdelta[j] = wpt[j] - wprev[j];
        }
        char label[64];
        snprintf(label, sizeof label, "adam step %d params", t);
        check_close(label, p, wpt, n, TOL_FWD);
        snprintf(label, sizeof label, "adam step %d update p_t - p_{t-1}", t);
        check_close(label, delta, wdelta, n, TOL_FWD);
        snprintf(label, sizeof label, "adam step %d m", t);
        check_close(label, m, wm + (size_t)(t - 1) * n, n, TOL_FWD);
        snprintf(label, sizeof label, "adam step %d v", t);
        check_close(label, v, wv + (size_t)(t - 1) * n, n, TOL_FWD);
    }
    free(p);
    free(grads);
    free(wp);
    free(wm);
    free(wv);
    free(m);
    free(v);
    free(prev);
    free(delta);
    free(wdelta);
    free(p0);
}

int main(void) {
    FILE_ = strdup(fx_path("ops_head.h5"));
    const int n_gru = (int)rd_scalar("gru/n_cases");
    for (int i = 0; i < n_gru; i++) test_gru_case(i, i == 0);
    test_dropout();
    test_softmax_ce();
    test_l2();
    test_adam();
    free((void *)FILE_);
    return test_finish();
}
