// Process-wide CPU runtime settings: thread counts for OpenMP (our ops) and OpenBLAS.
#ifndef GESTURE_RUNTIME_H
#define GESTURE_RUNTIME_H

// threads <= 0: all cores. OpenBLAS is pinned to one thread per call because our ops split GEMMs over
// the OpenMP team themselves (two thread pools on the same cores fight; see src/ops/matmul.c).
// Returns the thread count in effect.
int runtime_set_threads(int threads);
// Monotonic wall clock in seconds.
double runtime_now(void);

#endif
