#!/usr/bin/env bash
# data.resize = cv2 end to end: the tensors `gesture predict --save-inputs` feeds the model equal
# cv2.resize(frame, (S, S), INTER_LINEAR).astype(float32) / 255 bit for bit, on synthetic clips of both
# frame sizes (160x120, 360x360), with opencv-python from the venv scripts/make_cv2_fixtures.py makes
# (.venv-cv2, or $GESTURE_CV2_VENV). Without it: skipped (exit 77); test_resize_cv2 checks the resize on
# committed pixels without OpenCV.
set -u
G=${GESTURE:?} SRC=${GESTURE_SOURCE_DIR:?}
VENV=${GESTURE_CV2_VENV:-$SRC/.venv-cv2}
if ! "$VENV/bin/python" -c 'import cv2, numpy' 2>/dev/null; then
  echo "skipped: no opencv-python in $VENV (run scripts/make_cv2_fixtures.py once; it installs it from PyPI)"
  exit 77
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$G" import-keras "$SRC/tests/fixtures/keras/seed_small.keras" "$T/ck.h5" --set data.resize=cv2 >/dev/null 2>&1 ||
  { echo "import-keras failed"; exit 1; }
"$G" synth "$T/raw" --clips-per-class 2 --frames 8 --seed 6 --quiet >/dev/null || { echo "synth failed"; exit 1; }
"$G" predict "$T/ck.h5" "$T/raw/train" --json --save-inputs "$T/x.npy" >"$T/p.json" 2>/dev/null || { echo "predict failed"; exit 1; }
"$VENV/bin/python" - "$T" <<'PY'
import glob, json, os, sys
import cv2, numpy as np
T = sys.argv[1]
x, pred = np.load(T + "/x.npy"), json.load(open(T + "/p.json"))
n_t, S = x.shape[1], x.shape[2]
exact = total = 0
sizes = set()
for i, r in enumerate(pred):
    frames = sorted(glob.glob(os.path.join(r["clip"], "*.png")))
    for t in range(n_t):  # the checkpoint's selection: stride 2 from the first frame
        img = cv2.cvtColor(cv2.imread(frames[2 * t]), cv2.COLOR_BGR2RGB)
        sizes.add("%dx%d" % (img.shape[1], img.shape[0]))
        want = cv2.resize(img, (S, S), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255.0
        total += 1
        exact += np.array_equal(want, x[i, t])
ok = exact == total and sizes == {"160x120", "360x360"}
print("%s frames of %s (%d clips) equal to cv2 %s resize / 255: %d of %d" %
      ("ok  " if ok else "FAIL", " and ".join(sorted(sizes)), len(pred), cv2.__version__, exact, total))
print("%d passed, %d failed" % (1 if ok else 0, 0 if ok else 1))
sys.exit(0 if ok else 1)
PY
