"""Train any mmengine config (mmpretrain, mmdet or this plugin's).

Same command line as mmpretrain's ``tools/train.py``. ``nnclr_plugin`` is
imported first so its registered components resolve even in configs that do
not list it in ``custom_imports``.
"""
# First: registers the components, allow-lists checkpoint globals and
# mutes mmengine's import-time pkg_resources warning.
import nnclr_plugin  # noqa: F401,I001

import argparse

from mmengine.runner import Runner

from nnclr_plugin.utils.checkpoint_files import (newest_readable_checkpoint,
                                                 require_readable)
from nnclr_plugin.utils.cli import (add_runner_args, build_model_early,
                                    finalize_for_launcher, harden_hooks,
                                    load_runner_config)
from nnclr_plugin.utils.dist import finish_distributed
from nnclr_plugin.utils.user_errors import run_cli
from nnclr_plugin.utils.work_dir_lock import WorkDirLock


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
    parser.add_argument(
        '--debug', action='store_true',
        help='print the full traceback of an error (default: one message, '
        'the traceback in a file)')
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
        # mmengine would follow last_checkpoint even to a truncated file.
        cfg.resume = True
        cfg.load_from = newest_readable_checkpoint(cfg.work_dir)
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = require_readable(args.resume, '--resume')
    elif cfg.get('load_from'):
        require_readable(cfg.load_from, 'load_from')
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True
    harden_hooks(cfg, not args.allow_non_finite)
    return cfg


def warn_nothing_to_resume(runner, args: argparse.Namespace) -> None:
    """``--resume`` without a path keeps mmengine's auto-resume meaning (a
    fresh start when the work dir has no checkpoint), but says so last,
    where it is read, instead of one INFO line at the top of the log."""
    if args.resume == 'auto' and not runner.cfg.get('load_from'):
        runner.logger.warning(
            f'--resume: no checkpoint in work_dir {runner.work_dir}; '
            'training starts from scratch. Check --work-dir if you meant '
            'to continue a run.')


def main() -> None:
    args = parse_args()
    cfg = load_runner_config(args)
    # Held until the process exits: a second run into this dir fails here,
    # before it looks for a checkpoint to resume.
    WorkDirLock(cfg.work_dir).acquire()
    cfg = merge_args(cfg, args)
    build_model_early(cfg)
    runner = Runner.from_cfg(finalize_for_launcher(cfg))
    warn_nothing_to_resume(runner, args)
    runner.train()
    finish_distributed()


if __name__ == '__main__':
    run_cli(main)
