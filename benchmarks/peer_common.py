"""Shared by the peer scripts of benchmarks/run_peers.sh (peer_torch.py, peer_ort.py, peer_openvino.py,
peer_keras.py): the configs, the command line, the timing rule and the output lines. Standard library
only (peer_torch.py also runs on Debian's torch 1.13 for run_stream.sh and gpu_check.sh).

Timing rule (the same for every engine, gesture's `bench --settle` included): a phase warms up until
its step time settles (the last 3 step times within 5% of each other, at least --min-warm steps, at
most --max-warm: then it goes on and the line says "unsettled"); then --steps timed steps, and the
line reports their median. Output, one line per phase (run_peers.sh reads columns 1, 2 and 4):
    train          <img/s> img/s <ms> ms/step   warm <n>
    inference      <img/s> img/s <ms> ms/step   warm <n>
    latency        <img/s> img/s <ms> ms/clip   warm <n>     (1 clip of T frames)
    check          <max |p - p_gesture|> <what was compared>
    engine         <free text: versions, what actually ran>
"""
import argparse
import json
import statistics
import time

# name -> (alpha, size, frames, batch): run_peers.sh's two configs
CONFIGS = {"seed": (1.0, 224, 15, 4), "small": (0.35, 96, 8, 4)}
PHASES = ("train", "inference", "latency")


def parser(doc, phases=PHASES):
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--config", choices=sorted(CONFIGS), help="seed (B4 T15 S224 alpha 1.0) or small "
                    "(B4 T8 S96 alpha 0.35); --alpha/--size/--frames/--batch override it")
    ap.add_argument("--alpha", type=float)
    ap.add_argument("--size", type=int)
    ap.add_argument("--frames", type=int)
    ap.add_argument("--batch", type=int)
    ap.add_argument("--classes", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads (0: the library's default)")
    ap.add_argument("--steps", type=int, default=5, help="timed steps per phase (median reported)")
    ap.add_argument("--min-warm", type=int, default=3, help="warm-up steps at least")
    ap.add_argument("--max-warm", type=int, default=30, help="warm-up steps at most")
    ap.add_argument("--phases", default=",".join(phases), help="comma-separated subset of " + ",".join(phases))
    ap.add_argument("--check-inputs", metavar="X.npy", help="numerics check: gesture predict --save-inputs X.npy")
    ap.add_argument("--check-probs", metavar="P.json", help="numerics check: gesture predict --json output on X")
    return ap


def resolve(a):
    """Fills alpha/size/frames/batch from --config (seed by default) where not given."""
    alpha, size, frames, batch = CONFIGS[a.config or "seed"]
    a.alpha = alpha if a.alpha is None else a.alpha
    a.size = size if a.size is None else a.size
    a.frames = frames if a.frames is None else a.frames
    a.batch = batch if a.batch is None else a.batch
    a.phases = [p for p in a.phases.split(",") if p]
    return a


def settle(step, min_warm=3, max_warm=30, window=3, tol=0.05):
    """Calls step() until the last `window` times are within tol of each other (and at least min_warm
    calls). Returns (warm-up steps, settled?)."""
    times = []
    while len(times) < max_warm:
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
        if len(times) >= max(min_warm, window):
            last = times[-window:]
            if max(last) <= (1 + tol) * min(last):
                return len(times), True
    return len(times), False


def timed(step, steps):
    """Median seconds of `steps` calls of step()."""
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(phase, step, images, a, sync=lambda: None):
    """Warm-up + timed steps of one phase; prints its line. images: per step (B*T, or T for latency)."""
    def synced():
        step()
        sync()
    warm, ok = settle(synced, a.min_warm, a.max_warm)
    dt = timed(synced, a.steps)
    unit = "ms/clip" if phase == "latency" else "ms/step"
    print(f"{phase:<14} {images / dt:10.1f} img/s {dt * 1e3:10.1f} {unit}   warm {warm}{'' if ok else ' unsettled'}",
          flush=True)
    return dt


def load_check(a):
    """(X float32 (N,T,S,S,3), gesture's probabilities (N,K) as nested lists) or None without --check-*."""
    if not (a.check_inputs and a.check_probs):
        return None
    import numpy as np
    x = np.load(a.check_inputs).astype(np.float32)
    with open(a.check_probs) as f:
        pred = json.load(f)
    classes = list(pred[0]["probabilities"])
    p = np.array([[r["probabilities"][c] for c in classes] for r in pred], dtype=np.float64)
    return x, p


def report_check(p, ref, what, tol=1e-4):
    """Prints the check line: max |p - ref| over all clips and classes, and the label agreement."""
    import numpy as np
    p = np.asarray(p, dtype=np.float64)
    d = float(np.abs(p - ref).max())
    same = int((p.argmax(1) == ref.argmax(1)).sum())
    verdict = "ok" if d <= tol else f"over {tol:g}"
    print(f"check          {d:.2e} {what}: max |p - p_gesture| over {p.shape[0]} clips x {p.shape[1]} classes "
          f"({verdict}; labels {same}/{p.shape[0]} agree; gesture's p range {ref.min():.3f}..{ref.max():.3f})",
          flush=True)
    return d
