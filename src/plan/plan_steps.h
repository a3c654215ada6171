// What the inference plan's files share (src/plan/plan.c builds and runs the plan, plan_block.c runs
// MobileNetV2's inverted residual blocks fused in row strips): the plan's steps and the plan itself.
#ifndef GESTURE_PLAN_STEPS_H
#define GESTURE_PLAN_STEPS_H

#include "gesture/plan.h"
#include "../ops/plan_kernels.h"

// Step kinds, and the fused blocks' own line in the profile.
enum { STEP_CONV = GS_PLAN_CONV, STEP_DW = GS_PLAN_DW, STEP_PW = GS_PLAN_PW, STEP_BLOCK, STEP_KINDS };
#define MAX_SLOTS 8

typedef struct {
    int kind, node;      // STEP_*, the convolution's node (its name in errors)
    plan_geom g;
    int act;
    int in, out, res;    // buffer slots; in -1: the frames; res -1: no residual
    size_t in_floats, out_floats;  // per frame
    float *w, *bias;     // folded, in p->weights (a 1x1 conv's w packed for the kernel tier)
    float *w_hwio;       // folded, (K,K,Ci,Co) HWIO or depthwise (K,K,C): w before packing
    // Set on the first step of a fused block (plan_block.c): 3 = 1x1 expand, depthwise, 1x1 project;
    // 2 = depthwise, 1x1 project; 0: this step runs layer-wide. strip: depthwise output rows per strip.
    int fuse, strip;
} plan_step;

struct gs_plan {
    const gs_model *m;
    const plan_kernels *k;
    plan_step *steps;
    int n_steps, n_slots, group, gap;  // gap: the model's pooling node
    size_t slot_floats[MAX_SLOTS];     // per frame
    size_t frame_floats;               // S*S*3
    float *weights;                    // folded kernels and biases
    float *head_scale, *head_shift;    // (C) head_bn as an affine map of the pooled features
    int C;
    float *params;                     // snapshot of the model's parameters (the head reads it)
    float l2;                          // its L2 penalty (plan_forward's loss[1])
    float *bufs;                       // per thread: n_slots buffers of group frames
    size_t thread_floats;
    float *strips;                     // per OpenMP thread: strip_floats for the fused blocks
    size_t strip_floats;
    int threads;                       // bufs and strips sized for
    float **head_out;                  // per node after the pooling: its output (cfg.batch rows)
    float *feat, *gru_cache, *gru_work;
    int *zero_labels;
    int profile;
    int unfused;                       // plan_set_fused_blocks(p, 0)
    double prof[STEP_KINDS + 2];       // seconds per step kind (thread 0), then pooling, then the head
};

// The buffer of slot `slot` in one thread's buffers (slots lie one after the other, each for a group).
static inline float *plan_slot_ptr(const gs_plan *p, float *bufs, int slot) {
    float *b = bufs;
    for (int s = 0; s < slot; s++) b += (p->slot_floats[s] * p->group + 15) / 16 * 16;
    return b;
}

// Marks the blocks worth fusing (steps[].fuse, .strip) and sizes p->strip_floats; before plan_buffers
// (steps name their inputs by step index), which keeps a fused block's input alive to its last step:
// strips still read it while the project writes the block's output.
void plan_blocks_mark(gs_plan *p);
// The fused block starting at step j over G frames (the input frames when its first step reads
// them): part `part` of `parts` of every frame's depthwise output rows, on this OpenMP thread's strip
// scratch.
void plan_block_run(const gs_plan *p, int j, float *bufs, const float *frames, int G, int part, int parts);

#endif
