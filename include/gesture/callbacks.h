// Keras 3 training callbacks as plain state machines: EarlyStopping, ReduceLROnPlateau and
// ModelCheckpoint(save_best_only). The trainer feeds each one the epoch's logs after validation
// and acts on what it answers (snapshot weights, save best.h5, change the LR, stop); nothing here
// touches weights or files, so every decision is testable on scripted metric sequences.
//
// Exact Keras 3 rules as of Keras 3.11+ (checked against 3.15.1: keras/src/callbacks/
// {early_stopping,reduce_lr_on_plateau,model_checkpoint,monitor_callback}.py), epochs 0-based:
// - mode from the monitor: val_loss -> min, val_accuracy -> max.
// - improvement (all three, MonitorCallback._is_improvement): true while there is no best yet
//   (best = None: the first epoch always improves, even with a NaN value, which then stays the
//   best and nothing beats it); else min: cur + |min_delta| < best, max: cur - |min_delta| > best.
//   Keras compares with keras.ops, which turn the Python floats into float32 tensors on the
//   training backends (TensorFlow, JAX, PyTorch); so do we. Ties are not improvements.
// - EarlyStopping(patience, min_delta, restore_best_weights), per epoch:
//     if restore and no snapshot yet: snapshot (best_epoch = epoch)
//     wait += 1
//     if improved: best = cur, best_epoch = epoch, snapshot if restore, wait = 0
//     elif wait >= patience and epoch > 0: stop after this epoch
//   Last improvement at epoch b -> stops at the end of epoch b + patience. At train end (stopped
//   or not) the snapshot, if any, is restored. tf.keras 2 differs: it restored only when it
//   stopped early, keeping the last epoch's weights when training ran to the end.
// - ReduceLROnPlateau(factor, patience, min_delta, cooldown, min_lr), per epoch:
//     lr_used = lr                                   // logged as "learning_rate"
//     if cooldown_counter > 0: cooldown_counter -= 1, wait = 0
//     if improved (with min_delta): best = cur, wait = 0
//     elif cooldown_counter == 0:
//         wait += 1
//         if wait >= patience and lr > float32(min_lr):
//             lr = float32(max(lr * factor, min_lr)), cooldown_counter = cooldown, wait = 0
//   lr * factor and the max are float64 (Python floats); the LR lives in float32 like the Keras
//   optimizer variable. From 1e-3 with factor 0.5 and min_lr 1e-7 it halves 13 times, is clamped
//   to float32(1e-7) on the 14th, then stays. `best` is not reset by a reduction; improvements
//   smaller than min_delta (default 1e-4) reset EarlyStopping (min_delta 0) but not this one.
//   Keras 3.0-3.10 (and tf.keras 2) compared `cur < best - min_delta` in float64 with best
//   starting at +inf; that differs only within float32 rounding of a boundary and for a NaN
//   first epoch.
// - ModelCheckpoint(save_best_only=True): save iff improved (min_delta 0), so the first epoch
//   always saves; with save_best_only=False every epoch saves.
#ifndef GESTURE_CALLBACKS_H
#define GESTURE_CALLBACKS_H

#include <stdbool.h>

#include "gesture/config.h"

typedef enum { GS_MODE_MIN = 0, GS_MODE_MAX = 1 } gs_monitor_mode;

// One epoch's logs (Keras names); the monitors read val_loss / val_accuracy.
typedef struct {
    double loss, accuracy, val_loss, val_accuracy;
} gs_epoch_logs;

// Keras "auto" mode: loss -> min, accuracy -> max.
gs_monitor_mode callbacks_monitor_mode(gs_monitor m);
// The logged value a monitor watches.
double callbacks_monitor_value(const gs_epoch_logs *logs, gs_monitor m);

// ---- the state each callback carries from epoch to epoch (a checkpoint stores it) ----
typedef struct {
    int wait;
    bool has_best;      // false = Keras' best None (before the first epoch)
    double best;        // NaN while !has_best
    int best_epoch;     // epoch of the snapshot / last improvement (0 before any)
    bool has_snapshot;  // a best-weights snapshot exists
} gs_early_stopping_state;

typedef struct {
    int wait;
    int cooldown_counter;
    bool has_best;  // false = Keras' best None (before the first epoch)
    double best;    // NaN while !has_best
} gs_reduce_lr_state;

typedef struct {
    double best;     // NaN while best_epoch < 0
    int best_epoch;  // -1 = Keras' best None (nothing saved yet)
} gs_model_checkpoint_state;

// All of it, by name: what a resumed run needs to make the same decisions.
typedef struct {
    gs_early_stopping_state early_stopping;
    gs_reduce_lr_state reduce_lr;
    gs_model_checkpoint_state checkpoint;
} gs_callbacks_state;

// The state before the first epoch (no best, counters 0), as the *_init functions set it.
void callbacks_state_init(gs_callbacks_state *s);

// ---- EarlyStopping ----
typedef struct {
    gs_monitor monitor;
    gs_monitor_mode mode;
    int patience;
    double min_delta;  // as Keras keeps it: -|min_delta| in min mode, +|min_delta| in max mode
    bool restore_best;
    gs_early_stopping_state state;
    int stopped_epoch;  // -1 until it stops (not saved: a run that stopped is over)
} gs_early_stopping;

typedef struct {
    bool improved;  // the monitor improved this epoch
    bool snapshot;  // copy the current weights (incl. BN moving stats) as the best snapshot
    bool stop;      // stop training after this epoch
} gs_early_stopping_step;

void early_stopping_init(gs_early_stopping *es, gs_monitor monitor, int patience, double min_delta,
                         bool restore_best);
gs_early_stopping_step early_stopping_on_epoch_end(gs_early_stopping *es, int epoch, double current);
// At train end: true if the snapshot must be restored (Keras 3: whenever restore_best and a
// snapshot exists); *best_epoch (may be NULL) gets the snapshot's epoch.
bool early_stopping_on_train_end(const gs_early_stopping *es, int *best_epoch);

// ---- ReduceLROnPlateau ----
typedef struct {
    gs_monitor monitor;
    gs_monitor_mode mode;
    double factor;  // in (0, 1)
    int patience;
    double min_delta;
    int cooldown;
    double min_lr;
    gs_reduce_lr_state state;
} gs_reduce_lr;

void reduce_lr_init(gs_reduce_lr *r, gs_monitor monitor, double factor, int patience,
                    double min_delta, int cooldown, double min_lr);
// *lr: the optimizer's learning rate, the one used during this epoch; replaced by the reduced
// one when a reduction happens (then returns true).
bool reduce_lr_on_epoch_end(gs_reduce_lr *r, float *lr, double current);

// ---- ModelCheckpoint ----
typedef struct {
    gs_monitor monitor;
    gs_monitor_mode mode;
    bool save_best_only;
    gs_model_checkpoint_state state;  // used with save_best_only
} gs_model_checkpoint;

void model_checkpoint_init(gs_model_checkpoint *c, gs_monitor monitor, bool save_best_only);
// True if the model must be saved at the end of this epoch.
bool model_checkpoint_on_epoch_end(gs_model_checkpoint *c, int epoch, double current);

// ---- the trainer's set, configured from [callbacks] ----
typedef struct {
    bool early_stopping, reduce_lr;  // switches from the config
    gs_early_stopping es;
    gs_reduce_lr rlr;
    gs_model_checkpoint best;  // checkpoints/best.h5, save_best_only on checkpoint_monitor
} gs_callbacks;

// What the trainer does at the end of an epoch, in this order: write the log row (with lr_used),
// snapshot, save best.h5, set the optimizer's LR to lr_next, stop if asked.
typedef struct {
    float lr_used;       // logs["learning_rate"]: the LR this epoch trained with
    float lr_next;       // the LR for the next epoch (== lr_used unless lr_reduced)
    bool lr_reduced;
    bool snapshot_best;  // EarlyStopping wants the current weights as its best snapshot
    bool save_best;      // checkpoint_monitor improved: write checkpoints/best.h5
    bool stop;           // EarlyStopping: this was the last epoch
} gs_epoch_actions;

void callbacks_init(gs_callbacks *cb, const gs_callbacks_config *cfg);
// lr: the optimizer's LR (float32 like the Keras variable), updated in place on a reduction.
gs_epoch_actions callbacks_on_epoch_end(gs_callbacks *cb, int epoch, const gs_epoch_logs *logs,
                                        float *lr);
// True if the EarlyStopping snapshot must be loaded back into the model; *best_epoch gets its
// epoch (may be NULL).
bool callbacks_on_train_end(const gs_callbacks *cb, int *best_epoch);

// The callbacks' state, for checkpoints (resume continues the same decisions). A resumed run with
// restore_best must also restore the snapshot weights (state.early_stopping.has_snapshot).
void callbacks_state_get(gs_callbacks_state *s, const gs_callbacks *cb);
// Load s into cb (initialised with callbacks_init from the run's config). Returns 0, or -1 +
// gs_error naming the field if a counter or epoch is out of range (cb is then unchanged).
int callbacks_state_set(gs_callbacks *cb, const gs_callbacks_state *s);

#endif
