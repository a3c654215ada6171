#!/usr/bin/python3
"""PNG and resize fixtures for tests/test_png.c, written by encoders independent of libpng.

OUT/png/ok_<name>.png   every colour type / bit depth / interlace variant. Written with PIL where
                        PIL can write the flavour, otherwise with the small zlib-based encoder below
                        (PIL cannot write 2/4-bit gray, 16-bit RGB(A), gray+alpha 16 or Adam7).
                        The encoder's files are cross-checked by decoding them with PIL.
OUT/png/expected.h5     /<name> (H,W,3) uint8: the RGB8 pixels a correct decoder must produce
                        (alpha dropped, 16-bit scaled by round(v*255/65535), palette expanded).
OUT/png/bad_<kind>.png  one file per kind of broken input (tests check each message).
OUT/resize_ref.h5       bilinear resize references from PyTorch (F.interpolate / grid_sample,
                        align_corners=False, border clamping) in float64: /src_K (H,W,3) uint8,
                        /out_K (out_h,out_w,3) in [0,1], /params_K [x0,y0,cw,ch,flip,out_w,out_h].
"""
import argparse
import io
import os
import struct
import zlib

import h5py
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


def chunk(tag, data):
    body = tag + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def filter_rows(raw_rows, bpp, ftypes):
    """Apply PNG filters (cycling through ftypes) to byte rows; returns the filtered stream."""
    out = bytearray()
    prev = bytes(len(raw_rows[0])) if raw_rows else b""
    for r, row in enumerate(raw_rows):
        ft = ftypes[r % len(ftypes)]
        f = bytearray(len(row))
        for i in range(len(row)):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][ft]
            f[i] = (row[i] - pred) & 0xFF
        out.append(ft)
        out += f
        prev = row
    return bytes(out)


def pack_rows(samples, depth):
    """samples: (H, W*channels) ints → list of packed big-endian byte rows."""
    rows = []
    for line in samples:
        if depth == 16:
            rows.append(b"".join(struct.pack(">H", int(v)) for v in line))
        elif depth == 8:
            rows.append(bytes(int(v) for v in line))
        else:
            per = 8 // depth
            b = bytearray((len(line) + per - 1) // per)
            for i, v in enumerate(line):
                b[i // per] |= int(v) << (8 - depth * (i % per + 1))
            rows.append(bytes(b))
    return rows


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def encode_png(samples, depth, color_type, interlace=False, palette=None, trns=None,
               ftypes=(0, 1, 2, 3, 4)):
    """samples: (H, W, channels) ints. Our own encoder, independent of libpng and PIL."""
    h, w, ch = samples.shape
    bpp = max(1, ch * depth // 8)
    data = b""
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    for (x0, y0, dx, dy) in passes:
        sub = samples[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue
        rows = pack_rows(sub.reshape(sub.shape[0], -1), depth)
        data += filter_rows(rows, bpp, ftypes)
    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 1 if interlace else 0))
    if palette is not None:
        png += chunk(b"PLTE", bytes(np.asarray(palette, np.uint8).reshape(-1)))
    if trns is not None:
        png += chunk(b"tRNS", trns)
    png += chunk(b"IDAT", zlib.compress(data, 6))
    png += chunk(b"IEND", b"")
    return png


def scale16(v):
    # Exact round(v * 255 / 65535), the value libpng's png_set_scale_16 computes.
    return ((v.astype(np.int64) * 255 + 32895) >> 16).astype(np.uint8)


def test_image(rng, h, w):
    """Structured content (gradients, edges) plus noise, so every filter and position matters."""
    y, x = np.mgrid[0:h, 0:w]
    r = (x * 255 // max(1, w - 1))
    g = (y * 255 // max(1, h - 1))
    b = ((x // 3 + y // 2) % 2) * 200 + 20
    img = np.stack([r, g, b], -1) + rng.integers(-20, 21, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def write_variants(out, rng):
    exp = {}

    def save_pil(name, im, expected, **kw):
        im.save(os.path.join(out, f"ok_{name}.png"), **kw)
        exp[name] = expected

    def save_own(name, data, expected, check_pil=True):
        path = os.path.join(out, f"ok_{name}.png")
        with open(path, "wb") as f:
            f.write(data)
        if check_pil:  # our encoder must agree with PIL's decoder
            got = np.asarray(Image.open(path).convert("RGB"))
            assert np.array_equal(got, expected), f"{name}: PIL disagrees with our encoder"
        exp[name] = expected

    H, W = 23, 37  # odd sizes: partial bytes at low bit depths, partial Adam7 passes
    rgb = test_image(rng, H, W)
    alpha = rng.integers(0, 256, (H, W), dtype=np.uint8)
    gray = rgb[..., 1]

    # --- PIL-written ---
    save_pil("rgb8", Image.fromarray(rgb, "RGB"), rgb)
    save_pil("rgba8", Image.fromarray(np.dstack([rgb, alpha]), "RGBA"), rgb)
    save_pil("gray8", Image.fromarray(gray, "L"), np.dstack([gray] * 3))
    save_pil("gray_alpha8", Image.fromarray(np.dstack([gray, alpha]), "LA"), np.dstack([gray] * 3))
    bw = (gray > 128)
    save_pil("gray1", Image.fromarray(bw).convert("1"), np.dstack([bw.astype(np.uint8) * 255] * 3))
    pal = rng.integers(0, 256, (256, 3), dtype=np.uint8)
    idx = rng.integers(0, 256, (H, W), dtype=np.uint8)
    pim = Image.fromarray(idx, "P")
    pim.putpalette(pal.reshape(-1).tolist())
    save_pil("palette8", pim, pal[idx])
    pim_t = Image.fromarray(idx, "P")
    pim_t.putpalette(pal.reshape(-1).tolist())
    save_pil("palette8_trns", pim_t, pal[idx], transparency=bytes(rng.integers(0, 256, 256, dtype=np.uint8)))
    save_pil("gray8_trns", Image.fromarray(gray, "L"), np.dstack([gray] * 3), transparency=int(gray[0, 0]))
    save_pil("rgb8_trns", Image.fromarray(rgb, "RGB"), rgb, transparency=tuple(int(c) for c in rgb[0, 0]))
    g16 = rng.integers(0, 65536, (H, W), dtype=np.uint16)
    save_pil("gray16", Image.fromarray(g16.astype(np.uint16), "I;16"), np.dstack([scale16(g16)] * 3))
    save_pil("rgb8_tiny", Image.fromarray(rgb[:1, :1], "RGB"), rgb[:1, :1])
    wide = test_image(rng, 1, 1001)
    save_pil("rgb8_wide", Image.fromarray(wide, "RGB"), wide)

    # --- our encoder (flavours PIL cannot write) ---
    for depth in (2, 4):
        v = rng.integers(0, 1 << depth, (H, W, 1))
        e = (v[..., 0] * (255 // ((1 << depth) - 1))).astype(np.uint8)
        save_own(f"gray{depth}", encode_png(v, depth, 0), np.dstack([e] * 3))
    for depth in (1, 2, 4):
        n = 1 << depth
        p = rng.integers(0, 256, (n, 3), dtype=np.uint8)
        v = rng.integers(0, n, (H, W, 1))
        save_own(f"palette{depth}", encode_png(v, depth, 3, palette=p), p[v[..., 0]])
    rgb16 = rng.integers(0, 65536, (H, W, 3))
    save_own("rgb16", encode_png(rgb16, 16, 2), scale16(rgb16), check_pil=False)
    rgba16 = rng.integers(0, 65536, (H, W, 4))
    save_own("rgba16", encode_png(rgba16, 16, 6), scale16(rgba16[..., :3]), check_pil=False)
    ga16 = rng.integers(0, 65536, (H, W, 2))
    save_own("gray_alpha16", encode_png(ga16, 16, 4), np.dstack([scale16(ga16[..., 0])] * 3),
             check_pil=False)
    save_own("rgb8_interlaced", encode_png(rgb.astype(int), 8, 2, interlace=True), rgb)
    save_own("rgba8_interlaced", encode_png(np.dstack([rgb, alpha]).astype(int), 8, 6, interlace=True), rgb)
    v = rng.integers(0, 16, (H, W, 1))
    p = rng.integers(0, 256, (16, 3), dtype=np.uint8)
    save_own("palette4_interlaced", encode_png(v, 4, 3, interlace=True, palette=p), p[v[..., 0]])
    save_own("gray16_interlaced", encode_png(g16[..., None].astype(int), 16, 0, interlace=True),
             np.dstack([scale16(g16)] * 3), check_pil=False)
    g1 = rng.integers(0, 2, (H, W, 1))
    save_own("gray1_interlaced", encode_png(g1, 1, 0, interlace=True),
             np.dstack([(g1[..., 0] * 255).astype(np.uint8)] * 3))
    # 3x2 interlaced: several Adam7 passes are empty and must be skipped by the decoder.
    small = test_image(rng, 2, 3)
    save_own("rgb8_interlaced_small", encode_png(small.astype(int), 8, 2, interlace=True), small)

    with h5py.File(os.path.join(out, "expected.h5"), "w") as f:
        for k, v in exp.items():
            f[k] = np.ascontiguousarray(v, dtype=np.uint8)
    return rgb


def write_bad(out, rgb):
    """One file per kind of broken input; tests/test_png.c knows the message each must give."""
    good = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(good, "PNG")
    good = good.getvalue()
    ihdr = struct.pack(">IIBBBBB", 37, 23, 8, 2, 0, 0, 0)
    sig = b"\x89PNG\r\n\x1a\n"
    idat = zlib.compress(b"\x00" + bytes(37 * 3), 6)  # one row only: too little image data

    def put(name, data):
        with open(os.path.join(out, f"bad_{name}.png"), "wb") as f:
            f.write(data)

    put("empty", b"")
    put("not_png", b"GIF89a this is not a PNG file at all")
    put("short_signature", sig[:5])
    put("truncated_idat", good[: len(good) * 6 // 10])
    put("truncated_ihdr", good[:20])
    put("missing_iend", good[:-12])
    bad = bytearray(good)
    bad[18] ^= 0x01  # a width byte inside IHDR, CRC left as is
    put("crc_ihdr", bytes(bad))
    put("zero_width", sig + chunk(b"IHDR", struct.pack(">IIBBBBB", 0, 23, 8, 2, 0, 0, 0)) +
        chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    put("bad_depth", sig + chunk(b"IHDR", struct.pack(">IIBBBBB", 37, 23, 3, 2, 0, 0, 0)) +
        chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    put("huge", sig + chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)) +
        chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    put("no_idat", sig + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    put("short_idat", sig + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    put("no_plte", sig + chunk(b"IHDR", struct.pack(">IIBBBBB", 37, 23, 8, 3, 0, 0, 0)) +
        chunk(b"IDAT", zlib.compress(bytes(23 * 38), 6)) + chunk(b"IEND", b""))
    put("bad_zlib", sig + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"\x12\x34" + bytes(64)) + chunk(b"IEND", b""))
    rows = bytearray()
    for _ in range(23):
        rows += b"\x07" + bytes(37 * 3)  # filter type 7 does not exist
    put("bad_filter", sig + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(rows))) + chunk(b"IEND", b""))
    os.makedirs(os.path.join(out, "bad_directory.png"), exist_ok=True)


def torch_resize(src, out_w, out_h, x0=0.0, y0=0.0, cw=None, ch=None, flip=False):
    """Bilinear, half-pixel centres, border clamp, in float64 with PyTorch (independent of our C)."""
    h, w, _ = src.shape
    t = torch.from_numpy(src.astype(np.float64)).permute(2, 0, 1)[None]
    full = cw is None and not flip and x0 == 0 and y0 == 0
    if full:
        out = F.interpolate(t, size=(out_h, out_w), mode="bilinear", align_corners=False)
    else:
        # grid_sample's pixel coordinate is ((g+1)*W - 1)/2, so g = (2*s + 1)/W - 1 for source s.
        dx = torch.arange(out_w, dtype=torch.float64)
        if flip:
            dx = out_w - 1 - dx
        dy = torch.arange(out_h, dtype=torch.float64)
        sx = x0 + (dx + 0.5) * (cw / out_w) - 0.5
        sy = y0 + (dy + 0.5) * (ch / out_h) - 0.5
        gx = (2 * sx + 1) / w - 1
        gy = (2 * sy + 1) / h - 1
        grid = torch.stack(torch.meshgrid(gy, gx, indexing="ij")[::-1], -1)[None]
        out = F.grid_sample(t, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return (out[0].permute(1, 2, 0).numpy() / 255.0)


def write_resize(path, rng):
    cases = [  # (src h, w, out_w, out_h, x0, y0, cw, ch, flip)
        (120, 160, 224, 224, None),
        (360, 360, 224, 224, None),
        (360, 360, 64, 64, None),
        (23, 37, 96, 80, None),
        (7, 5, 3, 2, None),
        (120, 160, 224, 224, (12.5, 8.25, 140.0, 100.0, 0)),
        (360, 360, 96, 96, (30.0, -20.0, 300.0, 310.0, 1)),
        (120, 160, 64, 64, (-10.0, 5.0, 150.0, 130.0, 1)),
    ]
    with h5py.File(path, "w") as f:
        for k, (h, w, ow, oh, win) in enumerate(cases):
            src = test_image(rng, h, w)
            if win is None:
                out = torch_resize(src, ow, oh)
                params = [0, 0, w, h, 0, ow, oh]
            else:
                x0, y0, cw, ch, flip = win
                out = torch_resize(src, ow, oh, x0, y0, cw, ch, bool(flip))
                params = [x0, y0, cw, ch, flip, ow, oh]
            f[f"src_{k}"] = src
            f[f"out_{k}"] = out
            f[f"params_{k}"] = np.asarray(params, np.float64)
        f["count"] = np.asarray([len(cases)], np.int32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    rng = np.random.default_rng(20240611)
    png_dir = os.path.join(args.out, "png")
    os.makedirs(png_dir, exist_ok=True)
    rgb = write_variants(png_dir, rng)
    write_bad(png_dir, rgb)
    write_resize(os.path.join(args.out, "resize_ref.h5"), rng)
    print(f"make_png_fixtures: wrote {png_dir} and resize_ref.h5")


if __name__ == "__main__":
    main()
