// `gesture eval RUN_DIR|CHECKPOINT`: scores a trained model on a split of the prepared data set
// (loss and accuracy as Keras' evaluate(), scikit-learn's classification report, confusion matrix,
// per-clip predictions) and writes them under <run>/eval/<split>/, with figures.
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
    "  --out DIR               write eval/<split>/ and plots/ under DIR (default: the run directory, or\n"
    "                          the checkpoint's folder for a checkpoint outside a run)\n"
    "  --digits N              decimals in the classification report (default 2, as scikit-learn)\n"
    "  --no-plots              skip confusion.png and plots/samples.png (they need matplotlib)\n"
    "\nwrites <out>/eval/<split>/{report.txt, confusion.csv, predictions.csv, metrics.ini, confusion.png}\n"
    "and <out>/plots/samples.png (frames of some clips with true and predicted labels).\n";

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

int cmd_eval(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        cli_print_usage("eval");
        fputs(OPTIONS, stdout);
        return 0;
    }
    const char *target = NULL, *split = "test", *data = NULL, *out_opt = NULL;
    int batch = 0, threads = -1, digits = 2, plots = 1, device = -1;  // -1: the config's runtime.device
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int with_value = !strcmp(a, "--split") || !strcmp(a, "--data") || !strcmp(a, "--batch") ||
                         !strcmp(a, "--threads") || !strcmp(a, "--out") || !strcmp(a, "--digits") ||
                         !strcmp(a, "--device");
        if (with_value && i + 1 >= argc) {
            fprintf(stderr, "gesture eval: %s needs a value (see gesture eval --help)\n", a);
            return 2;
        }
        const char *v = with_value ? argv[++i] : NULL;
        if (!strcmp(a, "--split")) {
            if (strcmp(v, "test") && strcmp(v, "val") && strcmp(v, "train")) {
                fprintf(stderr, "gesture eval: --split must be test, val or train (got '%s')\n", v);
                return 2;
            }
            split = v;
        } else if (!strcmp(a, "--data")) data = v;
        else if (!strcmp(a, "--out")) out_opt = v;
        else if (!strcmp(a, "--batch") && cli_parse_int(v, 1, 4096, &batch)) {
            fprintf(stderr, "gesture eval: --batch wants an integer in 1..4096 (got '%s')\n", v);
            return 2;
        } else if (!strcmp(a, "--threads") && cli_parse_int(v, 0, 1024, &threads)) {
            fprintf(stderr, "gesture eval: --threads wants an integer in 0..1024 (got '%s')\n", v);
            return 2;
        } else if (!strcmp(a, "--digits") && cli_parse_int(v, 0, 10, &digits)) {
            fprintf(stderr, "gesture eval: --digits wants an integer in 0..10 (got '%s')\n", v);
            return 2;
        } else if (!strcmp(a, "--device")) {
            if (!strcmp(v, "auto")) device = GS_DEVICE_AUTO;
            else if (!strcmp(v, "cpu")) device = GS_DEVICE_CPU;
            else if (!strcmp(v, "cuda")) device = GS_DEVICE_CUDA;
            else {
                fprintf(stderr, "gesture eval: --device must be auto, cpu or cuda (got '%s')\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--no-plots")) plots = 0;
        else if (!with_value && (a[0] == '-' || target)) {
            fprintf(stderr, "gesture eval: unexpected argument '%s' (see gesture eval --help)\n", a);
            return 2;
        } else if (!with_value) target = a;
    }
    if (!target) {
        fprintf(stderr, "gesture eval: missing RUN_DIR or CHECKPOINT (e.g. gesture eval runs/quickstart)\n");
        return 2;
    }

    char ckpt[PATH_MAX], out_dir[PATH_MAX];
    if (cli_resolve_checkpoint(ckpt, out_dir, sizeof ckpt, target, "eval") != 0) {
        fprintf(stderr, "gesture eval: %s\n", gs_last_error());
        return 1;
    }
    if (out_opt) snprintf(out_dir, sizeof out_dir, "%s", out_opt);
    cli_inference_model im;
    if (cli_inference_model_load(&im, ckpt, batch, threads) != 0) {
        fprintf(stderr, "gesture eval: %s\n", gs_last_error());
        return 1;
    }
    const char *root = data ? data : im.cfg.data.root;
    int rc = 1, use_cuda = 0, cuda_open = 0;
    gs_train_backend be = {0};
    gs_dataset ds = {0};
    gs_loader *l = NULL;
    gs_eval_result r = {0};
    char *report = NULL, *eval_dir = NULL, *plots_dir = NULL;
    if (!*root) {
        fprintf(stderr, "gesture eval: %s has no data.root; pass --data ROOT (a folder made by gesture prepare)\n",
                ckpt);
        goto done;
    }
    if (dataset_load_prepared(&ds, root, split) != 0) {
        fprintf(stderr, "gesture eval: %s\n(pass --data ROOT to point at the prepared data set)\n", gs_last_error());
        goto done;
    }
    if (check_classes(&ds, im.classes, im.n_classes, ckpt) != 0) {
        fprintf(stderr, "gesture eval: %s\n", gs_last_error());
        goto done;
    }
    const gs_config *c = &im.cfg;
    gs_loader_config lc;
    loader_config_from(&lc, c, split, 0);
    lc.dataset = &ds;  // loaded above, from --data when given
    lc.cache = 0;      // one pass over the split: cached frames would never be read again
    // the device before the loader, so its batch slots can be pinned for the uploads
    if (train_device_open(device >= 0 ? (gs_device)device : c->runtime.device, &use_cuda) != 0) {
        fprintf(stderr, "gesture eval: %s\n", gs_last_error());
        goto done;
    }
    cuda_open = use_cuda;
    if (use_cuda) train_cuda_loader_memory(&lc);
    if (use_cuda ? train_backend_cuda_init(&be, &im.model, 0) : (train_backend_cpu_init(&be, &im.model), 0)) {
        fprintf(stderr, "gesture eval: %s\n", gs_last_error());
        goto done;
    }
    printf("evaluating %s on %s\n", split, be.device);
    if (loader_init(&l, &lc) != 0 || evaluate_model(&r, &be, l, 0, 1) != 0) {
        fprintf(stderr, "gesture eval: %s\n", gs_last_error());
        goto done;
    }
    if (r.n < ds.n_clips)
        fprintf(stderr, "gesture eval: %d bad clips skipped (data.on_bad_clip = skip)\n", ds.n_clips - r.n);

    eval_dir = gs_malloc(strlen(out_dir) + strlen(split) + 8);
    sprintf(eval_dir, "%s/eval/%s", out_dir, split);
    if (evaluate_write(eval_dir, &r, &ds, (const char *const *)im.classes, ckpt, split, digits, &report) != 0) {
        fprintf(stderr, "gesture eval: %s\n", gs_last_error());
        goto done;
    }
    fputs(report, stdout);
    printf("\n%d clips in %.1f s (%.1f clips/s, %d threads); wrote %s/{report.txt,confusion.csv,predictions.csv,"
           "metrics.ini}\n",
           r.n, r.seconds, r.n / (r.seconds > 0 ? r.seconds : 1e-9), im.threads, eval_dir);
    if (plots) {
        plots_dir = fs_join(out_dir, "plots");
        char *samples = fs_join(plots_dir, "samples.png");
        const char *args[] = {"eval", eval_dir, samples, "--title", split};
        int bad = fs_mkdir_p(plots_dir) != 0 || plots_run(args, 5) != 0;
        if (bad) fprintf(stderr, "gesture eval: %s\n", gs_last_error());
        else printf("plots: %s/confusion.png, %s\n", eval_dir, samples);
        free(samples);
        if (bad) goto done;
    }
    rc = 0;
done:
    free(report);
    free(eval_dir);
    free(plots_dir);
    evaluate_result_free(&r);
    if (be.free) be.free(&be);
    if (l) loader_free(l);
    if (cuda_open) train_cuda_close();  // after the loader: its pinned slots are freed through CUDA
    dataset_free(&ds);
    cli_inference_model_free(&im);
    return rc;
}
