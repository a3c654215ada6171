// Internals shared by the training loop (trainer.c) and its data-parallel part (trainer_dist.c):
// the state one `gesture train` holds. Not a public header.
#ifndef GESTURE_TRAIN_TRAINER_INTERNAL_H
#define GESTURE_TRAIN_TRAINER_INTERNAL_H

#include <signal.h>

#include "gesture/callbacks.h"
#include "gesture/checkpoint.h"
#include "gesture/config.h"
#include "gesture/csvlog.h"
#include "gesture/dist.h"
#include "gesture/loader.h"
#include "gesture/model.h"
#include "gesture/timing.h"
#include "gesture/trainer.h"

// The files of a run directory (docs/formats.md).
typedef struct {
    char dir[4096], ck[4200], last[4300], best[4300], snap[4300];
    char csv[4200], h5[4200], cfg[4200], timing[4200];
} run_paths;

// Everything one `gesture train` holds while it runs.
typedef struct {
    const gs_config *cfg;
    run_paths path;
    int threads, use_cuda, model_ok;
    gs_loader *train, *val;
    const gs_dataset *ds;  // the train split's
    gs_model m;
    gs_train_backend be;
    gs_callbacks cb;
    gs_train_state st;     // what last.h5 holds
    gs_csvlog csv;
    float lr;
    char *ini;             // the resolved config, stored in every checkpoint
    double train_seconds;  // in the training steps of this invocation
    double comm_seconds;   // of which in collectives (data-parallel)
    long train_images;
    gs_timing timing_base;  // timing.ini's totals before this invocation (--resume)
    // data-parallel: this process's rank of `ranks` (1: one process); root = rank 0 (owns the run dir)
    int rank, ranks, root;
    gs_train_dist dist;
    int started;  // past the last start-up agreement: from here a rank's failure ends the job
    int dist_open;  // the device's communicator (NCCL) is open
} trainer;

// Running means weighted by clips, as Keras' loss tracker / accuracy metric keep them.
typedef struct {
    double loss_sum, correct;
    long seen;
} epoch_sums;

// ---- data-parallel (trainer_dist.c); every rank calls each at the same point ----

// Start-up: 1 when some rank failed (every rank then stops; the failed ones print why).
int trainer_dist_agree(const trainer *t, int failed);
// Rank 0's model state and where the run stands, into every rank.
void trainer_dist_share_state(trainer *t);
// sync_bn off: rank 0's BN moving statistics into every rank (before validation).
void trainer_dist_share_moving_stats(trainer *t);
// Before a step on b: the global batch's clip count (0: every clip skipped) and this rank's rows.
int trainer_dist_share_counts(trainer *t, const gs_batch *b);
// After a step: loss, correct clips and the interrupt flag summed over the ranks into s; 1 when any
// rank was interrupted.
int trainer_dist_step_sums(trainer *t, epoch_sums *s, int interrupted, const float *probs, const gs_batch *b,
                           int trained);
// Rank 0 at start-up, under OpenMPI: a note when mpirun would SIGKILL the ranks too soon after a
// Ctrl-C for them to save (see the .c).
void trainer_dist_note_kill_window(const trainer *t);

#endif
