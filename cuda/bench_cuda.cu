// `gesture bench` with runtime.device=cuda: the same measurement as the CPU bench (train step =
// forward + backward + Adam; inference = forward without labels; random inputs, 1 warm-up step)
// through the GPU executor (cuda/exec_cuda.cu), timed on the host around device syncs; then the
// folded inference plan (plan_cuda.cu) as predict and eval run it: clips from pinned host memory,
// probabilities back to the host, so its time includes both copies. With
// runtime.cuda_graph=on the train step is replayed as a CUDA graph (as `gesture train` does); its
// capture happens in the untimed warm-up. With runtime.profile_steps=START:COUNT the train steps
// START..START+COUNT-1 are bracketed by cudaProfilerStart/Stop (scripts/profile.sh captures that
// window with Nsight Systems).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cuda_common.h"
extern "C" {
#include "gesture/config.h"
#include "gesture/model.h"
#include "gesture/plan.h"
#include "gesture/rng.h"
#include "gesture/runtime.h"
}
#include "gesture/model_cuda.h"


// The folded plan of m's parameters on a full batch of host clips x: prints its line; exit code.
static int bench_plan(const gs_model *m, const float *x, int steps, int images, int bf16) {
    gs_plan *p;
    if (plan_build(&p, m) != 0) {
        fprintf(stderr, "gesture: %s\n", gs_last_error());
        return 1;
    }
    void *h = cuda_plan_init(p, bf16);
    if (!h) {
        fprintf(stderr, "gesture: %s\n", gs_last_error());
        plan_free(p);
        return 1;
    }
    float *probs = (float *)gs_malloc(sizeof(float) * (size_t)m->cfg.batch * m->cfg.classes);
    double t0 = 0;
    for (int s = 0; s < steps + 1; s++) {  // each call ends with the probabilities on the host
        if (s == 1) t0 = runtime_now();
        cuda_plan_forward(h, probs, NULL, x, NULL, m->cfg.batch);
    }
    double dt = (runtime_now() - t0) / steps;
    printf("%-10s %10.1f img/s %10.1f ms/step  (folded plan%s, clips from host memory)\n", "inference", images / dt,
           dt * 1e3, bf16 ? ", bf16" : "");
    free(probs);
    cuda_plan_free(h);
    plan_free(p);
    return 0;
}

// Registered as the CUDA device's bench (train_cuda.cu); returns the exit code.
int bench_cuda(const gs_config *cfg, int steps) {
    if (gs_cuda_init(0)) {
        fprintf(stderr, "gesture: %s\n", gs_last_error());
        return 1;
    }
    gs_model m;
    if (model_init_from_config(&m, cfg)) {
        fprintf(stderr, "gesture: %s\n", gs_last_error());
        return 1;
    }
    const gs_model_arch arch = m.cfg;
    gs_model_cuda g;
    if (model_cuda_init(&g, &m)) {
        fprintf(stderr, "gesture: %s\n", gs_last_error());
        model_free(&m);
        return 1;
    }
    size_t n = (size_t)arch.batch * arch.frames * arch.size * arch.size * 3;
    float *x = (float *)gs_cuda_host_alloc(n * sizeof(float));
    int *labels = (int *)gs_malloc((size_t)arch.batch * sizeof(int));
    gs_rng rng;
    gs_rng_seed(&rng, 1);
    for (size_t i = 0; i < n; i++) x[i] = gs_rng_uniform(&rng);
    for (int b = 0; b < arch.batch; b++) labels[b] = b % arch.classes;
    gs_cuda_upload(model_cuda_input(&g), x, n * sizeof(float));
    model_cuda_set_labels(&g, labels, arch.batch);
    int images = arch.batch * arch.frames;
    const int graph = cfg->runtime.cuda_graph;
    model_cuda_set_graph(&g, graph);
    const int bf16 = cfg->runtime.precision == GS_PRECISION_BF16;
    model_cuda_set_precision(&g, bf16);
    printf("gesture bench: alpha %.2f S %d T %d B %d (%d images/step), cuda: %s%s%s\n", arch.alpha, arch.size,
           arch.frames, arch.batch, images, gs_cuda_device_name(), graph ? ", CUDA graph" : "",
           bf16 ? ", bf16 GEMMs (runtime.precision)" : "");
    const int p0 = cfg->runtime.profile_start, pn = cfg->runtime.profile_count;
    int status = 0;
    for (int phase = 0; phase < 2 && !status; phase++) {
        double t0 = 0;
        // step 0 sizes the op scratch, picks cuDNN algorithms, loads modules; with a graph, step 1
        // captures it
        const int warm = phase == 0 && graph ? 2 : 1;
        for (int s = 0; s < steps + warm; s++) {
            if (s == warm) {
                gs_cuda_sync();
                t0 = runtime_now();
            }
            if (phase == 0 && pn > 0 && s == p0) gs_cuda_profiler_start();
            if (phase == 0) {
                model_cuda_train_step(&g, arch.batch, (float)cfg->train.learning_rate, (float)cfg->train.beta1,
                                      (float)cfg->train.beta2, (float)cfg->train.epsilon);
            } else {
                model_cuda_forward(&g, arch.batch, 0, 0);
            }
            if (phase == 0 && pn > 0 && s == p0 + pn - 1) {
                gs_cuda_sync();
                gs_cuda_profiler_stop();
            }
        }
        gs_cuda_sync();
        double dt = (runtime_now() - t0) / steps;
        printf("%-10s %10.1f img/s %10.1f ms/step\n", phase == 0 ? "train" : "inference", images / dt, dt * 1e3);
        if (phase == 0) {
            model_cuda_read_loss(&g);
            if (!isfinite(m.loss)) {
                fprintf(stderr, "gesture: CUDA train steps gave a non-finite loss (%g)\n", (double)m.loss);
                status = 1;
            }
        }
    }
    if (!status) status = bench_plan(&m, x, steps, images, 0);
    if (!status && bf16) status = bench_plan(&m, x, steps, images, 1);
    printf("scratch grew %d times (warm-up only is expected)\n", gs_cuda_scratch_grow_count());
    if (graph)
        printf("CUDA graph: %ld train steps replayed, %ld captures\n", g.graph_launches, g.graph_captures);
    gs_cuda_host_free(x);
    free(labels);
    model_cuda_free(&g);
    model_free(&m);
    gs_cuda_shutdown();
    return status;
}
