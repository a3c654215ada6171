// Layout of the GRU cache (gru_cache_floats floats) shared by the CPU op (src/ops/gru.c) and its
// CUDA twin (cuda/gru.cu), so a cache written by one backend reads the same in the other.
//   xproj (B*T, 3H) rows b*T+t: x W + b_in
//   gates (T, B, 3H) rows s*B+b: [z | r | rh] with rh = h_prev U_h + b'_h
//   hh    (T, B, H) candidate per step
//   hs    (T, B, H) state after each step
#ifndef GESTURE_GRU_CACHE_H
#define GESTURE_GRU_CACHE_H

#include <stddef.h>

typedef struct {
    float *xproj, *gates, *hh, *hs;
} gru_cache_view;

static inline gru_cache_view gru_cache_split(float *cache, int B, int T, int H) {
    size_t bt = (size_t)B * T, g = 3 * (size_t)H;
    gru_cache_view v;
    v.xproj = cache;
    v.gates = v.xproj + bt * g;
    v.hh = v.gates + bt * g;
    v.hs = v.hh + bt * H;
    return v;
}

#endif
