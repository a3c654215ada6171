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
    """Load every path; returns the CPU seconds this process spent (immune to other processes)."""
    paths, size = args
    c0 = time.process_time()
    for p in paths:
        load(p, size)
    return time.process_time() - c0


def pil_fps(files, size, procs, passes):
    """Best-of-passes wall frames/s with `procs` worker processes (pool start-up not timed), and the
    CPU microseconds per frame of that pass."""
    chunks = [(files[i::procs], size) for i in range(procs)]
    best, best_cpu = float("inf"), 0.0
    if procs == 1:
        load_chunk(chunks[0])  # warm-up: page cache, imports
        for _ in range(passes):
            t0 = time.perf_counter()
            cpu = load_chunk(chunks[0])
            el = time.perf_counter() - t0
            if el < best:
                best, best_cpu = el, cpu
    else:
        with mp.get_context("fork").Pool(procs) as pool:
            pool.map(load_chunk, chunks)
            for _ in range(passes):
                t0 = time.perf_counter()
                cpu = sum(pool.map(load_chunk, chunks))
                el = time.perf_counter() - t0
                if el < best:
                    best, best_cpu = el, cpu
    return len(files) / best, 1e6 * best_cpu / len(files)


def pil_breakdown(files, size):
    """Single-process CPU microseconds per frame: decode (open+convert+load) and resize+numpy."""
    dec = rs = 0.0
    for p in files:
        t0 = time.process_time()
        with Image.open(p) as im:
            im = im.convert("RGB")
        t1 = time.process_time()
        a = np.asarray(im.resize((size, size), Image.BILINEAR), dtype=np.float32) * np.float32(1.0 / 255.0)
        t2 = time.process_time()
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
            p, p_cpu = pil_fps(files, args.size, k, args.passes)
            c_cpu = float(c["decode_us"]) + float(c["resize_us"])
            rows.append((label, k, float(c["fps"]), p, c_cpu, p_cpu, float(c["decode_us"]), float(c["resize_us"]),
                         pil_dec, pil_rs))

    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = os.getloadavg()
    lines = [
        f"# Data path: PNG decode + bilinear resize to {args.size}x{args.size} float32",
        "",
        f"Machine: {cpu}, {os.cpu_count()} logical CPUs, load average {load[0]:.1f} at the end of the run; "
        f"Python {platform.python_version()}, Pillow {PIL.__version__}, numpy {np.__version__}. "
        f"{len(files)} synthetic frames per size (`bench_data make`: libpng level 1, SUB filter), best of "
        f"{args.passes} passes after a warm-up. gesture = `bench_data` (libpng + separable bilinear, threads); "
        "PIL = `Image.open().convert('RGB').resize(BILINEAR)` + `np.asarray(float32)/255` in worker processes "
        "(a DataLoader's workers).",
        "",
        "*wall fps* is measured throughput; *CPU us/frame* is thread (process) CPU time per frame, which other "
        "jobs on a shared machine do not inflate; *ideal fps* = workers x 1e6 / CPU us, the throughput with "
        "that many idle cores. The ratio columns compare gesture with PIL.",
        "",
        "| frames | workers | gesture wall fps | PIL wall fps | wall ratio | gesture CPU us/frame (decode+resize) "
        "| PIL CPU us/frame | per-thread ratio | gesture ideal fps | PIL ideal fps |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (label, k, c, p, c_cpu, p_cpu, cd, cr, pd, pr) in rows:
        lines.append(f"| {label} | {k} | {c:.0f} | {p:.0f} | {c / p:.2f}x | {c_cpu:.0f} ({cd:.0f}+{cr:.0f}) | "
                     f"{p_cpu:.0f} | {p_cpu / c_cpu:.2f}x | {k * 1e6 / c_cpu:.0f} | {k * 1e6 / p_cpu:.0f} |")
    lines.append("")
    for (label, _k, _c, _p, _cc, _pc, cd, cr, pd, pr) in rows[::len(threads)]:
        lines.append(f"{label}, 1 worker, CPU us per frame: gesture decode {cd:.0f} + resize {cr:.0f}; "
                     f"PIL decode {pd:.0f} + resize/numpy {pr:.0f}.")
    scal = {}
    for (label, k, c, _p, c_cpu, *_rest) in rows:
        scal.setdefault(label, {})[k] = (c, c_cpu)
    for label, by_k in scal.items():
        if 1 in by_k and len(by_k) > 1:
            kmax = max(by_k)
            lines.append(f"Scaling {label}, 1 -> {kmax} threads: wall {by_k[kmax][0] / by_k[1][0]:.2f}x; CPU per frame "
                         f"{by_k[1][1]:.0f} -> {by_k[kmax][1]:.0f} us (constant CPU per frame = linear scaling "
                         "on idle cores).")
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
