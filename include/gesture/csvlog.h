// Training log in the format of Keras' CSVLogger: one row per epoch, written so that a file
// produced by `gesture train` reads exactly like one produced by `model.fit(callbacks=[...,
// CSVLogger(...)])`, byte for byte:
//   - columns `epoch` then the log keys sorted by name (Keras: ["epoch"] + sorted(logs.keys())),
//     e.g. `epoch,accuracy,learning_rate,loss,val_accuracy,val_loss`;
//   - epoch 0-based;
//   - values printed as Python's repr of a float (shortest digits that read back to the same
//     double: 0.5, 1.0, 1e-07, 0.0010000000474974513 for the float32 learning rate 1e-3), nan and
//     inf as Python prints them;
//   - lines end in "\r\n" (Python's csv module, excel dialect); fields quoted as it quotes them.
// Unlike Keras, every row is flushed and fsynced, and a resumed run first drops rows of epochs the
// checkpoint does not cover (a crash between the log write and the checkpoint write would
// otherwise leave duplicate epochs).
#ifndef GESTURE_CSVLOG_H
#define GESTURE_CSVLOG_H

#include <stddef.h>
#include <stdio.h>

#include "gesture/trainlog.h"

// Most columns a log may have, not counting `epoch`.
#define GS_CSVLOG_MAX_KEYS 32
// Longest key, including the NUL.
#define GS_CSVLOG_KEY_MAX 64
// Room for any Python float repr ("-2.2250738585072014e-308" is 24 chars) plus the NUL.
#define GS_FLOAT_REPR_MAX 32

typedef struct {
    FILE *f;
    char *path;
    int nkeys;
    char keys[GS_CSVLOG_MAX_KEYS][GS_CSVLOG_KEY_MAX];  // as given by the caller
    int order[GS_CSVLOG_MAX_KEYS];                     // column j holds keys[order[j]]
    int rows;  // rows in the file: those kept by csvlog_open, then one per append
} gs_csvlog;

// Write Python's repr(x) of a double into buf (at least GS_FLOAT_REPR_MAX bytes); returns its
// length. Shortest round-trip digits (the closest such string when several have that length),
// fixed notation for 1e-4 <= |x| < 1e16 with ".0" on integers, otherwise d.ddde±XX with at
// least two exponent digits; "nan", "inf", "-inf", "-0.0".
int csvlog_float_repr(char *buf, double x);

// Open the log at path with the given keys (any order; columns are sorted by name). Keys must
// be non-empty and unique; one holding a comma, quote or line break is quoted in the header as
// Keras' CSVLogger (Python's csv module) quotes it (csv_write_field).
// resume_epoch == 0: start a new file (an existing one is replaced) and write the header.
// resume_epoch  > 0: continue a run whose checkpoint covers epochs < resume_epoch: the existing
// file must have this header; its rows for epochs >= resume_epoch are dropped (the file is
// rewritten to a temporary name, fsynced and renamed over the old one), then rows are appended.
// A missing file when resuming is started fresh (log->rows says how many rows the file kept: the
// trainer rewrites a log short of the checkpoint's history from that history). Returns 0, or -1 +
// gs_error naming the file.
int csvlog_open(gs_csvlog *log, const char *path, const char *const *keys, int nkeys,
                int resume_epoch);
// Append one row; values[i] belongs to keys[i] as given to csvlog_open. Flushed and fsynced
// before returning. Returns 0, or -1 + gs_error.
int csvlog_append(gs_csvlog *log, int epoch, const double *values);
// Close the file (safe on a zeroed or already closed log).
void csvlog_close(gs_csvlog *log);

// ---- training_log.csv of `gesture train` ----
#define CSVLOG_TRAIN_NKEYS 5
// Its keys (accuracy, learning_rate, loss, val_accuracy, val_loss) and a history row's values in
// that order.
extern const char *const CSVLOG_TRAIN_KEYS[CSVLOG_TRAIN_NKEYS];
void csvlog_train_values(double v[CSVLOG_TRAIN_NKEYS], const gs_epoch_row *r);
// A fresh training_log.csv at path holding rows[0..n), left open for appends. 0, or -1 + gs_error.
int csvlog_open_history(gs_csvlog *log, const char *path, const gs_epoch_row *rows, int n);

#endif
