#!/usr/bin/env python3
"""PyTorch peer of `gesture bench`: the seed network in torch.nn, train step (Adam, cross-entropy) and inference.

The model (class Peer) is gesture's, layer for layer: Keras' MobileNetV2 (alpha, no top; its layer
widths and names) + BatchNorm + global average pooling + bidirectional GRU + Dropout/Dense ReLU/
Dropout/Dense; eps 1e-3 in the batch norms, GRU with reset_after (torch's own form), L2 1e-4 on the
hidden Dense kernel in the loss. Stride-2 convolutions pad as PyTorch does (1 on each side, as
torchvision's MobileNetV2) unless keras_pad: then as Keras' "same" (bottom/right only), which with
gesture's weights (load_gesture_checkpoint) gives gesture's probabilities. peer_stream_torch.py
imports Peer (its .features, .head_bn, .gru, .head).

Variants (flags combine): default eager NCHW fp32; --channels-last (NHWC memory format: the input
is a view of gesture's NHWC clips); --compile (torch.compile, inductor; the compile happens in the
warm-up, which runs until the step time settles); --bf16 (autocast to bfloat16; on a CPU without
bf16 instructions oneDNN emulates it). --device cuda and --amp (fp16 autocast) for the GPU check.
Lines as in peer_common.py; --checkpoint CK.h5 with --check-inputs/--check-probs loads gesture's
weights and compares probabilities with gesture predict's.
   benchmarks/peer_torch.py --config small --threads 2 [--channels-last] [--compile] [--bf16]
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_common  # noqa: E402


def make_divisible(v, divisor=8):
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class SamePad(nn.Module):
    """Keras/TF 'same' padding of a stride-s k x k window: the odd pixel goes to the bottom/right."""

    def __init__(self, k, stride):
        super().__init__()
        self.k, self.stride = k, stride

    def forward(self, x):
        pads = []
        for size in (x.shape[3], x.shape[2]):  # F.pad order: left/right (W), then top/bottom (H)
            out = -(-size // self.stride)
            total = max((out - 1) * self.stride + self.k - size, 0)
            pads += [total // 2, total - total // 2]
        return F.pad(x, pads)


class ConvBN(nn.Sequential):
    """Conv (no bias) + BatchNorm (+ ReLU6); names: the Keras conv and BN layer names."""

    def __init__(self, cin, cout, k, stride, groups, act, conv_name, bn_name, keras_pad, registry):
        layers = []
        pad = k // 2
        if keras_pad and stride > 1:
            layers.append(SamePad(k, stride))
            pad = 0
        conv = nn.Conv2d(cin, cout, k, stride, pad, groups=groups, bias=False)
        bn = nn.BatchNorm2d(cout, eps=1e-3, momentum=0.001)  # Keras momentum 0.999
        layers += [conv, bn] + ([nn.ReLU6(inplace=True)] if act else [])
        super().__init__(*layers)
        registry.append((conv_name, "depthwise" if groups > 1 else "conv", conv))
        registry.append((bn_name, "bn", bn))


class Block(nn.Module):
    """Keras MobileNetV2 inverted residual block (expand 1x1, depthwise 3x3, project 1x1, + skip)."""

    def __init__(self, cin, cout, stride, expand, prefix, keras_pad, registry):
        super().__init__()
        hidden = cin * expand
        layers = []
        if expand != 1:
            layers.append(ConvBN(cin, hidden, 1, 1, 1, True, prefix + "expand", prefix + "expand_BN", keras_pad,
                                 registry))
        layers.append(ConvBN(hidden, hidden, 3, stride, hidden, True, prefix + "depthwise", prefix + "depthwise_BN",
                             keras_pad, registry))
        layers.append(ConvBN(hidden, cout, 1, 1, 1, False, prefix + "project", prefix + "project_BN", keras_pad,
                             registry))
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.conv(x) if self.residual else self.conv(x)


def mobilenet_v2_features(alpha, keras_pad, registry):
    """Keras' MobileNetV2(alpha, include_top=False) as an nn.Sequential; returns (features, out channels)."""
    c = make_divisible(32 * alpha)
    layers = [ConvBN(3, c, 3, 2, 1, True, "Conv1", "bn_Conv1", keras_pad, registry)]
    bid = 0
    for t, f, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                       (6, 320, 1, 1)]:
        for i in range(n):
            out = make_divisible(int(f * alpha))
            layers.append(Block(c, out, s if i == 0 else 1, t, f"block_{bid}_" if bid else "expanded_conv_",
                                keras_pad, registry))
            c = out
            bid += 1
    last = make_divisible(1280 * alpha) if alpha > 1.0 else 1280
    layers.append(ConvBN(c, last, 1, 1, 1, True, "Conv_1", "Conv_1_bn", keras_pad, registry))
    return nn.Sequential(*layers), last


class Peer(nn.Module):
    def __init__(self, alpha=1.0, classes=5, gru_units=128, dense_units=128, dropout=0.25, keras_pad=False):
        super().__init__()
        self.registry = []  # (Keras layer name, kind, module), for load_gesture_checkpoint
        self.features, last = mobilenet_v2_features(alpha, keras_pad, self.registry)
        self.head_bn = nn.BatchNorm2d(last, eps=1e-3, momentum=0.01)  # Keras BatchNormalization() defaults
        self.gru = nn.GRU(last, gru_units, batch_first=True, bidirectional=True)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * gru_units, dense_units), nn.ReLU(),
                                  nn.Dropout(dropout), nn.Linear(dense_units, classes))

    def forward(self, x):  # x: (B, T, 3, S, S), NCHW frames (or a channels_last view): logits (B, classes)
        B, T = x.shape[:2]
        f = self.head_bn(self.features(x.flatten(0, 1))).mean(dim=(2, 3)).reshape(B, T, -1)
        _, h = self.gru(f.float())  # Keras Bidirectional: [forward final | backward final]
        return self.head(torch.cat([h[0], h[1]], dim=1))

    def value_count(self):
        """Parameters + batch-norm moving statistics: what gesture summary / Keras count_params count."""
        return sum(p.numel() for p in self.parameters()) + \
            sum(b.numel() for n, b in self.named_buffers() if not n.endswith("num_batches_tracked"))


def load_gesture_checkpoint(model, path):
    """Copies a gesture checkpoint's /weights (Keras names and shapes, docs/formats.md) into Peer."""
    import h5py
    import numpy as np
    with h5py.File(path, "r") as f:
        w = lambda name: torch.from_numpy(np.asarray(f["weights/" + name], dtype=np.float32))  # noqa: E731
        with torch.no_grad():
            for name, kind, m in model.registry + [("head_bn", "bn", model.head_bn)]:
                if kind == "conv":
                    m.weight.copy_(w(name + "/kernel").permute(3, 2, 0, 1))
                elif kind == "depthwise":
                    m.weight.copy_(w(name + "/depthwise_kernel").permute(2, 3, 0, 1))
                else:
                    m.weight.copy_(w(name + "/gamma"))
                    m.bias.copy_(w(name + "/beta"))
                    m.running_mean.copy_(w(name + "/moving_mean"))
                    m.running_var.copy_(w(name + "/moving_variance"))
            H = model.gru.hidden_size
            zrh_to_rzn = lambda t: torch.cat([t[..., H:2 * H], t[..., :H], t[..., 2 * H:]], dim=-1)  # noqa: E731
            for keras, sfx in (("gru_forward", ""), ("gru_backward", "_reverse")):
                getattr(model.gru, "weight_ih_l0" + sfx).copy_(zrh_to_rzn(w(keras + "/kernel")).t())
                getattr(model.gru, "weight_hh_l0" + sfx).copy_(zrh_to_rzn(w(keras + "/recurrent_kernel")).t())
                b = zrh_to_rzn(w(keras + "/bias"))
                getattr(model.gru, "bias_ih_l0" + sfx).copy_(b[0])
                getattr(model.gru, "bias_hh_l0" + sfx).copy_(b[1])
            for keras, lin in (("dense_hidden", model.head[1]), ("dense_out", model.head[4])):
                lin.weight.copy_(w(keras + "/kernel").t())
                lin.bias.copy_(w(keras + "/bias"))


def check(a, checkpoint):
    """gesture's weights, Keras padding, on gesture predict's inputs: probabilities vs gesture's."""
    x, ref = peer_common.load_check(a)
    model = Peer(a.alpha, ref.shape[1], keras_pad=True)
    load_gesture_checkpoint(model, checkpoint)
    model.eval()
    with torch.no_grad():
        p = torch.softmax(model(torch.from_numpy(x).permute(0, 1, 4, 2, 3)), dim=1).numpy()
    peer_common.report_check(p, ref, "torch fp32 eager, gesture's weights, Keras padding")


def main():
    ap = peer_common.parser(__doc__)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--compile", action="store_true", help="torch.compile (inductor)")
    ap.add_argument("--bf16", action="store_true", help="autocast to bfloat16")
    ap.add_argument("--amp", action="store_true", help="autocast to the device's default (cuda: float16)")
    ap.add_argument("--checkpoint", help="gesture checkpoint for the numerics check")
    a = peer_common.resolve(ap.parse_args())
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    torch.manual_seed(0)
    model = Peer(a.alpha, a.classes).to(dev)
    if a.channels_last:
        model = model.to(memory_format=torch.channels_last)
    B, T, S = a.batch, a.frames, a.size
    cpu = getattr(torch.backends, "cpu", None)  # torch >= 2.0
    cap = cpu.get_cpu_capability() if cpu and hasattr(cpu, "get_cpu_capability") else "?"
    try:
        bf16_hw = torch.ops.mkldnn._is_mkldnn_bf16_supported() if a.bf16 else None
    except (AttributeError, RuntimeError):
        bf16_hw = None
    flags = ["channels_last" if a.channels_last else "NCHW"] + ["compile"] * a.compile + ["bf16 autocast"] * a.bf16 + \
        ["amp"] * a.amp
    print(f"engine         torch {torch.__version__}, {' + '.join(flags)}, {torch.get_num_threads()} threads, "
          f"{a.device}, CPU capability {cap}" +
          ("" if bf16_hw is None else f", oneDNN bf16 {'native' if bf16_hw else 'emulated (no avx512_bf16/amx)'}") +
          f"; {model.value_count():,} values; alpha {a.alpha:.2f} S {S} T {T} B {B}", flush=True)
    if a.checkpoint and a.check_inputs:
        check(a, a.checkpoint)
    if not a.phases:
        return
    run = torch.compile(model) if a.compile else model
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, eps=1e-7)
    # gesture's clips are NHWC (B, T, S, S, 3): channels_last takes them as a view, NCHW as a copy made once
    nhwc = torch.rand(B, T, S, S, 3, device=dev)
    x = nhwc.permute(0, 1, 4, 2, 3)
    if not a.channels_last:
        x = x.contiguous()
    y = torch.arange(B, device=dev) % a.classes
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    amp = torch.autocast(dev.type, dtype=torch.bfloat16) if a.bf16 else \
        torch.autocast(dev.type) if a.amp else torch.autocast(dev.type, enabled=False)

    def train_step():
        with amp:
            logits = run(x)
            loss = F.cross_entropy(logits.float(), y) + 1e-4 * (model.head[1].weight.float() ** 2).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def infer(inp):
        def step():
            with torch.inference_mode(), amp:
                run(inp)
        return step

    for phase in a.phases:
        model.train(phase == "train")
        if phase == "train":
            peer_common.measure("train", train_step, B * T, a, sync)
        elif phase == "inference":
            peer_common.measure("inference", infer(x), B * T, a, sync)
        elif phase == "latency":
            peer_common.measure("latency", infer(x[:1]), T, a, sync)


if __name__ == "__main__":
    main()
