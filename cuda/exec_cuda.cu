// GPU executor of the planned graph: src/model/exec.c line for line, with device pointers from a
// device arena that mirrors the host plan's offsets and the CUDA twin of each op. Kept as close to
// exec.c as possible so a difference between the two paths is easy to find by reading them side by
// side. Every node and phase is an NVTX range (named after the Keras layer) for Nsight Systems.
// A train step reads its per-step values (dropout keys, Adam step size) from a device step state, so
// the same queued work can be captured once as a CUDA graph and replayed (model_cuda_train_step).
#include <string.h>

#include "cuda_common.h"
extern "C" {
#include "gesture/model.h"
#include "gesture/rng.h"
}
#include "gesture/model_cuda.h"

#define OUT(n) (g->arena + (n)->out_off)
#define GRAD(n) ((n)->grad_off == GS_NO_MEM ? NULL : g->arena + (n)->grad_off)
#define SAVE(n) (g->arena + (n)->save_off)
#define P(n, k) (g->params + m->params.p[(n)->p[k]].offset)
#define G(n, k) (g->grad + m->params.p[(n)->p[k]].offset)

// Rows of a node's output for the current batch: leading dim scales with clips in the step.
static int rows(const gs_model *m, const gs_node *n) { return n->shape[0] / m->cfg.batch * m->cur_batch; }

static size_t row_numel(const gs_node *n) {
    size_t s = 1;
    for (int i = 1; i < n->ndim; i++) s *= (size_t)n->shape[i];
    return s;
}

static uint64_t dropout_key(const gs_model *m, const gs_node *n) {
    return gs_key(m->seed, (uint64_t)n->ordinal, (uint64_t)m->step);
}

// Pinned slots the step state is copied from: a slot is rewritten only after its last copy ran
// (its event), so the host never races a queued copy and rarely waits (the ring is deep).
#define STATE_SLOTS 8

struct gs_model_cuda_graph {
    gs_cuda_step_state *slots;  // pinned (STATE_SLOTS)
    cudaEvent_t copied[STATE_SLOTS];
    int next;
    cudaGraph_t graph;
    cudaGraphExec_t exec;
    void *scratch;              // op scratch base the graph's kernels were captured with
    float beta1, beta2, eps;    // Adam constants baked into the graph
};

// Queue the copy of state_host to the device state on the compute stream (never inside a capture).
static void state_push(gs_model_cuda *g) {
    struct gs_model_cuda_graph *x = g->gx;
    int i = x->next;
    x->next = (i + 1) % STATE_SLOTS;
    CUDA_CHECK(cudaEventSynchronize(x->copied[i]));
    x->slots[i] = g->state_host;
    cudaStream_t st = gs_cuda_stream();
    CUDA_CHECK(cudaMemcpyAsync(g->state, &x->slots[i], sizeof *g->state, cudaMemcpyHostToDevice, st));
    CUDA_CHECK(cudaEventRecord(x->copied[i], st));
}

// Dropout keys of the current m->step, by ordinal.
static void state_set_keys(gs_model_cuda *g) {
    const gs_model *m = g->m;
    for (int i = 0; i < m->n_nodes; i++)
        if (m->nodes[i].op == NODE_DROPOUT) {
            GS_ASSERT(m->nodes[i].ordinal >= 0 && m->nodes[i].ordinal < GS_CUDA_MAX_DROPOUT);
            g->state_host.dropout_key[m->nodes[i].ordinal] = dropout_key(m, &m->nodes[i]);
        }
}

static void graph_destroy(struct gs_model_cuda_graph *x) {
    if (x->exec) CUDA_CHECK(cudaGraphExecDestroy(x->exec));
    if (x->graph) CUDA_CHECK(cudaGraphDestroy(x->graph));
    x->exec = NULL;
    x->graph = NULL;
}

extern "C" int model_cuda_init(gs_model_cuda *g, gs_model *m) {
    memset(g, 0, sizeof *g);
    g->m = m;
    const gs_params *ps = &m->params;
    size_t f = sizeof(float);
    size_t bytes = gs_cuda_align(m->arena_floats * f) + gs_cuda_align(ps->numel * f) +
                   3 * gs_cuda_align(ps->numel_trainable * f) + gs_cuda_align((size_t)m->cfg.batch * sizeof(int)) +
                   gs_cuda_align(2 * f) + gs_cuda_align(sizeof(gs_cuda_step_state));
    if (gs_cuda_arena_init(&g->mem, bytes)) return -1;
    g->arena = (float *)gs_cuda_arena_alloc(&g->mem, m->arena_floats * f);
    g->params = (float *)gs_cuda_arena_alloc(&g->mem, ps->numel * f);
    g->grad = (float *)gs_cuda_arena_alloc(&g->mem, ps->numel_trainable * f);
    g->adam_m = (float *)gs_cuda_arena_alloc(&g->mem, ps->numel_trainable * f);
    g->adam_v = (float *)gs_cuda_arena_alloc(&g->mem, ps->numel_trainable * f);
    g->labels = (int *)gs_cuda_arena_alloc(&g->mem, (size_t)m->cfg.batch * sizeof(int));
    g->loss = (float *)gs_cuda_arena_alloc(&g->mem, 2 * f);
    g->state = (gs_cuda_step_state *)gs_cuda_arena_alloc(&g->mem, sizeof(gs_cuda_step_state));
    gs_cuda_memset_async(g->labels, 0, (size_t)m->cfg.batch * sizeof(int));
    gs_cuda_memset_async(g->loss, 0, 2 * f);
    gs_cuda_memset_async(g->state, 0, sizeof(gs_cuda_step_state));
    g->gx = (struct gs_model_cuda_graph *)gs_calloc(1, sizeof *g->gx);
    g->gx->slots = (gs_cuda_step_state *)gs_cuda_host_alloc(STATE_SLOTS * sizeof(gs_cuda_step_state));
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
    const gs_params *ps = &g->m->params;
    gs_cuda_upload(g->params, ps->data, ps->numel * sizeof(float));
    gs_cuda_upload(g->adam_m, ps->m, ps->numel_trainable * sizeof(float));
    gs_cuda_upload(g->adam_v, ps->v, ps->numel_trainable * sizeof(float));
}

extern "C" void model_cuda_download_params(gs_model_cuda *g) {
    const gs_params *ps = &g->m->params;
    gs_cuda_download(ps->data, g->params, ps->numel * sizeof(float));
    gs_cuda_download(ps->m, g->adam_m, ps->numel_trainable * sizeof(float));
    gs_cuda_download(ps->v, g->adam_v, ps->numel_trainable * sizeof(float));
}

extern "C" float *model_cuda_input(gs_model_cuda *g) { return g->arena + g->m->nodes[0].out_off; }

extern "C" void model_cuda_set_labels(gs_model_cuda *g, const int *labels, int batch) {
    GS_ASSERT(batch >= 1 && batch <= g->m->cfg.batch);
    gs_cuda_upload(g->labels, labels, (size_t)batch * sizeof(int));
}

static void forward_node(gs_model_cuda *g, gs_node *n, int training, int have_labels) {
    gs_model *m = g->m;
    const gs_node *x = n->n_in ? &m->nodes[n->in[0]] : NULL;
    int N = rows(m, n);
    switch (n->op) {
        case NODE_INPUT: break;
        case NODE_CONV:
            conv2d_forward_cuda(OUT(n), OUT(x), P(n, 0), N, x->shape[1], x->shape[2], x->shape[3], n->shape[3], n->k,
                                n->stride, n->pad_top, n->pad_left, n->shape[1], n->shape[2]);
            break;
        case NODE_PWCONV:
            matmul_forward_cuda(OUT(n), OUT(x), P(n, 0), NULL, N * n->shape[1] * n->shape[2], x->shape[3],
                                n->shape[3]);
            break;
        case NODE_DWCONV:
            depthwise_forward_cuda(OUT(n), OUT(x), P(n, 0), N, x->shape[1], x->shape[2], x->shape[3], n->k,
                                   n->stride, n->pad_top, n->pad_left, n->shape[1], n->shape[2]);
            break;
        case NODE_BN: {
            int C = n->shape[n->ndim - 1];
            int M = (int)(N * row_numel(n) / (size_t)C);
            if (training)
                batchnorm_forward_train_cuda(OUT(n), SAVE(n), SAVE(n) + C, P(n, 2), P(n, 3), OUT(x), P(n, 0), P(n, 1),
                                             M, C, n->eps, n->momentum, n->act);
            else
                batchnorm_forward_infer_cuda(OUT(n), OUT(x), P(n, 0), P(n, 1), P(n, 2), P(n, 3), M, C, n->eps,
                                             n->act);
            break;
        }
        case NODE_ADD:
            add_forward_cuda(OUT(n), OUT(x), OUT(&m->nodes[n->in[1]]), (size_t)N * row_numel(n));
            break;
        case NODE_GAP:
            avgpool_forward_cuda(OUT(n), OUT(x), N, x->shape[1] * x->shape[2], x->shape[3]);
            break;
        case NODE_BIGRU: {
            int B = m->cur_batch, T = m->cfg.frames, D = x->shape[1], H = m->cfg.gru_units;
            size_t cache = gru_cache_floats(m->cfg.batch, T, H);
            for (int d = 0; d < 2; d++)
                gru_forward_cuda(OUT(n) + d * H, SAVE(n) + d * cache, OUT(x), P(n, 3 * d), P(n, 3 * d + 1),
                                 P(n, 3 * d + 2), B, T, D, H, 2 * H, d);
            break;
        }
        case NODE_DROPOUT:  // inference: rate 0, a copy; training: this step's key from the step state
            if (training)
                dropout_forward_state_cuda(OUT(n), OUT(x), (size_t)N * row_numel(n), n->rate,
                                           &g->state->dropout_key[n->ordinal]);
            else
                dropout_forward_cuda(OUT(n), OUT(x), (size_t)N * row_numel(n), 0.0f, 0);
            break;
        case NODE_DENSE:
            matmul_forward_cuda(OUT(n), OUT(x), P(n, 0), P(n, 1), N, x->shape[1], n->shape[1]);
            if (n->act == GS_ACT_RELU) relu_forward_cuda(OUT(n), OUT(n), (size_t)N * n->shape[1]);
            break;
        case NODE_LOSS:
            // without labels only the probabilities matter: label 0 stands in, the loss is discarded
            if (!have_labels) gs_cuda_memset_async(g->labels, 0, (size_t)N * sizeof(int));
            softmax_ce_forward_cuda(OUT(n), SAVE(n), g->loss, OUT(x), g->labels, N, n->shape[1]);
            break;
    }
}

// The forward's work on the compute stream (capturable: nothing host-side changes per step).
static void forward_queue(gs_model_cuda *g, int training, int have_labels) {
    gs_model *m = g->m;
    gs_cuda_range_push("forward");
    for (int i = 0; i < m->n_nodes; i++) {
        gs_cuda_range_push(m->nodes[i].name);
        forward_node(g, &m->nodes[i], training, have_labels);
        gs_cuda_range_pop();
    }
    gs_cuda_memset_async(g->loss + 1, 0, sizeof(float));
    for (int i = 0; i < m->params.n; i++)
        if (m->params.p[i].l2 > 0)
            l2_forward_cuda(g->loss + 1, g->params + m->params.p[i].offset, m->params.p[i].numel, m->params.p[i].l2);
    gs_cuda_range_pop();
}

extern "C" void model_cuda_forward(gs_model_cuda *g, int batch, int training, int have_labels) {
    gs_model *m = g->m;
    GS_ASSERT(batch >= 1 && batch <= m->cfg.batch);
    m->cur_batch = batch;
    g->have_labels = have_labels;
    if (training) {
        m->step++;  // dropout masks of this step use the new value (backward too)
        state_set_keys(g);
        state_push(g);
    }
    forward_queue(g, training, have_labels);
}

static void backward_node(gs_model_cuda *g, gs_node *n) {
    gs_model *m = g->m;
    gs_node *x = n->n_in ? &m->nodes[n->in[0]] : NULL;
    int N = rows(m, n);
    float *dout = GRAD(n);
    float *dinp = x ? GRAD(x) : NULL;
    switch (n->op) {
        case NODE_INPUT: break;
        case NODE_CONV:
            conv2d_backward_cuda(dinp, G(n, 0), dout, OUT(x), P(n, 0), N, x->shape[1], x->shape[2], x->shape[3],
                                 n->shape[3], n->k, n->stride, n->pad_top, n->pad_left, n->shape[1], n->shape[2]);
            break;
        case NODE_PWCONV:
            matmul_backward_cuda(dinp, G(n, 0), NULL, dout, OUT(x), P(n, 0), N * n->shape[1] * n->shape[2],
                                 x->shape[3], n->shape[3]);
            break;
        case NODE_DWCONV:
            depthwise_backward_cuda(dinp, G(n, 0), dout, OUT(x), P(n, 0), N, x->shape[1], x->shape[2], x->shape[3],
                                    n->k, n->stride, n->pad_top, n->pad_left, n->shape[1], n->shape[2]);
            break;
        case NODE_BN: {
            int C = n->shape[n->ndim - 1];
            int M = (int)(N * row_numel(n) / (size_t)C);
            batchnorm_backward_cuda(dinp, G(n, 0), G(n, 1), dout, OUT(n), OUT(x), SAVE(n), SAVE(n) + C, P(n, 0), M, C,
                                    n->act);
            break;
        }
        case NODE_ADD:
            add_backward_cuda(dinp, GRAD(&m->nodes[n->in[1]]), dout, (size_t)N * row_numel(n));
            break;
        case NODE_GAP:
            avgpool_backward_cuda(dinp, dout, N, x->shape[1] * x->shape[2], x->shape[3]);
            break;
        case NODE_BIGRU: {
            int B = m->cur_batch, T = m->cfg.frames, D = x->shape[1], H = m->cfg.gru_units;
            size_t cache = gru_cache_floats(m->cfg.batch, T, H);
            for (int d = 0; d < 2; d++)
                gru_backward_cuda(dinp, G(n, 3 * d), G(n, 3 * d + 1), G(n, 3 * d + 2), dout + d * H,
                                  SAVE(n) + d * cache, OUT(x), P(n, 3 * d), P(n, 3 * d + 1), B, T, D, H, 2 * H, d);
            break;
        }
        case NODE_DROPOUT:  // rate 0 adds dout through; the key is the forward's (same step state)
            dropout_backward_state_cuda(dinp, dout, (size_t)N * row_numel(n), n->rate,
                                        &g->state->dropout_key[n->ordinal]);
            break;
        case NODE_DENSE:
            // ReLU mask applied in place: this gradient buffer belongs to this node alone
            if (n->act == GS_ACT_RELU) relu_mask_cuda(dout, OUT(n), (size_t)N * n->shape[1]);
            matmul_backward_cuda(dinp, G(n, 0), G(n, 1), dout, OUT(x), P(n, 0), N, x->shape[1], n->shape[1]);
            break;
        case NODE_LOSS:
            softmax_ce_backward_cuda(dinp, OUT(n), g->labels, N, n->shape[1], 1.0f);
            break;
    }
}

extern "C" void model_cuda_backward(gs_model_cuda *g) {
    gs_model *m = g->m;
    gs_cuda_range_push("backward");
    gs_cuda_memset_async(g->grad, 0, m->params.numel_trainable * sizeof(float));
    for (int j = m->n_nodes - 1; j >= 0; j--) {
        // gradients that come alive at this step start from zero (ops accumulate)
        for (int k = 0; k < m->nodes[j].n_in; k++) {
            gs_node *x = &m->nodes[m->nodes[j].in[k]];
            if (x->last_consumer == j && x->grad_off != GS_NO_MEM)
                gs_cuda_memset_async(g->arena + x->grad_off, 0, (size_t)rows(m, x) * row_numel(x) * sizeof(float));
        }
        gs_cuda_range_push(m->nodes[j].name);
        backward_node(g, &m->nodes[j]);
        gs_cuda_range_pop();
    }
    for (int i = 0; i < m->params.n; i++)
        if (m->params.p[i].l2 > 0)
            l2_backward_cuda(g->grad + m->params.p[i].offset, g->params + m->params.p[i].offset,
                             m->params.p[i].numel, m->params.p[i].l2);
    gs_cuda_range_pop();
}

static void adam_queue(gs_model_cuda *g, float beta1, float beta2, float eps) {
    gs_cuda_range_push("adam");
    adam_update_state_cuda(g->params, g->adam_m, g->adam_v, g->grad, g->m->params.numel_trainable,
                           &g->state->adam_alpha, beta1, beta2, eps);
    gs_cuda_range_pop();
}

extern "C" void model_cuda_adam_step(gs_model_cuda *g, float lr, float beta1, float beta2, float eps) {
    gs_model *m = g->m;
    m->adam_t++;
    g->state_host.adam_alpha = adam_step_size(lr, beta1, beta2, m->adam_t);
    state_push(g);
    adam_queue(g, beta1, beta2, eps);
}

static void train_step_queue(gs_model_cuda *g, float beta1, float beta2, float eps) {
    forward_queue(g, 1, 1);
    model_cuda_backward(g);
    adam_queue(g, beta1, beta2, eps);
}

// Replay the captured full-batch step, capturing it first when there is none or when what it baked
// in has changed (the op scratch moved after a growth, other Adam constants).
static void graph_launch(gs_model_cuda *g, float beta1, float beta2, float eps) {
    struct gs_model_cuda_graph *x = g->gx;
    cudaStream_t st = gs_cuda_stream();
    void *scratch = gs_cuda_ctx_get()->scratch;
    if (x->exec && (x->scratch != scratch || x->beta1 != beta1 || x->beta2 != beta2 || x->eps != eps))
        graph_destroy(x);
    if (!x->exec) {
        CUDA_CHECK(cudaStreamBeginCapture(st, cudaStreamCaptureModeGlobal));
        train_step_queue(g, beta1, beta2, eps);
        CUDA_CHECK(cudaStreamEndCapture(st, &x->graph));
        CUDA_CHECK(cudaGraphInstantiate(&x->exec, x->graph, 0));
        // a growth during capture is fatal (gs_cuda_scratch), so this is the base every node uses
        x->scratch = gs_cuda_ctx_get()->scratch;
        x->beta1 = beta1;
        x->beta2 = beta2;
        x->eps = eps;
        g->graph_captures++;
    }
    CUDA_CHECK(cudaGraphLaunch(x->exec, st));
    g->graph_launches++;
}

extern "C" void model_cuda_train_step(gs_model_cuda *g, int batch, float lr, float beta1, float beta2, float eps) {
    gs_model *m = g->m;
    GS_ASSERT(batch >= 1 && batch <= m->cfg.batch);
    m->cur_batch = batch;
    g->have_labels = 1;
    m->step++;
    m->adam_t++;
    state_set_keys(g);
    g->state_host.adam_alpha = adam_step_size(lr, beta1, beta2, m->adam_t);
    state_push(g);
    int full = batch == m->cfg.batch;
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

extern "C" void model_cuda_read_loss(gs_model_cuda *g) {
    float l[2];
    gs_cuda_download(l, g->loss, sizeof l);
    g->m->ce_loss = g->have_labels ? l[0] : 0.0f;
    g->m->l2_loss = l[1];
    g->m->loss = g->m->ce_loss + g->m->l2_loss;
}

extern "C" void model_cuda_read_probs(gs_model_cuda *g, float *probs, int batch) {
    const gs_node *last = &g->m->nodes[g->m->n_nodes - 1];
    gs_cuda_download(probs, g->arena + last->out_off, (size_t)batch * last->shape[1] * sizeof(float));
}
