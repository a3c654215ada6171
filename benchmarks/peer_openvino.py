#!/usr/bin/env python3
"""OpenVINO peer of `gesture bench`: inference of `gesture export-onnx`'s model on the CPU plugin, fp32 or bf16.

The ONNX model is read as it is and reshaped to a static batch (B clips for inference, 1 for
latency: OpenVINO's fastest form), compiled for "CPU" with INFERENCE_NUM_THREADS = --threads,
PERFORMANCE_HINT LATENCY (one stream: one request at a time, as the other engines run) and
INFERENCE_PRECISION_HINT = --precision. On a CPU without bf16 instructions (no avx512_bf16 / AMX)
the plugin runs f32 whatever the hint says: the engine line reports the precision the compiled model
has and how many of its executed nodes run in bf16 (their runtimePrecision). Inference only.
   benchmarks/peer_openvino.py MODEL.onnx --config small --threads 2 [--precision bf16]
"""
import collections
import os
import sys

import numpy as np
import openvino as ov

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_common  # noqa: E402


def compile_for(core, path, batch, a):
    model = core.read_model(path)
    model.reshape({model.inputs[0].get_any_name(): [batch, a.frames, a.size, a.size, 3]})
    cfg = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": a.precision}
    if a.threads > 0:
        cfg["INFERENCE_NUM_THREADS"] = a.threads
    return core.compile_model(model, "CPU", cfg)


def precisions(compiled):
    """runtimePrecision of the executed graph's nodes (leaving out inputs, outputs and constants)."""
    count = collections.Counter()
    for op in compiled.get_runtime_model().get_ops():
        info = op.get_rt_info()
        kind = info["layerType"].astype(str) if "layerType" in info else op.get_type_name()
        if kind in ("Input", "Output", "Const", "Parameter", "Result", "Constant"):
            continue
        count[info["runtimePrecision"].astype(str) if "runtimePrecision" in info else "?"] += 1
    return ", ".join(f"{k} {v}" for k, v in count.most_common())


def main():
    ap = peer_common.parser(__doc__, phases=("inference", "latency"))
    ap.add_argument("onnx", help="gesture export-onnx output")
    ap.add_argument("--precision", choices=["f32", "bf16"], default="f32", help="INFERENCE_PRECISION_HINT")
    a = peer_common.resolve(ap.parse_args())
    core = ov.Core()
    B, T, S = a.batch, a.frames, a.size
    compiled = {B: compile_for(core, a.onnx, B, a)}
    c = compiled[B]
    caps = core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    print(f"engine         openvino {ov.get_version()}, CPU plugin ({core.get_property('CPU', 'FULL_DEVICE_NAME')}), "
          f"hint {a.precision} -> runs {c.get_property('INFERENCE_PRECISION_HINT').get_type_name()} "
          f"(executed nodes by precision: {precisions(c)}); capabilities {' '.join(map(str, caps))}; "
          f"{c.get_property('INFERENCE_NUM_THREADS')} threads, {c.get_property('NUM_STREAMS')} stream", flush=True)
    chk = peer_common.load_check(a)
    if chk:
        x, ref = chk
        outs = []
        for i in range(0, len(x), B):
            xb = x[i:i + B]
            if len(xb) not in compiled:
                compiled[len(xb)] = compile_for(core, a.onnx, len(xb), a)
            outs.append(compiled[len(xb)]({0: xb})[0])
        peer_common.report_check(np.concatenate(outs), ref, f"openvino hint {a.precision}",
                                 tol=1e-4 if a.precision == "f32" else 5e-2)
    x = np.random.default_rng(1).random((B, T, S, S, 3), dtype=np.float32)
    for phase in a.phases:
        n = B if phase == "inference" else 1
        if n not in compiled:
            compiled[n] = compile_for(core, a.onnx, n, a)
        req = compiled[n].create_infer_request()
        inp = x[:n]
        peer_common.measure(phase, lambda: req.infer({0: inp}), n * T, a)


if __name__ == "__main__":
    main()
