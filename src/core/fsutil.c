// File-system helpers (see gesture/fsutil.h).
#define _XOPEN_SOURCE 700  // nftw
#define _DEFAULT_SOURCE    // flock
#include "gesture/fsutil.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gesture/errors.h"

char *fs_join(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    char *p = gs_malloc(na + nb + 2);
    memcpy(p, a, na);
    size_t k = na;
    if (na && a[na - 1] != '/') p[k++] = '/';
    memcpy(p + k, b, nb + 1);
    return p;
}

int fs_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int fs_is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int fs_mkdir_p(const char *path) {
    size_t n = strlen(path);
    if (n == 0) return gs_error("cannot create a folder with an empty name");
    char *p = gs_malloc(n + 1);
    memcpy(p, path, n + 1);
    int rc = 0;
    // every parent first ("a", "a/b", ...), then the path itself; existing ones are fine
    for (char *s = p + 1; rc == 0 && *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0777) != 0 && errno != EEXIST) rc = gs_error("%s: cannot create folder: %s", p, strerror(errno));
        *s = '/';
    }
    if (rc == 0 && mkdir(p, 0777) != 0 && errno != EEXIST)
        rc = gs_error("%s: cannot create folder: %s", p, strerror(errno));
    else if (rc == 0 && !fs_is_dir(p))
        rc = gs_error("%s: exists and is not a folder", p);
    free(p);
    return rc;
}

int fs_copy_file(const char *dst, const char *src) {
    int in = open(src, O_RDONLY);
    if (in < 0) return gs_error("%s: cannot open: %s", src, strerror(errno));
    char *tmp = gs_malloc(strlen(dst) + 5);
    sprintf(tmp, "%s.tmp", dst);
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (out < 0) {
        int e = errno;
        close(in);
        gs_error("%s: cannot create: %s", tmp, strerror(e));
        free(tmp);
        return -1;
    }
    char buf[1 << 16];
    int rc = 0;
    for (;;) {
        ssize_t r = read(in, buf, sizeof buf);
        if (r < 0) {
            rc = gs_error("%s: read error: %s", src, strerror(errno));
            break;
        }
        if (r == 0) break;
        for (ssize_t off = 0; off < r;) {
            ssize_t wr = write(out, buf + off, (size_t)(r - off));
            if (wr < 0) {
                rc = gs_error("%s: write error: %s", tmp, strerror(errno));
                break;
            }
            off += wr;
        }
        if (rc) break;
    }
    close(in);
    if (close(out) != 0 && rc == 0) rc = gs_error("%s: write error: %s", tmp, strerror(errno));
    if (rc == 0 && rename(tmp, dst) != 0) rc = gs_error("%s: cannot rename from %s: %s", dst, tmp, strerror(errno));
    if (rc) remove(tmp);
    free(tmp);
    return rc;
}

int fs_read_text(char **text, size_t *n, const char *path) {
    *text = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return gs_error("%s: cannot open: %s", path, strerror(errno));
    size_t cap = 4096, len = 0;
    char *buf = gs_malloc(cap);
    for (;;) {
        if (len + 1 >= cap) {
            cap *= 2;
            char *grown = realloc(buf, cap);
            if (!grown) gs_fatal("out of memory reading %s", path);
            buf = grown;
        }
        size_t r = fread(buf + len, 1, cap - 1 - len, f);
        len += r;
        if (r == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return gs_error("%s: read error", path);
    }
    buf[len] = 0;
    *text = buf;
    if (n) *n = len;
    return 0;
}

int fs_write_file(const char *path, const void *data, size_t n) {
    char *tmp = gs_malloc(strlen(path) + 5);
    sprintf(tmp, "%s.tmp", path);  // then rename: a reader never sees half a file
    FILE *f = fopen(tmp, "wb");
    int rc = 0;
    if (!f) {
        rc = gs_error("%s: cannot create: %s", tmp, strerror(errno));
    } else {
        int ok = fwrite(data, 1, n, f) == n;
        ok &= fclose(f) == 0;
        if (!ok) rc = gs_error("%s: write error", tmp);
        else if (rename(tmp, path) != 0) rc = gs_error("%s: cannot rename from %s: %s", path, tmp, strerror(errno));
        if (rc) remove(tmp);
    }
    free(tmp);
    return rc;
}

int fs_write_text(const char *path, const char *text) { return fs_write_file(path, text, strlen(text)); }

static int listed(const char *name, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (!strcmp(name, names[i])) return 1;
    return 0;
}

int fs_output_check(const char *out, const char *marker, const char *const *names, int n_names, int force,
                    int *replace) {
    *replace = 0;
    struct stat st;
    if (lstat(out, &st) != 0) return errno == ENOENT ? 0 : gs_error("%s: %s", out, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return gs_error("%s: exists and is not a folder", out);
    DIR *d = opendir(out);
    if (!d) return gs_error("%s: cannot open folder: %s", out, strerror(errno));
    int entries = 0, has_marker = 0;
    char stranger[256] = "";
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        entries++;
        if (!strcmp(e->d_name, marker)) has_marker = 1;
        else if (!stranger[0] && !listed(e->d_name, names, n_names))
            snprintf(stranger, sizeof stranger, "%s", e->d_name);
    }
    closedir(d);
    if (entries == 0) return 0;
    if (!force) return gs_error("%s: output folder exists and is not empty (choose a new one, or --force to replace "
                                "a previous output of this command)", out);
    if (!has_marker) return gs_error("%s: --force replaces only a folder this command wrote (with its %s file); "
                                     "this one has none: choose a new folder", out, marker);
    if (stranger[0]) return gs_error("%s: --force refused: '%s' was not written by this command (move it away "
                                     "or choose a new folder)", out, stranger);
    *replace = 1;
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

int fs_output_claim(const char *out, const char *marker, const char *const *names, int n_names, int replace) {
    if (fs_mkdir_p(out) != 0) return -1;
    char *path = NULL;
    int rc = 0;
    for (int i = 0; replace && rc == 0 && i <= n_names; i++) {
        free(path);
        path = fs_join(out, i < n_names ? names[i] : marker);
        struct stat st;
        if (lstat(path, &st) != 0) continue;  // an output that stopped before writing it
        // FTW_PHYS: a symlink (prepare's frames) is removed itself, never followed
        if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
            rc = gs_error("%s: cannot remove: %s", path, strerror(errno));
    }
    free(path);
    if (rc) return rc;
    path = fs_join(out, marker);
    rc = fs_write_text(path, "written by gesture; `--force` may replace this folder\n");
    free(path);
    return rc;
}

// The holder's pid as its lock file says, "?" while it has not written it yet.
static void lock_holder(int fd, char *pid, size_t n) {
    ssize_t got = 0;
    for (int i = 0; i < 100 && got <= 0; i++) {  // the holder writes it just after taking the lock
        got = pread(fd, pid, n - 1, 0);
        if (got <= 0) usleep(10000);
    }
    pid[got > 0 ? got : 0] = '\0';
    pid[strcspn(pid, "\n")] = '\0';
    if (!*pid) snprintf(pid, n, "?");
}

int fs_lock_file(const char *path, const char *what) {
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);  // CLOEXEC: a child must not outlive us holding it
    if (fd < 0) return gs_error("%s: cannot open: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char pid[32];
        if (e == EWOULDBLOCK) lock_holder(fd, pid, sizeof pid);
        close(fd);
        if (e == EWOULDBLOCK) return gs_error("%s is in use by pid %s", what, pid);
        return gs_error("%s: cannot lock: %s", path, strerror(e));
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        int e = errno;
        close(fd);
        return gs_error("%s: write failed: %s", path, strerror(e));
    }
    return fd;
}
