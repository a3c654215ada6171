// `gesture train CONFIG.ini [--set k=v]... [--run-dir D] [--resume D]`: the main job.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "gesture/checkpoint.h"
#include "gesture/config.h"
#include "gesture/errors.h"
#include "gesture/fsutil.h"
#include "gesture/trainer.h"

static int exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}

// A few lines on what is about to run; the full resolved config goes to RUN/config.ini (-v: here too).
static void print_summary(const gs_config *c, const char *run_dir, int verbose) {
    const char *sampling = c->data.sampling == GS_SAMPLING_STRIDE ? "stride" : "uniform";
    printf("run    %s (full config in config.ini%s)\n", run_dir, verbose ? ", printed below" : "; -v prints it");
    printf("data   %s: %d frames of %dx%d (%s)\n", c->data.root, c->data.frames, c->data.size, c->data.size, sampling);
    printf("model  MobileNetV2 alpha %g + BiGRU(%d) + Dense(%d), %d classes, %s%s\n", c->model.alpha,
           c->model.gru_units, c->model.dense_units, c->model.classes,
           c->model.pretrained[0] ? "backbone from " : "random init", c->model.pretrained);
    printf("train  %d epochs, batch %d, lr %g, device %s\n", c->train.epochs, c->train.batch_size,
           c->train.learning_rate, config_device_name(c->runtime.device));
    if (verbose) {
        char *ini = config_to_ini(c);
        printf("resolved config:\n%s\n", ini);
        free(ini);
    }
}

int cmd_train(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help-config") || !strcmp(argv[i], "--help-config=text")) {
            config_print_help(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--help-config=markdown")) {  // docs/config.md
            config_print_help_markdown(stdout);
            return 0;
        }
        if (!strncmp(argv[i], "--help-config=", 14)) {
            fprintf(stderr, "gesture train: --help-config=%s: use text or markdown\n", argv[i] + 14);
            return 2;
        }
    }
    if (cli_wants_help(argc, argv)) {
        cli_print_usage("train");
        printf("\nOptions:\n"
               "  --set section.key=value  override a config key (repeatable; same checks as the file)\n"
               "  --run-dir D              write the run here (default: <output.runs_dir>/<output.name>,\n"
               "                           name from the config file; a suffix _2, _3... avoids overwriting)\n"
               "  --resume D               continue the run in D from D/checkpoints/last.h5 (its config.ini;\n"
               "                           CONFIG.ini may be omitted)\n"
               "  -v, --verbose            print the full resolved config (always written to D/config.ini)\n"
               "  --help-config[=markdown] list every config key with type, default, range and help\n"
               "                           (markdown: the page docs/config.md)\n"
               "Ctrl-C saves D/checkpoints/last.h5 and exits; --resume continues exactly.\n");
        return 0;
    }
    const char *path = NULL, *run_dir = NULL, *resume = NULL;
    int verbose = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
            verbose = 1;
        } else if (!strcmp(argv[i], "--set") || !strcmp(argv[i], "--run-dir") || !strcmp(argv[i], "--resume")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "gesture train: %s needs a value (see gesture train --help)\n", argv[i]);
                return 2;
            }
            if (!strcmp(argv[i], "--run-dir")) run_dir = argv[i + 1];
            if (!strcmp(argv[i], "--resume")) resume = argv[i + 1];
            i++;
        } else if (argv[i][0] == '-' || path) {
            fprintf(stderr, "gesture train: unexpected argument '%s' (see gesture train --help)\n", argv[i]);
            return 2;
        } else {
            path = argv[i];
        }
    }
    gs_config cfg;
    char buf[4096];
    if (resume) {
        // the run's own resolved config is the truth; a CONFIG.ini or --set must not change it silently
        snprintf(buf, sizeof buf, "%s/config.ini", resume);
        if (path) {
            fprintf(stderr, "gesture train: --resume uses %s; do not pass a config file as well\n", buf);
            return 2;
        }
        for (int i = 1; i < argc; i++)
            if (!strcmp(argv[i], "--set")) {
                fprintf(stderr, "gesture train: --set cannot change a run being resumed (%s)\n", buf);
                return 2;
            }
        if (cli_load_config(&cfg, buf, argc, argv)) goto config_error;  // no --set here (checked above)
        run_dir = resume;
    } else {
        if (!path) {
            fprintf(stderr, "gesture train: missing CONFIG.ini (e.g. gesture train experiments/quickstart.ini)\n");
            return 2;
        }
        if (cli_load_config(&cfg, path, argc, argv)) goto config_error;
    }
    if (train_check(&cfg)) goto config_error;  // before anything is printed or created
    static char dir[4200];
    if (!run_dir) {
        char name[1024];
        config_run_name(&cfg, name, sizeof name);
        snprintf(dir, sizeof dir, "%s/%s", cfg.output.runs_dir, name);
        for (int k = 2; exists(dir); k++) snprintf(dir, sizeof dir, "%s/%s_%d", cfg.output.runs_dir, name, k);
        if (fs_mkdir_p(cfg.output.runs_dir) != 0) {  // fail before the data set and model load
            fprintf(stderr, "gesture train: %s\n", gs_last_error());
            return 1;
        }
        run_dir = dir;
        // the run directory's name is the run's name from now on
        snprintf(cfg.output.name, sizeof cfg.output.name, "%s", strrchr(dir, '/') + 1);
    } else if (!resume && exists(run_dir)) {
        snprintf(buf, sizeof buf, "%s/checkpoints/last.h5", run_dir);
        if (exists(buf)) {
            fprintf(stderr, "gesture train: %s already holds a run; continue it with --resume %s or pick another "
                            "--run-dir\n", run_dir, run_dir);
            return 1;
        }
    }
    // line-buffered even into a file or pipe: `gesture train ... > log` shows each epoch as it ends
    // (only from here: `--help | grep -q` still gets its text in one write)
    setvbuf(stdout, NULL, _IOLBF, 0);
    print_summary(&cfg, run_dir, verbose);
    return train_run(&cfg, run_dir, resume != NULL);

config_error:
    fprintf(stderr, "gesture train: %s\n", gs_last_error());
    return 1;
}
