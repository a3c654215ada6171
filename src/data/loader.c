// The prefetching loader (see gesture/loader.h): worker pool, ring of batch slots, epoch cursor.
//
// Work is handed out one clip at a time in epoch order (item i = clip perm[i] → batch i / B,
// row i % B), so several workers fill one batch together and small batches still use every
// thread. A sharded loader (shard_count > 1) hands out only the items of its rows of each batch:
// the item table (it_*) lists them, fixed for the run (the epoch only changes perm). Batch s lives in slot s % K; a worker may open it only when the consumer has released
// batch s - K, which bounds memory and keeps the producer at most K batches ahead. One mutex
// guards all shared state; three condition variables signal "work available", "batch ready"
// and "no work in flight" (used when an epoch is restarted).
#include "gesture/loader.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gesture/config.h"
#include "gesture/dist.h"
#include "gesture/errors.h"
#include "gesture/rng.h"
#include "loader_internal.h"

enum { SLOT_FREE, SLOT_FILLING, SLOT_READY, SLOT_HELD };

typedef struct {
    gs_batch b;
    int state;
    int n_expected;  // clips assigned to this batch
    int n_done;
    unsigned char *ok;  // (B) per-row success
    char err[1024];     // first failure (on_bad_clip = error)
} slot;

typedef struct {
    struct gs_loader *l;
    clip_scratch scratch;
    pthread_t thread;
} worker;

struct gs_loader {
    gs_loader_config c;
    gs_dataset own;       // when loaded from root/split
    const gs_dataset *ds;
    int aug_active;
    int *swap;            // (n_classes) class after a horizontal flip
    frame_cache *cache;
    size_t clip_floats;   // T*S*S*3

    pthread_mutex_t mu;
    pthread_cond_t work_cv, ready_cv, idle_cv;
    worker *workers;
    int n_workers;
    int stop;

    // epoch state (under mu)
    int active;        // items may be handed out
    int failed;        // an error ended the epoch; loader_next keeps returning -1
    char fail_msg[1024];
    unsigned gen;      // bumped by loader_start_epoch; stale results are dropped
    int epoch;
    int *perm;         // (n_clips) epoch order
    int n_steps;
    // this loader's items in order: position in perm, batch (step) and row in the yielded batch
    int shards;        // shard_count (1 = the whole batch)
    int *it_pos, *it_step, *it_row;
    long n_items;
    int *step_n;       // (n_steps) items of each step
    long *step_first;  // (n_steps + 1) first item of each step
    int local_batch;   // the largest step_n: rows of a batch slot
    gs_batch empty[2]; // sharded steps without an item: n = 0, alternating by step
    long next_item;
    int consume_step;
    int in_flight;
    slot *slots;
    int n_slots;

    unsigned char *bad_seen;  // (n_clips) skip mode: warned about this clip already
    long n_bad;
};

void loader_config_defaults(gs_loader_config *c) {
    memset(c, 0, sizeof *c);
    c->frames = 15;
    c->sampling = GS_SAMPLING_STRIDE;
    c->frame_step = 2;
    c->size = 224;
    c->normalize = GS_NORMALIZE_UNIT;
    c->batch_size = 4;
    c->shuffle = 1;
    c->seed = 1337;
}

void loader_config_from(gs_loader_config *lc, const gs_config *cfg, const char *split, int train) {
    loader_config_defaults(lc);
    lc->root = cfg->data.root;
    lc->split = split;
    lc->frames = cfg->data.frames;
    lc->sampling = cfg->data.sampling;
    lc->frame_step = cfg->data.frame_step;
    lc->size = cfg->data.size;
    lc->normalize = cfg->data.normalize;
    lc->resize = cfg->data.resize;
    lc->batch_size = cfg->train.batch_size;
    lc->shuffle = train;
    lc->augment = train;
    lc->aug.flip = cfg->data.augment_flip;
    lc->aug.crop_scale = (float)cfg->data.augment_crop_scale;  // both: largest fraction of the side cropped
    lc->aug.shift = (float)cfg->data.augment_shift;
    lc->aug.brightness = (float)cfg->data.augment_brightness;
    lc->aug.contrast = (float)cfg->data.augment_contrast;
    lc->aug.temporal_jitter = cfg->data.augment_temporal_jitter;
    lc->seed = cfg->train.seed;
    lc->workers = cfg->data.workers;
    lc->cache = cfg->data.cache;
    lc->on_bad_clip = cfg->data.on_bad_clip;
}

// The fields that shape one clip's tensor (shared with loader_load_clip).
static int validate_clip_params(const gs_loader_config *c) {
    if (c->frames < 1 || c->frames > 1024) return gs_error("loader: frames must be in 1..1024 (got %d)", c->frames);
    if (c->frame_step < 1) return gs_error("loader: frame_step must be >= 1 (got %d)", c->frame_step);
    if (c->sampling != GS_SAMPLING_STRIDE && c->sampling != GS_SAMPLING_UNIFORM) return gs_error("loader: unknown sampling %d", (int)c->sampling);
    if (c->size < 1 || c->size > 4096) return gs_error("loader: size must be in 1..4096 (got %d)", c->size);
    if (c->normalize != GS_NORMALIZE_UNIT && c->normalize != GS_NORMALIZE_SYMMETRIC) return gs_error("loader: unknown normalize %d", (int)c->normalize);
    if (c->resize != GS_RESIZE_FLOAT && c->resize != GS_RESIZE_CV2)
        return gs_error("loader: unknown resize %d", (int)c->resize);
    return 0;
}

static int validate_config(const gs_loader_config *c) {
    if (!c->dataset && (!c->root || !c->split)) return gs_error("loader: give a dataset or a root and split");
    if (validate_clip_params(c) != 0) return -1;
    if (c->batch_size < 1) return gs_error("loader: batch_size must be >= 1 (got %d)", c->batch_size);
    if (c->shard_count < 0 || c->shard_rank < 0 || (c->shard_count > 0 && c->shard_rank >= c->shard_count) ||
        (c->shard_count == 0 && c->shard_rank != 0))
        return gs_error("loader: shard %d of %d does not exist", c->shard_rank, c->shard_count);
    if (c->workers < 0 || c->workers > 256) return gs_error("loader: workers must be in 0..256 (got %d)", c->workers);
    if (c->prefetch < 0 || c->prefetch > 64) return gs_error("loader: prefetch must be in 0..64 (got %d)", c->prefetch);
    const gs_augment *a = &c->aug;
    if (c->resize == GS_RESIZE_CV2 && c->augment && (a->crop_scale > 0 || a->shift > 0))
        return gs_error("loader: resize cv2 cannot crop or shift (augment crop_scale %g, shift %g)", a->crop_scale,
                        a->shift);
    if (!(a->crop_scale >= 0 && a->crop_scale < 1)) return gs_error("loader: augment crop_scale must be in [0,1) (got %g)", a->crop_scale);
    if (!(a->shift >= 0 && a->shift < 1)) return gs_error("loader: augment shift must be in [0,1) (got %g)", a->shift);
    if (!(a->brightness >= 0 && a->brightness <= 1)) return gs_error("loader: augment brightness must be in [0,1] (got %g)", a->brightness);
    if (!(a->contrast >= 0 && a->contrast < 1)) return gs_error("loader: augment contrast must be in [0,1) (got %g)", a->contrast);
    if (a->temporal_jitter < 0) return gs_error("loader: augment temporal_jitter must be >= 0 (got %d)", a->temporal_jitter);
    if ((c->host_alloc == NULL) != (c->host_free == NULL)) return gs_error("loader: set both host_alloc and host_free, or neither");
    return 0;
}

// Left_X <-> Right_X for every pair of class names that differ only in that word.
static void build_swap(int *swap, const gs_dataset *ds) {
    for (int c = 0; c < ds->n_classes; c++) {
        swap[c] = c;
        const char *name = ds->classes[c];
        const char *from = strstr(name, "Left") ? "Left" : (strstr(name, "Right") ? "Right" : NULL);
        if (!from) continue;
        const char *to = from[0] == 'L' ? "Right" : "Left";
        char buf[512];
        const char *at = strstr(name, from);
        snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - name), name, to, at + strlen(from));
        int m = dataset_find_class(ds, buf);
        if (m >= 0) swap[c] = m;
    }
}

// ---- workers ----

static void finish_item(gs_loader *l, slot *s, int row, int ok, int clip_id, const char *err) {
    s->ok[row] = (unsigned char)ok;
    if (!ok && l->c.on_bad_clip == GS_BAD_CLIP_ERROR && !s->err[0]) snprintf(s->err, sizeof s->err, "%s", err);
    if (!ok && l->c.on_bad_clip == GS_BAD_CLIP_SKIP && !l->bad_seen[clip_id]) {
        l->bad_seen[clip_id] = 1;
        l->n_bad++;
        fprintf(stderr, "warning: skipping clip: %s\n", err);
    }
    if (++s->n_done < s->n_expected) return;
    if (l->c.on_bad_clip == GS_BAD_CLIP_SKIP) {
        // Compact the surviving rows to the front so x[0..n) stays dense.
        int n = 0;
        for (int r = 0; r < s->n_expected; r++) {
            if (!s->ok[r]) continue;
            if (r != n) {
                memmove(s->b.x + (size_t)n * l->clip_floats, s->b.x + (size_t)r * l->clip_floats, l->clip_floats * sizeof(float));
                s->b.labels[n] = s->b.labels[r];
                s->b.clip_ids[n] = s->b.clip_ids[r];
            }
            n++;
        }
        s->b.n = n;
    }
    s->state = SLOT_READY;
    pthread_cond_broadcast(&l->ready_cv);
}

static void *worker_main(void *arg) {
    worker *w = arg;
    gs_loader *l = w->l;
    pthread_mutex_lock(&l->mu);
    while (!l->stop) {
        if (l->active && l->next_item < l->n_items) {
            int step = l->it_step[l->next_item];
            slot *s = &l->slots[step % l->n_slots];
            if (s->state == SLOT_FREE) {
                s->state = SLOT_FILLING;
                s->b.epoch = l->epoch;
                s->b.step = step;
                s->n_expected = l->step_n[step];
                s->b.n = s->n_expected;
                s->n_done = 0;
                s->err[0] = 0;
            }
            if (s->state == SLOT_FILLING && s->b.step == step) {
                int row = l->it_row[l->next_item];
                int clip_id = l->perm[l->it_pos[l->next_item]];
                unsigned gen = l->gen;
                int epoch = l->epoch;
                l->next_item++;
                l->in_flight++;
                pthread_mutex_unlock(&l->mu);

                uint64_t key = gs_key(l->c.seed, (uint64_t)epoch, (uint64_t)clip_id);
                int label = -1;
                int rc = clip_to_tensor(s->b.x + (size_t)row * l->clip_floats, &label, &l->ds->clips[clip_id], clip_id,
                                        &l->c, l->aug_active, l->swap, key, l->cache, &w->scratch);
                char err[1024] = "";
                if (rc != 0) snprintf(err, sizeof err, "%s", gs_last_error());

                pthread_mutex_lock(&l->mu);
                l->in_flight--;
                if (gen == l->gen) {
                    s->b.labels[row] = label;
                    s->b.clip_ids[row] = clip_id;
                    finish_item(l, s, row, rc == 0, clip_id, err);
                }
                if (l->in_flight == 0) pthread_cond_broadcast(&l->idle_cv);
                continue;
            }
        }
        pthread_cond_wait(&l->work_cv, &l->mu);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

// ---- public API ----

static void *default_alloc(size_t n) { return gs_aligned_alloc(n); }

// The item table: for every batch s of B clips (n of them: B, or fewer in the last), this loader's
// rows [lo, hi) of it (dist_shard; all of them unsharded).
static void items_init(gs_loader *l) {
    int B = l->c.batch_size, n = l->ds->n_clips;
    l->shards = l->c.shard_count > 1 ? l->c.shard_count : 1;
    l->n_steps = (n + B - 1) / B;
    l->it_pos = gs_malloc(sizeof(int) * (size_t)n);
    l->it_step = gs_malloc(sizeof(int) * (size_t)n);
    l->it_row = gs_malloc(sizeof(int) * (size_t)n);
    l->step_n = gs_malloc(sizeof(int) * (size_t)l->n_steps);
    l->step_first = gs_malloc(sizeof(long) * (size_t)(l->n_steps + 1));
    long k = 0;
    l->local_batch = 1;
    for (int s = 0; s < l->n_steps; s++) {
        int in_step = n - s * B < B ? n - s * B : B, lo, hi;
        dist_shard(in_step, l->shards > 1 ? l->c.shard_rank : 0, l->shards, &lo, &hi);
        l->step_first[s] = k;
        l->step_n[s] = hi - lo;
        if (hi - lo > l->local_batch) l->local_batch = hi - lo;
        for (int r = lo; r < hi; r++, k++) {
            l->it_pos[k] = s * B + r;
            l->it_step[k] = s;
            l->it_row[k] = r - lo;
        }
    }
    l->step_first[l->n_steps] = k;
    l->n_items = k;
    for (int i = 0; i < 2; i++) {  // valid (never read) buffers: memcpy of 0 rows from them is fine
        l->empty[i].x = gs_aligned_alloc(64);
        l->empty[i].labels = gs_calloc(1, sizeof(int));
        l->empty[i].clip_ids = gs_calloc(1, sizeof(int));
    }
}

int loader_init(gs_loader **out, const gs_loader_config *c) {
    *out = NULL;
    if (validate_config(c) != 0) return -1;
    gs_loader *l = gs_calloc(1, sizeof *l);
    l->c = *c;
    if (c->dataset) {
        l->ds = c->dataset;
    } else {
        if (dataset_load_prepared_ex(&l->own, c->root, c->split, c->on_bad_clip) != 0) {
            free(l);
            return -1;
        }
        l->ds = &l->own;
    }
    l->c.dataset = NULL;  // the borrowed pointers are not used after init
    l->c.root = l->c.split = NULL;
    if (l->ds->n_clips == 0) {
        gs_error("%s/%s: no clips", l->ds->root ? l->ds->root : "dataset", l->ds->split ? l->ds->split : "");
        dataset_free(&l->own);
        free(l);
        return -1;
    }
    l->aug_active = c->augment && l->ds->split && !strcmp(l->ds->split, "train");
    l->swap = gs_malloc(sizeof(int) * (size_t)(l->ds->n_classes ? l->ds->n_classes : 1));
    build_swap(l->swap, l->ds);
    if (!c->host_alloc) {
        l->c.host_alloc = default_alloc;
        l->c.host_free = free;
    }
    if (c->cache) l->cache = frame_cache_init(l->ds, c->cache_max_bytes);
    l->clip_floats = (size_t)c->frames * c->size * c->size * 3;
    items_init(l);
    int B = l->local_batch;
    l->n_slots = c->prefetch ? c->prefetch : 3;
    l->slots = gs_calloc((size_t)l->n_slots, sizeof(slot));
    for (int i = 0; i < l->n_slots; i++) {
        slot *s = &l->slots[i];
        s->b.x = l->c.host_alloc(l->clip_floats * (size_t)B * sizeof(float));
        if (!s->b.x) gs_fatal("loader: host_alloc failed for %zu bytes", l->clip_floats * (size_t)B * sizeof(float));
        s->b.labels = gs_malloc(sizeof(int) * (size_t)B);
        s->b.clip_ids = gs_malloc(sizeof(int) * (size_t)B);
        s->ok = gs_malloc((size_t)B);
        s->state = SLOT_FREE;
    }
    l->perm = gs_malloc(sizeof(int) * (size_t)l->ds->n_clips);
    l->bad_seen = gs_calloc((size_t)l->ds->n_clips, 1);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->work_cv, NULL);
    pthread_cond_init(&l->ready_cv, NULL);
    pthread_cond_init(&l->idle_cv, NULL);
    int nw = c->workers;
    if (nw == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        nw = cpus < 1 ? 1 : (cpus > 8 ? 8 : (int)cpus);
    }
    l->n_workers = nw;
    l->workers = gs_calloc((size_t)nw, sizeof(worker));
    for (int i = 0; i < nw; i++) {
        l->workers[i].l = l;
        if (pthread_create(&l->workers[i].thread, NULL, worker_main, &l->workers[i]) != 0)
            gs_fatal("loader: cannot start worker thread %d", i);
    }
    *out = l;
    return 0;
}

void loader_free(gs_loader *l) {
    if (!l) return;
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    l->active = 0;
    pthread_cond_broadcast(&l->work_cv);
    pthread_mutex_unlock(&l->mu);
    for (int i = 0; i < l->n_workers; i++) {
        pthread_join(l->workers[i].thread, NULL);
        clip_scratch_free(&l->workers[i].scratch);
    }
    for (int i = 0; i < l->n_slots; i++) {
        l->c.host_free(l->slots[i].b.x);
        free(l->slots[i].b.labels);
        free(l->slots[i].b.clip_ids);
        free(l->slots[i].ok);
    }
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->work_cv);
    pthread_cond_destroy(&l->ready_cv);
    pthread_cond_destroy(&l->idle_cv);
    frame_cache_free(l->cache);
    free(l->slots);
    free(l->workers);
    free(l->perm);
    free(l->it_pos);
    free(l->it_step);
    free(l->it_row);
    free(l->step_n);
    free(l->step_first);
    for (int i = 0; i < 2; i++) {
        free(l->empty[i].x);
        free(l->empty[i].labels);
        free(l->empty[i].clip_ids);
    }
    free(l->bad_seen);
    free(l->swap);
    dataset_free(&l->own);
    free(l);
}

int loader_start_epoch(gs_loader *l, int epoch, int start_step) {
    if (epoch < 0) return gs_error("loader: epoch must be >= 0 (got %d)", epoch);
    if (start_step < 0 || start_step > l->n_steps)
        return gs_error("loader: start step %d outside 0..%d", start_step, l->n_steps);
    pthread_mutex_lock(&l->mu);
    l->active = 0;
    l->gen++;
    while (l->in_flight > 0) pthread_cond_wait(&l->idle_cv, &l->mu);
    for (int i = 0; i < l->n_slots; i++) {
        if (l->slots[i].state == SLOT_HELD) gs_fatal("loader_start_epoch: batch %d still held (release it first)", l->slots[i].b.step);
        l->slots[i].state = SLOT_FREE;
    }
    int n = l->ds->n_clips;
    for (int i = 0; i < n; i++) l->perm[i] = i;
    if (l->c.shuffle) {
        gs_rng rng;
        gs_rng_seed(&rng, gs_key(l->c.seed, 0x5B0FF1EULL, (uint64_t)epoch));
        for (int i = n - 1; i > 0; i--) {
            int j = (int)gs_rng_below(&rng, (uint32_t)i + 1);
            int t = l->perm[i];
            l->perm[i] = l->perm[j];
            l->perm[j] = t;
        }
    }
    l->epoch = epoch;
    l->next_item = l->step_first[start_step];
    l->consume_step = start_step;
    l->failed = 0;
    l->active = 1;
    pthread_cond_broadcast(&l->work_cv);
    pthread_mutex_unlock(&l->mu);
    return 0;
}

int loader_next(gs_loader *l, gs_batch **b) {
    *b = NULL;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        if (l->failed) {
            pthread_mutex_unlock(&l->mu);
            return gs_error("%s", l->fail_msg);
        }
        if (!l->active && l->consume_step < l->n_steps) {
            pthread_mutex_unlock(&l->mu);
            return gs_error("loader_next: no epoch started (call loader_start_epoch)");
        }
        if (l->consume_step >= l->n_steps) {
            pthread_mutex_unlock(&l->mu);
            return 0;
        }
        if (l->step_n[l->consume_step] == 0) {  // a shard without a clip of this batch
            gs_batch *e = &l->empty[l->consume_step % 2];
            e->n = 0;
            e->epoch = l->epoch;
            e->step = l->consume_step++;
            *b = e;
            pthread_mutex_unlock(&l->mu);
            return 1;
        }
        slot *s = &l->slots[l->consume_step % l->n_slots];
        // Holding every slot would wait forever for a batch no worker can start.
        if (s->state == SLOT_HELD)
            gs_fatal("loader_next: all %d batch slots are held by the caller (release batches, or raise prefetch)", l->n_slots);
        while (!(s->state == SLOT_READY && s->b.step == l->consume_step)) pthread_cond_wait(&l->ready_cv, &l->mu);
        l->consume_step++;
        if (s->err[0]) {
            // Stop producing for this epoch; the caller reports the error and exits or restarts.
            snprintf(l->fail_msg, sizeof l->fail_msg, "%s", s->err);
            l->failed = 1;
            l->active = 0;
            s->state = SLOT_FREE;
            continue;
        }
        if (s->b.n == 0 && l->shards == 1) {  // every clip of this batch was skipped (shards: yielded)
            s->state = SLOT_FREE;
            pthread_cond_broadcast(&l->work_cv);
            continue;
        }
        s->state = SLOT_HELD;
        *b = &s->b;
        pthread_mutex_unlock(&l->mu);
        return 1;
    }
}

void loader_release(gs_loader *l, gs_batch *b) {
    if (b == &l->empty[0] || b == &l->empty[1]) return;
    slot *s = (slot *)b;  // b is the first member of its slot
    GS_ASSERT(s >= l->slots && s < l->slots + l->n_slots && s->state == SLOT_HELD);
    pthread_mutex_lock(&l->mu);
    s->state = SLOT_FREE;
    pthread_cond_broadcast(&l->work_cv);
    pthread_mutex_unlock(&l->mu);
}

int loader_steps_per_epoch(const gs_loader *l) { return l->n_steps; }
int loader_max_batch(const gs_loader *l) { return l->local_batch; }
const gs_dataset *loader_dataset(const gs_loader *l) { return l->ds; }

long loader_bad_clips(const gs_loader *l) {
    pthread_mutex_lock((pthread_mutex_t *)&l->mu);
    long n = l->n_bad;
    pthread_mutex_unlock((pthread_mutex_t *)&l->mu);
    return n;
}

int loader_load_clip(float *x, const gs_clip *clip, const gs_loader_config *c) {
    if (validate_clip_params(c) != 0) return -1;
    clip_scratch s = {0};
    int label;
    int rc = clip_to_tensor(x, &label, clip, 0, c, 0, NULL, 0, NULL, &s);
    clip_scratch_free(&s);
    return rc;
}

int loader_frames_to_tensor(float *x, const uint8_t *frames, int n, int w, int h, const gs_loader_config *c) {
    if (validate_clip_params(c) != 0) return -1;
    if (n < 1 || w < 1 || h < 1) return gs_error("no frames");
    int *idx = gs_malloc(sizeof(int) * (size_t)c->frames);
    int rc = frames_select(idx, n, c->frames, c->sampling, c->frame_step, 0, 0);
    gs_clip_aug id = augment_identity();
    size_t frame_in = (size_t)w * h * 3, frame_out = (size_t)c->size * c->size * 3;
    for (int t = 0; rc == 0 && t < c->frames; t++)
        clip_frame_to_tensor(x + (size_t)t * frame_out, frames + (size_t)idx[t] * frame_in, w, h, &id, c);
    free(idx);
    return rc;
}
