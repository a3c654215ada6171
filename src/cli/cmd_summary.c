// `gesture summary CONFIG.ini`: builds the model a config describes and prints its layer table.
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "gesture/config.h"
#include "gesture/errors.h"
#include "gesture/model.h"

int cmd_summary(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        cli_print_usage("summary");
        return 0;
    }
    const char *path = NULL;
    gs_config cfg;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--set")) {
            if (++i >= argc) {
                fprintf(stderr, "gesture summary: --set needs section.key=value\n");
                return 2;
            }
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "gesture summary: unknown option '%s' (see gesture summary --help)\n", argv[i]);
            return 2;
        } else if (path) {
            fprintf(stderr, "gesture summary: one config file expected, got '%s' and '%s'\n", path, argv[i]);
            return 2;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        fprintf(stderr, "gesture summary: missing CONFIG.ini (e.g. gesture summary experiments/seed_15f.ini)\n");
        return 2;
    }
    if (cli_load_config(&cfg, path, argc, argv)) {
        fprintf(stderr, "gesture: %s\n", gs_last_error());
        return 1;
    }
    gs_model_arch arch;
    model_arch_from_config(&arch, &cfg);
    gs_model m;
    if (model_init(&m, &arch)) {
        fprintf(stderr, "gesture: %s\n", gs_last_error());
        return 1;
    }
    model_summary(&m, stdout);
    model_free(&m);
    return 0;
}
