#!/usr/bin/env python3
"""Checks `gesture export-onnx` against ONNX Runtime: the exported model's probabilities on real clips
equal `gesture predict --json`'s within a tolerance (default 1e-5).

Runs in the venv scripts/make_onnx_venv.sh makes (onnx + onnxruntime from PyPI):
  .venv-onnx/bin/python scripts/check_onnx.py --gesture build/gesture CHECKPOINT CLIP_DIR... [--tol 1e-5]

For each export (the checkpoint's frames, then --frames dynamic):
  1. gesture export-onnx CHECKPOINT OUT.onnx [--frames dynamic]; onnx.checker (full check, shape inference)
     and the graph's input/output names, shapes, opset;
  2. gesture predict CHECKPOINT CLIPS --json --save-inputs X.npy, with --inference reference and plan:
     gesture's probabilities and the exact input tensors it predicted them from;
  3. ONNX Runtime (CPU) on X, the whole set as one batch and clip by clip (batch 1): max |p_ort - p_gesture|
     and agreement of the predicted labels.
Prints one line per run with the figures, exits 1 when a difference exceeds the tolerance.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("check_onnx: %s failed (%d):\n%s%s" % (" ".join(cmd), p.returncode, p.stdout, p.stderr))
    return p.stdout


def dims(value_info):
    return [d.dim_param if d.HasField("dim_param") else d.dim_value
            for d in value_info.type.tensor_type.shape.dim]


def predictions(args, tmp):
    """gesture predict's input tensors and probabilities, with both inference paths (reference: the
    reference ops; plan: batch norm folded into the convolutions, gesture's default)."""
    preds, x = {}, None
    for inference in ("reference", "plan"):
        x_path = os.path.join(tmp, "inputs_%s.npy" % inference)
        pred = json.loads(run([args.gesture, "predict", args.checkpoint] + args.clips +
                              ["--json", "--inference", inference, "--save-inputs", x_path]))
        xi = np.load(x_path)
        if xi.shape[0] != len(pred):
            sys.exit("check_onnx: %d input tensors saved for %d predictions" % (xi.shape[0], len(pred)))
        if x is not None and not np.array_equal(x, xi):
            sys.exit("check_onnx: the plan and the reference were fed different inputs")
        x = xi
        classes = list(pred[0]["probabilities"].keys())
        preds[inference] = np.array([[r["probabilities"][c] for c in classes] for r in pred], dtype=np.float64)
        preds["classes"] = classes
    return x, preds


def check(args, tmp, dynamic, inputs):
    path = os.path.join(tmp, "dynamic.onnx" if dynamic else "fixed.onnx")
    run([args.gesture, "export-onnx", args.checkpoint, path] + (["--frames", "dynamic"] if dynamic else []))
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    opset = {o.domain: o.version for o in model.opset_import}[""]
    meta = {p.key: p.value for p in model.metadata_props}
    (inp,), (out,) = model.graph.input, model.graph.output
    in_dims, out_dims = dims(inp), dims(out)
    classes = json.loads(meta["classes"])
    problems = []
    if opset < 17:
        problems.append("opset %d < 17" % opset)
    if inp.name != "frames" or in_dims[0] != "batch" or in_dims[2:] != [int(meta["size"])] * 2 + [3]:
        problems.append("input %s %s" % (inp.name, in_dims))
    if (in_dims[1] == "frames") != dynamic:
        problems.append("frames dimension %s" % in_dims[1])
    if out.name != "probabilities" or out_dims != ["batch", len(classes)]:
        problems.append("output %s %s" % (out.name, out_dims))

    x, preds = inputs
    cols = [preds["classes"].index(c) for c in classes]  # gesture's JSON keys -> the metadata's class order
    p_ref, p_plan = preds["reference"][:, cols], preds["plan"][:, cols]
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    p_all = sess.run(["probabilities"], {"frames": x})[0].astype(np.float64)
    p_one = np.concatenate([sess.run(["probabilities"], {"frames": x[i:i + 1]})[0] for i in range(len(x))])
    d_all = float(np.abs(p_all - p_ref).max())
    d_one = float(np.abs(p_one - p_ref).max())
    d_plan = float(np.abs(p_all - p_plan).max())
    same_label = int((p_all.argmax(1) == p_ref.argmax(1)).sum())
    line = ("%s frames (input %s): %d clips of %s, ONNX Runtime %s vs gesture predict: max |dp| %.3g (batch %d), "
            "%.3g (batch 1), %.3g against --inference plan; labels %d/%d equal; opset %d"
            % ("dynamic" if dynamic else "fixed", in_dims, len(x), "x".join(map(str, x.shape[1:])), ort.__version__,
               d_all, len(x), d_one, d_plan, same_label, len(x), opset))
    if dynamic and x.shape[1] > 1:  # the dynamic model runs on other clip lengths too
        sess.run(["probabilities"], {"frames": x[:, : x.shape[1] - 1]})
        line += "; runs on %d frames too" % (x.shape[1] - 1)
    print("check_onnx: " + line)
    if max(d_all, d_one, d_plan) > args.tol:
        problems.append("max |dp| %.3g > %g" % (max(d_all, d_one, d_plan), args.tol))
    if same_label != len(x):
        problems.append("labels differ")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gesture", default="build/gesture", help="the gesture binary")
    ap.add_argument("--tol", type=float, default=1e-5)
    ap.add_argument("checkpoint")
    ap.add_argument("clips", nargs="+")
    args = ap.parse_args()
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        inputs = predictions(args, tmp)
        for dynamic in (False, True):
            problems += check(args, tmp, dynamic, inputs)
    if problems:
        print("check_onnx: FAIL: " + "; ".join(problems))
        return 1
    print("check_onnx: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
