// Synthetic 5-class gesture videos in the raw CSV-index layout of the Kaggle set, the built-in data
// of the quickstart and the tests. `gesture synth OUT` writes
//   OUT/train.csv, OUT/val.csv        lines "WIN_20180925_17_08_43_Pro_Left_Swipe_new;Left_Swipe_new;0"
//   OUT/{train,val}/<folder>/*.png    `frames` frames per clip, 360x360 or 160x120 (*.jpg with
//                                     image_format GS_SYNTH_JPEG)
//   OUT/videos/{train,val}/<folder>.<ext>  with --videos EXT: the same frames as a video at video_fps
//                                     (mkv: lossless FFV1, decodes to the PNGs' exact pixels)
// Classes (label index = sorted order): Left_Swipe 0, Right_Swipe 1, Stop 2, Thumbs_Down 3,
// Thumbs_Up 4. Each clip is a static scene (a wall with posters, shelves, lamps and blinds in
// colours pulled towards the wall's, a torso, sometimes a face) with block-shaped camera noise
// and flicker, and one skin-toned hand (5 skin tones, random size, tilt, left/right hand):
//   Stop         a large open palm, fingers spread wide, pushed towards the camera
//   Thumbs_Up    a compact fist with a long thumb up     Thumbs_Down  the same fist, thumb down
//   Left_Swipe   a flat hand (left-right symmetric shape) moving right → left across the frame
//   Right_Swipe  the same hand moving left → right
// The two swipes have identical frame statistics; only the order of frames separates them, so a
// model that ignores time stays at chance on them. Frames of 360x360 clips are named
// "<folder-stem>_000NN.png", of 160x120 clips "frameN.png" (unpadded: natural sort matters); JPEG
// frames have the same stems with ".jpg".
// Learnability check (defaults, prepared with the seed recipe): MobileNetV2 alpha 0.35 from
// scratch + BiGRU(128), 64 px, 8 uniform frames, flip augmentation, Adam 1e-3, batch 4 (PyTorch,
// 1 CPU thread, ~10 s per epoch) reached 0.82-0.90 val accuracy at epochs 7-11.
// Everything is a pure function of the seed; clips render in parallel (OpenMP).
#ifndef GESTURE_SYNTH_H
#define GESTURE_SYNTH_H

#include <stdint.h>

enum { GS_SYNTH_CLASSES = 5 };
typedef enum { GS_SYNTH_PNG, GS_SYNTH_JPEG } gs_synth_format;
extern const char *const GS_SYNTH_CLASS_NAMES[GS_SYNTH_CLASSES];  // without "_new"

typedef struct {
    int clips_per_class;  // train + val clips per class (80)
    int val_per_class;    // of those, in val (-1: clips_per_class / 5)
    int frames;           // frames per clip (30)
    double big_fraction;  // share of 360x360 clips; the rest are 160x120 (0.35)
    uint64_t seed;        // (7)
    gs_synth_format image_format;  // frame files (GS_SYNTH_PNG)
    int png_level;        // zlib level for PNG frames (1: fast)
    int jpeg_quality;     // quality of JPEG frames (95)
    int quiet;
    int force;  // replace OUT when it holds a previous synth output (its .gesture-synth marker)
    char video_ext[8];  // "" = no videos; else mkv, mp4, avi or webm
    double video_fps;   // frame rate of those videos (30)
} gs_synth_opts;

gs_synth_opts synth_default_opts(void);

// Write the whole set. OUT must not exist or be empty. 0 or -1 (gs_error).
int synth_write(const char *out, const gs_synth_opts *o);

// Render frame t of clip `index` of class `label` (the clip's scene and motion are drawn from
// (seed, label, index)); rgb (h,w,3). For tests and benchmarks; synth_write uses the same code.
void synth_render_frame(uint8_t *rgb, int w, int h, int label, int index, int t, int frames, uint64_t seed);

// A long video of gestures separated by idle scenes, for event detection: n_gestures clips of random
// classes, each `frames` frames long at 30 fps (resampled to fps), preceded by `idle` seconds of its
// scene without a hand, and a final idle segment. path's extension picks the codec (gesture/video.h;
// .mkv is lossless); csv gets the ground truth "start,end,label" (seconds: the first gesture frame's
// time and the time just after its last one; the class name).
typedef struct {
    int n_gestures;  // (10)
    int width, height;  // (320x240)
    double fps;      // (30)
    double idle;     // seconds between gestures (1.5)
    int frames;      // frames of a gesture at 30 fps (30, as the clips of synth_write)
    uint64_t seed;   // (7)
} gs_synth_long_opts;

gs_synth_long_opts synth_long_default_opts(void);
int synth_write_long(const char *path, const char *csv, const gs_synth_long_opts *o);

#endif
