// ONNX export of the inference model (`gesture export-onnx`): the graph of a gs_model with its
// weights as one ONNX ModelProto (opset 17, IR version 8), written with protobuf-c from
// third_party/onnx/onnx.proto.
//
// Input  "frames":        float (batch, T, S, S, 3), frames as gesture's model takes them: resized to
//                         SxS and scaled per data.normalize (unit: v/255, symmetric: v/127.5 - 1), NHWC.
//                         batch is dynamic; T is fixed (the model's frames, or another count) or dynamic.
// Output "probabilities": float (batch, K), softmax of the logits (class order = the checkpoint's).
//
// Ops: Reshape/Transpose to NCHW, Conv (grouped for depthwise, asymmetric 'same' pads as TF),
// BatchNormalization with the moving statistics (inference form) + Clip(0, 6) for ReLU6, Add,
// GlobalAveragePool, GRU (bidirectional, linear_before_reset = 1: Keras' reset_after layout, gates
// z, r, h in both), Gemm (+ Relu), Softmax. Dropout is the identity at inference and is left out.
#ifndef GESTURE_ONNX_H
#define GESTURE_ONNX_H

#include "gesture/model.h"

#define GS_ONNX_OPSET 17
#define GS_ONNX_IR_VERSION 8  // the IR version of opset 17 (ONNX 1.12)

typedef struct {
    int frames;                       // T of the input: > 0 fixed, 0 = dynamic ("frames" dimension)
    const char *const *classes;       // (n_classes) names, stored in the model's metadata; may be NULL
    int n_classes;
    const char *normalize;            // "unit" or "symmetric" (metadata and the input's doc string)
    const char *producer_version;     // gesture's version
    const char *const *meta_keys;     // extra metadata_props (n_meta pairs); may be NULL
    const char *const *meta_values;
    int n_meta;
} gs_onnx_options;

// Write m's inference graph and weights (a model built at any batch size) to path, replaced whole
// (path.tmp + rename). 0, or -1 + gs_error naming the path.
int onnx_export(const gs_model *m, const gs_onnx_options *o, const char *path);

#endif
