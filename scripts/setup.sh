#!/usr/bin/env bash
# Installs the Debian packages gesture needs (idempotent; silent when everything is present).
# Python tooling runs on Debian's interpreter (/usr/bin/python3), where python3-torch lives.
# build-essential's gcc brings libasan and libubsan, which the sanitizer build (scripts/test.sh) needs.
# clang + libclang-rt-dev (libclang_rt.fuzzer, ASan/UBSan runtimes) + libomp-dev (clang's OpenMP):
# the libFuzzer build (scripts/fuzz.sh, scripts/test.sh's fuzz stage).
# libturbojpeg0-dev: JPEG frames; libav*-dev: video files, cameras, encoding; ffmpeg: the tests'
# reference decoder/encoder (what our decoding is checked against).
set -euo pipefail
PKGS=(build-essential cmake pkg-config libpng-dev libhdf5-dev libinih-dev libopenblas-dev
      python3 python3-numpy python3-torch python3-h5py python3-matplotlib python3-pil
      python3-sklearn python3-torchvision libzip-dev valgrind clang libclang-rt-dev libomp-dev
      libturbojpeg0-dev libavformat-dev libavcodec-dev libswscale-dev libavdevice-dev libavutil-dev ffmpeg)
PKGS+=(libjansson-dev)  # config.json of exported .keras models
PKGS+=(libprotobuf-c-dev protobuf-c-compiler)  # ONNX export: protoc-c compiles third_party/onnx/onnx.proto
PKGS+=(libjpeg-turbo-progs)  # cjpeg/djpeg: the JPEG fixtures' encoder and reference decoder
PKGS+=(libopenmpi-dev openmpi-bin)  # data-parallel gesture train (mpirun) and its tests (CMake finds MPI)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
