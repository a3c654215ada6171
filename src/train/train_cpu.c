// The CPU side of `gesture train` / `gesture eval` (gs_train_backend, gesture/trainer.h): the step
// runs to completion in step_start on the host model (model_forward/backward/adam_step); there is
// nothing to prefetch or to copy back. Data-parallel (be->dist): the walker computes this rank's part
// of the global batch's step (gs_exec_dist), the gradients are summed over the ranks (dist.h), then
// every rank applies the same Adam step.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/dist.h"
#include "gesture/errors.h"
#include "gesture/exec.h"
#include "gesture/ops.h"
#include "gesture/plan.h"
#include "gesture/trainer.h"

// be->ctx when eval_batch runs an inference plan.
typedef struct {
    gs_plan *plan;
    float *probs;  // (batch,K)
} cpu_plan_ctx;

static void feed(gs_model *m, const gs_batch *b) {
    const gs_model_arch *a = &m->cfg;
    size_t per_clip = (size_t)a->frames * a->size * a->size * 3;
    if (b->n == 0) return;  // a data-parallel rank without clips in this step
    memcpy(model_input(m), b->x, (size_t)b->n * per_clip * sizeof(float));
    memcpy(m->labels, b->labels, (size_t)b->n * sizeof(int));
}

static void sum_over_ranks(void *ctx, double *v, size_t n) {
    (void)ctx;
    dist_allreduce_f64(v, n, "batch norm statistics");
}

static void sum_grads_over_ranks(void *ctx, float *v, size_t n) {
    (void)ctx;
    dist_allreduce_f32(v, n, "gradients");
}

static const gs_reducer RANKS = {.sum = sum_over_ranks, .sum_f32 = sum_grads_over_ranks};

static void cpu_step_start(gs_train_backend *be, const gs_batch *b, float lr, float beta1, float beta2, float eps) {
    gs_model *m = be->m;
    feed(m, b);
    const gs_train_dist *d = be->dist;
    gs_exec_dist ed;
    if (d) {
        ed.row0 = d->row0;
        ed.loss_scale = (float)((double)b->n / d->n_global);
        ed.l2_grad = d->rank == 0;
        ed.bn = d->sync_bn ? &RANKS : NULL;
        ed.grads = &RANKS;
        ed.bucket_floats = 0;  // MPI sums on the CPU do not progress beside the computation: one sum
        m->dist = &ed;
    }
    model_forward(m, b->n, 1, 1);
    model_backward(m);  // data-parallel: ends with the gradients summed over the ranks
    m->dist = NULL;
    model_adam_step(m, lr, beta1, beta2, eps);
}

static void cpu_prefetch(gs_train_backend *be, const gs_batch *next) {
    (void)be;
    (void)next;
}

static const float *cpu_step_finish(gs_train_backend *be) { return model_probs(be->m); }

static const float *cpu_eval_batch(gs_train_backend *be, const gs_batch *b) {
    GS_ASSERT(b->n > 0);
    cpu_plan_ctx *pc = be->ctx;
    if (pc) {  // the plan reads the loader's batch itself; the loss as model_forward sets it
        gs_model *m = be->m;
        float loss[2];
        plan_forward(pc->plan, pc->probs, loss, b->x, b->labels, b->n);
        m->ce_loss = loss[0];
        m->l2_loss = loss[1];
        m->loss = loss[0] + loss[1];
        return pc->probs;
    }
    feed(be->m, b);
    model_forward(be->m, b->n, 0, 1);
    return model_probs(be->m);
}

static void cpu_sync_host(gs_train_backend *be) { (void)be; }

static void cpu_free(gs_train_backend *be) {
    cpu_plan_ctx *pc = be->ctx;
    if (pc) free(pc->probs);
    free(pc);
    be->ctx = NULL;
}

static void cpu_load_host(gs_train_backend *be) { (void)be; }

static const gs_train_ops cpu_ops = {cpu_step_start, cpu_prefetch, cpu_step_finish, cpu_eval_batch,
                                     cpu_sync_host,  cpu_free,     cpu_load_host};

void train_backend_cpu_init(gs_train_backend *be, gs_model *m) {
    memset(be, 0, sizeof *be);
    snprintf(be->device, sizeof be->device, "cpu");
    be->kind = "cpu";
    be->m = m;
    be->ops = &cpu_ops;
}

void train_backend_cpu_use_plan(gs_train_backend *be, gs_plan *plan) {
    cpu_free(be);
    if (!plan) return;
    cpu_plan_ctx *pc = gs_calloc(1, sizeof *pc);
    pc->plan = plan;
    pc->probs = gs_calloc((size_t)be->m->cfg.batch * be->m->cfg.classes, sizeof(float));
    be->ctx = pc;
}
