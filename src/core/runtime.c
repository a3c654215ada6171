// Thread-count and clock helpers (see gesture/runtime.h).
#include "gesture/runtime.h"

#include <cblas.h>
#include <omp.h>
#include <time.h>

int runtime_set_threads(int threads) {
    if (threads <= 0) threads = omp_get_num_procs();
    omp_set_num_threads(threads);
    openblas_set_num_threads(1);
    return threads;
}

double runtime_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
