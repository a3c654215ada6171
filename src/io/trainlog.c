// The HDF5 training log (log.h5) and the metric-history tables it shares with checkpoints.
#include "gesture/trainlog.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"
#include "h5util.h"
#include "trainlog_h5.h"

#define TRAINLOG_COLUMNS "epoch,accuracy,learning_rate,loss,val_accuracy,val_loss"

// The float64 columns, in CSV order after epoch.
static const struct {
    const char *name;
    size_t off;
} float_cols[] = {
    {"accuracy", offsetof(gs_epoch_row, accuracy)}, {"learning_rate", offsetof(gs_epoch_row, learning_rate)},
    {"loss", offsetof(gs_epoch_row, loss)},         {"val_accuracy", offsetof(gs_epoch_row, val_accuracy)},
    {"val_loss", offsetof(gs_epoch_row, val_loss)},
};
#define N_FLOAT_COLS (int)(sizeof float_cols / sizeof float_cols[0])

// One extendible 1-D column of n values (buf in memory type mtype, stored as ftype).
static int write_column(const char *file, hid_t loc, const char *name, hid_t ftype, hid_t mtype, int n,
                        const void *buf) {
    hid_t space = -1, dcpl = -1, d = -1;
    hsize_t dims[1] = {(hsize_t)n}, maxdims[1] = {H5S_UNLIMITED}, chunk[1] = {64};
    H5_CHECK(file, space = H5Screate_simple(1, dims, maxdims));
    H5_CHECK(file, dcpl = H5Pcreate(H5P_DATASET_CREATE));
    H5_CHECK(file, H5Pset_chunk(dcpl, 1, chunk));
    H5_CHECK(file, H5Pset_obj_track_times(dcpl, 0));  // same rows -> same bytes
    H5_CHECK(file, d = H5Dcreate2(loc, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
    if (n > 0) H5_CHECK(file, H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf));
    H5_CHECK(file, H5Dclose(d));
    H5Pclose(dcpl);
    H5Sclose(space);
    return 0;
fail:
    if (d >= 0) H5Dclose(d);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (space >= 0) H5Sclose(space);
    return -1;
}

int h5_history_write(const char *file, hid_t loc, const gs_epoch_row *rows, int n) {
    int *ep = gs_malloc((size_t)(n > 0 ? n : 1) * sizeof *ep);
    double *col = gs_malloc((size_t)(n > 0 ? n : 1) * sizeof *col);
    int rc = 0;
    for (int i = 0; i < n; i++) ep[i] = rows[i].epoch;
    rc = write_column(file, loc, "epoch", H5T_STD_I32LE, H5T_NATIVE_INT, n, ep);
    for (int c = 0; c < N_FLOAT_COLS && rc == 0; c++) {
        for (int i = 0; i < n; i++) col[i] = *(const double *)((const char *)&rows[i] + float_cols[c].off);
        rc = write_column(file, loc, float_cols[c].name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, n, col);
    }
    free(ep);
    free(col);
    return rc;
}

// Open column `name` under loc: must be a 1-D dataset of class cls; *len gets its length.
static hid_t open_column(hsize_t *len, const char *file, const char *where, hid_t loc, const char *name,
                         H5T_class_t cls) {
    const char *sep = strcmp(where, "/") ? "/" : "";
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) return gs_error("%s: missing dataset %s%s%s", file, where, sep, name);
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) return gs_error("%s: %s%s%s is not a dataset", file, where, sep, name);
    hid_t t = H5Dget_type(d), s = H5Dget_space(d);
    int ok_type = t >= 0 && H5Tget_class(t) == cls;
    int rank = s >= 0 ? H5Sget_simple_extent_ndims(s) : -1;
    if (rank == 1) H5Sget_simple_extent_dims(s, len, NULL);
    char tn[32];
    if (!ok_type)
        gs_error("%s: %s%s%s has dtype %s, expected %s", file, where, sep, name,
                 t >= 0 ? h5_type_name(t, tn, sizeof tn) : "?", cls == H5T_INTEGER ? "int32" : "float64");
    else if (rank != 1)
        gs_error("%s: %s%s%s has rank %d, expected a 1-D column", file, where, sep, name, rank);
    if (t >= 0) H5Tclose(t);
    if (s >= 0) H5Sclose(s);
    if (!ok_type || rank != 1) {
        H5Dclose(d);
        return -1;
    }
    return d;
}

int h5_history_read(gs_epoch_row **rows, int *n, const char *file, const char *where, hid_t loc) {
    hsize_t len = 0, l2 = 0;
    hid_t d = open_column(&len, file, where, loc, "epoch", H5T_INTEGER);
    if (d < 0) return -1;
    gs_epoch_row *r = gs_calloc(len ? (size_t)len : 1, sizeof *r);
    int *ep = gs_malloc((len ? (size_t)len : 1) * sizeof *ep);
    double *col = gs_malloc((len ? (size_t)len : 1) * sizeof *col);
    int rc = 0;
    if (len > 0 && H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, ep) < 0)
        rc = h5_error_here(file, "H5Dread(epoch)", __FILE__, __LINE__);
    H5Dclose(d);
    for (hsize_t i = 0; i < len; i++) r[i].epoch = ep[i];
    for (int c = 0; c < N_FLOAT_COLS && rc == 0; c++) {
        d = open_column(&l2, file, where, loc, float_cols[c].name, H5T_FLOAT);
        if (d < 0) {
            rc = -1;
            break;
        }
        if (l2 != len)
            rc = gs_error("%s: %s column '%s' has %llu rows, 'epoch' has %llu", file, where, float_cols[c].name,
                          (unsigned long long)l2, (unsigned long long)len);
        else if (len > 0 && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, col) < 0)
            rc = h5_error_here(file, "H5Dread(history column)", __FILE__, __LINE__);
        H5Dclose(d);
        for (hsize_t i = 0; i < len && rc == 0; i++) *(double *)((char *)&r[i] + float_cols[c].off) = col[i];
    }
    free(ep);
    free(col);
    if (rc != 0) {
        free(r);
        return -1;
    }
    *rows = r;
    *n = (int)len;
    return 0;
}

int trainlog_write(const char *path, const gs_epoch_row *rows, int n) {
    h5_atomic a;
    if (h5_atomic_create(&a, path) != 0) return -1;
    if (h5_attr_write_str(path, a.fid, "format", GS_TRAINLOG_FORMAT) != 0 ||
        h5_attr_write_i64(path, a.fid, "format_version", GS_TRAINLOG_VERSION) != 0 ||
        h5_attr_write_str(path, a.fid, "columns", TRAINLOG_COLUMNS) != 0 ||
        h5_history_write(path, a.fid, rows, n) != 0) {
        h5_atomic_abort(&a);
        return -1;
    }
    return h5_atomic_commit(&a);
}

int trainlog_read(const char *path, gs_epoch_row **rows, int *n) {
    hid_t f = h5_open(path, 0);
    if (f < 0) return -1;
    char *format = NULL;
    int64_t version = 0;
    int rc = -1;
    if (!h5_attr_exists(f, "format")) {
        gs_error("%s: not a gesture training log (format attribute missing)", path);
    } else if (h5_attr_read_str(&format, path, "/", f, "format") != 0) {
        // message set
    } else if (strcmp(format, GS_TRAINLOG_FORMAT) != 0) {
        gs_error("%s: not a gesture training log (format is '%s')", path, format);
    } else if (h5_attr_read_i64(&version, path, "/", f, "format_version") != 0) {
        // message set
    } else if (version > GS_TRAINLOG_VERSION || version < 1) {
        gs_error("%s: format_version %lld is not supported by this gesture (%d)", path, (long long)version,
                 GS_TRAINLOG_VERSION);
    } else {
        rc = h5_history_read(rows, n, path, "/", f);
    }
    free(format);
    H5Fclose(f);
    return rc;
}
