// Config files, includes and --set overrides on top of the schema in config_schema.c.
//
// inih splits `key = value` lines and strips comments. It cannot report line numbers to the
// handler (Debian builds it without INI_HANDLER_LINENO), treats indented lines as continuations,
// splits over-long lines silently and never reports a section that has no keys, so a line reader
// sits in front of it: it counts lines (the handler runs for the line just read), strips
// indentation, turns `%include FILE` into `include = FILE`, and rejects unknown sections and
// malformed lines itself. The handler applies each key through the schema and loads includes
// recursively at the point where they appear, so later lines override earlier ones.
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config_schema.h"
#include "gesture/config.h"
#include "gesture/errors.h"

#define MAX_INCLUDE_DEPTH 16
#define MAX_CONFIG_BYTES (1 << 20)
#define MAX_LINE (4 * GS_CONFIG_STR_MAX)
// Stands for x->long_value in the line handed to inih (control bytes never survive parsing).
#define LONG_VALUE_TOKEN "\x01"

typedef struct load_ctx {
    gs_config *cfg;
    const char *display;            // the file as named in messages
    char dir[GS_CONFIG_STR_MAX];    // includes resolve relative to this ("" = cwd)
    char canon[PATH_MAX];           // realpath, for cycle detection ("" for in-memory text)
    const struct load_ctx *parent;  // the including file, or NULL
    int parent_line;                // line of the include in the parent
    int depth;
    const char *text;
    size_t pos;
    int lineno;      // line most recently handed to inih
    int *first_line;  // (CONFIG_NKEYS) line of each key's first assignment in this file, 0 = none
    char *long_value;  // value of the current line when it is too long for inih's buffer
    bool failed;     // an error is recorded in gs_last_error
} load_ctx;

// Record "file:line: message (included from ...)" once; later errors are consequences.
static void __attribute__((format(printf, 3, 4))) fail(load_ctx *x, int line, const char *fmt, ...) {
    if (x->failed) return;
    char msg[768], chain[256] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (const load_ctx *p = x; p->parent; p = p->parent) {
        size_t len = strlen(chain);
        snprintf(chain + len, sizeof chain - len, "%s%s:%d", len ? ", " : " (included from ", p->parent->display,
                 p->parent_line);
    }
    if (chain[0]) strncat(chain, ")", sizeof chain - strlen(chain) - 1);
    gs_error("%s:%d: %s%s", x->display, line, msg, chain);
    x->failed = true;
}

static void list_sections(char *buf, size_t n) {
    buf[0] = '\0';
    for (int i = 0; CONFIG_SECTIONS[i]; i++) {
        size_t len = strlen(buf);
        snprintf(buf + len, n - len, "%s[%s]", i ? " " : "", CONFIG_SECTIONS[i]);
    }
}

// "unknown section [x]; did you mean [y]? valid sections: ..."
static void unknown_section_message(char *buf, size_t n, const char *section) {
    char list[128], alt[64] = "";
    list_sections(list, sizeof list);
    const char *near = config_closest(section, CONFIG_SECTIONS, CONFIG_NSECTIONS);
    if (near) snprintf(alt, sizeof alt, " did you mean [%s]?", near);
    snprintf(buf, n, "unknown section [%s];%s valid sections: %s", section, alt, list);
}

// Unknown key: point to the section that owns it, or to the closest key, and list the valid ones.
static void unknown_key_message(char *buf, size_t n, const char *section, const char *name) {
    for (int i = 0; i < CONFIG_NKEYS; i++)
        if (!strcmp(CONFIG_KEYS[i].name, name)) {
            snprintf(buf, n, "key '%s' belongs in [%s], not [%s]", name, CONFIG_KEYS[i].section, section);
            return;
        }
    const char *names[64];
    int count = 0;
    char list[768] = "";
    for (int i = 0; i < CONFIG_NKEYS && count < 64; i++)
        if (!strcmp(CONFIG_KEYS[i].section, section)) {
            size_t len = strlen(list);
            snprintf(list + len, sizeof list - len, "%s%s", count ? ", " : "", CONFIG_KEYS[i].name);
            names[count++] = CONFIG_KEYS[i].name;
        }
    const char *near = config_closest(name, names, count);
    char alt[96] = "";
    if (near) snprintf(alt, sizeof alt, " did you mean '%s'?", near);
    snprintf(buf, n, "unknown key '%s' in [%s];%s valid keys: %s", name, section, alt, list);
}

// inih's scan: up to one of `chars`, or an inline ';' comment (a ';' after whitespace).
static const char *find_chars_or_comment(const char *s, const char *chars) {
    int was_space = 0;
    while (*s && (!chars || !strchr(chars, *s)) && !(was_space && *s == ';')) {
        was_space = *s == ' ' || *s == '\t';
        s++;
    }
    return s;
}

static void trim_copy(char *out, size_t n, const char *s, size_t len) {
    while (len && (*s == ' ' || *s == '\t')) s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r')) len--;
    if (len >= n) len = n - 1;
    memcpy(out, s, len);
    out[len] = '\0';
}

// Hand inih the line `name = value`. inih reads into a fixed buffer (INI_MAX_LINE, 200 bytes),
// so a line that would not fit passes its value through x->long_value and a one-byte token.
static char *emit_key(load_ctx *x, char *str, int num, const char *name, const char *value) {
    if (strlen(name) + strlen(value) + 5 < (size_t)num) {
        snprintf(str, (size_t)num, "%s = %s\n", name, value);
        return str;
    }
    if (strlen(name) + 8 > (size_t)num) {
        fail(x, x->lineno, "key name '%.40s...' is too long to be a config key", name);
        return NULL;
    }
    const char *end = find_chars_or_comment(value, NULL);  // what inih would do to the value
    x->long_value = gs_malloc((size_t)(end - value) + 1);
    trim_copy(x->long_value, (size_t)(end - value) + 1, value, (size_t)(end - value));
    snprintf(str, (size_t)num, "%s = %s\n", name, LONG_VALUE_TOKEN);
    return str;
}

// The ini_reader in front of inih (see the file comment). Returns NULL (end of input) once an
// error is recorded so that parsing stops at the first one.
static char *read_line(char *str, int num, void *stream) {
    load_ctx *x = stream;
    free(x->long_value);  // belonged to the previous line, whose handler call is over
    x->long_value = NULL;
    if (x->failed || !x->text[x->pos]) return NULL;
    const char *s = x->text + x->pos;
    size_t len = strcspn(s, "\n");
    x->pos += len + (s[len] == '\n');
    x->lineno++;
    if (x->lineno == 1 && len >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3)) s += 3, len -= 3;  // UTF-8 BOM
    char line[MAX_LINE];
    if (len >= sizeof line) {
        fail(x, x->lineno, "line is %zu characters long; the limit is %zu", len, sizeof line - 1);
        return NULL;
    }
    // Trimming the indentation makes it mean nothing, rather than inih's "continuation of the
    // previous value".
    trim_copy(line, sizeof line, s, len);
    if (line[0] == '%') {
        size_t word = strcspn(line, " \t");
        if (word != 8 || strncmp(line, "%include", 8)) {
            fail(x, x->lineno, "unknown directive '%.*s' (the only one is %%include FILE)", (int)word, line);
            return NULL;
        }
        return emit_key(x, str, num, "include", line + 8 + strspn(line + 8, " \t"));
    }
    if (line[0] == '[') {
        const char *end = find_chars_or_comment(line + 1, "]");
        if (*end != ']') {
            fail(x, x->lineno, "section header '%s' has no closing ']'", line);
            return NULL;
        }
        char name[MAX_LINE];
        trim_copy(name, sizeof name, line + 1, (size_t)(end - line - 1));
        const char *after = end + 1 + strspn(end + 1, " \t");
        if (*after && *after != ';' && *after != '#') {
            fail(x, x->lineno, "unexpected text '%s' after [%s] (comments start with ';')", after, name);
            return NULL;
        }
        if (config_section_index(name) < 0) {
            char msg[256];
            unknown_section_message(msg, sizeof msg, name);
            fail(x, x->lineno, "%s", msg);
            return NULL;
        }
        snprintf(str, (size_t)num, "[%s]\n", name);  // a known name is short
        return str;
    }
    if (line[0] && line[0] != ';' && line[0] != '#') {
        const char *sep = find_chars_or_comment(line, "=:");
        if (*sep != '=' && *sep != ':') {
            fail(x, x->lineno, "expected 'key = value', '[section]', '%%include FILE' or a comment, got '%s'", line);
            return NULL;
        }
        char name[MAX_LINE];
        trim_copy(name, sizeof name, line, (size_t)(sep - line));
        return emit_key(x, str, num, name, sep + 1 + strspn(sep + 1, " \t"));
    }
    snprintf(str, (size_t)num, "\n");  // blank or comment
    return str;
}

static int load_text(gs_config *cfg, const char *text, const char *display, const char *canon,
                     load_ctx *parent, int parent_line);

// A whole file as a NUL-terminated string (malloc'd), or NULL with the reason in why.
static char *read_text(const char *path, char *why, size_t n) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, n, "%s", strerror(errno));
        return NULL;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {  // fopen accepts a directory; reads then fail
        fclose(f);
        snprintf(why, n, "is a directory");
        return NULL;
    }
    char *text = gs_malloc(MAX_CONFIG_BYTES + 1);
    size_t got = fread(text, 1, MAX_CONFIG_BYTES + 1, f);
    int read_error = ferror(f);
    fclose(f);
    if (read_error) snprintf(why, n, "read error");
    else if (got > MAX_CONFIG_BYTES) snprintf(why, n, "larger than 1 MiB");
    else if (memchr(text, '\0', got)) snprintf(why, n, "not a text file (contains a NUL byte)");
    else {
        text[got] = '\0';
        return text;
    }
    free(text);
    return NULL;
}

// `include = FILE` at line `line` of x.
static int include_file(load_ctx *x, int line, const char *value) {
    char rel[GS_CONFIG_STR_MAX], path[2 * GS_CONFIG_STR_MAX];
    size_t len = strlen(value);
    if (value[0] == '"' && (len < 2 || value[len - 1] != '"')) {
        fail(x, line, "include path %s has an unclosed quote", value);
        return -1;
    }
    if (len >= 2 && value[0] == '"') value++, len -= 2;
    if (len >= sizeof rel) {
        fail(x, line, "include path is %zu characters long; the limit is %zu", len, sizeof rel - 1);
        return -1;
    }
    trim_copy(rel, sizeof rel, value, len);
    if (!rel[0]) {
        fail(x, line, "include needs a file name (%%include FILE or include = FILE)");
        return -1;
    }
    if (x->depth + 1 >= MAX_INCLUDE_DEPTH) {
        fail(x, line, "includes are nested more than %d deep", MAX_INCLUDE_DEPTH);
        return -1;
    }
    snprintf(path, sizeof path, "%s%s", rel[0] == '/' ? "" : x->dir, rel);
    char canon[PATH_MAX];
    if (!realpath(path, canon)) snprintf(canon, sizeof canon, "%s", path);  // missing: read_text says so
    for (const load_ctx *p = x; p; p = p->parent)
        if (!strcmp(p->canon, canon)) {
            char chain[512] = "";
            for (const load_ctx *q = x; q; q = q->parent) {
                char tmp[512];
                snprintf(tmp, sizeof tmp, "%s -> %s", q->display, chain);
                snprintf(chain, sizeof chain, "%s", tmp);
            }
            fail(x, line, "include cycle: %s%s (remove one of these includes)", chain, path);
            return -1;
        }
    char why[256];
    char *text = read_text(path, why, sizeof why);
    if (!text) {
        fail(x, line, "cannot open included file '%s' (%s): %s", rel, path, why);
        return -1;
    }
    int rc = load_text(x->cfg, text, path, canon, x, line);
    if (rc) x->failed = true;  // the included file recorded the message
    free(text);
    return rc;
}

static int on_key(void *user, const char *section, const char *name, const char *value) {
    load_ctx *x = user;
    int line = x->lineno;
    if (x->long_value && !strcmp(value, LONG_VALUE_TOKEN)) value = x->long_value;
    if (!strcmp(name, "include")) return include_file(x, line, value) == 0;
    char msg[1024];
    if (!section[0]) {
        for (int i = 0; i < CONFIG_NKEYS; i++)
            if (!strcmp(CONFIG_KEYS[i].name, name)) {
                fail(x, line, "key '%s' is outside any section; put it under [%s]", name, CONFIG_KEYS[i].section);
                return 0;
            }
        fail(x, line, "unknown key '%s' outside any section (only include = FILE may come before the first [section])",
             name);
        return 0;
    }
    const config_key *k = config_key_find(section, name);
    if (!k) {
        unknown_key_message(msg, sizeof msg, section, name);
        fail(x, line, "%s", msg);
        return 0;
    }
    int ki = (int)(k - CONFIG_KEYS);
    if (x->first_line[ki]) {
        fail(x, line, "duplicate key %s.%s (already set on line %d of this file); keep only one", section, name,
             x->first_line[ki]);
        return 0;
    }
    x->first_line[ki] = line;
    if (config_key_parse(k, x->cfg, value, msg, sizeof msg)) {
        fail(x, line, "%s", msg);
        return 0;
    }
    return 1;
}

// Parse `text` (named `display`) into cfg. parent/parent_line: the including file, if any.
static int load_text(gs_config *cfg, const char *text, const char *display, const char *canon,
                     load_ctx *parent, int parent_line) {
    load_ctx *x = gs_calloc(1, sizeof *x);
    x->cfg = cfg;
    x->display = display;
    snprintf(x->canon, sizeof x->canon, "%s", canon);
    const char *slash = strrchr(display, '/');
    size_t dlen = slash ? (size_t)(slash - display) + 1 : 0;
    if (dlen >= sizeof x->dir) dlen = 0;
    memcpy(x->dir, display, dlen);
    x->dir[dlen] = '\0';
    x->parent = parent;
    x->parent_line = parent_line;
    x->depth = parent ? parent->depth + 1 : 0;
    x->text = text;
    x->first_line = gs_calloc((size_t)CONFIG_NKEYS, sizeof(int));
    int rc = ini_parse_stream(read_line, x, on_key, x);
    if (rc > 0 && !x->failed) fail(x, rc, "syntax error");  // the reader should have named it
    if (rc < 0 && !x->failed) fail(x, x->lineno, "out of memory while parsing");
    int result = x->failed ? -1 : 0;
    free(x->long_value);
    free(x->first_line);
    free(x);
    return result;
}

int config_load_string(gs_config *c, const char *text, const char *origin) {
    gs_config tmp = *c;  // all or nothing
    if (load_text(&tmp, text, origin, "", NULL, 0)) return -1;
    snprintf(tmp.source, sizeof tmp.source, "%s", origin);
    *c = tmp;
    return 0;
}

int config_load(gs_config *c, const char *path) {
    char why[256];
    char *text = read_text(path, why, sizeof why);
    if (!text) return gs_error("%s: cannot open config file: %s", path, why);
    char canon[PATH_MAX];
    if (!realpath(path, canon)) snprintf(canon, sizeof canon, "%s", path);
    gs_config tmp = *c;  // all or nothing
    int rc = load_text(&tmp, text, path, canon, NULL, 0);
    free(text);
    if (rc) return -1;
    snprintf(tmp.source, sizeof tmp.source, "%s", path);
    *c = tmp;
    return 0;
}

int config_set(gs_config *c, const char *assignment) {
    const char *eq = strchr(assignment, '=');
    if (!eq) return gs_error("--set '%s': expected section.key=value (e.g. --set train.epochs=5)", assignment);
    char key[256], value[GS_CONFIG_STR_MAX + 8], msg[1024];
    trim_copy(key, sizeof key, assignment, (size_t)(eq - assignment));
    trim_copy(value, sizeof value, eq + 1, strlen(eq + 1));
    char *dot = strchr(key, '.');
    if (!dot) {
        for (int i = 0; i < CONFIG_NKEYS; i++)
            if (!strcmp(CONFIG_KEYS[i].name, key))
                return gs_error("--set '%s': name the section too: --set %s.%s=%s", assignment,
                                CONFIG_KEYS[i].section, key, value);
        return gs_error("--set '%s': expected section.key=value (e.g. --set train.epochs=5)", assignment);
    }
    *dot = '\0';
    const char *section = key, *name = dot + 1;
    if (config_section_index(section) < 0) {
        unknown_section_message(msg, sizeof msg, section);
        return gs_error("--set '%s': %s", assignment, msg);
    }
    const config_key *k = config_key_find(section, name);
    if (!k) {
        if (!strcmp(name, "include")) return gs_error("--set '%s': include works only inside config files", assignment);
        unknown_key_message(msg, sizeof msg, section, name);
        return gs_error("--set '%s': %s", assignment, msg);
    }
    if (config_key_parse(k, c, value, msg, sizeof msg)) return gs_error("--set '%s': %s", assignment, msg);
    return 0;
}
