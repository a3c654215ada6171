// Timing of the fast training kernels against the reference ops on the seed model's depthwise and
// 1x1 shapes (MobileNetV2 alpha 1.0, 224x224 frames): one OpenMP thread, thread CPU time (other
// processes on a shared machine slow it far less than wall time), the best of REPS calls after one
// warm-up call. Depthwise, per shape and op: ms per call, GB/s of the bytes an op must move at least
// (forward: read inp, write out; backward: read dout and inp, read and write dinp) and GMAC/s
// (forward 9 MACs per output value, backward 18: dinp and dw). 1x1 (pwconv_*_fast against
// matmul_*): GMAC/s of the forward, dinp alone, dw alone and both (the table in
// src/ops/pwconv_fast.c). Never run by ctest.
//   build/benchmarks/bench_train_kernels [N REPS]   (default 4 5)
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gesture/errors.h"
#include "gesture/ops.h"
#include "gesture/rng.h"

static double thread_cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// n values ~ N(0,1), 64-byte aligned.
static float *random_floats(gs_rng *rng, size_t n) {
    float *a = gs_aligned_alloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) a[i] = gs_rng_normal(rng);
    return a;
}

typedef struct {
    int N, H, W, C, s, Ho, Wo, pt, pl;
    float *inp, *w, *out, *dout, *dinp, *dw, *work;
} bench_case;

static bench_case case_make(gs_rng *rng, int N, int H, int W, int C, int s) {
    bench_case b = {.N = N, .H = H, .W = W, .C = C, .s = s};
    conv_same_geometry(&b.Ho, &b.pt, H, 3, s);
    conv_same_geometry(&b.Wo, &b.pl, W, 3, s);
    size_t ni = (size_t)N * H * W * C, no = (size_t)N * b.Ho * b.Wo * C;
    b.inp = random_floats(rng, ni), b.dinp = random_floats(rng, ni), b.w = random_floats(rng, (size_t)9 * C);
    b.dw = random_floats(rng, (size_t)9 * C), b.out = random_floats(rng, no), b.dout = random_floats(rng, no);
    b.work = gs_aligned_alloc(depthwise_work_floats(C, 3) * sizeof(float));
    return b;
}

static void case_free(bench_case *b) {
    free(b->inp), free(b->dinp), free(b->w), free(b->dw), free(b->out), free(b->dout), free(b->work);
}

// One call of the forward (bwd 0) or backward (bwd 1), reference (fast 0) or fast twin.
static void run_op(const void *ctx, int bwd, int fast) {
    const bench_case *b = ctx;
    if (!bwd && !fast)
        depthwise_forward(b->out, b->inp, b->w, b->N, b->H, b->W, b->C, 3, b->s, b->pt, b->pl, b->Ho, b->Wo);
    else if (!bwd)
        depthwise_forward_fast(b->out, b->inp, b->w, b->N, b->H, b->W, b->C, 3, b->s, b->pt, b->pl, b->Ho, b->Wo);
    else if (!fast)
        depthwise_backward(b->dinp, b->dw, b->dout, b->inp, b->w, b->work, b->N, b->H, b->W, b->C, 3, b->s, b->pt,
                           b->pl, b->Ho, b->Wo);
    else
        depthwise_backward_fast(b->dinp, b->dw, b->dout, b->inp, b->w, b->work, b->N, b->H, b->W, b->C, 3, b->s,
                                b->pt, b->pl, b->Ho, b->Wo, 0);
}

// The best of `reps` calls run(ctx, op, fast) after one warm-up call (pages touched, caches and
// branch predictors as in training), in thread CPU seconds.
static double best_seconds(void (*run)(const void *ctx, int op, int fast), const void *ctx, int op, int fast,
                           int reps) {
    run(ctx, op, fast);
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = thread_cpu_s();
        run(ctx, op, fast);
        double dt = thread_cpu_s() - t0;
        best = dt < best ? dt : best;
    }
    return best;
}

// ---- 1x1 convolution: M = N frames' pixels, pass 0 forward, 1 dinp, 2 dw, 3 both ----
typedef struct {
    int M, Ci, Co;
    float *x, *w, *y, *g, *dx, *dw, *work;
} pw_case;

static void pw_run(const void *ctx, int pass, int fast) {
    const pw_case *c = ctx;
    float *dx = pass == 1 || pass == 3 ? c->dx : NULL, *dw = pass >= 2 ? c->dw : NULL;
    if (pass == 0 && fast) pwconv_forward_fast(c->y, c->x, c->w, c->work, c->M, c->Ci, c->Co);
    else if (pass == 0) matmul_forward(c->y, c->x, c->w, NULL, c->M, c->Ci, c->Co);
    else if (fast) pwconv_backward_fast(dx, dw, c->g, c->x, c->w, c->work, c->M, c->Ci, c->Co, 0);
    else matmul_backward(dx, dw, NULL, c->g, c->x, c->w, c->work, c->M, c->Ci, c->Co);
}

static void bench_pwconv(gs_rng *rng, int N, int reps) {
    static const int shapes[][3] = {{12544, 16, 96}, {3136, 144, 24}, {3136, 24, 144}, {784, 192, 32},
                                    {196, 384, 64},  {196, 576, 96},  {49, 960, 160},  {49, 320, 1280}};
    printf("\n1x1 convolution, N=%d frames, 1 thread, thread CPU time, best of %d: GMAC/s reference / fast\n", N,
           reps);
    printf("%-24s %15s %15s %15s %15s\n", "M x Ci -> Co", "forward", "dinp", "dw", "dinp + dw");
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        pw_case c = {.M = shapes[k][0] * N, .Ci = shapes[k][1], .Co = shapes[k][2]};
        size_t nx = (size_t)c.M * c.Ci, ny = (size_t)c.M * c.Co, nw = (size_t)c.Ci * c.Co;
        c.x = random_floats(rng, nx), c.w = random_floats(rng, nw), c.y = random_floats(rng, ny);
        c.g = random_floats(rng, ny), c.dx = random_floats(rng, nx), c.dw = random_floats(rng, nw);
        size_t wf = pwconv_fast_work_floats(c.Ci, c.Co);  // at least the reference's matmul_work_floats
        c.work = gs_aligned_alloc(wf * sizeof(float));
        char name[40], col[4][24];
        snprintf(name, sizeof name, "%d x %d -> %d", c.M, c.Ci, c.Co);
        for (int pass = 0; pass < 4; pass++) {
            double macs = (double)c.M * c.Ci * c.Co * (pass == 3 ? 2 : 1);
            snprintf(col[pass], sizeof col[pass], "%.1f / %.1f", 1e-9 * macs / best_seconds(pw_run, &c, pass, 0, reps),
                     1e-9 * macs / best_seconds(pw_run, &c, pass, 1, reps));
        }
        printf("%-24s %15s %15s %15s %15s\n", name, col[0], col[1], col[2], col[3]);
        free(c.x), free(c.w), free(c.y), free(c.g), free(c.dx), free(c.dw), free(c.work);
    }
}

int main(int argc, char **argv) {
    int N = argc > 1 ? atoi(argv[1]) : 4, reps = argc > 2 ? atoi(argv[2]) : 5;
    if (N < 1 || reps < 1) gs_fatal("usage: bench_train_kernels [N >= 1] [REPS >= 1]");
    omp_set_num_threads(1);  // thread CPU time measures one thread's work
    static const int shapes[][4] = {{112, 112, 96, 2}, {56, 56, 144, 1}, {56, 56, 144, 2},
                                    {28, 28, 192, 1},  {14, 14, 384, 1}, {7, 7, 960, 1}};
    gs_rng rng;
    gs_rng_seed(&rng, 1);
    printf("depthwise 3x3, N=%d, 1 thread, thread CPU time, best of %d\n", N, reps);
    printf("%-18s %-4s %9s %9s %7s %9s %9s %9s %9s\n", "shape (HxWxC s)", "op", "ref ms", "fast ms", "speedup",
           "ref GB/s", "fast GB/s", "ref GMAC/s", "fast GMAC/s");
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        bench_case b = case_make(&rng, N, shapes[k][0], shapes[k][1], shapes[k][2], shapes[k][3]);
        double ni = (double)N * b.H * b.W * b.C, no = (double)N * b.Ho * b.Wo * b.C;
        for (int bwd = 0; bwd <= 1; bwd++) {
            double t_ref = best_seconds(run_op, &b, bwd, 0, reps), t_fast = best_seconds(run_op, &b, bwd, 1, reps);
            double bytes = 4.0 * (bwd ? no + 3 * ni : ni + no), macs = 9.0 * no * (bwd ? 2 : 1);
            char name[32];
            snprintf(name, sizeof name, "%dx%dx%d s%d", b.H, b.W, b.C, b.s);
            printf("%-18s %-4s %9.3f %9.3f %6.2fx %9.2f %9.2f %10.2f %11.2f\n", name, bwd ? "bwd" : "fwd",
                   1e3 * t_ref, 1e3 * t_fast, t_ref / t_fast, 1e-9 * bytes / t_ref, 1e-9 * bytes / t_fast,
                   1e-9 * macs / t_ref, 1e-9 * macs / t_fast);
        }
        case_free(&b);
    }
    bench_pwconv(&rng, N, reps);
    return 0;
}
