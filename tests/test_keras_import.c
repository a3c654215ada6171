// Keras import/export against files real Keras wrote (tests/fixtures/keras, see its README):
// seed_small.keras reproduces Keras' predictions and intermediates; the three legacy backbone files
// (weights at the root, under /model_weights, ImageNet-style mobl* names with fixed-length strings)
// reproduce Keras' out_relu; chunked layer_names load; export writes exactly Keras' layout (compared
// object by object with the model.weights.h5 Keras wrote) and re-imports bit for bit, Adam included.
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gesture/errors.h"
#include "gesture/fsutil.h"
#include "gesture/keras.h"
#include "gesture/model.h"
#include "testutil.h"

static const char *FX, *TMP;  // the Keras-made fixtures, a scratch folder

static const char *kx(const char *file) { return test_path(FX, file); }
static const char *tmp(const char *file) { return test_path(TMP, file); }

static gs_model_arch small_arch(int batch, int frames) {
    return (gs_model_arch){.alpha = 0.35f, .size = 96, .frames = frames, .batch = batch, .classes = 5,
                           .gru_units = 128, .dense_units = 128, .dropout = 0.25f, .l2 = 1e-4f};
}

static const float *node_out(const gs_model *m, const char *name) {
    int i = model_find_node(m, name);
    GS_ASSERT(i >= 0);
    return m->arena + m->nodes[i].out_off;
}

static void compare_out(const char *what, const float *got, const char *file, const char *name, size_t n) {
    double *want = fx_read(file, name, NULL, NULL);
    GS_ASSERT(fx_numel(file, name) == n);
    check_close(what, got, want, n, 1e-4);
    free(want);
}

// ---- seed_small.keras ----

static void test_seed_model(gs_model *m) {
    const char *path = kx("seed_small.keras"), *exp = kx("seed_small_expected.h5");
    gs_model_arch a;
    gs_keras_info info;
    int rc = keras_infer_arch(&a, &info, path);
    if (!check(rc == 0, "infer arch of seed_small.keras (%s)", rc ? gs_last_error() : "")) return;
    check(a.alpha == 0.35f && a.size == 96 && a.frames == 4 && a.classes == 5 && a.gru_units == 128 &&
              a.dense_units == 128 && fabsf(a.dropout - 0.25f) < 1e-6f && fabsf(a.l2 - 1e-4f) < 1e-9f,
          "inferred alpha %.2f size %d frames %d classes %d gru %d dense %d dropout %.2f l2 %g", (double)a.alpha,
          a.size, a.frames, a.classes, a.gru_units, a.dense_units, (double)a.dropout, (double)a.l2);
    check(!strcmp(info.keras_version, "3.15.1") && !strcmp(info.backbone_name, "mobilenetv2_0.35_96"),
          "info: keras %s, backbone '%s'", info.keras_version, info.backbone_name);
    check(info.optimizer_vars == 2 && info.iterations == 0 && fabs(info.learning_rate - 1e-4) < 1e-9 &&
              !info.has_adam_slots,
          "info: unbuilt Adam (%d vars, iterations %ld, lr %g)", info.optimizer_vars, info.iterations,
          info.learning_rate);

    a.batch = 2;
    if (model_init(m, &a)) gs_fatal("%s", gs_last_error());
    model_init_weights(m, 99);
    m->adam_t = 5;
    rc = keras_load_model_file(m, path);
    if (!check(rc == 0, "load seed_small.keras (%s)", rc ? gs_last_error() : "")) return;
    check(m->adam_t == 0, "unbuilt optimizer: adam_t reset to 0");

    // Keras' model.weights order (the fixture's index) is our declaration order, so Keras'
    // trainable_variables order (Adam slots) is our trainable order
    int n;
    char **names = fx_read_strs(exp, "weights/gesture_name", &n);
    int same = n == m->params.n;
    for (int i = 0; same && i < n; i++) same = !strcmp(names[i], m->params.p[i].name);
    check(same, "Keras model.weights order == our parameter order (%d vs %d variables)", n, m->params.n);
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);

    const char *tags[2] = {"unit", "sym"};
    for (int t = 0; t < 2; t++) {
        char name[64], what[96];
        size_t nx;
        snprintf(name, sizeof name, "x_%s", tags[t]);
        float *x = fx_read_f32(exp, name, &nx);
        GS_ASSERT(nx == (size_t)2 * 4 * 96 * 96 * 3);
        memcpy(model_input(m), x, nx * sizeof(float));
        free(x);
        model_forward(m, 2, 0, 0);
        const char *pairs[5][2] = {{"probs", NULL}, {"logits", NULL}, {"gap", "global_average_pooling"},
                                   {"bigru", "gru"}, {"dense", "dense_hidden"}};
        for (int k = 0; k < 5; k++) {
            snprintf(name, sizeof name, "%s_%s", pairs[k][0], tags[t]);
            snprintf(what, sizeof what, "seed_small.keras %s", name);
            const float *got = k == 0 ? model_probs(m) : k == 1 ? model_logits(m) : node_out(m, pairs[k][1]);
            compare_out(what, got, exp, name, fx_numel(exp, name));
        }
        if (t == 0) {  // first clip's 4 frames through MobileNetV2
            compare_out("seed_small.keras backbone out_relu (clip 0)", node_out(m, "Conv_1_bn"), exp,
                        "backbone_unit", fx_numel(exp, "backbone_unit"));
        }
    }
}

// ---- legacy backbone files ----

static void backbone_check(const char *file, const char *label, const float *want_params) {
    const char *exp = kx("backbone_expected.h5");
    gs_model_arch a = small_arch(1, 2);  // 2 frames = the fixture's 2 images
    gs_model m;
    if (model_init(&m, &a)) gs_fatal("%s", gs_last_error());
    model_init_weights(&m, 3);
    float alpha = 0;
    int rc = keras_backbone_h5_alpha(&alpha, file);
    check(rc == 0 && alpha == 0.35f, "%s: width detected as %.2f (%s)", label, (double)alpha,
          rc ? gs_last_error() : "");
    rc = keras_load_backbone_h5(&m, file);
    if (check(rc == 0, "%s: keras_load_backbone_h5 (%s)", label, rc ? gs_last_error() : "")) {
        size_t nx;
        float *x = fx_read_f32(exp, "x", &nx);
        memcpy(model_input(&m), x, nx * sizeof(float));
        free(x);
        model_forward(&m, 1, 0, 0);
        char what[128];
        snprintf(what, sizeof what, "%s: out_relu", label);
        compare_out(what, node_out(&m, "Conv_1_bn"), exp, "out_relu", fx_numel(exp, "out_relu"));
        int hb = params_find(&m.params, "head_bn/gamma");
        check(params_ptr(&m.params, hb)[0] == 1.0f, "%s: head left alone", label);
        if (want_params)
            check(!memcmp(want_params, m.params.data, m.params.numel * sizeof(float)),
                  "%s: same weights as the root-layout file", label);
    }
    model_free(&m);
}

// (a) with layer_names split into layer_names0/1 (what Keras writes past 64 KiB).
static void make_chunked(const char *dst) {
    GS_ASSERT(fs_copy_file(dst, kx("mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5")) == 0);
    hid_t f = H5Fopen(dst, H5F_ACC_RDWR, H5P_DEFAULT), a = H5Aopen(f, "layer_names", H5P_DEFAULT);
    hid_t t = H5Aget_type(a), s = H5Aget_space(a);
    int n = (int)H5Sget_simple_extent_npoints(s);
    char **v = gs_calloc((size_t)n, sizeof *v);
    GS_ASSERT(H5Tis_variable_str(t) > 0 && H5Aread(a, t, v) >= 0);
    H5Aclose(a);
    H5Adelete(f, "layer_names");
    int half = n / 2;
    for (int c = 0; c < 2; c++) {
        hsize_t dims[1] = {(hsize_t)(c ? n - half : half)};
        hid_t cs = H5Screate_simple(1, dims, NULL);
        hid_t ca = H5Acreate2(f, c ? "layer_names1" : "layer_names0", t, cs, H5P_DEFAULT, H5P_DEFAULT);
        GS_ASSERT(H5Awrite(ca, t, v + (c ? half : 0)) >= 0);
        H5Aclose(ca);
        H5Sclose(cs);
    }
    H5Dvlen_reclaim(t, s, H5P_DEFAULT, v);
    free(v);
    H5Sclose(s);
    H5Tclose(t);
    H5Fclose(f);
}

// ---- export ----

typedef struct {
    hid_t other;
    int n, bad;
    char first[256];
} cmp_ctx;

static void note_bad(cmp_ctx *c, const char *name, const char *why) {
    if (!c->bad++) snprintf(c->first, sizeof c->first, "%s: %s", name, why);
}

// Is object `name` of the visited file identical in c->other (type, name attribute, dtype, bytes)?
static herr_t cmp_obj(hid_t g, const char *name, const H5L_info_t *info, void *data) {
    cmp_ctx *c = data;
    if (!strncmp(name, "optimizer", 9)) return 0;
    c->n++;
    if (H5Lexists(c->other, name, H5P_DEFAULT) <= 0) {
        note_bad(c, name, "absent from the other file");
        return 0;
    }
    hid_t a = H5Oopen(g, name, H5P_DEFAULT), b = H5Oopen(c->other, name, H5P_DEFAULT);
    if (H5Iget_type(a) != H5Iget_type(b)) {
        note_bad(c, name, "group vs dataset");
    } else if (H5Iget_type(a) == H5I_GROUP) {
        int ha = H5Aexists(a, "name") > 0, hb = H5Aexists(b, "name") > 0;
        if (ha != hb) note_bad(c, name, "name attribute on one side only");
        if (ha && hb) {
            char *va = NULL, *vb = NULL;
            hid_t xa = H5Aopen(a, "name", H5P_DEFAULT), xb = H5Aopen(b, "name", H5P_DEFAULT);
            hid_t ta = H5Aget_type(xa), tb = H5Aget_type(xb);
            // both vlen UTF-8 strings as h5py writes a Python str
            if (!H5Tequal(ta, tb) || H5Tis_variable_str(ta) <= 0 || H5Tget_cset(ta) != H5T_CSET_UTF8) {
                note_bad(c, name, "name attribute types differ or not vlen UTF-8");
            } else {
                H5Aread(xa, ta, &va);
                H5Aread(xb, tb, &vb);
                if (!va || !vb || strcmp(va, vb)) note_bad(c, name, "name attributes differ");
            }
            H5Tclose(ta);
            H5Tclose(tb);
            H5Aclose(xa);
            H5Aclose(xb);
            H5free_memory(va);
            H5free_memory(vb);
        }
    } else {
        hid_t ta = H5Dget_type(a), tb = H5Dget_type(b);
        hid_t sa = H5Dget_space(a), sb = H5Dget_space(b);
        hssize_t na = H5Sget_simple_extent_npoints(sa);
        if (!H5Tequal(ta, tb) || na != H5Sget_simple_extent_npoints(sb) ||
            H5Sget_simple_extent_ndims(sa) != H5Sget_simple_extent_ndims(sb)) {
            note_bad(c, name, "dtype or shape differs");
        } else {
            size_t bytes = (size_t)na * H5Tget_size(ta);
            char *ba = gs_malloc(bytes + 1), *bb = gs_malloc(bytes + 1);
            H5Dread(a, ta, H5S_ALL, H5S_ALL, H5P_DEFAULT, ba);
            H5Dread(b, tb, H5S_ALL, H5S_ALL, H5P_DEFAULT, bb);
            if (memcmp(ba, bb, bytes)) note_bad(c, name, "values differ");
            free(ba);
            free(bb);
        }
        H5Tclose(ta);
        H5Tclose(tb);
        H5Sclose(sa);
        H5Sclose(sb);
    }
    H5Oclose(a);
    H5Oclose(b);
    return 0;
}

static void test_export(gs_model *m) {
    const char *out = tmp("seed.weights.h5"), *orig = tmp("orig_model.weights.h5");
    int rc = keras_export_weights(m, out);
    if (!check(rc == 0, "export to %s (%s)", out, rc ? gs_last_error() : "")) return;
    test_zip_extract(orig, kx("seed_small.keras"), "model.weights.h5");
    hid_t fo = H5Fopen(orig, H5F_ACC_RDONLY, H5P_DEFAULT), fe = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    cmp_ctx c1 = {fe, 0, 0, ""}, c2 = {fo, 0, 0, ""};
    H5Lvisit(fo, H5_INDEX_NAME, H5_ITER_INC, cmp_obj, &c1);
    H5Lvisit(fe, H5_INDEX_NAME, H5_ITER_INC, cmp_obj, &c2);
    check(c1.bad == 0 && c2.bad == 0 && c1.n == c2.n && c1.n > 600,
          "export == Keras' model.weights.h5 object by object (%d objects, groups, name attrs, dtypes, bytes; "
          "optimizer aside)%s%s%s%s", c1.n, c1.bad ? "; Keras->ours: " : "", c1.first,
          c2.bad ? "; ours->Keras: " : "", c2.first);
    H5Fclose(fo);
    H5Fclose(fe);

    gs_model m2;
    GS_ASSERT(model_init(&m2, &m->cfg) == 0);
    model_init_weights(&m2, 7);
    rc = keras_load_model_file(&m2, out);
    check(rc == 0 && !memcmp(m2.params.data, m->params.data, m->params.numel * sizeof(float)),
          "export -> import (bare .weights.h5): identical weights, %zu floats (%s)", m->params.numel,
          rc ? gs_last_error() : "");
    gs_model_arch a;
    rc = keras_infer_arch(&a, NULL, out);
    check(rc != 0 && strstr(gs_last_error(), "no input shape"), "infer arch of a bare .weights.h5 refused: %s",
          gs_last_error());

    // Adam state as Keras lays it out after training
    for (size_t i = 0; i < m->params.numel_trainable; i++) {
        m->params.m[i] = 1e-3f * (float)(i % 1000) - 0.5f;
        m->params.v[i] = 1e-6f * (float)(i % 777);
    }
    m->adam_t = 17;
    const char *outa = tmp("adam.weights.h5");
    rc = keras_export_weights_adam(m, 2.5e-4, outa);
    check(rc == 0, "export with Adam state (%s)", rc ? gs_last_error() : "");
    gs_keras_info info;
    model_init_weights(&m2, 8);
    rc = keras_load_model_file(&m2, outa);
    size_t nt = m->params.numel_trainable;
    check(rc == 0 && m2.adam_t == 17 && !memcmp(m2.params.m, m->params.m, nt * sizeof(float)) &&
              !memcmp(m2.params.v, m->params.v, nt * sizeof(float)) &&
              !memcmp(m2.params.data, m->params.data, m->params.numel * sizeof(float)),
          "Adam export -> import: weights, m, v (%zu floats each) and step 17 identical (%s)", nt,
          rc ? gs_last_error() : "");
    (void)info;
    model_free(&m2);
}

int main(void) {
    FX = test_path(test_source_dir(), "tests/fixtures/keras");
    if (access(kx("seed_small.keras"), R_OK) != 0) gs_fatal("%s missing", kx("seed_small.keras"));
    TMP = test_make_tmpdir("keras");
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);

    gs_model m;
    memset(&m, 0, sizeof m);
    test_seed_model(&m);

    // (a) root layout: the reference weights for the other two
    gs_model_arch a = small_arch(1, 2);
    gs_model ma;
    GS_ASSERT(model_init(&ma, &a) == 0);
    model_init_weights(&ma, 3);
    const char *fa = kx("mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5");
    if (keras_load_backbone_h5(&ma, fa)) gs_fatal("%s", gs_last_error());
    backbone_check(fa, "(a) weights at the root", NULL);
    backbone_check(kx("backbone_model_weights.h5"), "(b) under /model_weights", ma.params.data);
    backbone_check(kx("backbone_mobl_names.h5"), "(c) ImageNet mobl* names, fixed-length strings", ma.params.data);
    make_chunked(tmp("chunked.h5"));
    backbone_check(tmp("chunked.h5"), "(a) with chunked layer_names0/1", ma.params.data);
    model_free(&ma);

    if (m.nodes) {
        test_export(&m);
        model_free(&m);
    }
    return test_finish();
}
