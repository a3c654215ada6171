#!/usr/bin/env bash
# Everything GPU-side in one run, for a machine with an NVIDIA GPU:
#   1. environment (nvidia-smi, nvcc, cuDNN location);
#   2. configure + build with -DGESTURE_CUDA=ON -DGESTURE_WERROR=ON (or use a prebuilt bundle);
#   3. the GPU tests (must PASS, not skip): op twins vs CPU ops, GPU executor vs CPU executor;
#      on a failure they are rerun with GESTURE_CUDA_SYNC=1 so the faulting op is named;
#   4. compute-sanitizer memcheck, racecheck, synccheck on the op tests (memcheck on the model test);
#   5. the rest of the ctest suite (informational: it needs the CPU-side Python fixtures);
#   6. benchmarks: `gesture bench` with runtime.device=cuda (15 and 30 frames) and the PyTorch peer
#      (fp32, and AMP + channels_last), ending with a table.
# Logs go to $OUT (the device tool's output folder) if set, else build-gpu/gpu_check/.
# Usage: scripts/gpu_check.sh [--prebuilt DIR] [--steps N] [--no-sanitizer] [--no-bench]
#   --prebuilt DIR: DIR/bin holds gesture + test_cuda_* built elsewhere (scripts/gpu_bundle.sh),
#                   DIR/lib.tar.xz the host libraries they need; no build, no ctest.
set -uo pipefail
cd "$(dirname "$0")/.."
PREBUILT=""; STEPS=20; SANITIZE=1; BENCH=1
while (($#)); do
  case "$1" in
    --prebuilt) PREBUILT=$2; shift 2 ;;
    --steps) STEPS=$2; shift 2 ;;
    --no-sanitizer) SANITIZE=0; shift ;;
    --no-bench) BENCH=0; shift ;;
    *) echo "usage: $0 [--prebuilt DIR] [--steps N] [--no-sanitizer] [--no-bench]" >&2; exit 2 ;;
  esac
done
LOG=${OUT:-build-gpu/gpu_check}
mkdir -p "$LOG"
PY=${PYTHON:-python3}
declare -a ROWS=()
FAILED=0
row() { ROWS+=("| $1 | $2 | $3 |"); [[ $2 == FAIL ]] && FAILED=1; return 0; }

echo "== 1. environment"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1 | tee "$LOG/env.txt"
command -v nvcc >/dev/null && nvcc --version | tail -2 | tee -a "$LOG/env.txt"
# cuDNN / cuBLAS may live in the toolkit or only in Python wheels (nvidia-cudnn-cu13): find them.
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/lib/x86_64-linux-gnu \
         $($PY -c 'import nvidia, os; print(" ".join(os.path.join(p, q, "lib") for p in nvidia.__path__ for q in os.listdir(p)))' 2>/dev/null); do
  [[ -d $d ]] && ls "$d" 2>/dev/null | grep -qE '^lib(cudnn|cublas)' && export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
done
echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}" | tee -a "$LOG/env.txt"

echo "== 2. build"
if [[ -n $PREBUILT ]]; then
  BIN=$PREBUILT/bin
  if [[ -f $PREBUILT/lib.tar.xz ]]; then
    mkdir -p /tmp/gesture-libs && tar -xJf "$PREBUILT/lib.tar.xz" -C /tmp/gesture-libs
    export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}/tmp/gesture-libs"  # after the CUDA dirs
  fi
  if ldd "$BIN/gesture" | grep -q 'not found'; then
    ldd "$BIN/gesture" | grep 'not found'; row build FAIL "prebuilt binaries miss libraries (above)"
  else
    row build ok "prebuilt: $PREBUILT"
  fi
  GESTURE=$BIN/gesture; TBIN=$BIN
else
  if cmake -S . -B build-gpu -DGESTURE_CUDA=ON -DGESTURE_WERROR=ON -DCMAKE_BUILD_TYPE=Release >"$LOG/configure.log" 2>&1 &&
     cmake --build build-gpu -j"$(nproc)" >"$LOG/build.log" 2>&1; then
    row build ok "build-gpu, -Werror, sm_90"
  else
    tail -30 "$LOG/configure.log" "$LOG/build.log"
    row build FAIL "see build.log (missing host packages? scripts/setup.sh, or --prebuilt)"
  fi
  GESTURE=build-gpu/gesture; TBIN=build-gpu/tests
fi

echo "== 3. GPU tests"
for t in test_cuda_ops test_cuda_ops_head test_cuda_model; do
  [[ -x $TBIN/$t ]] || { row "$t" FAIL "not built"; continue; }
  "$TBIN/$t" >"$LOG/$t.log" 2>&1; rc=$?
  summary=$(grep -E '^[0-9]+ passed' "$LOG/$t.log" | tail -1)
  if ((rc == 0)); then row "$t" ok "$summary"
  elif ((rc == 77)); then row "$t" FAIL "skipped: $(grep SKIP "$LOG/$t.log")"
  else
    grep -E '^FAIL|gesture:' "$LOG/$t.log" | head -20
    GESTURE_CUDA_SYNC=1 "$TBIN/$t" >"$LOG/$t.sync.log" 2>&1
    row "$t" FAIL "rc $rc, $summary; rerun with GESTURE_CUDA_SYNC=1 in $t.sync.log"
  fi
done

echo "== 4. compute-sanitizer"
CS=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)
if ((SANITIZE)) && [[ -n $CS ]]; then
  for spec in "memcheck test_cuda_ops" "memcheck test_cuda_ops_head" "memcheck test_cuda_model" \
              "racecheck test_cuda_ops" "racecheck test_cuda_ops_head" "synccheck test_cuda_ops"; do
    read -r tool t <<<"$spec"
    [[ -x $TBIN/$t ]] || continue
    "$CS" --tool "$tool" --error-exitcode 99 "$TBIN/$t" >"$LOG/cs_${tool}_$t.log" 2>&1; rc=$?
    errs=$(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$LOG/cs_${tool}_$t.log" | tail -1)
    if ((rc == 0)); then row "$tool $t" ok "${errs:-clean}"
    else grep -m5 -E '=========' "$LOG/cs_${tool}_$t.log"; row "$tool $t" FAIL "rc $rc ${errs}"; fi
  done
else
  row compute-sanitizer skipped "${CS:-not found}"
fi

echo "== 5. rest of the ctest suite (informational)"
if [[ -z $PREBUILT && -d build-gpu ]]; then
  (cd build-gpu && ctest -E cuda -j"$(nproc)" >"../$LOG/ctest.log" 2>&1)
  row "ctest -E cuda" info "$(grep -E 'tests passed|tests failed' "$LOG/ctest.log" | tail -1)"
fi

echo "== 6. benchmarks"
field() { awk -v p="$1" '$1 == p {print $2}' "$2"; }
declare -a BROWS=()
if ((BENCH)); then
  for T in 15 30; do
    f="$LOG/bench_gesture_T$T.txt"
    if "$GESTURE" bench experiments/seed_15f.ini --steps "$STEPS" --set runtime.device=cuda --set data.frames=$T >"$f" 2>&1; then
      BROWS+=("| gesture CUDA fp32 | $T | $(field train "$f") | $(field inference "$f") |")
    else
      tail -5 "$f"; row "bench gesture T$T" FAIL "see $(basename "$f")"
    fi
    for mode in "fp32|" "amp+channels_last|--amp --channels-last"; do
      label=${mode%%|*}; flags=${mode#*|}
      f="$LOG/bench_torch_${label//+/_}_T$T.txt"
      if $PY benchmarks/peer_torch.py --device cuda --frames $T --steps "$STEPS" $flags >"$f" 2>&1; then
        BROWS+=("| PyTorch $label | $T | $(field train "$f") | $(field inference "$f") |")
      else
        tail -3 "$f"; BROWS+=("| PyTorch $label | $T | failed | failed |")
      fi
    done
  done
fi

echo
echo "| check | status | detail |"
echo "|---|---|---|"
printf '%s\n' "${ROWS[@]}"
if ((${#BROWS[@]})); then
  echo
  echo "| benchmark (B4 S224 alpha 1.0) | frames | train img/s | inference img/s |"
  echo "|---|---|---|---|"
  printf '%s\n' "${BROWS[@]}"
  echo "(PyTorch fp32 uses cuDNN's TF32 convolutions by default; gesture CUDA is strict FP32.)"
fi
exit $FAILED
