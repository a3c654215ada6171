// Raw data set discovery and per-clip validation for `gesture prepare` (see gesture/prepare.h).
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/dataset.h"
#include "gesture/errors.h"
#include "gesture/frame_image.h"
#include "gesture/fsutil.h"
#include "gesture/prepare.h"

static const char *const SPLITS[] = {"train", "val", "test"};

static gs_raw_clip *add_clip(gs_raw_dataset *raw, int *cap) {
    if (raw->n_clips == *cap) {
        *cap = *cap ? 2 * *cap : 128;
        gs_raw_clip *grown = realloc(raw->clips, sizeof(gs_raw_clip) * (size_t)*cap);
        if (!grown) gs_fatal("out of memory");
        raw->clips = grown;
    }
    gs_raw_clip *c = &raw->clips[raw->n_clips++];
    memset(c, 0, sizeof *c);
    c->label = -1;
    return c;
}

static int set_problem(gs_raw_clip *c, const char *msg) {
    if (!c->problem) c->problem = strdup(msg);
    return 0;
}

// List the frames of a clip whose folder is known; a folder without frames is a clip problem.
static void list_clip_frames(gs_raw_clip *c) {
    if (dataset_list_frames(&c->frames, &c->n_frames, c->dir) != 0) set_problem(c, gs_last_error());
    else if (c->n_frames == 0) {
        char msg[4200];
        snprintf(msg, sizeof msg, "%s: clip folder has no PNG or JPEG frames", c->dir);
        set_problem(c, msg);
    }
}

// ---- CSV index ----

typedef struct {
    char *name;  // cleaned class name
    int index;   // label_index column
    int line;
} csv_label;

static void trim(char **s) {
    while (isspace((unsigned char)**s)) (*s)++;
    char *e = *s + strlen(*s);
    while (e > *s && isspace((unsigned char)e[-1])) *--e = 0;
}

static int parse_int(const char *s, int *v) {
    char *end;
    long x = strtol(s, &end, 10);
    if (end == s || *end || x < 0 || x > 1000000) return -1;
    *v = (int)x;
    return 0;
}

// One CSV file being read into clips of `split`.
typedef struct {
    gs_raw_dataset *raw;
    int *cap;  // raw->clips capacity (add_clip)
    const char *split;
    const char *path;          // <root>/<split>.csv, for messages
    char *split_dir, *nested;  // <root>/<split> and <root>/<split>/<split>: where clip folders may be
    csv_label **labels;        // (*n_labels) labels seen so far, in order of first appearance
    int *n_labels;
    int define_labels;  // train.csv: a new label is a new class
    int first_clip;     // this file's clips are raw->clips[first_clip..]
} csv_reader;

// Split ln at ';' into at most 4 fields (a 4th means too many); returns how many.
static int csv_split_fields(char *f[4], char *ln) {
    int nf = 0;
    for (char *p = ln; nf < 4;) {
        f[nf++] = p;
        char *semi = strchr(p, ';');
        if (!semi) break;
        *semi = 0;
        p = semi + 1;
    }
    return nf;
}

// The label named cls with this index: its position in r->labels, or -1 when not seen yet.
// A name seen with another index, or an index seen with another name, is an error.
static int csv_find_label(int *label, const csv_reader *r, const char *cls, int index, int line) {
    *label = -1;
    for (int k = 0; k < *r->n_labels; k++) {
        const csv_label *L = &(*r->labels)[k];
        if (!strcmp(L->name, cls) && L->index != index)
            return gs_error("%s:%d: label '%s' has index %d, but %d on an earlier line", r->path, line, cls, index,
                            L->index);
        if (strcmp(L->name, cls) && L->index == index)
            return gs_error("%s:%d: labels '%s' and '%s' share index %d", r->path, line, cls, L->name, index);
        if (!strcmp(L->name, cls)) *label = k;
    }
    return 0;
}

// A clip for folder with label (-1: unknown, a clip problem), its folder found under split_dir or
// nested (missing: a clip problem), and its frames listed.
static void csv_add_clip(csv_reader *r, const char *folder, const char *label_name, int label, int line) {
    gs_raw_clip *c = add_clip(r->raw, r->cap);
    c->split = strdup(r->split);
    c->name = strdup(folder);
    c->label = label;  // a temporary index into labels; remapped to sorted classes later
    char msg[4400];
    if (label < 0) {
        snprintf(msg, sizeof msg, "%s:%d: unknown label '%s' for folder '%s' (not in train.csv)", r->path, line,
                 label_name, folder);
        set_problem(c, msg);
    }
    char *direct = fs_join(r->split_dir, folder);
    char *deep = fs_join(r->nested, folder);
    if (fs_is_dir(direct)) c->dir = direct, direct = NULL;
    else if (fs_is_dir(deep)) c->dir = deep, deep = NULL;
    else {
        snprintf(msg, sizeof msg, "%s: missing clip folder (listed at %s:%d; also tried %s/%s)", direct, r->path,
                 line, r->nested, folder);
        set_problem(c, msg);
    }
    free(direct);
    free(deep);
    if (c->dir) list_clip_frames(c);
}

// One trimmed, non-empty line 'folder;label_name;label_index' into a clip; the first such line
// (content_line 1) may be a header, whose index is not a number. 0, or -1 + gs_error.
static int csv_read_line(csv_reader *r, char *ln, int line, int content_line) {
    char *f[4] = {0};
    int nf = csv_split_fields(f, ln);
    if (nf != 3)
        return gs_error("%s:%d: expected 'folder;label_name;label_index', got %d field%s", r->path, line, nf,
                        nf == 1 ? "" : "s");
    for (int i = 0; i < 3; i++) trim(&f[i]);
    int index;
    if (parse_int(f[2], &index) != 0) {
        if (content_line == 1) return 0;  // a header line
        return gs_error("%s:%d: label index '%s' is not a non-negative integer", r->path, line, f[2]);
    }
    if (!*f[0] || strchr(f[0], '/') || f[0][0] == '.')
        return gs_error("%s:%d: invalid folder name '%s'", r->path, line, f[0]);
    char cls[256];
    label_clean(cls, sizeof cls, f[1]);
    if (!*cls) return gs_error("%s:%d: empty label name", r->path, line);
    int label;
    if (csv_find_label(&label, r, cls, index, line) != 0) return -1;
    for (int i = r->first_clip; i < r->raw->n_clips; i++)
        if (!strcmp(r->raw->clips[i].name, f[0]))
            return gs_error("%s:%d: folder '%s' listed twice", r->path, line, f[0]);
    if (label < 0 && r->define_labels) {
        *r->labels = realloc(*r->labels, sizeof(csv_label) * (size_t)(*r->n_labels + 1));
        if (!*r->labels) gs_fatal("out of memory");
        (*r->labels)[*r->n_labels] = (csv_label){strdup(cls), index, line};
        label = (*r->n_labels)++;
    }
    csv_add_clip(r, f[0], f[1], label, line);
    return 0;
}

// Parse one CSV file into clips of `split`. Labels of train.csv define the classes (labels
// array grows); for other splits a label not seen in train is recorded as a clip problem.
static int scan_csv(gs_raw_dataset *raw, int *cap, const char *split, csv_label **labels, int *n_labels,
                    int define_labels) {
    char csv_name[64];
    snprintf(csv_name, sizeof csv_name, "%s.csv", split);
    char *path = fs_join(raw->root, csv_name);
    char *text;
    if (fs_read_text(&text, NULL, path) != 0) {
        free(path);
        return -1;
    }
    csv_reader r = {.raw = raw, .cap = cap, .split = split, .path = path, .labels = labels, .n_labels = n_labels,
                    .define_labels = define_labels, .first_clip = raw->n_clips};
    r.split_dir = fs_join(raw->root, split);
    r.nested = fs_join(r.split_dir, split);
    int rc = 0, line = 0, content_lines = 0;
    char *save = NULL;
    // Spreadsheet programs save UTF-8 with a byte-order mark; it is not part of the first folder name.
    char *start = !strncmp(text, "\xEF\xBB\xBF", 3) ? text + 3 : text;
    for (char *ln = start; ln && rc == 0; ln = save) {
        char *nl = strchr(ln, '\n');
        save = nl ? nl + 1 : NULL;
        if (nl) *nl = 0;
        line++;
        trim(&ln);
        if (!*ln) continue;
        rc = csv_read_line(&r, ln, line, ++content_lines);
    }
    if (rc == 0 && raw->n_clips == r.first_clip) rc = gs_error("%s: no clips listed", path);
    free(text);
    free(path);
    free(r.split_dir);
    free(r.nested);
    return rc;
}

static int cmp_label_name(const void *a, const void *b) {
    return strcmp(((const csv_label *)a)->name, ((const csv_label *)b)->name);
}

static int scan_csv_layout(gs_raw_dataset *raw) {
    int cap = 0, n_labels = 0;
    csv_label *labels = NULL;
    int rc = scan_csv(raw, &cap, "train", &labels, &n_labels, 1);
    char *val = fs_join(raw->root, "val.csv");
    if (rc == 0 && fs_is_file(val)) rc = scan_csv(raw, &cap, "val", &labels, &n_labels, 0);
    free(val);
    if (rc == 0) {
        // Classes in sorted name order; clips' temporary label indices are remapped to it.
        csv_label *sorted = gs_malloc(sizeof(csv_label) * (size_t)n_labels);
        memcpy(sorted, labels, sizeof(csv_label) * (size_t)n_labels);
        qsort(sorted, (size_t)n_labels, sizeof(csv_label), cmp_label_name);
        raw->n_classes = n_labels;
        raw->classes = gs_malloc(sizeof(char *) * (size_t)(n_labels ? n_labels : 1));
        for (int k = 0; k < n_labels; k++) raw->classes[k] = strdup(sorted[k].name);
        for (int i = 0; i < raw->n_clips; i++) {
            gs_raw_clip *c = &raw->clips[i];
            if (c->label < 0) continue;
            for (int k = 0; k < n_labels; k++)
                if (!strcmp(raw->classes[k], labels[c->label].name)) {
                    c->label = k;
                    break;
                }
        }
        free(sorted);
    }
    for (int k = 0; k < n_labels; k++) free(labels[k].name);
    free(labels);
    return rc;
}

// ---- class folders ----

static int scan_folder_layout(gs_raw_dataset *raw) {
    int cap = 0, cls_cap = 0;
    // Pass 1: class names (sorted union over splits, cleaned of "_new").
    for (int s = 0; s < 3; s++) {
        char *sdir = fs_join(raw->root, SPLITS[s]);
        char **names = NULL;
        int k = 0;
        if (fs_is_dir(sdir) && dataset_list_dirs(&names, &k, sdir) != 0) {
            free(sdir);
            return -1;
        }
        for (int i = 0; i < k; i++) {
            char cls[256];
            label_clean(cls, sizeof cls, names[i]);
            int dup = 0;
            for (int j = 0; j < raw->n_classes; j++) dup |= !strcmp(raw->classes[j], cls);
            if (dup) continue;
            if (raw->n_classes == cls_cap) {
                cls_cap = cls_cap ? 2 * cls_cap : 8;
                raw->classes = realloc(raw->classes, sizeof(char *) * (size_t)cls_cap);
                if (!raw->classes) gs_fatal("out of memory");
            }
            raw->classes[raw->n_classes++] = strdup(cls);
        }
        dataset_free_list(names, k);
        free(sdir);
    }
    for (int i = 1; i < raw->n_classes; i++)  // insertion sort: a handful of names
        for (int j = i; j > 0 && strcmp(raw->classes[j - 1], raw->classes[j]) > 0; j--) {
            char *t = raw->classes[j];
            raw->classes[j] = raw->classes[j - 1];
            raw->classes[j - 1] = t;
        }
    // Pass 2: clips.
    for (int s = 0; s < 3; s++) {
        char *sdir = fs_join(raw->root, SPLITS[s]);
        char **names = NULL;
        int k = 0;
        if (fs_is_dir(sdir)) dataset_list_dirs(&names, &k, sdir);
        if (fs_is_dir(sdir) && k == 0) {
            gs_error("%s: split folder has no class folders", sdir);
            free(sdir);
            return -1;
        }
        for (int i = 0; i < k; i++) {
            char cls[256];
            label_clean(cls, sizeof cls, names[i]);
            int label = 0;
            while (strcmp(raw->classes[label], cls)) label++;
            char *cdir = fs_join(sdir, names[i]);
            char **samples = NULL, **loose = NULL;
            int ns = 0, np = 0;
            int rc = dataset_list_dirs(&samples, &ns, cdir);
            if (rc == 0 && ns == 0) {
                dataset_list_frames(&loose, &np, cdir);
                dataset_free_list(loose, np);
                if (np) rc = gs_error("%s: holds frame files directly; expected %s/<sample>/*.png|jpg", cdir, cdir);
                else rc = gs_error("%s: empty class (no sample folders)", cdir);
            }
            for (int j = 0; j < ns && rc == 0; j++) {
                gs_raw_clip *c = add_clip(raw, &cap);
                c->split = strdup(SPLITS[s]);
                c->name = strdup(samples[j]);
                c->label = label;
                c->dir = fs_join(cdir, samples[j]);
                list_clip_frames(c);
            }
            dataset_free_list(samples, ns);
            free(cdir);
            if (rc) {
                dataset_free_list(names, k);
                free(sdir);
                return -1;
            }
        }
        dataset_free_list(names, k);
        free(sdir);
    }
    return 0;
}

int raw_dataset_scan(gs_raw_dataset *raw, const char *root) {
    memset(raw, 0, sizeof *raw);
    if (!fs_is_dir(root)) return gs_error("%s: raw data folder missing", root);
    raw->root = strdup(root);
    char *csv = fs_join(root, "train.csv");
    char *train = fs_join(root, "train");
    int rc;
    if (fs_is_file(csv)) {
        raw->layout = GS_LAYOUT_CSV;
        rc = scan_csv_layout(raw);
    } else if (fs_is_dir(train)) {
        raw->layout = GS_LAYOUT_FOLDERS;
        rc = scan_folder_layout(raw);
    } else {
        rc = gs_error("%s: unrecognized layout: expected train.csv (CSV index) or train/<Class>/<sample>/*.png|jpg", root);
    }
    free(csv);
    free(train);
    if (rc != 0) raw_dataset_free(raw);
    return rc;
}

void raw_dataset_free(gs_raw_dataset *raw) {
    for (int i = 0; i < raw->n_clips; i++) {
        gs_raw_clip *c = &raw->clips[i];
        free(c->split);
        free(c->name);
        free(c->dir);
        free(c->problem);
        dataset_free_list(c->frames, c->n_frames);
    }
    free(raw->clips);
    dataset_free_list(raw->classes, raw->n_classes);
    free(raw->root);
    memset(raw, 0, sizeof *raw);
}

int raw_dataset_validate(gs_raw_dataset *raw, int min_frames, int verify) {
    int bad = 0;
#pragma omp parallel for schedule(dynamic, 4) reduction(+ : bad)
    for (int i = 0; i < raw->n_clips; i++) {
        gs_raw_clip *c = &raw->clips[i];
        char msg[4400];
        if (!c->problem && c->n_frames < min_frames) {
            snprintf(msg, sizeof msg, "%s: too few frames (%d, need at least %d)", c->dir, c->n_frames, min_frames);
            set_problem(c, msg);
        }
        uint8_t *buf = NULL;
        size_t cap = 0;
        for (int f = 0; f < c->n_frames && !c->problem; f++) {
            int w, h;
            int rc = verify ? gs_frame_image_read_rgb8_into(&buf, &cap, &w, &h, c->frames[f])
                            : gs_frame_image_read_size(&w, &h, c->frames[f]);
            if (rc != 0) set_problem(c, gs_last_error());
            else if (f == 0) c->w = w, c->h = h;
        }
        free(buf);
        bad += c->problem != NULL;
    }
    return bad;
}
