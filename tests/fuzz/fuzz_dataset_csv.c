// libFuzzer target: raw data set discovery with a CSV index (raw_dataset_scan, `gesture prepare`'s
// first step). The input up to its first NUL byte is RAW/train.csv; the rest, if any, RAW/val.csv.
// RAW/train/ holds a few clip folders (a, b/frame_0001.png) so some lines name existing folders.
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzzutil.h"
#include "gesture/prepare.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int init;
    static char root[4096];
    if (!init) {
        init = 1;
        fuzz_write("raw/.keep", NULL, 0);
        fuzz_write("raw/train/.keep", NULL, 0);
        fuzz_write("raw/train/a/.keep", NULL, 0);
        fuzz_write("raw/train/b/frame_0001.png", (const uint8_t *)"x", 1);  // not a PNG: scan only lists
        strcpy(root, fuzz_dir());
        strcat(root, "/raw");
    }
    const uint8_t *nul = memchr(data, 0, size);
    size_t n_train = nul ? (size_t)(nul - data) : size;
    fuzz_write("raw/train.csv", data, n_train);
    char val[4200];
    snprintf(val, sizeof val, "%s/val.csv", root);
    if (nul) fuzz_write("raw/val.csv", nul + 1, size - n_train - 1);
    else unlink(val);
    gs_raw_dataset raw;
    if (raw_dataset_scan(&raw, root) == 0) raw_dataset_free(&raw);
    return 0;
}
