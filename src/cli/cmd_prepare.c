// `gesture prepare RAW OUT`: raw gesture data (CSV index or class folders) → the prepared
// train/val/test layout, manifest and class-distribution report (see gesture/prepare.h).
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gesture/augment.h"
#include "gesture/config.h"
#include "gesture/errors.h"
#include "gesture/prepare.h"

static const char *OPTIONS =
    "\nRAW is the Kaggle CSV-index layout (train.csv, val.csv, train/<folder>/FRAMES or train/train/...)\n"
    "or class folders (train|val|test/<Class>/<sample>/FRAMES); FRAMES are *.png, *.jpg or *.jpeg files (PNG\n"
    "or JPEG by content). OUT gets {train,val,test}/<Class>/<sample>/frame_NNNN.<raw extension> (links or\n"
    "copies, never re-encoded), manifest.csv, distribution.txt/.png, samples.png and validation.txt.\n"
    "\noptions:\n"
    "  --split seed|fraction   seed: keep val (and RAW's test), move --test-per-class train clips per\n"
    "                          class to test (default); fraction: pool all clips, stratified fractions\n"
    "  --seed S                which clips move (default 1337); same seed, same output\n"
    "  --test-per-class N      seed recipe (default 4)\n"
    "  --val-frac F            fraction recipe (default 0.15)\n"
    "  --test-frac F           fraction recipe (default 0.05)\n"
    "  --copy                  copy frames instead of symlinking them\n"
    "  --config FILE.ini       check every clip has the frames this training config reads (data.frames,\n"
    "                          data.frame_step, data.sampling; --set overrides them): shorter clips are bad\n"
    "  --set section.key=value override one key of that config (or of the defaults)\n"
    "  --min-frames N          clips with fewer frames are bad (default 1; without --config/--set, a note\n"
    "                          says how many clips are shorter than the seed config reads)\n"
    "  --verify                decode every frame (default: check PNG/JPEG headers only)\n"
    "  --on-bad-clip error|skip  fail on the first bad clip (default) or leave bad clips out\n"
    "  --threads N             validation threads (default: OpenMP's)\n"
    "  --quiet                 no table on stdout\n"
    "  --force                 replace OUT if it holds a previous prepare output (and nothing else)\n";

static int parse_num(const char *s, double lo, double hi, double *v) {
    char *end;
    double x = strtod(s, &end);
    if (!*s || *end || x < lo || x > hi) return -1;
    *v = x;
    return 0;
}

// The frame rule: with --config or --set, clips shorter than that config reads are bad clips (the
// rule is printed); without, the seed defaults only feed a note. 0, or -1 + gs_error.
static int frames_rule(gs_prepare_opts *o, const char *config, int argc, char **argv) {
    int explicit = config != NULL;
    for (int i = 1; i < argc; i++) explicit |= !strcmp(argv[i], "--set");
    gs_config cfg;
    if (cli_load_config(&cfg, config, argc, argv)) return -1;
    const gs_data_config *d = &cfg.data;
    int need = frames_needed(d->frames, d->sampling, d->frame_step);
    if (!explicit) {
        o->advise_frames = need;
        return 0;
    }
    if (need > o->min_frames) o->min_frames = need;
    if (!o->quiet)
        printf("frames: %d per clip at least (data.frames = %d, sampling = %s, frame_step = %d%s%s); shorter clips "
               "are bad clips\n", o->min_frames, d->frames, d->sampling == GS_SAMPLING_STRIDE ? "stride" : "uniform",
               d->frame_step, config ? ", from " : "", config ? config : "");
    return 0;
}

int cmd_prepare(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        cli_print_usage("prepare");
        fputs(OPTIONS, stdout);
        return 0;
    }
    gs_prepare_opts o = prepare_default_opts();
    const char *pos[2] = {NULL, NULL}, *config = NULL;
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        double v = 0;
        int with_value = !strcmp(a, "--split") || !strcmp(a, "--seed") || !strcmp(a, "--test-per-class") ||
                         !strcmp(a, "--val-frac") || !strcmp(a, "--test-frac") || !strcmp(a, "--min-frames") ||
                         !strcmp(a, "--on-bad-clip") || !strcmp(a, "--threads") || !strcmp(a, "--config") ||
                         !strcmp(a, "--set");
        if (with_value && i + 1 >= argc) {
            fprintf(stderr, "gesture prepare: %s needs a value\n", a);
            return 2;
        }
        const char *val = with_value ? argv[++i] : NULL;
        int bad = 0;
        if (!strcmp(a, "--split")) {
            if (!strcmp(val, "seed")) o.mode = GS_SPLIT_SEED;
            else if (!strcmp(val, "fraction")) o.mode = GS_SPLIT_FRACTION;
            else bad = 1;
        } else if (!strcmp(a, "--on-bad-clip")) {
            if (!strcmp(val, "error")) o.skip_bad = 0;
            else if (!strcmp(val, "skip")) o.skip_bad = 1;
            else bad = 1;
        } else if (!strcmp(a, "--seed")) bad = parse_num(val, 0, 9.2e18, &v), o.seed = (uint64_t)v;
        else if (!strcmp(a, "--test-per-class")) bad = parse_num(val, 0, 1e6, &v) || v != (int)v, o.test_per_class = (int)v;
        else if (!strcmp(a, "--val-frac")) bad = parse_num(val, 0, 0.95, &v), o.val_frac = v;
        else if (!strcmp(a, "--test-frac")) bad = parse_num(val, 0, 0.95, &v), o.test_frac = v;
        else if (!strcmp(a, "--min-frames")) bad = parse_num(val, 1, 1e6, &v) || v != (int)v, o.min_frames = (int)v;
        else if (!strcmp(a, "--threads")) {
            bad = parse_num(val, 1, 1024, &v) || v != (int)v;
            if (!bad) omp_set_num_threads((int)v);
        } else if (!strcmp(a, "--config")) config = val;
        else if (!strcmp(a, "--set")) continue;  // read by cli_load_config
        else if (!strcmp(a, "--copy")) o.copy = 1;
        else if (!strcmp(a, "--verify")) o.verify = 1;
        else if (!strcmp(a, "--quiet")) o.quiet = 1;
        else if (!strcmp(a, "--force")) o.force = 1;
        else if (a[0] == '-') {
            fprintf(stderr, "gesture prepare: unknown option '%s' (see gesture prepare --help)\n", a);
            return 2;
        } else if (npos == 2) {
            fprintf(stderr, "gesture prepare: expected RAW and OUT, got an extra argument '%s'\n", a);
            return 2;
        } else pos[npos++] = a;
        if (bad) {
            fprintf(stderr, "gesture prepare: invalid value '%s' for %s\n", val, a);
            return 2;
        }
    }
    if (npos != 2) {
        fprintf(stderr, "gesture prepare: expected RAW and OUT folders (e.g. gesture prepare data/synth data/prepared)\n");
        return 2;
    }
    if (frames_rule(&o, config, argc, argv) != 0 || prepare_run(pos[0], pos[1], &o) != 0) {
        fprintf(stderr, "gesture: %s\n", gs_last_error());
        return 1;
    }
    return 0;
}
