// `gesture import-keras --history training_log.csv`: the epochs of the Keras run that made the file
// carried into the gesture checkpoint, so `gesture train --resume` continues the epoch count, the
// curves (training_log.csv, log.h5, plots) and the callbacks' decisions instead of starting at
// epoch 0. The callbacks' state is rebuilt by replaying the logged epochs through our Keras 3
// callbacks with the run's [callbacks] config: what they would hold had gesture trained those epochs.
// Keras keeps its best-weights snapshot in memory only; the imported weights stand in for it (and for
// best.h5): a seed user's best_model.keras is ModelCheckpoint(save_best_only)'s, the best epoch's.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import_history.h"

#include "gesture/callbacks.h"
#include "gesture/csvlog.h"
#include "gesture/errors.h"
#include "gesture/trainlog.h"

int import_history_apply(gs_train_state *st, const gs_keras_history *h, const gs_config *cfg, double lr_now) {
    if (h->n > cfg->train.epochs)
        return gs_error("the history holds %d epochs, train.epochs is %d: --set train.epochs=N with N > %d to "
                        "train on", h->n, cfg->train.epochs, h->n);
    gs_epoch_row *rows = gs_malloc((size_t)h->n * sizeof *rows);
    memcpy(rows, h->rows, (size_t)h->n * sizeof *rows);
    gs_callbacks cb;
    callbacks_init(&cb, &cfg->callbacks);
    for (int i = 0; i < h->n; i++) {
        // a log without a learning-rate column: the optimizer's rate (the file's) for every epoch
        if (!h->has_lr) rows[i].learning_rate = lr_now;
        float lr = (float)rows[i].learning_rate;
        gs_epoch_logs logs = {rows[i].loss, rows[i].accuracy, rows[i].val_loss, rows[i].val_accuracy};
        callbacks_on_epoch_end(&cb, i, &logs, &lr);
    }
    callbacks_state_get(&st->callbacks, &cb);
    free(st->history);
    st->history = rows;
    st->n_history = h->n;
    st->epoch = h->n;
    st->step = 0;
    st->learning_rate = lr_now;
    return 0;
}

// Snapshot and best.h5 as the state expects them: the imported weights (see the top comment).
static int write_bests(const char *run_dir, const gs_model *m, const gs_train_state *st, const char *ini,
                       const char *const *classes, int n_classes) {
    char p[4300];
    if (st->callbacks.early_stopping.has_snapshot) {
        snprintf(p, sizeof p, "%s/checkpoints/early_stopping_best.h5", run_dir);
        if (checkpoint_save(p, m, st, ini, classes, n_classes)) return -1;
    }
    if (st->callbacks.checkpoint.best_epoch >= 0) {
        snprintf(p, sizeof p, "%s/checkpoints/best.h5", run_dir);
        if (checkpoint_save(p, m, st, ini, classes, n_classes)) return -1;
    }
    return 0;
}

int import_history_write_run(const char *run_dir, const gs_model *m, const gs_train_state *st, const char *ini,
                             const char *const *classes, int n_classes) {
    char p[4300];
    gs_csvlog log = {0};
    snprintf(p, sizeof p, "%s/training_log.csv", run_dir);
    if (csvlog_open_history(&log, p, st->history, st->n_history)) return -1;
    csvlog_close(&log);
    snprintf(p, sizeof p, "%s/log.h5", run_dir);
    if (trainlog_write(p, st->history, st->n_history)) return -1;
    return write_bests(run_dir, m, st, ini, classes, n_classes);
}

void import_history_print(const gs_keras_history *h, const gs_train_state *st, const char *path) {
    const gs_epoch_row *last = &h->rows[h->n - 1];
    printf("history: %d epochs from %s (last: loss %.4f accuracy %.4f val_loss %.4f val_accuracy %.4f)%s\n", h->n,
           path, last->loss, last->accuracy, last->val_loss, last->val_accuracy,
           h->n_ignored ? "; other metric columns are not carried over" : "");
    if (!h->has_lr) printf("note: %s has no learning-rate column: its epochs are logged at the file's rate\n", path);
    const gs_callbacks_state *c = &st->callbacks;
    if (c->checkpoint.best_epoch >= 0)
        printf("callbacks: best epoch %d (monitor %.6g); EarlyStopping waits %d, ReduceLROnPlateau waits %d; "
               "the imported weights stand for the best epoch's\n",
               c->checkpoint.best_epoch + 1, c->checkpoint.best, c->early_stopping.wait, c->reduce_lr.wait);
}
