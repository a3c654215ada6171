// The gesture event detector of `gesture stream` (gesture/stream.h): smoothing, threshold, minimum
// duration and refractory period over window probabilities.
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"
#include "gesture/stream.h"

void events_init(gs_events *ev, int K, const gs_stream_config *c) {
    memset(ev, 0, sizeof *ev);
    ev->K = K;
    ev->smooth = c->smooth;
    ev->threshold = c->threshold;
    ev->min_duration = c->min_duration;
    ev->refractory = c->refractory;
    ev->hist = gs_calloc((size_t)c->smooth * K, sizeof(float));
    ev->mean = gs_calloc((size_t)K, sizeof(float));
    ev->run_label = -1;
    ev->quiet_until = -1e300;
}

void events_free(gs_events *ev) {
    free(ev->hist);
    free(ev->mean);
    memset(ev, 0, sizeof *ev);
}

const float *events_smoothed(const gs_events *ev) { return ev->mean; }

// The run ends at the last window it held; a fired run hands back its event.
static int close_run(gs_events *ev, gs_event *closed) {
    int fired = ev->run_fired;
    if (fired) {
        *closed = ev->current;
        closed->end = ev->last_t;
    }
    ev->run_label = -1;
    ev->run_fired = 0;
    return fired;
}

int events_push(gs_events *ev, const float *probs, double t, gs_event *fired, gs_event *closed) {
    int K = ev->K;
    memcpy(ev->hist + (size_t)(ev->n % ev->smooth) * K, probs, (size_t)K * sizeof(float));
    ev->n++;
    long have = ev->n < ev->smooth ? ev->n : ev->smooth;
    int best = 0;
    for (int k = 0; k < K; k++) {
        double s = 0;
        for (long i = 0; i < have; i++) s += ev->hist[(size_t)i * K + k];
        ev->mean[k] = (float)(s / (double)have);
        if (ev->mean[k] > ev->mean[best]) best = k;
    }
    int label = ev->mean[best] >= ev->threshold ? best : -1;
    int out = 0;
    if (label != ev->run_label) {
        if (ev->run_label >= 0 && close_run(ev, closed)) out |= 2;
        ev->run_label = label;
        ev->run_start = t;
    }
    ev->last_t = t;
    if (label < 0) return out;
    if (ev->run_fired) {
        if (ev->mean[label] > ev->current.prob) ev->current.prob = ev->mean[label];
        return out;
    }
    if (t - ev->run_start >= ev->min_duration && t >= ev->quiet_until) {
        ev->run_fired = 1;
        ev->current = (gs_event){label, ev->mean[label], ev->run_start, t, t};
        ev->quiet_until = t + ev->refractory;
        *fired = ev->current;
        out |= 1;
    }
    return out;
}

int events_finish(gs_events *ev, gs_event *closed) { return ev->run_label >= 0 && close_run(ev, closed); }
