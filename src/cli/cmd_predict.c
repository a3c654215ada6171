// `gesture predict CHECKPOINT INPUT...`: the predicted gesture and class probabilities of each clip
// folder or video file (or of each window of a video), as a table or JSON. Frames are selected,
// resized and normalized as the checkpoint's config says (the same path as evaluation, without
// augmentation); videos are first resampled to the frame rate of the training videos (stream.fps).
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
#include "predict.h"

static const char *OPTIONS =
    "\nCHECKPOINT is a .h5 checkpoint or a run directory (its checkpoints/best.h5, else last.h5).\n"
    "Each INPUT is a folder of frames (*.png, *.jpg, *.jpeg in natural order; PNG or JPEG, told apart by\n"
    "content), a folder of such clip folders (searched down to 4 levels, e.g. data/prepared/test), or a\n"
    "video file (mp4, mkv, webm, avi, ... anything FFmpeg decodes): one prediction per clip or file.\n"
    "Frame selection, size and normalization follow the checkpoint's config. A video is resampled to\n"
    "stream.fps (the rate of the training videos; the frame times come from the file, variable frame\n"
    "rates included) and then sampled like a folder.\n"
    "\noptions:\n"
    "  --windows    videos: one prediction per window of data.frames consecutive frames at the model's\n"
    "               rate (stream.fps / data.frame_step), with its start and end time (first and last\n"
    "               frame, seconds); a new window every --hop frames\n"
    "  --hop N      model frames between windows (default: the config's stream.hop)\n"
    "  --json       print a JSON array of {\"clip\", [\"start\", \"end\",] \"label\", \"probabilities\":\n"
    "               {class: p}} (full float precision)\n"
    "  --batch N    clips or windows per forward pass (default 8)\n"
    "  --save-inputs X.npy  also write the model's input tensors, in output order, as one NumPy file\n"
    "               float32 (N, T, S, S, 3): to check an exported model elsewhere (gesture export-onnx)\n"
    "  --threads N  CPU threads (default: the config's runtime.threads; 0 = all cores)\n"
    "  --device auto|cpu|cuda  where the forward passes run (default: the config's runtime.device)\n"
    "  --inference plan|reference\n"
    "               plan: batch norm folded into the convolutions, fast kernels; reference: the\n"
    "               reference ops layer by layer (same predictions within 1e-4, on either device;\n"
    "               default: the config's runtime.inference, plan unless set)\n"
    "  --precision fp32|bf16  runtime.precision: bf16 on cuda (GEMMs on bf16 operands, the plan's\n"
    "               activations in bf16); the cpu runs fp32 and says so (default: the config's)\n"
    "\nAn input that cannot be read (missing folder, no frames, too few frames, a corrupt PNG or JPEG, a\n"
    "truncated, damaged or unsupported video) is reported on stderr by name; the others are still\n"
    "predicted and the exit status is 1.\n";

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

typedef struct {
    int json, batch, threads, windows, hop;  // hop 0 = stream.hop
    const char *save_inputs;                 // --save-inputs path or NULL
    int inference;                           // gs_inference, -1 = the config's
    int device;                              // gs_device, -1 = the config's runtime.device
    int precision;                           // gs_precision, -1 = the config's runtime.precision
} predict_opts;

// Options and inputs; a top-level argument that is a regular file is a video (videos[i] = 1).
// 0, or the exit status of a usage error.
static int parse_args(predict_opts *o, const char **target, clip_list *list, char **videos, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int is_int = !strcmp(a, "--batch") || !strcmp(a, "--threads") || !strcmp(a, "--hop");
        if (is_int) {
            int *dst = a[2] == 'b' ? &o->batch : a[2] == 't' ? &o->threads : &o->hop;
            int lo = a[2] == 't' ? 0 : 1, hi = a[2] == 't' ? 1024 : 4096;
            if (i + 1 >= argc || cli_parse_int(argv[i + 1], lo, hi, dst)) {
                fprintf(stderr, "gesture predict: %s wants a %s integer\n", a, lo ? "positive" : "non-negative");
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--save-inputs")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "gesture predict: --save-inputs wants a file name (X.npy)\n");
                return 2;
            }
            o->save_inputs = argv[++i];
        } else if (!strcmp(a, "--precision")) {
            if (cli_parse_precision("predict", i + 1 < argc ? argv[i + 1] : NULL, &o->precision)) return 2;
            i++;
        } else if (!strcmp(a, "--device")) {
            if (cli_parse_device("predict", i + 1 < argc ? argv[i + 1] : NULL, &o->device)) return 2;
            i++;
        } else if (!strcmp(a, "--inference")) {
            if (cli_parse_inference("predict", i + 1 < argc ? argv[i + 1] : NULL, &o->inference)) return 2;
            i++;
        } else if (!strcmp(a, "--json")) o->json = 1;
        else if (!strcmp(a, "--windows")) o->windows = 1;
        else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "gesture predict: unknown option '%s' (see gesture predict --help)\n", a);
            return 2;
        } else if (!*target) *target = a;
        else {
            int first = list->n;
            if (fs_is_file(a)) clip_list_add(list, strdup(a));
            else add_clips(list, a, 0);
            *videos = realloc(*videos, (size_t)list->cap + 1);
            GS_ASSERT(*videos);
            for (int k = first; k < list->n; k++) (*videos)[k] = (char)fs_is_file(a);
        }
    }
    if (!*target || list->n == 0) {
        fprintf(stderr, "gesture predict: give a checkpoint and at least one clip folder or video (e.g. gesture predict "
                        "runs/quickstart/checkpoints/best.h5 data/clip1)\n");
        return 2;
    }
    return 0;
}

// One clip folder into the batch. 0, or -1 + gs_error naming it.
static int predict_clip_dir(predict_batch *b, const char *dir, const gs_loader_config *lc) {
    gs_clip clip;
    if (dataset_load_clip_dir(&clip, dir) != 0) return -1;
    int rc = loader_load_clip(predict_batch_slot(b), &clip, lc);
    clip_free(&clip);
    if (rc != 0) {
        if (strstr(gs_last_error(), dir)) return -1;
        char msg[512];
        snprintf(msg, sizeof msg, "%s", gs_last_error());
        return gs_error("%s: %s", dir, msg);
    }
    predict_batch_commit(b, dir, 0, 0);
    return 0;
}

int cmd_predict(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        cli_print_usage("predict");
        fputs(OPTIONS, stdout);
        return 0;
    }
    const char *target = NULL;
    clip_list list = {0};
    char *videos = NULL;
    predict_opts o = {0, 8, -1, 0, 0, NULL, -1, -1, -1};
    int rc = parse_args(&o, &target, &list, &videos, argc, argv);
    char ckpt[PATH_MAX], run_dir[PATH_MAX];
    cli_inference_model im;
    // one batch slot per input is enough unless windows multiply them
    int B = o.windows || o.batch < list.n ? o.batch : list.n;
    if (rc == 0 && (cli_resolve_checkpoint(ckpt, run_dir, sizeof ckpt, target, "predict", stderr) != 0 ||
                    cli_inference_model_load(&im, ckpt, (cli_inference_overrides){B, o.threads, o.inference, o.precision}) !=
                        0)) {
        fprintf(stderr, "gesture predict: %s\n", gs_last_error());
        rc = 1;
    } else if (rc == 0 && cli_inference_model_open_device(&im, "predict", o.device, NULL) != 0) {
        fprintf(stderr, "gesture predict: %s\n", gs_last_error());
        cli_inference_model_free(&im);
        rc = 1;
    }
    if (rc != 0) {
        clip_list_free(&list);
        free(videos);
        return rc;
    }
    gs_loader_config lc;
    // loader_load_clip reads only the clip shape (frames, sampling, size, normalize) from it
    loader_config_from(&lc, &im.cfg, NULL, 0);
    predict_printer pr = {(const char *const *)im.classes, im.n_classes, o.json, o.windows, 0, 4};
    for (int i = 0; i < list.n; i++)
        if ((int)strlen(list.v[i]) > pr.name_width) pr.name_width = (int)strlen(list.v[i]);
    predict_print_header(&pr);
    predict_batch b;
    predict_batch_init(&b, &im, &pr, &lc);
    if (o.save_inputs && predict_batch_save_open(&b, o.save_inputs) != 0) {
        fprintf(stderr, "gesture predict: %s\n", gs_last_error());
        predict_batch_free(&b);
        clip_list_free(&list);
        free(videos);
        cli_inference_model_free(&im);
        return 1;
    }
    int failed = 0, hop = o.hop ? o.hop : im.cfg.stream.hop;
    for (int i = 0; i < list.n; i++) {
        int r = videos[i] ? predict_video(&b, list.v[i], &lc, &im.cfg.stream, o.windows, hop)
                          : predict_clip_dir(&b, list.v[i], &lc);
        if (r != 0) {
            fprintf(stderr, "gesture predict: %s\n", gs_last_error());
            failed++;
        }
    }
    predict_batch_flush(&b);
    predict_print_end(&pr);
    int save_rc = predict_batch_save_close(&b);
    if (save_rc != 0) fprintf(stderr, "gesture predict: %s\n", gs_last_error());
    if (failed)
        fprintf(stderr, "gesture predict: %d of %d inputs could not be read (fix or drop them and rerun)\n", failed,
                list.n);
    predict_batch_free(&b);
    clip_list_free(&list);
    free(videos);
    cli_inference_model_free(&im);
    return failed || save_rc ? 1 : 0;
}
