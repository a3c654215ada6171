// Implementation of the test helpers (see testutil.h).
#include "testutil.h"

#include <hdf5.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"

static int n_pass, n_fail;

const char *fx_path(const char *file) {
    static char buf[4096];
    const char *dir = getenv("GESTURE_FIXTURES");
    if (!dir) dir = "build/fixtures";
    snprintf(buf, sizeof buf, "%s/%s", dir, file);
    return buf;
}

static hid_t open_file(const char *file) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) gs_fatal("%s: cannot open fixture file (run scripts/make_fixtures.sh)", file);
    return f;
}

int fx_exists(const char *file, const char *name) {
    hid_t f = open_file(file);
    int ok = H5Lexists(f, name, H5P_DEFAULT) > 0;
    H5Fclose(f);
    return ok;
}

double *fx_read(const char *file, const char *name, int *ndim, long shape[8]) {
    hid_t f = open_file(file);
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0) gs_fatal("%s: fixture dataset '%s' missing", file, name);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t s = H5Dget_space(d);
    int nd = H5Sget_simple_extent_ndims(s);
    hsize_t dims[8] = {0};
    H5Sget_simple_extent_dims(s, dims, NULL);
    size_t n = 1;
    for (int i = 0; i < nd; i++) {
        n *= dims[i];
        if (shape) shape[i] = (long)dims[i];
    }
    if (ndim) *ndim = nd;
    double *out = gs_malloc(n * sizeof(double));
    if (H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
        gs_fatal("%s: cannot read fixture dataset '%s'", file, name);
    H5Sclose(s);
    H5Dclose(d);
    H5Fclose(f);
    return out;
}

size_t fx_numel(const char *file, const char *name) {
    int nd;
    long shape[8];
    free(fx_read(file, name, &nd, shape));
    size_t n = 1;
    for (int i = 0; i < nd; i++) n *= (size_t)shape[i];
    return n;
}

float *fx_read_f32(const char *file, const char *name, size_t *n) {
    int nd;
    long shape[8];
    double *d = fx_read(file, name, &nd, shape);
    size_t cnt = 1;
    for (int i = 0; i < nd; i++) cnt *= (size_t)shape[i];
    float *out = gs_malloc(cnt * sizeof(float));
    for (size_t i = 0; i < cnt; i++) out[i] = (float)d[i];
    free(d);
    if (n) *n = cnt;
    return out;
}

int *fx_read_int(const char *file, const char *name, size_t *n) {
    int nd;
    long shape[8];
    double *d = fx_read(file, name, &nd, shape);
    size_t cnt = 1;
    for (int i = 0; i < nd; i++) cnt *= (size_t)shape[i];
    int *out = gs_malloc(cnt * sizeof(int));
    for (size_t i = 0; i < cnt; i++) out[i] = (int)d[i];
    free(d);
    if (n) *n = cnt;
    return out;
}

int check_close(const char *what, const float *got, const double *want, size_t n, double tol) {
    double maxref = 0, maxdiff = 0;
    size_t worst = 0;
    int finite = 1;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(got[i])) finite = 0;
        double a = fabs(want[i]);
        if (a > maxref) maxref = a;
        double d = fabs((double)got[i] - want[i]);
        if (d > maxdiff) {
            maxdiff = d;
            worst = i;
        }
    }
    double err = maxdiff / (maxref > 1e-12 ? maxref : 1e-12);
    int ok = finite && err <= tol;
    printf("%s %-48s rel err %.3e (tol %.0e, n=%zu", ok ? "ok  " : "FAIL", what, err, tol, n);
    if (!ok && n) printf(", worst [%zu] got %.8g want %.8g", worst, got[worst], want[worst]);
    printf(")%s\n", finite ? "" : " NON-FINITE");
    if (ok) n_pass++;
    else n_fail++;
    return ok;
}

static int same_double(double a, double b) { return a == b || (isnan(a) && isnan(b)); }

int same_callbacks_state(const gs_callbacks_state *a, const gs_callbacks_state *b) {
    const gs_early_stopping_state *ea = &a->early_stopping, *eb = &b->early_stopping;
    const gs_reduce_lr_state *ra = &a->reduce_lr, *rb = &b->reduce_lr;
    const gs_model_checkpoint_state *ca = &a->checkpoint, *cb = &b->checkpoint;
    return ea->wait == eb->wait && ea->has_best == eb->has_best && same_double(ea->best, eb->best) &&
           ea->best_epoch == eb->best_epoch && ea->has_snapshot == eb->has_snapshot && ra->wait == rb->wait &&
           ra->cooldown_counter == rb->cooldown_counter && ra->has_best == rb->has_best &&
           same_double(ra->best, rb->best) && same_double(ca->best, cb->best) && ca->best_epoch == cb->best_epoch;
}

int check(int ok, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("%s ", ok ? "ok  " : "FAIL");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    if (ok) n_pass++;
    else n_fail++;
    return ok;
}

int test_finish(void) {
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}

void test_skip(const char *why) {
    printf("SKIP: %s\n", why);
    exit(77);
}
