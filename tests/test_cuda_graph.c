// CUDA-graph replay of the train step (model_cuda_train_step with use_graph) against the same steps
// run eagerly, on the small model of test_cuda_model.c (every layer type, dropout 0.25 on): from
// the same start, six steps with the learning rate changed between steps and one partial batch in
// the middle (which runs eagerly between replays), and the op scratch moved before the last step
// (the graph must be recaptured, not replayed with a dangling pointer). Parameters, BN moving
// statistics, Adam moments, losses and probabilities must be bitwise identical, and the graph must
// really have been replayed. A dropout key, step count or learning rate baked into the captured
// kernels would make the replayed steps differ. All of it in fp32 and with the GEMMs on bf16
// operands (runtime.precision = bf16: their operand buffer is baked in too). Also: the step-state
// kernels (dropout, Adam) are bitwise their host-scalar twins, which test_cuda_ops* check against
// the CPU.
// Exits 77 (ctest SKIP) without the CUDA backend or a device.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#ifndef GESTURE_WITH_CUDA
int main(void) { test_skip("CUDA backend not built (configure with -DGESTURE_CUDA=ON): skipped"); }
#else

#include "cuda_testutil.h"
#include "gesture/model.h"
#include "gesture/model_cuda.h"

#define STEPS 6
static const int batch_of[STEPS] = {2, 2, 2, 1, 2, 2};  // step 3 is a partial batch
static const float lr_of[STEPS] = {1e-3f, 1e-3f, 5e-4f, 5e-4f, 2.5e-4f, 1e-4f};
#define MOVE_SCRATCH_BEFORE 5

typedef struct {
    float *params, *m, *v;  // after the last step
    float loss[STEPS], ce[STEPS], probs[STEPS][2 * 5];
    long step, adam_t, launches, captures;
} run_result;

static void bitwise(const char *what, const void *a, const void *b, size_t bytes) {
    check(!memcmp(a, b, bytes), "%s: graph replay bitwise identical to eager steps", what);
}

// Two device arrays, bitwise: a step-state op against its host-scalar twin.
static void twin_bitwise(const char *what, const float *d_twin, const float *d_state, size_t n) {
    float *a = download(d_twin, n), *b = download(d_state, n);
    check(!memcmp(a, b, n * sizeof(float)), "%s: step-state variant bitwise identical to its twin", what);
    free(a);
    free(b);
}

// STEPS train steps from the host model's current parameters on a fresh executor.
static void run_steps(run_result *r, gs_model *m, float *const *x, int *const *labels, int graph, int bf16) {
    const gs_params *ps = &m->params;
    gs_model_cuda g;
    if (model_cuda_init(&g, m)) gs_fatal("model_cuda_init: %s", gs_last_error());
    model_cuda_set_graph(&g, graph);
    model_cuda_set_precision(&g, bf16);
    size_t clip = (size_t)m->cfg.frames * m->cfg.size * m->cfg.size * 3;
    for (int k = 0; k < STEPS; k++) {
        if (k == MOVE_SCRATCH_BEFORE) {  // larger on every run: the scratch is process-wide
            static size_t mib = 32;
            mib *= 2;
            gs_cuda_scratch_reserve(mib << 20);
        }
        gs_cuda_upload(model_cuda_input(&g), x[k], (size_t)batch_of[k] * clip * sizeof(float));
        model_cuda_set_labels(&g, labels[k], batch_of[k]);
        model_cuda_train_step(&g, batch_of[k], lr_of[k], 0.9f, 0.999f, 1e-7f);
        model_cuda_read_loss(&g);
        r->loss[k] = m->loss;
        r->ce[k] = m->ce_loss;
        memset(r->probs[k], 0, sizeof r->probs[k]);
        model_cuda_read_probs(&g, r->probs[k], batch_of[k]);
    }
    model_cuda_download_params(&g);
    r->params = hcopy(ps->data, ps->numel);
    r->m = hcopy(ps->m, ps->numel_trainable);
    r->v = hcopy(ps->v, ps->numel_trainable);
    r->step = m->step;
    r->adam_t = m->adam_t;
    r->launches = g.graph_launches;
    r->captures = g.graph_captures;
    model_cuda_free(&g);
}

// The step-state kernels against their host-scalar twins, from identical inputs.
static void test_state_twins(void) {
    const size_t n = 10007;
    float *h = hrand(n, -1, 1), *hg = hrand(n, -1, 1);
    const float rates[2] = {0.25f, 0.0f};
    for (int i = 0; i < 2; i++) {
        uint64_t key = gs_key(7, 1, (uint64_t)(100 + i));
        uint64_t *dkey = dalloc(sizeof key);
        gs_cuda_upload(dkey, &key, sizeof key);
        float *in = dev(h, n), *a = dev_nan(n), *b = dev_nan(n), *da = dev(hg, n), *db = dev(hg, n);
        dropout_forward_cuda(a, in, n, rates[i], key);
        dropout_forward_state_cuda(b, in, n, rates[i], dkey);
        char what[96];
        snprintf(what, sizeof what, "dropout forward, rate %.2f", rates[i]);
        twin_bitwise(what, a, b, n);
        dropout_backward_cuda(da, in, n, rates[i], key);
        dropout_backward_state_cuda(db, in, n, rates[i], dkey);
        snprintf(what, sizeof what, "dropout backward, rate %.2f", rates[i]);
        twin_bitwise(what, da, db, n);
        dev_release();
    }
    float *hm = hrand(n, -0.1f, 0.1f), *hv = hrand(n, 0, 0.01f);
    float *p1 = dev(h, n), *m1 = dev(hm, n), *v1 = dev(hv, n), *p2 = dev(h, n), *m2 = dev(hm, n), *v2 = dev(hv, n);
    float *grad = dev(hg, n), *alpha = dalloc(sizeof(float));
    for (long t = 1; t <= 3; t++) {
        float lr = 1e-3f / (float)t, a = adam_step_size(lr, 0.9f, 0.999f, t);
        gs_cuda_upload(alpha, &a, sizeof a);
        adam_update_cuda(p1, m1, v1, grad, n, lr, 0.9f, 0.999f, 1e-7f, t);
        adam_update_state_cuda(p2, m2, v2, grad, n, alpha, 0.9f, 0.999f, 1e-7f);
    }
    twin_bitwise("adam params after 3 steps", p1, p2, n);
    twin_bitwise("adam m after 3 steps", m1, m2, n);
    twin_bitwise("adam v after 3 steps", v1, v2, n);
    dev_release();
    free(h);
    free(hg);
    free(hm);
    free(hv);
}

// Eager against graph-replayed steps from the same start, fp32 or bf16 GEMMs.
static void compare_runs(int bf16) {
    const char *tag = bf16 ? "bf16" : "fp32";
    printf("-- %s\n", tag);
    gs_model m;
    small_model_init(&m);
    const gs_model_arch *cfg = &m.cfg;
    const gs_params *ps = &m.params;
    float *p0 = hcopy(ps->data, ps->numel), *m0 = hcopy(ps->m, ps->numel_trainable);
    float *v0 = hcopy(ps->v, ps->numel_trainable);
    long step0 = m.step, t0 = m.adam_t;
    size_t clip = (size_t)cfg->frames * cfg->size * cfg->size * 3;
    float *x[STEPS];
    int *labels[STEPS];
    for (int k = 0; k < STEPS; k++) {
        x[k] = hrand((size_t)cfg->batch * clip, 0, 1);
        labels[k] = gs_malloc((size_t)cfg->batch * sizeof(int));
        for (int b = 0; b < cfg->batch; b++) labels[k][b] = (3 * k + b) % cfg->classes;
    }

    run_result eager, graph;
    run_steps(&eager, &m, x, labels, 0, bf16);
    memcpy(ps->data, p0, ps->numel * sizeof(float));  // the same start for the graph run
    memcpy(ps->m, m0, ps->numel_trainable * sizeof(float));
    memcpy(ps->v, v0, ps->numel_trainable * sizeof(float));
    m.step = step0;
    m.adam_t = t0;
    run_steps(&graph, &m, x, labels, 1, bf16);

    // full-batch steps after the eager warm-up (step 0) replay: steps 1, 2, 4, 5
    check(eager.launches == 0, "eager run replayed no graph (%ld)", eager.launches);
    check(graph.launches == 4, "graph run replayed the 4 full-batch steps after the warm-up (%ld)", graph.launches);
    check(graph.captures >= 1 && graph.captures <= 2, "captured once, or twice after the scratch moved (%ld)",
          graph.captures);
    printf("graph (%s): %ld replays, %ld captures\n", tag, graph.launches, graph.captures);
    check(eager.step == step0 + STEPS && graph.step == eager.step, "dropout step counter %ld / %ld", eager.step,
          graph.step);
    check(eager.adam_t == t0 + STEPS && graph.adam_t == eager.adam_t, "Adam step count %ld / %ld", eager.adam_t,
          graph.adam_t);
    int moved = 0;
    for (int k = 1; k < STEPS; k++) moved += eager.loss[k] != eager.loss[0];
    check(moved == STEPS - 1 && isfinite(eager.loss[STEPS - 1]), "losses change from step to step and stay finite");
    bitwise("losses", eager.loss, graph.loss, sizeof eager.loss);
    bitwise("CE losses", eager.ce, graph.ce, sizeof eager.ce);
    bitwise("probabilities", eager.probs, graph.probs, sizeof eager.probs);
    int stats = 0, stats_same = 1;
    for (int i = 0; i < ps->n; i++)
        if (!ps->p[i].trainable) {
            stats++;
            stats_same &= !memcmp(eager.params + ps->p[i].offset, graph.params + ps->p[i].offset,
                                  ps->p[i].numel * sizeof(float));
        }
    check(stats > 0 && stats_same, "BN moving statistics (%d tensors): graph replay bitwise identical", stats);
    bitwise("trainable parameters", eager.params, graph.params, ps->numel_trainable * sizeof(float));
    bitwise("all parameters", eager.params, graph.params, ps->numel * sizeof(float));
    bitwise("Adam m", eager.m, graph.m, ps->numel_trainable * sizeof(float));
    bitwise("Adam v", eager.v, graph.v, ps->numel_trainable * sizeof(float));
    check(memcmp(eager.params, p0, ps->numel * sizeof(float)) != 0, "training changed the parameters");

    for (int k = 0; k < STEPS; k++) {
        free(x[k]);
        free(labels[k]);
    }
    run_result *rs[2] = {&eager, &graph};
    for (int i = 0; i < 2; i++) {
        free(rs[i]->params);
        free(rs[i]->m);
        free(rs[i]->v);
    }
    free(p0);
    free(m0);
    free(v0);
    model_free(&m);
}

int main(void) {
    cuda_test_begin(777);
    test_state_twins();
    compare_runs(0);
    compare_runs(1);
    return cuda_test_end();
}

#endif
