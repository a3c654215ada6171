// Output and batching of `gesture predict` (predict.h): rows as a table or JSON, and the model's
// batch filled with clips or video windows, run whenever it is full.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"
#include "cli.h"
#include "predict.h"

// Width of a class's probability column.
static int class_width(const char *name) { return strlen(name) > 6 ? (int)strlen(name) : 6; }

void predict_print_header(const predict_printer *p) {
    if (p->json) return;
    printf("%-*s  ", p->name_width, "clip");
    if (p->windows) printf("%8s %8s  ", "start", "end");
    printf("%-12s %7s", "label", "p");
    for (int k = 0; k < p->K; k++) printf("  %*s", class_width(p->classes[k]), p->classes[k]);
    putchar('\n');
}

void predict_print(predict_printer *p, const char *name, double t0, double t1, const float *probs) {
    int best = 0;
    for (int k = 1; k < p->K; k++)
        if (probs[k] > probs[best]) best = k;
    if (p->json) {
        fputs(p->n_printed ? ",\n  {" : "[\n  {", stdout);
        fputs("\"clip\": ", stdout);
        cli_json_string(stdout, name);
        if (p->windows) printf(", \"start\": %.9g, \"end\": %.9g", t0, t1);
        fputs(", \"label\": ", stdout);
        cli_json_string(stdout, p->classes[best]);
        fputs(", \"probabilities\": {", stdout);
        for (int k = 0; k < p->K; k++) {
            if (k) fputs(", ", stdout);
            cli_json_string(stdout, p->classes[k]);
            printf(": %.9g", (double)probs[k]);
        }
        fputs("}}", stdout);
    } else {
        printf("%-*s  ", p->name_width, name);
        if (p->windows) printf("%8.3f %8.3f  ", t0, t1);
        printf("%-12s %7.4f", p->classes[best], (double)probs[best]);
        for (int k = 0; k < p->K; k++) printf("  %*.4f", class_width(p->classes[k]), (double)probs[k]);
        putchar('\n');
    }
    p->n_printed++;
}

void predict_print_end(const predict_printer *p) {
    if (p->json) fputs(p->n_printed ? "\n]\n" : "[]\n", stdout);
}

void predict_batch_init(predict_batch *b, cli_inference_model *im, predict_printer *pr, const gs_loader_config *lc) {
    memset(b, 0, sizeof *b);
    b->im = im;
    b->pr = pr;
    int B = im->model.cfg.batch;
    b->names = gs_calloc((size_t)B, sizeof(char *));
    b->t0 = gs_calloc((size_t)B, sizeof(double));
    b->t1 = gs_calloc((size_t)B, sizeof(double));
    b->clip_floats = (size_t)lc->frames * lc->size * lc->size * 3;
    b->frames = lc->frames;
    b->size = lc->size;
    b->clips = gs_aligned_alloc((size_t)B * b->clip_floats * sizeof(float));
    b->labels = gs_calloc((size_t)B, sizeof(int));
}

// NPY format 1.0: magic, version, header length, then a Python dict literal padded with spaces to a
// 64-byte boundary. The header is written twice (the clip count is known at the end): fixed 128 bytes.
#define NPY_HEADER 128
static int npy_header(FILE *f, long n, int T, int S) {
    char h[NPY_HEADER + 1];
    static const unsigned char magic[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, NPY_HEADER - 10, 0};
    memcpy(h, magic, sizeof magic);
    int len = snprintf(h + 10, sizeof h - 10,
                       "{'descr': '<f4', 'fortran_order': False, 'shape': (%ld, %d, %d, %d, 3), }", n, T, S, S);
    if (len < 0 || 10 + len >= NPY_HEADER) return -1;
    memset(h + 10 + len, ' ', (size_t)(NPY_HEADER - 11 - len));
    h[NPY_HEADER - 1] = '\n';
    int ok = fseek(f, 0, SEEK_SET) == 0 && fwrite(h, 1, NPY_HEADER, f) == NPY_HEADER;
    return ok && fseek(f, 0, SEEK_END) == 0 ? 0 : -1;
}

int predict_batch_save_open(predict_batch *b, const char *path) {
    b->save_path = gs_strdup(path);
    b->save_tmp = gs_malloc(strlen(path) + 5);
    sprintf(b->save_tmp, "%s.tmp", path);
    b->save = fopen(b->save_tmp, "wb");
    if (!b->save) return gs_error("%s: cannot create: %s", b->save_tmp, strerror(errno));
    if (npy_header(b->save, 0, b->frames, b->size)) return gs_error("%s: write error", b->save_tmp);
    return 0;
}

int predict_batch_save_close(predict_batch *b) {
    if (!b->save) return 0;
    int ok = !b->save_failed && npy_header(b->save, b->n_saved, b->frames, b->size) == 0;
    ok &= fclose(b->save) == 0;
    b->save = NULL;
    int rc = 0;
    if (!ok) rc = gs_error("%s: write error", b->save_tmp);
    else if (rename(b->save_tmp, b->save_path) != 0)
        rc = gs_error("%s: cannot rename from %s: %s", b->save_path, b->save_tmp, strerror(errno));
    if (rc) remove(b->save_tmp);
    return rc;
}

float *predict_batch_slot(predict_batch *b) { return b->clips + b->clip_floats * (size_t)b->nb; }

void predict_batch_commit(predict_batch *b, const char *name, double t0, double t1) {
    b->names[b->nb] = strdup(name);
    GS_ASSERT(b->names[b->nb]);
    b->t0[b->nb] = t0;
    b->t1[b->nb] = t1;
    if (++b->nb == b->im->model.cfg.batch) predict_batch_flush(b);
}

void predict_batch_flush(predict_batch *b) {
    if (b->nb == 0) return;
    int K = b->im->n_classes;
    if (b->save) {
        size_t n = b->clip_floats * (size_t)b->nb;
        if (fwrite(b->clips, sizeof(float), n, b->save) != n) b->save_failed = 1;
        b->n_saved += b->nb;
    }
    // the backend's eval pass; its loss (against the all-zero labels) is not looked at
    gs_batch batch = {.x = b->clips, .labels = b->labels, .n = b->nb};
    const float *probs = b->im->be.ops->eval_batch(&b->im->be, &batch);  // (nb,K)
    for (int i = 0; i < b->nb; i++) {
        predict_print(b->pr, b->names[i], b->t0[i], b->t1[i], probs + (size_t)i * K);
        free(b->names[i]);
        b->names[i] = NULL;
    }
    b->nb = 0;
    fflush(stdout);
}

void predict_batch_free(predict_batch *b) {
    for (int i = 0; i < b->nb; i++) free(b->names[i]);
    free(b->names);
    free(b->t0);
    free(b->t1);
    free(b->labels);
    free(b->clips);
    if (b->save) {
        fclose(b->save);
        remove(b->save_tmp);
    }
    free(b->save_path);
    free(b->save_tmp);
}
