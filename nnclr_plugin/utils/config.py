"""Config helpers shared by ``tools/train.py``, ``tools/test.py`` & co."""
import os.path as osp

from mmengine.config import Config
from mmengine.utils import get_installed_path

DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def drop_collate_fn_scope(cfg: Config) -> Config:
    """Remove ``_scope_`` from every dataloader's ``collate_fn``.

    Inheriting a config with ``_base_ = 'mmpretrain::...'`` tags each dict
    of the base with ``_scope_``; mmengine's Runner passes every key of
    ``collate_fn`` but ``type`` to the collate function, which then fails
    with an unexpected keyword. Collate functions live in mmengine's
    ``FUNCTIONS`` registry whatever the scope, so the key carries nothing.
    """
    for name in DATALOADERS:
        loader = cfg.get(name)
        if isinstance(loader, dict) and isinstance(
                loader.get('collate_fn'), dict):
            loader['collate_fn'].pop('_scope_', None)
    return cfg


def resolve_config_path(path: str) -> str:
    """Accept ``'mmpretrain::byol/x.py'``-style paths on the command line.

    ``_base_`` understands the ``package::`` prefix but ``Config.fromfile``
    does not; this maps it to the config shipped inside the installed
    package (``<package>/.mim/configs/...``).
    """
    if '::' not in path:
        return path
    package, rel = path.split('::', 1)
    resolved = osp.join(get_installed_path(package), '.mim', 'configs', rel)
    if not osp.isfile(resolved):
        raise FileNotFoundError(
            f'{path!r}: no config {rel!r} in the installed {package} '
            f'(looked for {resolved})')
    return resolved
