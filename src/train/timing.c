// timing.ini read back and written (gesture/timing.h): totals over every invocation of a run.
#include "gesture/timing.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"
#include "gesture/fsutil.h"

// The keys timing_read understands; the rates of an old file rebuild its totals.
typedef struct {
    gs_timing *t;
    int has_totals, old_epochs;
    double old_s_per_epoch, old_img_per_s;
} timing_reader;

static int on_key(void *user, const char *section, const char *name, const char *value) {
    timing_reader *r = user;
    (void)section;
    double v = strtod(value, NULL);
    if (!strcmp(name, "epochs")) r->t->epochs = (int)v;
    else if (!strcmp(name, "train_seconds")) r->t->train_seconds = v, r->has_totals = 1;
    else if (!strcmp(name, "train_images")) r->t->train_images = (long)v;
    else if (!strcmp(name, "peak_rss_mb")) r->t->peak_rss_mb = (long)v;
    else if (!strcmp(name, "cuda_graph_steps")) r->t->graph_steps = (long)v;
    else if (!strcmp(name, "invocations")) r->t->invocations = (int)v;
    else if (!strcmp(name, "comm_seconds")) r->t->comm_seconds = v;
    else if (!strcmp(name, "epochs_run")) r->old_epochs = (int)v;
    else if (!strcmp(name, "seconds_per_epoch")) r->old_s_per_epoch = v;
    else if (!strcmp(name, "train_img_per_s")) r->old_img_per_s = v;
    return 1;
}

int timing_read(const char *path, gs_timing *t) {
    memset(t, 0, sizeof *t);
    if (!fs_is_file(path)) return 0;
    timing_reader r = {.t = t};
    int rc = ini_parse(path, on_key, &r);
    if (rc != 0) return gs_error("%s:%d: not a key = value file", path, rc);
    if (!r.has_totals && r.old_epochs > 0) {  // one invocation's epochs and rates
        t->epochs = r.old_epochs;
        t->train_seconds = r.old_epochs * r.old_s_per_epoch;
        t->train_images = (long)(r.old_img_per_s * t->train_seconds + 0.5);
        t->invocations = 1;
    }
    return 0;
}

int timing_write(const char *path, const gs_timing *t, int threads, const char *device, int ranks) {
    char text[1024];
    int n = snprintf(text, sizeof text,
                     "# written by gesture train after every epoch: totals over the whole run, every --resume "
                     "included\nepochs = %d\ntrain_seconds = %.3f\ntrain_images = %ld\nseconds_per_epoch = %.3f\n"
                     "train_img_per_s = %.2f\npeak_rss_mb = %ld\ninvocations = %d\nthreads = %d\ndevice = %s\n",
                     t->epochs, t->train_seconds, t->train_images, t->epochs ? t->train_seconds / t->epochs : 0.0,
                     t->train_seconds > 0 ? t->train_images / t->train_seconds : 0.0, t->peak_rss_mb, t->invocations,
                     threads, device);
    if (!strcmp(device, "cuda"))
        n += snprintf(text + n, sizeof text - (size_t)n, "cuda_graph_steps = %ld\n", t->graph_steps);
    if (ranks > 1 || t->comm_seconds > 0)
        snprintf(text + n, sizeof text - (size_t)n, "ranks = %d\ncomm_seconds = %.3f\n", ranks, t->comm_seconds);
    char *tmp = gs_malloc(strlen(path) + 8);
    sprintf(tmp, "%s.tmp", path);
    int rc = fs_write_text(tmp, text);
    if (rc == 0 && rename(tmp, path) != 0) rc = gs_error("%s: cannot write: %s", path, strerror(errno));
    free(tmp);
    return rc;
}
