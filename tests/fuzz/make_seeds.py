#!/usr/bin/env python3
"""Small HDF5 / .keras seeds for the checkpoint and Keras fuzz targets (tests/fuzz/corpus/).

Each input keeps its groups, attributes, dataset names, shapes and dtypes, but datasets of more
than 64 elements become gzip-compressed zeros (valid weights, finite Adam moments), so a 2-6 MB
file shrinks to a few tens of KB. A .keras zip gets the same treatment for its model.weights.h5.
  /usr/bin/python3 tests/fuzz/make_seeds.py OUT_DIR INPUT...   (e.g. a runs/*/checkpoints/last.h5
  written by `gesture train`, tests/fixtures/keras/*.h5, tests/fixtures/keras/seed_small.keras)
"""
import io
import os
import sys
import tempfile
import zipfile

import h5py
import numpy as np


def copy_attrs(src, dst):
    for k, v in src.attrs.items():
        dst.attrs.create(k, v, dtype=src.attrs.get_id(k).dtype)


def shrink_h5(src_path, dst_path):
    with h5py.File(src_path, "r") as src, h5py.File(dst_path, "w", libver="latest") as dst:
        copy_attrs(src, dst)

        def visit(name, obj):
            if isinstance(obj, h5py.Group):
                g = dst.require_group(name)
                copy_attrs(obj, g)
            elif obj.size is not None and obj.size > 64 and obj.dtype.kind in "fiu":
                d = dst.create_dataset(name, shape=obj.shape, dtype=obj.dtype, data=np.zeros(obj.shape, obj.dtype),
                                       chunks=obj.shape, compression="gzip", compression_opts=9)
                copy_attrs(obj, d)
            else:
                src.copy(obj, dst, name=name)
        src.visititems(visit)


def shrink_keras(src_path, dst_path):
    with zipfile.ZipFile(src_path) as zin, zipfile.ZipFile(dst_path, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.endswith(".h5"):
                with tempfile.TemporaryDirectory() as tmp:
                    a, b = os.path.join(tmp, "a.h5"), os.path.join(tmp, "b.h5")
                    open(a, "wb").write(data)
                    shrink_h5(a, b)
                    data = open(b, "rb").read()
            zout.writestr(info.filename, data)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for p in sys.argv[2:]:
        dst = os.path.join(out, os.path.basename(p))
        (shrink_keras if p.endswith(".keras") else shrink_h5)(p, dst)
        print(f"{dst}: {os.path.getsize(dst)} bytes")


if __name__ == "__main__":
    main()
