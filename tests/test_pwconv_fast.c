// The 1x1 convolution's fast twins (pwconv_forward_fast / pwconv_backward_fast) against the reference
// op they stand in for (matmul_forward / matmul_backward without a bias, itself checked against
// PyTorch in test_ops_cnn): random inputs, odd row counts (tails of the 6-row tiles and of the
// per-thread splits), channel counts with Ci % 6 in {0,2,4} and Co % 16 in {0,8}, and counts the
// fast kernels leave to the reference (not multiples of 8). Tolerance 1e-4 of the reference's largest
// magnitude (check_close_f32): both sum in float, in different orders. Also: the += contract (a
// second backward adds), NULL outputs skipped, 1 and 2 threads, and two runs bit-identical.
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"
#include "gesture/ops.h"
#include "gesture/rng.h"
#include "testutil.h"

#define TOL 1e-4

static float *randn(gs_rng *rng, size_t n) {
    float *a = gs_aligned_alloc((n ? n : 1) * sizeof(float));
    test_fill_normal(a, rng, 1.0f, n);
    return a;
}

static float *copy(const float *a, size_t n) {
    float *b = gs_aligned_alloc((n ? n : 1) * sizeof(float));
    memcpy(b, a, n * sizeof(float));
    return b;
}

static void test_shape(int M, int Ci, int Co, int threads) {
    omp_set_num_threads(threads);
    gs_rng rng;
    gs_rng_seed(&rng, (uint64_t)M * 7919u + (uint64_t)Ci * 131u + (uint64_t)Co);
    size_t nx = (size_t)M * Ci, ny = (size_t)M * Co, nw = (size_t)Ci * Co;
    float *x = randn(&rng, nx), *w = randn(&rng, nw), *g = randn(&rng, ny);
    float *dx0 = randn(&rng, nx), *dw0 = randn(&rng, nw);  // += starts from non-zero gradients
    float *ref_y = test_zeros(ny), *y = test_zeros(ny);
    float *ref_dx = copy(dx0, nx), *ref_dw = copy(dw0, nw), *dx = copy(dx0, nx), *dw = copy(dw0, nw);
    float *work = test_work(pwconv_fast_work_floats(Ci, Co));
    float *ref_work = test_work(matmul_work_floats(Ci, Co));
    char tag[96];
    snprintf(tag, sizeof tag, "M%d Ci%d Co%d %d thr", M, Ci, Co, threads);

    matmul_forward(ref_y, x, w, NULL, M, Ci, Co);
    pwconv_forward_fast(y, x, w, work, M, Ci, Co);
    char what[160];
    snprintf(what, sizeof what, "forward %s", tag);
    check_close_f32(what, y, ref_y, ny, TOL);

    matmul_backward(ref_dx, ref_dw, NULL, g, x, w, ref_work, M, Ci, Co);
    pwconv_backward_fast(dx, dw, g, x, w, work, M, Ci, Co, 0);
    snprintf(what, sizeof what, "dinp %s", tag);
    check_close_f32(what, dx, ref_dx, nx, TOL);
    snprintf(what, sizeof what, "dw %s", tag);
    check_close_f32(what, dw, ref_dw, nw, TOL);

    // Deterministic: a second run from the same start is bit-identical.
    float *y2 = test_zeros(ny), *dx2 = copy(dx0, nx), *dw2 = copy(dw0, nw);
    pwconv_forward_fast(y2, x, w, work, M, Ci, Co);
    pwconv_backward_fast(dx2, dw2, g, x, w, work, M, Ci, Co, 0);
    check(!memcmp(y, y2, ny * sizeof(float)) && !memcmp(dx, dx2, nx * sizeof(float)) &&
              !memcmp(dw, dw2, nw * sizeof(float)),
          "fast 1x1 %s: two runs bit-identical", tag);

    // += contract: a second backward into the same buffers adds the same gradient again; NULL dinp
    // leaves dinp alone while dw still accumulates, and NULL dw the other way round.
    matmul_backward(ref_dx, ref_dw, NULL, g, x, w, ref_work, M, Ci, Co);
    pwconv_backward_fast(dx, NULL, g, x, w, work, M, Ci, Co, 0);
    pwconv_backward_fast(NULL, dw, g, x, w, work, M, Ci, Co, 0);
    snprintf(what, sizeof what, "dinp twice (dw NULL) %s", tag);
    check_close_f32(what, dx, ref_dx, nx, TOL);
    snprintf(what, sizeof what, "dw twice (dinp NULL) %s", tag);
    check_close_f32(what, dw, ref_dw, nw, TOL);

    // dinp_write: a dinp full of NaN is written, never read: dout @ w^T, as the reference adds onto zeros
    float *zero_dx = test_zeros(nx), *nan_dx = gs_aligned_alloc(nx * sizeof(float));
    for (size_t i = 0; i < nx; i++) nan_dx[i] = NAN;
    matmul_backward(zero_dx, NULL, NULL, g, x, w, ref_work, M, Ci, Co);
    pwconv_backward_fast(nan_dx, NULL, g, x, w, work, M, Ci, Co, 1);
    snprintf(what, sizeof what, "dinp written (dinp_write, from NaN) %s", tag);
    check_close_f32(what, nan_dx, zero_dx, nx, TOL);
    free(zero_dx), free(nan_dx);

    // (work and ref_work are test_work's: testutil frees them)
    float *all[] = {x, w, g, dx0, dw0, ref_y, y, ref_dx, ref_dw, dx, dw, y2, dx2, dw2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
}

int main(void) {
    // (M, Ci, Co): the fast tiles' edges, then MobileNetV2-like expand/project shapes.
    static const int shapes[][3] = {
        {1, 8, 8},     {5, 8, 16},    {7, 16, 24},  {13, 24, 8},   {131, 16, 96}, {97, 96, 24},
        {257, 32, 40}, {301, 64, 16}, {389, 40, 56}, {777, 144, 32}, {1031, 160, 960}, {203, 320, 1280},
        {517, 128, 128},  // dinp on the reference, dw on the fast kernel (FAST_MAX_WEIGHTS)
        {61, 13, 24},  {50, 16, 13},  {3, 7, 5},  // not multiples of 8: the reference runs
    };
    for (int threads = 1; threads <= 2; threads++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            test_shape(shapes[s][0], shapes[s][1], shapes[s][2], threads);
    return test_finish();
}
