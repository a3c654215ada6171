// gesture's ONNX export read back with protobuf-c (no ONNX Runtime needed): the ModelProto parses,
// with IR version, opset, the graph's input and output names and shapes (fixed and dynamic frames),
// one ONNX op per graph op in the counts the model implies, the Keras -> ONNX weight layouts element
// by element (conv OIHW, depthwise as grouped conv, GRU W/R/B in z,r,h order with linear_before_reset,
// BN moving statistics), every node input produced before it is read, and errors as one line.
// Numerics against ONNX Runtime: scripts/check_onnx.py (test_onnx_ort).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"
#include "gesture/model.h"
#include "gesture/onnx.h"
#include "gesture/ops.h"
#include "onnx.pb-c.h"
#include "testutil.h"

static const char *TMP;

static Onnx__ModelProto *load(const char *path) {
    size_t n = 0;
    char *buf = test_read_text(path, &n);
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, n, (const uint8_t *)buf);
    free(buf);
    return mp;
}

static const Onnx__TensorProto *init_named(const Onnx__ModelProto *mp, const char *name) {
    for (size_t i = 0; i < mp->graph->n_initializer; i++)
        if (!strcmp(mp->graph->initializer[i]->name, name)) return mp->graph->initializer[i];
    return NULL;
}

static const Onnx__NodeProto *node_named(const Onnx__ModelProto *mp, const char *name) {
    for (size_t i = 0; i < mp->graph->n_node; i++)
        if (!strcmp(mp->graph->node[i]->name, name)) return mp->graph->node[i];
    return NULL;
}

static const Onnx__AttributeProto *attr_named(const Onnx__NodeProto *n, const char *name) {
    for (size_t i = 0; n && i < n->n_attribute; i++)
        if (!strcmp(n->attribute[i]->name, name)) return n->attribute[i];
    return NULL;
}

static int count_op(const Onnx__ModelProto *mp, const char *op) {
    int c = 0;
    for (size_t i = 0; i < mp->graph->n_node; i++) c += !strcmp(mp->graph->node[i]->op_type, op);
    return c;
}

static int count_node_op(const gs_model *m, gs_node_op op, int act) {
    int c = 0;
    for (int i = 0; i < m->n_nodes; i++) c += m->nodes[i].op == op && (act < 0 || m->nodes[i].act == act);
    return c;
}

// "batch,4,96,96,3"-style rendering of a value's dimensions.
static void dims_str(char *buf, size_t n, const Onnx__ValueInfoProto *v) {
    buf[0] = '\0';
    const Onnx__TensorShapeProto *s = v->type->tensor_type->shape;
    for (size_t i = 0; i < s->n_dim; i++) {
        size_t l = strlen(buf);
        if (s->dim[i]->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM)
            snprintf(buf + l, n - l, "%s%s", i ? "," : "", s->dim[i]->dim_param);
        else
            snprintf(buf + l, n - l, "%s%ld", i ? "," : "", (long)s->dim[i]->dim_value);
    }
}

static float raw_at(const Onnx__TensorProto *t, size_t i) {
    float v;
    memcpy(&v, t->raw_data.data + 4 * i, 4);
    return v;
}

// Every node input is a graph input, an initializer, "" (omitted) or an earlier node's output.
static int topologically_sorted(const Onnx__ModelProto *mp) {
    const Onnx__GraphProto *g = mp->graph;
    for (size_t i = 0; i < g->n_node; i++)
        for (size_t k = 0; k < g->node[i]->n_input; k++) {
            const char *in = g->node[i]->input[k];
            int found = !*in || !strcmp(in, g->input[0]->name) || init_named(mp, in);
            for (size_t j = 0; j < i && !found; j++)
                for (size_t o = 0; o < g->node[j]->n_output; o++) found |= !strcmp(g->node[j]->output[o], in);
            if (!found) {
                printf("  node %s reads %s before it is made\n", g->node[i]->name, in);
                return 0;
            }
        }
    return 1;
}

static void test_export(void) {
    gs_model_arch a = {.alpha = 0.35f, .size = 64, .frames = 4, .batch = 1, .classes = 3, .gru_units = 8,
                       .dense_units = 6, .dropout = 0.25f, .l2 = 1e-4f};
    gs_model m;
    GS_ASSERT(model_init(&m, &a) == 0);
    model_init_weights(&m, 7);
    // moving statistics away from their (0, 1) initial values, so their place shows
    gs_rng rng;
    gs_rng_seed(&rng, 3);
    for (int i = 0; i < m.params.n; i++)
        if (!m.params.p[i].trainable)
            test_fill_uniform(params_ptr(&m.params, i), &rng, 0.5f, 1.5f, m.params.p[i].numel);
    const char *classes[3] = {"a", "b \"quoted\"", "c"};
    const char *keys[1] = {"frame_step"}, *values[1] = {"2"};
    gs_onnx_options o = {4, classes, 3, "unit", "test", keys, values, 1};
    const char *path = test_path(TMP, "m.onnx");
    check(onnx_export(&m, &o, path) == 0, "export (%s)", gs_last_error());
    Onnx__ModelProto *mp = load(path);
    check(mp != NULL, "the file parses back as an onnx.ModelProto");
    if (!mp) {
        model_free(&m);
        return;
    }
    check(mp->ir_version == GS_ONNX_IR_VERSION && mp->n_opset_import == 1 && !strcmp(mp->opset_import[0]->domain, "") &&
              mp->opset_import[0]->version == 17,
          "IR version %ld, opset %ld", (long)mp->ir_version, (long)mp->opset_import[0]->version);
    check(!strcmp(mp->producer_name, "gesture"), "producer gesture");
    const Onnx__GraphProto *g = mp->graph;
    char d[128];
    check(g->n_input == 1 && !strcmp(g->input[0]->name, "frames"), "one input, frames");
    dims_str(d, sizeof d, g->input[0]);
    check(!strcmp(d, "batch,4,64,64,3"), "input dims (%s)", d);
    check(g->input[0]->type->tensor_type->elem_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, "input float");
    check(g->n_output == 1 && !strcmp(g->output[0]->name, "probabilities"), "one output, probabilities");
    dims_str(d, sizeof d, g->output[0]);
    check(!strcmp(d, "batch,3"), "output dims (%s)", d);
    int have_classes = 0;
    for (size_t i = 0; i < mp->n_metadata_props; i++)
        if (!strcmp(mp->metadata_props[i]->key, "classes"))
            have_classes = !strcmp(mp->metadata_props[i]->value, "[\"a\", \"b \\\"quoted\\\"\", \"c\"]");
    check(have_classes, "class names in the metadata as a JSON list");
    check(g->n_node > 0 && !strcmp(g->node[g->n_node - 1]->op_type, "Softmax") &&
              !strcmp(g->node[g->n_node - 1]->output[0], "probabilities"),
          "the last node is the Softmax making probabilities");

    int convs = count_node_op(&m, NODE_CONV, -1) + count_node_op(&m, NODE_PWCONV, -1) +
                count_node_op(&m, NODE_DWCONV, -1);
    check(count_op(mp, "Conv") == convs, "Conv nodes: %d (graph %d)", count_op(mp, "Conv"), convs);
    check(count_op(mp, "BatchNormalization") == count_node_op(&m, NODE_BN, -1), "BatchNormalization nodes: %d",
          count_op(mp, "BatchNormalization"));
    check(count_op(mp, "Clip") == count_node_op(&m, NODE_BN, GS_ACT_RELU6), "Clip (ReLU6) nodes: %d",
          count_op(mp, "Clip"));
    check(count_op(mp, "Add") == count_node_op(&m, NODE_ADD, -1), "Add nodes: %d", count_op(mp, "Add"));
    check(count_op(mp, "GRU") == 1 && count_op(mp, "Gemm") == 2 && count_op(mp, "Relu") == 1 &&
              count_op(mp, "GlobalAveragePool") == 1 && count_op(mp, "Dropout") == 0,
          "one GRU, two Gemm, one Relu, one GlobalAveragePool, no Dropout");
    check(topologically_sorted(mp), "nodes in topological order");
    check(init_named(mp, "relu6_max") && raw_at(init_named(mp, "relu6_max"), 0) == 6.0f, "Clip max 6");

    // Conv1: HWIO (3,3,3,Co) -> OIHW, stride 2, TF 'same' pads (extra pixel after: 64 -> 32 pads 0,0,1,1)
    int ci = model_find_node(&m, "Conv1");
    const gs_node *c1 = &m.nodes[ci];
    const Onnx__TensorProto *w = init_named(mp, "Conv1/kernel");
    const float *k = params_ptr(&m.params, c1->p[0]);
    int Co = c1->shape[3], ok = w && w->n_dims == 4 && w->dims[0] == Co && w->dims[1] == 3 && w->dims[2] == 3;
    for (int oc = 0; ok && oc < Co; oc++)
        for (int i = 0; i < 3; i++)
            for (int y = 0; y < 3; y++)
                for (int x = 0; x < 3; x++)
                    ok &= raw_at(w, (((size_t)oc * 3 + i) * 3 + y) * 3 + x) == k[((y * 3 + x) * 3 + i) * Co + oc];
    check(ok, "Conv1 kernel HWIO -> OIHW, every element");
    const Onnx__AttributeProto *pads = attr_named(node_named(mp, "Conv1"), "pads");
    check(pads && pads->n_ints == 4 && pads->ints[0] == 0 && pads->ints[1] == 0 && pads->ints[2] == 1 &&
              pads->ints[3] == 1,
          "Conv1 pads [0, 0, 1, 1] (TF 'same', stride 2)");
    // a stride-2 depthwise conv: grouped, (K,K,C,1) -> (C,1,K,K)
    int di = model_find_node(&m, "block_1_depthwise");
    const gs_node *dn = &m.nodes[di];
    w = init_named(mp, "block_1_depthwise/depthwise_kernel");
    k = params_ptr(&m.params, dn->p[0]);
    int C = dn->shape[3];
    ok = w && w->n_dims == 4 && w->dims[0] == C && w->dims[1] == 1;
    for (int c = 0; ok && c < C; c++)
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 3; x++) ok &= raw_at(w, ((size_t)c * 3 + y) * 3 + x) == k[(y * 3 + x) * C + c];
    const Onnx__AttributeProto *group = attr_named(node_named(mp, "block_1_depthwise"), "group");
    check(ok && group && group->i == C, "block_1_depthwise: group %d, (3,3,C,1) -> (C,1,3,3), every element", C);
    // BN: inputs scale, B, mean, var = gamma, beta, moving_mean, moving_variance; epsilon 1e-3
    const Onnx__NodeProto *bn = node_named(mp, "block_1_expand_BN");
    const Onnx__AttributeProto *eps = attr_named(bn, "epsilon");
    int bi = model_find_node(&m, "block_1_expand_BN");
    const Onnx__TensorProto *mv = init_named(mp, "block_1_expand_BN/moving_variance");
    check(bn && bn->n_input == 5 && !strcmp(bn->input[3], "block_1_expand_BN/moving_mean") &&
              !strcmp(bn->input[4], "block_1_expand_BN/moving_variance") && eps && eps->f == 1e-3f && mv &&
              raw_at(mv, 1) == params_ptr(&m.params, m.nodes[bi].p[3])[1],
          "BatchNormalization with the moving statistics, epsilon 1e-3");

    // GRU: W (2,3H,D) = kernel^T per direction, R (2,3H,H), B (2,6H) = [input bias, recurrent bias]
    const Onnx__NodeProto *gru = node_named(mp, "gru");
    const Onnx__AttributeProto *lbr = attr_named(gru, "linear_before_reset"), *dir = attr_named(gru, "direction");
    const Onnx__AttributeProto *hs = attr_named(gru, "hidden_size");
    check(gru && lbr && lbr->i == 1 && dir && dir->s.len == 13 && !memcmp(dir->s.data, "bidirectional", 13) && hs &&
              hs->i == 8 && gru->n_output == 2 && !strcmp(gru->output[0], ""),
          "GRU: bidirectional, hidden 8, linear_before_reset 1, only Y_h");
    int gi = model_find_node(&m, "gru");
    int H = 8, G = 24, D = m.nodes[m.nodes[gi].in[0]].shape[1];
    const Onnx__TensorProto *W = init_named(mp, "gru/W"), *R = init_named(mp, "gru/R"), *B = init_named(mp, "gru/B");
    ok = W && R && B && W->dims[0] == 2 && W->dims[1] == G && W->dims[2] == D && R->dims[2] == H && B->dims[1] == 2 * G;
    for (int dd = 0; ok && dd < 2; dd++) {
        const float *kk = params_ptr(&m.params, m.nodes[gi].p[3 * dd]);
        const float *rk = params_ptr(&m.params, m.nodes[gi].p[3 * dd + 1]);
        const float *bb = params_ptr(&m.params, m.nodes[gi].p[3 * dd + 2]);
        for (int gg = 0; gg < G; gg++) {
            for (int i = 0; i < D; i++) ok &= raw_at(W, ((size_t)dd * G + gg) * D + i) == kk[(size_t)i * G + gg];
            for (int j = 0; j < H; j++) ok &= raw_at(R, ((size_t)dd * G + gg) * H + j) == rk[(size_t)j * G + gg];
            ok &= raw_at(B, (size_t)dd * 2 * G + gg) == bb[gg] && raw_at(B, (size_t)dd * 2 * G + G + gg) == bb[G + gg];
        }
    }
    check(ok, "GRU W, R, B: Keras kernels transposed, gate blocks z,r,h kept, forward then backward");
    const Onnx__TensorProto *dk = init_named(mp, "dense_out/kernel");
    check(dk && dk->n_dims == 2 && dk->dims[0] == 6 && dk->dims[1] == 3 &&
              !memcmp(dk->raw_data.data, params_ptr(&m.params, m.nodes[model_find_node(&m, "dense_out")].p[0]), 18 * 4),
          "dense_out kernel (in, out) as Gemm's B");
    onnx__model_proto__free_unpacked(mp, NULL);

    // dynamic frames
    o.frames = 0;
    check(onnx_export(&m, &o, path) == 0, "export with dynamic frames");
    mp = load(path);
    if (mp) {
        dims_str(d, sizeof d, mp->graph->input[0]);
        check(!strcmp(d, "batch,frames,64,64,3") && count_op(mp, "Shape") == 1 && topologically_sorted(mp),
              "dynamic frames: input dims (%s), the clip shape from Shape(frames)", d);
        onnx__model_proto__free_unpacked(mp, NULL);
    } else {
        check(0, "the dynamic export parses back");
    }

    // errors: one line naming the path; nothing left behind
    const char *bad = test_path(TMP, "no/such/dir/m.onnx");
    int rc = onnx_export(&m, &o, bad);
    const char *msg = gs_last_error();
    check(rc == -1 && strstr(msg, bad) && !strchr(msg, '\n'), "unwritable path: one line (%s)", msg);
    o.frames = -3;
    rc = onnx_export(&m, &o, path);
    check(rc == -1 && strstr(gs_last_error(), "frames") != NULL, "bad frames refused (%s)", gs_last_error());
    check(test_file_size(test_path(TMP, "m.onnx.tmp")) < 0, "no .tmp left behind");
    model_free(&m);
}

int main(void) {
    TMP = test_make_tmpdir("onnx");
    test_export();
    return test_finish();
}
