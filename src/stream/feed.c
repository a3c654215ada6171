// The decoder thread of `gesture stream` (gesture/stream.h): source -> resampler -> model input,
// through a bounded queue that drops the oldest waiting frame when a live source outruns the model.
#define _GNU_SOURCE  // pthread_timedjoin_np
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gesture/errors.h"
#include "gesture/image.h"
#include "gesture/runtime.h"
#include "gesture/stream.h"

enum { SLOT_FREE, SLOT_READY, SLOT_HELD };

typedef struct {
    gs_feed_frame fr;
    size_t rgb_cap;
    int state;
    long seq;  // order of READY slots
} slot;

struct gs_feed {
    gs_feed_args a;
    slot *slots;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int started, stop, done, failed;  // done: the thread has finished (end, error or stop)
    char error[1024];
    long next_seq;
    gs_feed_stats st;
};

// A slot to fill: a free one; live and full: the oldest READY one (dropped). NULL: stop asked.
static slot *claim(gs_feed *f, int live) {
    pthread_mutex_lock(&f->mu);
    slot *got = NULL;
    while (!f->stop) {
        slot *oldest = NULL;
        for (int i = 0; i < f->a.depth && !got; i++) {
            slot *s = &f->slots[i];
            if (s->state == SLOT_FREE) got = s;
            else if (s->state == SLOT_READY && (!oldest || s->seq < oldest->seq)) oldest = s;
        }
        if (!got && live && oldest) {
            got = oldest;
            f->st.dropped++;
        }
        if (got) break;
        pthread_cond_wait(&f->cv, &f->mu);
    }
    if (got) got->state = SLOT_HELD;  // the producer's until published
    pthread_mutex_unlock(&f->mu);
    return got;
}

static void publish(gs_feed *f, slot *s) {
    pthread_mutex_lock(&f->mu);
    s->state = SLOT_READY;
    s->seq = f->next_seq++;
    s->fr.ready = runtime_now();
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static void fill(gs_feed *f, slot *s, const gs_frame *in) {
    gs_resize_params p = image_resize_params(in->w, in->h, f->a.normalize);
    p.resize = f->a.resize;
    image_resize_rgb8(s->fr.x, in->rgb, in->w, in->h, f->a.size, f->a.size, &p);
    s->fr.w = in->w;
    s->fr.h = in->h;
    s->fr.t = in->t;
    s->fr.index = in->index;
    if (!f->a.keep_rgb) return;
    size_t bytes = (size_t)in->w * in->h * 3;
    if (bytes > s->rgb_cap) {
        free(s->fr.rgb);
        s->fr.rgb = gs_malloc(bytes);
        s->rgb_cap = bytes;
    }
    memcpy(s->fr.rgb, in->rgb, bytes);
}

// --realtime: wait until the frame's time has come on the wall clock.
static void pace(double wall0, double t) {
    double wait = wall0 + t - runtime_now();
    if (wait <= 0) return;
    struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void *run(void *arg) {
    gs_feed *f = arg;
    gs_resampler r;
    resampler_init(&r, f->a.model_fps, source_fps(f->a.src));
    int live = !f->a.no_drop && (f->a.realtime || source_is_live(f->a.src));
    int w = 0, h = 0, rc = 0;
    double wall0 = runtime_now();
    for (;;) {
        pthread_mutex_lock(&f->mu);
        int stop = f->stop;
        pthread_mutex_unlock(&f->mu);
        if (stop) break;
        gs_frame in;
        if ((rc = source_read(f->a.src, &in)) != 1) break;
        f->st.decoded++;
        if (w && (in.w != w || in.h != h)) {
            f->st.size_changes++;
            fprintf(stderr, "gesture stream: warning: %s: frame %ld (%.3f s) is %dx%d, the frames before were %dx%d; "
                            "going on\n", source_name(f->a.src), in.index, in.t, in.w, in.h, w, h);
        }
        w = in.w, h = in.h;
        if (f->a.model_fps > 0 && !resampler_take(&r, in.t)) continue;
        f->st.taken++;
        if (f->a.realtime) pace(wall0, in.t);
        slot *s = claim(f, live);
        if (!s) break;
        fill(f, s, &in);
        publish(f, s);
    }
    pthread_mutex_lock(&f->mu);
    if (rc < 0) {
        f->failed = 1;
        snprintf(f->error, sizeof f->error, "%s", gs_last_error());
    }
    f->done = 1;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

int feed_start(gs_feed **out, const gs_feed_args *a) {
    if (a->depth < 3) return gs_error("stream: the frame queue needs at least 3 slots (got %d)", a->depth);
    gs_feed *f = gs_calloc(1, sizeof *f);
    f->a = *a;
    f->slots = gs_calloc((size_t)a->depth, sizeof *f->slots);
    for (int i = 0; i < a->depth; i++) f->slots[i].fr.x = gs_aligned_alloc((size_t)a->size * a->size * 3 * sizeof(float));
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    int rc = pthread_create(&f->thread, NULL, run, f);
    if (rc != 0) {
        feed_free(f);
        return gs_error("stream: cannot start the decoder thread: %s", strerror(rc));
    }
    f->started = 1;
    *out = f;
    return 0;
}

int feed_next(gs_feed *f, gs_feed_frame **fr) {
    pthread_mutex_lock(&f->mu);
    for (;;) {
        slot *oldest = NULL;
        for (int i = 0; i < f->a.depth; i++) {
            slot *s = &f->slots[i];
            if (s->state == SLOT_READY && (!oldest || s->seq < oldest->seq)) oldest = s;
        }
        if (oldest && !f->stop) {
            oldest->state = SLOT_HELD;
            *fr = &oldest->fr;
            pthread_mutex_unlock(&f->mu);
            return 1;
        }
        if (f->done || f->stop) {
            int rc = f->failed && !f->stop ? -1 : 0;
            if (rc) gs_error("%s", f->error);
            pthread_mutex_unlock(&f->mu);
            return rc;
        }
        pthread_cond_wait(&f->cv, &f->mu);
    }
}

void feed_release(gs_feed *f, gs_feed_frame *fr) {
    pthread_mutex_lock(&f->mu);
    for (int i = 0; i < f->a.depth; i++)
        if (&f->slots[i].fr == fr) f->slots[i].state = SLOT_FREE;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

void feed_stop(gs_feed *f) {
    pthread_mutex_lock(&f->mu);
    f->stop = 1;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

void feed_stats(gs_feed *f, gs_feed_stats *s) {
    pthread_mutex_lock(&f->mu);
    *s = f->st;
    pthread_mutex_unlock(&f->mu);
}

void feed_free(gs_feed *f) {
    if (!f) return;
    if (f->started) {
        feed_stop(f);
        // a source blocked in a read (a silent camera or pipe) may not return: give it a second,
        // then leave the thread to the process exit rather than hang
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        if (pthread_timedjoin_np(f->thread, NULL, &until) != 0) return;
    }
    for (int i = 0; i < f->a.depth; i++) {
        free(f->slots[i].fr.x);
        free(f->slots[i].fr.rgb);
    }
    free(f->slots);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f);
}
