// Training objective pieces: softmax cross-entropy on logits (mean over the batch) and the
// Keras L2 kernel penalty.
#include <math.h>

#include "gesture/errors.h"
#include "gesture/ops.h"

float softmax_ce_forward(float *probs, float *losses, const float *logits, const int *labels,
                         int B, int K) {
    GS_ASSERT(B > 0 && K > 0);
    double total = 0.0;
    for (int b = 0; b < B; b++) {
        const float *row = logits + (size_t)b * K;
        float *p = probs + (size_t)b * K;
        const int y = labels[b];
        GS_ASSERT(y >= 0 && y < K);
        // Log-sum-exp around the row max: exp never overflows and the loss stays exact for
        // confident (large-margin) logits where log(softmax) would underflow to -inf.
        float mx = row[0];
        for (int k = 1; k < K; k++) mx = row[k] > mx ? row[k] : mx;
        double sum = 0.0;
        for (int k = 0; k < K; k++) {
            p[k] = expf(row[k] - mx);
            sum += p[k];
        }
        const float inv = (float)(1.0 / sum);
        for (int k = 0; k < K; k++) p[k] *= inv;
        double loss = (double)mx + log(sum) - (double)row[y];
        if (losses) losses[b] = (float)loss;
        total += loss;
    }
    return (float)(total / B);
}

void softmax_ce_backward(float *dlogits, const float *probs, const int *labels, int B, int K,
                         float scale) {
    if (!dlogits) return;
    const float s = scale / (float)B;
    for (int b = 0; b < B; b++) {
        const int y = labels[b];
        GS_ASSERT(y >= 0 && y < K);
        float *d = dlogits + (size_t)b * K;
        const float *p = probs + (size_t)b * K;
        for (int k = 0; k < K; k++) d[k] += s * (p[k] - (k == y ? 1.0f : 0.0f));
    }
}

float l2_forward(const float *w, size_t n, float l2) {
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += (double)w[i] * w[i];
    return (float)(l2 * sum);
}

void l2_backward(float *dw, const float *w, size_t n, float l2) {
    if (!dw) return;
    const float c = 2.0f * l2;
    for (size_t i = 0; i < n; i++) dw[i] += c * w[i];
}
