#!/usr/bin/env bash
# Fill .whl/ with what the lent GPU machine lacks to run tools/benchmarks/
# gpu_check.py on its own Python 3.12 + CUDA torch (no network there):
# cp312 / pure-Python wheels of the OpenMMLab stack and their small
# dependencies, and an ops-free mmcv 2.1.0 wheel built here from the sdist
# (its CUDA ops, if wanted, must be built on that machine). Run here, with
# network; then `make gpu-check` on the device with `.whl` carried (the
# folder stays under the 64 MiB that travels, ~38 MiB with the data).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=.whl
mkdir -p "$OUT" .cache/sdist
BINARY=(--only-binary=:all: --python-version 3.12 --implementation cp
        --abi cp312 --platform manylinux2014_x86_64
        --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64
        --no-deps -d "$OUT")
# Pinned like requirements/runtime.txt; the rest are their dependencies
# that the device's image does not ship (it has numpy, opencv, rich,
# matplotlib, scipy, pyyaml, click, markdown, zipp). importlib-metadata
# stays below 9: later ones need lazy-importer.
"$PY" -m pip download -q "${BINARY[@]}" \
    mmengine==0.10.7 mmpretrain==1.2.0 mmdet==3.3.0 \
    addict yapf platformdirs termcolor einops mat4py modelindex \
    model-index ordered-set pycocotools shapely terminaltables \
    "importlib-metadata<9"
if ! ls "$OUT"/mmcv_lite-2.1.0-*.whl >/dev/null 2>&1 && \
        ! ls "$OUT"/mmcv-2.1.0-py*.whl >/dev/null 2>&1; then
    if [ ! -d .cache/sdist/mmcv-2.1.0 ]; then
        "$PY" -m pip download -q --no-deps --no-binary :all: \
            --no-build-isolation -d .cache/sdist mmcv==2.1.0
        tar -xzf .cache/sdist/mmcv-2.1.0.tar.gz -C .cache/sdist
    fi
    MMCV_WITH_OPS=0 "$PY" -m pip wheel -q --no-deps --no-build-isolation \
        -w "$OUT" .cache/sdist/mmcv-2.1.0
fi
# Fashion-MNIST for `quality.py --gpu`, gzipped (a third of the size);
# gpu_setup.sh un-gzips it there.
if [ -d data/fashion_mnist ] && [ ! -d "$OUT/fashion_mnist" ]; then
    mkdir -p "$OUT/fashion_mnist"
    for f in data/fashion_mnist/*-ubyte; do
        gzip -c "$f" > "$OUT/fashion_mnist/$(basename "$f").gz"
    done
fi
du -sh "$OUT"
ls "$OUT"
