// The CUDA device backend as the core sees it (gesture/device.h): the training step, validation and
// parameter sync of gs_train_backend through the GPU executor (exec_cuda.cu), `gesture bench` on
// the GPU, and gs_cuda_register() that hands both to the core. Batches arrive in pinned loader
// slots; the next batch is uploaded on the copy stream into a device staging buffer while the
// current step computes, and copied into the executor's input (device to device) at the start of
// the next step.
#include <stdio.h>
#include <stdlib.h>

#include "cuda_common.h"
extern "C" {
#include "gesture/device.h"
#include "gesture/dist.h"
#include "gesture/exec.h"
#include "gesture/trainer.h"
}
#include "gesture/model_cuda.h"

typedef struct {
    gs_model_cuda g;
    float *staging;          // device (B,T,S,S,3): the next batch lands here while a step runs
    const gs_batch *staged;  // the batch whose upload into staging was queued last
    float *probs;            // host (B,K)
    size_t clip_floats;      // T*S*S*3
    int n;                   // clips in the step in flight
    gs_exec_dist ed;         // data-parallel: this rank's part of the step in flight (be->dist)
} cuda_ctx;

static cuda_ctx *ctx_of(gs_train_backend *be) { return (cuda_ctx *)be->ctx; }

static void cuda_prefetch(gs_train_backend *be, const gs_batch *next) {
    cuda_ctx *c = ctx_of(be);
    // queued behind the copy out of staging of the step in flight (gs_cuda_copies_after_compute)
    gs_cuda_upload_async(c->staging, next->x, (size_t)next->n * c->clip_floats * sizeof(float));
    c->staged = next;
}

static void cuda_step_start(gs_train_backend *be, const gs_batch *b, float lr, float beta1, float beta2, float eps) {
    cuda_ctx *c = ctx_of(be);
    if (c->staged != b) cuda_prefetch(be, b);  // not prefetched (the trainer prefetches every batch)
    // a small synchronous upload: the compute stream is idle here (the last step was waited for)
    if (b->n > 0) model_cuda_set_labels(&c->g, b->labels, b->n);  // n = 0: a data-parallel rank without clips
    gs_cuda_wait_copies();
    gs_cuda_copy_async(model_cuda_input(&c->g), c->staging, (size_t)b->n * c->clip_floats * sizeof(float));
    gs_cuda_copies_after_compute();  // the next upload into staging waits for this copy
    c->staged = NULL;
    c->n = b->n;
    const gs_train_dist *d = be->dist;
    if (d) {  // data-parallel (trainer.h): the collectives are NCCL calls queued between the kernels
        if (c->g.use_graph) model_cuda_set_graph(&c->g, 0);  // steps are queued eagerly
        c->ed.row0 = d->row0;
        c->ed.loss_scale = (float)((double)b->n / d->n_global);
        c->ed.l2_grad = d->rank == 0;
        c->ed.bn = d->sync_bn ? gs_nccl_reducer() : NULL;
        c->ed.grads = gs_nccl_reducer();
        GS_ASSERT(c->ed.grads);
        c->ed.bucket_floats = (size_t)(d->bucket_mb * 1e6 / sizeof(float));
        c->g.e.dist = &c->ed;
    }
    model_cuda_train_step(&c->g, b->n, lr, beta1, beta2, eps);
    c->g.e.dist = NULL;
}

static const float *cuda_step_finish(gs_train_backend *be) {
    cuda_ctx *c = ctx_of(be);
    // data-parallel: NCCL waits forever for a rank that died or hangs; wait with the timeout instead
    if (be->dist) gs_cuda_sync_within(dist_timeout(), "the training step on the GPU (kernels and NCCL collectives)");
    model_cuda_read_loss(&c->g);
    model_cuda_read_probs(&c->g, c->probs, c->n);
    gs_cuda_copies_sync();  // the uploads' pinned sources are free again
    be->graph_steps = c->g.graph_launches;
    return c->probs;
}

static const float *cuda_eval_batch(gs_train_backend *be, const gs_batch *b) {
    cuda_ctx *c = ctx_of(be);
    model_cuda_set_labels(&c->g, b->labels, b->n);
    gs_cuda_upload(model_cuda_input(&c->g), b->x, (size_t)b->n * c->clip_floats * sizeof(float));
    model_cuda_forward(&c->g, b->n, 0, 1);
    model_cuda_read_loss(&c->g);
    model_cuda_read_probs(&c->g, c->probs, b->n);
    return c->probs;
}

static void cuda_sync_host(gs_train_backend *be) { model_cuda_download_params(&ctx_of(be)->g); }

static void cuda_free(gs_train_backend *be) {
    cuda_ctx *c = ctx_of(be);
    gs_cuda_copies_sync();  // an upload from a loader slot may still be in flight (Ctrl-C, errors)
    model_cuda_free(&c->g);
    gs_cuda_free(c->staging);
    free(c->probs);
    free(c);
    be->ctx = NULL;
}

static void cuda_load_host(gs_train_backend *be) { model_cuda_upload_params(&ctx_of(be)->g); }

static const gs_train_ops cuda_ops = {cuda_step_start, cuda_prefetch,  cuda_step_finish, cuda_eval_batch,
                                      cuda_sync_host,  cuda_free,      cuda_load_host};

static int cuda_train_init(gs_train_backend *be, gs_model *m, int use_graph, int bf16) {
    cuda_ctx *c = (cuda_ctx *)gs_calloc(1, sizeof *c);
    if (model_cuda_init(&c->g, m)) {
        free(c);
        return -1;
    }
    model_cuda_set_graph(&c->g, use_graph);
    model_cuda_set_precision(&c->g, bf16);
    const gs_model_arch *a = &m->cfg;
    c->clip_floats = (size_t)a->frames * a->size * a->size * 3;
    c->staging = (float *)gs_cuda_malloc((size_t)a->batch * c->clip_floats * sizeof(float));
    c->probs = (float *)gs_malloc((size_t)a->batch * a->classes * sizeof(float));
    snprintf(be->device, sizeof be->device, "cuda: %s%s", gs_cuda_device_name(), bf16 ? ", bf16" : "");
    be->kind = "cuda";
    be->m = m;
    be->ctx = c;
    be->graph_steps = 0;
    be->ops = &cuda_ops;
    return 0;
}

// Data-parallel: one device per rank, by the rank's index on its machine.
static int cuda_open(void) {
    int n = gs_cuda_device_count();
    return gs_cuda_init(n > 0 ? dist_local_rank() % n : 0);
}

int bench_cuda(const gs_config *cfg, int steps);  // bench_cuda.cu

// stream_cuda.cu
void *cuda_features_init(gs_model *m, int bf16);
void cuda_features_run(void *h, float *out, const float *x, int batch, int to);
void cuda_features_free(void *h);

static const gs_device_backend cuda_device = {
    "cuda", gs_cuda_device_count, cuda_open, gs_cuda_shutdown, gs_cuda_device_name, gs_cuda_host_alloc,
    gs_cuda_host_free, cuda_train_init, bench_cuda, cuda_features_init, cuda_features_run, cuda_features_free,
    cuda_plan_init,    cuda_plan_features,  cuda_plan_forward,  cuda_plan_free,
    gs_nccl_available, gs_nccl_open, gs_nccl_close,
};

extern "C" void gs_cuda_register(void) { device_register_gpu(&cuda_device); }
