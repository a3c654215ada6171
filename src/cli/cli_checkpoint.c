// Inference models rebuilt from checkpoints (see cli_checkpoint.h).
#include "cli_checkpoint.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gesture/checkpoint.h"
#include "gesture/errors.h"
#include "gesture/precision.h"
#include "gesture/runtime.h"

// Parent folder of path ("." if none) into buf.
static void parent_dir(char *buf, size_t n, const char *path) {
    snprintf(buf, n, "%s", path);
    size_t len = strlen(buf);
    while (len > 1 && buf[len - 1] == '/') buf[--len] = '\0';
    char *slash = strrchr(buf, '/');
    if (!slash) snprintf(buf, n, ".");
    else if (slash == buf) buf[1] = '\0';
    else *slash = '\0';
}

int cli_resolve_checkpoint(char *ckpt, char *out_dir, size_t n, const char *target, const char *cmd, FILE *say) {
    struct stat st;
    if (stat(target, &st) != 0)
        return gs_error("%s: no such run directory or checkpoint (give runs/<name> or a .h5 checkpoint)", target);
    if (S_ISDIR(st.st_mode)) {
        snprintf(out_dir, n, "%s", target);
        snprintf(ckpt, n, "%s/checkpoints/best.h5", target);
        if (access(ckpt, R_OK) == 0) {
            fprintf(say, "gesture %s: using %s\n", cmd, ckpt);
            return 0;
        }
        snprintf(ckpt, n, "%s/checkpoints/last.h5", target);
        if (access(ckpt, R_OK) == 0) {
            fprintf(say, "gesture %s: using %s (%s has no checkpoints/best.h5)\n", cmd, ckpt, target);
            return 0;
        }
        return gs_error("%s: no checkpoints/best.h5 or checkpoints/last.h5 (train first: gesture train CONFIG.ini)",
                        target);
    }
    fprintf(say, "gesture %s: using %s\n", cmd, target);
    snprintf(ckpt, n, "%s", target);
    parent_dir(out_dir, n, target);
    const char *base = strrchr(out_dir, '/');
    base = base ? base + 1 : out_dir;
    if (!strcmp(base, "checkpoints")) {  // <run>/checkpoints/x.h5 -> <run>
        char run[PATH_MAX];
        parent_dir(run, sizeof run, out_dir);
        snprintf(out_dir, n, "%s", run);
    }
    return 0;
}

int cli_parse_int(const char *s, int lo, int hi, int *v) {
    char *end;
    long x = strtol(s, &end, 10);
    if (!*s || *end || x < lo || x > hi) return -1;
    *v = (int)x;
    return 0;
}

int cli_inference_model_load(cli_inference_model *im, const char *ckpt, cli_inference_overrides o) {
    int batch = o.batch, threads = o.threads, inference = o.inference;
    memset(im, 0, sizeof *im);
    char *ini = NULL;
    if (checkpoint_read_config(ckpt, &ini) != 0) return -1;
    config_defaults(&im->cfg);
    int rc = config_load_string(&im->cfg, ini, ckpt);
    free(ini);
    if (rc != 0) return -1;
    if (batch > 0) {
        char set[64];
        snprintf(set, sizeof set, "train.batch_size=%d", batch);
        if (config_set(&im->cfg, set) != 0) return -1;
    }
    if (config_validate(&im->cfg) != 0) return gs_error("%s: %s", ckpt, gs_last_error());
    if (checkpoint_read_classes(ckpt, &im->classes, &im->n_classes) != 0) return -1;
    if (im->n_classes != im->cfg.model.classes) {
        gs_error("%s: %d class names stored but model.classes = %d", ckpt, im->n_classes, im->cfg.model.classes);
        checkpoint_free_classes(im->classes, im->n_classes);
        im->classes = NULL;
        return -1;
    }
    im->threads = runtime_set_threads(threads >= 0 ? threads : im->cfg.runtime.threads);
    gs_model_arch arch;
    model_arch_from_config(&arch, &im->cfg);
    if (model_init(&im->model, &arch) != 0 || checkpoint_load_weights_only(ckpt, &im->model) != 0) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", gs_last_error());
        cli_inference_model_free(im);
        return gs_error("%s", msg);
    }
    if (inference >= 0) im->cfg.runtime.inference = (gs_inference)inference;
    if (o.precision >= 0) im->cfg.runtime.precision = (gs_precision)o.precision;
    if (im->cfg.runtime.inference == GS_INFERENCE_PLAN && plan_build(&im->plan, &im->model) != 0) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s: %s (runtime.inference = reference runs it)", ckpt, gs_last_error());
        cli_inference_model_free(im);
        return gs_error("%s", msg);
    }
    return 0;
}

int cli_inference_model_open_device(cli_inference_model *im, const char *cmd, int device, gs_loader_config *lc) {
    int use_cuda = 0;
    if (train_device_open(device >= 0 ? (gs_device)device : im->cfg.runtime.device, &use_cuda) != 0) return -1;
    im->cuda_open = use_cuda;
    gs_precision asked = im->cfg.runtime.precision;
    if (!use_cuda) {
        im->precision = precision_resolve(asked, 0, cmd, "inference", precision_cpu_reason());
        train_backend_cpu_init(&im->be, &im->model);
        if (im->plan) train_backend_cpu_use_plan(&im->be, im->plan);
        return 0;
    }
    if (lc) train_cuda_loader_memory(lc);
    im->precision = asked;  // both paths on cuda have bf16
    if (im->plan)
        return train_backend_gpu_plan_init(&im->be, &im->model, im->plan, im->precision == GS_PRECISION_BF16);
    return train_backend_cuda_init(&im->be, &im->model, 0, im->precision == GS_PRECISION_BF16);
}

// v, one of `choices` (NULL-terminated, in the enum's order) -> *value; else -1 after
// "gesture CMD: OPTION must be a, b or c (got 'v')" on stderr.
static int parse_choice(const char *cmd, const char *option, const char *v, const char *const *choices, int *value) {
    int n = 0;
    for (; choices[n]; n++)
        if (v && !strcmp(v, choices[n])) {
            *value = n;
            return 0;
        }
    fprintf(stderr, "gesture %s: %s must be ", cmd, option);
    for (int i = 0; i < n; i++) fprintf(stderr, "%s%s", i == 0 ? "" : i == n - 1 ? " or " : ", ", choices[i]);
    fprintf(stderr, " (got '%s')\n", v ? v : "");
    return -1;
}

int cli_parse_inference(const char *cmd, const char *v, int *inference) {
    static const char *const CHOICES[] = {"plan", "reference", NULL};  // GS_INFERENCE_* order
    return parse_choice(cmd, "--inference", v, CHOICES, inference);
}

int cli_parse_precision(const char *cmd, const char *v, int *precision) {
    static const char *const CHOICES[] = {"fp32", "bf16", NULL};  // GS_PRECISION_* order
    return parse_choice(cmd, "--precision", v, CHOICES, precision);
}

int cli_parse_device(const char *cmd, const char *v, int *device) {
    static const char *const CHOICES[] = {"auto", "cpu", "cuda", NULL};  // GS_DEVICE_* order
    return parse_choice(cmd, "--device", v, CHOICES, device);
}

const char *cli_inference_name(const cli_inference_model *im) {
    static char buf[64];
    if (!im->plan) return im->cuda_open && im->precision == GS_PRECISION_BF16 ? "reference (bf16)" : "reference";
    if (im->cuda_open) return im->precision == GS_PRECISION_BF16 ? "plan (cuda, bf16)" : "plan (cuda)";
    snprintf(buf, sizeof buf, "plan (%s kernels)", plan_kernels_name());
    return buf;
}

void cli_inference_model_free(cli_inference_model *im) {
    if (im->be.ops) im->be.ops->free(&im->be);
    if (im->cuda_open) train_cuda_close();
    plan_free(im->plan);
    if (im->model.nodes) model_free(&im->model);
    if (im->classes) checkpoint_free_classes(im->classes, im->n_classes);
    memset(im, 0, sizeof *im);
}
