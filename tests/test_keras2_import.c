// Keras 2 (tf_keras) and Keras 3 legacy files against the predictions of the Keras that wrote them
// (tests/fixtures/keras2, see its README): tf_keras model.save('m.h5') trained with Adam, tf_keras
// save_weights('w.h5'), tf_keras .keras and Keras 3 model.save('m.h5'). Each file's kind is told by
// content; alpha, GRU, dense and classes come from its shapes, frames, size, dropout and L2 from its
// config; its two clips of PNG frames (160x120 and 360x360) go through gesture's own loader with
// data.resize = cv2 to exactly the pixels Keras got, and the probabilities match Keras' within 1e-5.
// For the trained files the Adam state matches Keras' optimizer: step count, learning rate, m and v of
// the 20 variables Keras trained, zeros for those of the layers frozen in Keras.
// GESTURE_KERAS2_VARIANTS=DIR (scripts/make_keras2_fixtures.py --variants DIR) adds larger files made
// for a manual check: fully trainable tf_keras, tf_keras' legacy optimizer, Keras 3 trained with Adam.
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gesture/config.h"
#include "gesture/dataset.h"
#include "gesture/errors.h"
#include "gesture/frame_image.h"
#include "gesture/keras.h"
#include "gesture/loader.h"
#include "gesture/model.h"
#include "testutil.h"

static const char *TMP;

typedef struct {
    const char *dir, *file, *expected;
    int kind, has_config, adam;
} source;

// tf_keras save_weights('w.h5'): what model.save('m.h5') writes under /model_weights, at the root
// (the same Keras function writes both; scripts/make_keras2_fixtures.py checks it object by object).
static herr_t copy_attr(hid_t loc, const char *name, const H5A_info_t *info, void *dst) {
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT), t = H5Aget_type(a), s = H5Aget_space(a);
    size_t n = (size_t)H5Sget_simple_extent_npoints(s) * H5Tget_size(t);
    void *buf = gs_calloc(n + 1, 1);
    GS_ASSERT(H5Aread(a, t, buf) >= 0);  // vlen strings: pointers, written back as they are
    test_h5_put_attr(*(hid_t *)dst, name, t, s, t, buf);
    if (H5Tis_variable_str(t) > 0) H5Dvlen_reclaim(t, s, H5P_DEFAULT, buf);
    free(buf);
    H5Sclose(s);
    H5Tclose(t);
    H5Aclose(a);
    return 0;
}

static herr_t copy_child(hid_t g, const char *name, const H5L_info_t *info, void *dst) {
    GS_ASSERT(H5Ocopy(g, name, *(hid_t *)dst, name, H5P_DEFAULT, H5P_DEFAULT) >= 0);
    return 0;
}

static void make_save_weights(const char *dst, const char *src) {
    hid_t fs = H5Fopen(src, H5F_ACC_RDONLY, H5P_DEFAULT), fd = H5Fcreate(dst, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t g = H5Gopen2(fs, "model_weights", H5P_DEFAULT);
    GS_ASSERT(fs >= 0 && fd >= 0 && g >= 0);
    GS_ASSERT(H5Aiterate2(g, H5_INDEX_NAME, H5_ITER_INC, NULL, copy_attr, &fd) >= 0);
    GS_ASSERT(H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, copy_child, &fd) >= 0);
    H5Gclose(g);
    H5Fclose(fd);
    H5Fclose(fs);
}

static void free_strs(char **v, int n) {
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

// What keras_read_model_info says against what the Keras that wrote the file knew.
static int check_info(gs_model_arch *a, const source *s, const char *path, const char *exp) {
    gs_keras_info info;
    *a = (gs_model_arch){.batch = 1, .frames = 4, .size = 96, .dropout = 0.25f, .l2 = 0};  // no config: --set
    int rc = keras_read_model_info(a, &info, path);
    if (!check(rc == 0, "%s: keras_read_model_info (%s)", s->file, rc ? gs_last_error() : "ok")) return -1;
    int n;
    char **ver = fx_read_strs(exp, "keras_version", &n);
    int major = ver[0][0] - '0';
    check(keras_file_kind(path) == s->kind && info.has_config == s->has_config && !strcmp(info.keras_version, ver[0]) &&
              info.keras_major == major,
          "%s: kind %d (want %d), config %d, Keras version '%s' (%s), major %d", s->file, keras_file_kind(path), s->kind,
          info.has_config, info.keras_version, ver[0], info.keras_major);
    free_strs(ver, n);
    double dropout = fx_read_scalar(exp, "dropout"), l2 = fx_read_scalar(exp, "l2");
    check(a->alpha == 0.35f && a->gru_units == (int)fx_read_scalar(exp, "gru_units") && a->dense_units == 128 &&
              a->classes == 5 && a->frames == 4 && a->size == 96 &&
              (!s->has_config || (fabs(a->dropout - dropout) < 1e-6 && fabs(a->l2 - l2) < 1e-9)),
          "%s: alpha %.2f GRU %d dense %d classes %d frames %d size %d dropout %g (%g) l2 %g (%g)", s->file,
          (double)a->alpha, a->gru_units, a->dense_units, a->classes, a->frames, a->size, (double)a->dropout, dropout,
          (double)a->l2, l2);
    if (s->adam) {
        char **names = fx_read_strs(exp, "adam/gesture_name", &n);
        free_strs(names, n);
        check(info.adam_vars == n &&
                  info.iterations == (long)fx_read_scalar(exp, "adam/iterations") &&
                  fabs(info.learning_rate - fx_read_scalar(exp, "adam/learning_rate")) < 1e-12,
              "%s: info: Adam for %d variables, %ld iterations, learning rate %g", s->file, info.adam_vars,
              info.iterations, info.learning_rate);
    } else {
        check(info.adam_vars == 0 && info.iterations == 0, "%s: info: no optimizer state", s->file);
    }
    return 0;
}

// The clips through gesture's loader as `gesture predict` configures it after the import; each input
// frame must equal the resized PNG the generator gave Keras, /255.
static void load_inputs(gs_model *m, const source *s, const char *exp) {
    gs_config cfg;
    config_defaults(&cfg);
    cfg.data.resize = GS_RESIZE_CV2;
    cfg.data.frames = m->cfg.frames;
    cfg.data.size = m->cfg.size;
    gs_loader_config lc;
    loader_config_from(&lc, &cfg, NULL, 0);
    int nc, ni;
    char **clips = fx_read_strs(exp, "clips", &nc), **inputs = fx_read_strs(exp, "inputs", &ni);
    GS_ASSERT(nc == m->cfg.batch && ni == nc * m->cfg.frames);
    size_t frame = (size_t)m->cfg.size * m->cfg.size * 3;
    float *x = model_input(m);
    int exact = 1;
    for (int c = 0; c < nc; c++) {
        gs_clip clip;
        if (dataset_load_clip_dir(&clip, test_path(test_path(s->dir, "clips"), clips[c])) ||
            loader_load_clip(x + (size_t)c * m->cfg.frames * frame, &clip, &lc))
            gs_fatal("%s", gs_last_error());
        clip_free(&clip);
        for (int t = 0; t < m->cfg.frames; t++) {
            uint8_t *px = NULL;
            size_t cap = 0;
            int w, h;
            if (gs_frame_image_read_rgb8_into(&px, &cap, &w, &h, test_path(s->dir, inputs[c * m->cfg.frames + t])))
                gs_fatal("%s", gs_last_error());
            const float *xt = x + ((size_t)c * m->cfg.frames + t) * frame;
            for (size_t k = 0; k < frame; k++) exact &= xt[k] == (float)px[k] / 255.0f;
            free(px);
        }
    }
    check(exact, "%s: gesture's loader (resize = cv2, frames 0,2,4,6) gives the pixels Keras got", s->file);
    free_strs(clips, nc);
    free_strs(inputs, ni);
}

// sum and position-weighted mean of n floats, as the generator computes them (float64).
static void checksums(double *sum, double *wmean, const float *x, size_t n) {
    *sum = *wmean = 0;
    for (size_t i = 0; i < n; i++) {
        *sum += x[i];
        *wmean += x[i] * (double)(i % 7 + 1);
    }
    *wmean /= (double)n;
}

static int close_to(double got, double want) { return fabs(got - want) <= 1e-9 + 1e-6 * fabs(want); }

// m->params.m / v against Keras' optimizer: the listed variables' slots, zeros elsewhere.
static void check_adam(const gs_model *m, const source *s, const char *exp) {
    int n;
    char **names = fx_read_strs(exp, "adam/gesture_name", &n);
    double *mw = fx_read(exp, "adam/m", NULL, NULL), *vw = fx_read(exp, "adam/v", NULL, NULL);
    char *listed = gs_calloc((size_t)m->params.n + 1, 1);
    int bad = 0;
    char first[256] = "";
    for (int k = 0; k < n; k++) {
        int i = params_find(&m->params, names[k]);
        if (i < 0) gs_fatal("%s: adam/gesture_name %s is no parameter", exp, names[k]);
        listed[i] = 1;
        const gs_param *p = &m->params.p[i];
        double ms, mx, vs, vx;
        checksums(&ms, &mx, m->params.m + p->offset, p->numel);
        checksums(&vs, &vx, m->params.v + p->offset, p->numel);
        if (!(close_to(ms, mw[2 * k]) && close_to(mx, mw[2 * k + 1]) && close_to(vs, vw[2 * k]) &&
              close_to(vx, vw[2 * k + 1])) &&
            !bad++)
            snprintf(first, sizeof first, "%s: m sum %g (Keras %g), v sum %g (Keras %g)", p->name, ms, mw[2 * k], vs,
                     vw[2 * k]);
    }
    int nonzero = 0;
    for (int i = 0; i < m->params.n; i++) {
        const gs_param *p = &m->params.p[i];
        for (size_t j = 0; p->trainable && !listed[i] && j < p->numel; j++)
            nonzero += m->params.m[p->offset + j] != 0 || m->params.v[p->offset + j] != 0;
    }
    long iters = (long)fx_read_scalar(exp, "adam/iterations");
    check(n > 0 && !bad && !nonzero && m->adam_t == iters,
          "%s: Adam m and v of the %d variables Keras trained == Keras' optimizer (%d differ%s%s), zeros for the "
          "frozen ones (%d nonzero), step count %ld (Keras %ld)",
          s->file, n, bad, bad ? ": " : "", first, nonzero, m->adam_t, iters);
    free(listed);
    free(mw);
    free(vw);
    free_strs(names, n);
}

static void check_source(const source *s) {
    const char *path = test_path(s->dir, s->file), *exp = test_path(s->dir, s->expected);
    gs_model_arch a;
    if (check_info(&a, s, path, exp)) return;
    int nc;
    char **clips = fx_read_strs(exp, "clips", &nc);
    free_strs(clips, nc);
    a.batch = nc;
    gs_model m;
    if (model_init(&m, &a)) gs_fatal("%s", gs_last_error());
    model_init_weights(&m, 7);
    m.adam_t = 99;
    for (size_t i = 0; i < m.params.numel_trainable; i++) m.params.m[i] = m.params.v[i] = 1;
    int rc = keras_load_model_file(&m, path);
    if (check(rc == 0, "%s: keras_load_model_file (%s)", s->file, rc ? gs_last_error() : "ok")) {
        load_inputs(&m, s, exp);
        model_forward(&m, a.batch, 0, 0);
        size_t n;
        float *want = fx_read_f32(exp, "probs", &n);
        GS_ASSERT(n == (size_t)a.batch * a.classes);
        const float *got = model_probs(&m);
        double d = 0;
        for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)got[i] - want[i]));
        check(d <= 1e-5, "%s: probabilities of %d clips within 1e-5 of Keras' predict(): max |diff| %.2e", s->file,
              a.batch, d);
        free(want);
        if (s->adam) check_adam(&m, s, exp);
        else check(m.adam_t == 0 && m.params.m[0] == 0 && m.params.v[m.params.numel_trainable - 1] == 0,
                   "%s: no optimizer state: step count and moments reset", s->file);
    }
    model_free(&m);
}

int main(void) {
    const char *fx = test_path(test_source_dir(), "tests/fixtures/keras2");
    if (access(test_path(fx, "k2_model.h5"), R_OK) != 0) gs_fatal("%s missing", test_path(fx, "k2_model.h5"));
    TMP = test_make_tmpdir("keras2");
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    const source sources[] = {
        {fx, "k2_model.h5", "k2_expected.h5", GS_KERAS_LEGACY_MODEL, 1, 1},
        {fx, "k2_model.keras", "k2_expected.h5", GS_KERAS_ARCHIVE, 1, 1},
        {fx, "k3_model.h5", "k3_expected.h5", GS_KERAS_LEGACY_MODEL, 1, 0},
    };
    for (size_t i = 0; i < sizeof sources / sizeof *sources; i++) check_source(&sources[i]);
    // tf_keras save_weights('w.h5') of the same model, made in TMP next to links to the clips and the
    // expected output
    make_save_weights(test_path(TMP, "k2_weights.h5"), test_path(fx, "k2_model.h5"));
    const char *links[3] = {"clips", "resized", "k2_expected.h5"};
    for (int i = 0; i < 3; i++) GS_ASSERT(symlink(test_path(fx, links[i]), test_path(TMP, links[i])) == 0);
    check_source(&(source){TMP, "k2_weights.h5", "k2_expected.h5", GS_KERAS_LEGACY_WEIGHTS, 0, 0});

    const char *var = getenv("GESTURE_KERAS2_VARIANTS");
    if (var && var[0]) {
        const source vs[] = {
            {var, "k2full_model.h5", "k2full_expected.h5", GS_KERAS_LEGACY_MODEL, 1, 1},
            {var, "k2full_model.keras", "k2full_expected.h5", GS_KERAS_ARCHIVE, 1, 1},
            {var, "k2legacyopt_model.h5", "k2legacyopt_expected.h5", GS_KERAS_LEGACY_MODEL, 1, 1},
            {var, "k3adam_model.h5", "k3adam_expected.h5", GS_KERAS_LEGACY_MODEL, 1, 1},
        };
        for (size_t i = 0; i < sizeof vs / sizeof *vs; i++) check_source(&vs[i]);
    }
    return test_finish();
}
