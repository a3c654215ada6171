// Data-parallel training across processes (`mpirun -np N gesture train`, `srun gesture train`): the
// one module that talks to MPI. Everything else sees ranks, a size and a few collectives; with one
// process (no launcher, `mpirun -np 1`, or a build without MPI) the collectives return at once and
// the data already is the result.
//
// Built with MPI when CMake finds it (GESTURE_MPI=AUTO|ON|OFF; Debian: libopenmpi-dev). Without MPI,
// dist_init refuses a launch of several ranks (a launcher's variables say N > 1): every rank would
// train alone on the whole data set and write the same run directory.
//
// The collectives are deterministic and give every rank the same bits:
//  - dist_allreduce_*: the sum over ranks in rank order 0, 1, ..., N-1, accumulated in double and
//    rounded once. Small vectors (N*n <= 65536 elements) go to every rank whole and each rank adds
//    them up itself; large ones are reduce-scattered (rank j adds up chunk j of every rank, in rank
//    order) and all-gathered, which moves 2 (N-1)/N of the vector per rank like a ring allreduce.
//    The result depends on N (the order of a sum of N terms) but not on timing, the network or the
//    MPI library's algorithm choice: a run with the same N repeats bit for bit.
//  - dist_bcast: the root's bytes, unchanged.
// They are built from point-to-point messages on a private communicator, so a rank that waits knows
// which peer it waits for: one that has not answered within the timeout (dist_init, runtime.dist_timeout)
// is named on stderr ("rank 0: no answer from rank 1 for 600 s ...") and the job is ended
// (MPI_Abort). A rank that exits or is killed ends the job through the launcher (mpirun names it;
// under srun use --kill-on-bad-exit, or the timeout does it). Collectives never return an error.
#ifndef GESTURE_DIST_H
#define GESTURE_DIST_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

// Processes the launcher started, from its environment: OMPI_COMM_WORLD_SIZE (Open MPI's mpirun),
// PMI_SIZE (MPICH / Intel MPI hydra, srun --mpi=pmi2), SLURM_STEP_NUM_TASKS (srun). 1 when none is
// set. *var (when var != NULL) gets "NAME=VALUE" of the variable that said so ("" for none).
int dist_launch_size(char *var, size_t n);
// 1 when this binary was built with MPI; *version (may be NULL) gets the library's version line.
int dist_have_mpi(const char **version);

// Start: under a launcher with MPI, MPI_Init (threads: funneled; only the calling thread uses MPI)
// and the rank, size and ranks per node; else one process of rank 0. timeout_s (> 0) is how long a
// collective waits for a peer before it ends the job. 0, or -1 + gs_error (a build without MPI
// launched as several ranks; MPI_Init failing).
int dist_init(double timeout_s);
// MPI_Finalize when dist_init started MPI (call once, after the last collective).
void dist_finalize(void);
int dist_rank(void);        // 0 without MPI
int dist_size(void);        // 1 without MPI
int dist_local_size(void);  // ranks on this machine (sharing its cores), 1 without MPI
int dist_local_rank(void);  // this rank's index among them (its GPU: one per rank), 0 without MPI
// Change the collectives' timeout (runtime.dist_timeout, once the config is read), and read it.
void dist_set_timeout(double timeout_s);
double dist_timeout(void);
// What the collectives name in a timeout message ("epoch 3 step 17"; "" = nothing).
void dist_set_context(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
// Number of collectives this rank has entered (tests, messages), and the wall time spent in them
// (waiting for the other ranks included: where data-parallel efficiency goes, timing.ini).
long dist_collectives(void);
double dist_collective_seconds(void);

// In-place sum over ranks (see above); `what` names the data in messages ("gradients").
void dist_allreduce_f64(double *v, size_t n, const char *what);
void dist_allreduce_f32(float *v, size_t n, const char *what);
// root's `bytes` bytes of buf into every rank's buf.
void dist_bcast(void *buf, size_t bytes, int root, const char *what);
// Every rank waits for all the others.
void dist_barrier(const char *what);

// For a collective that runs elsewhere (NCCL on the GPU) and has not finished within the timeout:
// every rank that sees its own stall calls this; they exchange a message with each other for a few
// seconds, name the ranks that do not answer (they died or hang) and end the job.
__attribute__((noreturn)) void dist_abort_stalled(const char *what, double waited);

// "gesture: rank R: <message>" on stderr, then the whole job ends with exit code `code` (MPI_Abort;
// exit(code) with one process). For errors one rank meets alone (a bad clip in its shard).
__attribute__((noreturn, format(printf, 2, 3))) void dist_abort(int code, const char *fmt, ...);

// Shard of a global batch of n clips for `rank` of `size`: rows [*lo, *hi), as numpy.array_split cuts
// them (in rank order, so the shards concatenated in rank order are the batch; B divisible by size
// gives B/size each; of n = q size + e clips the first e ranks get q + 1: rank 0 has one while n > 0).
void dist_shard(int n, int rank, int size, int *lo, int *hi);

#ifdef __cplusplus
}
#endif

#endif
