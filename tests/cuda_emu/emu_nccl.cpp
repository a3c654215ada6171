// CPU emulator (tests/cuda_emu): the NCCL stand-in (include/nccl.h). ncclAllReduce checks its
// arguments as NCCL does and queues the sum on the stream; when the stream runs it, the ranks'
// buffers are summed by gesture/dist.h (MPI point to point, rank order, the collectives' timeout),
// so every rank's stream must reach its collectives in the same order, as NCCL requires.
#include <string.h>

#include "cuda_runtime.h"
#include "nccl.h"
extern "C" {
#include "gesture/dist.h"
}

struct gs_emu_nccl_comm {
    int nranks, rank;
};

static const char ID_MAGIC[] = "gesture-emu-nccl";

const char *ncclGetErrorString(ncclResult_t r) {
    switch (r) {
        case ncclSuccess: return "no error";
        case ncclUnhandledCudaError: return "unhandled cuda error";
        case ncclSystemError: return "unhandled system error";
        case ncclInternalError: return "internal error";
        case ncclInvalidArgument: return "invalid argument";
        case ncclInvalidUsage: return "invalid usage";
    }
    return "unknown result";
}

ncclResult_t ncclGetUniqueId(ncclUniqueId *id) {
    if (!id) return ncclInvalidArgument;
    memset(id, 0, sizeof *id);
    memcpy(id->internal, ID_MAGIC, sizeof ID_MAGIC);
    return ncclSuccess;
}

ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank) {
    if (!comm || nranks < 1 || rank < 0 || rank >= nranks) return ncclInvalidArgument;
    // the id is rank 0's (broadcast by the caller), and the ranks are MPI's
    if (memcmp(id.internal, ID_MAGIC, sizeof ID_MAGIC) != 0) return ncclInvalidUsage;
    if (nranks != dist_size() || rank != dist_rank()) return ncclInvalidUsage;
    *comm = new gs_emu_nccl_comm{nranks, rank};
    return ncclSuccess;
}

ncclResult_t ncclCommDestroy(ncclComm_t comm) {
    delete comm;
    return ncclSuccess;
}

ncclResult_t ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype,
                           ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream) {
    if (!comm || op != ncclSum || (datatype != ncclFloat32 && datatype != ncclFloat64)) return ncclInvalidArgument;
    size_t esize = datatype == ncclFloat64 ? 8 : 4;
    if (count && (!gs_emu_is_device(sendbuff, count * esize) || !gs_emu_is_device(recvbuff, count * esize)))
        return ncclInvalidArgument;  // NCCL takes device buffers only
    gs_emu_enqueue(stream, "ncclAllReduce", [=]() {
        if (sendbuff != recvbuff) memmove(recvbuff, sendbuff, count * esize);
        if (datatype == ncclFloat64) dist_allreduce_f64((double *)recvbuff, count, "NCCL allreduce (emulated)");
        else dist_allreduce_f32((float *)recvbuff, count, "NCCL allreduce (emulated)");
    });
    // A GPU starts the collective as soon as the work queued before it on its stream (and the events
    // that stream waits for) allows, not when someone waits for it: run it now, so that a stream that
    // forgot to wait for the kernels producing the buffer sums stale data, as it would on a GPU.
    // (Every rank reaches its collectives in the same order, so the ranks meet here.)
    if (stream) cudaStreamSynchronize(stream);
    return ncclSuccess;
}
