// Config module: defaults, the shipped experiments/*.ini, --set, includes and override order,
// the to_ini round trip, cross-key validation, and one case per kind of bad input, each checked
// for its own message and its file:line.
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gesture/config.h"
#include "gesture/errors.h"
#include "gesture/fsutil.h"
#include "testutil.h"

static const char *tmpdir;

// Write `text` to tmpdir/name; returns the full path.
static const char *write_file(const char *name, const char *text) {
    const char *path = test_path(tmpdir, name);
    GS_ASSERT(fs_write_text(path, text) == 0);
    return path;
}

// The last error, when rc says there was one (gs_last_error keeps stale messages).
static const char *err_if(int rc) { return rc ? gs_last_error() : ""; }

static int same_config(const gs_config *a, const gs_config *b) { return config_diff(a, b, NULL, 0) == 0; }

// Load a bad file: must fail with "<path>:<line>: " + a message containing `want`, and leave
// the config as it was.
static void expect_file_error(const char *what, const char *name, const char *text, int line, const char *want) {
    const char *path = write_file(name, text);
    gs_config c, before;
    config_defaults(&c);
    before = c;
    int rc = config_load(&c, path);
    char prefix[600];
    snprintf(prefix, sizeof prefix, "%s:%d: ", path, line);
    const char *err = gs_last_error();
    int ok = rc == -1 && !strncmp(err, prefix, strlen(prefix)) && strstr(err, want) &&
             !memcmp(&c, &before, sizeof c);
    check(ok, "error %-24s -> %s", what, err);
    if (!ok) printf("     wanted prefix '%s' and text '%s'\n", prefix, want);
}

static void expect_set_error(const char *assignment, const char *want) {
    gs_config c, before;
    config_defaults(&c);
    before = c;
    int rc = config_set(&c, assignment);
    const char *err = gs_last_error();
    check(rc == -1 && strstr(err, want) && !memcmp(&c, &before, sizeof c), "--set %-28s -> %s", assignment, err);
}

static void expect_invalid(const char *what, const gs_config *c, const char *want) {
    int rc = config_validate(c);
    check(rc == -1 && strstr(gs_last_error(), want), "validate %-22s -> %s", what, gs_last_error());
}

static void test_defaults(void) {
    gs_config c;
    config_defaults(&c);
    check(!strcmp(c.data.root, "") && c.data.frames == 15 && c.data.sampling == GS_SAMPLING_STRIDE &&
              c.data.frame_step == 2 && c.data.size == 224 && c.data.normalize == GS_NORMALIZE_UNIT &&
              c.data.workers == 0 && !c.data.cache && c.data.on_bad_clip == GS_BAD_CLIP_ERROR && !c.data.augment_flip &&
              c.data.augment_crop_scale == 0 && c.data.augment_temporal_jitter == 0,
          "defaults [data]");
    check(c.model.alpha == 1.0 && c.model.gru_units == 128 && c.model.dense_units == 128 && c.model.dropout == 0.25 &&
              !strcmp(c.model.pretrained, "") && c.model.classes == 5,
          "defaults [model]");
    check(c.train.epochs == 40 && c.train.batch_size == 4 && c.train.learning_rate == 1e-4 && c.train.l2 == 1e-4 &&
              c.train.seed == 42 && c.train.beta1 == 0.9 && c.train.beta2 == 0.999 && c.train.epsilon == 1e-7,
          "defaults [train]");
    const gs_callbacks_config *cb = &c.callbacks;
    check(cb->early_stopping && cb->early_stopping_patience == 10 && cb->restore_best && cb->reduce_lr &&
              cb->reduce_lr_factor == 0.5 && cb->reduce_lr_patience == 3 && cb->reduce_lr_min_delta == 1e-4 &&
              cb->min_lr == 1e-7 && cb->checkpoint_monitor == GS_MONITOR_VAL_ACCURACY &&
              cb->early_stopping_monitor == GS_MONITOR_VAL_LOSS && cb->reduce_lr_monitor == GS_MONITOR_VAL_LOSS,
          "defaults [callbacks]");
    check(!strcmp(c.output.runs_dir, "runs") && !strcmp(c.output.name, "") && c.output.plots, "defaults [output]");
    check(c.runtime.device == GS_DEVICE_AUTO && c.runtime.threads == 0 && !c.runtime.cuda_graph &&
              !c.runtime.deterministic && c.runtime.profile_count == 0,
          "defaults [runtime]");
    int rc = config_validate(&c);
    check(rc == 0, "defaults validate (%s)", err_if(rc));
    check(!strcmp(config_monitor_name(GS_MONITOR_VAL_ACCURACY), "val_accuracy") &&
              !strcmp(config_device_name(GS_DEVICE_CUDA), "cuda"),
          "enum names");

    char *help = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&help, &len);
    config_print_help(f);
    fclose(f);
    check(strstr(help, "[callbacks]") && strstr(help, "frames = 15") && strstr(help, "int 1..512") &&
              strstr(help, "stride|uniform") && strstr(help, "float (0, 1]") && strstr(help, "0.35|0.5|0.75|1.0|1.3|1.4") &&
              strstr(help, "profile_steps") && strstr(help, "reduce_lr_min_delta = 0.0001"),
          "help lists keys with defaults, types and ranges (%zu bytes)", len);
    free(help);
}

static void test_experiments(void) {
    char path[1024], msg[2048];
    int rc;
    gs_config s15, s30, q;
    config_defaults(&s15);
    snprintf(path, sizeof path, "%s/experiments/seed_15f.ini", test_source_dir());
    rc = config_load(&s15, path) || config_validate(&s15);
    check(rc == 0, "load seed_15f.ini (%s)", err_if(rc));
    check(s15.model.alpha == 1.0 && s15.data.size == 224 && s15.data.frames == 15 &&
              s15.data.sampling == GS_SAMPLING_STRIDE && s15.data.frame_step == 2 &&
              s15.data.normalize == GS_NORMALIZE_UNIT && s15.train.batch_size == 4 && s15.train.learning_rate == 1e-4 &&
              s15.train.epochs == 40 && s15.train.l2 == 1e-4 && s15.model.dropout == 0.25 &&
              s15.model.gru_units == 128 && s15.model.dense_units == 128 && !s15.data.augment_flip &&
              s15.model.bn_time == GS_BN_TIME_KERAS3,
          "seed_15f.ini matches the seed (Keras 3's per-time-step batch norm)");
    check(s15.callbacks.early_stopping && s15.callbacks.early_stopping_monitor == GS_MONITOR_VAL_LOSS &&
              s15.callbacks.early_stopping_patience == 10 && s15.callbacks.restore_best && s15.callbacks.reduce_lr &&
              s15.callbacks.reduce_lr_monitor == GS_MONITOR_VAL_LOSS && s15.callbacks.reduce_lr_factor == 0.5 &&
              s15.callbacks.reduce_lr_patience == 3 && s15.callbacks.reduce_lr_min_delta == 1e-4 &&
              s15.callbacks.min_lr == 1e-7 && s15.callbacks.checkpoint_monitor == GS_MONITOR_VAL_ACCURACY,
          "seed_15f.ini callbacks as in the seed (docs/keras.md)");
    char name[256];
    check(!strcmp(config_run_name(&s15, name, sizeof name), "seed_15f"), "run name derived from file: %s", name);

    config_defaults(&s30);
    snprintf(path, sizeof path, "%s/experiments/seed_30f.ini", test_source_dir());
    rc = config_load(&s30, path) || config_validate(&s30);
    check(rc == 0, "load seed_30f.ini (%s)", err_if(rc));
    int nd = config_diff(&s15, &s30, msg, sizeof msg);
    check(nd == 2 && s30.data.frames == 30 && s30.data.frame_step == 1,
          "seed_30f.ini differs from seed_15f only in frame selection:\n%s", msg);

    config_defaults(&q);
    snprintf(path, sizeof path, "%s/experiments/quickstart.ini", test_source_dir());
    rc = config_load(&q, path) || config_validate(&q);
    check(rc == 0, "load quickstart.ini (%s)", err_if(rc));
    check(!strcmp(q.data.root, "data/synth_prepared") && (q.data.size == 64 || q.data.size == 96) &&
              q.model.alpha == 0.35 && q.data.frames == 8 && q.train.batch_size == 4 && q.train.epochs >= 8 &&
              q.train.epochs <= 15 && q.train.learning_rate == 1e-3,
          "quickstart.ini is CPU-sized");

    // Every shipped experiment (including ones added later) must load and validate.
    snprintf(path, sizeof path, "%s/experiments", test_source_dir());
    DIR *dir = opendir(path);
    int n = 0, bad = 0;
    for (struct dirent *e; dir && (e = readdir(dir));) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".ini")) continue;
        char file[1400];
        snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        gs_config c;
        config_defaults(&c);
        if (config_load(&c, file) || config_validate(&c)) bad++, printf("     %s\n", gs_last_error());
        n++;
    }
    if (dir) closedir(dir);
    check(n >= 3 && !bad, "all %d experiments/*.ini load and validate (%d bad)", n, bad);
}

static void test_set(void) {
    gs_config c;
    config_defaults(&c);
    int rc = config_set(&c, "data.frames=30") | config_set(&c, " train.learning_rate = 3e-4 ") |
             config_set(&c, "model.alpha=0.35") | config_set(&c, "data.root=/tmp/some dir") |
             config_set(&c, "callbacks.reduce_lr=false") | config_set(&c, "runtime.profile_steps=10:5") |
             config_set(&c, "train.seed=18446744073709551615") | config_set(&c, "output.name=\"\"") |
             config_set(&c, "data.sampling=uniform");
    check(rc == 0 && c.data.frames == 30 && c.train.learning_rate == 3e-4 && c.model.alpha == 0.35 &&
              !strcmp(c.data.root, "/tmp/some dir") && !c.callbacks.reduce_lr && c.runtime.profile_start == 10 &&
              c.runtime.profile_count == 5 && c.train.seed == UINT64_MAX && !strcmp(c.output.name, "") &&
              c.data.sampling == GS_SAMPLING_UNIFORM,
          "--set overrides (%s)", err_if(rc));
    char v[64];
    check(config_get(&c, "runtime.profile_steps", v, sizeof v) == 0 && !strcmp(v, "10:5"), "config_get %s", v);
    check(config_get(&c, "runtime.nope", v, sizeof v) == -1 && strstr(gs_last_error(), "unknown config key"),
          "config_get unknown key");
    // A later --set wins over an earlier one and over the file.
    check(config_set(&c, "data.frames=12") == 0 && c.data.frames == 12, "later --set wins");
    check(c.model.bn_time == GS_BN_TIME_KERAS2 && config_set(&c, "model.bn_time=keras3") == 0 &&
              c.model.bn_time == GS_BN_TIME_KERAS3 && config_get(&c, "model.bn_time", v, sizeof v) == 0 &&
              !strcmp(v, "keras3"),
          "model.bn_time: keras2 by default, keras3 set and read back");
    expect_set_error("model.bn_time=keras", "choose one of: keras2, keras3");

    expect_set_error("data.frames=15x", "--set 'data.frames=15x': data.frames = '15x' is not an integer");
    expect_set_error("epochs=5", "name the section too: --set train.epochs=5");
    expect_set_error("trian.epochs=5", "unknown section [trian]; did you mean [train]?");
    expect_set_error("train.epoch=5", "unknown key 'epoch' in [train]; did you mean 'epochs'?");
    expect_set_error("train.lr=1e-3", "unknown key 'lr' in [train]; did you mean 'learning_rate'?");
    expect_set_error("train.bs=8", "did you mean 'batch_size'?");
    expect_set_error("data.crop_scale=0.9", "did you mean 'augment_crop_scale'?");
    expect_set_error("train.epochs", "expected section.key=value");
    expect_set_error("data.include=x.ini", "include works only inside config files");
    expect_set_error("model.alpha=0.6", "0.35, 0.5, 0.75, 1.0, 1.3, 1.4");
    expect_set_error("train.learning_rate=2", "out of range (allowed: float (0, 1])");
}

static void test_includes(void) {
    write_file("base.ini", "; shared base\n[data]\nframes = 20\nsize = 128\n[train]\nepochs = 5\nbatch_size = 8\n");
    // size before the include is overridden by the base; frames and epochs after it win.
    const char *top = write_file("top.ini",
                                 "[data]\nsize = 64\n%include base.ini\n[data]\nframes = 30\n"
                                 "[train]\nepochs = 7\n");
    gs_config c;
    config_defaults(&c);
    int rc = config_load(&c, top);
    check(rc == 0 && c.data.size == 128 && c.data.frames == 30 && c.train.epochs == 7 &&
              c.train.batch_size == 8,
          "%%include order: base overrides earlier lines, later lines override base (%s)", err_if(rc));

    // include = key form inside a section, a relative path from a subdirectory, nested includes.
    GS_ASSERT(fs_mkdir_p(test_path(tmpdir, "sub")) == 0);
    write_file("sub/mid.ini", "[model]\ninclude = ../base.ini\n[model]\ngru_units = 64\n");
    const char *top2 = write_file("top2.ini", "include = sub/mid.ini\n[train]\nbatch_size = 2\n");
    config_defaults(&c);
    rc = config_load(&c, top2);
    check(rc == 0 && c.data.frames == 20 && c.model.gru_units == 64 && c.train.batch_size == 2,
          "include = key, relative to the including file, nested (%s)", err_if(rc));

    // Includes are resolved relative to the origin's directory for in-memory text too.
    char origin[600];
    snprintf(origin, sizeof origin, "%s/checkpoint.h5", tmpdir);
    config_defaults(&c);
    rc = config_load_string(&c, "%include base.ini\n[train]\nepochs = 3\n", origin);
    check(rc == 0 && c.data.frames == 20 &&
              c.train.epochs == 3,
          "config_load_string with include (%s)", err_if(rc));
}

static void test_round_trip(void) {
    gs_config a, b;
    config_defaults(&a);
    char long_name[1100];
    snprintf(long_name, sizeof long_name, "model.pretrained=/%01000d.h5", 3);
    int rc = config_set(&a, "data.root=/data/with space/and\"quote") | config_set(&a, long_name) | config_set(&a, "train.learning_rate=0.3") |
             config_set(&a, "train.l2=1.234567890123e-5") | config_set(&a, "train.seed=12345678901234567") |
             config_set(&a, "output.name=my run") | config_set(&a, "runtime.profile_steps=3:7") |
             config_set(&a, "output.runs_dir=\" padded \"") | config_set(&a, "callbacks.checkpoint_monitor=val_loss") |
             config_set(&a, "data.augment_flip=on") | config_set(&a, "runtime.device=cuda");
    a.train.learning_rate = 0.1 + 0.2;  // not the shortest decimal of anything simple
    a.callbacks.early_stopping_min_delta = 1e20, a.callbacks.reduce_lr_min_delta = 4.9406564584124654e-324;
    check(rc == 0, "round-trip setup (%s)", err_if(rc));
    char *text = config_to_ini(&a);
    config_defaults(&b);
    rc = config_load_string(&b, text, "resolved");
    char diff[2048];
    int nd = config_diff(&a, &b, diff, sizeof diff);
    check(rc == 0 && nd == 0 && b.train.learning_rate == 0.1 + 0.2 &&
              b.callbacks.early_stopping_min_delta == 1e20 && b.callbacks.reduce_lr_min_delta == 4.9406564584124654e-324 && !strcmp(b.output.runs_dir, " padded ") && strlen(b.model.pretrained) == 1004 &&
              !strcmp(b.data.root, "/data/with space/and\"quote") && b.train.seed == 12345678901234567ull,
          "to_ini -> load_string reproduces every key (%s)\n%s", rc ? gs_last_error() : "", diff);
    char *text2 = config_to_ini(&b);
    check(!strcmp(text, text2), "to_ini is stable through a round trip");
    int keys = 0;
    for (const char *p = text; (p = strstr(p, " = ")); p++) keys++;
    check(keys >= 50, "to_ini writes every key (%d)", keys);
    free(text);
    free(text2);
    // Loading a resolved config over anything gives the same config: it is complete.
    config_defaults(&b);
    config_set(&b, "data.frames=99");
    text = config_to_ini(&a);
    check(config_load_string(&b, text, "resolved") == 0 && same_config(&a, &b), "resolved text overrides everything");
    free(text);
    check(!strcmp(b.source, "resolved"), "source records the origin");
}

static void test_validate(void) {
    gs_config c;
    config_defaults(&c);
    c.callbacks.min_lr = 1e-3;
    expect_invalid("min_lr > lr", &c, "callbacks.min_lr (0.001) is above train.learning_rate (0.0001)");
    config_defaults(&c);
    c.data.frames = 512, c.data.frame_step = 64;
    expect_invalid("stride span", &c, "needs clips of 32705 frames");
    c.data.sampling = GS_SAMPLING_UNIFORM;
    check(config_validate(&c) == 0, "uniform sampling ignores frame_step");
    config_defaults(&c);
    c.runtime.cuda_graph = true, c.runtime.device = GS_DEVICE_CPU;
    expect_invalid("cuda_graph on cpu", &c, "runtime.cuda_graph = on needs runtime.device");
    config_defaults(&c);
    c.data.frames = 0;  // set in code, never parsed
    expect_invalid("range of a code-set key", &c, "data.frames = 0 is out of range (allowed: 1..512)");
    config_defaults(&c);
    c.model.alpha = 0.6;
    expect_invalid("alpha set in code", &c, "not a MobileNetV2 width");
}

static void test_errors(void) {
    expect_file_error("unknown section", "e1.ini", "[data]\nframes = 15\n[trian]\nepochs = 3\n", 3,
                      "unknown section [trian]; did you mean [train]? valid sections: [data] [model] [train] "
                      "[callbacks] [output] [runtime]");
    expect_file_error("empty unknown section", "e2.ini", "[data]\n\n[Output]\n", 3,
                      "unknown section [Output]; did you mean [output]?");
    expect_file_error("unknown key", "e3.ini", "[data]\nframe = 15\n", 2,
                      "unknown key 'frame' in [data]; did you mean 'frames'? valid keys: root, frames, sampling");
    expect_file_error("key in wrong section", "e4.ini", "[data]\nlearning_rate = 1e-3\n", 2,
                      "key 'learning_rate' belongs in [train], not [data]");
    expect_file_error("trailing junk int", "e5.ini", "[data]\nframes = 15x\n", 2,
                      "data.frames = '15x' is not an integer (write a whole number, int 1..512)");
    expect_file_error("bad float", "e6.ini", "; c\n[train]\nlearning_rate = 1e-4.5\n", 3,
                      "train.learning_rate = '1e-4.5' is not a number");
    expect_file_error("empty int", "e7.ini", "[data]\nframes =\n", 2, "data.frames = '' is not an integer");
    expect_file_error("int out of range", "e8.ini", "[data]\n\nframes = 0\n", 3,
                      "data.frames = 0 is out of range (allowed: int 1..512)");
    expect_file_error("huge int", "e9.ini", "[train]\nepochs = 99999999999\n", 2,
                      "train.epochs = 99999999999 is out of range (allowed: int 1..100000)");
    expect_file_error("float out of range", "e10.ini", "[model]\ndropout = 1\n", 2,
                      "model.dropout = 1 is out of range (allowed: float [0, 1))");
    expect_file_error("enum", "e11.ini", "[data]\nsampling = strided\n", 2,
                      "data.sampling = 'strided' is not a valid choice (choose one of: stride, uniform); did you "
                      "mean 'stride'?");
    expect_file_error("alpha not a width", "e12.ini", "[model]\nalpha = 0.6\n", 2,
                      "model.alpha = 0.6 is not a MobileNetV2 width (choose one of 0.35, 0.5, 0.75, 1.0, 1.3, 1.4)");
    expect_file_error("switch", "e13.ini", "[data]\ncache = yes\n", 2,
                      "data.cache = 'yes' is not a switch (use on or off; true/false also accepted)");
    expect_file_error("duplicate key", "e14.ini", "[data]\nframes = 15\nsize = 96\n[data]\nframes = 16\n", 5,
                      "duplicate key data.frames (already set on line 2 of this file)");
    expect_file_error("odd size", "e15.ini", "[data]\nsize = 225\n", 2, "data.size = 225 must be even");
    expect_file_error("hash comment", "e16.ini", "[data]\nframes = 15 # fifteen\n", 2,
                      "(inline comments start with ' ;', not '#')");
    expect_file_error("negative seed", "e17.ini", "[train]\nseed = -1\n", 2,
                      "train.seed = '-1' is not an unsigned 64-bit integer");
    expect_file_error("profile steps", "e18.ini", "[runtime]\nprofile_steps = 10\n", 2,
                      "runtime.profile_steps = '10' is not START:COUNT");
    expect_file_error("name with slash", "e19.ini", "[output]\nname = a/b\n", 2, "must be a plain name");
    expect_file_error("key outside section", "e20.ini", "; top\nframes = 15\n[data]\n", 2,
                      "key 'frames' is outside any section; put it under [data]");
    expect_file_error("no '='", "e21.ini", "[data]\nframes 15\n", 2, "expected 'key = value', '[section]'");
    expect_file_error("no ']'", "e22.ini", "[data\nframes = 15\n", 1, "section header '[data' has no closing ']'");
    expect_file_error("unknown directive", "e23.ini", "%import base.ini\n", 1,
                      "unknown directive '%import' (the only one is %include FILE)");
    expect_file_error("missing include", "e24.ini", "[data]\nframes = 15\n%include nothere.ini\n", 3,
                      "cannot open included file 'nothere.ini'");
    expect_file_error("self include", "self.ini", "[data]\n%include self.ini\n", 2, "include cycle: ");
    {
        write_file("cyc_a.ini", "%include cyc_b.ini\n");
        write_file("cyc_b.ini", "[data]\nframes = 3\ninclude = cyc_a.ini\n");
        const char *top = write_file("cyc_top.ini", "%include cyc_a.ini\n");
        gs_config c;
        config_defaults(&c);
        int rc = config_load(&c, top);
        char want[1200];
        snprintf(want, sizeof want, "%s/cyc_b.ini:3: include cycle: %s -> %s/cyc_a.ini -> %s/cyc_b.ini -> %s/cyc_a.ini",
                 tmpdir, top, tmpdir, tmpdir, tmpdir);
        check(rc == -1 && !strncmp(gs_last_error(), want, strlen(want)), "include cycle a -> b -> a -> %s",
              gs_last_error());
    }
    write_file("bad_base.ini", "[data]\nframes = 15\nsize = big\n");
    {
        // The message is located in the included file and says where it was included from.
        const char *top = write_file("e26.ini", "[model]\n\n%include bad_base.ini\n");
        gs_config c;
        config_defaults(&c);
        int rc = config_load(&c, top);
        char want[1200];
        snprintf(want, sizeof want, "%s/bad_base.ini:3: data.size = 'big' is not an integer", tmpdir);
        check(rc == -1 && !strncmp(gs_last_error(), want, strlen(want)) && strstr(gs_last_error(), "(included from ") &&
                  strstr(gs_last_error(), "e26.ini:3)"),
              "error inside an include names both files -> %s", gs_last_error());
    }
    static char longline[8000];
    snprintf(longline, sizeof longline, "[data]\nroot = /%07000d\n", 0);
    expect_file_error("line too long", "e27.ini", longline, 2, "line is 7008 characters long; the limit is 4095");
    snprintf(longline, sizeof longline, "[data]\nroot = /%01100d\n", 0);
    expect_file_error("string too long", "e29.ini", longline, 2, "data.root is 1101 characters long; the limit is 1023");
    expect_file_error("error after error", "e28.ini", "[data]\nframes = x\nsize = y\n", 2, "'x' is not an integer");

    // Not errors: indentation is not a continuation, CRLF and a BOM are fine, ':' separates too.
    const char *ok = write_file("ok.ini", "\xEF\xBB\xBF[data]\r\n  frames = 11 ; eleven\r\n\tsize: 96\r\n");
    gs_config c;
    config_defaults(&c);
    int rc = config_load(&c, ok);
    check(rc == 0 && c.data.frames == 11 && c.data.size == 96, "indentation, inline ';' comment, CRLF, BOM, ':' (%s)",
          err_if(rc));
    // Lines longer than inih's 200-byte buffer still load whole (a long path, a long include).
    char root[700], text[1500];
    snprintf(root, sizeof root, "/very/long/%0600d/path", 7);
    snprintf(text, sizeof text, "[data]\nroot = %s ; a comment\nframes = 12\n", root);
    write_file("long.ini", text);
    char incdir[1024], incname[400];
    snprintf(incname, sizeof incname, "d%0250d", 0);
    snprintf(incdir, sizeof incdir, "%s/%s", tmpdir, incname);
    GS_ASSERT(mkdir(incdir, 0755) == 0);
    snprintf(text, sizeof text, "%s/../long.ini", incname);
    char inc[1600];
    snprintf(inc, sizeof inc, "[model]\n%%include %s\n", text);
    const char *top = write_file("long_top.ini", inc);
    config_defaults(&c);
    rc = config_load(&c, top);
    check(rc == 0 && !strcmp(c.data.root, root) && c.data.frames == 12, "long lines and long include paths (%s)",
          err_if(rc));
    expect_file_error("unclosed quote", "e_quote.ini", "[data]\nroot = \"data/raw\n", 2,
                      "data.root = \"data/raw has an unclosed quote");
    expect_file_error("unclosed quote include", "e_qinc.ini", "include = \"x.ini\n", 1, "has an unclosed quote");
    check(config_load(&c, tmpdir) == -1 && strstr(gs_last_error(), "is a directory"), "directory as config -> %s",
          gs_last_error());
    check(config_load(&c, "/nonexistent/x.ini") == -1 && strstr(gs_last_error(), "/nonexistent/x.ini: cannot open"),
          "missing config file -> %s", gs_last_error());
}

int main(void) {
    tmpdir = test_make_tmpdir("test_config");
    test_defaults();
    test_experiments();
    test_set();
    test_includes();
    test_round_trip();
    test_validate();
    test_errors();
    return test_finish();
}
