// Laying out an op's scratch (`work`, gesture/ops.h). Each op has ONE layout function that takes
// its pieces from a work_plan in order: called with base NULL it only sums the size (the op's
// *_work_floats), called with the caller's buffer it hands out the pieces, so size and use cannot
// disagree. Pieces are 64-byte aligned when base is (gs_aligned_alloc, the executor's plan).
#ifndef GESTURE_OPS_WORK_H
#define GESTURE_OPS_WORK_H

#include <stddef.h>

typedef struct {
    float *base;  // NULL: sizing only
    size_t used;  // floats handed out so far
} work_plan;

static inline void *work_piece(work_plan *w, size_t bytes) {
    void *p = w->base ? w->base + w->used : NULL;
    w->used += (bytes + 63) / 64 * 16;  // in floats, rounded up to 64 bytes
    return p;
}

#endif
