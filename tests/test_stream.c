// gesture stream's pieces without a video: the window model (per-frame features cached in a ring,
// the head over the ring) against the whole model's forward on the same frames, and the event
// detector's rules (smoothing, threshold, minimum duration, refractory period, run ends).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"
#include "gesture/model.h"
#include "gesture/stream.h"
#include "testutil.h"

enum { T = 5, S = 32, N_FRAMES = 12, K = 5 };

// Moving statistics away from 0/1, so inference BN does something a per-frame path could get wrong.
static void randomize_stats(gs_model *m, gs_rng *rng) {
    for (int i = 0; i < m->params.n; i++) {
        const gs_param *p = &m->params.p[i];
        float *v = m->params.data + p->offset;
        if (strstr(p->name, "/moving_mean")) test_fill_normal(v, rng, 0.2f, p->numel);
        else if (strstr(p->name, "/moving_variance")) test_fill_uniform(v, rng, 0.5f, 1.5f, p->numel);
    }
}

// use_plan: the per-frame features from the inference plan (runtime.inference = plan), the whole
// model on the reference executor.
static void test_windows_equal_whole_model(int use_plan) {
    gs_model_arch a = {.alpha = 0.35f, .size = S, .frames = T, .batch = 3, .classes = K, .gru_units = 8,
                       .dense_units = 8, .dropout = 0.25f, .l2 = 0, .bn_momentum = 0};
    gs_model m;
    GS_ASSERT(model_init(&m, &a) == 0);
    model_init_weights(&m, 11);
    gs_rng rng;
    gs_rng_seed(&rng, 5);
    randomize_stats(&m, &rng);
    size_t frame_n = (size_t)S * S * 3;
    float *frames = test_zeros(N_FRAMES * frame_n);  // (N_FRAMES,S,S,3)
    test_fill_uniform(frames, &rng, 0, 1, N_FRAMES * frame_n);

    gs_window_model wm;
    check(window_model_init(&wm, &m, NULL, 0) == 0, "window model builds from the model");
    check(wm.T == T && wm.C == 1280 && wm.K == K, "window: T %d, C %d, K %d", wm.T, wm.C, wm.K);
    if (use_plan) check(window_model_use_plan(&wm, 0) == 0 && wm.plan, "window model features on the plan");
    double worst = 0;
    int windows = 0, times_ok = 1;
    for (int f = 0; f < N_FRAMES; f++) {
        memcpy(window_model_frame(&wm), frames + f * frame_n, frame_n * sizeof(float));
        window_model_push(&wm, 0.5 * f);
        if (f == T - 2) check(!window_model_full(&wm), "not full after T-1 frames");
        if (!window_model_full(&wm)) continue;
        float got[K];
        double t0, t1;
        window_model_probs(&wm, got, &t0, &t1);
        times_ok &= t0 == 0.5 * (f - T + 1) && t1 == 0.5 * f;
        // the whole model on the same T frames, as one clip of a batch of one
        memcpy(model_input(&m), frames + (size_t)(f - T + 1) * frame_n, T * frame_n * sizeof(float));
        model_forward(&m, 1, 0, 0);
        const float *want = model_probs(&m);
        for (int k = 0; k < K; k++) worst = fmax(worst, fabs((double)got[k] - want[k]));
        windows++;
    }
    check(windows == N_FRAMES - T + 1, "%d windows over %d frames", windows, N_FRAMES);
    check(times_ok, "each window's first and last frame times");
    check(worst <= 1e-5, "%s: window probabilities equal the whole model's: max |diff| %.3g (tol 1e-5)",
          use_plan ? "plan" : "reference", worst);
    window_model_free(&wm);
    model_free(&m);
    free(frames);
}

static const gs_stream_config CFG = {.fps = 30, .hop = 1, .smooth = 1, .threshold = 0.6, .min_duration = 0.3,
                                     .refractory = 1.0};

// probs with class `k` at p and the rest sharing 1-p.
static void one_hot(float *probs, int k, float p) {
    for (int j = 0; j < K; j++) probs[j] = j == k ? p : (1 - p) / (K - 1);
}

typedef struct {
    int n_fired, n_closed;
    gs_event fired[8], closed[8];
} tally;

static void feed(gs_events *ev, tally *t, int k, float p, double t0, double t1, double dt) {
    float probs[K];
    int n = (int)((t1 - t0) / dt + 0.5);
    for (int i = 0; i < n; i++) {
        double x = t0 + i * dt;
        one_hot(probs, k, p);
        gs_event f, c;
        int got = events_push(ev, probs, x, &f, &c);
        if ((got & 1) && t->n_fired < 8) t->fired[t->n_fired++] = f;
        if ((got & 2) && t->n_closed < 8) t->closed[t->n_closed++] = c;
    }
}

static void test_events(void) {
    gs_events ev;
    tally t = {0};
    events_init(&ev, K, &CFG);
    feed(&ev, &t, 2, 0.9f, 0.0, 1.0, 0.1);  // class 2 from 0.0 to 0.9
    check(t.n_fired == 1 && t.fired[0].label == 2, "a steady class fires once (%d events)", t.n_fired);
    check(t.n_fired == 1 && fabs(t.fired[0].fired - 0.3) < 1e-9 && t.fired[0].start == 0.0,
          "it fires once it lasted min_duration: at %.2f s", t.n_fired ? t.fired[0].fired : -1);
    feed(&ev, &t, 4, 0.9f, 1.0, 2.0, 0.1);  // class 4 from 1.0: its run may fire at 1.3 (refractory ends at 1.3)
    check(t.n_closed == 1 && t.closed[0].label == 2 && fabs(t.closed[0].end - 0.9) < 1e-9,
          "the first run closes at its last window (0.9 s)");
    check(t.n_fired == 2 && t.fired[1].label == 4 && fabs(t.fired[1].fired - 1.3) < 1e-9,
          "the next class fires after min_duration and the refractory period (at %.2f s)",
          t.n_fired > 1 ? t.fired[1].fired : -1);
    feed(&ev, &t, 1, 0.3f, 2.0, 3.0, 0.1);  // below threshold: closes class 4, fires nothing
    check(t.n_fired == 2 && t.n_closed == 2, "below the threshold nothing fires");
    gs_event c;
    check(events_finish(&ev, &c) == 0, "no open run at the end");
    events_free(&ev);

    // refractory: a new class right after an event waits until the period is over
    gs_stream_config r = CFG;
    r.min_duration = 0;
    events_init(&ev, K, &r);
    tally u = {0};
    feed(&ev, &u, 0, 0.9f, 0.0, 0.2, 0.1);
    feed(&ev, &u, 3, 0.9f, 0.2, 1.5, 0.1);
    check(u.n_fired == 2 && u.fired[0].fired == 0.0 && fabs(u.fired[1].fired - 1.0) < 1e-9 && u.fired[1].label == 3,
          "refractory: the second event waits until 1.0 s (fired at %.2f)", u.n_fired > 1 ? u.fired[1].fired : -1);
    check(events_finish(&ev, &c) == 1 && c.label == 3 && fabs(c.end - 1.4) < 1e-9, "finish closes the open run");
    events_free(&ev);

    // smoothing: one confident window among doubtful ones does not fire
    gs_stream_config s = CFG;
    s.smooth = 3;
    s.min_duration = 0;
    events_init(&ev, K, &s);
    tally v = {0};
    feed(&ev, &v, 1, 0.3f, 0.0, 0.5, 0.1);
    feed(&ev, &v, 1, 0.99f, 0.5, 0.6, 0.1);
    feed(&ev, &v, 1, 0.3f, 0.6, 1.0, 0.1);
    check(v.n_fired == 0, "smooth 3: a single spike does not fire (%d events)", v.n_fired);
    feed(&ev, &v, 1, 0.99f, 1.0, 1.5, 0.1);
    check(v.n_fired == 1 && fabs(v.fired[0].fired - 1.1) < 1e-9,
          "smooth 3: a sustained class fires once the mean reaches the threshold (%.2f s)",
          v.n_fired ? v.fired[0].fired : -1);
    events_free(&ev);
}

int main(void) {
    test_windows_equal_whole_model(0);
    test_windows_equal_whole_model(1);
    test_events();
    return test_finish();
}
