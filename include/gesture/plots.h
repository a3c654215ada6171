// Figures (training curves, confusion matrices, sample strips, run comparisons) are drawn by
// scripts/plots.py with matplotlib; these helpers find that script and run it with Debian's Python.
//
// The script is looked up relative to the running executable (so a build tree or an install works
// wherever it is moved): <exe dir>/../scripts/plots.py, <exe dir>/../share/gesture/plots.py,
// <exe dir>/scripts/plots.py, then the source tree the binary was built from. The interpreter is
// $GESTURE_PYTHON if set, else /usr/bin/python3 (it has matplotlib, numpy and h5py; a pyenv
// `python3` on PATH usually does not).
#ifndef GESTURE_PLOTS_H
#define GESTURE_PLOTS_H

#include <stddef.h>

// Full path of scripts/plots.py into buf. 0, or -1 + gs_error when it cannot be found.
int plots_script_path(char *buf, size_t n);

// Run `python plots.py args[0] ... args[n_args-1]` and wait for it. 0 when it succeeded; -1 + gs_error
// saying what failed and what to do (install python3-matplotlib / python3-h5py, or pass --no-plots)
// when the interpreter or script is missing, a module is missing, or the script failed.
int plots_run(const char *const *args, int n_args);

#endif
