// The kernels an inference plan (gesture/plan.h) runs on: convolutions with batch norm already
// folded into their weights and a bias, the activation and the residual add in their epilogue.
// One table per instruction-set tier (generic C, AVX2+FMA), chosen once at run time by
// plan_kernels_pick. Every kernel is single-threaded and works on a part of one layer (rows of
// output), so the plan's executor can give each thread its own frames or its own rows. The training
// ops' fast twins (pwconv_fast.c, depthwise_avx2.c) run on the same AVX2 kernels, which is why they
// live here, below both.
#ifndef GESTURE_PLAN_KERNELS_H
#define GESTURE_PLAN_KERNELS_H

#include <stddef.h>

// Geometry of one convolution on one image (Keras 'same' padding: pad_top/pad_left before, what
// Ho/Wo imply after).
typedef struct {
    int H, W, Ci;       // input
    int Ho, Wo, Co;     // output (Co = Ci for a depthwise conv)
    int K, stride, pad_top, pad_left;
} plan_geom;

typedef struct {
    const char *name;  // "avx2", "generic": what `gesture info` reports
    // Output rows [y0, y1) of one image: out = act(conv(inp, w) + bias). w (K,K,Ci,Co) HWIO.
    void (*conv)(float *out,          // (Ho,Wo,Co) of the image (rows y0..y1 written)
                 const float *inp,    // (H,W,Ci)
                 const float *w,      // (K,K,Ci,Co)
                 const float *bias,   // (Co)
                 const plan_geom *g, int y0, int y1, int act);
    // Output rows [y0, y1) of one image: out = act(depthwise(inp, w) + bias). w (K,K,C).
    void (*dw)(float *out,            // (Ho,Wo,C)
               const float *inp,      // (H,W,C)
               const float *w,        // (K,K,C)
               const float *bias,     // (C)
               const plan_geom *g, int y0, int y1, int act);
    // M rows: out = act(inp @ w + bias) + res (res NULL: none), w a 1x1 conv's (Ci,Co) HWIO kernel
    // as this tier's pw_pack laid it out (once, when the plan is built).
    void (*pw)(float *out,            // (M,Co)
               const float *inp,      // (M,Ci)
               const float *wpacked,  // pw_pack of (Ci,Co)
               const float *bias,     // (Co)
               const float *res,      // (M,Co) or NULL
               int M, int Ci, int Co, int act);
    size_t (*pw_packed_floats)(int Ci, int Co);
    void (*pw_pack)(float *wpacked,   // pw_packed_floats(Ci,Co)
                    const float *w,   // (Ci,Co)
                    int Ci, int Co);
} plan_kernels;

extern const plan_kernels plan_kernels_generic;
extern const plan_kernels plan_kernels_avx2;

// The fastest tier this CPU runs (__builtin_cpu_supports), or the one GESTURE_PLAN_KERNELS names
// ("generic", "avx2"; a tier the CPU lacks is refused with a warning on stderr).
const plan_kernels *plan_kernels_pick(void);
// plan_kernels_pick's answer, decided once per process: for the training ops' fast twins
// (gesture/ops.h), which ask on every call and run the reference below the AVX2 tier.
const plan_kernels *plan_kernels_tier(void);

// The epilogue every tier shares on its scalar tails: act(v) for GS_ACT_NONE / RELU6 / RELU.
static inline float plan_act(float v, int act) {
    if (act == 1) return v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v);  // GS_ACT_RELU6
    if (act == 2) return v < 0.0f ? 0.0f : v;                      // GS_ACT_RELU
    return v;
}

#endif
