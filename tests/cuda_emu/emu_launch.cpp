// CPU emulator (tests/cuda_emu): kernel launches. A launch is queued on its stream; when the
// stream runs it, the blocks run one after another and every thread of a block is a fiber
// that runs until it finishes or reaches __syncthreads; a barrier opens when every
// live thread of the block has reached it. Threads run in index order by default, so a reader
// that forgets the barrier before reading other threads' shared-memory results sees them
// unwritten; GESTURE_CUDA_EMU_ORDER=reverse runs threads and blocks in reverse to shake out the
// opposite mistake. A block whose threads passed different numbers of barriers (one some threads
// never reach) is reported when it ends. A fault inside a kernel (guard page) names the kernel,
// block and thread.
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include <map>
#include <utility>
#include <vector>

#include "emu_device.h"

#define MAX_THREADS 1024
#define STACK_BYTES (256 * 1024)

enum { F_RUN, F_BARRIER, F_DONE };
// A fiber is made once (makecontext) and then lives forever, parked between uses: switching is
// _setjmp/_longjmp between stacks (no signal-mask syscalls, unlike swapcontext), so starting a
// thread or passing a barrier costs a few instructions.
struct fiber {
    ucontext_t ctx;
    jmp_buf jb;
    char *stack;
    int made, state;
    unsigned barriers;  // __syncthreads passed by this thread in the current block
    uint3 tid;
};

static fiber g_fib[MAX_THREADS];
static jmp_buf g_sched_jb;
static int g_cur, g_live, g_arrived;
static const std::function<void()> *g_body;
static const char *g_kernel;  // running kernel (for fault reports); NULL outside kernels
static int g_fibers;          // the running kernel's threads are fibers (it may reach a barrier)
static int g_reverse;  // GESTURE_CUDA_EMU_ORDER=reverse, read at every kernel start

// Shared arrays of each kernel (by launch name), poisoned at every block start.
static std::map<const char *, std::vector<std::pair<void *, size_t>>> g_shared;
static std::vector<std::pair<void *, size_t>> *g_cur_shared;

void gs_emu_shared(void *p, size_t bytes) {
    if (!g_kernel) gs_emu_fatal("a __shared__ array declared outside a kernel");
    for (auto &e : *g_cur_shared)
        if (e.first == p) return;
    g_cur_shared->push_back({p, bytes});
    memset(p, 0xFF, bytes);  // first block of its first launch: nothing has written it yet
}

static void fault_handler(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    if (g_kernel)
        fprintf(stderr,
                "cuda-emu: %s in kernel %s, block (%u,%u,%u) thread (%u,%u,%u), address %p: out-of-bounds device "
                "access (guard page) or bad pointer\n",
                sig == SIGSEGV ? "SIGSEGV" : "SIGBUS", g_kernel, blockIdx.x, blockIdx.y, blockIdx.z, threadIdx.x,
                threadIdx.y, threadIdx.z, si->si_addr);
    else
        fprintf(stderr, "cuda-emu: %s outside any kernel at %p\n", sig == SIGSEGV ? "SIGSEGV" : "SIGBUS", si->si_addr);
    _exit(1);
}

static void install_fault_handler(void) {
    static int done;
    if (done) return;
    done = 1;
    static char alt[64 * 1024];
    stack_t ss;
    ss.ss_sp = alt;
    ss.ss_size = sizeof alt;
    ss.ss_flags = 0;
    sigaltstack(&ss, nullptr);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fault_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigaction(SIGSEGV, &sa, nullptr);
    sigaction(SIGBUS, &sa, nullptr);
}

static void release_barrier(void) {
    for (int i = 0; i < MAX_THREADS && g_arrived; i++)
        if (g_fib[i].state == F_BARRIER) {
            g_fib[i].state = F_RUN;
            g_arrived--;
        }
    g_arrived = 0;
}

// A fiber's whole life: park; when resumed, run one thread of the current block; repeat.
static void fiber_main(void) {
    for (;;) {
        if (!_setjmp(g_fib[g_cur].jb)) _longjmp(g_sched_jb, 1);  // park until resumed
        (*g_body)();
        g_fib[g_cur].state = F_DONE;
        g_live--;
        // threads that exited count as arrived at a pending barrier (as on the device)
        if (g_arrived > 0 && g_arrived == g_live) release_barrier();
    }
}

void __syncthreads(void) {
    if (!g_kernel) gs_emu_fatal("__syncthreads called outside a kernel");
    if (!g_fibers)
        gs_emu_fatal("kernel %s reached __syncthreads but was launched without fibers (cu2cpp.py found no "
                     "path to a barrier from its body)", g_kernel);
    fiber *f = &g_fib[g_cur];
    f->state = F_BARRIER;
    f->barriers++;
    g_arrived++;
    if (g_arrived == g_live) release_barrier();
    if (!_setjmp(f->jb)) _longjmp(g_sched_jb, 1);  // the scheduler restores threadIdx when it resumes us
}

// Resume fiber i until it finishes its thread or waits at a barrier.
__attribute__((noinline)) static void resume(int i) {
    g_cur = i;
    threadIdx = g_fib[i].tid;
    if (!_setjmp(g_sched_jb)) _longjmp(g_fib[i].jb, 1);
}

// First use of fiber i: give it a stack and let it run to its parking spot.
__attribute__((noinline)) static void fiber_make(int i) {
    fiber *f = &g_fib[i];
    if (!(f->stack = (char *)malloc(STACK_BYTES))) gs_emu_fatal("out of memory for fiber stacks");
    ucontext_t here;
    getcontext(&f->ctx);
    f->ctx.uc_stack.ss_sp = f->stack;
    f->ctx.uc_stack.ss_size = STACK_BYTES;
    f->ctx.uc_link = nullptr;  // fiber_main never returns
    makecontext(&f->ctx, fiber_main, 0);
    g_cur = i;
    if (!_setjmp(g_sched_jb)) swapcontext(&here, &f->ctx);
    f->made = 1;
}

// On a GPU, a __syncthreads that only some threads of a block reach hangs or silently misbehaves;
// here the barrier opens when the others exit, so compare what every thread passed.
static void check_barrier_counts(int nthreads) {
    for (int i = 1; i < nthreads; i++)
        if (g_fib[i].barriers != g_fib[0].barriers) {
            uint3 a = g_fib[0].tid, b = g_fib[i].tid;
            gs_emu_fatal("kernel %s, block (%u,%u,%u): thread (%u,%u,%u) passed %u __syncthreads but thread "
                         "(%u,%u,%u) passed %u: a barrier some threads never reach",
                         g_kernel, blockIdx.x, blockIdx.y, blockIdx.z, a.x, a.y, a.z, g_fib[0].barriers, b.x, b.y,
                         b.z, g_fib[i].barriers);
        }
}

static void run_block(int nthreads) {
    for (auto &e : *g_cur_shared) memset(e.first, 0xFF, e.second);
    g_live = nthreads;
    g_arrived = 0;
    for (int i = 0; i < nthreads; i++) {
        fiber *f = &g_fib[i];
        if (!f->made) fiber_make(i);
        f->state = F_RUN;
        f->barriers = 0;
        f->tid.x = i % blockDim.x;
        f->tid.y = (i / blockDim.x) % blockDim.y;
        f->tid.z = i / (blockDim.x * blockDim.y);
    }
    while (g_live > 0) {
        int ran = 0;
        for (int k = 0; k < nthreads; k++) {
            int i = g_reverse ? nthreads - 1 - k : k;
            if (g_fib[i].state != F_RUN) continue;
            resume(i);
            ran = 1;
        }
        // cannot happen: a barrier opens when its last live thread arrives or the others exit
        if (!ran) gs_emu_fatal("kernel %s: emulator bug, no runnable thread in a block", g_kernel);
    }
    check_barrier_counts(nthreads);
}

// A barrier-free block: its threads one after another as plain calls.
static void run_block_direct(int nthreads, const std::function<void()> &body) {
    for (auto &e : *g_cur_shared) memset(e.first, 0xFF, e.second);
    for (int k = 0; k < nthreads; k++) {
        int i = g_reverse ? nthreads - 1 - k : k;
        threadIdx.x = i % blockDim.x;
        threadIdx.y = (i / blockDim.x) % blockDim.y;
        threadIdx.z = i / (blockDim.x * blockDim.y);
        body();
    }
}

static void run_kernel(const char *kernel, int fibers, dim3 grid, dim3 block, const std::function<void()> &body) {
    install_fault_handler();
    const char *o = getenv("GESTURE_CUDA_EMU_ORDER");
    g_reverse = o && !strcmp(o, "reverse");
    const char *outer = g_kernel;
    if (outer) {
        gs_emu_fatal("kernel %s launched from inside kernel %s (not supported)", kernel, outer);
    }
    g_kernel = kernel;
    g_cur_shared = &g_shared[kernel];
    g_fibers = fibers;
    g_body = &body;
    gridDim = grid;
    blockDim = block;
    int nthreads = (int)(block.x * block.y * block.z);
    long nblocks = (long)grid.x * grid.y * grid.z;
    for (long k = 0; k < nblocks; k++) {
        long b = g_reverse ? nblocks - 1 - k : k;
        blockIdx.x = (unsigned)(b % grid.x);
        blockIdx.y = (unsigned)((b / grid.x) % grid.y);
        blockIdx.z = (unsigned)(b / ((long)grid.x * grid.y));
        if (fibers)
            run_block(nthreads);
        else
            run_block_direct(nthreads, body);
    }
    g_kernel = nullptr;
}

cudaError_t gs_emu_set_launch_error(cudaError_t e);

void gs_emu_launch_fn(const char *kernel, int barriers, const gs_emu_cfg &cfg, std::function<void()> body) {
    dim3 g = cfg.grid, b = cfg.block;
    unsigned long long nt = (unsigned long long)b.x * b.y * b.z;
    if (g.x == 0 || g.y == 0 || g.z == 0 || nt == 0 || nt > MAX_THREADS || b.z > 64 || g.y > 65535 || g.z > 65535 ||
        g.x > 2147483647u || cfg.smem > 48 * 1024) {
        fprintf(stderr, "cuda-emu: launch of %s with grid (%u,%u,%u) block (%u,%u,%u) smem %zu: invalid configuration\n",
                kernel, g.x, g.y, g.z, b.x, b.y, b.z, cfg.smem);
        gs_emu_set_launch_error(cudaErrorInvalidConfiguration);
        return;
    }
    if (cfg.smem) {
        gs_emu_fatal("launch of %s asks for dynamic shared memory, which is not emulated", kernel);
    }
    gs_emu_enqueue(cfg.stream, kernel, [kernel, barriers, g, b, body] { run_kernel(kernel, barriers, g, b, body); });
}

void __trap(void) {
    gs_emu_fatal("__trap() in kernel %s, block (%u,%u,%u) thread (%u,%u,%u): the launch fails",
            g_kernel ? g_kernel : "(none)", blockIdx.x, blockIdx.y, blockIdx.z, threadIdx.x, threadIdx.y, threadIdx.z);
}
