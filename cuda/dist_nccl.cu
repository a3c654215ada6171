// Data-parallel training on GPUs (gesture/dist.h, docs/scaling.md): one GPU per rank, an NCCL
// communicator bootstrapped through MPI (rank 0's ncclUniqueId broadcast with dist_bcast), and the
// reducer the walker calls (gs_exec_dist): BN statistics (doubles) and gradients (floats) summed in
// place in device memory by ncclAllReduce, queued on the compute stream between the kernels that
// produce and consume them, so a step needs no host round trip. The GPU work of a step is waited for
// with the collectives' timeout (a rank that died or hangs would block NCCL forever): past it,
// dist_abort_stalled names the ranks that no longer answer over MPI.
// Built with NCCL where CMake finds it (GESTURE_WITH_NCCL; the CUDA emulator brings a stand-in
// nccl.h that sums through MPI, tests/cuda_emu/include/nccl.h); without, the device offers no
// data-parallel training (gesture train refuses N ranks on CUDA).
#include <string.h>
#include <time.h>

#include "cuda_common.h"
extern "C" {
#include "gesture/dist.h"
#include "gesture/runtime.h"
}

#ifdef GESTURE_WITH_NCCL
#include <nccl.h>

static ncclComm_t g_comm;
static int g_open;

#define NCCL_CHECK(call)                                                                                     \
    do {                                                                                                     \
        ncclResult_t r_ = (call);                                                                            \
        if (r_ != ncclSuccess)                                                                               \
            dist_abort(1, "NCCL error %d (%s) in `%s` at %s:%d", (int)r_, ncclGetErrorString(r_), #call, __FILE__, \
                       __LINE__);                                                                            \
    } while (0)

extern "C" int gs_nccl_open(void) {
    if (g_open) return 0;
    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    if (dist_rank() == 0) NCCL_CHECK(ncclGetUniqueId(&id));
    dist_bcast(&id, sizeof id, 0, "NCCL unique id");
    NCCL_CHECK(ncclCommInitRank(&g_comm, dist_size(), id, dist_rank()));
    g_open = 1;
    return 0;
}

extern "C" void gs_nccl_close(void) {
    if (!g_open) return;
    gs_cuda_sync();
    ncclCommDestroy(g_comm);
    g_open = 0;
}

static void sum_f64(void *ctx, double *v, size_t n) {
    (void)ctx;
    NCCL_CHECK(ncclAllReduce(v, v, n, ncclFloat64, ncclSum, g_comm, gs_cuda_stream()));
}

static void sum_f32(void *ctx, float *v, size_t n) {
    (void)ctx;
    NCCL_CHECK(ncclAllReduce(v, v, n, ncclFloat32, ncclSum, g_comm, gs_cuda_stream()));
}

static const gs_reducer NCCL_REDUCER = {sum_f64, sum_f32, NULL};

extern "C" const gs_reducer *gs_nccl_reducer(void) { return g_open ? &NCCL_REDUCER : NULL; }
extern "C" int gs_nccl_built(void) { return 1; }

#else

extern "C" int gs_nccl_open(void) {
    return gs_error("this CUDA backend was built without NCCL (the CUDA toolkit's nccl.h and libnccl): data-parallel "
                    "training on GPUs needs it; set runtime.device = cpu or rebuild where NCCL is installed");
}
extern "C" void gs_nccl_close(void) {}
extern "C" const gs_reducer *gs_nccl_reducer(void) { return NULL; }
extern "C" int gs_nccl_built(void) { return 0; }

#endif

extern "C" void gs_cuda_sync_within(double timeout_s, const char *what) {
    cudaStream_t st = gs_cuda_stream();
    double t0 = runtime_now();
    for (;;) {
        cudaError_t e = cudaStreamQuery(st);
        if (e == cudaSuccess) break;
        if (e != cudaErrorNotReady) CUDA_CHECK(e);
        double waited = runtime_now() - t0;
        if (waited > timeout_s) dist_abort_stalled(what, waited);
        struct timespec ts = {0, waited < 0.01 ? 20000L : 1000000L};
        nanosleep(&ts, NULL);
    }
    gs_cuda_sync();  // reports a failed op by name
}
