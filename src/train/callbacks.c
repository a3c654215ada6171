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

// ---- EarlyStopping ----

void early_stopping_init(gs_early_stopping *es, gs_monitor monitor, int patience, double min_delta,
                         bool restore_best) {
    GS_ASSERT(patience >= 0);
    es->monitor = monitor;
    es->mode = callbacks_monitor_mode(monitor);
    es->patience = patience;
    es->min_delta = signed_delta(es->mode, min_delta);
    es->restore_best = restore_best;
    es->wait = 0;
    es->has_best = false;
    es->best = 0.0;
    es->best_epoch = 0;
    es->has_snapshot = false;
    es->stopped_epoch = -1;
}

gs_early_stopping_step early_stopping_on_epoch_end(gs_early_stopping *es, int epoch, double current) {
    gs_early_stopping_step st = {false, false, false};
    if (es->restore_best && !es->has_snapshot) {
        // Keras: "If best weights were never set, then the current weights are the best."
        st.snapshot = true;
        es->has_snapshot = true;
        es->best_epoch = epoch;
    }
    es->wait++;
    if (keras_improved(es->mode, es->min_delta, current, es->has_best, es->best)) {
        es->has_best = true;
        es->best = current;
        es->best_epoch = epoch;
        if (es->restore_best) st.snapshot = true;
        es->wait = 0;
        st.improved = true;
        return st;
    }
    if (es->wait >= es->patience && epoch > 0) {
        es->stopped_epoch = epoch;
        st.stop = true;
    }
    return st;
}

bool early_stopping_on_train_end(const gs_early_stopping *es, int *best_epoch) {
    if (best_epoch) *best_epoch = es->best_epoch;
    return es->restore_best && es->has_snapshot;
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
    r->wait = 0;
    r->cooldown_counter = 0;
    r->has_best = false;
    r->best = 0.0;
}

bool reduce_lr_on_epoch_end(gs_reduce_lr *r, float *lr, double current) {
    if (r->cooldown_counter > 0) {
        r->cooldown_counter--;
        r->wait = 0;
    }
    if (keras_improved(r->mode, r->min_delta, current, r->has_best, r->best)) {
        r->has_best = true;
        r->best = current;
        r->wait = 0;
        return false;
    }
    if (r->cooldown_counter > 0) return false;
    r->wait++;
    if (r->wait < r->patience) return false;
    double old_lr = (double)*lr;
    if (!(old_lr > (double)(float)r->min_lr)) return false;  // `old_lr > np.float32(min_lr)`
    double new_lr = fmax(old_lr * r->factor, r->min_lr);      // Python floats
    *lr = (float)new_lr;  // assigning to the float32 optimizer variable rounds
    r->cooldown_counter = r->cooldown;
    r->wait = 0;
    return true;
}

// ---- ModelCheckpoint ----

void model_checkpoint_init(gs_model_checkpoint *c, gs_monitor monitor, bool save_best_only) {
    c->monitor = monitor;
    c->mode = callbacks_monitor_mode(monitor);
    c->save_best_only = save_best_only;
    c->best = 0.0;
    c->best_epoch = -1;
}

bool model_checkpoint_on_epoch_end(gs_model_checkpoint *c, int epoch, double current) {
    if (!c->save_best_only) return true;
    if (!keras_improved(c->mode, 0.0, current, c->best_epoch >= 0, c->best)) return false;
    c->best = current;
    c->best_epoch = epoch;
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

// Entries 0-9 keep the order of the first version of this table (the trainer indexes them); the
// has_best flags came later and are appended.
const char *const callbacks_state_names[GS_CALLBACKS_STATE_LEN] = {
    "early_stopping_wait",      "early_stopping_best",        "early_stopping_best_epoch",
    "early_stopping_snapshot",  "early_stopping_stopped_epoch", "reduce_lr_wait",
    "reduce_lr_best",           "reduce_lr_cooldown_counter", "checkpoint_best",
    "checkpoint_best_epoch",    "early_stopping_has_best",    "reduce_lr_has_best",
};

void callbacks_state_get(double *s, const gs_callbacks *cb) {
    s[0] = cb->es.wait;
    s[1] = cb->es.best;
    s[2] = cb->es.best_epoch;
    s[3] = cb->es.has_snapshot;
    s[4] = cb->es.stopped_epoch;
    s[5] = cb->rlr.wait;
    s[6] = cb->rlr.best;
    s[7] = cb->rlr.cooldown_counter;
    s[8] = cb->best.best;
    s[9] = cb->best.best_epoch;
    s[10] = cb->es.has_best;
    s[11] = cb->rlr.has_best;
}

// A counter stored as a double: an integer in [lo, hi].
static int counter(int *dst, const double *s, int idx, int lo, int hi) {
    double v = s[idx];
    if (!(v >= lo && v <= hi && v == floor(v)))
        return gs_error("callback state %s = %g is not an integer in [%d, %d]", callbacks_state_names[idx], v,
                        lo, hi);
    *dst = (int)v;
    return 0;
}

int callbacks_state_set(gs_callbacks *cb, const double *s) {
    const int big = 1000000000;
    gs_callbacks t = *cb;
    int snap = 0, es_has = 0, rlr_has = 0;
    if (counter(&t.es.wait, s, 0, 0, big) || counter(&t.es.best_epoch, s, 2, 0, big) ||
        counter(&snap, s, 3, 0, 1) || counter(&t.es.stopped_epoch, s, 4, -1, big) ||
        counter(&t.rlr.wait, s, 5, 0, big) || counter(&t.rlr.cooldown_counter, s, 7, 0, big) ||
        counter(&t.best.best_epoch, s, 9, -1, big) || counter(&es_has, s, 10, 0, 1) ||
        counter(&rlr_has, s, 11, 0, 1))
        return -1;
    t.es.best = s[1];
    t.es.has_snapshot = snap;
    t.es.has_best = es_has;
    t.rlr.best = s[6];
    t.rlr.has_best = rlr_has;
    t.best.best = s[8];
    *cb = t;
    return 0;
}
