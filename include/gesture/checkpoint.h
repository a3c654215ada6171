// Training checkpoints (checkpoints/last.h5, best.h5): everything needed to resume a run exactly
// or to run inference, in one HDF5 file readable by h5py/HDFView (docs/formats.md).
//
// Layout:
//   /weights/<layer>/<var>          float32, Keras shapes, every variable (BN moving stats too)
//   /optimizer/m/<layer>/<var>      float32 Adam first moments  (trainables only)
//   /optimizer/v/<layer>/<var>      float32 Adam second moments (trainables only)
//   /optimizer  attrs iterations (int64, Adam step t), learning_rate (float64, current LR)
//   /callbacks  attrs early_stopping_{best,wait,best_epoch}, reduce_lr_{best,wait,cooldown},
//               checkpoint_{best,best_epoch}, partial_epoch_{loss_sum,correct,seen}; a best is NaN
//               while there is none (Keras' best None), early_stopping_best_epoch -1 while there
//               is no snapshot, checkpoint_best_epoch -1 while nothing was saved
//   /history/{epoch,accuracy,learning_rate,loss,val_accuracy,val_loss}   per-epoch metric rows
//   /           attrs format = "gesture-checkpoint", format_version = 1, epoch (completed epochs),
//               loader_step (batches of epoch `epoch` already consumed: the loader's cursor, as the
//               per-clip RNG derives from (seed, epoch, index)), rng_seed (uint64) and rng_step
//               (int64) of the dropout stream, config (resolved INI text), classes (label order).
//
// Writes are atomic (temp file in the same directory, fsync, rename, fsync of the directory): a
// crash or SIGKILL at any moment leaves the old or the new complete file. Loads are strict: every
// tensor the model expects must exist with its exact shape and dtype float32, nothing unexpected
// may be there, and each problem is reported naming the file and the tensor.
#ifndef GESTURE_CHECKPOINT_H
#define GESTURE_CHECKPOINT_H

#include "gesture/callbacks.h"
#include "gesture/model.h"
#include "gesture/trainlog.h"

#define GS_CHECKPOINT_FORMAT "gesture-checkpoint"
#define GS_CHECKPOINT_VERSION 1
// The largest epoch a checkpoint may record: train.epochs' limit (config_schema.c).
#define GS_CHECKPOINT_MAX_EPOCH 100000

// Trainer state besides the tensors; round-trips exactly through save/load, except that a callback
// best that is NaN (a NaN first val_loss) reads back as no best yet: the file's "none" is NaN.
typedef struct {
    int epoch;             // completed epochs: a resumed run starts at epoch index `epoch` (0-based)
    long step;             // loader cursor: batches of epoch `epoch` already consumed (0 at a boundary)
    double learning_rate;  // current LR (after ReduceLROnPlateau)
    gs_callbacks_state callbacks;  // EarlyStopping, ReduceLROnPlateau, ModelCheckpoint (best.h5)
    // Running sums of an interrupted epoch (step > 0), so a resumed epoch reports what an
    // uninterrupted one would: loss summed over clips, correct clips, clips seen.
    double part_loss_sum, part_correct;
    long part_seen;
    // Metric history, one row per completed epoch (training_log.csv / log.h5 can be rebuilt from it).
    gs_epoch_row *history;  // (n_history); owned by the caller on save, malloc'd by checkpoint_load; a previous
                            // pointer in st is overwritten, not freed
    int n_history;
} gs_train_state;

// A fresh state: zero counters and partial sums, callbacks before their first epoch
// (callbacks_state_init), no history.
void checkpoint_state_init(gs_train_state *st, double learning_rate);
// Frees st->history and re-initialises st's history fields.
void checkpoint_state_free(gs_train_state *st);
// Frees a class-name array returned by the readers.
void checkpoint_free_classes(char **classes, int n_classes);

// Save m's weights, Adam moments and counters (m->adam_t, m->seed, m->step), st, the resolved INI
// text and the class names (label order) to path, atomically. 0 ok, -1 + gs_error.
int checkpoint_save(const char *path, const gs_model *m, const gs_train_state *st, const char *config_ini,
                    const char *const *classes, int n_classes);

// Loads check every tensor finite (Adam second moments also >= 0) and the trainer state in range and
// consistent (counters >= 0, epoch <= GS_CHECKPOINT_MAX_EPOCH, learning rate finite and > 0, partial
// sums within the clips seen, callback epochs within the completed ones, one history row per
// completed epoch at most); each error names the file and the field.
// Load everything checkpoint_save wrote into an initialised model of the same architecture (build it
// from checkpoint_read_config first). st, config_ini, classes/n_classes may be NULL when not wanted;
// st->history, *config_ini and *classes are malloc'd. On failure returns -1 + gs_error and leaves
// m and the outputs unchanged.
int checkpoint_load(const char *path, gs_model *m, gs_train_state *st, char **config_ini, char ***classes,
                    int *n_classes);
// At resume time, once the loader is built: the loader cursor st->step must lie inside an epoch of
// steps_per_epoch batches. 0 ok, -1 + gs_error naming path and loader_step.
int checkpoint_check_resume(const char *path, const gs_train_state *st, int steps_per_epoch);
// Weights only (inference): /weights is checked and loaded strictly, /optimizer and the trainer
// state are ignored; m->adam_t/seed/step are left alone.
int checkpoint_load_weights_only(const char *path, gs_model *m);
// The resolved INI text (malloc'd), after checking that path is a gesture checkpoint of a
// supported version, so a command can build the right model before loading.
int checkpoint_read_config(const char *path, char **config_ini);
// Class names in label order (malloc'd; free with checkpoint_free_classes).
int checkpoint_read_classes(const char *path, char ***classes, int *n_classes);

#endif
