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
#include "gesture/rng.h"
#include "gesture/runtime.h"

int cmd_bench(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        cli_print_usage("bench");
        printf("\nOptions:\n  --steps N      timed steps per phase (default 5; 1 warm-up step first)\n"
               "  --set k=v      config override, e.g. --set runtime.threads=2\n"
               "                 (--set runtime.device=cuda benches the GPU backend; auto benches the CPU)\n"
               "  --profile      also print where the time goes, per op type (CPU)\n"
               "Prints one line per phase: img/s and ms per step (B*T images per step).\n");
        return 0;
    }
    const char *path = NULL;
    int steps = 5, profile = 0;
    gs_config cfg;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--set") || !strcmp(argv[i], "--steps")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "gesture bench: %s needs a value\n", argv[i]);
                return 2;
            }
            if (!strcmp(argv[i], "--steps")) {
                char *end;
                steps = (int)strtol(argv[i + 1], &end, 10);
                if (*end || steps < 1) {
                    fprintf(stderr, "gesture bench: --steps wants a positive integer, got '%s'\n", argv[i + 1]);
                    return 2;
                }
            }
            i++;
        } else if (!strcmp(argv[i], "--profile")) {
            profile = 1;
        } else if (argv[i][0] == '-' || path) {
            fprintf(stderr, "gesture bench: unexpected argument '%s' (see gesture bench --help)\n", argv[i]);
            return 2;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        fprintf(stderr, "gesture bench: missing CONFIG.ini (e.g. gesture bench experiments/seed_15f.ini)\n");
        return 2;
    }
    if (cli_load_config(&cfg, path, argc, argv)) goto config_error;
    if (cfg.runtime.device == GS_DEVICE_CUDA) {  // auto benches the CPU
        const gs_device_backend *gpu = device_gpu();
        if (gpu) return gpu->bench(&cfg, steps);
        fprintf(stderr, "gesture: runtime.device=cuda, but this binary was built without the CUDA backend "
                        "(configure with -DGESTURE_CUDA=ON)\n");
        return 1;
    }

    int threads = runtime_set_threads(cfg.runtime.threads);
    gs_model_arch arch;
    model_arch_from_config(&arch, &cfg);
    gs_model m;
    if (model_init(&m, &arch)) {
        fprintf(stderr, "gesture: %s\n", gs_last_error());
        return 1;
    }
    model_init_weights(&m, cfg.train.seed);
    gs_rng rng;
    gs_rng_seed(&rng, 1);
    float *x = model_input(&m);
    size_t n = (size_t)arch.batch * arch.frames * arch.size * arch.size * 3;
    for (size_t i = 0; i < n; i++) x[i] = gs_rng_uniform(&rng);
    for (int b = 0; b < arch.batch; b++) m.labels[b] = b % arch.classes;
    int images = arch.batch * arch.frames;
    printf("gesture bench: alpha %.2f S %d T %d B %d (%d images/step), %d threads, cpu\n", arch.alpha, arch.size,
           arch.frames, arch.batch, images, threads);
    for (int phase = 0; phase < 2; phase++) {
        double t0 = 0;
        for (int s = 0; s <= steps; s++) {
            if (s == 1) t0 = runtime_now();  // step 0 warms caches and pages
            if (phase == 0) {
                model_forward(&m, arch.batch, 1, 1);
                model_backward(&m);
                model_adam_step(&m, (float)cfg.train.learning_rate, (float)cfg.train.beta1, (float)cfg.train.beta2,
                                (float)cfg.train.epsilon);
            } else {
                model_forward(&m, arch.batch, 0, 0);
            }
        }
        double dt = (runtime_now() - t0) / steps;
        printf("%-10s %10.1f img/s %10.1f ms/step\n", phase == 0 ? "train" : "inference", images / dt, dt * 1e3);
    }
    if (profile) {  // a separate pass, so the timers do not touch the numbers above
        m.profile = 1;
        double adam = 0;
        for (int s = 0; s < steps; s++) {
            model_forward(&m, arch.batch, 1, 1);
            model_backward(&m);
            double t0 = runtime_now();
            model_adam_step(&m, (float)cfg.train.learning_rate, (float)cfg.train.beta1, (float)cfg.train.beta2,
                            (float)cfg.train.epsilon);
            adam += runtime_now() - t0;
        }
        printf("\nwhere a training step's time goes (%d steps):\n", steps);
        model_print_profile(&m, stdout);
        printf("%-24s %10.3f\n", "Adam (all parameters)", adam);
    }
    model_free(&m);
    return 0;

config_error:
    fprintf(stderr, "gesture: %s\n", gs_last_error());
    return 1;
}
