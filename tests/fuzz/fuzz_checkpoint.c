// libFuzzer target: checkpoint load, the readers `gesture eval` / `predict` / `train --resume` call
// first (checkpoint_read_config, config parse + validate, checkpoint_read_classes; the same order as
// cli_inference_model_load). The weights load (checkpoint_load_weights_only) needs a full
// MobileNetV2 model per input and is left out: it is too slow per exec to fuzz usefully.
//
// The HDF5 library itself can crash on corrupt files (global heap under H5Aread of a vlen string);
// gesture defends against that inside its public open path, so this target calls the public
// functions only and never forks on its own (scripts/test.sh replays this corpus, no new inputs).
#include <stdlib.h>

#include "fuzzutil.h"
#include "gesture/checkpoint.h"
#include "gesture/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write("ckpt.h5", data, size);
    char *ini = NULL;
    if (fuzz_note(checkpoint_read_config(path, &ini)) != 0) return 0;
    gs_config cfg;
    config_defaults(&cfg);
    int rc = fuzz_note(config_load_string(&cfg, ini, path));
    free(ini);
    if (rc != 0 || fuzz_note(config_validate(&cfg)) != 0) return 0;
    char **classes = NULL;
    int n = 0;
    if (fuzz_note(checkpoint_read_classes(path, &classes, &n)) == 0) checkpoint_free_classes(classes, n);
    return 0;
}
