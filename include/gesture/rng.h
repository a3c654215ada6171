// Seeded randomness. Two kinds, both reproducible from one seed:
//  - gs_rng: a sequential xoshiro256** stream (weight init, shuffles);
//  - counter-based draws gs_counter_uniform(key, index): stateless, so any element of a
//    dropout mask or any clip's augmentation can be recomputed anywhere (backward pass,
//    another thread, the GPU) without storing it. scripts/make_reference.py mirrors these.
#ifndef GESTURE_RNG_H
#define GESTURE_RNG_H

#include <stdint.h>

// The counter-based draws below also compile as CUDA device functions (cuda/ uses the same mask).
#ifdef __CUDACC__
#define GS_HOST_DEVICE __host__ __device__
#else
#define GS_HOST_DEVICE
#endif

typedef struct {
    uint64_t s[4];
} gs_rng;

// splitmix64 finalizer: a bijective 64-bit mix.
GS_HOST_DEVICE static inline uint64_t gs_hash64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

// Derive a key from a seed and two stream identifiers (e.g. seed, epoch, clip index).
GS_HOST_DEVICE static inline uint64_t gs_key(uint64_t seed, uint64_t a, uint64_t b) {
    return gs_hash64(gs_hash64(gs_hash64(seed) ^ a) ^ b);
}

// Uniform float in [0,1) with 24 random bits, a pure function of (key, index).
GS_HOST_DEVICE static inline float gs_counter_uniform(uint64_t key, uint64_t index) {
    return (float)(gs_hash64(key ^ gs_hash64(index)) >> 40) * (1.0f / 16777216.0f);
}

void gs_rng_seed(gs_rng *rng, uint64_t seed);
uint64_t gs_rng_u64(gs_rng *rng);
// Uniform in [0,1) (24 bits).
float gs_rng_uniform(gs_rng *rng);
// Uniform in [lo,hi).
float gs_rng_range(gs_rng *rng, float lo, float hi);
// Standard normal (Box-Muller, double precision internally).
float gs_rng_normal(gs_rng *rng);
// Uniform integer in [0,n) without modulo bias.
uint32_t gs_rng_below(gs_rng *rng, uint32_t n);

#endif
