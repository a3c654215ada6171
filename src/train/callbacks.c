// Keras 3 EarlyStopping, ReduceLROnPlateau and ModelCheckpoint decisions (rules in callbacks.h).
#include "gesture/callbacks.h"

#include <math.h>

#include "gesture/errors.h"

gs_monitor_mode callbacks_monitor_mode(gs_monitor m) {
    switch (m) {
    case GS_MONITOR_VAL_LOSS: return GS_MODE_MIN;
    case GS_MONITOR_VAL_ACCURACY: return GS_MODE_MAX;
    }
    gs_fatal("callbacks: unknown monitor %d", (int)m);
}

double callbacks_monitor_value(const gs_epoch_logs *logs, gs_monitor m) {
    switch (m) {
    case GS_MONITOR_VAL_LOSS: return logs->val_loss;
    case GS_MONITOR_VAL_ACCURACY: return logs->val_accuracy;
    }
    gs_fatal("callbacks: unknown monitor %d", (int)m);
}

// MonitorCallback._is_improvement: True without a best (None), else monitor_op(cur - min_delta,
// best) with keras.ops, which turn the Python floats into float32 tensors before comparing.
static bool keras_improved(gs_monitor_mode mode, double signed_delta, double cur, bool has_best,
                           double best) {
    if (!has_best) return true;
    float a = (float)(cur - signed_delta), b = (float)best;
    return mode == GS_MODE_MIN ? a < b : a > b;
}

// MonitorCallback keeps |min_delta| and negates it for min mode.
static double signed_delta(gs_monitor_mode mode, double min_delta) {
    return mode == GS_MODE_MIN ? -fabs(min_delta) : fabs(min_delta);
}

// ---- state ----

static const gs_early_stopping_state EARLY_STOPPING_FRESH = {.best = NAN};
static const gs_reduce_lr_state REDUCE_LR_FRESH = {.best = NAN};
static const gs_model_checkpoint_state MODEL_CHECKPOINT_FRESH = {.best = NAN, .best_epoch = -1};

void callbacks_state_init(gs_callbacks_state *s) {
    s->early_stopping = EARLY_STOPPING_FRESH;
    s->reduce_lr = REDUCE_LR_FRESH;
    s->checkpoint = MODEL_CHECKPOINT_FRESH;
}

// ---- EarlyStopping ----

void early_stopping_init(gs_early_stopping *es, gs_monitor monitor, int patience, double min_delta,
                         bool restore_best) {
    GS_ASSERT(patience >= 0);
    es->monitor = monitor;
    es->mode = callbacks_monitor_mode(monitor);
    es->patience = patience;
    es->min_delta = signed_delta(es->mode, min_delta);
    es->restore_best = restore_best;
    es->state = EARLY_STOPPING_FRESH;
    es->stopped_epoch = -1;
}

gs_early_stopping_step early_stopping_on_epoch_end(gs_early_stopping *es, int epoch, double current) {
    gs_early_stopping_step st = {false, false, false};
    gs_early_stopping_state *s = &es->state;
    if (es->restore_best && !s->has_snapshot) {
        // Keras: "If best weights were never set, then the current weights are the best."
        st.snapshot = true;
        s->has_snapshot = true;
        s->best_epoch = epoch;
    }
    s->wait++;
    if (keras_improved(es->mode, es->min_delta, current, s->has_best, s->best)) {
        s->has_best = true;
        s->best = current;
        s->best_epoch = epoch;
        if (es->restore_best) st.snapshot = true;
        s->wait = 0;
        st.improved = true;
        return st;
    }
    if (s->wait >= es->patience && epoch > 0) {
        es->stopped_epoch = epoch;
        st.stop = true;
    }
    return st;
}

bool early_stopping_on_train_end(const gs_early_stopping *es, int *best_epoch) {
    if (best_epoch) *best_epoch = es->state.best_epoch;
    return es->restore_best && es->state.has_snapshot;
}

// ---- ReduceLROnPlateau ----

void reduce_lr_init(gs_reduce_lr *r, gs_monitor monitor, double factor, int patience,
                    double min_delta, int cooldown, double min_lr) {
    // Keras raises ValueError for factor >= 1; the config schema keeps it in (0, 1).
    GS_ASSERT(factor > 0 && factor < 1 && patience >= 0 && cooldown >= 0 && min_lr >= 0);
    r->monitor = monitor;
    r->mode = callbacks_monitor_mode(monitor);
    r->factor = factor;
    r->patience = patience;
    r->min_delta = signed_delta(r->mode, min_delta);
    r->cooldown = cooldown;
    r->min_lr = min_lr;
    r->state = REDUCE_LR_FRESH;
}

bool reduce_lr_on_epoch_end(gs_reduce_lr *r, float *lr, double current) {
    gs_reduce_lr_state *s = &r->state;
    if (s->cooldown_counter > 0) {
        s->cooldown_counter--;
        s->wait = 0;
    }
    if (keras_improved(r->mode, r->min_delta, current, s->has_best, s->best)) {
        s->has_best = true;
        s->best = current;
        s->wait = 0;
        return false;
    }
    if (s->cooldown_counter > 0) return false;
    s->wait++;
    if (s->wait < r->patience) return false;
    double old_lr = (double)*lr;
    if (!(old_lr > (double)(float)r->min_lr)) return false;  // `old_lr > np.float32(min_lr)`
    double new_lr = fmax(old_lr * r->factor, r->min_lr);      // Python floats
    *lr = (float)new_lr;  // assigning to the float32 optimizer variable rounds
    s->cooldown_counter = r->cooldown;
    s->wait = 0;
    return true;
}

// ---- ModelCheckpoint ----

void model_checkpoint_init(gs_model_checkpoint *c, gs_monitor monitor, bool save_best_only) {
    c->monitor = monitor;
    c->mode = callbacks_monitor_mode(monitor);
    c->save_best_only = save_best_only;
    c->state = MODEL_CHECKPOINT_FRESH;
}

bool model_checkpoint_on_epoch_end(gs_model_checkpoint *c, int epoch, double current) {
    if (!c->save_best_only) return true;
    gs_model_checkpoint_state *s = &c->state;
    if (!keras_improved(c->mode, 0.0, current, s->best_epoch >= 0, s->best)) return false;
    s->best = current;
    s->best_epoch = epoch;
    return true;
}

// ---- the set ----

void callbacks_init(gs_callbacks *cb, const gs_callbacks_config *cfg) {
    cb->early_stopping = cfg->early_stopping;
    cb->reduce_lr = cfg->reduce_lr;
    early_stopping_init(&cb->es, cfg->early_stopping_monitor, cfg->early_stopping_patience,
                        cfg->early_stopping_min_delta, cfg->restore_best);
    reduce_lr_init(&cb->rlr, cfg->reduce_lr_monitor, cfg->reduce_lr_factor, cfg->reduce_lr_patience,
                   cfg->reduce_lr_min_delta, cfg->reduce_lr_cooldown, cfg->min_lr);
    model_checkpoint_init(&cb->best, cfg->checkpoint_monitor, true);
}

gs_epoch_actions callbacks_on_epoch_end(gs_callbacks *cb, int epoch, const gs_epoch_logs *logs,
                                        float *lr) {
    GS_ASSERT(epoch >= 0);
    gs_epoch_actions a = {0};
    a.lr_used = *lr;
    if (cb->early_stopping) {
        gs_early_stopping_step st =
            early_stopping_on_epoch_end(&cb->es, epoch, callbacks_monitor_value(logs, cb->es.monitor));
        a.snapshot_best = st.snapshot;
        a.stop = st.stop;
    }
    if (cb->reduce_lr)
        a.lr_reduced = reduce_lr_on_epoch_end(&cb->rlr, lr, callbacks_monitor_value(logs, cb->rlr.monitor));
    a.lr_next = *lr;
    a.save_best = model_checkpoint_on_epoch_end(&cb->best, epoch,
                                                callbacks_monitor_value(logs, cb->best.monitor));
    return a;
}

bool callbacks_on_train_end(const gs_callbacks *cb, int *best_epoch) {
    if (!cb->early_stopping) {
        if (best_epoch) *best_epoch = -1;
        return false;
    }
    return early_stopping_on_train_end(&cb->es, best_epoch);
}

// ---- state for checkpoints ----

void callbacks_state_get(gs_callbacks_state *s, const gs_callbacks *cb) {
    s->early_stopping = cb->es.state;
    s->reduce_lr = cb->rlr.state;
    s->checkpoint = cb->best.state;
}

// A counter or epoch of a loaded state: an integer in [lo, 1e9].
static int in_range(int v, int lo, const char *name) {
    if (v < lo || v > 1000000000) return gs_error("callback state %s = %d is out of range [%d, 1e9]", name, v, lo);
    return 0;
}

int callbacks_state_set(gs_callbacks *cb, const gs_callbacks_state *s) {
    const gs_early_stopping_state *es = &s->early_stopping;
    const gs_reduce_lr_state *rl = &s->reduce_lr;
    if (in_range(es->wait, 0, "early_stopping.wait") || in_range(es->best_epoch, 0, "early_stopping.best_epoch") ||
        in_range(rl->wait, 0, "reduce_lr.wait") || in_range(rl->cooldown_counter, 0, "reduce_lr.cooldown_counter") ||
        in_range(s->checkpoint.best_epoch, -1, "checkpoint.best_epoch"))
        return -1;
    cb->es.state = *es;
    cb->rlr.state = *rl;
    cb->best.state = s->checkpoint;
    return 0;
}
