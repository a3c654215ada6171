#!/usr/bin/env python3
"""Checks `gesture export-keras CKPT OUT.keras` with Keras 3 itself: keras.models.load_model opens the
file (no gesture code involved), the model is the seed architecture, and its predictions on the exact
input tensors of `gesture predict --save-inputs` equal gesture's probabilities within a tolerance.

Runs in the venv scripts/make_keras_fixtures.py makes (.venv-keras: Keras 3.15 + JAX from PyPI):
  KERAS_BACKEND=jax .venv-keras/bin/python scripts/check_keras_export.py --gesture build/gesture CKPT CLIPS...
Prints one line with the figures; exit 1 when a difference exceeds --tol (default 1e-5).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
import keras  # noqa: E402
import numpy as np  # noqa: E402


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("check_keras_export: %s failed (%d):\n%s%s" % (" ".join(cmd), p.returncode, p.stdout, p.stderr))
    return p.stdout


def check_optimizer(args):
    """export-keras --with-optimizer: a compiled model whose Adam holds the checkpoint's step count and
    learning rate, and every optimizer variable (iteration, learning rate, m and v of each trainable in
    model.trainable_variables order) as the file's model.weights.h5 holds it."""
    import io
    import zipfile
    import h5py
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "compiled.keras")
        run([args.gesture, "export-keras", args.checkpoint, path, "--with-optimizer"])
        model = keras.models.load_model(path)
        saved = h5py.File(io.BytesIO(zipfile.ZipFile(path).read("model.weights.h5")), "r")["optimizer/vars"]
        saved = [saved[str(i)][()] for i in range(len(saved))]
    ck_path = args.checkpoint
    if os.path.isdir(ck_path):
        best = os.path.join(ck_path, "checkpoints", "best.h5")
        ck_path = best if os.path.exists(best) else os.path.join(ck_path, "checkpoints", "last.h5")
    attrs = h5py.File(ck_path, "r")["optimizer"].attrs
    opt = model.optimizer
    problems = []
    it, lr = int(opt.iterations.numpy()), float(opt.learning_rate.numpy())
    if not model.compiled or it != int(attrs["iterations"]):
        problems.append("optimizer iterations %d, checkpoint %d" % (it, int(attrs["iterations"])))
    if abs(lr - float(attrs["learning_rate"])) > 1e-6 * float(attrs["learning_rate"]):
        problems.append("learning rate %g, checkpoint %g" % (lr, float(attrs["learning_rate"])))
    loaded = [np.asarray(v.numpy()) for v in opt.variables]
    same = sum(1 for a, b in zip(loaded, saved) if np.array_equal(a.astype(b.dtype), b))
    nonzero = sum(1 for b in saved[2:] if np.any(b))
    print("check_keras_export: --with-optimizer: compiled %s, Adam iterations %d, learning rate %g; %d of %d "
          "optimizer variables as written (%d moments non-zero)" % (model.compiled, it, lr, same, len(saved), nonzero))
    if len(loaded) != len(saved) or same != len(saved):
        problems.append("%d of %d optimizer variables differ" % (len(saved) - same, len(saved)))
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gesture", default="build/gesture")
    ap.add_argument("--tol", type=float, default=1e-5)
    ap.add_argument("checkpoint")
    ap.add_argument("clips", nargs="+")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        run([args.gesture, "export-keras", args.checkpoint, path])
        model = keras.models.load_model(path)
        preds = {}
        for inference in ("reference", "plan"):  # the reference ops, and gesture's default (BN folded)
            x_path = os.path.join(tmp, "x_%s.npy" % inference)
            pred = json.loads(run([args.gesture, "predict", args.checkpoint] + args.clips +
                                  ["--json", "--inference", inference, "--save-inputs", x_path]))
            x = np.load(x_path)
            classes = list(pred[0]["probabilities"].keys())
            preds[inference] = np.array([[r["probabilities"][c] for c in classes] for r in pred])
    p_gesture = preds["reference"]
    p_keras = model.predict(x, verbose=0).astype(np.float64)
    kinds = [type(l).__name__ for l in model.layers]
    inner = model.layers[0].layer
    problems = []
    if kinds != ["TimeDistributed", "TimeDistributed", "TimeDistributed", "Bidirectional", "Dropout", "Dense",
                 "Dropout", "Dense"]:
        problems.append("layers %s" % kinds)
    d = float(np.abs(p_keras - p_gesture).max())
    d_plan = float(np.abs(p_keras - preds["plan"]).max())
    same = int((p_keras.argmax(1) == p_gesture.argmax(1)).sum())
    print("check_keras_export: keras %s (%s) load_model: %s, %s with %d layers, %d parameters; %d clips %s: "
          "max |p_keras - p_gesture| %.3g (%.3g against --inference plan), labels %d/%d equal"
          % (keras.__version__, keras.backend.backend(), type(model).__name__, inner.name, len(inner.layers),
             model.count_params(), len(x), "x".join(map(str, x.shape[1:])), d, d_plan, same, len(x)))
    if max(d, d_plan) > args.tol:
        problems.append("max |dp| %.3g > %g" % (max(d, d_plan), args.tol))
    if same != len(x):
        problems.append("labels differ")
    problems += check_optimizer(args)
    if problems:
        print("check_keras_export: FAIL: " + "; ".join(problems))
        return 1
    print("check_keras_export: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
