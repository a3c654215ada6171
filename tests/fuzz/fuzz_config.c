// libFuzzer target: INI config (config_load_string, the parser behind config_load and the INI stored
// in checkpoints), then what commands do with a loaded config: validate, re-emit, reload, diff.
#include <stdlib.h>
#include <string.h>

#include "gesture/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    gs_config c;
    config_defaults(&c);
    if (config_load_string(&c, text, "fuzz.ini") == 0) {
        config_validate(&c);
        char *ini = config_to_ini(&c);
        gs_config again;
        config_defaults(&again);
        if (config_load_string(&again, ini, "emitted.ini") != 0) abort();  // emitted INI must load back
        char diff[4096], name[256];
        config_diff(&c, &again, diff, sizeof diff);
        config_run_name(&c, name, sizeof name);
        free(ini);
    }
    free(text);
    return 0;
}
