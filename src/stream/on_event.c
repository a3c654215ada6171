// `gesture stream --on-event 'CMD {label} {prob}'`: one command per gesture event, started without
// a shell (the template is split into words first, then each word's placeholders are filled, so a
// class name can never become shell syntax); --on-event-shell opts into /bin/sh -c.
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "gesture/errors.h"
#include "gesture/on_event.h"

extern char **environ;

int on_event_parse(gs_on_event *oe, const char *tmpl, int shell) {
    memset(oe, 0, sizeof *oe);
    oe->shell = shell;
    if (shell) {
        oe->words = gs_calloc(1, sizeof(char *));
        oe->words[0] = gs_strdup(tmpl);
        oe->n = 1;
        return 0;
    }
    oe->words = gs_calloc(strlen(tmpl) + 1, sizeof(char *));
    char *buf = gs_malloc(strlen(tmpl) + 1);
    const char *p = tmpl;
    for (;;) {
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) break;
        size_t len = 0;
        char quote = 0;
        for (; *p && (quote || (*p != ' ' && *p != '\t')); p++) {
            if (!quote && (*p == '\'' || *p == '"')) quote = *p;
            else if (quote && *p == quote) quote = 0;
            else buf[len++] = *p;
        }
        if (quote) {
            free(buf);
            on_event_free(oe);
            return gs_error("--on-event: unclosed %c quote in '%s'", quote, tmpl);
        }
        buf[len] = '\0';
        oe->words[oe->n++] = gs_strdup(buf);
    }
    free(buf);
    if (oe->n == 0) return gs_error("--on-event: empty command");
    return 0;
}

void on_event_free(gs_on_event *oe) {
    for (int i = 0; i < oe->n; i++) free(oe->words[i]);
    free(oe->words);
    memset(oe, 0, sizeof *oe);
}

// word with {label}, {prob}, {time} and {start} replaced (malloc'd).
static char *expand(const char *word, const char *label, const gs_event *ev) {
    char num[3][64];
    snprintf(num[0], sizeof num[0], "%.4f", (double)ev->prob);
    snprintf(num[1], sizeof num[1], "%.3f", ev->fired);
    snprintf(num[2], sizeof num[2], "%.3f", ev->start);
    const char *vals[4] = {label, num[0], num[1], num[2]};
    const char *keys[4] = {"{label}", "{prob}", "{time}", "{start}"};
    size_t cap = strlen(word) + 1, len = 0;
    for (const char *q = word; *q; q++) if (*q == '{') cap += strlen(label) + 64;
    char *out = gs_malloc(cap);
    for (const char *q = word; *q;) {
        int hit = -1;
        for (int k = 0; k < 4 && hit < 0; k++)
            if (!strncmp(q, keys[k], strlen(keys[k]))) hit = k;
        if (hit < 0) {
            out[len++] = *q++;
            continue;
        }
        const char *v = vals[hit];
        memcpy(out + len, v, strlen(v));
        len += strlen(v);
        q += strlen(keys[hit]);
    }
    out[len] = '\0';
    return out;
}

int on_event_run(gs_on_event *oe, const char *label, const gs_event *ev) {
    char *argv[oe->n + 3];
    int n = 0;
    if (oe->shell) {
        argv[n++] = "/bin/sh";
        argv[n++] = "-c";
    }
    int first = n;
    for (int i = 0; i < oe->n; i++) argv[n++] = expand(oe->words[i], label, ev);
    argv[n] = NULL;
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
    if (rc != 0) gs_error("--on-event: cannot run %s: %s", argv[first], strerror(rc));
    else oe->running++;
    for (int i = first; i < n; i++) free(argv[i]);
    on_event_reap(oe, 0);
    return rc ? -1 : 0;
}

void on_event_reap(gs_on_event *oe, int wait_all) {
    int status;
    pid_t pid;
    while (oe->running > 0 && (pid = waitpid(-1, &status, wait_all ? 0 : WNOHANG)) > 0) {
        oe->running--;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) oe->failed++;
    }
}
