// The op table: one row per graph op (gs_node_op), indexed by the enum, holding what the
// backend-independent code needs to know of an op — its name, the memory its backward needs, its
// place in a Keras weight file, how `gesture summary` prints it. The kernels that run an op live in
// each backend's kernel table (gesture/exec.h). Every table has NODE_COUNT rows, checked by
// _Static_assert where it is defined, so an op added to the enum without its rows (or a row
// removed) does not build. docs/adding-an-op.md lists every place an op touches.
#ifndef GESTURE_OPTABLE_H
#define GESTURE_OPTABLE_H

#include <stddef.h>

#include "gesture/model.h"

// How a node's output is shown per clip (images are (B*T,H,W,C) inside, like TimeDistributed).
typedef enum {
    GS_SHOW_IMAGES,    // (B, T, H, W, C)
    GS_SHOW_SEQUENCE,  // (B, T, C): one row per frame
    GS_SHOW_VECTOR,    // (B, C): one row per clip
} gs_show_shape;

typedef struct {
    gs_node_op op;      // the row's own index (optable_check)
    const char *name;   // layer type as `gesture summary` and profiles print it ("Conv2D")
    // Floats this op saves in the forward for its backward, beyond its output; NULL: none.
    size_t (*save_numel)(const gs_model *m, const gs_node *n);
    // Class name Keras' saver numbers this layer by inside the MobileNetV2 backbone ("conv2d",
    // "depthwise_conv2d", ...); NULL: the op is no backbone layer of its own (a backbone node with
    // such an op is an error when a Keras layout is built).
    const char *keras_class;
    gs_show_shape show;
} gs_op_info;

extern const gs_op_info gs_op_table[];  // NODE_COUNT rows (asserted where it is defined)

static inline const gs_op_info *op_info(gs_node_op op) { return &gs_op_table[op]; }

// 0 when every row sits at its op's index (a misordered initializer is a runtime error, named).
int optable_check(void);

#endif
