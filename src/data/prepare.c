// `gesture prepare`: split assignment, writing the prepared tree, manifest and reports
// (see gesture/prepare.h). Raw discovery and validation live in raw.c, pictures in draw.c.
#include "gesture/prepare.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gesture/draw.h"
#include "gesture/csv.h"
#include "gesture/dataset.h"
#include "gesture/errors.h"
#include "gesture/frame_image.h"
#include "gesture/fsutil.h"
#include "gesture/image.h"
#include "gesture/png.h"
#include "gesture/rng.h"

static const char *const SPLITS[] = {"train", "val", "test"};

gs_prepare_opts prepare_default_opts(void) {
    gs_prepare_opts o = {0};
    o.mode = GS_SPLIT_SEED;
    o.test_per_class = 4;
    o.val_frac = 0.15;
    o.test_frac = 0.05;
    o.seed = 1337;
    o.min_frames = 1;
    return o;
}

static int split_index(const char *s) {
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, SPLITS[i])) return i;
    return -1;
}

static void shuffle(int *v, int n, uint64_t key) {
    gs_rng rng;
    gs_rng_seed(&rng, key);
    for (int i = n - 1; i > 0; i--) {
        int j = (int)gs_rng_below(&rng, (uint32_t)i + 1);
        int t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}

int prepare_assign_splits(int *dest, const gs_raw_dataset *raw, const gs_prepare_opts *o) {
    int has_test = 0;
    for (int i = 0; i < raw->n_clips; i++) {
        const gs_raw_clip *c = &raw->clips[i];
        dest[i] = c->problem ? -1 : split_index(c->split);
        has_test |= dest[i] == 2;
    }
    int *pool = gs_malloc(sizeof(int) * (size_t)(raw->n_clips ? raw->n_clips : 1));
    int rc = 0;
    for (int cls = 0; cls < raw->n_classes && rc == 0; cls++) {
        int n = 0;
        // Seed recipe draws from this class's train clips; fraction from all of its clips.
        for (int i = 0; i < raw->n_clips; i++)
            if (dest[i] >= 0 && raw->clips[i].label == cls && (o->mode == GS_SPLIT_FRACTION || dest[i] == 0)) pool[n++] = i;
        shuffle(pool, n, gs_key(o->seed, 0x5711u, (uint64_t)cls));
        if (o->mode == GS_SPLIT_SEED) {
            if (has_test) continue;  // RAW brings its own test split: keep it as given
            if (n <= o->test_per_class) {
                rc = gs_error("class %s has %d train clip%s; cannot move %d to test (lower --test-per-class)",
                              raw->classes[cls], n, n == 1 ? "" : "s", o->test_per_class);
                break;
            }
            for (int k = 0; k < o->test_per_class; k++) dest[pool[k]] = 2;
        } else {
            int n_test = (int)lround(n * o->test_frac), n_val = (int)lround(n * o->val_frac);
            if (n - n_test - n_val < 1) {
                rc = gs_error("class %s has %d clips: too few for val %.2f + test %.2f fractions", raw->classes[cls], n,
                              o->val_frac, o->test_frac);
                break;
            }
            for (int k = 0; k < n; k++) dest[pool[k]] = k < n_test ? 2 : (k < n_test + n_val ? 1 : 0);
        }
    }
    free(pool);
    return rc;
}

// ---- output ----

typedef struct {
    int raw;      // index into raw->clips
    int split, label;
    char *name;   // sample folder name in OUT (raw name, made unique within split/class)
} out_clip;

static int cmp_out(const void *a, const void *b) {
    const out_clip *x = a, *y = b;
    if (x->split != y->split) return x->split - y->split;
    if (x->label != y->label) return x->label - y->label;
    return natural_compare(x->name, y->name);
}

// What a prepare output folder holds: --force replaces it only if it holds nothing else.
static const char *const PREPARE_NAMES[] = {"train", "val", "test", "manifest.csv", "distribution.txt",
                                            "distribution.png", "samples.png", "validation.txt"};
#define N_PREPARE_NAMES (int)(sizeof PREPARE_NAMES / sizeof PREPARE_NAMES[0])
#define PREPARE_MARKER ".gesture-prepare"

static int write_clip(const char *out, const gs_raw_dataset *raw, const out_clip *oc, int copy) {
    const gs_raw_clip *c = &raw->clips[oc->raw];
    char rel[1024];
    snprintf(rel, sizeof rel, "%s/%s/%s", SPLITS[oc->split], raw->classes[oc->label], oc->name);
    char *dir = fs_join(out, rel);
    int rc = fs_mkdir_p(dir);
    char real_dir[PATH_MAX];
    if (rc == 0 && !copy && !realpath(c->dir, real_dir)) rc = gs_error("%s: cannot resolve path: %s", c->dir, strerror(errno));
    for (int f = 0; f < c->n_frames && rc == 0; f++) {
        // The raw frame's extension, lower-cased (frame_0000.png or .jpg/.jpeg): links and copies keep
        // the file's format, and a listing (gs_frame_image_is_name) accepted that extension.
        const char *dot = strrchr(c->frames[f], '.');
        char name[32];
        int k = snprintf(name, sizeof name, "frame_%04d", f);
        for (int i = 0; dot && dot[i] && k < (int)sizeof name - 1; i++) name[k++] = (char)tolower((unsigned char)dot[i]);
        name[k] = 0;
        char *dst = fs_join(dir, name);
        if (copy) {
            rc = fs_copy_file(dst, c->frames[f]);
        } else {
            const char *base = strrchr(c->frames[f], '/');
            char *target = fs_join(real_dir, base ? base + 1 : c->frames[f]);
            if (symlink(target, dst) != 0) rc = gs_error("%s: cannot create link: %s", dst, strerror(errno));
            free(target);
        }
        free(dst);
    }
    free(dir);
    return rc;
}

static const char *rel_source(const gs_raw_dataset *raw, const gs_raw_clip *c) {
    size_t n = strlen(raw->root);
    if (!strncmp(c->dir, raw->root, n)) return c->dir + n + (c->dir[n] == '/');
    return c->dir;
}

static int write_manifest(const char *out, const gs_raw_dataset *raw, const out_clip *oc, int n) {
    char *path = fs_join(out, "manifest.csv");
    FILE *f = fopen(path, "w");
    if (!f) {
        gs_error("%s: cannot create: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    fprintf(f, "split,label,class,sample,n_frames,width,height,source\n");
    for (int i = 0; i < n; i++) {
        const gs_raw_clip *c = &raw->clips[oc[i].raw];
        fprintf(f, "%s,%d,", SPLITS[oc[i].split], oc[i].label);
        csv_write_field(f, raw->classes[oc[i].label], ',');
        fputc(',', f);
        csv_write_field(f, oc[i].name, ',');
        fprintf(f, ",%d,%d,%d,", c->n_frames, c->w, c->h);
        csv_write_field(f, rel_source(raw, c), ',');
        fputc('\n', f);
    }
    int rc = fclose(f) == 0 ? 0 : gs_error("%s: write error", path);
    free(path);
    return rc;
}

// Class x split table; also returns the counts (n_classes,3).
static char *distribution_table(int *counts, const gs_raw_dataset *raw, const out_clip *oc, int n) {
    memset(counts, 0, sizeof(int) * 3 * (size_t)raw->n_classes);
    for (int i = 0; i < n; i++) counts[oc[i].label * 3 + oc[i].split]++;
    size_t cap = 256 + (size_t)raw->n_classes * 128;
    char *t = gs_malloc(cap);
    size_t k = 0;
    int width = 5;
    for (int c = 0; c < raw->n_classes; c++)
        if ((int)strlen(raw->classes[c]) > width) width = (int)strlen(raw->classes[c]);
    k += (size_t)snprintf(t + k, cap - k, "%-*s %7s %7s %7s %7s\n", width, "class", "train", "val", "test", "total");
    int tot[4] = {0};
    for (int c = 0; c < raw->n_classes; c++) {
        int *r = counts + 3 * c;
        k += (size_t)snprintf(t + k, cap - k, "%-*s %7d %7d %7d %7d\n", width, raw->classes[c], r[0], r[1], r[2],
                              r[0] + r[1] + r[2]);
        for (int s = 0; s < 3; s++) tot[s] += r[s];
    }
    tot[3] = tot[0] + tot[1] + tot[2];
    k += (size_t)snprintf(t + k, cap - k, "%-*s %7d %7d %7d %7d\n", width, "total", tot[0], tot[1], tot[2], tot[3]);
    return t;
}

// One row per class: the class name, then the frames of its first clip (train preferred).
static int write_sample_grid(const char *path, const gs_raw_dataset *raw, const out_clip *oc, int n) {
    enum { TH = 64, PAD = 4, MAX_FRAMES = 30 };
    int label_w = 0;
    for (int c = 0; c < raw->n_classes; c++) {
        int w = canvas_text_width(raw->classes[c], 2);
        if (w > label_w) label_w = w;
    }
    label_w += 2 * PAD;
    int *pick = gs_malloc(sizeof(int) * (size_t)raw->n_classes);
    int width = label_w + PAD;
    for (int c = 0; c < raw->n_classes; c++) {
        pick[c] = -1;
        for (int i = 0; i < n && pick[c] < 0; i++)  // oc is sorted by split, so train comes first
            if (oc[i].label == c) pick[c] = oc[i].raw;
        if (pick[c] < 0) continue;
        const gs_raw_clip *cl = &raw->clips[pick[c]];
        int nf = cl->n_frames < MAX_FRAMES ? cl->n_frames : MAX_FRAMES;
        int tw = cl->h > 0 ? (TH * cl->w + cl->h / 2) / cl->h : TH;
        if (label_w + nf * (tw + PAD) + PAD > width) width = label_w + nf * (tw + PAD) + PAD;
    }
    gs_canvas cv;
    canvas_init(&cv, width, raw->n_classes * (TH + PAD) + PAD, 0xFFFFFF);
    uint8_t *buf = NULL, *thumb = NULL;
    size_t cap = 0;
    int rc = 0;
    for (int c = 0; c < raw->n_classes && rc == 0; c++) {
        int y = PAD + c * (TH + PAD);
        canvas_text(&cv, PAD, y + TH / 2 - 7, 2, 0x202020, raw->classes[c]);
        if (pick[c] < 0) continue;
        const gs_raw_clip *cl = &raw->clips[pick[c]];
        int nf = cl->n_frames < MAX_FRAMES ? cl->n_frames : MAX_FRAMES;
        for (int k = 0; k < nf && rc == 0; k++) {
            int f = nf == cl->n_frames ? k : (int)((long)k * cl->n_frames / nf);
            int w, h;
            rc = gs_frame_image_read_rgb8_into(&buf, &cap, &w, &h, cl->frames[f]);
            if (rc) break;
            int tw = (TH * w + h / 2) / h;
            thumb = realloc(thumb, (size_t)tw * TH * 3);
            if (!thumb) gs_fatal("out of memory");
            image_resize_rgb8_u8(thumb, buf, w, h, tw, TH);
            canvas_blit(&cv, label_w + k * (tw + PAD), y, thumb, tw, TH);
        }
    }
    if (rc == 0) rc = gs_png_write_rgb8(path, cv.px, cv.w, cv.h, 6);
    free(buf);
    free(thumb);
    free(pick);
    canvas_free(&cv);
    return rc;
}

static int write_validation(const char *out, const gs_raw_dataset *raw, int skipped, int verify) {
    size_t cap = 4096 + (size_t)raw->n_clips * 512, k = 0;
    char *t = gs_malloc(cap);
    k += (size_t)snprintf(t + k, cap - k, "raw: %s (%s layout), %d clips, %d classes, frames %s\n", raw->root,
                          raw->layout == GS_LAYOUT_CSV ? "CSV-index" : "class-folder", raw->n_clips, raw->n_classes,
                          verify ? "fully decoded" : "headers checked");
    // Frame-count and frame-size histograms (few distinct values in practice).
    enum { MAXV = 64 };
    int vals[MAXV][3], nv = 0;  // (n_frames or w,h) -> count
    for (int pass = 0; pass < 2; pass++) {
        nv = 0;
        for (int i = 0; i < raw->n_clips; i++) {
            const gs_raw_clip *c = &raw->clips[i];
            if (c->problem) continue;
            int a = pass ? c->w : c->n_frames, b = pass ? c->h : 0, j;
            for (j = 0; j < nv && !(vals[j][0] == a && vals[j][1] == b); j++) {
            }
            if (j == nv && nv < MAXV) vals[nv][0] = a, vals[nv][1] = b, vals[nv++][2] = 0;
            if (j < nv) vals[j][2]++;
        }
        k += (size_t)snprintf(t + k, cap - k, pass ? "frame sizes:" : "frames per clip:");
        for (int j = 0; j < nv; j++) {
            if (pass) k += (size_t)snprintf(t + k, cap - k, " %dx%d (%d clips)", vals[j][0], vals[j][1], vals[j][2]);
            else k += (size_t)snprintf(t + k, cap - k, " %d (%d clips)", vals[j][0], vals[j][2]);
        }
        k += (size_t)snprintf(t + k, cap - k, "\n");
    }
    k += (size_t)snprintf(t + k, cap - k, "bad clips left out: %d\n", skipped);
    for (int i = 0; i < raw->n_clips; i++)
        if (raw->clips[i].problem) k += (size_t)snprintf(t + k, cap - k, "  %s\n", raw->clips[i].problem);
    char *path = fs_join(out, "validation.txt");
    int rc = fs_write_text(path, t);
    free(path);
    free(t);
    return rc;
}

// Without a config the clips are checked against --min-frames only: say how many are too short
// for the seed config, so a short set is noticed here rather than when training reads it.
static void advise_short_clips(const gs_raw_dataset *raw, int need) {
    int shorter = 0, usable = 0, first = -1;
    for (int i = 0; i < raw->n_clips; i++) {
        if (raw->clips[i].problem) continue;
        usable++;
        if (raw->clips[i].n_frames < need && shorter++ == 0) first = i;
    }
    if (shorter)
        fprintf(stderr, "note: %d of %d clips have fewer than the %d frames the seed config reads (e.g. %s: %d); "
                "train with a config that fits them, and pass it as --config to check them here\n", shorter, usable,
                need, raw->clips[first].dir, raw->clips[first].n_frames);
}

int prepare_run(const char *raw_root, const char *out_root, const gs_prepare_opts *o) {
    int replace;  // OUT is checked before any work, emptied and written only once the raw set passed
    if (fs_output_check(out_root, PREPARE_MARKER, PREPARE_NAMES, N_PREPARE_NAMES, o->force, &replace) != 0) return -1;
    gs_raw_dataset raw;
    if (raw_dataset_scan(&raw, raw_root) != 0) return -1;
    int bad = raw_dataset_validate(&raw, o->min_frames, o->verify);
    int rc = 0;
    if (bad) {
        const char *first = NULL;
        for (int i = 0; i < raw.n_clips; i++)
            if (raw.clips[i].problem) {
                if (!first) first = raw.clips[i].problem;
                fprintf(stderr, "%s: %s\n", o->skip_bad ? "warning: skipping clip" : "bad clip", raw.clips[i].problem);
            }
        if (!o->skip_bad) rc = gs_error("%d bad clip%s; first: %s (--on-bad-clip skip leaves them out)", bad,
                                        bad == 1 ? "" : "s", first);
    }
    if (rc == 0 && o->advise_frames > 0) advise_short_clips(&raw, o->advise_frames);
    int *dest = gs_malloc(sizeof(int) * (size_t)(raw.n_clips ? raw.n_clips : 1));
    if (rc == 0) rc = prepare_assign_splits(dest, &raw, o);
    out_clip *oc = gs_calloc((size_t)(raw.n_clips ? raw.n_clips : 1), sizeof(out_clip));
    int n = 0;
    for (int i = 0; rc == 0 && i < raw.n_clips; i++)
        if (dest[i] >= 0) oc[n++] = (out_clip){i, dest[i], raw.clips[i].label, strdup(raw.clips[i].name)};
    int *per_class = gs_calloc((size_t)raw.n_classes + 1, sizeof(int));
    for (int i = 0; i < n; i++) per_class[oc[i].label]++;
    for (int c = 0; rc == 0 && c < raw.n_classes; c++)
        if (!per_class[c]) rc = gs_error("%s: empty class '%s' (no usable clips)", raw_root, raw.classes[c]);
    if (rc == 0) {
        qsort(oc, (size_t)n, sizeof(out_clip), cmp_out);
        // Same folder name twice in one split/class (only possible when raw splits are pooled):
        // suffix the raw split to keep both.
        for (int i = 1; i < n; i++)
            if (oc[i].split == oc[i - 1].split && oc[i].label == oc[i - 1].label && !strcmp(oc[i].name, oc[i - 1].name)) {
                char *nm = gs_malloc(strlen(oc[i].name) + 16);
                sprintf(nm, "%s__%s", oc[i].name, raw.clips[oc[i].raw].split);
                free(oc[i].name);
                oc[i].name = nm;
            }
        qsort(oc, (size_t)n, sizeof(out_clip), cmp_out);
    }
    if (rc == 0 && replace) fprintf(stderr, "prepare: replacing the previous prepare output in %s (--force)\n", out_root);
    if (rc == 0) rc = fs_output_claim(out_root, PREPARE_MARKER, PREPARE_NAMES, N_PREPARE_NAMES, replace);
    for (int i = 0; rc == 0 && i < n; i++) rc = write_clip(out_root, &raw, &oc[i], o->copy);
    if (rc == 0) rc = write_manifest(out_root, &raw, oc, n);
    if (rc == 0) {
        int *counts = gs_malloc(sizeof(int) * 3 * (size_t)raw.n_classes);
        char *table = distribution_table(counts, &raw, oc, n);
        if (!o->quiet) printf("%s", table);
        char *p = fs_join(out_root, "distribution.txt");
        rc = fs_write_text(p, table);
        free(p);
        p = fs_join(out_root, "distribution.png");
        if (rc == 0) rc = draw_bar_chart(p, "Clips per class and split", raw.n_classes, raw.classes, 3, SPLITS, counts);
        free(p);
        p = fs_join(out_root, "samples.png");
        if (rc == 0) rc = write_sample_grid(p, &raw, oc, n);
        free(p);
        if (rc == 0) rc = write_validation(out_root, &raw, bad, o->verify);
        if (rc == 0 && !o->quiet)
            printf("prepared %d clips (%s) in %s: manifest.csv, distribution.{txt,png}, samples.png, validation.txt\n", n,
                   o->copy ? "copies" : "links", out_root);
        free(table);
        free(counts);
    }
    for (int i = 0; i < raw.n_clips; i++) free(oc[i].name);
    free(oc);
    free(per_class);
    free(dest);
    raw_dataset_free(&raw);
    return rc;
}
