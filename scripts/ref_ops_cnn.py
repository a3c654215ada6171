"""PyTorch references for the CNN ops (conv2d, depthwise, batchnorm (+ReLU6/ReLU), relu/add, avgpool,
matmul) -> ops_cnn.h5. Computed in float64 from float32-representable inputs; every gradient comes
from torch autograd of L = sum(out * dout) with a random upstream gradient dout.

Layout of the file (float64 unless noted; each op group holds its case count and every case its
sizes, so tests/test_ops_cnn.c loops over cases without knowing them):
  conv2d/n_cases, conv2d/case{i}/dims (int64) [N,H,W,Ci,Co,K,stride,pad_top,pad_left,Ho,Wo,same]
      same=1: Keras 'same' (TF split, extra pixel after); same=0: 'valid' (no padding)
      conv2d/case{i}/{inp (N,H,W,Ci), w (K,K,Ci,Co), dout, out (N,Ho,Wo,Co), dinp, dw}
  depthwise/n_cases, depthwise/case{i}/dims (int64) [N,H,W,C,K,stride,pad_top,pad_left,Ho,Wo,same]
      depthwise/case{i}/{inp (N,H,W,C), w (K,K,C), dout, out (N,Ho,Wo,C), dinp, dw}
  bn/n_cases, bn/case{i}/dims (int64) [M,C,act] (act: 0 none, 1 relu6, 2 relu), params [eps,momentum]
      bn/case{i}/{inp (M,C), gamma, beta, moving_mean0, moving_var0 (before), dout,
                  out, mean, invstd (saved), moving_mean, moving_var (after, Keras biased update),
                  dinp, dgamma, dbeta, out_infer (inference with moving_mean0/moving_var0)}
  relu|add/n_cases, .../case{i}/{inp | a,b, dout, out, dinp | da,db}
  avgpool/n_cases, avgpool/case{i}/dims (int64) [N,HW,C], {inp (N,HW,C), dout (N,C), out, dinp}
  matmul/n_cases, matmul/case{i}/dims (int64) [M,K,Nout,has_bias],
      {inp (M,K), w (K,Nout), bias (Nout; zeros when has_bias=0), dout, out, dinp, dw, dbias}
"""
import os

import numpy as np
import torch
import torch.nn.functional as F

from ref_common import Writer, conv_nhwc, same_pad

# (N, H, W, Ci, Co, K, stride, same): odd/even sizes, H != W, Co around the 32-channel block.
CONV2D_CASES = [
    (2, 12, 12, 3, 32, 3, 2, 1),   # Conv1-like: even size, stride 2 -> pads (0,1)
    (2, 9, 9, 3, 32, 3, 2, 1),     # odd size, stride 2 -> pads (1,1)
    (1, 7, 13, 5, 17, 3, 1, 1),
    (2, 13, 12, 3, 40, 3, 2, 1),   # one full 32-channel block plus a tail
    (1, 9, 7, 17, 5, 1, 1, 1),     # 1x1
    (1, 12, 9, 3, 32, 3, 2, 0),    # valid
    (1, 8, 10, 4, 6, 5, 2, 1),     # 5x5: pads (1,2)/(1,2)
    (1, 150, 147, 3, 16, 3, 2, 1), # 75x74 outputs: more than one im2col chunk per image
]
# (N, H, W, C, K, stride, same)
DEPTHWISE_CASES = [
    (2, 12, 12, 32, 3, 2, 1),
    (2, 13, 13, 17, 3, 2, 1),
    (1, 9, 9, 96, 3, 1, 1),
    (2, 7, 12, 5, 3, 1, 1),
    (1, 12, 12, 3, 3, 2, 1),
    (1, 9, 7, 40, 3, 2, 0),
    (3, 13, 9, 17, 1, 1, 1),
    (2, 12, 13, 144, 3, 2, 1),
]
# (M, C, act, eps, momentum)
BN_CASES = [
    (300, 17, 0, 1e-3, 0.999),
    (720, 32, 1, 1e-3, 0.999),
    (37, 5, 1, 1e-3, 0.99),
    (1500, 96, 1, 1e-3, 0.99),
    (13, 3, 0, 1e-3, 0.9),
    (200, 9, 2, 1e-3, 0.99),
]
ELEM_SIZES = [1000, 37, 40001]
# (N, HW, C)
AVGPOOL_CASES = [(2, 49, 17), (3, 9, 32), (1, 1, 5), (2, 169, 96)]
# (M, K, Nout, has_bias)
MATMUL_CASES = [(37, 17, 5, 1), (128, 24, 144, 0), (13, 96, 32, 1), (1, 3, 7, 1), (300, 320, 64, 0)]


def _f32(t):
    """Round to float32-representable values so the C side starts from exactly the same inputs."""
    return t.float().double()


def _geometry(size, K, stride, same):
    if same:
        return same_pad(size, K, stride)
    return (size - K) // stride + 1, 0, 0


def _near(t, points, gap):
    """Mask of the elements of t within `gap` of any of `points` (activation kinks)."""
    m = torch.zeros_like(t, dtype=torch.bool)
    for p in points:
        m |= (t - p).abs() < gap
    return m


def _conv2d(w, gen):
    w.put("conv2d/n_cases", np.array([len(CONV2D_CASES)], dtype=np.int64))
    for i, (N, H, W, Ci, Co, K, s, same) in enumerate(CONV2D_CASES):
        Ho, pt, pb = _geometry(H, K, s, same)
        Wo, pl, pr = _geometry(W, K, s, same)
        x = _f32(torch.randn(N, H, W, Ci, generator=gen)).requires_grad_(True)
        k = _f32(torch.randn(K, K, Ci, Co, generator=gen) / (K * K * Ci) ** 0.5).requires_grad_(True)
        out = conv_nhwc(x, k, s, pt, pb, pl, pr)
        assert out.shape == (N, Ho, Wo, Co)
        dout = _f32(torch.randn(out.shape, generator=gen))
        (out * dout).sum().backward()
        p = f"conv2d/case{i}"
        w.put(f"{p}/dims", np.array([N, H, W, Ci, Co, K, s, pt, pl, Ho, Wo, same], dtype=np.int64))
        for name, v in (("inp", x), ("w", k), ("dout", dout), ("out", out), ("dinp", x.grad),
                        ("dw", k.grad)):
            w.put(f"{p}/{name}", v)


def _depthwise(w, gen):
    w.put("depthwise/n_cases", np.array([len(DEPTHWISE_CASES)], dtype=np.int64))
    for i, (N, H, W, C, K, s, same) in enumerate(DEPTHWISE_CASES):
        Ho, pt, pb = _geometry(H, K, s, same)
        Wo, pl, pr = _geometry(W, K, s, same)
        x = _f32(torch.randn(N, H, W, C, generator=gen)).requires_grad_(True)
        k = _f32(torch.randn(K, K, C, generator=gen) / K).requires_grad_(True)
        out = conv_nhwc(x, k, s, pt, pb, pl, pr, groups=C)
        assert out.shape == (N, Ho, Wo, C)
        dout = _f32(torch.randn(out.shape, generator=gen))
        (out * dout).sum().backward()
        p = f"depthwise/case{i}"
        w.put(f"{p}/dims", np.array([N, H, W, C, K, s, pt, pl, Ho, Wo, same], dtype=np.int64))
        for name, v in (("inp", x), ("w", k), ("dout", dout), ("out", out), ("dinp", x.grad),
                        ("dw", k.grad)):
            w.put(f"{p}/{name}", v)


def _act(y, act):
    return F.relu6(y) if act == 1 else F.relu(y) if act == 2 else y


def _bn_case(w, gen, i, M, C, act, eps, momentum):
    # Channels with nonzero means and unequal spreads; gamma/beta chosen so ReLU6 clips both ends.
    off = torch.rand(C, generator=gen) * 6 - 3
    spread = torch.rand(C, generator=gen) * 2.5 + 0.5
    x = _f32(off + spread * torch.randn(M, C, generator=gen))
    gamma = _f32(torch.rand(C, generator=gen) * 1.5 + 0.5)
    beta = _f32(torch.rand(C, generator=gen) * 5 - 1)
    mm0 = _f32(torch.randn(C, generator=gen))
    mv0 = _f32(torch.rand(C, generator=gen) * 1.5 + 0.5)
    dout = _f32(torch.randn(M, C, generator=gen))
    mean = x.mean(0)
    var = x.var(0, unbiased=False)
    if act:
        # Where the pre-activation sits within float32 reach of a kink, the C mask may legitimately
        # differ from torch's: zero the upstream gradient there, so either mask gives the same result.
        y = (x - mean) / torch.sqrt(var + eps) * gamma + beta
        dout = torch.where(_near(y, (0.0, 6.0), 1e-4), torch.zeros_like(dout), dout)

    xr = x.clone().requires_grad_(True)
    gr = gamma.clone().requires_grad_(True)
    br = beta.clone().requires_grad_(True)
    rm, rv = mm0.clone(), mv0.clone()
    tm = 1.0 - momentum  # torch momentum weights the NEW value
    out = _act(F.batch_norm(xr, rm, rv, gr, br, training=True, momentum=tm, eps=eps), act)
    (out * dout).sum().backward()
    # torch's running_var uses the unbiased batch variance; Keras the biased one:
    # torch_new = old*m + (1-m)*var*M/(M-1)  ->  keras_new = old*m + (torch_new - old*m)*(M-1)/M
    kv = mv0 * momentum + (rv - mv0 * momentum) * (M - 1) / M
    _, save_mean, save_invstd = torch.native_batch_norm(x, gamma, beta, mm0.clone(), mv0.clone(),
                                                        True, tm, eps)
    assert torch.allclose(save_mean, mean, rtol=0, atol=1e-12)
    assert torch.allclose(save_invstd, 1 / torch.sqrt(var + eps), rtol=1e-12, atol=0)
    assert torch.allclose(kv, mv0 * momentum + var * (1 - momentum), rtol=1e-12, atol=1e-12)
    out_infer = _act(F.batch_norm(x, mm0.clone(), mv0.clone(), gamma, beta, training=False,
                                  eps=eps), act)

    p = f"bn/case{i}"
    w.put(f"{p}/dims", np.array([M, C, act], dtype=np.int64))
    w.put(f"{p}/params", np.array([eps, momentum]))
    for name, v in (("inp", x), ("gamma", gamma), ("beta", beta), ("moving_mean0", mm0),
                    ("moving_var0", mv0), ("dout", dout), ("out", out), ("mean", save_mean),
                    ("invstd", save_invstd), ("moving_mean", rm), ("moving_var", kv),
                    ("dinp", xr.grad), ("dgamma", gr.grad), ("dbeta", br.grad),
                    ("out_infer", out_infer)):
        w.put(f"{p}/{name}", v)


def _elementwise(w, gen):
    for op in ("relu", "add"):
        w.put(f"{op}/n_cases", np.array([len(ELEM_SIZES)], dtype=np.int64))
        for i, n in enumerate(ELEM_SIZES):
            p = f"{op}/case{i}"
            dout = _f32(torch.randn(n, generator=gen))
            if op == "add":
                a = _f32(torch.randn(n, generator=gen)).requires_grad_(True)
                b = _f32(torch.randn(n, generator=gen)).requires_grad_(True)
                out = a + b
                (out * dout).sum().backward()
                for name, v in (("a", a), ("b", b), ("dout", dout), ("out", out), ("da", a.grad),
                                ("db", b.grad)):
                    w.put(f"{p}/{name}", v)
                continue
            x = _f32(torch.rand(n, generator=gen) * 12 - 3)  # both sides of the kink
            x = _f32(torch.where(x.abs() < 1e-3, x + 0.01, x))
            assert not _near(x, (0.0,), 1e-4).any()
            x.requires_grad_(True)
            out = F.relu(x)
            (out * dout).sum().backward()
            for name, v in (("inp", x), ("dout", dout), ("out", out), ("dinp", x.grad)):
                w.put(f"{p}/{name}", v)


def _avgpool(w, gen):
    w.put("avgpool/n_cases", np.array([len(AVGPOOL_CASES)], dtype=np.int64))
    for i, (N, HW, C) in enumerate(AVGPOOL_CASES):
        x = _f32(torch.randn(N, HW, C, generator=gen) + 1).requires_grad_(True)
        out = x.mean(1)
        dout = _f32(torch.randn(N, C, generator=gen))
        (out * dout).sum().backward()
        p = f"avgpool/case{i}"
        w.put(f"{p}/dims", np.array([N, HW, C], dtype=np.int64))
        for name, v in (("inp", x), ("dout", dout), ("out", out), ("dinp", x.grad)):
            w.put(f"{p}/{name}", v)


def _matmul(w, gen):
    w.put("matmul/n_cases", np.array([len(MATMUL_CASES)], dtype=np.int64))
    for i, (M, K, Nout, has_bias) in enumerate(MATMUL_CASES):
        x = _f32(torch.randn(M, K, generator=gen)).requires_grad_(True)
        k = _f32(torch.randn(K, Nout, generator=gen) / K ** 0.5).requires_grad_(True)
        b = _f32(torch.randn(Nout, generator=gen) if has_bias else torch.zeros(Nout))
        b.requires_grad_(True)
        out = x @ k + b
        dout = _f32(torch.randn(M, Nout, generator=gen))
        (out * dout).sum().backward()
        p = f"matmul/case{i}"
        w.put(f"{p}/dims", np.array([M, K, Nout, has_bias], dtype=np.int64))
        for name, v in (("inp", x), ("w", k), ("bias", b), ("dout", dout), ("out", out),
                        ("dinp", x.grad), ("dw", k.grad), ("dbias", b.grad)):
            w.put(f"{p}/{name}", v)


def write(out_dir, seed):
    gen = torch.Generator().manual_seed(seed + 101)
    w = Writer(os.path.join(out_dir, "ops_cnn.h5"))
    _conv2d(w, gen)
    _depthwise(w, gen)
    w.put("bn/n_cases", np.array([len(BN_CASES)], dtype=np.int64))
    for i, case in enumerate(BN_CASES):
        _bn_case(w, gen, i, *case)
    _elementwise(w, gen)
    _avgpool(w, gen)
    _matmul(w, gen)
    w.close()
