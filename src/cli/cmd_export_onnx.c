// `gesture export-onnx CHECKPOINT OUT.onnx [--frames N|dynamic]`: the inference model of a checkpoint
// as an ONNX file (opset 17) for ONNX Runtime, TensorRT, OpenVINO and mobile runtimes.
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_checkpoint.h"
#include "gesture/errors.h"
#include "gesture/onnx.h"

static const char *OPTIONS =
    "\nCHECKPOINT is a .h5 checkpoint or a run directory (its checkpoints/best.h5, else last.h5).\n"
    "\noptions:\n"
    "  --frames N        frames per clip of the input (default: the checkpoint's data.frames); the GRU\n"
    "                    runs over any count, so another N gives a model for longer or shorter clips\n"
    "  --frames dynamic  the frame count is a free dimension of the input, like the batch\n"
    "\nThe ONNX model (opset 17): input \"frames\" float (batch, T, S, S, 3), frames as gesture takes\n"
    "them (RGB, resized to SxS, scaled per data.normalize: unit = v/255, symmetric = v/127.5 - 1),\n"
    "batch dynamic; output \"probabilities\" float (batch, classes). Batch norms use the moving\n"
    "statistics, dropout is left out. The metadata holds the class names (JSON), normalize, size and\n"
    "frames, and data.frame_step / data.sampling. `gesture predict CKPT CLIPS --save-inputs X.npy`\n"
    "writes the exact input tensors gesture predicts from, to check the export elsewhere\n"
    "(scripts/check_onnx.py does it with ONNX Runtime).\n";

int cmd_export_onnx(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        cli_print_usage("export-onnx");
        fputs(OPTIONS, stdout);
        return 0;
    }
    const char *pos[2] = {NULL, NULL};
    int npos = 0, frames = -1;  // -1: the checkpoint's
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--frames")) {
            if (i + 1 < argc && !strcmp(argv[i + 1], "dynamic")) frames = 0;
            else if (i + 1 >= argc || cli_parse_int(argv[i + 1], 1, GS_MAX_FRAMES, &frames)) {
                fprintf(stderr, "gesture export-onnx: --frames wants an integer in [1, %d] or 'dynamic'\n",
                        GS_MAX_FRAMES);
                return 2;
            }
            i++;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "gesture export-onnx: unknown option '%s' (see gesture export-onnx --help)\n", argv[i]);
            return 2;
        } else if (npos == 2) {
            fprintf(stderr, "gesture export-onnx: expected CHECKPOINT and OUT.onnx, got a third argument '%s'\n",
                    argv[i]);
            return 2;
        } else {
            pos[npos++] = argv[i];
        }
    }
    if (npos != 2) {
        fprintf(stderr, "gesture export-onnx: expected CHECKPOINT and OUT.onnx "
                        "(e.g. gesture export-onnx runs/seed_15f/checkpoints/best.h5 best.onnx)\n");
        return 2;
    }
    char ckpt[PATH_MAX], run_dir[PATH_MAX];
    cli_inference_model im;
    FILE *quiet = fopen("/dev/null", "w");  // a checkpoint given by name needs no "using ..." line
    int rc = cli_resolve_checkpoint(ckpt, run_dir, sizeof ckpt, pos[0], "export-onnx", quiet ? quiet : stderr);
    if (quiet) fclose(quiet);
    if (rc != 0 || cli_inference_model_load(&im, ckpt, (cli_inference_overrides){1, -1, GS_INFERENCE_REFERENCE, -1}) != 0) {
        fprintf(stderr, "gesture export-onnx: %s\n", gs_last_error());
        return 1;
    }
    const gs_config *c = &im.cfg;
    if (frames < 0) frames = c->data.frames;
    char step[32];
    snprintf(step, sizeof step, "%d", c->data.frame_step);
    const char *keys[3] = {"frame_step", "sampling", "source"};
    const char *values[3] = {step, c->data.sampling == GS_SAMPLING_UNIFORM ? "uniform" : "stride", ckpt};
    gs_onnx_options o = {frames, (const char *const *)im.classes, im.n_classes,
                         c->data.normalize == GS_NORMALIZE_SYMMETRIC ? "symmetric" : "unit",
                         GESTURE_VERSION, keys, values, 3};
    if (onnx_export(&im.model, &o, pos[1]) != 0) {
        fprintf(stderr, "gesture export-onnx: %s\n", gs_last_error());
        cli_inference_model_free(&im);
        return 1;
    }
    char tdim[16];
    snprintf(tdim, sizeof tdim, "%d", frames);
    printf("%s -> %s: ONNX opset %d, input frames (batch, %s, %d, %d, 3) float [%s], output probabilities "
           "(batch, %d)\n",
           ckpt, pos[1], GS_ONNX_OPSET, frames ? tdim : "frames", c->data.size, c->data.size,
           c->data.normalize == GS_NORMALIZE_SYMMETRIC ? "v/127.5 - 1" : "v/255", c->model.classes);
    if (frames && frames != c->data.frames)
        printf("note: %d frames per clip; the model was trained on %d\n", frames, c->data.frames);
    cli_inference_model_free(&im);
    return 0;
}
