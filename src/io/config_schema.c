// The config schema: every key's type, default, range and help in one table, plus strict
// per-type parsing (a value must parse whole), range checks and INI formatting.
#include "config_schema.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"

_Static_assert(sizeof(gs_sampling) == sizeof(int) && sizeof(gs_normalize) == sizeof(int) &&
                   sizeof(gs_bad_clip) == sizeof(int) && sizeof(gs_monitor) == sizeof(int) &&
                   sizeof(gs_device) == sizeof(int) && sizeof(gs_inference) == sizeof(int) &&
                   sizeof(gs_resize) == sizeof(int) && sizeof(gs_bn_time) == sizeof(int) &&
                   sizeof(gs_training) == sizeof(int) && sizeof(gs_precision) == sizeof(int),
               "CK_ENUM stores enums through int");

const char *const CONFIG_SECTIONS[] = {"data", "model", "train", "callbacks", "output", "runtime", "stream", NULL};
const int CONFIG_NSECTIONS = 7;

static const char *const SAMPLING[] = {"stride", "uniform", NULL};
static const char *const NORMALIZE[] = {"unit", "symmetric", NULL};
static const char *const RESIZE[] = {"float", "cv2", NULL};
static const char *const BAD_CLIP[] = {"error", "skip", NULL};
static const char *const MONITOR[] = {"val_loss", "val_accuracy", NULL};
static const char *const DEVICE[] = {"auto", "cpu", "cuda", NULL};
static const char *const INFERENCE[] = {"plan", "reference", NULL};
static const char *const TRAINING[] = {"fast", "reference", NULL};
static const char *const PRECISION[] = {"fp32", "bf16", NULL};
static const char *const BN_TIME[] = {"keras2", "keras3", NULL};
// Keras ships ImageNet weights for exactly these MobileNetV2 widths.
static const double WIDTHS[] = {0.35, 0.5, 0.75, 1.0, 1.3, 1.4};
static const int N_WIDTHS = 6;

#define OFF(field) offsetof(gs_config, field)
#define INT(sec, key, def, lo, hi, fl, help) {#sec, #key, CK_INT, OFF(sec.key), 0, def, lo, hi, fl, NULL, help}
#define FLT(sec, key, def, lo, hi, fl, help) {#sec, #key, CK_FLOAT, OFF(sec.key), 0, def, lo, hi, fl, NULL, help}
#define BOOL(sec, key, def, help) {#sec, #key, CK_BOOL, OFF(sec.key), 0, def, 0, 0, 0, NULL, help}
#define ENUM(sec, key, def, ch, help) {#sec, #key, CK_ENUM, OFF(sec.key), 0, def, 0, 0, 0, ch, help}
#define STR(sec, key, def, fl, help) {#sec, #key, CK_STR, OFF(sec.key), 0, def, 0, 0, fl, NULL, help}

const config_key CONFIG_KEYS[] = {
    STR(data, root, "", CF_PATH, "prepared data set (output of `gesture prepare`); \"\" = none given"),
    INT(data, frames, "15", 1, 512, 0, "frames per clip fed to the model (T)"),
    ENUM(data, sampling, "stride", SAMPLING,
         "stride: every frame_step-th frame from the start; uniform: T frames evenly over the clip"),
    INT(data, frame_step, "2", 1, 64, 0, "stride sampling: distance between selected frames"),
    INT(data, size, "224", 32, 1024, CF_EVEN, "frames are resized to SIZE x SIZE (bilinear)"),
    ENUM(data, normalize, "unit", NORMALIZE,
         "pixel scaling: unit [0,1] (the seed) or symmetric [-1,1] (Keras MobileNetV2 preprocessing)"),
    ENUM(data, resize, "float", RESIZE,
         "float: bilinear straight to float (no rounding); cv2: OpenCV's cv2.resize INTER_LINEAR on uint8 "
         "(11-bit fixed point, rounded to uint8) then /255, bit for bit, as the seed did (no crop or shift "
         "augmentation; flip, brightness and contrast apply after it)"),
    INT(data, workers, "0", 0, 256, 0, "loader threads decoding clips; 0 = auto"),
    BOOL(data, cache, "off", "keep decoded uint8 clips in memory after the first epoch"),
    ENUM(data, on_bad_clip, "error", BAD_CLIP,
         "unreadable or short clip: error stops with its name; skip warns and counts it"),
    BOOL(data, augment_flip, "off", "random horizontal flip, swapping Left_Swipe <-> Right_Swipe labels"),
    FLT(data, augment_crop_scale, "0", 0, 0.5, 0, "random crop: max fraction of the side cut away; 0 = off"),
    FLT(data, augment_shift, "0", 0, 0.5, 0, "random shift: max fraction of the side; 0 = off"),
    FLT(data, augment_brightness, "0", 0, 1, 0, "random brightness: max change as a fraction of full scale; 0 = off"),
    FLT(data, augment_contrast, "0", 0, 1, 0, "random contrast: max relative change; 0 = off"),
    INT(data, augment_temporal_jitter, "0", 0, 16, 0,
        "temporal jitter in frames: stride sampling moves the start, uniform moves each frame (order kept); 0 = off"),

    FLT(model, alpha, "1.0", 0, 0, CF_WIDTHS, "MobileNetV2 width multiplier"),
    INT(model, gru_units, "128", 1, 4096, 0, "GRU units per direction"),
    INT(model, dense_units, "128", 1, 4096, 0, "units of the hidden dense layer"),
    FLT(model, dropout, "0.25", 0, 1, CF_HI_OPEN, "dropout rate before each dense layer"),
    STR(model, pretrained, "", CF_PATH,
        "Keras ImageNet weights mobilenet_v2_weights_tf_dim_ordering_tf_kernels_<alpha>_<size>_no_top.h5; "
        "\"\" = random init"),
    BOOL(model, expect_pretrained, "off",
         "the config is meant for model.pretrained weights: gesture train warns when it runs without them"),
    INT(model, classes, "5", 2, 1000, 0, "number of classes"),
    FLT(model, bn_momentum, "0.999", 0, 1, CF_LO_OPEN | CF_HI_OPEN,
        "MobileNetV2 BatchNorm moving-average momentum (Keras: 0.999; lower it when training from scratch "
        "for few steps, or inference-mode statistics lag far behind)"),
    ENUM(model, bn_time, "keras2", BN_TIME,
         "training-mode batch norm of the per-frame layers (MobileNetV2 and the head BN): keras2 = statistics over "
         "all B*T frames of the step, one moving-average update (tf.keras 2's TimeDistributed); keras3 = per time "
         "step over its B frames, T moving-average updates in time order (Keras 3's TimeDistributed); inference is "
         "the same; import-keras sets it from the file's Keras version"),

    INT(train, epochs, "40", 1, 100000, 0, "maximum number of epochs"),
    INT(train, batch_size, "4", 1, 4096, 0, "clips per step"),
    FLT(train, learning_rate, "1e-4", 0, 1, CF_LO_OPEN, "Adam learning rate"),
    FLT(train, l2, "1e-4", 0, 1, 0, "L2 factor on the hidden dense kernel"),
    {"train", "seed", CK_U64, OFF(train.seed), 0, "42", 0, 0, 0, NULL,
     "seed of every random choice (init, shuffle, dropout, augmentation)"},
    FLT(train, beta1, "0.9", 0, 1, CF_HI_OPEN, "Adam beta_1"),
    FLT(train, beta2, "0.999", 0, 1, CF_HI_OPEN, "Adam beta_2"),
    FLT(train, epsilon, "1e-7", 0, 1, CF_LO_OPEN, "Adam epsilon (Keras form, outside the bias correction)"),
    BOOL(train, sync_bn, "on",
         "data-parallel training (mpirun -np N): on = batch-norm statistics over the whole global batch, every "
         "rank's clips, so N ranks train as one process with batch_size clips; off = over each rank's "
         "batch_size/N clips (PyTorch DDP's default; no BN communication, ~105 fewer small allreduces a step)"),
    FLT(train, bucket_mb, "4", 0, 1024, 0,
        "data-parallel GPU ranks: the gradients are summed (NCCL) in buckets of at least this many MB as soon as "
        "backward has finished them, while the rest of backward computes; 0 = one sum after backward. CPU ranks "
        "always sum once after backward (MPI there makes no progress beside the computation)"),

    BOOL(callbacks, early_stopping, "on", "stop when the monitored metric stops improving"),
    ENUM(callbacks, early_stopping_monitor, "val_loss", MONITOR, "metric EarlyStopping watches"),
    INT(callbacks, early_stopping_patience, "10", 0, 100000, 0, "epochs without improvement before stopping"),
    FLT(callbacks, early_stopping_min_delta, "0", 0, INFINITY, 0, "smallest change that counts as improvement"),
    BOOL(callbacks, restore_best, "on",
         "EarlyStopping restore_best_weights: at the end of training (Keras 3: with or without an early stop) the best "
         "epoch's weights are restored; they are checkpoints/early_stopping_best.h5, saved when that epoch was best"),
    BOOL(callbacks, reduce_lr, "on", "multiply the learning rate by reduce_lr_factor on a plateau"),
    ENUM(callbacks, reduce_lr_monitor, "val_loss", MONITOR, "metric ReduceLROnPlateau watches"),
    FLT(callbacks, reduce_lr_factor, "0.5", 0, 1, CF_LO_OPEN | CF_HI_OPEN, "learning-rate factor on a plateau"),
    INT(callbacks, reduce_lr_patience, "3", 0, 100000, 0, "epochs without improvement before reducing"),
    FLT(callbacks, reduce_lr_min_delta, "1e-4", 0, INFINITY, 0, "smallest change that counts as improvement"),
    INT(callbacks, reduce_lr_cooldown, "0", 0, 100000, 0, "epochs to wait after a reduction"),
    FLT(callbacks, min_lr, "1e-7", 0, 1, 0, "the learning rate is never reduced below this"),
    ENUM(callbacks, checkpoint_monitor, "val_accuracy", MONITOR,
         "metric that picks checkpoints/best.h5 (accuracy: strictly higher, loss: strictly lower)"),

    STR(output, runs_dir, "runs", CF_PATH, "runs are written to RUNS_DIR/NAME/"),
    STR(output, name, "", CF_NAME, "run name (a directory under runs_dir); \"\" = the config file's name without .ini"),
    BOOL(output, plots, "on", "write plots/*.png at the end of training"),

    ENUM(runtime, device, "auto", DEVICE, "backend: auto uses CUDA when a GPU is present"),
    ENUM(runtime, inference, "plan", INFERENCE,
         "CPU predict, eval, stream and training's validation pass: plan = batch norm folded into the "
         "convolutions, fused epilogues, "
         "fast kernels (gesture info names them); reference = the reference ops node by node (same predictions "
         "within 1e-4)"),
    ENUM(runtime, training, "fast", TRAINING,
         "CPU training steps: fast = the 1x1 and depthwise convolutions on their AVX2 twins where the CPU and "
         "the channel counts allow (gesture info names them; each op within 1e-4 of its reference op, so a "
         "step's gradients agree within rounding, not bit for bit); reference = the reference ops for every "
         "layer"),
    ENUM(runtime, precision, "fp32", PRECISION,
         "bf16 on CUDA: every GEMM (1x1 convolutions, dense layers, the GRU) on bfloat16 operands with fp32 "
         "accumulation, in training and inference, and the inference plan's activations stored in bfloat16; "
         "the CPU has no bf16 path and runs fp32, saying so on stderr. Master weights, BN statistics, Adam state "
         "and losses stay fp32"),
    INT(runtime, threads, "0", 0, 1024, 0, "CPU threads (OpenMP/OpenBLAS); 0 = all cores"),
    BOOL(runtime, cuda_graph, "off", "capture the training step as a CUDA graph"),
    BOOL(runtime, deterministic, "off", "reserved: no command reads it yet"),
    FLT(runtime, dist_timeout, "600", 1, 86400, 0,
        "data-parallel training: seconds a rank waits for another in a collective before it names that rank "
        "and ends the job (a rank that died or hangs)"),
    {"runtime", "profile_steps", CK_STEPS, OFF(runtime.profile_start), OFF(runtime.profile_count), "", 0, 0, 0,
     NULL,
     "gesture bench on the GPU: train steps START..START+COUNT-1 (counted from 0, warm-up included) run "
     "between cudaProfilerStart/Stop, for scripts/profile.sh; empty = off"},

    FLT(stream, fps, "30", 1, 1000, 0,
        "frame rate of the videos the training clips came from; video input is resampled to fps / "
        "data.frame_step model frames per second, so any camera or file gives the model the trained motion speed"),
    INT(stream, hop, "2", 1, 512, 0, "model frames between two windows (stream and predict --windows)"),
    INT(stream, smooth, "3", 1, 64, 0, "events: class probabilities are averaged over the last SMOOTH windows"),
    FLT(stream, threshold, "0.6", 0, 1, 0, "events: smoothed probability a class must reach to start an event"),
    FLT(stream, min_duration, "0.3", 0, 60, 0, "events: seconds a class must stay at or above threshold before it fires"),
    FLT(stream, refractory, "1.0", 0, 600, 0, "events: seconds after an event during which no other event fires"),
};
const int CONFIG_NKEYS = (int)(sizeof CONFIG_KEYS / sizeof CONFIG_KEYS[0]);

// ---- lookup ----

int config_section_index(const char *section) {
    for (int i = 0; CONFIG_SECTIONS[i]; i++)
        if (!strcmp(CONFIG_SECTIONS[i], section)) return i;
    return -1;
}

const config_key *config_key_find(const char *section, const char *name) {
    for (int i = 0; i < CONFIG_NKEYS; i++)
        if (!strcmp(CONFIG_KEYS[i].section, section) && !strcmp(CONFIG_KEYS[i].name, name)) return &CONFIG_KEYS[i];
    return NULL;
}

static int edit_distance(const char *a, const char *b) {
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 63 || lb > 63) return 64;
    int prev[64], cur[64];
    for (int j = 0; j <= lb; j++) prev[j] = j;
    for (int i = 1; i <= la; i++) {
        cur[0] = i;
        for (int j = 1; j <= lb; j++) {
            int sub = prev[j - 1] + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            int del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, sizeof(int) * (size_t)(lb + 1));
    }
    return prev[lb];
}

// Does `word` spell the initials of name's '_'-separated parts ("lr" for learning_rate)?
static int is_initials(const char *word, const char *name) {
    if (strlen(word) < 2 || !strchr(name, '_')) return 0;
    const char *w = word;
    for (const char *p = name; *p; p++) {
        if (p != name && p[-1] != '_') continue;
        if (tolower((unsigned char)*w++) != tolower((unsigned char)*p)) return 0;
    }
    return *w == '\0';
}

// How `word` is likely meant to be `name`, the most telling first: 0 its initials, 1 the start of
// it, 2 a part of it, 3 a typo of it (edit distance within a third of the length); 4 none. An
// abbreviation beats a one-letter typo: "lr" is learning_rate, not l2.
static int closeness(const char *word, const char *name, int *dist) {
    size_t wl = strlen(word);
    *dist = edit_distance(word, name);
    if (is_initials(word, name)) return 0;
    if (wl >= 2 && strlen(name) > wl && !strncmp(name, word, wl)) return 1;
    if (wl >= 3 && strstr(name, word)) return 2;
    int limit = wl < 6 ? 2 : (int)wl / 3;
    return *dist <= limit ? 3 : 4;
}

const char *config_closest(const char *word, const char *const *names, int n) {
    const char *best = NULL;
    int best_tier = 4, best_d = 1 << 30;
    for (int i = 0; i < n; i++) {
        int d, tier = closeness(word, names[i], &d);
        if (tier < best_tier || (tier == best_tier && d < best_d)) best_tier = tier, best_d = d, best = names[i];
    }
    return best_tier < 4 ? best : NULL;
}

// ---- parsing ----

// Whole-string decimal integer (optional sign).
static int parse_ll(const char *s, long long *out) {
    const char *p = s;
    if (*p == '+' || *p == '-') p++;
    if (!*p) return -1;
    for (; *p; p++)
        if (!isdigit((unsigned char)*p)) return -1;
    errno = 0;
    char *end;
    *out = strtoll(s, &end, 10);
    return errno || *end ? -1 : 0;
}

// Whole-string decimal float; no hex, inf or nan.
static int parse_double(const char *s, double *out) {
    int digits = 0;
    for (const char *p = s; *p; p++) {
        if (isdigit((unsigned char)*p)) digits++;
        else if (!strchr("+-.eE", *p)) return -1;
    }
    if (!digits) return -1;
    char *end;
    *out = strtod(s, &end);
    return *end || !isfinite(*out) ? -1 : 0;  // overflow gives inf; underflow is fine
}

static void join_choices(char *buf, size_t n, const char *const *choices, const char *sep) {
    buf[0] = '\0';
    for (int i = 0; choices[i]; i++) {
        size_t len = strlen(buf);
        snprintf(buf + len, n - len, "%s%s", i ? sep : "", choices[i]);
    }
}

// Shortest decimal that reads back as exactly v, with a bare exponent ("1e-7", not "1e-07").
static void format_double(char *buf, size_t n, double v) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    char *e = strchr(buf, 'e');
    if (e) {
        char *digits = e + 1 + (e[1] == '-' || e[1] == '+');
        size_t zeros = strspn(digits, "0");
        if (zeros && digits[zeros]) memmove(digits, digits + zeros, strlen(digits + zeros) + 1);
        if (e[1] == '+') memmove(e + 1, e + 2, strlen(e + 2) + 1);
    }
}

static void format_range(char *buf, size_t n, const config_key *k) {
    char lo[32], hi[32];
    format_double(lo, sizeof lo, k->lo);
    format_double(hi, sizeof hi, k->hi);
    if (isinf(k->hi))
        snprintf(buf, n, "%s %s", k->flags & CF_LO_OPEN ? ">" : ">=", lo);
    else
        snprintf(buf, n, "%c%s, %s%c", k->flags & CF_LO_OPEN ? '(' : '[', lo, hi, k->flags & CF_HI_OPEN ? ')' : ']');
}

void config_key_describe(const config_key *k, char *buf, size_t n) {
    char tmp[160];
    switch (k->kind) {
    case CK_INT:
        snprintf(buf, n, "int %d..%d%s", (int)k->lo, (int)k->hi, k->flags & CF_EVEN ? ", even" : "");
        break;
    case CK_U64: snprintf(buf, n, "uint64"); break;
    case CK_FLOAT:
        if (k->flags & CF_WIDTHS) {
            snprintf(buf, n, "0.35|0.5|0.75|1.0|1.3|1.4");
        } else {
            format_range(tmp, sizeof tmp, k);
            snprintf(buf, n, "float %s", tmp);
        }
        break;
    case CK_BOOL: snprintf(buf, n, "on|off"); break;
    case CK_ENUM: join_choices(buf, n, k->choices, "|"); break;
    case CK_STR: snprintf(buf, n, "%s", k->flags & CF_PATH ? "path" : "string"); break;
    case CK_STEPS: snprintf(buf, n, "START:COUNT or empty"); break;
    }
}

// "; inline comments..." hint when a value looks like it carries a '#' comment.
static const char *hash_hint(const char *value) {
    return strchr(value, '#') ? " (inline comments start with ' ;', not '#')" : "";
}

int config_key_check(const config_key *k, const gs_config *c, char *msg, size_t n) {
    const char *base = (const char *)c;
    char desc[160];
    config_key_describe(k, desc, sizeof desc);
    switch (k->kind) {
    case CK_INT: {
        int v = *(const int *)(base + k->offset);
        if (v < (int)k->lo || v > (int)k->hi) {
            snprintf(msg, n, "%s.%s = %d is out of range (allowed: %d..%d)", k->section, k->name, v, (int)k->lo,
                     (int)k->hi);
            return -1;
        }
        if ((k->flags & CF_EVEN) && v % 2) {
            snprintf(msg, n, "%s.%s = %d must be even (allowed: %s), e.g. %d", k->section, k->name, v, desc, v + 1);
            return -1;
        }
        return 0;
    }
    case CK_FLOAT: {
        double v = *(const double *)(base + k->offset);
        char vs[32];
        format_double(vs, sizeof vs, v);
        if (k->flags & CF_WIDTHS) {
            for (int i = 0; i < N_WIDTHS; i++)
                if (v == WIDTHS[i]) return 0;
            snprintf(msg, n, "%s.%s = %s is not a MobileNetV2 width (choose one of 0.35, 0.5, 0.75, 1.0, 1.3, 1.4)",
                     k->section, k->name, vs);
            return -1;
        }
        int ok = isfinite(v) && (k->flags & CF_LO_OPEN ? v > k->lo : v >= k->lo) &&
                 (k->flags & CF_HI_OPEN ? v < k->hi : v <= k->hi);
        if (!ok) {
            snprintf(msg, n, "%s.%s = %s is out of range (allowed: %s)", k->section, k->name, vs, desc);
            return -1;
        }
        return 0;
    }
    case CK_ENUM: {
        int v = *(const int *)(base + k->offset), count = 0;
        while (k->choices[count]) count++;
        if (v < 0 || v >= count) {
            snprintf(msg, n, "%s.%s has invalid enum value %d (choose one of: %s)", k->section, k->name, v, desc);
            return -1;
        }
        return 0;
    }
    case CK_STR: {
        const char *s = base + k->offset;
        size_t len = strnlen(s, GS_CONFIG_STR_MAX);
        if (len >= GS_CONFIG_STR_MAX) {
            snprintf(msg, n, "%s.%s is longer than %d characters", k->section, k->name, GS_CONFIG_STR_MAX - 1);
            return -1;
        }
        if ((k->flags & CF_NAME) && (strchr(s, '/') || !strcmp(s, ".") || !strcmp(s, ".."))) {
            snprintf(msg, n, "%s.%s = '%s' must be a plain name (no '/', not . or ..): it names a directory in "
                     "output.runs_dir", k->section, k->name, s);
            return -1;
        }
        for (size_t i = 0; i < len; i++) {
            if ((unsigned char)s[i] < 32 || s[i] == 127) {
                snprintf(msg, n, "%s.%s contains a control character (byte %zu)", k->section, k->name, i);
                return -1;
            }
            // INI would read the rest as an inline comment, so the value could not round-trip.
            if (s[i] == ';' && i > 0 && (s[i - 1] == ' ' || s[i - 1] == '\t')) {
                snprintf(msg, n, "%s.%s = '%s' contains ' ;', which INI reads as the start of a comment", k->section,
                         k->name, s);
                return -1;
            }
        }
        return 0;
    }
    case CK_STEPS: {
        int start = *(const int *)(base + k->offset), count = *(const int *)(base + k->offset2);
        if (start < 0 || count < 0 || (count == 0 && start != 0)) {
            snprintf(msg, n, "%s.%s = %d:%d is invalid (START >= 0, COUNT >= 1, or empty for off)", k->section,
                     k->name, start, count);
            return -1;
        }
        return 0;
    }
    case CK_BOOL:
    case CK_U64: return 0;  // every stored value is valid
    }
    return 0;
}

// One parse_*_value per key kind: value -> the key's field(s) in base (a gs_config's bytes). 0, or
// -1 with the message in msg (n bytes) and base untouched. config_key_parse then checks the result.

static int parse_int_value(char *base, const config_key *k, const char *value, char *msg, size_t n) {
    char desc[160];
    config_key_describe(k, desc, sizeof desc);
    long long v;
    if (parse_ll(value, &v)) {
        snprintf(msg, n, "%s.%s = '%s' is not an integer (write a whole number, %s)%s", k->section, k->name, value,
                 desc, hash_hint(value));
        return -1;
    }
    if (v < (long long)k->lo || v > (long long)k->hi) {  // checked here: v may not fit an int
        snprintf(msg, n, "%s.%s = %s is out of range (allowed: %s)", k->section, k->name, value, desc);
        return -1;
    }
    *(int *)(base + k->offset) = (int)v;
    return 0;
}

static int parse_u64_value(char *base, const config_key *k, const char *value, char *msg, size_t n) {
    unsigned long long v = 0;
    int bad = !*value || *value == '-';
    for (const char *p = value + (*value == '+'); *p && !bad; p++) bad = !isdigit((unsigned char)*p);
    if (!bad) {
        errno = 0;
        char *end;
        v = strtoull(value, &end, 10);
        bad = errno || *end;
    }
    if (bad) {
        snprintf(msg, n, "%s.%s = '%s' is not an unsigned 64-bit integer (0..18446744073709551615)%s", k->section,
                 k->name, value, hash_hint(value));
        return -1;
    }
    *(uint64_t *)(base + k->offset) = (uint64_t)v;
    return 0;
}

static int parse_float_value(char *base, const config_key *k, const char *value, char *msg, size_t n) {
    char desc[160];
    config_key_describe(k, desc, sizeof desc);
    double v;
    if (parse_double(value, &v)) {
        snprintf(msg, n, "%s.%s = '%s' is not a number (write e.g. 0.25 or 1e-4; allowed: %s)%s", k->section,
                 k->name, value, desc, hash_hint(value));
        return -1;
    }
    // Widths are matched exactly, so "1.00" and "1" both mean the 1.0 model.
    *(double *)(base + k->offset) = v;
    return 0;
}

static int parse_bool_value(char *base, const config_key *k, const char *value, char *msg, size_t n) {
    bool v;
    if (!strcmp(value, "on") || !strcmp(value, "true")) v = true;
    else if (!strcmp(value, "off") || !strcmp(value, "false")) v = false;
    else {
        snprintf(msg, n, "%s.%s = '%s' is not a switch (use on or off; true/false also accepted)%s", k->section,
                 k->name, value, hash_hint(value));
        return -1;
    }
    *(bool *)(base + k->offset) = v;
    return 0;
}

static int parse_enum_value(char *base, const config_key *k, const char *value, char *msg, size_t n) {
    int idx = -1, count = 0;
    for (; k->choices[count]; count++)
        if (!strcmp(k->choices[count], value)) idx = count;
    if (idx < 0) {
        const char *near = config_closest(value, k->choices, count);
        char alt[96] = "";
        if (near) snprintf(alt, sizeof alt, "; did you mean '%s'?", near);
        char list[160];
        join_choices(list, sizeof list, k->choices, ", ");
        snprintf(msg, n, "%s.%s = '%s' is not a valid choice (choose one of: %s)%s%s", k->section, k->name, value,
                 list, alt, hash_hint(value));
        return -1;
    }
    *(int *)(base + k->offset) = idx;
    return 0;
}

static int parse_str_value(char *base, const config_key *k, const char *value, char *msg, size_t n) {
    size_t len = strlen(value);
    // One pair of surrounding double quotes is syntax, so `""` is the empty string.
    if (value[0] == '"' && (len < 2 || value[len - 1] != '"')) {
        snprintf(msg, n, "%s.%s = %s has an unclosed quote", k->section, k->name, value);
        return -1;
    }
    if (len >= 2 && value[0] == '"') value++, len -= 2;
    if (len >= GS_CONFIG_STR_MAX) {
        snprintf(msg, n, "%s.%s is %zu characters long; the limit is %d", k->section, k->name, len,
                 GS_CONFIG_STR_MAX - 1);
        return -1;
    }
    memcpy(base + k->offset, value, len);
    base[k->offset + len] = '\0';
    return 0;
}

// START:COUNT into offset and offset2; empty is 0:0 (off).
static int parse_steps_value(char *base, const config_key *k, const char *value, char *msg, size_t n) {
    int start = 0, count = 0;
    if (*value) {
        const char *colon = strchr(value, ':');
        char a[32], b[32];
        long long s = -1, cnt = -1;
        int ok = colon && (size_t)(colon - value) < sizeof a && strlen(colon + 1) < sizeof b;
        if (ok) {
            memcpy(a, value, (size_t)(colon - value));
            a[colon - value] = '\0';
            strcpy(b, colon + 1);
            ok = !parse_ll(a, &s) && !parse_ll(b, &cnt) && s >= 0 && cnt >= 1 && s <= INT_MAX && cnt <= INT_MAX;
        }
        if (!ok) {
            snprintf(msg, n,
                     "%s.%s = '%s' is not START:COUNT (write e.g. 10:5 to profile 5 steps from step 10, "
                     "or leave it empty)%s",
                     k->section, k->name, value, hash_hint(value));
            return -1;
        }
        start = (int)s, count = (int)cnt;
    }
    *(int *)(base + k->offset) = start;
    *(int *)(base + k->offset2) = count;
    return 0;
}

int config_key_parse(const config_key *k, gs_config *c, const char *value, char *msg, size_t n) {
    gs_config tmp = *c;  // parse into a copy so a rejected value leaves c untouched
    char *base = (char *)&tmp;
    int rc = -1;
    switch (k->kind) {
    case CK_INT: rc = parse_int_value(base, k, value, msg, n); break;
    case CK_U64: rc = parse_u64_value(base, k, value, msg, n); break;
    case CK_FLOAT: rc = parse_float_value(base, k, value, msg, n); break;
    case CK_BOOL: rc = parse_bool_value(base, k, value, msg, n); break;
    case CK_ENUM: rc = parse_enum_value(base, k, value, msg, n); break;
    case CK_STR: rc = parse_str_value(base, k, value, msg, n); break;
    case CK_STEPS: rc = parse_steps_value(base, k, value, msg, n); break;
    }
    if (rc || config_key_check(k, &tmp, msg, n)) return -1;
    *c = tmp;
    return 0;
}

void config_key_format(const config_key *k, const gs_config *c, char *buf, size_t n) {
    const char *base = (const char *)c;
    switch (k->kind) {
    case CK_INT: snprintf(buf, n, "%d", *(const int *)(base + k->offset)); break;
    case CK_U64: snprintf(buf, n, "%" PRIu64, *(const uint64_t *)(base + k->offset)); break;
    case CK_FLOAT: {
        double v = *(const double *)(base + k->offset);
        // Widths are written as Keras names its weight files: 1.0, not 1.
        if ((k->flags & CF_WIDTHS) && v == floor(v)) snprintf(buf, n, "%.1f", v);
        else format_double(buf, n, v);
        break;
    }
    case CK_BOOL: snprintf(buf, n, "%s", *(const bool *)(base + k->offset) ? "on" : "off"); break;
    case CK_ENUM: {
        int v = *(const int *)(base + k->offset), count = 0;
        while (k->choices[count]) count++;
        snprintf(buf, n, "%s", v >= 0 && v < count ? k->choices[v] : "?");
        break;
    }
    case CK_STR: snprintf(buf, n, "\"%s\"", base + k->offset); break;
    case CK_STEPS: {
        int start = *(const int *)(base + k->offset), count = *(const int *)(base + k->offset2);
        if (count) snprintf(buf, n, "%d:%d", start, count);
        else buf[0] = '\0';
        break;
    }
    }
}
