#!/usr/bin/env bash
# Everything GPU-side in one run, for a machine with an NVIDIA GPU, in stages ordered by value:
#   env (nvidia-smi, nvcc, CUDA libraries) -> [build] -> every GPU test, which must PASS, not skip:
#   test_cuda_ops, test_cuda_ops_head (op twins vs CPU ops), test_cuda_model (GPU vs CPU executor),
#   test_cuda_graph (graph replay vs eager, bitwise), any other test_cuda_* binary, then every
#   tests/test_*cuda*.sh (test_train_cuda: `gesture train`/`eval` on cpu vs cuda, graph on/off,
#   Ctrl-C + --resume) -> compute-sanitizer (memcheck, racecheck, synccheck) -> benchmarks
#   (`gesture bench` on cuda at 15 and 30 frames, PyTorch peer fp32 and AMP + channels_last)
#   -> [rest of the ctest suite, informational, build mode only].
# A failing test is rerun with GESTURE_CUDA_SYNC=1 so that the faulting op is named.
# GESTURE_CUDNN_LOG=1 is set for every stage: the cuDNN algorithms chosen per conv shape are
# collected into cudnn_algos.txt.
#
# Output (in $OUT, the device tool's folder, else build-gpu/gpu_check/), written as the run goes so
# that a run killed by a time limit still leaves what finished (4 files; the device tool returns 8):
#   results.md      one table row per stage, appended when the stage ends (status, seconds, detail)
#   logs.txt        every finished stage's output, appended when the stage ends
#   current.log     the output of the stage running now (left behind only by a killed run)
#   cudnn_algos.txt the GESTURE_CUDNN_LOG lines, prefixed by the stage that printed them
# Time: every stage runs under `timeout` (its cap, shortened to what is left of --budget, default
# 480 s = 8 min after the build; the benchmarks' share is kept free until they run). A stage with
# under 5 s left is recorded as skipped. Wall times of the same stages on the CPU emulator
# (`--emu build`, 2 shared cores; GPU times are unknown and expected lower, plus CUDA/cuDNN start-up
# of a few seconds per process, and sanitizers 10-100x slower than plain runs):
#   test_cuda_ops 1.2 s, test_cuda_ops_head 0.2 s, test_cuda_model 3 s, test_cuda_graph 5 s,
#   test_train_cuda.sh 26-36 s; bench at 224x224 does not finish on the emulator (times out).
#
# Usage: scripts/gpu_check.sh [--prebuilt DIR | --emu BUILD] [--budget S] [--steps N]
#                             [--no-sanitizer] [--no-bench] [--dry-run]
#   --prebuilt DIR: DIR/bin holds gesture + test_cuda_* built elsewhere (scripts/gpu_bundle.sh),
#                   DIR/tests the script tests, DIR/lib.tar.xz the host libraries; no build, no ctest.
#   --emu BUILD:    run the same stages on the CPU emulator's binaries in BUILD (gesture-emu,
#                   tests/cuda_emu/test_cuda_*_emu): checks this script, says nothing about a GPU.
#   --dry-run:      print each stage's command and timeout, run nothing.
#   COMPUTE_SANITIZER=path overrides where compute-sanitizer is looked for.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
PREBUILT=""; EMU=""; STEPS=20; SANITIZE=1; BENCH=1; BUDGET=480; DRY=0
usage() {
  echo "usage: $0 [--prebuilt DIR | --emu BUILD] [--budget S] [--steps N] [--no-sanitizer] [--no-bench] [--dry-run]" >&2
  exit 2
}
while (($#)); do
  case "$1" in
    --prebuilt) PREBUILT=${2:?--prebuilt wants a directory}; shift 2 ;;
    --emu) EMU=${2:?--emu wants a build directory}; shift 2 ;;
    --budget) BUDGET=${2:?--budget wants seconds}; shift 2 ;;
    --steps) STEPS=${2:?--steps wants a number}; shift 2 ;;
    --no-sanitizer) SANITIZE=0; shift ;;
    --no-bench) BENCH=0; shift ;;
    --dry-run) DRY=1; shift ;;
    *) usage ;;
  esac
done
[[ -n $PREBUILT && -n $EMU ]] && { echo "gpu_check: --prebuilt and --emu exclude each other" >&2; exit 2; }
[[ $BUDGET =~ ^[0-9]+$ ]] || { echo "gpu_check: --budget wants whole seconds, got '$BUDGET'" >&2; exit 2; }

LOG=${OUT:-build-gpu/gpu_check}
mkdir -p "$LOG"
RESULTS=$LOG/results.md LOGS=$LOG/logs.txt CUR=$LOG/current.log ALGOS=$LOG/cudnn_algos.txt
printf '| stage | status | seconds | detail |\n|---|---|---|---|\n' >"$RESULTS"
: >"$LOGS"; : >"$ALGOS"
export GESTURE_CUDNN_LOG=1
FAILED=0
DEADLINE=$((SECONDS + BUDGET))  # restarted after a build
BENCH_RESERVE=$((BENCH ? 90 : 0))

# row STAGE STATUS SECONDS DETAIL: one line of results.md, written now.
row() {
  printf '| %s | %s | %s | %s |\n' "$1" "$2" "$3" "$4" | tee -a "$RESULTS"
  [[ $2 == FAIL ]] && FAILED=1
  return 0
}

# A stage's log into logs.txt; a huge one (a sanitizer gone wild) keeps its first and last MiB.
keep_log() {
  local size; size=$(stat -c %s "$CUR" 2>/dev/null || echo 0)
  if ((size > 3 * 1048576)); then
    head -c 1048576 "$CUR"; printf '\n[... %d bytes left out ...]\n' $((size - 2097152)); tail -c 1048576 "$CUR"
  else
    cat "$CUR"
  fi
}

# stage NAME CAP RESERVE CMD...: run CMD under `timeout` (CAP seconds, or less so that RESERVE
# seconds of the budget stay free), output in current.log, then appended to logs.txt; sets RC
# (124: timed out) and DUR. Returns 1 when it did not run (out of budget, --dry-run: row written).
stage() {
  local name=$1 cap=$2 reserve=$3; shift 3
  local t=$((DEADLINE - SECONDS - reserve))
  ((cap < t)) && t=$cap
  if ((t < 5)); then row "$name" skipped - "out of time (--budget $BUDGET)"; return 1; fi
  if ((DRY)); then row "$name" dry-run - "timeout ${t}s: $*"; return 1; fi
  echo "== $name (timeout ${t}s)"
  local t0=$SECONDS
  timeout -k 5 "$t" "$@" >"$CUR" 2>&1
  RC=$?
  DUR=$((SECONDS - t0))
  # -o: a test's block-buffered stdout may end mid-line where the (unbuffered) stderr line starts
  grep -ho 'gesture: cudnn conv.*' "$CUR" | sed "s/^/$name: /" >>"$ALGOS"
  { echo "===== $name: rc $RC, ${DUR} s (timeout ${t} s): $*"; keep_log; echo; } >>"$LOGS"
  return 0
}
timed_out() { ((RC == 124 || RC == 137)); }

stage_env() {
  local f=$LOG/env.tmp
  {
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1 || echo "nvidia-smi: not found"
    command -v nvcc >/dev/null && nvcc --version | tail -2
    # cuDNN / cuBLAS may live in the toolkit or only in Python wheels (nvidia-cudnn-cu13): find them.
    for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/lib/x86_64-linux-gnu \
             $(python3 -c 'import nvidia, os; print(" ".join(os.path.join(p, q, "lib") for p in nvidia.__path__ for q in os.listdir(p)))' 2>/dev/null); do
      [[ -d $d ]] && ls "$d" 2>/dev/null | grep -qE '^lib(cudnn|cublas)' && export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    done
    echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
    # the script test compares checkpoints with h5py: the first python that has it and numpy
    for py in python3 /usr/bin/python3; do
      if "$py" -c 'import h5py, numpy' 2>/dev/null; then GESTURE_PYTHON=$(command -v "$py"); export GESTURE_PYTHON; break; fi
    done
    echo "GESTURE_PYTHON=${GESTURE_PYTHON:-none (no python with h5py + numpy: the last.h5 check of test_train_cuda fails)}"
  } >"$f" 2>&1
  { echo "===== env"; cat "$f"; echo; } >>"$LOGS"; cat "$f"
  local gpu; gpu=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)
  row env info - "GPU: ${gpu:-none found}; h5py python: ${GESTURE_PYTHON:-none}"
  rm -f "$f"
}

# Sets GESTURE (the CLI), TBIN (the test binaries) and SRC (where the script tests are).
stage_binaries() {
  SRC=$PWD
  if [[ -n $EMU ]]; then  # the emulator's binaries under the GPU binaries' names
    local e=$EMU/tests/cuda_emu t
    TBIN=$(mktemp -d); trap 'rm -rf "$TBIN"' EXIT
    GESTURE=$TBIN/gesture
    for t in "$e/gesture-emu" "$e"/test_cuda_*_emu; do
      [[ -x $t ]] && ln -s "$(realpath "$t")" "$TBIN/$(basename "${t%_emu}" | sed 's/^gesture-emu$/gesture/')"
    done
    if [[ -x $GESTURE ]]; then row binaries info - "CPU emulator: $e (NOT a GPU result)"
    else row binaries FAIL - "no $e/gesture-emu (cmake --build $EMU --target gesture-emu)"; fi
  elif [[ -n $PREBUILT ]]; then
    TBIN=$PREBUILT/bin GESTURE=$PREBUILT/bin/gesture
    [[ -d $PREBUILT/tests ]] && SRC=$(realpath "$PREBUILT")
    if [[ -f $PREBUILT/lib.tar.xz ]]; then
      mkdir -p /tmp/gesture-libs && tar -xJf "$PREBUILT/lib.tar.xz" -C /tmp/gesture-libs
      export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}/tmp/gesture-libs"  # after the CUDA dirs
    fi
    if ldd "$GESTURE" | grep -q 'not found'; then
      ldd "$GESTURE" | grep 'not found'; row build FAIL - "prebuilt binaries miss libraries (above)"
    else
      row build ok - "prebuilt: $PREBUILT"
    fi
  else
    TBIN=build-gpu/tests GESTURE=build-gpu/gesture
    DEADLINE=$((SECONDS + 1800))  # the build is not part of the budget
    local cfg="-DGESTURE_CUDA=ON -DGESTURE_WERROR=ON -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=native"
    if stage build 1800 0 bash -c "cmake -S . -B build-gpu $cfg && cmake --build build-gpu -j$(nproc)"; then
      if ((RC == 0)); then row build ok "$DUR" "build-gpu, -Werror, native arch"
      else tail -30 "$CUR"; row build FAIL "$DUR" "rc $RC, see logs.txt (missing host packages? scripts/setup.sh, or --prebuilt)"; fi
    fi
    DEADLINE=$((SECONDS + BUDGET))
  fi
}

# gpu_test NAME CAP: a test binary must pass (exit 0), not skip (77); a failure is rerun with
# GESTURE_CUDA_SYNC=1 (when time is left) so that the op that faulted is named.
gpu_test() {
  local t=$1 cap=$2
  [[ -x $TBIN/$t ]] || { row "$t" FAIL - "not built"; return; }
  stage "$t" "$cap" "$BENCH_RESERVE" "$TBIN/$t" || return
  local summary; summary=$(grep -E '^[0-9]+ passed' "$CUR" | tail -1)
  if ((RC == 0)); then row "$t" ok "$DUR" "$summary"
  elif ((RC == 77)); then row "$t" FAIL "$DUR" "skipped: $(grep -m1 -i 'skip' "$CUR")"
  elif timed_out; then row "$t" FAIL "$DUR" "timed out${summary:+; $summary}"
  else
    grep -E '^FAIL|gesture:' "$CUR" | grep -v 'cudnn conv' | head -20
    row "$t" FAIL "$DUR" "rc $RC, $summary"
    if stage "$t-sync" "$cap" "$BENCH_RESERVE" env GESTURE_CUDA_SYNC=1 "$TBIN/$t"; then
      row "$t-sync" info "$DUR" "rerun with GESTURE_CUDA_SYNC=1: rc $RC, $(grep -E '^gesture:' "$CUR" | grep -v 'cudnn conv' | tail -1)"
    fi
  fi
}

# Every GPU test binary: the known ones in order of value, then any other test_cuda_* (not the
# emulator's *_emu twins a full build also holds).
stage_gpu_tests() {
  local known="test_cuda_ops:90 test_cuda_ops_head:60 test_cuda_model:120 test_cuda_graph:120" spec b
  for spec in $known; do gpu_test "${spec%%:*}" "${spec#*:}"; done
  for b in "$TBIN"/test_cuda_*; do
    b=$(basename "$b")
    [[ $b == *emu* || " $known " == *" $b:"* ]] || gpu_test "$b" 120
  done
}

# Every script test of the GPU path (tests/test_*cuda*.sh, as the emulator's ctest twins): it must pass.
stage_script_tests() {
  local f t summary
  for f in "$SRC"/tests/test_*cuda*.sh; do
    [[ -f $f ]] || { row "script tests" FAIL - "none in $SRC/tests"; return; }
    t=$(basename "$f" .sh)
    stage "$t" 240 "$BENCH_RESERVE" env GESTURE="$GESTURE" GESTURE_SOURCE_DIR="$SRC" bash "$f" || continue
    summary=$(grep -E '^[0-9]+ passed' "$CUR" | tail -1)
    if ((RC == 0)); then row "$t" ok "$DUR" "$summary"
    elif ((RC == 77)); then row "$t" FAIL "$DUR" "skipped: $(tail -1 "$CUR")"
    elif timed_out; then row "$t" FAIL "$DUR" "timed out${summary:+; $summary}"
    else grep -E '^FAIL' "$CUR"; row "$t" FAIL "$DUR" "rc $RC, $summary"; fi
  done
}

stage_sanitizers() {
  local cs=${COMPUTE_SANITIZER:-$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)}
  if ((!SANITIZE)) || [[ -z $cs ]]; then row compute-sanitizer skipped - "${cs:-not found}"; return; fi
  [[ -n $EMU && -z ${COMPUTE_SANITIZER:-} ]] && { row compute-sanitizer skipped - "emulator binaries"; return; }
  for spec in "memcheck test_cuda_ops" "memcheck test_cuda_ops_head" "racecheck test_cuda_ops" \
              "synccheck test_cuda_ops" "memcheck test_cuda_model" "racecheck test_cuda_ops_head"; do
    read -r tool t <<<"$spec"
    [[ -x $TBIN/$t ]] || { row "$tool $t" FAIL - "not built"; continue; }
    stage "$tool-$t" 120 "$BENCH_RESERVE" "$cs" --tool "$tool" --error-exitcode 99 "$TBIN/$t" || continue
    local errs; errs=$(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$CUR" | tail -1)
    if ((RC == 0)); then row "$tool $t" ok "$DUR" "${errs:-clean}"
    elif timed_out; then row "$tool $t" FAIL "$DUR" "timed out"
    else grep -m5 -E '=========' "$CUR"; row "$tool $t" FAIL "$DUR" "rc $RC ${errs}"; fi
  done
}

field() { awk -v p="$1" '$1 == p {print $2}' "$CUR"; }
declare -a BROWS=()
stage_bench() {
  ((BENCH)) || { row bench skipped - "--no-bench"; return; }
  for T in 15 30; do
    if stage "bench-gesture-T$T" 60 0 "$GESTURE" bench experiments/seed_15f.ini --steps "$STEPS" \
         --set runtime.device=cuda --set data.frames=$T; then
      if ((RC == 0)); then
        row "bench gesture T$T" ok "$DUR" "train $(field train) img/s, inference $(field inference) img/s"
        BROWS+=("| gesture CUDA fp32 | $T | $(field train) | $(field inference) |")
      else tail -5 "$CUR"; row "bench gesture T$T" FAIL "$DUR" "rc $RC$(timed_out && echo ', timed out')"; fi
    fi
    [[ -n $EMU ]] && { row "bench PyTorch T$T" skipped - "emulator run"; continue; }
    for mode in "fp32|" "amp+channels_last|--amp --channels-last"; do
      local label=${mode%%|*} flags=${mode#*|}
      stage "bench-torch-${label//+/_}-T$T" 60 0 python3 benchmarks/peer_torch.py --device cuda --frames $T \
        --steps "$STEPS" $flags || continue
      if ((RC == 0)); then
        row "bench PyTorch $label T$T" ok "$DUR" "train $(field train) img/s, inference $(field inference) img/s"
        BROWS+=("| PyTorch $label | $T | $(field train) | $(field inference) |")
      else tail -3 "$CUR"; row "bench PyTorch $label T$T" info "$DUR" "failed, rc $RC"; fi
    done
  done
}

stage_ctest_rest() {
  [[ -z $PREBUILT && -z $EMU && -d build-gpu ]] || return 0
  stage "ctest-rest" 300 0 bash -c 'cd build-gpu && ctest -E cuda -j"$(nproc)"' || return
  row "ctest -E cuda" info "$DUR" "$(grep -E 'tests passed|tests failed' "$CUR" | tail -1)"
}

stage_env
stage_binaries
stage_gpu_tests
stage_script_tests
stage_sanitizers
stage_bench
stage_ctest_rest
rm -f "$CUR"

echo
cat "$RESULTS"
if ((${#BROWS[@]})); then
  {
    echo
    echo "| benchmark (B4 S224 alpha 1.0) | frames | train img/s | inference img/s |"
    echo "|---|---|---|---|"
    printf '%s\n' "${BROWS[@]}"
    echo "(PyTorch fp32 uses cuDNN's TF32 convolutions by default; gesture CUDA is strict FP32.)"
  } | tee -a "$RESULTS"
fi
if [[ -s $ALGOS ]]; then
  echo; echo "cuDNN algorithms chosen (GESTURE_CUDNN_LOG=1; count, line):"
  sed 's/^[^:]*: //' "$ALGOS" | sort | uniq -c
fi
exit $FAILED
