"""Shared pieces of the downstream-benchmark tests: real plugin pretrain
checkpoints, tiny generated ImageNet / COCO folders, tool runners."""
import functools
import glob
import json
import os
import os.path as osp
import subprocess
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub, MMLogger
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from PIL import Image

import nnclr_plugin  # noqa: F401  (registers the plugin's models)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
BENCH = osp.join(REPO, 'configs', 'benchmarks')
CLS_DIR = osp.join(BENCH, 'mmpretrain')
DET_DIR = osp.join(BENCH, 'mmdetection')
R50_LINEAR = osp.join(CLS_DIR, 'resnet50_8xb512-linear-lars-coslr-90e_in1k.py')
VIT_S_LINEAR = osp.join(CLS_DIR,
                        'vit-small-p16_8xb128-linear-coslr-90e_in1k.py')
VIT_B_LINEAR = osp.join(CLS_DIR,
                        'vit-base-p16_8xb128-linear-coslr-90e_in1k.py')
SEMI_1PCT = osp.join(CLS_DIR, 'resnet50_8xb32-semi-coslr-60e_in1k-1pct.py')
SEMI_10PCT = osp.join(CLS_DIR, 'resnet50_8xb32-semi-coslr-30e_in1k-10pct.py')
KNN_DATA = osp.join(CLS_DIR, 'knn_imagenet.py')
MASK_RCNN_FPN = osp.join(DET_DIR, 'mask-rcnn_r50_fpn_ms-1x_coco.py')
MASK_RCNN_C4 = osp.join(DET_DIR, 'mask-rcnn_r50-c4_ms-1x_coco.py')
FASTER_RCNN_VOC = osp.join(DET_DIR, 'faster-rcnn_r50-c4_ms-24k_voc0712.py')
SEG_DIR = osp.join(BENCH, 'mmsegmentation')
FCN_VOC = osp.join(SEG_DIR, 'fcn_r50-d8_4xb4-20k_voc12aug-512x512.py')
FCN_CITYSCAPES = osp.join(SEG_DIR,
                          'fcn_r50-d8_4xb2-40k_cityscapes-769x769.py')
UPERNET_VIT_B = osp.join(SEG_DIR,
                         'vit_vit-b16_mln_upernet_8xb2-160k_ade20k-512x512.py')
UPERNET_VIT_S = osp.join(SEG_DIR,
                         'vit_vit-s16_mln_upernet_8xb2-160k_ade20k-512x512.py')
TOOLS = osp.join(REPO, 'tools')
EXTRACT = osp.join(TOOLS, 'model_converters', 'extract_backbone_weights.py')
RUN_DOWNSTREAM = osp.join(TOOLS, 'benchmarks', 'run_downstream.sh')

# The "current" logger of in-process model building: without this, every
# init_weights() logs one INFO record per parameter.
MMLogger.get_instance('nnclr-benchmark-tests', log_level='WARNING')

# The tiny ImageNet has ImageNet's 1000 class folders (so that folder-based
# class indices behave as on the real data set) but images in three only.
WNIDS = [f'n{i:08d}' for i in range(1000)]
USED_LABELS = (0, 500, 999)
TRAIN_PER_CLASS = 2


def nnclr_config(pattern: str) -> str:
    """The first pretrain config in configs/nnclr matching ``pattern``."""
    matches = sorted(glob.glob(osp.join(REPO, 'configs', 'nnclr', pattern)))
    if not matches:
        pytest.fail(f'No configs/nnclr/{pattern}')
    return matches[0]


def perturbed(state_dict: Dict[str, torch.Tensor],
              seed: int) -> Dict[str, torch.Tensor]:
    """Every tensor moved off its initial value, the network still sane.

    A fresh downstream model has the same BN statistics (0 / 1) and affine
    values (1 / 0) as a fresh pretrain model; after the perturbation "the
    downstream tensor equals the pretrain tensor" proves it was loaded.
    Variances stay positive and weights near their scale, so that the
    detectors still produce finite boxes.
    """
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for key, value in state_dict.items():
        if value.dtype == torch.bool:
            out[key] = value.clone()
        elif not value.is_floating_point():
            out[key] = torch.randint(
                1, 1000, value.shape, generator=gen, dtype=value.dtype)
        elif key.endswith('running_var'):
            out[key] = 1 + 0.5 * torch.rand(value.shape, generator=gen)
        else:
            scale = value.float().std().item() if value.numel() > 1 else 0.
            noise = torch.randn(value.shape, generator=gen)
            out[key] = value + (0.1 * scale + 0.01) * noise
    return out


def save_pretrain_checkpoint(cfg: Config, path: str, seed: int) -> str:
    """Build ``cfg.model`` and save it the way the Runner does.

    Besides ``state_dict`` the file has a ``meta`` with the config text and a
    ``message_hub`` whose history buffers only load through the plugin's
    checkpoint allow-list, as in a real Runner checkpoint.
    """
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    torch.manual_seed(seed)
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    model.init_weights()
    hub = MessageHub.get_instance(f'pretrain-{seed}')
    hub.update_scalar('train/loss', 1.5)
    torch.save(
        dict(
            meta=dict(epoch=3, iter=30, seed=seed, cfg=cfg.pretty_text),
            state_dict=perturbed(model.state_dict(), seed),
            message_hub=hub.state_dict()), path)
    return path


def small_support_set(cfg: Config, size: int = 64) -> Config:
    """A small queue: its size changes a buffer shape, not the key names."""
    cfg.model.head.queue.size = size
    return cfg


def extract(pretrain: str, out: str, **kwargs) -> str:
    """Run the extraction tool in-process; returns ``out``."""
    extract_module().extract_backbone(pretrain, out, **kwargs)
    return out


def extract_module():
    """``tools/model_converters/extract_backbone_weights.py`` as a module."""
    sys.path.insert(0, osp.dirname(EXTRACT))
    try:
        import extract_backbone_weights
    finally:
        sys.path.pop(0)
    return extract_backbone_weights


@functools.lru_cache(maxsize=8)
def load_state(path: str) -> Dict[str, torch.Tensor]:
    """The ``state_dict`` of a checkpoint file (cached: treat as read-only).
    """
    return torch.load(path, map_location='cpu')['state_dict']


def prefixed(path: str, prefix: str = 'backbone.') -> Dict[str, torch.Tensor]:
    """The tensors of a checkpoint under ``prefix``, prefix removed."""
    return {
        k[len(prefix):]: v
        for k, v in load_state(path).items() if k.startswith(prefix)
    }


def assert_same_tensors(actual: Dict[str, torch.Tensor],
                        expected: Dict[str, torch.Tensor]) -> None:
    """Same key set, bit-identical tensors."""
    assert sorted(actual) == sorted(expected), (
        f'missing {sorted(set(expected) - set(actual))[:5]}, unexpected '
        f'{sorted(set(actual) - set(expected))[:5]}')
    differing = [k for k in expected if not torch.equal(actual[k],
                                                        expected[k])]
    assert not differing, f'{len(differing)} tensors differ: {differing[:5]}'


def random_image(path: str, size: Tuple[int, int], seed: int) -> None:
    """A random RGB JPEG of ``size`` = (width, height)."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, quality=90)


def make_tiny_imagenet(root: str) -> str:
    """ImageNet as mmpretrain and SimCLR's subset lists expect it::

        train/<wnid>/<wnid>_<i>.JPEG   (1000 class folders, 3 non-empty)
        val/ILSVRC2012_val_<i>.JPEG
        meta/train.txt, meta/val.txt   ("path label" lines)
        meta/1percent.txt, meta/10percent.txt   (SimCLR's format)
    """
    for wnid in WNIDS:
        os.makedirs(osp.join(root, 'train', wnid))
    os.makedirs(osp.join(root, 'val'))
    os.makedirs(osp.join(root, 'meta'))
    train_lines, val_lines, names = [], [], []
    for n, label in enumerate(USED_LABELS):
        wnid = WNIDS[label]
        for i in range(TRAIN_PER_CLASS):
            name = f'{wnid}_{1000 + i}.JPEG'
            random_image(
                osp.join(root, 'train', wnid, name), (72, 64),
                seed=10 * n + i)
            train_lines.append(f'{wnid}/{name} {label}')
            names.append(name)
        val_name = f'ILSVRC2012_val_{n + 1:08d}.JPEG'
        random_image(osp.join(root, 'val', val_name), (64, 80), seed=100 + n)
        val_lines.append(f'{val_name} {label}')
    write_lines(osp.join(root, 'meta', 'train.txt'), train_lines)
    write_lines(osp.join(root, 'meta', 'val.txt'), val_lines)
    # One image per class for "1 %", all of them for "10 %".
    write_lines(
        osp.join(root, 'meta', '1percent.txt'), names[::TRAIN_PER_CLASS])
    write_lines(osp.join(root, 'meta', '10percent.txt'), names)
    return root


def write_lines(path: str, lines: Sequence[str]) -> None:
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')


def make_coco_split(root: str, split: str, num_images: int,
                    seed: int) -> None:
    """A COCO-format split: 128 x 112 images with 1-2 rectangles each
    (box + polygon), the 80 COCO class names as categories (ids 1-80)."""
    from mmdet.datasets import CocoDataset
    os.makedirs(osp.join(root, f'{split}2017'), exist_ok=True)
    rng = np.random.default_rng(seed)
    images, annotations = [], []
    for img_id in range(1, num_images + 1):
        width, height = 128, 112
        name = f'{img_id:012d}.jpg'
        random_image(
            osp.join(root, f'{split}2017', name), (width, height),
            seed=seed + img_id)
        images.append(
            dict(id=img_id, file_name=name, width=width, height=height))
        for box in range(1 + img_id % 2):
            x, y = int(rng.integers(4, 50)), int(rng.integers(4, 40))
            w, h = int(rng.integers(40, 70)), int(rng.integers(40, 65))
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=img_id,
                    category_id=1 + (img_id + box) % 3,
                    bbox=[x, y, w, h],
                    area=w * h,
                    iscrowd=0,
                    segmentation=[[x, y, x + w, y, x + w, y + h, x, y + h]]))
    categories = [
        dict(id=i + 1, name=name, supercategory='none')
        for i, name in enumerate(CocoDataset.METAINFO['classes'])
    ]
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    with open(
            osp.join(root, 'annotations', f'instances_{split}2017.json'),
            'w') as f:
        json.dump(
            dict(
                images=images, annotations=annotations,
                categories=categories), f)


def make_tiny_coco(root: str) -> str:
    """COCO 2017 layout: annotations/instances_{train,val}2017.json,
    train2017/, val2017/, two images each."""
    make_coco_split(root, 'train', num_images=2, seed=0)
    make_coco_split(root, 'val', num_images=2, seed=50)
    return root


def run_tool(args: List[str],
             timeout: int = 300,
             env: Optional[Dict[str, str]] = None) -> str:
    """Run a command from the repository root; returns stdout + stderr.

    Fails the test with the tail of the output when the command fails.
    """
    full_env = dict(os.environ, **(env or {}))
    full_env['PYTHONPATH'] = os.pathsep.join(
        p for p in (REPO, full_env.get('PYTHONPATH')) if p)
    proc = subprocess.run(
        args,
        cwd=REPO,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout)
    if proc.returncode != 0:
        pytest.fail(f'{" ".join(args)} exited with {proc.returncode}:\n'
                    f'{proc.stdout[-8000:]}')
    return proc.stdout
