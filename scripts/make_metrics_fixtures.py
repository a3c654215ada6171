#!/usr/bin/python3
"""Fixtures for tests/test_metrics.c, straight from scikit-learn and CPython.

metrics_fixtures.txt: sklearn.metrics.classification_report text for fixed label vectors, called as
    classification_report(y_true, y_pred, labels=range(K), target_names=names, digits=d)
(zero_division left at "warn", warnings silenced). Plain-text records:
    case NAME / digits D / classes K / name NAME (K lines) / n N / y_true ... / y_pred ... /
    report NBYTES, then exactly NBYTES bytes of report text and a newline / end
float_repr_fixtures.txt: one line per float64: 16 hex digits of its bits, a space, repr(x).
"""
import argparse
import os
import random
import struct
import sys
import warnings

import numpy as np
import sklearn
from sklearn.metrics import classification_report

GESTURES = ["Left_Swipe", "Right_Swipe", "Stop", "Thumbs_Down", "Thumbs_Up"]


def noisy(rng, y_true, K, acc):
    return [t if rng.random() < acc else rng.randrange(K) for t in y_true]


def cases():
    rng = random.Random(20240607)
    out = []
    # sklearn's docstring example.
    out.append(("docstring", ["class 0", "class 1", "class 2"], [0, 1, 2, 2, 2], [0, 0, 2, 2, 1], 2))
    yt = [rng.randrange(5) for _ in range(40)]
    yp = noisy(rng, yt, 5, 0.75)
    out.append(("gestures_40_d2", GESTURES, yt, yp, 2))
    out.append(("gestures_40_d4", GESTURES, yt, yp, 4))
    # Class 3 (Thumbs_Down) is never predicted: precision 0/0 -> 0.00.
    yt = [0, 1, 2, 3, 4, 3, 3, 0, 1, 2, 4, 4]
    yp = [0, 1, 2, 2, 4, 0, 1, 0, 1, 2, 4, 0]
    out.append(("no_predictions", GESTURES, yt, yp, 2))
    # Class 4 (Thumbs_Up) never occurs in y_true but is predicted: recall 0/0 -> 0.00, support 0.
    yt = [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]
    yp = [0, 1, 4, 3, 4, 1, 2, 3, 0, 4]
    out.append(("absent_from_true", GESTURES, yt, yp, 2))
    out.append(("absent_from_true_d4", GESTURES, yt, yp, 4))
    # Class 2 (Stop) occurs nowhere: sklearn <= 1.2 prints "micro avg" for "accuracy" here.
    yt = [0, 1, 3, 4, 0, 1, 3, 4, 4]
    yp = [0, 1, 3, 4, 1, 1, 3, 0, 4]
    out.append(("absent_from_both", GESTURES, yt, yp, 2))
    out.append(("binary", ["neg", "pos"], [0, 0, 1, 1, 1, 0, 1], [0, 1, 1, 1, 0, 0, 1], 2))
    out.append(("perfect", GESTURES, [0, 1, 2, 3, 4, 4], [0, 1, 2, 3, 4, 4], 2))
    out.append(("all_wrong", ["a", "b"], [0, 0, 1], [1, 1, 0], 2))
    out.append(("single_class", ["only"], [0, 0, 0], [0, 0, 0], 3))
    # Values on exact rounding ties (0.625, 0.125, 0.375 ...), at 2 digits.
    for i in range(6):
        n = 8 * (i + 1)
        yt = [rng.randrange(3) for _ in range(n)]
        out.append((f"ties_{n}", ["x", "y", "z"], yt, noisy(rng, yt, 3, 0.6), 2))
    # Column widths: digits, long and non-ASCII names.
    yt = [rng.randrange(4) for _ in range(30)]
    yp = noisy(rng, yt, 4, 0.7)
    for d in (0, 1, 3, 13):
        out.append((f"digits_{d}", ["w", "x", "y", "z"], yt, yp, d))
    out.append(("long_names", ["Thumbs_Down_long_class_name", "b", "Stop", "Z"], yt, yp, 2))
    out.append(("unicode_names", ["Daumen_hoch_\u00fc\u00df", "\u00e9", "Stop", "Ende"], yt, yp, 2))
    # Many classes: NumPy's pairwise sums (8 accumulators from 8 classes, split above 128).
    for K, n in ((8, 200), (13, 400), (20, 500), (150, 3000)):
        yt = [rng.randrange(K) for _ in range(n)]
        names = [f"class_{k}" for k in range(K)]
        out.append((f"classes_{K}", names, yt, noisy(rng, yt, K, 0.55), 2))
        out.append((f"classes_{K}_d4", names, yt, noisy(rng, yt, K, 0.55), 4))
    # Random small cases.
    for i in range(40):
        K = rng.randrange(2, 7)
        n = rng.randrange(K, 60)
        yt = [rng.randrange(K) for _ in range(n)]
        yp = noisy(rng, yt, K, rng.random())
        # Keep every class present somewhere so that all sklearn versions agree on the rows.
        if set(yt) | set(yp) != set(range(K)):
            yt += list(range(K))
            yp += list(range(K))
        out.append((f"random_{i}", [f"c{k}" for k in range(K)], yt, yp, rng.choice([2, 2, 3, 4])))
    return out


def write_reports(path):
    with open(path, "wb") as f:
        f.write(f"# classification_report fixtures, sklearn {sklearn.__version__}, "
                f"numpy {np.__version__}, Python {sys.version.split()[0]}\n".encode())
        for name, names, yt, yp, digits in cases():
            K = len(names)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rep = classification_report(yt, yp, labels=list(range(K)), target_names=names,
                                            digits=digits)
            body = rep.encode("utf-8")
            f.write(f"case {name}\ndigits {digits}\nclasses {K}\n".encode())
            for nm in names:
                f.write(f"name {nm}\n".encode("utf-8"))
            f.write(f"n {len(yt)}\n".encode())
            f.write(("y_true " + " ".join(map(str, yt)) + "\n").encode())
            f.write(("y_pred " + " ".join(map(str, yp)) + "\n").encode())
            f.write(f"report {len(body)}\n".encode())
            f.write(body + b"\nend\n")


def repr_values():
    rng = random.Random(7)
    f32 = lambda x: float(np.float32(x))  # noqa: E731
    v = [0.0, -0.0, float("inf"), float("-inf"), float("nan"), 5e-324, -5e-324,
         2.2250738585072014e-308, 2.225073858507201e-308, 1.7976931348623157e308,
         0.5, 1.0, 2.0, 10.0, 100.0, 1e-3, 1e-4, 1e-5, 1e-7, 9.999999999999999e-05, 1e15, 1e16,
         9999999999999998.0, 1e17, 123456789012345678.0, 1234567890123456.8, 0.1, 0.2, 0.1 + 0.2,
         1 / 3, 2 / 3, 1e22, 1e23, 5e-5, 0.00012345, 123.456, 4.35, 0.3, 2.5e-10, 1e100, 1e-100]
    for base in (1e-3, 1e-4, 1e-7):
        x = np.float32(base)
        for _ in range(16):
            v.append(float(x))
            x = np.float32(max(float(x) * 0.5, 1e-7))
    v += [f32(0.1 * k) for k in range(1, 30)]
    v += [2.0 ** e for e in range(-1074, 1024)]
    v += [f32(rng.uniform(0, 3)) for _ in range(800)]  # losses and accuracies as Keras logs them
    v += [f32(10 ** rng.uniform(-12, 12)) for _ in range(400)]
    v += [struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0] for _ in range(2000)]
    v += [-x for x in v[:200]]
    return v


def write_reprs(path):
    with open(path, "w") as f:
        for x in repr_values():
            bits = struct.unpack("<Q", struct.pack("<d", x))[0]
            f.write(f"{bits:016x} {x!r}\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="fixture directory")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    write_reports(os.path.join(args.out, "metrics_fixtures.txt"))
    write_reprs(os.path.join(args.out, "float_repr_fixtures.txt"))


if __name__ == "__main__":
    main()
