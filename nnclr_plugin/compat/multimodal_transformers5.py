"""mmpretrain 1.2.0 next to transformers >= 5.

mmpretrain turns its multimodal models on whenever ``transformers>=4.28`` is
installed, then imports names that transformers 5 no longer has from
``modeling_utils``; its guard sets them to None and
``class BertPreTrainedModel(None)`` makes every ``import mmpretrain.models``
fail (seen on the lent GPU machine: torch 2.11 + transformers 5.17). We
switch the multimodal models to mmpretrain's own placeholders, which say
what to install if a config uses one. Must run before ``mmpretrain.models``
is first imported, so :func:`needed` reads the installed version instead of
trying the import, and :func:`apply` changes nothing once it is imported.
"""
import importlib.metadata
import sys
import warnings
from typing import Optional

NAME = 'mmpretrain-multimodal-transformers5'


def _transformers_version() -> Optional[str]:
    try:
        return importlib.metadata.version('transformers')
    except importlib.metadata.PackageNotFoundError:
        return None


def needed() -> bool:
    """Whether transformers >= 5 is installed."""
    version = _transformers_version()
    if version is None:
        return False
    major = version.split('.')[0]
    return major.isdigit() and int(major) >= 5


def apply() -> None:
    """Turn mmpretrain's multimodal models into placeholders, with a
    warning that says why."""
    if 'mmpretrain.models' in sys.modules:
        return  # too late: its imports have already run
    import mmpretrain.utils.dependency as dependency
    if dependency.WITH_MULTIMODAL:
        dependency.WITH_MULTIMODAL = False
        warnings.warn(
            f'transformers {_transformers_version()} is installed; '
            'mmpretrain 1.2.0\'s multimodal models (BLIP, CLIP, ...) do not '
            'import with transformers >= 5, so nnclr_plugin turned them off '
            'to keep the rest of mmpretrain working. Install '
            'transformers<5 to use them.')
