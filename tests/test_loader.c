// Loader contract: every clip once per epoch, batches bit-identical for 1 vs N workers / prefetch
// depths / cache on-off, resumable cursor, per-clip augmentation shared by all frames, flip with
// Left/Right label swap, no augmentation outside train, frame selection, worker errors surfacing
// with the file name (error mode) or dropped and counted (skip mode), host memory hooks, JPEG frames.
// Builds its own tiny prepared data set in a temp folder (small frames keep it fast under valgrind).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gesture/dist.h"
#include "gesture/errors.h"
#include "gesture/frame_image.h"
#include "gesture/fsutil.h"
#include "gesture/jpeg.h"
#include "gesture/loader.h"
#include "gesture/png.h"
#include "testutil.h"

static const char *CLASSES[] = {"Left_Swipe", "Right_Swipe", "Stop"};
enum { N_CLASSES = 3, CLIPS_PER_CLASS = 7, N_CLIPS = N_CLASSES * CLIPS_PER_CLASS, T = 4, S = 12, B = 4 };

static const char *root;  // the data set: a scratch folder

// How make_dataset stores frames: PNG; JPEG (quality 95) under every frame name, one in four a JPEG
// named .png; PNG holding exactly the pixels of those JPEGs decoded (the JPEG set's twin).
typedef enum { FRAMES_PNG, FRAMES_JPEG, FRAMES_JPEG_AS_PNG } frame_format;

// Frame f of a clip: R encodes the frame index, G the label, B a left→right gradient (shows flips).
static void write_frame(const char *dir, int f, int label, int w, int h, frame_format fmt) {
    uint8_t *px = gs_malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = px + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(f * 20);
            p[1] = (uint8_t)(label * 50 + y);
            p[2] = (uint8_t)(x * 255 / (w - 1));
        }
    static const char *const EXT[4] = {"jpg", "JPEG", "jpeg", "png"};
    char path[600];
    snprintf(path, sizeof path, "%s/frame_%04d.%s", dir, f, fmt == FRAMES_JPEG ? EXT[f % 4] : "png");
    int rc = fmt == FRAMES_PNG ? gs_png_write_rgb8(path, px, w, h, 1) : gs_jpeg_write_rgb8(path, px, w, h, 95);
    if (rc == 0 && fmt == FRAMES_JPEG_AS_PNG) {  // same pixels, same JPEG bytes: decode them, keep a PNG
        size_t cap = (size_t)w * h * 3;
        int dw, dh;
        rc = gs_frame_image_read_rgb8_into(&px, &cap, &dw, &dh, path);
        if (rc == 0) rc = gs_png_write_rgb8(path, px, w, h, 1);
    }
    if (rc != 0) gs_fatal("%s", gs_last_error());
    free(px);
}

static const char *make_dataset(const char *name, frame_format fmt) {
    const char *dir = test_make_tmpdir(name);
    const char *splits[] = {"train", "val"};
    for (int s = 0; s < 2; s++) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, splits[s]);
        GS_ASSERT(fs_mkdir_p(p) == 0);
        for (int c = 0; c < N_CLASSES; c++) {
            snprintf(p, sizeof p, "%s/%s/%s", dir, splits[s], CLASSES[c]);
            GS_ASSERT(fs_mkdir_p(p) == 0);
            int n = s == 0 ? CLIPS_PER_CLASS : 2;
            for (int k = 0; k < n; k++) {
                snprintf(p, sizeof p, "%s/%s/%s/clip%d", dir, splits[s], CLASSES[c], k);
                GS_ASSERT(fs_mkdir_p(p) == 0);
                int nf = 8 + (k % 3);  // 8..10 frames: stride 2 x 4 frames needs 7
                for (int f = 0; f < nf; f++) write_frame(p, f, c, k % 2 ? 20 : 13, k % 2 ? 15 : 13, fmt);
            }
        }
    }
    return dir;
}

static gs_loader_config base_config(const char *split) {
    gs_loader_config c;
    loader_config_defaults(&c);
    c.root = root;
    c.split = split;
    c.frames = T;
    c.frame_step = 2;
    c.size = S;
    c.batch_size = B;
    c.seed = 42;
    c.workers = 1;
    return c;
}

// All batches of `epochs` epochs, concatenated: x, labels, ids, n per batch.
typedef struct {
    float *x;
    int *labels, *ids, *n;
    int batches;
} run_t;

static run_t run_epochs(const gs_loader_config *c, int first_epoch, int epochs, int start_step) {
    gs_loader *l;
    if (loader_init(&l, c) != 0) gs_fatal("loader_init: %s", gs_last_error());
    size_t clip_n = (size_t)T * S * S * 3;
    int steps = loader_steps_per_epoch(l);
    run_t r = {gs_calloc((size_t)epochs * steps * B * clip_n, sizeof(float)), gs_calloc((size_t)epochs * steps * B, sizeof(int)),
               gs_calloc((size_t)epochs * steps * B, sizeof(int)), gs_calloc((size_t)epochs * steps, sizeof(int)), 0};
    for (int e = 0; e < epochs; e++) {
        loader_start_epoch(l, first_epoch + e, e == 0 ? start_step : 0);
        gs_batch *b;
        int rc;
        while ((rc = loader_next(l, &b)) == 1) {
            memcpy(r.x + (size_t)r.batches * B * clip_n, b->x, (size_t)b->n * clip_n * sizeof(float));
            memcpy(r.labels + r.batches * B, b->labels, sizeof(int) * (size_t)b->n);
            memcpy(r.ids + r.batches * B, b->clip_ids, sizeof(int) * (size_t)b->n);
            r.n[r.batches++] = b->n;
            loader_release(l, b);
        }
        if (rc != 0) gs_fatal("loader_next: %s", gs_last_error());
    }
    loader_free(l);
    return r;
}

static void run_free(run_t *r) {
    free(r->x);
    free(r->labels);
    free(r->ids);
    free(r->n);
}

static int runs_equal(const run_t *a, const run_t *b) {
    if (a->batches != b->batches) return 0;
    size_t clip_n = (size_t)T * S * S * 3;
    for (int i = 0; i < a->batches; i++) {
        if (a->n[i] != b->n[i]) return 0;
        if (memcmp(a->x + (size_t)i * B * clip_n, b->x + (size_t)i * B * clip_n, sizeof(float) * clip_n * (size_t)a->n[i])) return 0;
        if (memcmp(a->labels + i * B, b->labels + i * B, sizeof(int) * (size_t)a->n[i])) return 0;
        if (memcmp(a->ids + i * B, b->ids + i * B, sizeof(int) * (size_t)a->n[i])) return 0;
    }
    return 1;
}

static void test_frames_select(void) {
    int idx[30];
    check(frames_select(idx, 30, 15, GS_SAMPLING_STRIDE, 2, 0, 1) == 0 && idx[0] == 0 && idx[1] == 2 && idx[14] == 28,
          "stride 2 x 15 of 30 = 0,2,...,28 (the seed)");
    check(frames_select(idx, 28, 15, GS_SAMPLING_STRIDE, 2, 0, 1) == -1 && strstr(gs_last_error(), "too few frames"),
          "stride 2 x 15 of 28 frames is an error: %s", gs_last_error());
    check(frames_select(idx, 30, 8, GS_SAMPLING_UNIFORM, 1, 0, 1) == 0 && idx[0] == 1 && idx[1] == 5 && idx[7] == 28,
          "uniform 8 of 30 = segment centres 1,5,...,28");
    check(frames_select(idx, 5, 8, GS_SAMPLING_UNIFORM, 1, 0, 1) == -1, "uniform 8 of 5 frames is an error");
    int ok = 1, seen_shift = 0;
    for (uint64_t key = 0; key < 200; key++) {
        frames_select(idx, 30, 10, GS_SAMPLING_STRIDE, 2, 3, key);
        ok &= idx[0] >= 0 && idx[0] <= 3 && idx[9] == idx[0] + 18;
        seen_shift |= idx[0] == 3;
        frames_select(idx, 30, 8, GS_SAMPLING_UNIFORM, 1, 2, key);
        for (int i = 0; i < 8; i++) ok &= idx[i] >= 0 && idx[i] < 30 && (i == 0 || idx[i] >= idx[i - 1]);
    }
    check(ok && seen_shift, "temporal jitter stays in range and in order");
}

static void test_epochs(void) {
    gs_loader_config c = base_config("train");
    c.augment = 1;
    c.aug = (gs_augment){.flip = 1, .crop_scale = 0.15f, .shift = 0.1f, .brightness = 0.1f, .contrast = 0.2f, .temporal_jitter = 1};
    run_t a = run_epochs(&c, 0, 2, 0);
    int steps = (N_CLIPS + B - 1) / B;
    check(a.batches == 2 * steps && a.n[steps - 1] == N_CLIPS % B && a.n[0] == B,
          "%d batches per epoch, last one short (n=%d)", steps, a.n[steps - 1]);
    for (int e = 0; e < 2; e++) {
        int count[N_CLIPS] = {0}, total = 0;
        for (int i = e * steps; i < (e + 1) * steps; i++)
            for (int j = 0; j < a.n[i]; j++) count[a.ids[i * B + j]]++, total++;
        int once = total == N_CLIPS;
        for (int k = 0; k < N_CLIPS; k++) once &= count[k] == 1;
        check(once, "epoch %d: every clip exactly once", e);
    }
    check(memcmp(a.ids, a.ids + steps * B, sizeof(int) * B) != 0, "shuffle: epoch 1 order differs from epoch 0");

    for (int w = 2; w <= 4; w += 2) {
        gs_loader_config c2 = c;
        c2.workers = w;
        c2.prefetch = w == 2 ? 1 : 5;
        run_t b = run_epochs(&c2, 0, 2, 0);
        check(runs_equal(&a, &b), "1 worker / prefetch 3 == %d workers / prefetch %d (bitwise)", w, c2.prefetch);
        run_free(&b);
    }
    gs_loader_config c3 = c;
    c3.cache = 1;
    c3.workers = 3;
    run_t d = run_epochs(&c3, 0, 2, 0);
    check(runs_equal(&a, &d), "cache on == cache off (bitwise)");
    run_free(&d);

    // Resume: epoch 1 from step 3 equals the tail of the uninterrupted epoch 1.
    run_t r = run_epochs(&c, 1, 1, 3);
    run_t tail = {a.x + (size_t)(steps + 3) * B * T * S * S * 3, a.labels + (steps + 3) * B, a.ids + (steps + 3) * B,
                  a.n + steps + 3, steps - 3};
    check(runs_equal(&r, &tail), "resume at (epoch 1, step 3) reproduces the uninterrupted batches");
    run_free(&r);

    // One draw per clip: the B-channel (x gradient) profile is the same in every frame of a clip,
    // and flips swap Left/Right labels while Stop keeps its label.
    const gs_dataset *ds = NULL;
    gs_loader *l;
    loader_init(&l, &c);
    ds = loader_dataset(l);
    int same = 1, flips = 0, noflips = 0, swap_ok = 1;
    size_t fn = (size_t)S * S * 3;
    for (int i = 0; i < steps; i++)
        for (int j = 0; j < a.n[i]; j++) {
            const float *x = a.x + ((size_t)i * B + j) * T * fn;
            for (int t = 1; t < T; t++)
                for (int p = 0; p < S * S; p++) same &= fabsf(x[t * fn + 3 * p + 2] - x[3 * p + 2]) < 1e-6f;
            // Flipped iff the gradient runs right → left along the middle row.
            int flipped = x[(S / 2 * S + 0) * 3 + 2] > x[(S / 2 * S + S - 1) * 3 + 2];
            flips += flipped;
            noflips += !flipped;
            int orig = ds->clips[a.ids[i * B + j]].label, lab = a.labels[i * B + j];
            int want = flipped && orig < 2 ? 1 - orig : orig;
            swap_ok &= lab == want;
        }
    loader_free(l);
    check(same, "one augmentation draw shared by all frames of a clip");
    check(flips > 0 && noflips > 0 && swap_ok, "flip p=0.5 (%d flipped, %d not) with Left<->Right label swap", flips, noflips);
    run_free(&a);
}

static void test_values_and_val_split(void) {
    // No augmentation, no shuffle: frame t of clip 0 holds frame 2t, R = 2t*20/255 everywhere.
    gs_loader_config c = base_config("train");
    c.shuffle = 0;
    run_t a = run_epochs(&c, 0, 1, 0);
    double maxd = 0;
    size_t fn = (size_t)S * S * 3;
    for (int t = 0; t < T; t++)
        for (int p = 0; p < S * S; p++) maxd = fmax(maxd, fabs(a.x[t * fn + 3 * p] - (2 * t * 20) / 255.0));
    check(maxd < 1e-6 && a.ids[0] == 0 && a.labels[0] == 0, "stride selection and unit values (max err %.2g)", maxd);
    gs_loader_config cs = c;
    cs.normalize = GS_NORMALIZE_SYMMETRIC;
    run_t s = run_epochs(&cs, 0, 1, 0);
    maxd = 0;
    for (size_t k = 0; k < (size_t)B * T * fn; k++) maxd = fmax(maxd, fabs(s.x[k] - (2.0 * a.x[k] - 1.0)));
    check(maxd < 1e-5, "symmetric = 2*unit - 1 (max err %.2g)", maxd);
    // loader_load_clip gives the same tensor as the loader without augmentation.
    gs_dataset ds;
    dataset_load_prepared(&ds, root, "train");
    float *x = gs_malloc(sizeof(float) * T * fn);
    check(loader_load_clip(x, &ds.clips[5], &c) == 0 && !memcmp(x, a.x + 5 * T * fn, sizeof(float) * T * fn),
          "loader_load_clip == loader batch row");
    free(x);
    dataset_free(&ds);
    run_free(&s);
    run_free(&a);

    // Augmentation switched on but split "val": identical to no augmentation.
    gs_loader_config v = base_config("val");
    run_t plain = run_epochs(&v, 3, 1, 0);
    v.augment = 1;
    v.aug = (gs_augment){.flip = 1, .crop_scale = 0.3f, .shift = 0.2f, .brightness = 0.3f, .contrast = 0.3f, .temporal_jitter = 2};
    run_t aug = run_epochs(&v, 3, 1, 0);
    check(runs_equal(&plain, &aug) && plain.batches == 2, "no augmentation on the val split");
    run_free(&plain);
    run_free(&aug);
}

static int allocs, frees;
static void *count_alloc(size_t n) {
    allocs++;
    return gs_aligned_alloc(n);
}
static void count_free(void *p) {
    frees++;
    free(p);
}

static void test_errors_and_hooks(void) {
    // Corrupt one frame of Stop/clip3 and shorten Left_Swipe/clip1 to 3 frames.
    char p[512];
    snprintf(p, sizeof p, "%s/train/Stop/clip3/frame_0002.png", root);
    GS_ASSERT(fs_write_text(p, "not a png") == 0);
    for (int k = 3; k < 9; k++) {
        snprintf(p, sizeof p, "%s/train/Left_Swipe/clip1/frame_%04d.png", root, k);
        remove(p);
    }
    gs_loader_config c = base_config("train");
    c.workers = 2;
    c.host_alloc = count_alloc;
    c.host_free = count_free;
    gs_loader *l;
    check(loader_init(&l, &c) == 0, "loader with host hooks");
    loader_start_epoch(l, 0, 0);
    gs_batch *b;
    int rc, got = 0;
    while ((rc = loader_next(l, &b)) == 1) {
        got += b->n;
        loader_release(l, b);
    }
    check(rc == -1 && (strstr(gs_last_error(), "frame_0002.png: not a PNG") || strstr(gs_last_error(), "clip1: too few frames")),
          "error mode: loader_next returns -1 naming the file: %s", gs_last_error());
    check(loader_next(l, &b) == -1, "the failed epoch keeps failing");
    loader_start_epoch(l, 1, 0);  // restart after a failure: workers drain and continue
    while ((rc = loader_next(l, &b)) == 1) loader_release(l, b);
    check(rc == -1, "restarted epoch meets the bad clip again");
    loader_free(l);
    check(allocs == 3 && frees == 3, "host_alloc/host_free used for the %d batch slots (%d/%d)", 3, allocs, frees);

    c.on_bad_clip = GS_BAD_CLIP_SKIP;
    c.host_alloc = NULL;
    c.host_free = NULL;
    check(loader_init(&l, &c) == 0, "skip-mode loader");
    for (int e = 0; e < 2; e++) {
        loader_start_epoch(l, e, 0);
        got = 0;
        int dense = 1;
        while ((rc = loader_next(l, &b)) == 1) {
            got += b->n;
            for (int j = 0; j < b->n; j++) dense &= b->clip_ids[j] >= 0 && b->labels[j] >= 0;
            loader_release(l, b);
        }
        check(rc == 0 && got == N_CLIPS - 2 && dense, "skip mode epoch %d: %d clips delivered, bad ones dropped", e, got);
    }
    check(loader_bad_clips(l) == 2, "skip mode counts 2 distinct bad clips (%ld)", loader_bad_clips(l));
    // Abandon an epoch half-way: start_epoch must drain in-flight work cleanly.
    loader_start_epoch(l, 2, 0);
    if (loader_next(l, &b) == 1) loader_release(l, b);
    check(loader_start_epoch(l, 3, 1) == 0 && loader_next(l, &b) == 1 && b->step == 1, "restart mid-epoch at step 1");
    loader_release(l, b);
    loader_free(l);

    gs_loader_config bad = base_config("train");
    bad.frames = 0;
    check(loader_init(&l, &bad) == -1 && strstr(gs_last_error(), "frames"), "bad config rejected: %s", gs_last_error());
    bad = base_config("nosuchsplit");
    check(loader_init(&l, &bad) == -1 && strstr(gs_last_error(), "nosuchsplit"), "missing split: %s", gs_last_error());
}

// A data set of JPEG frames (any frame name, a JPEG named .png among them) loads, and gives exactly the
// batches of a PNG set holding the decoded pixels; and close to the PNG originals (quality 95).
static void test_jpeg_frames(void) {
    const char *png = root;
    const char *jpeg = make_dataset("test_loader_jpeg", FRAMES_JPEG);
    const char *twin = make_dataset("test_loader_jpeg_twin", FRAMES_JPEG_AS_PNG);
    gs_loader_config c = base_config("train");
    c.workers = 2;
    c.root = jpeg;
    run_t j = run_epochs(&c, 0, 1, 0);
    c.root = twin;
    run_t t = run_epochs(&c, 0, 1, 0);
    c.root = png;
    run_t p = run_epochs(&c, 0, 1, 0);
    check(j.batches > 0 && runs_equal(&j, &t), "JPEG data set: %d batches, identical to its decoded PNG twin", j.batches);
    size_t n = 0, clip_n = (size_t)T * S * S * 3;
    double err = 0;
    for (int i = 0; i < p.batches; i++)
        for (size_t k = i * B * clip_n; k < (i * B + (size_t)p.n[i]) * clip_n; k++, n++) err += fabs(j.x[k] - p.x[k]);
    check(runs_equal(&j, &p) == 0 && n && err / (double)n < 0.02, "JPEG batches close to the PNG originals (mean |diff| %.4f)",
          n ? err / (double)n : -1.0);
    run_free(&j);
    run_free(&t);
    run_free(&p);
}

// Sharding (data-parallel training): the shards of N loaders, concatenated in rank order, are the
// unsharded loader's batches bit for bit (augmentation on, a short last batch, a resumed cursor), every
// rank yields every step (empty shards n = 0), and skip mode yields shards emptied by bad clips.
static void test_shards(void) {
    gs_loader_config c = base_config("train");
    c.workers = 2;
    c.augment = 1;
    c.aug.flip = 1;
    c.aug.shift = 0.2f;
    c.aug.brightness = 0.1f;
    c.aug.temporal_jitter = 1;
    size_t clip_n = (size_t)T * S * S * 3;
    for (int N = 2; N <= 5; N++) {
        for (int start = 0; start <= 3; start += 3) {
            run_t whole = run_epochs(&c, 1, 2, start);
            run_t part[5];
            for (int r = 0; r < N; r++) {
                gs_loader_config cs = c;
                cs.shard_rank = r;
                cs.shard_count = N;
                cs.workers = 1 + r % 2;
                part[r] = run_epochs(&cs, 1, 2, start);
            }
            int same = 1, empty = 0;
            for (int i = 0; i < whole.batches; i++) {
                int row = 0;
                for (int r = 0; r < N; r++) {
                    same &= part[r].batches == whole.batches;
                    if (part[r].batches != whole.batches) break;
                    int lo, hi, n = part[r].n[i];
                    dist_shard(whole.n[i], r, N, &lo, &hi);
                    same &= lo == row && hi - lo == n;
                    empty += n == 0;
                    if (!same) break;
                    same &= !memcmp(part[r].x + (size_t)i * B * clip_n, whole.x + ((size_t)i * B + row) * clip_n,
                                    sizeof(float) * clip_n * (size_t)n) &&
                            !memcmp(part[r].labels + i * B, whole.labels + i * B + row, sizeof(int) * (size_t)n) &&
                            !memcmp(part[r].ids + i * B, whole.ids + i * B + row, sizeof(int) * (size_t)n);
                    row += n;
                }
                same &= row == whole.n[i];
            }
            check(same, "%d shards from step %d: every step on every rank, concatenated = the unsharded batches "
                  "(%d batches, %d empty shards)", N, start, whole.batches, empty);
            run_free(&whole);
            for (int r = 0; r < N; r++) run_free(&part[r]);
        }
    }
    int lo, hi;
    dist_shard(4, 1, 2, &lo, &hi);
    check(lo == 2 && hi == 4, "a batch of 4 over 2 ranks: rank 1 has rows 2..3");
    dist_shard(1, 0, 2, &lo, &hi);
    int r0 = hi - lo;
    dist_shard(1, 1, 2, &lo, &hi);
    check(r0 == 1 && hi == lo, "a batch of 1 over 2 ranks: rank 0 has it, rank 1 nothing");
    gs_loader *l;
    c.shard_rank = 2;
    c.shard_count = 2;
    check(loader_init(&l, &c) == -1 && strstr(gs_last_error(), "shard 2 of 2"), "a shard that does not exist: %s",
          gs_last_error());
}

int main(void) {
    root = make_dataset("test_loader", FRAMES_PNG);
    test_shards();
    test_jpeg_frames();
    test_frames_select();
    test_epochs();
    test_values_and_val_split();
    test_errors_and_hooks();
    return test_finish();
}
