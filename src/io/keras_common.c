// Helpers of the Keras importers (see keras_internal.h): checked dataset reads, in-memory HDF5,
// zip members via libzip, and the few config.json look-ups (a targeted scan, not a JSON parser:
// the weights tell everything else).
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "gesture/errors.h"
#include "h5util.h"
#include "keras_internal.h"

int k_path_exists(hid_t loc, const char *path) {
    if (!path[0]) return 1;
    char buf[512];
    size_t n = strlen(path);
    if (n >= sizeof buf) return 0;
    memcpy(buf, path, n + 1);
    // H5Lexists fails (rather than returning 0) when an intermediate group is missing
    for (char *s = buf; (s = strchr(s, '/')) != NULL; s++) {
        *s = 0;
        int ok = H5Lexists(loc, buf, H5P_DEFAULT) > 0;
        *s = '/';
        if (!ok) return 0;
    }
    return H5Lexists(loc, buf, H5P_DEFAULT) > 0;
}

int k_dims_of(hsize_t *dims, hid_t loc, const char *path) {
    if (!k_path_exists(loc, path)) return -1;
    hid_t d = H5Dopen2(loc, path, H5P_DEFAULT);
    if (d < 0) return -1;
    hid_t s = H5Dget_space(d);
    int nd = s >= 0 ? H5Sget_simple_extent_ndims(s) : -1;
    if (nd >= 0 && nd <= 8) H5Sget_simple_extent_dims(s, dims, NULL);
    else nd = -1;
    if (s >= 0) H5Sclose(s);
    H5Dclose(d);
    return nd;
}

int k_head_dim(int *v, const char *path, const char *where, const char *what, hsize_t x, int lo, int hi) {
    if (x < (hsize_t)lo || x > (hsize_t)hi)
        return gs_error("%s: %s: %s = %llu is outside [%d, %d]", path, where, what, (unsigned long long)x, lo, hi);
    *v = (int)x;
    return 0;
}

const char *k_dims_str(char *buf, size_t n, int ndim, const hsize_t *dims) {
    size_t used = (size_t)snprintf(buf, n, "(");
    for (int i = 0; i < ndim && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, i ? ", %llu" : "%llu", (unsigned long long)dims[i]);
    if (used < n) snprintf(buf + used, n - used, ndim == 1 ? ",)" : ")");
    return buf;
}

int k_read_param(float *dst, hid_t loc, const char *dset, const gs_param *p, const char *file,
                 const char *where) {
    char want[64], got[64], tn[32];
    hid_t d = -1, s = -1, t = -1;
    int rc = -1;
    if (!k_path_exists(loc, dset)) return gs_error("%s: %s: array missing (%s)", file, where, p->name);
    if ((d = H5Dopen2(loc, dset, H5P_DEFAULT)) < 0) {
        gs_error("%s: %s: not an array (%s)", file, where, p->name);
        goto out;
    }
    s = H5Dget_space(d);
    t = H5Dget_type(d);
    if (s < 0 || t < 0) {
        h5_error_here(file, "H5Dget_space/type", __FILE__, __LINE__);
        goto out;
    }
    if (H5Tget_class(t) != H5T_FLOAT) {
        gs_error("%s: %s is %s, expected float32 (%s)", file, where, h5_type_name(t, tn, sizeof tn), p->name);
        goto out;
    }
    hsize_t dims[8];
    int nd = H5Sget_simple_extent_ndims(s);
    if (nd < 0 || nd > 8) {
        gs_error("%s: %s: unsupported dataspace (%s)", file, where, p->name);
        goto out;
    }
    H5Sget_simple_extent_dims(s, dims, NULL);
    int same = nd == p->ndim;
    for (int i = 0; same && i < nd; i++) same = dims[i] == (hsize_t)p->shape[i];
    if (!same) {
        gs_error("%s: %s has shape %s, expected %s for %s", file, where, k_dims_str(got, sizeof got, nd, dims),
                 params_shape_str(p, want, sizeof want), p->name);
        goto out;
    }
    if (dst && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0) {
        char msg[256];
        gs_error("%s: %s: cannot read (%s): %s", file, where, p->name, h5_last_message(msg, sizeof msg));
        goto out;
    }
    for (size_t i = 0; dst && i < p->numel; i++)
        if (!isfinite(dst[i])) {  // a NaN weight would predict NaN silently
            gs_error("%s: %s holds %g at index %zu; weights must be finite (%s)", file, where, (double)dst[i], i,
                     p->name);
            goto out;
        }
    rc = 0;
out:
    if (t >= 0) H5Tclose(t);
    if (s >= 0) H5Sclose(s);
    if (d >= 0) H5Dclose(d);
    return rc;
}

void k_strs_free(char **v, int n) {
    if (!v) return;
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

int k_attr_strs(char ***v, int *n, const char *file, const char *where, hid_t loc, const char *attr) {
    *v = NULL;
    *n = 0;
    hid_t a = -1, t = -1, s = -1, mt = -1;
    int rc = -1;
    char tn[32];
    if ((a = H5Aopen(loc, attr, H5P_DEFAULT)) < 0 || (t = H5Aget_type(a)) < 0 || (s = H5Aget_space(a)) < 0) {
        h5_error_here(file, "H5Aopen", __FILE__, __LINE__);
        goto out;
    }
    hssize_t np = H5Sget_simple_extent_npoints(s);
    if (H5Tget_class(t) != H5T_STRING) {
        if (np == 0) rc = 0;
        else gs_error("%s: attribute %s of %s is %s, expected strings", file, attr, where, h5_type_name(t, tn, sizeof tn));
        goto out;
    }
    char **out = gs_calloc((size_t)np + 1, sizeof *out);
    // the file type itself as memory type: HDF5 1.10 cannot convert between ASCII and UTF-8
    if ((mt = H5Tcopy(t)) < 0) {
        free(out);
        h5_error_here(file, "H5Tcopy", __FILE__, __LINE__);
        goto out;
    }
    if (H5Tis_variable_str(t) > 0) {
        char **raw = gs_calloc((size_t)np + 1, sizeof *raw);
        if (np > 0 && H5Aread(a, mt, raw) < 0) {
            free(raw);
            free(out);
            h5_error_here(file, "H5Aread(variable-length strings)", __FILE__, __LINE__);
            goto out;
        }
        for (hssize_t i = 0; i < np; i++) out[i] = strdup(raw[i] ? raw[i] : "");
        if (np > 0) H5Dvlen_reclaim(mt, s, H5P_DEFAULT, raw);
        free(raw);
    } else {
        size_t sz = H5Tget_size(t);
        char *buf = gs_calloc((size_t)np * sz + 1, 1);
        if (np > 0 && H5Aread(a, mt, buf) < 0) {
            free(buf);
            free(out);
            h5_error_here(file, "H5Aread(fixed-length strings)", __FILE__, __LINE__);
            goto out;
        }
        for (hssize_t i = 0; i < np; i++) {
            char *x = strndup(buf + (size_t)i * sz, sz);  // NUL-padded or NUL-terminated
            size_t len = strlen(x);
            while (len > 0 && x[len - 1] == ' ' && H5Tget_strpad(t) == H5T_STR_SPACEPAD) x[--len] = 0;
            out[i] = x;
        }
        free(buf);
    }
    *v = out;
    *n = (int)np;
    rc = 0;
out:
    if (mt >= 0) H5Tclose(mt);
    if (s >= 0) H5Sclose(s);
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    return rc;
}

int k_is_zip(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return gs_error("%s: %s", path, strerror(errno));
    unsigned char sig[4] = {0};
    size_t got = fread(sig, 1, 4, fp);
    fclose(fp);
    return got == 4 && sig[0] == 'P' && sig[1] == 'K' && sig[2] == 3 && sig[3] == 4;
}

int k_zip_read(char **buf, size_t *n, const char *path, const char *member, int required) {
    int err = 0;
    zip_t *z = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &err);
    if (!z) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, err);
        int rc = err == ZIP_ER_OPEN || err == ZIP_ER_NOENT
                     ? gs_error("%s: %s", path, zip_error_strerror(&ze))
                     : gs_error("%s: cannot read as a zip archive (truncated, or not a .keras file?): %s", path,
                                zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return rc;
    }
    int rc = -1;
    zip_file_t *zf = NULL;
    zip_stat_t st;
    zip_int64_t idx = zip_name_locate(z, member, 0);
    if (idx < 0) {
        rc = required ? gs_error("%s: no %s inside (not a Keras 3 .keras file?)", path, member) : 1;
        goto out;
    }
    if (zip_stat_index(z, (zip_uint64_t)idx, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE)) {
        gs_error("%s: %s: %s", path, member, zip_strerror(z));
        goto out;
    }
    if (!(zf = zip_fopen_index(z, (zip_uint64_t)idx, 0))) {
        gs_error("%s: cannot open member %s: %s", path, member, zip_strerror(z));
        goto out;
    }
    char *b = gs_malloc((size_t)st.size + 1);
    zip_int64_t got = zip_fread(zf, b, st.size);
    if (got < 0 || (zip_uint64_t)got != st.size) {
        gs_error("%s: member %s is truncated or corrupt (%lld of %llu bytes): %s", path, member, (long long)got,
                 (unsigned long long)st.size, zip_file_strerror(zf));
        free(b);
        goto out;
    }
    b[st.size] = 0;
    *buf = b;
    *n = (size_t)st.size;
    rc = 0;
out:
    if (zf) zip_fclose(zf);
    zip_discard(z);
    return rc;
}

static const char *skip_ws(const char *p) {
    while (*p && isspace((unsigned char)*p)) p++;
    return p;
}

const char *k_json_key(const char *from, const char *key) {
    size_t kn = strlen(key);
    for (const char *p = from; (p = strchr(p, '"')) != NULL; p++) {
        if (strncmp(p + 1, key, kn) || p[1 + kn] != '"') continue;
        const char *q = skip_ws(p + 2 + kn);
        if (*q == ':') return skip_ws(q + 1);
    }
    return NULL;
}

const char *k_json_class(const char *from, const char *cls) {
    size_t cn = strlen(cls);
    for (const char *p = from; (p = k_json_key(p, "class_name")) != NULL;)
        if (*p == '"' && !strncmp(p + 1, cls, cn) && p[1 + cn] == '"') return p;
    return NULL;
}

int k_json_int_array(const char *p, long *v, int max) {
    if (!p || *p != '[') return -1;
    int n = 0;
    p = skip_ws(p + 1);
    if (*p == ']') return 0;
    for (;;) {
        if (n == max) return -1;
        if (!strncmp(p, "null", 4)) {
            v[n++] = -1;
            p += 4;
        } else {
            char *end;
            long x = strtol(p, &end, 10);
            if (end == p) return -1;
            v[n++] = x;
            p = end;
        }
        p = skip_ws(p);
        if (*p == ']') return n;
        if (*p != ',') return -1;
        p = skip_ws(p + 1);
    }
}

int k_json_number(const char *p, double *v) {
    if (!p) return -1;
    char *end;
    double x = strtod(p, &end);
    if (end == p) return -1;
    *v = x;
    return 0;
}

int k_find_width(gs_model_arch *a, k_width_fits fits, void *ctx) {
    gs_model_arch probe = *a;  // the smallest model of each width: the shapes depend on neither frames nor size
    probe.batch = probe.frames = 1;
    probe.size = 32;
    int best_ok = -1;
    char best_msg[1024] = "";
    for (int i = 0; i < K_N_WIDTHS; i++) {
        probe.alpha = K_WIDTHS[i];
        gs_model m;
        if (model_init(&m, &probe)) return -1;
        int n_ok = 0, r = fits(ctx, &m, &n_ok);
        model_free(&m);
        if (r == 0) {
            a->alpha = K_WIDTHS[i];
            return 0;
        }
        if (n_ok > best_ok) {
            best_ok = n_ok;
            snprintf(best_msg, sizeof best_msg, "%s", gs_last_error());
        }
    }
    return gs_error("%s", best_msg);  // the closest width's first difference names the array and shapes
}
