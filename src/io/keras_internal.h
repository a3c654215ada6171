// Shared internals of the Keras importers/exporter (src/io/keras_*.c): the Keras 3 weight-file
// layout of the seed model derived from our graph, dataset reading with shape checks, `.keras`
// archive access and a few targeted config.json look-ups. Not a public header.
#ifndef GESTURE_IO_KERAS_INTERNAL_H
#define GESTURE_IO_KERAS_INTERNAL_H

#include <hdf5.h>
#include <stddef.h>

#include "gesture/keras.h"
#include "gesture/model.h"

#define K_SEED_ARCH                                                                                     \
    "TimeDistributed(MobileNetV2) -> TimeDistributed(BatchNormalization) -> "                          \
    "TimeDistributed(GlobalAveragePooling2D) -> Bidirectional(GRU) -> Dropout -> Dense -> Dropout -> Dense"

// MobileNetV2 widths Keras ships weights for (and our config accepts).
#define K_N_WIDTHS 6
extern const float K_WIDTHS[K_N_WIDTHS];

// ---- Keras 3 layout (model.weights.h5 / .weights.h5) ----

typedef enum {
    K3_NAME_FREE,    // auto-generated or user-chosen name: not checked
    K3_NAME_EXACT,   // fixed by keras.applications / Keras itself
    K3_NAME_PREFIX,  // auto-named from the class: its first prefix_len characters must match
} k3_name_check;

// One Keras saveable (layer, wrapper, cell, model): Keras writes its variables to <path>/vars/<i>
// and its name to the `name` attribute of <path>/vars.
typedef struct {
    char path[192];  // "" = the top-level model
    char name[96];   // the name Keras writes (exported as is; checked per `check` on import)
    k3_name_check check;
    int prefix_len;  // K3_NAME_PREFIX
    int n_vars;
    int param[4];    // our parameter indices in Keras' variable order
    int optional;    // may be absent (not exported): the InputLayer of a functional top model
} k3_entry;

typedef struct {
    k3_entry *e;
    int n, cap;
} k3_layout;

// Every saveable of the seed model built as m, in Keras' walk order (weightless ones too).
void k3_layout_build(k3_layout *L, const gs_model *m);
void k3_layout_free(k3_layout *L);
// Entry index by path, -1 if absent.
int k3_layout_find(const k3_layout *L, const char *path);

// Keras' ReLU layer after a backbone BN: bn_Conv1 -> Conv1_relu, Conv_1_bn -> out_relu,
// block_N_expand_BN -> block_N_expand_relu.
void k_relu_name(char *buf, size_t n, const char *bn);

// The weighted MobileNetV2 layers in order (Conv1, bn_Conv1, expanded_conv_depthwise, ...):
// node indices into idx (capacity max); returns the count.
int k_backbone_weighted(const gs_model *m, int *idx, int max);
// Parameters of a node in Keras' variable order; returns the count (1 conv, 4 BN, 2 dense).
int k_node_params(const gs_node *n, int *param);

// ---- HDF5 ----

// Does the object at `path` (relative, may be nested) exist? Checks every component.
int k_path_exists(hid_t loc, const char *path);
// Rank of dataset `path` with its dims in dims[0..8), or -1 when it is no dataset of rank <= 8.
int k_dims_of(hsize_t *dims, hid_t loc, const char *path);
// A head size read from an array's shape into *v, range-checked (error naming path, where, what)
// before narrowing to int.
int k_head_dim(int *v, const char *path, const char *where, const char *what, hsize_t x, int lo, int hi);
// "(3, 3, 16, 1)" for dims.
const char *k_dims_str(char *buf, size_t n, int ndim, const hsize_t *dims);
// Read the float dataset `dset` (relative to loc) into dst after checking it is a float array of
// exactly param p's shape. Errors name `file`, `where` (the dataset's location as the user knows
// it), p's name and both shapes. dst NULL: check only.
int k_read_param(float *dst, hid_t loc, const char *dset, const gs_param *p, const char *file,
                 const char *where);
// Strings of attribute `attr` of loc, fixed- or variable-length, any character set (h5py writes
// ASCII and UTF-8 variable-length strings, h5py 2 fixed-length ones) into a malloc'd array of
// malloc'd strings. An empty numeric array (Keras' weight_names of a weightless layer) gives *n = 0;
// any other non-string attribute is an error naming file, where and attr.
int k_attr_strs(char ***v, int *n, const char *file, const char *where, hid_t loc, const char *attr);
void k_strs_free(char **v, int n);
// How the importers' h5_open_as / h5_open_image (h5util.h) name a file whose HDF5 reader crashed.
#define K_DAMAGED "is damaged or not a Keras file"

// ---- legacy HDF5 (keras_legacy.c): layer_names / weight_names ----

// Keras' load_attributes_from_hdf5_group: attribute `name` of loc, or its chunks name0, name1, ...
// (written past the 64 KiB object-header limit), as malloc'd strings; absent: none.
int k_name_list(char ***v, int *n, const char *file, const char *where, hid_t loc, const char *name);

// One layer group that has weights: its name and weight_names.
typedef struct {
    char *layer;
    char **weights;
    int n_weights;
} k_legacy_layer;

// The layers of a legacy file that have weights, in layer_names order.
typedef struct {
    char **names;  // (n_names) layer_names; k_legacy_layer.layer points into it
    int n_names;
    k_legacy_layer *fl;  // (n_file)
    int n_file;
    int whole_model;  // names a time_distributed or bidirectional layer, or one lists > 4 weights
} k_legacy_layers;

// Where the layer groups are: / or, in a whole-model save, /model_weights. *root is f or a group
// the caller closes (when >= 0 and not f), also after an error. 0, or -1 + gs_error.
int k_legacy_find_root(hid_t *root, const char **where, hid_t f, const char *path);
// layer_names of root and the weight_names of each layer with weights. 0, or -1 + gs_error; either
// way k_legacy_layers_free releases L.
int k_legacy_read_layers(k_legacy_layers *L, hid_t root, const char *path, const char *where);
void k_legacy_layers_free(k_legacy_layers *L);

// ---- legacy whole models (keras_legacy_model.c) ----

// The kind of the legacy HDF5 file f: GS_KERAS_LEGACY (MobileNetV2 weights), GS_KERAS_LEGACY_MODEL
// (model.save of a whole model) or GS_KERAS_LEGACY_WEIGHTS (save_weights of one); -1 + gs_error.
int k_legacy_kind(hid_t f, const char *path);
// keras_read_model_info / keras_load_model_file for those two kinds.
int k_legacy_model_info(gs_model_arch *arch, gs_keras_info *info, const char *path);
int k_legacy_model_load(gs_model *m, const char *path);

// ---- optimizer state (keras_opt.c) ----

// Adam state of a `.keras` / `.weights.h5` (optimizer/vars: iteration, [learning_rate,] m and v per
// variable Keras trains, in our parameter order; config: the model config, NULL if none) or of a
// legacy .h5 (optimizer_weights, matched by variable name: kname[i] is the Keras name of parameter i
// as weight_names lists it, NULL if unknown; config: training_config) into info and, when non-NULL,
// mom / vel (numel_trainable floats, zero where the file has no slot). 0, or -1 + gs_error.
int k_opt_read_vars(gs_keras_info *info, float *mom, float *vel, const gs_model *m, hid_t f, const char *path,
                    const char *config);
int k_opt_read_legacy(gs_keras_info *info, float *mom, float *vel, const gs_model *m, hid_t f, const char *path,
                      const char *training_config, char *const *kname);

// ---- model config JSON (keras_config.c) ----

// What the config's top-level layers say against the seed's: the first seed layer that is missing,
// or the first one the file has in its place. 0 and buf filled, or -1 when the config tells nothing.
int k_describe_top(char *buf, size_t n, const char *config);
// frames and size (the first 5-D input shape), dropout rate and L2 factor (left as they are when
// absent) into a. `what` names the config in errors ("config.json", "model_config"). 0 or -1 + gs_error.
int k_config_arch(gs_model_arch *a, const char *config, const char *path, const char *what);
// tr[i] = 1 for each parameter Keras trains (trainable itself, its layer and the layers around it
// not frozen). Returns their count, or -1 when the config has no layer list (tr untouched).
int k_config_trainable(unsigned char *tr /* (params.n) */, const gs_model *m, const char *config);
// The compiled optimizer's class ("Adam"; tf_keras' "Custom>Adam" as "Adam") and learning rate
// (NaN for a schedule) from a .keras config (compile_config) or a legacy training_config. 0, or -1
// when there is none (cls "", lr NaN).
int k_config_optimizer(char *cls, size_t n, double *lr, const char *config);
// 2 or 3 from a version string ("2.21.0"), else 0.
int k_version_major(const char *version);

// ---- .keras archive and config.json ----

// Read zip member `member` of `path` into a malloc'd NUL-terminated buffer. Returns 0, 1 when the
// member is absent and !required, or -1 + gs_error (not a zip, truncated, member missing).
int k_zip_read(char **buf, size_t *n, const char *path, const char *member, int required);
// Is `path` a zip archive (by its first bytes)? 1 yes, 0 no, -1 + gs_error if unreadable.
int k_is_zip(const char *path);
// Pointer just past `"key":` (and whitespace) of the first occurrence at or after `from`, or NULL.
const char *k_json_key(const char *from, const char *key);
// Pointer to the first object member `"class_name": "<cls>"` at or after from, or NULL.
const char *k_json_class(const char *from, const char *cls);
// Parse a JSON array of integers / null (null -> -1) at p into v[0..max). Returns the count or -1.
int k_json_int_array(const char *p, long *v, int max);
// Parse a JSON number at p. 0 ok, -1 if none.
int k_json_number(const char *p, double *v);

// The width of K_WIDTHS under which a file's arrays all fit the model: fits(ctx, m, &n_ok) checks a
// model of one width, saying how many arrays matched. On none, the error of the width that matched
// the most (it names the first array that differs). 0 (a->alpha set) or -1 + gs_error.
typedef int (*k_width_fits)(void *ctx, gs_model *m, int *n_ok);
int k_find_width(gs_model_arch *a, k_width_fits fits, void *ctx);

#endif
