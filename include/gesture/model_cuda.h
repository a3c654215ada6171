// The model's forward/backward/Adam on the GPU: the walker (gesture/exec.h) over the same gs_model
// node list and memory plan as on the CPU, each node dispatched to its CUDA twin (ops_cuda.h). One device
// allocation holds an arena mirroring m->arena offsets (activations, saved tensors, activation
// gradients), the parameter buffer, gradients, Adam moments, labels and the loss scalars; a step
// allocates nothing (after a warm-up step has sized the op scratch). The host gs_model keeps the
// graph, the plan and the host copy of the parameters; its host arena is never allocated here.
// Only available when the library was built with the CUDA backend (GESTURE_WITH_CUDA).
#ifndef GESTURE_MODEL_CUDA_H
#define GESTURE_MODEL_CUDA_H

#ifdef __cplusplus
extern "C" {
#endif

#include "gesture/exec.h"
#include "gesture/model.h"
#include "gesture/ops_cuda.h"

struct gs_model_cuda_graph;  // captured train step + pinned step-state slots (exec_cuda.cu)

typedef struct {
    gs_exec e;          // first member: the walker's view (device arena, parameters, gradients, Adam
                        // moments, labels, loss scalars [0] mean CE [1] L2, device step state)
    gs_cuda_arena mem;  // the one device allocation behind e's pointers
    struct gs_model_cuda_graph *gx;  // graph and pinned state slots
    int use_graph;      // replay full-batch train steps as a CUDA graph (model_cuda_set_graph)
    int warm;           // a full-batch train step ran eagerly (the op scratch is sized)
    int bf16;           // the GEMMs on bf16 operands (model_cuda_set_precision)
    long graph_captures, graph_launches;  // counters for tests and bench
} gs_model_cuda;

// Device memory for m's plan + parameters; uploads the parameters and Adam moments. The backend
// must be initialized (gs_cuda_init). 0 ok, -1 + gs_error (out of device memory).
int model_cuda_init(gs_model_cuda *g, gs_model *m);
void model_cuda_free(gs_model_cuda *g);
// Host <-> device copies of parameters (incl. moving statistics) and Adam moments: after loading a
// checkpoint, before saving one. Synchronous.
void model_cuda_upload_params(gs_model_cuda *g);
void model_cuda_download_params(gs_model_cuda *g);

// Device pointer of the input (B,T,S,S,3) inside the device arena: fill it (upload) before forward.
float *model_cuda_input(gs_model_cuda *g);
// Upload `batch` labels (host ints) for the next forward.
void model_cuda_set_labels(gs_model_cuda *g, const int *labels, int batch);

// As model_forward / model_backward / model_adam_step (same step counters in m), queued on the
// compute stream; nothing is read back. A training forward and the Adam step each refresh the
// device step state first (dropout keys of the new m->step; the step size of the new m->adam_t).
void model_cuda_forward(gs_model_cuda *g, int batch, int training, int have_labels);
void model_cuda_backward(gs_model_cuda *g);
void model_cuda_adam_step(gs_model_cuda *g, float lr, float beta1, float beta2, float eps);

// One training step on the first `batch` clips whose input and labels are on the device: the same
// work and results as model_cuda_forward(training, labels) + model_cuda_backward +
// model_cuda_adam_step, queued. With use_graph, a full batch (batch == m->cfg.batch) replays one
// captured graph of the three (captured at the first full-batch step after an eager one, and again
// whenever the op scratch has moved); other batches run eagerly. Bitwise identical either way.
void model_cuda_train_step(gs_model_cuda *g, int batch, float lr, float beta1, float beta2, float eps);
// runtime.precision: bf16 = every GEMM of the steps queued from now on rounds its operands to bf16
// and accumulates in fp32 (gs_cuda_gemm_bf16); 0 = fp32 throughout (the default).
void model_cuda_set_precision(gs_model_cuda *g, int bf16);
// Turn graph replay on or off (off frees the captured graph).
void model_cuda_set_graph(gs_model_cuda *g, int on);

// Wait for the step and fill m->loss / ce_loss / l2_loss from the device scalars.
void model_cuda_read_loss(gs_model_cuda *g);
// Wait and copy the (batch,K) probabilities of the last forward to the host.
void model_cuda_read_probs(gs_model_cuda *g, float *probs, int batch);

// Hand the CUDA device (training backend, bench) to the core (gesture/device.h); the `gesture` binary
// calls this at start-up.
void gs_cuda_register(void);

#ifdef __cplusplus
}
#endif

#endif
