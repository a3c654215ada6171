// Per-epoch training metrics: the rows of training_log.csv, kept in memory as the run's history,
// stored in checkpoints (so a resumed run can rewrite its logs identically) and written to the
// run's log.h5.
//
// log.h5 layout (readable by h5py/HDFView): 1-D extendible (chunked) datasets of equal length
//   /epoch (int32, 0-based), /accuracy, /learning_rate, /loss, /val_accuracy, /val_loss (float64)
// root attributes: format = "gesture-trainlog", format_version = 1,
//   columns = "epoch,accuracy,learning_rate,loss,val_accuracy,val_loss".
// Every write rewrites the whole (small) file through a temp file + fsync + rename, so a crash
// leaves the previous or the new complete log, never a torn one.
#ifndef GESTURE_TRAINLOG_H
#define GESTURE_TRAINLOG_H

#define GS_TRAINLOG_FORMAT "gesture-trainlog"
#define GS_TRAINLOG_VERSION 1

typedef struct {
    int epoch;  // 0-based
    double accuracy, learning_rate, loss, val_accuracy, val_loss;
} gs_epoch_row;

// Write rows[0..n) as the whole log (atomic replace). 0 ok, -1 + gs_error.
int trainlog_write(const char *path, const gs_epoch_row *rows, int n);
// All rows (malloc'd, *n may be 0). Checks the format attribute, column presence, types and
// equal lengths; errors name the file and dataset.
int trainlog_read(const char *path, gs_epoch_row **rows, int *n);

#endif
