// `gesture train CONFIG.ini [--set k=v]... [--run-dir D] [--resume D]`: the main job.
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "gesture/checkpoint.h"
#include "gesture/config.h"
#include "gesture/dist.h"
#include "gesture/errors.h"
#include "gesture/fsutil.h"
#include "gesture/trainer.h"

static int exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}

// What `--set` may change on --resume: when and how training goes on, not what the checkpoint holds
// (weights, Adam state, loader order, callback state measured against a monitor).
static const char *const RESUME_KEYS[] = {
    "train.epochs",
    "callbacks.early_stopping", "callbacks.early_stopping_patience", "callbacks.early_stopping_min_delta",
    "callbacks.reduce_lr", "callbacks.reduce_lr_factor", "callbacks.reduce_lr_patience",
    "callbacks.reduce_lr_min_delta", "callbacks.reduce_lr_cooldown", "callbacks.min_lr",
    "output.plots", "runtime.threads", "runtime.profile_steps", "data.workers",
    "train.sync_bn", "runtime.dist_timeout",  // data-parallel runs: how ranks cooperate, not what was learned
};

// 0 when `next` differs from the run's config `run` only in RESUME_KEYS, else -1 + gs_error naming
// the other keys.
static int resume_changes_check(const gs_config *run, const gs_config *next) {
    char diff[8192], refused[1024] = "";
    config_diff(run, next, diff, sizeof diff);
    for (char *line = strtok(diff, "\n"); line; line = strtok(NULL, "\n")) {
        *strchr(line, ':') = '\0';  // "section.key: A -> B"
        int allowed = 0;
        for (size_t i = 0; i < sizeof RESUME_KEYS / sizeof RESUME_KEYS[0]; i++)
            allowed |= !strcmp(line, RESUME_KEYS[i]);
        size_t len = strlen(refused);
        if (!allowed) snprintf(refused + len, sizeof refused - len, "%s%s", len ? ", " : "", line);
    }
    if (!*refused) return 0;
    return gs_error("--resume cannot change %s: the checkpoint was made with the run's value (gesture train --help "
                    "lists what --set may change on resume)", refused);
}

// The config of a run being resumed: the run's own resolved config is the truth; --set may change
// only RESUME_KEYS. 0 ok, -1 + gs_error.
static int load_resumed_config(gs_config *cfg, const char *run_ini, int argc, char **argv) {
    gs_config run;
    if (cli_load_config(&run, run_ini, 0, NULL) || cli_load_config(cfg, run_ini, argc, argv)) return -1;
    return resume_changes_check(&run, cfg);
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

// Lock the run directory dir for this process until it exits, however it exits: dir/.lock, holding
// the pid (docs/formats.md). A second `gesture train` on dir is refused without touching it. 0, or
// -1 + gs_error "dir is in use by pid N".
static int lock_run_dir(const char *dir) {
    char lock[4300];
    snprintf(lock, sizeof lock, "%s/.lock", dir);
    return fs_lock_file(lock, dir) < 0 ? -1 : 0;  // the descriptor stays open: the lock is the process's
}

// The run directory, claimed and locked before anything in it is written: --run-dir (created when
// missing; refused when it already holds a run), else a new <output.runs_dir>/<run name>[_2, _3,
// ...] whose mkdir is the claim, so runs started at once never share one; output.name becomes the
// directory's name. *created: the directory is new. NULL + message.
static const char *claim_run_dir(gs_config *cfg, const char *run_dir, int *created) {
    static char dir[4200];
    char buf[4300];
    *created = 0;
    if (!run_dir) {
        char name[1024];
        config_run_name(cfg, name, sizeof name);
        if (fs_mkdir_p(cfg->output.runs_dir) != 0) goto fail;  // fail before the data set and model load
        snprintf(dir, sizeof dir, "%s/%s", cfg->output.runs_dir, name);
        for (int k = 2; mkdir(dir, 0777) != 0; k++) {
            if (errno != EEXIST) {
                gs_error("%s: cannot create: %s", dir, strerror(errno));
                goto fail;
            }
            snprintf(dir, sizeof dir, "%s/%s_%d", cfg->output.runs_dir, name, k);
        }
        *created = 1;
        // the run directory's name is the run's name from now on
        snprintf(cfg->output.name, sizeof cfg->output.name, "%s", strrchr(dir, '/') + 1);
        run_dir = dir;
    } else {
        *created = !exists(run_dir);
        if (fs_mkdir_p(run_dir) != 0) goto fail;
    }
    if (lock_run_dir(run_dir)) goto fail;
    snprintf(buf, sizeof buf, "%s/checkpoints/last.h5", run_dir);
    if (exists(buf)) {
        fprintf(stderr, "gesture train: %s already holds a run; continue it with --resume %s or pick another "
                        "--run-dir\n", run_dir, run_dir);
        return NULL;
    }
    return run_dir;
fail:
    fprintf(stderr, "gesture train: %s\n", gs_last_error());
    return NULL;
}

// A new run directory of a run that failed before writing to it (it holds only its .lock) is
// removed again, as if the run had never started.
static void unclaim_run_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    int other = 0;
    for (struct dirent *e; (e = readdir(d));)
        other |= strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, ".lock");
    closedir(d);
    if (other) return;
    char lock[4300];
    snprintf(lock, sizeof lock, "%s/.lock", dir);
    if (unlink(lock) == 0) rmdir(dir);
}

// --help-config[=...] and --help: the exit code when argv asks for help, else -1.
static int train_help(int argc, char **argv) {
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
               "  --resume D               continue the run in D from D/checkpoints/last.h5 with D/config.ini\n"
               "                           (no CONFIG.ini). --set may change only train.epochs,\n"
               "                           callbacks.* (not the monitors or restore_best), output.plots,\n"
               "                           runtime.threads, runtime.profile_steps, data.workers,\n"
               "                           train.sync_bn, runtime.dist_timeout: the rest shaped the\n"
               "                           checkpoint; D/config.ini is updated\n"
               "  -v, --verbose            print the full resolved config (always written to D/config.ini)\n"
               "  --help-config[=markdown] list every config key with type, default, range and help\n"
               "                           (markdown: the page docs/config.md)\n"
               "Ctrl-C saves D/checkpoints/last.h5 and exits; --resume continues exactly.\n"
               "\nData-parallel (a build with MPI): mpirun -np N gesture train ... or srun gesture train ...\n"
               "splits every global batch of train.batch_size clips over the N ranks (it must divide),\n"
               "sums the gradients, and with train.sync_bn = on computes batch-norm statistics over all\n"
               "ranks: N ranks train as one process would. Rank 0 writes the run directory; --resume\n"
               "works with any N (README.md, \"Training on several GPUs or machines\").\n");
        return 0;
    }
    return -1;
}

// Data-parallel: rank 0's text (NULL: it failed, and said why) in every rank: a malloc'd copy, or NULL.
static char *share_text(const char *text, const char *what) {
    long len = dist_rank() == 0 ? (text ? (long)strlen(text) : -1) : 0;
    dist_bcast(&len, sizeof len, 0, what);
    if (len < 0) return NULL;
    char *buf = gs_malloc((size_t)len + 1);
    if (dist_rank() == 0) memcpy(buf, text, (size_t)len + 1);
    dist_bcast(buf, (size_t)len + 1, 0, what);
    return buf;
}

// Data-parallel: 1 when any rank failed (each failing rank has printed its reason).
static int any_rank_failed(int failed) {
    double f = failed;
    dist_allreduce_f64(&f, 1, "start-up checks");
    return f > 0;
}

static int train_main(int argc, char **argv);

int cmd_train(int argc, char **argv) {
    int help = train_help(argc, argv);
    if (help >= 0) return help;
    if (dist_init(0)) {  // a launch of several ranks without MPI is refused here
        fprintf(stderr, "gesture train: %s\n", gs_last_error());
        return 1;
    }
    int rc = train_main(argc, argv);  // data-parallel: a rank that fails while training ends the job there
    dist_finalize();
    return rc;
}

// cmd_train once MPI (if any) runs. Data-parallel: rank 0 reads the config (and locks a resumed run
// directory) and shares the resolved INI; every rank checks what it can see (data.root, the device,
// the batch split); rank 0 claims the run directory and shares its path; then every rank trains.
static int train_main(int argc, char **argv) {
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
    if (resume) snprintf(buf, sizeof buf, "%s/config.ini", resume);
    if (resume && path) {
        fprintf(stderr, "gesture train: --resume uses %s; do not pass a config file as well\n", buf);
        return 2;
    }
    if (!resume && !path) {
        fprintf(stderr, "gesture train: missing CONFIG.ini (e.g. gesture train experiments/quickstart.ini)\n");
        return 2;
    }
    int ranks = dist_size(), root = dist_rank() == 0, ok = 1;
    if (root && resume) {
        // locked before its config is read: the state read from here on is what this run rewrites
        if ((fs_is_dir(resume) && lock_run_dir(resume)) || load_resumed_config(&cfg, buf, argc, argv)) ok = 0;
    } else if (root) {
        if (cli_load_config(&cfg, path, argc, argv)) ok = 0;
    }
    if (root && !ok) fprintf(stderr, "gesture train: %s\n", gs_last_error());
    if (ranks > 1) {  // every rank trains rank 0's resolved config
        char *ini = root && ok ? config_to_ini(&cfg) : NULL;
        char *got = share_text(ini, "config");
        free(ini);
        if (!got) return 1;
        if (!root) {
            config_defaults(&cfg);
            if (config_load_string(&cfg, got, "rank 0's config") || config_validate(&cfg)) ok = 0;
            if (!ok) fprintf(stderr, "gesture train: rank %d: %s\n", dist_rank(), gs_last_error());
        }
        free(got);
        if (any_rank_failed(!ok)) return 1;
    } else if (!ok) {
        return 1;
    }
    dist_set_timeout(cfg.runtime.dist_timeout);
    // before anything is printed or created; data-parallel: every rank sees the data and its device
    int bad = train_check(&cfg) != 0;
    if (bad && ranks > 1) fprintf(stderr, "gesture train: rank %d: %s\n", dist_rank(), gs_last_error());
    else if (bad) fprintf(stderr, "gesture train: %s\n", gs_last_error());
    if (ranks > 1 ? any_rank_failed(bad) : bad) return 1;
    int created = 0;
    if (resume) run_dir = resume;
    else if (root && !(run_dir = claim_run_dir(&cfg, run_dir, &created)) && ranks == 1) return 1;
    if (ranks > 1) {  // rank 0's run directory (auto-named: runs/<name>_2 ...), only rank 0 writes it
        char *got = share_text(root ? run_dir : NULL, "run directory");
        if (!got) return 1;
        static char shared[4200];
        snprintf(shared, sizeof shared, "%s", got);
        free(got);
        run_dir = shared;
        if (!root) return train_run(&cfg, run_dir, resume != NULL);
    }
    if (!resume && cfg.model.expect_pretrained && !cfg.model.pretrained[0])
        fprintf(stderr, "gesture train: WARNING: %s is meant for pretrained weights (model.expect_pretrained = on) "
                        "but model.pretrained is empty: MobileNetV2 starts from random weights (README.md, "
                        "\"Pretrained weights\", says where to get them)\n", cfg.source);
    // line-buffered even into a file or pipe: `gesture train ... > log` shows each epoch as it ends
    // (only from here: `--help | grep -q` still gets its text in one write)
    setvbuf(stdout, NULL, _IOLBF, 0);
    print_summary(&cfg, run_dir, verbose);
    int rc = train_run(&cfg, run_dir, resume != NULL);
    if (rc == 1 && created) unclaim_run_dir(run_dir);
    return rc;
}
