// HDF5 helpers for src/io (see h5util.h): error capture, the damaged-file probe on open, atomic
// create/commit. Typed attributes are in h5attr.c.
#define _GNU_SOURCE  // pipe2
#include "h5util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
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

// ---- damaged files: the variable-length strings read in a child process first ----
//
// libhdf5 (1.10.8) does not validate its global heap: a collection ("GCOL") whose size field is
// corrupt makes H5HG_read, under the H5Aread of a variable-length string, crash (SIGSEGV) or loop
// forever. gs_error cannot contain that, so every HDF5 file gesture reads (its checkpoints and
// log.h5, Keras .h5/.keras weights, foreign or not) first has all its variable-length data read
// by a forked child: every object (H5Ovisit), every attribute of it (H5Aiterate2) and every
// dataset whose type is a variable-length string or sequence. HDF5 is deterministic, so when the
// child finished, the parent's parse of the same bytes will too; a child killed by a signal, one
// that ran past the time limit (then SIGKILLed) or exited non-zero makes the open fail with
// "FILE is damaged (HDF5 reader crashed: signal 11)". The child calls only HDF5 and _exit(), so
// forking after OpenMP's (or CUDA's) threads started is safe: it never touches their state, nor
// HDF5's atexit handler nor stdio buffers. There is no way to skip the probe.
//
// Cost, measured on a checkpoint of the seed model (alpha 0.35, 96x96, GRU 128: an 18.8 MB ck.h5
// from import-keras of tests/fixtures/keras/seed_small.keras; Release, 2 busy shared cores): the
// probe (fork, open, walk of every object and attribute) takes 45-125 ms, against 0.2-0.5 s for
// the whole `gesture predict ck.h5 CLIP` (whose checkpoint_load opens the file twice; the second
// open of an unchanged file is not probed again, see h5_open_as). A .keras image is probed on each
// open (import-keras: twice, ~45 ms each).

#if H5_VERSION_GE(1, 12, 0)
typedef H5O_info2_t probe_oinfo;
#define PROBE_VISIT H5Ovisit3
#else
typedef H5O_info_t probe_oinfo;
#define PROBE_VISIT H5Ovisit2
#endif

// Read obj's variable-length data (an attribute if is_attr, else a dataset) and free it again.
static void probe_read(hid_t obj, int is_attr) {
    hid_t t = is_attr ? H5Aget_type(obj) : H5Dget_type(obj);
    if (t < 0) return;
    H5T_class_t c = H5Tget_class(t);
    if ((c == H5T_STRING && H5Tis_variable_str(t) > 0) || c == H5T_VLEN) {
        hid_t s = is_attr ? H5Aget_space(obj) : H5Dget_space(obj);
        hssize_t np = s >= 0 ? H5Sget_simple_extent_npoints(s) : -1;
        // the file type as memory type (as k_attr_strs does): no ASCII/UTF-8 conversion to refuse
        hid_t mt = H5Tcopy(t);
        void *buf = np > 0 && np < ((hssize_t)1 << 28) ? calloc((size_t)np, sizeof(hvl_t)) : NULL;
        if (buf && mt >= 0) {
            herr_t r = is_attr ? H5Aread(obj, mt, buf) : H5Dread(obj, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
            if (r >= 0) H5Dvlen_reclaim(mt, s, H5P_DEFAULT, buf);
        }
        free(buf);
        if (mt >= 0) H5Tclose(mt);
        if (s >= 0) H5Sclose(s);
    }
    H5Tclose(t);
}

static herr_t probe_attr(hid_t loc, const char *name, const H5A_info_t *info, void *data) {
    (void)info;
    (void)data;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a >= 0) {
        probe_read(a, 1);
        H5Aclose(a);
    }
    return 0;
}

static herr_t probe_object(hid_t root, const char *name, const probe_oinfo *info, void *data) {
    (void)info;
    (void)data;
    hid_t o = H5Oopen(root, name, H5P_DEFAULT);
    if (o < 0) return -1;  // an object HDF5 cannot open ends the walk: the file is damaged
    hsize_t idx = 0;
    H5Aiterate2(o, H5_INDEX_NAME, H5_ITER_NATIVE, &idx, probe_attr, NULL);
    if (H5Iget_type(o) == H5I_DATASET) probe_read(o, 0);
    H5Oclose(o);
    return 0;
}

static hid_t fapl_strong(void);

// Open the file at path (image == NULL) or the in-memory image under the name path (read-only).
static hid_t open_file(const char *path, const void *image, size_t n, int rw) {
    hid_t fapl = fapl_strong();
    if (fapl < 0) return -1;
    if (image) {
        // core driver without backing store: the image lives in memory only, nothing touches disk
        if (H5Pset_fapl_core(fapl, 1 << 20, 0) < 0 || H5Pset_file_image(fapl, (void *)image, n) < 0) {
            H5Pclose(fapl);
            return -1;
        }
    }
#if H5_VERSION_GE(1, 10, 7)
    // Writers never open a target in place (they rename a new file over it), so HDF5's flock
    // protects nothing here, and it fails on file systems without locks (some NFS mounts).
    else H5Pset_file_locking(fapl, 0, 1);
#endif
    hid_t f = H5Fopen(path, rw && !image ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    return f;
}

#define PROBE_INCOMPLETE 3  // the child's exit status when its walk stopped early

static int h5_probe(const char *path, const void *image, size_t n, const char *damaged) {
    // 10 s, plus 1 s per 32 MiB (a slow disk): the walk itself takes milliseconds
    double limit = 10.0 + (double)n / (32.0 * 1024 * 1024);
    // The child holds the write end of a pipe: its end (exit or crash) closes it, which wakes
    // poll() at once; the parent never sleeps in steps.
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return gs_error("%s: cannot start the HDF5 check: %s", path, strerror(errno));
    fflush(NULL);  // nothing buffered may be written twice (the child _exit()s without flushing)
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        return gs_error("%s: cannot start the HDF5 check: %s", path, strerror(e));
    }
    if (pid == 0) {
        close(fds[0]);
        h5_silence();
        hid_t f = open_file(path, image, n, 0);
        if (f < 0) _exit(0);  // a file HDF5 cannot open is the parent's error to report, with its message
        // A walk that stops early (a failed object checksum, an object that cannot be opened) has
        // not read what lies behind it, which the real reader may still reach by name (fuzzing
        // found such a file: tests/fuzz/corpus/keras/probe_visit_stops.h5): damaged.
        int whole = PROBE_VISIT(f, H5_INDEX_NAME, H5_ITER_NATIVE, probe_object, NULL, H5O_INFO_BASIC) >= 0;
        H5Fclose(f);
        _exit(whole ? 0 : PROBE_INCOMPLETE);
    }
    close(fds[1]);
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int timed_out = 0;
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        double left = limit - (double)(now.tv_sec - t0.tv_sec) - 1e-9 * (double)(now.tv_nsec - t0.tv_nsec);
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        struct pollfd pfd = {fds[0], POLLIN, 0};
        int r = poll(&pfd, 1, (int)(left * 1000) + 1);
        if (r > 0) break;  // POLLHUP: the child is gone (it never writes)
        if (r < 0 && errno != EINTR) break;  // cannot wait this way: fall back on waitpid alone
    }
    close(fds[0]);
    if (timed_out) kill(pid, SIGKILL);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return gs_error("%s: HDF5 check: waitpid: %s", path, strerror(errno));
    if (timed_out) return gs_error("%s %s (HDF5 reader did not finish in %.0f s)", path, damaged, limit);
    if (WIFSIGNALED(st)) return gs_error("%s %s (HDF5 reader crashed: signal %d)", path, damaged, WTERMSIG(st));
    if (WIFEXITED(st) && WEXITSTATUS(st) == PROBE_INCOMPLETE)
        return gs_error("%s %s (HDF5 cannot read every object of it)", path, damaged);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return gs_error("%s %s (HDF5 reader failed: exit status %d)", path, damaged, WEXITSTATUS(st));
    return 0;
}

hid_t h5_open(const char *path, int rw) { return h5_open_as(path, rw, H5_DAMAGED); }

hid_t h5_open_image(const void *buf, size_t n, const char *label, const char *damaged) {
    h5_silence();
    if (h5_probe(label, buf, n, damaged) != 0) return -1;
    hid_t f = open_file(label, buf, n, 0);
    if (f < 0) {
        char msg[256];
        return gs_error("%s: cannot open as HDF5 (truncated or corrupt?): %s", label,
                        h5_last_message(msg, sizeof msg));
    }
    return f;
}

hid_t h5_open_as(const char *path, int rw, const char *damaged) {
    h5_silence();
    struct stat st;
    if (stat(path, &st) != 0) return gs_error("%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) return gs_error("%s: is a directory, not an HDF5 file", path);
    if (st.st_size == 0) return gs_error("%s: empty file (truncated?)", path);
    // before libhdf5 reads a byte: a file gesture wrote carries a checksum, and intact it holds the
    // bytes a working libhdf5 wrote, so the forked probe below is not needed for it
    int stamped = h5sum_verify(path, damaged);
    if (stamped < 0) return -1;
    htri_t is = H5Fis_hdf5(path);
    if (is == 0) return gs_error("%s: not an HDF5 file", path);
    // The file last probed fine is not probed again (checkpoint_read_config then checkpoint_load
    // open the same file): same inode, size and mtime (ns) means the same bytes, as writers replace
    // files by rename.
    static struct stat probed;
    int same = probed.st_ino == st.st_ino && probed.st_dev == st.st_dev && probed.st_size == st.st_size &&
               probed.st_mtim.tv_sec == st.st_mtim.tv_sec && probed.st_mtim.tv_nsec == st.st_mtim.tv_nsec;
    if (is > 0 && !same && !stamped) {
        if (h5_probe(path, NULL, (size_t)st.st_size, damaged) != 0) return -1;
        probed = st;
    }
    hid_t f = is < 0 ? -1 : open_file(path, NULL, 0, rw);
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
    hid_t fapl = fapl_strong(), fcpl = H5Pcreate(H5P_FILE_CREATE);
    if (fapl >= 0 && fcpl >= 0 && H5Pset_fapl_core(fapl, (size_t)4 << 20, 0) >= 0 &&
        H5Pset_userblock(fcpl, H5SUM_BLOCK) >= 0)  // room for the integrity stamp (h5sum.c)
        a->fid = H5Fcreate(a->tmp, H5F_ACC_TRUNC, fcpl, fapl);
    if (a->fid < 0) h5_last_message(msg, sizeof msg);  // before H5Pclose clears the stack
    if (fapl >= 0) H5Pclose(fapl);
    if (fcpl >= 0) H5Pclose(fcpl);
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

// write(2) all n bytes; 0 or -1 with errno set.
static int write_all(int fd, const unsigned char *buf, size_t n) {
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, buf + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (w == 0) errno = EIO;
            return -1;
        }
        done += (size_t)w;
    }
    return 0;
}

// Write the user block and the HDF5 image to a new file `path` and fsync it; 0 or -1 with errno
// set (the file may remain).
static int write_file_synced(const char *path, const unsigned char *block, const unsigned char *buf, size_t n) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    if (write_all(fd, block, H5SUM_BLOCK) != 0 || write_all(fd, buf, n) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
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
    unsigned char block[H5SUM_BLOCK];
    h5sum_header(block, image, (size_t)n);
    if (write_file_synced(a->tmp, block, image, (size_t)n) != 0) {
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
