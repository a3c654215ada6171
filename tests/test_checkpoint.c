// Checkpoints and the HDF5 training log: exact round trip of every tensor, counter, callback state,
// history row, config text and class name; atomic writes leave no temp files; one case per kind of
// bad file, each checked for its own message naming the file and tensor; failed loads change nothing.
// Extra modes used by the script tests (tests/test_checkpoint_kill.sh, test_checkpoint_h5py.sh):
//   --writer-loop PATH [MAX]  save PATH over and over with varying, self-consistent content
//   --verify PATH             load PATH and check that its content is one writer iteration, whole
//   --write-sample DIR        write DIR/ckpt.h5 and DIR/log.h5 for the h5py check
#include <hdf5.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gesture/checkpoint.h"
#include "gesture/config.h"
#include "gesture/errors.h"
#include "gesture/fsutil.h"
#include "gesture/model.h"
#include "gesture/trainlog.h"
#include "testutil.h"

static const char *const CLASSES[5] = {"Left_Swipe", "Right_Swipe", "Stop", "Thumbs_Down", "Thumbs_Up"};

static gs_model_arch small_arch(void) {
    gs_model_arch a = {.alpha = 0.35f,
                       .size = 32,
                       .frames = 2,
                       .batch = 2,
                       .classes = 5,
                       .gru_units = 8,
                       .dense_units = 8,
                       .dropout = 0.25f,
                       .l2 = 1e-4f};
    return a;
}

static void make_model(gs_model *m, const gs_model_arch *a) {
    if (model_init(m, a) != 0) gs_fatal("model_init: %s", gs_last_error());
}

// Self-consistent content of writer iteration k: every float derives from (k, index, buffer),
// exact in float32, so a file mixing two iterations is detected.
static float pattern(long k, size_t i, int which) { return (float)((k * 131 + (long)i * 7 + which * 1009) % 4093); }

static void fill_iteration(gs_model *m, gs_train_state *st, gs_epoch_row *rows, long k) {
    gs_params *ps = &m->params;
    for (size_t i = 0; i < ps->numel; i++) ps->data[i] = pattern(k, i, 0);
    for (size_t i = 0; i < ps->numel_trainable; i++) ps->m[i] = pattern(k, i, 1), ps->v[i] = pattern(k, i, 2);
    checkpoint_state_init(st, 1e-4 / (double)(k + 1));
    st->epoch = (int)k;
    st->step = 3 * k;
    st->n_history = (int)(k % 5);
    st->history = rows;
    for (int e = 0; e < st->n_history; e++) rows[e] = (gs_epoch_row){e, 0.1 * e, 1e-4, 1.0 / (e + 1), 0.2 * e, 2.0};
    m->adam_t = 10 * k;
    m->step = 20 * k;
    m->seed = (uint64_t)k * 0x9E3779B97F4A7C15ull;
}

// The writer's config text (verify checks it comes back whole).
static char *writer_config(void) { return strdup("[train]\nseed = 1\n"); }

static int writer_loop(const char *path, long max) {
    gs_model m;
    gs_model_arch a = small_arch();
    make_model(&m, &a);
    gs_train_state st;
    gs_epoch_row rows[5];
    char ready[4096];
    snprintf(ready, sizeof ready, "%s.ready", path);
    char *cfg = writer_config();
    for (long k = (long)getpid() * 1000; max <= 0 || k < (long)getpid() * 1000 + max; k++) {
        if (getppid() == 1) break;  // the test that started us is gone
        fill_iteration(&m, &st, rows, k % 100000);
        if (checkpoint_save(path, &m, &st, cfg, CLASSES, 5) != 0) {
            fprintf(stderr, "writer: %s\n", gs_last_error());
            return 1;
        }
        if (access(ready, F_OK) != 0) {
            FILE *f = fopen(ready, "w");
            if (f) fclose(f);
        }
    }
    free(cfg);
    model_free(&m);
    return 0;
}

static int verify(const char *path) {
    gs_model m;
    gs_model_arch a = small_arch();
    make_model(&m, &a);
    gs_train_state st;
    char *cfg = NULL, **cls = NULL;
    int ncls = 0;
    if (checkpoint_load(path, &m, &st, &cfg, &cls, &ncls) != 0) {
        printf("verify: load failed: %s\n", gs_last_error());
        return 1;
    }
    long k = st.epoch;
    char *want_cfg = writer_config();
    size_t bad = 0;
    gs_params *ps = &m.params;
    for (size_t i = 0; i < ps->numel; i++) bad += ps->data[i] != pattern(k, i, 0);
    for (size_t i = 0; i < ps->numel_trainable; i++)
        bad += (ps->m[i] != pattern(k, i, 1)) + (ps->v[i] != pattern(k, i, 2));
    bad += st.step != 3 * k || st.n_history != (int)(k % 5) || m.adam_t != 10 * k || m.step != 20 * k ||
           m.seed != (uint64_t)k * 0x9E3779B97F4A7C15ull || ncls != 5 || strcmp(cfg, want_cfg);
    printf("verify: iteration %ld, %zu mismatches\n", k, bad);
    checkpoint_state_free(&st);
    checkpoint_free_classes(cls, ncls);
    free(cfg);
    free(want_cfg);
    model_free(&m);
    return bad ? 1 : 0;
}

// ---- unit tests ----

static const char *dir;  // scratch folder of the unit tests, or --write-sample's DIR

static const char *tpath(const char *name) { return test_path(dir, name); }

static int count_tmp_files(void) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls %s | grep -c '\\.tmp\\.'", dir);
    FILE *p = popen(cmd, "r");
    int n = 0;
    if (!p || fscanf(p, "%d", &n) != 1) n = -1;
    if (p) pclose(p);
    return n;
}

// Dataset helpers for corrupting copies of a valid file with the HDF5 C API.
static hid_t open_rw(const char *path) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    GS_ASSERT(f >= 0);
    return f;
}

// Close a file edited in place: its integrity stamp no longer holds, so it is removed, and the
// file is read like one from another program (probe, then the same validation).
static void close_rw(hid_t f, const char *path) {
    H5Fclose(f);
    test_h5_unstamp(path);
}

static void add_dataset(hid_t f, const char *name, hid_t type, int ndim, const hsize_t *dims) {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t s = H5Screate_simple(ndim, dims, NULL);
    hid_t d = H5Dcreate2(f, name, type, s, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    GS_ASSERT(d >= 0);
    H5Dclose(d);
    H5Sclose(s);
    H5Pclose(lcpl);
}

// Load `path` into a model of arch `a`: must fail with a message that starts with the path and
// contains `want`, leaving the model's contents untouched.
static void expect_load_error(const char *what, const char *path, const gs_model_arch *a, const char *want) {
    gs_model m;
    make_model(&m, a);
    model_init_weights(&m, 7);
    size_t nb = m.params.numel * sizeof(float);
    float *before = gs_malloc(nb);
    memcpy(before, m.params.data, nb);
    gs_train_state st;
    checkpoint_state_init(&st, 0);
    int rc = checkpoint_load(path, &m, &st, NULL, NULL, NULL);
    const char *err = rc ? gs_last_error() : "(loaded)";
    int ok = rc == -1 && !strncmp(err, path, strlen(path)) && strstr(err, want) && !memcmp(before, m.params.data, nb) &&
             st.history == NULL;
    check(ok, "%-22s -> %s", what, err);
    if (!ok) printf("     wanted '%s'\n", want);
    free(before);
    model_free(&m);
}

static int rows_equal(const gs_epoch_row *a, const gs_epoch_row *b, int n) {
    for (int i = 0; i < n; i++)
        if (a[i].epoch != b[i].epoch || memcmp(&a[i].accuracy, &b[i].accuracy, 5 * sizeof(double))) return 0;
    return 1;
}

static void test_roundtrip(void) {
    gs_model_arch a = small_arch();
    gs_model m1, m2;
    make_model(&m1, &a);
    make_model(&m2, &a);
    model_init_weights(&m1, 42);
    for (size_t i = 0; i < m1.params.numel_trainable; i++) {
        m1.params.m[i] = sinf((float)i) * 1e-3f;
        m1.params.v[i] = 1e-6f * (float)(i % 97) + 1e-30f;
    }
    m1.adam_t = 123;
    m1.seed = 0xDEADBEEFCAFEBABEull;  // above INT64_MAX: stored as uint64
    m1.step = 77;
    gs_config c;
    config_defaults(&c);
    char *ini = config_to_ini(&c);
    gs_epoch_row rows[3] = {
        {0, 0.25, 1e-4, 1.6, 0.3, 1.5}, {1, 0.5, 1e-4, 1.2, 0.45, 1.3}, {2, 0.625, 5e-5, 0.9, 0.5, 1.31}};
    gs_train_state st1;
    checkpoint_state_init(&st1, 5e-5);
    st1.epoch = 3;
    st1.step = 5;
    st1.part_loss_sum = 7.25;
    st1.part_correct = 11;
    st1.part_seen = 20;
    st1.callbacks.early_stopping = (gs_early_stopping_state){.wait = 1, .has_best = true, .best = 1.3, .best_epoch = 1,
                                                             .has_snapshot = true};
    st1.callbacks.reduce_lr = (gs_reduce_lr_state){.wait = 2, .cooldown_counter = 1, .has_best = true, .best = INFINITY};
    st1.callbacks.checkpoint = (gs_model_checkpoint_state){.best = 0.5, .best_epoch = 2};
    st1.history = rows;
    st1.n_history = 3;
    const char *p = tpath("ckpt.h5");
    int rc = checkpoint_save(p, &m1, &st1, ini, CLASSES, 5);
    check(rc == 0, "save %s (%ld bytes) %s", p, test_file_size(p), rc ? gs_last_error() : "");
    check(count_tmp_files() == 0, "no temp file left after save");

    gs_train_state st2;
    char *ini2 = NULL, **cls = NULL;
    int ncls = 0;
    rc = checkpoint_load(p, &m2, &st2, &ini2, &cls, &ncls);
    check(rc == 0, "load %s", rc ? gs_last_error() : "");
    if (rc) return;
    const gs_params *a1 = &m1.params, *a2 = &m2.params;
    check(!memcmp(a1->data, a2->data, a1->numel * 4), "all %zu weights (moving stats too) bit-identical", a1->numel);
    check(!memcmp(a1->m, a2->m, a1->numel_trainable * 4) && !memcmp(a1->v, a2->v, a1->numel_trainable * 4),
          "Adam m and v (%zu each) bit-identical", a1->numel_trainable);
    check(m2.adam_t == 123 && m2.seed == 0xDEADBEEFCAFEBABEull && m2.step == 77, "adam_t, rng seed and step restored");
    check(st2.epoch == 3 && st2.step == 5 && st2.part_loss_sum == 7.25 && st2.part_correct == 11 &&
              st2.part_seen == 20 && st2.learning_rate == 5e-5 &&
              same_callbacks_state(&st1.callbacks, &st2.callbacks),
          "train state (epoch, cursor, partial sums, lr, early stopping, reduce-lr, checkpoint best) exact");
    check(st2.n_history == 3 && rows_equal(rows, st2.history, 3), "metric history rows exact");
    check(ini2 && !strcmp(ini, ini2), "config text identical (%zu chars)", strlen(ini));
    int cls_ok = ncls == 5;
    for (int i = 0; cls_ok && i < 5; i++) cls_ok = !strcmp(cls[i], CLASSES[i]);
    check(cls_ok, "class names in label order");
    gs_config c2;
    config_defaults(&c2);
    c2.train.epochs = 1;
    check(config_load_string(&c2, ini2, p) == 0 && config_diff(&c, &c2, NULL, 0) == 0,
          "stored config reloads to the same values");

    // read_config / read_classes / weights-only
    char *ini3 = NULL, **cls3 = NULL;
    int n3 = 0;
    check(checkpoint_read_config(p, &ini3) == 0 && !strcmp(ini3, ini), "checkpoint_read_config");
    check(checkpoint_read_classes(p, &cls3, &n3) == 0 && n3 == 5 && !strcmp(cls3[4], "Thumbs_Up"),
          "checkpoint_read_classes");
    gs_model m3;
    make_model(&m3, &a);
    m3.adam_t = 5;
    rc = checkpoint_load_weights_only(p, &m3);
    check(rc == 0 && !memcmp(a1->data, m3.params.data, a1->numel * 4) && m3.adam_t == 5,
          "weights-only load: weights equal, optimizer counters untouched %s", rc ? gs_last_error() : "");

    // Fresh state (NaN bests, no history) round trip; identical content gives identical bytes.
    gs_train_state fresh, back;
    checkpoint_state_init(&fresh, 1e-4);
    rc = checkpoint_save(tpath("fresh.h5"), &m1, &fresh, ini, CLASSES, 5) |
         checkpoint_save(tpath("fresh2.h5"), &m1, &fresh, ini, CLASSES, 5);
    rc |= checkpoint_load(tpath("fresh.h5"), &m2, &back, NULL, NULL, NULL);
    check(rc == 0 && !back.callbacks.early_stopping.has_best && !back.callbacks.early_stopping.has_snapshot &&
              !back.callbacks.reduce_lr.has_best && back.callbacks.checkpoint.best_epoch == -1 && back.n_history == 0 &&
              back.learning_rate == 1e-4,
          "fresh state (NaN bests, -1 epochs, empty history) round trip");
    check(test_same_bytes(tpath("fresh.h5"), tpath("fresh2.h5")), "saving the same content twice gives identical bytes");

    // Overwrite in place: the target is replaced, not appended to.
    checkpoint_state_free(&back);
    st1.epoch = 4;
    rc = checkpoint_save(p, &m1, &st1, ini, CLASSES, 5) | checkpoint_load(p, &m2, &back, NULL, NULL, NULL);
    check(rc == 0 && back.epoch == 4 && count_tmp_files() == 0, "overwriting an existing checkpoint");

    checkpoint_state_free(&st2);
    checkpoint_state_free(&back);
    checkpoint_free_classes(cls, ncls);
    checkpoint_free_classes(cls3, n3);
    free(ini);
    free(ini2);
    free(ini3);
    model_free(&m1);
    model_free(&m2);
    model_free(&m3);
}

// A copy of ckpt.h5 with attribute `name` of object `obj` replaced by the scalar v (int64, or float64
// when is_float): the load must fail naming it.
static void expect_attr(const char *what, const char *obj, const char *name, int is_float, double v,
                        const char *want) {
    gs_model_arch a = small_arch();
    const char *p = tpath("state.h5");
    GS_ASSERT(fs_copy_file(p, tpath("ckpt.h5")) == 0);
    int64_t iv = is_float ? 0 : (int64_t)v;  // the integer test values are exact in a double
    hid_t f = open_rw(p), o = H5Oopen(f, obj, H5P_DEFAULT), s = H5Screate(H5S_SCALAR);
    GS_ASSERT(o >= 0);
    if (is_float) test_h5_put_attr(o, name, H5T_IEEE_F64LE, s, H5T_NATIVE_DOUBLE, &v);
    else test_h5_put_attr(o, name, H5T_STD_I64LE, s, H5T_NATIVE_INT64, &iv);
    H5Sclose(s);
    H5Oclose(o);
    close_rw(f, p);
    expect_load_error(what, p, &a, want);
}

// Overwrite element 0 of dataset `name` with x: a load must name it.
static void expect_tensor_value(const char *what, const char *name, float x, const char *want) {
    gs_model_arch a = small_arch();
    const char *p = tpath("tensor.h5");
    GS_ASSERT(fs_copy_file(p, tpath("ckpt.h5")) == 0);
    hid_t f = open_rw(p);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t fs = H5Dget_space(d);
    hsize_t n = (hsize_t)H5Sget_simple_extent_npoints(fs);
    float *buf = gs_malloc(n * sizeof(float));
    GS_ASSERT(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    buf[0] = x;
    GS_ASSERT(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    free(buf);
    H5Sclose(fs);
    H5Dclose(d);
    close_rw(f, p);
    expect_load_error(what, p, &a, want);
}

// Trainer state out of range or inconsistent, and non-finite tensors: each refused by name.
static void test_state_errors(void) {
    expect_attr("epoch -1", "/", "epoch", 0, -1, "attribute epoch = -1 is outside [0, 100000]");
    expect_attr("epoch 2e9", "/", "epoch", 0, 2000000000, "attribute epoch = 2000000000 is outside");
    expect_attr("loader_step -3", "/", "loader_step", 0, -3, "attribute loader_step = -3 is outside");
    expect_attr("loader_step 2^32", "/", "loader_step", 0, 4294967296LL, "attribute loader_step = 4294967296");
    expect_attr("iterations -7", "/optimizer", "iterations", 0, -7, "iterations = -7 is negative");
    expect_attr("rng_step -1", "/", "rng_step", 0, -1, "rng_step = -1 is negative");
    expect_attr("lr NaN", "/optimizer", "learning_rate", 1, NAN, "learning_rate = nan is not a finite number > 0");
    expect_attr("lr negative", "/optimizer", "learning_rate", 1, -1e-3, "learning_rate = -0.001 is not");
    expect_attr("partial loss NaN", "/callbacks", "partial_epoch_loss_sum", 1, NAN, "partial_epoch_loss_sum = nan");
    expect_attr("partial correct > seen", "/callbacks", "partial_epoch_correct", 1, 21,
                    "partial_epoch_correct = 21 is outside [0, partial_epoch_seen = 20]");
    expect_attr("es wait -1", "/callbacks", "early_stopping_wait", 0, -1, "early_stopping_wait is negative");
    expect_attr("ck best epoch 9", "/callbacks", "checkpoint_best_epoch", 0, 9,
                    "checkpoint_best_epoch = 9 is outside [-1, epoch = ");
    expect_attr("history > epoch", "/", "epoch", 0, 2, "/history has 3 rows for 2 completed epochs");
    expect_tensor_value("NaN weight", "/weights/dense_out/kernel", NAN, "/weights/dense_out/kernel holds nan at index 0");
    expect_tensor_value("inf moving mean", "/weights/head_bn/moving_mean", INFINITY,
                        "/weights/head_bn/moving_mean holds inf");
    expect_tensor_value("NaN Adam m", "/optimizer/m/dense_out/bias", NAN, "/optimizer/m/dense_out/bias holds nan");
    expect_tensor_value("negative Adam v", "/optimizer/v/dense_out/bias", -1, "/optimizer/v/dense_out/bias holds -1");
    gs_train_state st;
    checkpoint_state_init(&st, 1e-3);
    st.step = 5;
    check(checkpoint_check_resume("x.h5", &st, 5) == -1 && strstr(gs_last_error(), "x.h5: attribute loader_step = 5"),
          "loader_step past the epoch -> %s", gs_last_error());
    check(checkpoint_check_resume("x.h5", &st, 6) == 0, "loader_step inside the epoch resumes");
}

static void test_errors(void) {
    gs_model_arch a = small_arch();
    const char *good = tpath("ckpt.h5");
    hsize_t dims[4];
    hid_t f;

    const char *p = tpath("missing.h5");
    GS_ASSERT(fs_copy_file(p, good) == 0);
    f = open_rw(p);
    H5Ldelete(f, "/weights/head_bn/gamma", H5P_DEFAULT);
    close_rw(f, p);
    expect_load_error("missing tensor", p, &a, ": missing /weights/head_bn/gamma");

    p = tpath("extra.h5");
    GS_ASSERT(fs_copy_file(p, good) == 0);
    f = open_rw(p);
    dims[0] = 3;
    add_dataset(f, "/weights/foo/bar", H5T_IEEE_F32LE, 1, dims);
    close_rw(f, p);
    expect_load_error("extra tensor", p, &a, ": unexpected tensor /weights/foo/bar");

    p = tpath("shape.h5");
    GS_ASSERT(fs_copy_file(p, good) == 0);
    f = open_rw(p);
    H5Ldelete(f, "/weights/dense_out/kernel", H5P_DEFAULT);
    dims[0] = 8, dims[1] = 4;
    add_dataset(f, "/weights/dense_out/kernel", H5T_IEEE_F32LE, 2, dims);
    close_rw(f, p);
    expect_load_error("wrong shape", p, &a, ": /weights/dense_out/kernel has shape (8, 4), the model expects (8, 5)");

    p = tpath("dtype.h5");
    GS_ASSERT(fs_copy_file(p, good) == 0);
    f = open_rw(p);
    H5Ldelete(f, "/weights/dense_out/bias", H5P_DEFAULT);
    dims[0] = 5;
    add_dataset(f, "/weights/dense_out/bias", H5T_IEEE_F64LE, 1, dims);
    close_rw(f, p);
    expect_load_error("wrong dtype", p, &a, ": /weights/dense_out/bias has dtype float64, expected float32");

    p = tpath("optm.h5");
    GS_ASSERT(fs_copy_file(p, good) == 0);
    f = open_rw(p);
    H5Ldelete(f, "/optimizer/v/gru_forward/recurrent_kernel", H5P_DEFAULT);
    dims[0] = 2;
    add_dataset(f, "/optimizer/m/bn_Conv1/moving_mean", H5T_IEEE_F32LE, 1, dims);
    close_rw(f, p);
    expect_load_error("optimizer moments", p, &a,
                      ": unexpected tensor /optimizer/m/bn_Conv1/moving_mean (and 1 more problem)");
    gs_model mw;
    make_model(&mw, &a);
    int rc = checkpoint_load_weights_only(p, &mw);
    check(rc == 0, "weights-only load ignores a damaged /optimizer %s", rc ? gs_last_error() : "");
    model_free(&mw);

    p = tpath("noformat.h5");
    GS_ASSERT(fs_copy_file(p, good) == 0);
    f = open_rw(p);
    H5Adelete(f, "format");
    close_rw(f, p);
    expect_load_error("missing format attr", p, &a, ": not a gesture checkpoint (format attribute missing)");
    char *ini = NULL;
    rc = checkpoint_read_config(p, &ini);
    check(rc == -1 && strstr(gs_last_error(), "not a gesture checkpoint"), "read_config checks the format too");

    p = tpath("newer.h5");
    GS_ASSERT(fs_copy_file(p, good) == 0);
    f = open_rw(p);
    long long seven = 7;
    hid_t at = H5Aopen(f, "format_version", H5P_DEFAULT);
    H5Awrite(at, H5T_NATIVE_LLONG, &seven);
    H5Aclose(at);
    close_rw(f, p);
    expect_load_error("newer version", p, &a, ": format_version 7 is newer than this gesture (1)");

    p = tpath("truncated.h5");
    test_copy_prefix(p, good, test_file_size(good) / 2);
    expect_load_error("truncated file", p, &a, "when written: truncated or appended to)");
    test_h5_unstamp(p);
    expect_load_error("truncated file without its stamp", p, &a, ": cannot open as HDF5 (truncated or corrupt?)");

    // 8 bytes changed in the middle: the stamp catches it before libhdf5 reads anything
    p = tpath("flipped.h5");
    GS_ASSERT(fs_copy_file(p, good) == 0);
    FILE *ff = fopen(p, "r+b");
    GS_ASSERT(ff && fseek(ff, test_file_size(good) / 2, SEEK_SET) == 0 && fwrite("\xff\xff\xff\x7f\0\0\0\0", 1, 8, ff) == 8);
    fclose(ff);
    expect_load_error("8 bytes changed", p, &a, " is damaged (checksum mismatch: CRC-32");

    p = tpath("text.h5");
    FILE *tf = fopen(p, "w");
    fputs("[train]\nepochs = 3\n", tf);
    fclose(tf);
    expect_load_error("not HDF5 (text)", p, &a, ": not an HDF5 file");

    expect_load_error("missing file", tpath("nope.h5"), &a, ": No such file or directory");

    // A model of another architecture: first mismatch named, the rest counted.
    gs_model_arch wide = a;
    wide.alpha = 0.5f;
    expect_load_error("other alpha", good, &wide,
                      ": /weights/block_1_project/kernel has shape (1, 1, 48, 8), the model expects (1, 1, 48, 16) "
                      "(and 412 more problems)");

    // Class list inconsistent with the model's outputs.
    gs_model m;
    make_model(&m, &a);
    gs_train_state st;
    checkpoint_state_init(&st, 1e-4);
    rc = checkpoint_save(tpath("cls4.h5"), &m, &st, "", CLASSES, 4);
    check(rc == 0, "save with 4 classes");
    expect_load_error("class count", tpath("cls4.h5"), &a, ": 4 class names, but the model has 5 outputs");

    // Unwritable destination: an error naming the path, nothing left behind.
    rc = checkpoint_save(tpath("no/such/dir/last.h5"), &m, &st, "", CLASSES, 5);
    check(rc == -1 && strstr(gs_last_error(), "no/such/dir/last.h5: cannot write ") &&
              strstr(gs_last_error(), "No such file or directory"),
          "save into a missing directory -> %s", gs_last_error());

    // A write that fails midway (file-size limit, as on a full disk): error, the old target intact.
    const char *full = tpath("full.h5");
    GS_ASSERT(fs_copy_file(full, good) == 0);
    model_init_weights(&m, 99);
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, SIG_IGN);  // writes past the limit then fail with EFBIG instead of killing us
    lim = old;
    lim.rlim_cur = 1 << 20;
    setrlimit(RLIMIT_FSIZE, &lim);
    rc = checkpoint_save(full, &m, &st, "", CLASSES, 5);
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", gs_last_error());
    setrlimit(RLIMIT_FSIZE, &old);
    check(rc == -1 && strstr(msg, "File too large") && test_same_bytes(full, good) && count_tmp_files() == 0,
          "failed write keeps the old file, removes the temp -> %s", msg);
    model_free(&m);
}

static void test_trainlog(void) {
    const char *p = tpath("log.h5");
    gs_epoch_row r[3] = {{0, 0.2, 1e-4, 1.6, 0.25, 1.55}, {1, 0.4, 1e-4, 1.1, 0.35, 1.2}, {2, 0.6, 5e-5, 0.8, 0.55, 1.0}};
    gs_epoch_row *got = NULL;
    int n = 0;
    int rc = trainlog_write(p, r, 2) | trainlog_write(p, r, 3) | trainlog_read(p, &got, &n);
    check(rc == 0 && n == 3 && rows_equal(r, got, 3), "log.h5: rewritten with 3 rows, read back exactly %s",
          rc ? gs_last_error() : "");
    free(got);
    rc = trainlog_write(p, NULL, 0) | trainlog_read(p, &got, &n);
    check(rc == 0 && n == 0, "empty log round trip");
    free(got);
    check(count_tmp_files() == 0, "no temp file left by log writes");
    rc = trainlog_read(tpath("ckpt.h5"), &got, &n);
    check(rc == -1 && strstr(gs_last_error(), "not a gesture training log (format is 'gesture-checkpoint')"),
          "a checkpoint is not a log -> %s", gs_last_error());
    hid_t f = open_rw(p);
    H5Ldelete(f, "val_loss", H5P_DEFAULT);
    close_rw(f, p);
    rc = trainlog_read(p, &got, &n);
    check(rc == -1 && strstr(gs_last_error(), "log.h5: missing dataset /val_loss"), "missing column -> %s",
          gs_last_error());
    rc = trainlog_read(tpath("text.h5"), &got, &n);
    check(rc == -1 && strstr(gs_last_error(), "not an HDF5 file"), "a non-HDF5 file is refused -> %s",
          gs_last_error());
}

static int write_sample(const char *out) {
    dir = out;
    gs_model m;
    gs_model_arch a = small_arch();
    make_model(&m, &a);
    model_init_weights(&m, 3);
    gs_train_state st;
    checkpoint_state_init(&st, 1e-4);
    gs_epoch_row rows[2] = {{0, 0.2, 1e-4, 1.6, 0.25, 1.55}, {1, 0.4, 1e-4, 1.1, 0.35, 1.2}};
    st.history = rows;
    st.n_history = 2;
    st.epoch = 2;
    gs_config c;
    config_defaults(&c);
    char *ini = config_to_ini(&c);
    int rc = checkpoint_save(tpath("ckpt.h5"), &m, &st, ini, CLASSES, 5) | trainlog_write(tpath("log.h5"), rows, 2);
    if (rc) fprintf(stderr, "%s\n", gs_last_error());
    free(ini);
    model_free(&m);
    return rc ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "--writer-loop")) return writer_loop(argv[2], argc >= 4 ? atol(argv[3]) : 0);
    if (argc >= 3 && !strcmp(argv[1], "--verify")) return verify(argv[2]);
    if (argc >= 3 && !strcmp(argv[1], "--write-sample")) return write_sample(argv[2]);
    dir = test_make_tmpdir("ckpt");
    test_roundtrip();
    test_errors();
    test_state_errors();
    test_trainlog();
    return test_finish();
}
