// Datasets of gesture clips: a clip is a folder of frame files (*.png, *.jpg, *.jpeg, any case;
// PNG or JPEG by content, gesture/frame_image.h) in natural order ("frame2" before "frame10"), with
// a label. Two readers live here:
//  - the prepared layout written by `gesture prepare` (input of training / eval):
//      ROOT/{train,val,test}/<Class>/<sample>/<frames>
//    Class names are the sorted union of the class-folder names of all splits present, so label
//    indices agree between splits (for the gesture set: Left_Swipe, Right_Swipe, Stop, Thumbs_Down,
//    Thumbs_Up = 0..4). Clips are ordered by class, then sample name (natural order); the clip
//    index is the clip's stable id (the loader's per-clip RNG is keyed by it).
//  - a single clip folder, for `gesture predict`.
// The raw layouts (CSV index, class folders) are read by gesture/prepare.h.
#ifndef GESTURE_DATASET_H
#define GESTURE_DATASET_H

#include <stddef.h>

#include "gesture/types.h"  // gs_bad_clip

typedef struct {
    char *name;     // sample folder name
    char *dir;      // folder holding the frames
    int label;      // index into gs_dataset.classes (-1 when unknown, e.g. a predict clip)
    int n_frames;
    char **frames;  // (n_frames) paths, natural order
} gs_clip;

typedef struct {
    char *root;      // dataset root
    char *split;     // "train", "val", "test" (augmentation is only ever applied to "train")
    int n_classes;
    char **classes;  // (n_classes) names in label order
    int n_clips;
    gs_clip *clips;  // (n_clips)
} gs_dataset;

// Load split `split` of a prepared dataset. Errors (gs_error, -1): missing root or split folder,
// a class folder without samples ("empty class"), a sample folder without frame files. A split
// folder that exists with no class folders at all is an error too; a class absent from this split
// but present in another is fine (it simply has no clips here).
int dataset_load_prepared(gs_dataset *ds, const char *root, const char *split);
// The same with data.on_bad_clip: GS_BAD_CLIP_SKIP leaves out a sample folder that fails to load
// (no frames, a frame-named entry that is not a file), with a warning on stderr for each and a count at the
// end; GS_BAD_CLIP_ERROR is dataset_load_prepared.
int dataset_load_prepared_ex(gs_dataset *ds, const char *root, const char *split, gs_bad_clip on_bad);
void dataset_free(gs_dataset *ds);

// Label of a class name, or -1.
int dataset_find_class(const gs_dataset *ds, const char *name);
// Number of clips per class: counts (n_classes).
void dataset_class_counts(int *counts, const gs_dataset *ds);

// One clip folder (natural-sorted frame files, hidden files ignored), label -1. Error when the folder
// is missing, holds no frame file, or has a frame-named entry that is not a regular file.
int dataset_load_clip_dir(gs_clip *clip, const char *dir);
void clip_free(gs_clip *clip);

// The frame paths of a folder (entries named *.png, *.jpg, *.jpeg, any case) in natural order.
// *frames is NULL and *n 0 for a folder without any (not an error here; callers decide). Error when
// the folder cannot be read or a frame-named entry is not a regular file (a dangling link, a folder,
// a FIFO): naming the folder and the entry. Contents are not looked at here.
int dataset_list_frames(char ***frames, int *n, const char *dir);
// Sub-folder names of dir (hidden ones skipped) in natural order.
int dataset_list_dirs(char ***names, int *n, const char *dir);
void dataset_free_list(char **list, int n);

// Natural order: digit runs compare by numeric value ("f2" < "f10"), the rest bytewise; strings
// that tie numerically ("f01" vs "f1") fall back to strcmp so the order is total.
int natural_compare(const char *a, const char *b);

// Class name from a raw label: trailing "_new" (the Kaggle set's suffix) and surrounding blanks
// removed. "Left_Swipe_new" -> "Left_Swipe".
void label_clean(char *out, size_t out_size, const char *label);

#endif
