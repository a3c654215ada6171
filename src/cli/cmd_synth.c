// `gesture synth OUT`: writes the synthetic 5-class gesture set (CSV-index layout, see gesture/synth.h),
// optionally as videos too; `gesture synth-long OUT.mp4`: a long video of gestures with its ground truth.
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gesture/errors.h"
#include "gesture/synth.h"

static const char *OPTIONS =
    "\noptions:\n"
    "  --clips-per-class N  train + val clips per class (default 80)\n"
    "  --val-per-class N    of those, clips in val (default clips-per-class / 5)\n"
    "  --frames N           frames per clip (default 30)\n"
    "  --big-fraction F     share of 360x360 clips, the rest 160x120 (default 0.35)\n"
    "  --seed S             everything is a function of the seed (default 7)\n"
    "  --image-format F     frame files: png (default) or jpeg (*.jpg, quality 95)\n"
    "  --level L            PNG zlib level 0-9 (default 1)\n"
    "  --threads N          rendering threads (default: OpenMP's)\n"
    "  --videos EXT         also write each clip as OUT/videos/<split>/<folder>.EXT: mkv (lossless FFV1),\n"
    "                       mp4 (H.264), avi (MJPEG) or webm (VP9)\n"
    "  --fps F              frame rate of those videos (default 30)\n"
    "  --quiet              no progress (stderr) and no summary line\n"
    "  --force              replace OUT if it holds a previous synth output (and nothing else)\n";

// Whole-string number parsing: "12x" is an error, not 12.
static int parse_long(const char *s, long lo, long hi, long *v) {
    char *end;
    long x = strtol(s, &end, 10);
    if (!*s || *end || x < lo || x > hi) return -1;
    *v = x;
    return 0;
}

static int parse_double(const char *s, double lo, double hi, double *v) {
    char *end;
    double x = strtod(s, &end);
    if (!*s || *end || !(x >= lo && x <= hi)) return -1;
    *v = x;
    return 0;
}

int cmd_synth(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        cli_print_usage("synth");
        fputs(OPTIONS, stdout);
        return 0;
    }
    gs_synth_opts o = synth_default_opts();
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        long v = 0;
        int needs_value = !strcmp(a, "--clips-per-class") || !strcmp(a, "--val-per-class") || !strcmp(a, "--frames") ||
                          !strcmp(a, "--seed") || !strcmp(a, "--level") || !strcmp(a, "--threads") ||
                          !strcmp(a, "--big-fraction") || !strcmp(a, "--image-format") || !strcmp(a, "--videos") ||
                          !strcmp(a, "--fps");
        if (needs_value && i + 1 >= argc) {
            fprintf(stderr, "gesture synth: %s needs a value\n", a);
            return 2;
        }
        const char *val = needs_value ? argv[++i] : NULL;
        int bad = 0;
        if (!strcmp(a, "--clips-per-class")) bad = parse_long(val, 1, 100000, &v), o.clips_per_class = (int)v;
        else if (!strcmp(a, "--val-per-class")) bad = parse_long(val, 0, 100000, &v), o.val_per_class = (int)v;
        else if (!strcmp(a, "--frames")) bad = parse_long(val, 1, 1000, &v), o.frames = (int)v;
        else if (!strcmp(a, "--seed")) bad = parse_long(val, 0, 0x7fffffffffffffffL, &v), o.seed = (uint64_t)v;
        else if (!strcmp(a, "--level")) bad = parse_long(val, 0, 9, &v), o.png_level = (int)v;
        else if (!strcmp(a, "--image-format")) {
            bad = strcmp(val, "png") && strcmp(val, "jpeg");
            o.image_format = !strcmp(val, "jpeg") ? GS_SYNTH_JPEG : GS_SYNTH_PNG;
        } else if (!strcmp(a, "--threads")) {
            bad = parse_long(val, 1, 1024, &v);
            if (!bad) omp_set_num_threads((int)v);
        } else if (!strcmp(a, "--big-fraction")) {
            char *end;
            o.big_fraction = strtod(val, &end);
            bad = !*val || *end || o.big_fraction < 0 || o.big_fraction > 1;
        } else if (!strcmp(a, "--videos")) {
            bad = strlen(val) >= sizeof o.video_ext;
            if (!bad) snprintf(o.video_ext, sizeof o.video_ext, "%s", val);
        } else if (!strcmp(a, "--fps")) bad = parse_double(val, 1e-3, 1000, &o.video_fps);
        else if (!strcmp(a, "--quiet")) o.quiet = 1;
        else if (!strcmp(a, "--force")) o.force = 1;
        else if (a[0] == '-') {
            fprintf(stderr, "gesture synth: unknown option '%s' (see gesture synth --help)\n", a);
            return 2;
        } else if (out) {
            fprintf(stderr, "gesture synth: one output folder expected, got '%s' and '%s'\n", out, a);
            return 2;
        } else out = a;
        if (bad) {
            fprintf(stderr, "gesture synth: invalid value '%s' for %s\n", val, a);
            return 2;
        }
    }
    if (!out) {
        fprintf(stderr, "gesture synth: missing OUT folder (e.g. gesture synth data/synth)\n");
        return 2;
    }
    if (synth_write(out, &o) != 0) {
        fprintf(stderr, "gesture: %s\n", gs_last_error());
        return 1;
    }
    return 0;
}

static const char *LONG_OPTIONS =
    "\nOUT's extension picks the codec (mp4: H.264, mkv: lossless FFV1, webm, avi, gif). The ground truth\n"
    "goes to OUT with the extension .csv: a header, then one line start,end,label per gesture (seconds\n"
    "of its first frame and just after its last one; the class name). Each gesture is a new scene,\n"
    "shown without the hand for --idle seconds before it; the video ends with the last scene idle.\n"
    "\noptions:\n"
    "  --gestures N   gestures in the video (default 10; random classes)\n"
    "  --frames N     frames of a gesture at 30 fps, as in `gesture synth` clips (default 30)\n"
    "  --size WxH     frame size (default 320x240)\n"
    "  --fps F        frame rate (default 30)\n"
    "  --idle S       seconds of idle scene before each gesture and at the end (default 1.5)\n"
    "  --seed S       everything is a function of the seed (default 7)\n";

// OUT.ext -> OUT.csv (malloc'd); NULL when OUT has no extension or is already .csv.
static char *csv_path(const char *out) {
    const char *dot = strrchr(out, '.');
    if (!dot || strchr(dot, '/') || !strcmp(dot, ".csv")) return NULL;
    char *csv = gs_malloc((size_t)(dot - out) + 5);
    memcpy(csv, out, (size_t)(dot - out));
    strcpy(csv + (dot - out), ".csv");
    return csv;
}

int cmd_synth_long(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        cli_print_usage("synth-long");
        fputs(LONG_OPTIONS, stdout);
        return 0;
    }
    gs_synth_long_opts o = synth_long_default_opts();
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        long v = 0;
        int bad = 0, w = 0, h = 0, n = 0;
        if (a[0] == '-' && strcmp(a, "--gestures") && strcmp(a, "--frames") && strcmp(a, "--size") && strcmp(a, "--fps") &&
            strcmp(a, "--idle") && strcmp(a, "--seed")) {
            fprintf(stderr, "gesture synth-long: unknown option '%s' (see gesture synth-long --help)\n", a);
            return 2;
        }
        if (a[0] != '-') {
            if (out) {
                fprintf(stderr, "gesture synth-long: one output video expected, got '%s' and '%s'\n", out, a);
                return 2;
            }
            out = a;
            continue;
        }
        i++;
        if (!val) bad = 1;
        else if (!strcmp(a, "--gestures")) bad = parse_long(val, 1, 100000, &v), o.n_gestures = (int)v;
        else if (!strcmp(a, "--frames")) bad = parse_long(val, 1, 1000, &v), o.frames = (int)v;
        else if (!strcmp(a, "--seed")) bad = parse_long(val, 0, 0x7fffffffffffffffL, &v), o.seed = (uint64_t)v;
        else if (!strcmp(a, "--fps")) bad = parse_double(val, 1e-3, 1000, &o.fps);
        else if (!strcmp(a, "--idle")) bad = parse_double(val, 0, 3600, &o.idle);
        else {
            bad = sscanf(val, "%dx%d%n", &w, &h, &n) != 2 || val[n] || w < 16 || h < 16 || w > 8192 || h > 8192;
            o.width = w;
            o.height = h;
        }
        if (bad) {
            fprintf(stderr, "gesture synth-long: invalid value '%s' for %s\n", val ? val : "", a);
            return 2;
        }
    }
    char *csv = out ? csv_path(out) : NULL;
    if (!csv) {
        fprintf(stderr, "gesture synth-long: give the output video with its extension (e.g. gesture synth-long long.mp4)\n");
        return 2;
    }
    int rc = synth_write_long(out, csv, &o);
    if (rc != 0) fprintf(stderr, "gesture synth-long: %s\n", gs_last_error());
    else printf("synth-long: %d gestures in %s, ground truth in %s\n", o.n_gestures, out, csv);
    free(csv);
    return rc ? 1 : 0;
}
