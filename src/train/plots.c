// Runs scripts/plots.py (see gesture/plots.h) in a child process.
#include "gesture/plots.h"

#include <errno.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gesture/errors.h"

extern char **environ;

// Exit status plots.py uses when matplotlib, numpy or h5py cannot be imported.
#define PLOTS_EXIT_MISSING_MODULE 3
#define PLOTS_FIX "install python3-matplotlib and python3-h5py (scripts/setup.sh does), or pass --no-plots"

static int readable(const char *path) { return access(path, R_OK) == 0; }

int plots_script_path(char *buf, size_t n) {
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        static const char *const rel[] = {"/../scripts/plots.py", "/../share/gesture/plots.py", "/scripts/plots.py"};
        for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
            int w = snprintf(buf, n, "%s%s", exe, rel[i]);
            if (w > 0 && (size_t)w < n && readable(buf)) return 0;
        }
    }
#ifdef GESTURE_SOURCE_DIR
    int w = snprintf(buf, n, "%s/scripts/plots.py", GESTURE_SOURCE_DIR);
    if (w > 0 && (size_t)w < n && readable(buf)) return 0;
#endif
    return gs_error("cannot find scripts/plots.py beside the gesture binary (looked in <exe>/../scripts/); "
                    "run gesture from its build or install tree, or pass --no-plots");
}

int plots_run(const char *const *args, int n_args) {
    char script[PATH_MAX];
    if (plots_script_path(script, sizeof script) != 0) return -1;
    const char *py = getenv("GESTURE_PYTHON");
    if (!py || !*py) py = "/usr/bin/python3";
    if (access(py, X_OK) != 0)
        return gs_error("plots need Python 3 with matplotlib at %s (%s); install python3-matplotlib, set "
                        "GESTURE_PYTHON, or pass --no-plots",
                        py, strerror(errno));
    char **argv = gs_calloc((size_t)n_args + 3, sizeof(char *));
    argv[0] = (char *)py;
    argv[1] = script;
    for (int i = 0; i < n_args; i++) argv[i + 2] = (char *)args[i];
    fflush(stdout);
    fflush(stderr);
    pid_t pid;
    int rc = posix_spawn(&pid, py, NULL, NULL, argv, environ);
    free(argv);
    if (rc != 0) return gs_error("cannot start %s: %s; " PLOTS_FIX, py, strerror(rc));
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return gs_error("waiting for plots.py: %s", strerror(errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    const char *what = n_args > 0 ? args[0] : "";
    if (WIFEXITED(status) && WEXITSTATUS(status) == PLOTS_EXIT_MISSING_MODULE)
        return gs_error("plots.py %s: a Python module is missing for %s; " PLOTS_FIX, what, py);
    if (WIFEXITED(status))
        return gs_error("plots.py %s failed (exit %d, message above); pass --no-plots to skip figures", what,
                        WEXITSTATUS(status));
    return gs_error("plots.py %s was killed by signal %d; pass --no-plots to skip figures", what,
                    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}
