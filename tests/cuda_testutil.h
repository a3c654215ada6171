// Helpers shared by the CUDA op tests (tests/test_cuda_*.c): random host arrays, device copies
// that are released together, NaN-poisoned outputs, and comparison of a device result against the
// CPU result (as double) with testutil's check_close. Only included when GESTURE_WITH_CUDA is set.
#ifndef GESTURE_CUDA_TESTUTIL_H
#define GESTURE_CUDA_TESTUTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"
#include "gesture/model.h"
#include "gesture/ops.h"
#include "gesture/ops_cuda.h"
#include "gesture/rng.h"
#include "testutil.h"

#define TOL_FWD 1e-4
#define TOL_GRAD 1e-3
#define MAX_LIVE 64

static gs_rng rng;
static void *live[MAX_LIVE];
static int n_live;

static inline float *hrand(size_t n, float lo, float hi) {
    float *x = gs_malloc((n ? n : 1) * sizeof(float));
    test_fill_uniform(x, &rng, lo, hi, n);
    return x;
}

static inline float *hcopy(const float *x, size_t n) {
    float *y = gs_malloc((n ? n : 1) * sizeof(float));
    memcpy(y, x, n * sizeof(float));
    return y;
}

static inline void *dalloc(size_t bytes) {
    GS_ASSERT(n_live < MAX_LIVE);
    return live[n_live++] = gs_cuda_malloc(bytes);
}

// Device copy of a host array (freed by dev_release).
static inline float *dev(const float *h, size_t n) {
    float *d = dalloc(n * sizeof(float));
    gs_cuda_upload(d, h, n * sizeof(float));
    return d;
}

static inline int *dev_int(const int *h, size_t n) {
    int *d = dalloc(n * sizeof(int));
    gs_cuda_upload(d, h, n * sizeof(int));
    return d;
}

// Device buffer filled with NaN (all bits set): an element the op forgets to write fails the check.
static inline float *dev_nan(size_t n) {
    float *d = dalloc(n * sizeof(float));
    gs_cuda_memset_async(d, 0xFF, n * sizeof(float));
    return d;
}

static inline void dev_release(void) {
    gs_cuda_sync();
    for (int i = 0; i < n_live; i++) gs_cuda_free(live[i]);
    n_live = 0;
}

static inline float *download(const float *d, size_t n) {
    gs_cuda_sync();
    float *h = gs_malloc((n ? n : 1) * sizeof(float));
    gs_cuda_download(h, d, n * sizeof(float));
    return h;
}

// Moving means of BNs whose input has zero mean in exact arithmetic (every expand conv of a zero-beta
// project BN's output) are float noise near 1e-10: compare them against an absolute floor instead.
static inline void compare_floor(const char *what, const float *gpu, const float *cpu, size_t n, double tol,
                                 double floor) {
    double ref = floor, diff = 0;
    for (size_t i = 0; i < n; i++) {
        ref = fmax(ref, fabs(cpu[i]));
        diff = fmax(diff, fabs((double)gpu[i] - cpu[i]));
    }
    check(diff <= tol * ref && isfinite(diff), "%-48s max diff %.3e <= %.0e x max(|ref|, %.0e) = %.3e", what, diff,
          tol, floor, tol * ref);
}

// Every trainable parameter's gradient, GPU (ggrad, host copy) against the CPU's (ps->grad), within
// TOL_GRAD; a tensor that is zero in exact arithmetic on the CPU (below 1e-6 of the largest gradient:
// a BN beta followed by another BN) must be float noise on the GPU too (1e-5). Names are prefixed
// with `tag` (its first 32 characters). Returns the count of such zero tensors.
static inline int compare_grads(const gs_params *ps, const float *ggrad, const char *tag) {
    double gscale = 0;
    for (size_t k = 0; k < ps->numel_trainable; k++) gscale = fmax(gscale, fabs(ps->grad[k]));
    int zero = 0;
    char name[160];
    for (int i = 0; i < ps->n; i++) {
        const gs_param *p = &ps->p[i];
        if (!p->trainable) continue;
        double cmax = 0, gmax = 0;
        for (size_t k = 0; k < p->numel; k++) {
            cmax = fmax(cmax, fabs(ps->grad[p->offset + k]));
            gmax = fmax(gmax, fabs(ggrad[p->offset + k]));
        }
        snprintf(name, sizeof name, "%.32sgrad %.120s", tag, p->name);
        if (cmax < 1e-6 * gscale) {
            zero++;
            check(gmax <= 1e-5 * gscale, "%-48s zero in exact arithmetic: GPU %.2e (<= 1e-5 x %.2e)", name, gmax,
                  gscale);
        } else {
            check_close_f32(name, ggrad + p->offset, ps->grad + p->offset, p->numel, TOL_GRAD);
        }
    }
    printf("(%d gradients are zero in exact arithmetic)\n", zero);
    return zero;
}

static inline void expect(const char *what, const float *d, const float *cpu, size_t n, double tol) {
    float *g = download(d, n);
    check_close_f32(what, g, cpu, n, tol);
    free(g);
}

static inline void expect_bitwise(const char *what, const float *d1, const float *d2, size_t n) {
    float *a = download(d1, n), *b = download(d2, n);
    check(!memcmp(a, b, n * sizeof(float)), "%s: bitwise identical on a second run", what);
    free(a);
    free(b);
}

// Init the backend or skip the test (exit 77) when there is no device.
static inline void cuda_test_begin(uint64_t seed) {
    if (gs_cuda_device_count() == 0) test_skip("no CUDA device: skipped");
    if (gs_cuda_init(0)) {
        check(0, "gs_cuda_init: %s", gs_last_error());
        exit(test_finish());
    }
    printf("device: %s\n", gs_cuda_device_name());
    gs_rng_seed(&rng, seed);
}

static inline int cuda_test_end(void) {
    printf("scratch grew %d times (allowed outside train steps)\n", gs_cuda_scratch_grow_count());
    gs_cuda_shutdown();
    return test_finish();
}

// The small model of the executor tests: every layer type of the seed network (alpha 0.35, 64x64
// frames, T=3, B=2, dropout on, L2 on), Keras-initialized weights, fixed dropout seed. Ends the
// test (failed) if it cannot be built.
static inline void small_model_init(gs_model *m) {
    gs_model_arch cfg = {.alpha = 0.35f, .size = 64, .frames = 3, .batch = 2, .classes = 5, .gru_units = 16,
                         .dense_units = 16, .dropout = 0.25f, .l2 = 1e-4f};
    if (model_init(m, &cfg)) {
        check(0, "model_init: %s", gs_last_error());
        exit(cuda_test_end());
    }
    model_init_weights(m, 11);
    m->seed = 99;
}

#endif
