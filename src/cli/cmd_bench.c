// `gesture bench CONFIG.ini`: training-step and inference throughput of the model a config describes,
// on random inputs (no data set needed). benchmarks/run_cpu.sh sets it beside the PyTorch peer.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gesture/config.h"
#include "gesture/device.h"
#include "gesture/errors.h"
#include "gesture/model.h"
#include "gesture/progress.h"
#include "gesture/rng.h"
#include "gesture/runtime.h"

// What the command line asked for (--set overrides are read again by cli_load_config).
typedef struct {
    const char *path;  // CONFIG.ini
    int steps, profile;
} bench_options;

// argv -> options. 0, or -1 after a message on stderr (exit code 2).
static int bench_parse_args(bench_options *o, int argc, char **argv) {
    *o = (bench_options){.steps = 5};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--set") || !strcmp(argv[i], "--steps")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "gesture bench: %s needs a value\n", argv[i]);
                return -1;
            }
            if (!strcmp(argv[i], "--steps")) {
                char *end;
                o->steps = (int)strtol(argv[i + 1], &end, 10);
                if (*end || o->steps < 1) {
                    fprintf(stderr, "gesture bench: --steps wants a positive integer, got '%s'\n", argv[i + 1]);
                    return -1;
                }
            }
            i++;
        } else if (!strcmp(argv[i], "--profile")) {
            o->profile = 1;
        } else if (argv[i][0] == '-' || o->path) {
            fprintf(stderr, "gesture bench: unexpected argument '%s' (see gesture bench --help)\n", argv[i]);
            return -1;
        } else {
            o->path = argv[i];
        }
    }
    if (!o->path) {
        fprintf(stderr, "gesture bench: missing CONFIG.ini (e.g. gesture bench experiments/seed_15f.ini)\n");
        return -1;
    }
    return 0;
}

// Random inputs and labels: the timings do not depend on what the clips show.
static void bench_fill_inputs(gs_model *m) {
    const gs_model_arch *arch = &m->cfg;
    gs_rng rng;
    gs_rng_seed(&rng, 1);
    float *x = model_input(m);
    size_t n = (size_t)arch->batch * arch->frames * arch->size * arch->size * 3;
    for (size_t i = 0; i < n; i++) x[i] = gs_rng_uniform(&rng);
    for (int b = 0; b < arch->batch; b++) m->labels[b] = b % arch->classes;
}

static void bench_adam_step(gs_model *m, const gs_config *cfg) {
    model_adam_step(m, (float)cfg->train.learning_rate, (float)cfg->train.beta1, (float)cfg->train.beta2,
                    (float)cfg->train.epsilon);
}

// One line per phase (train step, inference): images per second and milliseconds per step.
static void bench_time_phases(gs_model *m, const gs_config *cfg, int batch, int images, int steps) {
    for (int phase = 0; phase < 2; phase++) {
        double t0 = 0;
        gs_progress bar;
        progress_begin(&bar, phase == 0 ? "bench: train steps" : "bench: inference steps", steps + 1);
        for (int s = 0; s <= steps; s++, progress_add(&bar, 1)) {
            if (s == 1) t0 = runtime_now();  // step 0 warms caches and pages
            if (phase == 0) {
                model_forward(m, batch, 1, 1);
                model_backward(m);
                bench_adam_step(m, cfg);
            } else {
                model_forward(m, batch, 0, 0);
            }
        }
        double dt = (runtime_now() - t0) / steps;
        progress_end(&bar);
        printf("%-10s %10.1f img/s %10.1f ms/step\n", phase == 0 ? "train" : "inference", images / dt, dt * 1e3);
    }
}

// Where a training step's time goes, per op type. A separate pass, so the timers do not touch the
// throughput numbers.
static void bench_print_profile(gs_model *m, const gs_config *cfg, int batch, int steps) {
    m->profile = 1;
    double adam = 0;
    gs_progress bar;
    progress_begin(&bar, "bench: profiled steps", steps);
    for (int s = 0; s < steps; s++, progress_add(&bar, 1)) {
        model_forward(m, batch, 1, 1);
        model_backward(m);
        double t0 = runtime_now();
        bench_adam_step(m, cfg);
        adam += runtime_now() - t0;
    }
    progress_end(&bar);
    printf("\nwhere a training step's time goes (%d steps):\n", steps);
    model_print_profile(m, stdout);
    printf("%-24s %10.3f\n", "Adam (all parameters)", adam);
}

// The CPU benchmark of cfg's model; returns the exit code.
static int bench_cpu(const gs_config *cfg, const bench_options *o) {
    int threads = runtime_set_threads(cfg->runtime.threads);
    gs_model m;
    if (model_init_from_config(&m, cfg)) {
        fprintf(stderr, "gesture: %s\n", gs_last_error());
        return 1;
    }
    bench_fill_inputs(&m);
    const gs_model_arch *arch = &m.cfg;
    int images = arch->batch * arch->frames;
    printf("gesture bench: alpha %.2f S %d T %d B %d (%d images/step), %d threads, cpu\n", arch->alpha, arch->size,
           arch->frames, arch->batch, images, threads);
    bench_time_phases(&m, cfg, arch->batch, images, o->steps);
    if (o->profile) bench_print_profile(&m, cfg, arch->batch, o->steps);
    model_free(&m);
    return 0;
}

int cmd_bench(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        cli_print_usage("bench");
        printf("\nOptions:\n  --steps N      timed steps per phase (default 5; 1 warm-up step first)\n"
               "  --set k=v      config override, e.g. --set runtime.threads=2\n"
               "                 (--set runtime.device=cuda benches the GPU backend; auto benches the CPU)\n"
               "  --profile      also print where the time goes, per op type (CPU)\n"
               "Prints one line per phase: img/s and ms per step (B*T images per step); the steps are\n"
               "counted on stderr as they run (CPU).\n");
        return 0;
    }
    bench_options o;
    if (bench_parse_args(&o, argc, argv) != 0) return 2;
    gs_config cfg;
    if (cli_load_config(&cfg, o.path, argc, argv)) {
        fprintf(stderr, "gesture: %s\n", gs_last_error());
        return 1;
    }
    if (cfg.runtime.device != GS_DEVICE_CUDA) return bench_cpu(&cfg, &o);  // auto benches the CPU
    const gs_device_backend *gpu = device_gpu();
    if (gpu) return gpu->bench(&cfg, o.steps);
    fprintf(stderr, "gesture: runtime.device=cuda, but this binary was built without the CUDA backend "
                    "(configure with -DGESTURE_CUDA=ON)\n");
    return 1;
}
