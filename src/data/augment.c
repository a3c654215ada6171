// Frame selection and per-clip augmentation draws (see gesture/augment.h).
#include "gesture/augment.h"

#include "gesture/errors.h"
#include "gesture/rng.h"

// Fixed draw slots: each decision has its own counter, so adding one never shifts the others.
enum { SLOT_FLIP, SLOT_SCALE, SLOT_CX, SLOT_CY, SLOT_SX, SLOT_SY, SLOT_BRIGHT, SLOT_CONTRAST, SLOT_TSTART, SLOT_TFRAME };

gs_clip_aug augment_identity(void) {
    gs_clip_aug c = {0};
    c.side = 1.0f;
    c.contrast = 1.0f;
    return c;
}

gs_clip_aug augment_draw(const gs_augment *a, uint64_t key, int active) {
    gs_clip_aug c = augment_identity();
    if (!active) return c;
    if (a->flip) c.flip = gs_counter_uniform(key, SLOT_FLIP) < 0.5f;
    if (a->crop_scale > 0) {
        c.side = 1.0f - a->crop_scale * gs_counter_uniform(key, SLOT_SCALE);
        c.cx = gs_counter_uniform(key, SLOT_CX);
        c.cy = gs_counter_uniform(key, SLOT_CY);
    }
    if (a->shift > 0) {
        c.sx = (2.0f * gs_counter_uniform(key, SLOT_SX) - 1.0f) * a->shift;
        c.sy = (2.0f * gs_counter_uniform(key, SLOT_SY) - 1.0f) * a->shift;
    }
    if (a->brightness > 0) c.brightness = (2.0f * gs_counter_uniform(key, SLOT_BRIGHT) - 1.0f) * a->brightness;
    if (a->contrast > 0) c.contrast = 1.0f + (2.0f * gs_counter_uniform(key, SLOT_CONTRAST) - 1.0f) * a->contrast;
    return c;
}

gs_resize_params augment_resize_params(const gs_clip_aug *ca, int W, int H, gs_normalize normalize) {
    gs_resize_params p = image_resize_params(W, H, normalize);
    p.cw = ca->side * (float)W;
    p.ch = ca->side * (float)H;
    p.x0 = ((float)W - p.cw) * ca->cx + ca->sx * (float)W;
    p.y0 = ((float)H - p.ch) * ca->cy + ca->sy * (float)H;
    p.flip = ca->flip;
    p.brightness = ca->brightness;
    p.contrast = ca->contrast;
    return p;
}

// Integer in [lo, hi] from one draw.
static int draw_int(uint64_t key, uint64_t slot, int lo, int hi) {
    int v = lo + (int)(gs_counter_uniform(key, slot) * (float)(hi - lo + 1));
    return v > hi ? hi : v;
}

int frames_needed(int T, gs_sampling s, int step) { return s == GS_SAMPLING_STRIDE ? (T - 1) * step + 1 : T; }

int frames_select(int *idx, int n_frames, int T, gs_sampling s, int step, int jitter, uint64_t key) {
    GS_ASSERT(T >= 1 && step >= 1 && jitter >= 0);
    if (s == GS_SAMPLING_STRIDE) {
        int span = frames_needed(T, s, step);
        if (n_frames < span)
            return gs_error("too few frames (%d; %d frames every %d need at least %d)", n_frames, T, step, span);
        int room = n_frames - span;
        int start = jitter > 0 ? draw_int(key, SLOT_TSTART, 0, jitter < room ? jitter : room) : 0;
        for (int i = 0; i < T; i++) idx[i] = start + i * step;
        return 0;
    }
    if (n_frames < T) return gs_error("too few frames (%d; uniform sampling of %d needs at least %d)", n_frames, T, T);
    for (int i = 0; i < T; i++) {
        int v = (int)(((long)2 * i + 1) * n_frames / (2L * T));
        if (jitter > 0) v += draw_int(key, SLOT_TFRAME + (uint64_t)i, -jitter, jitter);
        if (v < 0) v = 0;
        if (v > n_frames - 1) v = n_frames - 1;
        if (i > 0 && v < idx[i - 1]) v = idx[i - 1];
        idx[i] = v;
    }
    return 0;
}
