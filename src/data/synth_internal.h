// Per-clip scene description of the synthetic gesture set, shared by the renderer and the writer
// (internal; the public API is gesture/synth.h).
#ifndef GESTURE_DATA_SYNTH_INTERNAL_H
#define GESTURE_DATA_SYNTH_INTERNAL_H

#include <stdint.h>

typedef struct {
    int type;              // 0 box, 1 disc, 2 blinds
    float x, y, sx, sy;    // centre and half size, fractions of width / height
    float color[3], color2[3];
} synth_obj;

typedef struct {
    int label, w, h;
    float big;              // uniform draw: the writer picks 360x360 when big < big_fraction
    float wall[3], wall_grad;
    int n_obj;
    synth_obj obj[12];
    float torso_x, torso_top, torso_w, shirt[3];
    int has_face;
    float face_x, face_y;
    float skin[3];
    float gain, noise, flicker;
    float scale, angle, phase, wobble, drift_x, drift_y;
    int mirror;
    float x0, x1, y0, t0, t1, arc;  // motion: start/end x, base y, active time span, arc height
    uint64_t noise_key;
    int no_hand;  // idle scene: the same room, lighting and noise without the hand (synth_write_long)
} synth_clip;

// Scene parameters of clip `index` of class `label`, drawn from the seed, for a w x h frame.
void synth_clip_init(synth_clip *c, int label, int index, uint64_t seed, int w, int h);
// The static scene: bg (h,w,3) float in 0..255.
void synth_render_background(float *bg, const synth_clip *c);
// Frame t of `frames`: the scene with the hand, lighting and noise → rgb (h,w,3).
void synth_render_frame_from(uint8_t *rgb, const float *bg, const synth_clip *c, int t, int frames);

#endif
