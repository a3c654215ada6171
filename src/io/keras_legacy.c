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
    memcpy(*v + *n, got, (size_t)ng * sizeof *got);
    *n += ng;
    free(got);
    return 0;
}

// Keras' load_attributes_from_hdf5_group: `name`, or the chunks name0, name1, ... that Keras
// writes when the list exceeds the 64 KiB object-header limit. Absent: an empty list.
static int read_name_list(char ***v, int *n, const char *file, const char *where, hid_t loc, const char *name) {
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

// One layer of the file that has weights.
typedef struct {
    char *layer;
    char **weights;
    int n_weights;
} file_layer;

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

// Load into stage (a copy of m's parameter data). *n_ok counts the layers that matched before the
// first error, so a caller trying several widths can report the closest one.
static int load_legacy(gs_model *m, float *stage, const char *path, int *n_ok) {
    *n_ok = 0;
    hid_t f = h5_open(path, 0), root = -1;
    if (f < 0) return -1;
    int rc = -1, n_names = 0, n_file = 0;
    char **names = NULL;
    file_layer *fl = NULL;
    const char *where = "/";
    root = f;
    if (has_format(f, GS_BACKBONE_FORMAT)) {
        rc = load_ours(m, stage, path, f, n_ok);
        goto out;
    }
    if (!h5_attr_exists(f, "layer_names") && !h5_attr_exists(f, "layer_names0") &&
        k_path_exists(f, "model_weights")) {
        if ((root = H5Gopen2(f, "model_weights", H5P_DEFAULT)) < 0) {
            h5_error_here(path, "H5Gopen(model_weights)", __FILE__, __LINE__);
            goto out;
        }
        where = "/model_weights";
    }
    if (!h5_attr_exists(root, "layer_names") && !h5_attr_exists(root, "layer_names0")) {
        gs_error("%s: no layer_names attribute at / or /model_weights: not a legacy Keras weight file "
                 "(a Keras 3 .weights.h5 or .keras goes through keras_load_model_file)", path);
        goto out;
    }
    if (read_name_list(&names, &n_names, path, where, root, "layer_names")) goto out;
    fl = gs_calloc((size_t)n_names + 1, sizeof *fl);
    int whole_model = 0;
    for (int i = 0; i < n_names; i++) {
        if (!strcmp(names[i], "time_distributed") || !strcmp(names[i], "bidirectional")) whole_model = 1;
        if (!names[i][0] || !k_path_exists(root, names[i])) {
            gs_error("%s: layer '%s' listed in %s@layer_names has no group", path, names[i], where);
            goto out;
        }
        hid_t g = H5Gopen2(root, names[i], H5P_DEFAULT);
        if (g < 0) {
            gs_error("%s: %s/%s is not a group", path, where, names[i]);
            goto out;
        }
        char gw[256];
        snprintf(gw, sizeof gw, "%s/%s", where[1] ? where : "", names[i]);
        char **wn;
        int nw;
        int r = read_name_list(&wn, &nw, path, gw, g, "weight_names");
        H5Gclose(g);
        if (r) goto out;
        if (nw == 0) {
            k_strs_free(wn, nw);
            continue;
        }
        fl[n_file++] = (file_layer){names[i], wn, nw};
    }

    int idx[MAX_WEIGHTED];
    int n_model = k_backbone_weighted(m, idx, MAX_WEIGHTED);
    if (n_file != n_model) {
        gs_error("%s: %d layers with weights, a MobileNetV2 without top has %d%s", path, n_file, n_model,
                 n_file == n_model + 1 ? " (an include_top file? use the _no_top one)"
                 : whole_model        ? " (a legacy save of a whole model, not MobileNetV2 weights: save it as .keras)"
                                      : " (not a MobileNetV2 no-top weight file)");
        goto out;
    }
    for (int k = 0; k < n_file; k++) {
        const gs_node *node = &m->nodes[idx[k]];
        int prm[8];
        int np = k_node_params(node, prm);
        if (fl[k].n_weights != np) {
            gs_error("%s: layer '%s' (weighted layer %d of %d) has %d arrays, but the model's layer %d is %s "
                     "with %d (not a MobileNetV2 file, or a different layer order)",
                     path, fl[k].layer, k + 1, n_file, fl[k].n_weights, k + 1, node->name, np);
            goto out;
        }
        hid_t g = H5Gopen2(root, fl[k].layer, H5P_DEFAULT);
        if (g < 0) {
            h5_error_here(path, "H5Gopen(layer)", __FILE__, __LINE__);
            goto out;
        }
        for (int j = 0; j < np; j++) {
            const gs_param *p = &m->params.p[prm[j]];
            char w[512];
            snprintf(w, sizeof w, "layer '%s' (weighted layer %d = our %s) array '%s'", fl[k].layer, k + 1,
                     node->name, fl[k].weights[j]);
            if (!k_path_exists(g, fl[k].weights[j])) {
                gs_error("%s: array '%s' listed in weight_names of layer '%s' is missing (renamed or deleted?)",
                         path, fl[k].weights[j], fl[k].layer);
                H5Gclose(g);
                goto out;
            }
            if (k_read_param(stage + p->offset, g, fl[k].weights[j], p, path, w)) {
                H5Gclose(g);
                goto out;
            }
        }
        H5Gclose(g);
        *n_ok = k + 1;
    }
    rc = 0;
out:
    for (int i = 0; i < n_file; i++) k_strs_free(fl[i].weights, fl[i].n_weights);
    free(fl);
    k_strs_free(names, n_names);
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
