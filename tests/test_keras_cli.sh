#!/usr/bin/env bash
# `gesture import-keras` / `gesture export-keras` from the CLI on the Keras-made fixtures
# (tests/fixtures/keras): .keras -> checkpoint -> .weights.h5 -> checkpoint keeps every weight bit for
# bit; a legacy backbone .h5 -> gesture-backbone file; bad input fails with a message naming the file.
set -u
G=${GESTURE:?} SRC=${GESTURE_SOURCE_DIR:?}
FX="$SRC/tests/fixtures/keras"
PY=${PYTHON:-/usr/bin/python3}  # the interpreter CMake found (tests/CMakeLists.txt)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { if eval "$2"; then echo "ok   $1"; pass=$((pass + 1)); else echo "FAIL $1"; fail=$((fail + 1)); fi; }
# h5 NAME EXPR: evaluate a Python expression with f = h5py.File(NAME); prints its value
# (t(x): gesture's own files hold fixed-length strings, which h5py reads as bytes)
h5() { "$PY" -c "import h5py, numpy as np, sys; f = h5py.File(sys.argv[1], 'r'); t = lambda x: x.decode() if isinstance(x, bytes) else x; print($2)" "$1"; }
# same_weights A.h5 B.h5: the checkpoints hold the same weight arrays, bit for bit
same_weights() { "$PY" - "$1" "$2" <<'PY'
import sys, h5py
a, b = h5py.File(sys.argv[1], "r")["weights"], h5py.File(sys.argv[2], "r")["weights"]
n = []
a.visititems(lambda p, o: n.append(p) if isinstance(o, h5py.Dataset) else None)
sys.exit(0 if n and all(p in b and a[p][()].tobytes() == b[p][()].tobytes() for p in n) else 1)
PY
}

out=$("$G" import-keras "$FX/seed_small.keras" "$T/ck.h5" 2>&1); rc=$?
ok "import-keras seed_small.keras exits 0" "[ $rc -eq 0 ]"
ok "reports the inferred architecture" "grep -q 'alpha 0.35, 96x96, 4 frames, 5 classes, GRU 128, dense 128' <<<\"\$out\""
v=$(h5 "$T/ck.h5" "t(f.attrs['format']), f['weights/block_3_depthwise/depthwise_kernel'].shape, f['weights/gru_backward/bias'].shape")
ok "checkpoint format and names ($v)" '[ "$v" = "gesture-checkpoint (3, 3, 48, 1) (2, 384)" ]'
v=$(h5 "$T/ck.h5" "t(f.attrs['config'])")
ok "checkpoint config has the file's sizes" 'grep -q "^frames = 4" <<<"$v" && grep -q "^size = 96" <<<"$v" && grep -q "^alpha = 0.35" <<<"$v"'
ok "a Keras 3 file trains with Keras 3's per-time-step batch norm (model.bn_time = keras3)" 'grep -q "^bn_time = keras3" <<<"$v"'
# the same file as Keras 2.15 would have written it (only metadata.json's keras_version differs)
"$PY" - "$FX/seed_small.keras" "$T/k2.keras" <<'PY'
import sys, zipfile
src, dst = zipfile.ZipFile(sys.argv[1]), zipfile.ZipFile(sys.argv[2], "w", zipfile.ZIP_STORED)
for i in src.infolist():
    data = src.read(i)
    dst.writestr(i, data.replace(b'"3.15.1"', b'"2.15.0"') if i.filename == "metadata.json" else data)
dst.close()
PY
"$G" import-keras "$T/k2.keras" "$T/k2.h5" >/dev/null 2>&1
v=$(h5 "$T/k2.h5" "t(f.attrs['config'])")
ok "a Keras 2 file trains with tf.keras 2's batch norm over all frames (model.bn_time = keras2)" 'grep -q "^bn_time = keras2" <<<"$v"'
"$G" import-keras "$FX/seed_small.keras" "$T/k3.h5" --set model.bn_time=keras2 >/dev/null 2>&1
v=$(h5 "$T/k3.h5" "t(f.attrs['config'])")
ok "--set model.bn_time overrides what the file's Keras version says" 'grep -q "^bn_time = keras2" <<<"$v"'
v=$(h5 "$T/ck.h5" "[t(c) for c in f.attrs['classes']]")
ok "default class names for 5 classes ($v)" 'grep -q "Thumbs_Up" <<<"$v"'

out=$("$G" export-keras "$T/ck.h5" "$T/x.weights.h5" 2>&1); rc=$?
ok "export-keras exits 0 and says how to load it in Keras" "[ $rc -eq 0 ] && grep -q 'load_weights' <<<\"\$out\""
v=$(h5 "$T/x.weights.h5" "f['layers/time_distributed/layer/layers/depthwise_conv2d_3/vars'].attrs['name'], f['layers/time_distributed/layer/layers/re_lu_34/vars'].attrs['name']")
ok "export has Keras' layout and name attributes ($v)" '[ "$v" = "block_3_depthwise out_relu" ]'
# --check-export's pre-check (h5py only; the Keras part needs the venv and is not run here)
mismatch() { "$PY" -c 'import sys; sys.path.insert(0, sys.argv[1] + "/scripts")
import make_keras_fixtures as m; print(m.small_model_mismatch(sys.argv[2]))' "$SRC" "$1"; }
v=$(mismatch "$T/x.weights.h5")
ok "check-export pre-check: an export of the small test model passes ($v)" "[ \"\$v\" = None ]"
cp "$T/x.weights.h5" "$T/other.weights.h5"
"$PY" -c 'import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r+"); del f["layers/dense_1/vars/0"]; f["layers/dense_1/vars/0"] = np.zeros((128, 3), "f4")' "$T/other.weights.h5"
v=$(mismatch "$T/other.weights.h5")
ok "check-export pre-check: another model's export is refused naming the weight ($v)" \
   "grep -q 'layers/dense_1/vars/0 has shape (128, 3), the small test model.s is (128, 5)' <<<\"\$v\""
"$G" import-keras "$T/x.weights.h5" "$T/ck2.h5" --set model.alpha=0.35 --set data.size=96 --set data.frames=4 >/dev/null 2>&1
ok "bare .weights.h5 imports with the model from --set" "[ $? -eq 0 ]"
err=$("$G" import-keras "$T/x.weights.h5" "$T/ck3.h5" --set model.classes=3 2>&1); rc=$?
echo "$err"
ok "bare .weights.h5 with a --set its shapes contradict: one line naming the value they imply" \
   "[ $rc -eq 1 ] && [ \$(wc -l <<<\"\$err\") -eq 1 ] && grep -q 'shapes are those of --set model.classes=5$' <<<\"\$err\""
out=$("$G" import-keras "$T/x.weights.h5" "$T/ck5.h5" 2>&1); rc=$?
ok "bare .weights.h5 without --set: alpha, GRU, dense, classes from its shapes; frames and size named as the config's" \
   "[ $rc -eq 0 ] && grep -q 'alpha 0.35, 224x224, 15 frames, 5 classes, GRU 128, dense 128' <<<\"\$out\" && grep -q 'data.frames = 15 and data.size = 224 are the config' <<<\"\$out\""
ok "  ... with every weight bit-identical" "same_weights '$T/ck.h5' '$T/ck5.h5'"
same=$("$PY" - "$T/ck.h5" "$T/ck2.h5" <<'EOF'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r")["weights"], h5py.File(sys.argv[2], "r")["weights"]
names = []
a.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
nb = []
b.visititems(lambda n, o: nb.append(n) if isinstance(o, h5py.Dataset) else None)
print(len(names), sorted(names) == sorted(nb) and all(a[n][()].tobytes() == b[n][()].tobytes() for n in names))
EOF
)
ok "import -> export -> import: all 274 weights bit-identical ($same)" "[ \"$same\" = '274 True' ]"
# the .keras weights themselves, compared with the checkpoint by value
same=$("$PY" - "$FX/seed_small.keras" "$T/x.weights.h5" <<'EOF'
import sys, io, zipfile, h5py
k = h5py.File(io.BytesIO(zipfile.ZipFile(sys.argv[1]).read("model.weights.h5")), "r")
x = h5py.File(sys.argv[2], "r")
n = []
k.visititems(lambda p, o: n.append(p) if isinstance(o, h5py.Dataset) and not p.startswith("optimizer") else None)
print(all(p in x and k[p][()].tobytes() == x[p][()].tobytes() for p in n))
EOF
)
ok "exported arrays == the .keras file's, path by path" "[ \"$same\" = True ]"

"$G" export-keras "$T/ck.h5" "$T/adam.weights.h5" --with-optimizer >/dev/null 2>&1
v=$(h5 "$T/adam.weights.h5" "len(f['optimizer/vars']), f['optimizer/vars'].attrs['name']")
ok "export-keras --with-optimizer writes Keras' Adam layout: 2 + 2 x 168 arrays ($v)" '[ "$v" = "338 adam" ]'

# the whole model as .keras (Keras' load_model itself: test_keras_export_model, with the Keras venv)
out=$("$G" export-keras "$T/ck.h5" "$T/whole.keras" 2>&1); rc=$?
ok "export-keras OUT.keras exits 0 and says how to open it" "[ $rc -eq 0 ] && grep -q 'keras.models.load_model' <<<\"\$out\""
v=$("$PY" - "$T/whole.keras" "$FX/seed_small.keras" <<'PY'
import io, json, sys, zipfile, h5py
z = zipfile.ZipFile(sys.argv[1])
names = sorted(z.namelist())
meta = json.loads(z.read("metadata.json"))
c, ref = json.loads(z.read("config.json")), json.loads(zipfile.ZipFile(sys.argv[2]).read("config.json"))
def layers(cfg):  # (class, name) of every layer, the backbone's too
    top = cfg["config"]["layers"]
    inner = top[1]["config"]["layer"]["config"]["layers"]
    return [(l["class_name"], l["config"].get("name")) for l in top + inner]
w = h5py.File(io.BytesIO(z.read("model.weights.h5")), "r")
print(names == ["config.json", "metadata.json", "model.weights.h5"], meta["keras_version"].startswith("3."),
      c["class_name"], layers(c) == layers(ref), "layers/bidirectional/forward_layer/cell/vars/0" in w)
PY
)
ok "OUT.keras: the zip members, Keras 3 metadata, config.json with the Keras file's layers ($v)" '[ "$v" = "True True Sequential True True" ]'
"$G" import-keras "$T/whole.keras" "$T/ck4.h5" >/dev/null 2>&1
ok "OUT.keras imports back with every weight bit-identical" "same_weights '$T/ck.h5' '$T/ck4.h5'"
"$G" export-keras "$T/ck.h5" "$T/compiled.keras" --with-optimizer >/dev/null 2>&1; rc=$?
v=$("$PY" - "$T/compiled.keras" <<'PY'
import io, json, sys, zipfile, h5py
z = zipfile.ZipFile(sys.argv[1])
c = json.loads(z.read("config.json"))["compile_config"]
w = h5py.File(io.BytesIO(z.read("model.weights.h5")), "r")
print(c["optimizer"]["class_name"], c["loss"], c["metrics"], len(w["optimizer/vars"]))
PY
)
ok "export-keras OUT.keras --with-optimizer: compiled (Adam, loss, metrics) with Keras' 2 + 2 x 168 Adam arrays ($v)" \
   "[ $rc -eq 0 ] && [ \"\$v\" = \"Adam categorical_crossentropy ['accuracy'] 338\" ]"
err=$("$G" export-keras "$T/ck.h5" "$T/nodir/x.keras" 2>&1); rc=$?
ok "OUT.keras in a missing folder: one line ($err)" "[ $rc -eq 1 ] && [ \$(wc -l <<<\"\$err\") -eq 1 ]"

# a Keras model without the head's TimeDistributed(BatchNormalization), as Keras would save it (the
# wrappers after it renumbered): refused naming that layer
"$PY" - "$FX/seed_small.keras" "$T/nobn.keras" "$T/nobn.h5" <<'PY'
import json, sys, zipfile, h5py
z = zipfile.ZipFile(sys.argv[1])
c = json.loads(z.read("config.json"))
L = c["config"]["layers"]
L[:] = [l for l in L if l["config"].get("name") != "time_distributed_1"]
for l in L:
    if l["config"].get("name") == "time_distributed_2":
        l["config"]["name"] = "time_distributed_1"
open(sys.argv[3], "wb").write(z.read("model.weights.h5"))
with h5py.File(sys.argv[3], "r+") as f:
    del f["layers/time_distributed_1"]
    f.move("layers/time_distributed_2", "layers/time_distributed_1")
    f["layers/time_distributed_1/vars"].attrs["name"] = "time_distributed_1"
with zipfile.ZipFile(sys.argv[2], "w") as o:
    o.writestr("metadata.json", z.read("metadata.json"))
    o.writestr("config.json", json.dumps(c))
    o.write(sys.argv[3], "model.weights.h5")
PY
err=$("$G" import-keras "$T/nobn.keras" "$T/nobn_ck.h5" 2>&1); rc=$?
ok "a model without the head batch norm: refused naming TimeDistributed(BatchNormalization) ($err)" \
   "[ $rc -eq 1 ] && [ \$(wc -l <<<\"\$err\") -eq 1 ] && grep -q 'the model has no TimeDistributed(BatchNormalization)' <<<\"\$err\" && ! grep -q time_distributed_2 <<<\"\$err\""

err=$("$G" train "$SRC/experiments/quickstart.ini" --set data.root="$T" --set model.pretrained="$FX/seed_small.keras" \
      --set output.runs_dir="$T/runs" 2>&1); rc=$?
ok "model.pretrained = a .keras model: one line saying to use import-keras, no run made ($err)" \
   "[ $rc -ne 0 ] && [ \$(wc -l <<<\"\$err\") -eq 1 ] && grep -q 'gesture import-keras .*--run-dir' <<<\"\$err\" && [ ! -e '$T/runs' ]"

out=$("$G" import-keras "$FX/backbone_mobl_names.h5" "$T/bb.h5" 2>&1); rc=$?
ok "legacy ImageNet-style .h5 -> backbone file" "[ $rc -eq 0 ] && grep -q 'alpha 0.35' <<<\"\$out\""
v=$(h5 "$T/bb.h5" "t(f.attrs['format']), 'dense_out' in f['weights'], len(f['weights'])")
ok "backbone file: our names, backbone only ($v)" '[ "$v" = "gesture-backbone False 104" ]'
same=$(h5 "$T/bb.h5" "np.array_equal(f['weights/block_1_expand/kernel'][()], h5py.File('$FX/backbone_mobl_names.h5','r')['mobl1_conv_1_expand/mobl1_conv_1_expand/kernel:0'][()])")
ok "backbone file holds the file's arrays by order (mobl1_conv_1_expand -> block_1_expand)" "[ '$same' = True ]"
"$G" import-keras "$T/bb.h5" "$T/bb2.h5" >/dev/null 2>&1
ok "backbone file reads back" "[ $? -eq 0 ]"

"$G" import-keras "$FX/seed_small.keras" --run-dir "$T/run" --set data.root=/nonexistent >/dev/null 2>&1; rc=$?
ok "--run-dir writes config.ini + checkpoints/last.h5 for train --resume / eval" '[ $rc -eq 0 ] && grep -q "^root = \"/nonexistent\"" "$T/run/config.ini" && [ -s "$T/run/checkpoints/last.h5" ]'
err=$("$G" import-keras "$FX/seed_small.keras" --run-dir "$T/run" 2>&1); rc=$?
ok "--run-dir never overwrites a run" '[ $rc -ne 0 ] && grep -q "already holds a run" <<<"$err"'
err=$("$G" import-keras "$T/missing.keras" "$T/o.h5" 2>&1); rc=$?
ok "missing file fails naming it" "[ $rc -ne 0 ] && grep -q 'missing.keras' <<<\"\$err\""
head -c 3000000 "$FX/seed_small.keras" >"$T/trunc.keras"
err=$("$G" import-keras "$T/trunc.keras" "$T/o.h5" 2>&1); rc=$?
ok "truncated .keras fails: $err" "[ $rc -ne 0 ] && grep -q 'truncated' <<<\"\$err\""
err=$("$G" import-keras "$T/ck.h5" "$T/o.h5" 2>&1); rc=$?
ok "a gesture checkpoint is not a Keras file" "[ $rc -ne 0 ] && grep -q 'not a Keras file' <<<\"\$err\""
err=$("$G" import-keras "$FX/seed_small.keras" "$T/o.h5" --set model.gru_units=64 2>&1); rc=$?
ok "--set against the file's shapes fails naming both" "[ $rc -ne 0 ] && grep -q '(1280, 384), expected (1280, 192)' <<<\"\$err\""
err=$("$G" import-keras "$FX/seed_small.keras" "$T/o.h5" --classes a,b 2>&1); rc=$?
ok "--classes count checked" "[ $rc -ne 0 ] && grep -q '2 names' <<<\"\$err\""
err=$("$G" export-keras "$T/ck.h5" "$T/plain.h5" 2>&1); rc=$?
ok "export-keras wants a .weights.h5 name" "[ $rc -ne 0 ] && grep -q 'weights.h5' <<<\"\$err\""
ok "no output left by failures" "[ ! -e '$T/o.h5' ] && [ ! -e '$T/plain.h5' ]"
ok "import-keras --help" "\"\$G\" import-keras --help | grep -q 'usage: gesture import-keras'"
ok "export-keras --help" "\"\$G\" export-keras --help | grep -q 'usage: gesture export-keras'"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
