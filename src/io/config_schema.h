// Internal to the config module: the key table (one row per key: type, default, range, help)
// and the per-type parse / check / format functions that config.c builds files, --set,
// validation and help on.
#ifndef GESTURE_CONFIG_SCHEMA_H
#define GESTURE_CONFIG_SCHEMA_H

#include <stddef.h>

#include "gesture/config.h"

typedef enum {
    CK_INT,    // int, [lo, hi]
    CK_U64,    // uint64_t, any
    CK_FLOAT,  // double, lo/hi with open/closed ends
    CK_BOOL,   // bool, on|off (true|false accepted)
    CK_ENUM,   // int-sized enum, index into choices
    CK_STR,    // char[GS_CONFIG_STR_MAX]
    CK_STEPS,  // "START:COUNT" or empty -> two ints at offset, offset2
} config_kind;

enum {
    CF_LO_OPEN = 1,  // float range excludes lo
    CF_HI_OPEN = 2,  // float range excludes hi
    CF_EVEN = 4,     // int must be even
    CF_WIDTHS = 8,   // float must be one of the MobileNetV2 widths
    CF_PATH = 16,    // string is a path (help text only)
    CF_NAME = 32,    // string is a plain file name: no '/', not . or ..
};

typedef struct {
    const char *section;
    const char *name;
    config_kind kind;
    size_t offset;   // of the field in gs_config
    size_t offset2;  // CK_STEPS: the count field
    const char *def;  // default, as INI text (parsed by config_defaults, shown by help)
    double lo, hi;
    unsigned flags;
    const char *const *choices;  // CK_ENUM: NULL-terminated, index = enum value
    const char *help;
} config_key;

extern const config_key CONFIG_KEYS[];
extern const int CONFIG_NKEYS;
extern const char *const CONFIG_SECTIONS[];  // NULL-terminated, in file order
extern const int CONFIG_NSECTIONS;

// Key by section and name, or NULL.
const config_key *config_key_find(const char *section, const char *name);
int config_section_index(const char *section);  // -1 if unknown
// Parse `value` (already stripped of surrounding whitespace) and store it in c. On error
// returns -1 with a message (no location) in msg, e.g. "data.frames = '15x' is not an integer".
int config_key_parse(const config_key *k, gs_config *c, const char *value, char *msg, size_t n);
// Check the stored value against the key's range (values set in code skip parsing).
int config_key_check(const config_key *k, const gs_config *c, char *msg, size_t n);
// The stored value as INI text (strings quoted).
void config_key_format(const config_key *k, const gs_config *c, char *buf, size_t n);
// Type and allowed values, e.g. "int 1..512", "float (0, 1]", "stride|uniform".
void config_key_describe(const config_key *k, char *buf, size_t n);
// The name among `names` (n of them) that `word` most likely means -- its initials ("lr" for
// learning_rate), its start, a part of it, else a close typo; NULL when none is likely.
const char *config_closest(const char *word, const char *const *names, int n);

#endif
