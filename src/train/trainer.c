// Training loop (see gesture/trainer.h). One epoch = every train clip once (loader order from
// (seed, epoch)), then one pass over val; then the callbacks decide LR, snapshots, best.h5 and
// stopping exactly as Keras 3's do, and last.h5 is written so a run can always resume.
// The step itself runs on the CPU (below) or the GPU (cuda/train_cuda.cu) behind gs_train_backend.
#include "gesture/trainer.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "gesture/callbacks.h"
#include "gesture/checkpoint.h"
#include "gesture/csvlog.h"
#include "gesture/errors.h"
#include "gesture/fsutil.h"
#include "gesture/keras.h"
#include "gesture/loader.h"
#include "gesture/model.h"
#include "gesture/plots.h"
#include "gesture/runtime.h"
#include "gesture/trainlog.h"

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

static const char *path_in(char *buf, size_t n, const char *dir, const char *name) {
    if ((size_t)snprintf(buf, n, "%s/%s", dir, name) >= n) gs_fatal("path too long: %s/%s", dir, name);
    return buf;
}

// Running means weighted by clips, as Keras' loss tracker / accuracy metric keep them.
typedef struct {
    double loss_sum, correct;
    long seen;
} epoch_sums;

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

// ---- the CPU backend: the step runs to completion in step_start ----
static void feed(gs_model *m, const gs_batch *b) {
    const gs_model_arch *a = &m->cfg;
    size_t per_clip = (size_t)a->frames * a->size * a->size * 3;
    memcpy(model_input(m), b->x, (size_t)b->n * per_clip * sizeof(float));
    memcpy(m->labels, b->labels, (size_t)b->n * sizeof(int));
}

static void cpu_step_start(gs_train_backend *be, const gs_batch *b, float lr, float beta1, float beta2, float eps) {
    feed(be->m, b);
    model_forward(be->m, b->n, 1, 1);
    model_backward(be->m);
    model_adam_step(be->m, lr, beta1, beta2, eps);
}

static void cpu_prefetch(gs_train_backend *be, const gs_batch *next) {
    (void)be;
    (void)next;
}

static const float *cpu_step_finish(gs_train_backend *be) { return model_probs(be->m); }

static const float *cpu_eval_batch(gs_train_backend *be, const gs_batch *b) {
    feed(be->m, b);
    model_forward(be->m, b->n, 0, 1);
    return model_probs(be->m);
}

static void cpu_sync_host(gs_train_backend *be) { (void)be; }

static void cpu_free(gs_train_backend *be) { (void)be; }

int train_device_open(gs_device device, int *use_cuda) {
    // auto: the GPU when this binary has the CUDA backend and a device is present
    *use_cuda = device == GS_DEVICE_CUDA || (device == GS_DEVICE_AUTO && train_cuda_available());
    if (*use_cuda && train_cuda_open())
        return gs_error("runtime.device = %s: %s", config_device_name(device), gs_last_error());
    return 0;
}

void train_backend_cpu_init(gs_train_backend *be, gs_model *m) {
    memset(be, 0, sizeof *be);
    snprintf(be->device, sizeof be->device, "cpu");
    be->kind = "cpu";
    be->m = m;
    be->step_start = cpu_step_start;
    be->prefetch = cpu_prefetch;
    be->step_finish = cpu_step_finish;
    be->eval_batch = cpu_eval_batch;
    be->sync_host = cpu_sync_host;
    be->free = cpu_free;
}

static void progress(int step, int steps, const epoch_sums *s, double t0, int images_per_clip, int tty, int epoch,
                     int epochs) {
    double dt = runtime_now() - t0;
    double ips = dt > 0 ? s->seen * images_per_clip / dt : 0;
    double eta = step > 0 ? dt / step * (steps - step) : 0;
    if (tty) {
        int width = 24, fill = steps ? step * width / steps : width;
        char bar[32];
        for (int i = 0; i < width; i++) bar[i] = i < fill ? '=' : (i == fill ? '>' : '.');
        bar[width] = 0;
        fprintf(stderr, "\rEpoch %d/%d %4d/%d [%s] loss %.4f acc %.4f %6.1f img/s ETA %4.0fs ", epoch + 1, epochs,
                step, steps, bar, s->loss_sum / (s->seen ? s->seen : 1), s->correct / (s->seen ? s->seen : 1), ips,
                eta);
    } else if (step == steps || step % (steps / 4 > 0 ? steps / 4 : 1) == 0) {
        fprintf(stderr, "epoch %d/%d step %d/%d loss %.4f acc %.4f %.1f img/s eta %.0fs\n", epoch + 1, epochs, step,
                steps, s->loss_sum / (s->seen ? s->seen : 1), s->correct / (s->seen ? s->seen : 1), ips, eta);
    }
}

static int evaluate(gs_train_backend *be, gs_loader *l, double *loss, double *acc) {
    epoch_sums s = {0};
    if (loader_start_epoch(l, 0, 0)) return -1;
    gs_batch *b;
    int rc;
    while ((rc = loader_next(l, &b)) == 1) {
        const float *p = be->eval_batch(be, b);
        sums_add(&s, be->m, p, b);
        loader_release(l, b);
    }
    if (rc < 0) return -1;
    if (!s.seen) return gs_error("val split is empty");
    *loss = s.loss_sum / s.seen;
    *acc = s.correct / s.seen;
    return 0;
}

static long peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

int train_run(const gs_config *cfg, const char *run_dir, int resume) {
    char p_last[4200], p_best[4200], p_snap[4200], p_csv[4200], p_h5[4200], p_cfg[4200], p_ck[4200], p_time[4200];
    path_in(p_ck, sizeof p_ck, run_dir, "checkpoints");
    path_in(p_last, sizeof p_last, p_ck, "last.h5");
    path_in(p_best, sizeof p_best, p_ck, "best.h5");
    path_in(p_snap, sizeof p_snap, p_ck, "early_stopping_best.h5");
    path_in(p_csv, sizeof p_csv, run_dir, "training_log.csv");
    path_in(p_h5, sizeof p_h5, run_dir, "log.h5");
    path_in(p_cfg, sizeof p_cfg, run_dir, "config.ini");
    path_in(p_time, sizeof p_time, run_dir, "timing.ini");
    if (!cfg->data.root[0])
        return fprintf(stderr, "gesture: data.root is not set: prepare a data set (gesture prepare RAW OUT) and set "
                               "[data] root = OUT or pass --set data.root=OUT\n"), 1;
    int threads = runtime_set_threads(cfg->runtime.threads);
    int use_cuda;
    if (train_device_open(cfg->runtime.device, &use_cuda)) return fprintf(stderr, "gesture: %s\n", gs_last_error()), 1;

    gs_loader_config lt, lv;
    loader_config_from(&lt, cfg, "train", 1);
    loader_config_from(&lv, cfg, "val", 0);
    if (use_cuda) {  // batch slots in pinned memory: uploads run asynchronously at full speed
        train_cuda_loader_memory(&lt);
        train_cuda_loader_memory(&lv);
    }
    gs_loader *train = NULL, *val = NULL;
    gs_model m;
    gs_train_backend be = {0};
    int model_ok = 0, rc = 1;
    float *snapshot = NULL;
    char *ini = NULL;
    gs_csvlog csv = {0};
    gs_train_state st;
    checkpoint_state_init(&st, cfg->train.learning_rate);
    if (loader_init(&train, &lt) || loader_init(&val, &lv)) goto fail;
    const gs_dataset *ds = loader_dataset(train);
    if (ds->n_classes != cfg->model.classes) {
        gs_error("%s: the train split has %d classes but model.classes = %d (set --set model.classes=%d)",
                 cfg->data.root, ds->n_classes, cfg->model.classes, ds->n_classes);
        goto fail;
    }
    if (loader_dataset(val)->n_classes != ds->n_classes) {
        gs_error("%s: train has %d classes, val %d", cfg->data.root, ds->n_classes, loader_dataset(val)->n_classes);
        goto fail;
    }
    gs_model_arch arch;
    model_arch_from_config(&arch, cfg);
    if (model_init(&m, &arch)) goto fail;
    model_ok = 1;
    model_init_weights(&m, cfg->train.seed);
    if (cfg->model.pretrained[0] && keras_load_backbone_h5(&m, cfg->model.pretrained)) goto fail;
    if (fs_mkdir_p(p_ck)) goto fail;  // and run_dir above it
    ini = config_to_ini(cfg);

    gs_callbacks cb;
    callbacks_init(&cb, &cfg->callbacks);
    float lr = (float)cfg->train.learning_rate;
    snapshot = gs_aligned_alloc(m.params.numel * sizeof(float));
    if (resume) {
        if (checkpoint_load(p_last, &m, &st, NULL, NULL, NULL)) goto fail;
        if (callbacks_state_set(&cb, &st.callbacks)) goto fail;
        lr = (float)st.learning_rate;
        if (st.callbacks.early_stopping.has_snapshot && cb.es.restore_best) {
            gs_model tmp = m;  // same layout: load the snapshot's weights through a copy of the table
            tmp.params.data = snapshot;
            if (checkpoint_load_weights_only(p_snap, &tmp)) goto fail;
        }
        printf("resuming %s at epoch %d step %ld (lr %g)\n", run_dir, st.epoch + 1, st.step, lr);
    } else {
        FILE *f = fopen(p_cfg, "w");
        if (!f || fputs(ini, f) < 0 || fclose(f)) {
            gs_error("%s: cannot write: %s", p_cfg, strerror(errno));
            goto fail;
        }
    }
    // after any checkpoint_load: the GPU backend uploads the parameters and moments it holds now
    if (use_cuda) {
        if (train_backend_cuda_init(&be, &m, cfg->runtime.cuda_graph)) goto fail;
    } else {
        train_backend_cpu_init(&be, &m);
    }
    static const char *const keys[5] = {"accuracy", "learning_rate", "loss", "val_accuracy", "val_loss"};
    if (csvlog_open(&csv, p_csv, keys, 5, st.epoch)) goto fail;
    if (st.n_history && trainlog_write(p_h5, st.history, st.n_history)) goto fail;

    struct sigaction sa = {0}, old;
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, &old);
    interrupted = 0;
    int tty = isatty(2), steps = loader_steps_per_epoch(train), ipc = arch.frames;
    printf("training %s: %d train clips, %d val clips, %d steps/epoch, batch %d, %d threads, %s\n", run_dir,
           ds->n_clips, loader_dataset(val)->n_clips, steps, arch.batch, threads, be.device);
    const float beta1 = (float)cfg->train.beta1, beta2 = (float)cfg->train.beta2, eps = (float)cfg->train.epsilon;
    double train_seconds = 0;
    long train_images = 0;
    int epochs_run = 0;
    for (int epoch = st.epoch; epoch < cfg->train.epochs; epoch++) {
        epoch_sums s = {0};
        // mid-epoch resume: the partial sums of the interrupted epoch travel in the checkpoint
        if (resume && epoch == st.epoch && st.step > 0) {
            s.loss_sum = st.part_loss_sum;
            s.correct = st.part_correct;
            s.seen = st.part_seen;
        }
        if (loader_start_epoch(train, epoch, (int)(epoch == st.epoch ? st.step : 0))) goto fail_sig;
        double t0 = runtime_now();
        long seen0 = s.seen;
        gs_batch *b = NULL, *next = NULL;
        int step = epoch == st.epoch ? (int)st.step : 0;
        int r = loader_next(train, &b);
        if (r == 1) be.prefetch(&be, b);
        while (r == 1) {
            // the next batch is fetched and (GPU) uploaded while this step computes
            be.step_start(&be, b, lr, beta1, beta2, eps);
            r = loader_next(train, &next);
            if (r == 1) be.prefetch(&be, next);
            const float *probs = be.step_finish(&be);
            sums_add(&s, &m, probs, b);
            loader_release(train, b);
            b = r == 1 ? next : NULL;  // still held on an interrupt: loader_free takes it back
            step++;
            progress(step, steps, &s, t0, ipc, tty, epoch, cfg->train.epochs);
            if (interrupted) {
                if (tty) fputc('\n', stderr);
                be.sync_host(&be);
                st.epoch = epoch;
                st.step = step;
                st.learning_rate = lr;
                st.part_loss_sum = s.loss_sum;
                st.part_correct = s.correct;
                st.part_seen = s.seen;
                callbacks_state_get(&st.callbacks, &cb);
                if (checkpoint_save(p_last, &m, &st, ini, (const char *const *)ds->classes, ds->n_classes))
                    goto fail_sig;
                printf("interrupted: saved %s (epoch %d, step %d); continue with: gesture train --resume %s\n",
                       p_last, epoch + 1, step, run_dir);
                rc = 130;
                goto done;
            }
        }
        if (r < 0) goto fail_sig;
        if (tty) fputc('\n', stderr);
        train_seconds += runtime_now() - t0;
        train_images += (s.seen - seen0) * ipc;
        gs_epoch_logs logs = {.loss = s.loss_sum / s.seen, .accuracy = s.correct / s.seen};
        if (evaluate(&be, val, &logs.val_loss, &logs.val_accuracy)) goto fail_sig;
        be.sync_host(&be);  // host parameters current for the snapshot and the checkpoints below
        gs_epoch_actions act = callbacks_on_epoch_end(&cb, epoch, &logs, &lr);
        gs_epoch_row row = {epoch, logs.accuracy, act.lr_used, logs.loss, logs.val_accuracy, logs.val_loss};
        double vals[5] = {row.accuracy, row.learning_rate, row.loss, row.val_accuracy, row.val_loss};
        if (csvlog_append(&csv, epoch, vals)) goto fail_sig;
        st.history = realloc(st.history, (size_t)(st.n_history + 1) * sizeof *st.history);
        st.history[st.n_history++] = row;
        if (trainlog_write(p_h5, st.history, st.n_history)) goto fail_sig;
        printf("epoch %d/%d: loss %.4f accuracy %.4f val_loss %.4f val_accuracy %.4f lr %.3g (%.1fs)%s%s\n", epoch + 1,
               cfg->train.epochs, logs.loss, logs.accuracy, logs.val_loss, logs.val_accuracy, act.lr_used,
               runtime_now() - t0, act.save_best ? " [best.h5]" : "",
               act.lr_reduced ? " [lr reduced]" : "");
        st.epoch = epoch + 1;
        st.step = 0;
        st.part_loss_sum = st.part_correct = 0;
        st.part_seen = 0;
        st.learning_rate = lr;
        callbacks_state_get(&st.callbacks, &cb);
        if (act.snapshot_best) {
            memcpy(snapshot, m.params.data, m.params.numel * sizeof(float));
            if (cb.es.restore_best &&
                checkpoint_save(p_snap, &m, &st, ini, (const char *const *)ds->classes, ds->n_classes))
                goto fail_sig;
        }
        if (act.save_best && checkpoint_save(p_best, &m, &st, ini, (const char *const *)ds->classes, ds->n_classes))
            goto fail_sig;
        if (checkpoint_save(p_last, &m, &st, ini, (const char *const *)ds->classes, ds->n_classes)) goto fail_sig;
        epochs_run++;
        if (act.stop) {
            printf("early stopping after epoch %d (no val_loss improvement for %d epochs)\n", epoch + 1,
                   cfg->callbacks.early_stopping_patience);
            break;
        }
    }
    int best_epoch;
    if (callbacks_on_train_end(&cb, &best_epoch)) {
        memcpy(m.params.data, snapshot, m.params.numel * sizeof(float));
        char p_final[4300];
        path_in(p_final, sizeof p_final, p_ck, "final.h5");
        if (checkpoint_save(p_final, &m, &st, ini, (const char *const *)ds->classes, ds->n_classes)) goto fail_sig;
        printf("restored the weights of epoch %d (best %s) into %s\n", best_epoch + 1,
               config_monitor_name(cfg->callbacks.early_stopping_monitor), p_final);
    }
    FILE *tf = fopen(p_time, "w");
    if (!tf) {
        gs_error("%s: cannot write: %s", p_time, strerror(errno));
        goto fail_sig;
    }
    fprintf(tf, "# written by gesture train (this invocation only when resumed)\nepochs_run = %d\n"
                "seconds_per_epoch = %.3f\ntrain_img_per_s = %.2f\npeak_rss_mb = %ld\nthreads = %d\ndevice = %s\n",
            epochs_run, epochs_run ? train_seconds / epochs_run : 0.0,
            train_seconds > 0 ? train_images / train_seconds : 0.0, peak_rss_mb(), threads, be.kind);
    if (use_cuda) fprintf(tf, "cuda_graph_steps = %ld\n", be.graph_steps);
    fclose(tf);
    if (cfg->output.plots) {
        const char *args[] = {"curves", run_dir};
        if (plots_run(args, 2)) goto fail_sig;
    }
    rc = 0;
done:
    sigaction(SIGINT, &old, NULL);
    goto out;
fail_sig:
    sigaction(SIGINT, &old, NULL);
fail:
    fprintf(stderr, "gesture: %s\n", gs_last_error());
    rc = 1;
out:
    csvlog_close(&csv);
    free(snapshot);
    free(ini);
    checkpoint_state_free(&st);
    if (be.free) be.free(&be);
    if (model_ok) model_free(&m);
    if (train) loader_free(train);
    if (val) loader_free(val);
    if (use_cuda) train_cuda_close();  // after the loaders: their pinned slots are freed through CUDA
    return rc;
}
