// One channel's training batch-norm statistics from sums about a shift, shared by the CPU ops
// (src/ops/batchnorm.c) and their CUDA twins (cuda/batchnorm.cu), plain and data-parallel alike, so
// every path computes them with the same arithmetic. Keras semantics: biased variance (clamped at 0
// against rounding), moving = moving*momentum + batch*(1-momentum).
#ifndef GESTURE_BN_STATS_H
#define GESTURE_BN_STATS_H

#include <math.h>

#ifndef GS_HOST_DEVICE  // as gesture/rng.h defines it: also a CUDA device function
#ifdef __CUDACC__
#define GS_HOST_DEVICE __host__ __device__
#else
#define GS_HOST_DEVICE
#endif
#endif

// s, q: sums of d = x - shift and d^2 over M rows (M: a sum over the ranks with sync_bn). Writes the
// batch mean, 1/std and gamma/std, and updates the moving statistics (shift may be the moving mean's
// value: it is passed before the update).
GS_HOST_DEVICE static inline void bn_channel_stats(float *mean, float *invstd, float *scale, float *moving_mean,
                                                   float *moving_var, double s, double q, double shift, double M,
                                                   float gamma, float eps, float momentum) {
    double md = s / M;
    double var = q / M - md * md;
    if (var < 0) var = 0;
    double mu = shift + md;
    double is = 1.0 / sqrt(var + (double)eps);
    *mean = (float)mu;
    *invstd = (float)is;
    *scale = (float)(gamma * is);
    *moving_mean = (float)(*moving_mean * (double)momentum + mu * (1.0 - momentum));
    *moving_var = (float)(*moving_var * (double)momentum + var * (1.0 - momentum));
}

#endif
