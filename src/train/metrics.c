// Confusion matrix, accuracy, per-class scores and scikit-learn's classification_report text
// (see metrics.h). Every floating-point step follows sklearn 1.2/1.3 + NumPy in order, so the
// two-digit rounding of the printed values matches even on .xx5 boundaries.
#include "gesture/metrics.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"

static int check_labels(const int *y_true, const int *y_pred, int n, int K) {
    if (K < 1) return gs_error("metrics: need at least one class, got %d", K);
    for (int i = 0; i < n; i++) {
        if (y_true[i] < 0 || y_true[i] >= K)
            return gs_error("metrics: true label %d of sample %d is outside [0, %d)", y_true[i], i, K);
        if (y_pred[i] < 0 || y_pred[i] >= K)
            return gs_error("metrics: predicted label %d of sample %d is outside [0, %d)", y_pred[i], i,
                            K);
    }
    return 0;
}

int metrics_confusion(long *cm, const int *y_true, const int *y_pred, int n, int K) {
    if (check_labels(y_true, y_pred, n, K) != 0) return -1;
    memset(cm, 0, (size_t)K * (size_t)K * sizeof *cm);
    for (int i = 0; i < n; i++) cm[(size_t)y_true[i] * (size_t)K + (size_t)y_pred[i]]++;
    return 0;
}

double metrics_accuracy(const int *y_true, const int *y_pred, int n) {
    GS_ASSERT(n > 0);
    long hit = 0;
    for (int i = 0; i < n; i++) hit += y_true[i] == y_pred[i];
    return (double)hit / (double)n;
}

// NumPy's float64 add.reduce of a contiguous array (pairwise_sum in loops_utils.h.src): blocks of
// at most 128 summed with 8 interleaved accumulators, larger arrays split in two; the reduction
// starts from the identity 0.
static double np_pairwise(const double *a, long n) {
    if (n < 8) {
        double res = 0.;
        for (long i = 0; i < n; i++) res += a[i];
        return res;
    }
    if (n <= 128) {
        double r[8];
        for (int j = 0; j < 8; j++) r[j] = a[j];
        long i;
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++) r[j] += a[i + j];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) res += a[i];
        return res;
    }
    long n2 = n / 2;
    n2 -= n2 % 8;
    return np_pairwise(a, n2) + np_pairwise(a + n2, n - n2);
}

static double np_sum(const double *a, long n) { return 0.0 + np_pairwise(a, n); }

// sklearn's _prf_divide with zero_division "warn"/0: 0/0 -> 0.
static double prf_divide(long num, long den) { return den == 0 ? 0.0 : (double)num / (double)den; }

// sklearn's F-beta for beta=1: (1+b2)*p*r / (b2*p + r), denominator 0 -> 1, evaluated left to right.
static double f1_of(double p, double r) {
    double denom = 1.0 * p + r;
    if (denom == 0.0) denom = 1.0;
    return 2.0 * p * r / denom;
}

int metrics_scores(gs_scores *s, const int *y_true, const int *y_pred, int n, int K) {
    memset(s, 0, sizeof *s);
    if (n < 1) return gs_error("metrics: no samples");
    if (check_labels(y_true, y_pred, n, K) != 0) return -1;
    long *tp = gs_calloc((size_t)K * 3, sizeof(long));
    long *pred = tp + K, *truth = tp + 2 * K;
    for (int i = 0; i < n; i++) {
        pred[y_pred[i]]++;
        truth[y_true[i]]++;
        if (y_true[i] == y_pred[i]) tp[y_true[i]]++;
    }
    s->K = K;
    s->n = n;
    s->per_class = gs_malloc((size_t)K * sizeof *s->per_class);
    double *col = gs_malloc((size_t)K * 5 * sizeof(double));
    double *P = col, *R = col + K, *F = col + 2 * K, *W = col + 3 * K, *tmp = col + 4 * K;
    long hits = 0;
    for (int k = 0; k < K; k++) {
        P[k] = prf_divide(tp[k], pred[k]);
        R[k] = prf_divide(tp[k], truth[k]);
        F[k] = f1_of(P[k], R[k]);
        W[k] = (double)truth[k];
        s->per_class[k] = (gs_class_scores){P[k], R[k], F[k], truth[k]};
        hits += tp[k];
    }
    s->accuracy = (double)hits / (double)n;
    // average="micro": the summed counts; over all K labels pred and true sums are both n.
    double mp = prf_divide(hits, n), mr = prf_divide(hits, n);
    s->micro_f1 = f1_of(mp, mr);
    // average="macro": np.average(x) = x.mean() = sum / K.
    s->macro = (gs_class_scores){np_sum(P, K) / K, np_sum(R, K) / K, np_sum(F, K) / K, n};
    // average="weighted": np.average(x, weights=support) = sum(x * w) / sum(w).
    double wsum = np_sum(W, K);
    double *cols[3] = {P, R, F}, avg[3];
    for (int c = 0; c < 3; c++) {
        for (int k = 0; k < K; k++) tmp[k] = cols[c][k] * W[k];
        avg[c] = np_sum(tmp, K) / wsum;
    }
    s->weighted = (gs_class_scores){avg[0], avg[1], avg[2], n};
    free(col);
    free(tp);
    return 0;
}

void metrics_scores_free(gs_scores *s) {
    free(s->per_class);
    s->per_class = NULL;
}

// Growing output string.
typedef struct {
    char *buf;
    size_t len, cap;
} strbuf;

__attribute__((format(printf, 2, 3))) static void sb_printf(strbuf *sb, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap);
        va_end(ap);
        GS_ASSERT(k >= 0);
        if ((size_t)k < sb->cap - sb->len) {
            sb->len += (size_t)k;
            return;
        }
        sb->cap = (sb->cap + (size_t)k) * 2;
        char *nb = realloc(sb->buf, sb->cap);
        if (!nb) gs_fatal("out of memory");
        sb->buf = nb;
    }
}

// Characters as Python's len(str) counts them: UTF-8 code points (continuation bytes skipped).
static int utf8_len(const char *s) {
    int n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

// Python's "{:>{width}s}": pad on the left to width code points.
static void sb_right(strbuf *sb, const char *s, int width) {
    int pad = width - utf8_len(s);
    sb_printf(sb, "%*s%s", pad > 0 ? pad : 0, "", s);
}

// A support count as sklearn prints it: an int, except when no sample is predicted correctly:
// then multilabel_confusion_matrix starts from float zeros ("Pathological case") and every support
// is a float, printed by str() as "2.0".
static const char *support_str(char *buf, long v, bool as_float) {
    snprintf(buf, 32, as_float ? "%ld.0" : "%ld", v);
    return buf;
}

// row_fmt = "{:>{width}s} " + " {:>9.{digits}f}" * 3 + " {:>9}\n"
static void sb_row(strbuf *sb, const char *name, int width, int digits, const gs_class_scores *c,
                   bool float_support) {
    char sup[32];
    sb_right(sb, name, width);
    sb_printf(sb, "  %9.*f %9.*f %9.*f %9s\n", digits, c->precision, digits, c->recall, digits, c->f1,
              support_str(sup, c->support, float_support));
}

int metrics_report_text(char **out, const int *y_true, const int *y_pred, int n,
                        const char *const *names, int K, int digits) {
    *out = NULL;
    if (digits < 0) return gs_error("metrics: digits must be >= 0, got %d", digits);
    gs_scores s;
    if (metrics_scores(&s, y_true, y_pred, n, K) != 0) return -1;
    static const char *last_heading = "weighted avg";
    int width = utf8_len(last_heading);
    for (int k = 0; k < K; k++) {
        int l = utf8_len(names[k]);
        if (l > width) width = l;
    }
    if (digits > width) width = digits;

    strbuf sb = {gs_malloc(256), 0, 256};
    sb_right(&sb, "", width);
    sb_printf(&sb, "  %9s %9s %9s %9s\n\n", "precision", "recall", "f1-score", "support");
    const bool fsup = s.accuracy == 0.0;
    for (int k = 0; k < K; k++) sb_row(&sb, names[k], width, digits, &s.per_class[k], fsup);
    sb_printf(&sb, "\n");
    // The accuracy row: two empty columns, then micro-F1 and the total support.
    char sup[32];
    sb_right(&sb, "accuracy", width);
    sb_printf(&sb, "  %9s %9s %9.*f %9s\n", "", "", digits, s.micro_f1, support_str(sup, s.n, fsup));
    sb_row(&sb, "macro avg", width, digits, &s.macro, fsup);
    sb_row(&sb, last_heading, width, digits, &s.weighted, fsup);
    metrics_scores_free(&s);
    *out = sb.buf;
    return 0;
}
