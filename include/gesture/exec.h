// The executor: ONE walker over the planned graph (src/model/walk.c) for every backend. The walker
// owns the node walk (forward in node order, backward in reverse), the row counts of a partial
// batch, the per-step values (dropout keys, Adam step size), zeroing of activation gradients as they
// come alive, the L2 penalty, the step and Adam counters, per-op profiling and trace ranges. A
// backend provides memory (where the plan's arena, the parameters, gradients and Adam moments live:
// host or device) and a kernel table with one row per op (gs_op_kernels). The CPU backend is in
// src/model/exec_cpu.c, the CUDA backend in cuda/exec_cuda.cu.
#ifndef GESTURE_EXEC_H
#define GESTURE_EXEC_H

#include <stddef.h>
#include <stdint.h>

#include "gesture/model.h"
#include "gesture/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

// What changes from one train step to the next. Kernels read it through gs_exec.state — host
// memory on the CPU; device memory on the GPU, refreshed by publish_state before the step's work
// is queued, so a captured CUDA graph replays with the current values.
#define GS_MAX_DROPOUT 8
typedef struct {
    uint64_t dropout_key[GS_MAX_DROPOUT];  // by dropout ordinal: gs_key(m->seed, ordinal, m->step)
    float adam_alpha;                      // Adam step size for t = m->adam_t (adam_step_size)
    float pad_;
} gs_step_state;

// A rank's part of a data-parallel training step (gesture/dist.h; the training backends set it for
// training forwards and backwards: src/train/train_cpu.c, cuda/train_cuda.cu; NULL otherwise): the
// walker and kernels then compute this rank's rows of the global batch, and the walker sums the
// gradients over the ranks at the end of backward, so that every rank holds one process's gradients.
// cur_batch may be 0 (a rank without clips in this step: only the synchronized BN nodes run, to take
// part in the sums).
struct gs_reducer;
typedef struct gs_exec_dist {
    int row0;                 // this rank's first row in the global batch: dropout masks by global row
    float loss_scale;         // rows here / rows of the global batch: the CE is the global batch's mean
    int l2_grad;              // add the L2 penalty's gradient here (rank 0 only: gradients are summed)
    const struct gs_reducer *bn;     // sync_bn: BN statistics summed over the ranks; NULL: this rank's own
    const struct gs_reducer *grads;  // sums the parameter gradients over the ranks after backward
    // With grads->sum_f32_async: sum the gradients in buckets of at least this many floats as soon as
    // backward has finished them, overlapping the rest of backward; 0: one sum after backward
    size_t bucket_floats;
} gs_exec_dist;

// One op call: the node and every pointer its kernels need, resolved by the walker from the plan
// and the backend's memory (all host pointers on the CPU, all device pointers on the GPU).
typedef struct {
    const gs_node *n;
    const gs_model_arch *arch;  // the planned sizes (GRU cache strides use the planned batch)
    const gs_node *x[2];   // input nodes (NULL past n_in)
    float *out;            // this node's output (rows, ...)
    float *dout;           // its gradient (backward; NULL when nothing reads it)
    float *in[2];          // the inputs' outputs
    float *din[2];         // the inputs' gradients (NULL: not needed, e.g. below the input)
    float *save;           // n->save_numel floats kept from forward to backward (NULL: none)
    float *p[8], *g[8];    // parameters n->p[k] and their gradients (NULL where unused/frozen)
    float *work;           // the op's scratch (the backend's kernel row sizes it; NULL: none)
    int rows;              // leading dimension of the output for the current batch
    size_t numel;          // elements of the output for the current batch
    int batch;             // clips in the current step
    int training;          // forward: batch statistics, dropout on
    int have_labels;       // forward: labels were given (else the loss is discarded)
    int *labels;           // (batch) class indices
    const gs_step_state *state;  // this step's values (backend memory)
    float *ce_loss;        // where the loss op writes the mean cross-entropy (backend memory)
    const gs_exec_dist *dist;  // data-parallel training step, NULL: one process (see above)
    // BN under model.bn_time = keras3 on a backend with bn_rows: the rows of this call's operands
    // (gesture/ops.h); seg 0: contiguous
    bn_rows bn_at;
    // Backward, rows with din_overwrite: din[k] holds no gradient yet and was not zeroed; the kernel
    // writes it (=) instead of adding to it (+=)
    int din_fresh[2];
} gs_op_call;

typedef void (*gs_op_fn)(const gs_op_call *c);

// A backend's kernels for one op; NULL = this backend lacks the op (exec_check refuses a model that
// uses it, naming the op). `op` is the row's own index (checked by exec_check). `work`: floats of
// scratch the op's kernels need for node n (NULL: none); the executor sizes one buffer for the
// largest node, so a step allocates nothing. `din_overwrite`: the backward writes every element of
// an input gradient the walker marks fresh (gs_op_call.din_fresh), which then needs no zeroing
// pass first (the gradient's first writer in backward order); 0: the walker zeroes it, the kernel adds.
typedef struct {
    gs_node_op op;
    gs_op_fn forward, backward;
    size_t (*work)(const gs_model *m, const gs_node *n);
    int din_overwrite;
} gs_op_kernels;

typedef struct gs_exec gs_exec;

typedef struct {
    const char *name;              // "cpu", "cuda"
    const gs_op_kernels *kernels;  // NODE_COUNT rows, in enum order
    void (*zero)(float *p, size_t n);                                  // n floats of backend memory
    // rows of width floats from src (rows src_pitch floats apart) to dst (dst_pitch apart), backend
    // memory, queued like the kernels (the per-time-step BN's gathers)
    void (*copy_rows)(float *dst, size_t dst_pitch, const float *src, size_t src_pitch, size_t width, size_t rows);
    void (*l2_forward)(float *loss, const float *w, size_t n, float l2);  // *loss += l2 * sum(w^2)
    void (*l2_backward)(float *dw, const float *w, size_t n, float l2);   // dw += 2 * l2 * w
    // One Adam step over the trainables; the step size is e->state->adam_alpha (= lr and t as given).
    void (*adam)(gs_exec *e, float lr, float beta1, float beta2, float eps, long t);
    void (*publish_state)(gs_exec *e);  // make e->state_host what the kernels read (e->state)
    void (*read_loss)(gs_exec *e, float loss[2]);  // wait for the step; [0] mean CE, [1] L2
    void (*sync)(void);                 // wait for queued work (profiling); NULL: nothing queued
    void (*range_push)(const char *name);  // trace ranges (NVTX); NULL: none
    void (*range_pop)(void);
    // Its BN kernels take the rows of one time step in place (gs_op_call.bn_at); 0: the walker
    // gathers them into contiguous scratch and scatters the results back (copy_rows)
    int bn_rows;
} gs_backend;

// A model bound to a backend's memory. The host gs_model keeps the graph, plan and counters.
struct gs_exec {
    const gs_backend *be;
    gs_model *m;
    float *arena;             // (m->arena_floats) at the plan's offsets
    float *params;            // (m->params.numel)
    float *grad, *adam_m, *adam_v;  // (m->params.numel_trainable)
    int *labels;              // (cfg.batch)
    float *loss;              // [0] mean CE, [1] L2 penalty
    gs_step_state *state;     // what the kernels read
    float *work;              // (exec_work_floats) op scratch; NULL when no kernel asks for any
    gs_step_state state_host; // its host value, published at each training forward and Adam step
    int have_labels;          // of the last forward
    const gs_exec_dist *dist; // data-parallel training step (host memory), NULL: one process
};

// Check that the backend has kernels for every op the model uses. 0 ok, -1 + gs_error naming the op.
int exec_check(const gs_exec *e);

// model.bn_time = keras3 (Keras 3's TimeDistributed calls its layer once per time step): a training
// BN node normalizes the frames of each time step t on their own (rows n = b*T + t of its (B*T,H,W,C)
// output: B blocks of H*W*C floats at stride T*H*W*C) with that step's statistics, saved in slot t of
// its save buffer (2C floats a slot), and updates the moving averages once per step in time order.
// The walker runs such a node's kernel once per time step: on that step's rows in place where the
// backend's BN kernels take a row layout (gs_backend.bn_rows: the CPU), else on the step's frames
// gathered into contiguous scratch (the backend's copy_rows), so that kernel only does the keras2 op.
// Time steps a training BN call normalizes separately: arch->frames under keras3, 1 under keras2.
int exec_bn_steps(const gs_model_arch *a);
// Floats of op scratch (e->work) the backend's kernels need for the largest node of the model.
size_t exec_work_floats(const gs_exec *e);
// The same for node n alone (its kernel's own scratch, and a keras3 BN's step buffers).
size_t exec_node_work_floats(const gs_exec *e, const gs_node *n);
// One node's forward / backward on a prepared op call, as the walker runs it: the backend's kernel,
// or a training BN under keras3 once per time step. e gives the backend (and e->m the sizes).
void exec_call_forward(const gs_exec *e, const gs_op_call *c);
void exec_call_backward(const gs_exec *e, const gs_op_call *c);

// The whole forward over the first `batch` clips: the host side (current batch; training: the step
// counter and dropout keys, published), then exec_forward_queue.
void exec_forward(gs_exec *e, int batch, int training, int have_labels);
// The forward's work: every node, then the L2 penalty. Reads per-step values only through e->state,
// so on the GPU it can be captured once and replayed.
void exec_forward_queue(gs_exec *e, int training, int have_labels);
// Inference forward of nodes [from, to) only, over the first `batch` clips: the inputs of node
// `from` must already hold their values (e.g. features computed elsewhere, `gesture stream`).
void exec_forward_nodes(gs_exec *e, int batch, int from, int to);
// Backward of the last training forward: parameter gradients (overwritten, not accumulated).
void exec_backward(gs_exec *e);
// Adam: host-side (the Adam counter, the step size published) + the update.
void exec_adam_begin(gs_exec *e, float lr, float beta1, float beta2);
void exec_adam_queue(gs_exec *e, float lr, float beta1, float beta2, float eps);
// A full train step's host side at once (one publish): forward_begin + adam_begin.
void exec_train_begin(gs_exec *e, int batch, float lr, float beta1, float beta2);
// Wait for the step and set m->loss / ce_loss / l2_loss.
void exec_read_loss(gs_exec *e);

// The CPU executor of a model and its host arena (src/model/exec_cpu.c) are made on first use;
// model_free frees both.
void model_exec_free(gs_model *m);

#ifdef __cplusplus
}
#endif

#endif
