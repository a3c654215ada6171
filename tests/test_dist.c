// Data-parallel training pieces (gesture/dist.h, src/dist/dist.c, the walker's gs_exec_dist, the CPU
// step of train_cpu.c). Alone (ctest's test_dist): the one-process collectives leave the data as it
// is. Under mpirun (tests/test_train_mpi.sh runs it with 2 and 3 ranks):
//  - collectives: every rank gets the rank-order double sum rounded once, bit for bit, small
//    (every vector to every rank) and large (reduce-scatter + all-gather) vectors, fewer elements
//    than ranks; a broadcast from a non-zero root;
//  - N ranks x B/N clips = 1 process x B clips: the same seeded model stepped by the CPU backend with
//    be.dist (each rank its dist_shard of the global batch) and, on rank 0, by the one-process step on
//    the whole batch, over several Adam steps including a short batch and a batch of one clip (ranks
//    without clips): losses, summed gradients, BN moving statistics, weights and Adam moments agree
//    within TOL (below; float reduction order: the ranks' BN sums and gradients are added in another
//    order than one process adds them). Checked with sync_bn on, dropout off and on (masks by global
//    row), and L2 on; with sync_bn off the ranks' BN statistics are their own, so the steps differ
//    from one process (checked: they do, and the weights stay the same on every rank).
#include <float.h>
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

static int R, N;

// ---- collectives ----

static double value(int rank, size_t i) { return sin(0.37 * (double)i + rank) * pow(10.0, (double)(i % 7) - 3) + rank; }

static void test_collectives(void) {
    size_t sizes[] = {1, 2, 5, 3000, 40000, 100003};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        double *d = gs_malloc(n * sizeof(double)), *all = gs_malloc(n * (size_t)N * sizeof(double));
        float *f = gs_malloc(n * sizeof(float));
        // every rank's values computed once (an expression evaluated twice may round differently: FMA)
        for (int p = 0; p < N; p++)
            for (size_t i = 0; i < n; i++) all[(size_t)p * n + i] = value(p, i);
        for (size_t i = 0; i < n; i++) d[i] = all[(size_t)R * n + i], f[i] = (float)d[i];
        dist_allreduce_f64(d, n, "test f64");
        dist_allreduce_f32(f, n, "test f32");
        int same_d = 1, same_f = 1;
        for (size_t i = 0; i < n; i++) {
            double ed = 0, ef = 0;
            for (int p = 0; p < N; p++) ed += all[(size_t)p * n + i], ef += (double)(float)all[(size_t)p * n + i];
            same_d &= memcmp(&d[i], &ed, sizeof ed) == 0;
            float eff = (float)ef;
            same_f &= memcmp(&f[i], &eff, sizeof eff) == 0;
        }
        check(same_d && same_f, "rank %d/%d: allreduce of %zu doubles and floats = the rank-order double sum, bit for bit",
              R, N, n);
        free(d);
        free(f);
        free(all);
    }
    size_t nb = 3u << 20;
    unsigned char *buf = gs_malloc(nb);
    int root = N > 1 ? 1 : 0;
    for (size_t i = 0; i < nb; i++) buf[i] = R == root ? (unsigned char)(i * 31 + 7) : 0;
    dist_bcast(buf, nb, root, "test bcast");
    int same = 1;
    for (size_t i = 0; i < nb; i++) same &= buf[i] == (unsigned char)(i * 31 + 7);
    check(same, "rank %d/%d: 3 MiB broadcast from rank %d", R, N, root);
    free(buf);
    int lo, hi, sum = 0, prev = 0;
    for (int p = 0; p < N; p++) {
        dist_shard(7, p, N, &lo, &hi);
        sum += (lo == prev) * (hi - lo);
        prev = hi;
    }
    check(sum == 7, "dist_shard: contiguous shards in rank order cover a batch of 7");
}

// ---- N ranks x B/N = 1 x B ----

// How the steps are compared, as tests/test_model_reference.c compares ours with PyTorch's:
//  - teacher forcing: every step starts from the one-process model's state (rank 0 broadcasts its
//    weights, moving statistics, Adam moments and counters), because a random-init BN network at this
//    batch size is chaotic at float32 precision: one process against itself with the batch's rows in
//    another order (the same arithmetic summed in another order) differs by ~1e-4 in the gradients
//    after one step and by 1e-2..1e-1 in the loss after three free-running steps (measured, printed
//    below as the float-order baseline), so a free-running comparison could not tell right from wrong;
//  - Adam epsilon ADAM_EPS instead of Keras' 1e-7: with 1e-7 an update is ~lr*sign(g), and gradients
//    below float noise flip whole updates (the Keras epsilon itself is checked by the Adam op test);
//  - tensors whose gradient is zero in exact arithmetic (a BN beta followed by another BN: the next BN
//    subtracts the constant again) hold float noise in every implementation: checked to be negligible
//    against the largest gradient, and their Adam updates (noise too) are not compared;
//  - differences relative to the tensor's largest reference value (gradients, moments, losses) or to
//    the largest change the step made (weights, moving statistics: what the step did, as check_update).
#define ADAM_EPS 0.1f
#define TOL_LOSS 2e-5    // relative
#define TOL 5e-2         // gradients, weight updates, Adam moments: relative L2 per tensor
#define TOL_MOVING 1e-6  // BN moving statistics: relative L2 (means in standard deviations)

typedef struct {
    double loss, grad, noise, update, moving, adam;  // worst differences seen
} worst;

static double maxabs(const float *a, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}


// Relative L2 difference of two vectors: |a - b| / |b| (0 when both are 0).
static double rel_l2(const float *a, const float *b, size_t n) {
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        double e = (double)a[i] - b[i];
        d += e * e;
        r += (double)b[i] * b[i];
    }
    return r > 0 ? sqrt(d / r) : sqrt(d);
}

// One step of `a` against the reference step of `ref`, both from the state `before` (parameters):
// relative L2 differences over all the model's gradients, of the weight updates (what the step
// changed), of the Adam moments and of the BN moving statistics (each moving mean relative to its
// layer's standard deviation, as a mean of a zero-mean channel is pure noise), and of the loss.
// L2 over the whole model, not the worst element: where a pre-activation lies within float
// rounding of a ReLU6 bound (0 or 6), any two summation orders may put it on either side, and that
// one element's gradient then differs entirely (measured: one process at 1 and at 2 threads
// differs by up to 1e-1 in a tensor's largest element at some steps, 1e-5 at others).
static void compare_step(worst *w, const gs_model *a, const gs_model *ref, const float *before, double loss_a) {
    w->loss = fmax(w->loss, fabs(loss_a - ref->loss) / fabs(ref->loss));
    size_t nt = ref->params.numel_trainable;
    double gscale = 0;
    for (size_t k = 0; k < nt; k++) gscale = fmax(gscale, fabs(ref->params.grad[k]));
    float *ua = gs_malloc(nt * sizeof(float)), *ur = gs_malloc(nt * sizeof(float));
    for (size_t k = 0; k < nt; k++) {
        ua[k] = (float)((double)a->params.data[k] - before[k]);
        ur[k] = (float)((double)ref->params.data[k] - before[k]);
    }
    for (int i = 0; i < ref->params.n; i++) {  // exactly-zero gradients: noise, and their updates too
        const gs_param *p = &ref->params.p[i];
        if (!p->trainable) continue;
        size_t o = p->offset, n = p->numel;
        if (maxabs(ref->params.grad + o, n) >= 1e-6 * gscale) continue;
        w->noise = fmax(w->noise, fmax(maxabs(ref->params.grad + o, n), maxabs(a->params.grad + o, n)) / gscale);
        memset(ua + o, 0, n * sizeof(float));
        memset(ur + o, 0, n * sizeof(float));
    }
    for (int i = 0; i < ref->params.n; i++) {  // per tensor
        const gs_param *p = &ref->params.p[i];
        size_t o = p->offset, n = p->numel;
        if (!p->trainable || maxabs(ref->params.grad + o, n) < 1e-6 * gscale) continue;
        double e = rel_l2(a->params.grad + o, ref->params.grad + o, n);
        if (getenv("TEST_DIST_VERBOSE2") && e > 1e-3) printf("    %s %.2e\n", p->name, e);
        w->grad = fmax(w->grad, e);
        w->update = fmax(w->update, rel_l2(ua + o, ur + o, n));
        w->adam = fmax(w->adam, fmax(rel_l2(a->params.m + o, ref->params.m + o, n),
                                     rel_l2(a->params.v + o, ref->params.v + o, n)));
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
            scale = sqrt(maxabs(ref->params.data + v->offset, v->numel));
        }
        for (size_t k = 0; k < p->numel; k++) {
            double e = ((double)pa[k] - pr[k]) / scale, q = pr[k] / scale;
            d += e * e;
            r += q * q;
        }
    }
    w->moving = fmax(w->moving, sqrt(d / r));
}

// m takes the state of `from` (rank 0's reference; broadcast to every rank).
static void take_state(gs_model *m, const gs_model *from) {
    gs_params *p = &m->params;
    if (R == 0) {
        memcpy(p->data, from->params.data, p->numel * sizeof(float));
        memcpy(p->m, from->params.m, p->numel_trainable * sizeof(float));
        memcpy(p->v, from->params.v, p->numel_trainable * sizeof(float));
        m->step = from->step;
        m->adam_t = from->adam_t;
    }
    dist_bcast(p->data, p->numel * sizeof(float), 0, "test state");
    dist_bcast(p->m, p->numel_trainable * sizeof(float), 0, "test state");
    dist_bcast(p->v, p->numel_trainable * sizeof(float), 0, "test state");
    long c[2] = {m->step, m->adam_t};
    dist_bcast(c, sizeof c, 0, "test state");
    m->step = c[0];
    m->adam_t = c[1];
}

static void copy_state(gs_model *to, const gs_model *from) {
    memcpy(to->params.data, from->params.data, from->params.numel * sizeof(float));
    memcpy(to->params.m, from->params.m, from->params.numel_trainable * sizeof(float));
    memcpy(to->params.v, from->params.v, from->params.numel_trainable * sizeof(float));
    to->step = from->step;
    to->adam_t = from->adam_t;
}

static void equivalence(int sync_bn, float dropout, float l2, const char *what) {
    int B = 2 * N;  // global batch: 2 clips per rank
    gs_model_arch arch = {.alpha = 0.35f, .size = 64, .frames = 4, .batch = B / N, .classes = 5, .gru_units = 16,
                          .dense_units = 16, .dropout = dropout, .l2 = l2, .bn_momentum = 0.9f};
    gs_model dm, ref, alt;
    GS_ASSERT(model_init(&dm, &arch) == 0);
    model_init_weights(&dm, 7);
    dm.seed = 99;
    gs_train_backend be, rbe, abe;
    train_backend_cpu_init(&be, &dm);
    gs_train_dist d = {.rank = R, .size = N, .sync_bn = sync_bn};
    be.dist = &d;
    float *before = NULL;
    int threads = omp_get_max_threads(), alt_threads = threads > 1 ? 1 : 2;
    if (R == 0) {
        arch.batch = B;
        GS_ASSERT(model_init(&ref, &arch) == 0 && model_init(&alt, &arch) == 0);
        model_init_weights(&ref, 7);
        ref.seed = alt.seed = 99;
        train_backend_cpu_init(&rbe, &ref);
        train_backend_cpu_init(&abe, &alt);
        before = gs_malloc(ref.params.numel * sizeof(float));
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
        take_state(&dm, &ref);  // rank 0's reference state (ref is only read on rank 0)
        dist_shard(n, R, N, &lo, &hi);
        gs_batch b = {.x = x + clip * (size_t)lo, .labels = labels + lo, .n = hi - lo};
        d.n_global = n;
        d.row0 = lo;
        be.ops->step_start(&be, &b, lr, b1, b2, ADAM_EPS);
        be.ops->step_finish(&be);
        double loss = dm.ce_loss;
        dist_allreduce_f64(&loss, 1, "test loss");
        loss += dm.l2_loss;
        // the same trainable weights on every rank (moving statistics too with sync_bn)
        size_t cmp = sync_bn ? dm.params.numel : dm.params.numel_trainable;
        double sum = 0;
        for (size_t i = 0; i < cmp; i++) sum += dm.params.data[i] * (1.0 + (double)(i % 13));
        double sums[2] = {R == 0 ? sum : 0, sum};
        dist_allreduce_f64(sums, 2, "test checksum");
        same_everywhere &= sums[1] == sums[0] * N;
        if (R != 0) continue;
        memcpy(before, ref.params.data, ref.params.numel * sizeof(float));
        copy_state(&alt, &ref);
        gs_batch rb = {.x = x, .labels = labels, .n = n};
        runtime_set_threads(alt_threads);  // the baseline: one process, another thread count (float order)
        abe.ops->step_start(&abe, &rb, lr, b1, b2, ADAM_EPS);
        abe.ops->step_finish(&abe);
        runtime_set_threads(threads);
        rbe.ops->step_start(&rbe, &rb, lr, b1, b2, ADAM_EPS);
        rbe.ops->step_finish(&rbe);
        loss_gap = fmax(loss_gap, fabs(loss - ref.loss) / fabs(ref.loss));
        // N ranks against one process at either thread count (the closer, metric by metric: where a
        // pre-activation lies within rounding of a ReLU6 bound the one-process runs disagree themselves)
        worst w = {0}, w2 = {0}, wb = {0};
        compare_step(&w, &dm, &ref, before, loss);
        compare_step(&w2, &dm, &alt, before, loss);
        w.loss = fmin(w.loss, w2.loss), w.grad = fmin(w.grad, w2.grad), w.update = fmin(w.update, w2.update);
        w.adam = fmin(w.adam, w2.adam), w.moving = fmin(w.moving, w2.moving), w.noise = fmin(w.noise, w2.noise);
        compare_step(&wb, &alt, &ref, before, alt.loss);
        all.loss = fmax(all.loss, w.loss), all.grad = fmax(all.grad, w.grad), all.update = fmax(all.update, w.update);
        all.moving = fmax(all.moving, w.moving), all.adam = fmax(all.adam, w.adam), all.noise = fmax(all.noise, w.noise);
        all_base.loss = fmax(all_base.loss, wb.loss), all_base.grad = fmax(all_base.grad, wb.grad);
        all_base.update = fmax(all_base.update, wb.update), all_base.moving = fmax(all_base.moving, wb.moving);
        all_base.adam = fmax(all_base.adam, wb.adam);
        if (getenv("TEST_DIST_VERBOSE"))
            printf("  %s step %d (%d clips): loss %.9g vs %.9g; ranks: gradients %.1e, updates %.1e, moving %.1e, "
                   "Adam %.1e; %d vs %d threads: gradients %.1e, updates %.1e, moving %.1e, Adam %.1e\n",
                   what, s, n, loss, ref.loss, w.grad, w.update, w.moving, w.adam, threads, alt_threads, wb.grad,
                   wb.update, wb.moving, wb.adam);
    }
    if (R == 0) {
        if (sync_bn) {
            check(all.loss <= TOL_LOSS && all.grad <= TOL && all.update <= TOL && all.adam <= TOL &&
                      all.moving <= TOL_MOVING && all.noise <= 1e-5,
                  "%s: %d ranks x %d clips = 1 process x %d, %d Adam steps (a short batch; a batch of one clip: ranks "
                  "without clips): worst relative difference loss %.1e (tol %.0e), per tensor relative L2 gradients "
                  "%.1e, weight updates %.1e, Adam moments %.1e (tol %.0e), BN moving statistics %.1e (tol %.0e); "
                  "exactly-zero gradients are noise of %.1e of the largest. The same process at %d instead of %d "
                  "threads: loss %.1e, gradients %.1e, updates %.1e, moments %.1e, moving statistics %.1e",
                  what, N, B / N, B, n_steps, all.loss, TOL_LOSS, all.grad, all.update, all.adam, TOL, all.moving,
                  TOL_MOVING, all.noise, alt_threads, threads, all_base.loss, all_base.grad, all_base.update,
                  all_base.adam, all_base.moving);
            check(dm.step == ref.step && dm.adam_t == ref.adam_t, "%s: step and Adam counters agree (%ld, %ld)", what,
                  dm.step, dm.adam_t);
        } else {
            check(loss_gap > 1e-4, "%s: per-rank BN statistics train differently from one process (loss gap %.1e)",
                  what, loss_gap);
        }
        model_free(&ref);
        model_free(&alt);
        free(before);
    }
    check(same_everywhere, "%s: rank %d holds rank 0's weights%s after every step", what, R,
          sync_bn ? " and moving statistics" : "");
    free(x);
    free(labels);
    model_free(&dm);
}

int main(void) {
    if (dist_init(60) != 0) {
        fprintf(stderr, "%s\n", gs_last_error());
        return 1;
    }
    R = dist_rank();
    N = dist_size();
    test_collectives();
    if (N > 1 || getenv("TEST_DIST_ONE")) {
        equivalence(1, 0.0f, 1e-3f, "sync_bn on, dropout off");
        equivalence(1, 0.5f, 1.0f, "sync_bn on, dropout 0.5, l2 1");
        equivalence(0, 0.0f, 1e-3f, "sync_bn off");
    }
    int rc = test_finish();
    dist_finalize();
    return rc;
}
