// The one walker over the planned graph (gesture/exec.h): every backend's forward, backward and
// Adam step go through here; a backend only supplies kernels and memory.
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"
#include "gesture/exec.h"
#include "gesture/ops.h"
#include "gesture/optable.h"
#include "gesture/rng.h"
#include "gesture/runtime.h"

// Rows of a node's output for the current batch: the leading dim scales with clips in the step.
static int rows(const gs_model *m, const gs_node *n) { return n->shape[0] / m->cfg.batch * m->cur_batch; }

static size_t row_numel(const gs_node *n) {
    size_t s = 1;
    for (int i = 1; i < n->ndim; i++) s *= (size_t)n->shape[i];
    return s;
}

static float *at(const gs_exec *e, size_t off) { return off == GS_NO_MEM ? NULL : e->arena + off; }

int exec_check(const gs_exec *e) {
    // the op table's own order was checked by model_init (validate), which made e->m
    const gs_op_kernels *k = e->be->kernels;
    for (int i = 0; i < NODE_COUNT; i++)
        if (k[i].op != (gs_node_op)i)
            return gs_error("%s backend: kernel row %d holds op %s (rows must follow the gs_node_op enum)",
                            e->be->name, i, op_info(k[i].op)->name);
    for (int i = 0; i < e->m->n_nodes; i++) {
        const gs_node *n = &e->m->nodes[i];
        if (!k[n->op].forward || !k[n->op].backward)
            return gs_error("the %s backend has no %s op (layer %s)", e->be->name, op_info(n->op)->name, n->name);
        if (n->op == NODE_DROPOUT && (n->ordinal < 0 || n->ordinal >= GS_MAX_DROPOUT))
            return gs_error("layer %s: dropout ordinal %d outside [0, %d)", n->name, n->ordinal, GS_MAX_DROPOUT);
    }
    return 0;
}

// Floats of the frames of one time step of BN node n at the planned batch (B*H*W*C).
static size_t bn_step_floats(const gs_model *m, const gs_node *n) {
    GS_ASSERT(n->op == NODE_BN && n->shape[0] % m->cfg.frames == 0);
    return (size_t)(n->shape[0] / m->cfg.frames) * row_numel(n);
}

// The kernel's own scratch for node n, rounded to 16 floats: a keras3 BN's step buffers follow it.
static size_t own_work_floats(const gs_exec *e, const gs_node *n) {
    const gs_op_kernels *k = &e->be->kernels[n->op];
    return ((k->work ? k->work(e->m, n) : 0) + 15) / 16 * 16;
}

// Whether a training call of node n runs per time step (model.bn_time = keras3; bn_steps_forward).
static int per_step(const gs_model_arch *a, const gs_node *n) {
    return n->op == NODE_BN && exec_bn_steps(a) > 1;
}

size_t exec_node_work_floats(const gs_exec *e, const gs_node *n) {
    size_t w = own_work_floats(e, n);
    if (per_step(&e->m->cfg, n) && !e->be->bn_rows) w += 4 * bn_step_floats(e->m, n);  // bn_steps.buf
    return w;
}

size_t exec_work_floats(const gs_exec *e) {
    size_t most = 0;
    for (int i = 0; i < e->m->n_nodes; i++) {
        size_t w = exec_node_work_floats(e, &e->m->nodes[i]);
        if (w > most) most = w;
    }
    return most;
}

static void call_init(gs_op_call *c, const gs_exec *e, const gs_node *n) {
    const gs_model *m = e->m;
    memset(c, 0, sizeof *c);
    c->n = n;
    c->arch = &m->cfg;
    for (int k = 0; k < n->n_in; k++) {
        const gs_node *x = &m->nodes[n->in[k]];
        c->x[k] = x;
        c->in[k] = at(e, x->out_off);
        c->din[k] = at(e, x->grad_off);
    }
    c->out = at(e, n->out_off);
    c->dout = at(e, n->grad_off);
    c->save = at(e, n->save_off);
    for (int k = 0; k < 8; k++) {
        if (n->p[k] < 0) continue;
        const gs_param *p = &m->params.p[n->p[k]];
        c->p[k] = e->params + p->offset;
        c->g[k] = p->trainable ? e->grad + p->offset : NULL;
    }
    c->rows = rows(m, n);
    c->numel = (size_t)c->rows * row_numel(n);
    c->batch = m->cur_batch;
    c->labels = e->labels;
    c->state = e->state;
    c->ce_loss = e->loss;
    c->work = e->work;
    c->dist = e->dist;
}

// ---- model.bn_time = keras3: a training BN node per time step (gesture/exec.h) ----
// The node's kernel (the keras2 op) runs on step t's frames (rows b*T + t) with slot t of the saved
// statistics: in place, as segments of rows, where the backend's BN kernels take them (bn_rows);
// else gathered into contiguous scratch after the kernel's own work, and what it wrote scattered
// back. With one clip a step's frames are contiguous already and are used in place. The moving averages are updated once per step, in time
// order; with sync_bn every rank takes part in one reduction per step, in the same order.
typedef struct {
    int T, clips;        // time steps, clips in this call
    size_t frame, step;  // floats of one frame, of one step's frames
    float *buf;          // 4 step buffers
} bn_steps;

static bn_steps steps_of(const gs_exec *e, const gs_op_call *c) {
    bn_steps s;
    s.T = exec_bn_steps(c->arch);
    GS_ASSERT(c->rows % s.T == 0 && c->work);
    s.clips = c->rows / s.T;
    s.frame = c->rows ? c->numel / (size_t)c->rows : 0;
    s.step = (size_t)s.clips * s.frame;
    s.buf = c->work + own_work_floats(e, c->n);
    return s;
}

// Step t of src (clips*T frames) as one block: src's own frames with one clip, else copied into buf.
static float *step_gather(const gs_exec *e, float *buf, const float *src, const bn_steps *s, int t) {
    if (s->clips <= 1) return (float *)src + (size_t)t * s->frame;  // 0: a rank without clips reads none
    e->be->copy_rows(buf, s->frame, src + (size_t)t * s->frame, s->T * s->frame, s->frame, (size_t)s->clips);
    return buf;
}

// The block a step_gather returned, back into step t of dst (nothing to do when it was dst's own).
static void step_scatter(const gs_exec *e, float *dst, const float *blk, const bn_steps *s, int t) {
    if (s->clips <= 1) return;
    e->be->copy_rows(dst + (size_t)t * s->frame, s->T * s->frame, blk, s->frame, s->frame, (size_t)s->clips);
}

// The call for step t: its rows and statistics slot (pointers to its frames are set by the caller).
static gs_op_call step_call(const gs_op_call *c, const bn_steps *s, int t) {
    gs_op_call sc = *c;
    int C = c->n->shape[c->n->ndim - 1];
    sc.rows = s->clips;
    sc.numel = s->step;
    sc.save = c->save + (size_t)2 * C * t;
    return sc;
}

// Step t's call in place: every operand from step t's first frame, its rows in segments of a frame.
static gs_op_call step_call_rows(const gs_op_call *c, const bn_steps *s, int t) {
    gs_op_call sc = step_call(c, s, t);
    int C = c->n->shape[c->n->ndim - 1], frame_rows = (int)(s->frame / (size_t)C);
    size_t off = (size_t)t * s->frame;
    sc.bn_at = (bn_rows){frame_rows, s->T * frame_rows};
    sc.in[0] = c->in[0] + off;
    sc.out = c->out + off;
    if (c->dout) sc.dout = c->dout + off;
    if (c->din[0]) sc.din[0] = c->din[0] + off;
    return sc;
}

static void bn_steps_forward(const gs_exec *e, const gs_op_call *c) {
    bn_steps s = steps_of(e, c);
    GS_ASSERT(c->save);
    for (int t = 0; t < s.T; t++) {
        if (e->be->bn_rows) {
            gs_op_call sc = step_call_rows(c, &s, t);
            e->be->kernels[NODE_BN].forward(&sc);
            continue;
        }
        gs_op_call sc = step_call(c, &s, t);
        sc.in[0] = step_gather(e, s.buf, c->in[0], &s, t);
        sc.out = s.clips <= 1 ? c->out + (size_t)t * s.frame : s.buf + s.step;
        e->be->kernels[NODE_BN].forward(&sc);
        step_scatter(e, c->out, sc.out, &s, t);
    }
}

// gamma/beta gradients add up over the steps (the kernel accumulates); dinp is gathered, added to and
// scattered back, as the kernel accumulates into it.
static void bn_steps_backward(const gs_exec *e, const gs_op_call *c) {
    bn_steps s = steps_of(e, c);
    for (int t = 0; t < s.T; t++) {
        if (e->be->bn_rows) {
            gs_op_call sc = step_call_rows(c, &s, t);
            e->be->kernels[NODE_BN].backward(&sc);
            continue;
        }
        gs_op_call sc = step_call(c, &s, t);
        sc.in[0] = step_gather(e, s.buf, c->in[0], &s, t);
        sc.out = step_gather(e, s.buf + s.step, c->out, &s, t);
        sc.dout = step_gather(e, s.buf + 2 * s.step, c->dout, &s, t);
        sc.din[0] = c->din[0] ? step_gather(e, s.buf + 3 * s.step, c->din[0], &s, t) : NULL;
        e->be->kernels[NODE_BN].backward(&sc);
        if (sc.din[0]) step_scatter(e, c->din[0], sc.din[0], &s, t);
    }
}

void exec_call_forward(const gs_exec *e, const gs_op_call *c) {
    if (c->training && per_step(c->arch, c->n)) bn_steps_forward(e, c);
    else e->be->kernels[c->n->op].forward(c);
}

void exec_call_backward(const gs_exec *e, const gs_op_call *c) {
    if (per_step(c->arch, c->n)) bn_steps_backward(e, c);
    else e->be->kernels[c->n->op].backward(c);
}

// A data-parallel rank without clips in this step (cur_batch 0) runs only the BN nodes, whose
// synchronized statistics every rank must take part in; the other nodes have no rows.
static int skip_node(const gs_exec *e, const gs_node *n) { return e->m->cur_batch == 0 && n->op != NODE_BN; }

// Per-op wall time when m->profile is set (the backend's queue is drained around each op).
static double tick(const gs_exec *e) {
    if (!e->m->profile) return 0;
    if (e->be->sync) e->be->sync();
    return runtime_now();
}

static void range_push(const gs_exec *e, const char *name) {
    if (e->be->range_push) e->be->range_push(name);
}

static void range_pop(const gs_exec *e) {
    if (e->be->range_pop) e->be->range_pop();
}

// Host side of a forward; training: the next step's dropout keys into state_host (not yet published).
static void begin(gs_exec *e, int batch, int training, int have_labels) {
    gs_model *m = e->m;
    GS_ASSERT((batch >= 1 || (batch == 0 && e->dist && training)) && batch <= m->cfg.batch);
    m->cur_batch = batch;
    e->have_labels = have_labels;
    if (!training) return;
    m->step++;  // dropout masks of this step use the new value (backward too)
    for (int i = 0; i < m->n_nodes; i++)
        if (m->nodes[i].op == NODE_DROPOUT)
            e->state_host.dropout_key[m->nodes[i].ordinal] = gs_key(m->seed, (uint64_t)m->nodes[i].ordinal,
                                                                    (uint64_t)m->step);
}

// Forward kernels of nodes [from, to).
static void walk_forward(gs_exec *e, int from, int to, int training, int have_labels) {
    gs_model *m = e->m;
    for (int i = from; i < to; i++) {
        const gs_node *n = &m->nodes[i];
        if (skip_node(e, n)) continue;
        gs_op_call c;
        call_init(&c, e, n);
        c.training = training;
        c.have_labels = have_labels;
        double t0 = tick(e);
        range_push(e, n->name);
        exec_call_forward(e, &c);
        range_pop(e);
        if (m->profile) m->op_seconds[n->op][0] += tick(e) - t0;
    }
}

void exec_forward_queue(gs_exec *e, int training, int have_labels) {
    gs_model *m = e->m;
    range_push(e, "forward");
    if (m->cur_batch == 0) e->be->zero(e->loss, 1);  // no rows: no cross-entropy (the loss node is skipped)
    walk_forward(e, 0, m->n_nodes, training, have_labels);
    e->be->zero(e->loss + 1, 1);
    for (int i = 0; i < m->params.n; i++) {
        const gs_param *p = &m->params.p[i];
        if (p->l2 > 0) e->be->l2_forward(e->loss + 1, e->params + p->offset, p->numel, p->l2);
    }
    range_pop(e);
}

void exec_forward(gs_exec *e, int batch, int training, int have_labels) {
    begin(e, batch, training, have_labels);
    if (training) e->be->publish_state(e);
    exec_forward_queue(e, training, have_labels);
}

void exec_forward_nodes(gs_exec *e, int batch, int from, int to) {
    GS_ASSERT(from >= 0 && from <= to && to <= e->m->n_nodes);
    begin(e, batch, 0, 0);
    range_push(e, "forward_nodes");
    walk_forward(e, from, to, 0, 0);
    range_pop(e);
}

// Data-parallel gradient buckets (gs_exec_dist.bucket_floats): backward finishes the parameters from
// the last node to the first, and the trainable parameters lie in the gradient buffer in node order, so
// what is finished is always a tail [ready, end) of it. Each bucket is the finished part not yet
// summed; it is queued once it is big enough, and its sum runs while backward goes on.
typedef struct {
    const gs_reducer *r;
    size_t min_floats;
    char *done;      // (params.n) 1 once the parameter's gradient is final
    int frontier;    // every trainable parameter above this index is final
    size_t summed;   // the gradient buffer from here to its end is summed or queued
} grad_buckets;

static int buckets_init(grad_buckets *b, const gs_exec *e) {
    const gs_params *ps = &e->m->params;
    const gs_exec_dist *d = e->dist;
    if (!d || !d->grads || !d->grads->sum_f32_async || !d->bucket_floats) return 0;
    size_t prev = 0;
    for (int i = 0; i < ps->n; i++) {  // trainable offsets must grow with the index for the tail rule
        if (!ps->p[i].trainable) continue;
        if (ps->p[i].offset < prev) return 0;
        prev = ps->p[i].offset + ps->p[i].numel;
    }
    *b = (grad_buckets){d->grads, d->bucket_floats, gs_calloc((size_t)ps->n, 1), ps->n - 1, ps->numel_trainable};
    return 1;
}

// Node n's parameters are final: queue the finished tail when it is a bucket's worth (last: all of it).
static void buckets_node_done(grad_buckets *b, gs_exec *e, const gs_node *n, int last) {
    const gs_params *ps = &e->m->params;
    for (int k = 0; k < 8; k++)
        if (n->p[k] >= 0) b->done[n->p[k]] = 1;
    while (b->frontier >= 0 && (!ps->p[b->frontier].trainable || b->done[b->frontier])) b->frontier--;
    size_t ready = b->frontier < 0 ? 0 : ps->p[b->frontier].offset + ps->p[b->frontier].numel;
    if (ready < b->summed && (last || b->summed - ready >= b->min_floats)) {
        b->r->sum_f32_async(b->r->ctx, e->grad + ready, b->summed - ready);
        b->summed = ready;
    }
}

// The L2 penalty's gradient of node n's parameters (data-parallel: one rank adds it, before the sum).
static void l2_node(gs_exec *e, const gs_node *n) {
    if (e->dist && !e->dist->l2_grad) return;
    for (int k = 0; k < 8; k++) {
        if (n->p[k] < 0) continue;
        const gs_param *p = &e->m->params.p[n->p[k]];
        if (p->trainable && p->l2 > 0) e->be->l2_backward(e->grad + p->offset, e->params + p->offset, p->numel, p->l2);
    }
}

void exec_backward(gs_exec *e) {
    gs_model *m = e->m;
    range_push(e, "backward");
    e->be->zero(e->grad, m->params.numel_trainable);
    grad_buckets bk = {0};
    int bucketed = buckets_init(&bk, e);
    for (int j = m->n_nodes - 1; j >= 0; j--) {
        const gs_node *n = &m->nodes[j];
        // gradients that come alive at this step start from zero (ops accumulate), or are written
        // whole by a kernel that overwrites them
        int fresh[2] = {0, 0};
        for (int k = 0; k < n->n_in; k++) {
            const gs_node *x = &m->nodes[n->in[k]];
            if (x->last_consumer != j || x->grad_off == GS_NO_MEM) continue;
            int twice = n->n_in == 2 && n->in[0] == n->in[1];  // both of its gradients land in one buffer
            if (e->be->kernels[n->op].din_overwrite && !skip_node(e, n) && !twice) fresh[k] = 1;
            else e->be->zero(e->arena + x->grad_off, (size_t)rows(m, x) * row_numel(x));
        }
        if (!skip_node(e, n)) {
            gs_op_call c;
            call_init(&c, e, n);
            c.din_fresh[0] = fresh[0];
            c.din_fresh[1] = fresh[1];
            c.training = 1;
            c.have_labels = 1;
            double t0 = tick(e);
            range_push(e, n->name);
            exec_call_backward(e, &c);
            range_pop(e);
            if (m->profile) m->op_seconds[n->op][1] += tick(e) - t0;
        }
        l2_node(e, n);
        if (bucketed) buckets_node_done(&bk, e, n, j == 0);
    }
    if (bucketed) {
        bk.r->join(bk.r->ctx);
        free(bk.done);
    } else if (e->dist && e->dist->grads) {  // data-parallel: every rank's gradients, summed, before Adam
        range_push(e, "gradient allreduce");
        e->dist->grads->sum_f32(e->dist->grads->ctx, e->grad, m->params.numel_trainable);
        range_pop(e);
    }
    range_pop(e);
}

static void adam_set(gs_exec *e, float lr, float beta1, float beta2) {
    e->m->adam_t++;
    e->state_host.adam_alpha = adam_step_size(lr, beta1, beta2, e->m->adam_t);
}

void exec_adam_begin(gs_exec *e, float lr, float beta1, float beta2) {
    adam_set(e, lr, beta1, beta2);
    e->be->publish_state(e);
}

void exec_adam_queue(gs_exec *e, float lr, float beta1, float beta2, float eps) {
    range_push(e, "adam");
    e->be->adam(e, lr, beta1, beta2, eps, e->m->adam_t);
    range_pop(e);
}

void exec_train_begin(gs_exec *e, int batch, float lr, float beta1, float beta2) {
    begin(e, batch, 1, 1);
    adam_set(e, lr, beta1, beta2);
    e->be->publish_state(e);
}

void exec_read_loss(gs_exec *e) {
    float l[2];
    e->be->read_loss(e, l);
    gs_model *m = e->m;
    m->ce_loss = e->have_labels ? l[0] : 0.0f;
    m->l2_loss = l[1];
    m->loss = m->ce_loss + m->l2_loss;
}
