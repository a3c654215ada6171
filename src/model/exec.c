// Forward and backward passes over the planned graph (CPU backend): each node dispatches to its
// op in src/ops/ with pointers from the memory table. No allocation happens here.
#include <string.h>

#include "gesture/errors.h"
#include "gesture/model.h"
#include "gesture/ops.h"
#include "gesture/rng.h"
#include "gesture/runtime.h"

#define OUT(n) (m->arena + (n)->out_off)
#define GRAD(n) ((n)->grad_off == GS_NO_MEM ? NULL : m->arena + (n)->grad_off)
#define SAVE(n) (m->arena + (n)->save_off)
#define P(n, k) params_ptr(&m->params, (n)->p[k])
#define G(n, k) params_grad(&m->params, (n)->p[k])

// Rows of a node's output for the current batch: leading dim scales with clips in the step.
static int rows(const gs_model *m, const gs_node *n) {
    return n->shape[0] / m->cfg.batch * m->cur_batch;
}

static size_t row_numel(const gs_node *n) {
    size_t s = 1;
    for (int i = 1; i < n->ndim; i++) s *= (size_t)n->shape[i];
    return s;
}

static uint64_t dropout_key(const gs_model *m, const gs_node *n) {
    return gs_key(m->seed, (uint64_t)n->ordinal, (uint64_t)m->step);
}

static void forward_node(gs_model *m, gs_node *n, int training, int have_labels) {
    const gs_node *x = n->n_in ? &m->nodes[n->in[0]] : NULL;
    int N = rows(m, n);
    switch (n->op) {
        case NODE_INPUT: break;
        case NODE_CONV:
            conv2d_forward(OUT(n), OUT(x), P(n, 0), N, x->shape[1], x->shape[2], x->shape[3], n->shape[3], n->k,
                           n->stride, n->pad_top, n->pad_left, n->shape[1], n->shape[2]);
            break;
        case NODE_PWCONV:
            matmul_forward(OUT(n), OUT(x), P(n, 0), NULL, N * n->shape[1] * n->shape[2], x->shape[3], n->shape[3]);
            break;
        case NODE_DWCONV:
            depthwise_forward(OUT(n), OUT(x), P(n, 0), N, x->shape[1], x->shape[2], x->shape[3], n->k, n->stride,
                              n->pad_top, n->pad_left, n->shape[1], n->shape[2]);
            break;
        case NODE_BN: {
            int C = n->shape[n->ndim - 1];
            int M = (int)(N * row_numel(n) / (size_t)C);
            if (training)
                batchnorm_forward_train(OUT(n), SAVE(n), SAVE(n) + C, P(n, 2), P(n, 3), OUT(x), P(n, 0), P(n, 1), M, C,
                                        n->eps, n->momentum, n->act);
            else
                batchnorm_forward_infer(OUT(n), OUT(x), P(n, 0), P(n, 1), P(n, 2), P(n, 3), M, C, n->eps, n->act);
            break;
        }
        case NODE_ADD:
            add_forward(OUT(n), OUT(x), OUT(&m->nodes[n->in[1]]), (size_t)N * row_numel(n));
            break;
        case NODE_GAP:
            avgpool_forward(OUT(n), OUT(x), N, x->shape[1] * x->shape[2], x->shape[3]);
            break;
        case NODE_BIGRU: {
            int B = m->cur_batch, T = m->cfg.frames, D = x->shape[1], H = m->cfg.gru_units;
            size_t cache = gru_cache_floats(m->cfg.batch, T, H);
            for (int d = 0; d < 2; d++)
                gru_forward(OUT(n) + d * H, SAVE(n) + d * cache, OUT(x), P(n, 3 * d), P(n, 3 * d + 1),
                            P(n, 3 * d + 2), B, T, D, H, 2 * H, d);
            break;
        }
        case NODE_DROPOUT:
            if (training && n->rate > 0)
                dropout_forward(OUT(n), OUT(x), (size_t)N * row_numel(n), n->rate, dropout_key(m, n));
            else
                memcpy(OUT(n), OUT(x), (size_t)N * row_numel(n) * sizeof(float));
            break;
        case NODE_DENSE:
            matmul_forward(OUT(n), OUT(x), P(n, 0), P(n, 1), N, x->shape[1], n->shape[1]);
            if (n->act == GS_ACT_RELU) relu_forward(OUT(n), OUT(n), (size_t)N * n->shape[1]);
            break;
        case NODE_LOSS: {
            int K = n->shape[1];
            // without labels only the probabilities matter: label 0 stands in, the loss is discarded
            if (!have_labels) memset(m->labels, 0, (size_t)N * sizeof(int));
            float ce = softmax_ce_forward(OUT(n), SAVE(n), OUT(x), m->labels, N, K);
            m->ce_loss = have_labels ? ce : 0.0f;
            break;
        }
    }
}

void model_forward(gs_model *m, int batch, int training, int have_labels) {
    GS_ASSERT(batch >= 1 && batch <= m->cfg.batch);
    model_ensure_arena(m);
    m->cur_batch = batch;
    if (training) m->step++;  // dropout masks of this step use the new value (backward too)
    for (int i = 0; i < m->n_nodes; i++) {
        double t0 = m->profile ? runtime_now() : 0;
        forward_node(m, &m->nodes[i], training, have_labels);
        if (m->profile) m->op_seconds[m->nodes[i].op][0] += runtime_now() - t0;
    }
    m->l2_loss = 0;
    for (int i = 0; i < m->params.n; i++)
        if (m->params.p[i].l2 > 0)
            m->l2_loss += l2_forward(params_ptr(&m->params, i), m->params.p[i].numel, m->params.p[i].l2);
    m->loss = m->ce_loss + m->l2_loss;
}

static void backward_node(gs_model *m, gs_node *n) {
    gs_node *x = n->n_in ? &m->nodes[n->in[0]] : NULL;
    int N = rows(m, n);
    float *dout = GRAD(n);
    float *dinp = x ? GRAD(x) : NULL;
    switch (n->op) {
        case NODE_INPUT: break;
        case NODE_CONV:
            conv2d_backward(dinp, G(n, 0), dout, OUT(x), P(n, 0), N, x->shape[1], x->shape[2], x->shape[3],
                            n->shape[3], n->k, n->stride, n->pad_top, n->pad_left, n->shape[1], n->shape[2]);
            break;
        case NODE_PWCONV:
            matmul_backward(dinp, G(n, 0), NULL, dout, OUT(x), P(n, 0), N * n->shape[1] * n->shape[2], x->shape[3],
                            n->shape[3]);
            break;
        case NODE_DWCONV:
            depthwise_backward(dinp, G(n, 0), dout, OUT(x), P(n, 0), N, x->shape[1], x->shape[2], x->shape[3], n->k,
                               n->stride, n->pad_top, n->pad_left, n->shape[1], n->shape[2]);
            break;
        case NODE_BN: {
            int C = n->shape[n->ndim - 1];
            int M = (int)(N * row_numel(n) / (size_t)C);
            batchnorm_backward(dinp, G(n, 0), G(n, 1), dout, OUT(n), OUT(x), SAVE(n), SAVE(n) + C, P(n, 0), M, C,
                               n->act);
            break;
        }
        case NODE_ADD:
            add_backward(dinp, GRAD(&m->nodes[n->in[1]]), dout, (size_t)N * row_numel(n));
            break;
        case NODE_GAP:
            avgpool_backward(dinp, dout, N, x->shape[1] * x->shape[2], x->shape[3]);
            break;
        case NODE_BIGRU: {
            int B = m->cur_batch, T = m->cfg.frames, D = x->shape[1], H = m->cfg.gru_units;
            size_t cache = gru_cache_floats(m->cfg.batch, T, H);
            for (int d = 0; d < 2; d++)
                gru_backward(dinp, G(n, 3 * d), G(n, 3 * d + 1), G(n, 3 * d + 2), dout + d * H, SAVE(n) + d * cache,
                             OUT(x), P(n, 3 * d), P(n, 3 * d + 1), B, T, D, H, 2 * H, d);
            break;
        }
        case NODE_DROPOUT: {
            size_t cnt = (size_t)N * row_numel(n);
            if (n->rate > 0) {
                dropout_backward(dinp, dout, cnt, n->rate, dropout_key(m, n));
            } else {
                for (size_t i = 0; i < cnt; i++) dinp[i] += dout[i];
            }
            break;
        }
        case NODE_DENSE: {
            // ReLU mask applied in place: this gradient buffer belongs to this node alone
            if (n->act == GS_ACT_RELU) {
                const float *y = OUT(n);
                for (size_t i = 0; i < (size_t)N * n->shape[1]; i++)
                    if (y[i] <= 0.0f) dout[i] = 0.0f;
            }
            matmul_backward(dinp, G(n, 0), G(n, 1), dout, OUT(x), P(n, 0), N, x->shape[1], n->shape[1]);
            break;
        }
        case NODE_LOSS:
            softmax_ce_backward(dinp, OUT(n), m->labels, N, n->shape[1], 1.0f);
            break;
    }
}

void model_backward(gs_model *m) {
    memset(m->params.grad, 0, m->params.numel_trainable * sizeof(float));
    for (int j = m->n_nodes - 1; j >= 0; j--) {
        // gradients that come alive at this step start from zero (ops accumulate)
        for (int k = 0; k < m->nodes[j].n_in; k++) {
            gs_node *x = &m->nodes[m->nodes[j].in[k]];
            if (x->last_consumer == j && x->grad_off != GS_NO_MEM)
                memset(m->arena + x->grad_off, 0, (size_t)rows(m, x) * row_numel(x) * sizeof(float));
        }
        double t0 = m->profile ? runtime_now() : 0;
        backward_node(m, &m->nodes[j]);
        if (m->profile) m->op_seconds[m->nodes[j].op][1] += runtime_now() - t0;
    }
    for (int i = 0; i < m->params.n; i++)
        if (m->params.p[i].l2 > 0)
            l2_backward(params_grad(&m->params, i), params_ptr(&m->params, i), m->params.p[i].numel,
                        m->params.p[i].l2);
}

void model_adam_step(gs_model *m, float lr, float beta1, float beta2, float eps) {
    m->adam_t++;
    adam_update(m->params.data, m->params.m, m->params.v, m->params.grad, m->params.numel_trainable, lr, beta1,
                beta2, eps, m->adam_t);
}
