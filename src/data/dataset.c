// Prepared-layout dataset reader, clip folders, natural sort (see gesture/dataset.h).
#include "gesture/dataset.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gesture/errors.h"
#include "gesture/frame_image.h"
#include "gesture/fsutil.h"

int natural_compare(const char *a, const char *b) {
    const char *pa = a, *pb = b;
    while (*pa && *pb) {
        if (isdigit((unsigned char)*pa) && isdigit((unsigned char)*pb)) {
            while (*pa == '0') pa++;
            while (*pb == '0') pb++;
            const char *ea = pa, *eb = pb;
            while (isdigit((unsigned char)*ea)) ea++;
            while (isdigit((unsigned char)*eb)) eb++;
            if (ea - pa != eb - pb) return (ea - pa) < (eb - pb) ? -1 : 1;
            int c = strncmp(pa, pb, (size_t)(ea - pa));
            if (c) return c < 0 ? -1 : 1;
            pa = ea;
            pb = eb;
        } else {
            if (*pa != *pb) return (unsigned char)*pa < (unsigned char)*pb ? -1 : 1;
            pa++;
            pb++;
        }
    }
    if (*pa || *pb) return *pa ? 1 : -1;
    int c = strcmp(a, b);
    return c < 0 ? -1 : (c > 0);
}

static int cmp_natural_ptr(const void *x, const void *y) {
    return natural_compare(*(const char *const *)x, *(const char *const *)y);
}

void label_clean(char *out, size_t out_size, const char *label) {
    while (isspace((unsigned char)*label)) label++;
    size_t n = strlen(label);
    while (n && isspace((unsigned char)label[n - 1])) n--;
    if (n >= 4 && !strncmp(label + n - 4, "_new", 4)) n -= 4;
    if (n >= out_size) n = out_size - 1;
    memcpy(out, label, n);
    out[n] = 0;
}

// A frame-named entry (*.png, *.jpg, *.jpeg) of a clip folder that is not a regular file (dangling
// link, folder, FIFO, ...): an error naming clip and entry, never a silently shorter clip. Returns -1 (gs_error).
// st: the entry's stat() result, or NULL when stat failed with stat_errno.
static int bad_frame_entry(const char *dir, const char *name, const char *full, const struct stat *st, int stat_errno) {
    if (!st) {
        struct stat lst;
        if (lstat(full, &lst) == 0 && S_ISLNK(lst.st_mode))
            return gs_error("%s: frame %s is a dangling link (%s)", dir, name, strerror(stat_errno));
        return gs_error("%s: frame %s cannot be read: %s", dir, name, strerror(stat_errno));
    }
    const char *kind = S_ISDIR(st->st_mode)    ? "a folder"
                       : S_ISFIFO(st->st_mode) ? "a FIFO"
                       : S_ISSOCK(st->st_mode) ? "a socket"
                                               : "a device or other special file";
    return gs_error("%s: frame %s is %s, not an image file", dir, name, kind);
}

// Entries of dir accepted by `want` (1 = regular files with a frame name, see gs_frame_image_is_name;
// 2 = directories), natural order. With want = 1 a frame-named entry that is not a regular file is an
// error (bad_frame_entry).
static int list_entries(char ***out, int *n_out, const char *dir, int want) {
    *out = NULL;
    *n_out = 0;
    DIR *d = opendir(dir);
    if (!d) return gs_error("%s: cannot open folder: %s", dir, strerror(errno));
    int n = 0, cap = 0, rc = 0;
    char **list = NULL;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;  // hidden files, "." and ".."
        if (want == 1 && !gs_frame_image_is_name(e->d_name)) continue;
        char *full = fs_join(dir, e->d_name);
        struct stat st;
        int st_errno = stat(full, &st) == 0 ? 0 : errno;  // follows links: prepared sets are made of symlinks
        int keep = !st_errno && (want == 1 ? S_ISREG(st.st_mode) : S_ISDIR(st.st_mode));
        if (want == 1 && !keep) rc = bad_frame_entry(dir, e->d_name, full, st_errno ? NULL : &st, st_errno);
        free(full);
        if (!keep) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 32;
            char **grown = realloc(list, sizeof(char *) * (size_t)cap);
            if (!grown) gs_fatal("out of memory listing %s", dir);
            list = grown;
        }
        list[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (rc != 0) {
        dataset_free_list(list, n);
        return rc;
    }
    if (n) qsort(list, (size_t)n, sizeof(char *), cmp_natural_ptr);
    *out = list;
    *n_out = n;
    return 0;
}

void dataset_free_list(char **list, int n) {
    for (int i = 0; i < n; i++) free(list[i]);
    free(list);
}

int dataset_list_dirs(char ***names, int *n, const char *dir) { return list_entries(names, n, dir, 2); }

int dataset_list_frames(char ***frames, int *n, const char *dir) {
    char **names;
    int k;
    if (list_entries(&names, &k, dir, 1) != 0) {
        *frames = NULL;
        *n = 0;
        return -1;
    }
    for (int i = 0; i < k; i++) {
        char *full = fs_join(dir, names[i]);
        free(names[i]);
        names[i] = full;
    }
    *frames = names;
    *n = k;
    return 0;
}

int dataset_load_clip_dir(gs_clip *clip, const char *dir) {
    memset(clip, 0, sizeof *clip);
    struct stat st;
    if (stat(dir, &st) != 0) return gs_error("%s: clip folder missing: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return gs_error("%s: not a folder (a clip is a folder of PNG or JPEG frames)", dir);
    if (dataset_list_frames(&clip->frames, &clip->n_frames, dir) != 0) return -1;
    if (clip->n_frames == 0) return gs_error("%s: clip folder has no PNG or JPEG frames", dir);
    clip->dir = strdup(dir);
    // Name = last path component, ignoring trailing slashes.
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') len--;
    const char *slash = NULL;
    for (size_t i = 0; i < len; i++)
        if (dir[i] == '/') slash = dir + i;
    const char *start = slash ? slash + 1 : dir;
    clip->name = strndup(start, len - (size_t)(start - dir));
    clip->label = -1;
    return 0;
}

void clip_free(gs_clip *clip) {
    dataset_free_list(clip->frames, clip->n_frames);
    free(clip->name);
    free(clip->dir);
    memset(clip, 0, sizeof *clip);
}

static const char *const SPLITS[] = {"train", "val", "test"};

// Add the class-folder names of root/split to the (unsorted, deduplicated) set.
static int collect_classes(char ***set, int *n, int *cap, const char *root, const char *split) {
    char *sdir = fs_join(root, split);
    struct stat st;
    int present = stat(sdir, &st) == 0 && S_ISDIR(st.st_mode);
    char **names = NULL;
    int k = 0;
    int rc = present ? dataset_list_dirs(&names, &k, sdir) : 0;
    free(sdir);
    if (rc != 0) return -1;
    for (int i = 0; i < k; i++) {
        int dup = 0;
        for (int j = 0; j < *n; j++) dup |= !strcmp((*set)[j], names[i]);
        if (dup) continue;
        if (*n == *cap) {
            *cap = *cap ? 2 * *cap : 8;
            char **grown = realloc(*set, sizeof(char *) * (size_t)*cap);
            if (!grown) gs_fatal("out of memory");
            *set = grown;
        }
        (*set)[(*n)++] = strdup(names[i]);
    }
    dataset_free_list(names, k);
    return 0;
}

static int cmp_str_ptr(const void *x, const void *y) { return strcmp(*(const char *const *)x, *(const char *const *)y); }

// Load the sample folders of class c (folder cdir) as clips. A clip that fails to load is an error,
// or with on_bad = skip a warning, counted in *n_skipped.
static int load_class_clips(gs_dataset *ds, int *clip_cap, const char *cdir, int c, gs_bad_clip on_bad, int *n_skipped) {
    char **samples = NULL;
    int ns = 0;
    int rc = dataset_list_dirs(&samples, &ns, cdir);
    if (rc == 0 && ns == 0) rc = gs_error("%s: empty class (no sample folders)", cdir);
    for (int i = 0; i < ns && rc == 0; i++) {
        if (ds->n_clips == *clip_cap) {
            *clip_cap = *clip_cap ? 2 * *clip_cap : 64;
            gs_clip *grown = realloc(ds->clips, sizeof(gs_clip) * (size_t)*clip_cap);
            if (!grown) gs_fatal("out of memory");
            ds->clips = grown;
        }
        char *clip_dir = fs_join(cdir, samples[i]);
        rc = dataset_load_clip_dir(&ds->clips[ds->n_clips], clip_dir);
        free(clip_dir);
        if (rc == 0) {
            ds->clips[ds->n_clips++].label = c;
        } else if (on_bad == GS_BAD_CLIP_SKIP) {
            fprintf(stderr, "warning: skipping clip: %s\n", gs_last_error());
            (*n_skipped)++;
            rc = 0;
        }
    }
    dataset_free_list(samples, ns);
    return rc;
}

int dataset_load_prepared(gs_dataset *ds, const char *root, const char *split) {
    return dataset_load_prepared_ex(ds, root, split, GS_BAD_CLIP_ERROR);
}

int dataset_load_prepared_ex(gs_dataset *ds, const char *root, const char *split, gs_bad_clip on_bad) {
    memset(ds, 0, sizeof *ds);
    struct stat st;
    if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode)) return gs_error("%s: dataset folder missing", root);
    char *sdir = fs_join(root, split);
    if (stat(sdir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        gs_error("%s: split folder missing (run 'gesture prepare' to make the prepared layout)", sdir);
        free(sdir);
        return -1;
    }
    ds->root = strdup(root);
    ds->split = strdup(split);
    int cap = 0;
    int rc = 0;
    for (int s = 0; s < 3 && rc == 0; s++) rc = collect_classes(&ds->classes, &ds->n_classes, &cap, root, SPLITS[s]);
    if (rc == 0 && strcmp(split, "train") && strcmp(split, "val") && strcmp(split, "test"))
        rc = collect_classes(&ds->classes, &ds->n_classes, &cap, root, split);
    if (rc == 0 && ds->n_classes == 0) rc = gs_error("%s: no class folders (expected %s/<Class>/<sample>/*.png|jpg)", sdir, sdir);
    if (rc != 0) {
        free(sdir);
        dataset_free(ds);
        return -1;
    }
    // Byte order, not natural order: it is the documented label order (Python's sorted()).
    qsort(ds->classes, (size_t)ds->n_classes, sizeof(char *), cmp_str_ptr);

    int clip_cap = 0, n_skipped = 0;
    for (int c = 0; c < ds->n_classes && rc == 0; c++) {
        char *cdir = fs_join(sdir, ds->classes[c]);
        if (stat(cdir, &st) == 0) rc = load_class_clips(ds, &clip_cap, cdir, c, on_bad, &n_skipped);
        // (no folder: the class is only present in other splits)
        free(cdir);
    }
    if (rc == 0 && n_skipped)
        fprintf(stderr, "warning: %d clips skipped: %s (data.on_bad_clip = skip; the reasons are above)\n", n_skipped, sdir);
    free(sdir);
    if (rc != 0) {
        dataset_free(ds);
        return -1;
    }
    return 0;
}

void dataset_free(gs_dataset *ds) {
    for (int i = 0; i < ds->n_clips; i++) clip_free(&ds->clips[i]);
    free(ds->clips);
    dataset_free_list(ds->classes, ds->n_classes);
    free(ds->root);
    free(ds->split);
    memset(ds, 0, sizeof *ds);
}

int dataset_find_class(const gs_dataset *ds, const char *name) {
    for (int c = 0; c < ds->n_classes; c++)
        if (!strcmp(ds->classes[c], name)) return c;
    return -1;
}

void dataset_class_counts(int *counts, const gs_dataset *ds) {
    memset(counts, 0, sizeof(int) * (size_t)ds->n_classes);
    for (int i = 0; i < ds->n_clips; i++) counts[ds->clips[i].label]++;
}
