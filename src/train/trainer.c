// Training loop (see gesture/trainer.h). One epoch = every train clip once (loader order from
// (seed, epoch)), then one pass over val (evaluate_model, the pass `gesture eval` makes); then the
// callbacks decide LR, snapshots, best.h5 and stopping exactly as Keras 3's do, and last.h5 is
// written so a run can always resume. The step itself runs on the CPU (train_cpu.c) or the GPU
// (cuda/train_cuda.cu) behind gs_train_backend.
//
// Data-parallel (`mpirun -np N`, gesture/dist.h): every rank builds the same model for B/N clips and
// loads its shard of every global batch; rank 0's parameters, Adam moments and counters are
// broadcast at the start (fresh, pretrained or resumed); each step first shares the ranks' clip
// counts (the global batch and this rank's rows in it), the backend sums the gradients, and the step's
// loss, correct clips and any Ctrl-C / SIGTERM are summed over the ranks, so every rank sees the
// same epoch sums and stops at the same step. Validation is sharded the same way and its sums
// reduced. Rank 0 alone owns the run directory (config, logs, checkpoints, timing, plots), prints,
// and makes the callbacks' decisions, broadcasting the learning rate and whether to stop.
#include "gesture/trainer.h"

#include <errno.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "gesture/callbacks.h"
#include "gesture/checkpoint.h"
#include "gesture/csvlog.h"
#include "gesture/dist.h"
#include "gesture/errors.h"
#include "gesture/evaluate.h"
#include "gesture/fsutil.h"
#include "gesture/keras.h"
#include "gesture/loader.h"
#include "gesture/model.h"
#include "gesture/plan.h"
#include "gesture/precision.h"
#include "gesture/plots.h"
#include "gesture/progress_line.h"
#include "gesture/runtime.h"
#include "gesture/timing.h"
#include "gesture/trainlog.h"
#include "trainer_internal.h"

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}


static void path_in(char *buf, size_t n, const char *dir, const char *name) {
    if ((size_t)snprintf(buf, n, "%s/%s", dir, name) >= n) gs_fatal("path too long: %s/%s", dir, name);
}

static void run_paths_init(run_paths *p, const char *run_dir) {
    if ((size_t)snprintf(p->dir, sizeof p->dir, "%s", run_dir) >= sizeof p->dir) gs_fatal("path too long: %s", run_dir);
    path_in(p->ck, sizeof p->ck, run_dir, "checkpoints");
    path_in(p->last, sizeof p->last, p->ck, "last.h5");
    path_in(p->best, sizeof p->best, p->ck, "best.h5");
    path_in(p->snap, sizeof p->snap, p->ck, "early_stopping_best.h5");
    path_in(p->csv, sizeof p->csv, run_dir, "training_log.csv");
    path_in(p->h5, sizeof p->h5, run_dir, "log.h5");
    path_in(p->cfg, sizeof p->cfg, run_dir, "config.ini");
    path_in(p->timing, sizeof p->timing, run_dir, "timing.ini");
}



// p: (b->n, K) probabilities of the step on b; m->loss its loss.
static void sums_add(epoch_sums *s, const gs_model *m, const float *p, const gs_batch *b) {
    int K = m->cfg.classes;
    for (int i = 0; i < b->n; i++) {
        int best = 0;
        for (int k = 1; k < K; k++)
            if (p[i * K + k] > p[i * K + best]) best = k;
        s->correct += best == b->labels[i];
    }
    s->loss_sum += (double)m->loss * b->n;
    s->seen += b->n;
}

static void progress(int step, int steps, const epoch_sums *s, double t0, int images_per_clip, int tty, int epoch,
                     int epochs) {
    double dt = runtime_now() - t0;
    double ips = dt > 0 ? s->seen * images_per_clip / dt : 0;
    double eta = step > 0 ? dt / step * (steps - step) : 0;
    if (tty) {
        gs_progress_line p = {epoch + 1, epochs, step, steps, s->loss_sum / (s->seen ? s->seen : 1),
                         s->correct / (s->seen ? s->seen : 1), ips, eta};
        int width = progress_term_width(2);  // per redraw: follows a resized terminal
        char line[512];
        progress_line_format(line, sizeof line, width, &p);
        // padded to the width: a shorter line covers the longer one before it
        fprintf(stderr, "\r%-*s", width - 1 < (int)sizeof line ? width - 1 : (int)sizeof line, line);
    } else if (step == steps || step % (steps / 4 > 0 ? steps / 4 : 1) == 0) {
        fprintf(stderr, "epoch %d/%d step %d/%d loss %.4f acc %.4f %.1f img/s eta %.0fs\n", epoch + 1, epochs, step,
                steps, s->loss_sum / (s->seen ? s->seen : 1), s->correct / (s->seen ? s->seen : 1), ips, eta);
    }
}

static long peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

static int save(const trainer *t, const char *path) {
    return checkpoint_save(path, &t->m, &t->st, t->ini, (const char *const *)t->ds->classes, t->ds->n_classes);
}

// timing.ini: the totals of earlier invocations plus this one's, for the epochs st->epoch counts.
static int write_timing(const trainer *t) {
    gs_timing all = t->timing_base;
    all.epochs = t->st.epoch;
    all.train_seconds += t->train_seconds;
    all.train_images += t->train_images;
    all.comm_seconds += t->comm_seconds;
    if (peak_rss_mb() > all.peak_rss_mb) all.peak_rss_mb = peak_rss_mb();
    all.graph_steps += t->be.graph_steps;
    all.invocations++;
    return timing_write(t->path.timing, &all, t->threads, t->be.kind, t->ranks);
}

// runtime.threads = 0 with several ranks on this machine: each takes its share of the cores (of the
// CPUs the launcher bound it to, when that is fewer).
static int rank_threads(const gs_config *cfg) {
    int th = cfg->runtime.threads, local = dist_local_size();
    if (th > 0 || local <= 1) return th;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int procs = omp_get_num_procs(), share = (int)(online / local);
    th = procs < share ? procs : share;
    return th > 0 ? th : 1;
}

// Device, loaders (pinned slots on the GPU), and the class count the data and the model agree on.
static int open_data(trainer *t) {
    const gs_config *cfg = t->cfg;
    t->threads = runtime_set_threads(rank_threads(cfg));
    if (train_device_open(cfg->runtime.device, &t->use_cuda)) {
        t->use_cuda = 0;  // nothing to close
        return -1;
    }
    // bf16 on cuda is the GEMMs (train_backend_cuda_init below); the CPU has none: say so once
    if (t->rank == 0 && !t->use_cuda)
        precision_resolve(cfg->runtime.precision, 0, "train", "training", precision_cpu_reason());
    gs_loader_config lt, lv;
    loader_config_from(&lt, cfg, "train", 1);
    loader_config_from(&lv, cfg, "val", 0);
    if (t->ranks > 1) {  // this rank's shard of every batch; decode threads out of its share of the cores
        lt.shard_rank = lv.shard_rank = t->rank;
        lt.shard_count = lv.shard_count = t->ranks;
        if (!cfg->data.workers) lt.workers = lv.workers = t->threads < 8 ? t->threads : 8;
    }
    if (t->use_cuda) {  // batch slots in pinned memory: uploads run asynchronously at full speed
        train_cuda_loader_memory(&lt);
        train_cuda_loader_memory(&lv);
    }
    if (loader_init(&t->train, &lt) || loader_init(&t->val, &lv)) return -1;
    t->ds = loader_dataset(t->train);
    if (t->ds->n_classes != cfg->model.classes)
        return gs_error("%s: the train split has %d classes but model.classes = %d (set --set model.classes=%d)",
                        cfg->data.root, t->ds->n_classes, cfg->model.classes, t->ds->n_classes);
    if (loader_dataset(t->val)->n_classes != t->ds->n_classes)
        return gs_error("%s: train has %d classes, val %d", cfg->data.root, t->ds->n_classes,
                        loader_dataset(t->val)->n_classes);
    return 0;
}

// training_log.csv, continued on resume (rows of epochs after the checkpoint dropped: csvlog_open).
// When it lacks rows the checkpoint's history holds (deleted, or cut short), it is rewritten from
// that history, so it reads as an uninterrupted run's would.
static int open_csv(trainer *t) {
    const gs_train_state *st = &t->st;
    if (csvlog_open(&t->csv, t->path.csv, CSVLOG_TRAIN_KEYS, CSVLOG_TRAIN_NKEYS, st->epoch)) return -1;
    if (t->csv.rows >= st->n_history) return 0;
    int had = t->csv.rows;
    csvlog_close(&t->csv);
    if (csvlog_open_history(&t->csv, t->path.csv, st->history, st->n_history)) return -1;
    printf("rebuilt %s from the checkpoint's history: %d epochs (it had %d)\n", t->path.csv, st->n_history, had);
    return 0;
}

static int open_run_dir(trainer *t, int resume);




// The model (initialized, pretrained backbone loaded), the run directory, then either the state of
// last.h5 (resume) or a fresh config.ini; last, the step backend, which uploads what the model holds.
// Data-parallel: every rank builds the model for its B/N clips; rank 0 alone loads files and writes the
// run directory, then shares the state (trainer_dist_share_state).
static int open_model(trainer *t, int resume) {
    const gs_config *cfg = t->cfg;
    gs_config local = *cfg;  // a rank's model is planned for its share of the global batch
    local.train.batch_size = cfg->train.batch_size / t->ranks;
    if (model_init_from_config(&t->m, &local)) return -1;
    t->model_ok = 1;
    t->ini = config_to_ini(cfg);
    callbacks_init(&t->cb, &cfg->callbacks);
    t->lr = (float)cfg->train.learning_rate;
    int failed = t->root && open_run_dir(t, resume);
    if (t->ranks > 1) {
        if (trainer_dist_agree(t, failed)) return failed ? -1 : -2;
        trainer_dist_share_state(t);
        t->started = 1;
    } else if (failed) {
        return -1;
    }
    if (t->use_cuda) {
        if (train_backend_cuda_init(&t->be, &t->m, cfg->runtime.cuda_graph,
                                    cfg->runtime.precision == GS_PRECISION_BF16))
            return -1;
        // one GPU per rank (train_cuda_open picked the rank's local index), collectives through NCCL
        if (t->ranks > 1 && train_cuda_dist_open()) return -1;
        t->dist_open = t->ranks > 1;
    } else {
        train_backend_cpu_init(&t->be, &t->m);
    }
    if (t->ranks > 1) t->be.dist = &t->dist;
    if (!t->root) return 0;
    if (open_csv(t)) return -1;
    if (t->st.n_history && trainlog_write(t->path.h5, t->st.history, t->st.n_history)) return -1;
    return 0;
}

// Rank 0's part of open_model: the pretrained backbone, the run directory, last.h5 on resume, config.ini.
static int open_run_dir(trainer *t, int resume) {
    const gs_config *cfg = t->cfg;
    if (cfg->model.pretrained[0]) {
        if (keras_load_backbone_h5(&t->m, cfg->model.pretrained)) return -1;
        printf("pretrained: %d backbone tensors loaded from %s\n", keras_backbone_tensors(&t->m),
               cfg->model.pretrained);
    }
    if (fs_mkdir_p(t->path.ck)) return -1;  // and the run directory above it
    if (resume) {
        gs_train_state *st = &t->st;
        if (checkpoint_load(t->path.last, &t->m, st, NULL, NULL, NULL)) return -1;
        // nothing left to train is a mistake to report, not a run that "succeeds" doing nothing
        if (st->epoch >= cfg->train.epochs)
            return gs_error("%s is at epoch %d of train.epochs = %d: nothing left to train (train more with "
                            "--resume %s --set train.epochs=%d)",
                            t->path.last, st->epoch, cfg->train.epochs, t->path.dir, st->epoch + 10);
        if (timing_read(t->path.timing, &t->timing_base)) return -1;
        if (callbacks_state_set(&t->cb, &st->callbacks)) return -1;
        t->lr = (float)st->learning_rate;
        printf("resuming %s at epoch %d step %ld (lr %g)\n", t->path.dir, st->epoch + 1, st->step, t->lr);
    }
    // on resume too: keys --set may change there (train --help) reach later resumes and evals
    return fs_write_text(t->path.cfg, t->ini);
}

// Ctrl-C mid-epoch: last.h5 with the loader cursor and the epoch's partial sums.
static int save_interrupted(trainer *t, int epoch, int step, const epoch_sums *s) {
    gs_train_state *st = &t->st;
    t->be.ops->sync_host(&t->be);
    st->epoch = epoch;
    st->step = step;
    st->learning_rate = t->lr;
    st->part_loss_sum = s->loss_sum;
    st->part_correct = s->correct;
    st->part_seen = s->seen;
    callbacks_state_get(&st->callbacks, &t->cb);
    if (!t->root) return 0;
    if (save(t, t->path.last) || write_timing(t)) return -1;
    printf("interrupted: saved %s (epoch %d, step %d); continue with: gesture train --resume %s\n", t->path.last,
           epoch + 1, step, t->path.dir);
    return 0;
}

// Training steps since t0 that moved `clips` clips, into this invocation's timing (c0: the time in
// collectives at t0).
static void count_train_time(trainer *t, double t0, double c0, long clips) {
    t->comm_seconds += dist_collective_seconds() - c0;
    t->train_seconds += runtime_now() - t0;
    t->train_images += clips * t->m.cfg.frames;
}



// The train steps of one epoch (from the loader cursor on a resumed epoch). 1 done, 0 interrupted
// (last.h5 saved), -1 + gs_error.
static int train_epoch(trainer *t, int epoch, int resume, epoch_sums *s) {
    const gs_config *cfg = t->cfg;
    gs_train_backend *be = &t->be;
    const float beta1 = (float)cfg->train.beta1, beta2 = (float)cfg->train.beta2, eps = (float)cfg->train.epsilon;
    // mid-epoch resume: the partial sums of the interrupted epoch travel in the checkpoint
    if (resume && epoch == t->st.epoch && t->st.step > 0) {
        s->loss_sum = t->st.part_loss_sum;
        s->correct = t->st.part_correct;
        s->seen = t->st.part_seen;
    }
    if (epoch == t->st.epoch && t->root &&
        checkpoint_check_resume(t->path.last, &t->st, loader_steps_per_epoch(t->train)))
        return -1;
    int step = epoch == t->st.epoch ? (int)t->st.step : 0;
    if (loader_start_epoch(t->train, epoch, step)) return -1;
    double t0 = runtime_now(), c0 = dist_collective_seconds();
    long seen0 = s->seen;
    int tty = t->root && isatty(2), steps = loader_steps_per_epoch(t->train);
    gs_batch *b = NULL, *next = NULL;
    int r = loader_next(t->train, &b);
    if (r == 1) be->ops->prefetch(be, b);
    while (r == 1) {
        dist_set_context("epoch %d step %d", epoch + 1, step + 1);
        int trained = t->ranks == 1 || trainer_dist_share_counts(t, b) > 0;
        // the next batch is fetched and (GPU) uploaded while this step computes
        if (trained) be->ops->step_start(be, b, t->lr, beta1, beta2, eps);
        r = loader_next(t->train, &next);
        if (r == 1) be->ops->prefetch(be, next);
        int stop_now;
        if (t->ranks > 1) {
            stop_now = trainer_dist_step_sums(t, s, interrupted, trained ? be->ops->step_finish(be) : NULL, b, trained);
        } else {
            sums_add(s, &t->m, be->ops->step_finish(be), b);
            stop_now = interrupted;
        }
        loader_release(t->train, b);
        b = r == 1 ? next : NULL;  // still held on an interrupt: loader_free takes it back
        step++;
        if (t->root) progress(step, steps, s, t0, t->m.cfg.frames, tty, epoch, cfg->train.epochs);
        if (stop_now) {
            if (tty) fputc('\n', stderr);
            count_train_time(t, t0, c0, s->seen - seen0);  // the resumed part adds the rest of the epoch
            return save_interrupted(t, epoch, step, s) ? -1 : 0;
        }
    }
    if (r < 0) return -1;
    if (tty) fputc('\n', stderr);
    count_train_time(t, t0, c0, s->seen - seen0);
    // an epoch that trained on nothing has no loss or accuracy: stop before it logs or saves a thing
    if (s->seen == 0 && loader_bad_clips(t->train) > 0)
        return gs_error("%s: epoch %d trained on no clip: every train clip was skipped as bad (data.on_bad_clip = "
                        "skip; the warnings above name them)", cfg->data.root, epoch + 1);
    if (s->seen == 0)
        return gs_error("%s: epoch %d trained on no clip: the train split is empty", cfg->data.root, epoch + 1);
    return 1;
}

// Validation loss and accuracy of the current model (data-parallel: sharded, sums reduced).
static int validate_on(trainer *t, double *loss, double *accuracy) {
    if (t->ranks == 1) {
        gs_eval_result val;
        if (evaluate_model(&val, &t->be, t->val, 0, 0)) return -1;
        *loss = val.loss;
        *accuracy = val.accuracy;
        evaluate_result_free(&val);
        return 0;
    }
    double v[4];
    if (evaluate_model_sums(v, &t->be, t->val, 0)) return -1;
    dist_allreduce_f64(v, 4, "validation metrics");
    const gs_dataset *ds = loader_dataset(t->val);
    if (v[3] == 0) return gs_error("%s/%s: every clip was skipped as bad", ds->root, ds->split);
    *loss = v[0] / v[3];
    *accuracy = v[2] / v[3];
    return 0;
}

static int validate(trainer *t, double *loss, double *accuracy) {
    if (t->ranks > 1 && !t->dist.sync_bn) trainer_dist_share_moving_stats(t);
    // on the CPU the validation pass runs on an inference plan of this epoch's weights
    // (runtime.inference = plan): the same probabilities and loss within 1e-4, faster
    gs_plan *plan = NULL;
    if (!t->use_cuda && t->cfg->runtime.inference == GS_INFERENCE_PLAN) {
        if (plan_build(&plan, &t->m) != 0) return -1;
        train_backend_cpu_use_plan(&t->be, plan);
    }
    int rc = validate_on(t, loss, accuracy);
    if (plan) {
        train_backend_cpu_use_plan(&t->be, NULL);
        plan_free(plan);
    }
    return rc;
}

// After the train steps of `epoch`: validation, callbacks, logs, checkpoints. *stop = EarlyStopping.
static int end_epoch(trainer *t, int epoch, const epoch_sums *s, double t0, int *stop) {
    const gs_config *cfg = t->cfg;
    gs_train_state *st = &t->st;
    gs_epoch_logs logs = {.loss = s->loss_sum / s->seen, .accuracy = s->correct / s->seen};
    dist_set_context("validation after epoch %d", epoch + 1);
    if (validate(t, &logs.val_loss, &logs.val_accuracy)) return -1;
    // host parameters current for the snapshot and the checkpoints below (rank 0's: the others write none)
    if (t->root) t->be.ops->sync_host(&t->be);
    gs_epoch_actions act = {0};
    if (t->root) act = callbacks_on_epoch_end(&t->cb, epoch, &logs, &t->lr);
    if (t->ranks > 1) {  // decided once, on rank 0: the learning rate and whether to stop, for every rank
        struct {
            float lr;
            int stop;
        } d = {t->lr, act.stop};
        dist_bcast(&d, sizeof d, 0, "callback decisions");
        t->lr = d.lr;
        act.stop = d.stop;
    }
    *stop = act.stop;
    if (!t->root) {  // the run directory is rank 0's
        st->epoch = epoch + 1;
        st->step = 0;
        return 0;
    }
    gs_epoch_row row = {epoch, logs.accuracy, act.lr_used, logs.loss, logs.val_accuracy, logs.val_loss};
    double vals[CSVLOG_TRAIN_NKEYS];
    csvlog_train_values(vals, &row);
    if (csvlog_append(&t->csv, epoch, vals)) return -1;
    st->history = realloc(st->history, (size_t)(st->n_history + 1) * sizeof *st->history);
    st->history[st->n_history++] = row;
    if (trainlog_write(t->path.h5, st->history, st->n_history)) return -1;
    printf("epoch %d/%d: loss %.4f accuracy %.4f val_loss %.4f val_accuracy %.4f lr %.3g (%.1fs)%s%s\n", epoch + 1,
           cfg->train.epochs, logs.loss, logs.accuracy, logs.val_loss, logs.val_accuracy, act.lr_used,
           runtime_now() - t0, act.save_best ? " [best.h5]" : "", act.lr_reduced ? " [lr reduced]" : "");
    st->epoch = epoch + 1;
    st->step = 0;
    st->part_loss_sum = st->part_correct = 0;
    st->part_seen = 0;
    st->learning_rate = t->lr;
    callbacks_state_get(&st->callbacks, &t->cb);
    // EarlyStopping's snapshot is this file: restore_best's weights whatever happens later
    if (act.snapshot_best && t->cb.es.restore_best && save(t, t->path.snap)) return -1;
    if (act.save_best && save(t, t->path.best)) return -1;
    if (save(t, t->path.last) || write_timing(t)) return -1;
    if (act.stop)
        printf("early stopping after epoch %d (no val_loss improvement for %d epochs)\n", epoch + 1,
               cfg->callbacks.early_stopping_patience);
    return 0;
}

// After the last epoch: where EarlyStopping's restore_best weights are, the curves.
static int finish(trainer *t) {
    if (!t->root) return 0;
    int best_epoch;
    // the snapshot file already holds those weights (saved when the epoch was best): no second copy
    if (callbacks_on_train_end(&t->cb, &best_epoch))
        printf("restored the weights of epoch %d (best %s): %s\n", best_epoch + 1,
               config_monitor_name(t->cfg->callbacks.early_stopping_monitor), t->path.snap);
    if (t->cfg->output.plots) {
        const char *args[] = {"curves", t->path.dir};
        if (plots_run(args, 2)) return -1;
    }
    return 0;
}

static void close_all(trainer *t) {
    csvlog_close(&t->csv);
    free(t->ini);
    checkpoint_state_free(&t->st);
    if (t->be.ops) t->be.ops->free(&t->be);
    if (t->dist_open) train_cuda_dist_close();
    if (t->model_ok) model_free(&t->m);
    if (t->train) loader_free(t->train);
    if (t->val) loader_free(t->val);
    if (t->use_cuda) train_cuda_close();  // after the loaders: their pinned slots are freed through CUDA
}

// The epochs, with Ctrl-C caught: 0 done, 130 interrupted, -1 + gs_error.
static int run_epochs(trainer *t, int resume) {
    struct sigaction sa = {0}, old, old_term;
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, &old);
    // mpirun and srun pass a Ctrl-C on to the ranks as SIGTERM (then SIGKILL a few seconds later)
    if (t->ranks > 1) sigaction(SIGTERM, &sa, &old_term);
    interrupted = 0;
    if (t->ranks == 1)
        printf("training %s: %d train clips, %d val clips, %d steps/epoch, batch %d, %d threads, %s\n", t->path.dir,
               t->ds->n_clips, loader_dataset(t->val)->n_clips, loader_steps_per_epoch(t->train), t->m.cfg.batch,
               t->threads, t->be.device);
    else if (t->root)
        printf("training %s: %d train clips, %d val clips, %d steps/epoch, batch %d (%d ranks x %d), %d threads per "
               "rank, %s, sync_bn %s\n",
               t->path.dir, t->ds->n_clips, loader_dataset(t->val)->n_clips, loader_steps_per_epoch(t->train),
               t->cfg->train.batch_size, t->ranks, t->m.cfg.batch, t->threads, t->be.device,
               t->dist.sync_bn ? "on" : "off");
    if (t->ranks > 1) trainer_dist_note_kill_window(t);
    int rc = 0, stop = 0;
    for (int epoch = t->st.epoch; epoch < t->cfg->train.epochs && !stop && !rc; epoch++) {
        epoch_sums s = {0};
        double t0 = runtime_now();
        int r = train_epoch(t, epoch, resume, &s);
        rc = r < 0 ? -1 : r == 0 ? 130 : end_epoch(t, epoch, &s, t0, &stop);
    }
    if (!rc) rc = finish(t);
    sigaction(SIGINT, &old, NULL);
    if (t->ranks > 1) sigaction(SIGTERM, &old_term, NULL);
    return rc;
}

int train_check(const gs_config *cfg) {
    if (!cfg->data.root[0])
        return gs_error("data.root is not set: prepare a data set (gesture prepare RAW OUT) and set [data] root = OUT "
                        "or pass --set data.root=OUT");
    if (!fs_is_dir(cfg->data.root))
        return gs_error("data.root = %s: no such directory (gesture prepare RAW OUT makes one)", cfg->data.root);
    // data-parallel: rank 0 alone reads the pretrained file (and broadcasts the weights)
    if (cfg->model.pretrained[0] && dist_rank() == 0 && !fs_is_file(cfg->model.pretrained))
        return gs_error("model.pretrained = %s: no such file (README.md, \"Pretrained weights\", says where to get it)",
                        cfg->model.pretrained);
    if (cfg->model.pretrained[0]) {
        // a whole Keras model is no backbone file: it goes through import-keras (weights, head, optimizer)
        int kind = keras_file_kind(cfg->model.pretrained);
        if (kind == GS_KERAS_ARCHIVE || kind == GS_KERAS_WEIGHTS || kind == GS_KERAS_LEGACY_MODEL ||
            kind == GS_KERAS_LEGACY_WEIGHTS)
            return gs_error("model.pretrained = %s is a whole Keras model (%s), not MobileNetV2 backbone weights: "
                            "import it with gesture import-keras %s --run-dir runs/NAME and continue with gesture "
                            "train --resume runs/NAME",
                            cfg->model.pretrained,
                            kind == GS_KERAS_ARCHIVE   ? ".keras"
                            : kind == GS_KERAS_WEIGHTS ? ".weights.h5"
                                                       : "legacy .h5",
                            cfg->model.pretrained);
    }
    int ranks = dist_size(), B = cfg->train.batch_size;
    if (ranks > 1 && B % ranks)
        return gs_error("train.batch_size = %d does not split over %d ranks: the global batch is divided evenly "
                        "(batch_size / ranks clips each), so make it a multiple of %d (e.g. --set train.batch_size=%d) "
                        "or launch a number of ranks that divides %d",
                        B, ranks, ranks, (B / ranks + 1) * ranks, B);
    if (ranks > 1 &&
        (cfg->runtime.device == GS_DEVICE_CUDA || (cfg->runtime.device == GS_DEVICE_AUTO && train_cuda_available())) &&
        !train_cuda_dist_available()) {
        char why[1024];
        snprintf(why, sizeof why, "%s", gs_last_error());
        return gs_error("runtime.device = %s: data-parallel training over %d ranks on GPUs needs NCCL: %s (or set "
                        "runtime.device = cpu)",
                        config_device_name(cfg->runtime.device), ranks, why);
    }
    int gpus = train_cuda_available() ? train_cuda_device_count() : 0;
    if (ranks > 1 && gpus > 0 && dist_local_size() > gpus &&
        (cfg->runtime.device == GS_DEVICE_CUDA || cfg->runtime.device == GS_DEVICE_AUTO))
        return gs_error("runtime.device = %s: %d ranks on this machine but %d GPU%s: data-parallel training takes one "
                        "GPU per rank (launch at most %d ranks per machine, e.g. mpirun --npernode %d, or set "
                        "runtime.device = cpu)",
                        config_device_name(cfg->runtime.device), dist_local_size(), gpus, gpus > 1 ? "s" : "", gpus,
                        gpus);
    return train_device_check(cfg->runtime.device);
}

int train_run(const gs_config *cfg, const char *run_dir, int resume) {
    trainer t;
    memset(&t, 0, sizeof t);
    t.cfg = cfg;
    t.rank = dist_rank();
    t.ranks = dist_size();
    t.root = t.rank == 0;
    t.dist = (gs_train_dist){.rank = t.rank, .size = t.ranks, .sync_bn = cfg->train.sync_bn,
                             .bucket_mb = cfg->train.bucket_mb};
    run_paths_init(&t.path, run_dir);
    checkpoint_state_init(&t.st, cfg->train.learning_rate);
    int rc = open_data(&t) ? -1 : 0;
    // -2: another rank failed at start-up (it says why); -1: this one did
    if (t.ranks > 1 && trainer_dist_agree(&t, rc != 0) && !rc) rc = -2;
    if (!rc) rc = open_model(&t, resume);  // agrees once more before the model state is broadcast
    if (!rc) rc = run_epochs(&t, resume);
    if (rc == -1 && t.started) dist_abort(1, "%s; ending the job", gs_last_error());  // the others may wait for it
    if (rc == -1 && t.ranks > 1) fprintf(stderr, "gesture: rank %d: %s\n", t.rank, gs_last_error());
    else if (rc == -1) fprintf(stderr, "gesture: %s\n", gs_last_error());
    close_all(&t);
    return rc < 0 ? 1 : rc;
}
