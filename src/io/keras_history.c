// Reading a Keras CSVLogger file (the seed notebook's training_log.csv) into our per-epoch history
// rows, so `gesture import-keras --history` can carry a Keras run's epochs into a gesture run.
// CSVLogger writes ["epoch"] + sorted(logs) with Python's csv module: "\r\n" line ends, floats as
// repr() ("nan", "inf"), keys quoted only when they hold a comma, quote or line break. Keras 3 logs
// the learning rate as `learning_rate`, tf.keras 2 as `lr` (both only with a callback that sets it,
// e.g. ReduceLROnPlateau); other metric columns are not ours and are reported, not read.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"
#include "gesture/keras.h"

#define MAX_COLS 64
#define MAX_LINE 8192

// Split one CSV line in place into at most MAX_COLS fields (Python csv, excel dialect: a quoted
// field may hold commas and "" for a quote; no line breaks inside fields here). Returns the count,
// or -1 when a quote is not closed.
static int split_fields(char **f, char *line) {
    int n = 0;
    char *r = line, *w = line;
    while (n < MAX_COLS) {
        f[n++] = w;
        if (*r == '"') {
            for (r++;; r++) {
                if (!*r) return -1;
                if (*r == '"' && r[1] == '"') *w++ = '"', r++;
                else if (*r == '"') break;
                else *w++ = *r;
            }
            r++;
        } else {
            while (*r && *r != ',') *w++ = *r++;
        }
        if (*r != ',') break;
        *w++ = 0;
        r++;
    }
    *w = 0;
    return n;
}

static void chomp(char *s) {
    size_t k = strlen(s);
    while (k > 0 && (s[k - 1] == '\n' || s[k - 1] == '\r')) s[--k] = 0;
}

// Python's float(): repr of a double, "nan", "inf", "-inf" (strtod reads them all).
static int parse_num(double *v, const char *s, const char *path, int line, const char *col) {
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    if (!*s || *end || (errno == ERANGE && isinf(*v)))
        return gs_error("%s:%d: column %s: '%s' is not a number", path, line, col, s);
    return 0;
}

// The column index of each field we read, -1 if absent.
typedef struct {
    int epoch, accuracy, loss, val_accuracy, val_loss, lr;
} columns;

static int find_columns(columns *c, gs_keras_history *h, char **f, int n, const char *path) {
    *c = (columns){-1, -1, -1, -1, -1, -1};
    for (int i = 0; i < n; i++) {
        int *slot = !strcmp(f[i], "epoch")          ? &c->epoch
                    : !strcmp(f[i], "accuracy")     ? &c->accuracy
                    : !strcmp(f[i], "loss")         ? &c->loss
                    : !strcmp(f[i], "val_accuracy") ? &c->val_accuracy
                    : !strcmp(f[i], "val_loss")     ? &c->val_loss
                    : !strcmp(f[i], "learning_rate") || !strcmp(f[i], "lr") ? &c->lr
                                                                            : NULL;
        if (slot && *slot >= 0) return gs_error("%s:1: column '%s' appears twice", path, f[i]);
        if (slot) *slot = i;
        else h->n_ignored++;
    }
    const char *need[5] = {"epoch", "accuracy", "loss", "val_accuracy", "val_loss"};
    int at[5] = {c->epoch, c->accuracy, c->loss, c->val_accuracy, c->val_loss};
    for (int k = 0; k < 5; k++)
        if (at[k] < 0)
            return gs_error("%s:1: no '%s' column: not a Keras CSVLogger log of model.fit with validation data "
                            "(the header needs epoch, accuracy, loss, val_accuracy, val_loss)",
                            path, need[k]);
    h->has_lr = c->lr >= 0;
    return 0;
}

static int read_row(gs_epoch_row *r, const columns *c, char **f, int n, int ncols, const char *path, int line) {
    if (n != ncols) return gs_error("%s:%d: %d fields, the header has %d", path, line, n, ncols);
    double e;
    if (parse_num(&e, f[c->epoch], path, line, "epoch")) return -1;
    if (e != floor(e) || e < 0 || e > 1e6) return gs_error("%s:%d: epoch '%s' is not a count", path, line, f[c->epoch]);
    r->epoch = (int)e;
    r->learning_rate = NAN;
    if (parse_num(&r->accuracy, f[c->accuracy], path, line, "accuracy") ||
        parse_num(&r->loss, f[c->loss], path, line, "loss") ||
        parse_num(&r->val_accuracy, f[c->val_accuracy], path, line, "val_accuracy") ||
        parse_num(&r->val_loss, f[c->val_loss], path, line, "val_loss") ||
        (c->lr >= 0 && parse_num(&r->learning_rate, f[c->lr], path, line, "learning_rate")))
        return -1;
    return 0;
}

int keras_history_read(gs_keras_history *h, const char *path) {
    memset(h, 0, sizeof *h);
    FILE *fp = fopen(path, "r");
    if (!fp) return gs_error("%s: cannot open: %s", path, strerror(errno));
    char buf[MAX_LINE], *f[MAX_COLS];
    columns c;
    int rc = -1, line = 0, ncols = 0, cap = 0;
    while (fgets(buf, sizeof buf, fp)) {
        line++;
        if (!strchr(buf, '\n') && !feof(fp)) {
            gs_error("%s:%d: line longer than %d bytes", path, line, MAX_LINE - 1);
            goto out;
        }
        chomp(buf);
        if (line > 1 && !buf[0]) continue;  // a blank line (an editor's trailing newline)
        int n = split_fields(f, buf);
        if (n < 0) {
            gs_error("%s:%d: a quoted field is not closed", path, line);
            goto out;
        }
        if (line == 1) {
            if (find_columns(&c, h, f, n, path)) goto out;
            ncols = n;
            continue;
        }
        if (h->n == cap) {
            cap = cap ? 2 * cap : 64;
            h->rows = realloc(h->rows, (size_t)cap * sizeof *h->rows);
            GS_ASSERT(h->rows);
        }
        gs_epoch_row *r = &h->rows[h->n];
        if (read_row(r, &c, f, n, ncols, path, line)) goto out;
        // a log appended to by a second model.fit repeats or skips epochs: which run is meant is unclear
        if (r->epoch != h->n) {
            gs_error("%s:%d: epoch %d where %d was expected (the rows must be epochs 0, 1, 2, ... of one run)", path,
                     line, r->epoch, h->n);
            goto out;
        }
        h->n++;
    }
    if (ferror(fp)) {
        gs_error("%s: read error", path);
        goto out;
    }
    if (line == 0) {
        gs_error("%s: empty file: not a Keras CSVLogger log", path);
        goto out;
    }
    if (h->n == 0) {
        gs_error("%s: a header but no epochs", path);
        goto out;
    }
    rc = 0;
out:
    fclose(fp);
    if (rc) keras_history_free(h);
    return rc;
}

void keras_history_free(gs_keras_history *h) {
    free(h->rows);
    memset(h, 0, sizeof *h);
}
