"""Shared pieces of the test suite: config-name parsing, generated and real
Fashion-MNIST, demo configs shrunk for a real Runner.

``pytest.ini``'s ``pythonpath`` puts this folder on ``sys.path``:
``import helpers``.
"""
import atexit
import copy
import functools
import os
import os.path as osp
import re
import shutil
import struct
import tempfile
from typing import Dict, Optional

import numpy as np
import pytest
import torch
from mmengine.config import Config

import nnclr_plugin  # noqa: F401
from nnclr_plugin.datasets import LocalFashionMNIST

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
# The real Fashion-MNIST (`make setup` installs it), for the few tests that
# need its images or split sizes; the others use synthetic_fmnist_root().
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

# ------------------------------------------------- generated Fashion-MNIST
# The four un-gzipped idx files of Fashion-MNIST (the Debian package's
# names, headers as in the real files), with few images: for tests that
# need *some* data in that format, so that they run, not skip, where the
# real files are absent.
SYNTHETIC_FMNIST_SIZES = dict(train=600, test=200)
_IDX_NAMES = dict(
    train=('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
    test=('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'))


def _class_templates() -> np.ndarray:
    """Ten 28 x 28 shapes in [0, 1], one per class: bars, squares, disks,
    diagonals, a cross and a checkerboard."""
    y, x = np.mgrid[:28, :28]
    r = np.hypot(y - 13.5, x - 13.5)
    shapes = [
        (abs(y - 13.5) < 3) & (abs(x - 13.5) < 10),  # horizontal bar
        (abs(x - 13.5) < 3) & (abs(y - 13.5) < 10),  # vertical bar
        (abs(y - 13.5) < 7) & (abs(x - 13.5) < 7),  # square
        (np.maximum(abs(y - 13.5), abs(x - 13.5)) < 10) &
        (np.maximum(abs(y - 13.5), abs(x - 13.5)) > 6),  # frame
        r < 8,  # disk
        (r < 11) & (r > 7),  # ring
        (abs(y - x) < 3) & (r < 12),  # diagonal
        (abs(y + x - 27) < 3) & (r < 12),  # other diagonal
        ((abs(y - 13.5) < 2) | (abs(x - 13.5) < 2)) & (r < 11),  # cross
        ((y // 7 + x // 7) % 2 == 0),  # checkerboard
    ]
    return np.stack(shapes).astype(np.float64)


def write_synthetic_fmnist(root: str, num_train: int = 600,
                           num_test: int = 200, seed: int = 0) -> str:
    """Write Fashion-MNIST-format idx files into ``root`` and return it.

    Each image is its class's shape (``_class_templates``), shifted by up
    to 3 pixels, at a random brightness, plus Gaussian noise: classes that
    a kNN on random-init features tells apart well above chance. Labels
    cycle through the ten classes in a shuffled order, so any first few
    hundred images hold every class.
    """
    os.makedirs(root, exist_ok=True)
    templates = _class_templates()
    rng = np.random.RandomState(seed)
    for split, count in (('train', num_train), ('test', num_test)):
        labels = rng.permutation(np.arange(count) % 10).astype(np.uint8)
        shifts = rng.randint(-3, 4, size=(count, 2))
        images = np.empty((count, 28, 28), np.uint8)
        for i, (label, (dy, dx)) in enumerate(zip(labels, shifts)):
            img = np.roll(templates[label], (dy, dx), axis=(0, 1))
            img = img * rng.uniform(150, 255) + rng.normal(0, 25, (28, 28))
            images[i] = np.clip(img, 0, 255)
        images_name, labels_name = _IDX_NAMES[split]
        with open(osp.join(root, images_name), 'wb') as f:
            f.write(struct.pack('>4I', 0x0803, count, 28, 28))
            f.write(images.tobytes())
        with open(osp.join(root, labels_name), 'wb') as f:
            f.write(struct.pack('>2I', 0x0801, count))
            f.write(labels.tobytes())
    return root


@functools.lru_cache(maxsize=None)
def synthetic_fmnist_root() -> str:
    """A folder of generated Fashion-MNIST (``write_synthetic_fmnist``,
    ``SYNTHETIC_FMNIST_SIZES`` images), written once per test process into
    a temporary folder removed when the process exits. Tests pass it as
    ``data_root`` (to subprocesses too); they never need the real files."""
    root = tempfile.mkdtemp(prefix='nnclr-synthetic-fmnist-')
    atexit.register(shutil.rmtree, root, True)
    return write_synthetic_fmnist(root, **{
        f'num_{split}': n for split, n in SYNTHETIC_FMNIST_SIZES.items()})

# --------------------------------------------------------------- config names
# ``{algo}_{backbone}_{gpus}xb{batch}-{schedule}-{epochs}e_{data}.py``, the
# data part optionally followed by a variant (``_in1k-gpuaug.py``: the same
# recipe with the views' photometric half on the device).
CONFIG_NAME_RE = re.compile(
    r'^(?P<algo>[a-z0-9-]+)_(?P<backbone>[a-z0-9-]+)_(?P<gpus>\d+)xb'
    r'(?P<batch>\d+)-(?P<schedule>[a-z0-9-]+)-(?P<epochs>\d+)e_'
    r'(?P<data>[a-z0-9]+)(?:-(?P<variant>gpuaug))?\.py$')


def parse_config_name(name: str) -> dict:
    """The fields of an ImageNet config's file name (``CONFIG_NAME_RE``),
    with ``gpus``, ``batch`` and ``epochs`` as ints, ``global_batch``
    (gpus x batch), ``schedule`` split at '-' and ``vit`` (a ViT
    backbone); fails the test naming a file that breaks the scheme."""
    match = CONFIG_NAME_RE.match(name)
    assert match, f'{name} does not follow the naming scheme'
    info = match.groupdict()
    for key in ('gpus', 'batch', 'epochs'):
        info[key] = int(info[key])
    info['global_batch'] = info['gpus'] * info['batch']
    info['schedule'] = info['schedule'].split('-')
    info['vit'] = info['backbone'].startswith('vit')
    return info


@functools.lru_cache(maxsize=None)
def load_config(path: str) -> Config:
    """``Config.fromfile(path)``, parsed once per test process: callers
    must not modify the result (deep-copy first)."""
    return Config.fromfile(path)

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
                    data_root: Optional[str] = None,
                    **options) -> Config:
    """A demo config shrunk to a few iterations on Fashion-MNIST-format
    data (by default the generated ``synthetic_fmnist_root()``).

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
        data_root (str, optional): Folder of the idx files; None is
            ``synthetic_fmnist_root()``.
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
    loader.dataset.data_root = data_root or synthetic_fmnist_root()
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
                        queue_size: int = 16, *extra: str,
                        data_root: Optional[str] = None) -> list:
    """``--cfg-options`` that shrink ``NNCLR_DEMO`` for a ``tools/train.py``
    subprocess: the first ``images`` images of ``data_root`` (by default
    the generated ``synthetic_fmnist_root()``), no loader workers, no
    support-set warm-up.

    Args:
        images (int): Training images used.
        batch_size (int): Per-process batch size.
        max_iters (int): Iterations to train.
        checkpoint_interval (int): Save every this many iterations.
        queue_size (int): Support set rows.
        *extra (str): More ``key=value`` overrides, appended.
        data_root (str, optional): Folder of the idx files.
    """
    return [
        'train_dataloader.dataset.data_root='
        f'{data_root or synthetic_fmnist_root()}',
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


def smooth_activations(model: torch.nn.Module) -> torch.nn.Module:
    """Swap every ``nn.ReLU`` in ``model`` for ``nn.GELU``, in place.

    Two runs that differ only in float rounding (one process against
    several: other GEMM and convolution blockings, ~1e-7 apart) train
    alike only while training is a continuous function of that rounding.
    ReLU's derivative jumps at 0: a pre-activation within rounding of 0
    (seen on an AVX2-only CPU: -7e-8 in one run, +3e-6 in the other,
    predictor unit 84 at step 4) switches that unit's gradient on in one
    run and off in the other, a jump of one sample's share of the gradient
    (1e-2 relative) that no tolerance bounds. GELU is smooth, so the
    runs stay a rounding apart on every CPU; the model being compared is
    still the algorithm under test, with a smooth activation.
    """
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, torch.nn.ReLU):
                setattr(module, name, torch.nn.GELU())
    return model


def loss_history(runner) -> torch.Tensor:
    """Per-iteration training losses recorded by the Runner."""
    values, _ = runner.message_hub.get_scalar('train/loss').data
    return torch.as_tensor(values, dtype=torch.float64)


def unwrap(model):
    """The model inside a DDP wrapper, or the model itself."""
    return model.module if hasattr(model, 'module') else model


def state_of(runner) -> Dict[str, torch.Tensor]:
    """A detached copy of the Runner's model state (parameters, buffers)."""
    return {k: v.detach().clone()
            for k, v in unwrap(runner.model).state_dict().items()}


def optimizer_groups(cfg: Config, model: torch.nn.Module) -> Dict[int, dict]:
    """``id(param) -> param group`` of the optimiser ``cfg`` builds for
    ``model``, as plain ``OptimWrapper`` (AMP needs CUDA)."""
    from mmengine.optim import build_optim_wrapper
    wrapper = copy.deepcopy(cfg.optim_wrapper)
    wrapper.type = 'OptimWrapper'
    wrapper.pop('loss_scale', None)
    optimizer = build_optim_wrapper(model, wrapper).optimizer
    return {id(p): g for g in optimizer.param_groups for p in g['params']}
