#!/usr/bin/env bash
# The loader test under valgrind memcheck: no leaks (worker threads joined, slots, cache and
# dataset freed) and no invalid reads/writes across the worker/consumer hand-off. Skips (77)
# when valgrind is not installed (scripts/setup.sh installs it).
set -uo pipefail
: "${GESTURE:?GESTURE must point to the gesture binary}"
if ! command -v valgrind >/dev/null 2>&1; then
    echo "valgrind not installed: skipping (scripts/setup.sh installs it)"
    exit 77
fi
BIN="$(dirname "$GESTURE")/tests/test_loader"
if [ ! -x "$BIN" ]; then
    echo "FAIL: loader test binary not found at $BIN"
    echo "0 passed, 1 failed"
    exit 1
fi
valgrind --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible \
    --error-exitcode=1 -q "$BIN"
rc=$?
if [ $rc -eq 0 ]; then
    echo "ok   valgrind memcheck: no leaks, no memory errors in test_loader"
    echo "1 passed, 0 failed"
else
    echo "FAIL valgrind memcheck (exit $rc)"
    echo "0 passed, 1 failed"
fi
exit $rc
