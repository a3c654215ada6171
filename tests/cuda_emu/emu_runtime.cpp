// CPU emulator of the CUDA runtime (tests/cuda_emu/README.md): device memory behind guard pages,
// streams as deferred queues (work runs only when something waits for it, so a missing
// stream/event wait reads stale data instead of luckily fresh data), events, single-stream graph
// capture and replay, and kernel launches run as one fiber per emulated thread.
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <vector>

#include "cuda_profiler_api.h"
#include "emu_device.h"
#include "nvtx3/nvToolsExt.h"

thread_local uint3 threadIdx, blockIdx;
thread_local dim3 blockDim, gridDim;

static int g_failed;  // a fatal report was made: skip the exit-time checks
void gs_emu_fatal(const char *fmt, ...) {
    g_failed = 1;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "cuda-emu: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static std::recursive_mutex g_mu;  // one emulated device; launches and copies are serialized
#define LOCK std::lock_guard<std::recursive_mutex> lock_(g_mu)

// ---------------------------------------------------------------- errors
static cudaError_t g_last = cudaSuccess;
static cudaError_t fail(cudaError_t e) {
    g_last = e;
    return e;
}

const char *cudaGetErrorName(cudaError_t e) {
    switch (e) {
        case cudaSuccess: return "cudaSuccess";
        case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
        case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
        case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
        case cudaErrorNoDevice: return "cudaErrorNoDevice";
        case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
        case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
        case cudaErrorNotReady: return "cudaErrorNotReady";
        case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
        case cudaErrorStreamCaptureUnsupported: return "cudaErrorStreamCaptureUnsupported";
        case cudaErrorStreamCaptureInvalidated: return "cudaErrorStreamCaptureInvalidated";
        case cudaErrorStreamCaptureWrongThread: return "cudaErrorStreamCaptureWrongThread";
    }
    return "cudaErrorUnknown";
}

const char *cudaGetErrorString(cudaError_t e) {
    switch (e) {
        case cudaSuccess: return "no error";
        case cudaErrorInvalidValue: return "invalid argument";
        case cudaErrorInvalidConfiguration: return "invalid configuration argument";
        case cudaErrorMemoryAllocation: return "out of memory";
        case cudaErrorNoDevice: return "no CUDA-capable device is detected";
        case cudaErrorInvalidDevice: return "invalid device ordinal";
        case cudaErrorInvalidResourceHandle: return "invalid resource handle";
        case cudaErrorNotReady: return "device not ready";
        case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
        case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is capturing";
        case cudaErrorStreamCaptureInvalidated: return "operation failed due to a previous error during capture";
        case cudaErrorStreamCaptureWrongThread: return "operation not permitted on an event last recorded in a capturing stream";
    }
    return "unknown error";
}

cudaError_t cudaGetLastError(void) {
    cudaError_t e = g_last;
    g_last = cudaSuccess;
    return e;
}
cudaError_t cudaPeekAtLastError(void) { return g_last; }

// ---------------------------------------------------------------- device
// GESTURE_CUDA_EMU_DEVICES=0 makes the emulator report no device (tests of the "no GPU" paths).
static int emu_devices(void) {
    const char *s = getenv("GESTURE_CUDA_EMU_DEVICES");
    return s ? atoi(s) : 1;
}
static int g_device = 0;

cudaError_t cudaGetDeviceCount(int *n) {
    *n = emu_devices();
    return *n ? cudaSuccess : fail(cudaErrorNoDevice);
}
cudaError_t cudaSetDevice(int d) {
    if (d < 0 || d >= emu_devices()) return fail(cudaErrorInvalidDevice);
    g_device = d;
    return cudaSuccess;
}
cudaError_t cudaGetDevice(int *d) {
    *d = g_device;
    return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int d) {
    if (d < 0 || d >= emu_devices()) return fail(cudaErrorInvalidDevice);
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "CPU emulator (tests/cuda_emu)");
    p->totalGlobalMem = (size_t)16 << 30;
    p->major = 9;
    p->minor = 0;
    p->multiProcessorCount = 2;  // small grids: grid-stride loops take several turns, as on a busy GPU
    return cudaSuccess;
}

// ---------------------------------------------------------------- memory
// Every allocation gets its own mapping: [guard page][slack][user bytes][slack < 256][guard page].
// The user block ends within 256 bytes of a guard page (cudaMalloc's 256-byte alignment kept), so
// a run past the end faults at once or reads the slack pattern; slack is checked at cudaFree.
#define FILL_USER 0xFF   // fresh device memory reads as NaN, as an unwritten output must not pass
#define FILL_SLACK 0xFD  // -4.2e37 as float: poisons a result that read out of bounds
struct dev_alloc {
    char *map;
    size_t map_len;
    char *user;
    size_t bytes;
    char *rw_begin, *rw_end;
};
static std::map<uintptr_t, dev_alloc> g_dev;  // by user address
static std::map<uintptr_t, size_t> g_pinned;  // pinned host blocks: start -> bytes
static int g_capturing;  // streams capturing now (global capture mode: unsafe calls fail)

static size_t page_size(void) { return (size_t)sysconf(_SC_PAGESIZE); }

static const dev_alloc *dev_find(const void *p) {
    uintptr_t a = (uintptr_t)p;
    auto it = g_dev.upper_bound(a);
    if (it == g_dev.begin()) return nullptr;
    --it;
    const dev_alloc &d = it->second;
    return a >= (uintptr_t)d.user && a < (uintptr_t)d.user + (d.bytes ? d.bytes : 1) ? &d : nullptr;
}

int gs_emu_is_device(const void *p, size_t bytes) {
    LOCK;
    const dev_alloc *d = dev_find(p);
    return d && (const char *)p + bytes <= d->user + d->bytes;
}

static void slack_check(const dev_alloc &d, const char *when) {
    for (char *q = d.rw_begin; q < d.user; q++)
        if ((unsigned char)*q != FILL_SLACK)
            gs_emu_fatal("%s: %zu bytes BEFORE a %zu-byte device allocation were overwritten (out-of-bounds write)", when,
                      (size_t)(d.user - q), d.bytes);
    for (char *q = d.user + d.bytes; q < d.rw_end; q++)
        if ((unsigned char)*q != FILL_SLACK)
            gs_emu_fatal("%s: byte %zu past the end of a %zu-byte device allocation was overwritten (out-of-bounds write)",
                      when, (size_t)(q - d.user - d.bytes), d.bytes);
}

static void flush_all(void);
static cudaError_t capture_violation(cudaStream_t s);

cudaError_t cudaMalloc(void **p, size_t bytes) {
    LOCK;
    *p = nullptr;
    if (g_capturing) return capture_violation(nullptr);
    size_t pg = page_size();
    size_t user_span = (bytes + 255) & ~(size_t)255;
    size_t rw = (user_span + pg - 1) / pg * pg;
    if (rw == 0) rw = pg;
    size_t len = rw + 2 * pg;
    char *m = (char *)mmap(nullptr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return fail(cudaErrorMemoryAllocation);
    if (mprotect(m + pg, rw, PROT_READ | PROT_WRITE)) {
        munmap(m, len);
        return fail(cudaErrorMemoryAllocation);
    }
    dev_alloc d;
    d.map = m;
    d.map_len = len;
    d.rw_begin = m + pg;
    d.rw_end = m + pg + rw;
    d.user = d.rw_end - user_span;
    d.bytes = bytes;
    memset(d.rw_begin, FILL_SLACK, rw);
    memset(d.user, FILL_USER, bytes);
    g_dev[(uintptr_t)d.user] = d;
    *p = d.user;
    return cudaSuccess;
}

cudaError_t cudaFree(void *p) {
    LOCK;
    if (!p) return cudaSuccess;
    if (g_capturing) return capture_violation(nullptr);
    auto it = g_dev.find((uintptr_t)p);
    if (it == g_dev.end()) return fail(cudaErrorInvalidValue);
    flush_all();  // cudaFree waits for the device
    slack_check(it->second, "cudaFree");
    munmap(it->second.map, it->second.map_len);
    g_dev.erase(it);
    return cudaSuccess;
}

cudaError_t cudaHostAlloc(void **p, size_t bytes, unsigned flags) {
    (void)flags;
    LOCK;
    *p = aligned_alloc(4096, (bytes + 4095) / 4096 * 4096 + 4096);
    if (!*p) return fail(cudaErrorMemoryAllocation);
    g_pinned[(uintptr_t)*p] = bytes;
    return cudaSuccess;
}
cudaError_t cudaMallocHost(void **p, size_t bytes) { return cudaHostAlloc(p, bytes, 0); }
cudaError_t cudaFreeHost(void *p) {
    LOCK;
    if (!p) return cudaSuccess;
    if (!g_pinned.erase((uintptr_t)p)) return fail(cudaErrorInvalidValue);
    flush_all();  // as cudaFreeHost: pending copies from/to it finish first
    free(p);
    return cudaSuccess;
}

static int is_pinned(const void *p) {
    auto it = g_pinned.upper_bound((uintptr_t)p);
    if (it == g_pinned.begin()) return 0;
    --it;
    return (uintptr_t)p < it->first + it->second;
}

cudaError_t cudaPointerGetAttributes(cudaPointerAttributes *attr, const void *p) {
    LOCK;
    memset(attr, 0, sizeof *attr);
    if (dev_find(p)) {
        attr->type = cudaMemoryTypeDevice;
        attr->devicePointer = (void *)p;
    } else if (is_pinned(p)) {
        attr->type = cudaMemoryTypeHost;
        attr->hostPointer = (void *)p;
    } else {
        attr->type = cudaMemoryTypeUnregistered;
    }
    return cudaSuccess;
}

// ---------------------------------------------------------------- streams, events, graphs
struct emu_op {
    std::function<void()> fn;
    const char *what;
};
struct gs_emu_graph {
    std::vector<emu_op> ops;
};
struct gs_emu_stream {
    std::deque<emu_op> q;
    unsigned long long enq = 0, done = 0;
    bool capturing = false, invalidated = false;
    gs_emu_graph *graph = nullptr;
};
struct gs_emu_event {
    gs_emu_stream *s = nullptr;
    unsigned long long seq = 0;
};
static std::set<gs_emu_stream *> g_streams;
static gs_emu_stream g_null_stream;  // stream 0

static gs_emu_stream *S(cudaStream_t s) { return s ? s : &g_null_stream; }

static void flush(gs_emu_stream *s, unsigned long long upto) {
    while (s->done < upto && !s->q.empty()) {
        emu_op op = std::move(s->q.front());
        s->q.pop_front();
        op.fn();
        s->done++;
    }
}
static void flush_all(void) {
    flush(&g_null_stream, g_null_stream.enq);
    for (gs_emu_stream *s : g_streams) flush(s, s->enq);
}

void gs_emu_enqueue(cudaStream_t st, const char *what, std::function<void()> fn) {
    LOCK;
    gs_emu_stream *s = S(st);
    if (s->capturing) {
        s->graph->ops.push_back({std::move(fn), what});
        return;
    }
    if (s == &g_null_stream) {  // the legacy default stream: after everything queued before it
        // on a GPU this is cudaErrorStreamCaptureImplicit and invalidates the capture
        if (g_capturing) gs_emu_fatal("%s on the legacy default stream while a stream captures", what);
        flush_all();
        fn();
        s->enq++;
        s->done++;
        return;
    }
    s->q.push_back({std::move(fn), what});
    s->enq++;
}

static cudaError_t capture_violation(cudaStream_t s) {
    // global capture mode: a synchronizing call while any stream captures invalidates the capture
    if (s && s->capturing) s->invalidated = true;
    for (gs_emu_stream *t : g_streams)
        if (t->capturing) t->invalidated = true;
    return fail(cudaErrorStreamCaptureUnsupported);
}

cudaError_t cudaStreamCreate(cudaStream_t *s) { return cudaStreamCreateWithFlags(s, 0); }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned flags) {
    (void)flags;
    LOCK;
    *s = new gs_emu_stream;
    g_streams.insert(*s);
    return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t s) {
    LOCK;
    if (!g_streams.count(s)) return fail(cudaErrorInvalidResourceHandle);
    if (s->capturing) return fail(cudaErrorStreamCaptureUnsupported);
    flush(s, s->enq);  // pending work still completes, as on the device
    g_streams.erase(s);
    delete s;
    return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t st) {
    LOCK;
    gs_emu_stream *s = S(st);
    if (g_capturing) return capture_violation(s);
    flush(s, s->enq);
    return cudaSuccess;
}
cudaError_t cudaStreamQuery(cudaStream_t st) { return cudaStreamSynchronize(st); }
cudaError_t cudaDeviceSynchronize(void) {
    LOCK;
    if (g_capturing) return capture_violation(nullptr);
    flush_all();
    return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t *e) { return cudaEventCreateWithFlags(e, 0); }
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned flags) {
    (void)flags;
    *e = new gs_emu_event;
    return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t e) {
    delete e;
    return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t st) {
    LOCK;
    gs_emu_stream *s = S(st);
    if (s->capturing) gs_emu_fatal("cudaEventRecord on a capturing stream is not emulated (graphs here are one stream)");
    e->s = s;
    e->seq = s->enq;
    return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t e) {
    LOCK;
    if (g_capturing) return capture_violation(nullptr);
    if (e->s) flush(e->s, e->seq);
    return cudaSuccess;
}
cudaError_t cudaEventQuery(cudaEvent_t e) { return cudaEventSynchronize(e); }
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b) {
    (void)a;
    (void)b;
    *ms = 0.0f;
    return cudaSuccess;
}
cudaError_t cudaStreamWaitEvent(cudaStream_t st, cudaEvent_t e, unsigned flags) {
    (void)flags;
    LOCK;
    gs_emu_stream *s = S(st);
    if (!e->s) return cudaSuccess;  // never recorded: no dependency
    if (s->capturing) {
        if (e->s->capturing) return cudaSuccess;
        // joining work from outside the capture: it must have been done before the graph runs
        gs_emu_fatal("cudaStreamWaitEvent: a capturing stream waits on an event of a non-capturing stream "
                  "(not capturable)");
    }
    gs_emu_stream *src = e->s;
    unsigned long long seq = e->seq;
    s->q.push_back({[src, seq] { flush(src, seq); }, "cudaStreamWaitEvent"});
    s->enq++;
    return cudaSuccess;
}

cudaError_t cudaStreamIsCapturing(cudaStream_t st, cudaStreamCaptureStatus *status) {
    LOCK;
    gs_emu_stream *s = S(st);
    *status = !s->capturing ? cudaStreamCaptureStatusNone
                            : (s->invalidated ? cudaStreamCaptureStatusInvalidated : cudaStreamCaptureStatusActive);
    return cudaSuccess;
}
cudaError_t cudaStreamBeginCapture(cudaStream_t st, cudaStreamCaptureMode mode) {
    LOCK;
    if (!st) return fail(cudaErrorStreamCaptureUnsupported);  // the legacy stream cannot capture
    if (mode != cudaStreamCaptureModeGlobal) gs_emu_fatal("cudaStreamBeginCapture: only the global mode is emulated");
    if (st->capturing) return fail(cudaErrorInvalidValue);
    st->capturing = true;
    st->invalidated = false;
    st->graph = new gs_emu_graph;
    g_capturing++;
    return cudaSuccess;
}
cudaError_t cudaStreamEndCapture(cudaStream_t st, cudaGraph_t *graph) {
    LOCK;
    *graph = nullptr;
    if (!st || !st->capturing) return fail(cudaErrorInvalidValue);
    st->capturing = false;
    g_capturing--;
    if (st->invalidated) {
        delete st->graph;
        st->graph = nullptr;
        return fail(cudaErrorStreamCaptureInvalidated);
    }
    *graph = st->graph;
    st->graph = nullptr;
    return cudaSuccess;
}
cudaError_t cudaGraphInstantiate(cudaGraphExec_t *exec, cudaGraph_t graph, unsigned long long flags) {
    (void)flags;
    if (!graph) return fail(cudaErrorInvalidValue);
    *exec = new gs_emu_graph(*graph);
    return cudaSuccess;
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t st) {
    LOCK;
    if (!exec) return fail(cudaErrorInvalidValue);
    if (S(st)->capturing) gs_emu_fatal("cudaGraphLaunch into a capturing stream is not emulated");
    for (const emu_op &op : exec->ops) gs_emu_enqueue(st, op.what, op.fn);
    return cudaSuccess;
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
    delete exec;
    return cudaSuccess;
}
cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
    delete graph;
    return cudaSuccess;
}

// ---------------------------------------------------------------- copies
static cudaError_t check_range(const void *p, size_t bytes, int device, const char *what) {
    if (device) {
        if (!gs_emu_is_device(p, bytes)) {
            const dev_alloc *d = dev_find(p);
            if (d)
                fprintf(stderr, "cuda-emu: %s: %zu bytes at offset %zu overrun a %zu-byte device allocation\n", what,
                        bytes, (size_t)((const char *)p - d->user), d->bytes);
            else
                fprintf(stderr, "cuda-emu: %s: %p is not device memory\n", what, p);
            return fail(cudaErrorInvalidValue);
        }
    } else if (dev_find(p)) {
        fprintf(stderr, "cuda-emu: %s: %p is device memory where host memory was expected\n", what, p);
        return fail(cudaErrorInvalidValue);
    }
    return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t st) {
    LOCK;
    if (!bytes) return cudaSuccess;
    if (kind == cudaMemcpyDefault) kind = (cudaMemcpyKind)((dev_find(src) ? 2 : 0) + (dev_find(dst) ? 1 : 0));
    int dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
    int src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
    if (check_range(dst, bytes, dst_dev, "cudaMemcpyAsync dst") || check_range(src, bytes, src_dev, "cudaMemcpyAsync src"))
        return cudaErrorInvalidValue;
    gs_emu_stream *s = S(st);
    const void *host = !src_dev ? src : (!dst_dev ? dst : nullptr);
    if (host && !is_pinned(host) && (s->capturing || g_capturing)) return capture_violation(s);
    if (kind == cudaMemcpyHostToDevice && !is_pinned(src)) {
        // pageable source: the driver stages it before returning, so the caller may reuse it at once
        std::vector<char> copy((const char *)src, (const char *)src + bytes);
        gs_emu_enqueue(st, "cudaMemcpyAsync H2D", [dst, copy] { memcpy(dst, copy.data(), copy.size()); });
    } else if (kind == cudaMemcpyDeviceToHost && !is_pinned(dst)) {
        // pageable destination: returns only once the copy is done
        gs_emu_enqueue(st, "cudaMemcpyAsync D2H", [dst, src, bytes] { memcpy(dst, src, bytes); });
        flush(s, s->enq);
    } else {
        gs_emu_enqueue(st, "cudaMemcpyAsync", [dst, src, bytes] { memmove(dst, src, bytes); });
    }
    return cudaSuccess;
}
// Device to device only (what the backend uses: strided gathers); each span is checked as a whole.
cudaError_t cudaMemcpy2DAsync(void *dst, size_t dpitch, const void *src, size_t spitch, size_t width, size_t height,
                              cudaMemcpyKind kind, cudaStream_t st) {
    LOCK;
    if (kind != cudaMemcpyDeviceToDevice) gs_emu_fatal("cudaMemcpy2DAsync: only device-to-device copies are emulated");
    if (width > dpitch || width > spitch) return fail(cudaErrorInvalidValue);
    if (!width || !height) return cudaSuccess;
    if (check_range(dst, (height - 1) * dpitch + width, 1, "cudaMemcpy2DAsync dst") ||
        check_range(src, (height - 1) * spitch + width, 1, "cudaMemcpy2DAsync src"))
        return cudaErrorInvalidValue;
    gs_emu_enqueue(st, "cudaMemcpy2DAsync", [=] {
        for (size_t r = 0; r < height; r++) memmove((char *)dst + r * dpitch, (const char *)src + r * spitch, width);
    });
    return cudaSuccess;
}
cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind) {
    LOCK;
    if (g_capturing) return capture_violation(nullptr);
    cudaError_t e = cudaMemcpyAsync(dst, src, bytes, kind, 0);
    flush_all();
    return e;
}
cudaError_t cudaMemsetAsync(void *dst, int value, size_t bytes, cudaStream_t st) {
    LOCK;
    if (!bytes) return cudaSuccess;
    if (check_range(dst, bytes, 1, "cudaMemsetAsync")) return cudaErrorInvalidValue;
    gs_emu_enqueue(st, "cudaMemsetAsync", [dst, value, bytes] { memset(dst, value, bytes); });
    return cudaSuccess;
}
cudaError_t cudaMemset(void *dst, int value, size_t bytes) {
    LOCK;
    if (g_capturing) return capture_violation(nullptr);
    cudaError_t e = cudaMemsetAsync(dst, value, bytes, 0);
    flush_all();
    return e;
}

// ---------------------------------------------------------------- profiler, NVTX
static int g_nvtx_depth;
cudaError_t cudaProfilerStart(void) { return cudaSuccess; }
cudaError_t cudaProfilerStop(void) { return cudaSuccess; }
int nvtxRangePushA(const char *message) {
    (void)message;
    return g_nvtx_depth++;
}
int nvtxRangePop(void) {
    if (g_nvtx_depth <= 0) gs_emu_fatal("nvtxRangePop without a matching nvtxRangePushA");
    return --g_nvtx_depth;
}

// Every allocation still alive at exit has intact slack, and NVTX ranges balance.
static void at_exit_check(void) {
    if (g_failed) return;
    for (auto &kv : g_dev) slack_check(kv.second, "at exit");
    if (g_nvtx_depth != 0) {
        fprintf(stderr, "cuda-emu: %d NVTX range(s) pushed and never popped\n", g_nvtx_depth);
        _exit(1);
    }
}
static struct emu_init {
    emu_init() { atexit(at_exit_check); }
} g_emu_init;

// A bad launch configuration is reported by the next cudaGetLastError, as on the device.
cudaError_t gs_emu_set_launch_error(cudaError_t e) { return fail(e); }
