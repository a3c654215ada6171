// timing.ini of a run directory (docs/formats.md): how fast the run trained, as totals over every
// `gesture train` invocation of it, so a run interrupted and resumed reports the whole run. The
// trainer reads the file back on --resume and adds what its own invocation does.
#ifndef GESTURE_TIMING_H
#define GESTURE_TIMING_H

typedef struct {
    int epochs;            // completed epochs of the run (the rows of training_log.csv)
    double train_seconds;  // in training steps (validation excluded), every invocation
    long train_images;     // frames through the training steps, every invocation
    long peak_rss_mb;      // the largest of any invocation
    long graph_steps;      // training steps replayed as a CUDA graph, every invocation
    int invocations;       // `gesture train` runs that added to the totals
    double comm_seconds;   // data-parallel: of train_seconds, rank 0's time in collectives (waits included)
} gs_timing;

// The totals in path; all zero when there is no such file. A file from before the totals were
// kept (epochs_run, seconds_per_epoch, train_img_per_s only) gives the totals those imply.
// 0, or -1 + gs_error when the file is not key = value lines.
int timing_read(const char *path, gs_timing *t);

// Write t with the rates it implies and this invocation's threads and device ("cpu" or "cuda";
// on "cuda" the graph step count too; with ranks > 1, data-parallel, `ranks = N`: threads are then
// per rank, the totals the whole job's), through a temp file and a rename. 0 or -1 + gs_error.
int timing_write(const char *path, const gs_timing *t, int threads, const char *device, int ranks);

#endif
