// The GPU side of training and evaluation as the core sees it: the registered device backend
// (gesture/device.h) behind the trainer's device functions (gesture/trainer.h). Without a
// registered backend every call says so in one line.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/device.h"
#include "gesture/config.h"
#include "gesture/errors.h"
#include "gesture/trainer.h"

static const gs_device_backend *gpu;

void device_register_gpu(const gs_device_backend *d) { gpu = d; }

const gs_device_backend *device_gpu(void) { return gpu; }

#define NO_BACKEND \
    "this binary was built without the CUDA backend (configure with -DGESTURE_CUDA=ON on a machine with nvcc and " \
    "cuDNN)"

static int missing(void) { return gs_error(NO_BACKEND); }

int train_cuda_available(void) { return gpu && gpu->count() > 0; }

int train_cuda_device_count(void) { return gpu ? gpu->count() : 0; }

int train_cuda_open(void) { return gpu ? gpu->open() : missing(); }

void train_cuda_close(void) {
    if (gpu) gpu->close();
}

void train_cuda_loader_memory(gs_loader_config *lc) {
    if (!gpu) return;
    lc->host_alloc = gpu->host_alloc;
    lc->host_free = gpu->host_free;
}

int train_backend_cuda_init(gs_train_backend *be, gs_model *m, int use_graph, int bf16) {
    return gpu ? gpu->train_init(be, m, use_graph, bf16) : missing();
}

// be->ctx of the GPU plan backend.
typedef struct {
    void *h;       // gpu->plan_init's handle
    float *probs;  // (batch,K) host
} gpu_plan_ctx;

static void plan_only(const char *what) {
    gs_fatal("the inference plan on %s runs eval_batch only (%s called)", gpu ? gpu->name : "the GPU", what);
}
static void gpu_plan_step_start(gs_train_backend *be, const gs_batch *b, float lr, float b1, float b2, float eps) {
    (void)be, (void)b, (void)lr, (void)b1, (void)b2, (void)eps;
    plan_only("step_start");
}
static void gpu_plan_prefetch(gs_train_backend *be, const gs_batch *next) {
    (void)be, (void)next;
    plan_only("prefetch");
}
static const float *gpu_plan_step_finish(gs_train_backend *be) {
    (void)be;
    plan_only("step_finish");
    return NULL;
}
static void gpu_plan_load_host(gs_train_backend *be) {
    (void)be;
    plan_only("load_host (a plan is rebuilt when the parameters change)");
}

static const float *gpu_plan_eval_batch(gs_train_backend *be, const gs_batch *b) {
    GS_ASSERT(b->n > 0);
    gpu_plan_ctx *c = be->ctx;
    float loss[2];
    gpu->plan_forward(c->h, c->probs, loss, b->x, b->labels, b->n);
    be->m->ce_loss = loss[0];
    be->m->l2_loss = loss[1];
    be->m->loss = loss[0] + loss[1];
    return c->probs;
}

static void gpu_plan_sync_host(gs_train_backend *be) { (void)be; }  // the plan changes no parameter

static void gpu_plan_free(gs_train_backend *be) {
    gpu_plan_ctx *c = be->ctx;
    if (!c) return;
    gpu->plan_free(c->h);
    free(c->probs);
    free(c);
    be->ctx = NULL;
}

static const gs_train_ops gpu_plan_ops = {gpu_plan_step_start, gpu_plan_prefetch, gpu_plan_step_finish,
                                          gpu_plan_eval_batch, gpu_plan_sync_host, gpu_plan_free,
                                          gpu_plan_load_host};

int train_backend_gpu_plan_init(gs_train_backend *be, gs_model *m, struct gs_plan *plan, int bf16) {
    memset(be, 0, sizeof *be);
    if (!gpu) return missing();
    void *h = gpu->plan_init(plan, bf16);
    if (!h) return -1;
    gpu_plan_ctx *c = gs_calloc(1, sizeof *c);
    c->h = h;
    c->probs = gs_calloc((size_t)m->cfg.batch * m->cfg.classes, sizeof(float));
    snprintf(be->device, sizeof be->device, "%s: %s%s", gpu->name, gpu->device_name(), bf16 ? ", bf16" : "");
    be->kind = gpu->name;
    be->m = m;
    be->ctx = c;
    be->ops = &gpu_plan_ops;
    return 0;
}

int train_cuda_dist_available(void) {
    if (!gpu) return missing() + 1;
    return gpu->dist_available ? gpu->dist_available() : gs_error("the GPU backend has no data-parallel training") + 1;
}

int train_cuda_dist_open(void) { return gpu && gpu->dist_open ? gpu->dist_open() : missing(); }

void train_cuda_dist_close(void) {
    if (gpu && gpu->dist_close) gpu->dist_close();
}

int train_device_check(gs_device device) {
    if (device != GS_DEVICE_CUDA || train_cuda_available()) return 0;
    return gs_error("runtime.device = cuda: %s", gpu ? "no CUDA device found (gesture info lists them)" : NO_BACKEND);
}

int train_device_open(gs_device device, int *use_cuda) {
    // auto: the GPU when this binary has the CUDA backend and a device is present
    *use_cuda = device == GS_DEVICE_CUDA || (device == GS_DEVICE_AUTO && train_cuda_available());
    if (*use_cuda && train_cuda_open())
        return gs_error("runtime.device = %s: %s", config_device_name(device), gs_last_error());
    return 0;
}
