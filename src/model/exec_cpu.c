// The CPU backend of the walker (gesture/exec.h): one kernel row per op, each calling the reference
// op in src/ops/ with the pointers the walker resolved from the host arena, and the host-memory
// side (zeroing, L2, Adam, loss scalars). model_forward/backward/adam_step run the walker on it.
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"
#include "gesture/exec.h"
#include "gesture/ops.h"

// ---- kernels, one forward/backward pair per op ----

static void nothing(const gs_op_call *c) { (void)c; }

static void conv_fwd(const gs_op_call *c) {
    const gs_node *n = c->n, *x = c->x[0];
    conv2d_forward(c->out, c->in[0], c->p[0], c->work, c->rows, x->shape[1], x->shape[2], x->shape[3], n->shape[3],
                   n->k, n->stride, n->pad_top, n->pad_left, n->shape[1], n->shape[2]);
}

static void conv_bwd(const gs_op_call *c) {
    const gs_node *n = c->n, *x = c->x[0];
    conv2d_backward(c->din[0], c->g[0], c->dout, c->in[0], c->p[0], c->work, c->rows, x->shape[1], x->shape[2],
                    x->shape[3], n->shape[3], n->k, n->stride, n->pad_top, n->pad_left, n->shape[1], n->shape[2]);
}

static void pwconv_fwd(const gs_op_call *c) {
    const gs_node *n = c->n;
    matmul_forward(c->out, c->in[0], c->p[0], NULL, c->rows * n->shape[1] * n->shape[2], c->x[0]->shape[3],
                   n->shape[3]);
}

static void pwconv_bwd(const gs_op_call *c) {
    const gs_node *n = c->n;
    matmul_backward(c->din[0], c->g[0], NULL, c->dout, c->in[0], c->p[0], c->work,
                    c->rows * n->shape[1] * n->shape[2], c->x[0]->shape[3], n->shape[3]);
}

// The fast twins (runtime.training = fast) in training passes; inference passes keep the reference op.
static void pwconv_fwd_fast(const gs_op_call *c) {
    const gs_node *n = c->n;
    if (!c->training) {
        pwconv_fwd(c);
        return;
    }
    pwconv_forward_fast(c->out, c->in[0], c->p[0], c->work, c->rows * n->shape[1] * n->shape[2], c->x[0]->shape[3],
                        n->shape[3]);
}

static void pwconv_bwd_fast(const gs_op_call *c) {
    const gs_node *n = c->n;
    pwconv_backward_fast(c->din[0], c->g[0], c->dout, c->in[0], c->p[0], c->work, c->rows * n->shape[1] * n->shape[2],
                         c->x[0]->shape[3], n->shape[3], c->din_fresh[0]);
}

static void dwconv_fwd(const gs_op_call *c) {
    const gs_node *n = c->n, *x = c->x[0];
    depthwise_forward(c->out, c->in[0], c->p[0], c->rows, x->shape[1], x->shape[2], x->shape[3], n->k, n->stride,
                      n->pad_top, n->pad_left, n->shape[1], n->shape[2]);
}

static void dwconv_bwd(const gs_op_call *c) {
    const gs_node *n = c->n, *x = c->x[0];
    depthwise_backward(c->din[0], c->g[0], c->dout, c->in[0], c->p[0], c->work, c->rows, x->shape[1],
                       x->shape[2], x->shape[3], n->k, n->stride, n->pad_top, n->pad_left, n->shape[1],
                       n->shape[2]);
}

static void dwconv_fwd_fast(const gs_op_call *c) {
    const gs_node *n = c->n, *x = c->x[0];
    if (!c->training) {
        dwconv_fwd(c);
        return;
    }
    depthwise_forward_fast(c->out, c->in[0], c->p[0], c->rows, x->shape[1], x->shape[2], x->shape[3], n->k,
                           n->stride, n->pad_top, n->pad_left, n->shape[1], n->shape[2]);
}

static void dwconv_bwd_fast(const gs_op_call *c) {
    const gs_node *n = c->n, *x = c->x[0];
    depthwise_backward_fast(c->din[0], c->g[0], c->dout, c->in[0], c->p[0], c->work, c->rows, x->shape[1],
                            x->shape[2], x->shape[3], n->k, n->stride, n->pad_top, n->pad_left, n->shape[1],
                            n->shape[2], c->din_fresh[0]);
}

// BN over the last axis: M rows of C channels; saved: batch mean (C) then invstd (C). Under
// model.bn_time = keras3 the walker calls these once per time step (gesture/exec.h), on that step's
// rows in place (c->bn_at).

static void bn_fwd(const gs_op_call *c) {
    const gs_node *n = c->n;
    int C = n->shape[n->ndim - 1], M = (int)(c->numel / (size_t)C);
    const bn_rows *at = c->bn_at.seg ? &c->bn_at : NULL;
    GS_ASSERT(c->training || !at);
    if (c->training && c->dist && c->dist->bn) {  // sync_bn: statistics over every rank's rows
        batchnorm_forward_train_sync_rows(c->out, c->save, c->save + C, c->p[2], c->p[3], c->in[0], c->p[0],
                                          c->p[1], c->work, M, C, n->eps, n->momentum, n->act, c->dist->bn, at);
    } else if (M == 0) {
        return;  // a data-parallel rank without clips, per-rank statistics: nothing to normalize
    } else if (c->training) {
        GS_ASSERT(c->save);
        batchnorm_forward_train_rows(c->out, c->save, c->save + C, c->p[2], c->p[3], c->in[0], c->p[0], c->p[1],
                                     c->work, M, C, n->eps, n->momentum, n->act, at);
    } else {
        batchnorm_forward_infer(c->out, c->in[0], c->p[0], c->p[1], c->p[2], c->p[3], c->work, M, C, n->eps,
                                n->act);
    }
}

static void bn_bwd(const gs_op_call *c) {
    const gs_node *n = c->n;
    int C = n->shape[n->ndim - 1], M = (int)(c->numel / (size_t)C);
    const bn_rows *at = c->bn_at.seg ? &c->bn_at : NULL;
    if (c->dist && c->dist->bn)
        batchnorm_backward_sync_rows(c->din[0], c->g[0], c->g[1], c->dout, c->out, c->in[0], c->save, c->save + C,
                                     c->p[0], c->work, M, C, n->act, c->dist->bn, at, c->din_fresh[0]);
    else if (M > 0)
        batchnorm_backward_rows(c->din[0], c->g[0], c->g[1], c->dout, c->out, c->in[0], c->save, c->save + C,
                                c->p[0], c->work, M, C, n->act, at, c->din_fresh[0]);
}

static void add_fwd(const gs_op_call *c) { add_forward(c->out, c->in[0], c->in[1], c->numel); }

static void add_bwd(const gs_op_call *c) { add_backward(c->din[0], c->din[1], c->dout, c->numel); }

// A fresh input gradient (din_fresh) is the output gradient itself: copied, not added to zeros.
static void add_bwd_fast(const gs_op_call *c) {
    for (int k = 0; k < 2; k++)
        if (c->din[k] && c->din_fresh[k]) memcpy(c->din[k], c->dout, c->numel * sizeof(float));
    add_backward(c->din_fresh[0] ? NULL : c->din[0], c->din_fresh[1] ? NULL : c->din[1], c->dout, c->numel);
}

static void gap_fwd(const gs_op_call *c) {
    const gs_node *x = c->x[0];
    avgpool_forward(c->out, c->in[0], c->work, c->rows, x->shape[1] * x->shape[2], x->shape[3]);
}

static void gap_bwd(const gs_op_call *c) {
    const gs_node *x = c->x[0];
    avgpool_backward(c->din[0], c->dout, c->rows, x->shape[1] * x->shape[2], x->shape[3]);
}

// Both directions write their final states into one (B,2H) row: forward [0,H), backward [H,2H).
static void bigru_fwd(const gs_op_call *c) {
    const gs_model_arch *a = c->arch;
    int B = c->batch, T = a->frames, D = c->x[0]->shape[1], H = a->gru_units;
    size_t cache = gru_cache_floats(a->batch, T, H);
    for (int d = 0; d < 2; d++)
        gru_forward(c->out + d * H, c->save + d * cache, c->in[0], c->p[3 * d], c->p[3 * d + 1], c->p[3 * d + 2], B, T,
                    D, H, 2 * H, d);
}

static void bigru_bwd(const gs_op_call *c) {
    const gs_model_arch *a = c->arch;
    int B = c->batch, T = a->frames, D = c->x[0]->shape[1], H = a->gru_units;
    size_t cache = gru_cache_floats(a->batch, T, H);
    for (int d = 0; d < 2; d++)
        gru_backward(c->din[0], c->g[3 * d], c->g[3 * d + 1], c->g[3 * d + 2], c->dout + d * H, c->save + d * cache,
                     c->in[0], c->p[3 * d], c->p[3 * d + 1], c->work, B, T, D, H, 2 * H, d);
}

// Index of this call's first element in the global batch's tensor (data-parallel ranks: row0 rows in;
// 0 for one process, whose kernels are the reference ops themselves).
static size_t first_element(const gs_op_call *c) {
    return c->dist && c->rows ? (size_t)c->dist->row0 * (c->numel / (size_t)c->rows) : 0;
}

static void dropout_fwd(const gs_op_call *c) {
    const gs_node *n = c->n;
    size_t first = first_element(c);
    if (c->training && n->rate > 0 && first)
        dropout_forward_at(c->out, c->in[0], c->numel, n->rate, c->state->dropout_key[n->ordinal], first);
    else if (c->training && n->rate > 0)
        dropout_forward(c->out, c->in[0], c->numel, n->rate, c->state->dropout_key[n->ordinal]);
    else
        memcpy(c->out, c->in[0], c->numel * sizeof(float));
}

static void dropout_bwd(const gs_op_call *c) {
    const gs_node *n = c->n;
    size_t cnt = c->numel;
    if (n->rate > 0) {
        size_t first = first_element(c);
        if (first) dropout_backward_at(c->din[0], c->dout, cnt, n->rate, c->state->dropout_key[n->ordinal], first);
        else dropout_backward(c->din[0], c->dout, cnt, n->rate, c->state->dropout_key[n->ordinal]);
    } else {
        for (size_t i = 0; i < cnt; i++) c->din[0][i] += c->dout[i];
    }
}

static void dense_fwd(const gs_op_call *c) {
    const gs_node *n = c->n;
    matmul_forward(c->out, c->in[0], c->p[0], c->p[1], c->rows, c->x[0]->shape[1], n->shape[1]);
    if (n->act == GS_ACT_RELU) relu_forward(c->out, c->out, c->numel);
}

static void dense_bwd(const gs_op_call *c) {
    const gs_node *n = c->n;
    // ReLU mask applied in place: this gradient buffer belongs to this node alone
    if (n->act == GS_ACT_RELU)
        for (size_t i = 0; i < c->numel; i++)
            if (c->out[i] <= 0.0f) c->dout[i] = 0.0f;
    matmul_backward(c->din[0], c->g[0], c->g[1], c->dout, c->in[0], c->p[0], c->work, c->rows,
                    c->x[0]->shape[1], n->shape[1]);
}

static void loss_fwd(const gs_op_call *c) {
    // without labels only the probabilities matter: label 0 stands in, the loss is discarded
    if (!c->have_labels) memset(c->labels, 0, (size_t)c->rows * sizeof(int));
    float ce = softmax_ce_forward(c->out, c->save, c->in[0], c->labels, c->rows, c->n->shape[1]);
    // data-parallel: this rank's share of the global batch's mean (summed over ranks by the trainer)
    *c->ce_loss = c->dist ? (float)((double)ce * c->dist->loss_scale) : ce;
}

static void loss_bwd(const gs_op_call *c) {
    softmax_ce_backward(c->din[0], c->out, c->labels, c->rows, c->n->shape[1], c->dist ? c->dist->loss_scale : 1.0f);
}

// ---- scratch per node (floats), for the kernels above ----

static size_t conv_work(const gs_model *m, const gs_node *n) {
    return conv2d_work_floats(m->nodes[n->in[0]].shape[3], n->shape[3], n->k, n->shape[1], n->shape[2]);
}

static size_t pwconv_work(const gs_model *m, const gs_node *n) {
    return matmul_work_floats(m->nodes[n->in[0]].shape[3], n->shape[3]);
}

static size_t pwconv_fast_work(const gs_model *m, const gs_node *n) {
    return pwconv_fast_work_floats(m->nodes[n->in[0]].shape[3], n->shape[3]);
}

static size_t dwconv_work(const gs_model *m, const gs_node *n) {
    (void)m;
    return depthwise_work_floats(n->shape[3], n->k);
}

static size_t bn_work(const gs_model *m, const gs_node *n) {
    (void)m;
    return batchnorm_work_floats(n->shape[n->ndim - 1]);
}

static size_t gap_work(const gs_model *m, const gs_node *n) {
    (void)m;
    return avgpool_work_floats(n->shape[1]);
}

static size_t bigru_work(const gs_model *m, const gs_node *n) {
    (void)n;
    return gru_work_floats(m->cfg.batch, m->cfg.frames, m->cfg.gru_units);
}

static size_t dense_work(const gs_model *m, const gs_node *n) {
    return matmul_work_floats(m->nodes[n->in[0]].shape[1], n->shape[1]);
}

// The rows both CPU tables share; each table lists its own between them, in gs_node_op order.
#define CPU_ROWS_HEAD {NODE_INPUT, nothing, nothing, NULL, 0}, {NODE_CONV, conv_fwd, conv_bwd, conv_work, 0}
#define CPU_ROWS_TAIL                                                                                      \
    {NODE_GAP, gap_fwd, gap_bwd, gap_work, 0}, {NODE_BIGRU, bigru_fwd, bigru_bwd, bigru_work, 0},          \
        {NODE_DROPOUT, dropout_fwd, dropout_bwd, NULL, 0}, {NODE_DENSE, dense_fwd, dense_bwd, dense_work, 0}, \
        {NODE_LOSS, loss_fwd, loss_bwd, NULL, 0}

static const gs_op_kernels cpu_kernels[] = {
    CPU_ROWS_HEAD,
    {NODE_PWCONV, pwconv_fwd, pwconv_bwd, pwconv_work, 0},
    {NODE_DWCONV, dwconv_fwd, dwconv_bwd, dwconv_work, 0},
    {NODE_BN, bn_fwd, bn_bwd, bn_work, 0},
    {NODE_ADD, add_fwd, add_bwd, NULL, 0},
    CPU_ROWS_TAIL,
};
_Static_assert(sizeof cpu_kernels / sizeof cpu_kernels[0] == NODE_COUNT,
               "the CPU backend needs one kernel row per gs_node_op (docs/adding-an-op.md)");

// runtime.training = fast: the fast twins where there are some; the 1x1, depthwise, BN and Add
// backwards write the input gradients they are first to reach (din_overwrite).
static const gs_op_kernels cpu_fast_kernels[] = {
    CPU_ROWS_HEAD,
    {NODE_PWCONV, pwconv_fwd_fast, pwconv_bwd_fast, pwconv_fast_work, 1},
    {NODE_DWCONV, dwconv_fwd_fast, dwconv_bwd_fast, dwconv_work, 1},
    {NODE_BN, bn_fwd, bn_bwd, bn_work, 1},
    {NODE_ADD, add_fwd, add_bwd_fast, NULL, 1},
    CPU_ROWS_TAIL,
};
_Static_assert(sizeof cpu_fast_kernels / sizeof cpu_fast_kernels[0] == NODE_COUNT,
               "the fast CPU backend needs one kernel row per gs_node_op (docs/adding-an-op.md)");

// ---- host memory ----

static void zero(float *p, size_t n) { memset(p, 0, n * sizeof(float)); }

static void copy_rows(float *dst, size_t dst_pitch, const float *src, size_t src_pitch, size_t width, size_t rows) {
    for (size_t r = 0; r < rows; r++) memcpy(dst + r * dst_pitch, src + r * src_pitch, width * sizeof(float));
}

static void l2_fwd(float *loss, const float *w, size_t n, float l2) { *loss += l2_forward(w, n, l2); }

static void adam(gs_exec *e, float lr, float beta1, float beta2, float eps, long t) {
    adam_update(e->params, e->adam_m, e->adam_v, e->grad, e->m->params.numel_trainable, lr, beta1, beta2, eps, t);
}

static void publish(gs_exec *e) { (void)e; }  // the kernels read state_host itself

static void read_loss(gs_exec *e, float loss[2]) { memcpy(loss, e->loss, 2 * sizeof(float)); }

#define CPU_BACKEND(nm, table)                                                                   \
    {                                                                                            \
        .name = nm, .kernels = table, .zero = zero, .copy_rows = copy_rows, .l2_forward = l2_fwd, \
        .l2_backward = l2_backward, .adam = adam, .publish_state = publish, .read_loss = read_loss, \
        .bn_rows = 1                                                                                \
    }
static const gs_backend cpu_backend = CPU_BACKEND("cpu", cpu_kernels);
static const gs_backend cpu_fast_backend = CPU_BACKEND("cpu-fast", cpu_fast_kernels);

// The host executor lives with the model (its step state must survive from forward to backward);
// its pointers are refreshed on every call, so a gs_model copied by value still runs on its own.
// The op scratch is sized for the OpenMP thread count it was made for: a change of thread count
// (runtime_set_threads between steps) or of m->reference_ops re-sizes it before the next pass,
// never inside one.
typedef struct {
    gs_exec e;
    float loss[2];
    int work_threads;  // the scratch's size is for this thread count and backend
    const gs_backend *work_be;
} host_exec;

static gs_exec *host(gs_model *m) {
    model_ensure_arena(m);
    if (!m->host) {
        host_exec *h = gs_calloc(1, sizeof *h);
        m->host = &h->e;
    }
    host_exec *h = (host_exec *)m->host;
    gs_exec *e = &h->e;
    e->m = m;
    e->be = m->reference_ops ? &cpu_backend : &cpu_fast_backend;
    if (h->work_threads != omp_get_max_threads() || h->work_be != e->be) {
        if (exec_check(e)) gs_fatal("%s", gs_last_error());
        free(e->work);
        h->work_threads = omp_get_max_threads();
        h->work_be = e->be;
        size_t n = exec_work_floats(e);
        e->work = n ? gs_aligned_alloc(n * sizeof(float)) : NULL;
    }
    e->arena = m->arena;
    e->params = m->params.data;
    e->grad = m->params.grad;
    e->adam_m = m->params.m;
    e->adam_v = m->params.v;
    e->labels = m->labels;
    e->loss = h->loss;
    e->state = &e->state_host;
    e->dist = m->dist;
    return e;
}

void model_exec_free(gs_model *m) {
    if (m->host) free(m->host->work);
    free(m->host);
    m->host = NULL;
    free(m->arena);
    m->arena = NULL;
}

// ---- the host arena (the plan's memory on the CPU) ----

void model_ensure_arena(gs_model *m) {
    // every op writes its outputs before they are read and gradients are zeroed when they come
    // alive, so the arena needs no clearing
    if (!m->arena) m->arena = gs_aligned_alloc(m->arena_floats * sizeof(float));
}

float *model_input(gs_model *m) {
    model_ensure_arena(m);
    return m->arena + m->nodes[0].out_off;
}

const float *model_probs(const gs_model *m) { return m->arena + m->nodes[m->n_nodes - 1].out_off; }

const float *model_logits(const gs_model *m) { return m->arena + m->nodes[m->n_nodes - 2].out_off; }

void model_forward(gs_model *m, int batch, int training, int have_labels) {
    gs_exec *e = host(m);
    exec_forward(e, batch, training, have_labels);
    exec_read_loss(e);
}

void model_forward_nodes(gs_model *m, int batch, int from, int to) { exec_forward_nodes(host(m), batch, from, to); }

float *model_node_output(gs_model *m, int node) {
    GS_ASSERT(node >= 0 && node < m->n_nodes && m->nodes[node].out_off != GS_NO_MEM);
    model_ensure_arena(m);
    return m->arena + m->nodes[node].out_off;
}

void model_backward(gs_model *m) { exec_backward(host(m)); }

void model_adam_step(gs_model *m, float lr, float beta1, float beta2, float eps) {
    gs_exec *e = host(m);
    exec_adam_begin(e, lr, beta1, beta2);
    exec_adam_queue(e, lr, beta1, beta2, eps);
}
