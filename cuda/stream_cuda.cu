// Per-frame features of `gesture stream` on the GPU (gesture/device.h features_*): the walker over
// the backbone nodes of a model planned for one frame, on the CUDA backend. The BiGRU and the head
// run on the host over the ring of features (src/stream/window_model.c); they are a few thousand
// flops per window, less than a round trip to the device.
#include <stdlib.h>

#include "cuda_common.h"
extern "C" {
#include "gesture/errors.h"
#include "gesture/exec.h"
}
#include "gesture/model_cuda.h"

typedef struct {
    gs_model_cuda g;
    size_t in_floats;  // one clip's input floats (T*S*S*3)
} features_ctx;

void *cuda_features_init(gs_model *m, int bf16) {
    features_ctx *c = (features_ctx *)gs_calloc(1, sizeof *c);
    if (model_cuda_init(&c->g, m) != 0) {
        free(c);
        return NULL;
    }
    model_cuda_set_precision(&c->g, bf16);
    const gs_model_arch *a = &m->cfg;
    c->in_floats = (size_t)a->frames * a->size * a->size * 3;
    return c;
}

void cuda_features_run(void *h, float *out, const float *x, int batch, int to) {
    features_ctx *c = (features_ctx *)h;
    gs_model *m = c->g.e.m;
    GS_ASSERT(to >= 1 && to <= m->n_nodes && batch >= 1 && batch <= m->cfg.batch);
    gs_cuda_upload(model_cuda_input(&c->g), x, (size_t)batch * c->in_floats * sizeof(float));
    int prev = gs_cuda_gemm_bf16(c->g.bf16);
    exec_forward_nodes(&c->g.e, batch, 0, to);
    gs_cuda_gemm_bf16(prev);
    const gs_node *last = &m->nodes[to - 1];
    size_t row = 1;
    for (int i = 1; i < last->ndim; i++) row *= (size_t)last->shape[i];
    size_t rows = (size_t)last->shape[0] / (size_t)m->cfg.batch * (size_t)batch;
    gs_cuda_download(out, c->g.e.arena + last->out_off, rows * row * sizeof(float));
}

void cuda_features_free(void *h) {
    features_ctx *c = (features_ctx *)h;
    if (!c) return;
    model_cuda_free(&c->g);
    free(c);
}
