#!/usr/bin/env bash
# `gesture import-keras --history LOG.csv`: a Keras run's epochs carried over. The logs were written by
# Keras 3 and tf_keras 2 CSVLoggers (scripts/make_keras_history_fixtures.py), with EarlyStopping,
# ReduceLROnPlateau and ModelCheckpoint; their .json holds the state Keras' own callback objects had
# after the last epoch. Checked: the run directory's training_log.csv is Keras' file byte for byte
# (Keras 3), the callbacks' state replayed from the log equals Keras', the checkpoint's epoch count
# and history; `train --resume` goes on at the next epoch with the log's rows kept; bad logs fail
# with one line naming the file and line.
set -u
G=${GESTURE:?} SRC=${GESTURE_SOURCE_DIR:?}
PY=${PYTHON:-/usr/bin/python3}
FX="$SRC/tests/fixtures/keras_history" MODEL="$SRC/tests/fixtures/keras/seed_small.keras"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { if eval "$2"; then echo "ok   $1"; pass=$((pass + 1)); else echo "FAIL $1"; fail=$((fail + 1)); fi; }
. "$SRC/tests/tiny_train.sh"
tiny_setup "$T" >/dev/null || exit 1
# the callbacks as the fixture script configured Keras' (its .json says so too)
CB=(--set callbacks.early_stopping_patience=4 --set callbacks.reduce_lr_patience=1 --set callbacks.reduce_lr_cooldown=1
    --set callbacks.min_lr=1e-5 --set callbacks.reduce_lr_min_delta=1e-4 --set callbacks.checkpoint_monitor=val_accuracy
    --set train.epochs=7 --set data.root="$T/prep" --set train.batch_size=2 --set output.plots=off)

# state_matches CK JSON: the checkpoint's /callbacks and counters equal Keras' callback objects' state
state_matches() { "$PY" - "$1" "$2" <<'PY'
import h5py, json, math, sys
f, k = h5py.File(sys.argv[1], "r"), json.load(open(sys.argv[2]))
c = f["callbacks"].attrs
got = dict(es_wait=int(c["early_stopping_wait"]), es_best=float(c["early_stopping_best"]),
           es_best_epoch=int(c["early_stopping_best_epoch"]), rl_wait=int(c["reduce_lr_wait"]),
           rl_cd=int(c["reduce_lr_cooldown"]), rl_best=float(c["reduce_lr_best"]), ck_best=float(c["checkpoint_best"]),
           epoch=int(f.attrs["epoch"]), history=len(f["history/epoch"]))
want = dict(es_wait=k["early_stopping"]["wait"], es_best=k["early_stopping"]["best"],
            es_best_epoch=k["early_stopping"]["best_epoch"], rl_wait=k["reduce_lr"]["wait"],
            rl_cd=k["reduce_lr"]["cooldown_counter"], rl_best=k["reduce_lr"]["best"], ck_best=k["checkpoint"]["best"],
            epoch=k["epochs_run"], history=k["epochs_run"])
bad = {n: (got[n], want[n]) for n in want if not math.isclose(got[n], want[n], rel_tol=1e-12)}
print("  differs (gesture, keras):", bad) if bad else None
sys.exit(1 if bad else 0)
PY
}

for k in keras3 tf_keras; do
  D="$T/run_$k"
  out=$("$G" import-keras "$MODEL" --run-dir "$D" --history "$FX/training_log_$k.csv" "${CB[@]}" 2>&1); rc=$?
  ok "$k log: import exits 0 and says 5 epochs came over" "[ $rc -eq 0 ] && grep -q '^history: 5 epochs' <<<\"\$out\""
  ok "$k log: the callbacks' state replayed from the log equals Keras' own" \
    "state_matches '$D/checkpoints/last.h5' '$FX/training_log_$k.json'"
  ok "$k log: best.h5 and the EarlyStopping snapshot exist (the imported weights)" \
    "[ -f '$D/checkpoints/best.h5' ] && [ -f '$D/checkpoints/early_stopping_best.h5' ]"
  ok "$k log: log.h5 has the 5 epochs" "[ \"\$('$PY' -c \"import h5py; print(len(h5py.File('$D/log.h5')['loss']))\")\" = 5 ]"
done
ok "Keras 3 log: the run's training_log.csv is Keras' file byte for byte" \
  "cmp -s '$FX/training_log_keras3.csv' '$T/run_keras3/training_log.csv'"
ok "tf_keras log (lr column): learning_rate carried over" \
  "sed -n 3p '$T/run_tf_keras/training_log.csv' | grep -q '^1,0.5,0.03,1.2496206760406494,0.125,2.1742982864379883'"

# resume: epochs 6 and 7 (0-based 5, 6) follow the Keras rows, which stay
out=$("$G" train --resume "$T/run_keras3" 2>&1); rc=$?
ok "train --resume continues at epoch 6" "[ $rc -eq 0 ] && grep -q 'at epoch 6' <<<\"\$out\""
ok "the Keras rows stay, new rows follow" \
  "[ \"\$(head -6 '$T/run_keras3/training_log.csv' | md5sum)\" = \"\$(md5sum <'$FX/training_log_keras3.csv')\" ] && sed -n 7p '$T/run_keras3/training_log.csv' | grep -q '^5,'"

# a checkpoint file (no run directory) carries the history too
"$G" import-keras "$MODEL" "$T/ck.h5" --history "$FX/training_log_keras3.csv" "${CB[@]}" >/dev/null 2>&1
ok "OUT.h5 with --history holds the epoch count" \
  "[ \"\$('$PY' -c \"import h5py; print(h5py.File('$T/ck.h5').attrs['epoch'])\")\" = 5 ]"

# bad logs: one line naming file and line, exit 1, nothing written
bad() {  # NAME CONTENT EXPECTED-REGEX
  printf '%b' "$2" >"$T/$1.csv"
  out=$("$G" import-keras "$MODEL" --run-dir "$T/bad_$1" --history "$T/$1.csv" "${CB[@]}" 2>&1); rc=$?
  ok "bad log ($1): exit 1, '$3'" "[ $rc -eq 1 ] && [ \$(wc -l <<<\"\$out\") -eq 1 ] && grep -q '$3' <<<\"\$out\" && [ ! -e '$T/bad_$1/checkpoints/last.h5' ]"
}
bad noval 'epoch,accuracy,loss\r\n0,0.5,1.2\r\n' 'noval.csv:1: no .val_accuracy. column'
bad gap 'epoch,accuracy,loss,val_accuracy,val_loss\r\n0,0.5,1.2,0.5,1.3\r\n2,0.5,1.2,0.5,1.3\r\n' 'gap.csv:3: epoch 2 where 1 was expected'
bad text 'epoch,accuracy,loss,val_accuracy,val_loss\r\n0,0.5,abc,0.5,1.3\r\n' 'text.csv:2: column loss: .abc. is not a number'
bad short 'epoch,accuracy,loss,val_accuracy,val_loss\r\n0,0.5,1.2,0.5\r\n' 'short.csv:2: 4 fields, the header has 5'
bad empty '' 'empty.csv: empty file'
printf 'epoch,accuracy,loss,val_accuracy,val_loss\r\n' >"$T/many.csv"
for i in $(seq 0 9); do printf '%d,0.5,1.2,0.5,1.3\r\n' "$i" >>"$T/many.csv"; done
out=$("$G" import-keras "$MODEL" "$T/m.h5" --history "$T/many.csv" "${CB[@]}" 2>&1); rc=$?
ok "a log longer than train.epochs is refused, naming the key" "[ $rc -eq 1 ] && grep -q 'train.epochs is 7' <<<\"\$out\""

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
