#!/usr/bin/env bash
# On the lent GPU machine: install the carried wheels (.whl/, made by
# scripts/prepare_gpu_wheels.sh) on top of its own torch, without network,
# then the plugin itself. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
if ! "$PY" -c 'import mmpretrain, mmdet, mmcv' 2>/dev/null; then
    if ! ls .whl/*.whl >/dev/null 2>&1; then
        echo "gpu_setup: no wheels in .whl/; run scripts/prepare_gpu_wheels.sh" \
             "on a machine with network and carry .whl" >&2
        exit 1
    fi
    "$PY" -m pip install -q --no-deps --no-index .whl/*.whl
fi
# Each file written whole or not at all (as scripts/setup_env.sh does), so
# an interrupted set-up is finished by the next one.
for f in .whl/fashion_mnist/*.gz; do
    [ -f "$f" ] || continue
    out="data/fashion_mnist/$(basename "$f" .gz)"
    [ -f "$out" ] && continue
    mkdir -p data/fashion_mnist
    gunzip -c "$f" > "$out.tmp" && mv "$out.tmp" "$out"
done
# A .pth file, not `pip install -e .`: without network, new setuptools'
# editable install still asks an index for build dependencies.
SITE=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$PWD" > "$SITE/nnclr_plugin_repo.pth"
"$PY" -c 'import torch, mmcv, mmengine, mmpretrain, mmdet, nnclr_plugin; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), "mmcv", mmcv.__version__)'
