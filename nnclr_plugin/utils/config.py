"""Config helpers shared by ``tools/train.py``, ``tools/test.py`` & co."""
import os.path as osp
from typing import Any, List, Tuple

from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.utils import get_installed_path, import_modules_from_strings
from torch import nn


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


def build_model_from_config(path: str) -> Tuple[Config, nn.Module]:
    """Load a config and build its model the way mmengine's Runner does.

    Used by the analysis tools, which need a model but no Runner: the
    config's ``custom_imports`` are imported, its default scope is set, and
    a top-level ``data_preprocessor`` (mmpretrain classifier configs) is
    merged into the model.

    Args:
        path (str): Config file, ``package::`` paths accepted.

    Returns:
        tuple[Config, nn.Module]: The config and the (untrained) model.
    """
    cfg = Config.fromfile(resolve_config_path(path))
    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg.custom_imports)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    # Imported here because the registry scope must be set first.
    from mmpretrain.registry import MODELS
    model_cfg = cfg.model.copy()
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    return cfg, MODELS.build(model_cfg)


def _is_pretrained(init: Any) -> bool:
    return isinstance(init, dict) and init.get('type') == 'Pretrained'


def pretrained_init_paths(node: Any, path: str = 'model') -> List[str]:
    """Dotted paths of every ``init_cfg`` of type ``Pretrained``.

    Args:
        node (Any): A (part of a) config, walked recursively.
        path (str): The dotted path of ``node``. Defaults to ``'model'``.

    Returns:
        list[str]: Paths such as ``'model.backbone.init_cfg'``; an init in a
        list of inits gets its index (``'...init_cfg.0'``), the form
        ``Config.merge_from_dict`` accepts.
    """
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            child = f'{path}.{key}'
            if key == 'init_cfg':
                if isinstance(value, (list, tuple)):
                    found += [
                        f'{child}.{index}'
                        for index, init in enumerate(value)
                        if _is_pretrained(init)
                    ]
                elif _is_pretrained(value):
                    found.append(child)
            else:
                found += pretrained_init_paths(value, child)
    elif isinstance(node, (list, tuple)):
        for index, value in enumerate(node):
            found += pretrained_init_paths(value, f'{path}.{index}')
    return found
