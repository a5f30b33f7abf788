"""The one requirement pip is not asked to install: mmcv.

mmcv ships compiled ops built for one torch and CUDA (or none, as
``mmcv-lite``), so like mmpretrain and mmdet we leave its choice to the
user (``requirements/mminstall.txt``) and check it at import, with a
message that says what to install.
"""
import importlib.metadata
from typing import Optional

from mmengine.utils import digit_version

MMCV_MIN = '2.1.0'  # the oldest tested stack
MMCV_MAX = '2.2.0'  # exclusive: mmdet 3.3 refuses mmcv 2.2
HOW = ('install one built for your torch and CUDA, e.g. '
       f'`mim install "mmcv>={MMCV_MIN},<{MMCV_MAX}"` (OpenMMLab\'s wheels '
       'exist up to torch 2.1), or build it: `pip install --no-build-'
       f'isolation "mmcv>={MMCV_MIN},<{MMCV_MAX}"` (about 15 min); see the '
       'README, "Install into your own environment"')


def installed_mmcv() -> Optional[str]:
    """The version of the installed ``mmcv`` or ``mmcv-lite``, or None."""
    for dist in ('mmcv', 'mmcv-lite'):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def check_mmcv() -> str:
    """Fail with what to install unless mmcv is in the tested range.

    Returns:
        str: The installed mmcv version.

    Raises:
        ImportError: mmcv is missing or outside [MMCV_MIN, MMCV_MAX).
    """
    version = installed_mmcv()
    if version is None:
        raise ImportError(
            f'nnclr_plugin needs mmcv>={MMCV_MIN},<{MMCV_MAX}, which is not '
            f'installed: {HOW}.')
    if not digit_version(MMCV_MIN) <= digit_version(version) < \
            digit_version(MMCV_MAX):
        raise ImportError(
            f'nnclr_plugin needs mmcv>={MMCV_MIN},<{MMCV_MAX}, found mmcv '
            f'{version}: {HOW}.')
    return version
