// Rendering of the synthetic gesture clips (see gesture/synth.h): a per-clip static scene drawn
// once, then per frame a hand built from signed-distance primitives (capsules, ellipses, rounded
// boxes) composited with 1-pixel antialiasing, lighting flicker and camera noise.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"
#include "gesture/rng.h"
#include "gesture/synth.h"
#include "synth_internal.h"

const char *const GS_SYNTH_CLASS_NAMES[GS_SYNTH_CLASSES] = {"Left_Swipe", "Right_Swipe", "Stop", "Thumbs_Down",
                                                             "Thumbs_Up"};

static const float SKIN[][3] = {{224, 172, 140}, {198, 134, 100}, {150, 95, 68}, {236, 196, 164}, {176, 116, 84}};

// Difficulty knobs, tuned so a small model learns the set in a few CPU minutes (see synth.h):
// how far clutter colours are pulled towards the wall, and how often a face (a skin-coloured
// distractor) is in the picture.
enum { FACE_PERCENT = 20 };
static const float MUTE = 0.6f;

static float frange(gs_rng *r, float lo, float hi) { return gs_rng_range(r, lo, hi); }

// A colour that is not skin-like, so clutter never looks like a hand, pulled towards the wall
// colour by `mute` (0 = as drawn, 1 = the wall): moderate clutter, like a real room.
static void clutter_color(float *c, gs_rng *r, const float *wall, float mute) {
    for (;;) {
        for (int k = 0; k < 3; k++) c[k] = frange(r, 20, 235);
        for (int k = 0; k < 3; k++) c[k] += (wall[k] - c[k]) * mute;
        int skinlike = c[0] > c[1] + 15 && c[1] > c[2] + 5 && c[0] > 120;
        if (!skinlike) return;
    }
}

void synth_clip_init(synth_clip *c, int label, int index, uint64_t seed, int w, int h) {
    memset(c, 0, sizeof *c);
    gs_rng r;
    gs_rng_seed(&r, gs_key(seed, 0x5c3e0u + (uint64_t)label, (uint64_t)index));
    c->label = label;
    c->w = w;
    c->h = h;
    c->big = gs_rng_uniform(&r);  // consumed by the writer to choose the frame size
    for (int k = 0; k < 3; k++) c->wall[k] = frange(&r, 60, 200);
    c->wall_grad = frange(&r, -40, 40);
    c->n_obj = 4 + (int)gs_rng_below(&r, 6);
    for (int i = 0; i < c->n_obj; i++) {
        synth_obj *o = &c->obj[i];
        o->type = (int)gs_rng_below(&r, 3);
        o->x = frange(&r, -0.1f, 1.1f);
        o->y = frange(&r, -0.1f, 0.9f);
        o->sx = frange(&r, 0.05f, 0.3f);
        o->sy = frange(&r, 0.05f, 0.3f);
        clutter_color(o->color, &r, c->wall, MUTE);
        clutter_color(o->color2, &r, c->wall, MUTE);
    }
    c->torso_x = frange(&r, 0.4f, 0.6f);
    c->torso_top = frange(&r, 0.68f, 0.82f);
    c->torso_w = frange(&r, 0.25f, 0.36f);
    clutter_color(c->shirt, &r, c->wall, 0.3f);
    c->has_face = gs_rng_uniform(&r) < FACE_PERCENT / 100.0f;
    c->face_x = frange(&r, 0.35f, 0.65f);
    c->face_y = frange(&r, 0.0f, 0.14f);
    const float *sk = SKIN[gs_rng_below(&r, 5)];
    for (int k = 0; k < 3; k++) c->skin[k] = sk[k] + frange(&r, -10, 10);
    c->gain = frange(&r, 0.85f, 1.15f);
    c->noise = frange(&r, 3, 8);
    c->scale = frange(&r, 1.15f, 1.45f);
    c->angle = frange(&r, -0.15f, 0.15f);
    c->mirror = gs_rng_uniform(&r) < 0.5f;
    c->phase = frange(&r, 0, 6.2832f);
    c->wobble = frange(&r, 0.008f, 0.025f);
    c->drift_x = frange(&r, -0.05f, 0.05f);
    c->drift_y = frange(&r, -0.04f, 0.04f);
    c->flicker = frange(&r, 0.0f, 0.03f);
    if (label <= 1) {  // swipes: travel across the frame
        float a = frange(&r, 0.14f, 0.3f), b = frange(&r, 0.7f, 0.86f);
        c->x0 = label == 1 ? a : b;
        c->x1 = label == 1 ? b : a;
        c->y0 = frange(&r, 0.42f, 0.6f);
        c->t0 = frange(&r, 0.0f, 0.2f);
        c->t1 = frange(&r, 0.8f, 1.0f);  // 1 - t1 distributed like t0: no time-free cue
        c->arc = frange(&r, 0.0f, 0.08f);
    } else {
        c->x0 = c->x1 = frange(&r, 0.35f, 0.65f);
        c->y0 = frange(&r, 0.4f, 0.58f);
    }
    c->noise_key = gs_key(seed, 0x9015eu + (uint64_t)label, (uint64_t)index);
}

static void blend(float *px, const float *col, float a) {
    for (int k = 0; k < 3; k++) px[k] += (col[k] - px[k]) * a;
}

void synth_render_background(float *bg, const synth_clip *c) {
    int w = c->w, h = c->h;
    float u = (float)(w < h ? w : h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float *p = bg + ((size_t)y * w + x) * 3;
            float g = c->wall_grad * ((float)y / h - 0.5f);
            for (int k = 0; k < 3; k++) p[k] = c->wall[k] + g;
        }
    for (int i = 0; i < c->n_obj; i++) {
        const synth_obj *o = &c->obj[i];
        int x0 = (int)((o->x - o->sx) * w), x1 = (int)((o->x + o->sx) * w);
        int y0 = (int)((o->y - o->sy) * h), y1 = (int)((o->y + o->sy) * h);
        if (x0 < 0) x0 = 0;
        if (y0 < 0) y0 = 0;
        if (x1 > w) x1 = w;
        if (y1 > h) y1 = h;
        for (int y = y0; y < y1; y++)
            for (int x = x0; x < x1; x++) {
                float dx = ((float)x / w - o->x) / o->sx, dy = ((float)y / h - o->y) / o->sy;
                float *p = bg + ((size_t)y * w + x) * 3;
                if (o->type == 0) blend(p, o->color, 1.0f);                                  // poster / box
                else if (o->type == 1 && dx * dx + dy * dy < 1.0f) blend(p, o->color, 1.0f);  // lamp / plate
                else if (o->type == 2) blend(p, ((int)((dy + 1) * 4) & 1) ? o->color : o->color2, 1.0f);  // blinds
            }
    }
    // Torso (rounded top) and sometimes a face: a person sits in front of the webcam.
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float fx = (float)x / w, fy = (float)y / h;
            float *p = bg + ((size_t)y * w + x) * 3;
            float dx = (fx - c->torso_x) * w / u, dy = (fy - c->torso_top) * h / u;
            float half = c->torso_w * w / u;
            if (dy > 0 && fabsf(dx) < half - 0.08f + sqrtf(fminf(dy, 0.08f) * 0.16f - fminf(dy, 0.08f) * fminf(dy, 0.08f)))
                blend(p, c->shirt, 1.0f);
            if (c->has_face) {
                float ex = (fx - c->face_x) * w / u, ey = (fy - c->face_y) * h / u;
                float d = ex * ex / (0.13f * 0.13f) + ey * ey / (0.17f * 0.17f);
                float face[3] = {c->skin[0] * 0.8f, c->skin[1] * 0.8f, c->skin[2] * 0.8f};
                float hair[3] = {40, 30, 25};
                if (d < 1.0f) blend(p, ey < -0.08f ? hair : face, 1.0f);
            }
        }
}

// ---- hand primitives (hand-local units: fraction of the short side, y down) ----

enum { PRIM_CAPSULE, PRIM_ELLIPSE, PRIM_BOX };
typedef struct {
    int type;
    float a[6];          // capsule: ax ay bx by r; ellipse: cx cy rx ry; box: cx cy hx hy r
    float shade;         // colour multiplier of this part
    float x0, y0, x1, y1;  // local bounding box, widened by the antialiasing margin
} prim;

// Bounding box of a primitive plus `margin`: pixels outside it skip the square roots.
static void prim_bounds(prim *p, float margin) {
    float r = p->type == PRIM_CAPSULE ? p->a[4] : 0;
    float ax = p->a[0], ay = p->a[1], bx = p->a[0], by = p->a[1];
    if (p->type == PRIM_CAPSULE) bx = p->a[2], by = p->a[3];
    else ax -= p->a[2], bx += p->a[2], ay -= p->a[3], by += p->a[3];
    p->x0 = fminf(ax, bx) - r - margin;
    p->x1 = fmaxf(ax, bx) + r + margin;
    p->y0 = fminf(ay, by) - r - margin;
    p->y1 = fmaxf(ay, by) + r + margin;
}

static float sd_prim(const prim *p, float x, float y) {
    if (p->type == PRIM_CAPSULE) {
        float bax = p->a[2] - p->a[0], bay = p->a[3] - p->a[1];
        float pax = x - p->a[0], pay = y - p->a[1];
        float t = (pax * bax + pay * bay) / (bax * bax + bay * bay);
        t = t < 0 ? 0 : (t > 1 ? 1 : t);
        float dx = pax - bax * t, dy = pay - bay * t;
        return sqrtf(dx * dx + dy * dy) - p->a[4];
    }
    if (p->type == PRIM_ELLIPSE) {
        float dx = (x - p->a[0]) / p->a[2], dy = (y - p->a[1]) / p->a[3];
        return (sqrtf(dx * dx + dy * dy) - 1.0f) * fminf(p->a[2], p->a[3]);
    }
    float qx = fabsf(x - p->a[0]) - (p->a[2] - p->a[4]), qy = fabsf(y - p->a[1]) - (p->a[3] - p->a[4]);
    float mx = fmaxf(qx, 0), my = fmaxf(qy, 0);
    return sqrtf(mx * mx + my * my) + fminf(fmaxf(qx, qy), 0.0f) - p->a[4];
}

static int add(prim *v, int n, int type, float a0, float a1, float a2, float a3, float a4, float shade) {
    v[n] = (prim){type, {a0, a1, a2, a3, a4, 0}, shade, 0, 0, 0, 0};
    return n + 1;
}

// The hand of a class, centred on the palm, unscaled. Returns the number of primitives.
static int hand_shape(prim *v, int label) {
    int n = 0;
    if (label <= 1) {  // flat hand, fingers together: symmetric so the frame hides the direction
        n = add(v, n, PRIM_ELLIPSE, 0, 0, 0.11f, 0.12f, 0, 1.0f);
        n = add(v, n, PRIM_BOX, 0, -0.17f, 0.085f, 0.11f, 0.05f, 1.05f);
        n = add(v, n, PRIM_CAPSULE, -0.03f, -0.24f, -0.03f, -0.1f, 0.004f, 0.8f);  // finger seams
        n = add(v, n, PRIM_CAPSULE, 0.03f, -0.24f, 0.03f, -0.1f, 0.004f, 0.8f);
    } else if (label == 2) {  // open palm, long fingers spread wide, thumb out: a large star
        n = add(v, n, PRIM_ELLIPSE, 0, 0, 0.12f, 0.13f, 0, 1.0f);
        const float bx[4] = {-0.08f, -0.028f, 0.026f, 0.076f}, len[4] = {0.19f, 0.23f, 0.22f, 0.17f};
        const float ang[4] = {-0.55f, -0.18f, 0.18f, 0.55f};
        for (int k = 0; k < 4; k++)
            n = add(v, n, PRIM_CAPSULE, bx[k], -0.08f, bx[k] + len[k] * sinf(ang[k]), -0.08f - len[k] * cosf(ang[k]),
                    0.03f, 1.04f);
        n = add(v, n, PRIM_CAPSULE, -0.09f, 0.03f, -0.25f, -0.07f, 0.034f, 0.97f);
    } else {  // compact fist with a long thumb up (4) or down (3)
        float s = label == 4 ? -1.0f : 1.0f;
        n = add(v, n, PRIM_CAPSULE, -0.06f, 0.0f, -0.06f, 0.28f * s, 0.045f, 1.06f);
        n = add(v, n, PRIM_BOX, 0.02f, 0, 0.12f, 0.085f, 0.04f, 1.0f);
        for (int k = 0; k < 3; k++) {  // finger creases
            float y = -0.04f + 0.04f * k;
            n = add(v, n, PRIM_CAPSULE, 0.0f, y, 0.12f, y, 0.005f, 0.7f);
        }
    }
    return n;
}

void synth_render_frame_from(uint8_t *rgb, const float *bg, const synth_clip *c, int t, int frames) {
    int w = c->w, h = c->h;
    float u = (float)(w < h ? w : h);
    float p = frames > 1 ? (float)t / (frames - 1) : 0.0f;
    // Hand position (fractions of width/height) and size at this time.
    float cx, cy, sc = c->scale;
    if (c->label <= 1) {
        float q = (p - c->t0) / (c->t1 - c->t0);
        q = q < 0 ? 0 : (q > 1 ? 1 : q);
        q = q * q * (3 - 2 * q);  // ease in/out
        cx = c->x0 + (c->x1 - c->x0) * q;
        cy = c->y0 - c->arc * sinf(3.14159265f * q);
    } else {
        cx = c->x0 + c->drift_x * p + c->wobble * sinf(c->phase + 6.0f * p);
        cy = c->y0 + c->drift_y * p + c->wobble * cosf(c->phase + 5.0f * p);
        if (c->label == 2) sc *= 1.15f + 0.12f * p;  // stop: a big open hand pushed towards the camera
    }
    prim v[12];
    int n = hand_shape(v, c->label);
    for (int k = 0; k < n; k++) prim_bounds(&v[k], 2.0f / (sc * u));
    float ca = cosf(c->angle), sa = sinf(c->angle);
    float px_x = cx * w, px_y = cy * h;
    float reach = 0.4f * sc * u;  // bounding radius of every shape, in pixels
    int bx0 = (int)(px_x - reach), bx1 = (int)(px_x + reach) + 1, by0 = (int)(px_y - reach), by1 = (int)(px_y + reach) + 1;
    if (c->no_hand) bx1 = bx0;  // an empty hand box
    float gain = c->gain * (1.0f + c->flicker * sinf(c->phase * 3.0f + 11.0f * p));
    // Camera noise on 4x4 blocks, luma only: it looks like webcam compression artifacts and keeps
    // the PNGs compressible (per-pixel noise made frames 15x larger and 5x slower to encode).
    float amp = c->noise;
    uint64_t nkey = c->noise_key ^ gs_hash64((uint64_t)t);
    float *bn = gs_malloc(sizeof(float) * (size_t)(w / 4 + 1));
    for (int y = 0; y < h; y++) {
        if (y % 4 == 0)
            for (int bx = 0; bx <= w / 4; bx++) bn[bx] = (gs_counter_uniform(nkey, (uint64_t)(y / 4) * 4096 + bx) - 0.5f) * 2.0f * amp;
        for (int x = 0; x < w; x++) {
            const float *b = bg + ((size_t)y * w + x) * 3;
            float col[3] = {b[0], b[1], b[2]};
            if (x >= bx0 && x < bx1 && y >= by0 && y < by1) {
                // Pixel → hand-local coordinates (undo translation, rotation, scale, mirror).
                float dx = (x + 0.5f - px_x) / u, dy = (y + 0.5f - px_y) / u;
                float lx = (ca * dx + sa * dy) / sc, ly = (-sa * dx + ca * dy) / sc;
                if (c->mirror) lx = -lx;
                float dmin = 1e9f, shade = 1.0f;
                for (int k = 0; k < n; k++) {
                    if (lx < v[k].x0 || lx > v[k].x1 || ly < v[k].y0 || ly > v[k].y1) continue;
                    float d = sd_prim(&v[k], lx, ly);
                    if (d < 0) shade = v[k].shade;  // painter's order: later parts on top
                    if (d < dmin) dmin = d;
                }
                float dpx = dmin * sc * u;  // signed distance in pixels
                if (dpx < 0.5f) {
                    float cover = dpx < -0.5f ? 1.0f : 0.5f - dpx;
                    // Darker rim (1.5 px) and light from above give the shape a readable outline.
                    float rim = dpx > -1.5f ? 0.6f : 1.0f;
                    float light = 1.05f - 0.25f * ly;
                    float hand[3];
                    for (int k = 0; k < 3; k++) hand[k] = c->skin[k] * shade * rim * light;
                    blend(col, hand, cover);
                }
            }
            uint8_t *o = rgb + ((size_t)y * w + x) * 3;
            float noise = bn[x >> 2];
            for (int k = 0; k < 3; k++) {
                float vv = col[k] * gain + noise;
                o[k] = (uint8_t)(vv < 0 ? 0 : (vv > 255 ? 255 : vv + 0.5f));
            }
        }
    }
    free(bn);
}

void synth_render_frame(uint8_t *rgb, int w, int h, int label, int index, int t, int frames, uint64_t seed) {
    GS_ASSERT(label >= 0 && label < GS_SYNTH_CLASSES && w > 0 && h > 0);
    synth_clip c;
    synth_clip_init(&c, label, index, seed, w, h);
    float *bg = gs_malloc((size_t)w * h * 3 * sizeof(float));
    synth_render_background(bg, &c);
    synth_render_frame_from(rgb, bg, &c, t, frames);
    free(bg);
}
