#!/usr/bin/env python3
"""Writes tests/fixtures/keras_train/: one Keras 3 (TensorFlow backend) training step of the seed model,
scaled down, so tests/test_keras_bn_time.c can check gesture's training step — batch norm per time step
(model.bn_time = keras3), its backward, the moving-average updates, the loss with its L2 term, Adam —
against real Keras, and model.bn_time = keras2 against real tf.keras 2 (tf_keras).

Run with a Python that has tensorflow >= 2.16 (Keras 3), keras 3 and tf_keras, e.g.
    KERAS_BACKEND=tensorflow python scripts/make_keras_train_fixture.py [--out DIR]
(the committed files were made with tensorflow-cpu 2.21.0, keras 3.15.1, tf_keras 2.21.0, Python 3.11;
tests/fixtures/keras_train/README.md). Everything runs on the CPU on one thread with TF's op determinism,
so a rerun writes the same numbers (the .keras zip differs in its date and object ids only).

What it does:
 1. builds the seed notebook's model scaled down (alpha 0.35, 64x64 frames, T=3, GRU 4, Dense 8, 5 classes),
    seeded random weights with every BN's gamma/beta and moving statistics randomized (as
    scripts/make_keras_fixtures.py does), both Dropout rates set to 0;
 2. compiles it with Adam(LR, epsilon=ADAM_EPS) + categorical_crossentropy and saves it (train_initial.keras);
 3. runs ONE model.train_on_batch(x, y) on a fixed batch of B=4 clips and writes expected.h5: the pixels,
    labels, the returned loss (cross-entropy + the L2 term of the hidden Dense kernel, as Keras reports it)
    and every weight and moving statistic after the step under gesture's parameter names, as its change
    from train_initial.keras (int16 steps of a per-tensor scale: write_change);
 4. the same model in tf_keras (Keras 2: TimeDistributed reshapes to B*T frames) from the same weights,
    one train_on_batch: its loss and moving statistics go to expected.h5 under tf_keras/;
 5. checks the premise with numpy: bn_Conv1's moving mean/variance after the step are T per-time-step
    updates in Keras 3 and one update over all B*T frames in tf_keras.

ADAM_EPS is 0.1, not Keras' 1e-7: with 1e-7 the first Adam step moves every weight by about lr*sign(g), so
the weights after one step would say little about the gradients; with 0.1 the step is lr*g/(|g| + 3.16)
(close to SGD), so it carries the gradient's size (tests/dist_equiv.h does the same).
"""
import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "tests" / "fixtures" / "keras_train"
T, S, ALPHA, B = 3, 64, 0.35, 4
GRU_UNITS, DENSE_UNITS, CLASSES, L2 = 4, 8, 5, 1e-4
LR, BETA1, BETA2, ADAM_EPS = 1e-2, 0.9, 0.999, 0.1
SEED = 20240613
BN_VARS = ("gamma", "beta", "moving_mean", "moving_variance")


def build(km):
    """The seed notebook's model (keras 3 or tf_keras as km), scaled down, weights=None."""
    L = km.layers
    base = km.applications.MobileNetV2(alpha=ALPHA, include_top=False, weights=None, input_shape=(S, S, 3))
    model = km.Sequential([
        km.Input(shape=(T, S, S, 3)),
        L.TimeDistributed(base),
        L.TimeDistributed(L.BatchNormalization()),
        L.TimeDistributed(L.GlobalAveragePooling2D()),
        L.Bidirectional(L.GRU(GRU_UNITS)),
        L.Dropout(0.25),
        L.Dense(DENSE_UNITS, activation="relu", kernel_regularizer=km.regularizers.L2(L2)),
        L.Dropout(0.25),
        L.Dense(CLASSES, activation="softmax"),
    ])
    for d in (model.layers[4], model.layers[6]):
        d.rate = 0.0  # dropout off: the step is deterministic
    model.compile(optimizer=km.optimizers.Adam(learning_rate=LR, beta_1=BETA1, beta_2=BETA2, epsilon=ADAM_EPS),
                  loss="categorical_crossentropy")
    return model, base


def named_weights(model, km):
    """(gesture parameter name, variable) for every weight (docs/formats.md, Checkpoint names)."""
    def var(v):
        return v.name.split("/")[-1].split(":")[0]
    out = []
    for layer in model.layers[0].layer.layers:
        for v in layer.weights:
            n = "depthwise_kernel" if isinstance(layer, km.layers.DepthwiseConv2D) else var(v)
            out.append((f"{layer.name}/{n}", v))
    out += [(f"head_bn/{var(v)}", v) for v in model.layers[1].layer.weights]
    bidi = model.layers[3]
    for d, cell in (("gru_forward", bidi.forward_layer.cell), ("gru_backward", bidi.backward_layer.cell)):
        out += [(f"{d}/{var(v)}", v) for v in cell.weights]
    for d, layer in (("dense_hidden", model.layers[5]), ("dense_out", model.layers[7])):
        out += [(f"{d}/{var(v)}", v) for v in layer.weights]
    return out


def randomize(model, base, rng, np, km):
    """Random BN gamma/beta; moving statistics = the batch statistics of calibration frames (one
    training-mode call with momentum 0), perturbed; random GRU and Dense biases (as make_keras_fixtures.py,
    but gamma in U(0.5, 1.5), not U(0.5, 3): with gammas up to 3 many ReLU6 inputs sit near the clip at 6,
    and one that float rounding puts on the other side in another implementation changes the backward
    through 52 BNs: 1e-6 of noise on the input moved gesture's own backbone gradients by 1-2% there,
    by 2e-5 with U(0.5, 1.5), so only the latter can check a gradient against Keras')."""
    F32 = np.float32
    bns = [l for l in base.layers if isinstance(l, km.layers.BatchNormalization)]
    for bn in bns:
        c = bn.gamma.shape[0]
        bn.gamma.assign(rng.uniform(0.5, 1.5, c).astype(F32))
        bn.beta.assign(rng.uniform(-0.5, 1.0, c).astype(F32))
    calib = np.concatenate([rng.uniform(0, 1, (8, S, S, 3)), rng.uniform(-1, 1, (8, S, S, 3))]).astype(F32)
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.momentum = 0.0
    base(calib, training=True)
    for bn, m in zip(bns, momenta):
        bn.momentum = m
    for bn in bns:
        c = bn.gamma.shape[0]
        mm, mv = np.asarray(bn.moving_mean), np.maximum(np.asarray(bn.moving_variance), 1e-4)
        bn.moving_mean.assign((mm + 0.2 * np.sqrt(mv) * rng.standard_normal(c)).astype(F32))
        bn.moving_variance.assign((mv * rng.uniform(0.6, 1.6, c)).astype(F32))
    head = model.layers[1].layer
    feats = np.asarray(base(calib, training=False))
    mean, var = feats.mean(axis=(0, 1, 2)), feats.var(axis=(0, 1, 2)) + 1e-3
    head.gamma.assign(rng.uniform(0.5, 1.5, 1280).astype(F32))
    head.beta.assign(rng.uniform(-0.3, 0.3, 1280).astype(F32))
    head.moving_mean.assign((mean + 0.2 * np.sqrt(var) * rng.standard_normal(1280)).astype(F32))
    head.moving_variance.assign((var * rng.uniform(0.6, 1.6, 1280)).astype(F32))
    bidi = model.layers[3]
    for cell in (bidi.forward_layer.cell, bidi.backward_layer.cell):
        cell.bias.assign(rng.uniform(-0.2, 0.2, cell.bias.shape).astype(F32))
    for d in (model.layers[5], model.layers[7]):
        d.bias.assign(rng.uniform(-0.2, 0.2, d.bias.shape).astype(F32))


def conv1_moving_stats(np, conv1, mm0, mv0, momentum):
    """bn_Conv1's moving mean/variance after one step from its input conv1 (B,T,H,W,C), by rule: Keras 3
    (T updates, each over one time step's B frames), pooled (one update over all B*T frames) and pooled
    twice (what tf_keras does to a BN inside TimeDistributed(Model): its TimeDistributed.compute_mask
    calls the inner model's Functional.compute_mask, which runs the model's graph a second time in
    training mode, so every BN in it applies the same pooled update again)."""
    x = conv1.astype(np.float64)
    m3, v3 = mm0.astype(np.float64), mv0.astype(np.float64)
    for t in range(T):
        f = x[:, t]
        m3 = m3 * momentum + f.mean(axis=(0, 1, 2)) * (1 - momentum)
        v3 = v3 * momentum + f.var(axis=(0, 1, 2)) * (1 - momentum)
    mean, var = x.mean(axis=(0, 1, 2, 3)), x.var(axis=(0, 1, 2, 3))
    m2, v2 = mm0 * momentum + mean * (1 - momentum), mv0 * momentum + var * (1 - momentum)
    m22, v22 = m2 * momentum + mean * (1 - momentum), v2 * momentum + var * (1 - momentum)
    return (m3, v3), (m2, v2), (m22, v22)


def write_change(f, name, after, before, np):
    """A weight after the step as its change from before (its value in train_initial.keras), in int16
    steps of `scale` = max|change| / 32767: after = before + q * scale within scale/2 = 1.5e-5 of the
    tensor's largest change (half the size of float32, which keeps the fixtures under 4 MB)."""
    d = after.astype(np.float64) - before.astype(np.float64)
    m = float(np.max(np.abs(d)))
    scale = m / 32767 if m > 0 else 0.0
    q = np.round(d / scale).astype(np.int16) if m > 0 else np.zeros(d.shape, np.int16)
    ds = f.create_dataset(name, data=q)
    ds.attrs["scale"] = scale
    ds.attrs["max_abs_change"] = m


def rel(np, a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - b)) / np.max(np.abs(b)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    if os.environ["KERAS_BACKEND"] != "tensorflow":
        sys.exit("make_keras_train_fixture: KERAS_BACKEND must be tensorflow (the reference is Keras 3 on TF)")
    import h5py
    import numpy as np
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()
    import keras
    import tf_keras
    if not keras.__version__.startswith("3."):
        sys.exit(f"make_keras_train_fixture: needs Keras 3, found {keras.__version__}")
    args.out.mkdir(parents=True, exist_ok=True)

    rng = np.random.default_rng(SEED)
    keras.utils.set_random_seed(SEED)
    model, base = build(keras)
    randomize(model, base, rng, np, keras)
    pixels = rng.integers(0, 256, (B, T, S, S, 3), dtype=np.uint8)
    x = pixels.astype(np.float32) / np.float32(255.0)  # data.normalize = unit, float32 arithmetic
    labels = rng.integers(0, CLASSES, B).astype(np.int32)
    y = np.eye(CLASSES, dtype=np.float32)[labels]
    model.save(args.out / "train_initial.keras")
    named = named_weights(model, keras)
    before = {n: np.array(v) for n, v in named}
    conv1 = np.asarray(keras.Model(base.input, base.get_layer("Conv1").output)(x.reshape(B * T, S, S, 3)))
    conv1 = conv1.reshape(B, T, *conv1.shape[1:])

    loss3 = float(model.train_on_batch(x, y))
    after = {n: np.array(v) for n, v in named}

    # tf.keras 2 from the same weights
    km2, _ = build(tf_keras)
    named2 = dict(named_weights(km2, tf_keras))
    if sorted(named2) != sorted(before):
        sys.exit("make_keras_train_fixture: the tf_keras model's weights differ from the Keras 3 model's")
    for n, v in named2.items():
        v.assign(before[n])
    loss2 = float(km2.train_on_batch(x, y))
    after2 = {n: np.array(v) for n, v in named2.items() if "/moving_" in n}

    # the premise, checked with numpy on bn_Conv1
    k3, k2, k22 = conv1_moving_stats(np, conv1, before["bn_Conv1/moving_mean"], before["bn_Conv1/moving_variance"],
                                     base.get_layer("bn_Conv1").momentum)

    def both(a, want):
        return max(rel(np, a["bn_Conv1/moving_mean"], want[0]), rel(np, a["bn_Conv1/moving_variance"], want[1]))
    facts = {"Keras 3 vs per time step": both(after, k3), "Keras 3 vs pooled": both(after, k2),
             "tf_keras vs pooled twice": both(after2, k22), "tf_keras vs pooled once": both(after2, k2),
             "tf_keras vs per time step": both(after2, k3)}
    for k, v in facts.items():
        print(f"bn_Conv1 moving statistics, {k}: max rel diff {v:.2e}")
    if not (facts["Keras 3 vs per time step"] < 1e-5 and facts["tf_keras vs pooled twice"] < 1e-5 and
            min(facts["Keras 3 vs pooled"], facts["tf_keras vs pooled once"], facts["tf_keras vs per time step"]) > 1e-4):
        sys.exit("make_keras_train_fixture: Keras 3 / tf_keras do not follow the BN rules stated above")
    dmean3 = np.max(np.abs(after["bn_Conv1/moving_mean"].astype(np.float64) - before["bn_Conv1/moving_mean"]))
    dmean2 = np.max(np.abs(after2["bn_Conv1/moving_mean"].astype(np.float64) - before["bn_Conv1/moving_mean"]))
    print(f"loss: Keras 3 {loss3:.9g}, tf_keras {loss2:.9g}; bn_Conv1 moving mean change: Keras 3 max "
          f"{dmean3:.3e}, tf_keras max {dmean2:.3e}")

    with h5py.File(args.out / "expected.h5", "w") as f:
        for k, v in dict(keras_version=keras.__version__, tensorflow_version=tf.__version__,
                         tf_keras_version=tf_keras.__version__, backend="tensorflow", seed=SEED, alpha=ALPHA,
                         size=S, frames=T, batch=B, classes=CLASSES, gru_units=GRU_UNITS, dense_units=DENSE_UNITS,
                         l2=L2, lr=LR, beta1=BETA1, beta2=BETA2, epsilon=ADAM_EPS,
                         note="one train_on_batch of train_initial.keras on pixels/255 with labels; "
                              "scripts/make_keras_train_fixture.py").items():
            f.attrs[k] = v
        f.create_dataset("pixels", data=pixels)
        f.create_dataset("labels", data=labels)
        f.create_dataset("loss", data=np.float64(loss3))
        for n, v in after.items():
            write_change(f, f"after/{n}", v, before[n], np)
        f.create_dataset("tf_keras/loss", data=np.float64(loss2))
        for n, v in after2.items():
            write_change(f, f"tf_keras/after/{n}", v, before[n], np)
    for p in ("train_initial.keras", "expected.h5"):
        print(f"{args.out / p}: {os.path.getsize(args.out / p) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
