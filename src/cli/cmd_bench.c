// `gesture bench CONFIG.ini`: training-step and inference throughput of the model a config describes,
// on random inputs (no data set needed). benchmarks/run_peers.sh sets it beside PyTorch, ONNX Runtime,
// OpenVINO and TensorFlow/Keras (--settle: the peers' timing rule, benchmarks/peer_common.py).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gesture/precision.h"
#include "gesture/config.h"
#include "gesture/device.h"
#include "gesture/errors.h"
#include "gesture/model.h"
#include "gesture/plan.h"
#include "gesture/progress.h"
#include "gesture/rng.h"
#include "gesture/runtime.h"

// What the command line asked for (--set overrides are read again by cli_load_config).
typedef struct {
    const char *path;  // CONFIG.ini
    int steps, profile, settle, max_warm;
} bench_options;

// argv -> options. 0, or -1 after a message on stderr (exit code 2).
static int bench_parse_args(bench_options *o, int argc, char **argv) {
    *o = (bench_options){.steps = 5, .max_warm = 30};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--set") || !strcmp(argv[i], "--steps") || !strcmp(argv[i], "--max-warm")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "gesture bench: %s needs a value\n", argv[i]);
                return -1;
            }
            if (strcmp(argv[i], "--set")) {
                char *end;
                long v = strtol(argv[i + 1], &end, 10);
                if (*end || v < 1 || v > 100000) {
                    fprintf(stderr, "gesture bench: %s wants a positive integer, got '%s'\n", argv[i], argv[i + 1]);
                    return -1;
                }
                *(!strcmp(argv[i], "--steps") ? &o->steps : &o->max_warm) = (int)v;
            }
            i++;
        } else if (!strcmp(argv[i], "--profile")) {
            o->profile = 1;
        } else if (!strcmp(argv[i], "--settle")) {
            o->settle = 1;
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

// --settle: warm-up steps until the last BENCH_SETTLE_WINDOW step times are within 5% of each other
// (at most --max-warm), then the median of the timed steps (benchmarks/peer_common.py's rule).
enum { BENCH_SETTLE_WINDOW = 3 };

static int bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// Seconds per step of `steps` timed steps after one warm-up step (their mean), or with settle after
// a settled warm-up (their median; *warm = warm-up steps, negative when it did not settle), counted
// on stderr under `label`. what: 0 train step, 1 reference inference, 2 plan inference of `batch` clips.
static double bench_steps(gs_model *m, gs_plan *plan, const gs_config *cfg, int what, int batch, int steps,
                          int settle, int max_warm, int *warm, const char *label) {
    gs_progress bar;
    progress_begin(&bar, label, steps + (settle ? BENCH_SETTLE_WINDOW : 1));
    float *probs = gs_malloc(sizeof(float) * (size_t)batch * m->cfg.classes);
    double *times = gs_malloc(sizeof(double) * (size_t)(steps + max_warm + 1));
    int n = 0, warmed = settle ? -1 : 1;
    while (n < steps + (warmed < 0 ? max_warm : warmed)) {
        double t0 = runtime_now();
        if (what == 0) {
            model_forward(m, batch, 1, 1);
            model_backward(m);
            bench_adam_step(m, cfg);
        } else if (what == 1) {
            model_forward(m, batch, 0, 0);
        } else {
            plan_forward(plan, probs, NULL, model_input(m), NULL, batch);
        }
        times[n++] = runtime_now() - t0;
        progress_add(&bar, 1);
        if (warmed < 0 && n >= BENCH_SETTLE_WINDOW && n <= max_warm) {  // past max_warm the timed steps run
            double lo = times[n - 1], hi = times[n - 1];
            for (int i = n - BENCH_SETTLE_WINDOW; i < n; i++) {
                lo = times[i] < lo ? times[i] : lo;
                hi = times[i] > hi ? times[i] : hi;
            }
            if (hi <= 1.05 * lo) warmed = n;
        }
    }
    if (warmed < 0) warmed = -max_warm;  // did not settle: the last `steps` are timed anyway
    int first = n - steps;
    double dt = 0;
    if (settle) {
        qsort(times + first, (size_t)steps, sizeof(double), bench_cmp_double);
        dt = steps % 2 ? times[first + steps / 2] : 0.5 * (times[first + steps / 2 - 1] + times[first + steps / 2]);
    } else {
        for (int i = first; i < n; i++) dt += times[i];
        dt /= steps;
    }
    free(times);
    free(probs);
    progress_end(&bar);
    if (warm) *warm = warmed;
    return dt;
}

// The " warm N" suffix of a --settle line ("" without --settle).
static const char *bench_warm_note(char *buf, size_t size, int settle, int warm) {
    if (!settle) return "";
    snprintf(buf, size, "   warm %d%s", warm < 0 ? -warm : warm, warm < 0 ? " unsettled" : "");
    return buf;
}

// One line per phase: the train step, inference as runtime.inference runs it, inference on the other
// path, and the plan's latency for a single clip: images per second and milliseconds per step.
static void bench_time_phases(gs_model *m, gs_plan *plan, const gs_config *cfg, int batch, int images,
                              const bench_options *o) {
    int warm;
    char note[48];
    double dt = bench_steps(m, plan, cfg, 0, batch, o->steps, o->settle, o->max_warm, &warm, "bench: train steps");
    printf("%-14s %10.1f img/s %10.1f ms/step%s\n", "train", images / dt, dt * 1e3,
           bench_warm_note(note, sizeof note, o->settle, warm));
    fflush(stdout);
    int use_plan = cfg->runtime.inference == GS_INFERENCE_PLAN;
    for (int k = 0; k < 2; k++) {
        int on_plan = k == 0 ? use_plan : !use_plan;
        dt = bench_steps(m, plan, cfg, on_plan ? 2 : 1, batch, o->steps, o->settle, o->max_warm, &warm,
                         k == 0 ? "bench: inference steps" : "bench: other inference steps");
        const char *name = k == 0 ? "inference" : on_plan ? "inference-plan" : "inference-ref";
        printf("%-14s %10.1f img/s %10.1f ms/step%s   (%s)\n", name, images / dt, dt * 1e3,
               bench_warm_note(note, sizeof note, o->settle, warm),
               on_plan ? "runtime.inference = plan" : "runtime.inference = reference");
        fflush(stdout);
    }
    dt = bench_steps(m, plan, cfg, 2, 1, o->steps, o->settle, o->max_warm, &warm, "bench: single-clip steps");
    printf("%-14s %10.1f img/s %10.1f ms/clip%s   (plan, 1 clip of %d frames)\n", "latency", m->cfg.frames / dt,
           dt * 1e3, bench_warm_note(note, sizeof note, o->settle, warm), m->cfg.frames);
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

// Where the plan's inference time goes, per folded layer kind (a separate pass, as above).
static void bench_plan_profile(gs_model *m, gs_plan *plan, int batch, int steps) {
    float *probs = gs_malloc(sizeof(float) * (size_t)batch * m->cfg.classes);
    plan_set_profile(plan, 1);
    for (int s = 0; s < steps; s++) plan_forward(plan, probs, NULL, model_input(m), NULL, batch);
    plan_set_profile(plan, 0);
    free(probs);
    printf("\nwhere the plan's inference time goes (%d steps):\n", steps);
    plan_print_profile(plan, stdout);
}

// The CPU benchmark of cfg's model; returns the exit code.
static int bench_cpu(const gs_config *cfg, const bench_options *o) {
    int threads = runtime_set_threads(cfg->runtime.threads);
    precision_resolve(cfg->runtime.precision, 0, "bench", "every phase", precision_cpu_reason());
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
    gs_plan *plan;  // of the initial weights: the train steps change them, the timings do not care
    if (plan_build(&plan, &m) != 0) {
        fprintf(stderr, "gesture: %s\n", gs_last_error());
        model_free(&m);
        return 1;
    }
    printf("inference plan: %s kernels; training: %s\n", plan_kernels_name(),
           m.reference_ops ? "reference ops (runtime.training = reference)"
                           : "fast 1x1 and depthwise kernels where the CPU allows (runtime.training = fast)");
    bench_time_phases(&m, plan, cfg, arch->batch, images, o);
    if (o->profile) {
        bench_print_profile(&m, cfg, arch->batch, o->steps);
        bench_plan_profile(&m, plan, arch->batch, o->steps);
    }
    plan_free(plan);
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
               "  --settle       warm each phase up until its last 3 step times are within 5%%, then report\n"
               "                 the median of the timed steps (CPU; the rule of benchmarks/run_peers.sh);\n"
               "                 without it: 1 warm-up step, then the mean\n"
               "  --max-warm N   --settle's warm-up steps at most (default 30; then it times them anyway)\n"
               "Prints one line per phase: img/s and ms per step (B*T images per step); the steps are\n"
               "counted on stderr as they run (CPU). CPU phases: train; inference on the path\n"
               "runtime.inference picks (plan: folded batch norm, fast kernels; reference: the reference\n"
               "ops), then on the other path (inference-ref / inference-plan); latency: the plan on one clip.\n");
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
