// `gesture export-keras CHECKPOINT OUT.keras|OUT.weights.h5`: a gesture checkpoint as a whole Keras 3
// model (`.keras`, which keras.models.load_model opens), or its weights as a Keras 3 `.weights.h5`,
// which model.load_weights() reads into the seed model built in Keras with the same sizes (printed).
// --with-optimizer adds the Adam state for continuing training in Keras (.weights.h5).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <limits.h>

#include "cli.h"
#include "cli_checkpoint.h"
#include "gesture/checkpoint.h"
#include "gesture/config.h"
#include "gesture/errors.h"
#include "gesture/keras.h"
#include "gesture/model.h"

static const char *OPTIONS =
    "\noptions:\n"
    "  --with-optimizer  also write the Adam state (step count, learning rate, m and v), as Keras saves a\n"
    "                    compiled model whose optimizer is built. OUT.keras is then compiled (Adam,\n"
    "                    categorical_crossentropy, accuracy) and model.fit continues; for OUT.weights.h5,\n"
    "                    load it in Keras after model.optimizer.build(model.trainable_variables)\n"
    "\nOUT.keras: the whole model (architecture + weights, uncompiled): keras.models.load_model(\"OUT.keras\")\n"
    "opens it without gesture (compile it to train on). OUT.weights.h5: the weights only, for the seed\n"
    "model built in Keras (Keras reads other .h5 names as the legacy format).\n";

static int fail(gs_model *m, char *ini) {
    fprintf(stderr, "gesture: %s\n", gs_last_error());
    if (m) model_free(m);
    free(ini);
    return 1;
}

int cmd_export_keras(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        cli_print_usage("export-keras");
        fputs(OPTIONS, stdout);
        return 0;
    }
    const char *pos[2] = {NULL, NULL};
    int npos = 0, with_opt = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--with-optimizer")) {
            with_opt = 1;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "gesture export-keras: unknown option '%s' (see gesture export-keras --help)\n", argv[i]);
            return 2;
        } else if (npos == 2) {
            fprintf(stderr, "gesture export-keras: expected CHECKPOINT and OUT.keras or OUT.weights.h5, got a third "
                            "argument '%s'\n",
                    argv[i]);
            return 2;
        } else {
            pos[npos++] = argv[i];
        }
    }
    if (npos != 2) {
        fprintf(stderr, "gesture export-keras: expected CHECKPOINT and OUT.keras or OUT.weights.h5 "
                        "(e.g. gesture export-keras runs/seed_15f/checkpoints/best.h5 best.keras)\n");
        return 2;
    }
    size_t n = strlen(pos[1]);
    int whole = n >= 6 && !strcmp(pos[1] + n - 6, ".keras");
    if (!whole && (n < 11 || strcmp(pos[1] + n - 11, ".weights.h5"))) {
        fprintf(stderr, "gesture export-keras: %s: the name must end in .keras (the whole model) or .weights.h5 (the "
                        "weights; Keras' load_weights reads other .h5 names as the legacy format)\n", pos[1]);
        return 2;
    }
    // a run directory stands for its checkpoints/best.h5 (else last.h5), as for eval and predict
    char ckpt[PATH_MAX], run_dir[PATH_MAX];
    FILE *quiet = fopen("/dev/null", "w");
    int rc0 = cli_resolve_checkpoint(ckpt, run_dir, sizeof ckpt, pos[0], "export-keras", quiet ? quiet : stderr);
    if (quiet) fclose(quiet);
    if (rc0) return fail(NULL, NULL);
    pos[0] = ckpt;
    char *ini = NULL;
    if (checkpoint_read_config(pos[0], &ini)) return fail(NULL, NULL);
    gs_config cfg;
    config_defaults(&cfg);
    if (config_load_string(&cfg, ini, pos[0]) || config_validate(&cfg)) return fail(NULL, ini);
    gs_model_arch arch;
    model_arch_from_config(&arch, &cfg);
    arch.batch = 1;  // no forward pass here
    gs_model m;
    if (model_init(&m, &arch)) return fail(NULL, ini);
    if (whole) {
        gs_train_state st;
        checkpoint_state_init(&st, cfg.train.learning_rate);
        gs_keras_adam adam = {0, cfg.train.beta1, cfg.train.beta2, cfg.train.epsilon};
        int rc = with_opt ? checkpoint_load(pos[0], &m, &st, NULL, NULL, NULL)
                          : checkpoint_load_weights_only(pos[0], &m);
        adam.learning_rate = st.learning_rate;
        rc = rc || keras_export_model(&m, with_opt ? &adam : NULL, pos[1]);
        checkpoint_state_free(&st);
        if (rc) return fail(&m, ini);
        printf("%s -> %s: Keras 3 model (%zu parameters; input (batch, %d, %d, %d, 3), %s)%s\n", pos[0], pos[1],
               model_param_count(&m), arch.frames, arch.size, arch.size,
               cfg.data.normalize == GS_NORMALIZE_SYMMETRIC ? "frames scaled to [-1, 1]" : "frames scaled to [0, 1]",
               with_opt ? "; compiled: Adam state, categorical_crossentropy, accuracy" : "");
        printf("in Keras: model = keras.models.load_model(\"%s\")\n", pos[1]);
        model_free(&m);
        free(ini);
        return 0;
    }
    if (with_opt) {
        gs_train_state st;
        checkpoint_state_init(&st, cfg.train.learning_rate);
        int rc = checkpoint_load(pos[0], &m, &st, NULL, NULL, NULL) ||
                 keras_export_weights_adam(&m, st.learning_rate, pos[1]);
        checkpoint_state_free(&st);
        if (rc) return fail(&m, ini);
    } else if (checkpoint_load_weights_only(pos[0], &m) || keras_export_weights(&m, pos[1])) {
        return fail(&m, ini);
    }
    printf("%s -> %s: Keras 3 weights (%zu parameters%s)\n", pos[0], pos[1], model_param_count(&m),
           with_opt ? ", Adam state" : "");
    printf("in Keras: base = keras.applications.MobileNetV2(alpha=%g, include_top=False, weights=None, "
           "input_shape=(%d, %d, 3)),\n  then the seed Sequential with Input((%d, %d, %d, 3)), GRU(%d), Dense(%d), "
           "Dropout(%g), Dense(%d), and model.load_weights(\"%s\")\n",
           cfg.model.alpha, arch.size, arch.size, arch.frames, arch.size, arch.size, arch.gru_units,
           arch.dense_units, cfg.model.dropout, arch.classes, pos[1]);
    model_free(&m);
    free(ini);
    return 0;
}
