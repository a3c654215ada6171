// Side-by-side timing of the inference plan against the reference executor on a loaded machine.
// 1. The plan's kernel tiers (src/ops/plan_kernels.h) on every convolution shape of a MobileNetV2
//    (alpha, size), one thread, thread CPU time (other processes slow it far less than wall time):
//    GMAC/s per layer kind and tier, the best of REPS.
// 2. The whole model (B clips of T frames, random weights): plan_forward and model_forward
//    (training 0) interleaved, REPS rounds, the median wall time and process CPU time per step on
//    the OpenMP threads in effect (OMP_NUM_THREADS). Never run by ctest.
//   build/benchmarks/bench_plan [ALPHA SIZE FRAMES_PER_CALL REPS T B]   (default 1.0 224 1 5 15 4)
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/ops/plan_kernels.h"
#include "gesture/errors.h"
#include "gesture/model.h"
#include "gesture/ops.h"
#include "gesture/plan.h"
#include "gesture/rng.h"

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *filled(size_t n) {
    float *a = gs_aligned_alloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) a[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
    return a;
}

// Seconds of one call of node n's convolution on `frames` frames with tier k: the best of reps.
static double time_node(const plan_kernels *k, const gs_model *m, const gs_node *n, int frames, int reps,
                        double *macs) {
    const gs_node *x = &m->nodes[n->in[0]];
    plan_geom g = {x->shape[1], x->shape[2], x->shape[3], n->shape[1], n->shape[2], n->shape[3],
                   n->k, n->stride, n->pad_top, n->pad_left};
    size_t in = (size_t)frames * g.H * g.W * g.Ci, out = (size_t)frames * g.Ho * g.Wo * g.Co;
    size_t wn = n->op == NODE_DWCONV ? (size_t)g.K * g.K * g.Co : (size_t)g.K * g.K * g.Ci * g.Co;
    float *xi = filled(in), *o = filled(out), *w = filled(wn), *b = filled((size_t)g.Co), *wp = NULL;
    if (n->op == NODE_PWCONV) {
        wp = filled(k->pw_packed_floats(g.Ci, g.Co));
        k->pw_pack(wp, w, g.Ci, g.Co);
    }
    *macs = (double)g.Ho * g.Wo * g.Co * frames * (n->op == NODE_DWCONV ? g.K * g.K : g.K * g.K * g.Ci);
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = cpu_now();
        if (n->op == NODE_PWCONV) {
            k->pw(o, xi, wp, b, NULL, frames * g.Ho * g.Wo, g.Ci, g.Co, 1);
        } else {
            for (int f = 0; f < frames; f++) {
                float *of = o + (size_t)f * g.Ho * g.Wo * g.Co;
                const float *xf = xi + (size_t)f * g.H * g.W * g.Ci;
                if (n->op == NODE_DWCONV) k->dw(of, xf, w, b, &g, 0, g.Ho, 1);
                else k->conv(of, xf, w, b, &g, 0, g.Ho, 1);
            }
        }
        double dt = cpu_now() - t0;
        best = dt < best ? dt : best;
    }
    free(xi), free(o), free(w), free(b), free(wp);
    return best;
}

static double now(clockid_t c) {
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// Part 2: plan vs reference on the whole model, interleaved.
static void whole_model(gs_model_arch a, int reps) {
    gs_model m;
    if (model_init(&m, &a)) gs_fatal("%s", gs_last_error());
    model_init_weights(&m, 1);
    gs_rng rng;
    gs_rng_seed(&rng, 1);
    float *x = model_input(&m);
    for (size_t i = 0; i < (size_t)a.batch * a.frames * a.size * a.size * 3; i++) x[i] = gs_rng_uniform(&rng);
    gs_plan *p;
    if (plan_build(&p, &m)) gs_fatal("%s", gs_last_error());
    float *probs = gs_malloc(sizeof(float) * (size_t)a.batch * a.classes);
    double *t = gs_malloc(sizeof(double) * 4 * (size_t)reps);  // [path][wall|cpu][rep]
    for (int r = -1; r < reps; r++)  // r = -1 warms both up
        for (int path = 0; path < 2; path++) {
            double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
            if (path == 0) plan_forward(p, probs, NULL, x, NULL, a.batch);
            else model_forward(&m, a.batch, 0, 0);
            if (r < 0) continue;
            t[(path * 2 + 0) * reps + r] = now(CLOCK_MONOTONIC) - w0;
            t[(path * 2 + 1) * reps + r] = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
        }
    int images = a.batch * a.frames;
    printf("\nwhole model: alpha %.2f size %d, %d clips x %d frames, %d threads, median of %d interleaved steps\n",
           (double)a.alpha, a.size, a.batch, a.frames, omp_get_max_threads(), reps);
    printf("%-10s %12s %12s %14s %14s\n", "path", "wall ms", "img/s", "cpu ms", "img/cpu-s");
    for (int path = 0; path < 2; path++) {
        double *w = t + (path * 2) * reps, *c = t + (path * 2 + 1) * reps;
        qsort(w, (size_t)reps, sizeof *w, by_value);
        qsort(c, (size_t)reps, sizeof *c, by_value);
        printf("%-10s %12.1f %12.1f %14.1f %14.1f\n", path == 0 ? plan_kernels_name() : "reference",
               w[reps / 2] * 1e3, images / w[reps / 2], c[reps / 2] * 1e3, images / c[reps / 2]);
    }
    free(t), free(probs);
    plan_free(p);
    model_free(&m);
}

int main(int argc, char **argv) {
    gs_model_arch a = {.alpha = argc > 1 ? (float)atof(argv[1]) : 1.0f, .size = argc > 2 ? atoi(argv[2]) : 224,
                       .frames = 1, .batch = 1, .classes = 5, .gru_units = 8, .dense_units = 8, .dropout = 0, .l2 = 0};
    int frames = argc > 3 ? atoi(argv[3]) : 1, reps = argc > 4 ? atoi(argv[4]) : 5;
    gs_model m;
    if (model_init(&m, &a)) gs_fatal("%s", gs_last_error());
    const plan_kernels *tiers[2] = {&plan_kernels_generic, &plan_kernels_avx2};
    int ntiers = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 2 : 1;
    const gs_node_op ops[3] = {NODE_CONV, NODE_DWCONV, NODE_PWCONV};
    const char *names[3] = {"conv KxK", "depthwise", "1x1 conv"};
    printf("alpha %.2f size %d, %d frame(s) per call, best of %d, 1 thread, thread CPU time\n", (double)a.alpha,
           a.size, frames, reps);
    printf("%-10s %8s", "layers", "GMAC");
    for (int t = 0; t < ntiers; t++) printf(" %10s ms %7s GMAC/s", tiers[t]->name, "");
    printf("\n");
    double total[2] = {0, 0};
    for (int o = 0; o < 3; o++) {
        double sec[2] = {0, 0}, macs = 0;
        for (int i = 0; i < m.n_nodes; i++) {
            if (m.nodes[i].op != ops[o]) continue;
            double mc = 0;
            for (int t = 0; t < ntiers; t++) sec[t] += time_node(tiers[t], &m, &m.nodes[i], frames, reps, &mc);
            macs += mc;
        }
        printf("%-10s %8.3f", names[o], macs / 1e9);
        for (int t = 0; t < ntiers; t++) {
            printf(" %13.2f %14.2f", sec[t] * 1e3, macs / sec[t] / 1e9);
            total[t] += sec[t];
        }
        printf("\n");
    }
    printf("%-10s %8s", "all", "");
    for (int t = 0; t < ntiers; t++) printf(" %13.2f %14s", total[t] * 1e3, "");
    printf("\n");
    model_free(&m);
    a.frames = argc > 5 ? atoi(argv[5]) : 15;
    a.batch = argc > 6 ? atoi(argv[6]) : 4;
    a.gru_units = 128, a.dense_units = 128;
    whole_model(a, reps);
    return 0;
}
