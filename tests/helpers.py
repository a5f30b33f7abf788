"""Shared pieces of the test suite (real configs, real data, real Runner)."""
import copy
import os
import os.path as osp
from typing import Dict, Optional

import pytest
import torch
from mmengine.config import Config

import nnclr_plugin  # noqa: F401
from nnclr_plugin.datasets import LocalFashionMNIST

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
FMNIST_ROOT = os.environ.get('NNCLR_DATA_ROOT',
                             osp.join(REPO, 'data', 'fashion_mnist'))
DEMO = osp.join(REPO, 'configs', 'demo')
SIMCLR_DEMO = osp.join(
    DEMO, 'simclr_resnet18-c32_1xb128-coslr-300it_fashion-mnist.py')
NNCLR_DEMO = osp.join(DEMO,
                      'nnclr_resnet18-c32_1xb128-coslr-300it_fashion-mnist.py')
SNCLR_DEMO = osp.join(DEMO,
                      'snclr_resnet18-c32_1xb128-coslr-300it_fashion-mnist.py')
MOCOV3_DEMO = osp.join(
    DEMO, 'mocov3_resnet18-c32_1xb128-coslr-300it_fashion-mnist.py')

requires_fmnist = pytest.mark.skipif(
    bool(LocalFashionMNIST.missing_files(FMNIST_ROOT)),
    reason=f'Fashion-MNIST files missing in {FMNIST_ROOT} (run make data)')

# Two views without randomness: the DDP test compares processes whose
# data-loader workers would otherwise draw different augmentations.
DETERMINISTIC_VIEWS = [
    dict(
        type='MultiView',
        num_views=[1, 1],
        transforms=[[dict(type='Resize', scale=32, backend='pillow')],
                    [
                        dict(type='Resize', scale=32, backend='pillow'),
                        dict(type='RandomFlip', prob=1.0)
                    ]]),
    dict(type='PackInputs'),
]


def small_train_cfg(config: str,
                    work_dir: str,
                    max_iters: int = 4,
                    batch_size: int = 16,
                    num_images: int = 128,
                    queue_size: Optional[int] = 64,
                    num_workers: int = 0,
                    checkpoint_interval: Optional[int] = None,
                    **options) -> Config:
    """A demo config shrunk to a few iterations on real Fashion-MNIST.

    Args:
        config (str): Path of a demo config.
        work_dir (str): Runner work dir.
        max_iters (int): Iterations to train.
        batch_size (int): Per-process batch size.
        num_images (int | list[int]): First N training images, or the
            exact indices (in that order).
        queue_size (int, optional): Support set size, when the config has
            one.
        num_workers (int): Data-loader workers.
        checkpoint_interval (int, optional): Save every this many
            iterations; None saves nothing.
        **options: ``merge_from_dict`` overrides applied last.
    """
    cfg = Config.fromfile(config)
    cfg.work_dir = work_dir
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
    cfg.param_scheduler = [
        dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
             end=max_iters)
    ]
    loader = cfg.train_dataloader
    loader.batch_size = batch_size
    loader.num_workers = num_workers
    loader.persistent_workers = num_workers > 0
    loader.dataset.data_root = FMNIST_ROOT
    loader.dataset.indices = num_images
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    if checkpoint_interval is None:
        cfg.default_hooks.checkpoint = dict(
            type='CheckpointHook', interval=10**9, save_last=False)
    else:
        cfg.default_hooks.checkpoint = dict(
            type='CheckpointHook', by_epoch=False,
            interval=checkpoint_interval, save_last=False)
    cfg.randomness = dict(seed=0, deterministic=True)
    cfg.log_level = 'WARNING'
    head = cfg.model.get('head', {})
    if queue_size is not None and 'queue' in head:
        head.queue.size = queue_size
    if options:
        cfg.merge_from_dict(options)
    return cfg


def small_nnclr_options(images: int = 32, batch_size: int = 8,
                        max_iters: int = 2, checkpoint_interval: int = 2,
                        queue_size: int = 16, *extra: str) -> list:
    """``--cfg-options`` that shrink ``NNCLR_DEMO`` for a ``tools/train.py``
    subprocess: the first ``images`` Fashion-MNIST images, no loader
    workers, no support-set warm-up.

    Args:
        images (int): Training images used.
        batch_size (int): Per-process batch size.
        max_iters (int): Iterations to train.
        checkpoint_interval (int): Save every this many iterations.
        queue_size (int): Support set rows.
        *extra (str): More ``key=value`` overrides, appended.
    """
    return [
        f'train_dataloader.dataset.data_root={FMNIST_ROOT}',
        f'train_dataloader.dataset.indices={images}',
        f'train_dataloader.batch_size={batch_size}',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        f'model.head.queue.size={queue_size}',
        'custom_hooks.0.warmup_iters=0', f'train_cfg.max_iters={max_iters}',
        f'default_hooks.checkpoint.interval={checkpoint_interval}', *extra
    ]


def group_norm_everywhere(cfg: Config, groups: int = 8) -> Config:
    """Swap every BN for GroupNorm, whose output does not depend on the
    batch, so that one process and several (without SyncBN, which needs
    CUDA) compute the same function."""
    gn = dict(type='GN', num_groups=groups)
    model = cfg.model
    model.backbone.norm_cfg = copy.deepcopy(gn)
    model.neck.norm_cfg = copy.deepcopy(gn)
    predictor = model.head.get('predictor')
    if predictor is not None:
        predictor.norm_cfg = copy.deepcopy(gn)
    return cfg


def loss_history(runner) -> torch.Tensor:
    """Per-iteration training losses recorded by the Runner."""
    values, _ = runner.message_hub.get_scalar('train/loss').data
    return torch.as_tensor(values, dtype=torch.float64)


def unwrap(model):
    return model.module if hasattr(model, 'module') else model


def state_of(runner) -> Dict[str, torch.Tensor]:
    return {k: v.detach().clone()
            for k, v in unwrap(runner.model).state_dict().items()}
