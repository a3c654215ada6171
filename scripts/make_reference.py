#!/usr/bin/env python3
"""Builds PyTorch references for gesture's CPU ops and whole model and writes HDF5 fixtures.

Runs on Debian's interpreter (/usr/bin/python3 with python3-torch). Each ref_*.py module has a
`write(out_dir, seed)` that writes its own file(s); tests read them by dataset name.
  ref_ops_cnn.py  -> ops_cnn.h5   (conv2d, depthwise, batchnorm+ReLU6, relu, add, avgpool, matmul)
  ref_ops_head.py -> ops_head.h5  (gru, dropout, relu, softmax-CE, L2, Adam)
  ref_model.py    -> model.h5     (whole MobileNetV2 + BiGRU model: forward, grads, 3 Adam steps)
"""
import argparse
import importlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
MODULES = ["ref_ops_cnn", "ref_ops_head", "ref_model"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="build/fixtures", help="output directory")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--only", nargs="*", help="run only these modules")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    import torch
    torch.set_num_threads(2)
    for name in args.only or MODULES:
        importlib.import_module(name).write(args.out, args.seed)
        print(f"make_reference: {name} written")


if __name__ == "__main__":
    main()
