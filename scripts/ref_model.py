"""Whole-model PyTorch reference: the seed network (MobileNetV2 -> head BN -> GAP -> BiGRU -> Dropout ->
Dense ReLU -> Dropout -> Dense -> softmax CE + L2) at a small size, in float64.

Built here from the Keras definitions (docs/keras.md), independently of the C graph: leaf tensors are
Keras-layout weights with Keras names, so gradients come out in Keras layout. torch does the math:
F.conv2d (with Keras' asymmetric 'same' padding), F.batch_norm (momentum/eps mapped, unbiased running
variance converted to Keras' biased update), nn.GRU through functional_call (gate order mapped),
F.cross_entropy, torch.optim.Adam (epsilon mapped to the Keras form).

Writes model.h5: config attrs, x, labels, weights/<name>, logits, probs, loss, ce, l2, logits_infer,
grad/<name>, after1/<bn>/moving_{mean,variance}; and a 3-step Adam trajectory (float32):
step{t}/grad/<name>, state{t}/{weights,m,v}/<name> after t steps, loss_step{t}.
"""
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

from ref_common import Writer, conv_nhwc, dropout_mask, gs_key, keras_gru_to_torch, same_pad

# gru/dense units are reduced from 128 to keep the fixture small (the GRU op test covers the real
# sizes). adam_check_epsilon: see write().
CFG = dict(alpha=0.35, size=64, frames=4, batch=2, classes=5, gru_units=32, dense_units=32,
           dropout=0.25, l2=1e-4, lr=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-7, adam_check_epsilon=0.1,
           dropout_seed=7)


def make_divisible(v, divisor=8):
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class Net:
    """Declares Keras-named parameters and runs the forward pass with torch ops."""

    def __init__(self, cfg, rng):
        self.cfg = cfg
        self.rng = rng
        self.params = {}     # name -> leaf tensor (trainable)
        self.stats = {}      # name -> tensor (moving statistics)
        self.bn_layers = []  # (name, momentum)
        self.ops = []        # layer program
        self._build()

    # -- declarations with random (not Keras-init) values so nothing is degenerate --
    def _kernel(self, name, shape, fan_in):
        w = self.rng.normal(0, math.sqrt(2.0 / fan_in), size=shape)
        self.params[name] = torch.tensor(w, requires_grad=True)

    def _bn(self, name, c, momentum, act=False):
        # Before a ReLU6, beta is drawn positive so that few pre-activations sit near the kink at 0: a
        # value within float32 rounding of a kink flips its mask between float32 and float64 and
        # moves every gradient upstream by O(1/rows) (the op tests cover the kinks themselves).
        if act:
            gamma, beta = self.rng.uniform(0.5, 1.0, c), self.rng.uniform(1.5, 3.0, c)
        else:
            gamma, beta = self.rng.uniform(0.5, 1.5, c), self.rng.normal(0, 0.1, c)
        self.params[name + "/gamma"] = torch.tensor(gamma, requires_grad=True)
        self.params[name + "/beta"] = torch.tensor(beta, requires_grad=True)
        self.stats[name + "/moving_mean"] = torch.tensor(self.rng.normal(0, 0.1, c))
        self.stats[name + "/moving_variance"] = torch.tensor(self.rng.uniform(0.5, 1.5, c))
        self.bn_layers.append((name, momentum))

    def _conv(self, name, cin, cout, k, stride):
        self._kernel(name + "/kernel", (k, k, cin, cout), k * k * cin)
        self.ops.append(("conv", name, k, stride))

    def _dw(self, name, c, stride):
        self._kernel(name + "/depthwise_kernel", (3, 3, c, 1), 9)
        self.ops.append(("dw", name, 3, stride))

    def _bnop(self, name, c, act, momentum=0.999):
        self._bn(name, c, momentum, act)
        self.ops.append(("bn", name, act))

    def _build(self):
        a = self.cfg["alpha"]
        c = make_divisible(32 * a)
        self._conv("Conv1", 3, c, 3, 2)
        self._bnop("bn_Conv1", c, True)
        blocks = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                  (6, 320, 1, 1)]
        bid = 0
        for t, f, n, s in blocks:
            for i in range(n):
                stride = s if i == 0 else 1
                out = make_divisible(int(f * a))
                p = f"block_{bid}_" if bid else "expanded_conv_"
                self.ops.append(("save_skip",))
                x = c
                if bid:
                    self._conv(p + "expand", c, t * c, 1, 1)
                    self._bnop(p + "expand_BN", t * c, True)
                    x = t * c
                self._dw(p + "depthwise", x, stride)
                self._bnop(p + "depthwise_BN", x, True)
                self._conv(p + "project", x, out, 1, 1)
                self._bnop(p + "project_BN", out, False)
                if c == out and stride == 1:
                    self.ops.append(("add",))
                c = out
                bid += 1
        last = make_divisible(1280 * a) if a > 1.0 else 1280
        self._conv("Conv_1", c, last, 1, 1)
        self._bnop("Conv_1_bn", last, True)
        self.backbone_params = sum(p.numel() for p in self.params.values()) + \
            sum(s.numel() for s in self.stats.values())
        self._bn("head_bn", last, 0.99)  # applied in forward() after the backbone
        H = self.cfg["gru_units"]
        for d in ("gru_forward", "gru_backward"):
            self._kernel(d + "/kernel", (last, 3 * H), last)
            self._kernel(d + "/recurrent_kernel", (H, 3 * H), H)
            self.params[d + "/bias"] = torch.tensor(self.rng.normal(0, 0.1, (2, 3 * H)), requires_grad=True)
        U = self.cfg["dense_units"]
        self._kernel("dense_hidden/kernel", (2 * H, U), 2 * H)
        self.params["dense_hidden/bias"] = torch.tensor(self.rng.normal(0, 0.1, U), requires_grad=True)
        self._kernel("dense_out/kernel", (U, self.cfg["classes"]), U)
        self.params["dense_out/bias"] = torch.tensor(self.rng.normal(0, 0.1, self.cfg["classes"]),
                                                     requires_grad=True)
        self.last = last

    def bn(self, x, name, training, momentum):
        """x: (..., C) channels last. Keras BN via F.batch_norm; updates self.stats Keras-style."""
        C = x.shape[-1]
        x2 = x.reshape(-1, C)
        M = x2.shape[0]
        mm, mv = self.stats[name + "/moving_mean"], self.stats[name + "/moving_variance"]
        run_m, run_v = mm.clone(), mv.clone()
        y = F.batch_norm(x2, run_m, run_v, self.params[name + "/gamma"], self.params[name + "/beta"],
                         training=training, momentum=1.0 - momentum, eps=1e-3)
        if training:
            # torch updates running_var with the unbiased batch variance; Keras uses the biased one
            keep = mv * momentum
            self.stats[name + "/moving_mean"] = run_m
            self.stats[name + "/moving_variance"] = keep + (run_v - keep) * (M - 1) / M
        return y.reshape(x.shape)

    def forward(self, x, labels, training, step):
        cfg, P = self.cfg, self.params
        B, T, S = cfg["batch"], cfg["frames"], cfg["size"]
        h = x.reshape(B * T, S, S, 3)
        skip = None
        for op in self.ops:
            if op[0] == "conv":
                _, name, k, s = op
                _, pt, pb = same_pad(h.shape[1], k, s)
                _, pl, pr = same_pad(h.shape[2], k, s)
                h = conv_nhwc(h, P[name + "/kernel"], s, pt, pb, pl, pr)
            elif op[0] == "dw":
                _, name, k, s = op
                _, pt, pb = same_pad(h.shape[1], k, s)
                _, pl, pr = same_pad(h.shape[2], k, s)
                h = conv_nhwc(h, P[name + "/depthwise_kernel"][:, :, :, 0], s, pt, pb, pl, pr, groups=h.shape[3])
            elif op[0] == "bn":
                _, name, act = op
                mom = dict(self.bn_layers)[name]
                h = self.bn(h, name, training, mom)
                if act:
                    h = torch.clamp(h, 0.0, 6.0)
            elif op[0] == "save_skip":
                skip = h
            elif op[0] == "add":
                h = h + skip
        h = self.bn(h, "head_bn", training, 0.99)
        feats = h.mean(dim=(1, 2)).reshape(B, T, self.last)
        H = cfg["gru_units"]
        wf = keras_gru_to_torch(P["gru_forward/kernel"], P["gru_forward/recurrent_kernel"], P["gru_forward/bias"], H)
        wb = keras_gru_to_torch(P["gru_backward/kernel"], P["gru_backward/recurrent_kernel"], P["gru_backward/bias"],
                                H)
        # torch's own GRU kernel (what nn.GRU calls), with computed weights so gradients reach the
        # Keras-layout leaves: (input, h0, [w_ih, w_hh, b_ih, b_hh] fwd + reverse, has_biases,
        # num_layers, dropout, train, bidirectional, batch_first)
        h0 = torch.zeros(2, B, H)
        _, h_n = torch._VF.gru(feats, h0, list(wf) + list(wb), True, 1, 0.0, training, True, True)
        # Keras Bidirectional(return_sequences=False): [forward final | backward final (after x_1)]
        g = torch.cat([h_n[0], h_n[1]], dim=1)
        if training and cfg["dropout"] > 0:
            g = g * torch.tensor(dropout_mask(gs_key(cfg["dropout_seed"], 0, step), g.numel(), cfg["dropout"])
                                 ).reshape(g.shape)
        d = torch.relu(g @ P["dense_hidden/kernel"] + P["dense_hidden/bias"])
        if training and cfg["dropout"] > 0:
            d = d * torch.tensor(dropout_mask(gs_key(cfg["dropout_seed"], 1, step), d.numel(), cfg["dropout"])
                                 ).reshape(d.shape)
        logits = d @ P["dense_out/kernel"] + P["dense_out/bias"]
        ce = F.cross_entropy(logits, labels)
        l2 = cfg["l2"] * (P["dense_hidden/kernel"] ** 2).sum()
        return logits, ce, l2


def write(out_dir, seed):
    cfg = dict(CFG)
    rng = np.random.default_rng(seed + 99)
    net = Net(cfg, rng)
    B, T, S = cfg["batch"], cfg["frames"], cfg["size"]
    x = torch.tensor(rng.uniform(0, 1, (B, T, S, S, 3)))
    labels = torch.tensor(rng.integers(0, cfg["classes"], B))
    w = Writer(os.path.join(out_dir, "model.h5"))
    for k, v in cfg.items():
        w.attr(k, v)
    w.attr("backbone_params", net.backbone_params)
    w.put("x", x)
    w.put("labels", labels)
    for n, p in list(net.params.items()) + list(net.stats.items()):
        w.put("weights/" + n, p)
    w.attr("param_names", np.array([n.encode() for n in list(net.params) + list(net.stats)]))

    stats0 = {k: v.clone() for k, v in net.stats.items()}
    with torch.no_grad():
        logits_inf, _, _ = net.forward(x, labels, training=False, step=0)
    w.put("logits_infer", logits_inf)

    # training step 1: forward, loss, gradients, moving statistics
    logits, ce, l2 = net.forward(x, labels, training=True, step=1)
    loss = ce + l2
    loss.backward()
    w.put("logits", logits)
    w.put("probs", torch.softmax(logits, dim=1))
    w.put("loss", loss.reshape(1))
    w.put("ce", ce.reshape(1))
    w.put("l2", l2.reshape(1))
    for n, p in net.params.items():
        w.put("grad/" + n, p.grad)
    for n, s in net.stats.items():
        w.put("after1/" + n, s)

    # Three Adam steps (Keras form == torch Adam with eps_t = eps / sqrt(1 - beta2^t)), dropout masks
    # of steps 1..3. A random-init BN network at this batch size is chaotic: float32 rounding grows by
    # orders of magnitude per step, so the C test replays each step from the reference state before it
    # (teacher forcing) instead of comparing free-running trajectories. For the same reason this uses
    # epsilon = adam_check_epsilon: with 1e-7 an Adam update is ~lr*sign(g), so gradients below float32
    # noise flip whole updates; the Keras epsilon itself is checked exactly by the Adam op test.
    net.stats = {k: v.clone() for k, v in stats0.items()}
    eps = cfg["adam_check_epsilon"]
    opt = torch.optim.Adam(list(net.params.values()), lr=cfg["lr"], betas=(cfg["beta1"], cfg["beta2"]))
    names = list(net.params)
    f32 = lambda t: t.detach().numpy().astype(np.float32)
    for t in range(1, 4):
        opt.zero_grad()
        logits, ce, l2 = net.forward(x, labels, training=True, step=t)
        (ce + l2).backward()
        w.put(f"loss_step{t}", (ce + l2).detach().reshape(1))
        for n in names:
            w.f.create_dataset(f"step{t}/grad/{n}", data=f32(net.params[n].grad))
        for group in opt.param_groups:
            group["eps"] = eps / math.sqrt(1.0 - cfg["beta2"] ** t)
        opt.step()
        for n in names:
            st = opt.state[net.params[n]]
            w.f.create_dataset(f"state{t}/weights/{n}", data=f32(net.params[n]))
            w.f.create_dataset(f"state{t}/m/{n}", data=f32(st["exp_avg"]))
            w.f.create_dataset(f"state{t}/v/{n}", data=f32(st["exp_avg_sq"]))
        for n, st in net.stats.items():
            w.f.create_dataset(f"state{t}/weights/{n}", data=f32(st))
    w.close()
