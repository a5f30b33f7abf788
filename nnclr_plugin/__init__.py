"""NNCLR / SNCLR for the OpenMMLab stack.

Importing this package registers every component into mmpretrain's
registries (``MODELS``, ``HOOKS``, ``DATASETS``), so configs that use
``default_scope='mmpretrain'`` find them by name, and mmdet configs by
``'mmpretrain.NAME'``.
"""
import warnings

# mmengine 0.10 imports pkg_resources (setuptools < 81 is required for it);
# its deprecation warning would head every command's output.
warnings.filterwarnings('ignore', message='pkg_resources is deprecated')

from .dependencies import check_mmcv  # noqa: E402

check_mmcv()  # before anything imports mmcv: a clear message if missing

from . import compat  # noqa: E402

compat.apply_early()  # before anything imports mmpretrain.models

from . import datasets, engine, models  # noqa: E402,F401  (registration)
from .version import __version__  # noqa: E402

compat.apply_all()  # see nnclr_plugin/compat/ for what, why and where

__all__ = ['__version__']
