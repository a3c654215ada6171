// xoshiro256** sequential generator (see gesture/rng.h for why two kinds of RNG exist).
#include "gesture/rng.h"

#include <math.h>

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void gs_rng_seed(gs_rng *rng, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        x = gs_hash64(x);
        rng->s[i] = x;
    }
}

uint64_t gs_rng_u64(gs_rng *rng) {
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float gs_rng_uniform(gs_rng *rng) { return (float)(gs_rng_u64(rng) >> 40) * (1.0f / 16777216.0f); }

float gs_rng_range(gs_rng *rng, float lo, float hi) { return lo + (hi - lo) * gs_rng_uniform(rng); }

float gs_rng_normal(gs_rng *rng) {
    // 53-bit uniforms; u1 in (0,1] so log is finite.
    double u1 = ((gs_rng_u64(rng) >> 11) + 1) * (1.0 / 9007199254740992.0);
    double u2 = (gs_rng_u64(rng) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

uint32_t gs_rng_below(gs_rng *rng, uint32_t n) {
    // Lemire's multiply-shift with rejection.
    uint64_t m = (uint64_t)(uint32_t)(gs_rng_u64(rng) >> 32) * n;
    uint32_t l = (uint32_t)m;
    if (l < n) {
        uint32_t t = (uint32_t)(-n) % n;
        while (l < t) {
            m = (uint64_t)(uint32_t)(gs_rng_u64(rng) >> 32) * n;
            l = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}
