#!/usr/bin/env bash
# The ONNX export against ONNX Runtime (scripts/check_onnx.py): probabilities within 1e-5 of
# `gesture predict --json` on synthetic clips, for a checkpoint imported from the Keras-made fixture,
# fixed and dynamic frames, whole batch and batch 1. Needs the venv scripts/make_onnx_venv.sh makes
# (.venv-onnx, or $GESTURE_ONNX_VENV); without it the test is skipped (exit 77): tests never install.
set -u
G=${GESTURE:?} SRC=${GESTURE_SOURCE_DIR:?}
VENV=${GESTURE_ONNX_VENV:-$SRC/.venv-onnx}
if ! "$VENV/bin/python" -c 'import onnx, onnxruntime, numpy' 2>/dev/null; then
  echo "skipped: no ONNX Runtime in $VENV (run scripts/make_onnx_venv.sh once; it installs onnx + onnxruntime from PyPI)"
  exit 77
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$G" import-keras "$SRC/tests/fixtures/keras/seed_small.keras" "$T/ck.h5" >/dev/null 2>&1 || { echo "import-keras failed"; exit 1; }
"$G" synth "$T/raw" --clips-per-class 2 --frames 8 --seed 4 --quiet >/dev/null || { echo "synth failed"; exit 1; }
OMP_NUM_THREADS=2 "$VENV/bin/python" "$SRC/scripts/check_onnx.py" --gesture "$G" "$T/ck.h5" "$T/raw/train"
