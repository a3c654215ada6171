// model.bn_time in the walker's per-call entries (src/model/walk.c: exec_call_forward/backward) on the
// CPU backend, on hand-made op calls of odd sizes. keras3: the forward and backward equal a direct per-time-step computation with the
// reference ops written here (the frames of step t found by their own index b*T + t), bit for bit;
// the saved statistics are each step's own mean and 1/std (checked against double sums), the moving
// averages T updates in time order; gamma/beta gradients add up over the steps and dinp accumulates.
// One clip (steps used in place) and several (gathered) both; with a sync_bn reducer the kernel sums
// once per time step in the forward and once in the backward. keras2 and inference: the op over all
// rows at once, bit for bit (the behaviour before model.bn_time existed).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"
#include "gesture/exec.h"
#include "gesture/model.h"
#include "gesture/ops.h"
#include "testutil.h"

static gs_rng rng;

typedef struct {
    int clips, T, H, W, C, act;
} bn_case;

// Everything one op call reads and writes, host memory.
typedef struct {
    size_t frame, numel;
    float *x, *y, *dy, *dx, *save, *gamma, *beta, *mm, *mv, *dgamma, *dbeta;
} bn_data;

static float *rnd(size_t n, float lo, float hi) {
    float *a = gs_malloc((n ? n : 1) * sizeof(float));
    test_fill_uniform(a, &rng, lo, hi, n);
    return a;
}

static float *dup(const float *a, size_t n) {
    float *b = gs_malloc((n ? n : 1) * sizeof(float));
    memcpy(b, a, n * sizeof(float));
    return b;
}

static bn_data data_make(const bn_case *k) {
    bn_data d;
    d.frame = (size_t)k->H * k->W * k->C;
    d.numel = (size_t)k->clips * k->T * d.frame;
    d.x = rnd(d.numel, -1.0f, 3.0f);  // a mean far from 0 (the ops' pivot matters)
    d.y = rnd(d.numel, 0, 0);
    d.dy = rnd(d.numel, -1.0f, 1.0f);
    d.dx = rnd(d.numel, -0.5f, 0.5f);  // the op accumulates into it
    d.save = rnd(2 * (size_t)k->C * k->T, 0, 0);
    d.gamma = rnd((size_t)k->C, 0.5f, 3.0f);
    d.beta = rnd((size_t)k->C, -0.5f, 1.0f);
    d.mm = rnd((size_t)k->C, -0.5f, 0.5f);
    d.mv = rnd((size_t)k->C, 0.5f, 1.5f);
    d.dgamma = rnd((size_t)k->C, -0.1f, 0.1f);
    d.dbeta = rnd((size_t)k->C, -0.1f, 0.1f);
    return d;
}

static bn_data data_copy(const bn_data *s, const bn_case *k) {
    bn_data d = *s;
    size_t C = (size_t)k->C;
    d.x = dup(s->x, s->numel), d.y = dup(s->y, s->numel), d.dy = dup(s->dy, s->numel), d.dx = dup(s->dx, s->numel);
    d.save = dup(s->save, 2 * C * k->T), d.gamma = dup(s->gamma, C), d.beta = dup(s->beta, C);
    d.mm = dup(s->mm, C), d.mv = dup(s->mv, C), d.dgamma = dup(s->dgamma, C), d.dbeta = dup(s->dbeta, C);
    return d;
}

static void data_free(bn_data *d) {
    float *all[] = {d->x, d->y, d->dy, d->dx, d->save, d->gamma, d->beta, d->mm, d->mv, d->dgamma, d->dbeta};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
}

// The executor's call for node n over d (the walker's fields a BN kernel reads).
static gs_op_call call_of(const gs_node *n, const gs_node *x, const gs_model_arch *a, bn_data *d, float *work,
                          int clips) {
    gs_op_call c = {0};
    c.n = n;
    c.arch = a;
    c.x[0] = x;
    c.out = d->y, c.dout = d->dy, c.in[0] = d->x, c.din[0] = d->dx, c.save = d->save;
    c.p[0] = d->gamma, c.p[1] = d->beta, c.p[2] = d->mm, c.p[3] = d->mv;
    c.g[0] = d->dgamma, c.g[1] = d->dbeta;
    c.work = work;
    c.rows = clips * a->frames;
    c.numel = (size_t)c.rows * (size_t)n->shape[1] * n->shape[2] * n->shape[3];
    c.batch = clips;
    c.training = 1;
    c.have_labels = 1;
    return c;
}

// Rows of time step t (frames b*T + t) of src into dst (clips*H*W rows), or back with back = 1.
static void move_step(float *dst, const float *src, const bn_case *k, size_t frame, int t, int back) {
    for (int b = 0; b < k->clips; b++) {
        size_t global = ((size_t)b * k->T + t) * frame, local = (size_t)b * frame;
        if (back) memcpy(dst + global, src + local, frame * sizeof(float));
        else memcpy(dst + local, src + global, frame * sizeof(float));
    }
}

// The rule written out: for each time step, the reference ops on its frames.
static void ref_forward(bn_data *d, const bn_case *k, float *work, float eps, float momentum) {
    size_t step = (size_t)k->clips * d->frame;
    int M = (int)(step / (size_t)k->C);
    float *xs = gs_malloc(step * sizeof(float)), *ys = gs_malloc(step * sizeof(float));
    for (int t = 0; t < k->T; t++) {
        move_step(xs, d->x, k, d->frame, t, 0);
        float *mean = d->save + (size_t)2 * k->C * t;
        batchnorm_forward_train(ys, mean, mean + k->C, d->mm, d->mv, xs, d->gamma, d->beta, work, M, k->C, eps,
                                momentum, k->act);
        move_step(d->y, ys, k, d->frame, t, 1);
    }
    free(xs);
    free(ys);
}

static void ref_backward(bn_data *d, const bn_case *k, float *work) {
    size_t step = (size_t)k->clips * d->frame;
    int M = (int)(step / (size_t)k->C);
    float *buf = gs_malloc(4 * step * sizeof(float)), *xs = buf, *ys = buf + step, *dys = ys + step, *dxs = dys + step;
    for (int t = 0; t < k->T; t++) {
        move_step(xs, d->x, k, d->frame, t, 0);
        move_step(ys, d->y, k, d->frame, t, 0);
        move_step(dys, d->dy, k, d->frame, t, 0);
        move_step(dxs, d->dx, k, d->frame, t, 0);
        const float *mean = d->save + (size_t)2 * k->C * t;
        batchnorm_backward(dxs, d->dgamma, d->dbeta, dys, ys, xs, mean, mean + k->C, d->gamma, work, M, k->C, k->act);
        move_step(d->dx, dxs, k, d->frame, t, 1);
    }
    free(buf);
}

static int same(const float *a, const float *b, size_t n) { return !memcmp(a, b, n * sizeof(float)); }

// Each step's saved mean and 1/std against double sums over its rows; the moving averages against T
// updates in double from mm0/mv0.
static void check_statistics(const char *label, const bn_data *d, const bn_data *d0, const bn_case *k, float eps,
                             float momentum) {
    int C = k->C;
    size_t rows = d->frame / (size_t)C;
    double *mean = gs_calloc((size_t)C * k->T, sizeof(double)), *istd = gs_calloc((size_t)C * k->T, sizeof(double));
    double *mm = gs_malloc((size_t)C * sizeof(double)), *mv = gs_malloc((size_t)C * sizeof(double));
    for (int c = 0; c < C; c++) mm[c] = d0->mm[c], mv[c] = d0->mv[c];
    for (int t = 0; t < k->T; t++) {
        for (int c = 0; c < C; c++) {
            double s = 0, q = 0, n = (double)k->clips * rows;
            for (int b = 0; b < k->clips; b++)
                for (size_t r = 0; r < rows; r++) s += d->x[((size_t)b * k->T + t) * d->frame + r * C + c];
            for (int b = 0; b < k->clips; b++)
                for (size_t r = 0; r < rows; r++) {
                    double e = d->x[((size_t)b * k->T + t) * d->frame + r * C + c] - s / n;
                    q += e * e;
                }
            mean[(size_t)t * C + c] = s / n;
            istd[(size_t)t * C + c] = 1.0 / sqrt(q / n + eps);
            mm[c] = mm[c] * momentum + s / n * (1.0 - momentum);
            mv[c] = mv[c] * momentum + q / n * (1.0 - momentum);
        }
    }
    float *got_mean = gs_malloc((size_t)C * k->T * sizeof(float)), *got_istd = gs_malloc((size_t)C * k->T * sizeof(float));
    for (int t = 0; t < k->T; t++)
        for (int c = 0; c < C; c++) {
            got_mean[(size_t)t * C + c] = d->save[(size_t)2 * C * t + c];
            got_istd[(size_t)t * C + c] = d->save[(size_t)2 * C * t + C + c];
        }
    char what[256];
    snprintf(what, sizeof what, "%s: keras3 saved per-step means", label);
    check_close(what, got_mean, mean, (size_t)C * k->T, 1e-6);
    snprintf(what, sizeof what, "%s: saved per-step 1/std", label);
    check_close(what, got_istd, istd, (size_t)C * k->T, 1e-6);
    snprintf(what, sizeof what, "%s: moving mean after %d updates", label, k->T);
    check_close(what, d->mm, mm, (size_t)C, 1e-6);
    snprintf(what, sizeof what, "%s: moving variance after %d updates", label, k->T);
    check_close(what, d->mv, mv, (size_t)C, 1e-6);
    free(mean), free(istd), free(mm), free(mv), free(got_mean), free(got_istd);
}

// A reducer for one rank (the sum over ranks is the value itself) that counts its calls.
static int sums;
static void sum_count(void *ctx, double *v, size_t n) {
    (void)ctx, (void)v, (void)n;
    sums++;
}
static const gs_reducer ONE_RANK = {.sum = sum_count};

static void run_case(const gs_backend *be, const bn_case *bc) {
    const float eps = 1e-3f, momentum = 0.9f;
    gs_node xn = {.op = NODE_CONV, .ndim = 4, .shape = {bc->clips * bc->T, bc->H, bc->W, bc->C}};
    gs_node n = xn;
    n.op = NODE_BN, n.eps = eps, n.momentum = momentum, n.act = bc->act;
    gs_model m = {.cfg = {.frames = bc->T, .batch = bc->clips, .bn_time = GS_BN_TIME_KERAS3}};
    gs_exec e = {.be = be, .m = &m};  // the walker's per-call entries on the CPU backend
    float *work = test_work(exec_node_work_floats(&e, &n));
    float *ref_work = test_work(batchnorm_work_floats(bc->C));
    char label[128];
    snprintf(label, sizeof label, "%d clip%s x %d steps of %dx%dx%d, act %d", bc->clips,
             bc->clips == 1 ? "" : "s", bc->T, bc->H, bc->W, bc->C, bc->act);
    bn_data d0 = data_make(bc), got = data_copy(&d0, bc), want = data_copy(&d0, bc);
    size_t C = (size_t)bc->C, S = 2 * C * bc->T;

    gs_op_call c = call_of(&n, &xn, &m.cfg, &got, work, bc->clips);
    exec_call_forward(&e, &c);
    ref_forward(&want, bc, ref_work, eps, momentum);
    check(same(got.y, want.y, d0.numel) && same(got.save, want.save, S) && same(got.mm, want.mm, C) &&
              same(got.mv, want.mv, C),
          "%s: keras3 forward = the op per time step (output, saved statistics, moving averages), bit for bit", label);
    check_statistics(label, &got, &d0, bc, eps, momentum);
    exec_call_backward(&e, &c);
    ref_backward(&want, bc, ref_work);
    check(same(got.dx, want.dx, d0.numel) && same(got.dgamma, want.dgamma, C) && same(got.dbeta, want.dbeta, C),
          "%s: keras3 backward = the op per time step (dinp accumulated, gamma/beta gradients summed over steps), bit "
          "for bit",
          label);

    // sync_bn: one sum per step each way; on one rank the statistics are the same within rounding
    bn_data s = data_copy(&d0, bc);
    gs_exec_dist dist = {.loss_scale = 1.0f, .bn = &ONE_RANK};
    c = call_of(&n, &xn, &m.cfg, &s, work, bc->clips);
    c.dist = &dist;
    sums = 0;
    exec_call_forward(&e, &c);
    int fwd_sums = sums;
    exec_call_backward(&e, &c);
    check(fwd_sums == bc->T && sums == 2 * bc->T, "%s, keras3 sync_bn: %d reductions in the forward, %d in the backward "
          "(one per time step)", label, fwd_sums, sums - fwd_sums);
    char what[256];
    snprintf(what, sizeof what, "%s, keras3 sync_bn on one rank: output", label);
    check_close_f32(what, s.y, want.y, d0.numel, 1e-5);
    snprintf(what, sizeof what, "%s, sync_bn on one rank: dinp", label);
    check_close_f32(what, s.dx, want.dx, d0.numel, 1e-4);
    snprintf(what, sizeof what, "%s, sync_bn on one rank: moving variance", label);
    check_close_f32(what, s.mv, want.mv, C, 1e-6);
    data_free(&s);

    // keras2 (and inference under either rule): the op over all B*T frames at once
    bn_data k2 = data_copy(&d0, bc), r2 = data_copy(&d0, bc);
    m.cfg.bn_time = GS_BN_TIME_KERAS2;
    float *work2 = test_work(exec_node_work_floats(&e, &n));
    c = call_of(&n, &xn, &m.cfg, &k2, work2, bc->clips);
    exec_call_forward(&e, &c);
    exec_call_backward(&e, &c);
    int M = (int)(d0.numel / C);
    batchnorm_forward_train(r2.y, r2.save, r2.save + C, r2.mm, r2.mv, r2.x, r2.gamma, r2.beta, ref_work, M, bc->C,
                            eps, momentum, bc->act);
    batchnorm_backward(r2.dx, r2.dgamma, r2.dbeta, r2.dy, r2.y, r2.x, r2.save, r2.save + C, r2.gamma, ref_work, M,
                       bc->C, bc->act);
    check(same(k2.y, r2.y, d0.numel) && same(k2.save, r2.save, 2 * C) && same(k2.mm, r2.mm, C) &&
              same(k2.dx, r2.dx, d0.numel) && same(k2.dgamma, r2.dgamma, C),
          "%s: keras2 = the op over all %d frames, forward and backward, bit for bit", label, bc->clips * bc->T);
    for (int rule = 0; rule < 2; rule++) {
        m.cfg.bn_time = rule ? GS_BN_TIME_KERAS3 : GS_BN_TIME_KERAS2;
        bn_data inf = data_copy(&d0, bc);
        c = call_of(&n, &xn, &m.cfg, &inf, rule ? work : work2, bc->clips);
        c.training = 0;
        exec_call_forward(&e, &c);
        batchnorm_forward_infer(r2.y, d0.x, d0.gamma, d0.beta, d0.mm, d0.mv, ref_work, M, bc->C, eps, bc->act);
        check(same(inf.y, r2.y, d0.numel) && same(inf.mm, d0.mm, C), "%s: inference under %s = the op with the "
              "moving statistics, nothing updated", label, rule ? "keras3" : "keras2");
        data_free(&inf);
    }
    data_free(&k2), data_free(&r2), data_free(&d0), data_free(&got), data_free(&want);
}

int main(void) {
    gs_rng_seed(&rng, 2024);
    // the CPU backend's kernel rows, from a model's executor (made on first use)
    gs_model_arch a = {.alpha = 0.35f, .size = 32, .frames = 3, .batch = 1, .classes = 5, .gru_units = 4,
                       .dense_units = 4, .bn_time = GS_BN_TIME_KERAS3};
    gs_model m;
    if (model_init(&m, &a)) gs_fatal("%s", gs_last_error());
    model_forward_nodes(&m, 1, 0, 0);
    const gs_backend *be = m.host->be;  // static: outlives the model
    check(!strncmp(be->name, "cpu", 3) && be->kernels[NODE_BN].op == NODE_BN, "the CPU backend's BN row");
    int bn = model_find_node(&m, "bn_Conv1");
    check(m.nodes[bn].save_numel == 2u * 16 * 3, "keras3: bn_Conv1 saves 2C floats per time step (%zu)",
          m.nodes[bn].save_numel);
    model_free(&m);

    const bn_case cases[] = {
        {3, 5, 3, 5, 7, GS_ACT_RELU6},    // odd everything, one thread (small)
        {1, 4, 5, 3, 9, GS_ACT_NONE},     // one clip: each step's frames used in place
        {3, 4, 13, 13, 67, GS_ACT_RELU6}, // large enough for every OpenMP thread
        {2, 3, 1, 1, 11, GS_ACT_RELU},    // 1x1 frames (the last blocks at small sizes)
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(be, &cases[i]);
    return test_finish();
}
