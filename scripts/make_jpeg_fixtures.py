#!/usr/bin/python3
"""JPEG fixtures for tests/test_jpeg.c: good files of many flavours with the pixels libjpeg-turbo's own
djpeg decodes them to, and one broken file per kind of damage.

OUT/jpeg/ok_<name>.jpg  written by PIL (baseline 4:2:0 / 4:2:2 / 4:4:4, progressive, grayscale, odd
                        sizes, quality 50 and 100, optimized Huffman tables, APPn segments over
                        64 KiB) or by cjpeg (restart markers, arithmetic coding, 4:4:0, 4:1:1, 3x1 and
                        mixed chroma sampling, progressive grayscale), both on the system libjpeg-turbo.
OUT/jpeg/ok_jpeg_named_png.png, ok_png_named_jpg.jpg   content, not the name, decides the format.
OUT/jpeg/expected.h5    /<name> (H,W,3) uint8: djpeg's output (accurate IDCT, fancy upsampling, the
                        library defaults), gray replicated to RGB; PIL's decode is checked against it.
OUT/jpeg/bad_<kind>.*   one file per kind of broken input (tests/test_jpeg.c checks each message).
Needs cjpeg and djpeg (libjpeg-turbo-progs, installed by scripts/setup.sh).
"""
import argparse
import io
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import h5py
import numpy as np
from PIL import Image, features


def test_image(rng, h, w):
    """Smooth gradients, hard edges and noise: every DCT frequency and chroma position matters."""
    y, x = np.mgrid[0:h, 0:w]
    r = x * 255 // max(1, w - 1)
    g = y * 255 // max(1, h - 1)
    b = ((x // 5 + y // 3) % 2) * 180 + 40
    img = np.stack([r, g, b], -1) + rng.integers(-25, 26, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def djpeg(path):
    """libjpeg-turbo's reference decode of path as (H,W,3) uint8 (gray replicated)."""
    out = subprocess.run(["djpeg", "-pnm", path], check=True, capture_output=True).stdout
    im = np.asarray(Image.open(io.BytesIO(out)))
    return np.dstack([im] * 3) if im.ndim == 2 else im


def cjpeg(dst, rgb, *args):
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "in.ppm")
        Image.fromarray(rgb).save(src)
        subprocess.run(["cjpeg", *args, "-outfile", dst, src], check=True)


def write_good(out, rng):
    exp = {}
    rgb = test_image(rng, 121, 161)
    pil = {  # name: (image, PIL save options)
        "baseline_420": (rgb, dict(quality=90, subsampling=2)),
        "s422": (rgb, dict(quality=90, subsampling=1)),
        "s444": (rgb, dict(quality=90, subsampling=0)),
        "progressive": (rgb, dict(quality=90, progressive=True)),
        "gray": (rgb[..., 1], dict(quality=90)),
        "tiny_1x1": (rgb[:1, :1], dict(quality=90)),
        "odd_17x9": (rgb[:9, :17], dict(quality=90, subsampling=2)),
        "q50": (rgb, dict(quality=50)),
        "q100": (rgb, dict(quality=100, subsampling=0)),
        "optimized": (rgb, dict(quality=85, optimize=True)),
        # ICC profile split over APP2 segments (~200 KB): the header read must look past 64 KiB
        "big_header": (rgb, dict(quality=90, icc_profile=bytes(rng.integers(0, 256, 200000, dtype=np.uint8)))),
    }
    for name, (im, kw) in pil.items():
        path = os.path.join(out, f"ok_{name}.jpg")
        Image.fromarray(im).save(path, "JPEG", **kw)
        exp[name] = djpeg(path)
        got = np.asarray(Image.open(path).convert("RGB"))
        assert np.array_equal(got, exp[name]), f"{name}: PIL's decode differs from djpeg's"
    small = rgb[:37, :53]
    for name, args in {"restart_rows": ["-restart", "1"], "restart_blocks": ["-restart", "3B", "-sample", "1x1"],
                       "arithmetic": ["-arithmetic"], "s440": ["-sample", "1x2"], "s411": ["-sample", "4x1"],
                       "progressive_gray": ["-grayscale", "-progressive"],
                       # chroma sampling TurboJPEG 2.x has no TJSAMP_* name for; libjpeg decodes it
                       "s3x1": ["-sample", "3x1"], "mixed_chroma": ["-sample", "2x2,1x1,2x1"]}.items():
        path = os.path.join(out, f"ok_{name}.jpg")
        cjpeg(path, small, "-quality", "88", *args)
        exp[name] = djpeg(path)
    # Content decides: a JPEG named .png, a PNG named .jpg.
    shutil.copy(os.path.join(out, "ok_baseline_420.jpg"), os.path.join(out, "ok_jpeg_named_png.png"))
    exp["jpeg_named_png"] = exp["baseline_420"]
    Image.fromarray(small).save(os.path.join(out, "ok_png_named_jpg.jpg"), "PNG")
    exp["png_named_jpg"] = small
    with h5py.File(os.path.join(out, "expected.h5"), "w") as f:
        f.attrs["libjpeg"] = features.version("jpg") or "?"
        for k, v in exp.items():
            f[k] = np.ascontiguousarray(v, dtype=np.uint8)
    return rgb


def segments(data):
    """(marker, offset of the marker, offset after the segment) of each segment before the scan data."""
    i, out = 2, []
    while i < len(data):
        m = data[i + 1]
        n = struct.unpack(">H", data[i + 2:i + 4])[0]
        out.append((m, i, i + 2 + n))
        if m == 0xDA:
            break
        i += 2 + n
    return out


def write_bad(out, rgb):
    """One file per kind of broken input; tests/test_jpeg.c knows the message each must give."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=90)
    good = buf.getvalue()
    seg = segments(good)
    sof = next(s for s in seg if s[0] == 0xC0)
    dqt = next(s for s in seg if s[0] == 0xDB)
    scan = seg[-1][2]  # first byte of entropy-coded data

    def put(name, data, ext="jpg"):
        with open(os.path.join(out, f"bad_{name}.{ext}"), "wb") as f:
            f.write(data)

    put("empty", b"")
    put("not_image", b"GIF89a this is not a JPEG file at all")
    put("soi_only", good[:3])
    put("truncated_header", good[:dqt[1] + 20])       # inside the quantization table
    put("truncated_tables", good[:seg[-1][1] - 10])   # frame header read, cut inside the last table
    put("truncated_at_scan", good[:scan])             # headers complete, no scan data
    put("truncated_half", good[:(scan + len(good)) // 2])
    put("no_eoi", good[:-2])                          # every scan byte, EOI missing
    lossless = bytearray(good)
    lossless[sof[1] + 1] = 0xC3
    put("sof_lossless", bytes(lossless))
    bogus = bytearray(good)
    bogus[dqt[1] + 2:dqt[1] + 4] = b"\x00\x02"      # a DQT segment with no table
    put("marker_length", bytes(bogus))
    ent = bytearray(good)
    mid = (scan + len(good)) // 2
    ent[mid:mid + 64] = b"\xff\x00" * 32              # 512 one-bits: no Huffman code is all ones
    put("entropy", bytes(ent))
    huge = bytearray(good)
    huge[sof[1] + 5:sof[1] + 9] = struct.pack(">HH", 20000, 20000)  # height, width
    put("huge", bytes(huge))
    zero = bytearray(good)
    zero[sof[1] + 7:sof[1] + 9] = b"\x00\x00"
    put("zero_width", bytes(zero))
    cmyk = io.BytesIO()
    Image.fromarray(np.dstack([rgb, rgb[..., :1]]), "CMYK").save(cmyk, "JPEG", quality=90)
    put("cmyk", cmyk.getvalue())
    png = io.BytesIO()
    Image.fromarray(rgb).save(png, "PNG")
    put("png_truncated", png.getvalue()[:len(png.getvalue()) // 2])  # a PNG's error, though named .jpg
    os.makedirs(os.path.join(out, "bad_directory.jpg"), exist_ok=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    for tool in ("cjpeg", "djpeg"):
        if not shutil.which(tool):
            sys.exit(f"make_jpeg_fixtures: {tool} not found (apt-get install libjpeg-turbo-progs; scripts/setup.sh)")
    rng = np.random.default_rng(20240612)
    jpeg_dir = os.path.join(args.out, "jpeg")
    os.makedirs(jpeg_dir, exist_ok=True)
    rgb = write_good(jpeg_dir, rng)
    write_bad(jpeg_dir, rgb)
    print(f"make_jpeg_fixtures: wrote {jpeg_dir}")


if __name__ == "__main__":
    main()
