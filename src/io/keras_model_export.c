// Keras 3 `.keras` export of a whole model (keras_export_model, gesture/keras.h): the zip Keras'
// saving_lib writes — metadata.json, config.json (the seed model: Sequential of InputLayer,
// TimeDistributed(MobileNetV2 functional), TimeDistributed(BatchNormalization),
// TimeDistributed(GlobalAveragePooling2D), Bidirectional(GRU), Dropout, Dense relu + L2, Dropout, Dense
// softmax), model.weights.h5 (keras_export_weights' layout). config.json is built with jansson from
// our graph, layer by layer as keras.applications.MobileNetV2 makes it (ReLU layers after the
// batch norms, ZeroPadding2D + 'valid' before stride-2 depthwise convolutions), so
// keras.models.load_model opens it without any gesture code.
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include "gesture/errors.h"
#include "gesture/keras.h"
#include "gesture/ops.h"
#include "keras_internal.h"

// The Keras whose `.keras` layout the export follows (checked with it: scripts/check_keras_export.py).
#define K_EXPORT_KERAS_VERSION "3.15.1"

static json_t *dtype(void) {
    return json_pack("{s:s, s:s, s:{s:s}, s:n}", "module", "keras", "class_name", "DTypePolicy", "config", "name",
                     "float32", "registered_name");
}

// [null, a, b, ...] (n dims after the batch)
static json_t *shape(int n, const int *d) {
    json_t *s = json_array();
    json_array_append_new(s, json_null());
    for (int i = 0; i < n; i++) json_array_append_new(s, json_integer(d[i]));
    return s;
}

// A float32 setting as the shortest decimal that reads back as the same float (0.999, not 0.999000013),
// as Keras writes its Python floats.
static json_t *fnum(float v) {
    char buf[32];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)v);
        if ((float)strtod(buf, NULL) == v) break;
    }
    return json_real(strtod(buf, NULL));
}

static json_t *pair(int a, int b) { return json_pack("[i, i]", a, b); }

// A layer object: {module, class_name, config, registered_name, [build_config]}; takes config and in_shape.
static json_t *layer(const char *cls, json_t *config, json_t *in_shape) {
    json_t *l = json_pack("{s:s, s:s, s:o, s:n}", "module", "keras.layers", "class_name", cls, "config", config,
                          "registered_name");
    if (in_shape) json_object_set_new(l, "build_config", json_pack("{s:o}", "input_shape", in_shape));
    return l;
}

// The common start of a layer config: name, trainable, dtype.
static json_t *base(const char *name) {
    return json_pack("{s:s, s:b, s:o}", "name", name, "trainable", 1, "dtype", dtype());
}

static json_t *keras_tensor(const char *from, const int *hwc) {
    return json_pack("{s:s, s:{s:o, s:s, s:[s, i, i]}}", "class_name", "__keras_tensor__", "config", "shape",
                     shape(3, hwc), "dtype", "float32", "keras_history", from, 0, 0);
}

// A functional layer: `l` with its name and one call on the tensors of layers from[0..n) (shapes hwc).
// Keras records the `mask` argument of the layers whose call() takes one (BatchNormalization).
static json_t *called(json_t *l, const char *name, int n, const char *const *from, const int (*hwc)[3]) {
    int mask = !strcmp(json_string_value(json_object_get(l, "class_name")), "BatchNormalization");
    json_t *args = json_array();
    if (n == 1) {
        json_array_append_new(args, keras_tensor(from[0], hwc[0]));
    } else {
        json_t *list = json_array();
        for (int i = 0; i < n; i++) json_array_append_new(list, keras_tensor(from[i], hwc[i]));
        json_array_append_new(args, list);
    }
    json_object_set_new(l, "name", json_string(name));
    json_object_set_new(l, "inbound_nodes", json_pack("[{s:o, s:o}]", "args", args, "kwargs",
                                                      mask ? json_pack("{s:n}", "mask") : json_object()));
    return l;
}

static json_t *conv_config(const gs_node *n) {
    json_t *c = base(n->name);
    int dw = n->op == NODE_DWCONV;
    if (dw) json_object_set_new(c, "depth_multiplier", json_integer(1));
    else json_object_set_new(c, "filters", json_integer(n->shape[3]));
    json_object_set_new(c, "kernel_size", pair(n->k, n->k));
    json_object_set_new(c, "strides", pair(n->stride, n->stride));
    // 'valid' after Keras' explicit ZeroPadding2D, and for Conv_1 (a 1x1 conv left at the default)
    int valid = (dw && n->stride == 2) || !strcmp(n->name, "Conv_1");
    json_object_set_new(c, "padding", json_string(valid ? "valid" : "same"));
    json_object_set_new(c, "data_format", json_string("channels_last"));
    json_object_set_new(c, "dilation_rate", pair(1, 1));
    if (!dw) json_object_set_new(c, "groups", json_integer(1));
    json_object_set_new(c, "activation", json_string("linear"));
    json_object_set_new(c, "use_bias", json_false());
    return c;
}

static json_t *bn_config(const char *name, const gs_node *n) {
    json_t *c = base(name);
    json_object_set_new(c, "axis", json_integer(-1));
    json_object_set_new(c, "momentum", fnum(n->momentum));
    json_object_set_new(c, "epsilon", fnum(n->eps));
    json_object_set_new(c, "center", json_true());
    json_object_set_new(c, "scale", json_true());
    return c;
}

static void hwc_of(int *hwc, const gs_node *n) {
    hwc[0] = n->shape[1], hwc[1] = n->shape[2], hwc[2] = n->shape[3];
}

// keras.applications.MobileNetV2(include_top=False) as a Functional config, from our backbone nodes.
static json_t *mobilenet(const gs_model *m) {
    json_t *layers = json_array();
    const int S = m->cfg.size;
    int in_hwc[3] = {S, S, 3};
    json_array_append_new(layers, json_pack("{s:s, s:s, s:{s:o, s:s, s:b, s:b, s:s, s:b}, s:n, s:s, s:[]}", "module",
                                            "keras.layers", "class_name", "InputLayer", "config", "batch_shape",
                                            shape(3, in_hwc), "dtype", "float32", "sparse", 0, "ragged", 0, "name",
                                            "input_layer", "optional", 0, "registered_name", "name", "input_layer",
                                            "inbound_nodes"));
    // out[i]: the Keras layer whose output is node i's output (after its ReLU, if any)
    char(*out)[96] = gs_calloc((size_t)m->n_nodes, sizeof *out);
    snprintf(out[0], sizeof out[0], "input_layer");
    for (int i = 1; i < m->n_nodes; i++) {
        const gs_node *n = &m->nodes[i];
        if (!n->backbone) break;
        const gs_node *x = &m->nodes[n->in[0]];
        int xs[3];
        hwc_of(xs, x);
        const char *from = out[n->in[0]];
        char pad_name[96];
        int ps[3];
        switch (n->op) {
        case NODE_CONV:
        case NODE_PWCONV:
        case NODE_DWCONV:
            if (n->op == NODE_DWCONV && n->stride == 2) {
                // imagenet_utils.correct_pad: ((1 - adjust, 1), (1 - adjust, 1)), adjust = 1 - size % 2
                int top = 1 - (1 - xs[0] % 2), left = 1 - (1 - xs[1] % 2);
                snprintf(pad_name, sizeof pad_name, "%.*spad", (int)(strlen(n->name) - 9), n->name);
                json_t *c = base(pad_name);
                json_object_set_new(c, "padding", json_pack("[[i, i], [i, i]]", top, 1, left, 1));
                json_object_set_new(c, "data_format", json_string("channels_last"));
                json_array_append_new(layers, called(layer("ZeroPadding2D", c, shape(3, xs)), pad_name, 1, &from,
                                                     (const int(*)[3])xs));
                ps[0] = xs[0] + top + 1, ps[1] = xs[1] + left + 1, ps[2] = xs[2];
                memcpy(xs, ps, sizeof xs);
                from = pad_name;
            }
            json_array_append_new(layers, called(layer(n->op == NODE_DWCONV ? "DepthwiseConv2D" : "Conv2D",
                                                       conv_config(n), shape(3, xs)),
                                                 n->name, 1, &from, (const int(*)[3])xs));
            snprintf(out[i], sizeof out[i], "%s", n->name);
            break;
        case NODE_BN: {
            json_array_append_new(layers, called(layer("BatchNormalization", bn_config(n->name, n), shape(3, xs)),
                                                 n->name, 1, &from, (const int(*)[3])xs));
            snprintf(out[i], sizeof out[i], "%s", n->name);
            if (n->act == GS_ACT_RELU6) {
                char relu[96];
                k_relu_name(relu, sizeof relu, n->name);
                json_t *c = base(relu);
                json_object_set_new(c, "max_value", json_real(6.0));
                json_object_set_new(c, "negative_slope", json_real(0.0));
                json_object_set_new(c, "threshold", json_real(0.0));
                const char *bn_from = n->name;
                int os[3];
                hwc_of(os, n);
                json_array_append_new(layers, called(layer("ReLU", c, NULL), relu, 1, &bn_from,
                                                     (const int(*)[3])os));
                snprintf(out[i], sizeof out[i], "%s", relu);
            }
            break;
        }
        case NODE_ADD: {
            const char *two[2] = {out[n->in[0]], out[n->in[1]]};
            int hw2[2][3];
            hwc_of(hw2[0], &m->nodes[n->in[0]]);
            hwc_of(hw2[1], &m->nodes[n->in[1]]);
            json_t *l = layer("Add", base(n->name), NULL);
            json_object_set_new(l, "build_config",
                                json_pack("{s:[o, o]}", "input_shape", shape(3, hw2[0]), shape(3, hw2[1])));
            json_array_append_new(layers, called(l, n->name, 2, two, (const int(*)[3])hw2));
            snprintf(out[i], sizeof out[i], "%s", n->name);
            break;
        }
        case NODE_INPUT:
        case NODE_GAP:
        case NODE_BIGRU:
        case NODE_DROPOUT:
        case NODE_DENSE:
        case NODE_LOSS:
        case NODE_COUNT:
            gs_fatal("keras export: %s is no MobileNetV2 layer", n->name);
        }
    }
    int last = model_find_node(m, "Conv_1_bn");
    GS_ASSERT(last > 0);
    char name[64];
    snprintf(name, sizeof name, "mobilenetv2_%0.2f_%d", (double)m->cfg.alpha, S);
    json_t *f = json_pack("{s:s, s:s, s:{s:s, s:b, s:o, s:[s, i, i], s:[s, i, i]}, s:s, s:{s:n}}", "module",
                          "keras.src.models.functional", "class_name", "Functional", "config", "name", name,
                          "trainable", 1, "layers", layers, "input_layers", "input_layer", 0, 0, "output_layers",
                          out[last], 0, 0, "registered_name", "Functional", "build_config", "input_shape");
    free(out);
    return f;
}

static json_t *gru_config(const char *name, int units, int backwards) {
    json_t *c = base(name);
    json_object_set_new(c, "return_sequences", json_false());
    json_object_set_new(c, "return_state", json_false());
    json_object_set_new(c, "go_backwards", json_boolean(backwards));
    json_object_set_new(c, "stateful", json_false());
    json_object_set_new(c, "unroll", json_false());
    json_object_set_new(c, "units", json_integer(units));
    json_object_set_new(c, "activation", json_string("tanh"));
    json_object_set_new(c, "recurrent_activation", json_string("sigmoid"));
    json_object_set_new(c, "use_bias", json_true());
    json_object_set_new(c, "dropout", json_real(0.0));
    json_object_set_new(c, "recurrent_dropout", json_real(0.0));
    json_object_set_new(c, "reset_after", json_true());
    return c;
}

static json_t *dense(const gs_model *m, const char *node, const char *name, const char *activation, int in) {
    const gs_node *n = &m->nodes[model_find_node(m, node)];
    json_t *c = base(name);
    json_object_set_new(c, "units", json_integer(n->shape[1]));
    json_object_set_new(c, "activation", json_string(activation));
    json_object_set_new(c, "use_bias", json_true());
    float l2 = m->params.p[n->p[0]].l2;
    json_object_set_new(c, "kernel_regularizer",
                        l2 > 0 ? json_pack("{s:s, s:s, s:{s:o}, s:n}", "module", "keras.regularizers", "class_name",
                                           "L2", "config", "l2", fnum(l2), "registered_name")
                               : json_null());
    int d[1] = {in};
    return layer("Dense", c, shape(1, d));
}

static json_t *dropout(const char *name, float rate) {
    json_t *c = base(name);
    json_object_set_new(c, "rate", fnum(rate));
    json_object_set_new(c, "seed", json_null());
    json_object_set_new(c, "noise_shape", json_null());
    return layer("Dropout", c, NULL);
}

// compile_config: the seed's model.compile(Adam(...), "categorical_crossentropy", ["accuracy"]).
static json_t *compile_config(const gs_keras_adam *opt) {
    json_t *adam = json_pack("{s:s, s:o, s:n, s:n, s:n, s:n, s:b, s:f, s:n, s:n, s:n, s:o, s:o, s:o, s:b}", "name",
                             "adam", "learning_rate", json_real(opt->learning_rate), "weight_decay", "clipnorm",
                             "global_clipnorm", "clipvalue", "use_ema", 0, "ema_momentum", 0.99,
                             "ema_overwrite_frequency", "loss_scale_factor", "gradient_accumulation_steps", "beta_1",
                             fnum(opt->beta1), "beta_2", fnum(opt->beta2), "epsilon", fnum(opt->epsilon), "amsgrad",
                             0);
    return json_pack("{s:{s:s, s:s, s:o, s:n}, s:s, s:n, s:[s], s:n, s:b, s:i, s:b}", "optimizer", "module",
                     "keras.optimizers", "class_name", "Adam", "config", adam, "registered_name", "loss",
                     "categorical_crossentropy", "loss_weights", "metrics", "accuracy", "weighted_metrics",
                     "run_eagerly", 0, "steps_per_execution", 1, "jit_compile", 1);
}

// config.json of the seed model built as m.
static json_t *model_config(const gs_model *m) {
    const gs_model_arch *a = &m->cfg;
    const int T = a->frames, S = a->size, H = a->gru_units;
    const gs_node *head_bn = &m->nodes[model_find_node(m, "head_bn")];
    const gs_node *gap = &m->nodes[model_find_node(m, "global_average_pooling")];
    int in5[4] = {T, S, S, 3}, feat[4] = {T, head_bn->shape[1], head_bn->shape[2], head_bn->shape[3]};
    int seq[2] = {T, gap->shape[1]};
    json_t *layers = json_array();
    json_array_append_new(layers, json_pack("{s:s, s:s, s:{s:o, s:s, s:b, s:b, s:s, s:b}, s:n}", "module",
                                            "keras.layers", "class_name", "InputLayer", "config", "batch_shape",
                                            shape(4, in5), "dtype", "float32", "sparse", 0, "ragged", 0, "name",
                                            "input_layer_1", "optional", 0, "registered_name"));
    json_t *c = base("time_distributed");
    json_object_set_new(c, "layer", mobilenet(m));
    json_array_append_new(layers, layer("TimeDistributed", c, shape(4, in5)));

    c = base("time_distributed_1");
    json_object_set_new(c, "layer", layer("BatchNormalization", bn_config("batch_normalization", head_bn),
                                          shape(3, feat + 1)));
    json_array_append_new(layers, layer("TimeDistributed", c, shape(4, feat)));

    c = base("time_distributed_2");
    json_t *g = base("global_average_pooling2d");
    json_object_set_new(g, "data_format", json_string("channels_last"));
    json_object_set_new(g, "keepdims", json_false());
    json_object_set_new(c, "layer", layer("GlobalAveragePooling2D", g, NULL));
    json_array_append_new(layers, layer("TimeDistributed", c, shape(4, feat)));

    c = base("bidirectional");
    json_object_set_new(c, "merge_mode", json_string("concat"));
    json_object_set_new(c, "layer", layer("GRU", gru_config("forward_gru", H, 0), shape(2, seq)));
    json_object_set_new(c, "backward_layer", layer("GRU", gru_config("backward_gru", H, 1), shape(2, seq)));
    json_array_append_new(layers, layer("Bidirectional", c, shape(2, seq)));

    const gs_node *drop = &m->nodes[model_find_node(m, "dropout")];
    json_array_append_new(layers, dropout("dropout", drop->rate));
    json_array_append_new(layers, dense(m, "dense_hidden", "dense", "relu", 2 * H));
    json_array_append_new(layers, dropout("dropout_1", drop->rate));
    json_array_append_new(layers, dense(m, "dense_out", "dense_1", "softmax", a->dense_units));

    c = json_pack("{s:s, s:b, s:o, s:o, s:o}", "name", "sequential", "trainable", 1, "dtype", dtype(), "layers", layers,
                  "build_input_shape", shape(4, in5));
    return json_pack("{s:s, s:s, s:o, s:n, s:{s:o}}", "module", "keras", "class_name", "Sequential", "config", c,
                     "registered_name", "build_config", "input_shape", shape(4, in5));
}

char *keras_model_config_json(const gs_model *m, const gs_keras_adam *opt) {
    json_t *c = model_config(m);
    if (opt) json_object_set_new(c, "compile_config", compile_config(opt));
    char *s = json_dumps(c, JSON_REAL_PRECISION(9));
    json_decref(c);
    GS_ASSERT(s);
    return s;
}

static int zip_add_buffer(zip_t *z, const char *member, const char *data, size_t n, const char *path) {
    zip_source_t *src = zip_source_buffer(z, data, n, 0);
    zip_int64_t idx = src ? zip_file_add(z, member, src, ZIP_FL_OVERWRITE) : -1;
    if (idx < 0) {
        if (src) zip_source_free(src);
        return gs_error("%s: cannot add %s: %s", path, member, zip_strerror(z));
    }
    zip_set_file_compression(z, (zip_uint64_t)idx, ZIP_CM_STORE, 0);  // Keras' zipfile default
    return 0;
}

int keras_export_model(const gs_model *m, const gs_keras_adam *opt, const char *out_path) {
    FILE *probe = fopen(out_path, "ab");  // a missing folder or no permission: say so about OUT itself
    if (!probe) return gs_error("%s: cannot write: %s", out_path, strerror(errno));
    fclose(probe);
    struct stat st;
    if (stat(out_path, &st) == 0 && st.st_size == 0) remove(out_path);  // made just now
    size_t len = strlen(out_path);
    char *tmp = gs_malloc(len + 5), *wtmp = gs_malloc(len + 16);
    snprintf(tmp, len + 5, "%s.tmp", out_path);
    snprintf(wtmp, len + 16, "%s.weights.tmp", out_path);
    char *config = keras_model_config_json(m, opt);
    char meta[160], date[32];
    time_t now = time(NULL);
    struct tm tmv;
    strftime(date, sizeof date, "%Y-%m-%d@%H:%M:%S", localtime_r(&now, &tmv));
    snprintf(meta, sizeof meta, "{\"keras_version\": \"%s\", \"date_saved\": \"%s\"}", K_EXPORT_KERAS_VERSION, date);
    char *weights = NULL;
    size_t wn = 0;
    int rc = opt ? keras_export_weights_adam(m, opt->learning_rate, wtmp) : keras_export_weights(m, wtmp);
    if (rc == 0) {
        FILE *f = fopen(wtmp, "rb");
        if (!f || fseek(f, 0, SEEK_END) || (long)(wn = (size_t)ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
            rc = gs_error("%s: cannot read back %s", out_path, wtmp);
        } else {
            weights = gs_malloc(wn ? wn : 1);
            if (fread(weights, 1, wn, f) != wn) rc = gs_error("%s: cannot read back %s", out_path, wtmp);
        }
        if (f) fclose(f);
    }
    remove(wtmp);
    if (rc == 0) {
        int err = 0;
        zip_t *z = zip_open(tmp, ZIP_CREATE | ZIP_TRUNCATE, &err);
        if (!z) {
            zip_error_t ze;
            zip_error_init_with_code(&ze, err);
            rc = gs_error("%s: cannot create %s: %s", out_path, tmp, zip_error_strerror(&ze));
            zip_error_fini(&ze);
        } else {
            rc = zip_add_buffer(z, "metadata.json", meta, strlen(meta), out_path) ||
                 zip_add_buffer(z, "config.json", config, strlen(config), out_path) ||
                 zip_add_buffer(z, "model.weights.h5", weights, wn, out_path);
            if (rc) zip_discard(z);
            else if (zip_close(z) != 0) {
                rc = gs_error("%s: cannot write %s: %s", out_path, tmp, zip_strerror(z));
                zip_discard(z);
            }
        }
        if (rc == 0 && rename(tmp, out_path) != 0) rc = gs_error("%s: cannot rename from %s", out_path, tmp);
        if (rc) remove(tmp);
    }
    free(weights);
    free(config);
    free(tmp);
    free(wtmp);
    return rc ? -1 : 0;
}
