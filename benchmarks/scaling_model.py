#!/usr/bin/env python3
"""Step-time model of data-parallel `gesture train` on 1-64 GPUs (docs/scaling.md prints its output).

A step of N ranks, each with b clips of T frames:
    t(N) = t_compute(b) + t_bn(N) + t_grad(N) * (1 - overlap) + t_small(N)
  t_compute  = b * T / img_per_s                       (one GPU's measured or assumed training rate)
  t_bn       = BN_ALLREDUCES * alpha(N)                (sync_bn on: one latency-bound allreduce per BN layer
                                                        in forward and one in backward, on the critical path)
  t_grad     = alpha(N) + 2 (N-1)/N * GRAD_BYTES / busbw(N)   (ring/reduce-scatter+all-gather allreduce)
  t_small    = 2 * alpha(N)                            (the step's clip counts and metrics)
Weak scaling: b clips per GPU, global batch b N; efficiency = t(1) / t(N) (throughput per GPU kept).
Strong scaling: a global batch B split over N GPUs, b = B / N.

Every number below is an assumption stated in docs/scaling.md; pass --img-per-s with a measured
`gesture bench ... --set runtime.device=cuda` train rate to replace the assumed compute.
"""
import argparse

GRAD_BYTES = 3_342_853 * 4   # trainable parameters of the seed model (gesture summary), fp32
BN_LAYERS = 53               # 52 MobileNetV2 BatchNorms + the head's
BN_ALLREDUCES = 2 * BN_LAYERS  # forward statistics + backward sums
FRAMES = 15                  # seed: 15 frames per clip

# Interconnect: (bus bandwidth GB/s for large allreduces, small-message allreduce latency in us)
NVLINK = (350.0, 15.0)       # H100/H200 SXM, NVLink 4 + NVSwitch, 8 GPUs per node (NCCL-class)
IB = (45.0, 35.0)            # NDR InfiniBand 400 Gb/s, one HCA per GPU (NCCL-class across nodes)


def net(n, gpus_per_node=8):
    """(busbw bytes/s, alpha s) for n ranks: NVLink within a node, InfiniBand beyond it."""
    if n <= 1:
        return float("inf"), 0.0
    if n <= gpus_per_node:
        bw, lat = NVLINK
    else:
        bw, lat = IB
        nodes = n // gpus_per_node
        lat = lat + 5.0 * (nodes.bit_length() - 1)  # tree depth over nodes
    return bw * 1e9, lat * 1e-6


def step_time(n, b, img_per_s, sync_bn=True, overlap=0.0):
    bw, a = net(n)
    t_compute = b * FRAMES / img_per_s
    t_bn = BN_ALLREDUCES * a if sync_bn else 0.0
    t_grad = 0.0 if n == 1 else a + 2 * (n - 1) / n * GRAD_BYTES / bw
    t_small = 2 * a
    return t_compute + t_bn + t_grad * (1 - overlap) + t_small, t_compute, t_bn, t_grad


def weak_table(img_per_s, b, label):
    rows = [f"Weak scaling, {label}: {b} clips ({b * FRAMES} frames) per GPU per step, "
            f"{img_per_s:.0f} img/s per GPU of compute\n",
            "| GPUs | global batch | compute ms | BN sync ms | gradient allreduce ms | step ms (sync_bn on) "
            "| efficiency on | efficiency off | efficiency off, overlapped |",
            "|---|---|---|---|---|---|---|---|---|"]
    t1 = step_time(1, b, img_per_s)[0]
    for n in (1, 2, 4, 8, 16, 32, 64):
        t, tc, tb, tg = step_time(n, b, img_per_s, sync_bn=True)
        toff = step_time(n, b, img_per_s, sync_bn=False)[0]
        tov = step_time(n, b, img_per_s, sync_bn=False, overlap=0.9)[0]
        rows.append(f"| {n} | {b * n} | {tc * 1e3:.1f} | {tb * 1e3:.2f} | {tg * 1e3:.2f} | {t * 1e3:.1f} "
                    f"| {100 * t1 / t:.0f}% | {100 * t1 / toff:.0f}% | {100 * t1 / tov:.0f}% |")
    return "\n".join(rows)


def strong_table(img_per_s, B, label):
    rows = [f"Strong scaling, {label}: a global batch of {B} clips split over the GPUs, "
            f"{img_per_s:.0f} img/s per GPU of compute\n",
            "| GPUs | clips per GPU | step ms (sync_bn on) | speed-up | efficiency on | efficiency off |",
            "|---|---|---|---|---|---|"]
    t1 = step_time(1, B, img_per_s)[0]
    for n in (1, 2, 4, 8, 16, 32, 64):
        if B % n:
            continue
        t = step_time(n, B // n, img_per_s)[0]
        toff = step_time(n, B // n, img_per_s, sync_bn=False)[0]
        rows.append(f"| {n} | {B // n} | {t * 1e3:.1f} | {t1 / t:.1f}x | {100 * t1 / (n * t):.0f}% "
                    f"| {100 * t1 / (n * toff):.0f}% |")
    return "\n".join(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--img-per-s", type=float, nargs="*", default=[2000.0, 6000.0],
                    help="one GPU's training rate (frames/s); default: the two assumed rates of docs/scaling.md")
    ap.add_argument("--clips", type=int, default=4, help="clips per GPU per step (weak scaling; the seed's 4)")
    ap.add_argument("--global-batch", type=int, default=64, help="global batch of the strong-scaling table")
    a = ap.parse_args()
    for r in a.img_per_s:
        print(weak_table(r, a.clips, f"{r:.0f} img/s"))
        print()
    for r in a.img_per_s:
        print(strong_table(r, a.global_batch, f"{r:.0f} img/s"))
        print()


if __name__ == "__main__":
    main()
