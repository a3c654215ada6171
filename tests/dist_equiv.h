// N ranks x B/N clips = 1 process x B clips, for a data-parallel training backend (included by
// tests/test_dist.c for the CPU backend and tests/test_cuda_dist.c for the CUDA backend + NCCL; the
// includer defines R, N and its runners, then calls dist_equivalence under mpirun).
//
// A runner is a model and how a training step runs on it: the distributed one (every rank, B/N
// clips, its dist_shard of each global batch, be.dist-style gs_train_dist) and, on rank 0, the
// one-process reference (B clips) and a second one-process implementation (another thread count or
// the other backend): a baseline of what float summation order alone changes.
//
// How the steps are compared, as tests/test_model_reference.c compares ours with PyTorch's:
//  - teacher forcing: every step starts from the reference's state (rank 0 broadcasts its weights,
//    moving statistics, Adam moments and counters), because a random-init BN network at this batch
//    size is chaotic at float32 precision: one process against itself at another thread count, or
//    with the batch's rows in another order, drifts apart by 1e-2..1e-1 in the loss within three
//    free-running steps (measured), so a free-running comparison could not tell right from wrong;
//  - Adam epsilon ADAM_EPS instead of Keras' 1e-7: with 1e-7 an update is ~lr*sign(g), and gradients
//    below float noise flip whole updates (the Keras epsilon itself is checked by the Adam op test);
//  - tensors whose gradient is zero in exact arithmetic (a BN beta followed by another BN: the next
//    BN subtracts the constant again) hold float noise in every implementation: checked to be
//    negligible against the largest gradient, and their Adam updates (noise too) are not compared;
//  - relative L2 per tensor, not the worst element: where a pre-activation lies within rounding of a
//    ReLU6 bound (0 or 6) any two summation orders may put it on either side, and that element's
//    gradient then differs entirely (one process at 1 and 2 threads: up to 1e-1 in a tensor's largest
//    element at some steps); the distributed step is compared with both one-process runs and the
//    closer counts, metric by metric;
//  - the tolerances: TOL_LOSS on the loss, TOL on gradients, weight updates (what the step changed)
//    and Adam moments, TOL_MOVING on the BN moving statistics (means in units of their layer's
//    standard deviation). The test prints the baseline's differences beside the ranks'. Measured:
//    the ranks within 2.3e-6 (loss), 4e-2 (gradients, updates, moments; 1e-4 at most steps, the rest
//    ReLU6 flips), 7e-8 (moving statistics); the one-process baselines up to 6e-6, 5e-2, 2e-7. Bugs
//    injected to check the test (L2 gradient on every rank, dropout masks by local row, the loss not
//    scaled to the global batch, BN statistics per rank) give 0.5 to 3 in gradients and updates.
#ifndef GESTURE_TESTS_DIST_EQUIV_H
#define GESTURE_TESTS_DIST_EQUIV_H

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/dist.h"
#include "gesture/errors.h"
#include "gesture/model.h"
#include "gesture/rng.h"
#include "gesture/runtime.h"
#include "gesture/trainer.h"
#include "testutil.h"

#define ADAM_EPS 0.1f
#define TOL_LOSS 2e-5    // relative
#define TOL 1e-1         // gradients, weight updates, Adam moments: relative L2 per tensor
#define TOL_MOVING 1e-6  // BN moving statistics: relative L2 (means in standard deviations)

typedef struct runner runner;
struct runner {
    gs_model m;  // host view: after a step, parameters, Adam moments, gradients and the loss are current
    // One training step on x (n clips) with labels; d != NULL: a rank's part of a global batch.
    void (*step)(runner *r, const float *x, const int *labels, int n, const gs_train_dist *d, float lr, float beta1,
                 float beta2, float eps);
    void (*load)(runner *r);  // the host parameters and Adam moments into the backend
    void (*free)(runner *r);
    void *ctx;
};
// Make a runner for a model of `arch` initialized with seed 7 (dropout stream 99); alt = 1: the
// second one-process implementation.
typedef void (*runner_make)(runner *r, const gs_model_arch *arch, int alt);

// The CPU training backend (train_cpu.c): be.dist for a rank's part; alt: one process at another
// OpenMP thread count (another summation order).
typedef struct {
    gs_train_backend be;
    int threads;
} eq_cpu_runner;

static void eq_cpu_step(runner *r, const float *x, const int *labels, int n, const gs_train_dist *d, float lr,
                        float beta1, float beta2, float eps) {
    eq_cpu_runner *c = r->ctx;
    int threads = omp_get_max_threads();
    if (c->threads) runtime_set_threads(c->threads);
    c->be.m = &r->m;
    c->be.dist = d;
    gs_batch b = {.x = (float *)x, .labels = (int *)labels, .n = n};
    c->be.ops->step_start(&c->be, &b, lr, beta1, beta2, eps);
    c->be.ops->step_finish(&c->be);
    if (c->threads) runtime_set_threads(threads);
}

static void eq_cpu_load(runner *r) { (void)r; }

static void eq_cpu_free(runner *r) {
    model_free(&r->m);
    free(r->ctx);
}

static void eq_make_cpu(runner *r, const gs_model_arch *arch, int alt) {
    GS_ASSERT(model_init(&r->m, arch) == 0);
    model_init_weights(&r->m, 7);
    r->m.seed = 99;
    eq_cpu_runner *c = gs_calloc(1, sizeof *c);
    train_backend_cpu_init(&c->be, &r->m);
    c->threads = alt ? (omp_get_max_threads() > 1 ? 1 : 2) : 0;
    r->ctx = c;
    r->step = eq_cpu_step;
    r->load = eq_cpu_load;
    r->free = eq_cpu_free;
}

typedef struct {
    double loss, grad, noise, update, moving, adam;  // worst differences seen
} worst;

static double eq_maxabs(const float *a, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}

// Relative L2 difference of two vectors: |a - b| / |b| (|a - b| when b is 0).
static double eq_rel_l2(const float *a, const float *b, size_t n) {
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        double e = (double)a[i] - b[i];
        d += e * e;
        r += (double)b[i] * b[i];
    }
    return r > 0 ? sqrt(d / r) : sqrt(d);
}

// One step of `a` against the reference step of `ref`, both from the parameters `before`.
static void eq_compare(worst *w, const gs_model *a, const gs_model *ref, const float *before, double loss_a) {
    w->loss = fmax(w->loss, fabs(loss_a - ref->loss) / fabs(ref->loss));
    size_t nt = ref->params.numel_trainable;
    double gscale = eq_maxabs(ref->params.grad, nt);
    float *ua = gs_malloc(nt * sizeof(float)), *ur = gs_malloc(nt * sizeof(float));
    for (size_t k = 0; k < nt; k++) {
        ua[k] = (float)((double)a->params.data[k] - before[k]);
        ur[k] = (float)((double)ref->params.data[k] - before[k]);
    }
    for (int i = 0; i < ref->params.n; i++) {
        const gs_param *p = &ref->params.p[i];
        size_t o = p->offset, n = p->numel;
        if (!p->trainable) continue;
        if (eq_maxabs(ref->params.grad + o, n) < 1e-6 * gscale) {  // exactly-zero gradient: noise
            w->noise = fmax(w->noise, fmax(eq_maxabs(ref->params.grad + o, n), eq_maxabs(a->params.grad + o, n)) /
                                          gscale);
            continue;
        }
        double e = eq_rel_l2(a->params.grad + o, ref->params.grad + o, n);
        if (getenv("TEST_DIST_VERBOSE") && e > 1e-2) printf("    %s: gradient %.2e\n", p->name, e);
        w->grad = fmax(w->grad, e);
        w->update = fmax(w->update, eq_rel_l2(ua + o, ur + o, n));
        w->adam = fmax(w->adam, fmax(eq_rel_l2(a->params.m + o, ref->params.m + o, n),
                                     eq_rel_l2(a->params.v + o, ref->params.v + o, n)));
    }
    free(ua);
    free(ur);
    double d = 0, r = 0;
    for (int i = 0; i < ref->params.n; i++) {
        const gs_param *p = &ref->params.p[i];
        if (p->trainable) continue;
        const float *pa = a->params.data + p->offset, *pr = ref->params.data + p->offset;
        double scale = 1;  // moving means in units of their layer's standard deviation
        if (strstr(p->name, "/moving_mean")) {
            const gs_param *v = &ref->params.p[i + 1];
            GS_ASSERT(strstr(v->name, "/moving_variance"));
            scale = sqrt(eq_maxabs(ref->params.data + v->offset, v->numel));
        }
        for (size_t k = 0; k < p->numel; k++) {
            double e = ((double)pa[k] - pr[k]) / scale, q = pr[k] / scale;
            d += e * e;
            r += q * q;
        }
    }
    w->moving = fmax(w->moving, sqrt(d / r));
}

static void eq_min(worst *w, const worst *o) {
    w->loss = fmin(w->loss, o->loss), w->grad = fmin(w->grad, o->grad), w->update = fmin(w->update, o->update);
    w->adam = fmin(w->adam, o->adam), w->moving = fmin(w->moving, o->moving), w->noise = fmin(w->noise, o->noise);
}

static void eq_max(worst *w, const worst *o) {
    w->loss = fmax(w->loss, o->loss), w->grad = fmax(w->grad, o->grad), w->update = fmax(w->update, o->update);
    w->adam = fmax(w->adam, o->adam), w->moving = fmax(w->moving, o->moving), w->noise = fmax(w->noise, o->noise);
}

// to takes the state of `from` (host memory), or, on every rank, of rank 0's `from`.
static void eq_copy_state(gs_model *to, const gs_model *from) {
    memcpy(to->params.data, from->params.data, from->params.numel * sizeof(float));
    memcpy(to->params.m, from->params.m, from->params.numel_trainable * sizeof(float));
    memcpy(to->params.v, from->params.v, from->params.numel_trainable * sizeof(float));
    to->step = from->step;
    to->adam_t = from->adam_t;
}

static void eq_take_state(runner *r, const gs_model *from, int rank) {
    gs_params *p = &r->m.params;
    if (rank == 0) eq_copy_state(&r->m, from);
    dist_bcast(p->data, p->numel * sizeof(float), 0, "test state");
    dist_bcast(p->m, p->numel_trainable * sizeof(float), 0, "test state");
    dist_bcast(p->v, p->numel_trainable * sizeof(float), 0, "test state");
    long c[2] = {r->m.step, r->m.adam_t};
    dist_bcast(c, sizeof c, 0, "test state");
    r->m.step = c[0];
    r->m.adam_t = c[1];
    r->load(r);
}

// The comparison over several steps (a short batch, a batch of one clip: ranks without clips).
// baseline_name: what the second one-process implementation is ("1 instead of 2 threads").
// bn_time: model.bn_time (keras3: the BN reductions run once per time step on every rank).
static void dist_equivalence(int R, int N, runner_make make_dist, runner_make make_ref, runner_make make_alt,
                             const char *baseline_name, int sync_bn, gs_bn_time bn_time, float dropout, float l2,
                             const char *what) {
    int B = 2 * N;  // global batch: 2 clips per rank
    gs_model_arch arch = {.alpha = 0.35f, .size = 64, .frames = 4, .batch = B / N, .classes = 5, .gru_units = 16,
                          .dense_units = 16, .dropout = dropout, .l2 = l2, .bn_momentum = 0.9f, .bn_time = bn_time};
    runner dm, ref, alt;
    make_dist(&dm, &arch, 0);
    gs_train_dist d = {.rank = R, .size = N, .sync_bn = sync_bn};
    float *before = NULL;
    if (R == 0) {
        arch.batch = B;
        make_ref(&ref, &arch, 0);
        make_alt(&alt, &arch, 1);
        before = gs_malloc(ref.m.params.numel * sizeof(float));
    }
    size_t clip = (size_t)arch.frames * arch.size * arch.size * 3;
    float *x = gs_malloc(sizeof(float) * clip * (size_t)B);
    int *labels = gs_malloc(sizeof(int) * (size_t)B);
    int steps[] = {B, B, B - 1, 1, B};  // a short batch; one clip: ranks > 0 have none
    int n_steps = (int)(sizeof steps / sizeof steps[0]);
    worst all = {0}, all_base = {0};
    int same_everywhere = 1;
    double loss_gap = 0;  // sync_bn off: how far the losses are from one process's
    const float lr = 1e-3f, b1 = 0.9f, b2 = 0.999f;
    gs_rng rng;
    gs_rng_seed(&rng, 1234);
    for (int s = 0; s < n_steps; s++) {
        int n = steps[s], lo, hi;
        test_fill_uniform(x, &rng, 0.0f, 1.0f, clip * (size_t)n);
        for (int i = 0; i < n; i++) labels[i] = (int)gs_rng_below(&rng, (uint32_t)arch.classes);
        eq_take_state(&dm, R == 0 ? &ref.m : NULL, R);  // rank 0's reference state
        dist_shard(n, R, N, &lo, &hi);
        d.n_global = n;
        d.row0 = lo;
        dm.step(&dm, x + clip * (size_t)lo, labels + lo, hi - lo, &d, lr, b1, b2, ADAM_EPS);
        double loss = dm.m.ce_loss;
        dist_allreduce_f64(&loss, 1, "test loss");
        loss += dm.m.l2_loss;
        // the same trainable weights on every rank (moving statistics too with sync_bn)
        size_t cmp = sync_bn ? dm.m.params.numel : dm.m.params.numel_trainable;
        double sum = 0;
        for (size_t i = 0; i < cmp; i++) sum += dm.m.params.data[i] * (1.0 + (double)(i % 13));
        double sums[2] = {R == 0 ? sum : 0, sum};
        dist_allreduce_f64(sums, 2, "test checksum");
        same_everywhere &= sums[1] == sums[0] * N;
        if (R != 0) continue;
        memcpy(before, ref.m.params.data, ref.m.params.numel * sizeof(float));
        eq_copy_state(&alt.m, &ref.m);
        alt.load(&alt);
        alt.step(&alt, x, labels, n, NULL, lr, b1, b2, ADAM_EPS);
        ref.step(&ref, x, labels, n, NULL, lr, b1, b2, ADAM_EPS);
        loss_gap = fmax(loss_gap, fabs(loss - ref.m.loss) / fabs(ref.m.loss));
        worst w = {0}, w2 = {0}, wb = {0};
        eq_compare(&w, &dm.m, &ref.m, before, loss);
        eq_compare(&w2, &dm.m, &alt.m, before, loss);
        eq_min(&w, &w2);
        eq_compare(&wb, &alt.m, &ref.m, before, alt.m.loss);
        eq_max(&all, &w);
        eq_max(&all_base, &wb);
        if (getenv("TEST_DIST_VERBOSE"))
            printf("  %s step %d (%d clips): loss %.9g vs %.9g; ranks: gradients %.1e, updates %.1e, moving %.1e, "
                   "Adam %.1e; baseline: gradients %.1e, updates %.1e, moving %.1e, Adam %.1e\n",
                   what, s, n, loss, ref.m.loss, w.grad, w.update, w.moving, w.adam, wb.grad, wb.update, wb.moving,
                   wb.adam);
    }
    if (R == 0) {
        if (sync_bn) {
            check(all.loss <= TOL_LOSS && all.grad <= TOL && all.update <= TOL && all.adam <= TOL &&
                      all.moving <= TOL_MOVING && all.noise <= 1e-5,
                  "%s: %d ranks x %d clips = 1 process x %d, %d Adam steps (a short batch; a batch of one clip: ranks "
                  "without clips): worst relative difference loss %.1e (tol %.0e), per tensor relative L2 gradients "
                  "%.1e, weight updates %.1e, Adam moments %.1e (tol %.0e), BN moving statistics %.1e (tol %.0e); "
                  "exactly-zero gradients are noise of %.1e of the largest. One process, %s: loss %.1e, gradients "
                  "%.1e, updates %.1e, moments %.1e, moving statistics %.1e",
                  what, N, B / N, B, n_steps, all.loss, TOL_LOSS, all.grad, all.update, all.adam, TOL, all.moving,
                  TOL_MOVING, all.noise, baseline_name, all_base.loss, all_base.grad, all_base.update, all_base.adam,
                  all_base.moving);
            check(dm.m.step == ref.m.step && dm.m.adam_t == ref.m.adam_t, "%s: step and Adam counters agree (%ld, %ld)",
                  what, dm.m.step, dm.m.adam_t);
        } else {
            check(loss_gap > 1e-4, "%s: per-rank BN statistics train differently from one process (loss gap %.1e)",
                  what, loss_gap);
        }
        ref.free(&ref);
        alt.free(&alt);
        free(before);
    }
    check(same_everywhere, "%s: rank %d holds rank 0's weights%s after every step", what, R,
          sync_bn ? " and moving statistics" : "");
    free(x);
    free(labels);
    dm.free(&dm);
}

#endif
