// The inference plan (gesture/plan.h): folding a model's batch norms into its convolutions, the
// buffer plan, and the executor of the backbone (threads over frames or over rows), then the head
// on the reference ops.
#include "gesture/plan.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"
#include "gesture/ops.h"
#include "gesture/optable.h"
#include "gesture/runtime.h"
#include "plan_steps.h"

static const char *const STEP_NAMES[STEP_KINDS] = {"conv KxK + BN (+ReLU6)", "depthwise + BN (+ReLU6)",
                                                   "1x1 conv + BN (+ReLU6/add)", "fused block (1x1, dw, 1x1)"};
// Floats of activations one thread's frame group may hold in its largest buffer: several small
// frames go through each layer together (longer GEMMs), a large frame alone (cache).
#define GROUP_FLOATS (256 * 1024)
#define MAX_GROUP 16

// ---- folding ----

static int consumers(const gs_model *m, int node) {
    int c = 0;
    for (int i = 0; i < m->n_nodes; i++)
        for (int k = 0; k < m->nodes[i].n_in; k++) c += m->nodes[i].in[k] == node;
    return c;
}

static const float *param_of(const gs_plan *p, const gs_node *n, int k) {
    return p->params + p->m->params.p[n->p[k]].offset;
}

// BN scale gamma/sqrt(var+eps) and shift beta - mean*scale, in double as the reference's scale is.
static void bn_affine(const gs_plan *p, const gs_node *bn, double *scale, double *shift, int C) {
    const float *g = param_of(p, bn, 0), *b = param_of(p, bn, 1), *mu = param_of(p, bn, 2), *var = param_of(p, bn, 3);
    for (int c = 0; c < C; c++) {
        scale[c] = g[c] / sqrt((double)var[c] + bn->eps);
        shift[c] = b[c] - mu[c] * scale[c];
    }
}

// Floats of a step's folded weights: the kernel (the 1x1 conv's packed for its tier, twice: the
// folded HWIO copy it is packed from comes first) and the bias, each 64-byte aligned.
static size_t step_weight_floats(const gs_plan *p, const gs_node *n) {
    const gs_node *x = &p->m->nodes[n->in[0]];
    size_t K = (size_t)n->k, ci = (size_t)x->shape[3], co = (size_t)n->shape[3];
    size_t w = n->op == NODE_DWCONV ? K * K * co : K * K * ci * co;
    if (n->op == NODE_PWCONV) w += p->k->pw_packed_floats((int)ci, (int)co);
    return (w + 15) / 16 * 16 + (co + 15) / 16 * 16;
}

// Step from conv node i and the BN after it: weights scaled per output channel, bias = BN shift.
static void fold_step(gs_plan *p, plan_step *s, int i, float *w, double *scale, double *shift) {
    const gs_model *m = p->m;
    const gs_node *n = &m->nodes[i], *x = &m->nodes[n->in[0]], *bn = &m->nodes[i + 1];
    s->kind = n->op == NODE_DWCONV ? STEP_DW : n->op == NODE_PWCONV ? STEP_PW : STEP_CONV;
    s->node = i;
    s->g = (plan_geom){x->shape[1], x->shape[2], x->shape[3], n->shape[1], n->shape[2], n->shape[3],
                       n->k, n->stride, n->pad_top, n->pad_left};
    s->act = bn->act;
    s->in_floats = (size_t)x->shape[1] * x->shape[2] * x->shape[3];
    s->out_floats = (size_t)n->shape[1] * n->shape[2] * n->shape[3];
    int Co = s->g.Co;
    bn_affine(p, bn, scale, shift, Co);
    const float *src = param_of(p, n, 0);
    size_t taps = s->kind == STEP_DW ? (size_t)n->k * n->k : (size_t)n->k * n->k * s->g.Ci;
    for (size_t t = 0; t < taps; t++)
        for (int c = 0; c < Co; c++) w[t * Co + c] = (float)(src[t * Co + c] * scale[c]);
    s->w = s->w_hwio = w;
    if (s->kind == STEP_PW) {
        s->w = w + (taps * Co + 15) / 16 * 16;
        p->k->pw_pack(s->w, w, s->g.Ci, Co);
    }
    s->bias = w + (step_weight_floats(p, n) - (Co + 15) / 16 * 16);
    for (int c = 0; c < Co; c++) s->bias[c] = (float)shift[c];
}

// The steps: every conv with the BN that is its only reader, and the residual add reading that BN.
// value[node] = the step whose output holds the node's value (-1: the input frames).
static int fold_backbone(gs_plan *p, int *value) {
    const gs_model *m = p->m;
    size_t wf = 0;
    for (int i = 0; i < m->n_nodes; i++) {
        gs_node_op op = m->nodes[i].op;
        if (op == NODE_CONV || op == NODE_PWCONV || op == NODE_DWCONV) wf += step_weight_floats(p, &m->nodes[i]);
    }
    p->weights = gs_aligned_alloc((wf + 16) * sizeof(float));
    p->steps = gs_calloc((size_t)m->n_nodes, sizeof *p->steps);
    int maxc = 1;
    for (int j = 0; j < m->n_nodes; j++)
        if (m->nodes[j].ndim == 4 && m->nodes[j].shape[3] > maxc) maxc = m->nodes[j].shape[3];
    double *scale = gs_malloc(sizeof(double) * 2 * (size_t)maxc), *shift = scale + maxc;
    float *w = p->weights;
    int i = 1, rc = 0;
    value[0] = -1;
    while (i < p->gap && rc == 0) {
        const gs_node *n = &m->nodes[i];
        int is_conv = n->op == NODE_CONV || n->op == NODE_PWCONV || n->op == NODE_DWCONV;
        if (n->op == NODE_BN && i + 1 == p->gap && n->act == GS_ACT_NONE) {  // head_bn: after the pooling
            p->C = n->shape[3];
            bn_affine(p, n, scale, shift, p->C);
            p->head_scale = gs_malloc(sizeof(float) * 2 * (size_t)p->C);
            p->head_shift = p->head_scale + p->C;
            for (int c = 0; c < p->C; c++) p->head_scale[c] = (float)scale[c], p->head_shift[c] = (float)shift[c];
            value[i] = value[n->in[0]];
            i++;
            continue;
        }
        const gs_node *bn = i + 1 < m->n_nodes ? &m->nodes[i + 1] : NULL;
        if (!is_conv || !bn || bn->op != NODE_BN || bn->in[0] != i || consumers(m, i) != 1) {
            rc = gs_error("plan: layer %s (%s) is no convolution followed by its batch norm", n->name,
                          op_info(n->op)->name);
            break;
        }
        plan_step *s = &p->steps[p->n_steps];
        fold_step(p, s, i, w, scale, shift);
        w += step_weight_floats(p, n);
        s->in = value[n->in[0]];  // a step index for now; slots are given by plan_buffers
        s->res = -1;
        value[i] = value[i + 1] = p->n_steps;
        i += 2;
        const gs_node *add = i < m->n_nodes ? &m->nodes[i] : NULL;
        if (add && add->op == NODE_ADD && consumers(m, i - 1) == 1 && (add->in[0] == i - 1 || add->in[1] == i - 1)) {
            s->res = value[add->in[add->in[0] == i - 1 ? 1 : 0]];
            if (s->res < 0) {  // the frames themselves: no buffer the epilogue could read
                rc = gs_error("plan: residual %s adds the input frames", add->name);
                break;
            }
            value[i++] = p->n_steps;
        }
        p->n_steps++;
    }
    free(scale);
    if (rc == 0 && (!p->head_scale || p->n_steps == 0))
        rc = gs_error("plan: the model has no head_bn (affine batch norm) right before its pooling");
    return rc;
}

// Buffer slots by liveness: a step's output takes a slot no value still to be read holds. Slot
// sizes are the largest per-frame value each one carries.
static void plan_buffers(gs_plan *p) {
    int n = p->n_steps, *last = gs_malloc(sizeof(int) * (size_t)n), holder[MAX_SLOTS];
    for (int j = 0; j < n; j++) last[j] = j == n - 1 ? n : j;  // the last output is read by the pooling
    for (int j = 0; j < n; j++) {
        if (p->steps[j].in >= 0) last[p->steps[j].in] = j;
        if (p->steps[j].res >= 0) last[p->steps[j].res] = j;
    }
    for (int j = 0; j < n; j++) {  // a fused block reads its input until its last step (plan_block.c)
        const plan_step *st = &p->steps[j];
        if (st->fuse && st->in >= 0 && last[st->in] < j + st->fuse - 1) last[st->in] = j + st->fuse - 1;
    }
    for (int s = 0; s < MAX_SLOTS; s++) holder[s] = -1;
    for (int j = 0; j < n; j++) {
        plan_step *st = &p->steps[j];
        int slot = -1;
        for (int s = 0; s < MAX_SLOTS && slot < 0; s++)
            if (holder[s] < 0 || last[holder[s]] < j) slot = s;
        GS_ASSERT(slot >= 0);  // a chain with residuals holds at most 3 values at once
        holder[slot] = j;
        st->out = slot;
        if (slot + 1 > p->n_slots) p->n_slots = slot + 1;
        if (st->out_floats > p->slot_floats[slot]) p->slot_floats[slot] = st->out_floats;
    }
    for (int j = 0; j < n; j++) {  // step indices -> the slots those steps wrote
        plan_step *st = &p->steps[j];
        if (st->in >= 0) st->in = p->steps[st->in].out;
        if (st->res >= 0) st->res = p->steps[st->res].out;
    }
    size_t most = 0;
    for (int s = 0; s < p->n_slots; s++) most = p->slot_floats[s] > most ? p->slot_floats[s] : most;
    p->group = (int)(GROUP_FLOATS / most);
    p->group = p->group < 1 ? 1 : p->group > MAX_GROUP ? MAX_GROUP : p->group;
    p->thread_floats = 0;
    for (int s = 0; s < p->n_slots; s++) p->thread_floats += (p->slot_floats[s] * p->group + 15) / 16 * 16;
    free(last);
}

// ---- the backbone executor ----

// Output rows [u0, u1) of a KxK or depthwise step over G images, counted image after image.
static void run_rows(const gs_plan *p, const plan_step *s, float *out, const float *in, int u0, int u1) {
    int Ho = s->g.Ho;
    for (int u = u0; u < u1;) {
        int img = u / Ho, y0 = u % Ho, y1 = Ho < y0 + (u1 - u) ? Ho : y0 + (u1 - u);
        float *o = out + (size_t)img * s->out_floats;
        const float *x = in + (size_t)img * s->in_floats;
        if (s->kind == STEP_DW) p->k->dw(o, x, s->w, s->bias, &s->g, y0, y1, s->act);
        else p->k->conv(o, x, s->w, s->bias, &s->g, y0, y1, s->act);
        u += y1 - y0;
    }
}

// G frames through every step, then pooled into feat (G,C). Part `part` of `parts` of each layer's
// work (parts > 1: every thread of the team calls this with its part, in step).
static void run_group(gs_plan *p, float *bufs, const float *frames, float *feat, int G, int part, int parts) {
    for (int j = 0; j < p->n_steps; j++) {
        const plan_step *s = &p->steps[j];
        double t0 = p->profile && part == 0 ? runtime_now() : 0;
        if (s->fuse && !p->unfused) {  // the block's steps in row strips (plan_block.c)
            plan_block_run(p, j, bufs, frames, G, part, parts);
            if (parts > 1) {
#pragma omp barrier
            }
            if (p->profile && part == 0) p->prof[STEP_BLOCK] += runtime_now() - t0;
            j += s->fuse - 1;
            continue;
        }
        const float *in = s->in < 0 ? frames : plan_slot_ptr(p, bufs, s->in);
        float *out = plan_slot_ptr(p, bufs, s->out);
        if (s->kind == STEP_PW) {
            long M = (long)G * s->g.Ho * s->g.Wo, m0 = M * part / parts, m1 = M * (part + 1) / parts;
            const float *res = s->res >= 0 ? plan_slot_ptr(p, bufs, s->res) + (size_t)m0 * s->g.Co : NULL;
            if (m1 > m0)
                p->k->pw(out + (size_t)m0 * s->g.Co, in + (size_t)m0 * s->g.Ci, s->w, s->bias, res, (int)(m1 - m0),
                         s->g.Ci, s->g.Co, s->act);
        } else {
            long U = (long)G * s->g.Ho;
            run_rows(p, s, out, in, (int)(U * part / parts), (int)(U * (part + 1) / parts));
        }
        if (parts > 1) {
#pragma omp barrier
        }
        if (p->profile && part == 0) p->prof[s->kind] += runtime_now() - t0;
    }
    // pooling + head_bn, channels split over the parts
    double t0 = p->profile && part == 0 ? runtime_now() : 0;
    const plan_step *last = &p->steps[p->n_steps - 1];
    const float *x = plan_slot_ptr(p, bufs, last->out);
    int C = p->C, HW = last->g.Ho * last->g.Wo, c0 = C * part / parts, c1 = C * (part + 1) / parts;
    for (int g = 0; g < G; g++) {
        float *f = feat + (size_t)g * C;
        const float *xg = x + (size_t)g * last->out_floats;
        for (int c = c0; c < c1; c++) f[c] = 0.0f;
        for (int q = 0; q < HW; q++)
            for (int c = c0; c < c1; c++) f[c] += xg[(size_t)q * C + c];
        for (int c = c0; c < c1; c++) f[c] = f[c] / (float)HW * p->head_scale[c] + p->head_shift[c];
    }
    if (parts > 1) {
#pragma omp barrier
    }
    if (p->profile && part == 0) p->prof[STEP_KINDS] += runtime_now() - t0;
}

static void ensure_bufs(gs_plan *p, int threads) {
    if (p->threads == threads) return;
    free(p->bufs);
    free(p->strips);
    p->bufs = gs_aligned_alloc((size_t)threads * p->thread_floats * sizeof(float));
    p->strips = p->strip_floats ? gs_aligned_alloc((size_t)threads * p->strip_floats * sizeof(float)) : NULL;
    p->threads = threads;
}

int plan_feature_width(const gs_plan *p) { return p->C; }

// Frames [n0, n0 + n) on `threads` threads, each running whole frames (its own buffers).
static void features_by_frames(gs_plan *p, float *feat, const float *frames, int n0, int n, int threads) {
#pragma omp parallel num_threads(threads)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        int a = n0 + (int)((long)n * t / T), b = n0 + (int)((long)n * (t + 1) / T);
        float *bufs = p->bufs + (size_t)t * p->thread_floats;
        for (int f = a; f < b; f += p->group) {
            int G = b - f < p->group ? b - f : p->group;
            run_group(p, bufs, frames + (size_t)f * p->frame_floats, feat + (size_t)f * p->C, G, 0, 1);
        }
    }
}

void plan_features(gs_plan *p, float *feat, const float *frames, int N) {
    GS_ASSERT(N >= 1);
    int nt = omp_get_max_threads();
    ensure_bufs(p, nt);
    // whole frames per thread while every thread gets one; then, while more than half the threads
    // would have a frame, one frame each; the last few frames split each layer's rows instead
    int whole = N / nt * nt, rest = N - whole;
    if (whole > 0) features_by_frames(p, feat, frames, 0, whole, nt);
    if (2 * rest > nt) {
        features_by_frames(p, feat, frames, whole, rest, rest);
        return;
    }
    for (int n = whole; n < N; n++) {
#pragma omp parallel num_threads(nt)
        run_group(p, p->bufs, frames + (size_t)n * p->frame_floats, feat + (size_t)n * p->C, 1,
                  omp_get_thread_num(), omp_get_num_threads());
    }
}

// ---- the head: the model's nodes after the pooling, on the reference ops ----

static const float *head_in(const gs_plan *p, const gs_node *n) {
    return n->in[0] == p->gap ? p->feat : p->head_out[n->in[0] - p->gap - 1];
}

// Node i of the head over B clips; returns the mean cross-entropy for the loss node (else 0).
static float head_node(gs_plan *p, int i, int B, const int *labels) {
    const gs_model *m = p->m;
    const gs_node *n = &m->nodes[i];
    const gs_model_arch *a = &m->cfg;
    float *out = p->head_out[i - p->gap - 1];
    const float *x = head_in(p, n);
    int D = m->nodes[n->in[0]].shape[1];
    switch (n->op) {
    case NODE_BIGRU: {
        int H = a->gru_units;
        size_t cache = gru_cache_floats(a->batch, a->frames, H);
        // the directions are independent (their own cache, their own half of each output row): one
        // thread each, every value computed as alone
#pragma omp parallel for num_threads(omp_get_max_threads() > 1 ? 2 : 1) schedule(static)
        for (int d = 0; d < 2; d++)
            gru_forward(out + d * H, p->gru_cache + d * cache, x, param_of(p, n, 3 * d), param_of(p, n, 3 * d + 1),
                        param_of(p, n, 3 * d + 2), B, a->frames, D, H, 2 * H, d);
        return 0;
    }
    case NODE_DROPOUT: memcpy(out, x, sizeof(float) * (size_t)B * D); return 0;  // identity at inference
    case NODE_DENSE:
        matmul_forward(out, x, param_of(p, n, 0), param_of(p, n, 1), B, D, n->shape[1]);
        if (n->act == GS_ACT_RELU) relu_forward(out, out, (size_t)B * n->shape[1]);
        return 0;
    case NODE_LOSS: return softmax_ce_forward(out, NULL, x, labels ? labels : p->zero_labels, B, n->shape[1]);
    case NODE_INPUT:
    case NODE_CONV:
    case NODE_PWCONV:
    case NODE_DWCONV:
    case NODE_BN:
    case NODE_ADD:
    case NODE_GAP:
    case NODE_COUNT: break;
    }
    gs_fatal("plan: layer %s (%s) after the pooling has no head kernel", n->name, op_info(n->op)->name);
}

static int check_head(const gs_model *m, int gap) {
    for (int i = gap + 1; i < m->n_nodes; i++) {
        const gs_node *n = &m->nodes[i];
        if (n->op != NODE_BIGRU && n->op != NODE_DROPOUT && n->op != NODE_DENSE && n->op != NODE_LOSS)
            return gs_error("plan: layer %s (%s) after the pooling has no head kernel", n->name, op_info(n->op)->name);
        if (n->in[0] <= gap - 1 || n->n_in != 1) return gs_error("plan: layer %s reads the backbone", n->name);
    }
    return 0;
}

void plan_forward(gs_plan *p, float *probs, float loss[2], const float *clips, const int *labels, int B) {
    const gs_model *m = p->m;
    GS_ASSERT(B >= 1 && B <= m->cfg.batch);
    plan_features(p, p->feat, clips, B * m->cfg.frames);
    double t0 = p->profile ? runtime_now() : 0;
    float ce = 0;
    for (int i = p->gap + 1; i < m->n_nodes; i++) ce += head_node(p, i, B, labels);
    if (p->profile) p->prof[STEP_KINDS + 1] += runtime_now() - t0;
    memcpy(probs, p->head_out[m->n_nodes - p->gap - 2], sizeof(float) * (size_t)B * m->cfg.classes);
    if (!loss) return;
    loss[0] = labels ? ce : 0.0f;
    loss[1] = plan_l2_penalty(p);
}

float plan_l2_penalty(const gs_plan *p) { return p->l2; }

// ---- building, freeing, reporting ----

int plan_build(gs_plan **out, const gs_model *m) {
    *out = NULL;
    gs_plan *p = gs_calloc(1, sizeof *p);
    p->m = m;
    p->k = plan_kernels_pick();
    p->gap = model_find_node(m, "global_average_pooling");
    if (p->gap < 0 || m->nodes[p->gap].op != NODE_GAP) {
        free(p);
        return gs_error("plan: the model has no global_average_pooling layer");
    }
    p->params = gs_malloc(sizeof(float) * (m->params.numel ? m->params.numel : 1));
    memcpy(p->params, m->params.data, sizeof(float) * m->params.numel);
    for (int i = 0; i < m->params.n; i++) {  // of the snapshot, which no call changes: once
        const gs_param *q = &m->params.p[i];
        if (q->l2 > 0) p->l2 += l2_forward(p->params + q->offset, q->numel, q->l2);
    }
    int *value = gs_malloc(sizeof(int) * (size_t)m->n_nodes);
    int rc = check_head(m, p->gap) ? -1 : fold_backbone(p, value);
    free(value);
    if (rc) {
        plan_free(p);
        return -1;
    }
    plan_blocks_mark(p);
    plan_buffers(p);
    p->frame_floats = (size_t)m->cfg.size * m->cfg.size * 3;
    const gs_model_arch *a = &m->cfg;
    p->feat = gs_malloc(sizeof(float) * (size_t)a->batch * a->frames * p->C);
    p->gru_cache = gs_malloc(sizeof(float) * 2 * gru_cache_floats(a->batch, a->frames, a->gru_units));
    p->zero_labels = gs_calloc((size_t)a->batch, sizeof(int));
    int nh = m->n_nodes - p->gap - 1;
    p->head_out = gs_calloc((size_t)(nh > 0 ? nh : 1), sizeof(float *));
    for (int i = 0; i < nh; i++) {
        const gs_node *n = &m->nodes[p->gap + 1 + i];
        p->head_out[i] = gs_malloc(sizeof(float) * (size_t)n->shape[0] * n->shape[1]);
    }
    *out = p;
    return 0;
}

void plan_free(gs_plan *p) {
    if (!p) return;
    if (p->head_out)
        for (int i = 0; i < p->m->n_nodes - p->gap - 1; i++) free(p->head_out[i]);
    free(p->head_out);
    free(p->feat);
    free(p->gru_cache);
    free(p->zero_labels);
    free(p->bufs);
    free(p->strips);
    free(p->head_scale);
    free(p->weights);
    free(p->steps);
    free(p->params);
    free(p);
}

void plan_set_profile(gs_plan *p, int on) { p->profile = on; }

void plan_set_fused_blocks(gs_plan *p, int on) { p->unfused = !on; }

void plan_print_profile(const gs_plan *p, FILE *f) {
    double total = 0;
    for (int k = 0; k <= STEP_KINDS + 1; k++) total += p->prof[k];
    fprintf(f, "%-30s %10s %7s   (%s kernels, thread 0, %d frame(s) per group)\n", "plan step", "seconds", "share",
            p->k->name, p->group);
    for (int k = 0; k <= STEP_KINDS + 1; k++)
        fprintf(f, "%-30s %10.3f %6.1f%%\n",
                k < STEP_KINDS ? STEP_NAMES[k] : k == STEP_KINDS ? "pooling + head_bn" : "BiGRU + dense head (all)",
                p->prof[k], total > 0 ? 100 * p->prof[k] / total : 0.0);
}

const char *plan_kernels_name(void) { return plan_kernels_pick()->name; }

// ---- the device executor's view ----

int plan_layer_count(const gs_plan *p) { return p->n_steps; }

void plan_layer(const gs_plan *p, int j, gs_plan_layer *l) {
    GS_ASSERT(j >= 0 && j < p->n_steps);
    const plan_step *s = &p->steps[j];
    const plan_geom *g = &s->g;
    *l = (gs_plan_layer){s->kind, g->H,   g->W,   g->Ci,   g->Ho,     g->Wo,     g->Co,   g->K,
                         g->stride, g->pad_top, g->pad_left, s->act, s->in, s->out, s->res, s->w_hwio,
                         s->bias, p->m->nodes[s->node].name};
}

int plan_slot_count(const gs_plan *p) { return p->n_slots; }

size_t plan_slot_floats(const gs_plan *p, int slot) {
    GS_ASSERT(slot >= 0 && slot < p->n_slots);
    return p->slot_floats[slot];
}

void plan_head_affine(const gs_plan *p, const float **scale, const float **shift) {
    *scale = p->head_scale;
    *shift = p->head_shift;
}

const gs_model *plan_model(const gs_plan *p) { return p->m; }

int plan_pool_node(const gs_plan *p) { return p->gap; }

const float *plan_params(const gs_plan *p) { return p->params; }
