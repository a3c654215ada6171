// `gesture import-keras FILE OUT.h5`: Keras files -> our files. A `.keras` model (or a Keras 3
// `.weights.h5`) becomes a gesture checkpoint (weights, Adam state when the file has it, resolved
// config, class names) for eval / predict / train --resume; a legacy MobileNetV2 no-top `.h5` (the
// ImageNet file) is verified against the model and written as a gesture-backbone file.
#include <math.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gesture/checkpoint.h"
#include "gesture/config.h"
#include "gesture/errors.h"
#include "gesture/fsutil.h"
#include "gesture/keras.h"
#include "gesture/model.h"
#include "gesture/synth.h"

static const char *OPTIONS =
    "\noptions:\n"
    "  --config FILE.ini        base config (default: the built-in defaults, i.e. the seed's, with\n"
    "                           data.resize = cv2 as the seed resized its frames); for a .keras file the\n"
    "                           model keys, data.frames, data.size and train.l2 come from the file\n"
    "  --set section.key=value  override one key after that (e.g. --set data.root=data/prepared)\n"
    "  --classes A,B,...        class names in label order (default for 5 classes: Left_Swipe,Right_Swipe,\n"
    "                           Stop,Thumbs_Down,Thumbs_Up; otherwise class_0, class_1, ...)\n"
    "  --run-dir D              instead of OUT.h5: write a run directory (D/config.ini, D/checkpoints/last.h5)\n"
    "                           that `gesture train --resume D` continues and `gesture eval D` evaluates;\n"
    "                           set data.root with --set here, --resume takes no --set\n"
    "\nFILE:\n"
    "  MODEL.keras   Keras 3 model.save() of the seed architecture (e.g. the seed's best_model.keras)\n"
    "                -> OUT is a gesture checkpoint; a trained file's Adam state and step count come along\n"
    "  X.weights.h5  Keras 3 save_weights() / gesture export-keras -> checkpoint; model.alpha, gru_units,\n"
    "                dense_units and classes come from its shapes; it holds no input shape, so\n"
    "                data.frames and data.size are the config's (--set them; a --set model.* that\n"
    "                contradicts the shapes names the values they imply)\n"
    "  legacy .h5    MobileNetV2 no-top weights (mobilenet_v2_weights_tf_dim_ordering_tf_kernels_*_no_top.h5)\n"
    "                -> OUT holds only the backbone as /weights/<layer>/<var> (format gesture-backbone),\n"
    "                after checking every shape; OUT works as model.pretrained like the original\n";

static int fail(void) {
    fprintf(stderr, "gesture: %s\n", gs_last_error());
    return 1;
}

// Class names from "A,B,C" (must be n of them), or the defaults.
static char **make_classes(const char *list, int n) {
    char **c = gs_calloc((size_t)n, sizeof *c);
    if (list) {
        char *copy = strdup(list), *save = NULL;
        int k = 0;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (k < n) c[k] = strdup(t);
            k++;
        }
        free(copy);
        if (k != n) {
            gs_error("--classes lists %d names, the model has %d classes", k, n);
            checkpoint_free_classes(c, n);
            return NULL;
        }
        return c;
    }
    for (int i = 0; i < n; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "class_%d", i);
        c[i] = strdup(n == GS_SYNTH_CLASSES ? GS_SYNTH_CLASS_NAMES[i] : buf);
    }
    return c;
}

static int import_backbone(const char *file, const char *out, gs_config *cfg) {
    gs_model_arch arch;
    model_arch_from_config(&arch, cfg);
    gs_model m;
    if (model_init(&m, &arch)) return fail();
    int rc = keras_load_backbone_h5(&m, file) || keras_save_backbone(&m, file, out);
    if (rc == 0)
        printf("%s: MobileNetV2 alpha %.2f no-top weights, %zu values, every shape checked\n-> %s (gesture-backbone; "
               "use it or the original as model.pretrained)\n",
               file, cfg->model.alpha, model_backbone_param_count(&m), out);
    model_free(&m);
    return rc ? fail() : 0;
}

// A bare .weights.h5 that does not fit the configured model: the file holds no config, so add to the
// shape error the keys whose values its shapes imply (e.g. --set model.alpha=0.35).
static void weights_mismatch_hint(const char *file, const gs_config *cfg) {
    char err[1024];
    snprintf(err, sizeof err, "%s", gs_last_error());
    gs_model_arch a;
    model_arch_from_config(&a, cfg);
    if (keras_weights_arch(&a, file)) {  // not the seed's head: the shape error is all there is to say
        gs_error("%s", err);
        return;
    }
    char sets[256] = "";
    size_t n = 0;
    double alpha = round(a.alpha * 100.0) / 100.0;
    if (alpha != cfg->model.alpha) n += (size_t)snprintf(sets + n, sizeof sets - n, " --set model.alpha=%g", alpha);
    if (a.gru_units != cfg->model.gru_units)
        n += (size_t)snprintf(sets + n, sizeof sets - n, " --set model.gru_units=%d", a.gru_units);
    if (a.dense_units != cfg->model.dense_units)
        n += (size_t)snprintf(sets + n, sizeof sets - n, " --set model.dense_units=%d", a.dense_units);
    if (a.classes != cfg->model.classes)
        snprintf(sets + n, sizeof sets - n, " --set model.classes=%d", a.classes);
    if (sets[0]) gs_error("%s; a .weights.h5 holds no config, and its shapes are those of%s", err, sets);
    else gs_error("%s", err);
}

// D/config.ini with the resolved config and D/checkpoints/ for last.h5 (path into out, n bytes).
static int make_run_dir(char *out, size_t n, const char *dir, const char *ini) {
    char p[4200];
    snprintf(out, n, "%s/checkpoints/last.h5", dir);
    struct stat st;
    if (stat(out, &st) == 0) return gs_error("%s already holds a run (%s exists)", dir, out);
    snprintf(p, sizeof p, "%s/checkpoints", dir);
    if (fs_mkdir_p(p) != 0) return -1;
    snprintf(p, sizeof p, "%s/config.ini", dir);
    return fs_write_text(p, ini);
}

static int import_model(const char *file, const char *out_arg, const char *run_dir, gs_config *cfg,
                        const gs_keras_info *info, const char *class_list) {
    gs_model_arch arch;
    model_arch_from_config(&arch, cfg);
    gs_model m;
    if (model_init(&m, &arch)) return fail();
    int rc = 1;
    char *ini = NULL, **classes = NULL;
    gs_train_state st;
    double lr = info && isfinite(info->learning_rate) ? info->learning_rate : cfg->train.learning_rate;
    checkpoint_state_init(&st, lr);
    if (keras_load_model_file(&m, file)) {
        if (!info) weights_mismatch_hint(file, cfg);
        fail();
        goto out;
    }
    if (!(classes = make_classes(class_list, arch.classes))) {
        fail();
        goto out;
    }
    ini = config_to_ini(cfg);
    char out[4300];
    snprintf(out, sizeof out, "%s", out_arg ? out_arg : "");
    if ((run_dir && make_run_dir(out, sizeof out, run_dir, ini)) ||
        checkpoint_save(out, &m, &st, ini, (const char *const *)classes, arch.classes)) {
        fail();
        goto out;
    }
    printf("%s%s%s%s: alpha %.2f, %dx%d, %d frames, %d classes, GRU %d, dense %d; %zu parameters\n", file,
           info && info->keras_version[0] ? " (Keras " : "", info ? info->keras_version : "",
           info && info->keras_version[0] ? ")" : "", cfg->model.alpha, arch.size, arch.size, arch.frames,
           arch.classes, arch.gru_units, arch.dense_units, model_param_count(&m));
    if (!info)
        printf("note: a .weights.h5 holds no input shape: data.frames = %d and data.size = %d are the config's%s\n",
               arch.frames, arch.size, " (--set data.frames=N --set data.size=S if the model was trained on others)");
    if (m.adam_t > 0 || (info && info->has_adam_slots))
        printf("optimizer: Adam moments and step count %ld imported (learning rate %g)\n", m.adam_t, lr);
    else if (info && info->optimizer_vars > 2)
        printf("note: the file's optimizer (%d arrays) is not an Adam over these weights: moments start at zero\n",
               info->optimizer_vars);
    else printf("optimizer: none saved (untrained or uncompiled model): Adam moments start at zero\n");
    printf("classes: ");
    for (int i = 0; i < arch.classes; i++) printf("%s%s", i ? ", " : "", classes[i]);
    printf("%s\n-> %s (gesture checkpoint)\n", class_list || arch.classes == GS_SYNTH_CLASSES ? "" : " (use --classes)",
           out);
    if (run_dir)
        printf("continue training: gesture train --resume %s; evaluate: gesture eval %s%s\n", run_dir, run_dir,
               cfg->data.root[0] ? "" : " --data ROOT (data.root is not set)");
    rc = 0;
out:
    free(ini);
    checkpoint_free_classes(classes, arch.classes);
    checkpoint_state_free(&st);
    model_free(&m);
    return rc;
}

int cmd_import_keras(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        cli_print_usage("import-keras");
        fputs(OPTIONS, stdout);
        return 0;
    }
    const char *pos[2] = {NULL, NULL}, *config = NULL, *class_list = NULL, *run_dir = NULL;
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--set") || !strcmp(a, "--config") || !strcmp(a, "--classes") || !strcmp(a, "--run-dir")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "gesture import-keras: %s needs a value\n", a);
                return 2;
            }
            i++;
            if (!strcmp(a, "--config")) config = argv[i];
            if (!strcmp(a, "--classes")) class_list = argv[i];
            if (!strcmp(a, "--run-dir")) run_dir = argv[i];
        } else if (a[0] == '-') {
            fprintf(stderr, "gesture import-keras: unknown option '%s' (see gesture import-keras --help)\n", a);
            return 2;
        } else if (npos == 2) {
            fprintf(stderr, "gesture import-keras: expected FILE and OUT.h5, got a third argument '%s'\n", a);
            return 2;
        } else {
            pos[npos++] = a;
        }
    }
    if (npos != (run_dir ? 1 : 2)) {
        fprintf(stderr, "gesture import-keras: expected FILE.keras|FILE.h5 and %s (e.g. gesture import-keras "
                        "best_model.keras imported.h5, or best_model.keras --run-dir runs/keras_seed)\n",
                run_dir ? "no OUT.h5 with --run-dir" : "OUT.h5");
        return 2;
    }
    int kind = keras_file_kind(pos[0]);
    if (kind < 0) return fail();
    gs_config cfg;
    config_defaults(&cfg);
    if (config && config_load(&cfg, config)) return fail();
    // a Keras model of the seed pipeline saw frames resized by cv2.resize: predict and train on the same
    // pixels (a --config or --set data.resize decides otherwise)
    if (!config && (kind == GS_KERAS_ARCHIVE || kind == GS_KERAS_WEIGHTS)) cfg.data.resize = GS_RESIZE_CV2;
    gs_keras_info info;
    int have_info = 0;
    if (kind == GS_KERAS_ARCHIVE) {
        gs_model_arch a;
        if (keras_infer_arch(&a, &info, pos[0])) return fail();
        have_info = 1;
        cfg.model.alpha = round(a.alpha * 100.0) / 100.0;  // the config's exact width value
        cfg.model.gru_units = a.gru_units;
        cfg.model.dense_units = a.dense_units;
        cfg.model.classes = a.classes;
        cfg.model.dropout = round(a.dropout * 1e6) / 1e6;
        cfg.data.frames = a.frames;
        cfg.data.size = a.size;
        cfg.train.l2 = a.l2;
        // Keras 3's TimeDistributed normalizes each time step on its own, tf.keras 2's all frames at once
        if (info.keras_version[0] == '3' || info.keras_version[0] == '2')
            cfg.model.bn_time = info.keras_version[0] == '3' ? GS_BN_TIME_KERAS3 : GS_BN_TIME_KERAS2;
    } else if (kind == GS_KERAS_WEIGHTS) {
        // no config in the file: the model keys its shapes determine (a --set below still wins); the
        // input shape is not in the weights, so data.frames and data.size stay the config's (said below)
        gs_model_arch a;
        model_arch_from_config(&a, &cfg);
        if (keras_weights_arch(&a, pos[0]) == 0) {
            cfg.model.alpha = round(a.alpha * 100.0) / 100.0;
            cfg.model.gru_units = a.gru_units;
            cfg.model.dense_units = a.dense_units;
            cfg.model.classes = a.classes;
        }
    } else if (kind == GS_KERAS_LEGACY || kind == GS_KERAS_BACKBONE) {
        float alpha;
        if (keras_backbone_h5_alpha(&alpha, pos[0])) return fail();
        cfg.model.alpha = round(alpha * 100.0) / 100.0;
    }
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--set") && config_set(&cfg, argv[++i])) return fail();
    if (config_validate(&cfg)) return fail();
    if (kind == GS_KERAS_LEGACY || kind == GS_KERAS_BACKBONE) {
        if (run_dir) {
            fprintf(stderr, "gesture import-keras: %s holds MobileNetV2 weights only: --run-dir needs a whole model; "
                            "train from it with --set model.pretrained=%s\n", pos[0], pos[0]);
            return 2;
        }
        return import_backbone(pos[0], pos[1], &cfg);
    }
    return import_model(pos[0], pos[1], run_dir, &cfg, have_info ? &info : NULL, class_list);
}
