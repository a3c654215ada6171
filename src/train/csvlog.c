// Keras CSVLogger-compatible training log (see csvlog.h) and Python's float repr.
#include "gesture/csvlog.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gesture/csv.h"
#include "gesture/errors.h"
#include "gesture/fsutil.h"

// ---- Python float repr ----

// Digits of x (finite, > 0) as %.{p-1}e prints them: digits into d (no dot), returns the decimal
// exponent of the first digit.
static int split_sci(const char *s, char *d, int *nd) {
    int n = 0;
    for (; *s && *s != 'e'; s++)
        if (*s >= '0' && *s <= '9') d[n++] = *s;
    d[n] = '\0';
    *nd = n;
    GS_ASSERT(*s == 'e');
    return atoi(s + 1);
}

// Read back d[0].d[1..]e(exp10) as a double.
static double read_digits(const char *d, int nd, int exp10) {
    char buf[64];
    int k = 0;
    buf[k++] = d[0];
    if (nd > 1) {
        buf[k++] = '.';
        memcpy(buf + k, d + 1, (size_t)(nd - 1));
        k += nd - 1;
    }
    snprintf(buf + k, sizeof buf - (size_t)k, "e%d", exp10);
    return strtod(buf, NULL);
}

// Shortest digit string that reads back as x, as David Gay's dtoa mode 0 (Python's repr) gives
// it. Returns the digit count; *decpt is where the decimal point goes (x = 0.DIGITS * 10^decpt).
static int shortest_digits(double x, char *digits, int *decpt) {
    char buf[64], d[32];
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, sizeof buf, "%.*e", p - 1, x);
        int nd;
        int e = split_sci(buf, d, &nd);
        double back = strtod(buf, NULL);
        bool ok = back == x;
        if (!ok && back < x) {
            // At a power of two the doubles below are twice as dense as those above, so the
            // values that round to x reach further up than down: the nearest p-digit decimal can
            // miss below while the next one up still reads back as x.
            int i = nd - 1;
            while (i >= 0 && d[i] == '9') d[i--] = '0';
            if (i >= 0) {
                d[i]++;
            } else {  // 99..9 + 1 = 10^(e+1)
                d[0] = '1';
                memset(d + 1, '0', (size_t)(nd - 1));
                e++;
            }
            ok = read_digits(d, nd, e) == x;
        }
        if (ok) {
            while (nd > 1 && d[nd - 1] == '0') nd--;
            memcpy(digits, d, (size_t)nd);
            digits[nd] = '\0';
            *decpt = e + 1;
            return nd;
        }
    }
    gs_fatal("csvlog_float_repr: no round-trip digits for %a", x);  // 17 digits always read back
}

int csvlog_float_repr(char *buf, double x) {
    if (isnan(x)) return sprintf(buf, "nan");
    if (isinf(x)) return sprintf(buf, x < 0 ? "-inf" : "inf");
    char *p = buf;
    if (signbit(x)) {
        *p++ = '-';
        x = -x;
    }
    if (x == 0) return (int)(p - buf) + sprintf(p, "0.0");
    char d[32];
    int decpt;
    int nd = shortest_digits(x, d, &decpt);
    // Python's float_repr_style 'short': exponent outside 1e-4 <= x < 1e16.
    if (decpt <= -4 || decpt > 16) {
        *p++ = d[0];
        if (nd > 1) {
            *p++ = '.';
            memcpy(p, d + 1, (size_t)(nd - 1));
            p += nd - 1;
        }
        p += sprintf(p, "e%+.02d", decpt - 1);
    } else if (decpt <= 0) {
        *p++ = '0';
        *p++ = '.';
        for (int i = 0; i < -decpt; i++) *p++ = '0';
        memcpy(p, d, (size_t)nd);
        p += nd;
    } else if (decpt >= nd) {
        memcpy(p, d, (size_t)nd);
        p += nd;
        for (int i = nd; i < decpt; i++) *p++ = '0';
        *p++ = '.';
        *p++ = '0';
    } else {
        memcpy(p, d, (size_t)decpt);
        p += decpt;
        *p++ = '.';
        memcpy(p, d + decpt, (size_t)(nd - decpt));
        p += nd - decpt;
    }
    *p = '\0';
    return (int)(p - buf);
}

// ---- the log file ----

// "epoch,<keys in column order>\r\n" (malloc'd); keys quoted as Python's csv module quotes them.
static char *header_line(const gs_csvlog *log) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) gs_fatal("open_memstream failed");
    fputs("epoch", f);
    for (int j = 0; j < log->nkeys; j++) {
        fputc(',', f);
        csv_write_field(f, log->keys[log->order[j]], ',');
    }
    fputs("\r\n", f);
    if (fclose(f) != 0) gs_fatal("open_memstream: write failed");
    return text;
}

static int sync_file(FILE *f, const char *path) {
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) return gs_error("%s: write failed: %s", path, strerror(errno));
    return 0;
}

// Keep the header and the rows of epochs < resume_epoch of an existing log; rewritten atomically.
// Returns 0, 1 if there is no file, -1 + gs_error.
static int truncate_rows(gs_csvlog *log, const char *header, int resume_epoch) {
    size_t len = 0;
    char *text;
    if (access(log->path, F_OK) != 0 && errno == ENOENT) return 1;
    if (fs_read_text(&text, &len, log->path) != 0) return -1;
    if (len == 0) {  // created but never written: start over
        free(text);
        return 1;
    }
    size_t hlen = strlen(header);
    if (len < hlen || memcmp(text, header, hlen) != 0) {
        const char *eol = strpbrk(text, "\r\n");
        int shown = eol ? (int)(eol - text) : (int)len;
        int want = (int)hlen - 2;
        gs_error("%s: header '%.*s' does not match this run's '%.*s'", log->path, shown, text, want,
                 header);
        free(text);
        return -1;
    }
    size_t keep = hlen;
    long prev = -1;
    int line = 1;
    for (size_t pos = hlen; pos < len;) {
        char *eol = strstr(text + pos, "\r\n");
        if (!eol) break;  // a torn last line from a crash: dropped
        line++;
        char *end;
        long ep = strtol(text + pos, &end, 10);
        if (end == text + pos || *end != ',' || ep <= prev) {
            gs_error("%s:%d: expected '<epoch>,...' with epochs increasing from 0", log->path, line);
            free(text);
            return -1;
        }
        if (ep >= resume_epoch) break;
        prev = ep;
        pos = (size_t)(eol - text) + 2;
        keep = pos;
        log->rows++;
    }
    size_t tlen = strlen(log->path) + 8;
    char *tmp = gs_malloc(tlen);
    snprintf(tmp, tlen, "%s.tmp", log->path);
    FILE *f = fopen(tmp, "wb");
    int rc = 0;
    if (!f) {
        rc = gs_error("%s: cannot create: %s", tmp, strerror(errno));
    } else {
        if (fwrite(text, 1, keep, f) != keep) rc = gs_error("%s: write failed: %s", tmp, strerror(errno));
        if (rc == 0) rc = sync_file(f, tmp);
        if (fclose(f) != 0 && rc == 0) rc = gs_error("%s: close failed: %s", tmp, strerror(errno));
        if (rc == 0 && rename(tmp, log->path) != 0)
            rc = gs_error("%s: cannot replace with %s: %s", log->path, tmp, strerror(errno));
        if (rc != 0) remove(tmp);
    }
    free(tmp);
    free(text);
    return rc;
}

int csvlog_open(gs_csvlog *log, const char *path, const char *const *keys, int nkeys,
                int resume_epoch) {
    memset(log, 0, sizeof *log);
    GS_ASSERT(resume_epoch >= 0);
    if (nkeys < 1 || nkeys > GS_CSVLOG_MAX_KEYS)
        return gs_error("%s: a log needs 1..%d keys, got %d", path, GS_CSVLOG_MAX_KEYS, nkeys);
    for (int i = 0; i < nkeys; i++) {
        size_t kl = strlen(keys[i]);
        if (kl == 0 || kl >= GS_CSVLOG_KEY_MAX)
            return gs_error("%s: log key '%s' must be 1..%d characters", path, keys[i], GS_CSVLOG_KEY_MAX - 1);
        if (strcmp(keys[i], "epoch") == 0) return gs_error("%s: 'epoch' is not a log key", path);
        for (int j = 0; j < i; j++)
            if (strcmp(keys[i], keys[j]) == 0) return gs_error("%s: log key '%s' given twice", path, keys[i]);
        memcpy(log->keys[i], keys[i], kl + 1);
        log->order[i] = i;
    }
    log->nkeys = nkeys;
    // Python's sorted() on str orders by code point; strcmp on UTF-8 bytes gives the same order.
    for (int i = 1; i < nkeys; i++)
        for (int j = i; j > 0 && strcmp(log->keys[log->order[j - 1]], log->keys[log->order[j]]) > 0; j--) {
            int t = log->order[j];
            log->order[j] = log->order[j - 1];
            log->order[j - 1] = t;
        }
    log->path = strdup(path);
    if (!log->path) gs_fatal("out of memory");

    char *header = header_line(log);
    int fresh = resume_epoch > 0 ? truncate_rows(log, header, resume_epoch) : 1;
    int rc = fresh < 0 ? -1 : 0;
    if (rc == 0 && !(log->f = fopen(path, fresh ? "wb" : "ab")))
        rc = gs_error("%s: cannot open for writing: %s", path, strerror(errno));
    if (rc == 0 && fresh)
        rc = fputs(header, log->f) == EOF ? gs_error("%s: write failed: %s", path, strerror(errno))
                                          : sync_file(log->f, path);
    free(header);
    if (rc != 0) csvlog_close(log);
    return rc;
}

int csvlog_append(gs_csvlog *log, int epoch, const double *values) {
    GS_ASSERT(log->f);
    char line[GS_CSVLOG_MAX_KEYS * (GS_FLOAT_REPR_MAX + 1) + 32];
    int k = snprintf(line, sizeof line, "%d", epoch);
    for (int j = 0; j < log->nkeys; j++) {
        line[k++] = ',';
        k += csvlog_float_repr(line + k, values[log->order[j]]);
    }
    line[k++] = '\r';
    line[k++] = '\n';
    if (fwrite(line, 1, (size_t)k, log->f) != (size_t)k)
        return gs_error("%s: write failed: %s", log->path, strerror(errno));
    log->rows++;
    return sync_file(log->f, log->path);
}

void csvlog_close(gs_csvlog *log) {
    if (log->f) fclose(log->f);
    log->f = NULL;
    free(log->path);
    log->path = NULL;
}

const char *const CSVLOG_TRAIN_KEYS[CSVLOG_TRAIN_NKEYS] = {"accuracy", "learning_rate", "loss", "val_accuracy",
                                                           "val_loss"};

void csvlog_train_values(double v[CSVLOG_TRAIN_NKEYS], const gs_epoch_row *r) {
    v[0] = r->accuracy, v[1] = r->learning_rate, v[2] = r->loss, v[3] = r->val_accuracy, v[4] = r->val_loss;
}

int csvlog_open_history(gs_csvlog *log, const char *path, const gs_epoch_row *rows, int n) {
    if (csvlog_open(log, path, CSVLOG_TRAIN_KEYS, CSVLOG_TRAIN_NKEYS, 0)) return -1;
    for (int i = 0; i < n; i++) {
        double v[CSVLOG_TRAIN_NKEYS];
        csvlog_train_values(v, &rows[i]);
        if (csvlog_append(log, rows[i].epoch, v)) {
            csvlog_close(log);
            return -1;
        }
    }
    return 0;
}
