// Keras 3 `.weights.h5` export: the layout Keras' saver writes for the seed model (the same as
// model.weights.h5 inside a `.keras`), every saveable's `vars` group with its `name` attribute, so
// keras Model.load_weights() reads it. Written atomically (temp file + rename).
#include <stdio.h>
#include <string.h>

#include "gesture/errors.h"
#include "gesture/keras.h"
#include "h5util.h"
#include "keras_internal.h"

// float32 (or int64 when i64 != NULL) dataset `name` in loc; ndim 0 = scalar.
static int write_array(const char *file, hid_t loc, const char *name, int ndim, const int *shape, const float *f32,
                       const long long *i64) {
    hsize_t dims[4];
    for (int i = 0; i < ndim; i++) dims[i] = (hsize_t)shape[i];
    hid_t s = -1, d = -1;
    H5_CHECK(file, s = ndim ? H5Screate_simple(ndim, dims, NULL) : H5Screate(H5S_SCALAR));
    H5_CHECK(file, d = H5Dcreate2(loc, name, i64 ? H5T_STD_I64LE : H5T_IEEE_F32LE, s, H5P_DEFAULT, H5P_DEFAULT,
                                  H5P_DEFAULT));
    H5_CHECK(file, H5Dwrite(d, i64 ? H5T_NATIVE_LLONG : H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                            i64 ? (const void *)i64 : (const void *)f32));
    H5Dclose(d);
    H5Sclose(s);
    return 0;
fail:
    if (d >= 0) H5Dclose(d);
    if (s >= 0) H5Sclose(s);
    return -1;
}

// Create <path>/vars (and missing parents) with its `name` attribute; returns the group or -1.
static hid_t make_vars(const char *file, hid_t f, hid_t lcpl, const char *path, const char *name) {
    char vp[256];
    snprintf(vp, sizeof vp, "%s%svars", path, path[0] ? "/" : "");
    hid_t g = H5Gcreate2(f, vp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return h5_error_here(file, "H5Gcreate2(vars)", __FILE__, __LINE__);
    if (h5_attr_write_vlen_str(file, g, "name", name)) {
        H5Gclose(g);
        return -1;
    }
    return g;
}

static int write_all(const char *file, hid_t f, const gs_model *m, int adam, double lr) {
    k3_layout L;
    k3_layout_build(&L, m);
    hid_t lcpl = h5_lcpl_intermediate(), g = -1;
    int rc = -1;
    if (lcpl < 0) {
        h5_error_here(file, "h5_lcpl_intermediate()", __FILE__, __LINE__);
        goto out;
    }
    for (int i = 0; i < L.n; i++) {
        const k3_entry *e = &L.e[i];
        if (e->optional) continue;
        if ((g = make_vars(file, f, lcpl, e->path, e->name)) < 0) goto out;
        for (int j = 0; j < e->n_vars; j++) {
            const gs_param *p = &m->params.p[e->param[j]];
            char key[16];
            snprintf(key, sizeof key, "%d", j);
            if (write_array(file, g, key, p->ndim, p->shape, params_ptr(&m->params, e->param[j]), NULL)) goto out;
        }
        H5Gclose(g);
        g = -1;
    }
    if (adam) {
        // Keras Adam: iteration, learning_rate, then (m, v) per trainable variable in
        // model.trainable_variables order, which is our declaration order of trainables
        if ((g = make_vars(file, f, lcpl, "optimizer", "adam")) < 0) goto out;
        long long it = m->adam_t;
        float lr32 = (float)lr;
        if (write_array(file, g, "0", 0, NULL, NULL, &it) || write_array(file, g, "1", 0, NULL, &lr32, NULL)) goto out;
        for (int i = 0, k = 0; i < m->params.n; i++) {
            const gs_param *p = &m->params.p[i];
            if (!p->trainable) continue;
            char key[16];
            snprintf(key, sizeof key, "%d", 2 + 2 * k);
            if (write_array(file, g, key, p->ndim, p->shape, m->params.m + p->offset, NULL)) goto out;
            snprintf(key, sizeof key, "%d", 3 + 2 * k);
            if (write_array(file, g, key, p->ndim, p->shape, m->params.v + p->offset, NULL)) goto out;
            k++;
        }
        H5Gclose(g);
        g = -1;
    }
    rc = 0;
out:
    if (g >= 0) H5Gclose(g);
    if (lcpl >= 0) H5Pclose(lcpl);
    k3_layout_free(&L);
    return rc;
}

static int export(const gs_model *m, const char *out_path, int adam, double lr) {
    h5_atomic a;
    if (h5_atomic_create(&a, out_path)) return -1;
    if (write_all(out_path, a.fid, m, adam, lr)) {
        h5_atomic_abort(&a);
        return -1;
    }
    return h5_atomic_commit(&a);
}

int keras_export_weights(const gs_model *m, const char *out_path) { return export(m, out_path, 0, 0.0); }

int keras_export_weights_adam(const gs_model *m, double learning_rate, const char *out_path) {
    return export(m, out_path, 1, learning_rate);
}

int keras_save_backbone(const gs_model *m, const char *source, const char *out_path) {
    h5_atomic a;
    if (h5_atomic_create(&a, out_path)) return -1;
    hid_t lcpl = h5_lcpl_intermediate();
    int rc = lcpl < 0 ? h5_error_here(out_path, "h5_lcpl_intermediate()", __FILE__, __LINE__) : 0;
    for (int i = 0; rc == 0 && i < m->n_nodes; i++) {
        const gs_node *n = &m->nodes[i];
        int prm[8];
        int np = n->backbone ? k_node_params(n, prm) : 0;
        for (int j = 0; rc == 0 && j < np; j++) {
            const gs_param *p = &m->params.p[prm[j]];
            char dp[160];
            snprintf(dp, sizeof dp, "weights/%s", p->name);
            // create the parents, then the array itself
            hid_t g = -1;
            char parent[160];
            snprintf(parent, sizeof parent, "%s", dp);
            *strrchr(parent, '/') = 0;
            if (!k_path_exists(a.fid, parent)) {
                g = H5Gcreate2(a.fid, parent, lcpl, H5P_DEFAULT, H5P_DEFAULT);
                if (g < 0) rc = h5_error_here(out_path, "H5Gcreate2", __FILE__, __LINE__);
                else H5Gclose(g);
            }
            if (rc == 0)
                rc = write_array(out_path, a.fid, dp, p->ndim, p->shape, params_ptr(&m->params, prm[j]), NULL);
        }
    }
    if (lcpl >= 0) H5Pclose(lcpl);
    if (rc == 0) rc = h5_attr_write_str(out_path, a.fid, "format", GS_BACKBONE_FORMAT);
    if (rc == 0) rc = h5_attr_write_i64(out_path, a.fid, "format_version", 1);
    if (rc == 0) rc = h5_attr_write_f64(out_path, a.fid, "alpha", (double)m->cfg.alpha);
    if (rc == 0) rc = h5_attr_write_str(out_path, a.fid, "source", source);
    if (rc) {
        h5_atomic_abort(&a);
        return -1;
    }
    return h5_atomic_commit(&a);
}
