#!/usr/bin/env bash
# bench/fetch_gpu_wheels.sh: fill .whl/ (ignored by git) with what bench/gpu_check.sh may
# have to install on a GPU machine that cannot reach the internet. Run it here, where
# pip reaches PyPI, then carry .whl/ with the run (the device tool's `carry: [".whl"]`,
# 64 MiB at most). Never commit the wheels.
#
#   bench/fetch_gpu_wheels.sh                       # pure-Python wheels, Pillow for CPython 3.10-3.13, spec images
#   PYVERS="3.11 3.12" bench/fetch_gpu_wheels.sh    # Pillow for these versions only
#   bench/fetch_gpu_wheels.sh --with-numpy          # numpy too (~16 MB per version)
#
# torch itself is not fetched (the CUDA wheels are GBs): the GPU machine must have it;
# gpu_check.sh says so and stops when it does not.
set -euo pipefail
cd "$(dirname "$0")/.."
PYVERS=${PYVERS:-"3.10 3.11 3.12 3.13"}
NUMPY=0
[ "${1:-}" = "--with-numpy" ] && NUMPY=1
PY=${PYTHON:-$(command -v python3 || command -v python)}
mkdir -p .whl
# pure Python (any CPython 3): pytest and its dependencies, the peer of the speed table
"$PY" -m pip download --quiet --only-binary=:all: --no-deps --dest .whl --python-version 3.10 --implementation py \
    --abi none --platform any pytorch-msssim pytest pluggy iniconfig packaging pygments exceptiongroup tomli
for v in $PYVERS; do
    pkgs="pillow"
    [ "$NUMPY" = 1 ] && pkgs="$pkgs numpy"
    # shellcheck disable=SC2086
    "$PY" -m pip download --quiet --only-binary=:all: --no-deps --dest .whl --python-version "$v" \
        --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 $pkgs \
        || echo "no wheel of $pkgs for Python $v"
done
# the spec pairs are built from scikit-image's bundled camera and astronaut (~1 MB)
"$PY" - <<'PY'
import numpy as np
from skimage import data

np.savez_compressed(".whl/spec_images.npz", camera=data.camera(), astronaut=data.astronaut())
PY
ls -la .whl
du -sh .whl
size=$(du -sm .whl | cut -f1)
[ "$size" -le 60 ] || echo "WARNING: .whl is ${size} MiB; a run carries 64 MiB at most (with the tree's other carried paths)"
