#!/usr/bin/env bash
# `gesture import-keras` on the Keras 2 (tf_keras) and Keras 3 legacy fixtures (tests/fixtures/keras2):
# each format imports (tf_keras model.save .h5 with Adam, tf_keras save_weights .h5 made here from it,
# tf_keras .keras, Keras 3 model.save .h5), the checkpoint's config has the file's sizes, and
# `gesture predict` on the fixture's PNG clips gives Keras' probabilities within 1e-5. A truncated
# legacy file, a model_config of another architecture, a renamed backbone array and a save_weights file
# of another model each fail with one line naming the file, and leave no output.
set -u
G=${GESTURE:?} SRC=${GESTURE_SOURCE_DIR:?}
FX="$SRC/tests/fixtures/keras2"
PY=${PYTHON:-/usr/bin/python3}  # the interpreter CMake found (tests/CMakeLists.txt): h5py, numpy
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { if eval "$2"; then echo "ok   $1"; pass=$((pass + 1)); else echo "FAIL $1"; fail=$((fail + 1)); fi; }
# edit SRC DST PYTHON: DST = a copy of SRC changed by PYTHON code with f = h5py.File(DST, "r+")
edit() { cp "$1" "$2" && "$PY" -c "import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], 'r+')
$3" "$2"; }
# probs CKPT EXPECTED: max |gesture predict - Keras| over the fixture's clips (class by name)
probs() { "$G" predict "$1" "$FX/clips" --json 2>/dev/null >"$T/p.json" || { echo "predict failed"; return; }
  "$PY" - "$T/p.json" "$2" <<'PY'
import json, sys, h5py, numpy as np
pred, e = json.load(open(sys.argv[1])), h5py.File(sys.argv[2], "r")
clips = [c.decode() for c in e["clips"][()]]
cls = ["Left_Swipe", "Right_Swipe", "Stop", "Thumbs_Down", "Thumbs_Up"]
got = {r["clip"].rstrip("/").split("/")[-1]: [r["probabilities"][c] for c in cls] for r in pred}
print("%.2e" % max(np.abs(np.array(got[c]) - e["probs"][i]).max() for i, c in enumerate(clips)) if set(got) == set(clips)
      else "clips %s" % sorted(got))
PY
}
# cfgval CKPT KEY: the value of KEY (section.key) in a checkpoint's config
cfgval() { "$PY" -c "import sys, h5py, configparser
f = h5py.File(sys.argv[1], 'r'); c = f.attrs['config']; c = c.decode() if isinstance(c, bytes) else c
p = configparser.ConfigParser(); p.read_string(c); s, k = sys.argv[2].split('.'); print(p[s][k].strip('\"'))" "$1" "$2"; }

# tf_keras save_weights('w.h5') of the model k2_model.h5 holds = its /model_weights at the root
# (scripts/make_keras2_fixtures.py checks that tf_keras writes exactly this)
"$PY" -c 'import sys, h5py
s, d = h5py.File(sys.argv[1], "r")["model_weights"], h5py.File(sys.argv[2], "w")
for k, v in s.attrs.items(): d.attrs[k] = v
for k in s: s.file.copy(s[k], d, k)' "$FX/k2_model.h5" "$T/k2_weights.h5"

for f in k2_model.h5 k2_model.keras k3_model.h5 k2_weights.h5; do
  src="$FX/$f" sets=() exp="$FX/k2_expected.h5" ver=2.21.0
  case $f in
    k3_*) exp="$FX/k3_expected.h5" ver=3.15.1 ;;
    k2_weights.h5) src="$T/$f" sets=(--set data.frames=4 --set data.size=96) ;;
  esac
  out=$("$G" import-keras "$src" "$T/$f.ck.h5" "${sets[@]}" 2>&1); rc=$?
  ok "import-keras $f exits 0, names the Keras version and the architecture" \
     "[ $rc -eq 0 ] && grep -q '(Keras $ver): alpha 0.35, 96x96, 4 frames, 5 classes, GRU 4, dense 128' <<<\"\$out\""
  d=$(probs "$T/$f.ck.h5" "$exp")
  ok "  gesture predict on the PNG clips: Keras' probabilities within 1e-5 (max |diff| $d)" \
     "[[ '$d' =~ ^[0-9.]+e-(0[6-9]|[1-9][0-9])$ ]]"
  case $f in
    k2_model.*)
      ok "  Adam: the 20 variables Keras trained, step count 2, learning rate 0.001" \
         "grep -q 'Adam moments of 20 of the 168 trainable arrays and step count 2 imported (learning rate 0.001)' <<<\"\$out\""
      v="$(cfgval "$T/$f.ck.h5" model.dropout) $(cfgval "$T/$f.ck.h5" train.l2) $(cfgval "$T/$f.ck.h5" data.resize)"
      ok "  config from the file: dropout, L2; data.resize cv2 ($v)" "[ '$v' = '0.3 0.0005 cv2' ]" ;;
    k3_model.h5)
      v="$(cfgval "$T/$f.ck.h5" model.dropout) $(cfgval "$T/$f.ck.h5" train.l2) $(cfgval "$T/$f.ck.h5" data.frames)"
      ok "  config from model_config: dropout, L2, frames ($v)" "[ '$v' = '0.2 0.0002 4' ]"
      ok "  uncompiled: no optimizer state" "grep -q 'optimizer: none saved' <<<\"\$out\"" ;;
    k2_weights.h5)
      ok "  no config: says frames and size are the config's" \
         "grep -q 'a save_weights .h5 holds no input shape: data.frames = 4 and data.size = 96 are the config' <<<\"\$out\"" ;;
  esac
done
out=$("$G" import-keras "$T/k2_weights.h5" "$T/w15.h5" 2>&1); rc=$?
ok "save_weights .h5 without --set: the shapes' model keys, the config's frames and size" \
   "[ $rc -eq 0 ] && grep -q 'alpha 0.35, 224x224, 15 frames, 5 classes, GRU 4, dense 128' <<<\"\$out\""

edit "$FX/k2_model.h5" "$T/sgd.h5" 'f.attrs["training_config"] = f.attrs["training_config"].replace("Custom>Adam", "Custom>SGD")'
out=$("$G" import-keras "$T/sgd.h5" "$T/sgd.ck.h5" 2>&1); rc=$?
ok "a model compiled with another optimizer: imports, its state is not taken for Adam's" \
   "[ $rc -eq 0 ] && grep -q 'optimizer (41 arrays) is not an Adam over these weights: moments start at zero' <<<\"\$out\""

# one line naming the file, exit 1, no output
refused() {  # LABEL FILE PATTERN [ARGS...]
  local label=$1 file=$2 pat=$3
  rm -f "$T/o.h5"
  shift 3
  err=$("$G" import-keras "$file" "$T/o.h5" "$@" 2>&1); rc=$?
  echo "$err"
  ok "$label: exit 1, one line naming the file" \
     "[ $rc -eq 1 ] && [ \$(wc -l <<<\"\$err\") -eq 1 ] && grep -qF '$file' <<<\"\$err\" && grep -q '$pat' <<<\"\$err\" && [ ! -e '$T/o.h5' ]"
}
head -c 1500000 "$FX/k2_model.h5" >"$T/trunc.h5"
refused "truncated legacy .h5" "$T/trunc.h5" "truncated or corrupt"
edit "$FX/k2_model.h5" "$T/lstm.h5" 'f.attrs["model_config"] = f.attrs["model_config"].replace("\"GRU\"", "\"LSTM\"")'
refused "model_config with an LSTM" "$T/lstm.h5" "the model has Bidirectional(LSTM) where the seed has Bidirectional(GRU)"
edit "$FX/k2_model.h5" "$T/conv3d.h5" 'import json
c = json.loads(f.attrs["model_config"]); L = c["config"]["layers"]
L[1] = {"class_name": "Conv3D", "config": {"name": "conv3d", "filters": 8, "kernel_size": [3, 3, 3]}}
f.attrs["model_config"] = json.dumps(c)'
refused "model_config of a Conv3D model" "$T/conv3d.h5" "the model has Conv3D where the seed has TimeDistributed(MobileNetV2)"
edit "$FX/k2_model.h5" "$T/renamed.h5" 'g = f["model_weights/time_distributed"]
w = [x.decode() if isinstance(x, bytes) else x for x in g.attrs["weight_names"]]
w[w.index("block_5_project/kernel:0")] = "block_5_projection/kernel:0"
g.attrs["weight_names"] = np.array([x.encode() for x in w])'
refused "renamed backbone array" "$T/renamed.h5" "array .block_5_projection/kernel:0. is no MobileNetV2 weight"
edit "$T/k2_weights.h5" "$T/nodense.h5" 'n = [x.decode() if isinstance(x, bytes) else x for x in f.attrs["layer_names"]]
f.attrs["layer_names"] = np.array([x.encode() for x in n if x != "dense_1"])'
refused "save_weights .h5 of a model without the output Dense" "$T/nodense.h5" "4 top-level layers with weights" \
        --set data.frames=4 --set data.size=96
edit "$T/k2_weights.h5" "$T/three.h5" 'for n in ("kernel", "bias"):
    p = "dense_1/dense_1/%s:0" % n; x = f[p][()]; del f[p]; f[p] = x[..., :3]'
refused "save_weights .h5 of 3 classes under --set model.classes=5" "$T/three.h5" \
        "has shape (128, 3), expected (128, 5).*shapes are those of --set model.classes=3$" \
        --set data.frames=4 --set data.size=96 --set model.classes=5
err=$("$G" train "$SRC/experiments/quickstart.ini" --set data.root="$T" --set model.pretrained="$FX/k2_model.h5" \
      --set output.runs_dir="$T/runs" 2>&1); rc=$?
ok "model.pretrained = a legacy whole-model .h5: one line saying to use import-keras ($err)" \
   "[ $rc -ne 0 ] && [ \$(wc -l <<<\"\$err\") -eq 1 ] && grep -q 'legacy .h5), not MobileNetV2 backbone weights: import it with gesture import-keras' <<<\"\$err\""
ok "import-keras --help lists the Keras 2 formats" \
   "\"\$G\" import-keras --help | grep -q 'model.save(.m.h5.) by tf.keras / tf_keras 2 or Keras 3'"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
