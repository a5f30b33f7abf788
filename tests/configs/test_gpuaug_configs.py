"""The ``-gpuaug`` configs: their stock config's recipe, with the
photometric half of the views moved from the loader to
``DeviceViewPreprocessor``, and one real iteration through the Runner."""
import copy
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import nnclr_plugin  # noqa: F401

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
VARIANTS = sorted(glob.glob(osp.join(REPO, 'configs', '*', '*-gpuaug.py')))
PHOTOMETRIC = ('RandomApply', 'ColorJitter', 'RandomGrayscale',
               'GaussianBlur', 'Solarize')


def stock_of(path: str) -> str:
    return path[:-len('-gpuaug.py')] + '.py'


def multiview(cfg: Config) -> dict:
    found = [t for t in cfg.train_dataloader.dataset.pipeline
             if t.type == 'MultiView']
    assert len(found) == 1
    return found[0]


def stock_views(cfg: Config) -> list:
    view = multiview(cfg)
    assert list(view.num_views) == [1, 1]
    return view.transforms


def device_view_of(stock_view: list) -> dict:
    """The ``DeviceViewPreprocessor`` view dict equal to the photometric
    transforms of one stock view."""
    by_type = {t.type: t for t in stock_view}
    jitter = by_type['RandomApply']
    assert [t.type for t in jitter.transforms] == ['ColorJitter']
    color = jitter.transforms[0]
    gray, blur, solarize = (by_type['RandomGrayscale'],
                            by_type['GaussianBlur'], by_type['Solarize'])
    # mmpretrain weighs the loaded BGR channels; the preprocessor greys
    # RGB images (to_rgb=True), i.e. the same weights reversed.
    assert tuple(gray.channel_weights) == (0.114, 0.587, 0.2989)
    assert gray.keep_channels and blur.magnitude_std == 'inf'
    return dict(
        jitter_prob=jitter.prob, brightness=color.brightness,
        contrast=color.contrast, saturation=color.saturation, hue=color.hue,
        gray_prob=gray.prob, blur_prob=blur.prob,
        blur_sigma=tuple(blur.magnitude_range), solarize_prob=solarize.prob,
        solarize_threshold=solarize.thr)


def test_every_gpuaug_config_has_its_stock_config():
    names = sorted(osp.basename(p) for p in VARIANTS)
    assert len(names) >= 4
    assert any(n.startswith('nnclr_resnet50') for n in names)
    assert any(n.startswith('snclr_resnet50') for n in names)
    assert any(n.startswith('snclr_vit-small') for n in names)
    assert any(n.startswith('nn-') for n in names)  # a composed algorithm
    for path in VARIANTS:
        assert osp.isfile(stock_of(path)), path


@pytest.mark.parametrize('path', VARIANTS, ids=osp.basename)
def test_only_the_views_change(path):
    stock, variant = Config.fromfile(stock_of(path)), Config.fromfile(path)
    for key in ('model', 'optim_wrapper', 'param_scheduler', 'train_cfg',
                'custom_hooks', 'default_hooks', 'auto_scale_lr',
                'randomness'):
        assert variant.get(key) == stock.get(key), key
    loader, stock_loader = (copy.deepcopy(c.train_dataloader)
                            for c in (variant, stock))
    loader.dataset.pop('pipeline')
    stock_loader.dataset.pop('pipeline')
    assert loader == stock_loader


@pytest.mark.parametrize('path', VARIANTS, ids=osp.basename)
def test_loader_keeps_the_stock_crop_and_flip(path):
    stock, variant = Config.fromfile(stock_of(path)), Config.fromfile(path)
    pipeline = variant.train_dataloader.dataset.pipeline
    assert [t.type for t in pipeline] == [
        'LoadImageFromFile', 'MultiView', 'PackInputs']
    view = multiview(variant)
    assert view.num_views == 2 and len(view.transforms) == 1
    for stock_view in stock_views(stock):
        geometric = [t for t in stock_view if t.type not in PHOTOMETRIC]
        # The flip moves before the photometric ops: exact, as every one
        # of them is per pixel or a mirror-symmetric blur.
        assert view.transforms[0] == geometric
    assert not any(t.type in PHOTOMETRIC for t in view.transforms[0])


@pytest.mark.parametrize('path', VARIANTS, ids=osp.basename)
def test_device_views_are_the_stock_photometric_ops(path):
    stock, variant = Config.fromfile(stock_of(path)), Config.fromfile(path)
    pre = variant.data_preprocessor
    assert pre.type == 'DeviceViewPreprocessor'
    for key in ('mean', 'std', 'to_rgb'):
        assert pre[key] == stock.data_preprocessor[key], key
    assert pre.to_rgb
    expected = [device_view_of(v) for v in stock_views(stock)]
    # BYOL's asymmetry: view 1 always blurred, view 2 sometimes solarised.
    assert [v['blur_prob'] for v in expected] == [1.0, 0.1]
    assert [v['solarize_prob'] for v in expected] == [0.0, 0.2]
    got = [{k: tuple(v) if isinstance(v, list) else v
            for k, v in view.items()} for view in pre.views]
    assert got == expected


@pytest.mark.parametrize('path', VARIANTS, ids=osp.basename)
def test_one_iteration_through_the_runner(path, tiny_imagenet, tmp_path):
    cfg = Config.fromfile(path)
    cfg.work_dir = str(tmp_path)
    cfg.train_dataloader.update(
        batch_size=2, num_workers=0, persistent_workers=False)
    cfg.train_dataloader.dataset.update(data_root=tiny_imagenet, indices=2)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=1)
    cfg.param_scheduler = []
    cfg.optim_wrapper.type = 'OptimWrapper'  # AMP needs CUDA
    cfg.optim_wrapper.pop('loss_scale', None)
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=1, by_epoch=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.log_level = 'WARNING'
    runner = Runner.from_cfg(cfg)  # on one thread (conftest.one_thread)
    pre = runner.model.data_preprocessor
    assert type(pre).__name__ == 'DeviceViewPreprocessor'
    before = {k: v.clone() for k, v in runner.model.state_dict().items()}
    runner.train()
    assert runner.iter == 1
    after = runner.model.state_dict()
    assert any(not torch.equal(before[k], after[k])
               for k in before if k.startswith('backbone.'))
    assert osp.isfile(osp.join(str(tmp_path), 'iter_1.pth'))
