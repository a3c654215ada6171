"""Shared helpers for the PyTorch reference generators (make_reference.py and ref_*.py).

References are computed in float64 so that a test measures only the error of our float32 code.
Tensors are written in OUR layouts (NHWC, Keras weight shapes) so tests compare by name.
"""
import h5py
import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)

MASK64 = (1 << 64) - 1


def hash64(x):
    """splitmix64 finalizer, mirror of gs_hash64 in include/gesture/rng.h (x: uint64 ndarray)."""
    x = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return x


def gs_key(seed, a, b):
    """Mirror of gs_key()."""
    return int(hash64(hash64(hash64(np.uint64(seed)) ^ np.uint64(a)) ^ np.uint64(b)))


def counter_uniform(key, n):
    """Mirror of gs_counter_uniform(key, i) for i in [0, n): float32 values in [0,1)."""
    idx = np.arange(n, dtype=np.uint64)
    h = hash64(np.uint64(key) ^ hash64(idx))
    return ((h >> np.uint64(40)).astype(np.float64) * (1.0 / 16777216.0)).astype(np.float32)


def dropout_mask(key, n, rate):
    """Scale factors (0 or 1/(1-rate)) of dropout_forward for n elements."""
    keep = counter_uniform(key, n) >= np.float32(rate)
    return keep.astype(np.float64) / (1.0 - rate)


def same_pad(size, k, stride):
    """TF/Keras 'same' geometry: (out, pad_before, pad_after)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + k - size, 0)
    return out, total // 2, total - total // 2


def conv_nhwc(x, w, stride, pad_t, pad_b, pad_l, pad_r, groups=1):
    """Cross-correlation of NHWC x with a Keras HWIO kernel (or (K,K,C) depthwise when groups=C),
    via torch's NCHW conv2d with explicit asymmetric zero padding."""
    xc = x.permute(0, 3, 1, 2)
    xc = F.pad(xc, (pad_l, pad_r, pad_t, pad_b))
    if groups == 1:
        wt = w.permute(3, 2, 0, 1)  # (Co,Ci,K,K)
    else:
        wt = w.permute(2, 0, 1).unsqueeze(1)  # (C,1,K,K)
    y = F.conv2d(xc, wt, stride=stride, groups=groups)
    return y.permute(0, 2, 3, 1)


def keras_gru_to_torch(kernel, rkernel, bias, H):
    """Keras GRU weights (gate columns z|r|h) -> torch nn.GRU (rows r|z|n). Returns
    weight_ih (3H,D), weight_hh (3H,H), bias_ih, bias_hh."""
    def reorder_cols(m):
        return torch.cat([m[..., H:2 * H], m[..., :H], m[..., 2 * H:]], dim=-1)
    w_ih = reorder_cols(kernel).t().contiguous()
    w_hh = reorder_cols(rkernel).t().contiguous()
    b = reorder_cols(bias)
    return w_ih, w_hh, b[0].contiguous(), b[1].contiguous()


def torch_gru_grad_to_keras(g_ih, g_hh, g_bih, g_bhh, H):
    """Gradients of torch GRU parameters -> Keras layouts (kernel, recurrent_kernel, bias)."""
    def back(m):  # m: (..., 3H) in r|z|n column order -> z|r|h
        return torch.cat([m[..., H:2 * H], m[..., :H], m[..., 2 * H:]], dim=-1)
    return back(g_ih.t()), back(g_hh.t()), back(torch.stack([g_bih, g_bhh]))


class Writer:
    """Collects named arrays and writes them to one HDF5 file (float64 unless integer)."""

    def __init__(self, path):
        self.f = h5py.File(path, "w")

    def put(self, name, value):
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        value = np.asarray(value)
        if value.dtype.kind == "f":
            value = value.astype(np.float64)
        self.f.create_dataset(name, data=value)

    def attr(self, name, value):
        self.f.attrs[name] = value

    def close(self):
        self.f.close()
