// The CUDA backend of the walker (gesture/exec.h): one kernel row per op, each calling the CUDA
// twin (ops_cuda.h) of the CPU op that src/model/exec_cpu.c calls, with device pointers the walker
// resolved from a device arena that mirrors the host plan's offsets. Kept row for row beside
// exec_cpu.c so a difference between the two paths is easy to find by reading them side by side.
// Every node and phase is an NVTX range (named after the Keras layer) for Nsight Systems.
// A train step reads its per-step values (dropout keys, Adam step size) from the device step state,
// so the same queued work can be captured once as a CUDA graph and replayed (model_cuda_train_step).
#include <string.h>

#include "cuda_common.h"
extern "C" {
#include "gesture/exec.h"
#include "gesture/model.h"
}
#include "gesture/model_cuda.h"

// ---- kernels, one forward/backward pair per op (exec_cpu.c's rows, on the device) ----

static void nothing(const gs_op_call *c) { (void)c; }

static void conv_fwd(const gs_op_call *c) {
    const gs_node *n = c->n, *x = c->x[0];
    conv2d_forward_cuda(c->out, c->in[0], c->p[0], c->rows, x->shape[1], x->shape[2], x->shape[3], n->shape[3], n->k,
                        n->stride, n->pad_top, n->pad_left, n->shape[1], n->shape[2]);
}

static void conv_bwd(const gs_op_call *c) {
    const gs_node *n = c->n, *x = c->x[0];
    conv2d_backward_cuda(c->din[0], c->g[0], c->dout, c->in[0], c->p[0], c->rows, x->shape[1], x->shape[2],
                         x->shape[3], n->shape[3], n->k, n->stride, n->pad_top, n->pad_left, n->shape[1], n->shape[2]);
}

static void pwconv_fwd(const gs_op_call *c) {
    const gs_node *n = c->n;
    matmul_forward_cuda(c->out, c->in[0], c->p[0], NULL, c->rows * n->shape[1] * n->shape[2], c->x[0]->shape[3],
                        n->shape[3]);
}

static void pwconv_bwd(const gs_op_call *c) {
    const gs_node *n = c->n;
    matmul_backward_cuda(c->din[0], c->g[0], NULL, c->dout, c->in[0], c->p[0], c->rows * n->shape[1] * n->shape[2],
                         c->x[0]->shape[3], n->shape[3]);
}

static void dwconv_fwd(const gs_op_call *c) {
    const gs_node *n = c->n, *x = c->x[0];
    depthwise_forward_cuda(c->out, c->in[0], c->p[0], c->rows, x->shape[1], x->shape[2], x->shape[3], n->k, n->stride,
                           n->pad_top, n->pad_left, n->shape[1], n->shape[2]);
}

static void dwconv_bwd(const gs_op_call *c) {
    const gs_node *n = c->n, *x = c->x[0];
    depthwise_backward_cuda(c->din[0], c->g[0], c->dout, c->in[0], c->p[0], c->rows, x->shape[1], x->shape[2],
                            x->shape[3], n->k, n->stride, n->pad_top, n->pad_left, n->shape[1], n->shape[2]);
}

static void bn_fwd(const gs_op_call *c) {
    const gs_node *n = c->n;
    int C = n->shape[n->ndim - 1], M = (int)(c->numel / (size_t)C);
    if (c->training && c->dist && c->dist->bn) {  // sync_bn: statistics over every rank's rows
        batchnorm_forward_train_sync_cuda(c->out, c->save, c->save + C, c->p[2], c->p[3], c->in[0], c->p[0], c->p[1],
                                          M, C, n->eps, n->momentum, n->act, c->dist->bn);
    } else if (M == 0) {
        return;  // a data-parallel rank without clips, per-rank statistics: nothing to normalize
    } else if (c->training) {
        GS_ASSERT(c->save);
        batchnorm_forward_train_cuda(c->out, c->save, c->save + C, c->p[2], c->p[3], c->in[0], c->p[0], c->p[1], M, C,
                                     n->eps, n->momentum, n->act);
    } else {
        batchnorm_forward_infer_cuda(c->out, c->in[0], c->p[0], c->p[1], c->p[2], c->p[3], M, C, n->eps, n->act);
    }
}

static void bn_bwd(const gs_op_call *c) {
    const gs_node *n = c->n;
    int C = n->shape[n->ndim - 1], M = (int)(c->numel / (size_t)C);
    if (c->dist && c->dist->bn)
        batchnorm_backward_sync_cuda(c->din[0], c->g[0], c->g[1], c->dout, c->out, c->in[0], c->save, c->save + C,
                                     c->p[0], M, C, n->act, c->dist->bn);
    else if (M > 0)
        batchnorm_backward_cuda(c->din[0], c->g[0], c->g[1], c->dout, c->out, c->in[0], c->save, c->save + C, c->p[0],
                                M, C, n->act);
}

static void add_fwd(const gs_op_call *c) { add_forward_cuda(c->out, c->in[0], c->in[1], c->numel); }

static void add_bwd(const gs_op_call *c) { add_backward_cuda(c->din[0], c->din[1], c->dout, c->numel); }

static void gap_fwd(const gs_op_call *c) {
    const gs_node *x = c->x[0];
    avgpool_forward_cuda(c->out, c->in[0], c->rows, x->shape[1] * x->shape[2], x->shape[3]);
}

static void gap_bwd(const gs_op_call *c) {
    const gs_node *x = c->x[0];
    avgpool_backward_cuda(c->din[0], c->dout, c->rows, x->shape[1] * x->shape[2], x->shape[3]);
}

static void bigru_fwd(const gs_op_call *c) {
    const gs_model_arch *a = c->arch;
    int B = c->batch, T = a->frames, D = c->x[0]->shape[1], H = a->gru_units;
    size_t cache = gru_cache_floats(a->batch, T, H);
    for (int d = 0; d < 2; d++)
        gru_forward_cuda(c->out + d * H, c->save + d * cache, c->in[0], c->p[3 * d], c->p[3 * d + 1], c->p[3 * d + 2],
                         B, T, D, H, 2 * H, d);
}

static void bigru_bwd(const gs_op_call *c) {
    const gs_model_arch *a = c->arch;
    int B = c->batch, T = a->frames, D = c->x[0]->shape[1], H = a->gru_units;
    size_t cache = gru_cache_floats(a->batch, T, H);
    for (int d = 0; d < 2; d++)
        gru_backward_cuda(c->din[0], c->g[3 * d], c->g[3 * d + 1], c->g[3 * d + 2], c->dout + d * H,
                          c->save + d * cache, c->in[0], c->p[3 * d], c->p[3 * d + 1], B, T, D, H, 2 * H, d);
}

// Index of this call's first element in the global batch's tensor (data-parallel ranks: row0 rows in).
static size_t first_element(const gs_op_call *c) {
    return c->dist && c->rows ? (size_t)c->dist->row0 * (c->numel / (size_t)c->rows) : 0;
}

// Inference: rate 0, a copy; training: this step's key read from the device step state.
static void dropout_fwd(const gs_op_call *c) {
    const gs_node *n = c->n;
    size_t first = first_element(c);
    if (c->training && first)
        dropout_forward_state_at_cuda(c->out, c->in[0], c->numel, n->rate, &c->state->dropout_key[n->ordinal], first);
    else if (c->training)
        dropout_forward_state_cuda(c->out, c->in[0], c->numel, n->rate, &c->state->dropout_key[n->ordinal]);
    else
        dropout_forward_cuda(c->out, c->in[0], c->numel, 0.0f, 0);
}

// rate 0 adds dout through; the key is the forward's (same step state)
static void dropout_bwd(const gs_op_call *c) {
    const gs_node *n = c->n;
    size_t first = first_element(c);
    if (first)
        dropout_backward_state_at_cuda(c->din[0], c->dout, c->numel, n->rate, &c->state->dropout_key[n->ordinal],
                                       first);
    else
        dropout_backward_state_cuda(c->din[0], c->dout, c->numel, n->rate, &c->state->dropout_key[n->ordinal]);
}

static void dense_fwd(const gs_op_call *c) {
    const gs_node *n = c->n;
    matmul_forward_cuda(c->out, c->in[0], c->p[0], c->p[1], c->rows, c->x[0]->shape[1], n->shape[1]);
    if (n->act == GS_ACT_RELU) relu_forward_cuda(c->out, c->out, c->numel);
}

static void dense_bwd(const gs_op_call *c) {
    const gs_node *n = c->n;
    // ReLU mask applied in place: this gradient buffer belongs to this node alone
    if (n->act == GS_ACT_RELU) relu_mask_cuda(c->dout, c->out, c->numel);
    matmul_backward_cuda(c->din[0], c->g[0], c->g[1], c->dout, c->in[0], c->p[0], c->rows, c->x[0]->shape[1],
                         n->shape[1]);
}

static void loss_fwd(const gs_op_call *c) {
    // without labels only the probabilities matter: label 0 stands in, the loss is discarded
    if (!c->have_labels) gs_cuda_memset_async(c->labels, 0, (size_t)c->rows * sizeof(int));
    if (c->dist)  // data-parallel: this rank's share of the global batch's mean (summed over ranks by the trainer)
        softmax_ce_forward_scaled_cuda(c->out, c->save, c->ce_loss, c->in[0], c->labels, c->rows, c->n->shape[1],
                                       c->dist->loss_scale);
    else
        softmax_ce_forward_cuda(c->out, c->save, c->ce_loss, c->in[0], c->labels, c->rows, c->n->shape[1]);
}

static void loss_bwd(const gs_op_call *c) {
    softmax_ce_backward_cuda(c->din[0], c->out, c->labels, c->rows, c->n->shape[1], c->dist ? c->dist->loss_scale : 1.0f);
}

// Scratch: the CUDA ops borrow theirs from the backend's scratch buffer (gs_cuda_scratch); the walker's
// work memory, carved from the device arena, then holds only its per-time-step BN gathers (which the
// ops' scratch must not overlap).
static const gs_op_kernels cuda_kernels[] = {
    {NODE_INPUT, nothing, nothing, NULL, 0},
    {NODE_CONV, conv_fwd, conv_bwd, NULL, 0},
    {NODE_PWCONV, pwconv_fwd, pwconv_bwd, NULL, 0},
    {NODE_DWCONV, dwconv_fwd, dwconv_bwd, NULL, 0},
    {NODE_BN, bn_fwd, bn_bwd, NULL, 0},
    {NODE_ADD, add_fwd, add_bwd, NULL, 0},
    {NODE_GAP, gap_fwd, gap_bwd, NULL, 0},
    {NODE_BIGRU, bigru_fwd, bigru_bwd, NULL, 0},
    {NODE_DROPOUT, dropout_fwd, dropout_bwd, NULL, 0},
    {NODE_DENSE, dense_fwd, dense_bwd, NULL, 0},
    {NODE_LOSS, loss_fwd, loss_bwd, NULL, 0},
};
static_assert(sizeof cuda_kernels / sizeof cuda_kernels[0] == NODE_COUNT,
              "the CUDA backend needs one kernel row per gs_node_op (docs/adding-an-op.md)");

// ---- device memory ----

// Pinned slots the step state is copied from: a slot is rewritten only after its last copy ran
// (its event), so the host never races a queued copy and rarely waits (the ring is deep).
#define STATE_SLOTS 8

struct gs_model_cuda_graph {
    gs_step_state *slots;  // pinned (STATE_SLOTS)
    cudaEvent_t copied[STATE_SLOTS];
    int next;
    cudaGraph_t graph;
    cudaGraphExec_t exec;
    void *scratch;              // op scratch base the graph's kernels were captured with
    const void *gemm_ws;        // and the bf16 GEMM operand buffer's
    float beta1, beta2, eps;    // Adam constants baked into the graph
};

static gs_model_cuda *of(gs_exec *e) { return (gs_model_cuda *)e; }  // e is the first member

static void zero(float *p, size_t n) { gs_cuda_memset_async(p, 0, n * sizeof(float)); }

static void copy_rows(float *dst, size_t dst_pitch, const float *src, size_t src_pitch, size_t width, size_t rows) {
    size_t f = sizeof(float);
    gs_cuda_copy2d_async(dst, dst_pitch * f, src, src_pitch * f, width * f, rows);
}

static void adam(gs_exec *e, float lr, float beta1, float beta2, float eps, long t) {
    (void)lr;
    (void)t;  // both are in the published step size: a replayed graph must not bake them in
    adam_update_state_cuda(e->params, e->adam_m, e->adam_v, e->grad, e->m->params.numel_trainable,
                           &e->state->adam_alpha, beta1, beta2, eps);
}

// Queue the copy of state_host to the device state on the compute stream (never inside a capture).
static void publish(gs_exec *e) {
    struct gs_model_cuda_graph *x = of(e)->gx;
    int i = x->next;
    x->next = (i + 1) % STATE_SLOTS;
    CUDA_CHECK(cudaEventSynchronize(x->copied[i]));
    x->slots[i] = e->state_host;
    cudaStream_t st = gs_cuda_stream();
    CUDA_CHECK(cudaMemcpyAsync(e->state, &x->slots[i], sizeof *e->state, cudaMemcpyHostToDevice, st));
    CUDA_CHECK(cudaEventRecord(x->copied[i], st));
}

static void read_loss(gs_exec *e, float loss[2]) { gs_cuda_download(loss, e->loss, 2 * sizeof(float)); }

static const gs_backend cuda_backend = {
    "cuda", cuda_kernels, zero, copy_rows, l2_forward_cuda, l2_backward_cuda, adam, publish, read_loss, gs_cuda_sync,
    gs_cuda_range_push, gs_cuda_range_pop,
    0,  // bn_rows: keras3 BN steps are gathered (copy_rows) for the contiguous-row kernels
};

static void graph_destroy(struct gs_model_cuda_graph *x) {
    if (x->exec) CUDA_CHECK(cudaGraphExecDestroy(x->exec));
    if (x->graph) CUDA_CHECK(cudaGraphDestroy(x->graph));
    x->exec = NULL;
    x->graph = NULL;
}

extern "C" int model_cuda_init(gs_model_cuda *g, gs_model *m) {
    memset(g, 0, sizeof *g);
    gs_exec *e = &g->e;
    e->be = &cuda_backend;
    e->m = m;
    if (exec_check(e)) return -1;
    const gs_params *ps = &m->params;
    size_t f = sizeof(float);
    size_t work = exec_work_floats(e);
    size_t bytes = gs_cuda_align(m->arena_floats * f) + gs_cuda_align(ps->numel * f) +
                   3 * gs_cuda_align(ps->numel_trainable * f) + gs_cuda_align((size_t)m->cfg.batch * sizeof(int)) +
                   gs_cuda_align(2 * f) + gs_cuda_align(sizeof(gs_step_state)) + gs_cuda_align(work * f);
    if (gs_cuda_arena_init(&g->mem, bytes)) return -1;
    e->arena = (float *)gs_cuda_arena_alloc(&g->mem, m->arena_floats * f);
    e->params = (float *)gs_cuda_arena_alloc(&g->mem, ps->numel * f);
    e->grad = (float *)gs_cuda_arena_alloc(&g->mem, ps->numel_trainable * f);
    e->adam_m = (float *)gs_cuda_arena_alloc(&g->mem, ps->numel_trainable * f);
    e->adam_v = (float *)gs_cuda_arena_alloc(&g->mem, ps->numel_trainable * f);
    e->labels = (int *)gs_cuda_arena_alloc(&g->mem, (size_t)m->cfg.batch * sizeof(int));
    e->loss = (float *)gs_cuda_arena_alloc(&g->mem, 2 * f);
    e->state = (gs_step_state *)gs_cuda_arena_alloc(&g->mem, sizeof(gs_step_state));
    e->work = work ? (float *)gs_cuda_arena_alloc(&g->mem, work * f) : NULL;
    gs_cuda_memset_async(e->labels, 0, (size_t)m->cfg.batch * sizeof(int));
    gs_cuda_memset_async(e->loss, 0, 2 * f);
    gs_cuda_memset_async(e->state, 0, sizeof(gs_step_state));
    g->gx = (struct gs_model_cuda_graph *)gs_calloc(1, sizeof *g->gx);
    g->gx->slots = (gs_step_state *)gs_cuda_host_alloc(STATE_SLOTS * sizeof(gs_step_state));
    for (int i = 0; i < STATE_SLOTS; i++)
        CUDA_CHECK(cudaEventCreateWithFlags(&g->gx->copied[i], cudaEventDisableTiming));
    model_cuda_upload_params(g);
    return 0;
}

extern "C" void model_cuda_free(gs_model_cuda *g) {
    gs_cuda_sync();
    if (g->gx) {
        graph_destroy(g->gx);
        for (int i = 0; i < STATE_SLOTS; i++) CUDA_CHECK(cudaEventDestroy(g->gx->copied[i]));
        gs_cuda_host_free(g->gx->slots);
        free(g->gx);
    }
    gs_cuda_arena_free(&g->mem);
    memset(g, 0, sizeof *g);
}

extern "C" void model_cuda_upload_params(gs_model_cuda *g) {
    const gs_params *ps = &g->e.m->params;
    gs_cuda_upload(g->e.params, ps->data, ps->numel * sizeof(float));
    gs_cuda_upload(g->e.adam_m, ps->m, ps->numel_trainable * sizeof(float));
    gs_cuda_upload(g->e.adam_v, ps->v, ps->numel_trainable * sizeof(float));
}

extern "C" void model_cuda_download_params(gs_model_cuda *g) {
    const gs_params *ps = &g->e.m->params;
    gs_cuda_download(ps->data, g->e.params, ps->numel * sizeof(float));
    gs_cuda_download(ps->m, g->e.adam_m, ps->numel_trainable * sizeof(float));
    gs_cuda_download(ps->v, g->e.adam_v, ps->numel_trainable * sizeof(float));
}

extern "C" float *model_cuda_input(gs_model_cuda *g) { return g->e.arena + g->e.m->nodes[0].out_off; }

extern "C" void model_cuda_set_labels(gs_model_cuda *g, const int *labels, int batch) {
    GS_ASSERT(batch >= 1 && batch <= g->e.m->cfg.batch);
    gs_cuda_upload(g->e.labels, labels, (size_t)batch * sizeof(int));
}

extern "C" void model_cuda_set_precision(gs_model_cuda *g, int bf16) {
    if (g->bf16 != bf16) graph_destroy(g->gx);  // what a captured step baked in changes
    g->bf16 = bf16;
}

extern "C" void model_cuda_forward(gs_model_cuda *g, int batch, int training, int have_labels) {
    int prev = gs_cuda_gemm_bf16(g->bf16);
    exec_forward(&g->e, batch, training, have_labels);
    gs_cuda_gemm_bf16(prev);
}

extern "C" void model_cuda_backward(gs_model_cuda *g) {
    int prev = gs_cuda_gemm_bf16(g->bf16);
    exec_backward(&g->e);
    gs_cuda_gemm_bf16(prev);
}

extern "C" void model_cuda_adam_step(gs_model_cuda *g, float lr, float beta1, float beta2, float eps) {
    exec_adam_begin(&g->e, lr, beta1, beta2);
    exec_adam_queue(&g->e, lr, beta1, beta2, eps);
}

static void train_step_queue(gs_model_cuda *g, float beta1, float beta2, float eps) {
    int prev = gs_cuda_gemm_bf16(g->bf16);
    exec_forward_queue(&g->e, 1, 1);
    exec_backward(&g->e);
    exec_adam_queue(&g->e, 0.0f, beta1, beta2, eps);  // the step size comes from the step state
    gs_cuda_gemm_bf16(prev);
}

// Replay the captured full-batch step, capturing it first when there is none or when what it baked
// in has changed (the op scratch moved after a growth, other Adam constants).
static void graph_launch(gs_model_cuda *g, float beta1, float beta2, float eps) {
    struct gs_model_cuda_graph *x = g->gx;
    cudaStream_t st = gs_cuda_stream();
    void *scratch = gs_cuda_ctx_get()->scratch;
    if (x->exec && (x->scratch != scratch || x->gemm_ws != gs_cuda_gemm_ws() || x->beta1 != beta1 ||
                    x->beta2 != beta2 || x->eps != eps))
        graph_destroy(x);
    if (!x->exec) {
        CUDA_CHECK(cudaStreamBeginCapture(st, cudaStreamCaptureModeGlobal));
        train_step_queue(g, beta1, beta2, eps);
        CUDA_CHECK(cudaStreamEndCapture(st, &x->graph));
        CUDA_CHECK(cudaGraphInstantiate(&x->exec, x->graph, 0));
        // a growth during capture is fatal (gs_cuda_scratch), so this is the base every node uses
        x->scratch = gs_cuda_ctx_get()->scratch;
        x->gemm_ws = gs_cuda_gemm_ws();
        x->beta1 = beta1;
        x->beta2 = beta2;
        x->eps = eps;
        g->graph_captures++;
    }
    CUDA_CHECK(cudaGraphLaunch(x->exec, st));
    g->graph_launches++;
}

extern "C" void model_cuda_train_step(gs_model_cuda *g, int batch, float lr, float beta1, float beta2, float eps) {
    exec_train_begin(&g->e, batch, lr, beta1, beta2);
    int full = batch == g->e.m->cfg.batch;
    if (g->use_graph && full && g->warm) {
        graph_launch(g, beta1, beta2, eps);
    } else {
        train_step_queue(g, beta1, beta2, eps);
        if (full) g->warm = 1;  // this step sized the op scratch for a full batch
    }
}

extern "C" void model_cuda_set_graph(gs_model_cuda *g, int on) {
    g->use_graph = on;
    if (!on) {
        gs_cuda_sync();
        graph_destroy(g->gx);
    }
}

extern "C" void model_cuda_read_loss(gs_model_cuda *g) { exec_read_loss(&g->e); }

extern "C" void model_cuda_read_probs(gs_model_cuda *g, float *probs, int batch) {
    const gs_model *m = g->e.m;
    const gs_node *last = &m->nodes[m->n_nodes - 1];
    gs_cuda_download(probs, g->e.arena + last->out_off, (size_t)batch * last->shape[1] * sizeof(float));
}
