// Builds the seed network's graph with Keras layer and variable names, validates it, and plans
// its memory (one arena: activations and saved tensors live for the whole step, activation
// gradients share space by liveness during the backward pass).
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gesture/errors.h"
#include "gesture/exec.h"
#include "gesture/model.h"
#include "gesture/ops.h"
#include "gesture/optable.h"

// Keras mobilenet_v2._make_divisible (divisor 8, min_value = divisor).
static int make_divisible(double v) {
    int new_v = (int)((v + 4.0) / 8.0) * 8;  // int(v + divisor/2) // divisor * divisor
    if (new_v < 8) new_v = 8;
    if (new_v < 0.9 * v) new_v += 8;
    return new_v;
}

static gs_node *add_node(gs_model *m, gs_node_op op, const char *name, int in0) {
    if (m->n_nodes == m->cap_nodes) {
        m->cap_nodes = m->cap_nodes ? 2 * m->cap_nodes : 256;
        gs_node *nn = gs_calloc((size_t)m->cap_nodes, sizeof *nn);
        if (m->nodes) memcpy(nn, m->nodes, (size_t)m->n_nodes * sizeof *nn);
        free(m->nodes);
        m->nodes = nn;
    }
    gs_node *n = &m->nodes[m->n_nodes++];
    memset(n, 0, sizeof *n);
    n->op = op;
    snprintf(n->name, sizeof n->name, "%s", name);
    n->in[0] = in0;
    n->in[1] = -1;
    n->n_in = in0 >= 0 ? 1 : 0;
    for (int i = 0; i < 8; i++) n->p[i] = -1;
    n->last_consumer = -1;
    return n;
}

static int param(gs_model *m, const char *layer, const char *var, int ndim, const int *shape,
                 int trainable, float l2) {
    char name[GS_PARAM_NAME_MAX];
    snprintf(name, sizeof name, "%s/%s", layer, var);
    return params_add(&m->params, name, ndim, shape, trainable, l2);
}

static float backbone_momentum(const gs_model *m) {
    return m->cfg.bn_momentum > 0 ? m->cfg.bn_momentum : 0.999f;  // Keras mobilenet_v2.py
}

static const gs_node *node_at(const gs_model *m, int i) { return &m->nodes[i]; }

// ---- layer helpers: each returns the new node's index ----

static int conv_layer(gs_model *m, int in, const char *name, int co, int k, int stride) {
    const gs_node *x = node_at(m, in);
    int N = x->shape[0], H = x->shape[1], W = x->shape[2], ci = x->shape[3];
    int ho, wo, pt, pl;
    conv_same_geometry(&ho, &pt, H, k, stride);
    conv_same_geometry(&wo, &pl, W, k, stride);
    gs_node *n = add_node(m, k == 1 && stride == 1 ? NODE_PWCONV : NODE_CONV, name, in);
    n->k = k;
    n->stride = stride;
    n->pad_top = pt;
    n->pad_left = pl;
    n->ndim = 4;
    n->shape[0] = N, n->shape[1] = ho, n->shape[2] = wo, n->shape[3] = co;
    n->backbone = 1;
    int ks[4] = {k, k, ci, co};
    n->p[0] = param(m, name, "kernel", 4, ks, 1, 0.0f);
    return m->n_nodes - 1;
}

static int dw_layer(gs_model *m, int in, const char *name, int stride) {
    const gs_node *x = node_at(m, in);
    int N = x->shape[0], H = x->shape[1], W = x->shape[2], c = x->shape[3];
    int ho, wo, pt, pl;
    // Keras pads stride-2 depthwise with correct_pad then 'valid'; for K=3 that equals 'same'.
    conv_same_geometry(&ho, &pt, H, 3, stride);
    conv_same_geometry(&wo, &pl, W, 3, stride);
    gs_node *n = add_node(m, NODE_DWCONV, name, in);
    n->k = 3;
    n->stride = stride;
    n->pad_top = pt;
    n->pad_left = pl;
    n->ndim = 4;
    n->shape[0] = N, n->shape[1] = ho, n->shape[2] = wo, n->shape[3] = c;
    n->backbone = 1;
    int ks[4] = {3, 3, c, 1};
    n->p[0] = param(m, name, "depthwise_kernel", 4, ks, 1, 0.0f);
    return m->n_nodes - 1;
}

static int bn_layer(gs_model *m, int in, const char *name, float momentum, int act, int backbone) {
    const gs_node *x = node_at(m, in);
    int c = x->shape[x->ndim - 1];
    gs_node *n = add_node(m, NODE_BN, name, in);
    n->ndim = x->ndim;
    memcpy(n->shape, x->shape, sizeof n->shape);
    n->eps = 1e-3f;
    n->momentum = momentum;
    n->act = act;
    n->backbone = backbone;
    int cs[1] = {c};
    n->p[0] = param(m, name, "gamma", 1, cs, 1, 0.0f);
    n->p[1] = param(m, name, "beta", 1, cs, 1, 0.0f);
    n->p[2] = param(m, name, "moving_mean", 1, cs, 0, 0.0f);
    n->p[3] = param(m, name, "moving_variance", 1, cs, 0, 0.0f);
    return m->n_nodes - 1;
}

static int add_layer(gs_model *m, int a, int b, const char *name) {
    gs_node *n = add_node(m, NODE_ADD, name, a);
    n->in[1] = b;
    n->n_in = 2;
    const gs_node *x = node_at(m, a);
    n->ndim = x->ndim;
    memcpy(n->shape, x->shape, sizeof n->shape);
    n->backbone = 1;
    return m->n_nodes - 1;
}

static int dense_layer(gs_model *m, int in, const char *name, int units, int act, float l2) {
    const gs_node *x = node_at(m, in);
    int d = x->shape[1];
    gs_node *n = add_node(m, NODE_DENSE, name, in);
    n->ndim = 2;
    n->shape[0] = x->shape[0];
    n->shape[1] = units;
    n->act = act;
    int ks[2] = {d, units}, bs[1] = {units};
    n->p[0] = param(m, name, "kernel", 2, ks, 1, l2);
    n->p[1] = param(m, name, "bias", 1, bs, 1, 0.0f);
    return m->n_nodes - 1;
}

static int dropout_layer(gs_model *m, int in, const char *name, float rate, int ordinal) {
    const gs_node *x = node_at(m, in);
    gs_node *n = add_node(m, NODE_DROPOUT, name, in);
    n->ndim = 2;
    n->shape[0] = x->shape[0];
    n->shape[1] = x->shape[1];
    n->rate = rate;
    n->ordinal = ordinal;
    return m->n_nodes - 1;
}

// One inverted-residual block (Keras mobilenet_v2._inverted_res_block).
static int inverted_res_block(gs_model *m, int in, int expansion, int filters, double alpha,
                              int stride, int block_id) {
    int in_ch = node_at(m, in)->shape[3];
    int pointwise = make_divisible((int)(filters * alpha));
    char prefix[32], name[64];
    if (block_id) snprintf(prefix, sizeof prefix, "block_%d_", block_id);
    else snprintf(prefix, sizeof prefix, "expanded_conv_");
    int x = in;
    if (block_id) {
        snprintf(name, sizeof name, "%sexpand", prefix);
        x = conv_layer(m, x, name, expansion * in_ch, 1, 1);
        snprintf(name, sizeof name, "%sexpand_BN", prefix);
        x = bn_layer(m, x, name, backbone_momentum(m), GS_ACT_RELU6, 1);
    }
    snprintf(name, sizeof name, "%sdepthwise", prefix);
    x = dw_layer(m, x, name, stride);
    snprintf(name, sizeof name, "%sdepthwise_BN", prefix);
    x = bn_layer(m, x, name, backbone_momentum(m), GS_ACT_RELU6, 1);
    snprintf(name, sizeof name, "%sproject", prefix);
    x = conv_layer(m, x, name, pointwise, 1, 1);
    snprintf(name, sizeof name, "%sproject_BN", prefix);
    x = bn_layer(m, x, name, backbone_momentum(m), GS_ACT_NONE, 1);
    if (in_ch == pointwise && stride == 1) {
        snprintf(name, sizeof name, "%sadd", prefix);
        x = add_layer(m, in, x, name);
    }
    return x;
}

static int build(gs_model *m) {
    const gs_model_arch *c = &m->cfg;
    int N = c->batch * c->frames;
    gs_node *inp = add_node(m, NODE_INPUT, "input", -1);
    inp->ndim = 4;
    inp->shape[0] = N, inp->shape[1] = c->size, inp->shape[2] = c->size, inp->shape[3] = 3;
    inp->backbone = 1;

    double a = c->alpha;
    int x = conv_layer(m, 0, "Conv1", make_divisible(32 * a), 3, 2);
    x = bn_layer(m, x, "bn_Conv1", backbone_momentum(m), GS_ACT_RELU6, 1);
    static const int cfg[7][4] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                                  {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
    int block = 0;
    for (int g = 0; g < 7; g++)
        for (int i = 0; i < cfg[g][2]; i++, block++)
            x = inverted_res_block(m, x, cfg[g][0], cfg[g][1], a, i == 0 ? cfg[g][3] : 1, block);
    int last = a > 1.0 ? make_divisible(1280 * a) : 1280;
    x = conv_layer(m, x, "Conv_1", last, 1, 1);
    x = bn_layer(m, x, "Conv_1_bn", backbone_momentum(m), GS_ACT_RELU6, 1);  // out_relu

    // head: TimeDistributed(BN) -> TimeDistributed(GAP) -> Bidirectional(GRU)
    x = bn_layer(m, x, "head_bn", 0.99f, GS_ACT_NONE, 0);
    gs_node *gap = add_node(m, NODE_GAP, "global_average_pooling", x);
    gap->ndim = 2;
    gap->shape[0] = N;
    gap->shape[1] = last;
    x = m->n_nodes - 1;

    int H = c->gru_units;
    gs_node *gru = add_node(m, NODE_BIGRU, "gru", x);
    gru->ndim = 2;
    gru->shape[0] = c->batch;
    gru->shape[1] = 2 * H;
    int ks[2] = {last, 3 * H}, rs[2] = {H, 3 * H}, bs[2] = {2, 3 * H};
    const char *dirs[2] = {"gru_forward", "gru_backward"};
    for (int d = 0; d < 2; d++) {
        gru->p[3 * d + 0] = param(m, dirs[d], "kernel", 2, ks, 1, 0.0f);
        gru->p[3 * d + 1] = param(m, dirs[d], "recurrent_kernel", 2, rs, 1, 0.0f);
        gru->p[3 * d + 2] = param(m, dirs[d], "bias", 2, bs, 1, 0.0f);
    }
    x = m->n_nodes - 1;
    x = dropout_layer(m, x, "dropout", c->dropout, 0);
    x = dense_layer(m, x, "dense_hidden", c->dense_units, GS_ACT_RELU, c->l2);
    x = dropout_layer(m, x, "dropout_1", c->dropout, 1);
    x = dense_layer(m, x, "dense_out", c->classes, GS_ACT_NONE, 0.0f);
    gs_node *loss = add_node(m, NODE_LOSS, "softmax_ce", x);
    loss->ndim = 2;
    loss->shape[0] = c->batch;
    loss->shape[1] = c->classes;
    return 0;
}

static size_t node_numel(const gs_node *n) {
    size_t s = 1;
    for (int i = 0; i < n->ndim; i++) s *= (size_t)n->shape[i];
    return s;
}

// Floats a node saves for its backward pass beyond its output (its op table row says).
static size_t save_numel(const gs_model *m, const gs_node *n) {
    const gs_op_info *op = op_info(n->op);
    return op->save_numel ? op->save_numel(m, n) : 0;
}

static size_t round16(size_t n) { return (n + 15) / 16 * 16; }  // 64-byte aligned offsets

// Gradient buffers by liveness: node i's output gradient is written from the backward of its last
// consumer down to its own backward. Greedy first-fit over intervals in backward time.
static size_t plan_grads(gs_model *m, size_t base) {
    int n = m->n_nodes;
    typedef struct { size_t off, size; int end; } block;  // end: backward step after which it is free
    block *live = gs_calloc((size_t)n, sizeof *live);
    int n_live = 0;
    size_t peak = 0;
    for (int j = n - 1; j >= 0; j--) {  // backward time: node j's backward runs
        // free blocks whose owner finished before this step
        for (int b = 0; b < n_live;)
            if (live[b].end > j) live[b] = live[--n_live];
            else b++;
        // allocate gradients that come alive now: outputs whose last consumer is j
        for (int i = 0; i < j; i++) {
            gs_node *x = &m->nodes[i];
            if (x->last_consumer != j || x->op == NODE_INPUT) continue;
            size_t size = round16(node_numel(x));
            // first fit: lowest offset not overlapping a live block
            size_t off = 0;
            for (int again = 1; again;) {
                again = 0;
                for (int b = 0; b < n_live; b++)
                    if (off < live[b].off + live[b].size && live[b].off < off + size) {
                        off = live[b].off + live[b].size;
                        again = 1;
                    }
            }
            live[n_live++] = (block){off, size, i};
            x->grad_off = base + off;
            if (off + size > peak) peak = off + size;
        }
    }
    free(live);
    return peak;
}

static int validate(const gs_model *m) {
    if (optable_check()) return -1;
    for (int i = 0; i < m->n_nodes; i++) {
        const gs_node *n = &m->nodes[i];
        if ((unsigned)n->op >= NODE_COUNT) return gs_error("graph: node %s has no valid op", n->name);
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] < 0 || n->in[k] >= i) return gs_error("graph: node %s has a bad input", n->name);
        for (int d = 0; d < n->ndim; d++)
            if (n->shape[d] <= 0)
                return gs_error("graph: node %s has an empty output (input size %d too small for this "
                                "network)", n->name, m->cfg.size);
        if (n->op == NODE_ADD && node_numel(&m->nodes[n->in[0]]) != node_numel(&m->nodes[n->in[1]]))
            return gs_error("graph: residual %s adds tensors of different shapes", n->name);
    }
    if (m->nodes[m->n_nodes - 1].op != NODE_LOSS) return gs_error("graph: last node must be the loss");
    return 0;
}

// Each field within the limits of model.h, so that building the graph cannot overflow an int.
static int check_arch(const gs_model_arch *c) {
    static const char *const names[6] = {"size", "frames", "batch", "classes", "gru_units", "dense_units"};
    const int v[6] = {c->size, c->frames, c->batch, c->classes, c->gru_units, c->dense_units};
    const int lo[6] = {32, 1, 1, 2, 1, 1};
    const int hi[6] = {GS_MAX_SIZE, GS_MAX_FRAMES, GS_MAX_BATCH, GS_MAX_CLASSES, GS_MAX_UNITS, GS_MAX_UNITS};
    for (int i = 0; i < 6; i++)
        if (v[i] < lo[i] || v[i] > hi[i])
            return gs_error("model: %s = %d is outside [%d, %d]", names[i], v[i], lo[i], hi[i]);
    if (!(c->alpha > 0 && c->alpha <= GS_MAX_ALPHA))
        return gs_error("model: alpha = %g is outside (0, %g]", (double)c->alpha, GS_MAX_ALPHA);
    if (!(c->dropout >= 0 && c->dropout < 1)) return gs_error("model: dropout = %g is outside [0, 1)", (double)c->dropout);
    if (!(c->l2 >= 0 && isfinite(c->l2))) return gs_error("model: l2 = %g is not a finite number >= 0", (double)c->l2);
    return 0;
}

// The planned parameter and arena sizes, summed in double (no wrap-around) against model.h's bounds,
// before anything is allocated.
static int check_planned_sizes(const gs_model *m) {
    double params = 0, arena = 0;
    for (int i = 0; i < m->params.n; i++) params += (double)m->params.p[i].numel;
    for (int i = 0; i < m->n_nodes; i++) {
        const gs_node *n = &m->nodes[i];
        double numel = 1;
        for (int d = 0; d < n->ndim; d++) numel *= n->shape[d];
        arena += 2 * numel + (double)save_numel(m, n);  // output, saved tensors, at most one gradient
    }
    if (params > GS_MAX_PARAM_FLOATS)
        return gs_error("model: %.3g parameters exceed the limit of %.3g (gru_units, dense_units, classes or alpha "
                        "too large)", params, GS_MAX_PARAM_FLOATS);
    if (arena > GS_MAX_ARENA_FLOATS)
        return gs_error("model: a training step would need %.0f GiB (batch %d x frames %d of %dx%d), over the limit "
                        "of %.0f GiB", arena * 4 / 1073741824.0, m->cfg.batch, m->cfg.frames, m->cfg.size,
                        m->cfg.size, GS_MAX_ARENA_FLOATS * 4 / 1073741824.0);
    return 0;
}

int model_init(gs_model *m, const gs_model_arch *cfg) {
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    if (check_arch(cfg)) return -1;
    params_init(&m->params);
    build(m);
    if (validate(m) || check_planned_sizes(m)) {
        model_free(m);
        return -1;
    }
    params_finalize(&m->params);

    // consumers
    for (int i = 0; i < m->n_nodes; i++)
        for (int k = 0; k < m->nodes[i].n_in; k++) m->nodes[m->nodes[i].in[k]].last_consumer = i;
    // activations and saved tensors: live for the whole step
    size_t off = 0;
    for (int i = 0; i < m->n_nodes; i++) {
        gs_node *n = &m->nodes[i];
        n->out_off = off;
        off += round16(node_numel(n));
        n->save_numel = save_numel(m, n);
        n->save_off = n->save_numel ? off : GS_NO_MEM;
        off += round16(n->save_numel);
        n->grad_off = GS_NO_MEM;
    }
    m->act_floats = off;
    m->grad_floats = plan_grads(m, off);
    m->arena_floats = m->act_floats + m->grad_floats;
    m->arena = NULL;  // allocated on first use (exec_cpu.c): `gesture summary` of a big config needs none
    m->labels = gs_calloc((size_t)cfg->batch, sizeof(int));
    m->cur_batch = cfg->batch;
    return 0;
}

void model_free(gs_model *m) {
    model_exec_free(m);  // and the host arena it runs on
    free(m->nodes);
    free(m->labels);
    params_free(&m->params);
    memset(m, 0, sizeof *m);
}

int model_find_node(const gs_model *m, const char *name) {
    for (int i = 0; i < m->n_nodes; i++)
        if (!strcmp(m->nodes[i].name, name)) return i;
    return -1;
}
