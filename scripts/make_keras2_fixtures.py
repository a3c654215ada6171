#!/usr/bin/env python3
"""Writes tests/fixtures/keras2/: the seed model (scaled down) saved by tf_keras (Keras 2) and by Keras 3 in
the formats `gesture import-keras` reads besides Keras 3 .keras / .weights.h5, with Keras' own predictions
on clips of PNG frames, so test_keras2_import and test_keras2_cli need neither Keras nor a network.

Run with a Python that has tensorflow(-cpu) 2.21, tf_keras 2.21, keras 3.15.1, h5py and opencv-python
(e.g. /work/main/.venv-tf/bin/python; pins in tests/fixtures/keras2/README.md):
  python scripts/make_keras2_fixtures.py            # files present: re-check them with Keras, write nothing
  python scripts/make_keras2_fixtures.py --force    # regenerate everything (about 1 min on 2 cores)
  python scripts/make_keras2_fixtures.py --variants DIR   # larger files for a manual check (not committed):
      fully trainable tf_keras .h5 / .keras, the legacy tf_keras optimizer, a compiled Keras 3 .h5; then
      GESTURE_KERAS2_VARIANTS=DIR ctest -R test_keras2_import checks them too

Outputs (tests/fixtures/keras2/, see README.md there):
  clips/clip160x120/00..06.png, clips/clip360x360/00..06.png   7 synthetic frames each (the data set's sizes)
  k2_model.h5       tf_keras model.save('m.h5'), compiled with Adam and trained 2 steps (optimizer_weights)
  k2_model.keras    tf_keras model.save('m.keras') of the same trained model (Keras 2's saving-v3 zip)
  resized/<clip>_<frame>.png    the frames the model sees: cv2.resize(frame, (96, 96), INTER_LINEAR)
  k2_expected.h5    tf_keras predict() probabilities on those inputs, Adam checksums
  k3_model.h5       Keras 3 model.save('m.h5') (its legacy whole-model HDF5), uncompiled
  k3_expected.h5    Keras 3 predict() probabilities on the same inputs
tf_keras model.save_weights('w.h5') writes exactly k2_model.h5's /model_weights at the root (same function,
checked here object by object); the tests make that file from k2_model.h5 instead of committing 2 MB more.
"""
import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
import cv2  # noqa: E402
import h5py  # noqa: E402
import numpy as np  # noqa: E402

import make_keras_fixtures as mk  # noqa: E402  (imported, not run: no venv bootstrap)

OUT = REPO / "tests" / "fixtures" / "keras2"
F32, T, S = np.float32, mk.T, mk.S
GRU = 4  # the smallest head that still tells the gates and directions apart (weights: 1.9 MB per file)
SEED = 20260716
K2 = dict(dropout=0.3, l2=5e-4)   # not the config defaults: the import must take them from the file
K3 = dict(dropout=0.2, l2=2e-4)
# Keras layers left trainable in the committed tf_keras model (all others frozen): a conv, a depthwise
# conv and three BNs, so Adam slots exist for some backbone variables only and the nested model's
# weight_names order (trainable first) differs from a fully trainable model's
TRAINABLE = {"Conv1", "bn_Conv1", "block_16_depthwise", "block_16_depthwise_BN", "Conv_1_bn"}
FRAME_SIZES = {"clip160x120": (160, 120), "clip360x360": (360, 360)}
N_FRAMES, PICK = 7, [0, 2, 4, 6]  # gesture's default selection: every 2nd frame from the first
OUTPUTS = ["k2_model.h5", "k2_model.keras", "k2_expected.h5", "k3_model.h5", "k3_expected.h5"]


# ----------------------------------------------------------------------------------------------
# inputs
# ----------------------------------------------------------------------------------------------
def make_frame(w, h, t, rng):
    """Frame t of a synthetic clip: a smooth background, a disc and a bar that move, a small noise patch."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([255 * xx / (w - 1), 255 * yy / (h - 1), 127.5 + 127.5 * np.sin((xx + 2 * yy + 9 * t) / 11.0)], -1)
    img = np.clip(np.round(img), 0, 255).astype(np.uint8)
    cv2.circle(img, (int(w * (0.2 + 0.1 * t)), int(h * 0.5)), h // 5, (230, 40, 60), -1)
    cv2.rectangle(img, (w // 2, int(h * (0.1 + 0.08 * t))), (w // 2 + w // 6, int(h * (0.3 + 0.08 * t))),
                  (20, 200, 90), -1)
    p = max(4, h // 12)
    img[2:2 + p, w - 2 - p:w - 2] = rng.integers(0, 256, (p, p, 3), dtype=np.uint8)
    return img


def png_write(path, rgb):
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    assert ok
    path.write_bytes(buf.tobytes())


def png_check(path, rgb, write):
    if write:
        png_write(path, rgb)
    got = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    assert np.array_equal(got, rgb), f"{path}: not the image this script makes"


def write_clips(out, write):
    """The PNG clips (written when `write`, else checked) and the model input each gives: frames PICK resized
    with cv2.resize(INTER_LINEAR) to SxS, uint8 (T,S,S,3), as gesture's data.resize = cv2. Those inputs are
    committed as PNGs too (resized/<clip>_<frame>.png: 5 KB each where an HDF5 array would take 90 KB)."""
    rng = np.random.default_rng(SEED)
    res = {}
    (out / "resized").mkdir(parents=True, exist_ok=True)
    for name, (w, h) in FRAME_SIZES.items():
        d = out / "clips" / name
        d.mkdir(parents=True, exist_ok=True)
        frames = [make_frame(w, h, t, rng) for t in range(N_FRAMES)]
        for t, img in enumerate(frames):
            png_check(d / f"{t:02d}.png", img, write)
        res[name] = np.stack([cv2.resize(frames[i], (S, S), interpolation=cv2.INTER_LINEAR) for i in PICK])
        for i, x in zip(PICK, res[name]):
            png_check(out / "resized" / f"{name}_{i:02d}.png", x, write)
    return res


# ----------------------------------------------------------------------------------------------
# models
# ----------------------------------------------------------------------------------------------
def var_short(v):
    """'kernel' for tf_keras 'Conv1/kernel:0' and Keras 3 'kernel'."""
    return v.name.split("/")[-1].split(":")[0]


def gesture_names(model, base, layers):
    """id(variable) -> our checkpoint name (docs/formats.md), from the layer objects, not from file names."""
    names = {}
    for layer in base.layers:
        dw = isinstance(layer, layers.DepthwiseConv2D)
        for v in layer.weights:
            names[id(v)] = mk.gesture_name(layer.name, var_short(v), dw)
    for v in model.layers[1].layer.weights:
        names[id(v)] = f"head_bn/{var_short(v)}"
    bidi = model.layers[3]
    for d, rnn in (("forward", bidi.forward_layer), ("backward", bidi.backward_layer)):
        for v in rnn.cell.weights:
            names[id(v)] = f"gru_{d}/{var_short(v)}"
    for i, g in ((5, "dense_hidden"), (7, "dense_out")):
        for v in model.layers[i].weights:
            names[id(v)] = f"{g}/{var_short(v)}"
    assert len(names) == len(model.weights), (len(names), len(model.weights))
    return names


def build(kmod, seed, head, trainable=None, compile_lr=None, legacy_opt=False):
    """The seed model in kmod (tf_keras or keras), random weights (BN statistics too); layers of the
    backbone not in `trainable` frozen (None: all trainable); compiled with Adam(compile_lr) if given."""
    rng = np.random.default_rng(seed)
    kmod.utils.set_random_seed(seed)
    model, base = mk.build_seed_model(kmod, gru=GRU, compile=False, **head)
    calib = np.concatenate([rng.uniform(0, 1, (8, S, S, 3)), rng.uniform(-1, 1, (8, S, S, 3))]).astype(F32)
    mk.randomize_backbone(base, rng, calib, kmod.layers)
    mk.randomize_head(model, base, rng, calib)
    out_kernel = model.layers[7].kernel  # larger logits: probabilities far from uniform
    out_kernel.assign(np.asarray(out_kernel) * F32(6.0))
    if trainable is not None:
        for layer in base.layers:
            layer.trainable = layer.name in trainable
    if compile_lr:
        opt = (kmod.optimizers.legacy.Adam if legacy_opt else kmod.optimizers.Adam)(learning_rate=compile_lr)
        model.compile(optimizer=opt, loss="categorical_crossentropy", metrics=["accuracy"])
    return model, base, rng


def train(model, rng, steps=2):
    x = rng.uniform(0, 1, (2 * steps, T, S, S, 3)).astype(F32)
    y = np.eye(5, dtype=F32)[rng.integers(0, 5, 2 * steps)]
    model.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0)


def adam_slots(model):
    """[(variable, m, v)] of the model's Adam, from the optimizer object (not from a file)."""
    opt = model.optimizer
    out = []
    if hasattr(opt, "_momentums") and hasattr(opt, "_index_dict"):  # tf_keras optimizer (2.11+)
        for v in model.trainable_variables:
            k = opt._index_dict[opt._var_key(v)]
            out.append((v, np.asarray(opt._momentums[k]), np.asarray(opt._velocities[k])))
    elif hasattr(opt, "get_slot"):  # tf_keras.optimizers.legacy.Adam
        for v in model.trainable_variables:
            out.append((v, np.asarray(opt.get_slot(v, "m")), np.asarray(opt.get_slot(v, "v"))))
    else:  # Keras 3
        for v in model.trainable_variables:
            k = opt._get_variable_index(v)
            out.append((v, np.asarray(opt._momentums[k]), np.asarray(opt._velocities[k])))
    return out


def checksums(a):
    """sum and position-weighted mean of a flattened array (float64): a permuted or misplaced array shows."""
    f = np.asarray(a, np.float64).ravel()
    return f.sum(), (f * (np.arange(f.size) % 7 + 1)).sum() / f.size


def write_expected(path, model, base, layers, kmod, inputs, meta, with_adam):
    names = gesture_names(model, base, layers)
    clips = list(inputs)
    pixels = np.stack([inputs[c] for c in clips])
    probs = np.asarray(model.predict(pixels.astype(F32) / F32(255.0), verbose=0))
    with h5py.File(path, "w") as f:
        f.create_dataset("clips", data=mk._sarr(clips))
        f.create_dataset("inputs", data=mk._sarr([f"resized/{c}_{i:02d}.png" for c in clips for i in PICK]))
        f.create_dataset("probs", data=probs.astype(F32))
        # what the file says, as datasets (strings: fixed-length, one element) for the C test's readers
        for k, v in dict(meta, frames=T, size=S, alpha=mk.ALPHA, gru_units=GRU).items():
            f.create_dataset(k, data=mk._sarr([v]) if isinstance(v, str) else v)
        f.create_dataset("trainable_in_keras", data=mk._sarr(sorted(names[id(v)] for v in model.trainable_variables)))
        f.attrs["note"] = ("clips: N clip folders under clips/; inputs: (N*T) PNGs of their frames 0,2,4,6 after "
                           "cv2.resize INTER_LINEAR to SxS (the pixels Keras got, /255 as float32); probs (N,5) = Keras "
                           "predict() on them")
        if with_adam:
            slots = adam_slots(model)
            g = f.create_group("adam")
            g.create_dataset("gesture_name", data=mk._sarr([names[id(v)] for v, _, _ in slots]))
            g.create_dataset("m", data=np.array([checksums(m) for _, m, _ in slots]))
            g.create_dataset("v", data=np.array([checksums(v) for _, _, v in slots]))
            g.create_dataset("iterations", data=int(np.asarray(model.optimizer.iterations)))
            g.create_dataset("learning_rate", data=float(np.asarray(model.optimizer.learning_rate)))
            g.attrs["note"] = "m, v: (variables, 2) = [sum, sum(x_i * (i % 7 + 1)) / n] of each Adam slot (float64)"
    return probs


def same_h5(a, b):
    """Differences between two HDF5 groups: attributes, structure, dtypes, shapes, bytes."""
    diffs = []

    def attrs(x, y, where):
        if sorted(x.attrs) != sorted(y.attrs):
            diffs.append(f"{where}: attrs {sorted(x.attrs)} vs {sorted(y.attrs)}")
        for k in x.attrs:
            if k in y.attrs and not np.array_equal(np.asarray(x.attrs[k]), np.asarray(y.attrs[k])):
                diffs.append(f"{where}: attr {k} differs")
    attrs(a, b, "/")
    seen = []
    a.visititems(lambda n, o: seen.append(n))
    other = []
    b.visititems(lambda n, o: other.append(n))
    if sorted(seen) != sorted(other):
        diffs.append(f"objects differ: {sorted(set(seen) ^ set(other))[:5]}")
    for n in seen:
        if n not in b:
            continue
        x, y = a[n], b[n]
        attrs(x, y, n)
        if isinstance(x, h5py.Dataset) and (x.dtype != y.dtype or x[()].tobytes() != y[()].tobytes()):
            diffs.append(f"{n}: dataset differs")
    return diffs


def make_k2(out, tmp, inputs, trainable=TRAINABLE, legacy_opt=False, tag="k2"):
    import tensorflow as tf
    import tf_keras
    model, base, rng = build(tf_keras, SEED + 1, K2, trainable, compile_lr=1e-3, legacy_opt=legacy_opt)
    train(model, rng)
    model.save(out / f"{tag}_model.h5")
    if not legacy_opt:  # the legacy optimizer is not saved in .keras files
        model.save(out / f"{tag}_model.keras")
    model.save_weights(tmp / "w.h5")
    with h5py.File(tmp / "w.h5", "r") as w, h5py.File(out / f"{tag}_model.h5", "r") as m:
        diffs = same_h5(w, m["model_weights"])
    assert not diffs, f"save_weights .h5 != model.save's /model_weights: {diffs[:3]}"
    attrs = dict(keras_version=tf_keras.__version__, tensorflow_version=tf.__version__, seed=SEED + 1,
                 dropout=K2["dropout"], l2=K2["l2"])
    return write_expected(out / f"{tag}_expected.h5", model, base, tf_keras.layers, tf_keras, inputs, attrs, True)


def make_k3(out, inputs, compiled=False, tag="k3"):
    import keras
    import tensorflow as tf
    model, base, rng = build(keras, SEED + 2, K3, None, compile_lr=1e-3 if compiled else None)
    if compiled:
        train(model, rng)
    model.save(out / f"{tag}_model.h5")
    attrs = dict(keras_version=keras.__version__, tensorflow_version=tf.__version__, seed=SEED + 2,
                 backend=keras.backend.backend(), dropout=K3["dropout"], l2=K3["l2"])
    return write_expected(out / f"{tag}_expected.h5", model, base, keras.layers, keras, inputs, attrs, compiled)


# ----------------------------------------------------------------------------------------------
# checks: every committed file reloads in the Keras that wrote it and predicts the stored numbers
# ----------------------------------------------------------------------------------------------
def check_all(out):
    import keras
    import tf_keras
    ok = True

    def report(cond, msg):
        nonlocal ok
        ok &= bool(cond)
        print(("  ok   " if cond else "  FAIL ") + msg)

    for tag, kmod, files in (("k2", tf_keras, ["k2_model.h5", "k2_model.keras"]), ("k3", keras, ["k3_model.h5"])):
        with h5py.File(out / f"{tag}_expected.h5", "r") as f:
            png = [cv2.cvtColor(cv2.imread(str(out / mk._str(n))), cv2.COLOR_BGR2RGB) for n in f["inputs"][()]]
            x, want = np.stack(png).reshape(-1, T, S, S, 3).astype(F32) / F32(255.0), f["probs"][()]
            iters = int(f["adam/iterations"][()]) if "adam" in f else None
        for fn in files:
            m = kmod.models.load_model(out / fn)
            p = np.asarray(m.predict(x, verbose=0))
            report(np.array_equal(p, want), f"{fn}: {kmod.__name__} load_model + predict == stored probs "
                                            f"(max diff {np.abs(p - want).max():.1e})")
            if iters is not None:
                report(int(np.asarray(m.optimizer.iterations)) == iters, f"{fn}: optimizer iterations {iters} restored")
        if tag == "k2":  # the save_weights file the tests derive: tf_keras loads it into a fresh model
            m, _, _ = build(tf_keras, 1, K2, TRAINABLE)
            with tempfile.TemporaryDirectory() as d, h5py.File(out / "k2_model.h5", "r") as src:
                w = Path(d) / "w.h5"
                with h5py.File(w, "w") as dst:
                    for k, v in src["model_weights"].attrs.items():
                        dst.attrs[k] = v
                    for k in src["model_weights"]:
                        src.copy(src["model_weights"][k], dst, k)
                m.load_weights(w)
            p = np.asarray(m.predict(x, verbose=0))
            report(np.array_equal(p, want), "k2_model.h5's /model_weights as a save_weights file: tf_keras "
                                            f"load_weights + predict == stored probs (max diff {np.abs(p - want).max():.1e})")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--force", action="store_true", help="regenerate even if every output exists")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--variants", type=Path, metavar="DIR", help="write the larger manual-check variants into DIR")
    args = ap.parse_args()
    import keras
    import tensorflow as tf
    import tf_keras
    print(f"make_keras2_fixtures: tensorflow {tf.__version__}, tf_keras {tf_keras.__version__}, keras "
          f"{keras.__version__} ({keras.backend.backend()}), h5py {h5py.__version__}, cv2 {cv2.__version__}")
    out = args.variants or args.out
    out.mkdir(parents=True, exist_ok=True)
    write = args.force or bool(args.variants) or not all((out / f).exists() for f in OUTPUTS)
    inputs = write_clips(out, write)
    if args.variants:
        with tempfile.TemporaryDirectory() as d:
            make_k2(out, Path(d), inputs, trainable=None, tag="k2full")
            make_k2(out, Path(d), inputs, trainable=None, legacy_opt=True, tag="k2legacyopt")
        make_k3(out, inputs, compiled=True, tag="k3adam")
        print(f"variants in {out}: " + ", ".join(sorted(p.name for p in out.glob("*.*"))))
        return 0
    if write:
        with tempfile.TemporaryDirectory() as d:
            p2 = make_k2(out, Path(d), inputs)
        p3 = make_k3(out, inputs)
        print(f"k2 probs {np.round(p2, 3).tolist()}\nk3 probs {np.round(p3, 3).tolist()}")
    else:
        print("make_keras2_fixtures: all outputs present (use --force to regenerate); checking them")
    print("checks:")
    ok = check_all(out)
    total = 0
    for p in sorted(out.rglob("*")):
        if p.is_file():
            total += p.stat().st_size
            if p.suffix != ".png":
                print(f"  {p.relative_to(out)}: {p.stat().st_size / 1e6:.2f} MB")
    print(f"  total (with {len(list(out.rglob('*.png')))} PNGs): {total / 1e6:.2f} MB")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
