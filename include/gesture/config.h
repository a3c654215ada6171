// Experiment configuration: one typed struct, filled from strict INI files (parsed with inih),
// `--set section.key=value` overrides and the resolved INI stored in checkpoints.
//
// Every key has a type, default, range/choices and one-line help in one schema table
// (src/io/config_schema.c); `config_print_help` prints it. Anything wrong in a file is an error
// "file:line: message" that says how to fix it: unknown section/key (with the valid ones and the
// closest match), a value that does not parse whole, out of range, not one of an enum's choices,
// a key given twice in one file, a missing include, an include cycle.
//
// File syntax: `[section]`, `key = value` (`key: value` also accepted), comments on their own line
// start with `;` or `#`, inline comments with whitespace then `;`. Leading indentation is ignored
// (no multi-line values). Switches are on|off (true|false also accepted). String values may be
// wrapped in double quotes; `""` is empty. `%include FILE` or `include = FILE` (at top level or in
// any section) loads FILE, relative to the including file, at that point: later lines override
// earlier ones, so keys after the include override the base.
#ifndef GESTURE_CONFIG_H
#define GESTURE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

// Longest string value (paths, names), including the terminating NUL.
#define GS_CONFIG_STR_MAX 1024

#include "gesture/types.h"  // gs_sampling, gs_normalize, gs_bad_clip, gs_bn_time
typedef enum { GS_MONITOR_VAL_LOSS = 0, GS_MONITOR_VAL_ACCURACY = 1 } gs_monitor;
typedef enum { GS_DEVICE_AUTO = 0, GS_DEVICE_CPU = 1, GS_DEVICE_CUDA = 2 } gs_device;
// CPU inference (predict, eval, stream, validation): the folded plan (gesture/plan.h) or the reference executor.
typedef enum { GS_INFERENCE_PLAN = 0, GS_INFERENCE_REFERENCE = 1 } gs_inference;
typedef enum { GS_TRAINING_FAST = 0, GS_TRAINING_REFERENCE = 1 } gs_training;
// Arithmetic of the paths that have bf16 (gesture/precision.h); the others run fp32 and say so.
typedef enum { GS_PRECISION_FP32 = 0, GS_PRECISION_BF16 = 1 } gs_precision;

typedef struct {
    char root[GS_CONFIG_STR_MAX];  // prepared data set ("" = none given)
    int frames;                    // T, frames per clip fed to the model
    gs_sampling sampling;
    int frame_step;                // stride sampling: take every frame_step-th frame
    int size;                      // S: frames are resized to S x S
    gs_normalize normalize;        // unit [0,1] or symmetric [-1,1]
    gs_resize resize;              // float (bilinear to float) or cv2 (OpenCV's uint8 INTER_LINEAR, the seed)
    int workers;                   // loader threads, 0 = auto
    bool cache;                    // keep decoded uint8 clips in memory
    gs_bad_clip on_bad_clip;
    // Augmentation (train split only); 0 / off disables each one.
    bool augment_flip;              // horizontal flip with Left_Swipe <-> Right_Swipe swap
    double augment_crop_scale;      // max fraction of the side cropped away
    double augment_shift;           // max shift as a fraction of the side
    double augment_brightness;      // max additive brightness change (fraction of full scale)
    double augment_contrast;        // max relative contrast change
    int augment_temporal_jitter;    // max frames the start of the selection moves
} gs_data_config;

typedef struct {
    double alpha;                        // MobileNetV2 width: 0.35, 0.5, 0.75, 1.0, 1.3, 1.4
    int gru_units;                       // H per direction
    int dense_units;
    double dropout;
    char pretrained[GS_CONFIG_STR_MAX];  // Keras ImageNet no-top .h5 ("" = random init)
    bool expect_pretrained;              // written for pretrained weights: warn when there are none
    int classes;
    double bn_momentum;  // backbone BN moving-average momentum (Keras 0.999)
    gs_bn_time bn_time;  // training BN statistics over B*T frames (tf.keras 2) or per time step (Keras 3)
} gs_model_config;

typedef struct {
    int epochs;
    int batch_size;
    double learning_rate;
    double l2;  // L2 factor on the hidden dense kernel
    uint64_t seed;
    double beta1, beta2, epsilon;  // Adam (Keras form)
    bool sync_bn;  // data-parallel ranks: BN batch statistics over every rank (on) or per rank (off)
    double bucket_mb;  // data-parallel GPU ranks: gradient bucket size (MB) summed during backward; 0 = after
} gs_train_config;

typedef struct {
    bool early_stopping;
    gs_monitor early_stopping_monitor;
    int early_stopping_patience;
    double early_stopping_min_delta;
    bool restore_best;  // EarlyStopping(restore_best_weights)
    bool reduce_lr;
    gs_monitor reduce_lr_monitor;
    double reduce_lr_factor;
    int reduce_lr_patience;
    double reduce_lr_min_delta;
    int reduce_lr_cooldown;
    double min_lr;
    gs_monitor checkpoint_monitor;  // best.h5 tracks this (accuracy: higher, loss: lower)
} gs_callbacks_config;

typedef struct {
    char runs_dir[GS_CONFIG_STR_MAX];
    char name[GS_CONFIG_STR_MAX];  // "" = derived from the config file name (config_run_name)
    bool plots;
} gs_output_config;

typedef struct {
    gs_device device;
    gs_inference inference;  // CPU predict/eval/stream/validation: folded plan or reference executor
    gs_training training;    // CPU training: the fast twins of the 1x1/depthwise ops, or the reference ops
    gs_precision precision;  // bf16 where the path has it (gesture/precision.h), else fp32 with a notice
    int threads;  // 0 = all cores
    bool cuda_graph;
    bool deterministic;
    double dist_timeout;  // data-parallel ranks: seconds a collective waits for a peer before ending the job
    // profile_steps "START:COUNT": profile COUNT train steps from step START; count 0 = off.
    int profile_start;
    int profile_count;
} gs_runtime_config;

// Live recognition (`gesture stream`, `gesture predict` on video files).
typedef struct {
    double fps;          // rate of the source video the training clips were cut from; the model sees
                         // every data.frame_step-th frame of it (fps / frame_step model frames per s)
    int hop;             // model frames between two windows (stream: head runs every hop frames)
    int smooth;          // events: probabilities averaged over this many windows
    double threshold;    // events: smoothed probability a class must reach
    double min_duration; // events: seconds the class must stay above threshold
    double refractory;   // events: seconds after an event in which no other event fires
} gs_stream_config;

typedef struct gs_config {
    gs_data_config data;
    gs_model_config model;
    gs_train_config train;
    gs_callbacks_config callbacks;
    gs_output_config output;
    gs_runtime_config runtime;
    gs_stream_config stream;
    // Where the values came from: the top-level file of the last config_load, or the origin of
    // config_load_string. Not a key; used to derive the run name.
    char source[GS_CONFIG_STR_MAX];
} gs_config;

// Every key at its default.
void config_defaults(gs_config *c);
// Apply a file over c's current values (call config_defaults first). On error returns -1 with
// gs_error("path:LINE: message") and leaves c unchanged.
int config_load(gs_config *c, const char *path);
// Apply one "section.key=value" override (--set); same checks, the message names the override.
// Leaves c unchanged on error.
int config_set(gs_config *c, const char *assignment);
// Like config_load on INI text; errors say "origin:LINE: ..."; includes resolve relative to the
// directory part of origin.
int config_load_string(gs_config *c, const char *text, const char *origin);
// Fully resolved INI text (every key, every section), malloc'd; round-trips through
// config_load_string.
char *config_to_ini(const gs_config *c);
// Every key: section, name, type, default, range/choices, one-line help.
void config_print_help(FILE *f);
// The same as a Markdown page, one table per section: docs/config.md is this output
// (`gesture train --help-config=markdown`; tests/test_config_doc.sh compares them).
void config_print_help_markdown(FILE *f);
// Per-key ranges (values may have been set in code) and cross-key checks. Call after all files
// and overrides are applied. 0 ok, -1 + gs_error("config: message").
int config_validate(const gs_config *c);

// Value of one key ("section.key") as it would be written to INI; -1 + gs_error if unknown.
int config_get(const gs_config *c, const char *key, char *buf, size_t n);
// Keys whose values differ, as "section.key: A -> B" lines in buf (may be NULL); returns the count.
int config_diff(const gs_config *a, const gs_config *b, char *buf, size_t n);
// output.name, or the base name of the source file without its extension, or "run".
const char *config_run_name(const gs_config *c, char *buf, size_t n);

// Names for the enums (as written in INI).
const char *config_monitor_name(gs_monitor m);
const char *config_device_name(gs_device d);

#endif
