#!/usr/bin/env bash
# What a newcomer sees from `gesture train`: results reach a redirected stdout as they happen; a
# failing run says why in one line, before printing or creating anything; a run starts with a short
# summary (-v: the full config); --resume takes --set for the keys that may change (train --help);
# a config meant for pretrained weights warns without them, and the log says what was loaded.
set -u
G=${GESTURE:?} SRC=${GESTURE_SOURCE_DIR:?} PY=${PYTHON:-/usr/bin/python3}
. "$SRC/tests/tiny_train.sh"  # tiny_cpu_start, ok, tiny_done
tiny_cpu_start

# stdout into a file: the first epoch's result line is there while training still runs
"$G" train "$T/tiny.ini" --run-dir "$T/buf" --set train.epochs=8 --set callbacks.early_stopping=off \
  >"$T/buf.out" 2>"$T/buf.err" &
pid=$!
live=0
for _ in $(seq 1 3000); do
  if grep -q '^epoch 1/8:' "$T/buf.out"; then kill -0 $pid 2>/dev/null && live=1; break; fi
  kill -0 $pid 2>/dev/null || break
  sleep 0.01
done
kill -INT $pid 2>/dev/null; wait $pid
ok "epoch result in a redirected stdout before the run ends" "[ $live -eq 1 ]"

# a run that cannot start: its one-line error is all it prints, and no run directory appears
one_line_error() {  # NAME WANT ARGS...: stdout+stderr is one "gesture train: ..." line holding WANT
  local name=$1 want=$2; shift 2
  "$G" train "$T/tiny.ini" --run-dir "$T/never" "$@" >"$T/err.out" 2>&1; local rc=$?
  ok "$name: exit 1, one line naming it" "[ $rc -eq 1 ] && [ \$(wc -l <'$T/err.out') -eq 1 ] && grep -q '^gesture train: .*$want' '$T/err.out'"
  [ "$(wc -l <"$T/err.out")" -eq 1 ] || head -3 "$T/err.out"
}
one_line_error "data.root missing" "$T/none" --set data.root="$T/none"
one_line_error "data.root empty" "data.root is not set" --set data.root=
one_line_error "pretrained file missing" "$T/no.h5" --set model.pretrained="$T/no.h5"
if "$G" info | grep -q '^cuda devices: 0'; then
  one_line_error "no CUDA device" "runtime.device = cuda" --set runtime.device=cuda
fi
ok "a failing run creates nothing" "[ ! -e '$T/never' ]"

# a run that starts: a summary of a few lines, the full config only with -v
"$G" train "$T/tiny.ini" --run-dir "$T/sum" --set train.epochs=1 >"$T/sum.out" 2>/dev/null
head_lines=$(sed -n '/^training /q;p' "$T/sum.out" | wc -l)
ok "summary before training is short ($head_lines lines)" "[ $head_lines -ge 3 ] && [ $head_lines -le 6 ]"
ok "summary names run dir, data, model, device, epochs, batch" \
  "grep -q '$T/sum' '$T/sum.out' && grep -q '$T/prep' '$T/sum.out' && grep -q 'MobileNetV2 alpha 0.35' '$T/sum.out' && grep -q '1 epochs, batch 2, .*device cpu' '$T/sum.out'"
ok "no config dump without -v" "! grep -q '^\[model\]' '$T/sum.out'"
"$G" train "$T/tiny.ini" --run-dir "$T/verb" --set train.epochs=1 -v >"$T/verb.out" 2>/dev/null
ok "-v prints the full config" "grep -q '^\[model\]' '$T/verb.out' && grep -q '^gru_units = 8' '$T/verb.out'"

# a finished run given more epochs on resume; a key the checkpoint depends on refused by name
"$G" train "$T/tiny.ini" --run-dir "$T/more" --set train.epochs=2 --set callbacks.early_stopping=off >/dev/null 2>&1
"$G" train --resume "$T/more" --set train.epochs=3 >"$T/more.out" 2>&1; rc=$?
rows=$(($(wc -l <"$T/more/training_log.csv") - 1))
ok "resume --set train.epochs=3 trains epoch 3 ($rows CSV rows)" "[ $rc -eq 0 ] && [ $rows -eq 3 ] && grep -q '^epoch 3/3:' '$T/more.out'"
ok "config.ini holds the new epochs" "grep -qx 'epochs = 3' '$T/more/config.ini'"
"$G" train --resume "$T/more" >"$T/done.out" 2>&1; rc=$?
ok "resume of a finished run: exit 1, says nothing is left and how to train more" \
    "[ $rc -eq 1 ] && grep -q 'nothing left to train' '$T/done.out' && grep -q 'set train.epochs=' '$T/done.out'"
"$G" train --resume "$T/more" --set train.epochs=2 >"$T/past.out" 2>&1; rc=$?
ok "resume with train.epochs below the checkpoint's epoch: exit 1 naming both" \
    "[ $rc -eq 1 ] && grep -q 'at epoch 3 of train.epochs = 2' '$T/past.out'"
"$G" train --resume "$T/more" --set model.alpha=0.5 >"$T/alpha.out" 2>&1; rc=$?
ok "resume --set model.alpha refused naming it" "[ $rc -eq 1 ] && [ \$(wc -l <'$T/alpha.out') -eq 1 ] && grep -q '^gesture train: .*model.alpha' '$T/alpha.out'"
ok "a refused resume leaves config.ini alone" "grep -qx 'alpha = 0.35' '$T/more/config.ini'"
ok "train --help says what --set may change on resume" "\"\$G\" train --help | grep -q 'runtime.threads'"

# the seed config without ImageNet weights (shrunk to train in a second): one loud warning naming
# the config, and the run is named after the config file
"$G" train "$SRC/experiments/seed_15f.ini" --set data.root="$T/prep" --set output.runs_dir="$T/runs" \
  --set data.size=32 --set data.frames=4 --set data.sampling=uniform --set model.alpha=0.35 \
  --set model.gru_units=8 --set model.dense_units=8 --set train.epochs=1 --set output.plots=off \
  --set runtime.device=cpu >"$T/seed.out" 2>"$T/seed.err"; rc=$?
ok "seed config without weights: one WARNING line naming it" \
  "[ $rc -eq 0 ] && [ \$(grep -c 'WARNING' '$T/seed.err') -eq 1 ] && grep -q 'WARNING: .*seed_15f.ini.*random weights' '$T/seed.err'"
ok "the run is named after the config (runs/seed_15f)" "[ -s '$T/runs/seed_15f/training_log.csv' ]"
ok "no warning for a config that does not expect weights" "! grep -q WARNING '$T/buf.err'"
ok "quickstart.sh names the run after CONFIG" "grep -q 'NAME=\$(basename \"\$CONFIG\" .ini)' '$SRC/scripts/quickstart.sh'"

# pretrained weights: the log names the file and the tensor count
W="$SRC/tests/fixtures/keras/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5"
"$G" train "$T/tiny.ini" --run-dir "$T/pre" --set train.epochs=1 --set model.pretrained="$W" >"$T/pre.out" 2>&1; rc=$?
ok "pretrained load logged with file and tensor count" "[ $rc -eq 0 ] && grep -q '^pretrained: [0-9][0-9]* backbone tensors loaded from $W' '$T/pre.out'"
grep '^pretrained' "$T/pre.out"

tiny_done
