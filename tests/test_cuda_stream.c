// gesture stream's per-frame features on the GPU (cuda/stream_cuda.cu, the walker, and
// cuda/plan_cuda.cu, the folded plan, through the registered device backend, gesture/device.h)
// against the CPU window model on the same path: the same frames give the same window probabilities
// (1e-4) and the same cached features; the plan and the walker in bf16 on the GPU within TOL_BF16
// of the CPU's fp32 (test_cuda_plan.c says why that bound). Exits 77 without the CUDA backend or a device.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#ifndef GESTURE_WITH_CUDA
int main(void) { test_skip("CUDA backend not built (configure with -DGESTURE_CUDA=ON): skipped"); }
#else

#include "cuda_testutil.h"
#include "gesture/device.h"
#include "gesture/model_cuda.h"
#include "gesture/stream.h"

enum { N_FRAMES = 6 };
#define TOL_BF16 1e-2

// mode: 0 the walker, 1 the plan, 2 the plan in bf16 on the GPU, 3 the walker in bf16 on the GPU.
static void compare_windows(const gs_device_backend *gpu, const gs_model *m, int mode) {
    static const char *const PATHS[] = {"walker", "plan", "plan, bf16", "walker, bf16"};
    const char *path = PATHS[mode];
    int use_plan = mode == 1 || mode == 2, bf16 = mode >= 2;
    double tol = bf16 ? TOL_BF16 : TOL_FWD;
    gs_window_model cpu, dev;
    check(window_model_init(&cpu, m, NULL, 0) == 0, "CPU window model");
    int rc = window_model_init(&dev, m, gpu, bf16);
    check(rc == 0, "GPU window model: %s", rc ? gs_last_error() : "ok");
    if (rc) return;
    if (use_plan) {
        check(window_model_use_plan(&cpu, 0) == 0, "CPU window model on the plan");
        rc = window_model_use_plan(&dev, bf16);
        check(rc == 0 && dev.gpu_plan && !dev.gpu_h, "GPU window model on the plan: %s", rc ? gs_last_error() : "ok");
        if (rc) return;
    }
    size_t frame_n = (size_t)m->cfg.size * m->cfg.size * 3;
    double worst_p = 0, worst_f = 0, ref_f = 1e-12;
    int windows = 0;
    for (int f = 0; f < N_FRAMES; f++) {
        float *x = window_model_frame(&cpu);
        test_fill_uniform(x, &rng, 0, 1, frame_n);
        memcpy(window_model_frame(&dev), x, frame_n * sizeof(float));
        window_model_push(&cpu, f / 15.0);
        window_model_push(&dev, f / 15.0);
        for (size_t i = 0; i < (size_t)cpu.T * cpu.C; i++) {
            worst_f = fmax(worst_f, fabs((double)cpu.ring[i] - dev.ring[i]));
            ref_f = fmax(ref_f, fabs((double)cpu.ring[i]));
        }
        if (!window_model_full(&cpu)) continue;
        float pc[5], pd[5];
        double a0, a1, b0, b1;
        window_model_probs(&cpu, pc, &a0, &a1);
        window_model_probs(&dev, pd, &b0, &b1);
        for (int k = 0; k < 5; k++) worst_p = fmax(worst_p, fabs((double)pc[k] - pd[k]));
        windows++;
    }
    check(windows == N_FRAMES - m->cfg.frames + 1, "%s: %d windows", path, windows);
    check(worst_f <= tol * ref_f, "%s: cached features: max diff %.3e <= %.0e x %.3e", path, worst_f, tol, ref_f);
    check(worst_p <= tol, "%s: window probabilities: max diff %.3e <= %.0e", path, worst_p, tol);
    if (bf16) check(worst_f > 1e-6 * ref_f, "%s: the features are not fp32's (the bf16 path ran)", path);
    window_model_free(&dev);
    window_model_free(&cpu);
}

int main(void) {
    cuda_test_begin(77);
    gs_cuda_register();
    const gs_device_backend *gpu = device_gpu();
    check(gpu && gpu->features_init && gpu->features_run, "the CUDA backend offers per-frame features");
    gs_model m;
    small_model_init(&m);
    for (int i = 0; i < m.params.n; i++) {  // moving statistics away from 0/1
        const gs_param *p = &m.params.p[i];
        float *v = m.params.data + p->offset;
        if (strstr(p->name, "/moving_mean")) test_fill_uniform(v, &rng, -0.2f, 0.2f, p->numel);
        else if (strstr(p->name, "/moving_variance")) test_fill_uniform(v, &rng, 0.5f, 1.5f, p->numel);
    }
    for (int mode = 0; mode < 4; mode++) compare_windows(gpu, &m, mode);
    model_free(&m);
    return cuda_test_end();
}
#endif
