// Raw data sets → the prepared layout (gesture/dataset.h), i.e. `gesture prepare RAW OUT`.
//
// Raw layouts accepted:
//  - CSV index (the public Kaggle set): RAW/train.csv (+ optional RAW/val.csv), lines
//    `folder;label_name;label_index` — a header line, CRLF endings, blank lines and blanks around
//    fields are tolerated; frames in RAW/<split>/<folder>/ or RAW/<split>/<split>/<folder>/
//    (the Kaggle archive nests it). Class names are the train.csv labels without "_new".
//  - class folders: RAW/{train,val,test}/<Class>/<sample>/ ("train" required).
// Frames are *.png, *.jpg or *.jpeg files, PNG or JPEG by content (gesture/frame_image.h).
// Output: OUT/{train,val,test}/<Class>/<sample>/frame_NNNN.<ext> (symlinks to the raw frames, or
// copies, with the raw frame's extension lower-cased; never re-encoded), OUT/manifest.csv, OUT/distribution.{txt,png} (class x split counts, table and bar
// chart), OUT/samples.png (first train clip of every class, frames in a row), OUT/validation.txt
// (layout, frame-count and frame-size histograms, bad clips). manifest.csv columns:
//   split,label,class,sample,n_frames,width,height,source   (source: the raw clip folder, relative
// to RAW; rows sorted by split, label, natural sample order; fields with commas are quoted).
#ifndef GESTURE_PREPARE_H
#define GESTURE_PREPARE_H

#include <stdint.h>

typedef enum { GS_LAYOUT_CSV = 0, GS_LAYOUT_FOLDERS = 1 } gs_raw_layout;

typedef struct {
    char *split;     // raw split: "train", "val" or "test"
    char *name;      // sample folder name
    char *dir;       // frame folder (NULL when missing)
    int label;       // index into gs_raw_dataset.classes (-1: unknown label)
    int n_frames;
    char **frames;   // (n_frames) paths, natural order
    char *problem;   // NULL when the clip is usable, else a one-line reason naming the file
    int w, h;        // size of the first frame (0 until validated)
} gs_raw_clip;

typedef struct {
    char *root;
    gs_raw_layout layout;
    int n_classes;
    char **classes;      // (n_classes) sorted class names (no "_new")
    int n_clips;
    gs_raw_clip *clips;  // (n_clips) by split (train, val, test), then listing order
} gs_raw_dataset;

// Discover the layout and every clip. Structural problems fail here with a message naming the file
// (and line for CSV): no recognizable layout, malformed CSV line, duplicate folder, conflicting
// label indices, a class folder without samples ("empty class"). Per-clip problems (missing
// folder, unknown label, no frames) are recorded in clip->problem for the caller to judge.
int raw_dataset_scan(gs_raw_dataset *raw, const char *root);
void raw_dataset_free(gs_raw_dataset *raw);

// Per-clip validation; fills clip->problem for: missing folder, fewer than min_frames frames, a
// frame whose PNG/JPEG header is unreadable (with verify: whose full decode fails). Runs on OpenMP
// threads. Returns the number of clips with a problem.
int raw_dataset_validate(gs_raw_dataset *raw, int min_frames, int verify);

typedef enum { GS_SPLIT_SEED = 0, GS_SPLIT_FRACTION = 1 } gs_split_mode;

typedef struct {
    gs_split_mode mode;  // seed: keep val (and test if RAW has one), move test_per_class train
                         // clips per class to test; fraction: pool everything, then stratify
    int test_per_class;  // 4
    double val_frac;     // fraction mode: 0.15
    double test_frac;    // fraction mode: 0.05
    uint64_t seed;       // chooses which clips move; same seed → identical output
    int copy;            // 0: symlinks to the raw frames (absolute targets), 1: copies
    int min_frames;      // clips with fewer frames are bad (1)
    int advise_frames;   // > 0: note on stderr how many usable clips are shorter (the seed config's need)
    int verify;          // decode every frame instead of reading PNG/JPEG headers only
    int skip_bad;        // 0: any bad clip is an error; 1: warn, leave it out, list it
    int quiet;           // no table on stdout
    int force;           // replace OUT when it holds a previous prepare output (its .gesture-prepare marker)
} gs_prepare_opts;

gs_prepare_opts prepare_default_opts(void);

// Split assignment: dest[i] in {0 train, 1 val, 2 test} for clip i, -1 for clips with a problem.
// Stratified per class and a pure function of (clips, opts).
int prepare_assign_splits(int *dest, const gs_raw_dataset *raw, const gs_prepare_opts *o);

// The whole command. OUT must not exist or be empty, or (force) hold a previous prepare output only. Returns 0 or -1 (gs_error).
int prepare_run(const char *raw_root, const char *out_root, const gs_prepare_opts *o);

#endif
