// Keras-style model summary: one row per layer with its output shape and parameter count.
#include <stdio.h>
#include <string.h>

#include "gesture/model.h"
#include "gesture/ops.h"
#include "gesture/optable.h"

static size_t node_params(const gs_model *m, const gs_node *n) {
    size_t s = 0;
    for (int k = 0; k < 8; k++)
        if (n->p[k] >= 0) s += m->params.p[n->p[k]].numel;
    return s;
}

size_t model_param_count(const gs_model *m) { return m->params.numel; }

size_t model_backbone_param_count(const gs_model *m) {
    size_t s = 0;
    for (int i = 0; i < m->n_nodes; i++)
        if (m->nodes[i].backbone) s += node_params(m, &m->nodes[i]);
    return s;
}

static void commas(char *buf, size_t n, size_t v) {
    char tmp[32];
    int len = snprintf(tmp, sizeof tmp, "%zu", v), o = 0;
    for (int i = 0; i < len && (size_t)o + 2 < n; i++) {
        if (i && (len - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = 0;
}

void model_summary(const gs_model *m, FILE *f) {
    const gs_model_arch *c = &m->cfg;
    fprintf(f, "Model: mobilenetv2_%.2f_%d + BiGRU(%d), %d frames, %d classes (batch %d clips = %d images)\n",
            c->alpha, c->size, c->gru_units, c->frames, c->classes, c->batch, c->batch * c->frames);
    const char *rule = "--------------------------------------------------------------------------------------";
    fprintf(f, "%s\n%-32s %-24s %-20s %10s\n%s\n", rule, "Layer", "Type", "Output shape", "Param #", rule);
    size_t trainable = 0, non_trainable = 0;
    for (int i = 0; i < m->n_nodes; i++) {
        const gs_node *n = &m->nodes[i];
        char shape[64];
        // per-clip view: images are (B*T, H, W, C) -> (B, T, H, W, C) like TimeDistributed
        switch (op_info(n->op)->show) {
            case GS_SHOW_IMAGES:
                snprintf(shape, sizeof shape, "(B, %d, %d, %d, %d)", c->frames, n->shape[1], n->shape[2], n->shape[3]);
                break;
            case GS_SHOW_SEQUENCE: snprintf(shape, sizeof shape, "(B, %d, %d)", c->frames, n->shape[1]); break;
            case GS_SHOW_VECTOR: snprintf(shape, sizeof shape, "(B, %d)", n->shape[1]); break;
        }
        char num[32];
        commas(num, sizeof num, node_params(m, n));
        char type[48];
        snprintf(type, sizeof type, "%s%s", op_info(n->op)->name,
                 n->act == GS_ACT_RELU6 ? "+ReLU6" : (n->act == GS_ACT_RELU ? "+ReLU" : ""));
        fprintf(f, "%-32s %-24s %-20s %10s\n", n->name, type, shape, num);
        for (int k = 0; k < 8; k++) {
            if (n->p[k] < 0) continue;
            const gs_param *p = &m->params.p[n->p[k]];
            if (p->trainable) trainable += p->numel;
            else non_trainable += p->numel;
        }
    }
    char a[32], b[32], t[32], bb[32];
    commas(t, sizeof t, model_param_count(m));
    commas(a, sizeof a, trainable);
    commas(b, sizeof b, non_trainable);
    commas(bb, sizeof bb, model_backbone_param_count(m));
    fprintf(f, "%s\nTotal params: %s\nTrainable params: %s\nNon-trainable params: %s\n", rule, t, a, b);
    fprintf(f, "Backbone (MobileNetV2) params: %s\n", bb);
    fprintf(f, "Planned memory: activations %.1f MiB, gradients %.1f MiB, parameters+Adam %.1f MiB\n",
            m->act_floats * 4.0 / 1048576, m->grad_floats * 4.0 / 1048576,
            (m->params.numel + 3.0 * m->params.numel_trainable) * 4.0 / 1048576);
}

void model_print_profile(const gs_model *m, FILE *f) {
    double total = 0;
    for (int op = 0; op < NODE_COUNT; op++) total += m->op_seconds[op][0] + m->op_seconds[op][1];
    if (total <= 0) return;
    fprintf(f, "%-24s %10s %10s %7s\n", "op", "forward s", "backward s", "share");
    for (int op = 0; op < NODE_COUNT; op++) {
        double fw = m->op_seconds[op][0], bw = m->op_seconds[op][1];
        if (fw + bw <= 0) continue;
        fprintf(f, "%-24s %10.3f %10.3f %6.1f%%\n", op_info((gs_node_op)op)->name, fw, bw, 100 * (fw + bw) / total);
    }
}
