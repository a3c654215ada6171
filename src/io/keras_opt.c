// Optimizer state of Keras files into our Adam (params.m / params.v, adam_t): the saving-v3 layout of
// `.keras` / `.weights.h5` (optimizer/vars, by position) and the legacy `.h5` optimizer_weights group
// (by the variable names in the slot names), as Keras 3 and tf.keras / tf_keras (Keras 2, its current
// and its legacy optimizer) write them. Only a plain Adam's state is imported: for any other
// optimizer the moments start at zero (the caller says so).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"
#include "h5util.h"
#include "keras_internal.h"

static void info_reset(gs_keras_info *info, const char *config) {
    char cls[64];
    info->optimizer_vars = 0;
    info->iterations = 0;
    info->has_adam_slots = 0;
    info->adam_vars = 0;
    k_config_optimizer(cls, sizeof cls, &info->learning_rate, config);  // NaN without one
}

// Is the config's optimizer (if it names one) Adam?
static int config_adam(const char *config) {
    char cls[64];
    double lr;
    return k_config_optimizer(cls, sizeof cls, &lr, config) != 0 || !strcmp(cls, "Adam");
}

// The step count: an integer scalar. 0, or -1 + gs_error.
static int read_count(long *out, hid_t loc, const char *dset, const char *path, const char *where) {
    hsize_t dims[8];
    if (k_dims_of(dims, loc, dset) != 0) return gs_error("%s: %s (iterations) is not a scalar", path, where);
    hid_t d = H5Dopen2(loc, dset, H5P_DEFAULT);
    long long it = 0;
    herr_t r = d >= 0 ? H5Dread(d, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, &it) : -1;
    if (d >= 0) H5Dclose(d);
    if (r < 0) return gs_error("%s: %s (iterations) is unreadable", path, where);
    if (it < 0) return gs_error("%s: %s: iterations = %lld is negative", path, where, it);
    *out = (long)it;
    return 0;
}

// A float scalar into *out when `dset` is one (else *out stays).
static void read_real(double *out, hid_t loc, const char *dset) {
    hsize_t dims[8];
    if (k_dims_of(dims, loc, dset) != 0) return;
    hid_t d = H5Dopen2(loc, dset, H5P_DEFAULT);
    double x = NAN;
    if (d >= 0 && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &x) >= 0) *out = x;
    if (d >= 0) H5Dclose(d);
}

// Slot s (0: m, 1: v) of parameter p from dataset `dset` into mom / vel (NULL: shape check only).
static int read_slot(float *mom, float *vel, const gs_param *p, int s, hid_t loc, const char *dset, const char *path,
                     const char *where) {
    char w[800];
    snprintf(w, sizeof w, "%s (Adam %s of %s)", where, s ? "v" : "m", p->name);
    float *dst = s ? vel : mom;
    return k_read_param(dst ? dst + p->offset : NULL, loc, dset, p, path, w);
}

int k_opt_read_vars(gs_keras_info *info, float *mom, float *vel, const gs_model *m, hid_t f, const char *path,
                    const char *config) {
    info_reset(info, config);
    if (!k_path_exists(f, "optimizer/vars")) return 0;
    hid_t g = H5Gopen2(f, "optimizer/vars", H5P_DEFAULT);
    H5G_info_t gi;
    if (g < 0 || H5Gget_info(g, &gi) < 0) {
        if (g >= 0) H5Gclose(g);
        return h5_error_here(path, "H5Gopen(optimizer/vars)", __FILE__, __LINE__);
    }
    H5Gclose(g);
    int nv = (int)gi.nlinks;
    info->optimizer_vars = nv;
    hsize_t dims[8];
    if (nv >= 1 && k_dims_of(dims, f, "optimizer/vars/0") == 0 &&
        read_count(&info->iterations, f, "optimizer/vars/0", path, "optimizer/vars/0"))
        return -1;
    // [iteration, learning_rate (Keras 3 with a fixed rate), m0, v0, m1, v1, ...] over the variables Keras
    // trains (those of frozen layers have no slots), in model.trainable_variables order = ours; the
    // config says which they are, else all of ours
    unsigned char *tr = gs_calloc((size_t)m->params.n + 1, 1);
    int n_tr = k_config_trainable(tr, m, config), base = nv - 2 * n_tr;
    if (n_tr < 0 || (base != 1 && base != 2)) {
        n_tr = 0;
        for (int i = 0; i < m->params.n; i++) {
            tr[i] = (unsigned char)m->params.p[i].trainable;
            n_tr += tr[i];
        }
        base = nv - 2 * n_tr;
    }
    if (nv >= 2 && base != 1) read_real(&info->learning_rate, f, "optimizer/vars/1");
    int rc = 0;
    if ((base == 1 || base == 2) && n_tr > 0 && config_adam(config)) {
        for (int i = 0, k = 0; i < m->params.n && rc == 0; i++) {
            if (!tr[i]) continue;
            for (int s = 0; s < 2 && rc == 0; s++) {
                char dp[64];
                snprintf(dp, sizeof dp, "optimizer/vars/%d", base + 2 * k + s);
                rc = read_slot(mom, vel, &m->params.p[i], s, f, dp, path, dp);
            }
            k++;
        }
        info->adam_vars = n_tr;
        info->has_adam_slots = rc == 0;
    }
    free(tr);
    return rc;
}

// ---- legacy optimizer_weights ----

typedef enum { OW_ITER, OW_LR, OW_M, OW_V, OW_HYPER, OW_OTHER } ow_kind;

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

// What an optimizer weight name is. For a slot, var gets the variable's name as weight_names spells it
// (*flat = 0) or with '/' as '_' (*flat = 1, Keras 3). Names per writer:
//   tf_keras optimizer   iteration:0   Adam/m/<var>:0     Adam/v/<var>:0
//   tf_keras legacy      Adam/iter:0   Adam/<var>/m:0     Adam/<var>/v:0    (Adam/beta_1:0 ...)
//   Keras 3              adam/iteration  adam/learning_rate  adam/<var with _>_momentum  _velocity
static ow_kind classify(char *var, size_t n, int *flat, const char *name) {
    static const char *const ITER[] = {"iter:0", "iteration", "iteration:0", "iterations:0"};
    static const char *const LR[] = {"learning_rate", "learning_rate:0", "lr:0"};
    static const char *const HYPER[] = {"beta_1:0", "beta_2:0", "decay:0", "epsilon:0"};
    const char *slash = strchr(name, '/'), *rest = slash ? slash + 1 : name;
    *flat = 0;
    var[0] = 0;
    for (size_t i = 0; i < sizeof ITER / sizeof *ITER; i++)
        if (!strcmp(rest, ITER[i])) return OW_ITER;
    for (size_t i = 0; i < sizeof LR / sizeof *LR; i++)
        if (!strcmp(rest, LR[i])) return OW_LR;
    for (size_t i = 0; i < sizeof HYPER / sizeof *HYPER; i++)
        if (!strcmp(rest, HYPER[i])) return OW_HYPER;
    size_t len = strlen(rest);
    if (slash && (!strncmp(rest, "m/", 2) || !strncmp(rest, "v/", 2))) {
        snprintf(var, n, "%s", rest + 2);
        return rest[0] == 'm' ? OW_M : OW_V;
    }
    if (ends_with(rest, "/m:0") || ends_with(rest, "/v:0")) {
        snprintf(var, n, "%.*s:0", (int)(len - 4), rest);
        return rest[len - 3] == 'm' ? OW_M : OW_V;
    }
    if (ends_with(rest, "_momentum") || ends_with(rest, "_velocity")) {
        snprintf(var, n, "%.*s", (int)(len - 9), rest);
        *flat = 1;
        return ends_with(rest, "_momentum") ? OW_M : OW_V;
    }
    return OW_OTHER;
}

// The parameter whose Keras name is var (flat: compared with '/' as '_'); -1 if none, -2 if several.
static int find_var(const gs_model *m, char *const *kname, char *const *kflat, const char *var, int flat) {
    int hit = -1;
    for (int i = 0; i < m->params.n; i++) {
        const char *k = flat ? kflat[i] : kname[i];
        if (!k || strcmp(k, var)) continue;
        if (hit >= 0) return -2;
        hit = i;
    }
    return hit;
}

// The step count, learning rate and (adam: a plain Adam's) slots of the weight names wn in g into info
// and mom / vel (NULL: shape checks only); got[i] |= 1 for parameter i's m, 2 for its v.
static int legacy_slots(gs_keras_info *info, float *mom, float *vel, const gs_model *m, hid_t g, const char *path,
                        char **wn, int nw, char *const *kname, char *const *kflat, unsigned char *got, int adam) {
    for (int j = 0; j < nw; j++) {
        char var[512], where[600];
        int flat;
        ow_kind k = classify(var, sizeof var, &flat, wn[j]);
        snprintf(where, sizeof where, "optimizer_weights/%s", wn[j]);
        if (k == OW_ITER && read_count(&info->iterations, g, wn[j], path, where)) return -1;
        if (k == OW_LR) read_real(&info->learning_rate, g, wn[j]);
        if (!adam || (k != OW_M && k != OW_V)) continue;  // another optimizer's slots are no Adam m or v
        int s = k == OW_V, i = find_var(m, kname, kflat, var, flat);
        if (i < 0)
            return gs_error("%s: %s is the Adam %s of '%s', %s", path, where, s ? "v" : "m", var,
                            i == -2 ? "which names several weights of the model" : "which is no weight of the model");
        if (!m->params.p[i].trainable)
            return gs_error("%s: %s: Adam state for %s, which is not trainable (a moving statistic)", path, where,
                            m->params.p[i].name);
        if (got[i] & (1 << s)) return gs_error("%s: %s: a second Adam %s for %s", path, where, s ? "v" : "m", var);
        got[i] |= (unsigned char)(1 << s);
        if (read_slot(mom, vel, &m->params.p[i], s, g, wn[j], path, where)) return -1;
    }
    return 0;
}

int k_opt_read_legacy(gs_keras_info *info, float *mom, float *vel, const gs_model *m, hid_t f, const char *path,
                      const char *training_config, char *const *kname) {
    info_reset(info, training_config);
    if (!k_path_exists(f, "optimizer_weights")) return 0;
    hid_t g = H5Gopen2(f, "optimizer_weights", H5P_DEFAULT);
    if (g < 0) return h5_error_here(path, "H5Gopen(optimizer_weights)", __FILE__, __LINE__);
    char **wn = NULL, var[512];
    int nw = 0, flat, adam = config_adam(training_config);
    int rc = k_name_list(&wn, &nw, path, "/optimizer_weights", g, "weight_names");
    info->optimizer_vars = nw;
    for (int j = 0; rc == 0 && j < nw; j++)  // AMSGrad's vhat, another optimizer's slots: not our Adam
        if (classify(var, sizeof var, &flat, wn[j]) == OW_OTHER) adam = 0;
    char **kflat = gs_calloc((size_t)m->params.n + 1, sizeof *kflat);
    unsigned char *got = gs_calloc((size_t)m->params.n + 1, 1);
    for (int i = 0; i < m->params.n; i++) {
        if (!kname[i]) continue;
        kflat[i] = strdup(kname[i]);
        for (char *c = kflat[i]; *c; c++)
            if (*c == '/') *c = '_';
    }
    if (rc == 0)
        rc = legacy_slots(info, mom, vel, m, g, path, wn, nw, kname, kflat, got, adam);
    for (int i = 0; rc == 0 && i < m->params.n; i++) {
        if (got[i] == 1 || got[i] == 2)
            rc = gs_error("%s: optimizer_weights holds the Adam %s of %s but not its %s", path, got[i] == 1 ? "m" : "v",
                          m->params.p[i].name, got[i] == 1 ? "v" : "m");
        info->adam_vars += got[i] == 3;
    }
    info->has_adam_slots = rc == 0 && info->adam_vars > 0;
    for (int i = 0; i < m->params.n; i++) free(kflat[i]);
    free(kflat);
    free(got);
    k_strs_free(wn, nw);
    H5Gclose(g);
    return rc;
}
