// runtime.precision = bf16 in the GPU executor: every GEMM of the ops rounds its two operands to
// bf16 and accumulates in fp32 (gs_cuda_gemm_bf16, cuda/runtime.cu).
//  - The GEMMs themselves, exactly: matmul's three (forward with its bias, dinp and dw accumulating)
//    against the same sums on the host over operands rounded with gesture/precision.h (products of
//    bf16 values are exact in fp32; only the fp32 summation order differs).
//  - seed_small.keras (Keras-trained) on its stored clips: probabilities against Keras's own.
//  - The small model of test_cuda_model.c, bf16 against fp32 on the GPU from the same weights and
//    inputs: the training loss (TOL_LOSS_BF16 says why that bound),
//    every parameter's gradient within TOL_GRAD_BF16 (norm-wise) -- the backward teacher-forced
//    from the fp32 forward state, as test_cuda_model.c does and for its reason (ReLU6 kinks). The
//    step visibly ran in bf16.
// Exits 77 (ctest SKIP) without the CUDA backend or a device.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#ifndef GESTURE_WITH_CUDA
int main(void) { test_skip("CUDA backend not built (configure with -DGESTURE_CUDA=ON): skipped"); }
#else

#include "cuda_testutil.h"
#include "gesture/keras.h"
#include "gesture/model.h"
#include "gesture/model_cuda.h"
#include "gesture/precision.h"

// fp32 sums of exact products: K * 2^-24 relative at worst, far below 1e-5 at K <= 100.
#define TOL_GEMM 1e-5
// bf16 operands carry 2^-9 relative error each and a forward pass chains 52 GEMM layers. A training
// forward of the small model normalizes each BN over its batch, here 6 frames of at most 8x8
// pixels: channels whose batch variance is tiny scale rounding noise up (its probabilities move by
// ~9%); its loss measured 1.0% off fp32 -> 5e-2 (a wrong operand, transpose or stride moves it by
// tens of %). Inference is checked on seed_small.keras instead (TOL_KERAS_BF16): the small model
// at Keras's initial moving statistics saturates its ReLU6s, so bf16 and fp32 give the same bits.
#define TOL_LOSS_BF16 5e-2
// Gradients through bf16 GEMMs, from the same forward state: measured worst tensor 1.5% off fp32
// (norm-wise), the whole gradient 1.1%. Tensors zero in exact arithmetic (below 1e-6 of the largest
// gradient; test_cuda_model.c) must stay float noise (below 1e-3 of the largest; measured 6e-5).
#define TOL_GRAD_BF16 5e-2
// seed_small.keras is ill conditioned in bf16 (tests/test_cuda_plan.c, TOL_BF16): measured on the
// emulator 0.036 off Keras's fp32 probabilities (as the bf16 plan); Keras's own mixed_bfloat16
// policy is 0.016 off.
#define TOL_KERAS_BF16 6e-2

// The three GEMMs of matmul_forward_cuda / matmul_backward_cuda (the 1x1 convs and dense layers:
// NN with the bias as beta = 1, NT and TN accumulating into their outputs) with bf16 operands,
// against the host: out = inp @ w + bias, dinp += dout @ w^T, dw += inp^T @ dout.
static void matmul_case(int M, int K, int N) {
    float *inp = hrand((size_t)M * K, -1, 1), *w = hrand((size_t)K * N, -1, 1), *bias = hrand((size_t)N, -1, 1);
    float *dout = hrand((size_t)M * N, -1, 1), *dinp0 = hrand((size_t)M * K, -1, 1), *dw0 = hrand((size_t)K * N, -1, 1);
    double *out = calloc((size_t)M * N, sizeof(double)), *dinp = calloc((size_t)M * K, sizeof(double));
    double *dw = calloc((size_t)K * N, sizeof(double));
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = bias[j];
            for (int k = 0; k < K; k++)
                s += (double)gs_bf16_round(inp[(size_t)i * K + k]) * gs_bf16_round(w[(size_t)k * N + j]);
            out[(size_t)i * N + j] = s;
        }
    for (int i = 0; i < M; i++)
        for (int k = 0; k < K; k++) {
            double s = dinp0[(size_t)i * K + k];
            for (int j = 0; j < N; j++)
                s += (double)gs_bf16_round(dout[(size_t)i * N + j]) * gs_bf16_round(w[(size_t)k * N + j]);
            dinp[(size_t)i * K + k] = s;
        }
    for (int k = 0; k < K; k++)
        for (int j = 0; j < N; j++) {
            double s = dw0[(size_t)k * N + j];
            for (int i = 0; i < M; i++)
                s += (double)gs_bf16_round(inp[(size_t)i * K + k]) * gs_bf16_round(dout[(size_t)i * N + j]);
            dw[(size_t)k * N + j] = s;
        }
    float *d_inp = dev(inp, (size_t)M * K), *d_w = dev(w, (size_t)K * N), *d_bias = dev(bias, (size_t)N);
    float *d_out = dev_nan((size_t)M * N), *d_dout = dev(dout, (size_t)M * N);
    float *d_dinp = dev(dinp0, (size_t)M * K), *d_dw = dev(dw0, (size_t)K * N);
    int prev = gs_cuda_gemm_bf16(1);
    matmul_forward_cuda(d_out, d_inp, d_w, d_bias, M, K, N);
    matmul_backward_cuda(d_dinp, d_dw, NULL, d_dout, d_inp, d_w, M, K, N);
    gs_cuda_gemm_bf16(prev);
    char what[96];
    float *got;
    snprintf(what, sizeof what, "bf16 matmul forward (NN) %dx%dx%d", M, K, N);
    check_close(what, got = download(d_out, (size_t)M * N), out, (size_t)M * N, TOL_GEMM);
    free(got);
    snprintf(what, sizeof what, "bf16 matmul dinp += (NT) %dx%dx%d", M, K, N);
    check_close(what, got = download(d_dinp, (size_t)M * K), dinp, (size_t)M * K, TOL_GEMM);
    free(got);
    snprintf(what, sizeof what, "bf16 matmul dw += (TN) %dx%dx%d", M, K, N);
    check_close(what, got = download(d_dw, (size_t)K * N), dw, (size_t)K * N, TOL_GEMM);
    free(got);
    dev_release();
    free(inp), free(w), free(bias), free(dout), free(dinp0), free(dw0), free(out), free(dinp), free(dw);
}

// |a - b| / |b| over one tensor, as norms.
// b NULL: the norm of a.
static double rel_norm(const float *a, const float *b, size_t n) {
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        double bi = b ? b[i] : 0;
        d += ((double)a[i] - bi) * ((double)a[i] - bi);
        r += bi * bi;
    }
    return r > 0 ? sqrt(d / r) : sqrt(d);
}

// A training step of m on the GPU in `bf16` from the host parameters: forward loss and
// probabilities, then the backward from the forward state `state` (NULL: its own), its gradients.
typedef struct {
    float loss, ce, probs[2 * 5];
    float *act;   // the forward's arena
    float *grad;  // (numel_trainable)
} step_result;

static void gpu_step(step_result *r, gs_model *m, const float *x, const int *labels, int bf16, const float *state) {
    const gs_model_arch *cfg = &m->cfg;
    gs_model_cuda g;
    if (model_cuda_init(&g, m)) gs_fatal("model_cuda_init: %s", gs_last_error());
    model_cuda_set_precision(&g, bf16);
    size_t nin = (size_t)cfg->batch * cfg->frames * cfg->size * cfg->size * 3;
    gs_cuda_upload(model_cuda_input(&g), x, nin * sizeof(float));
    model_cuda_set_labels(&g, labels, cfg->batch);
    long step0 = m->step;
    model_cuda_forward(&g, cfg->batch, 1, 1);
    m->step = step0;  // the same dropout masks for every run
    model_cuda_read_loss(&g);
    r->loss = m->loss;
    r->ce = m->ce_loss;
    model_cuda_read_probs(&g, r->probs, cfg->batch);
    r->act = gs_malloc(m->arena_floats * sizeof(float));
    gs_cuda_download(r->act, g.e.arena, m->arena_floats * sizeof(float));
    if (state) gs_cuda_upload(g.e.arena, state, m->arena_floats * sizeof(float));
    model_cuda_backward(&g);
    r->grad = gs_malloc(m->params.numel_trainable * sizeof(float));
    gs_cuda_download(r->grad, g.e.grad, m->params.numel_trainable * sizeof(float));
    model_cuda_free(&g);
}

// seed_small.keras (a model Keras trained) on its stored clips, inference through the executor in
// fp32 and bf16, against the probabilities Keras predicted: fp32 within 1e-4, bf16 within
// TOL_KERAS_BF16 with the same predicted classes.
static void test_keras_model(void) {
    const char *dir = test_path(test_source_dir(), "tests/fixtures/keras");
    const char *path = test_path(dir, "seed_small.keras"), *exp = test_path(dir, "seed_small_expected.h5");
    gs_model_arch a;
    gs_keras_info info;
    gs_model m;
    int rc = keras_infer_arch(&a, &info, path);
    if (!check(rc == 0, "infer seed_small.keras: %s", rc ? gs_last_error() : "ok")) return;
    a.batch = 2;
    if (model_init(&m, &a) != 0) gs_fatal("%s", gs_last_error());
    rc = keras_load_model_file(&m, path);
    if (check(rc == 0, "load seed_small.keras: %s", rc ? gs_last_error() : "ok")) {
        size_t nx;
        float *x = fx_read_f32(exp, "x_unit", &nx);
        double *want = fx_read(exp, "probs_unit", NULL, NULL);
        int K = a.classes;
        for (int bf16 = 0; bf16 < 2; bf16++) {
            gs_model_cuda g;
            if (model_cuda_init(&g, &m)) gs_fatal("model_cuda_init: %s", gs_last_error());
            model_cuda_set_precision(&g, bf16);
            gs_cuda_upload(model_cuda_input(&g), x, nx * sizeof(float));
            model_cuda_forward(&g, 2, 0, 0);
            float probs[2 * 8];
            model_cuda_read_probs(&g, probs, 2);
            char what[96];
            snprintf(what, sizeof what, "seed_small.keras, executor in %s, vs Keras", bf16 ? "bf16" : "fp32");
            check_close(what, probs, want, (size_t)2 * K, bf16 ? TOL_KERAS_BF16 : TOL_FWD);
            for (int b = 0; b < 2; b++) {
                int kg = 0, kk = 0;
                for (int k = 1; k < K; k++) {
                    if (probs[b * K + k] > probs[b * K + kg]) kg = k;
                    if (want[b * K + k] > want[b * K + kk]) kk = k;
                }
                check(kg == kk, "%s: clip %d predicted as class %d, Keras %d", what, b, kg, kk);
            }
            model_cuda_free(&g);
        }
        free(x);
        free(want);
    }
    model_free(&m);
}

int main(void) {
    cuda_test_begin(1616);
    const int shapes[][3] = {{37, 53, 29}, {1, 24, 16}, {64, 3, 8}, {5, 1, 96}};
    for (int s = 0; s < 4; s++) matmul_case(shapes[s][0], shapes[s][1], shapes[s][2]);

    test_keras_model();
    gs_model m;
    small_model_init(&m);
    const gs_model_arch *cfg = &m.cfg;
    size_t nin = (size_t)cfg->batch * cfg->frames * cfg->size * cfg->size * 3;
    float *x = hrand(nin, 0, 1);
    int labels[2] = {3, 1};
    step_result f32, b16;
    gpu_step(&f32, &m, x, labels, 0, NULL);
    gpu_step(&b16, &m, x, labels, 1, f32.act);  // the backward from the fp32 forward state
    check(b16.loss != f32.loss, "the bf16 step's loss (%.7g) is not fp32's (%.7g): bf16 ran", b16.loss, f32.loss);
    check(fabs((double)b16.loss - f32.loss) <= TOL_LOSS_BF16 * fabs((double)f32.loss),
          "training loss: bf16 %.7g, fp32 %.7g", b16.loss, f32.loss);
    const gs_params *ps = &m.params;
    double worst = 0, biggest = 0, zero_worst = 0;
    int zeros = 0;
    const char *worst_name = "";
    for (int i = 0; i < ps->n; i++)
        if (ps->p[i].trainable) biggest = fmax(biggest, rel_norm(f32.grad + ps->p[i].offset, NULL, ps->p[i].numel));
    for (int i = 0; i < ps->n; i++) {
        const gs_param *p = &ps->p[i];
        if (!p->trainable) continue;
        double e = rel_norm(b16.grad + p->offset, f32.grad + p->offset, p->numel);
        double norm = rel_norm(f32.grad + p->offset, NULL, p->numel);
        if (norm < 1e-6 * biggest) {  // zero in exact arithmetic (a BN beta followed by another BN)
            zeros++;
            zero_worst = fmax(zero_worst, rel_norm(b16.grad + p->offset, NULL, p->numel) / biggest);
            continue;
        }
        if (e > worst) worst = e, worst_name = p->name;
    }
    double all = rel_norm(b16.grad, f32.grad, ps->numel_trainable);
    printf("gradients, bf16 vs fp32: worst tensor %s %.3e, all %.3e (norm-wise)\n", worst_name, worst, all);
    check(worst <= TOL_GRAD_BF16, "every gradient tensor within %.0e of fp32's (worst %s: %.3e)", TOL_GRAD_BF16,
          worst_name, worst);
    check(all > 0, "the bf16 backward differs from fp32's (%.3e): bf16 ran", all);
    check(zeros > 0 && zero_worst <= 1e-3,
          "%d gradients zero in exact arithmetic stay float noise in bf16 (%.1e of the largest gradient)", zeros,
          zero_worst);
    free(x);
    free(f32.act);
    free(f32.grad);
    free(b16.act);
    free(b16.grad);
    model_free(&m);
    return cuda_test_end();
}
#endif
