// Legacy Keras HDF5 import of MobileNetV2 no-top weights (the ImageNet files), as Keras'
// legacy_h5_format.load_weights_from_hdf5_group does it: the layers of `layer_names` that have
// weights, in that order, map one to one onto the model's weighted layers; names are never
// compared (the ImageNet files say mobl1_conv_1_expand where Keras says block_1_expand).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"
#include "gesture/keras.h"
#include "h5util.h"
#include "keras_internal.h"

#define MAX_WEIGHTED 512

// Append the strings of attribute `attr` of loc to *v (an empty numeric array adds none).
static int append_attr(char ***v, int *n, const char *file, const char *where, hid_t loc, const char *attr) {
    char **got;
    int ng;
    if (k_attr_strs(&got, &ng, file, where, loc, attr)) return -1;
    *v = realloc(*v, (size_t)(*n + ng + 1) * sizeof **v);
    GS_ASSERT(*v);
    if (ng > 0) memcpy(*v + *n, got, (size_t)ng * sizeof *got);  // got is NULL for an empty list
    *n += ng;
    free(got);
    return 0;
}

int k_name_list(char ***v, int *n, const char *file, const char *where, hid_t loc, const char *name) {
    *v = NULL;
    *n = 0;
    int rc = 0;
    if (h5_attr_exists(loc, name)) {
        rc = append_attr(v, n, file, where, loc, name);
    } else {
        char chunk[96];
        for (int k = 0;; k++) {
            snprintf(chunk, sizeof chunk, "%s%d", name, k);
            if (!h5_attr_exists(loc, chunk)) break;
            if ((rc = append_attr(v, n, file, where, loc, chunk)) != 0) break;
        }
    }
    if (rc) {
        k_strs_free(*v, *n);
        *v = NULL;
        *n = 0;
    }
    return rc;
}

// Root attribute `format` of f is `want`?
static int has_format(hid_t f, const char *want) {
    char **v = NULL;
    int n = 0, yes = 0;
    if (h5_attr_exists(f, "format") && k_attr_strs(&v, &n, "", "/", f, "format") == 0 && n == 1)
        yes = !strcmp(v[0], want);
    k_strs_free(v, n);
    return yes;
}

// Our gesture-backbone file: every MobileNetV2 variable by name, nothing else expected.
static int load_ours(gs_model *m, float *stage, const char *path, hid_t f, int *n_ok) {
    for (int i = 0; i < m->n_nodes; i++) {
        const gs_node *n = &m->nodes[i];
        if (!n->backbone) continue;
        int prm[8];
        int np = k_node_params(n, prm);
        for (int j = 0; j < np; j++) {
            const gs_param *p = &m->params.p[prm[j]];
            char dp[160];
            snprintf(dp, sizeof dp, "weights/%s", p->name);
            if (k_read_param(stage + p->offset, f, dp, p, path, dp)) return -1;
        }
        if (np) (*n_ok)++;
    }
    return 0;
}

void k_legacy_layers_free(k_legacy_layers *L) {
    for (int i = 0; i < L->n_file; i++) k_strs_free(L->fl[i].weights, L->fl[i].n_weights);
    free(L->fl);
    k_strs_free(L->names, L->n_names);
}

int k_legacy_find_root(hid_t *root, const char **where, hid_t f, const char *path) {
    *root = f;
    *where = "/";
    if (!h5_attr_exists(f, "layer_names") && !h5_attr_exists(f, "layer_names0") &&
        k_path_exists(f, "model_weights")) {
        if ((*root = H5Gopen2(f, "model_weights", H5P_DEFAULT)) < 0)
            return h5_error_here(path, "H5Gopen(model_weights)", __FILE__, __LINE__);
        *where = "/model_weights";
    }
    if (!h5_attr_exists(*root, "layer_names") && !h5_attr_exists(*root, "layer_names0"))
        return gs_error("%s: no layer_names attribute at / or /model_weights: not a legacy Keras weight file "
                        "(a Keras 3 .weights.h5 or .keras goes through keras_load_model_file)", path);
    return 0;
}

int k_legacy_read_layers(k_legacy_layers *L, hid_t root, const char *path, const char *where) {
    if (k_name_list(&L->names, &L->n_names, path, where, root, "layer_names")) return -1;
    L->fl = gs_calloc((size_t)L->n_names + 1, sizeof *L->fl);
    for (int i = 0; i < L->n_names; i++) {
        char *name = L->names[i];
        if (!strncmp(name, "time_distributed", 16) || !strncmp(name, "bidirectional", 13)) L->whole_model = 1;
        if (!name[0] || !k_path_exists(root, name))
            return gs_error("%s: layer '%s' listed in %s@layer_names has no group", path, name, where);
        hid_t g = H5Gopen2(root, name, H5P_DEFAULT);
        if (g < 0) return gs_error("%s: %s/%s is not a group", path, where, name);
        char gw[256];
        snprintf(gw, sizeof gw, "%s/%s", where[1] ? where : "", name);
        char **wn;
        int nw;
        int r = k_name_list(&wn, &nw, path, gw, g, "weight_names");
        H5Gclose(g);
        if (r) return -1;
        if (nw == 0) {
            k_strs_free(wn, nw);
            continue;
        }
        if (nw > 4) L->whole_model = 1;  // a MobileNetV2 layer has at most 4 arrays (BN), a nested model more
        L->fl[L->n_file++] = (k_legacy_layer){name, wn, nw};
    }
    return 0;
}

// As many weighted layers in the file as in the model? If not, the error guesses what the file is.
static int legacy_check_count(const k_legacy_layers *L, int n_model, const char *path) {
    if (L->n_file == n_model) return 0;
    return gs_error("%s: %d layers with weights, a MobileNetV2 without top has %d%s", path, L->n_file, n_model,
                    L->n_file == n_model + 1 ? " (an include_top file? use the _no_top one)"
                    : L->whole_model ? " (a legacy save of a whole model, not MobileNetV2 weights: gesture import-keras reads it)"
                                     : " (not a MobileNetV2 no-top weight file)");
}

// The file's weighted layer k into node's parameters in stage (a copy of m's parameter data).
// 0, or -1 + gs_error.
static int legacy_load_layer(float *stage, const gs_model *m, const gs_node *node, hid_t root,
                             const k_legacy_layers *L, int k, const char *path) {
    const k_legacy_layer *fl = &L->fl[k];
    int prm[8];
    int np = k_node_params(node, prm);
    if (fl->n_weights != np)
        return gs_error("%s: layer '%s' (weighted layer %d of %d) has %d arrays, but the model's layer %d is %s "
                        "with %d (not a MobileNetV2 file, or a different layer order)",
                        path, fl->layer, k + 1, L->n_file, fl->n_weights, k + 1, node->name, np);
    hid_t g = H5Gopen2(root, fl->layer, H5P_DEFAULT);
    if (g < 0) return h5_error_here(path, "H5Gopen(layer)", __FILE__, __LINE__);
    int rc = 0;
    for (int j = 0; j < np && rc == 0; j++) {
        const gs_param *p = &m->params.p[prm[j]];
        char w[512];
        snprintf(w, sizeof w, "layer '%s' (weighted layer %d = our %s) array '%s'", fl->layer, k + 1, node->name,
                 fl->weights[j]);
        if (!k_path_exists(g, fl->weights[j]))
            rc = gs_error("%s: array '%s' listed in weight_names of layer '%s' is missing (renamed or deleted?)",
                          path, fl->weights[j], fl->layer);
        else if (k_read_param(stage + p->offset, g, fl->weights[j], p, path, w))
            rc = -1;
    }
    H5Gclose(g);
    return rc;
}

// Load into stage (a copy of m's parameter data). *n_ok counts the layers that matched before the
// first error, so a caller trying several widths can report the closest one.
static int load_legacy(gs_model *m, float *stage, const char *path, int *n_ok) {
    *n_ok = 0;
    hid_t f = h5_open_as(path, 0, K_DAMAGED);
    if (f < 0) return -1;
    if (has_format(f, GS_BACKBONE_FORMAT)) {
        int rc = load_ours(m, stage, path, f, n_ok);
        H5Fclose(f);
        return rc;
    }
    hid_t root;
    const char *where;
    k_legacy_layers L = {0};
    int idx[MAX_WEIGHTED];
    int rc = k_legacy_find_root(&root, &where, f, path);
    if (rc == 0) rc = k_legacy_read_layers(&L, root, path, where);
    if (rc == 0) rc = legacy_check_count(&L, k_backbone_weighted(m, idx, MAX_WEIGHTED), path);
    for (int k = 0; rc == 0 && k < L.n_file; k++) {
        rc = legacy_load_layer(stage, m, &m->nodes[idx[k]], root, &L, k, path);
        if (rc == 0) *n_ok = k + 1;
    }
    k_legacy_layers_free(&L);
    if (root >= 0 && root != f) H5Gclose(root);
    H5Fclose(f);
    return rc;
}

int keras_load_backbone_h5(gs_model *m, const char *path) {
    size_t n = m->params.numel;
    float *stage = gs_malloc(n * sizeof(float));
    memcpy(stage, m->params.data, n * sizeof(float));
    int n_ok;
    int rc = load_legacy(m, stage, path, &n_ok);
    if (rc == 0) memcpy(m->params.data, stage, n * sizeof(float));
    free(stage);
    return rc;
}

int keras_backbone_tensors(const gs_model *m) {
    int n = 0, prm[8];
    for (int i = 0; i < m->n_nodes; i++)
        if (m->nodes[i].backbone) n += k_node_params(&m->nodes[i], prm);
    return n;
}

int keras_backbone_h5_alpha(float *alpha, const char *path) {
    int best = -1, best_ok = -1, all_same = 1;
    char best_msg[1024] = "", first_msg[1024] = "";
    for (int i = 0; i < K_N_WIDTHS; i++) {
        // the smallest model of this width: the weights do not depend on the input size
        gs_model_arch a = {.alpha = K_WIDTHS[i], .size = 32, .frames = 1, .batch = 1, .classes = 2,
                           .gru_units = 1, .dense_units = 1, .dropout = 0, .l2 = 0};
        gs_model m;
        if (model_init(&m, &a)) return -1;
        float *stage = gs_malloc(m.params.numel * sizeof(float));
        int n_ok;
        int rc = load_legacy(&m, stage, path, &n_ok);
        free(stage);
        model_free(&m);
        if (rc == 0) {
            *alpha = K_WIDTHS[i];
            return 0;
        }
        if (i == 0) snprintf(first_msg, sizeof first_msg, "%s", gs_last_error());
        else if (strcmp(first_msg, gs_last_error())) all_same = 0;
        if (n_ok > best_ok) {
            best_ok = n_ok;
            best = i;
            snprintf(best_msg, sizeof best_msg, "%s", gs_last_error());
        }
    }
    if (all_same) return gs_error("%s", first_msg);  // not a width question (wrong file, missing array)
    return gs_error("%s: matches no MobileNetV2 width (0.35, 0.5, 0.75, 1.0, 1.3, 1.4); closest is %.2f: %s", path,
                    (double)K_WIDTHS[best], best_msg);
}
