// The sliding-window model of `gesture stream` (gesture/stream.h): per-frame features into a ring,
// the BiGRU + dense head over the ring.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/device.h"
#include "gesture/errors.h"
#include "gesture/plan.h"
#include "gesture/stream.h"

// Smallest frame size a model can be planned at: the head copy never runs its backbone, and the
// pooled features have the same width at every size, so planning it small only saves memory.
enum { HEAD_PLAN_SIZE = 32 };

static int copy_of(gs_model *dst, const gs_model *src, int frames, int size) {
    gs_model_arch a = src->cfg;
    a.frames = frames;
    a.batch = 1;
    a.size = size;
    if (model_init(dst, &a) != 0) return -1;
    if (dst->params.numel != src->params.numel) {
        model_free(dst);
        return gs_error("stream: the window model's parameters (%zu floats) differ from the model's (%zu)",
                        dst->params.numel, src->params.numel);
    }
    memcpy(dst->params.data, src->params.data, src->params.numel * sizeof(float));
    return 0;
}

int window_model_init(gs_window_model *wm, const gs_model *full, const void *gpu, int bf16) {
    GS_ASSERT(!bf16 || gpu);  // the CPU has no bf16 path (gesture/precision.h)
    memset(wm, 0, sizeof *wm);
    if (copy_of(&wm->feat, full, 1, full->cfg.size) != 0) return -1;
    if (copy_of(&wm->head, full, full->cfg.frames, HEAD_PLAN_SIZE) != 0) {
        model_free(&wm->feat);
        return -1;
    }
    wm->gap_feat = model_find_node(&wm->feat, "global_average_pooling");
    wm->gap_head = model_find_node(&wm->head, "global_average_pooling");
    if (wm->gap_feat < 0 || wm->gap_head < 0) {
        window_model_free(wm);
        return gs_error("stream: the model has no global_average_pooling layer");
    }
    wm->T = full->cfg.frames;
    wm->C = wm->feat.nodes[wm->gap_feat].shape[1];
    wm->K = full->cfg.classes;
    wm->ring = gs_calloc((size_t)wm->T * wm->C, sizeof(float));
    wm->times = gs_calloc((size_t)wm->T, sizeof(double));
    if (gpu) {
        const gs_device_backend *d = gpu;
        wm->gpu_h = d->features_init(&wm->feat, bf16);
        if (!wm->gpu_h) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", gs_last_error());
            window_model_free(wm);
            return gs_error("stream on %s: %s", d->name, msg);
        }
        wm->gpu = gpu;
        size_t S = (size_t)full->cfg.size;
        wm->frame = gs_aligned_alloc(S * S * 3 * sizeof(float));
    }
    return 0;
}

int window_model_use_plan(gs_window_model *wm, int bf16) {
    GS_ASSERT(!bf16 || wm->gpu);  // the CPU plan has no bf16 (gesture/precision.h)
    if (wm->plan) return 0;
    if (plan_build(&wm->plan, &wm->feat) != 0) return -1;
    GS_ASSERT(plan_feature_width(wm->plan) == wm->C);
    if (wm->gpu) {  // the plan on the device replaces the walker there
        const gs_device_backend *d = wm->gpu;
        void *h = d->plan_init(wm->plan, bf16);
        if (!h) return -1;
        d->features_free(wm->gpu_h);
        wm->gpu_h = NULL;
        wm->gpu_plan = h;
        return 0;
    }
    // the plan reads the frame from here: the walker's arena for `feat` is never allocated then
    size_t S = (size_t)wm->feat.cfg.size;
    wm->frame = gs_aligned_alloc(S * S * 3 * sizeof(float));
    return 0;
}

void window_model_free(gs_window_model *wm) {
    if (wm->gpu_plan) ((const gs_device_backend *)wm->gpu)->plan_free(wm->gpu_plan);
    plan_free(wm->plan);
    if (wm->gpu_h) ((const gs_device_backend *)wm->gpu)->features_free(wm->gpu_h);
    free(wm->frame);
    if (wm->feat.nodes) model_free(&wm->feat);
    if (wm->head.nodes) model_free(&wm->head);
    free(wm->ring);
    free(wm->times);
    memset(wm, 0, sizeof *wm);
}

float *window_model_frame(gs_window_model *wm) { return wm->frame ? wm->frame : model_input(&wm->feat); }

void window_model_push(gs_window_model *wm, double t) {
    int slot = (int)(wm->n % wm->T);
    float *dst = wm->ring + (size_t)slot * wm->C;  // (C)
    if (wm->gpu_plan) {
        ((const gs_device_backend *)wm->gpu)->plan_features(wm->gpu_plan, dst, wm->frame, 1);
    } else if (wm->gpu) {
        ((const gs_device_backend *)wm->gpu)->features_run(wm->gpu_h, dst, wm->frame, 1, wm->gap_feat + 1);
    } else if (wm->plan) {
        plan_features(wm->plan, dst, wm->frame, 1);
    } else {
        model_forward_nodes(&wm->feat, 1, 0, wm->gap_feat + 1);
        memcpy(dst, model_node_output(&wm->feat, wm->gap_feat), (size_t)wm->C * sizeof(float));
    }
    wm->times[slot] = t;
    wm->n++;
}

int window_model_full(const gs_window_model *wm) { return wm->n >= wm->T; }

void window_model_probs(gs_window_model *wm, float *probs, double *t0, double *t1) {
    GS_ASSERT(window_model_full(wm));
    float *x = model_node_output(&wm->head, wm->gap_head);  // (T,C): the window in time order
    int oldest = (int)(wm->n % wm->T);
    for (int t = 0; t < wm->T; t++)
        memcpy(x + (size_t)t * wm->C, wm->ring + (size_t)((oldest + t) % wm->T) * wm->C, (size_t)wm->C * sizeof(float));
    model_forward_nodes(&wm->head, 1, wm->gap_head + 1, wm->head.n_nodes);
    memcpy(probs, model_probs(&wm->head), (size_t)wm->K * sizeof(float));
    *t0 = wm->times[oldest];
    *t1 = wm->times[(oldest + wm->T - 1) % wm->T];
}
