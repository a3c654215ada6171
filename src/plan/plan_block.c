// MobileNetV2's inverted residual blocks in row strips: 1x1 expand, depthwise 3x3, 1x1 project (+
// residual), or depthwise and project alone. Run layer by layer, the expanded tensor (6x the block's
// channels; 112x112x96 floats = 4.8 MB per 224 frame) is written to memory by the expand, read and
// written again by the depthwise, read once more by the project. In strips, the depthwise output
// rows of one strip and the expand rows they read stay in L2: the expand computes only the rows a
// strip needs beyond those the last strip left (its last K - stride rows move to the front of the
// scratch), the depthwise writes the strip, and the project turns it into the block's output rows
// at once. Same kernels, same arithmetic per value as the layer-wide steps; only the order differs.
// Small tensors gain nothing from it (they stay in cache anyway, and shorter GEMMs reuse the weights
// less), so only blocks whose expanded tensor is large are fused.
#include <omp.h>
#include <string.h>

#include "plan_steps.h"

// Fuse a block when its largest per-frame tensor holds at least this many floats (512 KB: past L2).
#define FUSE_MIN_FLOATS (128 * 1024)
// Floats a strip's scratch aims at (expand rows + depthwise rows): 256 KB, half of a 512 KB L2.
#define STRIP_FLOATS (64 * 1024)

static inline int imax(int a, int b) { return a > b ? a : b; }
static inline int imin(int a, int b) { return a < b ? a : b; }

// Floats of expand rows a strip of R depthwise rows reads at most: s*(R-1) + K rows of W*C.
static size_t expand_rows_floats(const plan_step *d, int R) {
    return (size_t)(d->g.stride * (R - 1) + d->g.K) * d->g.W * d->g.Ci;
}

static size_t strip_scratch_floats(const plan_step *d, int R, int expand) {
    size_t e = expand ? (expand_rows_floats(d, R) + 15) / 16 * 16 : 0;
    return e + (size_t)R * d->g.Wo * d->g.Co;
}

void plan_blocks_mark(gs_plan *p) {
    p->strip_floats = 0;
    for (int j = 0; j + 1 < p->n_steps; j++) {
        plan_step *e = &p->steps[j], *d = e, *q;
        int n = 2;
        if (e->kind == STEP_PW && p->steps[j + 1].kind == STEP_DW && j + 2 < p->n_steps) d = e + 1, n = 3;
        q = d + 1;
        int di = (int)(d - p->steps);  // steps still name their inputs by step index here
        if (d->kind != STEP_DW || q->kind != STEP_PW || q->in != di || (n == 3 && d->in != j)) continue;
        if (d->g.K != 3) continue;
        size_t big = n == 3 ? e->out_floats : d->in_floats > d->out_floats ? d->in_floats : d->out_floats;
        if (big < FUSE_MIN_FLOATS) continue;
        size_t per_row = (size_t)d->g.stride * d->g.W * d->g.Ci + (size_t)d->g.Wo * d->g.Co;
        int R = (int)(STRIP_FLOATS / per_row);
        e->fuse = n;
        e->strip = imin(d->g.Ho, imax(1, R));
        size_t f = strip_scratch_floats(d, e->strip, n == 3);
        if (f > p->strip_floats) p->strip_floats = f;
        j += n - 1;
    }
    p->strip_floats = (p->strip_floats + 15) / 16 * 16;
}

// Expand rows [a, b) of one frame in E, which holds rows [*eb, *ee): rows already there move to the
// front, the others are computed. E then holds [a, b).
static void expand_rows(const gs_plan *p, const plan_step *e, float *E, const float *x, int a, int b, int *eb,
                        int *ee) {
    size_t row = (size_t)e->g.W * e->g.Co;
    int from = a;
    if (*ee > a && *eb <= a) {
        memmove(E, E + (size_t)(a - *eb) * row, (size_t)(*ee - a) * row * sizeof(float));
        from = *ee;
    }
    if (b > from)
        p->k->pw(E + (size_t)(from - a) * row, x + (size_t)from * e->g.W * e->g.Ci, e->w, e->bias, NULL,
                 (b - from) * e->g.W, e->g.Ci, e->g.Co, e->act);
    *eb = a, *ee = b;
}

void plan_block_run(const gs_plan *p, int j, float *bufs, const float *frames, int G, int part, int parts) {
    const plan_step *first = &p->steps[j];
    const plan_step *e = first->fuse == 3 ? first : NULL, *d = e ? first + 1 : first, *q = d + 1;
    const float *in = first->in < 0 ? frames : plan_slot_ptr(p, bufs, first->in);
    float *out = plan_slot_ptr(p, bufs, q->out);
    const float *res = q->res >= 0 ? plan_slot_ptr(p, bufs, q->res) : NULL;
    float *E = p->strips + (size_t)omp_get_thread_num() * p->strip_floats;
    float *D = e ? E + (expand_rows_floats(d, first->strip) + 15) / 16 * 16 : E;
    int s = d->g.stride, Ho = d->g.Ho, Wo = d->g.Wo, C = d->g.Co, Co = q->g.Co, R = first->strip;
    for (int img = 0; img < G; img++) {
        const float *x = in + (size_t)img * first->in_floats;
        float *o = out + (size_t)img * q->out_floats;
        const float *r = res ? res + (size_t)img * q->out_floats : NULL;
        int Y0 = (int)((long)Ho * part / parts), Y1 = (int)((long)Ho * (part + 1) / parts), eb = 0, ee = 0;
        for (int y0 = Y0; y0 < Y1; y0 += R) {
            int y1 = imin(Y1, y0 + R);
            // the depthwise over this strip, its output rows renumbered from 0 by the geometry
            plan_geom g = d->g;
            g.Ho = y1 - y0;
            g.pad_top = d->g.pad_top - s * y0;
            const float *dw_in = x;
            if (e) {  // from the expand rows in E: rows [a, b) of the frame, renumbered from 0
                int a = imax(0, s * y0 - d->g.pad_top), b = imin(d->g.H, s * (y1 - 1) - d->g.pad_top + d->g.K);
                expand_rows(p, e, E, x, a, b, &eb, &ee);
                g.H = b - a;
                g.pad_top += a;
                dw_in = E;
            }
            p->k->dw(D, dw_in, d->w, d->bias, &g, 0, y1 - y0, d->act);
            p->k->pw(o + (size_t)y0 * Wo * Co, D, q->w, q->bias, r ? r + (size_t)y0 * Wo * Co : NULL, (y1 - y0) * Wo,
                     C, Co, q->act);
        }
    }
}
