#!/usr/bin/env python3
"""ONNX Runtime peer of `gesture bench`: inference of `gesture export-onnx`'s model (the very checkpoint's network).

CPU execution provider, all graph optimizations (ORT's default), intra_op_num_threads = --threads,
inter_op 1, sequential execution. The input is gesture's own layout, (B, T, S, S, 3) float32.
Phases: inference (B clips) and latency (1 clip); ORT does not train this model. With
--check-inputs/--check-probs, the probabilities on gesture predict's inputs against gesture's.
   benchmarks/peer_ort.py MODEL.onnx --config small --threads 2
"""
import os
import sys

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_common  # noqa: E402


def main():
    ap = peer_common.parser(__doc__, phases=("inference", "latency"))
    ap.add_argument("onnx", help="gesture export-onnx output")
    a = peer_common.resolve(ap.parse_args())
    so = ort.SessionOptions()
    if a.threads > 0:
        so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(a.onnx, so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    shape = sess.get_inputs()[0].shape
    print(f"engine         onnxruntime {ort.__version__}, CPUExecutionProvider, intra_op {a.threads or 'default'}, "
          f"inter_op 1, ORT_ENABLE_ALL; input {name} {shape}", flush=True)
    chk = peer_common.load_check(a)
    if chk:
        x, ref = chk
        p = np.concatenate([sess.run(None, {name: x[i:i + a.batch]})[0] for i in range(0, len(x), a.batch)])
        peer_common.report_check(p, ref, "onnxruntime fp32")
    B, T, S = a.batch, a.frames, a.size
    x = np.random.default_rng(1).random((B, T, S, S, 3), dtype=np.float32)
    for phase in a.phases:
        inp = x if phase == "inference" else x[:1]
        peer_common.measure(phase, lambda: sess.run(None, {name: inp}), B * T if phase == "inference" else T, a)


if __name__ == "__main__":
    main()
