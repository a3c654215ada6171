#include "fuzzutil.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sanitizer/common_interface_defs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gesture/errors.h"

static char g_dir[PATH_MAX];

static void remove_dir(void) {
    if (!g_dir[0]) return;
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "fuzz: could not remove %s\n", g_dir);
}

// In a child forked by the code under test (the HDF5 readers' probe, src/io/h5util.c), a sanitizer
// report is the child's verdict on a damaged file, which the parent turns into an error: libFuzzer's
// death callback must not save the input as a crash there, and the report goes to /dev/null unless
// FUZZ_VERBOSE is set.
static void child_death(void) {}
static void in_child(void) {
    __sanitizer_set_death_callback(child_death);
    if (!getenv("FUZZ_VERBOSE")) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) __sanitizer_set_report_fd((void *)(long)fd);
    }
}

const char *fuzz_dir(void) {
    if (g_dir[0]) return g_dir;
    pthread_atfork(NULL, NULL, in_child);
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/gesture-fuzz.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir)) {
        perror("fuzz: mkdtemp");
        abort();
    }
    atexit(remove_dir);
    return g_dir;
}

const char *fuzz_write(const char *name, const uint8_t *data, size_t size) {
    static char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", fuzz_dir(), name);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    mkdir(path, 0755);  // name's subfolder, if any (EEXIST otherwise)
    *slash = '/';
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(path);
        abort();
    }
    return path;
}

int fuzz_note(int rc) {
    static int verbose = -1;
    if (verbose < 0) verbose = getenv("FUZZ_VERBOSE") != NULL;
    if (rc != 0 && verbose) fprintf(stderr, "fuzz: %s\n", gs_last_error());
    return rc;
}
