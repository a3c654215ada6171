// Ranks and collectives for data-parallel training (gesture/dist.h). Compiled with
// GESTURE_WITH_MPI=1 when CMake found MPI (only this file sees mpi.h); otherwise one process.
#include "gesture/dist.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gesture/errors.h"
#include "gesture/runtime.h"

#ifdef GESTURE_WITH_MPI
#include <mpi.h>
#include <sched.h>
#endif

// ---- launch detection and sharding (every build) ----

static const char *const LAUNCH_VARS[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"};

int dist_launch_size(char *var, size_t n) {
    if (var && n) var[0] = '\0';
    for (size_t i = 0; i < sizeof LAUNCH_VARS / sizeof LAUNCH_VARS[0]; i++) {
        const char *v = getenv(LAUNCH_VARS[i]);
        if (!v || !*v) continue;
        char *end;
        errno = 0;
        long k = strtol(v, &end, 10);
        if (errno || *end || k < 1 || k > 1 << 24) continue;
        if (var && n) snprintf(var, n, "%s=%s", LAUNCH_VARS[i], v);
        return (int)k;
    }
    return 1;
}

void dist_shard(int n, int rank, int size, int *lo, int *hi) {
    GS_ASSERT(size >= 1 && rank >= 0 && rank < size && n >= 0);
    int q = n / size, extra = n % size;  // numpy.array_split: the first n % size ranks get one more
    *lo = rank * q + (rank < extra ? rank : extra);
    *hi = *lo + q + (rank < extra);
}

static struct {
    int rank, size, local_size, local_rank, mpi_started;
    double timeout;
    long seq;  // collectives entered
    char context[256];
    double seconds;  // in collectives
} D = {0, 1, 1, 0, 0, 600.0, 0, "", 0.0};

int dist_rank(void) { return D.rank; }
int dist_size(void) { return D.size; }
int dist_local_size(void) { return D.local_size; }
int dist_local_rank(void) { return D.local_rank; }
long dist_collectives(void) { return D.seq; }
double dist_collective_seconds(void) { return D.seconds; }
void dist_set_timeout(double timeout_s) {
    if (timeout_s > 0) D.timeout = timeout_s;
}
double dist_timeout(void) { return D.timeout; }

void dist_set_context(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(D.context, sizeof D.context, fmt, ap);
    va_end(ap);
}

static void vabort(int code, const char *fmt, va_list ap) {
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    fflush(stdout);
    if (D.size > 1) fprintf(stderr, "gesture: rank %d: %s\n", D.rank, msg);
    else fprintf(stderr, "gesture: %s\n", msg);
    fflush(stderr);
#ifdef GESTURE_WITH_MPI
    if (D.mpi_started) MPI_Abort(MPI_COMM_WORLD, code);
#endif
    _exit(code);
}

_Noreturn void dist_abort(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vabort(code, fmt, ap);
    va_end(ap);
    _exit(code);  // not reached
}

#ifndef GESTURE_WITH_MPI

// ---- one process: no MPI in this build ----

int dist_have_mpi(const char **version) {
    if (version) *version = "none (built without MPI)";
    return 0;
}

int dist_init(double timeout_s) {
    if (timeout_s > 0) D.timeout = timeout_s;
    char var[128];
    int n = dist_launch_size(var, sizeof var);
    if (n > 1)
        return gs_error("this process is one of %d ranks (%s), but this gesture was built without MPI: each rank "
                        "would train alone on the whole data set and write the same run directory. Rebuild with "
                        "MPI (apt-get install libopenmpi-dev, then cmake finds it; README.md, \"Training on several "
                        "GPUs or machines\") or run a single gesture train without mpirun/srun",
                        n, var);
    return 0;
}

void dist_finalize(void) {}
void dist_allreduce_f64(double *v, size_t n, const char *what) { (void)v, (void)n, (void)what, D.seq++; }
void dist_allreduce_f32(float *v, size_t n, const char *what) { (void)v, (void)n, (void)what, D.seq++; }
void dist_bcast(void *buf, size_t bytes, int root, const char *what) { (void)buf, (void)bytes, (void)root, (void)what, D.seq++; }
void dist_barrier(const char *what) { (void)what, D.seq++; }
_Noreturn void dist_abort_stalled(const char *what, double waited) {
    dist_abort(1, "%s did not finish within %.0f s", what, waited);
}

#else

// ---- MPI ----

static MPI_Comm COMM = MPI_COMM_NULL;  // a private duplicate of MPI_COMM_WORLD

int dist_have_mpi(const char **version) {
    static char v[MPI_MAX_LIBRARY_VERSION_STRING];
    if (version) {
        int len = 0;
        MPI_Get_library_version(v, &len);
        char *nl = strchr(v, '\n');
        if (nl) *nl = '\0';
        char *comma = strchr(v, ',');  // "Open MPI v4.1.4, package: ..." -> "Open MPI v4.1.4"
        if (comma) *comma = '\0';
        *version = v;
    }
    return 1;
}

int dist_init(double timeout_s) {
    if (timeout_s > 0) D.timeout = timeout_s;
    // not launched by mpirun (even -np 1) and not one of several srun tasks: one process, no MPI
    if (dist_launch_size(NULL, 0) == 1 && !getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMI_SIZE")) return 0;
    int provided = 0;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return gs_error("MPI_Init failed (launched by mpirun/srun, but MPI could not start)");
    D.mpi_started = 1;
    MPI_Comm_dup(MPI_COMM_WORLD, &COMM);
    // errors come back as codes: the collectives name the peer and end the job themselves
    MPI_Comm_set_errhandler(COMM, MPI_ERRORS_RETURN);
    MPI_Comm_rank(COMM, &D.rank);
    MPI_Comm_size(COMM, &D.size);
    MPI_Comm node;
    MPI_Comm_split_type(COMM, MPI_COMM_TYPE_SHARED, D.rank, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &D.local_size);
    MPI_Comm_rank(node, &D.local_rank);
    MPI_Comm_free(&node);
    return 0;
}

void dist_finalize(void) {
    if (!D.mpi_started) return;
    MPI_Comm_free(&COMM);
    MPI_Finalize();
    D.mpi_started = 0;
}

// A collective's requests, each talking to one peer.
typedef struct {
    MPI_Request *req;
    int *peer, *done;
    int n, cap;
} reqs;

static void reqs_add(reqs *r, int peer) {
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 64;
        r->req = realloc(r->req, sizeof *r->req * (size_t)r->cap);
        r->peer = realloc(r->peer, sizeof *r->peer * (size_t)r->cap);
        r->done = realloc(r->done, sizeof *r->done * (size_t)r->cap);
        if (!r->req || !r->peer || !r->done) gs_fatal("out of memory");
    }
    r->peer[r->n] = peer;
    r->done[r->n] = 0;
    r->n++;
}

static _Noreturn void mpi_fail(int rc, int peer, const char *what) {
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, text, &len);
    dist_abort(1, "MPI error in %s with rank %d%s%s: %s (rank %d died or its connection broke); ending the job",
               what, peer, D.context[0] ? ", " : "", D.context, text, peer);
}

static MPI_Request *next_req(reqs *r, int peer) {
    reqs_add(r, peer);
    return &r->req[r->n - 1];
}

static void post_send(reqs *r, const void *buf, size_t bytes, int peer, int tag, const char *what) {
    GS_ASSERT(bytes <= (size_t)INT32_MAX);
    int rc = MPI_Isend(buf, (int)bytes, MPI_BYTE, peer, tag, COMM, next_req(r, peer));
    if (rc != MPI_SUCCESS) mpi_fail(rc, peer, what);
}

static void post_recv(reqs *r, void *buf, size_t bytes, int peer, int tag, const char *what) {
    GS_ASSERT(bytes <= (size_t)INT32_MAX);
    int rc = MPI_Irecv(buf, (int)bytes, MPI_BYTE, peer, tag, COMM, next_req(r, peer));
    if (rc != MPI_SUCCESS) mpi_fail(rc, peer, what);
}

static void nap(double seconds) {
    struct timespec ts = {0, (long)(seconds * 1e9)};
    nanosleep(&ts, NULL);
}

// Wait for every request. Polls (MPI_Testsome drives progress), yielding the core, then napping
// longer the longer it waits: a peer still computing is not raced for its CPU. Past the timeout the
// peers whose messages are missing are named and the job ends.
static void wait_all_(reqs *r, const char *what);

static void wait_all(reqs *r, const char *what) {
    double t0 = runtime_now();
    wait_all_(r, what);
    D.seconds += runtime_now() - t0;
}

static void wait_all_(reqs *r, const char *what) {
    int left = r->n;
    double t0 = runtime_now(), waited = 0, last = t0;
    int *idx = malloc(sizeof(int) * (size_t)(r->n ? r->n : 1));
    if (!idx) gs_fatal("out of memory");
    for (long polls = 0; left > 0; polls++) {
        int got = 0;
        int rc = MPI_Testsome(r->n, r->req, &got, idx, MPI_STATUSES_IGNORE);
        if (rc != MPI_SUCCESS) {
            int peer = -1;
            for (int i = 0; i < r->n; i++)
                if (!r->done[i]) peer = r->peer[i];
            mpi_fail(rc, peer, what);
        }
        if (got == MPI_UNDEFINED) got = 0;
        for (int i = 0; i < got; i++) r->done[idx[i]] = 1;
        left -= got;
        if (left == 0) break;
        double now = runtime_now();
        // a gap between two polls means this process did not run (stopped, swapped out): the peers
        // are not to blame for that time
        if (now - last > 1.0) t0 += now - last;
        last = now;
        waited = now - t0;
        if (waited > D.timeout) {
            char peers[512] = "";
            int shown = 0;
            for (int i = 0; i < r->n; i++) {
                if (r->done[i]) continue;
                int dup = 0;
                for (int j = 0; j < i; j++) dup |= !r->done[j] && r->peer[j] == r->peer[i];
                if (dup) continue;
                size_t len = strlen(peers);
                if (shown++ < 16) snprintf(peers + len, sizeof peers - len, "%s%d", len ? ", " : "", r->peer[i]);
            }
            dist_abort(1, "no answer from rank %s for %.0f s (%s, collective #%ld%s%s): it died or hangs; ending "
                          "the job (runtime.dist_timeout = %g s)",
                       peers, waited, what, D.seq, D.context[0] ? ", " : "", D.context, D.timeout);
        }
        if (waited < 1e-3) sched_yield();
        else nap(waited < 0.1 ? 5e-5 : 1e-3);
    }
    free(idx);
    r->n = 0;
}

static reqs R;
static void *scratch;
static size_t scratch_bytes;

static void *scratch_get(size_t bytes) {
    if (bytes > scratch_bytes) {
        free(scratch);
        scratch = malloc(bytes);
        if (!scratch) gs_fatal("out of memory (%zu bytes for a collective)", bytes);
        scratch_bytes = bytes;
    }
    return scratch;
}

// Tags: the collective's sequence number, so messages of two collectives never match each other.
static int tag_of(long seq) { return (int)(seq % 32000); }

#define SMALL_ELEMS 65536

// Sum of n elements (esize 4: float, 8: double) over the ranks, rank order, in double.
static void allreduce(void *v, size_t n, size_t esize, const char *what) {
    int N = D.size, me = D.rank;
    int tag = tag_of(D.seq++);
    if (N == 1 || n == 0) return;
    char *vb = v;
    if (n * (size_t)N <= SMALL_ELEMS || n < (size_t)N) {
        // every rank gets every vector and adds them up in rank order
        char *all = scratch_get(n * esize * (size_t)N);
        for (int p = 0; p < N; p++)
            if (p != me) post_recv(&R, all + (size_t)p * n * esize, n * esize, p, tag, what);
        for (int p = 0; p < N; p++)
            if (p != me) post_send(&R, v, n * esize, p, tag, what);
        memcpy(all + (size_t)me * n * esize, v, n * esize);
        wait_all(&R, what);
        for (size_t i = 0; i < n; i++) {
            double acc = 0;
            for (int p = 0; p < N; p++)
                acc += esize == 8 ? ((double *)all)[(size_t)p * n + i] : (double)((float *)all)[(size_t)p * n + i];
            if (esize == 8) ((double *)v)[i] = acc;
            else ((float *)v)[i] = (float)acc;
        }
        return;
    }
    // reduce-scatter: rank j sums chunk j of every rank; then all-gather the sums
    size_t lo_me = n * (size_t)me / N, hi_me = n * (size_t)(me + 1) / N, len_me = hi_me - lo_me;
    char *part = scratch_get(len_me * esize * (size_t)N);
    for (int p = 0; p < N; p++)
        if (p != me) post_recv(&R, part + (size_t)p * len_me * esize, len_me * esize, p, tag, what);
    for (int p = 0; p < N; p++) {
        if (p == me) continue;
        size_t lo = n * (size_t)p / N, hi = n * (size_t)(p + 1) / N;
        post_send(&R, vb + lo * esize, (hi - lo) * esize, p, tag, what);
    }
    memcpy(part + (size_t)me * len_me * esize, vb + lo_me * esize, len_me * esize);
    wait_all(&R, what);
    for (size_t i = 0; i < len_me; i++) {
        double acc = 0;
        for (int p = 0; p < N; p++)
            acc += esize == 8 ? ((double *)part)[(size_t)p * len_me + i]
                              : (double)((float *)part)[(size_t)p * len_me + i];
        if (esize == 8) ((double *)v)[lo_me + i] = acc;
        else ((float *)v)[lo_me + i] = (float)acc;
    }
    int tag2 = tag_of(D.seq++);
    for (int p = 0; p < N; p++) {
        if (p == me) continue;
        size_t lo = n * (size_t)p / N, hi = n * (size_t)(p + 1) / N;
        post_recv(&R, vb + lo * esize, (hi - lo) * esize, p, tag2, what);
    }
    for (int p = 0; p < N; p++)
        if (p != me) post_send(&R, vb + lo_me * esize, len_me * esize, p, tag2, what);
    wait_all(&R, what);
}

void dist_allreduce_f64(double *v, size_t n, const char *what) { allreduce(v, n, sizeof(double), what); }
void dist_allreduce_f32(float *v, size_t n, const char *what) { allreduce(v, n, sizeof(float), what); }

// Pieces of at most 1 GiB (MPI counts are int).
#define BCAST_PIECE ((size_t)1 << 30)

void dist_bcast(void *buf, size_t bytes, int root, const char *what) {
    int tag = tag_of(D.seq++);
    if (D.size == 1 || bytes == 0) return;
    for (size_t off = 0; off < bytes; off += BCAST_PIECE) {
        size_t len = bytes - off < BCAST_PIECE ? bytes - off : BCAST_PIECE;
        if (D.rank == root) {
            for (int p = 0; p < D.size; p++)
                if (p != root) post_send(&R, (char *)buf + off, len, p, tag, what);
        } else {
            post_recv(&R, (char *)buf + off, len, root, tag, what);
        }
        wait_all(&R, what);
    }
}

void dist_barrier(const char *what) {
    double one = 1;
    allreduce(&one, 1, sizeof one, what);
}

#define STALL_TAG 32500
#define STALL_GRACE 10.0

_Noreturn void dist_abort_stalled(const char *what, double waited) {
    // every rank that stalls too ends up here at about the same time: who does not answer is to blame
    char mine = 1, *got = calloc((size_t)D.size, 1);
    reqs r = {0};
    for (int p = 0; p < D.size; p++)
        if (p != D.rank) {
            MPI_Irecv(got + p, 1, MPI_BYTE, p, STALL_TAG, COMM, next_req(&r, p));
            MPI_Isend(&mine, 1, MPI_BYTE, p, STALL_TAG, COMM, next_req(&r, p));
        }
    double t0 = runtime_now();
    while (runtime_now() - t0 < STALL_GRACE) {
        int all = 0;
        if (MPI_Testall(r.n, r.req, &all, MPI_STATUSES_IGNORE) != MPI_SUCCESS || all) break;
        nap(1e-3);
    }
    char peers[512] = "";
    int shown = 0;
    for (int p = 0; p < D.size; p++) {
        size_t len = strlen(peers);
        if (p != D.rank && !got[p] && shown++ < 16) snprintf(peers + len, sizeof peers - len, "%s%d", len ? ", " : "", p);
    }
    free(got);
    char where[300] = "";
    if (D.context[0]) snprintf(where, sizeof where, " (%s)", D.context);
    if (peers[0])
        dist_abort(1, "%s did not finish within %.0f s%s: no answer from rank %s, which died or hangs; ending the job "
                      "(runtime.dist_timeout = %g s)",
                   what, waited, where, peers, D.timeout);
    dist_abort(1, "%s did not finish within %.0f s%s, though every rank answers: a rank's device or the collective "
                  "library hangs; ending the job (runtime.dist_timeout = %g s)",
               what, waited, where, D.timeout);
}

#endif
