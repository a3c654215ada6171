// ONNX export of the inference model (see gesture/onnx.h): the gs_model's node list walked once,
// each node mapped onto ONNX ops in NCHW, the weights converted from Keras' layouts into ONNX's, the
// ModelProto packed by protobuf-c (onnx.pb-c.c, generated from third_party/onnx/onnx.proto).
#include "gesture/onnx.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"
#include "gesture/fsutil.h"
#include "gesture/ops.h"
#include "onnx.pb-c.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "onnx_export writes raw_data as the host's bytes: ONNX wants little-endian"
#endif

// ---- a builder: every message and buffer it allocates is freed at once ----

typedef struct {
    void **allocs;
    size_t n_allocs, cap_allocs;
    Onnx__NodeProto **nodes;
    size_t n_nodes, cap_nodes;
    Onnx__TensorProto **inits;
    size_t n_inits, cap_inits;
} builder;

static void push(void ***v, size_t *n, size_t *cap, void *p) {
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        void **nv = realloc(*v, *cap * sizeof *nv);
        GS_ASSERT(nv);
        *v = nv;
    }
    (*v)[(*n)++] = p;
}

static void *b_alloc(builder *b, size_t n) {
    void *p = gs_calloc(1, n ? n : 1);
    push(&b->allocs, &b->n_allocs, &b->cap_allocs, p);
    return p;
}

static char *b_str(builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *b_str(builder *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = b_alloc(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static void b_free(builder *b) {
    for (size_t i = 0; i < b->n_allocs; i++) free(b->allocs[i]);
    free(b->allocs);
    free(b->nodes);
    free(b->inits);
}

// An initializer; `data` (numel elements of elem_size bytes) is copied.
static Onnx__TensorProto *init_tensor(builder *b, const char *name, int32_t type, int ndim, const int64_t *dims,
                                      const void *data, size_t elem_size) {
    Onnx__TensorProto *t = b_alloc(b, sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = b_str(b, "%s", name);
    t->has_data_type = 1;
    t->data_type = type;
    t->n_dims = (size_t)ndim;
    t->dims = b_alloc(b, (size_t)(ndim ? ndim : 1) * sizeof(int64_t));
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        t->dims[i] = dims[i];
        numel *= (size_t)dims[i];
    }
    t->has_raw_data = 1;
    t->raw_data.len = numel * elem_size;
    t->raw_data.data = b_alloc(b, t->raw_data.len);
    memcpy(t->raw_data.data, data, t->raw_data.len);
    push((void ***)&b->inits, &b->n_inits, &b->cap_inits, t);
    return t;
}

// A float initializer whose raw bytes the caller fills (returned).
static float *init_float(builder *b, const char *name, int ndim, const int64_t *dims) {
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) numel *= (size_t)dims[i];
    float *zeros = gs_calloc(numel ? numel : 1, sizeof(float));
    Onnx__TensorProto *t = init_tensor(b, name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, ndim, dims, zeros, sizeof(float));
    free(zeros);
    return (float *)t->raw_data.data;
}

static void init_int64(builder *b, const char *name, int n, const int64_t *v) {
    int64_t d[1] = {n};
    init_tensor(b, name, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 1, d, v, sizeof(int64_t));
}

// A node with n_in inputs ("" = an omitted optional input) and n_out outputs.
static Onnx__NodeProto *node(builder *b, const char *op_type, const char *name, int n_in, const char *const *in,
                             int n_out, const char *const *out) {
    Onnx__NodeProto *n = b_alloc(b, sizeof *n);
    onnx__node_proto__init(n);
    n->op_type = b_str(b, "%s", op_type);
    n->name = b_str(b, "%s", name);
    n->n_input = (size_t)n_in;
    n->input = b_alloc(b, (size_t)n_in * sizeof(char *));
    for (int i = 0; i < n_in; i++) n->input[i] = b_str(b, "%s", in[i]);
    n->n_output = (size_t)n_out;
    n->output = b_alloc(b, (size_t)n_out * sizeof(char *));
    for (int i = 0; i < n_out; i++) n->output[i] = b_str(b, "%s", out[i]);
    push((void ***)&b->nodes, &b->n_nodes, &b->cap_nodes, n);
    return n;
}

static Onnx__NodeProto *node1(builder *b, const char *op_type, const char *name, const char *in0, const char *in1,
                              const char *out) {
    const char *in[2] = {in0, in1};
    return node(b, op_type, name, in1 ? 2 : 1, in, 1, &out);
}

static Onnx__AttributeProto *attr(builder *b, Onnx__NodeProto *n, const char *name,
                                  Onnx__AttributeProto__AttributeType type) {
    Onnx__AttributeProto *a = b_alloc(b, sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = b_str(b, "%s", name);
    a->has_type = 1;
    a->type = type;
    Onnx__AttributeProto **na = b_alloc(b, (n->n_attribute + 1) * sizeof *na);
    if (n->n_attribute) memcpy(na, n->attribute, n->n_attribute * sizeof *na);
    na[n->n_attribute++] = a;
    n->attribute = na;  // the old array stays in the builder's list
    return a;
}

static void attr_i(builder *b, Onnx__NodeProto *n, const char *name, int64_t v) {
    Onnx__AttributeProto *a = attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = v;
}

static void attr_f(builder *b, Onnx__NodeProto *n, const char *name, float v) {
    Onnx__AttributeProto *a = attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = 1;
    a->f = v;
}

static void attr_s(builder *b, Onnx__NodeProto *n, const char *name, const char *v) {
    Onnx__AttributeProto *a = attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    a->has_s = 1;
    a->s.len = strlen(v);
    a->s.data = (uint8_t *)b_str(b, "%s", v);
}

static void attr_ints(builder *b, Onnx__NodeProto *n, const char *name, int count, const int64_t *v) {
    Onnx__AttributeProto *a = attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->n_ints = (size_t)count;
    a->ints = b_alloc(b, (size_t)count * sizeof(int64_t));
    memcpy(a->ints, v, (size_t)count * sizeof(int64_t));
}

// A float tensor's type with dimensions: dim_value when > 0, else the named dim_param.
static Onnx__ValueInfoProto *value_info(builder *b, const char *name, const char *doc, int ndim, const int64_t *dims,
                                        const char *const *params) {
    Onnx__ValueInfoProto *v = b_alloc(b, sizeof *v);
    onnx__value_info_proto__init(v);
    v->name = b_str(b, "%s", name);
    if (doc) v->doc_string = b_str(b, "%s", doc);
    Onnx__TypeProto *tp = b_alloc(b, sizeof *tp);
    onnx__type_proto__init(tp);
    Onnx__TypeProto__Tensor *tt = b_alloc(b, sizeof *tt);
    onnx__type_proto__tensor__init(tt);
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    Onnx__TensorShapeProto *sh = b_alloc(b, sizeof *sh);
    onnx__tensor_shape_proto__init(sh);
    sh->n_dim = (size_t)ndim;
    sh->dim = b_alloc(b, (size_t)ndim * sizeof *sh->dim);
    for (int i = 0; i < ndim; i++) {
        Onnx__TensorShapeProto__Dimension *d = b_alloc(b, sizeof *d);
        onnx__tensor_shape_proto__dimension__init(d);
        if (dims[i] > 0) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = dims[i];
        } else {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = b_str(b, "%s", params[i]);
        }
        sh->dim[i] = d;
    }
    tt->shape = sh;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    v->type = tp;
    return v;
}

// ---- the model's nodes as ONNX ops ----

static const float *param(const gs_model *m, const gs_node *n, int k) {
    GS_ASSERT(n->p[k] >= 0);
    return params_ptr(&m->params, n->p[k]);
}

static const char *param_name(const gs_model *m, const gs_node *n, int k) { return m->params.p[n->p[k]].name; }

// Conv, or depthwise as a grouped Conv: Keras HWIO (K,K,Ci,Co) / (K,K,C,1) -> ONNX OIHW.
static void emit_conv(builder *b, const gs_model *m, const gs_node *n, const gs_node *x, const char *in,
                      const char *out) {
    int K = n->k, ci = x->shape[3], co = n->shape[3], dw = n->op == NODE_DWCONV;
    int64_t wd[4] = {co, dw ? 1 : ci, K, K};
    float *w = init_float(b, param_name(m, n, 0), 4, wd);
    const float *k = param(m, n, 0);
    for (int o = 0; o < co; o++)
        for (int i = 0; i < (dw ? 1 : ci); i++)
            for (int y = 0; y < K; y++)
                for (int xx = 0; xx < K; xx++)
                    w[(((size_t)o * (dw ? 1 : ci) + i) * K + y) * K + xx] =
                        dw ? k[((size_t)y * K + xx) * co + o] : k[(((size_t)y * K + xx) * ci + i) * co + o];
    Onnx__NodeProto *c = node1(b, "Conv", n->name, in, param_name(m, n, 0), out);
    // TF 'same': the pad after is whatever the output size implies (the extra pixel goes after)
    int pb = (n->shape[1] - 1) * n->stride + K - x->shape[1] - n->pad_top;
    int pr = (n->shape[2] - 1) * n->stride + K - x->shape[2] - n->pad_left;
    int64_t ks[2] = {K, K}, st[2] = {n->stride, n->stride};
    int64_t pads[4] = {n->pad_top, n->pad_left, pb > 0 ? pb : 0, pr > 0 ? pr : 0};
    attr_ints(b, c, "kernel_shape", 2, ks);
    attr_ints(b, c, "strides", 2, st);
    attr_ints(b, c, "pads", 4, pads);
    if (dw) attr_i(b, c, "group", co);
}

static void emit_bn(builder *b, const gs_model *m, const gs_node *n, const char *in, const char *out) {
    int C = n->shape[n->ndim - 1];
    int64_t d[1] = {C};
    for (int k = 0; k < 4; k++)
        memcpy(init_float(b, param_name(m, n, k), 1, d), param(m, n, k), (size_t)C * sizeof(float));
    const char *ins[5] = {in, param_name(m, n, 0), param_name(m, n, 1), param_name(m, n, 2), param_name(m, n, 3)};
    int relu6 = n->act == GS_ACT_RELU6;
    const char *bn_out = relu6 ? b_str(b, "%s/bn", n->name) : out;
    Onnx__NodeProto *bn = node(b, "BatchNormalization", n->name, 5, ins, 1, &bn_out);
    attr_f(b, bn, "epsilon", n->eps);
    if (relu6) {
        const char *cins[3] = {bn_out, "relu6_min", "relu6_max"};
        node(b, "Clip", b_str(b, "%s/relu6", n->name), 3, cins, 1, &out);
    }
}

// Keras GRU (D,3H) kernel, (H,3H) recurrent kernel, (2,3H) bias per direction -> ONNX W (2,3H,D),
// R (2,3H,H), B (2,6H). Gate blocks are z, r, h in both (Keras' column blocks, ONNX's W[zrh]); ONNX's
// Wb is Keras' input bias (row 0), Rb the recurrent bias (row 1), which linear_before_reset = 1
// applies inside r * (h R_h^T + Rb_h), as Keras' reset_after does.
static void emit_bigru(builder *b, const gs_model *m, const gs_node *n, const gs_node *x, const char *in,
                       const char *out) {
    int D = x->shape[1], H = m->cfg.gru_units, G = 3 * H;
    int64_t wd[3] = {2, G, D}, rd[3] = {2, G, H}, bd[2] = {2, 2 * G};
    const char *wn = b_str(b, "%s/W", n->name), *rn = b_str(b, "%s/R", n->name), *bn = b_str(b, "%s/B", n->name);
    float *W = init_float(b, wn, 3, wd), *R = init_float(b, rn, 3, rd), *B = init_float(b, bn, 2, bd);
    for (int d = 0; d < 2; d++) {
        const float *k = param(m, n, 3 * d), *rk = param(m, n, 3 * d + 1), *bias = param(m, n, 3 * d + 2);
        for (int g = 0; g < G; g++) {
            for (int i = 0; i < D; i++) W[((size_t)d * G + g) * D + i] = k[(size_t)i * G + g];
            for (int j = 0; j < H; j++) R[((size_t)d * G + g) * H + j] = rk[(size_t)j * G + g];
        }
        memcpy(B + (size_t)d * 2 * G, bias, 2 * (size_t)G * sizeof(float));
    }
    // (B,T,D) -> (T,B,D), the GRU's layout 0 (sequence first)
    const char *tbd = b_str(b, "%s/x_tbd", n->name);
    int64_t perm[3] = {1, 0, 2};
    attr_ints(b, node1(b, "Transpose", b_str(b, "%s/to_tbd", n->name), in, NULL, tbd), "perm", 3, perm);
    const char *yh = b_str(b, "%s/Y_h", n->name);
    const char *gins[4] = {tbd, wn, rn, bn}, *gouts[2] = {"", yh};
    Onnx__NodeProto *g = node(b, "GRU", n->name, 4, gins, 2, gouts);
    attr_s(b, g, "direction", "bidirectional");
    attr_i(b, g, "hidden_size", H);
    attr_i(b, g, "linear_before_reset", 1);
    // Y_h (2,B,H): [forward final state, backward final state (after x_1)] -> (B,2,H) -> (B,2H) = the
    // concatenation gesture (and Keras' Bidirectional merge_mode='concat') makes
    const char *bdh = b_str(b, "%s/Y_h_bdh", n->name);
    attr_ints(b, node1(b, "Transpose", b_str(b, "%s/to_bdh", n->name), yh, NULL, bdh), "perm", 3, perm);
    const char *shape = b_str(b, "%s/concat_shape", n->name);
    int64_t s[2] = {-1, 2 * H};
    init_int64(b, shape, 2, s);
    node1(b, "Reshape", b_str(b, "%s/concat", n->name), bdh, shape, out);
}

static void emit_dense(builder *b, const gs_model *m, const gs_node *n, const gs_node *x, const char *in,
                       const char *out) {
    int64_t kd[2] = {x->shape[1], n->shape[1]}, bd[1] = {n->shape[1]};
    memcpy(init_float(b, param_name(m, n, 0), 2, kd), param(m, n, 0), (size_t)kd[0] * kd[1] * sizeof(float));
    memcpy(init_float(b, param_name(m, n, 1), 1, bd), param(m, n, 1), (size_t)bd[0] * sizeof(float));
    int relu = n->act == GS_ACT_RELU;
    const char *gemm_out = relu ? b_str(b, "%s/linear", n->name) : out;
    const char *ins[3] = {in, param_name(m, n, 0), param_name(m, n, 1)};
    node(b, "Gemm", n->name, 3, ins, 1, &gemm_out);
    if (relu) node1(b, "Relu", b_str(b, "%s/relu", n->name), gemm_out, NULL, out);
}

// (N,C,1,1) per-frame features -> (B,T,C) clips: T fixed, or T from the input's shape.
static void emit_frames_to_clips(builder *b, const gs_node *n, int frames, const char *in, const char *out) {
    int C = n->shape[1];
    const char *shape = b_str(b, "%s/clip_shape", n->name);
    if (frames > 0) {
        int64_t s[3] = {-1, frames, C};
        init_int64(b, shape, 3, s);
    } else {
        // Shape(frames)[0:2] ++ [C]
        const char *full = b_str(b, "%s/input_shape", n->name), *bt = b_str(b, "%s/input_bt", n->name);
        const char *st = b_str(b, "%s/bt_start", n->name), *en = b_str(b, "%s/bt_end", n->name);
        const char *c = b_str(b, "%s/channels", n->name);
        int64_t zero = 0, two = 2, cv = C;
        init_int64(b, st, 1, &zero);
        init_int64(b, en, 1, &two);
        init_int64(b, c, 1, &cv);
        node1(b, "Shape", b_str(b, "%s/shape", n->name), "frames", NULL, full);
        const char *sins[3] = {full, st, en};
        node(b, "Slice", b_str(b, "%s/slice", n->name), 3, sins, 1, &bt);
        const char *cins[2] = {bt, c};
        attr_i(b, node(b, "Concat", b_str(b, "%s/concat", n->name), 2, cins, 1, &shape), "axis", 0);
    }
    node1(b, "Reshape", b_str(b, "%s/to_clips", n->name), in, shape, out);
}

// The graph's nodes. names[i] = the tensor holding node i's output.
static int emit_graph(builder *b, const gs_model *m, int frames, const char **names) {
    const gs_model_arch *a = &m->cfg;
    float lo = 0.0f, hi = 6.0f;
    init_tensor(b, "relu6_min", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 0, NULL, &lo, sizeof lo);
    init_tensor(b, "relu6_max", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 0, NULL, &hi, sizeof hi);
    for (int i = 0; i < m->n_nodes; i++) {
        const gs_node *n = &m->nodes[i];
        const gs_node *x = n->n_in ? &m->nodes[n->in[0]] : NULL;
        const char *in = n->n_in ? names[n->in[0]] : NULL;
        const char *out = n->name;
        switch (n->op) {
        case NODE_INPUT: {
            // (B,T,S,S,3) -> (B*T,S,S,3) -> NCHW
            int64_t s[4] = {-1, a->size, a->size, 3}, perm[4] = {0, 3, 1, 2};
            init_int64(b, "input/frame_shape", 4, s);
            node1(b, "Reshape", "input/to_frames", "frames", "input/frame_shape", "input/nhwc");
            attr_ints(b, node1(b, "Transpose", "input/to_nchw", "input/nhwc", NULL, out), "perm", 4, perm);
            break;
        }
        case NODE_CONV:
        case NODE_PWCONV:
        case NODE_DWCONV:
            emit_conv(b, m, n, x, in, out);
            break;
        case NODE_BN:
            emit_bn(b, m, n, in, out);
            break;
        case NODE_ADD:
            node1(b, "Add", n->name, in, names[n->in[1]], out);
            break;
        case NODE_GAP: {
            const char *pooled = b_str(b, "%s/nc11", n->name);
            node1(b, "GlobalAveragePool", n->name, in, NULL, pooled);
            emit_frames_to_clips(b, n, frames, pooled, out);
            break;
        }
        case NODE_BIGRU:
            emit_bigru(b, m, n, x, in, out);
            break;
        case NODE_DROPOUT:  // the identity at inference
            out = in;
            break;
        case NODE_DENSE:
            emit_dense(b, m, n, x, in, out);
            break;
        case NODE_LOSS:
            out = "probabilities";
            attr_i(b, node1(b, "Softmax", n->name, in, NULL, out), "axis", -1);
            break;
        case NODE_COUNT:
            return gs_error("onnx: node %s has no op", n->name);
        }
        names[i] = out;
    }
    return 0;
}

static Onnx__StringStringEntryProto *meta(builder *b, const char *key, const char *value) {
    Onnx__StringStringEntryProto *e = b_alloc(b, sizeof *e);
    onnx__string_string_entry_proto__init(e);
    e->key = b_str(b, "%s", key);
    e->value = b_str(b, "%s", value);
    return e;
}

// ["a", "b"] with JSON escapes for quotes, backslashes and control characters.
static char *json_names(builder *b, const char *const *v, int n) {
    size_t cap = 3;
    for (int i = 0; i < n; i++) cap += 6 * strlen(v[i]) + 4;
    char *s = b_alloc(b, cap), *p = s;
    *p++ = '[';
    for (int i = 0; i < n; i++) {
        if (i) p += sprintf(p, ", ");
        *p++ = '"';
        for (const unsigned char *c = (const unsigned char *)v[i]; *c; c++) {
            if (*c == '"' || *c == '\\') p += sprintf(p, "\\%c", *c);
            else if (*c < 0x20) p += sprintf(p, "\\u%04x", *c);
            else *p++ = (char)*c;
        }
        *p++ = '"';
    }
    *p++ = ']';
    *p = '\0';
    return s;
}

int onnx_export(const gs_model *m, const gs_onnx_options *o, const char *path) {
    const gs_model_arch *a = &m->cfg;
    if (o->frames < 0 || o->frames > GS_MAX_FRAMES)
        return gs_error("%s: frames = %d is outside [1, %d] (0 = dynamic)", path, o->frames, GS_MAX_FRAMES);
    // a protobuf message is at most 2 GiB; the weights are almost all of it
    if ((double)m->params.numel * 4 > 2.0e9)
        return gs_error("%s: %zu parameters need %.1f GB, over the 2 GiB limit of one ONNX protobuf file", path,
                        m->params.numel, (double)m->params.numel * 4 / 1e9);
    builder b = {0};
    const char **names = gs_calloc((size_t)m->n_nodes, sizeof *names);
    int rc = emit_graph(&b, m, o->frames, names);
    free(names);
    if (rc) {
        b_free(&b);
        return -1;
    }

    Onnx__GraphProto g = ONNX__GRAPH_PROTO__INIT;
    g.name = "gesture";
    g.n_node = b.n_nodes;
    g.node = b.nodes;
    g.n_initializer = b.n_inits;
    g.initializer = b.inits;
    const char *norm = o->normalize ? o->normalize : "unit";
    char in_doc[512];
    snprintf(in_doc, sizeof in_doc,
             "clips of frames, NHWC RGB: each frame resized to %dx%d and scaled %s (data.normalize = %s)", a->size,
             a->size, strcmp(norm, "symmetric") ? "to [0, 1] (v/255)" : "to [-1, 1] (v/127.5 - 1)", norm);
    int64_t in_dims[5] = {0, o->frames, a->size, a->size, 3}, out_dims[2] = {0, a->classes};
    const char *in_params[5] = {"batch", "frames", NULL, NULL, NULL}, *out_params[2] = {"batch", NULL};
    Onnx__ValueInfoProto *gin = value_info(&b, "frames", in_doc, 5, in_dims, in_params);
    Onnx__ValueInfoProto *gout =
        value_info(&b, "probabilities", "softmax class probabilities, in the order of the metadata's classes", 2,
                   out_dims, out_params);
    g.n_input = 1;
    g.input = &gin;
    g.n_output = 1;
    g.output = &gout;

    Onnx__OperatorSetIdProto opset = ONNX__OPERATOR_SET_ID_PROTO__INIT;
    opset.domain = "";
    opset.has_version = 1;
    opset.version = GS_ONNX_OPSET;
    Onnx__OperatorSetIdProto *opsets[1] = {&opset};

    Onnx__ModelProto mp = ONNX__MODEL_PROTO__INIT;
    mp.has_ir_version = 1;
    mp.ir_version = GS_ONNX_IR_VERSION;
    mp.n_opset_import = 1;
    mp.opset_import = opsets;
    mp.producer_name = "gesture";
    mp.producer_version = (char *)(o->producer_version ? o->producer_version : "");
    mp.has_model_version = 1;
    mp.model_version = 1;
    mp.doc_string = b_str(&b,
                          "MobileNetV2 (alpha %g) per frame -> BatchNormalization -> GlobalAveragePool -> "
                          "bidirectional GRU(%d) -> Dense(%d, relu) -> Dense(%d) -> softmax",
                          (double)a->alpha, a->gru_units, a->dense_units, a->classes);
    int n_meta = 4 + (o->n_meta > 0 ? o->n_meta : 0);
    Onnx__StringStringEntryProto **md = b_alloc(&b, (size_t)n_meta * sizeof *md);
    int k = 0;
    md[k++] = meta(&b, "classes", o->classes ? json_names(&b, o->classes, o->n_classes) : "[]");
    md[k++] = meta(&b, "normalize", norm);
    md[k++] = meta(&b, "size", b_str(&b, "%d", a->size));
    md[k++] = meta(&b, "frames", o->frames > 0 ? b_str(&b, "%d", o->frames) : "dynamic");
    for (int i = 0; i < o->n_meta; i++) md[k++] = meta(&b, o->meta_keys[i], o->meta_values[i]);
    mp.n_metadata_props = (size_t)k;
    mp.metadata_props = md;
    mp.graph = &g;

    size_t len = onnx__model_proto__get_packed_size(&mp);
    uint8_t *buf = gs_malloc(len);
    size_t packed = onnx__model_proto__pack(&mp, buf);
    GS_ASSERT(packed == len);
    b_free(&b);
    rc = fs_write_file(path, buf, len);
    free(buf);
    if (rc) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", gs_last_error());
        return gs_error("%s: cannot write the ONNX file (%s)", path, msg);
    }
    return 0;
}
