// Shared by `gesture eval` and `gesture predict`: a model rebuilt from a checkpoint for inference.
#ifndef GESTURE_CLI_CHECKPOINT_H
#define GESTURE_CLI_CHECKPOINT_H

#include <stddef.h>
#include <stdio.h>

#include "gesture/config.h"
#include "gesture/loader.h"
#include "gesture/model.h"
#include "gesture/plan.h"
#include "gesture/trainer.h"

typedef struct {
    gs_config cfg;   // the checkpoint's resolved config, with the overrides applied
    gs_model model;  // its architecture (batch = cfg.train.batch_size) with the stored weights
    char **classes;  // (n_classes) names in label order
    int n_classes;
    int threads;     // CPU threads in effect
    gs_plan *plan;   // the folded inference plan of `model` (runtime.inference = plan), else NULL
    gs_train_backend be;  // where eval_batch runs, once cli_inference_model_open_device succeeded
    int cuda_open;        // the GPU was opened for it (closed by cli_inference_model_free)
    gs_precision precision;  // what the forward passes run in (runtime.precision, or fp32 where the path has no bf16)
} cli_inference_model;

// Overrides of the checkpoint's config; batch 0, threads -1, inference and precision -1: the config's.
typedef struct {
    int batch, threads;
    int inference;  // a gs_inference
    int precision;  // a gs_precision
} cli_inference_overrides;

// Read ckpt's config, apply the overrides, build the model, load the weights only and, for
// inference = plan, build the plan from them. 0, or -1 + gs_error naming the checkpoint.
int cli_inference_model_load(cli_inference_model *im, const char *ckpt, cli_inference_overrides o);

// Where the forward passes run: device (a gs_device, or -1: the config's runtime.device) resolved
// and opened, and im->be set up on it: the plan or the reference executor, on the CPU or the GPU, in
// runtime.precision where that path has it (else fp32, after a line on stderr naming cmd).
// lc (or NULL): on the GPU, its batch slots are pinned for the uploads (free its loader before
// cli_inference_model_free, which closes the GPU). 0, or -1 + gs_error.
int cli_inference_model_open_device(cli_inference_model *im, const char *cmd, int device, gs_loader_config *lc);
// "--precision fp32|bf16" value -> *precision (a gs_precision). 0, or -1 after a message on stderr.
int cli_parse_precision(const char *cmd, const char *v, int *precision);
// "--device auto|cpu|cuda" value -> *device (a gs_device). 0, or -1 after a message on stderr.
int cli_parse_device(const char *cmd, const char *v, int *device);

// "--inference plan|reference" value -> *inference (a gs_inference). 0, or -1 after a message on
// stderr naming the command.
int cli_parse_inference(const char *cmd, const char *v, int *inference);
// The inference a command runs, for its banner: "plan (avx2 kernels)", "plan (cuda)" or "reference".
const char *cli_inference_name(const cli_inference_model *im);
void cli_inference_model_free(cli_inference_model *im);

// RUN_DIR or CHECKPOINT -> the checkpoint file (RUN_DIR/checkpoints/best.h5, else last.h5) and the
// folder outputs go under (the run directory; for a checkpoint outside <run>/checkpoints/, its own
// folder); says on `say` which file it picked ("gesture <cmd>: using ..."). ckpt and out_dir hold
// n bytes. 0 or -1 + gs_error.
int cli_resolve_checkpoint(char *ckpt, char *out_dir, size_t n, const char *target, const char *cmd, FILE *say);

// Parse a whole-string integer in [lo, hi]; 0 ok, -1 otherwise.
int cli_parse_int(const char *s, int lo, int hi, int *v);

#endif
