#!/usr/bin/env python3
"""Tables of benchmarks/run_peers.sh from its work folder: prints the img/s and ratio tables and writes the
markdown results file (machine, versions, load averages, checks, engines, profile, every round).
Standard library only.   python3 benchmarks/peers_report.py WORK --out FILE [--threads N ...]
"""
import argparse
import collections
import datetime
import os
import re
import statistics
import subprocess

ENGINES = [  # id, label, phases it runs
    ("gesture", "gesture (inference: plan)", ("train", "inference", "latency")),
    ("gesture-ref", "gesture, reference executor", ("inference",)),
    ("torch", "PyTorch eager, NCHW", ("train", "inference", "latency")),
    ("torch-cl", "PyTorch eager, channels_last", ("train", "inference", "latency")),
    ("torch-compile", "PyTorch torch.compile (inductor)", ("train", "inference", "latency")),
    ("torch-bf16", "PyTorch bf16 autocast, channels_last", ("train", "inference", "latency")),
    ("ort", "ONNX Runtime", ("inference", "latency")),
    ("ov", "OpenVINO f32", ("inference", "latency")),
    ("ov-bf16", "OpenVINO, bf16 hint", ("inference", "latency")),
    ("keras", "TensorFlow + Keras 3", ("train", "inference", "latency")),
]
LABEL = {e: l for e, l, _ in ENGINES}
CONFIG_NAMES = {"seed": "seed: B4 T15 S224 alpha 1.0", "small": "small: B4 T8 S96 alpha 0.35"}
PHASE_HEAD = {"train": "train img/s", "inference": "inference img/s", "latency": "latency ms/clip"}
FLAGS = ["sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "avx_vnni",
         "amx_tile", "amx_bf16"]


def read_tsv(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


def cpu_facts():
    info, flags, n = {}, set(), 0
    with open("/proc/cpuinfo") as f:
        for line in f:
            k, _, v = line.partition(":")
            k = k.strip()
            if k == "model name":
                n += 1
            if k in ("model name", "cpu family", "model", "stepping", "cpu MHz", "cache size"):
                info.setdefault(k, v.strip())
            elif k == "flags":
                flags = set(v.split())
    model = (f"`{info.get('model name', '?')}` (family {info.get('cpu family', '?')} model {info.get('model', '?')} "
             f"stepping {info.get('stepping', '?')}, {float(info.get('cpu MHz', 0)):.0f} MHz"
             + (f", cache {info['cache size']}" if "cache size" in info else "") + ")")
    hyper = " under a hypervisor" if "hypervisor" in flags else ""
    return model + hyper, n, [x for x in FLAGS if x in flags], [x for x in FLAGS if x not in flags]


def git_rev(work):
    """The commit run_peers.sh built gesture from (rev.txt, written when it started), else the current one."""
    path = os.path.join(work, "rev.txt")
    if os.path.exists(path):
        return open(path).read().strip()
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True).stdout.strip()
        return rev + (" + uncommitted changes" if dirty else "")
    except OSError:
        return "?"


def collect(work):
    """results.tsv -> {(cfg, engine, phase): [(round, img/s, ms, warm)]}; gesture's inference-ref -> gesture-ref."""
    res = collections.defaultdict(list)
    for r, cfg, e, phase, ips, ms, warm in read_tsv(os.path.join(work, "results.tsv")):
        if phase == "inference-ref":
            e, phase = "gesture-ref", "inference"
        if phase == "inference-plan":
            continue
        res[(cfg, e, phase)].append((int(r), float(ips), float(ms), warm))
    return res


def cell(vals, phase):
    """Median over rounds: img/s (or ms for latency), '*' when a round did not settle."""
    if not vals:
        return None, ""
    v = statistics.median(x[2] if phase == "latency" else x[1] for x in vals)
    return v, "*" if any(x[3].endswith("u") for x in vals) else ""


def fmt(v, phase):
    if v is None:
        return "-"
    return f"{v:.1f}" if phase == "latency" or v < 100 else f"{v:.0f}"


def tables(res, cfgs, failed):
    cols = [(c, p) for c in cfgs for p in ("train", "inference", "latency")]
    head = "| engine | " + " | ".join(f"{c} {PHASE_HEAD[p]}" for c, p in cols) + " |"
    sep = "|---|" + "---|" * len(cols)
    rows, ratio_rows = [head, sep], [head.replace("img/s", "").replace("ms/clip", ""), sep]
    for e, label, phases in ENGINES:
        if not any((c, e, p) in res or (c, e) in failed for c, p in cols):
            continue
        r1, r2 = [], []
        for c, p in cols:
            v, mark = cell(res.get((c, e, p)), p)
            g, _ = cell(res.get((c, "gesture", p)), p)
            if v is None:
                r1.append("fail" if (c, e) in failed and p in phases else "-")
                r2.append("-")
                continue
            r1.append(fmt(v, p) + mark)
            if g is None or e == "gesture":
                r2.append("1" if e == "gesture" else "-")
            else:  # > 1: gesture faster (img/s: gesture / peer; latency ms: peer / gesture)
                r2.append(f"{(v / g if p == 'latency' else g / v):.2f}x")
        rows.append(f"| {label} | " + " | ".join(r1) + " |")
        ratio_rows.append(f"| {label} | " + " | ".join(r2) + " |")
    return "\n".join(rows), "\n".join(ratio_rows)


def per_round(res, cfgs, rounds):
    out = ["| config | engine | phase | " + " | ".join(f"round {i}" for i in range(1, rounds + 1)) +
           " | warm-up steps |", "|---|---|---|" + "---|" * rounds + "---|"]
    for c in cfgs:
        for e, label, phases in ENGINES:
            for p in phases:
                vals = res.get((c, e, p))
                if not vals:
                    continue
                by = {x[0]: x for x in vals}
                unit = "ms" if p == "latency" else "img/s"
                out.append(f"| {c} | {label} | {p} ({unit}) | " +
                           " | ".join(fmt(by[i][2] if p == "latency" else by[i][1], p) if i in by else "-"
                                      for i in range(1, rounds + 1)) +
                           " | " + ", ".join(by[i][3].replace("u", " (unsettled)") for i in sorted(by)) + " |")
    return "\n".join(out)


def profile_section(path):
    """gesture bench --profile: the training step's ops and the plan's steps, by share."""
    if not os.path.exists(path):
        return None
    text = open(path).read()
    head = next((line for line in text.splitlines() if line.startswith("gesture bench:")), "")
    speed = [line for line in text.splitlines() if re.match(r"^(train|inference|inference-ref|latency) ", line)]
    load = next((line for line in text.splitlines() if line.startswith("load ")), "")
    train, plan, adam = [], [], None
    section = None
    for line in text.splitlines():
        if line.startswith("where a training step"):
            section = train
        elif line.startswith("where the plan"):
            section = plan
        elif section is train:
            m = re.match(r"^(.*?)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)%$", line)
            if m:
                train.append((m.group(1), float(m.group(2)), float(m.group(3)), float(m.group(4))))
            m = re.match(r"^Adam \(all parameters\)\s+([\d.]+)$", line)
            if m:
                adam = float(m.group(1))
        elif section is plan:
            m = re.match(r"^(.*?)\s+([\d.]+)\s+([\d.]+)%$", line)
            if m:
                plan.append((m.group(1), float(m.group(2)), float(m.group(3))))
    out = [f"`{head.strip()}` (`gesture bench experiments/seed_15f.ini --steps 2 --profile`, {load}):", ""]
    out += ["    " + s for s in speed] + [""]
    if train:
        total = sum(f + b for _, f, b, _ in train) + (adam or 0)
        out += ["Training step (forward + backward + Adam), per op type, by share of the step's op time:", "",
                "| op | forward s | backward s | share |", "|---|---|---|---|"]
        for name, f, b, share in sorted(train, key=lambda t: -t[3]):
            if share >= 0.5:
                out.append(f"| {name} | {f:.3f} | {b:.3f} | {share:.1f}% |")
        rest = sum(s for *_, s in train if s < 0.5)
        out.append(f"| everything else ({', '.join(n for n, *_, s in train if s < 0.5)}) | | | {rest:.1f}% |")
        if adam is not None:
            out.append(f"| Adam (all parameters) | {adam:.3f} | | {100 * adam / total:.1f}% of all |")
        out.append("")
    if plan:
        out += ["Inference on the plan (batch norm folded, AVX2 kernels), per step kind:", "",
                "| plan step | seconds | share |", "|---|---|---|"]
        out += [f"| {n} | {s:.3f} | {sh:.1f}% |" for n, s, sh in sorted(plan, key=lambda t: -t[2])]
        out.append("")
    return "\n".join(out)


def profile_spread(path, res):
    """The profile run's own img/s (1 warm-up step, mean of 2) beside the rounds' gesture seed medians."""
    got = {}
    for line in open(path):
        m = re.match(r"^(train|inference)\s+([\d.]+) img/s", line)
        if m:
            got[m.group(1)] = float(m.group(2))
    pairs = [(p, got[p], cell(res.get(("seed", "gesture", p)), p)[0]) for p in ("train", "inference") if p in got]
    pairs = [(p, x, y) for p, x, y in pairs if y]
    if not pairs:
        return None
    return ("The profile run, a separate process after the rounds, read gesture's seed " +
            " and ".join(f"{p} at {x:.1f} img/s (rounds: {y:.1f})" for p, x, y in pairs) +
            ": how far two runs of the same binary can differ on this machine.")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("work")
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--max-warm", type=int, default=30)
    ap.add_argument("--command", default="benchmarks/run_peers.sh")
    ap.add_argument("--skip", default="")
    ap.add_argument("--once", default="")
    ap.add_argument("--seed-rounds", default="")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    W = a.work
    res = collect(W)
    runs = read_tsv(os.path.join(W, "runs.tsv"))
    failed = {(c, e) for _, c, e, _, _, _, rc in runs if rc != "0"}
    failed |= {(c, "gesture-ref") for c, e in failed if e == "gesture"}
    cfgs = [c for c in ("seed", "small") if any(k[0] == c for k in res) or any(r[1] == c for r in runs)]
    t_ips, t_ratio = tables(res, cfgs, failed)
    print(t_ips + "\n\n" + t_ratio)

    model, ncpu, have, lack = cpu_facts()
    versions = open(os.path.join(W, "versions.txt")).read().strip() if os.path.exists(
        os.path.join(W, "versions.txt")) else "?"
    loads = [float(x) for r in runs for x in (r[3], r[4])]
    lmin, lmax = (min(loads), max(loads)) if loads else (0, 0)
    wall = sum(int(r[5]) for r in runs)
    stamp = os.path.getmtime(os.path.join(W, "runs.tsv")) if runs else datetime.datetime.now().timestamp()
    now = datetime.datetime.fromtimestamp(stamp, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    checks = read_tsv(os.path.join(W, "checks.txt"))
    engines = read_tsv(os.path.join(W, "engines.tsv"))
    values = {c: open(os.path.join(W, f"values_{c}.txt")).read().strip() for c in cfgs
              if os.path.exists(os.path.join(W, f"values_{c}.txt"))}
    unsettled = any(x[3].endswith("u") for v in res.values() for x in v)

    md = [f"# CPU benchmark: gesture beside PyTorch, ONNX Runtime, OpenVINO and TensorFlow + Keras", ""]
    if a.quick:
        md += ["**`--quick` run: small config, 1 round, 3 steps, short warm-up: it checks that the scripts work; "
               "its numbers are not a measurement.**", ""]
    md += [f"Measured {now} with `{a.command}` (gesture {git_rev(W)}).", ""]
    if lmax > 2.5:
        md += [f"**Measured under load.** The 1-minute load average read {lmin:.2f} to {lmax:.2f} around the runs "
               f"(table at the end) on a machine with {ncpu} vCPUs, while other work shared them. Every engine "
               "had fewer cores than its threads, and the timings are that much slower and noisier than on an "
               "idle machine. Libraries that synchronize their threads often (PyTorch eager: a parallel region "
               "per op, OpenMP barriers that wait for a descheduled thread) lose far more under such load than "
               "gesture, so the ratios below overstate gesture's lead; read them as a lower bound of the peers' "
               "speed, and rerun on an idle machine for figures to quote.", ""]
    md += ["| | |", "|---|---|",
           f"| CPU | {model}, {ncpu} vCPUs (`/proc/cpuinfo`) |",
           f"| SIMD flags | has `{' '.join(have)}`; lacks `{' '.join(lack)}` |",
           f"| threads | {a.threads} for every engine: `OMP_NUM_THREADS`/`MKL_NUM_THREADS`/`OPENBLAS_NUM_THREADS`, "
           f"gesture `runtime.threads`, `torch.set_num_threads`, ONNX Runtime `intra_op_num_threads` (inter_op 1, "
           f"sequential), OpenVINO `INFERENCE_NUM_THREADS` (1 stream, LATENCY hint), TensorFlow intra- and "
           f"inter-op pools |",
           f"| libraries | {versions}, from PyPI (`benchmarks/make_peer_venv.sh`)" +
           ("; PyTorch's CPU wheel index was out of reach, so torch is PyPI's wheel, whose CUDA libraries a CPU "
            "run never loads" if "CUDA libraries" in versions else "") + " |",
           f"| timing | {a.rounds} interleaved round(s) (each round runs every engine, in a fresh process, for "
           f"each config); each phase warms up until its last 3 step times are within 5% (at least 8 steps for "
           f"PyTorch, whose torch.compile compiles in them; at most {a.max_warm}), then the median of {a.steps} "
           f"timed steps; the table shows the median over rounds. Inputs random, in each engine's own layout "
           f"(gesture, ONNX Runtime, OpenVINO, Keras: NHWC clips; PyTorch: NCHW, or channels_last as a view) |",
           f"| load average | 1-minute, {lmin:.2f} to {lmax:.2f} before/after the runs ({wall} s of runs); it counts "
           f"the engine being measured, about {a.threads} while it runs |"]
    reduced = []
    if a.seed_rounds and int(a.seed_rounds) < a.rounds:
        reduced.append(f"the seed config ran in round{'s 1 to' if int(a.seed_rounds) > 1 else ''} {a.seed_rounds} only")
    if a.skip:
        reduced.append("not run: " + ", ".join(f"`{x}`" for x in a.skip.split(",")))
    if a.once:
        reduced.append("once (round 1, 3 timed steps after at least 3 warm-up steps): " +
                       ", ".join(f"`{x}`" for x in a.once.split(",")))
    if reduced:
        md.append("| reduced to fit the time budget | " + "; ".join(reduced) + " |")
    md.append("")
    bf16_hw = "avx512_bf16" in have or "amx_bf16" in have
    if not bf16_hw:
        md += ["bf16: this CPU has no bf16 instructions (no `avx512_bf16`, no AMX). PyTorch's bf16 autocast rows "
               "therefore measure bf16 without hardware support (conversions to and from fp32 around fp32 "
               "arithmetic, and slower fallback kernels), and OpenVINO ignores the bf16 hint and runs f32 (its "
               "engine line below says what the compiled model ran).", ""]
    md += ["## Throughput (median over rounds)", "",
           "img/s: images (frames) per second, B x T per step; latency: one clip of T frames, ms. "
           "`*`: a round whose warm-up did not settle within the limit (its steps were timed anyway). "
           "`-`: the engine does not do this (ONNX Runtime and OpenVINO run inference only).", "",
           t_ips, "", "## gesture / engine (> 1: gesture faster)", "",
           "Train and inference: gesture's img/s over the engine's; latency: the engine's ms over gesture's. "
           "gesture's inference is its default path, the plan (`runtime.inference = plan`); its reference "
           "executor is listed for comparison.", "", t_ratio, ""]
    md += ["## Same model", "",
           "ONNX Runtime and OpenVINO run `gesture export-onnx` of the checkpoint gesture made for each config "
           "(`gesture train`, one epoch on a synthetic set); PyTorch and Keras build the architecture themselves "
           "(`benchmarks/peer_torch.py`: Keras' MobileNetV2 layer for layer in torch.nn; `benchmarks/peer_keras.py`: "
           "the seed's Keras code) with their own random weights for the timing. Checks (probabilities on "
           "`gesture predict --save-inputs` tensors against `gesture predict --json`, max |difference|):", ""]
    for label, text in checks:
        md.append(f"- {label.replace('|', ': ')}: {text}")
    md += [""]
    if values:
        md += ["Values (parameters + batch-norm moving statistics): gesture `summary` " +
               ", ".join(f"{c} {v}" for c, v in values.items()) + "; the engines' own counts are in their lines below. "
               "PyTorch's timed model pads stride-2 convolutions symmetrically (as torchvision does); the checks load "
               "gesture's weights with Keras' bottom/right 'same' padding.", ""]
    md += ["## Engines as they ran", ""]
    for cfg, e, text in engines:
        text = re.sub(r"(openvino \d+\.\d+\.\d+)-\S+", r"\1", text)
        md.append(f"- {cfg}, {LABEL.get(e, e)}: {text}")
    md += [""]
    prof = profile_section(os.path.join(W, "profile_seed.txt"))
    if prof:
        md += ["## Where gesture's time goes (seed config)", "", prof]
        spread = profile_spread(os.path.join(W, "profile_seed.txt"), res)
        if spread:
            md += [spread, ""]
    md += ["## Every round", "", per_round(res, cfgs, a.rounds), "", "## Load average per run", "",
           "| round | config | engine | load before | load after | wall s | exit |", "|---|---|---|---|---|---|---|"]
    md += [f"| {r} | {c} | {LABEL.get(e, e)} | {l0} | {l1} | {w} | {rc} |" for r, c, e, l0, l1, w, rc in runs]
    if unsettled:
        md += ["", "Warm-up steps ending in '(unsettled)' reached the limit without 3 step times within 5%."]
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        f.write("\n".join(md) + "\n")
    print(f"\nwrote {a.out}")


if __name__ == "__main__":
    main()
