#!/usr/bin/env bash
# JPEG frames end to end: `gesture synth --image-format jpeg` writes the set with the PNG set's file
# stems; `gesture prepare` reads and links them; training loads them (the loader); `gesture predict`
# reads a JPEG clip, its PNG twin and the JPEGs named .png (content decides); a clip with a corrupt
# JPEG is one error line naming the file, exit 1.
set -u
G=${GESTURE:?}
PY=${PYTHON:-/usr/bin/python3}  # the interpreter CMake found (tests/CMakeLists.txt)
FX=${GESTURE_FIXTURES:-}
. "${GESTURE_SOURCE_DIR:?}/tests/tiny_train.sh"  # ok, tiny_ini
is_jpeg() { [ "$(head -c 3 "$1" | od -An -tx1 | tr -d ' \n')" = "ffd8ff" ]; }

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1

# ---- synth ----
"$G" synth raw --image-format jpeg --clips-per-class 3 --val-per-class 1 --frames 6 --big-fraction 0.4 --quiet ||
    { echo "synth --image-format jpeg failed"; exit 1; }
"$G" synth raw_png --clips-per-class 3 --val-per-class 1 --frames 6 --big-fraction 0.4 --quiet || exit 1
n_jpg=$(find raw -name '*.jpg' | wc -l)
ok "synth --image-format jpeg: 15 clips x 6 frames, all *.jpg, none .png" \
    "[ $n_jpg -eq 90 ] && [ -z \"\$(find raw -name '*.png')\" ]"
bad_magic=0
for f in $(find raw -name '*.jpg'); do is_jpeg "$f" || bad_magic=$((bad_magic + 1)); done
ok "every .jpg holds a JPEG" "[ $bad_magic -eq 0 ]"
ok "same file stems and CSVs as the PNG set" \
    "[ \"\$(cd raw && find . -type f | sed 's/\\.jpg\$/.png/' | sort)\" = \"\$(cd raw_png && find . -type f | sort)\" ]"
ok "JPEG frames (quality 95) are close to the PNG frames" "$PY - raw raw_png <<'EOF'
import glob, os, sys
import numpy as np
from PIL import Image
worst = 0
for j in sorted(glob.glob(sys.argv[1] + '/train/*/*.jpg')):
    p = j.replace(sys.argv[1], sys.argv[2], 1)[:-4] + '.png'
    a, b = (np.asarray(Image.open(f).convert('RGB'), np.float64) for f in (j, p))
    worst = max(worst, np.abs(a - b).mean())
assert 0 < worst < 3, worst
EOF"
"$G" synth raw_bad --image-format gif --quiet 2>synth.err; rc=$?
ok "synth --image-format gif is refused (exit 2)" "[ $rc -eq 2 ] && grep -q \"invalid value 'gif' for --image-format\" synth.err"

# ---- prepare (reads the JPEGs: --verify decodes every frame) ----
"$G" prepare raw prep --split fraction --val-frac 0.34 --test-frac 0.34 --verify --quiet || { echo "prepare failed"; exit 1; }
clip=$(ls -d prep/test/Stop/* | head -1)
ok "prepared clips: frame_NNNN.jpg links" \
    "[ \"\$(ls $clip | tr '\\n' ' ')\" = 'frame_0000.jpg frame_0001.jpg frame_0002.jpg frame_0003.jpg frame_0004.jpg frame_0005.jpg ' ] && [ -L $clip/frame_0000.jpg ]"
ok "validation.txt: every frame decoded, sizes read from the JPEGs" \
    "grep -q 'frames fully decoded' prep/validation.txt && grep -q 'frames per clip: 6 (15 clips)' prep/validation.txt && grep -Eq '160x120|360x360' prep/validation.txt"
ok "manifest sizes come from the JPEG headers" "grep -Eq ',6,(160,120|360,360),' prep/manifest.csv"
"$G" prepare raw prep_copy --split fraction --val-frac 0.34 --test-frac 0.34 --copy --quiet
f=$(ls prep_copy/test/Stop/*/frame_0000.jpg | head -1)
ok "prepare --copy copies the JPEGs as they are" "[ ! -L $f ] && is_jpeg $f && cmp -s $f \$(readlink -f ${f/prep_copy/prep})"

# ---- train: the loader reads the JPEG data set ----
tiny_ini prep 1 >tiny.ini
"$G" train tiny.ini --run-dir runs/a >train.log 2>&1; rc=$?
ok "train on JPEG frames (exit $rc)" "[ $rc -eq 0 ] && [ -s runs/a/checkpoints/last.h5 ]" || cat train.log

# ---- predict ----
# The same clip three ways: the JPEGs, their decoded pixels as PNGs, the JPEGs renamed .png.
mkdir -p as_png as_misnamed
"$PY" - "$clip" <<'EOF' || echo "could not convert $clip"
import glob, os, shutil, sys
from PIL import Image
for f in sorted(glob.glob(sys.argv[1] + '/*.jpg')):
    stem = os.path.basename(f)[:-4]
    Image.open(f).convert('RGB').save('as_png/%s.png' % stem)   # the pixels libjpeg-turbo decodes
    shutil.copy(f, 'as_misnamed/%s.png' % stem)
EOF
"$G" predict runs/a "$clip" as_png as_misnamed --json >pred.json 2>pred.err; rc=$?
ok "predict on a JPEG clip, its PNG twin and the misnamed copy: exit 0" "[ $rc -eq 0 ]" || cat pred.err
# (A model this small gives every clip the same probabilities to 6 digits, so equal outputs here would
# prove nothing: test_loader checks that JPEG batches equal their decoded PNG twin's, bit for bit.)
ok "three predictions with probabilities over the 5 classes" "$PY - pred.json <<'EOF'
import json, sys
got = json.load(open(sys.argv[1]))
assert len(got) == 3 and all(len(g['probabilities']) == 5 and abs(sum(g['probabilities'].values()) - 1) < 1e-4
                             for g in got), got
EOF"
"$G" predict runs/a prep/test --json >all.json 2>/dev/null; rc=$?
ok "predict finds the JPEG clips in a folder of clip folders" \
    "[ $rc -eq 0 ] && $PY -c 'import json,sys; assert len(json.load(sys.stdin)) == $(ls -d prep/test/*/* | wc -l)' <all.json"
mkdir -p bad/corrupt
cp "$clip"/*.jpg bad/corrupt/
# cp follows the links: regular files. Frames 4 of 6 (uniform) read several: cut every one after the first
for f in $(ls bad/corrupt/*.jpg | tail -n +2); do head -c 700 "$f" >"$f.cut" && mv "$f.cut" "$f"; done
"$G" predict runs/a bad/corrupt >/dev/null 2>bad.err; rc=$?
ok "a clip with a corrupt JPEG: exit 1" "[ $rc -eq 1 ]"
ok "one error line naming the clip's file and the damage" \
    "[ \$(grep -c 'bad/corrupt/frame_000[1-5].jpg: truncated JPEG' bad.err) -eq 1 ] && [ \$(grep -c 'bad/corrupt' bad.err) -eq 1 ]" ||
    cat bad.err
if [ -n "$FX" ] && [ -f "$FX/jpeg/bad_cmyk.jpg" ]; then
    mkdir -p bad/cmyk && cp "$clip"/*.jpg bad/cmyk/
    for f in bad/cmyk/*.jpg; do cp "$FX/jpeg/bad_cmyk.jpg" "$f"; done
    "$G" predict runs/a bad/cmyk >/dev/null 2>cmyk.err; rc=$?
    ok "a clip of CMYK JPEGs: exit 1, 'CMYK JPEG is not supported'" "[ $rc -eq 1 ] && grep -q 'bad/cmyk/frame_000[0-5].jpg: CMYK JPEG is not supported' cmyk.err"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
