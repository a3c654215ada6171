#!/usr/bin/env bash
# Data-parallel scaling of `gesture train` over CPU ranks on this machine (docs/scaling.md): the same
# run (a synthetic set, the small config B4 T8 S96 alpha 0.35, data.cache on, 4 epochs) as
#   A  1 process x 1 thread          (one core: the unit of work)
#   B  1 process x all cores         (threads: what one process does with the machine)
#   C  N ranks x 1 thread, sync_bn on   (mpirun -np N, N = cores: every clip of a global batch of 4)
#   D  N ranks x 1 thread, sync_bn off  (per-rank BN statistics: no BN allreduces)
# and reports the training throughput (timing.ini: frames through training steps / their seconds,
# validation excluded) and the scaling efficiency C / (N x A): 100% = the N ranks lose nothing to
# communication or waiting. On a machine with N cores B and C use the same cores, so C / B compares
# ranks with threads. Needs a build with MPI (build/gesture; `gesture info` says mpi: yes).
# Usage: benchmarks/run_scaling.sh [--ranks N] [--epochs E] [--write]   (--write: results/scaling_cpu.md)
# Run it when the machine is otherwise idle: it prints the load average before and after.
set -euo pipefail
cd "$(dirname "$0")/.."
RANKS=$(nproc); EPOCHS=4; WRITE=0
while (($#)); do
  case "$1" in
    --ranks) RANKS=$2; shift 2 ;;
    --epochs) EPOCHS=$2; shift 2 ;;
    --write) WRITE=1; shift ;;
    *) echo "usage: $0 [--ranks N] [--epochs E] [--write]" >&2; exit 2 ;;
  esac
done
G=${GESTURE:-build/gesture}
"$G" info | grep -q '^mpi: yes' || { echo "$G was built without MPI (scripts/setup.sh installs it; rebuild)" >&2; exit 1; }
MPIRUN=(mpirun --oversubscribe)
[ "$(id -u)" -eq 0 ] && MPIRUN+=(--allow-run-as-root)
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
load() { cut -d' ' -f1-3 /proc/loadavg; }
load0=$(load)
"$G" synth "$T/raw" --clips-per-class 16 --frames 20 --seed 5 --quiet >/dev/null
"$G" prepare "$T/raw" "$T/prep" --split fraction --val-frac 0.2 --test-frac 0 >/dev/null
SETS=(--set data.root="$T/prep" --set data.size=96 --set data.frames=8 --set model.alpha=0.35 --set train.batch_size=4
      --set train.epochs="$EPOCHS" --set data.cache=on --set callbacks.early_stopping=off --set output.plots=off
      --set runtime.device=cpu --set model.pretrained= --set model.expect_pretrained=off)
ips() { sed -n 's/^train_img_per_s = //p' "$1/timing.ini"; }
comm() {  # share of the training steps rank 0 spent in collectives (waits for the other rank included)
  awk -F' = ' '$1 == "comm_seconds" {c = $2} $1 == "train_seconds" {t = $2} END {if (c != "") printf "%.0f%%", 100 * c / t}' "$1/timing.ini"
}
run() {  # NAME RANKS THREADS [--set ...]: img/s of that run
  local name=$1 n=$2 th=$3; shift 3
  if [ "$n" -eq 1 ]; then
    OMP_NUM_THREADS=$th "$G" train experiments/seed_15f.ini --run-dir "$T/$name" "${SETS[@]}" --set runtime.threads="$th" "$@" >"$T/$name.out" 2>&1
  else
    OMP_NUM_THREADS=$th "${MPIRUN[@]}" -np "$n" "$G" train experiments/seed_15f.ini --run-dir "$T/$name" "${SETS[@]}" --set runtime.threads="$th" "$@" >"$T/$name.out" 2>&1
  fi
  ips "$T/$name"
}
A=$(run a 1 1); B=$(run b 1 "$RANKS"); C=$(run c "$RANKS" 1 --set train.sync_bn=on); D=$(run d "$RANKS" 1 --set train.sync_bn=off)
load1=$(load)
eff() { awk -v x="$1" -v a="$A" -v n="$RANKS" 'BEGIN {printf "%.0f%%", 100 * x / (n * a)}'; }
table="| run | ranks x threads | train img/s | efficiency vs ${RANKS} x (1 x 1) | rank 0 in collectives |
|---|---|---|---|---|
| A one process | 1 x 1 | ${A} | | |
| B one process, threads | 1 x ${RANKS} | ${B} | $(eff "$B") | |
| C ranks, sync_bn on | ${RANKS} x 1 | ${C} | $(eff "$C") | $(comm "$T/c") |
| D ranks, sync_bn off | ${RANKS} x 1 | ${D} | $(eff "$D") | $(comm "$T/d") |"
echo "$table"
echo "load average before: $load0; after: $load1"
if ((WRITE)); then
  {
    echo "# Data-parallel scaling on this machine's CPU cores (benchmarks/run_scaling.sh)"
    echo
    echo "Measured $(date -u +%Y-%m-%d) on $(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2}'), $(nproc) cores,"
    echo "$(mpirun --version | head -1); load average before $load0, after $load1."
    echo "Run: synthetic set (80 clips: 64 train, 16 val), B4 T8 S96 alpha 0.35, data.cache on, ${EPOCHS} epochs,"
    echo "throughput from timing.ini (training steps only). Command: \`benchmarks/run_scaling.sh --write\`"
    echo
    echo "$table"
  } > benchmarks/results/scaling_cpu.md
  echo "wrote benchmarks/results/scaling_cpu.md"
fi
