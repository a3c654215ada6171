// The training loop behind `gesture train`: Keras fit() semantics (per-epoch train/val metrics,
// EarlyStopping, ReduceLROnPlateau, ModelCheckpoint, CSV + HDF5 logs) over the prefetching loader,
// with atomic checkpoints every epoch, Ctrl-C handling and exact resume.
#ifndef GESTURE_TRAINER_H
#define GESTURE_TRAINER_H

#include "gesture/config.h"

// Train the model `cfg` describes into run_dir (created if needed). resume=1 continues from
// run_dir/checkpoints/last.h5. Returns the process exit code: 0 done, 130 interrupted (last.h5
// saved), 1 error (message printed).
int train_run(const gs_config *cfg, const char *run_dir, int resume);

#endif
