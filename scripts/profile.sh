#!/usr/bin/env bash
# Profile a window of GPU training steps of `gesture bench` (runtime.device=cuda): the bench calls
# cudaProfilerStart/Stop around train steps START..START+COUNT-1 (runtime.profile_steps), so only
# warm steps are captured, with NVTX ranges per layer and phase.
#   Nsight Systems if `nsys` is found: timeline + kernel and NVTX summaries;
#   else Nsight Compute (`ncu`, replays each kernel: keep COUNT at 1): per-kernel speed-of-light.
# Output in $OUT if set, else build-gpu/profile/. Usage:
#   scripts/profile.sh [CONFIG.ini] [--start S] [--count C] [--bin PATH/gesture] [--set k=v]...
set -uo pipefail
cd "$(dirname "$0")/.."
CONFIG=experiments/seed_15f.ini; START=3; COUNT=2; BIN=build-gpu/gesture; SETS=()
while (($#)); do
  case "$1" in
    --start) START=$2; shift 2 ;;
    --count) COUNT=$2; shift 2 ;;
    --bin) BIN=$2; shift 2 ;;
    --set) SETS+=(--set "$2"); shift 2 ;;
    -*) echo "usage: $0 [CONFIG.ini] [--start S] [--count C] [--bin PATH] [--set k=v]..." >&2; exit 2 ;;
    *) CONFIG=$1; shift ;;
  esac
done
LOG=${OUT:-build-gpu/profile}
mkdir -p "$LOG"
[[ -x $BIN ]] || { echo "$BIN not built (scripts/gpu_check.sh builds build-gpu/gesture)" >&2; exit 1; }
STEPS=$((START + COUNT))
RUN=("$BIN" bench "$CONFIG" --steps "$STEPS" --set runtime.device=cuda --set runtime.profile_steps="$START:$COUNT" "${SETS[@]}")
NSYS=$(command -v nsys || ls /opt/nvidia/nsight-systems/*/bin/nsys /usr/local/cuda/bin/nsys 2>/dev/null | head -1)
NCU=$(command -v ncu || ls /usr/local/cuda/bin/ncu 2>/dev/null | head -1)
if [[ -n $NSYS ]]; then
  "$NSYS" profile --capture-range=cudaProfilerApi --capture-range-end=stop -t cuda,nvtx,cublas,cudnn \
    --force-overwrite true -o "$LOG/gesture_steps" "${RUN[@]}" || exit 1
  "$NSYS" stats --report cuda_gpu_kern_sum,nvtx_sum,cuda_api_sum --format csv -o "$LOG/gesture_steps" \
    "$LOG/gesture_steps.nsys-rep" >/dev/null || exit 1
  echo "top kernels by total GPU time ($COUNT steps):"
  head -25 "$LOG"/gesture_steps_cuda_gpu_kern_sum.csv | cut -d, -f1-4,9 | column -s, -t
elif [[ -n $NCU ]]; then
  echo "nsys not found: per-kernel Nsight Compute summary instead (one replayed step)"
  "$NCU" --profile-from-start off --section SpeedOfLight --print-summary per-kernel "${RUN[@]}" \
    >"$LOG/ncu_summary.txt" 2>&1 || { tail -20 "$LOG/ncu_summary.txt"; exit 1; }
  grep -E '^  [A-Za-z_].*\(|Duration|Memory Throughput|Compute \(SM\)' "$LOG/ncu_summary.txt" | head -120
else
  echo "neither nsys nor ncu found: nothing to profile with" >&2
  exit 1
fi
