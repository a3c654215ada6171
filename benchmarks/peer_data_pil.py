#!/usr/bin/python3
"""Data-path benchmark: gesture's libpng + bilinear resize (bench_data) next to a PIL + numpy loop.

Both decode the same PNG frames (160x120 and 360x360, written by `bench_data make`) and produce a
normalized float32 (S,S,3) array per frame. The PIL loop is what a PyTorch Dataset typically does:
    Image.open(p).convert("RGB").resize((S, S), Image.BILINEAR) -> np.asarray(float32) / 255
run in 1..K worker processes (a DataLoader's workers; Python threads would share the GIL).
Note PIL's BILINEAR antialiases when downscaling (wider filter for 360 -> 224), OpenCV/gesture do not.

usage: peer_data_pil.py --bench-bin build/benchmarks/bench_data [--dir D] [--n 300] [--threads 1,2]
                        [--out benchmarks/results/data_cpu.md]
"""
import argparse
import multiprocessing as mp
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image
import PIL


def load(path, size):
    with Image.open(path) as im:
        im = im.convert("RGB").resize((size, size), Image.BILINEAR)
    return np.asarray(im, dtype=np.float32) * np.float32(1.0 / 255.0)


def load_chunk(args):
    paths, size = args
    for p in paths:
        load(p, size)
    return len(paths)


def pil_fps(files, size, procs, passes):
    """Best-of-passes frames/s with `procs` worker processes (pool start-up not timed)."""
    chunks = [(files[i::procs], size) for i in range(procs)]
    best = float("inf")
    if procs == 1:
        load_chunk(chunks[0])  # warm-up: page cache, imports
        for _ in range(passes):
            t0 = time.perf_counter()
            load_chunk(chunks[0])
            best = min(best, time.perf_counter() - t0)
    else:
        with mp.get_context("fork").Pool(procs) as pool:
            pool.map(load_chunk, chunks)
            for _ in range(passes):
                t0 = time.perf_counter()
                pool.map(load_chunk, chunks)
                best = min(best, time.perf_counter() - t0)
    return len(files) / best


def pil_breakdown(files, size):
    """Single-process microseconds per frame: decode (open+convert+load) and resize+numpy."""
    dec = rs = 0.0
    for p in files:
        t0 = time.perf_counter()
        with Image.open(p) as im:
            im = im.convert("RGB")
        t1 = time.perf_counter()
        a = np.asarray(im.resize((size, size), Image.BILINEAR), dtype=np.float32) * np.float32(1.0 / 255.0)
        t2 = time.perf_counter()
        dec += t1 - t0
        rs += t2 - t1
        del a
    return 1e6 * dec / len(files), 1e6 * rs / len(files)


def run_c(bench, d, threads, size, passes):
    out = subprocess.run([bench, "run", d, "--threads", str(threads), "--size", str(size), "--passes", str(passes)],
                         check=True, capture_output=True, text=True).stdout
    res = {}
    for line in out.splitlines():
        if line.startswith("result "):
            kv = dict(f.split("=") for f in line.split()[1:])
            res[kv["size"]] = kv
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench-bin", required=True)
    ap.add_argument("--dir", default=None, help="frame folder (default: a temp folder, made with bench_data make)")
    ap.add_argument("--n", type=int, default=300, help="frames per size")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--out", default=None, help="also write the markdown table here")
    args = ap.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    tmp = None
    d = args.dir
    if d is None:
        tmp = tempfile.TemporaryDirectory(prefix="gesture_bench_data_")
        d = tmp.name
    if not os.path.isdir(os.path.join(d, "big")):
        subprocess.run([args.bench_bin, "make", d, "--n", str(args.n)], check=True, stdout=subprocess.DEVNULL)

    rows = []
    for label, sub in (("160x120", "small"), ("360x360", "big")):
        files = sorted(os.path.join(d, sub, f) for f in os.listdir(os.path.join(d, sub)) if f.endswith(".png"))
        pil_dec, pil_rs = pil_breakdown(files, args.size)
        for k in threads:
            c = run_c(args.bench_bin, d, k, args.size, args.passes)[label]
            p = pil_fps(files, args.size, k, args.passes)
            rows.append((label, k, float(c["fps"]), p, float(c["decode_us"]), float(c["resize_us"]), pil_dec, pil_rs))

    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    lines = [
        f"# Data path: PNG decode + bilinear resize to {args.size}x{args.size} float32, frames/s",
        "",
        f"Machine: {cpu}, {os.cpu_count()} logical CPUs; Python {platform.python_version()}, Pillow {PIL.__version__}, "
        f"numpy {np.__version__}. {len(files)} synthetic frames per size (libpng level 1, SUB filter), best of "
        f"{args.passes} passes after a warm-up. gesture = `bench_data` (libpng + separable bilinear, threads); "
        "PIL = `Image.open().convert('RGB').resize(BILINEAR)` + `np.asarray(float32)/255` in worker processes.",
        "",
        "| frames | threads / procs | gesture fps | PIL+numpy fps | ratio | gesture fps per thread | "
        "gesture decode / resize us | PIL decode / resize+numpy us (1 proc) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (label, k, c, p, cd, cr, pd, pr) in rows:
        lines.append(f"| {label} | {k} | {c:.0f} | {p:.0f} | {c / p:.2f}x | {c / k:.0f} | {cd:.0f} / {cr:.0f} | "
                     f"{pd:.0f} / {pr:.0f} |")
    scal = {}
    for (label, k, c, *_rest) in rows:
        scal.setdefault(label, {})[k] = c
    lines.append("")
    for label, by_k in scal.items():
        if 1 in by_k and len(by_k) > 1:
            kmax = max(by_k)
            lines.append(f"Scaling {label}: {by_k[kmax] / by_k[1]:.2f}x from 1 to {kmax} threads.")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    if tmp:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
