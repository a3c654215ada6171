#!/usr/bin/env bash
# `gesture export-keras CKPT OUT.keras` (the whole model) checked by Keras 3 itself
# (scripts/check_keras_export.py): keras.models.load_model opens it and predicts gesture's probabilities
# within 1e-5 on synthetic clips. Needs the venv scripts/make_keras_fixtures.py makes (.venv-keras, or
# $GESTURE_KERAS_VENV); without it the test is skipped (exit 77). test_keras_cli checks the file without
# Keras (zip members, config.json, the weights read back bit for bit).
set -u
G=${GESTURE:?} SRC=${GESTURE_SOURCE_DIR:?}
VENV=${GESTURE_KERAS_VENV:-$SRC/.venv-keras}
if ! KERAS_BACKEND=jax JAX_PLATFORMS=cpu "$VENV/bin/python" -c 'import keras' 2>/dev/null; then
  echo "skipped: no Keras 3 in $VENV (run python3 scripts/make_keras_fixtures.py once; it installs Keras + JAX from PyPI)"
  exit 77
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$G" import-keras "$SRC/tests/fixtures/keras/seed_small.keras" "$T/ck.h5" >/dev/null 2>&1 || { echo "import-keras failed"; exit 1; }
"$G" synth "$T/raw" --clips-per-class 1 --frames 8 --seed 8 --quiet >/dev/null || { echo "synth failed"; exit 1; }
KERAS_BACKEND=jax JAX_PLATFORMS=cpu "$VENV/bin/python" "$SRC/scripts/check_keras_export.py" --gesture "$G" "$T/ck.h5" \
  "$T/raw/train" 2>&1 | grep -v '^WARNING'
exit "${PIPESTATUS[0]}"
