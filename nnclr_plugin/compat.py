"""Import-time fixes for the pinned OpenMMLab stack, in one place.

:func:`apply_all` runs when :mod:`nnclr_plugin` is imported (by every tool
and, through ``custom_imports``, by every config of this repository). Each
fix says what it targets and how to tell when it can go:

1. **mmcv 2.1.0 ``adjust_hue`` under numpy >= 2** (:func:`adjust_hue`).
   mmcv shifts the hue with ``np.uint8(hue_factor * 255)``, relying on
   numpy < 2 wrapping negative values; numpy 2 raises ``OverflowError``, so
   mmpretrain's ``ColorJitter(hue=...)`` (SimCLR, BYOL, MoCo and NNCLR
   augmentations) crashes within the first batch. Remove when mmcv wraps
   the shift itself (``mmcv.adjust_hue(img, -0.1)`` works on numpy 2).
2. **Runner checkpoints under torch >= 2.6 ``weights_only=True``**
   (:func:`register_checkpoint_safe_globals`). The checkpoint's
   ``message_hub`` holds ``HistoryBuffer`` objects with numpy arrays, which
   the safe loader refuses; we allow-list exactly those data types, and
   pickle ``HistoryBuffer`` without its class-level statistics functions
   (allowing ``getattr`` instead would let a crafted file reach any
   object). Remove when mmengine registers its own safe globals (a resume
   with the stock ``HistoryBuffer`` loads under ``weights_only=True``).
3. **``_scope_`` in inherited ``collate_fn`` dicts** (mmengine 0.10.7,
   :func:`drop_collate_fn_scope`). ``_base_ = 'mmpretrain::...'`` tags
   every dict of the base with ``_scope_``; the Runner passes every key of
   ``collate_fn`` but ``type`` to the collate function, which then fails
   with an unexpected keyword. ``Runner.build_dataloader`` drops the key
   (collate functions live in mmengine's ``FUNCTIONS`` whatever the
   scope). Remove when ``Runner.build_dataloader`` ignores ``_scope_``.
4. **mmpretrain 1.2.0 next to transformers >= 5**
   (:func:`skip_incompatible_multimodal`). mmpretrain turns its multimodal
   models on whenever ``transformers>=4.28`` is installed, then imports
   names that transformers 5 no longer has from ``modeling_utils``; its
   guard sets them to None and ``class BertPreTrainedModel(None)`` makes
   every ``import mmpretrain.models`` fail (seen on the lent GPU machine:
   torch 2.11 + transformers 5.17). We switch the multimodal models to
   mmpretrain's own placeholders, which say what to install if a config
   uses one. Runs before ``mmpretrain.models`` is imported; remove when
   mmpretrain imports on transformers 5.
"""
import copy
import importlib.metadata
import sys
import warnings
from typing import List

import mmcv
import mmcv.image
import mmcv.image.photometric as photometric
import numpy as np
import torch
from mmengine.config import Config
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner import Runner
from PIL import Image

DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


# ------------------------------------------------------ 1. adjust_hue
def _wraps_negative_uint8() -> bool:
    try:
        return int(np.uint8(-1.5)) == 255
    except OverflowError:
        return False


def adjust_hue(img: np.ndarray, hue_factor: float, backend=None) -> np.ndarray:
    """mmcv's ``adjust_hue`` with the hue shift wrapped modulo 256.

    Args:
        img (ndarray): BGR image (or 2-D grayscale, returned unchanged).
        hue_factor (float): Shift in [-0.5, 0.5] of a full hue turn.
        backend (str, optional): ``'cv2'`` or ``'pillow'``; None uses
            mmcv's image backend.

    Returns:
        ndarray: The hue-shifted image, same dtype.
    """
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f'hue_factor:{hue_factor} is not in [-0.5, 0.5].')
    if not (isinstance(img, np.ndarray) and img.ndim in (2, 3)):
        raise TypeError('img should be ndarray with dim=[2 or 3].')
    backend = backend or photometric.imread_backend
    if backend not in ('cv2', 'pillow'):
        raise ValueError(f'backend: {backend} is not supported.')
    if img.ndim == 2:
        return img  # hue is undefined for grayscale
    # int() truncates toward zero, as the uint8 cast of numpy < 2 did.
    shift = np.uint8(int(hue_factor * 255) % 256)
    dtype = img.dtype
    if backend == 'pillow':
        hsv = Image.fromarray(img[..., ::-1].astype(np.uint8),
                              mode='RGB').convert('HSV')
        h, s, v = (np.array(c, dtype=np.uint8) for c in hsv.split())
        h = h + shift  # uint8 arithmetic wraps around the hue circle
        rgb = Image.merge('HSV', [Image.fromarray(c, 'L') for c in (h, s, v)])
        return np.array(rgb.convert('RGB'), dtype=dtype)[..., ::-1]
    import cv2
    hsv = cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_BGR2HSV_FULL)
    hsv[..., 0] = hsv[..., 0] + shift
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR_FULL).astype(dtype)


def patch_mmcv_adjust_hue() -> bool:
    """Install :func:`adjust_hue` where mmcv exposes it, if numpy needs it.

    Returns:
        bool: Whether the patch was needed and installed.
    """
    if _wraps_negative_uint8():
        return False
    for module in (mmcv, mmcv.image, photometric):
        module.adjust_hue = adjust_hue
    return True


# ---------------------------------------- 2. safe checkpoint globals
def _numpy_globals() -> List[object]:
    """Numpy types pickled inside ``HistoryBuffer`` and ``message_hub``."""
    # numpy >= 1.25 moved the reconstruct helpers into ``numpy._core``; the
    # pickle refers to whichever module the writing numpy used.
    try:
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct, scalar
    dtype_classes = [type(np.dtype(t)) for t in (
        np.float16, np.float32, np.float64, np.int8, np.int16, np.int32,
        np.int64, np.uint8, np.bool_)]
    return [np.ndarray, np.dtype, _reconstruct, scalar, *dtype_classes]


def _history_buffer_getstate(self: HistoryBuffer) -> dict:
    """State of a ``HistoryBuffer`` without its class-level functions."""
    state = dict(self.__dict__)
    state.pop('statistics_methods', None)
    return state


def register_checkpoint_safe_globals() -> None:
    """Make Runner checkpoints loadable with ``weights_only=True``.

    Idempotent; called when :mod:`nnclr_plugin` is imported.
    """
    HistoryBuffer.__getstate__ = _history_buffer_getstate
    torch.serialization.add_safe_globals([HistoryBuffer, *_numpy_globals()])


# ------------------------------------------------- 3. collate_fn scope
def drop_collate_fn_scope(cfg: Config) -> Config:
    """Remove ``_scope_`` from every dataloader's ``collate_fn`` of a
    config (what the patched ``Runner.build_dataloader`` does per loader)."""
    for name in DATALOADERS:
        loader = cfg.get(name)
        if isinstance(loader, dict) and isinstance(
                loader.get('collate_fn'), dict):
            loader['collate_fn'].pop('_scope_', None)
    return cfg


def patch_runner_collate_scope() -> None:
    """Make ``Runner.build_dataloader`` ignore ``collate_fn._scope_``."""
    original = Runner.__dict__['build_dataloader'].__func__
    if getattr(original, 'drops_collate_scope', False):
        return

    def build_dataloader(dataloader, seed=None, diff_rank_seed=False):
        if isinstance(dataloader, dict) and isinstance(
                dataloader.get('collate_fn'), dict) and \
                '_scope_' in dataloader['collate_fn']:
            dataloader = copy.copy(dataloader)
            dataloader['collate_fn'] = {
                k: v
                for k, v in dataloader['collate_fn'].items()
                if k != '_scope_'
            }
        return original(dataloader, seed=seed, diff_rank_seed=diff_rank_seed)

    build_dataloader.drops_collate_scope = True
    build_dataloader.__doc__ = original.__doc__
    Runner.build_dataloader = staticmethod(build_dataloader)


# ------------------------------------- 4. transformers 5 vs mmpretrain
def skip_incompatible_multimodal() -> bool:
    """Turn off mmpretrain's multimodal models if transformers >= 5.

    Must run before ``mmpretrain.models`` is first imported (a later call
    changes nothing).

    Returns:
        bool: Whether the multimodal models were turned off.
    """
    if 'mmpretrain.models' in sys.modules:
        return False
    try:
        version = importlib.metadata.version('transformers')
    except importlib.metadata.PackageNotFoundError:
        return False
    major = version.split('.')[0]
    if not major.isdigit() or int(major) < 5:
        return False
    import mmpretrain.utils.dependency as dependency
    if dependency.WITH_MULTIMODAL:
        dependency.WITH_MULTIMODAL = False
        warnings.warn(
            f'transformers {version} is installed; mmpretrain 1.2.0\'s '
            'multimodal models (BLIP, CLIP, ...) do not import with '
            'transformers >= 5, so nnclr_plugin turned them off to keep the '
            'rest of mmpretrain working. Install transformers<5 to use '
            'them.')
    return True


def apply_all() -> None:
    """Install every fix above (idempotent)."""
    patch_mmcv_adjust_hue()
    register_checkpoint_safe_globals()
    patch_runner_collate_scope()
