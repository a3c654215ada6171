// The config going out: defaults, resolved INI text, --help-config (as text, and as the Markdown
// of docs/config.md), whole-config validation, per-key access and diffs. Everything iterates the
// schema table, so a new key needs no code here.
#include <stdbool.h>
#include <string.h>

#include "config_schema.h"
#include "gesture/config.h"
#include "gesture/errors.h"

void config_defaults(gs_config *c) {
    memset(c, 0, sizeof *c);
    char msg[512];
    for (int i = 0; i < CONFIG_NKEYS; i++)
        if (config_key_parse(&CONFIG_KEYS[i], c, CONFIG_KEYS[i].def, msg, sizeof msg))
            gs_fatal("config schema: bad default: %s", msg);
}

// Longest formatted value: a quoted string plus slack.
#define VALUE_MAX (GS_CONFIG_STR_MAX + 64)

char *config_to_ini(const gs_config *c) {
    size_t cap = (size_t)CONFIG_NKEYS * (VALUE_MAX + 64) + 1024, len = 0;
    char *out = gs_malloc(cap), value[VALUE_MAX];
    len += (size_t)snprintf(out + len, cap - len,
                            "; gesture configuration, fully resolved: every key, defaults included.\n"
                            "; `gesture train --help-config` explains each key.\n");
    for (int s = 0; CONFIG_SECTIONS[s]; s++) {
        len += (size_t)snprintf(out + len, cap - len, "\n[%s]\n", CONFIG_SECTIONS[s]);
        for (int i = 0; i < CONFIG_NKEYS; i++) {
            const config_key *k = &CONFIG_KEYS[i];
            if (strcmp(k->section, CONFIG_SECTIONS[s])) continue;
            config_key_format(k, c, value, sizeof value);
            len += (size_t)snprintf(out + len, cap - len, "%s = %s\n", k->name, value);
        }
    }
    GS_ASSERT(len < cap);
    return out;
}

static const char HELP_INTRO[] =
    "Configuration keys. Files are INI: [section], key = value, comments start with ';' or '#'\n"
    "(inline: whitespace then ';'). Switches are on|off (true|false also accepted); strings may be\n"
    "\"quoted\". `%include FILE` or `include = FILE` loads FILE (relative to the including file) at\n"
    "that point; later lines override earlier ones. Override any key with --set section.key=value.\n";

// The page docs/config.md is: this text, HELP_INTRO, then one table per section.
static const char MD_HEAD[] =
    "# Configuration reference\n\n"
    "Generated from the key table in `src/io/config_schema.c` by `gesture train --help-config=markdown`;\n"
    "do not edit by hand. After changing a key, regenerate it with\n"
    "`build/gesture train --help-config=markdown > docs/config.md` (`tests/test_config_doc.sh` fails\n"
    "while this page and the binary disagree). `gesture train --help-config` prints the same as text.\n\n";

// Checks across keys, made by config_validate below once every file and --set is applied.
static const char MD_CROSS[] =
    "\nBesides each key's own range, a config is refused when `callbacks.min_lr` is above\n"
    "`train.learning_rate`, when stride sampling needs clips longer than 1024 frames\n"
    "(`(data.frames - 1) * data.frame_step + 1 + data.augment_temporal_jitter`), or when\n"
    "`runtime.cuda_graph = on` is combined with `runtime.device = cpu`.\n"
    "`experiments/seed_15f.ini` is the seed notebook's configuration, every key written out (its\n"
    "ImageNet weights are not shipped: set `model.pretrained`); a run directory's `config.ini` holds\n"
    "the fully resolved config of that run.\n";

// A Markdown table cell: '|' is escaped everywhere (GFM splits cells on it, inside code spans
// too); outside `code` spans '<' and '*' are escaped so no text reads as an HTML tag or emphasis.
static void md_cell(FILE *f, const char *s) {
    int code = 0;
    for (; *s; s++) {
        if (*s == '`') code = !code;
        if (*s == '|') fputs("\\|", f);
        else if (!code && *s == '<') fputs("&lt;", f);
        else if (!code && *s == '*') fputs("\\*", f);
        else fputc(*s, f);
    }
}

static void md_code_cell(FILE *f, const char *s) {
    if (!*s) {
        fputs("(empty)", f);
        return;
    }
    fputc('`', f);
    md_cell(f, s);
    fputc('`', f);
}

// Every key with its type, default (the schema's, as INI text), range and help; text or Markdown.
static void print_help(FILE *f, bool markdown) {
    char desc[160], def[VALUE_MAX], head[VALUE_MAX + 64];
    gs_config d;
    config_defaults(&d);
    if (markdown) fputs(MD_HEAD, f);
    fputs(HELP_INTRO, f);
    if (markdown) fputs(MD_CROSS, f);
    for (int s = 0; CONFIG_SECTIONS[s]; s++) {
        if (markdown)
            fprintf(f, "\n## [%s]\n\n| key | type / allowed | default | meaning |\n|---|---|---|---|\n",
                    CONFIG_SECTIONS[s]);
        else
            fprintf(f, "\n[%s]\n", CONFIG_SECTIONS[s]);
        for (int i = 0; i < CONFIG_NKEYS; i++) {
            const config_key *k = &CONFIG_KEYS[i];
            if (strcmp(k->section, CONFIG_SECTIONS[s])) continue;
            config_key_describe(k, desc, sizeof desc);
            config_key_format(k, &d, def, sizeof def);
            if (!markdown) {
                snprintf(head, sizeof head, "%s = %s", k->name, def);
                fprintf(f, "  %-38s %s\n      %s\n", head, desc, k->help);
                continue;
            }
            fprintf(f, "| `%s.%s` | ", k->section, k->name);
            md_code_cell(f, desc);
            fputs(" | ", f);
            md_code_cell(f, def);
            fputs(" | ", f);
            md_cell(f, k->help);
            fputs(" |\n", f);
        }
    }
}

void config_print_help(FILE *f) { print_help(f, false); }

void config_print_help_markdown(FILE *f) { print_help(f, true); }

int config_validate(const gs_config *c) {
    char msg[1024];
    for (int i = 0; i < CONFIG_NKEYS; i++)
        if (config_key_check(&CONFIG_KEYS[i], c, msg, sizeof msg)) return gs_error("config: %s", msg);
    const gs_data_config *d = &c->data;
    if (c->callbacks.min_lr > c->train.learning_rate)
        return gs_error("config: callbacks.min_lr (%g) is above train.learning_rate (%g); lower min_lr or raise "
                        "the learning rate",
                        c->callbacks.min_lr, c->train.learning_rate);
    // Clips hold tens of frames; a selection spanning more than this is a mistake, not an experiment.
    const long max_span = 1024;
    long span = (long)(d->frames - 1) * d->frame_step + 1 + d->augment_temporal_jitter;
    if (d->sampling == GS_SAMPLING_STRIDE && span > max_span)
        return gs_error("config: stride sampling with data.frames=%d, data.frame_step=%d (+ temporal jitter %d) "
                        "needs clips of %ld frames (limit %ld); lower them or use data.sampling = uniform",
                        d->frames, d->frame_step, d->augment_temporal_jitter, span, max_span);
    if (d->resize == GS_RESIZE_CV2 && (d->augment_crop_scale > 0 || d->augment_shift > 0))
        return gs_error("config: data.resize = cv2 resizes whole frames as cv2.resize does: it cannot crop or shift "
                        "(data.augment_crop_scale = %g, data.augment_shift = %g); set both to 0 or use data.resize = "
                        "float",
                        d->augment_crop_scale, d->augment_shift);
    if (c->runtime.cuda_graph && c->runtime.device == GS_DEVICE_CPU)
        return gs_error("config: runtime.cuda_graph = on needs runtime.device = cuda or auto, not cpu");
    return 0;
}

// "section.key" -> key, or NULL with gs_error.
static const config_key *find_dotted(const char *dotted) {
    const char *dot = strchr(dotted, '.');
    char section[64];
    if (dot && (size_t)(dot - dotted) < sizeof section) {
        memcpy(section, dotted, (size_t)(dot - dotted));
        section[dot - dotted] = '\0';
        const config_key *k = config_key_find(section, dot + 1);
        if (k) return k;
    }
    gs_error("unknown config key '%s' (gesture train --help-config lists them)", dotted);
    return NULL;
}

int config_get(const gs_config *c, const char *key, char *buf, size_t n) {
    const config_key *k = find_dotted(key);
    if (!k) return -1;
    config_key_format(k, c, buf, n);
    return 0;
}

int config_diff(const gs_config *a, const gs_config *b, char *buf, size_t n) {
    char va[VALUE_MAX], vb[VALUE_MAX];
    int count = 0;
    if (buf && n) buf[0] = '\0';
    for (int i = 0; i < CONFIG_NKEYS; i++) {
        const config_key *k = &CONFIG_KEYS[i];
        config_key_format(k, a, va, sizeof va);
        config_key_format(k, b, vb, sizeof vb);
        if (!strcmp(va, vb)) continue;
        count++;
        if (buf && n) {
            size_t len = strlen(buf);
            snprintf(buf + len, n - len, "%s.%s: %s -> %s\n", k->section, k->name, va, vb);
        }
    }
    return count;
}

const char *config_run_name(const gs_config *c, char *buf, size_t n) {
    if (c->output.name[0]) {
        snprintf(buf, n, "%s", c->output.name);
        return buf;
    }
    const char *base = strrchr(c->source, '/');
    base = base ? base + 1 : c->source;
    const char *ext = strrchr(base, '.');
    size_t len = ext && ext != base ? (size_t)(ext - base) : strlen(base);
    if (!len) {
        snprintf(buf, n, "run");
        return buf;
    }
    snprintf(buf, n, "%.*s", (int)len, base);
    return buf;
}

const char *config_monitor_name(gs_monitor m) {
    const config_key *k = config_key_find("callbacks", "checkpoint_monitor");
    return m == GS_MONITOR_VAL_LOSS || m == GS_MONITOR_VAL_ACCURACY ? k->choices[m] : "?";
}

const char *config_device_name(gs_device d) {
    const config_key *k = config_key_find("runtime", "device");
    return d >= GS_DEVICE_AUTO && d <= GS_DEVICE_CUDA ? k->choices[d] : "?";
}
