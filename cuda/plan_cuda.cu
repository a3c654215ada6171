// The folded inference plan (gesture/plan.h) on the GPU: predict, eval and stream on `--device cuda`
// with runtime.inference = plan. The CPU folds the model once (batch norm into the convolutions'
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
}

// Device floats the backbone's buffers and input frames may take (1 GiB): the chunk of frames that
// go through each layer together is the most that fits, at least one.
#define PLAN_CHUNK_FLOATS ((size_t)256 << 20)
#define PLAN_THREADS 256

typedef struct {
    gs_plan_layer l;       // host view (its w and bias point into the host plan)
    float *w, *bias;       // device copies
} dev_layer;

typedef struct {
    const gs_plan *plan;
    const gs_model *m;
    int n_layers, n_slots, gap, C, chunk, max_frames;
    size_t frame_floats;   // S*S*3
    dev_layer *layers;
    gs_cuda_arena mem;
    float *slots[16];      // (chunk, slot floats) each
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

// out = act(conv(inp, w) + bias) for a KxK conv (the stem: few input channels): one thread per
// output value, the input taps clipped at the border.
__global__ void plan_conv_kernel(float *out, const float *inp, const float *w, const float *bias, int N, int H, int W,
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
                const float *xp = inp + (((size_t)n * H + h) * W + ww) * Ci;
                const float *wp = w + ((size_t)(ky * K + kx) * Ci) * Co + co;
                for (int ci = 0; ci < Ci; ci++) acc += xp[ci] * wp[(size_t)ci * Co];
            }
        }
        out[i] = plan_act_dev(acc + bias[co], act);
    }
}

// out = act(depthwise(inp, w) + bias): one thread per output pixel and 4 channels, float4 loads (the
// model's channel counts are multiples of 8 at every alpha: plan_cuda_init checks it).
__global__ void plan_dw_kernel(float *out, const float *inp, const float *w, const float *bias, int N, int H, int W,
                               int C, int Ho, int Wo, int K, int stride, int pad_top, int pad_left, int act) {
    const int CV = C / 4;
    size_t total = (size_t)N * Ho * Wo * CV;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        int c = (int)(i % CV) * 4;
        size_t pix = i / CV;
        int x = (int)(pix % Wo), y = (int)((pix / Wo) % Ho), n = (int)(pix / ((size_t)Wo * Ho));
        float4 acc = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        for (int ky = 0; ky < K; ky++) {
            int h = y * stride - pad_top + ky;
            if (h < 0 || h >= H) continue;
            for (int kx = 0; kx < K; kx++) {
                int ww = x * stride - pad_left + kx;
                if (ww < 0 || ww >= W) continue;
                float4 a = *reinterpret_cast<const float4 *>(inp + (((size_t)n * H + h) * W + ww) * C + c);
                float4 b = *reinterpret_cast<const float4 *>(w + (size_t)(ky * K + kx) * C + c);
                acc.x += a.x * b.x;
                acc.y += a.y * b.y;
                acc.z += a.z * b.z;
                acc.w += a.w * b.w;
            }
        }
        const float *bc = bias + c;
        *reinterpret_cast<float4 *>(out + pix * C + c) =
            make_float4(plan_act_dev(acc.x + bc[0], act), plan_act_dev(acc.y + bc[1], act),
                        plan_act_dev(acc.z + bc[2], act), plan_act_dev(acc.w + bc[3], act));
    }
}

// The 1x1 conv's epilogue after its GEMM: out = act(out + bias) + res (res NULL: none).
__global__ void plan_pw_epilogue_kernel(float *out, const float *bias, const float *res, size_t M, int Co, int act) {
    size_t total = M * Co;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        float v = plan_act_dev(out[i] + bias[i % Co], act);
        out[i] = res ? v + res[i] : v;
    }
}

// feat[n,c] = mean over the HW pixels * scale[c] + shift[c]: one thread per (frame, channel),
// neighbouring threads on neighbouring channels; summed in pixel order in float, as the CPU plan.
__global__ void plan_pool_kernel(float *feat, const float *inp, const float *scale, const float *shift, int N, int HW,
                                 int C) {
    size_t total = (size_t)N * C;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        size_t n = i / C;
        int c = (int)(i % C);
        const float *x = inp + n * HW * C + c;
        float s = 0.0f;
        for (int q = 0; q < HW; q++) s += x[(size_t)q * C];
        feat[i] = s / (float)HW * scale[c] + shift[c];
    }
}

static size_t layer_w_floats(const gs_plan_layer *l) {
    return (size_t)l->K * l->K * (l->kind == GS_PLAN_DW ? 1 : l->Ci) * l->Co;
}

// One layer over n frames.
static void run_layer(plan_cuda *pc, const dev_layer *d, int n) {
    const gs_plan_layer *l = &d->l;
    const float *in = l->in < 0 ? pc->frames : pc->slots[l->in];
    float *out = pc->slots[l->out];
    cudaStream_t st = gs_cuda_stream();
    size_t pix = (size_t)n * l->Ho * l->Wo;
    switch (l->kind) {
    case GS_PLAN_CONV:
        plan_conv_kernel<<<gs_cuda_blocks(pix * l->Co, PLAN_THREADS), PLAN_THREADS, 0, st>>>(
            out, in, d->w, d->bias, n, l->H, l->W, l->Ci, l->Ho, l->Wo, l->Co, l->K, l->stride, l->pad_top,
            l->pad_left, l->act);
        GS_CUDA_OP_DONE("plan_conv_kernel");
        break;
    case GS_PLAN_DW:
        plan_dw_kernel<<<gs_cuda_blocks(pix * l->Co / 4, PLAN_THREADS), PLAN_THREADS, 0, st>>>(
            out, in, d->w, d->bias, n, l->H, l->W, l->Co, l->Ho, l->Wo, l->K, l->stride, l->pad_top, l->pad_left,
            l->act);
        GS_CUDA_OP_DONE("plan_dw_kernel");
        break;
    case GS_PLAN_PW:
        gs_cuda_gemm_rm(0, 0, (int)pix, l->Co, l->Ci, 1.0f, in, l->Ci, d->w, l->Co, 0.0f, out, l->Co);
        plan_pw_epilogue_kernel<<<gs_cuda_blocks(pix * l->Co, PLAN_THREADS), PLAN_THREADS, 0, st>>>(
            out, d->bias, l->res >= 0 ? pc->slots[l->res] : NULL, pix, l->Co, l->act);
        GS_CUDA_OP_DONE("plan 1x1 conv (GEMM + epilogue)");
        break;
    default: gs_fatal("plan on cuda: layer %s has an unknown kind %d", l->name, l->kind);
    }
}

// Features of N host frames into feat (device, (N,C)), chunk by chunk.
static void run_backbone(plan_cuda *pc, float *feat, const float *frames, int N) {
    const gs_plan_layer *last = &pc->layers[pc->n_layers - 1].l;
    int HW = last->Ho * last->Wo;
    for (int f0 = 0; f0 < N; f0 += pc->chunk) {
        int n = N - f0 < pc->chunk ? N - f0 : pc->chunk;
        gs_cuda_upload(pc->frames, frames + (size_t)f0 * pc->frame_floats, (size_t)n * pc->frame_floats * sizeof(float));
        for (int j = 0; j < pc->n_layers; j++) run_layer(pc, &pc->layers[j], n);
        plan_pool_kernel<<<gs_cuda_blocks((size_t)n * pc->C, PLAN_THREADS), PLAN_THREADS, 0, gs_cuda_stream()>>>(
            feat + (size_t)f0 * pc->C, pc->slots[last->out], pc->scale, pc->shift, n, HW, pc->C);
        GS_CUDA_OP_DONE("plan_pool_kernel");
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
    auto take = [&](size_t floats) -> float * {
        size_t bytes = gs_cuda_align(floats * sizeof(float));
        total += bytes;
        return carve ? (float *)gs_cuda_arena_alloc(&pc->mem, bytes) : NULL;
    };
    for (int j = 0; j < pc->n_layers; j++) {
        pc->layers[j].w = take(layer_w_floats(&pc->layers[j].l));
        pc->layers[j].bias = take((size_t)pc->layers[j].l.Co);
    }
    for (int s = 0; s < pc->n_slots; s++) pc->slots[s] = take(plan_slot_floats(pc->plan, s) * pc->chunk);
    pc->frames = take(pc->frame_floats * pc->chunk);
    pc->feat = take((size_t)pc->max_frames * pc->C);
    pc->scale = take((size_t)pc->C);
    pc->shift = take((size_t)pc->C);
    pc->params = take(m->params.numel ? m->params.numel : 1);
    for (int i = pc->gap + 1; i < m->n_nodes; i++) {
        const gs_node *n = &m->nodes[i];
        float *o = n->op == NODE_DROPOUT ? NULL : take((size_t)n->shape[0] * n->shape[1]);
        if (carve)
            pc->head_out[i - pc->gap - 1] =
                n->op == NODE_DROPOUT ? (n->in[0] == pc->gap ? pc->feat : pc->head_out[n->in[0] - pc->gap - 1]) : o;
    }
    pc->gru_cache = take(2 * gru_cache_floats(a->batch, a->frames, a->gru_units));
    pc->labels = (int *)take((size_t)a->batch);
    pc->loss = take(1);
    return total;
}

extern "C" void *cuda_plan_init(const gs_plan *p) {
    plan_cuda *pc = (plan_cuda *)gs_calloc(1, sizeof *pc);
    pc->plan = p;
    pc->m = plan_model(p);
    const gs_model_arch *a = &pc->m->cfg;
    pc->n_layers = plan_layer_count(p);
    pc->n_slots = plan_slot_count(p);
    GS_ASSERT(pc->n_slots <= (int)(sizeof pc->slots / sizeof pc->slots[0]) && pc->n_layers > 0);
    pc->gap = plan_pool_node(p);
    pc->C = plan_feature_width(p);
    pc->frame_floats = (size_t)a->size * a->size * 3;
    pc->max_frames = a->batch * a->frames;
    size_t per_frame = pc->frame_floats;
    for (int s = 0; s < pc->n_slots; s++) per_frame += plan_slot_floats(p, s);
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
        const gs_plan_layer *l = &pc->layers[j].l;
        gs_cuda_upload(pc->layers[j].w, l->w, layer_w_floats(l) * sizeof(float));
        gs_cuda_upload(pc->layers[j].bias, l->bias, (size_t)l->Co * sizeof(float));
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
