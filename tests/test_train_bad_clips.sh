#!/usr/bin/env bash
# `gesture train` with data.on_bad_clip = skip when every train clip is bad: an epoch that trained
# on no clip has no loss, so the run stops with one line naming the data root and why, exit 1, and
# writes nothing for that epoch (no NaN row in training_log.csv, no checkpoint, no log.h5).
set -u
G=${GESTURE:?} SRC=${GESTURE_SOURCE_DIR:?} PY=${PYTHON:-/usr/bin/python3}
. "$SRC/tests/tiny_train.sh"  # tiny_cpu_start, ok, tiny_done
tiny_cpu_start

# every train frame a corrupt PNG (as tests/test_dataset_bad.sh makes them); val stays good
find "$T/prep/train" -name '*.png' -exec sh -c 'printf "this is text, not an image" > "$1"' _ {} \;
"$G" train "$T/tiny.ini" --set data.on_bad_clip=skip --set train.epochs=2 --run-dir "$T/run" \
  >"$T/out" 2>"$T/err"
rc=$?
ok "exits 1" "[ $rc -eq 1 ]"
ok "one line naming the data root and why" \
  "grep -q '^gesture: $T/prep: epoch 1 trained on no clip: every train clip was skipped as bad (data.on_bad_clip = skip' '$T/err'"
ok "no epoch result printed" "! grep -q '^epoch 1/2:' '$T/out'"
ok "no row in training_log.csv" "[ ! -s '$T/run/training_log.csv' ] || [ \$(wc -l <'$T/run/training_log.csv') -eq 1 ]"
ok "no checkpoint or log.h5" "[ -z \"\$(ls '$T/run/checkpoints')\" ] && [ ! -e '$T/run/log.h5' ]"
tiny_done
