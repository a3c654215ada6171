// Data-parallel training pieces (gesture/dist.h, src/dist/dist.c, the walker's gs_exec_dist, the CPU
// step of train_cpu.c). Alone (ctest's test_dist): the one-process collectives leave the data as it
// is. Under mpirun (tests/test_train_mpi.sh runs it with 2 and 3 ranks):
//  - collectives: every rank gets the rank-order double sum rounded once, bit for bit, small
//    (every vector to every rank) and large (reduce-scatter + all-gather) vectors, fewer elements
//    than ranks; a broadcast from a non-zero root;
//  - N ranks x B/N clips = 1 process x B clips (tests/dist_equiv.h: how, and the tolerances): the same
//    seeded model stepped by the CPU backend with be.dist (each rank its dist_shard of the global
//    batch) and, on rank 0, by the one-process step on the whole batch, over several Adam steps
//    including a short batch and a batch of one clip (ranks without clips): losses, summed gradients,
//    BN moving statistics, weight updates and Adam moments agree within float summation-order
//    differences. Checked with sync_bn on, dropout off and on (masks by global row), and L2 on; with
//    sync_bn off the ranks' BN statistics are their own, so the steps differ from one process
//    (checked: they do, and the weights stay the same on every rank).
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/dist.h"
#include "gesture/errors.h"
#include "gesture/model.h"
#include "gesture/rng.h"
#include "gesture/runtime.h"
#include "gesture/trainer.h"
#include "dist_equiv.h"
#include "testutil.h"

static int R, N;

// ---- collectives ----

static double value(int rank, size_t i) { return sin(0.37 * (double)i + rank) * pow(10.0, (double)(i % 7) - 3) + rank; }

static void test_collectives(void) {
    size_t sizes[] = {1, 2, 5, 3000, 40000, 100003};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        double *d = gs_malloc(n * sizeof(double)), *all = gs_malloc(n * (size_t)N * sizeof(double));
        float *f = gs_malloc(n * sizeof(float));
        // every rank's values computed once (an expression evaluated twice may round differently: FMA)
        for (int p = 0; p < N; p++)
            for (size_t i = 0; i < n; i++) all[(size_t)p * n + i] = value(p, i);
        for (size_t i = 0; i < n; i++) d[i] = all[(size_t)R * n + i], f[i] = (float)d[i];
        dist_allreduce_f64(d, n, "test f64");
        dist_allreduce_f32(f, n, "test f32");
        int same_d = 1, same_f = 1;
        for (size_t i = 0; i < n; i++) {
            double ed = 0, ef = 0;
            for (int p = 0; p < N; p++) ed += all[(size_t)p * n + i], ef += (double)(float)all[(size_t)p * n + i];
            same_d &= memcmp(&d[i], &ed, sizeof ed) == 0;
            float eff = (float)ef;
            same_f &= memcmp(&f[i], &eff, sizeof eff) == 0;
        }
        check(same_d && same_f, "rank %d/%d: allreduce of %zu doubles and floats = the rank-order double sum, bit for bit",
              R, N, n);
        free(d);
        free(f);
        free(all);
    }
    size_t nb = 3u << 20;
    unsigned char *buf = gs_malloc(nb);
    int root = N > 1 ? 1 : 0;
    for (size_t i = 0; i < nb; i++) buf[i] = R == root ? (unsigned char)(i * 31 + 7) : 0;
    dist_bcast(buf, nb, root, "test bcast");
    int same = 1;
    for (size_t i = 0; i < nb; i++) same &= buf[i] == (unsigned char)(i * 31 + 7);
    check(same, "rank %d/%d: 3 MiB broadcast from rank %d", R, N, root);
    free(buf);
    int lo, hi, sum = 0, prev = 0;
    for (int p = 0; p < N; p++) {
        dist_shard(7, p, N, &lo, &hi);
        sum += (lo == prev) * (hi - lo);
        prev = hi;
    }
    check(sum == 7, "dist_shard: contiguous shards in rank order cover a batch of 7");
}

// ---- N ranks x B/N = 1 x B (tests/dist_equiv.h) on the CPU backend ----

int main(void) {
    if (dist_init(60) != 0) {
        fprintf(stderr, "%s\n", gs_last_error());
        return 1;
    }
    R = dist_rank();
    N = dist_size();
    test_collectives();
    if (N > 1 || getenv("TEST_DIST_ONE")) {
        char base[64];
        snprintf(base, sizeof base, "%d instead of %d threads", omp_get_max_threads() > 1 ? 1 : 2, omp_get_max_threads());
        dist_equivalence(R, N, eq_make_cpu, eq_make_cpu, eq_make_cpu, base, 1, GS_BN_TIME_KERAS2, 0.0f, 1e-3f,
                         "sync_bn on, dropout off");
        dist_equivalence(R, N, eq_make_cpu, eq_make_cpu, eq_make_cpu, base, 1, GS_BN_TIME_KERAS2, 0.5f, 1.0f,
                         "sync_bn on, dropout 0.5, l2 1");
        dist_equivalence(R, N, eq_make_cpu, eq_make_cpu, eq_make_cpu, base, 0, GS_BN_TIME_KERAS2, 0.0f, 1e-3f,
                         "sync_bn off");
        dist_equivalence(R, N, eq_make_cpu, eq_make_cpu, eq_make_cpu, base, 1, GS_BN_TIME_KERAS3, 0.0f, 1e-3f,
                         "model.bn_time = keras3, sync_bn on");
    }
    int rc = test_finish();
    dist_finalize();
    return rc;
}
