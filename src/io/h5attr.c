// Typed HDF5 attribute access for the readers and writers in src/io (declared in h5util.h):
// scalars, strings and string lists, each failure a one-line gs_error naming the file and where.
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"
#include "h5util.h"

static hid_t vlen_str_type(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0) return -1;
    if (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

// Create (replacing any existing one) and write attribute `name`; space/type are borrowed.
static int attr_write(const char *file, hid_t loc, const char *name, hid_t type, hid_t space, const void *buf) {
    hid_t a = -1;
    if (H5Aexists(loc, name) > 0) H5_CHECK(file, H5Adelete(loc, name));
    H5_CHECK(file, a = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT));
    if (buf) H5_CHECK(file, H5Awrite(a, type, buf));
    H5_CHECK(file, H5Aclose(a));
    return 0;
fail:
    if (a >= 0) H5Aclose(a);
    return -1;
}

static int attr_write_scalar(const char *file, hid_t loc, const char *name, hid_t type, const void *buf) {
    hid_t s = H5Screate(H5S_SCALAR);
    if (s < 0) return h5_error_here(file, "H5Screate(H5S_SCALAR)", __FILE__, __LINE__);
    int rc = attr_write(file, loc, name, type, s, buf);
    H5Sclose(s);
    return rc;
}

// Fixed-length UTF-8 strings of `size` bytes (NUL-terminated): gesture's own files hold no
// variable-length data, whose global heap is where a damaged file crashes libhdf5 (h5util.c).
static hid_t fixed_str_type(size_t size) {
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0) return -1;
    if (H5Tset_size(t, size) < 0 || H5Tset_strpad(t, H5T_STR_NULLTERM) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

int h5_attr_write_str(const char *file, hid_t loc, const char *name, const char *value) {
    return h5_attr_write_strs(file, loc, name, &value, -1);
}

int h5_attr_write_strs(const char *file, hid_t loc, const char *name, const char *const *values, int n) {
    int scalar = n < 0;
    if (scalar) n = 1;
    size_t size = 1;
    for (int i = 0; i < n; i++)
        if (strlen(values[i]) + 1 > size) size = strlen(values[i]) + 1;
    char *buf = gs_calloc((size_t)n * size + 1, 1);
    for (int i = 0; i < n; i++) memcpy(buf + (size_t)i * size, values[i], strlen(values[i]));
    hid_t t = fixed_str_type(size);
    hsize_t dims[1] = {(hsize_t)n};
    hid_t s = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, dims, NULL);
    int rc = t < 0 || s < 0 ? h5_error_here(file, "fixed-length string type/space", __FILE__, __LINE__)
                            : attr_write(file, loc, name, t, s, n > 0 ? (const void *)buf : NULL);
    if (s >= 0) H5Sclose(s);
    if (t >= 0) H5Tclose(t);
    free(buf);
    return rc;
}

int h5_attr_write_vlen_str(const char *file, hid_t loc, const char *name, const char *value) {
    hid_t t = vlen_str_type();
    if (t < 0) return h5_error_here(file, "vlen_str_type()", __FILE__, __LINE__);
    int rc = attr_write_scalar(file, loc, name, t, &value);
    H5Tclose(t);
    return rc;
}

int h5_attr_write_i64(const char *file, hid_t loc, const char *name, int64_t value) {
    return attr_write_scalar(file, loc, name, H5T_NATIVE_INT64, &value);
}

int h5_attr_write_u64(const char *file, hid_t loc, const char *name, uint64_t value) {
    return attr_write_scalar(file, loc, name, H5T_NATIVE_UINT64, &value);
}

int h5_attr_write_f64(const char *file, hid_t loc, const char *name, double value) {
    return attr_write_scalar(file, loc, name, H5T_NATIVE_DOUBLE, &value);
}

int h5_attr_exists(hid_t loc, const char *name) { return H5Aexists(loc, name) > 0; }

// Open attribute `name` and check its type class and element count (want_n < 0: any count).
// Returns the attribute id with *type (file type) and *npoints, or -1 + gs_error.
static hid_t attr_open(hid_t *type, hssize_t *npoints, const char *file, const char *where, hid_t loc, const char *name,
                       H5T_class_t cls1, H5T_class_t cls2, const char *kind, hssize_t want_n) {
    if (H5Aexists(loc, name) <= 0) return gs_error("%s: missing attribute '%s' on %s", file, name, where);
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0) return h5_error_here(file, "H5Aopen", __FILE__, __LINE__);
    hid_t t = H5Aget_type(a);
    hid_t s = H5Aget_space(a);
    H5T_class_t c = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
    hssize_t np = s >= 0 ? H5Sget_simple_extent_npoints(s) : -1;
    if (s >= 0) H5Sclose(s);
    if (c != cls1 && c != cls2) {
        char tn[32];
        gs_error("%s: attribute '%s' on %s is %s, expected %s", file, name, where,
                 t >= 0 ? h5_type_name(t, tn, sizeof tn) : "unreadable", kind);
        goto fail;
    }
    if (np < 0 || (want_n >= 0 && np != want_n)) {
        gs_error("%s: attribute '%s' on %s has %lld values, expected %lld", file, name, where, (long long)np,
                 (long long)want_n);
        goto fail;
    }
    *type = t;
    *npoints = np;
    return a;
fail:
    if (t >= 0) H5Tclose(t);
    H5Aclose(a);
    return -1;
}

// An integer attribute stored signed or unsigned, read into *s (int64) or *u (uint64), the other NULL;
// a value the wanted type cannot hold is an error naming the attribute.
static int read_int64(int64_t *s, uint64_t *u, const char *file, const char *where, hid_t loc, const char *name) {
    hid_t t = -1;
    hssize_t np = 0;
    hid_t a = attr_open(&t, &np, file, where, loc, name, H5T_INTEGER, H5T_INTEGER, "an integer", 1);
    if (a < 0) return -1;
    int stored_signed = H5Tget_sign(t) != H5T_SGN_NONE;
    int64_t sv = 0;
    uint64_t uv = 0;
    int rc = H5Aread(a, stored_signed ? H5T_NATIVE_INT64 : H5T_NATIVE_UINT64, stored_signed ? (void *)&sv : (void *)&uv) < 0
                 ? h5_error_here(file, "H5Aread", __FILE__, __LINE__)
                 : 0;
    if (rc == 0 && s && !stored_signed && uv > (uint64_t)INT64_MAX)
        rc = gs_error("%s: attribute '%s' on %s is out of range", file, name, where);
    if (rc == 0 && u && stored_signed && sv < 0) rc = gs_error("%s: attribute '%s' on %s is negative", file, name, where);
    if (s) *s = stored_signed ? sv : (int64_t)uv;
    if (u) *u = stored_signed ? (uint64_t)sv : uv;
    H5Tclose(t);
    H5Aclose(a);
    return rc;
}

int h5_attr_read_i64(int64_t *value, const char *file, const char *where, hid_t loc, const char *name) {
    return read_int64(value, NULL, file, where, loc, name);
}

int h5_attr_read_u64(uint64_t *value, const char *file, const char *where, hid_t loc, const char *name) {
    return read_int64(NULL, value, file, where, loc, name);
}

int h5_attr_read_f64(double *value, const char *file, const char *where, hid_t loc, const char *name) {
    hid_t t = -1;
    hssize_t np = 0;
    hid_t a = attr_open(&t, &np, file, where, loc, name, H5T_FLOAT, H5T_INTEGER, "a number", 1);
    if (a < 0) return -1;
    int rc = H5Aread(a, H5T_NATIVE_DOUBLE, value) < 0 ? h5_error_here(file, "H5Aread", __FILE__, __LINE__) : 0;
    H5Tclose(t);
    H5Aclose(a);
    return rc;
}

// Read n strings (fixed or variable length) of attribute a into a malloc'd array of strdup'd
// strings.
static int read_strings(char **out, hssize_t n, const char *file, hid_t a, hid_t ftype) {
    if (n == 0) return 0;
    if (H5Tis_variable_str(ftype) > 0) {
        char **raw = gs_calloc((size_t)n, sizeof *raw);
        hid_t mt = vlen_str_type(), space = H5Aget_space(a);
        int rc = 0;
        if (mt < 0 || space < 0 || H5Aread(a, mt, raw) < 0) {
            rc = h5_error_here(file, "H5Aread(variable-length string)", __FILE__, __LINE__);
        } else {
            for (hssize_t i = 0; i < n; i++) out[i] = strdup(raw[i] ? raw[i] : "");
            H5Dvlen_reclaim(mt, space, H5P_DEFAULT, raw);
        }
        free(raw);
        if (space >= 0) H5Sclose(space);
        if (mt >= 0) H5Tclose(mt);
        return rc;
    }
    size_t sz = H5Tget_size(ftype);
    char *buf = gs_calloc((size_t)n * sz + 1, 1);
    if (H5Aread(a, ftype, buf) < 0) {
        free(buf);
        return h5_error_here(file, "H5Aread(fixed-length string)", __FILE__, __LINE__);
    }
    for (hssize_t i = 0; i < n; i++) {
        char *s = strndup(buf + (size_t)i * sz, sz);  // stops at the first NUL (NULLTERM/NULLPAD)
        size_t len = strlen(s);
        while (len > 0 && s[len - 1] == ' ' && H5Tget_strpad(ftype) == H5T_STR_SPACEPAD) s[--len] = 0;
        out[i] = s;
    }
    free(buf);
    return 0;
}

int h5_attr_read_str(char **value, const char *file, const char *where, hid_t loc, const char *name) {
    hid_t t = -1;
    hssize_t np = 0;
    hid_t a = attr_open(&t, &np, file, where, loc, name, H5T_STRING, H5T_STRING, "a string", 1);
    if (a < 0) return -1;
    int rc = read_strings(value, 1, file, a, t);
    H5Tclose(t);
    H5Aclose(a);
    return rc;
}

int h5_attr_read_strs(char ***values, int *n, const char *file, const char *where, hid_t loc, const char *name) {
    hid_t t = -1;
    hssize_t np = 0;
    hid_t a = attr_open(&t, &np, file, where, loc, name, H5T_STRING, H5T_STRING, "strings", -1);
    if (a < 0) return -1;
    char **v = gs_calloc((size_t)np + 1, sizeof *v);
    int rc = read_strings(v, np, file, a, t);
    H5Tclose(t);
    H5Aclose(a);
    if (rc != 0) {
        for (hssize_t i = 0; i < np; i++) free(v[i]);
        free(v);
        return -1;
    }
    *values = v;
    *n = (int)np;
    return 0;
}

const char *h5_type_name(hid_t type, char *buf, size_t n) {
    size_t sz = H5Tget_size(type);
    switch (H5Tget_class(type)) {
        case H5T_FLOAT: snprintf(buf, n, "float%zu", 8 * sz); break;
        case H5T_INTEGER: snprintf(buf, n, "%sint%zu", H5Tget_sign(type) == H5T_SGN_NONE ? "u" : "", 8 * sz); break;
        case H5T_STRING: snprintf(buf, n, "string"); break;
        case H5T_COMPOUND: snprintf(buf, n, "compound"); break;
        case H5T_ENUM: snprintf(buf, n, "enum"); break;
        case H5T_NO_CLASS:
        case H5T_TIME:
        case H5T_BITFIELD:
        case H5T_OPAQUE:
        case H5T_REFERENCE:
        case H5T_VLEN:
        case H5T_ARRAY:
        case H5T_NCLASSES: snprintf(buf, n, "an unsupported type"); break;
    }
    return buf;
}
