"""NNCLR / SNCLR for the OpenMMLab stack.

Importing this package registers every component into mmpretrain's
registries (``MODELS``, ``HOOKS``, ``DATASETS``), so configs that use
``default_scope='mmpretrain'`` find them by name, and mmdet configs by
``'mmpretrain.NAME'``.
"""
from . import datasets, engine, models  # noqa: F401  (registration)
from .utils import patch_mmcv_adjust_hue, register_checkpoint_safe_globals
from .version import __version__

register_checkpoint_safe_globals()
patch_mmcv_adjust_hue()

__all__ = ['__version__']
