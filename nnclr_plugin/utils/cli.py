"""Command-line pieces shared by ``tools/train.py`` and ``tools/test.py``."""
import argparse
import copy
import os
import os.path as osp
from typing import Optional

from mmengine.config import Config, DictAction

from .config import pretrained_init_paths, resolve_config_path
from .dist import prepare_cpu_distributed
from .user_errors import config_key_of, set_trace_dir


def add_cfg_options(parser: argparse.ArgumentParser, help: str) -> None:
    """mmengine's ``--cfg-options key=value ...`` overrides."""
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help=help)


def picture_parser(description: str, config_help: str,
                   checkpoint_help: str) -> argparse.ArgumentParser:
    """Parser of a tool that draws a checkpoint's output into ``--out``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('config', help=config_help)
    parser.add_argument('checkpoint', help=checkpoint_help)
    parser.add_argument('--out', required=True, help='output PNG file')
    return parser


def add_runner_args(parser: argparse.ArgumentParser) -> None:
    """The options of mmpretrain's tools that every Runner entry point has."""
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    add_cfg_options(
        parser, 'override config settings, e.g. '
        'train_dataloader.dataset.data_root=/data/fmnist')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def add_frozen_eval_args(parser: argparse.ArgumentParser,
                         default_data_config: Optional[str] = None) -> None:
    """Options of the tools that evaluate a checkpoint's frozen backbone
    (``knn_eval.py``, ``linear_probe.py``).

    Args:
        parser (ArgumentParser): Gets the options.
        default_data_config (str, optional): ``--data-config`` default
            (the scripts in ``tools/`` pass their repository's Fashion-MNIST
            one); None makes the option required.
    """
    import torch
    parser.add_argument('config', help='mmpretrain model config file')
    parser.add_argument(
        'checkpoint',
        help='Runner checkpoint (keys "backbone.*") or backbone-only state '
        'dict (keys without the "backbone." prefix)')
    parser.add_argument(
        '--data-config',
        default=default_data_config,
        required=default_data_config is None,
        help='config whose train_dataloader holds the training (memory) '
        'images and whose val_dataloader the test (query) images '
        '(default: %(default)s)')
    parser.add_argument(
        '--data-root',
        help='dataset folder, set as train/val_dataloader.dataset.data_root')
    parser.add_argument(
        '--batch-size', type=int, default=256,
        help='feature-extraction batch size')
    parser.add_argument(
        '--max-train', type=int, help='use only the first N train images')
    parser.add_argument(
        '--max-test', type=int, help='use only the first N test images')
    parser.add_argument(
        '--device',
        default='cuda' if torch.cuda.is_available() else 'cpu',
        help='device of the feature extraction (default: %(default)s)')
    parser.add_argument('--out', help='write the results as JSON here')
    add_cfg_options(
        parser, 'override settings of the data config, e.g. '
        'val_dataloader.num_workers=0')


def load_runner_config(args: argparse.Namespace) -> Config:
    """Config of ``args.config`` with the shared options applied.

    ``package::path`` configs are accepted, ``--cfg-options`` merged, the
    work dir defaults to ``work_dirs/<config name>``, and ``LOCAL_RANK`` is
    exported for launchers that only pass ``--local-rank``.
    """
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    cfg = Config.fromfile(resolve_config_path(args.config))
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    set_trace_dir(cfg.work_dir)
    return cfg


def build_model_early(cfg: Config) -> None:
    """Build ``cfg.model`` once before the Runner does.

    The Runner logs the whole config (hundreds of lines) before it builds
    the model, so a typo in a type or argument name would end under that
    dump; built here first, it fails before anything is printed.
    """
    from mmengine.registry import MODELS, init_default_scope
    init_default_scope(cfg.get('default_scope', 'mmengine'))
    try:
        MODELS.build(copy.deepcopy(cfg.model))
    except (KeyError, TypeError) as err:
        message = str(err.args[0]) if err.args else str(err)
        path = config_key_of(cfg.model, message)
        if path is None:
            raise
        if message.startswith('__init__()'):
            # Python < 3.10 names no class here; the config node does (the
            # hint reads the class from the message, as 3.10+ writes it).
            node = cfg.model
            for part in path.split('.')[1:-1]:
                node = node[int(part) if isinstance(node, list) else part]
            message = f"{str(node['type']).split('.')[-1]}.{message}"
        raise type(err)(f'{message} (config key: {path})') from err


def finalize_for_launcher(cfg: Config) -> Config:
    """Last step before ``Runner.from_cfg``: CPU distributed set-up."""
    prepare_cpu_distributed(cfg, cfg.launcher)
    return cfg


def harden_hooks(cfg, non_finite_guard: bool = True) -> None:
    """Make any config's run safe to interrupt and stop on silent failures.

    Stock ``mmpretrain::``/``mmdet::`` bases use mmengine's
    ``CheckpointHook``, which deletes the previous checkpoint before writing
    the next; it becomes ``SafeCheckpointHook`` (same arguments). Unless
    the config has them, ``NonFiniteLossHook`` is added and, when the model
    has a ``Pretrained`` init, ``PretrainedLoadCheckHook``. Scoped type
    names resolve from any default scope.
    """
    cfg.setdefault('default_hooks', {})
    hooks = cfg.default_hooks
    checkpoint = hooks.get('checkpoint')
    if checkpoint and checkpoint.get('type') in ('CheckpointHook',
                                                 'mmengine.CheckpointHook'):
        checkpoint['type'] = 'mmpretrain.SafeCheckpointHook'
    present = list(hooks.values()) + list(cfg.get('custom_hooks') or [])
    if non_finite_guard and not _has_hook(present, 'NonFiniteLossHook'):
        hooks['non_finite_loss'] = dict(type='mmpretrain.NonFiniteLossHook')
    if pretrained_init_paths(cfg.get('model')) and not _has_hook(
            present, 'PretrainedLoadCheckHook'):
        cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
            dict(type='mmpretrain.PretrainedLoadCheckHook')
        ]


def _has_hook(hooks, name: str) -> bool:
    return any(h and str(h.get('type', '')).split('.')[-1] == name
               for h in hooks)
