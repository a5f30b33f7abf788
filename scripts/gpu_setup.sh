#!/usr/bin/env bash
# On the lent GPU machine: install this plugin with pip, offline, on the
# machine's own torch, from the wheels carried in .whl/ (made by
# scripts/prepare_gpu_wheels.sh), then un-gzip the carried Fashion-MNIST.
# A plain (non-editable) install: what a user's `pip install` does.
# Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
WHEELS=${GPU_WHEELS_DIR:-.whl}
if ! ls "$WHEELS"/*.whl >/dev/null 2>&1; then
    echo "gpu_setup: no wheels in $WHEELS/; run scripts/prepare_gpu_wheels.sh" \
         "(make gpu-wheels) on a machine with network and carry $WHEELS" >&2
    exit 1
fi
# mmcv-lite: mmcv without compiled ops (the plugin takes mmcv or mmcv-lite
# and checks the version at import).
"$PY" -m pip install -q --no-index --find-links "$WHEELS" mmcv-lite .
# Each file written whole or not at all (as scripts/setup_env.sh does), so
# an interrupted set-up is finished by the next one.
for f in "$WHEELS"/fashion_mnist/*.gz; do
    [ -f "$f" ] || continue
    out="data/fashion_mnist/$(basename "$f" .gz)"
    [ -f "$out" ] && continue
    mkdir -p data/fashion_mnist
    gunzip -c "$f" > "$out.tmp" && mv "$out.tmp" "$out"
done
# From another folder, so that the installed package is the one imported.
(cd / && "$PY" -c 'import torch, mmcv, mmengine, mmpretrain, mmdet, nnclr_plugin; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), "mmcv", mmcv.__version__, "nnclr_plugin", nnclr_plugin.__file__)')
