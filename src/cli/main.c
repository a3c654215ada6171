// `gesture` CLI entry: dispatches to subcommands (src/cli/cmd_*.c).
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const cli_command COMMANDS[] = {
    {"summary", cmd_summary, "CONFIG.ini [--set section.key=value]...",
     "Print the model's layer table (output shapes, parameter counts) like Keras' model.summary()."},
};
static const int N_COMMANDS = (int)(sizeof COMMANDS / sizeof COMMANDS[0]);

int cli_wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return 1;
    return 0;
}

void cli_print_usage(const char *name) {
    for (int i = 0; i < N_COMMANDS; i++)
        if (!strcmp(COMMANDS[i].name, name))
            printf("usage: gesture %s %s\n\n%s\n", name, COMMANDS[i].usage, COMMANDS[i].help);
}

static void print_main_help(FILE *f) {
    fprintf(f,
            "gesture: train, evaluate and run MobileNetV2 + BiGRU hand-gesture classifiers.\n\n"
            "usage: gesture <command> [args]   (gesture <command> --help for details)\n\ncommands:\n");
    for (int i = 0; i < N_COMMANDS; i++) fprintf(f, "  %-14s %s\n", COMMANDS[i].name, COMMANDS[i].help);
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        print_main_help(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (int i = 0; i < N_COMMANDS; i++)
        if (!strcmp(argv[1], COMMANDS[i].name)) return COMMANDS[i].run(argc - 1, argv + 1);
    fprintf(stderr, "gesture: unknown command '%s' (run 'gesture --help' for the list)\n", argv[1]);
    return 2;
}
