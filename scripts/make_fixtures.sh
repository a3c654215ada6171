#!/usr/bin/env bash
# Writes every generated test fixture into DIR (default build/fixtures) by hand: PyTorch references
# for the ops and the whole model, PNG and JPEG variants, metrics. ctest runs each generator as its own
# setup test, only for the tests that need it (tests/CMakeLists.txt).
set -euo pipefail
DIR=${1:-build/fixtures}
HERE="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$DIR"
PY=${PYTHON:-/usr/bin/python3}  # Debian's, where python3-torch lives (README.md)
$PY "$HERE/make_reference.py" --out "$DIR"
$PY "$HERE/make_png_fixtures.py" --out "$DIR"
$PY "$HERE/make_jpeg_fixtures.py" --out "$DIR"
$PY "$HERE/make_metrics_fixtures.py" --out "$DIR"
