// Dataset discovery: natural sort, label cleaning, the CSV-index layout (header, CRLF, blanks,
// nested train/train/), the class-folder layout, per-clip validation, stratified seeded split
// assignment, and reading the prepared layout back (class order, clip order, clip folders).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gesture/dataset.h"
#include "gesture/errors.h"
#include "gesture/fsutil.h"
#include "gesture/png.h"
#include "gesture/prepare.h"
#include "testutil.h"

static const char *tmp;

// A clip folder with n frames named like the Kaggle set ("..._00001.png") or unpadded.
static void put_clip(const char *dir, int n, int padded) {
    uint8_t px[8 * 6 * 3];
    for (int i = 0; i < (int)sizeof px; i++) px[i] = (uint8_t)(i * 7);
    for (int f = 1; f <= n; f++) {
        char p[1400];
        if (padded) snprintf(p, sizeof p, "%s/WIN_Pro_%05d.png", dir, f);
        else snprintf(p, sizeof p, "%s/frame%d.png", dir, f);
        if (gs_png_write_rgb8(p, px, 8, 6, 1) != 0) gs_fatal("%s", gs_last_error());
    }
}

static void test_natural_and_labels(void) {
    const char *sorted[] = {"frame1.png", "frame2.png", "frame10.png", "frame010b.png", "frame10b.png", "frame100.png", "z"};
    int ok = 1;
    for (int i = 0; i + 1 < 7; i++) ok &= natural_compare(sorted[i], sorted[i + 1]) < 0 && natural_compare(sorted[i + 1], sorted[i]) > 0;
    check(ok, "natural order: frame1 < frame2 < frame10 < frame010b < frame10b < frame100 < z");
    check(natural_compare("a01", "a1") != 0 && natural_compare("abc", "abc") == 0, "natural order is total");
    char out[64];
    label_clean(out, sizeof out, " Left_Swipe_new \r");
    check(!strcmp(out, "Left_Swipe"), "label_clean strips _new and blanks: '%s'", out);
    label_clean(out, sizeof out, "Stop");
    check(!strcmp(out, "Stop"), "label_clean keeps plain names");
}

static void test_csv_layout(void) {
    char raw[600], p[1200];
    snprintf(raw, sizeof raw, "%s/csv", tmp);
    const char *cls[] = {"Thumbs_Up_new", "Left_Swipe_new", "Stop_new"};
    const int idx[] = {4, 0, 2};
    char train_csv[4096] = "folder;label;index\r\n", val_csv[4096] = "\n";
    for (int c = 0; c < 3; c++)
        for (int k = 0; k < 6; k++) {
            char folder[128], line[256];
            snprintf(folder, sizeof folder, "WIN_%d_%d_%s", c, k, cls[c]);
            int val = k >= 5;
            // train frames nested as in the Kaggle archive (train/train/<folder>), val not.
            if (val) snprintf(p, sizeof p, "%s/val/%s", raw, folder);
            else snprintf(p, sizeof p, "%s/train/train/%s", raw, folder);
            GS_ASSERT(fs_mkdir_p(p) == 0);
            put_clip(p, 5 + k % 2, k % 2);
            snprintf(line, sizeof line, "%s;%s;%d  \r\n\n", folder, cls[c], idx[c]);
            strcat(val ? val_csv : train_csv, line);
        }
    snprintf(p, sizeof p, "%s/train.csv", raw);
    GS_ASSERT(fs_write_text(p, train_csv) == 0);
    snprintf(p, sizeof p, "%s/val.csv", raw);
    GS_ASSERT(fs_write_text(p, val_csv) == 0);

    gs_raw_dataset r;
    int rc = raw_dataset_scan(&r, raw);
    check(rc == 0, "CSV layout scans (header, CRLF, blank lines, trailing blanks): %s", rc ? gs_last_error() : "ok");
    if (rc) return;
    check(r.layout == GS_LAYOUT_CSV && r.n_classes == 3 && !strcmp(r.classes[0], "Left_Swipe") &&
              !strcmp(r.classes[1], "Stop") && !strcmp(r.classes[2], "Thumbs_Up"),
          "classes sorted, _new removed: %s %s %s", r.classes[0], r.classes[1], r.classes[2]);
    int n_train = 0, n_val = 0, frames_ok = 1, nested = 0;
    for (int i = 0; i < r.n_clips; i++) {
        n_train += !strcmp(r.clips[i].split, "train");
        n_val += !strcmp(r.clips[i].split, "val");
        frames_ok &= r.clips[i].problem == NULL && r.clips[i].n_frames >= 5;
        nested += r.clips[i].dir && strstr(r.clips[i].dir, "train/train/") != NULL;
        if (r.clips[i].n_frames == 6 && !strstr(r.clips[i].frames[0], "_00001")) frames_ok = 0;
    }
    check(n_train == 15 && n_val == 3 && nested == 15 && frames_ok, "15 train (nested train/train) + 3 val clips with frames");
    // Unpadded names in natural order: frame1..frame5, frame10 would come last.
    int order_ok = 1;
    for (int i = 0; i < r.n_clips; i++)
        if (r.clips[i].n_frames == 5) order_ok &= strstr(r.clips[i].frames[1], "frame2.png") != NULL;
    check(order_ok, "frames in natural order");
    check(raw_dataset_validate(&r, 6, 1) == 9, "validation: clips with 5 frames are bad with --min-frames 6");
    int first_bad = 0;
    while (!r.clips[first_bad].problem) first_bad++;
    check(strstr(r.clips[first_bad].problem, "too few frames (5, need at least 6)") != NULL, "problem names the clip: %s",
          r.clips[first_bad].problem);
    raw_dataset_free(&r);
    raw_dataset_scan(&r, raw);
    check(raw_dataset_validate(&r, 1, 0) == 0 && r.clips[0].w == 8 && r.clips[0].h == 6, "all clips valid; frame size read");

    // Seed recipe: val kept, 4 train clips per class to test (here 2: --test-per-class 2).
    gs_prepare_opts o = prepare_default_opts();
    o.test_per_class = 2;
    int dest[64], dest2[64], counts[3][3] = {{0}};
    check(prepare_assign_splits(dest, &r, &o) == 0, "seed split assignment");
    for (int i = 0; i < r.n_clips; i++) counts[r.clips[i].label][dest[i]]++;
    int strat = 1;
    for (int c = 0; c < 3; c++) strat &= counts[c][0] == 3 && counts[c][1] == 1 && counts[c][2] == 2;
    check(strat, "stratified: 3 train / 1 val / 2 test per class");
    prepare_assign_splits(dest2, &r, &o);
    check(!memcmp(dest, dest2, sizeof(int) * (size_t)r.n_clips), "same seed, same split");
    int differs = 0;
    for (uint64_t s = 1; s < 6 && !differs; s++) {
        o.seed = s;
        prepare_assign_splits(dest2, &r, &o);
        differs = memcmp(dest, dest2, sizeof(int) * (size_t)r.n_clips) != 0;
    }
    check(differs, "another seed moves other clips");
    o.test_per_class = 5;
    check(prepare_assign_splits(dest, &r, &o) == -1 && strstr(gs_last_error(), "cannot move 5 to test"),
          "too few train clips for the recipe: %s", gs_last_error());
    o.mode = GS_SPLIT_FRACTION;
    o.val_frac = 0.34;
    o.test_frac = 0.17;
    memset(counts, 0, sizeof counts);
    check(prepare_assign_splits(dest, &r, &o) == 0, "fraction split assignment");
    for (int i = 0; i < r.n_clips; i++) counts[r.clips[i].label][dest[i]]++;
    strat = 1;
    for (int c = 0; c < 3; c++) strat &= counts[c][0] == 3 && counts[c][1] == 2 && counts[c][2] == 1;
    check(strat, "fractions 0.34/0.17 of 6 clips per class: 3 train / 2 val / 1 test each");
    raw_dataset_free(&r);

    // A val label never seen in train is a clip problem ("unknown label"), not a crash.
    snprintf(p, sizeof p, "%s/val.csv", raw);
    GS_ASSERT(fs_write_text(p, "WIN_0_5_Thumbs_Up_new;Wave_new;9\n") == 0);
    rc = raw_dataset_scan(&r, raw);
    const char *problem = rc == 0 ? r.clips[r.n_clips - 1].problem : NULL;
    check(problem && strstr(problem, "unknown label 'Wave_new'"), "unknown label recorded: %s", problem ? problem : gs_last_error());
    raw_dataset_free(&r);
}

static void test_folder_layout_and_prepared(void) {
    char raw[600], p[1200];
    snprintf(raw, sizeof raw, "%s/folders", tmp);
    const char *cls[] = {"Stop", "Left_Swipe_new", "Thumbs_Down"};
    for (int s = 0; s < 2; s++)
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < (s ? 1 : 3); k++) {
                snprintf(p, sizeof p, "%s/%s/%s/sample%d", raw, s ? "val" : "train", cls[c], 10 - k);
                GS_ASSERT(fs_mkdir_p(p) == 0);
                put_clip(p, 3, 0);
            }
    gs_raw_dataset r;
    int rc = raw_dataset_scan(&r, raw);
    check(rc == 0 && r.layout == GS_LAYOUT_FOLDERS && r.n_classes == 3 && r.n_clips == 12 &&
              !strcmp(r.classes[0], "Left_Swipe"),
          "class-folder layout: 3 classes (Left_Swipe first), 12 clips: %s", rc ? gs_last_error() : "ok");
    check(rc == 0 && !strcmp(r.clips[0].name, "sample8"), "sample folders in natural order");
    if (rc == 0) raw_dataset_free(&r);

    // Prepare it and read the prepared layout back.
    char out[600];
    snprintf(out, sizeof out, "%s/prepared", tmp);
    gs_prepare_opts o = prepare_default_opts();
    o.test_per_class = 1;
    o.quiet = 1;
    rc = prepare_run(raw, out, &o);
    check(rc == 0, "prepare_run on class folders: %s", rc ? gs_last_error() : "ok");
    gs_dataset ds;
    rc = dataset_load_prepared(&ds, out, "test");
    check(rc == 0 && ds.n_classes == 3 && ds.n_clips == 3 && ds.clips[0].label == 0 && ds.clips[2].label == 2 &&
              ds.clips[0].n_frames == 3 && strstr(ds.clips[0].frames[2], "frame_0002.png"),
          "prepared test split: 3 classes, 1 clip each, frame_NNNN.png links: %s", rc ? gs_last_error() : "ok");
    if (rc == 0) {
        check(!strcmp(ds.classes[1], "Stop") && !strcmp(ds.split, "test"), "class names in label order");
        int counts[3];
        dataset_class_counts(counts, &ds);
        check(counts[0] == 1 && counts[1] == 1 && counts[2] == 1, "dataset_class_counts");
        dataset_free(&ds);
    }
    // A folder named like a frame in a prepared clip: an error naming clip and entry, or with
    // on_bad_clip = skip that clip left out (never a clip silently one frame shorter).
    snprintf(p, sizeof p, "%s/test/Stop", out);
    char **stop_clips = NULL;
    int n_stop = 0;
    check(dataset_list_dirs(&stop_clips, &n_stop, p) == 0 && n_stop == 1, "one Stop test clip");
    if (n_stop == 1) {
        snprintf(p, sizeof p, "%s/test/Stop/%s/0005.png", out, stop_clips[0]);
        mkdir(p, 0777);
        check(dataset_load_prepared(&ds, out, "test") == -1 && strstr(gs_last_error(), stop_clips[0]) &&
                  strstr(gs_last_error(), "frame 0005.png is a folder"),
              "folder named like a frame: %s", gs_last_error());
        rc = dataset_load_prepared_ex(&ds, out, "test", GS_BAD_CLIP_SKIP);
        check(rc == 0 && ds.n_clips == 2 && ds.clips[1].label == 2, "skip: the bad clip is left out: %s",
              rc ? gs_last_error() : "ok");
        if (rc == 0) dataset_free(&ds);
        rmdir(p);
    }
    dataset_free_list(stop_clips, n_stop);
    check(prepare_run(raw, out, &o) == -1 && strstr(gs_last_error(), "not empty"), "prepare refuses a non-empty OUT");
    gs_clip clip;
    snprintf(p, sizeof p, "%s/train/Stop/sample10", raw);
    rc = dataset_load_clip_dir(&clip, p);
    check(rc == 0 && clip.n_frames == 3 && !strcmp(clip.name, "sample10") && clip.label == -1, "dataset_load_clip_dir");
    if (rc == 0) clip_free(&clip);
    snprintf(p, sizeof p, "%s/nope", raw);
    check(dataset_load_clip_dir(&clip, p) == -1 && strstr(gs_last_error(), "clip folder missing"), "missing clip folder: %s",
          gs_last_error());
    snprintf(p, sizeof p, "%s/train", raw);
    check(dataset_load_clip_dir(&clip, p) == -1 && strstr(gs_last_error(), "no PNG or JPEG frames"), "folder without frames: %s",
          gs_last_error());

    // An empty class folder is an error naming it.
    snprintf(p, sizeof p, "%s/train/Empty_Class", raw);
    mkdir(p, 0777);
    check(raw_dataset_scan(&r, raw) == -1 && strstr(gs_last_error(), "Empty_Class: empty class"), "empty class: %s",
          gs_last_error());
}

// A UTF-8 byte-order mark (Excel's "CSV UTF-8") before the first line is not part of the first
// folder's name.
static void test_csv_bom(void) {
    char raw[600], p[1200];
    snprintf(raw, sizeof raw, "%s/bom", tmp);
    const char *names[2] = {"clipA", "clipB"};
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/train/%s", raw, names[i]);
        GS_ASSERT(fs_mkdir_p(p) == 0);
        put_clip(p, 3, 1);
    }
    snprintf(p, sizeof p, "%s/train.csv", raw);
    GS_ASSERT(fs_write_text(p, "\xEF\xBB\xBF" "clipA;Stop;0\nclipB;Go;1\n") == 0);
    gs_raw_dataset r;
    int rc = raw_dataset_scan(&r, raw);
    check(rc == 0 && r.n_clips == 2 && !strcmp(r.clips[0].name, "clipA"), "BOM stripped from train.csv: %s",
          rc ? gs_last_error() : r.clips[0].name);
    if (rc == 0) raw_dataset_free(&r);
}

int main(void) {
    tmp = test_make_tmpdir("test_dataset");
    test_csv_bom();
    test_natural_and_labels();
    test_csv_layout();
    test_folder_layout_and_prepared();
    return test_finish();
}
