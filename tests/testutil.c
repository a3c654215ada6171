// Implementation of the test helpers (see testutil.h).
#define _XOPEN_SOURCE 700  // nftw
#include "testutil.h"

#include <float.h>
#include <ftw.h>
#include <hdf5.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zip.h>

#include "gesture/errors.h"
#include "gesture/fsutil.h"

static int n_pass, n_fail;

// ---- paths and scratch folders ----

// Strings handed out by test_path and the scratch folders, released by test_finish.
static char **paths, **tmpdirs;
static int n_paths, n_tmpdirs;

static const char *keep(char ***list, int *n, char *s) {
    char **grown = realloc(*list, (size_t)(*n + 1) * sizeof **list);
    if (!grown) gs_fatal("out of memory");
    *list = grown;
    (*list)[(*n)++] = s;
    return s;
}

const char *test_path(const char *dir, const char *file) {
    size_t n = strlen(dir) + strlen(file) + 2;
    char *p = gs_malloc(n);
    snprintf(p, n, "%s/%s", dir, file);
    return keep(&paths, &n_paths, p);
}

const char *test_make_tmpdir(const char *name) {
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    size_t n = strlen(base) + strlen(name) + 32;
    char *dir = gs_malloc(n);
    snprintf(dir, n, "%s/gesture_%s_XXXXXX", base, name);
    if (!mkdtemp(dir)) gs_fatal("%s: cannot create a scratch folder", dir);
    return keep(&tmpdirs, &n_tmpdirs, dir);
}

const char *fx_path(const char *file) {
    const char *dir = getenv("GESTURE_FIXTURES");
    return test_path(dir ? dir : "build/fixtures", file);
}

const char *test_source_dir(void) {
    const char *d = getenv("GESTURE_SOURCE_DIR");
    return d && *d ? d : GESTURE_SOURCE_DIR;
}

static int remove_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

// ---- files ----

char *test_read_text(const char *path, size_t *n) {
    char *text;
    if (fs_read_text(&text, n, path) != 0) gs_fatal("%s", gs_last_error());
    return text;
}

long test_file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

void test_copy_prefix(const char *dst, const char *src, long n) {
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    if (!in || !out) gs_fatal("cannot copy %s to %s", src, dst);
    char buf[1 << 16];
    for (long left = n; left > 0;) {
        size_t want = left < (long)sizeof buf ? (size_t)left : sizeof buf;
        size_t got = fread(buf, 1, want, in);
        if (got == 0 || fwrite(buf, 1, got, out) != got) gs_fatal("cannot copy %s to %s", src, dst);
        left -= (long)got;
    }
    fclose(in);
    if (fclose(out) != 0) gs_fatal("%s: write error", dst);
}

int test_same_bytes(const char *a, const char *b) {
    long n = test_file_size(a);
    if (n < 0 || n != test_file_size(b)) return 0;
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    for (long i = 0; i < n && same; i++) same = fgetc(fa) == fgetc(fb);
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

char *test_zip_read(size_t *n, const char *zip_path, const char *member) {
    int err;
    zip_t *z = zip_open(zip_path, ZIP_RDONLY, &err);
    zip_stat_t st;
    if (!z || zip_stat(z, member, 0, &st) != 0) gs_fatal("%s: cannot read member %s", zip_path, member);
    zip_file_t *zf = zip_fopen(z, member, 0);
    char *buf = gs_malloc(st.size + 1);
    if (!zf || zip_fread(zf, buf, st.size) != (zip_int64_t)st.size) gs_fatal("%s: cannot read member %s", zip_path, member);
    buf[st.size] = 0;  // text members (config.json) may be used as strings
    zip_fclose(zf);
    zip_discard(z);
    *n = st.size;
    return buf;
}

void test_zip_extract(const char *dst, const char *zip_path, const char *member) {
    size_t n;
    char *buf = test_zip_read(&n, zip_path, member);
    FILE *f = fopen(dst, "wb");
    if (!f || fwrite(buf, 1, n, f) != n || fclose(f) != 0) gs_fatal("%s: cannot write", dst);
    free(buf);
}

// ---- arrays ----

void test_fill_normal(float *a, gs_rng *rng, float scale, size_t n) {
    for (size_t i = 0; i < n; i++) a[i] = scale * gs_rng_normal(rng);
}

void test_fill_uniform(float *a, gs_rng *rng, float lo, float hi, size_t n) {
    for (size_t i = 0; i < n; i++) a[i] = gs_rng_range(rng, lo, hi);
}

float *test_zeros(size_t n) { return gs_calloc(n ? n : 1, sizeof(float)); }

static float **works;
static int n_works;

float *test_work(size_t n) {
    float *w = gs_aligned_alloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) w[i] = NAN;
    float **grown = realloc(works, (size_t)(n_works + 1) * sizeof *works);
    if (!grown) gs_fatal("out of memory");
    works = grown;
    works[n_works++] = w;
    return w;
}

// ---- fixtures ----

static hid_t open_file(const char *file) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) gs_fatal("%s: cannot open fixture file (run scripts/make_fixtures.sh)", file);
    return f;
}

void test_h5_put_attr(hid_t loc, const char *name, hid_t type, hid_t space, hid_t mem_type, const void *buf) {
    if (H5Aexists(loc, name) > 0) GS_ASSERT(H5Adelete(loc, name) >= 0);
    hid_t a = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    GS_ASSERT(a >= 0 && H5Awrite(a, mem_type, buf) >= 0);
    H5Aclose(a);
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

char **fx_read_strs(const char *file, const char *name, int *n) {
    hid_t f = open_file(file);
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0) gs_fatal("%s: fixture dataset '%s' missing", file, name);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t t = H5Dget_type(d), s = H5Dget_space(d);
    size_t sz = H5Tget_size(t);
    *n = (int)H5Sget_simple_extent_npoints(s);
    char *buf = gs_calloc((size_t)*n * sz + 1, 1);
    GS_ASSERT(H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    char **v = gs_calloc((size_t)*n, sizeof *v);
    for (int i = 0; i < *n; i++) v[i] = strndup(buf + (size_t)i * sz, sz);
    free(buf);
    H5Sclose(s);
    H5Tclose(t);
    H5Dclose(d);
    H5Fclose(f);
    return v;
}

double fx_read_scalar(const char *file, const char *name) {
    double *d = fx_read(file, name, NULL, NULL);
    double v = d[0];
    free(d);
    return v;
}

static const char *case_name(char *buf, size_t n, const char *group, int i, const char *sub) {
    snprintf(buf, n, "%s/case%d/%s", group, i, sub);
    return buf;
}

double *fx_read_case(const char *file, const char *group, int i, const char *sub) {
    char name[256];
    return fx_read(file, case_name(name, sizeof name, group, i, sub), NULL, NULL);
}

float *fx_read_case_f32(const char *file, const char *group, int i, const char *sub, size_t *n) {
    char name[256];
    return fx_read_f32(file, case_name(name, sizeof name, group, i, sub), n);
}

int *fx_read_case_int(const char *file, const char *group, int i, const char *sub) {
    char name[256];
    return fx_read_int(file, case_name(name, sizeof name, group, i, sub), NULL);
}

// ---- checks ----

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

int check_close_f32(const char *what, const float *got, const float *want, size_t n, double tol) {
    double *w = gs_malloc((n ? n : 1) * sizeof(double));
    for (size_t i = 0; i < n; i++) w[i] = want[i];
    int ok = check_close(what, got, w, n, tol);
    free(w);
    return ok;
}

int check_update(const char *what, const float *got, const double *want, const float *before, size_t n, double tol) {
    double dmax = 0, wmax = 0, err = 0;
    int finite = 1;
    for (size_t k = 0; k < n; k++) {
        double d_want = want[k] - before[k], d_got = (double)got[k] - before[k];
        finite &= isfinite(d_got);
        dmax = fmax(dmax, fabs(d_want));
        wmax = fmax(wmax, fabs(want[k]));
        err = fmax(err, fabs(d_got - d_want));
    }
    double allowed = tol * dmax + 4 * FLT_EPSILON * wmax;
    return check(finite && err <= allowed, "%-48s update err %.2e <= %.2e (max update %.2e)%s", what, err, allowed,
                 dmax, finite ? "" : " NON-FINITE");
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
    for (int i = 0; i < n_works; i++) free(works[i]);
    free(works);
    works = NULL;
    n_works = 0;
    for (int i = 0; i < n_tmpdirs; i++) {
        if (nftw(tmpdirs[i], remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) printf("note: could not remove %s\n", tmpdirs[i]);
        free(tmpdirs[i]);
    }
    for (int i = 0; i < n_paths; i++) free(paths[i]);
    free(tmpdirs);
    free(paths);
    tmpdirs = paths = NULL;
    n_tmpdirs = n_paths = 0;
    return n_fail ? 1 : 0;
}

void test_skip(const char *why) {
    printf("SKIP: %s\n", why);
    exit(77);
}

void test_h5_unstamp(const char *path) {
    FILE *f = fopen(path, "r+b");
    GS_ASSERT(f);
    static const char zeros[32];
    GS_ASSERT(fwrite(zeros, 1, sizeof zeros, f) == sizeof zeros);
    GS_ASSERT(fclose(f) == 0);
}
