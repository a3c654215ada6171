// `gesture stream CHECKPOINT SOURCE`: live gesture recognition on a video file, a camera or raw
// frames on stdin. One JSON line per window (every stream.hop model frames) and one per gesture
// event on stdout; a summary on stderr at the end of the input or on Ctrl-C.
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_checkpoint.h"
#include "gesture/precision.h"
#include "gesture/annotate.h"
#include "gesture/device.h"
#include "gesture/errors.h"
#include "gesture/on_event.h"
#include "gesture/runtime.h"
#include "gesture/stream.h"
#include "gesture/trainer.h"

static const char *OPTIONS =
    "\nCHECKPOINT is a .h5 checkpoint or a run directory. SOURCE is a video file (mp4, mkv, webm, avi, ...),\n"
    "a camera (/dev/video0), or - for raw RGB24 frames on stdin (give --size and --fps):\n"
    "  ffmpeg -i in.mp4 -f rawvideo -pix_fmt rgb24 - | gesture stream RUN - --size 640x480 --fps 30\n"
    "The input is resampled to stream.fps / data.frame_step model frames per second (the motion speed the\n"
    "model was trained at). Each model frame runs the backbone once; every stream.hop frames the BiGRU and\n"
    "the head run over the last data.frames frames.\n"
    "\noutput (stdout, one JSON object per line):\n"
    "  {\"type\": \"window\", \"t\", \"start\", \"end\", \"label\", \"p\", \"probabilities\": {class: p}}\n"
    "  {\"type\": \"event\", \"label\", \"p\", \"start\", \"t\"}   a gesture (stream.smooth, threshold, min_duration,\n"
    "                                                    refractory decide when; see docs/live.md)\n"
    "\noptions:\n"
    "  --hop N              model frames between windows (default stream.hop)\n"
    "  --set stream.KEY=V   override a [stream] key (fps, hop, smooth, threshold, min_duration, refractory)\n"
    "  --events-only        print only the event lines\n"
    "  --events FILE.csv    also write each event as start,end,label,p,fired when it ends\n"
    "  --on-event 'CMD ARG...'  run a program per event; {label} {prob} {time} {start} in its words are\n"
    "                       filled in. Started directly, never through a shell; --on-event-shell runs the\n"
    "                       template with /bin/sh -c instead (then quoting is yours).\n"
    "  --annotate OUT       write the frames the model saw with label, probability bars and events drawn\n"
    "                       (.mp4 .mkv .avi .webm .gif), at the model frame rate\n"
    "  --size WxH --fps F   raw input's frame size and rate; for a camera, the mode to ask for\n"
    "  --realtime           replay a file at its own pace, dropping frames when inference falls behind\n"
    "                       (what a camera does)\n"
    "  --no-drop            never drop frames, also from a camera or a pipe (they wait in the source or\n"
    "                       the pipe instead; latency grows when inference is slower than the source)\n"
    "  --device auto|cpu|cuda  where the per-frame backbone runs, one frame per call (default: the config's\n"
    "                       runtime.device); the BiGRU and head over the window run on the CPU\n"
    "  --threads N          CPU threads (default: the config's runtime.threads; 0 = all cores)\n"
    "  --inference plan|reference  per-frame features from the folded plan (fast kernels) or the\n"
    "                       reference ops (same results within 1e-4; default: runtime.inference, plan)\n"
    "  --precision fp32|bf16  runtime.precision: bf16 on cuda (GEMMs on bf16 operands, the plan's\n"
    "                       activations in bf16); the cpu runs fp32 and says so (default: the config's)\n"
    "  --queue N            decoded frames waiting for the model (default 4); a live source that gets\n"
    "                       further ahead loses its oldest waiting frame (counted as dropped)\n"
    "\nThe summary (stderr) gives frames decoded and used, windows, events, dropped frames and the latency\n"
    "per model frame (p50/p99): compute = features + head, end-to-end = from decoded to result.\n"
    "Exit status: 0 at the end of the input or on Ctrl-C, 1 when the source failed (after the summary).\n";

typedef struct {
    const char *target, *source;
    const char *events_csv, *on_event, *annotate;
    int on_event_shell, events_only, realtime, no_drop, threads, queue, hop;
    int inference;  // gs_inference, -1: the config's
    int precision;  // gs_precision, -1: the config's
    int device;  // a gs_device, or -1: the config's runtime.device
    int width, height;
    double fps;
    char **sets;
    int n_sets;
} stream_opts;

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

static int parse_size(const char *s, int *w, int *h) {
    char x;
    return sscanf(s, "%d%c%d", w, &x, h) == 3 && (x == 'x' || x == 'X') && *w > 0 && *h > 0 && *w <= 16384 &&
                   *h <= 16384
               ? 0
               : -1;
}

// 0 ok, 2 usage error (printed).
static int parse_args(stream_opts *o, int argc, char **argv) {
    memset(o, 0, sizeof *o);
    o->threads = -1, o->queue = 4, o->inference = -1, o->precision = -1, o->device = -1;
    o->sets = gs_calloc((size_t)argc, sizeof(char *));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int value = !strcmp(a, "--hop") || !strcmp(a, "--set") || !strcmp(a, "--events") || !strcmp(a, "--on-event") ||
                    !strcmp(a, "--on-event-shell") || !strcmp(a, "--annotate") || !strcmp(a, "--size") ||
                    !strcmp(a, "--fps") || !strcmp(a, "--threads") || !strcmp(a, "--queue") || !strcmp(a, "--device") ||
                    !strcmp(a, "--inference") || !strcmp(a, "--precision");
        if (value && i + 1 >= argc) {
            fprintf(stderr, "gesture stream: %s needs a value\n", a);
            return 2;
        }
        const char *v = value ? argv[++i] : NULL;
        int bad = 0;
        if (!strcmp(a, "--hop")) bad = cli_parse_int(v, 1, 512, &o->hop);
        else if (!strcmp(a, "--threads")) bad = cli_parse_int(v, 0, 1024, &o->threads);
        else if (!strcmp(a, "--queue")) bad = cli_parse_int(v, 3, 1024, &o->queue);
        else if (!strcmp(a, "--inference")) {
            if (cli_parse_inference("stream", v, &o->inference)) return 2;
        } else if (!strcmp(a, "--precision")) {
            if (cli_parse_precision("stream", v, &o->precision)) return 2;
        } else if (!strcmp(a, "--device")) {
            if (cli_parse_device("stream", v, &o->device)) return 2;
        }
        else if (!strcmp(a, "--set")) {
            bad = strncmp(v, "stream.", 7) != 0;
            o->sets[o->n_sets++] = (char *)v;
        } else if (!strcmp(a, "--events")) o->events_csv = v;
        else if (!strcmp(a, "--on-event")) o->on_event = v;
        else if (!strcmp(a, "--on-event-shell")) o->on_event = v, o->on_event_shell = 1;
        else if (!strcmp(a, "--annotate")) o->annotate = v;
        else if (!strcmp(a, "--size")) bad = parse_size(v, &o->width, &o->height);
        else if (!strcmp(a, "--fps")) {
            char *end;
            o->fps = strtod(v, &end);
            bad = !*v || *end || !(o->fps > 0 && o->fps <= 1000);
        } else if (!strcmp(a, "--events-only")) o->events_only = 1;
        else if (!strcmp(a, "--realtime")) o->realtime = 1;
        else if (!strcmp(a, "--no-drop")) o->no_drop = 1;
        else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "gesture stream: unknown option '%s' (see gesture stream --help)\n", a);
            return 2;
        } else if (!o->target) o->target = a;
        else if (!o->source) o->source = a;
        else {
            fprintf(stderr, "gesture stream: one SOURCE at a time (got '%s' and '%s')\n", o->source, a);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "gesture stream: bad value for %s: '%s' (see gesture stream --help)\n", a, v);
            return 2;
        }
    }
    if (!o->target || !o->source) {
        fprintf(stderr, "gesture stream: give a checkpoint and a source (e.g. gesture stream runs/quickstart "
                        "clip.mp4)\n");
        return 2;
    }
    return 0;
}

static int argmax(const float *p, int K) {
    int best = 0;
    for (int k = 1; k < K; k++)
        if (p[k] > p[best]) best = k;
    return best;
}

static void print_window(char *const *classes, int K, const float *probs, double t0, double t1) {
    int best = argmax(probs, K);
    printf("{\"type\": \"window\", \"t\": %.6f, \"start\": %.6f, \"end\": %.6f, \"label\": ", t1, t0, t1);
    cli_json_string(stdout, classes[best]);
    printf(", \"p\": %.9g, \"probabilities\": {", (double)probs[best]);
    for (int k = 0; k < K; k++) {
        if (k) fputs(", ", stdout);
        cli_json_string(stdout, classes[k]);
        printf(": %.9g", (double)probs[k]);
    }
    fputs("}}\n", stdout);
}

static void print_event(char *const *classes, const gs_event *ev) {
    fputs("{\"type\": \"event\", \"label\": ", stdout);
    cli_json_string(stdout, classes[ev->label]);
    printf(", \"p\": %.9g, \"start\": %.6f, \"t\": %.6f}\n", (double)ev->prob, ev->start, ev->fired);
}

// Latencies (seconds) of every model frame, for the summary's percentiles.
typedef struct {
    double *v;
    long n, cap;
} samples;

static void samples_add(samples *s, double x) {
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 1024;
        double *nv = realloc(s->v, (size_t)s->cap * sizeof *nv);
        GS_ASSERT(nv);
        s->v = nv;
    }
    s->v[s->n++] = x;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(samples *s, double q) {
    if (s->n == 0) return 0;
    qsort(s->v, (size_t)s->n, sizeof *s->v, by_value);
    long i = (long)(q * (double)(s->n - 1) + 0.5);
    return s->v[i];
}

// Everything one run of the stream holds.
typedef struct {
    stream_opts o;
    cli_inference_model im;
    gs_source *src;
    gs_feed *feed;
    gs_window_model wm;
    gs_events ev;
    gs_on_event oe;
    gs_annotator an;
    FILE *csv;
    int have_oe, have_an, hop, use_cuda;
    long frames, windows, events, on_event_errors;
    samples compute, e2e;
    double wall0;
} stream_run;

static int open_outputs(stream_run *r, const gs_feed_frame *first, double model_fps) {
    if (r->o.annotate && !r->have_an) {
        if (annotate_open(&r->an, r->o.annotate, first->w, first->h, model_fps, r->im.classes, r->im.n_classes) != 0)
            return -1;
        r->have_an = 1;
    }
    return 0;
}

static void emit_event(stream_run *r, const gs_event *fired) {
    r->events++;
    print_event(r->im.classes, fired);
    if (r->have_an) annotate_event(&r->an, fired);
    if (r->have_oe && on_event_run(&r->oe, r->im.classes[fired->label], fired) != 0) {
        fprintf(stderr, "gesture stream: warning: %s\n", gs_last_error());
        r->on_event_errors++;
    }
}

static void write_closed(stream_run *r, const gs_event *e) {
    if (!r->csv) return;
    fprintf(r->csv, "%.6f,%.6f,%s,%.6f,%.6f\n", e->start, e->end, r->im.classes[e->label], (double)e->prob, e->fired);
    fflush(r->csv);
}

// One model frame: features into the ring; on a hop, the window, its line and the event detector.
static int process(stream_run *r, gs_feed_frame *fr) {
    int K = r->im.n_classes;
    double t0 = runtime_now();
    memcpy(window_model_frame(&r->wm), fr->x, (size_t)r->wm.feat.cfg.size * r->wm.feat.cfg.size * 3 * sizeof(float));
    window_model_push(&r->wm, fr->t);
    r->frames++;
    float probs[K];
    int have = 0;
    if (window_model_full(&r->wm) && (r->wm.n - r->wm.T) % r->hop == 0) {
        double w0, w1;
        window_model_probs(&r->wm, probs, &w0, &w1);
        have = 1;
        r->windows++;
        if (!r->o.events_only) print_window(r->im.classes, K, probs, w0, w1);
        gs_event fired, closed;
        int got = events_push(&r->ev, probs, w1, &fired, &closed);
        if (got & 2) write_closed(r, &closed);
        if (got & 1) emit_event(r, &fired);
        fflush(stdout);
    }
    double t1 = runtime_now();
    samples_add(&r->compute, t1 - t0);
    samples_add(&r->e2e, t1 - fr->ready);
    if (r->have_an && annotate_frame(&r->an, fr->rgb, fr->w, fr->h, have ? events_smoothed(&r->ev) : NULL) != 0)
        return -1;
    return 0;
}

static void summary(stream_run *r, int rc) {
    gs_feed_stats st = {0};
    if (r->feed) feed_stats(r->feed, &st);
    double secs = runtime_now() - r->wall0;
    fprintf(stderr,
            "gesture stream: %s: %ld frames decoded, %ld model frames (%ld used, %ld dropped), %ld windows, %ld events "
            "in %.1f s (%.1f model frames/s)%s\n",
            r->o.source, st.decoded, st.taken, r->frames, st.dropped, r->windows, r->events, secs,
            secs > 0 ? (double)r->frames / secs : 0.0, interrupted ? "; stopped by Ctrl-C" : rc ? "; source failed" : "");
    fprintf(stderr, "gesture stream: latency per model frame: compute p50 %.1f ms, p99 %.1f ms; end-to-end p50 %.1f ms, "
                    "p99 %.1f ms\n",
            1e3 * percentile(&r->compute, 0.5), 1e3 * percentile(&r->compute, 0.99), 1e3 * percentile(&r->e2e, 0.5),
            1e3 * percentile(&r->e2e, 0.99));
    if (st.size_changes) fprintf(stderr, "gesture stream: the frame size changed %ld times\n", st.size_changes);
    if (r->have_oe && (r->oe.failed || r->on_event_errors))
        fprintf(stderr, "gesture stream: %d event commands failed, %ld could not be started\n", r->oe.failed,
                r->on_event_errors);
}

static int setup(stream_run *r) {
    stream_opts *o = &r->o;
    char ckpt[PATH_MAX], run_dir[PATH_MAX];
    if (cli_resolve_checkpoint(ckpt, run_dir, sizeof ckpt, o->target, "stream", stderr) != 0 ||
        cli_inference_model_load(&r->im, ckpt, (cli_inference_overrides){1, o->threads, o->inference, o->precision}) != 0)
        return -1;
    for (int i = 0; i < o->n_sets; i++)
        if (config_set(&r->im.cfg, o->sets[i]) != 0) return -1;
    if (config_validate(&r->im.cfg) != 0) return -1;
    const gs_stream_config *sc = &r->im.cfg.stream;
    r->hop = o->hop ? o->hop : sc->hop;
    gs_device dev = o->device >= 0 ? (gs_device)o->device : r->im.cfg.runtime.device;
    if (train_device_open(dev, &r->use_cuda) != 0) return -1;
    gs_precision prec = precision_resolve(r->im.cfg.runtime.precision, r->use_cuda, "stream", "inference",
                                          precision_cpu_reason());  // cuda has bf16 on both paths
    if (window_model_init(&r->wm, &r->im.model, r->use_cuda ? device_gpu() : NULL, prec == GS_PRECISION_BF16) != 0)
        return -1;
    if (r->im.plan) {  // the plan stream needs is the one-frame model's (features only)
        plan_free(r->im.plan);
        r->im.plan = NULL;
        if (window_model_use_plan(&r->wm, prec == GS_PRECISION_BF16) != 0) return -1;
    }
    if (r->use_cuda)
        fprintf(stderr, "gesture stream: per-frame features on cuda: %s, inference: %s%s\n",
                device_gpu()->device_name(), r->wm.plan ? "plan" : "reference", prec == GS_PRECISION_BF16 ? ", bf16" : "");
    events_init(&r->ev, r->im.n_classes, sc);
    if (o->on_event) {
        if (on_event_parse(&r->oe, o->on_event, o->on_event_shell) != 0) return -1;
        r->have_oe = 1;
    }
    if (o->events_csv) {
        r->csv = fopen(o->events_csv, "w");
        if (!r->csv) return gs_error("%s: cannot write: %s", o->events_csv, strerror(errno));
        fputs("start,end,label,p,fired\n", r->csv);
    }
    int raw = !strcmp(o->source, "-");
    gs_source_args sa = {o->source, raw, o->width, o->height, o->fps};
    if (source_open(&r->src, &sa) != 0) return -1;
    gs_feed_args fa = {r->src, r->im.cfg.data.size, r->im.cfg.data.normalize,
                       sc->fps / r->im.cfg.data.frame_step, o->queue, o->annotate != NULL, o->realtime,
                       o->no_drop, r->im.cfg.data.resize};
    return feed_start(&r->feed, &fa);
}

static void teardown(stream_run *r, int ok) {
    if (r->feed) feed_free(r->feed);
    if (r->src) source_close(r->src);
    if (r->have_an) {
        if (ok && annotate_close(&r->an) != 0) fprintf(stderr, "gesture stream: %s\n", gs_last_error());
        else if (!ok) annotate_abort(&r->an);
    }
    if (r->have_oe) {
        on_event_reap(&r->oe, 1);
        on_event_free(&r->oe);
    }
    if (r->csv) fclose(r->csv);
    if (r->ev.hist) events_free(&r->ev);
    if (r->wm.ring) window_model_free(&r->wm);
    if (r->use_cuda) train_cuda_close();
    cli_inference_model_free(&r->im);
    free(r->compute.v);
    free(r->e2e.v);
    free(r->o.sets);
}

int cmd_stream(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        cli_print_usage("stream");
        fputs(OPTIONS, stdout);
        return 0;
    }
    stream_run r;
    memset(&r, 0, sizeof r);
    int rc = parse_args(&r.o, argc, argv);
    if (rc) {
        free(r.o.sets);
        return rc;
    }
    if (setup(&r) != 0) {
        fprintf(stderr, "gesture stream: %s\n", gs_last_error());
        teardown(&r, 0);
        return 1;
    }
    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);
    r.wall0 = runtime_now();
    double model_fps = r.im.cfg.stream.fps / r.im.cfg.data.frame_step;
    gs_feed_frame *fr;
    int got;
    while (!interrupted && (got = feed_next(r.feed, &fr)) == 1) {
        rc = open_outputs(&r, fr, model_fps) != 0 || process(&r, fr) != 0;
        feed_release(r.feed, fr);
        if (r.have_oe) on_event_reap(&r.oe, 0);
        if (rc) break;
    }
    if (!interrupted && !rc && got < 0) {
        fprintf(stderr, "gesture stream: %s\n", gs_last_error());
        rc = 1;
    } else if (rc) {
        fprintf(stderr, "gesture stream: %s\n", gs_last_error());
    }
    gs_event closed;
    if (events_finish(&r.ev, &closed)) write_closed(&r, &closed);
    fflush(stdout);
    summary(&r, rc);
    teardown(&r, !rc);
    return rc;
}
