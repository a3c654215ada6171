// Saving-v3 import: `.keras` archives (model.weights.h5 extracted into memory) and bare `.weights.h5`
// files of the seed architecture, as Keras 3 and tf_keras >= 2.13 write them; plus the dispatch of the
// public entry points to the legacy whole-model reader (keras_legacy_model.c). Paths come from the
// class-name-counter layout (keras_layout.c); the file must hold exactly that layer set, each `vars`
// group's `name` attribute (Keras >= 3.6) must agree where Keras fixes it, and every array must have
// our shape.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"
#include "gesture/keras.h"
#include "h5util.h"
#include "keras_internal.h"

typedef struct {
    const char *path;
    char *config;  // config.json text, NULL for a bare .weights.h5
    char *meta;    // metadata.json text or NULL
    hid_t f;       // the weights file
} kfile;

static void kfile_close(kfile *kf) {
    free(kf->config);
    free(kf->meta);
    if (kf->f >= 0) H5Fclose(kf->f);
    memset(kf, 0, sizeof *kf);
    kf->f = -1;
}

static int kfile_open(kfile *kf, const char *path) {
    memset(kf, 0, sizeof *kf);
    kf->f = -1;
    kf->path = path;
    int z = k_is_zip(path);
    if (z < 0) return -1;
    if (!z) {
        kf->f = h5_open_as(path, 0, K_DAMAGED);
        return kf->f < 0 ? -1 : 0;
    }
    char *buf;
    size_t n;
    if (k_zip_read(&buf, &n, path, "model.weights.h5", 1)) return -1;
    // the label must not name an existing file (the core driver refuses to shadow one)
    char label[4200];
    snprintf(label, sizeof label, "%s:model.weights.h5", path);
    kf->f = h5_open_image(buf, n, label, K_DAMAGED);  // HDF5 copies buf
    free(buf);
    if (kf->f < 0 || k_zip_read(&kf->config, &n, path, "config.json", 0) < 0 ||
        k_zip_read(&kf->meta, &n, path, "metadata.json", 0) < 0) {
        kfile_close(kf);
        return -1;
    }
    return 0;
}

// ---- small HDF5 queries ----

// `name` attribute of <path>/vars into buf ("" if absent).
static void vars_name(char *buf, size_t n, hid_t f, const char *path) {
    char vp[256];
    snprintf(vp, sizeof vp, "%s%svars", path, path[0] ? "/" : "");
    buf[0] = 0;
    if (!k_path_exists(f, vp)) return;
    hid_t g = H5Oopen(f, vp, H5P_DEFAULT);
    if (g < 0) return;
    char **s = NULL;
    int ns = 0;
    if (h5_attr_exists(g, "name") && k_attr_strs(&s, &ns, "", vp, g, "name") == 0 && ns == 1)
        snprintf(buf, n, "%s", s[0]);
    k_strs_free(s, ns);
    H5Oclose(g);
}

typedef struct {
    char **v;
    int n;
} strlist;

static herr_t collect(hid_t g, const char *name, const H5L_info_t *info, void *data) {
    strlist *l = data;
    l->v = realloc(l->v, (size_t)(l->n + 1) * sizeof *l->v);
    GS_ASSERT(l->v);
    l->v[l->n++] = strdup(name);
    return 0;
}

static void strlist_free(strlist *l) {
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

// Names of the links in group `path` (every link, recursively, when deep).
static int list_group(strlist *l, hid_t f, const char *path, int deep) {
    memset(l, 0, sizeof *l);
    hid_t g = H5Gopen2(f, path, H5P_DEFAULT);
    if (g < 0) return -1;
    herr_t r = deep ? H5Lvisit(g, H5_INDEX_NAME, H5_ITER_INC, collect, l)
                    : H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, collect, l);
    H5Gclose(g);
    return r < 0 ? -1 : 0;
}

// ---- structure and weights ----

// The top-level layer groups must be exactly the seed model's.
static int check_top(const kfile *kf, const k3_layout *L) {
    strlist have;
    if (!k_path_exists(kf->f, "layers") || list_group(&have, kf->f, "layers", 0))
        return gs_error("%s: no 'layers' group: not a Keras 3 weight file of a Sequential model (%s)", kf->path,
                        K_SEED_ARCH);
    char msg[1024] = "", buf[192], nm[96];
    size_t used = 0;
    for (int i = 0; i < have.n; i++) {
        snprintf(buf, sizeof buf, "layers/%s", have.v[i]);
        if (k3_layout_find(L, buf) >= 0) continue;
        vars_name(nm, sizeof nm, kf->f, buf);
        used += (size_t)snprintf(msg + used, used < sizeof msg ? sizeof msg - used : 0, "%sunexpected layer %s%s%s%s",
                                 used ? "; " : "", buf, nm[0] ? " ('" : "", nm, nm[0] ? "')" : "");
    }
    for (int i = 0; i < L->n; i++) {
        const char *p = L->e[i].path;
        if (strncmp(p, "layers/", 7) || strchr(p + 7, '/') || L->e[i].optional || k_path_exists(kf->f, p)) continue;
        used += (size_t)snprintf(msg + used, used < sizeof msg ? sizeof msg - used : 0, "%smissing %s ('%s')",
                                 used ? "; " : "", p, L->e[i].name);
    }
    strlist_free(&have);
    char what[256];
    if (used && k_describe_top(what, sizeof what, kf->config) == 0)
        return gs_error("%s: not the seed architecture: the model has %s; the seed is %s", kf->path, what, K_SEED_ARCH);
    if (used) return gs_error("%s: not the seed architecture (%s): %s", kf->path, K_SEED_ARCH, msg);
    return 0;
}

static int check_name(const kfile *kf, const k3_entry *e) {
    char nm[96];
    vars_name(nm, sizeof nm, kf->f, e->path);
    if (!nm[0] || e->check == K3_NAME_FREE) return 0;  // Keras < 3.6 writes no names
    int ok = e->check == K3_NAME_EXACT ? !strcmp(nm, e->name) : !strncmp(nm, e->name, (size_t)e->prefix_len);
    if (ok) return 0;
    if (e->check == K3_NAME_PREFIX)
        return gs_error("%s: %s is layer '%s', expected a '%.*s...' layer (not the seed architecture?)", kf->path,
                        e->path, nm, e->prefix_len, e->name);
    return gs_error("%s: %s is layer '%s', expected '%s' (not the seed architecture?)", kf->path, e->path, nm,
                    e->name);
}

// Every group and array under layers/ must belong to the layout (catches extra layers anywhere).
static int check_leftovers(const kfile *kf, const k3_layout *L) {
    strlist all;
    if (list_group(&all, kf->f, "layers", 1)) return h5_error_here(kf->path, "H5Lvisit(layers)", __FILE__, __LINE__);
    int rc = 0;
    char full[320], owner[320], nm[96];
    for (int i = 0; i < all.n && !rc; i++) {
        snprintf(full, sizeof full, "layers/%s", all.v[i]);
        char *vars = strstr(full, "/vars");
        if (!vars || (vars[5] != 0 && vars[5] != '/')) continue;  // plain path components
        snprintf(owner, sizeof owner, "%.*s", (int)(vars - full), full);
        int k = k3_layout_find(L, owner);
        if (k < 0) {
            vars_name(nm, sizeof nm, kf->f, owner);
            rc = gs_error("%s: unexpected layer at %s%s%s%s: not the seed architecture (%s)", kf->path, owner,
                          nm[0] ? " ('" : "", nm, nm[0] ? "')" : "", K_SEED_ARCH);
        } else if (vars[5] == '/') {
            char *end;
            long j = strtol(vars + 6, &end, 10);
            if (*end || end == vars + 6 || j < 0 || j >= L->e[k].n_vars)
                rc = gs_error("%s: unexpected array %s (layer '%s' has %d)", kf->path, full, L->e[k].name,
                              L->e[k].n_vars);
        }
    }
    strlist_free(&all);
    return rc;
}

// Check (and with data != NULL read into the staging copy) every weight of the layout. *n_ok counts
// the entries that passed, so alpha inference can name the closest width.
static int check_weights(const kfile *kf, const gs_model *m, const k3_layout *L, float *data, int *n_ok) {
    *n_ok = 0;
    if (check_top(kf, L)) return -1;
    for (int i = 0; i < L->n; i++) {
        const k3_entry *e = &L->e[i];
        char vp[256], dp[272], where[400];
        snprintf(vp, sizeof vp, "%s%svars", e->path, e->path[0] ? "/" : "");
        if (e->n_vars > 0 && !k_path_exists(kf->f, vp))
            return gs_error("%s: missing %s (layer '%s' with %d array%s): not the seed architecture?", kf->path, vp,
                            e->name, e->n_vars, e->n_vars > 1 ? "s" : "");
        if (check_name(kf, e)) return -1;
        for (int j = 0; j < e->n_vars; j++) {
            const gs_param *p = &m->params.p[e->param[j]];
            snprintf(dp, sizeof dp, "%s/%d", vp, j);
            snprintf(where, sizeof where, "%s (layer '%s')", dp, e->name);
            if (k_read_param(data ? data + p->offset : NULL, kf->f, dp, p, kf->path, where)) return -1;
        }
        *n_ok = i + 1;
    }
    return check_leftovers(kf, L);
}

// keras_version (metadata.json), the major version (else from the layout), the backbone's name.
static void read_info_strings(const kfile *kf, gs_keras_info *info) {
    info->keras_version[0] = 0;
    const char *v = kf->meta ? k_json_key(kf->meta, "keras_version") : NULL;
    if (v && *v == '"') {
        const char *e = strchr(v + 1, '"');
        if (e) snprintf(info->keras_version, sizeof info->keras_version, "%.*s", (int)(e - v - 1), v + 1);
    }
    info->keras_major = k_version_major(info->keras_version);
    char nm[96];
    vars_name(nm, sizeof nm, kf->f, "layers/bidirectional");
    // tf_keras' Bidirectional saves its template layer too; Keras >= 3.6 names every vars group
    if (!info->keras_major && k_path_exists(kf->f, "layers/bidirectional/layer")) info->keras_major = 2;
    if (!info->keras_major && nm[0]) info->keras_major = 3;
    info->has_config = kf->config != NULL;
    vars_name(info->backbone_name, sizeof info->backbone_name, kf->f, "layers/time_distributed/layer");
}

static int is_legacy_model(int kind) { return kind == GS_KERAS_LEGACY_MODEL || kind == GS_KERAS_LEGACY_WEIGHTS; }

int keras_load_model_file(gs_model *m, const char *path) {
    int kind = keras_file_kind(path);
    if (kind < 0) return -1;
    if (is_legacy_model(kind)) return k_legacy_model_load(m, path);
    kfile kf;
    if (kfile_open(&kf, path)) return -1;
    k3_layout L;
    k3_layout_build(&L, m);
    size_t n = m->params.numel, nt = m->params.numel_trainable;
    float *data = gs_malloc(n * sizeof(float));
    float *mom = gs_calloc(nt ? nt : 1, sizeof(float)), *vel = gs_calloc(nt ? nt : 1, sizeof(float));
    memcpy(data, m->params.data, n * sizeof(float));
    gs_keras_info info;
    int n_ok;
    int rc = check_weights(&kf, m, &L, data, &n_ok);
    if (rc == 0) rc = k_opt_read_vars(&info, mom, vel, m, kf.f, path, kf.config);
    if (rc == 0) {
        memcpy(m->params.data, data, n * sizeof(float));
        memcpy(m->params.m, mom, nt * sizeof(float));  // zeros without Adam slots
        memcpy(m->params.v, vel, nt * sizeof(float));
        m->adam_t = info.adam_vars ? info.iterations : 0;
    }
    free(data);
    free(mom);
    free(vel);
    k3_layout_free(&L);
    kfile_close(&kf);
    return rc;
}

// k_find_width's check: every weight of the file fits m, in the Keras 3 layout.
static int k3_fits(void *ctx, gs_model *m, int *n_ok) {
    k3_layout L;
    k3_layout_build(&L, m);
    int r = check_weights(ctx, m, &L, NULL, n_ok);
    k3_layout_free(&L);
    return r;
}

// GRU and dense units and classes (head shapes), then the width whose every shape matches, into a
// (frames and size untouched: the weights do not depend on them).
static int weights_arch(const kfile *kf, gs_model_arch *a) {
    const char *path = kf->path;
    hsize_t g[8], d1[8], d2[8];
    if (k_dims_of(g, kf->f, "layers/bidirectional/forward_layer/cell/vars/1") != 2 || g[1] != 3 * g[0]) {
        strlist top = {0};
        char have[512] = "";
        size_t used = 0;
        if (k_path_exists(kf->f, "layers") && list_group(&top, kf->f, "layers", 0) == 0)
            for (int i = 0; i < top.n && used < sizeof have; i++)
                used += (size_t)snprintf(have + used, sizeof have - used, "%s%s", i ? ", " : "", top.v[i]);
        strlist_free(&top);
        return gs_error("%s: no Bidirectional GRU at layers/bidirectional/forward_layer/cell: not the seed "
                        "architecture (%s); the file's layers: %s", path, K_SEED_ARCH, have[0] ? have : "none");
    }
    if (k_head_dim(&a->gru_units, path, "layers/bidirectional/forward_layer/cell/vars/1", "GRU units", g[0], 1,
                 GS_MAX_UNITS))
        return -1;
    if (k_dims_of(d1, kf->f, "layers/dense/vars/0") != 2 || d1[0] != 2 * g[0])
        return gs_error("%s: layers/dense/vars/0 is not a Dense kernel on the BiGRU output (%d): not the seed "
                        "architecture (%s)", path, 2 * a->gru_units, K_SEED_ARCH);
    if (k_head_dim(&a->dense_units, path, "layers/dense/vars/0", "dense units", d1[1], 1, GS_MAX_UNITS)) return -1;
    if (k_dims_of(d2, kf->f, "layers/dense_1/vars/0") != 2 || d2[0] != d1[1])
        return gs_error("%s: layers/dense_1/vars/0 is not the output Dense kernel (%d inputs): not the seed "
                        "architecture (%s)", path, a->dense_units, K_SEED_ARCH);
    if (k_head_dim(&a->classes, path, "layers/dense_1/vars/0", "classes", d2[1], 2, GS_MAX_CLASSES)) return -1;
    // the width whose every shape matches (Conv1 alone cannot tell 0.35 from 0.5)
    return k_find_width(a, k3_fits, (void *)kf);
}

int keras_weights_arch(gs_model_arch *arch, const char *path) {
    int kind = keras_file_kind(path);
    if (kind < 0) return -1;
    if (is_legacy_model(kind)) {
        gs_model_arch a = *arch;
        gs_keras_info info;
        if (k_legacy_model_info(&a, &info, path)) return -1;
        arch->alpha = a.alpha;
        arch->gru_units = a.gru_units;
        arch->dense_units = a.dense_units;
        arch->classes = a.classes;
        return 0;
    }
    kfile kf;
    if (kfile_open(&kf, path)) return -1;
    int rc = weights_arch(&kf, arch);
    kfile_close(&kf);
    return rc;
}

int keras_read_model_info(gs_model_arch *arch, gs_keras_info *info, const char *path) {
    int kind = keras_file_kind(path);
    if (kind < 0) return -1;
    if (is_legacy_model(kind)) return k_legacy_model_info(arch, info, path);
    kfile kf;
    if (kfile_open(&kf, path)) return -1;
    gs_model_arch a = *arch;
    int rc = weights_arch(&kf, &a);
    if (rc == 0 && kf.config) rc = k_config_arch(&a, kf.config, path, "config.json");
    if (rc == 0) {
        read_info_strings(&kf, info);
        gs_model_arch probe = a;  // the optimizer's shapes do not depend on frames or size
        probe.batch = probe.frames = 1;
        probe.size = 32;
        gs_model m;
        rc = model_init(&m, &probe);
        if (rc == 0) {
            rc = k_opt_read_vars(info, NULL, NULL, &m, kf.f, path, kf.config);
            model_free(&m);
        }
    }
    if (rc == 0) *arch = a;
    kfile_close(&kf);
    return rc;
}

int keras_infer_arch(gs_model_arch *arch, gs_keras_info *info, const char *path) {
    gs_model_arch a = {.batch = 1, .dropout = 0.25f, .l2 = 0.0f};
    gs_keras_info own;
    if (!info) info = &own;
    if (keras_read_model_info(&a, info, path)) return -1;
    if (!info->has_config)
        return gs_error("%s: a bare weights file holds no input shape (frames, size): build the model from a config "
                        "and load it with keras_load_model_file", path);
    *arch = a;
    return 0;
}

int keras_file_kind(const char *path) {
    int z = k_is_zip(path);
    if (z < 0) return -1;
    if (z) return GS_KERAS_ARCHIVE;
    hid_t f = h5_open_as(path, 0, K_DAMAGED);
    if (f < 0) return -1;
    char **fmt = NULL;
    int nf = 0, kind = -1;
    if (h5_attr_exists(f, "format")) k_attr_strs(&fmt, &nf, path, "/", f, "format");
    if (nf == 1 && !strcmp(fmt[0], GS_BACKBONE_FORMAT)) kind = GS_KERAS_BACKBONE;
    else if (nf == 1) gs_error("%s: a %s file, not a Keras file", path, fmt[0]);
    else if (k_path_exists(f, "layers")) kind = GS_KERAS_WEIGHTS;
    else if (h5_attr_exists(f, "layer_names") || h5_attr_exists(f, "layer_names0") || k_path_exists(f, "model_weights"))
        kind = k_legacy_kind(f, path);
    else gs_error("%s: HDF5, but not a Keras weight file (no layer_names, no layers group)", path);
    k_strs_free(fmt, nf);
    H5Fclose(f);
    return kind;
}
