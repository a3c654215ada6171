// Evaluation of a model over a data split: one inference pass through a loader collecting labels,
// probabilities and the loss as Keras' model.evaluate() reports it, and the files `gesture eval`
// writes from them (eval/<checkpoint>/<split>/{report.txt, confusion.csv, predictions.csv, metrics.ini}).
// Shared by `gesture eval` and anything else that scores a model on a split (e.g. a trainer).
#ifndef GESTURE_EVALUATE_H
#define GESTURE_EVALUATE_H

#include "gesture/dataset.h"
#include "gesture/loader.h"
#include "gesture/model.h"
#include "gesture/trainer.h"

typedef struct {
    int n;           // clips evaluated
    int K;           // classes
    int *clip_ids;   // (n) dataset clip index of each row, rows in loader order
    int *y_true;     // (n) labels
    int *y_pred;     // (n) argmax of probs (lowest index on ties, as numpy.argmax)
    float *probs;    // (n,K) softmax outputs
    // Keras evaluate(): per batch loss = mean CE over the batch + the L2 terms, averaged over batches
    // weighted by their clip counts (so a partial last batch counts for its size).
    double loss;
    double ce_loss;  // the cross-entropy part of loss (loss - ce_loss = the L2 terms)
    double accuracy;
    double seconds;  // wall time of the pass
} gs_eval_result;

// One pass over epoch `epoch` of l (build it with shuffle 0 and augment 0 for plain evaluation) with
// the backend's model m = be->m (CPU or GPU: be->eval_batch) in inference mode (moving BN statistics,
// no dropout). Every batch must fit m (b->n <= m->cfg.batch)
// and carry labels in [0, m->cfg.classes). progress != 0 prints "eval step i/N" on stderr when it
// is a terminal. Returns 0, or -1 + gs_error (a loader failure names the file); r is then empty.
int evaluate_model(gs_eval_result *r, gs_train_backend *be, gs_loader *l, int epoch, int progress);
void evaluate_result_free(gs_eval_result *r);
// Data-parallel validation (gesture/dist.h): the same pass over this rank's shard of every batch (l
// built with shard_rank/shard_count), as the sums the ranks add up: [0] loss and [1] cross-entropy
// summed over clips (Keras' clip-weighted batch means times the clips), [2] correct clips, [3] clips.
// A rank whose shards hold no clip gives zeros. 0, or -1 + gs_error.
int evaluate_model_sums(double sums[4], gs_train_backend *be, gs_loader *l, int epoch);

// Write the evaluation files into dir (created if missing):
//   report.txt       header (checkpoint, split, clips), loss and accuracy lines, then scikit-learn's
//                    classification_report text with `digits` decimals (sklearn's default is 2)
//   confusion.csv    "true\pred,<class>..." header, then one row per true class "<class>,count..."
//   predictions.csv  clip,clip_dir,true,pred,prob_<class>... one row per clip in dataset order
//   metrics.ini      key = value lines: checkpoint, split, n, loss, ce_loss, accuracy
// ds is the evaluated dataset (clip names and folders), classes its K names in label order.
// The report text (malloc'd) is returned in *report when report != NULL. 0 or -1 + gs_error.
int evaluate_write(const char *dir, const gs_eval_result *r, const gs_dataset *ds, const char *const *classes,
                   const char *checkpoint, const char *split, int digits, char **report);

#endif
