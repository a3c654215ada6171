// The data-parallel part of the training loop (mpirun -np N, gesture/dist.h): start-up agreement,
// rank 0's state shared, per-step clip counts and metric sums, and the Ctrl-C window under mpirun.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"
#include "trainer_internal.h"

// Data-parallel start-up: every rank says whether it failed (a failed one has its gs_error). 1 when
// some rank failed: the others then stop too, quietly (the failed ones print why), before any rank
// waits in a collective the failed one never reaches.
int trainer_dist_agree(const trainer *t, int failed) {
    (void)t;
    double f = failed;
    dist_allreduce_f64(&f, 1, "start-up");
    return f > 0;
}

// Data-parallel: rank 0's model state (parameters and moving statistics, Adam moments, counters)
// and where the run stands (epoch, loader cursor, learning rate) into every rank.
void trainer_dist_share_state(trainer *t) {
    gs_params *p = &t->m.params;
    dist_bcast(p->data, p->numel * sizeof(float), 0, "parameters");
    dist_bcast(p->m, p->numel_trainable * sizeof(float), 0, "Adam moments");
    dist_bcast(p->v, p->numel_trainable * sizeof(float), 0, "Adam moments");
    struct {
        long step, adam_t, st_step;
        uint64_t seed;
        double lr;
        int epoch;
    } h = {t->m.step, t->m.adam_t, t->st.step, t->m.seed, t->lr, t->st.epoch};
    dist_bcast(&h, sizeof h, 0, "trainer state");
    t->m.step = h.step;
    t->m.adam_t = h.adam_t;
    t->m.seed = h.seed;
    t->st.step = h.st_step;
    t->st.epoch = h.epoch;
    t->lr = (float)h.lr;
}

// Data-parallel with train.sync_bn = off: the ranks' BN moving statistics differ (each saw its own
// clips); rank 0's go to every rank before validation, as PyTorch DDP's broadcast_buffers does, so
// the sharded validation scores the model the checkpoints hold.
void trainer_dist_share_moving_stats(trainer *t) {
    gs_params *p = &t->m.params;
    t->be.ops->sync_host(&t->be);
    dist_bcast(p->data + p->numel_trainable, (p->numel - p->numel_trainable) * sizeof(float), 0,
               "moving statistics");
    t->be.ops->load_host(&t->be);
}

// Data-parallel, before a step on b: every rank's clip count (a shard may hold none, or lose clips
// to on_bad_clip = skip), hence the global batch and this rank's first row in it. Returns the
// global batch's clips (0: every clip of it was skipped; no step, as one process skips such a batch).
int trainer_dist_share_counts(trainer *t, const gs_batch *b) {
    double n[64], *counts = t->ranks <= 64 ? n : gs_malloc(sizeof(double) * (size_t)t->ranks);
    memset(counts, 0, sizeof(double) * (size_t)t->ranks);
    counts[t->rank] = b->n;
    dist_allreduce_f64(counts, (size_t)t->ranks, "clip counts");
    int total = 0, row0 = 0;
    for (int r = 0; r < t->ranks; r++) {
        if (r < t->rank) row0 += (int)counts[r];
        total += (int)counts[r];
    }
    if (counts != n) free(counts);
    t->dist.n_global = total;
    t->dist.row0 = row0;
    return total;
}

// Data-parallel, after a step: the step's loss (this rank's share of the global mean cross-entropy,
// plus the L2 term every rank has), correct clips and interrupt flag, summed over the ranks into the
// epoch sums. trained = 0: the step did not run (every clip skipped). Returns 1 when any rank was
// interrupted (every rank gets the same answer at the same step).
int trainer_dist_step_sums(trainer *t, epoch_sums *s, int interrupted, const float *probs, const gs_batch *b, int trained) {
    double v[3] = {0, 0, interrupted ? 1 : 0};
    if (trained) {
        int K = t->m.cfg.classes;
        v[0] = t->m.ce_loss;
        for (int i = 0; i < b->n; i++) {
            int best = 0;
            for (int k = 1; k < K; k++)
                if (probs[i * K + k] > probs[i * K + best]) best = k;
            v[1] += best == b->labels[i];
        }
    }
    dist_allreduce_f64(v, 3, "step metrics");
    if (trained) {
        s->loss_sum += (v[0] + (double)t->m.l2_loss) * t->dist.n_global;
        s->correct += v[1];
        s->seen += t->dist.n_global;
    }
    return v[2] > 0;
}

// OpenMPI's mpirun answers a Ctrl-C with SIGCONT, then SIGTERM odls_base_sigkill_timeout seconds
// later (default 1), then SIGKILL as many seconds after that (measured with OpenMPI 4.1). The ranks
// stop at the step after the SIGTERM and rank 0 writes last.h5: the rest of a step plus that write
// must fit in the window, and at 1 s a real step does not. mpirun passes the parameter on to the
// ranks as OMPI_MCA_odls_base_sigkill_timeout when it is set. (srun waits Slurm's KillWait, 30 s by
// default, between SIGTERM and SIGKILL.)
void trainer_dist_note_kill_window(const trainer *t) {
    if (!t->root || !getenv("OMPI_COMM_WORLD_SIZE")) return;
    const char *v = getenv("OMPI_MCA_odls_base_sigkill_timeout");
    int secs = v ? atoi(v) : 1;
    if (secs >= 10) return;
    printf("note: on Ctrl-C this mpirun kills the ranks %d s after asking them to stop, too soon to finish a step "
           "and save last.h5 mid-epoch; start it with --mca odls_base_sigkill_timeout 30 (docs/scaling.md)\n",
           secs);
}
