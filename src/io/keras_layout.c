// The Keras 3 weight-file layout of the seed model, derived from our graph: which saveable path
// holds which of our parameters, and the `name` Keras writes beside it. Keras' saver names a child
// of a layer list by its class in snake_case plus a per-list counter (conv2d, conv2d_1, ...), so the
// paths follow from the order of layers of each class (tests/fixtures/keras/README.md lists them).
#include <stdio.h>
#include <string.h>

#include "gesture/errors.h"
#include "gesture/ops.h"
#include "gesture/optable.h"
#include "keras_internal.h"

const float K_WIDTHS[K_N_WIDTHS] = {0.35f, 0.5f, 0.75f, 1.0f, 1.3f, 1.4f};

int k_node_params(const gs_node *n, int *param) {
    int c = 0;
    for (int i = 0; i < 8 && n->p[i] >= 0; i++) param[c++] = n->p[i];
    return c;
}

int k_backbone_weighted(const gs_model *m, int *idx, int max) {
    int c = 0;
    for (int i = 0; i < m->n_nodes; i++) {
        const gs_node *n = &m->nodes[i];
        if (!n->backbone || n->p[0] < 0) continue;
        GS_ASSERT(c < max);
        idx[c++] = i;
    }
    return c;
}

static k3_entry *add(k3_layout *L, const char *path, const char *name, k3_name_check check) {
    if (L->n == L->cap) {
        L->cap = L->cap ? 2 * L->cap : 256;
        k3_entry *ne = gs_calloc((size_t)L->cap, sizeof *ne);
        if (L->e) memcpy(ne, L->e, (size_t)L->n * sizeof *ne);
        free(L->e);
        L->e = ne;
    }
    k3_entry *e = &L->e[L->n++];
    memset(e, 0, sizeof *e);
    GS_ASSERT(strlen(path) < sizeof e->path && strlen(name) < sizeof e->name);
    snprintf(e->path, sizeof e->path, "%s", path);
    snprintf(e->name, sizeof e->name, "%s", name);
    e->check = check;
    return e;
}

static void set_params(k3_entry *e, const gs_node *n) { e->n_vars = k_node_params(n, e->param); }

// Per-class counters of one layer list: "conv2d", "conv2d_1", ...
typedef struct {
    const char *cls[8];
    int count[8];
    int n;
} counters;

static const char *next_path(char *buf, size_t sz, const char *prefix, counters *c, const char *cls) {
    int i = 0;
    while (i < c->n && strcmp(c->cls[i], cls)) i++;
    if (i == c->n) {
        GS_ASSERT(c->n < 8);
        c->cls[c->n] = cls;
        c->count[c->n++] = 0;
    }
    int k = c->count[i]++;
    if (k == 0) snprintf(buf, sz, "%s%s", prefix, cls);
    else snprintf(buf, sz, "%s%s_%d", prefix, cls, k);
    return buf;
}

// Keras' ReLU layer after a backbone BN: bn_Conv1 -> Conv1_relu, Conv_1_bn -> out_relu,
// block_N_expand_BN -> block_N_expand_relu.
void k_relu_name(char *buf, size_t n, const char *bn) {
    size_t len = strlen(bn);
    if (!strcmp(bn, "bn_Conv1")) snprintf(buf, n, "Conv1_relu");
    else if (!strcmp(bn, "Conv_1_bn")) snprintf(buf, n, "out_relu");
    else if (len > 3 && !strcmp(bn + len - 3, "_BN")) snprintf(buf, n, "%.*s_relu", (int)(len - 3), bn);
    else gs_fatal("keras layout: no ReLU name for BN layer %s", bn);
}

static void backbone(k3_layout *L, const gs_model *m) {
    static const char *P = "layers/time_distributed/layer/layers/";
    char path[192], name[96];
    counters c = {0};
    add(L, next_path(path, sizeof path, P, &c, "input_layer"), "input_layer", K3_NAME_FREE);
    for (int i = 0; i < m->n_nodes; i++) {
        const gs_node *n = &m->nodes[i];
        if (!n->backbone || n->op == NODE_INPUT) continue;  // the input layer is listed above
        const char *cls = op_info(n->op)->keras_class;
        if (!cls) gs_fatal("keras layout: backbone layer %s (%s) has no Keras class in the op table", n->name,
                           op_info(n->op)->name);
        // Keras pads explicitly (correct_pad) before a stride-2 depthwise
        if (n->op == NODE_DWCONV && n->stride == 2) {
            size_t len = strlen(n->name);
            GS_ASSERT(len > 9 && !strcmp(n->name + len - 9, "depthwise"));
            snprintf(name, sizeof name, "%.*spad", (int)(len - 9), n->name);
            add(L, next_path(path, sizeof path, P, &c, "zero_padding2d"), name, K3_NAME_EXACT);
        }
        set_params(add(L, next_path(path, sizeof path, P, &c, cls), n->name, K3_NAME_EXACT), n);
        // Keras' fused activation is a layer of its own (BN + ReLU6 -> re_lu)
        if (n->act == GS_ACT_RELU6) {
            k_relu_name(name, sizeof name, n->name);
            add(L, next_path(path, sizeof path, P, &c, "re_lu"), name, K3_NAME_EXACT);
        }
    }
}

void k3_layout_build(k3_layout *L, const gs_model *m) {
    memset(L, 0, sizeof *L);
    char name[96];
    add(L, "", "sequential", K3_NAME_FREE);
    // keras.Model(inputs, outputs) instead of Sequential lists its InputLayer first
    add(L, "layers/input_layer", "input_layer", K3_NAME_FREE)->optional = 1;
    add(L, "layers/time_distributed", "time_distributed", K3_NAME_FREE);
    snprintf(name, sizeof name, "mobilenetv2_%0.2f_%d", (double)m->cfg.alpha, m->cfg.size);
    add(L, "layers/time_distributed/layer", name, K3_NAME_FREE);
    backbone(L, m);
    const gs_node *head_bn = &m->nodes[model_find_node(m, "head_bn")];
    const gs_node *gru = &m->nodes[model_find_node(m, "gru")];
    add(L, "layers/time_distributed_1", "time_distributed_1", K3_NAME_FREE);
    set_params(add(L, "layers/time_distributed_1/layer", "batch_normalization", K3_NAME_FREE), head_bn);
    add(L, "layers/time_distributed_2", "time_distributed_2", K3_NAME_FREE);
    // GAP has no weights; its auto name is the only sign it is not, say, a max pooling
    add(L, "layers/time_distributed_2/layer", "global_average_pooling2d", K3_NAME_PREFIX)->prefix_len = 24;
    add(L, "layers/bidirectional", "bidirectional", K3_NAME_FREE);
    const char *dir[2] = {"forward", "backward"};
    for (int d = 0; d < 2; d++) {
        char path[192];
        snprintf(path, sizeof path, "layers/bidirectional/%s_layer", dir[d]);
        snprintf(name, sizeof name, "%s_gru", dir[d]);
        add(L, path, name, K3_NAME_PREFIX)->prefix_len = (int)strlen(dir[d]) + 1;  // "forward_"
        snprintf(path, sizeof path, "layers/bidirectional/%s_layer/cell", dir[d]);
        k3_entry *e = add(L, path, "gru_cell", K3_NAME_EXACT);
        e->n_vars = 3;
        for (int k = 0; k < 3; k++) e->param[k] = gru->p[3 * d + k];
    }
    // tf_keras (Keras 2 saving v3) also walks Bidirectional.layer, the GRU both directions are copies
    // of: groups without arrays (check_leftovers refuses any array there)
    add(L, "layers/bidirectional/layer", "gru", K3_NAME_FREE)->optional = 1;
    add(L, "layers/bidirectional/layer/cell", "gru_cell", K3_NAME_FREE)->optional = 1;
    add(L, "layers/dropout", "dropout", K3_NAME_FREE);
    set_params(add(L, "layers/dense", "dense", K3_NAME_FREE), &m->nodes[model_find_node(m, "dense_hidden")]);
    add(L, "layers/dropout_1", "dropout_1", K3_NAME_FREE);
    set_params(add(L, "layers/dense_1", "dense_1", K3_NAME_FREE), &m->nodes[model_find_node(m, "dense_out")]);
    GS_ASSERT(head_bn->op == NODE_BN && gru->op == NODE_BIGRU);
}

void k3_layout_free(k3_layout *L) {
    free(L->e);
    memset(L, 0, sizeof *L);
}

int k3_layout_find(const k3_layout *L, const char *path) {
    for (int i = 0; i < L->n; i++)
        if (!strcmp(L->e[i].path, path)) return i;
    return -1;
}
