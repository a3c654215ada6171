#!/usr/bin/env bash
# libFuzzer targets (tests/fuzz/fuzz_TARGET.c): png, jpeg, config, dataset_csv, checkpoint, keras.
#   scripts/fuzz.sh TARGET [SECONDS]   fuzz for SECONDS (default 60); new corpus entries go to
#                                      build-fuzz/corpus/TARGET (the committed tests/fuzz/corpus/TARGET
#                                      is read, never written), crashes to build-fuzz/crashes/TARGET/
#   scripts/fuzz.sh TARGET replay      run the committed corpus once (-runs=0), exit non-zero on a crash
#   scripts/fuzz.sh TARGET FILE...     run the target on given inputs (reproduce a crash)
# Builds build-fuzz (CC=clang, -DGESTURE_FUZZ=ON: ASan+UBSan+libFuzzer) first when needed.
# Extra libFuzzer flags: FUZZ_FLAGS="-max_len=4096 -jobs=2" scripts/fuzz.sh png 300
set -euo pipefail
cd "$(dirname "$0")/.."
TARGETS=(png jpeg config dataset_csv checkpoint keras)
usage() { echo "usage: scripts/fuzz.sh {${TARGETS[*]}} [SECONDS|replay|FILE...]" >&2; exit 2; }
[ $# -ge 1 ] || usage
T=$1; shift
[[ " ${TARGETS[*]} " == *" $T "* ]] || usage
CC_FUZZ=${CC_FUZZ:-clang}
command -v "$CC_FUZZ" >/dev/null || { echo "fuzz: $CC_FUZZ not found (apt-get install clang)" >&2; exit 77; }
B=${FUZZ_BUILD:-build-fuzz}
if [ ! -f "$B/CMakeCache.txt" ]; then
  CC=$CC_FUZZ cmake -S . -B "$B" -DGESTURE_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$B" -j"$(nproc)" --target "fuzz_$T" >/dev/null
BIN=$B/tests/fuzz/fuzz_$T
SEEDS=tests/fuzz/corpus/$T
# Leaks count as crashes; UBSan stops at the first report.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
# libhdf5's own leaks on corrupt files are suppressed (tests/fuzz/lsan.supp says which).
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
if [ "${1:-}" = replay ]; then
  exec "$BIN" -runs=0 ${FUZZ_FLAGS:-} "$SEEDS"
fi
if [ $# -ge 1 ] && [ -e "$1" ]; then
  exec "$BIN" ${FUZZ_FLAGS:-} "$@"
fi
SECS=${1:-60}
# Per-input limit: the HDF5 readers' probe child may take up to 10 s before it is killed (src/io/h5util.c).
TIMEOUT=10
case $T in checkpoint | keras) TIMEOUT=30 ;; esac
mkdir -p "$B/corpus/$T" "$B/crashes/$T"
# -close_fd_mask=2: the readers' error messages (and HDF5's error stack) would flood the log.
exec "$BIN" -max_total_time="$SECS" -print_final_stats=1 -close_fd_mask=2 -timeout=$TIMEOUT -rss_limit_mb=4096 \
    -artifact_prefix="$B/crashes/$T/" ${FUZZ_FLAGS:-} "$B/corpus/$T" "$SEEDS"
