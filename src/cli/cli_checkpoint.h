// Shared by `gesture eval` and `gesture predict`: a model rebuilt from a checkpoint for inference.
#ifndef GESTURE_CLI_CHECKPOINT_H
#define GESTURE_CLI_CHECKPOINT_H

#include <stddef.h>
#include <stdio.h>

#include "gesture/config.h"
#include "gesture/model.h"

typedef struct {
    gs_config cfg;   // the checkpoint's resolved config, with the overrides applied
    gs_model model;  // its architecture (batch = cfg.train.batch_size) with the stored weights
    char **classes;  // (n_classes) names in label order
    int n_classes;
    int threads;     // CPU threads in effect
} cli_inference_model;

// Read ckpt's config, apply batch (> 0) and threads (>= 0) overrides, build the model and load the
// weights only. 0, or -1 + gs_error naming the checkpoint.
int cli_inference_model_load(cli_inference_model *im, const char *ckpt, int batch, int threads);
void cli_inference_model_free(cli_inference_model *im);

// RUN_DIR or CHECKPOINT -> the checkpoint file (RUN_DIR/checkpoints/best.h5, else last.h5) and the
// folder outputs go under (the run directory; for a checkpoint outside <run>/checkpoints/, its own
// folder); says on `say` which file it picked ("gesture <cmd>: using ..."). ckpt and out_dir hold
// n bytes. 0 or -1 + gs_error.
int cli_resolve_checkpoint(char *ckpt, char *out_dir, size_t n, const char *target, const char *cmd, FILE *say);

// Parse a whole-string integer in [lo, hi]; 0 ok, -1 otherwise.
int cli_parse_int(const char *s, int lo, int hi, int *v);

#endif
