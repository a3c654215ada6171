// CPU reference ops: the numerical spec of the model. Every CUDA op in cuda/ has a twin
// here with the same contract. Conventions (project-wide):
//  - tensors are float32, row-major, channels last: images (N,H,W,C), sequences (B,T,D);
//  - argument order: outputs, then inputs, then sizes (llm.c);
//  - every backward op ACCUMULATES (+=) into all of its gradient outputs (dinp and parameter
//    grads); callers zero gradient buffers first. This makes fan-out (residual branches) free.
//  - a NULL gradient output is skipped (e.g. no dinp for the first layer).
//  - weights are in Keras layout: conv HWIO (K,K,Ci,Co), depthwise (K,K,C), dense (in,out),
//    GRU kernel (D,3H) / recurrent (H,3H) / bias (2,3H) with gate columns [z|r|h].
//  - ops that need temporary memory (per-thread partial sums, im2col patches, recurrent
//    gradients) take it as `work`: at least <op>_work_floats(...) floats, 64-byte aligned, for
//    the OpenMP thread count at the call (omp_get_max_threads()). They allocate nothing: the
//    executor carves `work` from its plan (src/model/exec_cpu.c), tests allocate it.
#ifndef GESTURE_OPS_H
#define GESTURE_OPS_H

#include <stddef.h>
#include <stdint.h>

enum { GS_ACT_NONE = 0, GS_ACT_RELU6 = 1, GS_ACT_RELU = 2 };

// Output size and leading pad of a Keras-style 'same' conv (TF rule: pad_total split with the
// extra pixel after).
void conv_same_geometry(int *out_size, int *pad_before, int in_size, int K, int stride);

// ---- matmul (1x1 conv as GEMM, dense layers, GRU input projections) ----
// out = inp @ w (+ bias). OpenBLAS sgemm.
void matmul_forward(float *out,         // (M,Nout)
                    const float *inp,   // (M,K)
                    const float *w,     // (K,Nout)
                    const float *bias,  // (Nout) or NULL
                    int M, int K, int Nout);
void matmul_backward(float *dinp,        // (M,K) or NULL, +=
                     float *dw,          // (K,Nout) or NULL, +=
                     float *dbias,       // (Nout) or NULL, +=
                     const float *dout,  // (M,Nout)
                     const float *inp,   // (M,K)
                     const float *w,     // (K,Nout)
                     float *work,        // matmul_work_floats(K,Nout)
                     int M, int K, int Nout);
size_t matmul_work_floats(int K, int Nout);
// The 1x1 convolution's fast twins (src/ops/pwconv_fast.c): matmul_forward/backward with no bias, on
// the AVX2 GEMM kernels; channel counts not multiples of 8, or a CPU below AVX2, run the reference.
// dinp_write (fast twins' backward, batchnorm_*_rows): dinp is written (=) instead of added to, so
// the executor need not zero a gradient buffer before its first writer (gs_op_call.din_fresh).
void pwconv_forward_fast(float *out,        // (M,Co)
                         const float *inp,  // (M,Ci)
                         const float *w,    // (Ci,Co)
                         float *work,       // pwconv_fast_work_floats(Ci,Co)
                         int M, int Ci, int Co);
void pwconv_backward_fast(float *dinp,        // (M,Ci) or NULL, += (= with dinp_write)
                          float *dw,          // (Ci,Co) or NULL, +=
                          const float *dout,  // (M,Co)
                          const float *inp,   // (M,Ci)
                          const float *w,     // (Ci,Co)
                          float *work,        // pwconv_fast_work_floats(Ci,Co)
                          int M, int Ci, int Co, int dinp_write);
size_t pwconv_fast_work_floats(int Ci, int Co);

// ---- general KxK convolution, no bias (Conv1: 3x3 stride 2) ----
// Cross-correlation: out[n,y,x,co] = sum_{i,j,ci} inp_pad[n, s*y+i-pt, s*x+j-pl, ci] * w[i,j,ci,co],
// with zero padding pad_top/pad_left before and whatever Ho/Wo imply after.
void conv2d_forward(float *out,        // (N,Ho,Wo,Co)
                    const float *inp,  // (N,H,W,Ci)
                    const float *w,    // (K,K,Ci,Co)
                    float *work,       // conv2d_work_floats(Ci,Co,K,Ho,Wo)
                    int N, int H, int W, int Ci, int Co, int K, int stride,
                    int pad_top, int pad_left, int Ho, int Wo);
void conv2d_backward(float *dinp,        // (N,H,W,Ci) or NULL, +=
                     float *dw,          // (K,K,Ci,Co) or NULL, +=
                     const float *dout,  // (N,Ho,Wo,Co)
                     const float *inp,   // (N,H,W,Ci)
                     const float *w,     // (K,K,Ci,Co)
                     float *work,        // conv2d_work_floats(Ci,Co,K,Ho,Wo)
                     int N, int H, int W, int Ci, int Co, int K, int stride,
                     int pad_top, int pad_left, int Ho, int Wo);
size_t conv2d_work_floats(int Ci, int Co, int K, int Ho, int Wo);

// ---- depthwise KxK convolution, depth multiplier 1, no bias ----
void depthwise_forward(float *out,        // (N,Ho,Wo,C)
                       const float *inp,  // (N,H,W,C)
                       const float *w,    // (K,K,C)
                       int N, int H, int W, int C, int K, int stride,
                       int pad_top, int pad_left, int Ho, int Wo);
void depthwise_backward(float *dinp,        // (N,H,W,C) or NULL, +=
                        float *dw,          // (K,K,C) or NULL, +=
                        const float *dout,  // (N,Ho,Wo,C)
                        const float *inp,   // (N,H,W,C)
                        const float *w,     // (K,K,C)
                        float *work,        // depthwise_work_floats(C,K)
                        int N, int H, int W, int C, int K, int stride,
                        int pad_top, int pad_left, int Ho, int Wo);
size_t depthwise_work_floats(int C, int K);
// fast twins: same contract; shapes or CPUs they do not cover run the reference op
// (src/ops/depthwise_avx2.c: AVX2+FMA, K = 3, stride 1 or 2). Same scratch: depthwise_work_floats.
void depthwise_forward_fast(float *out,        // (N,Ho,Wo,C)
                            const float *inp,  // (N,H,W,C)
                            const float *w,    // (K,K,C)
                            int N, int H, int W, int C, int K, int stride,
                            int pad_top, int pad_left, int Ho, int Wo);
void depthwise_backward_fast(float *dinp,        // (N,H,W,C) or NULL, += (= with dinp_write)
                             float *dw,          // (K,K,C) or NULL, +=
                             const float *dout,  // (N,Ho,Wo,C)
                             const float *inp,   // (N,H,W,C)
                             const float *w,     // (K,K,C)
                             float *work,        // depthwise_work_floats(C,K)
                             int N, int H, int W, int C, int K, int stride,
                             int pad_top, int pad_left, int Ho, int Wo, int dinp_write);

// ---- batch normalization over the last axis, rows M = N*H*W, optionally fused activation ----
// Training: batch mean and BIASED variance over M rows; y = act(gamma*(x-mean)*invstd + beta),
// invstd = 1/sqrt(var+eps); moving = moving*momentum + batch*(1-momentum) (Keras).
// mean/invstd are saved for backward.
void batchnorm_forward_train(float *out,          // (M,C)
                             float *mean,         // (C) saved
                             float *invstd,       // (C) saved
                             float *moving_mean,  // (C) updated in place
                             float *moving_var,   // (C) updated in place
                             const float *inp,    // (M,C)
                             const float *gamma,  // (C)
                             const float *beta,   // (C)
                             float *work,         // batchnorm_work_floats(C)
                             int M, int C, float eps, float momentum, int act);
// Inference: moving statistics, nothing saved or updated.
void batchnorm_forward_infer(float *out,                // (M,C)
                             const float *inp,          // (M,C)
                             const float *gamma,        // (C)
                             const float *beta,         // (C)
                             const float *moving_mean,  // (C)
                             const float *moving_var,   // (C)
                             float *work,               // batchnorm_work_floats(C)
                             int M, int C, float eps, int act);
// Backward of the training forward. `out` is the forward output, used for the activation mask.
void batchnorm_backward(float *dinp,          // (M,C) or NULL, +=
                        float *dgamma,        // (C) +=
                        float *dbeta,         // (C) +=
                        const float *dout,    // (M,C)
                        const float *out,     // (M,C)
                        const float *inp,     // (M,C)
                        const float *mean,    // (C)
                        const float *invstd,  // (C)
                        const float *gamma,   // (C)
                        float *work,          // batchnorm_work_floats(C)
                        int M, int C, int act);
size_t batchnorm_work_floats(int C);

// Data-parallel training with synchronized batch norm (train.sync_bn, gesture/dist.h): the ops
// above with the batch statistics and their gradients summed over every rank taking part, so N ranks
// of M/N rows compute what one process computes with M rows (within float rounding). `r->sum` adds
// up 2C+1 doubles over the ranks (each rank calls the op at the same point, in the same order).
// M = 0 is allowed (a rank without clips in this step still takes part). Backward: dgamma/dbeta get
// this rank's part (parameter gradients are summed over ranks afterwards); dinp uses the reduced means.
// A reducer sums in place over the ranks: host memory for the CPU backend (MPI), device memory and
// queued on the compute stream for the CUDA backend (NCCL).
typedef struct gs_reducer {
    void (*sum)(void *ctx, double *v, size_t n);     // BN statistics
    void (*sum_f32)(void *ctx, float *v, size_t n);  // gradients
    void *ctx;
    // Optional (NULL where a sum cannot run beside the compute, as MPI on CPU ranks): queue a sum of v
    // after the work queued so far, running while later work computes (gradient buckets during
    // backward); join makes the work queued after it wait for every such sum.
    void (*sum_f32_async)(void *ctx, float *v, size_t n);
    void (*join)(void *ctx);
} gs_reducer;
void batchnorm_forward_train_sync(float *out, float *mean, float *invstd, float *moving_mean, float *moving_var,
                                  const float *inp, const float *gamma, const float *beta, float *work, int M, int C,
                                  float eps, float momentum, int act, const gs_reducer *r);
void batchnorm_backward_sync(float *dinp, float *dgamma, float *dbeta, const float *dout, const float *out,
                             const float *inp, const float *mean, const float *invstd, const float *gamma,
                             float *work, int M, int C, int act, const gs_reducer *r);

// The training ops above on operands whose M rows are not contiguous: segments of `seg` rows, `pitch`
// rows apart (every operand alike; row m is at row (m / seg) * pitch + m % seg). model.bn_time =
// keras3 normalizes the frames of one time step, B blocks of H*W rows T*H*W rows apart, in place.
// L = NULL: contiguous, as above. dinp_write: dinp is written (=), not added to (+=), so it needs no
// zeroing first (the executor's first writer of a gradient buffer, gs_op_call.din_fresh).
typedef struct {
    int seg, pitch;
} bn_rows;
void batchnorm_forward_train_rows(float *out, float *mean, float *invstd, float *moving_mean, float *moving_var,
                                  const float *inp, const float *gamma, const float *beta, float *work, int M, int C,
                                  float eps, float momentum, int act, const bn_rows *L);
void batchnorm_backward_rows(float *dinp, float *dgamma, float *dbeta, const float *dout, const float *out,
                             const float *inp, const float *mean, const float *invstd, const float *gamma, float *work,
                             int M, int C, int act, const bn_rows *L, int dinp_write);
void batchnorm_forward_train_sync_rows(float *out, float *mean, float *invstd, float *moving_mean, float *moving_var,
                                       const float *inp, const float *gamma, const float *beta, float *work, int M,
                                       int C, float eps, float momentum, int act, const gs_reducer *r,
                                       const bn_rows *L);
void batchnorm_backward_sync_rows(float *dinp, float *dgamma, float *dbeta, const float *dout, const float *out,
                                  const float *inp, const float *mean, const float *invstd, const float *gamma,
                                  float *work, int M, int C, int act, const gs_reducer *r, const bn_rows *L,
                                  int dinp_write);

// ---- elementwise ----
// ReLU (Dense+ReLU); ReLU6 is fused into batchnorm_*. Backward mask from the forward output: the
// gradient passes where out > 0.
void relu_forward(float *out, const float *inp, size_t n);
void relu_backward(float *dinp, const float *dout, const float *out, size_t n);
void add_forward(float *out, const float *a, const float *b, size_t n);
void add_backward(float *da, float *db, const float *dout, size_t n);

// ---- global average pool over H,W ----
void avgpool_forward(float *out,        // (N,C)
                     const float *inp,  // (N,HW,C)
                     float *work,       // avgpool_work_floats(C)
                     int N, int HW, int C);
size_t avgpool_work_floats(int C);
void avgpool_backward(float *dinp,        // (N,HW,C) +=
                      const float *dout,  // (N,C)
                      int N, int HW, int C);

// ---- GRU, Keras reset_after=True, one direction; returns the final state only ----
// z = sig(x Wz + bz + h Uz + b'z), r = sig(x Wr + br + h Ur + b'r),
// hh = tanh(x Wh + bh + r*(h Uh + b'h)), h = z*h + (1-z)*hh, h0 = 0.
// reverse=1 consumes x_T..x_1 (Keras go_backwards). The final state of batch row b is written
// to out + b*out_stride (so both directions can write into one (B,2H) concat buffer).
// `cache` (gru_cache_floats(B,T,H) floats) holds what backward needs.
size_t gru_cache_floats(int B, int T, int H);
void gru_forward(float *out,             // (B,H) rows with stride out_stride
                 float *cache,           // gru_cache_floats(B,T,H)
                 const float *x,         // (B,T,D)
                 const float *kernel,    // (D,3H)
                 const float *rkernel,   // (H,3H)
                 const float *bias,      // (2,3H)
                 int B, int T, int D, int H, int out_stride, int reverse);
void gru_backward(float *dx,             // (B,T,D) or NULL, +=
                  float *dkernel,        // (D,3H) +=
                  float *drkernel,       // (H,3H) +=
                  float *dbias,          // (2,3H) +=
                  const float *dout,     // (B,H) rows with stride out_stride
                  const float *cache,    // from gru_forward
                  const float *x,        // (B,T,D)
                  const float *kernel,   // (D,3H)
                  const float *rkernel,  // (H,3H)
                  float *work,           // gru_work_floats(B,T,H)
                  int B, int T, int D, int H, int out_stride, int reverse);
size_t gru_work_floats(int B, int T, int H);

// ---- inverted dropout; the mask is a pure function of (key, element index) ----
// keep element i iff gs_counter_uniform(key, i) >= rate; kept values are scaled by 1/(1-rate).
void dropout_forward(float *out, const float *inp, size_t n, float rate, uint64_t key);
void dropout_backward(float *dinp, const float *dout, size_t n, float rate, uint64_t key);
// The same for elements first.. of a larger tensor (a rank's rows of a global batch: the masks one
// process draws for those rows). first = 0 is the pair above.
void dropout_forward_at(float *out, const float *inp, size_t n, float rate, uint64_t key, size_t first);
void dropout_backward_at(float *dinp, const float *dout, size_t n, float rate, uint64_t key, size_t first);

// ---- softmax cross-entropy on logits (log-sum-exp), mean over the batch ----
// Returns the mean loss; probs gets the softmax; losses (B) per row if non-NULL.
float softmax_ce_forward(float *probs,         // (B,K)
                         float *losses,        // (B) or NULL
                         const float *logits,  // (B,K)
                         const int *labels,    // (B) in [0,K)
                         int B, int K);
// dlogits += scale * (probs - onehot) / B   (scale = d(total loss)/d(mean CE), normally 1)
void softmax_ce_backward(float *dlogits, const float *probs, const int *labels, int B, int K,
                         float scale);

// ---- L2 penalty (Keras regularizers.L2): l2 * sum(w^2) ----
float l2_forward(const float *w, size_t n, float l2);
void l2_backward(float *dw, const float *w, size_t n, float l2);  // dw += 2*l2*w

// ---- Adam, Keras form (epsilon added to sqrt(v) before bias correction) ----
// t is the 1-based step: alpha = lr*sqrt(1-b2^t)/(1-b1^t); m += (g-m)(1-b1); v += (g^2-v)(1-b2);
// p -= alpha*m/(sqrt(v)+eps).
void adam_update(float *params, float *m, float *v, const float *grads, size_t n, float lr,
                 float beta1, float beta2, float eps, long t);
// alpha = lr*sqrt(1-b2^t)/(1-b1^t), in double (every backend's Adam uses this one value).
float adam_step_size(float lr, float beta1, float beta2, long t);

#endif
