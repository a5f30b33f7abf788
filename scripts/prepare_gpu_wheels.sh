#!/usr/bin/env bash
# Fill .whl/ with what the lent GPU machine lacks to `pip install` this
# plugin offline on its own Python + CUDA torch (scripts/gpu_setup.sh runs
# `pip install --no-index --find-links .whl mmcv-lite .` there):
#   - mmengine and an ops-free mmcv (mmcv-lite) built here from their
#     sdists: built where cv2 imports, their metadata asks for no opencv
#     package (the device has opencv-python-headless, while PyPI's mmengine
#     wheel requires opencv-python); mmcv's CUDA ops, if wanted, must be
#     built on that machine;
#   - binary wheels for the device's Python of every other package in the
#     plugin's dependency closure that the device's image does not ship
#     (its list: the device tool's KINDS.md), setuptools/wheel included so
#     that pip can build the plugin without an index;
#   - Fashion-MNIST, gzipped, for `quality.py --gpu` (gpu_setup.sh
#     un-gzips it).
# Run here, with network; carry .whl (well under the 64 MiB that travel).
# GPU_PYTHON_VERSION (default 3.12) is the device's Python.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
PYVER=${GPU_PYTHON_VERSION:-3.12}
ABI="cp${PYVER/./}"
OUT=${GPU_WHEELS_DIR:-.whl}
LOCK=requirements/lock/newest.txt
mkdir -p "$OUT" .cache/sdist
pin() { sed -n "s/^$1==//p" "$LOCK"; }

build_from_sdist() {  # SDIST VERSION WHEEL_NAME [ENV=VALUE...]
    local name=$1 version=$2 wheel=$3
    shift 3
    if ! ls "$OUT/$wheel-$version"-py*.whl >/dev/null 2>&1; then
        [ -d ".cache/sdist/$name-$version" ] || {
            "$PY" -m pip download -q --no-deps --no-binary :all: \
                --no-build-isolation -d .cache/sdist "$name==$version"
            tar -xzf ".cache/sdist/$name-$version.tar.gz" -C .cache/sdist
        }
        env "$@" "$PY" -m pip wheel -q --no-deps --no-build-isolation \
            -w "$OUT" ".cache/sdist/$name-$version"
    fi
}
"$PY" -c 'import cv2' || { echo "prepare_gpu_wheels: cv2 must import in $PY" >&2; exit 1; }
# mmengine's sdist lacks the requirements/ its setup.py reads (a wheel
# built from it would declare no dependencies): write its runtime ones,
# as PyPI's wheel declares them, less the opencv choice made above.
MMENGINE_SRC=".cache/sdist/mmengine-$(pin mmengine)"
if [ ! -f "$MMENGINE_SRC/requirements/runtime.txt" ]; then
    "$PY" -m pip download -q --no-deps --no-binary :all: --no-build-isolation \
        -d .cache/sdist "mmengine==$(pin mmengine)"
    tar -xzf "$MMENGINE_SRC.tar.gz" -C .cache/sdist
    mkdir -p "$MMENGINE_SRC/requirements"
    printf '%s\n' addict matplotlib numpy pyyaml rich termcolor 'yapf' \
        > "$MMENGINE_SRC/requirements/runtime.txt"
fi
build_from_sdist mmengine "$(pin mmengine)" mmengine
build_from_sdist mmcv "$(pin mmcv)" mmcv_lite MMCV_WITH_OPS=0

BINARY=(--only-binary=:all: --python-version "$PYVER" --implementation cp
        --abi "$ABI" --abi abi3 --abi none --platform manylinux2014_x86_64
        --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64
        --platform any --no-deps -d "$OUT")
# The closure of mmpretrain, mmdet, mmengine and mmcv-lite that the device
# image lacks, at the newest lock's versions.
NEEDED=(mmpretrain mmdet addict yapf platformdirs termcolor mat4py
        modelindex model-index ordered-set pycocotools shapely terminaltables
        importlib-metadata lazy-importer prettytable wcwidth setuptools wheel)
SPECS=()
for name in "${NEEDED[@]}"; do
    version=$(grep -i "^${name//-/[-_]}==" "$LOCK" | head -1 | cut -d= -f3)
    SPECS+=("$name${version:+==$version}")
done
"$PY" -m pip download -q "${BINARY[@]}" "${SPECS[@]}" 2> >(grep -v 'is ignored' >&2)

if [ -d data/fashion_mnist ] && [ ! -d "$OUT/fashion_mnist" ]; then
    mkdir -p "$OUT/fashion_mnist"
    for f in data/fashion_mnist/*-ubyte; do
        gzip -c "$f" > "$OUT/fashion_mnist/$(basename "$f").gz"
    done
fi
du -sh "$OUT"
ls "$OUT"
