#!/usr/bin/env bash
# The test command: install dependencies, configure, build (CUDA backend too when the toolkit is
# present), run every test with ctest. GPU tests skip (exit 77) on machines without a GPU.
set -euo pipefail
# libgomp spins 300k iterations before sleeping: on a shared 2-core box that starves other work
# (measured 8x slower epochs under load); 10k costs nothing when idle.
export GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-10000}
cd "$(dirname "$0")/.."
bash scripts/setup.sh
BUILD=${BUILD:-build}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DGESTURE_WERROR=ON ${CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
cd "$BUILD"
ctest --output-on-failure -j"$(nproc)" "$@"
