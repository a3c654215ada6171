#!/usr/bin/env bash
# CPU benchmark: `gesture bench` against the PyTorch peer (benchmarks/peer_torch.py) on the same
# machine and thread count, for the seed config (B4 T15 S224 alpha 1.0) and a small one
# (B4 T8 S96 alpha 0.35). Prints a markdown table with ratios; with --write, saves it to
# benchmarks/results/cpu.md. Usage: benchmarks/run_cpu.sh [--threads N] [--steps N] [--write]
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=$(nproc); STEPS=3; WRITE=0
while (($#)); do
  case "$1" in
    --threads) THREADS=$2; shift 2 ;;
    --steps) STEPS=$2; shift 2 ;;
    --write) WRITE=1; shift ;;
    *) echo "usage: $0 [--threads N] [--steps N] [--write]" >&2; exit 2 ;;
  esac
done
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build -j"$(nproc)" --target gesture >/dev/null
G=build/gesture
field() { awk -v p="$1" '$1 == p {print $2}'; }
rows=""
for cfg in "seed B4 T15 S224 a1.0|" "small B4 T8 S96 a0.35|--set data.size=96 --set data.frames=8 --set model.alpha=0.35"; do
  label=${cfg%%|*}; sets=${cfg#*|}
  read -r _ B T S A <<<"$label"
  B=${B#B}; T=${T#T}; S=${S#S}; A=${A#a}
  ours=$(OMP_NUM_THREADS=$THREADS $G bench experiments/seed_15f.ini --steps "$STEPS" --set runtime.threads="$THREADS" $sets)
  peer=$(OMP_NUM_THREADS=$THREADS ${PYTHON:-/usr/bin/python3} benchmarks/peer_torch.py --alpha "$A" --size "$S" --frames "$T" --batch "$B" --threads "$THREADS" --steps "$STEPS")
  echo "$ours"; echo "$peer"
  for phase in train inference; do
    o=$(echo "$ours" | field $phase); p=$(echo "$peer" | field $phase)
    r=$(awk -v o="$o" -v p="$p" 'BEGIN {printf "%.2f", o / p}')
    rows+="| ${label} | ${phase} | ${o} | ${p} | ${r}x |"$'\n'
  done
done
table="| config | phase | gesture img/s | PyTorch img/s | ratio |
|---|---|---|---|---|
${rows}"
echo; echo "$table"
if ((WRITE)); then
  {
    echo "# CPU benchmark: gesture vs PyTorch (same machine, same thread count)"
    echo
    echo "Measured $(date -u +%Y-%m-%d) on $(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2}'), ${THREADS} threads,"
    echo "PyTorch $(${PYTHON:-/usr/bin/python3} -c 'import torch; print(torch.__version__)') (Debian python3-torch), ${STEPS} timed steps after 1 warm-up."
    echo "Command: \`benchmarks/run_cpu.sh --threads ${THREADS} --steps ${STEPS} --write\`"
    echo
    echo "$table"
  } > benchmarks/results/cpu.md
  echo "wrote benchmarks/results/cpu.md"
fi
