// Output size and padding of Keras/TF 'same' convolutions. TF splits an odd pad
// total with the extra pixel AFTER, so stride-2 layers on even sizes pad 0 before / 1 after.
#include "gesture/errors.h"
#include "gesture/ops.h"

void conv_same_geometry(int *out_size, int *pad_before, int in_size, int K, int stride) {
    GS_ASSERT(in_size > 0 && K > 0 && stride > 0);
    int out = (in_size + stride - 1) / stride;
    int total = (out - 1) * stride + K - in_size;
    if (total < 0) total = 0;
    *out_size = out;
    *pad_before = total / 2;
}
