// The inference plan: a model's forward pass (training = 0) rebuilt for speed from a snapshot of its
// parameters. Batch norm is folded into the preceding convolution (weights scaled per output
// channel, a bias added), ReLU6 and the residual add run in that convolution's epilogue, and only
// the activations still to be read are kept: a few buffers per thread, reused layer after layer.
// head_bn, an affine map after ReLU6, commutes with the average pooling and is applied to the
// pooled features; the BiGRU and the dense head run the reference ops unchanged.
// Frames are spread over threads (each thread runs whole frames, a few at a time so the 1x1 convs
// see enough rows); when fewer frames than half the threads are left, they split each layer's rows
// instead.
// `runtime.inference = plan|reference` chooses it or the reference executor (model_forward) for
// predict, eval, stream and training's validation pass; both give the same predictions within 1e-4
// (tests/test_plan.c).
#ifndef GESTURE_PLAN_H
#define GESTURE_PLAN_H

#include "gesture/model.h"

typedef struct gs_plan gs_plan;

// A plan of m from its parameters as they are now (build again after they change). m must outlive
// the plan (its graph is read, never its parameters). 0 ok, -1 + gs_error naming a layer the plan
// cannot fold.
// A plan runs one call at a time (its buffers are its own; the calls use the OpenMP threads).
int plan_build(gs_plan **p, const gs_model *m);
void plan_free(gs_plan *p);

// Width C of the per-frame features (the model's global_average_pooling output).
int plan_feature_width(const gs_plan *p);
// Per-frame features of N frames: what model_forward leaves in global_average_pooling (head_bn
// included). Any N >= 1.
void plan_features(gs_plan *p,
                   float *feat,          // (N,C)
                   const float *frames,  // (N,S,S,3)
                   int N);
// The whole model on B clips (1 <= B <= the model's batch): softmax probabilities; with labels
// (non-NULL), loss[0] = mean cross-entropy, loss[1] = the L2 penalty, as model_forward sets them.
void plan_forward(gs_plan *p,
                  float *probs,         // (B,K)
                  float loss[2],        // or NULL
                  const float *clips,   // (B,T,S,S,3)
                  const int *labels,    // (B) or NULL
                  int B);

// Seconds per folded layer kind (thread 0's share of the backbone) and of the head, over the calls
// made while profiling was switched on (plan_set_profile); printed by `gesture bench --profile`.
void plan_set_profile(gs_plan *p, int on);
// Whether the inverted residual blocks with large tensors run fused in row strips (the default, on)
// or layer by layer; the same kernels, so the same results bit for bit on a given tier.
void plan_set_fused_blocks(gs_plan *p, int on);
void plan_print_profile(const gs_plan *p, FILE *f);

// The kernel tier the plan runs on this CPU: "avx2" or "generic" (`gesture info`).
const char *plan_kernels_name(void);

// ---- the folded plan as a device executor reads it (cuda/plan_cuda.cu) ----
// The CPU folds once (weights scaled, biases, buffer slots by liveness); a device uploads the result
// and runs the same layers in order, so both give the same features within rounding.

enum { GS_PLAN_CONV, GS_PLAN_DW, GS_PLAN_PW };  // KxK conv, depthwise conv, 1x1 conv

typedef struct {
    int kind;                     // GS_PLAN_*
    int H, W, Ci, Ho, Wo, Co;     // per frame: input, output (Co = Ci for a depthwise conv)
    int K, stride, pad_top, pad_left;
    int act;                      // gs_act of the epilogue: out = act(conv + bias) + res
    int in, out, res;             // buffer slots: in -1 the input frames, res -1 no residual
    const float *w;               // (K,K,Ci,Co) HWIO, folded; depthwise (K,K,C)
    const float *bias;            // (Co)
    const char *name;             // the convolution's layer name
} gs_plan_layer;

int plan_layer_count(const gs_plan *p);
void plan_layer(const gs_plan *p, int j, gs_plan_layer *l);
int plan_slot_count(const gs_plan *p);
size_t plan_slot_floats(const gs_plan *p, int slot);  // per frame: the largest value the slot holds
// head_bn as an affine map of the pooled features: feat = mean * scale + shift, each (C).
void plan_head_affine(const gs_plan *p, const float **scale, const float **shift);
const gs_model *plan_model(const gs_plan *p);
int plan_pool_node(const gs_plan *p);       // the global_average_pooling node; the head follows it
const float *plan_params(const gs_plan *p); // the parameter snapshot the plan was built from
// loss[1] of plan_forward: the L2 penalty of the snapshot.
float plan_l2_penalty(const gs_plan *p);

#endif
