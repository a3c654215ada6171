#!/usr/bin/env bash
# Data-parallel `gesture train` under mpirun (docs/scaling.md, README "Training on several GPUs or
# machines"); skipped (77) when this gesture was built without MPI or mpirun is missing.
#  - test_dist with 2 and 3 ranks: deterministic collectives; N ranks x B/N = 1 process x B over
#    several Adam steps (losses, gradients, BN moving statistics, weights, Adam moments; the tolerance
#    and why it is what it is: tests/test_dist.c);
#  - 2 ranks train the same run as one process: training_log.csv to its printed precision (accuracy,
#    learning rate, epochs exactly; losses within 2e-5 relative: float reduction order) for a short
#    run whose learning rate keeps the float-order differences from growing (a random-init BN network
#    is chaotic at float precision: one process at 1 and at 2 threads drifts apart just as much, so a
#    longer run can only agree statistically); rank 0 alone writes the run directory and prints;
#    two 2-rank runs are identical bit for bit (the collectives' fixed order);
#  - the same on 2 emulated GPUs (CUDA + NCCL through the emulator's stand-in) against one, and
#    test_cuda_dist_emu; more ranks than GPUs on a machine is refused;
#  - --resume with 2 ranks from a 1-process checkpoint and back, and mid-epoch (Ctrl-C through mpirun);
#  - a global batch that does not split over the ranks is refused before anything is created;
#  - a rank killed mid-epoch ends the job (mpirun names it) and a stopped (hung) rank ends it within
#    runtime.dist_timeout with a message naming it; either way the last checkpoint stays whole: the
#    run resumes from it.
set -u
G=${GESTURE:?} PY=${PYTHON:-/usr/bin/python3}
MPIEXEC=${MPIEXEC:-$(command -v mpirun || true)}
if ! "$G" info | grep -q '^mpi: yes'; then echo "skip: gesture built without MPI"; exit 77; fi
if [ -z "$MPIEXEC" ] || [ ! -x "$MPIEXEC" ]; then echo "skip: no mpirun"; exit 77; fi
T=$(mktemp -d)
mp_pid=
trap '[ -n "$mp_pid" ] && kill -9 "$mp_pid" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
. "${GESTURE_SOURCE_DIR:?}/tests/tiny_train.sh"
tiny_setup "$T" || exit 1
echo "device = cpu" >>"$T/tiny.ini"
export OMP_NUM_THREADS=1
# mpirun: 2 cores here, tests may run as root (CI containers)
MP=("$MPIEXEC" --oversubscribe --allow-run-as-root)
mp() { local n=$1; shift; "${MP[@]}" -np "$n" "$@"; }

DIST=$(dirname "$G")/tests/test_dist
for n in ${TEST_DIST_RANKS-2 3}; do  # TEST_DIST_RANKS= skips them (working on the CLI part)
  out=$(mp $n "$DIST" 2>&1)
  rc=$?
  printf '%s\n' "$out" | grep -E '^(FAIL|ok   (sync|rank 0/. allreduce of 100003))' | sed "s/^/  [$n ranks] /"
  ok "test_dist with $n ranks: collectives and N ranks x B/N = 1 x B" "[ $rc -eq 0 ] && ! grep -q FAIL <<<\"\$out\""
done
# the GPU path (NCCL) on the CUDA emulator, whose stand-in nccl.h sums through MPI
EMU_DIST=$(dirname "$G")/tests/cuda_emu/test_cuda_dist_emu
if [ -x "$EMU_DIST" ] && [ -n "${TEST_DIST_RANKS-x}" ]; then
  out=$(mp 2 "$EMU_DIST" 2>&1)
  rc=$?
  printf '%s\n' "$out" | grep -E '^(FAIL|ok   CUDA.*Adam steps)' | sed "s/^/  [2 emulated GPUs] /"
  ok "test_cuda_dist_emu with 2 ranks: CUDA + NCCL, N ranks x B/N = 1 x B" "[ $rc -eq 0 ] && ! grep -q FAIL <<<\"\$out\""
fi

# csv_close A B: the same rows; epoch, accuracy, learning_rate, val_accuracy equal; losses within 2e-5
csv_close() {
  "$PY" - "$1" "$2" <<'PY'
import csv, sys
a, b = (list(csv.DictReader(open(p))) for p in sys.argv[1:3])
ok = len(a) == len(b) > 0
for ra, rb in zip(a, b):
    for k in ("epoch", "accuracy", "learning_rate", "val_accuracy"):
        ok &= ra[k] == rb[k]
    for k in ("loss", "val_loss"):
        ok &= abs(float(ra[k]) - float(rb[k])) <= 2e-5 * abs(float(rb[k]))
        if abs(float(ra[k]) - float(rb[k])) > 2e-5 * abs(float(rb[k])): print(k, ra[k], rb[k])
sys.exit(0 if ok else 1)
PY
}
# The run of the equivalence checks: no dropout (masks are by global row, test_dist checks that), a
# learning rate at which float-order differences stay float-sized over 6 epochs of 8 steps.
EQ=(--set model.dropout=0 --set train.learning_rate=1e-9 --set callbacks.min_lr=0 --set train.epochs=6
    --set callbacks.early_stopping=off)
"$G" train "$T/tiny.ini" --run-dir "$T/one" "${EQ[@]}" >"$T/one.out" 2>&1
ok "one process: exit 0" "[ $? -eq 0 ]"
mp 2 "$G" train "$T/tiny.ini" --run-dir "$T/two" "${EQ[@]}" >"$T/two.out" 2>&1
ok "2 ranks: exit 0" "[ $? -eq 0 ]"
ok "2 ranks: training_log.csv = one process's to its printed precision" "csv_close '$T/two/training_log.csv' '$T/one/training_log.csv'"
ok "2 ranks: the banner says 2 ranks x 1 clip, sync_bn on" "grep -q 'batch 2 (2 ranks x 1), 1 threads per rank, cpu, sync_bn on' '$T/two.out'"
ok "2 ranks: each epoch line printed once (rank 0 alone prints)" "[ \$(grep -c '^epoch 1/6:' '$T/two.out') -eq 1 ]"
ok "2 ranks: the run directory holds the files of a one-process run" "[ \"\$(cd '$T/two' && find . -type f | sort)\" = \"\$(cd '$T/one' && find . -type f | sort)\" ]"
ok "2 ranks: config.ini = one process's (the global batch)" "cmp -s '$T/two/config.ini' '$T/one/config.ini'"
mp 2 "$G" train "$T/tiny.ini" --run-dir "$T/two_again" --set train.epochs=2 >/dev/null 2>&1
mp 2 "$G" train "$T/tiny.ini" --run-dir "$T/two_again2" --set train.epochs=2 >/dev/null 2>&1
ok "2 ranks repeat bit for bit (dropout and augmentation on): training_log.csv, weights, Adam moments" \
  "cmp -s '$T/two_again/training_log.csv' '$T/two_again2/training_log.csv' && same_tensors '$T/two_again/checkpoints/last.h5' '$T/two_again2/checkpoints/last.h5' weights optimizer"
ok "2 ranks: timing.ini says ranks = 2 and counts every rank's frames" \
  "grep -qx 'ranks = 2' '$T/two/timing.ini' && [ \"\$(sed -n 's/^train_images = //p' '$T/two/timing.ini')\" = \"\$(sed -n 's/^train_images = //p' '$T/one/timing.ini')\" ]"

# --resume across N: 1 epoch with one process, the rest with 2 ranks, and the reverse
"$G" train "$T/tiny.ini" --run-dir "$T/up" "${EQ[@]}" --set train.epochs=1 >"$T/up1.out" 2>&1
mp 2 "$G" train --resume "$T/up" --set train.epochs=6 >"$T/up2.out" 2>&1
ok "resume with 2 ranks from a 1-process checkpoint: exit 0, the same log" \
  "[ $? -eq 0 ] && csv_close '$T/up/training_log.csv' '$T/one/training_log.csv'"
mp 2 "$G" train "$T/tiny.ini" --run-dir "$T/down" "${EQ[@]}" --set train.epochs=1 >"$T/down1.out" 2>&1
"$G" train --resume "$T/down" --set train.epochs=6 >"$T/down2.out" 2>&1
ok "resume with 1 process from a 2-rank checkpoint: exit 0, the same log" \
  "[ $? -eq 0 ] && csv_close '$T/down/training_log.csv' '$T/one/training_log.csv'"
# mid-epoch stop: what mpirun does on Ctrl-C, minus its timing. OpenMPI sends SIGCONT, then SIGTERM
# odls_base_sigkill_timeout s later (default 1), then SIGKILL as many s after that; srun waits
# KillWait (30 s). Here the ranks get the SIGTERM at once: they agree at the next step and rank 0
# saves. (Whether a given window is long enough depends on the step time; gesture's start-up note
# about the 1 s default is checked below.)
"${MP[@]}" -np 2 "$G" train "$T/tiny.ini" --run-dir "$T/cut" "${EQ[@]}" >"$T/cut.out" 2>&1 &
mp_pid=$!
for _ in $(seq 1 3000); do grep -q '^epoch 2/6 step' "$T/cut.out" && break; sleep 0.01; done
pkill -TERM -P $mp_pid; wait $mp_pid; mp_pid=
grep 'interrupted' "$T/cut.out"
ok "SIGTERM to the ranks (mpirun, srun on Ctrl-C): rank 0 saved last.h5 mid-run" "grep -q 'interrupted: saved .*(epoch [2-6], step [1-8])' '$T/cut.out'"
"$G" train --resume "$T/cut" >"$T/cut2.out" 2>&1
ok "resume of that with one process: exit 0, the same log" "[ $? -eq 0 ] && csv_close '$T/cut/training_log.csv' '$T/one/training_log.csv'"
# at mpirun's default kill window gesture says how to widen it
ok "the start-up note on mpirun's 1 s kill window (2 ranks; not 1 process)" \
  "grep -q 'kills the ranks 1 s after.*odls_base_sigkill_timeout 30' '$T/two.out' && ! grep -q sigkill '$T/one.out'"

# the same run on 2 emulated GPUs (gesture-emu: the CUDA backend on the CPU emulator, NCCL through
# MPI) against one emulated GPU
GE=$(dirname "$G")/tests/cuda_emu/gesture-emu
if [ -x "$GE" ]; then
  CU=(--set runtime.device=cuda --set train.epochs=2)
  "$GE" train "$T/tiny.ini" --run-dir "$T/gpu1" "${EQ[@]}" "${CU[@]}" >"$T/gpu1.out" 2>&1
  # one GPU per rank: the emulator reports 2 (each process emulates its own anyway)
  GESTURE_CUDA_EMU_DEVICES=2 mp 2 "$GE" train "$T/tiny.ini" --run-dir "$T/gpu2" "${EQ[@]}" "${CU[@]}" >"$T/gpu2.out" 2>&1
  ok "2 emulated GPUs (CUDA + NCCL): exit 0, training_log.csv = one emulated GPU's to its printed precision" \
    "[ $? -eq 0 ] && grep -q 'batch 2 (2 ranks x 1), 1 threads per rank, cuda: CPU emulator' '$T/gpu2.out' && csv_close '$T/gpu2/training_log.csv' '$T/gpu1/training_log.csv'"
  out=$(mp 2 "$GE" train "$T/tiny.ini" --run-dir "$T/gpu3" "${CU[@]}" 2>&1)
  ok "2 ranks on a machine with 1 GPU: refused (one GPU per rank), nothing created" \
    "! [ -e '$T/gpu3' ] && grep -q '2 ranks on this machine but 1 GPU: data-parallel training takes one GPU per rank' <<<\"\$out\""
fi

out=$(mp 2 "$G" train "$T/tiny.ini" --run-dir "$T/odd" --set train.batch_size=3 2>&1)
ok "a batch of 3 over 2 ranks is refused, nothing created" \
  "! [ -e '$T/odd' ] && grep -q 'train.batch_size = 3 does not split over 2 ranks' <<<\"\$out\""

# rank_pid MPIRUN_PID R: the pid of rank R among mpirun's children
rank_pid() {
  local p
  for p in $(pgrep -P "$1"); do
    tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2" && { echo "$p"; return; }
  done
}
# fault SIGNAL: a 2-rank run with a 6 s timeout; once epoch 1 is saved and epoch 2 is under way, rank 1
# gets SIGNAL; prints the seconds from the signal to the end of the job
fault() {
  rm -rf "$T/f" "$T/f.out"
  "${MP[@]}" -np 2 "$G" train "$T/tiny.ini" --run-dir "$T/f" --set train.epochs=50 --set callbacks.early_stopping=off \
    --set runtime.dist_timeout=6 >"$T/f.out" 2>&1 &
  mp_pid=$!
  for _ in $(seq 1 3000); do grep -q '^epoch 2/50 step' "$T/f.out" && break; sleep 0.01; done
  local r1 t0
  for _ in $(seq 1 100); do r1=$(rank_pid $mp_pid 1); [ -n "$r1" ] && break; sleep 0.05; done
  t0=$(date +%s.%N)
  kill "-$1" "$r1"
  for _ in $(seq 1 600); do kill -0 $mp_pid 2>/dev/null || break; sleep 0.05; done
  kill -9 $mp_pid 2>/dev/null; wait $mp_pid 2>/dev/null; mp_pid=
  kill -9 "$r1" 2>/dev/null
  "$PY" -c "print(round($(date +%s.%N) - $t0, 1))"
}
secs=$(fault KILL)
grep -m1 'rank 1' "$T/f.out"
ok "rank 1 killed mid-epoch: the job ends within the 6 s timeout (${secs} s), naming rank 1" \
  "[ \$(\"\$PY\" -c 'print(int($secs < 6))') = 1 ] && grep -q 'rank 1' '$T/f.out'"
"$G" train --resume "$T/f" --set train.epochs=3 >"$T/f2.out" 2>&1
ok "and the last checkpoint is whole: one process resumes from it" "[ $? -eq 0 ] && grep -q '^resuming' '$T/f2.out'"
secs=$(fault STOP)
grep -m1 'no answer' "$T/f.out"
ok "rank 1 stopped (hangs) mid-epoch: rank 0 ends the job after the 6 s timeout (${secs} s), naming rank 1" \
  "[ \$(\"\$PY\" -c 'print(int(5.5 < $secs < 20))') = 1 ] && grep -q 'gesture: rank 0: no answer from rank 1 for 6 s' '$T/f.out' && ! grep -q 'rank 1: no answer' '$T/f.out'"
"$G" train --resume "$T/f" --set train.epochs=3 >"$T/f3.out" 2>&1
ok "and the last checkpoint is whole: one process resumes from it" "[ $? -eq 0 ] && grep -q '^resuming' '$T/f3.out'"
tiny_done
