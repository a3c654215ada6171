// File-system helpers (see gesture/fsutil.h).
#include "gesture/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int fs_write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) return gs_error("%s: cannot create: %s", path, strerror(errno));
    size_t n = strlen(text);
    int ok = fwrite(text, 1, n, f) == n;
    ok &= fclose(f) == 0;
    return ok ? 0 : gs_error("%s: write error", path);
}
