// Keras interchange: read the ImageNet MobileNetV2 weight files and whole seed-pipeline models in every
// format Keras 3 and tf.keras / tf_keras (Keras 2) save them in, write our weights back as a Keras 3
// `.weights.h5` or `.keras`.
//
// Legacy HDF5 (Keras 2 `save_weights` / full-model save, e.g. the ImageNet file
// mobilenet_v2_weights_tf_dim_ordering_tf_kernels_<alpha>_<rows>_no_top.h5): weights at the root or
// under /model_weights; attribute `layer_names` (maybe chunked layer_names0, layer_names1, ...) lists
// every layer, each layer group's `weight_names` its arrays (fixed- or variable-length strings; an
// empty float64 array for weightless layers). Like Keras' own loader, the k-th layer that has
// weights goes to the k-th weighted layer of our MobileNetV2 (Conv1, bn_Conv1,
// expanded_conv_depthwise, ...), never matched by name: the ImageNet files call their layers
// mobl*_conv_* / bn*_conv_*. Every array's shape is checked.
//
// Legacy HDF5 of a whole seed model (tf.keras / tf_keras / Keras 3 `model.save('m.h5')`: model_config
// at the root, weights under /model_weights, optimizer_weights when compiled; tf_keras
// `save_weights('w.h5')`: the same weights at the root, no config): the five top-level layers with
// weights go by order, as Keras loads them; inside the TimeDistributed(MobileNetV2) group the arrays go
// by name (`Conv1/kernel:0`, Keras 3 `block_3_depthwise/kernel`), since their order depends on which
// layers were frozen (trainable weights first); the Adam slots go by the variable names in theirs.
//
// Keras 3 `.keras` (zip: metadata.json, config.json, model.weights.h5; tf_keras >= 2.13 writes the same
// with an extra empty layers/bidirectional/layer/cell group): weights are found by the class-name
// counter paths Keras' saver writes (layers/time_distributed/layer/layers/conv2d_3/vars/0 ...),
// cross-checked against the `name` attribute each `vars` group carries (Keras >= 3.6).
// config.json is read only for what the weights cannot tell: frames, frame size, dropout rate, L2,
// which layers were frozen (whose variables have no Adam slots) and the learning rate.
//
// All loaders are all-or-nothing: on any error they return -1 + gs_error (one line naming the file,
// the layer and, for shape mismatches, both shapes) and leave the model untouched.
#ifndef GESTURE_KERAS_H
#define GESTURE_KERAS_H

#include "gesture/model.h"
#include "gesture/trainlog.h"

// Load a legacy MobileNetV2 no-top weight file into m's backbone (the head is left alone). Any
// input size works (the weights do not depend on it); the width must match m->cfg.alpha.
int keras_load_backbone_h5(gs_model *m, const char *path);
// How many tensors a successful keras_load_backbone_h5 fills: every variable of m's backbone.
int keras_backbone_tensors(const gs_model *m);
// The MobileNetV2 width (0.35, 0.5, 0.75, 1.0, 1.3, 1.4) whose weights a legacy file holds: the
// one whose every shape matches. 0 ok, -1 + gs_error.
int keras_backbone_h5_alpha(float *alpha, const char *path);

// Our own backbone file (what `gesture import-keras` makes of a legacy .h5): /weights/<layer>/<var>
// for the MobileNetV2 variables only, root attrs format "gesture-backbone", format_version 1,
// alpha, source. keras_load_backbone_h5 reads it too (by name, shapes checked).
#define GS_BACKBONE_FORMAT "gesture-backbone"
int keras_save_backbone(const gs_model *m, const char *source, const char *out_path);

typedef enum {
    GS_KERAS_ARCHIVE = 1,     // .keras zip (Keras 3, tf_keras)
    GS_KERAS_WEIGHTS,         // .weights.h5 (a `layers` group)
    GS_KERAS_LEGACY,          // legacy HDF5 of MobileNetV2 weights (layer_names at / or /model_weights)
    GS_KERAS_BACKBONE,        // our gesture-backbone file
    GS_KERAS_LEGACY_MODEL,    // legacy HDF5 model.save of a whole model (model_config, /model_weights)
    GS_KERAS_LEGACY_WEIGHTS,  // legacy HDF5 save_weights of a whole model (layer_names at /, no config)
} gs_keras_kind;
// Which of these `path` is, by content. -1 + gs_error when none (naming what it is if we know,
// e.g. a gesture checkpoint).
int keras_file_kind(const char *path);

// What a whole-model Keras file says besides the weights.
typedef struct {
    char keras_version[32];   // metadata.json, the legacy root attribute keras_version ("" if absent)
    int keras_major;          // 2 (tf.keras / tf_keras) or 3: from keras_version, else from the layout
                              // (tf_keras' layers/bidirectional/layer group: 2; vars `name` attributes: 3);
                              // 0 unknown
    int has_config;           // 1: the file holds the model config (frames, size, dropout, L2 came from it)
    char backbone_name[96];   // the MobileNetV2 model's name, e.g. "mobilenetv2_0.35_96" ("" if absent)
    int optimizer_vars;       // optimizer arrays in the file (0: saved uncompiled)
    long iterations;          // optimizer step count, 0 if absent
    double learning_rate;     // the file's (a variable, else the config's), NaN if absent
    int has_adam_slots;       // 1: Adam m and v for every variable Keras trains (frozen layers have none)
    int adam_vars;            // how many of our parameters get Adam m and v from the file
} gs_keras_info;

// What a whole-model file (`.keras`, `.weights.h5`, legacy whole-model `.h5`) says: alpha, gru_units,
// dense_units and classes from its weight shapes; frames, size, dropout and l2 from its config when it
// has one (info->has_config; else those fields of *arch are left as they are); the Keras version and
// the optimizer state. 0 ok, -1 + gs_error (e.g. "not the seed architecture: the model has ...").
int keras_read_model_info(gs_model_arch *arch, gs_keras_info *info, const char *path);
// The architecture of the seed-pipeline model in a file with a config (`.keras`, legacy `.h5`): alpha (the width whose shapes all
// match), size and frames (config.json's input shape), gru_units, dense_units and classes (weight
// shapes), dropout and l2 (config.json; 0.25 / 0 when absent). batch is set to 1 (any batch works).
// info may be NULL. 0 ok, -1 + gs_error (e.g. "no Bidirectional GRU: not the seed architecture").
int keras_infer_arch(gs_model_arch *arch, gs_keras_info *info, const char *path);
// What the weight shapes of a whole-model file (any of keras_read_model_info's) say: alpha, gru_units,
// dense_units and classes; the other fields of *arch are left as they are. 0 ok, -1 + gs_error.
int keras_weights_arch(gs_model_arch *arch, const char *path);

// Load every weight of a whole-model file (`.keras`, `.weights.h5` e.g. from keras_export_weights,
// legacy whole-model `.h5`) into m, built for the same architecture: a different layer set, a renamed
// or missing array, or any other shape is an error naming what differs. When the file holds a
// built Adam (a model saved after training) its moments go to m->params.m/v (zero for variables
// Keras kept frozen) and its step count to m->adam_t; otherwise the moments are zeroed and
// m->adam_t = 0. Sequential or functional top model.
int keras_load_model_file(gs_model *m, const char *path);

// Write m's weights as a Keras 3 `.weights.h5` (the layout of model.weights.h5 inside a `.keras`,
// every `vars` group with its `name` attribute), which Keras' model.load_weights() reads into the
// seed model built with the same sizes. No optimizer state (Keras then keeps its own and warns).
int keras_export_weights(const gs_model *m, const char *out_path);
// Same plus the optimizer as a built Keras Adam: optimizer/vars = iteration (m->adam_t),
// learning_rate, then m, v per trainable variable in Keras' order. Keras loads it into a compiled
// model whose optimizer is built (optimizer.build(model.trainable_variables)).
int keras_export_weights_adam(const gs_model *m, double learning_rate, const char *out_path);

// The Adam of a compiled export (the seed's model.compile(Adam(lr), "categorical_crossentropy",
// ["accuracy"])).
typedef struct {
    double learning_rate, beta1, beta2, epsilon;
} gs_keras_adam;

// Write m as a whole Keras 3 model, the `.keras` zip keras.models.load_model() opens without gesture:
// metadata.json, config.json (the seed model's Sequential with the MobileNetV2 functional inside, as
// keras.applications builds it), model.weights.h5 (keras_export_weights' layout). opt NULL:
// uncompiled; else compiled with that Adam, whose state (step count m->adam_t, moments) is in the
// weights file as keras_export_weights_adam writes it, so model.fit continues. Written through
// OUT.tmp + rename. 0, or -1 + gs_error naming the path.
int keras_export_model(const gs_model *m, const gs_keras_adam *opt, const char *out_path);
// That config.json as a malloc'd string.
char *keras_model_config_json(const gs_model *m, const gs_keras_adam *opt);

// A Keras CSVLogger log (e.g. the seed's training_log.csv): the epochs of one model.fit with
// validation data. Needs the columns epoch, accuracy, loss, val_accuracy, val_loss; the learning rate
// comes from `learning_rate` (Keras 3) or `lr` (tf.keras 2) when the log has one (else NaN in every
// row, has_lr 0); other columns are counted in n_ignored. Epochs must run 0, 1, 2, ... Errors name
// the file and line.
typedef struct {
    gs_epoch_row *rows;  // (n)
    int n;
    int has_lr;
    int n_ignored;  // columns not read (other metrics)
} gs_keras_history;
int keras_history_read(gs_keras_history *h, const char *path);
void keras_history_free(gs_keras_history *h);

#endif
