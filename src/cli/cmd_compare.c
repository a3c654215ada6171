// `gesture compare RUN_DIR RUN_DIR...`: one table of finished runs side by side (frames, best validation
// accuracy and loss with their epochs, test accuracy, epochs, speed, memory) and their validation
// curves overlaid in one figure.
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gesture/config.h"
#include "gesture/csv.h"
#include "gesture/errors.h"
#include "gesture/fsutil.h"
#include "gesture/plots.h"
#include "gesture/trainlog.h"

static const char *OPTIONS =
    "\nEach RUN_DIR is a training run (runs/<name>/) with log.h5. Read from it: config.ini (frames),\n"
    "log.h5 (epochs run, best val_accuracy and lowest val_loss with their epochs, counted from 1 as gesture\n"
    "train prints them; training_log.csv's epoch column is Keras' 0-based index),\n"
    "eval/best/test/metrics.ini (the test accuracy of checkpoints/best.h5, written by gesture eval RUN_DIR)\n"
    "and timing.ini (s/epoch, img/s, peak memory over the whole run, written by gesture train); what a run\n"
    "lacks shows as \"-\".\n"
    "\noptions:\n"
    "  --out DIR    where compare.png and compare.csv (the table, one value per column) go\n"
    "               (default: compare/ in the current directory, created if needed)\n"
    "  --no-plots   skip compare.png (it needs matplotlib)\n";

#define FIELD_MAX 64

typedef struct {
    char name[256];
    char frames[FIELD_MAX], best_acc[FIELD_MAX], best_loss[FIELD_MAX], test_acc[FIELD_MAX];
    // compare.csv splits "value (epoch)" into two columns, full precision ("" when absent)
    char acc_value[FIELD_MAX], acc_epoch[FIELD_MAX], loss_value[FIELD_MAX], loss_epoch[FIELD_MAX];
    char epochs[FIELD_MAX], s_epoch[FIELD_MAX], img_s[FIELD_MAX], peak_mb[FIELD_MAX];
} run_row;

// The keys of a flat `key = value` file we want, by name.
typedef struct {
    const char *const *keys;
    char (*values)[FIELD_MAX];
    int n;
} ini_pick;

static int pick_handler(void *user, const char *section, const char *name, const char *value) {
    ini_pick *p = user;
    (void)section;
    for (int i = 0; i < p->n; i++)
        if (!strcmp(name, p->keys[i])) snprintf(p->values[i], FIELD_MAX, "%s", value);
    return 1;
}

// Values of keys in dir/file ("" where absent). 1 if the file was read, 0 if it does not exist,
// -1 + gs_error if it is malformed.
static int read_ini_keys(char (*values)[FIELD_MAX], const char *const *keys, int n, const char *dir, const char *file) {
    for (int i = 0; i < n; i++) values[i][0] = '\0';
    char *path = fs_join(dir, file);
    if (!fs_is_file(path)) {
        free(path);
        return 0;
    }
    ini_pick p = {keys, values, n};
    int rc = ini_parse(path, pick_handler, &p);
    if (rc != 0) gs_error("%s:%d: not a key = value file", path, rc);
    free(path);
    return rc == 0 ? 1 : -1;
}

// A number from a key = value file with `decimals` decimals, or "-" when absent or not a number.
static void format_number(char *out, const char *value, int decimals) {
    char *end;
    double v = strtod(value, &end);
    if (!*value || *end || !isfinite(v)) snprintf(out, FIELD_MAX, "-");
    else snprintf(out, FIELD_MAX, "%.*f", decimals, v);
}

// best.h5's test accuracy: eval/best/test/metrics.ini, or in a run evaluated before results were
// kept per checkpoint, eval/test/metrics.ini when its checkpoint is best.h5. 0, or -1 + gs_error.
static int read_test_accuracy(char *out, const char *dir) {
    static const char *const keys[] = {"accuracy", "checkpoint"};
    char v[2][FIELD_MAX];
    int rc = read_ini_keys(v, keys, 2, dir, "eval/best/test/metrics.ini");
    if (rc == 0) {
        rc = read_ini_keys(v, keys, 2, dir, "eval/test/metrics.ini");
        const char *base = strrchr(v[1], '/');
        if (rc > 0 && strcmp(base ? base + 1 : v[1], "best.h5")) v[0][0] = '\0';  // another checkpoint's
    }
    if (rc < 0) return -1;
    format_number(out, v[0], 4);
    return 0;
}

static int load_run(run_row *r, const char *dir) {
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') len--;
    const char *base = dir + len;
    while (base > dir && base[-1] != '/') base--;
    snprintf(r->name, sizeof r->name, "%.*s", (int)(dir + len - base), base);

    char *log = fs_join(dir, "log.h5");
    if (!fs_is_file(log)) {
        gs_error("%s: no log.h5 (not a training run directory, or no epoch has finished yet)", dir);
        free(log);
        return -1;
    }
    gs_epoch_row *rows = NULL;
    int n = 0;
    int rc = trainlog_read(log, &rows, &n);
    free(log);
    if (rc != 0) return -1;
    int ia = -1, il = -1;  // first epoch reaching the best value (strictly better, as Keras' monitors)
    for (int i = 0; i < n; i++) {
        if (isfinite(rows[i].val_accuracy) && (ia < 0 || rows[i].val_accuracy > rows[ia].val_accuracy)) ia = i;
        if (isfinite(rows[i].val_loss) && (il < 0 || rows[i].val_loss < rows[il].val_loss)) il = i;
    }
    snprintf(r->best_acc, FIELD_MAX, "-");
    snprintf(r->best_loss, FIELD_MAX, "-");
    r->acc_value[0] = r->acc_epoch[0] = r->loss_value[0] = r->loss_epoch[0] = '\0';
    // epochs as the console prints them (1-based); the log's column is Keras' 0-based index
    if (ia >= 0) {
        snprintf(r->best_acc, FIELD_MAX, "%.4f (%d)", rows[ia].val_accuracy, rows[ia].epoch + 1);
        snprintf(r->acc_value, FIELD_MAX, "%.9g", rows[ia].val_accuracy);
        snprintf(r->acc_epoch, FIELD_MAX, "%d", rows[ia].epoch + 1);
    }
    if (il >= 0) {
        snprintf(r->best_loss, FIELD_MAX, "%.4f (%d)", rows[il].val_loss, rows[il].epoch + 1);
        snprintf(r->loss_value, FIELD_MAX, "%.9g", rows[il].val_loss);
        snprintf(r->loss_epoch, FIELD_MAX, "%d", rows[il].epoch + 1);
    }
    free(rows);
    snprintf(r->epochs, FIELD_MAX, "%d", n);  // the whole history, every --resume included

    snprintf(r->frames, FIELD_MAX, "-");
    char *cfg_path = fs_join(dir, "config.ini");
    if (fs_is_file(cfg_path)) {
        gs_config c;
        config_defaults(&c);
        if (config_load(&c, cfg_path) != 0) {
            free(cfg_path);
            return -1;
        }
        snprintf(r->frames, FIELD_MAX, "%d", c.data.frames);
    }
    free(cfg_path);

    if (read_test_accuracy(r->test_acc, dir) < 0) return -1;

    static const char *const timing_keys[] = {"seconds_per_epoch", "train_img_per_s", "peak_rss_mb"};
    char timing[3][FIELD_MAX];
    if (read_ini_keys(timing, timing_keys, 3, dir, "timing.ini") < 0) return -1;
    format_number(r->s_epoch, timing[0], 1);
    format_number(r->img_s, timing[1], 1);
    format_number(r->peak_mb, timing[2], 0);
    return 0;
}

static const char *const HEADERS[] = {"run", "frames", "best val acc (ep)", "best val loss (ep)",
                                      "test acc (best.h5)", "epochs", "s/epoch", "img/s", "peak MB"};
#define N_COLS 9

static const char *cell(const run_row *r, int c) {
    const char *v[N_COLS] = {r->name, r->frames, r->best_acc, r->best_loss, r->test_acc,
                             r->epochs, r->s_epoch, r->img_s, r->peak_mb};
    return v[c];
}

static const char *const CSV_HEADERS[] = {"run", "frames", "best_val_accuracy", "best_val_accuracy_epoch",
                                          "best_val_loss", "best_val_loss_epoch", "test_accuracy", "epochs",
                                          "seconds_per_epoch", "train_img_per_s", "peak_rss_mb"};
#define N_CSV_COLS 11

static const char *csv_value(const run_row *r, int c) {
    const char *v[N_CSV_COLS] = {r->name, r->frames, r->acc_value, r->acc_epoch, r->loss_value, r->loss_epoch,
                                 r->test_acc, r->epochs, r->s_epoch, r->img_s, r->peak_mb};
    return strcmp(v[c], "-") ? v[c] : "";
}

// One line of compare.csv: r's values, or the header when r is NULL.
static void csv_line(FILE *f, const run_row *r) {
    for (int c = 0; c < N_CSV_COLS; c++) {
        if (c) fputc(',', f);
        csv_write_field(f, r ? csv_value(r, c) : CSV_HEADERS[c], ',');
    }
    fputc('\n', f);
}

int cmd_compare(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        cli_print_usage("compare");
        fputs(OPTIONS, stdout);
        return 0;
    }
    const char *out = "compare";  // a folder of its own: the working directory is not cluttered
    int plots = 1, n = 0;
    const char **dirs = gs_calloc((size_t)argc, sizeof(char *));
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--out")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "gesture compare: --out needs a folder\n");
                free(dirs);
                return 2;
            }
            out = argv[++i];
        } else if (!strcmp(argv[i], "--no-plots")) plots = 0;
        else if (argv[i][0] == '-') {
            fprintf(stderr, "gesture compare: unknown option '%s' (see gesture compare --help)\n", argv[i]);
            free(dirs);
            return 2;
        } else dirs[n++] = argv[i];
    }
    if (n < 1) {
        fprintf(stderr, "gesture compare: give one or more run directories (e.g. gesture compare runs/seed_15f "
                        "runs/seed_30f)\n");
        free(dirs);
        return 2;
    }
    run_row *rows = gs_calloc((size_t)n, sizeof(run_row));
    int ok = 0, failed = 0;
    const char **good = gs_calloc((size_t)n + 2, sizeof(char *));
    for (int i = 0; i < n; i++) {
        if (load_run(&rows[ok], dirs[i]) != 0) {
            fprintf(stderr, "gesture compare: %s\n", gs_last_error());
            failed++;
            continue;
        }
        good[1 + ok++] = dirs[i];
    }
    int rc = failed ? 1 : 0;
    if (ok > 0) {
        int w[N_COLS];
        for (int c = 0; c < N_COLS; c++) {
            w[c] = (int)strlen(HEADERS[c]);
            for (int i = 0; i < ok; i++)
                if ((int)strlen(cell(&rows[i], c)) > w[c]) w[c] = (int)strlen(cell(&rows[i], c));
        }
        for (int c = 0; c < N_COLS; c++) printf(c ? "  %*s" : "%-*s", w[c], HEADERS[c]);
        putchar('\n');
        for (int i = 0; i < ok; i++) {
            for (int c = 0; c < N_COLS; c++) printf(c ? "  %*s" : "%-*s", w[c], cell(&rows[i], c));
            putchar('\n');
        }
        char *csv = NULL, *png = NULL;
        if (fs_mkdir_p(out) != 0) {
            fprintf(stderr, "gesture compare: %s\n", gs_last_error());
            rc = 1;
        } else {
            csv = fs_join(out, "compare.csv");
            png = fs_join(out, "compare.png");
            FILE *f = fopen(csv, "w");
            if (f) {
                csv_line(f, NULL);
                for (int i = 0; i < ok; i++) csv_line(f, &rows[i]);
            }
            if (!f || fclose(f) != 0) {
                fprintf(stderr, "gesture compare: cannot write %s\n", csv);
                rc = 1;
            }
            if (plots) {
                good[0] = "compare";
                good[1 + ok] = png;
                if (plots_run(good, ok + 2) != 0) {
                    fprintf(stderr, "gesture compare: %s\n", gs_last_error());
                    rc = 1;
                } else {
                    printf("\nwrote %s and %s\n", csv, png);
                }
            } else if (rc == 0) {
                printf("\nwrote %s\n", csv);
            }
        }
        free(csv);
        free(png);
    }
    free(good);
    free(rows);
    free(dirs);
    return rc;
}
