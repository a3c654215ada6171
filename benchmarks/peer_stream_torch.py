#!/usr/bin/env python3
"""PyTorch peers of `gesture stream`: per-frame latency of a sliding window of T frames over a stream,
the same model as benchmarks/peer_torch.py (torchvision MobileNetV2 + BN + GAP + BiGRU + head), fp32,
inference mode, batch 1. Two ways a notebook would do it:
  window  every hop, the last T frames go through the whole model (T backbone passes per window)
  cache   every frame goes through the backbone once; its pooled features wait in a ring of T, and
          every hop the GRU and head run over the ring (what gesture stream does)
Each runs until its per-frame time settles (warm-up), then times FRAMES frames. Prints
    <mode> p50 <ms> p99 <ms> fps <frames/s>
where p50/p99 are over the frames (a frame's time includes its window when a hop falls on it) and
fps = frames / total time. Input frames are random (decoding is not part of this measure).
"""
import argparse
import collections
import statistics
import time

import torch

from peer_torch import Peer


def settle(step, warm_min=8, warm_max=40):
    """Run step() until the median of the last 4 times is within 5% of the 4 before (PyTorch needs ~8)."""
    times = []
    for i in range(warm_max):
        t0 = time.perf_counter()
        step(i)
        times.append(time.perf_counter() - t0)
        if i + 1 >= warm_min and len(times) >= 8:
            a, b = statistics.median(times[-8:-4]), statistics.median(times[-4:])
            if abs(a - b) <= 0.05 * a:
                break


def run(mode, model, T, S, hop, frames):
    ring = collections.deque(maxlen=T)
    feats = collections.deque(maxlen=T)
    count = [0]

    def features(x):  # (1,3,S,S) -> (1280,)
        return model.head_bn(model.features(x)).mean(dim=(2, 3))[0]

    def head(f):  # (T,C) -> (K,)
        _, h = model.gru(f.unsqueeze(0))
        return torch.softmax(model.head(torch.cat([h[0], h[1]], dim=1)), dim=1)[0]

    def step(_):
        x = torch.rand(1, 3, S, S)
        count[0] += 1
        full = count[0] >= T and (count[0] - T) % hop == 0
        if mode == "window":
            ring.append(x)
            if full:
                model(torch.stack(list(ring), dim=1))
        else:
            feats.append(features(x))
            if full:
                head(torch.stack(list(feats)))

    with torch.inference_mode():
        for _ in range(T):
            step(0)
        settle(step)
        times = []
        t_all = time.perf_counter()
        for i in range(frames):
            t0 = time.perf_counter()
            step(i)
            times.append(time.perf_counter() - t0)
        total = time.perf_counter() - t_all
    times.sort()
    p = lambda q: 1e3 * times[min(len(times) - 1, int(q * (len(times) - 1) + 0.5))]
    print(f"{mode} p50 {p(0.5):.2f} p99 {p(0.99):.2f} fps {frames / total:.1f}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--alpha", type=float, default=1.0)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--frames-per-window", type=int, default=15, dest="T")
    ap.add_argument("--hop", type=int, default=1)
    ap.add_argument("--frames", type=int, default=60, help="timed frames")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--mode", choices=["window", "cache", "both"], default="both")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = Peer(a.alpha, 5, 128, 128, 0.0).eval()
    for mode in (["window", "cache"] if a.mode == "both" else [a.mode]):
        run(mode, model, a.T, a.size, a.hop, a.frames)


if __name__ == "__main__":
    main()
