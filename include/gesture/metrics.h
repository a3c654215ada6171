// Evaluation metrics over integer label vectors: confusion matrix, accuracy, per-class
// precision/recall/F1/support and scikit-learn's classification_report text, byte for byte.
//
// The report equals
//   sklearn.metrics.classification_report(y_true, y_pred, labels=range(K), target_names=names,
//                                         digits=digits)        # zero_division="warn"
// i.e. every one of the K classes gets a row (also one absent from y_true and y_pred), an
// undefined precision/recall/F1 (0/0) prints as 0.00 as sklearn's "warn" does (without the
// warning), and the averages are computed in the same float64 order as NumPy (pairwise sums), so
// values that land on a rounding boundary print identically.
// The arithmetic is scikit-learn 1.2's (the version the test fixtures come from): F1 =
// 2*p*r/(p+r) from the rounded p and r, also for the accuracy row (micro F1). sklearn 1.3+
// computes F1 from counts, 2tp/(2tp+fp+fn), which can differ in the last bit and so print
// differently when a value sits exactly on a rounding tie (0.625 at 2 digits).
// One deliberate difference from 1.2: when some class appears in neither y_true nor y_pred,
// sklearn <= 1.2 prints a "micro avg" row in place of "accuracy" (it required the labels to equal
// the present ones); 1.3+ prints "accuracy" whenever the labels cover the present ones, which
// they always do here. We print "accuracy", as 1.3+.
#ifndef GESTURE_METRICS_H
#define GESTURE_METRICS_H

typedef struct {
    double precision, recall, f1;
    long support;  // number of true samples (for averages: all samples)
} gs_class_scores;

typedef struct {
    int K;                      // number of classes
    long n;                     // number of samples
    double accuracy;            // correct / n
    double micro_f1;            // the "accuracy" row's value as sklearn 1.2 computes it (2pr/(p+r))
    gs_class_scores *per_class; // (K), malloc'd; free with metrics_scores_free
    gs_class_scores macro;      // unweighted mean over the K classes
    gs_class_scores weighted;   // mean weighted by support
} gs_scores;

// Confusion matrix: cm[t*K + p] = number of samples with true label t predicted as p (rows true,
// columns predicted, as sklearn.metrics.confusion_matrix). Returns 0, or -1 + gs_error if a label
// is outside [0, K).
int metrics_confusion(long *cm, const int *y_true, const int *y_pred, int n, int K);  // cm (K,K)

// Fraction of samples with y_pred == y_true; n must be > 0.
double metrics_accuracy(const int *y_true, const int *y_pred, int n);

// All scores of the report. Returns 0, or -1 + gs_error if n < 1, K < 1 or a label is outside
// [0, K). Free with metrics_scores_free.
int metrics_scores(gs_scores *s, const int *y_true, const int *y_pred, int n, int K);
void metrics_scores_free(gs_scores *s);

// sklearn's classification_report text (see the top of this file) into *out (malloc'd,
// NUL-terminated, ends in "\n"). names: K class names (UTF-8; column widths count code points as
// Python does). digits >= 0 (sklearn's default is 2). Returns 0, or -1 + gs_error.
int metrics_report_text(char **out, const int *y_true, const int *y_pred, int n,
                        const char *const *names, int K, int digits);

#endif
