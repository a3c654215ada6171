#!/usr/bin/env bash
# What a newcomer sees from `gesture train`: results reach a redirected stdout as they happen.
set -u
G=${GESTURE:?} SRC=${GESTURE_SOURCE_DIR:?}
PY=${PYTHON:-/usr/bin/python3}  # the interpreter CMake found (tests/CMakeLists.txt)
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { if eval "$2"; then echo "ok   $1"; pass=$((pass + 1)); else echo "FAIL $1"; fail=$((fail + 1)); fi; }

. "$SRC/tests/tiny_train.sh"
tiny_setup "$T" || exit 1
echo "device = cpu" >> "$T/tiny.ini"

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

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
