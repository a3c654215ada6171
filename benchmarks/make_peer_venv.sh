#!/usr/bin/env bash
# Makes benchmarks/.venv-peers (gitignored: .venv*/) with the current PyPI releases of the engines
# benchmarks/run_peers.sh compares gesture with: PyTorch, ONNX Runtime, OpenVINO, TensorFlow (CPU) +
# Keras 3, NumPy. Run by the user or by run_peers.sh, never by the tests (they never reach the network).
#   benchmarks/make_peer_venv.sh [--upgrade]    (VENV=/path to put it elsewhere; PYTHON=python3.x to pick one)
# PyTorch comes from its CPU wheel index (download.pytorch.org/whl/cpu: no CUDA libraries); where that
# index cannot be reached, from PyPI, whose Linux wheel pulls ~4 GB of CUDA libraries that the CPU run
# never loads (the versions line says which one was installed). Without --upgrade an existing venv
# that imports everything is kept as it is. Prints the installed versions.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-benchmarks/.venv-peers}
PY=${PYTHON:-python3}
UPGRADE=0
case "${1:-}" in
  --upgrade) UPGRADE=1 ;;
  "") ;;
  *) echo "usage: $0 [--upgrade]" >&2; exit 2 ;;
esac
TORCH_CPU_INDEX=https://download.pytorch.org/whl/cpu
OTHERS=(onnxruntime openvino tensorflow-cpu "keras>=3" numpy h5py)

versions() {
  "$VENV/bin/python" - <<'PY'
import importlib.metadata as md
import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy, torch, onnxruntime, openvino, tensorflow, keras  # noqa: F401 (imports must work)
v = lambda d: md.version(d)
cuda = "CPU wheel" if "+cpu" in torch.__version__ else \
    "PyPI wheel with CUDA libraries" if any(d.metadata["Name"].startswith("nvidia-") for d in md.distributions()) else "PyPI wheel"
print(f"torch {torch.__version__} ({cuda}), onnxruntime {v('onnxruntime')}, openvino {v('openvino')}, "
      f"tensorflow-cpu {v('tensorflow-cpu')}, keras {v('keras')}, numpy {v('numpy')}, python {'.'.join(map(str, __import__('sys').version_info[:3]))}")
PY
}

if [ -x "$VENV/bin/python" ] && ((UPGRADE == 0)) && have=$(versions 2>/dev/null); then
  echo "make_peer_venv: $VENV is there (--upgrade to update)"
  echo "$have"  # the last line: run_peers.sh records it
  exit 0
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)
((UPGRADE)) && PIP+=(--upgrade)
"${PIP[@]}" --upgrade pip setuptools
if ! "${PIP[@]}" torch --index-url "$TORCH_CPU_INDEX" 2>/dev/null; then
  echo "make_peer_venv: $TORCH_CPU_INDEX not reachable; installing PyPI's torch (with its CUDA libraries, ~4 GB)" >&2
  "${PIP[@]}" torch
fi
"${PIP[@]}" "${OTHERS[@]}"
echo "make_peer_venv: $VENV ready"
versions
