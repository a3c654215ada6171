// Evaluation reports and the training log against their Python originals: classification_report
// text byte-identical to scikit-learn's (fixtures from scripts/make_metrics_fixtures.py), confusion
// matrix and accuracy on hand-checked data, Python float repr on ~5000 doubles, and the
// Keras-format CSV log (columns, \r\n, resume truncation, errors).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gesture/csv.h"
#include "gesture/csvlog.h"
#include "gesture/errors.h"
#include "gesture/fsutil.h"
#include "gesture/metrics.h"
#include "testutil.h"

// Cursor over the fixture text.
typedef struct {
    char *p;
    const char *file;
} cursor;

// Next line, which must start with `key ` (NUL-terminates it; returns the rest).
static char *field(cursor *c, const char *key) {
    char *nl = strchr(c->p, '\n');
    if (!nl) gs_fatal("%s: truncated before '%s'", c->file, key);
    *nl = '\0';
    size_t kl = strlen(key);
    if (strncmp(c->p, key, kl) != 0 || (c->p[kl] != ' ' && c->p[kl] != '\0'))
        gs_fatal("%s: expected '%s', got '%s'", c->file, key, c->p);
    char *val = c->p + kl + (c->p[kl] == ' ');
    c->p = nl + 1;
    return val;
}

static int *int_list(char *s, int n, const char *file) {
    int *v = gs_malloc((size_t)n * sizeof(int));
    for (int i = 0; i < n; i++) {
        char *end;
        v[i] = (int)strtol(s, &end, 10);
        if (end == s) gs_fatal("%s: short label list", file);
        s = end;
    }
    return v;
}

// sklearn <= 1.2 prints "micro avg  p  r  f1  n" where 1.3+ (and we) print
// "accuracy            f1  n". Rewrite that one line of the expected text; the values must be
// the accuracy (p == r == f1) for the rewrite to be the same report.
static void micro_to_accuracy(char *rep, int K, const char *const *names, int digits) {
    char *line = strstr(rep, "micro avg ");
    if (!line) return;
    int width = 12;
    for (int k = 0; k < K; k++) {
        int l = 0;
        for (const char *s = names[k]; *s; s++) l += ((unsigned char)*s & 0xC0) != 0x80;
        if (l > width) width = l;
    }
    if (digits > width) width = digits;
    line -= width - 9;
    GS_ASSERT(digits <= 6);  // values fit their 9-wide columns
    char p[10], r[10], f[10];
    memcpy(p, line + width + 2, 9);
    memcpy(r, line + width + 12, 9);
    memcpy(f, line + width + 22, 9);
    p[9] = r[9] = f[9] = '\0';
    check(strcmp(p, f) == 0 && strcmp(r, f) == 0, "sklearn micro avg row is the accuracy (%s %s %s)", p,
          r, f);
    char head[64];
    snprintf(head, sizeof head, "%*s", width, "accuracy");
    memcpy(line, head, (size_t)width);
    memset(line + width + 2, ' ', 9);
    memset(line + width + 12, ' ', 9);
}

static void test_reports(void) {
    const char *file = fx_path("metrics_fixtures.txt");
    char *text = test_read_text(file, NULL);
    cursor c = {text, file};
    int ncases = 0, nfail = 0;
    field(&c, "#");
    while (*c.p) {
        char *name = field(&c, "case");
        int digits = atoi(field(&c, "digits"));
        int K = atoi(field(&c, "classes"));
        const char **names = gs_malloc((size_t)K * sizeof *names);
        for (int k = 0; k < K; k++) names[k] = field(&c, "name");
        int n = atoi(field(&c, "n"));
        int *yt = int_list(field(&c, "y_true"), n, file);
        int *yp = int_list(field(&c, "y_pred"), n, file);
        size_t len = (size_t)atol(field(&c, "report"));
        char *want = gs_malloc(len + 1);
        memcpy(want, c.p, len);
        want[len] = '\0';
        c.p += len + 1;
        field(&c, "end");
        micro_to_accuracy(want, K, names, digits);

        char *got = NULL;
        int rc = metrics_report_text(&got, yt, yp, n, names, K, digits);
        int ok = rc == 0 && strcmp(got, want) == 0;
        if (!ok) {
            nfail++;
            printf("--- case %s: want (sklearn)\n%s--- got\n%s", name, want, rc == 0 ? got : gs_last_error());
        }
        ncases++;
        free(got);
        free(want);
        free(yt);
        free(yp);
        free(names);
    }
    check(ncases >= 40 && nfail == 0, "classification_report text identical to sklearn: %d cases, %d differ",
          ncases, nfail);
    free(text);
}

static void test_confusion_accuracy(void) {
    const int yt[] = {0, 1, 2, 2, 2}, yp[] = {0, 0, 2, 2, 1};
    long cm[9];
    const long want[9] = {1, 0, 0, 1, 0, 0, 0, 1, 2};
    check(metrics_confusion(cm, yt, yp, 5, 3) == 0 && memcmp(cm, want, sizeof want) == 0,
          "confusion matrix rows=true cols=pred [[1,0,0],[1,0,0],[0,1,2]]");
    check(metrics_accuracy(yt, yp, 5) == 3.0 / 5.0, "accuracy 3/5");
    gs_scores s;
    check(metrics_scores(&s, yt, yp, 5, 3) == 0 && s.per_class[0].precision == 0.5 &&
              s.per_class[2].recall == 2.0 / 3.0 && s.per_class[1].f1 == 0.0 && s.per_class[2].support == 3 &&
              s.accuracy == 0.6 && s.macro.precision == 0.5 && s.weighted.support == 5,
          "per-class scores of sklearn's docstring example");
    metrics_scores_free(&s);

    const int bad[] = {0, 3};
    check(metrics_confusion(cm, bad, bad, 2, 3) == -1 && strstr(gs_last_error(), "label 3") != NULL,
          "label outside [0,K) is an error naming it: %s", gs_last_error());
    char *out = (char *)1;
    check(metrics_report_text(&out, yt, yp, 0, NULL, 3, 2) == -1 && out == NULL, "no samples is an error");
    const char *names[] = {"a", "b", "c"};
    check(metrics_report_text(&out, yt, yp, 5, names, 3, -1) == -1, "negative digits is an error");
}

static void test_float_repr(void) {
    const char *file = fx_path("float_repr_fixtures.txt");
    char *text = test_read_text(file, NULL);
    int n = 0, bad = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *sp = strchr(line, ' ');
        GS_ASSERT(sp);
        *sp = '\0';
        unsigned long long bits = strtoull(line, NULL, 16);
        double x;
        memcpy(&x, &bits, sizeof x);
        char buf[GS_FLOAT_REPR_MAX];
        int len = csvlog_float_repr(buf, x);
        if (strcmp(buf, sp + 1) != 0 || len != (int)strlen(sp + 1)) {
            if (bad++ < 10) printf("repr(%s): want %s got %s\n", line, sp + 1, buf);
        }
        n++;
    }
    check(n > 4000 && bad == 0, "Python float repr: %d values, %d differ", n, bad);
    free(text);
    char buf[GS_FLOAT_REPR_MAX];
    csvlog_float_repr(buf, (double)1e-3f);
    check(strcmp(buf, "0.0010000000474974513") == 0, "repr(float32 1e-3) = %s", buf);
}

// ---- CSV fields and log ----

// csv_write_field's output for s with separator sep (malloc'd).
static char *field_text(const char *s, char sep) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    GS_ASSERT(f);
    csv_write_field(f, s, sep);
    GS_ASSERT(fclose(f) == 0);
    return text;
}

static void test_csv_field(void) {
    // want: how Python's csv.writer(delimiter=sep) writes s as one field of a row of several
    const struct {
        const char *s, *want;
        char sep;
    } cases[] = {
        {"plain", "plain", ','},   {"a,b", "\"a,b\"", ','},     {"a;b", "a;b", ','},
        {"a;b", "\"a;b\"", ';'},   {"a,b", "a,b", ';'},         {"say \"hi\"", "\"say \"\"hi\"\"\"", ','},
        {"cr\rx", "\"cr\rx\"", ','}, {"lf\nx", "\"lf\nx\"", ','}, {"", "", ','},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = field_text(cases[i].s, cases[i].sep);
        check(strcmp(got, cases[i].want) == 0, "csv field [%s] sep '%c' -> [%s]", cases[i].s, cases[i].sep, got);
        free(got);
    }
}

static const char *tmpdir;

static const char *tpath(const char *name) { return test_path(tmpdir, name); }

static int file_is(const char *path, const char *want) {
    size_t n;
    char *got = test_read_text(path, &n);
    int ok = n == strlen(want) && memcmp(got, want, n) == 0;
    if (!ok) printf("%s:\n  want [%s]\n  got  [%s]\n", path, want, got);
    free(got);
    return ok;
}

static void test_csvlog(void) {
    // Keys in any order; columns come out sorted as Keras' CSVLogger sorts logs.keys().
    const char *keys[] = {"val_loss", "loss", "accuracy", "learning_rate", "val_accuracy"};
    const char *header = "epoch,accuracy,learning_rate,loss,val_accuracy,val_loss\r\n";
    gs_csvlog log;
    const char *p = tpath("training_log.csv");
    check(csvlog_open(&log, p, keys, 5, 0) == 0, "csvlog_open new");
    double r0[] = {(double)0.1f, 0.5, 1.0, (double)1e-3f, 0.25};
    double r1[] = {1e-5, 2.0, 0.0, (double)5e-4f, NAN};
    double r2[] = {INFINITY, 1e16, 0.125, 1e-7, 1.5};
    check(csvlog_append(&log, 0, r0) == 0 && csvlog_append(&log, 1, r1) == 0 && csvlog_append(&log, 2, r2) == 0,
          "csvlog_append x3");
    csvlog_close(&log);
    char want[1024];
    snprintf(want, sizeof want, "%s%s%s%s", header,
             "0,1.0,0.0010000000474974513,0.5,0.25,0.10000000149011612\r\n",
             "1,0.0,0.0005000000237487257,2.0,nan,1e-05\r\n", "2,0.125,1e-07,1e+16,1.5,inf\r\n");
    check(file_is(p, want), "CSV bytes as Keras CSVLogger writes them (sorted columns, repr, \\r\\n)");

    // Resume at epoch 2: the row of epoch 2 (not covered by the checkpoint) goes, a new one follows.
    check(csvlog_open(&log, p, keys, 5, 2) == 0, "csvlog_open resume at 2");
    double r2b[] = {0.75, 0.5, 0.5, (double)5e-4f, 0.5};
    check(csvlog_append(&log, 2, r2b) == 0, "append after resume");
    csvlog_close(&log);
    snprintf(want, sizeof want, "%s%s%s%s", header,
             "0,1.0,0.0010000000474974513,0.5,0.25,0.10000000149011612\r\n",
             "1,0.0,0.0005000000237487257,2.0,nan,1e-05\r\n", "2,0.5,0.0005000000237487257,0.5,0.5,0.75\r\n");
    check(file_is(p, want), "resume drops rows >= resume epoch and appends");
    check(access(tpath("training_log.csv.tmp"), F_OK) != 0, "no temporary file left behind");

    // A torn last line (crash mid-write) is dropped on resume.
    char torn[1024];
    snprintf(torn, sizeof torn, "%s0,1.0,0.5,0.5,0.25,0.1\r\n1,0.5,0.", header);
    GS_ASSERT(fs_write_text(p, torn) == 0);
    check(csvlog_open(&log, p, keys, 5, 5) == 0, "resume over a torn line");
    csvlog_close(&log);
    snprintf(want, sizeof want, "%s0,1.0,0.5,0.5,0.25,0.1\r\n", header);
    check(file_is(p, want), "torn last line dropped");

    // Another run's log is not silently appended to.
    GS_ASSERT(fs_write_text(p, "epoch,accuracy,loss\r\n0,0.5,1.0\r\n") == 0);
    check(csvlog_open(&log, p, keys, 5, 1) == -1 && strstr(gs_last_error(), "header") != NULL,
          "header mismatch on resume is an error: %s", gs_last_error());
    snprintf(torn, sizeof torn, "%s0,1\r\nx,2\r\n", header);
    GS_ASSERT(fs_write_text(p, torn) == 0);
    check(csvlog_open(&log, p, keys, 5, 3) == -1 && strstr(gs_last_error(), ":3:") != NULL,
          "garbled row on resume is an error naming its line: %s", gs_last_error());

    // Resuming without a log (or with an empty one) starts it.
    const char *q = tpath("fresh.csv");
    check(csvlog_open(&log, q, keys, 5, 4) == 0, "resume with no file");
    csvlog_close(&log);
    check(file_is(q, header), "missing log on resume gets a header");
    GS_ASSERT(fs_write_text(q, "") == 0);
    check(csvlog_open(&log, q, keys, 5, 4) == 0, "resume with empty file");
    csvlog_close(&log);
    check(file_is(q, header), "empty log on resume gets a header");

    // Python: csv.writer(f).writerow(["epoch", "a,b", 'say "hi"']) == 'epoch,"a,b","say ""hi"""\r\n'
    const char *odd[] = {"say \"hi\"", "a,b"};
    const char *odd_header = "epoch,\"a,b\",\"say \"\"hi\"\"\"\r\n";
    check(csvlog_open(&log, q, odd, 2, 0) == 0, "keys with a comma and quotes: %s", gs_last_error());
    csvlog_close(&log);
    check(file_is(q, odd_header), "keys quoted as Keras' CSVLogger quotes them");
    check(csvlog_open(&log, q, odd, 2, 1) == 0, "resume matches the quoted header: %s", gs_last_error());
    csvlog_close(&log);
    const char *dup[] = {"loss", "loss"};
    check(csvlog_open(&log, q, dup, 2, 0) == -1, "duplicate key rejected: %s", gs_last_error());
    check(csvlog_open(&log, tpath("no/such/dir.csv"), keys, 5, 0) == -1, "unwritable path is an error: %s",
          gs_last_error());
    csvlog_close(&log);
}

int main(void) {
    tmpdir = test_make_tmpdir("test_metrics");
    test_confusion_accuracy();
    test_reports();
    test_float_repr();
    test_csv_field();
    test_csvlog();
    return test_finish();
}
