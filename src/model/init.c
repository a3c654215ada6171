// Keras default initializers for a fresh model: glorot_uniform kernels, orthogonal recurrent
// kernels, zero biases, BN gamma 1 / beta 0 / moving mean 0 / moving variance 1. One seeded stream,
// drawn in parameter declaration order, so the same seed gives the same model.
#include <math.h>
#include <string.h>

#include "gesture/errors.h"
#include "gesture/model.h"
#include "gesture/rng.h"

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

// Keras initializers.compute_fans.
static void fans(const gs_param *p, double *fan_in, double *fan_out) {
    if (p->ndim == 1) {
        *fan_in = *fan_out = p->shape[0];
    } else if (p->ndim == 2) {
        *fan_in = p->shape[0];
        *fan_out = p->shape[1];
    } else {
        double rf = 1;
        for (int i = 0; i < p->ndim - 2; i++) rf *= p->shape[i];
        *fan_in = p->shape[p->ndim - 2] * rf;
        *fan_out = p->shape[p->ndim - 1] * rf;
    }
}

static void glorot_uniform(float *w, const gs_param *p, gs_rng *rng) {
    double fi, fo;
    fans(p, &fi, &fo);
    float limit = (float)sqrt(6.0 / (fi + fo));
    for (size_t i = 0; i < p->numel; i++) w[i] = gs_rng_range(rng, -limit, limit);
}

// Keras Orthogonal(gain=1) for a (rows, cols) matrix: QR of a (max, min) normal matrix with the
// sign of R's diagonal folded in, transposed when rows < cols. Modified Gram-Schmidt gives the same
// Q (R's diagonal is positive by construction).
static void orthogonal(float *w, const gs_param *p, gs_rng *rng) {
    int rows = 1;
    for (int i = 0; i < p->ndim - 1; i++) rows *= p->shape[i];
    int cols = p->shape[p->ndim - 1];
    int big = rows > cols ? rows : cols, small = rows > cols ? cols : rows;
    double *a = gs_malloc((size_t)big * small * sizeof(double));  // (big, small), column j = a[:, j]
    for (int i = 0; i < big * small; i++) a[i] = gs_rng_normal(rng);
    for (int j = 0; j < small; j++) {
        for (int k = 0; k < j; k++) {
            double dot = 0;
            for (int i = 0; i < big; i++) dot += a[i * small + j] * a[i * small + k];
            for (int i = 0; i < big; i++) a[i * small + j] -= dot * a[i * small + k];
        }
        double norm = 0;
        for (int i = 0; i < big; i++) norm += a[i * small + j] * a[i * small + j];
        norm = sqrt(norm);
        GS_ASSERT(norm > 0);
        for (int i = 0; i < big; i++) a[i * small + j] /= norm;
    }
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            w[(size_t)r * cols + c] = (float)(rows >= cols ? a[r * small + c] : a[c * small + r]);
    free(a);
}

void model_init_weights(gs_model *m, uint64_t seed) {
    gs_rng rng;
    gs_rng_seed(&rng, seed);
    m->seed = seed;
    for (int i = 0; i < m->params.n; i++) {
        const gs_param *p = &m->params.p[i];
        float *w = params_ptr(&m->params, i);
        if (ends_with(p->name, "/recurrent_kernel")) orthogonal(w, p, &rng);
        else if (ends_with(p->name, "kernel")) glorot_uniform(w, p, &rng);  // kernel, depthwise_kernel
        else if (ends_with(p->name, "/gamma") || ends_with(p->name, "/moving_variance"))
            for (size_t k = 0; k < p->numel; k++) w[k] = 1.0f;
        else if (ends_with(p->name, "/bias") || ends_with(p->name, "/beta") || ends_with(p->name, "/moving_mean"))
            memset(w, 0, p->numel * sizeof(float));
        else gs_fatal("init: no initializer for parameter %s", p->name);
    }
    memset(m->params.m, 0, m->params.numel_trainable * sizeof(float));
    memset(m->params.v, 0, m->params.numel_trainable * sizeof(float));
    m->step = 0;
    m->adam_t = 0;
}
