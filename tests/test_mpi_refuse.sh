#!/usr/bin/env bash
# Launches of several ranks that gesture refuses, recognised from the launcher's environment (no
# mpirun needed: OMPI_COMM_WORLD_SIZE / PMI_SIZE / SLURM_STEP_NUM_TASKS as mpirun, MPICH and srun set
# them):
#  - in every build, a command other than train (and info, --help) under N > 1 ranks: it would run N
#    times over the same files;
#  - in a build without MPI (scripts/test.sh's sanitizer build, -DGESTURE_MPI=OFF), gesture train
#    itself: each rank would train alone on the whole data set and write the same run directory.
#    One line naming the variable and how to get MPI, exit 1, nothing created.
set -u
G=${GESTURE:?}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
. "${GESTURE_SOURCE_DIR:?}/tests/tiny_train.sh"
tiny_setup "$T" || exit 1
echo "device = cpu" >>"$T/tiny.ini"

for var in OMPI_COMM_WORLD_SIZE PMI_SIZE SLURM_STEP_NUM_TASKS; do
  out=$(env "$var=2" "$G" eval "$T/nothing" 2>&1)
  rc=$?
  ok "gesture eval under 2 ranks ($var=2): refused, exit 2" \
    "[ $rc -eq 2 ] && grep -q 'launched as one of 2 ranks ($var=2): only gesture train runs data-parallel' <<<\"\$out\""
done
out=$(env OMPI_COMM_WORLD_SIZE=2 "$G" prepare "$T/raw" "$T/p2" 2>&1)
ok "gesture prepare under 2 ranks: refused, nothing written" "[ $? -eq 2 ] && ! [ -e '$T/p2' ]"
ok "gesture info and --help still run under 2 ranks" \
  "env OMPI_COMM_WORLD_SIZE=2 '$G' info | grep -q '^mpi: ' && env OMPI_COMM_WORLD_SIZE=2 '$G' eval --help | grep -q usage"
out=$(env OMPI_COMM_WORLD_SIZE=1 "$G" summary "$T/tiny.ini" 2>&1)
ok "one rank (mpirun -np 1: OMPI_COMM_WORLD_SIZE=1) is one process" "[ $? -eq 0 ] && ! grep -q 'launched as' <<<\"\$out\""

if "$G" info | grep -q '^mpi: no'; then
  for var in OMPI_COMM_WORLD_SIZE PMI_SIZE SLURM_STEP_NUM_TASKS; do
    out=$(env "$var=4" "$G" train "$T/tiny.ini" --run-dir "$T/run" 2>&1)
    rc=$?
    ok "without MPI, gesture train as one of 4 ranks ($var=4): one clear line, exit 1, nothing created" \
      "[ $rc -eq 1 ] && [ \$(printf '%s\n' \"\$out\" | wc -l) -eq 1 ] && grep -q 'one of 4 ranks ($var=4), but this gesture was built without MPI' <<<\"\$out\" && grep -q 'libopenmpi-dev' <<<\"\$out\" && ! [ -e '$T/run' ]"
  done
  env OMPI_COMM_WORLD_SIZE=1 "$G" train "$T/tiny.ini" --run-dir "$T/one" --set train.epochs=1 >/dev/null 2>&1
  ok "without MPI, a launch of 1 rank trains as one process" "[ $? -eq 0 ] && [ -s '$T/one/checkpoints/last.h5' ]"
else
  echo "note: this gesture has MPI; its refusal of an mpirun launch without MPI is checked in the -DGESTURE_MPI=OFF build (scripts/test.sh's sanitizer stage)"
fi
tiny_done
