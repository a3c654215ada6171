// HDF5 helpers for src/io (see h5util.h): error capture, atomic create/commit, typed attributes.
#include "h5util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gesture/errors.h"

void h5_silence(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

typedef struct {
    char *buf;
    size_t n;
} walk_ctx;

static herr_t walk_first(unsigned i, const H5E_error2_t *e, void *data) {
    walk_ctx *w = data;
    if (i == 0 && e->desc) snprintf(w->buf, w->n, "%s", e->desc);
    return 0;
}

const char *h5_last_message(char *buf, size_t n) {
    buf[0] = 0;
    walk_ctx w = {buf, n};
    // Upward = innermost (most specific) error first, e.g. the system call that failed.
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_first, &w);
    // A failed system call reads "..., errno = 28, error message = 'No space left on device', ...":
    // the quoted part is what the user needs.
    const char *em = strstr(buf, "error message = '");
    if (em) {
        em += strlen("error message = '");
        const char *q = strchr(em, '\'');
        size_t len = q ? (size_t)(q - em) : strlen(em);
        memmove(buf, em, len);
        buf[len] = 0;
    }
    return buf;
}

int h5_error_here(const char *file, const char *stmt, const char *src, int line) {
    char msg[512];
    h5_last_message(msg, sizeof msg);
    const char *base = strrchr(src, '/');
    return gs_error("%s: %s failed (%s:%d): %s", file, stmt, base ? base + 1 : src, line,
                    msg[0] ? msg : "no HDF5 message");
}

static hid_t fapl_strong(void) {
    // STRONG: closing the file also closes any object an error path left open, so a failed
    // write never keeps the temp file (or a reader's file) half-open.
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0 && H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0) {
        H5Pclose(fapl);
        return -1;
    }
    return fapl;
}

hid_t h5_open(const char *path, int rw) {
    h5_silence();
    struct stat st;
    if (stat(path, &st) != 0) return gs_error("%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) return gs_error("%s: is a directory, not an HDF5 file", path);
    if (st.st_size == 0) return gs_error("%s: empty file (truncated?)", path);
    htri_t is = H5Fis_hdf5(path);
    if (is == 0) return gs_error("%s: not an HDF5 file", path);
    hid_t fapl = fapl_strong();
    if (fapl < 0) return h5_error_here(path, "H5Pcreate(H5P_FILE_ACCESS)", __FILE__, __LINE__);
#if H5_VERSION_GE(1, 10, 7)
    // Writers never open a target in place (they rename a new file over it), so HDF5's flock
    // protects nothing here, and it fails on file systems without locks (some NFS mounts).
    H5Pset_file_locking(fapl, 0, 1);
#endif
    hid_t f = is < 0 ? -1 : H5Fopen(path, rw ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (f < 0) return gs_error("%s: cannot open as HDF5 (truncated or corrupt?)", path);
    return f;
}

hid_t h5_lcpl_intermediate(void) {
    hid_t p = H5Pcreate(H5P_LINK_CREATE);
    if (p >= 0 && H5Pset_create_intermediate_group(p, 1) < 0) {
        H5Pclose(p);
        return -1;
    }
    return p;
}

// ---- atomic replacement ----

static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

int h5_atomic_create(h5_atomic *a, const char *path) {
    h5_silence();
    a->path = strdup(path);
    size_t n = strlen(path) + 32;
    a->tmp = gs_malloc(n);
    snprintf(a->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    a->fid = -1;
    // The file is built in memory (core driver, no backing store) and written out by commit with
    // plain write(2): HDF5 never does disk I/O here, because an HDF5 file whose flush/close failed
    // (disk full) stays half-open and crashes the library at exit.
    char msg[512] = "";
    hid_t fapl = fapl_strong();
    if (fapl >= 0 && H5Pset_fapl_core(fapl, (size_t)4 << 20, 0) >= 0)
        a->fid = H5Fcreate(a->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (a->fid < 0) h5_last_message(msg, sizeof msg);  // before H5Pclose clears the stack
    if (fapl >= 0) H5Pclose(fapl);
    if (a->fid < 0) {
        gs_error("%s: cannot create in-memory HDF5 file: %s", path, msg);
        free(a->path);
        free(a->tmp);
        a->path = a->tmp = NULL;
        return -1;
    }
    return 0;
}

// Remove "<base>.tmp.<pid>" files in dir whose writer is gone (killed mid-write). A file of a
// live process (ours or another writer's on this host) is left alone.
static void sweep_stale(const char *dir, const char *target) {
    const char *slash = strrchr(target, '/');
    const char *base = slash ? slash + 1 : target;
    size_t nb = strlen(base);
    DIR *d = opendir(dir);
    if (!d) return;  // best effort: stale files only cost disk space
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, base, nb) != 0 || strncmp(e->d_name + nb, ".tmp.", 5) != 0) continue;
        const char *digits = e->d_name + nb + 5;
        char *end;
        long pid = strtol(digits, &end, 10);
        if (end == digits || *end || pid <= 0 || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        size_t n = strlen(dir) + strlen(e->d_name) + 2;
        char *p = gs_malloc(n);
        snprintf(p, n, "%s/%s", dir, e->d_name);
        unlink(p);
        free(p);
    }
    closedir(d);
}

// Write buf to a new file `path` and fsync it; 0 or -1 with errno set (the file may remain).
static int write_file_synced(const char *path, const unsigned char *buf, size_t n) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, buf + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int saved = w < 0 ? errno : EIO;
            close(fd);
            errno = saved;
            return -1;
        }
        done += (size_t)w;
    }
    // Data must be on disk before the rename makes it visible, or a power loss could expose a
    // renamed file whose blocks were never written.
    if (fsync(fd) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return close(fd);
}

static void atomic_release(h5_atomic *a) {
    free(a->path);
    free(a->tmp);
    a->path = a->tmp = NULL;
    a->fid = -1;
}

int h5_atomic_commit(h5_atomic *a) {
    int rc = -1;
    char *dir = dir_of(a->path);
    unsigned char *image = NULL;
    ssize_t n = -1;
    if (H5Fflush(a->fid, H5F_SCOPE_GLOBAL) >= 0) n = H5Fget_file_image(a->fid, NULL, 0);
    if (n > 0) {
        image = gs_malloc((size_t)n);
        if (H5Fget_file_image(a->fid, image, (size_t)n) != n) n = -1;
    }
    if (n <= 0) h5_error_here(a->path, "H5Fget_file_image", __FILE__, __LINE__);
    H5Fclose(a->fid);  // in memory: nothing to fail on
    a->fid = -1;
    if (n <= 0) goto out;
    if (write_file_synced(a->tmp, image, (size_t)n) != 0) {
        gs_error("%s: cannot write %s: %s", a->path, a->tmp, strerror(errno));
        unlink(a->tmp);
        goto out;
    }
    if (rename(a->tmp, a->path) != 0) {
        gs_error("%s: cannot rename %s over it: %s", a->path, a->tmp, strerror(errno));
        unlink(a->tmp);
        goto out;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);  // make the rename itself durable
    if (dfd < 0 || fsync(dfd) != 0) {
        gs_error("%s: fsync of directory %s failed: %s", a->path, dir, strerror(errno));
        if (dfd >= 0) close(dfd);
        goto out;  // the new file is in place; only its durability is in doubt
    }
    close(dfd);
    sweep_stale(dir, a->path);
    rc = 0;
out:
    free(image);
    free(dir);
    atomic_release(a);
    return rc;
}

void h5_atomic_abort(h5_atomic *a) {
    if (!a->tmp) return;
    if (a->fid >= 0) H5Fclose(a->fid);
    atomic_release(a);
}

// ---- attributes ----

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

int h5_attr_write_str(const char *file, hid_t loc, const char *name, const char *value) {
    hid_t t = vlen_str_type();
    if (t < 0) return h5_error_here(file, "vlen_str_type()", __FILE__, __LINE__);
    int rc = attr_write_scalar(file, loc, name, t, &value);
    H5Tclose(t);
    return rc;
}

int h5_attr_write_strs(const char *file, hid_t loc, const char *name, const char *const *values, int n) {
    hid_t t = vlen_str_type();
    if (t < 0) return h5_error_here(file, "vlen_str_type()", __FILE__, __LINE__);
    hsize_t dims[1] = {(hsize_t)n};
    hid_t s = H5Screate_simple(1, dims, NULL);
    int rc = s < 0 ? h5_error_here(file, "H5Screate_simple", __FILE__, __LINE__)
                   : attr_write(file, loc, name, t, s, n > 0 ? (const void *)values : NULL);
    if (s >= 0) H5Sclose(s);
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

int h5_attr_read_i64(int64_t *value, const char *file, const char *where, hid_t loc, const char *name) {
    hid_t t = -1;
    hssize_t np = 0;
    hid_t a = attr_open(&t, &np, file, where, loc, name, H5T_INTEGER, H5T_INTEGER, "an integer", 1);
    if (a < 0) return -1;
    int rc = 0;
    if (H5Tget_sign(t) == H5T_SGN_NONE && H5Tget_size(t) >= 8) {
        uint64_t u;
        rc = H5Aread(a, H5T_NATIVE_UINT64, &u) < 0 ? h5_error_here(file, "H5Aread", __FILE__, __LINE__) : 0;
        if (rc == 0 && u > (uint64_t)INT64_MAX)
            rc = gs_error("%s: attribute '%s' on %s is out of range", file, name, where);
        *value = (int64_t)u;
    } else if (H5Aread(a, H5T_NATIVE_INT64, value) < 0) {
        rc = h5_error_here(file, "H5Aread", __FILE__, __LINE__);
    }
    H5Tclose(t);
    H5Aclose(a);
    return rc;
}

int h5_attr_read_u64(uint64_t *value, const char *file, const char *where, hid_t loc, const char *name) {
    hid_t t = -1;
    hssize_t np = 0;
    hid_t a = attr_open(&t, &np, file, where, loc, name, H5T_INTEGER, H5T_INTEGER, "an integer", 1);
    if (a < 0) return -1;
    int rc = 0;
    if (H5Tget_sign(t) == H5T_SGN_2) {
        int64_t s;
        rc = H5Aread(a, H5T_NATIVE_INT64, &s) < 0 ? h5_error_here(file, "H5Aread", __FILE__, __LINE__) : 0;
        if (rc == 0 && s < 0) rc = gs_error("%s: attribute '%s' on %s is negative", file, name, where);
        *value = (uint64_t)s;
    } else if (H5Aread(a, H5T_NATIVE_UINT64, value) < 0) {
        rc = h5_error_here(file, "H5Aread", __FILE__, __LINE__);
    }
    H5Tclose(t);
    H5Aclose(a);
    return rc;
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
