#!/usr/bin/env bash
# Evaluate a pretrain checkpoint on one downstream task (classification,
# detection or segmentation; the config decides):
#   1. extract the backbone of PRETRAIN into WORK_DIR/backbone.pth
#      (tools/model_converters/extract_backbone_weights.py),
#   2. train CONFIG with every Pretrained init_cfg of its model pointed at
#      that file (tools/train.py, or tools/dist_train.sh when GPUS > 1),
#   3. evaluate the last checkpoint of that run (tools/test.py /
#      tools/dist_test.sh).
#
# Usage:
#   tools/benchmarks/run_downstream.sh CONFIG PRETRAIN WORK_DIR GPUS [ARGS...]
#
# ARGS go to both train.py and test.py, so use options both accept, e.g.
# `--cfg-options train_dataloader.dataset.data_root=... --amp`. Environment:
#   KEY         prefix of the backbone in PRETRAIN (default "backbone.";
#               "momentum_encoder.module.0." for the MoCo v3 / SNCLR
#               momentum encoder)
#   TRAIN_ARGS  extra options for train.py only, e.g. "--auto-scale-lr"
#   PYTHON      interpreter (default: python)
#   PORT, NNODES, NODE_RANK, MASTER_ADDR   as in tools/dist_train.sh
# GPUS=1 runs one process without a launcher (on CPU too).
set -euo pipefail

if [ $# -lt 4 ]; then
    sed -n '2,23p' "$0" >&2
    exit 1
fi
CONFIG=$1
PRETRAIN=$2
WORK_DIR=$3
GPUS=$4
shift 4

HERE="$(cd "$(dirname "$0")" && pwd)"
TOOLS="$(dirname "$HERE")"
PYTHON=${PYTHON:-python}
KEY=${KEY-backbone.}
read -r -a TRAIN_EXTRA <<< "${TRAIN_ARGS:-}"
BACKBONE="$WORK_DIR/backbone.pth"
# The plugin is imported from this checkout, installed or not.
export PYTHONPATH="$(dirname "$TOOLS")${PYTHONPATH:+:$PYTHONPATH}"

mkdir -p "$WORK_DIR"
"$PYTHON" "$TOOLS/model_converters/extract_backbone_weights.py" \
    "$PRETRAIN" "$BACKBONE" --key "$KEY"

# One `path.checkpoint=FILE` per Pretrained init (two for the C4 detector).
INIT_OPTIONS_TEXT="$("$PYTHON" "$HERE/pretrained_init_options.py" \
    "$CONFIG" "$BACKBONE")"
mapfile -t INIT_OPTIONS <<< "$INIT_OPTIONS_TEXT"
echo "Backbone initialisation: ${INIT_OPTIONS[*]}"

# A stale pointer from an earlier run must not be tested by mistake.
rm -f "$WORK_DIR/last_checkpoint"
# mmengine merges repeated --cfg-options, so ours may follow the user's.
if [ "$GPUS" -gt 1 ]; then
    PYTHON="$PYTHON" bash "$TOOLS/dist_train.sh" "$CONFIG" "$GPUS" \
        --work-dir "$WORK_DIR" "${TRAIN_EXTRA[@]}" "$@" \
        --cfg-options "${INIT_OPTIONS[@]}"
else
    "$PYTHON" "$TOOLS/train.py" "$CONFIG" --work-dir "$WORK_DIR" \
        "${TRAIN_EXTRA[@]}" "$@" --cfg-options "${INIT_OPTIONS[@]}"
fi

if [ ! -f "$WORK_DIR/last_checkpoint" ]; then
    echo "No $WORK_DIR/last_checkpoint: training saved no checkpoint" >&2
    exit 1
fi
CHECKPOINT="$(cat "$WORK_DIR/last_checkpoint")"
echo "Testing $CHECKPOINT"
if [ "$GPUS" -gt 1 ]; then
    PYTHON="$PYTHON" bash "$TOOLS/dist_test.sh" "$CONFIG" "$CHECKPOINT" \
        "$GPUS" --work-dir "$WORK_DIR" "$@"
else
    "$PYTHON" "$TOOLS/test.py" "$CONFIG" "$CHECKPOINT" \
        --work-dir "$WORK_DIR" "$@"
fi
