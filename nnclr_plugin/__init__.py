"""NNCLR / SNCLR for the OpenMMLab stack.

Importing this package registers every component into mmpretrain's
registries (``MODELS``, ``HOOKS``, ``DATASETS``), so configs that use
``default_scope='mmpretrain'`` find them by name, and mmdet configs by
``'mmpretrain.NAME'``.
"""
import warnings

# mmengine 0.10 imports pkg_resources (setuptools < 81 is pinned for it);
# its deprecation warning would head every command's output.
warnings.filterwarnings('ignore', message='pkg_resources is deprecated')

from .compat import apply_all, skip_incompatible_multimodal  # noqa: E402

skip_incompatible_multimodal()  # before anything imports mmpretrain.models

from . import datasets, engine, models  # noqa: E402,F401  (registration)
from .version import __version__  # noqa: E402

apply_all()  # see nnclr_plugin/compat.py for what and why

__all__ = ['__version__']
