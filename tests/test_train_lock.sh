#!/usr/bin/env bash
# One `gesture train` per run directory: while a run trains, a second `--run-dir R` and a
# `--resume R` are refused in one line naming the pid that holds R/.lock (exit 1, R untouched), and
# the first run ends with a clean training_log.csv; two auto-named runs started at once get
# different directories; a new run directory of a run that fails before writing is removed again.
set -u
G=${GESTURE:?} SRC=${GESTURE_SOURCE_DIR:?} PY=${PYTHON:-/usr/bin/python3}
. "$SRC/tests/tiny_train.sh"  # tiny_setup, ok, tiny_done
T=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -CONT $pid 2>/dev/null; rm -rf "$T"' EXIT
tiny_setup "$T" || exit 1
echo "device = cpu" >> "$T/tiny.ini"
E=3  # epochs of the runs below (early stopping off: every one runs)
run_opts=(--set train.epochs=$E --set callbacks.early_stopping=off)

# csv_clean FILE: the header once, then epochs 0..E-1 in order
csv_clean() {
  [ "$(tr -d '\r' <"$1" | cut -d, -f1 | tr '\n' ' ')" = "epoch $(seq -s ' ' 0 $((E - 1))) " ]
}

# the first run, held still (SIGSTOP) once it trains, so the others surely meet it running
"$G" train "$T/tiny.ini" "${run_opts[@]}" --run-dir "$T/R" >"$T/first.out" 2>&1 &
pid=$!
for _ in $(seq 1 3000); do grep -q '^training ' "$T/first.out" && break; sleep 0.01; done
kill -STOP $pid
before=$(cd "$T/R" && find . -type f -exec cksum {} + | sort)
err=$("$G" train "$T/tiny.ini" "${run_opts[@]}" --run-dir "$T/R" 2>&1 >/dev/null); rc=$?
ok "a second --run-dir R is refused naming the pid" "[ $rc -eq 1 ] && [ \"\$err\" = 'gesture train: $T/R is in use by pid $pid' ]"
[ "$err" = "gesture train: $T/R is in use by pid $pid" ] || echo "$err"
err=$("$G" train --resume "$T/R" 2>&1 >/dev/null); rc=$?
ok "--resume R is refused naming the pid" "[ $rc -eq 1 ] && [ \"\$err\" = 'gesture train: $T/R is in use by pid $pid' ]"
[ "$err" = "gesture train: $T/R is in use by pid $pid" ] || echo "$err"
ok "the refused runs left R untouched" "[ \"\$(cd '$T/R' && find . -type f -exec cksum {} + | sort)\" = \"\$before\" ]"
kill -CONT $pid
wait $pid; rc=$?
pid=
ok "the first run completes" "[ $rc -eq 0 ]"
ok "its training_log.csv is clean" "csv_clean '$T/R/training_log.csv'"
"$G" train --resume "$T/R" --set train.epochs=$((E + 1)) >/dev/null 2>&1
ok "R can be resumed once the first run ended" "[ $? -eq 0 ]"

# two auto-named runs started at once
"$G" train "$T/tiny.ini" "${run_opts[@]}" --set output.runs_dir="$T/runs" >"$T/a.out" 2>&1 &
a=$!
"$G" train "$T/tiny.ini" "${run_opts[@]}" --set output.runs_dir="$T/runs" >"$T/b.out" 2>&1 &
b=$!
wait $a; ra=$?
wait $b; rb=$?
ok "two auto-named runs started at once both complete" "[ $ra -eq 0 ] && [ $rb -eq 0 ]"
ok "... in two directories" "[ \"\$(ls '$T/runs' | tr '\n' ' ')\" = 'tiny tiny_2 ' ]"
ls "$T/runs"
ok "... each with a clean training_log.csv" "csv_clean '$T/runs/tiny/training_log.csv' && csv_clean '$T/runs/tiny_2/training_log.csv'"

# a run failing after its directory was claimed (the data do not fit the model) leaves none
"$G" train "$T/tiny.ini" --set model.classes=3 --run-dir "$T/never" >/dev/null 2>&1
ok "a new run directory of a failed run is removed" "[ \$? -eq 1 ] && [ ! -e '$T/never' ]"
tiny_done
