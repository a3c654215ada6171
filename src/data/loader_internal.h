// Clip → tensor pipeline and the decoded-frame cache, shared by the loader's workers and the
// synchronous loader_load_clip (internal; the public API is gesture/loader.h).
#ifndef GESTURE_DATA_LOADER_INTERNAL_H
#define GESTURE_DATA_LOADER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "gesture/dataset.h"
#include "gesture/loader.h"

// Decoded uint8 frames kept after first use, one slot per (clip, frame); lock-free: slots are
// published with an atomic compare-and-swap, and the byte budget with an atomic counter.
typedef struct frame_cache frame_cache;
frame_cache *frame_cache_init(const gs_dataset *ds, size_t max_bytes);
void frame_cache_free(frame_cache *fc);

// Per-thread scratch: the frame decode buffer and the frame index list, reused across clips.
typedef struct {
    uint8_t *buf;
    size_t cap;
    int *idx;  // (T)
} clip_scratch;

void clip_scratch_free(clip_scratch *s);

// One frame rgb (h,w,3) resized, augmented by ca and normalized into x (S,S,3), S = c->size.
void clip_frame_to_tensor(float *x, const uint8_t *rgb, int w, int h, const gs_clip_aug *ca, const gs_loader_config *c);

// Decode, select, augment, resize and normalize one clip into x (T,S,S,3); *label gets its label
// after a flip's swap (swap[c] = the mirrored class of c, or c). clip_id indexes the cache (fc may
// be NULL). key = gs_key(seed, epoch, clip_id); aug_active = augmentation applies (train split).
// Errors (-1, gs_error) name the file or clip folder.
int clip_to_tensor(float *x, int *label, const gs_clip *clip, int clip_id, const gs_loader_config *c, int aug_active,
                   const int *swap, uint64_t key, frame_cache *fc, clip_scratch *s);

#endif
