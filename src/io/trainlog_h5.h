// Metric-history tables as HDF5 datasets, shared by log.h5 (trainlog.c) and the /history group
// of checkpoints (checkpoint.c). Internal to the library.
#ifndef GESTURE_IO_TRAINLOG_H5_H
#define GESTURE_IO_TRAINLOG_H5_H

#include <hdf5.h>

#include "gesture/trainlog.h"

// Create the 1-D extendible datasets epoch (int32), accuracy, learning_rate, loss, val_accuracy,
// val_loss (float64) under loc, n rows each. 0 ok, -1 + gs_error naming file.
int h5_history_write(const char *file, hid_t loc, const gs_epoch_row *rows, int n);
// Read them back (rows malloc'd, *n may be 0); `where` is loc's path for messages.
int h5_history_read(gs_epoch_row **rows, int *n, const char *file, const char *where, hid_t loc);

#endif
