"""Evaluate a checkpoint with any mmengine config (mmpretrain, mmdet, ...)."""
# First: registers the components, allow-lists checkpoint globals and
# mutes mmengine's import-time pkg_resources warning.
import nnclr_plugin  # noqa: F401,I001

import argparse

from mmengine.runner import Runner

from nnclr_plugin.utils.checkpoint_files import (require_complete_checkpoint,
                                                 require_readable)
from nnclr_plugin.utils.cli import (add_runner_args, build_model_early,
                                    finalize_for_launcher, load_runner_config)
from nnclr_plugin.utils.dist import finish_distributed
from nnclr_plugin.utils.user_errors import run_cli


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out', help='dump the raw predictions to this pickle file')
    parser.add_argument(
        '--amp', action='store_true', help='test with mixed precision')
    add_runner_args(parser)
    parser.add_argument(
        '--debug', action='store_true',
        help='print the full traceback of an error')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    require_readable(args.checkpoint, 'checkpoint')
    cfg = load_runner_config(args)
    if not cfg.get('test_dataloader'):
        raise ValueError(
            f'{args.config} has no test_dataloader: it is a pretraining '
            'config. Evaluate a pretrained backbone with an evaluation '
            'config (configs/benchmarks/mmpretrain/ linear or semi-'
            'supervised, configs/benchmarks/mmdetection/ for detection; '
            'tools/benchmarks/run_downstream.sh trains and tests them) or '
            'with tools/analysis_tools/knn_eval.py / linear_probe.py.')
    cfg.load_from = args.checkpoint
    if args.amp:
        cfg.test_cfg = dict(cfg.get('test_cfg') or {}, fp16=True)
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out must end with .pkl, got {args.out!r}')
        cfg.test_evaluator = [
            *(cfg.test_evaluator if isinstance(cfg.test_evaluator, list)
              else [cfg.test_evaluator]),
            dict(type='DumpResults', out_file_path=args.out),
        ]
    build_model_early(cfg)
    runner = Runner.from_cfg(finalize_for_launcher(cfg))
    require_complete_checkpoint(runner.model, args.checkpoint)
    runner.test()
    finish_distributed()


if __name__ == '__main__':
    run_cli(main)
