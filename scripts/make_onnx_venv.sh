#!/usr/bin/env bash
# Makes .venv-onnx/ in the repo root (gitignored: .venv*/) with ONNX and ONNX Runtime from PyPI, for
# scripts/check_onnx.py and the ctest test test_onnx_ort (which skips, exit 77, without this venv: the
# tests themselves never reach the network). Idempotent: an existing venv with the pins is kept.
#   scripts/make_onnx_venv.sh            (VENV=/path to put it elsewhere; PYTHON=python3.x to pick one)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv-onnx}
PY=${PYTHON:-python3}
# pip freeze of the venv the committed checks ran in
PINS=(onnx==1.23.2 onnxruntime==1.32.0 numpy==2.4.6 protobuf==7.36.2 ml_dtypes==0.7.0 flatbuffers==25.12.19
      packaging==26.4 typing_extensions==4.16.0)
have() {
  "$VENV/bin/python" -c 'import onnx, onnxruntime, numpy, sys
sys.exit(0 if (onnx.__version__, onnxruntime.__version__) == tuple(sys.argv[1:]) else 1)' \
    "${PINS[0]#*==}" "${PINS[1]#*==}" 2>/dev/null
}
if [ -x "$VENV/bin/python" ] && have; then
  echo "make_onnx_venv: $VENV already has ${PINS[0]} ${PINS[1]}"
  exit 0
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check "${PINS[@]}"
have || { echo "make_onnx_venv: $VENV still lacks ${PINS[0]} ${PINS[1]} after pip install" >&2; exit 1; }
echo "make_onnx_venv: $VENV ready (${PINS[0]} ${PINS[1]})"
