"""Session fixtures of the downstream-benchmark tests: plugin pretrain
checkpoints, their extracted backbones and tiny generated data sets."""
import os.path as osp

import pytest
from downstream_data import (
    make_tiny_ade20k,
    make_tiny_cityscapes,
    make_tiny_voc_det,
    make_tiny_voc_seg,
)
from downstream_helpers import (
    REPO,
    extract,
    make_tiny_coco,
    nnclr_config,
    save_pretrain_checkpoint,
    small_support_set,
)
from mmengine.config import Config


@pytest.fixture(scope='session')
def r50_pretrain(tmp_path_factory) -> str:
    """NNCLR ResNet-50 (configs/nnclr) pretrain checkpoint."""
    cfg = small_support_set(
        Config.fromfile(nnclr_config('nnclr_resnet50_*.py')))
    path = tmp_path_factory.mktemp('pretrain') / 'nnclr_r50.pth'
    return save_pretrain_checkpoint(cfg, str(path), seed=1)


@pytest.fixture(scope='session')
def vit_small_pretrain(tmp_path_factory) -> str:
    """NNCLR ViT-S/16 (configs/nnclr) pretrain checkpoint."""
    cfg = small_support_set(
        Config.fromfile(nnclr_config('nnclr_vit-small-p16_*.py')))
    path = tmp_path_factory.mktemp('pretrain') / 'nnclr_vit-s.pth'
    return save_pretrain_checkpoint(cfg, str(path), seed=2)


@pytest.fixture(scope='session')
def vit_base_pretrain(tmp_path_factory) -> str:
    """NNCLR with a ViT-B/16 backbone: the ViT-S recipe with arch 'base'."""
    cfg = small_support_set(
        Config.fromfile(nnclr_config('nnclr_vit-small-p16_*.py')))
    cfg.model.backbone.arch = 'base'
    cfg.model.neck.in_channels = 768
    # The projection MLP plays no part here; a narrow one keeps the file
    # small.
    cfg.model.neck.hid_channels = 256
    path = tmp_path_factory.mktemp('pretrain') / 'nnclr_vit-b.pth'
    return save_pretrain_checkpoint(cfg, str(path), seed=3)


@pytest.fixture(scope='session')
def snclr_pretrain(tmp_path_factory) -> str:
    """SNCLR (MoCo v3 with a momentum encoder) demo pretrain checkpoint."""
    cfg = small_support_set(
        Config.fromfile(
            osp.join(REPO, 'configs', 'demo',
                     'snclr_resnet18-c32_1xb128-coslr-300it_fashion-mnist.py'
                     )))
    path = tmp_path_factory.mktemp('pretrain') / 'snclr_r18.pth'
    return save_pretrain_checkpoint(cfg, str(path), seed=4)


@pytest.fixture(scope='session')
def r50_backbone(r50_pretrain, tmp_path_factory) -> str:
    """``r50_pretrain`` through the extraction tool (mmpretrain names)."""
    return extract(r50_pretrain,
                   str(tmp_path_factory.mktemp('backbone') / 'r50.pth'))


@pytest.fixture(scope='session')
def vit_small_backbone(vit_small_pretrain, tmp_path_factory) -> str:
    return extract(vit_small_pretrain,
                   str(tmp_path_factory.mktemp('backbone') / 'vit-s.pth'))


@pytest.fixture(scope='session')
def vit_base_backbone(vit_base_pretrain, tmp_path_factory) -> str:
    return extract(vit_base_pretrain,
                   str(tmp_path_factory.mktemp('backbone') / 'vit-b.pth'))


@pytest.fixture(scope='session')
def tiny_coco(tmp_path_factory) -> str:
    return make_tiny_coco(str(tmp_path_factory.mktemp('coco')))


@pytest.fixture(scope='session')
def tiny_voc_seg(tmp_path_factory) -> str:
    """``VOCdevkit/VOC2012`` with SegmentationClass(Aug); returns VOC2012."""
    return make_tiny_voc_seg(
        str(tmp_path_factory.mktemp('voc_seg') / 'VOC2012'))


@pytest.fixture(scope='session')
def tiny_cityscapes(tmp_path_factory) -> str:
    return make_tiny_cityscapes(str(tmp_path_factory.mktemp('cityscapes')))


@pytest.fixture(scope='session')
def tiny_ade20k(tmp_path_factory) -> str:
    return make_tiny_ade20k(str(tmp_path_factory.mktemp('ade20k')))


@pytest.fixture(scope='session')
def tiny_voc_det(tmp_path_factory) -> str:
    """``VOCdevkit`` with VOC2007 (trainval + test) and VOC2012."""
    return make_tiny_voc_det(str(tmp_path_factory.mktemp('VOCdevkit')))
