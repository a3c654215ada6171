// The folded inference plan on the GPU (cuda/plan_cuda.cu through the registered device backend,
// gesture/device.h) against the same plan on the CPU (gesture/plan.h), which test_plan checks
// against the reference executor: per-frame features for 1 frame, a full batch of frames and more
// frames than the plan's batch holds; probabilities and losses for a full and a partial batch, with
// and without labels. Two models: the small test model with random batch-norm parameters and
// statistics (every fold matters; its deep features hardly depend on the input, so it checks the
// folding and the layers' arithmetic), and seed_small.keras, a model Keras trained, on the clips
// stored beside it, whose probabilities Keras itself predicted (the input path, end to end).
// fp32 within 1e-4 of the CPU plan and of Keras. bf16 (activations and 1x1 weights rounded to 8
// significant bits, fp32 sums): see TOL_BF16 for its three checks.
// Exits 77 without the CUDA backend or a device.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#ifndef GESTURE_WITH_CUDA
int main(void) { test_skip("CUDA backend not built (configure with -DGESTURE_CUDA=ON): skipped"); }
#else

#include "cuda_testutil.h"
#include "gesture/device.h"
#include "gesture/keras.h"
#include "gesture/model_cuda.h"
#include "gesture/plan.h"
#include "gesture/precision.h"

#define TOL 1e-4
// bf16 keeps 8 significant bits: each stored activation and 1x1 weight is off by up to 2^-9 (0.2%)
// relative, and the models chain 52 convolutions. How far that moves the output depends on the
// model, so bf16 is checked two ways:
//  - TOL_EMU: the GPU against emulate_bf16, the same roundings done independently on the host. On
//    the random model they agree to 5e-8 (every rounding the same); 1e-5 leaves room for a rare
//    rounding flip, not for a wrong rounding point (a missed or extra rounding moves features by
//    ~1e-3).
//  - TOL_BF16: against fp32, on the random model (well conditioned: its features sit on biases and
//    clipped ReLU6s) features measured 0.23% off (relative to the largest) and probabilities 0.04%:
//    1e-2 is 4x that.
//  - TOL_BF16_KERAS: seed_small.keras is ill conditioned in bf16: nudging one accumulator by 1e-7
//    before its rounding moves its emulated features by 7% (roundings flip and propagate; its
//    head_bn scales them up), so its features are not compared in bf16, only its probabilities
//    against Keras's fp32 ones: measured 0.036 off; Keras's own mixed_bfloat16 policy on the same
//    clips is 0.016 off. 0.06, and the same predicted class as Keras for every clip.
#define TOL_BF16 1e-2
#define TOL_EMU 1e-5
#define TOL_BF16_KERAS 6e-2

// Every batch norm away from the identity: gamma, beta, moving mean and variance at random.
static void randomize_bn(gs_model *m) {
    for (int i = 0; i < m->params.n; i++) {
        const gs_param *p = &m->params.p[i];
        float *v = m->params.data + p->offset;
        if (strstr(p->name, "/gamma")) test_fill_uniform(v, &rng, 0.5f, 1.5f, p->numel);
        else if (strstr(p->name, "/beta")) test_fill_uniform(v, &rng, -0.3f, 0.3f, p->numel);
        else if (strstr(p->name, "/moving_mean")) test_fill_uniform(v, &rng, -0.2f, 0.2f, p->numel);
        else if (strstr(p->name, "/moving_variance")) test_fill_uniform(v, &rng, 0.5f, 1.5f, p->numel);
    }
}

// Output value (y, x, co) of layer l over one frame `in` before bias and epilogue: the sum in double,
// a 1x1 conv's weights rounded to bf16 as the bf16 plan stores them.
static double emulate_sum(const gs_plan_layer *l, const float *in, int y, int x, int co) {
    double acc = 0;
    if (l->kind == GS_PLAN_PW) {
        for (int ci = 0; ci < l->Ci; ci++)
            acc += (double)in[((size_t)y * l->W + x) * l->Ci + ci] * gs_bf16_round(l->w[(size_t)ci * l->Co + co]);
        return acc;
    }
    for (int ky = 0; ky < l->K; ky++)
        for (int kx = 0; kx < l->K; kx++) {
            int h = y * l->stride - l->pad_top + ky, w = x * l->stride - l->pad_left + kx;
            if (h < 0 || h >= l->H || w < 0 || w >= l->W) continue;
            const float *xp = in + ((size_t)h * l->W + w) * l->Ci;
            const float *wp = l->w + (size_t)(ky * l->K + kx) * (l->kind == GS_PLAN_DW ? 1 : l->Ci) * l->Co;
            if (l->kind == GS_PLAN_DW) acc += (double)xp[co] * wp[co];
            else
                for (int ci = 0; ci < l->Ci; ci++) acc += (double)xp[ci] * wp[(size_t)ci * l->Co + co];
        }
    return acc;
}

// What the bf16 plan computes, written independently on the host from the plan's layer view: every
// layer's output and every 1x1 weight rounded to bf16, sums in double, the frames and the other
// weights fp32. feat (N,C).
static void emulate_bf16(float *feat, const gs_plan *p, const float *frames, int N) {
    int L = plan_layer_count(p), C = plan_feature_width(p);
    float *slot[16] = {NULL};
    for (int s = 0; s < plan_slot_count(p); s++) slot[s] = calloc(plan_slot_floats(p, s), sizeof(float));
    const gs_model *m = plan_model(p);
    size_t frame_n = (size_t)m->cfg.size * m->cfg.size * 3;
    const float *scale, *shift;
    plan_head_affine(p, &scale, &shift);
    gs_plan_layer l;
    for (int n = 0; n < N; n++) {
        for (int j = 0; j < L; j++) {
            plan_layer(p, j, &l);
            const float *in = l.in < 0 ? frames + (size_t)n * frame_n : slot[l.in];
            for (int y = 0; y < l.Ho; y++)
                for (int x = 0; x < l.Wo; x++)
                    for (int co = 0; co < l.Co; co++) {
                        float v = (float)emulate_sum(&l, in, y, x, co) + l.bias[co];
                        if (l.act == GS_ACT_RELU6) v = v < 0 ? 0 : v > 6 ? 6 : v;
                        if (l.act == GS_ACT_RELU) v = v < 0 ? 0 : v;
                        size_t o = ((size_t)y * l.Wo + x) * l.Co + co;
                        if (l.res >= 0) v += slot[l.res][o];
                        slot[l.out][o] = gs_bf16_round(v);
                    }
        }
        const float *last = slot[l.out];
        for (int c = 0; c < C; c++) {
            double s = 0;
            for (int q = 0; q < l.Ho * l.Wo; q++) s += last[(size_t)q * C + c];
            feat[(size_t)n * C + c] = (float)(s / (l.Ho * l.Wo)) * scale[c] + shift[c];
        }
    }
    for (int s = 0; s < plan_slot_count(p); s++) free(slot[s]);
}

// The GPU's bf16 features of 3 frames (the first of `clips`, else random) against emulate_bf16.
static void compare_emulated(const gs_device_backend *gpu, void *h, const gs_plan *p, const float *clips,
                             const char *tag) {
    const gs_model *m = plan_model(p);
    size_t frame_n = (size_t)m->cfg.size * m->cfg.size * 3;
    int N = 3, C = plan_feature_width(p);
    float *x = clips ? hcopy(clips, N * frame_n) : hrand(N * frame_n, 0, 1);
    float *fe = calloc((size_t)N * C, sizeof(float)), *fg = calloc((size_t)N * C, sizeof(float));
    emulate_bf16(fe, p, x, N);
    gpu->plan_features(h, fg, x, N);
    char what[192];
    snprintf(what, sizeof what, "%s: features vs the host emulation of bf16", tag);
    check_close_f32(what, fg, fe, (size_t)N * C, TOL_EMU);
    free(x);
    free(fe);
    free(fg);
}

// N random frames' features, GPU against CPU; returns the GPU's (N,C), to free.
static float *compare_features(const gs_device_backend *gpu, void *h, gs_plan *p, int N, size_t frame_n, double tol,
                               const char *tag) {
    int C = plan_feature_width(p);
    float *x = hrand((size_t)N * frame_n, 0, 1);
    float *fc = calloc((size_t)N * C, sizeof(float)), *fg = malloc(sizeof(float) * (size_t)N * C);
    for (size_t i = 0; i < (size_t)N * C; i++) fg[i] = NAN;  // a feature never written fails
    plan_features(p, fc, x, N);
    gpu->plan_features(h, fg, x, N);
    char what[128];
    snprintf(what, sizeof what, "%s: features of %d frame(s)", tag, N);
    check_close_f32(what, fg, fc, (size_t)N * C, tol);
    free(x);
    free(fc);
    return fg;
}

// B clips through the whole model, GPU against CPU: probabilities, cross-entropy, L2 penalty.
// clips: (B,T,S,S,3), or NULL for random ones; keras: Keras's (B,K) probabilities for them, or NULL.
static void compare_forward(const gs_device_backend *gpu, void *h, gs_plan *p, const gs_model *m, int B,
                            int with_labels, double tol, const char *tag, const float *clips, const double *keras) {
    const gs_model_arch *a = &m->cfg;
    size_t clip_n = (size_t)a->frames * a->size * a->size * 3;
    float *x = clips ? hcopy(clips, (size_t)B * clip_n) : hrand((size_t)B * clip_n, 0, 1);
    int labels[8];
    for (int b = 0; b < B; b++) labels[b] = (b * 3 + 1) % a->classes;
    float pc[8 * 8], pg[8 * 8], lc[2] = {-1, -1}, lg[2] = {-2, -2};
    GS_ASSERT(B <= 8 && a->classes <= 8);
    plan_forward(p, pc, lc, x, with_labels ? labels : NULL, B);
    gpu->plan_forward(h, pg, lg, x, with_labels ? labels : NULL, B);
    char what[160];
    snprintf(what, sizeof what, "%s: probabilities of %d clip(s)%s", tag, B, with_labels ? ", labels" : "");
    check_close_f32(what, pg, pc, (size_t)B * a->classes, tol);
    if (keras) {
        char kw[200];
        snprintf(kw, sizeof kw, "%s, vs Keras", what);
        check_close(kw, pg, keras, (size_t)B * a->classes, tol);
        for (int b = 0; b < B; b++) {
            int kg = 0, kk = 0;
            for (int k = 1; k < a->classes; k++) {
                if (pg[b * a->classes + k] > pg[b * a->classes + kg]) kg = k;
                if (keras[b * a->classes + k] > keras[b * a->classes + kk]) kk = k;
            }
            check(kg == kk, "%s: clip %d predicted as class %d, Keras %d", what, b, kg, kk);
        }
    }
    check(fabs((double)lg[0] - lc[0]) <= tol * fmax(1.0, fabs((double)lc[0])), "%s: cross-entropy %.7g vs %.7g", what,
          lg[0], lc[0]);
    if (!with_labels) check(lg[0] == 0.0f, "%s: no labels, no cross-entropy (%g)", what, lg[0]);
    check(lg[1] == lc[1] && lc[1] > 0, "%s: L2 penalty %.7g vs %.7g", what, lg[1], lc[1]);
    free(x);
}

static void compare_model(const gs_device_backend *gpu, gs_model *m, const char *name, const float *clips,
                          const double *keras) {
    int conditioned = keras == NULL;  // see TOL_BF16
    gs_plan *p = NULL;
    int rc = plan_build(&p, m);
    check(rc == 0, "%s: plan_build: %s", name, rc == 0 ? "ok" : gs_last_error());
    if (rc) return;
    size_t frame_n = (size_t)m->cfg.size * m->cfg.size * 3;
    int max_frames = m->cfg.batch * m->cfg.frames, C = plan_feature_width(p);
    float *feat[2] = {NULL, NULL};  // the GPU's features of one batch of frames, fp32 then bf16
    for (int bf16 = 0; bf16 < 2; bf16++) {
        char tag[96];
        snprintf(tag, sizeof tag, "%s, %s", name, bf16 ? "bf16" : "fp32");
        double tol = !bf16 ? TOL : conditioned ? TOL_BF16 : TOL_BF16_KERAS;
        void *h = gpu->plan_init(p, bf16);
        check(h != NULL, "%s: plan on the GPU: %s", tag, h ? "ok" : gs_last_error());
        if (!h) break;
        if (!bf16 || conditioned) {
            if (bf16) compare_emulated(gpu, h, p, clips, tag);
            gs_rng_seed(&rng, 5);  // the same frames for both precisions
            free(compare_features(gpu, h, p, 1, frame_n, tol, tag));
            feat[bf16] = compare_features(gpu, h, p, max_frames, frame_n, tol, tag);
            free(compare_features(gpu, h, p, 2 * max_frames + 1, frame_n, tol, tag));  // more than the buffers hold
        }
        compare_forward(gpu, h, p, m, m->cfg.batch, 1, tol, tag, clips, keras);
        compare_forward(gpu, h, p, m, 1, 1, tol, tag, clips, keras);
        compare_forward(gpu, h, p, m, m->cfg.batch, 0, tol, tag, clips, keras);
        gpu->plan_free(h);
    }
    if (feat[0] && feat[1]) {  // bf16 really ran: its features are not fp32's
        double worst = 0, ref = 1e-30;
        for (size_t i = 0; i < (size_t)max_frames * C; i++) {
            worst = fmax(worst, fabs((double)feat[1][i] - feat[0][i]));
            ref = fmax(ref, fabs((double)feat[0][i]));
        }
        check(worst > 1e-4 * ref, "%s: bf16 features differ from fp32's (max %.3e relative: the bf16 path ran)", name,
              worst / ref);
    }
    free(feat[0]);
    free(feat[1]);
    plan_free(p);
}

int main(void) {
    cuda_test_begin(123);
    gs_cuda_register();
    const gs_device_backend *gpu = device_gpu();
    check(gpu && gpu->plan_init && gpu->plan_features && gpu->plan_forward && gpu->plan_free,
          "the CUDA backend offers the inference plan");
    gs_model m;
    small_model_init(&m);
    randomize_bn(&m);
    compare_model(gpu, &m, "random", NULL, NULL);
    model_free(&m);

    const char *dir = test_path(test_source_dir(), "tests/fixtures/keras");
    const char *path = test_path(dir, "seed_small.keras"), *exp = test_path(dir, "seed_small_expected.h5");
    gs_model_arch a;
    gs_keras_info info;
    int rc = keras_infer_arch(&a, &info, path);
    check(rc == 0, "infer seed_small.keras: %s", rc ? gs_last_error() : "ok");
    a.batch = 2;
    if (rc == 0 && model_init(&m, &a) == 0) {
        rc = keras_load_model_file(&m, path);
        check(rc == 0, "load seed_small.keras: %s", rc ? gs_last_error() : "ok");
        size_t nx;
        float *x = fx_read_f32(exp, "x_unit", &nx);
        double *want = fx_read(exp, "probs_unit", NULL, NULL);
        GS_ASSERT(nx == (size_t)2 * a.frames * a.size * a.size * 3);
        if (rc == 0) compare_model(gpu, &m, "seed_small.keras", x, want);
        free(x);
        free(want);
        model_free(&m);
    }
    return cuda_test_end();
}
#endif
