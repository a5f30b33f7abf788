"""Train any mmengine config (mmpretrain, mmdet or this plugin's).

Same command line as mmpretrain's ``tools/train.py``. ``nnclr_plugin`` is
imported first so its registered components resolve even in configs that do
not list it in ``custom_imports``.
"""
import argparse

from mmengine.runner import Runner

import nnclr_plugin  # noqa: F401  (registers components, safe checkpoint load)
from nnclr_plugin.utils.cli import (add_runner_args, finalize_for_launcher,
                                    harden_hooks, load_runner_config)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or from the latest one in '
        'the work dir when no path is given')
    parser.add_argument(
        '--amp', action='store_true', help='enable automatic mixed precision')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate checkpoints during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr by the actual batch size / auto_scale_lr.base')
    parser.add_argument(
        '--allow-non-finite',
        action='store_true',
        help='do not add NonFiniteLossHook (which stops at the first NaN/inf '
        'loss) to configs that lack it')
    add_runner_args(parser)
    return parser.parse_args()


def merge_args(cfg, args: argparse.Namespace):
    """Apply the training-only command-line options to ``cfg``."""
    if args.amp:
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_wrapper not in ('OptimWrapper', 'AmpOptimWrapper'):
            raise ValueError(
                f'--amp needs optim_wrapper.type OptimWrapper or '
                f'AmpOptimWrapper, got {optim_wrapper!r}')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True
    harden_hooks(cfg, not args.allow_non_finite)
    return cfg


def main() -> None:
    args = parse_args()
    cfg = merge_args(load_runner_config(args), args)
    runner = Runner.from_cfg(finalize_for_launcher(cfg))
    runner.train()


if __name__ == '__main__':
    main()
