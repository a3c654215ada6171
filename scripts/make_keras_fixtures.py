#!/usr/bin/env python3
"""Writes Keras-made fixtures into tests/fixtures/keras/ so the C Keras importer is tested without Keras.

Run with any python3 >= 3.10:   python3 scripts/make_keras_fixtures.py [--force]
It creates .venv-keras/ in the repo root (gitignored) when missing, pip-installs the pinned Keras 3 +
jax[cpu] there (skipped when the venv already has them) and re-executes itself inside it with
KERAS_BACKEND=jax. Without --force and with every output present it only re-checks the committed
files (reload + predict == stored numbers) and rewrites nothing, so re-running causes no git churn.

Round trip of our exporter (manual; ctest has no Keras), for the small test model only (a file of any
other model is refused, naming the first weight whose shape differs):
  gesture import-keras tests/fixtures/keras/seed_small.keras ck.h5 && gesture export-keras ck.h5 x.weights.h5
  python3 scripts/make_keras_fixtures.py --check-export x.weights.h5 [--expected EXPECTED.h5]

Outputs (tests/fixtures/keras/, see README.md there):
  seed_small.keras            seed architecture, small (T=4, S=96, alpha=0.35), Keras 3 native zip
  seed_small_expected.h5      inputs, Keras predictions/logits/intermediates, weight index
  mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5   legacy weights at file root
  backbone_model_weights.h5   legacy full-model save, weights under /model_weights
  backbone_mobl_names.h5      (a) renamed to the real ImageNet file's mobl*/bn*_conv_* names
  backbone_expected.h5        inputs, Keras out_relu, legacy weight index
"""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("KERAS_FIXTURE_VENV", REPO / ".venv-keras"))
OUT = REPO / "tests" / "fixtures" / "keras"
# Full pin set (pip freeze of the venv that made the committed files); Keras 3.15 needs Python >= 3.11.
PINS = ["keras==3.15.1", "jax[cpu]==0.10.2", "jaxlib==0.10.2", "numpy==2.4.6", "h5py==3.16.0",
        "ml_dtypes==0.6.0", "scipy==1.17.1", "optree==0.20.0", "absl-py==2.5.1", "rich==15.0.0",
        "namex==0.1.0", "packaging==26.3", "opt_einsum==3.4.0"]
# Only when no Python >= 3.11 exists: the newest releases that still support 3.10 (results may differ
# from the committed files in the last bits; the checks below still hold).
PINS_PY310 = ["keras==3.12.4", "jax[cpu]==0.6.2", "jaxlib==0.6.2", "h5py==3.16.0"]
SEED = 20240611


# ----------------------------------------------------------------------------------------------
# bootstrap: find an interpreter, make the venv, re-exec inside it
# ----------------------------------------------------------------------------------------------
def _py_version(exe):
    try:
        out = subprocess.run([exe, "-c", "import sys, venv; print('%d %d' % sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=60)
        return tuple(int(v) for v in out.stdout.split()) if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def _pick_base_python():
    if sys.version_info >= (3, 11):
        return sys.executable, PINS
    import shutil
    for name in ("python3.13", "python3.12", "python3.11", "/usr/bin/python3"):
        exe = shutil.which(name)
        if exe and (_py_version(exe) or (0, 0)) >= (3, 11):
            return exe, PINS
    print("make_keras_fixtures: no Python >= 3.11 found; using the Python 3.10 pin set", file=sys.stderr)
    return sys.executable, PINS_PY310


def _venv_python():
    return VENV / "bin" / "python"


def _venv_has(pins):
    want = {p.split("==")[0].split("[")[0]: p.split("==")[1] for p in pins[:2]}
    code = ("import keras, jax, h5py, numpy; print(keras.__version__, jax.__version__)")
    try:
        out = subprocess.run([str(_venv_python()), "-c", code], capture_output=True, text=True,
                             timeout=300, env=dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu"))
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and out.stdout.split() == [want["keras"], want["jax"]]


def bootstrap():
    base, pins = _pick_base_python()
    if not _venv_python().exists():
        print(f"make_keras_fixtures: creating {VENV}", flush=True)
        subprocess.run([base, "-m", "venv", str(VENV)], check=True)
    if not _venv_has(PINS) and not _venv_has(PINS_PY310):
        print("make_keras_fixtures: installing " + " ".join(pins), flush=True)
        subprocess.run([str(_venv_python()), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        *pins], check=True)
        if not _venv_has(pins):
            sys.exit("make_keras_fixtures: the venv still lacks the pinned keras/jax after pip install")
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", _GESTURE_KERAS_VENV="1",
               TF_CPP_MIN_LOG_LEVEL="2")
    py = str(_venv_python())
    os.execve(py, [py, str(Path(__file__).resolve()), *sys.argv[1:]], env)


def _in_venv():
    return os.environ.get("_GESTURE_KERAS_VENV") == "1" and Path(sys.prefix).resolve() == VENV.resolve()


if not _in_venv():
    if sys.version_info < (3, 10):
        sys.exit("make_keras_fixtures: needs python3 >= 3.10")
    if __name__ == "__main__":
        bootstrap()

# ----------------------------------------------------------------------------------------------
# everything below runs inside the venv
# ----------------------------------------------------------------------------------------------
import argparse  # noqa: E402
import io  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import zipfile  # noqa: E402

import h5py  # noqa: E402
import numpy as np  # noqa: E402

F32 = np.float32
T, S, ALPHA, B = 4, 96, 0.35, 2
BN_VARS = ["gamma", "beta", "moving_mean", "moving_variance"]
FILE_A = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5"
FILE_B = "backbone_model_weights.h5"
FILE_C = "backbone_mobl_names.h5"
OUTPUTS = ["seed_small.keras", "seed_small_expected.h5", FILE_A, FILE_B, FILE_C, "backbone_expected.h5"]


def build_seed_model(keras, gru=128, dropout=0.25, l2=1e-4, compile=True):
    """The seed notebook's model, scaled down (T=4, S=96, alpha=0.35, weights=None instead of imagenet).
    `keras` is Keras 3 or tf_keras (Keras 2: scripts/make_keras2_fixtures.py); the defaults are the seed's head."""
    layers = keras.layers
    base_model = keras.applications.MobileNetV2(alpha=ALPHA, include_top=False, weights=None,
                                                input_shape=(S, S, 3))
    model = keras.Sequential([
        keras.Input(shape=(T, S, S, 3)),
        layers.TimeDistributed(base_model),
        layers.TimeDistributed(layers.BatchNormalization()),
        layers.TimeDistributed(layers.GlobalAveragePooling2D()),
        layers.Bidirectional(layers.GRU(gru)),
        layers.Dropout(dropout),
        layers.Dense(128, activation="relu", kernel_regularizer=keras.regularizers.L2(l2)),
        layers.Dropout(dropout),
        layers.Dense(5, activation="softmax"),
    ])
    if compile:
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-4),
                      loss="categorical_crossentropy", metrics=["accuracy"])
    return model, base_model


def _bns(model, layers):
    return [l for l in model.layers if isinstance(l, layers.BatchNormalization)]


def randomize_backbone(base, rng, calib, layers):
    """Random γ/β, then moving stats = batch stats of `calib` frames (one training-mode call with
    momentum 0), perturbed, so inference BN is far from identity yet activations stay O(1)."""
    bns = _bns(base, layers)
    for bn in bns:
        c = bn.gamma.shape[0]
        bn.gamma.assign(rng.uniform(0.5, 3.0, c).astype(F32))  # >2 so some ReLU6 outputs clip at 6
        bn.beta.assign(rng.uniform(-0.5, 1.0, c).astype(F32))
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


def randomize_head(model, base, rng, calib):
    """Random head BN (moving stats near the statistics of the backbone's features on `calib`), GRU and
    Dense biases of the seed model built by build_seed_model."""
    head_bn = model.layers[1].layer
    feats = np.asarray(base.predict(calib, verbose=0))
    mean, var = feats.mean(axis=(0, 1, 2)), feats.var(axis=(0, 1, 2)) + 1e-3
    head_bn.gamma.assign(rng.uniform(0.5, 1.5, 1280).astype(F32))
    head_bn.beta.assign(rng.uniform(-0.3, 0.3, 1280).astype(F32))
    head_bn.moving_mean.assign((mean + 0.2 * np.sqrt(var) * rng.standard_normal(1280)).astype(F32))
    head_bn.moving_variance.assign((var * rng.uniform(0.6, 1.6, 1280)).astype(F32))
    bidi = model.layers[3]
    for cell in (bidi.forward_layer.cell, bidi.backward_layer.cell):  # zero biases would hide row mix-ups
        cell.bias.assign(rng.uniform(-0.2, 0.2, cell.bias.shape).astype(F32))
    for d in (model.layers[5], model.layers[7]):
        d.bias.assign(rng.uniform(-0.2, 0.2, d.bias.shape).astype(F32))


def gesture_name(keras_layer, var, is_depthwise):
    """Parameter name in our own checkpoints (docs/formats.md, Checkpoint)."""
    head = {"batch_normalization": "head_bn", "forward_gru": "gru_forward", "backward_gru": "gru_backward",
            "dense": "dense_hidden", "dense_1": "dense_out"}
    if is_depthwise and var == "kernel":
        var = "depthwise_kernel"
    return f"{head.get(keras_layer, keras_layer)}/{var}"


def mobl_name(name):
    """Keras MobileNetV2 layer name -> name in JonathanCMitchell's ImageNet files (docs/formats.md, Keras files)."""
    import re
    kinds = {"expand": "expand", "depthwise": "depthwise", "project": "project"}
    m = re.fullmatch(r"(?:block_(\d+)|expanded_conv)_(expand|depthwise|project)(_BN)?", name)
    if not m:
        return name
    n = m.group(1) or "0"
    return f"bn{n}_conv_{n}_bn_{kinds[m.group(2)]}" if m.group(3) else f"mobl{n}_conv_{n}_{kinds[m.group(2)]}"


def to_unit(pixels):
    """`data.normalize = unit` (docs/keras.md, Data) of uint8 pixels, float32 arithmetic."""
    return pixels.astype(F32) / F32(255.0)


def to_sym(pixels):
    """`data.normalize = symmetric` (= Keras mobilenet_v2.preprocess_input: x/127.5 - 1), float32 arithmetic."""
    return pixels.astype(F32) / F32(127.5) - F32(1.0)


def _sarr(strings):
    return np.array([s.encode() for s in strings], dtype=f"S{max(len(s) for s in strings)}")


def _write_index(g, cols, shapes):
    for k, v in cols.items():
        g.create_dataset(k, data=_sarr(v))
    g.create_dataset("ndim", data=np.array([len(s) for s in shapes], np.int32))
    g.create_dataset("shape", data=np.array([list(s) + [0] * (4 - len(s)) for s in shapes], np.int32))


def _str(n):
    return n.decode() if isinstance(n, bytes) else str(n)


def _strs(attr):
    """An attribute string list; an empty float64 array (weightless layer) gives []."""
    return [_str(n) for n in attr] if len(attr) else []


def h5_datasets(f):
    out = {}
    f.visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out


def keras_h5(path):
    z = zipfile.ZipFile(path)
    return h5py.File(io.BytesIO(z.read("model.weights.h5")), "r")


# ----------------------------------------------------------------------------------------------
# 1. seed model
# ----------------------------------------------------------------------------------------------
def doc_expected_paths():
    """The Keras 3 path table of docs/formats.md, spelled out: h5 path -> (Keras layer name, variable name)."""
    P = "layers/time_distributed/layer/layers/"
    exp = {}

    def conv(cls, k, layer):
        exp[f"{P}{cls}{'' if k == 0 else f'_{k}'}/vars/0"] = (layer, "kernel")

    def bn(k, layer):
        for i, v in enumerate(BN_VARS):
            exp[f"{P}batch_normalization{'' if k == 0 else f'_{k}'}/vars/{i}"] = (layer, v)
    conv("conv2d", 0, "Conv1"), bn(0, "bn_Conv1")
    conv("depthwise_conv2d", 0, "expanded_conv_depthwise"), bn(1, "expanded_conv_depthwise_BN")
    conv("conv2d", 1, "expanded_conv_project"), bn(2, "expanded_conv_project_BN")
    for b in range(1, 17):
        conv("conv2d", 2 * b, f"block_{b}_expand"), bn(3 * b, f"block_{b}_expand_BN")
        conv("depthwise_conv2d", b, f"block_{b}_depthwise"), bn(3 * b + 1, f"block_{b}_depthwise_BN")
        conv("conv2d", 2 * b + 1, f"block_{b}_project"), bn(3 * b + 2, f"block_{b}_project_BN")
    conv("conv2d", 34, "Conv_1"), bn(51, "Conv_1_bn")
    for i, v in enumerate(BN_VARS):
        exp[f"layers/time_distributed_1/layer/vars/{i}"] = ("batch_normalization", v)
    for d in ("forward", "backward"):
        for i, v in enumerate(["kernel", "recurrent_kernel", "bias"]):
            exp[f"layers/bidirectional/{d}_layer/cell/vars/{i}"] = (f"{d}_gru", v)
    for layer in ("dense", "dense_1"):
        exp[f"layers/{layer}/vars/0"], exp[f"layers/{layer}/vars/1"] = (layer, "kernel"), (layer, "bias")
    return exp


def weight_index(model, path, keras, layers):
    """Map every dataset of the saved .keras h5 to its variable by VALUE (all values are random and
    distinct), independent of Keras' own walker. Returns rows in model.weights order + notes."""
    owners = {}
    for layer in model._flatten_layers(include_self=True, recursive=True):
        for v in layer._trainable_variables + layer._non_trainable_variables:
            owners.setdefault(id(v), layer)
    vals = {id(v): np.asarray(v) for v in model.weights}
    by_var, notes = {}, []
    with keras_h5(path) as f:
        dsets = h5_datasets(f)
        name_attrs = {}
        f.visititems(lambda n, o: name_attrs.__setitem__(n, o.attrs["name"]) if "name" in o.attrs else None)
    for p, a in dsets.items():
        if p.startswith("optimizer/"):
            continue
        hits = [i for i, val in vals.items() if val.shape == a.shape and np.array_equal(val, a)]
        if len(hits) != 1:
            raise SystemExit(f"{p}: {len(hits)} variables have its values")
        by_var[hits[0]] = p
    rows, exp = [], doc_expected_paths()
    for v in model.weights:
        p = by_var.get(id(v))
        if p is None:
            raise SystemExit(f"variable {v.path} not found in {path}")
        parts = v.path.split("/")
        klayer = parts[-3] if parts[-2] == "gru_cell" else parts[-2]
        owner = owners[id(v)]
        rows.append(dict(h5_path=p, keras_layer=klayer, keras_var=v.name, keras_path=v.path,
                         gesture_name=gesture_name(klayer, v.name, isinstance(owner, layers.DepthwiseConv2D)),
                         shape=tuple(v.shape)))
        group = p.rsplit("/", 1)[0]
        if name_attrs.get(group) != owner.name:
            notes.append(f"{group}: name attr {name_attrs.get(group)!r} != owning layer {owner.name!r}")
        if exp.get(p) != (klayer, v.name):
            notes.append(f"DIFF {p}: the docs/formats.md path table says {exp.get(p)}, actual {(klayer, v.name)}")
    for p in set(exp) - set(by_var.values()):
        notes.append(f"DIFF {p}: in the docs/formats.md path table but not in the file")
    return rows, notes, sorted(dsets), name_attrs


def make_seed(keras, layers, out, tmp):
    rng = np.random.default_rng(SEED)
    keras.utils.set_random_seed(SEED)
    model, base = build_seed_model(keras)
    calib = np.concatenate([rng.uniform(0, 1, (8, S, S, 3)), rng.uniform(-1, 1, (8, S, S, 3))]).astype(F32)
    randomize_backbone(base, rng, calib, layers)
    randomize_head(model, base, rng, calib)

    pixels = rng.integers(0, 256, (B, T, S, S, 3), dtype=np.uint8)
    x_unit, x_sym = to_unit(pixels), to_sym(pixels)
    model.save(out / "seed_small.keras")

    res = {"x_unit": x_unit, "x_sym": x_sym}  # pixels not stored (size): x_unit * 255 rounds back to them
    W2, b2 = (np.asarray(w, np.float64) for w in model.layers[7].weights)
    for tag, x in (("unit", x_unit), ("sym", x_sym)):
        res[f"probs_{tag}"] = np.asarray(model.predict(x, verbose=0))
        y = x  # eager layer-by-layer pass for the intermediates (inference mode)
        for i, layer in enumerate(model.layers):
            y = layer(y, training=False)
            key = {2: "gap", 3: "bigru", 5: "dense"}.get(i)
            if key:
                res[f"{key}_{tag}"] = np.asarray(y)
        logits = res[f"dense_{tag}"].astype(np.float64) @ W2 + b2
        res[f"logits_{tag}"] = logits.astype(F32)
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        err = np.abs(p - res[f"probs_{tag}"]).max()
        assert err < 1e-5, f"softmax(logits) vs predict: {err}"
        assert np.abs(np.asarray(y) - res[f"probs_{tag}"]).max() < 1e-5
    res["backbone_unit"] = np.asarray(base.predict(x_unit[0], verbose=0))

    rows, notes, dset_paths, name_attrs = weight_index(model, out / "seed_small.keras", keras, layers)
    with h5py.File(out / "seed_small_expected.h5", "w") as f:
        for k, v in res.items():
            f.create_dataset(k, data=v if v.dtype == np.uint8 else v.astype(F32))
        f.attrs["keras_version"], f.attrs["jax_version"] = keras.__version__, __import__("jax").__version__
        f.attrs["seed"] = SEED
        f.attrs["note"] = ("x_unit = pixels/255, x_sym = pixels/127.5-1 (float32, same uint8 pixels); "
                           "probs_* = model.predict (inference); logits_* = dense_* @ W + b (float64); "
                           "gap_* = (B,T,1280) after head BN + GAP; bigru_* = (B,256) [fwd|bwd]; dense_* = "
                           "(B,128) after ReLU; backbone_unit = out_relu of x_unit clip 0, (T,3,3,1280)")
        g = f.create_group("weights")
        _write_index(g, {k: [r[k] for r in rows] for k in
                         ("h5_path", "keras_layer", "keras_var", "keras_path", "gesture_name")},
                     [r["shape"] for r in rows])
    stats = activation_stats(res)
    legacy = legacy_seed_facts(model, tmp)
    return dict(rows=rows, notes=notes, dset_paths=dset_paths, name_attrs=name_attrs, stats=stats,
                legacy=legacy)


def activation_stats(res):
    b = res["backbone_unit"]
    return (f"out_relu clip0 unit: mean {b.mean():.3f}, zero {np.mean(b == 0):.2%}, at 6 {np.mean(b == 6):.2%}; "
            f"probs_unit {np.round(res['probs_unit'], 3).tolist()}; probs_sym {np.round(res['probs_sym'], 3).tolist()}")


def legacy_seed_facts(model, tmp):
    """What a legacy .h5 save of the whole seed model looks like (not committed: size)."""
    p = tmp / "seed_legacy.h5"
    model.save(p)
    with h5py.File(p, "r") as f:
        mw = f["model_weights"]
        names = _strs(mw.attrs["layer_names"])
        facts = [f"layer_names: {names}", f"root attrs: {sorted(f.attrs)}"]
        for n in names:
            wn = _strs(mw[n].attrs["weight_names"])
            if wn:
                facts.append(f"{n}: {len(wn)} weights, first {wn[:3]}, last {wn[-2:]}")
        td = _strs(mw["time_distributed"].attrs["weight_names"])
        first_stat = next(i for i, w in enumerate(td) if "moving_" in w)
        facts.append(f"time_distributed: first moving stat at index {first_stat} of {len(td)}; "
                     f"any gamma/kernel after it: {any('moving_' not in w for w in td[first_stat:])}")
    return facts


# ----------------------------------------------------------------------------------------------
# 2. backbone legacy files
# ----------------------------------------------------------------------------------------------
def make_backbone(keras, layers, out):
    from keras.src.legacy.saving import legacy_h5_format
    rng = np.random.default_rng(SEED + 1)
    keras.utils.set_random_seed(SEED + 1)
    base = keras.applications.MobileNetV2(alpha=ALPHA, include_top=False, weights=None, input_shape=(S, S, 3))
    calib = rng.uniform(-1, 1, (16, S, S, 3)).astype(F32)
    randomize_backbone(base, rng, calib, layers)
    with h5py.File(out / FILE_A, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, base)
    base.save(out / FILE_B)  # .h5 suffix -> Keras 3 writes the legacy full-model format
    write_mobl_copy(out / FILE_A, out / FILE_C)
    pixels = rng.integers(0, 256, (2, S, S, 3), dtype=np.uint8)
    x = to_sym(pixels)
    y = np.asarray(base.predict(x, verbose=0))
    rows = []
    for layer in base.layers:
        for v in layer.trainable_weights + layer.non_trainable_weights:
            dw = isinstance(layer, layers.DepthwiseConv2D)
            cname = mobl_name(layer.name)
            cvar = "depthwise_kernel" if dw and v.name == "kernel" else v.name
            rows.append(dict(keras_layer=layer.name, keras_var=v.name, shape=tuple(v.shape),
                             path_a=f"{layer.name}/{v.path}", path_b=f"model_weights/{layer.name}/{v.path}",
                             path_c=f"{cname}/{cname}/{cvar}:0", gesture_name=gesture_name(layer.name, v.name, dw)))
    with h5py.File(out / "backbone_expected.h5", "w") as f:
        f.create_dataset("pixels", data=pixels)
        f.create_dataset("x", data=x)
        f.create_dataset("out_relu", data=y)
        f.attrs["keras_version"], f.attrs["jax_version"] = keras.__version__, __import__("jax").__version__
        f.attrs["seed"] = SEED + 1
        f.attrs["note"] = "x = pixels/127.5-1 (float32); out_relu = Keras MobileNetV2(alpha 0.35, 96, no top).predict(x), inference mode"
        _write_index(f.create_group("weights"),
                     {k: [r[k] for r in rows] for k in
                      ("keras_layer", "keras_var", "path_a", "path_b", "path_c", "gesture_name")},
                     [r["shape"] for r in rows])
    return rows, y


def write_mobl_copy(src, dst):
    """(a) with the real ImageNet file's names: mobl*/bn*_conv_* layers, Keras-2 `<layer>/<var>:0` weight
    names (depthwise var `depthwise_kernel`), an extra weightless `Conv1_pad` (KA's 155-layer list) and no
    Keras-3 `top_level_model_weights` group. HDF5 group order is alphabetical, i.e. NOT model order."""
    with h5py.File(src, "r") as fa, h5py.File(dst, "w") as fc:
        names = _strs(fa.attrs["layer_names"])
        out_names = []
        for n in names:
            new = mobl_name(n)
            out_names.append(new)
            if n == "Conv1":
                out_names.insert(len(out_names) - 1, "Conv1_pad")
                fc.create_group("Conv1_pad").attrs["weight_names"] = np.asarray([])
            g = fc.create_group(new)
            wn = _strs(fa[n].attrs["weight_names"])
            new_wn = []
            for w in wn:
                var = w.split("/")[-1]
                if "depthwise" in n and "_BN" not in n and var == "kernel":
                    var = "depthwise_kernel"
                new_wn.append(f"{new}/{var}:0")
                g.create_dataset(new_wn[-1], data=fa[n][w][()])
            g.attrs["weight_names"] = np.array([w.encode() for w in new_wn]) if new_wn else np.asarray([])
        fc.attrs["layer_names"] = np.array([n.encode() for n in out_names])
        for k in ("backend", "keras_version"):
            fc.attrs[k] = fa.attrs[k]


# ----------------------------------------------------------------------------------------------
# 3. checks (run after generating, and alone when the files already exist)
# ----------------------------------------------------------------------------------------------
def check_all(keras, layers, out):
    ok = True

    def report(cond, msg):
        nonlocal ok
        ok &= bool(cond)
        print(("  ok   " if cond else "  FAIL ") + msg)

    with h5py.File(out / "seed_small_expected.h5", "r") as f:
        e = {k: f[k][()] for k in f if isinstance(f[k], h5py.Dataset)}
    import warnings  # the file holds an unbuilt Adam (2 vars); Keras warns when it builds a full one
    warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
    m = keras.models.load_model(out / "seed_small.keras")
    for tag in ("unit", "sym"):
        p = np.asarray(m.predict(e[f"x_{tag}"], verbose=0))
        report(np.array_equal(p, e[f"probs_{tag}"]),
               f"seed_small.keras reload: probs_{tag} identical (max diff {np.abs(p - e[f'probs_{tag}']).max():.2e})")
    with h5py.File(out / "backbone_expected.h5", "r") as f:
        x, want = f["x"][()], f["out_relu"][()]
    for fn in (FILE_A, FILE_B, FILE_C):
        keras.utils.set_random_seed(7)  # a different init than the saved one
        fresh = keras.applications.MobileNetV2(alpha=ALPHA, include_top=False, weights=None, input_shape=(S, S, 3))
        fresh.load_weights(out / fn)
        y = np.asarray(fresh.predict(x, verbose=0))
        report(np.array_equal(y, want), f"{fn}: load_weights into fresh MobileNetV2 -> out_relu identical "
                                        f"(max diff {np.abs(y - want).max():.2e})")
    full = keras.models.load_model(out / FILE_B)
    y = np.asarray(full.predict(x, verbose=0))
    report(np.array_equal(y, want), f"{FILE_B}: keras.models.load_model -> out_relu identical")
    # the mobl-named copy must fail a by-name load (names differ) -- the reason to load by order
    fresh = keras.applications.MobileNetV2(alpha=ALPHA, include_top=False, weights=None, input_shape=(S, S, 3))
    before = [np.asarray(w).copy() for w in fresh.weights]
    try:
        fresh.load_weights(out / FILE_C, skip_mismatch=True, by_name=True)
        loaded = sum(not np.array_equal(a, np.asarray(w)) for a, w in zip(before, fresh.weights))
        report(loaded == 10, f"{FILE_C}: by_name load changes only {loaded}/{len(before)} weights "
                             "(only Conv1, bn_Conv1, Conv_1, Conv_1_bn names match)")
    except Exception as ex:  # noqa: BLE001 - newer Keras rejects by_name: fine, still not by name
        print(f"  note {FILE_C}: by_name load raised {type(ex).__name__}: {str(ex)[:100]}")
    return ok


def zip_facts(path):
    z = zipfile.ZipFile(path)
    return [f"{i.filename}: compress_type {i.compress_type}, flag_bits {i.flag_bits:#x}, "
            f"size {i.file_size}, header_offset {i.header_offset}" for i in z.infolist()]


def adam_slot_order(keras, layers):
    """One Adam step on a tiny model: optimizer/vars = [iteration, learning_rate, then per trainable
    variable (m, v)]? m = (1-b1) g, v = (1-b2) g^2  =>  v / m^2 = (1-b2)/(1-b1)^2 = 0.1."""
    keras.utils.set_random_seed(3)
    mdl = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(2, bias_initializer="ones")])
    mdl.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    mdl.fit(np.ones((4, 3), F32), np.zeros((4, 2), F32), verbose=0, batch_size=4, epochs=1)
    with tempfile.TemporaryDirectory() as d:
        mdl.save(Path(d) / "t.keras")
        with keras_h5(Path(d) / "t.keras") as f:
            ov = [f[f"optimizer/vars/{i}"][()] for i in range(len(f["optimizer/vars"]))]
    res = [f"optimizer/vars count {len(ov)} for {len(mdl.trainable_variables)} trainable vars; "
           f"vars/0 = {ov[0]} (iteration), vars/1 = {float(ov[1]):.1e} (learning_rate)"]
    for k, v in enumerate(mdl.trainable_variables):
        m, vv = ov[2 + 2 * k], ov[3 + 2 * k]
        ratio = np.median(vv / np.maximum(m * m, 1e-30))
        res.append(f"{v.path}: vars/{2 + 2 * k} & vars/{3 + 2 * k}: v/m^2 = {ratio:.4f} (0.1 => m first, then v)")
    return res


def _layer_shapes(h5):
    """{dataset path: shape} of the model weights (layers/...) in an open .weights.h5."""
    out = {}
    h5["layers"].visititems(lambda n, o: out.__setitem__(n, o.shape) if isinstance(o, h5py.Dataset) else None)
    return out


def small_model_mismatch(weights, fixture=OUT / "seed_small.keras"):
    """None when every weight of `weights` has the path and shape of the small test model's (the committed
    seed_small.keras), else a one-line reason. Needs only h5py: --check-export builds that one model, so a
    file of any other model (e.g. a user's seed-size run) is refused here rather than failing inside Keras."""
    with zipfile.ZipFile(fixture) as z, h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as ref:
        want = _layer_shapes(ref)
    with h5py.File(weights, "r") as f:
        if "layers" not in f:
            return f"{weights}: no layers/ group: not a Keras 3 .weights.h5"
        got = _layer_shapes(f)
    for path in sorted(want):
        if path not in got:
            return f"{weights}: layers/{path} missing"
        if got[path] != want[path]:
            return f"{weights}: layers/{path} has shape {got[path]}, the small test model's is {want[path]}"
    extra = sorted(set(got) - set(want))
    return f"{weights}: layers/{extra[0]} is not in the small test model" if extra else None


def check_export(keras, weights, expected):
    """Manual round trip of `gesture export-keras` (not run by ctest: needs Keras): build the small seed
    model in Keras, model.load_weights(the exported file), predict, compare with the stored predictions."""
    import warnings
    why = small_model_mismatch(weights)
    if why:
        print(f"check-export: FAIL: {why} (--check-export checks exports of the small test model only: "
              f"T={T}, S={S}, alpha={ALPHA}, tests/fixtures/keras/seed_small.keras)")
        return False
    with h5py.File(weights, "r") as f:
        n_opt = len(f["optimizer/vars"]) if "optimizer/vars" in f else 0
    model, _ = build_seed_model(keras)
    if n_opt:  # Adam state in the file: Keras loads it only into a built optimizer
        model.optimizer.build(model.trainable_variables)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.load_weights(weights)
    skipped = [str(w.message) for w in caught if "Skipping variable loading" in str(w.message)]
    ok = True
    with h5py.File(expected, "r") as f:
        for tag in ("unit", "sym"):
            p = np.asarray(model.predict(f[f"x_{tag}"][()], verbose=0))
            d = float(np.abs(p - f[f"probs_{tag}"][()]).max())
            good = d < 1e-5
            ok &= good
            print(f"  {'ok  ' if good else 'FAIL'} probs_{tag}: max |keras(load_weights) - stored| = {d:.2e}")
    if n_opt:
        ov = model.optimizer.variables
        with h5py.File(weights, "r") as f:
            same = len(ov) == n_opt and all(np.array_equal(np.asarray(v), f[f"optimizer/vars/{i}"][()])
                                            for i, v in enumerate(ov))
        ok &= same and not skipped
        print(f"  {'ok  ' if same and not skipped else 'FAIL'} optimizer: {len(ov)} Keras Adam variables == the "
              f"file's {n_opt} (iterations {int(model.optimizer.iterations)}){'; ' + skipped[0] if skipped else ''}")
    else:
        print(f"  note: no optimizer state in the file{' (Keras: ' + skipped[0][:80] + '...)' if skipped else ''}")
    print("check-export: " + ("PASS" if ok else "FAIL"))
    return ok


def main():
    import keras
    from keras import layers
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--force", action="store_true", help="regenerate even if every output exists")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--facts", action="store_true", help="also print format facts (Adam slots, zip)")
    ap.add_argument("--check-export", type=Path, metavar="FILE.weights.h5",
                    help="only check that Keras loads this `gesture export-keras` file of the small test model "
                         f"(T={T}, S={S}, alpha={ALPHA}: tests/fixtures/keras/seed_small.keras imported) and "
                         "reproduces --expected's predictions; a file of any other model is refused")
    ap.add_argument("--expected", type=Path, default=OUT / "seed_small_expected.h5",
                    help="predictions to compare with (default: the committed seed_small_expected.h5)")
    args = ap.parse_args()
    if args.check_export:
        sys.exit(0 if check_export(keras, args.check_export, args.expected) else 1)
    import jax
    print(f"make_keras_fixtures: keras {keras.__version__}, jax {jax.__version__}, backend {keras.backend.backend()}")
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    if args.force or not all((out / f).exists() for f in OUTPUTS):
        tmp = Path(tempfile.mkdtemp())
        try:
            info = make_seed(keras, layers, out, tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        rows, _ = make_backbone(keras, layers, out)
        print(f"seed_small: {len(info['rows'])} weights; {info['stats']}")
        print("seed_small.keras h5 datasets (abbreviated):")
        for r in info["rows"][:6] + info["rows"][-16:]:
            print(f"  {r['h5_path']:<62} {r['keras_layer']:<28} {r['keras_var']:<16} {r['shape']}")
        print("differences from the docs/formats.md path table / name-attr checks:" + ("" if info["notes"] else " none"))
        for n in info["notes"]:
            print("  " + n)
        print("vars-group `name` attrs (non-backbone):")
        for p, n in sorted(info["name_attrs"].items()):
            if "/layer/layers/" not in p:
                print(f"  {p}: {n}")
        print("optimizer datasets in seed_small.keras:", [p for p in info["dset_paths"] if p.startswith("optimizer")])
        print("legacy .h5 save of the whole seed model:")
        for fact in info["legacy"]:
            print("  " + fact[:400])
        print(f"backbone: {len(rows)} legacy weights; first rows:")
        for r in rows[:6]:
            print(f"  {r['path_a']:<40} {r['path_c']:<55} {r['shape']}")
        args.facts = True
    else:
        print("make_keras_fixtures: all outputs present (use --force to regenerate); checking them")
        if keras.__version__ != PINS[0].split("==")[1]:
            print(f"make_keras_fixtures: note: the committed files need {PINS[0]} to reload (older Keras "
                  "cannot read their config.json); regenerate with --force --out DIR instead")
    if args.facts:
        print("zip members of seed_small.keras:")
        for z in zip_facts(out / "seed_small.keras"):
            print("  " + z)
        print("Adam slot order in .keras optimizer/vars:")
        for fact in adam_slot_order(keras, layers):
            print("  " + fact)
    print("checks:")
    ok = check_all(keras, layers, out)
    for f in OUTPUTS:
        print(f"  {f}: {(out / f).stat().st_size / 1e6:.2f} MB")
    print(f"  total: {sum((out / f).stat().st_size for f in OUTPUTS) / 1e6:.2f} MB")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
