// `gesture synth OUT`: writes the synthetic 5-class gesture set (CSV-index layout, see gesture/synth.h).
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
                          !strcmp(a, "--big-fraction") || !strcmp(a, "--image-format");
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
        } else if (!strcmp(a, "--quiet")) o.quiet = 1;
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
