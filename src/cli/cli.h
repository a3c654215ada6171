// Subcommand entry points of the `gesture` binary. Each lives in src/cli/cmd_<name>.c, parses
// its own arguments, prints its own --help, and returns the process exit code.
#ifndef GESTURE_CLI_H
#define GESTURE_CLI_H

#include <stdio.h>

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);  // argv[0] is the subcommand name
    const char *usage;                  // one line: arguments
    const char *help;                   // one line: what it does
} cli_command;

// s as a JSON string literal (quotes, escapes) on f: predict's and stream's JSON output.
void cli_json_string(FILE *f, const char *s);
// True if argv contains -h or --help.
int cli_wants_help(int argc, char **argv);
// Print "usage: gesture <name> <usage>\n\n<help>\n" for a command.
void cli_print_usage(const char *name);

struct gs_config;
// Defaults, then `path` (if non-NULL), then every "--set k=v" in argv, then cross-key validation.
// 0 ok, -1 + gs_error (file:line or the override named).
int cli_load_config(struct gs_config *cfg, const char *path, int argc, char **argv);

int cmd_summary(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_stream(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_synth_long(int argc, char **argv);
int cmd_prepare(int argc, char **argv);
int cmd_import_keras(int argc, char **argv);
int cmd_export_keras(int argc, char **argv);
int cmd_export_onnx(int argc, char **argv);
int cmd_info(int argc, char **argv);

#endif
