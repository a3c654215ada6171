#!/usr/bin/env bash
# `gesture export-onnx` from the CLI, needing nothing but the committed Keras fixture: a checkpoint
# imported from tests/fixtures/keras/seed_small.keras exports (fixed and dynamic frames, from the file or
# the run directory), `predict --save-inputs` writes the input tensors as .npy, and bad input (missing or
# bad checkpoint, unwritable OUT, bad --frames) fails with one line and leaves no file behind.
# ONNX Runtime's numbers: test_onnx_ort (needs scripts/make_onnx_venv.sh).
set -u
G=${GESTURE:?} SRC=${GESTURE_SOURCE_DIR:?}
PY=${PYTHON:-/usr/bin/python3}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { if eval "$2"; then echo "ok   $1"; pass=$((pass + 1)); else echo "FAIL $1"; fail=$((fail + 1)); fi; }
one_line() { [ "$(printf '%s\n' "$1" | wc -l)" -eq 1 ]; }

"$G" import-keras "$SRC/tests/fixtures/keras/seed_small.keras" --run-dir "$T/run" >/dev/null 2>&1 ||
  { echo "import-keras failed"; exit 1; }
ck="$T/run/checkpoints/last.h5"
out=$("$G" export-onnx "$ck" "$T/m.onnx" 2>&1); rc=$?
echo "$out"
ok "export-onnx exits 0 and names opset, input and output" \
   "[ $rc -eq 0 ] && grep -q 'ONNX opset 17, input frames (batch, 4, 96, 96, 3) float \[v/255\], output probabilities (batch, 5)' <<<\"\$out\""
ok "the file starts like a ModelProto (field 1 ir_version = 8)" "[ \"\$(head -c 2 \"$T/m.onnx\" | od -An -tx1 | tr -d ' ')\" = 0808 ]"
out=$("$G" export-onnx "$T/run" "$T/d.onnx" --frames dynamic 2>&1); rc=$?
ok "a run directory and --frames dynamic" "[ $rc -eq 0 ] && grep -q 'input frames (batch, frames, 96, 96, 3)' <<<\"\$out\""
out=$("$G" export-onnx "$ck" "$T/f8.onnx" --frames 8 2>&1); rc=$?
ok "--frames 8 notes the trained count" "[ $rc -eq 0 ] && grep -q 'note: 8 frames per clip; the model was trained on 4' <<<\"\$out\""

# predict --save-inputs: (N,T,S,S,3) float32 in output order
"$G" synth "$T/raw" --clips-per-class 1 --frames 8 --seed 2 --quiet >/dev/null
out=$("$G" predict "$ck" "$T/raw/train" --json --save-inputs "$T/x.npy" 2>/dev/null); rc=$?
v=$("$PY" -c 'import sys, numpy as np; x = np.load(sys.argv[1]); print(x.dtype, x.shape, float(x.min()) >= 0, float(x.max()) <= 1)' "$T/x.npy" 2>&1)
n=$(grep -c '"clip"' <<<"$out")
ok "predict --save-inputs: .npy of the $n clips ($v)" "[ $rc -eq 0 ] && [ \"\$v\" = \"float32 ($n, 4, 96, 96, 3) True True\" ]"
"$G" predict "$ck" "$T/raw/train" --save-inputs "$T/nodir/x.npy" >/dev/null 2>"$T/err"; rc=$?
err=$(grep -v '^gesture predict: using ' "$T/err")
ok "predict --save-inputs to an unwritable place: one line ($err)" "[ $rc -eq 1 ] && one_line \"\$err\" && grep -q 'nodir/x.npy.tmp: cannot create' <<<\"\$err\""

# errors: one line each, no output file
err=$("$G" export-onnx "$ck" "$T/nodir/m.onnx" 2>&1); rc=$?
ok "unwritable OUT: one line naming it ($err)" "[ $rc -eq 1 ] && one_line \"\$err\" && grep -q \"$T/nodir/m.onnx: cannot write\" <<<\"\$err\""
err=$("$G" export-onnx "$T/missing.h5" "$T/x.onnx" 2>&1); rc=$?
ok "missing checkpoint: one line ($err)" "[ $rc -eq 1 ] && one_line \"\$err\" && [ ! -e \"$T/x.onnx\" ]"
echo "not a checkpoint" > "$T/bad.h5"
err=$("$G" export-onnx "$T/bad.h5" "$T/x.onnx" 2>&1); rc=$?
ok "a file that is no checkpoint: one line naming it ($err)" \
   "[ $rc -eq 1 ] && one_line \"\$err\" && grep -q \"$T/bad.h5\" <<<\"\$err\" && [ ! -e \"$T/x.onnx\" ]"
head -c 100000 "$ck" > "$T/trunc.h5"
err=$("$G" export-onnx "$T/trunc.h5" "$T/x.onnx" 2>&1); rc=$?
ok "a truncated checkpoint: one line ($err)" "[ $rc -eq 1 ] && one_line \"\$err\" && [ ! -e \"$T/x.onnx\" ]"
err=$("$G" export-onnx "$ck" "$T/x.onnx" --frames 0 2>&1); rc=$?
ok "--frames 0: usage error ($err)" "[ $rc -eq 2 ] && one_line \"\$err\" && grep -q \"'dynamic'\" <<<\"\$err\""
err=$("$G" export-onnx "$ck" 2>&1); rc=$?
ok "no OUT: usage error" "[ $rc -eq 2 ] && one_line \"\$err\""
ok "--help names the input layout" "\"$G\" export-onnx --help | grep -q 'float (batch, T, S, S, 3)'"
ok "listed in gesture --help" "\"$G\" --help | grep -q 'export-onnx'"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
