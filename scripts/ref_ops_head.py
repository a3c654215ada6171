"""PyTorch references for the head ops (GRU, dropout, softmax cross-entropy, L2, Adam) -> ops_head.h5.

Layout of the file (all float64 unless noted; every group holds its case sizes so the C test
tests/test_ops_head.c loops over cases without knowing them):
  gru/n_cases                       number of GRU cases
  gru/case{i}/dims                  [B, T, D, H]
  gru/case{i}/x                     (B,T,D)
  gru/case{i}/{fwd,bwd}/{kernel,recurrent_kernel,bias}      Keras layouts (D,3H) (H,3H) (2,3H)
  gru/case{i}/dout                  (B,2H) upstream gradient of the Bidirectional concat output
  gru/case{i}/out                   (B,2H) [h_fwd after x_T | h_bwd after x_1] (Keras concat)
  gru/case{i}/dx                    (B,T,D) summed over both directions
  gru/case{i}/{fwd,bwd}/{dkernel,drecurrent_kernel,dbias}  Keras layouts
  dropout/n_cases, dropout/case{i}/{key_args [seed,a,b] (int64), rate, x, out, dout, dinp}
  softmax_ce/n_cases, softmax_ce/case{i}/{dims [B,K], logits, labels (int64), probs, losses,
                                          loss, dlogits}  (dlogits = d mean-loss / d logits)
  l2/{w, l2, loss, dw}
  adam/{n_steps, lr, beta1, beta2, eps, params0, grads (n_steps,n), params (n_steps,n),
        m (n_steps,n), v (n_steps,n)}   state after each step t = 1..n_steps
"""
import os

import numpy as np
import torch
import torch.nn.functional as F

from ref_common import Writer, dropout_mask, gs_key, keras_gru_to_torch, torch_gru_grad_to_keras

GRU_CASES = [(3, 5, 7, 6), (2, 4, 33, 16), (4, 15, 64, 32), (2, 1, 5, 4)]


def _f32(t):
    """Round to float32-representable values so the C side starts from exactly the same inputs."""
    return t.float().double()


def _gru_weights(gen, D, H):
    """Keras-layout weights of one direction with nonzero biases (so every bias path matters)."""
    lim = (6.0 / (D + 3 * H)) ** 0.5
    kernel = (torch.rand(D, 3 * H, generator=gen) * 2 - 1) * lim
    q, _ = torch.linalg.qr(torch.randn(3 * H, H, generator=gen))
    rkernel = q.t().contiguous()  # (H,3H), orthonormal rows like Keras' orthogonal init
    bias = torch.randn(2, 3 * H, generator=gen) * 0.3
    return _f32(kernel), _f32(rkernel), _f32(bias)


def _gru_case(w, name, gen, B, T, D, H):
    x = _f32(torch.randn(B, T, D, generator=gen))
    kf = _gru_weights(gen, D, H)
    kb = _gru_weights(gen, D, H)
    dout = _f32(torch.randn(B, 2 * H, generator=gen))

    gru = torch.nn.GRU(D, H, batch_first=True, bidirectional=True)
    with torch.no_grad():
        for sfx, k in (("", kf), ("_reverse", kb)):
            w_ih, w_hh, b_ih, b_hh = keras_gru_to_torch(*k, H)
            getattr(gru, "weight_ih_l0" + sfx).copy_(w_ih)
            getattr(gru, "weight_hh_l0" + sfx).copy_(w_hh)
            getattr(gru, "bias_ih_l0" + sfx).copy_(b_ih)
            getattr(gru, "bias_hh_l0" + sfx).copy_(b_hh)
    xr = x.clone().requires_grad_(True)
    seq, h_n = gru(xr)
    # Keras Bidirectional(return_sequences=False) concatenates the forward state after x_T and the
    # go_backwards state after x_1: torch's h_n[1] (= seq[:, 0, H:]), not seq[:, -1, H:].
    out = torch.cat([h_n[0], h_n[1]], dim=1)
    assert torch.allclose(out[:, H:], seq[:, 0, H:])
    (out * dout).sum().backward()

    # Independent check of the go_backwards reading: a single-direction GRU on flipped time.
    g1 = torch.nn.GRU(D, H, batch_first=True)
    with torch.no_grad():
        w_ih, w_hh, b_ih, b_hh = keras_gru_to_torch(*kb, H)
        g1.weight_ih_l0.copy_(w_ih)
        g1.weight_hh_l0.copy_(w_hh)
        g1.bias_ih_l0.copy_(b_ih)
        g1.bias_hh_l0.copy_(b_hh)
        _, hb = g1(torch.flip(x, dims=[1]))
    assert torch.allclose(hb[0], out[:, H:], atol=1e-12)

    w.put(f"{name}/dims", np.array([B, T, D, H], dtype=np.int64))
    w.put(f"{name}/x", x)
    w.put(f"{name}/dout", dout)
    w.put(f"{name}/out", out)
    w.put(f"{name}/dx", xr.grad)
    for d, sfx, k in (("fwd", "", kf), ("bwd", "_reverse", kb)):
        w.put(f"{name}/{d}/kernel", k[0])
        w.put(f"{name}/{d}/recurrent_kernel", k[1])
        w.put(f"{name}/{d}/bias", k[2])
        gk, gr, gb = torch_gru_grad_to_keras(
            getattr(gru, "weight_ih_l0" + sfx).grad, getattr(gru, "weight_hh_l0" + sfx).grad,
            getattr(gru, "bias_ih_l0" + sfx).grad, getattr(gru, "bias_hh_l0" + sfx).grad, H)
        w.put(f"{name}/{d}/dkernel", gk)
        w.put(f"{name}/{d}/drecurrent_kernel", gr)
        w.put(f"{name}/{d}/dbias", gb)


def _dropout(w, gen, seed):
    cases = [(1000, 0.25, (seed, 7, 3)), (777, 0.5, (seed, 1, 2)), (64, 0.0, (seed, 0, 0))]
    w.put("dropout/n_cases", np.array(len(cases), dtype=np.int64))
    for i, (n, rate, args) in enumerate(cases):
        x = _f32(torch.randn(n, generator=gen))
        dout = _f32(torch.randn(n, generator=gen))
        mask = torch.from_numpy(dropout_mask(gs_key(*args), n, rate))
        name = f"dropout/case{i}"
        w.put(f"{name}/key_args", np.array(args, dtype=np.int64))
        w.put(f"{name}/rate", np.array(rate))
        w.put(f"{name}/x", x)
        w.put(f"{name}/out", x * mask)
        w.put(f"{name}/dout", dout)
        w.put(f"{name}/dinp", dout * mask)


def _softmax_ce(w, gen):
    cases = [(5, 7, 0.0), (4, 5, 80.0), (1, 3, 0.0)]  # the offset case checks log-sum-exp
    w.put("softmax_ce/n_cases", np.array(len(cases), dtype=np.int64))
    for i, (B, K, offset) in enumerate(cases):
        logits = _f32(torch.randn(B, K, generator=gen) * 3)
        logits[:, 0] += offset
        labels = torch.randint(0, K, (B,), generator=gen)
        lg = logits.clone().requires_grad_(True)
        loss = F.cross_entropy(lg, labels)
        loss.backward()
        name = f"softmax_ce/case{i}"
        w.put(f"{name}/dims", np.array([B, K], dtype=np.int64))
        w.put(f"{name}/logits", logits)
        w.put(f"{name}/labels", labels.numpy().astype(np.int64))
        w.put(f"{name}/probs", torch.softmax(logits, dim=1))
        w.put(f"{name}/losses", F.cross_entropy(logits, labels, reduction="none"))
        w.put(f"{name}/loss", loss.detach().reshape(1))
        w.put(f"{name}/dlogits", lg.grad)


def _l2(w, gen):
    wt = _f32(torch.randn(300, generator=gen)).requires_grad_(True)
    l2 = 1e-4
    loss = l2 * (wt ** 2).sum()
    loss.backward()
    w.put("l2/w", wt.detach())
    w.put("l2/l2", np.array(l2))
    w.put("l2/loss", loss.detach().reshape(1))
    w.put("l2/dw", wt.grad)


def _adam_keras(p, g_steps, lr, b1, b2, eps):
    """The Keras form (include/gesture/ops.h adam_update, docs/keras.md), in float64."""
    p = p.clone()
    m = torch.zeros_like(p)
    v = torch.zeros_like(p)
    hist = []
    for t, g in enumerate(g_steps, start=1):
        alpha = lr * (1 - b2 ** t) ** 0.5 / (1 - b1 ** t)
        m = m + (g - m) * (1 - b1)
        v = v + (g * g - v) * (1 - b2)
        p = p - alpha * m / (v.sqrt() + eps)
        hist.append(p.clone())
    return hist


def _adam(w, gen):
    n, steps, lr, b1, b2, eps = 257, 3, 1e-2, 0.9, 0.999, 1e-7
    p0 = _f32(torch.randn(n, generator=gen) * 0.1)
    grads = _f32(torch.randn(steps, n, generator=gen))
    grads[:, :16] *= 1e-7  # sqrt(v) comparable to eps: the region where the eps form matters
    grads[:, 16:32] = 0.0
    param = torch.nn.Parameter(p0.clone())
    opt = torch.optim.Adam([param], lr=lr, betas=(b1, b2), eps=eps)
    ps, ms, vs = [], [], []
    for t in range(1, steps + 1):
        # Keras adds eps to sqrt(v) before bias correction; torch after. Equal when
        # eps_torch = eps_keras / sqrt(1 - beta2^t).
        opt.param_groups[0]["eps"] = eps / (1 - b2 ** t) ** 0.5
        opt.zero_grad()
        param.grad = grads[t - 1].clone()
        opt.step()
        st = opt.state[param]
        ps.append(param.detach().clone())
        ms.append(st["exp_avg"].clone())
        vs.append(st["exp_avg_sq"].clone())
    for got, want in zip(ps, _adam_keras(p0, grads, lr, b1, b2, eps)):
        err = (got - want).abs().max() / (want - p0).abs().max()
        assert err < 1e-10, f"torch Adam with eps_t != Keras form (rel err {err})"
    w.put("adam/n_steps", np.array(steps, dtype=np.int64))
    for k, val in (("lr", lr), ("beta1", b1), ("beta2", b2), ("eps", eps)):
        w.put(f"adam/{k}", np.array(val))
    w.put("adam/params0", p0)
    w.put("adam/grads", grads)
    w.put("adam/params", torch.stack(ps))
    w.put("adam/m", torch.stack(ms))
    w.put("adam/v", torch.stack(vs))


def write(out_dir, seed):
    gen = torch.Generator().manual_seed(seed + 2)
    w = Writer(os.path.join(out_dir, "ops_head.h5"))
    w.put("gru/n_cases", np.array(len(GRU_CASES), dtype=np.int64))
    for i, (B, T, D, H) in enumerate(GRU_CASES):
        _gru_case(w, f"gru/case{i}", gen, B, T, D, H)
    _dropout(w, gen, seed)
    _softmax_ce(w, gen)
    _l2(w, gen)
    _adam(w, gen)
    w.close()


if __name__ == "__main__":
    import sys
    write(sys.argv[1] if len(sys.argv) > 1 else "build/fixtures", 1234)
