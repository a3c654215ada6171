// libFuzzer target: Keras import, what `gesture import-keras` reads before building a model:
// keras_file_kind, then per kind keras_infer_arch (.keras zip: config.json, metadata.json,
// model.weights.h5 shapes), keras_weights_arch (.weights.h5), keras_read_model_info (legacy
// whole-model .h5: model_config, layer and weight names, optimizer_weights) or keras_backbone_h5_alpha
// (legacy MobileNetV2 / gesture-backbone HDF5). Loading the weights into a model is left out (a full
// MobileNetV2 per exec). The input is written as in.keras (the zip) or in.h5 by its first bytes.
//
// libhdf5 1.10 itself crashes on some corrupt files (H5HG_read under H5Aread of a vlen string: an
// ASan memcpy-param-overlap or SEGV, or a hang; fuzzing hits it within 20 s-3 min). This target calls
// the public readers only and never forks on its own: gesture's HDF5 open path reads every vlen
// string in a forked child first (src/io/h5util.c), which turns those inputs into a "damaged"
// error here (fuzzutil.c keeps the child from saving a crash); one fork per input, hence 6-20 execs/s.
#include <string.h>

#include "fuzzutil.h"
#include "gesture/keras.h"
#include "gesture/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int zip = size >= 2 && data[0] == 'P' && data[1] == 'K';
    const char *path = fuzz_write(zip ? "in.keras" : "in.h5", data, size);
    gs_model_arch arch;
    memset(&arch, 0, sizeof arch);
    float alpha;
    switch (keras_file_kind(path)) {
    case GS_KERAS_ARCHIVE: {
        gs_keras_info info;
        fuzz_note(keras_infer_arch(&arch, &info, path));
        break;
    }
    case GS_KERAS_WEIGHTS: fuzz_note(keras_weights_arch(&arch, path)); break;
    case GS_KERAS_LEGACY_MODEL:
    case GS_KERAS_LEGACY_WEIGHTS: {
        gs_keras_info info;
        fuzz_note(keras_read_model_info(&arch, &info, path));
        break;
    }
    case GS_KERAS_LEGACY:
    case GS_KERAS_BACKBONE: fuzz_note(keras_backbone_h5_alpha(&alpha, path)); break;
    default: fuzz_note(-1); break;
    }
    return 0;
}
