// Prefetching clip loader: a persistent pool of worker threads decodes PNG/JPEG frames, selects, resizes,
// augments and normalizes them into a bounded ring of batch slots, while the consumer trains on
// earlier batches.
//
// Guarantees:
//  - determinism: the epoch order is a function of (seed, epoch); each clip's frames and
//    augmentation of (seed, epoch, clip id). Batches are bit-identical for any number of workers
//    and any prefetch depth, with the cache on or off.
//  - resumable: loader_start_epoch(l, e, k) yields exactly batches k.. of epoch e of an
//    uninterrupted run (the training loop saves (epoch, step) in its checkpoint).
//  - every clip exactly once per epoch; the last batch has n < B when B does not divide the
//    clip count (no drop_last).
//  - sharding (data-parallel training, gesture/dist.h): with shard_count = N > 1 the loader of rank
//    r yields, for every batch of the unsharded order, only its rows of the n clips (dist_shard:
//    contiguous, B/N each for a full batch), each decoded and augmented exactly as the unsharded
//    loader would (the per-clip RNG keys on the clip, not on the row). The N shards of step s,
//    concatenated in rank order, are batch s of one process. Every step is yielded on every rank,
//    also when its shard is empty (a last batch of fewer than N clips, or every clip of the shard
//    skipped as bad): n = 0.
//  - workers sleep on condition variables (no polling); loader_free joins them.
//  - one consumer thread calls start_epoch / next / release; it may hold several batches at once
//    (e.g. one being copied to the GPU while the next is used; fewer than `prefetch` when calling
//    loader_next), released in any order.
//
// Usage:
//   gs_loader_config c; loader_config_defaults(&c); c.root = "data/prepared"; c.split = "train"; ...
//   gs_loader *l; if (loader_init(&l, &c)) { error: gs_last_error() }
//   for (epoch...) { loader_start_epoch(l, epoch, 0);
//       gs_batch *b; int rc;
//       while ((rc = loader_next(l, &b)) == 1) { use b->x, b->labels, b->n; loader_release(l, b); }
//       if (rc < 0) { error: gs_last_error() names the file } }
//   loader_free(l);
#ifndef GESTURE_LOADER_H
#define GESTURE_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "gesture/augment.h"
#include "gesture/dataset.h"
#include "gesture/image.h"
#include "gesture/types.h"  // gs_sampling, gs_normalize, gs_bad_clip (shared with gesture/config.h)


typedef struct {
    // Data: a dataset object (borrowed; must outlive the loader), or a prepared root + split name
    // that the loader loads (and frees) itself.
    const gs_dataset *dataset;
    const char *root;
    const char *split;
    int frames;               // T (15)
    gs_sampling sampling;     // stride (the seed) or uniform
    int frame_step;           // stride step (2)
    int size;                 // S: frames are resized to S x S (224)
    gs_normalize normalize;   // unit [0,1] (the seed) or symmetric [-1,1]
    gs_resize resize;         // float, or cv2 (OpenCV's uint8 INTER_LINEAR; no crop/shift augmentation)
    int batch_size;           // B (4); with shards: the global batch, all shards together
    int shard_rank, shard_count;  // this loader's shard of every batch (0, 1 = the whole batch; 0, 0 too)
    int shuffle;              // new order every epoch (1); 0 = dataset order
    int augment;              // master switch (0); only ever honoured for split "train"
    gs_augment aug;           // per-augmentation switches and ranges
    uint64_t seed;            // (1337)
    int workers;              // decode threads; 0 = one per online CPU, at most 8
    int prefetch;             // batch slots in the ring (0 = 3)
    int cache;                // keep decoded uint8 frames in RAM after first use (0); only frames the
                              // selection touches are kept (e.g. 15 of 30 with stride 2, no jitter)
    size_t cache_max_bytes;   // cache budget, 0 = unlimited; frames beyond it are decoded each time
    gs_bad_clip on_bad_clip;  // error: loader_next returns -1; skip: warn once per clip, drop it
    // Host memory for the batch tensors x, e.g. cudaHostAlloc wrappers for pinned memory.
    // NULL = 64-byte aligned malloc / free.
    void *(*host_alloc)(size_t bytes);
    void (*host_free)(void *p);
} gs_loader_config;

void loader_config_defaults(gs_loader_config *c);
struct gs_config;
// Defaults, then every loader field the run's config sets: data.root + split, clip shape, batch
// size, seed, workers, cache, on_bad_clip and the augmentation ranges. train = 1 shuffles and
// augments (the train split of a run); 0 keeps the data set's order without augmentation.
void loader_config_from(gs_loader_config *lc, const struct gs_config *cfg, const char *split, int train);

typedef struct {
    float *x;        // (B,T,S,S,3) NHWC per frame, normalized; rows >= n are stale
    int *labels;     // (B) label per clip (after a flip's Left/Right swap)
    int *clip_ids;   // (B) index into the dataset's clips
    int n;           // valid clips, 1..B (0..: a shard, see above)
    int epoch;       // epoch this batch belongs to
    int step;        // its index within the epoch (0-based)
} gs_batch;

typedef struct gs_loader gs_loader;

// Validates the config (gs_error naming the bad field), loads the dataset if given by root/split,
// allocates the ring and starts the workers (idle until loader_start_epoch).
int loader_init(gs_loader **l, const gs_loader_config *c);
// Stops and joins the workers and frees everything (batches still held become invalid).
void loader_free(gs_loader *l);

// Begin epoch `epoch` at batch `start_step` (0 for a fresh epoch). Waits for in-flight work of the
// previous epoch to drain; every batch obtained before must have been released.
int loader_start_epoch(gs_loader *l, int epoch, int start_step);
// Next batch of the current epoch, in order (sharded: this rank's rows of it, n may be 0; x is then
// unused). Returns 1 (*b set), 0 at the end of the epoch, or -1
// when a clip failed (on_bad_clip = error): gs_last_error() names the file; the epoch stops.
// Blocks while the batch is being prepared.
int loader_next(gs_loader *l, gs_batch **b);
// Hand a batch's slot back to the workers.
void loader_release(gs_loader *l, gs_batch *b);

int loader_steps_per_epoch(const gs_loader *l);
// Most clips one yielded batch holds: B, or the largest shard of a batch (ceil(B / shard_count)).
int loader_max_batch(const gs_loader *l);
const gs_dataset *loader_dataset(const gs_loader *l);
// Distinct clips dropped so far (on_bad_clip = skip).
long loader_bad_clips(const gs_loader *l);

// One clip, synchronously, without augmentation: x (T,S,S,3) per c's frames / sampling /
// frame_step / size / normalize. For `gesture predict` and tools. 0 or -1 (gs_error names the file).
int loader_load_clip(float *x, const gs_clip *clip, const gs_loader_config *c);
// The same for frames already in memory (a decoded video): the config's selection (frames,
// sampling, frame_step; no jitter) of the n frames, resized and normalized into x. 0, or -1 +
// gs_error without a name (e.g. "too few frames ..."): the caller names the video.
int loader_frames_to_tensor(float *x,                 // (T,S,S,3)
                            const uint8_t *frames,    // (n,h,w,3)
                            int n, int w, int h, const gs_loader_config *c);

#endif
