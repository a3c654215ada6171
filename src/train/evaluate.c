// Scoring a model on a split (gesture/evaluate.h): the inference pass over a loader and the
// eval/<checkpoint>/<split>/ files written from its result.
#include "gesture/evaluate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gesture/csv.h"
#include "gesture/errors.h"
#include "gesture/fsutil.h"
#include "gesture/metrics.h"
#include "gesture/runtime.h"

void evaluate_result_free(gs_eval_result *r) {
    free(r->clip_ids);
    free(r->y_true);
    free(r->y_pred);
    free(r->probs);
    memset(r, 0, sizeof *r);
}

// The pass; allow_empty: a sharded loader's rank may get no clip at all (r->n = 0 is then a result).
static int eval_pass(gs_eval_result *r, gs_train_backend *be, gs_loader *l, int epoch, int progress, int allow_empty) {
    memset(r, 0, sizeof *r);
    gs_model *m = be->m;
    const gs_dataset *ds = loader_dataset(l);
    int K = m->cfg.classes, N = ds->n_clips;
    if (ds->n_classes != K)
        return gs_error("%s/%s has %d classes but the model has %d outputs", ds->root, ds->split, ds->n_classes, K);
    if (N < 1) return gs_error("%s/%s: no clips to evaluate", ds->root, ds->split);
    double t0 = runtime_now();
    r->K = K;
    r->clip_ids = gs_malloc(sizeof(int) * (size_t)N);
    r->y_true = gs_malloc(sizeof(int) * (size_t)N);
    r->y_pred = gs_malloc(sizeof(int) * (size_t)N);
    r->probs = gs_malloc(sizeof(float) * (size_t)N * K);
    int tty = progress && isatty(2), steps = loader_steps_per_epoch(l);
    if (loader_start_epoch(l, epoch, 0) != 0) goto fail;
    double loss_sum = 0, ce_sum = 0;
    gs_batch *b;
    int rc;
    while ((rc = loader_next(l, &b)) == 1) {
        if (b->n == 0) {  // a shard without clips in this batch
            loader_release(l, b);
            continue;
        }
        if (b->n > m->cfg.batch || r->n + b->n > N) {
            loader_release(l, b);
            gs_error("evaluate: batch of %d clips does not fit the model (batch %d) or the split", b->n, m->cfg.batch);
            goto fail;
        }
        for (int i = 0; i < b->n; i++)
            if (b->labels[i] < 0 || b->labels[i] >= K) {
                gs_error("%s: label %d outside the model's %d classes", ds->clips[b->clip_ids[i]].dir, b->labels[i], K);
                loader_release(l, b);
                goto fail;
            }
        const float *p = be->ops->eval_batch(be, b);  // (n,K); m->loss and ce_loss of this batch
        for (int i = 0; i < b->n; i++) {
            int row = r->n + i, best = 0;
            for (int k = 1; k < K; k++)
                if (p[(size_t)i * K + k] > p[(size_t)i * K + best]) best = k;
            memcpy(r->probs + (size_t)row * K, p + (size_t)i * K, sizeof(float) * (size_t)K);
            r->clip_ids[row] = b->clip_ids[i];
            r->y_true[row] = b->labels[i];
            r->y_pred[row] = best;
        }
        loss_sum += (double)m->loss * b->n;
        ce_sum += (double)m->ce_loss * b->n;
        r->n += b->n;
        if (tty) fprintf(stderr, "\reval step %d/%d", b->step + 1, steps);
        loader_release(l, b);
    }
    if (tty) fputc('\n', stderr);
    if (rc < 0) goto fail;
    // on_bad_clip = skip drops clips: the scores then cover fewer clips (evaluate_write says how many)
    if (r->n == 0 && allow_empty) {
        r->seconds = runtime_now() - t0;
        return 0;
    }
    if (r->n == 0) {
        gs_error("%s/%s: every clip was skipped as bad", ds->root, ds->split);
        goto fail;
    }
    r->loss = loss_sum / r->n;
    r->ce_loss = ce_sum / r->n;
    r->accuracy = metrics_accuracy(r->y_true, r->y_pred, r->n);
    r->seconds = runtime_now() - t0;
    return 0;
fail:
    if (tty) fputc('\n', stderr);
    evaluate_result_free(r);
    return -1;
}

int evaluate_model(gs_eval_result *r, gs_train_backend *be, gs_loader *l, int epoch, int progress) {
    return eval_pass(r, be, l, epoch, progress, 0);
}

int evaluate_model_sums(double sums[4], gs_train_backend *be, gs_loader *l, int epoch) {
    gs_eval_result r;
    if (eval_pass(&r, be, l, epoch, 0, 1)) return -1;
    long correct = 0;
    for (int i = 0; i < r.n; i++) correct += r.y_true[i] == r.y_pred[i];
    sums[0] = r.n ? r.loss * r.n : 0;
    sums[1] = r.n ? r.ce_loss * r.n : 0;
    sums[2] = (double)correct;
    sums[3] = r.n;
    evaluate_result_free(&r);
    return 0;
}

// A string builder over open_memstream; finish() returns the text (malloc'd).
typedef struct {
    FILE *f;
    char *buf;
    size_t len;
} text_buf;

static FILE *text_open(text_buf *t) {
    t->buf = NULL;
    t->len = 0;
    t->f = open_memstream(&t->buf, &t->len);
    if (!t->f) gs_fatal("open_memstream failed");
    return t->f;
}

static char *text_finish(text_buf *t) {
    if (fclose(t->f) != 0) gs_fatal("open_memstream: write failed");
    return t->buf;
}

static int write_joined(const char *dir, const char *name, char *text) {
    char *path = fs_join(dir, name);
    int rc = fs_write_text(path, text);
    free(path);
    free(text);
    return rc;
}

int evaluate_write(const char *dir, const gs_eval_result *r, const gs_dataset *ds, const char *const *classes,
                   const char *checkpoint, const char *split, int digits, char **report) {
    if (report) *report = NULL;
    int K = r->K;
    if (fs_mkdir_p(dir) != 0) return -1;
    char *sk = NULL;
    if (metrics_report_text(&sk, r->y_true, r->y_pred, r->n, classes, K, digits) != 0) return -1;

    text_buf t;
    FILE *f = text_open(&t);
    fprintf(f, "checkpoint: %s\nsplit: %s (%d clips from %s)\n", checkpoint, split, r->n, ds->root);
    if (r->n != ds->n_clips) fprintf(f, "skipped: %d bad clips\n", ds->n_clips - r->n);
    fprintf(f, "loss: %.6f (cross-entropy %.6f + L2 %.6f)\naccuracy: %.6f\n\n", r->loss, r->ce_loss,
            r->loss - r->ce_loss, r->accuracy);
    fputs(sk, f);
    free(sk);
    char *rep = text_finish(&t);
    if (report) *report = strdup(rep);
    if (write_joined(dir, "report.txt", rep) != 0) goto fail;

    long *cm = gs_calloc((size_t)K * K, sizeof(long));
    if (metrics_confusion(cm, r->y_true, r->y_pred, r->n, K) != 0) {
        free(cm);
        goto fail;
    }
    f = text_open(&t);
    fputs("true\\pred", f);
    for (int k = 0; k < K; k++) fputc(',', f), csv_write_field(f, classes[k], ',');
    fputc('\n', f);
    for (int i = 0; i < K; i++) {
        csv_write_field(f, classes[i], ',');
        for (int k = 0; k < K; k++) fprintf(f, ",%ld", cm[(size_t)i * K + k]);
        fputc('\n', f);
    }
    free(cm);
    if (write_joined(dir, "confusion.csv", text_finish(&t)) != 0) goto fail;

    // rows in dataset order whatever order the loader delivered them in
    int *row_of = gs_malloc(sizeof(int) * (size_t)ds->n_clips);
    for (int i = 0; i < ds->n_clips; i++) row_of[i] = -1;
    for (int i = 0; i < r->n; i++) row_of[r->clip_ids[i]] = i;
    f = text_open(&t);
    fputs("clip,clip_dir,true,pred", f);
    for (int k = 0; k < K; k++) {
        char col[512];
        snprintf(col, sizeof col, "prob_%s", classes[k]);
        fputc(',', f);
        csv_write_field(f, col, ',');
    }
    fputc('\n', f);
    for (int c = 0; c < ds->n_clips; c++) {
        int i = row_of[c];
        if (i < 0) continue;
        csv_write_field(f, ds->clips[c].name, ',');
        fputc(',', f);
        csv_write_field(f, ds->clips[c].dir, ',');
        fputc(',', f);
        csv_write_field(f, classes[r->y_true[i]], ',');
        fputc(',', f);
        csv_write_field(f, classes[r->y_pred[i]], ',');
        for (int k = 0; k < K; k++) fprintf(f, ",%.6f", (double)r->probs[(size_t)i * K + k]);
        fputc('\n', f);
    }
    free(row_of);
    if (write_joined(dir, "predictions.csv", text_finish(&t)) != 0) goto fail;

    f = text_open(&t);
    fprintf(f,
            "; gesture eval results (key = value)\ncheckpoint = %s\nsplit = %s\nn = %d\nloss = %.9g\n"
            "ce_loss = %.9g\naccuracy = %.9g\nseconds = %.3f\n",
            checkpoint, split, r->n, r->loss, r->ce_loss, r->accuracy, r->seconds);
    if (write_joined(dir, "metrics.ini", text_finish(&t)) != 0) goto fail;
    return 0;
fail:
    if (report) {
        free(*report);
        *report = NULL;
    }
    return -1;
}
