#!/usr/bin/env bash
# Build the GPU binaries on THIS machine (nvcc + cuDNN headers, no GPU needed) and pack them for a
# GPU machine that lacks the host build dependencies (libpng, HDF5, inih, libzip, OpenBLAS):
#   build-gpu-bundle/bin/{gesture,test_cuda_*}  and  build-gpu-bundle/lib.tar.xz (their host
#   libraries, minus libc/libstdc++ and the CUDA libraries, which the GPU machine provides).
# Then, on the GPU machine: scripts/gpu_check.sh --prebuilt build-gpu-bundle
# (with the device tool: carry ["build-gpu-bundle"]; build*/ is git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
OUTDIR=build-gpu-bundle
cmake -S . -B build-gpu -DGESTURE_CUDA=ON -DGESTURE_WERROR=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-gpu -j"$(nproc)" --target gesture test_cuda_ops test_cuda_ops_head test_cuda_model
rm -rf "$OUTDIR" && mkdir -p "$OUTDIR/bin" "$OUTDIR/lib"
cp build-gpu/gesture build-gpu/tests/test_cuda_ops build-gpu/tests/test_cuda_ops_head build-gpu/tests/test_cuda_model \
   "$OUTDIR/bin/"
# Host libraries only: the GPU machine's own libc, libstdc++, driver and CUDA libraries must win.
skip='linux-vdso|ld-linux|/libc\.so|/libm\.so|libpthread|libdl\.so|librt\.so|libstdc\+\+|libgcc_s|libcuda|libcudart|libcublas|libcudnn|libnvToolsExt'
for b in "$OUTDIR"/bin/*; do ldd "$b"; done | awk '$3 ~ /^\// {print $3}' | sort -u | grep -vE "$skip" |
  while read -r lib; do cp -L "$lib" "$OUTDIR/lib/"; done
tar -cJf "$OUTDIR/lib.tar.xz" -C "$OUTDIR/lib" . && rm -rf "$OUTDIR/lib"
du -sh "$OUTDIR"/bin "$OUTDIR"/lib.tar.xz
