// What a Keras model config says besides the weights, for every format that carries one (config.json
// of a `.keras`, the `model_config` / `training_config` attributes of a legacy whole-model `.h5`; Keras 3
// and tf.keras / tf_keras write the same structure): whether the top-level layers are the seed's, the
// input shape, dropout rate and L2 factor, which variables Keras trains (layers can be frozen), and the
// optimizer's class and learning rate. Targeted look-ups; the weights tell everything else.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gesture/errors.h"
#include "keras_internal.h"

// ---- top-level layers ----

// "TimeDistributed(BatchNormalization)" for a top-level layer object (the wrapped layer's class in
// parentheses; the MobileNetV2 functional shows as MobileNetV2: Keras 3 and tf_keras call its class
// Functional, older tf.keras Model).
static void layer_kind(char *buf, size_t n, json_t *l) {
    const char *cls = json_string_value(json_object_get(l, "class_name"));
    json_t *inner = json_object_get(json_object_get(l, "config"), "layer");
    const char *icls = inner ? json_string_value(json_object_get(inner, "class_name")) : NULL;
    if (icls && (!strcmp(icls, "Functional") || !strcmp(icls, "Model"))) icls = "MobileNetV2";
    if (icls) snprintf(buf, n, "%s(%s)", cls ? cls : "?", icls);
    else snprintf(buf, n, "%s", cls ? cls : "?");
}

// The top-level layers of a parsed config other than InputLayer, or NULL.
static json_t *top_layers(json_t *root) {
    json_t *layers = json_object_get(json_object_get(root, "config"), "layers");
    return json_is_array(layers) ? layers : NULL;
}

static int is_input(json_t *l) {
    const char *cls = json_string_value(json_object_get(l, "class_name"));
    return cls && !strcmp(cls, "InputLayer");
}

int k_describe_top(char *buf, size_t n, const char *config) {
    static const char *const SEED[8] = {"TimeDistributed(MobileNetV2)", "TimeDistributed(BatchNormalization)",
                                        "TimeDistributed(GlobalAveragePooling2D)", "Bidirectional(GRU)", "Dropout",
                                        "Dense", "Dropout", "Dense"};
    static const char *const ROLE[8] = {"the backbone", "the batch norm after the backbone", "the frame pooling",
                                        "the recurrent layer", "the first dropout", "the hidden dense layer",
                                        "the second dropout", "the output layer"};
    json_t *root = config ? json_loads(config, 0, NULL) : NULL;
    json_t *layers = top_layers(root);
    if (!layers) {
        json_decref(root);
        return -1;
    }
    char have[32][64];
    int nh = 0;
    for (size_t i = 0; i < json_array_size(layers) && nh < 32; i++) {
        json_t *l = json_array_get(layers, i);
        if (!is_input(l)) layer_kind(have[nh++], sizeof have[0], l);
    }
    json_decref(root);
    int i = 0;
    while (i < 8 && i < nh && !strcmp(have[i], SEED[i])) i++;
    if (i == 8 && nh == 8) return -1;  // the sequence is the seed's: the difference is elsewhere
    if (i == 8) snprintf(buf, n, "an extra %s after %s", have[8], ROLE[7]);
    else if (i >= nh || (i + 1 < 8 && !strcmp(have[i], SEED[i + 1])))
        snprintf(buf, n, "no %s (%s)", SEED[i], ROLE[i]);
    else snprintf(buf, n, "%s where the seed has %s (%s)", have[i], SEED[i], ROLE[i]);
    return 0;
}

// ---- input shape, dropout, L2 ----

// T and S: the first 5-D input shape (batch, T, S, S, 3) of an InputLayer.
static int config_input(gs_model_arch *a, const char *config, const char *path, const char *what) {
    // InputLayer (Keras 3), InputLayer (tf.keras), Sequential built from a layer's input_shape
    static const char *keys[3] = {"batch_shape", "batch_input_shape", "build_input_shape"};
    for (int k = 0; k < 3; k++)
        for (const char *p = config; (p = k_json_key(p, keys[k])) != NULL;) {
            long v[8];
            int n = k_json_int_array(p, v, 8);
            if (n == 5 && v[4] == 3 && v[2] == v[3]) {
                // range-checked as long before narrowing: 2^32 + 1 frames must not become 1
                if (v[1] < 1 || v[1] > GS_MAX_FRAMES)
                    return gs_error("%s: %s %s: frames = %ld is outside [1, %d]", path, what, keys[k], v[1],
                                    GS_MAX_FRAMES);
                if (v[2] < 32 || v[2] > GS_MAX_SIZE)
                    return gs_error("%s: %s %s: size = %ld is outside [32, %d]", path, what, keys[k], v[2],
                                    GS_MAX_SIZE);
                a->frames = (int)v[1];
                a->size = (int)v[2];
                return 0;
            }
        }
    return gs_error("%s: %s has no input shape (batch, frames, size, size, 3): not the seed architecture (%s)", path,
                    what, K_SEED_ARCH);
}

// The number after `key` in the first object of class `cls`: 1 found, 0 absent, -1 + gs_error when
// outside [lo, hi] (hi_open: x < hi).
static int class_number(double *x, const char *config, const char *cls, const char *key, double lo, double hi,
                        int hi_open, const char *path, const char *what) {
    const char *p = k_json_class(config, cls);
    if (!p || k_json_number(k_json_key(p, key), x) != 0) return 0;
    if (!(*x >= lo && (hi_open ? *x < hi : *x <= hi)))
        return gs_error("%s: %s %s %s = %g is outside [%g, %g%s", path, what, cls, key, *x, lo, hi, hi_open ? ")" : "]");
    return 1;
}

int k_config_arch(gs_model_arch *a, const char *config, const char *path, const char *what) {
    if (config_input(a, config, path, what)) return -1;
    double x;
    int r = class_number(&x, config, "Dropout", "rate", 0, 1, 1, path, what);
    if (r < 0) return -1;
    if (r) a->dropout = (float)x;
    // keras.regularizers.l2(x) is class L2 since TF 2.3, L1L2(l1=0, l2=x) before
    if ((r = class_number(&x, config, "L2", "l2", 0, 1, 0, path, what)) < 0) return -1;
    if (!r && (r = class_number(&x, config, "L1L2", "l2", 0, 1, 0, path, what)) > 0) {
        double l1 = 0;
        if (class_number(&l1, config, "L1L2", "l1", 0, 0, 0, path, what) < 0)
            return gs_error("%s: %s L1L2 regularizer with l1 = %g: gesture trains with an L2 penalty only", path, what,
                            l1);
    }
    if (r < 0) return -1;
    if (r) a->l2 = (float)x;
    return 0;
}

// ---- trainable variables ----

static int flag_true(json_t *layer) {
    json_t *t = json_object_get(json_object_get(layer, "config"), "trainable");
    return !json_is_false(t);  // absent: trainable (Keras' default)
}

// Mark the trainable parameters of node `name` in tr with `on`.
static void mark_node(unsigned char *tr, const gs_model *m, const char *name, int on) {
    int i = model_find_node(m, name);
    if (i < 0) return;
    int prm[8];
    int np = k_node_params(&m->nodes[i], prm);
    for (int j = 0; j < np; j++)
        if (m->params.p[prm[j]].trainable) tr[prm[j]] = (unsigned char)on;
}

int k_config_trainable(unsigned char *tr, const gs_model *m, const char *config) {
    json_t *root = config ? json_loads(config, 0, NULL) : NULL;
    json_t *layers = top_layers(root);
    if (!layers) {
        json_decref(root);
        return -1;
    }
    memset(tr, 0, (size_t)m->params.n);
    static const char *const HEAD[8] = {NULL, "head_bn", NULL, "gru", NULL, "dense_hidden", NULL, "dense_out"};
    int k = 0;
    for (size_t i = 0; i < json_array_size(layers) && k < 8; i++) {
        json_t *l = json_array_get(layers, i);
        if (is_input(l)) continue;
        json_t *inner = json_object_get(json_object_get(l, "config"), "layer");
        int on = flag_true(l) && (!inner || flag_true(inner));  // a wrapper and what it wraps
        if (k == 0) {  // TimeDistributed(MobileNetV2): Keras' layer names are our node names
            json_t *bl = json_object_get(json_object_get(inner, "config"), "layers");
            for (size_t j = 0; j < json_array_size(bl); j++) {
                json_t *b = json_array_get(bl, j);
                const char *nm = json_string_value(json_object_get(json_object_get(b, "config"), "name"));
                if (nm) mark_node(tr, m, nm, on && flag_true(b));
            }
        } else if (HEAD[k]) {
            mark_node(tr, m, HEAD[k], on);
        }
        k++;
    }
    json_decref(root);
    int n = 0;
    for (int i = 0; i < m->params.n; i++) n += tr[i];
    return n;
}

// ---- optimizer ----

int k_config_optimizer(char *cls, size_t n, double *lr, const char *config) {
    *lr = NAN;
    cls[0] = 0;
    json_t *root = config ? json_loads(config, 0, NULL) : NULL;
    // .keras: compile_config.optimizer; legacy .h5 training_config: optimizer_config
    json_t *o = json_object_get(json_object_get(root, "compile_config"), "optimizer");
    if (!o) o = json_object_get(root, "optimizer_config");
    const char *c = json_string_value(json_object_get(o, "class_name"));
    json_t *rate = json_object_get(json_object_get(o, "config"), "learning_rate");
    if (c) {
        const char *gt = strrchr(c, '>');  // tf_keras registers it as "Custom>Adam"
        snprintf(cls, n, "%s", gt ? gt + 1 : c);
    }
    if (json_is_number(rate)) *lr = json_number_value(rate);  // a schedule is an object: NaN
    json_decref(root);
    return cls[0] ? 0 : -1;
}

int k_version_major(const char *version) {
    if (!version || !version[0]) return 0;
    long v = strtol(version, NULL, 10);
    return v == 2 || v == 3 ? (int)v : 0;
}
