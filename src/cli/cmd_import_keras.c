// `gesture import-keras FILE OUT.h5`: Keras files -> our files. A whole seed model (`.keras`,
// `.weights.h5`, legacy whole-model or save_weights `.h5`; Keras 3 or tf.keras / tf_keras 2) becomes a
// gesture checkpoint (weights, Adam state when the file has it, resolved config, class names) for
// eval / predict / train --resume; a legacy MobileNetV2 no-top `.h5` (the ImageNet file) is verified
// against the model and written as a gesture-backbone file.
#include <math.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "import_history.h"
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
    "  --history LOG.csv        the Keras run's CSVLogger log (the seed's training_log.csv): its epochs go\n"
    "                           into the checkpoint (and the run directory's training_log.csv, log.h5),\n"
    "                           so training resumes at the next epoch with the callbacks' state those\n"
    "                           epochs imply; the learning rate is the file's optimizer's\n"
    "\nFILE (what it is is told by its content, not its name):\n"
    "  MODEL.keras   model.save() of the seed architecture by Keras 3 or tf.keras / tf_keras 2.13+ (e.g. the\n"
    "                seed's best_model.keras) -> OUT is a gesture checkpoint; model.alpha, gru_units,\n"
    "                dense_units, classes from its shapes, data.frames, data.size, dropout, L2 from its\n"
    "                config; a trained file's Adam state and step count come along (variables of layers\n"
    "                frozen in Keras have no Adam state: theirs starts at zero)\n"
    "  MODEL.h5      legacy whole-model save, model.save('m.h5') by tf.keras / tf_keras 2 or Keras 3 (weights\n"
    "                under /model_weights, model_config, optimizer_weights) -> checkpoint, like a .keras\n"
    "  X.weights.h5  Keras 3 / tf_keras save_weights() / gesture export-keras -> checkpoint; W.h5: tf_keras\n"
    "                save_weights('w.h5') of the whole model (legacy layout, no config). model.alpha,\n"
    "                gru_units, dense_units and classes come from their shapes; they hold no input shape,\n"
    "                so data.frames and data.size are the config's (--set them; a --set model.* that\n"
    "                contradicts the shapes names the values they imply)\n"
    "  legacy .h5    MobileNetV2 no-top weights (mobilenet_v2_weights_tf_dim_ordering_tf_kernels_*_no_top.h5)\n"
    "                -> OUT holds only the backbone as /weights/<layer>/<var> (format gesture-backbone),\n"
    "                after checking every shape; OUT works as model.pretrained like the original\n"
    "Tested with Keras 3.15.1 and tf_keras 2.21.0 files (tests/fixtures/keras, tests/fixtures/keras2).\n";

// The decimal a float32 value from a Keras config was written as (5e-4 for 0.0005000000237487257).
static double decimal(float x) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.7g", (double)x);
    return strtod(buf, NULL);
}

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
    if (sets[0]) gs_error("%s; the file holds no config, and its shapes are those of%s", err, sets);
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

// What a file without a config is, for the notes.
static const char *bare_kind(int kind) {
    return kind == GS_KERAS_LEGACY_WEIGHTS ? "a save_weights .h5" : "a .weights.h5";
}

static void print_optimizer(const gs_model *m, const gs_keras_info *info, double lr) {
    int n_tr = 0;
    for (int i = 0; i < m->params.n; i++) n_tr += m->params.p[i].trainable;
    if (m->adam_t > 0 || info->has_adam_slots) {
        if (info->adam_vars < n_tr)
            printf("optimizer: Adam moments of %d of the %d trainable arrays and step count %ld imported (learning "
                   "rate %g); the other %d were frozen in Keras: their moments start at zero\n",
                   info->adam_vars, n_tr, m->adam_t, lr, n_tr - info->adam_vars);
        else printf("optimizer: Adam moments and step count %ld imported (learning rate %g)\n", m->adam_t, lr);
    } else if (info->optimizer_vars > 2) {
        printf("note: the file's optimizer (%d arrays) is not an Adam over these weights: moments start at zero\n",
               info->optimizer_vars);
    } else {
        printf("optimizer: none saved (untrained or uncompiled model): Adam moments start at zero\n");
    }
}

static int import_model(const char *file, const char *out_arg, const char *run_dir, gs_config *cfg, int kind,
                        const gs_keras_info *info, const char *class_list, const char *history) {
    gs_model_arch arch;
    model_arch_from_config(&arch, cfg);
    gs_model m;
    if (model_init(&m, &arch)) return fail();
    int rc = 1;
    char *ini = NULL, **classes = NULL;
    gs_keras_history h = {0};
    gs_train_state st;
    double lr = isfinite(info->learning_rate) ? info->learning_rate : cfg->train.learning_rate;
    checkpoint_state_init(&st, lr);
    if (keras_load_model_file(&m, file)) {
        if (!info->has_config) weights_mismatch_hint(file, cfg);
        fail();
        goto out;
    }
    if (!(classes = make_classes(class_list, arch.classes))) {
        fail();
        goto out;
    }
    if (history && (keras_history_read(&h, history) || import_history_apply(&st, &h, cfg, lr))) {
        fail();
        goto out;
    }
    ini = config_to_ini(cfg);
    char out[4300];
    snprintf(out, sizeof out, "%s", out_arg ? out_arg : "");
    if ((run_dir && make_run_dir(out, sizeof out, run_dir, ini)) ||
        checkpoint_save(out, &m, &st, ini, (const char *const *)classes, arch.classes) ||
        (run_dir && history &&
         import_history_write_run(run_dir, &m, &st, ini, (const char *const *)classes, arch.classes))) {
        fail();
        goto out;
    }
    printf("%s%s%s%s: alpha %.2f, %dx%d, %d frames, %d classes, GRU %d, dense %d; %zu parameters\n", file,
           info->keras_version[0] ? " (Keras " : "", info->keras_version, info->keras_version[0] ? ")" : "",
           cfg->model.alpha, arch.size, arch.size, arch.frames, arch.classes, arch.gru_units, arch.dense_units,
           model_param_count(&m));
    if (!info->has_config)
        printf("note: %s holds no input shape: data.frames = %d and data.size = %d are the config's%s\n",
               bare_kind(kind), arch.frames, arch.size,
               " (--set data.frames=N --set data.size=S if the model was trained on others)");
    print_optimizer(&m, info, lr);
    if (history) import_history_print(&h, &st, history);
    printf("classes: ");
    for (int i = 0; i < arch.classes; i++) printf("%s%s", i ? ", " : "", classes[i]);
    printf("%s\n-> %s (gesture checkpoint)\n", class_list || arch.classes == GS_SYNTH_CLASSES ? "" : " (use --classes)",
           out);
    if (run_dir)
        printf("continue training: gesture train --resume %s; evaluate: gesture eval %s%s\n", run_dir, run_dir,
               cfg->data.root[0] ? "" : " --data ROOT (data.root is not set)");
    rc = 0;
out:
    keras_history_free(&h);
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
    const char *pos[2] = {NULL, NULL}, *config = NULL, *class_list = NULL, *run_dir = NULL, *history = NULL;
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--set") || !strcmp(a, "--config") || !strcmp(a, "--classes") || !strcmp(a, "--run-dir") ||
            !strcmp(a, "--history")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "gesture import-keras: %s needs a value\n", a);
                return 2;
            }
            i++;
            if (!strcmp(a, "--config")) config = argv[i];
            if (!strcmp(a, "--classes")) class_list = argv[i];
            if (!strcmp(a, "--run-dir")) run_dir = argv[i];
            if (!strcmp(a, "--history")) history = argv[i];
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
    int backbone = kind == GS_KERAS_LEGACY || kind == GS_KERAS_BACKBONE;
    // a Keras model of the seed pipeline saw frames resized by cv2.resize: predict and train on the same
    // pixels (a --config or --set data.resize decides otherwise)
    if (!config && !backbone) cfg.data.resize = GS_RESIZE_CV2;
    gs_keras_info info;
    memset(&info, 0, sizeof info);
    info.learning_rate = NAN;
    if (!backbone) {
        // the model keys the weight shapes determine and, from a config in the file, data.frames,
        // data.size, dropout and L2 (a --set below still wins). A file without a config (.weights.h5,
        // save_weights .h5) that does not fit may still load under --set keys: its load error then
        // names the shapes and the keys they imply
        gs_model_arch a;
        model_arch_from_config(&a, &cfg);
        int rc = keras_read_model_info(&a, &info, pos[0]);
        if (rc && (kind == GS_KERAS_ARCHIVE || kind == GS_KERAS_LEGACY_MODEL)) return fail();
        if (rc == 0) {
            cfg.model.alpha = round(a.alpha * 100.0) / 100.0;  // the config's exact width value
            cfg.model.gru_units = a.gru_units;
            cfg.model.dense_units = a.dense_units;
            cfg.model.classes = a.classes;
        }
        // Keras 3's TimeDistributed normalizes each time step on its own, tf.keras 2's all frames at once
        if (rc == 0 && info.keras_major)
            cfg.model.bn_time = info.keras_major == 3 ? GS_BN_TIME_KERAS3 : GS_BN_TIME_KERAS2;
        if (rc == 0 && info.has_config) {
            cfg.model.dropout = round(a.dropout * 1e6) / 1e6;
            cfg.data.frames = a.frames;
            cfg.data.size = a.size;
            cfg.train.l2 = decimal(a.l2);
        }
    } else {
        float alpha;
        if (keras_backbone_h5_alpha(&alpha, pos[0])) return fail();
        cfg.model.alpha = round(alpha * 100.0) / 100.0;
    }
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--set") && config_set(&cfg, argv[++i])) return fail();
    if (config_validate(&cfg)) return fail();
    if (backbone) {
        if (run_dir) {
            fprintf(stderr, "gesture import-keras: %s holds MobileNetV2 weights only: --run-dir needs a whole model; "
                            "train from it with --set model.pretrained=%s\n", pos[0], pos[0]);
            return 2;
        }
        if (history) {
            fprintf(stderr, "gesture import-keras: %s holds MobileNetV2 weights only: --history needs a whole model\n",
                    pos[0]);
            return 2;
        }
        return import_backbone(pos[0], pos[1], &cfg);
    }
    return import_model(pos[0], pos[1], run_dir, &cfg, kind, &info, class_list, history);
}
