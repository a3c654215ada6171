// The folded inference plan on the GPU (cuda/plan_cuda.cu through the registered device backend,
// gesture/device.h) against the same plan on the CPU (gesture/plan.h), which test_plan checks
// against the reference executor: per-frame features for 1 frame, a full batch of frames and more
// frames than the plan's batch holds; probabilities and losses for a full and a partial batch, with
// and without labels. Batch-norm parameters and statistics are random, so every fold matters.
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
#include "gesture/model_cuda.h"
#include "gesture/plan.h"

#define TOL 1e-4

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

// N frames' features, GPU against CPU.
static void compare_features(const gs_device_backend *gpu, void *h, gs_plan *p, int N, size_t frame_n) {
    int C = plan_feature_width(p);
    float *x = hrand((size_t)N * frame_n, 0, 1);
    float *fc = calloc((size_t)N * C, sizeof(float)), *fg = malloc(sizeof(float) * (size_t)N * C);
    for (size_t i = 0; i < (size_t)N * C; i++) fg[i] = NAN;  // a feature never written fails
    plan_features(p, fc, x, N);
    gpu->plan_features(h, fg, x, N);
    char what[64];
    snprintf(what, sizeof what, "features of %d frame(s)", N);
    check_close_f32(what, fg, fc, (size_t)N * C, TOL);
    free(x);
    free(fc);
    free(fg);
}

// B clips through the whole model, GPU against CPU: probabilities, cross-entropy, L2 penalty.
static void compare_forward(const gs_device_backend *gpu, void *h, gs_plan *p, const gs_model *m, int B,
                            int with_labels) {
    const gs_model_arch *a = &m->cfg;
    size_t clip_n = (size_t)a->frames * a->size * a->size * 3;
    float *x = hrand((size_t)B * clip_n, 0, 1);
    int labels[8];
    for (int b = 0; b < B; b++) labels[b] = (b * 3 + 1) % a->classes;
    float pc[8 * 8], pg[8 * 8], lc[2] = {-1, -1}, lg[2] = {-2, -2};
    GS_ASSERT(B <= 8 && a->classes <= 8);
    plan_forward(p, pc, lc, x, with_labels ? labels : NULL, B);
    gpu->plan_forward(h, pg, lg, x, with_labels ? labels : NULL, B);
    char what[96];
    snprintf(what, sizeof what, "probabilities of %d clip(s)%s", B, with_labels ? ", labels" : "");
    check_close_f32(what, pg, pc, (size_t)B * a->classes, TOL);
    check(fabs((double)lg[0] - lc[0]) <= TOL * fmax(1.0, fabs((double)lc[0])), "%s: cross-entropy %.7g vs %.7g", what,
          lg[0], lc[0]);
    if (!with_labels) check(lg[0] == 0.0f, "%s: no labels, no cross-entropy (%g)", what, lg[0]);
    check(lg[1] == lc[1] && lc[1] > 0, "%s: L2 penalty %.7g vs %.7g", what, lg[1], lc[1]);
    free(x);
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
    gs_plan *p = NULL;
    int rc = plan_build(&p, &m);
    check(rc == 0, "plan_build: %s", rc == 0 ? "ok" : gs_last_error());
    void *h = p ? gpu->plan_init(p) : NULL;
    check(h != NULL, "plan on the GPU: %s", h ? "ok" : gs_last_error());
    if (!h) return cuda_test_end();
    size_t frame_n = (size_t)m.cfg.size * m.cfg.size * 3;
    int max_frames = m.cfg.batch * m.cfg.frames;
    compare_features(gpu, h, p, 1, frame_n);
    compare_features(gpu, h, p, max_frames, frame_n);
    compare_features(gpu, h, p, 2 * max_frames + 1, frame_n);  // more than one pass of the device buffers
    compare_forward(gpu, h, p, &m, m.cfg.batch, 1);
    compare_forward(gpu, h, p, &m, 1, 1);
    compare_forward(gpu, h, p, &m, m.cfg.batch, 0);
    gpu->plan_free(h);
    plan_free(p);
    model_free(&m);
    return cuda_test_end();
}
#endif
