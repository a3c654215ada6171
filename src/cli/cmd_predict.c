// `gesture predict CHECKPOINT CLIP_DIR...`: the predicted gesture and class probabilities of each clip
// folder, as a table or JSON. Frames are selected, resized and normalized as the checkpoint's config
// says (the same path as evaluation, without augmentation).
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_checkpoint.h"
#include "gesture/dataset.h"
#include "gesture/errors.h"
#include "gesture/frame_image.h"
#include "gesture/fsutil.h"
#include "gesture/loader.h"

static const char *OPTIONS =
    "\nCHECKPOINT is a .h5 checkpoint or a run directory (its checkpoints/best.h5, else last.h5).\n"
    "Each CLIP_DIR is a folder of frames (*.png, *.jpg, *.jpeg in natural order; PNG or JPEG, told apart\n"
    "by content), or a folder of such clip folders (searched down to 4 levels, e.g. data/prepared/test):\n"
    "one prediction per clip. Frame selection, size and normalization follow the checkpoint's config.\n"
    "\noptions:\n"
    "  --json       print a JSON array of {\"clip\", \"label\", \"probabilities\": {class: p}}\n"
    "  --batch N    clips per forward pass (default 8)\n"
    "  --threads N  CPU threads (default: the config's runtime.threads; 0 = all cores)\n"
    "\nA clip that cannot be read (missing folder, no frames, too few frames, a corrupt PNG or JPEG) is\n"
    "reported on stderr by name; the others are still predicted and the exit status is 1.\n";

static void json_string(const char *s) {
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') printf("\\%c", ch);
        else if (ch == '\n') fputs("\\n", stdout);
        else if (ch == '\t') fputs("\\t", stdout);
        else if (ch < 0x20) printf("\\u%04x", ch);
        else putchar(ch);
    }
    putchar('"');
}

typedef struct {
    char **v;
    int n, cap;
} clip_list;

static void clip_list_add(clip_list *l, char *path) {  // takes path
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->v = realloc(l->v, (size_t)l->cap * sizeof *l->v);
        GS_ASSERT(l->v);
    }
    l->v[l->n++] = path;
}

static void clip_list_free(clip_list *l) {
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

// dir's frame-file count (*n_frames) and its subfolders (sorted, hidden ones skipped; *subs malloc'd).
static int scan_dir(const char *dir, int *n_frames, clip_list *subs) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    *n_frames = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.') continue;
        char *path = fs_join(dir, e->d_name);
        if (fs_is_dir(path)) {
            clip_list_add(subs, path);
            continue;
        }
        if (gs_frame_image_is_name(e->d_name)) (*n_frames)++;
        free(path);
    }
    closedir(d);
    if (subs->n) qsort(subs->v, (size_t)subs->n, sizeof *subs->v, by_name);  // v is NULL when empty
    return 0;
}

// One CLIP_DIR argument -> clip folders: a folder with frame files is a clip; a folder with none but
// subfolders holds clips, searched down to 4 levels (data/prepared/test/<class>/<clip>). Anything
// else (missing, empty) is kept as given, so loading it reports it by name.
static void add_clips(clip_list *out, const char *arg, int depth) {
    clip_list subs = {0};
    int n_frames = 0;
    if (depth < 4 && scan_dir(arg, &n_frames, &subs) == 0 && n_frames == 0 && subs.n > 0) {
        for (int i = 0; i < subs.n; i++) add_clips(out, subs.v[i], depth + 1);
    } else {
        clip_list_add(out, strdup(arg));
    }
    for (int i = 0; i < subs.n; i++) free(subs.v[i]);
    free(subs.v);
}

// Width of a class's probability column.
static int class_width(const char *name) { return strlen(name) > 6 ? (int)strlen(name) : 6; }

typedef struct {
    const char *const *classes;
    int K, json, n_printed, clip_width;
} printer;

static void print_header(const printer *p) {
    if (p->json) return;
    printf("%-*s  %-12s %7s", p->clip_width, "clip", "label", "p");
    for (int k = 0; k < p->K; k++) printf("  %*s", class_width(p->classes[k]), p->classes[k]);
    putchar('\n');
}

static void print_clip(printer *p, const char *clip, const float *probs) {  // probs (K)
    int best = 0;
    for (int k = 1; k < p->K; k++)
        if (probs[k] > probs[best]) best = k;
    if (p->json) {
        fputs(p->n_printed ? ",\n  {" : "[\n  {", stdout);
        fputs("\"clip\": ", stdout);
        json_string(clip);
        fputs(", \"label\": ", stdout);
        json_string(p->classes[best]);
        fputs(", \"probabilities\": {", stdout);
        for (int k = 0; k < p->K; k++) {
            if (k) fputs(", ", stdout);
            json_string(p->classes[k]);
            printf(": %.6f", (double)probs[k]);
        }
        fputs("}}", stdout);
    } else {
        printf("%-*s  %-12s %7.4f", p->clip_width, clip, p->classes[best], (double)probs[best]);
        for (int k = 0; k < p->K; k++)
            printf("  %*.4f", class_width(p->classes[k]), (double)probs[k]);
        putchar('\n');
    }
    p->n_printed++;
}

int cmd_predict(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        cli_print_usage("predict");
        fputs(OPTIONS, stdout);
        return 0;
    }
    const char *target = NULL;
    clip_list list = {0};
    int json = 0, batch = 8, threads = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--batch") || !strcmp(a, "--threads")) {
            int *dst = a[2] == 'b' ? &batch : &threads;
            if (i + 1 >= argc || cli_parse_int(argv[i + 1], a[2] == 'b' ? 1 : 0, a[2] == 'b' ? 4096 : 1024, dst)) {
                fprintf(stderr, "gesture predict: %s wants a %s integer\n", a,
                        a[2] == 'b' ? "positive" : "non-negative");
                clip_list_free(&list);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--json")) json = 1;
        else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "gesture predict: unknown option '%s' (see gesture predict --help)\n", a);
            clip_list_free(&list);
            return 2;
        } else if (!target) target = a;
        else add_clips(&list, a, 0);
    }
    const char *const *clips = (const char *const *)list.v;
    int n_clips = list.n;
    if (!target || n_clips == 0) {
        fprintf(stderr, "gesture predict: give a checkpoint and at least one clip folder (e.g. gesture predict "
                        "runs/quickstart/checkpoints/best.h5 data/clip1)\n");
        clip_list_free(&list);
        return 2;
    }
    char ckpt[PATH_MAX], run_dir[PATH_MAX];
    cli_inference_model im;
    if (cli_resolve_checkpoint(ckpt, run_dir, sizeof ckpt, target, "predict", stderr) != 0 ||
        cli_inference_model_load(&im, ckpt, batch < n_clips ? batch : n_clips, threads) != 0) {
        fprintf(stderr, "gesture predict: %s\n", gs_last_error());
        clip_list_free(&list);
        return 1;
    }
    const gs_config *c = &im.cfg;
    gs_loader_config lc;
    // loader_load_clip reads only the clip shape (frames, sampling, size, normalize) from it
    loader_config_from(&lc, c, NULL, 0);
    int B = im.model.cfg.batch, K = im.n_classes;
    size_t clip_floats = (size_t)lc.frames * lc.size * lc.size * 3;
    printer pr = {(const char *const *)im.classes, K, json, 0, 4};
    for (int i = 0; i < n_clips; i++)
        if ((int)strlen(clips[i]) > pr.clip_width) pr.clip_width = (int)strlen(clips[i]);
    print_header(&pr);
    int failed = 0;
    const char **in_batch = gs_calloc((size_t)B, sizeof(char *));
    for (int next = 0; next < n_clips;) {
        int nb = 0;
        // fill the batch with clips that load; bad ones are reported and left out
        while (nb < B && next < n_clips) {
            const char *dir = clips[next++];
            gs_clip clip;
            float *x = model_input(&im.model) + clip_floats * (size_t)nb;  // (T,S,S,3)
            if (dataset_load_clip_dir(&clip, dir) != 0) {
                fprintf(stderr, "gesture predict: %s\n", gs_last_error());
                failed++;
                continue;
            }
            int rc = loader_load_clip(x, &clip, &lc);
            clip_free(&clip);
            if (rc != 0) {
                const char *msg = gs_last_error();
                if (strstr(msg, dir)) fprintf(stderr, "gesture predict: %s\n", msg);
                else fprintf(stderr, "gesture predict: %s: %s\n", dir, msg);
                failed++;
                continue;
            }
            in_batch[nb++] = dir;
        }
        if (nb == 0) continue;
        model_forward(&im.model, nb, 0, 0);
        const float *probs = model_probs(&im.model);  // (nb,K)
        for (int i = 0; i < nb; i++) print_clip(&pr, in_batch[i], probs + (size_t)i * K);
        fflush(stdout);
    }
    if (json) fputs(pr.n_printed ? "\n]\n" : "[]\n", stdout);
    if (failed)
        fprintf(stderr, "gesture predict: %d of %d clips could not be read (fix or drop them and rerun)\n", failed,
                n_clips);
    free(in_batch);
    clip_list_free(&list);
    cli_inference_model_free(&im);
    return failed ? 1 : 0;
}
