// Whole model against the PyTorch reference (scripts/ref_model.py -> model.h5): parameter names and
// shapes both ways, inference logits, training logits/loss, every parameter gradient, BN moving
// statistics after one step, and all parameters after three Adam steps.
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"
#include "gesture/model.h"
#include "testutil.h"

static double attr_double(hid_t f, const char *name) {
    double v = 0;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    if (a < 0) fprintf(stderr, "missing attribute %s\n", name), exit(1);
    H5Aread(a, H5T_NATIVE_DOUBLE, &v);
    H5Aclose(a);
    return v;
}

static const char *FILE_;

static void load_weights(gs_model *m, const char *prefix) {
    char name[256];
    for (int i = 0; i < m->params.n; i++) {
        const gs_param *p = &m->params.p[i];
        snprintf(name, sizeof name, "%s/%s", prefix, p->name);
        size_t n;
        float *w = fx_read_f32(FILE_, name, &n);
        if (n != p->numel) fprintf(stderr, "%s: size %zu, expected %zu\n", name, n, p->numel), exit(1);
        memcpy(params_ptr(&m->params, i), w, n * sizeof(float));
        free(w);
    }
}

static char degenerate[4096];  // parameter index -> gradient exactly zero in the reference
static int is_degenerate(int i) { return degenerate[i]; }

static double attr_double_file(const char *file, const char *name) {
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    double v = attr_double(f, name);
    H5Fclose(f);
    return v;
}

static void load_moments(gs_model *m, const char *prefix, float *dst) {
    char name[256];
    for (int i = 0; i < m->params.n; i++) {
        const gs_param *p = &m->params.p[i];
        if (!p->trainable) continue;
        snprintf(name, sizeof name, "%s/%s", prefix, p->name);
        size_t n;
        float *w = fx_read_f32(FILE_, name, &n);
        if (n != p->numel) fprintf(stderr, "%s: size %zu, expected %zu\n", name, n, p->numel), exit(1);
        memcpy(dst + p->offset, w, n * sizeof(float));
        free(w);
    }
}

static int is_stat(const char *name) { return strstr(name, "/moving_") != NULL; }

int main(void) {
    FILE_ = fx_path("model.h5");
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(FILE_, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) fprintf(stderr, "%s: missing (run scripts/make_fixtures.sh)\n", FILE_), exit(1);
    gs_model_arch cfg = {
        .alpha = (float)attr_double(f, "alpha"),
        .size = (int)attr_double(f, "size"),
        .frames = (int)attr_double(f, "frames"),
        .batch = (int)attr_double(f, "batch"),
        .classes = (int)attr_double(f, "classes"),
        .gru_units = (int)attr_double(f, "gru_units"),
        .dense_units = (int)attr_double(f, "dense_units"),
        .dropout = (float)attr_double(f, "dropout"),
        .l2 = (float)attr_double(f, "l2"),
    };
    float lr = (float)attr_double(f, "lr"), b1 = (float)attr_double(f, "beta1"), b2 = (float)attr_double(f, "beta2"),
          eps = (float)attr_double(f, "epsilon");
    (void)eps;  // the Keras epsilon is exercised by the Adam op test (see the Adam steps below)
    uint64_t dropout_seed = (uint64_t)attr_double(f, "dropout_seed");
    size_t ref_backbone = (size_t)attr_double(f, "backbone_params");
    H5Fclose(f);

    gs_model m;
    if (model_init(&m, &cfg)) fprintf(stderr, "%s\n", gs_last_error()), exit(1);
    if (m.params.n > (int)sizeof degenerate) fprintf(stderr, "too many parameters\n"), exit(1);

    // names and shapes, both ways
    int missing = 0, extra = 0;
    char name[256];
    for (int i = 0; i < m.params.n; i++) {
        snprintf(name, sizeof name, "weights/%s", m.params.p[i].name);
        if (!fx_exists(FILE_, name)) {
            printf("  our parameter %s is not in the reference\n", m.params.p[i].name);
            missing++;
        } else if (fx_numel(FILE_, name) != m.params.p[i].numel) {
            printf("  %s: %zu elements, reference %zu\n", name, m.params.p[i].numel, fx_numel(FILE_, name));
            missing++;
        }
    }
    {
        hid_t ff = H5Fopen(FILE_, H5F_ACC_RDONLY, H5P_DEFAULT);
        hid_t g = H5Gopen2(ff, "weights", H5P_DEFAULT);
        // the reference nests "<layer>/<var>": walk layer groups
        H5G_info_t info;
        H5Gget_info(g, &info);
        int count = 0;
        for (hsize_t i = 0; i < info.nlinks; i++) {
            char layer[128];
            H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, layer, sizeof layer, H5P_DEFAULT);
            hid_t lg = H5Gopen2(g, layer, H5P_DEFAULT);
            H5G_info_t li;
            H5Gget_info(lg, &li);
            for (hsize_t k = 0; k < li.nlinks; k++) {
                char var[128];
                H5Lget_name_by_idx(lg, ".", H5_INDEX_NAME, H5_ITER_INC, k, var, sizeof var, H5P_DEFAULT);
                snprintf(name, sizeof name, "%s/%s", layer, var);
                count++;
                if (params_find(&m.params, name) < 0) {
                    printf("  reference tensor %s has no parameter here\n", name);
                    extra++;
                }
            }
            H5Gclose(lg);
        }
        H5Gclose(g);
        H5Fclose(ff);
        check(count == m.params.n, "parameter count: %d here, %d in the reference", m.params.n, count);
    }
    check(missing == 0 && extra == 0, "parameter names/shapes match the reference (%d missing, %d extra)", missing,
          extra);
    check(model_backbone_param_count(&m) == ref_backbone, "backbone parameters %zu (reference %zu)",
          model_backbone_param_count(&m), ref_backbone);

    size_t n;
    float *x = fx_read_f32(FILE_, "x", &n);
    int *labels = fx_read_int(FILE_, "labels", NULL);
    check(n == (size_t)cfg.batch * cfg.frames * cfg.size * cfg.size * 3, "input size");
    size_t K = (size_t)cfg.batch * cfg.classes;

    // inference
    load_weights(&m, "weights");
    m.seed = dropout_seed;
    memcpy(model_input(&m), x, n * sizeof(float));
    model_forward(&m, cfg.batch, 0, 0);
    double *want = fx_read(FILE_, "logits_infer", NULL, NULL);
    check_close("logits (inference, moving statistics)", model_logits(&m), want, K, 1e-4);
    free(want);

    // one training step
    memcpy(m.labels, labels, (size_t)cfg.batch * sizeof(int));
    model_forward(&m, cfg.batch, 1, 1);
    want = fx_read(FILE_, "logits", NULL, NULL);
    check_close("logits (training, batch statistics, dropout)", model_logits(&m), want, K, 1e-4);
    free(want);
    want = fx_read(FILE_, "probs", NULL, NULL);
    check_close("probabilities", model_probs(&m), want, K, 1e-4);
    free(want);
    float got;
    want = fx_read(FILE_, "loss", NULL, NULL);
    got = m.loss;
    check_close("loss (CE + L2)", &got, want, 1, 1e-4);
    free(want);
    want = fx_read(FILE_, "l2", NULL, NULL);
    got = m.l2_loss;
    check_close("L2 penalty", &got, want, 1, 1e-4);
    free(want);

    for (int i = 0; i < m.params.n; i++) {
        const gs_param *p = &m.params.p[i];
        if (!is_stat(p->name)) continue;
        snprintf(name, sizeof name, "after1/%s", p->name);
        want = fx_read(FILE_, name, NULL, NULL);
        check_close(name, params_ptr(&m.params, i), want, p->numel, 1e-4);
        free(want);
    }

    model_backward(&m);
    // Gradients that are zero in exact arithmetic (e.g. project_BN/beta: a per-channel constant that
    // the next BatchNorm subtracts again) are float noise in both implementations; a relative check is
    // meaningless there, so they are checked to be negligible against the largest gradient instead.
    double gscale = 0;
    for (int i = 0; i < m.params.n; i++) {
        if (!m.params.p[i].trainable) continue;
        snprintf(name, sizeof name, "grad/%s", m.params.p[i].name);
        double *g = fx_read(FILE_, name, NULL, NULL);
        for (size_t k = 0; k < m.params.p[i].numel; k++) gscale = fmax(gscale, fabs(g[k]));
        free(g);
    }
    int n_degenerate = 0;
    for (int i = 0; i < m.params.n; i++) {
        const gs_param *p = &m.params.p[i];
        if (!p->trainable) continue;
        snprintf(name, sizeof name, "grad/%s", p->name);
        want = fx_read(FILE_, name, NULL, NULL);
        double wmax = 0, gmax = 0;
        const float *g = params_grad(&m.params, i);
        for (size_t k = 0; k < p->numel; k++) {
            wmax = fmax(wmax, fabs(want[k]));
            gmax = fmax(gmax, fabs(g[k]));
        }
        if (wmax < 1e-9 * gscale) {
            n_degenerate++;
            degenerate[i] = 1;
            check(gmax <= 1e-5 * gscale, "%-48s exact zero gradient: ours %.2e (<= 1e-5 x %.2e)", name, gmax, gscale);
        } else {
            check_close(name, g, want, p->numel, 1e-3);
        }
        free(want);
    }
    printf("(%d gradients are exactly zero in the reference)\n", n_degenerate);

    // Three Adam steps, each replayed from the reference state before it (see ref_model.py: the
    // free-running trajectory of a random BN network is chaotic at float32 precision).
    float adam_eps = (float)attr_double_file(FILE_, "adam_check_epsilon");
    for (int t = 1; t <= 3; t++) {
        char prefix[64];
        if (t == 1) {
            load_weights(&m, "weights");
            memset(m.params.m, 0, m.params.numel_trainable * sizeof(float));
            memset(m.params.v, 0, m.params.numel_trainable * sizeof(float));
        } else {
            snprintf(prefix, sizeof prefix, "state%d/weights", t - 1);
            load_weights(&m, prefix);
            snprintf(prefix, sizeof prefix, "state%d/m", t - 1);
            load_moments(&m, prefix, m.params.m);
            snprintf(prefix, sizeof prefix, "state%d/v", t - 1);
            load_moments(&m, prefix, m.params.v);
        }
        m.step = t - 1;  // dropout masks of step t
        m.adam_t = t - 1;
        float *w0 = malloc(m.params.numel * sizeof(float));
        memcpy(w0, m.params.data, m.params.numel * sizeof(float));
        model_forward(&m, cfg.batch, 1, 1);
        snprintf(name, sizeof name, "loss_step%d", t);
        want = fx_read(FILE_, name, NULL, NULL);
        got = m.loss;
        check_close(name, &got, want, 1, 1e-4);
        free(want);
        model_backward(&m);
        int bad_grads = 0;
        for (int i = 0; i < m.params.n; i++) {
            const gs_param *p = &m.params.p[i];
            if (!p->trainable || is_degenerate(i)) continue;
            snprintf(name, sizeof name, "step%d/grad/%s", t, p->name);
            want = fx_read(FILE_, name, NULL, NULL);
            if (!check_close(name, params_grad(&m.params, i), want, p->numel, 1e-3)) bad_grads++;
            free(want);
        }
        model_adam_step(&m, lr, b1, b2, adam_eps);
        // Compare what the step changed (the weights themselves would hide a wrong update).
        // Tensors with an exactly-zero gradient move by float noise in any implementation: skipped.
        for (int i = 0; i < m.params.n; i++) {
            const gs_param *p = &m.params.p[i];
            if (is_degenerate(i)) continue;
            snprintf(name, sizeof name, "state%d/weights/%s", t, p->name);
            want = fx_read(FILE_, name, NULL, NULL);
            check_update(name, params_ptr(&m.params, i), want, w0 + p->offset, p->numel, 1e-3);
            free(want);
        }
        free(w0);
    }
    free(x);
    free(labels);
    model_free(&m);
    return test_finish();
}
