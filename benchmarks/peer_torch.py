#!/usr/bin/env python3
"""PyTorch peer of `gesture bench`: torchvision MobileNetV2 features + BN(1280) + GAP + nn.GRU (bidirectional)
+ Dropout/Dense head, the same shapes, Adam, fp32. Prints lines in gesture bench's format:
    train      <img/s> img/s <ms> ms/step
    inference  <img/s> img/s <ms> ms/step
Options: --device cpu|cuda, --amp and --channels-last (GPU peers), --threads (CPU: torch.set_num_threads).
"""
import argparse
import time

import torch
import torch.nn as nn
import torchvision


class Peer(nn.Module):
    def __init__(self, alpha, classes, gru_units, dense_units, dropout):
        super().__init__()
        self.features = torchvision.models.mobilenet_v2(weights=None, width_mult=alpha).features
        last = self.features[-1][0].out_channels
        self.head_bn = nn.BatchNorm2d(last, eps=1e-3, momentum=0.01)
        self.gru = nn.GRU(last, gru_units, batch_first=True, bidirectional=True)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * gru_units, dense_units), nn.ReLU(),
                                  nn.Dropout(dropout), nn.Linear(dense_units, classes))

    def forward(self, x):  # x: (B, T, 3, S, S)
        B, T = x.shape[:2]
        f = self.head_bn(self.features(x.flatten(0, 1))).mean(dim=(2, 3)).reshape(B, T, -1)
        _, h = self.gru(f)
        return self.head(torch.cat([h[0], h[1]], dim=1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--alpha", type=float, default=1.0)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--frames", type=int, default=15)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--classes", type=int, default=5)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--amp", action="store_true")
    ap.add_argument("--channels-last", action="store_true")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    torch.manual_seed(0)
    model = Peer(a.alpha, a.classes, 128, 128, 0.25).to(dev)
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt) if a.channels_last else model
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, eps=1e-7)
    x = torch.rand(a.batch, a.frames, 3, a.size, a.size, device=dev)
    y = torch.arange(a.batch, device=dev) % a.classes
    images = a.batch * a.frames
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    print(f"torch {torch.__version__}: alpha {a.alpha:.2f} S {a.size} T {a.frames} B {a.batch} ({images} images/step), "
          f"{torch.get_num_threads()} threads, {a.device}{' amp' if a.amp else ''}{' channels_last' if a.channels_last else ''}")
    for phase in ("train", "inference"):
        model.train(phase == "train")
        t0 = 0.0
        for s in range(a.steps + 1):
            if s == 1:
                sync()
                t0 = time.perf_counter()
            with torch.autocast(dev.type, enabled=a.amp), torch.set_grad_enabled(phase == "train"):
                logits = model(x)
                if phase == "train":
                    loss = nn.functional.cross_entropy(logits.float(), y)
            if phase == "train":
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        sync()
        dt = (time.perf_counter() - t0) / a.steps
        print(f"{phase:<10} {images / dt:10.1f} img/s {dt * 1e3:10.1f} ms/step")


if __name__ == "__main__":
    main()
