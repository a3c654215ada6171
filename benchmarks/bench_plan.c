// Side-by-side timing of the inference plan's kernel tiers (src/plan/plan_kernels.h) on every
// convolution shape of a MobileNetV2 (alpha, size), one thread, thread CPU time (so other processes
// on a loaded machine slow it less than wall time would): GMAC/s per layer kind and tier, the best of
// several repetitions. Never run by ctest.
//   build/benchmarks/bench_plan [ALPHA SIZE FRAMES_PER_CALL REPS]   (default 1.0 224 1 5)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/plan/plan_kernels.h"
#include "gesture/errors.h"
#include "gesture/model.h"
#include "gesture/ops.h"

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
static double time_node(const plan_kernels *k, const gs_model *m, const gs_node *n, int frames, int reps, double *macs) {
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
    return 0;
}
