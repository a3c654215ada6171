// The inference plan (gesture/plan.h) and its kernels against the reference ops and the reference
// executor. Kernels of every tier this CPU runs: fused conv / depthwise / 1x1 conv against
// conv2d_forward / depthwise_forward / matmul_forward plus bias, activation and residual, on random
// inputs with odd sizes (channel tails, borders, stride 2, 1-pixel images) within 1e-4. The whole
// plan: random weights with random batch-norm statistics, and seed_small.keras (a model Keras
// trained and saved) on its stored clips: features, probabilities and loss within 1e-4 of
// model_forward(training = 0), in both threading modes (frames over threads, rows over threads).
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/ops/plan_kernels.h"
#include "gesture/errors.h"
#include "gesture/keras.h"
#include "gesture/model.h"
#include "gesture/ops.h"
#include "gesture/plan.h"
#include "gesture/runtime.h"
#include "testutil.h"

#define TOL 1e-4

static gs_rng RNG;

static float *rnd(size_t n, float scale) {
    float *a = test_zeros(n);
    test_fill_normal(a, &RNG, scale, n);
    return a;
}

// want[i] = act(ref[i] + bias[i % C]) (+ res[i]) in double.
static double *epilogue(const float *ref, const float *bias, const float *res, size_t n, int C, int act) {
    double *want = malloc(sizeof(double) * n);
    for (size_t i = 0; i < n; i++) {
        double v = (double)ref[i] + bias[i % (size_t)C];
        if (act == GS_ACT_RELU6) v = v < 0 ? 0 : v > 6 ? 6 : v;
        if (act == GS_ACT_RELU) v = v < 0 ? 0 : v;
        want[i] = res ? v + res[i] : v;
    }
    return want;
}

// One KxK or depthwise case, written in two row ranges (the kernels' contract: rows [y0, y1)).
static void kernel_conv_case(const plan_kernels *k, int dw, int H, int W, int Ci, int Co, int K, int s, int act) {
    plan_geom g = {H, W, Ci, 0, 0, dw ? Ci : Co, K, s, 0, 0};
    conv_same_geometry(&g.Ho, &g.pad_top, H, K, s);
    conv_same_geometry(&g.Wo, &g.pad_left, W, K, s);
    size_t no = (size_t)g.Ho * g.Wo * g.Co;
    float *x = rnd((size_t)H * W * Ci, 1.0f), *w = rnd((size_t)K * K * (dw ? 1 : Ci) * g.Co, 0.5f);
    float *bias = rnd((size_t)g.Co, 1.0f), *ref = test_zeros(no), *got = test_zeros(no);
    if (dw) {
        depthwise_forward(ref, x, w, 1, H, W, Ci, K, s, g.pad_top, g.pad_left, g.Ho, g.Wo);
    } else {
        float *work = test_work(conv2d_work_floats(Ci, Co, K, g.Ho, g.Wo));
        conv2d_forward(ref, x, w, work, 1, H, W, Ci, Co, K, s, g.pad_top, g.pad_left, g.Ho, g.Wo);
    }
    int mid = g.Ho / 2;
    void (*fn)(float *, const float *, const float *, const float *, const plan_geom *, int, int, int) =
        dw ? k->dw : k->conv;
    fn(got, x, w, bias, &g, 0, mid, act);
    fn(got, x, w, bias, &g, mid, g.Ho, act);
    double *want = epilogue(ref, bias, NULL, no, g.Co, act);
    char what[160];
    snprintf(what, sizeof what, "%s %s %dx%dx%d -> Co %d K %d s %d act %d", k->name, dw ? "depthwise" : "conv", H, W,
             Ci, g.Co, K, s, act);
    check_close(what, got, want, no, TOL);
    free(want);
    free(x), free(w), free(bias), free(ref), free(got);
}

static void kernel_pw_case(const plan_kernels *k, int M, int Ci, int Co, int act, int with_res) {
    float *x = rnd((size_t)M * Ci, 1.0f), *w = rnd((size_t)Ci * Co, 0.3f), *bias = rnd((size_t)Co, 1.0f);
    float *res = with_res ? rnd((size_t)M * Co, 1.0f) : NULL, *ref = test_zeros((size_t)M * Co);
    float *got = test_zeros((size_t)M * Co);
    matmul_forward(ref, x, w, NULL, M, Ci, Co);
    float *wp = test_zeros(k->pw_packed_floats(Ci, Co));
    k->pw_pack(wp, w, Ci, Co);
    k->pw(got, x, wp, bias, res, M, Ci, Co, act);
    free(wp);
    double *want = epilogue(ref, bias, res, (size_t)M * Co, Co, act);
    char what[128];
    snprintf(what, sizeof what, "%s 1x1 M %d Ci %d Co %d act %d res %d", k->name, M, Ci, Co, act, with_res);
    check_close(what, got, want, (size_t)M * Co, TOL);
    free(want);
    free(x), free(w), free(bias), free(res), free(ref), free(got);
}

static void test_kernels(const plan_kernels *k) {
    kernel_conv_case(k, 0, 13, 11, 3, 24, 3, 2, GS_ACT_RELU6);
    kernel_conv_case(k, 0, 9, 10, 3, 40, 3, 1, GS_ACT_NONE);
    kernel_conv_case(k, 0, 7, 5, 5, 20, 3, 2, GS_ACT_RELU);  // Co tail -> generic
    kernel_conv_case(k, 0, 1, 1, 3, 16, 3, 2, GS_ACT_RELU6);
    kernel_conv_case(k, 0, 31, 29, 3, 16, 3, 2, GS_ACT_RELU6);  // 6-pixel runs + leftovers
    kernel_conv_case(k, 0, 30, 23, 3, 64, 3, 2, GS_ACT_RELU6);  // 3-pixel runs, two 32-channel blocks
    kernel_conv_case(k, 0, 17, 14, 4, 32, 3, 1, GS_ACT_NONE);
    kernel_conv_case(k, 1, 13, 11, 19, 0, 3, 1, GS_ACT_RELU6);  // channel tail
    kernel_conv_case(k, 1, 12, 9, 32, 0, 3, 2, GS_ACT_RELU6);
    kernel_conv_case(k, 1, 7, 7, 40, 0, 3, 2, GS_ACT_NONE);
    kernel_conv_case(k, 1, 2, 2, 24, 0, 3, 2, GS_ACT_RELU6);
    kernel_conv_case(k, 1, 1, 1, 8, 0, 3, 1, GS_ACT_RELU6);
    kernel_conv_case(k, 1, 3, 1, 11, 0, 3, 2, GS_ACT_NONE);
    kernel_conv_case(k, 1, 9, 8, 16, 0, 5, 1, GS_ACT_RELU6);  // K 5 -> generic
    kernel_conv_case(k, 1, 14, 13, 24, 0, 3, 1, GS_ACT_RELU6);  // 4-pixel runs + leftovers
    kernel_conv_case(k, 1, 6, 5, 8, 0, 3, 1, GS_ACT_NONE);
    kernel_pw_case(k, 37, 13, 20, GS_ACT_NONE, 1);
    kernel_pw_case(k, 1, 7, 5, GS_ACT_RELU6, 0);
    kernel_pw_case(k, 700, 24, 144, GS_ACT_RELU6, 0);
    kernel_pw_case(k, 53, 160, 320, GS_ACT_NONE, 1);
    kernel_pw_case(k, 29, 17, 24, GS_ACT_RELU6, 1);  // a last panel of 8, rows not a multiple of 6
    kernel_pw_case(k, 3, 960, 8, GS_ACT_RELU, 0);
    kernel_pw_case(k, 2000, 1, 40, GS_ACT_RELU6, 0);
}

// ---- the whole plan ----

// BN statistics and affine parameters away from Keras' init (gamma 1, beta 0, mean 0, var 1), so
// folding them is exercised.
static void randomize_bn(gs_model *m) {
    for (int i = 0; i < m->params.n; i++) {
        const gs_param *p = &m->params.p[i];
        float *v = params_ptr(&m->params, i);
        const char *var = strrchr(p->name, '/') + 1;
        if (!strcmp(var, "gamma")) test_fill_uniform(v, &RNG, 0.5f, 1.5f, p->numel);
        else if (!strcmp(var, "beta") || !strcmp(var, "moving_mean")) test_fill_normal(v, &RNG, 0.2f, p->numel);
        else if (!strcmp(var, "moving_variance")) test_fill_uniform(v, &RNG, 0.3f, 2.0f, p->numel);
    }
}

// Plan vs model_forward(training 0) on the clips already in the model's input: features of every
// frame, probabilities, the loss with labels. `tag` names the case.
static void compare_plan(gs_model *m, int B, const char *tag) {
    const gs_model_arch *a = &m->cfg;
    gs_plan *p;
    if (!check(plan_build(&p, m) == 0, "%s: plan builds (%s)", tag, gs_last_error())) return;
    for (int b = 0; b < B; b++) m->labels[b] = (b * 3 + 1) % a->classes;
    model_forward(m, B, 0, 1);
    int gap = model_find_node(m, "global_average_pooling"), K = a->classes, C = plan_feature_width(p);
    size_t nf = (size_t)B * a->frames;
    double *want_f = malloc(sizeof(double) * nf * C), *want_p = malloc(sizeof(double) * (size_t)B * K);
    const float *ref_f = model_node_output(m, gap), *ref_p = model_probs(m);
    for (size_t i = 0; i < nf * C; i++) want_f[i] = ref_f[i];
    for (int i = 0; i < B * K; i++) want_p[i] = ref_p[i];
    double want_loss[2] = {m->ce_loss, m->l2_loss};
    float *feat = test_zeros(nf * C), *probs = test_zeros((size_t)B * K), loss[2];
    const float *clips = model_input(m);
    char what[160];
    for (int mode = 0; mode < 2; mode++) {  // frames over threads, then one frame at a time (rows)
        const char *how = mode ? "frame by frame" : "all frames";
        if (mode == 0) plan_features(p, feat, clips, (int)nf);
        else
            for (size_t f = 0; f < nf; f++) plan_features(p, feat + f * C, clips + f * a->size * a->size * 3, 1);
        snprintf(what, sizeof what, "%s: features, %s", tag, how);
        check_close(what, feat, want_f, nf * C, TOL);
        // the blocks fused in row strips (plan_block.c) against the same plan layer by layer: the same
        // kernels on the same values, so the same bits on the avx2 tier (the generic tier's sgemm may
        // block a shorter product differently)
        float *unfused = test_zeros(nf * C);
        plan_set_fused_blocks(p, 0);
        if (mode == 0) plan_features(p, unfused, clips, (int)nf);
        else
            for (size_t f = 0; f < nf; f++) plan_features(p, unfused + f * C, clips + f * a->size * a->size * 3, 1);
        plan_set_fused_blocks(p, 1);
        snprintf(what, sizeof what, "%s: features, %s, fused blocks = layer by layer", tag, how);
        if (!strcmp(plan_kernels_name(), "avx2")) check(!memcmp(unfused, feat, nf * C * sizeof(float)), "%s", what);
        else check_close_f32(what, feat, unfused, nf * C, TOL);
        free(unfused);
    }
    plan_forward(p, probs, loss, clips, m->labels, B);
    snprintf(what, sizeof what, "%s: probabilities", tag);
    check_close(what, probs, want_p, (size_t)B * K, TOL);
    snprintf(what, sizeof what, "%s: cross-entropy, L2", tag);
    check_close(what, loss, want_loss, 2, TOL);
    free(want_f), free(want_p), free(feat), free(probs);
    plan_free(p);
}

static void test_random_model(float alpha, int size, int frames, int batch, int B) {
    gs_model_arch a = {.alpha = alpha, .size = size, .frames = frames, .batch = batch, .classes = 5,
                       .gru_units = 16, .dense_units = 12, .dropout = 0.25f, .l2 = 1e-4f};
    gs_model m;
    if (model_init(&m, &a)) gs_fatal("%s", gs_last_error());
    model_init_weights(&m, 7);
    randomize_bn(&m);
    test_fill_uniform(model_input(&m), &RNG, 0.0f, 1.0f, (size_t)batch * frames * size * size * 3);
    char tag[96];
    snprintf(tag, sizeof tag, "random alpha %.2f S %d T %d B %d/%d", (double)alpha, size, frames, B, batch);
    compare_plan(&m, B, tag);
    model_free(&m);
}

static void test_seed_small(void) {
    const char *dir = test_path(test_source_dir(), "tests/fixtures/keras");
    const char *path = test_path(dir, "seed_small.keras"), *exp = test_path(dir, "seed_small_expected.h5");
    gs_model_arch a;
    gs_keras_info info;
    if (!check(keras_infer_arch(&a, &info, path) == 0, "infer seed_small.keras (%s)", gs_last_error())) return;
    a.batch = 2;
    gs_model m;
    if (model_init(&m, &a)) gs_fatal("%s", gs_last_error());
    if (!check(keras_load_model_file(&m, path) == 0, "load seed_small.keras (%s)", gs_last_error())) return;
    size_t nx;
    float *x = fx_read_f32(exp, "x_unit", &nx);
    GS_ASSERT(nx == (size_t)2 * a.frames * a.size * a.size * 3);
    memcpy(model_input(&m), x, nx * sizeof(float));
    free(x);
    compare_plan(&m, 2, "seed_small.keras");
    // and against what Keras itself predicted
    gs_plan *p;
    if (plan_build(&p, &m) == 0) {
        float probs[2 * 5];
        plan_forward(p, probs, NULL, model_input(&m), NULL, 2);
        double *want = fx_read(exp, "probs_unit", NULL, NULL);
        check_close("seed_small.keras: plan probabilities vs Keras", probs, want, 10, TOL);
        free(want);
        plan_free(p);
    }
    model_free(&m);
}

// A graph the plan cannot fold is refused with a message naming the layer.
static void test_refuses(void) {
    gs_model_arch a = {.alpha = 0.35f, .size = 32, .frames = 1, .batch = 1, .classes = 2, .gru_units = 4,
                       .dense_units = 4, .dropout = 0.0f, .l2 = 0.0f};
    gs_model m;
    if (model_init(&m, &a)) gs_fatal("%s", gs_last_error());
    int i = model_find_node(&m, "bn_Conv1");
    m.nodes[i].op = NODE_ADD;  // Conv1's reader is no batch norm any more
    gs_plan *p;
    check(plan_build(&p, &m) != 0 && strstr(gs_last_error(), "Conv1"), "unfoldable graph refused: %s",
          gs_last_error());
    m.nodes[i].op = NODE_BN;
    model_free(&m);
}

int main(void) {
    gs_rng_seed(&RNG, 12);
    const char *tiers[2] = {"generic", "avx2"};
    for (int t = 0; t < 2; t++) {
        setenv("GESTURE_PLAN_KERNELS", tiers[t], 1);
        const plan_kernels *k = plan_kernels_pick();
        if (strcmp(k->name, tiers[t])) {
            printf("skip: this CPU has no %s tier\n", tiers[t]);
            continue;
        }
        test_kernels(k);
        for (int threads = 1; threads <= 4; threads *= 2) {
            runtime_set_threads(threads);
            printf("-- %s kernels, %d thread(s)\n", k->name, threads);
            test_random_model(0.35f, 64, 3, 2, 2);
            test_random_model(0.5f, 45, 2, 3, 2);  // odd size: odd feature maps, a partial batch
            // 7 frames: 4 threads take 4 whole, then 3 one each; 2 threads take 6, then split 1 by rows
            test_random_model(0.35f, 40, 7, 1, 1);
            if (t == 1 && threads < 4) test_random_model(1.0f, 96, 2, 1, 1);
            // large enough for fused blocks (plan_block.c): depthwise + project, and both expand blocks
            if (t == 1 && threads < 4) test_random_model(1.0f, 160, 1, 1, 1);
        }
        runtime_set_threads(2);
        test_seed_small();
    }
    test_refuses();
    return test_finish();
}
