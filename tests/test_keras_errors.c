// Bad Keras files are refused with their own one-line message, and the model stays untouched:
// variants of the Keras-made fixtures (tests/fixtures/keras) made here in a temp dir — another
// width, another network, a truncated file, a renamed array, an extra or missing layer, a wrong
// layer name, different GRU units.
#include <hdf5.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

#include "gesture/errors.h"
#include "gesture/keras.h"
#include "gesture/model.h"
#include "testutil.h"

static const char *FX, *TMP;  // the Keras-made fixtures, a scratch folder

static const char *kx(const char *file) { return test_path(FX, file); }
static const char *tmp(const char *file) { return test_path(TMP, file); }

#define FILE_A "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5"

// dst = the first keep_fraction of src's bytes (1.0: a whole copy).
static void copy_file(const char *src, const char *dst, double keep_fraction) {
    test_copy_prefix(dst, src, (long)(test_file_size(src) * keep_fraction));
}

static gs_model_arch arch(float alpha, int gru) {
    return (gs_model_arch){.alpha = alpha, .size = 96, .frames = 4, .batch = 1, .classes = 5, .gru_units = gru,
                           .dense_units = 128, .dropout = 0.25f, .l2 = 1e-4f};
}

// rc must be -1 and the message must contain every one of the NULL-terminated needles; the
// model's parameters must be unchanged.
static void expect_error(const char *what, int rc, const gs_model *m, const float *before, ...) {
    const char *msg = gs_last_error();
    int ok = rc == -1;
    va_list ap;
    va_start(ap, before);
    for (const char *s; (s = va_arg(ap, const char *)) != NULL;)
        if (!strstr(msg, s)) ok = 0;
    va_end(ap);
    if (m && before) ok = ok && !memcmp(before, m->params.data, m->params.numel * sizeof(float));
    check(ok, "%s -> %s", what, rc == -1 ? msg : "(accepted!)");
}

// ---- legacy variants ----

// A fixed-length string list attribute (as h5py 2 wrote them), replacing any old one.
static void set_names(hid_t f, const char *attr, char **names, int n) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, 64);
    char *buf = gs_calloc((size_t)n, 64);
    for (int i = 0; i < n; i++) snprintf(buf + 64 * i, 64, "%s", names[i]);
    hsize_t dims[1] = {(hsize_t)n};
    hid_t s = H5Screate_simple(1, dims, NULL);
    test_h5_put_attr(f, attr, t, s, t, buf);
    H5Sclose(s);
    H5Tclose(t);
    free(buf);
}

// layer_names of (a) without `drop` (NULL: none) and with `add` appended (NULL: none).
static void edit_layer_names(hid_t f, const char *drop, const char *add) {
    hid_t a = H5Aopen(f, "layer_names", H5P_DEFAULT), t = H5Aget_type(a), s = H5Aget_space(a);
    int n = (int)H5Sget_simple_extent_npoints(s);
    char **v = gs_calloc((size_t)n + 1, sizeof *v);
    GS_ASSERT(H5Aread(a, t, v) >= 0);
    char **keep = gs_calloc((size_t)n + 1, sizeof *keep);
    int k = 0;
    for (int i = 0; i < n; i++)
        if (!drop || strcmp(v[i], drop)) keep[k++] = v[i];
    if (add) keep[k++] = (char *)add;
    H5Aclose(a);
    set_names(f, "layer_names", keep, k);
    H5Dvlen_reclaim(t, s, H5P_DEFAULT, v);
    H5Sclose(s);
    H5Tclose(t);
    free(v);
    free(keep);
}

static void test_legacy(void) {
    const char *fa = kx(FILE_A);
    gs_model m;
    gs_model_arch a5 = arch(0.5f, 128);
    GS_ASSERT(model_init(&m, &a5) == 0);
    model_init_weights(&m, 1);
    float *before = gs_malloc(m.params.numel * sizeof(float));
    memcpy(before, m.params.data, m.params.numel * sizeof(float));
    expect_error("legacy: alpha 0.35 file into an alpha 0.5 model", keras_load_backbone_h5(&m, fa), &m, before, fa,
                 "block_1_project", "(1, 1, 48, 8)", "(1, 1, 48, 16)", NULL);
    model_free(&m);

    gs_model_arch a35 = arch(0.35f, 128);
    GS_ASSERT(model_init(&m, &a35) == 0);
    model_init_weights(&m, 1);
    free(before);
    before = gs_malloc(m.params.numel * sizeof(float));
    memcpy(before, m.params.data, m.params.numel * sizeof(float));

    copy_file(fa, tmp("trunc.h5"), 0.6);
    expect_error("legacy: truncated file", keras_load_backbone_h5(&m, tmp("trunc.h5")), &m, before,
                 tmp("trunc.h5"), "truncated", NULL);

    copy_file(fa, tmp("renamed.h5"), 1.0);
    hid_t f = H5Fopen(tmp("renamed.h5"), H5F_ACC_RDWR, H5P_DEFAULT);
    GS_ASSERT(H5Lmove(f, "block_3_expand/block_3_expand/kernel", f, "block_3_expand/block_3_expand/kernel_x",
                      H5P_DEFAULT, H5P_DEFAULT) >= 0);
    H5Fclose(f);
    expect_error("legacy: renamed array", keras_load_backbone_h5(&m, tmp("renamed.h5")), &m, before,
                 "block_3_expand/kernel", "missing", NULL);

    copy_file(fa, tmp("short.h5"), 1.0);
    f = H5Fopen(tmp("short.h5"), H5F_ACC_RDWR, H5P_DEFAULT);
    edit_layer_names(f, "block_5_project", NULL);
    H5Fclose(f);
    expect_error("legacy: a network with one weighted layer less", keras_load_backbone_h5(&m, tmp("short.h5")), &m,
                 before, "103 layers with weights", "104", NULL);
    float alpha;
    expect_error("legacy: width of that network", keras_backbone_h5_alpha(&alpha, tmp("short.h5")), NULL, NULL,
                 "103 layers with weights", NULL);

    copy_file(fa, tmp("top.h5"), 1.0);
    f = H5Fopen(tmp("top.h5"), H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t g = H5Gcreate2(f, "Logits", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[2] = {1280, 1000};
    hid_t s = H5Screate_simple(2, dims, NULL);
    hid_t d = H5Dcreate2(g, "kernel", H5T_IEEE_F32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    char kernel[] = "kernel", *wn[1] = {kernel};
    set_names(g, "weight_names", wn, 1);
    H5Dclose(d);
    H5Sclose(s);
    H5Gclose(g);
    edit_layer_names(f, NULL, "Logits");
    H5Fclose(f);
    expect_error("legacy: include_top file (extra Logits layer)", keras_load_backbone_h5(&m, tmp("top.h5")), &m,
                 before, "105 layers with weights", "include_top", NULL);

    const char *not_keras = kx("backbone_expected.h5");
    expect_error("legacy: an HDF5 file that is no Keras file", keras_load_backbone_h5(&m, not_keras), &m, before,
                 "no layer_names", NULL);
    expect_error("legacy: a .keras zip", keras_load_backbone_h5(&m, kx("seed_small.keras")), &m, before,
                 "not an HDF5 file", NULL);
    model_free(&m);
    free(before);
}

// ---- .keras variants ----

// seed_small.keras with model.weights.h5 passed through mod() and, when from is not NULL, the first
// `from` in config.json replaced by `to`.
static void keras_variant_cfg(const char *dst, void (*mod)(hid_t f), const char *from, const char *to);
static void keras_variant(const char *dst, void (*mod)(hid_t f)) { keras_variant_cfg(dst, mod, NULL, NULL); }

// text with its first `from` replaced by `to` (malloc'd).
static char *replace_once(const char *text, size_t *n, const char *from, const char *to) {
    const char *at = strstr(text, from);
    GS_ASSERT(at);
    size_t head = (size_t)(at - text), nf = strlen(from), nt = strlen(to);
    *n = strlen(text) - nf + nt;
    char *out = gs_malloc(*n + 1);
    memcpy(out, text, head);
    memcpy(out + head, to, nt);
    strcpy(out + head + nt, at + nf);
    return out;
}

static void keras_variant_cfg(const char *dst, void (*mod)(hid_t f), const char *from, const char *to) {
    const char *src = kx("seed_small.keras"), *w = tmp("variant_weights.h5");
    test_zip_extract(w, src, "model.weights.h5");
    hid_t f = H5Fopen(w, H5F_ACC_RDWR, H5P_DEFAULT);
    GS_ASSERT(f >= 0);
    mod(f);
    H5Fclose(f);
    int err;
    zip_t *z = zip_open(dst, ZIP_CREATE | ZIP_TRUNCATE, &err);
    GS_ASSERT(z);
    const char *members[2] = {"metadata.json", "config.json"};
    for (int i = 0; i < 2; i++) {
        size_t n;
        char *b = test_zip_read(&n, src, members[i]);
        if (i == 1 && from) {
            char *edited = replace_once(b, &n, from, to);
            free(b);
            b = edited;
        }
        zip_source_t *zs = zip_source_buffer(z, b, n, 1);
        GS_ASSERT(zs && zip_file_add(z, members[i], zs, ZIP_FL_OVERWRITE) >= 0);
    }
    zip_source_t *zs = zip_source_file(z, w, 0, 0);
    zip_int64_t idx = zs ? zip_file_add(z, "model.weights.h5", zs, ZIP_FL_OVERWRITE) : -1;
    GS_ASSERT(idx >= 0 && zip_set_file_compression(z, (zip_uint64_t)idx, ZIP_CM_STORE, 0) == 0);
    GS_ASSERT(zip_close(z) == 0);
}

static void mod_none(hid_t f) { (void)f; }
static void mod_rename(hid_t f) {
    GS_ASSERT(H5Lmove(f, "layers/dense/vars/1", f, "layers/dense/vars/bias", H5P_DEFAULT, H5P_DEFAULT) >= 0);
}
static void mod_extra_dense(hid_t f) {
    GS_ASSERT(H5Ocopy(f, "layers/dense_1", f, "layers/dense_2", H5P_DEFAULT, H5P_DEFAULT) >= 0);
}
static void mod_no_bidi(hid_t f) {
    GS_ASSERT(H5Lmove(f, "layers/bidirectional", f, "layers/gru", H5P_DEFAULT, H5P_DEFAULT) >= 0);
}
static void mod_extra_conv(hid_t f) {
    GS_ASSERT(H5Ocopy(f, "layers/time_distributed/layer/layers/conv2d_34", f,
                      "layers/time_distributed/layer/layers/conv2d_35", H5P_DEFAULT, H5P_DEFAULT) >= 0);
}
static void mod_name(hid_t f) {
    hid_t g = H5Gopen2(f, "layers/time_distributed/layer/layers/conv2d_1/vars", H5P_DEFAULT);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t s = H5Screate(H5S_SCALAR);
    const char *v = "block_9_project";
    H5Adelete(g, "name");
    hid_t a = H5Acreate2(g, "name", t, s, H5P_DEFAULT, H5P_DEFAULT);
    GS_ASSERT(a >= 0 && H5Awrite(a, t, &v) >= 0);
    H5Aclose(a);
    H5Sclose(s);
    H5Tclose(t);
    H5Gclose(g);
}

static void mod_nan_weight(hid_t f) {
    hid_t d = H5Dopen2(f, "layers/dense_1/vars/1", H5P_DEFAULT);
    float b[5];
    GS_ASSERT(d >= 0 && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, b) >= 0);
    b[2] = NAN;
    GS_ASSERT(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, b) >= 0);
    H5Dclose(d);
}
// A GRU of 2^31 units: arrays of that shape, declared but never written (the file stays small).
static void mod_huge_gru(hid_t f) {
    const char *names[2] = {"layers/bidirectional/forward_layer/cell/vars/1",
                            "layers/bidirectional/forward_layer/cell/vars/0"};
    hsize_t dims[2][2] = {{2147483648ull, 3 * 2147483648ull}, {1280, 3 * 2147483648ull}};
    for (int i = 0; i < 2; i++) {
        GS_ASSERT(H5Ldelete(f, names[i], H5P_DEFAULT) >= 0);
        hid_t s = H5Screate_simple(2, dims[i], NULL);
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        hsize_t chunk[2] = {1, 1};  // chunked: no storage until written, whatever the shape
        GS_ASSERT(H5Pset_chunk(dcpl, 2, chunk) >= 0);
        hid_t d = H5Dcreate2(f, names[i], H5T_IEEE_F32LE, s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        H5Pclose(dcpl);
        GS_ASSERT(d >= 0);
        H5Dclose(d);
        H5Sclose(s);
    }
}

// Sizes in an imported file are range-checked before anything is built from them, and weights must
// be finite.
static void test_native_sizes(void) {
    gs_model_arch got;
    keras_variant_cfg(tmp("frames.keras"), mod_none, "[null, 4, 96, 96, 3]", "[null, 4294967297, 96, 96, 3]");
    expect_error(".keras: frames 2^32+1", keras_infer_arch(&got, NULL, tmp("frames.keras")), NULL, NULL,
                 "frames.keras: config.json batch_shape: frames = 4294967297 is outside [1, 512]", NULL);
    keras_variant_cfg(tmp("size.keras"), mod_none, "[null, 4, 96, 96, 3]", "[null, 4, 1000000, 1000000, 3]");
    expect_error(".keras: size 10^6", keras_infer_arch(&got, NULL, tmp("size.keras")), NULL, NULL,
                 "config.json batch_shape: size = 1000000 is outside [32, 1024]", NULL);
    keras_variant_cfg(tmp("rate.keras"), mod_none, "\"rate\": 0.25", "\"rate\": 1e300");
    expect_error(".keras: dropout 1e300", keras_infer_arch(&got, NULL, tmp("rate.keras")), NULL, NULL,
                 "config.json Dropout rate = 1e+300 is outside [0, 1)", NULL);
    keras_variant(tmp("gru.keras"), mod_huge_gru);
    expect_error(".keras: 2^31 GRU units", keras_infer_arch(&got, NULL, tmp("gru.keras")), NULL, NULL,
                 "layers/bidirectional/forward_layer/cell/vars/1: GRU units = 2147483648 is outside [1, 4096]", NULL);
    gs_model m;
    gs_model_arch a = arch(0.35f, 128);
    GS_ASSERT(model_init(&m, &a) == 0);
    keras_variant(tmp("nan.keras"), mod_nan_weight);
    expect_error(".keras: NaN weight", keras_load_model_file(&m, tmp("nan.keras")), NULL, NULL,
                 "layers/dense_1/vars/1", "holds nan at index 2; weights must be finite", NULL);
    model_free(&m);
    gs_model_arch big = arch(0.35f, 128);
    big.gru_units = 1 << 30;
    expect_error("model_init: 2^30 GRU units", model_init(&m, &big), NULL, NULL, "model: gru_units = 1073741824", NULL);
    big = arch(0.35f, 128);
    big.batch = 4096, big.frames = 512, big.size = 1024;
    expect_error("model_init: arena too large", model_init(&m, &big), NULL, NULL, "over the limit of 256 GiB", NULL);
}

static void test_native(void) {
    const char *seed = kx("seed_small.keras");
    gs_model m;
    gs_model_arch a = arch(0.35f, 128);
    GS_ASSERT(model_init(&m, &a) == 0);
    model_init_weights(&m, 2);
    float *before = gs_malloc(m.params.numel * sizeof(float));
    memcpy(before, m.params.data, m.params.numel * sizeof(float));
    gs_model_arch got;

    keras_variant(tmp("same.keras"), mod_none);  // the variant machinery itself keeps a good file good
    int rc = keras_load_model_file(&m, tmp("same.keras"));
    check(rc == 0, "rebuilt zip of seed_small.keras loads (%s)", rc ? gs_last_error() : "");
    memcpy(m.params.data, before, m.params.numel * sizeof(float));

    copy_file(seed, tmp("trunc.keras"), 0.5);
    expect_error(".keras: truncated", keras_load_model_file(&m, tmp("trunc.keras")), &m, before, "trunc.keras",
                 "zip", "truncated", NULL);
    keras_variant(tmp("renamed.keras"), mod_rename);
    expect_error(".keras: renamed array", keras_load_model_file(&m, tmp("renamed.keras")), &m, before,
                 "layers/dense/vars/1", "missing", "dense_hidden/bias", NULL);
    keras_variant(tmp("extra.keras"), mod_extra_dense);
    expect_error(".keras: extra Dense layer", keras_load_model_file(&m, tmp("extra.keras")), &m, before,
                 "unexpected layer layers/dense_2", "not the seed architecture", NULL);
    expect_error(".keras: extra Dense layer, arch inference", keras_infer_arch(&got, NULL, tmp("extra.keras")),
                 NULL, NULL, "unexpected layer layers/dense_2", NULL);
    keras_variant(tmp("nobidi.keras"), mod_no_bidi);
    expect_error(".keras: no Bidirectional, arch inference", keras_infer_arch(&got, NULL, tmp("nobidi.keras")),
                 NULL, NULL, "no Bidirectional GRU", "gru", NULL);
    expect_error(".keras: no Bidirectional, load", keras_load_model_file(&m, tmp("nobidi.keras")), &m, before,
                 "unexpected layer layers/gru", "missing layers/bidirectional", NULL);
    keras_variant(tmp("conv.keras"), mod_extra_conv);
    expect_error(".keras: extra conv inside MobileNetV2", keras_load_model_file(&m, tmp("conv.keras")), &m, before,
                 "unexpected layer at layers/time_distributed/layer/layers/conv2d_35", NULL);
    keras_variant(tmp("name.keras"), mod_name);
    expect_error(".keras: wrong layer name", keras_load_model_file(&m, tmp("name.keras")), &m, before,
                 "conv2d_1 is layer 'block_9_project', expected 'expanded_conv_project'", NULL);
    expect_error(".keras: a legacy .h5 instead", keras_load_model_file(&m, kx(FILE_A)), &m, before,
                 "no 'layers' group", NULL);
    model_free(&m);
    free(before);

    a = arch(0.35f, 64);
    GS_ASSERT(model_init(&m, &a) == 0);
    before = gs_malloc(m.params.numel * sizeof(float));
    memcpy(before, m.params.data, m.params.numel * sizeof(float));
    expect_error(".keras: GRU(128) file into a GRU(64) model", keras_load_model_file(&m, seed), &m, before,
                 "gru_forward/kernel", "(1280, 384)", "(1280, 192)", NULL);
    model_free(&m);
    free(before);

    a = arch(0.5f, 128);
    GS_ASSERT(model_init(&m, &a) == 0);
    before = gs_malloc(m.params.numel * sizeof(float));
    memcpy(before, m.params.data, m.params.numel * sizeof(float));
    expect_error(".keras: alpha 0.35 file into an alpha 0.5 model", keras_load_model_file(&m, seed), &m, before,
                 "conv2d_3/vars/0", "block_1_project/kernel", "(1, 1, 48, 8)", "(1, 1, 48, 16)", NULL);
    model_free(&m);
    free(before);
}

int main(void) {
    FX = test_path(test_source_dir(), "tests/fixtures/keras");
    if (access(kx("seed_small.keras"), R_OK) != 0) gs_fatal("%s missing", kx("seed_small.keras"));
    TMP = test_make_tmpdir("kerr");
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    test_legacy();
    test_native();
    test_native_sizes();
    return test_finish();
}
