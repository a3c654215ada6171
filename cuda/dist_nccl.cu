// Data-parallel training on GPUs (gesture/dist.h, docs/scaling.md): one GPU per rank, an NCCL
// communicator bootstrapped through MPI (rank 0's ncclUniqueId broadcast with dist_bcast), and the
// reducer the walker calls (gs_exec_dist): BN statistics (doubles) and gradients (floats) summed in
// place in device memory by ncclAllReduce on a communication stream tied to the compute stream by
// events (gradient buckets overlap the rest of backward), so a step needs no host round trip. The
// GPU work of a step is waited for with the collectives' timeout (a rank that died or hangs would
// block NCCL forever): past it, dist_abort_stalled names the ranks that no longer answer over MPI.
// Built with NCCL where CMake finds nccl.h (GESTURE_WITH_NCCL; libnccl is then loaded at run time,
// GESTURE_NCCL_DLOPEN; the CUDA emulator links a stand-in nccl.h that sums through MPI,
// tests/cuda_emu/include/nccl.h); without, the device offers no data-parallel training (gesture
// train refuses N ranks on CUDA, saying why).
#include <string.h>
#include <time.h>

#include "cuda_common.h"
extern "C" {
#include "gesture/dist.h"
#include "gesture/runtime.h"
}

#ifdef GESTURE_WITH_NCCL
#include <nccl.h>

#ifdef GESTURE_NCCL_DLOPEN
// libnccl is loaded when a data-parallel GPU run starts, not linked: a gesture built where NCCL is
// installed still starts where it is not (NCCL is a 200 MB library many GPU machines lack).
#include <dlfcn.h>
static struct {
    const char *(*GetErrorString)(ncclResult_t);
    ncclResult_t (*GetUniqueId)(ncclUniqueId *);
    ncclResult_t (*CommInitRank)(ncclComm_t *, int, ncclUniqueId, int);
    ncclResult_t (*CommDestroy)(ncclComm_t);
    ncclResult_t (*AllReduce)(const void *, void *, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t, cudaStream_t);
    int loaded;
} F;

static int nccl_load(void) {
    if (F.loaded) return 0;
    void *h = dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!h) h = dlopen("libnccl.so", RTLD_NOW | RTLD_LOCAL);
    if (!h) return gs_error("cannot load NCCL (libnccl.so.2: %s); install it (NVIDIA's libnccl2 package or the CUDA "
                            "toolkit's) or add its directory to LD_LIBRARY_PATH", dlerror());
    *(void **)&F.GetErrorString = dlsym(h, "ncclGetErrorString");
    *(void **)&F.GetUniqueId = dlsym(h, "ncclGetUniqueId");
    *(void **)&F.CommInitRank = dlsym(h, "ncclCommInitRank");
    *(void **)&F.CommDestroy = dlsym(h, "ncclCommDestroy");
    *(void **)&F.AllReduce = dlsym(h, "ncclAllReduce");
    if (!F.GetErrorString || !F.GetUniqueId || !F.CommInitRank || !F.CommDestroy || !F.AllReduce)
        return gs_error("libnccl.so.2 lacks an NCCL function this build calls (NCCL 2 expected)");
    F.loaded = 1;
    return 0;
}
#define ncclGetErrorString F.GetErrorString
#define ncclGetUniqueId F.GetUniqueId
#define ncclCommInitRank F.CommInitRank
#define ncclCommDestroy F.CommDestroy
#define ncclAllReduce F.AllReduce
#else
static int nccl_load(void) { return 0; }  // linked (the CUDA emulator's stand-in)
#endif

static ncclComm_t g_comm;
static int g_open;
static cudaStream_t g_comm_stream;
static cudaEvent_t g_ready, g_done;

#define NCCL_CHECK(call)                                                                                     \
    do {                                                                                                     \
        ncclResult_t r_ = (call);                                                                            \
        if (r_ != ncclSuccess)                                                                               \
            dist_abort(1, "NCCL error %d (%s) in `%s` at %s:%d", (int)r_, ncclGetErrorString(r_), #call, __FILE__, \
                       __LINE__);                                                                            \
    } while (0)

extern "C" int gs_nccl_open(void) {
    if (g_open) return 0;
    if (nccl_load()) return -1;
    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    if (dist_rank() == 0) NCCL_CHECK(ncclGetUniqueId(&id));
    dist_bcast(&id, sizeof id, 0, "NCCL unique id");
    NCCL_CHECK(ncclCommInitRank(&g_comm, dist_size(), id, dist_rank()));
    CUDA_CHECK(cudaStreamCreateWithFlags(&g_comm_stream, cudaStreamNonBlocking));
    CUDA_CHECK(cudaEventCreateWithFlags(&g_ready, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventCreateWithFlags(&g_done, cudaEventDisableTiming));
    g_open = 1;
    return 0;
}

extern "C" void gs_nccl_close(void) {
    if (!g_open) return;
    gs_cuda_sync();
    CUDA_CHECK(cudaStreamSynchronize(g_comm_stream));
    ncclCommDestroy(g_comm);
    cudaEventDestroy(g_ready);
    cudaEventDestroy(g_done);
    cudaStreamDestroy(g_comm_stream);
    g_open = 0;
}

// Every NCCL call goes on one communication stream, so the ranks' collectives run in the order they
// were issued (NCCL's rule; calls on two streams of one communicator could pass each other and
// deadlock across ranks), after the compute work queued before it (event `ready`). A blocking sum
// then makes the compute stream wait for it (event `done`); an overlapped one (gradient buckets)
// leaves the compute stream free until join.

static void comm_after_compute(void) {
    CUDA_CHECK(cudaEventRecord(g_ready, gs_cuda_stream()));
    CUDA_CHECK(cudaStreamWaitEvent(g_comm_stream, g_ready, 0));
}

static void join(void *ctx) {
    (void)ctx;
    CUDA_CHECK(cudaEventRecord(g_done, g_comm_stream));
    CUDA_CHECK(cudaStreamWaitEvent(gs_cuda_stream(), g_done, 0));
}

static void sum_f32_async(void *ctx, float *v, size_t n) {
    (void)ctx;
    comm_after_compute();
    NCCL_CHECK(ncclAllReduce(v, v, n, ncclFloat32, ncclSum, g_comm, g_comm_stream));
}

static void sum_f64(void *ctx, double *v, size_t n) {
    comm_after_compute();
    NCCL_CHECK(ncclAllReduce(v, v, n, ncclFloat64, ncclSum, g_comm, g_comm_stream));
    join(ctx);
}

static void sum_f32(void *ctx, float *v, size_t n) {
    sum_f32_async(ctx, v, n);
    join(ctx);
}

static const gs_reducer NCCL_REDUCER = {
    .sum = sum_f64, .sum_f32 = sum_f32, .ctx = NULL, .sum_f32_async = sum_f32_async, .join = join};

extern "C" const gs_reducer *gs_nccl_reducer(void) { return g_open ? &NCCL_REDUCER : NULL; }
extern "C" int gs_nccl_available(void) { return nccl_load() == 0; }

#else

#define NO_NCCL                                                                                                  \
    "this CUDA backend was built without NCCL (nccl.h was not found, or the build has no MPI to bootstrap it); " \
    "rebuild where the CUDA toolkit's NCCL and libopenmpi-dev are installed"
extern "C" int gs_nccl_open(void) { return gs_error(NO_NCCL); }
extern "C" void gs_nccl_close(void) {}
extern "C" const gs_reducer *gs_nccl_reducer(void) { return NULL; }
extern "C" int gs_nccl_available(void) { return gs_error(NO_NCCL) + 1; }

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
