#!/usr/bin/env bash
# Checkpoints and log.h5 are plain HDF5 that h5py (as HDFView) reads: the /weights tree with Keras
# names and shapes in float32, the optimizer moments and attributes, the string attributes (format,
# config, classes) as text, and the log's columns. The files come from test_checkpoint --write-sample.
set -u
BIN="$(dirname "${GESTURE:?}")/tests/test_checkpoint"
PY=${PYTHON:-/usr/bin/python3}  # the interpreter CMake found (tests/CMakeLists.txt)
[ -x "$BIN" ] || { echo "FAIL test_checkpoint not built at $BIN"; exit 1; }
$PY -c 'import h5py' 2>/dev/null || { echo "skip: Debian python3-h5py not installed"; exit 77; }
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
"$BIN" --write-sample "$DIR" || { echo "FAIL --write-sample"; exit 1; }
$PY - "$DIR/ckpt.h5" "$DIR/log.h5" <<'PYEOF'
import sys, h5py, numpy as np
ck, log = sys.argv[1], sys.argv[2]
passed = failed = 0
def text(v):  # gesture writes fixed-length strings: h5py reads them as bytes
    return v.decode() if isinstance(v, bytes) else v
def ok(what, cond):
    global passed, failed
    print(("ok   " if cond else "FAIL ") + what)
    passed, failed = passed + bool(cond), failed + (not cond)
with h5py.File(ck, "r") as f:
    w = f["weights"]
    names = []
    w.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
    print(f"{len(names)} tensors under /weights, e.g. {names[:3]}")
    ok("root attrs", text(f.attrs["format"]) == "gesture-checkpoint" and int(f.attrs["format_version"]) == 1
       and int(f.attrs["epoch"]) == 2)
    ok("Keras layer names", "Conv1/kernel" in names and "block_16_project_BN/moving_variance" in names
       and "gru_forward/recurrent_kernel" in names and "dense_out/bias" in names)
    ok("every tensor float32", all(w[n].dtype == np.float32 for n in names))
    ok("Conv1/kernel shape (3, 3, 3, 16) HWIO", w["Conv1/kernel"].shape == (3, 3, 3, 16))
    ok("dense_out/kernel shape (8, 5)", w["dense_out/kernel"].shape == (8, 5))
    ok("GRU bias (2, 24)", w["gru_forward/bias"].shape == (2, 24))
    ok("BN moving variance initialised to 1", np.all(w["head_bn/moving_variance"][()] == 1.0))
    m = []
    f["optimizer/m"].visititems(lambda n, o: m.append(n) if isinstance(o, h5py.Dataset) else None)
    ok("optimizer/m holds the trainables only", len(m) > 0 and "Conv1/kernel" in m
       and not any(n.endswith("moving_mean") for n in m) and "optimizer/v/Conv1/kernel" in f)
    ok("optimizer attrs", int(f["optimizer"].attrs["iterations"]) == 0
       and abs(float(f["optimizer"].attrs["learning_rate"]) - 1e-4) < 1e-12)
    cls = [c.decode() if isinstance(c, bytes) else c for c in f.attrs["classes"]]
    ok("classes as strings", cls == ["Left_Swipe", "Right_Swipe", "Stop", "Thumbs_Down", "Thumbs_Up"])
    ok("config is INI text", isinstance(text(f.attrs["config"]), str) and "[train]" in text(f.attrs["config"]))
    ok("callbacks attrs", int(f["callbacks"].attrs["early_stopping_best_epoch"]) == -1)
    ok("history rows", list(f["history/epoch"][()]) == [0, 1])
with h5py.File(log, "r") as f:
    ok("log columns", sorted(f) == ["accuracy", "epoch", "learning_rate", "loss", "val_accuracy", "val_loss"])
    ok("log epoch int32, extendible", f["epoch"].dtype == np.int32 and f["epoch"].maxshape == (None,))
    ok("log values", list(f["loss"][()]) == [1.6, 1.1] and text(f.attrs["format"]) == "gesture-trainlog")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PYEOF
