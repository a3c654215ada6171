#!/usr/bin/env bash
# The main job on a fresh machine: install, build, make the synthetic gesture set, prepare it,
# train experiments/quickstart.ini, evaluate on test, draw plots, and say where everything is.
# Real data: DATA=/path/to/kaggle/raw scripts/quickstart.sh (CSV-index layout; see README.md).
set -euo pipefail
# libgomp spins 300k iterations before sleeping: on a shared 2-core box that starves other work
# (measured 8x slower epochs under load); 10k costs nothing when idle.
export GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-10000}
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target gesture
G=build/gesture
RAW=${DATA:-data/synth}
PREP=data/$(basename "$RAW")_prepared
CONFIG=${CONFIG:-experiments/quickstart.ini}
if [ -z "${DATA:-}" ] && [ ! -f "$RAW/train.csv" ]; then
  echo "== synthetic gesture set -> $RAW"
  $G synth "$RAW"
fi
if [ ! -f "$PREP/manifest.csv" ]; then
  echo "== prepare $RAW -> $PREP"
  $G prepare "$RAW" "$PREP"
fi
NAME=$(basename "$CONFIG" .ini)  # the run is named after its config, as gesture train names it
RUN=runs/$NAME
n=2; while [ -e "$RUN" ]; do RUN=runs/${NAME}_$n; n=$((n + 1)); done
echo "== train $CONFIG -> $RUN"
$G train "$CONFIG" --set data.root="$PREP" --run-dir "$RUN"
echo "== evaluate on test"
$G eval "$RUN" --split test
echo
echo "== done. Outputs:"
echo "  data:         $PREP (manifest.csv, distribution.png, samples.png)"
echo "  run:          $RUN (config.ini, training_log.csv, log.h5)"
echo "  checkpoints:  $RUN/checkpoints/best.h5 (best val_accuracy; eval's default), last.h5 (latest epoch; --resume),"
echo "                early_stopping_best.h5 (best val_loss; EarlyStopping's restore_best weights)"
echo "  evaluation:   $RUN/eval/best/test/{report.txt,confusion.csv,confusion.png,samples.png,predictions.csv}"
echo "  plots:        $RUN/plots/"
echo "  best val accuracy: $(awk -F, 'NR > 1 && $5 > b {b = $5} END {print b}' "$RUN/training_log.csv")"
