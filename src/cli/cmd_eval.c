// `gesture eval RUN_DIR|CHECKPOINT`: scores a trained model on a split of the prepared data set
// (loss and accuracy as Keras' evaluate(), scikit-learn's classification report, confusion matrix,
// per-clip predictions) and writes them under <run>/eval/<checkpoint>/<split>/, with figures: one
// folder per checkpoint and split, so evaluating another checkpoint or split keeps earlier results.
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_checkpoint.h"
#include "gesture/errors.h"
#include "gesture/evaluate.h"
#include "gesture/fsutil.h"
#include "gesture/loader.h"
#include "gesture/plots.h"
#include "gesture/trainer.h"

static const char *OPTIONS =
    "\nRUN_DIR uses RUN_DIR/checkpoints/best.h5 (or last.h5 when there is no best.h5). The model, frame\n"
    "selection, size and normalization come from the checkpoint's config; no augmentation, no shuffle.\n"
    "\noptions:\n"
    "  --split test|val|train  split of the prepared data set to score (default test)\n"
    "  --data ROOT             prepared data set (default: the checkpoint config's data.root)\n"
    "  --batch N               clips per forward pass (default: the config's train.batch_size)\n"
    "  --threads N             CPU threads (default: the config's runtime.threads; 0 = all cores)\n"
    "  --device auto|cpu|cuda  where the forward passes run (default: the config's runtime.device)\n"
    "  --inference plan|reference\n"
    "                          the folded plan (fast kernels, on the CPU or the GPU) or the reference ops\n"
    "                          layer by layer; same scores within 1e-4 (default: the config's\n"
    "                          runtime.inference, plan)\n"
    "  --precision fp32|bf16   runtime.precision: bf16 on cuda (GEMMs on bf16 operands, the plan's\n"
    "                          activations in bf16); the cpu runs fp32 and says so (default: the config's)\n"
    "  --out DIR               write eval/ under DIR (default: the run directory, or the checkpoint's\n"
    "                          folder for a checkpoint outside a run)\n"
    "  --digits N              decimals in the classification report (default 2, as scikit-learn)\n"
    "  --no-plots              skip confusion.png and samples.png (they need matplotlib)\n"
    "\nwrites <out>/eval/<checkpoint>/<split>/{report.txt, confusion.csv, predictions.csv, metrics.ini,\n"
    "confusion.png, samples.png} (<checkpoint>: the file name without .h5, e.g. eval/best/test/;\n"
    "samples.png: frames of some clips with true and predicted labels).\n";

// The dataset's class names must be the checkpoint's, in the same order.
static int check_classes(const gs_dataset *ds, char **classes, int K, const char *ckpt) {
    int same = ds->n_classes == K;
    for (int k = 0; same && k < K; k++) same = !strcmp(ds->classes[k], classes[k]);
    if (same) return 0;
    char a[1024] = "", b[1024] = "";
    for (int k = 0; k < ds->n_classes; k++)
        snprintf(a + strlen(a), sizeof a - strlen(a), "%s%s", k ? ", " : "", ds->classes[k]);
    for (int k = 0; k < K; k++) snprintf(b + strlen(b), sizeof b - strlen(b), "%s%s", k ? ", " : "", classes[k]);
    return gs_error("%s has classes [%s] but %s was trained on [%s]; pass --data with the matching data set",
                    ds->root, a, ckpt, b);
}

// What the command line asked for.
typedef struct {
    const char *target, *split, *data, *out;  // data, out: NULL when not given
    int batch, threads, digits, plots;        // batch 0, threads -1: the config's
    int device;                               // a gs_device, or -1: the config's runtime.device
    int inference;                            // a gs_inference, or -1: the config's runtime.inference
    int precision;                            // a gs_precision, or -1: the config's runtime.precision
} eval_options;

// Everything eval opens, in one place so one function closes it whichever step failed.
typedef struct {
    char ckpt[PATH_MAX], out_dir[PATH_MAX];
    cli_inference_model im;
    gs_dataset ds;
    gs_loader_config lc;
    gs_loader *l;
    gs_eval_result r;
    char *eval_dir;  // <out>/eval/<checkpoint stem>/<split>
} eval_session;

// Print the last error as eval's and return -1.
static int eval_fail(void) {
    fprintf(stderr, "gesture eval: %s\n", gs_last_error());
    return -1;
}

// argv -> options. 0, or -1 after a message on stderr (exit code 2).
static int eval_parse_args(eval_options *o, int argc, char **argv) {
    *o = (eval_options){.split = "test", .threads = -1, .digits = 2, .plots = 1, .device = -1, .inference = -1,
                         .precision = -1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int with_value = !strcmp(a, "--split") || !strcmp(a, "--data") || !strcmp(a, "--batch") ||
                         !strcmp(a, "--threads") || !strcmp(a, "--out") || !strcmp(a, "--digits") ||
                         !strcmp(a, "--device") || !strcmp(a, "--inference") ||
                         !strcmp(a, "--precision");
        if (with_value && i + 1 >= argc) {
            fprintf(stderr, "gesture eval: %s needs a value (see gesture eval --help)\n", a);
            return -1;
        }
        const char *v = with_value ? argv[++i] : NULL;
        if (!strcmp(a, "--split")) {
            if (strcmp(v, "test") && strcmp(v, "val") && strcmp(v, "train")) {
                fprintf(stderr, "gesture eval: --split must be test, val or train (got '%s')\n", v);
                return -1;
            }
            o->split = v;
        } else if (!strcmp(a, "--data")) o->data = v;
        else if (!strcmp(a, "--out")) o->out = v;
        else if (!strcmp(a, "--batch") && cli_parse_int(v, 1, 4096, &o->batch)) {
            fprintf(stderr, "gesture eval: --batch wants an integer in 1..4096 (got '%s')\n", v);
            return -1;
        } else if (!strcmp(a, "--threads") && cli_parse_int(v, 0, 1024, &o->threads)) {
            fprintf(stderr, "gesture eval: --threads wants an integer in 0..1024 (got '%s')\n", v);
            return -1;
        } else if (!strcmp(a, "--digits") && cli_parse_int(v, 0, 10, &o->digits)) {
            fprintf(stderr, "gesture eval: --digits wants an integer in 0..10 (got '%s')\n", v);
            return -1;
        } else if (!strcmp(a, "--device")) {
            if (cli_parse_device("eval", v, &o->device)) return -1;
        } else if (!strcmp(a, "--inference")) {
            if (cli_parse_inference("eval", v, &o->inference)) return -1;
        } else if (!strcmp(a, "--precision")) {
            if (cli_parse_precision("eval", v, &o->precision)) return -1;
        } else if (!strcmp(a, "--no-plots")) o->plots = 0;
        else if (!with_value && (a[0] == '-' || o->target)) {
            fprintf(stderr, "gesture eval: unexpected argument '%s' (see gesture eval --help)\n", a);
            return -1;
        } else if (!with_value) o->target = a;
    }
    if (!o->target) {
        fprintf(stderr, "gesture eval: missing RUN_DIR or CHECKPOINT (e.g. gesture eval runs/quickstart)\n");
        return -1;
    }
    return 0;
}

// The checkpoint, where outputs go, and the model rebuilt from it. 0, or -1 after a message.
static int eval_open_model(eval_session *e, const eval_options *o) {
    if (cli_resolve_checkpoint(e->ckpt, e->out_dir, sizeof e->ckpt, o->target, "eval", stdout) != 0)
        return eval_fail();
    if (o->out) snprintf(e->out_dir, sizeof e->out_dir, "%s", o->out);
    cli_inference_overrides ov = {o->batch, o->threads, o->inference, o->precision};
    if (cli_inference_model_load(&e->im, e->ckpt, ov) != 0) return eval_fail();
    return 0;
}

// The split of the prepared data set, checked against the model's classes, and the loader's
// settings for it. 0, or -1 after a message.
static int eval_open_data(eval_session *e, const eval_options *o) {
    const char *root = o->data ? o->data : e->im.cfg.data.root;
    if (!*root) {
        fprintf(stderr, "gesture eval: %s has no data.root; pass --data ROOT (a folder made by gesture prepare)\n",
                e->ckpt);
        return -1;
    }
    if (dataset_load_prepared_ex(&e->ds, root, o->split, e->im.cfg.data.on_bad_clip) != 0) {
        fprintf(stderr, "gesture eval: %s\n(pass --data ROOT to point at the prepared data set)\n", gs_last_error());
        return -1;
    }
    if (check_classes(&e->ds, e->im.classes, e->im.n_classes, e->ckpt) != 0) return eval_fail();
    loader_config_from(&e->lc, &e->im.cfg, o->split, 0);
    e->lc.dataset = &e->ds;  // loaded above, from --data when given
    e->lc.cache = 0;         // one pass over the split: cached frames would never be read again
    return 0;
}

// The device and the backend that runs the forward passes on it (e->im.be). Called before the
// loader is made, so its batch slots can be pinned for the uploads. 0, or -1 after a message.
static int eval_open_device(eval_session *e, int device) {
    return cli_inference_model_open_device(&e->im, "eval", device, &e->lc) != 0 ? eval_fail() : 0;
}

// One pass over the split into e->r. 0, or -1 after a message.
static int eval_score(eval_session *e, const char *split) {
    printf("evaluating %s on %s, inference: %s\n", split, e->im.be.device, cli_inference_name(&e->im));
    if (loader_init(&e->l, &e->lc) != 0 || evaluate_model(&e->r, &e->im.be, e->l, 0, 1) != 0) return eval_fail();
    if (e->r.n < e->ds.n_clips)
        fprintf(stderr, "gesture eval: %d bad clips skipped (data.on_bad_clip = skip)\n", e->ds.n_clips - e->r.n);
    return 0;
}

// <out>/eval/<checkpoint stem>/<split>: e.g. runs/a/eval/best/test for runs/a/checkpoints/best.h5.
static char *eval_dir_for(const char *out_dir, const char *ckpt, const char *split) {
    const char *base = strrchr(ckpt, '/');
    base = base ? base + 1 : ckpt;
    size_t stem = strlen(base);
    if (stem > 3 && !strcmp(base + stem - 3, ".h5")) stem -= 3;
    char *dir = gs_malloc(strlen(out_dir) + stem + strlen(split) + 8);
    sprintf(dir, "%s/eval/%.*s/%s", out_dir, (int)stem, base, split);
    return dir;
}

// The eval directory's files, and the report and timing on stdout. 0, or -1 after a message.
static int eval_write_results(eval_session *e, const eval_options *o) {
    e->eval_dir = eval_dir_for(e->out_dir, e->ckpt, o->split);
    char *report = NULL;
    if (evaluate_write(e->eval_dir, &e->r, &e->ds, (const char *const *)e->im.classes, e->ckpt, o->split, o->digits,
                       &report) != 0) {
        free(report);
        return eval_fail();
    }
    fputs(report, stdout);
    printf("\n%d clips in %.1f s (%.1f clips/s, %d threads); wrote %s/{report.txt,confusion.csv,predictions.csv,"
           "metrics.ini}\n",
           e->r.n, e->r.seconds, e->r.n / (e->r.seconds > 0 ? e->r.seconds : 1e-9), e->im.threads, e->eval_dir);
    free(report);
    return 0;
}

// confusion.png and samples.png beside the results. 0, or -1 after a message.
static int eval_write_plots(const eval_session *e, const char *split) {
    char *samples = fs_join(e->eval_dir, "samples.png");
    char title[PATH_MAX + 64];
    snprintf(title, sizeof title, "%s, %s", split, e->ckpt);
    const char *args[] = {"eval", e->eval_dir, samples, "--title", title};
    int bad = plots_run(args, 5) != 0;
    if (bad) eval_fail();
    else printf("plots: %s/confusion.png, %s\n", e->eval_dir, samples);
    free(samples);
    return bad ? -1 : 0;
}

static void eval_close(eval_session *e) {
    free(e->eval_dir);
    evaluate_result_free(&e->r);
    if (e->l) loader_free(e->l);  // before the GPU closes: its pinned slots are freed through CUDA
    dataset_free(&e->ds);
    cli_inference_model_free(&e->im);
}

int cmd_eval(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        cli_print_usage("eval");
        fputs(OPTIONS, stdout);
        return 0;
    }
    eval_options o;
    if (eval_parse_args(&o, argc, argv) != 0) return 2;
    eval_session e = {0};
    if (eval_open_model(&e, &o) != 0) return 1;
    int bad = eval_open_data(&e, &o) || eval_open_device(&e, o.device) || eval_score(&e, o.split) ||
              eval_write_results(&e, &o) || (o.plots && eval_write_plots(&e, o.split));
    eval_close(&e);
    return bad ? 1 : 0;
}
