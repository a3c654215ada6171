// The folded inference plan (gesture/plan.h) on the GPU: predict, eval and stream on `--device cuda`
// with runtime.inference = plan, in fp32 or, with runtime.precision = bf16, with activations stored
// in bf16 and the 1x1 convolutions (nearly all the flops) as bf16 GEMMs accumulating in fp32
// (cublasGemmEx; the stem and depthwise weights, biases, epilogues, pooling and head stay fp32). The CPU folds the model once (batch norm into the convolutions'
// weights and biases, buffer slots by liveness); this file uploads the result and runs the same
// layers in order: KxK and depthwise convolutions as direct kernels with bias, ReLU6 and residual in
// their epilogue, 1x1 convolutions as one cuBLAS GEMM over all frames' pixels and an epilogue pass,
// the pooling with head_bn's affine map, then the BiGRU and the dense head on the CUDA ops. One
// device allocation holds everything; a call allocates nothing.
// Frames go through the backbone in chunks as large as PLAN_CHUNK_FLOATS of buffers allow (every
// frame of a batch at once for the seed config), so each layer is one launch over many frames.
#include <stdlib.h>
#include <string.h>

#include "cuda_common.h"
extern "C" {
#include "gesture/errors.h"
#include "gesture/model.h"
#include "gesture/plan.h"
#include "gesture/precision.h"
}

// Device floats the backbone's buffers and input frames may take (1 GiB): the chunk of frames that
// go through each layer together is the most that fits, at least one.
#define PLAN_CHUNK_FLOATS ((size_t)256 << 20)
#define PLAN_THREADS 256

typedef struct {
    gs_plan_layer l;       // host view (its w and bias point into the host plan)
    float *w, *bias;       // device copies
    __nv_bfloat16 *w16;    // bf16: a 1x1 conv's weights rounded (w is then unused)
} dev_layer;

typedef struct {
    const gs_plan *plan;
    const gs_model *m;
    int n_layers, n_slots, gap, C, chunk, max_frames;
    size_t frame_floats;   // S*S*3
    int bf16;              // activations stored in bf16, 1x1 convs on bf16 GEMMs
    dev_layer *layers;
    gs_cuda_arena mem;
    void *slots[16];       // (chunk, slot floats) each, of float or __nv_bfloat16
    float *acc;            // bf16: a 1x1 conv's fp32 GEMM result before its epilogue
    float *frames;         // (chunk,S,S,3)
    float *feat;           // (max_frames,C)
    float *scale, *shift;  // (C) head_bn
    float *params;         // the plan's parameter snapshot (the head reads it)
    float **head_out;      // per node after the pooling (device; a dropout aliases its input)
    float *gru_cache;      // 2 directions
    int *labels;           // (batch)
    float *loss;           // mean cross-entropy
    int *zero_labels;      // host (batch)
} plan_cuda;

__device__ __forceinline__ float plan_act_dev(float v, int act) {
    if (act == GS_ACT_RELU6) return fminf(fmaxf(v, 0.0f), 6.0f);
    if (act == GS_ACT_RELU) return fmaxf(v, 0.0f);
    return v;
}

// Activations are stored as T (float, or __nv_bfloat16 with runtime.precision = bf16) and computed
// in fp32: a load widens, a store rounds (to nearest even).
__device__ __forceinline__ float ld(const float *p) { return *p; }
__device__ __forceinline__ float ld(const __nv_bfloat16 *p) { return __bfloat162float(*p); }
__device__ __forceinline__ void st(float *p, float v) { *p = v; }
__device__ __forceinline__ void st(__nv_bfloat16 *p, float v) { *p = __float2bfloat16(v); }

// 4 channels from c on: one float4 load in fp32, four loads in bf16.
__device__ __forceinline__ void ld4(float v[4], const float *p) {
    float4 t = *reinterpret_cast<const float4 *>(p);
    v[0] = t.x, v[1] = t.y, v[2] = t.z, v[3] = t.w;
}
__device__ __forceinline__ void ld4(float v[4], const __nv_bfloat16 *p) {
    for (int k = 0; k < 4; k++) v[k] = __bfloat162float(p[k]);
}

// out = act(conv(inp, w) + bias) for a KxK conv (the stem: few input channels): one thread per
// output value, the input taps clipped at the border.
template <typename TI, typename TO>
__global__ void plan_conv_kernel(TO *out, const TI *inp, const float *w, const float *bias, int N, int H, int W,
                                 int Ci, int Ho, int Wo, int Co, int K, int stride, int pad_top, int pad_left,
                                 int act) {
    size_t total = (size_t)N * Ho * Wo * Co;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        int co = (int)(i % Co);
        size_t pix = i / Co;
        int x = (int)(pix % Wo), y = (int)((pix / Wo) % Ho), n = (int)(pix / ((size_t)Wo * Ho));
        float acc = 0.0f;
        for (int ky = 0; ky < K; ky++) {
            int h = y * stride - pad_top + ky;
            if (h < 0 || h >= H) continue;
            for (int kx = 0; kx < K; kx++) {
                int ww = x * stride - pad_left + kx;
                if (ww < 0 || ww >= W) continue;
                const TI *xp = inp + (((size_t)n * H + h) * W + ww) * Ci;
                const float *wp = w + ((size_t)(ky * K + kx) * Ci) * Co + co;
                for (int ci = 0; ci < Ci; ci++) acc += ld(xp + ci) * wp[(size_t)ci * Co];
            }
        }
        st(out + i, plan_act_dev(acc + bias[co], act));
    }
}

// out = act(depthwise(inp, w) + bias): one thread per output pixel and 4 channels (the model's
// channel counts are multiples of 8 at every alpha: plan_cuda_init checks it).
template <typename T>
__global__ void plan_dw_kernel(T *out, const T *inp, const float *w, const float *bias, int N, int H, int W, int C,
                               int Ho, int Wo, int K, int stride, int pad_top, int pad_left, int act) {
    const int CV = C / 4;
    size_t total = (size_t)N * Ho * Wo * CV;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        int c = (int)(i % CV) * 4;
        size_t pix = i / CV;
        int x = (int)(pix % Wo), y = (int)((pix / Wo) % Ho), n = (int)(pix / ((size_t)Wo * Ho));
        float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        for (int ky = 0; ky < K; ky++) {
            int h = y * stride - pad_top + ky;
            if (h < 0 || h >= H) continue;
            for (int kx = 0; kx < K; kx++) {
                int ww = x * stride - pad_left + kx;
                if (ww < 0 || ww >= W) continue;
                float a[4], b[4];
                ld4(a, inp + (((size_t)n * H + h) * W + ww) * C + c);
                ld4(b, w + (size_t)(ky * K + kx) * C + c);
                for (int k = 0; k < 4; k++) acc[k] += a[k] * b[k];
            }
        }
        T *o = out + pix * C + c;
        for (int k = 0; k < 4; k++) st(o + k, plan_act_dev(acc[k] + bias[c + k], act));
    }
}

// The 1x1 conv's epilogue after its GEMM: out = act(acc + bias) + res (res NULL: none). In fp32 the
// GEMM wrote out itself (acc == out); in bf16 it wrote fp32 scratch.
template <typename T>
__global__ void plan_pw_epilogue_kernel(T *out, const float *acc, const float *bias, const T *res, size_t M, int Co,
                                        int act) {
    size_t total = M * Co;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        float v = plan_act_dev(acc[i] + bias[i % Co], act);
        st(out + i, res ? v + ld(res + i) : v);
    }
}

// feat[n,c] = mean over the HW pixels * scale[c] + shift[c]: one thread per (frame, channel),
// neighbouring threads on neighbouring channels; summed in pixel order in float, as the CPU plan.
template <typename T>
__global__ void plan_pool_kernel(float *feat, const T *inp, const float *scale, const float *shift, int N, int HW,
                                 int C) {
    size_t total = (size_t)N * C;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        size_t n = i / C;
        int c = (int)(i % C);
        const T *x = inp + n * HW * C + c;
        float s = 0.0f;
        for (int q = 0; q < HW; q++) s += ld(x + (size_t)q * C);
        feat[i] = s / (float)HW * scale[c] + shift[c];
    }
}

static size_t layer_w_floats(const gs_plan_layer *l) {
    return (size_t)l->K * l->K * (l->kind == GS_PLAN_DW ? 1 : l->Ci) * l->Co;
}

// One layer over n frames, activations stored as T.
template <typename T>
static void run_layer(plan_cuda *pc, const dev_layer *d, int n) {
    const gs_plan_layer *l = &d->l;
    const T *in = (const T *)pc->slots[l->in < 0 ? 0 : l->in];
    T *out = (T *)pc->slots[l->out];
    const T *res = l->res >= 0 ? (const T *)pc->slots[l->res] : NULL;
    cudaStream_t st = gs_cuda_stream();
    size_t pix = (size_t)n * l->Ho * l->Wo;
    switch (l->kind) {
    case GS_PLAN_CONV:
        if (l->in < 0)  // the input frames, fp32 from the host
            plan_conv_kernel<float, T><<<gs_cuda_blocks(pix * l->Co, PLAN_THREADS), PLAN_THREADS, 0, st>>>(
                out, pc->frames, d->w, d->bias, n, l->H, l->W, l->Ci, l->Ho, l->Wo, l->Co, l->K, l->stride,
                l->pad_top, l->pad_left, l->act);
        else
            plan_conv_kernel<T, T><<<gs_cuda_blocks(pix * l->Co, PLAN_THREADS), PLAN_THREADS, 0, st>>>(
                out, in, d->w, d->bias, n, l->H, l->W, l->Ci, l->Ho, l->Wo, l->Co, l->K, l->stride, l->pad_top,
                l->pad_left, l->act);
        GS_CUDA_OP_DONE("plan_conv_kernel");
        break;
    case GS_PLAN_DW:
        GS_ASSERT(l->in >= 0);  // a depthwise conv never reads the frames (3 channels)
        plan_dw_kernel<T><<<gs_cuda_blocks(pix * l->Co / 4, PLAN_THREADS), PLAN_THREADS, 0, st>>>(
            out, in, d->w, d->bias, n, l->H, l->W, l->Co, l->Ho, l->Wo, l->K, l->stride, l->pad_top, l->pad_left,
            l->act);
        GS_CUDA_OP_DONE("plan_dw_kernel");
        break;
    case GS_PLAN_PW: {
        GS_ASSERT(l->in >= 0);
        float *acc;
        if (pc->bf16) {
            acc = pc->acc;
            gs_cuda_gemm_rm_bf16(0, 0, (int)pix, l->Co, l->Ci, (const __nv_bfloat16 *)in, l->Ci, d->w16, l->Co, acc,
                                 l->Co);
        } else {
            acc = (float *)out;
            gs_cuda_gemm_rm(0, 0, (int)pix, l->Co, l->Ci, 1.0f, (const float *)in, l->Ci, d->w, l->Co, 0.0f, acc,
                            l->Co);
        }
        plan_pw_epilogue_kernel<T><<<gs_cuda_blocks(pix * l->Co, PLAN_THREADS), PLAN_THREADS, 0, st>>>(
            out, acc, d->bias, res, pix, l->Co, l->act);
        GS_CUDA_OP_DONE("plan 1x1 conv (GEMM + epilogue)");
        break;
    }
    default: gs_fatal("plan on cuda: layer %s has an unknown kind %d", l->name, l->kind);
    }
}

template <typename T>
static void run_pool(plan_cuda *pc, float *feat, int n) {
    const gs_plan_layer *last = &pc->layers[pc->n_layers - 1].l;
    plan_pool_kernel<T><<<gs_cuda_blocks((size_t)n * pc->C, PLAN_THREADS), PLAN_THREADS, 0, gs_cuda_stream()>>>(
        feat, (const T *)pc->slots[last->out], pc->scale, pc->shift, n, last->Ho * last->Wo, pc->C);
    GS_CUDA_OP_DONE("plan_pool_kernel");
}

// Features of N host frames into feat (device, (N,C)), chunk by chunk.
static void run_backbone(plan_cuda *pc, float *feat, const float *frames, int N) {
    for (int f0 = 0; f0 < N; f0 += pc->chunk) {
        int n = N - f0 < pc->chunk ? N - f0 : pc->chunk;
        gs_cuda_upload(pc->frames, frames + (size_t)f0 * pc->frame_floats, (size_t)n * pc->frame_floats * sizeof(float));
        for (int j = 0; j < pc->n_layers; j++) {
            if (pc->bf16) run_layer<__nv_bfloat16>(pc, &pc->layers[j], n);
            else run_layer<float>(pc, &pc->layers[j], n);
        }
        if (pc->bf16) run_pool<__nv_bfloat16>(pc, feat + (size_t)f0 * pc->C, n);
        else run_pool<float>(pc, feat + (size_t)f0 * pc->C, n);
    }
}

static const float *param_dev(const plan_cuda *pc, const gs_node *n, int k) {
    return pc->params + pc->m->params.p[n->p[k]].offset;
}

// The nodes after the pooling over B clips whose features are in pc->feat, as the CPU plan's head.
static void run_head(plan_cuda *pc, int B) {
    const gs_model *m = pc->m;
    const gs_model_arch *a = &m->cfg;
    for (int i = pc->gap + 1; i < m->n_nodes; i++) {
        const gs_node *n = &m->nodes[i];
        const float *x = n->in[0] == pc->gap ? pc->feat : pc->head_out[n->in[0] - pc->gap - 1];
        float *out = pc->head_out[i - pc->gap - 1];
        int D = m->nodes[n->in[0]].shape[1];
        switch (n->op) {
        case NODE_BIGRU: {
            int H = a->gru_units;
            size_t cache = gru_cache_floats(a->batch, a->frames, H);
            for (int d = 0; d < 2; d++)
                gru_forward_cuda(out + d * H, pc->gru_cache + d * cache, x, param_dev(pc, n, 3 * d),
                                 param_dev(pc, n, 3 * d + 1), param_dev(pc, n, 3 * d + 2), B, a->frames, D, H, 2 * H,
                                 d);
            break;
        }
        case NODE_DROPOUT: break;  // identity at inference: its output aliases its input (plan_cuda_init)
        case NODE_DENSE:
            matmul_forward_cuda(out, x, param_dev(pc, n, 0), param_dev(pc, n, 1), B, D, n->shape[1]);
            if (n->act == GS_ACT_RELU) relu_forward_cuda(out, out, (size_t)B * n->shape[1]);
            break;
        case NODE_LOSS: softmax_ce_forward_cuda(out, NULL, pc->loss, x, pc->labels, B, n->shape[1]); break;
        case NODE_INPUT:  // plan_build refused a model with these after the pooling
        case NODE_CONV:
        case NODE_PWCONV:
        case NODE_DWCONV:
        case NODE_BN:
        case NODE_ADD:
        case NODE_GAP:
        case NODE_COUNT: gs_fatal("plan on cuda: layer %s after the pooling has no head kernel", n->name);
        }
    }
}

// Bytes of the one allocation, and the device pointers carved from it (carve = 0: count only).
static size_t plan_cuda_memory(plan_cuda *pc, int carve) {
    const gs_model *m = pc->m;
    const gs_model_arch *a = &m->cfg;
    size_t total = 0;
    auto take = [&](size_t bytes) -> void * {
        bytes = gs_cuda_align(bytes);
        total += bytes;
        return carve ? gs_cuda_arena_alloc(&pc->mem, bytes) : NULL;
    };
    auto floats = [&](size_t n) { return (float *)take(n * sizeof(float)); };
    size_t act = pc->bf16 ? sizeof(__nv_bfloat16) : sizeof(float), acc = 0;
    for (int j = 0; j < pc->n_layers; j++) {
        dev_layer *d = &pc->layers[j];
        int bf16_w = pc->bf16 && d->l.kind == GS_PLAN_PW;
        d->w = bf16_w ? NULL : floats(layer_w_floats(&d->l));
        d->w16 = bf16_w ? (__nv_bfloat16 *)take(layer_w_floats(&d->l) * sizeof(__nv_bfloat16)) : NULL;
        d->bias = floats((size_t)d->l.Co);
        size_t out = (size_t)d->l.Ho * d->l.Wo * d->l.Co;
        if (bf16_w && out > acc) acc = out;
    }
    for (int s = 0; s < pc->n_slots; s++) pc->slots[s] = take(plan_slot_floats(pc->plan, s) * pc->chunk * act);
    pc->acc = acc ? floats(acc * pc->chunk) : NULL;
    pc->frames = floats(pc->frame_floats * pc->chunk);
    pc->feat = floats((size_t)pc->max_frames * pc->C);
    pc->scale = floats((size_t)pc->C);
    pc->shift = floats((size_t)pc->C);
    pc->params = floats(m->params.numel ? m->params.numel : 1);
    for (int i = pc->gap + 1; i < m->n_nodes; i++) {
        const gs_node *n = &m->nodes[i];
        float *o = n->op == NODE_DROPOUT ? NULL : floats((size_t)n->shape[0] * n->shape[1]);
        if (carve)
            pc->head_out[i - pc->gap - 1] =
                n->op == NODE_DROPOUT ? (n->in[0] == pc->gap ? pc->feat : pc->head_out[n->in[0] - pc->gap - 1]) : o;
    }
    pc->gru_cache = floats(2 * gru_cache_floats(a->batch, a->frames, a->gru_units));
    pc->labels = (int *)take((size_t)a->batch * sizeof(int));
    pc->loss = floats(1);
    return total;
}

extern "C" void *cuda_plan_init(const gs_plan *p, int bf16) {
    plan_cuda *pc = (plan_cuda *)gs_calloc(1, sizeof *pc);
    pc->plan = p;
    pc->bf16 = bf16;
    pc->m = plan_model(p);
    const gs_model_arch *a = &pc->m->cfg;
    pc->n_layers = plan_layer_count(p);
    pc->n_slots = plan_slot_count(p);
    GS_ASSERT(pc->n_slots <= (int)(sizeof pc->slots / sizeof pc->slots[0]) && pc->n_layers > 0);
    pc->gap = plan_pool_node(p);
    pc->C = plan_feature_width(p);
    pc->frame_floats = (size_t)a->size * a->size * 3;
    pc->max_frames = a->batch * a->frames;
    size_t per_frame = pc->frame_floats;  // floats' worth of device memory per frame (bf16 halves the slots)
    for (int s = 0; s < pc->n_slots; s++) per_frame += plan_slot_floats(p, s) / (bf16 ? 2 : 1);
    size_t fit = PLAN_CHUNK_FLOATS / per_frame;
    pc->chunk = fit < 1 ? 1 : fit < (size_t)pc->max_frames ? (int)fit : pc->max_frames;
    pc->layers = (dev_layer *)gs_calloc((size_t)pc->n_layers, sizeof *pc->layers);
    for (int j = 0; j < pc->n_layers; j++) plan_layer(p, j, &pc->layers[j].l);
    for (int j = 0; j < pc->n_layers; j++)
        if (pc->layers[j].l.kind == GS_PLAN_DW && pc->layers[j].l.Co % 4 != 0) {
            gs_error("inference plan on cuda: depthwise layer %s has %d channels, not a multiple of 4",
                     pc->layers[j].l.name, pc->layers[j].l.Co);
            free(pc->layers);
            free(pc);
            return NULL;
        }
    int nh = pc->m->n_nodes - pc->gap - 1;
    pc->head_out = (float **)gs_calloc((size_t)(nh > 0 ? nh : 1), sizeof(float *));
    pc->zero_labels = (int *)gs_calloc((size_t)a->batch, sizeof(int));
    if (gs_cuda_arena_init(&pc->mem, plan_cuda_memory(pc, 0)) != 0) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", gs_last_error());
        free(pc->layers);
        free(pc->head_out);
        free(pc->zero_labels);
        free(pc);
        gs_error("inference plan on cuda: %s", msg);
        return NULL;
    }
    plan_cuda_memory(pc, 1);
    for (int j = 0; j < pc->n_layers; j++) {
        const dev_layer *d = &pc->layers[j];
        size_t nw = layer_w_floats(&d->l);
        if (d->w16) {  // rounded on the host as the tests round (gesture/precision.h)
            uint16_t *h = (uint16_t *)gs_malloc(nw * sizeof(uint16_t));
            for (size_t i = 0; i < nw; i++) h[i] = gs_bf16_from_f32(d->l.w[i]);
            gs_cuda_upload(d->w16, h, nw * sizeof(uint16_t));
            free(h);
        } else {
            gs_cuda_upload(d->w, d->l.w, nw * sizeof(float));
        }
        gs_cuda_upload(d->bias, d->l.bias, (size_t)d->l.Co * sizeof(float));
    }
    const float *scale, *shift;
    plan_head_affine(p, &scale, &shift);
    gs_cuda_upload(pc->scale, scale, (size_t)pc->C * sizeof(float));
    gs_cuda_upload(pc->shift, shift, (size_t)pc->C * sizeof(float));
    if (pc->m->params.numel) gs_cuda_upload(pc->params, plan_params(p), pc->m->params.numel * sizeof(float));
    return pc;
}

extern "C" void cuda_plan_features(void *h, float *feat, const float *frames, int N) {
    plan_cuda *pc = (plan_cuda *)h;
    GS_ASSERT(N >= 1);
    for (int f0 = 0; f0 < N; f0 += pc->max_frames) {
        int n = N - f0 < pc->max_frames ? N - f0 : pc->max_frames;
        run_backbone(pc, pc->feat, frames + (size_t)f0 * pc->frame_floats, n);
        gs_cuda_download(feat + (size_t)f0 * pc->C, pc->feat, (size_t)n * pc->C * sizeof(float));
    }
}

extern "C" void cuda_plan_forward(void *h, float *probs, float loss[2], const float *clips, const int *labels, int B) {
    plan_cuda *pc = (plan_cuda *)h;
    const gs_model *m = pc->m;
    GS_ASSERT(B >= 1 && B <= m->cfg.batch);
    gs_cuda_upload(pc->labels, labels ? labels : pc->zero_labels, (size_t)B * sizeof(int));
    run_backbone(pc, pc->feat, clips, B * m->cfg.frames);
    run_head(pc, B);
    gs_cuda_download(probs, pc->head_out[m->n_nodes - pc->gap - 2], (size_t)B * m->cfg.classes * sizeof(float));
    if (!loss) return;
    loss[0] = 0.0f;
    if (labels) gs_cuda_download(&loss[0], pc->loss, sizeof(float));
    loss[1] = plan_l2_penalty(pc->plan);
}

extern "C" void cuda_plan_free(void *h) {
    plan_cuda *pc = (plan_cuda *)h;
    if (!pc) return;
    gs_cuda_arena_free(&pc->mem);
    free(pc->layers);
    free(pc->head_out);
    free(pc->zero_labels);
    free(pc);
}
