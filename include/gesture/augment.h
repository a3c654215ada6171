// Frame selection and clip augmentation. Every random choice is a counter-based draw
// gs_counter_uniform(key, slot) with key = gs_key(seed, epoch, clip id), so a clip's frames and
// augmentation depend only on (seed, epoch, clip) — never on thread count, batch position or
// order of processing — and one draw is shared by all frames of the clip (a crop, flip or
// brightness change that jumped between frames would be a different video).
#ifndef GESTURE_AUGMENT_H
#define GESTURE_AUGMENT_H

#include <stdint.h>

#include "gesture/image.h"
#include "gesture/types.h"

// Which T frames of an N-frame clip feed the model.
//  stride:  frames start, start+step, ..., start+(T-1)*step (the seed: step 2, T 15, start 0);
//           needs N >= (T-1)*step + 1.
//  uniform: frame floor((i + 0.5) * N / T) for i < T (centres of T equal segments); needs N >= T.
// (gs_sampling, GS_SAMPLING_STRIDE / GS_SAMPLING_UNIFORM: gesture/types.h)

// Augmentation switches (train split only; 0 = off). Values are the ranges of the per-clip draws,
// with the meanings of the [data] augment_* config keys.
typedef struct {
    int flip;              // mirror with p = 0.5, swapping Left_* <-> Right_* labels
    float crop_scale;      // random resized crop: fraction of the side cut away drawn in [0, crop_scale],
                           // aspect kept, window placed uniformly, resized back to S x S
    float shift;           // translation drawn in [-shift, shift] of width/height, border replicated (0 = off)
    float brightness;      // added in [0,1] units, drawn in [-brightness, brightness] (0 = off)
    float contrast;        // factor around mid-grey drawn in [1-contrast, 1+contrast] (0 = off)
    int temporal_jitter;   // stride: start offset in [0, min(jitter, N-span)]; uniform: each index
                           // moved by [-jitter, jitter] then kept in order (0 = off)
} gs_augment;

// One clip's draws.
typedef struct {
    int flip;
    float side;          // crop side as a fraction of the frame side
    float cx, cy;        // crop position in [0,1) of the free room
    float sx, sy;        // shift, fractions of width / height
    float brightness, contrast;
} gs_clip_aug;

// No augmentation (identity).
gs_clip_aug augment_identity(void);
// Draw a clip's augmentation from key (active = 0 gives the identity without drawing).
gs_clip_aug augment_draw(const gs_augment *a, uint64_t key, int active);
// Resize parameters for a W x H frame under this augmentation.
gs_resize_params augment_resize_params(const gs_clip_aug *ca, int W, int H, gs_normalize normalize);

// The fewest frames a clip needs to give T frames: (T - 1) * step + 1 for stride sampling, T for
// uniform. frames_select refuses shorter clips; `gesture prepare --config` checks them up front.
int frames_needed(int T, gs_sampling s, int step);

// Frame indices idx (T). jitter = 0 gives the deterministic selection; key feeds the jitter draws.
// Returns -1 with gs_error("too few frames ...") if the clip is too short (message without a path;
// callers prefix the clip folder).
int frames_select(int *idx, int n_frames, int T, gs_sampling s, int step, int jitter, uint64_t key);

#endif
