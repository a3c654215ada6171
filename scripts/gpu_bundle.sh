#!/usr/bin/env bash
# Build the GPU binaries on THIS machine (nvcc + cuDNN headers, no GPU needed) and pack them for a
# GPU machine that lacks the host build dependencies (libpng, HDF5, inih, libzip, OpenBLAS):
#   build-gpu-bundle/bin/{gesture,test_cuda_*}   every GPU test binary (tests/test_cuda_*.c)
#   build-gpu-bundle/tests/                       the GPU script tests (tests/test_*cuda*.sh) and
#                                                 tests/tiny_train.sh, which they source
#   build-gpu-bundle/lib.tar.xz                   their host libraries, minus libc/libstdc++ and the
#                                                 CUDA libraries, which the GPU machine provides.
# Built for sm_90 (machine code + PTX) only: the device machine is an H200. ARCH=... overrides
# (a CMAKE_CUDA_ARCHITECTURES value, e.g. ARCH=native on a GPU machine).
# Then, on the GPU machine: scripts/gpu_check.sh --prebuilt build-gpu-bundle
# (with the device tool: carry ["build-gpu-bundle"]; build*/ is git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
OUTDIR=build-gpu-bundle
ARCH=${ARCH:-90}
TESTS=$(for f in tests/test_cuda_*.c; do basename "$f" .c; done)
cmake -S . -B build-gpu -DGESTURE_CUDA=ON -DGESTURE_WERROR=ON -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CUDA_ARCHITECTURES="$ARCH" >/dev/null
# shellcheck disable=SC2086  # one target per word
cmake --build build-gpu -j"$(nproc)" --target gesture $TESTS
rm -rf "$OUTDIR" && mkdir -p "$OUTDIR/bin" "$OUTDIR/lib" "$OUTDIR/tests"
cp build-gpu/gesture "$OUTDIR/bin/"
for t in $TESTS; do cp "build-gpu/tests/$t" "$OUTDIR/bin/"; done
cp tests/test_*cuda*.sh tests/tiny_train.sh "$OUTDIR/tests/"
# Host libraries only: the GPU machine's own libc, libstdc++, driver and CUDA libraries must win.
skip='linux-vdso|ld-linux|/libc\.so|/libm\.so|libpthread|libdl\.so|librt\.so|libstdc\+\+|libgcc_s|libcuda|libcudart|libcublas|libcudnn|libnvToolsExt'
for b in "$OUTDIR"/bin/*; do ldd "$b"; done | awk '$3 ~ /^\// {print $3}' | sort -u | grep -vE "$skip" |
  while read -r lib; do cp -L "$lib" "$OUTDIR/lib/"; done
tar -cJf "$OUTDIR/lib.tar.xz" -C "$OUTDIR/lib" . && rm -rf "${OUTDIR:?}/lib"
du -sh "$OUTDIR"/bin "$OUTDIR"/tests "$OUTDIR"/lib.tar.xz
