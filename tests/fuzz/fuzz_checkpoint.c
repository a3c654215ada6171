// libFuzzer target: checkpoint load, the readers `gesture eval` / `predict` / `train --resume` call
// first (checkpoint_read_config, config parse + validate, checkpoint_read_classes; the same order as
// cli_inference_model_load). The weights load (checkpoint_load_weights_only) needs a full
// MobileNetV2 model per input and is left out: it is too slow per exec to fuzz usefully.
//
// libhdf5 1.10 itself crashes on some corrupt files (H5HG_read under H5Aread of a vlen string: an
// ASan memcpy-param-overlap or SEGV, or a hang; fuzzing hits it within 20 s-3 min). This target calls
// the public readers only and never forks on its own: gesture's HDF5 open path reads every vlen
// string in a forked child first (src/io/h5util.c), which turns those inputs into a "damaged"
// error here (fuzzutil.c keeps the child from saving a crash); one fork per input, hence 6-20 execs/s.
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
