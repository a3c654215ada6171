#!/usr/bin/env bash
# `gesture train` end to end on a tiny synthetic set: the run directory's files, Keras' CSV columns,
# Ctrl-C saving last.h5 (exit 130), and --resume giving a training log identical to an uninterrupted
# run's (CPU determinism: loader order, dropout, Adam, callbacks and partial-epoch metrics all resume).
set -u
G=${GESTURE:?} SRC=${GESTURE_SOURCE_DIR:?}
PY=${PYTHON:-/usr/bin/python3}  # the interpreter CMake found (tests/CMakeLists.txt)
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { if eval "$2"; then echo "ok   $1"; pass=$((pass + 1)); else echo "FAIL $1"; fail=$((fail + 1)); fi; }

. "${GESTURE_SOURCE_DIR:?}/tests/tiny_train.sh"
tiny_setup "$T" || exit 1
cat >> "$T/tiny.ini" <<INI
# the CPU backend's determinism is what this test checks (auto would train on a GPU where there is
# one; tests/test_train_cuda.sh covers that path)
device = cpu
INI

"$G" train "$T/tiny.ini" --run-dir "$T/full" >"$T/full.out" 2>&1
ok "uninterrupted run exits 0" "[ $? -eq 0 ]"
for f in config.ini training_log.csv log.h5 checkpoints/last.h5 checkpoints/best.h5 timing.ini; do
  ok "run dir has $f" "[ -s '$T/full/$f' ]"
done
# exactly the files docs/formats.md lists for a run with plots off (restore_best is on by default)
ok "run dir holds exactly the documented files" "[ \"\$(cd '$T/full' && find . -type f | sort | tr '\n' ' ')\" = \
  './.lock ./checkpoints/best.h5 ./checkpoints/early_stopping_best.h5 ./checkpoints/last.h5 ./config.ini ./log.h5 ./timing.ini ./training_log.csv ' ]"
ok "the end names the file holding the restored weights" \
  "grep -q '^restored the weights of epoch [0-9]* (best val_loss): .*/checkpoints/early_stopping_best.h5$' '$T/full.out'"
ok "CSV header is Keras'" "head -1 '$T/full/training_log.csv' | tr -d '\r' | grep -qx 'epoch,accuracy,learning_rate,loss,val_accuracy,val_loss'"
rows=$(($(wc -l <"$T/full/training_log.csv") - 1))
ok "one CSV row per epoch run ($rows)" "[ $rows -ge 2 ] && [ $rows -le 8 ]"
ok "config.ini is the resolved config" "grep -q '^gru_units = 8' '$T/full/config.ini'"

# interrupted run: SIGINT once the second epoch's progress lines appear (the handler is installed
# and training is mid-run), then resume
rm -rf "$T/cut"
"$G" train "$T/tiny.ini" --run-dir "$T/cut" >"$T/cut.out" 2>&1 &
pid=$!
for _ in $(seq 1 3000); do grep -q '^epoch 2/' "$T/cut.out" && break; sleep 0.01; done
kill -INT $pid 2>/dev/null; wait $pid; rc=$?
landed=0; [ $rc -eq 130 ] && grep -q 'interrupted: saved' "$T/cut.out" && landed=1
grep 'interrupted' "$T/cut.out"
ok "Ctrl-C exits 130 and says how to resume" "[ $landed -eq 1 ] && grep -q -- '--resume' '$T/cut.out'"
ok "Ctrl-C left a loadable last.h5" "[ -s '$T/cut/checkpoints/last.h5' ]"
"$G" train --resume "$T/cut" >"$T/resume.out" 2>&1
ok "resume exits 0" "[ $? -eq 0 ]"
ok "resumed log identical to the uninterrupted one" "cmp -s '$T/full/training_log.csv' '$T/cut/training_log.csv'"
if ! cmp -s "$T/full/training_log.csv" "$T/cut/training_log.csv"; then diff "$T/full/training_log.csv" "$T/cut/training_log.csv" | head; fi
ok "resumed weights and Adam moments identical (last.h5)" \
  "same_tensors '$T/full/checkpoints/last.h5' '$T/cut/checkpoints/last.h5' weights optimizer"

# the whole run, not the resumed part: timing.ini's totals and compare's epoch count
tkey() { sed -n "s/^$2 = //p" "$1/timing.ini"; }
ok "timing.ini of the resumed run covers all $rows epochs, both invocations" \
  "[ \"\$(tkey '$T/cut' epochs)\" = $rows ] && [ \"\$(tkey '$T/cut' invocations)\" = 2 ] && [ \"\$(tkey '$T/full' invocations)\" = 1 ]"
ok "timing.ini: the interrupted and resumed run trained the same frames as the uninterrupted one" \
  "[ \"\$(tkey '$T/cut' train_images)\" = \"\$(tkey '$T/full' train_images)\" ] && [ \"\$(tkey '$T/full' train_images)\" -gt 0 ]"
"$G" compare "$T/cut" --out "$T/cmp" --no-plots >"$T/cmp.out" 2>&1
ok "compare counts the resumed run's $rows epochs" "grep -q '^cut,[^,]*,[^,]*,[^,]*,[^,]*,[^,]*,[^,]*,$rows,' '$T/cmp/compare.csv'"
# a timing.ini from before the totals (one invocation's rates) counts as the totals it implies
if [ "$rows" -lt 8 ]; then
  cp -r "$T/full" "$T/old"
  printf 'epochs_run = %d\nseconds_per_epoch = 0.5\ntrain_img_per_s = 100\npeak_rss_mb = 1\n' "$rows" >"$T/old/timing.ini"
  "$G" train --resume "$T/old" >"$T/old.out" 2>&1
  per_epoch=$(( $(tkey "$T/full" train_images) / rows ))
  ok "resume adds to an old timing.ini's implied totals" \
    "[ \"\$(tkey '$T/old' train_images)\" = $(( rows * 50 + per_epoch )) ] && [ \"\$(tkey '$T/old' invocations)\" = 2 ]"
fi

# training_log.csv rebuilt from the checkpoint's history on resume when rows are missing (deleted,
# cut short); rows of epochs after the checkpoint are dropped: each resume logs what the full run did
"$G" train "$T/tiny.ini" --run-dir "$T/two" --set train.epochs=2 >/dev/null 2>&1
for kind in deleted short long; do
  cp -r "$T/two" "$T/csv_$kind"
  case $kind in
    deleted) rm "$T/csv_$kind/training_log.csv" ;;
    short) head -n 2 "$T/two/training_log.csv" >"$T/csv_$kind/training_log.csv" ;;  # header + epoch 0
    long) cp "$T/full/training_log.csv" "$T/csv_$kind/training_log.csv" ;;  # rows the checkpoint lacks
  esac
  "$G" train --resume "$T/csv_$kind" --set train.epochs=8 >"$T/csv_$kind.out" 2>&1
  ok "resume with training_log.csv $kind: the log equals the uninterrupted run's" \
    "[ $? -eq 0 ] && cmp -s '$T/full/training_log.csv' '$T/csv_$kind/training_log.csv'"
done
ok "the rebuild is said" "grep -q '^rebuilt .*training_log.csv from the checkpoint.s history: 2 epochs (it had 0)' '$T/csv_deleted.out'"

# errors
err=$("$G" train "$T/tiny.ini" --run-dir "$T/full" 2>&1); rc=$?
ok "refuses to overwrite a run" "[ $rc -ne 0 ] && grep -q -- '--resume' <<<\"\$err\""
err=$("$G" train "$T/tiny.ini" --set data.root="$T/none" --run-dir "$T/x" 2>&1); rc=$?
ok "missing data root fails naming it" "[ $rc -ne 0 ] && grep -q '$T/none' <<<\"\$err\""
err=$("$G" train "$T/tiny.ini" --set model.classes=3 --run-dir "$T/y" 2>&1); rc=$?
ok "class count mismatch fails with the fix" "[ $rc -ne 0 ] && grep -q 'model.classes=5' <<<\"\$err\""
ok "--help-config lists keys" "\"\$G\" train --help-config | grep -q 'bn_momentum'"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
