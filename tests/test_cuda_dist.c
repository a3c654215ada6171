// Data-parallel training on GPUs (cuda/dist_nccl.cu: NCCL reducer; cuda/exec_cuda.cu: the sync BN,
// dropout offset and scaled loss rows): N ranks x B/N clips on the CUDA backend = 1 process x B clips
// on it, the comparison of tests/dist_equiv.h (the CPU backend's one-process step is the second
// one-process implementation), with sync_bn on (dropout off; dropout 0.5 and L2 1) and off.
// tests/test_train_mpi.sh runs it under mpirun with 2 ranks as test_cuda_dist_emu (the CUDA emulator,
// whose stand-in nccl.h sums through MPI); on a machine with a GPU per rank as test_cuda_dist.
// Alone (ctest), or without the CUDA backend, a device per rank or NCCL: skipped (77).
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#ifndef GESTURE_WITH_CUDA
int main(void) { test_skip("CUDA backend not built (configure with -DGESTURE_CUDA=ON): skipped"); }
#else

#include "dist_equiv.h"
#include "gesture/dist.h"
#include "gesture/exec.h"
#include "gesture/model_cuda.h"
#include "gesture/ops.h"
#include "gesture/ops_cuda.h"

// The GPU executor stepped as cuda/train_cuda.cu steps it (a rank's part: gs_exec_dist with the NCCL
// reducer), its host view made current after each step.
typedef struct {
    gs_model_cuda g;
    gs_exec_dist ed;
} cuda_runner;

// gs_exec_dist.bucket_floats of the next runs: 0 = one gradient sum after backward (as before
// buckets); small = many buckets, each summed on NCCL's stream while backward goes on
static size_t bucket_floats;

static void cuda_step(runner *r, const float *x, const int *labels, int n, const gs_train_dist *d, float lr,
                      float beta1, float beta2, float eps) {
    cuda_runner *c = r->ctx;
    const gs_model_arch *a = &r->m.cfg;
    if (n > 0) {
        gs_cuda_upload(model_cuda_input(&c->g), x, (size_t)n * a->frames * a->size * a->size * 3 * sizeof(float));
        model_cuda_set_labels(&c->g, labels, n);
    }
    if (d) {
        c->ed.row0 = d->row0;
        c->ed.loss_scale = (float)((double)n / d->n_global);
        c->ed.l2_grad = d->rank == 0;
        c->ed.bn = d->sync_bn ? gs_nccl_reducer() : NULL;
        c->ed.grads = gs_nccl_reducer();
        c->ed.bucket_floats = bucket_floats;
        c->g.e.dist = &c->ed;
    }
    model_cuda_train_step(&c->g, n, lr, beta1, beta2, eps);
    c->g.e.dist = NULL;
    if (d) gs_cuda_sync_within(dist_timeout(), "test step");
    model_cuda_read_loss(&c->g);
    model_cuda_download_params(&c->g);
    gs_cuda_download(r->m.params.grad, c->g.e.grad, r->m.params.numel_trainable * sizeof(float));
}

static void cuda_load(runner *r) { model_cuda_upload_params(&((cuda_runner *)r->ctx)->g); }

static void cuda_free_runner(runner *r) {
    cuda_runner *c = r->ctx;
    model_cuda_free(&c->g);
    model_free(&r->m);
    free(c);
}

static void make_cuda(runner *r, const gs_model_arch *arch, int alt) {
    (void)alt;
    GS_ASSERT(model_init(&r->m, arch) == 0);
    model_init_weights(&r->m, 7);
    r->m.seed = 99;
    cuda_runner *c = gs_calloc(1, sizeof *c);
    if (model_cuda_init(&c->g, &r->m)) gs_fatal("model_cuda_init: %s", gs_last_error());
    r->ctx = c;
    r->step = cuda_step;
    r->load = cuda_load;
    r->free = cuda_free_runner;
}

int main(void) {
    if (dist_init(120) != 0) {
        fprintf(stderr, "%s\n", gs_last_error());
        return 1;
    }
    int R = dist_rank(), N = dist_size();
    if (N < 2) test_skip("needs 2 or more MPI ranks (tests/test_train_mpi.sh runs it under mpirun): skipped");
    int devices = gs_cuda_device_count();
    if (devices == 0) test_skip("no CUDA device: skipped");
    if (!gs_nccl_available()) {
        printf("%s\n", gs_last_error());
        test_skip("no NCCL: skipped");
    }
    if (gs_cuda_init(dist_local_rank() % devices)) gs_fatal("gs_cuda_init: %s", gs_last_error());
    if (gs_nccl_open()) gs_fatal("%s", gs_last_error());
    printf("rank %d of %d: %s\n", R, N, gs_cuda_device_name());
    dist_equivalence(R, N, make_cuda, make_cuda, eq_make_cpu, "the CPU backend", 1, GS_BN_TIME_KERAS2, 0.0f, 1e-3f,
                     "CUDA + NCCL, sync_bn on, dropout off");
    dist_equivalence(R, N, make_cuda, make_cuda, eq_make_cpu, "the CPU backend", 1, GS_BN_TIME_KERAS2, 0.5f, 1.0f,
                     "CUDA + NCCL, sync_bn on, dropout 0.5, l2 1");
    dist_equivalence(R, N, make_cuda, make_cuda, eq_make_cpu, "the CPU backend", 0, GS_BN_TIME_KERAS2, 0.0f, 1e-3f,
                     "CUDA + NCCL, sync_bn off");
    dist_equivalence(R, N, make_cuda, make_cuda, eq_make_cpu, "the CPU backend", 1, GS_BN_TIME_KERAS3, 0.0f, 1e-3f,
                     "CUDA + NCCL, model.bn_time = keras3, sync_bn on");
    // gradient buckets (train.bucket_mb): ~20 buckets of >= 20000 floats, the L2 term added per node
    // before its bucket is summed; the same one-process result
    bucket_floats = 20000;
    dist_equivalence(R, N, make_cuda, make_cuda, eq_make_cpu, "the CPU backend", 1, GS_BN_TIME_KERAS2, 0.5f, 1.0f,
                     "CUDA + NCCL, gradient buckets, sync_bn on, dropout 0.5, l2 1");
    dist_equivalence(R, N, make_cuda, make_cuda, eq_make_cpu, "the CPU backend", 0, GS_BN_TIME_KERAS2, 0.0f, 1e-3f,
                     "CUDA + NCCL, gradient buckets, sync_bn off");
    gs_nccl_close();
    gs_cuda_shutdown();
    int rc = test_finish();
    dist_finalize();
    return rc;
}

#endif
