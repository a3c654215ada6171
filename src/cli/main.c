// `gesture` CLI entry: dispatches to subcommands (src/cli/cmd_*.c).
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "gesture/config.h"
#include "gesture/dist.h"
#ifdef GESTURE_WITH_CUDA
#include "gesture/model_cuda.h"
#endif

static const cli_command COMMANDS[] = {
    {"synth", cmd_synth, "OUT [--clips-per-class N] [--frames 30] [--seed S] [options]",
     "Write a synthetic 5-class gesture video set (Kaggle CSV-index layout) for quickstart and tests."},
    {"synth-long", cmd_synth_long, "OUT.mp4 [--gestures N] [--size WxH] [--fps F] [--idle S] [--seed S]",
     "Write one long video of synthetic gestures between idle scenes, with the ground truth in OUT.csv."},
    {"prepare", cmd_prepare, "RAW OUT [--split seed|fraction] [--seed S] [--copy] [options]",
     "Split raw gesture clips into train/val/test folders with a manifest and class-distribution report."},
    {"summary", cmd_summary, "CONFIG.ini [--set section.key=value]...",
     "Print the model's layer table (output shapes, parameter counts) like Keras' model.summary()."},
    {"train", cmd_train, "CONFIG.ini [--set section.key=value]... [--run-dir D] | --resume D",
     "Train a model from a config into runs/<name>/ (logs, checkpoints, plots); Ctrl-C saves, --resume continues."},
    {"eval", cmd_eval, "RUN_DIR|CHECKPOINT [--split test|val|train] [--data ROOT] [--batch N] [--no-plots]",
     "Score a trained model on a data split: loss, accuracy, classification report, confusion matrix, plots."},
    {"predict", cmd_predict, "CHECKPOINT|RUN_DIR CLIP_DIR|VIDEO... [--windows [--hop N]] [--json]",
     "Predict the gesture of clip folders (PNG or JPEG frames; or folders of them) or video files: label and class probabilities."},
    {"stream", cmd_stream, "CHECKPOINT|RUN_DIR VIDEO|/dev/videoN|- [--hop N] [--events-only] [--on-event CMD] [--annotate OUT.mp4]",
     "Live recognition on a video file, camera or raw stdin: per-window probabilities and gesture events (JSON lines)."},
    {"compare", cmd_compare, "RUN_DIR RUN_DIR... [--out DIR] [--no-plots]",
     "Compare training runs side by side (best val accuracy/loss, test accuracy, speed) with overlaid curves."},
    {"bench", cmd_bench, "CONFIG.ini [--steps N] [--set section.key=value]...",
     "Measure training-step and inference throughput (img/s) of a config's model on random inputs."},
    {"info", cmd_info, "",
     "Print build and machine facts: CUDA backend built, CUDA devices (name of device 0), OpenMP threads."},
    {"import-keras", cmd_import_keras, "FILE.keras|FILE.h5 OUT.h5|--run-dir D [--config FILE.ini] [--set section.key=value]... [--classes A,B,...]",
     "Import a Keras .keras model (-> checkpoint) or MobileNetV2 ImageNet .h5 weights (-> checked backbone file)."},
    {"export-keras", cmd_export_keras, "CHECKPOINT|RUN_DIR OUT.keras|OUT.weights.h5 [--with-optimizer]",
     "Write a checkpoint as a Keras 3 model (.keras, keras.models.load_model) or its weights (.weights.h5)."},
    {"export-onnx", cmd_export_onnx, "CHECKPOINT|RUN_DIR OUT.onnx [--frames N|dynamic]",
     "Write a checkpoint's inference model as ONNX (opset 17, dynamic batch) for ONNX Runtime, TensorRT, ..."},
};
static const int N_COMMANDS = (int)(sizeof COMMANDS / sizeof COMMANDS[0]);

void cli_json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch == '\n') fputs("\\n", f);
        else if (ch == '\t') fputs("\\t", f);
        else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
        else fputc(ch, f);
    }
    fputc('"', f);
}

int cli_wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return 1;
    return 0;
}

void cli_print_usage(const char *name) {
    for (int i = 0; i < N_COMMANDS; i++)
        if (!strcmp(COMMANDS[i].name, name))
            printf("usage: gesture %s %s\n\n%s\n", name, COMMANDS[i].usage, COMMANDS[i].help);
}

int cli_load_config(gs_config *cfg, const char *path, int argc, char **argv) {
    config_defaults(cfg);
    if (path && config_load(cfg, path)) return -1;
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--set") && config_set(cfg, argv[++i])) return -1;
    return config_validate(cfg);
}

static void print_main_help(FILE *f) {
    fprintf(f,
            "gesture: train, evaluate and run MobileNetV2 + BiGRU hand-gesture classifiers.\n\n"
            "usage: gesture <command> [args]   (gesture <command> --help or gesture help <command> for details;\n"
            "       gesture --version)\n\ncommands:\n");
    for (int i = 0; i < N_COMMANDS; i++) fprintf(f, "  %-14s %s\n", COMMANDS[i].name, COMMANDS[i].help);
}

// argv[0] names the subcommand. Under mpirun/srun with several ranks only `gesture train` (data-parallel)
// and `gesture info` run: any other command would run N times over the same files.
static int run_command(int argc, char **argv) {
    char var[128];
    int ranks = dist_launch_size(var, sizeof var);
    if (ranks > 1 && strcmp(argv[0], "train") && strcmp(argv[0], "info") && !cli_wants_help(argc, argv)) {
        for (int i = 0; i < N_COMMANDS; i++)
            if (!strcmp(argv[0], COMMANDS[i].name)) {
                fprintf(stderr, "gesture %s: launched as one of %d ranks (%s): only gesture train runs data-parallel; "
                                "run gesture %s as one process, without mpirun/srun\n", argv[0], ranks, var, argv[0]);
                return 2;
            }
    }
    for (int i = 0; i < N_COMMANDS; i++)
        if (!strcmp(argv[0], COMMANDS[i].name)) return COMMANDS[i].run(argc, argv);
    fprintf(stderr, "gesture: unknown command '%s' (run 'gesture --help' for the list)\n", argv[0]);
    return 2;
}

int main(int argc, char **argv) {
#ifdef GESTURE_WITH_CUDA
    gs_cuda_register();  // the core reaches the GPU through gesture/device.h only
#endif
    if (argc >= 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version"))) {
        printf("gesture %s\n", GESTURE_VERSION);
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "help")) {  // `gesture help train` = `gesture train --help`
        static char help_flag[] = "--help";
        char *sub[] = {argv[2], help_flag, NULL};
        return run_command(2, sub);
    }
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        print_main_help(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    return run_command(argc - 1, argv + 1);
}
