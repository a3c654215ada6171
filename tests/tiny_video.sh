# Sourced by the video script tests (not a test itself): a tiny synthetic set with every clip also
# as a lossless video, and a small model trained on it with stride sampling (4 frames, every 2nd of
# 30 fps = 15 model frames per second), checkpoint in $CK. Also ok NAME CONDITION (counts into
# $pass / $fail) and compare.py A.json B.json TOL (two JSON lists of rows with "probabilities" agree).
# Skips (77) without the ffmpeg CLI, the tests' reference.
set -u
G=${GESTURE:?}
PY=${PYTHON:-/usr/bin/python3}
. "${GESTURE_SOURCE_DIR:?}/tests/tiny_train.sh"  # ok, tiny_ini
command -v ffmpeg >/dev/null || { echo "no ffmpeg CLI: skipping"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1

"$G" synth raw --clips-per-class 5 --frames 8 --big-fraction 0 --seed 3 --quiet --videos mkv || exit 1
"$G" prepare raw prep --split fraction --val-frac 0.25 --test-frac 0.25 --quiet >/dev/null 2>&1 || exit 1
tiny_ini prep 3 >tiny.ini
"$G" train tiny.ini --run-dir run --set data.sampling=stride --set data.frame_step=2 --set model.bn_momentum=0.5 \
  >train.log 2>&1 || { cat train.log; exit 1; }
CK=run/checkpoints/best.h5
# compare.py A.json B.json TOL [STEP]: rows i of A and i of B (or pairs within A with STEP) agree
cat >compare.py <<'PYEOF'
import json, sys
a, b, tol = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), float(sys.argv[3])
assert len(a) == len(b) > 0, (len(a), len(b))
worst = max(abs(x['probabilities'][k] - y['probabilities'][k]) for x, y in zip(a, b) for k in x['probabilities'])
print('  max |dp| = %.3g (tolerance %g)' % (worst, tol))
assert worst <= tol
PYEOF

