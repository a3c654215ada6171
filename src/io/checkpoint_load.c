// Strict checkpoint loading (layout in gesture/checkpoint.h): every expected tensor present with its
// exact shape and dtype float32, nothing unexpected, each problem named by file and tensor.
// Everything is validated and read into scratch memory first, so a failed load changes nothing.
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/checkpoint.h"
#include "gesture/errors.h"
#include "h5util.h"
#include "trainlog_h5.h"

// Open path and check it is a gesture checkpoint of a version this build reads.
static hid_t ckpt_open(const char *path) {
    hid_t f = h5_open(path, 0);
    if (f < 0) return -1;
    char *format = NULL;
    int64_t version = 0;
    int ok = 0;
    if (!h5_attr_exists(f, "format")) {
        gs_error("%s: not a gesture checkpoint (format attribute missing)", path);
    } else if (h5_attr_read_str(&format, path, "/", f, "format") != 0) {
        // message set
    } else if (strcmp(format, GS_CHECKPOINT_FORMAT) != 0) {
        gs_error("%s: not a gesture checkpoint (format is '%s', expected '%s')", path, format, GS_CHECKPOINT_FORMAT);
    } else if (h5_attr_read_i64(&version, path, "/", f, "format_version") != 0) {
        // message set
    } else if (version > GS_CHECKPOINT_VERSION) {
        gs_error("%s: format_version %lld is newer than this gesture (%d)", path, (long long)version,
                 GS_CHECKPOINT_VERSION);
    } else if (version < 1) {
        gs_error("%s: invalid format_version %lld", path, (long long)version);
    } else {
        ok = 1;
    }
    free(format);
    if (!ok) {
        H5Fclose(f);
        return -1;
    }
    return f;
}

// ---- validation: collect every problem, report the first and how many more ----

typedef struct {
    const char *file;
    int count;
    char first[900];
} problems;

__attribute__((format(printf, 2, 3))) static void problem(problems *pr, const char *fmt, ...) {
    if (pr->count++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(pr->first, sizeof pr->first, fmt, ap);
        va_end(ap);
    }
}

static int problems_report(const problems *pr) {
    if (pr->count == 0) return 0;
    if (pr->count == 1) return gs_error("%s: %s", pr->file, pr->first);
    return gs_error("%s: %s (and %d more problem%s)", pr->file, pr->first, pr->count - 1, pr->count > 2 ? "s" : "");
}

typedef struct {
    problems *pr;
    const gs_params *ps;
    const char *prefix;  // "/weights"
    int trainable_only;
} walk_ctx;

// Every dataset (or non-group object / non-hard link) under the group that is not an expected
// tensor is a problem.
static herr_t walk_unexpected(hid_t g, const char *name, const H5L_info_t *info, void *data) {
    walk_ctx *w = data;
    if (info->type != H5L_TYPE_HARD) {
        problem(w->pr, "unexpected link %s/%s", w->prefix, name);
        return 0;
    }
    hid_t o = H5Oopen(g, name, H5P_DEFAULT);
    if (o < 0) {
        problem(w->pr, "cannot open %s/%s (corrupt?)", w->prefix, name);
        return 0;
    }
    H5I_type_t t = H5Iget_type(o);
    H5Oclose(o);
    if (t == H5I_GROUP) return 0;
    int i = params_find(w->ps, name);
    if (t != H5I_DATASET || i < 0 || (w->trainable_only && !w->ps->p[i].trainable))
        problem(w->pr, "unexpected tensor %s/%s", w->prefix, name);
    return 0;
}

// Check the tensors under prefix ("/weights", "/optimizer/m", ...) against the model's table.
static void validate_group(problems *pr, hid_t f, const char *prefix, const gs_params *ps, int trainable_only) {
    // H5Lexists on a deep path fails when an intermediate group is missing, so check per level.
    const char *rel = prefix + 1;
    char partial[64];
    for (const char *s = rel;; s++) {
        if (*s == '/' || *s == 0) {
            snprintf(partial, sizeof partial, "%.*s", (int)(s - rel), rel);
            if (H5Lexists(f, partial, H5P_DEFAULT) <= 0) {
                problem(pr, "missing group /%s", partial);
                return;
            }
            if (*s == 0) break;
        }
    }
    hid_t g = H5Gopen2(f, rel, H5P_DEFAULT);
    if (g < 0) {
        problem(pr, "%s is not a group", prefix);
        return;
    }
    for (int i = 0; i < ps->n; i++) {
        const gs_param *p = &ps->p[i];
        if (trainable_only && !p->trainable) continue;
        char layer[GS_PARAM_NAME_MAX];
        const char *slash = strchr(p->name, '/');
        snprintf(layer, sizeof layer, "%.*s", slash ? (int)(slash - p->name) : (int)strlen(p->name), p->name);
        if (H5Lexists(g, layer, H5P_DEFAULT) <= 0 || H5Lexists(g, p->name, H5P_DEFAULT) <= 0) {
            problem(pr, "missing %s/%s", prefix, p->name);
            continue;
        }
        hid_t o = H5Oopen(g, p->name, H5P_DEFAULT);
        if (o < 0 || H5Iget_type(o) != H5I_DATASET) {
            problem(pr, "%s/%s is not a dataset", prefix, p->name);
            if (o >= 0) H5Oclose(o);
            continue;
        }
        hid_t t = H5Dget_type(o), s = H5Dget_space(o);
        char tn[32], want[64], got[64];
        if (t < 0 || H5Tget_class(t) != H5T_FLOAT || H5Tget_size(t) != 4) {
            problem(pr, "%s/%s has dtype %s, expected float32", prefix, p->name,
                    t >= 0 ? h5_type_name(t, tn, sizeof tn) : "?");
        } else {
            hsize_t dims[H5S_MAX_RANK];
            int nd = s >= 0 ? H5Sget_simple_extent_ndims(s) : -1;
            int same = nd == p->ndim;
            if (nd >= 0 && nd <= H5S_MAX_RANK) H5Sget_simple_extent_dims(s, dims, NULL);
            for (int k = 0; same && k < nd; k++) same = dims[k] == (hsize_t)p->shape[k];
            if (!same) {
                size_t u = (size_t)snprintf(got, sizeof got, "(");
                for (int k = 0; k < nd && nd <= H5S_MAX_RANK && u < sizeof got; k++)
                    u += (size_t)snprintf(got + u, sizeof got - u, k ? ", %llu" : "%llu", (unsigned long long)dims[k]);
                if (u < sizeof got) snprintf(got + u, sizeof got - u, nd == 1 ? ",)" : ")");
                problem(pr, "%s/%s has shape %s, the model expects %s", prefix, p->name, got,
                        params_shape_str(p, want, sizeof want));
            }
        }
        if (t >= 0) H5Tclose(t);
        if (s >= 0) H5Sclose(s);
        H5Oclose(o);
    }
    walk_ctx w = {pr, ps, prefix, trainable_only};
    if (H5Lvisit(g, H5_INDEX_NAME, H5_ITER_INC, walk_unexpected, &w) < 0)
        problem(pr, "cannot list %s (corrupt?)", prefix);
    H5Gclose(g);
}

// Read the (validated) tensors under prefix into buf at each parameter's offset.
static int read_group(const char *file, hid_t f, const char *prefix, const gs_params *ps, float *buf,
                      int trainable_only) {
    char full[GS_PARAM_NAME_MAX + 32];
    for (int i = 0; i < ps->n; i++) {
        const gs_param *p = &ps->p[i];
        if (trainable_only && !p->trainable) continue;
        snprintf(full, sizeof full, "%s/%s", prefix, p->name);
        hid_t d = H5Dopen2(f, full, H5P_DEFAULT);
        herr_t rc = d < 0 ? -1 : H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf + p->offset);
        char msg[512] = "";
        if (rc < 0) h5_last_message(msg, sizeof msg);  // before H5Dclose clears the stack
        if (d >= 0) H5Dclose(d);
        if (rc < 0) return gs_error("%s: cannot read %s (truncated or corrupt?): %s", file, full, msg);
    }
    return 0;
}

static int read_int(int *v, const char *file, const char *where, hid_t loc, const char *name) {
    int64_t x;
    if (h5_attr_read_i64(&x, file, where, loc, name) != 0) return -1;
    if (x < INT_MIN || x > INT_MAX) return gs_error("%s: attribute '%s' on %s is out of range", file, name, where);
    *v = (int)x;
    return 0;
}

// The callback attributes of /callbacks (g) into named state, decoding "none yet" (NaN bests, -1
// epochs; write_callbacks in checkpoint.c).
static int read_callbacks(gs_callbacks_state *s, const char *file, hid_t g) {
    const char *w = "/callbacks";
    gs_early_stopping_state *es = &s->early_stopping;
    gs_reduce_lr_state *rl = &s->reduce_lr;
    gs_model_checkpoint_state *ck = &s->checkpoint;
    int es_epoch = -1;
    if (h5_attr_read_f64(&es->best, file, w, g, "early_stopping_best") != 0 ||
        read_int(&es->wait, file, w, g, "early_stopping_wait") != 0 ||
        read_int(&es_epoch, file, w, g, "early_stopping_best_epoch") != 0 ||
        h5_attr_read_f64(&rl->best, file, w, g, "reduce_lr_best") != 0 ||
        read_int(&rl->wait, file, w, g, "reduce_lr_wait") != 0 ||
        read_int(&rl->cooldown_counter, file, w, g, "reduce_lr_cooldown") != 0 ||
        h5_attr_read_f64(&ck->best, file, w, g, "checkpoint_best") != 0 ||
        read_int(&ck->best_epoch, file, w, g, "checkpoint_best_epoch") != 0)
        return -1;
    if (es_epoch < -1)
        return gs_error("%s: attribute 'early_stopping_best_epoch' on %s = %d is below -1", file, w, es_epoch);
    es->has_best = !isnan(es->best);
    es->has_snapshot = es_epoch >= 0;
    es->best_epoch = es->has_snapshot ? es_epoch : 0;
    rl->has_best = !isnan(rl->best);
    return 0;
}

static int read_state(gs_train_state *st, int64_t *iterations, uint64_t *rng_seed, int64_t *rng_step, const char *file,
                      hid_t f) {
    int64_t step;
    hid_t opt = -1, cb = -1, hist = -1;
    int rc = -1;
    if (read_int(&st->epoch, file, "/", f, "epoch") != 0 || h5_attr_read_i64(&step, file, "/", f, "loader_step") != 0 ||
        h5_attr_read_u64(rng_seed, file, "/", f, "rng_seed") != 0 ||
        h5_attr_read_i64(rng_step, file, "/", f, "rng_step") != 0)
        goto out;
    st->step = (long)step;
    if (H5Lexists(f, "optimizer", H5P_DEFAULT) <= 0 || (opt = H5Gopen2(f, "optimizer", H5P_DEFAULT)) < 0) {
        gs_error("%s: missing group /optimizer", file);
        goto out;
    }
    if (h5_attr_read_i64(iterations, file, "/optimizer", opt, "iterations") != 0 ||
        h5_attr_read_f64(&st->learning_rate, file, "/optimizer", opt, "learning_rate") != 0)
        goto out;
    if (H5Lexists(f, "callbacks", H5P_DEFAULT) <= 0 || (cb = H5Gopen2(f, "callbacks", H5P_DEFAULT)) < 0) {
        gs_error("%s: missing group /callbacks", file);
        goto out;
    }
    const char *w = "/callbacks";
    if (read_callbacks(&st->callbacks, file, cb) != 0 ||
        h5_attr_read_f64(&st->part_loss_sum, file, w, cb, "partial_epoch_loss_sum") != 0 ||
        h5_attr_read_f64(&st->part_correct, file, w, cb, "partial_epoch_correct") != 0 ||
        h5_attr_read_i64(&st->part_seen, file, w, cb, "partial_epoch_seen") != 0)
        goto out;
    if (H5Lexists(f, "history", H5P_DEFAULT) <= 0 || (hist = H5Gopen2(f, "history", H5P_DEFAULT)) < 0) {
        gs_error("%s: missing group /history", file);
        goto out;
    }
    rc = h5_history_read(&st->history, &st->n_history, file, "/history", hist);
out:
    if (opt >= 0) H5Gclose(opt);
    if (cb >= 0) H5Gclose(cb);
    if (hist >= 0) H5Gclose(hist);
    return rc;
}

// Every float of the tensors under prefix finite (a NaN weight would predict NaN silently, a NaN
// moment would train to NaN); Adam second moments also >= 0 (their square root is taken).
static void check_finite(problems *pr, const char *prefix, const gs_params *ps, const float *buf, int trainable_only,
                         int nonneg) {
    for (int i = 0; i < ps->n; i++) {
        const gs_param *p = &ps->p[i];
        if (trainable_only && !p->trainable) continue;
        for (size_t k = 0; k < p->numel; k++) {
            float x = buf[p->offset + k];
            if (isfinite(x) && !(nonneg && x < 0)) continue;
            problem(pr, "%s/%s holds %g at index %zu (weights must be finite%s)", prefix, p->name, (double)x, k,
                    nonneg ? " and >= 0" : "");
            break;
        }
    }
}

// The trainer state as a whole: each field in range and consistent with the others, so a resume
// never starts from a state no run can reach (negative counters, a NaN rate, a cursor past the data).
static void check_state(problems *pr, const gs_train_state *st, int64_t iterations, int64_t rng_step) {
    const gs_callbacks_state *cb = &st->callbacks;
    if (st->epoch < 0 || st->epoch > GS_CHECKPOINT_MAX_EPOCH)
        problem(pr, "attribute epoch = %d is outside [0, %d]", st->epoch, GS_CHECKPOINT_MAX_EPOCH);
    if (st->step < 0 || st->step > INT_MAX)
        problem(pr, "attribute loader_step = %ld is outside [0, %d]", st->step, INT_MAX);
    if (iterations < 0) problem(pr, "/optimizer attribute iterations = %lld is negative", (long long)iterations);
    if (rng_step < 0) problem(pr, "attribute rng_step = %lld is negative", (long long)rng_step);
    if (!isfinite(st->learning_rate) || st->learning_rate <= 0)
        problem(pr, "/optimizer attribute learning_rate = %g is not a finite number > 0", st->learning_rate);
    if (!isfinite(st->part_loss_sum) || st->part_loss_sum < 0)
        problem(pr, "/callbacks attribute partial_epoch_loss_sum = %g is not a finite number >= 0", st->part_loss_sum);
    if (st->part_seen < 0) problem(pr, "/callbacks attribute partial_epoch_seen = %ld is negative", st->part_seen);
    if (!(st->part_correct >= 0 && st->part_correct <= (double)st->part_seen))
        problem(pr, "/callbacks attribute partial_epoch_correct = %g is outside [0, partial_epoch_seen = %ld]",
                st->part_correct, st->part_seen);
    if (st->step == 0 && (st->part_seen != 0 || st->part_loss_sum != 0))
        problem(pr, "/callbacks partial_epoch sums are not 0 at loader_step 0");
    if (cb->early_stopping.wait < 0) problem(pr, "/callbacks attribute early_stopping_wait is negative");
    if (cb->reduce_lr.wait < 0) problem(pr, "/callbacks attribute reduce_lr_wait is negative");
    if (cb->reduce_lr.cooldown_counter < 0) problem(pr, "/callbacks attribute reduce_lr_cooldown is negative");
    if (cb->early_stopping.best_epoch > st->epoch)  // a negative one reads as "no snapshot" (read_callbacks)
        problem(pr, "/callbacks attribute early_stopping_best_epoch = %d is past epoch = %d",
                cb->early_stopping.best_epoch, st->epoch);
    if (cb->checkpoint.best_epoch < -1 || cb->checkpoint.best_epoch > st->epoch)
        problem(pr, "/callbacks attribute checkpoint_best_epoch = %d is outside [-1, epoch = %d]",
                cb->checkpoint.best_epoch, st->epoch);
    if (st->n_history > st->epoch)
        problem(pr, "/history has %d rows for %d completed epochs", st->n_history, st->epoch);
    for (int i = 0; i < st->n_history; i++)
        if (st->history[i].epoch != i) {
            problem(pr, "/history/epoch[%d] = %d, expected %d (one row per completed epoch)", i,
                    st->history[i].epoch, i);
            break;
        }
}

int checkpoint_check_resume(const char *path, const gs_train_state *st, int steps_per_epoch) {
    if (st->step > 0 && st->step >= steps_per_epoch)  // 0: an epoch boundary, whatever the epoch length
        return gs_error("%s: attribute loader_step = %ld is past the end of an epoch of %d steps (a different "
                        "data set or batch size?)", path, st->step, steps_per_epoch);
    return 0;
}

// Everything read into scratch memory is checked before anything is committed.
static int check_loaded(const char *path, const gs_params *ps, const float *data, const float *mm, const float *vv,
                        const gs_train_state *st, int64_t iterations, int64_t rng_step) {
    problems pr = {.file = path};
    check_finite(&pr, "/weights", ps, data, 0, 0);
    if (mm) {
        check_finite(&pr, "/optimizer/m", ps, mm, 1, 0);
        check_finite(&pr, "/optimizer/v", ps, vv, 1, 1);
        check_state(&pr, st, iterations, rng_step);
    }
    return problems_report(&pr);
}

// full: weights + optimizer + state; otherwise weights only.
static int load_impl(const char *path, gs_model *m, int full, gs_train_state *st_out, char **config_out,
                     char ***classes_out, int *n_classes_out) {
    const gs_params *ps = &m->params;
    hid_t f = ckpt_open(path);
    if (f < 0) return -1;
    problems pr = {.file = path};
    validate_group(&pr, f, "/weights", ps, 0);
    if (full) {
        validate_group(&pr, f, "/optimizer/m", ps, 1);
        validate_group(&pr, f, "/optimizer/v", ps, 1);
    }
    if (problems_report(&pr) != 0) {
        H5Fclose(f);
        return -1;
    }
    float *data = gs_malloc(ps->numel * sizeof(float));
    float *mm = full ? gs_malloc(ps->numel_trainable * sizeof(float)) : NULL;
    float *vv = full ? gs_malloc(ps->numel_trainable * sizeof(float)) : NULL;
    gs_train_state st;
    checkpoint_state_init(&st, 0.0);
    int64_t iterations = 0, rng_step = 0;
    uint64_t rng_seed = 0;
    char *config = NULL, **classes = NULL;
    int n_classes = 0, rc = -1;
    if (read_group(path, f, "weights", ps, data, 0) != 0) goto out;
    if (full &&
        (read_group(path, f, "optimizer/m", ps, mm, 1) != 0 || read_group(path, f, "optimizer/v", ps, vv, 1) != 0 ||
         read_state(&st, &iterations, &rng_seed, &rng_step, path, f) != 0))
        goto out;
    if (check_loaded(path, ps, data, mm, vv, &st, iterations, rng_step) != 0) goto out;
    if (config_out && h5_attr_read_str(&config, path, "/", f, "config") != 0) goto out;
    if (h5_attr_read_strs(&classes, &n_classes, path, "/", f, "classes") != 0) goto out;
    if (n_classes != m->cfg.classes) {
        gs_error("%s: %d class names, but the model has %d outputs", path, n_classes, m->cfg.classes);
        goto out;
    }
    // Everything read: now commit to the caller's model and outputs.
    memcpy(ps->data, data, ps->numel * sizeof(float));
    if (full) {
        memcpy(ps->m, mm, ps->numel_trainable * sizeof(float));
        memcpy(ps->v, vv, ps->numel_trainable * sizeof(float));
        m->adam_t = (long)iterations;
        m->seed = rng_seed;
        m->step = (long)rng_step;
        if (st_out) {
            *st_out = st;
            st.history = NULL;
        }
    }
    if (config_out) {
        *config_out = config;
        config = NULL;
    }
    if (classes_out) {
        *classes_out = classes;
        *n_classes_out = n_classes;
        classes = NULL;
    }
    rc = 0;
out:
    checkpoint_state_free(&st);
    checkpoint_free_classes(classes, n_classes);
    free(config);
    free(data);
    free(mm);
    free(vv);
    H5Fclose(f);
    return rc;
}

int checkpoint_load(const char *path, gs_model *m, gs_train_state *st, char **config_ini, char ***classes,
                    int *n_classes) {
    GS_ASSERT(m && (!classes || n_classes));
    return load_impl(path, m, 1, st, config_ini, classes, n_classes);
}

int checkpoint_load_weights_only(const char *path, gs_model *m) {
    GS_ASSERT(m);
    return load_impl(path, m, 0, NULL, NULL, NULL, NULL);
}

int checkpoint_read_config(const char *path, char **config_ini) {
    hid_t f = ckpt_open(path);
    if (f < 0) return -1;
    int rc = h5_attr_read_str(config_ini, path, "/", f, "config");
    H5Fclose(f);
    return rc;
}

int checkpoint_read_classes(const char *path, char ***classes, int *n_classes) {
    hid_t f = ckpt_open(path);
    if (f < 0) return -1;
    int rc = h5_attr_read_strs(classes, n_classes, path, "/", f, "classes");
    H5Fclose(f);
    return rc;
}
