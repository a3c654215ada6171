// One clip → one (T,S,S,3) tensor: frame selection, PNG/JPEG decode (or cache hit), augmented bilinear
// resize and normalization (see loader_internal.h). Runs on the loader's worker threads; everything
// it touches is either per-thread scratch or the lock-free frame cache.
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/augment.h"
#include "gesture/errors.h"
#include "gesture/image.h"
#include "gesture/frame_image.h"
#include "loader_internal.h"

// Cache block: a 16-byte header (w, h) followed by the RGB8 pixels.
enum { CACHE_HDR = 16 };

struct frame_cache {
    _Atomic(uint8_t *) *slots;  // (sum of n_frames)
    int *offset;                // (n_clips) first slot of each clip
    int n_clips;
    size_t n_slots;
    size_t max_bytes;           // 0 = unlimited
    _Atomic size_t used;
};

frame_cache *frame_cache_init(const gs_dataset *ds, size_t max_bytes) {
    frame_cache *fc = gs_calloc(1, sizeof *fc);
    fc->offset = gs_malloc(sizeof(int) * (size_t)(ds->n_clips ? ds->n_clips : 1));
    size_t n = 0;
    for (int i = 0; i < ds->n_clips; i++) {
        fc->offset[i] = (int)n;
        n += (size_t)ds->clips[i].n_frames;
    }
    fc->n_clips = ds->n_clips;
    fc->n_slots = n;
    fc->slots = gs_calloc(n ? n : 1, sizeof(*fc->slots));
    for (size_t k = 0; k < n; k++) atomic_init(&fc->slots[k], NULL);
    fc->max_bytes = max_bytes;
    atomic_init(&fc->used, 0);
    return fc;
}

void frame_cache_free(frame_cache *fc) {
    if (!fc) return;
    for (size_t k = 0; k < fc->n_slots; k++) free(atomic_load(&fc->slots[k]));
    free(fc->slots);
    free(fc->offset);
    free(fc);
}

// Store a decoded frame if the budget allows. Two threads racing on one slot (only possible if a
// caller loads the same clip concurrently) keep the first copy.
static void cache_put(frame_cache *fc, size_t slot, const uint8_t *rgb, int w, int h) {
    size_t bytes = CACHE_HDR + (size_t)w * h * 3;
    size_t before = atomic_fetch_add(&fc->used, bytes);
    if (fc->max_bytes && before + bytes > fc->max_bytes) {
        atomic_fetch_sub(&fc->used, bytes);
        return;
    }
    uint8_t *blk = gs_malloc(bytes);
    ((int *)blk)[0] = w;
    ((int *)blk)[1] = h;
    memcpy(blk + CACHE_HDR, rgb, bytes - CACHE_HDR);
    uint8_t *expected = NULL;
    if (!atomic_compare_exchange_strong(&fc->slots[slot], &expected, blk)) {
        free(blk);
        atomic_fetch_sub(&fc->used, bytes);
    }
}

void clip_scratch_free(clip_scratch *s) {
    free(s->buf);
    free(s->idx);
    memset(s, 0, sizeof *s);
}

void clip_frame_to_tensor(float *x, const uint8_t *rgb, int w, int h, const gs_clip_aug *ca, const gs_loader_config *c) {
    gs_resize_params p = augment_resize_params(ca, w, h, c->normalize);
    p.resize = c->resize;
    image_resize_rgb8(x, rgb, w, h, c->size, c->size, &p);
}

int clip_to_tensor(float *x, int *label, const gs_clip *clip, int clip_id, const gs_loader_config *c, int aug_active,
                   const int *swap, uint64_t key, frame_cache *fc, clip_scratch *s) {
    int T = c->frames, S = c->size;
    if (!s->idx) s->idx = gs_malloc(sizeof(int) * (size_t)T);
    int jitter = aug_active ? c->aug.temporal_jitter : 0;
    if (frames_select(s->idx, clip->n_frames, T, c->sampling, c->frame_step, jitter, key) != 0) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", gs_last_error());
        return gs_error("%s: %s", clip->dir, msg);
    }
    gs_clip_aug ca = augment_draw(&c->aug, key, aug_active);
    size_t frame_n = (size_t)S * S * 3;
    for (int t = 0; t < T; t++) {
        int f = s->idx[t];
        const uint8_t *rgb = NULL;
        int w = 0, h = 0;
        size_t slot = fc ? (size_t)fc->offset[clip_id] + (size_t)f : 0;
        uint8_t *blk = fc ? atomic_load_explicit(&fc->slots[slot], memory_order_acquire) : NULL;
        if (blk) {
            w = ((int *)blk)[0];
            h = ((int *)blk)[1];
            rgb = blk + CACHE_HDR;
        } else {
            if (gs_frame_image_read_rgb8_into(&s->buf, &s->cap, &w, &h, clip->frames[f]) != 0) return -1;
            rgb = s->buf;
            if (fc) cache_put(fc, slot, rgb, w, h);
        }
        clip_frame_to_tensor(x + (size_t)t * frame_n, rgb, w, h, &ca, c);
    }
    *label = clip->label;
    if (ca.flip && clip->label >= 0 && swap) *label = swap[clip->label];
    return 0;
}
