// How the CPU ops split M rows over the OpenMP team they run in: contiguous, near-equal ranges in
// thread order, so per-thread partial sums reduced in thread order are deterministic for a given
// thread count.
#ifndef GESTURE_OPS_ROWS_H
#define GESTURE_OPS_ROWS_H

#include <omp.h>

// This thread's rows [*m0, *m1) of M (call inside the parallel region).
static inline void rows_of(int *m0, int *m1, int M) {
    int t = omp_get_thread_num(), T = omp_get_num_threads();
    *m0 = (int)((long)M * t / T);
    *m1 = (int)((long)M * (t + 1) / T);
}

#endif
