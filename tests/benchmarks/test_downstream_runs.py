"""Every downstream config trains one iteration and evaluates, on CPU.

The real command-line tools run in subprocesses from the repository root:
``tools/benchmarks/run_downstream.sh`` (extraction -> tools/train.py ->
tools/test.py) for one classification and one detection config, and
tools/train.py + tools/test.py directly for the others. The configs stay as
they are; ``--cfg-options`` only points the data roots at tiny generated
data sets, shrinks batches / epochs / detector image scale, and sets the
backbone file, as a user would.
"""
import json
import os.path as osp
import re
import sys
from typing import List

import pytest
from downstream_helpers import (KNN_DATA, MASK_RCNN_C4, MASK_RCNN_FPN,
                                R50_LINEAR, RUN_DOWNSTREAM, SEMI_1PCT,
                                SEMI_10PCT, TOOLS, VIT_B_LINEAR, VIT_S_LINEAR,
                                nnclr_config, run_tool)

TRAIN = osp.join(TOOLS, 'train.py')
TEST = osp.join(TOOLS, 'test.py')
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
DETECTOR_SCALE = '(160,128)'
# tools/test.py runs the evaluation; a second pass inside training would
# only double the time.
TRAIN_ONLY = ['--no-validate']


def common_options() -> List[str]:
    return [
        'train_cfg.max_epochs=1',
        'default_hooks.logger.interval=1',
        # The test reloads only the model; this saves writing ~100-300 MB
        # of momentum buffers per run.
        'default_hooks.checkpoint.save_optimizer=False',
    ] + [f'{loader}.num_workers=0' for loader in LOADERS]


def classification_options(root: str) -> List[str]:
    options = common_options() + ['train_dataloader.dataset.indices=2']
    for loader in LOADERS:
        options += [
            f'{loader}.dataset.data_root={root}', f'{loader}.batch_size=2'
        ]
    return options


def detection_options(root: str) -> List[str]:
    ann = osp.join(root, 'annotations', 'instances_val2017.json')
    options = common_options() + [
        f'val_evaluator.ann_file={ann}',
        f'test_evaluator.ann_file={ann}',
        f'train_dataloader.dataset.pipeline.2.scales=[{DETECTOR_SCALE}]',
        f'val_dataloader.dataset.pipeline.1.scale={DETECTOR_SCALE}',
        f'test_dataloader.dataset.pipeline.1.scale={DETECTOR_SCALE}',
        # The freshly initialised classifier spreads ~1/81 over the
        # classes, under the default 0.05; without boxes COCO evaluation
        # reports no metric at all.
        'model.test_cfg.rcnn.score_thr=0.0',
        # Fewer RoIs: the C4 head runs ResNet stage 4 on each of them
        # (512 per image in training, 1000 in testing by default).
        'model.train_cfg.rpn_proposal.max_per_img=64',
        'model.train_cfg.rcnn.sampler.num=32',
        'model.test_cfg.rpn.max_per_img=32',
        'model.test_cfg.rcnn.max_per_img=20',
    ]
    for loader in LOADERS:
        options += [
            f'{loader}.dataset.data_root={root}',
            f'{loader}.persistent_workers=False'
        ]
    return options


def train_then_test(config: str, work_dir: str, backbone: str,
                    options: List[str]) -> str:
    """tools/train.py then tools/test.py on its last checkpoint."""
    train_log = run_tool([
        sys.executable, TRAIN, config, '--work-dir', work_dir, *TRAIN_ONLY,
        '--cfg-options', f'model.backbone.init_cfg.checkpoint={backbone}',
        *options
    ])
    assert f'load model from: {backbone}' in train_log
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    assert osp.basename(checkpoint) == 'epoch_1.pth'
    return train_log + run_tool([
        sys.executable, TEST, config, checkpoint, '--work-dir', work_dir,
        '--cfg-options', *options
    ])


def metric(log: str, name: str) -> float:
    """The last value of ``name`` in an mmengine log."""
    values = re.findall(rf'{re.escape(name)}: (-?[\d.]+)', log)
    assert values, f'{name} not in the log:\n{log[-3000:]}'
    return float(values[-1])


def assert_one_iteration(log: str) -> None:
    # LoggerHook with interval 1 prints "Epoch(train) [1][i/N]" per step.
    steps = set(re.findall(r'Epoch\(train\)\s+\[1\]\[\s*(\d+)/(\d+)\]', log))
    assert steps == {('1', '1')}, steps


# --- classification -----------------------------------------------------


def test_resnet50_linear_through_the_launcher(r50_pretrain, tiny_imagenet,
                                              tmp_path):
    work_dir = str(tmp_path / 'r50_linear')
    log = run_tool(
        [
            'bash', RUN_DOWNSTREAM, R50_LINEAR, r50_pretrain, work_dir, '1',
            '--cfg-options', *classification_options(tiny_imagenet)
        ],
        env=dict(PYTHON=sys.executable, TRAIN_ARGS=' '.join(TRAIN_ONLY)))
    backbone = osp.join(work_dir, 'backbone.pth')
    assert osp.isfile(backbone)
    assert f'load model from: {backbone}' in log
    # Nothing of the backbone was left out or unused.
    assert 'missing keys in source state_dict' not in log
    assert 'unexpected key in source state_dict' not in log
    assert_one_iteration(log)
    assert 0 <= metric(log, 'accuracy/top1') <= 100


@pytest.mark.parametrize(
    'config, backbone_fixture',
    [(VIT_S_LINEAR, 'vit_small_backbone'),
     (VIT_B_LINEAR, 'vit_base_backbone')],
    ids=['vit-small', 'vit-base'])
def test_vit_linear(config, backbone_fixture, request, tiny_imagenet,
                    tmp_path):
    backbone = request.getfixturevalue(backbone_fixture)
    log = train_then_test(config, str(tmp_path), backbone,
                          classification_options(tiny_imagenet))
    assert 'missing keys in source state_dict' not in log
    assert_one_iteration(log)
    assert 0 <= metric(log, 'accuracy/top1') <= 100


@pytest.mark.parametrize('config', [SEMI_1PCT, SEMI_10PCT],
                         ids=['1pct', '10pct'])
def test_semi_supervised(config, r50_backbone, tiny_imagenet, tmp_path):
    # Trains from meta/1percent.txt or meta/10percent.txt (ImageNetSubset).
    log = train_then_test(config, str(tmp_path), r50_backbone,
                          classification_options(tiny_imagenet))
    assert 'missing keys in source state_dict' not in log
    assert_one_iteration(log)
    assert 0 <= metric(log, 'accuracy/top1') <= 100


def test_knn(r50_backbone, tiny_imagenet, tmp_path):
    out = str(tmp_path / 'knn.json')
    log = run_tool([
        sys.executable,
        osp.join(TOOLS, 'analysis_tools', 'knn_eval.py'),
        nnclr_config('nnclr_resnet50_*.py'), r50_backbone, '--data-config',
        KNN_DATA, '--data-root', tiny_imagenet, '--batch-size', '2', '--k',
        '3', '--device', 'cpu', '--out', out, '--cfg-options',
        'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0'
    ])
    assert 'backbone-only state dict' in log
    with open(out) as f:
        result = json.load(f)
    # The whole memory bank (all 6 training images) and all 3 queries.
    assert (result['num_train'], result['num_test']) == (6, 3)
    assert result['missing_backbone_keys'] == 0
    assert 0 <= result['top1'] <= 100


# --- detection ----------------------------------------------------------


def assert_coco_metrics(log: str) -> None:
    for name in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert 0 <= metric(log, name) <= 1


def test_mask_rcnn_fpn_through_the_launcher(r50_pretrain, tiny_coco,
                                            tmp_path):
    work_dir = str(tmp_path / 'fpn')
    log = run_tool(
        [
            'bash', RUN_DOWNSTREAM, MASK_RCNN_FPN, r50_pretrain, work_dir,
            '1', '--cfg-options', *detection_options(tiny_coco)
        ],
        env=dict(PYTHON=sys.executable, TRAIN_ARGS=' '.join(TRAIN_ONLY)))
    assert f'load model from: {osp.join(work_dir, "backbone.pth")}' in log
    assert 'missing keys in source state_dict' not in log
    assert_one_iteration(log)
    assert_coco_metrics(log)


def test_mask_rcnn_c4(r50_backbone, tiny_coco, tmp_path):
    options = detection_options(tiny_coco) + [
        f'model.roi_head.shared_head.init_cfg.checkpoint={r50_backbone}'
    ]
    log = train_then_test(MASK_RCNN_C4, str(tmp_path), r50_backbone, options)
    # Backbone and shared head both read the file.
    assert log.count(f'load model from: {r50_backbone}') == 2
    assert_one_iteration(log)
    assert_coco_metrics(log)


def test_whole_pretrain_checkpoint_stops_before_the_first_iteration(
        r50_pretrain, tiny_imagenet, tmp_path):
    # The user's mistake: the pretrain checkpoint itself, no prefix.
    import subprocess
    work_dir = str(tmp_path / 'misload')
    proc = subprocess.run([
        sys.executable, TRAIN, R50_LINEAR, '--work-dir', work_dir,
        *TRAIN_ONLY, '--cfg-options',
        f'model.backbone.init_cfg.checkpoint={r50_pretrain}',
        *classification_options(tiny_imagenet)
    ], cwd=osp.dirname(TOOLS), capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert 'model.backbone.init_cfg loaded only 0 of' in output
    assert r50_pretrain in output
    assert not re.search(r'Epoch\(train\)\s+\[1\]\[\s*1/', output)
