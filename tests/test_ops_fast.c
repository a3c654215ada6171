// The fast depthwise twins (src/ops/depthwise_avx2.c) against the reference ops, the spec, on random
// inputs: N 1 and 3, odd, even and tiny images (stride 2 pads 1 before an odd size, 0 before an
// even one), channel counts with and without a tail of 8, stride 1 and 2 with Keras 'same'
// padding, run with 1 and 2 OpenMP threads (2 threads on N = 1 split one image's rows). Backward
// starts from non-zero gradients (the ops add) and is also run with NULL dinp and NULL dw. A second
// run of the fast ops must give the same bits (deterministic for a thread count). Shapes the fast
// ops do not cover (K = 5, stride 3) must give exactly the reference's results.
// Tolerance: 1e-4 of the largest |reference| value of each tensor (check_close's error); the fast
// ops sum in another order, not with less precision. dinp_write (the executor's fresh gradient
// buffers): from a dinp full of NaN the fast ops must write what the reference adds onto zeros; the
// batch-norm backward's write mode must equal its += onto zeros bit for bit.
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"
#include "gesture/ops.h"
#include "testutil.h"

#define TOL 1e-4

typedef struct {
    int N, H, W, C, K, s, Ho, Wo, pt, pl;
    size_t ni, no, nw;
    char name[64];
} dw_case;

static dw_case case_make(int N, int H, int W, int C, int K, int s, int threads) {
    dw_case k = {.N = N, .H = H, .W = W, .C = C, .K = K, .s = s};
    conv_same_geometry(&k.Ho, &k.pt, H, K, s);
    conv_same_geometry(&k.Wo, &k.pl, W, K, s);
    k.ni = (size_t)N * H * W * C, k.no = (size_t)N * k.Ho * k.Wo * C, k.nw = (size_t)K * K * C;
    snprintf(k.name, sizeof k.name, "t%d N%d %dx%dx%d K%d s%d", threads, N, H, W, C, K, s);
    return k;
}

// n floats ~ N(0,1) from seed: one seed, one array (the two ops' starting gradients agree).
static float *normal_array(size_t n, uint64_t seed) {
    gs_rng rng;
    gs_rng_seed(&rng, seed);
    float *a = gs_malloc((n ? n : 1) * sizeof(float));
    test_fill_normal(a, &rng, 1.0f, n);
    return a;
}

// The inputs of one case and one op's results (gradients started from the seeded values).
typedef struct {
    float *inp, *w, *dout;
} dw_inputs;
typedef struct {
    float *out, *dinp, *dw;
} dw_results;

// dinp_from: DINP_SEEDED (+=), DINP_ZERO (+= onto zeros), DINP_NAN (NaN, written: the fast op's
// dinp_write, which must not read it).
enum { DINP_SEEDED, DINP_ZERO, DINP_NAN };

static dw_results run_op_from(const dw_case *k, const dw_inputs *x, int fast, int with_dinp, int with_dw,
                              int dinp_from) {
    dw_results r = {gs_malloc(k->no * sizeof(float)), with_dinp ? normal_array(k->ni, 11) : NULL,
                    with_dw ? normal_array(k->nw, 12) : NULL};
    for (size_t i = 0; r.dinp && dinp_from != DINP_SEEDED && i < k->ni; i++)
        r.dinp[i] = dinp_from == DINP_ZERO ? 0.0f : NAN;
    float *work = test_work(depthwise_work_floats(k->C, k->K));
    if (fast) {
        depthwise_forward_fast(r.out, x->inp, x->w, k->N, k->H, k->W, k->C, k->K, k->s, k->pt, k->pl, k->Ho, k->Wo);
        depthwise_backward_fast(r.dinp, r.dw, x->dout, x->inp, x->w, work, k->N, k->H, k->W, k->C, k->K, k->s, k->pt,
                                k->pl, k->Ho, k->Wo, dinp_from == DINP_NAN);
    } else {
        depthwise_forward(r.out, x->inp, x->w, k->N, k->H, k->W, k->C, k->K, k->s, k->pt, k->pl, k->Ho, k->Wo);
        depthwise_backward(r.dinp, r.dw, x->dout, x->inp, x->w, work, k->N, k->H, k->W, k->C, k->K, k->s, k->pt, k->pl,
                           k->Ho, k->Wo);
    }
    return r;
}

static dw_results run_op(const dw_case *k, const dw_inputs *x, int fast, int with_dinp, int with_dw) {
    return run_op_from(k, x, fast, with_dinp, with_dw, DINP_SEEDED);
}

static void results_free(dw_results *r) { free(r->out), free(r->dinp), free(r->dw); }

static int same_floats(const float *a, const float *b, size_t n) { return !memcmp(a, b, n * sizeof(float)); }

static void cmp(const dw_case *k, const char *what, const float *got, const float *want, size_t n) {
    char label[128];
    snprintf(label, sizeof label, "%s %s", k->name, what);
    check_close_f32(label, got, want, n, TOL);
}

// One shape the fast ops cover: against the reference, with NULL gradients, and run twice.
static void test_case(int N, int H, int W, int C, int s, int threads) {
    dw_case k = case_make(N, H, W, C, 3, s, threads);
    dw_inputs x = {normal_array(k.ni, 1), normal_array(k.nw, 2), normal_array(k.no, 3)};
    dw_results ref = run_op(&k, &x, 0, 1, 1), fast = run_op(&k, &x, 1, 1, 1);
    cmp(&k, "out", fast.out, ref.out, k.no);
    cmp(&k, "dinp (+=)", fast.dinp, ref.dinp, k.ni);
    cmp(&k, "dw (+=)", fast.dw, ref.dw, k.nw);
    dw_results only_dinp = run_op(&k, &x, 1, 1, 0), only_dw = run_op(&k, &x, 1, 0, 1);
    cmp(&k, "dinp (dw=NULL)", only_dinp.dinp, ref.dinp, k.ni);
    cmp(&k, "dw (dinp=NULL)", only_dw.dw, ref.dw, k.nw);
    dw_results zero_ref = run_op_from(&k, &x, 0, 1, 0, DINP_ZERO), written = run_op_from(&k, &x, 1, 1, 0, DINP_NAN);
    cmp(&k, "dinp written (dinp_write, from NaN)", written.dinp, zero_ref.dinp, k.ni);
    results_free(&zero_ref), results_free(&written);
    dw_results again = run_op(&k, &x, 1, 1, 1);
    check(same_floats(again.out, fast.out, k.no) && same_floats(again.dinp, fast.dinp, k.ni) &&
              same_floats(again.dw, fast.dw, k.nw),
          "%s fast ops give the same bits twice", k.name);
    results_free(&ref), results_free(&fast), results_free(&only_dinp), results_free(&only_dw), results_free(&again);
    free(x.inp), free(x.w), free(x.dout);
}

// A shape the fast ops leave to the reference: the very same results.
static void test_fallback(int N, int H, int W, int C, int K, int s, int threads) {
    dw_case k = case_make(N, H, W, C, K, s, threads);
    dw_inputs x = {normal_array(k.ni, 4), normal_array(k.nw, 5), normal_array(k.no, 6)};
    dw_results ref = run_op(&k, &x, 0, 1, 1), fast = run_op(&k, &x, 1, 1, 1);
    check(same_floats(fast.out, ref.out, k.no) && same_floats(fast.dinp, ref.dinp, k.ni) &&
              same_floats(fast.dw, ref.dw, k.nw),
          "%s not covered: the reference op's results", k.name);
    results_free(&ref), results_free(&fast);
    dw_results zero_ref = run_op_from(&k, &x, 0, 1, 0, DINP_ZERO), written = run_op_from(&k, &x, 1, 1, 0, DINP_NAN);
    check(same_floats(written.dinp, zero_ref.dinp, k.ni), "%s not covered, dinp_write: the reference op onto zeros",
          k.name);
    results_free(&zero_ref), results_free(&written);
    free(x.inp), free(x.w), free(x.dout);
}

// batchnorm_backward_rows with dinp_write: written = the op onto zeros, bit for bit (0 + v = v).
static void test_bn_write(int M, int C, int act) {
    float *x = normal_array((size_t)M * C, 21), *dout = normal_array((size_t)M * C, 22);
    float *gamma = normal_array(C, 23), *beta = normal_array(C, 24), *y = gs_malloc((size_t)M * C * sizeof(float));
    float *mm = test_zeros(C), *mv = test_zeros(C), *save = test_zeros(2 * (size_t)C), *work = test_work(batchnorm_work_floats(C));
    batchnorm_forward_train(y, save, save + C, mm, mv, x, gamma, beta, work, M, C, 1e-3f, 0.99f, act);
    float *want = test_zeros((size_t)M * C), *got = gs_malloc((size_t)M * C * sizeof(float));
    float *dg = test_zeros(C), *db = test_zeros(C);
    for (size_t i = 0; i < (size_t)M * C; i++) got[i] = NAN;
    batchnorm_backward(want, dg, db, dout, y, x, save, save + C, gamma, work, M, C, act);
    batchnorm_backward_rows(got, dg, db, dout, y, x, save, save + C, gamma, work, M, C, act, NULL, 1);
    check(same_floats(got, want, (size_t)M * C), "BN M%d C%d act %d: dinp_write = the op onto zeros, bit for bit", M,
          C, act);
    float *all[] = {x, dout, gamma, beta, y, mm, mv, save, want, got, dg, db};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
}

int main(void) {
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        printf("note: this CPU has no AVX2+FMA, the fast ops run the reference\n");
    static const int sizes[][2] = {{1, 1}, {2, 3}, {7, 5}, {13, 12}, {12, 13}};
    static const int channels[] = {3, 8, 13, 24, 37};
    for (int threads = 1; threads <= 2; threads++) {
        omp_set_num_threads(threads);
        for (int n = 1; n <= 3; n += 2)
            for (int z = 0; z < 5; z++)
                for (int c = 0; c < 5; c++)
                    for (int s = 1; s <= 2; s++) test_case(n, sizes[z][0], sizes[z][1], channels[c], s, threads);
        test_fallback(3, 7, 5, 13, 5, 1, threads);
        test_fallback(1, 13, 12, 8, 3, 3, threads);
    }
    test_bn_write(1000, 24, GS_ACT_RELU6);
    test_bn_write(77, 13, GS_ACT_NONE);
    return test_finish();
}
