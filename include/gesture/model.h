// The seed network as a host-side graph: MobileNetV2 (per frame) -> head BN -> GAP -> BiGRU ->
// Dropout -> Dense ReLU -> Dropout -> Dense -> softmax cross-entropy.
// The graph is built once from a gs_model_arch, validated, and planned: every activation, saved
// tensor and activation gradient is carved from one arena (a per-node memory table), gradient
// buffers share memory by liveness. forward/backward then walk the node list allocating nothing:
// the ops' scratch is one buffer the executor sizes for the largest node on first use.
#ifndef GESTURE_MODEL_H
#define GESTURE_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gesture/params.h"
#include "gesture/types.h"  // gs_bn_time

typedef enum {
    NODE_INPUT,    // (N,S,S,3) frames of B clips, N = B*T
    NODE_CONV,     // KxK conv, no bias (Conv1)
    NODE_PWCONV,   // 1x1 conv as GEMM, no bias
    NODE_DWCONV,   // depthwise KxK, no bias
    NODE_BN,       // batch norm (+ fused ReLU6)
    NODE_ADD,      // residual add
    NODE_GAP,      // global average pool -> (N,C) = (B,T,C)
    NODE_BIGRU,    // bidirectional GRU, final states concatenated -> (B,2H)
    NODE_DROPOUT,  // inverted dropout (training only)
    NODE_DENSE,    // x @ W + b (+ fused ReLU)
    NODE_LOSS,     // softmax + cross-entropy over labels -> probs (B,K)
    NODE_COUNT     // not an op: the number of ops (every op table has NODE_COUNT rows)
} gs_node_op;

#define GS_NO_MEM ((size_t)-1)

typedef struct {
    gs_node_op op;
    char name[64];     // Keras layer name; its variables are "<name>/<var>"
    int in[2], n_in;   // producer node indices
    int ndim;          // output rank: 4 (N,H,W,C) or 2 (rows,C)
    int shape[4];      // output shape at the planned (maximum) batch
    int p[8];          // parameter indices (op-specific order), -1 if unused
    int k, stride, pad_top, pad_left, act;
    float eps, momentum, rate;
    int ordinal;       // dropout: which dropout layer (RNG stream)
    int backbone;      // 1 for MobileNetV2 layers (Keras' backbone parameter count)
    // memory table, in floats from the arena start (GS_NO_MEM = none)
    size_t out_off, grad_off, save_off, save_numel;
    int last_consumer; // highest node index reading this output (-1: none)
} gs_node;

typedef struct {
    float alpha;      // MobileNetV2 width
    int size;         // S: frames are SxS
    int frames;       // T
    int batch;        // B: maximum clips per step (the planned size)
    int classes;      // K
    int gru_units;    // H
    int dense_units;
    float dropout;
    float l2;         // on dense_hidden/kernel
    float bn_momentum; // backbone BN moving-average momentum; 0 = Keras' 0.999
    gs_bn_time bn_time; // training BN statistics over all B*T frames (keras2, 0) or per time step (keras3)
} gs_model_arch;

typedef struct gs_model {
    gs_model_arch cfg;
    gs_node *nodes;
    int n_nodes, cap_nodes;
    gs_params params;
    float *arena;
    size_t arena_floats;
    size_t act_floats, grad_floats;  // planned bytes/4 of activations (+saved) and gradients
    int *labels;      // (B)
    int cur_batch;    // clips in the current step (<= cfg.batch)
    uint64_t seed;    // dropout stream
    long step;        // training forward passes so far (dropout key), saved in checkpoints
    long adam_t;      // optimizer steps so far
    float loss, ce_loss, l2_loss;
    // Optional per-op wall time (seconds), accumulated while profile != 0: [op][0 forward, 1 backward].
    int profile;
    double op_seconds[NODE_COUNT][2];
    struct gs_exec *host;  // the CPU executor over the host arena (made on first use)
    // Data-parallel training (gesture/exec.h, gs_exec_dist): the CPU executor's forward/backward use
    // it while set (train_cpu.c sets it around a training step); NULL = one process.
    const struct gs_exec_dist *dist;
    // CPU training passes: 0 = the fast twins of the 1x1/depthwise ops where they cover (gesture/ops.h),
    // 1 = the reference ops throughout (runtime.training). Inference passes always run the reference.
    int reference_ops;
} gs_model;

// Limits on an architecture, checked by model_init before anything is sized from it (a config or an
// imported file may ask for anything). They are the config schema's limits (config_schema.c), so
// every config that validates builds; the planned sizes are bounded too: parameters at 2^31 floats
// (8 GiB, ~600x the largest MobileNetV2 + head here) and the step's arena at 2^36 floats (256 GiB,
// more than one accelerator holds).
#define GS_MAX_SIZE 1024
#define GS_MAX_FRAMES 512
#define GS_MAX_BATCH 4096
#define GS_MAX_CLASSES 1000
#define GS_MAX_UNITS 4096
#define GS_MAX_ALPHA 4.0
#define GS_MAX_PARAM_FLOATS 2147483648.0
#define GS_MAX_ARENA_FLOATS 68719476736.0

struct gs_config;
// Architecture from a resolved config ([model], [data] size/frames, [train] batch_size/l2).
void model_arch_from_config(gs_model_arch *a, const struct gs_config *c);

// Build, validate and plan the graph; parameters allocated (zeros). 0 ok, -1 + gs_error.
int model_init(gs_model *m, const gs_model_arch *cfg);
void model_free(gs_model *m);
// Keras default initializers (glorot_uniform kernels, orthogonal recurrent kernels, zero biases,
// BN gamma 1, beta 0, mean 0, var 1) from one seeded stream.
void model_init_weights(gs_model *m, uint64_t seed);
// model_init of model_arch_from_config(c), then model_init_weights with c's train.seed: the fresh
// model training and `gesture bench` start from. 0 ok, -1 + gs_error.
int model_init_from_config(gs_model *m, const struct gs_config *c);

// Allocate the arena if not yet done (model_input/model_forward do it).
void model_ensure_arena(gs_model *m);
// Input buffer (B,T,S,S,3) inside the arena; fill it (or copy into it) before model_forward.
float *model_input(gs_model *m);
// Output probabilities (B,K) after a forward pass.
const float *model_probs(const gs_model *m);
// Logits (B,K) after a forward pass.
const float *model_logits(const gs_model *m);
// Forward over the first `batch` clips. training=1: batch statistics + moving-average updates,
// dropout on. With labels (m->labels filled, have_labels=1) computes m->loss (CE + L2).
void model_forward(gs_model *m, int batch, int training, int have_labels);
// Inference forward of nodes [from, to) only (gesture stream: the backbone per frame, the head per
// window); node `from`'s inputs must hold their values already.
void model_forward_nodes(gs_model *m, int batch, int from, int to);
// A node's output in the host arena (rows at the current batch): read it after a forward, or fill it
// before model_forward_nodes starts at one of its consumers.
float *model_node_output(gs_model *m, int node);
// Backward of the last training forward: fills m->params.grad (overwritten, not accumulated).
void model_backward(gs_model *m);
// One Adam step (Keras form) on all trainables with the current gradients.
void model_adam_step(gs_model *m, float lr, float beta1, float beta2, float eps);

// Print the per-op time table gathered with m->profile = 1 (share of the total, per op type).
void model_print_profile(const gs_model *m, FILE *f);

// Parameter counts as Keras reports them (moving statistics included).
size_t model_param_count(const gs_model *m);
size_t model_backbone_param_count(const gs_model *m);
// Keras-like layer table: name, op, output shape, parameters; then totals.
void model_summary(const gs_model *m, FILE *f);
// Node index by Keras layer name, -1 if absent.
int model_find_node(const gs_model *m, const char *name);

#endif
