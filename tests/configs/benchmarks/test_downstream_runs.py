"""Every downstream config trains one iteration and evaluates, on CPU.

The real command-line tools run in subprocesses from the repository root:
``tools/benchmarks/run_downstream.sh`` (extraction -> tools/train.py ->
tools/test.py) for one classification and one detection config, and
tools/train.py + tools/test.py directly for the others. The configs stay as
they are; ``--cfg-options`` only points the data roots at tiny generated
data sets, shrinks batches / epochs / detector image scale, and sets the
backbone file, as a user would.
"""
import importlib.util
import json
import os.path as osp
import re
import sys
from typing import List, Sequence

import numpy as np
import pytest
from downstream_helpers import (
    FASTER_RCNN_VOC,
    FCN_CITYSCAPES,
    FCN_VOC,
    KNN_DATA,
    MASK_RCNN_C4,
    MASK_RCNN_FPN,
    R50_LINEAR,
    RUN_DOWNSTREAM,
    SEMI_1PCT,
    SEMI_10PCT,
    TOOLS,
    UPERNET_VIT_B,
    UPERNET_VIT_S,
    VIT_B_LINEAR,
    VIT_S_LINEAR,
    load_state,
    nnclr_config,
    run_tool,
)
from mmengine.config import Config
from PIL import Image

TRAIN = osp.join(TOOLS, 'train.py')
TEST = osp.join(TOOLS, 'test.py')
VISUALIZE = osp.join(TOOLS, 'analysis_tools', 'visualize_downstream.py')
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


# Fewer, surer boxes for the detectors on tiny images.
SMALL_DETECTOR = [
    # The freshly initialised classifier spreads ~1/81 over the classes,
    # under the default 0.05; without boxes evaluation reports no metric.
    'model.test_cfg.rcnn.score_thr=0.0',
    # Fewer RoIs: the C4 head runs ResNet stage 4 on each of them (512 per
    # image in training, 1000 in testing by default).
    'model.train_cfg.rpn_proposal.max_per_img=64',
    'model.train_cfg.rcnn.sampler.num=32',
    'model.test_cfg.rpn.max_per_img=32',
    'model.test_cfg.rcnn.max_per_img=20',
]


def detection_options(root: str) -> List[str]:
    ann = osp.join(root, 'annotations', 'instances_val2017.json')
    options = common_options() + SMALL_DETECTOR + [
        f'val_evaluator.ann_file={ann}',
        f'test_evaluator.ann_file={ann}',
        f'train_dataloader.dataset.pipeline.2.scales=[{DETECTOR_SCALE}]',
        f'val_dataloader.dataset.pipeline.1.scale={DETECTOR_SCALE}',
        f'test_dataloader.dataset.pipeline.1.scale={DETECTOR_SCALE}',
    ]
    for loader in LOADERS:
        options += [
            f'{loader}.dataset.data_root={root}',
            f'{loader}.persistent_workers=False'
        ]
    return options


def iteration_options(config: str, root: str, scale: str,
                      crop: str) -> List[str]:
    """Options for an iteration-based (mmseg / VOC) config: one iteration
    of 2 images, every data root at ``root``, image scales shrunk.

    The pipeline steps that set a size are found by type, in every data
    set of each loader (VOC07+12 and VOC12aug concatenate two).
    """
    cfg = Config.fromfile(config, import_custom_modules=False)
    sizes = {
        'RandomResize': ('scale', scale),
        'Resize': ('scale', scale),
        'RandomChoiceResize': ('scales', f'[{scale}]'),
        'RandomCrop': ('crop_size', crop),
        'Pad': ('size', crop),
    }
    options = [
        'train_cfg.max_iters=1',
        'train_cfg.val_interval=1',
        'train_dataloader.batch_size=2',
        'default_hooks.logger.interval=1',
        'default_hooks.checkpoint.save_optimizer=False',
    ]
    for loader in LOADERS:
        options += [f'{loader}.num_workers=0',
                    f'{loader}.persistent_workers=False']
        dataset = cfg[loader].dataset
        parts = ([(f'{loader}.dataset.datasets.{i}', d)
                  for i, d in enumerate(dataset.datasets)]
                 if dataset.type == 'ConcatDataset' else
                 [(f'{loader}.dataset', dataset)])
        for path, part in parts:
            options.append(f'{path}.data_root={root}')
            for index, step in enumerate(part.pipeline):
                if step.type in sizes:
                    key, value = sizes[step.type]
                    options.append(f'{path}.pipeline.{index}.{key}={value}')
    return options


def train_then_test(config: str, work_dir: str, backbone: str,
                    options: List[str], checkpoint_name: str = 'epoch_1.pth'
                    ) -> str:
    """tools/train.py then tools/test.py on its last checkpoint."""
    train_log = run_tool([
        sys.executable, TRAIN, config, '--work-dir', work_dir, *TRAIN_ONLY,
        '--cfg-options', f'model.backbone.init_cfg.checkpoint={backbone}',
        *options
    ])
    assert f'load model from: {backbone}' in train_log
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    assert osp.basename(checkpoint) == checkpoint_name
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
    # LoggerHook with interval 1 prints "Epoch(train) [1][i/N]" per step
    # (epoch-based loops) or "Iter(train) [i/N]" (iteration-based).
    steps = set(re.findall(r'Epoch\(train\)\s+\[1\]\[\s*(\d+)/(\d+)\]', log))
    steps |= set(re.findall(r'Iter\(train\)\s+\[\s*(\d+)/(\d+)\]', log))
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


# --- semantic segmentation and VOC detection ----------------------------

needs_mmseg = pytest.mark.skipif(
    importlib.util.find_spec('mmseg') is None,
    reason='mmsegmentation not installed (requirements/segmentation.txt; '
    'make test installs it)')
SEG_SCALE, SEG_CROP = '(96,64)', '(64,64)'


def segmentation_options(config: str, root: str) -> List[str]:
    return iteration_options(config, root, SEG_SCALE, SEG_CROP) + [
        f'model.data_preprocessor.size={SEG_CROP}'
    ]


def assert_all_loaded(log: str, backbone: str) -> None:
    """PretrainedLoadCheckHook found every tensor of the file's backbone in
    the model (the numbers differ by architecture)."""
    assert (f'PretrainedLoadCheckHook: all {len(load_state(backbone))} '
            'pretrained tensors loaded') in log


def assert_prediction_picture(config: str, work_dir: str, root: str,
                              scale: str, extra: Sequence[str] = ()) -> None:
    """tools/analysis_tools/visualize_downstream.py on the run's checkpoint
    draws each of the first two test images beside its prediction."""
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    out = osp.join(work_dir, 'predictions.png')
    test_set = [
        option for option in iteration_options(config, root, scale, scale)
        if option.startswith('test_dataloader.dataset.')
    ]
    log = run_tool([
        sys.executable, VISUALIZE, config, checkpoint, '--out', out,
        '--num-images', '2', *extra, '--cfg-options', *test_set
    ] + (SMALL_DETECTOR if 'mmdetection' in config else []))
    assert '2 images' in log
    picture = np.asarray(Image.open(out).convert('RGB'))
    # Two rows of (input | prediction), each 256 px high; the generated
    # images are 96 x 80.
    panel_width = round(96 * 256 / 80)
    assert picture.shape == (2 * (256 + 4), 2 * panel_width, 3)
    image, drawn = picture[:256, :panel_width], picture[:256, panel_width:]
    # The prediction is drawn over the image, not a copy of it.
    assert np.abs(image.astype(int) - drawn.astype(int)).mean() > 5


def assert_miou(log: str) -> None:
    # mmseg's IoUMetric, in percent.
    assert 0 <= metric(log, 'mIoU') <= 100


@needs_mmseg
def test_fcn_voc12aug_through_the_launcher(r50_pretrain, tiny_voc_seg,
                                           tmp_path):
    work_dir = str(tmp_path / 'fcn_voc')
    log = run_tool(
        [
            'bash', RUN_DOWNSTREAM, FCN_VOC, r50_pretrain, work_dir, '1',
            '--cfg-options', *segmentation_options(FCN_VOC, tiny_voc_seg)
        ],
        env=dict(PYTHON=sys.executable, TRAIN_ARGS=' '.join(TRAIN_ONLY)))
    assert f'load model from: {osp.join(work_dir, "backbone.pth")}' in log
    assert_all_loaded(log, osp.join(work_dir, 'backbone.pth'))
    assert_one_iteration(log)
    assert_miou(log)
    assert_prediction_picture(FCN_VOC, work_dir, tiny_voc_seg, SEG_SCALE)


@needs_mmseg
def test_fcn_cityscapes_slide_inference(r50_backbone, tiny_cityscapes,
                                        tmp_path):
    options = segmentation_options(FCN_CITYSCAPES, tiny_cityscapes) + [
        # Several overlapping windows per 96 x 64 test image, as 769 x 769
        # windows with stride 513 on the 2048 x 1024 images.
        f'model.test_cfg.crop_size={SEG_CROP}',
        'model.test_cfg.stride=(32,32)',
    ]
    log = train_then_test(FCN_CITYSCAPES, str(tmp_path), r50_backbone,
                          options, checkpoint_name='iter_1.pth')
    assert_all_loaded(log, r50_backbone)
    assert_one_iteration(log)
    assert_miou(log)


@needs_mmseg
@pytest.mark.parametrize(
    'config, backbone_fixture',
    [(UPERNET_VIT_S, 'vit_small_backbone'),
     (UPERNET_VIT_B, 'vit_base_backbone')],
    ids=['vit-small', 'vit-base'])
def test_upernet_vit_ade20k(config, backbone_fixture, request, tiny_ade20k,
                            tmp_path):
    backbone = request.getfixturevalue(backbone_fixture)
    log = train_then_test(config, str(tmp_path), backbone,
                          segmentation_options(config, tiny_ade20k),
                          checkpoint_name='iter_1.pth')
    # The 224 px position embedding is resized on loading and still
    # counts as loaded.
    assert 'Resize the pos_embed shape' in log
    assert_all_loaded(log, backbone)
    assert_one_iteration(log)
    assert_miou(log)


def test_faster_rcnn_c4_voc0712(r50_backbone, tiny_voc_det, tmp_path):
    options = iteration_options(
        FASTER_RCNN_VOC, tiny_voc_det, DETECTOR_SCALE, SEG_CROP) + [
            f'model.roi_head.shared_head.init_cfg.checkpoint={r50_backbone}'
        ] + SMALL_DETECTOR
    log = train_then_test(FASTER_RCNN_VOC, str(tmp_path), r50_backbone,
                          options, checkpoint_name='iter_1.pth')
    assert log.count(f'load model from: {r50_backbone}') == 2
    assert_one_iteration(log)
    # MoCo's three VOC numbers: AP (IoU 0.50:0.95), AP50, AP75.
    for name in ('pascal_voc/mAP', 'pascal_voc/AP50', 'pascal_voc/AP75'):
        assert 0 <= metric(log, name) <= 100
    assert_prediction_picture(FASTER_RCNN_VOC, str(tmp_path), tiny_voc_det,
                              DETECTOR_SCALE, ['--score-thr', '0'])


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


def test_test_tool_refuses_a_checkpoint_that_leaves_the_head_random(
        r50_pretrain, tiny_imagenet, tmp_path):
    """The pretraining checkpoint given to tools/test.py with a linear
    config (issue 24, F): mmengine would load the backbone, log the missing
    head.fc keys and report the accuracy of a random head, exit 0."""
    import subprocess
    proc = subprocess.run([
        sys.executable, TEST, R50_LINEAR, r50_pretrain, '--work-dir',
        str(tmp_path / 'misuse'), '--cfg-options',
        *classification_options(tiny_imagenet)
    ], cwd=osp.dirname(TOOLS), capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f'checkpoint {r50_pretrain} leaves 2 of the model' in output, \
        output[-3000:]
    assert '(head.fc.*; e.g. head.fc.weight)' in output
    assert 'tools/train.py CONFIG' in output
    assert 'accuracy/top1' not in output
