// The GPU executor (cuda/exec_cuda.cu) against the CPU executor (src/model/exec_cpu.c), both run
// by the one walker (src/model/walk.c), on one small model (alpha 0.35, 64x64 frames, T=3, B=2,
// every layer type of the seed network) from the same weights and inputs: training forward (every
// node's output, probabilities, CE and L2 losses, BN moving statistics after the update), every
// parameter gradient, one Adam step from the same gradients, and an inference forward. Forward
// within 1e-4, gradients within 1e-3 of the CPU result;
// gradients that are zero in exact arithmetic (a BN beta followed by another BN) must be negligible
// on both sides instead.
// The backward runs from the CPU's forward state (its arena uploaded: activations, saved BN
// statistics, probabilities), not the GPU's own: with Keras' init (BN beta 0) about half of every
// ReLU6 input sits near the kink at 0, and an element within float rounding of it takes the other
// subgradient on the other device; one such flip moved a BN beta gradient by 20% (seen on the
// emulator, and a finite difference straddles the kink too). Teacher-forcing the forward state
// makes the backward comparison test the backward arithmetic, which is what it is for.
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

int main(void) {
    cuda_test_begin(4242);
    gs_model m;
    small_model_init(&m);
    const gs_model_arch *cfg = &m.cfg;
    gs_model_cuda g;
    if (model_cuda_init(&g, &m)) {
        check(0, "model_cuda_init: %s", gs_last_error());
        return cuda_test_end();
    }
    size_t nin = (size_t)cfg->batch * cfg->frames * cfg->size * cfg->size * 3;
    float *x = model_input(&m);
    test_fill_uniform(x, &rng, 0.0f, 1.0f, nin);
    gs_cuda_upload(model_cuda_input(&g), x, nin * sizeof(float));
    int labels[2] = {3, 1};
    memcpy(m.labels, labels, sizeof labels);
    model_cuda_set_labels(&g, labels, cfg->batch);

    const gs_params *ps = &m.params;
    size_t K = (size_t)cfg->batch * cfg->classes;
    float *gprobs = gs_malloc(K * sizeof(float)), *gparams = gs_malloc(ps->numel * sizeof(float));
    float *ggrad = gs_malloc(ps->numel_trainable * sizeof(float));

    // training step on both, same dropout step
    long step0 = m.step;
    char name[160];
    model_forward(&m, cfg->batch, 1, 1);
    float *cpu_act = gs_malloc(m.arena_floats * sizeof(float));  // the forward state, before backward reuses memory
    memcpy(cpu_act, m.arena, m.arena_floats * sizeof(float));
    model_backward(&m);
    float cpu_loss = m.loss, cpu_ce = m.ce_loss, cpu_l2 = m.l2_loss;
    m.step = step0;
    model_cuda_forward(&g, cfg->batch, 1, 1);
    model_cuda_read_loss(&g);
    check(m.step == step0 + 1, "GPU forward advanced the dropout step (%ld)", m.step);
    model_cuda_read_probs(&g, gprobs, cfg->batch);
    check_close_f32("training probabilities", gprobs, model_probs(&m), K, TOL_FWD);
    check_close_f32("CE loss", &m.ce_loss, &cpu_ce, 1, TOL_FWD);
    check_close_f32("L2 penalty", &m.l2_loss, &cpu_l2, 1, TOL_FWD);
    check_close_f32("total loss", &m.loss, &cpu_loss, 1, TOL_FWD);
    // every node's training-forward output against the CPU's (copied before its backward)
    {
        float *act = gs_malloc(m.arena_floats * sizeof(float));
        gs_cuda_download(act, g.e.arena, m.arena_floats * sizeof(float));
        for (int j = 1; j < m.n_nodes; j++) {
            const gs_node *n = &m.nodes[j];
            size_t cnt = (size_t)n->shape[0];
            for (int d = 1; d < n->ndim; d++) cnt *= (size_t)n->shape[d];
            snprintf(name, sizeof name, "forward %s", n->name);
            compare_floor(name, act + n->out_off, cpu_act + n->out_off, cnt, TOL_FWD, 1e-3);
        }
        free(act);
    }
    // the backward from the CPU's forward state (see the top of the file)
    gs_cuda_upload(g.e.arena, cpu_act, m.arena_floats * sizeof(float));
    model_cuda_backward(&g);
    gs_cuda_sync();

    gs_cuda_download(gparams, g.e.params, ps->numel * sizeof(float));
    gs_cuda_download(ggrad, g.e.grad, ps->numel_trainable * sizeof(float));
    for (int i = 0; i < ps->n; i++) {
        const gs_param *p = &ps->p[i];
        if (p->trainable) continue;
        snprintf(name, sizeof name, "%s after the update", p->name);
        compare_floor(name, gparams + p->offset, params_ptr(ps, i), p->numel, TOL_FWD, 1e-3);
    }
    compare_grads(ps, ggrad, "");

    // Adam from identical gradients and moments: checks the executor's update wiring exactly. Each
    // tensor's change is compared with the CPU's change (check_update): against the parameters
    // themselves, a wrong update of a large parameter would hide below the tolerance.
    gs_cuda_upload(g.e.grad, ps->grad, ps->numel_trainable * sizeof(float));
    gs_cuda_upload(g.e.params, ps->data, ps->numel * sizeof(float));
    float *before = gs_malloc(ps->numel_trainable * sizeof(float));
    memcpy(before, ps->data, ps->numel_trainable * sizeof(float));
    long t0 = m.adam_t;
    model_adam_step(&m, 1e-3f, 0.9f, 0.999f, 1e-7f);
    m.adam_t = t0;
    model_cuda_adam_step(&g, 1e-3f, 0.9f, 0.999f, 1e-7f);
    gs_cuda_download(gparams, g.e.params, ps->numel * sizeof(float));
    double *cpu_after = gs_malloc(ps->numel_trainable * sizeof(double));
    for (size_t k = 0; k < ps->numel_trainable; k++) cpu_after[k] = ps->data[k];
    for (int i = 0; i < ps->n; i++) {
        const gs_param *p = &ps->p[i];
        if (!p->trainable) continue;
        snprintf(name, sizeof name, "Adam step of %s", p->name);
        check_update(name, gparams + p->offset, cpu_after + p->offset, before + p->offset, p->numel, TOL_FWD);
    }
    free(before);
    free(cpu_after);

    // inference (moving statistics, no dropout) from identical parameters
    gs_cuda_upload(g.e.params, ps->data, ps->numel * sizeof(float));
    model_forward(&m, cfg->batch, 0, 0);
    model_cuda_forward(&g, cfg->batch, 0, 0);
    model_cuda_read_probs(&g, gprobs, cfg->batch);
    check_close_f32("inference probabilities", gprobs, model_probs(&m), K, TOL_FWD);

    free(cpu_act);
    free(gprobs);
    free(gparams);
    free(ggrad);
    model_cuda_free(&g);
    model_free(&m);
    return cuda_test_end();
}

#endif
