// Writing training checkpoints (layout in gesture/checkpoint.h); loading is in checkpoint_load.c.
#include "gesture/checkpoint.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"
#include "h5util.h"
#include "trainlog_h5.h"

void checkpoint_state_init(gs_train_state *st, double learning_rate) {
    memset(st, 0, sizeof *st);
    st->learning_rate = learning_rate;
    callbacks_state_init(&st->callbacks);
}

void checkpoint_state_free(gs_train_state *st) {
    free(st->history);
    st->history = NULL;
    st->n_history = 0;
}

void checkpoint_free_classes(char **classes, int n_classes) {
    if (!classes) return;
    for (int i = 0; i < n_classes; i++) free(classes[i]);
    free(classes);
}

// Group `name` under loc, created without timestamps (identical content -> identical bytes);
// an existing group is opened.
static hid_t group_open_or_create(const char *file, hid_t loc, const char *name) {
    if (H5Lexists(loc, name, H5P_DEFAULT) > 0) {
        hid_t g = H5Gopen2(loc, name, H5P_DEFAULT);
        if (g < 0) h5_error_here(file, "H5Gopen2", __FILE__, __LINE__);
        return g;
    }
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    if (gcpl < 0 || H5Pset_obj_track_times(gcpl, 0) < 0) {
        if (gcpl >= 0) H5Pclose(gcpl);
        return h5_error_here(file, "H5Pcreate(H5P_GROUP_CREATE)", __FILE__, __LINE__);
    }
    hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
    H5Pclose(gcpl);
    if (g < 0) h5_error_here(file, "H5Gcreate2", __FILE__, __LINE__);
    return g;
}

// One float32 dataset `p->name` ("<layer>/<var>") under group root, Keras shape, from data.
static int write_tensor(const char *file, hid_t root, const gs_param *p, const float *data, hid_t dcpl) {
    hid_t layer = -1, space = -1, d = -1;
    char lname[GS_PARAM_NAME_MAX];
    const char *slash = strchr(p->name, '/');
    GS_ASSERT(slash != NULL && slash != p->name);  // params are always "<layer>/<var>"
    snprintf(lname, sizeof lname, "%.*s", (int)(slash - p->name), p->name);
    hsize_t dims[4];
    for (int k = 0; k < p->ndim; k++) dims[k] = (hsize_t)p->shape[k];
    if ((layer = group_open_or_create(file, root, lname)) < 0) goto fail;
    H5_CHECK(file, space = H5Screate_simple(p->ndim, dims, NULL));
    H5_CHECK(file, d = H5Dcreate2(layer, slash + 1, H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
    H5_CHECK(file, H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
    H5_CHECK(file, H5Dclose(d));
    H5Sclose(space);
    H5Gclose(layer);
    return 0;
fail:
    if (d >= 0) H5Dclose(d);
    if (space >= 0) H5Sclose(space);
    if (layer >= 0) H5Gclose(layer);
    return -1;
}

// Every parameter (trainable_only: the trainable prefix) of ps from buf (indexed by p.offset)
// under the group at path `where`.
static int write_tensors(const char *file, hid_t fid, const char *where, const gs_params *ps, const float *buf,
                         int trainable_only) {
    hid_t dcpl = -1, g = -1;
    H5_CHECK(file, dcpl = H5Pcreate(H5P_DATASET_CREATE));
    H5_CHECK(file, H5Pset_obj_track_times(dcpl, 0));
    if ((g = group_open_or_create(file, fid, where)) < 0) goto fail;
    for (int i = 0; i < ps->n; i++) {
        const gs_param *p = &ps->p[i];
        if (trainable_only && !p->trainable) continue;
        if (write_tensor(file, g, p, buf + p->offset, dcpl) != 0) goto fail;
    }
    H5Gclose(g);
    H5Pclose(dcpl);
    return 0;
fail:
    if (g >= 0) H5Gclose(g);
    if (dcpl >= 0) H5Pclose(dcpl);
    return -1;
}

// The callback state as attributes; "none yet" as NaN bests and -1 epochs (checkpoint.h), the
// encoding of the first format, which checkpoint_load decodes.
static int write_callbacks(const char *file, hid_t fid, const gs_train_state *st) {
    const gs_early_stopping_state *es = &st->callbacks.early_stopping;
    const gs_reduce_lr_state *rl = &st->callbacks.reduce_lr;
    const gs_model_checkpoint_state *ck = &st->callbacks.checkpoint;
    hid_t g = group_open_or_create(file, fid, "callbacks");
    if (g < 0) return -1;
    int rc = (h5_attr_write_f64(file, g, "early_stopping_best", es->has_best ? es->best : NAN) != 0 ||
              h5_attr_write_i64(file, g, "early_stopping_wait", es->wait) != 0 ||
              h5_attr_write_i64(file, g, "early_stopping_best_epoch", es->has_snapshot ? es->best_epoch : -1) != 0 ||
              h5_attr_write_f64(file, g, "reduce_lr_best", rl->has_best ? rl->best : NAN) != 0 ||
              h5_attr_write_i64(file, g, "reduce_lr_wait", rl->wait) != 0 ||
              h5_attr_write_i64(file, g, "reduce_lr_cooldown", rl->cooldown_counter) != 0 ||
              h5_attr_write_f64(file, g, "checkpoint_best", ck->best_epoch >= 0 ? ck->best : NAN) != 0 ||
              h5_attr_write_i64(file, g, "checkpoint_best_epoch", ck->best_epoch) != 0 ||
              h5_attr_write_f64(file, g, "partial_epoch_loss_sum", st->part_loss_sum) != 0 ||
              h5_attr_write_f64(file, g, "partial_epoch_correct", st->part_correct) != 0 ||
              h5_attr_write_i64(file, g, "partial_epoch_seen", st->part_seen) != 0)
                 ? -1
                 : 0;
    H5Gclose(g);
    return rc ? -1 : 0;
}

static int write_optimizer(const char *file, hid_t fid, const gs_model *m, const gs_train_state *st) {
    const gs_params *ps = &m->params;
    hid_t g = group_open_or_create(file, fid, "optimizer");
    if (g < 0) return -1;
    int rc = (h5_attr_write_i64(file, g, "iterations", m->adam_t) != 0 ||
              h5_attr_write_f64(file, g, "learning_rate", st->learning_rate) != 0)
                 ? -1
                 : 0;
    H5Gclose(g);
    if (rc) return -1;
    if (write_tensors(file, fid, "optimizer/m", ps, ps->m, 1) != 0) return -1;
    return write_tensors(file, fid, "optimizer/v", ps, ps->v, 1);
}

int checkpoint_save(const char *path, const gs_model *m, const gs_train_state *st, const char *config_ini,
                    const char *const *classes, int n_classes) {
    GS_ASSERT(m && st && config_ini && n_classes >= 0 && (classes || n_classes == 0));
    GS_ASSERT(st->n_history >= 0 && (st->history || st->n_history == 0));
    h5_atomic a;
    if (h5_atomic_create(&a, path) != 0) return -1;
    hid_t f = a.fid, hist = -1;
    int rc =
        (h5_attr_write_str(path, f, "format", GS_CHECKPOINT_FORMAT) != 0 ||
         h5_attr_write_i64(path, f, "format_version", GS_CHECKPOINT_VERSION) != 0 ||
         h5_attr_write_i64(path, f, "epoch", st->epoch) != 0 ||
         h5_attr_write_i64(path, f, "loader_step", st->step) != 0 ||
         h5_attr_write_u64(path, f, "rng_seed", m->seed) != 0 || h5_attr_write_i64(path, f, "rng_step", m->step) != 0 ||
         h5_attr_write_str(path, f, "config", config_ini) != 0 ||
         h5_attr_write_strs(path, f, "classes", classes, n_classes) != 0)
            ? -1
            : 0;
    if (rc) goto fail;
    if (write_tensors(path, f, "weights", &m->params, m->params.data, 0) != 0) goto fail;
    if (write_optimizer(path, f, m, st) != 0) goto fail;
    if (write_callbacks(path, f, st) != 0) goto fail;
    if ((hist = group_open_or_create(path, f, "history")) < 0) goto fail;
    if (h5_history_write(path, hist, st->history, st->n_history) != 0) goto fail;
    H5Gclose(hist);
    return h5_atomic_commit(&a);
fail:
    if (hist >= 0) H5Gclose(hist);
    h5_atomic_abort(&a);
    return -1;
}
