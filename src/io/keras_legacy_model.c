// Legacy HDF5 import of a whole seed model: model.save('m.h5') of tf.keras / tf_keras (Keras 2) and of
// Keras 3 (model_config, training_config and keras_version at the root, weights under /model_weights,
// the optimizer under /optimizer_weights), and tf_keras save_weights('w.h5') (the same weights at the
// root, no config). Keras loads these by order: the k-th top-level layer with weights gets the k-th
// group's arrays in its weight_names order. We follow that for the five top-level layers (checking
// that each array's name ends as Keras names it), but inside TimeDistributed(MobileNetV2) we go by
// name (Conv1/kernel:0; Keras 3: block_3_depthwise/kernel): that group lists the nested model's
// weights, all trainable ones first, so its order depends on which layers were frozen.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gesture/errors.h"
#include "h5util.h"
#include "keras_internal.h"

// The top-level layers with weights, in order.
enum { R_BACKBONE, R_HEAD_BN, R_GRU, R_DENSE, R_OUT, N_ROLES };

typedef struct {
    const char *path;
    hid_t f, root;      // root: f or /model_weights
    const char *where;  // "/" or "/model_weights"
    k_legacy_layers L;
    char *model_config, *training_config;  // root attributes, NULL when absent (save_weights)
    char version[32];                      // keras_version ("" when absent)
} lmfile;

// Where parameter i comes from: weighted layer `layer` (a role), array `weight` of its weight_names.
typedef struct {
    int layer, weight;
} lm_src;

// String attribute `attr` of loc into a malloc'd *out (NULL when absent). 0, or -1 + gs_error.
static int attr_string(char **out, hid_t loc, const char *attr, const char *path, const char *where) {
    *out = NULL;
    if (!h5_attr_exists(loc, attr)) return 0;
    char **v;
    int n;
    if (k_attr_strs(&v, &n, path, where, loc, attr)) return -1;
    if (n == 1) {
        *out = v[0];
        v[0] = NULL;
    }
    k_strs_free(v, n);
    return *out ? 0 : gs_error("%s: attribute %s of %s is not one string", path, attr, where);
}

static void lm_close(lmfile *lf) {
    k_legacy_layers_free(&lf->L);
    free(lf->model_config);
    free(lf->training_config);
    if (lf->root >= 0 && lf->root != lf->f) H5Gclose(lf->root);
    if (lf->f >= 0) H5Fclose(lf->f);
    memset(lf, 0, sizeof *lf);
    lf->f = lf->root = -1;
}

// "TimeDistributed(MobileNetV2)" ... for the errors.
static const char *const ROLE[N_ROLES] = {"TimeDistributed(MobileNetV2)", "TimeDistributed(BatchNormalization)",
                                          "Bidirectional(GRU)", "Dense", "output Dense"};

// The weighted top-level layers must be the seed's five, the head ones with Keras' array counts.
static int lm_check_top(const lmfile *lf) {
    char what[256];
    if (lf->model_config && k_describe_top(what, sizeof what, lf->model_config) == 0)
        return gs_error("%s: not the seed architecture: the model has %s; the seed is %s", lf->path, what, K_SEED_ARCH);
    const k_legacy_layers *L = &lf->L;
    if (L->n_file != N_ROLES) {
        char have[512] = "";
        size_t used = 0;
        for (int i = 0; i < L->n_file && used < sizeof have; i++)
            used += (size_t)snprintf(have + used, sizeof have - used, "%s%s", i ? ", " : "", L->fl[i].layer);
        return gs_error("%s: %d top-level layers with weights (%s), the seed model has %d: not the seed architecture "
                        "(%s)", lf->path, L->n_file, have[0] ? have : "none", N_ROLES, K_SEED_ARCH);
    }
    static const int NW[N_ROLES] = {0, 4, 6, 2, 2};
    for (int r = R_HEAD_BN; r < N_ROLES; r++)
        if (L->fl[r].n_weights != NW[r])
            return gs_error("%s: layer '%s' (weighted layer %d, the %s) has %d arrays, the seed's has %d: not the "
                            "seed architecture (%s)", lf->path, L->fl[r].layer, r + 1, ROLE[r], L->fl[r].n_weights,
                            NW[r], K_SEED_ARCH);
    return 0;
}

static int lm_open(lmfile *lf, const char *path) {
    memset(lf, 0, sizeof *lf);
    lf->f = lf->root = -1;
    lf->path = path;
    if ((lf->f = h5_open_as(path, 0, K_DAMAGED)) < 0) return -1;
    char *ver = NULL;
    if (attr_string(&lf->model_config, lf->f, "model_config", path, "/") ||
        attr_string(&lf->training_config, lf->f, "training_config", path, "/") ||
        k_legacy_find_root(&lf->root, &lf->where, lf->f, path))
        return -1;
    // keras_version: at the root (model.save, save_weights) and on /model_weights
    if (attr_string(&ver, lf->f, "keras_version", path, "/") ||
        (!ver && attr_string(&ver, lf->root, "keras_version", path, lf->where)))
        return -1;
    snprintf(lf->version, sizeof lf->version, "%s", ver ? ver : "");
    free(ver);
    if (k_legacy_read_layers(&lf->L, lf->root, path, lf->where)) return -1;
    return lm_check_top(lf);
}

// The variable and layer of a Keras weight name: "moving_mean" and "bn_Conv1" for
// "bn_Conv1/moving_mean:0" (Keras 3: no ":0"; a prefix like "mobilenetv2_0.35_96/" is ignored).
static void split_name(char *layer, size_t nl, char *var, size_t nv, const char *w) {
    const char *s = strrchr(w, '/'), *v = s ? s + 1 : w;
    snprintf(var, nv, "%.*s", (int)strcspn(v, ":"), v);
    const char *l = w;
    for (const char *p = w; s && p < s; p++)
        if (*p == '/') l = p + 1;
    snprintf(layer, nl, "%.*s", s ? (int)(s - l) : 0, l);
}

// Every MobileNetV2 parameter by name from the backbone group.
static int map_backbone(lm_src *src, const gs_model *m, const lmfile *lf) {
    const k_legacy_layer *fl = &lf->L.fl[R_BACKBONE];
    for (int j = 0; j < fl->n_weights; j++) {
        char layer[160], var[64], key[240];
        split_name(layer, sizeof layer, var, sizeof var, fl->weights[j]);
        int ni = model_find_node(m, layer), p = -1;
        if (ni >= 0 && m->nodes[ni].backbone) {
            // Keras 3 calls the depthwise variable `kernel`, Keras 2 `depthwise_kernel` (our name)
            const char *v = m->nodes[ni].op == NODE_DWCONV && !strcmp(var, "kernel") ? "depthwise_kernel" : var;
            snprintf(key, sizeof key, "%s/%s", layer, v);
            p = params_find(&m->params, key);
        }
        if (p < 0)
            return gs_error("%s: layer '%s' array '%s' is no MobileNetV2 weight of the seed model (Keras names them "
                            "like Conv1/kernel:0): not the seed architecture (%s)", lf->path, fl->layer,
                            fl->weights[j], K_SEED_ARCH);
        if (src[p].layer >= 0)
            return gs_error("%s: layer '%s' lists two arrays for %s ('%s', '%s')", lf->path, fl->layer,
                            m->params.p[p].name, fl->weights[src[p].weight], fl->weights[j]);
        src[p] = (lm_src){R_BACKBONE, j};
    }
    for (int i = 0; i < m->n_nodes; i++) {
        int prm[8], np = m->nodes[i].backbone ? k_node_params(&m->nodes[i], prm) : 0;
        for (int j = 0; j < np; j++)
            if (src[prm[j]].layer < 0)
                return gs_error("%s: layer '%s' has no array for %s (%d arrays): not the seed's MobileNetV2",
                                lf->path, fl->layer, m->params.p[prm[j]].name, fl->n_weights);
    }
    return 0;
}

// The head's parameters by order, each array's name checked against the variable Keras gives it.
static int map_head(lm_src *src, const gs_model *m, const lmfile *lf) {
    static const struct {
        const char *node, *var[6], *dir[6];
    } H[N_ROLES] = {
        [R_HEAD_BN] = {"head_bn", {"gamma", "beta", "moving_mean", "moving_variance"}, {0}},
        [R_GRU] = {"gru",
                   {"kernel", "recurrent_kernel", "bias", "kernel", "recurrent_kernel", "bias"},
                   {"forward", "forward", "forward", "backward", "backward", "backward"}},
        [R_DENSE] = {"dense_hidden", {"kernel", "bias"}, {0}},
        [R_OUT] = {"dense_out", {"kernel", "bias"}, {0}},
    };
    for (int r = R_HEAD_BN; r < N_ROLES; r++) {
        const k_legacy_layer *fl = &lf->L.fl[r];
        int prm[8], np = k_node_params(&m->nodes[model_find_node(m, H[r].node)], prm);
        GS_ASSERT(np == fl->n_weights);  // lm_check_top
        for (int j = 0; j < np; j++) {
            char layer[160], var[64];
            split_name(layer, sizeof layer, var, sizeof var, fl->weights[j]);
            if (strcmp(var, H[r].var[j]) || (H[r].dir[j] && !strstr(fl->weights[j], H[r].dir[j])))
                return gs_error("%s: layer '%s' array %d is '%s' where the seed's %s has its %s%s%s: not the seed "
                                "architecture (%s)", lf->path, fl->layer, j + 1, fl->weights[j], ROLE[r],
                                H[r].dir[j] ? H[r].dir[j] : "", H[r].dir[j] ? " " : "", H[r].var[j], K_SEED_ARCH);
            src[prm[j]] = (lm_src){r, j};
        }
    }
    return 0;
}

static int lm_map(lm_src *src, const gs_model *m, const lmfile *lf) {
    for (int i = 0; i < m->params.n; i++) src[i] = (lm_src){-1, -1};
    if (map_backbone(src, m, lf) || map_head(src, m, lf)) return -1;
    for (int i = 0; i < m->params.n; i++)
        if (src[i].layer < 0) gs_fatal("keras legacy: parameter %s has no source", m->params.p[i].name);
    return 0;
}

// Check (data NULL) or read every parameter. *n_ok counts the parameters that passed.
static int lm_read(float *data, const gs_model *m, const lmfile *lf, const lm_src *src, int *n_ok) {
    hid_t g[N_ROLES];
    int rc = 0;
    *n_ok = 0;
    for (int r = 0; r < N_ROLES; r++) g[r] = H5Gopen2(lf->root, lf->L.fl[r].layer, H5P_DEFAULT);
    for (int r = 0; r < N_ROLES && rc == 0; r++)
        if (g[r] < 0) rc = gs_error("%s: %s/%s is not a group", lf->path, lf->where, lf->L.fl[r].layer);
    for (int i = 0; i < m->params.n && rc == 0; i++) {
        const gs_param *p = &m->params.p[i];
        const k_legacy_layer *fl = &lf->L.fl[src[i].layer];
        const char *w = fl->weights[src[i].weight];
        char where[600];
        snprintf(where, sizeof where, "%s/%s/%s", lf->where[1] ? lf->where : "", fl->layer, w);
        rc = k_read_param(data ? data + p->offset : NULL, g[src[i].layer], w, p, lf->path, where);
        if (rc == 0) (*n_ok)++;
    }
    for (int r = 0; r < N_ROLES; r++)
        if (g[r] >= 0) H5Gclose(g[r]);
    return rc;
}

// The Adam state: the optimizer's slot names hold the variables' names as weight_names lists them.
static int lm_optimizer(gs_keras_info *info, float *mom, float *vel, const gs_model *m, const lmfile *lf,
                        const lm_src *src) {
    char **kname = gs_calloc((size_t)m->params.n + 1, sizeof *kname);
    for (int i = 0; i < m->params.n; i++) kname[i] = lf->L.fl[src[i].layer].weights[src[i].weight];
    int rc = k_opt_read_legacy(info, mom, vel, m, lf->f, lf->path, lf->training_config, kname);
    free(kname);
    return rc;
}

// Dims of array w of weighted layer r.
static int lm_dims(hsize_t *dims, const lmfile *lf, int r, int w) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", lf->L.fl[r].layer, lf->L.fl[r].weights[w]);
    return k_dims_of(dims, lf->root, p);
}

// k_find_width's check: every array of the file fits m.
static int lm_fits(void *ctx, gs_model *m, int *n_ok) {
    lm_src *src = gs_malloc((size_t)m->params.n * sizeof *src);
    *n_ok = 0;
    int r = lm_map(src, m, ctx) || lm_read(NULL, m, ctx, src, n_ok);
    free(src);
    return r;
}

// GRU and dense units and classes from the head's shapes, then the width whose every shape matches.
static int lm_arch(gs_model_arch *a, const lmfile *lf) {
    const char *path = lf->path;
    hsize_t g[8], d1[8], d2[8];
    const k_legacy_layer *fl = lf->L.fl;
    if (lm_dims(g, lf, R_GRU, 1) != 2 || g[1] != 3 * g[0])
        return gs_error("%s: layer '%s' array '%s' is no GRU recurrent kernel (units, 3 x units): not the seed "
                        "architecture (%s)", path, fl[R_GRU].layer, fl[R_GRU].weights[1], K_SEED_ARCH);
    if (k_head_dim(&a->gru_units, path, fl[R_GRU].weights[1], "GRU units", g[0], 1, GS_MAX_UNITS)) return -1;
    if (lm_dims(d1, lf, R_DENSE, 0) != 2 || d1[0] != 2 * g[0])
        return gs_error("%s: layer '%s' array '%s' is no Dense kernel on the BiGRU output (%d): not the seed "
                        "architecture (%s)", path, fl[R_DENSE].layer, fl[R_DENSE].weights[0], 2 * a->gru_units,
                        K_SEED_ARCH);
    if (k_head_dim(&a->dense_units, path, fl[R_DENSE].weights[0], "dense units", d1[1], 1, GS_MAX_UNITS)) return -1;
    if (lm_dims(d2, lf, R_OUT, 0) != 2 || d2[0] != d1[1])
        return gs_error("%s: layer '%s' array '%s' is no output Dense kernel (%d inputs): not the seed architecture "
                        "(%s)", path, fl[R_OUT].layer, fl[R_OUT].weights[0], a->dense_units, K_SEED_ARCH);
    if (k_head_dim(&a->classes, path, fl[R_OUT].weights[0], "classes", d2[1], 2, GS_MAX_CLASSES)) return -1;
    return k_find_width(a, lm_fits, (void *)lf);
}

// The MobileNetV2 model's name in a model config (the layer TimeDistributed wraps), "" if none.
static void backbone_name(char *buf, size_t n, const char *config) {
    buf[0] = 0;
    const char *p = config ? k_json_class(config, "TimeDistributed") : NULL;
    if (p) p = k_json_key(p, "layer");
    if (p) p = k_json_key(p, "name");
    const char *e = p && *p == '"' ? strchr(p + 1, '"') : NULL;
    if (e) snprintf(buf, n, "%.*s", (int)(e - p - 1), p + 1);
}

int k_legacy_model_info(gs_model_arch *arch, gs_keras_info *info, const char *path) {
    lmfile lf;
    gs_model_arch a = *arch;
    int rc = lm_open(&lf, path);
    if (rc == 0) rc = lm_arch(&a, &lf);
    if (rc == 0 && lf.model_config) rc = k_config_arch(&a, lf.model_config, path, "model_config");
    if (rc == 0) {
        snprintf(info->keras_version, sizeof info->keras_version, "%s", lf.version);
        info->keras_major = k_version_major(lf.version);
        info->has_config = lf.model_config != NULL;
        backbone_name(info->backbone_name, sizeof info->backbone_name, lf.model_config);
        gs_model_arch probe = a;
        probe.batch = probe.frames = 1;
        probe.size = 32;
        gs_model m;
        if ((rc = model_init(&m, &probe)) == 0) {
            lm_src *src = gs_malloc((size_t)m.params.n * sizeof *src);
            rc = lm_map(src, &m, &lf) || lm_optimizer(info, NULL, NULL, &m, &lf, src);
            free(src);
            model_free(&m);
        }
    }
    if (rc == 0) *arch = a;
    lm_close(&lf);
    return rc ? -1 : 0;
}

int k_legacy_model_load(gs_model *m, const char *path) {
    lmfile lf;
    size_t n = m->params.numel, nt = m->params.numel_trainable;
    lm_src *src = gs_malloc((size_t)m->params.n * sizeof *src);
    float *data = gs_malloc(n * sizeof(float));
    float *mom = gs_calloc(nt ? nt : 1, sizeof(float)), *vel = gs_calloc(nt ? nt : 1, sizeof(float));
    memcpy(data, m->params.data, n * sizeof(float));
    gs_keras_info info;
    int n_ok;
    int rc = lm_open(&lf, path);
    if (rc == 0) rc = lm_map(src, m, &lf);
    if (rc == 0) rc = lm_read(data, m, &lf, src, &n_ok);
    if (rc == 0) rc = lm_optimizer(&info, mom, vel, m, &lf, src);
    if (rc == 0) {
        memcpy(m->params.data, data, n * sizeof(float));
        memcpy(m->params.m, mom, nt * sizeof(float));  // zeros where the file has no Adam slot
        memcpy(m->params.v, vel, nt * sizeof(float));
        m->adam_t = info.adam_vars ? info.iterations : 0;
    }
    free(src);
    free(data);
    free(mom);
    free(vel);
    lm_close(&lf);
    return rc;
}

// Does a legacy model_config describe MobileNetV2 alone (the ImageNet file is a model.save of it)?
static int config_is_backbone(const char *config) {
    json_t *root = json_loads(config, 0, NULL);
    const char *name = json_string_value(json_object_get(json_object_get(root, "config"), "name"));
    int yes = name && !strncmp(name, "mobilenetv2", 11);
    json_decref(root);
    return yes;
}

int k_legacy_kind(hid_t f, const char *path) {
    char *config;
    if (attr_string(&config, f, "model_config", path, "/")) return -1;
    if (config) {
        int bb = config_is_backbone(config);
        free(config);
        return bb ? GS_KERAS_LEGACY : GS_KERAS_LEGACY_MODEL;
    }
    hid_t root = -1;
    const char *where;
    k_legacy_layers L = {0};
    int rc = k_legacy_find_root(&root, &where, f, path);
    if (rc == 0) rc = k_legacy_read_layers(&L, root, path, where);
    int kind = rc ? -1 : L.whole_model ? GS_KERAS_LEGACY_WEIGHTS : GS_KERAS_LEGACY;
    k_legacy_layers_free(&L);
    if (root >= 0 && root != f) H5Gclose(root);
    return kind;
}
