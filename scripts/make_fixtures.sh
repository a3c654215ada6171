#!/usr/bin/env bash
# Writes every test fixture into DIR (default build/fixtures): PyTorch references for the ops and
# the whole model. Runs once per ctest invocation as the `fixtures` setup test.
set -euo pipefail
DIR=${1:-build/fixtures}
HERE="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$DIR"
PY=/usr/bin/python3
$PY "$HERE/make_reference.py" --out "$DIR"
$PY "$HERE/make_png_fixtures.py" --out "$DIR"
$PY "$HERE/make_metrics_fixtures.py" --out "$DIR"
