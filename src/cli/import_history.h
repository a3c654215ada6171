// A Keras run's history carried into `gesture import-keras` output (import_history.c).
#ifndef GESTURE_CLI_IMPORT_HISTORY_H
#define GESTURE_CLI_IMPORT_HISTORY_H

#include "gesture/checkpoint.h"
#include "gesture/config.h"
#include "gesture/keras.h"
#include "gesture/model.h"

// h's epochs into st: history rows, epoch count, learning rate lr_now (the file's optimizer rate),
// callbacks' state replayed from the rows with cfg->callbacks. 0, or -1 + gs_error (h longer than
// train.epochs).
int import_history_apply(gs_train_state *st, const gs_keras_history *h, const gs_config *cfg, double lr_now);
// run_dir/training_log.csv and log.h5 from st's history; checkpoints/best.h5 and the EarlyStopping
// snapshot (the imported weights) when st's callbacks have a best. 0, or -1 + gs_error.
int import_history_write_run(const char *run_dir, const gs_model *m, const gs_train_state *st, const char *ini,
                             const char *const *classes, int n_classes);
// What was carried over, for the user.
void import_history_print(const gs_keras_history *h, const gs_train_state *st, const char *path);

#endif
