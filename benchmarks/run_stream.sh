#!/usr/bin/env bash
# Live-recognition benchmark: `gesture stream` on a video file beside two PyTorch peers
# (benchmarks/peer_stream_torch.py: the whole window recomputed per hop, as a notebook would, and a
# per-frame feature cache like gesture's), at the seed config (alpha 1.0, 224, T 15) and the
# quickstart size (alpha 0.35, 96, T 8), 1 and 2 threads, hop 1 (a window per frame: the worst
# case). gesture's numbers are its own summary: compute latency per model frame p50/p99 (features +
# head) and sustained model frames/s over the whole file (decoding included, on its own thread).
# The runs of each row are interleaved (gesture, torch, gesture, torch) and the median taken.
# Usage: benchmarks/run_stream.sh [--rounds N] [--write]   (--write: benchmarks/results/stream_cpu.md)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=2; WRITE=0
while (($#)); do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --write) WRITE=1; shift ;;
    *) echo "usage: $0 [--rounds N] [--write]" >&2; exit 2 ;;
  esac
done
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build -j"$(nproc)" --target gesture >/dev/null
G=$PWD/build/gesture PY=${PYTHON:-/usr/bin/python3}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export GOMP_SPINCOUNT=10000  # the decoder thread shares the cores: OpenMP workers must not spin long

# A checkpoint of each config: one short epoch on a small synthetic set (speed does not depend on
# the weights), and a 20 s test video at 360x360.
"$G" synth "$W/raw" --clips-per-class 2 --val-per-class 1 --frames 30 --big-fraction 1 --quiet
"$G" prepare "$W/raw" "$W/prep" --split fraction --val-frac 0.3 --test-frac 0.1 --quiet >/dev/null
"$G" synth-long "$W/long.mp4" --gestures 10 --size 360x360 --idle 1 --seed 3 >/dev/null
declare -A SETS=(
  [seed]="--set data.frames=15 --set data.frame_step=2 --set data.size=224 --set model.alpha=1.0"
  [quick]="--set data.frames=8 --set data.frame_step=3 --set data.size=96 --set model.alpha=0.35")
for c in seed quick; do
  "$G" train experiments/seed_15f.ini --set data.root="$W/prep" --set data.sampling=stride --set train.epochs=1 \
    --set train.batch_size=2 --set model.pretrained='""' --set output.plots=off ${SETS[$c]} --run-dir "$W/$c" \
    >"$W/$c.train" 2>&1 || { cat "$W/$c.train"; exit 1; }
done

median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
rows=""
for c in seed quick; do
  read -r A S T <<<"$([ $c = seed ] && echo 1.0 224 15 || echo 0.35 96 8)"
  for th in 1 2; do
    : >"$W/g" ; : >"$W/p"
    for r in $(seq "$ROUNDS"); do
      OMP_NUM_THREADS=$th "$G" stream "$W/$c" "$W/long.mp4" --hop 1 --threads "$th" --events-only \
        2>&1 >/dev/null | tr -d '(),' | awk '/model frames\/s/ {for (i = 1; i <= NF; i++) if ($i == "model" && $(i+1) == "frames/s") fps = $(i-1)}
          /compute p50/ {for (i = 1; i <= NF; i++) {if ($i == "p50") p50 = $(i+1); if ($i == "p99") {p99 = $(i+1); exit}}}
          END {print p50, p99, fps}' >>"$W/g"
      OMP_NUM_THREADS=$th "$PY" benchmarks/peer_stream_torch.py --alpha "$A" --size "$S" --frames-per-window "$T" \
        --hop 1 --threads "$th" --frames 60 >>"$W/p"
    done
    g50=$(awk '{print $1}' "$W/g" | median); g99=$(awk '{print $2}' "$W/g" | median); gfps=$(awk '{print $3}' "$W/g" | median)
    w50=$(awk '$1 == "window" {print $3}' "$W/p" | median); wfps=$(awk '$1 == "window" {print $7}' "$W/p" | median)
    c50=$(awk '$1 == "cache" {print $3}' "$W/p" | median); cfps=$(awk '$1 == "cache" {print $7}' "$W/p" | median)
    rows+="| $c (a$A S$S T$T) | $th | $g50 / $g99 | $gfps | $w50 | $wfps | $c50 | $cfps | $(awk -v a="$w50" -v b="$g50" 'BEGIN {printf "%.1fx", a / b}') | $(awk -v a="$c50" -v b="$g50" 'BEGIN {printf "%.2fx", a / b}') |"$'\n'
  done
done
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
torch=$("$PY" -c 'import torch; print(torch.__version__)')
table="# gesture stream vs PyTorch, per model frame (CPU)

$cpu, $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg); torch $torch; $(date -u +%Y-%m-%d).
hop 1 (a window every frame), fp32, batch 1. gesture: compute p50 / p99 ms (features + head) and
sustained model frames/s over a 20 s 360x360 H.264 file (decoder on its own thread). PyTorch:
p50 ms per frame and frames/s, window = whole window per hop, cache = per-frame features + ring.
Median of $ROUNDS interleaved rounds.

| config | threads | gesture p50 / p99 ms | gesture fps | torch window p50 ms | torch window fps | torch cache p50 ms | torch cache fps | window / gesture | cache / gesture |
|---|---|---|---|---|---|---|---|---|---|
$rows"
echo "$table"
if [ $WRITE = 1 ]; then
  mkdir -p benchmarks/results
  echo "$table" >benchmarks/results/stream_cpu.md
  echo "wrote benchmarks/results/stream_cpu.md"
fi
