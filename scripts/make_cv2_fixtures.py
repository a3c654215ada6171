#!/usr/bin/env python3
"""Writes tests/fixtures/cv2/: frames of both sizes the gesture data set has (160x120, 360x360) and what
OpenCV's cv2.resize(frame, (S, S), interpolation=cv2.INTER_LINEAR) makes of them, so test_resize_cv2
checks gesture's data.resize = cv2 bit for bit without OpenCV.

Run with any python3 >= 3.9:   python3 scripts/make_cv2_fixtures.py [--force]
It creates .venv-cv2/ in the repo root (gitignored) when missing, pip-installs the pinned opencv-python-
headless + numpy there and re-executes itself inside it. Without --force, with every file present, it
recomputes everything and only checks the committed files (exit 1 on a difference): no git churn.

Outputs (RGB PNGs; cv2 works in BGR, the pixels are the same bytes per channel):
  frame_160x120.png, frame_360x360.png        the inputs: smooth gradients, hard edges, a noise patch
  cv2_<W>x<H>_to_<S>.png                       cv2.resize of frame_<W>x<H>.png to SxS, S in SIZES
SIZES: 224 and 96 (the seed's size and the test model's), 42 and 34 (rows that are no multiple of 16
bytes: the last bytes of OpenCV's SIMD loop), 180 from 360x360 (an exact 2x downscale: INTER_AREA's fast
path inside cv2.resize).
"""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("CV2_FIXTURE_VENV", REPO / ".venv-cv2"))
OUT = REPO / "tests" / "fixtures" / "cv2"
# opencv-python-headless 4.10 (mid 2024, what a tensorflow 2.15-2.17 seed stack installs); 4.8.1.78 and
# 5.0.0.93 give the same bytes on these files (checked when the fixtures were made).
PINS = ["opencv-python-headless==4.10.0.84", "numpy==2.2.6"]
SIZES = {(160, 120): [224, 96, 42, 34], (360, 360): [224, 96, 42, 180]}


def bootstrap():
    py = VENV / "bin" / "python"
    if not py.exists():
        print("make_cv2_fixtures: creating %s" % VENV, file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    check = "import cv2, numpy; print(cv2.__version__, numpy.__version__)"
    out = subprocess.run([str(py), "-c", check], capture_output=True, text=True)
    want = "%s %s" % ("4.10.0", PINS[1].split("==")[1])
    if out.returncode != 0 or out.stdout.strip() != want:
        print("make_cv2_fixtures: pip install %s" % " ".join(PINS), file=sys.stderr)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check"] + PINS, check=True)
    os.execv(str(py), [str(py), __file__] + sys.argv[1:] + ["--in-venv"])


if "--in-venv" not in sys.argv:
    bootstrap()

import cv2  # noqa: E402
import numpy as np  # noqa: E402


def make_frame(w, h, seed):
    """Deterministic RGB frame: gradients, shapes with hard edges, a patch of noise (small as PNG)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([255 * xx / (w - 1), 255 * yy / (h - 1), 127.5 + 127.5 * np.sin((xx + 2 * yy) / 9.0)], -1)
    img = np.clip(np.round(img), 0, 255).astype(np.uint8)
    for _ in range(6):
        x0, y0 = int(rng.integers(0, w - 8)), int(rng.integers(0, h - 8))
        x1, y1 = x0 + int(rng.integers(4, w // 3)), y0 + int(rng.integers(4, h // 3))
        img[y0:y1, x0:x1] = rng.integers(0, 256, 3, dtype=np.uint8)
    for _ in range(3):
        c = tuple(int(v) for v in rng.integers(0, 256, 3))
        cv2.circle(img, (int(rng.integers(0, w)), int(rng.integers(0, h))), int(rng.integers(5, h // 4)), c, -1)
    pw, ph = w // 5, h // 5
    img[h - ph - 2:h - 2, 2:2 + pw] = rng.integers(0, 256, (ph, pw, 3), dtype=np.uint8)
    img[0, :] = rng.integers(0, 256, (w, 3), dtype=np.uint8)  # the border rows/columns carry detail too
    img[:, -1] = rng.integers(0, 256, (h, 3), dtype=np.uint8)
    return img


def png_write(path, rgb):
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    assert ok
    path.write_bytes(buf.tobytes())


def png_read(path):
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_UNCHANGED), cv2.COLOR_BGR2RGB)


def main():
    force = "--force" in sys.argv
    OUT.mkdir(parents=True, exist_ok=True)
    files = {}
    for i, ((w, h), sizes) in enumerate(SIZES.items()):
        frame = make_frame(w, h, 100 + i)
        files["frame_%dx%d.png" % (w, h)] = frame
        for s in sizes:
            files["cv2_%dx%d_to_%d.png" % (w, h, s)] = cv2.resize(frame, (s, s), interpolation=cv2.INTER_LINEAR)
    present = all((OUT / n).exists() for n in files)
    bad = 0
    for name, px in files.items():
        p = OUT / name
        if force or not present:
            png_write(p, px)
        got = png_read(p)
        if got.shape != px.shape or not np.array_equal(got, px):
            print("make_cv2_fixtures: %s differs from cv2 %s's result" % (p, cv2.__version__))
            bad += 1
    total = sum(f.stat().st_size for f in OUT.glob("*.png"))
    print("make_cv2_fixtures: %s %d files (%d KB) in %s with cv2 %s: %s" %
          ("wrote" if force or not present else "checked", len(files), total // 1024, OUT, cv2.__version__,
           "ok" if not bad else "%d differ" % bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.argv = [a for a in sys.argv if a != "--in-venv"]
    sys.exit(main())
