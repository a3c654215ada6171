// model.bn_time = keras3 on the GPU executor (cuda/exec_cuda.cu; the walker gathers each time step's
// frames with one strided copy) against the CPU executor (src/model/exec_cpu.c), as
// tests/test_cuda_model.c compares them under keras2:
//  - the walker's per-call entries (exec_call_forward/backward) on hand-made op calls of odd sizes, GPU
//    backend against CPU backend: several clips
//    (gathered), one clip (each step's frames used in place), sync_bn (one reduction per time step each
//    way): output, saved per-step statistics, moving averages, dinp, dgamma, dbeta;
//  - a small model (alpha 0.35, 64x64 frames, T=3, B=4, dropout off) from the same weights and inputs:
//    training forward (every node's output, the statistics each BN saved, the moving averages after T
//    updates, the loss) and every parameter gradient (the backward from the CPU's forward state: ReLU6
//    kinks, see test_cuda_model.c). At 32x32, or with one clip, the last blocks' per-step statistics
//    come from 4 values or fewer, and float rounding differences grow past 1e-4 there by the head;
//  - three full train steps replayed as a CUDA graph against the same steps run eagerly: bitwise (the
//    strided copies are captured like the kernels).
// Exits 77 (ctest SKIP) without the CUDA backend or a device.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#ifndef GESTURE_WITH_CUDA
int main(void) { test_skip("CUDA backend not built (configure with -DGESTURE_CUDA=ON): skipped"); }
#else

#include "cuda_testutil.h"
#include "gesture/model.h"
#include "gesture/model_cuda.h"

// One training forward + backward on both executors from the same parameters, `batch` clips.
static void compare_step(gs_model *m, gs_model_cuda *g, int batch) {
    const gs_params *ps = &m->params;
    char name[160];
    float *start = gs_malloc(ps->numel * sizeof(float));
    memcpy(start, ps->data, ps->numel * sizeof(float));
    gs_cuda_upload(g->e.params, ps->data, ps->numel * sizeof(float));
    long step0 = m->step;
    model_forward(m, batch, 1, 1);
    float *cpu_act = gs_malloc(m->arena_floats * sizeof(float));
    memcpy(cpu_act, m->arena, m->arena_floats * sizeof(float));
    model_backward(m);
    float cpu_loss = m->loss;
    m->step = step0;
    model_cuda_forward(g, batch, 1, 1);
    model_cuda_read_loss(g);
    snprintf(name, sizeof name, "%d clip%s: loss", batch, batch == 1 ? "" : "s");
    check_close_f32(name, &m->loss, &cpu_loss, 1, TOL_FWD);

    float *act = gs_malloc(m->arena_floats * sizeof(float));
    gs_cuda_download(act, g->e.arena, m->arena_floats * sizeof(float));
    for (int j = 1; j < m->n_nodes; j++) {
        const gs_node *n = &m->nodes[j];
        size_t cnt = (size_t)n->shape[0] / m->cfg.batch * batch;
        for (int d = 1; d < n->ndim; d++) cnt *= (size_t)n->shape[d];
        snprintf(name, sizeof name, "%d clip%s: forward %s", batch, batch == 1 ? "" : "s", n->name);
        compare_floor(name, act + n->out_off, cpu_act + n->out_off, cnt, TOL_FWD, 1e-3);
        if (n->op == NODE_BN) {  // per-step means and 1/std, T slots
            snprintf(name, sizeof name, "%d clip%s: %s saved statistics (%d steps)", batch, batch == 1 ? "" : "s",
                     n->name, m->cfg.frames);
            compare_floor(name, act + n->save_off, cpu_act + n->save_off, n->save_numel, TOL_FWD, 1e-3);
        }
    }
    float *gparams = gs_malloc(ps->numel * sizeof(float));
    gs_cuda_download(gparams, g->e.params, ps->numel * sizeof(float));
    for (int i = 0; i < ps->n; i++) {
        const gs_param *p = &ps->p[i];
        if (p->trainable) continue;
        snprintf(name, sizeof name, "%d clip%s: %s after %d updates", batch, batch == 1 ? "" : "s", p->name,
                 m->cfg.frames);
        compare_floor(name, gparams + p->offset, params_ptr(ps, i), p->numel, TOL_FWD, 1e-3);
    }

    gs_cuda_upload(g->e.arena, cpu_act, m->arena_floats * sizeof(float));  // the CPU's forward state
    model_cuda_backward(g);
    float *ggrad = gs_malloc(ps->numel_trainable * sizeof(float));
    gs_cuda_download(ggrad, g->e.grad, ps->numel_trainable * sizeof(float));
    snprintf(name, sizeof name, "%d clip%s: ", batch, batch == 1 ? "" : "s");
    compare_grads(ps, ggrad, name);
    memcpy(ps->data, start, ps->numel * sizeof(float));  // the next comparison from the same start
    free(start), free(cpu_act), free(act), free(gparams), free(ggrad);
}

// Three full-batch train steps on a fresh executor, eager or replayed as a CUDA graph; the parameters
// (moving statistics included) and Adam moments after them into out.
static void three_steps(float *out, gs_model *m, const float *x, const int *labels, int graph) {
    const gs_params *ps = &m->params;
    gs_model_cuda g;
    if (model_cuda_init(&g, m)) gs_fatal("model_cuda_init: %s", gs_last_error());
    model_cuda_set_graph(&g, graph);
    const gs_model_arch *a = &m->cfg;
    gs_cuda_upload(model_cuda_input(&g), x, (size_t)a->batch * a->frames * a->size * a->size * 3 * sizeof(float));
    model_cuda_set_labels(&g, labels, a->batch);
    for (int k = 0; k < 3; k++)  // the first step warms up (eager), the next ones capture and replay
        model_cuda_train_step(&g, m->cfg.batch, 1e-3f, 0.9f, 0.999f, 1e-7f);
    model_cuda_read_loss(&g);
    check(!graph || g.graph_launches == 2, "CUDA graph: %ld replays", (long)g.graph_launches);
    gs_cuda_download(out, g.e.params, ps->numel * sizeof(float));
    gs_cuda_download(out + ps->numel, g.e.adam_m, ps->numel_trainable * sizeof(float));
    model_cuda_free(&g);
}

// ---- the BN kernel rows on hand-made op calls of odd sizes: GPU row against CPU row ----

static int sums;
static void sum_count(void *ctx, double *v, size_t n) {  // one rank: the sum is the value itself
    (void)ctx, (void)v, (void)n;
    sums++;
}
static const gs_reducer ONE_RANK = {.sum = sum_count};

typedef struct {
    int clips, T, H, W, C, act, sync;
} op_case;

// Forward + backward of one BN node under keras3 on both rows from the same host data.
static void op_compare(const gs_backend *cpu, const gs_backend *gpu, const op_case *k) {
    gs_node xn = {.op = NODE_CONV, .ndim = 4, .shape = {k->clips * k->T, k->H, k->W, k->C}};
    gs_node n = xn;
    n.op = NODE_BN, n.eps = 1e-3f, n.momentum = 0.9f, n.act = k->act;
    gs_model mm = {.cfg = {.frames = k->T, .batch = k->clips, .bn_time = GS_BN_TIME_KERAS3}};
    size_t C = (size_t)k->C, N = (size_t)k->clips * k->T * k->H * k->W * C, S = 2 * C * k->T;
    // host: x, dy, dx (accumulated into), gamma, beta, moving mean/var, dgamma/dbeta (accumulated)
    float *h[9] = {hrand(N, -1, 3), hrand(N, -1, 1), hrand(N, -0.5f, 0.5f), hrand(C, 0.5f, 1.5f),
                   hrand(C, -0.5f, 1), hrand(C, -0.5f, 0.5f), hrand(C, 0.5f, 1.5f), hrand(C, -0.1f, 0.1f),
                   hrand(C, -0.1f, 0.1f)};
    size_t len[9] = {N, N, N, C, C, C, C, C, C};
    float *c[9], *d[9];
    for (int i = 0; i < 9; i++) c[i] = hcopy(h[i], len[i]), d[i] = dev(h[i], len[i]);
    float *cy = hrand(N, 0, 0), *csave = hrand(S, 0, 0), *gy = dev_nan(N), *dsave = dev_nan(S);
    gs_exec_dist dist = {.loss_scale = 1.0f, .bn = &ONE_RANK};
    gs_op_call call = {.n = &n, .arch = &mm.cfg, .x = {&xn}, .rows = k->clips * k->T, .numel = N,
                       .batch = k->clips, .training = 1, .have_labels = 1, .dist = k->sync ? &dist : NULL};
    gs_op_call cc = call, gc = call;
    cc.in[0] = c[0], cc.dout = c[1], cc.din[0] = c[2], cc.out = cy, cc.save = csave;
    gc.in[0] = d[0], gc.dout = d[1], gc.din[0] = d[2], gc.out = gy, gc.save = dsave;
    for (int i = 0; i < 4; i++) cc.p[i] = c[3 + i], gc.p[i] = d[3 + i];
    cc.g[0] = c[7], cc.g[1] = c[8], gc.g[0] = d[7], gc.g[1] = d[8];
    gs_exec ce = {.be = cpu, .m = &mm}, ge = {.be = gpu, .m = &mm};  // the walker's per-call entries
    cc.work = test_work(exec_node_work_floats(&ce, &n));
    gc.work = dev_nan(exec_node_work_floats(&ge, &n));
    exec_call_forward(&ce, &cc);
    exec_call_backward(&ce, &cc);
    sums = 0;
    exec_call_forward(&ge, &gc);
    exec_call_backward(&ge, &gc);
    gs_cuda_sync();
    char what[160], tag[96];
    snprintf(tag, sizeof tag, "keras3 BN row, %d clip%s x %d steps of %dx%dx%d, act %d%s", k->clips,
             k->clips == 1 ? "" : "s", k->T, k->H, k->W, k->C, k->act, k->sync ? ", sync_bn" : "");
    if (k->sync) check(sums == 2 * k->T, "%s: %d reductions (one per time step each way)", tag, sums);
    const char *names[] = {"output", "saved statistics", "dinp", "moving mean", "moving variance", "dgamma", "dbeta"};
    const float *got[] = {gy, dsave, d[2], d[5], d[6], d[7], d[8]}, *want[] = {cy, csave, c[2], c[5], c[6], c[7], c[8]};
    size_t cnt[] = {N, S, N, C, C, C, C};
    for (int i = 0; i < 7; i++) {
        snprintf(what, sizeof what, "%s: %s", tag, names[i]);
        expect(what, got[i], want[i], cnt[i], i == 2 || i >= 5 ? TOL_GRAD : TOL_FWD);
    }
    for (int i = 0; i < 9; i++) free(h[i]), free(c[i]);
    free(cy), free(csave);
    dev_release();
}

static void op_cases(const gs_model *m, const gs_model_cuda *g) {
    const op_case cases[] = {
        {3, 5, 3, 5, 7, GS_ACT_RELU6, 0},    // frames gathered with a strided copy
        {1, 4, 5, 3, 9, GS_ACT_NONE, 0},     // one clip: each step's frames used in place
        {2, 3, 7, 7, 37, GS_ACT_RELU, 1},    // sync_bn: the reduction once per time step
        {1, 3, 1, 1, 5, GS_ACT_RELU6, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        op_compare(m->host->be, g->e.be, &cases[i]);
}

int main(void) {
    cuda_test_begin(5151);
    gs_model_arch cfg = {.alpha = 0.35f, .size = 64, .frames = 3, .batch = 4, .classes = 5, .gru_units = 8,
                         .dense_units = 8, .dropout = 0.0f, .l2 = 1e-4f, .bn_momentum = 0.9f,
                         .bn_time = GS_BN_TIME_KERAS3};
    gs_model m;
    if (model_init(&m, &cfg)) gs_fatal("model_init: %s", gs_last_error());
    model_init_weights(&m, 17);
    m.seed = 5;
    gs_model_cuda g;
    if (model_cuda_init(&g, &m)) {
        check(0, "model_cuda_init: %s", gs_last_error());
        return cuda_test_end();
    }
    check(g.e.work != NULL, "keras3: the GPU executor has the walker's work for the per-step BN buffers");
    model_forward_nodes(&m, 1, 0, 0);  // makes the CPU executor (its kernel rows)
    op_cases(&m, &g);
    size_t nin = (size_t)cfg.batch * cfg.frames * cfg.size * cfg.size * 3;
    float *x = hrand(nin, 0.0f, 1.0f);
    memcpy(model_input(&m), x, nin * sizeof(float));
    gs_cuda_upload(model_cuda_input(&g), x, nin * sizeof(float));
    int labels[4] = {4, 0, 2, 1};
    memcpy(m.labels, labels, sizeof labels);
    model_cuda_set_labels(&g, labels, cfg.batch);
    compare_step(&m, &g, cfg.batch);
    model_cuda_free(&g);

    const gs_params *ps = &m.params;
    size_t n = ps->numel + ps->numel_trainable;
    float *eager = gs_malloc(n * sizeof(float)), *graph = gs_malloc(n * sizeof(float));
    long step0 = m.step, t0 = m.adam_t;
    three_steps(eager, &m, x, labels, 0);
    m.step = step0, m.adam_t = t0;
    three_steps(graph, &m, x, labels, 1);
    check(!memcmp(eager, graph, n * sizeof(float)),
          "keras3: three train steps replayed as a CUDA graph = run eagerly, bitwise (parameters, moving "
          "statistics, Adam moments)");
    free(eager), free(graph), free(x);
    model_free(&m);
    return cuda_test_end();
}

#endif
